//! A large pcap or pcapng file shared out between workers by chunks (the split walk):
//! whatever the number of workers, the same alerts and the same counters as one worker reading
//! it all, also where packet bytes look like capture records at the chunk boundaries, with IP
//! fragments, and where a pcapng file adds an interface or a section on the way.

mod common;

use std::path::Path;

use common::{
    dns_query_frame, feed, ipv4_fragment_frame, pcap_of, pcapng_of, run, tcp_syn_frame,
    udp_datagram, udp_frame, PcapngChanges, Run,
};

/// The replay's chunk size for up to 4 workers (`chunk_bytes` in src/pipeline/split.rs):
/// where walkers guess a record starts. Were it changed, this test would still compare the
/// workers, but would no longer put look-alike records exactly at the chunk boundaries.
const CHUNK: usize = 4 << 20;
/// Bytes of the pcap file header.
const FILE_HEADER: usize = 24;
/// Bytes of a record header.
const RECORD_HEADER: usize = 16;
/// Ethernet, IPv4 and UDP headers of [`udp_frame`].
const UDP_FRAME_HEADERS: usize = 14 + 20 + 8;

/// A UDP payload holding four records that look like pcap records of `second` (8 bytes each,
/// of 0xee), then four that look like pcapng packet blocks (in a pcapng file, at offsets a
/// block can start at: the payload starts 70 bytes into its own block): what a walker
/// scanning for a record's start could take for one.
fn look_alike_records(second: u32) -> Vec<u8> {
    let mut payload = Vec::new();
    for i in 0..4u32 {
        payload.extend_from_slice(&second.to_le_bytes());
        payload.extend_from_slice(&(i * 1000).to_le_bytes());
        payload.extend_from_slice(&8u32.to_le_bytes());
        payload.extend_from_slice(&8u32.to_le_bytes());
        payload.extend_from_slice(&[0xee; 8]);
    }
    payload.extend_from_slice(&[0; 2]);
    for i in 0..4u32 {
        for field in [6, 40, 0, 0, i * 1000, 8, 8] {
            payload.extend_from_slice(&u32::to_le_bytes(field));
        }
        payload.extend_from_slice(&[0xee; 8]);
        payload.extend_from_slice(&40u32.to_le_bytes());
    }
    payload
}

/// A DNS query for `name` from 10.0.0.1:`port`, as two IPv4 fragments (the first holds the
/// UDP header and 16 bytes of the message).
fn fragmented_dns_query(port: u16, id: u16, name: &str) -> [Vec<u8>; 2] {
    let whole = dns_query_frame(port, name);
    let datagram = &whole[14 + 20..];
    let udp = udp_datagram(port, 53, &datagram[8..]);
    [
        ipv4_fragment_frame(17, [192, 0, 2, 53], (id, 0, true), &udp[..24]),
        ipv4_fragment_frame(17, [192, 0, 2, 53], (id, 3, false), &udp[24..]),
    ]
}

/// What the test's capture holds, to check the alerts against.
struct Capture {
    frames: Vec<(u64, Vec<u8>)>,
    listed_queries: usize,
    listed_syns: usize,
    fragmented_listed: usize,
    boundaries_covered: usize,
}

/// About 3.5 chunks of traffic, 1 ms apart: DNS queries (every 997th for a listed name, every
/// 1 499th split into fragments), TCP SYNs (every 1 201st to a listed address), and UDP
/// packets carrying look-alike records. At each chunk boundary, a look-alike packet's record
/// header straddles the boundary, so that the first plausible records after it are the
/// look-alikes: the walker's guess is wrong there and the chunk must be walked again.
fn capture() -> Capture {
    const START_US: u64 = 1_700_000_000_000_000;
    let second = (START_US / 1_000_000) as u32;
    let mut c = Capture {
        frames: Vec::new(),
        listed_queries: 0,
        listed_syns: 0,
        fragmented_listed: 0,
        boundaries_covered: 0,
    };
    let mut offset = FILE_HEADER;
    let mut next_boundary = FILE_HEADER + CHUNK;
    // Each frame 1 ms after the one before; `offset` follows the file's length.
    let push = |c: &mut Capture, offset: &mut usize, frame: Vec<u8>| {
        *offset += RECORD_HEADER + frame.len();
        let ts = START_US + c.frames.len() as u64 * 1_000;
        c.frames.push((ts, frame));
    };
    while offset < FILE_HEADER + 3 * CHUNK + CHUNK / 2 {
        let n = c.frames.len() as u64;
        if offset + 600 > next_boundary {
            // A filler that ends 10 bytes before the boundary, then a look-alike packet whose
            // record header the boundary cuts.
            let filler = next_boundary - 10 - offset - RECORD_HEADER - UDP_FRAME_HEADERS;
            push(&mut c, &mut offset, udp_frame(7, 7, &vec![0; filler]));
            assert_eq!(offset, next_boundary - 10);
            push(
                &mut c,
                &mut offset,
                udp_frame(9, 9, &look_alike_records(second)),
            );
            c.boundaries_covered += 1;
            next_boundary += CHUNK;
            continue;
        }
        let port = 1024 + (n % 60_000) as u16;
        let frame = match n {
            n if n % 1_499 == 0 => {
                c.fragmented_listed += 1;
                let [first, last] = fragmented_dns_query(port, n as u16, "frag.evil.example");
                push(&mut c, &mut offset, first);
                last
            }
            n if n % 997 == 0 => {
                c.listed_queries += 1;
                dns_query_frame(port, "c2.evil.example")
            }
            n if n % 1_201 == 0 => {
                c.listed_syns += 1;
                tcp_syn_frame(port, [192, 0, 2, 80], 443)
            }
            n if n % 3 == 0 => udp_frame(port, 9, &look_alike_records(second)),
            _ => dns_query_frame(port, "www.example.org"),
        };
        push(&mut c, &mut offset, frame);
    }
    c
}

/// Each alert's indicator, time and endpoints, sorted.
fn alerts(run: &Run) -> Vec<String> {
    let mut keys: Vec<String> = run
        .alerts()
        .iter()
        .map(|a| {
            let field = |k: &str| a[k].to_string();
            [
                a["alert"]["context"]["indicator"].to_string(),
                field("timestamp"),
                field("src_ip"),
                field("src_port"),
                field("dest_ip"),
                field("dest_port"),
            ]
            .join(" ")
        })
        .collect();
    keys.sort();
    keys
}

/// The run summary without the line that holds times.
fn counters(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| !l.contains("Mbit/s"))
        .map(str::to_string)
        .collect()
}

/// `capture` replayed with the feed `feed` by `workers` workers.
fn replay(capture: &Path, feed: &Path, workers: &str) -> Run {
    let r = run(&[
        "-r",
        capture.to_str().unwrap(),
        "-f",
        feed.to_str().unwrap(),
        "--workers",
        workers,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

/// The indicators the test capture's packets are matched against.
fn listed(dir: &Path) -> std::path::PathBuf {
    feed(
        dir,
        "feed.txt",
        &["c2.evil.example", "frag.evil.example", "192.0.2.80"],
    )
}

#[test]
fn a_large_capture_split_between_workers_gives_what_one_worker_gives() {
    let dir = tempfile::tempdir().unwrap();
    let c = capture();
    assert_eq!(c.boundaries_covered, 3);
    let pcap = dir.path().join("large.pcap");
    std::fs::write(&pcap, pcap_of(&c.frames)).unwrap();
    assert!(std::fs::metadata(&pcap).unwrap().len() as usize > 3 * CHUNK);
    let feed = listed(dir.path());
    let replay = |workers: &str| replay(&pcap, &feed, workers);
    let one = replay("1");
    let want = c.listed_queries + c.listed_syns + c.fragmented_listed;
    assert_eq!(one.alerts().len(), want, "{}", one.stderr);
    // Counted as inspected: the two fragments of a datagram as one packet.
    let packets = format!("{} packets", c.frames.len() - c.fragmented_listed);
    assert!(one.stderr.contains(&packets), "{packets}: {}", one.stderr);
    assert!(
        one.stderr
            .contains(&format!("{} datagrams reassembled", c.fragmented_listed)),
        "{}",
        one.stderr
    );
    for workers in ["2", "3"] {
        let split = replay(workers);
        let (got, want) = (alerts(&split), alerts(&one));
        let first_difference = got.iter().zip(&want).find(|(g, w)| g != w);
        assert!(
            got.len() == want.len() && first_difference.is_none(),
            "{workers} workers: {} alerts against {}, first difference {first_difference:?}",
            got.len(),
            want.len()
        );
        assert_eq!(counters(&split), counters(&one), "{workers} workers");
    }
}

/// The same packets as pcapng, as capture tools write it (little- or big-endian), and with an
/// interface (counting nanoseconds) added half-way, a new section (big-endian) three quarters
/// of the way, or both: with 1, 2 and 3 workers, the alerts and counters of the packets as a
/// pcap file.
#[test]
fn a_large_pcapng_capture_split_between_workers_gives_what_the_same_packets_as_pcap_give() {
    let dir = tempfile::tempdir().unwrap();
    let c = capture();
    let pcap = dir.path().join("large.pcap");
    std::fs::write(&pcap, pcap_of(&c.frames)).unwrap();
    let feed = listed(dir.path());
    let want = replay(&pcap, &feed, "1");
    let n = c.frames.len();
    let (interface, section) = (Some(n / 2), Some(n * 3 / 4));
    for (name, changes) in [
        ("as written", PcapngChanges::default()),
        (
            "big-endian",
            PcapngChanges {
                big_endian: true,
                ..PcapngChanges::default()
            },
        ),
        (
            "interface added",
            PcapngChanges {
                new_interface_at: interface,
                ..PcapngChanges::default()
            },
        ),
        (
            "section added",
            PcapngChanges {
                new_section_at: section,
                ..PcapngChanges::default()
            },
        ),
        (
            "both",
            PcapngChanges {
                new_interface_at: interface,
                new_section_at: section,
                ..PcapngChanges::default()
            },
        ),
    ] {
        let pcapng = dir.path().join("large.pcapng");
        std::fs::write(&pcapng, pcapng_of(&c.frames, changes)).unwrap();
        assert!(std::fs::metadata(&pcapng).unwrap().len() as usize > 3 * CHUNK);
        for workers in ["1", "2", "3"] {
            let got = replay(&pcapng, &feed, workers);
            let (got_alerts, want_alerts) = (alerts(&got), alerts(&want));
            let first_difference = got_alerts.iter().zip(&want_alerts).find(|(g, w)| g != w);
            assert!(
                got_alerts.len() == want_alerts.len() && first_difference.is_none(),
                "{name}, {workers} workers: {} alerts against {}, first difference \
                 {first_difference:?}",
                got_alerts.len(),
                want_alerts.len()
            );
            assert_eq!(counters(&got), counters(&want), "{name}, {workers} workers");
        }
    }
}

/// Stopped by SIGTERM in the middle of a split replay: every worker ends promptly (none waits
/// for another's chunks for ever), the summary is printed, and every record written is whole.
#[test]
fn a_split_replay_stopped_by_sigterm_ends_promptly_with_whole_records() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("large.pcap");
    std::fs::write(&pcap, pcap_of(&capture().frames)).unwrap();
    let feed = feed(dir.path(), "feed.txt", &["c2.evil.example"]);
    for workers in ["2", "3"] {
        let eve = dir.path().join(format!("eve-{workers}.json"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_ioc-sensor"))
            .args(["-r", pcap.to_str().unwrap(), "-f", feed.to_str().unwrap()])
            .args(["--events", "dns,alert", "-o", eve.to_str().unwrap()])
            .args(["--workers", workers])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Signal once the replay is under way: its first records are written.
        let start = Instant::now();
        while std::fs::metadata(&eve).map_or(0, |m| m.len()) == 0
            && child.try_wait().unwrap().is_none()
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let signalled = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if signalled.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                panic!("{workers} workers: no exit within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(0), "{workers} workers: {stderr}");
        assert!(stderr.contains(" packets, "), "{workers} workers: {stderr}");
        let text = std::fs::read_to_string(&eve).unwrap();
        assert!(
            text.ends_with('\n'),
            "{workers} workers: a record cut short"
        );
        assert!(!common::parse_eve(&text).is_empty());
    }
}
