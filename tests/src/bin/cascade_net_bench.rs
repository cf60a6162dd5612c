//! `cascade-net-bench`: committed throughput and submit-to-commit latency of the replicated
//! ledger, next to the single-threaded execution rate and raw k256 verification, from one
//! run on one machine (issue 3's benchmark).
//!
//! Prints:
//! - raw k256 ECDSA verifications per second (the baseline, [`cascade_core::bench`]);
//! - the ledger's execution-only and end-to-end rates on one thread (the same workload
//!   replayed into a ledger in memory, as `cascade-bench` measures them);
//! - solo mode: committed transactions per second and latency p50/p99 through a
//!   `SoloNode` driven by a block producer loop in this process;
//! - the network: committed transactions per second and latency p50/p99 on a CometBFT
//!   network of `--validators` validators on 127.0.0.1 (each validator's application and
//!   CometBFT are separate processes), with the settings of
//!   [`cascade_tests::bench::tune_for_throughput`], once per `--window` (transactions in
//!   flight: a small window shows the latency, a large one the throughput);
//! - for each network run, the CPU time per committed transaction of the applications,
//!   CometBFT and the client, which says what limits the rate on this machine.
//! - the signature ceiling: cores × k256 rate / validators, the most a network of that many
//!   validators on this machine could commit if verifying each signature once per validator
//!   were the only work;
//! - the ratios between them, and the target (≥ 5,000 committed tx/s with p99
//!   latency under 1 s).
//!
//! Each node's CometBFT reaches its application over a Unix socket by default (`--abci
//! tcp` for the TCP default of `cometbft init`): tower-abci 0.19 leaves Nagle's algorithm on
//! for its TCP connections, so each synchronous ABCI call can wait for a delayed ACK
//! (about 40 ms on Linux), which adds about 0.3 s to the latency at light load here.
//!
//! The workload is `cascade-bench`'s transfer + accept mix, with the suppliers split into
//! one independent group per validator so that each group can be sent to its own node.
//!
//! Usage: `cargo run --release -p cascade-tests --bin cascade-net-bench -- [--txs N]
//! [--validators V] [--window W[,W…]] [--batch B] [--block B] [--abci unix|tcp]`. Needs
//! CometBFT (`scripts/install-cometbft.sh`; `CASCADE_COMETBFT`). The binary is also the node
//! the network runs: called as `cascade-net-bench start …` it is `cascade-node start …`.
#![forbid(unsafe_code)]

use cascade_core::bench::{generate_with, k256_verify_rate, replay, GenerateOptions};
use cascade_tests::bench::{run_network, run_solo, tune_for_throughput, NetOptions};
use cascade_tests::net::Network;
use std::process::ExitCode;
use std::time::Duration;

struct Args {
    txs: usize,
    validators: usize,
    windows: Vec<usize>,
    batch: usize,
    block: usize,
    unix_abci: bool,
}

const USAGE: &str = "usage: cascade-net-bench [--txs N] [--validators V] [--window W[,W…]] [--batch B] [--block B] [--abci unix|tcp]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        txs: 20_000,
        validators: 4,
        windows: vec![500, 4_000],
        batch: 100,
        block: 1_000,
        unix_abci: true,
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
            "--validators" => args.validators = num("--validators")?,
            "--window" => {
                args.windows = it
                    .next()
                    .map(|v| {
                        v.split(',')
                            .map(|w| w.trim().parse::<usize>().ok().filter(|n| *n > 0))
                            .collect::<Option<Vec<_>>>()
                    })
                    .and_then(|w| w.filter(|w| !w.is_empty()))
                    .ok_or("--window needs positive numbers separated by commas")?
            }
            "--batch" => args.batch = num("--batch")?,
            "--block" => args.block = num("--block")?,
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
    if cascade_core::bench::SUPPLIERS % args.validators != 0 {
        return Err(format!(
            "--validators must divide {} (the workload's suppliers are split evenly)",
            cascade_core::bench::SUPPLIERS
        ));
    }
    Ok(args)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
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
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!(
        "generating {} transactions ({} independent groups)…",
        args.txs, args.validators
    );
    let time = cascade_tests::bench::workload_time();
    let workload = generate_with(
        args.txs,
        args.block,
        GenerateOptions {
            groups: args.validators,
            time: Some(time),
        },
    );
    let all: Vec<Vec<u8>> = workload.measured.iter().flatten().cloned().collect();

    eprintln!("measuring raw k256 verification and single-threaded execution…");
    let base1 = k256_verify_rate(&all);
    let exec = replay(&workload.setup, &workload.measured, Some(time));

    eprintln!("solo mode…");
    let solo = match run_solo(&workload, args.block) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("solo mode failed: {e}");
            return ExitCode::FAILURE;
        }
    };

    let node_bin = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot find this binary: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut genesis = workload.genesis.clone();
    genesis.validators.clear();
    let mut networks = Vec::new();
    for window in &args.windows {
        eprintln!(
            "{}-validator network, {window} transactions in flight (CometBFT {})…",
            args.validators,
            cascade_tests::net::cometbft_binary().display()
        );
        // A fresh network per run: the same signed workload is valid on each.
        let mut net = Network::new_with_genesis("bench", args.validators, &node_bin, &genesis);
        for i in 0..net.len() {
            net.configure(i, tune_for_throughput);
            if args.unix_abci {
                net.use_unix_abci(i);
            }
        }
        net.start_all();
        let result = run_network(
            &net,
            &workload,
            NetOptions {
                window: *window,
                batch: args.batch,
                timeout: Duration::from_secs(120 + args.txs as u64 / 50),
            },
        );
        drop(net);
        match result {
            Ok(m) => networks.push((*window, m)),
            Err(e) => {
                eprintln!("network run failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let base2 = k256_verify_rate(&all);
    let baseline = base1.max(base2);

    let exec_rate = exec.exec_rate();
    println!(
        "cascade-net-bench: {} transactions (transfer+accept mix), one run, {cores} cores",
        exec.count
    );
    println!("  raw k256 verify (pre-parsed key, baseline)  : {baseline:>9.0} /s     (runs: {base1:.0}, {base2:.0})");
    println!(
        "  ledger, 1 thread, execution only            : {exec_rate:>9.0} tx/s   {:.2}× k256",
        exec_rate / baseline
    );
    println!(
        "  ledger, 1 thread, execution + commit        : {:>9.0} tx/s   {:.2}× k256",
        exec.end_to_end_rate(),
        exec.end_to_end_rate() / baseline
    );
    // The floor no tuning can go below: every validator checks every signature once (in
    // CheckTx, cached for the block), so on one machine the network cannot commit faster
    // than all its cores could verify signatures for all validators, with nothing else
    // (decoding, rules, storage, consensus, gossip, the client) costing anything.
    let ceiling = cores as f64 * baseline / args.validators as f64;
    let label = format!(
        "signature ceiling, {} validators, {cores} cores",
        args.validators
    );
    println!(
        "  {label:<44}: {ceiling:>9.0} tx/s   ({cores} × k256 rate / {} validators; every other cost taken as zero)",
        args.validators
    );
    let mut runs = vec![(format!("solo mode (blocks of ≤{})", args.block), &solo)];
    for (window, m) in &networks {
        runs.push((
            format!("{}-validator network, {window} in flight", args.validators),
            m,
        ));
    }
    for (name, m) in runs {
        println!(
            "  {name:<44}: {:>9.0} tx/s   {:.2}× execution-only, {:.2}× k256; latency p50 {} p99 {}; {} blocks (largest {}){}",
            m.rate(),
            m.rate() / exec_rate,
            m.rate() / baseline,
            ms(m.latency(0.5)),
            ms(m.latency(0.99)),
            m.blocks,
            m.largest_block,
            if m.failed > 0 {
                format!("; {} FAILED", m.failed)
            } else {
                String::new()
            }
        );
        if let Some(cpu) = m.cpu {
            let per_tx = |secs: f64| secs * 1e6 / m.committed.max(1) as f64;
            println!(
                "      CPU per committed tx: applications {:.0} µs, CometBFT {:.0} µs, client {:.0} µs; {:.0} µs in all → at most {:.0} tx/s on {cores} cores",
                per_tx(cpu.apps),
                per_tx(cpu.cometbft),
                per_tx(cpu.client),
                per_tx(cpu.total()),
                cores as f64 * 1e6 / per_tx(cpu.total()).max(1.0)
            );
        }
    }
    println!(
        "  network settings: ABCI over {}, JSON-RPC batches of {} broadcast_tx_async, one client per validator, CometBFT tuned by cascade_tests::bench::tune_for_throughput",
        if args.unix_abci { "Unix sockets" } else { "TCP" },
        args.batch
    );
    let met = networks
        .iter()
        .any(|(_, m)| m.rate() >= 5_000.0 && m.latency(0.99) < Duration::from_secs(1));
    println!(
        "  target (network): ≥ 5000 tx/s committed with p99 < 1 s in one run: {}",
        if met { "met" } else { "NOT met" }
    );
    if solo.failed > 0 || networks.iter().any(|(_, m)| m.failed > 0) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
