#![no_main]
use ioc_sensor::proto::quic::QuicClientHello;
use libfuzzer_sys::fuzz_target;

// Initial payloads sealed with the real keys, so frames, CRYPTO reassembly and the
// ClientHello are reached (random bytes never pass the AEAD tag).
fuzz_target!(|data: &[u8]| {
    let Some(q) = ioc_sensor_fuzz::carve_quic_frames(data) else {
        return;
    };
    let mut flow = QuicClientHello::default();
    for (pn, plain) in ioc_sensor_fuzz::chunks(q.rest).enumerate() {
        let packet = ioc_sensor_fuzz::seal_initial(q.version, q.dcid, pn as u32, q.pn_len, plain);
        let _ = flow.datagram(&packet);
    }
});
