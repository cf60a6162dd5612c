//! How a wallet talks to nodes: a small trait a host app can implement (OkHttp,
//! URLSession, …), with a default HTTP implementation against CometBFT's RPC and an
//! in-process one over a solo node.
//!
//! A transport is untrusted by design: everything it returns is checked by the light client
//! (headers, commits, validator sets) or by Merkle proofs (state). A transport only has to
//! move bytes and bound its own waiting.

pub use crate::block_outcome::{BlockOutcome, TxResultDigest};
use crate::crypto::Hash32;
use tendermint_light_client_verifier::types::LightBlock;

/// What went wrong talking to a node (never a verification failure: those are the light
/// client's and the wallet's errors).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The node could not be reached or did not answer in time.
    #[error("node {node} unreachable: {reason}")]
    Unreachable {
        /// Node address or name.
        node: String,
        /// What failed.
        reason: String,
    },
    /// The node answered with something that cannot be parsed.
    #[error("node {node} sent a malformed response: {reason}")]
    Malformed {
        /// Node address or name.
        node: String,
        /// What is wrong.
        reason: String,
    },
    /// The node does not have what was asked (e.g. a height not produced yet or pruned).
    #[error("node {node} does not have {what}")]
    NotFound {
        /// Node address or name.
        node: String,
        /// What was asked.
        what: String,
    },
    /// The node refused the request with a JSON-RPC error (e.g. a transaction already in its
    /// mempool cache).
    #[error("node {node} refused the request (RPC error {code}): {message}")]
    Rpc {
        /// Node address or name.
        node: String,
        /// JSON-RPC error code.
        code: i64,
        /// The node's message (and data).
        message: String,
    },
}

/// A node's view of the chain head (unverified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// Chain id the node says it serves.
    pub chain_id: String,
    /// Latest block height.
    pub latest_height: u64,
}

/// An ABCI query answer (unverified: its value carries proofs the wallet checks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryResult {
    /// 0 on success, else the application's query code.
    pub code: u32,
    /// Error text for a failed query.
    pub log: String,
    /// State version (height) the answer is for.
    pub height: u64,
    /// Borsh-encoded `query::Answer`.
    pub value: Vec<u8>,
}

/// The node's answer to a broadcast (its mempool check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BroadcastResult {
    /// 0 if admitted to the mempool, else the ledger's error code.
    pub code: u32,
    /// Error text.
    pub log: String,
    /// Transaction hash (SHA-256 of the bytes).
    pub hash: Hash32,
}

/// Where a node says a transaction was included, from its transaction index (CometBFT's
/// `tx` RPC). Unproven: the wallet fetches that block and checks the transaction and its
/// result against verified headers, so a node naming the wrong block is caught there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxLocation {
    /// Height of the block holding the transaction.
    pub height: u64,
    /// Its position in that block.
    pub index: u32,
    /// The node's message for a failed transaction (the code itself is proven from the
    /// block's results; this text is not).
    pub log: String,
}

/// A connection to one node.
pub trait Transport: Send + Sync {
    /// A short name for errors and reports (e.g. the URL).
    fn name(&self) -> String;
    /// Chain id and latest height.
    fn status(&self) -> Result<NodeStatus, TransportError>;
    /// Signed header, validator set and next validator set at `height`.
    fn light_block(&self, height: u64) -> Result<LightBlock, TransportError>;
    /// ABCI query at the latest height (see `query::Query::path`).
    fn query(&self, path: &str) -> Result<QueryResult, TransportError>;
    /// Submits transaction bytes to the mempool (CometBFT `broadcast_tx_sync`).
    fn broadcast(&self, tx: &[u8]) -> Result<BroadcastResult, TransportError>;
    /// Block `height`'s transactions and their results (CometBFT `/block` and
    /// `/block_results`), which the wallet checks against the verified headers `height` and
    /// `height + 1` to learn a transaction's outcome without trusting the node's receipt.
    fn block_outcome(&self, height: u64) -> Result<BlockOutcome, TransportError>;
    /// Which block holds the transaction with this hash (SHA-256 of its bytes), by the
    /// node's transaction index (CometBFT `/tx`); `None` if the node knows of no block
    /// holding it (not yet included, or never).
    fn tx_location(&self, hash: &Hash32) -> Result<Option<TxLocation>, TransportError>;
}

/// Parses JSON that comes from outside the library: a node's RPC answer, saved light-client
/// state, a `genesis.json`.
///
/// The tendermint types decode their base64 fields (signatures, keys, query values) with
/// `subtle-encoding` 0.5.1, whose decoder panics on some malformed strings, `"="` among them
/// (found by the `light` fuzz target; see `core/tests/fuzz_regressions.rs`). A lying node must
/// not crash the wallet, and a panic must not reach the host app through the bindings, so a
/// panic while parsing is caught here and reported like any other parse error.
pub fn decode_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match std::panic::catch_unwind(|| serde_json::from_slice::<T>(bytes)) {
        Ok(parsed) => parsed.map_err(|e| e.to_string()),
        Err(_) => Err("a field holds a malformed value (e.g. invalid base64)".into()),
    }
}
