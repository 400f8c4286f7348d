//! Packet sources: capture files (pcap, pcapng; one or many, directories, standard input).
//! Both are parsed by one [`parser`] (`pcap-parser`, and its most common records by hand):
//! regular files through a memory map
//! ([`mapped`]), standard input as a stream ([`stream`]). libpcap (the `pcap` crate) compiles
//! `--bpf` filters.
//!
//! - [`resolve_inputs`] turns the `-r` arguments into a list of files before any work
//!   starts: a missing or unreadable file, or one that is not a capture, is a usage error
//!   (exit 2), and so is a directory with no file that could be a capture. Inside a
//!   directory, a file named like a capture (`.pcap`, `.pcapng`, `.cap`, ..., or no
//!   extension) is only listed, with its size: its first bytes are checked when it is read,
//!   and one that is not a capture or cannot be read is named at the end of the run (exit 1);
//!   the others still are read (one whose size cannot be had is named before the run, as
//!   skipped). Opening each file once more beforehand cost a directory of 9 891 small
//!   captures 12-16 % of its time. Files named otherwise (notes, hashes, JSON next to the
//!   captures) and hidden ones (`.gitkeep`) are checked before the run, and passed over
//!   quietly when not captures.
//! - [`read_file`] hands every packet of one file to a callback, with its time, link type and
//!   captured bytes. A file cut off in the middle of a record (common for incident captures)
//!   ends with [`ReadEnd::CutShort`]: everything before the cut was delivered.
//!
//! The callback receives libpcap's buffer: it must copy what it keeps.

use std::ffi::OsString;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub mod live;
pub mod mapped;
pub mod parser;
pub mod stream;
#[cfg(test)]
pub(crate) mod test_files;

/// One capture file to read.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Path to open (`-` for standard input).
    pub path: PathBuf,
    /// Name for messages and `pcap_filename`.
    pub name: Arc<str>,
    /// Size in bytes of a regular file (for progress); `None` for a stream: standard input, a
    /// pipe or FIFO (`-r <(zcat big.pcap.gz)`), a character device. A stream is read once, in
    /// order, and never mapped.
    pub size: Option<u64>,
}

/// Inputs resolved from the command line.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Files to read, in order.
    pub files: Vec<InputFile>,
    /// Files skipped inside directories, with the reason (`path: reason`).
    pub skipped: Vec<String>,
}

impl Inputs {
    /// Total size of the inputs whose size is known.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().filter_map(|f| f.size).sum()
    }
}

/// Magic numbers of capture files: pcap (µs and ns, both byte orders) and pcapng.
const MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

/// Resolve `-r` arguments. Errors are `path: reason`, for a usage error (exit 2).
pub fn resolve_inputs(args: &[String]) -> Result<Inputs, String> {
    let mut inputs = Inputs::default();
    for arg in args {
        if arg == "-" {
            inputs.files.push(InputFile {
                path: PathBuf::from("-"),
                name: Arc::from("-"),
                size: None,
            });
            continue;
        }
        let path = Path::new(arg);
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("{arg}: {}", crate::intel::io_reason(&e)))?;
        if meta.is_dir() {
            let mut named: Vec<(OsString, PathBuf)> = std::fs::read_dir(path)
                .map_err(|e| format!("{arg}: {}", crate::intel::io_reason(&e)))?
                .filter_map(|e| e.ok())
                .filter(|e| match e.file_type() {
                    Ok(kind) if !kind.is_symlink() => kind.is_file(),
                    _ => e.path().is_file(), // a link: what it points to
                })
                .map(|e| (e.file_name(), e.path()))
                .collect();
            // All in one directory: by name, bytewise (as `ls` in the C locale), which is the
            // order of the paths without parsing them into components at every comparison.
            named.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let entries: Vec<PathBuf> = named.into_iter().map(|(_, path)| path).collect();
            let listed = inputs.files.len() + inputs.skipped.len();
            let checked = check_all(&entries);
            for (entry, checked) in entries.into_iter().zip(checked) {
                match checked {
                    Ok(size) => inputs.files.push(input_file(entry, size)),
                    Err(reason) if named_like_capture(&entry) => inputs
                        .skipped
                        .push(format!("{}: {reason}", entry.display())),
                    Err(_) => {} // README, notes, JSON next to the captures: not ours
                }
            }
            if inputs.files.len() + inputs.skipped.len() == listed {
                return Err(format!("{arg}: no capture file in this directory"));
            }
        } else if meta.is_file() {
            let size = check_capture_file(path).map_err(|reason| format!("{arg}: {reason}"))?;
            inputs.files.push(input_file(path.to_path_buf(), size));
        } else {
            // A pipe's first bytes can be read only once: the stream reader checks them.
            inputs.files.push(InputFile {
                path: path.to_path_buf(),
                name: Arc::from(arg.as_str()),
                size: None,
            });
        }
    }
    Ok(inputs)
}

/// Extensions of capture files, and names without one: such a file that is not a capture is
/// reported; other files in a directory, and hidden ones, are passed over quietly.
fn named_like_capture(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .is_some_and(|name| name.as_encoded_bytes().starts_with(b"."));
    if hidden {
        return false;
    }
    match path.extension().and_then(|e| e.to_str()) {
        None => true,
        Some(ext) => ["pcap", "pcapng", "cap", "dmp", "dump", "trace"]
            .contains(&ext.to_ascii_lowercase().as_str()),
    }
}

fn input_file(path: PathBuf, size: u64) -> InputFile {
    let name = Arc::from(path.display().to_string());
    InputFile {
        path,
        name,
        size: Some(size),
    }
}

/// [`check_listed_file`] for every path of a directory, in order: on several threads for a
/// large directory (10 000 small captures took 84 ms on one thread when each was opened).
fn check_all(paths: &[PathBuf]) -> Vec<Result<u64, String>> {
    const PER_THREAD: usize = 256;
    let check_part = |part: &[PathBuf]| -> Vec<Result<u64, String>> {
        part.iter().map(|p| check_listed_file(p)).collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads == 1 || paths.len() < 2 * PER_THREAD {
        return check_part(paths);
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = paths
            .chunks(chunk)
            .map(|part| (part, scope.spawn(move || check_part(part))))
            .collect();
        let mut checked = Vec::with_capacity(paths.len());
        for (part, handle) in parts {
            // A thread that could not finish: its files are checked here instead.
            checked.extend(handle.join().unwrap_or_else(|_| check_part(part)));
        }
        checked
    })
}

/// A file found in a directory: its size when it is named like a capture (its first bytes
/// are checked when it is read), else what [`check_capture_file`] says.
fn check_listed_file(path: &Path) -> Result<u64, String> {
    if !named_like_capture(path) {
        return check_capture_file(path);
    }
    std::fs::metadata(path)
        .map(|meta| meta.len())
        .map_err(|e| crate::intel::io_reason(&e))
}

/// Check that `path` can be read and starts like a capture file; returns its size.
pub fn check_capture_file(path: &Path) -> Result<u64, String> {
    let mut file = std::fs::File::open(path).map_err(|e| crate::intel::io_reason(&e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut magic = [0u8; 4];
    match file.read_exact(&mut magic) {
        Ok(()) if MAGICS.contains(&magic) => Ok(size),
        Ok(()) => Err("not a pcap or pcapng capture file".into()),
        Err(_) => Err("too short to be a capture file".into()),
    }
}

/// How reading a file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEnd {
    /// Every packet was read.
    Complete,
    /// The file ends inside a record or is damaged there; packets before were delivered.
    CutShort(String),
    /// The callback asked to stop.
    Stopped,
}

/// One packet as read.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Microseconds since the epoch.
    pub ts_us: i64,
    /// Link type of the file (or of the pcapng interface).
    pub linktype: i32,
    /// Captured bytes.
    pub data: &'a [u8],
    /// Bytes on the wire (may exceed `data.len()` when the snap length cut the packet).
    pub wire_len: u32,
}

/// A capture filter (libpcap syntax), compiled once per link type it meets.
pub struct Filter {
    expr: Option<String>,
    programs: Vec<(i32, pcap::BpfProgram)>,
}

impl Filter {
    /// No filter: every packet passes.
    pub fn none() -> Filter {
        Filter {
            expr: None,
            programs: Vec::new(),
        }
    }

    /// The same filter, for another thread (it compiles its own programs on first use).
    pub fn duplicate(&self) -> Filter {
        Filter {
            expr: self.expr.clone(),
            programs: Vec::new(),
        }
    }

    /// A filter from a libpcap expression. Errors name the expression.
    pub fn new(expr: &str) -> Result<Filter, String> {
        let mut f = Filter {
            expr: Some(expr.to_string()),
            programs: Vec::new(),
        };
        f.program(1)?; // check the syntax now, against Ethernet
        Ok(f)
    }

    fn program(&mut self, linktype: i32) -> Result<&pcap::BpfProgram, String> {
        let expr = self.expr.as_deref().unwrap_or("");
        if let Some(i) = self.programs.iter().position(|(l, _)| *l == linktype) {
            return Ok(&self.programs[i].1);
        }
        let dead = pcap::Capture::dead(pcap::Linktype(linktype))
            .map_err(|e| format!("--bpf {expr:?}: {e}"))?;
        let program = dead
            .compile(expr, true)
            .map_err(|e| format!("--bpf {expr:?}: {e}"))?;
        self.programs.push((linktype, program));
        Ok(&self.programs.last().expect("just pushed").1)
    }

    /// True when the packet passes (always, without a filter). A link type the expression
    /// cannot be compiled for lets nothing through.
    #[inline]
    pub fn accepts(&mut self, linktype: i32, data: &[u8], _wire_len: u32) -> bool {
        if self.expr.is_none() {
            return true;
        }
        match self.program(linktype) {
            Ok(p) => p.filter(data),
            Err(_) => false,
        }
    }
}

/// `why` reading `input` failed, after the file's name: the form of every reading error.
pub(crate) fn named(input: &InputFile, why: impl std::fmt::Display) -> String {
    format!("{}: {why}", input.name)
}

/// Read every packet of `input` through `filter`: regular files through a memory map
/// ([`mapped`]), standard input and other streams as a stream ([`stream`]), which calls
/// `on_idle` when no bytes have come for a while.
pub fn read_file(
    input: &InputFile,
    filter: &mut Filter,
    on_idle: impl FnMut() -> ControlFlow<()>,
    on_packet: impl FnMut(RawPacket<'_>) -> ControlFlow<()>,
) -> Result<ReadEnd, String> {
    if input.size.is_some() {
        return mapped::read(input, filter, on_packet);
    }
    let source: Box<dyn Read + Send> = if input.path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        let file = std::fs::File::open(&input.path);
        Box::new(file.map_err(|e| named(input, crate::intel::io_reason(&e)))?)
    };
    stream::read(source, filter, on_idle, on_packet).map_err(|why| named(input, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A large directory is listed on several threads, in name order: files named like
    /// captures with their sizes, whatever their first bytes (checked when read); files named
    /// otherwise, and hidden ones, only when they are captures; nothing skipped.
    #[test]
    fn a_large_directory_resolves_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let header = [
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0,
            0,
        ];
        let mut want = Vec::new();
        for i in 0..1500 {
            let (name, bytes): (String, &[u8]) = match i % 5 {
                0 if i % 2 == 0 => (format!("{i:05}-notes.txt"), b"not ours"),
                0 => (format!(".{i:05}-hidden"), b""),
                1 => (format!("{i:05}-bad.pcap"), b"<html>"),
                2 => (format!("{i:05}-capture.bin"), &header),
                _ => (format!("{i:05}.pcap"), &header),
            };
            let path = dir.path().join(&name);
            std::fs::write(&path, bytes).unwrap();
            if i % 5 != 0 {
                want.push((path, Some(bytes.len() as u64)));
            }
        }
        let inputs = resolve_inputs(&[dir.path().display().to_string()]).unwrap();
        let got: Vec<(PathBuf, Option<u64>)> = inputs
            .files
            .iter()
            .map(|f| (f.path.clone(), f.size))
            .collect();
        assert_eq!(got, want);
        assert!(inputs.skipped.is_empty(), "{:?}", inputs.skipped);
    }

    /// A directory with no capture in it is a usage error, as a missing file is.
    #[test]
    fn a_directory_without_captures_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let arg = dir.path().display().to_string();
        let empty = resolve_inputs(std::slice::from_ref(&arg)).unwrap_err();
        assert_eq!(empty, format!("{arg}: no capture file in this directory"));
        std::fs::write(dir.path().join("README.txt"), "notes").unwrap();
        std::fs::write(dir.path().join(".gitkeep"), "").unwrap();
        let notes_only = resolve_inputs(std::slice::from_ref(&arg)).unwrap_err();
        assert_eq!(notes_only, empty);
    }
}
