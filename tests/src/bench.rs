//! Committed throughput and submit-to-commit latency, for the `cascade-net-bench` and
//! `cascade-soak` commands (measurements, never timed tests).
//!
//! - [`run_solo`]: the benchmark workload of [`cascade_core::bench`] through a
//!   [`SoloNode`] in this process, driven by a block producer loop (submit a block's worth
//!   of transactions through `CheckTx`, produce the block, repeat).
//! - [`run_network`]: the same workload against a CometBFT network. The workload's
//!   suppliers are split into one independent group per validator, and one client thread
//!   per group sends its transactions, in order, to its own node in JSON-RPC batches of
//!   `broadcast_tx_async` ([`crate::batch`]), keeping at most a window of transactions in
//!   flight. A watcher reads
//!   every new block (`/block`, `/block_results`) and marks its transactions committed; the
//!   latency of a transaction is from just before its batch was sent to when the watcher saw
//!   its block.
//! - [`tune_for_throughput`]: the CometBFT settings the benchmark runs with.

use crate::batch::BatchClient;
use crate::net::Network;
use crate::workload::tx_hash;
use cascade_core::bench::Workload;
use cascade_core::solo::SoloNode;
use cascade_core::Hash32;
use cascade_node::config::ConfigFile;
use cascade_node::rpc::RpcClient;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// CometBFT settings for throughput, on top of the harness's loopback tuning
/// ([`cascade_node::config::tune_for_loopback`]):
///
/// - `mempool.size` 200,000 and `cache_size` 400,000: the default 5,000 transactions fill
///   in a fraction of a second at the target rate, and a full mempool refuses transactions
///   (which breaks each signer's nonce sequence).
/// - `p2p.send_rate` / `recv_rate` 100 MB/s (default 5 MB/s) and
///   `max_packet_msg_payload_size` 64 KiB (default 1 KiB): every transaction crosses each
///   link twice (mempool gossip, then in a block part), which the defaults throttle.
/// - `rpc.max_request_batch_size` 1,000 (default 10): the client sends transactions in
///   JSON-RPC batches.
/// - `consensus.timeout_commit` 100 ms (loopback tuning: 400 ms): the pause after each
///   commit bounds the block rate, and so the latency.
/// - `tx_index.indexer` "null": indexing every event of every transaction in CometBFT's
///   key-value store costs CPU. No wallet uses these nodes; a node that serves wallets keeps
///   the default "kv" indexer, whose `/tx` tells a wallet which block holds its
///   transaction (`Transport::tx_location`).
///
/// Block size is CometBFT's default (`max_bytes` 21 MiB in the genesis), far above what a
/// block holds here.
pub fn tune_for_throughput(cfg: &mut ConfigFile) {
    let numbers: [(&str, &str, i64); 6] = [
        ("mempool", "size", 200_000),
        ("mempool", "cache_size", 400_000),
        ("p2p", "send_rate", 100_000_000),
        ("p2p", "recv_rate", 100_000_000),
        ("p2p", "max_packet_msg_payload_size", 65_536),
        ("rpc", "max_request_batch_size", 1_000),
    ];
    for (section, key, value) in numbers {
        cfg.set(Some(section), key, value)
            .unwrap_or_else(|e| panic!("config {section}.{key}: {e}"));
    }
    let texts: [(&str, &str, &str); 2] = [
        ("consensus", "timeout_commit", "100ms"),
        ("tx_index", "indexer", "null"),
    ];
    for (section, key, value) in texts {
        cfg.set(Some(section), key, value)
            .unwrap_or_else(|e| panic!("config {section}.{key}: {e}"));
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Transactions committed with success.
    pub committed: usize,
    /// Transactions committed with an error code (none expected).
    pub failed: usize,
    /// From the first submission to the last commit seen, seconds.
    pub secs: f64,
    /// Submit-to-commit latency of each committed transaction.
    pub latencies: Vec<Duration>,
    /// Blocks that held the measured transactions.
    pub blocks: usize,
    /// Largest number of measured transactions in one block.
    pub largest_block: usize,
    /// CPU time the processes spent during the measured run (network runs only).
    pub cpu: Option<CpuUse>,
}

/// CPU seconds (user + system) spent by a network's processes during a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuUse {
    /// All the nodes' applications.
    pub apps: f64,
    /// All the nodes' CometBFT processes.
    pub cometbft: f64,
    /// This process (the clients and the watcher).
    pub client: f64,
}

impl CpuUse {
    fn sample(net: &Network) -> CpuUse {
        let sum = |pids: Vec<Option<u32>>| pids.into_iter().flatten().filter_map(cpu_secs).sum();
        CpuUse {
            apps: sum((0..net.len()).map(|i| net.app_pid(i)).collect()),
            cometbft: sum((0..net.len()).map(|i| net.cometbft_pid(i)).collect()),
            client: cpu_secs(std::process::id()).unwrap_or(0.0),
        }
    }

    fn since(self, before: CpuUse) -> CpuUse {
        CpuUse {
            apps: self.apps - before.apps,
            cometbft: self.cometbft - before.cometbft,
            client: self.client - before.client,
        }
    }

    /// Total CPU seconds.
    pub fn total(&self) -> f64 {
        self.apps + self.cometbft + self.client
    }
}

/// CPU seconds (user + system) process `pid` has used (`/proc/<pid>/stat`, in Linux's
/// fixed 100 ticks per second).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

impl Measured {
    /// Committed transactions per second.
    pub fn rate(&self) -> f64 {
        self.committed as f64 / self.secs
    }

    /// The `q`-quantile of the latencies.
    pub fn latency(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        crate::load::quantile(&mut sorted, q)
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The current time in Unix seconds: the clock to generate a workload with for a live chain.
pub fn workload_time() -> i64 {
    now_unix()
}

/// Runs `workload` through a solo node in memory (see the module documentation): blocks
/// of at most `block` transactions.
pub fn run_solo(workload: &Workload, block: usize) -> Result<Measured, String> {
    let key = cascade_core::testkit::validator_signing_key("validator-0");
    let mut node = SoloNode::in_memory(&workload.genesis, key).map_err(|e| e.to_string())?;
    let mut time = now_unix().max(workload.genesis.genesis_time);
    let mut produce = |node: &mut SoloNode| {
        time += 1;
        node.produce_block(time).map_err(|e| e.to_string())
    };
    for txs in &workload.setup {
        for tx in txs {
            node.submit(tx.clone())
                .map_err(|e| format!("set-up transaction refused: {e}"))?;
        }
        let summary = produce(&mut node)?;
        if summary.txs.iter().any(|t| t.code != 0) {
            return Err(format!("a set-up transaction failed: {:?}", summary.txs));
        }
    }
    let all: Vec<&Vec<u8>> = workload.measured.iter().flatten().collect();
    let mut submitted: BTreeMap<Hash32, Instant> = BTreeMap::new();
    let mut measured = Measured::default();
    let start = Instant::now();
    for chunk in all.chunks(block) {
        for tx in chunk {
            let at = Instant::now();
            let hash = node
                .submit((*tx).clone())
                .map_err(|e| format!("transaction refused: {e}"))?;
            submitted.insert(hash, at);
        }
        let summary = produce(&mut node)?;
        let seen = Instant::now();
        measured.blocks += 1;
        measured.largest_block = measured.largest_block.max(summary.txs.len());
        for tx in &summary.txs {
            if tx.code != 0 {
                measured.failed += 1;
                continue;
            }
            if let Some(at) = submitted.remove(&tx.hash) {
                measured.committed += 1;
                measured.latencies.push(seen - at);
            }
        }
    }
    measured.secs = start.elapsed().as_secs_f64();
    if !submitted.is_empty() {
        return Err(format!(
            "{} transactions were never committed",
            submitted.len()
        ));
    }
    Ok(measured)
}

/// How [`run_network`] sends the workload.
#[derive(Clone, Copy, Debug)]
pub struct NetOptions {
    /// Transactions in flight (sent, not yet seen committed), over all clients.
    pub window: usize,
    /// Transactions per JSON-RPC batch request.
    pub batch: usize,
    /// Bound for the whole measured run.
    pub timeout: Duration,
}

/// The network run gives up when no transaction commits for this long.
const STALL: Duration = Duration::from_secs(30);

/// Per-transaction bookkeeping shared by the clients and the watcher.
struct Tracker {
    submitted: Mutex<Vec<Option<Instant>>>,
    committed_per_group: Vec<AtomicUsize>,
    refused: Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// Submits the set-up blocks one by one to node 0 and waits for each to commit.
fn run_setup(net: &Network, workload: &Workload) -> Result<(), String> {
    for txs in &workload.setup {
        let mut sent = Vec::new();
        for tx in txs {
            let r = net
                .rpc(0)
                .broadcast_tx_sync(tx)
                .map_err(|e| e.to_string())?;
            if r.code != 0 {
                return Err(format!("set-up transaction refused: {}", r.log));
            }
            sent.push(crate::workload::Submitted {
                hash: tx_hash(tx),
                signer: "set-up".into(),
                kind: "set-up",
                node: 0,
            });
        }
        crate::workload::wait_committed(net, 0, &sent, Duration::from_secs(60));
    }
    Ok(())
}

/// Runs `workload` (generated with one group per validator) against `net`: see the module
/// documentation.
pub fn run_network(
    net: &Network,
    workload: &Workload,
    options: NetOptions,
) -> Result<Measured, String> {
    run_setup(net, workload)?;
    let txs: Vec<&Vec<u8>> = workload.measured.iter().flatten().collect();
    let groups: Vec<usize> = workload.groups.iter().flatten().copied().collect();
    let group_count = groups.iter().max().map_or(1, |g| g + 1);
    let index: BTreeMap<Hash32, usize> = txs
        .iter()
        .enumerate()
        .map(|(i, tx)| (tx_hash(tx), i))
        .collect();
    let tracker = Arc::new(Tracker {
        submitted: Mutex::new(vec![None; txs.len()]),
        committed_per_group: (0..group_count).map(|_| AtomicUsize::new(0)).collect(),
        refused: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    });
    let window_per_group = (options.window / group_count).max(1);
    let cpu_before = CpuUse::sample(net);
    let start = Instant::now();
    let mut measured = Measured::default();
    std::thread::scope(|scope| -> Result<(), String> {
        for group in 0..group_count {
            let mine: Vec<(usize, &[u8])> = txs
                .iter()
                .enumerate()
                .filter(|(i, _)| groups[*i] == group)
                .map(|(i, tx)| (i, tx.as_slice()))
                .collect();
            let url = net.node(group % net.len()).rpc_url();
            let tracker = tracker.clone();
            let batch = options.batch.max(1);
            scope.spawn(move || {
                let client = BatchClient::new(batch, Duration::from_secs(30));
                let mut sent = 0usize;
                while sent < mine.len() && !tracker.stop.load(Ordering::Relaxed) {
                    let done = tracker.committed_per_group[group].load(Ordering::Relaxed);
                    let room = window_per_group.saturating_sub(sent - done.min(sent));
                    if room == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                    let n = room.min(batch).min(mine.len() - sent);
                    let chunk = &mine[sent..sent + n];
                    let at = Instant::now();
                    if let Ok(mut submitted) = tracker.submitted.lock() {
                        for (i, _) in chunk {
                            submitted[*i] = Some(at);
                        }
                    }
                    let bytes: Vec<&[u8]> = chunk.iter().map(|(_, tx)| *tx).collect();
                    let refused = client
                        .broadcast_async(&url, &bytes)
                        .unwrap_or_else(|e| vec![format!("batch request failed: {e}")]);
                    if !refused.is_empty() {
                        if let Ok(mut all) = tracker.refused.lock() {
                            all.extend(refused);
                        }
                        tracker.stop.store(true, Ordering::Relaxed);
                        return;
                    }
                    sent += n;
                }
            });
        }
        // The watcher, on this thread.
        let rpc: &RpcClient = net.rpc(0);
        let deadline = start + options.timeout;
        let mut height = net.height(0).unwrap_or(0);
        let mut last_commit = start;
        while measured.committed + measured.failed < txs.len() {
            if tracker.stop.load(Ordering::Relaxed) {
                break;
            }
            if last_commit.elapsed() > STALL {
                tracker.stop.store(true, Ordering::Relaxed);
                return Err(format!(
                    "no transaction committed for {STALL:?} ({} of {} committed): some were refused at CheckTx or lost",
                    measured.committed + measured.failed,
                    txs.len()
                ));
            }
            if Instant::now() > deadline {
                tracker.stop.store(true, Ordering::Relaxed);
                return Err(format!(
                    "timed out after {:?}: {} of {} transactions committed",
                    options.timeout,
                    measured.committed + measured.failed,
                    txs.len()
                ));
            }
            let latest = rpc
                .status()
                .map(|s| s.latest_block_height)
                .unwrap_or(height);
            while height < latest {
                let h = height + 1;
                let (block, results) = match (rpc.block(h), rpc.block_results(h)) {
                    (Ok(b), Ok(r)) => (b, r),
                    _ => break,
                };
                let seen = Instant::now();
                let mut ours = 0;
                for (tx, result) in block.txs.iter().zip(&results.txs_results) {
                    let Some(i) = index.get(&tx_hash(tx)).copied() else {
                        continue;
                    };
                    ours += 1;
                    tracker.committed_per_group[groups[i]].fetch_add(1, Ordering::Relaxed);
                    if result.code != 0 {
                        measured.failed += 1;
                        continue;
                    }
                    measured.committed += 1;
                    let at = tracker
                        .submitted
                        .lock()
                        .ok()
                        .and_then(|s| s[i])
                        .unwrap_or(seen);
                    measured.latencies.push(seen - at);
                    last_commit = seen;
                }
                if ours > 0 {
                    measured.blocks += 1;
                    measured.largest_block = measured.largest_block.max(ours);
                }
                height = h;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        tracker.stop.store(true, Ordering::Relaxed);
        measured.secs = (last_commit - start).as_secs_f64();
        measured.cpu = Some(CpuUse::sample(net).since(cpu_before));
        Ok(())
    })?;
    let refused = tracker
        .refused
        .lock()
        .map(|r| r.clone())
        .unwrap_or_default();
    if let Some(first) = refused.first() {
        return Err(format!(
            "{} transactions refused; the first: {first}",
            refused.len()
        ));
    }
    Ok(measured)
}

/// Resident set size of process `pid` in KiB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
