//! Ledger records: what the authenticated state holds.

use crate::crypto::{Address, Hash32, PublicKeyBytes, ValidatorKey};
use crate::date::Day;
use crate::money::{Amount, AmountOverflow, Currency, Money};
use crate::pricing::{AnnualRate, DayCount, Quote};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Identifier of a certificate piece: `SHA-256("cascade/piece" || tx hash || output index)`.
pub type PieceId = Hash32;
/// Identifier of a certificate (its first piece's id).
pub type RootId = Hash32;
/// SHA-256 of a trade document (invoice or contract).
pub type DocumentHash = Hash32;

/// Roles a participant can hold, as a bit set.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(transparent)]
pub struct Roles(pub u8);

impl Roles {
    /// Core enterprise: issues certificates and settles them.
    pub const OBLIGOR: Roles = Roles(1);
    /// Supplier: receives, splits and transfers pieces.
    pub const SUPPLIER: Roles = Roles(2);
    /// Bank or factor: grants credit lines and finances pieces.
    pub const FINANCIER: Roles = Roles(4);
    /// Consortium operator: administers participants and parameters, may freeze.
    pub const OPERATOR: Roles = Roles(8);
    /// Auditor or regulator: may freeze.
    pub const AUDITOR: Roles = Roles(16);
    /// Every defined role bit.
    pub const ALL: Roles = Roles(31);

    /// True if every role in `other` is held.
    pub fn contains(self, other: Roles) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// Union of two role sets.
    pub fn with(self, other: Roles) -> Roles {
        Roles(self.0 | other.0)
    }

    /// True if no undefined bits are set and at least one role is held.
    pub fn is_valid(self) -> bool {
        self.0 != 0 && self.0 & !Roles::ALL.0 == 0
    }

    /// Role names, for display.
    pub fn names(self) -> Vec<&'static str> {
        [
            (Roles::OBLIGOR, "obligor"),
            (Roles::SUPPLIER, "supplier"),
            (Roles::FINANCIER, "financier"),
            (Roles::OPERATOR, "operator"),
            (Roles::AUDITOR, "auditor"),
        ]
        .into_iter()
        .filter(|(r, _)| self.contains(*r))
        .map(|(_, n)| n)
        .collect()
    }
}

/// A registered participant. Only a hash of the legal identity goes on the ledger.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Participant {
    /// Signing key; the address is derived from it.
    pub public_key: PublicKeyBytes,
    /// Roles held.
    pub roles: Roles,
    /// SHA-256 of the legal identity (e.g. the unified social credit code).
    pub legal_id_hash: Hash32,
    /// Deactivated participants can neither sign nor receive.
    pub active: bool,
}

/// Per-account counters. The holding and offer counts are what let a light client check
/// that a list of pieces it was given is complete (see `proof.rs`).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Account {
    /// Next expected transaction nonce.
    pub nonce: u64,
    /// Pieces held (active, financing requested or financed).
    pub holdings: u32,
    /// Offers addressed to this account (pending pieces and financing requests).
    pub offers_in: u32,
    /// Offers made by this account.
    pub offers_out: u32,
}

/// Ledger parameters, set at genesis and changeable by the operator.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Params {
    /// Smallest allowed piece, in minor units.
    pub min_unit: Amount,
    /// Most recipients one transfer may name (its change piece, if any, is not counted).
    pub max_outputs: u16,
    /// Most pieces one merge may combine.
    pub max_merge_inputs: u16,
    /// Deepest tier a piece may reach (tier 1 = received from the obligor).
    pub max_tier: u16,
    /// Longest tenor from issue to maturity, in days.
    pub max_tenor_days: u32,
    /// Days after which an unanswered offer expires.
    pub offer_expiry_days: u32,
    /// Days after maturity before an unsettled certificate may be marked overdue.
    pub overdue_grace_days: u32,
    /// Day-count convention for discounting.
    pub day_count: DayCount,
    /// Highest annual rate a financing request may name.
    pub max_annual_rate: AnnualRate,
    /// Largest accepted transaction, in bytes.
    pub max_tx_bytes: u32,
    /// Most offers an account may have pending as their sender (its `offers_out`: transfer
    /// parts and financing requests not yet answered, and issues) for a transfer or a
    /// financing request to be accepted. Issuing itself is not limited by it: credit lines
    /// and documents bound issues. Without it, anyone holding value could send one account
    /// thousands of one-unit offers, and every piece of that account's offers-in list
    /// travels with its proof on each refresh (`docs/adr/0003-completeness-by-proven-counts.md`).
    #[serde(default = "default_max_offers_out")]
    pub max_offers_out: u32,
}

fn default_max_offers_out() -> u32 {
    Params::default().max_offers_out
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_unit: Amount(100),
            max_outputs: 16,
            max_merge_inputs: 16,
            max_tier: 12,
            max_tenor_days: 365,
            offer_expiry_days: 7,
            overdue_grace_days: 3,
            day_count: DayCount::Act360,
            max_annual_rate: AnnualRate(500_000),
            max_tx_bytes: 16 * 1024,
            max_offers_out: 1_000,
        }
    }
}

/// Longest period, in days, a day-count parameter may name (100 years). Dates are added to
/// these periods in every offer, issue and settlement; a bound keeps every such date far
/// inside the calendar, so an operator's typo cannot make the ledger refuse every offer or
/// a settlement for arithmetic overflow.
pub const MAX_PARAM_DAYS: u32 = 36_525;

impl Params {
    /// Checks that the parameters make sense together; returns what is wrong.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.min_unit.is_zero() {
            return Err("min_unit must be at least one minor unit");
        }
        if self.max_outputs == 0 || self.max_merge_inputs < 2 || self.max_tier == 0 {
            return Err("max_outputs must be ≥ 1, max_merge_inputs ≥ 2 and max_tier ≥ 1");
        }
        if self.max_tenor_days == 0 || self.offer_expiry_days == 0 {
            return Err("max_tenor_days and offer_expiry_days must be ≥ 1");
        }
        if self.max_tenor_days > MAX_PARAM_DAYS
            || self.offer_expiry_days > MAX_PARAM_DAYS
            || self.overdue_grace_days > MAX_PARAM_DAYS
        {
            return Err(
                "max_tenor_days, offer_expiry_days and overdue_grace_days must be at most 36,525 (100 years)",
            );
        }
        if self.max_annual_rate.0 == 0 || self.max_tx_bytes < 256 {
            return Err("max_annual_rate must be positive and max_tx_bytes ≥ 256");
        }
        if self.max_offers_out == 0 {
            return Err("max_offers_out must be ≥ 1");
        }
        Ok(())
    }
}

/// A credit line granted to an obligor in one currency by one grantor.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CreditLine {
    /// Limit.
    pub limit: Amount,
    /// Face value of live certificates (issued, pending or accepted, not settled).
    pub used: Amount,
}

/// A trade document anchored by hash.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Document {
    /// Invoice or contract amount.
    pub amount: Money,
    /// The buyer, who owes the money: the obligor.
    pub buyer: Address,
    /// The seller: the tier-1 supplier.
    pub seller: Address,
    /// Face value of the certificates issued against it that took effect or may still do
    /// (offered, live or settled). Released only when an issue fails (rejected, cancelled or
    /// expired); settlement keeps it, so a paid invoice never backs a second certificate.
    pub issued: Amount,
}

/// Terms of a certificate: fixed at issue, inherited by every piece, never changed.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Terms {
    /// Who owes the money.
    pub obligor: Address,
    /// Currency of every piece.
    pub currency: Currency,
    /// Day of payment.
    pub maturity: Day,
    /// The trade document behind the certificate.
    pub document: DocumentHash,
    /// Grantor of the credit line the certificate consumes.
    pub credit_grantor: Address,
    /// Day of issue.
    pub issue_day: Day,
}

/// State of a whole certificate.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub enum RootStatus {
    /// Issued, waiting for the tier-1 supplier.
    Offered,
    /// Accepted: pieces circulate.
    Live,
    /// The issue was rejected, cancelled or expired; credit and document released.
    Void,
    /// Paid at maturity.
    Settled,
}

/// A certificate: its terms and lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RootRecord {
    /// Fixed terms.
    pub terms: Terms,
    /// Face value issued.
    pub face: Amount,
    /// Lifecycle.
    pub status: RootStatus,
    /// Set once marked overdue (past maturity plus grace, unpaid).
    pub overdue: bool,
    /// Number of pieces ever created under this root: lets a client check a lineage is complete.
    pub piece_count: u32,
    /// Day of settlement, once settled.
    pub settled_day: Option<Day>,
}

/// What kind of offer a pending piece is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub enum OfferKind {
    /// Issued by the obligor to a tier-1 supplier.
    Issue,
    /// Transferred by a holder to its supplier.
    Transfer,
}

/// Status of a piece.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub enum PieceStatus {
    /// Offered to `holder` by `from`, waiting for acceptance until `expires`.
    Pending {
        /// Who made the offer (and gets the value back if it fails).
        from: Address,
        /// Issue or transfer.
        kind: OfferKind,
        /// First day on which the offer is no longer valid.
        expires: Day,
    },
    /// Held and free to move.
    Active,
    /// The holder asked `financier` to discount it; locked until answered.
    FinancingRequested {
        /// The financier asked.
        financier: Address,
        /// Annual rate proposed.
        rate: AnnualRate,
        /// First day on which the request is no longer valid.
        expires: Day,
    },
    /// Discounted: held by the financier until settlement. Cannot move again.
    Financed,
    /// Paid at maturity.
    Settled,
    /// Replaced by its children (transfer, merge or financing).
    Consumed,
    /// An offer the recipient refused.
    Rejected,
    /// An offer its sender withdrew.
    Cancelled,
    /// An offer nobody answered in time.
    Expired,
}

impl PieceStatus {
    /// Short name for display and event attributes.
    pub fn name(&self) -> &'static str {
        match self {
            PieceStatus::Pending { .. } => "pending",
            PieceStatus::Active => "active",
            PieceStatus::FinancingRequested { .. } => "financing-requested",
            PieceStatus::Financed => "financed",
            PieceStatus::Settled => "settled",
            PieceStatus::Consumed => "consumed",
            PieceStatus::Rejected => "rejected",
            PieceStatus::Cancelled => "cancelled",
            PieceStatus::Expired => "expired",
        }
    }

    /// True while the piece carries value that will be paid at settlement.
    pub fn is_outstanding(&self) -> bool {
        matches!(
            self,
            PieceStatus::Pending { .. }
                | PieceStatus::Active
                | PieceStatus::FinancingRequested { .. }
                | PieceStatus::Financed
        )
    }

    /// True if the piece counts in its holder's holdings.
    pub fn is_held(&self) -> bool {
        matches!(
            self,
            PieceStatus::Active | PieceStatus::FinancingRequested { .. } | PieceStatus::Financed
        )
    }
}

/// Why and by whom a piece is frozen.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Freeze {
    /// Operator or auditor who froze it.
    pub by: Address,
    /// Reason code (court order, dispute, investigation… as the consortium defines).
    pub reason: u16,
}

/// The record of a completed financing.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Financing {
    /// Who sold the piece to the financier.
    pub seller: Address,
    /// Day of financing.
    pub day: Day,
    /// Figures.
    pub quote: Quote,
    /// Reference of the off-ledger payment of the proceeds.
    pub payment_reference: String,
}

/// One piece of a certificate.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Piece {
    /// The certificate it belongs to.
    pub root: RootId,
    /// The piece it was split from (`None` for the issued piece).
    pub parent: Option<PieceId>,
    /// For a merged piece, every piece combined into it (the first is also `parent`).
    pub merged_from: Vec<PieceId>,
    /// Current holder (for a pending piece: the recipient of the offer).
    pub holder: Address,
    /// Face value.
    pub amount: Amount,
    /// Supply-chain tier: 1 = received from the obligor.
    pub tier: u16,
    /// Lifecycle.
    pub status: PieceStatus,
    /// Set while frozen; freezing keeps the status so unfreezing restores it.
    pub frozen: Option<Freeze>,
    /// Height at which it was created.
    pub created_height: u64,
    /// Height of its last change (creation, acceptance, split, financing, freeze…): where
    /// its audit history ends ([`crate::exec::HistoryRecord`]).
    pub updated_height: u64,
    /// Set once financed.
    pub financing: Option<Financing>,
}

/// One line of a clearing list: who gets paid what at settlement.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ClearingEntry {
    /// The piece paid.
    pub piece: PieceId,
    /// Who is paid.
    pub payee: Address,
    /// Face value paid.
    pub amount: Amount,
    /// True if the piece was frozen: the payment is withheld in escrow pending release.
    pub withheld: bool,
}

/// The result of settling a certificate.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ClearingList {
    /// Certificate settled.
    pub root: RootId,
    /// Day of settlement.
    pub day: Day,
    /// Currency of every entry.
    pub currency: Currency,
    /// Payments, in piece-id order.
    pub entries: Vec<ClearingEntry>,
    /// Sum of the entries (equals the face value).
    pub total: Amount,
    /// Whether payment came after maturity plus grace.
    pub late: bool,
}

/// Face value an obligor has settled in one currency, on time and late.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SettledFaces {
    /// Currency of both totals.
    pub currency: Currency,
    /// Face settled by maturity plus grace, minor units of `currency`.
    pub on_time: Amount,
    /// Face settled after that, minor units of `currency`.
    pub late: Amount,
}

/// An obligor's payment record, which financiers use for pricing.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct ObligorRecord {
    /// Certificates issued and accepted.
    pub certificates: u32,
    /// Settled by maturity plus grace.
    pub settled_on_time: u32,
    /// Settled after being overdue.
    pub settled_late: u32,
    /// Currently overdue and unpaid.
    pub overdue_now: u32,
    /// Face settled, per currency: amounts in different currencies are never added together.
    ///
    /// Invariant: sorted by currency, at most one entry per currency, so the record (and
    /// the state hash over it) is the same whatever order settlements came in. Kept by
    /// [`ObligorRecord::add_settled_face`], the only writer.
    pub faces: Vec<SettledFaces>,
}

impl ObligorRecord {
    /// Adds `face`, settled in `currency` on time or `late`, to that currency's entry,
    /// creating the entry in its sorted place if it is the first settlement in `currency`.
    /// Checked like all money arithmetic: on overflow the record is left unchanged.
    pub fn add_settled_face(
        &mut self,
        currency: Currency,
        face: Amount,
        late: bool,
    ) -> Result<(), AmountOverflow> {
        match self.faces.binary_search_by(|f| f.currency.cmp(&currency)) {
            Ok(i) => {
                let entry = &mut self.faces[i];
                let total = if late {
                    &mut entry.late
                } else {
                    &mut entry.on_time
                };
                *total = total.checked_add(face)?;
            }
            Err(i) => {
                let (on_time, late) = if late {
                    (Amount::ZERO, face)
                } else {
                    (face, Amount::ZERO)
                };
                let entry = SettledFaces {
                    currency,
                    on_time,
                    late,
                };
                self.faces.insert(i, entry);
            }
        }
        Ok(())
    }
}

/// Initial participant in a genesis file.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GenesisParticipant {
    /// Signing key.
    pub public_key: PublicKeyBytes,
    /// Roles (the genesis must name at least one operator).
    pub roles: Roles,
    /// Hash of legal identity.
    pub legal_id_hash: Hash32,
}

/// Genesis: chain id, time, parameters and initial participants.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Genesis {
    /// Chain id that every transaction must carry.
    pub chain_id: String,
    /// Genesis time (Unix seconds).
    pub genesis_time: i64,
    /// Ledger parameters.
    pub params: Params,
    /// Initial participants.
    pub participants: Vec<GenesisParticipant>,
    /// Initial consensus validators. Under CometBFT the application takes them from
    /// `InitChain` when this list is empty.
    #[serde(default)]
    pub validators: Vec<ValidatorRecord>,
}

/// Largest voting power one validator may have. Keeps the total far below CometBFT's
/// limit (`i64::MAX / 8`) however many validators are added.
pub const MAX_VALIDATOR_POWER: u64 = 1_000_000;

/// Most validators the consortium may have at once.
pub const MAX_VALIDATORS: u32 = 100;

/// A consensus validator and its voting power.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct ValidatorRecord {
    /// Ed25519 consensus key.
    pub pub_key: ValidatorKey,
    /// Voting power (0 in a change removes the validator).
    pub power: u64,
}

/// A validator-set change waiting for a quorum of operators.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct ValidatorProposal {
    /// Operators that approved it, sorted.
    pub approvals: Vec<Address>,
}

/// Consortium counters kept in the authenticated state.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Consortium {
    /// Active participants holding the operator role (the governance electorate).
    pub active_operators: u32,
    /// Current consensus validators.
    pub validators: u32,
}

impl Consortium {
    /// Approvals a validator change needs: a strict majority of active operators.
    pub fn quorum(&self) -> u32 {
        self.active_operators / 2 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faces(currency: &str, on_time: u64, late: u64) -> SettledFaces {
        SettledFaces {
            currency: Currency::new(currency).unwrap(),
            on_time: Amount(on_time),
            late: Amount(late),
        }
    }

    /// Whatever order settlements arrive in, each currency has one entry, in code order,
    /// and its totals never mix with another currency's.
    #[test]
    fn settled_faces_stay_sorted_and_per_currency() {
        let settlements = [("USD", 7, true), ("CNY", 100, false), ("EUR", 3, false)];
        let more = [("CNY", 20, true), ("USD", 5, false), ("CNY", 1, false)];
        let expected = vec![
            faces("CNY", 101, 20),
            faces("EUR", 3, 0),
            faces("USD", 5, 7),
        ];
        let mut orders = vec![settlements.iter().chain(&more).collect::<Vec<_>>()];
        orders.push(orders[0].iter().rev().copied().collect());
        for order in orders {
            let mut rec = ObligorRecord::default();
            for (code, face, late) in order {
                let currency = Currency::new(code).unwrap();
                rec.add_settled_face(currency, Amount(*face), *late)
                    .unwrap();
            }
            assert_eq!(rec.faces, expected);
        }
    }

    #[test]
    fn an_overflowing_settled_face_leaves_the_record_unchanged() {
        let mut rec = ObligorRecord::default();
        let cny = Currency::new("CNY").unwrap();
        rec.add_settled_face(cny, Amount(u64::MAX), true).unwrap();
        rec.add_settled_face(cny, Amount(5), false).unwrap();
        let before = rec.clone();
        assert_eq!(
            rec.add_settled_face(cny, Amount(1), true),
            Err(AmountOverflow)
        );
        assert_eq!(rec, before);
        // The same amount in another currency is its own total, so it fits.
        let usd = Currency::new("USD").unwrap();
        rec.add_settled_face(usd, Amount(1), true).unwrap();
        assert_eq!(
            rec.faces,
            vec![faces("CNY", 5, u64::MAX), faces("USD", 0, 1)]
        );
    }
}
