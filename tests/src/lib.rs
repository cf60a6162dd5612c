//! Cross-crate integration tests of the Cascade workspace.
//!
//! The ledger core's own tests live in `core/tests/`. This crate holds the tests that drive
//! several crates together, starting with the replicated network: [`net`] is a process
//! harness for CometBFT networks of Cascade nodes (each validator's application and
//! CometBFT are separate child processes that can be killed on their own), and
//! [`workload`] signs and submits ledger transactions with client-side nonces. [`load`]
//! keeps a lifecycle load running in the background while nodes die, [`proxy`] cuts a
//! node's peer links (a network partition on loopback), and [`bench`](mod@bench) measures committed
//! throughput and latency for the `cascade-net-bench` and `cascade-soak` commands. The
//! tests themselves are in `tests/` (`network.rs`, `byzantine.rs`, …).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod batch;
pub mod bench;
pub mod load;
pub mod net;
pub mod proxy;
pub mod workload;

/// Environment switch of `cascade-test-node` (value `1`) that makes it a Byzantine
/// proposer: see `src/bin/cascade_test_node.rs`.
pub const BYZANTINE_PROPOSER_ENV: &str = "CASCADE_TEST_BYZANTINE_PROPOSER";

/// The garbage transaction a Byzantine proposer adds to its proposal at `height` (so the
/// tests can look for it in committed blocks).
pub fn byzantine_garbage(height: u64) -> Vec<u8> {
    format!("cascade-test-byzantine/{height}").into_bytes()
}
