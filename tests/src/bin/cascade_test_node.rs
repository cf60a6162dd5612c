//! `cascade-node` under another name, for the network tests (see `Cargo.toml`).
//!
//! It is the same command line (`cascade_node::cli`), with one test-only switch that the
//! production binary does not have:
//!
//! - `CASCADE_TEST_BYZANTINE_PROPOSER=1` in the environment of `start` makes the node a
//!   **Byzantine proposer**: every block it proposes gets two invalid transactions (a
//!   forged copy of its first transaction, one signature bit flipped, and a garbage
//!   transaction `cascade-test-byzantine/<height>`), and the node votes for its own
//!   tampered proposals. Honest validators must reject them in `ProcessProposal`.
#![forbid(unsafe_code)]

use cascade_tests::BYZANTINE_PROPOSER_ENV;
use std::sync::Arc;

/// Adds the invalid transactions to a proposal at `height`.
fn byzantine_proposal(height: u64, mut txs: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    if let Some(first) = txs.first() {
        let mut forged = first.clone();
        // Inside the signature's r (the last 64 bytes are r then s): a bad signature.
        let at = forged.len().saturating_sub(60);
        if let Some(byte) = forged.get_mut(at) {
            *byte ^= 1;
        }
        txs.insert(0, forged);
    }
    txs.push(cascade_tests::byzantine_garbage(height));
    txs
}

fn main() -> std::process::ExitCode {
    let mut hooks = cascade_node::cli::TestHooks::default();
    if std::env::var_os(BYZANTINE_PROPOSER_ENV).is_some_and(|v| v == "1") {
        hooks.proposal_tamper = Some(Arc::new(byzantine_proposal));
    }
    cascade_node::cli::main_with_test_hooks(hooks)
}
