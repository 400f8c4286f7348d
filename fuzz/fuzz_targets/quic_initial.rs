#![no_main]
use ioc_sensor::proto::quic::QuicClientHello;
use libfuzzer_sys::fuzz_target;

// (len:2 datagram[len])*: the client datagrams of one flow.
fuzz_target!(|data: &[u8]| {
    let mut flow = QuicClientHello::default();
    for datagram in ioc_sensor_fuzz::chunks(data) {
        let _ = flow.datagram(datagram);
    }
});
