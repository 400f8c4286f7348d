//! The command line's contract: inputs, outputs, feeds, exit codes and messages.

mod common;

use common::*;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn missing_or_non_capture_input_is_a_usage_error_before_any_work() {
    let r = run(&["-r", "/nonexistent/x.pcap"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("ioc-sensor: /nonexistent/x.pcap: no such file or directory"),
        "{}",
        r.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let not = dir.path().join("notes.pcap");
    std::fs::write(&not, "hello, not a capture").unwrap();
    let r = run(&["-r", s(&not)]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("notes.pcap: not a pcap or pcapng capture file"),
        "{}",
        r.stderr
    );
    assert!(r.records.is_empty());
}

/// In a directory, a file named like a capture is checked when it is read: a bad one is named
/// at the end and the run exits 1, every other capture still read (with one worker and with
/// two, small files and one large enough to be mapped). Files named otherwise count only
/// when they are captures, and are passed over quietly when not.
#[test]
fn a_directory_with_a_bad_capture_processes_the_rest_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        capture("ndpi__http_connect.pcap"),
        dir.path().join("a.pcap"),
    )
    .unwrap();
    std::fs::write(dir.path().join("b.pcap"), "garbage").unwrap();
    // Over the size that is mapped rather than read: found bad by another path.
    std::fs::write(dir.path().join("c.pcapng"), vec![0x42u8; 5 << 20]).unwrap();
    std::fs::copy(
        capture("ndpi__dns_ambiguous_names.pcap"),
        dir.path().join("d.bin"),
    )
    .unwrap();
    std::fs::write(dir.path().join("README.txt"), "notes about the captures").unwrap();
    std::fs::write(dir.path().join(".gitkeep"), "").unwrap();
    let feeds = tempfile::tempdir().unwrap();
    let f = feed(feeds.path(), "t.txt", &["apache.org"]);
    for workers in ["1", "2"] {
        let r = run(&[
            "-r",
            s(dir.path()),
            "-f",
            s(&f),
            "--workers",
            workers,
            "--events",
            "dns",
        ]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        for bad in ["b.pcap", "c.pcapng"] {
            let said = format!("{bad}: not a pcap or pcapng capture file\n");
            assert_eq!(
                r.stderr.matches(&said).count(),
                1,
                "{bad} named once: {}",
                r.stderr
            );
        }
        for quiet in ["README.txt", ".gitkeep"] {
            assert!(
                !r.stderr.contains(quiet),
                "non-capture names and hidden files are passed over quietly: {}",
                r.stderr
            );
        }
        assert!(
            r.stderr.contains("ioc-sensor: 2 file(s), "),
            "the two captures read, not the bad ones: {}",
            r.stderr
        );
        assert!(!r.alerts().is_empty(), "a.pcap was still processed");
        assert!(
            r.records.iter().any(|e| e["pcap_filename"]
                .as_str()
                .is_some_and(|name| name.ends_with("d.bin"))),
            "a capture named otherwise is read: {}",
            r.stderr
        );
    }
}

/// A directory with nothing to read is a usage error before any work, as a missing file is.
#[test]
fn a_directory_without_captures_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.txt"), "the captures come later").unwrap();
    std::fs::write(dir.path().join(".gitkeep"), "").unwrap();
    let r = run(&["-r", s(dir.path())]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(&format!(
            "ioc-sensor: {}: no capture file in this directory",
            dir.path().display()
        )),
        "{}",
        r.stderr
    );
    assert!(r.records.is_empty());
}

/// Small files of a directory are read ahead of the workers, one thread for all of them: every
/// file is still inspected, in order, and a file cut short is said.
#[test]
fn a_directory_of_small_captures_is_read_ahead_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cut = std::fs::read(capture("ndpi__iphone.pcap")).unwrap();
    std::fs::copy(
        capture("ndpi__http_connect.pcap"),
        dir.path().join("1.pcap"),
    )
    .unwrap();
    std::fs::write(dir.path().join("2.pcap"), &cut[..cut.len() * 2 / 3 + 5]).unwrap();
    std::fs::copy(
        capture("ndpi__dns_ambiguous_names.pcap"),
        dir.path().join("3.pcap"),
    )
    .unwrap();
    let feeds = tempfile::tempdir().unwrap();
    let f = feed(feeds.path(), "t.txt", &["apache.org", "apple.com"]);
    // What each file raises alone.
    let mut want = Vec::new();
    for name in ["1.pcap", "2.pcap", "3.pcap"] {
        let r = run(&["-q", "-r", s(&dir.path().join(name)), "-f", s(&f)]);
        assert!(!r.alerts().is_empty(), "{name}");
        want.extend(vec![name.to_string(); r.alerts().len()]);
    }
    for workers in ["1", "3"] {
        let r = run(&["-q", "-r", s(dir.path()), "-f", s(&f), "--workers", workers]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stderr.contains("2.pcap: ") && r.stderr.contains("cut short"),
            "{}",
            r.stderr
        );
        let mut files: Vec<String> = (r.alerts().iter())
            .map(|a| {
                a["pcap_filename"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        files.sort();
        assert_eq!(files, want, "{workers} worker(s)");
    }
}

/// Many small files go to the workers in batches, with a large file (mapped by the workers
/// themselves) in the middle: each file is inspected exactly once, in order, across the batch
/// boundaries, with one worker and with two.
#[test]
fn a_directory_of_many_small_captures_is_inspected_once_each_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    const FILES: u16 = 150;
    const LARGE: u16 = 75;
    for i in 0..FILES {
        let ts = u64::from(i) * 1_000_000;
        let mut frames = vec![(
            ts,
            dns_query_frame(10_000 + i, &format!("h{i}.listed.example")),
        )];
        if i == LARGE {
            // Over 4 MB of unlisted queries: a file the read-ahead leaves to the workers.
            let filler = dns_query_frame(9_000, "filler.unlisted.example");
            let padded: Vec<u8> = filler.iter().copied().chain([0u8; 1400]).collect();
            frames.extend((1..3_200).map(|n| (ts + n, padded.clone())));
        }
        std::fs::write(dir.path().join(format!("f{i:03}.pcap")), pcap_of(&frames)).unwrap();
    }
    let large = std::fs::metadata(dir.path().join(format!("f{LARGE:03}.pcap"))).unwrap();
    assert!(
        large.len() > 4 << 20,
        "the large file is mapped, not read ahead"
    );
    let feeds = tempfile::tempdir().unwrap();
    let f = feed(feeds.path(), "t.txt", &["listed.example"]);
    for workers in ["1", "2"] {
        let r = run(&["-q", "-r", s(dir.path()), "-f", s(&f), "--workers", workers]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let mut files: Vec<String> = (r.alerts().iter())
            .map(|a| {
                let path = a["pcap_filename"].as_str().unwrap();
                let file = path.rsplit('/').next().unwrap().to_string();
                // The name queried in f{i}.pcap is h{i}: the alert came from that file's bytes.
                let i: u16 = file[1..4].parse().unwrap();
                let observed = &a["alert"]["context"]["observed"];
                assert_eq!(observed, &format!("h{i}.listed.example"), "{file}");
                file
            })
            .collect();
        if workers == "1" {
            assert!(files.is_sorted(), "one worker writes in file order");
        }
        files.sort();
        let want: Vec<String> = (0..FILES).map(|i| format!("f{i:03}.pcap")).collect();
        assert_eq!(files, want, "{workers} worker(s): one alert per file");
    }
}

#[test]
fn a_capture_cut_off_mid_record_is_processed_up_to_the_cut() {
    let bytes = std::fs::read(capture("ndpi__http_connect.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3 + 7]).unwrap();
    let f = feed(dir.path(), "t.txt", &["apache.org"]);
    let r = run(&["-r", s(&cut), "-f", s(&f)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("cut.pcap: ") && r.stderr.contains("cut short"),
        "{}",
        r.stderr
    );
    assert!(!r.alerts().is_empty(), "alerts from before the cut");
}

#[test]
fn stdin_is_read_with_dash() {
    let bytes = std::fs::read(capture("ndpi__http_connect.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = feed(dir.path(), "t.txt", &["apache.org"]);
    let r = run_with_stdin(&["-q", "-r", "-", "-f", s(&f)], Some(&bytes));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.alerts().is_empty());
    assert_eq!(r.alerts()[0]["pcap_filename"], "-");
}

/// A stream that is no capture at all (a gzip file, an error page, nothing) is an input that
/// could not be read, as tcpdump treats it: exit 1 and the reason, not "cut short" and 0.
#[test]
fn standard_input_that_is_no_capture_is_an_error() {
    let gzip = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3];
    for (bytes, reason) in [
        (
            &b"<html>503 Service Unavailable</html>"[..],
            "not a pcap or pcapng capture file",
        ),
        (&gzip[..], "not a pcap or pcapng capture file"),
        (&b""[..], "empty: no capture file header"),
        (
            &[0xd4, 0xc3][..],
            "too short to be a capture file (2 bytes)",
        ),
    ] {
        let r = run_with_stdin(&["-q", "-r", "-", "-o", "/dev/null"], Some(bytes));
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains(&format!("-: {reason}")), "{}", r.stderr);
        assert!(!r.stderr.contains("cut short"), "{}", r.stderr);
    }
    // A capture cut inside its first record is a capture, cut short: processed, exit 0.
    let bytes = std::fs::read(capture("ndpi__http_connect.pcap")).unwrap();
    let r = run_with_stdin(&["-q", "-r", "-", "-o", "/dev/null"], Some(&bytes[..30]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("cut short"), "{}", r.stderr);
}

/// `-r <(zcat big.pcap.gz)` and named pipes: a stream read once, in order (its first bytes
/// are not read twice to check the magic), with every worker count.
#[test]
fn a_named_pipe_is_read_as_a_stream() {
    let bytes = std::fs::read(capture("ndpi__http_connect.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = feed(dir.path(), "t.txt", &["apache.org"]);
    let from_file = run(&[
        "-q",
        "-r",
        s(&capture("ndpi__http_connect.pcap")),
        "-f",
        s(&f),
    ]);
    assert!(!from_file.alerts().is_empty());
    // Workers write in their own order: compare the sorted alerts.
    let found = |r: &Run| {
        let mut alerts: Vec<String> = r.alerts().iter().map(|a| a["alert"].to_string()).collect();
        alerts.sort();
        alerts
    };
    for workers in ["1", "3"] {
        let fifo = dir.path().join(format!("pipe-{workers}"));
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let writer = {
            let (fifo, bytes) = (fifo.clone(), bytes.clone());
            std::thread::spawn(move || std::fs::write(fifo, bytes))
        };
        let r = run(&["-q", "-r", s(&fifo), "-f", s(&f), "--workers", workers]);
        writer.join().unwrap().unwrap();
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(found(&r), found(&from_file), "{}", r.stderr);
        assert!(r.alerts().iter().all(|a| a["pcap_filename"] == s(&fifo)));
    }
}

#[test]
fn bad_feed_lines_are_each_reported_and_good_lines_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let f = feed(
        dir.path(),
        "x.txt",
        &[
            "# comment",
            "exa mple",
            "apache[.]org",
            "1.2.3.4/99",
            "",
            "hxxp://151.101.2[.]132",
        ],
    );
    let r = run(&[
        "-q",
        "-r",
        s(&capture("ndpi__http_connect.pcap")),
        "-f",
        s(&f),
    ]);
    assert_eq!(r.code, 0);
    let path = s(&f);
    assert!(
        r.stderr.contains(&format!(
            "ioc-sensor: {path}:2: not an IP, domain or URL: \"exa mple\""
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("ioc-sensor: {path}:4: bad prefix length in CIDR")),
        "{}",
        r.stderr
    );
    let indicators: Vec<String> = alert_keys(&r).into_iter().map(|k| k.0).collect();
    assert!(indicators.contains(&"apache.org".to_string()));
    assert!(indicators.contains(&"151.101.2.132".to_string()));
}

#[test]
fn feeds_without_any_usable_indicator_are_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = feed(
        dir.path(),
        "empty.txt",
        &["# nothing here", "not a domain!"],
    );
    let r = run(&["-r", s(&capture("ndpi__http_connect.pcap")), "-f", s(&f)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no usable indicator"), "{}", r.stderr);
    let r = run(&[
        "-r",
        s(&capture("ndpi__http_connect.pcap")),
        "-f",
        "/nonexistent/feed.txt",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("/nonexistent/feed.txt: no such file or directory"),
        "{}",
        r.stderr
    );
}

#[test]
fn unwritable_output_fails_before_reading() {
    let r = run(&[
        "-r",
        s(&capture("ndpi__http_connect.pcap")),
        "-o",
        "/nonexistent/dir/eve.json",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("/nonexistent/dir/eve.json: no such file or directory"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("packets"),
        "no packet was read: {}",
        r.stderr
    );
}

#[test]
fn output_file_is_appended_and_holds_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = feed(dir.path(), "t.txt", &["apache.org"]);
    let out = dir.path().join("eve.json");
    for _ in 0..2 {
        let r = run(&[
            "-q",
            "-r",
            s(&capture("ndpi__http_connect.pcap")),
            "-f",
            s(&f),
            "-o",
            s(&out),
            "--events",
            "dns",
        ]);
        assert_eq!(r.code, 0);
        assert!(r.records.is_empty(), "nothing on stdout with -o FILE");
    }
    let records = parse_eve(&std::fs::read_to_string(&out).unwrap());
    let alerts = records
        .iter()
        .filter(|r| r["event_type"] == "alert")
        .count();
    let dns = records.iter().filter(|r| r["event_type"] == "dns").count();
    assert_eq!(dns, 4, "two DNS messages per run, two runs");
    assert!(alerts >= 2 && alerts % 2 == 0);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&[]).code, 2);
    let r = run(&[
        "-r",
        s(&capture("ndpi__http_connect.pcap")),
        "--events",
        "dns,bogus",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unknown record type \"bogus\""),
        "{}",
        r.stderr
    );
    let r = run(&[
        "-r",
        s(&capture("ndpi__http_connect.pcap")),
        "--workers",
        "0",
    ]);
    assert_eq!(r.code, 2);
    let r = run(&[
        "-r",
        s(&capture("ndpi__http_connect.pcap")),
        "--bpf",
        "tcp port port",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--bpf"), "{}", r.stderr);
}

#[test]
fn bpf_filter_applies_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = feed(dir.path(), "t.txt", &["apache.org"]);
    let all = run(&[
        "-q",
        "-r",
        s(&capture("ndpi__http_connect.pcap")),
        "-f",
        s(&f),
    ]);
    let udp = run(&[
        "-q",
        "-r",
        s(&capture("ndpi__http_connect.pcap")),
        "-f",
        s(&f),
        "--bpf",
        "udp",
    ]);
    assert!(udp.alerts().len() < all.alerts().len());
    assert!(udp.alerts().iter().all(|a| a["proto"] == "UDP"));
}

#[test]
fn summary_counts_names_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let f = feed(dir.path(), "t.txt", &["apache.org"]);
    let r = run(&["-r", s(&capture("ndpi__http_connect.pcap")), "-f", s(&f)]);
    assert!(r.stderr.contains("100 packets"), "{}", r.stderr);
    assert!(
        r.stderr.contains("tls sni 2"),
        "one direct, one inside the CONNECT tunnel: {}",
        r.stderr
    );
    assert!(r.stderr.contains("apache.org (t.txt)"), "{}", r.stderr);
    let quiet = run(&[
        "-q",
        "-r",
        s(&capture("ndpi__http_connect.pcap")),
        "-f",
        s(&f),
    ]);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}
