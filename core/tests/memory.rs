//! Memory: the ABCI application's caches and mempool state stay bounded over many blocks.
//!
//! The soak (`scripts/soak.sh`) showed each application's memory growing for as long as it
//! ran. That growth was redb's page cache (now bounded by the node's `ledger_cache_mib`, see
//! `docs/reliability.md`, Memory), but a cache that keeps entries for transactions which
//! never reach a block would grow the same way, only more slowly. This test drives one
//! [`App`] through many blocks the way CometBFT does — `CheckTx` for every new transaction,
//! the decided block, `Commit`, then a recheck of what stays in the mempool — with, in every
//! block, transactions that never get into a block: a replay, a nonce ahead, and one outbid
//! by another transaction with the same nonce. After every block it counts the entries of
//! each cache through [`App::cache_sizes`] and checks they follow the mempool, not the
//! number of blocks.

use bytes::Bytes;
use cascade_core::app::App;
use cascade_core::crypto::sha256;
use cascade_core::testkit::{abci, cny, Fixture};
use cascade_core::tx::TxBody;
use cascade_core::*;
use tendermint::abci::{request, response, Code};

/// Blocks driven: enough that anything kept per block would stand out (the counts are
/// checked after every block, and must not grow at all).
const BLOCKS: u64 = 120;

fn block_time(h: u64) -> i64 {
    testkit::GENESIS_TIME + 10 * h as i64
}

fn check(app: &mut App, tx: &Bytes, kind: request::CheckTxKind) -> Code {
    app.check_tx(&request::CheckTx {
        tx: tx.clone(),
        kind,
    })
    .code
}

/// `ProcessProposal`, `FinalizeBlock` and `Commit` of block `h`, as a validator that did not
/// propose it; every transaction must succeed.
fn decide(app: &mut App, h: u64, txs: &[Bytes]) {
    let accepted = app
        .process_proposal(&abci::process_proposal(h, block_time(h), txs))
        .unwrap();
    assert_eq!(accepted, response::ProcessProposal::Accept, "block {h}");
    let decided = app
        .finalize_block(&abci::finalize_block(h, block_time(h), txs))
        .unwrap();
    for (i, r) in decided.tx_results.iter().enumerate() {
        assert_eq!(r.code, Code::Ok, "block {h} tx {i}: {}", r.log);
    }
    app.commit().unwrap();
}

fn credit_line(f: &Fixture, grantor: &str, nonce: u64, limit: u64) -> Bytes {
    let body = TxBody::SetCreditLine {
        obligor: f.addr("core"),
        currency: cny(),
        limit: Amount(limit),
    };
    f.sign_with(grantor, nonce, body).into()
}

fn anchor(f: &Fixture, nonce: u64, label: &str) -> Bytes {
    let body = TxBody::AnchorDocument {
        hash: Hash32(sha256(label.as_bytes())),
        amount: Money {
            amount: Amount(10_000_00),
            currency: cny(),
        },
        buyer: f.addr("core"),
        seller: f.addr("t1"),
    };
    f.sign_with("core", nonce, body).into()
}

#[test]
fn caches_and_mempool_state_follow_the_mempool_not_the_block_count() {
    let mut f = Fixture::standard();
    // Every transaction stays valid for the whole run.
    f.ttl = 10 * BLOCKS;
    let mut app = abci::new_app(f.genesis());
    // CometBFT's mempool as this test keeps it: what CheckTx accepted, in order.
    let mut mempool: Vec<Bytes> = Vec::new();
    let mut held: Option<Bytes> = None;
    let mut last_bank: Option<Bytes> = None;
    let mut mempool_writes_of_one_anchor = None;
    for h in 1..=BLOCKS {
        let n = h - 1;
        // New transactions reach this node.
        let bank = credit_line(&f, "bank", n, 1_000_000 + h);
        let outbid = credit_line(&f, "factor", n, 2_000_000 + h);
        let anchor = anchor(&f, n, &format!("invoice-{h}"));
        let ahead = credit_line(&f, "bank", n + 5, 3_000_000 + h);
        for tx in [&bank, &outbid, &anchor] {
            assert_eq!(check(&mut app, tx, request::CheckTxKind::New), Code::Ok);
            mempool.push(tx.clone());
        }
        // Refused at once: a nonce ahead, and a replay of a committed transaction.
        assert_ne!(check(&mut app, &ahead, request::CheckTxKind::New), Code::Ok);
        if let Some(replay) = &last_bank {
            assert_ne!(check(&mut app, replay, request::CheckTxKind::New), Code::Ok);
        }

        // The decided block (another validator's proposal): `bank`, a different
        // transaction with `outbid`'s nonce, and last block's anchor; this block's anchor
        // waits in the mempool for the next one.
        let winner = credit_line(&f, "factor", n, 4_000_000 + h);
        let mut block = vec![bank.clone(), winner];
        block.extend(held.take());
        decide(&mut app, h, &block);
        assert_eq!(
            app.cache_sizes().mempool_writes,
            0,
            "Commit resets the mempool state"
        );

        // CometBFT drops the committed transactions and rechecks the rest: `outbid` fails.
        mempool.retain(|tx| !block.contains(tx));
        mempool.retain(|tx| check(&mut app, tx, request::CheckTxKind::Recheck) == Code::Ok);
        assert_eq!(mempool, vec![anchor.clone()], "block {h}");

        let sizes = app.cache_sizes();
        assert_eq!(
            sizes.verified_txs,
            mempool.len(),
            "block {h}: only the mempool's transactions stay verified ({sizes:?})"
        );
        assert_eq!(sizes.verifying_keys, 3, "bank, factor and core ({sizes:?})");
        assert!(sizes.mempool_writes > 0, "the anchor's writes ({sizes:?})");
        let expected = *mempool_writes_of_one_anchor.get_or_insert(sizes.mempool_writes);
        assert_eq!(
            sizes.mempool_writes, expected,
            "block {h}: the mempool state holds one anchor's writes ({sizes:?})"
        );
        held = Some(anchor);
        last_bank = Some(bank);
    }
    assert_eq!(app.ledger().committed().unwrap().version, BLOCKS);
}
