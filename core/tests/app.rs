//! The ABCI 2.0 application [`App`], driven with real `tendermint::abci::request` values.
//!
//! Every test builds its chain from `Fixture::standard()`'s genesis (the fixture's own ledger
//! is only used for its keys and for signing), feeds it through `InitChain`, and then runs
//! blocks the way CometBFT would: `CheckTx` for the mempool, `PrepareProposal` /
//! `ProcessProposal` for proposals, `FinalizeBlock` + `Commit` for decided blocks.

use bytes::Bytes;
use cascade_core::app::{self, App, AppError};
use cascade_core::crypto::sha256;
use cascade_core::keys;
use cascade_core::proof::{ListKind, ProofError};
use cascade_core::query::Answer;
use cascade_core::testkit::abci::{
    self, app_hash, block_time, height, init_chain, time, validator_update,
};
use cascade_core::testkit::{cny, validator_key, Fixture, CHAIN_ID, GENESIS_TIME};
use cascade_core::tx::{Output, SignedTx, Tx, TxBody};
use cascade_core::*;
use std::collections::BTreeMap;
use tendermint::abci::types::{Misbehavior, MisbehaviorKind, Validator};
use tendermint::abci::{request, response, Code, Event as AbciEvent};
use tendermint::block::Height;

// ================================================================================================
// Helpers
// ================================================================================================

/// Face value of the test certificate (10,000.00 CNY in fen).
const FACE: u64 = 10_000_00;

/// An in-memory app initialised with the fixture's genesis.
fn new_app(cast: &Cast) -> App {
    abci::new_app(cast.f.genesis())
}

fn prepare(app: &mut App, h: u64, txs: &[Bytes], max_tx_bytes: i64) -> Vec<Bytes> {
    let req = request::PrepareProposal {
        max_tx_bytes,
        ..abci::prepare_proposal(h, block_time(h), txs)
    };
    app.prepare_proposal(&req).unwrap().txs
}

fn process_at(app: &mut App, h: u64, t: i64, txs: &[Bytes]) -> response::ProcessProposal {
    app.process_proposal(&abci::process_proposal(h, t, txs))
        .unwrap()
}

fn process(app: &mut App, h: u64, txs: &[Bytes]) -> response::ProcessProposal {
    process_at(app, h, block_time(h), txs)
}

fn finalize(app: &mut App, h: u64, txs: &[Bytes]) -> response::FinalizeBlock {
    app.finalize_block(&abci::finalize_block(h, block_time(h), txs))
        .unwrap()
}

/// `FinalizeBlock` + `Commit`; returns the finalize response.
fn run_block(app: &mut App, h: u64, txs: &[Bytes]) -> response::FinalizeBlock {
    let r = finalize(app, h, txs);
    app.commit().unwrap();
    r
}

fn check(app: &mut App, tx: &Bytes) -> response::CheckTx {
    app.check_tx(&abci::check_tx(tx))
}

fn recheck(app: &mut App, tx: &Bytes) -> response::CheckTx {
    app.check_tx(&abci::recheck_tx(tx))
}

fn info(app: &App) -> response::Info {
    app.info(&abci::info())
}

fn query(app: &App, path: &str, h: u64) -> response::Query {
    app.query(&abci::query(path, h))
}

fn attr<'a>(event: &'a AbciEvent, key: &str) -> &'a str {
    let a = event
        .attributes
        .iter()
        .find(|a| a.key_str().unwrap() == key)
        .unwrap_or_else(|| panic!("event {} has no attribute {key}", event.kind));
    assert!(
        a.index(),
        "attribute {key} of {} is not indexed",
        event.kind
    );
    a.value_str().unwrap()
}

fn event_keys(event: &AbciEvent) -> Vec<&str> {
    event
        .attributes
        .iter()
        .map(|a| a.key_str().unwrap())
        .collect()
}

/// The fixture's keys plus a nonce per signer on the app's chain (which starts from the
/// fixture's genesis, so every account starts at nonce 0).
struct Cast {
    f: Fixture,
    nonces: BTreeMap<String, u64>,
}

impl Cast {
    fn new() -> Cast {
        Cast {
            f: Fixture::standard(),
            nonces: BTreeMap::new(),
        }
    }

    fn addr(&self, name: &str) -> Address {
        self.f.addr(name)
    }

    /// Signs `body` from `name` with its next nonce on the app's chain.
    fn tx(&mut self, name: &str, body: TxBody) -> Bytes {
        let nonce = self.nonces.entry(name.to_string()).or_insert(0);
        let bytes = self.f.sign_with(name, *nonce, body);
        *nonce += 1;
        bytes.into()
    }

    /// Signs with an explicit nonce, without touching the tracked one.
    fn tx_with(&self, name: &str, nonce: u64, body: TxBody) -> Bytes {
        self.f.sign_with(name, nonce, body).into()
    }

    fn credit_line(&self) -> TxBody {
        TxBody::SetCreditLine {
            obligor: self.addr("core"),
            currency: cny(),
            limit: Amount(1_000_000_000),
        }
    }

    fn anchor(&self, label: &str, seller: &str) -> TxBody {
        TxBody::AnchorDocument {
            hash: Hash32(sha256(label.as_bytes())),
            amount: Money {
                amount: Amount(FACE),
                currency: cny(),
            },
            buyer: self.addr("core"),
            seller: self.addr(seller),
        }
    }

    fn issue(&self, label: &str, to: &str) -> TxBody {
        TxBody::Issue {
            to: self.addr(to),
            amount: Amount(FACE),
            currency: cny(),
            maturity: Day(self.f.today().0 + 90),
            document: Hash32(sha256(label.as_bytes())),
            credit_grantor: self.addr("bank"),
        }
    }
}

/// Block 1: `bank` grants `core` a credit line, `core` anchors an invoice sold by `t1` and
/// issues a certificate for it to `t1`. Returns the three transactions.
fn issue_block(cast: &mut Cast) -> Vec<Bytes> {
    let credit = cast.credit_line();
    let anchor = cast.anchor("invoice-1", "t1");
    let issue = cast.issue("invoice-1", "t1");
    vec![
        cast.tx("bank", credit),
        cast.tx("core", anchor),
        cast.tx("core", issue),
    ]
}

/// The one offer waiting for `t1`.
fn offer_to_t1(app: &App, cast: &Cast) -> Hash32 {
    let offers = app.ledger().offers_in(&cast.addr("t1")).unwrap();
    assert_eq!(offers.len(), 1, "t1 has exactly one offer");
    offers[0].0
}

/// A transaction signed by `core`'s key field but with another key's signature.
fn badly_signed(cast: &Cast, nonce: u64) -> Bytes {
    let tx = Tx {
        chain_id: CHAIN_ID.into(),
        signer: cast.f.key("core").public_key(),
        nonce,
        expiry_height: 100,
        body: cast.anchor("forged", "t1"),
    };
    let signature = cast.f.key("t1").sign_prehash(&tx.sign_digest());
    SignedTx { tx, signature }.to_bytes().into()
}

// ================================================================================================
// InitChain
// ================================================================================================

#[test]
fn init_chain_app_hash_equals_the_ledgers_genesis_hash() {
    let cast = Cast::new();
    let genesis = cast.f.genesis().clone();
    let mut reference = Ledger::in_memory().unwrap();
    let expected = reference.init_chain(&genesis).unwrap();

    let mut app = App::new(Ledger::in_memory().unwrap());
    let r = app.init_chain(&init_chain(&genesis)).unwrap();
    assert_eq!(app_hash(&r.app_hash), expected);
    // The genesis names its validators, so CometBFT is told to use exactly those.
    assert_eq!(r.validators.len(), genesis.validators.len());
    assert_eq!(
        r.validators[0].pub_key.to_bytes(),
        genesis.validators[0].pub_key.0.to_vec()
    );
    assert!(r.consensus_params.is_none());
    assert_eq!(app.ledger().chain_id(), Some(CHAIN_ID));
    assert_eq!(app.ledger().committed().unwrap().version, 0);

    // CometBFT's genesis time is authoritative: another time gives another state.
    let mut later = init_chain(&genesis);
    later.time = time(GENESIS_TIME + 86_400);
    let mut other = App::new(Ledger::in_memory().unwrap());
    let r2 = other.init_chain(&later).unwrap();
    assert_ne!(app_hash(&r2.app_hash), expected);
    let mut shifted = genesis.clone();
    shifted.genesis_time = GENESIS_TIME + 86_400;
    let mut reference2 = Ledger::in_memory().unwrap();
    assert_eq!(
        app_hash(&r2.app_hash),
        reference2.init_chain(&shifted).unwrap()
    );
}

#[test]
fn init_chain_rejects_a_chain_id_mismatch_bad_json_and_a_bad_initial_height() {
    let cast = Cast::new();
    let genesis = cast.f.genesis();

    let mut app = App::new(Ledger::in_memory().unwrap());
    let mut req = init_chain(genesis);
    req.chain_id = "another-chain".into();
    let err = app.init_chain(&req).unwrap_err();
    assert!(
        matches!(&err, AppError::Genesis { reason } if reason.contains("another-chain")),
        "{err:?}"
    );

    let mut req = init_chain(genesis);
    req.app_state_bytes = Bytes::from_static(b"{\"chain_id\": \"cascade-test\", ");
    assert!(matches!(
        app.init_chain(&req).unwrap_err(),
        AppError::Genesis { .. }
    ));

    let mut req = init_chain(genesis);
    req.app_state_bytes = Bytes::from_static(b"[1, 2, 3]");
    assert!(matches!(
        app.init_chain(&req).unwrap_err(),
        AppError::Genesis { .. }
    ));

    let mut req = init_chain(genesis);
    req.initial_height = height(5);
    assert!(matches!(
        app.init_chain(&req).unwrap_err(),
        AppError::Genesis { .. }
    ));

    // None of the refusals wrote anything.
    assert_eq!(app.ledger().committed(), None);
    assert_eq!(app.ledger().chain_id(), None);
    assert_eq!(info(&app).last_block_height.value(), 0);
    assert!(info(&app).last_block_app_hash.as_bytes().is_empty());
}

#[test]
fn init_chain_again_at_height_zero_returns_the_same_app_hash() {
    let cast = Cast::new();
    let req = init_chain(cast.f.genesis());

    // Same process.
    let mut app = App::new(Ledger::in_memory().unwrap());
    let first = app.init_chain(&req).unwrap().app_hash;
    let again = app.init_chain(&req).unwrap().app_hash;
    assert_eq!(first, again);
    assert_eq!(app.ledger().committed().unwrap().version, 0);

    // Crash before block 1: the store on disk is at version 0 and CometBFT calls InitChain
    // again on the restarted process.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    {
        let mut app = App::new(Ledger::open(&path).unwrap());
        assert_eq!(app.init_chain(&req).unwrap().app_hash, first);
    }
    let mut app = App::new(Ledger::open(&path).unwrap());
    assert_eq!(info(&app).last_block_height.value(), 0);
    assert_eq!(info(&app).last_block_app_hash, first);
    assert_eq!(app.init_chain(&req).unwrap().app_hash, first);

    // Once a block is committed, InitChain is a sequence error from the ledger.
    run_block(&mut app, 1, &[]);
    assert!(matches!(
        app.init_chain(&req).unwrap_err(),
        AppError::Ledger(LedgerError::AlreadyInitialized { ref chain_id }) if chain_id == CHAIN_ID
    ));
}

/// A crash before block 1 makes CometBFT call `InitChain` again, but if the genesis changed
/// in between (an operator fixed `genesis.json` and restarted), answering with the stored
/// state would give CometBFT an app hash and validator set that are not those of the genesis
/// it holds: the node would then fail at block 1 on an app hash mismatch, far from the
/// cause. A different genesis must be refused, and the stored one left as it was.
#[test]
fn init_chain_again_with_a_different_genesis_is_refused() {
    let cast = Cast::new();
    let genesis = cast.f.genesis().clone();
    let mut app = App::new(Ledger::in_memory().unwrap());
    let first = app.init_chain(&init_chain(&genesis)).unwrap().app_hash;

    let mut fewer = genesis.clone();
    fewer.participants.pop();
    let mut later = init_chain(&genesis);
    later.time = time(GENESIS_TIME + 86_400);
    let mut stronger = genesis.clone();
    stronger.validators[0].power += 1;
    for (what, req) in [
        ("other participants", init_chain(&fewer)),
        ("another genesis time", later),
        ("other validators", init_chain(&stronger)),
    ] {
        let err = app.init_chain(&req).unwrap_err();
        assert!(
            matches!(&err, AppError::Genesis { reason } if reason.contains("different genesis")),
            "{what}: {err:?}"
        );
        assert_eq!(info(&app).last_block_app_hash, first, "{what}");
    }
    // The same genesis is still answered with the stored hash.
    assert_eq!(
        app.init_chain(&init_chain(&genesis)).unwrap().app_hash,
        first
    );
}

#[test]
fn init_chain_takes_validators_from_the_request_when_the_genesis_lists_none() {
    let cast = Cast::new();
    let mut genesis = cast.f.genesis().clone();
    genesis.validators.clear();
    let mut req = init_chain(&genesis);
    req.validators = vec![validator_update("node-a", 7), validator_update("node-b", 3)];

    let mut app = App::new(Ledger::in_memory().unwrap());
    let r = app.init_chain(&req).unwrap();
    let ledger = app.ledger();
    assert_eq!(
        ledger.validator(&validator_key("node-a")).unwrap(),
        Some(ValidatorRecord {
            pub_key: validator_key("node-a"),
            power: 7
        })
    );
    assert_eq!(
        ledger.validator(&validator_key("node-b")).unwrap(),
        Some(ValidatorRecord {
            pub_key: validator_key("node-b"),
            power: 3
        })
    );
    assert_eq!(
        ledger.validator(&validator_key("validator-0")).unwrap(),
        None
    );
    assert_eq!(
        ledger.consortium().unwrap(),
        Consortium {
            active_operators: 1,
            validators: 2
        }
    );

    // Same state as a genesis that listed them itself.
    genesis.validators = vec![
        ValidatorRecord {
            pub_key: validator_key("node-a"),
            power: 7,
        },
        ValidatorRecord {
            pub_key: validator_key("node-b"),
            power: 3,
        },
    ];
    let mut reference = Ledger::in_memory().unwrap();
    assert_eq!(
        app_hash(&r.app_hash),
        reference.init_chain(&genesis).unwrap()
    );
}

#[test]
fn init_chain_ledger_and_cometbft_agree_on_the_initial_validator_set() {
    // The app state lists validator-0 (power 10); CometBFT's genesis has another node.
    let cast = Cast::new();
    let mut req = init_chain(cast.f.genesis());
    req.validators = vec![validator_update("node-a", 5)];
    let mut app = App::new(Ledger::in_memory().unwrap());
    let r = app.init_chain(&req).unwrap();

    // ABCI: an empty response list means CometBFT keeps the request's validators.
    let cometbft_set = if r.validators.is_empty() {
        req.validators.clone()
    } else {
        r.validators.clone()
    };
    let ledger = app.ledger();
    assert_eq!(
        ledger.consortium().unwrap().validators as usize,
        cometbft_set.len()
    );
    for v in &cometbft_set {
        let key = ValidatorKey(v.pub_key.ed25519().unwrap().as_bytes().try_into().unwrap());
        assert_eq!(
            ledger.validator(&key).unwrap().map(|r| r.power),
            Some(v.power.value()),
            "CometBFT validator {key} is not in the ledger with its power"
        );
    }
}

// ================================================================================================
// Info
// ================================================================================================

#[test]
fn info_reports_the_last_committed_height_and_app_hash() {
    let mut cast = Cast::new();
    let mut app = App::new(Ledger::in_memory().unwrap());
    let i = info(&app);
    assert_eq!(i.last_block_height.value(), 0);
    assert!(i.last_block_app_hash.as_bytes().is_empty());
    assert_eq!(i.app_version, app::APP_VERSION);
    assert_eq!(i.data, "cascade");

    let genesis_hash = app
        .init_chain(&init_chain(cast.f.genesis()))
        .unwrap()
        .app_hash;
    assert_eq!(info(&app).last_block_height.value(), 0);
    assert_eq!(info(&app).last_block_app_hash, genesis_hash);

    let txs = issue_block(&mut cast);
    let r1 = finalize(&mut app, 1, &txs);
    // Finalized but not committed: Info still reports genesis.
    assert_eq!(info(&app).last_block_height.value(), 0);
    assert_eq!(info(&app).last_block_app_hash, genesis_hash);
    app.commit().unwrap();
    assert_eq!(info(&app).last_block_height.value(), 1);
    assert_eq!(info(&app).last_block_app_hash, r1.app_hash);
    assert_ne!(r1.app_hash, genesis_hash);

    let r2 = run_block(&mut app, 2, &[]);
    assert_eq!(info(&app).last_block_height.value(), 2);
    assert_eq!(info(&app).last_block_app_hash, r2.app_hash);
    // An empty block still has its own app hash (meta/block changes).
    assert_ne!(r2.app_hash, r1.app_hash);
    assert_eq!(
        app_hash(&r2.app_hash),
        app.ledger().committed().unwrap().app_hash
    );
}

// ================================================================================================
// CheckTx
// ================================================================================================

#[test]
fn check_tx_admits_a_valid_transaction_with_its_sender() {
    let mut cast = Cast::new();
    let mut app = new_app(&cast);
    let body = cast.credit_line();
    let tx = cast.tx("bank", body);
    let r = check(&mut app, &tx);
    assert_eq!(r.code, Code::Ok, "{}", r.log);
    assert_eq!(r.sender, cast.addr("bank").to_hex());
    // CheckTx never touches the committed state.
    assert_eq!(info(&app).last_block_height.value(), 0);
    assert_eq!(app.ledger().account(&cast.addr("bank")).unwrap().nonce, 0);
}

#[test]
fn check_tx_rejections_carry_the_ledgers_error_codes() {
    let cast = Cast::new();
    let mut app = new_app(&cast);

    // Bad signature.
    let r = check(&mut app, &badly_signed(&cast, 0));
    assert_eq!(r.code.value(), 2);
    assert!(!r.log.is_empty());
    assert!(r.sender.is_empty());

    // Garbage bytes.
    let r = check(&mut app, &Bytes::from_static(b"not a transaction"));
    assert_eq!(r.code.value(), 1);
    let r = check(&mut app, &Bytes::new());
    assert_eq!(r.code.value(), 1);

    // Another chain.
    let key = cast.f.key("bank");
    let wrong_chain: Bytes = Tx {
        chain_id: "other-chain".into(),
        signer: key.public_key(),
        nonce: 0,
        expiry_height: 100,
        body: cast.credit_line(),
    }
    .sign(key)
    .to_bytes()
    .into();
    let r = check(&mut app, &wrong_chain);
    assert_eq!(
        r.code.value(),
        TxError::WrongChain {
            expected: CHAIN_ID.into(),
            got: "other-chain".into()
        }
        .code()
    );
    assert_eq!(r.code.value(), 3);

    // A nonce from the future.
    let r = check(&mut app, &cast.tx_with("bank", 5, cast.credit_line()));
    assert_eq!(
        r.code.value(),
        TxError::BadNonce {
            expected: 0,
            got: 5
        }
        .code()
    );
    assert_eq!(r.code.value(), 5);
    assert!(r.log.contains("nonce 5"), "{}", r.log);

    // A rule violation: a supplier cannot grant credit lines.
    let r = check(&mut app, &cast.tx_with("t1", 0, cast.credit_line()));
    assert_eq!(r.code.value(), 8);

    // Unknown signer.
    let mut cast = cast;
    cast.f.add_key("stranger");
    let r = check(&mut app, &cast.tx("stranger", cast.credit_line()));
    assert_eq!(r.code.value(), 6);
}

#[test]
fn check_tx_admits_consecutive_nonces_from_one_signer() {
    let mut cast = Cast::new();
    let mut app = new_app(&cast);
    let a1 = cast.anchor("invoice-1", "t1");
    let a2 = cast.anchor("invoice-2", "t1");
    let tx0 = cast.tx("core", a1);
    let tx1 = cast.tx("core", a2);
    assert_eq!(check(&mut app, &tx0).code, Code::Ok);
    assert_eq!(check(&mut app, &tx1).code, Code::Ok);
    // The mempool state has both: the same transaction again is a replay there, and the
    // first document is already anchored in it.
    assert_eq!(check(&mut app, &tx0).code.value(), 5);
    let dup_doc = cast.tx_with("core", 2, cast.anchor("invoice-1", "t1"));
    assert_eq!(check(&mut app, &dup_doc).code.value(), 23);
    // A gap is still refused.
    let gap = cast.tx_with("core", 3, cast.anchor("invoice-3", "t1"));
    assert_eq!(check(&mut app, &gap).code.value(), 5);
    // Nothing reached the committed state.
    assert_eq!(app.ledger().account(&cast.addr("core")).unwrap().nonce, 0);
}

#[test]
fn check_tx_mempool_state_resets_after_commit() {
    let mut cast = Cast::new();
    let mut app = new_app(&cast);
    let a1 = cast.anchor("invoice-1", "t1");
    let a2 = cast.anchor("invoice-2", "t1");
    let tx0 = cast.tx("core", a1);
    let tx1 = cast.tx("core", a2);
    assert_eq!(check(&mut app, &tx0).code, Code::Ok);
    assert_eq!(check(&mut app, &tx1).code, Code::Ok);

    // Only tx0 is decided.
    let r = run_block(&mut app, 1, std::slice::from_ref(&tx0));
    assert_eq!(r.tx_results[0].code, Code::Ok);

    // CometBFT rechecks what is left; the included transaction fails with the nonce code.
    let r = recheck(&mut app, &tx0);
    assert_eq!(r.code.value(), 5, "{}", r.log);
    assert!(r.log.contains("nonce 0 is not the expected 1"), "{}", r.log);
    let r = recheck(&mut app, &tx1);
    assert_eq!(r.code, Code::Ok, "{}", r.log);
    // And the mempool state built on the new committed state goes on from there.
    let tx2 = cast.tx("core", cast.anchor("invoice-3", "t1"));
    assert_eq!(check(&mut app, &tx2).code, Code::Ok);
}

// ================================================================================================
// PrepareProposal / ProcessProposal / FinalizeBlock
// ================================================================================================

#[test]
fn prepare_proposal_leaves_out_invalid_duplicated_and_replayed_transactions() {
    let mut cast = Cast::new();
    let mut app = new_app(&cast);
    let credit = cast.tx("bank", cast.credit_line());
    run_block(&mut app, 1, std::slice::from_ref(&credit));

    let anchor = cast.tx("core", cast.anchor("invoice-1", "t1"));
    let issue = cast.tx("core", cast.issue("invoice-1", "t1"));
    let mempool = vec![
        anchor.clone(),
        Bytes::from_static(b"garbage"),
        anchor.clone(),                            // duplicate
        credit.clone(),                            // replay of block 1
        badly_signed(&cast, 1),                    // bad signature
        cast.tx_with("t1", 0, cast.credit_line()), // rule violation
        issue.clone(),
    ];
    let txs = prepare(&mut app, 2, &mempool, 1_000_000);
    assert_eq!(txs, vec![anchor.clone(), issue.clone()]);
    assert_eq!(app.stats().executions, 2);

    // The proposal passes ProcessProposal without another execution.
    assert_eq!(
        process(&mut app, 2, &txs),
        response::ProcessProposal::Accept
    );
    assert_eq!(app.stats().executions, 2);
    let r = finalize(&mut app, 2, &txs);
    assert_eq!(r.tx_results.len(), 2);
    assert!(r.tx_results.iter().all(|t| t.code == Code::Ok));
    assert_eq!(app.stats().reused_executions, 1);
}

#[test]
fn prepare_proposal_respects_max_tx_bytes() {
    let mut cast = Cast::new();
    let mut app = new_app(&cast);
    let txs = issue_block(&mut cast);
    // CometBFT counts each transaction with 10 bytes of framing (see App::prepare_proposal).
    let size = |t: &Bytes| t.len() as i64 + 10;
    let two = size(&txs[0]) + size(&txs[1]);

    assert_eq!(prepare(&mut app, 1, &txs, two), txs[..2].to_vec());
    assert_eq!(prepare(&mut app, 1, &txs, two - 1), txs[..1].to_vec());
    assert_eq!(
        prepare(&mut app, 1, &txs, size(&txs[0]) - 1),
        Vec::<Bytes>::new()
    );
    assert_eq!(prepare(&mut app, 1, &txs, 0), Vec::<Bytes>::new());
    assert_eq!(prepare(&mut app, 1, &txs, two + size(&txs[2])), txs);

    // A left-out invalid transaction takes no room.
    let with_garbage = vec![txs[0].clone(), Bytes::from(vec![0u8; 200]), txs[1].clone()];
    assert_eq!(
        prepare(&mut app, 1, &with_garbage, two + 250),
        txs[..2].to_vec()
    );
}

#[test]
fn process_proposal_rejects_invalid_replayed_and_duplicated_transactions() {
    let mut cast = Cast::new();
    let mut app = new_app(&cast);
    let credit = cast.tx("bank", cast.credit_line());
    run_block(&mut app, 1, std::slice::from_ref(&credit));
    let anchor = cast.tx("core", cast.anchor("invoice-1", "t1"));
    let issue = cast.tx("core", cast.issue("invoice-1", "t1"));

    let rejected = [
        vec![anchor.clone(), Bytes::from_static(b"garbage")],
        vec![anchor.clone(), badly_signed(&cast, 1)],
        vec![credit.clone()],
        vec![anchor.clone(), anchor.clone()],
        vec![issue.clone()], // nonce 1 before core's nonce 0
        vec![anchor.clone(), cast.tx_with("t1", 0, cast.credit_line())],
    ];
    for (i, txs) in rejected.iter().enumerate() {
        assert_eq!(
            process(&mut app, 2, txs),
            response::ProcessProposal::Reject,
            "block {i}"
        );
        assert_eq!(app.stats().rejected_proposals, i as u64 + 1);
    }

    let prepared = prepare(&mut app, 2, &[anchor.clone(), issue.clone()], 1_000_000);
    assert_eq!(prepared, vec![anchor.clone(), issue.clone()]);
    assert_eq!(
        process(&mut app, 2, &prepared),
        response::ProcessProposal::Accept
    );
    // A fresh App (not the proposer) executes and accepts it too.
    let mut other = new_app(&cast);
    run_block(&mut other, 1, std::slice::from_ref(&credit));
    assert_eq!(
        process(&mut other, 2, &prepared),
        response::ProcessProposal::Accept
    );
    assert_eq!(other.stats().rejected_proposals, 0);
    // A rejected proposal leaves nothing behind: the committed state is still block 1.
    assert_eq!(app.ledger().committed().unwrap().version, 1);
    assert_eq!(app.stats().rejected_proposals, rejected.len() as u64);
}

#[test]
fn finalize_block_reuses_the_execution_of_the_same_block_and_reexecutes_another() {
    let mut cast = Cast::new();
    let txs = issue_block(&mut cast);

    // Same block: one execution.
    let mut app = new_app(&cast);
    assert_eq!(
        process(&mut app, 1, &txs),
        response::ProcessProposal::Accept
    );
    assert_eq!(app.stats().executions, 1);
    let same = finalize(&mut app, 1, &txs);
    assert_eq!(app.stats().executions, 1);
    assert_eq!(app.stats().reused_executions, 1);
    assert_eq!(same.tx_results.len(), 3);

    // Another block (fewer transactions) after the proposal: executed again.
    let mut app2 = new_app(&cast);
    assert_eq!(
        process(&mut app2, 1, &txs),
        response::ProcessProposal::Accept
    );
    let other = finalize(&mut app2, 1, &txs[..2]);
    assert_eq!(app2.stats().executions, 2);
    assert_eq!(app2.stats().reused_executions, 0);
    assert_eq!(other.tx_results.len(), 2);
    assert_ne!(other.app_hash, same.app_hash);
    // Its result is that of the decided block, not of the proposal.
    let mut fresh = new_app(&cast);
    assert_eq!(finalize(&mut fresh, 1, &txs[..2]).app_hash, other.app_hash);

    // Same transactions but another block time: executed again as well.
    let mut app3 = new_app(&cast);
    assert_eq!(
        process_at(&mut app3, 1, block_time(1) + 1, &txs),
        response::ProcessProposal::Accept
    );
    let r3 = finalize(&mut app3, 1, &txs);
    assert_eq!(app3.stats().executions, 2);
    assert_eq!(app3.stats().reused_executions, 0);
    assert_eq!(r3.app_hash, same.app_hash, "the block time is the same day");
}

#[test]
fn app_hash_is_the_same_whether_or_not_the_block_was_proposed_first() {
    let mut cast = Cast::new();
    let block1 = issue_block(&mut cast);

    let mut proposer = new_app(&cast);
    let mut follower = new_app(&cast);

    let txs = prepare(&mut proposer, 1, &block1, 1_000_000);
    assert_eq!(txs, block1);
    assert_eq!(
        process(&mut proposer, 1, &txs),
        response::ProcessProposal::Accept
    );
    let a = finalize(&mut proposer, 1, &txs);
    proposer.commit().unwrap();
    let b = finalize(&mut follower, 1, &txs);
    follower.commit().unwrap();
    assert_eq!(a.app_hash, b.app_hash);
    assert_eq!(a.tx_results, b.tx_results);
    assert_eq!(a.events, b.events);
    assert_eq!(proposer.stats().reused_executions, 1);
    assert_eq!(follower.stats().reused_executions, 0);

    // Block 2: t1 accepts; again by both paths.
    let piece = offer_to_t1(&proposer, &cast);
    let accept = cast.tx("t1", TxBody::Accept { piece });
    let txs = prepare(&mut proposer, 2, std::slice::from_ref(&accept), 1_000_000);
    assert_eq!(
        process(&mut proposer, 2, &txs),
        response::ProcessProposal::Accept
    );
    let a = finalize(&mut proposer, 2, &txs);
    proposer.commit().unwrap();
    let b = finalize(&mut follower, 2, &txs);
    follower.commit().unwrap();
    assert_eq!(a.app_hash, b.app_hash);
    assert_eq!(a.tx_results, b.tx_results);
    assert_eq!(
        info(&proposer).last_block_app_hash,
        info(&follower).last_block_app_hash
    );

    // And the same as the plain ledger driven by the fixture-style calls.
    let mut ledger = Ledger::in_memory().unwrap();
    ledger.init_chain(cast.f.genesis()).unwrap();
    ledger.begin_block(1, block_time(1)).unwrap();
    for tx in &block1 {
        ledger.deliver_tx(tx).unwrap();
    }
    ledger.commit().unwrap();
    ledger.begin_block(2, block_time(2)).unwrap();
    ledger.deliver_tx(&accept).unwrap();
    assert_eq!(ledger.commit().unwrap().app_hash, app_hash(&a.app_hash));
}

#[test]
fn a_transaction_seen_by_check_tx_and_then_included_is_verified_once() {
    let mut cast = Cast::new();
    let mut app = new_app(&cast);
    let tx = cast.tx("bank", cast.credit_line());
    assert_eq!(app.stats().verifications, 0);
    assert_eq!(check(&mut app, &tx).code, Code::Ok);
    assert_eq!(app.stats().verifications, 1);
    let txs = prepare(&mut app, 1, std::slice::from_ref(&tx), 1_000_000);
    assert_eq!(
        process(&mut app, 1, &txs),
        response::ProcessProposal::Accept
    );
    // A second ProcessProposal of the same block (another round) neither.
    assert_eq!(
        process(&mut app, 1, &txs),
        response::ProcessProposal::Accept
    );
    let r = finalize(&mut app, 1, &txs);
    app.commit().unwrap();
    assert_eq!(r.tx_results[0].code, Code::Ok);
    assert_eq!(app.stats().verifications, 1);

    // A block a follower never saw in its mempool: one verification per transaction.
    let mut follower = new_app(&cast);
    let other = cast.tx("core", cast.anchor("invoice-1", "t1"));
    assert_eq!(
        process(&mut follower, 1, &txs),
        response::ProcessProposal::Accept
    );
    assert_eq!(follower.stats().verifications, 1);
    let _ = finalize(&mut follower, 1, &txs);
    follower.commit().unwrap();
    assert_eq!(follower.stats().verifications, 1);
    run_block(&mut follower, 2, std::slice::from_ref(&other));
    assert_eq!(follower.stats().verifications, 2);

    // Failed verifications are not cached: each attempt costs one.
    let bad = badly_signed(&cast, 1);
    assert_eq!(check(&mut app, &bad).code.value(), 2);
    assert_eq!(check(&mut app, &bad).code.value(), 2);
    assert_eq!(app.stats().verifications, 3);
}

#[test]
fn finalize_block_reports_transaction_events_with_the_ledgers_values() {
    let mut cast = Cast::new();
    let mut app = new_app(&cast);
    let txs = issue_block(&mut cast);
    let r = run_block(&mut app, 1, &txs);
    assert_eq!(r.tx_results.len(), 3);
    assert!(r.events.is_empty(), "no block-level events: {:?}", r.events);
    assert!(r.validator_updates.is_empty());
    assert!(r.consensus_param_updates.is_none());

    let issue = &r.tx_results[2];
    let hash = Hash32(sha256(&txs[2]));
    assert_eq!(issue.code, Code::Ok);
    assert!(issue.log.is_empty());

    let kinds: Vec<&str> = issue.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["cascade.tx", "cascade.issued", "cascade.offered"]);
    let tx_event = &issue.events[0];
    assert_eq!(event_keys(tx_event), ["kind", "signer", "hash", "events"]);
    assert_eq!(attr(tx_event, "kind"), "issue");
    assert_eq!(attr(tx_event, "signer"), cast.addr("core").to_hex());
    assert_eq!(attr(tx_event, "hash"), hash.to_hex());
    assert_eq!(attr(tx_event, "events"), "issued,offered");

    // The result data carries the same events, typed (ADR 0012: the ledger keeps no receipt).
    let typed = cascade_core::event::from_result_data(&issue.data).unwrap();
    assert_eq!(typed.len(), 2);
    assert!(matches!(typed[0], Event::Issued { .. }), "{typed:?}");
    let (root, piece, from, to, amount, tier) = match &typed[1] {
        Event::Offered {
            root,
            piece,
            from,
            to,
            amount,
            tier,
            ..
        } => (*root, *piece, *from, *to, *amount, *tier),
        e => panic!("unexpected {e:?}"),
    };
    assert_eq!(piece, offer_to_t1(&app, &cast));
    assert_eq!((from, to), (cast.addr("core"), cast.addr("t1")));
    assert_eq!((amount, tier), (Amount(FACE), 1));
    let offered = &issue.events[2];
    let mut keys_sorted = event_keys(offered);
    keys_sorted.sort_unstable();
    assert_eq!(
        keys_sorted,
        ["amount", "expires", "from", "piece", "root", "tier", "to"]
    );
    assert_eq!(
        attr(offered, "expires"),
        (cast.f.today().0 + Params::default().offer_expiry_days).to_string()
    );
    assert_eq!(attr(offered, "piece"), piece.to_hex());
    assert_eq!(attr(offered, "root"), root.to_hex());
    assert_eq!(attr(offered, "from"), cast.addr("core").to_hex());
    assert_eq!(attr(offered, "to"), cast.addr("t1").to_hex());
    assert_eq!(attr(offered, "amount"), FACE.to_string());
    assert_eq!(attr(offered, "tier"), "1");
    let issued = &issue.events[1];
    assert_eq!(attr(issued, "root"), root.to_hex());
    assert_eq!(attr(issued, "obligor"), cast.addr("core").to_hex());
    assert_eq!(attr(issued, "to"), cast.addr("t1").to_hex());
    assert_eq!(attr(issued, "currency"), "CNY");
    assert_eq!(attr(issued, "credit_grantor"), cast.addr("bank").to_hex());
    assert_eq!(attr(issued, "document").len(), 64);
    assert_eq!(
        attr(issued, "maturity"),
        (cast.f.today().0 + 90).to_string()
    );

    // The credit line transaction: kind and signer of its own.
    let credit = &r.tx_results[0];
    assert_eq!(attr(&credit.events[0], "kind"), "set-credit-line");
    assert_eq!(
        attr(&credit.events[0], "signer"),
        cast.addr("bank").to_hex()
    );
    assert_eq!(attr(&credit.events[0], "events"), "credit_line_set");
    assert_eq!(credit.events[1].kind, "cascade.credit_line_set");
    assert_eq!(attr(&credit.events[1], "limit"), "1000000000");
}

#[test]
fn finalize_block_gives_a_failing_transaction_its_error_code() {
    let mut cast = Cast::new();
    let mut app = new_app(&cast);
    let credit = cast.tx("bank", cast.credit_line());
    run_block(&mut app, 1, std::slice::from_ref(&credit));

    let anchor = cast.tx("core", cast.anchor("invoice-1", "t1"));
    // A decided block with a replay, garbage, a bad signature and a valid transaction: the
    // chain does not stop; each failure gets its code, the valid one applies.
    let decided = vec![
        credit.clone(),
        Bytes::from_static(b"garbage"),
        badly_signed(&cast, 0),
        anchor.clone(),
        cast.tx_with("t1", 0, cast.credit_line()),
    ];
    let r = run_block(&mut app, 2, &decided);
    let codes: Vec<u32> = r.tx_results.iter().map(|t| t.code.value()).collect();
    assert_eq!(codes, [5, 1, 2, 0, 8]);
    for failed in [0, 1, 2, 4] {
        assert!(r.tx_results[failed].events.is_empty());
        assert!(r.tx_results[failed].data.is_empty());
        assert!(!r.tx_results[failed].log.is_empty());
    }
    assert!(r.tx_results[0]
        .log
        .contains("nonce 0 is not the expected 1"));

    // The failures changed nothing: the state equals a block with only the valid one.
    let mut reference = new_app(&cast);
    run_block(&mut reference, 1, std::slice::from_ref(&credit));
    let r2 = run_block(&mut reference, 2, std::slice::from_ref(&anchor));
    assert_eq!(r.app_hash, r2.app_hash);
}

#[test]
fn a_crash_between_finalize_block_and_commit_replays_to_the_same_app_hash() {
    let mut cast = Cast::new();
    let block1 = issue_block(&mut cast);

    // Reference run, in memory, never interrupted.
    let mut reference = new_app(&cast);
    let ref1 = run_block(&mut reference, 1, &block1);
    let piece = offer_to_t1(&reference, &cast);
    let block2 = vec![cast.tx("t1", TxBody::Accept { piece })];
    let ref2 = run_block(&mut reference, 2, &block2);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    {
        let mut app = App::new(Ledger::open(&path).unwrap());
        app.init_chain(&init_chain(cast.f.genesis())).unwrap();
        run_block(&mut app, 1, &block1);
        let r = finalize(&mut app, 2, &block2);
        assert_eq!(r.app_hash, ref2.app_hash);
        // Killed here: no Commit.
    }
    let mut app = App::new(Ledger::open(&path).unwrap());
    let i = info(&app);
    assert_eq!(i.last_block_height.value(), 1);
    assert_eq!(i.last_block_app_hash, ref1.app_hash);
    // The reopened ledger is at block 1: the offer is still pending there.
    assert_eq!(
        reference.ledger().piece(&piece).unwrap().unwrap().status,
        PieceStatus::Active
    );
    assert!(matches!(
        app.ledger().piece(&piece).unwrap().unwrap().status,
        PieceStatus::Pending { .. }
    ));

    // CometBFT's handshake replays block 2.
    let replay = finalize(&mut app, 2, &block2);
    assert_eq!(replay.app_hash, ref2.app_hash);
    assert_eq!(replay.tx_results, ref2.tx_results);
    app.commit().unwrap();
    assert_eq!(info(&app).last_block_height.value(), 2);
    assert_eq!(info(&app).last_block_app_hash, ref2.app_hash);
    assert_eq!(
        app.ledger().piece(&piece).unwrap().unwrap().status,
        PieceStatus::Active
    );

    // And the chain goes on identically.
    let r3 = run_block(&mut app, 3, &[]);
    assert_eq!(r3.app_hash, run_block(&mut reference, 3, &[]).app_hash);
}

// ================================================================================================
// Query
// ================================================================================================

/// A chain at height 2 where `t1` holds the accepted certificate.
fn accepted_chain(cast: &mut Cast) -> (App, Hash32) {
    let mut app = new_app(cast);
    let block1 = issue_block(cast);
    run_block(&mut app, 1, &block1);
    let piece = offer_to_t1(&app, cast);
    let accept = cast.tx("t1", TxBody::Accept { piece });
    run_block(&mut app, 2, &[accept]);
    (app, piece)
}

#[test]
fn query_piece_returns_a_proof_against_the_committed_app_hash() {
    let mut cast = Cast::new();
    let (app, piece) = accepted_chain(&mut cast);
    let app_hash = app_hash(&info(&app).last_block_app_hash);

    let path = format!("/piece/{}", piece.to_hex());
    for asked in [0, 2] {
        let r = query(&app, &path, asked);
        assert_eq!(r.code, Code::Ok, "{}", r.log);
        assert_eq!(r.height.value(), 2);
        assert_eq!(r.key.as_ref(), path.as_bytes());
        let answer: Answer = borsh::from_slice(&r.value).unwrap();
        let Answer::State(proof) = answer else {
            panic!("expected a state proof, got {answer:?}")
        };
        assert_eq!(proof.version, 2);
        let proven: Piece = proof
            .verify_typed(&app_hash, &keys::piece(&piece))
            .unwrap()
            .expect("the piece is present");
        assert_eq!(proven, app.ledger().piece(&piece).unwrap().unwrap());
        assert_eq!(proven.holder, cast.addr("t1"));
        assert_eq!(proven.amount, Amount(FACE));
        assert_eq!(proven.status, PieceStatus::Active);
        // The proof does not verify against another app hash.
        assert_eq!(
            proof.verify(&Hash32([9; 32]), &keys::piece(&piece)),
            Err(ProofError::Mismatch)
        );
    }

    // An unknown piece: a proven absence.
    let unknown = Hash32(sha256(b"no such piece"));
    let r = query(&app, &format!("/piece/{}", unknown.to_hex()), 0);
    assert_eq!(r.code, Code::Ok);
    let Answer::State(proof) = borsh::from_slice(&r.value).unwrap() else {
        panic!("expected a state proof")
    };
    assert_eq!(
        proof.verify_typed::<Piece>(&app_hash, &keys::piece(&unknown)),
        Ok(None)
    );
}

#[test]
fn query_holdings_returns_a_complete_proven_list() {
    let mut cast = Cast::new();
    let (app, piece) = accepted_chain(&mut cast);
    let app_hash = app_hash(&info(&app).last_block_app_hash);

    let r = query(&app, &format!("/holdings/{}", cast.addr("t1").to_hex()), 0);
    assert_eq!(r.code, Code::Ok, "{}", r.log);
    let Answer::List(list) = borsh::from_slice(&r.value).unwrap() else {
        panic!("expected a list proof")
    };
    assert_eq!(list.kind, ListKind::Holdings);
    assert_eq!(list.account, cast.addr("t1"));
    let pieces = list.verify(&app_hash).unwrap();
    assert_eq!(pieces.len(), 1);
    assert_eq!(pieces[0].0, piece);
    assert_eq!(pieces[0].1.holder, cast.addr("t1"));

    // Completeness: dropping the piece is detected.
    let mut hidden = list.clone();
    hidden.pieces.clear();
    assert_eq!(
        hidden.verify(&app_hash),
        Err(ProofError::Incomplete {
            expected: 1,
            got: 0
        })
    );

    // An account with nothing: an empty list that is complete.
    let r = query(&app, &format!("/holdings/{}", cast.addr("t2a").to_hex()), 0);
    let Answer::List(empty) = borsh::from_slice(&r.value).unwrap() else {
        panic!("expected a list proof")
    };
    assert_eq!(empty.verify(&app_hash), Ok(Vec::new()));
}

#[test]
fn query_refuses_bad_paths_and_heights_other_than_the_latest() {
    let mut cast = Cast::new();
    let (app, piece) = accepted_chain(&mut cast);
    for path in [
        "/nope/00",
        "/piece/xyz",
        "/piece/",
        "/holdings/00",
        "",
        "/consortium/extra",
    ] {
        let r = query(&app, path, 0);
        assert_eq!(r.code.value(), app::QUERY_BAD_PATH, "{path}");
        assert!(!r.log.is_empty());
        assert!(r.value.is_empty());
        assert_eq!(r.height.value(), 2);
    }
    let path = format!("/piece/{}", piece.to_hex());
    for asked in [1, 3, 100] {
        let r = query(&app, &path, asked);
        assert_eq!(r.code.value(), app::QUERY_BAD_HEIGHT, "height {asked}");
        assert!(r.value.is_empty());
        assert!(r.log.contains("latest height 2"), "{}", r.log);
    }
    // The consortium query works at the latest height.
    let r = query(&app, "/consortium", 2);
    assert_eq!(r.code, Code::Ok);
}

// ================================================================================================
// Misbehaviour
// ================================================================================================

#[test]
fn misbehavior_in_finalize_block_is_reported_and_counted() {
    let cast = Cast::new();
    let mut app = new_app(&cast);
    let evidence = |kind, address, at: u32| Misbehavior {
        kind,
        validator: Validator {
            address,
            power: 10u32.into(),
        },
        height: Height::from(at),
        time: time(GENESIS_TIME),
        total_voting_power: 10u32.into(),
    };
    let req = request::FinalizeBlock {
        misbehavior: vec![
            evidence(MisbehaviorKind::DuplicateVote, [0xab; 20], 1),
            evidence(MisbehaviorKind::LightClientAttack, [0x01; 20], 1),
        ],
        ..abci::finalize_block(1, block_time(1), &[])
    };
    let r = app.finalize_block(&req).unwrap();
    app.commit().unwrap();
    assert_eq!(app.stats().misbehavior, 2);
    assert_eq!(r.events.len(), 2);
    let e = &r.events[0];
    assert_eq!(e.kind, "cascade.misbehavior");
    assert_eq!(attr(e, "validator"), "ab".repeat(20));
    assert_eq!(attr(e, "height"), "1");
    assert_eq!(attr(e, "kind"), "DuplicateVote");
    assert_eq!(attr(&r.events[1], "validator"), "01".repeat(20));
    assert_eq!(attr(&r.events[1], "kind"), "LightClientAttack");

    // Evidence does not change the state: same app hash as a block without it.
    let mut plain = new_app(&cast);
    assert_eq!(run_block(&mut plain, 1, &[]).app_hash, r.app_hash);
    assert_eq!(plain.stats().misbehavior, 0);
}

// ================================================================================================
// Signature cache and parameter changes
// ================================================================================================

#[test]
fn a_cached_transaction_is_still_checked_against_a_lowered_max_tx_bytes() {
    let mut cast = Cast::new();
    let mut seen = new_app(&cast); // has the big transaction in its mempool
    let mut unseen = new_app(&cast); // does not

    let block1 = issue_block(&mut cast);
    run_block(&mut seen, 1, &block1);
    run_block(&mut unseen, 1, &block1);
    let piece = offer_to_t1(&seen, &cast);
    let block2 = vec![cast.tx("t1", TxBody::Accept { piece })];
    run_block(&mut seen, 2, &block2);
    run_block(&mut unseen, 2, &block2);

    // A transfer to four suppliers is more than 256 bytes.
    let outputs = ["t2a", "t2b", "t3a", "t3b"]
        .iter()
        .map(|n| Output {
            to: cast.addr(n),
            amount: Amount(FACE / 10),
        })
        .collect();
    let big = cast.tx("t1", TxBody::Transfer { piece, outputs });
    assert!(big.len() > 256, "{} bytes", big.len());
    assert_eq!(check(&mut seen, &big).code, Code::Ok);

    // Block 3 lowers max_tx_bytes to 256.
    let params = Params {
        max_tx_bytes: 256,
        ..Params::default()
    };
    let update = cast.tx(
        "operator",
        TxBody::UpdateParams {
            params: params.clone(),
        },
    );
    let result = &run_block(&mut seen, 3, std::slice::from_ref(&update)).tx_results[0];
    assert_eq!(result.code, Code::Ok);
    // The event carries the parameters now in force, as JSON.
    let updated = result
        .events
        .iter()
        .find(|e| e.kind == "cascade.params_updated")
        .expect("a params_updated event");
    let announced: Params =
        serde_json::from_str(attr(updated, "params")).expect("parameters as JSON");
    assert_eq!(announced, params);
    assert_eq!(
        run_block(&mut unseen, 3, std::slice::from_ref(&update)).tx_results[0].code,
        Code::Ok
    );
    assert_eq!(seen.ledger().params().max_tx_bytes, 256);

    // Block 4 carries the big transfer.
    let a = finalize(&mut seen, 4, std::slice::from_ref(&big));
    let b = finalize(&mut unseen, 4, std::slice::from_ref(&big));
    assert_eq!(
        b.tx_results[0].code.value(),
        1,
        "too large for the new limit"
    );
    assert_eq!(a.tx_results[0].code, b.tx_results[0].code);
    assert_eq!(a.app_hash, b.app_hash);
}
