//! The ledger benchmark's workload and measurements, shared by `cascade-bench` and the
//! network benchmark (`cascade-net-bench` in the tests crate), so that every command
//! measures the same workload the same way.
//!
//! The workload is a realistic mix: suppliers split pieces to other suppliers (transfer
//! with change) and the recipients accept, down many tiers. [`generate`] builds it once on a
//! [`Fixture`] (so generation cost is never measured); [`replay`] times it on a fresh
//! ledger; [`k256_verify_rate`] measures the raw signature verification baseline.
//!
//! [`generate_with`] can split the suppliers into independent groups (no transaction
//! depends on another group's), so a network client can send each group to a different
//! node without breaking nonce or piece order.

use crate::crypto::{sha256, verify_prehash};
use crate::ledger::TxReceipt;
use crate::testkit::{cny, first_piece, offered_and_change, Fixture};
use crate::tx::{DecodedTx, Output, TxBody};
use crate::types::{Genesis, Params, Roles};
use crate::{Amount, Day, Hash32, Money};
use std::time::{Duration, Instant};

/// Suppliers in the benchmark's cast (`s0` … `s255`).
pub const SUPPLIERS: usize = 256;
/// Certificates issued in the set-up (one per supplier `s0` … `s31`).
pub const ROOTS: usize = 32;

/// Blocks of signed transaction bytes.
pub type Blocks = Vec<Vec<Vec<u8>>>;

/// Ledger parameters of the benchmark chain (deep tiers, many outputs, unit 1).
pub fn params() -> Params {
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

/// The benchmark chain: an operator, an obligor (`core`), a bank and [`SUPPLIERS`]
/// suppliers; transactions live for a million blocks.
pub fn fixture() -> Fixture {
    let cast = cast();
    let refs: Vec<(&str, Roles)> = cast.iter().map(|(n, r)| (n.as_str(), *r)).collect();
    let mut fx = Fixture::new(&refs, params());
    fx.ttl = 1_000_000;
    fx
}

/// Options of [`generate_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Independent supplier groups (a divisor of [`SUPPLIERS`]); supplier `sI` is in group
    /// `I % groups`, and pieces only move within a group.
    pub groups: usize,
    /// The fixture's clock (Unix seconds) while generating: maturities and offers are
    /// dated from it, so a workload for a live chain uses about the current time. `None`
    /// keeps the fixture's own clock.
    pub time: Option<i64>,
}

impl Default for GenerateOptions {
    fn default() -> GenerateOptions {
        GenerateOptions {
            groups: 1,
            time: None,
        }
    }
}

/// A generated workload.
pub struct Workload {
    /// The chain it is signed for (the [`fixture`]'s genesis).
    pub genesis: Genesis,
    /// Set-up blocks (a credit line, issues and acceptances), not measured.
    pub setup: Blocks,
    /// Measured blocks.
    pub measured: Blocks,
    /// The group of each measured transaction (same shape as `measured`).
    pub groups: Vec<Vec<usize>>,
}

/// The workload of `txs` measured transactions in blocks of `block` (one group, the
/// fixture's clock): set-up blocks and measured blocks.
pub fn generate(txs: usize, block: usize) -> (Blocks, Blocks) {
    let w = generate_with(txs, block, GenerateOptions::default());
    (w.setup, w.measured)
}

/// Builds the workload (see the module documentation). Panics if `groups` does not divide
/// [`SUPPLIERS`] or the workload cannot be generated (a bug in the generator).
pub fn generate_with(txs: usize, block: usize, options: GenerateOptions) -> Workload {
    let groups = options.groups;
    assert!(
        groups > 0 && SUPPLIERS % groups == 0,
        "groups must divide {SUPPLIERS}, not {groups}"
    );
    let mut fx = fixture();
    if let Some(time) = options.time {
        fx.time = time;
    }
    let genesis = fx.genesis().clone();
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
        let hash = Hash32(sha256(format!("bench-invoice-{r}").as_bytes()));
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
        roots.push((first_piece(&rc.events), r));
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
    let per_group = SUPPLIERS / groups;
    let mut measured = Vec::new();
    let mut measured_groups = Vec::new();
    let mut pending: Vec<(Hash32, usize, u64)> = Vec::new();
    let mut produced = 0usize;
    let mut turn = 0usize;
    while produced < txs {
        let mut blk = Vec::new();
        let mut blk_groups = Vec::new();
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
            blk_groups.push(to % groups);
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
            // Another supplier of the same group (with one group: any other supplier).
            let to = (from + groups * (1 + turn % (per_group - 1))) % SUPPLIERS;
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
            blk_groups.push(from % groups);
            let (offered, change) = offered_and_change(&r.events);
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
        measured_groups.push(blk_groups);
    }
    Workload {
        genesis,
        setup,
        measured,
        groups: measured_groups,
    }
}

/// Raw k256 ECDSA verifications per second over the signatures of `samples` (keys and
/// signatures parsed beforehand, so only the verification is timed): the baseline every
/// ledger rate is compared with. Panics if a sample does not verify.
pub fn k256_verify_rate(samples: &[Vec<u8>]) -> f64 {
    let prepared = baseline_samples(samples);
    prepared.len() as f64 / time_baseline(&prepared)
}

/// A signature of the baseline, parsed beforehand: key, signed digest, signature.
type BaselineSample = (
    k256::ecdsa::VerifyingKey,
    [u8; 32],
    crate::crypto::SignatureBytes,
);

/// The signatures of `txs`, parsed for [`time_baseline`] (transactions that do not decode
/// are left out).
fn baseline_samples(txs: &[Vec<u8>]) -> Vec<BaselineSample> {
    txs.iter()
        .filter_map(|b| DecodedTx::decode(b, usize::MAX).ok())
        .filter_map(|d| {
            let key = d.signed().tx.signer.verifying_key().ok()?;
            Some((key, d.sign_digest(), d.signed().signature))
        })
        .collect()
}

/// How many stack positions [`on_shifted_stack`] cycles through, and the stride between
/// consecutive transactions' positions (coprime with it, so neighbours land far apart).
const STACK_SHIFTS: usize = 64;
const STACK_STRIDE: usize = 37;

/// Runs `f` with the stack `levels` frames deeper than the caller's (each frame about a
/// hundred bytes, so 64 levels cover every offset within a 4 KiB page).
///
/// Why: where the stack sits within a page changes the speed of a k256 verification by
/// up to a seventh on this project's machines (seen by changing only the size of the
/// environment, which moves the stack), and it differs between the bare baseline call and
/// the ledger's call, which are at different depths. A process gets one position by
/// chance, so without this a run measured its luck: the same build gave ratios from 0.73
/// to 0.82. Moving both calls through many positions measures the average instead.
#[inline(never)]
fn on_shifted_stack(levels: usize, f: &mut dyn FnMut()) {
    let pad = std::hint::black_box([0u8; 64]);
    if levels == 0 {
        f();
    } else {
        on_shifted_stack(levels - 1, f);
    }
    std::hint::black_box(pad);
}

/// Time to verify one sample with bare k256. Panics if it does not verify.
fn time_one((key, digest, sig): &BaselineSample) -> Duration {
    let start = Instant::now();
    verify_prehash(key, digest, sig)
        .unwrap_or_else(|e| panic!("a benchmark signature does not verify: {e}"));
    start.elapsed()
}

/// Seconds to verify every sample with bare k256. Panics if one does not verify.
fn time_baseline(samples: &[BaselineSample]) -> f64 {
    let start = Instant::now();
    for (key, digest, sig) in samples {
        verify_prehash(key, digest, sig)
            .unwrap_or_else(|e| panic!("a benchmark signature does not verify: {e}"));
    }
    start.elapsed().as_secs_f64()
}

/// Timings of [`replay`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReplayTimes {
    /// Transactions replayed (measured blocks only).
    pub count: usize,
    /// Decode, verify and execute every transaction (seconds).
    pub apply_secs: f64,
    /// Of `apply_secs`, decoding and checking signatures ([`crate::ledger::Ledger::verify`]):
    /// the rest is the ledger's rules. Each block is verified whole before its first
    /// transaction runs, as the node does (ADR 0011), and each phase is timed as a whole.
    /// Measured directly rather than as a difference of two rates, so it is steadier than
    /// either rate on a machine whose speed drifts.
    pub verify_secs: f64,
    /// Finalize + commit of every block (seconds).
    pub commit_secs: f64,
    /// Of the commit, the Merkle tree update (`finalize_block`).
    pub tree_secs: f64,
    /// Measured blocks.
    pub blocks: usize,
    /// State keys (tree leaves) after the replay.
    pub state_keys: u64,
    /// For a replay into a file: reopening it afterwards, which reads the state and rebuilds
    /// the Merkle tree (seconds; 0 in memory).
    pub reopen_secs: f64,
    /// For a replay into a file: its size afterwards, in bytes (0 in memory).
    pub file_bytes: u64,
    /// Bare k256 verification of the same blocks' signatures (seconds): the baseline. Each
    /// signature is verified next to the ledger's verification of its transaction, one for
    /// one, so a drift in the machine's speed moves both alike (and is not counted in
    /// `apply_secs`).
    pub baseline_secs: f64,
    /// Signatures in `baseline_secs`.
    pub baseline_count: usize,
}

impl ReplayTimes {
    /// Execution-only rate (decode, verify, rules), transactions per second.
    pub fn exec_rate(&self) -> f64 {
        self.count as f64 / self.apply_secs
    }

    /// End-to-end single-threaded rate (execution and commit), transactions per second.
    pub fn end_to_end_rate(&self) -> f64 {
        self.count as f64 / (self.apply_secs + self.commit_secs)
    }

    /// Bare k256 verifications per second, interleaved with the replay block by block.
    pub fn baseline_rate(&self) -> f64 {
        self.baseline_count as f64 / self.baseline_secs
    }
}

/// Where [`replay_in`] keeps the ledger it replays into.
#[derive(Clone, Copy, Debug)]
pub enum ReplayStore<'a> {
    /// redb in memory: the ledger's own cost, free of the disk's.
    Memory,
    /// A new redb file at this path (which must not exist yet), with a node's page cache
    /// ([`crate::store::NODE_CACHE_MIB`]) and a durable commit (fsync) every block, as a
    /// validator runs. The file is left for the caller to remove.
    File(&'a std::path::Path),
}

/// Replays a workload into a fresh [`fixture`] ledger in memory: the set-up blocks
/// untimed, then the measured blocks timed. Panics if a transaction fails (a workload
/// generated by [`generate`] never does).
pub fn replay(setup: &Blocks, measured: &Blocks, time: Option<i64>) -> ReplayTimes {
    replay_in(ReplayStore::Memory, setup, measured, time)
}

/// [`replay`] into the given store. Panics if the store cannot be created or a transaction
/// fails.
pub fn replay_in(
    store: ReplayStore<'_>,
    setup: &Blocks,
    measured: &Blocks,
    time: Option<i64>,
) -> ReplayTimes {
    let mut fx = fixture();
    if let Some(time) = time {
        fx.time = time;
    }
    if let ReplayStore::File(path) = store {
        assert!(!path.exists(), "{} exists already", path.display());
        let cache = (crate::store::NODE_CACHE_MIB as usize) << 20;
        let mut ledger = crate::ledger::Ledger::open_with_cache(path, cache)
            .unwrap_or_else(|e| panic!("ledger file {}: {e}", path.display()));
        ledger
            .init_chain(fx.genesis())
            .unwrap_or_else(|e| panic!("genesis: {e}"));
        fx.ledger = ledger;
    }
    for blk in setup {
        fx.begin();
        for tx in blk {
            fx.ledger
                .deliver_tx(tx)
                .unwrap_or_else(|e| panic!("setup replay: {e}"));
        }
        fx.commit();
    }
    let mut times = ReplayTimes {
        blocks: measured.len(),
        ..ReplayTimes::default()
    };
    let baseline: Vec<Vec<BaselineSample>> =
        measured.iter().map(|blk| baseline_samples(blk)).collect();
    for (blk, samples) in measured.iter().zip(&baseline) {
        assert_eq!(
            samples.len(),
            blk.len(),
            "a measured transaction does not decode"
        );
        let t0 = Instant::now();
        fx.begin();
        let begin = t0.elapsed();
        // Every signature of the block, then every rule, as `App::finalize_block` does: the
        // rules then run with their code and data in the CPU caches (ADR 0011). Each
        // transaction's decoding and verification is timed next to a bare k256
        // verification of its signature, one for one and in alternating order, so that a
        // change in the machine's speed, even within a block, moves both alike.
        let (mut verify, mut bare) = (Duration::ZERO, Duration::ZERO);
        let mut verified = Vec::with_capacity(blk.len());
        for (i, (tx, sample)) in blk.iter().zip(samples).enumerate() {
            let ledger_first = i % 2 == 1;
            let mut pair = || {
                let mut ledger_verify = || {
                    let start = Instant::now();
                    let v = fx
                        .ledger
                        .verify(tx)
                        .unwrap_or_else(|e| panic!("measured replay: {e}"));
                    verify += start.elapsed();
                    v
                };
                if ledger_first {
                    let v = ledger_verify();
                    bare += time_one(sample);
                    v
                } else {
                    bare += time_one(sample);
                    ledger_verify()
                }
            };
            let mut v = None;
            on_shifted_stack((times.count + i) * STACK_STRIDE % STACK_SHIFTS, &mut || {
                v = Some(pair())
            });
            verified.extend(v);
        }
        times.verify_secs += verify.as_secs_f64();
        times.baseline_secs += bare.as_secs_f64();
        times.baseline_count += samples.len();
        // Only the ledger's calls are counted, not the pairing around them.
        let a0 = Instant::now();
        for v in &verified {
            fx.ledger
                .apply(v)
                .unwrap_or_else(|e| panic!("measured replay: {e}"));
        }
        let t1 = Instant::now();
        fx.ledger
            .finalize_block()
            .unwrap_or_else(|e| panic!("finalize: {e}"));
        let t2 = Instant::now();
        fx.commit();
        times.apply_secs += (begin + verify + (t1 - a0)).as_secs_f64();
        times.tree_secs += (t2 - t1).as_secs_f64();
        times.commit_secs += t1.elapsed().as_secs_f64();
        times.count += blk.len();
    }
    times.state_keys = fx
        .ledger
        .snapshot()
        .state_len()
        .unwrap_or_else(|e| panic!("state size: {e}"));
    if let ReplayStore::File(path) = store {
        let committed = fx.ledger.committed();
        let empty =
            crate::ledger::Ledger::in_memory().unwrap_or_else(|e| panic!("an empty ledger: {e}"));
        drop(std::mem::replace(&mut fx.ledger, empty));
        let cache = (crate::store::NODE_CACHE_MIB as usize) << 20;
        let start = Instant::now();
        let reopened = crate::ledger::Ledger::open_with_cache(path, cache)
            .unwrap_or_else(|e| panic!("reopening {}: {e}", path.display()));
        times.reopen_secs = start.elapsed().as_secs_f64();
        times.file_bytes = std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .len();
        assert_eq!(
            reopened.committed(),
            committed,
            "the reopened ledger differs"
        );
    }
    times
}
