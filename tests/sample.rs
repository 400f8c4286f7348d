//! The shipped sample raises exactly the alerts samples/README.md lists, with the shipped feeds,
//! and every line is valid EVE.

mod common;

use std::path::Path;

use common::*;

/// Rows of the alert table in samples/README.md: (signature_id, location, indicator, src, dest, app_proto).
fn expected_alerts() -> Vec<Vec<String>> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/README.md"))
            .unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| 9"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn the_sample_raises_exactly_the_listed_alerts() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/office-day.pcap");
    let r = run(&["-q", "-r", sample.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut got: Vec<Vec<String>> = r
        .alerts()
        .iter()
        .map(|a| {
            vec![
                a["alert"]["signature_id"].to_string(),
                a["alert"]["context"]["location"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                a["alert"]["context"]["indicator"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                a["src_ip"].as_str().unwrap().to_string(),
                a["dest_ip"].as_str().unwrap().to_string(),
                a["app_proto"].as_str().unwrap_or("").to_string(),
            ]
        })
        .collect();
    let mut want = expected_alerts();
    assert_eq!(want.len(), 6, "the README's table");
    got.sort();
    want.sort();
    assert_eq!(got, want);
    for a in r.alerts() {
        assert_eq!(a["alert"]["metadata"]["campaign"][0], "UAC-0063");
        assert!(
            a["alert"]["context"]["references"]
                .as_array()
                .is_some_and(|r| !r.is_empty()),
            "references from the feed: {a}"
        );
    }
}

#[test]
fn one_worker_or_many_the_sample_gives_the_same_lines() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/office-day.pcap");
    let lines = |w: &str| {
        let r = run(&[
            "-q",
            "-r",
            sample.to_str().unwrap(),
            "--workers",
            w,
            "--events",
            "dns,tls,http,flow",
        ]);
        // A flow record says whether its flow ended by timeout or at the end of input: that
        // depends on when its worker last swept its table, so it is left out here.
        let mut l: Vec<String> = r
            .records
            .iter()
            .map(|v| {
                let mut v = v.clone();
                if let Some(flow) = v.get_mut("flow").and_then(|f| f.as_object_mut()) {
                    flow.remove("reason");
                }
                v.to_string()
            })
            .collect();
        l.sort();
        l
    };
    let one = lines("1");
    assert!(one.len() > 100);
    assert_eq!(
        one,
        lines("4"),
        "flow ids, times and records do not depend on the number of workers"
    );
}
