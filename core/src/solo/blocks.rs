//! The solo block store: a redb database of blocks and their execution results.
//!
//! Two tables keyed by height, and an index of transactions by hash:
//! - `blocks`: the protobuf [`BlockRecord`] (header, block id, the commit for the previous
//!   block that this block carries, the commit signed for this block, transactions). It is
//!   written once, before the application executes the block, so a crash during execution
//!   leaves a block that can be replayed.
//! - `results`: the protobuf [`ResultsRecord`] (app hash after the block, hash of its
//!   transaction results, validator updates). It is written after `FinalizeBlock` and before
//!   the application's `Commit`, so a committed block always has its results.
//! - `txs`: transaction hash → the protobuf [`TxIndexRecord`] (height, position, code,
//!   log), written in the same write transaction as the block's results. It answers what
//!   CometBFT's `/tx` answers on a network: which block holds a transaction (ADR 0012).
//!
//! Records are protobuf rather than borsh because their parts are CometBFT's own protobuf
//! messages, which any CometBFT tool can decode.

use super::{SoloError, TxOutcome};
use crate::block_outcome::TxResultDigest;
use crate::crypto::Hash32;
use crate::store::StoreError;
use prost::Message;
use redb::{Database, ReadableTable, TableDefinition};
use std::path::Path;
use tendermint::block::{self, Commit, Header};
use tendermint::validator;
use tendermint::{AppHash, Hash};
use tendermint_proto::v0_38::{abci as pb_abci, types as pb};

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const RESULTS: TableDefinition<u64, &[u8]> = TableDefinition::new("results");
const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txs");
/// Facts about the chain the blocks belong to (the genesis digest).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_GENESIS: &str = "genesis";
/// Set once `txs` indexes every stored block's transactions (a store from before the index
/// gets it built from its blocks and results when it is opened).
const META_TX_INDEX: &str = "tx_index";

/// A block as stored.
#[derive(Clone, PartialEq, Message)]
pub struct BlockRecord {
    /// The header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<pb::Header>,
    /// Header hash and part-set header.
    #[prost(message, optional, tag = "2")]
    pub block_id: Option<pb::BlockId>,
    /// The commit for the previous block carried in this block (`Block.LastCommit`); the
    /// empty commit for the first block.
    #[prost(message, optional, tag = "3")]
    pub last_commit: Option<pb::Commit>,
    /// The commit signed for this block when it was produced (CometBFT's "seen commit").
    #[prost(message, optional, tag = "4")]
    pub seen_commit: Option<pb::Commit>,
    /// Transactions in block order.
    #[prost(bytes = "vec", repeated, tag = "5")]
    pub txs: Vec<Vec<u8>>,
}

/// A block's execution results as stored.
#[derive(Clone, PartialEq, Message)]
pub struct ResultsRecord {
    /// App hash after the block (`FinalizeBlock.app_hash`).
    #[prost(bytes = "vec", tag = "1")]
    pub app_hash: Vec<u8>,
    /// `last_results_hash` of the next header.
    #[prost(bytes = "vec", tag = "2")]
    pub results_hash: Vec<u8>,
    /// Validator updates the block returned.
    #[prost(message, repeated, tag = "3")]
    pub validator_updates: Vec<pb_abci::ValidatorUpdate>,
    /// Each transaction's result, deterministic part only (code, data, gas), in block
    /// order: what `results_hash` is the root of, kept so a wallet can check one
    /// transaction's outcome. Absent in records written before it was kept.
    #[prost(message, repeated, tag = "4")]
    pub tx_results: Vec<pb_abci::ExecTxResult>,
}

/// Where a transaction went, as the `txs` index keeps it.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct TxIndexRecord {
    /// Height of the block holding it.
    #[prost(uint64, tag = "1")]
    pub height: u64,
    /// Its position in that block.
    #[prost(uint32, tag = "2")]
    pub index: u32,
    /// 0 on success, else the ledger's error code.
    #[prost(uint32, tag = "3")]
    pub code: u32,
    /// Error message, empty on success (and for blocks indexed from a store written before
    /// the index, which kept no messages).
    #[prost(string, tag = "4")]
    pub log: String,
}

/// A stored block, decoded.
#[derive(Clone, Debug)]
pub struct StoredBlock {
    /// Header.
    pub header: Header,
    /// Block id.
    pub block_id: block::Id,
    /// `Block.LastCommit`.
    pub last_commit: Commit,
    /// The commit signed when the block was produced.
    pub seen_commit: Commit,
    /// Transactions.
    pub txs: Vec<bytes::Bytes>,
}

/// A block's results, decoded.
#[derive(Clone, Debug)]
pub struct StoredResults {
    /// App hash after the block.
    pub app_hash: AppHash,
    /// Hash of the block's transaction results.
    pub results_hash: Hash,
    /// Validator updates returned by `FinalizeBlock`.
    pub validator_updates: Vec<validator::Update>,
    /// Each transaction's result, deterministic part, in block order.
    pub tx_results: Vec<TxResultDigest>,
}

fn corrupt(height: u64, what: &str, e: impl std::fmt::Display) -> SoloError {
    SoloError::Corrupt {
        height,
        reason: format!("{what}: {e}"),
    }
}

impl StoredBlock {
    fn encode(&self) -> Vec<u8> {
        BlockRecord {
            header: Some(self.header.clone().into()),
            block_id: Some(self.block_id.into()),
            last_commit: Some(self.last_commit.clone().into()),
            seen_commit: Some(self.seen_commit.clone().into()),
            txs: self.txs.iter().map(|t| t.to_vec()).collect(),
        }
        .encode_to_vec()
    }

    fn decode(height: u64, bytes: &[u8]) -> Result<StoredBlock, SoloError> {
        let r = BlockRecord::decode(bytes).map_err(|e| corrupt(height, "block record", e))?;
        let missing = |what: &str| corrupt(height, what, "missing");
        let header: Header = r
            .header
            .ok_or_else(|| missing("header"))?
            .try_into()
            .map_err(|e| corrupt(height, "header", e))?;
        let block_id: block::Id = r
            .block_id
            .ok_or_else(|| missing("block id"))?
            .try_into()
            .map_err(|e| corrupt(height, "block id", e))?;
        let last_commit: Commit = r
            .last_commit
            .ok_or_else(|| missing("last commit"))?
            .try_into()
            .map_err(|e| corrupt(height, "last commit", e))?;
        let seen_commit: Commit = r
            .seen_commit
            .ok_or_else(|| missing("seen commit"))?
            .try_into()
            .map_err(|e| corrupt(height, "seen commit", e))?;
        if header.height.value() != height || seen_commit.height.value() != height {
            return Err(corrupt(height, "record", "stored under the wrong height"));
        }
        if block_id.hash != header.hash() || seen_commit.block_id != block_id {
            return Err(corrupt(
                height,
                "record",
                "block id does not match the header",
            ));
        }
        Ok(StoredBlock {
            header,
            block_id,
            last_commit,
            seen_commit,
            txs: r.txs.into_iter().map(bytes::Bytes::from).collect(),
        })
    }
}

impl StoredResults {
    fn encode(&self) -> Vec<u8> {
        ResultsRecord {
            app_hash: self.app_hash.as_bytes().to_vec(),
            results_hash: self.results_hash.as_bytes().to_vec(),
            validator_updates: self
                .validator_updates
                .iter()
                .map(|u| pb_abci::ValidatorUpdate::from(u.clone()))
                .collect(),
            tx_results: self
                .tx_results
                .iter()
                .map(TxResultDigest::to_proto)
                .collect(),
        }
        .encode_to_vec()
    }

    fn decode(height: u64, bytes: &[u8]) -> Result<StoredResults, SoloError> {
        let r = ResultsRecord::decode(bytes).map_err(|e| corrupt(height, "results record", e))?;
        Ok(StoredResults {
            app_hash: AppHash::try_from(r.app_hash).map_err(|e| corrupt(height, "app hash", e))?,
            results_hash: Hash::try_from(r.results_hash)
                .map_err(|e| corrupt(height, "results hash", e))?,
            validator_updates: r
                .validator_updates
                .into_iter()
                .map(validator::Update::try_from)
                .collect::<Result<_, _>>()
                .map_err(|e| corrupt(height, "validator update", e))?,
            tx_results: r
                .tx_results
                .iter()
                .map(TxResultDigest::from_proto)
                .collect(),
        })
    }
}

/// The block database.
pub struct BlockStore {
    db: Database,
}

impl BlockStore {
    /// Opens (or creates) the block database at `path`.
    pub fn open(path: &Path) -> Result<BlockStore, SoloError> {
        BlockStore::init(Database::builder().create(path)?)
    }

    /// A block database in memory.
    pub fn in_memory() -> Result<BlockStore, SoloError> {
        BlockStore::init(
            Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?,
        )
    }

    fn init(db: Database) -> Result<BlockStore, SoloError> {
        let w = db.begin_write()?;
        {
            w.open_table(BLOCKS)?;
            w.open_table(RESULTS)?;
            w.open_table(TXS)?;
            w.open_table(META)?;
        }
        w.commit()?;
        let store = BlockStore { db };
        store.build_tx_index()?;
        Ok(store)
    }

    /// Indexes the transactions of every block that has results, once, for a store written
    /// before the `txs` index existed. Their logs were not kept, so they are empty; blocks
    /// whose results predate per-transaction results (`ResultsRecord.tx_results`) cannot be
    /// indexed and are left out, as they cannot be proven to a wallet either.
    fn build_tx_index(&self) -> Result<(), SoloError> {
        let w = self.db.begin_write()?;
        {
            let mut meta = w.open_table(META)?;
            if meta.get(META_TX_INDEX)?.is_some() {
                return Ok(());
            }
            let blocks = w.open_table(BLOCKS)?;
            let results = w.open_table(RESULTS)?;
            let mut txs = w.open_table(TXS)?;
            for entry in results.iter()? {
                let (height, bytes) = entry?;
                let height = height.value();
                let results = StoredResults::decode(height, bytes.value())?;
                let Some(block) = blocks.get(height)? else {
                    return Err(corrupt(height, "block", "results without their block"));
                };
                let block = StoredBlock::decode(height, block.value())?;
                for (index, (tx, result)) in block.txs.iter().zip(&results.tx_results).enumerate() {
                    let outcome = TxOutcome {
                        hash: Hash32(crate::crypto::sha256(tx)),
                        code: result.code,
                        log: String::new(),
                    };
                    index_tx(&mut txs, height, index, &outcome)?;
                }
            }
            meta.insert(META_TX_INDEX, [1u8].as_slice())?;
        }
        w.commit()?;
        Ok(())
    }

    /// The digest of the genesis these blocks were produced from, if recorded (stores
    /// written before it was recorded have none).
    pub fn genesis_digest(&self) -> Result<Option<[u8; 32]>, StoreError> {
        let r = self.db.begin_read()?;
        let table = r.open_table(META)?;
        let found = table.get(META_GENESIS)?;
        Ok(found.and_then(|v| <[u8; 32]>::try_from(v.value()).ok()))
    }

    /// Records the digest of the genesis these blocks are produced from.
    pub fn put_genesis_digest(&self, digest: &[u8; 32]) -> Result<(), StoreError> {
        let w = self.db.begin_write()?;
        {
            let mut table = w.open_table(META)?;
            table.insert(META_GENESIS, digest.as_slice())?;
        }
        w.commit()?;
        Ok(())
    }

    /// Height of the last stored block (0 if none).
    pub fn last_height(&self) -> Result<u64, StoreError> {
        let r = self.db.begin_read()?;
        let table = r.open_table(BLOCKS)?;
        let last = table.last()?;
        Ok(last.map_or(0, |(k, _)| k.value()))
    }

    fn get(
        &self,
        table: TableDefinition<u64, &[u8]>,
        height: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(table)?;
        let value = t.get(height)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn put(
        &self,
        table: TableDefinition<u64, &[u8]>,
        height: u64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let w = self.db.begin_write()?;
        {
            let mut t = w.open_table(table)?;
            t.insert(height, bytes)?;
        }
        w.commit()?;
        Ok(())
    }

    /// The block at `height`, if stored.
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, SoloError> {
        self.get(BLOCKS, height)?
            .map(|b| StoredBlock::decode(height, &b))
            .transpose()
    }

    /// Stores a block durably.
    pub fn put_block(&self, block: &StoredBlock) -> Result<(), SoloError> {
        Ok(self.put(BLOCKS, block.header.height.value(), &block.encode())?)
    }

    /// The results of the block at `height`, if stored.
    pub fn results(&self, height: u64) -> Result<Option<StoredResults>, SoloError> {
        self.get(RESULTS, height)?
            .map(|b| StoredResults::decode(height, &b))
            .transpose()
    }

    /// Stores a block's results durably, and indexes its transactions by hash (`outcomes`:
    /// each transaction's hash, code and log, in block order), in one write transaction.
    pub fn put_results(
        &self,
        height: u64,
        results: &StoredResults,
        outcomes: &[TxOutcome],
    ) -> Result<(), SoloError> {
        let w = self.db.begin_write()?;
        {
            w.open_table(RESULTS)?
                .insert(height, results.encode().as_slice())?;
            let mut txs = w.open_table(TXS)?;
            for (index, outcome) in outcomes.iter().enumerate() {
                index_tx(&mut txs, height, index, outcome)?;
            }
        }
        w.commit()?;
        Ok(())
    }

    /// Where the transaction with this hash went, if a stored block holds it.
    pub fn tx(&self, hash: &Hash32) -> Result<Option<TxIndexRecord>, SoloError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(TXS)?;
        let Some(found) = t.get(hash.0.as_slice())? else {
            return Ok(None);
        };
        TxIndexRecord::decode(found.value())
            .map(Some)
            .map_err(|e| corrupt(0, &format!("tx index entry {hash}"), e))
    }

    /// Every stored block's validator updates, by height (only heights that have some).
    pub fn validator_updates(&self) -> Result<Vec<(u64, Vec<validator::Update>)>, SoloError> {
        let mut out = Vec::new();
        let r = self.db.begin_read()?;
        let t = r.open_table(RESULTS)?;
        for entry in t.iter()? {
            let (k, v) = entry?;
            let results = StoredResults::decode(k.value(), v.value())?;
            if !results.validator_updates.is_empty() {
                out.push((k.value(), results.validator_updates));
            }
        }
        Ok(out)
    }
}

/// Records where a transaction went. A success always takes the entry; a failure only an
/// empty one, so bytes replayed after they committed keep pointing at their success, and
/// bytes refused once and included later point at the later block (the rule the ledger's
/// receipts follow).
fn index_tx(
    txs: &mut redb::Table<&[u8], &[u8]>,
    height: u64,
    index: usize,
    outcome: &TxOutcome,
) -> Result<(), SoloError> {
    let key = outcome.hash.0.as_slice();
    if outcome.code != 0 && txs.get(key)?.is_some() {
        return Ok(());
    }
    let record = TxIndexRecord {
        height,
        index: u32::try_from(index).map_err(|e| corrupt(height, "transaction position", e))?,
        code: outcome.code,
        log: outcome.log.clone(),
    };
    txs.insert(key, record.encode_to_vec().as_slice())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A success always takes the entry; a failure only an empty one.
    #[test]
    fn a_success_is_never_overwritten_and_a_failure_gives_way_to_a_later_success() {
        let store = BlockStore::in_memory().unwrap_or_else(|e| panic!("{e}"));
        let outcome = |byte: u8, code: u32| TxOutcome {
            hash: Hash32([byte; 32]),
            code,
            log: if code == 0 {
                String::new()
            } else {
                format!("refused {code}")
            },
        };
        let results = StoredResults {
            app_hash: AppHash::default(),
            results_hash: Hash::None,
            validator_updates: Vec::new(),
            tx_results: Vec::new(),
        };
        // Block 1: a succeeds, b fails, c fails.
        let first = [outcome(0xa, 0), outcome(0xb, 8), outcome(0xc, 8)];
        store
            .put_results(1, &results, &first)
            .unwrap_or_else(|e| panic!("{e}"));
        // Block 2: a's bytes replayed (fail), b's included again (succeed), c fails again.
        let second = [outcome(0xa, 5), outcome(0xb, 0), outcome(0xc, 9)];
        store
            .put_results(2, &results, &second)
            .unwrap_or_else(|e| panic!("{e}"));
        let at = |byte: u8| {
            store
                .tx(&Hash32([byte; 32]))
                .unwrap_or_else(|e| panic!("{e}"))
                .map(|r| (r.height, r.index, r.code, r.log))
        };
        assert_eq!(at(0xa), Some((1, 0, 0, String::new())));
        assert_eq!(at(0xb), Some((2, 1, 0, String::new())));
        assert_eq!(at(0xc), Some((1, 2, 8, "refused 8".into())));
        assert_eq!(at(0xd), None);
    }
}
