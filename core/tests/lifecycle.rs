//! End-to-end lifecycle across three tiers: issue, accept, split down the tiers, finance, settle.

use cascade_core::testkit::{cny, Fixture};
use cascade_core::tx::TxBody;
use cascade_core::*;

#[test]
fn three_tier_lifecycle_settles_every_piece_to_its_holder() {
    let mut fx = Fixture::standard();
    let root = fx.issue_accepted("t1", 1_000_000_00, 90);
    let (t2, change1) = fx.transfer("t1", root, &[("t2a", 600_000_00), ("t2b", 100_000_00)]);
    fx.ok("t2a", TxBody::Accept { piece: t2[0] });
    fx.ok("t2b", TxBody::Accept { piece: t2[1] });
    let (t3, change2) = fx.transfer("t2a", t2[0], &[("t3a", 250_000_00)]);
    fx.ok("t3a", TxBody::Accept { piece: t3[0] });

    // t3a finances 200,000.00 of its 250,000.00 with the bank at 4.35 %.
    let bank = fx.addr("bank");
    let r = fx.ok(
        "t3a",
        TxBody::RequestFinancing {
            piece: t3[0],
            financier: bank,
            amount: Amount(200_000_00),
            rate: AnnualRate(43_500),
        },
    );
    let locked = match &r.events[0] {
        Event::FinancingRequested { piece, change, .. } => {
            assert!(change.is_some());
            *piece
        }
        e => panic!("unexpected {e:?}"),
    };
    let r = fx.ok(
        "bank",
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: "SWIFT-001".into(),
        },
    );
    let Event::Financed {
        quote,
        piece: financed,
        ..
    } = &r.events[0]
    else {
        panic!("{:?}", r.events)
    };
    assert_eq!(quote.interest.0 + quote.proceeds.0, 200_000_00);
    let days = quote.days;
    // 20,000,000 fen × 0.0435 × days / 360, half-up.
    assert_eq!(
        quote.interest.0 as u128,
        (20_000_000u128 * 43_500 * days as u128 + 180_000_000) / 360_000_000
    );
    assert_eq!(fx.ledger.piece(financed).unwrap().unwrap().holder, bank);

    let t1_holdings = fx.ledger.holdings(&fx.addr("t1")).unwrap();
    assert_eq!(t1_holdings.len(), 1);
    assert_eq!(t1_holdings[0].0, change1.unwrap());
    assert_eq!(fx.ledger.account(&fx.addr("t2a")).unwrap().holdings, 1);
    assert!(change2.is_some());

    // Settlement before maturity is refused; at maturity every outstanding piece is paid.
    assert!(matches!(
        fx.err("core", TxBody::Settle { root }),
        TxError::NotMatured { .. }
    ));
    fx.advance_days(90);
    let r = fx.ok("core", TxBody::Settle { root });
    let Event::Settled {
        total,
        entries,
        late,
        ..
    } = &r.events[0]
    else {
        panic!()
    };
    assert_eq!(*total, Amount(1_000_000_00));
    assert!(!late);
    let sum: u64 = entries.iter().map(|e| e.amount.0).sum();
    assert_eq!(sum, 1_000_000_00);
    let paid_to_bank: u64 = entries
        .iter()
        .filter(|e| e.payee == bank)
        .map(|e| e.amount.0)
        .sum();
    assert_eq!(paid_to_bank, 200_000_00);
    assert_eq!(
        entries.len(),
        5,
        "t1 change, t2a change, t2b, t3a change, bank"
    );
    let line = fx
        .ledger
        .credit_line(&fx.addr("core"), &cny(), &bank)
        .unwrap()
        .unwrap();
    assert_eq!(line.used, Amount::ZERO);
    assert_eq!(
        fx.ledger
            .obligor_record(&fx.addr("core"))
            .unwrap()
            .settled_on_time,
        1
    );
    assert!(fx.ledger.holdings(&fx.addr("t1")).unwrap().is_empty());

    // Lineage with completeness proof verifies against the app hash.
    let app_hash = fx.ledger.committed().unwrap().app_hash;
    let proof = fx.ledger.prove_lineage(&root).unwrap();
    let (rec, pieces) = proof.verify(&app_hash).unwrap();
    assert_eq!(rec.status, RootStatus::Settled);
    assert_eq!(pieces.len() as u32, rec.piece_count);
}

/// A piece's audit history is read backwards from its last change, one block record per
/// block: steps in one block (issued and accepted together) and in later blocks come back
/// oldest first, and the piece records the height of its last change. A block record that
/// is missing from the file is a typed error, not a shorter history.
#[test]
fn history_spans_blocks_and_steps_within_one_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.redb");
    let mut fx = Fixture::new(
        cascade_core::testkit::STANDARD_PARTICIPANTS,
        Params::default(),
    );
    let mut ledger = Ledger::open(&path).expect("open");
    ledger.init_chain(fx.genesis()).expect("genesis");
    fx.ledger = ledger;
    fx.standard_credit_line();

    let document = fx.anchor("t1", 1_000_00);
    let (t1, bank) = (fx.addr("t1"), fx.addr("bank"));
    let issue = fx.sign(
        "core",
        TxBody::Issue {
            to: t1,
            amount: Amount(1_000_00),
            currency: cny(),
            maturity: Day(fx.today().0 + 90),
            document,
            credit_grantor: bank,
        },
    );
    let root = cascade_core::testkit::first_piece(&fx.deliver(&issue).expect("issue").events);
    let accept = fx.sign("t1", TxBody::Accept { piece: root });
    fx.deliver(&accept).expect("accept in the same block");
    let issued_at = fx.commit().version;
    fx.empty_block();
    let (parts, _) = fx.transfer("t1", root, &[("t2a", 400_00)]);
    let split_at = fx.ledger.committed().expect("committed").version;
    fx.ok("t2a", TxBody::Accept { piece: parts[0] });

    let steps: Vec<(u64, String, String)> = fx
        .ledger
        .history(&root)
        .expect("history")
        .into_iter()
        .map(|e| (e.height, e.action, e.status))
        .collect();
    let step = |h: u64, action: &str, status: &str| (h, action.to_string(), status.to_string());
    assert_eq!(
        steps,
        [
            step(issued_at, "issue", "pending"),
            step(issued_at, "accept", "active"),
            step(split_at, "split", "consumed"),
        ]
    );
    let piece = fx.ledger.piece(&root).expect("read").expect("piece");
    assert_eq!(
        (piece.created_height, piece.updated_height),
        (issued_at, split_at)
    );
    let part = fx.ledger.history(&parts[0]).expect("history");
    assert_eq!(part.len(), 2, "{part:?}");
    assert_eq!(part[0].height, split_at);

    // The record of the split's block lost: the walk cannot go on, and says where.
    let end = fx.ledger.committed();
    drop(std::mem::replace(
        &mut fx.ledger,
        Ledger::in_memory().expect("placeholder"),
    ));
    {
        let db = redb::Database::open(&path).expect("raw open");
        let w = db.begin_write().expect("write");
        w.open_table(redb::TableDefinition::<u64, &[u8]>::new("history"))
            .expect("history table")
            .remove(split_at)
            .expect("remove");
        w.commit().expect("commit");
    }
    let ledger = Ledger::open(&path).expect("reopen");
    assert_eq!(ledger.committed(), end);
    match ledger.history(&root) {
        Err(cascade_core::store::StoreError::Corrupt { what, reason }) => {
            assert_eq!(what, format!("history of piece {root} in block {split_at}"));
            assert_eq!(reason, "the block has no history record");
        }
        other => panic!("a history with a lost block record: {other:?}"),
    }
}
