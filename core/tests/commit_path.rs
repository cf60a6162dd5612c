//! Audit of the block commit path: what a block leaves behind when transactions fail, when
//! the process stops between `finalize_block` and `commit`, and what reads serve
//! after a commit.

use cascade_core::testkit::{cny, Fixture, STANDARD_PARTICIPANTS};
use cascade_core::tx::{Output, TxBody};
use cascade_core::*;
use std::collections::BTreeMap;

/// Every index entry of the committed state.
fn index_of(ledger: &Ledger) -> BTreeMap<Vec<u8>, Vec<u8>> {
    ledger
        .snapshot()
        .index_scan(b"", None)
        .expect("index scan")
        .into_iter()
        .collect()
}

/// A block of failing transactions commits to the app hash of an empty block at the same
/// height and time, and adds nothing to the index either (the ledger keeps no receipts:
/// ADR 0012).
#[test]
fn failing_transactions_leave_nothing_behind() {
    let mut with_failures = Fixture::standard();
    let mut empty = Fixture::standard();
    let root = with_failures.issue_accepted("t1", 1_000_00, 90);
    empty.issue_accepted("t1", 1_000_00, 90);
    assert_eq!(
        with_failures.ledger.committed(),
        empty.ledger.committed(),
        "same history"
    );
    let index_before = index_of(&with_failures.ledger);
    let (t2a, stranger) = (with_failures.addr("t2a"), with_failures.add_key("stranger"));
    let failing = [
        // Splits more than the piece holds.
        with_failures.sign(
            "t1",
            TxBody::Transfer {
                piece: root,
                outputs: vec![Output {
                    to: t2a,
                    amount: Amount(2_000_00),
                }],
            },
        ),
        // To a recipient that is not a participant.
        with_failures.sign(
            "t1",
            TxBody::Transfer {
                piece: root,
                outputs: vec![
                    Output {
                        to: t2a,
                        amount: Amount(100_00),
                    },
                    Output {
                        to: stranger,
                        amount: Amount(100_00),
                    },
                ],
            },
        ),
        // Over the credit line.
        with_failures.sign(
            "core",
            TxBody::SetCreditLine {
                obligor: t2a,
                currency: cny(),
                limit: Amount(1),
            },
        ),
    ];
    with_failures.begin();
    for tx in &failing {
        with_failures
            .ledger
            .deliver_tx(tx)
            .expect_err("the transaction must fail");
    }
    let failed = with_failures.commit();
    empty.empty_block();
    assert_eq!(Some(failed), empty.ledger.committed());

    assert!(!index_before.is_empty());
    assert_eq!(index_of(&with_failures.ledger), index_before);
}

/// A block finalized but not committed when the process stops is lost as a whole: the file
/// reopens at the previous block, and replaying the block gives the app hash that
/// `finalize_block` announced (and an in-memory run has).
#[test]
fn a_finalized_block_not_committed_reopens_at_the_previous_block() {
    let mut reference = Fixture::new(STANDARD_PARTICIPANTS, Params::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.redb");
    let genesis = Ledger::open(&path)
        .expect("open")
        .init_chain(reference.genesis())
        .expect("genesis");
    assert_eq!(
        reference.ledger.committed().map(|c| c.app_hash),
        Some(genesis)
    );
    let core = reference.addr("core");
    let tx = reference.sign(
        "bank",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(7),
        },
    );
    let time = reference.time;
    reference.deliver(&tx).expect("reference tx");
    let expected = reference.commit();
    assert_eq!(expected.version, 1);

    let finalized = {
        let mut ledger = Ledger::open(&path).expect("reopen");
        ledger.begin_block(1, time).expect("begin");
        ledger.deliver_tx(&tx).expect("tx");
        let finalized = ledger.finalize_block().expect("finalize");
        // Stops here, as a process killed before `Commit`.
        finalized
    };
    assert_eq!(finalized, expected);
    let mut ledger = Ledger::open(&path).expect("reopen after the stop");
    assert_eq!(
        ledger.committed().map(|c| (c.version, c.app_hash)),
        Some((0, genesis))
    );
    assert_eq!(ledger.account(&core).expect("read").nonce, 0);
    ledger.begin_block(1, time).expect("begin again");
    ledger.deliver_tx(&tx).expect("tx again");
    assert_eq!(ledger.commit().expect("commit"), expected);
    drop(ledger);
    let ledger = Ledger::open(&path).expect("reopen after commit");
    assert_eq!(ledger.committed(), Some(expected));
}

/// A finalized block that is aborted (a proposal not decided) leaves no trace: the next
/// block at the same height commits to its own app hash.
#[test]
fn an_aborted_finalized_block_is_not_what_commit_writes() {
    let mut reference = Fixture::new(STANDARD_PARTICIPANTS, Params::default());
    let mut ledger = Ledger::in_memory().expect("ledger");
    ledger.init_chain(reference.genesis()).expect("genesis");
    let core = reference.addr("core");
    let first = reference.sign_with(
        "bank",
        0,
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(7),
        },
    );
    let second = reference.sign_with(
        "bank",
        0,
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(8),
        },
    );
    let time = reference.time;
    reference.deliver(&second).expect("reference tx");
    let expected = reference.commit();

    ledger.begin_block(1, time).expect("begin");
    ledger.deliver_tx(&first).expect("first");
    let aborted = ledger.finalize_block().expect("finalize");
    assert_ne!(aborted, expected);
    ledger.abort_block();
    ledger.begin_block(1, time).expect("begin again");
    ledger.deliver_tx(&second).expect("second");
    assert_eq!(ledger.commit().expect("commit"), expected);
    let line = ledger
        .credit_line(&core, &cny(), &reference.addr("bank"))
        .expect("read")
        .expect("line");
    assert_eq!(line.limit, Amount(8));
}

/// Reads come from the snapshot of the last commit: after a commit the mempool and the next
/// block see the new state (a stale account would refuse the next nonce and accept a
/// replay). (Until session 11 a cache of values read from the snapshot sat in between.)
#[test]
fn after_a_commit_reads_serve_the_new_state() {
    let mut fx = Fixture::new(STANDARD_PARTICIPANTS, Params::default());
    let core = fx.addr("core");
    let line = |limit: u64| TxBody::SetCreditLine {
        obligor: core,
        currency: cny(),
        limit: Amount(limit),
    };
    let first = fx.sign_with("bank", 0, line(1));
    let second = fx.sign_with("bank", 1, line(2));
    // The mempool reads (and caches) the bank's account at nonce 0.
    let verified = fx.ledger.verify(&first).expect("verify");
    fx.ledger.check_tx(&verified).expect("admitted");
    // The block reads it too, and commits nonce 1.
    fx.begin();
    fx.ledger.deliver_tx(&first).expect("first");
    fx.commit();
    assert_eq!(fx.ledger.account(&fx.addr("bank")).expect("read").nonce, 1);
    // Mempool against the new state: the replay is refused, the next nonce admitted.
    let verified = fx.ledger.verify(&first).expect("verify");
    assert!(fx.ledger.check_tx(&verified).is_err(), "replay admitted");
    let verified = fx.ledger.verify(&second).expect("verify");
    fx.ledger.check_tx(&verified).expect("next nonce admitted");
    // And the next block.
    fx.begin();
    assert!(fx.ledger.deliver_tx(&first).is_err(), "replay executed");
    fx.ledger.deliver_tx(&second).expect("second");
    fx.commit();
    let l = fx
        .ledger
        .credit_line(&core, &cny(), &fx.addr("bank"))
        .expect("read")
        .expect("line");
    assert_eq!(l.limit, Amount(2));
}

/// Solo mode stopped in the middle of its very first block (the ledger holds only the
/// genesis, so reopening runs `InitChain` again before replaying) reopens at that block with
/// the app hash an uninterrupted run has.
#[test]
fn solo_stopped_in_its_first_block_replays_it() {
    use cascade_core::solo::{SoloError, SoloNode};
    type Crash = fn(SoloNode, i64) -> Result<(), SoloError>;
    let crashes: [(&str, Crash); 2] = [
        ("after store", |n, t| n.produce_block_crash_after_store(t)),
        ("before commit", |n, t| {
            n.produce_block_crash_before_commit(t)
        }),
    ];
    let fx = Fixture::new(STANDARD_PARTICIPANTS, Params::default());
    let key = || cascade_core::testkit::validator_signing_key("validator-0");
    let core = fx.addr("core");
    let tx = fx.sign_with(
        "bank",
        0,
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(7),
        },
    );
    let time = fx.time;
    let mut reference = SoloNode::in_memory(fx.genesis(), key()).expect("reference");
    reference.submit(tx.clone()).expect("submit");
    let expected = reference.produce_block(time).expect("block 1");
    assert_eq!(expected.txs.len(), 1);
    for (name, crash) in crashes {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut node = SoloNode::open(dir.path(), fx.genesis(), key()).expect("open");
        node.submit(tx.clone()).expect("submit");
        crash(node, time).expect("crashing producer");
        let node = SoloNode::open(dir.path(), fx.genesis(), key()).expect(name);
        assert_eq!(node.latest_height(), 1, "{name}");
        assert_eq!(
            node.app_hash().expect("app hash"),
            expected.app_hash,
            "{name}"
        );
        let receipt = node
            .receipt(&expected.txs[0].hash)
            .expect("read")
            .expect("receipt");
        assert_eq!(receipt.code, 0, "{name}");
    }
}

/// Solo mode reopened with another validator key than the one that signed its blocks (the
/// genesis lists no validator, so the genesis alone does not name the key) is refused: its
/// next header would name another validator set than the previous header's
/// `next_validators_hash`, so a light client could not follow the chain across the restart.
/// Reopened with its own key, it goes on.
#[test]
fn solo_reopened_with_another_validator_key_is_refused() {
    use cascade_core::solo::{SoloError, SoloNode};
    let mut genesis = Fixture::new(STANDARD_PARTICIPANTS, Params::default())
        .genesis()
        .clone();
    genesis.validators.clear();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = || cascade_core::testkit::validator_signing_key("validator-0");
    let mut node = SoloNode::open(dir.path(), &genesis, key()).expect("open");
    node.produce_block(genesis.genesis_time + 10)
        .expect("block 1");
    drop(node);
    let intruder = cascade_core::testkit::validator_signing_key("intruder");
    match SoloNode::open(dir.path(), &genesis, intruder) {
        Err(SoloError::Genesis { reason }) => assert!(reason.contains("validator"), "{reason}"),
        Ok(_) => panic!("reopened with another key"),
        Err(e) => panic!("expected a genesis error, got {e}"),
    }
    let mut node = SoloNode::open(dir.path(), &genesis, key()).expect("reopen with its key");
    node.produce_block(genesis.genesis_time + 20)
        .expect("block 2");
}

/// Solo mode reopened with another genesis under the same chain id (other participants,
/// time or parameters) is refused: it would run the stored state under the new genesis'
/// time and parameters. A genesis that was refused leaves nothing behind.
#[test]
fn solo_reopened_with_another_genesis_is_refused() {
    use cascade_core::solo::{SoloError, SoloNode};
    let genesis = Fixture::new(STANDARD_PARTICIPANTS, Params::default())
        .genesis()
        .clone();
    let key = || cascade_core::testkit::validator_signing_key("validator-0");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = SoloNode::open(dir.path(), &genesis, key()).expect("open");
    node.produce_block(genesis.genesis_time + 10)
        .expect("block 1");
    drop(node);
    let mut later = genesis.clone();
    later.genesis_time += 86_400;
    let mut other_params = genesis.clone();
    other_params.params.max_tx_bytes /= 2;
    for other in [later, other_params] {
        match SoloNode::open(dir.path(), &other, key()) {
            Err(SoloError::Genesis { reason }) => {
                assert!(reason.contains("another genesis"), "{reason}")
            }
            Ok(_) => panic!("reopened with another genesis"),
            Err(e) => panic!("expected a genesis error, got {e}"),
        }
    }
    let node = SoloNode::open(dir.path(), &genesis, key()).expect("reopen with its genesis");
    assert_eq!(node.latest_height(), 1);

    // A genesis the ledger refuses records nothing: the corrected one then starts the chain.
    let fresh = tempfile::tempdir().expect("tempdir");
    let mut broken = genesis.clone();
    broken.params.max_outputs = 0;
    assert!(SoloNode::open(fresh.path(), &broken, key()).is_err());
    SoloNode::open(fresh.path(), &genesis, key()).expect("the corrected genesis opens");
}

/// Mempool admission is judged against the committed state: an open block that lowers
/// `max_tx_bytes` (a proposal executed but not decided, which may never be) must not make
/// `verify` + `check_tx` refuse a transaction the committed parameters allow. The block
/// itself still refuses it once the lower limit is in force.
#[test]
fn mempool_admission_ignores_the_size_limit_of_an_undecided_block() {
    let mut fx = Fixture::standard();
    let root = fx.issue_accepted("t1", 1_000_00, 90);
    let outputs = ["t2a", "t2b", "t3a", "t3b"]
        .iter()
        .map(|n| Output {
            to: fx.addr(n),
            amount: Amount(100_00),
        })
        .collect();
    let big = fx.sign(
        "t1",
        TxBody::Transfer {
            piece: root,
            outputs,
        },
    );
    assert!(big.len() > 256, "{} bytes", big.len());
    let lower = fx.sign(
        "operator",
        TxBody::UpdateParams {
            params: Params {
                max_tx_bytes: 256,
                ..Params::default()
            },
        },
    );
    fx.begin();
    fx.ledger.deliver_tx(&lower).expect("lower the limit");

    let verified = fx
        .ledger
        .verify(&big)
        .expect("the committed limit admits it");
    fx.ledger
        .check_tx(&verified)
        .expect("valid against the committed state");
    // The open block, where the lower limit is in force, refuses it.
    let refused = fx
        .ledger
        .deliver_tx(&big)
        .expect_err("too large for the block");
    assert_eq!(refused.code(), 1, "{refused}");
}
