//! Fuzz target `abci`: see `cascade_fuzz::abci`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cascade_fuzz::abci::run(data));
