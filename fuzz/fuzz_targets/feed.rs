#![no_main]
use ioc_sensor::intel::normalize::{classify, plain_value, MAX_NAME_LEN};
use ioc_sensor::intel::{formats, set::IndicatorSetBuilder};
use libfuzzer_sys::fuzz_target;

// First byte picks the file name (it decides Suricata datasets), the rest is the file.
fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let path = ioc_sensor_fuzz::FEED_PATHS[usize::from(pick) % ioc_sensor_fuzz::FEED_PATHS.len()];
    let (mut builder, mut errors) = (IndicatorSetBuilder::new(), Vec::new());
    let _ = formats::load(path, bytes, &mut builder, &mut errors);
    let _ = builder.build();
    // Wherever the short way answers for a line, it answers what `classify` does.
    let mut name = [0u8; MAX_NAME_LEN];
    for line in bytes.split(|&b| b == b'\n') {
        let Some(plain) = plain_value(line, &mut name) else {
            continue;
        };
        let short = plain.indicator();
        let text = std::str::from_utf8(line).expect("the short way takes ASCII only");
        assert_eq!(Ok(short), classify(text.trim()), "{text:?}");
    }
});
