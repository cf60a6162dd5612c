//! The wallet's light consensus client: CometBFT light-client verification over untrusted
//! transports, with witness cross-checks, so a phone trusts no single server.
//!
//! # Trust
//! A [`LightClient`] starts from a [`TrustAnchor`] the app ships: the chain id, a height
//! (normally 1, the genesis block) and the hash of that block's header or of its validator
//! set. The anchor block is fetched from the primary, checked against the anchor and its
//! commit verified (more than 2/3 of its validators signed it); from then on every header is
//! verified with `tendermint-light-client-verifier` from a block already trusted.
//!
//! # Skipping verification
//! [`LightClient::sync_to`] first tries the target directly from the latest trusted block:
//! that succeeds if validators holding more than the trust threshold (1/3) of the trusted
//! block's next validator set signed the target, so with an unchanged validator set 100,000
//! blocks take one verification. Otherwise (the set changed too much in between) it bisects:
//! it fetches the middle block, verifies that first and tries again from there, down to
//! adjacent blocks, where the hash link of the validator sets decides. Every call of the
//! verifier is counted in [`LightStats::verifications`].
//!
//! # Witnesses
//! After verifying a target the client fetches the same height from every witness:
//! - the same header hash: the witness **agrees**;
//! - no answer (a [`TransportError`]): the witness is **unreachable**;
//! - a different header hash: the witness's block is verified from the same trusted block
//!   (bisecting against the witness). If it verifies, two validly signed blocks exist at one
//!   height: a fork or a light-client attack, reported as [`LightClientError::Conflict`] with
//!   both blocks as evidence, and **neither** block is trusted. If it does not verify, the
//!   witness served something invalid and is reported as **faulty** (this is CometBFT's rule:
//!   a witness that cannot back its header is dropped, it does not veto the primary).
//!
//! **Policy:** when witnesses are given, at least one of them must agree, otherwise the sync
//! fails with [`LightClientError::NoWitnessAgreed`] and nothing new is trusted. Unreachable
//! and faulty witnesses are listed in [`LightClient::last_witness_reports`] either way. With
//! no witnesses (an in-process solo node, or a test) the primary is checked by verification
//! alone.
//!
//! # Time
//! The client never reads a clock: every call takes `now`. A trusted block older than the
//! trusting period cannot vouch for anything ([`LightClientError::TrustExpired`]: the app
//! needs a fresh anchor), and a header more than the clock drift ahead of `now` is refused
//! ([`LightClientError::FromFuture`]).
//!
//! # State
//! The app hash of state version `H` is in header `H + 1`:
//! [`LightClient::verified_app_hash_for_state`] returns it after verifying that header
//! (forward by skipping, or backward from a later trusted header by hash links). Verified
//! blocks are kept in memory (at most [`Options::max_stored_blocks`]) and can be saved as a
//! [`TrustedState`] and restored without the network.

use crate::crypto::Hash32;
use crate::wallet::transport::{Transport, TransportError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tendermint::{account, Hash, Time};
use tendermint_light_client_verifier::errors::{VerificationError, VerificationErrorDetail};
use tendermint_light_client_verifier::options::Options as VerifierOptions;
use tendermint_light_client_verifier::types::{LightBlock, TrustThreshold};
use tendermint_light_client_verifier::{ProdVerifier, Verdict, Verifier};

/// Default trusting period: 14 days. It must be shorter than the time in which validators
/// who signed a header can leave without penalty (CometBFT's unbonding period; the
/// consortium's validator governance notice period).
pub const DEFAULT_TRUSTING_PERIOD: Duration = Duration::from_secs(14 * 86_400);
/// Default clock drift: 10 seconds (how far a header may be ahead of the phone's clock).
pub const DEFAULT_CLOCK_DRIFT: Duration = Duration::from_secs(10);
/// Default number of verified blocks kept in memory (and in a [`TrustedState`]).
pub const DEFAULT_MAX_STORED_BLOCKS: usize = 256;
/// Most bisection steps one verification may take before giving up (a primary that keeps
/// answering with blocks that need more bisection is wasting the phone's battery).
const MAX_BISECTIONS: u64 = 10_000;

/// Light-client parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Share of the trusted validator set's voting power that must have signed a header for
    /// skipping verification to accept it. Default 1/3 (at least one honest validator).
    pub trust_threshold: TrustThreshold,
    /// How long a verified header can vouch for later ones. Default 14 days
    /// ([`DEFAULT_TRUSTING_PERIOD`]).
    pub trusting_period: Duration,
    /// How far a header's time may be ahead of `now`. Default 10 s ([`DEFAULT_CLOCK_DRIFT`]).
    pub clock_drift: Duration,
    /// Verified blocks kept in memory; the latest is always kept. Default 256.
    pub max_stored_blocks: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            trust_threshold: TrustThreshold::ONE_THIRD,
            trusting_period: DEFAULT_TRUSTING_PERIOD,
            clock_drift: DEFAULT_CLOCK_DRIFT,
            max_stored_blocks: DEFAULT_MAX_STORED_BLOCKS,
        }
    }
}

impl Options {
    fn verifier(&self) -> VerifierOptions {
        VerifierOptions {
            trust_threshold: self.trust_threshold,
            trusting_period: self.trusting_period,
            clock_drift: self.clock_drift,
        }
    }
}

/// What the anchor block's hash is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "hash", rename_all = "snake_case")]
pub enum AnchorHash {
    /// The header hash (block id hash) of the anchor block.
    Header(Hash32),
    /// The hash of the validator set that signs the anchor block (`validators_hash`).
    Validators(Hash32),
}

/// The root of trust the app ships: which chain, which block, and a hash to check it by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAnchor {
    /// Chain id (`Genesis::chain_id`).
    pub chain_id: String,
    /// Height of the anchor block; 1 for genesis.
    pub height: u64,
    /// The expected header or validator-set hash.
    pub hash: AnchorHash,
}

impl TrustAnchor {
    /// Anchors at the genesis block (height 1) by its validator-set hash.
    pub fn genesis_validators(chain_id: impl Into<String>, validators_hash: Hash32) -> TrustAnchor {
        TrustAnchor {
            chain_id: chain_id.into(),
            height: 1,
            hash: AnchorHash::Validators(validators_hash),
        }
    }

    /// Anchors at the genesis block of a CometBFT `genesis.json` (the file every validator
    /// runs with): its chain id and the hash of its validator set. An app that ships the
    /// consortium's genesis file derives its root of trust from it, not from any node.
    pub fn from_cometbft_genesis(genesis_json: &[u8]) -> Result<TrustAnchor, LightClientError> {
        let invalid = |reason: String| LightClientError::InvalidAnchor { reason };
        let genesis: tendermint::Genesis<serde_json::Value> =
            crate::wallet::transport::decode_json(genesis_json)
                .map_err(|e| invalid(format!("genesis.json does not parse: {e}")))?;
        if genesis.validators.is_empty() {
            return Err(invalid(
                "genesis.json lists no validators (the application chooses them at InitChain); \
                 anchor by a header hash instead"
                    .into(),
            ));
        }
        let set = tendermint::validator::Set::without_proposer(genesis.validators);
        let hash: [u8; 32] = set
            .hash()
            .as_bytes()
            .try_into()
            .map_err(|_| invalid("the validator set hash is not 32 bytes".into()))?;
        Ok(TrustAnchor::genesis_validators(
            genesis.chain_id.to_string(),
            Hash32(hash),
        ))
    }

    /// Anchors at block `height` by its header hash.
    pub fn header(chain_id: impl Into<String>, height: u64, header_hash: Hash32) -> TrustAnchor {
        TrustAnchor {
            chain_id: chain_id.into(),
            height,
            hash: AnchorHash::Header(header_hash),
        }
    }
}

/// Counters of the work the client did (since it was created or restored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LightStats {
    /// Header verifications (calls of the verifier, including the anchor's commit check).
    pub verifications: u64,
    /// Light blocks fetched from any transport.
    pub blocks_fetched: u64,
    /// Bisection steps (a middle block fetched because the verifier lacked trust).
    pub bisections: u64,
    /// Headers verified backwards by hash links.
    pub backward_steps: u64,
    /// Witness cross-checks made.
    pub witness_checks: u64,
    /// Conflicts (forks) detected.
    pub conflicts: u64,
}

/// How one witness answered a cross-check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessStatus {
    /// The witness has the same header at that height.
    Agreed,
    /// The witness could not be reached or did not have the height.
    Unreachable(TransportError),
    /// The witness served a block that does not verify (it is lying or broken).
    Faulty {
        /// Why its block was refused.
        reason: String,
    },
}

/// One witness's answer to the last cross-check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessReport {
    /// The witness's name ([`Transport::name`]).
    pub witness: String,
    /// Height checked.
    pub height: u64,
    /// Its answer.
    pub status: WitnessStatus,
}

/// Two validly signed blocks at the same height: evidence of a fork or light-client attack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictEvidence {
    /// Height of the last block both chains share (the common trusted block; 0 when the
    /// anchor block itself conflicts).
    pub common_height: u64,
    /// Header hash the primary served.
    pub primary_hash: Hash32,
    /// Header hash the witness served.
    pub witness_hash: Hash32,
    /// The primary's block.
    pub primary_block: LightBlock,
    /// The witness's block.
    pub witness_block: LightBlock,
}

/// Why the light client refused to trust something. Whatever the error, nothing new was
/// trusted: [`LightClient::trusted`] is where it was before the call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LightClientError {
    /// The anchor block does not match the anchor the app ships, or is not a valid block.
    #[error("the trust anchor does not match: {reason}")]
    InvalidAnchor {
        /// What does not match.
        reason: String,
    },
    /// A header (or node) is for another chain.
    #[error("header is for chain {got:?}, expected {expected:?}")]
    WrongChainId {
        /// The anchor's chain id.
        expected: String,
        /// The chain id received.
        got: String,
    },
    /// The verifier refused a header (bad signature, wrong validator set, header that does
    /// not match its commit, …).
    #[error("header {height} failed verification: {detail}")]
    Verification {
        /// Height of the refused header.
        height: u64,
        /// The verifier's reason.
        detail: Box<VerificationErrorDetail>,
    },
    /// The latest trusted header is older than the trusting period: it can no longer vouch
    /// for anything, and the wallet needs a fresh trust anchor.
    #[error("trust expired: header {height} expired at {expires_at}, now is {now}")]
    TrustExpired {
        /// Height of the expired trusted header.
        height: u64,
        /// When its trust ended.
        expires_at: Time,
        /// The time given.
        now: Time,
    },
    /// A header's time is ahead of `now` by more than the clock drift.
    #[error("header {height} at {header_time} is from the future (now {now}, drift {drift:?})")]
    FromFuture {
        /// Height of the header.
        height: u64,
        /// Its time.
        header_time: Time,
        /// The time given.
        now: Time,
        /// The allowed drift.
        drift: Duration,
    },
    /// A node answered with a block at or below the trusted height where a newer one was
    /// needed (an old state replayed).
    #[error("non-monotonic height: got block {got}, but block {trusted} is already trusted")]
    NonMonotonicHeight {
        /// The latest trusted height.
        trusted: u64,
        /// The height received.
        got: u64,
    },
    /// A node answered with a block for another height than the one asked for.
    #[error("asked for block {requested}, got block {got}")]
    WrongHeight {
        /// Height asked for.
        requested: u64,
        /// Height received.
        got: u64,
    },
    /// Backward verification: a header's hash is not the `last_block_id` of the trusted
    /// header after it.
    #[error("header {height} has hash {got}, but the trusted header after it links to {expected}")]
    HashChainMismatch {
        /// Height of the refused header.
        height: u64,
        /// Hash the trusted chain links to.
        expected: Hash,
        /// Hash of the header received.
        got: Hash,
    },
    /// The primary and a witness have different, validly signed blocks at one height: a fork
    /// or a light-client attack. Neither block is trusted; report the evidence.
    #[error(
        "conflict at height {height}: primary {primary} has header {}, witness {witness} has {}",
        evidence.primary_hash, evidence.witness_hash
    )]
    Conflict {
        /// Height of the conflicting blocks.
        height: u64,
        /// The primary's name.
        primary: String,
        /// The witness's name.
        witness: String,
        /// Both header hashes, both blocks and the last common trusted height.
        evidence: Box<ConflictEvidence>,
    },
    /// Witnesses were configured, but none of them confirmed the header.
    #[error("no witness confirmed header {height}: {reports:?}")]
    NoWitnessAgreed {
        /// Height that was to be confirmed.
        height: u64,
        /// What each witness answered.
        reports: Vec<WitnessReport>,
    },
    /// The primary could not be reached or answered with something unusable.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// A block is structurally unusable (app hash not 32 bytes, validator address that does
    /// not belong to its key, …).
    #[error("block {height} is malformed: {reason}")]
    Malformed {
        /// Height of the block.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// Height 0 does not exist (state version 0 is proven by header 1).
    #[error("there is no block at height 0")]
    ZeroHeight,
    /// A saved [`TrustedState`] cannot be restored.
    #[error("saved light-client state is unusable: {reason}")]
    InvalidTrustedState {
        /// What is wrong.
        reason: String,
    },
}

impl LightClientError {
    fn verification(height: u64, detail: VerificationErrorDetail) -> LightClientError {
        LightClientError::Verification {
            height,
            detail: Box::new(detail),
        }
    }

    /// Turns the verifier's refusal into the typed error (trusted = the block verified from).
    fn from_detail(
        detail: VerificationErrorDetail,
        untrusted: &LightBlock,
        trusted_height: u64,
        options: &Options,
        now: Time,
    ) -> LightClientError {
        let height = untrusted.height().value();
        match detail {
            VerificationErrorDetail::NotWithinTrustPeriod(e) => LightClientError::TrustExpired {
                height: trusted_height,
                expires_at: e.expires_at,
                now: e.now,
            },
            VerificationErrorDetail::HeaderFromTheFuture(e) => LightClientError::FromFuture {
                height,
                header_time: e.header_time,
                now,
                drift: options.clock_drift,
            },
            VerificationErrorDetail::ChainIdMismatch(e) => LightClientError::WrongChainId {
                expected: e.expected,
                got: e.got,
            },
            VerificationErrorDetail::NonIncreasingHeight(_) => {
                LightClientError::NonMonotonicHeight {
                    trusted: trusted_height,
                    got: height,
                }
            }
            other => LightClientError::verification(height, other),
        }
    }
}

/// The light client's saved state: the anchor and the verified blocks (oldest first). Store
/// it (e.g. in the wallet's redb) with [`TrustedState::to_bytes`] and reopen with
/// [`LightClient::restore`] without the network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedState {
    /// Format version ([`TrustedState::VERSION`]).
    pub version: u8,
    /// The anchor the client was created from.
    pub anchor: TrustAnchor,
    /// Verified blocks, ascending by height; the last one is the latest trusted.
    pub blocks: Vec<LightBlock>,
}

impl TrustedState {
    /// Current format version.
    pub const VERSION: u8 = 1;

    /// Serialises the state (JSON: light blocks use CometBFT's JSON encoding).
    pub fn to_bytes(&self) -> Result<Vec<u8>, LightClientError> {
        serde_json::to_vec(self).map_err(|e| LightClientError::InvalidTrustedState {
            reason: e.to_string(),
        })
    }

    /// Parses saved state (checked further by [`LightClient::restore`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<TrustedState, LightClientError> {
        crate::wallet::transport::decode_json(bytes)
            .map_err(|reason| LightClientError::InvalidTrustedState { reason })
    }
}

/// A CometBFT light client for one chain (see the module docs).
pub struct LightClient {
    anchor: TrustAnchor,
    options: Options,
    verifier: ProdVerifier,
    /// Verified blocks by height; never empty, the last is the latest trusted.
    blocks: BTreeMap<u64, LightBlock>,
    stats: LightStats,
    reports: Vec<WitnessReport>,
}

impl std::fmt::Debug for LightClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LightClient")
            .field("chain_id", &self.anchor.chain_id)
            .field("trusted_height", &self.trusted_height())
            .field("stored", &self.blocks.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The header hash of a block as a [`Hash32`] (the zero hash for a header without one).
pub fn header_hash(block: &LightBlock) -> Hash32 {
    hash32(&block.signed_header.header.hash())
}

fn hash32(hash: &Hash) -> Hash32 {
    <[u8; 32]>::try_from(hash.as_bytes())
        .map(Hash32)
        .unwrap_or(Hash32([0; 32]))
}

/// The app hash a header carries (the state after the previous block).
pub fn app_hash_of(block: &LightBlock) -> Result<Hash32, LightClientError> {
    <[u8; 32]>::try_from(block.signed_header.header.app_hash.as_bytes())
        .map(Hash32)
        .map_err(|_| LightClientError::Malformed {
            height: block.height().value(),
            reason: format!(
                "app hash has {} bytes, expected 32",
                block.signed_header.header.app_hash.as_bytes().len()
            ),
        })
}

/// Checks what the verifier does not: every validator's address belongs to its key (the
/// validator-set hash covers keys and powers, not addresses, and commits name signers by
/// address).
fn check_structure(block: &LightBlock) -> Result<(), LightClientError> {
    let height = block.height().value();
    for set in [&block.validators, &block.next_validators] {
        for v in set.validators() {
            if account::Id::from(v.pub_key) != v.address {
                return Err(LightClientError::Malformed {
                    height,
                    reason: format!("validator address {} does not match its key", v.address),
                });
            }
        }
    }
    Ok(())
}

/// Fetches block `height` from `source` and checks it is that height and well formed.
fn fetch(
    source: &dyn Transport,
    height: u64,
    trusted: u64,
    stats: &mut LightStats,
) -> Result<LightBlock, LightClientError> {
    stats.blocks_fetched += 1;
    let block = source.light_block(height)?;
    let got = block.height().value();
    if got != height || block.signed_header.commit.height.value() != height {
        if got <= trusted && height > trusted {
            return Err(LightClientError::NonMonotonicHeight { trusted, got });
        }
        return Err(LightClientError::WrongHeight {
            requested: height,
            got,
        });
    }
    check_structure(&block)?;
    Ok(block)
}

fn expired(block: &LightBlock, options: &Options, now: Time) -> Option<LightClientError> {
    let expires_at = block.time().checked_add(options.trusting_period)?;
    (expires_at <= now).then_some(LightClientError::TrustExpired {
        height: block.height().value(),
        expires_at,
        now,
    })
}

impl LightClient {
    /// Fetches the anchor block from `primary`, checks it against `anchor` (chain id, hash,
    /// validator sets, a commit signed by more than 2/3 of its validators, within the
    /// trusting period and not from the future) and has the witnesses confirm it.
    pub fn new(
        anchor: TrustAnchor,
        options: Options,
        primary: &dyn Transport,
        witnesses: &[&dyn Transport],
        now: Time,
    ) -> Result<LightClient, LightClientError> {
        if anchor.height == 0 {
            return Err(LightClientError::ZeroHeight);
        }
        let mut client = LightClient {
            anchor,
            options,
            verifier: ProdVerifier::default(),
            blocks: BTreeMap::new(),
            stats: LightStats::default(),
            reports: Vec::new(),
        };
        let mut stats = LightStats::default();
        let block = fetch(primary, client.anchor.height, 0, &mut stats)?;
        let checked = client.check_anchor(&block, now, &mut stats);
        client.stats = stats;
        checked?;
        // Witnesses: the same anchor block, or a conflicting one that also passes the anchor
        // checks (a fork signed by the anchor's validators).
        let mut reports = Vec::new();
        for witness in witnesses {
            client.stats.witness_checks += 1;
            let status = match fetch(*witness, client.anchor.height, 0, &mut client.stats) {
                Err(LightClientError::Transport(e)) => WitnessStatus::Unreachable(e),
                Err(e) => WitnessStatus::Faulty {
                    reason: e.to_string(),
                },
                Ok(theirs)
                    if theirs.signed_header.header.hash() == block.signed_header.header.hash() =>
                {
                    WitnessStatus::Agreed
                }
                Ok(theirs) => {
                    let mut stats = client.stats;
                    let verdict = client.check_anchor(&theirs, now, &mut stats);
                    client.stats = stats;
                    match verdict {
                        Ok(()) => {
                            client.stats.conflicts += 1;
                            return Err(conflict(primary, *witness, 0, block, theirs));
                        }
                        Err(e) => WitnessStatus::Faulty {
                            reason: e.to_string(),
                        },
                    }
                }
            };
            reports.push(WitnessReport {
                witness: witness.name(),
                height: client.anchor.height,
                status,
            });
        }
        client.reports = reports;
        client.require_agreement(client.anchor.height, witnesses.len())?;
        client.blocks.insert(client.anchor.height, block);
        Ok(client)
    }

    /// Reopens saved state without the network. The blocks' internal consistency (validator
    /// sets against their hashes, commits against headers, chain id) is checked again;
    /// whether the latest is still within the trusting period is checked at the next sync.
    pub fn restore(state: TrustedState, options: Options) -> Result<LightClient, LightClientError> {
        let bad = |reason: String| LightClientError::InvalidTrustedState { reason };
        if state.version != TrustedState::VERSION {
            return Err(bad(format!(
                "format version {} is not supported",
                state.version
            )));
        }
        if state.blocks.is_empty() {
            return Err(bad("no trusted block".into()));
        }
        let verifier = ProdVerifier::default();
        let mut blocks = BTreeMap::new();
        for block in state.blocks {
            let height = block.height().value();
            if block.signed_header.header.chain_id.as_str() != state.anchor.chain_id {
                return Err(bad(format!("block {height} is for another chain")));
            }
            check_structure(&block).map_err(|e| bad(e.to_string()))?;
            if let Verdict::Invalid(detail) =
                verifier.verify_validator_sets(&block.as_untrusted_state())
            {
                return Err(bad(format!("block {height}: {detail}")));
            }
            if blocks.insert(height, block).is_some() {
                return Err(bad(format!("block {height} appears twice")));
            }
        }
        let mut client = LightClient {
            anchor: state.anchor,
            options,
            verifier,
            blocks,
            stats: LightStats::default(),
            reports: Vec::new(),
        };
        client.evict(None);
        Ok(client)
    }

    /// The state to save (anchor and the verified blocks kept in memory).
    pub fn state(&self) -> TrustedState {
        TrustedState {
            version: TrustedState::VERSION,
            anchor: self.anchor.clone(),
            blocks: self.blocks.values().cloned().collect(),
        }
    }

    /// The latest trusted block.
    pub fn trusted(&self) -> &LightBlock {
        // `blocks` is never empty: `new` and `restore` insert at least one, nothing removes
        // the last one.
        match self.blocks.last_key_value() {
            Some((_, block)) => block,
            None => unreachable!("the light client always holds its latest trusted block"),
        }
    }

    /// Height of the latest trusted block.
    pub fn trusted_height(&self) -> u64 {
        self.blocks.last_key_value().map_or(0, |(h, _)| *h)
    }

    /// A verified block kept in memory.
    pub fn block(&self, height: u64) -> Option<&LightBlock> {
        self.blocks.get(&height)
    }

    /// Heights of the verified blocks kept in memory.
    pub fn stored_heights(&self) -> Vec<u64> {
        self.blocks.keys().copied().collect()
    }

    /// The anchor.
    pub fn anchor(&self) -> &TrustAnchor {
        &self.anchor
    }

    /// The parameters.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Work counters.
    pub fn stats(&self) -> LightStats {
        self.stats
    }

    /// What each witness answered in the last cross-check (anchor or sync).
    pub fn last_witness_reports(&self) -> &[WitnessReport] {
        &self.reports
    }

    /// Verifies block `target` and returns it. Above the trusted height: skipping
    /// verification from the latest trusted block (bisecting when needed) against `primary`,
    /// then the witness cross-check; only then are the new blocks trusted. At or below it:
    /// a kept block, or backward verification by hash links from the next kept block.
    pub fn sync_to(
        &mut self,
        target: u64,
        primary: &dyn Transport,
        witnesses: &[&dyn Transport],
        now: Time,
    ) -> Result<&LightBlock, LightClientError> {
        if target == 0 {
            return Err(LightClientError::ZeroHeight);
        }
        let latest = self.trusted_height();
        if target <= latest {
            if !self.blocks.contains_key(&target) {
                let block = self.verify_backward(target, primary)?;
                self.blocks.insert(target, block);
                self.evict(Some(target));
            }
            // Present: kept, or just inserted and protected from eviction.
            return match self.blocks.get(&target) {
                Some(block) => Ok(block),
                None => unreachable!("block {target} was just verified and kept"),
            };
        }
        let trusted = self.trusted().clone();
        if let Some(e) = expired(&trusted, &self.options, now) {
            return Err(e);
        }
        let mut stats = self.stats;
        let result = self.sync_forward(&trusted, target, primary, witnesses, now, &mut stats);
        self.stats = stats;
        let verified = result?;
        for block in verified {
            self.blocks.insert(block.height().value(), block);
        }
        self.evict(None);
        Ok(self.trusted())
    }

    /// Syncs to the primary's latest height (after checking it serves this chain).
    pub fn sync_to_latest(
        &mut self,
        primary: &dyn Transport,
        witnesses: &[&dyn Transport],
        now: Time,
    ) -> Result<&LightBlock, LightClientError> {
        let status = primary.status()?;
        if status.chain_id != self.anchor.chain_id {
            return Err(LightClientError::WrongChainId {
                expected: self.anchor.chain_id.clone(),
                got: status.chain_id,
            });
        }
        let target = status.latest_height.max(self.trusted_height());
        self.sync_to(target, primary, witnesses, now)
    }

    /// The app hash of state version `version`, from header `version + 1`, verified (see
    /// [`LightClient::sync_to`]). Check state proofs for that version against it.
    pub fn verified_app_hash_for_state(
        &mut self,
        version: u64,
        primary: &dyn Transport,
        witnesses: &[&dyn Transport],
        now: Time,
    ) -> Result<Hash32, LightClientError> {
        let height = version
            .checked_add(1)
            .ok_or(LightClientError::WrongHeight {
                requested: version,
                got: 0,
            })?;
        let block = self.sync_to(height, primary, witnesses, now)?;
        app_hash_of(block)
    }

    // ---- internals -----------------------------------------------------------------------

    fn check_anchor(
        &self,
        block: &LightBlock,
        now: Time,
        stats: &mut LightStats,
    ) -> Result<(), LightClientError> {
        let header = &block.signed_header.header;
        let height = header.height.value();
        if header.chain_id.as_str() != self.anchor.chain_id {
            return Err(LightClientError::WrongChainId {
                expected: self.anchor.chain_id.clone(),
                got: header.chain_id.to_string(),
            });
        }
        match self.anchor.hash {
            AnchorHash::Header(expected) => {
                let got = hash32(&header.hash());
                if got != expected {
                    return Err(LightClientError::InvalidAnchor {
                        reason: format!(
                            "block {height} has header hash {got}, expected {expected}"
                        ),
                    });
                }
            }
            AnchorHash::Validators(expected) => {
                let got = hash32(&block.validators.hash());
                if got != expected {
                    return Err(LightClientError::InvalidAnchor {
                        reason: format!(
                            "block {height} is signed by validator set {got}, expected {expected}"
                        ),
                    });
                }
            }
        }
        let untrusted = block.as_untrusted_state();
        stats.verifications += 1;
        for verdict in [
            self.verifier.verify_validator_sets(&untrusted),
            self.verifier.verify_commit(&untrusted),
        ] {
            match verdict {
                Verdict::Success => {}
                Verdict::Invalid(detail) => {
                    return Err(LightClientError::verification(height, detail))
                }
                Verdict::NotEnoughTrust(tally) => {
                    return Err(LightClientError::verification(
                        height,
                        VerificationError::not_enough_trust(tally).0,
                    ))
                }
            }
        }
        if let Some(e) = expired(block, &self.options, now) {
            return Err(e);
        }
        let limit = now.checked_add(self.options.clock_drift);
        if limit.is_none_or(|limit| header.time >= limit) {
            return Err(LightClientError::FromFuture {
                height,
                header_time: header.time,
                now,
                drift: self.options.clock_drift,
            });
        }
        Ok(())
    }

    /// Skipping verification of `target` from `trusted`, fetching from `source`; returns the
    /// blocks verified on the way (ascending, the target last). Nothing is stored.
    fn verify_skipping(
        &self,
        trusted: &LightBlock,
        target: LightBlock,
        source: &dyn Transport,
        now: Time,
        stats: &mut LightStats,
    ) -> Result<Vec<LightBlock>, LightClientError> {
        let options = self.options.verifier();
        let mut verified: Vec<LightBlock> = Vec::new();
        let mut pending = vec![target];
        let mut bisections = 0_u64;
        while let Some(candidate) = pending.last() {
            let from = verified.last().unwrap_or(trusted);
            let from_height = from.height().value();
            stats.verifications += 1;
            let verdict = self.verifier.verify_update_header(
                candidate.as_untrusted_state(),
                from.as_trusted_state(),
                &options,
                now,
            );
            match verdict {
                Verdict::Success => {
                    if let Some(block) = pending.pop() {
                        verified.push(block);
                    }
                }
                Verdict::NotEnoughTrust(tally) => {
                    let to = candidate.height().value();
                    bisections += 1;
                    if to <= from_height + 1 || bisections > MAX_BISECTIONS {
                        return Err(LightClientError::verification(
                            to,
                            VerificationError::not_enough_trust(tally).0,
                        ));
                    }
                    stats.bisections += 1;
                    let pivot = from_height + (to - from_height) / 2;
                    pending.push(fetch(source, pivot, from_height, stats)?);
                }
                Verdict::Invalid(detail) => {
                    return Err(LightClientError::from_detail(
                        detail,
                        candidate,
                        from_height,
                        &self.options,
                        now,
                    ))
                }
            }
        }
        Ok(verified)
    }

    fn sync_forward(
        &mut self,
        trusted: &LightBlock,
        target: u64,
        primary: &dyn Transport,
        witnesses: &[&dyn Transport],
        now: Time,
        stats: &mut LightStats,
    ) -> Result<Vec<LightBlock>, LightClientError> {
        let trusted_height = trusted.height().value();
        let block = fetch(primary, target, trusted_height, stats)?;
        let verified = self.verify_skipping(trusted, block, primary, now, stats)?;
        let Some(ours) = verified.last() else {
            return Err(LightClientError::WrongHeight {
                requested: target,
                got: trusted_height,
            });
        };
        let our_hash = ours.signed_header.header.hash();
        let mut reports = Vec::with_capacity(witnesses.len());
        for witness in witnesses {
            stats.witness_checks += 1;
            let status = match fetch(*witness, target, trusted_height, stats) {
                Err(LightClientError::Transport(e)) => WitnessStatus::Unreachable(e),
                Err(e) => WitnessStatus::Faulty {
                    reason: e.to_string(),
                },
                Ok(theirs) if theirs.signed_header.header.hash() == our_hash => {
                    WitnessStatus::Agreed
                }
                Ok(theirs) => {
                    match self.verify_skipping(trusted, theirs.clone(), *witness, now, stats) {
                        Ok(_) => {
                            stats.conflicts += 1;
                            self.reports = reports;
                            return Err(conflict(
                                primary,
                                *witness,
                                trusted_height,
                                ours.clone(),
                                theirs,
                            ));
                        }
                        Err(LightClientError::Transport(e)) => WitnessStatus::Unreachable(e),
                        Err(e) => WitnessStatus::Faulty {
                            reason: e.to_string(),
                        },
                    }
                }
            };
            reports.push(WitnessReport {
                witness: witness.name(),
                height: target,
                status,
            });
        }
        self.reports = reports;
        self.require_agreement(target, witnesses.len())?;
        Ok(verified)
    }

    fn require_agreement(&self, height: u64, witnesses: usize) -> Result<(), LightClientError> {
        if witnesses == 0
            || self
                .reports
                .iter()
                .any(|r| r.status == WitnessStatus::Agreed)
        {
            return Ok(());
        }
        Err(LightClientError::NoWitnessAgreed {
            height,
            reports: self.reports.clone(),
        })
    }

    /// Verifies block `target` below a kept block by following `last_block_id` links down
    /// from the lowest kept block above it.
    fn verify_backward(
        &mut self,
        target: u64,
        primary: &dyn Transport,
    ) -> Result<LightBlock, LightClientError> {
        let Some((_, above)) = self.blocks.range(target + 1..).next() else {
            return Err(LightClientError::WrongHeight {
                requested: target,
                got: self.trusted_height(),
            });
        };
        let mut link = above.clone();
        loop {
            let height = link.height().value() - 1;
            let expected = link
                .signed_header
                .header
                .last_block_id
                .map(|id| id.hash)
                .ok_or(LightClientError::Malformed {
                    height: height + 1,
                    reason: "header has no last block id".into(),
                })?;
            self.stats.backward_steps += 1;
            let block = fetch(primary, height, 0, &mut self.stats)?;
            let got = block.signed_header.header.hash();
            if got != expected {
                return Err(LightClientError::HashChainMismatch {
                    height,
                    expected,
                    got,
                });
            }
            if block.signed_header.header.chain_id != link.signed_header.header.chain_id {
                return Err(LightClientError::WrongChainId {
                    expected: link.signed_header.header.chain_id.to_string(),
                    got: block.signed_header.header.chain_id.to_string(),
                });
            }
            // The header is authenticated by the hash link; its validator sets by the
            // header's hashes.
            if let Verdict::Invalid(detail) = self
                .verifier
                .verify_validator_sets(&block.as_untrusted_state())
            {
                return Err(LightClientError::verification(height, detail));
            }
            if height == target {
                return Ok(block);
            }
            link = block;
        }
    }

    /// Drops the oldest kept blocks beyond the bound, never the latest nor `keep`.
    fn evict(&mut self, keep: Option<u64>) {
        let bound = self.options.max_stored_blocks.max(1);
        let latest = self.trusted_height();
        while self.blocks.len() > bound {
            let victim = self
                .blocks
                .keys()
                .copied()
                .find(|h| *h != latest && Some(*h) != keep);
            match victim {
                Some(h) => {
                    self.blocks.remove(&h);
                }
                None => break,
            }
        }
    }
}

fn conflict(
    primary: &dyn Transport,
    witness: &dyn Transport,
    common_height: u64,
    primary_block: LightBlock,
    witness_block: LightBlock,
) -> LightClientError {
    LightClientError::Conflict {
        height: primary_block.height().value(),
        primary: primary.name(),
        witness: witness.name(),
        evidence: Box::new(ConflictEvidence {
            common_height,
            primary_hash: header_hash(&primary_block),
            witness_hash: header_hash(&witness_block),
            primary_block,
            witness_block,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values() {
        let o = Options::default();
        assert_eq!(o.trust_threshold, TrustThreshold::ONE_THIRD);
        assert_eq!(o.trusting_period, Duration::from_secs(14 * 86_400));
        assert_eq!(o.clock_drift, Duration::from_secs(10));
        assert_eq!(o.max_stored_blocks, 256);
    }

    #[test]
    fn anchor_serde_round_trips() {
        let a = TrustAnchor::header("cascade-test", 7, Hash32([3; 32]));
        let json = serde_json::to_string(&a).unwrap_or_default();
        let back: Option<TrustAnchor> = serde_json::from_str(&json).ok();
        assert_eq!(back, Some(a));
    }

    #[test]
    fn garbage_state_is_a_typed_error() {
        assert!(matches!(
            TrustedState::from_bytes(b"{not json"),
            Err(LightClientError::InvalidTrustedState { .. })
        ));
        let empty = TrustedState {
            version: TrustedState::VERSION,
            anchor: TrustAnchor::header("c", 1, Hash32([0; 32])),
            blocks: Vec::new(),
        };
        assert!(matches!(
            LightClient::restore(empty, Options::default()),
            Err(LightClientError::InvalidTrustedState { .. })
        ));
    }
}
