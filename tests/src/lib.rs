//! Cross-crate integration tests of the Cascade workspace.
//!
//! The ledger core's own tests live in `core/tests/`. This crate holds the tests that drive
//! several crates together, starting with the replicated network: [`net`] is a process
//! harness for CometBFT networks of Cascade nodes (each validator's application and
//! CometBFT are separate child processes that can be killed on their own), and
//! [`workload`] signs and submits ledger transactions with client-side nonces. The tests
//! themselves are in `tests/network.rs`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod net;
pub mod workload;
