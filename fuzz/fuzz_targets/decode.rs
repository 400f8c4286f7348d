#![no_main]
use ioc_sensor::decode;
use libfuzzer_sys::fuzz_target;

// First byte picks the link type, the rest is the frame. The hand-read IPv4 header must give
// exactly what etherparse's reading gives, and the endpoints read the short way those of the
// whole decode.
fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let links = &ioc_sensor_fuzz::LINKTYPES;
    let link = links[usize::from(pick) % links.len()];
    let decoded = decode::decode(link, frame);
    assert_eq!(decoded, decode::decode_reference(link, frame));
    if let Some(e) = decode::plain_endpoints(link, frame) {
        let p = decoded.expect("a plain frame decodes");
        assert!(matches!(
            p.transport,
            decode::Transport::Tcp { .. } | decode::Transport::Udp { .. }
        ));
        assert_eq!(
            (
                (e.src.0.into(), e.src.1),
                (e.dst.0.into(), e.dst.1),
                e.proto
            ),
            ((p.src, p.src_port), (p.dst, p.dst_port), p.proto)
        );
    }
});
