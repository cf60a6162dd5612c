//! A lifecycle load that keeps running while nodes die: a background client that signs
//! [`Lifecycle`] rounds, submits them to whichever nodes answer (JSON-RPC batches of
//! `broadcast_tx_async`, [`crate::batch`]), resubmits what did not get committed, and logs
//! every **acknowledged commit** (transaction hash, height, result code, and when it was
//! submitted and seen committed).
//!
//! A transaction is acknowledged when the client sees it in a committed block (`/block`)
//! with a result (`/block_results`): at that point CometBFT has decided the block with +2/3
//! of the votes, so the transaction must never be lost. The tests then check the log against
//! every node (the application's receipt of each transaction).
//!
//! The client only talks to nodes over RPC (it holds clones of the [`RpcClient`]s), so the
//! test thread keeps `&mut Network` to kill and restart processes meanwhile.

use crate::batch::{BatchClient, DEFAULT_MAX_BATCH};
use crate::net::Network;
use crate::workload::{tx_hash, Lifecycle, SignedRound};
use cascade_core::{Hash32, TxReceipt};
use cascade_node::rpc::RpcClient;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the load runs.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Concurrent certificates of the lifecycle workload (about 1.7 transactions per lane
    /// per round).
    pub lanes: usize,
    /// Submission rate to hold, in transactions per second (`None`: as fast as rounds
    /// commit).
    pub rate: Option<f64>,
    /// A transaction not seen committed after this long is submitted again (to the next
    /// node that answers).
    pub resubmit_after: Duration,
    /// A round not committed after this long stops the load with a failure.
    pub round_timeout: Duration,
    /// Pause between polls of the chain.
    pub poll: Duration,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            lanes: 4,
            rate: None,
            resubmit_after: Duration::from_secs(3),
            round_timeout: Duration::from_secs(90),
            poll: Duration::from_millis(25),
        }
    }
}

/// One acknowledged commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Transaction hash.
    pub hash: Hash32,
    /// Height of the block it was committed in.
    pub height: u64,
    /// Result code (0 success).
    pub code: u32,
    /// Transaction kind.
    pub kind: &'static str,
    /// First submission.
    pub submitted: Instant,
    /// When the client saw it committed.
    pub acked: Instant,
}

impl Ack {
    /// Submit-to-commit latency as seen by the client.
    pub fn latency(&self) -> Duration {
        self.acked.saturating_duration_since(self.submitted)
    }
}

/// What the load did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Every acknowledged commit, in the order seen.
    pub acks: Vec<Ack>,
    /// Rounds completed.
    pub rounds: usize,
    /// Batch submissions that failed at the transport (node down).
    pub unreachable: usize,
    /// Submissions CometBFT refused before `CheckTx` (such as "already in cache"), expected
    /// when resubmitting; what matters is that every transaction commits. (`CheckTx`
    /// answers are not seen: transactions are sent with `broadcast_tx_async`.)
    pub refused: usize,
    /// Transactions submitted again because they were not committed in time.
    pub resubmitted: usize,
    /// Why the load stopped early (`None` if it ran until told to stop).
    pub failure: Option<String>,
}

/// A running load (see the module documentation).
pub struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
    handle: JoinHandle<LoadReport>,
}

impl Load {
    /// Starts the load against every node of `net` (as it is now: nodes added later are not
    /// used).
    pub fn spawn(net: &Network, options: LoadOptions) -> Load {
        let rpcs: Vec<RpcClient> = (0..net.len()).map(|i| net.rpc(i).clone()).collect();
        let urls: Vec<String> = (0..net.len()).map(|i| net.node(i).rpc_url()).collect();
        let chain_id = net.chain_id().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicUsize::new(0));
        let (stop2, acked2) = (stop.clone(), acked.clone());
        let handle = std::thread::Builder::new()
            .name("cascade-load".into())
            .spawn(move || {
                let mut driver = Driver {
                    rpcs,
                    urls,
                    batch: BatchClient::new(DEFAULT_MAX_BATCH, crate::net::RPC_TIMEOUT),
                    work: Lifecycle::new(&chain_id, options.lanes),
                    options,
                    next_node: 0,
                    down_until: BTreeMap::new(),
                    scanned: 0,
                    report: LoadReport::default(),
                    acked: acked2,
                };
                driver.run(&stop2);
                driver.report
            })
            .unwrap_or_else(|e| panic!("cannot start the load thread: {e}"));
        Load {
            stop,
            acked,
            handle,
        }
    }

    /// Transactions acknowledged so far.
    pub fn acked(&self) -> usize {
        self.acked.load(Ordering::Relaxed)
    }

    /// True if the load thread has ended (a failure, see [`Load::stop`]).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Asks the load to stop after its current round and returns its report.
    pub fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .unwrap_or_else(|_| panic!("the load thread panicked"))
    }
}

/// A transaction of the current round waiting to be seen committed.
struct Pending {
    index: usize,
    submitted: Instant,
    last_sent: Instant,
}

struct Driver {
    rpcs: Vec<RpcClient>,
    urls: Vec<String>,
    batch: BatchClient,
    options: LoadOptions,
    work: Lifecycle,
    next_node: usize,
    /// Nodes that failed at the transport, skipped until the given moment.
    down_until: BTreeMap<usize, Instant>,
    /// Highest height scanned for commits.
    scanned: u64,
    report: LoadReport,
    acked: Arc<AtomicUsize>,
}

/// How long a node that failed at the transport is skipped.
const DOWN_PAUSE: Duration = Duration::from_millis(500);

impl Driver {
    fn run(&mut self, stop: &AtomicBool) {
        let started = Instant::now();
        let mut sent = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let round = self.work.sign_round();
            sent += round.txs.len();
            match self.commit_round(&round) {
                Ok(receipts) => {
                    self.work.complete_round(round, &receipts);
                    self.report.rounds += 1;
                }
                Err(reason) => {
                    self.report.failure = Some(reason);
                    return;
                }
            }
            if let Some(rate) = self.options.rate {
                // Hold the rate: do not run ahead of `sent / rate` seconds.
                let due = Duration::from_secs_f64(sent as f64 / rate);
                while started.elapsed() < due && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    fn is_up(&self, node: usize) -> bool {
        self.down_until
            .get(&node)
            .is_none_or(|until| Instant::now() >= *until)
    }

    /// The next node, round-robin, skipping nodes recently found down (unless all are).
    fn pick_node(&mut self) -> usize {
        let n = self.rpcs.len();
        for _ in 0..n {
            let node = self.next_node % n;
            self.next_node += 1;
            if self.is_up(node) {
                return node;
            }
        }
        let node = self.next_node % n;
        self.next_node += 1;
        node
    }

    fn mark_down(&mut self, node: usize) {
        self.down_until.insert(node, Instant::now() + DOWN_PAUSE);
    }

    /// Submits `txs` (in order) to `node` with `broadcast_tx_async`; on a transport
    /// failure sends them all to the next node that answers. Returns the node that took
    /// them.
    fn send(&mut self, mut node: usize, txs: &[&[u8]]) -> usize {
        for _ in 0..self.rpcs.len() {
            match self.batch.broadcast_async(&self.urls[node], txs) {
                Ok(refused) => {
                    self.report.refused += refused.len();
                    return node;
                }
                Err(_) => {
                    self.report.unreachable += 1;
                    self.mark_down(node);
                    node = self.pick_node();
                }
            }
        }
        node
    }

    /// Submits a round (each signer's transactions to one node, in nonce order) and waits
    /// until all of them are seen committed; returns their receipts.
    fn commit_round(&mut self, round: &SignedRound) -> Result<Vec<TxReceipt>, String> {
        let start = Instant::now();
        // Each signer's transactions to one node, round-robin; one batch per node.
        let mut node_of: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut per_node: BTreeMap<usize, Vec<&[u8]>> = BTreeMap::new();
        for tx in &round.txs {
            let node = match node_of.get(tx.signer) {
                Some(n) => *n,
                None => {
                    let n = self.pick_node();
                    node_of.insert(tx.signer, n);
                    n
                }
            };
            per_node.entry(node).or_default().push(&tx.bytes);
        }
        let mut pending: BTreeMap<Hash32, Pending> = BTreeMap::new();
        let now = Instant::now();
        for (index, tx) in round.txs.iter().enumerate() {
            pending.insert(
                tx.hash,
                Pending {
                    index,
                    submitted: now,
                    last_sent: now,
                },
            );
        }
        for (node, txs) in per_node {
            self.send(node, &txs);
        }
        let mut heights: Vec<Option<u64>> = vec![None; round.txs.len()];
        while !pending.is_empty() {
            if start.elapsed() > self.options.round_timeout {
                let missing: Vec<String> = pending
                    .values()
                    .map(|p| {
                        let tx = &round.txs[p.index];
                        format!("{} by {} {}", tx.kind, tx.signer, tx.hash)
                    })
                    .collect();
                return Err(format!(
                    "a round was not committed within {:?} (scanned up to height {}): {}",
                    self.options.round_timeout,
                    self.scanned,
                    missing.join("; ")
                ));
            }
            self.scan(round, &mut pending, &mut heights);
            if pending.is_empty() {
                break;
            }
            // Resubmit what is overdue, in round order (so each signer's nonces stay in
            // order), all to one node.
            let overdue: Vec<usize> = {
                let mut v: Vec<usize> = pending
                    .values()
                    .filter(|p| p.last_sent.elapsed() >= self.options.resubmit_after)
                    .map(|p| p.index)
                    .collect();
                v.sort_unstable();
                v
            };
            if !overdue.is_empty() {
                let node = self.pick_node();
                let txs: Vec<&[u8]> = overdue.iter().map(|i| &round.txs[*i].bytes[..]).collect();
                self.send(node, &txs);
                self.report.resubmitted += overdue.len();
                for index in overdue {
                    if let Some(p) = pending.get_mut(&round.txs[index].hash) {
                        p.last_sent = Instant::now();
                    }
                }
            }
            std::thread::sleep(self.options.poll);
        }
        // Receipts (with the ledger events the lifecycle needs to move on), from any node
        // that has reached the heights.
        let mut receipts = Vec::with_capacity(round.txs.len());
        for (tx, height) in round.txs.iter().zip(heights) {
            let height = height.unwrap_or(0);
            let receipt = self.receipt(&tx.hash, height, start)?;
            if receipt.code != 0 || receipt.height != height {
                return Err(format!(
                    "{} by {} {}: committed at height {height}, but the receipt says code {} at height {}: {}",
                    tx.kind, tx.signer, tx.hash, receipt.code, receipt.height, receipt.log
                ));
            }
            receipts.push(receipt);
        }
        Ok(receipts)
    }

    fn receipt(&mut self, hash: &Hash32, height: u64, start: Instant) -> Result<TxReceipt, String> {
        let mut last = String::new();
        while start.elapsed() <= self.options.round_timeout {
            let node = self.pick_node();
            match self.rpcs[node].receipt(hash) {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => last = format!("node{node} has no receipt yet"),
                Err(e) => {
                    self.mark_down(node);
                    last = format!("node{node}: {e}");
                }
            }
            std::thread::sleep(self.options.poll);
        }
        Err(format!(
            "transaction {hash} was seen committed at height {height} but no node returned its receipt: {last}"
        ))
    }

    /// Reads new committed blocks from a node that answers and acknowledges the round's
    /// transactions found in them.
    fn scan(
        &mut self,
        round: &SignedRound,
        pending: &mut BTreeMap<Hash32, Pending>,
        heights: &mut [Option<u64>],
    ) {
        let node = self.pick_node();
        let rpc = self.rpcs[node].clone();
        let latest = match rpc.status() {
            Ok(s) => s.latest_block_height,
            Err(_) => {
                self.mark_down(node);
                return;
            }
        };
        while self.scanned < latest {
            let height = self.scanned + 1;
            let (block, results) = match (rpc.block(height), rpc.block_results(height)) {
                (Ok(b), Ok(r)) => (b, r),
                _ => return,
            };
            let seen = Instant::now();
            for (tx, result) in block.txs.iter().zip(&results.txs_results) {
                let hash = tx_hash(tx);
                if let Some(p) = pending.remove(&hash) {
                    heights[p.index] = Some(height);
                    self.report.acks.push(Ack {
                        hash,
                        height,
                        code: result.code,
                        kind: round.txs[p.index].kind,
                        submitted: p.submitted,
                        acked: seen,
                    });
                    self.acked.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.scanned = height;
        }
    }
}

/// The `q`-quantile (0..=1) of `values` (sorted here), or zero if there are none.
pub fn quantile(values: &mut [Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    let rank = ((values.len() - 1) as f64 * q).round() as usize;
    values[rank.min(values.len() - 1)]
}

/// What [`check_acks`] found.
#[derive(Debug, Default)]
pub struct AckCheck {
    /// Acknowledged commits found in the same block, with success, on every node.
    pub in_blocks: usize,
    /// Receipts compared on every node (a sample of the acknowledged commits).
    pub receipts: usize,
    /// Everything missing or different, one line each (empty if nothing was lost).
    pub lost: Vec<String>,
}

/// Checks `acks` against every node of `net`:
/// - every acknowledged transaction is in the block of its height, with result code 0, on
///   every node (`/block` and `/block_results`, read once per height);
/// - every node's application has the receipt (same height, code 0) of every `stride`-th
///   acknowledged transaction (`stride` 1: all of them; each receipt is one query, so long
///   runs check a sample). Nodes are queried in parallel.
pub fn check_acks(net: &Network, acks: &[Ack], stride: usize) -> AckCheck {
    let mut by_height: BTreeMap<u64, Vec<&Ack>> = BTreeMap::new();
    for ack in acks {
        by_height.entry(ack.height).or_default().push(ack);
    }
    let sample: Vec<&Ack> = acks.iter().step_by(stride.max(1)).collect();
    let results: Vec<(usize, usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..net.len())
            .map(|i| {
                let rpc = net.rpc(i).clone();
                let (by_height, sample) = (&by_height, &sample);
                scope.spawn(move || {
                    let mut lost = Vec::new();
                    let mut in_blocks = 0;
                    for (height, expected) in by_height {
                        let (block, results) =
                            match (rpc.block(*height), rpc.block_results(*height)) {
                                (Ok(b), Ok(r)) => (b, r),
                                (Err(e), _) | (_, Err(e)) => {
                                    lost.push(format!("node{i}: block {height}: {e}"));
                                    continue;
                                }
                            };
                        let codes: BTreeMap<Hash32, u32> = block
                            .txs
                            .iter()
                            .zip(&results.txs_results)
                            .map(|(tx, r)| (tx_hash(tx), r.code))
                            .collect();
                        for ack in expected {
                            match codes.get(&ack.hash) {
                                Some(0) => in_blocks += 1,
                                other => lost.push(format!(
                                    "node{i}: {} {} of height {}: in its block with code {other:?}",
                                    ack.kind, ack.hash, height
                                )),
                            }
                        }
                    }
                    let mut receipts = 0;
                    for ack in sample {
                        match rpc.receipt(&ack.hash) {
                            Ok(Some(r)) if r.height == ack.height && r.code == 0 => receipts += 1,
                            other => lost.push(format!(
                                "node{i}: receipt of {} {} (height {}): {other:?}",
                                ack.kind, ack.hash, ack.height
                            )),
                        }
                    }
                    (in_blocks, receipts, lost)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("a check thread panicked"))
            })
            .collect()
    });
    let mut check = AckCheck::default();
    let nodes = results.len();
    let (mut in_blocks, mut receipts) = (usize::MAX, usize::MAX);
    for (b, r, lost) in results {
        in_blocks = in_blocks.min(b);
        receipts = receipts.min(r);
        check.lost.extend(lost);
    }
    if nodes > 0 {
        check.in_blocks = in_blocks;
        check.receipts = receipts;
    }
    check
}
