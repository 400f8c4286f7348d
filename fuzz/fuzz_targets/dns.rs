#![no_main]
use ioc_sensor::proto::dns::{self, Name, RData, Visitor};
use libfuzzer_sys::fuzz_target;

struct Nothing;
impl Visitor for Nothing {
    fn question(&mut self, _: &Name, _: u16) {}
    fn answer(&mut self, _: &Name, _: u16, _: u32, _: RData<'_>) {}
}

fuzz_target!(|data: &[u8]| {
    let _ = dns::parse(data, &mut Nothing);
});
