//! ABCI 2.0 requests as CometBFT v0.38 sends them, for driving [`App`] without a node.
//!
//! The application's tests, the adversarial corpus, the fuzz regressions and the fuzz
//! harnesses all feed [`App`] the same kinds of request. They live here once so that every
//! harness agrees on what a "normal" request is (CometBFT's default consensus parameters,
//! the fixture's one validator, a fixed proposer, blocks ten seconds apart) and so that a
//! change to the `tendermint` request types is made in one place.
//!
//! The builders return the request values, not the answers: each caller decides how to
//! treat an `Err` (unwrap it, compare it, expect it). A request field a test wants to vary
//! is set with struct-update syntax, e.g.
//! `request::FinalizeBlock { misbehavior, ..finalize_block(h, t, &txs) }`.
//!
//! Like the rest of the testkit these helpers panic on values no test means to pass (a time
//! outside CometBFT's range, a height above `i64::MAX`): they only ever see test inputs.

use super::{validator_key, GENESIS_TIME};
use crate::app::App;
use crate::crypto::Hash32;
use crate::ledger::Ledger;
use crate::solo::cometbft;
use crate::types::Genesis;
use bytes::Bytes;
use tendermint::abci::request;
use tendermint::abci::types::CommitInfo;
use tendermint::block::Height;

/// `max_tx_bytes` of the proposals built here: CometBFT's whole default block size, so the
/// application's own limits are the only ones in play.
pub const MAX_TX_BYTES: i64 = cometbft::MAX_BLOCK_BYTES;

/// The CometBFT version `Info` requests claim (the one `scripts/install-cometbft.sh` pins;
/// the application does not read it).
pub const COMETBFT_VERSION: &str = "0.38.26";

/// The power of the fixture's one validator, `validator-0`, in [`init_chain`].
pub const VALIDATOR_POWER: u32 = 10;

/// `secs` (Unix seconds) as CometBFT's time type.
pub fn time(secs: i64) -> tendermint::Time {
    tendermint::Time::from_unix_timestamp(secs, 0)
        .unwrap_or_else(|e| panic!("block time {secs} out of range: {e}"))
}

/// `h` as CometBFT's height type.
pub fn height(h: u64) -> Height {
    Height::try_from(h).unwrap_or_else(|e| panic!("height {h} out of range: {e}"))
}

/// Block time of height `h` on a fixture chain: ten seconds apart from the genesis time, so
/// the first 8,000 blocks all fall on the genesis day.
pub fn block_time(h: u64) -> i64 {
    let h = i64::try_from(h).unwrap_or_else(|_| panic!("height {h} out of range"));
    GENESIS_TIME + 10 * h
}

/// The address every proposal and decided block names as its proposer. The application
/// does not check it; a fixed value keeps requests byte-for-byte reproducible.
pub fn proposer() -> tendermint::account::Id {
    tendermint::account::Id::new([1; 20])
}

/// The app hash of a response as the ledger's type.
pub fn app_hash(hash: &tendermint::AppHash) -> Hash32 {
    let bytes: [u8; 32] = hash
        .as_bytes()
        .try_into()
        .unwrap_or_else(|_| panic!("app hash of {} bytes", hash.as_bytes().len()));
    Hash32(bytes)
}

/// CometBFT v0.38's default consensus parameters, as a node created by `cometbft init`
/// passes them (the solo chain's; the application does not read them).
pub fn consensus_params() -> tendermint::consensus::Params {
    cometbft::consensus_params()
}

/// A validator of the given power whose key is the fixture's [`validator_key`] of `seed`.
pub fn validator_update(seed: &str, power: u32) -> tendermint::validator::Update {
    let key = validator_key(seed);
    tendermint::validator::Update {
        pub_key: tendermint::PublicKey::from_raw_ed25519(&key.0)
            .unwrap_or_else(|| panic!("validator key of {seed:?} is not Ed25519")),
        power: power.into(),
    }
}

/// `InitChain` as CometBFT sends it for `genesis`: the genesis' own time and chain id,
/// initial height 1, and the fixture's one validator (`validator-0`, power
/// [`VALIDATOR_POWER`], which the fixture's genesis also lists).
pub fn init_chain(genesis: &Genesis) -> request::InitChain {
    request::InitChain {
        time: time(genesis.genesis_time),
        chain_id: genesis.chain_id.clone(),
        consensus_params: consensus_params(),
        validators: vec![validator_update("validator-0", VALIDATOR_POWER)],
        app_state_bytes: serde_json::to_vec(genesis)
            .unwrap_or_else(|e| panic!("genesis as JSON: {e}"))
            .into(),
        initial_height: height(1),
    }
}

/// An application on an in-memory ledger, initialised with [`init_chain`] of `genesis`.
pub fn new_app(genesis: &Genesis) -> App {
    let ledger = Ledger::in_memory().unwrap_or_else(|e| panic!("in-memory ledger: {e}"));
    let mut app = App::new(ledger);
    app.init_chain(&init_chain(genesis))
        .unwrap_or_else(|e| panic!("InitChain: {e}"));
    app
}

/// `CheckTx` for a transaction new to the mempool.
pub fn check_tx(tx: &Bytes) -> request::CheckTx {
    request::CheckTx {
        tx: tx.clone(),
        kind: request::CheckTxKind::New,
    }
}

/// `CheckTx` re-checking a transaction still in the mempool after a block.
pub fn recheck_tx(tx: &Bytes) -> request::CheckTx {
    request::CheckTx {
        kind: request::CheckTxKind::Recheck,
        ..check_tx(tx)
    }
}

/// `PrepareProposal` of `txs` for height `h` at time `t` (Unix seconds), with room for
/// [`MAX_TX_BYTES`] and no evidence.
pub fn prepare_proposal(h: u64, t: i64, txs: &[Bytes]) -> request::PrepareProposal {
    request::PrepareProposal {
        max_tx_bytes: MAX_TX_BYTES,
        txs: txs.to_vec(),
        local_last_commit: None,
        misbehavior: Vec::new(),
        height: height(h),
        time: time(t),
        next_validators_hash: Default::default(),
        proposer_address: proposer(),
    }
}

/// `ProcessProposal` of `txs` for height `h` at time `t` (Unix seconds), without evidence.
pub fn process_proposal(h: u64, t: i64, txs: &[Bytes]) -> request::ProcessProposal {
    request::ProcessProposal {
        txs: txs.to_vec(),
        proposed_last_commit: None,
        misbehavior: Vec::new(),
        hash: Default::default(),
        height: height(h),
        time: time(t),
        next_validators_hash: Default::default(),
        proposer_address: proposer(),
    }
}

/// `FinalizeBlock` of the decided block `txs` at height `h` and time `t` (Unix seconds),
/// with an empty last commit and no misbehaviour.
pub fn finalize_block(h: u64, t: i64, txs: &[Bytes]) -> request::FinalizeBlock {
    request::FinalizeBlock {
        txs: txs.to_vec(),
        decided_last_commit: CommitInfo {
            round: Default::default(),
            votes: Vec::new(),
        },
        misbehavior: Vec::new(),
        hash: Default::default(),
        height: height(h),
        time: time(t),
        next_validators_hash: Default::default(),
        proposer_address: proposer(),
    }
}

/// `Info`, as CometBFT [`COMETBFT_VERSION`] asks it in its handshake.
pub fn info() -> request::Info {
    request::Info {
        version: COMETBFT_VERSION.into(),
        block_version: cometbft::BLOCK_PROTOCOL,
        p2p_version: 8,
        abci_version: "2.0.0".into(),
    }
}

/// `Query` of `path` at height `h` (0 asks for the latest), with proof.
pub fn query(path: &str, h: u64) -> request::Query {
    request::Query {
        data: Bytes::new(),
        path: path.into(),
        height: height(h),
        prove: true,
    }
}
