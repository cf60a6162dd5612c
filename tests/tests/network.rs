//! Multi-validator network tests: four Cascade validators (application and CometBFT as
//! separate processes each) on 127.0.0.1.
//!
//! The scenarios share the machine's CPU and ports, so they run one at a time (a global
//! lock). Each uses its own port range and temporary directory. They need the CometBFT
//! binary: `scripts/install-cometbft.sh` builds it, and `scripts/test.sh` exports its path
//! as `CASCADE_COMETBFT`.

use cascade_core::query::{Answer, Query};
use cascade_core::tx::TxBody;
use cascade_core::{Amount, Consortium, Event, TxReceipt};
use cascade_node::rpc::RpcError;
use cascade_tests::net::{serial, wait_until, CometbftStop, Network, COMMIT, RECOVER, VALIDATORS};
use cascade_tests::workload::{submit, tx_hash, wait_committed, Client, Lifecycle, Submitted};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn node_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cascade-test-node"))
}

fn all(net: &Network) -> Vec<usize> {
    (0..net.len()).collect()
}

fn elapsed(net: &Network, start: Instant, what: &str) {
    net.log(&format!(
        "{what}: done in {:.1}s",
        start.elapsed().as_secs_f64()
    ));
}

/// Test 1: a steady stream of lifecycle transactions, sent round-robin to every node; all
/// nodes agree on the block and app hash at every height.
#[test]
fn steady_stream_all_nodes_agree_at_every_height() {
    let _serial = serial();
    let start = Instant::now();
    let net = Network::start("stream", VALIDATORS, node_bin());
    let nodes = all(&net);
    let mut work = Lifecycle::new(net.chain_id(), 4);
    let mut txs = 0;
    let mut per_height: BTreeMap<u64, usize> = BTreeMap::new();
    for round in 0..24 {
        let report = work.round(&net, &nodes, round % VALIDATORS, COMMIT);
        txs += report.txs;
        for h in report.heights {
            *per_height.entry(h).or_insert(0) += 1;
        }
    }
    let top = net.wait_progress(&nodes, 1, COMMIT);
    net.wait_caught_up(&nodes, RECOVER);
    // The header of `top` carries the app hash after `top - 1`.
    net.assert_same_blocks(&nodes, 1, top);
    for i in &nodes {
        let status = net
            .rpc(*i)
            .status()
            .unwrap_or_else(|e| panic!("node{i}: {e}"));
        assert!(status.latest_block_height >= top);
    }
    // Every node's application executed every transaction with the same result.
    for (hash, height) in &work.committed {
        for i in &nodes {
            let receipt = net
                .rpc(*i)
                .receipt(hash)
                .unwrap_or_else(|e| panic!("node{i}: {e}"))
                .unwrap_or_else(|| panic!("node{i} has no receipt for {hash}"));
            assert_eq!(
                (receipt.code, receipt.height),
                (0, *height),
                "node{i}, {hash}"
            );
        }
    }
    let busiest = per_height.values().max().copied().unwrap_or(0);
    net.log(&format!(
        "{txs} transactions in {} blocks (up to {busiest} per block), {top} blocks agreed",
        per_height.len()
    ));
    assert!(txs >= 100, "only {txs} transactions were committed");
    elapsed(&net, start, "steady stream");
}

/// Test 2: one validator down (application and CometBFT killed): the chain goes on; after a
/// restart it catches up to the same blocks and app hashes.
#[test]
fn one_validator_down_chain_continues_and_it_catches_up() {
    let _serial = serial();
    let start = Instant::now();
    let mut net = Network::start("one-down", VALIDATORS, node_bin());
    let nodes = all(&net);
    let mut work = Lifecycle::new(net.chain_id(), 3);
    for round in 0..4 {
        work.round(&net, &nodes, round % VALIDATORS, COMMIT);
    }
    net.kill_node(3);
    let up = [0, 1, 2];
    let before = net.max_height(&up);
    for _ in 0..6 {
        work.round(&net, &up, 0, COMMIT);
    }
    let during = net.wait_progress(&up, 3, COMMIT);
    net.log(&format!(
        "with node3 down the chain went from {before} to {during}"
    ));
    assert!(during > before + 3);
    net.start_node(3);
    let target = net.wait_caught_up(&nodes, RECOVER);
    // Node 3 takes transactions again, and they commit everywhere.
    for round in 0..3 {
        work.round(&net, &nodes, 3 - round % 2, COMMIT);
    }
    let top = net.wait_progress(&nodes, 1, COMMIT);
    net.wait_caught_up(&nodes, RECOVER);
    net.assert_same_blocks(&nodes, 1, top);
    net.log(&format!(
        "node3 caught up past {target}; agreed up to {top}"
    ));
    elapsed(&net, start, "one down");
}

/// Test 3: two of four validators down: no block can get 2/3 of the votes, so the height
/// stops; the two left agree. One comes back: blocks resume, with the transactions sent
/// while halted.
#[test]
fn two_validators_down_halts_and_resumes_when_one_returns() {
    let _serial = serial();
    let start = Instant::now();
    let mut net = Network::start("two-down", VALIDATORS, node_bin());
    let nodes = all(&net);
    let mut work = Lifecycle::new(net.chain_id(), 2);
    for round in 0..3 {
        work.round(&net, &nodes, round % VALIDATORS, COMMIT);
    }
    net.kill_node(2);
    net.kill_node(3);
    let up = [0, 1];
    // A block already voted on may still commit; after that, nothing.
    std::thread::sleep(Duration::from_secs(2));
    let halted = net.max_height(&up);
    // Transactions sent now wait in the mempool.
    let waiting = work.send_round(&net, &up);
    net.assert_stalled(&up, halted, Duration::from_secs(5));
    net.log(&format!("halted at {halted} with two validators down"));
    for tx in waiting.txs() {
        for i in up {
            let receipt = net
                .rpc(i)
                .receipt(&tx.hash)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                receipt.is_none(),
                "{} committed while the chain was halted",
                tx.hash
            );
        }
    }
    let h0 = net.height(0).unwrap_or_else(|e| panic!("{e}"));
    let h1 = net.height(1).unwrap_or_else(|e| panic!("{e}"));
    net.assert_same_blocks(&up, 1, h0.min(h1));
    net.start_node(2);
    let three = [0, 1, 2];
    net.wait_height(&three, halted + 3, RECOVER);
    work.finish_round(&net, 0, waiting, COMMIT);
    for round in 0..2 {
        work.round(&net, &three, round, COMMIT);
    }
    net.start_node(3);
    let top = net.wait_progress(&nodes, 2, RECOVER);
    net.wait_caught_up(&nodes, RECOVER);
    net.assert_same_blocks(&nodes, 1, top);
    net.log(&format!(
        "resumed after {halted}; all four agree up to {top}"
    ));
    elapsed(&net, start, "two down");
}

/// A small deterministic generator for "random-ish" kill moments (seed printed).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Test 4: SIGKILL a node's application while blocks are being committed, several times
/// (half at random moments, half right after `FinalizeBlock`, before `Commit`). CometBFT
/// notices that its application connection died and stops: it exits by itself, or, when
/// its consensus routine was inside an ABCI call, it hangs in its own shutdown (CometBFT
/// v0.38 behaviour, see ADR 0006) and is killed. After restarting both, the handshake
/// replays what the application lost, no transaction that was seen committed is lost, and
/// all nodes agree.
#[test]
fn killed_application_loses_no_committed_transaction() {
    let _serial = serial();
    let start = Instant::now();
    let mut net = Network::start("app-kill", VALIDATORS, node_bin());
    let nodes = all(&net);
    let mut work = Lifecycle::new(net.chain_id(), 4);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    net.log(&format!("kill timing seed {seed}"));
    let mut rng = XorShift(seed);
    for round in 0..2 {
        work.round(&net, &nodes, round, COMMIT);
    }
    let mut replays = Vec::new();
    let mut stops = Vec::new();
    for (iteration, victim) in [1usize, 2, 3, 0, 1, 2].into_iter().enumerate() {
        let others: Vec<usize> = nodes.iter().copied().filter(|i| *i != victim).collect();
        // Transactions in flight: blocks with transactions are being executed and committed
        // on the victim too (it is a validator). They go to the other nodes, so none is
        // stranded in the victim's mempool.
        let log_from = net.app_log_len(victim);
        let pending = work.send_round(&net, &others);
        let when = if iteration % 2 == 0 {
            // A random moment.
            let delay = Duration::from_millis(rng.next() % 900);
            std::thread::sleep(delay);
            format!("{delay:?} after a round was sent")
        } else {
            // Right after FinalizeBlock, usually before Commit made the block durable.
            let line = net.wait_app_log(victim, log_from, "finalized block", COMMIT);
            format!("right after: {line}")
        };
        // The last height the victim's CometBFT reported committed before the kill; the
        // blocks themselves are read from a live node (every node has the same blocks,
        // checked below).
        let seen_height = net.height(victim).unwrap_or_else(|e| panic!("{e}"));
        net.kill_app(victim);
        net.wait_height(&others[..1], seen_height, COMMIT);
        let seen = net.committed_txs(others[0], 1, seen_height);
        net.log(&format!(
            "iteration {iteration}: killed node{victim}'s application {when}; its CometBFT reports height {seen_height} ({} txs committed)",
            seen.len()
        ));
        // CometBFT must notice that its application died and stop.
        stops.push(net.wait_cometbft_stop_after_app_crash(victim, Duration::from_secs(5)));
        work.finish_round(&net, others[0], pending, COMMIT);
        let replays_before = net.replay_log(victim).len();
        net.start_node(victim);
        net.wait_caught_up(&nodes, RECOVER);
        let handshake = net.replay_log(victim)[replays_before..].join(" / ");
        net.log(&format!("node{victim} handshake: {handshake}"));
        replays.push(handshake);
        for tx in &seen {
            let receipt = net
                .rpc(victim)
                .receipt(&tx.hash)
                .unwrap_or_else(|e| panic!("node{victim}: {e}"))
                .unwrap_or_else(|| {
                    panic!(
                        "node{victim} lost transaction {} committed at height {}",
                        tx.hash, tx.height
                    )
                });
            assert_eq!(
                (receipt.height, receipt.index as usize, receipt.code),
                (tx.height, tx.index, tx.code),
                "node{victim}: receipt of {} differs from what was committed",
                tx.hash
            );
        }
    }
    for round in 0..2 {
        work.round(&net, &nodes, round, COMMIT);
    }
    let top = net.wait_progress(&nodes, 1, COMMIT);
    net.wait_caught_up(&nodes, RECOVER);
    net.assert_same_blocks(&nodes, 1, top);
    // Everything the workload saw committed is still there, on every node.
    for (hash, height) in &work.committed {
        for i in &nodes {
            let receipt = net.rpc(*i).receipt(hash).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                receipt.map(|r| (r.code, r.height)),
                Some((0, *height)),
                "node{i}: {hash}"
            );
        }
    }
    let real_app = replays
        .iter()
        .filter(|r| r.contains("using real app"))
        .count();
    let hung = stops
        .iter()
        .filter(|s| **s == CometbftStop::HungInShutdown)
        .count();
    net.log(&format!(
        "{real_app} of {} restarts replayed the last block through the application; CometBFT exited by itself {} times and hung in shutdown {hung} times",
        replays.len(),
        stops.len() - hung
    ));
    elapsed(&net, start, "application kills");
}

fn consortium(net: &Network, node: usize) -> Consortium {
    match net.rpc(node).query(&Query::Consortium) {
        Ok(Answer::State(proof)) => {
            let bytes = proof
                .value
                .unwrap_or_else(|| panic!("the consortium record is missing"));
            cascade_core::codec::decode_stored(&bytes)
                .unwrap_or_else(|e| panic!("consortium record: {e}"))
        }
        other => panic!("consortium query: {other:?}"),
    }
}

/// Test 5: governance adds a validator. A fifth node joins as a full node; a quorum of
/// operators approves its key; it then appears in CometBFT's validator set and signs
/// blocks.
#[test]
fn operators_add_a_fifth_validator() {
    let _serial = serial();
    let start = Instant::now();
    let mut net = Network::start("governance", VALIDATORS, node_bin());
    let fifth = net.add_full_node();
    net.start_node(fifth);
    let nodes = all(&net);
    net.wait_caught_up(&nodes, RECOVER);
    let status = net.rpc(fifth).status().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.voting_power, 0, "the new node starts as a full node");
    let address = net.node(fifth).validator_address.clone();
    let pub_key = net.node(fifth).validator_key;

    let consortium = consortium(&net, 0);
    assert_eq!(consortium.validators as usize, VALIDATORS);
    let quorum = consortium.quorum() as usize;
    assert!(
        quorum <= 4,
        "operator-0..3 must be able to reach the quorum of {quorum}"
    );
    let mut client = Client::new(net.chain_id());
    let mut sent = Vec::new();
    for k in 0..quorum {
        let name = format!("operator-{k}");
        let bytes = client.sign(&name, TxBody::ApproveValidatorChange { pub_key, power: 10 });
        let node = k % VALIDATORS;
        sent.push(Submitted {
            hash: submit(&net, node, &bytes),
            signer: name,
            kind: "approve-validator-change",
            node,
        });
    }
    let receipts = wait_committed(&net, 0, &sent, COMMIT);
    let changed: Vec<&TxReceipt> = receipts
        .iter()
        .filter(|r| {
            r.events
                .iter()
                .any(|e| matches!(e, Event::ValidatorSetChanged { .. }))
        })
        .collect();
    assert_eq!(
        changed.len(),
        1,
        "exactly the quorum-th approval changes the set"
    );
    let height = changed[0].height;
    let results = net
        .rpc(0)
        .block_results(height)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        results.validator_updates.len(),
        1,
        "one CometBFT validator update at {height}"
    );
    assert_eq!(consortium_validators(&net), VALIDATORS + 1);

    // CometBFT applies an update from block h at h+2.
    wait_until(
        &format!("validator {address} in the validator set"),
        COMMIT,
        || {
            let set = net.rpc(0).validators(None).map_err(|e| e.to_string())?;
            if set
                .iter()
                .any(|v| v.address == address && v.voting_power == 10)
            {
                Ok(())
            } else {
                Err(format!("{} validators", set.len()))
            }
        },
    );
    let signed_at = wait_until(
        &format!("a block whose last commit carries {address}'s signature"),
        COMMIT,
        || {
            let h = net.height(0)?;
            let block = net.rpc(0).block(h).map_err(|e| e.to_string())?;
            if block.committed_signers().contains(&address.as_str()) {
                Ok(h)
            } else {
                Err(format!("signers at {h}: {:?}", block.committed_signers()))
            }
        },
    );
    let status = net.rpc(fifth).status().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.voting_power, 10);
    let top = net.wait_progress(&nodes, 1, COMMIT);
    net.wait_caught_up(&nodes, RECOVER);
    net.assert_same_blocks(&nodes, 1, top);
    net.log(&format!(
        "approved at {height}; node{fifth} signed the commit in block {signed_at}"
    ));
    elapsed(&net, start, "governance");
}

fn consortium_validators(net: &Network) -> usize {
    consortium(net, 0).validators as usize
}

/// What a node said to a transaction that must not get in.
fn refused(net: &Network, node: usize, bytes: &[u8]) -> String {
    match net.rpc(node).broadcast_tx_sync(bytes) {
        Ok(r) if r.code != 0 => format!("CheckTx code {}: {}", r.code, r.log),
        Ok(r) => panic!(
            "node{node} accepted a transaction it must refuse ({})",
            r.hash
        ),
        Err(RpcError::Server { data, .. }) => format!("refused by CometBFT: {data}"),
        Err(e) => panic!("node{node}: broadcast_tx_sync: {e}"),
    }
}

fn check_code(net: &Network, node: usize, bytes: &[u8], code: u32, what: &str) {
    let result = net
        .rpc(node)
        .broadcast_tx_sync(bytes)
        .unwrap_or_else(|e| panic!("node{node}: broadcast_tx_sync of {what}: {e}"));
    assert_eq!(result.code, code, "{what}: CheckTx said {:?}", result.log);
}

/// Test 6: bad signatures, other chains, wrong nonces and replays of committed transactions
/// are refused at `CheckTx` and never appear in any block.
#[test]
fn invalid_and_replayed_transactions_never_reach_a_block() {
    let _serial = serial();
    let start = Instant::now();
    let mut net = Network::start("invalid", VALIDATORS, node_bin());
    let nodes = all(&net);
    let mut client = Client::new(net.chain_id());
    let core = client.address("core");
    let credit_line = |limit| TxBody::SetCreditLine {
        obligor: core,
        currency: cascade_core::testkit::cny(),
        limit: Amount(limit),
    };

    // A valid transaction, committed.
    let good = client.sign("bank", credit_line(1_000_000_00));
    let good_hash = submit(&net, 0, &good);
    wait_committed(
        &net,
        0,
        &[Submitted {
            hash: good_hash,
            signer: "bank".into(),
            kind: "set-credit-line",
            node: 0,
        }],
        COMMIT,
    );

    let mut bad: Vec<(String, Vec<u8>)> = Vec::new();
    // Bad signature: one bit of r flipped.
    let mut forged = client.sign_raw("bank", net.chain_id(), 1, credit_line(2_000_000_00));
    let at = forged.len() - 60;
    forged[at] ^= 1;
    bad.push(("bad signature".into(), forged));
    // Signed by someone else than the signer named in it: a valid signature, wrong key.
    let mut stolen = client.sign_raw("bank", net.chain_id(), 1, credit_line(3_000_000_00));
    let other = client.sign_raw("factor", net.chain_id(), 0, credit_line(3_000_000_00));
    let sig_len = 64;
    let (n, m) = (stolen.len(), other.len());
    stolen[n - sig_len..].copy_from_slice(&other[m - sig_len..]);
    bad.push(("signature of another key".into(), stolen));
    // Wrong chain.
    bad.push((
        "wrong chain".into(),
        client.sign_raw("bank", "another-chain", 1, credit_line(4_000_000_00)),
    ));
    // Nonce already used, and nonce from the future.
    bad.push((
        "used nonce".into(),
        client.sign_raw("bank", net.chain_id(), 0, credit_line(5_000_000_00)),
    ));
    bad.push((
        "future nonce".into(),
        client.sign_raw("bank", net.chain_id(), 7, credit_line(6_000_000_00)),
    ));
    // A signer that is not a participant.
    client.add_key("stranger");
    bad.push((
        "unknown signer".into(),
        client.sign_raw("stranger", net.chain_id(), 0, credit_line(7_000_000_00)),
    ));
    // Garbage and a non-canonical encoding (a trailing byte).
    bad.push(("garbage".into(), b"not a transaction".to_vec()));
    let mut trailing = client.sign_raw("bank", net.chain_id(), 1, credit_line(8_000_000_00));
    trailing.push(0);
    bad.push(("trailing byte".into(), trailing));

    let expected_codes: [(&str, u32); 8] = [
        ("bad signature", 2),
        ("signature of another key", 2),
        ("wrong chain", 3),
        ("used nonce", 5),
        ("future nonce", 5),
        ("unknown signer", 6),
        ("garbage", 1),
        ("trailing byte", 1),
    ];
    for ((what, bytes), (expected_what, code)) in bad.iter().zip(expected_codes) {
        assert_eq!(what, expected_what);
        for node in &nodes {
            check_code(&net, *node, bytes, code, what);
        }
    }

    // The committed transaction sent again: CometBFT's cache or CheckTx refuses it.
    for node in &nodes {
        let how = refused(&net, *node, &good);
        net.log(&format!("replay to node{node}: {how}"));
    }
    // A restarted node has an empty cache: the replay reaches CheckTx, which refuses it on
    // its nonce.
    net.kill_node(3);
    net.start_node(3);
    net.wait_caught_up(&nodes, RECOVER);
    check_code(
        &net,
        3,
        &good,
        5,
        "replay of a committed transaction after a restart",
    );

    // Valid traffic continues, so later blocks are proposed by every validator in turn.
    // The client's nonces follow the transaction committed above.
    let mut work = Lifecycle::with_client(client, 2);
    for round in 0..4 {
        work.round(&net, &nodes, round % VALIDATORS, COMMIT);
    }
    let top = net.wait_progress(&nodes, 2, COMMIT);
    net.wait_caught_up(&nodes, RECOVER);
    net.assert_same_blocks(&nodes, 1, top);
    let counts = net.tx_counts(0, 1, top);
    assert_eq!(
        counts.get(&good_hash),
        Some(&1),
        "the replayed transaction is in exactly one block"
    );
    for (what, bytes) in &bad {
        let hash = tx_hash(bytes);
        assert!(!counts.contains_key(&hash), "{what} ({hash}) is in a block");
        for node in &nodes {
            let receipt = net
                .rpc(*node)
                .receipt(&hash)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(receipt.is_none(), "node{node} executed {what}");
        }
    }
    let committed: usize = counts.values().sum();
    net.log(&format!(
        "{committed} transactions in blocks 1..={top}; none of the {} refused ones",
        bad.len()
    ));
    elapsed(&net, start, "invalid transactions");
}

fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    let pid = i32::try_from(pid).unwrap_or_else(|_| panic!("pid {pid} out of range"));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal)
        .unwrap_or_else(|e| panic!("cannot signal {pid}: {e}"));
}

fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Test 7: the daemon's own mode. `init` creates a single-validator home with the
/// development genesis; `start` serves ABCI and runs CometBFT as its child. SIGTERM stops
/// both; a restart resumes the chain; after a SIGKILL of the daemon, the next `start`
/// gets rid of the CometBFT child it left behind (if that one did not exit) and resumes.
#[test]
fn daemon_init_start_supervises_cometbft() {
    use cascade_node::config::{self, ConfigFile, NodeHome};
    use cascade_tests::net::{free_base_port, log_tail};
    use nix::sys::signal::Signal;
    use std::process::{Child, Command, Stdio};

    let _serial = serial();
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("cascade-daemon-")
        .tempdir()
        .unwrap_or_else(|e| panic!("{e}"));
    let home = NodeHome::new(dir.path().join("node"));
    let chain_id = "cascade-daemon";
    let init = Command::new(node_bin())
        .args([
            "init",
            "--chain-id",
            chain_id,
            "--moniker",
            "solo",
            "--home",
        ])
        .arg(home.root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run init: {e}"));
    let stdout = String::from_utf8_lossy(&init.stdout);
    assert!(
        init.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    assert!(
        stdout.contains("DEVELOPMENT KEYS"),
        "init must warn about the dev keys"
    );
    let genesis = config::read_json(&home.genesis_json()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(genesis["chain_id"], chain_id);
    assert_eq!(genesis["app_state"]["chain_id"], chain_id);
    // Free ports and short timeouts, as in a testnet.
    let ports =
        cascade_node::testnet::ports_for(free_base_port(), 0).unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = ConfigFile::load(&home.config_toml()).unwrap_or_else(|e| panic!("{e}"));
    config::configure_local(&mut cfg, "solo", ports, &[]).unwrap_or_else(|e| panic!("{e}"));
    config::tune_for_loopback(&mut cfg).unwrap_or_else(|e| panic!("{e}"));
    cfg.save().unwrap_or_else(|e| panic!("{e}"));
    let rpc = cascade_node::rpc::RpcClient::new(
        format!("http://127.0.0.1:{}", ports.rpc),
        Duration::from_secs(5),
    );
    let log_path = dir.path().join("node.log");
    let start = || -> Child {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("{e}"));
        let err = log.try_clone().unwrap_or_else(|e| panic!("{e}"));
        Command::new(node_bin())
            .args(["start", "--exit-with-parent", "--home"])
            .arg(home.root())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the daemon: {e}"))
    };
    let height = || {
        rpc.status()
            .map(|s| s.latest_block_height)
            .map_err(|e| e.to_string())
    };
    let wait_height = |h: u64, what: &str| {
        wait_until(
            &format!("the daemon's chain to reach height {h} ({what})"),
            RECOVER,
            || match height() {
                Ok(now) if now >= h => Ok(now),
                Ok(now) => Err(format!("height {now}")),
                Err(e) => Err(e),
            },
        )
    };
    let child_pid = || -> u32 {
        let text = std::fs::read_to_string(home.cometbft().join("cascade-node-child.pid"))
            .unwrap_or_else(|e| panic!("no child pid file: {e}"));
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("bad pid file: {e}"))
    };
    /// Kills, on the way out, every process this test started that is still running
    /// (checked by its command line naming this test's home, so a reused pid is left
    /// alone).
    struct Guard(Vec<u32>, String);
    impl Drop for Guard {
        fn drop(&mut self) {
            for pid in &self.0 {
                let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains(&self.1))
                    .unwrap_or(false);
                if ours && process_alive(*pid) {
                    signal(*pid, Signal::SIGKILL);
                }
            }
        }
    }
    let mut guard = Guard(Vec::new(), home.root().display().to_string());

    let mut daemon = start();
    guard.0.push(daemon.id());
    let first = wait_height(3, "first start");
    let comet = child_pid();
    guard.0.push(comet);
    let mut client = Client::new(chain_id);
    let tx = client.sign(
        "bank",
        TxBody::SetCreditLine {
            obligor: client.address("core"),
            currency: cascade_core::testkit::cny(),
            limit: Amount(1_000_000_00),
        },
    );
    let hash = tx_hash(&tx);
    let result = rpc.broadcast_tx_sync(&tx).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(result.code, 0, "{}", result.log);
    let committed_at = wait_until("the transaction to be committed", COMMIT, || {
        match rpc.receipt(&hash) {
            Ok(Some(r)) => Ok(r.height),
            Ok(None) => Err("no receipt".into()),
            Err(e) => Err(e.to_string()),
        }
    });

    // SIGTERM: the daemon stops its CometBFT and exits cleanly.
    signal(daemon.id(), Signal::SIGTERM);
    let status = wait_until("the daemon to exit after SIGTERM", COMMIT, || {
        daemon
            .try_wait()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "running".to_string())
    });
    assert!(
        status.success(),
        "daemon exit status {status}:\n{}",
        log_tail(&log_path, 20)
    );
    assert!(
        !process_alive(comet),
        "CometBFT outlived the daemon's SIGTERM"
    );
    let stopped_at = first.max(committed_at);

    // Restart: the chain goes on from where it was, the receipt is still there.
    let mut daemon = start();
    guard.0.push(daemon.id());
    wait_height(stopped_at + 3, "after a clean restart");
    guard.0.push(child_pid());
    let receipt = rpc.receipt(&hash).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(receipt.map(|r| r.height), Some(committed_at));

    // SIGKILL the daemon while its CometBFT cannot exit (stopped with SIGSTOP, standing in
    // for CometBFT hanging in its shutdown, which it does when the application dies in the
    // middle of an ABCI call): the orphan survives the daemon.
    let comet = child_pid();
    let killed_at = height().unwrap_or_else(|e| panic!("{e}"));
    signal(comet, Signal::SIGSTOP);
    daemon.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = daemon.wait();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        process_alive(comet),
        "the stopped CometBFT should still be there"
    );
    // The next start kills the orphan (it holds the ports and databases) and resumes.
    let mut daemon = start();
    guard.0.push(daemon.id());
    wait_height(killed_at + 3, "after a SIGKILL and restart");
    assert!(!process_alive(comet), "the old CometBFT is still running");
    guard.0.push(child_pid());
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(log.contains(&format!(
        "CometBFT (pid {comet}) from a previous run of this node is still running; killing it"
    )));
    signal(daemon.id(), Signal::SIGTERM);
    let status = wait_until("the daemon to exit after SIGTERM", COMMIT, || {
        daemon
            .try_wait()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "running".to_string())
    });
    assert!(status.success(), "daemon exit status {status}");
    eprintln!(
        "[daemon] init, start, SIGTERM, restart, SIGKILL and orphan reaping: done in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    drop(guard);
}
