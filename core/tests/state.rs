//! State-level guarantees of the ledger:
//!
//! - **Proofs** (`proof_*`): membership and non-membership proofs verify against the
//!   committed app hash and nothing else, and a list of holdings, offers or a lineage is
//!   accepted only if it is complete (no piece omitted, added, duplicated or stale).
//! - **Determinism** (`replay_*`, `reopening_*`): the same signed transactions give the same
//!   app hash at every height, in memory or on disk, with or without restarts in between.
//! - **Crash safety** (`killed_process_*`): a process SIGKILLed at any moment reopens at the
//!   last committed block, with the app hash an uninterrupted run has at that height.

use cascade_core::keys;
use cascade_core::proof::{ListKind, ProofError};
use cascade_core::store::Committed;
use cascade_core::testkit::{
    cny, first_piece, offered_and_change, Fixture, CHAIN_ID, GENESIS_TIME, STANDARD_PARTICIPANTS,
};
use cascade_core::tx::{Output, Tx, TxBody};
use cascade_core::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn app_hash(fx: &Fixture) -> Hash32 {
    fx.ledger.committed().expect("committed").app_hash
}

fn ids(list: &[(Hash32, Piece)]) -> Vec<Hash32> {
    list.iter().map(|(id, _)| *id).collect()
}

fn h(text: &str) -> Hash32 {
    Hash32(cascade_core::crypto::sha256(text.as_bytes()))
}

// =====================================================================================
// A. Proofs
// =====================================================================================

/// A ledger with every kind of list populated:
///
/// - `t1` holds three pieces over two certificates (active change, a financing-requested
///   piece, the change of a financing) and has three offers out (two transfers to `t2a`, one
///   financing request to `bank`);
/// - `t2a` has two pending offers in; `t2b` holds two pieces and has one offer out;
/// - `bank` has two financing requests in; `factor` holds one financed piece.
struct World {
    fx: Fixture,
    root: Hash32,
    root2: Hash32,
    /// Pending offers to t2a.
    to_t2a: Vec<Hash32>,
    /// Held by t2b (active change of its financing request).
    t2b_change: Hash32,
    /// Financed piece held by factor.
    financed: Hash32,
}

fn financing_requested(r: &TxReceipt) -> (Hash32, Option<Hash32>) {
    match &r.events[0] {
        Event::FinancingRequested { piece, change, .. } => (*piece, *change),
        e => panic!("unexpected event {e:?}"),
    }
}

fn world() -> World {
    let mut fx = Fixture::standard();
    let (bank, factor) = (fx.addr("bank"), fx.addr("factor"));
    fx.ok(
        "factor",
        TxBody::SetCreditLine {
            obligor: fx.addr("core"),
            currency: cny(),
            limit: Amount(1_000_000_000),
        },
    );
    let root = fx.issue_accepted("t1", 1_000_000_00, 90);
    let (o1, c1) = fx.transfer("t1", root, &[("t2a", 100_000_00), ("t2b", 50_000_00)]);
    fx.ok("t2b", TxBody::Accept { piece: o1[1] });
    let (o2, c2) = fx.transfer("t1", c1.unwrap(), &[("t2a", 70_000_00)]);
    // t1 has factor finance 100,000.00 of its change.
    let r = fx.ok(
        "t1",
        TxBody::RequestFinancing {
            piece: c2.unwrap(),
            financier: factor,
            amount: Amount(100_000_00),
            rate: AnnualRate(43_500),
        },
    );
    let (locked, _t1_change) = financing_requested(&r);
    let r = fx.ok(
        "factor",
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: "REF-1".into(),
        },
    );
    let Event::Financed {
        piece: financed, ..
    } = r.events[0]
    else {
        panic!("{:?}", r.events)
    };
    // A second certificate for t1, part of which it asks the bank to finance.
    let root2 = fx.issue_accepted("t1", 500_000_00, 60);
    fx.ok(
        "t1",
        TxBody::RequestFinancing {
            piece: root2,
            financier: bank,
            amount: Amount(200_000_00),
            rate: AnnualRate(50_000),
        },
    );
    // t2b asks the bank too.
    let r = fx.ok(
        "t2b",
        TxBody::RequestFinancing {
            piece: o1[1],
            financier: bank,
            amount: Amount(30_000_00),
            rate: AnnualRate(40_000),
        },
    );
    let (_, t2b_change) = financing_requested(&r);
    World {
        fx,
        root,
        root2,
        to_t2a: vec![o1[0], o2[0]],
        t2b_change: t2b_change.unwrap(),
        financed,
    }
}

fn listed(fx: &Fixture, who: &Address, kind: ListKind) -> Vec<(Hash32, Piece)> {
    match kind {
        ListKind::Holdings => fx.ledger.holdings(who),
        ListKind::OffersIn => fx.ledger.offers_in(who),
        ListKind::OffersOut => fx.ledger.offers_out(who),
    }
    .unwrap()
}

#[test]
fn proof_membership_verifies_only_against_its_app_hash_key_and_value() {
    let w = world();
    let fx = &w.fx;
    let app = app_hash(fx);
    let id = w.to_t2a[0];
    let key = keys::piece(&id);
    let proof = fx.ledger.prove_piece(&id).unwrap();
    assert_eq!(proof.version, fx.ledger.committed().unwrap().version);

    // Verifies and proves exactly the stored piece.
    let piece: Piece = proof.verify_typed(&app, &key).unwrap().unwrap();
    assert_eq!(piece, fx.ledger.piece(&id).unwrap().unwrap());
    assert_eq!(piece.holder, fx.addr("t2a"));

    // Another app hash: an arbitrary one and the genuine hash of the previous block.
    assert_eq!(
        proof.verify(&Hash32([0x5a; 32]), &key),
        Err(ProofError::Mismatch)
    );
    let mut other = app.0;
    other[31] ^= 1;
    assert_eq!(
        proof.verify(&Hash32(other), &key),
        Err(ProofError::Mismatch)
    );

    // Asking about another key with this proof.
    let other_key = keys::piece(&w.to_t2a[1]);
    assert_eq!(proof.verify(&app, &other_key), Err(ProofError::WrongKey));
    // Relabelling the proof with the other key does not help: the proof commits to its key.
    let mut relabelled = proof.clone();
    relabelled.key = other_key.to_vec();
    assert_eq!(
        relabelled.verify(&app, &other_key),
        Err(ProofError::Mismatch)
    );

    // Tampered value: every single-bit flip, and another piece's genuine value.
    let value = proof.value.clone().unwrap();
    for i in 0..value.len() {
        let mut p = proof.clone();
        p.value.as_mut().unwrap()[i] ^= 1 << (i % 8);
        assert_eq!(p.verify(&app, &key), Err(ProofError::Mismatch), "byte {i}");
    }
    let mut swapped = proof.clone();
    swapped.value = fx.ledger.prove_piece(&w.to_t2a[1]).unwrap().value;
    assert_eq!(swapped.verify(&app, &key), Err(ProofError::Mismatch));
    let mut truncated = proof.clone();
    truncated.value.as_mut().unwrap().pop();
    assert_eq!(truncated.verify(&app, &key), Err(ProofError::Mismatch));

    // Tampered proof bytes: flipping any bit of any byte breaks it (it no longer decodes,
    // or it no longer leads to the app hash).
    for i in 0..proof.proof.len() {
        for bit in [0x01u8, 0x80] {
            let mut p = proof.clone();
            p.proof[i] ^= bit;
            let r = p.verify(&app, &key);
            assert!(
                matches!(
                    r,
                    Err(ProofError::Mismatch) | Err(ProofError::Malformed { .. })
                ),
                "flipping bit {bit:#04x} of proof byte {i} gave {r:?}"
            );
        }
    }
    let mut short = proof.clone();
    short.proof.truncate(proof.proof.len() / 2);
    assert!(short.verify(&app, &key).is_err());
    let mut empty = proof.clone();
    empty.proof.clear();
    assert!(empty.verify(&app, &key).is_err());
}

#[test]
fn proof_non_membership_verifies_and_forged_absence_fails() {
    let w = world();
    let fx = &w.fx;
    let app = app_hash(fx);
    let unknown = h("no such piece");
    let key = keys::piece(&unknown);
    let absent = fx.ledger.prove_piece(&unknown).unwrap();
    assert_eq!(absent.value, None);
    assert_eq!(absent.verify(&app, &key), Ok(None));
    assert_eq!(absent.verify_typed::<Piece>(&app, &key), Ok(None));
    assert_eq!(
        absent.verify(&Hash32([1; 32]), &key),
        Err(ProofError::Mismatch)
    );

    // A claim that an existing piece is absent: reuse the genuine absence proof of the
    // unknown key under the existing key ...
    let existing = w.to_t2a[0];
    let existing_key = keys::piece(&existing);
    let mut forged = absent.clone();
    forged.key = existing_key.to_vec();
    assert_eq!(
        forged.verify(&app, &existing_key),
        Err(ProofError::Mismatch)
    );
    // ... or drop the value from the existing piece's membership proof.
    let mut forged = fx.ledger.prove_piece(&existing).unwrap();
    forged.value = None;
    assert_eq!(
        forged.verify(&app, &existing_key),
        Err(ProofError::Mismatch)
    );
    // And the converse: claiming a value for the absent key.
    let mut forged = absent.clone();
    forged.value = fx.ledger.prove_piece(&existing).unwrap().value;
    assert_eq!(forged.verify(&app, &key), Err(ProofError::Mismatch));

    // Absence proofs work for any namespace: an unregistered account has no record.
    let stranger = SecretKey::from_seed(b"stranger").address();
    let acct = fx.ledger.prove(&keys::account(&stranger)).unwrap();
    assert_eq!(acct.verify(&app, &keys::account(&stranger)), Ok(None));
}

/// Checks the honest list and every way of tampering with it.
/// `foreign` must be a piece that does not belong to the list.
fn check_account_list(fx: &Fixture, who: &str, kind: ListKind, foreign: Hash32, min_len: usize) {
    let app = app_hash(fx);
    let addr = fx.addr(who);
    let proof = fx.ledger.prove_account_list(&addr, kind).unwrap();
    let expected = listed(fx, &addr, kind);
    assert!(
        expected.len() >= min_len,
        "{who} {kind:?}: fixture should give at least {min_len} pieces"
    );
    let n = expected.len();
    let count = fx.ledger.account(&addr).unwrap();
    let proven_count = match kind {
        ListKind::Holdings => count.holdings,
        ListKind::OffersIn => count.offers_in,
        ListKind::OffersOut => count.offers_out,
    };
    assert_eq!(proven_count as usize, n);

    // The honest list verifies and gives exactly the pieces of the list.
    assert_eq!(proof.verify(&app), Ok(expected.clone()));

    // Omitting any one piece (or all of them).
    for i in 0..n {
        let mut p = proof.clone();
        p.pieces.remove(i);
        assert_eq!(
            p.verify(&app),
            Err(ProofError::Incomplete {
                expected: n as u32,
                got: n - 1
            }),
            "{who} {kind:?} without piece {i}"
        );
    }
    let mut p = proof.clone();
    p.pieces.clear();
    assert_eq!(
        p.verify(&app),
        Err(ProofError::Incomplete {
            expected: n as u32,
            got: 0
        })
    );

    // Adding, or substituting, a genuine piece that is not in the list.
    let foreign_proof = fx.ledger.prove_piece(&foreign).unwrap();
    let mut p = proof.clone();
    p.pieces.push((foreign, foreign_proof.clone()));
    assert_eq!(
        p.verify(&app),
        Err(ProofError::Unrelated { piece: foreign })
    );
    let mut p = proof.clone();
    p.pieces[0] = (foreign, foreign_proof);
    assert_eq!(
        p.verify(&app),
        Err(ProofError::Unrelated { piece: foreign })
    );

    // Duplicating a piece (padding the list back to the proven count after omitting one).
    let mut p = proof.clone();
    p.pieces.push(p.pieces[0].clone());
    assert_eq!(
        p.verify(&app),
        Err(ProofError::Duplicate {
            piece: proof.pieces[0].0
        })
    );
    let mut p = proof.clone();
    let last = p.pieces.len() - 1;
    p.pieces[last] = p.pieces[0].clone();
    assert_eq!(
        p.verify(&app),
        Err(ProofError::Duplicate {
            piece: proof.pieces[0].0
        })
    );

    // A listed id whose proof is for another piece.
    let mut p = proof.clone();
    let first_proof = p.pieces[0].1.clone();
    p.pieces[0].1 = p.pieces[1].1.clone();
    p.pieces[1].1 = first_proof;
    assert_eq!(p.verify(&app), Err(ProofError::WrongKey));

    // Padding with a piece id that does not exist (proven absent).
    let ghost = h("ghost piece");
    let mut p = proof.clone();
    p.pieces
        .push((ghost, fx.ledger.prove_piece(&ghost).unwrap()));
    assert_eq!(p.verify(&app), Err(ProofError::Absent));

    // Another account's record (with other counts), or the list relabelled to another account.
    let other = fx.addr(if who == "t2b" { "t1" } else { "t2b" });
    let mut p = proof.clone();
    p.account_proof = fx.ledger.prove(&keys::account(&other)).unwrap();
    assert_eq!(p.verify(&app), Err(ProofError::WrongKey));
    let mut p = proof.clone();
    p.account = other;
    assert_eq!(p.verify(&app), Err(ProofError::WrongKey));

    // Claiming the account has no record at all (so a count of zero) with a forged absence.
    let mut p = proof.clone();
    p.account_proof.value = None;
    p.pieces.clear();
    assert_eq!(p.verify(&app), Err(ProofError::Mismatch));

    // The list is for one kind only: the same pieces presented as another kind fail.
    for other_kind in [ListKind::Holdings, ListKind::OffersIn, ListKind::OffersOut] {
        if other_kind != kind {
            let mut p = proof.clone();
            p.kind = other_kind;
            assert!(p.verify(&app).is_err(), "{who} {kind:?} as {other_kind:?}");
        }
    }
}

#[test]
fn proof_holdings_are_complete() {
    let w = world();
    // t1: active change of root, financing-requested piece of root2, change of root2.
    check_account_list(&w.fx, "t1", ListKind::Holdings, w.t2b_change, 3);
    // t2b: a financing-requested piece and its change.
    check_account_list(&w.fx, "t2b", ListKind::Holdings, w.financed, 2);
    let factor = w.fx.ledger.holdings(&w.fx.addr("factor")).unwrap();
    assert_eq!(ids(&factor), vec![w.financed]);
    assert_eq!(factor[0].1.status, PieceStatus::Financed);

    // An account that holds nothing has no record: the absence proof gives a count of zero,
    // and nothing can be slipped into its empty list.
    let fx = &w.fx;
    let app = app_hash(fx);
    let auditor = fx.addr("auditor");
    let empty = fx
        .ledger
        .prove_account_list(&auditor, ListKind::Holdings)
        .unwrap();
    assert!(empty.pieces.is_empty());
    assert_eq!(empty.verify(&app), Ok(vec![]));
    let mut p = empty.clone();
    p.pieces
        .push((w.financed, fx.ledger.prove_piece(&w.financed).unwrap()));
    assert_eq!(
        p.verify(&app),
        Err(ProofError::Unrelated { piece: w.financed })
    );
}

#[test]
fn proof_offers_in_and_out_are_complete() {
    let w = world();
    let fx = &w.fx;
    // Two pending transfers to t2a; a piece offered to someone else is foreign.
    let t2a_in = fx.ledger.offers_in(&fx.addr("t2a")).unwrap();
    let mut expected = w.to_t2a.clone();
    expected.sort();
    assert_eq!(ids(&t2a_in), expected);
    let bank_in = fx.ledger.offers_in(&fx.addr("bank")).unwrap();
    assert_eq!(bank_in.len(), 2);
    check_account_list(fx, "t2a", ListKind::OffersIn, bank_in[0].0, 2);
    // Two financing requests to the bank; a transfer offer to t2a is foreign.
    check_account_list(fx, "bank", ListKind::OffersIn, w.to_t2a[0], 2);
    // t1 offers out: two transfers and one financing request. A request by t2b is foreign.
    let t2b_request = bank_in
        .iter()
        .find(|(_, p)| p.holder == fx.addr("t2b"))
        .unwrap()
        .0;
    check_account_list(fx, "t1", ListKind::OffersOut, t2b_request, 3);
    // A piece t1 merely holds is not an offer out of t1.
    let held_by_t1 = fx.ledger.holdings(&fx.addr("t1")).unwrap();
    let active = held_by_t1
        .iter()
        .find(|(_, p)| p.status == PieceStatus::Active)
        .unwrap()
        .0;
    check_account_list(fx, "t1", ListKind::OffersOut, active, 3);
}

#[test]
fn proof_lineage_is_complete() {
    let w = world();
    let fx = &w.fx;
    let app = app_hash(fx);
    let proof = fx.ledger.prove_lineage(&w.root).unwrap();
    let (rec, pieces) = proof.verify(&app).unwrap();
    assert_eq!(rec, fx.ledger.root(&w.root).unwrap().unwrap());
    assert_eq!(pieces, fx.ledger.lineage(&w.root).unwrap());
    let n = pieces.len();
    assert_eq!(rec.piece_count as usize, n);
    assert!(n >= 8, "lineage has {n} pieces");
    assert!(pieces.iter().any(|(id, _)| *id == w.root));
    assert!(pieces.iter().all(|(_, p)| p.root == w.root));

    for i in 0..n {
        let mut p = proof.clone();
        p.pieces.remove(i);
        assert_eq!(
            p.verify(&app),
            Err(ProofError::Incomplete {
                expected: n as u32,
                got: n - 1
            })
        );
    }
    // A piece of another certificate, added or substituted.
    let alien = w.root2;
    let mut p = proof.clone();
    p.pieces
        .push((alien, fx.ledger.prove_piece(&alien).unwrap()));
    assert_eq!(p.verify(&app), Err(ProofError::Unrelated { piece: alien }));
    let mut p = proof.clone();
    p.pieces[n - 1] = (alien, fx.ledger.prove_piece(&alien).unwrap());
    assert_eq!(p.verify(&app), Err(ProofError::Unrelated { piece: alien }));
    // Duplicates.
    let mut p = proof.clone();
    p.pieces[n - 1] = p.pieces[0].clone();
    assert_eq!(
        p.verify(&app),
        Err(ProofError::Duplicate {
            piece: proof.pieces[0].0
        })
    );
    // The record of another certificate (with its own count).
    let mut p = proof.clone();
    p.root_proof = fx.ledger.prove(&keys::root(&w.root2)).unwrap();
    assert_eq!(p.verify(&app), Err(ProofError::WrongKey));
    let mut p = proof.clone();
    p.root = w.root2;
    assert_eq!(p.verify(&app), Err(ProofError::WrongKey));
    // A tampered count in the record.
    let mut p = proof.clone();
    let mut forged = rec.clone();
    forged.piece_count -= 1;
    p.root_proof.value = Some(cascade_core::codec::encode(&forged));
    p.pieces.pop();
    assert_eq!(p.verify(&app), Err(ProofError::Mismatch));
    // An unknown certificate is proven absent.
    let unknown = fx.ledger.prove_lineage(&h("no such root")).unwrap();
    assert_eq!(unknown.verify(&app), Err(ProofError::Absent));

    // The second certificate's lineage verifies on its own.
    let (rec2, pieces2) = fx
        .ledger
        .prove_lineage(&w.root2)
        .unwrap()
        .verify(&app)
        .unwrap();
    assert_eq!(rec2.piece_count as usize, pieces2.len());
    assert_eq!(
        pieces2.len(),
        3,
        "issued piece, financing-requested part, change"
    );
}

#[test]
fn proof_from_an_older_state_fails_against_a_newer_app_hash() {
    let mut w = world();
    let old_app = app_hash(&w.fx);
    let t2a = w.fx.addr("t2a");
    let offered = w.to_t2a[0];
    let old_piece = w.fx.ledger.prove_piece(&offered).unwrap();
    let old_untouched = w.fx.ledger.prove_piece(&w.financed).unwrap();
    let old_offers =
        w.fx.ledger
            .prove_account_list(&t2a, ListKind::OffersIn)
            .unwrap();
    let old_lineage = w.fx.ledger.prove_lineage(&w.root).unwrap();
    let old_absent = w.fx.ledger.prove_piece(&h("never")).unwrap();

    // t2a accepts one offer: the piece, t2a's counts and the lineage's pieces change.
    w.fx.ok("t2a", TxBody::Accept { piece: offered });
    let new_app = app_hash(&w.fx);
    assert_ne!(new_app, old_app);

    // Old proofs still verify against the state they were made for ...
    assert!(old_piece.verify(&old_app, &keys::piece(&offered)).is_ok());
    assert_eq!(old_offers.verify(&old_app).unwrap().len(), 2);
    assert!(old_lineage.verify(&old_app).is_ok());
    // ... but none of them against the newer app hash, even for values that did not change.
    assert_eq!(
        old_piece.verify(&new_app, &keys::piece(&offered)),
        Err(ProofError::Mismatch)
    );
    assert_eq!(
        old_untouched.verify(&new_app, &keys::piece(&w.financed)),
        Err(ProofError::Mismatch)
    );
    assert_eq!(
        w.fx.ledger.prove_piece(&w.financed).unwrap().value,
        old_untouched.value
    );
    assert_eq!(
        old_absent.verify(&new_app, &keys::piece(&h("never"))),
        Err(ProofError::Mismatch)
    );
    assert_eq!(old_offers.verify(&new_app), Err(ProofError::Mismatch));
    assert_eq!(old_lineage.verify(&new_app), Err(ProofError::Mismatch));

    // A current list with one stale member (showing the piece still pending) fails too.
    let new_holdings =
        w.fx.ledger
            .prove_account_list(&t2a, ListKind::Holdings)
            .unwrap();
    assert_eq!(ids(&new_holdings.verify(&new_app).unwrap()), vec![offered]);
    let mut new_lineage = w.fx.ledger.prove_lineage(&w.root).unwrap();
    assert!(new_lineage.verify(&new_app).is_ok());
    let pos = new_lineage
        .pieces
        .iter()
        .position(|(id, _)| *id == offered)
        .unwrap();
    new_lineage.pieces[pos].1 = old_piece.clone();
    assert_eq!(new_lineage.verify(&new_app), Err(ProofError::Mismatch));
    let new_offers =
        w.fx.ledger
            .prove_account_list(&t2a, ListKind::OffersIn)
            .unwrap();
    assert_eq!(new_offers.verify(&new_app).unwrap().len(), 1);

    // Even a block without transactions moves the app hash (the block record changes),
    // so proofs are always tied to one height.
    let before_empty = app_hash(&w.fx);
    let fresh = w.fx.ledger.prove_piece(&w.financed).unwrap();
    w.fx.empty_block();
    let after_empty = app_hash(&w.fx);
    assert_ne!(before_empty, after_empty);
    assert!(fresh
        .verify(&before_empty, &keys::piece(&w.financed))
        .is_ok());
    assert_eq!(
        fresh.verify(&after_empty, &keys::piece(&w.financed)),
        Err(ProofError::Mismatch)
    );
}

// =====================================================================================
// B. Determinism
// =====================================================================================

/// One block as a driver would replay it.
#[derive(Clone, Debug)]
struct Block {
    height: u64,
    time: i64,
    txs: Vec<Vec<u8>>,
    /// Whether each transaction was accepted in the recorded run.
    accepted: Vec<bool>,
}

/// Drives a [`Fixture`] and records every block's signed bytes and app hash.
struct Recorder {
    fx: Fixture,
    blocks: Vec<Block>,
    /// App hash by height (index 0 = genesis).
    hashes: Vec<Hash32>,
    open: Option<Block>,
}

impl Recorder {
    fn new(fx: Fixture) -> Recorder {
        let genesis = fx.ledger.committed().unwrap();
        assert_eq!(genesis.version, 0, "record from genesis");
        Recorder {
            fx,
            blocks: Vec::new(),
            hashes: vec![genesis.app_hash],
            open: None,
        }
    }

    fn begin(&mut self) {
        if self.open.is_none() {
            let height = self.fx.next_height();
            self.fx.begin();
            self.open = Some(Block {
                height,
                time: self.fx.time,
                txs: Vec::new(),
                accepted: Vec::new(),
            });
        }
    }

    fn submit(&mut self, name: &str, body: TxBody) -> Result<TxReceipt, TxError> {
        self.begin();
        let bytes = self.fx.sign(name, body);
        let result = self.fx.deliver(&bytes);
        let block = self.open.as_mut().unwrap();
        block.txs.push(bytes);
        block.accepted.push(result.is_ok());
        result
    }

    fn ok(&mut self, name: &str, body: TxBody) -> TxReceipt {
        let kind = body.kind();
        self.submit(name, body)
            .unwrap_or_else(|e| panic!("{name} {kind}: {e}"))
    }

    fn err(&mut self, name: &str, body: TxBody) {
        let kind = body.kind();
        assert!(
            self.submit(name, body).is_err(),
            "{name} {kind} should fail"
        );
    }

    fn commit(&mut self) {
        self.begin();
        let c = self.fx.commit();
        let block = self.open.take().unwrap();
        assert_eq!(c.version, block.height);
        self.hashes.push(c.app_hash);
        self.blocks.push(block);
    }
}

/// A recorded run covering every transaction kind, failures inside blocks, several
/// transactions per block, a parameter change, offer expiry, overdue and settlement.
struct Script {
    genesis: Genesis,
    blocks: Vec<Block>,
    hashes: Vec<Hash32>,
    /// The recorded ledger, for comparing queries.
    fx: Fixture,
    roots: Vec<Hash32>,
}

fn script() -> Script {
    let mut r = Recorder::new(Fixture::new(STANDARD_PARTICIPANTS, Params::default()));
    let a = |r: &Recorder, n: &str| r.fx.addr(n);
    let (core, bank, factor) = (a(&r, "core"), a(&r, "bank"), a(&r, "factor"));
    let (t1, t2a, t2b, t3a) = (a(&r, "t1"), a(&r, "t2a"), a(&r, "t2b"), a(&r, "t3a"));
    let money = |amount: u64| Money {
        amount: Amount(amount),
        currency: cny(),
    };
    let day0 = r.fx.today();

    // 1: credit lines and documents, five transactions in one block.
    r.ok(
        "bank",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(1_000_000_000),
        },
    );
    r.ok(
        "factor",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(500_000_000),
        },
    );
    let docs = [
        ("doc1", 1_000_000_00, t1),
        ("doc2", 200_000_00, t2a),
        ("doc3", 50_000_00, t1),
    ];
    for (name, amount, seller) in docs {
        r.ok(
            "core",
            TxBody::AnchorDocument {
                hash: h(name),
                amount: money(amount),
                buyer: core,
                seller,
            },
        );
    }
    r.commit();

    // 2: three issues.
    let issue = |to: Address, amount: u64, days: u32, doc: &str, grantor: Address| TxBody::Issue {
        to,
        amount: Amount(amount),
        currency: cny(),
        maturity: Day(day0.0 + days),
        document: h(doc),
        credit_grantor: grantor,
    };
    let root1 = first_piece(
        &r.ok("core", issue(t1, 1_000_000_00, 30, "doc1", bank))
            .events,
    );
    let root2 = first_piece(
        &r.ok("core", issue(t2a, 200_000_00, 60, "doc2", factor))
            .events,
    );
    let root3 = first_piece(&r.ok("core", issue(t1, 50_000_00, 30, "doc3", bank)).events);
    r.commit();

    // 3: accept two, reject one; a failing transaction inside the block.
    r.ok("t1", TxBody::Accept { piece: root1 });
    r.ok("t2a", TxBody::Accept { piece: root2 });
    r.ok("t1", TxBody::Reject { piece: root3 });
    r.err("t3a", TxBody::Accept { piece: root1 });
    r.commit();

    // 4: split down a tier.
    let out = |to: Address, amount: u64| Output {
        to,
        amount: Amount(amount),
    };
    let rc = r.ok(
        "t1",
        TxBody::Transfer {
            piece: root1,
            outputs: vec![out(t2a, 300_000_00), out(t2b, 200_000_00)],
        },
    );
    let (o, c1) = offered_and_change(&rc.events);
    r.commit();

    // 5: accept both; offer more to t3a.
    r.ok("t2a", TxBody::Accept { piece: o[0] });
    r.ok("t2b", TxBody::Accept { piece: o[1] });
    let rc = r.ok(
        "t1",
        TxBody::Transfer {
            piece: c1.unwrap(),
            outputs: vec![out(t3a, 100_000_00)],
        },
    );
    let (to_t3a, c2) = offered_and_change(&rc.events);
    r.commit();

    // 6: cancel the offer (value returns as a new piece); register a new supplier.
    let rc = r.ok("t1", TxBody::Cancel { piece: to_t3a[0] });
    let Event::Cancelled {
        returned: Some(returned),
        ..
    } = rc.events[0]
    else {
        panic!("{:?}", rc.events)
    };
    let t4 = r.fx.add_key("t4");
    let t4_key = r.fx.key("t4").public_key();
    r.ok(
        "operator",
        TxBody::RegisterParticipant {
            public_key: t4_key,
            roles: Roles::SUPPLIER,
            legal_id_hash: h("t4 legal id"),
        },
    );
    r.commit();

    // 7: third tier (one offer will expire); freeze t2b's piece.
    let rc = r.ok(
        "t2a",
        TxBody::Transfer {
            piece: o[0],
            outputs: vec![out(t3a, 100_000_00), out(t4, 50_000_00)],
        },
    );
    let (tier3, _) = offered_and_change(&rc.events);
    r.ok(
        "auditor",
        TxBody::Freeze {
            piece: o[1],
            reason: 7,
        },
    );
    r.commit();

    // 8: accept one; a frozen piece cannot move.
    r.ok("t3a", TxBody::Accept { piece: tier3[0] });
    r.err(
        "t2b",
        TxBody::Transfer {
            piece: o[1],
            outputs: vec![out(t3a, 10_000_00)],
        },
    );
    r.commit();

    // 9: unfreeze; merge the change with the returned piece.
    r.ok("auditor", TxBody::Unfreeze { piece: o[1] });
    let rc = r.ok(
        "t1",
        TxBody::Merge {
            pieces: vec![c2.unwrap(), returned],
        },
    );
    let Event::Merged { output: merged, .. } = rc.events[0] else {
        panic!("{:?}", rc.events)
    };
    r.commit();

    // 10: switch to ACT/365, then ask for financing under it.
    r.ok(
        "operator",
        TxBody::UpdateParams {
            params: Params {
                day_count: DayCount::Act365,
                ..Params::default()
            },
        },
    );
    let rc = r.ok(
        "t1",
        TxBody::RequestFinancing {
            piece: merged,
            financier: bank,
            amount: Amount(300_000_00),
            rate: AnnualRate(43_500),
        },
    );
    let (locked, _) = financing_requested(&rc);
    r.commit();

    // 11: financed; t2b asks the factor.
    r.ok(
        "bank",
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: "SWIFT-1".into(),
        },
    );
    r.ok(
        "t2b",
        TxBody::RequestFinancing {
            piece: o[1],
            financier: factor,
            amount: Amount(200_000_00),
            rate: AnnualRate(50_000),
        },
    );
    r.commit();

    // 12: the factor declines.
    r.ok("factor", TxBody::Reject { piece: o[1] });
    r.commit();

    // 13: eight days later the unanswered offer to t4 expires in block processing.
    r.fx.advance_days(8);
    r.commit();
    assert_eq!(
        r.fx.ledger.piece(&tier3[1]).unwrap().unwrap().status,
        PieceStatus::Expired
    );

    // 14: request and acceptance in the same block.
    r.ok(
        "t2b",
        TxBody::RequestFinancing {
            piece: o[1],
            financier: factor,
            amount: Amount(200_000_00),
            rate: AnnualRate(50_000),
        },
    );
    r.ok(
        "factor",
        TxBody::AcceptFinancing {
            piece: o[1],
            payment_reference: "F-2".into(),
        },
    );
    r.commit();

    // 15: past maturity plus grace: overdue; the other certificate is not mature yet.
    r.fx.advance_days(26);
    r.ok("t3a", TxBody::MarkOverdue { root: root1 });
    r.err("core", TxBody::Settle { root: root2 });
    r.commit();

    // 16: late settlement.
    r.ok("core", TxBody::Settle { root: root1 });
    r.commit();

    // 17: the second certificate at maturity; 18: an empty block.
    r.fx.advance_days(30);
    r.ok("core", TxBody::Settle { root: root2 });
    r.commit();
    r.commit();

    Script {
        genesis: r.fx.genesis().clone(),
        blocks: r.blocks,
        hashes: r.hashes,
        fx: r.fx,
        roots: vec![root1, root2, root3],
    }
}

/// Delivers one recorded block and checks acceptance and the app hash.
fn replay_block(ledger: &mut Ledger, block: &Block, expected: &Hash32) {
    ledger.begin_block(block.height, block.time).unwrap();
    for (i, tx) in block.txs.iter().enumerate() {
        let ok = ledger.deliver_tx(tx).is_ok();
        assert_eq!(
            ok, block.accepted[i],
            "height {} tx {i}: acceptance differs from the recorded run",
            block.height
        );
    }
    let c = ledger.commit().unwrap();
    assert_eq!(c.version, block.height);
    assert_eq!(
        c.app_hash, *expected,
        "app hash differs at height {}",
        block.height
    );
}

/// Compares every query a client can make between two ledgers.
fn assert_same_queries(s: &Script, other: &Ledger) {
    let l = &s.fx.ledger;
    assert_eq!(l.committed(), other.committed());
    assert_eq!(l.params(), other.params());
    assert_eq!(l.last_day(), other.last_day());
    let mut names: Vec<&str> = STANDARD_PARTICIPANTS.iter().map(|(n, _)| *n).collect();
    names.push("t4");
    for n in names {
        let a = s.fx.addr(n);
        assert_eq!(l.account(&a).unwrap(), other.account(&a).unwrap(), "{n}");
        assert_eq!(l.participant(&a).unwrap(), other.participant(&a).unwrap());
        assert_eq!(l.holdings(&a).unwrap(), other.holdings(&a).unwrap());
        assert_eq!(l.offers_in(&a).unwrap(), other.offers_in(&a).unwrap());
        assert_eq!(l.offers_out(&a).unwrap(), other.offers_out(&a).unwrap());
        assert_eq!(l.roots_of(&a).unwrap(), other.roots_of(&a).unwrap());
        assert_eq!(
            l.obligor_record(&a).unwrap(),
            other.obligor_record(&a).unwrap()
        );
    }
    for root in &s.roots {
        assert_eq!(l.root(root).unwrap(), other.root(root).unwrap());
        assert_eq!(l.clearing(root).unwrap(), other.clearing(root).unwrap());
        let lineage = l.lineage(root).unwrap();
        assert_eq!(lineage, other.lineage(root).unwrap());
        for (id, _) in &lineage {
            assert_eq!(l.history(id).unwrap(), other.history(id).unwrap());
        }
        assert_eq!(
            l.prove_lineage(root).unwrap(),
            other.prove_lineage(root).unwrap()
        );
    }
}

#[test]
fn replay_gives_identical_app_hashes_in_memory_and_on_disk() {
    let s = script();
    assert_eq!(s.blocks.len(), 18);
    assert_eq!(s.hashes.len(), 19);
    let distinct: std::collections::BTreeSet<_> = s.hashes.iter().collect();
    assert_eq!(
        distinct.len(),
        s.hashes.len(),
        "every height has its own app hash"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut memory = Ledger::in_memory().unwrap();
    let mut disk = Ledger::open(&dir.path().join("ledger.redb")).unwrap();
    for ledger in [&mut memory, &mut disk] {
        assert_eq!(ledger.init_chain(&s.genesis).unwrap(), s.hashes[0]);
    }
    for block in &s.blocks {
        let expected = &s.hashes[block.height as usize];
        replay_block(&mut memory, block, expected);
        replay_block(&mut disk, block, expected);
    }
    assert_same_queries(&s, &memory);
    assert_same_queries(&s, &disk);
}

#[test]
fn reopening_on_disk_mid_sequence_gives_the_same_app_hashes() {
    let s = script();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    {
        let mut ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.committed(), None);
        assert_eq!(ledger.init_chain(&s.genesis).unwrap(), s.hashes[0]);
    }
    for block in &s.blocks {
        let before = &s.hashes[block.height as usize - 1];
        let mut ledger = Ledger::open(&path).unwrap();
        let c = ledger.committed().unwrap();
        assert_eq!((c.version, c.app_hash), (block.height - 1, *before));
        assert_eq!(ledger.chain_id(), Some(CHAIN_ID));
        assert!(matches!(
            ledger.init_chain(&s.genesis),
            Err(LedgerError::AlreadyInitialized { .. })
        ));
        if block.height % 3 == 0 {
            // Abandon a half-delivered block: dropping the ledger without commit must leave
            // the database at the previous block.
            ledger.begin_block(block.height, block.time).unwrap();
            for tx in &block.txs[..block.txs.len().div_ceil(2)] {
                let _ = ledger.deliver_tx(tx);
            }
            drop(ledger);
            ledger = Ledger::open(&path).unwrap();
            assert_eq!(ledger.committed().unwrap().app_hash, *before);
        }
        replay_block(&mut ledger, block, &s.hashes[block.height as usize]);
    }
    let ledger = Ledger::open(&path).unwrap();
    assert_same_queries(&s, &ledger);
    ledger.check_indexes().unwrap();
}

// =====================================================================================
// C. Crash safety
// =====================================================================================

/// Set in a child process to the path of the database it should write.
const CRASH_ENV: &str = "CASCADE_CRASH_CHILD";
/// Name of the child-mode test (it does nothing unless [`CRASH_ENV`] is set).
const CHILD_TEST: &str = "crash_child_process";

/// Block time of `height` in the crash workload: one block a minute.
fn crash_time(height: u64) -> i64 {
    GENESIS_TIME + 3600 + 60 * height as i64
}

/// An endless, deterministic workload whose block `h` is a function of the committed state
/// at `h - 1` only, so a run resumed after a crash continues exactly as an uninterrupted one.
struct Workload {
    /// Secret key, public key and address of each participant the workload uses (public
    /// keys are derived once: that is the slow part of signing in a debug build).
    keys: BTreeMap<&'static str, (SecretKey, PublicKeyBytes, Address)>,
}

impl Workload {
    fn new() -> Workload {
        Workload {
            keys: ["bank", "core", "t1", "t2a", "t2b"]
                .into_iter()
                .map(|n| {
                    let key = SecretKey::from_seed(n.as_bytes());
                    let public = key.public_key();
                    (n, (key, public, public.address()))
                })
                .collect(),
        }
    }

    /// The genesis the workload runs on: the standard cast's.
    fn genesis() -> Genesis {
        Fixture::new(STANDARD_PARTICIPANTS, Params::default())
            .genesis()
            .clone()
    }

    fn addr(&self, name: &str) -> Address {
        self.keys[name].2
    }

    /// The transactions of block `height`, built from the ledger's committed state.
    fn block(&self, ledger: &Ledger, height: u64) -> Vec<Vec<u8>> {
        let mut nonces: BTreeMap<&str, u64> = BTreeMap::new();
        let mut txs = Vec::new();
        let mut sign = |name: &'static str, body: TxBody| {
            let (key, public, address) = &self.keys[name];
            let nonce = nonces
                .entry(name)
                .or_insert_with(|| ledger.account(address).unwrap().nonce);
            let bytes = Tx {
                chain_id: CHAIN_ID.into(),
                signer: *public,
                nonce: *nonce,
                expiry_height: height,
                body,
            }
            .sign(key)
            .to_bytes();
            *nonce += 1;
            txs.push(bytes);
        };
        let (core, t1) = (self.addr("core"), self.addr("t1"));
        if height == 1 {
            sign(
                "bank",
                TxBody::SetCreditLine {
                    obligor: core,
                    currency: cny(),
                    limit: Amount(1_000_000_000_000_000),
                },
            );
            return txs;
        }
        match height % 3 {
            // The obligor anchors an invoice and issues against it.
            2 => {
                let document = h(&format!("crash-doc-{height}"));
                sign(
                    "core",
                    TxBody::AnchorDocument {
                        hash: document,
                        amount: Money {
                            amount: Amount(100_000),
                            currency: cny(),
                        },
                        buyer: core,
                        seller: t1,
                    },
                );
                let today = Day::from_unix_seconds(crash_time(height)).unwrap();
                sign(
                    "core",
                    TxBody::Issue {
                        to: t1,
                        amount: Amount(100_000),
                        currency: cny(),
                        maturity: Day(today.0 + 90),
                        document,
                        credit_grantor: self.addr("bank"),
                    },
                );
            }
            // The tier-1 supplier accepts and passes half of a piece down.
            0 => {
                for (id, _) in ledger.offers_in(&t1).unwrap() {
                    sign("t1", TxBody::Accept { piece: id });
                }
                let movable = ledger
                    .holdings(&t1)
                    .unwrap()
                    .into_iter()
                    .find(|(_, p)| p.status == PieceStatus::Active && p.amount.0 >= 50_000);
                if let Some((id, _)) = movable {
                    let out = |n: &str, amount: u64| Output {
                        to: self.addr(n),
                        amount: Amount(amount),
                    };
                    sign(
                        "t1",
                        TxBody::Transfer {
                            piece: id,
                            outputs: vec![out("t2a", 30_000), out("t2b", 20_000)],
                        },
                    );
                }
            }
            // Tier 2 accepts.
            _ => {
                for name in ["t2a", "t2b"] {
                    for (id, _) in ledger.offers_in(&self.addr(name)).unwrap() {
                        sign(name, TxBody::Accept { piece: id });
                    }
                }
            }
        }
        txs
    }

    /// Builds, delivers and commits block `height`; every transaction must succeed.
    fn run_block(&self, ledger: &mut Ledger, height: u64) -> Committed {
        let txs = self.block(ledger, height);
        ledger.begin_block(height, crash_time(height)).unwrap();
        for tx in &txs {
            if let Err(e) = ledger.deliver_tx(tx) {
                panic!("workload tx at height {height} failed: {e}");
            }
        }
        ledger.commit().unwrap()
    }
}

/// The uninterrupted run in memory, extended on demand.
struct Reference {
    ledger: Ledger,
    hashes: Vec<Hash32>,
}

impl Reference {
    fn new(genesis: &Genesis) -> Reference {
        let mut ledger = Ledger::in_memory().unwrap();
        let genesis = ledger.init_chain(genesis).unwrap();
        Reference {
            ledger,
            hashes: vec![genesis],
        }
    }

    fn at(&mut self, w: &Workload, height: u64) -> Hash32 {
        while self.hashes.len() as u64 <= height {
            let next = self.hashes.len() as u64;
            let c = w.run_block(&mut self.ledger, next);
            self.hashes.push(c.app_hash);
        }
        self.hashes[height as usize]
    }
}

/// Child mode: commits blocks as fast as it can, printing each, until killed.
/// In a normal test run (no [`CRASH_ENV`]) it returns at once.
#[test]
fn crash_child_process() {
    let Some(path) = std::env::var_os(CRASH_ENV) else {
        return;
    };
    let w = Workload::new();
    let mut ledger = Ledger::open(Path::new(&path)).unwrap();
    let start = ledger.committed().expect("parent writes genesis").version;
    println!("CASCADE-OPENED {start}");
    // A safety net so an orphaned child cannot run forever.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut height = start + 1;
    while Instant::now() < deadline {
        let c = w.run_block(&mut ledger, height);
        println!("CASCADE-COMMITTED {} {}", c.version, c.app_hash);
        height += 1;
    }
}

/// What one child run reported before it was killed.
struct ChildRun {
    opened: Option<u64>,
    committed: Vec<(u64, Hash32)>,
}

/// When the parent kills the child.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// This long after spawning it: may land while it starts up or recovers the database.
    AfterSpawn(Duration),
    /// This long after it reports the ledger open: lands while it produces blocks.
    AfterOpen(Duration),
}

/// Longest the parent waits for a child to open the ledger.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

fn parse_child_line(run: &mut ChildRun, line: &str) {
    // The test harness may print `test crash_child_process ... ` in front of the first line.
    let Some(start) = line.find("CASCADE-") else {
        return;
    };
    let mut parts = line[start..].split_whitespace();
    match parts.next() {
        Some("CASCADE-OPENED") => run.opened = parts.next().and_then(|h| h.parse().ok()),
        Some("CASCADE-COMMITTED") => {
            let height = parts.next().and_then(|h| h.parse().ok());
            let hash = parts.next().and_then(Hash32::from_hex);
            // A kill could cut the last line short; only whole lines count.
            if let (Some(height), Some(hash)) = (height, hash) {
                run.committed.push((height, hash));
            }
        }
        _ => {}
    }
}

/// Spawns this test binary in child mode on `path`, SIGKILLs it at `kill`, and returns
/// what it printed. Every wait is bounded.
fn run_child_and_kill(path: &Path, kill: KillAt) -> ChildRun {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_ENV, path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let mut run = ChildRun {
        opened: None,
        committed: Vec::new(),
    };
    let mut open_timed_out = false;
    match kill {
        KillAt::AfterSpawn(delay) => std::thread::sleep(delay),
        KillAt::AfterOpen(delay) => {
            let deadline = Instant::now() + OPEN_TIMEOUT;
            while run.opened.is_none() {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(line) => parse_child_line(&mut run, &line),
                    // Timed out, or the child closed its output (it died): stop waiting.
                    Err(_) => {
                        open_timed_out = true;
                        break;
                    }
                }
            }
            if !open_timed_out {
                std::thread::sleep(delay);
            }
        }
    }
    let early_exit = child.try_wait().unwrap();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    // The pipes close with the process, so both readers finish.
    reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert!(
        early_exit.is_none(),
        "the child exited on its own ({early_exit:?}) before being killed:\n{stderr}"
    );
    assert!(
        !open_timed_out,
        "the child did not open the ledger within {OPEN_TIMEOUT:?}:\n{stderr}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "the child was SIGKILLed");
    }
    #[cfg(not(unix))]
    let _ = status;
    for line in rx.try_iter() {
        parse_child_line(&mut run, &line);
    }
    run
}

#[test]
fn killed_process_reopens_at_the_last_committed_block() {
    let started = Instant::now();
    let w = Workload::new();
    let genesis = Workload::genesis();
    let mut reference = Reference::new(&genesis);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    {
        let mut ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.init_chain(&genesis).unwrap(), reference.at(&w, 0));
    }

    // Deterministic kill points: one during start-up and recovery, the rest while blocks
    // are being produced, at delays spread over 20–200 ms.
    let ms = Duration::from_millis;
    let kills = [
        KillAt::AfterSpawn(ms(20)),
        KillAt::AfterOpen(ms(200)),
        KillAt::AfterOpen(ms(20)),
        KillAt::AfterOpen(ms(130)),
        KillAt::AfterOpen(ms(55)),
        KillAt::AfterOpen(ms(170)),
        KillAt::AfterOpen(ms(90)),
    ];
    let mut height = 0u64;
    let mut total_printed = 0usize;
    let mut ahead_of_print = 0usize;
    for (round, kill) in kills.iter().enumerate() {
        let run = run_child_and_kill(&path, *kill);
        // What the child proved it committed before dying.
        match (kill, run.opened) {
            (_, Some(opened)) => {
                assert_eq!(
                    opened, height,
                    "round {round}: child opened at another height"
                )
            }
            (KillAt::AfterOpen(_), None) => unreachable!("checked by run_child_and_kill"),
            (KillAt::AfterSpawn(_), None) => {}
        }
        for ((h, hash), expected) in run.committed.iter().zip(height + 1..) {
            assert_eq!(*h, expected, "round {round}: heights are consecutive");
            assert_eq!(
                *hash,
                reference.at(&w, *h),
                "round {round}: child's app hash at {h} differs from the uninterrupted run"
            );
        }
        let last_printed = run.committed.last().map_or(height, |(h, _)| *h);
        total_printed += run.committed.len();

        // Reopen: the database must be at the last printed block, or at the one after it if
        // the kill landed after that block's commit reached the OS but before the line was
        // printed (e.g. while `commit` waited for fsync: a process kill loses no page cache).
        // Never between two blocks, never earlier.
        let ledger = Ledger::open(&path)
            .unwrap_or_else(|e| panic!("round {round}: reopening after kill failed: {e}"));
        let c = ledger.committed().expect("genesis was committed");
        assert!(
            c.version == last_printed || c.version == last_printed + 1,
            "round {round}: reopened at {} but the child last reported {last_printed}",
            c.version
        );
        assert_eq!(
            c.app_hash,
            reference.at(&w, c.version),
            "round {round}: reopened app hash differs from the uninterrupted run at {}",
            c.version
        );
        assert_eq!(ledger.chain_id(), Some(CHAIN_ID));
        assert_eq!(
            ledger.last_day(),
            Day::from_unix_seconds(crash_time(c.version.max(1))).unwrap()
        );
        if c.version == last_printed + 1 {
            ahead_of_print += 1;
        }
        height = c.version;
        eprintln!(
            "crash round {round}: killed {kill:?}, child printed {} blocks, reopened at {height}",
            run.committed.len()
        );
    }
    assert!(
        total_printed > 0,
        "children committed no block at all: the test proved nothing"
    );

    // The recovered database keeps going, in step with the uninterrupted run.
    let mut ledger = Ledger::open(&path).unwrap();
    for next in height + 1..=height + 3 {
        let c = w.run_block(&mut ledger, next);
        assert_eq!(c.app_hash, reference.at(&w, next));
    }
    // And it agrees with the reference on the pieces themselves.
    for name in ["t1", "t2a", "t2b"] {
        let a = w.addr(name);
        assert_eq!(
            ledger.holdings(&a).unwrap(),
            reference.ledger.holdings(&a).unwrap()
        );
        assert_eq!(
            ledger.account(&a).unwrap(),
            reference.ledger.account(&a).unwrap()
        );
    }
    eprintln!(
        "crash test: {} rounds, {total_printed} blocks reported, {ahead_of_print} kills between \
         commit and print, final height {}, {:?}",
        kills.len(),
        height + 3,
        started.elapsed()
    );
}
