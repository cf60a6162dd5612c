//! The wallet's light client against real CometBFT headers from a solo node: skipping and
//! sequential sync, validator-set changes, lying primaries and witnesses, forks, expiry,
//! state proofs against verified app hashes, saved state, and the HTTP transport against a
//! tiny in-test JSON-RPC server serving recorded solo responses.
#![cfg(all(feature = "app", feature = "testkit", feature = "wallet"))]

use cascade_core::codec;
use cascade_core::keys;
use cascade_core::proof::{ProofError, StateProof};
use cascade_core::query::{Answer, Query};
use cascade_core::solo::{BlockSummary, SoloNode};
use cascade_core::testkit::{self, cny, first_piece, offered_and_change, Fixture, GENESIS_TIME};
use cascade_core::tx::{Output, Tx, TxBody};
use cascade_core::wallet::http::{url_encode, HttpConfig, HttpTransport};
use cascade_core::wallet::light::{
    app_hash_of, header_hash, AnchorHash, LightClient, LightClientError, Options, TrustAnchor,
    TrustedState, WitnessStatus,
};
use cascade_core::wallet::solo_transport::SoloTransport;
use cascade_core::wallet::transport::{
    BlockOutcome, BroadcastResult, NodeStatus, QueryResult, Transport, TransportError, TxLocation,
};
use cascade_core::*;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tendermint::block::{self, parts, Commit, CommitSig, Header, Height, Round};
use tendermint::vote::{self, ValidatorIndex, Vote};
use tendermint::{chain, validator, Time};
use tendermint_light_client_verifier::errors::VerificationErrorDetail;
use tendermint_light_client_verifier::types::LightBlock;

const VALIDATOR_SEED: &str = "validator-0";

// ---- a solo chain -------------------------------------------------------------------------

struct Chain {
    node: Arc<Mutex<SoloNode>>,
    fx: Fixture,
    chain_id: String,
    nonces: BTreeMap<String, u64>,
    time: i64,
}

impl Chain {
    fn new() -> Chain {
        Chain::with_chain_id(testkit::CHAIN_ID)
    }

    fn with_chain_id(chain_id: &str) -> Chain {
        let fx = Fixture::standard();
        let mut genesis = fx.genesis().clone();
        genesis.chain_id = chain_id.to_string();
        let node = SoloNode::in_memory(&genesis, testkit::validator_signing_key(VALIDATOR_SEED))
            .expect("solo node");
        Chain {
            node: Arc::new(Mutex::new(node)),
            fx,
            chain_id: chain_id.to_string(),
            nonces: BTreeMap::new(),
            time: GENESIS_TIME + 3600,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SoloNode> {
        self.node.lock().expect("node lock")
    }

    fn transport(&self) -> SoloTransport {
        SoloTransport::new(self.node.clone())
    }

    fn named(&self, name: &str) -> SoloTransport {
        SoloTransport::named(self.node.clone(), name)
    }

    fn height(&self) -> u64 {
        self.lock().latest_height()
    }

    fn block(&mut self) -> BlockSummary {
        self.time += 10;
        let time = self.time;
        self.lock().produce_block(time).expect("produce block")
    }

    fn blocks(&mut self, n: u64) {
        for _ in 0..n {
            self.block();
        }
    }

    fn sign(&mut self, who: &str, body: TxBody) -> Vec<u8> {
        let nonce = self.nonces.entry(who.to_string()).or_insert(0);
        let key = self.fx.key(who);
        let expiry = self.node.lock().expect("lock").latest_height() + 100;
        let bytes = Tx {
            chain_id: self.chain_id.clone(),
            signer: key.public_key(),
            nonce: *nonce,
            expiry_height: expiry,
            body,
        }
        .sign(key)
        .to_bytes();
        *nonce += 1;
        bytes
    }

    /// One transaction in a block of its own; returns the block.
    fn run(&mut self, who: &str, body: TxBody) -> BlockSummary {
        let bytes = self.sign(who, body);
        self.lock().submit(bytes).expect("submit");
        let summary = self.block();
        assert_eq!(summary.txs.len(), 1);
        assert_eq!(summary.txs[0].code, 0, "{}", summary.txs[0].log);
        summary
    }

    /// The block's events, read back through the node's receipt index.
    fn events(&self, summary: &BlockSummary) -> Vec<Event> {
        self.lock()
            .receipt(&summary.txs[0].hash)
            .expect("receipt read")
            .expect("receipt")
            .events
    }

    fn addr(&self, who: &str) -> Address {
        self.fx.addr(who)
    }

    /// Shortly after the latest block: the phone's clock.
    fn now(&self) -> Time {
        Time::from_unix_timestamp(self.time + 1, 0).expect("time")
    }

    fn anchor(&self) -> TrustAnchor {
        let set = self.lock().validator_set(1).expect("validator set");
        let hash = Hash32(set.hash().as_bytes().try_into().expect("32 bytes"));
        TrustAnchor::genesis_validators(self.chain_id.clone(), hash)
    }

    fn light_block(&self, height: u64) -> LightBlock {
        self.transport().light_block(height).expect("light block")
    }

    fn client(&self, options: Options) -> LightClient {
        LightClient::new(self.anchor(), options, &self.transport(), &[], self.now())
            .expect("anchor")
    }

    /// Credit line, document, issue to t1, accept, and a split to t2a with change: t1 then
    /// holds the change piece. Returns (root, change piece).
    fn issue_and_split(&mut self) -> (Hash32, Hash32) {
        let core = self.addr("core");
        let (t1, t2a, bank) = (self.addr("t1"), self.addr("t2a"), self.addr("bank"));
        self.run(
            "bank",
            TxBody::SetCreditLine {
                obligor: core,
                currency: cny(),
                limit: Amount(1_000_000_000),
            },
        );
        let document = Hash32([7; 32]);
        self.run(
            "core",
            TxBody::AnchorDocument {
                hash: document,
                amount: Money {
                    amount: Amount(1_000_000_00),
                    currency: cny(),
                },
                buyer: core,
                seller: t1,
            },
        );
        let today = Day::from_unix_seconds(self.time).expect("day");
        let s = self.run(
            "core",
            TxBody::Issue {
                to: t1,
                amount: Amount(1_000_000_00),
                currency: cny(),
                maturity: Day(today.0 + 30),
                document,
                credit_grantor: bank,
            },
        );
        let root = first_piece(&self.events(&s));
        self.run("t1", TxBody::Accept { piece: root });
        let s = self.run(
            "t1",
            TxBody::Transfer {
                piece: root,
                outputs: vec![Output {
                    to: t2a,
                    amount: Amount(600_000_00),
                }],
            },
        );
        let (_, change) = offered_and_change(&self.events(&s));
        (root, change.expect("change piece"))
    }
}

fn options() -> Options {
    Options::default()
}

fn secs(t: Time, s: i64) -> Time {
    Time::from_unix_timestamp(t.unix_timestamp() + s, 0).expect("time")
}

// ---- transports that misbehave ------------------------------------------------------------

type Alter = Box<dyn Fn(&dyn Transport, u64, LightBlock) -> LightBlock + Send + Sync>;

/// Wraps a transport and alters the light blocks it returns from height `from` on.
struct LyingTransport {
    inner: Box<dyn Transport>,
    from: u64,
    alter: Alter,
}

impl LyingTransport {
    fn new(
        inner: impl Transport + 'static,
        from: u64,
        alter: impl Fn(&dyn Transport, u64, LightBlock) -> LightBlock + Send + Sync + 'static,
    ) -> LyingTransport {
        LyingTransport {
            inner: Box::new(inner),
            from,
            alter: Box::new(alter),
        }
    }
}

impl Transport for LyingTransport {
    fn name(&self) -> String {
        format!("lying({})", self.inner.name())
    }
    fn status(&self) -> Result<NodeStatus, TransportError> {
        self.inner.status()
    }
    fn light_block(&self, height: u64) -> Result<LightBlock, TransportError> {
        let block = self.inner.light_block(height)?;
        if height >= self.from {
            Ok((self.alter)(self.inner.as_ref(), height, block))
        } else {
            Ok(block)
        }
    }
    fn query(&self, path: &str) -> Result<QueryResult, TransportError> {
        self.inner.query(path)
    }
    fn broadcast(&self, tx: &[u8]) -> Result<BroadcastResult, TransportError> {
        self.inner.broadcast(tx)
    }
    fn block_outcome(&self, height: u64) -> Result<BlockOutcome, TransportError> {
        self.inner.block_outcome(height)
    }
    fn tx_location(&self, hash: &Hash32) -> Result<Option<TxLocation>, TransportError> {
        self.inner.tx_location(hash)
    }
}

/// A node that never answers.
struct Down;

impl Transport for Down {
    fn name(&self) -> String {
        "down".into()
    }
    fn status(&self) -> Result<NodeStatus, TransportError> {
        Err(self.err())
    }
    fn light_block(&self, _: u64) -> Result<LightBlock, TransportError> {
        Err(self.err())
    }
    fn query(&self, _: &str) -> Result<QueryResult, TransportError> {
        Err(self.err())
    }
    fn broadcast(&self, _: &[u8]) -> Result<BroadcastResult, TransportError> {
        Err(self.err())
    }
    fn block_outcome(&self, _: u64) -> Result<BlockOutcome, TransportError> {
        Err(self.err())
    }
    fn tx_location(&self, _: &Hash32) -> Result<Option<TxLocation>, TransportError> {
        Err(self.err())
    }
}

impl Down {
    fn err(&self) -> TransportError {
        TransportError::Unreachable {
            node: "down".into(),
            reason: "connection refused".into(),
        }
    }
}

fn detail(err: &LightClientError) -> &VerificationErrorDetail {
    match err {
        LightClientError::Verification { detail, .. } => detail,
        other => panic!("expected a verification error, got {other:?}"),
    }
}

/// Syncs `client` to `target` through `primary` and expects an error, checking the trusted
/// block did not move.
fn refused(
    client: &mut LightClient,
    target: u64,
    primary: &dyn Transport,
    witnesses: &[&dyn Transport],
    now: Time,
) -> LightClientError {
    let before = client.trusted().clone();
    let err = match client.sync_to(target, primary, witnesses, now) {
        Ok(b) => panic!("block {} was accepted", b.height()),
        Err(e) => e,
    };
    assert_eq!(
        client.trusted(),
        &before,
        "the trusted block moved after {err}"
    );
    err
}

// ---- sync ---------------------------------------------------------------------------------

#[test]
fn sequential_and_skipping_sync_over_200_blocks() {
    let mut c = Chain::new();
    c.blocks(200);
    let t = c.transport();

    let mut seq = c.client(options());
    assert_eq!(seq.trusted_height(), 1);
    assert_eq!(seq.stats().verifications, 1, "the anchor's commit check");
    for h in 2..=200 {
        let b = seq.sync_to(h, &t, &[], c.now()).expect("sequential");
        assert_eq!(b.height().value(), h);
    }
    assert_eq!(seq.stats().verifications, 200);

    let mut skip = c.client(options());
    let b = skip
        .sync_to(200, &t, &[], c.now())
        .expect("skipping")
        .clone();
    assert_eq!(header_hash(&b), header_hash(&c.light_block(200)));
    assert_eq!(skip.stats().verifications, 2, "anchor + one skip");
    assert_eq!(skip.stats().bisections, 0);
    assert_eq!(seq.trusted(), skip.trusted());
}

#[test]
fn sync_after_a_long_gap_takes_few_verifications() {
    let mut c = Chain::new();
    c.blocks(10);
    let t = c.transport();
    let mut client = c.client(options());
    client.sync_to(10, &t, &[], c.now()).expect("sync");
    c.blocks(2_000);
    let before = client.stats().verifications;
    let latest = client
        .sync_to_latest(&t, &[], c.now())
        .expect("sync after gap");
    assert_eq!(latest.height().value(), 2_010);
    let used = client.stats().verifications - before;
    assert!(used <= 10, "{used} verifications");
    assert_eq!(used, 1);
}

#[test]
fn kept_blocks_are_bounded_and_older_headers_verify_backwards() {
    let mut c = Chain::new();
    c.blocks(40);
    let t = c.transport();
    let mut client = c.client(Options {
        max_stored_blocks: 4,
        ..options()
    });
    for h in 2..=40 {
        client.sync_to(h, &t, &[], c.now()).expect("sync");
    }
    assert_eq!(client.stored_heights(), vec![37, 38, 39, 40]);
    // Header 11 (state 10) is below every kept block: verified by hash links from 37.
    let app_hash = client
        .verified_app_hash_for_state(10, &t, &[], c.now())
        .expect("backward");
    assert_eq!(app_hash, app_hash_of(&c.light_block(11)).expect("32 bytes"));
    assert_eq!(client.stats().backward_steps, 26);
    assert_eq!(client.trusted_height(), 40);

    assert_eq!(client.stored_heights(), vec![11, 38, 39, 40]);
    // A primary that lies below the kept blocks is caught by the hash links (walking down
    // from the nearest kept block, 11).
    let liar = LyingTransport::new(c.transport(), 1, |_, _, mut b| {
        b.signed_header.header.app_hash =
            tendermint::AppHash::try_from(vec![9u8; 32]).expect("hash");
        b
    });
    let err = client
        .verified_app_hash_for_state(4, &liar, &[], c.now())
        .expect_err("lie");
    assert!(
        matches!(err, LightClientError::HashChainMismatch { height: 10, .. }),
        "{err:?}"
    );
}

// ---- validator-set changes (a synthetic chain, since solo mode has one fixed validator) ---

/// Blocks signed by validator sets that change with height; every header is a real
/// CometBFT header (template from a solo block), every commit really signed.
struct Synthetic {
    blocks: Vec<LightBlock>,
}

fn key_set(
    seeds: &[String],
) -> (
    validator::Set,
    BTreeMap<tendermint::account::Id, ed25519_consensus::SigningKey>,
) {
    let mut keys = BTreeMap::new();
    let mut infos = Vec::new();
    for seed in seeds {
        let key = testkit::validator_signing_key(seed);
        let pk = tendermint::PublicKey::from_raw_ed25519(&key.verification_key().to_bytes())
            .expect("key");
        let info = validator::Info::new(pk, 10_u32.into());
        keys.insert(info.address, key);
        infos.push(info);
    }
    (validator::Set::without_proposer(infos), keys)
}

impl Synthetic {
    fn new(n: u64, seeds: impl Fn(u64) -> Vec<String>) -> Synthetic {
        let mut template_chain = Chain::new();
        template_chain.block();
        let template: Header = template_chain.light_block(1).signed_header.header;
        let chain_id: chain::Id = template.chain_id.clone();
        let mut blocks: Vec<LightBlock> = Vec::new();
        let mut last_id: Option<block::Id> = None;
        for h in 1..=n {
            let (set, keys) = key_set(&seeds(h));
            let (next, _) = key_set(&seeds(h + 1));
            let time = Time::from_unix_timestamp(GENESIS_TIME + 10 * h as i64, 0).expect("time");
            let mut header = template.clone();
            header.height = Height::try_from(h).expect("height");
            header.time = time;
            header.last_block_id = last_id;
            header.validators_hash = set.hash();
            header.next_validators_hash = next.hash();
            header.proposer_address = set.validators()[0].address;
            let id = block::Id {
                hash: header.hash(),
                part_set_header: parts::Header::new(1, tendermint::Hash::Sha256([h as u8; 32]))
                    .expect("parts"),
            };
            let vote_time = secs(time, 1);
            let mut signatures = Vec::new();
            for (i, info) in set.validators().iter().enumerate() {
                let vote = Vote {
                    vote_type: vote::Type::Precommit,
                    height: header.height,
                    round: Round::default(),
                    block_id: Some(id),
                    timestamp: Some(vote_time),
                    validator_address: info.address,
                    validator_index: ValidatorIndex::try_from(i as u32).expect("index"),
                    signature: None,
                    extension: Vec::new(),
                    extension_signature: None,
                };
                let bytes = vote.into_signable_vec(chain_id.clone());
                let signature = tendermint::Signature::from(keys[&info.address].sign(&bytes));
                signatures.push(CommitSig::BlockIdFlagCommit {
                    validator_address: info.address,
                    timestamp: vote_time,
                    signature: Some(signature),
                });
            }
            let commit = Commit {
                height: header.height,
                round: Round::default(),
                block_id: id,
                signatures,
            };
            let sh =
                block::signed_header::SignedHeader::new(header, commit).expect("signed header");
            blocks.push(LightBlock::new(
                sh,
                set,
                next,
                tendermint::node::Id::new([0; 20]),
            ));
            last_id = Some(id);
        }
        Synthetic { blocks }
    }

    fn now(&self) -> Time {
        secs(self.blocks[self.blocks.len() - 1].time(), 1)
    }

    fn anchor(&self) -> TrustAnchor {
        TrustAnchor::header(testkit::CHAIN_ID, 1, header_hash(&self.blocks[0]))
    }
}

impl Transport for Synthetic {
    fn name(&self) -> String {
        "synthetic".into()
    }
    fn status(&self) -> Result<NodeStatus, TransportError> {
        Ok(NodeStatus {
            chain_id: testkit::CHAIN_ID.into(),
            latest_height: self.blocks.len() as u64,
        })
    }
    fn light_block(&self, height: u64) -> Result<LightBlock, TransportError> {
        height
            .checked_sub(1)
            .and_then(|i| self.blocks.get(i as usize))
            .cloned()
            .ok_or(TransportError::NotFound {
                node: "synthetic".into(),
                what: format!("block {height}"),
            })
    }
    fn query(&self, _: &str) -> Result<QueryResult, TransportError> {
        Err(TransportError::NotFound {
            node: "synthetic".into(),
            what: "state".into(),
        })
    }
    fn broadcast(&self, _: &[u8]) -> Result<BroadcastResult, TransportError> {
        Err(TransportError::NotFound {
            node: "synthetic".into(),
            what: "mempool".into(),
        })
    }
    fn block_outcome(&self, height: u64) -> Result<BlockOutcome, TransportError> {
        Err(TransportError::NotFound {
            node: "synthetic".into(),
            what: format!("the results of block {height}"),
        })
    }
    fn tx_location(&self, _: &Hash32) -> Result<Option<TxLocation>, TransportError> {
        Ok(None)
    }
}

#[test]
fn validator_set_changes_are_followed_by_bisection() {
    // Four validators, all replaced every 50 blocks: skipping across a change has no overlap.
    let chain = Synthetic::new(200, |h| {
        let epoch = (h - 1) / 50;
        (0..4).map(|i| format!("rot-{epoch}-{i}")).collect()
    });
    let mut client =
        LightClient::new(chain.anchor(), options(), &chain, &[], chain.now()).expect("anchor");
    let b = client
        .sync_to(200, &chain, &[], chain.now())
        .expect("sync")
        .clone();
    assert_eq!(b, chain.blocks[199]);
    let stats = client.stats();
    assert!(stats.bisections >= 3, "{stats:?}");
    assert_eq!(stats.verifications, 1 + 7, "{stats:?}");
    // The epoch boundaries were crossed through adjacent blocks and kept.
    assert!(client.block(50).is_some() && client.block(150).is_some());

    // One of four replaced every 10 blocks: skipping works while 1/3 of the power remains.
    let chain = Synthetic::new(200, |h| {
        let e = (h - 1) / 10;
        (e..e + 4).map(|i| format!("slide-{i}")).collect()
    });
    let mut client =
        LightClient::new(chain.anchor(), options(), &chain, &[], chain.now()).expect("anchor");
    let b = client
        .sync_to(200, &chain, &[], chain.now())
        .expect("sync")
        .clone();
    assert_eq!(b, chain.blocks[199]);
    assert!(client.stats().verifications < 40, "{:?}", client.stats());

    // A forged validator set on a chain with changes is still refused.
    let (other, _) = key_set(&["intruder".to_string()]);
    let liar = LyingTransport::new(
        Synthetic::new(120, |h| vec![format!("s-{}", (h - 1) / 50)]),
        2,
        move |_, _, mut b| {
            b.validators = other.clone();
            b
        },
    );
    let chain = Synthetic::new(120, |h| vec![format!("s-{}", (h - 1) / 50)]);
    let mut client =
        LightClient::new(chain.anchor(), options(), &chain, &[], chain.now()).expect("anchor");
    let err = refused(&mut client, 120, &liar, &[], chain.now());
    assert!(
        matches!(
            detail(&err),
            VerificationErrorDetail::InvalidValidatorSet(_)
        ),
        "{err:?}"
    );
}

// ---- lies ---------------------------------------------------------------------------------

#[test]
fn forged_header_fields_are_refused() {
    let mut c = Chain::new();
    c.blocks(30);
    let mut client = c.client(options());
    client
        .sync_to(10, &c.transport(), &[], c.now())
        .expect("sync");

    let app_hash = LyingTransport::new(c.transport(), 11, |_, _, mut b| {
        b.signed_header.header.app_hash =
            tendermint::AppHash::try_from(vec![1u8; 32]).expect("hash");
        b
    });
    let err = refused(&mut client, 30, &app_hash, &[], c.now());
    assert!(
        matches!(detail(&err), VerificationErrorDetail::InvalidCommitValue(_)),
        "{err:?}"
    );

    let time = LyingTransport::new(c.transport(), 11, |_, _, mut b| {
        b.signed_header.header.time = secs(b.signed_header.header.time, -5);
        b
    });
    let err = refused(&mut client, 30, &time, &[], c.now());
    assert!(
        matches!(detail(&err), VerificationErrorDetail::InvalidCommitValue(_)),
        "{err:?}"
    );

    // Block 20 presented as block 30 (header and commit heights rewritten).
    let height = LyingTransport::new(c.transport(), 11, |inner, h, _| {
        let mut b = inner.light_block(20).expect("block 20");
        let forged = Height::try_from(h).expect("height");
        b.signed_header.header.height = forged;
        b.signed_header.commit.height = forged;
        b
    });
    let err = refused(&mut client, 30, &height, &[], c.now());
    assert!(
        matches!(detail(&err), VerificationErrorDetail::InvalidCommitValue(_)),
        "{err:?}"
    );

    // The honest primary still works afterwards.
    client
        .sync_to(30, &c.transport(), &[], c.now())
        .expect("honest sync");
}

#[test]
fn bad_commits_and_validator_sets_are_refused() {
    let mut c = Chain::new();
    c.blocks(30);
    let mut client = c.client(options());
    client
        .sync_to(10, &c.transport(), &[], c.now())
        .expect("sync");

    let bad_sig = LyingTransport::new(c.transport(), 11, |_, _, mut b| {
        if let CommitSig::BlockIdFlagCommit {
            signature: Some(sig),
            ..
        } = &mut b.signed_header.commit.signatures[0]
        {
            let mut bytes = sig.as_bytes().to_vec();
            bytes[0] ^= 1;
            *sig = tendermint::Signature::try_from(bytes).expect("signature");
        }
        b
    });
    let err = refused(&mut client, 30, &bad_sig, &[], c.now());
    assert!(
        matches!(detail(&err), VerificationErrorDetail::InvalidSignature(_)),
        "{err:?}"
    );

    // A valid commit, but for another block at the same height (a fork's).
    let mut fork = Chain::new();
    fork.blocks(29);
    let core = fork.addr("core");
    fork.run(
        "bank",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(5),
        },
    );
    let fork_commit = fork.light_block(30).signed_header.commit;
    let other_commit = LyingTransport::new(c.transport(), 30, move |_, _, mut b| {
        b.signed_header.commit = fork_commit.clone();
        b
    });
    let err = refused(&mut client, 30, &other_commit, &[], c.now());
    assert!(
        matches!(detail(&err), VerificationErrorDetail::InvalidCommitValue(_)),
        "{err:?}"
    );

    let (other_set, _) = key_set(&["validator-1".to_string()]);
    let wrong_set = LyingTransport::new(c.transport(), 11, move |_, _, mut b| {
        b.validators = other_set.clone();
        b
    });
    let err = refused(&mut client, 30, &wrong_set, &[], c.now());
    assert!(
        matches!(
            detail(&err),
            VerificationErrorDetail::InvalidValidatorSet(_)
        ),
        "{err:?}"
    );

    // The right key under another validator's address.
    let misaddressed = LyingTransport::new(c.transport(), 11, |_, _, mut b| {
        b.validators.validators[0].address = tendermint::account::Id::new([7; 20]);
        b
    });
    let err = refused(&mut client, 30, &misaddressed, &[], c.now());
    assert!(
        matches!(err, LightClientError::Malformed { height: 30, .. }),
        "{err:?}"
    );
}

#[test]
fn another_chain_an_old_state_and_a_future_header_are_refused() {
    let mut c = Chain::new();
    c.blocks(60);
    let mut client = c.client(options());
    client
        .sync_to(50, &c.transport(), &[], c.now())
        .expect("sync");

    // Same validator, same times plus a little, but another chain id.
    let mut other = Chain::with_chain_id("cascade-other");
    other.time += 5;
    other.blocks(60);
    let err = refused(&mut client, 60, &other.transport(), &[], other.now());
    assert_eq!(
        err,
        LightClientError::WrongChainId {
            expected: testkit::CHAIN_ID.into(),
            got: "cascade-other".into()
        }
    );

    // Asked for 60, the primary replays block 30.
    let replay = LyingTransport::new(c.transport(), 51, |inner, _, _| {
        inner.light_block(30).expect("block 30")
    });
    let err = refused(&mut client, 60, &replay, &[], c.now());
    assert_eq!(
        err,
        LightClientError::NonMonotonicHeight {
            trusted: 50,
            got: 30
        }
    );

    // A header a minute ahead of the phone's clock.
    let header_time = c.light_block(60).time();
    let now = secs(header_time, -60);
    let err = refused(&mut client, 60, &c.transport(), &[], now);
    assert!(
        matches!(err, LightClientError::FromFuture { height: 60, header_time: t, .. } if t == header_time),
        "{err:?}"
    );
    client
        .sync_to(60, &c.transport(), &[], c.now())
        .expect("honest sync");
}

#[test]
fn expired_trust_is_a_typed_error() {
    let mut c = Chain::new();
    c.blocks(20);
    let mut client = c.client(options());
    client
        .sync_to(10, &c.transport(), &[], c.now())
        .expect("sync");
    let trusted_time = client.trusted().time();
    let later = secs(trusted_time, 15 * 86_400);
    let err = refused(&mut client, 20, &c.transport(), &[], later);
    assert!(
        matches!(err, LightClientError::TrustExpired { height: 10, now, .. } if now == later),
        "{err:?}"
    );
    // An anchor that is already too old is refused the same way.
    let err = LightClient::new(c.anchor(), options(), &c.transport(), &[], later).expect_err("old");
    assert!(
        matches!(err, LightClientError::TrustExpired { height: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn anchors_are_checked() {
    let mut c = Chain::new();
    c.blocks(5);
    let t = c.transport();
    let mut wrong = c.anchor();
    wrong.hash = AnchorHash::Validators(Hash32([1; 32]));
    let err = LightClient::new(wrong, options(), &t, &[], c.now()).expect_err("wrong set");
    assert!(
        matches!(err, LightClientError::InvalidAnchor { .. }),
        "{err:?}"
    );

    let mut other_chain = c.anchor();
    other_chain.chain_id = "someone-else".into();
    let err = LightClient::new(other_chain, options(), &t, &[], c.now()).expect_err("chain");
    assert!(
        matches!(err, LightClientError::WrongChainId { .. }),
        "{err:?}"
    );

    let by_header = TrustAnchor::header(testkit::CHAIN_ID, 3, header_hash(&c.light_block(3)));
    let client = LightClient::new(by_header.clone(), options(), &t, &[], c.now()).expect("header");
    assert_eq!(client.trusted_height(), 3);
    let mut wrong = by_header;
    wrong.hash = AnchorHash::Header(header_hash(&c.light_block(2)));
    let err = LightClient::new(wrong, options(), &t, &[], c.now()).expect_err("wrong header");
    assert!(
        matches!(err, LightClientError::InvalidAnchor { .. }),
        "{err:?}"
    );

    let first_time = c.light_block(1).time();
    let err = LightClient::new(c.anchor(), options(), &t, &[], secs(first_time, -60))
        .expect_err("future anchor");
    assert!(
        matches!(err, LightClientError::FromFuture { height: 1, .. }),
        "{err:?}"
    );
}

// ---- witnesses and forks ------------------------------------------------------------------

/// Two chains from one genesis and one validator key, identical up to block 4; block 5 of
/// the fork carries a transaction the honest chain does not have.
fn honest_and_fork() -> (Chain, Chain) {
    let mut honest = Chain::new();
    let mut fork = Chain::new();
    honest.blocks(4);
    fork.blocks(4);
    let core = fork.addr("core");
    fork.run(
        "bank",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(5),
        },
    );
    honest.block();
    honest.blocks(10);
    fork.blocks(10);
    assert_eq!(honest.time, fork.time);
    assert_eq!(honest.light_block(4), fork.light_block(4));
    assert_ne!(
        header_hash(&honest.light_block(5)),
        header_hash(&fork.light_block(5))
    );
    (honest, fork)
}

#[test]
fn a_fork_is_a_conflict_and_never_trusted() {
    let (honest, fork) = honest_and_fork();
    let (h, f) = (honest.named("honest"), fork.named("fork"));
    let mut client = LightClient::new(honest.anchor(), options(), &h, &[&f], honest.now())
        .expect("block 1 is shared");
    let err = refused(&mut client, 15, &f, &[&h], honest.now());
    let LightClientError::Conflict {
        height,
        primary,
        witness,
        evidence,
    } = &err
    else {
        panic!("expected a conflict, got {err:?}");
    };
    assert_eq!(
        (*height, primary.as_str(), witness.as_str()),
        (15, "fork", "honest")
    );
    assert_eq!(evidence.primary_hash, header_hash(&fork.light_block(15)));
    assert_eq!(evidence.witness_hash, header_hash(&honest.light_block(15)));
    assert_eq!(evidence.primary_block, fork.light_block(15));
    assert_eq!(evidence.witness_block, honest.light_block(15));
    assert_eq!(evidence.common_height, 1);
    assert_eq!(client.trusted_height(), 1);
    assert!(client.block(15).is_none() && client.block(5).is_none());
    assert_eq!(client.stats().conflicts, 1);

    // The honest primary with the fork as witness: the same conflict, from the other side.
    let err = refused(&mut client, 15, &h, &[&f], honest.now());
    assert!(
        matches!(err, LightClientError::Conflict { height: 15, .. }),
        "{err:?}"
    );
    // An anchor at a height where the two differ, by the validator set both share: the
    // anchor itself conflicts.
    let mut at_five = honest.anchor();
    at_five.height = 5;
    let err = LightClient::new(at_five, options(), &f, &[&h], honest.now()).expect_err("fork");
    assert!(
        matches!(&err, LightClientError::Conflict { height: 5, evidence, .. } if evidence.common_height == 0),
        "{err:?}"
    );
    // Before the fork point both agree.
    client
        .sync_to(4, &h, &[&f], honest.now())
        .expect("shared history");
}

#[test]
fn witnesses_unreachable_or_lying_do_not_count_as_agreement() {
    let mut c = Chain::new();
    c.blocks(20);
    let (primary, second) = (c.named("primary"), c.named("second"));
    let mut client = c.client(options());

    // One unreachable witness and one that agrees: progress, with both reported.
    client
        .sync_to(10, &primary, &[&Down, &second], c.now())
        .expect("one agrees");
    let reports = client.last_witness_reports();
    assert!(matches!(reports[0].status, WitnessStatus::Unreachable(_)));
    assert_eq!(reports[1].status, WitnessStatus::Agreed);

    // Only an unreachable witness: refused.
    let err = refused(&mut client, 15, &primary, &[&Down], c.now());
    assert!(
        matches!(err, LightClientError::NoWitnessAgreed { height: 15, .. }),
        "{err:?}"
    );

    // A lying witness whose header does not verify is faulty, not a fork.
    let liar = LyingTransport::new(c.named("liar"), 1, |_, _, mut b| {
        b.signed_header.header.app_hash =
            tendermint::AppHash::try_from(vec![2u8; 32]).expect("hash");
        b
    });
    let err = refused(&mut client, 15, &primary, &[&liar], c.now());
    let LightClientError::NoWitnessAgreed { reports, .. } = &err else {
        panic!("expected no agreement, got {err:?}");
    };
    assert!(matches!(reports[0].status, WitnessStatus::Faulty { .. }));
    client
        .sync_to(15, &primary, &[&liar, &second], c.now())
        .expect("one honest witness");
    assert!(matches!(
        client.last_witness_reports()[0].status,
        WitnessStatus::Faulty { .. }
    ));
    assert_eq!(client.trusted_height(), 15);
}

// ---- state proofs -------------------------------------------------------------------------

fn answer(t: &dyn Transport, q: &Query) -> Answer {
    let r = t.query(&q.path()).expect("query");
    assert_eq!(r.code, 0, "{}", r.log);
    codec::decode_stored(&r.value).expect("answer decodes")
}

#[test]
fn proofs_verify_against_the_verified_app_hash_and_lies_are_caught() {
    let mut c = Chain::new();
    let (_, change) = c.issue_and_split();
    let t = c.transport();
    let t1 = c.addr("t1");
    let Answer::State(piece_proof) = answer(&t, &Query::Piece(change)) else {
        panic!("state answer")
    };
    let Answer::List(holdings) = answer(&t, &Query::Holdings(t1)) else {
        panic!("list answer")
    };
    let version = piece_proof.version;
    assert_eq!(version, c.height());
    c.block(); // header version + 1 carries the app hash of the state the proofs are for
    let mut client = c.client(options());
    let app_hash = client
        .verified_app_hash_for_state(version, &t, &[], c.now())
        .expect("verified app hash");
    assert_eq!(client.trusted_height(), version + 1);

    let piece: Piece = piece_proof
        .verify_typed(&app_hash, &keys::piece(&change))
        .expect("piece proof")
        .expect("present");
    assert_eq!(piece.holder, t1);
    let pieces = holdings.verify(&app_hash).expect("holdings");
    assert_eq!(pieces.len(), 1);
    assert_eq!(pieces[0].0, change);

    // An altered value.
    let mut forged: StateProof = piece_proof.clone();
    if let Some(v) = forged.value.as_mut() {
        let last = v.len() - 1;
        v[last] ^= 1;
    }
    assert_eq!(
        forged.verify(&app_hash, &keys::piece(&change)).err(),
        Some(ProofError::Mismatch)
    );
    // A holding omitted from the list.
    let mut short = holdings.clone();
    short.pieces.clear();
    assert_eq!(
        short.verify(&app_hash).err(),
        Some(ProofError::Incomplete {
            expected: 1,
            got: 0
        })
    );
    // The right proof against a stale (but verified) app hash.
    let stale = client
        .verified_app_hash_for_state(version - 1, &t, &[], c.now())
        .expect("older app hash");
    assert_eq!(
        piece_proof.verify(&stale, &keys::piece(&change)).err(),
        Some(ProofError::Mismatch)
    );
}

// ---- saved state --------------------------------------------------------------------------

#[test]
fn trusted_state_round_trips_and_resumes_offline() {
    let mut c = Chain::new();
    c.blocks(30);
    let t = c.transport();
    let mut client = c.client(options());
    client.sync_to(20, &t, &[], c.now()).expect("sync");
    let bytes = client.state().to_bytes().expect("encode");
    let state = TrustedState::from_bytes(&bytes).expect("decode");
    assert_eq!(state, client.state());
    let mut restored = LightClient::restore(state.clone(), options()).expect("restore");
    assert_eq!(restored.trusted(), client.trusted());
    assert_eq!(restored.anchor(), client.anchor());
    restored.sync_to(30, &t, &[], c.now()).expect("resume");

    let mut tampered = state;
    let (other_set, _) = key_set(&["validator-1".to_string()]);
    tampered.blocks[0].validators = other_set;
    let err = LightClient::restore(tampered, options()).expect_err("tampered");
    assert!(
        matches!(err, LightClientError::InvalidTrustedState { .. }),
        "{err:?}"
    );
}

// ---- transports ---------------------------------------------------------------------------

#[test]
fn solo_transport_answers_like_a_node() {
    let mut c = Chain::new();
    c.blocks(3);
    let t = c.transport();
    assert_eq!(
        t.status().expect("status"),
        NodeStatus {
            chain_id: testkit::CHAIN_ID.into(),
            latest_height: 3
        }
    );
    assert!(matches!(
        t.light_block(4),
        Err(TransportError::NotFound { .. })
    ));
    assert!(matches!(
        t.light_block(0),
        Err(TransportError::NotFound { .. })
    ));
    let core = c.addr("core");
    let tx = c.sign(
        "bank",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(5),
        },
    );
    let r = t.broadcast(&tx).expect("broadcast");
    assert_eq!(
        (r.code, r.hash),
        (0, Hash32(cascade_core::crypto::sha256(&tx)))
    );
    assert!(matches!(t.broadcast(&tx), Err(TransportError::Rpc { .. })));
    let r = t.broadcast(b"junk").expect("broadcast");
    assert_ne!(r.code, 0);

    // A poisoned lock is a typed error, not a panic.
    let node = c.node.clone();
    let _ = std::thread::spawn(move || {
        let _guard = node.lock().expect("lock");
        panic!("poison the lock");
    })
    .join();
    assert!(matches!(
        t.status(),
        Err(TransportError::Unreachable { .. })
    ));
    assert!(matches!(
        t.light_block(1),
        Err(TransportError::Unreachable { .. })
    ));
}

/// How the in-test server answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Length,
    Chunked,
    Silent,
    Garbage,
}

fn rpc(result: serde_json::Value) -> String {
    serde_json::json!({ "jsonrpc": "2.0", "id": -1, "result": result }).to_string()
}

#[derive(serde::Serialize)]
struct B64(#[serde(with = "tendermint::serializers::bytes::base64string")] Vec<u8>);

/// CometBFT RPC responses recorded from a solo node, by request target.
fn record(c: &Chain, queries: &[String]) -> HashMap<String, String> {
    let node = c.lock();
    let latest = node.latest_height();
    let mut routes = HashMap::new();
    routes.insert(
        "/status".to_string(),
        rpc(serde_json::json!({
            "node_info": { "network": node.chain_id().to_string(), "id": "00", "moniker": "solo" },
            "sync_info": { "latest_block_height": latest.to_string(), "catching_up": false },
        })),
    );
    for h in 1..=latest {
        let sh = node.signed_header(h).expect("read").expect("header");
        routes.insert(
            format!("/commit?height={h}"),
            rpc(serde_json::json!({ "signed_header": sh, "canonical": h < latest })),
        );
    }
    for h in 1..=latest + 1 {
        let set = node.validator_set(h).expect("set");
        let validators: Vec<serde_json::Value> = set
            .validators()
            .iter()
            .map(|v| {
                serde_json::json!({
                    "address": v.address,
                    "pub_key": v.pub_key,
                    "voting_power": v.power.to_string(),
                    "proposer_priority": "0",
                })
            })
            .collect();
        routes.insert(
            format!("/validators?height={h}&page=1&per_page=100"),
            rpc(serde_json::json!({
                "block_height": h.to_string(),
                "validators": validators,
                "count": set.validators().len().to_string(),
                "total": set.validators().len().to_string(),
            })),
        );
    }
    for path in queries {
        let r = node.query(path);
        routes.insert(
            format!("/abci_query?path={}", url_encode(&format!("\"{path}\""))),
            rpc(serde_json::json!({ "response": {
                "code": r.code.value(),
                "log": r.log,
                "info": "",
                "index": "0",
                "key": null,
                "value": B64(r.value.to_vec()),
                "proofOps": null,
                "height": r.height.value().to_string(),
                "codespace": "",
            }})),
        );
    }
    routes
}

/// Serves `routes` on a local port until the test process ends; returns the base URL.
fn serve(routes: HashMap<String, String>, mode: Mode) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let routes = Arc::new(routes);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let routes = routes.clone();
            std::thread::spawn(move || answer_http(stream, &routes, mode));
        }
    });
    url
}

fn answer_http(mut stream: TcpStream, routes: &HashMap<String, String>, mode: Mode) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let target = text.split(' ').nth(1).unwrap_or("").to_string();
    let (status, body) = match routes.get(&target) {
        Some(body) => ("200 OK", body.clone()),
        None if target.starts_with("/broadcast_tx_sync?tx=0x") => {
            let tx: Vec<u8> = (0..target.len() - 24)
                .step_by(2)
                .map(|i| u8::from_str_radix(&target[24 + i..26 + i], 16).expect("hex"))
                .collect();
            let hash = Hash32(cascade_core::crypto::sha256(&tx))
                .to_hex()
                .to_uppercase();
            (
                "200 OK",
                rpc(
                    serde_json::json!({ "code": 0, "data": "", "log": "", "codespace": "", "hash": hash }),
                ),
            )
        }
        None => (
            "500 Internal Server Error",
            serde_json::json!({ "jsonrpc": "2.0", "id": -1, "error": {
                "code": -32603,
                "message": "Internal error",
                "data": "height 999 must be less than or equal to the current blockchain height 20",
            }})
            .to_string(),
        ),
    };
    let response = match mode {
        Mode::Silent => {
            std::thread::sleep(Duration::from_secs(5));
            return;
        }
        Mode::Garbage => "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nnot json".to_string(),
        Mode::Length => format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
        Mode::Chunked => {
            let mut out = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            for chunk in body.as_bytes().chunks(500) {
                out.push_str(&format!("{:x}\r\n", chunk.len()));
                out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
                out.push_str("\r\n");
            }
            out.push_str("0\r\n\r\n");
            out
        }
    };
    let _ = stream.write_all(response.as_bytes());
}

#[test]
fn http_transport_reads_cometbft_json_and_the_light_client_verifies_it() {
    let mut c = Chain::new();
    let (_, change) = c.issue_and_split();
    let t1 = c.addr("t1");
    c.blocks(20);
    let queries = vec![Query::Piece(change).path(), Query::Holdings(t1).path()];
    let routes = record(&c, &queries);
    let solo = c.transport();
    for mode in [Mode::Length, Mode::Chunked] {
        let http = HttpTransport::new(&serve(routes.clone(), mode)).expect("url");
        let latest = c.height();
        assert_eq!(
            http.status().expect("status"),
            NodeStatus {
                chain_id: testkit::CHAIN_ID.into(),
                latest_height: latest
            }
        );
        for h in [1, 7, latest] {
            let via_http = http.light_block(h).expect("light block");
            let direct = solo.light_block(h).expect("light block");
            assert_eq!(via_http.signed_header, direct.signed_header);
            assert_eq!(via_http.validators.hash(), direct.validators.hash());
            assert_eq!(
                via_http.next_validators.hash(),
                direct.next_validators.hash()
            );
        }
        for path in &queries {
            let a = http.query(path).expect("query");
            let b = solo.query(path).expect("query");
            assert_eq!(a, b);
        }
        // HTTP primary, solo witness: they agree header by header.
        let anchor = c.anchor();
        let mut client =
            LightClient::new(anchor, options(), &http, &[&solo], c.now()).expect("anchor");
        client
            .sync_to_latest(&http, &[&solo], c.now())
            .expect("sync over HTTP");
        assert_eq!(client.trusted_height(), latest);
        assert_eq!(
            client.last_witness_reports()[0].status,
            WitnessStatus::Agreed
        );

        let err = http.light_block(latest + 5).expect_err("beyond the tip");
        assert!(matches!(err, TransportError::NotFound { .. }), "{err:?}");
        let r = http.broadcast(b"some tx bytes").expect("broadcast");
        assert_eq!(r.code, 0);
        assert_eq!(
            r.hash,
            Hash32(cascade_core::crypto::sha256(b"some tx bytes"))
        );
    }
}

#[test]
fn http_transport_failures_are_typed_and_bounded() {
    let quick = HttpConfig {
        connect_timeout: Duration::from_millis(300),
        read_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_millis(500),
        retries: 1,
        retry_delay: Duration::from_millis(10),
        ..HttpConfig::default()
    };
    let silent =
        HttpTransport::with_config(&serve(HashMap::new(), Mode::Silent), quick).expect("url");
    let started = Instant::now();
    let err = silent.status().expect_err("silent node");
    assert!(matches!(err, TransportError::Unreachable { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let garbage =
        HttpTransport::with_config(&serve(HashMap::new(), Mode::Garbage), quick).expect("url");
    assert!(matches!(
        garbage.status(),
        Err(TransportError::Malformed { .. })
    ));

    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let refused =
        HttpTransport::with_config(&format!("http://127.0.0.1:{port}"), quick).expect("url");
    assert!(matches!(
        refused.status(),
        Err(TransportError::Unreachable { .. })
    ));

    // A light client over an unreachable primary: a typed transport error.
    let mut c = Chain::new();
    c.blocks(2);
    let err = LightClient::new(c.anchor(), options(), &refused, &[], c.now()).expect_err("down");
    assert!(matches!(
        err,
        LightClientError::Transport(TransportError::Unreachable { .. })
    ));
}
