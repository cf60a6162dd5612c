//! ABCI requests as CometBFT sends them, for the harnesses.

use bytes::Bytes;
use cascade_core::app::{App, AppError};
use cascade_core::Genesis;
use tendermint::abci::types::CommitInfo;
use tendermint::abci::{request, response};
use tendermint::block::Height;

/// A block time as CometBFT's type (`None` outside its range).
pub fn time(secs: i64) -> Option<tendermint::Time> {
    tendermint::Time::from_unix_timestamp(secs, 0).ok()
}

/// A height as CometBFT's type.
pub fn height(h: u64) -> Height {
    Height::try_from(h).unwrap_or_default()
}

/// `InitChain` for `genesis` with the fixture's one validator.
pub fn init_chain(genesis: &Genesis) -> request::InitChain {
    let v0 = cascade_core::testkit::validator_key("validator-0");
    request::InitChain {
        time: time(genesis.genesis_time).expect("genesis time"),
        chain_id: genesis.chain_id.clone(),
        consensus_params: tendermint::consensus::Params {
            block: tendermint::block::Size {
                max_bytes: 22_020_096,
                max_gas: -1,
                time_iota_ms: tendermint::block::Size::default_time_iota_ms(),
            },
            evidence: tendermint::evidence::Params {
                max_age_num_blocks: 100_000,
                max_age_duration: tendermint::evidence::Duration(std::time::Duration::from_secs(
                    172_800,
                )),
                max_bytes: 1_048_576,
            },
            validator: tendermint::consensus::params::ValidatorParams {
                pub_key_types: vec![tendermint::public_key::Algorithm::Ed25519],
            },
            version: None,
            abci: Default::default(),
        },
        validators: vec![tendermint::validator::Update {
            pub_key: tendermint::PublicKey::from_raw_ed25519(&v0.0).expect("ed25519 key"),
            power: 10u32.into(),
        }],
        app_state_bytes: serde_json::to_vec(genesis).expect("genesis json").into(),
        initial_height: height(1),
    }
}

/// An in-memory application initialised with `genesis`.
pub fn new_app(genesis: &Genesis) -> App {
    let ledger = cascade_core::Ledger::in_memory().expect("in-memory ledger");
    let mut app = App::new(ledger);
    app.init_chain(&init_chain(genesis)).expect("init chain");
    app
}

fn proposer() -> tendermint::account::Id {
    tendermint::account::Id::new([1; 20])
}

/// Errors as text, so results of two applications can be compared.
pub fn plain<T>(r: Result<T, AppError>) -> Result<T, String> {
    r.map_err(|e| format!("{e:?}"))
}

/// `PrepareProposal`.
pub fn prepare(
    app: &mut App,
    h: u64,
    t: tendermint::Time,
    txs: &[Bytes],
) -> Result<response::PrepareProposal, String> {
    plain(app.prepare_proposal(&request::PrepareProposal {
        max_tx_bytes: 22_020_096,
        txs: txs.to_vec(),
        local_last_commit: None,
        misbehavior: Vec::new(),
        height: height(h),
        time: t,
        next_validators_hash: Default::default(),
        proposer_address: proposer(),
    }))
}

/// `ProcessProposal`.
pub fn process(
    app: &mut App,
    h: u64,
    t: tendermint::Time,
    txs: &[Bytes],
) -> Result<response::ProcessProposal, String> {
    plain(app.process_proposal(&request::ProcessProposal {
        txs: txs.to_vec(),
        proposed_last_commit: None,
        misbehavior: Vec::new(),
        hash: Default::default(),
        height: height(h),
        time: t,
        next_validators_hash: Default::default(),
        proposer_address: proposer(),
    }))
}

/// `FinalizeBlock`.
pub fn finalize(
    app: &mut App,
    h: u64,
    t: tendermint::Time,
    txs: &[Bytes],
) -> Result<response::FinalizeBlock, String> {
    plain(app.finalize_block(&request::FinalizeBlock {
        txs: txs.to_vec(),
        decided_last_commit: CommitInfo {
            round: Default::default(),
            votes: Vec::new(),
        },
        misbehavior: Vec::new(),
        hash: Default::default(),
        height: height(h),
        time: t,
        next_validators_hash: Default::default(),
        proposer_address: proposer(),
    }))
}

/// `CheckTx` (new transaction).
pub fn check(app: &mut App, tx: &Bytes) -> response::CheckTx {
    app.check_tx(&request::CheckTx {
        tx: tx.clone(),
        kind: request::CheckTxKind::New,
    })
}

/// `Query` at the latest height, with proof.
pub fn query(app: &App, path: &str) -> response::Query {
    app.query(&request::Query {
        data: Bytes::new(),
        path: path.into(),
        height: Height::default(),
        prove: true,
    })
}

/// `Info`.
pub fn info(app: &App) -> response::Info {
    app.info(&request::Info {
        version: "0.38.26".into(),
        block_version: 11,
        p2p_version: 8,
        abci_version: "2.0.0".into(),
    })
}
