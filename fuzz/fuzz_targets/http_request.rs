#![no_main]
use ioc_sensor::proto::http;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let http::Parse::Request(req) = http::parse_request(data) {
        let _ = (
            req.target_authority().map(http::split_host_port),
            req.path(),
        );
    }
    if let Some(at) = http::find_request_start(data) {
        let _ = http::parse_request(&data[at..]);
    }
});
