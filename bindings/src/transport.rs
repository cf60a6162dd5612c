//! The app's own HTTP stack (OkHttp, URLSession) under the core's CometBFT RPC transport.
//! The app only moves bytes: the library builds the URLs, parses the JSON and verifies
//! every header and proof, so a client that lies or breaks gives a typed error, never a
//! wrong view.

use crate::errors::WalletError;
use cascade_core::wallet::http_client::{HttpClient as CoreHttpClient, HttpResponse};
use cascade_core::wallet::transport::TransportError;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// A complete HTTP response.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// A blocking HTTP `GET` the app implements. Called from a background thread.
#[uniffi::export(with_foreign)]
pub trait HttpClient: Send + Sync {
    /// Fetches `url`. Return any complete response, whatever its status (CometBFT sends
    /// JSON-RPC errors with error statuses); throw (e.g. `WalletError.Network`) only when
    /// there is none. Bound your own timeouts and response size.
    fn get(&self, url: String) -> Result<HttpReply, WalletError>;
}

/// Largest response accepted from the app's client (as the built-in client's default).
const MAX_BODY: usize = 16 << 20;

/// A foreign [`HttpClient`] seen as the core's.
pub(crate) struct ForeignHttp {
    client: Arc<dyn HttpClient>,
}

impl ForeignHttp {
    pub(crate) fn new(client: Arc<dyn HttpClient>) -> ForeignHttp {
        ForeignHttp { client }
    }
}

impl CoreHttpClient for ForeignHttp {
    fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
        let unreachable = |reason: String| TransportError::Unreachable {
            node: url.to_string(),
            reason,
        };
        let reply = catch_unwind(AssertUnwindSafe(|| self.client.get(url.to_string())))
            .map_err(|_| unreachable("the app's HTTP client panicked".into()))?
            .map_err(|e| match e {
                WalletError::Network { reason, .. } => unreachable(reason),
                other => unreachable(other.to_string()),
            })?;
        if reply.body.len() > MAX_BODY {
            return Err(TransportError::Malformed {
                node: url.to_string(),
                reason: format!("response larger than {MAX_BODY} bytes"),
            });
        }
        Ok(HttpResponse {
            status: reply.status,
            body: reply.body,
        })
    }
}
