//! Capture files read through a memory map with `pcap-parser`: packets are handed out as
//! slices of the file, with no per-packet copy (libpcap copies each packet into its buffer;
//! see docs/performance.md for the measured difference).
//!
//! Formats: pcap (both byte orders, micro- and nanosecond, and the old "modified" variant) and
//! pcapng (any number of sections and interfaces, each interface with its own link type and
//! timestamp resolution — libpcap refuses files whose interfaces differ).
//!
//! Limits: a record longer than [`MAX_CAPLEN`] is treated as damage (as libpcap does) and
//! ends the file; a file that ends inside a record ends with [`ReadEnd::CutShort`] after every
//! complete record before it was delivered. The file must not be truncated by another process
//! while it is read (the map would fault); captures still being written are read with `-r -`.

use std::fs::File;
use std::ops::ControlFlow;

use pcap_parser::nom;
use pcap_parser::pcapng::Block;
use pcap_parser::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header, PcapError,
};

use super::{Filter, InputFile, RawPacket, ReadEnd};

/// Largest record accepted: libpcap's MAXIMUM_SNAPLEN.
pub const MAX_CAPLEN: u32 = 262_144;

type NomResult<'a, T> = nom::IResult<&'a [u8], T, PcapError<&'a [u8]>>;

/// Read every packet of a regular file.
pub fn read(
    input: &InputFile,
    filter: &mut Filter,
    mut on_packet: impl FnMut(RawPacket<'_>) -> ControlFlow<()>,
) -> Result<ReadEnd, String> {
    let file = File::open(&input.path)
        .map_err(|e| format!("{}: {}", input.name, crate::intel::io_reason(&e)))?;
    // SAFETY: the map is read-only and lives for this call only. A file truncated by another
    // process while mapped would fault; the module documentation says so.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| format!("{}: {e}", input.name))?;
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    let data: &[u8] = &map;
    match data.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(data, filter, &mut on_packet),
        Some(_) => read_pcap(data, filter, &mut on_packet),
        None => Ok(ReadEnd::CutShort(
            "file shorter than a capture header".into(),
        )),
    }
}

fn read_pcap(
    data: &[u8],
    filter: &mut Filter,
    on_packet: &mut impl FnMut(RawPacket<'_>) -> ControlFlow<()>,
) -> Result<ReadEnd, String> {
    let (mut rest, header) =
        parse_pcap_header(data).map_err(|_| "not a pcap or pcapng capture file".to_string())?;
    let linktype = header.network.0;
    let nanos = header.is_nanosecond_precision();
    let frame: fn(&[u8]) -> NomResult<'_, pcap_parser::LegacyPcapBlock<'_>> =
        if header.is_modified_format() {
            parse_pcap_frame_modified
        } else if header.is_bigendian() {
            parse_pcap_frame_be
        } else {
            parse_pcap_frame
        };
    while !rest.is_empty() {
        if rest.len() >= 12 {
            let caplen = if header.is_bigendian() {
                u32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]])
            } else {
                u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]])
            };
            if caplen > MAX_CAPLEN {
                return Ok(ReadEnd::CutShort(format!(
                    "record of {caplen} bytes, more than any snap length: the file is damaged here"
                )));
            }
        }
        let Ok((next, block)) = frame(rest) else {
            return Ok(ReadEnd::CutShort(format!(
                "file ends inside a record ({} bytes left)",
                rest.len()
            )));
        };
        rest = next;
        let frac = i64::from(block.ts_usec);
        let ts_us = i64::from(block.ts_sec) * 1_000_000 + if nanos { frac / 1000 } else { frac };
        if !filter.accepts(linktype, block.data, block.origlen) {
            continue;
        }
        let raw = RawPacket {
            ts_us,
            linktype,
            data: block.data,
            wire_len: block.origlen,
        };
        if on_packet(raw).is_break() {
            return Ok(ReadEnd::Stopped);
        }
    }
    Ok(ReadEnd::Complete)
}

/// An interface of a pcapng section.
struct Interface {
    linktype: i32,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset_s: i64,
    snaplen: u32,
}

fn read_pcapng(
    data: &[u8],
    filter: &mut Filter,
    on_packet: &mut impl FnMut(RawPacket<'_>) -> ControlFlow<()>,
) -> Result<ReadEnd, String> {
    let mut rest = data;
    let mut big_endian = false;
    let mut interfaces: Vec<Interface> = Vec::new();
    while !rest.is_empty() {
        let parsed = if rest.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
            pcap_parser::pcapng::parse_sectionheaderblock(rest)
                .map(|(r, shb)| (r, Block::SectionHeader(shb)))
        } else if big_endian {
            pcap_parser::pcapng::parse_block_be(rest)
        } else {
            pcap_parser::pcapng::parse_block_le(rest)
        };
        let (next, block) = match parsed {
            Ok(ok) => ok,
            Err(nom::Err::Incomplete(_)) => {
                return Ok(ReadEnd::CutShort(format!(
                    "file ends inside a block ({} bytes left)",
                    rest.len()
                )))
            }
            Err(_) => return Ok(ReadEnd::CutShort("damaged pcapng block".into())),
        };
        rest = next;
        match block {
            Block::SectionHeader(shb) => {
                big_endian = shb.big_endian();
                interfaces.clear();
            }
            Block::InterfaceDescription(idb) => interfaces.push(Interface {
                linktype: idb.linktype.0,
                resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                offset_s: idb.ts_offset(),
                snaplen: idb.snaplen,
            }),
            Block::EnhancedPacket(epb) => {
                let Some(iface) = interfaces.get(epb.if_id as usize) else {
                    continue;
                };
                let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let us = (u128::from(ts) * 1_000_000 / u128::from(iface.resolution)) as i64;
                let ts_us = us.saturating_add(iface.offset_s.saturating_mul(1_000_000));
                let caplen = (epb.caplen as usize).min(epb.data.len());
                let packet = &epb.data[..caplen];
                if !filter.accepts(iface.linktype, packet, epb.origlen) {
                    continue;
                }
                if on_packet(RawPacket {
                    ts_us,
                    linktype: iface.linktype,
                    data: packet,
                    wire_len: epb.origlen,
                })
                .is_break()
                {
                    return Ok(ReadEnd::Stopped);
                }
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = interfaces.first() else {
                    continue;
                };
                let snap = if iface.snaplen == 0 {
                    u32::MAX
                } else {
                    iface.snaplen
                };
                let caplen = (spb.origlen.min(snap) as usize).min(spb.data.len());
                let packet = &spb.data[..caplen];
                if !filter.accepts(iface.linktype, packet, spb.origlen) {
                    continue;
                }
                if on_packet(RawPacket {
                    ts_us: 0,
                    linktype: iface.linktype,
                    data: packet,
                    wire_len: spb.origlen,
                })
                .is_break()
                {
                    return Ok(ReadEnd::Stopped);
                }
            }
            _ => {}
        }
    }
    Ok(ReadEnd::Complete)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_with_records(records: &[&[u8]]) -> Vec<u8> {
        let mut f = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0,
            0,
        ];
        for (i, r) in records.iter().enumerate() {
            f.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
            f.extend_from_slice(&7u32.to_le_bytes());
            f.extend_from_slice(&(r.len() as u32).to_le_bytes());
            f.extend_from_slice(&(r.len() as u32).to_le_bytes());
            f.extend_from_slice(r);
        }
        f
    }

    fn collect(bytes: &[u8]) -> (Vec<(i64, usize)>, ReadEnd) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pcap");
        std::fs::write(&path, bytes).unwrap();
        let input = InputFile {
            path,
            name: "x.pcap".into(),
            size: None,
        };
        let mut got = Vec::new();
        let end = read(&input, &mut Filter::none(), |p| {
            got.push((p.ts_us, p.data.len()));
            ControlFlow::Continue(())
        })
        .unwrap();
        (got, end)
    }

    #[test]
    fn records_and_a_cut_in_the_middle_of_one() {
        let f = pcap_with_records(&[&[1; 60], &[2; 70]]);
        let (got, end) = collect(&f);
        assert_eq!(
            got,
            [(1_700_000_000_000_007, 60), (1_700_000_001_000_007, 70)]
        );
        assert_eq!(end, ReadEnd::Complete);
        for cut in [f.len() - 1, f.len() - 70, f.len() - 80] {
            let (got, end) = collect(&f[..cut]);
            assert_eq!(got.len(), 1, "cut at {cut}");
            assert!(matches!(end, ReadEnd::CutShort(_)));
        }
    }

    #[test]
    fn absurd_record_length_is_damage_not_an_allocation() {
        let mut f = pcap_with_records(&[&[1; 10]]);
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
        let (got, end) = collect(&f);
        assert_eq!(got.len(), 1);
        assert!(matches!(end, ReadEnd::CutShort(ref m) if m.contains("damaged")));
    }
}
