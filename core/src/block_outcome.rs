//! What a block did to its transactions, and how a client checks it against verified
//! headers without trusting the node that tells it.
//!
//! CometBFT commits to a block's outcome in two header fields: header `H` carries
//! `data_hash`, the Merkle root of block `H`'s transaction hashes, and header `H + 1` carries
//! `last_results_hash`, the Merkle root of the deterministic part of each transaction's
//! result (code, data, gas wanted, gas used). A wallet that has verified both headers with
//! its light client can therefore check a node's account of block `H` ([`BlockOutcome`])
//! and learn, from the ledger itself, whether its transaction is in that block and with
//! which code. Solo mode builds its headers with the same functions, and the network tests
//! check them against CometBFT's own headers.

use crate::crypto::{sha256, Hash32};
use prost::Message;
use tendermint::crypto::default::Sha256;
use tendermint::merkle::simple_hash_from_byte_vectors;
use tendermint_proto::v0_38::abci as pb_abci;

/// The deterministic part of a transaction's result: what `last_results_hash` commits to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxResultDigest {
    /// 0 for success, else the ledger's error code.
    pub code: u32,
    /// Result data: a successful transaction's events ([`crate::event::result_data`]).
    pub data: Vec<u8>,
    /// Gas wanted (always 0 here).
    pub gas_wanted: i64,
    /// Gas used (always 0 here).
    pub gas_used: i64,
}

/// A node's account of one block: its transactions in order and their results.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockOutcome {
    /// Transactions in block order.
    pub txs: Vec<Vec<u8>>,
    /// Their results, in the same order.
    pub results: Vec<TxResultDigest>,
}

/// Why a block outcome does not match the verified headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutcomeError {
    /// Not one result per transaction.
    #[error("block {height} lists {txs} transactions but {results} results")]
    Counts {
        /// Block height.
        height: u64,
        /// Transactions listed.
        txs: usize,
        /// Results listed.
        results: usize,
    },
    /// The transactions do not hash to header `height`'s `data_hash`.
    #[error("block {height}'s transactions do not match its verified header")]
    Transactions {
        /// Block height.
        height: u64,
    },
    /// The results do not hash to header `height + 1`'s `last_results_hash`.
    #[error("block {height}'s results do not match the verified header after it")]
    Results {
        /// Block height.
        height: u64,
    },
    /// The node's receipt names block `height`, which does not hold the transaction.
    #[error("the node's receipt names block {height}, which does not hold the transaction")]
    NotInBlock {
        /// Block height.
        height: u64,
    },
}

/// `merkle.HashFromByteSlices`: RFC 6962 tree over SHA-256; the empty list hashes to
/// `SHA-256("")`.
pub fn merkle_root<T: AsRef<[u8]>>(leaves: &[T]) -> [u8; 32] {
    simple_hash_from_byte_vectors::<Sha256>(leaves)
}

/// `Txs.Hash`: the Merkle root of the transactions' SHA-256 hashes (a header's `data_hash`).
pub fn data_hash<T: AsRef<[u8]>>(txs: &[T]) -> [u8; 32] {
    let leaves: Vec<[u8; 32]> = txs.iter().map(|tx| sha256(tx.as_ref())).collect();
    merkle_root(&leaves)
}

/// `state.TxResultsHash`: the Merkle root of each result's deterministic part,
/// protobuf-encoded (the next header's `last_results_hash`).
pub fn results_hash(results: &[TxResultDigest]) -> [u8; 32] {
    let leaves: Vec<Vec<u8>> = results
        .iter()
        .map(|r| r.to_proto().encode_to_vec())
        .collect();
    merkle_root(&leaves)
}

impl TxResultDigest {
    /// As CometBFT's `ExecTxResult`, with only the deterministic fields set: the form
    /// `last_results_hash` hashes, and the form solo mode stores.
    pub fn to_proto(&self) -> pb_abci::ExecTxResult {
        pb_abci::ExecTxResult {
            code: self.code,
            data: self.data.clone().into(),
            gas_wanted: self.gas_wanted,
            gas_used: self.gas_used,
            ..Default::default()
        }
    }

    /// The deterministic fields of a CometBFT `ExecTxResult` (the rest is dropped).
    pub fn from_proto(r: &pb_abci::ExecTxResult) -> TxResultDigest {
        TxResultDigest {
            code: r.code,
            data: r.data.to_vec(),
            gas_wanted: r.gas_wanted,
            gas_used: r.gas_used,
        }
    }
}

impl BlockOutcome {
    /// Checks this account of block `height` against `data_hash` (from verified header
    /// `height`) and `last_results_hash` (from verified header `height + 1`), then returns
    /// the result code of transaction `tx` in it, or `None` if the block does not hold it.
    pub fn code_of(
        &self,
        height: u64,
        tx: &Hash32,
        data_hash: &[u8],
        last_results_hash: &[u8],
    ) -> Result<Option<u32>, OutcomeError> {
        if self.txs.len() != self.results.len() {
            return Err(OutcomeError::Counts {
                height,
                txs: self.txs.len(),
                results: self.results.len(),
            });
        }
        if data_hash != self::data_hash(&self.txs).as_slice() {
            return Err(OutcomeError::Transactions { height });
        }
        if last_results_hash != results_hash(&self.results).as_slice() {
            return Err(OutcomeError::Results { height });
        }
        Ok(self
            .txs
            .iter()
            .position(|t| sha256(t) == tx.0)
            .map(|i| self.results[i].code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> BlockOutcome {
        let txs = vec![b"first".to_vec(), b"second".to_vec(), b"third".to_vec()];
        let results = txs
            .iter()
            .enumerate()
            .map(|(i, tx)| TxResultDigest {
                code: if i == 1 { 12 } else { 0 },
                data: if i == 1 { vec![] } else { sha256(tx).to_vec() },
                ..TxResultDigest::default()
            })
            .collect();
        BlockOutcome { txs, results }
    }

    fn hashes(b: &BlockOutcome) -> ([u8; 32], [u8; 32]) {
        (data_hash(&b.txs), results_hash(&b.results))
    }

    #[test]
    fn a_matching_outcome_gives_each_transactions_code() {
        let b = block();
        let (d, r) = hashes(&b);
        let code = |tx: &[u8]| b.code_of(7, &Hash32(sha256(tx)), &d, &r);
        assert_eq!(code(b"first"), Ok(Some(0)));
        assert_eq!(code(b"second"), Ok(Some(12)));
        assert_eq!(code(b"not in the block"), Ok(None));
    }

    #[test]
    fn an_altered_outcome_is_refused() {
        let b = block();
        let (d, r) = hashes(&b);
        let tx = Hash32(sha256(b"second"));
        let mut recoded = b.clone();
        recoded.results[1].code = 0;
        assert_eq!(
            recoded.code_of(7, &tx, &d, &r),
            Err(OutcomeError::Results { height: 7 })
        );
        let mut dropped = b.clone();
        dropped.txs.remove(1);
        dropped.results.remove(1);
        assert_eq!(
            dropped.code_of(7, &tx, &d, &r),
            Err(OutcomeError::Transactions { height: 7 })
        );
        let mut short = b.clone();
        short.results.pop();
        assert_eq!(
            short.code_of(7, &tx, &d, &r),
            Err(OutcomeError::Counts {
                height: 7,
                txs: 3,
                results: 2
            })
        );
    }

    /// CometBFT's published constants: the empty tree is SHA-256(""), and a one-leaf tree is
    /// SHA-256(0x00 || leaf) (RFC 6962 leaf prefix).
    #[test]
    fn merkle_roots_follow_rfc_6962() {
        assert_eq!(merkle_root::<&[u8]>(&[]), sha256(b""));
        let mut prefixed = vec![0u8];
        prefixed.extend_from_slice(b"leaf");
        assert_eq!(merkle_root(&[b"leaf"]), sha256(&prefixed));
    }
}
