//! [`Transport`] over CometBFT's JSON-RPC on plain HTTP: a minimal HTTP/1.1 client on
//! [`std::net::TcpStream`] with connect and read timeouts, an overall deadline per request,
//! a response size bound and bounded retries.
//!
//! Endpoints used: `/status`, `/commit?height=`, `/validators?height=&page=&per_page=100`
//! (paged), `/abci_query?path="…"` and `/broadcast_tx_sync?tx=0x…`. Responses are parsed
//! with tendermint's serde types (`SignedHeader`, `validator::Info`), which read CometBFT's
//! JSON encoding.
//!
//! Limits ([`HttpConfig`]): each address is given `connect_timeout`, each read
//! `read_timeout`, the whole request `request_timeout`; responses above
//! `max_response_bytes` are refused; failures that may be temporary are retried `retries`
//! times with doubling pauses. Host names go through the system resolver, which has no
//! timeout of its own (use an IP address where that matters).
//!
//! **No TLS.** This transport speaks `http://` only, for a node on a trusted network, a
//! local node or tests. Everything it returns is verified anyway (headers by the light
//! client, state by Merkle proofs), so TLS adds privacy, not integrity. Host apps that need
//! TLS (`https://`), proxies or their own networking stack (OkHttp, URLSession) implement
//! [`Transport`] themselves; the trait is five small methods.

use crate::crypto::{sha256, Hash32};
use crate::wallet::transport::{
    BroadcastResult, NodeStatus, QueryResult, Transport, TransportError,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};
use tendermint::block::signed_header::SignedHeader;
use tendermint::serializers::{bytes::option_base64string, from_str};
use tendermint::{node, validator};
use tendermint_light_client_verifier::types::LightBlock;

/// Limits and retry policy of an [`HttpTransport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// Time to establish the TCP connection (per address tried). Default 5 s.
    pub connect_timeout: Duration,
    /// Longest wait for any single read. Default 10 s.
    pub read_timeout: Duration,
    /// Longest time for one whole request (connect, send, receive). Default 30 s.
    pub request_timeout: Duration,
    /// Extra attempts after a failure that may be temporary (connection refused or reset,
    /// timeout, truncated response, HTTP 502/503/504). Default 2.
    pub retries: u32,
    /// Pause before the first retry, doubled for each further one. Default 200 ms.
    pub retry_delay: Duration,
    /// Largest response accepted. Default 16 MiB.
    pub max_response_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retries: 2,
            retry_delay: Duration::from_millis(200),
            max_response_bytes: 16 << 20,
        }
    }
}

/// Validators asked for per `/validators` page (CometBFT's maximum).
const PER_PAGE: usize = 100;
/// Most validator pages read for one height (10,000 validators).
const MAX_PAGES: usize = 100;

/// A CometBFT node's JSON-RPC endpoint over plain HTTP.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    host: String,
    port: u16,
    prefix: String,
    name: String,
    config: HttpConfig,
}

/// One failed attempt: whether another attempt may help.
enum Failure {
    Retry(TransportError),
    Fatal(TransportError),
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
struct BroadcastTxResult {
    #[serde(default)]
    code: u32,
    #[serde(default)]
    log: String,
    hash: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// Splits an `http://host[:port][/prefix]` URL.
fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = if let Some(rest) = url.strip_prefix("http://") {
        rest
    } else if url.starts_with("https://") {
        return Err(
            "https is not supported by the built-in transport: implement Transport \
                    over the host platform's TLS stack"
                .into(),
        );
    } else {
        return Err("the URL must start with http://".into());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err("the URL needs a host (and no user info)".into());
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        // IPv6 literal: [::1]:26657
        let end = bracketed.find(']').ok_or("unterminated IPv6 address")?;
        let host = &bracketed[..end];
        let port = match &bracketed[end + 1..] {
            "" => 80,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or("invalid port")?,
        };
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| "invalid port")?),
            None => (authority.to_string(), 80),
        }
    };
    if host.is_empty() {
        return Err("the URL needs a host".into());
    }
    let prefix = path.trim_end_matches('/').to_string();
    Ok((host, port, prefix))
}

/// Finds `\r\n\r\n`.
fn header_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

/// A parsed HTTP response.
#[derive(Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Decoded body (chunked transfer encoding removed).
    pub body: Vec<u8>,
}

/// Why raw response bytes are not a complete HTTP/1.1 response.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The response ended early (retrying may help).
    Truncated(String),
    /// The response is not HTTP/1.x.
    Invalid(String),
}

/// Parses a complete HTTP/1.x response (the connection was closed after it):
/// `Content-Length`, chunked transfer encoding or body-until-close.
pub fn parse_response(raw: &[u8]) -> Result<HttpResponse, ParseError> {
    let end = header_end(raw).ok_or_else(|| ParseError::Truncated("no end of headers".into()))?;
    let head = std::str::from_utf8(&raw[..end])
        .map_err(|_| ParseError::Invalid("headers are not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(ParseError::Invalid(format!(
            "not an HTTP/1.x response: {status_line:?}"
        )));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ParseError::Invalid(format!("bad status line {status_line:?}")))?;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(ParseError::Invalid(format!("bad header line {line:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse()
                    .map_err(|_| ParseError::Invalid(format!("bad content-length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("chunked"));
        }
    }
    let body = &raw[end + 4..];
    let body = if chunked {
        decode_chunked(body)?
    } else if let Some(len) = content_length {
        if body.len() < len {
            return Err(ParseError::Truncated(format!(
                "body has {} of {len} bytes",
                body.len()
            )));
        }
        body[..len].to_vec()
    } else {
        body.to_vec()
    };
    Ok(HttpResponse { status, body })
}

fn decode_chunked(mut body: &[u8]) -> Result<Vec<u8>, ParseError> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| ParseError::Truncated("chunk size line".into()))?;
        let line = std::str::from_utf8(&body[..line_end])
            .map_err(|_| ParseError::Invalid("chunk size is not text".into()))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ParseError::Invalid(format!("bad chunk size {size_text:?}")))?;
        body = &body[line_end + 2..];
        if size == 0 {
            // Trailers, if any, are ignored.
            return Ok(out);
        }
        let chunk_end = size
            .checked_add(2)
            .filter(|n| *n <= body.len())
            .ok_or_else(|| ParseError::Truncated("chunk data".into()))?;
        if &body[size..chunk_end] != b"\r\n" {
            return Err(ParseError::Invalid("chunk not followed by CRLF".into()));
        }
        out.extend_from_slice(&body[..size]);
        body = &body[chunk_end..];
    }
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
    /// usually listens on 26657) with default limits.
    pub fn new(url: &str) -> Result<HttpTransport, TransportError> {
        HttpTransport::with_config(url, HttpConfig::default())
    }

    /// A transport with explicit limits and retry policy.
    pub fn with_config(url: &str, config: HttpConfig) -> Result<HttpTransport, TransportError> {
        let (host, port, prefix) =
            parse_url(url).map_err(|reason| TransportError::Unreachable {
                node: url.to_string(),
                reason,
            })?;
        Ok(HttpTransport {
            host,
            port,
            prefix,
            name: url.trim_end_matches('/').to_string(),
            config,
        })
    }

    /// The limits in use.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    fn unreachable(&self, reason: impl Into<String>) -> TransportError {
        TransportError::Unreachable {
            node: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn malformed(&self, reason: impl Into<String>) -> TransportError {
        TransportError::Malformed {
            node: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// `GET {prefix}{target}` and the JSON-RPC `result`, with retries.
    fn call<T: DeserializeOwned>(&self, target: &str) -> Result<T, TransportError> {
        let mut delay = self.config.retry_delay;
        let mut attempt = 0;
        loop {
            match self.attempt(target) {
                Ok(body) => return self.decode(&body),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(e)) => {
                    if attempt >= self.config.retries {
                        return Err(e);
                    }
                    attempt += 1;
                    std::thread::sleep(delay);
                    delay = delay.saturating_mul(2);
                }
            }
        }
    }

    fn decode<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, TransportError> {
        let envelope: Envelope<T> = serde_json::from_slice(body)
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
                node: self.name.clone(),
                code: error.code,
                message,
            });
        }
        envelope
            .result
            .ok_or_else(|| self.malformed("JSON-RPC response has neither result nor error"))
    }

    fn connect(&self, deadline: Instant) -> Result<TcpStream, Failure> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| Failure::Retry(self.unreachable(format!("cannot resolve host: {e}"))))?
            .collect();
        let mut last = self.unreachable("host resolves to no address");
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&addr, self.config.connect_timeout.min(left)) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = self.unreachable(format!("connect {addr}: {e}")),
            }
        }
        Err(Failure::Retry(last))
    }

    /// One request: the body of a response that is complete (whatever its status, if it
    /// carries JSON-RPC), or why not.
    fn attempt(&self, target: &str) -> Result<Vec<u8>, Failure> {
        let deadline = Instant::now() + self.config.request_timeout;
        let mut stream = self.connect(deadline)?;
        let io = |e: std::io::Error| Failure::Retry(self.unreachable(format!("I/O: {e}")));
        stream
            .set_read_timeout(Some(self.config.read_timeout))
            .map_err(io)?;
        stream
            .set_write_timeout(Some(self.config.read_timeout))
            .map_err(io)?;
        let host = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let request = format!(
            "GET {}{} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\
             User-Agent: cascade-wallet\r\nConnection: close\r\n\r\n",
            self.prefix, target
        );
        stream.write_all(request.as_bytes()).map_err(io)?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            if Instant::now() >= deadline {
                return Err(Failure::Retry(self.unreachable(format!(
                    "no complete response within {:?}",
                    self.config.request_timeout
                ))));
            }
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    raw.extend_from_slice(&buf[..n]);
                    if raw.len() > self.config.max_response_bytes {
                        return Err(Failure::Fatal(self.malformed(format!(
                            "response larger than {} bytes",
                            self.config.max_response_bytes
                        ))));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        let response = parse_response(&raw).map_err(|e| match e {
            ParseError::Truncated(r) => {
                Failure::Retry(self.unreachable(format!("truncated response: {r}")))
            }
            ParseError::Invalid(r) => Failure::Fatal(self.malformed(r)),
        })?;
        match response.status {
            200..=299 => Ok(response.body),
            // CometBFT sends JSON-RPC errors with an error status: let the caller read them.
            _ if response.body.first() == Some(&b'{') => Ok(response.body),
            502..=504 => Err(Failure::Retry(
                self.unreachable(format!("HTTP status {}", response.status)),
            )),
            status => Err(Failure::Fatal(
                self.unreachable(format!("HTTP status {status}")),
            )),
        }
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
                node: self.name.clone(),
                what,
            }
        } else {
            error
        }
    }
}

impl Transport for HttpTransport {
    fn name(&self) -> String {
        self.name.clone()
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
    fn urls_parse() {
        assert_eq!(
            parse_url("http://127.0.0.1:26657"),
            Ok(("127.0.0.1".into(), 26657, String::new()))
        );
        assert_eq!(
            parse_url("http://node.example/rpc/"),
            Ok(("node.example".into(), 80, "/rpc".into()))
        );
        assert_eq!(
            parse_url("http://[::1]:8080"),
            Ok(("::1".into(), 8080, String::new()))
        );
        assert!(parse_url("https://node.example").is_err());
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://:80").is_err());
        assert!(parse_url("http://host:notaport").is_err());
        assert!(matches!(
            HttpTransport::new("https://node.example"),
            Err(TransportError::Unreachable { .. })
        ));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(url_encode("\"/piece/ab\""), "%22%2Fpiece%2Fab%22");
    }

    #[test]
    fn responses_parse_with_length_chunks_or_close() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra");
        assert_eq!(
            r,
            Ok(HttpResponse {
                status: 200,
                body: b"{}".to_vec()
            })
        );
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\n{\"a\r\n2\r\n\":\r\n2\r\n1}\r\n0\r\n\r\n",
        );
        assert_eq!(
            r,
            Ok(HttpResponse {
                status: 200,
                body: b"{\"a\":1}".to_vec()
            })
        );
        let r = parse_response(b"HTTP/1.0 500 Internal\r\nServer: x\r\n\r\nbody");
        assert_eq!(
            r,
            Ok(HttpResponse {
                status: 500,
                body: b"body".to_vec()
            })
        );
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"),
            Err(ParseError::Truncated(_))
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
            Err(ParseError::Truncated(_))
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse_response(b"SSH-2.0\r\n\r\n"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 200"),
            Err(ParseError::Truncated(_))
        ));
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
