//! `cascade-soak`: a bounded soak of the 4-validator network on 127.0.0.1 (issue 6).
//!
//! Holds a steady rate of mixed lifecycle transactions ([`cascade_tests::load`]: anchor and
//! issue, accept, split-transfer down the tiers, financing request and acceptance) for
//! `--minutes`, then reports:
//! - throughput (acknowledged commits per second) and submit-to-commit latency percentiles;
//! - memory: the resident set size of every application and CometBFT process after a
//!   warm-up and at the end (from `/proc/<pid>/status`), and the growth;
//! - that nothing was lost: every commit the client acknowledged is in the block of its
//!   height with success on every node, every node's application has the receipts (a
//!   sample of every tenth, with the same height and result), and every node has the same
//!   blocks and app hashes at every height.
//!
//! Each CometBFT reaches its application over a Unix socket unless `--abci tcp`: over TCP,
//! tower-abci 0.19 leaves Nagle's algorithm on and every synchronous ABCI call (each of the
//! client's receipt queries, each consensus step) can wait about 40 ms for a delayed ACK
//! (see `cascade-net-bench`).
//!
//! Exits non-zero if anything was lost or diverged. Run it with `scripts/soak.sh`. The
//! binary is also the node the network runs: called as `cascade-soak start …` it is
//! `cascade-node start …`.
#![forbid(unsafe_code)]

use cascade_tests::bench::rss_kib;
use cascade_tests::load::{check_acks, quantile, Load, LoadOptions};
use cascade_tests::net::Network;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Every how many acknowledged commits a receipt is compared on every node (the block check
/// covers all of them).
const RECEIPT_STRIDE: usize = 10;

struct Args {
    minutes: f64,
    rate: f64,
    lanes: usize,
    unix_abci: bool,
}

const USAGE: &str = "usage: cascade-soak [--minutes N (default 3, at most 120)] [--rate TX_PER_S (default 100)] [--lanes L (default 128)] [--abci unix|tcp (default unix)]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        minutes: 3.0,
        rate: 100.0,
        lanes: 128,
        unix_abci: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<f64, String> {
            it.next()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n > 0.0)
                .ok_or(format!("{name} needs a positive number"))
        };
        match a.as_str() {
            "--minutes" => args.minutes = num("--minutes")?,
            "--rate" => args.rate = num("--rate")?,
            "--lanes" => args.lanes = num("--lanes")? as usize,
            "--abci" => {
                args.unix_abci = match it.next().as_deref() {
                    Some("unix") => true,
                    Some("tcp") => false,
                    _ => return Err("--abci needs unix or tcp".into()),
                }
            }
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if args.minutes > 120.0 || args.lanes == 0 {
        return Err(USAGE.into());
    }
    Ok(args)
}

/// RSS of every node's application and CometBFT, in KiB (`None` if a process is gone).
fn sample_rss(net: &Network) -> Vec<(String, Option<u64>)> {
    let mut out = Vec::new();
    for i in 0..net.len() {
        out.push((format!("node{i} app"), net.app_pid(i).and_then(rss_kib)));
        out.push((
            format!("node{i} cometbft"),
            net.cometbft_pid(i).and_then(rss_kib),
        ));
    }
    out
}

/// Bytes under `path` (files, recursively; 0 if unreadable).
fn dir_bytes(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return std::fs::metadata(path).map_or(0, |m| m.len());
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// On-disk size of every node's ledger and CometBFT data, in KiB.
fn sample_disk(net: &Network) -> (u64, u64) {
    let mut ledger = 0;
    let mut cometbft = 0;
    for i in 0..net.len() {
        let home = net.node(i).node_home();
        ledger += dir_bytes(&home.data_dir());
        cometbft += dir_bytes(&home.cometbft().join("data"));
    }
    (ledger / 1024, cometbft / 1024)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "gone".into(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("start") {
        // The network's nodes run this binary as `cascade-node`.
        return cascade_node::cli::main();
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let node_bin = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot find this binary: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut net = Network::new("soak", 4, &node_bin);
    if args.unix_abci {
        for i in 0..net.len() {
            net.use_unix_abci(i);
        }
    }
    net.start_all();
    let nodes: Vec<usize> = (0..net.len()).collect();
    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    let load = Load::spawn(
        &net,
        LoadOptions {
            lanes: args.lanes,
            rate: Some(args.rate),
            resubmit_after: Duration::from_secs(5),
            round_timeout: Duration::from_secs(60),
            poll: Duration::from_millis(20),
        },
    );
    // Warm-up: the first rounds register suppliers and start every lane.
    let warm_up = Duration::from_secs(15).min(duration / 4);
    std::thread::sleep(warm_up);
    let rss_start = sample_rss(&net);
    let disk_start = sample_disk(&net);
    let start_height = net.max_height(&nodes);
    let started = Instant::now();
    let acked_at_start = load.acked();
    eprintln!(
        "soak: {:.1} min at {} tx/s ({} lanes); warm-up done at height {start_height}",
        args.minutes, args.rate, args.lanes
    );
    let mut next_report = Duration::from_secs(30);
    while started.elapsed() + warm_up < duration {
        std::thread::sleep(Duration::from_millis(500));
        if load.is_finished() {
            break;
        }
        if started.elapsed() >= next_report {
            let total: u64 = sample_rss(&net).iter().filter_map(|(_, r)| *r).sum();
            eprintln!(
                "soak: +{:.0}s height {} acknowledged {} ({:.0} tx/s) RSS total {}",
                started.elapsed().as_secs_f64(),
                net.max_height(&nodes),
                load.acked(),
                (load.acked() - acked_at_start) as f64 / started.elapsed().as_secs_f64(),
                mib(Some(total))
            );
            next_report += Duration::from_secs(30);
        }
    }
    let rss_end = sample_rss(&net);
    let disk_end = sample_disk(&net);
    let measured_secs = started.elapsed().as_secs_f64();
    let report = load.stop();
    if let Some(failure) = &report.failure {
        eprintln!("soak: the load failed: {failure}");
        return ExitCode::FAILURE;
    }

    // Nothing lost, nothing diverged.
    let top = net.wait_progress(&nodes, 1, Duration::from_secs(30));
    net.wait_caught_up(&nodes, Duration::from_secs(60));
    net.assert_same_blocks(&nodes, 1, top);
    let checked_at = Instant::now();
    let check = check_acks(&net, &report.acks, RECEIPT_STRIDE);
    let check_secs = checked_at.elapsed().as_secs_f64();
    for line in check.lost.iter().take(20) {
        eprintln!("soak: LOST: {line}");
    }

    let in_window: Vec<_> = report.acks.iter().filter(|a| a.acked >= started).collect();
    let mut latencies: Vec<Duration> = report.acks.iter().map(|a| a.latency()).collect();
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    for a in &report.acks {
        *kinds.entry(a.kind).or_insert(0) += 1;
    }
    println!(
        "cascade-soak: 4 validators on 127.0.0.1 (ABCI over {}), {:.1} min measured after a {:.0} s warm-up, target {} tx/s ({} lanes)",
        if args.unix_abci { "Unix sockets" } else { "TCP" },
        measured_secs / 60.0,
        warm_up.as_secs_f64(),
        args.rate,
        args.lanes
    );
    println!(
        "  committed and acknowledged: {} in total, {} in the measured window = {:.1} tx/s; blocks {start_height}..{top}; {} rounds",
        report.acks.len(),
        in_window.len(),
        in_window.len() as f64 / measured_secs,
        report.rounds
    );
    println!("  mix: {kinds:?}");
    println!(
        "  latency (submit → seen committed): p50 {:?} p90 {:?} p99 {:?} max {:?}",
        quantile(&mut latencies, 0.5),
        quantile(&mut latencies, 0.9),
        quantile(&mut latencies, 0.99),
        quantile(&mut latencies, 1.0)
    );
    println!(
        "  client: {} resubmitted, {} refused, {} unreachable",
        report.resubmitted, report.refused, report.unreachable
    );
    println!("  memory (RSS after warm-up → end, growth):");
    let (mut total_start, mut total_end) = (0u64, 0u64);
    for ((name, a), (_, b)) in rss_start.iter().zip(&rss_end) {
        total_start += a.unwrap_or(0);
        total_end += b.unwrap_or(0);
        let growth = match (a, b) {
            (Some(a), Some(b)) => format!(
                "{:+.1} MiB ({:+.0} %)",
                (*b as f64 - *a as f64) / 1024.0,
                (*b as f64 / *a as f64 - 1.0) * 100.0
            ),
            _ => "n/a".into(),
        };
        println!("    {name:<16} {} → {}  {growth}", mib(*a), mib(*b));
    }
    println!(
        "    {:<16} {} → {}  {:+.1} MiB",
        "total",
        mib(Some(total_start)),
        mib(Some(total_end)),
        (total_end as f64 - total_start as f64) / 1024.0
    );
    println!(
        "  disk (all 4 nodes, after warm-up → end): ledgers {} → {}, CometBFT data {} → {}",
        mib(Some(disk_start.0)),
        mib(Some(disk_end.0)),
        mib(Some(disk_start.1)),
        mib(Some(disk_end.1))
    );
    println!(
        "  lost: {} — every acknowledged commit found in its block with success on all {} nodes ({} each), receipts of every {RECEIPT_STRIDE}th compared on every node ({} each), checked in {check_secs:.0} s; all nodes agree on blocks and app hashes 1..={top}",
        check.lost.len(),
        nodes.len(),
        check.in_blocks,
        check.receipts
    );
    if !check.lost.is_empty() || check.in_blocks != report.acks.len() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
