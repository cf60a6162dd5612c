//! The wallet side of Cascade: keys, the light consensus client and the transports it
//! talks to nodes through.
//!
//! A phone trusts no single server. Headers are checked by [`light::LightClient`] with
//! CometBFT's light-client verification (`tendermint-light-client-verifier`), and every
//! piece of state it shows is checked with a Merkle proof ([`crate::proof`]) against an app
//! hash taken from a verified header. The app hash of state version `H` is in header
//! `H + 1`, so [`light::LightClient::verified_app_hash_for_state`] verifies that header.
//!
//! Transports ([`transport::Transport`]) only move bytes: [`http::HttpTransport`] speaks
//! CometBFT's JSON-RPC through an [`http_client::HttpClient`] (the built-in plain-HTTP one,
//! or the host app's own stack with TLS), and `solo_transport::SoloTransport` (feature
//! `app`) talks to an in-process [`crate::solo::SoloNode`].

pub mod client;
pub mod http;
pub mod http_client;
pub mod keys;
pub mod light;
#[cfg(feature = "app")]
pub mod solo_transport;
pub mod transport;
