//! A small blocking client for CometBFT's JSON-RPC (HTTP POST, JSON-RPC 2.0), with typed
//! results for the calls tools and tests need.
//!
//! Every response is parsed defensively: a missing or malformed field is an
//! [`RpcError::Malformed`] naming the call and the field, never a panic.

use base64::Engine as _;
use cascade_core::codec;
use cascade_core::query::{Answer, Query};
use cascade_core::{Hash32, TxReceipt};
use serde_json::{json, Value};
use std::time::Duration;

/// A failed RPC call.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The HTTP request did not complete (connection refused, timeout, HTTP error status).
    #[error("{url} {method}: {reason}")]
    Transport {
        /// Endpoint.
        url: String,
        /// JSON-RPC method.
        method: String,
        /// What happened.
        reason: String,
    },
    /// CometBFT answered with a JSON-RPC error.
    #[error("{method}: RPC error {code}: {message} {data}")]
    Server {
        /// JSON-RPC method.
        method: String,
        /// JSON-RPC error code.
        code: i64,
        /// Error message.
        message: String,
        /// Error details (e.g. "tx already exists in cache").
        data: String,
    },
    /// The answer is not shaped as expected.
    #[error("{method}: malformed response: {reason}")]
    Malformed {
        /// JSON-RPC method.
        method: String,
        /// What is wrong.
        reason: String,
    },
}

/// `status`: the node's view of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// p2p node id.
    pub node_id: String,
    /// Latest committed height.
    pub latest_block_height: u64,
    /// App hash after the latest block (upper-case hex).
    pub latest_app_hash: String,
    /// True while the node is block-syncing.
    pub catching_up: bool,
    /// This node's validator address (upper-case hex).
    pub validator_address: String,
    /// This node's voting power (0 if it is not a validator).
    pub voting_power: u64,
}

/// A signature in a block's `last_commit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitSig {
    /// Validator address (upper-case hex; empty for an absent vote).
    pub validator_address: String,
    /// 1 absent, 2 commit, 3 nil.
    pub block_id_flag: u64,
}

/// `block`: a block's header fields, transactions and last commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Height.
    pub height: u64,
    /// Block hash (upper-case hex).
    pub hash: String,
    /// App hash after the previous block (upper-case hex), as the header carries it.
    pub app_hash: String,
    /// Proposer address (upper-case hex).
    pub proposer_address: String,
    /// Block time (RFC 3339).
    pub time: String,
    /// Raw transactions.
    pub txs: Vec<Vec<u8>>,
    /// Signatures of the previous block's commit.
    pub last_commit: Vec<CommitSig>,
}

impl Block {
    /// Addresses that signed the previous block (flag "commit").
    pub fn committed_signers(&self) -> Vec<&str> {
        self.last_commit
            .iter()
            .filter(|s| s.block_id_flag == 2)
            .map(|s| s.validator_address.as_str())
            .collect()
    }
}

/// One transaction's result in `block_results`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxResult {
    /// 0 for success.
    pub code: u32,
    /// Result data: a successful transaction's events (`cascade_core::event::result_data`).
    pub data: Vec<u8>,
    /// Error message.
    pub log: String,
}

/// `block_results`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockResults {
    /// Height.
    pub height: u64,
    /// One result per transaction of the block, in order.
    pub txs_results: Vec<TxResult>,
    /// Validator updates returned by `FinalizeBlock` (raw JSON).
    pub validator_updates: Vec<Value>,
    /// App hash after this block (upper-case hex).
    pub app_hash: String,
}

/// `broadcast_tx_sync`: the `CheckTx` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broadcast {
    /// `CheckTx` code (0 accepted).
    pub code: u32,
    /// `CheckTx` log (the error message).
    pub log: String,
    /// Transaction hash (upper-case hex).
    pub hash: String,
}

/// `abci_query`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbciQuery {
    /// 0 for success.
    pub code: u32,
    /// Error message.
    pub log: String,
    /// Answer bytes.
    pub value: Vec<u8>,
    /// Height the answer is for.
    pub height: u64,
}

/// One entry of `validators`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Address (upper-case hex).
    pub address: String,
    /// Ed25519 public key.
    pub pub_key: Vec<u8>,
    /// Voting power.
    pub voting_power: u64,
}

/// A client for one CometBFT RPC endpoint.
#[derive(Clone)]
pub struct RpcClient {
    url: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient").field("url", &self.url).finish()
    }
}

fn b64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Reads a field path from a JSON value.
struct Fields<'a> {
    method: &'a str,
}

impl Fields<'_> {
    fn bad(&self, reason: impl Into<String>) -> RpcError {
        RpcError::Malformed {
            method: self.method.to_string(),
            reason: reason.into(),
        }
    }

    fn get<'v>(&self, v: &'v Value, path: &[&str]) -> Result<&'v Value, RpcError> {
        let mut cur = v;
        for key in path {
            cur = cur
                .get(key)
                .ok_or_else(|| self.bad(format!("no field {}", path.join("."))))?;
        }
        Ok(cur)
    }

    fn str<'v>(&self, v: &'v Value, path: &[&str]) -> Result<&'v str, RpcError> {
        self.get(v, path)?
            .as_str()
            .ok_or_else(|| self.bad(format!("{} is not a string", path.join("."))))
    }

    /// A string or missing/null string field (empty).
    fn str_or_empty<'v>(&self, v: &'v Value, path: &[&str]) -> &'v str {
        self.get(v, path).ok().and_then(Value::as_str).unwrap_or("")
    }

    /// An integer given as a JSON number or a decimal string (CometBFT's int64 style).
    fn u64(&self, v: &Value, path: &[&str]) -> Result<u64, RpcError> {
        let field = self.get(v, path)?;
        field
            .as_u64()
            .or_else(|| field.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| self.bad(format!("{} is not an unsigned integer", path.join("."))))
    }

    /// A result code: absent or `null` means 0 (protobuf JSON omits zero values), anything
    /// else must be an integer that fits in `u32`.
    fn code(&self, v: &Value, path: &[&str]) -> Result<u32, RpcError> {
        match self.get(v, path) {
            Err(_) | Ok(Value::Null) => Ok(0),
            Ok(_) => u32::try_from(self.u64(v, path)?)
                .map_err(|_| self.bad(format!("{} does not fit in u32", path.join(".")))),
        }
    }

    /// An optional list (CometBFT writes `null` for an empty one).
    fn list<'v>(&self, v: &'v Value, path: &[&str]) -> Result<&'v [Value], RpcError> {
        match self.get(v, path) {
            Err(_) => Ok(&[]),
            Ok(Value::Null) => Ok(&[]),
            Ok(Value::Array(a)) => Ok(a.as_slice()),
            Ok(_) => Err(self.bad(format!("{} is not a list", path.join(".")))),
        }
    }

    fn b64(&self, v: &Value, path: &[&str]) -> Result<Vec<u8>, RpcError> {
        match self.get(v, path) {
            Err(_) | Ok(Value::Null) => Ok(Vec::new()),
            Ok(Value::String(s)) => {
                b64(s).ok_or_else(|| self.bad(format!("{} is not base64", path.join("."))))
            }
            Ok(_) => Err(self.bad(format!("{} is not a string", path.join(".")))),
        }
    }
}

impl RpcClient {
    /// A client for `url` (e.g. `http://127.0.0.1:26657`) with a per-request timeout.
    pub fn new(url: impl Into<String>, timeout: Duration) -> RpcClient {
        RpcClient {
            url: url.into(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(timeout)
                .timeout(timeout)
                .build(),
        }
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with `params` and returns its `result`.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let transport = |reason: String| RpcError::Transport {
            url: self.url.clone(),
            method: method.to_string(),
            reason,
        };
        let response = match self.agent.post(&self.url).send_json(body) {
            Ok(r) => r,
            // CometBFT answers JSON-RPC errors with an HTTP error status and a JSON body.
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(transport(e.to_string())),
        };
        let value: Value = response
            .into_json()
            .map_err(|e| transport(format!("reading the response: {e}")))?;
        if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
            return Err(RpcError::Server {
                method: method.to_string(),
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                data: error
                    .get("data")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        }
        value
            .get("result")
            .cloned()
            .ok_or_else(|| RpcError::Malformed {
                method: method.to_string(),
                reason: "neither result nor error".into(),
            })
    }

    /// `status`.
    pub fn status(&self) -> Result<Status, RpcError> {
        let f = Fields { method: "status" };
        let r = self.call("status", json!({}))?;
        Ok(Status {
            node_id: f.str(&r, &["node_info", "id"])?.to_string(),
            latest_block_height: f.u64(&r, &["sync_info", "latest_block_height"])?,
            latest_app_hash: f
                .str_or_empty(&r, &["sync_info", "latest_app_hash"])
                .to_string(),
            catching_up: f
                .get(&r, &["sync_info", "catching_up"])?
                .as_bool()
                .ok_or_else(|| f.bad("sync_info.catching_up is not a bool"))?,
            validator_address: f
                .str_or_empty(&r, &["validator_info", "address"])
                .to_string(),
            voting_power: f.u64(&r, &["validator_info", "voting_power"]).unwrap_or(0),
        })
    }

    /// `block` at `height`.
    pub fn block(&self, height: u64) -> Result<Block, RpcError> {
        let f = Fields { method: "block" };
        let r = self.call("block", json!({"height": height.to_string()}))?;
        let txs = f
            .list(&r, &["block", "data", "txs"])?
            .iter()
            .map(|t| {
                t.as_str()
                    .and_then(b64)
                    .ok_or_else(|| f.bad("a transaction is not base64"))
            })
            .collect::<Result<_, _>>()?;
        let last_commit = f
            .list(&r, &["block", "last_commit", "signatures"])?
            .iter()
            .map(|s| {
                Ok(CommitSig {
                    validator_address: f.str_or_empty(s, &["validator_address"]).to_string(),
                    block_id_flag: f.u64(s, &["block_id_flag"])?,
                })
            })
            .collect::<Result<_, RpcError>>()?;
        Ok(Block {
            height: f.u64(&r, &["block", "header", "height"])?,
            hash: f.str(&r, &["block_id", "hash"])?.to_string(),
            app_hash: f
                .str_or_empty(&r, &["block", "header", "app_hash"])
                .to_string(),
            proposer_address: f
                .str_or_empty(&r, &["block", "header", "proposer_address"])
                .to_string(),
            time: f.str_or_empty(&r, &["block", "header", "time"]).to_string(),
            txs,
            last_commit,
        })
    }

    /// `block_results` at `height`.
    pub fn block_results(&self, height: u64) -> Result<BlockResults, RpcError> {
        let f = Fields {
            method: "block_results",
        };
        let r = self.call("block_results", json!({"height": height.to_string()}))?;
        let txs_results = f
            .list(&r, &["txs_results"])?
            .iter()
            .map(|t| {
                Ok(TxResult {
                    code: f.code(t, &["code"])?,
                    data: f.b64(t, &["data"])?,
                    log: f.str_or_empty(t, &["log"]).to_string(),
                })
            })
            .collect::<Result<_, RpcError>>()?;
        Ok(BlockResults {
            height: f.u64(&r, &["height"])?,
            txs_results,
            validator_updates: f.list(&r, &["validator_updates"])?.to_vec(),
            // Unlike the block header, block_results carries the app hash in base64.
            app_hash: crate::config::upper_hex(&f.b64(&r, &["app_hash"])?),
        })
    }

    /// `broadcast_tx_sync`: submits `tx` and returns the `CheckTx` answer. A transaction
    /// CometBFT refuses before `CheckTx` (already in its cache, mempool full) is an
    /// [`RpcError::Server`].
    pub fn broadcast_tx_sync(&self, tx: &[u8]) -> Result<Broadcast, RpcError> {
        let f = Fields {
            method: "broadcast_tx_sync",
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(tx);
        let r = self.call("broadcast_tx_sync", json!({"tx": encoded}))?;
        Ok(Broadcast {
            code: f.code(&r, &["code"])?,
            log: f.str_or_empty(&r, &["log"]).to_string(),
            hash: f.str_or_empty(&r, &["hash"]).to_string(),
        })
    }

    /// `abci_query` of `path` at `height` (0 = latest).
    pub fn abci_query(&self, path: &str, height: u64) -> Result<AbciQuery, RpcError> {
        let f = Fields {
            method: "abci_query",
        };
        let r = self.call(
            "abci_query",
            json!({"path": path, "data": "", "height": height.to_string(), "prove": false}),
        )?;
        Ok(AbciQuery {
            code: f.code(&r, &["response", "code"])?,
            log: f.str_or_empty(&r, &["response", "log"]).to_string(),
            value: f.b64(&r, &["response", "value"])?,
            height: f.u64(&r, &["response", "height"]).unwrap_or(0),
        })
    }

    /// A Cascade [`Query`] through `abci_query`, decoded.
    pub fn query(&self, query: &Query) -> Result<Answer, RpcError> {
        let path = query.path();
        let answer = self.abci_query(&path, 0)?;
        if answer.code != 0 {
            return Err(RpcError::Server {
                method: format!("abci_query {path}"),
                code: i64::from(answer.code),
                message: answer.log,
                data: String::new(),
            });
        }
        codec::decode_stored(&answer.value).map_err(|e| RpcError::Malformed {
            method: format!("abci_query {path}"),
            reason: format!("answer does not decode: {e}"),
        })
    }

    /// A transaction's receipt from CometBFT's transaction index (`tx`): where it is, its
    /// code and log, and its typed events from the result data
    /// ([`cascade_core::event::result_data`]). `None` if the index has no such transaction
    /// (not executed yet, or never). A node with indexing turned off is an error.
    pub fn receipt(&self, hash: &Hash32) -> Result<Option<TxReceipt>, RpcError> {
        let f = Fields { method: "tx" };
        let hash_b64 = base64::engine::general_purpose::STANDARD.encode(hash.0);
        let r = match self.call("tx", json!({"hash": hash_b64, "prove": false})) {
            Ok(r) => r,
            Err(RpcError::Server { message, data, .. })
                if format!("{message} {data}").contains("not found") =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let found = f.str(&r, &["hash"])?;
        if !found.eq_ignore_ascii_case(&hash.to_hex()) {
            return Err(f.bad(format!("asked for transaction {hash}, got {found}")));
        }
        let code = f.code(&r, &["tx_result", "code"])?;
        let data = f.b64(&r, &["tx_result", "data"])?;
        let events = if code == 0 {
            cascade_core::event::from_result_data(&data)
                .map_err(|e| f.bad(format!("tx_result.data is not events: {e}")))?
        } else {
            Vec::new()
        };
        Ok(Some(TxReceipt {
            hash: *hash,
            height: f.u64(&r, &["height"])?,
            index: u32::try_from(f.u64(&r, &["index"])?)
                .map_err(|_| f.bad("index does not fit in u32"))?,
            code,
            log: f.str_or_empty(&r, &["tx_result", "log"]).to_string(),
            events,
        }))
    }

    /// `validators` at `height` (`None` = latest), all pages.
    pub fn validators(&self, height: Option<u64>) -> Result<Vec<Validator>, RpcError> {
        let f = Fields {
            method: "validators",
        };
        let mut out = Vec::new();
        for page in 1u64.. {
            let mut params = json!({"page": page.to_string(), "per_page": "100"});
            if let Some(h) = height {
                params["height"] = Value::String(h.to_string());
            }
            let r = self.call("validators", params)?;
            let list = f.list(&r, &["validators"])?;
            for v in list {
                out.push(Validator {
                    address: f.str(v, &["address"])?.to_string(),
                    pub_key: f.b64(v, &["pub_key", "value"])?,
                    voting_power: f.u64(v, &["voting_power"])?,
                });
            }
            let total = f.u64(&r, &["total"])?;
            if list.is_empty() || out.len() as u64 >= total {
                break;
            }
        }
        Ok(out)
    }
}
