//! Solo mode: the ABCI application driven in-process by a single-validator block producer.
//!
//! A [`SoloNode`] runs the same [`App`] that validators run under CometBFT, through the same
//! ABCI 2.0 calls in the same order, and produces real CometBFT v0.38 headers and commits.
//! So a demo, a test or a one-organisation deployment gets exactly the network's
//! application code, and a light client (`tendermint-light-client-verifier`) checks its
//! headers with the same code it uses against a real network, and then checks state proofs
//! against the verified app hash. Nothing here reads a clock or opens a socket: the caller
//! supplies every block's time.
//!
//! # One validator
//!
//! Solo mode has exactly one signer, the validator key given at construction; its voting
//! power is the one the genesis lists for it (10 if the genesis lists none). Validator
//! updates that governance transactions return from `FinalizeBlock` are **recorded**
//! ([`SoloNode::validator_updates`], and in the block store) but **not applied**: every
//! header keeps the solo validator set as `validators_hash` and `next_validators_hash`, and
//! every commit is signed by the solo key. Changing the set needs a real CometBFT network.
//!
//! # Producing a block
//!
//! [`SoloNode::produce_block`] follows a CometBFT proposer and validator:
//! 1. sign the commit for the previous block at this block's time (it becomes this block's
//!    `last_commit`, so the block time is the BFT median time of its last commit, as in
//!    CometBFT v0.38);
//! 2. `PrepareProposal` with the mempool's transactions;
//! 3. build the header: `app_hash` after the previous block, `last_results_hash` of the
//!    previous block's results, `last_block_id`, `data_hash`, validator, consensus, evidence
//!    and last-commit hashes, proposer, version `{block: 11, app: APP_VERSION}`;
//! 4. `ProcessProposal` (a validator precommits only a block its application accepts);
//! 5. sign this block's commit (the "seen commit");
//! 6. store the block durably (header, block id, last commit, seen commit, transactions);
//! 7. `FinalizeBlock`, store its results (app hash, results hash, validator updates), then
//!    `Commit`;
//! 8. drop the included transactions from the mempool and recheck the rest.
//!
//! # Crash recovery
//!
//! The block is durable (6) before the application executes it (7), and its results are
//! durable before the application commits. [`SoloNode::open`] finds a stored block the
//! ledger has not committed, replays it through `FinalizeBlock` + `Commit` (as CometBFT's
//! handshake does), and refuses to continue if the replay's app hash differs from the one
//! the stored results or the next stored header recorded.
//!
//! # Commits served
//!
//! [`SoloNode::signed_header`] returns, like CometBFT's `/commit`, the seen commit for the
//! latest block and the commit carried in the next block for older ones. Both are valid
//! commits of the same block id; they differ only in the vote time.
//!
//! # Where solo mode differs from a CometBFT node
//!
//! - Block 1 may be at genesis time or later; CometBFT puts it exactly at genesis time.
//! - A CometBFT validator signs one precommit, and the next block's time is the median of
//!   those votes. The caller chooses each block time here, so the seen commit is voted at
//!   block time + 1 ms (CometBFT's earliest vote time) and the commit carried in the next
//!   block is signed again at that block's time.
//! - Round 0 always, no evidence, no vote extensions, no peers. The consensus parameters are
//!   CometBFT v0.38's defaults and are never updated.
//!
//! The block id (header hash and part-set header of the encoded block), the last-commit,
//! consensus-parameter and empty-list hashes are checked against blocks of a real CometBFT
//! v0.38 chain in `core/tests/solo.rs`; those blocks carry no transactions, so `data_hash`
//! and `last_results_hash` of non-empty blocks follow the Go code but are not cross-checked.

mod blocks;
pub mod cometbft;

use crate::app::{App, AppError, APP_VERSION};
use crate::block_outcome::BlockOutcome;
use crate::crypto::{sha256, Hash32};
use crate::error::LedgerError;
use crate::ledger::{Ledger, TxReceipt};
use crate::store::StoreError;
use crate::types::Genesis;
pub use blocks::TxIndexRecord;
use blocks::{BlockStore, StoredBlock, StoredResults};
use bytes::Bytes;
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use tendermint::abci::request::{self, CheckTxKind};
use tendermint::abci::response;
use tendermint::block::header::Version;
use tendermint::block::signed_header::SignedHeader;
use tendermint::block::{self, Commit, Header, Height};
use tendermint::{chain, validator, vote, AppHash, Hash, PublicKey, Time};
use zeroize::Zeroize;

/// Voting power of the solo validator when the genesis does not list it.
pub const SOLO_VOTING_POWER: u64 = 10;

/// A failure of the solo node. Nothing is half-done: a block either is stored and will be
/// executed (now or on the next [`SoloNode::open`]), or was not produced.
#[derive(Debug, thiserror::Error)]
pub enum SoloError {
    /// The application refused a step (ledger storage, bad sequence, bad genesis).
    #[error(transparent)]
    App(#[from] AppError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The block store failed.
    #[error("block store: {0}")]
    Store(#[from] StoreError),
    /// The node directory could not be created.
    #[error("node directory: {0}")]
    Io(#[from] std::io::Error),
    /// A stored block or its results do not decode or do not fit together.
    #[error("stored block {height} is corrupt: {reason}")]
    Corrupt {
        /// Height of the block.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// Block time must increase (and the first block may not precede genesis).
    #[error("block {height} time {time} is not after the previous block time {previous}")]
    TimeNotIncreasing {
        /// Height of the block being produced.
        height: u64,
        /// Time given (Unix seconds).
        time: i64,
        /// Time of the previous block, or genesis time for block 1 (Unix seconds).
        previous: i64,
    },
    /// The time cannot be a CometBFT timestamp.
    #[error("block time {time} is not a valid timestamp")]
    BadTime {
        /// Time given (Unix seconds).
        time: i64,
    },
    /// The genesis does not fit solo mode or this node's stored chain.
    #[error("genesis does not fit this solo node: {reason}")]
    Genesis {
        /// What is wrong.
        reason: String,
    },
    /// `ProcessProposal` rejected the block `PrepareProposal` built; nothing was stored.
    #[error("the application rejected its own proposal for block {height}")]
    ProposalRejected {
        /// Height of the block.
        height: u64,
    },
    /// Replaying a stored block gave another app hash than the one recorded for it.
    #[error("replaying block {height} gave app hash {got}, but {expected} was recorded")]
    AppHashMismatch {
        /// Height of the block.
        height: u64,
        /// Recorded app hash.
        expected: String,
        /// App hash of the replay.
        got: String,
    },
    /// The ledger has blocks the block store does not: the two files do not belong together.
    #[error("the ledger is at height {ledger} but the block store only reaches {store}")]
    StoreBehind {
        /// Ledger height.
        ledger: u64,
        /// Block store height.
        store: u64,
    },
    /// A CometBFT structure could not be built (should not happen with valid inputs).
    #[error("cannot build a CometBFT structure: {reason}")]
    Build {
        /// What failed.
        reason: String,
    },
}

/// redb's errors reach the solo node as block-store failures, as they reach the ledger as
/// store failures (`StoreError`), so block-store code can use `?` on redb calls directly.
macro_rules! redb_errors_are_store_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for SoloError {
            fn from(e: $t) -> Self {
                SoloError::Store(StoreError::from(e))
            }
        }
    )*};
}
redb_errors_are_store_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Why the mempool refused a transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// `CheckTx` rejected it; `code` is the ledger's [`crate::TxError::code`].
    #[error("transaction {hash} rejected (code {code}): {log}")]
    Rejected {
        /// Transaction hash.
        hash: Hash32,
        /// The ledger's error code.
        code: u32,
        /// The ledger's error message.
        log: String,
    },
    /// The same bytes are already waiting in the mempool.
    #[error("transaction {hash} is already in the mempool")]
    Duplicate {
        /// Transaction hash.
        hash: Hash32,
    },
}

impl SubmitError {
    /// The ledger's error code, if `CheckTx` rejected the transaction.
    pub fn code(&self) -> Option<u32> {
        match self {
            SubmitError::Rejected { code, .. } => Some(*code),
            SubmitError::Duplicate { .. } => None,
        }
    }
}

/// One transaction's outcome: executed in a block, or dropped from the mempool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    /// Transaction hash.
    pub hash: Hash32,
    /// 0 on success, else the ledger's error code.
    pub code: u32,
    /// Error message, empty on success.
    pub log: String,
}

/// What [`SoloNode::produce_block`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSummary {
    /// Height of the block.
    pub height: u64,
    /// Block time (Unix seconds).
    pub time: i64,
    /// Header hash and part-set header.
    pub block_id: block::Id,
    /// App hash after the block; the next header carries it.
    pub app_hash: Hash32,
    /// The block's transactions, in order, with their results.
    pub txs: Vec<TxOutcome>,
    /// Mempool transactions that no longer pass `CheckTx` after this block and were dropped.
    pub dropped: Vec<TxOutcome>,
    /// Validator updates the block returned (recorded, not applied: see the module docs).
    pub validator_updates: Vec<validator::Update>,
}

/// The last committed block, from which the next header is built.
#[derive(Clone, Copy, Debug)]
struct Tip {
    height: u64,
    time: Time,
    block_id: block::Id,
    results_hash: Hash,
}

/// Where a test makes [`SoloNode`] stop as if the process had died.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CrashPoint {
    AfterBlockStored,
    BeforeAppCommit,
}

/// The application, a single-validator block producer and its block store.
pub struct SoloNode {
    app: App,
    /// The validator's signing key. Never printed: `SoloNode`'s `Debug` leaves it out, and it
    /// is zeroized on drop.
    key: ed25519_consensus::SigningKey,
    validator: validator::Info,
    validators: validator::Set,
    chain_id: chain::Id,
    genesis_time: Time,
    blocks: BlockStore,
    mempool: Vec<(Hash32, Bytes)>,
    in_mempool: BTreeSet<Hash32>,
    tip: Option<Tip>,
    validator_updates: Vec<(u64, Vec<validator::Update>)>,
}

impl fmt::Debug for SoloNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoloNode")
            .field("chain_id", &self.chain_id)
            .field("height", &self.latest_height())
            .field("validator", &self.validator.address)
            .field("mempool", &self.mempool.len())
            .finish_non_exhaustive()
    }
}

impl Drop for SoloNode {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

fn build_err(e: impl fmt::Display) -> SoloError {
    SoloError::Build {
        reason: e.to_string(),
    }
}

fn to_hash32(hash: &AppHash) -> Result<Hash32, SoloError> {
    <[u8; 32]>::try_from(hash.as_bytes())
        .map(Hash32)
        .map_err(|_| SoloError::Build {
            reason: format!("app hash {hash} is not 32 bytes"),
        })
}

impl SoloNode {
    /// A solo chain in memory (tests, demos): nothing survives the process.
    pub fn in_memory(
        genesis: &Genesis,
        key: ed25519_consensus::SigningKey,
    ) -> Result<SoloNode, SoloError> {
        let app = App::new(Ledger::in_memory()?);
        SoloNode::start(app, BlockStore::in_memory()?, genesis, key)
    }

    /// Opens (or creates) a solo chain in `dir`: the ledger in `dir/ledger.redb`, the blocks
    /// in `dir/blocks.redb`. A block stored but not executed before a crash is replayed.
    pub fn open(
        dir: &Path,
        genesis: &Genesis,
        key: ed25519_consensus::SigningKey,
    ) -> Result<SoloNode, SoloError> {
        std::fs::create_dir_all(dir)?;
        let app = App::new(Ledger::open(&dir.join("ledger.redb"))?);
        let blocks = BlockStore::open(&dir.join("blocks.redb"))?;
        SoloNode::start(app, blocks, genesis, key)
    }

    fn start(
        app: App,
        blocks: BlockStore,
        genesis: &Genesis,
        key: ed25519_consensus::SigningKey,
    ) -> Result<SoloNode, SoloError> {
        let bad = |reason: String| SoloError::Genesis { reason };
        let chain_id = chain::Id::try_from(genesis.chain_id.clone())
            .map_err(|e| bad(format!("chain id {:?}: {e}", genesis.chain_id)))?;
        let genesis_time = Time::from_unix_timestamp(genesis.genesis_time, 0)
            .map_err(|e| bad(format!("genesis time: {e}")))?;
        let key_bytes = key.verification_key().to_bytes();
        let power =
            match genesis.validators.as_slice() {
                [] => SOLO_VOTING_POWER,
                [v] if v.pub_key.0 == key_bytes => v.power,
                _ => return Err(bad(
                    "solo mode has one validator: the genesis must list none or only the solo key"
                        .into(),
                )),
            };
        // tendermint's `Set::new` panics above this total; refuse it here instead.
        if power == 0 || power > validator::Set::MAX_TOTAL_VOTING_POWER {
            return Err(bad(format!("solo validator power {power} is out of range")));
        }
        let pub_key = PublicKey::from_raw_ed25519(&key_bytes)
            .ok_or_else(|| bad("the solo key is not a valid Ed25519 key".into()))?;
        let power = vote::Power::try_from(power).map_err(|e| bad(format!("power: {e}")))?;
        let info = validator::Info::new(pub_key, power);
        let validators = validator::Set::new(vec![info.clone()], Some(info.clone()));
        let mut node = SoloNode {
            app,
            key,
            validator: info,
            validators,
            chain_id,
            genesis_time,
            blocks,
            mempool: Vec::new(),
            in_mempool: BTreeSet::new(),
            tip: None,
            validator_updates: Vec::new(),
        };
        node.init_chain(genesis)?;
        node.recover()?;
        Ok(node)
    }

    /// `InitChain` on a new ledger (or again on one that crashed before block 1, which is
    /// harmless); for a ledger with blocks, checks that it is the genesis' chain, started from
    /// this very genesis and signed with this key. Reopening with another genesis under the
    /// same chain id would run the old state under the new genesis' time and parameters, and
    /// another key would sign headers no light client can follow from the stored ones.
    fn init_chain(&mut self, genesis: &Genesis) -> Result<(), SoloError> {
        let digest = sha256(
            &serde_json::to_vec(genesis).map_err(|e| SoloError::Genesis {
                reason: e.to_string(),
            })?,
        );
        let refuse = |reason: String| Err(SoloError::Genesis { reason });
        let recorded = self.blocks.genesis_digest()?;
        if recorded.is_some_and(|stored| stored != digest) {
            return refuse(format!(
                "the stored chain was started from another genesis (chain {:?}); open it with \
                 its own genesis, or start a new chain in an empty directory",
                genesis.chain_id
            ));
        }
        self.check_or_init(genesis)?;
        // Recorded once the genesis is accepted, so a refused genesis leaves nothing behind.
        if recorded.is_none() {
            self.blocks.put_genesis_digest(&digest)?;
        }
        Ok(())
    }

    fn check_or_init(&mut self, genesis: &Genesis) -> Result<(), SoloError> {
        let refuse = |reason: String| Err(SoloError::Genesis { reason });
        match self.app.ledger().committed() {
            Some(c) if c.version > 0 => {
                let stored = self.app.ledger().chain_id().unwrap_or_default();
                if stored != genesis.chain_id {
                    return refuse(format!(
                        "the stored ledger is chain {stored:?}, not {:?}",
                        genesis.chain_id
                    ));
                }
                let last = self.blocks.last_height()?;
                if let Some(block) = self.blocks.block(last)? {
                    if block.header.next_validators_hash != self.validators.hash() {
                        return refuse(format!(
                            "block {last} hands the chain to another validator than this key \
                             ({}); open it with the key it was produced with",
                            self.validator.address
                        ));
                    }
                }
                Ok(())
            }
            _ => {
                let app_state = serde_json::to_vec(genesis).map_err(|e| SoloError::Genesis {
                    reason: e.to_string(),
                })?;
                let req = request::InitChain {
                    time: self.genesis_time,
                    chain_id: genesis.chain_id.clone(),
                    consensus_params: cometbft::consensus_params(),
                    validators: vec![validator::Update {
                        pub_key: self.validator.pub_key,
                        power: self.validator.power,
                    }],
                    app_state_bytes: app_state.into(),
                    initial_height: Height::from(1_u32),
                };
                self.app.init_chain(&req)?;
                Ok(())
            }
        }
    }

    /// Replays stored blocks the ledger has not committed and restores the tip.
    fn recover(&mut self) -> Result<(), SoloError> {
        let stored = self.blocks.last_height()?;
        let committed = self.committed_height();
        if committed > stored {
            return Err(SoloError::StoreBehind {
                ledger: committed,
                store: stored,
            });
        }
        for height in committed + 1..=stored {
            let block = self.stored_block(height)?;
            let expected = match self.blocks.block(height + 1)? {
                Some(next) => Some(next.header.app_hash),
                None => self.blocks.results(height)?.map(|r| r.app_hash),
            };
            let (results, outcomes) = self.finalize(&block)?;
            if let Some(expected) = expected {
                if expected != results.app_hash {
                    return Err(SoloError::AppHashMismatch {
                        height,
                        expected: expected.to_string(),
                        got: results.app_hash.to_string(),
                    });
                }
            }
            self.blocks.put_results(height, &results, &outcomes)?;
            self.app.commit()?;
        }
        if stored > 0 {
            let block = self.stored_block(stored)?;
            let results = self.blocks.results(stored)?.ok_or(SoloError::Corrupt {
                height: stored,
                reason: "a committed block has no results".into(),
            })?;
            let committed = self.committed_app_hash()?;
            if results.app_hash != committed {
                return Err(SoloError::AppHashMismatch {
                    height: stored,
                    expected: results.app_hash.to_string(),
                    got: committed.to_string(),
                });
            }
            self.tip = Some(Tip {
                height: stored,
                time: block.header.time,
                block_id: block.block_id,
                results_hash: results.results_hash,
            });
        }
        self.validator_updates = self.blocks.validator_updates()?;
        Ok(())
    }

    fn stored_block(&self, height: u64) -> Result<StoredBlock, SoloError> {
        self.blocks.block(height)?.ok_or(SoloError::Corrupt {
            height,
            reason: "block missing from the block store".into(),
        })
    }

    fn committed_height(&self) -> u64 {
        self.app.ledger().committed().map_or(0, |c| c.version)
    }

    /// The committed app hash as CometBFT carries it (empty before genesis).
    fn committed_app_hash(&self) -> Result<AppHash, SoloError> {
        let bytes = self
            .app
            .ledger()
            .committed()
            .map_or_else(Vec::new, |c| c.app_hash.0.to_vec());
        AppHash::try_from(bytes).map_err(build_err)
    }

    /// `FinalizeBlock` for a stored block; returns the results to store before `Commit` and
    /// each transaction's outcome.
    fn finalize(
        &mut self,
        block: &StoredBlock,
    ) -> Result<(StoredResults, Vec<TxOutcome>), SoloError> {
        let req = request::FinalizeBlock {
            txs: block.txs.clone(),
            decided_last_commit: cometbft::commit_info(&block.last_commit, &self.validators)?,
            misbehavior: Vec::new(),
            hash: block.block_id.hash,
            height: block.header.height,
            time: block.header.time,
            next_validators_hash: block.header.next_validators_hash,
            proposer_address: block.header.proposer_address,
        };
        let resp = self.app.finalize_block(&req)?;
        let outcomes = resp
            .tx_results
            .iter()
            .zip(&block.txs)
            .map(|(r, tx)| TxOutcome {
                hash: Hash32(sha256(tx)),
                code: r.code.value(),
                log: r.log.clone(),
            })
            .collect();
        let tx_results: Vec<_> = resp
            .tx_results
            .iter()
            .map(cometbft::result_digest)
            .collect();
        let results = StoredResults {
            results_hash: cometbft::results_hash(&tx_results),
            app_hash: resp.app_hash,
            validator_updates: resp.validator_updates,
            tx_results,
        };
        Ok((results, outcomes))
    }

    // ---- mempool -------------------------------------------------------------------------

    /// Offers a transaction to the mempool. It is admitted only if `CheckTx` accepts it
    /// against the committed state plus the transactions already admitted, so a signer can
    /// queue consecutive nonces; the next [`SoloNode::produce_block`] includes it.
    pub fn submit(&mut self, tx: Vec<u8>) -> Result<Hash32, SubmitError> {
        let hash = Hash32(sha256(&tx));
        if self.in_mempool.contains(&hash) {
            return Err(SubmitError::Duplicate { hash });
        }
        let tx = Bytes::from(tx);
        let resp = self.app.check_tx(&request::CheckTx {
            tx: tx.clone(),
            kind: CheckTxKind::New,
        });
        if resp.code.is_err() {
            return Err(SubmitError::Rejected {
                hash,
                code: resp.code.value(),
                log: resp.log,
            });
        }
        self.in_mempool.insert(hash);
        self.mempool.push((hash, tx));
        Ok(hash)
    }

    /// Number of transactions waiting for a block.
    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    // ---- block production ------------------------------------------------------------------

    /// Produces, executes and commits the next block at `time_unix_secs`, which must be after
    /// the previous block's time (block 1 may be at genesis time, as in CometBFT, or later).
    pub fn produce_block(&mut self, time_unix_secs: i64) -> Result<BlockSummary, SoloError> {
        let summary = self.produce(time_unix_secs, None)?;
        summary.ok_or(SoloError::Build {
            reason: "block production stopped early".into(),
        })
    }

    /// Test hook: produces the next block up to and including its `FinalizeBlock` and stored
    /// results, then stops before the application's `Commit`, as if the process died there.
    /// [`SoloNode::open`] must then replay the block.
    #[doc(hidden)]
    pub fn produce_block_crash_before_commit(
        mut self,
        time_unix_secs: i64,
    ) -> Result<(), SoloError> {
        self.produce(time_unix_secs, Some(CrashPoint::BeforeAppCommit))
            .map(|_| ())
    }

    /// Test hook: stores the next block, then stops before the application executes it.
    #[doc(hidden)]
    pub fn produce_block_crash_after_store(mut self, time_unix_secs: i64) -> Result<(), SoloError> {
        self.produce(time_unix_secs, Some(CrashPoint::AfterBlockStored))
            .map(|_| ())
    }

    fn produce(
        &mut self,
        time_unix_secs: i64,
        crash: Option<CrashPoint>,
    ) -> Result<Option<BlockSummary>, SoloError> {
        let height_u64 = self.latest_height() + 1;
        let (previous, ok) = match &self.tip {
            Some(tip) => {
                let previous = tip.time.unix_timestamp();
                (previous, time_unix_secs > previous)
            }
            None => {
                let genesis = self.genesis_time.unix_timestamp();
                (genesis, time_unix_secs >= genesis)
            }
        };
        if !ok {
            return Err(SoloError::TimeNotIncreasing {
                height: height_u64,
                time: time_unix_secs,
                previous,
            });
        }
        let time =
            Time::from_unix_timestamp(time_unix_secs, 0).map_err(|_| SoloError::BadTime {
                time: time_unix_secs,
            })?;
        let height = Height::try_from(height_u64).map_err(build_err)?;
        let address = self.validator.address;
        let validators_hash = self.validators.hash();

        // 1. The previous block's commit, voted at this block's time.
        let last_commit = match &self.tip {
            Some(tip) => cometbft::sign_commit(
                &self.key,
                address,
                &self.chain_id,
                Height::try_from(tip.height).map_err(build_err)?,
                tip.block_id,
                time,
            )?,
            None => Commit::default(),
        };
        let last_commit_info = cometbft::commit_info(&last_commit, &self.validators)?;

        // 2. PrepareProposal.
        let proposal = self.app.prepare_proposal(&request::PrepareProposal {
            max_tx_bytes: cometbft::max_data_bytes(1),
            txs: self.mempool.iter().map(|(_, tx)| tx.clone()).collect(),
            local_last_commit: Some(cometbft::extended_commit_info(
                &last_commit,
                &self.validators,
            )?),
            misbehavior: Vec::new(),
            height,
            time,
            next_validators_hash: validators_hash,
            proposer_address: address,
        })?;
        let txs = proposal.txs;

        // 3. The header.
        let header = Header {
            version: Version {
                block: cometbft::BLOCK_PROTOCOL,
                app: APP_VERSION,
            },
            chain_id: self.chain_id.clone(),
            height,
            time,
            last_block_id: self.tip.map(|t| t.block_id),
            last_commit_hash: Some(cometbft::commit_hash(&last_commit)),
            data_hash: Some(cometbft::data_hash(&txs)),
            validators_hash,
            next_validators_hash: validators_hash,
            consensus_hash: cometbft::consensus_hash(),
            app_hash: self.committed_app_hash()?,
            last_results_hash: Some(
                self.tip
                    .map_or_else(|| cometbft::merkle::<&[u8]>(&[]), |t| t.results_hash),
            ),
            evidence_hash: Some(cometbft::empty_evidence_hash()),
            proposer_address: address,
        };
        let block_id = cometbft::block_id(&header, &txs, &last_commit)?;

        // 4. ProcessProposal.
        let verdict = self.app.process_proposal(&request::ProcessProposal {
            txs: txs.clone(),
            proposed_last_commit: Some(last_commit_info),
            misbehavior: Vec::new(),
            hash: block_id.hash,
            height,
            time,
            next_validators_hash: validators_hash,
            proposer_address: address,
        })?;
        if verdict != response::ProcessProposal::Accept {
            return Err(SoloError::ProposalRejected { height: height_u64 });
        }

        // 5. This block's commit. CometBFT votes at least 1 ms after the block time.
        let vote_time = time
            .checked_add(std::time::Duration::from_millis(1))
            .ok_or(SoloError::BadTime {
                time: time_unix_secs,
            })?;
        let seen_commit = cometbft::sign_commit(
            &self.key,
            address,
            &self.chain_id,
            height,
            block_id,
            vote_time,
        )?;

        // 6. Store the block before executing it.
        let block = StoredBlock {
            header,
            block_id,
            last_commit,
            seen_commit,
            txs,
        };
        self.blocks.put_block(&block)?;
        if crash == Some(CrashPoint::AfterBlockStored) {
            return Ok(None);
        }

        // 7. FinalizeBlock, results, Commit.
        let (results, outcomes) = self.finalize(&block)?;
        self.blocks.put_results(height_u64, &results, &outcomes)?;
        if crash == Some(CrashPoint::BeforeAppCommit) {
            return Ok(None);
        }
        self.app.commit()?;
        self.tip = Some(Tip {
            height: height_u64,
            time,
            block_id,
            results_hash: results.results_hash,
        });
        if !results.validator_updates.is_empty() {
            self.validator_updates
                .push((height_u64, results.validator_updates.clone()));
        }

        // 8. Mempool: drop what the block included, recheck the rest.
        let included: BTreeSet<Hash32> = block.txs.iter().map(|tx| Hash32(sha256(tx))).collect();
        let mut dropped = Vec::new();
        for (hash, tx) in std::mem::take(&mut self.mempool) {
            if included.contains(&hash) {
                self.in_mempool.remove(&hash);
                continue;
            }
            let resp = self.app.check_tx(&request::CheckTx {
                tx: tx.clone(),
                kind: CheckTxKind::Recheck,
            });
            if resp.code.is_ok() {
                self.mempool.push((hash, tx));
            } else {
                self.in_mempool.remove(&hash);
                dropped.push(TxOutcome {
                    hash,
                    code: resp.code.value(),
                    log: resp.log,
                });
            }
        }
        Ok(Some(BlockSummary {
            height: height_u64,
            time: time_unix_secs,
            block_id,
            app_hash: to_hash32(&results.app_hash)?,
            txs: outcomes,
            dropped,
            validator_updates: results.validator_updates,
        }))
    }

    // ---- reads for light clients and wallets ---------------------------------------------

    /// Height of the last committed block (0 before the first block).
    pub fn latest_height(&self) -> u64 {
        self.tip.map_or(0, |t| t.height)
    }

    /// Time of the last committed block (genesis time before block 1): the next block's
    /// time must be after it. Lets a driver that produces blocks on demand pick their time
    /// (see `wallet::solo_transport::SoloTransport::live`).
    pub fn latest_time(&self) -> Time {
        self.tip.map_or(self.genesis_time, |t| t.time)
    }

    /// Chain id, as headers and votes carry it.
    pub fn chain_id(&self) -> &chain::Id {
        &self.chain_id
    }

    /// Genesis time (block 1 cannot be earlier).
    pub fn genesis_time(&self) -> Time {
        self.genesis_time
    }

    /// App hash of the committed state (the next header's `app_hash`).
    pub fn app_hash(&self) -> Result<Hash32, SoloError> {
        to_hash32(&self.committed_app_hash()?)
    }

    /// The header of block `height` and a commit for it, as CometBFT's `/commit` returns
    /// them: the seen commit for the latest block, the next block's `last_commit` otherwise.
    pub fn signed_header(&self, height: u64) -> Result<Option<SignedHeader>, SoloError> {
        if height == 0 || height > self.latest_height() {
            return Ok(None);
        }
        let block = self.stored_block(height)?;
        let commit = match self.blocks.block(height + 1)? {
            Some(next) if height < self.latest_height() => next.last_commit,
            _ => block.seen_commit,
        };
        SignedHeader::new(block.header, commit)
            .map(Some)
            .map_err(|e| SoloError::Corrupt {
                height,
                reason: format!("commit does not fit the header: {e}"),
            })
    }

    /// The full block at `height` (header, transactions, no evidence, last commit), as
    /// CometBFT's `/block` returns it.
    pub fn block(&self, height: u64) -> Result<Option<tendermint::Block>, SoloError> {
        if height == 0 || height > self.latest_height() {
            return Ok(None);
        }
        let block = self.stored_block(height)?;
        let last_commit = (height > 1).then_some(block.last_commit);
        Ok(Some(tendermint::Block::new(
            block.header,
            block.txs.iter().map(|tx| tx.to_vec()).collect(),
            tendermint::evidence::List::default(),
            last_commit,
        )))
    }

    /// Block `height`'s transactions and the deterministic part of their results, as
    /// CometBFT's `/block` and `/block_results` give them: what a wallet checks against the
    /// verified headers `height` and `height + 1` to learn a transaction's outcome. `None`
    /// for a height not produced yet, and for a block whose results were stored before they
    /// were kept per transaction.
    pub fn block_outcome(&self, height: u64) -> Result<Option<BlockOutcome>, SoloError> {
        if height == 0 || height > self.latest_height() {
            return Ok(None);
        }
        let block = self.stored_block(height)?;
        let Some(results) = self.blocks.results(height)? else {
            return Ok(None);
        };
        if results.tx_results.len() != block.txs.len() {
            return Ok(None);
        }
        Ok(Some(BlockOutcome {
            txs: block.txs.iter().map(|tx| tx.to_vec()).collect(),
            results: results.tx_results,
        }))
    }

    /// The validator set that signs block `height` (always the solo validator), for heights
    /// 1 to the next block's: the light client's `validators` and `next_validators`.
    pub fn validator_set(&self, height: u64) -> Option<validator::Set> {
        (height >= 1 && height <= self.latest_height() + 1).then(|| self.validators.clone())
    }

    /// The solo validator (address, public key, power).
    pub fn validator(&self) -> &validator::Info {
        &self.validator
    }

    /// Validator updates returned by `FinalizeBlock`, by height. Recorded, never applied:
    /// solo mode keeps signing with its one key.
    pub fn validator_updates(&self) -> &[(u64, Vec<validator::Update>)] {
        &self.validator_updates
    }

    /// ABCI `Query` on the committed state (path `/<kind>/<hex>`, see [`crate::query`]). The
    /// answer is for [`SoloNode::latest_height`]; its proofs verify against the app hash of
    /// the *next* header.
    pub fn query(&self, path: &str) -> response::Query {
        self.app.query(&request::Query {
            data: Bytes::new(),
            path: path.to_string(),
            height: Height::from(0_u32),
            prove: true,
        })
    }

    /// A transaction's receipt, as a network's `/tx` gives it: the block store's index says
    /// where the transaction is, and that block's stored result carries its events
    /// ([`crate::event::result_data`]). Not proven: a wallet checks the block against its
    /// verified headers. `None` for a transaction no stored block holds.
    pub fn receipt(&self, hash: &Hash32) -> Result<Option<TxReceipt>, SoloError> {
        let Some(at) = self.blocks.tx(hash)? else {
            return Ok(None);
        };
        let corrupt = |reason: String| SoloError::Corrupt {
            height: at.height,
            reason,
        };
        let results = self.blocks.results(at.height)?.ok_or_else(|| {
            corrupt(format!(
                "transaction {hash} is indexed but the block has no results"
            ))
        })?;
        let result = results.tx_results.get(at.index as usize).ok_or_else(|| {
            corrupt(format!(
                "transaction {hash} is at position {} but the block's results list {} \
                     (results stored before they were kept per transaction have none)",
                at.index,
                results.tx_results.len()
            ))
        })?;
        if result.data == hash.0 {
            // Blocks produced before ADR 0012 kept the transaction hash as result data.
            return Err(corrupt(format!(
                "transaction {hash} ran before results kept events: its events are not stored"
            )));
        }
        let events = crate::event::from_result_data(&result.data)
            .map_err(|e| corrupt(format!("the result of transaction {hash}: {e}")))?;
        Ok(Some(TxReceipt {
            hash: *hash,
            height: at.height,
            index: at.index,
            code: at.code,
            log: at.log,
            events,
        }))
    }

    /// Which stored block holds the transaction with this hash, from the block store's own
    /// index: what CometBFT's `/tx` answers on a network (not proven: a wallet checks the
    /// block against its verified headers).
    pub fn tx_location(&self, hash: &Hash32) -> Result<Option<TxIndexRecord>, SoloError> {
        self.blocks.tx(hash)
    }

    /// The application (read access: the ledger, counters).
    pub fn app(&self) -> &App {
        &self.app
    }
}
