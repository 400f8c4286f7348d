#![no_main]
use ioc_sensor::proto::tls;
use libfuzzer_sys::fuzz_target;

// The input as the start of a TCP stream (records), and as a bare handshake body.
fuzz_target!(|data: &[u8]| {
    let _ = tls::client_hello_in_stream(data, &mut Vec::new());
    let _ = tls::client_hello_body(data);
});
