//! End to end over the shared corpus: every DNS query name, TLS SNI and HTTP host that tshark
//! (an independent decoder) finds in any capture — tunnels, fragments and damaged files
//! included — the sensor finds too; every record validates against Suricata's EVE schema; indicators taken
//! from captures raise alerts; the number of workers does not change the alerts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn strings(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A wire-format name (hex) as raw bytes with dots between labels.
fn wire_name(hex: &str) -> Vec<u8> {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() && bytes[pos] != 0 && bytes[pos] < 64 {
        let len = bytes[pos] as usize;
        if !out.is_empty() {
            out.push(b'.');
        }
        out.extend_from_slice(&bytes[pos + 1..(pos + 1 + len).min(bytes.len())]);
        pos += 1 + len;
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// tshark's display form of a name to its bytes: C escapes (`\t`, `\r`, …) and octal
/// `\ooo` for other non-printable bytes; any other backslash is itself.
fn tshark_unescape(name: &str) -> Vec<u8> {
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], b.get(i + 1), octal) {
            (b'\\', _, Some(d)) => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            (b'\\', Some(c), _) if b"abfnrtv".contains(c) => {
                out.push(match c {
                    b'a' => 7,
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => 10,
                    b'r' => 13,
                    b't' => 9,
                    _ => 11,
                });
                i += 2;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[derive(Default)]
struct Seen {
    dns: BTreeSet<Vec<u8>>,
    tls: BTreeSet<String>,
    http: BTreeSet<String>,
}

fn names_seen(run: &Run) -> Seen {
    let mut seen = Seen::default();
    for r in &run.records {
        for q in r["dns"]["queries"].as_array().into_iter().flatten() {
            let name = q["rrname"].as_str().unwrap();
            seen.dns.insert(if name == "<root>" {
                b".".to_vec()
            } else {
                unescape(name)
            });
        }
        if let Some(sni) = r["tls"]["sni"].as_str() {
            seen.tls.insert(sni.to_string());
        }
        if let Some(host) = r["http"]["hostname"].as_str() {
            seen.http.insert(host.to_string());
        }
    }
    seen
}

#[test]
fn every_name_tshark_finds_is_found() {
    let mut missing = Vec::new();
    let mut totals: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (cap, expected) in corpus_captures() {
        let file = cap.file_name().unwrap().to_string_lossy().to_string();
        let run = run(&[
            "-q",
            "-r",
            cap.to_str().unwrap(),
            "--events",
            "dns,tls,http",
        ]);
        assert!(run.code == 0, "{file}: exit {} {}", run.code, run.stderr);
        let seen = names_seen(&run);
        let mut want_dns: BTreeSet<Vec<u8>> = strings(&expected, "dns_queries")
            .into_iter()
            .filter(|n| !n.contains('\u{fffd}'))
            .map(|n| tshark_unescape(&n))
            .collect();
        want_dns.extend(
            strings(&expected, "dns_queries_wire_hex")
                .iter()
                .map(|h| wire_name(h)),
        );
        let checks: [(&str, Vec<String>, Vec<String>); 3] = [
            (
                "dns",
                want_dns
                    .iter()
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect(),
                want_dns
                    .iter()
                    .filter(|n| !seen.dns.contains(*n))
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect(),
            ),
            (
                "tls",
                strings(&expected, "tls_sni"),
                strings(&expected, "tls_sni")
                    .into_iter()
                    .filter(|n| !seen.tls.contains(n))
                    .collect(),
            ),
            (
                "http",
                strings(&expected, "http_hosts_port_stripped"),
                strings(&expected, "http_hosts_port_stripped")
                    .into_iter()
                    .filter(|n| !seen.http.contains(n))
                    .collect(),
            ),
        ];
        for (kind, want, miss) in checks {
            let t = totals.entry(kind).or_default();
            t.0 += want.len();
            t.1 += want.len() - miss.len();
            for m in miss {
                missing.push(format!("{file}: {kind} {m:?}"));
            }
        }
    }
    eprintln!("names found / names in the ground truth: {totals:?}");
    assert!(
        missing.is_empty(),
        "names tshark finds that the sensor missed:\n{}",
        missing.join("\n")
    );
}

#[test]
fn indicators_taken_from_captures_raise_alerts_at_each_location() {
    let dir = tempfile::tempdir().unwrap();
    // ndpi__http_connect.pcap: a DNS lookup of apache.org, a CONNECT apache.org:443 through a
    // proxy at 192.168.1.146:8080 and a TLS connection with SNI apache.org to 151.101.2.132.
    let f = feed(dir.path(), "t.txt", &["apache[.]org", "151.101.2.132"]);
    let run = run(&[
        "-q",
        "-r",
        capture("ndpi__http_connect.pcap").to_str().unwrap(),
        "-f",
        f.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let keys = alert_keys(&run);
    let sids: BTreeSet<u64> = keys.iter().map(|k| k.1).collect();
    assert!(sids.contains(&9_100_001), "dns query alert: {keys:?}");
    assert!(
        sids.contains(&9_100_002),
        "dns answer (A 151.101.2.132) alert: {keys:?}"
    );
    assert!(sids.contains(&9_100_003), "tls sni alert: {keys:?}");
    assert!(
        sids.contains(&9_100_005),
        "http connect target alert: {keys:?}"
    );
    assert!(sids.contains(&9_100_006), "flow address alert: {keys:?}");
    for a in run.alerts() {
        assert_eq!(a["alert"]["metadata"]["feed"][0], "t.txt");
        assert_eq!(a["alert"]["context"]["feed"], "t.txt");
        assert!(a["pcap_filename"]
            .as_str()
            .unwrap()
            .ends_with("ndpi__http_connect.pcap"));
        assert!(a["community_id"].as_str().unwrap().starts_with("1:"));
    }
    let tls = run
        .alerts()
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == 9_100_003)
        .unwrap();
    assert_eq!(tls["tls"]["sni"], "apache.org");
    assert_eq!(tls["app_proto"], "tls");
    assert_eq!(tls["alert"]["context"]["indicator"], "apache.org");
    let ip = run
        .alerts()
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == 9_100_006)
        .unwrap();
    assert_eq!(ip["dest_ip"], "151.101.2.132");
    assert_eq!(
        ip["app_proto"], "tls",
        "the address alert waits for the application layer"
    );
}

#[test]
fn a_subdomain_indicator_does_not_match_its_parent_and_one_alert_per_flow() {
    let dir = tempfile::tempdir().unwrap();
    // ndpi__iphone.pcap resolves many Apple names; pick one seen there and its parent domain.
    let run0 = run(&[
        "-q",
        "-r",
        capture("ndpi__iphone.pcap").to_str().unwrap(),
        "--events",
        "dns",
    ]);
    let name = run0
        .records
        .iter()
        .flat_map(|r| r["dns"]["queries"].as_array().cloned().unwrap_or_default())
        .map(|q| q["rrname"].as_str().unwrap().to_string())
        .find(|n| n.matches('.').count() >= 2 && n.is_ascii())
        .expect("a DNS name with 3 labels");
    let parent = name.split_once('.').unwrap().1.to_string();
    let f = feed(dir.path(), "t.txt", &[&format!("zz-not-there.{name}")]);
    let r = run(&[
        "-q",
        "-r",
        capture("ndpi__iphone.pcap").to_str().unwrap(),
        "-f",
        f.to_str().unwrap(),
    ]);
    assert!(r.alerts().is_empty(), "a deeper name must not match {name}");
    let f = feed(dir.path(), "t.txt", &[&parent]);
    let r = run(&[
        "-q",
        "-r",
        capture("ndpi__iphone.pcap").to_str().unwrap(),
        "-f",
        f.to_str().unwrap(),
    ]);
    assert!(!r.alerts().is_empty(), "{parent} covers {name}");
    let mut per_flow = BTreeMap::new();
    for a in r.alerts() {
        *per_flow
            .entry((
                a["flow_id"].as_u64().unwrap(),
                a["alert"]["signature_id"].as_u64().unwrap(),
                a["alert"]["context"]["indicator"].to_string(),
            ))
            .or_insert(0) += 1;
    }
    assert!(
        per_flow.values().all(|n| *n == 1),
        "one alert per flow, indicator and location: {per_flow:?}"
    );
}

/// A feed of every TLS SNI and HTTP host of the corpus, a few DNS names and addresses.
fn corpus_wide_feed(dir: &Path) -> PathBuf {
    let mut lines = BTreeSet::new();
    for (_, expected) in corpus_captures() {
        lines.extend(strings(&expected, "tls_sni"));
        lines.extend(
            strings(&expected, "http_hosts_port_stripped")
                .into_iter()
                .filter(|h| h.parse::<std::net::IpAddr>().is_err()),
        );
        lines.extend(
            strings(&expected, "dns_queries")
                .into_iter()
                .filter(|n| n.is_ascii() && n.contains('.') && !n.contains(' '))
                .take(3),
        );
    }
    lines.extend(["151.101.2.132".to_string(), "192.168.1.0/24".to_string()]);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    feed(dir, "many.txt", &lines)
}

#[test]
fn one_worker_and_four_workers_raise_the_same_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let f = corpus_wide_feed(dir.path());
    let args = |w: &'static str| vec!["-q", "-r", "CORPUS", "-f", "FEED", "--workers", w];
    let corpus = corpus();
    let go = |w: &'static str| {
        let a: Vec<String> = args(w)
            .into_iter()
            .map(|s| match s {
                "CORPUS" => corpus.to_str().unwrap().to_string(),
                "FEED" => f.to_str().unwrap().to_string(),
                other => other.to_string(),
            })
            .collect();
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let r = run(&a);
        let mut alerts: Vec<String> = r.alerts().iter().map(|v| v.to_string()).collect();
        alerts.sort();
        alerts
    };
    let one = go("1");
    let four = go("4");
    assert!(
        one.len() > 50,
        "the corpus raises many alerts with these indicators: {}",
        one.len()
    );
    assert_eq!(one, four);
}

/// One capture per encapsulation, link type and hard TCP case: a name tshark sees in it, fed
/// as an indicator, raises an alert at the expected location (and says which tunnel).
#[test]
fn every_encapsulation_and_tcp_case_raises_its_alert() {
    // (capture, ground-truth field or indicator, signature id, outer tunnel proto in the alert)
    let cases: &[(&str, &str, u64, Option<&str>)] = &[
        (
            "zeek__http-vlan-0.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "zeek__http-qinq-0.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "zeek__mpls-in-vlan.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "pcpp__MplsPackets.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        ("zeek__pppoe-over-qinq.pcap", "tls_sni", 9_100_003, None),
        (
            "sv__bug-5633-gre-02__gre-sample.pcap",
            "dns_queries",
            9_100_001,
            Some("GRE"),
        ),
        (
            "sv__bug-5437-02.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            Some("GRE"),
        ),
        ("zeek__erspan.pcap", "dns_queries", 9_100_001, Some("GRE")),
        (
            "sv__vxlan-decoder-03__vxlan.pcap",
            "dns_queries",
            9_100_001,
            Some("UDP"),
        ),
        (
            "zeek__tunnels__vxlan-encapsulated-http.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            Some("UDP"),
        ),
        (
            "zeek__tunnels__geneve-47101.pcap",
            "tls_sni",
            9_100_003,
            Some("UDP"),
        ),
        (
            "zeek__tunnels__geneve-many-options.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            Some("UDP"),
        ),
        (
            "zeek__tunnels__Teredo.pcap",
            "2001:4860:0:2001::68",
            9_100_006,
            Some("UDP"),
        ),
        ("ndpi__6in4tunnel.pcap", "tls_sni", 9_100_003, Some("IPv6")),
        (
            "pcpp__frag_http_req.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        ("pcpp__ip6_fragments.pcap", "dns_queries", 9_100_001, None),
        (
            "zeek__ipv6-fragmented-dns.pcap",
            "dns_queries",
            9_100_001,
            None,
        ),
        ("ndpi__KakaoTalk_chat.pcap", "tls_sni", 9_100_003, None),
        (
            "sv__decode-sll2-01.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "zeek__nflog-http.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "sv__http-ipv6.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "tcpdump__LINKTYPE_RAW_ipv4.pcap",
            "dns_queries",
            9_100_001,
            None,
        ),
        (
            "arkime__tcp-reassembly-synthetic.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "arkime__tls-split-client-hello.pcap",
            "tls_sni",
            9_100_003,
            None,
        ),
        ("ndpi__codm.pcap", "tls_sni", 9_100_003, None),
        (
            "zeek__http__get_nosyn.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "sv__alert-testmyids-midstream3.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "zeek__http__pipelined-requests.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "zeek__http__proxy.pcap",
            "http_hosts_port_stripped",
            9_100_005,
            None,
        ),
        (
            "zeek__http__connect-with-header.pcap",
            "tls_sni",
            9_100_003,
            None,
        ),
        (
            "sv__tcp-fastopen-11-reject-syn-data__tlpw-tcp-tfo-data-on-syn-nack.pcap",
            "tls_sni",
            9_100_003,
            None,
        ),
        (
            "sv__dns__dns-tcp-www-google-com__dns.pcap",
            "dns_queries",
            9_100_001,
            None,
        ),
        ("tcpdump__dns_tcp.pcap", "dns_queries", 9_100_001, None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (file, field, sid, tunnel) in cases {
        let expected: Value = serde_json::from_slice(
            &std::fs::read(
                corpus().join(
                    file.replace(".pcapng", ".expected.json")
                        .replace(".pcap", ".expected.json"),
                ),
            )
            .unwrap(),
        )
        .unwrap();
        let from_truth = strings(&expected, field)
            .into_iter()
            .find(|n| n.is_ascii() && !n.contains(' '));
        let Some(name) = (if expected.get(*field).is_some() {
            from_truth
        } else {
            Some(field.to_string())
        }) else {
            failures.push(format!("{file}: no usable {field} in the ground truth"));
            continue;
        };
        let f = feed(dir.path(), "case.txt", &[&name]);
        let r = run(&[
            "-q",
            "-r",
            capture(file).to_str().unwrap(),
            "-f",
            f.to_str().unwrap(),
        ]);
        let hit = r
            .alerts()
            .into_iter()
            .find(|a| a["alert"]["signature_id"] == *sid);
        match hit {
            None => failures.push(format!("{file}: no alert {sid} for {name}")),
            Some(a) => {
                if a["tunnel"]["proto"].as_str() != *tunnel {
                    failures.push(format!(
                        "{file}: tunnel {:?}, expected {tunnel:?}",
                        a["tunnel"]
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn encrypted_client_hello_is_said_in_the_tls_event_and_the_alert() {
    let cap = capture("ndpi__tls_ech.pcapng");
    let r = run(&["-q", "-r", cap.to_str().unwrap(), "--events", "tls"]);
    let ech: Vec<&Value> = r
        .records
        .iter()
        .filter(|e| {
            e["tls"]["client_handshake"]["exts"]
                .as_array()
                .is_some_and(|x| x.contains(&Value::from(0xfe0d)))
        })
        .collect();
    assert!(
        !ech.is_empty(),
        "a ClientHello with ECH (extension 65037) is in this capture"
    );
    let sni = ech[0]["tls"]["sni"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let f = feed(dir.path(), "t.txt", &[&sni]);
    let r = run(&["-q", "-r", cap.to_str().unwrap(), "-f", f.to_str().unwrap()]);
    let alert = r
        .alerts()
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == 9_100_003)
        .expect("SNI alert");
    assert_eq!(
        alert["alert"]["context"]["ech"], true,
        "the alert says the SNI is only the public name"
    );
}

/// With several workers, capture files are replayed by the workers themselves (each reads
/// every file and keeps its own flows); the run's counters must not change with that.
#[test]
fn the_summary_counts_the_same_with_any_number_of_workers() {
    let corpus = corpus();
    let summary = |w: &str| {
        let r = run(&[
            "-r",
            corpus.to_str().unwrap(),
            "-o",
            "/dev/null",
            "--workers",
            w,
        ]);
        // The throughput line holds times; every other line is counters.
        let lines: Vec<String> = r
            .stderr
            .lines()
            .filter(|l| !l.contains("Mbit/s"))
            .map(str::to_string)
            .collect();
        (r.code, lines)
    };
    let one = summary("1");
    assert!(
        one.1.iter().any(|l| l.contains("datagrams reassembled")),
        "the corpus has fragments: {one:?}"
    );
    assert_eq!(one, summary("3"));
}

/// A capture file is replayed by the workers themselves; the same bytes on standard input go
/// through the capture thread. Both shapes, with one worker and with three, give every capture
/// of the corpus the same alerts and the same counters.
#[test]
fn standard_input_and_files_give_the_same_alerts_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let f = corpus_wide_feed(dir.path());
    let counters = |r: &Run| -> Vec<String> {
        let lines = r.stderr.lines().filter(|l| l.starts_with("  "));
        lines.map(str::to_string).collect()
    };
    let alerts = |r: &Run| -> Vec<String> {
        let mut alerts: Vec<String> = (r.alerts().into_iter())
            .map(|a| {
                let mut a = a.clone();
                a.as_object_mut().unwrap().remove("pcap_filename");
                a.to_string()
            })
            .collect();
        alerts.sort();
        alerts
    };
    let mut alerted = 0;
    for (path, _) in corpus_captures() {
        let bytes = std::fs::read(&path).unwrap();
        let from_file = run(&["-r", path.to_str().unwrap(), "-f", f.to_str().unwrap()]);
        for workers in ["1", "3"] {
            let args = ["-r", "-", "-f", f.to_str().unwrap(), "--workers", workers];
            let from_stdin = run_with_stdin(&args, Some(&bytes));
            let what = format!("{} with {workers} worker(s)", path.display());
            assert_eq!(from_file.code, from_stdin.code, "{what}");
            assert_eq!(alerts(&from_file), alerts(&from_stdin), "{what}");
            assert_eq!(counters(&from_file), counters(&from_stdin), "{what}");
        }
        alerted += usize::from(!from_file.alerts().is_empty());
    }
    assert!(alerted > 20, "captures with alerts: {alerted}");
}

/// The hand-read IPv4 header (`decode`) gives exactly what etherparse's reading gives, and
/// the endpoints read the short way (`plain_endpoints`) are those the whole decode finds, on
/// every frame of the corpus, whole and cut every seventh byte from its end.
#[test]
fn hand_read_ip_headers_agree_with_etherparse() {
    use ioc_sensor::capture::{self, Filter, InputFile};
    use ioc_sensor::decode;
    let (mut frames, mut plain) = (0, 0);
    for (path, _) in corpus_captures() {
        let input = InputFile {
            name: path.display().to_string().into(),
            size: Some(std::fs::metadata(&path).unwrap().len()),
            path: path.clone(),
        };
        let _ = capture::read_file(
            &input,
            &mut Filter::none(),
            || std::ops::ControlFlow::Continue(()),
            |raw| {
                for cut in (0..=raw.data.len())
                    .rev()
                    .step_by(7)
                    .chain([raw.data.len()])
                {
                    let frame = &raw.data[..cut];
                    let decoded = decode::decode(raw.linktype, frame);
                    assert_eq!(
                        decoded,
                        decode::decode_reference(raw.linktype, frame),
                        "{} (cut at {cut})",
                        path.display()
                    );
                    if let Some(e) = decode::plain_endpoints(raw.linktype, frame) {
                        assert_eq!(
                            Some(e),
                            decode::endpoints_reference(raw.linktype, frame),
                            "{} (cut at {cut})",
                            path.display()
                        );
                        plain += 1;
                    }
                }
                frames += 1;
                std::ops::ControlFlow::Continue(())
            },
        );
    }
    assert!(frames > 5_000, "{frames}");
    // The short way was taken, and checked, more often than there are frames (on the cuts too).
    assert!(
        plain > frames,
        "{plain} plain frames and cuts, {frames} frames"
    );
}

/// The hand-read pcapng packet blocks give exactly what pcap-parser gives, block by block,
/// on every capture of the corpus, whole and with each block cut short (by one byte, by its
/// trailing length, and in half).
#[test]
fn hand_read_pcapng_blocks_agree_with_pcap_parser() {
    use ioc_sensor::capture::parser::{Next, Parser};
    let show = |next: &Next<'_>| match next {
        Next::Packet(p, used) => format!(
            "packet {} {} {:?} {} {used}",
            p.ts_us, p.linktype, p.data, p.wire_len
        ),
        other => format!("{other:?}"),
    };
    let (mut pcapng_files, mut pcapng_packets) = (0, 0);
    for (path, _) in corpus_captures() {
        let bytes = std::fs::read(&path).unwrap();
        if !bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
            continue;
        }
        pcapng_files += 1;
        let (mut ours, mut theirs) = (Parser::default(), Parser::default());
        let mut at = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            let (before, before_ref) = (ours.clone(), theirs.clone());
            let (a, b) = (ours.next(rest), theirs.next_reference(rest));
            assert_eq!(show(&a), show(&b), "{} at {at}", path.display());
            let used = match a {
                Next::Packet(_, used) => {
                    pcapng_packets += 1;
                    used
                }
                Next::Skip(used) => used,
                _ => break,
            };
            // The block cut short, read in the state before it: both must say so alike.
            for cut in [used - 1, used.saturating_sub(4), used / 2] {
                let cut = &rest[..cut];
                let (a, b) = (
                    before.clone().next(cut),
                    before_ref.clone().next_reference(cut),
                );
                assert_eq!(show(&a), show(&b), "{} at {at}, cut", path.display());
            }
            at += used;
        }
    }
    // The corpus's pcapng files hold 774 packet blocks without options, and others.
    assert!(
        pcapng_files >= 5 && pcapng_packets > 700,
        "{pcapng_files} pcapng files, {pcapng_packets} packets"
    );
}
