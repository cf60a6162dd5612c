//! The wallet object: one participant's verified view, its transactions and its events.
//!
//! A thin shell over the core wallet: arguments are validated into core types, network-bound
//! work runs on tokio's blocking pool (so awaiting it never blocks the app's thread), and
//! core errors are folded into [`WalletError`]. The core wallet sits behind one `Mutex`, so
//! a wallet runs one refresh or transaction at a time; a poisoned lock is an `Internal`
//! error, never a panic.

use crate::errors::{poisoned, WalletError};
use crate::keys::{ForeignSigner, HostSigner, KeyPair};
use crate::node::SoloNode;
use crate::transport::{ForeignHttp, HttpClient};
use crate::types::{
    self, parse_address, parse_currency, parse_day, parse_hex, parse_id, parse_public_key,
    parse_rate, parse_roles, parse_text, FinancingQuote, Lineage, ObligorRecord, PieceInfo, Role,
    TransferOutput, TrustAnchor, TxState, WalletEvent, WalletView,
};
use cascade_core::crypto::sha256;
use cascade_core::pricing::DayCount;
use cascade_core::tx::{Output, TxBody};
use cascade_core::types::RootRecord;
use cascade_core::wallet::client::{
    quote_on, Clock, SystemClock, TxStatus, VerifiedView, Wallet as CoreWallet, WalletConfig,
    WalletError as CoreWalletError,
};
use cascade_core::wallet::http::HttpTransport;
use cascade_core::wallet::keys::Signer;
use cascade_core::wallet::light::TrustAnchor as CoreAnchor;
use cascade_core::wallet::solo_transport::{SoloClock, SoloTransport};
use cascade_core::wallet::transport::Transport;
use cascade_core::{Amount, Hash32, Money};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Receives a wallet's events. Implemented by the app; called on a background thread after
/// each successful `refresh`, once per event, in order, with the wallet unlocked (so it may
/// call the wallet's sync methods). What it throws is ignored.
#[uniffi::export(with_foreign)]
pub trait WalletListener: Send + Sync {
    /// One event.
    fn on_event(&self, event: WalletEvent) -> Result<(), WalletError>;
}

/// A solo chain has one validator the app itself runs, so there is no unbonding period for
/// trust to expire against; a long trusting period lets a demo jump years ahead.
const SOLO_TRUSTING_PERIOD: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Longest trade-document reference hashed into a document id.
const MAX_REFERENCE: usize = 1024;

/// One participant's wallet. Thread-safe: share it freely; calls on one wallet run one at
/// a time.
#[derive(uniffi::Object)]
pub struct Wallet {
    inner: Arc<Mutex<CoreWallet>>,
    /// What the sync calls read. The core wallet's lock is held through network calls (a
    /// refresh, a broadcast), so a sync call taking it would wait for the network, blocking
    /// the app's UI thread; this copy, refreshed at the end of every call that holds that
    /// lock, is only ever locked for a moment.
    local: Arc<Mutex<Local>>,
    listener: Arc<Mutex<Option<Arc<dyn WalletListener>>>>,
    address: String,
}

/// The wallet's local state as of its last completed call: the verified view, the proven
/// terms of the certificates its pieces belong to, the ledger's proven day count, the
/// tracked transactions' statuses.
#[derive(Default)]
struct Local {
    view: Option<VerifiedView>,
    roots: BTreeMap<Hash32, RootRecord>,
    day_count: Option<DayCount>,
    txs: BTreeMap<Hash32, TxStatus>,
}

impl Local {
    fn of(w: &CoreWallet) -> Local {
        let view = w.view().cloned();
        let roots = view
            .iter()
            .flat_map(|v| v.holdings.iter().chain(&v.offers_in).chain(&v.offers_out))
            .filter_map(|(_, p)| Some((p.root, w.known_root(&p.root)?.clone())))
            .collect();
        let txs = w
            .transactions()
            .iter()
            .map(|(hash, t)| (*hash, t.status.clone()))
            .collect();
        let day_count = w.known_params().map(|p| p.day_count);
        Local {
            view,
            roots,
            day_count,
            txs,
        }
    }
}

/// Replaces the sync calls' copy with `w`'s current state (whatever a panic elsewhere left
/// in the old copy is overwritten whole).
fn publish(local: &Mutex<Local>, w: &CoreWallet) {
    let fresh = Local::of(w);
    match local.lock() {
        Ok(mut l) => *l = fresh,
        Err(p) => *p.into_inner() = fresh,
    }
}

fn lock_local(local: &Mutex<Local>) -> Result<MutexGuard<'_, Local>, WalletError> {
    local.lock().map_err(|_| WalletError::Internal {
        reason: poisoned("wallet view"),
    })
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Wallet({})", self.address)
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> WalletError {
    WalletError::InvalidInput {
        field: field.into(),
        reason: reason.into(),
    }
}

fn lock(inner: &Mutex<CoreWallet>) -> Result<MutexGuard<'_, CoreWallet>, WalletError> {
    inner.lock().map_err(|_| WalletError::Internal {
        reason: poisoned("wallet"),
    })
}

/// The core anchor for a foreign one.
fn anchor(a: &TrustAnchor) -> Result<CoreAnchor, WalletError> {
    if a.chain_id.trim().is_empty() {
        return Err(invalid("anchor.chain_id", "must not be empty"));
    }
    let hash = Hash32(parse_hex::<32>(
        "anchor.validators_hash",
        &a.validators_hash,
    )?);
    Ok(CoreAnchor::genesis_validators(a.chain_id.clone(), hash))
}

/// Opens the core wallet with its cache at `cache_path`, or in memory.
fn open(
    cache_path: Option<String>,
    config: WalletConfig,
    signer: Arc<dyn Signer>,
    primary: Arc<dyn Transport>,
    witnesses: Vec<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
) -> Result<Arc<Wallet>, WalletError> {
    let inner = match cache_path {
        Some(p) if p.trim().is_empty() => {
            return Err(invalid("cache_path", "empty path (use none for memory)"))
        }
        Some(p) => CoreWallet::open(Path::new(&p), config, signer, primary, witnesses, clock)?,
        None => CoreWallet::in_memory(config, signer, primary, witnesses, clock)?,
    };
    Ok(Arc::new(Wallet {
        address: inner.address().to_hex(),
        local: Arc::new(Mutex::new(Local::of(&inner))),
        inner: Arc::new(Mutex::new(inner)),
        listener: Arc::new(Mutex::new(None)),
    }))
}

fn solo(
    node: &SoloNode,
    signer: Arc<dyn Signer>,
    cache_path: Option<String>,
) -> Result<Arc<Wallet>, WalletError> {
    let shared = node.shared();
    let mut config = WalletConfig::new(anchor(&node.trust_anchor())?);
    config.options.trusting_period = SOLO_TRUSTING_PERIOD;
    open(
        cache_path,
        config,
        signer,
        Arc::new(SoloTransport::live(shared.clone())),
        Vec::new(),
        Arc::new(SoloClock::new(shared)),
    )
}

fn connect(
    anchor_: TrustAnchor,
    primary_url: String,
    witness_urls: Vec<String>,
    make: impl Fn(&str) -> Result<HttpTransport, WalletError>,
    signer: Arc<dyn Signer>,
    cache_path: Option<String>,
) -> Result<Arc<Wallet>, WalletError> {
    let config = WalletConfig::new(anchor(&anchor_)?);
    let primary: Arc<dyn Transport> =
        Arc::new(make(&primary_url).map_err(|e| rename(e, "primary_url"))?);
    let mut witnesses: Vec<Arc<dyn Transport>> = Vec::with_capacity(witness_urls.len());
    for (i, url) in witness_urls.iter().enumerate() {
        let t = make(url).map_err(|e| rename(e, &format!("witness_urls[{i}]")))?;
        witnesses.push(Arc::new(t));
    }
    open(
        cache_path,
        config,
        signer,
        primary,
        witnesses,
        Arc::new(SystemClock),
    )
}

/// Names the argument a URL error is about.
fn rename(e: WalletError, field: &str) -> WalletError {
    match e {
        WalletError::Network { reason, .. } | WalletError::InvalidInput { reason, .. } => {
            invalid(field, reason)
        }
        other => other,
    }
}

fn signer_of(host: Arc<dyn HostSigner>) -> Result<Arc<dyn Signer>, WalletError> {
    ForeignSigner::new(host)
        .map(|s| Arc::new(s) as Arc<dyn Signer>)
        .map_err(|e| WalletError::Signer {
            reason: e.into_reason(),
        })
}

impl Wallet {
    /// Runs `job` on the wallet on tokio's blocking pool (inline if no runtime is running).
    async fn blocking<T, F>(&self, job: F) -> Result<T, WalletError>
    where
        T: Send + 'static,
        F: FnOnce(&mut CoreWallet) -> Result<T, WalletError> + Send + 'static,
    {
        let inner = self.inner.clone();
        let local = self.local.clone();
        let work = move || {
            let mut wallet = lock(&inner)?;
            let result = job(&mut wallet);
            // Failed calls too: a refused broadcast can still change what is tracked.
            publish(&local, &wallet);
            result
        };
        run_blocking(work).await
    }

    /// Signs and submits `body` after the local precheck; the transaction hash.
    async fn submit(&self, body: TxBody) -> Result<String, WalletError> {
        self.blocking(move |w| Ok(w.submit(body)?.to_hex())).await
    }

    /// Tells the listener (if any) about `events`, on the blocking pool.
    async fn notify(&self, events: Vec<WalletEvent>) {
        let listener = match self.listener.lock() {
            Ok(l) => l.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let (Some(listener), false) = (listener, events.is_empty()) else {
            return;
        };
        let _ = run_blocking(move || {
            for event in events {
                // A listener's exception or panic must not undo a successful refresh.
                let _ = catch_unwind(AssertUnwindSafe(|| listener.on_event(event)));
            }
            Ok(())
        })
        .await;
    }
}

/// Runs blocking work off the async executor: on tokio's blocking pool when a runtime is
/// current (uniffi's tokio support provides one), inline otherwise.
async fn run_blocking<T, F>(work: F) -> Result<T, WalletError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, WalletError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(work)
            .await
            .map_err(|e| WalletError::Internal {
                reason: if e.is_panic() {
                    "the wallet operation panicked".into()
                } else {
                    "the wallet operation was cancelled".into()
                },
            })?,
        Err(_) => work(),
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Wallet {
    /// A wallet on an embedded solo chain, with a library-held key. No network is used.
    #[uniffi::constructor]
    pub fn solo(
        node: Arc<SoloNode>,
        key: Arc<KeyPair>,
        cache_path: Option<String>,
    ) -> Result<Arc<Wallet>, WalletError> {
        solo(&node, key.signer(), cache_path)
    }

    /// A wallet on an embedded solo chain whose key the app holds.
    #[uniffi::constructor]
    pub fn solo_with_signer(
        node: Arc<SoloNode>,
        signer: Arc<dyn HostSigner>,
        cache_path: Option<String>,
    ) -> Result<Arc<Wallet>, WalletError> {
        solo(&node, signer_of(signer)?, cache_path)
    }

    /// A wallet on a CometBFT network over the built-in plain-`http://` client, verifying
    /// from `anchor`, cross-checking headers with the witnesses.
    #[uniffi::constructor]
    pub fn connect(
        anchor: TrustAnchor,
        primary_url: String,
        witness_urls: Vec<String>,
        key: Arc<KeyPair>,
        cache_path: Option<String>,
    ) -> Result<Arc<Wallet>, WalletError> {
        let make = |url: &str| HttpTransport::new(url).map_err(WalletError::from);
        connect(
            anchor,
            primary_url,
            witness_urls,
            make,
            key.signer(),
            cache_path,
        )
    }

    /// A wallet on a CometBFT network over the app's HTTP client (`https://` allowed), with
    /// the app's signer.
    #[uniffi::constructor]
    pub fn connect_with_client(
        anchor: TrustAnchor,
        primary_url: String,
        witness_urls: Vec<String>,
        client: Arc<dyn HttpClient>,
        signer: Arc<dyn HostSigner>,
        cache_path: Option<String>,
    ) -> Result<Arc<Wallet>, WalletError> {
        let http: Arc<ForeignHttp> = Arc::new(ForeignHttp::new(client));
        let make =
            |url: &str| HttpTransport::with_client(url, http.clone()).map_err(WalletError::from);
        connect(
            anchor,
            primary_url,
            witness_urls,
            make,
            signer_of(signer)?,
            cache_path,
        )
    }

    // ---- local, sync ------------------------------------------------------------------

    /// This wallet's address (hex).
    pub fn address(&self) -> String {
        self.address.clone()
    }

    /// What the wallet last verified (none before the first successful refresh). Local:
    /// never waits for a refresh or transaction in progress (it shows the view from before
    /// it).
    pub fn view(&self) -> Result<Option<WalletView>, WalletError> {
        let l = lock_local(&self.local)?;
        match &l.view {
            None => Ok(None),
            Some(v) => types::view(v, |id| l.roots.get(id)).map(Some),
        }
    }

    /// What financing `amount` of a held piece at `rate_bps` would pay today, under the
    /// ledger's day count. Local: uses the verified view, the certificate's proven terms and
    /// the ledger's parameters proven with the last refresh.
    pub fn quote(
        &self,
        piece: String,
        amount: u64,
        rate_bps: u32,
    ) -> Result<FinancingQuote, WalletError> {
        let id = parse_id("piece", &piece)?;
        let rate = parse_rate("rate_bps", rate_bps)?;
        if amount == 0 {
            return Err(invalid(
                "amount",
                "the amount must be at least one minor unit",
            ));
        }
        let l = lock_local(&self.local)?;
        let view = l.view.as_ref().ok_or(WalletError::NotSynced)?;
        let day_count = l.day_count.ok_or(WalletError::NotSynced)?;
        // The core wallet's quote, on the copy (its lock may be held through a refresh); the
        // terms are kept with the view, so a sync call never goes to the network.
        let q = quote_on(view, &id, Amount(amount), rate, day_count, |root| {
            l.roots.get(root).cloned().ok_or(CoreWalletError::NotSynced)
        })?;
        Ok(types::quote(&q))
    }

    /// Where a submitted transaction stands (none if this wallet did not submit it).
    pub fn tx_state(&self, tx: String) -> Result<Option<TxState>, WalletError> {
        let hash = parse_id("tx", &tx)?;
        let l = lock_local(&self.local)?;
        Ok(l.txs.get(&hash).map(types::tx_state))
    }

    /// Sets (or, with none, removes) the listener told about each refresh's events.
    pub fn set_listener(&self, listener: Option<Arc<dyn WalletListener>>) {
        match self.listener.lock() {
            Ok(mut l) => *l = listener,
            Err(p) => *p.into_inner() = listener,
        }
    }

    // ---- network-bound, async ---------------------------------------------------------

    /// Verifies the latest state (headers by the light client, lists by Merkle proofs) and
    /// returns what changed; the listener hears the same events. On any failure the last
    /// view stays.
    pub async fn refresh(&self) -> Result<Vec<WalletEvent>, WalletError> {
        let events = self
            .blocking(|w| Ok(w.refresh()?.iter().map(types::event).collect::<Vec<_>>()))
            .await?;
        self.notify(events.clone()).await;
        Ok(events)
    }

    /// A piece, proven (none if it does not exist).
    pub async fn piece(&self, id: String) -> Result<Option<PieceInfo>, WalletError> {
        let pid = parse_id("id", &id)?;
        self.blocking(move |w| {
            let Some(p) = w.piece(&pid)? else {
                return Ok(None);
            };
            let root = match w.known_root(&p.root) {
                Some(r) => r.clone(),
                None => w.root(&p.root)?.ok_or(WalletError::Verification {
                    reason: format!(
                        "piece {id} names certificate {} that does not exist",
                        p.root
                    ),
                })?,
            };
            Ok(Some(types::piece_info(&pid, &p, &root)))
        })
        .await
    }

    /// A certificate and every piece of it, proven complete.
    pub async fn lineage(&self, root: String) -> Result<Lineage, WalletError> {
        let id = parse_id("root", &root)?;
        self.blocking(move |w| {
            let (record, pieces) = w.lineage(&id)?;
            Ok(types::lineage(&id, &record, &pieces))
        })
        .await
    }

    /// An obligor's settlement record, proven against a verified header: certificates
    /// accepted, settled on time or late, overdue now. A financier prices a piece by its
    /// obligor's record, so a node cannot hide an overdue certificate or inflate the on-time
    /// count (a `Verification` error). All zeros for an obligor with no record.
    pub async fn obligor_record(&self, obligor: String) -> Result<ObligorRecord, WalletError> {
        let address = parse_address("obligor", &obligor)?;
        self.blocking(move |w| Ok(types::obligor_record(&w.obligor_record(&address)?)))
            .await
    }

    /// Broadcasts a tracked pending transaction again (the same bytes: idempotent).
    pub async fn resubmit(&self, tx: String) -> Result<String, WalletError> {
        let hash = parse_id("tx", &tx)?;
        self.blocking(move |w| match w.resubmit(&hash) {
            Ok(h) => Ok(h.to_hex()),
            Err(CoreWalletError::NotInWallet { .. }) => Err(WalletError::NotInWallet {
                id: tx,
                list: "transactions".into(),
            }),
            Err(e) => Err(e.into()),
        })
        .await
    }

    /// Operator: registers a participant.
    pub async fn register_participant(
        &self,
        public_key: String,
        roles: Vec<Role>,
        legal_id: String,
    ) -> Result<String, WalletError> {
        parse_text("legal_id", &legal_id, MAX_REFERENCE)?;
        self.submit(TxBody::RegisterParticipant {
            public_key: parse_public_key("public_key", &public_key)?,
            roles: parse_roles("roles", &roles)?,
            legal_id_hash: Hash32(sha256(legal_id.as_bytes())),
        })
        .await
    }

    /// Financier: sets the limit of the credit line it grants `obligor` in `currency`.
    pub async fn set_credit_line(
        &self,
        obligor: String,
        currency: String,
        limit: u64,
    ) -> Result<String, WalletError> {
        self.submit(TxBody::SetCreditLine {
            obligor: parse_address("obligor", &obligor)?,
            currency: parse_currency("currency", &currency)?,
            limit: Amount(limit),
        })
        .await
    }

    /// Obligor (buyer): anchors a trade document by its reference (hashed by the library,
    /// see `document_hash`).
    pub async fn anchor_document(
        &self,
        reference: String,
        amount: u64,
        currency: String,
        buyer: String,
        seller: String,
    ) -> Result<String, WalletError> {
        parse_text("reference", &reference, MAX_REFERENCE)?;
        self.submit(TxBody::AnchorDocument {
            hash: Hash32(sha256(reference.as_bytes())),
            amount: Money {
                amount: Amount(amount),
                currency: parse_currency("currency", &currency)?,
            },
            buyer: parse_address("buyer", &buyer)?,
            seller: parse_address("seller", &seller)?,
        })
        .await
    }

    /// Obligor: issues a certificate to the document's seller under a credit line.
    pub async fn issue(
        &self,
        to: String,
        amount: u64,
        currency: String,
        maturity: String,
        document_reference: String,
        credit_grantor: String,
    ) -> Result<String, WalletError> {
        parse_text("document_reference", &document_reference, MAX_REFERENCE)?;
        self.submit(TxBody::Issue {
            to: parse_address("to", &to)?,
            amount: Amount(amount),
            currency: parse_currency("currency", &currency)?,
            maturity: parse_day("maturity", &maturity)?,
            document: Hash32(sha256(document_reference.as_bytes())),
            credit_grantor: parse_address("credit_grantor", &credit_grantor)?,
        })
        .await
    }

    /// Recipient: accepts an offered piece.
    pub async fn accept(&self, piece: String) -> Result<String, WalletError> {
        let piece = parse_id("piece", &piece)?;
        self.submit(TxBody::Accept { piece }).await
    }

    /// Recipient: refuses an offer (a piece or a financing request).
    pub async fn reject(&self, piece: String) -> Result<String, WalletError> {
        let piece = parse_id("piece", &piece)?;
        self.submit(TxBody::Reject { piece }).await
    }

    /// Sender: withdraws an offer not yet answered.
    pub async fn cancel(&self, piece: String) -> Result<String, WalletError> {
        let piece = parse_id("piece", &piece)?;
        self.submit(TxBody::Cancel { piece }).await
    }

    /// Holder: splits a piece and offers the parts; the rest comes back as change.
    pub async fn transfer(
        &self,
        piece: String,
        outputs: Vec<TransferOutput>,
    ) -> Result<String, WalletError> {
        let piece = parse_id("piece", &piece)?;
        let outputs = outputs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                Ok(Output {
                    to: parse_address(&format!("outputs[{i}].to"), &o.to)?,
                    amount: Amount(o.amount),
                })
            })
            .collect::<Result<Vec<_>, WalletError>>()?;
        self.submit(TxBody::Transfer { piece, outputs }).await
    }

    /// Holder: combines pieces of one certificate.
    pub async fn merge(&self, pieces: Vec<String>) -> Result<String, WalletError> {
        let pieces = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| parse_id(&format!("pieces[{i}]"), p))
            .collect::<Result<Vec<_>, _>>()?;
        self.submit(TxBody::Merge { pieces }).await
    }

    /// Holder: asks `financier` to discount `amount` of a piece at `rate_bps`.
    pub async fn request_financing(
        &self,
        piece: String,
        financier: String,
        amount: u64,
        rate_bps: u32,
    ) -> Result<String, WalletError> {
        self.submit(TxBody::RequestFinancing {
            piece: parse_id("piece", &piece)?,
            financier: parse_address("financier", &financier)?,
            amount: Amount(amount),
            rate: parse_rate("rate_bps", rate_bps)?,
        })
        .await
    }

    /// Financier: accepts a financing request (the proceeds are paid off-ledger under
    /// `payment_reference`).
    pub async fn accept_financing(
        &self,
        piece: String,
        payment_reference: String,
    ) -> Result<String, WalletError> {
        let piece = parse_id("piece", &piece)?;
        // The ledger's own rule, checked here so the app hears which argument is wrong.
        let max = cascade_core::exec::MAX_PAYMENT_REFERENCE;
        if payment_reference.is_empty() || payment_reference.len() > max {
            return Err(invalid(
                "payment_reference",
                format!(
                    "1 to {max} bytes (the off-ledger payment's reference), got {}",
                    payment_reference.len()
                ),
            ));
        }
        self.submit(TxBody::AcceptFinancing {
            piece,
            payment_reference,
        })
        .await
    }

    /// Obligor: pays a certificate on or after maturity.
    pub async fn settle(&self, root: String) -> Result<String, WalletError> {
        let root = parse_id("root", &root)?;
        self.submit(TxBody::Settle { root }).await
    }

    /// Anyone registered: marks a certificate overdue after maturity plus grace.
    pub async fn mark_overdue(&self, root: String) -> Result<String, WalletError> {
        let root = parse_id("root", &root)?;
        self.submit(TxBody::MarkOverdue { root }).await
    }

    /// Operator or auditor: freezes a piece with a reason code.
    pub async fn freeze(&self, piece: String, reason: u16) -> Result<String, WalletError> {
        let piece = parse_id("piece", &piece)?;
        self.submit(TxBody::Freeze { piece, reason }).await
    }

    /// Operator or auditor: lifts a freeze.
    pub async fn unfreeze(&self, piece: String) -> Result<String, WalletError> {
        let piece = parse_id("piece", &piece)?;
        self.submit(TxBody::Unfreeze { piece }).await
    }
}
