//! [`Transport`] over CometBFT's JSON-RPC: builds the RPC URLs, parses the JSON and maps
//! RPC errors, and moves bytes only through an [`HttpClient`] (one blocking `GET`).
//!
//! Endpoints used: `/status`, `/commit?height=`, `/validators?height=&page=&per_page=100`
//! (paged), `/abci_query?path="…"`, `/broadcast_tx_sync?tx=0x…`, and `/block?height=` with
//! `/block_results?height=` (a transaction's outcome, checked against verified headers; the
//! node must keep ABCI responses, CometBFT's default). Responses are parsed
//! with tendermint's serde types (`SignedHeader`, `validator::Info`), which read CometBFT's
//! JSON encoding.
//!
//! The HTTP client is pluggable ([`HttpTransport::with_client`]) so a host app can bring its
//! own stack (OkHttp, URLSession: TLS, proxies, certificate pinning) while the parsing and
//! every check stay here. The built-in [`TcpHttpClient`] ([`HttpTransport::new`],
//! [`HttpTransport::with_config`]) speaks plain `http://` with timeouts, a response size
//! bound and bounded retries (see [`super::http_client`]): for a node on a trusted network,
//! a local node or tests. Everything a transport returns is verified anyway (headers by the
//! light client, state by Merkle proofs), so TLS adds privacy, not integrity.

pub use super::http_client::{
    parse_response, HttpClient, HttpConfig, HttpResponse, ParseError, TcpHttpClient,
};
use crate::crypto::{hex, sha256, Hash32};
use crate::wallet::transport::{
    BlockOutcome, BroadcastResult, NodeStatus, QueryResult, Transport, TransportError, TxLocation,
    TxResultDigest,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Arc;
use tendermint::block::signed_header::SignedHeader;
use tendermint::serializers::{
    bytes::{base64string, option_base64string},
    from_str,
};
use tendermint::{node, validator};
use tendermint_light_client_verifier::types::LightBlock;

/// Validators asked for per `/validators` page (CometBFT's maximum).
const PER_PAGE: usize = 100;
/// Most validator pages read for one height (10,000 validators).
const MAX_PAGES: usize = 100;

/// A CometBFT node's JSON-RPC endpoint, reached through an [`HttpClient`].
#[derive(Clone)]
pub struct HttpTransport {
    /// Base URL without a trailing `/`; also the name in errors.
    base: String,
    client: Arc<dyn HttpClient>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    result: Option<T>,
    error: Option<RpcError>,
}

#[derive(Deserialize)]
struct RpcError {
    code: i64,
    message: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct StatusResult {
    node_info: NodeInfo,
    sync_info: SyncInfo,
}

#[derive(Deserialize)]
struct NodeInfo {
    network: String,
}

#[derive(Deserialize)]
struct SyncInfo {
    #[serde(with = "from_str")]
    latest_block_height: u64,
}

#[derive(Deserialize)]
struct CommitResult {
    signed_header: SignedHeader,
}

#[derive(Deserialize)]
struct ValidatorsResult {
    #[serde(with = "from_str")]
    block_height: u64,
    validators: Vec<validator::Info>,
    #[serde(with = "from_str")]
    total: usize,
}

#[derive(Deserialize)]
struct AbciQueryResult {
    response: AbciQuery,
}

#[derive(Deserialize)]
struct AbciQuery {
    #[serde(default)]
    code: u32,
    #[serde(default)]
    log: String,
    #[serde(default, with = "option_base64string")]
    value: Vec<u8>,
    #[serde(default, with = "from_str")]
    height: u64,
}

#[derive(Deserialize)]
struct BlockResult {
    block: BlockBody,
}

#[derive(Deserialize)]
struct BlockBody {
    data: BlockData,
}

#[derive(Deserialize)]
struct BlockData {
    /// `null` or absent for an empty block.
    #[serde(default)]
    txs: Option<Vec<Base64Tx>>,
}

#[derive(Deserialize)]
struct Base64Tx(#[serde(with = "base64string")] Vec<u8>);

#[derive(Deserialize)]
struct BlockResultsResult {
    #[serde(with = "from_str")]
    height: u64,
    /// `null` or absent for an empty block.
    #[serde(default)]
    txs_results: Option<Vec<ExecTxResultJson>>,
}

#[derive(Deserialize)]
struct ExecTxResultJson {
    #[serde(default)]
    code: u32,
    #[serde(default, with = "option_base64string")]
    data: Vec<u8>,
    #[serde(default, with = "from_str")]
    gas_wanted: i64,
    #[serde(default, with = "from_str")]
    gas_used: i64,
}

#[derive(Deserialize)]
struct BroadcastTxResult {
    #[serde(default)]
    code: u32,
    #[serde(default)]
    log: String,
    hash: String,
}

/// `/tx` result: where the node's transaction index puts a transaction.
#[derive(Deserialize)]
struct TxResult {
    hash: String,
    #[serde(with = "from_str")]
    height: u64,
    index: u32,
    tx_result: TxExecResult,
}

#[derive(Deserialize)]
struct TxExecResult {
    #[serde(default)]
    log: String,
}

/// Whether a `/tx` error says only that the node's index has no such transaction
/// (CometBFT: `tx (HASH) not found`), as opposed to a node that cannot answer at all (its
/// index is off: `transaction indexing is disabled`).
fn is_unknown_tx(error: &TransportError) -> bool {
    let TransportError::Rpc { message, .. } = error else {
        return false;
    };
    let m = message.to_ascii_lowercase();
    m.contains("tx (") && m.contains("not found")
}

/// Percent-encodes a query-string value (everything but RFC 3986 unreserved characters).
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether an RPC error means "that height is not there (yet, or any more)".
fn is_missing_height(error: &TransportError) -> bool {
    let TransportError::Rpc { message, .. } = error else {
        return false;
    };
    let m = message.to_ascii_lowercase();
    m.contains("must be less than or equal to")
        || m.contains("lowest height")
        || m.contains("is not available")
        || m.contains("could not find")
        || m.contains("not found")
}

impl HttpTransport {
    /// A transport for `http://host[:port][/prefix]` (port 80 by default; CometBFT's RPC
    /// usually listens on 26657) over the built-in client with default limits.
    pub fn new(url: &str) -> Result<HttpTransport, TransportError> {
        HttpTransport::with_config(url, HttpConfig::default())
    }

    /// The built-in client with explicit limits and retry policy.
    pub fn with_config(url: &str, config: HttpConfig) -> Result<HttpTransport, TransportError> {
        super::http_client::parse_url(url).map_err(|reason| TransportError::Unreachable {
            node: url.to_string(),
            reason,
        })?;
        HttpTransport::with_client(url, Arc::new(TcpHttpClient::new(config)))
    }

    /// A transport for `http[s]://host[:port][/prefix]` over the host's own HTTP client.
    pub fn with_client(
        url: &str,
        client: Arc<dyn HttpClient>,
    ) -> Result<HttpTransport, TransportError> {
        let base = url.trim_end_matches('/');
        let bad = |reason: &str| TransportError::Unreachable {
            node: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(|| bad("the URL must start with http:// or https://"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("the URL needs a host (and no user info)"));
        }
        if base.contains(['?', '#']) || base.chars().any(|c| c.is_whitespace()) {
            return Err(bad("the URL may not contain a query, fragment or spaces"));
        }
        Ok(HttpTransport {
            base: base.to_string(),
            client,
        })
    }

    fn malformed(&self, reason: impl Into<String>) -> TransportError {
        TransportError::Malformed {
            node: self.base.clone(),
            reason: reason.into(),
        }
    }

    /// Names this node in an error the client reported for one of its URLs.
    fn named(&self, error: TransportError) -> TransportError {
        let node = self.base.clone();
        match error {
            TransportError::Unreachable { reason, .. } => {
                TransportError::Unreachable { node, reason }
            }
            TransportError::Malformed { reason, .. } => TransportError::Malformed { node, reason },
            TransportError::NotFound { what, .. } => TransportError::NotFound { node, what },
            TransportError::Rpc { code, message, .. } => TransportError::Rpc {
                node,
                code,
                message,
            },
        }
    }

    /// `GET {base}{target}` and the JSON-RPC `result`.
    fn call<T: DeserializeOwned>(&self, target: &str) -> Result<T, TransportError> {
        let url = format!("{}{target}", self.base);
        let response = self.client.get(&url).map_err(|e| self.named(e))?;
        match response.status {
            200..=299 => {}
            // CometBFT sends JSON-RPC errors with an error status: read them.
            _ if response.body.first() == Some(&b'{') => {}
            status => {
                return Err(TransportError::Unreachable {
                    node: self.base.clone(),
                    reason: format!("HTTP status {status}"),
                })
            }
        }
        self.decode(&response.body)
    }

    fn decode<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, TransportError> {
        let envelope: Envelope<T> = super::transport::decode_json(body)
            .map_err(|e| self.malformed(format!("invalid JSON-RPC response: {e}")))?;
        if let Some(error) = envelope.error {
            let mut message = error.message;
            match error.data {
                Some(serde_json::Value::String(data)) if !data.is_empty() => {
                    message = format!("{message}: {data}");
                }
                Some(serde_json::Value::Null) | None => {}
                Some(other) => message = format!("{message}: {other}"),
            }
            return Err(TransportError::Rpc {
                node: self.base.clone(),
                code: error.code,
                message,
            });
        }
        envelope
            .result
            .ok_or_else(|| self.malformed("JSON-RPC response has neither result nor error"))
    }

    fn validators(&self, height: u64) -> Result<validator::Set, TransportError> {
        let mut all: Vec<validator::Info> = Vec::new();
        for page in 1..=MAX_PAGES {
            let result: ValidatorsResult = self
                .call(&format!(
                    "/validators?height={height}&page={page}&per_page={PER_PAGE}"
                ))
                .map_err(|e| self.missing(e, format!("validators at {height}")))?;
            if result.block_height != height {
                return Err(self.malformed(format!(
                    "asked for validators at {height}, got {}",
                    result.block_height
                )));
            }
            if result.validators.is_empty() {
                return Err(self.malformed(format!("validator page {page} at {height} is empty")));
            }
            // Bound what is held to `MAX_PAGES * PER_PAGE` validators: a page longer than
            // asked for, or a total beyond the bound, is refused at once rather than read
            // page after page.
            if result.validators.len() > PER_PAGE || result.total > MAX_PAGES * PER_PAGE {
                return Err(self.malformed(format!(
                    "validator page {page} at {height} lists {} validators of {} (at most \
                     {PER_PAGE} a page and {} in all)",
                    result.validators.len(),
                    result.total,
                    MAX_PAGES * PER_PAGE
                )));
            }
            all.extend(result.validators);
            if all.len() >= result.total {
                if all.len() > result.total {
                    return Err(self.malformed(format!(
                        "{} validators listed at {height}, total says {}",
                        all.len(),
                        result.total
                    )));
                }
                // `Set::new` panics on a total power above the maximum: check first.
                let total = all
                    .iter()
                    .try_fold(0_u64, |acc, v| acc.checked_add(v.power()))
                    .filter(|t| *t <= validator::Set::MAX_TOTAL_VOTING_POWER);
                if total.is_none() {
                    return Err(
                        self.malformed(format!("total voting power at {height} is too large"))
                    );
                }
                return Ok(validator::Set::new(all, None));
            }
        }
        Err(self.malformed(format!(
            "more than {} validators at {height}",
            MAX_PAGES * PER_PAGE
        )))
    }

    /// Maps "height not available" RPC errors to [`TransportError::NotFound`].
    fn missing(&self, error: TransportError, what: String) -> TransportError {
        if is_missing_height(&error) {
            TransportError::NotFound {
                node: self.base.clone(),
                what,
            }
        } else {
            error
        }
    }
}

impl Transport for HttpTransport {
    fn name(&self) -> String {
        self.base.clone()
    }

    fn status(&self) -> Result<NodeStatus, TransportError> {
        let status: StatusResult = self.call("/status")?;
        Ok(NodeStatus {
            chain_id: status.node_info.network,
            latest_height: status.sync_info.latest_block_height,
        })
    }

    fn light_block(&self, height: u64) -> Result<LightBlock, TransportError> {
        let commit: CommitResult = self
            .call(&format!("/commit?height={height}"))
            .map_err(|e| self.missing(e, format!("block {height}")))?;
        let validators = self.validators(height)?;
        let next_validators = self.validators(height + 1)?;
        Ok(LightBlock::new(
            commit.signed_header,
            validators,
            next_validators,
            node::Id::new([0; 20]),
        ))
    }

    fn query(&self, path: &str) -> Result<QueryResult, TransportError> {
        let quoted = format!("\"{path}\"");
        let result: AbciQueryResult =
            self.call(&format!("/abci_query?path={}", url_encode(&quoted)))?;
        Ok(QueryResult {
            code: result.response.code,
            log: result.response.log,
            height: result.response.height,
            value: result.response.value,
        })
    }

    fn block_outcome(&self, height: u64) -> Result<BlockOutcome, TransportError> {
        let block: BlockResult = self
            .call(&format!("/block?height={height}"))
            .map_err(|e| self.missing(e, format!("block {height}")))?;
        let results: BlockResultsResult = self
            .call(&format!("/block_results?height={height}"))
            .map_err(|e| self.missing(e, format!("the results of block {height}")))?;
        if results.height != height {
            return Err(self.malformed(format!(
                "asked for the results of block {height}, got those of {}",
                results.height
            )));
        }
        Ok(BlockOutcome {
            txs: block
                .block
                .data
                .txs
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.0)
                .collect(),
            results: results
                .txs_results
                .unwrap_or_default()
                .into_iter()
                .map(|r| TxResultDigest {
                    code: r.code,
                    data: r.data,
                    gas_wanted: r.gas_wanted,
                    gas_used: r.gas_used,
                })
                .collect(),
        })
    }

    fn tx_location(&self, hash: &Hash32) -> Result<Option<TxLocation>, TransportError> {
        let found: TxResult = match self.call(&format!("/tx?hash=0x{}", hash.to_hex())) {
            Ok(found) => found,
            Err(e) if is_unknown_tx(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !found.hash.eq_ignore_ascii_case(&hash.to_hex()) {
            return Err(self.malformed(format!(
                "asked where transaction {hash} is, got transaction {}",
                found.hash
            )));
        }
        Ok(Some(TxLocation {
            height: found.height,
            index: found.index,
            log: found.tx_result.log,
        }))
    }

    fn broadcast(&self, tx: &[u8]) -> Result<BroadcastResult, TransportError> {
        let hash = Hash32(sha256(tx));
        let result: BroadcastTxResult =
            self.call(&format!("/broadcast_tx_sync?tx=0x{}", hex(tx)))?;
        if !result.hash.eq_ignore_ascii_case(&hash.to_hex()) {
            return Err(self.malformed(format!(
                "node reports transaction hash {}, expected {hash}",
                result.hash
            )));
        }
        Ok(BroadcastResult {
            code: result.code,
            log: result.log,
            hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(url_encode("\"/piece/ab\""), "%22%2Fpiece%2Fab%22");
    }

    /// A host client that records the URLs asked for and answers from a script.
    struct Scripted {
        asked: std::sync::Mutex<Vec<String>>,
        reply: Result<HttpResponse, TransportError>,
    }

    impl HttpClient for Scripted {
        fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push(url.to_string());
            }
            self.reply.clone()
        }
    }

    fn scripted(reply: Result<HttpResponse, TransportError>) -> Arc<Scripted> {
        Arc::new(Scripted {
            asked: std::sync::Mutex::new(Vec::new()),
            reply,
        })
    }

    /// A host client answering by endpoint (the first key contained in the URL).
    struct ByEndpoint(Vec<(&'static str, String)>);

    impl HttpClient for ByEndpoint {
        fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
            let body = self
                .0
                .iter()
                .find(|(key, _)| url.contains(key))
                .map(|(_, body)| body.clone().into_bytes())
                .unwrap_or_default();
            Ok(HttpResponse { status: 200, body })
        }
    }

    fn rpc(result: &str) -> String {
        format!(r#"{{"jsonrpc":"2.0","id":-1,"result":{result}}}"#)
    }

    /// `/block` and `/block_results` in CometBFT v0.38's JSON (transactions and result data
    /// in base64, gas as strings, `null` for an empty block's lists) become one outcome.
    #[test]
    fn block_outcomes_are_read_from_block_and_block_results() {
        let block = rpc(
            r#"{"block_id":{"hash":"00"},"block":{"header":{"height":"5"},"data":{"txs":["dHgx","dHgy"]},"evidence":{"evidence":[]},"last_commit":null}}"#,
        );
        let results = rpc(
            r#"{"height":"5","txs_results":[{"code":0,"data":"q80=","log":"","info":"","gas_wanted":"0","gas_used":"0","events":[],"codespace":""},{"code":12,"data":null,"log":"refused","info":"","gas_wanted":"3","gas_used":"2","events":[],"codespace":""}],"finalize_block_events":[],"validator_updates":null,"consensus_param_updates":null,"app_hash":""}"#,
        );
        let node = Arc::new(ByEndpoint(vec![
            ("/block_results?height=5", results),
            ("/block?height=5", block),
            (
                "/block_results?height=6",
                rpc(r#"{"height":"6","txs_results":null}"#),
            ),
            ("/block?height=6", rpc(r#"{"block":{"data":{"txs":null}}}"#)),
            (
                "/block_results?height=7",
                rpc(r#"{"height":"8","txs_results":null}"#),
            ),
            ("/block?height=7", rpc(r#"{"block":{"data":{}}}"#)),
        ]));
        let t = HttpTransport::with_client("http://n:1", node).unwrap_or_else(|e| panic!("{e}"));
        let outcome = t.block_outcome(5).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome.txs, vec![b"tx1".to_vec(), b"tx2".to_vec()]);
        assert_eq!(
            outcome.results,
            vec![
                TxResultDigest {
                    code: 0,
                    data: vec![0xab, 0xcd],
                    gas_wanted: 0,
                    gas_used: 0
                },
                TxResultDigest {
                    code: 12,
                    data: vec![],
                    gas_wanted: 3,
                    gas_used: 2
                },
            ]
        );
        assert_eq!(t.block_outcome(6), Ok(BlockOutcome::default()));
        assert!(matches!(
            t.block_outcome(7),
            Err(TransportError::Malformed { .. })
        ));
    }

    /// `/tx` in CometBFT v0.38's JSON: a found transaction gives its block and position; the
    /// index's "not found" is `None`; a node with indexing off, or answering for another
    /// transaction, is an error.
    #[test]
    fn tx_locations_are_read_from_the_nodes_transaction_index() {
        let found = Hash32([0xab; 32]);
        let missing = Hash32([0x01; 32]);
        let off = Hash32([0x02; 32]);
        let other = Hash32([0x03; 32]);
        let error = |data: String| {
            format!(
                r#"{{"jsonrpc":"2.0","id":-1,"error":{{"code":-32603,"message":"Internal error","data":"{data}"}}}}"#
            )
        };
        let node = Arc::new(ByEndpoint(vec![
            (
                "/tx?hash=0xabab",
                rpc(&format!(
                    r#"{{"hash":"{}","height":"17","index":3,"tx_result":{{"code":8,"data":null,"log":"credit limit","info":"","gas_wanted":"0","gas_used":"0","events":[],"codespace":""}},"tx":"dHgx"}}"#,
                    found.to_hex().to_uppercase()
                )),
            ),
            (
                "/tx?hash=0x0101",
                error(format!(
                    "tx ({}) not found",
                    missing.to_hex().to_uppercase()
                )),
            ),
            (
                "/tx?hash=0x0202",
                error("transaction indexing is disabled".into()),
            ),
            (
                "/tx?hash=0x0303",
                rpc(&format!(
                    r#"{{"hash":"{}","height":"1","index":0,"tx_result":{{}},"tx":""}}"#,
                    found.to_hex()
                )),
            ),
        ]));
        let t = HttpTransport::with_client("http://n:1", node).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.tx_location(&found),
            Ok(Some(TxLocation {
                height: 17,
                index: 3,
                log: "credit limit".into()
            }))
        );
        assert_eq!(t.tx_location(&missing), Ok(None));
        assert!(matches!(
            t.tx_location(&off),
            Err(TransportError::Rpc { message, .. }) if message.contains("indexing is disabled")
        ));
        assert!(matches!(
            t.tx_location(&other),
            Err(TransportError::Malformed { .. })
        ));
    }

    #[test]
    fn a_host_client_gets_rpc_urls_and_its_answers_are_parsed() {
        let ok = scripted(Ok(HttpResponse {
            status: 200,
            body: br#"{"jsonrpc":"2.0","id":-1,"result":{"node_info":{"network":"c-1"},"sync_info":{"latest_block_height":"42"}}}"#.to_vec(),
        }));
        let t = HttpTransport::with_client("https://rpc.example/cascade/", ok.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.name(), "https://rpc.example/cascade");
        assert_eq!(
            t.status(),
            Ok(NodeStatus {
                chain_id: "c-1".into(),
                latest_height: 42
            })
        );
        assert_eq!(
            ok.asked.lock().map(|a| a.clone()).unwrap_or_default(),
            vec!["https://rpc.example/cascade/status".to_string()]
        );

        // A plain 503 page is a network failure named after this node, not a parse error.
        let down = scripted(Ok(HttpResponse {
            status: 503,
            body: b"<html>busy</html>".to_vec(),
        }));
        let t = HttpTransport::with_client("http://n:1", down).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            t.status(),
            Err(TransportError::Unreachable { node, .. }) if node == "http://n:1"
        ));
        // The client's own failure is passed on under this node's name.
        let failing = scripted(Err(TransportError::Unreachable {
            node: "http://n:1/status".into(),
            reason: "offline".into(),
        }));
        let t = HttpTransport::with_client("http://n:1", failing).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.status(),
            Err(TransportError::Unreachable {
                node: "http://n:1".into(),
                reason: "offline".into()
            })
        );
        let garbage = scripted(Ok(HttpResponse {
            status: 200,
            body: b"not json".to_vec(),
        }));
        let t = HttpTransport::with_client("http://n:1", garbage).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            t.query("/piece/00"),
            Err(TransportError::Malformed { .. })
        ));
        for bad in [
            "ftp://x",
            "https://",
            "http://u@h",
            "http://h/?q=1",
            "http://h /x",
        ] {
            assert!(
                HttpTransport::with_client(bad, scripted(Err(down_error()))).is_err(),
                "{bad}"
            );
        }
    }

    /// A node answering `/validators` with pages longer than asked for, under a total above
    /// the bound, is refused at its first page: nothing it says is accumulated page after
    /// page (up to `MAX_PAGES` responses of the client's size limit each).
    #[cfg(feature = "testkit")]
    #[test]
    fn oversized_validator_pages_are_refused_at_the_first_page() {
        let key = crate::testkit::validator_signing_key("v").verification_key();
        let info = validator::Info::new(
            tendermint::PublicKey::from_raw_ed25519(key.as_bytes())
                .unwrap_or_else(|| panic!("an ed25519 key")),
            tendermint::vote::Power::from(1_u32),
        );
        let page: Vec<_> = (0..PER_PAGE + 50).map(|_| info.clone()).collect();
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": -1,
            "result": {
                "block_height": "5",
                "validators": page,
                "count": (PER_PAGE + 50).to_string(),
                "total": (MAX_PAGES * PER_PAGE * 2).to_string(),
            }
        });
        let node = scripted(Ok(HttpResponse {
            status: 200,
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }));
        let t = HttpTransport::with_client("http://n:1", node.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let result = t.validators(5);
        let asked = node.asked.lock().map(|a| a.len()).unwrap_or_default();
        assert!(
            matches!(result, Err(TransportError::Malformed { .. })) && asked == 1,
            "{asked} pages read, then {:?}",
            result.map(|set| set.validators().len())
        );
    }

    fn down_error() -> TransportError {
        TransportError::Unreachable {
            node: String::new(),
            reason: String::new(),
        }
    }

    #[test]
    fn rpc_errors_are_typed() {
        let t = HttpTransport::new("http://127.0.0.1:1").unwrap_or_else(|e| panic!("{e}"));
        let body = br#"{"jsonrpc":"2.0","id":-1,"error":{"code":-32603,"message":"Internal error","data":"height 99 must be less than or equal to the current blockchain height 5"}}"#;
        let err = t.decode::<StatusResult>(body).err();
        let Some(err) = err else {
            panic!("an RPC error")
        };
        assert!(matches!(err, TransportError::Rpc { code: -32603, .. }));
        assert!(is_missing_height(&err));
        assert!(matches!(
            t.decode::<StatusResult>(b"not json"),
            Err(TransportError::Malformed { .. })
        ));
        assert!(matches!(
            t.decode::<StatusResult>(br#"{"jsonrpc":"2.0","id":-1}"#),
            Err(TransportError::Malformed { .. })
        ));
    }
}
