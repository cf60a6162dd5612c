//! Harnesses of the cascade-core fuzz targets (`fuzz_targets/*.rs` only call `run`).
//!
//! Every harness starts from the adversarial corpus's world (`core/tests/adversarial/
//! cases.rs`, shared by path so the fuzzers explore the states the corpus documents) and
//! checks invariants, not just the absence of panics:
//! - [`tx`]: decoding accepts only canonical bytes; a rejected transaction changes no state
//!   and never reports a storage error; execution is deterministic;
//! - [`abci`]: two applications fed the same requests answer identically; a third that
//!   validates the first's proposals accepts every one; every query answer verifies
//!   against the committed app hash;
//! - [`proof`]: a proof that verifies against the real app hash states the truth;
//! - [`light`]: the light client never trusts a header other than the genuine one.
#![forbid(unsafe_code)]

#[path = "../../core/tests/adversarial/cases.rs"]
pub mod cases;
#[path = "../../core/tests/adversarial/fuzz_inputs.rs"]
pub mod inputs;

pub mod abci;
pub mod light;
pub mod proof;
pub mod requests;
pub mod tx;

/// Lets the one known upstream panic unwind into the library's containment instead of
/// aborting the fuzzer.
///
/// `subtle-encoding` 0.5.1 (the tendermint types' base64 decoder) panics on malformed
/// strings such as `"="`. The library parses outside JSON with
/// `wallet::transport::decode_json`, which catches that panic and returns an error
/// (regression tests: `core/tests/fuzz_regressions.rs`). libFuzzer's panic hook aborts on
/// every panic before it can be caught, so this hook passes panics raised inside
/// `subtle-encoding` on to the unwinder and every other panic to libFuzzer's hook (a crash).
pub fn contain_known_upstream_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let upstream = info
                .location()
                .is_some_and(|l| l.file().contains("/subtle-encoding-"));
            if !upstream {
                abort(info);
            }
        }));
    });
}
