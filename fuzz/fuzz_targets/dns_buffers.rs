#![no_main]
use ioc_sensor::proto::dns::{self, Name, NameBuffers, RData, Visitor};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

#[derive(Default, Debug, PartialEq)]
struct Seen(Vec<(Vec<u8>, bool, u16, Option<Vec<u8>>)>);
impl Visitor for Seen {
    fn question(&mut self, n: &Name, t: u16) {
        self.0.push((n.as_bytes().to_vec(), n.truncated, t, None))
    }
    fn answer(&mut self, n: &Name, t: u16, _: u32, d: RData<'_>) {
        let d = match d {
            RData::Name(d) => Some(d.as_bytes().to_vec()),
            _ => None,
        };
        self.0.push((n.as_bytes().to_vec(), n.truncated, t, d));
    }
}

thread_local!(static KEPT: RefCell<NameBuffers> = RefCell::default());

// parse_with on buffers kept from earlier inputs (as a worker keeps them) = parse on fresh ones.
fuzz_target!(|data: &[u8]| {
    let (mut fresh, mut kept) = (Seen::default(), Seen::default());
    let a = dns::parse(data, &mut fresh);
    let b = KEPT.with(|k| dns::parse_with(data, &mut kept, &mut k.borrow_mut()));
    assert_eq!((a, fresh), (b, kept));
});
