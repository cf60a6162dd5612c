//! Byzantine and faulty validators on a 4-validator network (issue 6): a validator that
//! double-signs, one that proposes blocks with invalid transactions, one cut off from its
//! peers and healed, and repeated SIGKILLs of random validator processes under load.
//!
//! Like `tests/network.rs`, the scenarios run one at a time (a global lock), each on its
//! own ports and temporary directory, and need the CometBFT binary (`CASCADE_COMETBFT`, set
//! by `scripts/test.sh`). Every wait is bounded.

use cascade_core::tx::TxBody;
use cascade_core::Amount;
use cascade_tests::load::{check_acks, quantile, Load, LoadOptions};
use cascade_tests::net::{serial, wait_until, Network, COMMIT, RECOVER, VALIDATORS};
use cascade_tests::proxy::Partition;
use cascade_tests::workload::{submit, tx_hash, wait_committed, Client, Lifecycle, Submitted};
use cascade_tests::{byzantine_garbage, BYZANTINE_PROPOSER_ENV};
use std::path::Path;
use std::time::{Duration, Instant};

fn node_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cascade-test-node"))
}

fn done(net: &Network, start: Instant, what: &str) {
    net.log(&format!(
        "{what}: done in {:.1}s",
        start.elapsed().as_secs_f64()
    ));
}

/// Every transaction in blocks `1..=to` of node `i` succeeded (a block with an invalid
/// transaction would carry its error code), and none is a Byzantine proposer's garbage.
fn assert_only_valid_txs(net: &Network, i: usize, to: u64) -> usize {
    let txs = net.committed_txs(i, 1, to);
    for tx in &txs {
        assert_eq!(
            tx.code, 0,
            "node{i}: transaction {} in block {} failed (code {}): an invalid transaction was committed",
            tx.hash, tx.height, tx.code
        );
    }
    for height in 1..=to + 2 {
        let garbage = tx_hash(&byzantine_garbage(height));
        assert!(
            txs.iter().all(|t| t.hash != garbage),
            "node{i}: the Byzantine proposer's garbage of height {height} was committed"
        );
    }
    txs.len()
}

/// Test 1: one validator double-signs. A second CometBFT runs with node 3's consensus key
/// (own p2p key, application and state), so validator 3 votes twice at the heights where
/// its two instances see different proposals. The chain stays safe: every node, both
/// instances included, has the same block and app hash at every height. Honest validators
/// turn the conflicting votes into `DuplicateVoteEvidence`, a block commits it, and the
/// application reports it as a `cascade.misbehavior` event naming validator 3.
#[test]
fn double_signing_validator_is_caught_and_the_chain_stays_safe() {
    let _serial = serial();
    let start = Instant::now();
    let mut net = Network::new("double-sign", VALIDATORS, node_bin());
    let twin = net.add_double_signer(3);
    net.start_all();
    let nodes: Vec<usize> = (0..net.len()).collect();
    let culprit = net.node(3).validator_address.clone();
    let mut work = Lifecycle::new(net.chain_id(), 4);
    let mut scanned = 0;
    let mut found = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    // Transactions to every instance, so the two instances of validator 3 propose from
    // different mempools; look for committed evidence after each round.
    let mut round = 0;
    while found.is_none() {
        assert!(
            Instant::now() < deadline,
            "no evidence committed within 90 s (scanned to height {scanned})"
        );
        work.round(&net, &nodes, round % nodes.len(), COMMIT);
        round += 1;
        let top = net.height(0).unwrap_or_else(|e| panic!("{e}"));
        for height in scanned + 1..=top {
            let evidence = net.evidence(0, height);
            if !evidence.is_empty() {
                found = Some((height, evidence));
                break;
            }
            scanned = height;
        }
    }
    let (at, evidence) = found.unwrap_or_else(|| unreachable!());
    net.log(&format!(
        "evidence committed in block {at} after {round} rounds: {evidence:?}"
    ));
    // One piece of evidence per conflicting pair: when validator 3's two instances sign three
    // different blocks at one height (both proposals and nil, say), honest nodes see two
    // pairs, and CometBFT commits both. Every piece must be a duplicate vote by validator 3.
    assert!(!evidence.is_empty());
    for ev in &evidence {
        assert_eq!(ev.kind, "tendermint/DuplicateVoteEvidence", "{ev:?}");
        assert_eq!(
            ev.validator_address, culprit,
            "the evidence names validator 3: {ev:?}"
        );
        assert!(ev.height > 0 && ev.height <= at, "{ev:?}");
        assert_eq!(ev.voted_blocks.len(), 2, "{ev:?}");
        assert_ne!(
            ev.voted_blocks[0], ev.voted_blocks[1],
            "the two votes are for different blocks: {ev:?}"
        );
    }
    let mut evidence_heights: Vec<String> = evidence.iter().map(|e| e.height.to_string()).collect();
    evidence_heights.sort();
    // Every node's application reported each piece, with the validator and the height of the
    // votes. (Node 0 found the block; the others may still be committing it.)
    net.wait_height(&nodes, at, Duration::from_secs(30));
    for i in &nodes {
        let reports: Vec<_> = net
            .block_events(*i, at)
            .into_iter()
            .filter(|e| e.kind == "cascade.misbehavior")
            .collect();
        let mut heights = Vec::new();
        for report in &reports {
            let attributes = &report.attributes;
            assert_eq!(
                attributes.get("validator").map(String::as_str),
                Some(culprit.to_lowercase().as_str()),
                "node{i}: {reports:?}"
            );
            assert_eq!(
                attributes.get("kind").map(String::as_str),
                Some("DuplicateVote"),
                "node{i}: {reports:?}"
            );
            heights.push(attributes.get("height").cloned().unwrap_or_default());
        }
        heights.sort();
        assert_eq!(
            heights, evidence_heights,
            "node{i}: one misbehaviour event per piece of evidence in block {at}: {reports:?}"
        );
    }
    // Safe: both instances of validator 3 and the honest nodes agree on every block, with
    // the double signer still running.
    for r in 0..6 {
        work.round(&net, &nodes, r % nodes.len(), COMMIT);
    }
    let top = net.wait_progress(&nodes, 1, COMMIT);
    net.wait_caught_up(&nodes, RECOVER);
    net.assert_same_blocks(&nodes, 1, top);
    assert_only_valid_txs(&net, 0, top);
    net.log(&format!(
        "node{twin} and node3 double-signed; all {} nodes agree on blocks 1..={top}",
        nodes.len()
    ));
    done(&net, start, "double signing");
}

/// Test 2: one validator proposes blocks with invalid transactions (a forged signature and
/// garbage bytes, added by `cascade-test-node`'s Byzantine switch) and votes for them.
/// Honest validators reject those proposals in `ProcessProposal`, the chain goes on in the
/// next round, and no committed block holds an invalid transaction or was proposed by the
/// Byzantine validator. With the switch off again, its proposals are accepted.
#[test]
fn invalid_proposals_are_rejected_and_the_chain_goes_on() {
    let _serial = serial();
    let start = Instant::now();
    let byzantine = 3;
    let mut net = Network::new("bad-proposer", VALIDATORS, node_bin());
    net.set_app_env(byzantine, BYZANTINE_PROPOSER_ENV, "1");
    net.start_all();
    let nodes: Vec<usize> = (0..VALIDATORS).collect();
    let honest = [0, 1, 2];
    let bad_address = net.node(byzantine).validator_address.clone();
    let mut work = Lifecycle::new(net.chain_id(), 3);
    // Rounds until the Byzantine validator proposed several blocks with transactions.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut round = 0;
    loop {
        work.round(&net, &nodes, round % VALIDATORS, COMMIT);
        round += 1;
        let forged = net
            .app_log_lines(byzantine, "TEST HOOK: proposing a tampered block")
            .iter()
            .filter(|l| !l.contains("(1 txs instead of 0)"))
            .count();
        if round >= 8 && forged >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Byzantine validator proposed only {forged} blocks with forged transactions in 60 s"
        );
    }
    let top = net.wait_progress(&nodes, 1, COMMIT);
    net.wait_caught_up(&nodes, RECOVER);
    net.assert_same_blocks(&nodes, 1, top);
    let tampered = net
        .app_log_lines(byzantine, "TEST HOOK: proposing a tampered block")
        .len();
    for i in honest {
        let rejected = net.app_log_lines(i, "rejected the proposal for height");
        let by_byzantine = rejected.iter().filter(|l| l.contains(&bad_address)).count();
        assert!(
            by_byzantine >= 2,
            "node{i} rejected {by_byzantine} proposals of the Byzantine validator ({tampered} made)"
        );
        assert_eq!(
            by_byzantine,
            rejected.len(),
            "node{i} rejected an honest proposal: {rejected:?}"
        );
        assert!(
            !net.cometbft_log_lines(i, "state machine rejected a proposed block")
                .is_empty(),
            "node{i}'s CometBFT did not prevote nil on a rejected proposal"
        );
    }
    for h in 1..=top {
        let block = net.block(0, h);
        assert_ne!(
            block.proposer_address, bad_address,
            "block {h} was proposed by the Byzantine validator"
        );
    }
    let committed = assert_only_valid_txs(&net, 0, top);
    net.log(&format!(
        "{tampered} tampered proposals rejected by every honest validator; {committed} valid txs in blocks 1..={top}, none proposed by node{byzantine}"
    ));

    // The same validator without the switch: its proposals are accepted again.
    net.kill_app(byzantine);
    net.wait_cometbft_stop_after_app_crash(byzantine, Duration::from_secs(5));
    net.clear_app_env(byzantine, BYZANTINE_PROPOSER_ENV);
    net.start_node(byzantine);
    net.wait_caught_up(&nodes, RECOVER);
    let from = net.max_height(&nodes);
    let proposed = wait_until(
        "node3, honest again, to propose a committed block",
        RECOVER,
        || {
            work.round(&net, &nodes, 0, COMMIT);
            let now = net.max_height(&nodes);
            (from + 1..now)
                .find(|h| net.block(0, *h).proposer_address == bad_address)
                .ok_or_else(|| format!("no block by node3 in {}..{now}", from + 1))
        },
    );
    let top = net.wait_progress(&nodes, 1, COMMIT);
    net.wait_caught_up(&nodes, RECOVER);
    net.assert_same_blocks(&nodes, 1, top);
    assert_only_valid_txs(&net, 0, top);
    net.log(&format!("honest again, node3 proposed block {proposed}"));
    done(&net, start, "invalid proposals");
}

/// Test 3: one validator is cut off from all its peers (its peer connections pass through a
/// proxy that is cut) and healed. The other three keep committing, it does not, nothing
/// diverges; after the heal it catches up to the same blocks and app hashes, and a
/// transaction it accepted while cut off is committed.
#[test]
fn partitioned_validator_catches_up_after_healing() {
    let _serial = serial();
    let start = Instant::now();
    let isolated = 3;
    let mut net = Network::new("partition", VALIDATORS, node_bin());
    let partition = Partition::route(&net, isolated);
    net.start_all();
    let nodes: Vec<usize> = (0..VALIDATORS).collect();
    let majority = [0, 1, 2];
    let mut work = Lifecycle::new(net.chain_id(), 3);
    for round in 0..3 {
        work.round(&net, &nodes, round % VALIDATORS, COMMIT);
    }
    net.wait_caught_up(&nodes, RECOVER);

    partition.cut();
    // A block already voted on may still reach the isolated node; after that, nothing.
    std::thread::sleep(Duration::from_secs(1));
    let cut_at = net.height(isolated).unwrap_or_else(|e| panic!("{e}"));
    net.log(&format!("node{isolated} cut off at height {cut_at}"));
    // A transaction sent only to the isolated node waits in its mempool.
    let mut financier = Client::new(net.chain_id());
    let stranded = financier.sign(
        "factor",
        TxBody::SetCreditLine {
            obligor: financier.address("core"),
            currency: cascade_core::testkit::cny(),
            limit: Amount(5_000_000_00),
        },
    );
    let stranded = Submitted {
        hash: submit(&net, isolated, &stranded),
        signer: "factor".into(),
        kind: "set-credit-line",
        node: isolated,
    };
    for round in 0..6 {
        work.round(&net, &majority, round % 3, COMMIT);
    }
    let during = net.wait_progress(&majority, 3, COMMIT);
    net.assert_stalled(&[isolated], cut_at, Duration::from_secs(2));
    let isolated_at = net.height(isolated).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        isolated_at <= cut_at,
        "node{isolated} went on from {cut_at} to {isolated_at} while cut off"
    );
    net.assert_same_blocks(&majority, 1, during);
    net.assert_same_blocks(&nodes, 1, isolated_at);
    for i in majority {
        let receipt = net
            .rpc(i)
            .receipt(&stranded.hash)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            receipt.is_none(),
            "node{i} executed a transaction only the cut-off node had"
        );
    }
    net.log(&format!(
        "while node{isolated} stayed at {isolated_at}, the others went on to {during}"
    ));

    partition.heal();
    let healed = Instant::now();
    net.wait_caught_up(&nodes, RECOVER);
    net.log(&format!(
        "node{isolated} caught up to {during}+ {:.1}s after the heal",
        healed.elapsed().as_secs_f64()
    ));
    // The stranded transaction reaches the others and commits; the isolated node takes part
    // in consensus again.
    wait_committed(&net, 0, std::slice::from_ref(&stranded), RECOVER);
    for round in 0..2 {
        work.round(&net, &nodes, round % VALIDATORS, COMMIT);
    }
    let top = net.wait_progress(&nodes, 2, COMMIT);
    net.wait_caught_up(&nodes, RECOVER);
    net.assert_same_blocks(&nodes, 1, top);
    let signed_again = (during + 1..=top).any(|h| {
        net.block(0, h)
            .committed_signers()
            .contains(&net.node(isolated).validator_address.as_str())
    });
    assert!(
        signed_again,
        "node{isolated} signed no commit after healing"
    );
    for i in &nodes {
        let receipt = net
            .rpc(*i)
            .receipt(&stranded.hash)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(receipt.map(|r| r.code), Some(0), "node{i}");
    }
    done(&net, start, "partition");
}

/// A small deterministic generator (xorshift64) for the fault schedule.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the chaos test kills.
#[derive(Clone, Copy, Debug)]
enum Victim {
    Application,
    Cometbft,
    Both,
}

/// Test 4: repeated SIGKILLs of random validators' processes (the application, CometBFT or
/// both; one node down at a time) while a client keeps submitting lifecycle transactions
/// and logs every commit it sees. After recovery every node has the same blocks and app
/// hashes, and every acknowledged transaction is on every node with the same height and
/// result. The schedule comes from a seed (printed; set `CASCADE_CHAOS_SEED` to replay).
#[test]
fn repeated_kills_under_load_lose_no_acknowledged_commit() {
    const KILLS: usize = 8;
    let _serial = serial();
    let start = Instant::now();
    let mut net = Network::start("chaos", VALIDATORS, node_bin());
    let nodes: Vec<usize> = (0..VALIDATORS).collect();
    let seed = std::env::var("CASCADE_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    net.log(&format!(
        "chaos seed {seed} (replay with CASCADE_CHAOS_SEED={seed})"
    ));
    let mut rng = Rng(seed);
    let load = Load::spawn(
        &net,
        LoadOptions {
            lanes: 4,
            resubmit_after: Duration::from_secs(2),
            ..LoadOptions::default()
        },
    );
    wait_until("the load to get going", COMMIT, || {
        (load.acked() >= 10)
            .then_some(())
            .ok_or_else(|| format!("{} acknowledged", load.acked()))
    });
    let chaos_start = Instant::now();
    let mut log = Vec::new();
    for kill in 0..KILLS {
        let victim = rng.below(VALIDATORS as u64) as usize;
        let what = match rng.below(3) {
            0 => Victim::Application,
            1 => Victim::Cometbft,
            _ => Victim::Both,
        };
        std::thread::sleep(Duration::from_millis(200 + rng.below(1500)));
        let acked_before = load.acked();
        let height = net.max_height(&nodes);
        match what {
            Victim::Application => {
                net.kill_app(victim);
                net.wait_cometbft_stop_after_app_crash(victim, Duration::from_secs(5));
            }
            Victim::Cometbft => net.kill_cometbft(victim),
            Victim::Both => net.kill_node(victim),
        }
        let down = Duration::from_millis(500 + rng.below(2500));
        std::thread::sleep(down);
        if !net.app_running(victim) {
            net.start_app(victim);
        }
        if !net.cometbft_running(victim) {
            net.start_cometbft(victim);
        }
        net.wait_caught_up(&nodes, RECOVER);
        assert!(
            !load.is_finished(),
            "the load stopped during kill {kill} (see its report)"
        );
        let line = format!(
            "kill {kill}: {what:?} of node{victim} at height ~{height}, down {down:?}; {} txs acknowledged meanwhile",
            load.acked() - acked_before
        );
        net.log(&line);
        log.push(line);
    }
    let chaos = chaos_start.elapsed();
    // A little load after the last recovery, then stop.
    let settled = load.acked();
    wait_until("the load to go on after the last kill", COMMIT, || {
        (load.acked() >= settled + 5)
            .then_some(())
            .ok_or_else(|| format!("{} acknowledged", load.acked()))
    });
    let report = load.stop();
    assert!(
        report.failure.is_none(),
        "the load failed: {:?}",
        report.failure
    );
    let top = net.wait_progress(&nodes, 1, COMMIT);
    net.wait_caught_up(&nodes, RECOVER);
    net.assert_same_blocks(&nodes, 1, top);
    let during = report
        .acks
        .iter()
        .filter(|a| a.acked >= chaos_start && a.acked <= chaos_start + chaos)
        .count();
    assert!(
        during >= 20,
        "only {during} transactions were acknowledged during the kills"
    );
    // Every acknowledged commit is on every node: in the block of its height with success,
    // and in the application's receipts (same height, code 0).
    let check = check_acks(&net, &report.acks, 1);
    assert!(
        check.lost.is_empty(),
        "acknowledged commits lost or different: {:#?}",
        check.lost
    );
    assert_eq!(
        (check.in_blocks, check.receipts),
        (report.acks.len(), report.acks.len()),
        "every acknowledged commit checked on every node"
    );
    let mut latencies: Vec<Duration> = report.acks.iter().map(|a| a.latency()).collect();
    let p50 = quantile(&mut latencies, 0.5);
    let p99 = quantile(&mut latencies, 0.99);
    net.log(&format!(
        "{KILLS} kills in {:.1}s; {} txs acknowledged ({during} during the kills) in {} rounds, all on all {} nodes up to height {top}; {} resubmitted, {} refused, {} unreachable; latency p50 {p50:?} p99 {p99:?}",
        chaos.as_secs_f64(),
        report.acks.len(),
        report.rounds,
        nodes.len(),
        report.resubmitted,
        report.refused,
        report.unreachable
    ));
    done(&net, start, "repeated kills");
}
