//! Typed errors. A rejected transaction leaves the state exactly as it was.

use crate::crypto::{Address, CryptoError};
use crate::date::Day;
use crate::money::{Amount, Currency};
use crate::pricing::{AnnualRate, PricingError};
use crate::store::StoreError;
use crate::tx::TxDecodeError;
use crate::types::{PieceId, RootId};

/// Why a transaction was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    // ---- envelope -------------------------------------------------------------------
    /// The bytes are not a well-formed, canonical transaction.
    #[error("cannot decode transaction: {0}")]
    Decode(#[from] TxDecodeError),
    /// Bad key or signature.
    #[error("signature check failed: {0}")]
    Signature(#[from] CryptoError),
    /// Signed for another chain.
    #[error("transaction is for chain {got:?}, this chain is {expected:?}")]
    WrongChain {
        /// This chain.
        expected: String,
        /// The transaction's chain id.
        got: String,
    },
    /// Too late: the block height is past the transaction's expiry height.
    #[error("transaction expired at height {expiry_height}; current height is {height}")]
    Expired {
        /// The transaction's last valid height.
        expiry_height: u64,
        /// Current block height.
        height: u64,
    },
    /// Nonce already used (a replay) or from the future (out of order).
    #[error("nonce {got} is not the expected {expected}")]
    BadNonce {
        /// Account's next nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The signer is not a registered participant.
    #[error("signer {signer} is not a registered participant")]
    UnknownSigner {
        /// Signer address.
        signer: Address,
    },
    /// The signer's participant record is deactivated.
    #[error("participant {address} is deactivated")]
    Inactive {
        /// Address.
        address: Address,
    },
    /// The signer lacks the role this transaction needs.
    #[error("{signer} lacks the {role} role required to {action}")]
    MissingRole {
        /// Signer.
        signer: Address,
        /// Role needed.
        role: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// The signer is not the party allowed to do this.
    #[error("{signer} is not allowed to {action}: {reason}")]
    Unauthorized {
        /// Signer.
        signer: Address,
        /// What was attempted.
        action: &'static str,
        /// Who is allowed.
        reason: &'static str,
    },
    // ---- participants & admin -------------------------------------------------------
    /// Already registered.
    #[error("participant {address} is already registered")]
    AlreadyRegistered {
        /// Address.
        address: Address,
    },
    /// Address not registered.
    #[error("participant {address} is not registered")]
    UnknownParticipant {
        /// Address.
        address: Address,
    },
    /// Role bits undefined or empty.
    #[error("invalid role set {roles:#04x}")]
    InvalidRoles {
        /// The bits given.
        roles: u8,
    },
    /// A participant needs a role for the part it plays.
    #[error("participant {address} must have the {role} role to {what}")]
    CounterpartyRole {
        /// Participant.
        address: Address,
        /// Role needed.
        role: &'static str,
        /// What it was named for.
        what: &'static str,
    },
    /// An operator may not remove its own operator role or deactivate itself.
    #[error("an operator cannot remove its own operator role or deactivate itself")]
    SelfLockout,
    /// Invalid parameters.
    #[error("invalid parameters: {reason}")]
    InvalidParams {
        /// What is wrong.
        reason: &'static str,
    },
    /// Invalid currency code in a transaction.
    #[error("invalid currency code")]
    InvalidCurrency,
    // ---- credit & documents ---------------------------------------------------------
    /// A credit line cannot be set below what is in use.
    #[error("credit limit of {limit} minor units is below the {used} already in use")]
    LimitBelowUsed {
        /// Requested limit.
        limit: Amount,
        /// In use.
        used: Amount,
    },
    /// No credit line from that grantor in that currency.
    #[error("no {currency} credit line from {grantor} for obligor {obligor}")]
    NoCreditLine {
        /// Obligor.
        obligor: Address,
        /// Grantor.
        grantor: Address,
        /// Currency.
        currency: Currency,
    },
    /// Issuing would exceed the credit line.
    #[error("credit line exceeded: {requested} minor units requested, {available} available")]
    CreditExceeded {
        /// Amount requested.
        requested: Amount,
        /// Limit minus used.
        available: Amount,
    },
    /// Document already anchored.
    #[error("document {hash} is already anchored")]
    DocumentExists {
        /// Document hash.
        hash: crate::crypto::Hash32,
    },
    /// Document not anchored.
    #[error("document {hash} is not anchored")]
    UnknownDocument {
        /// Document hash.
        hash: crate::crypto::Hash32,
    },
    /// The issue does not match the document's parties or currency.
    #[error("issue does not match document: {reason}")]
    DocumentMismatch {
        /// What differs.
        reason: &'static str,
    },
    /// Issuing would exceed the document's amount (the same invoice used twice).
    #[error(
        "document limit exceeded: {requested} minor units requested, {remaining} remaining of the invoice"
    )]
    DocumentExceeded {
        /// Amount requested.
        requested: Amount,
        /// Invoice amount not yet issued against.
        remaining: Amount,
    },
    // ---- amounts, dates ------------------------------------------------------------
    /// A zero amount.
    #[error("amount must be positive")]
    ZeroAmount,
    /// An amount below the configured minimum unit.
    #[error("amount of {amount} minor units is below the minimum unit of {min_unit}")]
    BelowMinimum {
        /// Amount given.
        amount: Amount,
        /// Minimum.
        min_unit: Amount,
    },
    /// Arithmetic would overflow.
    #[error("amount overflow")]
    Overflow,
    /// Outputs exceed the piece.
    #[error("outputs total {outputs} minor units but the piece holds {available}")]
    SplitExceedsPiece {
        /// Sum of outputs.
        outputs: Amount,
        /// Piece amount.
        available: Amount,
    },
    /// Maturity must be after today.
    #[error("maturity {maturity} is not after today ({today})")]
    MaturityNotInFuture {
        /// Maturity.
        maturity: Day,
        /// Today.
        today: Day,
    },
    /// Maturity too far away.
    #[error(
        "maturity {maturity} is beyond the maximum tenor of {max_days} days (latest {latest})"
    )]
    TenorTooLong {
        /// Maturity.
        maturity: Day,
        /// Max tenor.
        max_days: u32,
        /// Latest allowed maturity.
        latest: Day,
    },
    /// Rate outside (0, max].
    #[error("annual rate {rate} must be positive and at most {max}")]
    RateOutOfRange {
        /// Rate given.
        rate: AnnualRate,
        /// Configured maximum.
        max: AnnualRate,
    },
    /// Pricing failed.
    #[error("cannot price financing: {0}")]
    Pricing(#[from] PricingError),
    /// Payment reference empty or too long.
    #[error("payment reference must be 1 to {max} bytes")]
    BadPaymentReference {
        /// Maximum length.
        max: usize,
    },
    // ---- pieces ---------------------------------------------------------------------
    /// No such piece.
    #[error("piece {piece} does not exist")]
    UnknownPiece {
        /// Piece.
        piece: PieceId,
    },
    /// No such certificate.
    #[error("certificate {root} does not exist")]
    UnknownRoot {
        /// Root.
        root: RootId,
    },
    /// Only the holder may do this.
    #[error("{signer} does not hold piece {piece}")]
    NotHolder {
        /// Piece.
        piece: PieceId,
        /// Signer.
        signer: Address,
    },
    /// The piece is not in a state that allows this.
    #[error("piece {piece} is {status}; cannot {action}")]
    WrongStatus {
        /// Piece.
        piece: PieceId,
        /// Its status.
        status: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// The piece is frozen.
    #[error("piece {piece} is frozen (reason {reason})")]
    Frozen {
        /// Piece.
        piece: PieceId,
        /// Reason code.
        reason: u16,
    },
    // ---- governance -------------------------------------------------------------------
    /// Not a valid Ed25519 public key.
    #[error("validator key {pub_key} is not a valid Ed25519 public key")]
    InvalidValidatorKey {
        /// Key given.
        pub_key: crate::crypto::ValidatorKey,
    },
    /// Voting power above the cap.
    #[error("validator power {power} is above the maximum {max}")]
    ValidatorPowerTooHigh {
        /// Power given.
        power: u64,
        /// Cap.
        max: u64,
    },
    /// Removing a key that is not a validator, or setting a validator's current power.
    #[error("validator change for {pub_key} changes nothing (current power {current})")]
    NoValidatorChange {
        /// Key given.
        pub_key: crate::crypto::ValidatorKey,
        /// Its current power (0: not a validator).
        current: u64,
    },
    /// The change would leave no validator, or more than the cap.
    #[error("the validator set must keep between 1 and {max} validators")]
    ValidatorSetSize {
        /// Cap.
        max: u32,
    },
    /// This operator already approved this change.
    #[error("operator {operator} already approved this validator change")]
    AlreadyApproved {
        /// Operator.
        operator: Address,
    },
    /// The piece is not frozen.
    #[error("piece {piece} is not frozen")]
    NotFrozen {
        /// Piece.
        piece: PieceId,
    },
    /// The certificate has matured: pieces no longer move.
    #[error("certificate matured on {maturity}; pieces can no longer move (today {today})")]
    Matured {
        /// Maturity.
        maturity: Day,
        /// Today.
        today: Day,
    },
    /// Too many outputs.
    #[error("{count} outputs; at most {max} allowed")]
    TooManyOutputs {
        /// Given.
        count: usize,
        /// Max.
        max: u16,
    },
    /// No outputs.
    #[error("a transfer needs at least one output")]
    NoOutputs,
    /// Same recipient twice.
    #[error("recipient {to} appears twice")]
    DuplicateRecipient {
        /// Recipient.
        to: Address,
    },
    /// Sending to oneself.
    #[error("cannot transfer to yourself")]
    SelfTransfer,
    /// The signer would have more pending offers out (transfer parts and financing
    /// requests not yet answered) than the ledger allows one account.
    #[error(
        "{pending} offers of yours are still unanswered and this adds {adding}: at most {max} \
         may be pending at once (wait for answers or expiry, or cancel some)"
    )]
    TooManyOffers {
        /// Offers out now pending.
        pending: u32,
        /// Offers this transaction would add.
        adding: u32,
        /// `Params::max_offers_out`.
        max: u32,
    },
    /// Tier cap.
    #[error("tier {tier} would exceed the maximum tier {max}")]
    TierTooDeep {
        /// Tier that would be created.
        tier: u16,
        /// Max.
        max: u16,
    },
    /// Merge input count.
    #[error("merge needs 2 to {max} distinct pieces, got {count}")]
    BadMergeCount {
        /// Given.
        count: usize,
        /// Max.
        max: u16,
    },
    /// Same piece twice in a merge.
    #[error("piece {piece} appears twice")]
    DuplicatePiece {
        /// Piece.
        piece: PieceId,
    },
    /// Merge across certificates.
    #[error("pieces belong to different certificates")]
    DifferentRoots,
    /// A piece may be financed once.
    #[error("piece {piece} has already been financed")]
    AlreadyFinanced {
        /// Piece.
        piece: PieceId,
    },
    // ---- certificates ---------------------------------------------------------------
    /// The certificate is not in a state that allows this.
    #[error("certificate {root} is {status}; cannot {action}")]
    WrongRootStatus {
        /// Root.
        root: RootId,
        /// Its status.
        status: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// Settlement before maturity.
    #[error("certificate matures on {maturity}; cannot settle on {today}")]
    NotMatured {
        /// Maturity.
        maturity: Day,
        /// Today.
        today: Day,
    },
    /// Overdue marking before maturity plus grace.
    #[error("certificate can be marked overdue from {from} (today {today})")]
    NotYetOverdue {
        /// First day allowed.
        from: Day,
        /// Today.
        today: Day,
    },
    // ---- storage --------------------------------------------------------------------
    /// The store failed; the transaction was not applied.
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
}

impl From<crate::money::AmountOverflow> for TxError {
    fn from(_: crate::money::AmountOverflow) -> Self {
        TxError::Overflow
    }
}

impl TxError {
    /// A stable numeric code per variant (non-zero), for ABCI result codes and bindings.
    pub fn code(&self) -> u32 {
        use TxError::*;
        match self {
            Decode(_) => 1,
            Signature(_) => 2,
            WrongChain { .. } => 3,
            Expired { .. } => 4,
            BadNonce { .. } => 5,
            UnknownSigner { .. } => 6,
            Inactive { .. } => 7,
            MissingRole { .. } => 8,
            Unauthorized { .. } => 9,
            AlreadyRegistered { .. } => 10,
            UnknownParticipant { .. } => 11,
            InvalidRoles { .. } => 12,
            CounterpartyRole { .. } => 13,
            SelfLockout => 14,
            InvalidParams { .. } => 15,
            InvalidCurrency => 16,
            LimitBelowUsed { .. } => 20,
            NoCreditLine { .. } => 21,
            CreditExceeded { .. } => 22,
            DocumentExists { .. } => 23,
            UnknownDocument { .. } => 24,
            DocumentMismatch { .. } => 25,
            DocumentExceeded { .. } => 26,
            ZeroAmount => 30,
            BelowMinimum { .. } => 31,
            Overflow => 32,
            SplitExceedsPiece { .. } => 33,
            MaturityNotInFuture { .. } => 34,
            TenorTooLong { .. } => 35,
            RateOutOfRange { .. } => 36,
            Pricing(_) => 37,
            BadPaymentReference { .. } => 38,
            UnknownPiece { .. } => 40,
            UnknownRoot { .. } => 41,
            NotHolder { .. } => 42,
            WrongStatus { .. } => 43,
            Frozen { .. } => 44,
            NotFrozen { .. } => 45,
            Matured { .. } => 46,
            TooManyOutputs { .. } => 47,
            NoOutputs => 48,
            DuplicateRecipient { .. } => 49,
            SelfTransfer => 50,
            TierTooDeep { .. } => 51,
            BadMergeCount { .. } => 52,
            DuplicatePiece { .. } => 53,
            DifferentRoots => 54,
            AlreadyFinanced { .. } => 55,
            TooManyOffers { .. } => 56,
            WrongRootStatus { .. } => 60,
            NotMatured { .. } => 61,
            NotYetOverdue { .. } => 62,
            InvalidValidatorKey { .. } => 70,
            ValidatorPowerTooHigh { .. } => 71,
            NoValidatorChange { .. } => 72,
            ValidatorSetSize { .. } => 73,
            AlreadyApproved { .. } => 74,
            Store(_) => 100,
        }
    }
}

/// Errors of block processing (not of one transaction).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Storage failed.
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
    /// `init_chain` on a store that already has a chain.
    #[error("the store already holds chain {chain_id:?}")]
    AlreadyInitialized {
        /// Existing chain id.
        chain_id: String,
    },
    /// An operation that needs a chain on an empty store.
    #[error("the store holds no chain yet: run init_chain first")]
    NotInitialized,
    /// Genesis is invalid.
    #[error("invalid genesis: {reason}")]
    InvalidGenesis {
        /// What is wrong.
        reason: String,
    },
    /// Blocks must come in order.
    #[error("expected block {expected}, got {got}")]
    BlockOutOfOrder {
        /// Next height.
        expected: u64,
        /// Height given.
        got: u64,
    },
    /// The block's day is earlier than the previous block's (an earlier second of the same
    /// day is fine: the ledger keeps days, not seconds), before 1970, or past the ledger's
    /// last day (`Day` counts days in a `u32`).
    #[error(
        "block time {time} is on a day before the previous block's, before 1970 or past the \
         ledger's last day"
    )]
    BadBlockTime {
        /// Unix seconds given.
        time: i64,
    },
    /// `deliver_tx`/`commit` without `begin_block`, or `begin_block` twice.
    #[error("block sequencing error: {0}")]
    Sequence(&'static str),
}
