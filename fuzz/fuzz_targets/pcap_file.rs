#![no_main]
use ioc_sensor::capture::parser::{Next, Parser};
use ioc_sensor::capture::{self, Filter, InputFile, RawPacket, ReadEnd};
use libfuzzer_sys::fuzz_target;
use std::ops::ControlFlow::Continue;

// The input as a capture file, read as `-r file` does (capture::mapped, through a temp file)
// and as `-r -` does (capture::stream, in reads of
// about an eighth of the file, the last byte moving the cuts); both must deliver the same packets.
// And the pcapng packet blocks read by hand must read as pcap-parser reads them.
fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("ioc-sensor-fuzz-{}.pcap", std::process::id()));
    std::fs::write(&path, data).expect("temp file");
    let input = InputFile {
        path: path.clone(),
        name: "fuzz.pcap".into(),
        size: Some(data.len() as u64),
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let keep = |out: &mut Vec<_>, p: RawPacket<'_>| {
        out.push((p.ts_us, p.linktype, p.data.to_vec(), p.wire_len))
    };
    let end_a = capture::read_file(
        &input,
        &mut Filter::none(),
        || Continue(()),
        |p| {
            let _ = ioc_sensor::decode::decode(p.linktype, p.data);
            keep(&mut a, p);
            Continue(())
        },
    );
    let _ = std::fs::remove_file(&path);
    let step = 1 + data.len() / 8 + usize::from(data.last().map_or(0, |b| b % 64));
    let reader = ioc_sensor_fuzz::Trickle::new(data, step);
    let end_b = capture::stream::read(
        Box::new(reader),
        &mut Filter::none(),
        || Continue(()),
        |p| {
            keep(&mut b, p);
            Continue(())
        },
    );
    assert_eq!(
        end_a.is_err(),
        end_b.is_err(),
        "one reader says no capture: {end_a:?} / {end_b:?}"
    );
    // Record by record, the hand-read pcapng packet blocks must read as pcap-parser reads them.
    let (mut ours, mut theirs) = (Parser::default(), Parser::default());
    let mut at = 0;
    while at < data.len() {
        let (x, y) = (ours.next(&data[at..]), theirs.next_reference(&data[at..]));
        assert_eq!(format!("{x:?}"), format!("{y:?}"), "at {at}");
        match x {
            Next::Packet(_, used) | Next::Skip(used) => at += used,
            _ => break,
        }
    }
    if let (Ok(end_a), Ok(end_b)) = (end_a, end_b) {
        assert_eq!(a, b, "file and stream readers deliver different packets");
        assert_eq!(
            end_a == ReadEnd::Complete,
            end_b == ReadEnd::Complete,
            "{end_a:?} / {end_b:?}"
        );
    }
});
