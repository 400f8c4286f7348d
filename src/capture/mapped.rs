//! Regular capture files, read through a memory map (those under `MAP_FROM`, 4 MB, are read
//! whole): packets are handed out as slices of the file, with no per-packet copy (libpcap
//! copies each packet into its buffer; see docs/performance.md for the measured difference).
//! The format is parsed by [`Parser`].
//!
//! A file that ends inside a record ends with [`ReadEnd::CutShort`] after every complete record
//! before it was delivered. The file must not be truncated by another process while it is read
//! (the map would fault): captures still being written are read with `-r -`.

use std::fs::File;
use std::ops::ControlFlow;

use memmap2::Mmap;

use super::parser::{Next, Parser};
use super::{named, Filter, InputFile, RawPacket, ReadEnd};

/// Bytes read between two releases of the pages behind the read position.
const RELEASE_EVERY: usize = 8 * 1024 * 1024;
/// How far behind the read position pages are released: a reader may still hold packets
/// that far back (the replay holds up to 8, each at most a 256 KB record). A page given back
/// and then touched again is mapped again, and where the page cache holds the file in large
/// folios, all of its folio with it (up to 2 MB): releasing right up to the read position
/// while 8 packets were held kept a quarter of a 1 GB flood mapped.
const RELEASE_BEHIND: usize = 4 * 1024 * 1024;
/// Page size the releases are aligned to (the smallest on the targets we build for).
const PAGE: usize = 4096;

/// Files smaller than this are read into memory instead: mapping and unmapping a file costs
/// more than copying a small one (each unmap interrupts every other core to flush its TLB:
/// 10 000 files of 20 KB took 2.5× longer per packet than one large file).
const MAP_FROM: u64 = 4 * 1024 * 1024;

/// True when `input` is read whole rather than mapped (by its size when resolved).
pub fn is_small(input: &InputFile) -> bool {
    input.size.is_some_and(|size| size < MAP_FROM)
}

/// The whole content of a small file ([`is_small`]), to be read with [`read_loaded`]: files
/// can be loaded ahead of the thread that inspects them. Errors name the file.
pub fn load(input: &InputFile) -> Result<Vec<u8>, String> {
    let file = File::open(&input.path).map_err(|e| failure(input, &e))?;
    load_open(input, file, input.size.unwrap_or(0))
}

/// The rest of the open `file` of `input`, `size` bytes long when it was looked at: one read
/// when the size is still right, into memory that is not zeroed first. `read_to_end` on a
/// file first asks the kernel for its size and position (two more system calls per file),
/// and a zeroed buffer is written twice. A read that returns fewer bytes than asked for,
/// exactly the size seen, is the file's end (a regular file reads short only there); a file
/// that has grown since fills the buffer and is read on to its end.
fn load_open(input: &InputFile, file: File, size: u64) -> Result<Vec<u8>, String> {
    use std::os::fd::AsRawFd;
    let mut bytes: Vec<u8> = Vec::with_capacity((size as usize).saturating_add(1));
    loop {
        if bytes.len() == bytes.capacity() {
            bytes.reserve(bytes.len().max(4096));
        }
        let spare = bytes.spare_capacity_mut();
        let asked = spare.len();
        // SAFETY: read(2) writes at most `asked` bytes at the start of the spare capacity,
        // and the length grows by exactly what it reports written.
        let read = unsafe { libc::read(file.as_raw_fd(), spare.as_mut_ptr().cast(), asked) };
        match read {
            0 => break,
            n if n > 0 => {
                let n = n as usize;
                // SAFETY: the `n` bytes after the length were just written by read(2).
                unsafe { bytes.set_len(bytes.len() + n) };
                if n < asked && bytes.len() as u64 == size {
                    break;
                }
            }
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(failure(input, &e));
                }
            }
        }
    }
    Ok(bytes)
}

/// An I/O error, named after the file.
fn failure(input: &InputFile, e: &std::io::Error) -> String {
    named(input, crate::intel::io_reason(e))
}

/// Read every packet of `bytes`, the content of `input` loaded by [`load`]. The packets
/// borrow `bytes`, so a reader may hold some back while it reads on.
pub fn read_loaded<'b>(
    input: &InputFile,
    bytes: &'b [u8],
    filter: &mut Filter,
    on_packet: impl FnMut(RawPacket<'b>) -> ControlFlow<()>,
) -> Result<ReadEnd, String> {
    read_bytes(bytes, |_| {}, filter, on_packet).map_err(|why| named(input, why))
}

/// The content of a regular file: read whole when small, else mapped.
pub enum FileBytes {
    /// Read into memory.
    Loaded(Vec<u8>),
    /// Mapped.
    Mapped(Mmap),
}

/// The content of the regular file `input`, for [`read_open`].
pub fn open(input: &InputFile) -> Result<FileBytes, String> {
    let (file, size) = open_sized(input)?;
    if size < MAP_FROM {
        return load_open(input, file, size).map(FileBytes::Loaded);
    }
    map_open(input, &file).map(FileBytes::Mapped)
}

/// Read every packet of `bytes`, the content of `input` given by [`open`]. The packets
/// borrow `bytes`, so a reader may hold some back while it reads on.
pub fn read_open<'b>(
    input: &InputFile,
    bytes: &'b FileBytes,
    filter: &mut Filter,
    on_packet: impl FnMut(RawPacket<'b>) -> ControlFlow<()>,
) -> Result<ReadEnd, String> {
    let map = match bytes {
        FileBytes::Loaded(bytes) => return read_loaded(input, bytes, filter, on_packet),
        FileBytes::Mapped(map) => map,
    };
    let mut released = 0usize;
    // Give back the pages already read, so that a capture larger than memory streams through
    // in constant memory instead of filling the resident set.
    let release_behind = |consumed: usize| {
        release_before(map, consumed.saturating_sub(RELEASE_BEHIND), &mut released)
    };
    read_bytes(map, release_behind, filter, on_packet).map_err(|why| named(input, why))
}

/// Read every packet of a regular file.
pub fn read(
    input: &InputFile,
    filter: &mut Filter,
    on_packet: impl FnMut(RawPacket<'_>) -> ControlFlow<()>,
) -> Result<ReadEnd, String> {
    read_open(input, &open(input)?, filter, on_packet)
}

/// A regular file mapped whole for reading, when it is large (4 MB or more); `None` for a
/// small one. Errors name the file.
pub fn map_large(input: &InputFile) -> Result<Option<Mmap>, String> {
    let (file, size) = open_sized(input)?;
    if size < MAP_FROM {
        return Ok(None);
    }
    map_open(input, &file).map(Some)
}

/// `input` opened, with its size now.
fn open_sized(input: &InputFile) -> Result<(File, u64), String> {
    let file = File::open(&input.path).map_err(|e| failure(input, &e))?;
    let size = file.metadata().map_err(|e| failure(input, &e))?.len();
    Ok((file, size))
}

fn map_open(input: &InputFile, file: &File) -> Result<Mmap, String> {
    // SAFETY: the map is read-only. A file truncated by another process while mapped would
    // fault; the module documentation says so.
    let map = unsafe { Mmap::map(file) }.map_err(|e| named(input, e))?;
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(map)
}

/// Give back the pages of `map` before `consumed` (from `released` on, which moves up), once
/// 8 MB have been read since the last time.
pub fn release_before(map: &Mmap, consumed: usize, released: &mut usize) {
    let upto = page_start(consumed);
    if worth_releasing(*released, upto) {
        release_range(map, *released, upto);
        *released = upto;
    }
}

/// `at` rounded down to a page boundary.
pub fn page_start(at: usize) -> usize {
    at / PAGE * PAGE
}

/// Whether the pages from `from` to `to` are enough to give back at once (8 MB): fewer, larger
/// releases cost fewer system calls, and fewer interruptions of the other cores sharing the
/// map.
pub fn worth_releasing(from: usize, to: usize) -> bool {
    to.saturating_sub(from) >= RELEASE_EVERY
}

/// Give back the pages of `map` from `from` to `to` (page boundaries).
pub fn release_range(map: &Mmap, from: usize, to: usize) {
    // SAFETY: a read-only private file mapping: dropping pages only makes the kernel read
    // them again from the file if they are touched again.
    let _ =
        unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from) };
}

/// Why a file that ends `left` bytes into a record is cut short.
pub fn ends_inside_a_record(left: usize) -> String {
    format!("file ends inside a record ({left} bytes left)")
}

/// Every packet in `bytes` (a whole capture file); `consumed` is told how far reading got.
/// Bytes that are no capture file at all are an error (the reason, without the file's name).
fn read_bytes<'b>(
    bytes: &'b [u8],
    consumed: impl FnMut(usize),
    filter: &mut Filter,
    on_packet: impl FnMut(RawPacket<'b>) -> ControlFlow<()>,
) -> Result<ReadEnd, String> {
    let mut parser = Parser::default();
    let (at, end) = read_records(
        bytes,
        &mut parser,
        (0, bytes.len()),
        filter,
        consumed,
        on_packet,
    );
    let left = bytes.len() - at;
    match end {
        RecordsEnd::Stopped => Ok(ReadEnd::Stopped),
        RecordsEnd::NeedMore if !parser.started() => Err(Parser::not_a_capture(left, None)),
        RecordsEnd::Damaged(why) if !parser.started() => {
            Err(Parser::not_a_capture(left, Some(why)))
        }
        RecordsEnd::NeedMore => Ok(ReadEnd::CutShort(ends_inside_a_record(left))),
        RecordsEnd::Damaged(why) => Ok(ReadEnd::CutShort(why)),
        RecordsEnd::Limit if !parser.started() => Err(Parser::not_a_capture(0, None)),
        RecordsEnd::Limit => Ok(ReadEnd::Complete),
    }
}

/// Why [`read_records`] stopped.
pub enum RecordsEnd {
    /// A record starts at or past the limit (or the bytes end there).
    Limit,
    /// The callback asked to stop.
    Stopped,
    /// The bytes end inside a record.
    NeedMore,
    /// The bytes cannot be a record (why).
    Damaged(String),
}

/// The records of `bytes` (a whole capture file) that start in `from..limit`, read by
/// `parser` from `from` on (a record boundary): every packet that passes `filter` goes to
/// `on_packet`, `consumed` is told each record's offset, and the file's lines are asked for
/// ahead (see `LinesAhead`). Returns where reading stopped and why.
pub fn read_records<'b>(
    bytes: &'b [u8],
    parser: &mut Parser,
    (from, limit): (usize, usize),
    filter: &mut Filter,
    mut consumed: impl FnMut(usize),
    mut on_packet: impl FnMut(RawPacket<'b>) -> ControlFlow<()>,
) -> (usize, RecordsEnd) {
    let mut at = from;
    let mut ahead = LinesAhead { next: from };
    while at < limit {
        consumed(at);
        match parser.next(&bytes[at..]) {
            Next::Packet(packet, used) => {
                at += used;
                ahead.prefetch_to(bytes, at);
                if filter.accepts(packet.linktype, packet.data, packet.wire_len)
                    && on_packet(packet).is_break()
                {
                    return (at, RecordsEnd::Stopped);
                }
            }
            Next::Skip(used) => at += used,
            Next::NeedMore => return (at, RecordsEnd::NeedMore),
            Next::Damaged(why) => return (at, RecordsEnd::Damaged(why)),
        }
    }
    (at, RecordsEnd::Limit)
}

/// How far ahead of the read position [`LinesAhead`] asks for the file's bytes: a few records
/// of the realistic mix, enough for memory to answer before the reader gets there.
const PREFETCH_DISTANCE: usize = 2048;

/// Asks for every cache line of a capture a fixed distance ahead of the read position. Each
/// record header is a load whose address is known only once the header before it is read,
/// ~700 bytes back on the realistic mix, and in a new 4 KB page every few records: the
/// hardware prefetcher does not run ahead of that, so without this the reader waits for
/// memory once per record (94 % of the time of a read that inspects nothing). A worker that
/// skips the packets of other workers' flows has nothing to hide that wait behind.
struct LinesAhead {
    /// Offset of the next line not yet asked for.
    next: usize,
}

impl LinesAhead {
    /// Ask for the lines of `bytes` up to `PREFETCH_DISTANCE` past `read`.
    #[inline(always)]
    fn prefetch_to(&mut self, bytes: &[u8], read: usize) {
        let until = read.saturating_add(PREFETCH_DISTANCE).min(bytes.len());
        while self.next < until {
            crate::prefetch::line(bytes.as_ptr().wrapping_add(self.next));
            self.next += 64;
        }
    }
}

/// Ask for the cache lines of the first 128 bytes of `bytes`, where its headers will be read
/// soon at an address no prefetcher can foresee: a packet's Ethernet, IP and TCP headers start
/// anywhere in a line and often end in the next.
#[inline(always)]
pub fn prefetch_headers(bytes: &[u8]) {
    let start = bytes.as_ptr();
    crate::prefetch::line(start);
    crate::prefetch::line(start.wrapping_add(64.min(bytes.len())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::test_files::pcap_with_records;

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

    /// A small file is read whole whatever size it had when the inputs were resolved: the
    /// same, smaller (it has grown since: read on, past several doublings of the buffer), or
    /// larger (it has shrunk).
    #[test]
    fn a_loaded_file_is_read_to_its_end_whatever_size_was_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pcap");
        let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        for seen in [10_000u64, 9_999, 100, 0, 10_001, 50_000] {
            let input = InputFile {
                path: path.clone(),
                name: "x.pcap".into(),
                size: Some(seen),
            };
            assert_eq!(load(&input).unwrap(), content, "size seen: {seen}");
        }
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
    fn large_files_are_mapped_and_read_the_same() {
        // Past MAP_FROM: read through the map (with pages released behind), same packets.
        let record = [7u8; 100];
        let records: Vec<&[u8]> = (0..(MAP_FROM as usize / 100 + 1000))
            .map(|_| &record[..])
            .collect();
        let mut f = pcap_with_records(&records);
        assert!(f.len() as u64 > MAP_FROM);
        let (got, end) = collect(&f);
        assert_eq!(end, ReadEnd::Complete);
        assert_eq!(got.len(), records.len());
        assert!(got.iter().all(|&(_, len)| len == 100));
        assert_eq!(
            got.last().unwrap().0,
            (1_700_000_000 + records.len() as i64 - 1) * 1_000_000 + 7
        );
        f.truncate(f.len() - 50);
        let (got, end) = collect(&f);
        assert_eq!(got.len(), records.len() - 1);
        assert!(matches!(end, ReadEnd::CutShort(_)));
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
