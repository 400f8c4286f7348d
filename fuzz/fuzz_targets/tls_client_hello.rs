#![no_main]
use ioc_sensor::proto::tls;
use libfuzzer_sys::fuzz_target;

// The input as the start of a TCP stream (records), and as a bare handshake body, whose
// extensions the hand walk reads as tls-parser does wherever tls-parser reads them all.
fuzz_target!(|data: &[u8]| {
    let _ = tls::client_hello_in_stream(data, &mut Vec::new());
    let hand = tls::client_hello_body(data);
    let reference = tls::client_hello_body_reference(data);
    if let (Some(hand), Some(reference)) = (hand, reference) {
        // tls-parser stops at the first extension it cannot read; the walk passes over it.
        // Equal counts under the cap mean tls-parser read every extension.
        let count = hand.extensions().len();
        if count == reference.extensions().len() && count < tls::MAX_EXTENSIONS {
            assert_eq!(hand, reference);
        }
    } else {
        assert_eq!(hand.is_some(), reference.is_some());
    }
});
