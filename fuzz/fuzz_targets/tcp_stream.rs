#![no_main]
use ioc_sensor::flow::{
    reassembly::{Delivery, Reassembly},
    stream::{Found, Stream},
};
use ioc_sensor::proto::{dns, http};
use libfuzzer_sys::fuzz_target;

// mode:1 (ctl:1 seq:4 len:2 payload)*: one direction, driven as inspect::tcp_segment does.
fuzz_target!(|data: &[u8]| {
    let (dns_port, segments) = ioc_sensor_fuzz::carve_segments(data);
    let (mut r, mut s, mut scratch) = (Reassembly::default(), Stream::default(), Vec::new());
    let mut found = |f: Found<'_>| match f {
        Found::Dns(msg) => {
            let _ = dns::read_header(msg);
        }
        Found::Tls(hello) => {
            let _ = (hello.sni, hello.extensions(), hello.version_name());
        }
        Found::Http(req) => {
            let _ = (
                req.target_authority().map(http::split_host_port),
                req.path(),
            );
        }
    };
    for seg in segments {
        let midstream = r.picks_up_midstream(seg.syn);
        r.segment(seg.seq, seg.syn, seg.payload, |d| match d {
            Delivery::Data(b) => s.data(b, dns_port, midstream, &mut scratch, &mut found),
            Delivery::Gap => s.gap(),
        });
        if !s.wants_data() {
            r.release();
            break;
        }
    }
});
