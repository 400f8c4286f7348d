#![no_main]
use ioc_sensor::intel::{formats, set::IndicatorSetBuilder};
use libfuzzer_sys::fuzz_target;

// First byte picks the file name (it decides Suricata datasets), the rest is the file.
fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let path = ioc_sensor_fuzz::FEED_PATHS[usize::from(pick) % ioc_sensor_fuzz::FEED_PATHS.len()];
    let (mut builder, mut errors) = (IndicatorSetBuilder::new(), Vec::new());
    let _ = formats::load(path, bytes, &mut builder, &mut errors);
    let _ = builder.build();
});
