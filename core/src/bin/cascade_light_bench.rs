//! `cascade-light-bench`: what the wallet's verification costs on this machine.
//!
//! Prints, from one run:
//! - the time and number of header verifications for the light client to catch up after
//!   10,000 and after 100,000 blocks with an unchanged validator set (skipping verification
//!   from the genesis anchor), offline: the blocks are produced first by an in-memory solo
//!   node (empty blocks, one second apart) and served in-process, and production time is not
//!   measured. Target: under 1 s after 100,000 blocks;
//! - for comparison, the time to verify every one of the first N / 10 headers in turn (the
//!   worst case: a validator set that changes in every block);
//! - Merkle proof verifications per second (`StateProof::verify` of a piece against its app
//!   hash);
//! - raw ed25519 signature verifications per second (a CometBFT precommit's sign bytes): the
//!   baseline a header verification is made of;
//! - wallet open time: `Wallet::open` of an on-disk cache holding a verified view with
//!   `HOLDINGS` pieces and the light client's trusted state, offline, next to opening the
//!   same redb file bare (the floor). Target: under 20 ms.
//!
//! Usage: `cargo run --release -p cascade-core --bin cascade-light-bench -- [--blocks N]`
//! (`N` is the long gap, default 100,000; the short one is N / 10).
#![forbid(unsafe_code)]

use cascade_core::keys;
use cascade_core::solo::SoloNode;
use cascade_core::testkit::cny;
use cascade_core::testkit::{self, Fixture};
use cascade_core::tx::TxBody;
use cascade_core::wallet::client::{Wallet, WalletConfig, WalletError};
use cascade_core::wallet::keys::LocalKey;
use cascade_core::wallet::light::{LightClient, Options, TrustAnchor};
use cascade_core::wallet::solo_transport::{SoloClock, SoloTransport};
use cascade_core::wallet::transport::Transport;
use cascade_core::{Amount, Day, Hash32, Money, SecretKey};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tendermint::Time;

fn parse_args() -> Result<u64, String> {
    let mut blocks = 100_000;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--blocks" => {
                blocks = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n >= 10)
                    .ok_or("--blocks needs a number of at least 10")?;
            }
            "--help" | "-h" => return Err("usage: cascade-light-bench [--blocks N]".into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(blocks)
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("cascade-light-bench: {what}: {e}");
    std::process::exit(1)
}

fn time(secs: i64) -> Time {
    Time::from_unix_timestamp(secs, 0).unwrap_or_else(|e| fail("time", e))
}

/// What one catch-up cost.
struct CatchUp {
    elapsed: Duration,
    verifications: u64,
    fetched: u64,
}

/// Syncs a fresh client anchored at genesis to `target` (the anchor is not timed).
fn catch_up(
    anchor: &TrustAnchor,
    t: &dyn Transport,
    witnesses: &[&dyn Transport],
    target: u64,
    now: Time,
) -> CatchUp {
    let mut client = LightClient::new(anchor.clone(), Options::default(), t, witnesses, now)
        .unwrap_or_else(|e| fail("anchor", e));
    let before = client.stats();
    let started = Instant::now();
    let block = client
        .sync_to(target, t, witnesses, now)
        .unwrap_or_else(|e| fail("sync", e));
    let elapsed = started.elapsed();
    if block.height().value() != target {
        fail("sync", "ended at the wrong height");
    }
    let after = client.stats();
    CatchUp {
        elapsed,
        verifications: after.verifications - before.verifications,
        fetched: after.blocks_fetched - before.blocks_fetched,
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn main() {
    let long = parse_args().unwrap_or_else(|e| fail("arguments", e));
    let short = long / 10;

    // ---- produce the chain (not measured) ----
    let fx = Fixture::standard();
    let node = SoloNode::in_memory(fx.genesis(), testkit::validator_signing_key("validator-0"))
        .unwrap_or_else(|e| fail("solo node", e));
    let node = Arc::new(Mutex::new(node));
    let t = SoloTransport::new(node.clone());
    let start = testkit::GENESIS_TIME + 60;
    let produce_started = Instant::now();
    {
        let mut n = node.lock().unwrap_or_else(|e| fail("lock", e));
        for i in 0..=long as i64 {
            n.produce_block(start + i)
                .unwrap_or_else(|e| fail("produce", e));
        }
    }
    let produced = produce_started.elapsed();
    let now = time(start + long as i64 + 2);
    let set = node
        .lock()
        .unwrap_or_else(|e| fail("lock", e))
        .validator_set(1)
        .unwrap_or_else(|| fail("validator set", "missing"));
    let set_hash = <[u8; 32]>::try_from(set.hash().as_bytes())
        .unwrap_or_else(|e| fail("validator set hash", e));
    let anchor = TrustAnchor::genesis_validators(testkit::CHAIN_ID, Hash32(set_hash));
    println!(
        "chain: {} empty blocks produced by a solo node in {:.1} s (not measured below)",
        long + 1,
        produced.as_secs_f64()
    );

    // ---- light-client catch-up ----
    let witness = SoloTransport::named(node.clone(), "witness");
    for (gap, witnesses) in [
        (short, Vec::<&dyn Transport>::new()),
        (long, Vec::new()),
        (long, vec![&witness as &dyn Transport]),
    ] {
        let r = catch_up(&anchor, &t, &witnesses, 1 + gap, now);
        let target = if gap == long {
            format!(
                " (target < 1 s: {})",
                if r.elapsed < Duration::from_secs(1) {
                    "met"
                } else {
                    "NOT met"
                }
            )
        } else {
            String::new()
        };
        println!(
            "sync after {gap:>7} blocks, {} witness(es): {:>8.3} ms, {} header verification(s), \
             {} light block(s) fetched{target}",
            witnesses.len(),
            r.elapsed.as_secs_f64() * 1e3,
            r.verifications,
            r.fetched,
        );
    }

    // Worst case for comparison: every header verified in turn (as when the validator set
    // changes in every block).
    let mut client = LightClient::new(anchor.clone(), Options::default(), &t, &[], now)
        .unwrap_or_else(|e| fail("anchor", e));
    let started = Instant::now();
    for h in 2..=1 + short {
        client
            .sync_to(h, &t, &[], now)
            .unwrap_or_else(|e| fail("sequential sync", e));
    }
    let elapsed = started.elapsed();
    println!(
        "sequential, every header of {short} blocks: {:>8.3} ms, {} header verifications \
         ({:.0} headers/s, fetch included)",
        elapsed.as_secs_f64() * 1e3,
        client.stats().verifications - 1,
        rate(short, elapsed),
    );

    // ---- Merkle proof verification ----
    let mut fx = Fixture::standard();
    let piece = fx.issue_accepted("t1", 1_000_000_00, 30);
    let proof = fx
        .ledger
        .prove_piece(&piece)
        .unwrap_or_else(|e| fail("prove", e));
    let app_hash = fx
        .ledger
        .committed()
        .map(|c| c.app_hash)
        .unwrap_or_else(|| fail("app hash", "nothing committed"));
    let key = keys::piece(&piece);
    let n = 20_000_u64;
    let started = Instant::now();
    for _ in 0..n {
        if proof.verify(&app_hash, &key).is_err() {
            fail("proof", "did not verify");
        }
    }
    println!(
        "state proofs (piece, StateProof::verify, {} proof bytes): {:>10.0} verifications/s",
        proof.proof.len(),
        rate(n, started.elapsed())
    );

    // ---- raw ed25519 baseline ----
    let key = testkit::validator_signing_key("validator-0");
    let vk = key.verification_key();
    let msg = [0x5a_u8; 110]; // a precommit's canonical sign bytes are about this long
    let sig = key.sign(&msg);
    let n = 20_000_u64;
    let started = Instant::now();
    for _ in 0..n {
        if vk.verify(&sig, &msg).is_err() {
            fail("ed25519", "did not verify");
        }
    }
    let ed = rate(n, started.elapsed());
    println!("raw ed25519 signature verification: {ed:>10.0} verifications/s (baseline)");

    wallet_open();
}

/// Pieces the measured wallet holds.
const HOLDINGS: usize = 24;
/// Opens timed.
const OPENS: u32 = 50;

/// A fresh solo chain, wallets on its live transport, and `t1` holding `HOLDINGS` pieces in
/// an on-disk cache; then the timed opens of that cache.
fn wallet_open() {
    let fx = Fixture::standard();
    let node = SoloNode::in_memory(fx.genesis(), testkit::validator_signing_key("validator-0"))
        .unwrap_or_else(|e| fail("solo node", e));
    let node = Arc::new(Mutex::new(node));
    let live: Arc<dyn Transport> = Arc::new(SoloTransport::live(node.clone()));
    let clock = Arc::new(SoloClock::new(node.clone()));
    {
        let mut n = node.lock().unwrap_or_else(|e| fail("lock", e));
        n.produce_block(testkit::GENESIS_TIME + 60)
            .unwrap_or_else(|e| fail("produce", e));
    }
    let set = node
        .lock()
        .unwrap_or_else(|e| fail("lock", e))
        .validator_set(1)
        .unwrap_or_else(|| fail("validator set", "missing"));
    let set_hash = <[u8; 32]>::try_from(set.hash().as_bytes())
        .unwrap_or_else(|e| fail("validator set hash", e));
    let config = WalletConfig::new(TrustAnchor::genesis_validators(
        testkit::CHAIN_ID,
        Hash32(set_hash),
    ));
    let path =
        std::env::temp_dir().join(format!("cascade-light-bench-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let open = |who: &str, path: Option<&Path>| -> Wallet {
        let signer = Arc::new(LocalKey::from_secret(SecretKey::from_seed(who.as_bytes())));
        let w = match path {
            Some(p) => Wallet::open(
                p,
                config.clone(),
                signer,
                live.clone(),
                vec![],
                clock.clone(),
            ),
            None => Wallet::in_memory(config.clone(), signer, live.clone(), vec![], clock.clone()),
        };
        w.unwrap_or_else(|e| fail("wallet", e))
    };
    let (mut bank, mut core, mut t1) = (
        open("bank", None),
        open("core", None),
        open("t1", Some(&path)),
    );
    let addr = |who: &str| SecretKey::from_seed(who.as_bytes()).address();
    // Submits as `w` and refreshes until the wallet sees it committed (the live transport
    // produces the block that commits it).
    let run = |w: &mut Wallet, body: TxBody| {
        settle(w);
        let hash = w.submit(body).unwrap_or_else(|e| fail("submit", e));
        for _ in 0..10 {
            settle(w);
            if matches!(
                w.tx_status(&hash),
                Some(cascade_core::wallet::client::TxStatus::Committed { .. })
            ) {
                return;
            }
        }
        fail("commit", "the transaction did not commit");
    };
    run(
        &mut bank,
        TxBody::SetCreditLine {
            obligor: addr("core"),
            currency: cny(),
            limit: Amount(1_000_000_000_00),
        },
    );
    for i in 0..HOLDINGS {
        let document = Hash32(cascade_core::crypto::sha256(
            format!("bench-invoice-{i}").as_bytes(),
        ));
        let face = 10_000_00 + i as u64;
        run(
            &mut core,
            TxBody::AnchorDocument {
                hash: document,
                amount: Money {
                    amount: Amount(face),
                    currency: cny(),
                },
                buyer: addr("core"),
                seller: addr("t1"),
            },
        );
        let today = core
            .view()
            .map(|v| v.today)
            .unwrap_or_else(|| fail("view", "none"));
        run(
            &mut core,
            TxBody::Issue {
                to: addr("t1"),
                amount: Amount(face),
                currency: cny(),
                maturity: Day(today.0 + 60),
                document,
                credit_grantor: addr("bank"),
            },
        );
        settle(&mut t1);
        let offer = t1
            .view()
            .and_then(|v| v.offers_in.first().map(|(id, _)| *id))
            .unwrap_or_else(|| fail("offer", "t1 sees no offer"));
        run(&mut t1, TxBody::Accept { piece: offer });
    }
    settle(&mut t1);
    let held = t1.view().map_or(0, |v| v.holdings.len());
    if held != HOLDINGS {
        fail(
            "setup",
            format!("t1 holds {held} pieces, expected {HOLDINGS}"),
        );
    }
    drop(t1);

    // Floor: the same file opened bare with redb, one read transaction begun. Opening and
    // closing are timed apart: closing a redb file writes and syncs its allocator state.
    let (mut bare, mut bare_close) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..OPENS {
        let t = Instant::now();
        let db = redb::Database::open(&path).unwrap_or_else(|e| fail("redb open", e));
        drop(db.begin_read().unwrap_or_else(|e| fail("redb read", e)));
        let opened = t.elapsed();
        drop(db);
        bare += opened;
        bare_close += t.elapsed() - opened;
    }
    let (mut total, mut worst, mut close) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..OPENS {
        let t = Instant::now();
        let w = open("t1", Some(&path));
        let n = w.view().map_or(0, |v| v.holdings.len());
        let opened = t.elapsed();
        if n != HOLDINGS {
            fail("open", format!("the reopened wallet shows {n} holdings"));
        }
        drop(w);
        total += opened;
        worst = worst.max(opened);
        close += t.elapsed() - opened;
    }
    let _ = std::fs::remove_file(&path);
    let ms = |d: Duration| d.as_secs_f64() * 1e3 / f64::from(OPENS);
    println!(
        "wallet open (offline, cached view of {HOLDINGS} holdings, {OPENS} opens): mean {:.3} ms, \
         worst {:.3} ms (target < 20 ms: {}); close {:.3} ms",
        ms(total),
        worst.as_secs_f64() * 1e3,
        if worst < Duration::from_millis(20) {
            "met"
        } else {
            "NOT met"
        },
        ms(close),
    );
    println!(
        "  bare redb open of the same file (floor): {:.3} ms, close {:.3} ms; wallet open / floor: {:.2}",
        ms(bare),
        ms(bare_close),
        total.as_secs_f64() / bare.as_secs_f64().max(1e-9),
    );
}

/// Refreshes until the state is provable (the live transport produces the proving block).
fn settle(w: &mut Wallet) {
    for _ in 0..5 {
        match w.refresh() {
            Ok(_) => return,
            Err(WalletError::AwaitingNextBlock { .. }) => continue,
            Err(e) => fail("refresh", e),
        }
    }
    fail("refresh", "no provable state after 5 attempts");
}
