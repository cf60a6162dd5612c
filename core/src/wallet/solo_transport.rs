//! [`Transport`] over an in-process [`SoloNode`]: the wallet talks to a solo chain the way it
//! talks to a CometBFT node, and the light client checks everything it gets the same way.
//!
//! # Live mode
//!
//! A solo node answers queries for its latest state `H`, whose app hash is only in header
//! `H + 1`; a plain [`SoloTransport`] makes the wallet wait for that block
//! (`AwaitingNextBlock`) until its driver produces one. A CometBFT chain produces blocks all
//! the time, so the next header is there by the time a wallet asks for it.
//! [`SoloTransport::live`] behaves like that chain: asked for block `H + 1` when the node is
//! at `H`, it produces it on the spot (one second after block `H`, committing whatever is in
//! the mempool, as the next block of a live chain would). It also answers the three account
//! lists of one address (holdings, offers in, offers out) from one state: asked for the
//! holdings, it answers all three under one lock and keeps the two offer lists for the
//! questions that follow, so a block produced in between (by another wallet on another
//! thread, or by the app) cannot split them across two states. [`SoloClock`] is the wallet
//! clock that goes with it: chain time, not the phone's.

use crate::crypto::{sha256, Hash32};
use crate::solo::{SoloNode, SubmitError};
use crate::wallet::client::Clock;
use crate::wallet::transport::{
    BlockOutcome, BroadcastResult, NodeStatus, QueryResult, Transport, TransportError, TxLocation,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tendermint::{node, Time};
use tendermint_light_client_verifier::types::LightBlock;

/// CometBFT's JSON-RPC code for an internal error, which `broadcast_tx_sync` returns for a
/// transaction already in the mempool cache.
pub const RPC_INTERNAL_ERROR: i64 = -32603;

/// A shared solo node as a transport.
#[derive(Clone)]
pub struct SoloTransport {
    node: Arc<Mutex<SoloNode>>,
    name: String,
    /// Offer lists answered together with a holdings list, by query path (live mode only).
    live: Option<Arc<Mutex<BTreeMap<String, QueryResult>>>>,
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
        SoloTransport {
            node,
            name,
            live: None,
        }
    }

    /// A transport over `node` that behaves like a live chain (see the module docs): the
    /// block proving the latest state is produced when asked for, and an account's three
    /// lists are answered from one state.
    pub fn live(node: Arc<Mutex<SoloNode>>) -> SoloTransport {
        SoloTransport {
            live: Some(Arc::new(Mutex::new(BTreeMap::new()))),
            ..SoloTransport::new(node)
        }
    }

    /// Whether this transport produces blocks on demand.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// A transport over `node` with a name of the caller's choice (for reports).
    pub fn named(node: Arc<Mutex<SoloNode>>, name: impl Into<String>) -> SoloTransport {
        SoloTransport {
            node,
            name: name.into(),
            live: None,
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

    fn lock_kept<'a>(
        &self,
        kept: &'a Mutex<BTreeMap<String, QueryResult>>,
    ) -> Result<MutexGuard<'a, BTreeMap<String, QueryResult>>, TransportError> {
        kept.lock()
            .map_err(|_| self.unreachable("the kept answers' lock is poisoned".into()))
    }

    fn unreachable(&self, reason: String) -> TransportError {
        TransportError::Unreachable {
            node: self.name.clone(),
            reason,
        }
    }

    /// Header, commit and validator sets of block `height`.
    fn light_block_of(&self, node: &SoloNode, height: u64) -> Result<LightBlock, TransportError> {
        let signed_header = node
            .signed_header(height)
            .map_err(|e| self.unreachable(e.to_string()))?
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
        let mut node = self.lock()?;
        if self.live.is_some() && Some(height) == node.latest_height().checked_add(1) {
            let time = node
                .latest_time()
                .unix_timestamp()
                .checked_add(1)
                .ok_or_else(|| self.unreachable("block time overflow".into()))?;
            node.produce_block(time)
                .map_err(|e| self.unreachable(format!("producing block {height}: {e}")))?;
        }
        self.light_block_of(&node, height)
    }

    fn query(&self, path: &str) -> Result<QueryResult, TransportError> {
        let Some(kept) = &self.live else {
            return Ok(answer(&*self.lock()?, path));
        };
        if let Some(arg) = path.strip_prefix("/holdings/") {
            let others = [format!("/offers_in/{arg}"), format!("/offers_out/{arg}")];
            let (holdings, offers) = {
                let node = self.lock()?;
                let offers = others.map(|p| {
                    let r = answer(&node, &p);
                    (p, r)
                });
                (answer(&node, path), offers)
            };
            let mut kept = self.lock_kept(kept)?;
            kept.extend(offers);
            return Ok(holdings);
        }
        if path.starts_with("/offers_in/") || path.starts_with("/offers_out/") {
            if let Some(r) = self.lock_kept(kept)?.remove(path) {
                return Ok(r);
            }
        }
        Ok(answer(&*self.lock()?, path))
    }

    fn block_outcome(&self, height: u64) -> Result<BlockOutcome, TransportError> {
        let node = self.lock()?;
        node.block_outcome(height)
            .map_err(|e| self.unreachable(e.to_string()))?
            .ok_or_else(|| self.not_found(format!("the results of block {height}")))
    }

    fn tx_location(&self, hash: &Hash32) -> Result<Option<TxLocation>, TransportError> {
        let node = self.lock()?;
        let found = node
            .tx_location(hash)
            .map_err(|e| self.unreachable(e.to_string()))?;
        Ok(found.map(|r| TxLocation {
            height: r.height,
            index: r.index,
            log: r.log,
        }))
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

/// An ABCI query on the node's committed state.
fn answer(node: &SoloNode, path: &str) -> QueryResult {
    let resp = node.query(path);
    QueryResult {
        code: resp.code.value(),
        log: resp.log,
        height: resp.height.value(),
        value: resp.value.to_vec(),
    }
}

/// The wallet clock of a solo chain: the latest block's time plus one second, the way a
/// phone's clock runs a little ahead of a live chain's last block. With it a wallet follows
/// the chain's time (a demo can jump days ahead) and never sees a header "from the future".
#[derive(Clone)]
pub struct SoloClock {
    node: Arc<Mutex<SoloNode>>,
}

impl SoloClock {
    /// The clock of `node`'s chain.
    pub fn new(node: Arc<Mutex<SoloNode>>) -> SoloClock {
        SoloClock { node }
    }
}

impl std::fmt::Debug for SoloClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoloClock").finish_non_exhaustive()
    }
}

impl Clock for SoloClock {
    fn now(&self) -> Time {
        // Reading the time is safe even if a thread panicked holding the lock: the block
        // tip is only replaced whole, after a block is committed.
        let latest = match self.node.lock() {
            Ok(node) => node.latest_time(),
            Err(poisoned) => poisoned.into_inner().latest_time(),
        };
        (latest + Duration::from_secs(1)).unwrap_or(latest)
    }
}
