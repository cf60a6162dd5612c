//! Cross-crate integration tests of the Cascade workspace.
//!
//! The ledger core's own tests live in `core/tests/`; this crate will hold the tests that
//! drive several crates together (the replicated network, the wallet, the bindings) as
//! those land.
