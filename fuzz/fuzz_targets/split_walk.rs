#![no_main]
use libfuzzer_sys::fuzz_target;

// The input as a capture file shared out between workers by the split walk (chunks of 40, 333
// and 4 096 bytes; 1 to 3 workers): every packet one reader finds reaches exactly one worker,
// with its link type and time, in file order, and the file ends the same way.
fuzz_target!(|data: &[u8]| {
    ioc_sensor::pipeline::split_agrees_with_one_reader(data);
});
