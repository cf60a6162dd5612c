//! # cascade-core
//!
//! The deterministic ledger of Cascade: splittable receivable certificates issued by an
//! obligor, split and passed down supplier tiers, discounted with financiers and settled at
//! maturity. Pure Rust with no networking, FFI or clock: the block driver supplies height
//! and time, and the same blocks give the same app hash everywhere.
//!
//! Start at [`Ledger`]; transactions are built with [`tx::Tx`] and signed with
//! [`crypto::SecretKey`]. See `docs/` for the design and the ADRs behind it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "app")]
pub mod app;
#[cfg(feature = "testkit")]
pub mod bench;
#[cfg(any(feature = "app", feature = "wallet"))]
pub mod block_outcome;
pub mod codec;
pub mod crypto;
pub mod date;
#[cfg(all(feature = "app", feature = "testkit"))]
pub mod demo;
pub mod error;
pub mod event;
pub mod exec;
pub mod keys;
pub mod ledger;
mod memory_backend;
pub mod merkle;
pub mod money;
pub mod overlay;
pub mod pricing;
pub mod proof;
pub mod query;
#[cfg(feature = "app")]
pub mod solo;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tx;
pub mod types;
#[cfg(feature = "wallet")]
pub mod wallet;

pub use crypto::{Address, Hash32, PublicKeyBytes, SecretKey, ValidatorKey};
pub use date::Day;
pub use error::{LedgerError, TxError};
pub use event::Event;
pub use ledger::{Ledger, TxReceipt};
pub use money::{Amount, Currency, Money};
pub use pricing::{AnnualRate, DayCount, Quote};
pub use types::*;
