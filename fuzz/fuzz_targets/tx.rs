//! Fuzz target `tx`: see `cascade_fuzz::tx`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cascade_fuzz::tx::run(data));
