//! The kernel's floor for reading capture files: each file opened, read to its end into one
//! reused 128 KB buffer and closed, and nothing else. `scripts/bench-dir.sh` runs it on a
//! directory of small captures and on the same packets in one file: the difference is what
//! the kernel charges per file before a reader has looked at a single packet.
//!
//! ```text
//! cargo run --release --example read_floor -- bench-data/mix-200M-s1.parts-30
//! ```
//!
//! Arguments are files or directories: a directory's `.pcap` files, in name order, are opened
//! relative to the directory (one path component each: the cheapest way to open them). Prints
//! the files, the bytes and the CPU seconds (user + system) of the reading alone, listing
//! excluded. A 128 KB buffer:
//! on the AMD EPYC test machine, reads into 256 KB or more ran at a sixth of the speed.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::PathBuf;

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.is_empty() {
        eprintln!("usage: read_floor FILE_OR_DIRECTORY...");
        std::process::exit(2);
    }
    // (directory to open relative to, name) of every file, listed before the clock starts.
    let mut dirs: Vec<File> = Vec::new();
    let mut files: Vec<(Option<usize>, PathBuf)> = Vec::new();
    for arg in &args {
        if arg.is_dir() {
            dirs.push(File::open(arg).unwrap_or_else(|e| fail(arg, e)));
            let mut names: Vec<PathBuf> = std::fs::read_dir(arg)
                .unwrap_or_else(|e| fail(arg, e))
                .filter_map(|entry| entry.ok().map(|e| PathBuf::from(e.file_name())))
                .filter(|name| name.extension().is_some_and(|ext| ext == "pcap"))
                .collect();
            names.sort();
            files.extend(names.into_iter().map(|name| (Some(dirs.len() - 1), name)));
        } else {
            files.push((None, arg.clone()));
        }
    }
    let mut buf = vec![0u8; 128 << 10];
    let (mut bytes, start) = (0u64, cpu_seconds());
    for (dir, name) in &files {
        let mut file = match dir {
            Some(dir) => open_at(&dirs[*dir], name),
            None => File::open(name).unwrap_or_else(|e| fail(name, e)),
        };
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => bytes += n as u64,
                Err(e) => fail(name, e),
            }
        }
    }
    println!(
        "{} files, {bytes} bytes, {:.4} s of CPU",
        files.len(),
        cpu_seconds() - start
    );
}

/// `name` opened read-only relative to the directory `dir`.
fn open_at(dir: &File, name: &std::path::Path) -> File {
    use std::os::unix::ffi::OsStrExt;
    let mut path = name.as_os_str().as_bytes().to_vec();
    path.push(0);
    // SAFETY: `path` is NUL-terminated and outlives the call; the descriptor returned is new
    // and owned by the `File` made from it.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), path.as_ptr().cast(), libc::O_RDONLY) };
    if fd < 0 {
        fail(name, std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a descriptor just opened and owned by nobody else.
    unsafe { File::from_raw_fd(fd) }
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the whole struct it is given (all zeros is a valid one).
    let (usage, status) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let status = libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        (usage, status)
    };
    if status != 0 {
        eprintln!("read_floor: getrusage: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

fn fail(path: &std::path::Path, e: std::io::Error) -> ! {
    eprintln!("read_floor: {}: {e}", path.display());
    std::process::exit(1);
}
