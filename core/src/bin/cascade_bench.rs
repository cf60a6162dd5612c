//! `cascade-bench`: single-threaded ledger throughput next to raw k256 verification.
//!
//! Prints, from one run on one machine:
//! - raw k256 ECDSA verifications per second (pre-parsed keys and signatures): the baseline;
//! - transactions applied per second by the ledger (decode, verify, execute, and the block
//!   commit to redb with the Merkle tree update, amortised over blocks of `--block` txs);
//! - the ratio of the two. Target: ≥ 0.80 (the ledger costs at most 25 % on top of
//!   signature verification).
//!
//! The workload is a realistic mix: suppliers split pieces to other suppliers (transfer with
//! change) and the recipients accept, down many tiers. It is generated once, then replayed
//! into a fresh ledger for timing, so generation cost is not measured.
//!
//! Usage: `cargo run --release -p cascade-core --bin cascade-bench -- [--txs N] [--block B]`

use cascade_core::crypto::verify_prehash;
use cascade_core::testkit::{cny, Fixture};
use cascade_core::tx::{DecodedTx, Output, TxBody};
use cascade_core::*;
use std::time::Instant;

struct Args {
    txs: usize,
    block: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        txs: 20_000,
        block: 1_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .ok_or(format!("{name} needs a positive number"))
        };
        match a.as_str() {
            "--txs" => args.txs = num("--txs")?,
            "--block" => args.block = num("--block")?,
            "--help" | "-h" => return Err("usage: cascade-bench [--txs N] [--block B]".into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

const SUPPLIERS: usize = 256;
const ROOTS: usize = 32;

fn params() -> Params {
    Params {
        max_tier: 10_000,
        max_outputs: 16,
        min_unit: Amount(1),
        offer_expiry_days: 30,
        ..Params::default()
    }
}

fn cast() -> Vec<(String, Roles)> {
    let mut v = vec![
        ("operator".to_string(), Roles::OPERATOR),
        ("core".to_string(), Roles::OBLIGOR),
        ("bank".to_string(), Roles::FINANCIER),
    ];
    v.extend((0..SUPPLIERS).map(|i| (format!("s{i}"), Roles::SUPPLIER)));
    v
}

fn fixture() -> Fixture {
    let cast = cast();
    let refs: Vec<(&str, Roles)> = cast.iter().map(|(n, r)| (n.as_str(), *r)).collect();
    let mut fx = Fixture::new(&refs, params());
    fx.ttl = 1_000_000;
    fx
}

/// Builds the workload: setup blocks (not timed) and measured blocks of `block` transactions.
/// Blocks of signed transaction bytes.
type Blocks = Vec<Vec<Vec<u8>>>;

fn generate(txs: usize, block: usize) -> (Blocks, Blocks) {
    let mut fx = fixture();
    let mut setup = Vec::new();
    let record =
        |fx: &mut Fixture, name: &str, body: TxBody, blk: &mut Vec<Vec<u8>>| -> TxReceipt {
            let bytes = fx.sign(name, body);
            let r = fx
                .deliver(&bytes)
                .unwrap_or_else(|e| panic!("workload generation: {e}"));
            blk.push(bytes);
            r
        };
    // Setup: a credit line, one invoice and certificate per root, accepted by its tier-1 supplier.
    let mut blk = Vec::new();
    let core = fx.addr("core");
    record(
        &mut fx,
        "bank",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(u64::MAX / 2),
        },
        &mut blk,
    );
    fx.commit();
    setup.push(std::mem::take(&mut blk));
    let mut holders: Vec<(Hash32, usize, u64)> = Vec::new(); // (piece, holder index, amount)
    let mut roots = Vec::new();
    for r in 0..ROOTS {
        let seller = fx.addr(&format!("s{r}"));
        let hash = Hash32(cascade_core::crypto::sha256(
            format!("bench-invoice-{r}").as_bytes(),
        ));
        record(
            &mut fx,
            "core",
            TxBody::AnchorDocument {
                hash,
                amount: Money {
                    amount: Amount(1 << 40),
                    currency: cny(),
                },
                buyer: core,
                seller,
            },
            &mut blk,
        );
        let maturity = Day(fx.today().0 + 180);
        let bank = fx.addr("bank");
        let rc = record(
            &mut fx,
            "core",
            TxBody::Issue {
                to: seller,
                amount: Amount(1 << 40),
                currency: cny(),
                maturity,
                document: hash,
                credit_grantor: bank,
            },
            &mut blk,
        );
        roots.push((cascade_core::testkit::first_piece(&rc.events), r));
    }
    fx.commit();
    setup.push(std::mem::take(&mut blk));
    for (piece, r) in roots {
        record(
            &mut fx,
            &format!("s{r}"),
            TxBody::Accept { piece },
            &mut blk,
        );
        holders.push((piece, r, 1 << 40));
    }
    fx.commit();
    setup.push(blk);

    // Measured: alternate transfer blocks and accept blocks.
    let mut measured = Vec::new();
    let mut pending: Vec<(Hash32, usize, u64)> = Vec::new();
    let mut produced = 0usize;
    let mut turn = 0usize;
    while produced < txs {
        let mut blk = Vec::new();
        let mut next_holders = Vec::new();
        // Accept everything offered in the previous block first.
        for (piece, to, amount) in pending.drain(..) {
            if blk.len() >= block || produced + blk.len() >= txs {
                next_holders.push((piece, to, amount)); // unreachable in practice; keeps accounting honest
                continue;
            }
            record(
                &mut fx,
                &format!("s{to}"),
                TxBody::Accept { piece },
                &mut blk,
            );
            holders.push((piece, to, amount));
        }
        // Then transfers from holders until the block is full.
        let mut kept = Vec::new();
        while blk.len() < block && produced + blk.len() < txs {
            let Some((piece, from, amount)) = holders.pop() else {
                break;
            };
            if amount < 4 {
                continue;
            }
            turn += 1;
            let to = (from + 1 + turn % (SUPPLIERS - 1)) % SUPPLIERS;
            let part = amount / 2;
            let to_addr = fx.addr(&format!("s{to}"));
            let r = record(
                &mut fx,
                &format!("s{from}"),
                TxBody::Transfer {
                    piece,
                    outputs: vec![Output {
                        to: to_addr,
                        amount: Amount(part),
                    }],
                },
                &mut blk,
            );
            let (offered, change) = cascade_core::testkit::offered_and_change(&r.events);
            pending.push((offered[0], to, part));
            if let Some(c) = change {
                kept.push((c, from, amount - part));
            }
        }
        holders.extend(kept);
        holders.extend(next_holders);
        fx.commit();
        produced += blk.len();
        measured.push(blk);
    }
    (setup, measured)
}

fn k256_baseline(samples: &[Vec<u8>]) -> f64 {
    let prepared: Vec<_> = samples
        .iter()
        .filter_map(|b| DecodedTx::decode(b, usize::MAX).ok())
        .map(|d| {
            (
                d.signed.tx.signer.verifying_key().expect("valid key"),
                d.signed.tx.sign_digest(),
                d.signed.signature,
            )
        })
        .collect();
    let start = Instant::now();
    for (key, digest, sig) in &prepared {
        verify_prehash(key, digest, sig).expect("valid signature");
    }
    prepared.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "generating {} transactions in blocks of {}…",
        args.txs, args.block
    );
    let (setup, measured) = generate(args.txs, args.block);
    let all: Vec<Vec<u8>> = measured.iter().flatten().cloned().collect();

    // Baseline first, then the ledger, then the baseline again: report the better baseline so
    // the ratio is not flattered by frequency scaling or a noisy neighbour.
    let base1 = k256_baseline(&all);

    let mut fx = fixture();
    for blk in &setup {
        fx.begin();
        for tx in blk {
            fx.ledger.deliver_tx(tx).expect("setup replay");
        }
        fx.commit();
    }
    let mut apply_secs = 0.0;
    let mut commit_secs = 0.0;
    let mut tree_secs = 0.0;
    let mut count = 0usize;
    for blk in &measured {
        let t0 = Instant::now();
        fx.begin();
        for tx in blk {
            fx.ledger.deliver_tx(tx).expect("measured replay");
        }
        let t1 = Instant::now();
        fx.ledger.finalize_block().expect("finalize");
        let t2 = Instant::now();
        fx.commit();
        apply_secs += (t1 - t0).as_secs_f64();
        tree_secs += (t2 - t1).as_secs_f64();
        commit_secs += t1.elapsed().as_secs_f64();
        count += blk.len();
    }
    let base2 = k256_baseline(&all);
    let baseline = base1.max(base2);
    let total = apply_secs + commit_secs;
    let rate = count as f64 / total;
    let ratio = rate / baseline;

    println!(
        "cascade-bench: {count} transactions (transfer+accept mix) in {} blocks, single thread",
        measured.len()
    );
    println!("  raw k256 verify (pre-parsed key, baseline) : {baseline:>10.0} /s   (runs: {base1:.0}, {base2:.0})");
    println!("  ledger apply + commit (end to end)          : {rate:>10.0} tx/s");
    println!(
        "    execution only (decode, verify, rules)    : {:>10.0} tx/s",
        count as f64 / apply_secs
    );
    println!(
        "    commit (Merkle tree + redb, per tx)       : {:>10.1} µs",
        commit_secs * 1e6 / count as f64
    );
    println!(
        "      of which Merkle tree update (per tx)    : {:>10.1} µs",
        tree_secs * 1e6 / count as f64
    );
    println!(
        "  ratio ledger / raw verify                   : {ratio:>10.3}   (target ≥ 0.80: {})",
        if ratio >= 0.8 { "met" } else { "NOT met" }
    );
}
