//! A harness for local CometBFT networks of Cascade nodes.
//!
//! [`Network::new`] creates a testnet (via [`cascade_node::testnet`]) in a temporary
//! directory on free ports. For every node, the application (`cascade-node start
//! --no-cometbft`) and CometBFT (`cometbft start`) run as **separate child processes**, so
//! either can be SIGKILLed on its own. Their output goes to `app.log` and `cometbft.log` in
//! the node's home. Every wait is bounded and panics with what did not happen; dropping the
//! network kills every child, and a failing test keeps the directory and prints the tail of
//! each log.
//!
//! This is test code: failures are panics with a message, by design.

use cascade_core::{Genesis, Hash32};
use cascade_node::config::{AbciAddress, ConfigFile, Ports};
use cascade_node::rpc::{Block, RpcClient};
use cascade_node::testnet::{ports_for, Testnet, TestnetNode, TestnetSpec};
use std::collections::BTreeMap;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// Timeout of one RPC request.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a node's application may take to listen, and CometBFT to answer RPC.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Ports the harness may use: below Linux's ephemeral range (32768+), so outgoing
/// connections never take a port a later network wants to listen on.
const PORT_FIRST: u16 = 20_000;
const PORT_END: u16 = 32_000;
/// Ports reserved per network (room for ten nodes).
const PORTS_PER_NETWORK: u16 = 100;
/// Nodes whose ports are checked free before a network is created (validators plus room
/// for full nodes added later).
const PORT_CHECK_NODES: usize = 8;

static NEXT_SLOT: AtomicU16 = AtomicU16::new(0);

/// The CometBFT binary (`CASCADE_COMETBFT`, the install script's cache, or `PATH`).
pub fn cometbft_binary() -> PathBuf {
    cascade_node::cometbft::locate(None).unwrap_or_else(|e| panic!("{e}"))
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn ports_free(ports: Ports) -> bool {
    port_free(ports.p2p) && port_free(ports.rpc) && port_free(ports.abci)
}

/// A base port whose node ports are all free, different for each network of this process
/// and spread by process id across concurrently running test processes.
pub fn free_base_port() -> u16 {
    let slots = (PORT_END - PORT_FIRST) / PORTS_PER_NETWORK;
    let start = (std::process::id() % u32::from(slots)) as u16;
    for _ in 0..slots {
        let next = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
        let slot = (start + next) % slots;
        let base = PORT_FIRST + slot * PORTS_PER_NETWORK;
        let all_free =
            (0..PORT_CHECK_NODES).all(|i| ports_for(base, i).map(ports_free).unwrap_or(false));
        if all_free {
            return base;
        }
    }
    panic!("no free range of {PORTS_PER_NETWORK} ports between {PORT_FIRST} and {PORT_END}");
}

/// Validators of the standard test network.
pub const VALIDATORS: usize = 4;
/// Bound for a round of transactions to be committed.
pub const COMMIT: Duration = Duration::from_secs(30);
/// Bound for a restarted or reconnected node to catch up, or a stalled chain to resume.
pub const RECOVER: Duration = Duration::from_secs(60);

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the network scenarios of a test binary one at a time: each starts its own
/// validators, and two at once would starve each other on a small machine. A failed scenario
/// poisons the lock; the next one takes it anyway.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls `check` every 100 ms until it returns `Ok`, or panics after `timeout` with `what`
/// and the last `Err` it returned (what was seen instead).
pub fn wait_until<T>(what: &str, timeout: Duration, check: impl FnMut() -> Result<T, String>) -> T {
    wait_until_every(what, timeout, Duration::from_millis(100), check)
}

/// Like [`wait_until`], polling every `interval`.
pub fn wait_until_every<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) => {
                if Instant::now() >= deadline {
                    panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
                }
            }
        }
        std::thread::sleep(interval);
    }
}

/// The last `lines` lines of a file (empty if it cannot be read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn open_log(path: &Path) -> (Stdio, Stdio) {
    let file = File::options()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open log {}: {e}", path.display()));
    let copy = file
        .try_clone()
        .unwrap_or_else(|e| panic!("cannot clone log handle {}: {e}", path.display()));
    (Stdio::from(file), Stdio::from(copy))
}

#[derive(Default)]
struct Procs {
    app: Option<Child>,
    cometbft: Option<Child>,
    /// Extra environment of the application process (kept across restarts).
    app_env: Vec<(String, String)>,
}

/// How a CometBFT process stopped after its application died.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CometbftStop {
    /// It exited by itself.
    Exited(ExitStatus),
    /// It noticed, began to shut down, and hung (then the harness killed it).
    HungInShutdown,
}

/// A transaction seen in a committed block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedTx {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: usize,
    /// SHA-256 of the bytes.
    pub hash: Hash32,
    /// `FinalizeBlock` result code (0 success).
    pub code: u32,
}

/// Evidence of misbehaviour committed in a block (`/block`, `block.evidence.evidence`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedEvidence {
    /// Amino type name, e.g. `tendermint/DuplicateVoteEvidence`.
    pub kind: String,
    /// Address of the misbehaving validator (upper-case hex).
    pub validator_address: String,
    /// Height of the conflicting votes.
    pub height: u64,
    /// Block hashes the two conflicting votes were for (empty for a nil vote).
    pub voted_blocks: Vec<String>,
}

/// An event `FinalizeBlock` returned for the block itself (not for a transaction).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEvent {
    /// Event type, e.g. `cascade.misbehavior`.
    pub kind: String,
    /// Attributes by key.
    pub attributes: BTreeMap<String, String>,
}

/// A local network of Cascade nodes.
pub struct Network {
    name: String,
    /// The nodes' layout (homes, ports, keys).
    pub testnet: Testnet,
    dir: Option<tempfile::TempDir>,
    cometbft: PathBuf,
    node_bin: PathBuf,
    procs: Vec<Procs>,
    rpcs: Vec<RpcClient>,
    started: Instant,
}

impl Network {
    /// Creates (without starting) a testnet of `validators` nodes with the development
    /// genesis. `node_bin` is the `cascade-node` binary (a test gets it from
    /// `env!("CARGO_BIN_EXE_cascade-test-node")`).
    pub fn new(name: &str, validators: usize, node_bin: &Path) -> Network {
        let genesis = cascade_node::genesis::dev_genesis(
            &format!("cascade-{name}"),
            cascade_node::genesis::DEV_OPERATORS,
        );
        Network::new_with_genesis(name, validators, node_bin, &genesis)
    }

    /// Like [`Network::new`] with another application genesis (its chain id is the
    /// network's; its validators should be empty, so CometBFT's genesis validators are
    /// taken at `InitChain`).
    pub fn new_with_genesis(
        name: &str,
        validators: usize,
        node_bin: &Path,
        genesis: &Genesis,
    ) -> Network {
        let cometbft = cometbft_binary();
        let dir = tempfile::Builder::new()
            .prefix(&format!("cascade-{name}-"))
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let app_state = serde_json::to_value(genesis)
            .unwrap_or_else(|e| panic!("cannot encode the genesis: {e}"));
        let spec = TestnetSpec {
            validators,
            dir: dir.path().join("net"),
            base_port: free_base_port(),
            chain_id: genesis.chain_id.clone(),
            app_state,
        };
        let testnet = Testnet::create(&cometbft, &spec)
            .unwrap_or_else(|e| panic!("cannot create the testnet: {e}"));
        let rpcs = testnet
            .nodes
            .iter()
            .map(|n| RpcClient::new(n.rpc_url(), RPC_TIMEOUT))
            .collect();
        let network = Network {
            name: name.to_string(),
            procs: testnet.nodes.iter().map(|_| Procs::default()).collect(),
            testnet,
            dir: Some(dir),
            cometbft,
            node_bin: node_bin.to_path_buf(),
            rpcs,
            started: Instant::now(),
        };
        network.log(&format!(
            "created {validators} validators in {} from base port {}",
            network.testnet.dir.display(),
            spec.base_port
        ));
        network
    }

    /// Creates and starts a network, and waits until every node has committed block 1.
    pub fn start(name: &str, validators: usize, node_bin: &Path) -> Network {
        let mut network = Network::new(name, validators, node_bin);
        network.start_all();
        network
    }

    /// Prints a progress line (shown for failing tests, or with `--nocapture`).
    pub fn log(&self, message: &str) {
        eprintln!(
            "[{} +{:.1}s] {message}",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.testnet.nodes.len()
    }

    /// True if the network has no nodes.
    pub fn is_empty(&self) -> bool {
        self.testnet.nodes.is_empty()
    }

    /// Node `i`'s layout.
    pub fn node(&self, i: usize) -> &TestnetNode {
        &self.testnet.nodes[i]
    }

    /// RPC client of node `i`.
    pub fn rpc(&self, i: usize) -> &RpcClient {
        &self.rpcs[i]
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.testnet.chain_id
    }

    /// Path of node `i`'s application log.
    pub fn app_log(&self, i: usize) -> PathBuf {
        self.node(i).home.join("app.log")
    }

    /// Path of node `i`'s CometBFT log.
    pub fn cometbft_log(&self, i: usize) -> PathBuf {
        self.node(i).home.join("cometbft.log")
    }

    /// Lines of node `i`'s application log that contain `needle`.
    pub fn app_log_lines(&self, i: usize, needle: &str) -> Vec<String> {
        std::fs::read_to_string(self.app_log(i))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }

    /// Lines of node `i`'s CometBFT log that contain `needle`.
    pub fn cometbft_log_lines(&self, i: usize, needle: &str) -> Vec<String> {
        std::fs::read_to_string(self.cometbft_log(i))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }

    /// Edits node `i`'s CometBFT `config.toml` (takes effect at its next start).
    pub fn configure(&self, i: usize, edit: impl FnOnce(&mut ConfigFile)) {
        let path = self.node(i).node_home().config_toml();
        let mut config =
            ConfigFile::load(&path).unwrap_or_else(|e| panic!("node{i}: config.toml: {e}"));
        edit(&mut config);
        config
            .save()
            .unwrap_or_else(|e| panic!("node{i}: config.toml: {e}"));
    }

    /// Makes node `i`'s CometBFT reach its application over a Unix socket
    /// (`<home>/abci.sock`) instead of TCP (takes effect at the next start of both).
    pub fn use_unix_abci(&self, i: usize) {
        let socket = self.node(i).home.join("abci.sock");
        self.configure(i, |cfg| {
            cfg.set(None, "proxy_app", format!("unix://{}", socket.display()))
                .unwrap_or_else(|e| panic!("node{i}: {e}"));
        });
    }

    /// Sets an environment variable for node `i`'s application process, from its next
    /// start on (test switches of `cascade-test-node`).
    pub fn set_app_env(&mut self, i: usize, key: &str, value: &str) {
        let env = &mut self.procs[i].app_env;
        env.retain(|(k, _)| k != key);
        env.push((key.to_string(), value.to_string()));
    }

    /// Removes an environment variable set with [`Network::set_app_env`].
    pub fn clear_app_env(&mut self, i: usize, key: &str) {
        self.procs[i].app_env.retain(|(k, _)| k != key);
    }

    /// Process id of node `i`'s application, while it runs under this harness.
    pub fn app_pid(&self, i: usize) -> Option<u32> {
        self.procs[i].app.as_ref().map(Child::id)
    }

    /// Process id of node `i`'s CometBFT, while it runs under this harness.
    pub fn cometbft_pid(&self, i: usize) -> Option<u32> {
        self.procs[i].cometbft.as_ref().map(Child::id)
    }

    /// Size of node `i`'s application log (an offset for [`Network::wait_app_log`]).
    pub fn app_log_len(&self, i: usize) -> u64 {
        std::fs::metadata(self.app_log(i)).map_or(0, |m| m.len())
    }

    /// Waits (polling every millisecond) until node `i`'s application log has a line
    /// containing `needle` after byte offset `from`; returns that line.
    pub fn wait_app_log(&self, i: usize, from: u64, needle: &str, timeout: Duration) -> String {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.app_log(i);
        wait_until_every(
            &format!("{needle:?} in node{i}'s application log"),
            timeout,
            Duration::from_millis(1),
            || {
                let mut file = File::open(&path).map_err(|e| e.to_string())?;
                file.seek(SeekFrom::Start(from))
                    .map_err(|e| e.to_string())?;
                let mut text = String::new();
                file.read_to_string(&mut text).map_err(|e| e.to_string())?;
                text.lines()
                    .find(|l| l.contains(needle))
                    .map(str::to_string)
                    .ok_or_else(|| "not yet".to_string())
            },
        )
    }

    /// CometBFT's handshake replay decisions in node `i`'s log ("ABCI Replay Blocks …" and
    /// "Replay last block using real app/mock app"), oldest first.
    pub fn replay_log(&self, i: usize) -> Vec<String> {
        std::fs::read_to_string(self.cometbft_log(i))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("ABCI Replay Blocks") || l.contains("Replay last block"))
            .map(|l| {
                // Drop the timestamp prefix and the column padding.
                let text = l.split_once("] ").map_or(l, |(_, rest)| rest);
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect()
    }

    /// Starts every node that is not running and waits until all have committed block 1.
    pub fn start_all(&mut self) {
        for i in 0..self.len() {
            if self.procs[i].app.is_none() {
                self.start_app(i);
            }
            if self.procs[i].cometbft.is_none() {
                self.start_cometbft(i);
            }
        }
        let all: Vec<usize> = (0..self.len()).collect();
        self.wait_height(&all, 1, START_TIMEOUT);
    }

    /// Starts node `i`'s application and CometBFT (application first: CometBFT needs its
    /// ABCI connection at start-up).
    pub fn start_node(&mut self, i: usize) {
        self.start_app(i);
        self.start_cometbft(i);
    }

    /// Starts node `i`'s application and waits until it listens on its ABCI port.
    pub fn start_app(&mut self, i: usize) {
        assert!(
            self.procs[i].app.is_none(),
            "node{i}'s application is already running"
        );
        let node = self.node(i).clone();
        let (out, err) = open_log(&self.app_log(i));
        let child = Command::new(&self.node_bin)
            .arg("start")
            .arg("--no-cometbft")
            .arg("--exit-with-parent")
            .arg("--home")
            .arg(&node.home)
            .envs(self.procs[i].app_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.node_bin.display()));
        self.procs[i].app = Some(child);
        let address = cascade_node::config::proxy_app(&node.node_home())
            .unwrap_or_else(|e| panic!("node{i}: {e}"));
        let log = self.app_log(i);
        let procs = &mut self.procs[i];
        wait_until(
            &format!("node{i}'s application to listen on {address}"),
            START_TIMEOUT,
            || {
                if let Some(app) = procs.app.as_mut() {
                    if let Ok(Some(status)) = app.try_wait() {
                        panic!(
                            "node{i}'s application exited ({status}) during start-up:\n{}",
                            log_tail(&log, 20)
                        );
                    }
                }
                match &address {
                    AbciAddress::Tcp(a) => a
                        .parse::<SocketAddr>()
                        .map_err(|e| e.to_string())
                        .and_then(|a| {
                            TcpStream::connect_timeout(&a, Duration::from_millis(200))
                                .map_err(|e| e.to_string())
                        })
                        .map(|_| ()),
                    AbciAddress::Unix(p) => std::os::unix::net::UnixStream::connect(p)
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                }
            },
        );
        self.log(&format!("node{i}: application started"));
    }

    /// Starts node `i`'s CometBFT (its application must be running).
    pub fn start_cometbft(&mut self, i: usize) {
        assert!(
            self.procs[i].cometbft.is_none(),
            "node{i}'s CometBFT is already running"
        );
        let home = self.node(i).node_home().cometbft();
        let (out, err) = open_log(&self.cometbft_log(i));
        let child = Command::new(&self.cometbft)
            .arg("start")
            .arg("--home")
            .arg(&home)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.cometbft.display()));
        self.procs[i].cometbft = Some(child);
        self.log(&format!("node{i}: CometBFT started"));
    }

    fn kill(child: Option<Child>) {
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILLs node `i`'s application.
    pub fn kill_app(&mut self, i: usize) {
        Network::kill(self.procs[i].app.take());
        self.log(&format!("node{i}: application killed"));
    }

    /// SIGKILLs node `i`'s CometBFT.
    pub fn kill_cometbft(&mut self, i: usize) {
        Network::kill(self.procs[i].cometbft.take());
        self.log(&format!("node{i}: CometBFT killed"));
    }

    /// SIGKILLs node `i`'s application and CometBFT.
    pub fn kill_node(&mut self, i: usize) {
        Network::kill(self.procs[i].app.take());
        Network::kill(self.procs[i].cometbft.take());
        self.log(&format!("node{i}: killed (application and CometBFT)"));
    }

    /// True while node `i`'s application process runs.
    pub fn app_running(&mut self, i: usize) -> bool {
        matches!(
            self.procs[i].app.as_mut().map(Child::try_wait),
            Some(Ok(None))
        )
    }

    /// True while node `i`'s CometBFT process runs.
    pub fn cometbft_running(&mut self, i: usize) -> bool {
        matches!(
            self.procs[i].cometbft.as_mut().map(Child::try_wait),
            Some(Ok(None))
        )
    }

    /// Waits until node `i`'s CometBFT exits by itself and returns its status.
    pub fn wait_cometbft_exit(&mut self, i: usize, timeout: Duration) -> ExitStatus {
        let procs = &mut self.procs[i];
        let status = wait_until(
            &format!("node{i}'s CometBFT to exit by itself"),
            timeout,
            || match procs.cometbft.as_mut().map(Child::try_wait) {
                None => Err("it is not running under this harness".into()),
                Some(Ok(Some(status))) => Ok(status),
                Some(Ok(None)) => Err("still running".into()),
                Some(Err(e)) => Err(e.to_string()),
            },
        );
        self.procs[i].cometbft = None;
        self.log(&format!("node{i}: CometBFT exited by itself ({status})"));
        status
    }

    /// After node `i`'s application died: waits up to `timeout` for its CometBFT to exit by
    /// itself. CometBFT v0.38 notices the dead connection at once ("… connection
    /// terminated. Did the application crash?") and shuts down, but if its consensus routine
    /// was inside an ABCI call at that moment the shutdown never finishes (the call waits
    /// on a stopped socket client). In that case the process is killed here, as any
    /// supervisor would have to. Panics if CometBFT did not notice the crash at all.
    pub fn wait_cometbft_stop_after_app_crash(
        &mut self,
        i: usize,
        timeout: Duration,
    ) -> CometbftStop {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.procs[i].cometbft.as_mut().map(Child::try_wait) {
                self.procs[i].cometbft = None;
                self.log(&format!("node{i}: CometBFT exited by itself ({status})"));
                return CometbftStop::Exited(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.cometbft_log(i)).unwrap_or_default();
        assert!(
            log.contains("connection terminated. Did the application crash?"),
            "node{i}'s CometBFT neither exited nor noticed that its application died:\n{}",
            log_tail(&self.cometbft_log(i), 20)
        );
        Network::kill(self.procs[i].cometbft.take());
        self.log(&format!(
            "node{i}: CometBFT noticed the crash but hung in its shutdown for {timeout:?}; killed it"
        ));
        CometbftStop::HungInShutdown
    }

    /// Adds a non-validator node (its own keys, the same genesis, every node as a peer)
    /// without starting it; returns its index.
    pub fn add_full_node(&mut self) -> usize {
        let index = self
            .testnet
            .add_full_node(&self.cometbft)
            .unwrap_or_else(|e| panic!("cannot add a full node: {e}"));
        self.procs.push(Procs::default());
        self.rpcs
            .push(RpcClient::new(self.node(index).rpc_url(), RPC_TIMEOUT));
        self.log(&format!("node{index}: added as a full node"));
        index
    }

    /// Adds a node that signs with validator `of`'s consensus key: a second instance of that
    /// validator (its own p2p key, ports, application and state, every node as a peer),
    /// without starting it. Running both makes validator `of` double-sign. Returns its
    /// index.
    pub fn add_double_signer(&mut self, of: usize) -> usize {
        let index = self.add_full_node();
        let key = self.node(of).node_home().priv_validator_key();
        let twin_key = self.node(index).node_home().priv_validator_key();
        std::fs::copy(&key, &twin_key).unwrap_or_else(|e| {
            panic!(
                "cannot copy {} to {}: {e}",
                key.display(),
                twin_key.display()
            )
        });
        let (address, pub_key) = (
            self.node(of).validator_address.clone(),
            self.node(of).validator_key,
        );
        let twin = &mut self.testnet.nodes[index];
        twin.validator_address = address;
        twin.validator_key = pub_key;
        self.log(&format!(
            "node{index}: signs with node{of}'s validator key (a double signer)"
        ));
        index
    }

    /// Node `i`'s latest height, or why it could not be read.
    pub fn height(&self, i: usize) -> Result<u64, String> {
        self.rpc(i)
            .status()
            .map(|s| s.latest_block_height)
            .map_err(|e| e.to_string())
    }

    /// Highest latest height among `nodes` that answer.
    pub fn max_height(&self, nodes: &[usize]) -> u64 {
        nodes
            .iter()
            .filter_map(|i| self.height(*i).ok())
            .max()
            .unwrap_or(0)
    }

    /// Waits until every node in `nodes` has committed `height`.
    pub fn wait_height(&self, nodes: &[usize], height: u64, timeout: Duration) {
        wait_until(
            &format!("nodes {nodes:?} to reach height {height}"),
            timeout,
            || {
                let mut behind = Vec::new();
                for i in nodes {
                    match self.height(*i) {
                        Ok(h) if h >= height => {}
                        Ok(h) => behind.push(format!("node{i} at {h}")),
                        Err(e) => behind.push(format!("node{i}: {e}")),
                    }
                }
                if behind.is_empty() {
                    Ok(())
                } else {
                    Err(behind.join(", "))
                }
            },
        );
    }

    /// Waits until `nodes` have committed `blocks` more blocks than the highest of them now;
    /// returns that height.
    pub fn wait_progress(&self, nodes: &[usize], blocks: u64, timeout: Duration) -> u64 {
        let target = self.max_height(nodes) + blocks;
        self.wait_height(nodes, target, timeout);
        target
    }

    /// Waits until every node of `nodes` has reached the highest height any of them had
    /// when called, and is not block-syncing; returns that height.
    pub fn wait_caught_up(&self, nodes: &[usize], timeout: Duration) -> u64 {
        let target = self.max_height(nodes);
        wait_until(
            &format!("nodes {nodes:?} to catch up to height {target}"),
            timeout,
            || {
                let mut behind = Vec::new();
                for i in nodes {
                    match self.rpc(*i).status() {
                        Ok(s) if s.latest_block_height >= target && !s.catching_up => {}
                        Ok(s) => behind.push(format!(
                            "node{i} at {} (catching up: {})",
                            s.latest_block_height, s.catching_up
                        )),
                        Err(e) => behind.push(format!("node{i}: {e}")),
                    }
                }
                if behind.is_empty() {
                    Ok(())
                } else {
                    Err(behind.join(", "))
                }
            },
        );
        target
    }

    /// Checks for `duration` that no node of `nodes` commits a block beyond `height`.
    pub fn assert_stalled(&self, nodes: &[usize], height: u64, duration: Duration) {
        let end = Instant::now() + duration;
        while Instant::now() < end {
            for i in nodes {
                if let Ok(h) = self.height(*i) {
                    assert!(
                        h <= height,
                        "node{i} committed height {h} although the chain should be halted at {height}"
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Block `height` from node `i`.
    pub fn block(&self, i: usize, height: u64) -> Block {
        self.rpc(i)
            .block(height)
            .unwrap_or_else(|e| panic!("node{i}: block {height}: {e}"))
    }

    /// Asserts that every node of `nodes` has the same block hash and the same app hash at
    /// every height in `from..=to` (the header of block h+1 carries the app hash after h,
    /// so `to` should be below the latest height to cover the app hash of `to`).
    pub fn assert_same_blocks(&self, nodes: &[usize], from: u64, to: u64) {
        for height in from..=to {
            let reference = self.block(nodes[0], height);
            for i in &nodes[1..] {
                let block = self.block(*i, height);
                assert_eq!(
                    (&block.hash, &block.app_hash),
                    (&reference.hash, &reference.app_hash),
                    "node{i} and node{} disagree at height {height} (block hash, app hash)",
                    nodes[0]
                );
            }
        }
    }

    /// The evidence committed in block `height` of node `i`.
    pub fn evidence(&self, i: usize, height: u64) -> Vec<CommittedEvidence> {
        let r = self
            .rpc(i)
            .call("block", serde_json::json!({"height": height.to_string()}))
            .unwrap_or_else(|e| panic!("node{i}: block {height}: {e}"));
        let list = r
            .pointer("/block/evidence/evidence")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        list.iter()
            .map(|ev| {
                let text = |v: &serde_json::Value, path: &str| {
                    v.pointer(path)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                let votes: Vec<&serde_json::Value> = ["/value/vote_a", "/value/vote_b"]
                    .iter()
                    .filter_map(|p| ev.pointer(p))
                    .collect();
                CommittedEvidence {
                    kind: text(ev, "/type"),
                    validator_address: votes
                        .first()
                        .map(|v| text(v, "/validator_address"))
                        .unwrap_or_default(),
                    height: votes
                        .first()
                        .and_then(|v| text(v, "/height").parse().ok())
                        .unwrap_or(0),
                    voted_blocks: votes.iter().map(|v| text(v, "/block_id/hash")).collect(),
                }
            })
            .collect()
    }

    /// The block-level events `FinalizeBlock` returned for block `height` of node `i`
    /// (`/block_results`, `finalize_block_events`).
    pub fn block_events(&self, i: usize, height: u64) -> Vec<BlockEvent> {
        let r = self
            .rpc(i)
            .call(
                "block_results",
                serde_json::json!({"height": height.to_string()}),
            )
            .unwrap_or_else(|e| panic!("node{i}: block_results {height}: {e}"));
        let list = r
            .get("finalize_block_events")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        list.iter()
            .map(|ev| BlockEvent {
                kind: ev
                    .get("type")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                attributes: ev
                    .get("attributes")
                    .and_then(serde_json::Value::as_array)
                    .map(|attrs| {
                        attrs
                            .iter()
                            .filter_map(|a| {
                                Some((
                                    a.get("key")?.as_str()?.to_string(),
                                    a.get("value")?.as_str()?.to_string(),
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Every transaction in blocks `from..=to` of node `i`, with its result code.
    pub fn committed_txs(&self, i: usize, from: u64, to: u64) -> Vec<CommittedTx> {
        let mut out = Vec::new();
        for height in from..=to {
            let block = self.block(i, height);
            if block.txs.is_empty() {
                continue;
            }
            let results = self
                .rpc(i)
                .block_results(height)
                .unwrap_or_else(|e| panic!("node{i}: block_results {height}: {e}"));
            assert_eq!(
                results.txs_results.len(),
                block.txs.len(),
                "node{i}: block {height} has {} txs but {} results",
                block.txs.len(),
                results.txs_results.len()
            );
            for (index, (tx, result)) in block.txs.iter().zip(&results.txs_results).enumerate() {
                out.push(CommittedTx {
                    height,
                    index,
                    hash: Hash32(cascade_core::crypto::sha256(tx)),
                    code: result.code,
                });
            }
        }
        out
    }

    /// Counts of each transaction hash in blocks `from..=to` of node `i`.
    pub fn tx_counts(&self, i: usize, from: u64, to: u64) -> BTreeMap<Hash32, usize> {
        let mut counts = BTreeMap::new();
        for tx in self.committed_txs(i, from, to) {
            *counts.entry(tx.hash).or_insert(0) += 1;
        }
        counts
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for procs in &mut self.procs {
            Network::kill(procs.cometbft.take());
            Network::kill(procs.app.take());
        }
        if std::thread::panicking() {
            for i in 0..self.len() {
                eprintln!(
                    "---- node{i} app.log (tail) ----\n{}",
                    log_tail(&self.app_log(i), 15)
                );
                eprintln!(
                    "---- node{i} cometbft.log (tail) ----\n{}",
                    log_tail(&self.cometbft_log(i), 15)
                );
            }
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!(
                    "[{}] test failed: network directory kept at {}",
                    self.name,
                    kept.display()
                );
            }
        }
    }
}
