//! The ledger: block lifecycle and queries over the committed state.
//!
//! The driver (CometBFT's ABCI, the solo block producer, tests) calls, per block:
//! [`Ledger::begin_block`] → [`Ledger::deliver_tx`]… → [`Ledger::commit`]. Nothing here reads
//! a clock or does I/O beyond the store: the block's height and time are inputs.

use crate::codec;
use crate::crypto::{Address, Hash32, ValidatorKey};
use crate::crypto::{PublicKeyBytes, SignerKey};
use crate::date::Day;
use crate::error::{LedgerError, TxError};
use crate::event::Event;
use crate::exec::{self, BlockEnv, Exec, HistoryEntry, HistoryRecord};
use crate::keys;
use crate::money::Currency;
use crate::overlay::{Layer, View};
use crate::store::{Committed, Prepared, Snapshot, Store, StoreError};
use crate::tx::{DecodedTx, VerifiedTx};
use crate::types::*;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Parsed public keys kept in memory. Parsing is a pure function of the bytes, so the cache
/// cannot affect results, only speed.
const KEY_CACHE_CAPACITY: usize = 65_536;

/// Longest chain id accepted (CometBFT's limit).
pub const MAX_CHAIN_ID_LEN: usize = 50;

/// Outcome of an applied transaction, as the ledger returns it to its driver.
///
/// The ledger does not keep it (ADR 0012): CometBFT's `/tx` (the solo block store in solo
/// mode) says which block holds a transaction, and the block's result carries its events
/// ([`crate::event::result_data`]), where the next header's `last_results_hash` commits to
/// them.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TxReceipt {
    /// Transaction hash.
    pub hash: Hash32,
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// 0 for success, else [`TxError::code`].
    pub code: u32,
    /// Error message for a failure, empty on success.
    pub log: String,
    /// Events of a successful transaction.
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, BorshSerialize, BorshDeserialize)]
struct BlockMeta {
    height: u64,
    day: Day,
}

struct OpenBlock {
    env: BlockEnv,
    layer: Layer,
    txs: u32,
}

/// The ledger state machine over a redb store.
pub struct Ledger {
    store: Store,
    snapshot: Snapshot,
    committed: Option<Committed>,
    chain_id: Option<String>,
    params: Params,
    last_day: Day,
    block: Option<OpenBlock>,
    /// A finalized block whose app hash is known but which is not yet durable.
    prepared: Option<Prepared>,
    /// State seen by the mempool: the committed state plus every transaction that passed
    /// [`Ledger::check_tx`] since the last commit. Reset at each commit.
    mempool: Option<OpenBlock>,
    key_cache: BTreeMap<PublicKeyBytes, SignerKey>,
}

impl Ledger {
    /// Opens a ledger file, recovering the last committed block. The database's page cache
    /// is redb's default (1 GiB); a node bounds it with [`Ledger::open_with_cache`].
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        Ledger::load(Store::open(path, exec::DERIVED)?)
    }

    /// [`Ledger::open`] with a page cache of at most `cache_bytes` (see
    /// [`Store::open_with_cache`]). The cache only changes speed and memory, never results.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Ledger, LedgerError> {
        Ledger::load(Store::open_with_cache(path, cache_bytes, exec::DERIVED)?)
    }

    /// A ledger in memory (tests, demos).
    pub fn in_memory() -> Result<Ledger, LedgerError> {
        Ledger::load(Store::in_memory(exec::DERIVED)?)
    }

    fn load(store: Store) -> Result<Ledger, LedgerError> {
        let snapshot = store.snapshot()?;
        let committed = snapshot.committed()?;
        let mut ledger = Ledger {
            store,
            snapshot,
            committed,
            chain_id: None,
            params: Params::default(),
            last_day: Day(0),
            block: None,
            prepared: None,
            mempool: None,
            key_cache: BTreeMap::new(),
        };
        if committed.is_some() {
            ledger.reload_meta()?;
        }
        Ok(ledger)
    }

    fn read<T: BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.snapshot.get_ref(key) {
            Some(b) => codec::decode_stored(b)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    what: String::from_utf8_lossy(key).into_owned(),
                    reason: e.to_string(),
                }),
            None => Ok(None),
        }
    }

    fn reload_meta(&mut self) -> Result<(), LedgerError> {
        self.chain_id = self.read::<String>(keys::CHAIN)?;
        self.params = self
            .read(keys::PARAMS)?
            .ok_or(LedgerError::NotInitialized)?;
        self.last_day = self
            .read::<BlockMeta>(keys::BLOCK)?
            .map_or(Day(0), |m| m.day);
        Ok(())
    }

    /// Writes the genesis state as version 0 and returns its app hash.
    pub fn init_chain(&mut self, genesis: &Genesis) -> Result<Hash32, LedgerError> {
        if let Some(chain_id) = &self.chain_id {
            return Err(LedgerError::AlreadyInitialized {
                chain_id: chain_id.clone(),
            });
        }
        let invalid = |reason: &str| LedgerError::InvalidGenesis {
            reason: reason.to_string(),
        };
        if genesis.chain_id.is_empty() || genesis.chain_id.len() > MAX_CHAIN_ID_LEN {
            return Err(invalid("chain id must be 1 to 50 bytes"));
        }
        genesis.params.validate().map_err(invalid)?;
        let day = Day::from_unix_seconds(genesis.genesis_time)
            .ok_or_else(|| invalid("genesis time is before 1970 or past the ledger's last day"))?;
        if !genesis
            .participants
            .iter()
            .any(|p| p.roles.contains(Roles::OPERATOR))
        {
            return Err(invalid("at least one participant must be an operator"));
        }
        let mut layer = Layer::default();
        {
            let mut view = View::new(&self.snapshot, &mut layer);
            view.put(keys::CHAIN, &genesis.chain_id);
            view.put(keys::PARAMS, &genesis.params);
            view.put(keys::BLOCK, &BlockMeta { height: 0, day });
            let mut consortium = Consortium::default();
            for v in &genesis.validators {
                if !v.pub_key.is_valid() {
                    return Err(invalid("validator with an invalid Ed25519 key"));
                }
                if v.power == 0 || v.power > MAX_VALIDATOR_POWER {
                    return Err(invalid("validator power must be 1 to 1,000,000"));
                }
                let key = keys::validator(&v.pub_key);
                if view.get_raw(&key)?.is_some() {
                    return Err(invalid("validator listed twice"));
                }
                view.put(key, v);
                consortium.validators += 1;
            }
            if consortium.validators > MAX_VALIDATORS {
                return Err(invalid("more than 100 validators"));
            }
            for p in &genesis.participants {
                if !p.roles.is_valid() {
                    return Err(invalid("participant with an invalid role set"));
                }
                p.public_key
                    .verifying_key()
                    .map_err(|_| invalid("participant with an invalid public key"))?;
                let key = keys::participant(&p.public_key.address());
                if view.get_raw(&key)?.is_some() {
                    return Err(invalid("participant listed twice"));
                }
                view.put(
                    key,
                    &Participant {
                        public_key: p.public_key,
                        roles: p.roles,
                        legal_id_hash: p.legal_id_hash,
                        active: true,
                    },
                );
                if p.roles.contains(Roles::OPERATOR) {
                    consortium.active_operators += 1;
                }
            }
            view.put(keys::CONSORTIUM, &consortium);
            view.keep();
        }
        let committed = self.store.commit(0, layer.into_changes())?;
        self.after_commit(committed)?;
        Ok(committed.app_hash)
    }

    fn after_commit(&mut self, committed: Committed) -> Result<(), LedgerError> {
        self.snapshot = self.store.snapshot()?;
        self.committed = Some(committed);
        self.mempool = None;
        self.reload_meta()
    }

    /// Opens block `height` with block time `time` (Unix seconds) and expires due offers.
    /// Returns the events of that block-level processing.
    pub fn begin_block(&mut self, height: u64, time: i64) -> Result<Vec<Event>, LedgerError> {
        if self.block.is_some() || self.prepared.is_some() {
            return Err(LedgerError::Sequence(
                "begin_block called twice without commit",
            ));
        }
        let chain_id = self.chain_id.clone().ok_or(LedgerError::NotInitialized)?;
        let expected = self.committed.map_or(0, |c| c.version) + 1;
        if height != expected {
            return Err(LedgerError::BlockOutOfOrder {
                expected,
                got: height,
            });
        }
        let today = Day::from_unix_seconds(time).ok_or(LedgerError::BadBlockTime { time })?;
        if today < self.last_day {
            return Err(LedgerError::BadBlockTime { time });
        }
        let env = BlockEnv {
            height,
            today,
            chain_id,
            params: self.params.clone(),
        };
        let mut block = OpenBlock {
            env,
            layer: Layer::default(),
            txs: 0,
        };
        let events = {
            let mut view = View::new(&self.snapshot, &mut block.layer);
            view.put(keys::BLOCK, &BlockMeta { height, day: today });
            let mut exec = Exec::for_block(&mut view, &block.env);
            exec.expire_offers().map_err(|e| match e {
                TxError::Store(s) => LedgerError::Store(s),
                other => LedgerError::Store(StoreError::Corrupt {
                    what: "offer expiry".into(),
                    reason: other.to_string(),
                }),
            })?;
            let events = std::mem::take(&mut exec.events);
            view.keep();
            events
        };
        self.block = Some(block);
        Ok(events)
    }

    /// Decodes, verifies and applies transaction bytes in the open block.
    pub fn deliver_tx(&mut self, bytes: &[u8]) -> Result<TxReceipt, TxError> {
        match self.verify(bytes) {
            Ok(verified) => self.apply(&verified),
            Err(err) => {
                self.reject_unverified()?;
                Err(err)
            }
        }
    }

    /// Records that the bytes at the next position of the open block did not decode or
    /// verify: they take their position, so positions stay those of the decided block.
    pub fn reject_unverified(&mut self) -> Result<(), TxError> {
        let block = self
            .block
            .as_mut()
            .ok_or(TxError::Store(StoreError::Database(
                "no open block: call begin_block first".into(),
            )))?;
        block.txs += 1;
        Ok(())
    }

    /// Decodes transaction bytes and checks their signature (stateless checks only).
    pub fn verify(&mut self, bytes: &[u8]) -> Result<VerifiedTx, TxError> {
        // Only a first bound against oversized input: `run_tx` checks the size against the
        // limit in force where the transaction runs (the open block's, or the committed one
        // for the mempool). The larger of the two is taken so that an open block, which may
        // be a proposal that is never decided, cannot make `check_tx` refuse a transaction
        // the committed parameters allow.
        let committed = self.params.max_tx_bytes;
        let max = self
            .block
            .as_ref()
            .map_or(committed, |b| b.env.params.max_tx_bytes.max(committed))
            as usize;
        let decoded = DecodedTx::decode(bytes, max)?;
        let signer = decoded.signed().tx.signer;
        let key = match self.key_cache.get(&signer) {
            Some(k) => *k,
            None => {
                let k = SignerKey::parse(&signer)?;
                if self.key_cache.len() >= KEY_CACHE_CAPACITY {
                    self.key_cache.clear();
                }
                self.key_cache.insert(signer, k);
                k
            }
        };
        Ok(decoded.verify_with_key(&key)?)
    }

    /// Mempool admission: runs every rule against the committed state plus the transactions
    /// already admitted since the last commit (so a signer can queue consecutive nonces).
    /// Nothing here reaches the committed state; the block execution is authoritative.
    pub fn check_tx(&mut self, tx: &VerifiedTx) -> Result<(), TxError> {
        let chain_id = self
            .chain_id
            .clone()
            .ok_or(TxError::Store(StoreError::Database(
                "ledger not initialised".into(),
            )))?;
        let height = self.committed.map_or(0, |c| c.version) + 1;
        let (today, params) = (self.last_day, self.params.clone());
        let mempool = self.mempool.get_or_insert_with(|| OpenBlock {
            env: BlockEnv {
                height,
                today,
                chain_id,
                params,
            },
            layer: Layer::default(),
            txs: 0,
        });
        run_tx(&self.snapshot, mempool, tx).map(|_| ())
    }

    /// Applies an already verified transaction (a node verifies once and caches the result).
    /// On error nothing is written; the transaction still takes its position in the block.
    pub fn apply(&mut self, tx: &VerifiedTx) -> Result<TxReceipt, TxError> {
        self.apply_inner(tx, true)
    }

    /// Like [`Ledger::apply`], but a failure does not take a position either: for building a
    /// block proposal, where a failing transaction is left out of the block.
    pub fn try_apply(&mut self, tx: &VerifiedTx) -> Result<TxReceipt, TxError> {
        self.apply_inner(tx, false)
    }

    fn apply_inner(&mut self, tx: &VerifiedTx, keep_failure: bool) -> Result<TxReceipt, TxError> {
        let block = self
            .block
            .as_mut()
            .ok_or(TxError::Store(StoreError::Database(
                "no open block: call begin_block first".into(),
            )))?;
        let index = block.txs;
        match run_tx(&self.snapshot, block, tx) {
            Ok(events) => Ok(TxReceipt {
                hash: tx.hash(),
                height: block.env.height,
                index,
                code: 0,
                log: String::new(),
                events,
            }),
            Err(err) => {
                if !keep_failure {
                    block.txs -= 1;
                }
                Err(err)
            }
        }
    }

    /// Closes the open block and computes its app hash without making it durable yet
    /// (ABCI `FinalizeBlock`). [`Ledger::commit`] then writes it (ABCI `Commit`); a crash in
    /// between loses the block, which CometBFT's handshake replays.
    pub fn finalize_block(&mut self) -> Result<Committed, LedgerError> {
        if let Some(prepared) = &self.prepared {
            return Ok(prepared.committed());
        }
        let block = self
            .block
            .take()
            .ok_or(LedgerError::Sequence("finalize_block without begin_block"))?;
        let prepared = self
            .store
            .prepare(block.env.height, block.layer.into_changes())?;
        let committed = prepared.committed();
        self.prepared = Some(prepared);
        Ok(committed)
    }

    /// Makes the open (or finalized) block durable atomically and returns its app hash.
    pub fn commit(&mut self) -> Result<Committed, LedgerError> {
        self.finalize_block()?;
        let prepared = self
            .prepared
            .take()
            .ok_or(LedgerError::Sequence("commit without begin_block"))?;
        // The snapshot of the previous block is replaced right after the write; letting go
        // of its share of the in-memory indexes first lets the store update them in place.
        self.snapshot.release_derived();
        let committed = match self.store.write(prepared) {
            Ok(committed) => committed,
            Err(e) => {
                self.snapshot = self.store.snapshot()?;
                return Err(e.into());
            }
        };
        self.after_commit(committed)?;
        Ok(committed)
    }

    /// Rebuilds the indexes that follow from the state (holdings, offers, lineage,
    /// certificates by obligor, expiry queue) from the committed state and checks that they
    /// equal the ones maintained block by block. Reads the whole state.
    pub fn check_indexes(&self) -> Result<(), LedgerError> {
        Ok(self.store.check_derived()?)
    }

    /// A digest of the state changes pending in the open block (`None` if no block is open,
    /// or, beyond any real block, its changes have a length borsh cannot write).
    /// Tests use it to show that a rejected transaction changed nothing.
    pub fn pending_fingerprint(&self) -> Option<Hash32> {
        let block = self.block.as_ref()?;
        let mut encoded = Vec::new();
        crate::store::encode_changes(&mut encoded, &block.layer.state).ok()?;
        Some(Hash32(crate::crypto::sha256(&encoded)))
    }

    /// Discards the open block (e.g. a proposal that was not decided).
    pub fn abort_block(&mut self) {
        self.block = None;
        self.prepared = None;
    }

    // ---- status -----------------------------------------------------------------------

    /// Last committed height and app hash (`None` before genesis).
    pub fn committed(&self) -> Option<Committed> {
        self.committed
    }

    /// Chain id (`None` before genesis).
    pub fn chain_id(&self) -> Option<&str> {
        self.chain_id.as_deref()
    }

    /// Parsed public keys in the verification cache (at most 65,536; cleared when full).
    pub fn key_cache_len(&self) -> usize {
        self.key_cache.len()
    }

    /// Pending writes (state and index entries) of the mempool state built by
    /// [`Ledger::check_tx`] since the last commit; 0 right after a commit.
    pub fn mempool_len(&self) -> usize {
        self.mempool
            .as_ref()
            .map_or(0, |m| m.layer.state.len() + m.layer.index.len())
    }

    /// Parameters in force.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Day of the last committed block.
    pub fn last_day(&self) -> Day {
        self.last_day
    }

    /// The committed snapshot (for proofs).
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    // ---- queries over committed state ---------------------------------------------------

    /// A piece.
    pub fn piece(&self, id: &Hash32) -> Result<Option<Piece>, StoreError> {
        self.read(&keys::piece(id))
    }

    /// A certificate.
    pub fn root(&self, id: &Hash32) -> Result<Option<RootRecord>, StoreError> {
        self.read(&keys::root(id))
    }

    /// A participant.
    pub fn participant(&self, a: &Address) -> Result<Option<Participant>, StoreError> {
        self.read(&keys::participant(a))
    }

    /// Account counters and nonce.
    pub fn account(&self, a: &Address) -> Result<Account, StoreError> {
        Ok(self.read(&keys::account(a))?.unwrap_or_default())
    }

    /// Consortium counters: active operators and validators.
    pub fn consortium(&self) -> Result<Consortium, StoreError> {
        Ok(self.read(keys::CONSORTIUM)?.unwrap_or_default())
    }

    /// A consensus validator's record (`None` if the key is not a validator).
    pub fn validator(&self, key: &ValidatorKey) -> Result<Option<ValidatorRecord>, StoreError> {
        self.read(&keys::validator(key))
    }

    /// A pending validator change.
    pub fn validator_proposal(
        &self,
        key: &ValidatorKey,
        power: u64,
    ) -> Result<Option<ValidatorProposal>, StoreError> {
        self.read(&keys::validator_proposal(key, power))
    }

    /// A credit line.
    pub fn credit_line(
        &self,
        obligor: &Address,
        currency: &Currency,
        grantor: &Address,
    ) -> Result<Option<CreditLine>, StoreError> {
        self.read(&keys::credit_line(obligor, currency, grantor))
    }

    /// A trade document.
    pub fn document(&self, hash: &Hash32) -> Result<Option<Document>, StoreError> {
        self.read(&keys::document(hash))
    }

    /// An obligor's settlement record.
    pub fn obligor_record(&self, a: &Address) -> Result<ObligorRecord, StoreError> {
        Ok(self.read(&keys::obligor(a))?.unwrap_or_default())
    }

    /// The clearing list of a settled certificate.
    pub fn clearing(&self, root: &Hash32) -> Result<Option<ClearingList>, StoreError> {
        self.read(&keys::clearing(root))
    }

    fn pieces_under(&self, prefix: &[u8]) -> Result<Vec<(Hash32, Piece)>, StoreError> {
        let mut out = Vec::new();
        for (k, _) in self.snapshot.index_scan(prefix, None)? {
            let Some(id) = keys::trailing_id(&k) else {
                continue;
            };
            let piece = self.piece(&id)?.ok_or_else(|| StoreError::Corrupt {
                what: format!("piece {id}"),
                reason: "indexed but missing".into(),
            })?;
            out.push((id, piece));
        }
        Ok(out)
    }

    /// Pieces held by an account (active, financing requested, financed), by id.
    pub fn holdings(&self, a: &Address) -> Result<Vec<(Hash32, Piece)>, StoreError> {
        self.pieces_under(&keys::holdings_of(a))
    }

    /// Offers addressed to an account.
    pub fn offers_in(&self, a: &Address) -> Result<Vec<(Hash32, Piece)>, StoreError> {
        self.pieces_under(&keys::offers_in_of(a))
    }

    /// Offers made by an account.
    pub fn offers_out(&self, a: &Address) -> Result<Vec<(Hash32, Piece)>, StoreError> {
        self.pieces_under(&keys::offers_out_of(a))
    }

    /// Every piece ever created under a certificate (its lineage), by id.
    pub fn lineage(&self, root: &Hash32) -> Result<Vec<(Hash32, Piece)>, StoreError> {
        self.pieces_under(&keys::lineage_of(root))
    }

    /// Certificates issued by an obligor.
    pub fn roots_of(&self, obligor: &Address) -> Result<Vec<Hash32>, StoreError> {
        Ok(self
            .snapshot
            .index_scan(&keys::obligor_roots_of(obligor), None)?
            .iter()
            .filter_map(|(k, _)| keys::trailing_id(k))
            .collect())
    }

    /// Audit history of a piece, oldest first: read backwards from its last change, one
    /// block record per block it changed in ([`HistoryRecord`]).
    pub fn history(&self, piece: &Hash32) -> Result<Vec<HistoryEntry>, StoreError> {
        let Some(p) = self.piece(piece)? else {
            return Ok(Vec::new());
        };
        let corrupt = |height: u64, reason: &str| StoreError::Corrupt {
            what: format!("history of piece {piece} in block {height}"),
            reason: reason.to_string(),
        };
        let mut newest_first = Vec::new();
        let mut at = Some(p.updated_height);
        while let Some(height) = at {
            let bytes = self
                .snapshot
                .history(height)?
                .ok_or_else(|| corrupt(height, "the block has no history record"))?;
            let records: Vec<HistoryRecord> =
                codec::decode_stored(&bytes).map_err(|e| corrupt(height, &e.to_string()))?;
            let mine: Vec<HistoryRecord> =
                records.into_iter().filter(|r| r.piece == *piece).collect();
            let Some(first) = mine.first() else {
                return Err(corrupt(height, "no step of the piece"));
            };
            // Links point to earlier blocks only, so the walk ends.
            at = first.prev;
            if at.is_some_and(|prev| prev >= height) {
                return Err(corrupt(height, "a link that does not lead back"));
            }
            newest_first.extend(mine.into_iter().rev().map(|r| r.entry));
        }
        newest_first.reverse();
        Ok(newest_first)
    }
}

/// Runs one transaction in `block`: its writes stay on success and are undone on error.
fn run_tx(
    snapshot: &Snapshot,
    block: &mut OpenBlock,
    tx: &VerifiedTx,
) -> Result<Vec<Event>, TxError> {
    block.txs += 1;
    // The size limit is a rule of the block, not only of decoding: a transaction verified
    // (and cached) under an older, larger limit must still meet the limit in force now.
    let limit = block.env.params.max_tx_bytes as usize;
    if tx.size() > limit {
        return Err(TxError::Decode(crate::tx::TxDecodeError::TooLarge {
            size: tx.size(),
            limit,
        }));
    }
    let mut view = View::new(snapshot, &mut block.layer);
    let events = {
        let mut exec = Exec::for_tx(&mut view, &block.env, tx);
        exec.execute(tx)?;
        std::mem::take(&mut exec.events)
    };
    view.keep();
    if let TxBody::UpdateParams { params } = &tx.tx().body {
        block.env.params = params.clone();
    }
    Ok(events)
}

use crate::tx::TxBody;
