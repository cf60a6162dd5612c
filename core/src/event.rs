//! Typed events returned by every applied transaction: what wallets and indexers consume.

use crate::crypto::{Address, Hash32, ValidatorKey};
use crate::date::Day;
use crate::money::{Amount, Currency};
use crate::pricing::{AnnualRate, Quote};
use crate::types::{ClearingEntry, DocumentHash, Params, PieceId, Roles, RootId};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Something that happened on the ledger.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(missing_docs)] // variant fields are named for what they hold
pub enum Event {
    /// A participant was registered.
    ParticipantRegistered { address: Address, roles: Roles },
    /// A participant's roles or activity changed.
    ParticipantUpdated {
        address: Address,
        roles: Roles,
        active: bool,
    },
    /// A credit line was set.
    CreditLineSet {
        obligor: Address,
        grantor: Address,
        currency: Currency,
        limit: Amount,
    },
    /// A document was anchored.
    DocumentAnchored {
        hash: Hash32,
        buyer: Address,
        seller: Address,
        amount: Amount,
        currency: Currency,
    },
    /// Parameters changed: the parameters now in force (an indexer pricing or expiring
    /// offers follows them without a query).
    ParamsUpdated { params: Params },
    /// A certificate was issued (pending until accepted).
    Issued {
        root: RootId,
        obligor: Address,
        to: Address,
        amount: Amount,
        currency: Currency,
        maturity: Day,
        /// The trade document it is issued against (an auditor links certificate and
        /// invoice from the event alone).
        document: DocumentHash,
        /// Grantor of the credit line it consumes.
        credit_grantor: Address,
    },
    /// An offer was made to `to` (issue or transfer part).
    Offered {
        root: RootId,
        piece: PieceId,
        from: Address,
        to: Address,
        amount: Amount,
        tier: u16,
        /// First day on which the offer has expired if still unanswered.
        expires: Day,
    },
    /// An offer was accepted: `holder` now holds the piece.
    Accepted {
        root: RootId,
        piece: PieceId,
        holder: Address,
    },
    /// An offer was rejected; value returned to `from` as `returned` (none for an issue).
    Rejected {
        root: RootId,
        piece: PieceId,
        from: Address,
        returned: Option<PieceId>,
    },
    /// An offer was cancelled by its sender.
    Cancelled {
        root: RootId,
        piece: PieceId,
        from: Address,
        returned: Option<PieceId>,
    },
    /// An offer expired.
    OfferExpired {
        root: RootId,
        piece: PieceId,
        from: Address,
        returned: Option<PieceId>,
    },
    /// A piece was split: parts offered and change kept.
    Split {
        root: RootId,
        input: PieceId,
        holder: Address,
        change: Option<PieceId>,
    },
    /// Pieces were merged.
    Merged {
        root: RootId,
        inputs: Vec<PieceId>,
        output: PieceId,
        holder: Address,
        amount: Amount,
    },
    /// A financing was requested.
    FinancingRequested {
        root: RootId,
        /// The piece the request was made on. The same as `piece` when the whole piece is
        /// offered; otherwise it is consumed and split into `piece` and `change`, which is
        /// how an indexer working from events alone learns which piece is gone.
        input: PieceId,
        piece: PieceId,
        holder: Address,
        financier: Address,
        amount: Amount,
        change: Option<PieceId>,
        /// Annual rate the holder asks for.
        rate: AnnualRate,
        /// First day on which the request has expired if still unanswered.
        expires: Day,
    },
    /// A financing request was declined or withdrawn.
    FinancingWithdrawn {
        root: RootId,
        piece: PieceId,
        holder: Address,
        financier: Address,
        by_financier: bool,
    },
    /// A piece was financed: it now belongs to the financier.
    Financed {
        root: RootId,
        input: PieceId,
        piece: PieceId,
        seller: Address,
        financier: Address,
        quote: Quote,
        payment_reference: String,
    },
    /// A certificate was settled; every entry paid.
    Settled {
        root: RootId,
        obligor: Address,
        total: Amount,
        late: bool,
        entries: Vec<ClearingEntry>,
    },
    /// A certificate was marked overdue.
    MarkedOverdue {
        root: RootId,
        obligor: Address,
        maturity: Day,
    },
    /// A piece was frozen.
    Frozen {
        root: RootId,
        piece: PieceId,
        by: Address,
        reason: u16,
    },
    /// A piece was unfrozen.
    Unfrozen {
        root: RootId,
        piece: PieceId,
        by: Address,
    },
    /// An operator approved a validator change that has not reached its quorum yet.
    ValidatorChangeApproved {
        pub_key: ValidatorKey,
        power: u64,
        by: Address,
        approvals: u32,
        quorum: u32,
    },
    /// The validator set changed: the application reports this to CometBFT as a validator
    /// update in the same block.
    ValidatorSetChanged { pub_key: ValidatorKey, power: u64 },
}

impl Event {
    /// Event type name (for indexers).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ParticipantRegistered { .. } => "participant_registered",
            Event::ParticipantUpdated { .. } => "participant_updated",
            Event::CreditLineSet { .. } => "credit_line_set",
            Event::DocumentAnchored { .. } => "document_anchored",
            Event::ParamsUpdated { .. } => "params_updated",
            Event::Issued { .. } => "issued",
            Event::Offered { .. } => "offered",
            Event::Accepted { .. } => "accepted",
            Event::Rejected { .. } => "rejected",
            Event::Cancelled { .. } => "cancelled",
            Event::OfferExpired { .. } => "offer_expired",
            Event::Split { .. } => "split",
            Event::Merged { .. } => "merged",
            Event::FinancingRequested { .. } => "financing_requested",
            Event::FinancingWithdrawn { .. } => "financing_withdrawn",
            Event::Financed { .. } => "financed",
            Event::Settled { .. } => "settled",
            Event::MarkedOverdue { .. } => "marked_overdue",
            Event::Frozen { .. } => "frozen",
            Event::Unfrozen { .. } => "unfrozen",
            Event::ValidatorChangeApproved { .. } => "validator_change_approved",
            Event::ValidatorSetChanged { .. } => "validator_set_changed",
        }
    }
}

/// A successful transaction's result data (`ExecTxResult.data`): its events, borsh-encoded.
///
/// CometBFT keeps this with the block's results and commits to it in the next header's
/// `last_results_hash`, so the typed events of a transaction are as provable as its code
/// ([`crate::block_outcome`]). The ledger keeps no receipt of its own (ADR 0012): a client
/// locates a transaction with `/tx`, then reads its events from here.
pub fn result_data(events: &[Event]) -> Vec<u8> {
    crate::codec::encode(&events)
}

/// The events in a successful transaction's result data (see [`result_data`]). Empty data
/// (a failed transaction's) gives no events; anything else that is not one canonical
/// encoding of a list of events is refused.
pub fn from_result_data(data: &[u8]) -> Result<Vec<Event>, crate::codec::DecodeError> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    crate::codec::decode_canonical(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_data_round_trips_and_refuses_other_bytes() {
        let events = vec![
            Event::ValidatorSetChanged {
                pub_key: ValidatorKey([4; 32]),
                power: 10,
            },
            Event::Frozen {
                root: Hash32([5; 32]),
                piece: Hash32([1; 32]),
                by: Address([2; 20]),
                reason: 3,
            },
        ];
        let data = result_data(&events);
        assert_eq!(from_result_data(&data), Ok(events));
        assert_eq!(from_result_data(&[]), Ok(Vec::new()));
        // A transaction hash (what the result data held before ADR 0012) is not events.
        assert!(from_result_data(&[7; 32]).is_err());
        let mut trailing = data.clone();
        trailing.push(0);
        assert!(from_result_data(&trailing).is_err());
    }
}
