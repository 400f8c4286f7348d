#![no_main]
//! A worker's whole packet path (decode, defragmentation, flows, reassembly, parsers,
//! matching, EVE records, a full flow table) over a hostile packet sequence with hostile
//! packet times; asserts that every line written is one JSON object with the fields every EVE
//! record has.
use std::sync::{Arc, OnceLock};

use ioc_sensor::inspect::{EventTypes, Inspector, PacketRef};
use ioc_sensor::intel::reload::{Indicators, SharedIndicators};
use ioc_sensor::intel::{formats, set::IndicatorSetBuilder};
use ioc_sensor_fuzz::{carve_frames, LINKTYPES, TIME_STEPS_US};
use libfuzzer_sys::fuzz_target;

/// Indicators that nearly all traffic matches (every name under these top-level domains,
/// every address), so that every alert path runs, plus a URL and an `IP:port`.
const FEED: &str = "com\nnet\norg\narpa\nlocal\nio\n0.0.0.0/1\n128.0.0.0/1\n::/1\n8000::/1\n\
                    10.0.0.1:53\nhttp://example.com/index.html\n";

fn indicators() -> Arc<SharedIndicators> {
    static SHARED: OnceLock<Arc<SharedIndicators>> = OnceLock::new();
    Arc::clone(SHARED.get_or_init(|| {
        let (mut builder, mut errors) = (IndicatorSetBuilder::new(), Vec::new());
        let _ = formats::load("feed.txt", FEED.as_bytes(), &mut builder, &mut errors);
        assert!(errors.is_empty(), "harness feed: {errors:?}");
        let set = Arc::new(builder.build());
        Arc::new(SharedIndicators::new(Indicators { set, allow: None }))
    }))
}

fuzz_target!(|data: &[u8]| {
    let all = EventTypes {
        dns: true,
        tls: true,
        http: true,
        quic: true,
        flow: true,
    };
    // A limit of 0 is the floor: 8 flows in fuzzing builds, so inputs fill the table and
    // flows are ended early (with their pending alerts and TCP state) as under a flood.
    let mut inspector = Inspector::new(indicators(), all, 1, 0);
    let mut ts_us = 1_700_000_000_000_000i64;
    for f in carve_frames(data) {
        ts_us = ts_us.saturating_add(TIME_STEPS_US[usize::from(f.step)]);
        inspector.packet(PacketRef {
            ts_us,
            linktype: LINKTYPES[usize::from(f.link)],
            data: f.frame,
            file: None,
        });
    }
    inspector.finish(None);
    let mut out = Vec::new();
    let lines = inspector.take_output(&mut out);
    let mut seen = 0;
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let record: serde_json::Value = serde_json::from_slice(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(line)));
        for field in [
            "timestamp",
            "event_type",
            "src_ip",
            "dest_ip",
            "proto",
            "flow_id",
        ] {
            assert!(record.get(field).is_some(), "no {field}: {record}");
        }
        seen += 1;
    }
    assert_eq!(seen, lines, "line count");
});
