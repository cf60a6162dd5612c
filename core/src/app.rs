//! The ABCI 2.0 application (CometBFT v0.38) over the [`Ledger`], as a sans-IO state machine.
//!
//! Each method takes a typed ABCI request and returns the response; nothing here touches a
//! socket or a clock. The node daemon feeds it from CometBFT's ABCI connections, the solo
//! producer ([`crate::solo`]) calls the same methods in the same order in-process, so both
//! run exactly the same application code.
//!
//! Three things make it more than a thin adapter:
//! - **Verify once.** A transaction's signature is checked when it first reaches the node
//!   (`CheckTx` or a proposal) and the result is cached by transaction hash, so
//!   `PrepareProposal`, `ProcessProposal` and `FinalizeBlock` do not verify it again. The hash
//!   covers every byte, so a cache hit is the same verification of the same bytes.
//! - **Execute once.** `ProcessProposal` executes the proposed block and keeps the open
//!   block; `FinalizeBlock` for the same block (same height, time and transactions) reuses
//!   it. A proposal that differs is re-executed from the committed state.
//! - **Invalid transactions never enter a block.** `PrepareProposal` leaves out every
//!   transaction that fails, and `ProcessProposal` rejects a block containing one, so honest
//!   validators never vote for a block with an invalid or replayed transaction.
//!
//! `FinalizeBlock` computes the app hash without writing; `Commit` makes the block durable
//! in one redb transaction. If the process dies in between, `Info` reports the previous
//! height and CometBFT's handshake replays the block.

use crate::crypto::{hex, Hash32, ValidatorKey};
use crate::error::{LedgerError, TxError};
use crate::event::Event;
use crate::ledger::{Ledger, TxReceipt};
use crate::query::Query;
use crate::tx::VerifiedTx;
use crate::types::{Genesis, ValidatorRecord};
use bytes::Bytes;
use std::collections::BTreeMap;
use tendermint::abci::{request, response, types::ExecTxResult, Code, Event as AbciEvent};
use tendermint::block::Height;
use tendermint::{validator, AppHash, PublicKey};

/// Application version reported in `Info` (bumped when the state machine changes).
pub const APP_VERSION: u64 = 1;

/// Verified transactions kept between `CheckTx` and block execution, at most.
pub const SIG_CACHE_CAPACITY: usize = 100_000;

/// ABCI query code for a path that cannot be parsed.
pub const QUERY_BAD_PATH: u32 = 1;
/// ABCI query code for a height other than the latest.
pub const QUERY_BAD_HEIGHT: u32 = 2;
/// ABCI query code for a storage failure.
pub const QUERY_STORE: u32 = 3;

/// A failure that stops the node: the store failed, or CometBFT sent something that cannot
/// be applied (wrong height, bad genesis). Rule violations of transactions are never this.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The ledger refused a block-level step.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The genesis document in `app_state_bytes` is not valid.
    #[error("invalid genesis app state: {reason}")]
    Genesis {
        /// What is wrong.
        reason: String,
    },
    /// A request that does not fit the block sequence.
    #[error("unexpected ABCI request: {reason}")]
    Sequence {
        /// What is wrong.
        reason: String,
    },
}

/// Identifies the block an execution belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BlockKey {
    height: u64,
    time: i64,
    txs: Hash32,
}

impl BlockKey {
    fn new(height: Height, time: tendermint::Time, txs: &[Bytes]) -> BlockKey {
        let mut digest = Vec::with_capacity(txs.len() * 32);
        for tx in txs {
            digest.extend_from_slice(&crate::crypto::sha256(tx));
        }
        BlockKey {
            height: height.value(),
            time: time.unix_timestamp(),
            txs: Hash32(crate::crypto::sha256(&digest)),
        }
    }
}

/// A block executed on the ledger's open block, waiting for `FinalizeBlock`.
struct Executed {
    key: BlockKey,
    block_events: Vec<Event>,
    results: Vec<Outcome>,
}

/// One transaction's result in an executed block.
struct Outcome {
    /// Transaction kind and signer, when the bytes decoded and verified.
    who: Option<(&'static str, crate::crypto::Address)>,
    result: Result<TxReceipt, TxError>,
}

impl Outcome {
    fn of(tx: &VerifiedTx, result: Result<TxReceipt, TxError>) -> Outcome {
        Outcome {
            who: Some((tx.tx().body.kind(), tx.signer())),
            result,
        }
    }
}

/// Verified transactions by hash, oldest evicted first.
///
/// Bounded two ways: at most `capacity` entries (the oldest goes first), and an entry leaves
/// as soon as its transaction cannot be needed again — when a decided block includes it
/// ([`App::finalize_block`]) or when `CheckTx` (new or recheck) refuses it, since CometBFT
/// then drops it from its mempool. Without the second rule, every transaction that never
/// reaches a block (a replay, a nonce ahead, a transaction outbid by another with the same
/// nonce) would stay until `capacity` newer ones pushed it out.
struct SigCache {
    capacity: usize,
    /// Hash → (insertion number, verification).
    map: BTreeMap<Hash32, (u64, VerifiedTx)>,
    /// Insertion number → hash, so the oldest entry is found and any entry removed exactly
    /// (the two maps always hold the same entries).
    order: BTreeMap<u64, Hash32>,
    next: u64,
}

impl Default for SigCache {
    fn default() -> SigCache {
        SigCache::with_capacity(SIG_CACHE_CAPACITY)
    }
}

impl SigCache {
    fn with_capacity(capacity: usize) -> SigCache {
        SigCache {
            capacity,
            map: BTreeMap::new(),
            order: BTreeMap::new(),
            next: 0,
        }
    }

    /// The cached verification of `bytes`, or a fresh one (counted in `verifications`).
    fn get_or_verify(
        &mut self,
        ledger: &mut Ledger,
        bytes: &[u8],
        verifications: &mut u64,
    ) -> Result<VerifiedTx, TxError> {
        let hash = Hash32(crate::crypto::sha256(bytes));
        if let Some((_, v)) = self.map.get(&hash) {
            return Ok(v.clone());
        }
        *verifications += 1;
        let verified = ledger.verify(bytes)?;
        self.insert(hash, verified.clone());
        Ok(verified)
    }

    fn insert(&mut self, hash: Hash32, verified: VerifiedTx) {
        while self.map.len() >= self.capacity.max(1) {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.map.remove(&oldest);
        }
        let seq = self.next;
        self.next += 1;
        self.order.insert(seq, hash);
        self.map.insert(hash, (seq, verified));
    }

    fn forget(&mut self, hash: &Hash32) {
        if let Some((seq, _)) = self.map.remove(hash) {
            self.order.remove(&seq);
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// How many entries the application's in-memory caches and mempool state hold right now
/// ([`App::cache_sizes`]). Tests use it to show that they stay bounded over many blocks;
/// none of them affects results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheSizes {
    /// Verified transactions cached by hash (at most [`SIG_CACHE_CAPACITY`]; in steady
    /// state, the transactions in the mempool).
    pub verified_txs: usize,
    /// Parsed signer keys ([`Ledger::key_cache_len`]).
    pub verifying_keys: usize,
    /// Pending writes of the mempool state ([`Ledger::mempool_len`]; empty after `Commit`
    /// until the next `CheckTx`).
    pub mempool_writes: usize,
}

/// Counters a node reports (how often the caches saved work).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppStats {
    /// Signature verifications performed.
    pub verifications: u64,
    /// Blocks whose `FinalizeBlock` reused the `ProcessProposal` execution.
    pub reused_executions: u64,
    /// Blocks executed (proposal, process or finalize).
    pub executions: u64,
    /// Proposals rejected by `ProcessProposal`.
    pub rejected_proposals: u64,
    /// Misbehaviour reports (evidence) seen in decided blocks.
    pub misbehavior: u64,
}

/// The Cascade ABCI application.
pub struct App {
    ledger: Ledger,
    sigs: SigCache,
    executed: Option<Executed>,
    /// A block went through `FinalizeBlock` and waits for `Commit`: nothing but `Commit` may
    /// touch the ledger's open block until then (see [`App::commit`]).
    finalized: bool,
    stats: AppStats,
}

impl App {
    /// Wraps a ledger (opened from disk or in memory).
    pub fn new(ledger: Ledger) -> App {
        App {
            ledger,
            sigs: SigCache::default(),
            executed: None,
            finalized: false,
            stats: AppStats::default(),
        }
    }

    /// The ledger (read access for queries and tests).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Cache and execution counters.
    pub fn stats(&self) -> AppStats {
        self.stats
    }

    /// Current sizes of the in-memory caches and the mempool state.
    pub fn cache_sizes(&self) -> CacheSizes {
        CacheSizes {
            verified_txs: self.sigs.len(),
            verifying_keys: self.ledger.key_cache_len(),
            mempool_writes: self.ledger.mempool_len(),
        }
    }

    fn verify(&mut self, bytes: &[u8]) -> Result<VerifiedTx, TxError> {
        self.sigs
            .get_or_verify(&mut self.ledger, bytes, &mut self.stats.verifications)
    }

    /// Decodes and verifies every transaction of a block before any of them runs, in block
    /// order (ADR 0011).
    ///
    /// Why not one transaction at a time: a signature check pulls k256's code and tables
    /// through the CPU caches and evicts the rules' code and data, so rules run after each
    /// check start cold. Run back to back, each phase keeps its own working set warm: the
    /// rules took half the time in `cascade-bench` (12.5–15.6 against 25.7–29.3 µs per
    /// transaction). Verification reads no state, so the order changes no outcome.
    fn verify_block(&mut self, txs: &[Bytes]) -> Vec<Result<VerifiedTx, TxError>> {
        txs.iter().map(|bytes| self.verify(bytes)).collect()
    }

    // ---- info connection ------------------------------------------------------------

    /// `Info`: the last committed height and app hash, so CometBFT's handshake knows which
    /// blocks to replay after a crash.
    pub fn info(&self, _req: &request::Info) -> response::Info {
        let committed = self.ledger.committed();
        response::Info {
            data: "cascade".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            app_version: APP_VERSION,
            last_block_height: Height::try_from(committed.map_or(0, |c| c.version))
                .unwrap_or_default(),
            last_block_app_hash: app_hash(committed.map(|c| c.app_hash)),
        }
    }

    /// `Query`: the answer (always with its proof) for the latest committed height.
    pub fn query(&self, req: &request::Query) -> response::Query {
        let height = self.ledger.committed().map_or(0, |c| c.version);
        let fail = |code: u32, log: String| response::Query {
            code: Code::from(code),
            log,
            height: Height::try_from(height).unwrap_or_default(),
            ..Default::default()
        };
        let query = match Query::parse(&req.path) {
            Ok(q) => q,
            Err(e) => return fail(QUERY_BAD_PATH, e.to_string()),
        };
        let asked = req.height.value();
        if asked != 0 && asked != height {
            return fail(
                QUERY_BAD_HEIGHT,
                format!("only the latest height {height} can be queried, not {asked}"),
            );
        }
        match self.ledger.answer(&query) {
            Ok(answer) => response::Query {
                code: Code::Ok,
                key: req.path.clone().into_bytes().into(),
                value: crate::codec::encode(&answer).into(),
                height: Height::try_from(height).unwrap_or_default(),
                ..Default::default()
            },
            Err(e) => fail(QUERY_STORE, e.to_string()),
        }
    }

    // ---- consensus connection -------------------------------------------------------

    /// `InitChain`: the genesis ledger state from `app_state_bytes` (a JSON [`Genesis`]).
    ///
    /// CometBFT's genesis is authoritative for the chain id, time and initial validators.
    /// Called again after a crash before block 1, it returns the same app hash.
    pub fn init_chain(
        &mut self,
        req: &request::InitChain,
    ) -> Result<response::InitChain, AppError> {
        let mut genesis: Genesis =
            serde_json::from_slice(&req.app_state_bytes).map_err(|e| AppError::Genesis {
                reason: e.to_string(),
            })?;
        if genesis.chain_id != req.chain_id {
            return Err(AppError::Genesis {
                reason: format!(
                    "app state is for chain {:?} but CometBFT's genesis is {:?}",
                    genesis.chain_id, req.chain_id
                ),
            });
        }
        if req.initial_height.value() != 1 {
            return Err(AppError::Genesis {
                reason: "initial_height must be 1".into(),
            });
        }
        genesis.genesis_time = req.time.unix_timestamp();
        // The ledger and CometBFT must start from the same validator set: take CometBFT's
        // when the app state names none, else tell CometBFT to use the app state's.
        let from_app_state = !genesis.validators.is_empty();
        if !from_app_state {
            genesis.validators = req
                .validators
                .iter()
                .map(validator_record)
                .collect::<Result<_, _>>()?;
        }
        let validators = if from_app_state {
            genesis
                .validators
                .iter()
                .map(|v| validator_update(&v.pub_key, v.power))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        if let (Some(c), Some(chain)) = (self.ledger.committed(), self.ledger.chain_id()) {
            if c.version == 0 && chain == genesis.chain_id {
                // Only for the same genesis: if it changed since (an operator edited
                // `genesis.json` after the crash), the stored state is not the one CometBFT
                // now starts from, and answering with it would surface only at block 1 as
                // an app hash mismatch. The state it would give is computed in memory.
                let fresh = Ledger::in_memory()?.init_chain(&genesis)?;
                if fresh != c.app_hash {
                    return Err(AppError::Genesis {
                        reason: format!(
                            "the ledger was initialised from a different genesis (app hash {} \
                             stored, {fresh} for this one); remove the ledger to start again",
                            c.app_hash
                        ),
                    });
                }
                return Ok(response::InitChain {
                    consensus_params: None,
                    validators,
                    app_hash: app_hash(Some(c.app_hash)),
                });
            }
        }
        let hash = self.ledger.init_chain(&genesis)?;
        Ok(response::InitChain {
            consensus_params: None,
            validators,
            app_hash: app_hash(Some(hash)),
        })
    }

    /// `PrepareProposal`: the mempool's transactions in order, leaving out any that fail
    /// (bad bytes, bad signature, any rule) and stopping at `max_tx_bytes`. The execution is
    /// kept for `ProcessProposal` and `FinalizeBlock` of the same block.
    pub fn prepare_proposal(
        &mut self,
        req: &request::PrepareProposal,
    ) -> Result<response::PrepareProposal, AppError> {
        self.not_finalized("PrepareProposal")?;
        self.reset_execution();
        let block_events = self
            .ledger
            .begin_block(req.height.value(), req.time.unix_timestamp())?;
        self.stats.executions += 1;
        let limit = u64::try_from(req.max_tx_bytes).unwrap_or(0);
        let mut used = 0u64;
        let mut txs = Vec::new();
        let mut results = Vec::new();
        for bytes in &req.txs {
            // CometBFT counts each transaction's protobuf framing against the limit.
            let size = bytes.len() as u64 + 10;
            if used + size > limit {
                break;
            }
            let Ok(verified) = self.verify(bytes) else {
                continue;
            };
            if let Ok(receipt) = self.ledger.try_apply(&verified) {
                used += size;
                txs.push(bytes.clone());
                results.push(Outcome::of(&verified, Ok(receipt)));
            }
        }
        self.executed = Some(Executed {
            key: BlockKey::new(req.height, req.time, &txs),
            block_events,
            results,
        });
        Ok(response::PrepareProposal { txs })
    }

    /// `ProcessProposal`: accepts a block only if every transaction in it is valid in order.
    pub fn process_proposal(
        &mut self,
        req: &request::ProcessProposal,
    ) -> Result<response::ProcessProposal, AppError> {
        self.not_finalized("ProcessProposal")?;
        let key = BlockKey::new(req.height, req.time, &req.txs);
        if self.executed.as_ref().is_some_and(|e| e.key == key) {
            return Ok(response::ProcessProposal::Accept);
        }
        self.reset_execution();
        let block_events = self.ledger.begin_block(key.height, key.time)?;
        self.stats.executions += 1;
        // Every signature first, then every rule (see `verify_block`).
        let Ok(verified) = self
            .verify_block(&req.txs)
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
        else {
            self.reset_execution();
            self.stats.rejected_proposals += 1;
            return Ok(response::ProcessProposal::Reject);
        };
        let mut results = Vec::with_capacity(verified.len());
        for verified in &verified {
            let outcome = Outcome::of(verified, self.ledger.try_apply(verified));
            match outcome.result {
                Ok(_) => results.push(outcome),
                Err(_) => {
                    self.reset_execution();
                    self.stats.rejected_proposals += 1;
                    return Ok(response::ProcessProposal::Reject);
                }
            }
        }
        self.executed = Some(Executed {
            key,
            block_events,
            results,
        });
        Ok(response::ProcessProposal::Accept)
    }

    /// `FinalizeBlock`: executes the decided block (or reuses the `ProcessProposal`
    /// execution of it) and returns the results, events, validator updates and app hash.
    ///
    /// A decided block is final, so a transaction failing here (possible only if the
    /// proposal checks were bypassed) gets its error code instead of stopping the chain.
    pub fn finalize_block(
        &mut self,
        req: &request::FinalizeBlock,
    ) -> Result<response::FinalizeBlock, AppError> {
        let key = BlockKey::new(req.height, req.time, &req.txs);
        let executed = match self.executed.take() {
            Some(e) if e.key == key => {
                self.stats.reused_executions += 1;
                e
            }
            _ => {
                self.reset_execution();
                let block_events = self.ledger.begin_block(key.height, key.time)?;
                self.stats.executions += 1;
                let verified = self.verify_block(&req.txs);
                let mut results = Vec::with_capacity(req.txs.len());
                for verified in verified {
                    results.push(match verified {
                        Ok(verified) => {
                            let result = self.ledger.apply(&verified);
                            Outcome::of(&verified, result)
                        }
                        Err(e) => {
                            // A storage failure here is fatal; the rule error is the result.
                            self.ledger
                                .reject_unverified()
                                .map_err(|s| AppError::Sequence {
                                    reason: s.to_string(),
                                })?;
                            Outcome {
                                who: None,
                                result: Err(e),
                            }
                        }
                    });
                }
                Executed {
                    key,
                    block_events,
                    results,
                }
            }
        };
        let committed = self.ledger.finalize_block()?;
        for tx in &req.txs {
            self.sigs.forget(&Hash32(crate::crypto::sha256(tx)));
        }

        // CometBFT refuses two updates for one key in a block and the removal of a key it
        // does not have, so report one net change per key against the committed set.
        let mut net: BTreeMap<ValidatorKey, u64> = BTreeMap::new();
        let mut tx_results = Vec::with_capacity(executed.results.len());
        for outcome in &executed.results {
            tx_results.push(match &outcome.result {
                Ok(receipt) => {
                    for event in &receipt.events {
                        if let Event::ValidatorSetChanged { pub_key, power } = event {
                            net.insert(*pub_key, *power);
                        }
                    }
                    ExecTxResult {
                        code: Code::Ok,
                        data: crate::event::result_data(&receipt.events).into(),
                        events: abci_events(outcome.who, &receipt.hash, &receipt.events),
                        ..Default::default()
                    }
                }
                Err(e) => ExecTxResult {
                    code: Code::from(e.code()),
                    log: e.to_string(),
                    ..Default::default()
                },
            });
        }
        let mut validator_updates = Vec::new();
        for (key, power) in net {
            let before = self
                .ledger
                .validator(&key)
                .map_err(|e| AppError::Ledger(e.into()))?
                .map_or(0, |v| v.power);
            if before != power {
                validator_updates.push(validator_update(&key, power)?);
            }
        }
        let mut events = abci_events(None, &Hash32([0; 32]), &executed.block_events);
        for m in &req.misbehavior {
            self.stats.misbehavior += 1;
            events.push(AbciEvent::new(
                "cascade.misbehavior",
                [
                    ("validator", hex(&m.validator.address)),
                    ("height", m.height.value().to_string()),
                    ("kind", format!("{:?}", m.kind)),
                ]
                .map(|(k, v)| (k, v, true)),
            ));
        }
        let decided = response::FinalizeBlock {
            events,
            tx_results,
            validator_updates,
            consensus_param_updates: None,
            app_hash: app_hash(Some(committed.app_hash)),
        };
        self.finalized = true;
        Ok(decided)
    }

    /// `Commit`: makes the finalized block durable and resets the mempool state (CometBFT
    /// then rechecks the remaining mempool transactions against it).
    ///
    /// Only a block that went through `FinalizeBlock` is committed: a `Commit` without one
    /// (CometBFT never sends it; a faulty driver might) is refused, instead of making a
    /// proposal's execution durable.
    pub fn commit(&mut self) -> Result<response::Commit, AppError> {
        if !self.finalized {
            return Err(AppError::Sequence {
                reason: "Commit without FinalizeBlock".into(),
            });
        }
        self.ledger.commit()?;
        self.finalized = false;
        self.executed = None;
        Ok(response::Commit {
            data: Bytes::new(),
            retain_height: Height::default(),
        })
    }

    /// Refuses a proposal request while a finalized block waits for `Commit`: starting
    /// another execution would silently discard the decided block (found by the `abci` fuzz
    /// target; CometBFT itself never interleaves them).
    fn not_finalized(&self, request: &str) -> Result<(), AppError> {
        if self.finalized {
            return Err(AppError::Sequence {
                reason: format!("{request} while a finalized block waits for Commit"),
            });
        }
        Ok(())
    }

    fn reset_execution(&mut self) {
        self.executed = None;
        self.ledger.abort_block();
    }

    // ---- mempool connection ---------------------------------------------------------

    /// `CheckTx`: decode, verify (cached) and run every rule against the mempool state, so a
    /// transaction that would fail never enters the mempool.
    ///
    /// A transaction refused here (first check or recheck) leaves the signature cache: it is
    /// not (or no longer) in CometBFT's mempool, so keeping it would only hold memory. If
    /// another validator proposes it anyway, `ProcessProposal` verifies it again.
    pub fn check_tx(&mut self, req: &request::CheckTx) -> response::CheckTx {
        let outcome =
            self.verify(&req.tx)
                .and_then(|verified| match self.ledger.check_tx(&verified) {
                    Ok(()) => Ok(verified),
                    Err(e) => {
                        self.sigs.forget(&verified.hash());
                        Err(e)
                    }
                });
        match outcome {
            Ok(verified) => response::CheckTx {
                code: Code::Ok,
                sender: verified.signer().to_hex(),
                ..Default::default()
            },
            Err(e) => response::CheckTx {
                code: Code::from(e.code()),
                log: e.to_string(),
                ..Default::default()
            },
        }
    }
}

fn app_hash(hash: Option<Hash32>) -> AppHash {
    AppHash::try_from(hash.map_or_else(Vec::new, |h| h.0.to_vec())).unwrap_or_default()
}

fn validator_record(update: &validator::Update) -> Result<ValidatorRecord, AppError> {
    let key = update.pub_key.ed25519().ok_or_else(|| AppError::Genesis {
        reason: "only Ed25519 validator keys are supported".into(),
    })?;
    let bytes: [u8; 32] = key.as_bytes().try_into().map_err(|_| AppError::Genesis {
        reason: "Ed25519 key is not 32 bytes".into(),
    })?;
    Ok(ValidatorRecord {
        pub_key: ValidatorKey(bytes),
        power: update.power.value(),
    })
}

fn validator_update(key: &ValidatorKey, power: u64) -> Result<validator::Update, AppError> {
    let invalid = || AppError::Sequence {
        reason: format!("ledger produced an invalid validator update for {key}"),
    };
    Ok(validator::Update {
        pub_key: PublicKey::from_raw_ed25519(&key.0).ok_or_else(invalid)?,
        power: tendermint::vote::Power::try_from(power).map_err(|_| invalid())?,
    })
}

/// ABCI events for a transaction's ledger events: one `cascade.tx` event with the
/// transaction kind, signer and hash, then one `cascade.<kind>` event per ledger
/// event whose attributes are its fields (holder, root, piece, from, to, amount …), all
/// indexed so CometBFT's `tx_search` can find them. An absent optional field (a split
/// without change, say) has no attribute, rather than the text `null`, so `EXISTS`
/// queries mean what they say.
fn abci_events(
    who: Option<(&'static str, crate::crypto::Address)>,
    tx: &Hash32,
    events: &[Event],
) -> Vec<AbciEvent> {
    let mut out = Vec::with_capacity(events.len() + 1);
    if let Some((kind, signer)) = who {
        let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
        out.push(AbciEvent::new(
            "cascade.tx",
            [
                ("kind", kind.to_string(), true),
                ("signer", signer.to_hex(), true),
                ("hash", tx.to_hex(), true),
                ("events", kinds.join(","), true),
            ],
        ));
    }
    for event in events {
        let mut attributes = Vec::new();
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(event) {
            for (name, value) in fields {
                if name == "type" {
                    continue;
                }
                let text = match value {
                    serde_json::Value::Null => continue,
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                attributes.push((name, text, true));
            }
        }
        out.push(AbciEvent::new(
            format!("cascade.{}", event.kind()),
            attributes,
        ));
    }
    out
}

#[cfg(all(test, feature = "testkit"))]
mod tests {
    use super::*;
    use crate::testkit::{cny, Fixture};
    use crate::tx::TxBody;
    use crate::Amount;

    fn credit_line(f: &Fixture, nonce: u64) -> Vec<u8> {
        let body = TxBody::SetCreditLine {
            obligor: f.addr("core"),
            currency: cny(),
            limit: Amount(1_000_000 + nonce),
        };
        f.sign_with("bank", nonce, body)
    }

    #[test]
    fn absent_optional_fields_have_no_attribute() {
        let piece = Hash32([1; 32]);
        let split = |change| Event::Split {
            root: piece,
            input: piece,
            holder: crate::crypto::Address([2; 20]),
            change,
        };
        let keys = |e: Event| -> Vec<String> {
            abci_events(None, &piece, &[e])[0]
                .attributes
                .iter()
                .map(|a| a.key_str().unwrap_or_default().to_string())
                .collect()
        };
        assert!(!keys(split(None)).contains(&"change".to_string()));
        assert!(keys(split(Some(piece))).contains(&"change".to_string()));
    }

    #[test]
    fn sig_cache_holds_at_most_its_capacity_and_forgets_exactly() {
        let mut f = Fixture::standard();
        let txs: Vec<Vec<u8>> = (0..5).map(|n| credit_line(&f, n)).collect();
        let mut cache = SigCache::with_capacity(3);
        let mut verifications = 0;
        for tx in &txs {
            cache
                .get_or_verify(&mut f.ledger, tx, &mut verifications)
                .unwrap();
            assert!(cache.len() <= 3);
            assert_eq!(cache.order.len(), cache.len());
        }
        assert_eq!((cache.len(), verifications), (3, 5));
        // The newest three are cached; the two oldest were evicted.
        for tx in &txs[2..] {
            cache
                .get_or_verify(&mut f.ledger, tx, &mut verifications)
                .unwrap();
        }
        assert_eq!(verifications, 5);
        cache
            .get_or_verify(&mut f.ledger, &txs[0], &mut verifications)
            .unwrap();
        assert_eq!((cache.len(), verifications), (3, 6));

        // Forgetting removes the entry and its place in the eviction order.
        let newest = Hash32(crate::crypto::sha256(&txs[4]));
        cache.forget(&newest);
        cache.forget(&newest);
        assert_eq!((cache.len(), cache.order.len()), (2, 2));
        assert!(!cache.map.contains_key(&newest));
        // A re-verified transaction is one entry, however often it was forgotten before.
        for _ in 0..3 {
            cache
                .get_or_verify(&mut f.ledger, &txs[4], &mut verifications)
                .unwrap();
            cache.forget(&newest);
        }
        cache
            .get_or_verify(&mut f.ledger, &txs[4], &mut verifications)
            .unwrap();
        assert_eq!((cache.len(), cache.order.len()), (3, 3));
    }
}
