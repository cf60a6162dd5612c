//! ABCI requests for the harnesses: the shared builders of `cascade_core::testkit::abci`,
//! with application errors turned into text so the answers of two applications compare.

use bytes::Bytes;
use cascade_core::app::{App, AppError};
use cascade_core::testkit::abci;
use tendermint::abci::response::{self, FinalizeBlock, PrepareProposal, ProcessProposal};

pub use cascade_core::testkit::abci::new_app;

/// An answer with the application's error as text, so two applications' answers compare.
pub type Answer<T> = Result<T, String>;

/// Errors as text, so results of two applications can be compared.
pub fn plain<T>(r: Result<T, AppError>) -> Answer<T> {
    r.map_err(|e| format!("{e:?}"))
}

/// `PrepareProposal` at height `h`, time `t` (Unix seconds).
pub fn prepare(app: &mut App, h: u64, t: i64, txs: &[Bytes]) -> Answer<PrepareProposal> {
    plain(app.prepare_proposal(&abci::prepare_proposal(h, t, txs)))
}

/// `ProcessProposal` at height `h`, time `t` (Unix seconds).
pub fn process(app: &mut App, h: u64, t: i64, txs: &[Bytes]) -> Answer<ProcessProposal> {
    plain(app.process_proposal(&abci::process_proposal(h, t, txs)))
}

/// `FinalizeBlock` at height `h`, time `t` (Unix seconds).
pub fn finalize(app: &mut App, h: u64, t: i64, txs: &[Bytes]) -> Answer<FinalizeBlock> {
    plain(app.finalize_block(&abci::finalize_block(h, t, txs)))
}

/// `CheckTx` (new transaction).
pub fn check(app: &mut App, tx: &Bytes) -> response::CheckTx {
    app.check_tx(&abci::check_tx(tx))
}

/// `Query` at the latest height, with proof.
pub fn query(app: &App, path: &str) -> response::Query {
    app.query(&abci::query(path, 0))
}

/// `Info`.
pub fn info(app: &App) -> response::Info {
    app.info(&abci::info())
}
