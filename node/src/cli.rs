//! The `cascade-node` command line: `init`, `start`, `testnet`, `demo`.

use crate::abci::{self, Fatal};
use crate::config::{self, AbciAddress, ConfigFile, NodeHome};
use crate::error::NodeError;
use crate::genesis::{self, DEV_CHAIN_ID, DEV_OPERATORS};
use crate::testnet::{Testnet, TestnetSpec};
use cascade_core::app::App;
use cascade_core::{Genesis, Ledger, ValidatorRecord};
use clap::{Parser, Subcommand};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a stopping CometBFT child gets after SIGTERM before it is killed.
const CHILD_STOP_GRACE: Duration = Duration::from_secs(10);

/// How long the ABCI listener may take to come up.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Cascade node: the ledger's ABCI application for CometBFT v0.38.
#[derive(Debug, Parser)]
#[command(name = "cascade-node", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node home: runs `cometbft init --home DIR/cometbft` and writes the Cascade
    /// genesis (by default the development consortium, whose keys are public) into it.
    Init {
        /// The node's home directory.
        #[arg(long)]
        home: PathBuf,
        /// Chain id (default: the app state's, else cascade-dev).
        #[arg(long)]
        chain_id: Option<String>,
        /// CometBFT moniker (node name).
        #[arg(long)]
        moniker: Option<String>,
        /// A Cascade genesis (JSON) to use instead of the development consortium.
        #[arg(long)]
        app_state: Option<PathBuf>,
        /// Extra development operators operator-0..N-1 (ignored with --app-state).
        #[arg(long, default_value_t = DEV_OPERATORS)]
        operators: usize,
        /// CometBFT binary (default: $CASCADE_COMETBFT, the install script's cache, PATH).
        #[arg(long)]
        cometbft: Option<PathBuf>,
    },
    /// Run the node: serve ABCI on the address of CometBFT's proxy_app and (unless
    /// --no-cometbft) run `cometbft start` as a child; exits when the child exits.
    Start {
        /// The node's home directory.
        #[arg(long)]
        home: PathBuf,
        /// CometBFT binary (default: $CASCADE_COMETBFT, the install script's cache, PATH).
        #[arg(long)]
        cometbft: Option<PathBuf>,
        /// Only serve ABCI; CometBFT is started separately.
        #[arg(long)]
        no_cometbft: bool,
        /// Do not log each finalized block.
        #[arg(long)]
        quiet: bool,
        /// Stop when the parent process exits (for test harnesses, so a killed harness
        /// leaves no orphaned node behind).
        #[arg(long, hide = true)]
        exit_with_parent: bool,
    },
    /// Create N validator homes on 127.0.0.1 with one shared genesis.
    Testnet {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Directory for the node homes (node0, node1, …).
        #[arg(long)]
        dir: PathBuf,
        /// Node i uses base+10i (p2p), +1 (RPC), +2 (ABCI).
        #[arg(long, default_value_t = 26656)]
        base_port: u16,
        /// Chain id (default: the app state's, else cascade-dev).
        #[arg(long)]
        chain_id: Option<String>,
        /// A Cascade genesis (JSON) to use instead of the development consortium.
        #[arg(long)]
        app_state: Option<PathBuf>,
        /// Extra development operators operator-0..N-1 (ignored with --app-state).
        #[arg(long, default_value_t = DEV_OPERATORS)]
        operators: usize,
        /// CometBFT binary (default: $CASCADE_COMETBFT, the install script's cache, PATH).
        #[arg(long)]
        cometbft: Option<PathBuf>,
    },
    /// Give the ledger file's free space back to the file system (the node must be
    /// stopped). Every committed block, value and proof stays as it was.
    Compact {
        /// The node's home directory.
        #[arg(long)]
        home: PathBuf,
    },
    /// Run the end-to-end demo on the in-process ledger.
    Demo,
}

/// Test-only behaviour a test binary may install in the node (see
/// [`main_with_test_hooks`]). The default installs nothing, and `cascade-node` always uses the
/// default.
#[derive(Clone, Default)]
pub struct TestHooks {
    /// Rewrites this node's own proposals and votes for them (a Byzantine proposer).
    pub proposal_tamper: Option<abci::ProposalTamper>,
}

/// Runs the command line of the process and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    main_with_test_hooks(TestHooks::default())
}

/// [`main`] with test hooks installed in `start`. Only the network tests' binary
/// (`cascade-test-node`) calls this with hooks; production code paths call [`main`].
pub fn main_with_test_hooks(hooks: TestHooks) -> ExitCode {
    let cli = Cli::parse();
    match run_with_test_hooks(cli, hooks) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cascade-node: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<ExitCode, NodeError> {
    run_with_test_hooks(cli, TestHooks::default())
}

/// [`run`] with test hooks (used by `start` only).
pub fn run_with_test_hooks(cli: Cli, hooks: TestHooks) -> Result<ExitCode, NodeError> {
    match cli.command {
        Command::Init {
            home,
            chain_id,
            moniker,
            app_state,
            operators,
            cometbft,
        } => {
            let cometbft = crate::cometbft::locate(cometbft.as_deref())?;
            init(
                &cometbft,
                &NodeHome::new(home),
                chain_id,
                moniker,
                app_state.as_deref(),
                operators,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Start {
            home,
            cometbft,
            no_cometbft,
            quiet,
            exit_with_parent,
        } => {
            let cometbft = if no_cometbft {
                None
            } else {
                Some(crate::cometbft::locate(cometbft.as_deref())?)
            };
            start_with_test_hooks(
                &NodeHome::new(home),
                cometbft,
                StartOptions {
                    log_blocks: !quiet,
                    exit_with_parent,
                },
                hooks,
            )
        }
        Command::Testnet {
            validators,
            dir,
            base_port,
            chain_id,
            app_state,
            operators,
            cometbft,
        } => {
            let cometbft = crate::cometbft::locate(cometbft.as_deref())?;
            let (chain_id, app_state, dev) =
                resolve_app_state(chain_id, app_state.as_deref(), operators)?;
            let testnet = Testnet::create(
                &cometbft,
                &TestnetSpec {
                    validators,
                    dir,
                    base_port,
                    chain_id,
                    app_state,
                },
            )?;
            print_testnet(&testnet);
            if dev {
                print!("\n{}", genesis::describe_dev_keys(operators));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Compact { home } => compact(&NodeHome::new(home)),
        Command::Demo => demo(),
    }
}

/// `compact`: compacts `<home>/data/ledger.redb` in place and reports the sizes.
fn compact(home: &NodeHome) -> Result<ExitCode, NodeError> {
    let path = home.ledger();
    let done = cascade_core::store::Store::compact_file(&path).map_err(|e| NodeError::Ledger {
        path: path.clone(),
        source: e.into(),
    })?;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "compacted {}: {:.1} MiB -> {:.1} MiB",
        path.display(),
        mib(done.before),
        mib(done.after)
    );
    Ok(ExitCode::SUCCESS)
}

/// The chain id and app state to write, and whether they are the development ones.
fn resolve_app_state(
    chain_id: Option<String>,
    app_state: Option<&Path>,
    operators: usize,
) -> Result<(String, Value, bool), NodeError> {
    let (genesis, dev) = match app_state {
        None => {
            let chain_id = chain_id.unwrap_or_else(|| DEV_CHAIN_ID.to_string());
            (genesis::dev_genesis(&chain_id, operators), true)
        }
        Some(path) => {
            let value = config::read_json(path)?;
            let mut genesis: Genesis = serde_json::from_value(value)
                .map_err(|e| NodeError::config(path, format!("not a Cascade genesis: {e}")))?;
            match chain_id {
                Some(id) if genesis.chain_id.is_empty() => genesis.chain_id = id,
                Some(id) if id != genesis.chain_id => {
                    return Err(NodeError::Usage(format!(
                        "--chain-id {id:?} differs from the app state's chain id {:?}",
                        genesis.chain_id
                    )))
                }
                _ => {}
            }
            (genesis, false)
        }
    };
    let value = genesis_json(&genesis)?;
    // Refuse what the ledger would refuse at InitChain before anything is written; a
    // stand-in validator plays the part of the ones CometBFT's genesis will list.
    dry_run_genesis(
        &value,
        &[ValidatorRecord {
            pub_key: cascade_core::testkit::validator_key("dry-run"),
            power: config::DEFAULT_VALIDATOR_POWER,
        }],
    )?;
    Ok((genesis.chain_id, value, dev))
}

fn genesis_json(genesis: &Genesis) -> Result<Value, NodeError> {
    serde_json::to_value(genesis)
        .map_err(|e| NodeError::Usage(format!("cannot encode the genesis: {e}")))
}

/// Checks that an app state initialises a ledger, with `validators` standing in for the
/// ones CometBFT will pass at `InitChain` when the app state lists none.
fn dry_run_genesis(app_state: &Value, validators: &[ValidatorRecord]) -> Result<(), NodeError> {
    let mut genesis: Genesis = serde_json::from_value(app_state.clone())
        .map_err(|e| NodeError::Usage(format!("the app state is not a Cascade genesis: {e}")))?;
    if genesis.validators.is_empty() {
        genesis.validators = validators.to_vec();
    }
    let mut ledger = Ledger::in_memory().map_err(|source| NodeError::Ledger {
        path: PathBuf::from("(memory)"),
        source,
    })?;
    ledger
        .init_chain(&genesis)
        .map(|_| ())
        .map_err(|e| NodeError::Usage(format!("the genesis is not valid: {e}")))
}

/// `init`: a single-validator node home.
pub fn init(
    cometbft: &Path,
    home: &NodeHome,
    chain_id: Option<String>,
    moniker: Option<String>,
    app_state: Option<&Path>,
    operators: usize,
) -> Result<(), NodeError> {
    if home.config_toml().exists() {
        return Err(NodeError::Usage(format!(
            "{} is already initialised ({} exists)",
            home.root().display(),
            home.config_toml().display()
        )));
    }
    let (chain_id, app_state, dev) = resolve_app_state(chain_id, app_state, operators)?;
    std::fs::create_dir_all(home.data_dir())
        .map_err(|e| NodeError::io("cannot create", &home.data_dir(), e))?;
    crate::cometbft::init(cometbft, &home.cometbft())?;
    let identity = config::read_validator_identity(&home.priv_validator_key())?;
    let path = home.genesis_json();
    let mut genesis = config::read_json(&path)?;
    config::set_genesis(&path, &mut genesis, &chain_id, app_state, None)?;
    config::write_json(&path, &genesis)?;
    let mut config = ConfigFile::load(&home.config_toml())?;
    if let Some(moniker) = moniker {
        config.set(None, "moniker", moniker)?;
    }
    config::prefer_unix_abci(&mut config, home)?;
    config.save()?;
    println!(
        "initialised {} (chain {chain_id}, validator {})",
        home.root().display(),
        identity.address
    );
    if dev {
        print!("{}", genesis::describe_dev_keys(operators));
    }
    println!(
        "start it with: cascade-node start --home {}",
        home.root().display()
    );
    Ok(())
}

fn print_testnet(testnet: &Testnet) {
    println!(
        "created a {}-validator testnet in {} (chain {})",
        testnet.nodes.len(),
        testnet.dir.display(),
        testnet.chain_id
    );
    for n in &testnet.nodes {
        let abci = config::proxy_app(&n.node_home())
            .map_or_else(|e| format!("unknown ({e})"), |a| a.to_string());
        println!(
            "  {}: p2p {} rpc {} abci {} node id {} validator {}",
            n.moniker, n.ports.p2p, n.ports.rpc, abci, n.node_id, n.validator_address
        );
    }
    println!("start each node (one terminal each):");
    for n in &testnet.nodes {
        println!("  cascade-node start --home {}", n.home.display());
    }
}

fn demo() -> Result<ExitCode, NodeError> {
    let mut out = std::io::stdout();
    cascade_core::demo::run(&mut out)
        .map(|_| ExitCode::SUCCESS)
        .map_err(|e| NodeError::Demo(e.to_string()))
}

/// Options of [`start`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StartOptions {
    /// Log each finalized block to standard error.
    pub log_blocks: bool,
    /// Stop when the parent process exits.
    pub exit_with_parent: bool,
}

/// `start`: serves ABCI for the home's ledger and supervises the CometBFT child (when
/// `cometbft` names the binary).
pub fn start(
    home: &NodeHome,
    cometbft: Option<PathBuf>,
    options: StartOptions,
) -> Result<ExitCode, NodeError> {
    start_with_test_hooks(home, cometbft, options, TestHooks::default())
}

/// [`start`] with test hooks installed in the ABCI server.
pub fn start_with_test_hooks(
    home: &NodeHome,
    cometbft: Option<PathBuf>,
    options: StartOptions,
    hooks: TestHooks,
) -> Result<ExitCode, NodeError> {
    if !home.config_toml().is_file() {
        return Err(NodeError::Usage(format!(
            "{} is not a node home (no {}); create one with `cascade-node init --home {}`",
            home.root().display(),
            home.config_toml().display(),
            home.root().display()
        )));
    }
    let address = config::proxy_app(home)?;
    std::fs::create_dir_all(home.data_dir())
        .map_err(|e| NodeError::io("cannot create", &home.data_dir(), e))?;
    let path = home.ledger();
    // The page cache bounds the application's memory (`<home>/cascade.toml`, see
    // `config::AppSettings`); redb's own default would let it grow to 1 GiB.
    let settings = config::AppSettings::load(home)?;
    let ledger =
        Ledger::open_with_cache(&path, settings.ledger_cache_bytes()).map_err(|source| {
            NodeError::Ledger {
                path: path.clone(),
                source,
            }
        })?;
    eprintln!(
        "cascade-node: ledger page cache {} MiB (ledger_cache_mib in {})",
        settings.ledger_cache_mib,
        home.app_settings().display()
    );
    match ledger.committed() {
        Some(c) => eprintln!(
            "cascade-node: ledger {} at height {} app hash {}",
            path.display(),
            c.version,
            c.app_hash
        ),
        None => eprintln!(
            "cascade-node: ledger {} is empty (waiting for InitChain)",
            path.display()
        ),
    }
    let app = Arc::new(Mutex::new(App::new(ledger)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| NodeError::Server(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve(
        app,
        address,
        cometbft.map(|bin| (bin, home.cometbft())),
        options,
        hooks,
    ))
}

async fn wait_child(
    child: &mut Option<tokio::process::Child>,
) -> std::io::Result<std::process::ExitStatus> {
    match child {
        Some(c) => c.wait().await,
        None => std::future::pending().await,
    }
}

/// Asks the child to stop (SIGTERM), then kills it if it has not after the grace period.
async fn stop_child(child: &mut Option<tokio::process::Child>) {
    let Some(c) = child else { return };
    if let Some(pid) = c.id().and_then(|id| i32::try_from(id).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    match tokio::time::timeout(CHILD_STOP_GRACE, c.wait()).await {
        Ok(_) => {}
        Err(_) => {
            eprintln!(
                "cascade-node: CometBFT did not stop within {CHILD_STOP_GRACE:?}; killing it"
            );
            let _ = c.kill().await;
        }
    }
}

/// Where `start` records the process id of its CometBFT child.
fn pid_file(comet_home: &Path) -> PathBuf {
    comet_home.join("cascade-node-child.pid")
}

/// True if process `pid` runs `cometbft start --home <comet_home>` (Linux `/proc`).
fn is_our_cometbft(pid: i32, comet_home: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let home = comet_home.as_os_str().as_encoded_bytes();
    args.contains(&b"start".as_slice()) && args.contains(&home)
}

/// True if process `pid` exists and is not a zombie.
fn is_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Kills a CometBFT left running by a previous run of this node.
///
/// When the node process dies abruptly (SIGKILL, OOM), its CometBFT child notices the dead
/// ABCI connection and shuts down, but CometBFT v0.38 can hang in that shutdown when its
/// consensus routine was inside an ABCI call. The orphan holds the node's ports and
/// database locks, so the next `start` kills it (identified by the recorded pid *and* its
/// command line) before launching a new one.
async fn reap_stale_cometbft(pid_file: &Path, comet_home: &Path) -> Result<(), NodeError> {
    let Ok(text) = std::fs::read_to_string(pid_file) else {
        return Ok(());
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return Ok(());
    };
    if pid <= 1 || !is_alive(pid) || !is_our_cometbft(pid, comet_home) {
        return Ok(());
    }
    eprintln!(
        "cascade-node: CometBFT (pid {pid}) from a previous run of this node is still running; killing it"
    );
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let deadline = tokio::time::Instant::now() + CHILD_STOP_GRACE;
    while is_alive(pid) {
        if tokio::time::Instant::now() > deadline {
            return Err(NodeError::CometbftExited(format!(
                "the CometBFT left by a previous run (pid {pid}) does not die; stop it by hand"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Makes sure the ABCI address is this node's to serve on, before the server starts.
///
/// [`wait_listening`] knows the server is up when a connection to the address succeeds, so
/// a listener of another process there would pass for ours, and CometBFT would be launched
/// against that process's application. A TCP address is therefore bound once (the way the
/// server binds it) and released; a Unix socket path is cleared only when it holds a
/// socket that nothing listens on (left by a previous run), never a live socket or a
/// file of another kind.
async fn claim_abci_address(address: &AbciAddress) -> Result<(), NodeError> {
    match address {
        AbciAddress::Tcp(a) => tokio::net::TcpListener::bind(a.as_str())
            .await
            .map(drop)
            .map_err(|e| NodeError::Server(format!("cannot listen on {address}: {e}"))),
        AbciAddress::Unix(p) => {
            use std::os::unix::fs::FileTypeExt;
            let kind = match std::fs::symlink_metadata(p) {
                Ok(meta) => meta.file_type(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(NodeError::io("cannot inspect", p, e)),
            };
            if !kind.is_socket() {
                return Err(NodeError::config(
                    p,
                    "the ABCI address (proxy_app) names a path that is not a socket; \
                     refusing to replace it",
                ));
            }
            if tokio::net::UnixStream::connect(p).await.is_ok() {
                return Err(NodeError::Server(format!(
                    "{address} is in use by another process"
                )));
            }
            std::fs::remove_file(p).map_err(|e| NodeError::io("cannot remove", p, e))
        }
    }
}

/// Waits until the ABCI address accepts connections (or the server task ends).
async fn wait_listening(
    address: &AbciAddress,
    server: &mut tokio::task::JoinHandle<Result<(), tower_abci::BoxError>>,
) -> Result<(), NodeError> {
    let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
    loop {
        let connected = match address {
            AbciAddress::Tcp(a) => tokio::net::TcpStream::connect(a).await.is_ok(),
            AbciAddress::Unix(p) => tokio::net::UnixStream::connect(p).await.is_ok(),
        };
        if connected {
            return Ok(());
        }
        if server.is_finished() {
            let reason = match server.await {
                Ok(Ok(())) => "stopped".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            return Err(NodeError::Server(format!(
                "cannot listen on {address}: {reason}"
            )));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(NodeError::Server(format!(
                "not listening on {address} after {LISTEN_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Resolves when the parent process is gone (the process is re-parented), or never if
/// `enabled` is false.
async fn parent_exit(enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    let parent = std::os::unix::process::parent_id();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if std::os::unix::process::parent_id() != parent {
            return;
        }
    }
}

async fn serve(
    app: abci::SharedApp,
    address: AbciAddress,
    cometbft: Option<(PathBuf, PathBuf)>,
    options: StartOptions,
    hooks: TestHooks,
) -> Result<ExitCode, NodeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let fatal = Arc::new(Fatal::default());
    if hooks.proposal_tamper.is_some() {
        eprintln!("cascade-node: TEST HOOK installed: this node proposes tampered blocks");
    }
    let server = abci::server_with_tamper(
        app,
        fatal.clone(),
        options.log_blocks,
        hooks.proposal_tamper,
    )
    .map_err(NodeError::Server)?;
    claim_abci_address(&address).await?;
    let mut server = match address.clone() {
        AbciAddress::Tcp(a) => tokio::spawn(server.listen_tcp(a)),
        AbciAddress::Unix(p) => tokio::spawn(server.listen_unix(p)),
    };
    wait_listening(&address, &mut server).await?;
    eprintln!("cascade-node: serving ABCI on {address}");
    let signal_error = |e: std::io::Error| NodeError::Server(format!("cannot watch signals: {e}"));
    let mut term = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut int = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let mut child = match &cometbft {
        Some((bin, comet_home)) => {
            let pid_file = pid_file(comet_home);
            reap_stale_cometbft(&pid_file, comet_home).await?;
            eprintln!(
                "cascade-node: starting {} start --home {}",
                bin.display(),
                comet_home.display()
            );
            let child = tokio::process::Command::new(bin)
                .arg("start")
                .arg("--home")
                .arg(comet_home)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| NodeError::io("cannot start", bin, e))?;
            if let Some(pid) = child.id() {
                crate::config::write_atomically(&pid_file, format!("{pid}\n").as_bytes())?;
            }
            Some(child)
        }
        None => None,
    };
    tokio::select! {
        result = &mut server => {
            stop_child(&mut child).await;
            let reason = match result {
                Ok(Ok(())) => "stopped".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            Err(NodeError::Server(reason))
        }
        message = fatal.wait() => {
            stop_child(&mut child).await;
            Err(NodeError::Fatal(message))
        }
        status = wait_child(&mut child) => {
            match status {
                Ok(s) if s.success() => {
                    eprintln!("cascade-node: CometBFT exited; stopping");
                    Ok(ExitCode::SUCCESS)
                }
                Ok(s) => Err(NodeError::CometbftExited(s.to_string())),
                Err(e) => Err(NodeError::CometbftExited(e.to_string())),
            }
        }
        _ = term.recv() => {
            eprintln!("cascade-node: SIGTERM; stopping");
            stop_child(&mut child).await;
            Ok(ExitCode::SUCCESS)
        }
        _ = int.recv() => {
            eprintln!("cascade-node: interrupted; stopping");
            stop_child(&mut child).await;
            Ok(ExitCode::SUCCESS)
        }
        _ = parent_exit(options.exit_with_parent) => {
            eprintln!("cascade-node: parent process exited; stopping");
            stop_child(&mut child).await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::bench::{fixture, generate_with, GenerateOptions};

    /// A node home whose ledger has many small blocks (copy-on-write leaves free pages
    /// behind each one); returns the last committed app hash.
    fn home_with_history(home: &NodeHome) -> cascade_core::crypto::Hash32 {
        std::fs::create_dir_all(home.data_dir()).unwrap();
        let workload = generate_with(300, 10, GenerateOptions::default());
        let time = fixture().time;
        let mut ledger = Ledger::open(&home.ledger()).unwrap();
        ledger.init_chain(&workload.genesis).unwrap();
        let blocks = workload.setup.iter().chain(&workload.measured);
        for (height, block) in (1..).zip(blocks) {
            ledger.begin_block(height, time).unwrap();
            for tx in block {
                ledger.deliver_tx(tx).unwrap();
            }
            ledger.commit().unwrap();
        }
        ledger.committed().unwrap().app_hash
    }

    /// `cascade-node compact --home DIR`, parsed as from the command line.
    fn compact_command(dir: &Path) -> Result<ExitCode, NodeError> {
        let dir = dir.to_str().unwrap();
        run(Cli::try_parse_from(["cascade-node", "compact", "--home", dir]).unwrap())
    }

    #[test]
    fn compact_runs_on_a_stopped_nodes_ledger_and_keeps_its_state() {
        let dir = tempfile::tempdir().unwrap();
        let home = NodeHome::new(dir.path().to_path_buf());
        let app_hash = home_with_history(&home);
        let before = std::fs::metadata(home.ledger()).unwrap().len();

        // A running node holds the file: refused, and the ledger is untouched.
        let running = Ledger::open(&home.ledger()).unwrap();
        assert!(matches!(
            compact_command(dir.path()),
            Err(NodeError::Ledger { .. })
        ));
        drop(running);

        assert_eq!(compact_command(dir.path()).unwrap(), ExitCode::SUCCESS);
        let after = std::fs::metadata(home.ledger()).unwrap().len();
        // (That compaction shrinks a grown file is `cascade-core`'s store test; this ledger
        // is too small to have grown past redb's first allocation.)
        assert!(after <= before, "{before} -> {after} bytes");
        let reopened = Ledger::open(&home.ledger()).unwrap();
        assert_eq!(reopened.committed().unwrap().app_hash, app_hash);
    }

    #[test]
    fn compact_without_a_ledger_is_an_error_and_creates_none() {
        let dir = tempfile::tempdir().unwrap();
        let home = NodeHome::new(dir.path().to_path_buf());
        assert!(matches!(
            compact_command(dir.path()),
            Err(NodeError::Ledger { .. })
        ));
        assert!(!home.ledger().exists());
    }
}
