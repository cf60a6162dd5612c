//! # cascade-node
//!
//! The Cascade node: the ledger's ABCI 2.0 application ([`cascade_core::app::App`]) served to
//! CometBFT v0.38 over its socket protocol, plus everything needed to run it.
//!
//! - [`abci`]: the ABCI server (tower-abci) around one `App` behind a mutex; a consensus
//!   failure is fatal and stops the node.
//! - [`cometbft`]: finding the pinned CometBFT binary and running its `init`.
//! - [`config`]: editing CometBFT's `config.toml` and `genesis.json`, reading node and
//!   validator keys.
//! - [`genesis`]: the development consortium used by `init` and `testnet` by default.
//! - [`testnet`]: N node homes on one machine (distinct ports, one genesis, persistent peers).
//! - [`rpc`]: a small blocking JSON-RPC client for CometBFT's RPC.
//! - [`cli`]: the `cascade-node` command line.
//!
//! The application and CometBFT run as separate processes (ADR 0006); the choice of
//! tower-abci is ADR 0005.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod abci;
pub mod cli;
pub mod cometbft;
pub mod config;
pub mod error;
pub mod genesis;
pub mod rpc;
pub mod testnet;

pub use error::NodeError;
