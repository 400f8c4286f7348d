//! A capture file replayed from disk by one worker is given back to the kernel as it is read:
//! peak memory does not grow with the file's size (a capture larger than memory streams
//! through), also while packets are held back for their flows to be asked for ahead. (With
//! more workers a large pcap file is walked in chunks, whose mapped part is bounded by the
//! chunk size instead: see src/pipeline/split.rs.)

mod common;

use common::{feed, pcap_of, run, udp_frame};

/// The largest resident set of any child process waited for so far, in KB.
fn children_peak_rss_kb() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss
    }
}

/// Write `megabytes` of 1 400-byte UDP datagrams to `path`, each from a new port (a flow per
/// packet: fast enough for the replay to hold packets back). Written as they are made, so
/// that this process stays small: a child's peak RSS counts what it shared with this process
/// before it started the sensor.
fn write_flood(path: &std::path::Path, megabytes: usize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(&pcap_of(&[])).unwrap();
    let payload = vec![0x5a; 1_400];
    for n in 0..megabytes * 1024 * 1024 / 1_460 {
        let port = 1024 + (n % 60_000) as u16;
        let ts = 1_700_000_000_000_000 + n as u64 * 10;
        let one = pcap_of(&[(ts, udp_frame(port, 9, &payload))]);
        out.write_all(&one[24..]).unwrap();
    }
    let file = out.into_inner().unwrap();
    file.sync_all().unwrap();
    // Out of the page cache, so that the sensor's reads bring it back as a file read from
    // disk is: in large folios, of which a page touched again after its release maps all.
    use std::os::fd::AsRawFd;
    // SAFETY: a hint about a file this process has open.
    let advised = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(advised, 0);
}

#[test]
fn peak_memory_does_not_grow_with_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    let feed = feed(dir.path(), "feed.txt", &["c2.evil.example"]);
    let replay = |megabytes: usize| {
        let pcap = dir.path().join(format!("flood-{megabytes}.pcap"));
        write_flood(&pcap, megabytes);
        let args = [
            "-r",
            pcap.to_str().unwrap(),
            "-f",
            feed.to_str().unwrap(),
            "--max-flows",
            "1024",
            "--workers",
            "1",
        ];
        let out = run(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        std::fs::remove_file(&pcap).unwrap();
        children_peak_rss_kb()
    };
    let small = replay(16);
    let large = replay(96);
    // 80 MB more of capture: a reader that kept a tenth of it mapped would grow by 8 MB.
    assert!(
        large - small < 5 * 1024,
        "peak RSS {small} KB with 16 MB of capture, {large} KB with 96 MB"
    );
}
