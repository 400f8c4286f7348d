//! The flow table under a flood: a full table ends the flows idle the longest, writes what
//! they hold (address alerts waiting for the flow's application layer), keeps active flows,
//! and loses no alert; a flood read from a file (its packets held back for their flows to be
//! asked for ahead) gives the records it gives read as a stream.

mod common;

use common::{
    dns_query_frame, feed, ipv4_fragment_frame, pcap_of, run, run_with_stdin, tcp_syn_frame,
    udp_datagram,
};

/// 6 000 one-packet flows, 1 ms apart, through a table of 1 024 flows per worker: DNS queries,
/// every 500th for a listed name, and every 500th flow a lone TCP SYN to a listed address,
/// whose alert waits for an application layer that never comes and is written when the flow
/// is ended. One more flow (the same client port throughout) asks for another listed name
/// every 10 packets and so is never the longest idle.
#[test]
fn a_full_table_ends_idle_flows_keeps_active_ones_and_loses_no_alert() {
    let dir = tempfile::tempdir().unwrap();
    let beacon_port = 9;
    let mut frames = Vec::new();
    for n in 0..6_000u64 {
        let port = 10_000 + n as u16;
        let frame = match n % 500 {
            250 => dns_query_frame(port, "c2.evil.example"),
            100 => tcp_syn_frame(port, [192, 0, 2, 80], 443),
            _ => dns_query_frame(port, "www.example.org"),
        };
        frames.push((1_700_000_000_000_000 + n * 1_000, frame));
        if n % 10 == 0 {
            let beacon = dns_query_frame(beacon_port, "beacon.evil.test");
            frames.push((1_700_000_000_000_000 + n * 1_000 + 500, beacon));
        }
    }
    let pcap = dir.path().join("flood.pcap");
    std::fs::write(&pcap, pcap_of(&frames)).unwrap();
    let feed = feed(
        dir.path(),
        "feed.txt",
        &["c2.evil.example", "beacon.evil.test", "192.0.2.80"],
    );
    let (pcap, feed) = (pcap.to_str().unwrap(), feed.to_str().unwrap());
    for workers in ["1", "2"] {
        let args = [
            "-r",
            pcap,
            "-f",
            feed,
            "--events",
            "flow",
            "--max-flows",
            "1024",
            "--workers",
            workers,
        ];
        let out = run(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let alerts = out.alerts();
        let names: Vec<&str> = alerts
            .iter()
            .map(|a| {
                a["dns"]["queries"][0]["rrname"]
                    .as_str()
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            names.iter().filter(|n| **n == "c2.evil.example").count(),
            12,
            "every flood flow that asked for the listed name alerted ({workers} workers)"
        );
        assert_eq!(
            names.iter().filter(|n| **n == "beacon.evil.test").count(),
            1,
            "the active flow was never ended, so it alerted once ({workers} workers)"
        );
        let forced = out
            .records
            .iter()
            .filter(|r| r["event_type"] == "flow" && r["flow"]["reason"] == "forced")
            .count();
        let address_alerts = alerts
            .iter()
            .filter(|a| a["alert"]["context"]["indicator"] == "192.0.2.80");
        assert_eq!(
            address_alerts.clone().count(),
            12,
            "every SYN to the listed address alerted ({workers} workers)"
        );
        // Each address alert's flow ended early or at the end of input; those of the SYNs
        // sent more than 2 048 flows before the end (at most 2 × 1 024 are held) early.
        for alert in address_alerts {
            let ended_as = out
                .records
                .iter()
                .find(|r| r["event_type"] == "flow" && r["flow_id"] == alert["flow_id"])
                .map(|r| r["flow"]["reason"].as_str().unwrap_or_default());
            let early = alert["src_port"].as_u64().unwrap() <= 10_000 + 6_000 - 2 * 1024;
            let want: &[&str] = if early {
                &["forced"]
            } else {
                &["forced", "shutdown"]
            };
            assert!(
                ended_as.is_some_and(|r| want.contains(&r)),
                "{alert}: flow ended as {ended_as:?}"
            );
        }
        let ended: usize = out
            .stderr
            .split("flows ended early (table full) ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no evictions reported: {}", out.stderr));
        assert!(ended >= 6_001 - 2 * 1024, "{ended} flows ended early");
        assert_eq!(forced, ended, "each flow ended early has its flow record");
        let flows = out
            .records
            .iter()
            .filter(|r| r["event_type"] == "flow")
            .count();
        assert_eq!(flows, 6_001, "every flow has exactly one record");
    }
}

/// An Ethernet frame carrying a TCP segment from 10.0.0.1:`src_port` to 192.0.2.80:80.
fn tcp_frame(src_port: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&src_port.to_be_bytes());
    tcp.extend_from_slice(&80u16.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    ipv4_fragment_frame(6, [192, 0, 2, 80], (0, 0, false), &tcp)
}

/// A flood that opens a flow every packet or two, read from the file (the workers read it
/// themselves and, as flows come this fast, hold packets back while the memory of their flows
/// is asked for: src/pipeline/lookahead.rs) and from standard input (a capture thread reads
/// it and hands the workers their packets, none held back): the same records, with 1 and 2
/// workers. 40 000 packets: DNS queries from new ports (every 97th for a listed
/// name, every 1 009th split into two IP fragments), 64 TCP connections at a time sending
/// SYN, an HTTP request (every 50th to a listed host) and FIN, interleaved, and every 499th
/// frame one that does not decode.
#[test]
fn a_flood_read_from_a_file_gives_the_records_of_a_stream() {
    const SYN: u8 = 0x02;
    const ACK_PSH: u8 = 0x18;
    const FIN_ACK: u8 = 0x11;
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    let (mut listed_names, mut listed_hosts) = (0, 0);
    let mut push = |frame: Vec<u8>| {
        let ts = 1_700_000_000_000_000 + frames.len() as u64 * 100;
        frames.push((ts, frame));
    };
    for n in 0..13_000u32 {
        let port = 1024 + (n % 60_000) as u16;
        match n {
            n if n % 1_009 == 0 => {
                let query = dns_query_frame(port, "frag.evil.example");
                let udp = udp_datagram(port, 53, &query[14 + 20 + 8..]);
                let id = n as u16;
                push(ipv4_fragment_frame(
                    17,
                    [192, 0, 2, 53],
                    (id, 0, true),
                    &udp[..16],
                ));
                push(ipv4_fragment_frame(
                    17,
                    [192, 0, 2, 53],
                    (id, 2, false),
                    &udp[16..],
                ));
            }
            n if n % 97 == 0 => {
                listed_names += 1;
                push(dns_query_frame(port, "c2.evil.example"));
            }
            n if n % 499 == 0 => push(vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06]),
            _ => push(dns_query_frame(port, "www.example.org")),
        }
        // TCP connection `c` (client port 40 000 + c): SYN at step 3c, request at 3c + 64,
        // FIN at 3c + 128 — 64 connections open at any time.
        let step = n as i64;
        for (phase, offset) in [(0, 0), (1, 64), (2, 128)] {
            let c = step - offset;
            if c < 0 || c % 3 != 0 || c / 3 >= 4_000 {
                continue;
            }
            let c = (c / 3) as u16;
            let port = 40_000 + c;
            let host = if c % 50 == 7 {
                "c2.evil.example"
            } else {
                "www.example.org"
            };
            let request = format!("GET /{c} HTTP/1.1\r\nHost: {host}\r\n\r\n");
            match phase {
                0 => push(tcp_frame(port, 1000, SYN, &[])),
                1 => {
                    listed_hosts += u32::from(host.starts_with("c2"));
                    push(tcp_frame(port, 1001, ACK_PSH, request.as_bytes()))
                }
                _ => push(tcp_frame(port, 1001 + request.len() as u32, FIN_ACK, &[])),
            }
        }
    }
    assert!(frames.len() > 20_000);
    let bytes = pcap_of(&frames);
    let pcap = dir.path().join("flood.pcap");
    std::fs::write(&pcap, &bytes).unwrap();
    let feed = feed(
        dir.path(),
        "feed.txt",
        &["c2.evil.example", "frag.evil.example"],
    );
    let (pcap, feed) = (pcap.to_str().unwrap(), feed.to_str().unwrap());
    let records = |input: &str, workers: &str, stdin: Option<&[u8]>| {
        let args = [
            "-r",
            input,
            "-f",
            feed,
            "--events",
            "dns,http,flow,alert",
            "--workers",
            workers,
        ];
        let out = run_with_stdin(&args, stdin);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let mut lines: Vec<String> = out
            .records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                // Names the input: the file's name, or none for standard input.
                r.as_object_mut().unwrap().remove("pcap_filename");
                r.to_string()
            })
            .collect();
        lines.sort();
        (lines, out)
    };
    for workers in ["1", "2"] {
        let (from_file, out) = records(pcap, workers, None);
        let alerted = |indicator: &str, event: &str| {
            let alerts = out.alerts();
            alerts
                .iter()
                .filter(|a| {
                    a["alert"]["context"]["indicator"] == indicator && a.get(event).is_some()
                })
                .count()
        };
        assert_eq!(alerted("c2.evil.example", "dns"), listed_names);
        assert_eq!(alerted("c2.evil.example", "http"), listed_hosts as usize);
        assert_eq!(alerted("frag.evil.example", "dns"), 13);
        let (streamed, _) = records("-", workers, Some(&bytes));
        let first_difference = from_file.iter().zip(&streamed).find(|(f, s)| f != s);
        assert!(
            from_file.len() == streamed.len() && first_difference.is_none(),
            "{workers} workers: {} records against {}, first difference {first_difference:?}",
            from_file.len(),
            streamed.len()
        );
    }
}
