//! The HTTP seam under the CometBFT RPC transport: one blocking `GET`, and the built-in
//! plain-HTTP/1.1 client on [`std::net::TcpStream`].
//!
//! [`super::http::HttpTransport`] builds CometBFT RPC URLs and parses JSON-RPC; it moves
//! bytes only through [`HttpClient`]. A host app that needs TLS, proxies or its own
//! networking stack (OkHttp, URLSession) implements this one method instead of the whole
//! [`super::transport::Transport`]; the bindings pass such a client through.
//!
//! The built-in [`TcpHttpClient`] speaks `http://` only. Its limits ([`HttpConfig`]): each
//! address is given `connect_timeout`, each read `read_timeout`, the whole request
//! `request_timeout`; responses above `max_response_bytes` are refused; failures that may be
//! temporary are retried `retries` times with doubling pauses. Host names go through the
//! system resolver, which has no timeout of its own (use an IP address where that matters).

use crate::wallet::transport::TransportError;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// A complete HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Decoded body (chunked transfer encoding removed).
    pub body: Vec<u8>,
}

/// A blocking HTTP `GET`. Implementations return any *complete* response, whatever its
/// status (CometBFT sends JSON-RPC errors with error statuses, and the caller reads them),
/// and an error only when there is none: [`TransportError::Unreachable`] for anything that
/// may pass (refused, timed out, truncated), [`TransportError::Malformed`] for a peer that
/// does not speak HTTP. They bound their own waiting and response size.
pub trait HttpClient: Send + Sync {
    /// Fetches `url` (absolute, `http://` or `https://` as the client supports).
    fn get(&self, url: &str) -> Result<HttpResponse, TransportError>;
}

/// Limits and retry policy of the built-in [`TcpHttpClient`].
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

/// The built-in client: HTTP/1.1 `GET` over a fresh TCP connection per request, `http://`
/// only (everything fetched is verified anyway, so TLS adds privacy, not integrity).
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpHttpClient {
    config: HttpConfig,
}

/// One failed attempt: whether another attempt may help.
enum Failure {
    Retry(TransportError),
    Fatal(TransportError),
}

/// Where one request goes.
struct Target<'a> {
    url: &'a str,
    host: String,
    port: u16,
    path: String,
}

impl TcpHttpClient {
    /// A client with explicit limits and retry policy.
    pub fn new(config: HttpConfig) -> TcpHttpClient {
        TcpHttpClient { config }
    }

    /// The limits in use.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    fn connect(&self, target: &Target<'_>, deadline: Instant) -> Result<TcpStream, Failure> {
        let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| {
                Failure::Retry(unreachable(target.url, format!("cannot resolve host: {e}")))
            })?
            .collect();
        let mut last = unreachable(target.url, "host resolves to no address");
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&addr, self.config.connect_timeout.min(left)) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = unreachable(target.url, format!("connect {addr}: {e}")),
            }
        }
        Err(Failure::Retry(last))
    }

    /// One request: a complete response, or why not.
    fn attempt(&self, target: &Target<'_>) -> Result<HttpResponse, Failure> {
        let deadline = Instant::now() + self.config.request_timeout;
        let mut stream = self.connect(target, deadline)?;
        let io = |e: std::io::Error| Failure::Retry(unreachable(target.url, format!("I/O: {e}")));
        stream
            .set_read_timeout(Some(self.config.read_timeout))
            .map_err(io)?;
        stream
            .set_write_timeout(Some(self.config.read_timeout))
            .map_err(io)?;
        let host = if target.host.contains(':') {
            format!("[{}]:{}", target.host, target.port)
        } else {
            format!("{}:{}", target.host, target.port)
        };
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\
             User-Agent: cascade-wallet\r\nConnection: close\r\n\r\n",
            target.path
        );
        stream.write_all(request.as_bytes()).map_err(io)?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            if Instant::now() >= deadline {
                return Err(Failure::Retry(unreachable(
                    target.url,
                    format!(
                        "no complete response within {:?}",
                        self.config.request_timeout
                    ),
                )));
            }
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    raw.extend_from_slice(&buf[..n]);
                    if raw.len() > self.config.max_response_bytes {
                        return Err(Failure::Fatal(malformed(
                            target.url,
                            format!(
                                "response larger than {} bytes",
                                self.config.max_response_bytes
                            ),
                        )));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        let response = parse_response(&raw).map_err(|e| match e {
            ParseError::Truncated(r) => {
                Failure::Retry(unreachable(target.url, format!("truncated response: {r}")))
            }
            ParseError::Invalid(r) => Failure::Fatal(malformed(target.url, r)),
        })?;
        // A gateway error without a JSON-RPC body may pass; one with a body is the node's
        // answer, which the caller reads.
        if matches!(response.status, 502..=504) && response.body.first() != Some(&b'{') {
            return Err(Failure::Retry(unreachable(
                target.url,
                format!("HTTP status {}", response.status),
            )));
        }
        Ok(response)
    }
}

impl HttpClient for TcpHttpClient {
    fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
        let (host, port, path) = split_url(url).map_err(|reason| unreachable(url, reason))?;
        let target = Target {
            url,
            host,
            port,
            path: if path.is_empty() { "/".into() } else { path },
        };
        let mut delay = self.config.retry_delay;
        let mut attempt = 0;
        loop {
            match self.attempt(&target) {
                Ok(response) => return Ok(response),
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
}

fn unreachable(node: &str, reason: impl Into<String>) -> TransportError {
    TransportError::Unreachable {
        node: node.to_string(),
        reason: reason.into(),
    }
}

fn malformed(node: &str, reason: impl Into<String>) -> TransportError {
    TransportError::Malformed {
        node: node.to_string(),
        reason: reason.into(),
    }
}

/// Splits an `http://host[:port][/prefix]` base URL into host, port (80 by default) and
/// path prefix (without a trailing `/`).
pub fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let (host, port, path) = split_url(url)?;
    Ok((host, port, path.trim_end_matches('/').to_string()))
}

/// Splits an `http://host[:port][/path?query]` URL into host, port and the request target
/// exactly as given (empty if none).
fn split_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = if let Some(rest) = url.strip_prefix("http://") {
        rest
    } else if url.starts_with("https://") {
        return Err(
            "https is not supported by the built-in HTTP client: pass an HttpClient over \
             the host platform's TLS stack"
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
    Ok((host, port, path.to_string()))
}

/// Finds `\r\n\r\n`.
fn header_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
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
        assert_eq!(
            parse_url("http://h:1/status?x=1"),
            Ok(("h".into(), 1, "/status?x=1".into()))
        );
        assert!(parse_url("https://node.example").is_err());
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://:80").is_err());
        assert!(parse_url("http://host:notaport").is_err());
        assert!(matches!(
            TcpHttpClient::default().get("https://node.example/status"),
            Err(TransportError::Unreachable { .. })
        ));
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
}
