//! A node's home directory, CometBFT's `config.toml` and `genesis.json`, and its key files.
//!
//! `config.toml` is edited with `toml_edit`, so comments and layout written by
//! `cometbft init` survive and only the named keys change.

use crate::error::NodeError;
use base64::Engine as _;
use cascade_core::ValidatorKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use toml_edit::DocumentMut;
use zeroize::Zeroizing;

/// Voting power each validator gets in a generated genesis.
pub const DEFAULT_VALIDATOR_POWER: u64 = 10;

/// The layout of a node's home directory: `<home>/cometbft` is CometBFT's home,
/// `<home>/data/ledger.redb` the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeHome {
    root: PathBuf,
}

impl NodeHome {
    /// The home at `root`.
    pub fn new(root: impl Into<PathBuf>) -> NodeHome {
        NodeHome { root: root.into() }
    }

    /// The home directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// CometBFT's home (`--home` of `cometbft`).
    pub fn cometbft(&self) -> PathBuf {
        self.root.join("cometbft")
    }

    /// CometBFT's `config.toml`.
    pub fn config_toml(&self) -> PathBuf {
        self.cometbft().join("config").join("config.toml")
    }

    /// CometBFT's `genesis.json`.
    pub fn genesis_json(&self) -> PathBuf {
        self.cometbft().join("config").join("genesis.json")
    }

    /// The validator's consensus key.
    pub fn priv_validator_key(&self) -> PathBuf {
        self.cometbft()
            .join("config")
            .join("priv_validator_key.json")
    }

    /// The node's p2p key.
    pub fn node_key(&self) -> PathBuf {
        self.cometbft().join("config").join("node_key.json")
    }

    /// The application's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The ledger database.
    pub fn ledger(&self) -> PathBuf {
        self.data_dir().join("ledger.redb")
    }

    /// The application's own settings, `<home>/cascade.toml` (optional; see
    /// [`AppSettings`]).
    pub fn app_settings(&self) -> PathBuf {
        self.root.join("cascade.toml")
    }
}

/// Default page cache of the ledger database, in MiB (`ledger_cache_mib`); why 64:
/// [`cascade_core::store::NODE_CACHE_MIB`].
pub const DEFAULT_LEDGER_CACHE_MIB: u64 = cascade_core::store::NODE_CACHE_MIB;

/// Largest `ledger_cache_mib` accepted (64 GiB; a larger value is more likely a mistake).
pub const MAX_LEDGER_CACHE_MIB: u64 = 65_536;

/// The application's settings from `<home>/cascade.toml`. The file is optional and every
/// key has a default; an unknown key or a bad value is an error, so a typo is not silently
/// ignored. Today it has one key:
///
/// ```toml
/// # Page cache of the ledger database (redb), in MiB: memory the application may use to keep
/// # database pages. Default 64; 1 to 65536.
/// ledger_cache_mib = 64
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppSettings {
    /// Page cache of the ledger database, in MiB.
    pub ledger_cache_mib: u64,
}

impl Default for AppSettings {
    fn default() -> AppSettings {
        AppSettings {
            ledger_cache_mib: DEFAULT_LEDGER_CACHE_MIB,
        }
    }
}

impl AppSettings {
    /// The page cache size in bytes.
    pub fn ledger_cache_bytes(&self) -> usize {
        usize::try_from(self.ledger_cache_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    /// Reads `<home>/cascade.toml`, or the defaults if there is no such file.
    pub fn load(home: &NodeHome) -> Result<AppSettings, NodeError> {
        let path = home.app_settings();
        match std::fs::read_to_string(&path) {
            Ok(text) => AppSettings::parse(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AppSettings::default()),
            Err(e) => Err(NodeError::io("cannot read", &path, e)),
        }
    }

    /// Parses the text of `path` (see [`AppSettings`]).
    pub fn parse(path: &Path, text: &str) -> Result<AppSettings, NodeError> {
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| NodeError::config(path, format!("not valid TOML: {e}")))?;
        let mut settings = AppSettings::default();
        for (key, item) in doc.as_table().iter() {
            match key {
                "ledger_cache_mib" => {
                    settings.ledger_cache_mib = item
                        .as_integer()
                        .and_then(|n| u64::try_from(n).ok())
                        .filter(|n| (1..=MAX_LEDGER_CACHE_MIB).contains(n))
                        .ok_or_else(|| {
                            NodeError::config(
                                path,
                                format!(
                                    "ledger_cache_mib must be an integer from 1 to {MAX_LEDGER_CACHE_MIB}"
                                ),
                            )
                        })?;
                }
                other => {
                    return Err(NodeError::config(
                        path,
                        format!("unknown setting {other:?} (known: ledger_cache_mib)"),
                    ))
                }
            }
        }
        Ok(settings)
    }
}

/// CometBFT's `config.toml`, loaded for editing.
pub struct ConfigFile {
    path: PathBuf,
    doc: DocumentMut,
}

impl ConfigFile {
    /// Reads and parses the file.
    pub fn load(path: &Path) -> Result<ConfigFile, NodeError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| NodeError::io("cannot read", path, e))?;
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| NodeError::config(path, format!("not valid TOML: {e}")))?;
        Ok(ConfigFile {
            path: path.to_path_buf(),
            doc,
        })
    }

    /// Sets `key` in `[section]` (or at the top level for `None`). The section must exist:
    /// every section this code touches is written by `cometbft init`, so a missing one
    /// means the file is not what we think it is.
    pub fn set(
        &mut self,
        section: Option<&str>,
        key: &str,
        value: impl Into<toml_edit::Value>,
    ) -> Result<(), NodeError> {
        let table = match section {
            None => self.doc.as_table_mut(),
            Some(name) => self
                .doc
                .get_mut(name)
                .and_then(toml_edit::Item::as_table_mut)
                .ok_or_else(|| NodeError::config(&self.path, format!("no [{name}] table")))?,
        };
        match table.get_mut(key).and_then(toml_edit::Item::as_value_mut) {
            // Replace only the value, so the key's comment and layout stay.
            Some(old) => {
                let decor = old.decor().clone();
                *old = value.into();
                *old.decor_mut() = decor;
            }
            None => {
                table.insert(key, toml_edit::value(value));
            }
        }
        Ok(())
    }

    /// A string value of `key` in `[section]` (or the top level).
    pub fn get_str(&self, section: Option<&str>, key: &str) -> Option<&str> {
        let table = match section {
            None => self.doc.as_table(),
            Some(name) => self.doc.get(name)?.as_table()?,
        };
        table.get(key)?.as_str()
    }

    /// Writes the file back (atomically, see [`write_atomically`]).
    pub fn save(&self) -> Result<(), NodeError> {
        write_atomically(&self.path, self.doc.to_string().as_bytes())
    }
}

/// Where the application serves ABCI, from CometBFT's `proxy_app` setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AbciAddress {
    /// `tcp://host:port`.
    Tcp(String),
    /// `unix:///path`.
    Unix(PathBuf),
}

impl std::fmt::Display for AbciAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AbciAddress::Tcp(a) => write!(f, "tcp://{a}"),
            AbciAddress::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// Parses a `proxy_app` value (`tcp://host:port` or `unix://path`).
pub fn parse_abci_address(value: &str) -> Option<AbciAddress> {
    if let Some(rest) = value.strip_prefix("tcp://") {
        let (host, port) = rest.rsplit_once(':')?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return None;
        }
        Some(AbciAddress::Tcp(rest.to_string()))
    } else if let Some(rest) = value.strip_prefix("unix://") {
        (!rest.is_empty()).then(|| AbciAddress::Unix(PathBuf::from(rest)))
    } else {
        None
    }
}

/// The ABCI address CometBFT of this home connects to.
pub fn proxy_app(home: &NodeHome) -> Result<AbciAddress, NodeError> {
    let path = home.config_toml();
    let config = ConfigFile::load(&path)?;
    let value = config
        .get_str(None, "proxy_app")
        .ok_or_else(|| NodeError::config(&path, "no proxy_app setting"))?;
    parse_abci_address(value).ok_or_else(|| {
        NodeError::config(
            &path,
            format!("proxy_app {value:?} is not tcp://host:port or unix://path (a built-in app name cannot be served by cascade-node)"),
        )
    })
}

/// The addresses one node listens on, all on 127.0.0.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ports {
    /// Peer-to-peer.
    pub p2p: u16,
    /// CometBFT RPC (HTTP JSON-RPC).
    pub rpc: u16,
    /// ABCI (the application).
    pub abci: u16,
}

/// Points a node at 127.0.0.1 `ports`, names it and sets its persistent peers.
pub fn configure_local(
    config: &mut ConfigFile,
    moniker: &str,
    ports: Ports,
    persistent_peers: &[String],
) -> Result<(), NodeError> {
    config.set(None, "moniker", moniker)?;
    config.set(None, "proxy_app", format!("tcp://127.0.0.1:{}", ports.abci))?;
    config.set(
        Some("rpc"),
        "laddr",
        format!("tcp://127.0.0.1:{}", ports.rpc),
    )?;
    config.set(
        Some("p2p"),
        "laddr",
        format!("tcp://127.0.0.1:{}", ports.p2p),
    )?;
    config.set(Some("p2p"), "persistent_peers", persistent_peers.join(","))?;
    Ok(())
}

/// Longest Unix socket path accepted (`sun_path` is 108 bytes on Linux, 104 on macOS).
const MAX_SOCKET_PATH: usize = 100;

/// Points CometBFT at the application over a Unix socket in the node's home
/// (`<home>/abci.sock`) when its path is short enough, and leaves `proxy_app` as it is
/// otherwise. Returns the address now configured.
///
/// Why: the application and CometBFT always run on the same machine, and tower-abci does not
/// set `TCP_NODELAY` on its TCP connections, so every ABCI round trip over TCP waits on
/// Nagle's algorithm (about 40 ms measured). The network bench measured p50 commit latency
/// at about 700 ms over TCP and about 380 ms over a Unix socket.
pub fn prefer_unix_abci(
    config: &mut ConfigFile,
    home: &NodeHome,
) -> Result<AbciAddress, NodeError> {
    let socket = home.root().join("abci.sock");
    if socket.as_os_str().len() <= MAX_SOCKET_PATH {
        config.set(None, "proxy_app", format!("unix://{}", socket.display()))?;
        return Ok(AbciAddress::Unix(socket));
    }
    let value = config
        .get_str(None, "proxy_app")
        .unwrap_or_default()
        .to_string();
    parse_abci_address(&value).ok_or_else(|| {
        NodeError::config(
            &home.config_toml(),
            format!("proxy_app {value:?} is not usable"),
        )
    })
}

/// Settings for several nodes on one machine: peers on one IP, short consensus timeouts
/// (loopback latency is well under a millisecond), no metrics or profiling listeners.
pub fn tune_for_loopback(config: &mut ConfigFile) -> Result<(), NodeError> {
    config.set(Some("p2p"), "addr_book_strict", false)?;
    config.set(Some("p2p"), "allow_duplicate_ip", true)?;
    config.set(Some("p2p"), "flush_throttle_timeout", "10ms")?;
    config.set(Some("rpc"), "pprof_laddr", "")?;
    config.set(Some("instrumentation"), "prometheus", false)?;
    for (key, value) in [
        ("timeout_propose", "1s"),
        ("timeout_propose_delta", "200ms"),
        ("timeout_prevote", "300ms"),
        ("timeout_prevote_delta", "100ms"),
        ("timeout_precommit", "300ms"),
        ("timeout_precommit_delta", "100ms"),
        ("timeout_commit", "400ms"),
    ] {
        config.set(Some("consensus"), key, value)?;
    }
    Ok(())
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Result<Value, NodeError> {
    let text = std::fs::read_to_string(path).map_err(|e| NodeError::io("cannot read", path, e))?;
    serde_json::from_str(&text).map_err(|e| NodeError::config(path, format!("not valid JSON: {e}")))
}

/// Writes a JSON file (pretty-printed, atomically, see [`write_atomically`]).
pub fn write_json(path: &Path, value: &Value) -> Result<(), NodeError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| NodeError::config(path, format!("cannot encode JSON: {e}")))?;
    write_atomically(path, (text + "\n").as_bytes())
}

/// Replaces `path` with `bytes` so that a crash or a full disk leaves either the old file
/// or the new one, never half of one: the bytes go to a temporary file beside it, are
/// flushed to disk, and the temporary file is renamed over `path` (a rename within one
/// directory is atomic). A config or genesis cut short would stop the node at its next
/// start with a parse error far from the cause.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    use std::io::Write as _;
    let name = path
        .file_name()
        .ok_or_else(|| NodeError::config(path, "not a file path"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(".tmp");
    let temp = path.with_file_name(temp_name);
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        // The replacement keeps the file's permissions (an operator may have narrowed them).
        if let Ok(existing) = std::fs::metadata(path) {
            file.set_permissions(existing.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        // Best effort: the temporary file is ours and worthless now.
        let _ = std::fs::remove_file(&temp);
        return Err(NodeError::io("cannot write", path, e));
    }
    // Make the rename itself durable (best effort: not every platform syncs directories).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// A validator's consensus key, as CometBFT's `priv_validator_key.json` states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorIdentity {
    /// CometBFT validator address (upper-case hex of the first 20 bytes of SHA-256 of the key).
    pub address: String,
    /// The Ed25519 public key.
    pub pub_key: ValidatorKey,
}

impl ValidatorIdentity {
    /// The entry for this validator in a CometBFT genesis `validators` list.
    pub fn genesis_entry(&self, name: &str, power: u64) -> Value {
        json!({
            "address": self.address,
            "pub_key": {
                "type": "tendermint/PubKeyEd25519",
                "value": base64::engine::general_purpose::STANDARD.encode(self.pub_key.0),
            },
            "power": power.to_string(),
            "name": name,
        })
    }
}

/// The CometBFT address of an Ed25519 validator key.
pub fn validator_address(key: &ValidatorKey) -> String {
    let digest = Sha256::digest(key.0);
    upper_hex(&digest[..20])
}

/// Upper-case hex, as CometBFT prints addresses and hashes.
pub fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn ed25519_from_json(path: &Path, key: &Value, expected_type: &str) -> Result<Vec<u8>, NodeError> {
    let key_type = key.get("type").and_then(Value::as_str).unwrap_or("");
    if key_type != expected_type {
        return Err(NodeError::config(
            path,
            format!(
                "key type {key_type:?} is not {expected_type:?} (only Ed25519 keys are supported)"
            ),
        ));
    }
    let value = key
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| NodeError::config(path, "key has no value"))?;
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| NodeError::config(path, format!("key is not base64: {e}")))
}

/// Reads `priv_validator_key.json` (only its public half is used).
pub fn read_validator_identity(path: &Path) -> Result<ValidatorIdentity, NodeError> {
    let doc = read_json(path)?;
    let pub_key = doc
        .get("pub_key")
        .ok_or_else(|| NodeError::config(path, "no pub_key"))?;
    let bytes = ed25519_from_json(path, pub_key, "tendermint/PubKeyEd25519")?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| NodeError::config(path, "Ed25519 public key is not 32 bytes"))?;
    let pub_key = ValidatorKey(key);
    if !pub_key.is_valid() {
        return Err(NodeError::config(path, "not a valid Ed25519 public key"));
    }
    Ok(ValidatorIdentity {
        address: validator_address(&pub_key),
        pub_key,
    })
}

/// `node_key.json` as CometBFT writes it. The key's value borrows from the file's text, which
/// [`read_node_id`] holds in a zeroizing buffer, so no copy of the secret outlives the call.
#[derive(serde::Deserialize)]
struct NodeKeyFile<'a> {
    #[serde(borrow)]
    priv_key: NodeKeyJson<'a>,
}

#[derive(serde::Deserialize)]
struct NodeKeyJson<'a> {
    #[serde(rename = "type")]
    key_type: &'a str,
    value: &'a str,
}

/// The p2p node id from `node_key.json`: lower-case hex of the first 20 bytes of SHA-256 of
/// the Ed25519 public key (the last 32 bytes of the stored 64-byte private key).
///
/// Only the public half is needed, but the file holds the private key, so the file's text
/// and the decoded key bytes live in [`Zeroizing`] buffers and are wiped on return (also on
/// every error path).
pub fn read_node_id(path: &Path) -> Result<String, NodeError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| NodeError::io("cannot read", path, e))?,
    );
    let file: NodeKeyFile<'_> = serde_json::from_str(&text).map_err(|e| {
        // Only the position: serde_json's message can quote a value, which may be the key.
        NodeError::config(
            path,
            format!(
                "not a CometBFT node key file (invalid {} at line {}, column {})",
                match e.classify() {
                    serde_json::error::Category::Data => "content",
                    _ => "JSON",
                },
                e.line(),
                e.column()
            ),
        )
    })?;
    const EXPECTED: &str = "tendermint/PrivKeyEd25519";
    if file.priv_key.key_type != EXPECTED {
        return Err(NodeError::config(
            path,
            format!(
                "key type {:?} is not {EXPECTED:?} (only Ed25519 keys are supported)",
                file.priv_key.key_type
            ),
        ));
    }
    // Capacity for the decoded bytes up front, so decoding never reallocates (a reallocation
    // would leave an unwiped copy of the key behind).
    let mut bytes = Zeroizing::new(Vec::with_capacity(file.priv_key.value.len()));
    base64::engine::general_purpose::STANDARD
        .decode_vec(file.priv_key.value, &mut bytes)
        .map_err(|e| NodeError::config(path, format!("key is not base64: {e}")))?;
    if bytes.len() != 64 {
        return Err(NodeError::config(
            path,
            "Ed25519 private key is not 64 bytes",
        ));
    }
    let digest = Sha256::digest(&bytes[32..]);
    Ok(digest[..20].iter().map(|b| format!("{b:02x}")).collect())
}

/// Sets the chain id and the application state of a CometBFT genesis document, and the
/// validators when given.
pub fn set_genesis(
    path: &Path,
    genesis: &mut Value,
    chain_id: &str,
    app_state: Value,
    validators: Option<Vec<Value>>,
) -> Result<(), NodeError> {
    let doc = genesis
        .as_object_mut()
        .ok_or_else(|| NodeError::config(path, "genesis is not a JSON object"))?;
    doc.insert("chain_id".into(), Value::String(chain_id.into()));
    doc.insert("app_state".into(), app_state);
    if let Some(validators) = validators {
        doc.insert("validators".into(), Value::Array(validators));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replaced file has the new content and its old permissions, and no temporary file is
    /// left; when the write cannot happen, the old file is untouched and the error names it.
    #[test]
    fn files_are_replaced_whole_or_not_at_all() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "old = 1\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&path, b"new = 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new = 2\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.toml")]);

        // The temporary file's place is taken (a directory): nothing is written.
        std::fs::create_dir(dir.path().join(".config.toml.tmp")).unwrap();
        match write_atomically(&path, b"half") {
            Err(NodeError::Io { context, .. }) => assert!(context.contains("config.toml")),
            other => panic!("expected an I/O error, got {other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new = 2\n");
    }

    /// A key file written by `cometbft init` (v0.38.26, a throwaway key) and the id that
    /// `cometbft show-node-id` printed for it: the id is computed the way CometBFT does.
    const COMETBFT_NODE_KEY: &str = r#"{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"UoKyI2CzovAtfx1RXkcnetDJURdpfcyhHRj7pckdaXEf+rPkwaiBLozk2w9WtdVV93XJS9CEwvAz1qf5Phxchw=="}}"#;
    const COMETBFT_NODE_ID: &str = "7e47e3e80dbef3c4e0b391b3d86297942d0bc6c5";

    fn node_id_of(text: &str) -> Result<String, NodeError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node_key.json");
        std::fs::write(&path, text).unwrap();
        read_node_id(&path)
    }

    #[test]
    fn node_id_matches_cometbft() {
        assert_eq!(node_id_of(COMETBFT_NODE_KEY).unwrap(), COMETBFT_NODE_ID);
    }

    #[test]
    fn bad_node_key_files_are_typed_errors_without_the_secret() {
        let secret = "UoKyI2CzovAtfx1RXkcnetDJURdpfcyhHRj7pckdaXEf+rPkwaiBLozk2w9WtdVV93XJS9CEwvAz1qf5Phxchw==";
        let cases = [
            ("not json", "not a CometBFT node key file"),
            (r#"{"other":1}"#, "not a CometBFT node key file"),
            (
                &format!(r#"{{"priv_key":"{secret}"}}"#),
                "not a CometBFT node key file",
            ),
            (
                &COMETBFT_NODE_KEY.replace("PrivKeyEd25519", "PrivKeySecp256k1"),
                "only Ed25519 keys are supported",
            ),
            (
                &COMETBFT_NODE_KEY.replace("UoKy", "Uo*y"),
                "key is not base64",
            ),
            (&COMETBFT_NODE_KEY.replace(secret, "AAAA"), "not 64 bytes"),
        ];
        for (text, expected) in cases {
            let err = node_id_of(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
            assert!(
                !err.contains(&secret[..16]),
                "the error shows the key: {err}"
            );
        }
    }

    #[test]
    fn abci_addresses() {
        assert_eq!(
            parse_abci_address("tcp://127.0.0.1:26658"),
            Some(AbciAddress::Tcp("127.0.0.1:26658".into()))
        );
        assert_eq!(
            parse_abci_address("unix:///tmp/app.sock"),
            Some(AbciAddress::Unix("/tmp/app.sock".into()))
        );
        assert_eq!(parse_abci_address("kvstore"), None);
        assert_eq!(parse_abci_address("tcp://127.0.0.1:http"), None);
        assert_eq!(parse_abci_address("tcp://:1"), None);
    }

    #[test]
    fn abci_prefers_a_unix_socket_in_the_home_when_its_path_fits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "proxy_app = \"tcp://127.0.0.1:26658\"\n").unwrap();
        let mut config = ConfigFile::load(&path).unwrap();
        let home = NodeHome::new(dir.path().join("node0"));
        let socket = home.root().join("abci.sock");
        assert_eq!(
            prefer_unix_abci(&mut config, &home).unwrap(),
            AbciAddress::Unix(socket.clone())
        );
        let expected = format!("unix://{}", socket.display());
        assert_eq!(config.get_str(None, "proxy_app"), Some(expected.as_str()));

        // Too long for a socket address: TCP stays.
        let mut config = ConfigFile::load(&path).unwrap();
        let long = NodeHome::new(dir.path().join("n".repeat(MAX_SOCKET_PATH)));
        assert_eq!(
            prefer_unix_abci(&mut config, &long).unwrap(),
            AbciAddress::Tcp("127.0.0.1:26658".into())
        );
        assert_eq!(
            config.get_str(None, "proxy_app"),
            Some("tcp://127.0.0.1:26658")
        );
    }

    #[test]
    fn config_edits_keep_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "# top\nproxy_app = \"tcp://127.0.0.1:26658\"\nmoniker = \"x\"\n\n[p2p]\n# the listen address\nladdr = \"tcp://0.0.0.0:26656\"\npersistent_peers = \"\"\n",
        )
        .unwrap();
        let mut config = ConfigFile::load(&path).unwrap();
        config
            .set(Some("p2p"), "laddr", "tcp://127.0.0.1:1")
            .unwrap();
        assert!(config.set(Some("nope"), "a", 1).is_err());
        config.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# the listen address"));
        assert!(text.contains("laddr = \"tcp://127.0.0.1:1\""));
        let config = ConfigFile::load(&path).unwrap();
        assert_eq!(config.get_str(None, "moniker"), Some("x"));
    }

    #[test]
    fn app_settings_default_parse_and_refuse_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let home = NodeHome::new(dir.path());
        // No file: the defaults.
        let settings = AppSettings::load(&home).unwrap();
        assert_eq!(settings.ledger_cache_mib, DEFAULT_LEDGER_CACHE_MIB);
        assert_eq!(settings.ledger_cache_bytes(), 64 * 1024 * 1024);

        std::fs::write(home.app_settings(), "# comment\nledger_cache_mib = 16\n").unwrap();
        let settings = AppSettings::load(&home).unwrap();
        assert_eq!(settings.ledger_cache_mib, 16);
        assert_eq!(settings.ledger_cache_bytes(), 16 << 20);
        assert_eq!(
            AppSettings::parse(&home.app_settings(), "").unwrap(),
            AppSettings::default()
        );

        for (text, expected) in [
            (
                "ledger_cache_mib = 0",
                "ledger_cache_mib must be an integer from 1 to 65536",
            ),
            (
                "ledger_cache_mib = -5",
                "ledger_cache_mib must be an integer from 1 to 65536",
            ),
            (
                "ledger_cache_mib = 65537",
                "ledger_cache_mib must be an integer from 1 to 65536",
            ),
            (
                "ledger_cache_mib = \"64\"",
                "ledger_cache_mib must be an integer from 1 to 65536",
            ),
            (
                "ledger_cache_mb = 64",
                "unknown setting \"ledger_cache_mb\" (known: ledger_cache_mib)",
            ),
        ] {
            match AppSettings::parse(&home.app_settings(), text) {
                Err(NodeError::Config { path, reason }) => {
                    assert_eq!(path, home.app_settings(), "{text}");
                    assert_eq!(reason, expected, "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            AppSettings::parse(&home.app_settings(), "ledger_cache_mib = "),
            Err(NodeError::Config { reason, .. }) if reason.starts_with("not valid TOML")
        ));
    }
}
