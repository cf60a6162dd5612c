//! # cascade-ffi
//!
//! Cascade for Kotlin (Android), Swift (iOS) and Python through
//! [uniffi](https://mozilla.github.io/uniffi-rs) proc-macros: wallets that verify everything
//! they show, an embedded solo chain for demos and tests, keys, and the seams through which an
//! app plugs in its own signer, HTTP stack and event listener. The surface is specified in
//! `docs/ffi-surface.md`; this crate is a thin, validating shell over `cascade-core`.
//!
//! One module per job: [`errors`] (the error enums), [`types`] (records and validated
//! conversions), [`keys`] (key pairs and the host signer), [`node`] (the solo chain),
//! `rpc` (the solo chain answering CometBFT JSON-RPC, for testing an app's HTTP client),
//! [`transport`] (the host HTTP client), [`wallet`] (the wallet object).
//!
//! # Threading and object lifetime
//!
//! Every object crosses the boundary as an `Arc` and is `Send + Sync`: share one `Wallet`
//! or `SoloNode` between threads freely. Mutable state sits behind a `Mutex` inside the
//! object, so a wallet runs one refresh or transaction at a time, different wallets run in
//! parallel, and the wallets of one `SoloNode` share its lock only for each node call. A
//! lock left poisoned by a panic gives an `Internal` error, never a second panic.
//!
//! Network-bound wallet calls are `async` (uniffi's tokio support): their blocking work runs
//! on tokio's blocking pool, so awaiting them from a Kotlin coroutine, a Swift `Task` or
//! Python's asyncio never blocks the caller's thread. The sync calls are local and fast: they
//! read a copy of the wallet's state taken at the end of each call, so they never wait for a
//! refresh or transaction in progress (they see the state from before it). Foreign traits (`HostSigner`, `HttpClient`, `WalletListener`) are called from those
//! background threads. The signer and the HTTP client run while their wallet is locked, so
//! they must not call back into that wallet; the listener runs with the wallet unlocked and
//! may call its sync methods.
//!
//! Objects own native memory and files (a wallet's redb cache, a persistent solo node's
//! files, key material that is zeroized on free). Release them deterministically — Kotlin
//! `close()` or `use {}`, Swift's last reference, Python `del` — rather than waiting for a
//! finaliser; a cache file can be open in one `Wallet` at a time.
//!
//! # Panics
//!
//! No path on foreign input panics: every argument is validated into a typed error, foreign
//! callbacks return `Result` (an unexpected exception becomes a typed error), and calls into
//! the app are additionally guarded with `catch_unwind`. Should a bug panic anyway, uniffi
//! turns it into an error on the foreign side because the library is built with
//! `panic = "unwind"` in every profile, including `release-smaller`.

#![warn(missing_docs)]

pub mod errors;
pub mod keys;
pub mod node;
mod rpc;
pub mod transport;
pub mod types;
pub mod wallet;

pub use errors::{KeyPairError, NodeError, WalletError};
pub use keys::{generate_key, GeneratedKey, HostSigner, KeyPair};
pub use node::{GenesisParticipant, SoloConfig, SoloNode};
pub use transport::{HttpClient, HttpReply};
pub use types::*;
pub use wallet::{Wallet, WalletListener};

uniffi::setup_scaffolding!("cascade");

/// The library version (also the trivial call the FFI benchmark times).
#[uniffi::export]
pub fn library_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// SHA-256 of a legal identity, hex: what the ledger stores instead of the identity.
#[uniffi::export]
pub fn legal_id_hash(legal_id: String) -> String {
    types::hex(&cascade_core::crypto::sha256(legal_id.as_bytes()))
}

/// SHA-256 of a trade-document reference, hex: the document id `anchor_document` and
/// `issue` put on the ledger for that reference.
#[uniffi::export]
pub fn document_hash(reference: String) -> String {
    types::hex(&cascade_core::crypto::sha256(reference.as_bytes()))
}

/// Digits after the decimal point of `currency`'s major unit, ISO 4217's minor unit (2 for
/// CNY, 0 for JPY, 3 for KWD): where the point goes when an app shows an amount, which the
/// ledger keeps in minor units. A well-formed code ISO 4217 does not list gets 2.
#[uniffi::export]
pub fn currency_minor_digits(currency: String) -> Result<u8, WalletError> {
    Ok(types::parse_currency("currency", &currency)?.minor_digits())
}
