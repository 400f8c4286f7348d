//! Capture file formats, parsed record by record from whatever bytes are at hand: the whole
//! file (memory-mapped, [`super::mapped`]) or the part of a stream read so far
//! ([`super::stream`]). One parser, so both ways of reading agree on every byte. File headers,
//! interface descriptions and every unusual block are read by `pcap-parser`; the records that
//! carry nearly every packet (classic pcap records, pcapng packet blocks without options) are
//! read by hand, several times faster, and tested against `pcap-parser`'s reading of them.
//!
//! Formats: pcap (both byte orders, micro- and nanosecond, the "modified" variant) and pcapng
//! (any number of sections and interfaces, each with its own link type and timestamp
//! resolution — libpcap refuses files whose interfaces differ).
//!
//! Limits: a record longer than [`MAX_CAPLEN`] is damage (as libpcap treats it): reading ends
//! there. pcap-parser trusts the record length; we cap it first. So is a pcapng block whose
//! length is not a multiple of 4 (libpcap refuses it; pcap-parser reads on), and
//! a pcapng section that describes more than [`MAX_INTERFACES`] interfaces (the first ones are
//! kept in memory while the section is read).

use pcap_parser::nom;
use pcap_parser::pcapng::Block;
use pcap_parser::{parse_pcap_frame_modified, parse_pcap_header, LegacyPcapBlock, PcapError};

use std::sync::Arc;

use super::RawPacket;

/// Largest record accepted: libpcap's MAXIMUM_SNAPLEN.
pub const MAX_CAPLEN: u32 = 262_144;
/// Most interfaces a pcapng section may describe (each kept while the section is read: 2 MB at
/// most; capture tools describe a handful). A section that describes more is damaged there.
pub const MAX_INTERFACES: usize = 65_536;

/// What the next bytes hold.
#[derive(Debug)]
pub enum Next<'a> {
    /// A packet, and how many bytes it took.
    Packet(RawPacket<'a>, usize),
    /// A record that holds no packet (headers, interface descriptions, statistics…).
    Skip(usize),
    /// The record is not complete in these bytes.
    NeedMore,
    /// The bytes cannot be a record: reading must stop.
    Damaged(String),
}

/// An interface of a pcapng section.
#[derive(Debug, Clone)]
struct Interface {
    linktype: i32,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset_s: i64,
    snaplen: u32,
}

#[derive(Debug, Clone)]
enum Format {
    /// Nothing read yet.
    Start,
    Pcap {
        linktype: i32,
        nanos: bool,
        big_endian: bool,
        modified: bool,
    },
    Pcapng {
        big_endian: bool,
        /// Shared by the parser's clones (the split walk clones one per chunk) until one of
        /// them reads another description.
        interfaces: Arc<Vec<Interface>>,
    },
}

/// Parser state across records. A clone made after a classic pcap file's header reads
/// records from any record boundary of that file; a clone made after a pcapng file's section
/// header and interface descriptions reads its blocks from any block boundary up to the next
/// section header or interface description ([`Parser::descriptions`]).
#[derive(Debug, Clone)]
pub struct Parser {
    format: Format,
    /// pcapng section headers and interface descriptions read.
    descriptions: u64,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            format: Format::Start,
            descriptions: 0,
        }
    }
}

impl Parser {
    /// True once a file header has been read: until then, bytes that do not parse are not a
    /// capture file at all rather than a damaged one.
    pub fn started(&self) -> bool {
        !matches!(self.format, Format::Start)
    }

    /// Why input that ended or broke off before any file header is no capture: `left` bytes
    /// of it were there.
    pub fn not_a_capture(left: usize, why: Option<String>) -> String {
        match (left, why) {
            (_, Some(why)) => why,
            (0, None) => "empty: no capture file header".into(),
            (n, None) => format!("too short to be a capture file ({n} bytes)"),
        }
    }

    /// The record layout of a file whose header has been read: classic pcap (not the
    /// "modified" variant, whose records have no sure length), or pcapng (the current
    /// section's byte order).
    pub fn layout(&self) -> Option<Layout> {
        match self.format {
            Format::Pcap {
                big_endian,
                modified: false,
                ..
            } => Some(Layout::Pcap { big_endian }),
            Format::Pcapng { big_endian, .. } => Some(Layout::Pcapng { big_endian }),
            _ => None,
        }
    }

    /// How many pcapng section headers and interface descriptions this parser has read. While
    /// the count stays the same, a clone made earlier reads the blocks after as this parser
    /// does; a block after a new description may read otherwise (another interface, another
    /// byte order). Always 0 for classic pcap.
    pub fn descriptions(&self) -> u64 {
        self.descriptions
    }

    /// Look at the record at the start of `data`. A classic pcap record is read inline, in
    /// the caller's loop (a call per record, returning its answer through memory, took a
    /// third of the record's instructions); anything else through a call.
    #[inline(always)]
    pub fn next<'a>(&mut self, data: &'a [u8]) -> Next<'a> {
        match self.format {
            Format::Pcap {
                linktype,
                nanos,
                big_endian,
                modified: false,
            } => pcap_record(data, linktype, nanos, big_endian),
            _ => self.next_out_of_line(data),
        }
    }

    /// [`Self::next`] of anything but a classic pcap record.
    #[inline(never)]
    fn next_out_of_line<'a>(&mut self, data: &'a [u8]) -> Next<'a> {
        self.next_with(data, true)
    }

    /// [`Self::next`] with every pcapng block read by pcap-parser: the reference the
    /// hand-read packet block is tested against.
    #[doc(hidden)]
    pub fn next_reference<'a>(&mut self, data: &'a [u8]) -> Next<'a> {
        self.next_with(data, false)
    }

    #[inline(always)]
    fn next_with<'a>(&mut self, data: &'a [u8], shortcut: bool) -> Next<'a> {
        match &mut self.format {
            Format::Start => self.header(data),
            Format::Pcap {
                linktype,
                nanos,
                modified: true,
                ..
            } => modified_pcap_record(data, *linktype, *nanos),
            Format::Pcap {
                linktype,
                nanos,
                big_endian,
                ..
            } => pcap_record(data, *linktype, *nanos, *big_endian),
            Format::Pcapng {
                big_endian,
                interfaces,
            } if shortcut => match plain_packet_block(data, *big_endian) {
                Some(block) => block.packet(data, interfaces),
                None => self.pcapng_block(data),
            },
            Format::Pcapng { .. } => self.pcapng_block(data),
        }
    }

    fn header<'a>(&mut self, data: &'a [u8]) -> Next<'a> {
        if data.len() < 4 {
            return Next::NeedMore;
        }
        if data.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
            self.format = Format::Pcapng {
                big_endian: false,
                interfaces: Arc::default(),
            };
            return self.pcapng_block(data);
        }
        match parse_pcap_header(data) {
            Ok((rest, h)) => {
                self.format = Format::Pcap {
                    linktype: h.network.0,
                    nanos: h.is_nanosecond_precision(),
                    big_endian: h.is_bigendian(),
                    modified: h.is_modified_format(),
                };
                Next::Skip(data.len() - rest.len())
            }
            Err(nom::Err::Incomplete(_)) => Next::NeedMore,
            Err(_) => Next::Damaged("not a pcap or pcapng capture file".into()),
        }
    }

    fn pcapng_block<'a>(&mut self, data: &'a [u8]) -> Next<'a> {
        let Format::Pcapng {
            big_endian,
            interfaces,
        } = &mut self.format
        else {
            return Next::Damaged("internal: not pcapng".into());
        };
        let section_header = data.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]);
        // Every block holds its type and its length twice, 12 bytes. pcap-parser 0.17 takes 12
        // from a block's length before checking it against the block type's own minimum: a
        // Process Information Block 4 to 11 bytes long overflowed (a panic where overflow is
        // checked, a wrapped length elsewhere). A section header's byte order is only known
        // from inside it; its own parser checks its length (28 at least) first.
        if let (false, Some(length)) = (section_header, header_field(data, 4, *big_endian)) {
            if length < 12 {
                return Next::Damaged(format!("damaged pcapng block (length {length})"));
            }
            if !length.is_multiple_of(4) {
                return not_aligned(length);
            }
        }
        let parsed = if section_header {
            pcap_parser::pcapng::parse_sectionheaderblock(data)
                .map(|(r, shb)| (r, Block::SectionHeader(shb)))
        } else if *big_endian {
            pcap_parser::pcapng::parse_block_be(data)
        } else {
            pcap_parser::pcapng::parse_block_le(data)
        };
        let (rest, block) = match parsed {
            Ok(ok) => ok,
            Err(nom::Err::Incomplete(_)) => return Next::NeedMore,
            Err(_) => return Next::Damaged("damaged pcapng block".into()),
        };
        let used = data.len() - rest.len();
        if !used.is_multiple_of(4) {
            return not_aligned(used as u32);
        }
        match block {
            Block::SectionHeader(shb) => {
                *big_endian = shb.big_endian();
                *interfaces = Arc::default();
                self.descriptions += 1;
            }
            Block::InterfaceDescription(_) if interfaces.len() >= MAX_INTERFACES => {
                return Next::Damaged(format!(
                    "pcapng section describes more than {MAX_INTERFACES} interfaces"
                ));
            }
            Block::InterfaceDescription(idb) => {
                self.descriptions += 1;
                Arc::make_mut(interfaces).push(Interface {
                    linktype: idb.linktype.0,
                    resolution: units_per_second(idb.if_tsresol),
                    // pcap-parser 0.17 reads if_tsoffset as little-endian in every section.
                    offset_s: match *big_endian {
                        true => idb.ts_offset().swap_bytes(),
                        false => idb.ts_offset(),
                    },
                    snaplen: idb.snaplen,
                })
            }
            Block::EnhancedPacket(epb) => {
                let block = PacketBlock {
                    if_id: epb.if_id,
                    ts: (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low),
                    caplen: (epb.caplen as usize).min(epb.data.len()),
                    origlen: epb.origlen,
                    used,
                };
                return block.packet_at(epb.data, interfaces);
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = interfaces.first() else {
                    return Next::Skip(used);
                };
                let snap = if iface.snaplen == 0 {
                    u32::MAX
                } else {
                    iface.snaplen
                };
                let caplen = (spb.origlen.min(snap) as usize).min(spb.data.len());
                let packet = RawPacket {
                    ts_us: 0,
                    linktype: iface.linktype,
                    data: &spb.data[..caplen],
                    wire_len: spb.origlen,
                };
                return Next::Packet(packet, used);
            }
            _ => {}
        }
        Next::Skip(used)
    }
}

/// A pcapng block `length` bytes long, not a multiple of 4: damage, as libpcap reads the format
/// (the blocks after it would lie off the 4-byte grid the format keeps, and that the split
/// walk's guesses look on).
fn not_aligned(length: u32) -> Next<'static> {
    Next::Damaged(format!(
        "damaged pcapng block (length {length}, not a multiple of 4)"
    ))
}

/// Timestamp units per second of an interface whose `if_tsresol` is `tsresol`: 10 to its
/// power, or with the high bit set 2 to the power of the other seven (pcap-parser 0.17 checks
/// that power before taking the bit off, so gives no resolution, and microseconds were
/// assumed); microseconds when there is no such unit in 64 bits.
fn units_per_second(tsresol: u8) -> u64 {
    let power = u32::from(tsresol & 0x7f);
    let units = match tsresol & 0x80 {
        0 => 10u64.checked_pow(power),
        _ => 1u64.checked_shl(power),
    };
    units.unwrap_or(1_000_000)
}

/// An Enhanced Packet Block's fields, however read.
struct PacketBlock {
    /// The interface it was captured on (an index into the section's descriptions).
    if_id: u32,
    /// Timestamp, in its interface's units.
    ts: u64,
    /// Captured bytes in the block.
    caplen: usize,
    /// Bytes the packet had on the wire.
    origlen: u32,
    /// Bytes the block takes.
    used: usize,
}

/// Where an Enhanced Packet Block's packet starts: after its type, length, interface,
/// timestamp (two words) and both packet lengths.
const EPB_DATA: usize = 28;

impl PacketBlock {
    /// The block's packet: `block` starts with the block (the hand-read one).
    #[inline(always)]
    fn packet<'a>(&self, block: &'a [u8], interfaces: &[Interface]) -> Next<'a> {
        self.packet_at(&block[EPB_DATA..], interfaces)
    }

    /// The block's packet, whose bytes start `data`, on its interface (a block of an interface
    /// not described holds no packet we can read).
    #[inline(always)]
    fn packet_at<'a>(&self, data: &'a [u8], interfaces: &[Interface]) -> Next<'a> {
        let Some(iface) = interfaces.get(self.if_id as usize) else {
            return Next::Skip(self.used);
        };
        // Micro- and nanoseconds without the 128-bit division the other units need.
        let us = match iface.resolution {
            1_000_000 => self.ts as i64,
            1_000_000_000 => (self.ts / 1000) as i64,
            units => (u128::from(self.ts) * 1_000_000 / u128::from(units)) as i64,
        };
        let ts_us = us.saturating_add(iface.offset_s.saturating_mul(1_000_000));
        let packet = RawPacket {
            ts_us,
            linktype: iface.linktype,
            data: &data[..self.caplen.min(MAX_CAPLEN as usize)],
            wire_len: self.origlen,
        };
        Next::Packet(packet, self.used)
    }
}

/// The most common pcapng block, read by hand: an Enhanced Packet Block without options,
/// whole in `data`, whose lengths agree. Its fields exactly as pcap-parser gives them (tests
/// and a fuzz target compare the two on every block of the corpus, cut and damaged); `None`
/// for any other block, which pcap-parser reads. pcap-parser's generic block (nom, a block
/// enum moved by value) took about 300 instructions per packet, against 75 for a classic
/// pcap record.
#[inline(always)]
fn plain_packet_block(data: &[u8], big_endian: bool) -> Option<PacketBlock> {
    const ENHANCED_PACKET: u32 = 6;
    let field = |at| header_field(data, at, big_endian);
    if field(0)? != ENHANCED_PACKET {
        return None;
    }
    let length = field(4)?;
    let caplen = field(20)?;
    let padded = caplen.checked_add(3)? & !3;
    // No options: the packet, padded, fills the block up to its trailing length.
    if padded.checked_add(EPB_DATA as u32 + 4)? != length || field(length as usize - 4)? != length {
        return None;
    }
    Some(PacketBlock {
        if_id: field(8)?,
        ts: (u64::from(field(12)?) << 32) | u64::from(field(16)?),
        caplen: caplen as usize,
        origlen: field(24)?,
        used: length as usize,
    })
}

/// How the records of a capture file are laid out: enough to find where one starts in the
/// middle of the file ([`Layout::find_record`]).
#[derive(Debug, Clone, Copy)]
pub enum Layout {
    /// Classic pcap records, in this byte order.
    Pcap { big_endian: bool },
    /// pcapng blocks of a section in this byte order.
    Pcapng { big_endian: bool },
}

/// Records that must follow each other, each plausible, for an offset to be taken for a
/// record's start.
const RECORDS_TO_SYNC: usize = 4;
/// Seconds that the timestamps of two records in a row may differ by, when looking for a
/// record's start.
const SYNC_SECONDS: u32 = 86_400;
/// Seconds that a record's time may be from the file's first record's, when looking for a
/// record's start: a year, for captures merged from several days. It rules out reading a
/// record header four bytes off (its sub-second part taken for the seconds), which with
/// equal captured and wire lengths reads as a chain of records.
const SYNC_YEAR: u32 = 366 * 86_400;
/// Longest pcapng block taken for one when looking for a block's start: a packet block of
/// [`MAX_CAPLEN`] bytes with 64 KB of options.
const SYNC_BLOCK: u32 = MAX_CAPLEN + 65_536;
/// pcapng blocks that can be met between packets without changing how the blocks after them
/// read: packet blocks (enhanced, simple, obsolete), name resolution, interface statistics,
/// decryption secrets, systemd journal export, custom. Section headers and interface
/// descriptions are not among them: a walk from a guessed start never starts with one, which
/// the walk that reads up to it then reads.
const SYNC_BLOCK_TYPES: [u32; 9] = [6, 3, 2, 4, 5, 0x0a, 9, 0x0bad, 0x4000_0bad];

impl Layout {
    /// The first offset in `from..limit` of `data` (the whole file) where four records (or all
    /// up to the end of `data`) follow each other, each plausible; only offsets a record can
    /// start at are tried (the record that holds `from` ends within a record's reach of it).
    ///
    /// - Classic pcap: each record with a sub-second part under 10^9, a captured length of
    ///   1 to [`MAX_CAPLEN`] bytes, a time within a year of `first_second` (the file's first
    ///   record's) and within a day of the record before.
    /// - pcapng: each block of a type in `SYNC_BLOCK_TYPES`, 12 to `SYNC_BLOCK` bytes
    ///   long, a multiple of 4, with the same length in its last four bytes; only offsets a
    ///   multiple of 4 from the file's start are tried (every block's length is one).
    ///
    /// A guess, and a lenient one: true records that break these rules (a zero-length
    /// record, a day's gap, an interface description) make it miss, and packet bytes can
    /// look like records. Whoever relies on it checks it against the record boundary found by
    /// reading from the start (see the replay's split walk).
    pub fn find_record(
        &self,
        data: &[u8],
        from: usize,
        limit: usize,
        first_second: u32,
    ) -> Option<usize> {
        let limit = limit.min(data.len());
        match *self {
            Layout::Pcap { big_endian } => {
                let last_start = from.saturating_add(16 + MAX_CAPLEN as usize);
                (from..limit.min(last_start + 1))
                    .find(|&start| pcap_records_follow(data, start, first_second, big_endian))
            }
            Layout::Pcapng { big_endian } => {
                let last_start = from.saturating_add(SYNC_BLOCK as usize);
                (from.next_multiple_of(4)..limit.min(last_start + 1))
                    .step_by(4)
                    .find(|&start| pcapng_blocks_follow(data, start, big_endian))
            }
        }
    }
}

/// True when [`RECORDS_TO_SYNC`] plausible classic pcap records follow each other from
/// `start` (or all up to the end of `data`); see [`Layout::find_record`].
fn pcap_records_follow(data: &[u8], start: usize, first_second: u32, big_endian: bool) -> bool {
    let mut at = start;
    let mut previous: Option<u32> = None;
    for _ in 0..RECORDS_TO_SYNC {
        if at == data.len() {
            return true;
        }
        let Some(header) = data.get(at..at + 16) else {
            return false;
        };
        let field = |i| header_field(header, i, big_endian).unwrap_or_default();
        let (second, fraction, caplen) = (field(0), field(4), field(8));
        let plausible = fraction < 1_000_000_000
            && (1..=MAX_CAPLEN).contains(&caplen)
            && second.abs_diff(first_second) <= SYNC_YEAR
            && previous.is_none_or(|p| second.abs_diff(p) <= SYNC_SECONDS);
        if !plausible {
            return false;
        }
        previous = Some(second);
        at += 16 + caplen as usize;
        if at > data.len() {
            return false;
        }
    }
    true
}

/// True when [`RECORDS_TO_SYNC`] plausible pcapng blocks follow each other from `start` (or
/// all up to the end of `data`); see [`Layout::find_record`].
fn pcapng_blocks_follow(data: &[u8], start: usize, big_endian: bool) -> bool {
    let mut at = start;
    for _ in 0..RECORDS_TO_SYNC {
        if at == data.len() {
            return true;
        }
        let field = |at| header_field(data, at, big_endian);
        let (Some(kind), Some(length)) = (field(at), field(at + 4)) else {
            return false;
        };
        let plausible = SYNC_BLOCK_TYPES.contains(&kind)
            && (12..=SYNC_BLOCK).contains(&length)
            && length.is_multiple_of(4);
        if !plausible {
            return false;
        }
        at += length as usize;
        if at > data.len() || field(at - 4) != Some(length) {
            return false;
        }
    }
    true
}

/// The 32-bit field at byte `at` of `header` (a pcap record header, a pcapng block), in the
/// file's byte order; `None` when `header` is too short.
fn header_field(header: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let bytes: [u8; 4] = header.get(at..at + 4)?.try_into().ok()?;
    Some(match big_endian {
        true => u32::from_be_bytes(bytes),
        false => u32::from_le_bytes(bytes),
    })
}

/// A classic pcap record: a 16-byte header (seconds, fraction, captured and original length,
/// in the file's byte order) and the captured bytes. Read here rather than by pcap-parser's
/// frame parser, which does the same through a call that cannot be inlined (a function
/// pointer chosen by byte order) and nom's result: reading a record took 108 instructions,
/// now 75 (cachegrind, see docs/performance.md). The "modified" format's 24-byte headers
/// still go to pcap-parser.
#[inline(always)]
fn pcap_record(data: &[u8], linktype: i32, nanos: bool, big_endian: bool) -> Next<'_> {
    let field = |at| header_field(data, at, big_endian);
    // The length is checked as soon as it is there, as libpcap does.
    let Some(caplen) = field(8) else {
        return Next::NeedMore;
    };
    if caplen > MAX_CAPLEN {
        return damaged_length(caplen);
    }
    let (Some(ts_sec), Some(frac), Some(wire_len)) = (field(0), field(4), field(12)) else {
        return Next::NeedMore;
    };
    let end = PCAP_RECORD_HEADER + caplen as usize;
    match data.get(PCAP_RECORD_HEADER..end) {
        Some(frame) => Next::Packet(
            RawPacket {
                ts_us: pcap_time(ts_sec, frac, nanos),
                linktype,
                data: frame,
                wire_len,
            },
            end,
        ),
        None => Next::NeedMore,
    }
}

/// Bytes of a classic pcap record header.
const PCAP_RECORD_HEADER: usize = 16;

/// A record of the "modified" pcap format (24-byte headers, little-endian), by pcap-parser.
#[cold]
fn modified_pcap_record(data: &[u8], linktype: i32, nanos: bool) -> Next<'_> {
    if let Some(damaged) = too_long(data, false) {
        return damaged;
    }
    legacy_record(data, parse_pcap_frame_modified(data), linktype, nanos)
}

/// What pcap-parser's reading (`parsed`) of the legacy record at the start of `data` means.
fn legacy_record<'a>(
    data: &'a [u8],
    parsed: nom::IResult<&'a [u8], LegacyPcapBlock<'a>, PcapError<&'a [u8]>>,
    linktype: i32,
    nanos: bool,
) -> Next<'a> {
    match parsed {
        Ok((rest, block)) => Next::Packet(
            RawPacket {
                ts_us: pcap_time(block.ts_sec, block.ts_usec, nanos),
                linktype,
                data: block.data,
                wire_len: block.origlen,
            },
            data.len() - rest.len(),
        ),
        Err(nom::Err::Incomplete(_)) => Next::NeedMore,
        Err(_) => Next::Damaged("damaged pcap record".into()),
    }
}

/// A record's time in microseconds from its seconds and fraction (micro- or nanoseconds).
#[inline(always)]
fn pcap_time(ts_sec: u32, frac: u32, nanos: bool) -> i64 {
    let frac = i64::from(frac);
    i64::from(ts_sec) * 1_000_000 + if nanos { frac / 1000 } else { frac }
}

/// Damage, when the record at the start of `data` says it is longer than [`MAX_CAPLEN`].
fn too_long(data: &[u8], big_endian: bool) -> Option<Next<'static>> {
    header_field(data, 8, big_endian)
        .filter(|&caplen| caplen > MAX_CAPLEN)
        .map(damaged_length)
}

#[cold]
fn damaged_length(caplen: u32) -> Next<'static> {
    Next::Damaged(format!(
        "record of {caplen} bytes, more than any snap length: the file is damaged here"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::test_files::{
        block, enhanced_packet, interface_description, pcap_with_records, section_header, u32_bytes,
    };

    #[test]
    fn a_record_start_is_found_from_any_offset() {
        let sizes = [60usize, 1, 1514, 90, 300, 64, 64, 2000, 42, 77];
        let records: Vec<Vec<u8>> = (0..40)
            .map(|i| vec![(i * 37) as u8; sizes[i % sizes.len()]])
            .collect();
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let file = pcap_with_records(&refs);
        let mut parser = Parser::default();
        let Next::Skip(header) = parser.next(&file) else {
            panic!("a pcap header")
        };
        let layout = parser.layout().expect("a classic pcap file");
        let starts: Vec<usize> = records
            .iter()
            .scan(header, |at, r| {
                let start = *at;
                *at += 16 + r.len();
                Some(start)
            })
            .collect();
        for from in header..file.len() {
            let want = starts.iter().copied().find(|&s| s >= from);
            let found = layout.find_record(&file, from, file.len(), 1_700_000_000);
            assert_eq!(found, want, "from {from}");
        }
        // Records of another year, or none before the limit: not found.
        let elsewhen = layout.find_record(&file, header, file.len(), 1_800_000_000);
        assert_eq!(elsewhen, None);
        let before = layout.find_record(&file, header + 1, starts[1], 1_700_000_000);
        assert_eq!(before, None);
        // Only as far as a record can reach: past a record header and the longest record,
        // bytes that cannot hold a record's start are not searched.
        let far = header + 16 + MAX_CAPLEN as usize + 2;
        let mut long = vec![0u8; far];
        long[..header].copy_from_slice(&file[..header]);
        long.extend_from_slice(&file[starts[1]..]);
        let near = layout.find_record(&long, far - 1, long.len(), 1_700_000_000);
        assert_eq!(near, Some(far));
        let out_of_reach = layout.find_record(&long, header, long.len(), 1_700_000_000);
        assert_eq!(out_of_reach, None);
    }

    #[test]
    fn a_layout_is_known_once_a_header_is_read_except_for_the_modified_pcap_format() {
        assert!(Parser::default().layout().is_none());
        let header = |magic: u32| {
            let mut h = Vec::from(magic.to_le_bytes());
            h.extend([
                2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
            ]);
            h
        };
        let mut parser = Parser::default();
        assert!(matches!(parser.next(&header(0xa1b2_c3d4)), Next::Skip(24)));
        let layout = parser.layout();
        assert!(matches!(layout, Some(Layout::Pcap { big_endian: false })));
        let mut parser = Parser::default();
        assert!(matches!(parser.next(&header(0xa1b2_cd34)), Next::Skip(24)));
        assert!(parser.layout().is_none(), "modified");
        for big_endian in [false, true] {
            let mut parser = Parser::default();
            assert!(matches!(
                parser.next(&section_header(big_endian)),
                Next::Skip(28)
            ));
            let layout = parser.layout();
            assert!(matches!(layout, Some(Layout::Pcapng { big_endian: b }) if b == big_endian));
            assert_eq!(parser.descriptions(), 1);
        }
    }

    #[test]
    fn a_pcapng_block_start_is_found_from_any_offset_and_never_at_a_description() {
        for big_endian in [false, true] {
            let mut file = section_header(big_endian);
            file.extend(interface_description(1, big_endian));
            let first = file.len();
            let mut starts = Vec::new();
            let sizes = [60usize, 1, 1514, 90, 300, 64, 2000, 42, 77];
            for i in 0..30 {
                match i {
                    // An interface added on the way: a block up to three before it is no
                    // guess (four must follow), nor is it; the one after it is.
                    12 => file.extend(interface_description(101, big_endian)),
                    n if n % 7 == 3 => {
                        starts.push(file.len());
                        file.extend(block(0x0bad, &[0; 8], None, big_endian));
                    }
                    _ => {}
                }
                starts.push(file.len());
                let frame = vec![(i * 37) as u8; sizes[i % sizes.len()]];
                file.extend(enhanced_packet(0, i as u64, &frame, big_endian));
            }
            let layout = Layout::Pcapng { big_endian };
            let mut parser = Parser::default();
            let mut at = 0;
            let mut readable = Vec::new();
            while at < file.len() {
                let Some(used) = (match parser.next(&file[at..]) {
                    Next::Packet(_, used) | Next::Skip(used) => Some(used),
                    _ => None,
                }) else {
                    panic!("a whole file")
                };
                readable.push((at, parser.descriptions()));
                at += used;
            }
            // Where a description was read: the count went up there.
            let descriptions: Vec<usize> = readable
                .windows(2)
                .filter(|w| w[1].1 != w[0].1)
                .map(|w| w[1].0)
                .collect();
            assert_eq!(descriptions.len(), 2, "{readable:?}");
            let interface = descriptions[1];
            // Blocks whose chain of four reaches the description are no guess.
            let blocked: Vec<usize> = starts
                .iter()
                .copied()
                .filter(|&s| s < interface)
                .rev()
                .take(3)
                .collect();
            let guessable: Vec<usize> = starts
                .iter()
                .copied()
                .filter(|s| !blocked.contains(s))
                .collect();
            for from in first..file.len() {
                let want = guessable.iter().copied().find(|&s| s >= from);
                let found = layout.find_record(&file, from, file.len(), 0);
                assert_eq!(found, want, "from {from}, big-endian {big_endian}");
            }
            // Nothing before the limit, nor in the other byte order.
            let before = layout.find_record(&file, first + 1, starts[1], 0);
            assert_eq!(before, None);
            let other = Layout::Pcapng {
                big_endian: !big_endian,
            };
            assert_eq!(other.find_record(&file, first, file.len(), 0), None);
        }
    }

    /// What pcap-parser's frame parser makes of a classic record, with the length check
    /// before it: how records were read before [`pcap_record`] read them itself.
    fn record_by_pcap_parser(data: &[u8], nanos: bool, big_endian: bool) -> Next<'_> {
        if let Some(damaged) = too_long(data, big_endian) {
            return damaged;
        }
        let frame = match big_endian {
            true => pcap_parser::parse_pcap_frame_be(data),
            false => pcap_parser::parse_pcap_frame(data),
        };
        legacy_record(data, frame, 1, nanos)
    }

    /// True when two readings of the same bytes agree.
    fn same(ours: Next<'_>, theirs: Next<'_>) -> bool {
        match (ours, theirs) {
            (Next::Packet(a, used_a), Next::Packet(b, used_b)) => {
                (a.ts_us, a.linktype, a.data, a.wire_len, used_a)
                    == (b.ts_us, b.linktype, b.data, b.wire_len, used_b)
            }
            (Next::Skip(a), Next::Skip(b)) => a == b,
            (Next::NeedMore, Next::NeedMore) => true,
            (Next::Damaged(a), Next::Damaged(b)) => a == b,
            _ => false,
        }
    }

    #[test]
    fn classic_records_read_as_pcap_parser_reads_them() {
        let mut compared = 0;
        for big_endian in [false, true] {
            for caplen in [0, 1, 13, 60, 1514, MAX_CAPLEN, MAX_CAPLEN + 1, u32::MAX] {
                let mut record = Vec::new();
                for field in [1_700_000_000, 999_999_999, caplen, caplen.wrapping_add(4)] {
                    record.extend(u32_bytes(field, big_endian));
                }
                // The captured bytes, and the start of a next record (which is not read).
                record.extend((0..caplen.min(1600) + 20).map(|i| i as u8));
                for cut in 0..=record.len() {
                    for nanos in [false, true] {
                        let data = &record[..cut];
                        let ours = pcap_record(data, 1, nanos, big_endian);
                        let theirs = record_by_pcap_parser(data, nanos, big_endian);
                        let shown = format!("{ours:?} / {theirs:?}");
                        assert!(same(ours, theirs), "{caplen} cut at {cut}: {shown}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 20_000);
    }

    /// An Enhanced Packet Block on interface `if_id` at time `ts` whose packet is `caplen`
    /// bytes (padded), `options` after it, and `length` as its length (`None`: its true one).
    fn packet_block(
        (if_id, ts, caplen): (u32, u64, u32),
        options: &[u8],
        length: Option<u32>,
        big_endian: bool,
    ) -> Vec<u8> {
        let mut body = Vec::new();
        for field in [
            if_id,
            (ts >> 32) as u32,
            ts as u32,
            caplen,
            caplen.wrapping_add(7),
        ] {
            body.extend(u32_bytes(field, big_endian));
        }
        body.extend((0..caplen.min(2000).next_multiple_of(4)).map(|i| i as u8));
        body.extend(options);
        block(6, &body, length, big_endian)
    }

    #[test]
    fn pcapng_packet_blocks_read_as_pcap_parser_reads_them() {
        let mut compared = 0;
        for big_endian in [false, true] {
            // Interfaces 0 to 3: microseconds, nanoseconds (if_tsresol 9), 1/8 s (0x83), and
            // microseconds 1 000 s late (if_tsoffset), each option in the section's byte order.
            let u16_bytes = |n: u16| match big_endian {
                true => n.to_be_bytes(),
                false => n.to_le_bytes(),
            };
            let offset = match big_endian {
                true => 1000i64.to_be_bytes(),
                false => 1000i64.to_le_bytes(),
            };
            let mut head = section_header(big_endian);
            for option in [
                None,
                Some((9, &[9u8][..])),
                Some((9, &[0x83])),
                Some((14, &offset)),
            ] {
                let mut body = Vec::from(u16_bytes(1)); // Ethernet
                body.extend([0, 0]);
                body.extend(u32_bytes(65535, big_endian));
                if let Some((code, value)) = option {
                    body.extend(
                        u16_bytes(code)
                            .into_iter()
                            .chain(u16_bytes(value.len() as u16)),
                    );
                    body.extend(
                        value
                            .iter()
                            .chain(&[0; 3])
                            .take(value.len().next_multiple_of(4)),
                    );
                    body.extend([0; 4]); // end of options
                }
                head.extend(block(1, &body, None, big_endian));
            }
            let mut parser = Parser::default();
            let mut at = 0;
            while at < head.len() {
                let Next::Skip(used) = parser.next(&head[at..]) else {
                    panic!("a header block")
                };
                at += used;
            }
            // Each interface's time unit and offset: the same second, 1 700 000 000.5.
            for (if_id, ts) in [
                (0, 1_700_000_000_500_000),
                (1, 1_700_000_000_500_000_000),
                (2, 13_600_000_004),
                (3, 1_699_999_000_500_000),
            ] {
                let one = packet_block((if_id, ts, 60), &[], None, big_endian);
                let Next::Packet(packet, _) = parser.clone().next(&one) else {
                    panic!("a packet")
                };
                assert_eq!(packet.ts_us, 1_700_000_000_500_000, "interface {if_id}");
            }
            let comment = {
                let mut o: Vec<u8> = u16_bytes(1).into_iter().chain(u16_bytes(4)).collect();
                o.extend(b"note".iter().chain(&[0; 4]));
                o
            };
            // Each block, and whether the hand-read path takes it.
            let mut blocks = Vec::new();
            for if_id in 0..5 {
                for caplen in [0, 1, 3, 4, 5, 60, 1514] {
                    let ts = 1_700_000_000_123_456_789 + u64::from(caplen);
                    let one = packet_block((if_id, ts, caplen), &[], None, big_endian);
                    blocks.push((one, true));
                }
                let fields = (if_id, u64::MAX, 60);
                blocks.push((packet_block(fields, &[], None, big_endian), true));
                blocks.push((packet_block(fields, &comment, None, big_endian), false));
                // Trailing length that differs, a length past the packet or short of it, odd.
                for length in [60 + 32 + 4, 60 + 32 + 1, 60 + 32 - 4, 60 + 32 - 3, 30] {
                    let one = packet_block(fields, &[], Some(length), big_endian);
                    blocks.push((one, false));
                }
                let mut bad_tail = packet_block(fields, &[], None, big_endian);
                let end = bad_tail.len();
                bad_tail[end - 4..].copy_from_slice(&u32_bytes(96, big_endian));
                blocks.push((bad_tail, false));
                for caplen in [MAX_CAPLEN + 1, u32::MAX - 4, u32::MAX - 2, u32::MAX] {
                    let one = packet_block((if_id, 0, caplen), &[], Some(60), big_endian);
                    blocks.push((one, false));
                }
            }
            // A packet longer than any snap length, whole in its block: cut to MAX_CAPLEN.
            let mut long = Vec::new();
            for field in [0, 0, 0, MAX_CAPLEN + 1, MAX_CAPLEN + 1] {
                long.extend(u32_bytes(field, big_endian));
            }
            long.resize(20 + (MAX_CAPLEN as usize + 1).next_multiple_of(4), 7);
            let long = block(6, &long, None, big_endian);
            assert!(plain_packet_block(&long, big_endian).is_some());
            let (ours, theirs) = (
                parser.clone().next(&long),
                parser.clone().next_reference(&long),
            );
            assert!(matches!(&ours, Next::Packet(p, _) if p.data.len() == MAX_CAPLEN as usize));
            assert!(same(ours, theirs));
            for (one, hand_read) in &blocks {
                let taken = plain_packet_block(one, big_endian).is_some();
                assert_eq!(taken, *hand_read, "{one:?}");
                // The block, and the start of a next one (which is not read), cut anywhere.
                let mut data = one.clone();
                data.extend(u32_bytes(6, big_endian));
                for cut in 0..=data.len() {
                    let data = &data[..cut];
                    let ours = parser.clone().next(data);
                    let theirs = parser.clone().next_reference(data);
                    let shown = format!("{ours:?} / {theirs:?}");
                    assert!(same(ours, theirs), "{one:?} cut at {cut}: {shown}");
                    if cut < one.len() {
                        assert!(plain_packet_block(data, big_endian).is_none());
                    }
                    compared += 1;
                }
            }
        }
        assert!(compared > 20_000, "{compared}");
    }

    #[test]
    fn a_pcapng_block_whose_length_is_not_a_multiple_of_4_is_damage() {
        for big_endian in [false, true] {
            for body in 1..=8usize {
                let mut file = section_header(big_endian);
                let at = file.len();
                file.extend(block(0x0bad, &vec![0; body], None, big_endian));
                let mut parser = Parser::default();
                assert!(matches!(parser.next(&file), Next::Skip(28)));
                match parser.next(&file[at..]) {
                    Next::Skip(used) => assert_eq!((used, body % 4), (12 + body, 0)),
                    Next::Damaged(why) => {
                        assert_ne!(body % 4, 0);
                        assert!(why.contains("not a multiple of 4"), "{why}");
                    }
                    other => panic!("a body of {body} bytes: {other:?}"),
                }
            }
            // A section header (its own parser reads its length), first or after another.
            for extra in 1..=7usize {
                let mut shb = section_header(big_endian);
                shb.truncate(24);
                shb.extend(vec![0; extra]);
                let length = 28 + extra as u32;
                shb.extend(u32_bytes(length, big_endian));
                shb[4..8].copy_from_slice(&u32_bytes(length, big_endian));
                for first in [true, false] {
                    let mut file = if first {
                        Vec::new()
                    } else {
                        section_header(big_endian)
                    };
                    let at = file.len();
                    file.extend(&shb);
                    file.extend([0; 64]);
                    let mut parser = Parser::default();
                    if !first {
                        assert!(matches!(parser.next(&file), Next::Skip(28)));
                    }
                    match parser.next(&file[at..]) {
                        Next::Skip(_) => assert_eq!(extra % 4, 0),
                        Next::Damaged(why) => {
                            assert_ne!(extra % 4, 0);
                            assert!(why.contains("not a multiple of 4"), "{why}");
                        }
                        other => panic!("a section header {length} long: {other:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn a_pcapng_section_describes_at_most_max_interfaces_and_a_new_section_starts_again() {
        let mut file = section_header(false);
        let idb = interface_description(1, false);
        for _ in 0..MAX_INTERFACES {
            file.extend(&idb);
        }
        let last_kept = file.len();
        file.extend(&idb);
        let mut parser = Parser::default();
        let mut at = 0;
        while at < last_kept {
            let Next::Skip(used) = parser.next(&file[at..]) else {
                panic!("a description at {at}")
            };
            at += used;
        }
        assert_eq!(parser.descriptions(), 1 + MAX_INTERFACES as u64);
        let clone = parser.clone();
        match parser.next(&file[at..]) {
            Next::Damaged(why) => assert!(why.contains("more than 65536 interfaces"), "{why}"),
            other => panic!("one description too many: {other:?}"),
        }
        // A new section forgets the interfaces of the one before.
        let mut next = section_header(true);
        next.extend(interface_description(1, true));
        let mut parser = clone;
        for _ in 0..2 {
            let Next::Skip(used) = parser.next(&next) else {
                panic!("a new section and its interface")
            };
            next.drain(..used);
        }
        assert_eq!(parser.descriptions(), 3 + MAX_INTERFACES as u64);
    }

    #[test]
    fn pcapng_blocks_shorter_than_their_framing_are_damage_not_a_panic() {
        // Every block holds its type and its length twice: 12 bytes. pcap-parser 0.17 takes
        // 12 from the length before checking it, so a shorter one overflowed (a fuzzed file
        // with an 11-byte Process Information Block panicked where overflow is checked).
        for big_endian in [false, true] {
            let types = [
                1u32,
                2,
                3,
                4,
                5,
                6,
                7,
                8,
                9,
                10,
                0x0bad,
                0x4000_0bad,
                0x8000_0001,
            ];
            for block_type in types {
                for len in 0u32..12 {
                    let mut file = section_header(big_endian);
                    file.extend(u32_bytes(block_type, big_endian));
                    file.extend(u32_bytes(len, big_endian));
                    file.extend([0u8; 64]);
                    let mut parser = Parser::default();
                    let Next::Skip(at) = parser.next(&file) else {
                        panic!("a section header")
                    };
                    assert_eq!(at, 28);
                    match parser.next(&file[at..]) {
                        Next::Damaged(why) => assert!(why.contains("pcapng block"), "{why}"),
                        _ => panic!("block type {block_type:#x} of length {len}: not damage"),
                    }
                }
            }
            // A section header shorter than its 28 bytes, first in the file or after another.
            for len in 0u32..28 {
                let mut short = section_header(big_endian);
                let length = u32_bytes(len, big_endian);
                short[4..8].copy_from_slice(&length);
                short[24..28].copy_from_slice(&length);
                short.extend([0u8; 64]);
                let mut parser = Parser::default();
                assert!(
                    matches!(parser.next(&short), Next::Damaged(_)),
                    "a section header of length {len}"
                );
                let mut second = section_header(big_endian);
                second.extend(&short);
                let mut parser = Parser::default();
                assert!(matches!(parser.next(&second), Next::Skip(28)));
                assert!(
                    matches!(parser.next(&second[28..]), Next::Damaged(_)),
                    "a second section header of length {len}"
                );
            }
        }
    }
}
