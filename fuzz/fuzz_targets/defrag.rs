#![no_main]
use ioc_sensor::decode::{
    decode,
    defrag::{Defragmenter, Fragment},
    link::linktype::RAW,
};
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;

// (ctl:1 offset:2 len:2 payload)*: see src/lib.rs. Whole and given-up datagrams are decoded,
// as the capture thread does.
fuzz_target!(|data: &[u8]| {
    let (mut d, mut ts) = (Defragmenter::default(), 1_700_000_000_000_000i64);
    for f in ioc_sensor_fuzz::carve_fragments(data) {
        ts += f.advance_us;
        let (src, dst): (IpAddr, IpAddr) = if f.v6 {
            (
                [0xfe80, 0, 0, 0, 0, 0, 0, 1].into(),
                [0xfe80, 0, 0, 0, 0, 0, 0, 2].into(),
            )
        } else {
            ([10, 0, 0, 1].into(), [10, 0, 0, 2].into())
        };
        let frag = Fragment {
            id: f.id,
            offset: f.offset,
            more: f.more,
            payload: f.payload,
        };
        if let Some(whole) = d.add(ts, src, dst, 17, &frag) {
            let _ = decode(RAW, whole);
        }
        for (_, partial) in d.take_expired() {
            let _ = decode(RAW, &partial);
        }
    }
    d.drain(|_, partial| {
        let _ = decode(RAW, partial);
    });
});
