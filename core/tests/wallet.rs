//! The wallet against an in-process solo node: a three-tier lifecycle through wallets only,
//! local prechecks with the ledger's typed errors, idempotent submission and tracking, the
//! offline cache, nodes that lie about account lists, and a financier's proven view of an
//! obligor's settlement record.
#![cfg(all(feature = "app", feature = "testkit", feature = "wallet"))]

use cascade_core::block_outcome::OutcomeError;
use cascade_core::codec;
use cascade_core::pricing;
use cascade_core::proof::ProofError;
use cascade_core::query::{Answer, Query};
use cascade_core::solo::{BlockSummary, SoloNode};
use cascade_core::testkit::{self, cny, Fixture, GENESIS_TIME, STANDARD_PARTICIPANTS};
use cascade_core::tx::{Output, TxBody};
use cascade_core::wallet::client::{
    Clock, TxStatus, Wallet, WalletConfig, WalletError, WalletEvent,
};
use cascade_core::wallet::keys::{LocalKey, Signer};
use cascade_core::wallet::light::{LightClientError, TrustAnchor};
use cascade_core::wallet::solo_transport::{SoloClock, SoloTransport};
use cascade_core::wallet::transport::{
    BlockOutcome, BroadcastResult, NodeStatus, QueryResult, Transport, TransportError, TxLocation,
};
use cascade_core::*;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tendermint_light_client_verifier::types::LightBlock;

// ---- a live solo chain --------------------------------------------------------------------
//
// `SoloTransport::live` produces the block proving the latest state on demand, like a chain
// that produces blocks all the time, and `SoloClock` is the phone's clock a little after the
// latest block.

/// The `Transport` methods a lying test node passes to the honest node it wraps (`inner`):
/// its name and the chain (`pass_through!("label")`), its mempool and blocks
/// (`pass_through!(writes)`).
macro_rules! pass_through {
    ($label:literal) => {
        fn name(&self) -> String {
            format!(concat!($label, "({})"), self.inner.name())
        }
        fn status(&self) -> Result<NodeStatus, TransportError> {
            self.inner.status()
        }
        fn light_block(&self, height: u64) -> Result<LightBlock, TransportError> {
            self.inner.light_block(height)
        }
    };
    (writes) => {
        fn broadcast(&self, tx: &[u8]) -> Result<BroadcastResult, TransportError> {
            self.inner.broadcast(tx)
        }
        fn block_outcome(&self, height: u64) -> Result<BlockOutcome, TransportError> {
            self.inner.block_outcome(height)
        }
        fn tx_location(&self, hash: &Hash32) -> Result<Option<TxLocation>, TransportError> {
            self.inner.tx_location(hash)
        }
    };
}

/// A node that never answers.
struct Down;

impl Transport for Down {
    fn name(&self) -> String {
        "down".into()
    }
    fn status(&self) -> Result<NodeStatus, TransportError> {
        Err(down())
    }
    fn light_block(&self, _: u64) -> Result<LightBlock, TransportError> {
        Err(down())
    }
    fn query(&self, _: &str) -> Result<QueryResult, TransportError> {
        Err(down())
    }
    fn broadcast(&self, _: &[u8]) -> Result<BroadcastResult, TransportError> {
        Err(down())
    }
    fn block_outcome(&self, _: u64) -> Result<BlockOutcome, TransportError> {
        Err(down())
    }
    fn tx_location(&self, _: &Hash32) -> Result<Option<TxLocation>, TransportError> {
        Err(down())
    }
}

fn down() -> TransportError {
    TransportError::Unreachable {
        node: "down".into(),
        reason: "connection refused".into(),
    }
}

const HONEST: u8 = 0;
const DROP_ONE: u8 = 1;
const ALTER_ONE: u8 = 2;
/// Obligor records only: answer with another obligor's (genuine) proof.
const OTHER_KEY: u8 = 3;
/// The ledger's parameters only: change the value's last byte.
const ALTER_PARAMS: u8 = 4;

/// Wraps a transport and, when told to, lies about holdings lists and obligor records
/// (`DROP_ONE` hides a piece or the record, `ALTER_ONE` changes a value's last byte).
struct Lying {
    inner: Arc<dyn Transport>,
    mode: Arc<AtomicU8>,
}

impl Transport for Lying {
    pass_through!("lying");
    fn query(&self, path: &str) -> Result<QueryResult, TransportError> {
        let mut r = self.inner.query(path)?;
        let mode = self.mode.load(Ordering::SeqCst);
        if mode == ALTER_PARAMS {
            if path == Query::Params.path() {
                let mut answer: Answer = codec::decode_stored(&r.value).expect("answer decodes");
                let Answer::State(proof) = &mut answer else {
                    panic!("a parameters answer is a state proof")
                };
                let v = proof.value.as_mut().expect("parameters present");
                let last = v.len() - 1;
                v[last] ^= 1;
                r.value = codec::encode(&answer);
            }
            return Ok(r);
        }
        if mode != HONEST && path.starts_with("/obligor/") {
            return self.lie_about_obligor(path, r, mode);
        }
        if mode == HONEST || !path.starts_with("/holdings/") {
            return Ok(r);
        }
        let mut answer: Answer = codec::decode_stored(&r.value).expect("answer decodes");
        let Answer::List(list) = &mut answer else {
            panic!("holdings answer is a list")
        };
        assert!(!list.pieces.is_empty(), "nothing to lie about");
        if mode == DROP_ONE {
            list.pieces.pop();
        } else {
            let v = list.pieces[0].1.value.as_mut().expect("piece present");
            let last = v.len() - 1;
            v[last] ^= 1;
        }
        r.value = codec::encode(&answer);
        Ok(r)
    }
    pass_through!(writes);
}

impl Lying {
    fn lie_about_obligor(
        &self,
        path: &str,
        mut r: QueryResult,
        mode: u8,
    ) -> Result<QueryResult, TransportError> {
        if mode == OTHER_KEY {
            let other = Query::ObligorRecord(Address([0xee; 20])).path();
            assert_ne!(other, path, "the substitute must be another obligor");
            return self.inner.query(&other);
        }
        let mut answer: Answer = codec::decode_stored(&r.value).expect("answer decodes");
        let Answer::State(proof) = &mut answer else {
            panic!("an obligor answer is a state proof")
        };
        if mode == DROP_ONE {
            assert!(proof.value.take().is_some(), "no record to hide");
        } else {
            let v = proof.value.as_mut().expect("record present");
            let last = v.len() - 1;
            v[last] ^= 1;
        }
        r.value = codec::encode(&answer);
        Ok(r)
    }
}

struct Net {
    node: Arc<Mutex<SoloNode>>,
    live: Arc<SoloTransport>,
    anchor: TrustAnchor,
    fx: Fixture,
}

impl Net {
    fn new() -> Net {
        let fx = Fixture::standard();
        let node = SoloNode::in_memory(fx.genesis(), testkit::validator_signing_key("validator-0"))
            .expect("solo node");
        let node = Arc::new(Mutex::new(node));
        let live = Arc::new(SoloTransport::live(node.clone()));
        let mut net = Net {
            node,
            live,
            anchor: TrustAnchor::genesis_validators("", Hash32([0; 32])),
            fx,
        };
        let first = net.lock().produce_block(GENESIS_TIME + 3600);
        first.expect("block 1");
        let set = net.lock().validator_set(1).expect("validator set");
        let hash = Hash32(set.hash().as_bytes().try_into().expect("32 bytes"));
        net.anchor = TrustAnchor::genesis_validators(testkit::CHAIN_ID, hash);
        net
    }

    fn lock(&self) -> MutexGuard<'_, SoloNode> {
        self.node.lock().expect("node lock")
    }

    /// Produces a block `seconds` after the latest one (committing the mempool).
    fn block_after(&mut self, seconds: i64) -> BlockSummary {
        let mut node = self.lock();
        let t = node.latest_time().unix_timestamp() + seconds;
        node.produce_block(t).expect("produce block")
    }

    /// Produces a block 10 s after the latest one (committing the mempool).
    fn block(&mut self) -> BlockSummary {
        self.block_after(10)
    }

    /// Moves block time forward by whole days and produces a block there.
    fn advance_days(&mut self, days: i64) -> BlockSummary {
        self.block_after(days * 86_400 + 10)
    }

    fn mempool(&self) -> usize {
        self.lock().mempool_len()
    }

    fn today(&self) -> Day {
        Day::from_unix_seconds(self.lock().latest_time().unix_timestamp()).expect("day")
    }

    fn addr(&self, who: &str) -> Address {
        self.fx.addr(who)
    }

    fn signer(&self, who: &str) -> Arc<dyn Signer> {
        Arc::new(LocalKey::from_secret(SecretKey::from_seed(who.as_bytes())))
    }

    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(SoloClock::new(self.node.clone()))
    }

    fn config(&self) -> WalletConfig {
        WalletConfig::new(self.anchor.clone())
    }

    fn wallet_over(&self, who: &str, transport: Arc<dyn Transport>) -> Wallet {
        let w = Wallet::in_memory(
            self.config(),
            self.signer(who),
            transport,
            vec![],
            self.clock(),
        )
        .expect("wallet");
        assert_eq!(w.address(), self.addr(who));
        w
    }

    fn wallet(&self, who: &str) -> Wallet {
        self.wallet_over(who, self.live.clone())
    }

    fn open(&self, who: &str, path: &std::path::Path, transport: Arc<dyn Transport>) -> Wallet {
        Wallet::open(
            path,
            self.config(),
            self.signer(who),
            transport,
            vec![],
            self.clock(),
        )
        .expect("open wallet")
    }
}

fn refresh(w: &mut Wallet) -> Vec<WalletEvent> {
    w.refresh().unwrap_or_else(|e| panic!("{w:?} refresh: {e}"))
}

fn submit(w: &mut Wallet, body: TxBody) -> Hash32 {
    let kind = body.kind();
    w.submit(body)
        .unwrap_or_else(|e| panic!("{w:?} {kind}: {e}"))
}

/// Submits and produces the block that commits it; checks it committed.
fn run(net: &mut Net, w: &mut Wallet, body: TxBody) -> (Hash32, u64) {
    let hash = submit(w, body);
    let s = net.block();
    let r = s
        .txs
        .iter()
        .find(|t| t.hash == hash)
        .expect("tx in the block");
    assert_eq!(r.code, 0, "{}", r.log);
    (hash, s.height)
}

fn offers_in(w: &Wallet) -> Vec<(Hash32, Piece)> {
    w.view().expect("view").offers_in.clone()
}

fn holdings(w: &Wallet) -> Vec<(Hash32, Piece)> {
    w.view().expect("view").holdings.clone()
}

fn received(events: &[WalletEvent]) -> Vec<(Hash32, Amount)> {
    events
        .iter()
        .filter_map(|e| match e {
            WalletEvent::OfferReceived { piece, amount, .. } => Some((*piece, *amount)),
            _ => None,
        })
        .collect()
}

fn added(events: &[WalletEvent]) -> Vec<(Hash32, Amount, PieceStatus)> {
    events
        .iter()
        .filter_map(|e| match e {
            WalletEvent::HoldingAdded {
                piece,
                amount,
                status,
            } => Some((*piece, *amount, status.clone())),
            _ => None,
        })
        .collect()
}

fn removed(events: &[WalletEvent]) -> Vec<Hash32> {
    events
        .iter()
        .filter_map(|e| match e {
            WalletEvent::HoldingRemoved { piece } => Some(*piece),
            _ => None,
        })
        .collect()
}

fn refused_code(r: Result<Hash32, WalletError>) -> u32 {
    match r {
        Err(WalletError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Bank's credit line to core, a document and a certificate issued to `to`; returns the root.
fn issue(
    net: &mut Net,
    bank: &mut Wallet,
    core: &mut Wallet,
    to: &str,
    face: u64,
    days: u32,
) -> Hash32 {
    let (core_a, to_a, bank_a) = (net.addr("core"), net.addr(to), net.addr("bank"));
    refresh(bank);
    if !bank_has_line(bank) {
        run(
            net,
            bank,
            TxBody::SetCreditLine {
                obligor: core_a,
                currency: cny(),
                limit: Amount(1_000_000_000),
            },
        );
    }
    net.block();
    refresh(core);
    let document = Hash32(cascade_core::crypto::sha256(
        format!("invoice-{}-{}", net.lock().latest_height(), face).as_bytes(),
    ));
    run(
        net,
        core,
        TxBody::AnchorDocument {
            hash: document,
            amount: Money {
                amount: Amount(face),
                currency: cny(),
            },
            buyer: core_a,
            seller: to_a,
        },
    );
    net.block();
    refresh(core);
    let maturity = Day(net.today().0 + days);
    let (_, _) = run(
        net,
        core,
        TxBody::Issue {
            to: to_a,
            amount: Amount(face),
            currency: cny(),
            maturity,
            document,
            credit_grantor: bank_a,
        },
    );
    net.block();
    refresh(core);
    let out = &core.view().expect("view").offers_out;
    out.iter()
        .find(|(_, p)| p.holder == to_a && p.amount == Amount(face))
        .map(|(id, _)| *id)
        .expect("the issued offer is in core's offers out")
}

/// A chain where the obligor has offered `to` a certificate of `face` maturing in `days`
/// days, on the bank's credit line; the offered piece.
fn net_with_offer(to: &str, face: u64, days: u32) -> (Net, Hash32) {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let root = issue(&mut net, &mut bank, &mut core, to, face, days);
    (net, root)
}

/// Whether the bank already set a credit line (its account nonce moved).
fn bank_has_line(bank: &Wallet) -> bool {
    bank.view().expect("view").account.nonce > 0
}

// ---- 1. lifecycle -------------------------------------------------------------------------

#[test]
fn three_tier_lifecycle_through_wallets() {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let mut t1 = net.wallet("t1");
    let mut t2a = net.wallet("t2a");
    let mut t2b = net.wallet("t2b");
    let mut t3a = net.wallet("t3a");
    for w in [&mut t1, &mut t2a, &mut t2b, &mut t3a] {
        assert!(refresh(w).is_empty());
    }
    let face = 1_000_000_00;
    let root = issue(&mut net, &mut bank, &mut core, "t1", face, 10);

    // t1 sees the offer and accepts it.
    let ev = refresh(&mut t1);
    assert_eq!(received(&ev), vec![(root, Amount(face))]);
    assert!(matches!(
        offers_in(&t1)[0].1.status,
        PieceStatus::Pending { .. }
    ));
    let (accept, height) = run(&mut net, &mut t1, TxBody::Accept { piece: root });
    assert_eq!(t1.tx_status(&accept), Some(&TxStatus::Pending));
    let ev = refresh(&mut t1);
    assert!(
        ev.contains(&WalletEvent::Confirmed { tx: accept, height }),
        "{ev:?}"
    );
    assert_eq!(added(&ev), vec![(root, Amount(face), PieceStatus::Active)]);
    assert!(ev.contains(&WalletEvent::OfferClosed { piece: root }));
    assert_eq!(t1.tx_status(&accept), Some(&TxStatus::Committed { height }));

    // t1 splits: 300,000.00 to t2a, 200,000.00 to t2b, 500,000.00 change.
    let (a2a, a2b) = (net.addr("t2a"), net.addr("t2b"));
    run(
        &mut net,
        &mut t1,
        TxBody::Transfer {
            piece: root,
            outputs: vec![
                Output {
                    to: a2a,
                    amount: Amount(300_000_00),
                },
                Output {
                    to: a2b,
                    amount: Amount(200_000_00),
                },
            ],
        },
    );
    let ev = refresh(&mut t1);
    assert_eq!(removed(&ev), vec![root]);
    let change1 = added(&ev);
    assert_eq!(change1.len(), 1);
    assert_eq!(change1[0].1, Amount(500_000_00));
    let change1 = change1[0].0;
    let out: Vec<Amount> = t1
        .view()
        .expect("view")
        .offers_out
        .iter()
        .map(|(_, p)| p.amount)
        .collect();
    assert_eq!(out.len(), 2);
    assert_eq!(
        out.iter().map(|a| a.0).sum::<u64>(),
        500_000_00,
        "offers out {out:?}"
    );

    let ev = refresh(&mut t2b);
    assert_eq!(received(&ev).len(), 1);
    assert_eq!(received(&ev)[0].1, Amount(200_000_00));
    let ev = refresh(&mut t2a);
    let p2a = received(&ev);
    assert_eq!(p2a.len(), 1);
    assert_eq!(p2a[0].1, Amount(300_000_00));
    let p2a = p2a[0].0;

    // t2a accepts and passes 100,000.00 on to t3a.
    run(&mut net, &mut t2a, TxBody::Accept { piece: p2a });
    refresh(&mut t2a);
    assert_eq!(holdings(&t2a), vec![(p2a, holdings(&t2a)[0].1.clone())]);
    let a3a = net.addr("t3a");
    run(
        &mut net,
        &mut t2a,
        TxBody::Transfer {
            piece: p2a,
            outputs: vec![Output {
                to: a3a,
                amount: Amount(100_000_00),
            }],
        },
    );
    let ev = refresh(&mut t2a);
    assert_eq!(removed(&ev), vec![p2a]);
    let change2 = added(&ev);
    assert_eq!(change2.len(), 1);
    assert_eq!(change2[0].1, Amount(200_000_00));
    let change2 = change2[0].0;

    let ev = refresh(&mut t3a);
    let p3a = received(&ev);
    assert_eq!(p3a.len(), 1);
    assert_eq!(p3a[0].1, Amount(100_000_00));
    let p3a = p3a[0].0;
    let (acc3, h3) = run(&mut net, &mut t3a, TxBody::Accept { piece: p3a });
    let ev = refresh(&mut t3a);
    assert!(ev.contains(&WalletEvent::Confirmed {
        tx: acc3,
        height: h3
    }));
    assert_eq!(
        added(&ev),
        vec![(p3a, Amount(100_000_00), PieceStatus::Active)]
    );

    // Before financing: a quote equal to the ledger's pricing for the same inputs.
    let rate = AnnualRate::from_bps(450).expect("rate");
    let quote = t3a.quote(&p3a, Amount(100_000_00), rate).expect("quote");
    let view = t3a.view().expect("view").clone();
    let maturity = t3a
        .root(&root)
        .expect("root")
        .expect("present")
        .terms
        .maturity;
    let expected = pricing::discount(
        Amount(100_000_00),
        rate,
        view.today,
        maturity,
        DayCount::Act360,
    )
    .expect("pricing");
    assert_eq!(quote, expected);
    assert_eq!(quote.face, Amount(100_000_00));
    assert_eq!(
        quote.interest.0 + quote.proceeds.0,
        100_000_00,
        "interest + proceeds = face"
    );
    assert!(quote.interest.0 > 0);

    let bank_a = net.addr("bank");
    run(
        &mut net,
        &mut t3a,
        TxBody::RequestFinancing {
            piece: p3a,
            financier: bank_a,
            amount: Amount(100_000_00),
            rate,
        },
    );
    refresh(&mut t3a);

    // The bank sees the request and accepts it.
    let ev = refresh(&mut bank);
    let req = received(&ev);
    assert_eq!(req.len(), 1, "{ev:?}");
    assert_eq!(req[0].1, Amount(100_000_00));
    let req_piece = req[0].0;
    let (_, p) = offers_in(&bank)
        .into_iter()
        .find(|(id, _)| *id == req_piece)
        .expect("request in offers in");
    assert!(matches!(
        p.status,
        PieceStatus::FinancingRequested { financier, .. } if financier == bank_a
    ));
    // A payment reference the ledger would refuse is refused before signing, with its code.
    let bad_reference = TxError::BadPaymentReference {
        max: cascade_core::exec::MAX_PAYMENT_REFERENCE,
    }
    .code();
    for reference in [String::new(), "w".repeat(65)] {
        let attempt = bank.submit(TxBody::AcceptFinancing {
            piece: req_piece,
            payment_reference: reference,
        });
        assert_eq!(refused_code(attempt), bad_reference);
    }
    assert_eq!(net.mempool(), 0);
    run(
        &mut net,
        &mut bank,
        TxBody::AcceptFinancing {
            piece: req_piece,
            payment_reference: "wire-0001".into(),
        },
    );
    let ev = refresh(&mut bank);
    let financed = added(&ev);
    assert_eq!(financed.len(), 1, "{ev:?}");
    assert_eq!(financed[0].1, Amount(100_000_00));
    assert_eq!(financed[0].2, PieceStatus::Financed);
    let financed = financed[0].0;
    let ev = refresh(&mut t3a);
    assert!(holdings(&t3a).is_empty(), "{ev:?}");

    // Lineage before settlement: outstanding pieces sum to the face.
    let (rec, pieces) = t1.lineage(&root).expect("lineage");
    assert_eq!(rec.face, Amount(face));
    let outstanding: u64 = pieces
        .iter()
        .filter(|(_, p)| p.status.is_outstanding())
        .map(|(_, p)| p.amount.0)
        .sum();
    assert_eq!(outstanding, face);

    // After maturity the obligor settles; every holder's piece leaves its holdings.
    net.advance_days(10);
    refresh(&mut core);
    run(&mut net, &mut core, TxBody::Settle { root });
    let ev = refresh(&mut t1);
    assert_eq!(removed(&ev), vec![change1]);
    let ev = refresh(&mut t2a);
    assert_eq!(removed(&ev), vec![change2]);
    let ev = refresh(&mut bank);
    assert_eq!(removed(&ev), vec![financed]);
    let ev = refresh(&mut t2b);
    assert!(
        ev.iter()
            .any(|e| matches!(e, WalletEvent::OfferClosed { .. })),
        "{ev:?}"
    );
    for w in [&t1, &t2a, &t2b, &t3a, &bank] {
        assert!(holdings(w).is_empty());
    }

    let (rec, pieces) = t2a.lineage(&root).expect("lineage");
    assert_eq!(rec.face, Amount(face));
    assert!(pieces.iter().all(|(_, p)| !p.status.is_outstanding()));
    let settled: u64 = pieces
        .iter()
        .filter(|(_, p)| p.status == PieceStatus::Settled)
        .map(|(_, p)| p.amount.0)
        .sum();
    assert_eq!(settled, face);
}

// ---- 2. prechecks -------------------------------------------------------------------------

#[test]
fn a_certificate_offered_until_its_maturity_can_be_refused_but_not_accepted() {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let mut t1 = net.wallet("t1");
    // Maturity in 3 days, within the 7-day offer expiry: the offer outlives the maturity.
    let root = issue(&mut net, &mut bank, &mut core, "t1", 1_000_00, 3);
    net.advance_days(3);
    refresh(&mut t1);
    let matured = TxError::Matured {
        maturity: Day(0),
        today: Day(0),
    }
    .code();
    // The wallet knows without asking a node (the node would refuse it the same way).
    match t1.precheck(&TxBody::Accept { piece: root }) {
        Err(WalletError::Refused { code, .. }) => assert_eq!(code, matured),
        other => panic!("expected the ledger's Matured refusal, got {other:?}"),
    }
    let mempool = net.mempool();
    assert_eq!(
        refused_code(t1.submit(TxBody::Accept { piece: root })),
        matured
    );
    assert_eq!(net.mempool(), mempool, "nothing was broadcast");
    run(&mut net, &mut t1, TxBody::Reject { piece: root });
    refresh(&mut t1);
    assert!(t1.view().expect("view").offers_in.is_empty());
}

#[test]
fn prechecks_give_the_ledgers_typed_errors_without_broadcasting() {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let mut t1 = net.wallet("t1");
    let face = 500_000_00;
    let root = issue(&mut net, &mut bank, &mut core, "t1", face, 30);
    refresh(&mut t1);
    run(&mut net, &mut t1, TxBody::Accept { piece: root });
    refresh(&mut t1);
    assert_eq!(holdings(&t1).len(), 1);

    let mempool = net.mempool();
    let tracked = t1.transactions().clone();
    let (me, a2a, a2b) = (net.addr("t1"), net.addr("t2a"), net.addr("t2b"));
    let out = |to: Address, amount: u64| Output {
        to,
        amount: Amount(amount),
    };
    let stranger = Hash32([9; 32]);

    match t1.submit(TxBody::Transfer {
        piece: stranger,
        outputs: vec![out(a2a, 1)],
    }) {
        Err(WalletError::NotInWallet { piece, list }) => {
            assert_eq!(piece, stranger);
            assert_eq!(list, "holdings");
        }
        other => panic!("expected NotInWallet, got {other:?}"),
    }
    assert_eq!(
        refused_code(t1.submit(TxBody::Transfer {
            piece: root,
            outputs: vec![out(me, 1)],
        })),
        TxError::SelfTransfer.code()
    );
    assert_eq!(
        refused_code(t1.submit(TxBody::Transfer {
            piece: root,
            outputs: vec![out(a2a, 1), out(a2a, 2)],
        })),
        TxError::DuplicateRecipient { to: a2a }.code()
    );
    assert_eq!(
        refused_code(t1.submit(TxBody::Transfer {
            piece: root,
            outputs: vec![out(a2a, 0)],
        })),
        TxError::ZeroAmount.code()
    );
    let split_code = TxError::SplitExceedsPiece {
        outputs: Amount(face + 1),
        available: Amount(face),
    }
    .code();
    match t1.submit(TxBody::Transfer {
        piece: root,
        outputs: vec![out(a2a, face), out(a2b, 1)],
    }) {
        Err(WalletError::Refused { code, message }) => {
            assert_eq!(code, split_code);
            assert_eq!(
                message,
                TxError::SplitExceedsPiece {
                    outputs: Amount(face + 1),
                    available: Amount(face),
                }
                .to_string()
            );
        }
        other => panic!("expected SplitExceedsPiece, got {other:?}"),
    }
    match t1.submit(TxBody::Accept { piece: stranger }) {
        Err(WalletError::NotInWallet { piece, list }) => {
            assert_eq!(piece, stranger);
            assert_eq!(list, "offers");
        }
        other => panic!("expected NotInWallet, got {other:?}"),
    }
    let bank_a = net.addr("bank");
    assert_eq!(
        refused_code(t1.submit(TxBody::RequestFinancing {
            piece: root,
            financier: bank_a,
            amount: Amount(face + 1),
            rate: AnnualRate::from_bps(400).expect("rate"),
        })),
        split_code
    );
    assert_eq!(net.mempool(), mempool, "nothing was broadcast");
    assert_eq!(t1.transactions(), &tracked, "nothing was tracked");

    // A refusal only the node can see: an issue under a credit line that does not exist.
    // The same transaction on a fixture ledger gives the ledger's code.
    let mut fx = Fixture::new(STANDARD_PARTICIPANTS, Params::default());
    let document = fx.anchor("t1", 1_000_00);
    let (fx_t1, factor) = (fx.addr("t1"), fx.addr("factor"));
    let maturity = Day(fx.today().0 + 30);
    let expected = fx.err(
        "core",
        TxBody::Issue {
            to: fx_t1,
            amount: Amount(1_000_00),
            currency: cny(),
            maturity,
            document,
            credit_grantor: factor,
        },
    );
    refresh(&mut core);
    let doc = Hash32(cascade_core::crypto::sha256(b"no-line"));
    let core_a = net.addr("core");
    run(
        &mut net,
        &mut core,
        TxBody::AnchorDocument {
            hash: doc,
            amount: Money {
                amount: Amount(1_000_00),
                currency: cny(),
            },
            buyer: core_a,
            seller: me,
        },
    );
    net.block();
    refresh(&mut core);
    let core_tracked = core.transactions().len();
    let mempool = net.mempool();
    let maturity = Day(net.today().0 + 30);
    match core.submit(TxBody::Issue {
        to: me,
        amount: Amount(1_000_00),
        currency: cny(),
        maturity,
        document: doc,
        credit_grantor: factor,
    }) {
        Err(WalletError::Refused { code, .. }) => assert_eq!(code, expected.code(), "{expected}"),
        other => panic!("expected the node's refusal, got {other:?}"),
    }
    assert_eq!(net.mempool(), mempool);
    assert_eq!(core.transactions().len(), core_tracked);
}

// ---- 3. submission and tracking -----------------------------------------------------------

#[test]
fn submission_is_idempotent_and_tracked_to_commit() {
    let mut net = Net::new();
    let mut core = net.wallet("core");
    refresh(&mut core);
    let nonce = core.view().expect("view").account.nonce;
    let (core_a, t1) = (net.addr("core"), net.addr("t1"));
    let anchor = |n: u8| TxBody::AnchorDocument {
        hash: Hash32([n; 32]),
        amount: Money {
            amount: Amount(10_000_00),
            currency: cny(),
        },
        buyer: core_a,
        seller: t1,
    };
    let first = submit(&mut core, anchor(1));
    assert_eq!(core.tx_status(&first), Some(&TxStatus::Pending));
    assert_eq!(net.mempool(), 1);
    // Re-broadcasting the pending transaction is idempotent.
    assert_eq!(core.resubmit(&first).expect("resubmit"), first);
    assert_eq!(core.transactions().len(), 1);
    assert_eq!(net.mempool(), 1);

    let second = submit(&mut core, anchor(2));
    assert_ne!(first, second);
    assert_eq!(core.transactions()[&first].nonce, nonce);
    assert_eq!(core.transactions()[&second].nonce, nonce + 1);
    assert_eq!(net.mempool(), 2);

    let s = net.block();
    assert_eq!(s.txs.len(), 2);
    assert!(s.txs.iter().all(|t| t.code == 0), "{:?}", s.txs);
    let ev = refresh(&mut core);
    for tx in [first, second] {
        assert_eq!(
            core.tx_status(&tx),
            Some(&TxStatus::Committed { height: s.height })
        );
        assert!(ev.contains(&WalletEvent::Confirmed {
            tx,
            height: s.height
        }));
    }
    assert_eq!(core.view().expect("view").account.nonce, nonce + 2);
    // A committed transaction's resubmission is a no-op.
    assert_eq!(core.resubmit(&first).expect("resubmit"), first);
    assert_eq!(net.mempool(), 0);
    assert_eq!(core.transactions().len(), 2);
}

// ---- 4. offline ---------------------------------------------------------------------------

#[test]
fn the_cache_opens_offline_and_reconciles_online() {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let first = issue(&mut net, &mut bank, &mut core, "t1", 100_000_00, 30);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t1.redb");

    let (view, txs, accept) = {
        let mut t1 = net.open("t1", &path, net.live.clone());
        assert_eq!(
            received(&refresh(&mut t1)),
            vec![(first, Amount(100_000_00))]
        );
        let (accept, _) = run(&mut net, &mut t1, TxBody::Accept { piece: first });
        refresh(&mut t1);
        assert_eq!(holdings(&t1).len(), 1);
        (t1.view().cloned(), t1.transactions().clone(), accept)
    };
    assert!(matches!(txs[&accept].status, TxStatus::Committed { .. }));

    // Reopened with no network: the same view and transactions.
    {
        let mut t1 = net.open("t1", &path, Arc::new(Down));
        assert_eq!(t1.view().cloned(), view);
        assert_eq!(t1.transactions(), &txs);
        assert_eq!(holdings(&t1)[0].0, first);
        assert!(matches!(
            t1.refresh(),
            Err(WalletError::Transport(TransportError::Unreachable { .. }))
        ));
        assert_eq!(t1.view().cloned(), view, "a failed refresh keeps the view");
    }

    // Meanwhile a second certificate is offered; the next online refresh sees it.
    let second = issue(&mut net, &mut bank, &mut core, "t1", 50_000_00, 30);
    let mut t1 = net.open("t1", &path, net.live.clone());
    assert_eq!(t1.view().cloned(), view);
    let ev = refresh(&mut t1);
    assert_eq!(received(&ev), vec![(second, Amount(50_000_00))]);
    assert_eq!(holdings(&t1)[0].0, first);
    assert!(t1.view().expect("view").version > view.expect("view").version);
}

// ---- 5. lying node ------------------------------------------------------------------------

#[test]
fn a_node_lying_about_holdings_is_caught_and_the_view_kept() {
    let (mut net, root) = net_with_offer("t1", 100_000_00, 30);
    let mode = Arc::new(AtomicU8::new(HONEST));
    let lying = Arc::new(Lying {
        inner: net.live.clone(),
        mode: mode.clone(),
    });
    let mut t1 = net.wallet_over("t1", lying);
    refresh(&mut t1);
    run(&mut net, &mut t1, TxBody::Accept { piece: root });
    refresh(&mut t1);
    assert_eq!(holdings(&t1).len(), 1);
    let before = t1.view().cloned();

    net.block();
    mode.store(DROP_ONE, Ordering::SeqCst);
    match t1.refresh() {
        Err(WalletError::Proof(ProofError::Incomplete { expected, got })) => {
            assert_eq!((expected, got), (1, 0));
        }
        other => panic!("expected an incomplete list, got {other:?}"),
    }
    assert_eq!(t1.view().cloned(), before);

    mode.store(ALTER_ONE, Ordering::SeqCst);
    match t1.refresh() {
        Err(WalletError::Proof(ProofError::Mismatch)) => {}
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert_eq!(t1.view().cloned(), before);

    // Honest again: the refresh goes through.
    mode.store(HONEST, Ordering::SeqCst);
    refresh(&mut t1);
    assert_eq!(holdings(&t1), before.expect("view").holdings);
}

/// Against a plain solo node (no block produced on demand), answers for state H wait for
/// header H + 1: the first refresh says so and keeps the answers, and once the next block
/// exists the next refresh verifies those same answers.
#[test]
fn refresh_keeps_answers_until_the_next_header_exists() {
    let mut net = Net::new();
    let plain: Arc<dyn Transport> = Arc::new(SoloTransport::new(net.node.clone()));
    let mut t1 = net.wallet_over("t1", plain);
    let version = net.lock().latest_height();
    match t1.refresh() {
        Err(WalletError::AwaitingNextBlock { version: v }) => assert_eq!(v, version),
        other => panic!("expected AwaitingNextBlock, got {other:?}"),
    }
    assert!(t1.view().is_none(), "nothing shown before it is verified");
    net.block();
    t1.refresh()
        .expect("the kept answers verify against the new header");
    let view = t1.view().expect("verified view");
    assert_eq!(view.version, version);
    assert!(view.holdings.is_empty());
}

/// The live transport answers an account's three lists from one state even when a block
/// lands between the questions, produces the block proving the latest state when it is
/// asked for (and only that one), and its clock follows chain time.
#[test]
fn the_live_transport_keeps_lists_together_and_produces_the_proving_block() {
    let mut net = Net::new();
    let t1 = net.addr("t1");
    let height = |r: &QueryResult| r.height;
    let holdings = net
        .live
        .query(&Query::Holdings(t1).path())
        .expect("holdings");
    net.block();
    let offers_in = net.live.query(&Query::OffersIn(t1).path()).expect("in");
    let offers_out = net.live.query(&Query::OffersOut(t1).path()).expect("out");
    assert_eq!(height(&offers_in), height(&holdings));
    assert_eq!(height(&offers_out), height(&holdings));
    // Kept answers are given once: asked again, the node answers for its newer state.
    let again = net.live.query(&Query::OffersIn(t1).path()).expect("in");
    assert_eq!(height(&again), height(&holdings) + 1);

    let latest = net.lock().latest_height();
    let before = net.lock().latest_time();
    assert!(matches!(
        net.live.light_block(latest + 2),
        Err(TransportError::NotFound { .. })
    ));
    assert_eq!(
        net.lock().latest_height(),
        latest,
        "no block for a far height"
    );
    let block = net
        .live
        .light_block(latest + 1)
        .expect("produced on demand");
    assert_eq!(block.signed_header.header.height.value(), latest + 1);
    assert_eq!(net.lock().latest_height(), latest + 1);
    let after = net.lock().latest_time();
    assert_eq!(after.unix_timestamp(), before.unix_timestamp() + 1);
    assert_eq!(
        SoloClock::new(net.node.clone()).now().unix_timestamp(),
        after.unix_timestamp() + 1
    );
    // An old height is served, not produced.
    net.live.light_block(latest).expect("old block");
    assert_eq!(net.lock().latest_height(), latest + 1);
}

// ---- maturity warnings --------------------------------------------------------------------

fn maturity_warnings(events: &[WalletEvent]) -> Vec<(Hash32, Day, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            WalletEvent::MaturityApproaching {
                piece,
                maturity,
                days_left,
            } => Some((*piece, *maturity, *days_left)),
            _ => None,
        })
        .collect()
}

#[test]
fn held_pieces_warn_inside_the_maturity_window_and_not_before_or_after() {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let mut t1 = net.wallet("t1");
    // Matures in 20 days; the wallet warns from 7 days before (WalletConfig's default).
    let root = issue(&mut net, &mut bank, &mut core, "t1", 250_000_00, 20);
    let maturity = Day(net.today().0 + 20);
    refresh(&mut t1);
    run(&mut net, &mut t1, TxBody::Accept { piece: root });
    let ev = refresh(&mut t1);
    assert!(maturity_warnings(&ev).is_empty(), "20 days out: {ev:?}");

    // 12 days later: 8 days left, still outside the window.
    net.advance_days(12);
    let ev = refresh(&mut t1);
    assert!(maturity_warnings(&ev).is_empty(), "8 days out: {ev:?}");

    // One more day: 7 days left, inside it.
    net.advance_days(1);
    let ev = refresh(&mut t1);
    assert_eq!(maturity_warnings(&ev), vec![(root, maturity, 7)]);

    // Maturity day itself: 0 days left.
    net.advance_days(7);
    let ev = refresh(&mut t1);
    assert_eq!(maturity_warnings(&ev), vec![(root, maturity, 0)]);

    // Past maturity the warning stops (settlement is due, not approaching).
    net.advance_days(1);
    let ev = refresh(&mut t1);
    assert!(maturity_warnings(&ev).is_empty(), "past maturity: {ev:?}");
}

// ---- obligor record -----------------------------------------------------------------------

fn record(w: &mut Wallet, obligor: &Address) -> ObligorRecord {
    w.obligor_record(obligor)
        .unwrap_or_else(|e| panic!("{w:?} obligor record: {e}"))
}

/// A financier prices a certificate by its obligor's record; the wallet shows the ledger's
/// record, proven, as certificates are accepted, settled on time, marked overdue and paid
/// late, and refuses a node that hides the record, alters it or answers about someone else.
#[test]
fn a_financier_sees_the_obligors_proven_settlement_record() {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let mut t1 = net.wallet("t1");
    let core_a = net.addr("core");
    // A second financier wallet over a node that lies when told to (honest for now).
    let mode = Arc::new(AtomicU8::new(HONEST));
    let lying = Arc::new(Lying {
        inner: net.live.clone(),
        mode: mode.clone(),
    });
    let mut fooled = net.wallet_over("bank", lying);

    // No certificate yet: the record is proven absent and shown as all zeros.
    assert_eq!(record(&mut bank, &core_a), ObligorRecord::default());
    assert_eq!(record(&mut fooled, &core_a), ObligorRecord::default());

    let on_time = issue(&mut net, &mut bank, &mut core, "t1", 300_000_00, 10);
    let late = issue(&mut net, &mut bank, &mut core, "t1", 200_000_00, 10);
    // Issued but not yet accepted: not counted.
    assert_eq!(record(&mut bank, &core_a).certificates, 0);
    refresh(&mut t1);
    run(&mut net, &mut t1, TxBody::Accept { piece: on_time });
    refresh(&mut t1);
    run(&mut net, &mut t1, TxBody::Accept { piece: late });
    let accepted = ObligorRecord {
        certificates: 2,
        ..ObligorRecord::default()
    };
    assert_eq!(record(&mut bank, &core_a), accepted);

    // At maturity the first is paid on time; four days later (grace is three) the second is
    // still unpaid and a supplier marks it overdue. (Each wallet checks in between jumps,
    // as a phone would, so its light-client trust stays within the trusting period.)
    net.advance_days(10);
    refresh(&mut core);
    run(&mut net, &mut core, TxBody::Settle { root: on_time });
    let paid_on_time = ObligorRecord {
        certificates: 2,
        settled_on_time: 1,
        faces: vec![SettledFaces {
            currency: cny(),
            on_time: Amount(300_000_00),
            late: Amount::ZERO,
        }],
        ..ObligorRecord::default()
    };
    assert_eq!(record(&mut bank, &core_a), paid_on_time);
    assert_eq!(record(&mut fooled, &core_a), paid_on_time);
    refresh(&mut t1);
    net.advance_days(4);
    refresh(&mut t1);
    run(&mut net, &mut t1, TxBody::MarkOverdue { root: late });
    let overdue = ObligorRecord {
        overdue_now: 1,
        ..paid_on_time.clone()
    };
    assert_eq!(record(&mut bank, &core_a), overdue);

    // Nodes that hide the record (so the overdue certificate disappears), alter it, or
    // answer with another obligor's genuine proof are caught.
    assert_eq!(record(&mut fooled, &core_a), overdue);
    for (lie, expected) in [
        (DROP_ONE, ProofError::Mismatch),
        (ALTER_ONE, ProofError::Mismatch),
        (OTHER_KEY, ProofError::WrongKey),
    ] {
        mode.store(lie, Ordering::SeqCst);
        match fooled.obligor_record(&core_a) {
            Err(WalletError::Proof(e)) => assert_eq!(e, expected, "lie {lie}"),
            other => panic!("lie {lie}: expected {expected:?}, got {other:?}"),
        }
    }
    mode.store(HONEST, Ordering::SeqCst);
    assert_eq!(record(&mut fooled, &core_a), overdue);

    // Paid at last: late, and no longer overdue.
    refresh(&mut core);
    run(&mut net, &mut core, TxBody::Settle { root: late });
    let paid = ObligorRecord {
        certificates: 2,
        settled_on_time: 1,
        settled_late: 1,
        overdue_now: 0,
        faces: vec![SettledFaces {
            currency: cny(),
            on_time: Amount(300_000_00),
            late: Amount(200_000_00),
        }],
    };
    assert_eq!(record(&mut bank, &core_a), paid);
    // The ledger agrees; a supplier's wallet sees the same record.
    let ledger = net
        .lock()
        .app()
        .ledger()
        .obligor_record(&core_a)
        .expect("read");
    assert_eq!(ledger, paid);
    assert_eq!(record(&mut t1, &core_a), paid);
}

// ---- answers bound to the question, fresh state, the shipped anchor -----------------------

/// Answers chosen queries with the (genuine) answer to another query, e.g. another
/// certificate's lineage.
struct Redirect {
    inner: Arc<dyn Transport>,
    map: Mutex<std::collections::BTreeMap<String, String>>,
}

impl Redirect {
    fn new(inner: Arc<dyn Transport>) -> Redirect {
        Redirect {
            inner,
            map: Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    fn set(&self, asked: &Query, answered: &Query) {
        self.map
            .lock()
            .expect("map lock")
            .insert(asked.path(), answered.path());
    }
}

impl Transport for Redirect {
    pass_through!("redirect");
    fn query(&self, path: &str) -> Result<QueryResult, TransportError> {
        let mapped = self.map.lock().expect("map lock").get(path).cloned();
        self.inner.query(mapped.as_deref().unwrap_or(path))
    }
    pass_through!(writes);
}

/// A node that keeps the first answer it gave to each query and, once told to, serves that
/// old answer again (a genuine, correctly proven, but stale state).
struct Replay {
    inner: Arc<dyn Transport>,
    kept: Mutex<std::collections::BTreeMap<String, QueryResult>>,
    replaying: std::sync::atomic::AtomicBool,
}

impl Transport for Replay {
    pass_through!("replay");
    fn query(&self, path: &str) -> Result<QueryResult, TransportError> {
        let mut kept = self.kept.lock().expect("kept lock");
        if self.replaying.load(Ordering::SeqCst) {
            if let Some(old) = kept.get(path) {
                return Ok(old.clone());
            }
        }
        let r = self.inner.query(path)?;
        kept.entry(path.to_string()).or_insert_with(|| r.clone());
        Ok(r)
    }
    pass_through!(writes);
}

/// A lineage proof carries the certificate it is about; a node answering the question about
/// one certificate with the genuine, complete lineage of another must be caught, not shown
/// as the lineage asked for.
#[test]
fn a_lineage_of_another_certificate_is_refused() {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let asked = issue(&mut net, &mut bank, &mut core, "t1", 100_000_00, 30);
    let other = issue(&mut net, &mut bank, &mut core, "t1", 70_000_00, 30);
    let redirect = Arc::new(Redirect::new(net.live.clone()));
    let mut t1 = net.wallet_over("t1", redirect.clone());
    let (rec, pieces) = t1.lineage(&asked).expect("honest lineage");
    assert_eq!((rec.face, pieces[0].0), (Amount(100_000_00), asked));

    redirect.set(&Query::Lineage(asked), &Query::Lineage(other));
    match t1.lineage(&asked) {
        Err(WalletError::Proof(ProofError::WrongKey)) => {}
        Ok((rec, pieces)) => panic!(
            "another certificate's lineage was shown as {asked}'s: face {:?}, pieces {:?}",
            rec.face,
            pieces.iter().map(|(id, _)| *id).collect::<Vec<_>>()
        ),
        Err(e) => panic!("expected WrongKey, got {e:?}"),
    }
}

/// A node cannot serve a state older than one the wallet has already verified: an obligor
/// record from before a certificate was accepted would hide it from the financier pricing
/// against it. (The old answer is genuine and its proof checks against the old app hash.)
#[test]
fn an_answer_older_than_the_verified_state_is_refused() {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let mut t1 = net.wallet("t1");
    let core_a = net.addr("core");
    let replay = Arc::new(Replay {
        inner: net.live.clone(),
        kept: Mutex::new(std::collections::BTreeMap::new()),
        replaying: std::sync::atomic::AtomicBool::new(false),
    });
    let mut fooled = net.wallet_over("bank", replay.clone());
    // Kept by the node: the record before any certificate (proven absent).
    assert_eq!(record(&mut fooled, &core_a), ObligorRecord::default());

    let root = issue(&mut net, &mut bank, &mut core, "t1", 100_000_00, 30);
    refresh(&mut t1);
    run(&mut net, &mut t1, TxBody::Accept { piece: root });
    let accepted = ObligorRecord {
        certificates: 1,
        ..ObligorRecord::default()
    };
    refresh(&mut fooled);
    assert_eq!(record(&mut fooled, &core_a), accepted);
    let verified = fooled.view().expect("view").version;

    replay.replaying.store(true, Ordering::SeqCst);
    match fooled.obligor_record(&core_a) {
        Err(WalletError::Light(LightClientError::WrongHeight { requested, got })) => {
            assert!(got < verified && requested >= verified, "{requested} {got}");
        }
        other => panic!("a stale record must be refused, got {other:?}"),
    }
    replay.replaying.store(false, Ordering::SeqCst);
    assert_eq!(record(&mut fooled, &core_a), accepted);
}

/// The cache remembers what was verified from the anchor it was created with. Opened with
/// another anchor (the app ships a new root of trust, or another chain), that state must not
/// be trusted: the wallet starts from the anchor it was given.
#[test]
fn a_cache_verified_under_another_anchor_is_not_trusted() {
    let (net, root) = net_with_offer("t1", 100_000_00, 30);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t1.redb");
    {
        let mut t1 = net.open("t1", &path, net.live.clone());
        refresh(&mut t1);
        assert_eq!(offers_in(&t1)[0].0, root);
        assert!(t1.known_root(&root).is_some());
    }
    let mut config = net.config();
    config.anchor = TrustAnchor::genesis_validators(testkit::CHAIN_ID, Hash32([0xab; 32]));
    let mut t1 = Wallet::open(
        &path,
        config,
        net.signer("t1"),
        net.live.clone(),
        vec![],
        net.clock(),
    )
    .expect("open");
    assert!(
        t1.view().is_none() && t1.light_client().is_none() && t1.known_root(&root).is_none(),
        "state verified under another anchor is still trusted: view at {:?}",
        t1.view().map(|v| v.version)
    );
    match t1.refresh() {
        Err(WalletError::Light(LightClientError::InvalidAnchor { .. })) => {}
        other => panic!("the new anchor must be checked, got {other:?}"),
    }
    drop(t1);
    // Back with the right anchor: the discarded state stays discarded, and is verified anew.
    let mut t1 = net.open("t1", &path, net.live.clone());
    assert!(t1.view().is_none() && t1.known_root(&root).is_none());
    refresh(&mut t1);
    assert_eq!(offers_in(&t1)[0].0, root);
}

/// A wallet configured with transactions that never expire (`tx_ttl_blocks` at its maximum)
/// signs them with the furthest expiry height instead of overflowing.
#[test]
fn a_maximal_validity_window_saturates() {
    let (mut net, root) = net_with_offer("t1", 100_000_00, 30);
    let mut config = net.config();
    config.tx_ttl_blocks = u64::MAX;
    let mut t1 = Wallet::in_memory(
        config,
        net.signer("t1"),
        net.live.clone(),
        vec![],
        net.clock(),
    )
    .expect("wallet");
    refresh(&mut t1);
    let submitted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        t1.submit(TxBody::Accept { piece: root })
    }));
    let hash = match submitted {
        Ok(Ok(hash)) => hash,
        Ok(Err(e)) => panic!("submit: {e}"),
        Err(_) => panic!("submit panicked on the expiry height"),
    };
    assert_eq!(t1.transactions()[&hash].expiry_height, u64::MAX);
    net.block();
    refresh(&mut t1);
    assert!(matches!(
        t1.tx_status(&hash),
        Some(TxStatus::Committed { .. })
    ));
}

// ---- a transaction's outcome is proven, not the node's word ---------------------------------

/// A node whose transaction index names a block for every transaction it is asked about
/// (the block the real index names, else the latest), with a made-up refusal message.
/// While `dropping`, it also drops what it is sent (answering "admitted"); while
/// `rewriting`, it also rewrites its account of blocks so that every transaction in them
/// failed with code 7.
struct FakeRefusal {
    inner: Arc<dyn Transport>,
    lying: std::sync::atomic::AtomicBool,
    dropping: std::sync::atomic::AtomicBool,
    rewriting: std::sync::atomic::AtomicBool,
}

impl FakeRefusal {
    fn new(inner: Arc<dyn Transport>) -> Arc<FakeRefusal> {
        Arc::new(FakeRefusal {
            inner,
            lying: std::sync::atomic::AtomicBool::new(true),
            dropping: std::sync::atomic::AtomicBool::new(false),
            rewriting: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

const MADE_UP: u32 = 7;

impl Transport for FakeRefusal {
    pass_through!("fake-refusal");
    fn query(&self, path: &str) -> Result<QueryResult, TransportError> {
        self.inner.query(path)
    }
    fn tx_location(&self, hash: &Hash32) -> Result<Option<TxLocation>, TransportError> {
        let real = self.inner.tx_location(hash)?;
        if !self.lying.load(Ordering::SeqCst) {
            return Ok(real);
        }
        // Named at the block the real location names, else at the latest block.
        let height = match &real {
            Some(r) => r.height,
            None => self.inner.status()?.latest_height,
        };
        Ok(Some(TxLocation {
            height,
            index: 0,
            log: "made-up refusal".into(),
        }))
    }
    fn broadcast(&self, tx: &[u8]) -> Result<BroadcastResult, TransportError> {
        if !self.dropping.load(Ordering::SeqCst) {
            return self.inner.broadcast(tx);
        }
        Ok(BroadcastResult {
            code: 0,
            log: String::new(),
            hash: Hash32(cascade_core::crypto::sha256(tx)),
        })
    }
    fn block_outcome(&self, height: u64) -> Result<BlockOutcome, TransportError> {
        let mut outcome = self.inner.block_outcome(height)?;
        if self.rewriting.load(Ordering::SeqCst) {
            for r in &mut outcome.results {
                r.code = MADE_UP;
                r.data.clear();
            }
        }
        Ok(outcome)
    }
}

/// A chain where t1 has an offer (`root`) and a wallet over a [`FakeRefusal`] node, honest
/// for now.
fn offer_to_t1_over_a_fake_refusal() -> (Net, Hash32, Arc<FakeRefusal>, Wallet) {
    let (net, root) = net_with_offer("t1", 50_000_00, 30);
    let node = FakeRefusal::new(net.live.clone());
    node.lying.store(false, Ordering::SeqCst);
    let mut t1 = net.wallet_over("t1", node.clone());
    refresh(&mut t1);
    (net, root, node, t1)
}

/// `tx` is shown committed at `height`, with its `Confirmed` event among `events`.
fn assert_confirmed(w: &Wallet, events: &[WalletEvent], tx: Hash32, height: u64) {
    assert_eq!(w.tx_status(&tx), Some(&TxStatus::Committed { height }));
    assert!(
        events.contains(&WalletEvent::Confirmed { tx, height }),
        "{events:?}"
    );
}

/// A refusal receipt naming a block that does not hold the transaction is caught: the
/// refresh fails, the transaction stays pending (no `Failed` event), and once an honest
/// answer comes it is shown committed at the proven height.
#[test]
fn a_made_up_refusal_is_caught() {
    let (mut net, root, node, mut t1) = offer_to_t1_over_a_fake_refusal();
    node.lying.store(true, Ordering::SeqCst);
    node.dropping.store(true, Ordering::SeqCst);
    let accept = submit(&mut t1, TxBody::Accept { piece: root });
    assert_eq!(net.mempool(), 0, "the lying node dropped it");

    let view = t1.view().cloned();
    match t1.refresh() {
        Err(WalletError::Outcome(OutcomeError::NotInBlock { .. })) => {}
        other => panic!("a made-up receipt was not caught: {other:?}"),
    }
    assert_eq!(t1.tx_status(&accept), Some(&TxStatus::Pending));
    assert_eq!(t1.view().cloned(), view);

    // The same bytes reach an honest node and commit; the lying node still claims a refusal.
    node.dropping.store(false, Ordering::SeqCst);
    let bytes = t1.transactions()[&accept].bytes.clone();
    assert_eq!(net.live.broadcast(&bytes).expect("broadcast").code, 0);
    let s = net.block();
    assert!(s.txs.iter().any(|t| t.code == 0), "{:?}", s.txs);
    node.lying.store(false, Ordering::SeqCst);
    let ev = refresh(&mut t1);
    assert_confirmed(&t1, &ev, accept, s.height);
    assert!(holdings(&t1).iter().any(|(id, _)| *id == root));
}

/// A node that rewrites a block's results to back its made-up receipt is caught: the
/// results no longer hash to the verified header after the block. The refresh fails, the
/// view and the transaction's status stay, and an honest answer later confirms it.
#[test]
fn rewritten_block_results_are_refused() {
    let (mut net, root, node, mut t1) = offer_to_t1_over_a_fake_refusal();
    let view = t1.view().cloned();
    let accept = submit(&mut t1, TxBody::Accept { piece: root });
    let s = net.block();
    node.lying.store(true, Ordering::SeqCst);
    node.rewriting.store(true, Ordering::SeqCst);
    match t1.refresh() {
        Err(WalletError::Outcome(e)) => assert!(
            matches!(e, OutcomeError::Results { height } if height == s.height),
            "{e:?}"
        ),
        other => panic!("rewritten results were not refused: {other:?}"),
    }
    assert_eq!(t1.tx_status(&accept), Some(&TxStatus::Pending));
    assert_eq!(t1.view().cloned(), view);

    node.lying.store(false, Ordering::SeqCst);
    node.rewriting.store(false, Ordering::SeqCst);
    let ev = refresh(&mut t1);
    assert_confirmed(&t1, &ev, accept, s.height);
}

// ---- the ledger's parameters ----------------------------------------------------------------

/// A quote uses the ledger's own day count, proven with each refresh: once the operator
/// moves the chain to ACT/365, a wallet quotes the ACT/365 figures (what the ledger will
/// pay), not the ACT/360 default, and a node cannot make it believe otherwise.
#[test]
fn a_quote_follows_the_ledgers_proven_day_count() {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let face = Amount(100_000_00);
    let root = issue(&mut net, &mut bank, &mut core, "t1", face.0, 90);
    let mut t1 = net.wallet("t1");
    refresh(&mut t1);
    run(&mut net, &mut t1, TxBody::Accept { piece: root });
    refresh(&mut t1);
    let rate = AnnualRate::from_bps(450).expect("rate");
    let maturity = t1
        .root(&root)
        .expect("root")
        .expect("present")
        .terms
        .maturity;
    let priced = |w: &Wallet, day_count| {
        let today = w.view().expect("view").today;
        pricing::discount(face, rate, today, maturity, day_count).expect("pricing")
    };
    let day_count = |w: &Wallet| w.known_params().map(|p| p.day_count);
    assert_eq!(day_count(&t1), Some(DayCount::Act360));
    let quote = t1.quote(&root, face, rate).expect("quote");
    assert_eq!(quote, priced(&t1, DayCount::Act360));

    let mut operator = net.wallet("operator");
    refresh(&mut operator);
    let params = Params {
        day_count: DayCount::Act365,
        ..operator.chain_params().expect("params")
    };
    run(&mut net, &mut operator, TxBody::UpdateParams { params });
    refresh(&mut t1);
    assert_eq!(day_count(&t1), Some(DayCount::Act365));
    let quote = t1.quote(&root, face, rate).expect("quote");
    assert_eq!(quote, priced(&t1, DayCount::Act365));
    assert_eq!(quote.day_count, DayCount::Act365);
    assert_ne!(quote.interest, priced(&t1, DayCount::Act360).interest);

    // Kept with the view: a wallet reopened offline still quotes under ACT/365.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t1.redb");
    let mut cached = net.open("t1", &path, net.live.clone());
    refresh(&mut cached);
    drop(cached);
    let offline = net.open("t1", &path, Arc::new(Down));
    assert_eq!(day_count(&offline), Some(DayCount::Act365));
}

/// The cap on pending offers out is checked before signing, with the proven parameters.
#[test]
fn the_pending_offers_cap_is_prechecked_with_the_proven_parameters() {
    let mut net = Net::new();
    let mut bank = net.wallet("bank");
    let mut core = net.wallet("core");
    let mut t1 = net.wallet("t1");
    let root = issue(&mut net, &mut bank, &mut core, "t1", 1_000_00, 30);
    refresh(&mut t1);
    run(&mut net, &mut t1, TxBody::Accept { piece: root });

    let mut operator = net.wallet("operator");
    refresh(&mut operator);
    let params = Params {
        max_offers_out: 1,
        ..operator.chain_params().expect("params")
    };
    run(&mut net, &mut operator, TxBody::UpdateParams { params });
    refresh(&mut t1);
    let (a2a, a2b) = (net.addr("t2a"), net.addr("t2b"));
    let part = |to| TxBody::Transfer {
        piece: root,
        outputs: vec![Output {
            to,
            amount: Amount(100_00),
        }],
    };
    run(&mut net, &mut t1, part(a2a));
    refresh(&mut t1);
    let change = holdings(&t1)[0].0;
    let too_many = TxError::TooManyOffers {
        pending: 1,
        adding: 1,
        max: 1,
    };
    let offers = [
        TxBody::Transfer {
            piece: change,
            outputs: vec![Output {
                to: a2b,
                amount: Amount(100_00),
            }],
        },
        TxBody::RequestFinancing {
            piece: change,
            financier: net.addr("bank"),
            amount: Amount(100_00),
            rate: AnnualRate::from_bps(400).expect("rate"),
        },
    ];
    for body in offers {
        match t1.precheck(&body) {
            Err(WalletError::Refused { code, message }) => {
                assert_eq!(code, too_many.code());
                assert_eq!(message, too_many.to_string());
            }
            other => panic!("expected TooManyOffers, got {other:?}"),
        }
    }
}

/// A node altering the parameters (to quote under another day count, say) is caught: the
/// refresh fails, and the view and the proven parameters stay as they were.
#[test]
fn altered_parameters_are_refused() {
    let net = Net::new();
    let mode = Arc::new(AtomicU8::new(HONEST));
    let lying = Arc::new(Lying {
        inner: net.live.clone(),
        mode: mode.clone(),
    });
    let mut t1 = net.wallet_over("t1", lying);
    refresh(&mut t1);
    let (params, view) = (t1.known_params().cloned(), t1.view().cloned());
    assert_eq!(params, Some(Params::default()));
    mode.store(ALTER_PARAMS, Ordering::SeqCst);
    match t1.refresh() {
        Err(WalletError::Proof(_)) => {}
        other => panic!("altered parameters were not refused: {other:?}"),
    }
    assert_eq!(t1.known_params().cloned(), params);
    assert_eq!(t1.view().cloned(), view);
}
