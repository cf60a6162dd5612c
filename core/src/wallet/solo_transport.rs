//! [`Transport`] over an in-process [`SoloNode`]: the wallet talks to a solo chain the way it
//! talks to a CometBFT node, and the light client checks everything it gets the same way.

use crate::crypto::{sha256, Hash32};
use crate::solo::{SoloNode, SubmitError};
use crate::wallet::transport::{
    BroadcastResult, NodeStatus, QueryResult, Transport, TransportError,
};
use std::sync::{Arc, Mutex, MutexGuard};
use tendermint::node;
use tendermint_light_client_verifier::types::LightBlock;

/// CometBFT's JSON-RPC code for an internal error, which `broadcast_tx_sync` returns for a
/// transaction already in the mempool cache.
pub const RPC_INTERNAL_ERROR: i64 = -32603;

/// A shared solo node as a transport.
#[derive(Clone)]
pub struct SoloTransport {
    node: Arc<Mutex<SoloNode>>,
    name: String,
}

impl std::fmt::Debug for SoloTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoloTransport")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SoloTransport {
    /// A transport over `node`, named `solo:<chain id>`.
    pub fn new(node: Arc<Mutex<SoloNode>>) -> SoloTransport {
        let name = match node.lock() {
            Ok(n) => format!("solo:{}", n.chain_id()),
            Err(_) => "solo".to_string(),
        };
        SoloTransport { node, name }
    }

    /// A transport over `node` with a name of the caller's choice (for reports).
    pub fn named(node: Arc<Mutex<SoloNode>>, name: impl Into<String>) -> SoloTransport {
        SoloTransport {
            node,
            name: name.into(),
        }
    }

    /// The shared node.
    pub fn node(&self) -> &Arc<Mutex<SoloNode>> {
        &self.node
    }

    fn lock(&self) -> Result<MutexGuard<'_, SoloNode>, TransportError> {
        self.node.lock().map_err(|_| TransportError::Unreachable {
            node: self.name.clone(),
            reason: "the solo node's lock is poisoned (a thread panicked while using it)".into(),
        })
    }

    fn not_found(&self, what: String) -> TransportError {
        TransportError::NotFound {
            node: self.name.clone(),
            what,
        }
    }
}

impl Transport for SoloTransport {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn status(&self) -> Result<NodeStatus, TransportError> {
        let node = self.lock()?;
        Ok(NodeStatus {
            chain_id: node.chain_id().to_string(),
            latest_height: node.latest_height(),
        })
    }

    fn light_block(&self, height: u64) -> Result<LightBlock, TransportError> {
        let node = self.lock()?;
        let signed_header = node
            .signed_header(height)
            .map_err(|e| TransportError::Unreachable {
                node: self.name.clone(),
                reason: e.to_string(),
            })?
            .ok_or_else(|| self.not_found(format!("block {height}")))?;
        let validators = node
            .validator_set(height)
            .ok_or_else(|| self.not_found(format!("validators at {height}")))?;
        let next_validators = node
            .validator_set(height + 1)
            .ok_or_else(|| self.not_found(format!("validators at {}", height + 1)))?;
        let address: [u8; 20] = node
            .validator()
            .address
            .as_bytes()
            .try_into()
            .unwrap_or([0; 20]);
        Ok(LightBlock::new(
            signed_header,
            validators,
            next_validators,
            node::Id::new(address),
        ))
    }

    fn query(&self, path: &str) -> Result<QueryResult, TransportError> {
        let node = self.lock()?;
        let resp = node.query(path);
        Ok(QueryResult {
            code: resp.code.value(),
            log: resp.log,
            height: resp.height.value(),
            value: resp.value.to_vec(),
        })
    }

    fn broadcast(&self, tx: &[u8]) -> Result<BroadcastResult, TransportError> {
        let mut node = self.lock()?;
        let hash = Hash32(sha256(tx));
        match node.submit(tx.to_vec()) {
            Ok(hash) => Ok(BroadcastResult {
                code: 0,
                log: String::new(),
                hash,
            }),
            Err(SubmitError::Rejected { code, log, .. }) => Ok(BroadcastResult { code, log, hash }),
            Err(SubmitError::Duplicate { .. }) => Err(TransportError::Rpc {
                node: self.name.clone(),
                code: RPC_INTERNAL_ERROR,
                message: "tx already exists in cache".into(),
            }),
        }
    }
}
