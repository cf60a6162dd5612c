//! Fuzz target `light`: see `cascade_fuzz::light`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cascade_fuzz::light::run(data));
