//! Submitting transactions fast: JSON-RPC batches of `broadcast_tx_async`.
//!
//! CometBFT v0.38's `broadcast_tx_sync` waits for the `CheckTx` answer, and its socket ABCI
//! client flushes a lone request only when a 20 ms timer fires, so one client sending
//! transactions one after another with `broadcast_tx_sync` tops out near 50 per second.
//! `broadcast_tx_async` queues the `CheckTx` and returns at once: requests sent one after
//! another to one node reach `CheckTx` in that order (one ABCI connection, first in first
//! out), which keeps each signer's nonces in order. What `CheckTx` answers is not seen here;
//! callers watch the chain for commits instead.

use base64::Engine as _;
use std::time::Duration;

/// CometBFT's default `rpc.max_request_batch_size`.
pub const DEFAULT_MAX_BATCH: usize = 10;

/// A JSON-RPC client for batches (one HTTP connection kept alive per endpoint).
pub struct BatchClient {
    agent: ureq::Agent,
    max_batch: usize,
}

impl BatchClient {
    /// A client sending at most `max_batch` requests per batch (the node's
    /// `rpc.max_request_batch_size`), with a per-request timeout.
    pub fn new(max_batch: usize, timeout: Duration) -> BatchClient {
        BatchClient {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(timeout)
                .timeout(timeout)
                .build(),
            max_batch: max_batch.max(1),
        }
    }

    /// `broadcast_tx_async` of `txs`, in order, to the node at `url`. Returns the error
    /// messages of the requests CometBFT refused (mempool full, already in its cache), or
    /// `Err` if the node could not be reached (then a part of `txs` may have been queued).
    pub fn broadcast_async(&self, url: &str, txs: &[&[u8]]) -> Result<Vec<String>, String> {
        let mut refused = Vec::new();
        for chunk in txs.chunks(self.max_batch) {
            let requests: Vec<serde_json::Value> = chunk
                .iter()
                .enumerate()
                .map(|(id, tx)| {
                    serde_json::json!({
                        "jsonrpc": "2.0",
                        "id": id,
                        "method": "broadcast_tx_async",
                        "params": {"tx": base64::engine::general_purpose::STANDARD.encode(tx)},
                    })
                })
                .collect();
            let response = match self
                .agent
                .post(url)
                .send_json(serde_json::Value::Array(requests))
            {
                Ok(r) => r,
                Err(ureq::Error::Status(_, r)) => r,
                Err(e) => return Err(e.to_string()),
            };
            let value: serde_json::Value = response.into_json().map_err(|e| e.to_string())?;
            // CometBFT answers a batch of one with a lone object.
            let answers = match value {
                serde_json::Value::Array(list) => list,
                single @ serde_json::Value::Object(_) => vec![single],
                other => return Err(format!("unexpected batch answer: {other}")),
            };
            for answer in &answers {
                if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
                    refused.push(error.to_string());
                }
            }
            if answers.len() != chunk.len() {
                return Err(format!(
                    "{} answers to a batch of {}",
                    answers.len(),
                    chunk.len()
                ));
            }
        }
        Ok(refused)
    }
}
