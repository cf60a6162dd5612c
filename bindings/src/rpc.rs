//! The embedded solo chain answering CometBFT JSON-RPC `GET`s, as a CometBFT node at any base
//! URL would: `SoloNode::rpc_get(url)`. It lets an app test its own `HttpClient` (OkHttp,
//! URLSession) end to end with no server: a client that hands each URL to `rpc_get` gives a
//! `Wallet::connect_with_client` wallet real headers, commits and proofs to verify.
//!
//! Endpoints: `/status`, `/commit?height=`, `/validators?height=&page=&per_page=`,
//! `/abci_query?path="…"`, `/broadcast_tx_sync?tx=0x…`, `/block?height=`,
//! `/block_results?height=`, `/tx?hash=0x…` — the ones the core's RPC transport uses. Answers come from the live solo transport, so asking for the block after the latest
//! produces it, as on a chain that never stops. Missing heights and unknown methods get
//! CometBFT's JSON-RPC errors.

use crate::transport::HttpReply;
use cascade_core::crypto::Hash32;
use cascade_core::wallet::solo_transport::SoloTransport;
use cascade_core::wallet::transport::{Transport, TransportError};
use serde_json::{json, Value};

/// CometBFT's JSON-RPC code for an internal error (also what it says for missing heights).
const INTERNAL: i64 = -32603;
/// JSON-RPC: the method does not exist.
const NOT_FOUND: i64 = -32601;
/// JSON-RPC: invalid parameters.
const INVALID_PARAMS: i64 = -32602;

#[derive(serde::Serialize)]
struct Base64(#[serde(with = "tendermint::serializers::bytes::base64string")] Vec<u8>);

fn reply(status: u16, body: Value) -> HttpReply {
    HttpReply {
        status,
        body: body.to_string().into_bytes(),
    }
}

fn result(value: Value) -> HttpReply {
    reply(200, json!({ "jsonrpc": "2.0", "id": -1, "result": value }))
}

fn error(status: u16, code: i64, message: &str, data: String) -> HttpReply {
    reply(
        status,
        json!({ "jsonrpc": "2.0", "id": -1, "error": { "code": code, "message": message, "data": data } }),
    )
}

fn transport_error(e: TransportError) -> HttpReply {
    match e {
        // CometBFT's wording for a height it does not have, which clients map to "not found".
        TransportError::NotFound { what, .. } => error(
            500,
            INTERNAL,
            "Internal error",
            format!("{what} could not find: height must be less than or equal to the current blockchain height"),
        ),
        TransportError::Rpc { message, .. } => error(500, INTERNAL, "Internal error", message),
        other => error(500, INTERNAL, "Internal error", other.to_string()),
    }
}

/// Percent-decodes a query-string value; `None` if it is not valid UTF-8 or escapes.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The request target (`/method?query`) of an absolute URL, or of a target given as is.
fn target(url: &str) -> &str {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => url,
    }
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn height(query: &str) -> Result<u64, HttpReply> {
    param(query, "height")
        .and_then(|h| h.parse().ok())
        .ok_or_else(|| {
            error(
                500,
                INVALID_PARAMS,
                "Invalid params",
                "height must be a number".into(),
            )
        })
}

/// Answers one `GET` (the method is the URL's last path segment; any base path is ignored).
pub(crate) fn get(transport: &SoloTransport, url: &str) -> HttpReply {
    let target = target(url);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let method = path.rsplit('/').next().unwrap_or_default();
    let answer = match method {
        "status" => status(transport),
        "commit" => commit(transport, query),
        "validators" => validators(transport, query),
        "abci_query" => abci_query(transport, query),
        "broadcast_tx_sync" => broadcast(transport, query),
        "block" => block(transport, query),
        "block_results" => block_results(transport, query),
        "tx" => tx(transport, query),
        _ => Err(error(
            404,
            NOT_FOUND,
            "Method not found",
            format!("no method {method:?}"),
        )),
    };
    answer.unwrap_or_else(|e| e)
}

fn status(t: &SoloTransport) -> Result<HttpReply, HttpReply> {
    let s = t.status().map_err(transport_error)?;
    Ok(result(json!({
        "node_info": { "network": s.chain_id, "moniker": "solo" },
        "sync_info": { "latest_block_height": s.latest_height.to_string(), "catching_up": false },
    })))
}

fn commit(t: &SoloTransport, query: &str) -> Result<HttpReply, HttpReply> {
    let h = height(query)?;
    let block = t.light_block(h).map_err(transport_error)?;
    Ok(result(
        json!({ "signed_header": block.signed_header, "canonical": true }),
    ))
}

fn validators(t: &SoloTransport, query: &str) -> Result<HttpReply, HttpReply> {
    let h = height(query)?;
    if param(query, "page").is_some_and(|p| p != "1") {
        return Err(error(
            500,
            INVALID_PARAMS,
            "Invalid params",
            "page should be within [1, 1] range".into(),
        ));
    }
    // The set that signs block h is the `validators` of block h, or the `next_validators`
    // of the latest block when h is the one after it. Asking for validators never produces
    // a block (only `/commit` of the next height does, as the live transport's header).
    let latest = t.status().map_err(transport_error)?.latest_height;
    let set = if h >= 1 && h <= latest {
        t.light_block(h).map_err(transport_error)?.validators
    } else if h == latest + 1 && latest >= 1 {
        t.light_block(latest)
            .map_err(transport_error)?
            .next_validators
    } else {
        return Err(transport_error(TransportError::NotFound {
            node: String::new(),
            what: format!("validators at {h}"),
        }));
    };
    let list: Vec<Value> = set
        .validators()
        .iter()
        .map(|v| {
            json!({
                "address": v.address,
                "pub_key": v.pub_key,
                "voting_power": v.power.to_string(),
                "proposer_priority": "0",
            })
        })
        .collect();
    let n = list.len().to_string();
    Ok(result(
        json!({ "block_height": h.to_string(), "validators": list, "count": n, "total": n }),
    ))
}

fn abci_query(t: &SoloTransport, query: &str) -> Result<HttpReply, HttpReply> {
    let bad = || {
        error(
            500,
            INVALID_PARAMS,
            "Invalid params",
            "path must be a quoted string".into(),
        )
    };
    let raw = param(query, "path").ok_or_else(bad)?;
    let decoded = percent_decode(raw).ok_or_else(bad)?;
    let path = decoded
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .ok_or_else(bad)?;
    let r = t.query(path).map_err(transport_error)?;
    Ok(result(json!({ "response": {
        "code": r.code,
        "log": r.log,
        "info": "",
        "index": "0",
        "key": null,
        "value": Base64(r.value),
        "proofOps": null,
        "height": r.height.to_string(),
        "codespace": "",
    }})))
}

fn broadcast(t: &SoloTransport, query: &str) -> Result<HttpReply, HttpReply> {
    let bad = || {
        error(
            500,
            INVALID_PARAMS,
            "Invalid params",
            "tx must be 0x-prefixed hex".into(),
        )
    };
    let hex = param(query, "tx")
        .and_then(|v| v.strip_prefix("0x"))
        .ok_or_else(bad)?;
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let tx: Vec<u8> = (0..hex.len())
        .step_by(2)
        .filter_map(|i| hex.get(i..i + 2))
        .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
        .collect();
    let r = t.broadcast(&tx).map_err(transport_error)?;
    Ok(result(json!({
        "code": r.code,
        "data": "",
        "log": r.log,
        "codespace": "",
        "hash": r.hash.to_hex().to_uppercase(),
    })))
}

/// `/block`: the block's header, transactions (base64) and last commit, in CometBFT's JSON.
fn block(t: &SoloTransport, query: &str) -> Result<HttpReply, HttpReply> {
    let h = height(query)?;
    let found = {
        let node = t.node().lock().map_err(|_| {
            error(
                500,
                INTERNAL,
                "Internal error",
                "the solo node's lock is poisoned".into(),
            )
        })?;
        node.block(h)
            .map_err(|e| error(500, INTERNAL, "Internal error", e.to_string()))?
    };
    let block = found.ok_or_else(|| {
        transport_error(TransportError::NotFound {
            node: String::new(),
            what: format!("block {h}"),
        })
    })?;
    Ok(result(json!({
        "block_id": { "hash": block.header.hash() },
        "block": block,
    })))
}

/// `/tx?hash=0x…`: where the solo node's index puts a transaction, in CometBFT's words when
/// it has none (`tx (HASH) not found`). Only the fields a wallet reads carry values.
fn tx(t: &SoloTransport, query: &str) -> Result<HttpReply, HttpReply> {
    let hash = param(query, "hash")
        .and_then(|v| v.strip_prefix("0x"))
        .and_then(Hash32::from_hex)
        .ok_or_else(|| {
            error(
                500,
                INVALID_PARAMS,
                "Invalid params",
                "hash must be 0x-prefixed hex of 32 bytes".into(),
            )
        })?;
    let found = t.tx_location(&hash).map_err(transport_error)?;
    let Some(found) = found else {
        return Err(error(
            500,
            INTERNAL,
            "Internal error",
            format!("tx ({}) not found", hash.to_hex().to_uppercase()),
        ));
    };
    Ok(result(json!({
        "hash": hash.to_hex().to_uppercase(),
        "height": found.height.to_string(),
        "index": found.index,
        "tx_result": { "log": found.log },
    })))
}

/// `/block_results`: each transaction's result (only the fields a result hash covers carry
/// values; solo mode keeps nothing else per transaction).
fn block_results(t: &SoloTransport, query: &str) -> Result<HttpReply, HttpReply> {
    let h = height(query)?;
    let outcome = t.block_outcome(h).map_err(transport_error)?;
    let results: Vec<Value> = outcome
        .results
        .into_iter()
        .map(|r| {
            json!({
                "code": r.code,
                "data": if r.data.is_empty() { Value::Null } else { json!(Base64(r.data)) },
                "log": "",
                "info": "",
                "gas_wanted": r.gas_wanted.to_string(),
                "gas_used": r.gas_used.to_string(),
                "events": [],
                "codespace": "",
            })
        })
        .collect();
    Ok(result(json!({
        "height": h.to_string(),
        "txs_results": if results.is_empty() { Value::Null } else { Value::Array(results) },
        "finalize_block_events": [],
        "validator_updates": null,
        "consensus_param_updates": null,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_parameters_parse() {
        assert_eq!(target("https://h:1/base/status"), "/base/status");
        assert_eq!(target("https://h"), "/");
        assert_eq!(target("/commit?height=2"), "/commit?height=2");
        assert_eq!(param("height=5&page=1", "page"), Some("1"));
        assert_eq!(param("height=5", "page"), None);
        assert_eq!(
            percent_decode("%22%2Fpiece%2Fab%22").as_deref(),
            Some("\"/piece/ab\"")
        );
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%e"), None);
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%C3"), None, "not UTF-8");
    }
}
