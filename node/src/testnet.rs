//! A local testnet: N validator homes on 127.0.0.1 sharing one genesis.
//!
//! Node `i` lives in `<dir>/node<i>` (a [`NodeHome`]) and listens on
//! `base_port + 10·i` (p2p), `+1` (RPC) and `+2` (ABCI). Every node lists every other as a
//! persistent peer. `<dir>/testnet.json` records the layout ([`Testnet`]) for tools and tests.

use crate::config::{
    self, read_node_id, read_validator_identity, ConfigFile, NodeHome, Ports,
    DEFAULT_VALIDATOR_POWER,
};
use crate::error::NodeError;
use cascade_core::ValidatorKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// File name of the layout record in the testnet directory.
pub const MANIFEST: &str = "testnet.json";

/// Ports reserved per node (p2p, RPC and ABCI use the first three).
pub const PORT_STRIDE: u16 = 10;

/// What to create.
#[derive(Clone, Debug)]
pub struct TestnetSpec {
    /// Number of validators (each one node).
    pub validators: usize,
    /// Directory for the node homes (created; must not already hold a testnet).
    pub dir: PathBuf,
    /// First port; see the module documentation.
    pub base_port: u16,
    /// Chain id.
    pub chain_id: String,
    /// The application state (a Cascade [`cascade_core::Genesis`] as JSON) for `genesis.json`.
    pub app_state: Value,
}

/// One node of a testnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestnetNode {
    /// Position in the testnet (also in the directory name).
    pub index: usize,
    /// CometBFT moniker.
    pub moniker: String,
    /// The node's home (`cascade-node start --home`).
    pub home: PathBuf,
    /// p2p node id.
    pub node_id: String,
    /// Listening ports.
    pub ports: Ports,
    /// CometBFT address of its consensus key.
    pub validator_address: String,
    /// Its consensus key.
    pub validator_key: ValidatorKey,
    /// True if it is in the genesis validator set.
    pub genesis_validator: bool,
}

impl TestnetNode {
    /// The node's home layout.
    pub fn node_home(&self) -> NodeHome {
        NodeHome::new(&self.home)
    }

    /// `id@127.0.0.1:port`, as a persistent peer entry.
    pub fn peer_address(&self) -> String {
        format!("{}@127.0.0.1:{}", self.node_id, self.ports.p2p)
    }

    /// `http://127.0.0.1:<rpc>`.
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.rpc)
    }
}

/// A created testnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Testnet {
    /// Its directory.
    pub dir: PathBuf,
    /// Chain id.
    pub chain_id: String,
    /// First port.
    pub base_port: u16,
    /// The nodes, validators first.
    pub nodes: Vec<TestnetNode>,
}

/// The ports of node `index`.
pub fn ports_for(base_port: u16, index: usize) -> Result<Ports, NodeError> {
    let offset = u16::try_from(index)
        .ok()
        .and_then(|i| i.checked_mul(PORT_STRIDE))
        .and_then(|o| o.checked_add(base_port))
        .filter(|p| p.checked_add(2).is_some())
        .ok_or_else(|| {
            NodeError::Usage(format!(
                "node {index} does not fit in the port range from base port {base_port}"
            ))
        })?;
    Ok(Ports {
        p2p: offset,
        rpc: offset + 1,
        abci: offset + 2,
    })
}

fn create_dir(path: &Path) -> Result<(), NodeError> {
    std::fs::create_dir_all(path).map_err(|e| NodeError::io("cannot create", path, e))
}

/// Runs `cometbft init` for a new node home and reads its identities.
fn init_node(
    cometbft: &Path,
    dir: &Path,
    index: usize,
    base_port: u16,
) -> Result<TestnetNode, NodeError> {
    let ports = ports_for(base_port, index)?;
    let home = NodeHome::new(dir.join(format!("node{index}")));
    if home.cometbft().exists() {
        return Err(NodeError::Usage(format!(
            "{} already exists; remove it or choose another --dir",
            home.cometbft().display()
        )));
    }
    create_dir(&home.data_dir())?;
    crate::cometbft::init(cometbft, &home.cometbft())?;
    let identity = read_validator_identity(&home.priv_validator_key())?;
    Ok(TestnetNode {
        index,
        moniker: format!("node{index}"),
        home: home.root().to_path_buf(),
        node_id: read_node_id(&home.node_key())?,
        ports,
        validator_address: identity.address,
        validator_key: identity.pub_key,
        genesis_validator: false,
    })
}

fn configure(node: &TestnetNode, peers: &[String]) -> Result<(), NodeError> {
    let path = node.node_home().config_toml();
    let mut config = ConfigFile::load(&path)?;
    config::configure_local(&mut config, &node.moniker, node.ports, peers)?;
    config::prefer_unix_abci(&mut config, &node.node_home())?;
    config::tune_for_loopback(&mut config)?;
    config.save()
}

impl Testnet {
    /// Creates the node homes, the shared genesis and the configuration, and writes the
    /// manifest. Runs `cometbft init` once per node.
    pub fn create(cometbft: &Path, spec: &TestnetSpec) -> Result<Testnet, NodeError> {
        if spec.validators == 0 {
            return Err(NodeError::Usage(
                "a testnet needs at least one validator".into(),
            ));
        }
        // What the ledger would refuse at InitChain, refused before anything is created.
        let max = cascade_core::MAX_VALIDATORS as usize;
        if spec.validators > max {
            return Err(NodeError::Usage(format!(
                "a testnet has at most {max} validators (the ledger's limit), not {}",
                spec.validators
            )));
        }
        // App-state validators would replace CometBFT's at InitChain, and they cannot be the
        // keys `cometbft init` is about to generate: no node would ever sign a block.
        let named = spec
            .app_state
            .get("validators")
            .and_then(Value::as_array)
            .is_some_and(|v| !v.is_empty());
        if named {
            return Err(NodeError::Usage(
                "the app state names its own validators; a testnet's validators are its \
                 nodes' new keys, so leave the app state's validators empty"
                    .into(),
            ));
        }
        if spec.dir.join(MANIFEST).exists() {
            return Err(NodeError::Usage(format!(
                "{} already holds a testnet; remove it or choose another --dir",
                spec.dir.display()
            )));
        }
        ports_for(spec.base_port, spec.validators)?;
        create_dir(&spec.dir)?;
        let dir = std::fs::canonicalize(&spec.dir)
            .map_err(|e| NodeError::io("cannot resolve", &spec.dir, e))?;
        let mut nodes = Vec::with_capacity(spec.validators);
        for index in 0..spec.validators {
            let mut node = init_node(cometbft, &dir, index, spec.base_port)?;
            node.genesis_validator = true;
            nodes.push(node);
        }
        // One genesis for all: node 0's, with every validator, the chain id and the app state.
        let first = nodes[0].node_home().genesis_json();
        let mut genesis = config::read_json(&first)?;
        let validators = nodes
            .iter()
            .map(|n| {
                config::ValidatorIdentity {
                    address: n.validator_address.clone(),
                    pub_key: n.validator_key,
                }
                .genesis_entry(&n.moniker, DEFAULT_VALIDATOR_POWER)
            })
            .collect();
        config::set_genesis(
            &first,
            &mut genesis,
            &spec.chain_id,
            spec.app_state.clone(),
            Some(validators),
        )?;
        for node in &nodes {
            config::write_json(&node.node_home().genesis_json(), &genesis)?;
            let peers: Vec<String> = nodes
                .iter()
                .filter(|n| n.index != node.index)
                .map(TestnetNode::peer_address)
                .collect();
            configure(node, &peers)?;
        }
        let testnet = Testnet {
            dir,
            chain_id: spec.chain_id.clone(),
            base_port: spec.base_port,
            nodes,
        };
        testnet.save()?;
        Ok(testnet)
    }

    /// Adds a node that is not a validator: its own keys, the testnet's genesis, every
    /// existing node as a persistent peer. It can become a validator through governance
    /// (`ApproveValidatorChange` of its `validator_key`). Returns its index.
    pub fn add_full_node(&mut self, cometbft: &Path) -> Result<usize, NodeError> {
        let index = self.nodes.len();
        let first = self
            .nodes
            .first()
            .ok_or_else(|| NodeError::Usage("the testnet has no nodes".into()))?;
        let genesis = config::read_json(&first.node_home().genesis_json())?;
        let node = init_node(cometbft, &self.dir, index, self.base_port)?;
        config::write_json(&node.node_home().genesis_json(), &genesis)?;
        let peers: Vec<String> = self.nodes.iter().map(TestnetNode::peer_address).collect();
        configure(&node, &peers)?;
        self.nodes.push(node);
        self.save()?;
        Ok(index)
    }

    /// Reads `<dir>/testnet.json`.
    pub fn load(dir: &Path) -> Result<Testnet, NodeError> {
        let path = dir.join(MANIFEST);
        let value = config::read_json(&path)?;
        serde_json::from_value(value)
            .map_err(|e| NodeError::config(&path, format!("not a testnet manifest: {e}")))
    }

    /// Writes `<dir>/testnet.json`.
    pub fn save(&self) -> Result<(), NodeError> {
        let path = self.dir.join(MANIFEST);
        let value = serde_json::to_value(self)
            .map_err(|e| NodeError::config(&path, format!("cannot encode: {e}")))?;
        config::write_json(&path, &value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bounded() {
        let a = ports_for(26656, 0).unwrap();
        assert_eq!((a.p2p, a.rpc, a.abci), (26656, 26657, 26658));
        let b = ports_for(26656, 3).unwrap();
        assert_eq!((b.p2p, b.rpc, b.abci), (26686, 26687, 26688));
        assert!(ports_for(65533, 0).is_ok_and(|p| p.abci == 65535));
        assert!(ports_for(65534, 0).is_err());
        assert!(ports_for(60000, 1000).is_err());
    }

    /// A testnet the ledger would refuse at `InitChain` (more validators than it allows, or
    /// an app state naming its own validators, which cannot be the keys `cometbft init`
    /// is about to generate, so no node would ever sign a block) is refused before
    /// anything is created.
    #[test]
    fn a_testnet_the_ledger_would_refuse_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let genesis = crate::genesis::dev_genesis("cascade-dev", 1);
        let mut with_validators = genesis.clone();
        with_validators.validators = vec![cascade_core::ValidatorRecord {
            pub_key: cascade_core::testkit::validator_key("elsewhere"),
            power: DEFAULT_VALIDATOR_POWER,
        }];
        let too_many = cascade_core::MAX_VALIDATORS as usize + 1;
        for (validators, app_state, expected) in [
            (too_many, &genesis, "at most 100 validators"),
            (2, &with_validators, "names its own validators"),
        ] {
            let spec = TestnetSpec {
                validators,
                dir: dir.path().join("net"),
                base_port: 20000,
                chain_id: "cascade-dev".into(),
                app_state: serde_json::to_value(app_state).unwrap(),
            };
            // No CometBFT is needed: the refusal comes before any is run.
            match Testnet::create(Path::new("/nonexistent/cometbft"), &spec) {
                Err(NodeError::Usage(reason)) => assert!(reason.contains(expected), "{reason}"),
                other => panic!("{expected}: {other:?}"),
            }
            assert!(!spec.dir.exists(), "{expected}: the directory was created");
        }
    }
}
