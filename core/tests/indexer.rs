//! What an indexer, an auditor and a node-level attacker get from the server side:
//!
//! - **Events** (`events_*`): an indexer that reads nothing but the ABCI events of decided
//!   blocks (transaction events and block-level events such as offer expiry) rebuilds every
//!   piece (root, parent, merged inputs, holder, amount, tier, status, freeze, financing) and
//!   every account's holdings and offers, exactly as the ledger's own queries give them, after
//!   every block. The ABCI attributes decode back into the typed events of the receipts, so
//!   nothing is lost between the two.
//! - **History** (`history_*`): every action on a piece, block-level expiry included, is in
//!   its audit history, in execution order, with its transaction and actor.
//! - **Queries** (`query_*`): a list answered for another account or certificate than the one
//!   asked is refused by the bound verifiers.

use bytes::Bytes;
use cascade_core::app::App;
use cascade_core::crypto::sha256;
use cascade_core::exec::HistoryEntry;
use cascade_core::proof::{ListKind, ProofError};
use cascade_core::query::{Answer, Query};
use cascade_core::testkit::abci;
use cascade_core::testkit::{cny, Fixture, GENESIS_TIME, STANDARD_PARTICIPANTS};
use cascade_core::tx::{Output, TxBody};
use cascade_core::*;
use std::collections::{BTreeMap, BTreeSet};
use tendermint::abci::Event as AbciEvent;

// =====================================================================================
// An indexer fed only with events
// =====================================================================================

/// A piece's status as an indexer tracks it (the ledger's, without the expiry days, which
/// no event names and no list depends on).
#[derive(Clone, Debug, PartialEq, Eq)]
enum St {
    Pending { from: Address },
    Active,
    FinancingRequested { financier: Address },
    Financed,
    Ended(&'static str),
}

/// Everything about a piece that the lineage query shows.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    root: Hash32,
    parent: Option<Hash32>,
    merged_from: Vec<Hash32>,
    holder: Address,
    amount: Amount,
    tier: u16,
    status: St,
    frozen: bool,
    financing: Option<(Address, Quote, String)>,
}

impl Seen {
    /// The ledger's piece as the indexer should have it.
    fn of(p: &Piece) -> Seen {
        let status = match &p.status {
            PieceStatus::Pending { from, .. } => St::Pending { from: *from },
            PieceStatus::Active => St::Active,
            PieceStatus::FinancingRequested { financier, .. } => St::FinancingRequested {
                financier: *financier,
            },
            PieceStatus::Financed => St::Financed,
            other => St::Ended(other.name()),
        };
        Seen {
            root: p.root,
            parent: p.parent,
            merged_from: p.merged_from.clone(),
            holder: p.holder,
            amount: p.amount,
            tier: p.tier,
            status,
            frozen: p.frozen.is_some(),
            financing: p
                .financing
                .as_ref()
                .map(|f| (f.seller, f.quote, f.payment_reference.clone())),
        }
    }

    fn new(root: Hash32, parent: Option<Hash32>, holder: Address, amount: Amount) -> Seen {
        Seen {
            root,
            parent,
            merged_from: Vec::new(),
            holder,
            amount,
            tier: 1,
            status: St::Active,
            frozen: false,
            financing: None,
        }
    }
}

/// Rebuilds the ledger's pieces from events alone.
#[derive(Default)]
struct Indexer {
    pieces: BTreeMap<Hash32, Seen>,
    roots: BTreeSet<Hash32>,
    overdue: BTreeSet<Hash32>,
}

impl Indexer {
    fn piece(&mut self, id: &Hash32) -> &mut Seen {
        self.pieces
            .get_mut(id)
            .unwrap_or_else(|| panic!("an event names piece {id}, which no earlier event created"))
    }

    fn create(&mut self, id: Hash32, seen: Seen) {
        let old = self.pieces.insert(id, seen);
        assert!(old.is_none(), "piece {id} created twice");
    }

    /// A failed offer: ended, and for a transfer its value back to the sender as `returned`.
    fn unwind(
        &mut self,
        piece: &Hash32,
        from: Address,
        returned: Option<Hash32>,
        end: &'static str,
    ) {
        let p = self.piece(piece);
        match p.status {
            St::Pending { .. } => p.status = St::Ended(end),
            // Only expiry ends a financing request this way; the piece is free again.
            St::FinancingRequested { .. } if end == "expired" => {
                p.status = St::Active;
                assert_eq!(returned, None);
                return;
            }
            ref s => panic!("{end} of piece {piece} in status {s:?}"),
        }
        let p = p.clone();
        if let Some(r) = returned {
            let back = Seen {
                tier: p.tier.saturating_sub(1).max(1),
                ..Seen::new(p.root, Some(*piece), from, p.amount)
            };
            self.create(r, back);
        }
    }

    /// Applies the events of one transaction (or of one block's block-level processing).
    fn apply(&mut self, events: &[Event]) {
        // A transfer's parts are announced before the `Split` that names their parent.
        let split_input = events.iter().find_map(|e| match e {
            Event::Split { input, .. } => Some(*input),
            _ => None,
        });
        let mut offered = Amount::ZERO;
        for e in events {
            match e {
                Event::Issued { root, .. } => {
                    self.roots.insert(*root);
                }
                Event::Offered {
                    root,
                    piece,
                    from,
                    to,
                    amount,
                    tier,
                    ..
                } => {
                    let parent = if piece == root {
                        None
                    } else {
                        Some(split_input.expect("a transfer part without its split"))
                    };
                    offered = offered.checked_add(*amount).unwrap();
                    let seen = Seen {
                        tier: *tier,
                        status: St::Pending { from: *from },
                        ..Seen::new(*root, parent, *to, *amount)
                    };
                    self.create(*piece, seen);
                }
                Event::Accepted { piece, holder, .. } => {
                    let p = self.piece(piece);
                    assert_eq!(p.holder, *holder);
                    p.status = St::Active;
                }
                Event::Rejected {
                    piece,
                    from,
                    returned,
                    ..
                } => self.unwind(piece, *from, *returned, "rejected"),
                Event::Cancelled {
                    piece,
                    from,
                    returned,
                    ..
                } => self.unwind(piece, *from, *returned, "cancelled"),
                Event::OfferExpired {
                    piece,
                    from,
                    returned,
                    ..
                } => self.unwind(piece, *from, *returned, "expired"),
                Event::Split {
                    input,
                    holder,
                    change,
                    ..
                } => {
                    let p = self.piece(input);
                    p.status = St::Ended("consumed");
                    let p = p.clone();
                    if let Some(c) = change {
                        let amount = p.amount.checked_sub(offered).unwrap();
                        let seen = Seen {
                            tier: p.tier,
                            ..Seen::new(p.root, Some(*input), *holder, amount)
                        };
                        self.create(*c, seen);
                    }
                }
                Event::Merged {
                    inputs,
                    output,
                    holder,
                    amount,
                    ..
                } => {
                    let mut tier = 1;
                    let mut root = None;
                    for i in inputs {
                        let p = self.piece(i);
                        p.status = St::Ended("consumed");
                        tier = tier.max(p.tier);
                        root = Some(p.root);
                    }
                    let seen = Seen {
                        tier,
                        merged_from: inputs.clone(),
                        ..Seen::new(root.unwrap(), Some(inputs[0]), *holder, *amount)
                    };
                    self.create(*output, seen);
                }
                Event::FinancingRequested {
                    input,
                    piece,
                    holder,
                    financier,
                    amount,
                    change,
                    ..
                } => {
                    let locked = St::FinancingRequested {
                        financier: *financier,
                    };
                    if input == piece {
                        let p = self.piece(piece);
                        assert_eq!((p.holder, p.amount, change), (*holder, *amount, &None));
                        p.status = locked;
                    } else {
                        // Part of the piece was locked: it is consumed and split into the
                        // locked piece and the change, one tier as it was.
                        let p = self.piece(input);
                        assert_eq!(p.holder, *holder);
                        p.status = St::Ended("consumed");
                        let p = p.clone();
                        let rest = p.amount.checked_sub(*amount).unwrap();
                        let seen = Seen {
                            tier: p.tier,
                            status: locked,
                            ..Seen::new(p.root, Some(*input), *holder, *amount)
                        };
                        self.create(*piece, seen);
                        let c = change.expect("a partial request leaves change");
                        let seen = Seen {
                            tier: p.tier,
                            ..Seen::new(p.root, Some(*input), *holder, rest)
                        };
                        self.create(c, seen);
                    }
                }
                Event::FinancingWithdrawn { piece, .. } => {
                    self.piece(piece).status = St::Active;
                }
                Event::Financed {
                    input,
                    piece,
                    seller,
                    financier,
                    quote,
                    payment_reference,
                    ..
                } => {
                    let p = self.piece(input);
                    assert_eq!(p.holder, *seller);
                    p.status = St::Ended("consumed");
                    let p = p.clone();
                    let seen = Seen {
                        tier: p.tier,
                        status: St::Financed,
                        financing: Some((*seller, *quote, payment_reference.clone())),
                        ..Seen::new(p.root, Some(*input), *financier, p.amount)
                    };
                    self.create(*piece, seen);
                }
                Event::Settled { entries, .. } => {
                    for e in entries {
                        let p = self.piece(&e.piece);
                        let payee = match p.status {
                            St::Pending { from } => from,
                            _ => p.holder,
                        };
                        assert_eq!((e.payee, e.amount, e.withheld), (payee, p.amount, p.frozen));
                        p.status = St::Ended("settled");
                    }
                }
                Event::MarkedOverdue { root, .. } => {
                    self.overdue.insert(*root);
                }
                Event::Frozen { piece, .. } => self.piece(piece).frozen = true,
                Event::Unfrozen { piece, .. } => self.piece(piece).frozen = false,
                _ => {}
            }
        }
    }

    /// The pieces in one of an account's lists, by the relations of ADR 0003.
    fn list(&self, a: &Address, kind: ListKind) -> Vec<Hash32> {
        self.pieces
            .iter()
            .filter(|(_, p)| match (kind, &p.status) {
                (ListKind::Holdings, St::Active | St::Financed | St::FinancingRequested { .. }) => {
                    p.holder == *a
                }
                (ListKind::OffersIn, St::Pending { .. }) => p.holder == *a,
                (ListKind::OffersIn, St::FinancingRequested { financier }) => financier == a,
                (ListKind::OffersOut, St::Pending { from }) => from == a,
                (ListKind::OffersOut, St::FinancingRequested { .. }) => p.holder == *a,
                _ => false,
            })
            .map(|(id, _)| *id)
            .collect()
    }
}

// =====================================================================================
// ABCI events back into typed events
// =====================================================================================

/// Decodes a `cascade.<kind>` ABCI event into the typed event, the way an indexer that
/// knows the event schema would: each attribute is a field, its value JSON where the
/// field is not a plain string.
fn decode(event: &AbciEvent) -> Option<Event> {
    let kind = event.kind.strip_prefix("cascade.")?;
    if kind == "tx" {
        return None;
    }
    let mut fields = serde_json::Map::new();
    fields.insert("type".into(), kind.into());
    for a in &event.attributes {
        let (key, value) = (a.key_str().unwrap(), a.value_str().unwrap());
        assert!(a.index(), "{kind}.{key} is not indexed");
        let parsed = serde_json::from_str::<serde_json::Value>(value)
            .ok()
            .filter(|v| !v.is_string())
            .unwrap_or_else(|| value.into());
        assert!(
            fields.insert(key.into(), parsed).is_none(),
            "{kind}.{key} twice"
        );
    }
    Some(
        serde_json::from_value(serde_json::Value::Object(fields))
            .unwrap_or_else(|e| panic!("ABCI event {kind} does not decode: {e}: {event:?}")),
    )
}

// =====================================================================================
// A chain driven through ABCI
// =====================================================================================

const PARTICIPANTS: [&str; 10] = [
    "operator", "auditor", "core", "t1", "t2a", "t2b", "t3a", "t3b", "bank", "factor",
];

struct Chain {
    fx: Fixture,
    app: App,
    nonces: BTreeMap<String, u64>,
    height: u64,
    time: i64,
    docs: u64,
    indexer: Indexer,
    /// Every block-level event seen, with its height.
    block_events: Vec<(u64, Event)>,
}

impl Chain {
    fn new() -> Chain {
        let mut fx = Fixture::new(STANDARD_PARTICIPANTS, Params::default());
        fx.ttl = 1_000_000;
        let app = abci::new_app(fx.genesis());
        let mut chain = Chain {
            fx,
            app,
            nonces: BTreeMap::new(),
            height: 0,
            time: GENESIS_TIME + 3600,
            docs: 0,
            indexer: Indexer::default(),
            block_events: Vec::new(),
        };
        let core = chain.addr("core");
        chain.ok(
            "bank",
            TxBody::SetCreditLine {
                obligor: core,
                currency: cny(),
                limit: Amount(1_000_000_000_00),
            },
        );
        chain
    }

    fn addr(&self, name: &str) -> Address {
        self.fx.addr(name)
    }

    fn days(&mut self, n: u32) {
        self.time += i64::from(n) * 86_400;
    }

    /// Runs one decided block of `txs` (all must succeed), feeds the indexer with its ABCI
    /// events only, and checks the indexer against the ledger's queries.
    fn block(&mut self, txs: Vec<(&str, TxBody)>) -> Vec<TxReceipt> {
        let bytes: Vec<Bytes> = txs
            .into_iter()
            .map(|(who, body)| {
                let nonce = self.nonces.entry(who.to_string()).or_insert(0);
                let tx = self.fx.sign_with(who, *nonce, body);
                *nonce += 1;
                Bytes::from(tx)
            })
            .collect();
        self.height += 1;
        self.time += 10;
        let resp = self
            .app
            .finalize_block(&abci::finalize_block(self.height, self.time, &bytes))
            .unwrap();
        self.app.commit().unwrap();

        // Block-level processing comes first, as it ran first.
        let block: Vec<Event> = resp.events.iter().filter_map(decode).collect();
        self.indexer.apply(&block);
        self.block_events
            .extend(block.into_iter().map(|e| (self.height, e)));
        let mut receipts = Vec::new();
        for (index, (tx, result)) in bytes.iter().zip(&resp.tx_results).enumerate() {
            assert!(result.code.is_ok(), "transaction failed: {}", result.log);
            // The typed events, as the result data carries them (ADR 0012).
            let receipt = TxReceipt {
                hash: Hash32(sha256(tx)),
                height: self.height,
                index: u32::try_from(index).unwrap(),
                code: 0,
                log: String::new(),
                events: cascade_core::event::from_result_data(&result.data).unwrap(),
            };
            let decoded: Vec<Event> = result.events.iter().filter_map(decode).collect();
            assert_eq!(
                decoded, receipt.events,
                "ABCI events differ from the result data's"
            );
            let kinds: Vec<&str> = receipt.events.iter().map(Event::kind).collect();
            let tx_event = &result.events[0];
            assert_eq!(tx_event.kind, "cascade.tx");
            let events_attr = tx_event
                .attributes
                .iter()
                .find(|a| a.key_str().unwrap() == "events")
                .unwrap();
            assert_eq!(events_attr.value_str().unwrap(), kinds.join(","));
            self.indexer.apply(&decoded);
            receipts.push(receipt);
        }
        self.check();
        receipts
    }

    fn ok(&mut self, who: &str, body: TxBody) -> TxReceipt {
        self.block(vec![(who, body)]).remove(0)
    }

    /// The indexer's view equals the ledger's: every lineage piece by piece, every list.
    fn check(&self) {
        let ledger = self.app.ledger();
        for root in &self.indexer.roots {
            let lineage: BTreeMap<Hash32, Seen> = ledger
                .lineage(root)
                .unwrap()
                .iter()
                .map(|(id, p)| (*id, Seen::of(p)))
                .collect();
            let indexed: BTreeMap<Hash32, Seen> = self
                .indexer
                .pieces
                .iter()
                .filter(|(_, p)| p.root == *root)
                .map(|(id, p)| (*id, p.clone()))
                .collect();
            assert_eq!(
                indexed, lineage,
                "lineage of {root} at height {}",
                self.height
            );
            let record = ledger.root(root).unwrap().unwrap();
            assert_eq!(record.overdue, self.indexer.overdue.contains(root));
        }
        for name in PARTICIPANTS {
            let a = self.addr(name);
            for (kind, listed) in [
                (ListKind::Holdings, ledger.holdings(&a)),
                (ListKind::OffersIn, ledger.offers_in(&a)),
                (ListKind::OffersOut, ledger.offers_out(&a)),
            ] {
                let listed: Vec<Hash32> = listed.unwrap().iter().map(|(id, _)| *id).collect();
                assert_eq!(
                    self.indexer.list(&a, kind),
                    listed,
                    "{name} {kind:?} at height {}",
                    self.height
                );
            }
        }
    }

    /// Anchors a document with `t1` and issues a certificate on it (`days` to maturity).
    fn issue(&mut self, amount: u64, days: u32) -> Hash32 {
        self.docs += 1;
        let document = Hash32(sha256(format!("indexer-invoice-{}", self.docs).as_bytes()));
        let (core, t1, bank) = (self.addr("core"), self.addr("t1"), self.addr("bank"));
        let day = Day::from_unix_seconds(self.time).unwrap();
        let r = self.block(vec![
            (
                "core",
                TxBody::AnchorDocument {
                    hash: document,
                    amount: Money {
                        amount: Amount(amount),
                        currency: cny(),
                    },
                    buyer: core,
                    seller: t1,
                },
            ),
            (
                "core",
                TxBody::Issue {
                    to: t1,
                    amount: Amount(amount),
                    currency: cny(),
                    maturity: Day(day.0 + days),
                    document,
                    credit_grantor: bank,
                },
            ),
        ]);
        cascade_core::testkit::first_piece(&r[1].events)
    }

    fn transfer(
        &mut self,
        who: &str,
        piece: Hash32,
        to: &[(&str, u64)],
    ) -> (Vec<Hash32>, Option<Hash32>) {
        let outputs = to
            .iter()
            .map(|(n, a)| Output {
                to: self.addr(n),
                amount: Amount(*a),
            })
            .collect();
        let r = self.ok(who, TxBody::Transfer { piece, outputs });
        cascade_core::testkit::offered_and_change(&r.events)
    }

    fn history(&self, piece: &Hash32) -> Vec<HistoryEntry> {
        let Answer::History(h) = self.app.ledger().answer(&Query::History(*piece)).unwrap() else {
            panic!("history answered with another kind");
        };
        h
    }
}

fn returned(r: &TxReceipt) -> Hash32 {
    r.events
        .iter()
        .find_map(|e| match e {
            Event::Rejected { returned, .. }
            | Event::Cancelled { returned, .. }
            | Event::OfferExpired { returned, .. } => *returned,
            _ => None,
        })
        .unwrap_or_else(|| panic!("nothing returned in {:?}", r.events))
}

/// Pieces of the scenario the tests look at afterwards.
struct Cast {
    chain: Chain,
    root: Hash32,
    voided: Vec<Hash32>,
    /// t1's change after the first transfer (consumed by the second).
    change1: Hash32,
    /// Offer to t3a that expired in a block (with its returned piece).
    expired_offer: Hash32,
    expired_return: Hash32,
    /// A piece frozen and unfrozen, and one frozen through settlement.
    thawed: Hash32,
    frozen: Hash32,
    /// t2a's piece financed by the bank, and the financed piece.
    sold: Hash32,
    financed: Hash32,
    /// The merged piece, whose financing request expired in a block.
    merged: Hash32,
}

/// Every transaction kind that touches pieces, and every block-level step, on one chain.
fn scenario() -> Cast {
    let mut c = Chain::new();
    let (bank, factor) = (c.addr("bank"), c.addr("factor"));
    let root = c.issue(1_000_000_00, 60);
    // Three more issues: rejected, cancelled and left to expire (each voids its certificate).
    let rejected = c.issue(10_000_00, 60);
    let cancelled = c.issue(10_000_00, 60);
    let expiring = c.issue(10_000_00, 60);
    c.block(vec![
        ("t1", TxBody::Accept { piece: root }),
        ("t1", TxBody::Reject { piece: rejected }),
        ("core", TxBody::Cancel { piece: cancelled }),
    ]);

    // A split with change; one part accepted, one rejected (value back to t1, one tier up).
    let (parts, change1) = c.transfer("t1", root, &[("t2a", 300_000_00), ("t2b", 200_000_00)]);
    let change1 = change1.unwrap();
    let r = c.block(vec![
        ("t2a", TxBody::Accept { piece: parts[0] }),
        ("t2b", TxBody::Reject { piece: parts[1] }),
    ]);
    let back_from_t2b = returned(&r[1]);
    // An offer its sender withdraws, and one to t3a that nobody answers.
    let (o, change2) = c.transfer("t1", change1, &[("t2a", 100_000_00)]);
    let r = c.ok("t1", TxBody::Cancel { piece: o[0] });
    let back_from_cancel = returned(&r);
    let (to_t3a, change3) = c.transfer("t1", change2.unwrap(), &[("t3a", 50_000_00)]);
    let change3 = change3.unwrap();
    // Merge the two returned pieces.
    let r = c.ok(
        "t1",
        TxBody::Merge {
            pieces: vec![back_from_t2b, back_from_cancel],
        },
    );
    let Event::Merged { output: merged, .. } = r.events[0] else {
        panic!("{:?}", r.events)
    };
    // Financing of the whole merged piece: declined, withdrawn, then left to expire.
    let ask = |financier| TxBody::RequestFinancing {
        piece: merged,
        financier,
        amount: Amount(300_000_00),
        rate: AnnualRate(40_000),
    };
    c.ok("t1", ask(bank));
    c.ok("bank", TxBody::Reject { piece: merged });
    c.ok("t1", ask(bank));
    c.ok("t1", TxBody::Cancel { piece: merged });
    c.ok("t1", ask(factor));
    // t2a sells its whole piece to the bank.
    c.ok(
        "t2a",
        TxBody::RequestFinancing {
            piece: parts[0],
            financier: bank,
            amount: Amount(300_000_00),
            rate: AnnualRate(45_000),
        },
    );
    let r = c.ok(
        "bank",
        TxBody::AcceptFinancing {
            piece: parts[0],
            payment_reference: "REF-indexer-1".into(),
        },
    );
    let Event::Financed {
        piece: financed, ..
    } = r.events[0]
    else {
        panic!("{:?}", r.events)
    };
    // Freeze and unfreeze one piece; freeze another until settlement.
    c.ok(
        "auditor",
        TxBody::Freeze {
            piece: change3,
            reason: 7,
        },
    );
    c.ok("operator", TxBody::Unfreeze { piece: change3 });
    c.ok(
        "operator",
        TxBody::Freeze {
            piece: financed,
            reason: 9,
        },
    );

    // A week later the unanswered offers expire in block-level processing: the issue to t1
    // (certificate void), the transfer to t3a (value back to t1) and the financing request.
    c.days(8);
    c.block(vec![]);
    let expiries: Vec<&Event> = c
        .block_events
        .iter()
        .map(|(_, e)| e)
        .filter(|e| matches!(e, Event::OfferExpired { .. }))
        .collect();
    assert_eq!(expiries.len(), 3, "{expiries:?}");
    let expired_return = c
        .indexer
        .pieces
        .iter()
        .find(|(_, p)| p.parent == Some(to_t3a[0]))
        .map(|(id, _)| *id)
        .expect("the expired offer's value came back");

    // Past maturity and grace: marked overdue, then settled late.
    c.days(60);
    c.ok("t2b", TxBody::MarkOverdue { root });
    let r = c.ok("core", TxBody::Settle { root });
    let Event::Settled { late, entries, .. } = &r.events[0] else {
        panic!("{:?}", r.events)
    };
    assert!(*late);
    assert!(entries.iter().any(|e| e.piece == financed && e.withheld));
    Cast {
        chain: c,
        root,
        voided: vec![rejected, cancelled, expiring],
        change1,
        expired_offer: to_t3a[0],
        expired_return,
        thawed: change3,
        frozen: financed,
        sold: parts[0],
        financed,
        merged,
    }
}

// =====================================================================================
// Events
// =====================================================================================

/// The indexer is checked against the ledger after every block inside `scenario`; here the
/// end state is also checked to be the interesting one (so the comparison was not vacuous).
#[test]
fn events_alone_rebuild_every_piece_list_and_lineage() {
    let cast = scenario();
    let c = &cast.chain;
    let ledger = c.app.ledger();
    for v in &cast.voided {
        assert_eq!(ledger.root(v).unwrap().unwrap().status, RootStatus::Void);
    }
    let lineage = ledger.lineage(&cast.root).unwrap();
    let statuses: BTreeSet<&str> = lineage.iter().map(|(_, p)| p.status.name()).collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["settled", "consumed", "rejected", "cancelled", "expired"])
    );
    assert_eq!(
        lineage.len(),
        c.indexer
            .pieces
            .iter()
            .filter(|(_, p)| p.root == cast.root)
            .count()
    );
    assert_eq!(
        lineage.len(),
        13,
        "issue, 3 transfers with change, 3 returns, merge, financing"
    );
    let merged = &c.indexer.pieces[&cast.merged];
    assert_eq!(merged.merged_from.len(), 2);
    assert!(c.indexer.pieces[&cast.financed].financing.is_some());
    assert!(c.indexer.overdue.contains(&cast.root));
}

/// A financing request for part of a piece splits it: the event must say which piece was
/// consumed, or an indexer keeps that piece in its holder's holdings and cannot give the
/// locked piece and the change their parent, tier and amount. (The chain checks the
/// indexer against the ledger after every block.)
#[test]
fn events_financing_request_for_part_of_a_piece_names_the_split_piece() {
    let mut c = Chain::new();
    let root = c.issue(1_000_000_00, 60);
    c.ok("t1", TxBody::Accept { piece: root });
    // Two pieces of one certificate, both large enough, so the holder's holdings do not
    // tell which one was split either.
    let (offer, change) = c.transfer("t1", root, &[("t2a", 400_000_00)]);
    c.ok("t2a", TxBody::Reject { piece: offer[0] });
    let bank = c.addr("bank");
    c.ok(
        "t1",
        TxBody::RequestFinancing {
            piece: change.unwrap(),
            financier: bank,
            amount: Amount(100_000_00),
            rate: AnnualRate(40_000),
        },
    );
}

// =====================================================================================
// History
// =====================================================================================

fn actions(h: &[HistoryEntry]) -> Vec<(&str, &str)> {
    h.iter()
        .map(|e| (e.action.as_str(), e.status.as_str()))
        .collect()
}

#[test]
fn history_records_every_action_in_order_with_its_transaction_and_actor() {
    let cast = scenario();
    let c = &cast.chain;
    let t1 = c.addr("t1");

    let root = c.history(&cast.root);
    assert_eq!(
        actions(&root),
        [
            ("issue", "pending"),
            ("accept", "active"),
            ("split", "consumed")
        ]
    );
    assert_eq!(root[0].actor, Some(c.addr("core")));
    assert_eq!(root[1].actor, Some(t1));
    assert!(root.iter().all(|e| e.tx.is_some()));

    // Block-level expiry: no transaction, no actor, in the block that expired it.
    let offer = c.history(&cast.expired_offer);
    assert_eq!(
        actions(&offer),
        [("offered", "pending"), ("expired", "expired")]
    );
    assert_eq!((offer[1].tx, offer[1].actor), (None, None));
    let expiry_height = c
        .block_events
        .iter()
        .find(
            |(_, e)| matches!(e, Event::OfferExpired { piece, .. } if *piece == cast.expired_offer),
        )
        .unwrap()
        .0;
    assert_eq!(offer[1].height, expiry_height);
    let back = c.history(&cast.expired_return);
    assert_eq!(
        actions(&back),
        [("returned", "active"), ("settled", "settled")]
    );
    assert_eq!(back[0].height, expiry_height);

    // The merged piece: financing declined, withdrawn, expired, then settled.
    let merged = c.history(&cast.merged);
    assert_eq!(
        actions(&merged),
        [
            ("merge", "active"),
            ("financing requested", "financing-requested"),
            ("financing declined", "active"),
            ("financing requested", "financing-requested"),
            ("financing withdrawn", "active"),
            ("financing requested", "financing-requested"),
            ("financing request expired", "active"),
            ("settled", "settled"),
        ]
    );
    assert_eq!(merged[2].actor, Some(c.addr("bank")));
    assert_eq!(merged[6].actor, None);

    // Freeze and unfreeze are recorded (with who did it) although the status stays.
    let thawed = c.history(&cast.thawed);
    assert_eq!(
        actions(&thawed),
        [
            ("change", "active"),
            ("frozen", "active"),
            ("unfrozen", "active"),
            ("settled", "settled"),
        ]
    );
    assert_eq!(thawed[1].actor, Some(c.addr("auditor")));
    assert_eq!(thawed[2].actor, Some(c.addr("operator")));

    // Financing: the sold piece is consumed, the financier's piece starts financed.
    assert_eq!(
        actions(&c.history(&cast.sold)),
        [
            ("offered", "pending"),
            ("accept", "active"),
            ("financing requested", "financing-requested"),
            ("financed", "consumed"),
        ]
    );
    assert_eq!(
        actions(&c.history(&cast.frozen)),
        [
            ("financed", "financed"),
            ("frozen", "financed"),
            ("settled", "settled")
        ]
    );
    assert_eq!(
        actions(&c.history(&cast.change1)),
        [("change", "active"), ("split", "consumed")]
    );

    // Every history is in (height, execution) order, and every piece of the lineage has
    // one; an unknown piece has none.
    for (id, _) in c.app.ledger().lineage(&cast.root).unwrap() {
        let h = c.history(&id);
        assert!(!h.is_empty(), "piece {id} has no history");
        assert!(h.windows(2).all(|w| w[0].height <= w[1].height), "{h:?}");
        assert!(h.windows(2).all(|w| w[0].day <= w[1].day), "{h:?}");
    }
    assert!(c.history(&Hash32([0xee; 32])).is_empty());
}

// =====================================================================================
// Queries
// =====================================================================================

/// A node asked for t1's holdings can answer with another account's genuine, complete
/// list, for instance the bank's empty one, so t1 seems to hold nothing; or with a list of
/// another kind. `verify` alone accepts that, since it proves the list the answer names.
/// The bound verifiers also check that the answer is for what was asked.
#[test]
fn query_a_list_for_another_account_kind_or_certificate_is_refused() {
    let mut c = Chain::new();
    let root = c.issue(100_000_00, 60);
    let other = c.issue(10_000_00, 60);
    c.ok("t1", TxBody::Accept { piece: root });
    c.transfer("t1", root, &[("t2a", 40_000_00)]);
    let ledger = c.app.ledger();
    let app = ledger.committed().unwrap().app_hash;
    let (t1, bank) = (c.addr("t1"), c.addr("bank"));
    let list = |q: Query| match ledger.answer(&q).unwrap() {
        Answer::List(l) => l,
        a => panic!("{q:?} answered with {a:?}"),
    };

    let own = list(Query::Holdings(t1));
    assert_eq!(own.verify(&app).unwrap().len(), 1);
    assert_eq!(
        own.verify_for(&app, &t1, ListKind::Holdings),
        own.verify(&app)
    );
    // The substitution: genuine and complete, but the bank's (empty) holdings.
    let bank_list = list(Query::Holdings(bank));
    assert_eq!(bank_list.verify(&app), Ok(vec![]));
    assert_eq!(
        bank_list.verify_for(&app, &t1, ListKind::Holdings),
        Err(ProofError::WrongKey)
    );
    // Or t1's own offers out (one offer to t2a), answered as its holdings.
    let out = list(Query::OffersOut(t1));
    assert_eq!(out.verify(&app).unwrap().len(), 1);
    assert_eq!(
        out.verify_for(&app, &t1, ListKind::Holdings),
        Err(ProofError::WrongKey)
    );

    // A lineage answered for another certificate.
    let lineage = |r: Hash32| match ledger.answer(&Query::Lineage(r)).unwrap() {
        Answer::Lineage(l) => l,
        a => panic!("lineage answered with {a:?}"),
    };
    let foreign = lineage(other);
    assert!(foreign.verify(&app).is_ok());
    assert_eq!(foreign.verify_for(&app, &root), Err(ProofError::WrongKey));
    let own = lineage(root);
    assert_eq!(own.verify(&app).unwrap().1.len(), 3);
    assert_eq!(own.verify_for(&app, &root), own.verify(&app));
}

/// Absence of a piece is proven, through the ABCI query path, for many unrelated ids (each
/// sits between different neighbouring leaves of the tree), and a present piece can never be
/// answered as absent with any of those proofs.
#[test]
fn query_absent_pieces_are_proven_absent_through_abci() {
    let mut c = Chain::new();
    let root = c.issue(100_000_00, 60);
    c.ok("t1", TxBody::Accept { piece: root });
    c.transfer("t1", root, &[("t2a", 40_000_00), ("t2b", 10_000_00)]);
    let app = c.app.ledger().committed().unwrap().app_hash;
    let present = cascade_core::keys::piece(&root);
    for n in 0u32..64 {
        let id = Hash32(sha256(&n.to_be_bytes()));
        let resp = c.app.query(&abci::query(&Query::Piece(id).path(), 0));
        assert!(resp.code.is_ok(), "{}", resp.log);
        let answer: Answer = cascade_core::codec::decode_stored(&resp.value).unwrap();
        let Answer::State(proof) = answer else {
            panic!("a piece is answered with a state proof");
        };
        let key = cascade_core::keys::piece(&id);
        assert_eq!(proof.verify_typed::<Piece>(&app, &key), Ok(None), "id {n}");
        let mut forged = proof.clone();
        forged.key = present.to_vec();
        assert_eq!(forged.verify(&app, &present), Err(ProofError::Mismatch));
    }
}
