#![no_main]
use ioc_sensor::decode;
use libfuzzer_sys::fuzz_target;

// First byte picks the link type, the rest is the frame.
fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else { return };
    let links = &ioc_sensor_fuzz::LINKTYPES;
    let _ = decode::decode(links[usize::from(pick) % links.len()], frame);
});
