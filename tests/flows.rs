//! The flow table under a flood: a full table ends the flows idle the longest, writes what
//! they hold (address alerts waiting for the flow's application layer), keeps active flows,
//! and loses no alert.

mod common;

use common::{dns_query_frame, feed, pcap_of, run, tcp_syn_frame};

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
