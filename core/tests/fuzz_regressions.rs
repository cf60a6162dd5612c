//! Regression tests for what the fuzz targets in `fuzz/` found (see docs/reliability.md).
//!
//! 1. `light` target, first minute: a CometBFT JSON `LightBlock` whose commit signature is
//!    a malformed base64 string made the parser panic (`subtle-encoding` 0.5.1, which the
//!    tendermint types use for base64 fields, indexes out of bounds on input such as `"="`
//!    or `"AAAA="`). The same parser reads every answer of a CometBFT RPC node, so a lying
//!    or broken node, or anyone on the path of a plain-HTTP connection, could crash the
//!    wallet (and through it the host app). JSON from outside the library is now parsed
//!    with `wallet::transport::decode_json`, which turns such a panic into a parse error.
//! 2. `abci` target, first minute: `Commit` with no `FinalizeBlock` before it made the
//!    proposal being executed durable, and a `PrepareProposal` or `ProcessProposal` between
//!    `FinalizeBlock` and `Commit` silently discarded the decided block (so `Commit` wrote
//!    another state than the app hash `FinalizeBlock` had returned). CometBFT never sends
//!    these sequences, but the application promises to refuse requests that do not fit the
//!    block sequence (ADR 0007); it now does, with `AppError::Sequence`.
#![cfg(all(feature = "app", feature = "testkit", feature = "wallet"))]

use bytes::Bytes;
use cascade_core::app::{App, AppError};
use cascade_core::solo::SoloNode;
use cascade_core::testkit::{self, abci, Fixture, GENESIS_TIME};
use cascade_core::wallet::http::HttpTransport;
use cascade_core::wallet::http_client::{HttpClient, HttpResponse};
use cascade_core::wallet::light::{LightClientError, TrustAnchor, TrustedState};
use cascade_core::wallet::solo_transport::SoloTransport;
use cascade_core::wallet::transport::{Transport, TransportError};
use cascade_core::Hash32;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tendermint_light_client_verifier::types::LightBlock;

/// Malformed base64 strings on which `subtle_encoding::base64::decode` panics.
const BAD_BASE64: &[&str] = &["=", "==", "AAAA=", "AAA==", "AAAAAAAA=="];

/// A genuine light block (height 1 of a solo chain).
fn genuine() -> LightBlock {
    let fx = Fixture::standard();
    let node = SoloNode::in_memory(fx.genesis(), testkit::validator_signing_key("validator-0"))
        .expect("solo node");
    let node = Arc::new(Mutex::new(node));
    for i in 1..=2 {
        node.lock()
            .unwrap()
            .produce_block(GENESIS_TIME + 60 * i)
            .expect("block");
    }
    SoloTransport::new(node)
        .light_block(1)
        .expect("light block")
}

/// An HTTP client that answers each RPC method with a fixed JSON `result`.
struct Node {
    commit: Value,
    validators: Value,
    query: Value,
}

impl HttpClient for Node {
    fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
        let result = if url.contains("/commit?") {
            self.commit.clone()
        } else if url.contains("/validators?") {
            // The one validator answers for every height asked.
            let height = url
                .split(['?', '&'])
                .find_map(|p| p.strip_prefix("height="))
                .unwrap_or("1");
            let mut v = self.validators.clone();
            v["block_height"] = json!(height);
            v
        } else {
            self.query.clone()
        };
        let body = json!({"jsonrpc": "2.0", "id": -1, "result": result});
        Ok(HttpResponse {
            status: 200,
            body: serde_json::to_vec(&body).expect("json"),
        })
    }
}

fn node(block: &LightBlock) -> Node {
    let validators: Vec<Value> = block
        .validators
        .validators()
        .iter()
        .map(|v| serde_json::to_value(v).expect("validator json"))
        .collect();
    Node {
        commit: json!({"signed_header": block.signed_header, "canonical": true}),
        validators: json!({
            "block_height": block.height().value().to_string(),
            "validators": validators,
            "count": "1",
            "total": "1",
        }),
        query: json!({"response": {"code": 0, "log": "", "value": "", "height": "1"}}),
    }
}

fn transport(node: Node) -> HttpTransport {
    HttpTransport::with_client("http://node.test", Arc::new(node)).expect("transport")
}

fn is_malformed(r: &Result<impl std::fmt::Debug, TransportError>) -> bool {
    matches!(r, Err(TransportError::Malformed { .. }))
}

#[test]
fn an_honest_node_through_the_same_fake_client_is_read_correctly() {
    // The control: without the malformed field the same client and JSON give the block.
    let block = genuine();
    let t = transport(node(&block));
    let got = t.light_block(1).expect("light block");
    assert_eq!(got.signed_header, block.signed_header);
    assert_eq!(got.validators.hash(), block.validators.hash());
}

#[test]
fn a_malformed_base64_commit_signature_is_a_malformed_answer_not_a_panic() {
    let block = genuine();
    for bad in BAD_BASE64 {
        let mut n = node(&block);
        n.commit["signed_header"]["commit"]["signatures"][0]["signature"] = json!(bad);
        let r = transport(n).light_block(1);
        assert!(is_malformed(&r), "signature {bad:?}: {r:?}");
    }
}

#[test]
fn a_malformed_base64_validator_key_is_a_malformed_answer_not_a_panic() {
    let block = genuine();
    for bad in BAD_BASE64 {
        let mut n = node(&block);
        n.validators["validators"][0]["pub_key"]["value"] = json!(bad);
        let r = transport(n).light_block(1);
        assert!(is_malformed(&r), "validator key {bad:?}: {r:?}");
    }
}

#[test]
fn a_malformed_base64_query_value_is_a_malformed_answer_not_a_panic() {
    let block = genuine();
    for bad in BAD_BASE64 {
        let mut n = node(&block);
        n.query["response"]["value"] = json!(bad);
        let r = transport(n).query("/consortium");
        assert!(is_malformed(&r), "query value {bad:?}: {r:?}");
    }
}

#[test]
fn saved_light_client_state_with_a_malformed_signature_is_an_error_not_a_panic() {
    let block = genuine();
    let vset = Hash32(block.validators.hash().as_bytes().try_into().unwrap());
    let state = TrustedState {
        version: TrustedState::VERSION,
        anchor: TrustAnchor::genesis_validators(testkit::CHAIN_ID, vset),
        blocks: vec![block],
    };
    let mut saved: Value = serde_json::from_slice(&state.to_bytes().unwrap()).unwrap();
    assert!(TrustedState::from_bytes(&serde_json::to_vec(&saved).unwrap()).is_ok());
    for bad in BAD_BASE64 {
        saved["blocks"][0]["signed_header"]["commit"]["signatures"][0]["signature"] = json!(bad);
        let r = TrustedState::from_bytes(&serde_json::to_vec(&saved).unwrap());
        assert!(
            matches!(r, Err(LightClientError::InvalidTrustedState { .. })),
            "signature {bad:?}: {r:?}"
        );
    }
}

#[test]
fn a_genesis_file_with_a_malformed_validator_key_is_an_error_not_a_panic() {
    let block = genuine();
    let genesis = tendermint::Genesis {
        genesis_time: block.time(),
        chain_id: testkit::CHAIN_ID.parse().unwrap(),
        initial_height: 1,
        consensus_params: abci::consensus_params(),
        validators: block.validators.validators().to_vec(),
        app_hash: Default::default(),
        app_state: Value::Null,
    };
    let mut json = serde_json::to_value(&genesis).unwrap();
    // The control: the file as written parses into the anchor of the block's validators.
    let anchor =
        TrustAnchor::from_cometbft_genesis(&serde_json::to_vec(&json).unwrap()).expect("anchor");
    let vset = Hash32(block.validators.hash().as_bytes().try_into().unwrap());
    assert_eq!(
        anchor,
        TrustAnchor::genesis_validators(testkit::CHAIN_ID, vset)
    );
    for bad in BAD_BASE64 {
        json["validators"][0]["pub_key"]["value"] = json!(bad);
        let r = TrustAnchor::from_cometbft_genesis(&serde_json::to_vec(&json).unwrap());
        assert!(
            matches!(r, Err(LightClientError::InvalidAnchor { .. })),
            "validator key {bad:?}: {r:?}"
        );
    }
}

// ---- 2. ABCI request sequences ----------------------------------------------------------------

/// An application on the standard fixture's genesis, and a valid transaction for block 1.
fn app_and_tx() -> (App, Bytes) {
    let fx = Fixture::standard();
    let app = abci::new_app(fx.genesis());
    let core = fx.addr("core");
    let body = cascade_core::tx::TxBody::SetCreditLine {
        obligor: core,
        currency: testkit::cny(),
        limit: cascade_core::Amount(1_000_00),
    };
    let tx = fx.sign_with("bank", 0, body);
    (app, Bytes::from(tx))
}

fn prepare(app: &mut App, h: u64, txs: &[Bytes]) -> Result<Vec<Bytes>, AppError> {
    app.prepare_proposal(&abci::prepare_proposal(h, abci::block_time(h), txs))
        .map(|r| r.txs)
}

fn process(app: &mut App, h: u64, txs: &[Bytes]) -> Result<(), AppError> {
    app.process_proposal(&abci::process_proposal(h, abci::block_time(h), txs))
        .map(|_| ())
}

fn finalize(app: &mut App, h: u64, txs: &[Bytes]) -> tendermint::AppHash {
    app.finalize_block(&abci::finalize_block(h, abci::block_time(h), txs))
        .unwrap()
        .app_hash
}

fn committed(app: &App) -> (u64, Hash32) {
    let c = app.ledger().committed().unwrap();
    (c.version, c.app_hash)
}

#[test]
fn commit_without_finalize_block_is_refused_and_writes_nothing() {
    let (mut app, tx) = app_and_tx();
    let genesis = committed(&app);
    assert_eq!(
        prepare(&mut app, 1, std::slice::from_ref(&tx)).unwrap(),
        vec![tx.clone()]
    );
    let err = app
        .commit()
        .expect_err("Commit after PrepareProposal alone");
    assert!(matches!(err, AppError::Sequence { .. }), "{err:?}");
    assert_eq!(
        committed(&app),
        genesis,
        "the proposal's execution became durable"
    );
    // The regular sequence still works and commits what FinalizeBlock reported.
    let hash = finalize(&mut app, 1, &[tx]);
    app.commit().unwrap();
    assert_eq!(committed(&app).0, 1);
    assert_eq!(committed(&app).1 .0.as_slice(), hash.as_bytes());
    // And a second Commit for the same block is refused.
    assert!(matches!(app.commit(), Err(AppError::Sequence { .. })));
}

#[test]
fn a_proposal_between_finalize_block_and_commit_is_refused() {
    let (mut app, tx) = app_and_tx();
    let decided = finalize(&mut app, 1, std::slice::from_ref(&tx));
    let err = prepare(&mut app, 1, &[]).expect_err("PrepareProposal after FinalizeBlock");
    assert!(matches!(err, AppError::Sequence { .. }), "{err:?}");
    let err = process(&mut app, 1, &[]).expect_err("ProcessProposal after FinalizeBlock");
    assert!(matches!(err, AppError::Sequence { .. }), "{err:?}");
    // Commit writes the decided block, not an empty proposal.
    app.commit().unwrap();
    assert_eq!(committed(&app).1 .0.as_slice(), decided.as_bytes());
    let bank = Fixture::standard().addr("bank");
    assert_eq!(
        app.ledger().account(&bank).unwrap().nonce,
        1,
        "the decided transaction ran"
    );
    // The next height proposes normally again.
    assert!(prepare(&mut app, 2, &[]).is_ok());
}
