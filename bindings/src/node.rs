//! The embedded solo node: a single-validator Cascade chain inside the app, for demos,
//! offline use and tests. It runs the network's own application code and signs real
//! CometBFT headers, so wallets verify it exactly as they verify a network.

use crate::errors::WalletError;
use crate::errors::{poisoned, NodeError};
use crate::transport::HttpReply;
use crate::types::{hex, parse_public_key, parse_roles, TrustAnchor};
use cascade_core::crypto::sha256;
use cascade_core::solo::SoloNode as CoreNode;
use cascade_core::types::{Genesis, GenesisParticipant as CoreParticipant, Params};
use cascade_core::wallet::solo_transport::SoloTransport;
use cascade_core::{Day, Hash32};
use rand_core::{OsRng, RngCore};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use zeroize::Zeroizing;

/// A participant named in the genesis.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct GenesisParticipant {
    /// Compressed secp256k1 public key (33 bytes, hex).
    pub public_key: String,
    /// Roles (at least one; the genesis needs an operator).
    pub roles: Vec<crate::types::Role>,
    /// Legal identity (hashed by the library: only the hash goes on the ledger).
    pub legal_id: String,
}

/// How to start a solo chain.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SoloConfig {
    /// Chain id (what every transaction names).
    pub chain_id: String,
    /// Genesis day, `YYYY-MM-DD` (UTC midnight is the genesis time).
    pub genesis_day: String,
    /// Initial participants.
    pub participants: Vec<GenesisParticipant>,
    /// Directory to keep the chain in (created if missing; reopened if it holds one); none
    /// keeps it in memory.
    pub data_dir: Option<String>,
}

/// Longest single jump of chain time (ten years): well inside solo wallets' trusting period,
/// so a wallet's last trusted header can always vouch for the next one.
const MAX_ADVANCE_DAYS: u32 = 3650;

/// The file in `data_dir` holding the solo validator's Ed25519 key.
const VALIDATOR_KEY_FILE: &str = "validator.key";

/// A single-validator chain in the app. Thread-safe; wallets made with
/// [`crate::wallet::Wallet::solo`] share it.
#[derive(uniffi::Object)]
pub struct SoloNode {
    node: Arc<Mutex<CoreNode>>,
    /// The node as a live chain, for `rpc_get` (one, so an account's lists asked in a row
    /// are answered from one state).
    live: SoloTransport,
    chain_id: String,
    anchor: TrustAnchor,
}

impl std::fmt::Debug for SoloNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SoloNode({})", self.chain_id)
    }
}

fn config_err(field: &str, reason: impl Into<String>) -> NodeError {
    NodeError::InvalidConfig {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The reason of an input error, without its field name (the caller names the field).
fn reason_of(e: WalletError) -> String {
    match e {
        WalletError::InvalidInput { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// The genesis the config describes.
fn genesis(config: &SoloConfig) -> Result<Genesis, NodeError> {
    let chain_id = config.chain_id.trim();
    // CometBFT's own rule (checked with its parser, so the two cannot drift apart): 1 to 50
    // of A-Z, a-z, 0-9, '-', '_', '.'. Checked here so the error names `chain_id` instead of
    // surfacing later from the node as a genesis (`participants`) error.
    if chain_id.is_empty()
        || chain_id != config.chain_id
        || tendermint::chain::Id::try_from(chain_id).is_err()
    {
        return Err(config_err(
            "chain_id",
            "1 to 50 characters, each a letter, digit, '-', '_' or '.'",
        ));
    }
    let day =
        Day::parse(&config.genesis_day).map_err(|e| config_err("genesis_day", e.to_string()))?;
    if config.participants.is_empty() {
        return Err(config_err(
            "participants",
            "at least one participant (an operator)",
        ));
    }
    let mut participants = Vec::with_capacity(config.participants.len());
    for (i, p) in config.participants.iter().enumerate() {
        let field = |name: &str| format!("participants[{i}].{name}");
        let public_key = parse_public_key("public_key", &p.public_key)
            .map_err(|e| config_err(&field("public_key"), reason_of(e)))?;
        let roles = parse_roles("roles", &p.roles)
            .map_err(|e| config_err(&field("roles"), reason_of(e)))?;
        if p.legal_id.trim().is_empty() {
            return Err(config_err(&field("legal_id"), "must not be empty"));
        }
        participants.push(CoreParticipant {
            public_key,
            roles,
            legal_id_hash: Hash32(sha256(p.legal_id.as_bytes())),
        });
    }
    Ok(Genesis {
        chain_id: config.chain_id.clone(),
        genesis_time: day.unix_seconds(),
        params: Params::default(),
        participants,
        validators: Vec::new(),
    })
}

/// The validator key kept in `dir` (made on first use), or a fresh one for a chain in memory.
fn validator_key(dir: Option<&Path>) -> Result<ed25519_consensus::SigningKey, NodeError> {
    let storage = |e: std::io::Error| NodeError::Storage {
        reason: format!("validator key: {e}"),
    };
    let Some(dir) = dir else {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(seed.as_mut());
        return Ok(ed25519_consensus::SigningKey::from(*seed));
    };
    std::fs::create_dir_all(dir).map_err(storage)?;
    let path = dir.join(VALIDATOR_KEY_FILE);
    if path.exists() {
        let bytes = Zeroizing::new(std::fs::read(&path).map_err(storage)?);
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| NodeError::Storage {
                reason: format!("{} is not a 32-byte key", path.display()),
            })?;
        return Ok(ed25519_consensus::SigningKey::from(seed));
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(seed.as_mut());
    write_private(&path, seed.as_slice()).map_err(storage)?;
    Ok(ed25519_consensus::SigningKey::from(*seed))
}

/// Writes a file only its owner can read (on Unix).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl SoloNode {
    fn lock(&self) -> Result<MutexGuard<'_, CoreNode>, NodeError> {
        self.node.lock().map_err(|_| NodeError::Internal {
            reason: poisoned("solo node"),
        })
    }

    /// The shared core node (for wallets' transports and clocks).
    pub(crate) fn shared(&self) -> Arc<Mutex<CoreNode>> {
        self.node.clone()
    }

    /// Produces one block `seconds` after the latest (committing the mempool).
    fn produce_after(&self, seconds: i64) -> Result<u64, NodeError> {
        let mut node = self.lock()?;
        let time = node
            .latest_time()
            .unix_timestamp()
            .checked_add(seconds)
            .ok_or_else(|| NodeError::InvalidInput {
                field: "days".into(),
                reason: "the block time would overflow".into(),
            })?;
        Ok(node.produce_block(time)?.height)
    }
}

#[uniffi::export]
impl SoloNode {
    /// Starts a solo chain, or reopens the one in `data_dir`. Reopening needs the config the
    /// chain was started with: another genesis (chain id, day, participants) is refused with
    /// `InvalidConfig`, never run over the stored state.
    #[uniffi::constructor]
    pub fn new(config: SoloConfig) -> Result<Arc<SoloNode>, NodeError> {
        let genesis = genesis(&config)?;
        let dir = match &config.data_dir {
            Some(d) if d.trim().is_empty() => {
                return Err(config_err("data_dir", "empty path (use none for memory)"))
            }
            Some(d) => Some(PathBuf::from(d)),
            None => None,
        };
        let key = validator_key(dir.as_deref())?;
        let node = match &dir {
            Some(dir) => CoreNode::open(dir, &genesis, key)?,
            None => CoreNode::in_memory(&genesis, key)?,
        };
        let set = node.validator_set(1).ok_or_else(|| NodeError::Internal {
            reason: "the solo validator set is missing".into(),
        })?;
        let anchor = TrustAnchor {
            chain_id: node.chain_id().to_string(),
            validators_hash: hex(set.hash().as_bytes()),
        };
        let chain_id = node.chain_id().to_string();
        let node = Arc::new(Mutex::new(node));
        Ok(Arc::new(SoloNode {
            live: SoloTransport::live(node.clone()),
            node,
            chain_id,
            anchor,
        }))
    }

    /// Produces the next block one second after the latest (committing the mempool);
    /// returns its height.
    pub fn produce_block(&self) -> Result<u64, NodeError> {
        self.produce_after(1)
    }

    /// Moves chain time `days` whole days ahead with one block there (committing the
    /// mempool); returns its height.
    pub fn advance_days(&self, days: u32) -> Result<u64, NodeError> {
        if days == 0 || days > MAX_ADVANCE_DAYS {
            return Err(NodeError::InvalidInput {
                field: "days".into(),
                reason: format!("{days} is not between 1 and {MAX_ADVANCE_DAYS}"),
            });
        }
        // A block time past the last representable day is this argument's fault: name it.
        self.produce_after(i64::from(days) * 86_400)
            .map_err(|e| match e {
                NodeError::InvalidInput { reason, .. } => NodeError::InvalidInput {
                    field: "days".into(),
                    reason,
                },
                other => other,
            })
    }

    /// Height of the latest block (0 before the first).
    pub fn height(&self) -> Result<u64, NodeError> {
        Ok(self.lock()?.latest_height())
    }

    /// The chain's today: the day of the latest block (the genesis day before the first).
    pub fn today(&self) -> Result<String, NodeError> {
        let time = self.lock()?.latest_time().unix_timestamp();
        Day::from_unix_seconds(time)
            .map(|d| d.to_string())
            .ok_or_else(|| NodeError::Internal {
                reason: format!("block time {time} is before 1970"),
            })
    }

    /// Transactions waiting in the mempool for the next block.
    pub fn pending_transactions(&self) -> Result<u64, NodeError> {
        Ok(self.lock()?.mempool_len() as u64)
    }

    /// What a wallet of this chain trusts: the chain id and the solo validator set's hash.
    pub fn trust_anchor(&self) -> TrustAnchor {
        self.anchor.clone()
    }

    /// The chain id.
    pub fn chain_id(&self) -> String {
        self.chain_id.clone()
    }

    /// Answers a CometBFT JSON-RPC `GET` (`…/status`, `…/commit?height=`, `…/validators?…`,
    /// `…/abci_query?path=`, `…/broadcast_tx_sync?tx=`) from this chain, as a node at any
    /// base URL would. For testing an app's own `HttpClient` with no server: hand it each
    /// URL and return the reply, and a `Wallet::connect_with_client` wallet verifies this
    /// chain through it. Asking for the commit of the block after the latest produces it.
    pub fn rpc_get(&self, url: String) -> HttpReply {
        crate::rpc::get(&self.live, &url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;
    use crate::types::Role;

    fn config(chain_id: &str) -> SoloConfig {
        let key = KeyPair::from_secret(vec![7; 32]).expect("key");
        SoloConfig {
            chain_id: chain_id.into(),
            genesis_day: "2025-01-06".into(),
            participants: vec![GenesisParticipant {
                public_key: key.public_key(),
                roles: vec![Role::Operator],
                legal_id: "op".into(),
            }],
            data_dir: None,
        }
    }

    #[test]
    fn a_chain_id_cometbft_refuses_is_a_config_error_naming_chain_id() {
        for bad in ["a b", "caf\u{e9}", "x\u{0}", "tab\there"] {
            match SoloNode::new(config(bad)) {
                Err(NodeError::InvalidConfig { field, .. }) => {
                    assert_eq!(field, "chain_id", "chain id {bad:?}")
                }
                other => panic!("chain id {bad:?}: {other:?}"),
            }
        }
        assert!(SoloNode::new(config("cascade-test_1.0")).is_ok());
    }

    #[test]
    fn advancing_past_the_last_representable_day_names_days() {
        let mut cfg = config("c");
        cfg.genesis_day = "9999-12-30".into();
        let node = SoloNode::new(cfg).expect("node");
        match node.advance_days(MAX_ADVANCE_DAYS) {
            Err(NodeError::InvalidInput { field, .. }) => assert_eq!(field, "days"),
            other => panic!("{other:?}"),
        }
        assert_eq!(node.height().ok(), Some(0), "nothing was produced");
    }
}
