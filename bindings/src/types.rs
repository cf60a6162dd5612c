//! Records and enums that cross the boundary, and the validated conversions between them and
//! the core types.
//!
//! Identifiers cross as hex strings, money as `u64` minor units with a currency code, days
//! as `YYYY-MM-DD`: what prints and compares the same in Kotlin, Swift and Python. Every
//! conversion *from* the foreign side is checked here and fails with
//! [`WalletError::InvalidInput`] naming the field, so nothing malformed reaches the core.

use crate::errors::WalletError;
use cascade_core::pricing::Quote;
use cascade_core::types::{
    Financing, ObligorRecord as CoreObligorRecord, OfferKind as CoreOfferKind, Piece, PieceStatus,
    RootRecord,
};
use cascade_core::wallet::client::{TxStatus, VerifiedView, WalletEvent as CoreEvent};
use cascade_core::{Address, AnnualRate, Currency, Day, Hash32, PublicKeyBytes, Roles, RootStatus};

// ---- parsing what the app passes in -------------------------------------------------------

fn invalid(field: &str, reason: impl Into<String>) -> WalletError {
    WalletError::InvalidInput {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// Strict hex (digits and a–f/A–F only, optional `0x`) of exactly `N` bytes.
pub(crate) fn parse_hex<const N: usize>(field: &str, text: &str) -> Result<[u8; N], WalletError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            field,
            format!("{text:?} is not hex (0-9, a-f) of {N} bytes"),
        ));
    }
    if digits.len() != N * 2 {
        return Err(invalid(
            field,
            format!(
                "expected {} hex digits ({N} bytes), got {}",
                N * 2,
                digits.len()
            ),
        ));
    }
    let mut out = [0u8; N];
    for (i, pair) in digits.as_bytes().chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0]) << 4) | nibble(pair[1]);
    }
    Ok(out)
}

/// The value of one hex digit (callers check `is_ascii_hexdigit` first).
fn nibble(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// A 32-byte id (piece, root, transaction).
pub(crate) fn parse_id(field: &str, text: &str) -> Result<Hash32, WalletError> {
    parse_hex::<32>(field, text).map(Hash32)
}

/// A 20-byte account address.
pub(crate) fn parse_address(field: &str, text: &str) -> Result<Address, WalletError> {
    parse_hex::<20>(field, text).map(Address)
}

/// A 33-byte compressed secp256k1 public key that is a point on the curve.
pub(crate) fn parse_public_key(field: &str, text: &str) -> Result<PublicKeyBytes, WalletError> {
    let key = PublicKeyBytes(parse_hex::<33>(field, text)?);
    key.verifying_key()
        .map_err(|_| invalid(field, "not a compressed secp256k1 public key"))?;
    Ok(key)
}

/// An ISO-4217 code such as `"CNY"`.
pub(crate) fn parse_currency(field: &str, text: &str) -> Result<Currency, WalletError> {
    Currency::new(text).map_err(|e| invalid(field, e.to_string()))
}

/// A `YYYY-MM-DD` day.
pub(crate) fn parse_day(field: &str, text: &str) -> Result<Day, WalletError> {
    Day::parse(text).map_err(|e| invalid(field, e.to_string()))
}

/// An annual rate in basis points.
pub(crate) fn parse_rate(field: &str, bps: u32) -> Result<AnnualRate, WalletError> {
    AnnualRate::from_bps(bps).ok_or_else(|| invalid(field, format!("{bps} bp is out of range")))
}

/// A non-empty text of at most `max` bytes.
pub(crate) fn parse_text(field: &str, text: &str, max: usize) -> Result<(), WalletError> {
    if text.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if text.len() > max {
        return Err(invalid(
            field,
            format!("at most {max} bytes, got {}", text.len()),
        ));
    }
    Ok(())
}

/// At least one role, each named once.
pub(crate) fn parse_roles(field: &str, roles: &[Role]) -> Result<Roles, WalletError> {
    if roles.is_empty() {
        return Err(invalid(field, "at least one role is needed"));
    }
    let mut set = Roles::default();
    for role in roles {
        let bit = role.bit();
        if set.contains(bit) {
            return Err(invalid(field, format!("{role:?} is listed twice")));
        }
        set = set.with(bit);
    }
    Ok(set)
}

// ---- records --------------------------------------------------------------------------

/// A participant's role on the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    /// Core enterprise: issues certificates and settles them.
    Obligor,
    /// Supplier: receives, splits and transfers pieces.
    Supplier,
    /// Bank or factor: grants credit lines and finances pieces.
    Financier,
    /// Consortium operator: administers participants and parameters, may freeze.
    Operator,
    /// Auditor or regulator: may freeze.
    Auditor,
}

impl Role {
    fn bit(self) -> Roles {
        match self {
            Role::Obligor => Roles::OBLIGOR,
            Role::Supplier => Roles::SUPPLIER,
            Role::Financier => Roles::FINANCIER,
            Role::Operator => Roles::OPERATOR,
            Role::Auditor => Roles::AUDITOR,
        }
    }
}

/// The root of trust a wallet starts from: the chain and the hash of the validator set that
/// signs its block 1 (ship it with the app).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TrustAnchor {
    /// Chain id.
    pub chain_id: String,
    /// SHA-256 validator-set hash (hex) of block 1.
    pub validators_hash: String,
}

/// How an offer came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum OfferKind {
    /// Issued by the obligor to its tier-1 supplier.
    Issue,
    /// Passed on by a holder to its supplier.
    Transfer,
}

/// Where a piece is in its life.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum PieceState {
    /// Offered to the holder by `sender`, waiting for acceptance until `expires`.
    Pending {
        /// Who made the offer (gets the value back if it fails).
        sender: String,
        /// Issue or transfer.
        kind: OfferKind,
        /// First day the offer is no longer valid.
        expires: String,
    },
    /// Held and free to move.
    Active,
    /// The holder asked `financier` to discount it.
    FinancingRequested {
        /// Financier asked.
        financier: String,
        /// Proposed annual rate, basis points (rounded down).
        rate_bps: u32,
        /// First day the request is no longer valid.
        expires: String,
    },
    /// Discounted: the financier holds it until settlement.
    Financed,
    /// Paid at maturity.
    Settled,
    /// Replaced by its children (split, merge or financing).
    Consumed,
    /// An offer its recipient refused.
    Rejected,
    /// An offer its sender withdrew.
    Cancelled,
    /// An offer nobody answered in time.
    Expired,
}

/// A completed financing.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FinancingInfo {
    /// Who sold the piece to the financier.
    pub seller: String,
    /// Day of financing.
    pub day: String,
    /// Annual rate, basis points (rounded down).
    pub rate_bps: u32,
    /// Days from financing (counted) to maturity (not counted).
    pub days: u32,
    /// Discount interest.
    pub interest: u64,
    /// Paid to the seller: face − interest.
    pub proceeds: u64,
    /// Reference of the off-ledger payment.
    pub payment_reference: String,
}

/// One piece of a certificate, with the certificate's terms it inherits.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PieceInfo {
    /// Piece id.
    pub id: String,
    /// Certificate (root) id.
    pub root: String,
    /// The piece it was split from (none for the issued piece).
    pub parent: Option<String>,
    /// Holder (for a pending piece: the recipient of the offer).
    pub holder: String,
    /// Face value, minor units.
    pub amount: u64,
    /// Currency code.
    pub currency: String,
    /// Supply-chain tier (1 = received from the obligor).
    pub tier: u16,
    /// Maturity day.
    pub maturity: String,
    /// Lifecycle state.
    pub state: PieceState,
    /// Whether an operator or auditor froze it.
    pub frozen: bool,
    /// The financing, once financed.
    pub financing: Option<FinancingInfo>,
}

/// What a wallet last verified, all at one state version.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct WalletView {
    /// State version (height) every value here is proven at.
    pub height: u64,
    /// App hash of that state (hex), from a verified header.
    pub app_hash: String,
    /// The ledger's "today" at that state.
    pub today: String,
    /// Next transaction nonce of this account.
    pub nonce: u64,
    /// Pieces held, complete.
    pub holdings: Vec<PieceInfo>,
    /// Offers addressed to this account, complete.
    pub offers_in: Vec<PieceInfo>,
    /// Offers this account made, complete.
    pub offers_out: Vec<PieceInfo>,
}

/// Where a whole certificate is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CertificateStatus {
    /// Issued, waiting for the tier-1 supplier.
    Offered,
    /// Accepted: pieces circulate.
    Live,
    /// The issue was rejected, cancelled or expired.
    Void,
    /// Paid at maturity.
    Settled,
}

/// A certificate and every piece ever split from it, proven complete.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Lineage {
    /// Certificate id.
    pub root: String,
    /// Who owes the money.
    pub obligor: String,
    /// Face value issued.
    pub face: u64,
    /// Currency code.
    pub currency: String,
    /// Maturity day.
    pub maturity: String,
    /// Trade document id (hex SHA-256).
    pub document: String,
    /// Certificate status.
    pub status: CertificateStatus,
    /// Marked overdue.
    pub overdue: bool,
    /// Every piece, in id order.
    pub pieces: Vec<PieceInfo>,
}

/// An obligor's settlement record, proven: what a financier prices a certificate by (it
/// carries the obligor's credit risk, not the seller's). All zeros for an obligor with no
/// certificate accepted yet.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ObligorRecord {
    /// Certificates it issued that their first holder accepted.
    pub certificates: u32,
    /// Settled by maturity plus the grace period.
    pub settled_on_time: u32,
    /// Settled after maturity plus grace (or after being marked overdue).
    pub settled_late: u32,
    /// Marked overdue and still unpaid.
    pub overdue_now: u32,
    /// Face value settled, one entry per currency the obligor has settled in, sorted by
    /// currency code; empty before the first settlement.
    pub faces: Vec<SettledFaces>,
}

/// Face value an obligor settled in one currency: totals in different currencies are kept
/// apart, since adding fen to cents means nothing.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SettledFaces {
    /// Currency code.
    pub currency: String,
    /// Settled by maturity plus grace, minor units of `currency`.
    pub on_time: u64,
    /// Settled after that, minor units of `currency`.
    pub late: u64,
}

/// What financing part of a piece would pay today.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FinancingQuote {
    /// Face value financed.
    pub face: u64,
    /// Annual rate, basis points.
    pub rate_bps: u32,
    /// Days from today (counted) to maturity (not counted).
    pub days: u32,
    /// Discount interest.
    pub interest: u64,
    /// Paid now: face − interest.
    pub proceeds: u64,
    /// Days in the year of the ledger's day count: 360 (ACT/360, the default) or 365
    /// (ACT/365); interest = face × rate × days / `day_basis`.
    pub day_basis: u32,
}

/// One recipient of a transfer.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TransferOutput {
    /// Recipient address.
    pub to: String,
    /// Amount, minor units.
    pub amount: u64,
}

/// Where a submitted transaction stands.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum TxState {
    /// Submitted, not yet seen committed.
    Pending,
    /// Committed at `height`.
    Committed {
        /// Block height.
        height: u64,
    },
    /// Refused, superseded by another transaction with its nonce, or expired. The code of a
    /// refusal (other than 0) is proven against the block's verified headers; refused bytes
    /// stay valid until their expiry height, so until the next transaction reuses the nonce
    /// a refresh still checks it and moves it to `Committed` if it commits after all.
    Failed {
        /// Ledger error code (0 when superseded or expired).
        code: u32,
        /// Why.
        reason: String,
    },
}

/// Something the user should know about, found by a `refresh`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum WalletEvent {
    /// Someone offered this account a piece, or asked it to finance one.
    OfferReceived {
        /// Piece id.
        piece: String,
        /// Face value.
        amount: u64,
    },
    /// An offer to or from this account was answered, withdrawn or expired.
    OfferClosed {
        /// Piece id.
        piece: String,
    },
    /// A piece arrived in the holdings.
    HoldingAdded {
        /// Piece id.
        piece: String,
        /// Face value.
        amount: u64,
    },
    /// A piece left the holdings.
    HoldingRemoved {
        /// Piece id.
        piece: String,
    },
    /// One of this wallet's transactions committed.
    Confirmed {
        /// Transaction hash.
        tx: String,
        /// Block height.
        height: u64,
    },
    /// One of this wallet's transactions was refused, superseded or expired (see
    /// `TxState::Failed`; a refusal may still be followed by `Confirmed`).
    Failed {
        /// Transaction hash.
        tx: String,
        /// Ledger error code.
        code: u32,
        /// Why.
        reason: String,
    },
    /// A held piece matures soon.
    MaturityApproaching {
        /// Piece id.
        piece: String,
        /// Maturity day.
        maturity: String,
        /// Days left.
        days_left: u32,
    },
}

// ---- core → foreign -------------------------------------------------------------------

/// Basis points of a rate in millionths, rounded down.
fn bps(rate: AnnualRate) -> u32 {
    rate.0 / 100
}

fn state(status: &PieceStatus) -> PieceState {
    match status {
        PieceStatus::Pending {
            from,
            kind,
            expires,
        } => PieceState::Pending {
            sender: from.to_hex(),
            kind: match kind {
                CoreOfferKind::Issue => OfferKind::Issue,
                CoreOfferKind::Transfer => OfferKind::Transfer,
            },
            expires: expires.to_string(),
        },
        PieceStatus::Active => PieceState::Active,
        PieceStatus::FinancingRequested {
            financier,
            rate,
            expires,
        } => PieceState::FinancingRequested {
            financier: financier.to_hex(),
            rate_bps: bps(*rate),
            expires: expires.to_string(),
        },
        PieceStatus::Financed => PieceState::Financed,
        PieceStatus::Settled => PieceState::Settled,
        PieceStatus::Consumed => PieceState::Consumed,
        PieceStatus::Rejected => PieceState::Rejected,
        PieceStatus::Cancelled => PieceState::Cancelled,
        PieceStatus::Expired => PieceState::Expired,
    }
}

fn financing(f: &Financing) -> FinancingInfo {
    FinancingInfo {
        seller: f.seller.to_hex(),
        day: f.day.to_string(),
        rate_bps: bps(f.quote.rate),
        days: f.quote.days,
        interest: f.quote.interest.0,
        proceeds: f.quote.proceeds.0,
        payment_reference: f.payment_reference.clone(),
    }
}

/// A piece with its certificate's terms.
pub(crate) fn piece_info(id: &Hash32, piece: &Piece, root: &RootRecord) -> PieceInfo {
    PieceInfo {
        id: id.to_hex(),
        root: piece.root.to_hex(),
        parent: piece.parent.map(|p| p.to_hex()),
        holder: piece.holder.to_hex(),
        amount: piece.amount.0,
        currency: root.terms.currency.to_string(),
        tier: piece.tier,
        maturity: root.terms.maturity.to_string(),
        state: state(&piece.status),
        frozen: piece.frozen.is_some(),
        financing: piece.financing.as_ref().map(financing),
    }
}

/// Pieces with terms looked up by `root_of`; a piece whose terms are unknown is an error.
pub(crate) fn piece_list<'a>(
    pieces: &[(Hash32, Piece)],
    root_of: impl Fn(&Hash32) -> Option<&'a RootRecord>,
) -> Result<Vec<PieceInfo>, WalletError> {
    pieces
        .iter()
        .map(|(id, p)| {
            root_of(&p.root)
                .map(|r| piece_info(id, p, r))
                .ok_or(WalletError::NotSynced)
        })
        .collect()
}

/// The verified view, with terms from `root_of`.
pub(crate) fn view<'a>(
    v: &VerifiedView,
    root_of: impl Fn(&Hash32) -> Option<&'a RootRecord> + Copy,
) -> Result<WalletView, WalletError> {
    Ok(WalletView {
        height: v.version,
        app_hash: v.app_hash.to_hex(),
        today: v.today.to_string(),
        nonce: v.account.nonce,
        holdings: piece_list(&v.holdings, root_of)?,
        offers_in: piece_list(&v.offers_in, root_of)?,
        offers_out: piece_list(&v.offers_out, root_of)?,
    })
}

/// A proven lineage.
pub(crate) fn lineage(id: &Hash32, root: &RootRecord, pieces: &[(Hash32, Piece)]) -> Lineage {
    Lineage {
        root: id.to_hex(),
        obligor: root.terms.obligor.to_hex(),
        face: root.face.0,
        currency: root.terms.currency.to_string(),
        maturity: root.terms.maturity.to_string(),
        document: root.terms.document.to_hex(),
        status: match root.status {
            RootStatus::Offered => CertificateStatus::Offered,
            RootStatus::Live => CertificateStatus::Live,
            RootStatus::Void => CertificateStatus::Void,
            RootStatus::Settled => CertificateStatus::Settled,
        },
        overdue: root.overdue,
        pieces: pieces
            .iter()
            .map(|(pid, p)| piece_info(pid, p, root))
            .collect(),
    }
}

/// An obligor's record for the app.
pub(crate) fn obligor_record(r: &CoreObligorRecord) -> ObligorRecord {
    ObligorRecord {
        certificates: r.certificates,
        settled_on_time: r.settled_on_time,
        settled_late: r.settled_late,
        overdue_now: r.overdue_now,
        faces: r
            .faces
            .iter()
            .map(|f| SettledFaces {
                currency: f.currency.to_string(),
                on_time: f.on_time.0,
                late: f.late.0,
            })
            .collect(),
    }
}

/// A quote for the app.
pub(crate) fn quote(q: &Quote) -> FinancingQuote {
    FinancingQuote {
        face: q.face.0,
        rate_bps: bps(q.rate),
        days: q.days,
        interest: q.interest.0,
        proceeds: q.proceeds.0,
        day_basis: q.day_count.basis(),
    }
}

/// A transaction's status.
pub(crate) fn tx_state(s: &TxStatus) -> TxState {
    match s {
        TxStatus::Pending => TxState::Pending,
        TxStatus::Committed { height } => TxState::Committed { height: *height },
        TxStatus::Failed { code, reason } => TxState::Failed {
            code: *code,
            reason: reason.clone(),
        },
    }
}

/// A wallet event.
pub(crate) fn event(e: &CoreEvent) -> WalletEvent {
    match e {
        CoreEvent::OfferReceived { piece, amount, .. } => WalletEvent::OfferReceived {
            piece: piece.to_hex(),
            amount: amount.0,
        },
        CoreEvent::OfferClosed { piece } => WalletEvent::OfferClosed {
            piece: piece.to_hex(),
        },
        CoreEvent::HoldingAdded { piece, amount, .. } => WalletEvent::HoldingAdded {
            piece: piece.to_hex(),
            amount: amount.0,
        },
        CoreEvent::HoldingRemoved { piece } => WalletEvent::HoldingRemoved {
            piece: piece.to_hex(),
        },
        CoreEvent::Confirmed { tx, height } => WalletEvent::Confirmed {
            tx: tx.to_hex(),
            height: *height,
        },
        CoreEvent::Failed { tx, code, reason } => WalletEvent::Failed {
            tx: tx.to_hex(),
            code: *code,
            reason: reason.clone(),
        },
        CoreEvent::MaturityApproaching {
            piece,
            maturity,
            days_left,
        } => WalletEvent::MaturityApproaching {
            piece: piece.to_hex(),
            maturity: maturity.to_string(),
            days_left: *days_left,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: WalletError) -> String {
        match e {
            WalletError::InvalidInput { field, .. } => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn hex_is_strict_and_round_trips() {
        let bytes = [0xab_u8; 20];
        assert_eq!(parse_hex::<20>("a", &hex(&bytes)).ok(), Some(bytes));
        assert_eq!(
            parse_hex::<20>("a", &format!("0x{}", hex(&bytes).to_uppercase())).ok(),
            Some(bytes)
        );
        for bad in ["", "zz", "+1", " ab", "é", &"a".repeat(39), &"a".repeat(41)] {
            assert_eq!(field_of(parse_hex::<20>("to", bad).unwrap_err()), "to");
        }
        // A multi-byte character where a digit pair would be never panics.
        assert!(parse_hex::<2>("x", "aé").is_err());
    }

    #[test]
    fn inputs_are_checked_with_the_field_named() {
        assert_eq!(
            field_of(parse_currency("currency", "cny").unwrap_err()),
            "currency"
        );
        assert!(parse_currency("currency", "CNY").is_ok());
        assert_eq!(
            field_of(parse_day("maturity", "2025-02-30").unwrap_err()),
            "maturity"
        );
        assert_eq!(
            parse_day("m", "2025-03-01")
                .map(|d| d.to_string())
                .ok()
                .as_deref(),
            Some("2025-03-01")
        );
        assert_eq!(
            field_of(parse_rate("rate_bps", u32::MAX).unwrap_err()),
            "rate_bps"
        );
        assert_eq!(field_of(parse_roles("roles", &[]).unwrap_err()), "roles");
        assert_eq!(
            field_of(parse_roles("roles", &[Role::Supplier, Role::Supplier]).unwrap_err()),
            "roles"
        );
        assert_eq!(
            parse_roles("roles", &[Role::Supplier, Role::Financier]).ok(),
            Some(Roles::SUPPLIER.with(Roles::FINANCIER))
        );
        // 33 bytes of hex, but not a point on the curve.
        let not_a_point = format!("02{}", "ff".repeat(32));
        assert_eq!(
            field_of(parse_public_key("public_key", &not_a_point).unwrap_err()),
            "public_key"
        );
        assert_eq!(
            field_of(parse_text("reference", " ", 10).unwrap_err()),
            "reference"
        );
        assert_eq!(
            field_of(parse_text("reference", "12345678901", 10).unwrap_err()),
            "reference"
        );
    }
}
