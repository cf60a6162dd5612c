//! Fuzz target `proof`: see `cascade_fuzz::proof`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cascade_fuzz::proof::run(data));
