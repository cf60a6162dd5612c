//! The wallet: one participant's verified view of the ledger, its transactions and events.
//!
//! Everything the wallet shows comes from a *verified view*: the account record and its
//! three lists (holdings, offers in, offers out), each proven complete against the app hash
//! of a header the light client verified. Certificates' terms are proven once and kept (they
//! never change). The view, the light client's trusted state and the tracked transactions
//! are cached in redb, so the wallet opens without network and shows what it last verified.
//!
//! Transactions are checked against the view with the ledger's own error types before they
//! are signed, so the user gets the same message the ledger would give, and nothing is
//! broadcast that would fail for a reason the wallet can see. Submission is idempotent by
//! transaction hash, and each transaction is tracked until the proven account nonce shows it
//! committed (or it is known to have failed).

use super::keys::{KeyError, Signer};
use super::light::{
    LightClient, LightClientError, Options, TrustAnchor, TrustedState, WitnessStatus,
};
use super::transport::{Transport, TransportError};
use crate::block_outcome::OutcomeError;
use crate::codec;
use crate::crypto::{Address, Hash32, SignatureBytes};
use crate::date::Day;
use crate::error::TxError;
use crate::money::Amount;
use crate::pricing::{self, AnnualRate, DayCount, Quote};
use crate::proof::{AccountListProof, ListKind, ProofError};
use crate::query::{Answer, Query};
use crate::tx::{Output, SignedTx, Tx, TxBody};
use crate::types::{Account, ObligorRecord, OfferKind, Params, Piece, PieceStatus, RootRecord};
use borsh::{BorshDeserialize, BorshSerialize};
use redb::{Database, ReadableTable, TableDefinition};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use tendermint::Time;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("wallet_meta");
const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wallet_txs");
const ROOTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wallet_roots");
const META_LIGHT: &str = "light";
const META_VIEW: &str = "view";
const META_PARAMS: &str = "params";

/// The wall clock, behind a trait so tests drive time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Time;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Time {
        Time::now()
    }
}

/// Why a wallet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The ledger's rules refuse this transaction (checked locally before signing, or by the
    /// node's mempool check). `code` is the ledger's stable error code.
    #[error("refused: {message}")]
    Refused {
        /// `TxError::code`.
        code: u32,
        /// The ledger's message.
        message: String,
    },
    /// A header, commit or validator set failed verification, or a witness disagreed.
    #[error(transparent)]
    Light(#[from] LightClientError),
    /// A proof did not check out against the verified app hash: the node lied.
    #[error("the node's answer failed verification: {0}")]
    Proof(#[from] ProofError),
    /// A node's account of a block (its transactions, their results) does not match the
    /// verified headers: the node lied.
    #[error("the node's answer failed verification: {0}")]
    Outcome(#[from] OutcomeError),
    /// The node could not be reached or answered garbage.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The node refused the query.
    #[error("query {path} failed with code {code}: {log}")]
    Query {
        /// Query path.
        path: String,
        /// Code.
        code: u32,
        /// Message.
        log: String,
    },
    /// The node answered with a different kind of answer than asked.
    #[error("the node's answer to {path} has the wrong shape")]
    WrongAnswer {
        /// Query path.
        path: String,
    },
    /// The state the node answered for is not yet covered by a header (the next block is
    /// not out yet on the primary, or the witnesses have not caught up to it). Nothing was
    /// trusted. Retry after the next block.
    #[error("state at height {version} cannot be proven until block {} exists; retry shortly", version + 1)]
    AwaitingNextBlock {
        /// State version answered.
        version: u64,
    },
    /// The signer failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The local cache failed.
    #[error("wallet storage: {0}")]
    Storage(String),
    /// The wallet has not verified any state yet: call `refresh` online first.
    #[error("no verified state yet: connect and refresh first")]
    NotSynced,
    /// A piece is not among this wallet's holdings or offers.
    #[error("piece {piece} is not in this wallet's {list}")]
    NotInWallet {
        /// Piece.
        piece: Hash32,
        /// Which list was searched.
        list: &'static str,
    },
}

impl WalletError {
    /// A stable numeric code for the bindings: the ledger's code for refusals, else 1000+.
    pub fn code(&self) -> u32 {
        match self {
            WalletError::Refused { code, .. } => *code,
            WalletError::Light(_) => 1001,
            WalletError::Proof(_) => 1002,
            WalletError::Transport(_) => 1003,
            WalletError::Query { .. } => 1004,
            WalletError::WrongAnswer { .. } => 1005,
            WalletError::AwaitingNextBlock { .. } => 1006,
            WalletError::Key(_) => 1007,
            WalletError::Storage(_) => 1008,
            WalletError::NotSynced => 1009,
            WalletError::NotInWallet { .. } => 1010,
            WalletError::Outcome(_) => 1011,
        }
    }
}

impl From<TxError> for WalletError {
    fn from(e: TxError) -> WalletError {
        WalletError::Refused {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Whether a light-client failure only means the header is not out yet everywhere: the
/// primary does not have it, or every witness answered that it does not have it (a witness a
/// block behind the primary is normal on a live network). Nothing was trusted; retrying after
/// the next block succeeds. A witness that disagrees, is faulty or unreachable is not this.
fn not_there_yet(e: &LightClientError) -> bool {
    match e {
        LightClientError::Transport(TransportError::NotFound { .. }) => true,
        LightClientError::NoWitnessAgreed { reports, .. } => {
            !reports.is_empty()
                && reports.iter().all(|r| {
                    matches!(
                        r.status,
                        WitnessStatus::Unreachable(TransportError::NotFound { .. })
                    )
                })
        }
        _ => false,
    }
}

/// Whether the cache already has the wallet's tables.
fn tables_exist(db: &Database) -> Result<bool, WalletError> {
    let r = db.begin_read().map_err(storage)?;
    let exists = |result: Result<_, redb::TableError>| match result {
        Ok(_) => Ok(true),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(false),
        Err(e) => Err(storage(e)),
    };
    Ok(exists(r.open_table(META).map(drop))?
        && exists(r.open_table(TXS).map(drop))?
        && exists(r.open_table(ROOTS).map(drop))?)
}

fn storage(e: impl std::fmt::Display) -> WalletError {
    WalletError::Storage(e.to_string())
}

/// Wallet settings.
#[derive(Clone, Debug)]
pub struct WalletConfig {
    /// Root of trust (chain id and the genesis or checkpoint hash the app ships).
    pub anchor: TrustAnchor,
    /// Light-client options.
    pub options: Options,
    /// Blocks a transaction stays valid for after the verified height.
    pub tx_ttl_blocks: u64,
    /// Days before maturity from which held pieces raise a maturity warning.
    pub maturity_warning_days: u32,
}

impl WalletConfig {
    /// Defaults for `anchor`: 100-block validity, 7-day maturity warning.
    pub fn new(anchor: TrustAnchor) -> WalletConfig {
        WalletConfig {
            anchor,
            options: Options::default(),
            tx_ttl_blocks: 100,
            maturity_warning_days: 7,
        }
    }
}

/// What the wallet last verified, all at one state version.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VerifiedView {
    /// State version (height) of every value here.
    pub version: u64,
    /// App hash of that version (from verified header `version + 1`).
    pub app_hash: Hash32,
    /// Day of the verified header (the ledger's "today" for local checks).
    pub today: Day,
    /// Account record (nonce, list counts).
    pub account: Account,
    /// Pieces held, complete.
    pub holdings: Vec<(Hash32, Piece)>,
    /// Offers addressed to this account, complete.
    pub offers_in: Vec<(Hash32, Piece)>,
    /// Offers this account made, complete.
    pub offers_out: Vec<(Hash32, Piece)>,
}

/// Where a submitted transaction stands.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum TxStatus {
    /// Accepted by a node's mempool, not yet seen committed.
    Pending,
    /// Committed successfully at `height`.
    Committed {
        /// Block height.
        height: u64,
    },
    /// Refused, superseded or expired. Superseded and expired are final. A refusal (code
    /// other than 0) is final once the nonce is used by another transaction or the expiry
    /// height passes; until then the same bytes may still commit (a refused transaction does
    /// not consume its nonce), so `refresh` keeps checking it and reports `Confirmed` if they
    /// do. The next transaction submitted reuses the nonce and so supersedes it.
    Failed {
        /// Ledger error code (0 when superseded or expired).
        code: u32,
        /// Why.
        reason: String,
    },
}

/// A transaction the wallet submitted.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TrackedTx {
    /// Hash.
    pub hash: Hash32,
    /// Nonce it used.
    pub nonce: u64,
    /// Last height it may be included at.
    pub expiry_height: u64,
    /// Kind (`TxBody::kind`).
    pub kind: String,
    /// Wire bytes (kept so the same bytes can be re-broadcast idempotently).
    pub bytes: Vec<u8>,
    /// Status.
    pub status: TxStatus,
}

/// Something the user should know about, found by comparing verified views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalletEvent {
    /// Someone offered this account a piece (or asked it to finance one).
    OfferReceived {
        /// Piece.
        piece: Hash32,
        /// Status (pending offer or financing request).
        status: PieceStatus,
        /// Face value.
        amount: Amount,
    },
    /// An offer to or from this account was answered, withdrawn or expired.
    OfferClosed {
        /// Piece.
        piece: Hash32,
    },
    /// A piece arrived in the holdings (accepted offer, change, financed piece).
    HoldingAdded {
        /// Piece.
        piece: Hash32,
        /// Face value.
        amount: Amount,
        /// Status (`Financed` for a financier's new piece).
        status: PieceStatus,
    },
    /// A piece left the holdings (transferred, financed away, settled, merged).
    HoldingRemoved {
        /// Piece.
        piece: Hash32,
    },
    /// One of this wallet's transactions committed.
    Confirmed {
        /// Hash.
        tx: Hash32,
        /// Height.
        height: u64,
    },
    /// One of this wallet's transactions was refused, superseded or expired (see
    /// [`TxStatus::Failed`]; a refusal may still be followed by `Confirmed`).
    Failed {
        /// Hash.
        tx: Hash32,
        /// Code.
        code: u32,
        /// Why.
        reason: String,
    },
    /// A held piece matures within the warning window.
    MaturityApproaching {
        /// Piece.
        piece: Hash32,
        /// Maturity day.
        maturity: Day,
        /// Days left.
        days_left: u32,
    },
}

/// The ledger's parameters as proven at state `version`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct ProvenParams {
    version: u64,
    params: Params,
}

/// Holdings, offers in and offers out as answered for one state, not yet verified.
type HeldLists = [AccountListProof; 3];

/// A participant's wallet.
pub struct Wallet {
    config: WalletConfig,
    signer: Arc<dyn Signer>,
    address: Address,
    light: Option<LightClient>,
    primary: Arc<dyn Transport>,
    witnesses: Vec<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
    db: Database,
    view: Option<VerifiedView>,
    /// The ledger's parameters, proven with the newest state they were asked of.
    params: Option<ProvenParams>,
    roots: BTreeMap<Hash32, RootRecord>,
    txs: BTreeMap<Hash32, TrackedTx>,
    held: Option<HeldLists>,
    /// The parameters answer asked with the held lists, proven with them.
    held_params: Option<Answer>,
    /// Single answers (piece, certificate, lineage, obligor record) that came before the
    /// header proving them, by query path, verified on the next ask (see `ask_proven`).
    held_answers: BTreeMap<String, Answer>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Wallet({})", self.address)
    }
}

impl Wallet {
    /// Opens (or creates) a wallet whose cache lives at `path`. No network is used: the last
    /// verified view and the tracked transactions are read from the cache. A cache verified
    /// from another trust anchor than `config.anchor` keeps only its tracked transactions:
    /// its verified state is deleted and verified anew from `config.anchor` on `refresh`.
    pub fn open(
        path: &Path,
        config: WalletConfig,
        signer: Arc<dyn Signer>,
        primary: Arc<dyn Transport>,
        witnesses: Vec<Arc<dyn Transport>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Wallet, WalletError> {
        let db = Database::create(path).map_err(storage)?;
        Wallet::with_db(db, config, signer, primary, witnesses, clock)
    }

    /// A wallet whose cache is in memory (tests, demos).
    pub fn in_memory(
        config: WalletConfig,
        signer: Arc<dyn Signer>,
        primary: Arc<dyn Transport>,
        witnesses: Vec<Arc<dyn Transport>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Wallet, WalletError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(storage)?;
        Wallet::with_db(db, config, signer, primary, witnesses, clock)
    }

    fn with_db(
        db: Database,
        config: WalletConfig,
        signer: Arc<dyn Signer>,
        primary: Arc<dyn Transport>,
        witnesses: Vec<Arc<dyn Transport>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Wallet, WalletError> {
        // Creating the tables is a write transaction, and a durable commit costs a disk
        // sync: only a new cache pays it, so an existing wallet opens with reads alone.
        if !tables_exist(&db)? {
            let w = db.begin_write().map_err(storage)?;
            {
                w.open_table(META).map_err(storage)?;
                w.open_table(TXS).map_err(storage)?;
                w.open_table(ROOTS).map_err(storage)?;
            }
            w.commit().map_err(storage)?;
        }
        let address = signer.public_key().address();
        let mut wallet = Wallet {
            config,
            signer,
            address,
            light: None,
            primary,
            witnesses,
            clock,
            db,
            view: None,
            params: None,
            roots: BTreeMap::new(),
            txs: BTreeMap::new(),
            held: None,
            held_params: None,
            held_answers: BTreeMap::new(),
        };
        wallet.load()?;
        Ok(wallet)
    }

    fn load(&mut self) -> Result<(), WalletError> {
        let saved = {
            let r = self.db.begin_read().map_err(storage)?;
            let meta = r.open_table(META).map_err(storage)?;
            let bytes = meta.get(META_LIGHT).map_err(storage)?;
            match bytes {
                Some(bytes) => Some(TrustedState::from_bytes(bytes.value())?),
                None => None,
            }
        };
        if let Some(state) = saved {
            if state.anchor == self.config.anchor {
                self.light = Some(LightClient::restore(state, self.config.options)?);
            } else {
                self.forget_verified()?;
            }
        }
        let r = self.db.begin_read().map_err(storage)?;
        let meta = r.open_table(META).map_err(storage)?;
        if let Some(bytes) = meta.get(META_VIEW).map_err(storage)? {
            self.view = Some(codec::decode_stored(bytes.value()).map_err(storage)?);
        }
        if let Some(bytes) = meta.get(META_PARAMS).map_err(storage)? {
            self.params = Some(codec::decode_stored(bytes.value()).map_err(storage)?);
        }
        for entry in r
            .open_table(TXS)
            .map_err(storage)?
            .iter()
            .map_err(storage)?
        {
            let (_, v) = entry.map_err(storage)?;
            let tx: TrackedTx = codec::decode_stored(v.value()).map_err(storage)?;
            self.txs.insert(tx.hash, tx);
        }
        for entry in r
            .open_table(ROOTS)
            .map_err(storage)?
            .iter()
            .map_err(storage)?
        {
            let (k, v) = entry.map_err(storage)?;
            let id = Hash32(k.value().try_into().map_err(storage)?);
            self.roots
                .insert(id, codec::decode_stored(v.value()).map_err(storage)?);
        }
        Ok(())
    }

    /// Deletes everything the cache holds as verified (light-client state, view, proven
    /// certificates), keeping the tracked transactions. Used when the configured anchor is
    /// not the one the cache was verified from: the app ships a new root of trust (or points
    /// at another chain), and what was verified from the old one must not be shown as
    /// verified, nor vouch for new headers.
    fn forget_verified(&self) -> Result<(), WalletError> {
        let w = self.db.begin_write().map_err(storage)?;
        {
            let mut meta = w.open_table(META).map_err(storage)?;
            meta.remove(META_LIGHT).map_err(storage)?;
            meta.remove(META_VIEW).map_err(storage)?;
            meta.remove(META_PARAMS).map_err(storage)?;
        }
        w.delete_table(ROOTS).map_err(storage)?;
        w.open_table(ROOTS).map_err(storage)?;
        w.commit().map_err(storage)
    }

    fn save(&self) -> Result<(), WalletError> {
        let w = self.db.begin_write().map_err(storage)?;
        {
            let mut meta = w.open_table(META).map_err(storage)?;
            if let Some(light) = &self.light {
                meta.insert(META_LIGHT, light.state().to_bytes()?.as_slice())
                    .map_err(storage)?;
            }
            if let Some(view) = &self.view {
                meta.insert(META_VIEW, codec::encode(view).as_slice())
                    .map_err(storage)?;
            }
            if let Some(params) = &self.params {
                meta.insert(META_PARAMS, codec::encode(params).as_slice())
                    .map_err(storage)?;
            }
            let mut txs = w.open_table(TXS).map_err(storage)?;
            for tx in self.txs.values() {
                txs.insert(tx.hash.0.as_slice(), codec::encode(tx).as_slice())
                    .map_err(storage)?;
            }
            let mut roots = w.open_table(ROOTS).map_err(storage)?;
            for (id, root) in &self.roots {
                roots
                    .insert(id.0.as_slice(), codec::encode(root).as_slice())
                    .map_err(storage)?;
            }
        }
        w.commit().map_err(storage)
    }

    // ---- reading ----------------------------------------------------------------------

    /// This wallet's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The last verified view (`None` before the first successful refresh).
    pub fn view(&self) -> Option<&VerifiedView> {
        self.view.as_ref()
    }

    /// Tracked transactions, by hash.
    pub fn transactions(&self) -> &BTreeMap<Hash32, TrackedTx> {
        &self.txs
    }

    /// Status of a submitted transaction.
    pub fn tx_status(&self, hash: &Hash32) -> Option<&TxStatus> {
        self.txs.get(hash).map(|t| &t.status)
    }

    /// A certificate's record as last proven (by [`Wallet::root`], which quotes, prechecks
    /// and maturity warnings call when they need terms) and kept in the cache, read without
    /// the network. Its terms never change; its status is as of when it was proven.
    pub fn known_root(&self, id: &Hash32) -> Option<&RootRecord> {
        self.roots.get(id)
    }

    /// The ledger's parameters as last proven (with each refresh), if known. Local.
    pub fn known_params(&self) -> Option<&Params> {
        self.params.as_ref().map(|p| &p.params)
    }

    /// The ledger's current parameters, proven against a verified app hash and kept (see
    /// [`Wallet::known_params`]). They decide what the ledger will compute for this wallet's
    /// transactions, such as the day count of a financing, and the operator can change them.
    pub fn chain_params(&mut self) -> Result<Params, WalletError> {
        let (answer, app_hash) = self.ask_proven(&Query::Params)?;
        self.keep_params(answer, &app_hash)
    }

    /// Verifies a parameters answer against `app_hash` (the verified app hash of the state
    /// it is about) and keeps the parameters unless newer ones are already kept.
    fn keep_params(&mut self, answer: Answer, app_hash: &Hash32) -> Result<Params, WalletError> {
        let path = Query::Params.path();
        let Answer::State(proof) = answer else {
            return Err(WalletError::WrongAnswer { path });
        };
        let version = proof.version;
        // Every ledger has parameters from genesis on: a proof of absence is a wrong answer.
        let params: Params = proof
            .verify_typed(app_hash, crate::keys::PARAMS)?
            .ok_or(WalletError::WrongAnswer { path })?;
        if self.params.as_ref().is_none_or(|p| p.version <= version) {
            self.params = Some(ProvenParams {
                version,
                params: params.clone(),
            });
        }
        Ok(params)
    }

    /// The light client (for its statistics and witness reports).
    pub fn light_client(&self) -> Option<&LightClient> {
        self.light.as_ref()
    }

    fn light(&mut self) -> Result<&mut LightClient, WalletError> {
        if self.light.is_none() {
            let witnesses: Vec<&dyn Transport> =
                self.witnesses.iter().map(|w| w.as_ref()).collect();
            let client = LightClient::new(
                self.config.anchor.clone(),
                self.config.options,
                self.primary.as_ref(),
                &witnesses,
                self.clock.now(),
            )?;
            self.light = Some(client);
        }
        self.light.as_mut().ok_or(WalletError::NotSynced)
    }

    /// The verified app hash of state `version`.
    fn app_hash_for(&mut self, version: u64) -> Result<(Hash32, Day), WalletError> {
        let now = self.clock.now();
        let primary = Arc::clone(&self.primary);
        let witnesses = self.witnesses.clone();
        let refs: Vec<&dyn Transport> = witnesses.iter().map(|w| w.as_ref()).collect();
        let light = self.light()?;
        match light.verified_app_hash_for_state(version, primary.as_ref(), &refs, now) {
            Ok(hash) => {
                let time = light
                    .block(version + 1)
                    .map(|b| b.signed_header.header.time.unix_timestamp())
                    .unwrap_or_default();
                Ok((hash, Day::from_unix_seconds(time).unwrap_or(Day(0))))
            }
            Err(e) if not_there_yet(&e) => Err(WalletError::AwaitingNextBlock { version }),
            Err(e) => Err(e.into()),
        }
    }

    fn ask(&self, query: &Query) -> Result<(u64, Answer), WalletError> {
        let path = query.path();
        let result = self.primary.query(&path)?;
        if result.code != 0 {
            return Err(WalletError::Query {
                path,
                code: result.code,
                log: result.log,
            });
        }
        let answer: Answer = codec::decode_stored(&result.value)
            .map_err(|_| WalletError::WrongAnswer { path: path.clone() })?;
        Ok((result.height, answer))
    }

    fn fetch_list(&self, query: Query, kind: ListKind) -> Result<AccountListProof, WalletError> {
        let path = query.path();
        let (height, answer) = self.ask(&query)?;
        let Answer::List(list) = answer else {
            return Err(WalletError::WrongAnswer { path });
        };
        if list.kind != kind || list.account != self.address || list.account_proof.version != height
        {
            return Err(WalletError::WrongAnswer { path });
        }
        Ok(list)
    }

    /// The account's three lists, all answered for one state version.
    fn fetch_lists(&self) -> Result<HeldLists, WalletError> {
        let mut last = 0;
        // A block can land between the three queries; two attempts are plenty in practice.
        for _ in 0..2 {
            let lists = [
                self.fetch_list(Query::Holdings(self.address), ListKind::Holdings)?,
                self.fetch_list(Query::OffersIn(self.address), ListKind::OffersIn)?,
                self.fetch_list(Query::OffersOut(self.address), ListKind::OffersOut)?,
            ];
            let v = lists[0].account_proof.version;
            last = lists[2].account_proof.version;
            if lists.iter().all(|l| l.account_proof.version == v) {
                return Ok(lists);
            }
        }
        Err(WalletError::AwaitingNextBlock { version: last })
    }

    fn verify_list(
        &self,
        list: &AccountListProof,
        app_hash: &Hash32,
    ) -> Result<(Vec<(Hash32, Piece)>, Account), WalletError> {
        let pieces = list.verify(app_hash)?;
        let account: Account = list
            .account_proof
            .verify_typed(app_hash, &crate::keys::account(&self.address))?
            .unwrap_or_default();
        Ok((pieces, account))
    }

    /// A piece, proven against a verified app hash.
    pub fn piece(&mut self, id: &Hash32) -> Result<Option<Piece>, WalletError> {
        let query = Query::Piece(*id);
        let (answer, app_hash) = self.ask_proven(&query)?;
        let Answer::State(proof) = answer else {
            return Err(WalletError::WrongAnswer { path: query.path() });
        };
        Ok(proof.verify_typed(&app_hash, &crate::keys::piece(id))?)
    }

    /// A certificate, proven (terms are cached for good once proven; they never change).
    pub fn root(&mut self, id: &Hash32) -> Result<Option<RootRecord>, WalletError> {
        let query = Query::Root(*id);
        let (answer, app_hash) = self.ask_proven(&query)?;
        let Answer::State(proof) = answer else {
            return Err(WalletError::WrongAnswer { path: query.path() });
        };
        let root: Option<RootRecord> = proof.verify_typed(&app_hash, &crate::keys::root(id))?;
        if let Some(r) = &root {
            self.roots.insert(*id, r.clone());
        }
        Ok(root)
    }

    /// Every piece of a certificate, proven complete.
    pub fn lineage(
        &mut self,
        root: &Hash32,
    ) -> Result<(RootRecord, Vec<(Hash32, Piece)>), WalletError> {
        let query = Query::Lineage(*root);
        let (answer, app_hash) = self.ask_proven(&query)?;
        let Answer::Lineage(proof) = answer else {
            return Err(WalletError::WrongAnswer { path: query.path() });
        };
        // The lineage must be the one asked about, or a node could answer with another
        // certificate's genuine lineage.
        Ok(proof.verify_for(&app_hash, root)?)
    }

    /// An obligor's settlement record, proven: certificates it issued that were accepted,
    /// how many it settled by maturity plus grace and how many late, how many are overdue
    /// and unpaid now, and the face values settled on time and late.
    ///
    /// A financier discounting a piece carries the obligor's credit risk, not the seller's,
    /// so this record is what it prices against; it must be the ledger's, not what a node
    /// chooses to say, hence the proof against a verified app hash (a node cannot hide an
    /// overdue certificate or inflate the on-time count). An obligor with no record (no
    /// certificate accepted yet, or not an obligor at all) is proven absent and shown as the
    /// all-zero record.
    pub fn obligor_record(&mut self, obligor: &Address) -> Result<ObligorRecord, WalletError> {
        let query = Query::ObligorRecord(*obligor);
        let (answer, app_hash) = self.ask_proven(&query)?;
        let Answer::State(proof) = answer else {
            return Err(WalletError::WrongAnswer { path: query.path() });
        };
        let record: Option<ObligorRecord> =
            proof.verify_typed(&app_hash, &crate::keys::obligor(obligor))?;
        Ok(record.unwrap_or_default())
    }

    /// Asks `query` (a piece, certificate, lineage or obligor record) and returns the answer
    /// with the verified app hash of the state it is about, for the caller to check the proof
    /// against.
    ///
    /// A node answers for its latest state `H`, whose app hash only header `H + 1` carries,
    /// and on a live chain that header is not out at the moment of the answer. Such an answer
    /// is kept and the call fails with [`WalletError::AwaitingNextBlock`]; the next call for
    /// the same query (once the header exists) verifies the kept answer instead of asking
    /// again, so retrying always converges. The kept answer is at most a few blocks old and
    /// still proven; a later call asks afresh.
    ///
    /// An answer about a state older than one already verified (the view's, or the one whose
    /// app hash the latest trusted header carries) is refused: its proof is genuine, but a
    /// node replaying old state could hide what changed since (a certificate that went
    /// overdue, a piece that moved). A kept answer that has become that old is asked afresh.
    fn ask_proven(&mut self, query: &Query) -> Result<(Answer, Hash32), WalletError> {
        const MAX_HELD: usize = 64;
        let path = query.path();
        let floor = self.verified_floor();
        let answer = match self.held_answers.remove(&path) {
            Some(answer) if answer_version(query, &answer).is_some_and(|v| v >= floor) => answer,
            _ => self.ask(query)?.1,
        };
        let version = answer_version(query, &answer)
            .ok_or(WalletError::WrongAnswer { path: path.clone() })?;
        if version < floor {
            return Err(WalletError::Light(LightClientError::WrongHeight {
                requested: floor,
                got: version,
            }));
        }
        match self.app_hash_for(version) {
            Ok((app_hash, _)) => Ok((answer, app_hash)),
            Err(e @ WalletError::AwaitingNextBlock { .. }) => {
                if self.held_answers.len() >= MAX_HELD {
                    self.held_answers.clear();
                }
                self.held_answers.insert(path, answer);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// The oldest state version an answer may be about: the verified view's, and the one
    /// proven by the latest trusted header (header `H` carries the app hash of state `H - 1`).
    fn verified_floor(&self) -> u64 {
        let view = self.view.as_ref().map_or(0, |v| v.version);
        let light = self
            .light
            .as_ref()
            .map_or(0, |l| l.trusted_height().saturating_sub(1));
        view.max(light)
    }

    /// Syncs the light client to the chain head, re-verifies the account and its lists,
    /// proves the terms of certificates seen for the first time, and updates tracked
    /// transactions. Returns what changed since the last view. On any
    /// verification failure nothing is stored and the previous view stays.
    pub fn refresh(&mut self) -> Result<Vec<WalletEvent>, WalletError> {
        // Answers for state H can only be checked once header H + 1 exists. Answers waiting
        // for it are kept, so the next refresh checks them instead of asking again (asking
        // again would be about a newer state, itself waiting for its next header).
        let floor = self.verified_floor();
        let (lists, params) = match self.held.take() {
            Some(lists) => (lists, self.held_params.take()),
            // The parameters are asked first, so their state is at most the lists' and the
            // header proving it exists once the lists' does: no wait of their own.
            None => {
                let (_, params) = self.ask(&Query::Params)?;
                (self.fetch_lists()?, Some(params))
            }
        };
        let version = lists[0].account_proof.version;
        let (app_hash, today) = match self.app_hash_for(version) {
            Ok(found) => found,
            Err(e @ WalletError::AwaitingNextBlock { .. }) => {
                self.held = Some(lists);
                self.held_params = params;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let (holdings, account) = self.verify_list(&lists[0], &app_hash)?;
        let (offers_in, _) = self.verify_list(&lists[1], &app_hash)?;
        let (offers_out, _) = self.verify_list(&lists[2], &app_hash)?;
        let view = VerifiedView {
            version,
            app_hash,
            today,
            account,
            holdings,
            offers_in,
            offers_out,
        };
        if let Some(old) = &self.view {
            if view.version < old.version {
                // A node serving an older state than we already verified is replaying.
                return Err(WalletError::Light(LightClientError::WrongHeight {
                    requested: old.version,
                    got: view.version,
                }));
            }
        }
        // Everything is worked out before anything changes: a failure part-way (a node
        // down, a proof that does not check) leaves the view and the tracked transactions
        // exactly as they were, never a transaction marked committed beside an old view.
        let mut events = self.diff(&view);
        let (statuses, tx_events) = self.track(&view)?;
        events.extend(tx_events);
        for (id, _) in &view.holdings {
            match self.maturity_warning(id, &view) {
                Ok(Some(e)) => events.push(e),
                Ok(None) => {}
                // The certificate's terms were asked of a newer state whose header is not
                // out yet; the warning comes with the next refresh.
                Err(WalletError::AwaitingNextBlock { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        // The terms of every piece shown (maturity, currency) are proven once and kept with
        // the view, so the view reads complete offline. Holdings' terms were just fetched
        // for the maturity warnings; offers' are fetched here (or with the next refresh when
        // the state they were asked of is not provable yet).
        let offered: BTreeSet<Hash32> = view
            .offers_in
            .iter()
            .chain(&view.offers_out)
            .map(|(_, p)| p.root)
            .filter(|root| !self.roots.contains_key(root))
            .collect();
        for root in offered {
            match self.root(&root) {
                Ok(_) | Err(WalletError::AwaitingNextBlock { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        // The ledger's parameters, proven with each refresh, so quotes use the day count the
        // ledger will apply, even offline.
        if let Some(answer) = params {
            self.prove_params_with(answer, &view, floor)?;
        }
        let saved_txs = self.txs.clone();
        for (hash, status) in statuses {
            if let Some(t) = self.txs.get_mut(&hash) {
                t.status = status;
            }
        }
        let saved_view = self.view.replace(view);
        if let Err(e) = self.save() {
            self.txs = saved_txs;
            self.view = saved_view;
            return Err(e);
        }
        Ok(events)
    }

    /// Keeps the parameters `answer` proves, checked against the app hash of its state: the
    /// view's when it is about the same state, else the header after it (which exists: the
    /// parameters were asked before the view's lists). An answer about a state older than
    /// `floor` (the newest one verified before this refresh) or newer than the view is not
    /// used, and the kept parameters stay until the next refresh: old ones could be a replay,
    /// and an honest node answers in between. An answer that does not verify is an error.
    fn prove_params_with(
        &mut self,
        answer: Answer,
        view: &VerifiedView,
        floor: u64,
    ) -> Result<(), WalletError> {
        let version = answer_version(&Query::Params, &answer).ok_or(WalletError::WrongAnswer {
            path: Query::Params.path(),
        })?;
        if version < floor || version > view.version {
            return Ok(());
        }
        let app_hash = if version == view.version {
            view.app_hash
        } else {
            match self.app_hash_for(version) {
                Ok((app_hash, _)) => app_hash,
                Err(WalletError::AwaitingNextBlock { .. }) => return Ok(()),
                Err(e) => return Err(e),
            }
        };
        self.keep_params(answer, &app_hash).map(|_| ())
    }

    fn diff(&self, new: &VerifiedView) -> Vec<WalletEvent> {
        let mut events = Vec::new();
        let ids =
            |list: &[(Hash32, Piece)]| list.iter().map(|(id, _)| *id).collect::<BTreeSet<_>>();
        let (old_hold, old_in, old_out) = match &self.view {
            Some(v) => (ids(&v.holdings), ids(&v.offers_in), ids(&v.offers_out)),
            None => Default::default(),
        };
        for (id, p) in &new.offers_in {
            if !old_in.contains(id) {
                events.push(WalletEvent::OfferReceived {
                    piece: *id,
                    status: p.status.clone(),
                    amount: p.amount,
                });
            }
        }
        let new_in = ids(&new.offers_in);
        let new_out = ids(&new.offers_out);
        for id in old_in.iter().chain(old_out.iter()) {
            if !new_in.contains(id) && !new_out.contains(id) {
                events.push(WalletEvent::OfferClosed { piece: *id });
            }
        }
        let new_hold = ids(&new.holdings);
        for (id, p) in &new.holdings {
            if !old_hold.contains(id) {
                events.push(WalletEvent::HoldingAdded {
                    piece: *id,
                    amount: p.amount,
                    status: p.status.clone(),
                });
            }
        }
        for id in &old_hold {
            if !new_hold.contains(id) {
                events.push(WalletEvent::HoldingRemoved { piece: *id });
            }
        }
        events
    }

    /// The new status of each pending transaction, from the proven nonce and each
    /// transaction's proven outcome, and the events they raise. Changes nothing but the
    /// light client's verified headers (see `refresh`).
    ///
    /// The node's transaction index ([`Transport::tx_location`]: CometBFT's `/tx`) only says
    /// where to look: the block it names is fetched and checked against its verified header
    /// (the transactions) and the next one (their results), so the height and code a status
    /// shows are the ledger's. A location naming a block without the transaction, or results
    /// that do not match the headers, fail the refresh ([`WalletError::Outcome`]): the node
    /// lied, and nothing is concluded from it.
    #[allow(clippy::type_complexity)]
    fn track(
        &mut self,
        view: &VerifiedView,
    ) -> Result<(Vec<(Hash32, TxStatus)>, Vec<WalletEvent>), WalletError> {
        let mut events = Vec::new();
        let mut statuses = Vec::new();
        let open: Vec<Hash32> = self
            .txs
            .values()
            // A refusal still open at the last view gets one more look at the new one, which
            // may be where its bytes committed after all.
            .filter(|t| {
                t.status == TxStatus::Pending || is_provisional_refusal(t, self.view.as_ref())
            })
            .map(|t| t.hash)
            .collect();
        for hash in open {
            let Some(tx) = self.txs.get(&hash).cloned() else {
                continue;
            };
            let proven = match self.primary.tx_location(&hash)? {
                Some(r) => match self.proven_code(&hash, r.height) {
                    Ok(Some(code)) => Some((r.height, code, r.log)),
                    // An honest node's index names the block that holds the transaction.
                    Ok(None) => {
                        return Err(OutcomeError::NotInBlock { height: r.height }.into());
                    }
                    // The block's results are not provable yet: judge with the next refresh.
                    Err(WalletError::AwaitingNextBlock { .. }) => continue,
                    Err(e) => return Err(e),
                },
                None => None,
            };
            let status = match (proven, view.account.nonce > tx.nonce) {
                // The proven nonce moved past this transaction's: something with this nonce
                // committed, and the proven outcome says it was this one.
                (Some((height, 0, _)), true) => TxStatus::Committed { height },
                // The code is proven; the message is the node's.
                (Some((_, code, log)), _) if code != 0 => TxStatus::Failed { code, reason: log },
                (_, true) => TxStatus::Failed {
                    code: 0,
                    reason: "another transaction with the same nonce committed".into(),
                },
                (_, false) if view.version >= tx.expiry_height => TxStatus::Failed {
                    code: 0,
                    reason: format!("expired at height {}", tx.expiry_height),
                },
                // Still refused and not yet final: nothing new to say.
                _ if tx.status != TxStatus::Pending => continue,
                _ => TxStatus::Pending,
            };
            // One `Failed` event per transaction: a refusal repeated, or made final, is no news.
            let known = match (&tx.status, &status) {
                (TxStatus::Failed { .. }, TxStatus::Failed { .. }) => true,
                (old, new) => old == new,
            };
            if known {
                continue;
            }
            match &status {
                TxStatus::Committed { height } => events.push(WalletEvent::Confirmed {
                    tx: hash,
                    height: *height,
                }),
                TxStatus::Failed { code, reason } => events.push(WalletEvent::Failed {
                    tx: hash,
                    code: *code,
                    reason: reason.clone(),
                }),
                TxStatus::Pending => {}
            }
            statuses.push((hash, status));
        }
        Ok((statuses, events))
    }

    /// The result code of transaction `tx` in block `height`, proven: the node's account of
    /// the block must hash to the verified header `height` (transactions) and `height + 1`
    /// (results). `None` if the block does not hold the transaction.
    fn proven_code(&mut self, tx: &Hash32, height: u64) -> Result<Option<u32>, WalletError> {
        let data_hash = self.verified_header(height)?.data_hash;
        let results_hash = self.verified_header(height + 1)?.last_results_hash;
        let outcome = self.primary.block_outcome(height)?;
        let bytes = |h: Option<tendermint::Hash>| h.map(|h| h.as_bytes().to_vec());
        Ok(outcome.code_of(
            height,
            tx,
            &bytes(data_hash).unwrap_or_default(),
            &bytes(results_hash).unwrap_or_default(),
        )?)
    }

    /// Header `height`, verified by the light client (with the app hash of state
    /// `height - 1`; [`WalletError::AwaitingNextBlock`] if it is not out yet).
    fn verified_header(&mut self, height: u64) -> Result<tendermint::block::Header, WalletError> {
        let version = height.checked_sub(1).ok_or(WalletError::WrongAnswer {
            path: format!("header {height}"),
        })?;
        self.app_hash_for(version)?;
        self.light()?
            .block(height)
            .map(|b| b.signed_header.header.clone())
            .ok_or(WalletError::AwaitingNextBlock { version })
    }

    fn maturity_warning(
        &mut self,
        id: &Hash32,
        view: &VerifiedView,
    ) -> Result<Option<WalletEvent>, WalletError> {
        let Some((_, piece)) = view.holdings.iter().find(|(p, _)| p == id) else {
            return Ok(None);
        };
        let root = match self.roots.get(&piece.root) {
            Some(r) => r.clone(),
            None => match self.root(&piece.root)? {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        let maturity = root.terms.maturity;
        if maturity < view.today {
            return Ok(None);
        }
        let days_left = view.today.days_until(maturity);
        Ok((days_left <= self.config.maturity_warning_days).then_some(
            WalletEvent::MaturityApproaching {
                piece: *id,
                maturity,
                days_left,
            },
        ))
    }

    // ---- quotes -------------------------------------------------------------------------

    /// What financing `amount` of a held piece at `rate` would pay today (interest and
    /// proceeds), before anything is signed, under the ledger's own day count (its proven
    /// parameters: a quote under another convention would promise other proceeds than the
    /// ledger pays).
    pub fn quote(
        &mut self,
        piece: &Hash32,
        amount: Amount,
        rate: AnnualRate,
    ) -> Result<Quote, WalletError> {
        let view = self.view.clone().ok_or(WalletError::NotSynced)?;
        let day_count = match self.known_params() {
            Some(params) => params.day_count,
            None => self.chain_params()?.day_count,
        };
        quote_on(&view, piece, amount, rate, day_count, |root| {
            self.root_terms(root)
        })
    }

    fn root_terms(&mut self, id: &Hash32) -> Result<RootRecord, WalletError> {
        if let Some(r) = self.roots.get(id) {
            return Ok(r.clone());
        }
        self.root(id)?.ok_or(WalletError::Refused {
            code: TxError::UnknownRoot { root: *id }.code(),
            message: TxError::UnknownRoot { root: *id }.to_string(),
        })
    }

    // ---- transactions -------------------------------------------------------------------

    /// Checks `body` against the verified view with the ledger's errors (what the wallet
    /// can see: its own pieces, statuses, freezes, maturity, amounts, recipients).
    pub fn precheck(&mut self, body: &TxBody) -> Result<(), WalletError> {
        let view = self.view.clone().ok_or(WalletError::NotSynced)?;
        let me = self.address;
        // The ledger's cap on pending offers out, checked with the proven parameters when
        // the wallet holds them (the node checks it anyway).
        let max_offers_out = self.known_params().map(|p| p.max_offers_out);
        let offer_room = |adding: usize| -> Result<(), WalletError> {
            match max_offers_out {
                Some(max) => Ok(crate::exec::offer_room(
                    view.account.offers_out,
                    adding,
                    max,
                )?),
                None => Ok(()),
            }
        };
        let movable =
            |w: &mut Wallet, id: &Hash32, action: &'static str| -> Result<Piece, WalletError> {
                let (_, p) = find(&view.holdings, id, "holdings")?;
                if let Some(f) = &p.frozen {
                    return Err(TxError::Frozen {
                        piece: *id,
                        reason: f.reason,
                    }
                    .into());
                }
                if p.status != PieceStatus::Active {
                    return Err(TxError::WrongStatus {
                        piece: *id,
                        status: p.status.name(),
                        action,
                    }
                    .into());
                }
                let root = w.root_terms(&p.root)?;
                crate::exec::before_maturity(&root.terms, view.today)?;
                Ok(p)
            };
        match body {
            TxBody::Accept { piece } | TxBody::Reject { piece } => {
                let (_, p) = find(&view.offers_in, piece, "offers")?;
                if let Some(f) = &p.frozen {
                    return Err(TxError::Frozen {
                        piece: *piece,
                        reason: f.reason,
                    }
                    .into());
                }
                // A certificate is accepted only before its maturity (it could not be paid
                // on time otherwise); refusing it stays possible.
                let issue = matches!(
                    p.status,
                    PieceStatus::Pending {
                        kind: OfferKind::Issue,
                        ..
                    }
                );
                if matches!(body, TxBody::Accept { .. }) && issue {
                    let root = self.root_terms(&p.root)?;
                    crate::exec::before_maturity(&root.terms, view.today)?;
                }
            }
            TxBody::Cancel { piece } => {
                find(&view.offers_out, piece, "offers made")?;
            }
            TxBody::Transfer { piece, outputs } => {
                let p = movable(self, piece, "transfer")?;
                if outputs.is_empty() {
                    return Err(TxError::NoOutputs.into());
                }
                let mut seen = BTreeSet::new();
                let mut total = Amount::ZERO;
                for Output { to, amount } in outputs {
                    if *to == me {
                        return Err(TxError::SelfTransfer.into());
                    }
                    if !seen.insert(*to) {
                        return Err(TxError::DuplicateRecipient { to: *to }.into());
                    }
                    if amount.0 == 0 {
                        return Err(TxError::ZeroAmount.into());
                    }
                    total = total.checked_add(*amount).map_err(|_| TxError::Overflow)?;
                }
                if total > p.amount {
                    return Err(TxError::SplitExceedsPiece {
                        outputs: total,
                        available: p.amount,
                    }
                    .into());
                }
                offer_room(outputs.len())?;
            }
            TxBody::Merge { pieces } => {
                for id in pieces {
                    movable(self, id, "merge")?;
                }
            }
            TxBody::RequestFinancing { piece, amount, .. } => {
                let p = movable(self, piece, "finance")?;
                if amount.0 == 0 {
                    return Err(TxError::ZeroAmount.into());
                }
                if *amount > p.amount {
                    return Err(TxError::SplitExceedsPiece {
                        outputs: *amount,
                        available: p.amount,
                    }
                    .into());
                }
                offer_room(1)?;
            }
            TxBody::AcceptFinancing {
                piece,
                payment_reference,
            } => {
                if payment_reference.is_empty()
                    || payment_reference.len() > crate::exec::MAX_PAYMENT_REFERENCE
                {
                    return Err(TxError::BadPaymentReference {
                        max: crate::exec::MAX_PAYMENT_REFERENCE,
                    }
                    .into());
                }
                let (_, p) = find(&view.offers_in, piece, "offers")?;
                if !matches!(p.status, PieceStatus::FinancingRequested { .. }) {
                    return Err(TxError::WrongStatus {
                        piece: *piece,
                        status: p.status.name(),
                        action: "accept financing",
                    }
                    .into());
                }
            }
            // Everything else depends on records the wallet does not hold (documents, credit
            // lines, roles); the node's mempool check answers with the same typed errors.
            _ => {}
        }
        Ok(())
    }

    /// Checks, signs and submits a transaction; returns its hash. The transaction is then
    /// tracked until `refresh` sees it committed or failed.
    pub fn submit(&mut self, body: TxBody) -> Result<Hash32, WalletError> {
        self.precheck(&body)?;
        let view = self.view.clone().ok_or(WalletError::NotSynced)?;
        let in_flight = self
            .txs
            .values()
            .filter(|t| t.status == TxStatus::Pending && t.nonce >= view.account.nonce)
            .count() as u64;
        let chain_id = self.config.anchor.chain_id.clone();
        let tx = Tx {
            chain_id,
            signer: self.signer.public_key(),
            nonce: view.account.nonce + in_flight,
            // A window past the last height means "never expires", not an overflow.
            expiry_height: view.version.saturating_add(self.config.tx_ttl_blocks),
            body,
        };
        let signature = low_s(self.signer.sign_digest(&tx.sign_digest())?)?;
        let kind = tx.body.kind().to_string();
        let (nonce, expiry_height) = (tx.nonce, tx.expiry_height);
        let bytes = SignedTx { tx, signature }.to_bytes();
        let hash = Hash32(crate::crypto::sha256(&bytes));
        let tracked = TrackedTx {
            hash,
            nonce,
            expiry_height,
            kind,
            bytes,
            status: TxStatus::Pending,
        };
        self.broadcast(tracked)
    }

    /// Re-broadcasts a tracked transaction (the same bytes: idempotent by hash).
    pub fn resubmit(&mut self, hash: &Hash32) -> Result<Hash32, WalletError> {
        let tracked = self
            .txs
            .get(hash)
            .cloned()
            .ok_or(WalletError::NotInWallet {
                piece: *hash,
                list: "transactions",
            })?;
        if tracked.status != TxStatus::Pending {
            return Ok(*hash);
        }
        self.broadcast(tracked)
    }

    fn broadcast(&mut self, tracked: TrackedTx) -> Result<Hash32, WalletError> {
        let result = match self.primary.broadcast(&tracked.bytes) {
            Ok(r) => r,
            // CometBFT answers a re-broadcast of a transaction still in its mempool cache with
            // an RPC error: for a transaction this wallet already tracks, that is success.
            Err(TransportError::Rpc { .. }) if self.txs.contains_key(&tracked.hash) => {
                return Ok(tracked.hash)
            }
            Err(e) => return Err(e.into()),
        };
        // "Already in the mempool" answers are success for an idempotent resubmission.
        if result.code != 0 && !self.txs.contains_key(&tracked.hash) {
            return Err(WalletError::Refused {
                code: result.code,
                message: result.log,
            });
        }
        let hash = tracked.hash;
        self.txs.insert(hash, tracked);
        self.save()?;
        Ok(hash)
    }
}

/// The figures of [`Wallet::quote`] on a given view: financing `amount` of held `piece` at
/// `rate` under `day_count`, with `terms` giving the certificate's proven terms. For an app
/// that quotes from a copy of the wallet's state without waiting for the wallet.
pub fn quote_on(
    view: &VerifiedView,
    piece: &Hash32,
    amount: Amount,
    rate: AnnualRate,
    day_count: DayCount,
    terms: impl FnOnce(&Hash32) -> Result<RootRecord, WalletError>,
) -> Result<Quote, WalletError> {
    let (_, p) = find(&view.holdings, piece, "holdings")?;
    if amount > p.amount {
        return Err(TxError::SplitExceedsPiece {
            outputs: amount,
            available: p.amount,
        }
        .into());
    }
    let root = terms(&p.root)?;
    pricing::discount(amount, rate, view.today, root.terms.maturity, day_count)
        .map_err(|e| TxError::Pricing(e).into())
}

/// True for a transaction refused in a block (a proposer may include a transaction the
/// ledger then refuses) whose refusal is not final yet: its nonce is unused and its expiry
/// height has not passed. Refused bytes stay valid until then (a refusal does not consume
/// the nonce), so such a transaction is checked again on every refresh; it becomes
/// `Committed` if it (or the same bytes, sent again by anyone) commits after all.
/// `view` is the state the refusal is judged at; with none, it is open.
fn is_provisional_refusal(tx: &TrackedTx, view: Option<&VerifiedView>) -> bool {
    matches!(tx.status, TxStatus::Failed { code, .. } if code != 0)
        && view.is_none_or(|v| v.account.nonce <= tx.nonce && v.version < tx.expiry_height)
}

/// The state version a single answer is about, if it is the kind of answer `query` needs.
fn answer_version(query: &Query, answer: &Answer) -> Option<u64> {
    match (query, answer) {
        (
            Query::Piece(_) | Query::Root(_) | Query::ObligorRecord(_) | Query::Params,
            Answer::State(p),
        ) => Some(p.version),
        (Query::Lineage(_), Answer::Lineage(p)) => Some(p.root_proof.version),
        _ => None,
    }
}

fn find(
    list: &[(Hash32, Piece)],
    id: &Hash32,
    name: &'static str,
) -> Result<(Hash32, Piece), WalletError> {
    list.iter()
        .find(|(p, _)| p == id)
        .map(|(p, piece)| (*p, piece.clone()))
        .ok_or(WalletError::NotInWallet {
            piece: *id,
            list: name,
        })
}

/// Normalises a host signer's signature to low-S (the ledger accepts only low-S).
fn low_s(sig: SignatureBytes) -> Result<SignatureBytes, WalletError> {
    let parsed = k256::ecdsa::Signature::from_slice(&sig.0).map_err(|_| {
        WalletError::Key(KeyError::Signer {
            reason: "not a 64-byte compact secp256k1 signature".into(),
        })
    })?;
    let normal = parsed.normalize_s().unwrap_or(parsed);
    let mut out = [0u8; 64];
    out.copy_from_slice(&normal.to_bytes());
    Ok(SignatureBytes(out))
}
