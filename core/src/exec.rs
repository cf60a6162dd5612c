//! Transaction execution: the rules of the ledger.
//!
//! Every handler validates first and writes only through its [`View`] layer; the caller
//! drops that layer on error, so a rejected transaction leaves no trace. Indexes and
//! account counters are never touched by handlers directly: `Exec::save_piece` derives
//! them from the piece's old and new state, which keeps them consistent by construction.

use crate::codec;
use crate::crypto::{sha256_parts, Address, Hash32, ValidatorKey};
use crate::date::Day;
use crate::error::TxError;
use crate::event::Event;
use crate::keys::{self, Key};
use crate::money::{Amount, Currency, Money};
use crate::overlay::View;
use crate::pricing::{self, AnnualRate};
use crate::store::{Derived, StoreError};
use crate::tx::{Output, TxBody, VerifiedTx};
use crate::types::*;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Longest payment reference accepted, in bytes.
pub const MAX_PAYMENT_REFERENCE: usize = 64;

/// Facts about the block being executed.
#[derive(Clone, Debug)]
pub struct BlockEnv {
    /// Height.
    pub height: u64,
    /// Day of the block time.
    pub today: Day,
    /// Chain id.
    pub chain_id: String,
    /// Parameters in force.
    pub params: Params,
}

/// One entry of a piece's audit history.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Block height.
    pub height: u64,
    /// Day of the block.
    pub day: Day,
    /// Transaction, or `None` for block-level processing (offer expiry).
    pub tx: Option<Hash32>,
    /// What happened.
    pub action: String,
    /// Who did it (`None` for expiry).
    pub actor: Option<Address>,
    /// Status after the action.
    pub status: String,
}

/// One step of one piece's audit history as the ledger stores it: every step of a block is
/// kept in one record of that block (`store`'s `history` table), and each step links to
/// the block of the piece's step before it. A piece's history is read backwards from its
/// [`Piece::updated_height`] ([`crate::ledger::Ledger::history`]), one block record per
/// block it changed in, so writing it costs one record per block instead of one B-tree
/// insert per step (ADR 0012).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct HistoryRecord {
    /// The piece.
    pub piece: PieceId,
    /// Height of the piece's step before this one; `None` for its creation. Always below
    /// the height of a later block's record, or equal for a second step in one block.
    pub prev: Option<u64>,
    /// The step.
    pub entry: HistoryEntry,
}

/// A [`HistoryRecord`] as execution writes it. The action and status are names the code
/// holds as constants, so they are borrowed rather than copied into two strings per step;
/// the fields are those of a `HistoryRecord` with its entry's fields in line, which borsh
/// encodes to the same bytes (a struct is the concatenation of its fields).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize)]
pub struct HistoryStep {
    /// The piece.
    pub piece: PieceId,
    /// Height of the piece's step before this one ([`HistoryRecord::prev`]).
    pub prev: Option<u64>,
    /// Block height.
    pub height: u64,
    /// Day of the block.
    pub day: Day,
    /// Transaction, or `None` for block-level processing.
    pub tx: Option<Hash32>,
    /// What happened.
    pub action: &'static str,
    /// Who did it.
    pub actor: Option<Address>,
    /// Status after the action.
    pub status: &'static str,
}

/// Executes one transaction or block step against a view.
pub struct Exec<'v, 'a> {
    pub(crate) view: &'v mut View<'a>,
    pub(crate) env: &'v BlockEnv,
    /// Transaction hash (or a synthetic origin for block steps): seeds new piece ids.
    origin: Hash32,
    tx: Option<Hash32>,
    actor: Option<Address>,
    outputs: u32,
    pub(crate) events: Vec<Event>,
}

/// The relations a piece has with accounts, from which indexes and counts are derived.
#[derive(PartialEq, Eq)]
struct Relations {
    held_by: Option<Address>,
    offer_to: Option<Address>,
    offer_from: Option<Address>,
    expires: Option<Day>,
}

fn relations(p: Option<&Piece>) -> Relations {
    let none = Relations {
        held_by: None,
        offer_to: None,
        offer_from: None,
        expires: None,
    };
    let Some(p) = p else { return none };
    match &p.status {
        PieceStatus::Pending { from, expires, .. } => Relations {
            held_by: None,
            offer_to: Some(p.holder),
            offer_from: Some(*from),
            expires: Some(*expires),
        },
        PieceStatus::FinancingRequested {
            financier, expires, ..
        } => Relations {
            held_by: Some(p.holder),
            offer_to: Some(*financier),
            offer_from: Some(p.holder),
            expires: Some(*expires),
        },
        PieceStatus::Active | PieceStatus::Financed => Relations {
            held_by: Some(p.holder),
            ..none
        },
        _ => none,
    }
}

/// The derived indexes (see [`crate::store::Derived`]): what execution writes for each
/// piece and certificate (`Exec::save_piece`, `Exec::create_piece`, issuing), computed from
/// the record alone. The two must agree; `Store::check_derived` and the tests check it.
pub const DERIVED: Derived = Derived {
    owns: keys::is_derived,
    of: derived_keys,
};

/// The derived index keys of one state record.
fn derived_keys(key: &[u8], value: &[u8]) -> Result<Vec<Key>, String> {
    let id = |prefix: &[u8]| -> Result<Hash32, String> {
        key[prefix.len()..]
            .try_into()
            .map(Hash32)
            .map_err(|_| "key is not prefix + 32 bytes".to_string())
    };
    if key.starts_with(keys::PIECE_PREFIX) {
        let id = id(keys::PIECE_PREFIX)?;
        let piece: Piece = codec::decode_stored(value).map_err(|e| e.to_string())?;
        let r = relations(Some(&piece));
        let mut out = vec![keys::lineage(&piece.root, &id)];
        out.extend(r.held_by.map(|a| keys::holding(&a, &id)));
        out.extend(r.offer_to.map(|a| keys::offer_in(&a, &id)));
        out.extend(r.offer_from.map(|a| keys::offer_out(&a, &id)));
        out.extend(r.expires.map(|d| keys::expiry(d, &id)));
        Ok(out)
    } else if key.starts_with(keys::ROOT_PREFIX) {
        let id = id(keys::ROOT_PREFIX)?;
        let root: RootRecord = codec::decode_stored(value).map_err(|e| e.to_string())?;
        Ok(vec![keys::obligor_root(&root.terms.obligor, &id)])
    } else {
        Ok(Vec::new())
    }
}

#[derive(Clone, Copy)]
enum Counter {
    Holdings,
    OffersIn,
    OffersOut,
}

impl<'v, 'a> Exec<'v, 'a> {
    /// Execution context for a transaction.
    pub fn for_tx(view: &'v mut View<'a>, env: &'v BlockEnv, tx: &VerifiedTx) -> Self {
        Exec {
            view,
            env,
            origin: tx.hash(),
            tx: Some(tx.hash()),
            actor: Some(tx.signer()),
            outputs: 0,
            events: Vec::new(),
        }
    }

    /// Execution context for block-level processing (offer expiry).
    pub fn for_block(view: &'v mut View<'a>, env: &'v BlockEnv) -> Self {
        let origin = Hash32(sha256_parts(&[b"cascade/block", &env.height.to_be_bytes()]));
        Exec {
            view,
            env,
            origin,
            tx: None,
            actor: None,
            outputs: 0,
            events: Vec::new(),
        }
    }

    // ---- reads -----------------------------------------------------------------------

    fn participant(&self, a: &Address) -> Result<Participant, TxError> {
        self.view
            .get(&keys::participant(a))?
            .ok_or(TxError::UnknownParticipant { address: *a })
    }

    /// A participant that must exist, be active and hold `role` to play `what`.
    fn counterparty(
        &self,
        a: &Address,
        role: Roles,
        role_name: &'static str,
        what: &'static str,
    ) -> Result<Participant, TxError> {
        let p = self.participant(a)?;
        if !p.active {
            return Err(TxError::Inactive { address: *a });
        }
        if !p.roles.contains(role) {
            return Err(TxError::CounterpartyRole {
                address: *a,
                role: role_name,
                what,
            });
        }
        Ok(p)
    }

    fn account(&self, a: &Address) -> Result<Account, TxError> {
        Ok(self.view.get(&keys::account(a))?.unwrap_or_default())
    }

    fn piece(&self, id: &Hash32) -> Result<Piece, TxError> {
        self.view
            .get(&keys::piece(id))?
            .ok_or(TxError::UnknownPiece { piece: *id })
    }

    fn root(&self, id: &Hash32) -> Result<RootRecord, TxError> {
        self.view
            .get(&keys::root(id))?
            .ok_or(TxError::UnknownRoot { root: *id })
    }

    fn obligor_record(&self, a: &Address) -> Result<ObligorRecord, TxError> {
        Ok(self.view.get(&keys::obligor(a))?.unwrap_or_default())
    }

    fn credit_line(
        &self,
        obligor: &Address,
        currency: &Currency,
        grantor: &Address,
    ) -> Result<Option<CreditLine>, TxError> {
        Ok(self
            .view
            .get(&keys::credit_line(obligor, currency, grantor))?)
    }

    /// Gives `face` back to the credit line a certificate consumed (on void or settlement).
    fn release_credit(&mut self, t: &Terms, face: Amount) -> Result<(), TxError> {
        let key = keys::credit_line(&t.obligor, &t.currency, &t.credit_grantor);
        let mut line: CreditLine = self.view.get(&key)?.ok_or(TxError::NoCreditLine {
            obligor: t.obligor,
            grantor: t.credit_grantor,
            currency: t.currency,
        })?;
        line.used = line.used.checked_sub(face)?;
        self.view.put(key, &line);
        Ok(())
    }

    // ---- writes that keep indexes consistent ------------------------------------------

    fn bump(&mut self, a: &Address, counter: Counter, up: bool) -> Result<(), TxError> {
        let mut acct = self.account(a)?;
        let c = match counter {
            Counter::Holdings => &mut acct.holdings,
            Counter::OffersIn => &mut acct.offers_in,
            Counter::OffersOut => &mut acct.offers_out,
        };
        *c = if up {
            c.checked_add(1)
        } else {
            c.checked_sub(1)
        }
        .ok_or_else(|| StoreError::Corrupt {
            what: format!("account {a} counters"),
            reason: "count out of range".into(),
        })?;
        self.view.put(keys::account(a), &acct);
        Ok(())
    }

    fn relink(
        &mut self,
        old: Option<Address>,
        new: Option<Address>,
        id: &Hash32,
        key: fn(&Address, &Hash32) -> Key,
        counter: Counter,
    ) -> Result<(), TxError> {
        if old == new {
            return Ok(());
        }
        if let Some(a) = old {
            self.view.index_delete(key(&a, id));
            self.bump(&a, counter, false)?;
        }
        if let Some(a) = new {
            self.view.index_put(key(&a, id), Vec::new());
            self.bump(&a, counter, true)?;
        }
        Ok(())
    }

    /// Writes a piece and brings every index and counter that depends on it up to date.
    fn save_piece(
        &mut self,
        id: &Hash32,
        old: Option<&Piece>,
        new: &Piece,
        action: &'static str,
    ) -> Result<(), TxError> {
        let (before, after) = (relations(old), relations(Some(new)));
        if before != after {
            self.relink(
                before.held_by,
                after.held_by,
                id,
                keys::holding,
                Counter::Holdings,
            )?;
            self.relink(
                before.offer_to,
                after.offer_to,
                id,
                keys::offer_in,
                Counter::OffersIn,
            )?;
            self.relink(
                before.offer_from,
                after.offer_from,
                id,
                keys::offer_out,
                Counter::OffersOut,
            )?;
            if before.expires != after.expires {
                if let Some(d) = before.expires {
                    self.view.index_delete(keys::expiry(d, id));
                }
                if let Some(d) = after.expires {
                    self.view.index_put(keys::expiry(d, id), Vec::new());
                }
            }
        }
        let height = self.env.height;
        if new.updated_height == height {
            self.view.put(keys::piece(id), new);
        } else {
            let mut stamped = new.clone();
            stamped.updated_height = height;
            self.view.put(keys::piece(id), &stamped);
        }
        self.view.history_push(HistoryStep {
            piece: *id,
            prev: old.map(|o| o.updated_height),
            height,
            day: self.env.today,
            tx: self.tx,
            action,
            actor: self.actor,
            status: new.status.name(),
        });
        Ok(())
    }

    /// Creates a new piece under `root_id`, with an id derived from the origin and output index.
    #[allow(clippy::too_many_arguments)]
    fn create_piece(
        &mut self,
        root_id: &Hash32,
        root: &mut RootRecord,
        parent: Option<Hash32>,
        holder: Address,
        amount: Amount,
        tier: u16,
        status: PieceStatus,
        action: &'static str,
    ) -> Result<Hash32, TxError> {
        let id = Hash32(sha256_parts(&[
            b"cascade/piece",
            &self.origin.0,
            &self.outputs.to_be_bytes(),
        ]));
        self.outputs += 1;
        let piece = Piece {
            root: *root_id,
            parent,
            merged_from: Vec::new(),
            holder,
            amount,
            tier,
            status,
            frozen: None,
            created_height: self.env.height,
            updated_height: self.env.height,
            financing: None,
        };
        self.save_piece(&id, None, &piece, action)?;
        self.view.index_put(keys::lineage(root_id, &id), Vec::new());
        root.piece_count = root.piece_count.checked_add(1).ok_or(TxError::Overflow)?;
        Ok(id)
    }

    /// The first day a certificate maturing on `maturity` is overdue: the day after its
    /// grace period. `None` if that day is past the calendar's end.
    fn overdue_from(&self, maturity: Day) -> Option<Day> {
        maturity
            .checked_add_days(self.env.params.overdue_grace_days)?
            .checked_add_days(1)
    }

    fn offer_expiry(&self) -> Result<Day, TxError> {
        self.env
            .today
            .checked_add_days(self.env.params.offer_expiry_days)
            .ok_or(TxError::Overflow)
    }

    /// Refuses `adding` new offers from `sender` beyond `Params::max_offers_out` pending.
    fn check_offer_room(&self, sender: &Address, adding: usize) -> Result<(), TxError> {
        offer_room(
            self.account(sender)?.offers_out,
            adding,
            self.env.params.max_offers_out,
        )
    }

    fn check_amount(&self, amount: Amount) -> Result<(), TxError> {
        if amount.is_zero() {
            return Err(TxError::ZeroAmount);
        }
        if amount < self.env.params.min_unit {
            return Err(TxError::BelowMinimum {
                amount,
                min_unit: self.env.params.min_unit,
            });
        }
        Ok(())
    }

    /// Change left after taking `taken` from `available`: zero, or at least the minimum unit.
    fn change(&self, available: Amount, taken: Amount) -> Result<Amount, TxError> {
        let change = available
            .checked_sub(taken)
            .map_err(|_| TxError::SplitExceedsPiece {
                outputs: taken,
                available,
            })?;
        if !change.is_zero() && change < self.env.params.min_unit {
            return Err(TxError::BelowMinimum {
                amount: change,
                min_unit: self.env.params.min_unit,
            });
        }
        Ok(change)
    }

    /// A piece the signer holds, free to move: active, not frozen, certificate not matured.
    fn movable_piece(
        &self,
        id: &Hash32,
        signer: &Address,
        action: &'static str,
    ) -> Result<(Piece, RootRecord), TxError> {
        let p = self.piece(id)?;
        if p.holder != *signer || !p.status.is_held() {
            return Err(TxError::NotHolder {
                piece: *id,
                signer: *signer,
            });
        }
        ensure_not_frozen(id, &p)?;
        if p.status != PieceStatus::Active {
            return Err(TxError::WrongStatus {
                piece: *id,
                status: p.status.name(),
                action,
            });
        }
        let root = self.root(&p.root)?;
        before_maturity(&root.terms, self.env.today)?;
        Ok((p, root))
    }

    fn require_role(
        &self,
        signer: &Address,
        part: &Participant,
        role: Roles,
        role_name: &'static str,
        action: &'static str,
    ) -> Result<(), TxError> {
        if part.roles.0 & role.0 == 0 {
            return Err(TxError::MissingRole {
                signer: *signer,
                role: role_name,
                action,
            });
        }
        Ok(())
    }

    // ---- the transaction --------------------------------------------------------------

    /// Checks the envelope (chain, expiry, signer, nonce) and runs the body.
    pub fn execute(&mut self, tx: &VerifiedTx) -> Result<(), TxError> {
        let t = tx.tx();
        if t.chain_id != self.env.chain_id {
            return Err(TxError::WrongChain {
                expected: self.env.chain_id.clone(),
                got: t.chain_id.clone(),
            });
        }
        if self.env.height > t.expiry_height {
            return Err(TxError::Expired {
                expiry_height: t.expiry_height,
                height: self.env.height,
            });
        }
        let signer = tx.signer();
        let part = match self.participant(&signer) {
            Err(TxError::UnknownParticipant { .. }) => {
                return Err(TxError::UnknownSigner { signer })
            }
            other => other?,
        };
        if !part.active {
            return Err(TxError::Inactive { address: signer });
        }
        let mut acct = self.account(&signer)?;
        if t.nonce != acct.nonce {
            return Err(TxError::BadNonce {
                expected: acct.nonce,
                got: t.nonce,
            });
        }
        acct.nonce = acct.nonce.checked_add(1).ok_or(TxError::Overflow)?;
        self.view.put(keys::account(&signer), &acct);

        match &t.body {
            TxBody::RegisterParticipant {
                public_key,
                roles,
                legal_id_hash,
            } => {
                self.require_role(
                    &signer,
                    &part,
                    Roles::OPERATOR,
                    "operator",
                    "register participants",
                )?;
                if !roles.is_valid() {
                    return Err(TxError::InvalidRoles { roles: roles.0 });
                }
                public_key.verifying_key()?;
                let address = public_key.address();
                if self.view.get_raw(&keys::participant(&address))?.is_some() {
                    return Err(TxError::AlreadyRegistered { address });
                }
                let record = Participant {
                    public_key: *public_key,
                    roles: *roles,
                    legal_id_hash: *legal_id_hash,
                    active: true,
                };
                self.view.put(keys::participant(&address), &record);
                if roles.contains(Roles::OPERATOR) {
                    self.count_operator(true)?;
                }
                self.events.push(Event::ParticipantRegistered {
                    address,
                    roles: *roles,
                });
            }
            TxBody::UpdateParticipant {
                address,
                roles,
                active,
            } => {
                self.require_role(
                    &signer,
                    &part,
                    Roles::OPERATOR,
                    "operator",
                    "update participants",
                )?;
                if !roles.is_valid() {
                    return Err(TxError::InvalidRoles { roles: roles.0 });
                }
                let mut record = self.participant(address)?;
                if *address == signer && (!roles.contains(Roles::OPERATOR) || !active) {
                    return Err(TxError::SelfLockout);
                }
                let was = record.active && record.roles.contains(Roles::OPERATOR);
                let now = *active && roles.contains(Roles::OPERATOR);
                if was != now {
                    self.count_operator(now)?;
                }
                record.roles = *roles;
                record.active = *active;
                self.view.put(keys::participant(address), &record);
                self.events.push(Event::ParticipantUpdated {
                    address: *address,
                    roles: *roles,
                    active: *active,
                });
            }
            TxBody::SetCreditLine {
                obligor,
                currency,
                limit,
            } => {
                if part.roles.0 & (Roles::FINANCIER.0 | Roles::OPERATOR.0) == 0 {
                    return Err(TxError::MissingRole {
                        signer,
                        role: "financier or operator",
                        action: "grant credit lines",
                    });
                }
                if !currency.is_valid() {
                    return Err(TxError::InvalidCurrency);
                }
                // A line is someone else's limit on the obligor: one granted to oneself (by a
                // participant that is both obligor and financier or operator) limits nothing.
                if *obligor == signer {
                    return Err(TxError::Unauthorized {
                        signer,
                        action: "grant credit lines",
                        reason: "an obligor cannot grant a credit line to itself",
                    });
                }
                let existing = self.credit_line(obligor, currency, &signer)?;
                // Cutting a line only lowers the grantor's exposure, so it stays possible
                // whatever has become of the obligor (deactivated, or no longer an obligor):
                // a financier must be able to cut a failing obligor's line at once. Granting
                // or raising one needs an active obligor.
                let cut = existing.as_ref().is_some_and(|l| *limit <= l.limit);
                if !cut {
                    self.counterparty(obligor, Roles::OBLIGOR, "obligor", "receive a credit line")?;
                }
                let used = existing.map_or(Amount::ZERO, |l| l.used);
                if *limit < used {
                    return Err(TxError::LimitBelowUsed {
                        limit: *limit,
                        used,
                    });
                }
                self.view.put(
                    keys::credit_line(obligor, currency, &signer),
                    &CreditLine {
                        limit: *limit,
                        used,
                    },
                );
                self.events.push(Event::CreditLineSet {
                    obligor: *obligor,
                    grantor: signer,
                    currency: *currency,
                    limit: *limit,
                });
            }
            TxBody::AnchorDocument {
                hash,
                amount,
                buyer,
                seller,
            } => self.anchor_document(signer, hash, amount, buyer, seller)?,
            TxBody::UpdateParams { params } => {
                self.require_role(
                    &signer,
                    &part,
                    Roles::OPERATOR,
                    "operator",
                    "change parameters",
                )?;
                params
                    .validate()
                    .map_err(|reason| TxError::InvalidParams { reason })?;
                self.view.put(keys::PARAMS, params);
                self.events.push(Event::ParamsUpdated {
                    params: params.clone(),
                });
            }
            TxBody::Issue {
                to,
                amount,
                currency,
                maturity,
                document,
                credit_grantor,
            } => {
                self.require_role(
                    &signer,
                    &part,
                    Roles::OBLIGOR,
                    "obligor",
                    "issue certificates",
                )?;
                self.issue(
                    signer,
                    to,
                    *amount,
                    currency,
                    *maturity,
                    document,
                    credit_grantor,
                )?;
            }
            TxBody::Accept { piece } => self.accept(signer, piece)?,
            TxBody::Reject { piece } => self.reject(signer, piece)?,
            TxBody::Cancel { piece } => self.cancel(signer, piece)?,
            TxBody::Transfer { piece, outputs } => self.transfer(signer, piece, outputs)?,
            TxBody::Merge { pieces } => self.merge(signer, pieces)?,
            TxBody::RequestFinancing {
                piece,
                financier,
                amount,
                rate,
            } => self.request_financing(signer, piece, financier, *amount, *rate)?,
            TxBody::AcceptFinancing {
                piece,
                payment_reference,
            } => self.accept_financing(signer, piece, payment_reference)?,
            TxBody::Settle { root } => self.settle(signer, root)?,
            TxBody::MarkOverdue { root } => self.mark_overdue(root)?,
            TxBody::Freeze { piece, reason } => {
                self.require_role(
                    &signer,
                    &part,
                    Roles(Roles::OPERATOR.0 | Roles::AUDITOR.0),
                    "operator or auditor",
                    "freeze pieces",
                )?;
                self.freeze(signer, piece, *reason)?;
            }
            TxBody::Unfreeze { piece } => {
                self.require_role(
                    &signer,
                    &part,
                    Roles(Roles::OPERATOR.0 | Roles::AUDITOR.0),
                    "operator or auditor",
                    "unfreeze pieces",
                )?;
                self.unfreeze(signer, piece)?;
            }
            TxBody::ApproveValidatorChange { pub_key, power } => {
                self.require_role(
                    &signer,
                    &part,
                    Roles::OPERATOR,
                    "operator",
                    "approve validator changes",
                )?;
                self.approve_validator_change(signer, pub_key, *power)?;
            }
        }
        Ok(())
    }

    // ---- governance -------------------------------------------------------------------

    fn consortium(&self) -> Result<Consortium, TxError> {
        Ok(self.view.get(keys::CONSORTIUM)?.unwrap_or_default())
    }

    /// Keeps the count of active operators (the governance electorate) in step with the
    /// participant records it summarises.
    fn count_operator(&mut self, up: bool) -> Result<(), TxError> {
        let mut c = self.consortium()?;
        c.active_operators = if up {
            c.active_operators.checked_add(1).ok_or(TxError::Overflow)?
        } else {
            c.active_operators.checked_sub(1).ok_or(TxError::Overflow)?
        };
        self.view.put(keys::CONSORTIUM, &c);
        Ok(())
    }

    /// Records an operator's approval of (key, power); applies the change on quorum.
    ///
    /// Every check CometBFT would make on a validator update is made here first (valid key,
    /// power cap, removing only existing validators, never an empty set), because CometBFT
    /// halts the chain on an update it refuses.
    fn approve_validator_change(
        &mut self,
        signer: Address,
        pub_key: &ValidatorKey,
        power: u64,
    ) -> Result<(), TxError> {
        if !pub_key.is_valid() {
            return Err(TxError::InvalidValidatorKey { pub_key: *pub_key });
        }
        if power > MAX_VALIDATOR_POWER {
            return Err(TxError::ValidatorPowerTooHigh {
                power,
                max: MAX_VALIDATOR_POWER,
            });
        }
        let current = self
            .view
            .get::<ValidatorRecord>(&keys::validator(pub_key))?
            .map_or(0, |v| v.power);
        if current == power {
            return Err(TxError::NoValidatorChange {
                pub_key: *pub_key,
                current,
            });
        }
        let mut consortium = self.consortium()?;
        let size = match (current, power) {
            (0, _) => consortium.validators.saturating_add(1),
            (_, 0) => consortium.validators.saturating_sub(1),
            _ => consortium.validators,
        };
        if size == 0 || size > MAX_VALIDATORS {
            return Err(TxError::ValidatorSetSize {
                max: MAX_VALIDATORS,
            });
        }
        let key = keys::validator_proposal(pub_key, power);
        let mut proposal: ValidatorProposal = self.view.get(&key)?.unwrap_or_default();
        match proposal.approvals.binary_search(&signer) {
            Ok(_) => return Err(TxError::AlreadyApproved { operator: signer }),
            Err(at) => proposal.approvals.insert(at, signer),
        }
        // Approvals from operators since removed or deactivated no longer count.
        let mut approvals = 0u32;
        for a in &proposal.approvals {
            let p = self.participant(a)?;
            if p.active && p.roles.contains(Roles::OPERATOR) {
                approvals += 1;
            }
        }
        let quorum = consortium.quorum();
        if approvals < quorum {
            self.view.put(key, &proposal);
            self.events.push(Event::ValidatorChangeApproved {
                pub_key: *pub_key,
                power,
                by: signer,
                approvals,
                quorum,
            });
            return Ok(());
        }
        self.view.delete(key);
        if power == 0 {
            self.view.delete(keys::validator(pub_key));
        } else {
            self.view.put(
                keys::validator(pub_key),
                &ValidatorRecord {
                    pub_key: *pub_key,
                    power,
                },
            );
        }
        consortium.validators = size;
        self.view.put(keys::CONSORTIUM, &consortium);
        self.events.push(Event::ValidatorSetChanged {
            pub_key: *pub_key,
            power,
        });
        Ok(())
    }

    fn anchor_document(
        &mut self,
        signer: Address,
        hash: &Hash32,
        amount: &Money,
        buyer: &Address,
        seller: &Address,
    ) -> Result<(), TxError> {
        if !amount.currency.is_valid() {
            return Err(TxError::InvalidCurrency);
        }
        if amount.amount.is_zero() {
            return Err(TxError::ZeroAmount);
        }
        // Only the buyer anchors: it is the buyer's debt the document proves, and letting the
        // seller anchor first would let a supplier squat an invoice hash with another amount.
        if signer != *buyer {
            return Err(TxError::Unauthorized {
                signer,
                action: "anchor this document",
                reason: "only its buyer (the obligor) may",
            });
        }
        if buyer == seller {
            return Err(TxError::DocumentMismatch {
                reason: "buyer and seller must differ",
            });
        }
        self.counterparty(buyer, Roles::OBLIGOR, "obligor", "be a document's buyer")?;
        self.counterparty(
            seller,
            Roles::SUPPLIER,
            "supplier",
            "be a document's seller",
        )?;
        if self.view.get_raw(&keys::document(hash))?.is_some() {
            return Err(TxError::DocumentExists { hash: *hash });
        }
        self.view.put(
            keys::document(hash),
            &Document {
                amount: *amount,
                buyer: *buyer,
                seller: *seller,
                issued: Amount::ZERO,
            },
        );
        self.events.push(Event::DocumentAnchored {
            hash: *hash,
            buyer: *buyer,
            seller: *seller,
            amount: amount.amount,
            currency: amount.currency,
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn issue(
        &mut self,
        signer: Address,
        to: &Address,
        amount: Amount,
        currency: &Currency,
        maturity: Day,
        doc_hash: &Hash32,
        grantor: &Address,
    ) -> Result<(), TxError> {
        if !currency.is_valid() {
            return Err(TxError::InvalidCurrency);
        }
        self.check_amount(amount)?;
        let today = self.env.today;
        if maturity <= today {
            return Err(TxError::MaturityNotInFuture { maturity, today });
        }
        let latest = today
            .checked_add_days(self.env.params.max_tenor_days)
            .ok_or(TxError::Overflow)?;
        if maturity > latest {
            return Err(TxError::TenorTooLong {
                maturity,
                max_days: self.env.params.max_tenor_days,
                latest,
            });
        }
        let mut doc: Document = self
            .view
            .get(&keys::document(doc_hash))?
            .ok_or(TxError::UnknownDocument { hash: *doc_hash })?;
        if doc.buyer != signer {
            return Err(TxError::DocumentMismatch {
                reason: "the issuer is not the document's buyer",
            });
        }
        if doc.seller != *to {
            return Err(TxError::DocumentMismatch {
                reason: "the recipient is not the document's seller",
            });
        }
        if doc.amount.currency != *currency {
            return Err(TxError::DocumentMismatch {
                reason: "the currency differs from the document's",
            });
        }
        let remaining = doc.amount.amount.checked_sub(doc.issued)?;
        if amount > remaining {
            return Err(TxError::DocumentExceeded {
                requested: amount,
                remaining,
            });
        }
        self.counterparty(to, Roles::SUPPLIER, "supplier", "receive a certificate")?;
        let mut line =
            self.credit_line(&signer, currency, grantor)?
                .ok_or(TxError::NoCreditLine {
                    obligor: signer,
                    grantor: *grantor,
                    currency: *currency,
                })?;
        // The line is the grantor's promise; once the grantor is deactivated or no longer a
        // financier or operator, nothing new may be issued against it (what it already backs
        // stays, and settlement still releases it).
        let backer = self.participant(grantor)?;
        if !backer.active {
            return Err(TxError::Inactive { address: *grantor });
        }
        if backer.roles.0 & (Roles::FINANCIER.0 | Roles::OPERATOR.0) == 0 {
            return Err(TxError::CounterpartyRole {
                address: *grantor,
                role: "financier or operator",
                what: "back a certificate with a credit line",
            });
        }
        let available = line.limit.checked_sub(line.used).unwrap_or(Amount::ZERO);
        if amount > available {
            return Err(TxError::CreditExceeded {
                requested: amount,
                available,
            });
        }

        doc.issued = doc.issued.checked_add(amount)?;
        line.used = line.used.checked_add(amount)?;
        self.view.put(keys::document(doc_hash), &doc);
        self.view
            .put(keys::credit_line(&signer, currency, grantor), &line);

        let root_id = Hash32(sha256_parts(&[
            b"cascade/piece",
            &self.origin.0,
            &0u32.to_be_bytes(),
        ]));
        let terms = Terms {
            obligor: signer,
            currency: *currency,
            maturity,
            document: *doc_hash,
            credit_grantor: *grantor,
            issue_day: today,
        };
        let mut root = RootRecord {
            terms,
            face: amount,
            status: RootStatus::Offered,
            overdue: false,
            piece_count: 0,
            settled_day: None,
        };
        let expires = self.offer_expiry()?;
        let status = PieceStatus::Pending {
            from: signer,
            kind: OfferKind::Issue,
            expires,
        };
        let piece =
            self.create_piece(&root_id, &mut root, None, *to, amount, 1, status, "issue")?;
        debug_assert_eq!(piece, root_id, "the issued piece's id is the root id");
        self.view.put(keys::root(&root_id), &root);
        self.view
            .index_put(keys::obligor_root(&signer, &root_id), Vec::new());
        self.events.push(Event::Issued {
            root: root_id,
            obligor: signer,
            to: *to,
            amount,
            currency: *currency,
            maturity,
            document: *doc_hash,
            credit_grantor: *grantor,
        });
        self.events.push(Event::Offered {
            root: root_id,
            piece,
            from: signer,
            to: *to,
            amount,
            tier: 1,
            expires,
        });
        Ok(())
    }

    fn accept(&mut self, signer: Address, id: &Hash32) -> Result<(), TxError> {
        let old = self.piece(id)?;
        let PieceStatus::Pending { kind, expires, .. } = old.status else {
            return Err(TxError::WrongStatus {
                piece: *id,
                status: old.status.name(),
                action: "accept",
            });
        };
        if old.holder != signer {
            return Err(TxError::NotHolder { piece: *id, signer });
        }
        ensure_not_frozen(id, &old)?;
        if self.env.today >= expires {
            return Err(TxError::WrongStatus {
                piece: *id,
                status: "expired",
                action: "accept",
            });
        }
        // Roles are checked when the offer is made *and* when it is taken: a supplier whose
        // role the operator removed in between may still reject, not accept.
        let part = self.participant(&signer)?;
        self.require_role(
            &signer,
            &part,
            Roles::SUPPLIER,
            "supplier",
            "accept an offer",
        )?;
        if kind == OfferKind::Issue {
            let mut root = self.root(&old.root)?;
            // An unaccepted certificate cannot be settled, so one accepted on or after its
            // maturity would be due (or overdue) before its obligor could ever pay it on time.
            before_maturity(&root.terms, self.env.today)?;
            root.status = RootStatus::Live;
            self.view.put(keys::root(&old.root), &root);
            let mut rec = self.obligor_record(&root.terms.obligor)?;
            rec.certificates = rec.certificates.saturating_add(1);
            self.view.put(keys::obligor(&root.terms.obligor), &rec);
        }
        let mut new = old.clone();
        new.status = PieceStatus::Active;
        self.save_piece(id, Some(&old), &new, "accept")?;
        self.events.push(Event::Accepted {
            root: old.root,
            piece: *id,
            holder: signer,
        });
        Ok(())
    }

    /// Ends a pending offer that did not take effect and returns its value to the sender.
    fn unwind_offer(
        &mut self,
        id: &Hash32,
        old: &Piece,
        outcome: PieceStatus,
        action: &'static str,
    ) -> Result<Option<Hash32>, TxError> {
        let PieceStatus::Pending { from, kind, .. } = old.status else {
            return Err(TxError::WrongStatus {
                piece: *id,
                status: old.status.name(),
                action: "unwind",
            });
        };
        let mut new = old.clone();
        new.status = outcome;
        self.save_piece(id, Some(old), &new, action)?;
        let mut root = self.root(&old.root)?;
        let returned = match kind {
            OfferKind::Issue => {
                // The certificate never took effect: release the credit and the invoice.
                root.status = RootStatus::Void;
                let t = root.terms.clone();
                let mut doc: Document = self
                    .view
                    .get(&keys::document(&t.document))?
                    .ok_or(TxError::UnknownDocument { hash: t.document })?;
                doc.issued = doc.issued.checked_sub(root.face)?;
                self.view.put(keys::document(&t.document), &doc);
                self.release_credit(&t, root.face)?;
                None
            }
            OfferKind::Transfer => {
                let tier = old.tier.saturating_sub(1).max(1);
                Some(self.create_piece(
                    &old.root,
                    &mut root,
                    Some(*id),
                    from,
                    old.amount,
                    tier,
                    PieceStatus::Active,
                    "returned",
                )?)
            }
        };
        self.view.put(keys::root(&old.root), &root);
        Ok(returned)
    }

    fn reject(&mut self, signer: Address, id: &Hash32) -> Result<(), TxError> {
        let old = self.piece(id)?;
        ensure_not_frozen(id, &old)?;
        match old.status {
            PieceStatus::Pending { from, .. } => {
                if old.holder != signer {
                    return Err(TxError::NotHolder { piece: *id, signer });
                }
                let returned = self.unwind_offer(id, &old, PieceStatus::Rejected, "reject")?;
                self.events.push(Event::Rejected {
                    root: old.root,
                    piece: *id,
                    from,
                    returned,
                });
            }
            PieceStatus::FinancingRequested { financier, .. } => {
                if financier != signer {
                    return Err(TxError::Unauthorized {
                        signer,
                        action: "decline this financing",
                        reason: "only the financier asked may",
                    });
                }
                self.withdraw_financing(id, &old, financier, true)?;
            }
            _ => {
                return Err(TxError::WrongStatus {
                    piece: *id,
                    status: old.status.name(),
                    action: "reject",
                })
            }
        }
        Ok(())
    }

    fn cancel(&mut self, signer: Address, id: &Hash32) -> Result<(), TxError> {
        let old = self.piece(id)?;
        ensure_not_frozen(id, &old)?;
        match old.status {
            PieceStatus::Pending { from, .. } => {
                if from != signer {
                    return Err(TxError::Unauthorized {
                        signer,
                        action: "cancel this offer",
                        reason: "only its sender may",
                    });
                }
                let returned = self.unwind_offer(id, &old, PieceStatus::Cancelled, "cancel")?;
                self.events.push(Event::Cancelled {
                    root: old.root,
                    piece: *id,
                    from,
                    returned,
                });
            }
            PieceStatus::FinancingRequested { financier, .. } => {
                if old.holder != signer {
                    return Err(TxError::NotHolder { piece: *id, signer });
                }
                self.withdraw_financing(id, &old, financier, false)?;
            }
            _ => {
                return Err(TxError::WrongStatus {
                    piece: *id,
                    status: old.status.name(),
                    action: "cancel",
                })
            }
        }
        Ok(())
    }

    fn withdraw_financing(
        &mut self,
        id: &Hash32,
        old: &Piece,
        financier: Address,
        by_financier: bool,
    ) -> Result<(), TxError> {
        let mut new = old.clone();
        new.status = PieceStatus::Active;
        self.save_piece(
            id,
            Some(old),
            &new,
            if by_financier {
                "financing declined"
            } else {
                "financing withdrawn"
            },
        )?;
        self.events.push(Event::FinancingWithdrawn {
            root: old.root,
            piece: *id,
            holder: old.holder,
            financier,
            by_financier,
        });
        Ok(())
    }

    fn transfer(
        &mut self,
        signer: Address,
        id: &Hash32,
        outputs: &[Output],
    ) -> Result<(), TxError> {
        let (old, mut root) = self.movable_piece(id, &signer, "transfer")?;
        let params = &self.env.params;
        if outputs.is_empty() {
            return Err(TxError::NoOutputs);
        }
        if outputs.len() > usize::from(params.max_outputs) {
            return Err(TxError::TooManyOutputs {
                count: outputs.len(),
                max: params.max_outputs,
            });
        }
        let tier = old.tier.checked_add(1).ok_or(TxError::Overflow)?;
        if tier > params.max_tier {
            return Err(TxError::TierTooDeep {
                tier,
                max: params.max_tier,
            });
        }
        let mut seen = BTreeSet::new();
        for o in outputs {
            self.check_amount(o.amount)?;
            if o.to == signer {
                return Err(TxError::SelfTransfer);
            }
            if !seen.insert(o.to) {
                return Err(TxError::DuplicateRecipient { to: o.to });
            }
            self.counterparty(&o.to, Roles::SUPPLIER, "supplier", "receive a transfer")?;
        }
        let total = Amount::checked_sum(outputs.iter().map(|o| o.amount))?;
        if total > old.amount {
            return Err(TxError::SplitExceedsPiece {
                outputs: total,
                available: old.amount,
            });
        }
        let change = self.change(old.amount, total)?;
        self.check_offer_room(&signer, outputs.len())?;

        let mut consumed = old.clone();
        consumed.status = PieceStatus::Consumed;
        self.save_piece(id, Some(&old), &consumed, "split")?;
        let expires = self.offer_expiry()?;
        for o in outputs {
            let status = PieceStatus::Pending {
                from: signer,
                kind: OfferKind::Transfer,
                expires,
            };
            let piece = self.create_piece(
                &old.root,
                &mut root,
                Some(*id),
                o.to,
                o.amount,
                tier,
                status,
                "offered",
            )?;
            self.events.push(Event::Offered {
                root: old.root,
                piece,
                from: signer,
                to: o.to,
                amount: o.amount,
                tier,
                expires,
            });
        }
        let change_id = if change.is_zero() {
            None
        } else {
            Some(self.create_piece(
                &old.root,
                &mut root,
                Some(*id),
                signer,
                change,
                old.tier,
                PieceStatus::Active,
                "change",
            )?)
        };
        self.view.put(keys::root(&old.root), &root);
        self.events.push(Event::Split {
            root: old.root,
            input: *id,
            holder: signer,
            change: change_id,
        });
        Ok(())
    }

    fn merge(&mut self, signer: Address, ids: &[Hash32]) -> Result<(), TxError> {
        let max = self.env.params.max_merge_inputs;
        if ids.len() < 2 || ids.len() > usize::from(max) {
            return Err(TxError::BadMergeCount {
                count: ids.len(),
                max,
            });
        }
        let mut seen = BTreeSet::new();
        let mut inputs = Vec::with_capacity(ids.len());
        for id in ids {
            if !seen.insert(*id) {
                return Err(TxError::DuplicatePiece { piece: *id });
            }
            let (p, _) = self.movable_piece(id, &signer, "merge")?;
            if let Some((first, _)) = inputs.first() {
                let first: &Piece = first;
                if first.root != p.root {
                    return Err(TxError::DifferentRoots);
                }
            }
            inputs.push((p, *id));
        }
        let total = Amount::checked_sum(inputs.iter().map(|(p, _)| p.amount))?;
        let tier = inputs.iter().map(|(p, _)| p.tier).max().unwrap_or(1);
        let root_id = inputs[0].0.root;
        let mut root = self.root(&root_id)?;
        for (p, id) in &inputs {
            let mut consumed = p.clone();
            consumed.status = PieceStatus::Consumed;
            self.save_piece(id, Some(p), &consumed, "merged")?;
        }
        let out = self.create_piece(
            &root_id,
            &mut root,
            Some(ids[0]),
            signer,
            total,
            tier,
            PieceStatus::Active,
            "merge",
        )?;
        // Record every input on the merged piece (create_piece only knows the first parent).
        let mut merged: Piece = self.piece(&out)?;
        merged.merged_from = ids.to_vec();
        self.view.put(keys::piece(&out), &merged);
        self.view.put(keys::root(&root_id), &root);
        self.events.push(Event::Merged {
            root: root_id,
            inputs: ids.to_vec(),
            output: out,
            holder: signer,
            amount: total,
        });
        Ok(())
    }

    fn request_financing(
        &mut self,
        signer: Address,
        id: &Hash32,
        financier: &Address,
        amount: Amount,
        rate: AnnualRate,
    ) -> Result<(), TxError> {
        let old = self.piece(id)?;
        if old.financing.is_some() {
            return Err(TxError::AlreadyFinanced { piece: *id });
        }
        let (old, mut root) = self.movable_piece(id, &signer, "request financing")?;
        if *financier == signer {
            return Err(TxError::SelfTransfer);
        }
        self.counterparty(financier, Roles::FINANCIER, "financier", "finance a piece")?;
        self.check_amount(amount)?;
        if amount > old.amount {
            return Err(TxError::SplitExceedsPiece {
                outputs: amount,
                available: old.amount,
            });
        }
        let change = self.change(old.amount, amount)?;
        let max = self.env.params.max_annual_rate;
        if rate.0 == 0 || rate > max {
            return Err(TxError::RateOutOfRange { rate, max });
        }
        // Price now so a request that could never be accepted is refused up front.
        pricing::discount(
            amount,
            rate,
            self.env.today,
            root.terms.maturity,
            self.env.params.day_count,
        )?;
        self.check_offer_room(&signer, 1)?;
        let expires = self.offer_expiry()?;
        let status = PieceStatus::FinancingRequested {
            financier: *financier,
            rate,
            expires,
        };
        let (locked, change_id) = if change.is_zero() {
            let mut new = old.clone();
            new.status = status;
            self.save_piece(id, Some(&old), &new, "financing requested")?;
            (*id, None)
        } else {
            let mut consumed = old.clone();
            consumed.status = PieceStatus::Consumed;
            self.save_piece(id, Some(&old), &consumed, "split for financing")?;
            let locked = self.create_piece(
                &old.root,
                &mut root,
                Some(*id),
                signer,
                amount,
                old.tier,
                status,
                "financing requested",
            )?;
            let change_id = self.create_piece(
                &old.root,
                &mut root,
                Some(*id),
                signer,
                change,
                old.tier,
                PieceStatus::Active,
                "change",
            )?;
            self.view.put(keys::root(&old.root), &root);
            (locked, Some(change_id))
        };
        self.events.push(Event::FinancingRequested {
            root: old.root,
            input: *id,
            piece: locked,
            holder: signer,
            financier: *financier,
            amount,
            change: change_id,
            rate,
            expires,
        });
        Ok(())
    }

    fn accept_financing(
        &mut self,
        signer: Address,
        id: &Hash32,
        payment_reference: &str,
    ) -> Result<(), TxError> {
        let old = self.piece(id)?;
        let PieceStatus::FinancingRequested {
            financier,
            rate,
            expires,
        } = old.status
        else {
            return Err(TxError::WrongStatus {
                piece: *id,
                status: old.status.name(),
                action: "accept financing",
            });
        };
        if financier != signer {
            return Err(TxError::Unauthorized {
                signer,
                action: "accept this financing",
                reason: "only the financier asked may",
            });
        }
        // As for transfers: the financier role is checked again when the request is taken.
        let part = self.participant(&signer)?;
        self.require_role(
            &signer,
            &part,
            Roles::FINANCIER,
            "financier",
            "accept financing",
        )?;
        ensure_not_frozen(id, &old)?;
        if self.env.today >= expires {
            return Err(TxError::WrongStatus {
                piece: *id,
                status: "expired",
                action: "accept financing",
            });
        }
        if payment_reference.is_empty() || payment_reference.len() > MAX_PAYMENT_REFERENCE {
            return Err(TxError::BadPaymentReference {
                max: MAX_PAYMENT_REFERENCE,
            });
        }
        let mut root = self.root(&old.root)?;
        before_maturity(&root.terms, self.env.today)?;
        let quote = pricing::discount(
            old.amount,
            rate,
            self.env.today,
            root.terms.maturity,
            self.env.params.day_count,
        )?;
        let mut consumed = old.clone();
        consumed.status = PieceStatus::Consumed;
        self.save_piece(id, Some(&old), &consumed, "financed")?;
        let new_id = self.create_piece(
            &old.root,
            &mut root,
            Some(*id),
            financier,
            old.amount,
            old.tier,
            PieceStatus::Financed,
            "financed",
        )?;
        let mut financed = self.piece(&new_id)?;
        financed.financing = Some(Financing {
            seller: old.holder,
            day: self.env.today,
            quote,
            payment_reference: payment_reference.to_string(),
        });
        self.view.put(keys::piece(&new_id), &financed);
        self.view.put(keys::root(&old.root), &root);
        self.events.push(Event::Financed {
            root: old.root,
            input: *id,
            piece: new_id,
            seller: old.holder,
            financier,
            quote,
            payment_reference: payment_reference.to_string(),
        });
        Ok(())
    }

    fn settle(&mut self, signer: Address, root_id: &Hash32) -> Result<(), TxError> {
        let mut root = self.root(root_id)?;
        if root.terms.obligor != signer {
            return Err(TxError::Unauthorized {
                signer,
                action: "settle this certificate",
                reason: "only its obligor may",
            });
        }
        if root.status != RootStatus::Live {
            return Err(TxError::WrongRootStatus {
                root: *root_id,
                status: root_status_name(root.status),
                action: "settle",
            });
        }
        let today = self.env.today;
        if today < root.terms.maturity {
            return Err(TxError::NotMatured {
                maturity: root.terms.maturity,
                today,
            });
        }
        // Paying is never refused over the on-time flag: a grace period that runs past the
        // calendar's end only means the payment cannot be late.
        let late = root.overdue
            || self
                .overdue_from(root.terms.maturity)
                .is_some_and(|from| today >= from);

        let mut entries = Vec::new();
        for (k, _) in self.view.index_scan(&keys::lineage_of(root_id), None)? {
            let Some(pid) = keys::trailing_id(&k) else {
                continue;
            };
            let old = self.piece(&pid)?;
            if !old.status.is_outstanding() {
                continue;
            }
            // A pending transfer never took effect: its sender is still owed the value.
            let payee = match old.status {
                PieceStatus::Pending { from, .. } => from,
                _ => old.holder,
            };
            entries.push(ClearingEntry {
                piece: pid,
                payee,
                amount: old.amount,
                withheld: old.frozen.is_some(),
            });
            let mut new = old.clone();
            new.status = PieceStatus::Settled;
            self.save_piece(&pid, Some(&old), &new, "settled")?;
        }
        let total = Amount::checked_sum(entries.iter().map(|e| e.amount))?;
        if total != root.face {
            // Conservation is an invariant of every handler; reaching this means corrupt state.
            return Err(StoreError::Corrupt {
                what: format!("certificate {root_id}"),
                reason: format!("outstanding {total} differs from face {}", root.face),
            }
            .into());
        }
        root.status = RootStatus::Settled;
        root.settled_day = Some(today);
        let t = root.terms.clone();
        self.release_credit(&t, root.face)?;
        let mut rec = self.obligor_record(&t.obligor)?;
        if late {
            rec.settled_late = rec.settled_late.saturating_add(1);
        } else {
            rec.settled_on_time = rec.settled_on_time.saturating_add(1);
        }
        rec.add_settled_face(t.currency, root.face, late)?;
        if root.overdue {
            rec.overdue_now = rec.overdue_now.saturating_sub(1);
        }
        self.view.put(keys::obligor(&t.obligor), &rec);
        self.view.put(keys::root(root_id), &root);
        let list = ClearingList {
            root: *root_id,
            day: today,
            currency: t.currency,
            entries: entries.clone(),
            total,
            late,
        };
        self.view.put(keys::clearing(root_id), &list);
        self.events.push(Event::Settled {
            root: *root_id,
            obligor: t.obligor,
            total,
            late,
            entries,
        });
        Ok(())
    }

    fn mark_overdue(&mut self, root_id: &Hash32) -> Result<(), TxError> {
        let mut root = self.root(root_id)?;
        if root.status != RootStatus::Live || root.overdue {
            let status = if root.overdue {
                "already overdue"
            } else {
                root_status_name(root.status)
            };
            return Err(TxError::WrongRootStatus {
                root: *root_id,
                status,
                action: "mark overdue",
            });
        }
        let from = self
            .overdue_from(root.terms.maturity)
            .ok_or(TxError::Overflow)?;
        if self.env.today < from {
            return Err(TxError::NotYetOverdue {
                from,
                today: self.env.today,
            });
        }
        root.overdue = true;
        self.view.put(keys::root(root_id), &root);
        let mut rec = self.obligor_record(&root.terms.obligor)?;
        rec.overdue_now = rec.overdue_now.saturating_add(1);
        self.view.put(keys::obligor(&root.terms.obligor), &rec);
        self.events.push(Event::MarkedOverdue {
            root: *root_id,
            obligor: root.terms.obligor,
            maturity: root.terms.maturity,
        });
        Ok(())
    }

    fn freeze(&mut self, signer: Address, id: &Hash32, reason: u16) -> Result<(), TxError> {
        let old = self.piece(id)?;
        ensure_not_frozen(id, &old)?;
        if !old.status.is_outstanding() {
            return Err(TxError::WrongStatus {
                piece: *id,
                status: old.status.name(),
                action: "freeze",
            });
        }
        let mut new = old.clone();
        new.frozen = Some(Freeze { by: signer, reason });
        self.save_piece(id, Some(&old), &new, "frozen")?;
        self.events.push(Event::Frozen {
            root: old.root,
            piece: *id,
            by: signer,
            reason,
        });
        Ok(())
    }

    fn unfreeze(&mut self, signer: Address, id: &Hash32) -> Result<(), TxError> {
        let old = self.piece(id)?;
        if old.frozen.is_none() {
            return Err(TxError::NotFrozen { piece: *id });
        }
        let mut new = old.clone();
        new.frozen = None;
        self.save_piece(id, Some(&old), &new, "unfrozen")?;
        self.events.push(Event::Unfrozen {
            root: old.root,
            piece: *id,
            by: signer,
        });
        Ok(())
    }

    /// Block step: expires every unanswered offer due on or before today. Frozen offers
    /// wait (a freeze stops all movement, expiry included) and expire once unfrozen.
    pub fn expire_offers(&mut self) -> Result<(), TxError> {
        let due = self.view.index_scan(
            keys::EXPIRY_PREFIX,
            Some(&keys::expiry_upper(self.env.today)),
        )?;
        for (k, _) in due {
            let Some(id) = keys::trailing_id(&k) else {
                continue;
            };
            let old = self.piece(&id)?;
            if old.frozen.is_some() {
                continue;
            }
            match old.status {
                PieceStatus::Pending { from, .. } => {
                    let returned = self.unwind_offer(&id, &old, PieceStatus::Expired, "expired")?;
                    self.events.push(Event::OfferExpired {
                        root: old.root,
                        piece: id,
                        from,
                        returned,
                    });
                }
                PieceStatus::FinancingRequested { .. } => {
                    let mut new = old.clone();
                    new.status = PieceStatus::Active;
                    self.save_piece(&id, Some(&old), &new, "financing request expired")?;
                    self.events.push(Event::OfferExpired {
                        root: old.root,
                        piece: id,
                        from: old.holder,
                        returned: None,
                    });
                }
                _ => self.view.index_delete(k),
            }
        }
        Ok(())
    }
}

/// Refuses any action on a frozen piece: a freeze stops all movement until lifted.
/// Refuses, on or after a certificate's maturity, what must happen before it: moving or
/// financing a piece, or accepting the certificate. Shared by the ledger and the wallet's
/// precheck.
pub fn before_maturity(terms: &Terms, today: Day) -> Result<(), TxError> {
    if today >= terms.maturity {
        return Err(TxError::Matured {
            maturity: terms.maturity,
            today,
        });
    }
    Ok(())
}

/// The cap on pending offers out: an account with `pending` offers out may add `adding`
/// more only if that stays within `max` (`Params::max_offers_out`). Shared by the ledger and
/// the wallet's precheck, so both refuse exactly the same offers.
pub fn offer_room(pending: u32, adding: usize, max: u32) -> Result<(), TxError> {
    let adding = u32::try_from(adding).unwrap_or(u32::MAX);
    if pending.saturating_add(adding) > max {
        return Err(TxError::TooManyOffers {
            pending,
            adding,
            max,
        });
    }
    Ok(())
}

fn ensure_not_frozen(id: &Hash32, piece: &Piece) -> Result<(), TxError> {
    match &piece.frozen {
        Some(f) => Err(TxError::Frozen {
            piece: *id,
            reason: f.reason,
        }),
        None => Ok(()),
    }
}

/// Name of a certificate status.
pub fn root_status_name(s: RootStatus) -> &'static str {
    match s {
        RootStatus::Offered => "offered",
        RootStatus::Live => "live",
        RootStatus::Void => "void",
        RootStatus::Settled => "settled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What execution writes ([`HistoryStep`]) is read back as [`HistoryRecord`]s: the two
    /// must encode alike, field for field.
    #[test]
    fn a_history_step_encodes_as_the_record_it_is_read_as() {
        let steps = vec![
            HistoryStep {
                piece: Hash32([1; 32]),
                prev: None,
                height: 7,
                day: Day(20_000),
                tx: Some(Hash32([2; 32])),
                action: "split",
                actor: Some(Address([3; 20])),
                status: "consumed",
            },
            HistoryStep {
                piece: Hash32([4; 32]),
                prev: Some(5),
                height: 7,
                day: Day(20_000),
                tx: None,
                action: "offer expired",
                actor: None,
                status: "active",
            },
        ];
        let read: Vec<HistoryRecord> = codec::decode_stored(&codec::encode(&steps)).unwrap();
        let expected: Vec<HistoryRecord> = steps
            .iter()
            .map(|s| HistoryRecord {
                piece: s.piece,
                prev: s.prev,
                entry: HistoryEntry {
                    height: s.height,
                    day: s.day,
                    tx: s.tx,
                    action: s.action.to_string(),
                    actor: s.actor,
                    status: s.status.to_string(),
                },
            })
            .collect();
        assert_eq!(read, expected);
        assert_eq!(codec::encode(&read), codec::encode(&steps));
    }
}
