//! `cascade-bench`: single-threaded ledger throughput next to raw k256 verification.
//!
//! Prints, from one run on one machine:
//! - raw k256 ECDSA verifications per second (pre-parsed keys and signatures): the baseline;
//! - transactions applied per second by the ledger (decode, verify, execute, and the block
//!   commit to redb with the Merkle tree update, amortised over blocks of `--block` txs),
//!   with redb in memory (the ledger's own cost) and on disk with a durable commit every
//!   block (what a validator pays, disk included);
//! - the ratio of the two. Target: ≥ 0.80 (the ledger costs at most 25 % on top of
//!   signature verification).
//!
//! Timings on a shared machine drift (frequency scaling, neighbours) by a fifth within
//! seconds, so the baseline is measured in step with the ledger: each transaction's
//! decoding and signature check is timed next to a bare k256 verification of the same
//! signature, in alternating order. Where the stack sits within a page also changes a k256
//! verification's speed, differently for the two calls, by up to a seventh per process, so
//! the pairs run through 64 stack depths ([`cascade_core::bench`]). Each replay's ratio
//! compares its own time with its own baseline. The run is made of `--rounds` rounds; the
//! median round is printed, with the lowest and highest in brackets.
//!
//! The workload is a realistic mix: suppliers split pieces to other suppliers (transfer with
//! change) and the recipients accept, down many tiers. It is generated once, then replayed
//! into a fresh ledger for timing, so generation cost is not measured. The workload and the
//! measurements are [`cascade_core::bench`], shared with the network benchmark.
//!
//! Usage: `cargo run --release -p cascade-core --bin cascade-bench -- [--txs N] [--block B]
//! [--rounds R] [--dir D]` (`--dir`: where the on-disk replay's file goes; default the
//! system's temporary directory, which should be a real disk, not tmpfs).
#![forbid(unsafe_code)]

use cascade_core::bench::{generate, replay_in, ReplayStore, ReplayTimes};
use std::path::PathBuf;

const USAGE: &str = "usage: cascade-bench [--txs N] [--block B] [--rounds R] [--dir D]";

struct Args {
    txs: usize,
    block: usize,
    rounds: usize,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        txs: 20_000,
        block: 1_000,
        rounds: 3,
        dir: std::env::temp_dir(),
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
            "--rounds" => args.rounds = num("--rounds")?,
            "--dir" => {
                args.dir = it
                    .next()
                    .map(PathBuf::from)
                    .ok_or("--dir needs a directory")?
            }
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if !args.dir.is_dir() {
        return Err(format!("--dir {}: not a directory", args.dir.display()));
    }
    Ok(args)
}

/// One round's figures: each replay carries its own baseline
/// ([`ReplayTimes::baseline_rate`]).
struct Round {
    memory: ReplayTimes,
    disk: ReplayTimes,
}

/// Median, lowest and highest of `f` over the rounds.
fn spread(rounds: &[Round], f: impl Fn(&Round) -> f64) -> (f64, f64, f64) {
    let mut v: Vec<f64> = rounds.iter().map(f).collect();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn per_tx_us(secs: f64, t: &ReplayTimes) -> f64 {
    secs * 1e6 / t.count as f64
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
    let dir = args
        .dir
        .join(format!("cascade-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }

    let mut rounds = Vec::new();
    for r in 0..args.rounds {
        eprintln!("round {} of {}…", r + 1, args.rounds);
        let memory = replay_in(ReplayStore::Memory, &setup, &measured, None);
        let file = dir.join(format!("round-{r}.redb"));
        let disk = replay_in(ReplayStore::File(&file), &setup, &measured, None);
        // The file can be large; only the timings are kept.
        let _ = std::fs::remove_file(&file);
        rounds.push(Round { memory, disk });
    }
    let _ = std::fs::remove_dir(&dir);
    report(&rounds, measured.len(), &args);
}

/// One line of the report: a heading, or a figure of every round with its unit and decimals.
enum Row {
    Heading(String),
    Figure(&'static str, fn(&Round) -> f64, &'static str, usize),
}

fn report(rounds: &[Round], blocks: usize, args: &Args) {
    use Row::{Figure, Heading};
    let count = rounds[0].memory.count;
    println!(
        "cascade-bench: {count} transactions (transfer+accept mix) in {blocks} blocks, single \
         thread; median of {} rounds [lowest – highest]",
        rounds.len()
    );
    let rows = [
        Figure(
            "raw k256 verify (pre-parsed key, baseline)",
            |r| r.memory.baseline_rate(),
            "/s",
            0,
        ),
        Heading("redb in memory (the ledger's own cost)".into()),
        Figure(
            "  apply + commit (end to end)",
            |r| r.memory.end_to_end_rate(),
            "tx/s",
            0,
        ),
        Figure(
            "  execution only (decode, verify, rules)",
            |r| r.memory.exec_rate(),
            "tx/s",
            0,
        ),
        Figure(
            "    decode + signature, per tx",
            |r| per_tx_us(r.memory.verify_secs, &r.memory),
            "µs",
            1,
        ),
        Figure(
            "      baseline verify, per signature",
            |r| 1e6 / r.memory.baseline_rate(),
            "µs",
            1,
        ),
        Figure(
            "    rules (beyond the signature), per tx",
            |r| per_tx_us(r.memory.apply_secs - r.memory.verify_secs, &r.memory),
            "µs",
            1,
        ),
        Figure(
            "  commit (Merkle tree + redb), per tx",
            |r| per_tx_us(r.memory.commit_secs, &r.memory),
            "µs",
            1,
        ),
        Figure(
            "    of which Merkle tree update",
            |r| per_tx_us(r.memory.tree_secs, &r.memory),
            "µs",
            1,
        ),
        Heading(format!(
            "redb file, durable commit every block (as a validator runs; {})",
            args.dir.display()
        )),
        Figure(
            "  apply + commit (end to end)",
            |r| r.disk.end_to_end_rate(),
            "tx/s",
            0,
        ),
        Figure(
            "  commit (tree + redb + fsync), per tx",
            |r| per_tx_us(r.disk.commit_secs, &r.disk),
            "µs",
            1,
        ),
        Figure(
            "  reopen (reads state, rebuilds tree)",
            |r| r.disk.reopen_secs * 1e3,
            "ms",
            1,
        ),
        Figure(
            "    state keys (tree leaves) reopened",
            |r| r.disk.state_keys as f64,
            "",
            0,
        ),
        Figure(
            "  ledger file size afterwards",
            |r| r.disk.file_bytes as f64 / 1e6,
            "MB",
            1,
        ),
        Heading("ratios to the baseline (target ≥ 0.80)".into()),
        Figure(
            "  end to end, redb in memory",
            |r| r.memory.end_to_end_rate() / r.memory.baseline_rate(),
            "",
            3,
        ),
        Figure(
            "  execution only",
            |r| r.memory.exec_rate() / r.memory.baseline_rate(),
            "",
            3,
        ),
        Figure(
            "  end to end, redb file",
            |r| r.disk.end_to_end_rate() / r.disk.baseline_rate(),
            "",
            3,
        ),
    ];
    for row in rows {
        match row {
            Heading(text) => println!("  {text}"),
            Figure(label, f, unit, digits) => {
                let (median, lo, hi) = spread(rounds, f);
                println!(
                    "  {label:<44}: {median:>10.digits$} {unit:<5} [{lo:.digits$} – {hi:.digits$}]"
                );
            }
        }
    }
    let ratio = spread(rounds, |r| {
        r.memory.end_to_end_rate() / r.memory.baseline_rate()
    })
    .0;
    let met = if ratio >= 0.8 { "met" } else { "NOT met" };
    println!(
        "  {:<44}: {met}",
        "  target: end to end, redb in memory ≥ 0.80"
    );
    // What the commit may cost for the end-to-end ratio to reach 0.8 with the execution
    // measured: 1 / (0.8 × baseline) per transaction in all, minus execution (median round).
    let budget = spread(rounds, |r| {
        (1.0 / (0.8 * r.memory.baseline_rate()) - r.memory.apply_secs / r.memory.count as f64) * 1e6
    })
    .0;
    let commit = spread(rounds, |r| per_tx_us(r.memory.commit_secs, &r.memory)).0;
    let budget = if budget > 0.0 {
        format!("{budget:.1} µs")
    } else {
        "none (execution alone is below 0.80)".into()
    };
    println!(
        "  {:<44}: {budget} (measured {commit:.1} µs)",
        "  commit budget at the target, per tx"
    );
}
