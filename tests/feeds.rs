//! Indicator feeds end to end: every shared feed loads with `feeds check`; an indicator in
//! each format raises an alert with its metadata; expiry and the allow-list suppress alerts;
//! a feed swapped under a running capture is picked up, and a bad reload keeps the old one.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn http_connect() -> String {
    capture("ndpi__http_connect.pcap")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn feeds_check_reads_every_shared_feed_with_hand_verified_counts() {
    let out = Command::new(env!("CARGO_BIN_EXE_ioc-sensor"))
        .args(["feeds", "check", s(&shared().join("feeds"))])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    // Counts by type and skips by reason, verified without the sensor: the MISP events, the
    // STIX bundle and the CSV read with Python's json and csv modules (attribute types,
    // including those of objects; object types; the object named in each pattern), the Zeek
    // file's indicator-type column counted, and the plain lists classified by a separate
    // script (a leading `/` is a URL path, a value with `/` is a URL unless it is
    // `http://IP`, an address with or without a port is an IP, anything else a domain), each
    // value counted once per `# Reference:` block, as the sensor keeps one source per block
    // (maltrail-apt_sofacy.txt repeats 7 references and some domains under them: 1 874
    // domain lines, 1 437 distinct domains, 1 783 distinct per block).
    let expected: [(&str, &str, &[&str]); 8] = [
        (
            "eset-sednit-zebrocy-misp.json",
            "misp",
            &[
                "url 2",
                "total 2",
                "skipped 1 MISP type link",
                "skipped 3 MISP type md5",
                "skipped 3 MISP type sha1",
                "skipped 3 MISP type sha256",
            ],
        ),
        (
            "eset-turla-crutch-misp.json",
            "misp",
            &[
                "domain 4",
                "url 1",
                "total 5",
                "skipped 7 MISP type filename",
                "skipped 1 MISP type link",
                "skipped 4 MISP type sha1",
                "skipped 3 MISP type text",
            ],
        ),
        (
            "maltrail-apt_downex.txt",
            "plain",
            &["domain 10", "ip 8", "url-path 1", "total 19"],
        ),
        (
            "maltrail-apt_sofacy.txt",
            "plain",
            &[
                "domain 1783",
                "ip 311",
                "url 80",
                "url-path 86",
                "total 2260",
            ],
        ),
        (
            "sekoia-apt31-stix2.jsonl",
            "stix-jsonl",
            &[
                "domain 43",
                "ip 53",
                "total 96",
                "skipped 10 STIX attack-pattern object",
                "skipped 5 STIX campaign object",
                "skipped 1 STIX intrusion-set object",
                "skipped 3 STIX malware object",
                "skipped 6 STIX pattern on file",
                "skipped 247 STIX relationship object",
                "skipped 2 pattern_type yara",
            ],
        ),
        (
            "sekoia-apt31.csv",
            "csv",
            &[
                "domain 43",
                "ip 53",
                "total 96",
                "skipped 6 STIX pattern on file",
            ],
        ),
        (
            "sekoia-calisto-infrastructure.txt",
            "plain",
            &["domain 85", "total 85"],
        ),
        (
            "zeek-intel-amnesty-nso-excerpt.intel",
            "zeek-intel",
            &["hostname 20", "total 20"],
        ),
    ];
    for (file, format, lines) in expected {
        // The file's block: its header line, then its indented lines, spaces collapsed.
        let block: Vec<String> = text
            .lines()
            .skip_while(|l| !l.ends_with(&format!("{file}: {format}")))
            .skip(1)
            .take_while(|l| l.starts_with(' '))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(block, lines, "{file} read as {format}:\n{text}");
    }
    // The sums of the counts above.
    assert!(
        text.contains(
            "8 file(s), 2583 indicators (domain 1968, hostname 20, ip 425, cidr 0, url 83, \
             url-path 87), 0 bad line(s)"
        ),
        "{text}"
    );
}

#[test]
fn feeds_check_reports_bad_lines_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let f = feed(
        dir.path(),
        "bad.txt",
        &["good.example", "not a domain", "1.2.3.4/40"],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ioc-sensor"))
        .args(["feeds", "check", s(&f)])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains(&format!("{}:2: not an IP, domain or URL", s(&f))),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}:3: bad prefix length", s(&f))),
        "{text}"
    );
}

/// The same indicator (the name in ndpi__http_connect.pcap) written in every format a
/// publisher uses.
fn every_format(dir: &Path) -> Vec<(&'static str, std::path::PathBuf)> {
    let write = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    vec![
        ("plain", write("plain.txt", "# Reference: https://example.org/report\napache[.]org\n")),
        ("csv", write("export.csv", "indicator,type,campaign,description\napache.org,domain,Test Campaign,from a CSV\n")),
        (
            "stix-bundle",
            write(
                "bundle.json",
                r#"{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--11111111-1111-4111-8111-111111111111","created":"2021-01-01T00:00:00Z","modified":"2021-01-01T00:00:00Z","name":"Apache test","pattern":"[domain-name:value = 'apache.org']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z","valid_until":"2030-01-01T00:00:00Z","confidence":80,"labels":["test"]}]}"#,
            ),
        ),
        (
            "stix-jsonl",
            write(
                "objects.jsonl",
                "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--22222222-2222-4222-8222-222222222222\",\"created\":\"2021-01-01T00:00:00Z\",\"modified\":\"2021-01-01T00:00:00Z\",\"pattern\":\"[domain-name:value = 'apache.org'] OR [ipv4-addr:value = '192.0.2.1']\",\"pattern_type\":\"stix\",\"valid_from\":\"2021-01-01T00:00:00Z\"}\n",
            ),
        ),
        (
            "misp",
            write("event.json", r#"{"Event":{"info":"Test event","Attribute":[{"type":"domain","category":"Network activity","value":"apache.org","to_ids":true,"uuid":"33333333-3333-4333-8333-333333333333","comment":"c2"}]}}"#),
        ),
        ("zeek-intel", write("intel.dat", "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\napache.org\tIntel::DOMAIN\ttest\tfrom Zeek\n")),
        ("suricata-dataset", write("names.lst", "YXBhY2hlLm9yZw==\n")),
    ]
}

#[test]
fn an_indicator_in_every_feed_format_raises_alerts() {
    let dir = tempfile::tempdir().unwrap();
    for (format, path) in every_format(dir.path()) {
        let r = run(&["-q", "-r", &http_connect(), "-f", s(&path)]);
        assert_eq!(r.code, 0, "{format}: {}", r.stderr);
        assert!(r.stderr.is_empty(), "{format}: {}", r.stderr);
        let alerts = r.alerts();
        let sni = alerts
            .iter()
            .find(|a| a["alert"]["signature_id"] == 9_100_003);
        let sni = sni.unwrap_or_else(|| panic!("{format}: no TLS SNI alert: {alerts:?}"));
        let ctx = &sni["alert"]["context"];
        assert_eq!(ctx["indicator"], "apache.org", "{format}");
        assert_eq!(
            ctx["feed"],
            path.file_name().unwrap().to_str().unwrap(),
            "{format}"
        );
        match format {
            "plain" => assert_eq!(ctx["references"][0], "https://example.org/report"),
            "csv" => assert_eq!(sni["alert"]["metadata"]["campaign"][0], "Test Campaign"),
            "stix-bundle" => {
                assert_eq!(ctx["confidence"], 80);
                assert_eq!(ctx["valid_until"], "2030-01-01T00:00:00.000000+0000");
                assert_eq!(ctx["id"], "indicator--11111111-1111-4111-8111-111111111111");
            }
            "misp" => assert!(
                ctx["description"].as_str().unwrap().contains("Test event"),
                "{ctx}"
            ),
            "zeek-intel" => assert_eq!(
                ctx["indicator_type"], "hostname",
                "Zeek's DOMAIN is an exact name"
            ),
            _ => {}
        }
    }
}

#[test]
fn expired_indicators_and_allow_listed_names_do_not_alert() {
    let dir = tempfile::tempdir().unwrap();
    // The capture is from 2021-09-12: an indicator valid until 2020 has expired by then.
    let expired = dir.path().join("old.json");
    std::fs::write(&expired, r#"{"type":"bundle","id":"bundle--2","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--44444444-4444-4444-8444-444444444444","created":"2019-01-01T00:00:00Z","modified":"2019-01-01T00:00:00Z","pattern":"[domain-name:value = 'apache.org']","pattern_type":"stix","valid_from":"2019-01-01T00:00:00Z","valid_until":"2020-01-01T00:00:00Z"}]}"#).unwrap();
    let r = run(&["-r", &http_connect(), "-f", s(&expired)]);
    assert!(r.alerts().is_empty());
    assert!(r.stderr.contains("expired indicator"), "{}", r.stderr);

    let f = feed(dir.path(), "f.txt", &["apache.org", "151.101.2.132"]);
    let allow = feed(dir.path(), "allow.txt", &["apache.org"]);
    let r = run(&["-r", &http_connect(), "-f", s(&f), "--allow", s(&allow)]);
    let indicators: Vec<String> = alert_keys(&r).into_iter().map(|k| k.0).collect();
    assert!(
        !indicators.iter().any(|i| i == "apache.org"),
        "allow-listed: {indicators:?}"
    );
    assert!(
        indicators.iter().any(|i| i == "151.101.2.132"),
        "the address still alerts: {indicators:?}"
    );
    assert!(r.stderr.contains("allow-listed"), "{}", r.stderr);
}

/// Append the records of a little-endian Ethernet pcap (header stripped) to a stream.
fn records(name: &str) -> Vec<u8> {
    std::fs::read(capture(name)).unwrap()[24..].to_vec()
}

fn wait_for(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_feed_replaced_under_a_running_capture_is_picked_up_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = feed(dir.path(), "live.txt", &["apache.org"]);
    let eve = dir.path().join("eve.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ioc-sensor"))
        .args(["-q", "-r", "-", "-f", s(&f), "-o", s(&eve)])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut messages = Vec::new();
    let mut stdin = child.stdin.take().unwrap();
    let alerts_for = |indicator: &str| -> usize {
        let text = std::fs::read_to_string(&eve).unwrap_or_default();
        parse_eve(whole_lines(&text))
            .iter()
            .filter(|r| {
                r["event_type"] == "alert" && r["alert"]["context"]["indicator"] == indicator
            })
            .count()
    };

    // 1. The first feed: apache.org in the first capture.
    stdin
        .write_all(&std::fs::read(capture("ndpi__http_connect.pcap")).unwrap())
        .unwrap();
    stdin.flush().unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || alerts_for("apache.org") > 0),
        "alert before the reload"
    );

    // 2. Replace the feed atomically (write, then rename over it): apple.com instead.
    let tmp = dir.path().join("live.txt.tmp");
    std::fs::write(&tmp, "apple.com\n").unwrap();
    std::fs::rename(&tmp, &f).unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || {
            messages.extend(rx.try_iter());
            messages.iter().any(|m| m.contains("feeds reloaded"))
        }),
        "reload announced: {messages:?}"
    );
    stdin
        .write_all(&records("ndpi__dns_ambiguous_names.pcap"))
        .unwrap();
    stdin.flush().unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || alerts_for("apple.com") > 0),
        "alert from the new feed"
    );

    // 3. A half-written feed (now empty) is refused: apple.com keeps alerting.
    std::fs::write(&f, "").unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || {
            messages.extend(rx.try_iter());
            messages.iter().any(|m| m.contains("feed reload failed"))
        }),
        "refusal announced: {messages:?}"
    );
    let before = alerts_for("apple.com");
    stdin.write_all(&records("ndpi__iphone.pcap")).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(
        alerts_for("apple.com") > before,
        "the previous indicators were kept"
    );
    assert_eq!(alerts_for("apache.org"), alerts_for("apache.org"), "stable");
}

#[test]
fn a_sealed_feed_hides_its_values_and_raises_the_same_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sensor.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let plain = Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds/uac-0063.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_ioc-sensor"))
        .args(["feeds", "seal", "--key-file", s(&key), s(&plain)])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sealed_text = String::from_utf8(out.stdout).unwrap();
    let sealed = dir.path().join("sealed.feed");
    std::fs::write(&sealed, &sealed_text).unwrap();
    // None of the values is in the sealed feed, in any form the loaders accept.
    for line in std::fs::read_to_string(&plain)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let bare = line.trim().trim_start_matches("http://");
        assert!(
            !sealed_text.contains(bare),
            "{bare} is readable in the sealed feed"
        );
    }
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/office-day.pcap");
    let with_plain = run(&["-q", "-r", s(&sample), "-f", s(&plain)]);
    let with_sealed = run(&[
        "-q",
        "-r",
        s(&sample),
        "-f",
        s(&sealed),
        "--key-file",
        s(&key),
    ]);
    assert!(!with_plain.alerts().is_empty());
    assert_eq!(
        alert_keys(&with_plain),
        alert_keys(&with_sealed),
        "same alerts from the sealed copy"
    );
    for a in with_sealed.alerts() {
        assert!(
            a["alert"]["context"]["id"]
                .as_str()
                .unwrap()
                .starts_with("ioc-"),
            "opaque id: {a}"
        );
        assert_eq!(a["alert"]["metadata"]["campaign"][0], "UAC-0063");
    }
    // Another key: a clear refusal, not silence.
    let other = dir.path().join("other.key");
    std::fs::write(&other, [9u8; 32]).unwrap();
    let r = run(&[
        "-q",
        "-r",
        s(&sample),
        "-f",
        s(&sealed),
        "--key-file",
        s(&other),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("sealed with another key"), "{}", r.stderr);
    let r = run(&["-q", "-r", s(&sample), "-f", s(&sealed)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--key-file"), "{}", r.stderr);
}
