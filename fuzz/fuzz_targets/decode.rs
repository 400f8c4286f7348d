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
        assert_eq!(Some(e), decode::endpoints_reference(link, frame));
    }
});
