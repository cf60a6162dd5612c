//! Model-based property tests: random operation sequences across the supplier tiers, run
//! against the ledger and, step by step, against a small reference model.
//!
//! The model is written from the rules as documented (it never calls `exec.rs`): it keeps its
//! own pieces, certificates, documents, credit lines, obligor record and every participant's
//! roles and active flag, and for every operation predicts the set of rules the operation
//! breaks (empty means it must be accepted) and the state that results. From the ledger it
//! learns only the opaque ids of new pieces, which it reads from the events. After every
//! block the test checks:
//!
//! * the model's prediction: accepted iff valid, and a rejection names a rule the model saw
//!   broken;
//! * the ledger's state against the model, piece by piece and record by record;
//! * invariants computed from the ledger alone (conservation per certificate, minimum unit,
//!   credit used, document totals, holdings/offers indexes and account counters against a
//!   full scan);
//! * at settlement, the clearing list against the model's expected payees;
//! * every participant's roles and active flag, and the count of active operators.
//!
//! Some operations change a participant's roles or deactivate it (mostly suppliers and
//! financiers, toggled to an auditor-only role set or inactive and back), so the model also
//! predicts the rules that depend on who holds which role *now*: a signer must be active,
//! recipients and counterparties active and in the right role, an offer is accepted only by a
//! current supplier, financing only by a current financier, and a credit line backs a new
//! certificate only while its grantor is an active financier or operator.
//!
//! Most blocks hold one transaction; batches put several in one block. Three scripted
//! scenarios pin down edges random runs reach rarely (frozen and unanswered offers at a late
//! settlement, boundary days, an offer unfrozen after its expiry, each role rule in turn),
//! and a fixed long sequence is replayed through two independent ledgers that must agree on
//! every app hash.

use cascade_core::crypto::sha256;
use cascade_core::testkit::{cny, Fixture, STANDARD_PARTICIPANTS};
use cascade_core::tx::{Output, TxBody};
use cascade_core::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::{BTreeMap, BTreeSet};

// ---- the cast ---------------------------------------------------------------------------

const N: usize = 10;
const OPERATOR: usize = 0;
const AUDITOR: usize = 1;
const CORE: usize = 2;
const T1: usize = 3;
const T2A: usize = 4;
const T2B: usize = 5;
const T3A: usize = 6;
const BANK: usize = 8;
const FACTOR: usize = 9;
const SUPPLIERS: [usize; 5] = [3, 4, 5, 6, 7];
const FINANCIERS: [usize; 2] = [BANK, FACTOR];
/// Those whose roles random sequences mostly change: the suppliers and the financiers.
const TOGGLED: [usize; 7] = [3, 4, 5, 6, 7, BANK, FACTOR];

/// An id no piece or certificate has.
const BOGUS: Hash32 = Hash32([0xEE; 32]);
/// Limit of the credit line `Fixture::standard` grants.
const FIXTURE_LIMIT: u64 = 1_000_000_000;

fn name(i: usize) -> &'static str {
    STANDARD_PARTICIPANTS[i].0
}

/// The roles a participant starts with (the model's own copy changes as operators update it).
fn normal_roles(i: usize) -> Roles {
    STANDARD_PARTICIPANTS[i].1
}

/// The variant name of an error, which is what the model predicts.
fn kind(e: &TxError) -> String {
    format!("{e:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

// ---- the reference model ----------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum St {
    Pending {
        from: usize,
        issue: bool,
        expires: u32,
    },
    Active,
    FinReq {
        financier: usize,
        rate: u32,
        expires: u32,
    },
    Financed,
    Settled,
    Consumed,
    Rejected,
    Cancelled,
    Expired,
}

impl St {
    fn outstanding(&self) -> bool {
        matches!(
            self,
            St::Pending { .. } | St::Active | St::FinReq { .. } | St::Financed
        )
    }

    fn held(&self) -> bool {
        matches!(self, St::Active | St::FinReq { .. } | St::Financed)
    }

    fn offer_expiry(&self) -> Option<u32> {
        match self {
            St::Pending { expires, .. } | St::FinReq { expires, .. } => Some(*expires),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
struct MPiece {
    id: Hash32,
    root: usize,
    holder: usize,
    amount: u64,
    tier: u16,
    st: St,
    frozen: bool,
    financed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RSt {
    Offered,
    Live,
    Void,
    Settled,
}

/// A clearing entry as the model expects it: (piece, payee, amount, withheld).
type MEntry = (Hash32, usize, u64, bool);

#[derive(Clone, Debug)]
struct MRoot {
    id: Hash32,
    face: u64,
    doc: usize,
    grantor: usize,
    maturity: u32,
    st: RSt,
    overdue: bool,
    pieces: Vec<usize>,
    clearing: Option<(u32, bool, Vec<MEntry>)>,
}

#[derive(Clone, Debug)]
struct MDoc {
    hash: Hash32,
    seller: usize,
    amount: u64,
    issued: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct MLine {
    limit: u64,
    used: u64,
}

/// A concrete operation: participants and pieces resolved to model indices.
/// `None` for a piece or certificate means an id the ledger does not know.
#[derive(Clone, Debug)]
enum Action {
    Anchor {
        hash: Hash32,
        seller: usize,
        amount: u64,
    },
    Issue {
        doc: usize,
        to: usize,
        amount: u64,
        days: u32,
        grantor: usize,
    },
    Accept(Option<usize>),
    Reject(Option<usize>),
    Cancel(Option<usize>),
    Transfer {
        piece: Option<usize>,
        outputs: Vec<(usize, u64)>,
    },
    Merge(Vec<Option<usize>>),
    RequestFinancing {
        piece: Option<usize>,
        financier: usize,
        amount: u64,
        rate: u32,
    },
    AcceptFinancing {
        piece: Option<usize>,
        reference: String,
    },
    Settle(Option<usize>),
    MarkOverdue(Option<usize>),
    Freeze {
        piece: Option<usize>,
        reason: u16,
    },
    Unfreeze(Option<usize>),
    SetCredit {
        limit: u64,
    },
    SetRoles {
        who: usize,
        roles: Roles,
        active: bool,
    },
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Anchor { .. } => "anchor",
            Action::Issue { .. } => "issue",
            Action::Accept(_) => "accept",
            Action::Reject(_) => "reject",
            Action::Cancel(_) => "cancel",
            Action::Transfer { .. } => "transfer",
            Action::Merge(_) => "merge",
            Action::RequestFinancing { .. } => "request-financing",
            Action::AcceptFinancing { .. } => "accept-financing",
            Action::Settle(_) => "settle",
            Action::MarkOverdue(_) => "mark-overdue",
            Action::Freeze { .. } => "freeze",
            Action::Unfreeze(_) => "unfreeze",
            Action::SetCredit { .. } => "set-credit",
            Action::SetRoles { .. } => "set-roles",
        }
    }
}

struct Model {
    params: Params,
    addrs: Vec<Address>,
    today: u32,
    pieces: Vec<MPiece>,
    by_id: BTreeMap<Hash32, usize>,
    roots: Vec<MRoot>,
    docs: Vec<MDoc>,
    lines: BTreeMap<usize, MLine>,
    record: ObligorRecord,
    /// Every participant's current roles and active flag, by model index.
    roles: Vec<Roles>,
    active: Vec<bool>,
}

impl Model {
    fn idx(&self, a: &Address) -> usize {
        self.addrs
            .iter()
            .position(|x| x == a)
            .unwrap_or_else(|| panic!("unknown address {a}"))
    }

    fn find(&self, id: &Hash32) -> usize {
        *self
            .by_id
            .get(id)
            .unwrap_or_else(|| panic!("piece {id} unknown to the model"))
    }

    fn piece_id(&self, p: Option<usize>) -> Hash32 {
        p.map_or(BOGUS, |i| self.pieces[i].id)
    }

    fn root_id(&self, r: Option<usize>) -> Hash32 {
        r.map_or(BOGUS, |i| self.roots[i].id)
    }

    fn offer_expiry(&self) -> u32 {
        self.today + self.params.offer_expiry_days
    }

    fn new_piece(
        &mut self,
        id: Hash32,
        root: usize,
        holder: usize,
        amount: u64,
        tier: u16,
        st: St,
    ) {
        let i = self.pieces.len();
        assert!(
            self.by_id.insert(id, i).is_none(),
            "piece id {id} created twice"
        );
        self.pieces.push(MPiece {
            id,
            root,
            holder,
            amount,
            tier,
            st,
            frozen: false,
            financed: false,
        });
        self.roots[root].pieces.push(i);
    }

    // ---- predictions ----

    /// Holds at least one of the roles in `r` (how a signer's role is checked).
    fn has_any(&self, i: usize, r: Roles) -> bool {
        self.roles[i].0 & r.0 != 0
    }

    /// Active participants holding the operator role (the governance electorate).
    fn active_operators(&self) -> u32 {
        (0..N)
            .filter(|&i| self.active[i] && self.has_any(i, Roles::OPERATOR))
            .count() as u32
    }

    /// A counterparty (recipient, buyer, seller, financier, obligor) must be active and hold
    /// `role`.
    fn counterparty_rules(&self, i: usize, role: Roles, v: &mut Vec<&'static str>) {
        if !self.active[i] {
            v.push("Inactive");
        }
        if self.roles[i].0 & role.0 != role.0 {
            v.push("CounterpartyRole");
        }
    }

    fn amount_rules(&self, amount: u64, v: &mut Vec<&'static str>) {
        if amount == 0 {
            v.push("ZeroAmount");
        } else if amount < self.params.min_unit.0 {
            v.push("BelowMinimum");
        }
    }

    /// Rules for taking `amount` out of a piece of `available`: not more, and the change is
    /// zero or at least the minimum unit.
    fn split_rules(&self, available: u64, amount: u64, v: &mut Vec<&'static str>) {
        if amount > available {
            v.push("SplitExceedsPiece");
        } else {
            let change = available - amount;
            if change != 0 && change < self.params.min_unit.0 {
                v.push("BelowMinimum");
            }
        }
    }

    /// A piece the signer holds, free to move: active, not frozen, not matured.
    fn movable_rules(&self, p: Option<usize>, signer: usize, v: &mut Vec<&'static str>) {
        let Some(i) = p else {
            v.push("UnknownPiece");
            return;
        };
        let x = &self.pieces[i];
        if x.holder != signer || !x.st.held() {
            v.push("NotHolder");
        }
        if x.frozen {
            v.push("Frozen");
        }
        if x.st != St::Active {
            v.push("WrongStatus");
        }
        if self.today >= self.roots[x.root].maturity {
            v.push("Matured");
        }
    }

    /// Every rule `a` signed by `s` breaks; empty if the ledger must accept it.
    /// Offers `s` has pending as their sender: unanswered transfer parts and issues it
    /// made, and its financing requests (the ledger's `Account::offers_out`).
    fn offers_out_of(&self, s: usize) -> usize {
        self.pieces
            .iter()
            .filter(|x| match x.st {
                St::Pending { from, .. } => from == s,
                St::FinReq { .. } => x.holder == s,
                _ => false,
            })
            .count()
    }

    fn check(&self, s: usize, a: &Action) -> Vec<&'static str> {
        let mut v = Vec::new();
        let p = &self.params;
        // Whatever it signs, a deactivated participant is refused.
        if !self.active[s] {
            v.push("Inactive");
        }
        match a {
            Action::Anchor {
                hash,
                seller,
                amount,
            } => {
                if *amount == 0 {
                    v.push("ZeroAmount");
                }
                // Only the buyer (every model document's buyer is `core`) may anchor.
                if s != CORE {
                    v.push("Unauthorized");
                }
                if *seller == CORE {
                    v.push("DocumentMismatch");
                }
                self.counterparty_rules(CORE, Roles::OBLIGOR, &mut v);
                self.counterparty_rules(*seller, Roles::SUPPLIER, &mut v);
                if self.docs.iter().any(|d| d.hash == *hash) {
                    v.push("DocumentExists");
                }
            }
            Action::Issue {
                doc,
                to,
                amount,
                days,
                grantor,
            } => {
                if !self.has_any(s, Roles::OBLIGOR) {
                    v.push("MissingRole");
                }
                self.amount_rules(*amount, &mut v);
                if *days == 0 {
                    v.push("MaturityNotInFuture");
                }
                if *days > p.max_tenor_days {
                    v.push("TenorTooLong");
                }
                let d = &self.docs[*doc];
                // Every model document has `core` as its buyer.
                if s != CORE || d.seller != *to {
                    v.push("DocumentMismatch");
                }
                if *amount > d.amount - d.issued {
                    v.push("DocumentExceeded");
                }
                self.counterparty_rules(*to, Roles::SUPPLIER, &mut v);
                match self.lines.get(grantor) {
                    None => v.push("NoCreditLine"),
                    Some(l) => {
                        // A line backs new certificates only while its grantor is an active
                        // financier or operator.
                        if !self.active[*grantor] {
                            v.push("Inactive");
                        }
                        if !self.has_any(*grantor, Roles::FINANCIER.with(Roles::OPERATOR)) {
                            v.push("CounterpartyRole");
                        }
                        if *amount > l.limit.saturating_sub(l.used) {
                            v.push("CreditExceeded");
                        }
                    }
                }
            }
            Action::Accept(r) => match r {
                None => v.push("UnknownPiece"),
                Some(i) => {
                    let x = &self.pieces[*i];
                    match x.st {
                        St::Pending { expires, issue, .. } => {
                            if x.holder != s {
                                v.push("NotHolder");
                            }
                            if x.frozen {
                                v.push("Frozen");
                            }
                            if self.today >= expires {
                                v.push("WrongStatus");
                            }
                            // A certificate cannot start on or after its maturity: it could
                            // not have been paid on time.
                            if issue && self.today >= self.roots[x.root].maturity {
                                v.push("Matured");
                            }
                            // Taking an offer needs the supplier role still (rejecting not).
                            if !self.has_any(s, Roles::SUPPLIER) {
                                v.push("MissingRole");
                            }
                        }
                        _ => v.push("WrongStatus"),
                    }
                }
            },
            Action::Reject(r) | Action::Cancel(r) => match r {
                None => v.push("UnknownPiece"),
                Some(i) => {
                    let x = &self.pieces[*i];
                    let reject = matches!(a, Action::Reject(_));
                    if x.frozen {
                        v.push("Frozen");
                    }
                    match (&x.st, reject) {
                        (St::Pending { .. }, true) if x.holder != s => v.push("NotHolder"),
                        (St::Pending { from, .. }, false) if *from != s => v.push("Unauthorized"),
                        (St::FinReq { financier, .. }, true) if *financier != s => {
                            v.push("Unauthorized")
                        }
                        (St::FinReq { .. }, false) if x.holder != s => v.push("NotHolder"),
                        (St::Pending { .. } | St::FinReq { .. }, _) => {}
                        _ => v.push("WrongStatus"),
                    }
                }
            },
            Action::Transfer { piece, outputs } => {
                self.movable_rules(*piece, s, &mut v);
                if outputs.is_empty() {
                    v.push("NoOutputs");
                }
                if outputs.len() > usize::from(p.max_outputs) {
                    v.push("TooManyOutputs");
                }
                if self.offers_out_of(s) + outputs.len() > p.max_offers_out as usize {
                    v.push("TooManyOffers");
                }
                if let Some(i) = piece {
                    if self.pieces[*i].tier + 1 > p.max_tier {
                        v.push("TierTooDeep");
                    }
                }
                let mut seen = BTreeSet::new();
                for (to, amount) in outputs {
                    self.amount_rules(*amount, &mut v);
                    if *to == s {
                        v.push("SelfTransfer");
                    }
                    if !seen.insert(*to) {
                        v.push("DuplicateRecipient");
                    }
                    self.counterparty_rules(*to, Roles::SUPPLIER, &mut v);
                }
                if let Some(i) = piece {
                    let total = outputs.iter().map(|(_, a)| a).sum();
                    self.split_rules(self.pieces[*i].amount, total, &mut v);
                }
            }
            Action::Merge(ids) => {
                if ids.len() < 2 || ids.len() > usize::from(p.max_merge_inputs) {
                    v.push("BadMergeCount");
                }
                let mut seen = BTreeSet::new();
                for r in ids {
                    if !seen.insert(self.piece_id(*r)) {
                        v.push("DuplicatePiece");
                    }
                    self.movable_rules(*r, s, &mut v);
                }
                let roots: BTreeSet<usize> =
                    ids.iter().flatten().map(|i| self.pieces[*i].root).collect();
                if roots.len() > 1 {
                    v.push("DifferentRoots");
                }
            }
            Action::RequestFinancing {
                piece,
                financier,
                amount,
                rate,
            } => {
                if let Some(i) = piece {
                    if self.pieces[*i].financed {
                        v.push("AlreadyFinanced");
                    }
                }
                self.movable_rules(*piece, s, &mut v);
                if *financier == s {
                    v.push("SelfTransfer");
                }
                self.counterparty_rules(*financier, Roles::FINANCIER, &mut v);
                self.amount_rules(*amount, &mut v);
                if let Some(i) = piece {
                    self.split_rules(self.pieces[*i].amount, *amount, &mut v);
                }
                if *rate == 0 || *rate > p.max_annual_rate.0 {
                    v.push("RateOutOfRange");
                }
                if self.offers_out_of(s) + 1 > p.max_offers_out as usize {
                    v.push("TooManyOffers");
                }
            }
            Action::AcceptFinancing { piece, reference } => match piece {
                None => v.push("UnknownPiece"),
                Some(i) => {
                    let x = &self.pieces[*i];
                    match x.st {
                        St::FinReq {
                            financier, expires, ..
                        } => {
                            if financier != s {
                                v.push("Unauthorized");
                            }
                            // The financier asked must still be a financier when it pays.
                            if !self.has_any(s, Roles::FINANCIER) {
                                v.push("MissingRole");
                            }
                            if x.frozen {
                                v.push("Frozen");
                            }
                            if self.today >= expires {
                                v.push("WrongStatus");
                            }
                            if reference.is_empty() || reference.len() > 64 {
                                v.push("BadPaymentReference");
                            }
                            if self.today >= self.roots[x.root].maturity {
                                v.push("Matured");
                            }
                        }
                        _ => v.push("WrongStatus"),
                    }
                }
            },
            Action::Settle(r) => match r {
                None => v.push("UnknownRoot"),
                Some(r) => {
                    let root = &self.roots[*r];
                    if s != CORE {
                        v.push("Unauthorized");
                    }
                    if root.st != RSt::Live {
                        v.push("WrongRootStatus");
                    }
                    if self.today < root.maturity {
                        v.push("NotMatured");
                    }
                }
            },
            Action::MarkOverdue(r) => match r {
                None => v.push("UnknownRoot"),
                Some(r) => {
                    let root = &self.roots[*r];
                    if root.st != RSt::Live || root.overdue {
                        v.push("WrongRootStatus");
                    }
                    if self.today <= root.maturity + p.overdue_grace_days {
                        v.push("NotYetOverdue");
                    }
                }
            },
            Action::Freeze { piece, .. } => {
                if !self.has_any(s, Roles::OPERATOR.with(Roles::AUDITOR)) {
                    v.push("MissingRole");
                }
                match piece {
                    None => v.push("UnknownPiece"),
                    Some(i) => {
                        let x = &self.pieces[*i];
                        if x.frozen {
                            v.push("Frozen");
                        }
                        if !x.st.outstanding() {
                            v.push("WrongStatus");
                        }
                    }
                }
            }
            Action::Unfreeze(piece) => {
                if !self.has_any(s, Roles::OPERATOR.with(Roles::AUDITOR)) {
                    v.push("MissingRole");
                }
                match piece {
                    None => v.push("UnknownPiece"),
                    Some(i) if !self.pieces[*i].frozen => v.push("NotFrozen"),
                    Some(_) => {}
                }
            }
            Action::SetCredit { limit } => {
                if !self.has_any(s, Roles::FINANCIER.with(Roles::OPERATOR)) {
                    v.push("MissingRole");
                }
                // The obligor itself, even as a financier or operator, grants itself nothing.
                if s == CORE {
                    v.push("Unauthorized");
                }
                // Cutting an existing line stays possible whatever has become of the obligor;
                // granting or raising one needs an active obligor.
                let cut = self.lines.get(&s).is_some_and(|l| *limit <= l.limit);
                if !cut {
                    self.counterparty_rules(CORE, Roles::OBLIGOR, &mut v);
                }
                if *limit < self.lines.get(&s).map_or(0, |l| l.used) {
                    v.push("LimitBelowUsed");
                }
            }
            Action::SetRoles { who, roles, active } => {
                if !self.has_any(s, Roles::OPERATOR) {
                    v.push("MissingRole");
                }
                // At least one role, and only defined role bits.
                let defined = Roles::OBLIGOR.0
                    | Roles::SUPPLIER.0
                    | Roles::FINANCIER.0
                    | Roles::OPERATOR.0
                    | Roles::AUDITOR.0;
                if roles.0 == 0 || roles.0 & !defined != 0 {
                    v.push("InvalidRoles");
                }
                // An operator cannot drop its own operator role or deactivate itself; so the
                // last active operator always remains.
                if *who == s && (roles.0 & Roles::OPERATOR.0 == 0 || !active) {
                    v.push("SelfLockout");
                }
            }
        }
        v
    }

    // ---- effects ----

    /// An offer that did not take effect: an issue voids its certificate, a transfer part
    /// returns to its sender as the piece `returned`.
    fn unwind(&mut self, i: usize, outcome: St, returned: Option<Hash32>) {
        let St::Pending { from, issue, .. } = self.pieces[i].st.clone() else {
            panic!(
                "unwinding a piece that is not pending: {:?}",
                self.pieces[i]
            );
        };
        self.pieces[i].st = outcome;
        let r = self.pieces[i].root;
        if issue {
            assert_eq!(returned, None, "a voided issue returns no piece");
            let (face, doc, grantor) =
                (self.roots[r].face, self.roots[r].doc, self.roots[r].grantor);
            self.roots[r].st = RSt::Void;
            self.docs[doc].issued -= face;
            self.lines.get_mut(&grantor).expect("line").used -= face;
        } else {
            let id = returned.expect("a failed transfer part returns a piece");
            let (amount, tier) = (self.pieces[i].amount, self.pieces[i].tier);
            self.new_piece(
                id,
                r,
                from,
                amount,
                tier.saturating_sub(1).max(1),
                St::Active,
            );
        }
    }

    /// Block step: offers due today or earlier and not frozen expire. Checks the ledger's
    /// expiry events against the prediction and learns the ids of returned pieces.
    fn expire(&mut self, events: &[Event]) {
        let due: BTreeSet<Hash32> = self
            .pieces
            .iter()
            .filter(|p| !p.frozen && p.st.offer_expiry().is_some_and(|d| d <= self.today))
            .map(|p| p.id)
            .collect();
        let mut seen = BTreeSet::new();
        for e in events {
            let Event::OfferExpired {
                piece,
                from,
                returned,
                ..
            } = e
            else {
                panic!("unexpected block event {e:?}");
            };
            assert!(due.contains(piece), "piece {piece} expired unexpectedly");
            assert!(seen.insert(*piece), "piece {piece} expired twice");
            let i = self.find(piece);
            match self.pieces[i].st.clone() {
                St::Pending { from: f, .. } => {
                    assert_eq!(*from, self.addrs[f]);
                    self.unwind(i, St::Expired, *returned);
                }
                St::FinReq { .. } => {
                    assert_eq!(*from, self.addrs[self.pieces[i].holder]);
                    assert_eq!(*returned, None);
                    self.pieces[i].st = St::Active;
                }
                st => panic!("expired a piece in status {st:?}"),
            }
        }
        assert_eq!(seen, due, "offers expected to expire");
    }

    /// Applies an accepted action, learning new piece ids from its events.
    fn apply(&mut self, s: usize, a: &Action, ev: &[Event]) {
        match a {
            Action::Anchor {
                hash,
                seller,
                amount,
            } => {
                assert!(matches!(ev, [Event::DocumentAnchored { .. }]), "{ev:?}");
                self.docs.push(MDoc {
                    hash: *hash,
                    seller: *seller,
                    amount: *amount,
                    issued: 0,
                });
            }
            Action::Issue {
                doc,
                to,
                amount,
                days,
                grantor,
            } => {
                let [Event::Issued { root, .. }, Event::Offered { piece, to: t, .. }] = ev else {
                    panic!("issue events {ev:?}");
                };
                assert_eq!(root, piece, "the issued piece's id is the root id");
                assert_eq!(*t, self.addrs[*to]);
                let r = self.roots.len();
                self.roots.push(MRoot {
                    id: *root,
                    face: *amount,
                    doc: *doc,
                    grantor: *grantor,
                    maturity: self.today + days,
                    st: RSt::Offered,
                    overdue: false,
                    pieces: Vec::new(),
                    clearing: None,
                });
                let st = St::Pending {
                    from: s,
                    issue: true,
                    expires: self.offer_expiry(),
                };
                self.new_piece(*piece, r, *to, *amount, 1, st);
                self.docs[*doc].issued += amount;
                self.lines.get_mut(grantor).expect("line").used += amount;
            }
            Action::Accept(Some(i)) => {
                let i = *i;
                if let St::Pending { issue: true, .. } = self.pieces[i].st {
                    self.roots[self.pieces[i].root].st = RSt::Live;
                    self.record.certificates += 1;
                }
                self.pieces[i].st = St::Active;
                assert!(matches!(ev, [Event::Accepted { .. }]), "{ev:?}");
            }
            Action::Reject(Some(i)) | Action::Cancel(Some(i)) => {
                let i = *i;
                let reject = matches!(a, Action::Reject(_));
                match (&self.pieces[i].st, ev) {
                    (St::Pending { .. }, [Event::Rejected { returned, .. }]) if reject => {
                        self.unwind(i, St::Rejected, *returned)
                    }
                    (St::Pending { .. }, [Event::Cancelled { returned, .. }]) if !reject => {
                        self.unwind(i, St::Cancelled, *returned)
                    }
                    (
                        St::FinReq { .. },
                        [Event::FinancingWithdrawn {
                            by_financier,
                            piece,
                            ..
                        }],
                    ) => {
                        assert_eq!(*by_financier, reject);
                        assert_eq!(*piece, self.pieces[i].id);
                        self.pieces[i].st = St::Active;
                    }
                    (st, ev) => panic!("unexpected events for {st:?}: {ev:?}"),
                }
            }
            Action::Transfer {
                piece: Some(i),
                outputs,
            } => {
                let old = self.pieces[*i].clone();
                self.pieces[*i].st = St::Consumed;
                let expires = self.offer_expiry();
                for (to, amount) in outputs {
                    let id = ev
                        .iter()
                        .find_map(|e| match e {
                            Event::Offered { piece, to: t, .. } if *t == self.addrs[*to] => {
                                Some(*piece)
                            }
                            _ => None,
                        })
                        .expect("an offer per output");
                    let st = St::Pending {
                        from: s,
                        issue: false,
                        expires,
                    };
                    self.new_piece(id, old.root, *to, *amount, old.tier + 1, st);
                }
                let total: u64 = outputs.iter().map(|(_, a)| a).sum();
                let change = ev
                    .iter()
                    .find_map(|e| match e {
                        Event::Split { change, .. } => Some(*change),
                        _ => None,
                    })
                    .expect("a split event");
                assert_eq!(change.is_some(), total < old.amount, "change piece");
                if let Some(id) = change {
                    self.new_piece(id, old.root, s, old.amount - total, old.tier, St::Active);
                }
            }
            Action::Merge(ids) => {
                let ids: Vec<usize> = ids.iter().map(|i| i.expect("known")).collect();
                let [Event::Merged { output, amount, .. }] = ev else {
                    panic!("merge events {ev:?}");
                };
                let total: u64 = ids.iter().map(|i| self.pieces[*i].amount).sum();
                let tier = ids
                    .iter()
                    .map(|i| self.pieces[*i].tier)
                    .max()
                    .expect("inputs");
                assert_eq!(amount.0, total);
                for i in &ids {
                    self.pieces[*i].st = St::Consumed;
                }
                let root = self.pieces[ids[0]].root;
                self.new_piece(*output, root, s, total, tier, St::Active);
            }
            Action::RequestFinancing {
                piece: Some(i),
                financier,
                amount,
                rate,
            } => {
                let [Event::FinancingRequested { piece, change, .. }] = ev else {
                    panic!("financing request events {ev:?}");
                };
                let old = self.pieces[*i].clone();
                let st = St::FinReq {
                    financier: *financier,
                    rate: *rate,
                    expires: self.offer_expiry(),
                };
                assert_eq!(change.is_some(), *amount < old.amount, "change piece");
                if let Some(change) = change {
                    self.pieces[*i].st = St::Consumed;
                    self.new_piece(*piece, old.root, s, *amount, old.tier, st);
                    self.new_piece(
                        *change,
                        old.root,
                        s,
                        old.amount - amount,
                        old.tier,
                        St::Active,
                    );
                } else {
                    assert_eq!(*piece, old.id, "a whole piece is locked in place");
                    self.pieces[*i].st = st;
                }
            }
            Action::AcceptFinancing { piece: Some(i), .. } => {
                let [Event::Financed {
                    piece, financier, ..
                }] = ev
                else {
                    panic!("financing events {ev:?}");
                };
                let old = self.pieces[*i].clone();
                let St::FinReq { financier: f, .. } = old.st else {
                    panic!("financed a piece not requested");
                };
                assert_eq!(*financier, self.addrs[f]);
                self.pieces[*i].st = St::Consumed;
                self.new_piece(*piece, old.root, f, old.amount, old.tier, St::Financed);
                let n = self.pieces.len() - 1;
                self.pieces[n].financed = true;
            }
            Action::Settle(Some(r)) => {
                let r = *r;
                let root = self.roots[r].clone();
                let mut expected: Vec<MEntry> = root
                    .pieces
                    .iter()
                    .map(|i| &self.pieces[*i])
                    .filter(|p| p.st.outstanding())
                    .map(|p| {
                        // A transfer part still pending never took effect: its sender is paid.
                        let payee = match p.st {
                            St::Pending { from, .. } => from,
                            _ => p.holder,
                        };
                        (p.id, payee, p.amount, p.frozen)
                    })
                    .collect();
                expected.sort();
                let late =
                    root.overdue || self.today > root.maturity + self.params.overdue_grace_days;
                let [Event::Settled {
                    total,
                    late: l,
                    entries,
                    root: id,
                    ..
                }] = ev
                else {
                    panic!("settle events {ev:?}");
                };
                assert_eq!(*id, root.id);
                assert_eq!(*l, late, "late flag");
                // Invariant 3: the clearing list pays exactly the face, to the expected payees.
                assert_eq!(total.0, root.face, "clearing total");
                let sum: u64 = entries.iter().map(|e| e.amount.0).sum();
                assert_eq!(sum, root.face, "clearing entries sum to the face");
                let got: Vec<MEntry> = entries
                    .iter()
                    .map(|e| (e.piece, self.idx(&e.payee), e.amount.0, e.withheld))
                    .collect();
                assert_eq!(got, expected, "clearing entries (in piece-id order)");
                for i in &root.pieces {
                    if self.pieces[*i].st.outstanding() {
                        self.pieces[*i].st = St::Settled;
                    }
                }
                let rec = &mut self.record;
                // Every model certificate is in CNY: the record's only face entry is CNY's.
                if rec.faces.is_empty() {
                    rec.faces.push(SettledFaces {
                        currency: cny(),
                        on_time: Amount::ZERO,
                        late: Amount::ZERO,
                    });
                }
                if late {
                    rec.settled_late += 1;
                    rec.faces[0].late.0 += root.face;
                } else {
                    rec.settled_on_time += 1;
                    rec.faces[0].on_time.0 += root.face;
                }
                if root.overdue {
                    rec.overdue_now -= 1;
                }
                self.lines.get_mut(&root.grantor).expect("line").used -= root.face;
                self.roots[r].st = RSt::Settled;
                self.roots[r].clearing = Some((self.today, late, expected));
            }
            Action::MarkOverdue(Some(r)) => {
                assert!(matches!(ev, [Event::MarkedOverdue { .. }]), "{ev:?}");
                self.roots[*r].overdue = true;
                self.record.overdue_now += 1;
            }
            Action::Freeze { piece: Some(i), .. } => self.pieces[*i].frozen = true,
            Action::Unfreeze(Some(i)) => self.pieces[*i].frozen = false,
            Action::SetCredit { limit } => {
                self.lines.entry(s).or_default().limit = *limit;
            }
            Action::SetRoles { who, roles, active } => {
                let [Event::ParticipantUpdated {
                    address,
                    roles: r,
                    active: a,
                }] = ev
                else {
                    panic!("participant update events {ev:?}");
                };
                assert_eq!(
                    (*address, *r, *a),
                    (self.addrs[*who], *roles, *active),
                    "participant update event"
                );
                self.roles[*who] = *roles;
                self.active[*who] = *active;
            }
            other => panic!("the model cannot apply {other:?}"),
        }
    }

    fn status_of(&self, s: &PieceStatus) -> St {
        match s {
            PieceStatus::Pending {
                from,
                kind,
                expires,
            } => St::Pending {
                from: self.idx(from),
                issue: *kind == OfferKind::Issue,
                expires: expires.0,
            },
            PieceStatus::Active => St::Active,
            PieceStatus::FinancingRequested {
                financier,
                rate,
                expires,
            } => St::FinReq {
                financier: self.idx(financier),
                rate: rate.0,
                expires: expires.0,
            },
            PieceStatus::Financed => St::Financed,
            PieceStatus::Settled => St::Settled,
            PieceStatus::Consumed => St::Consumed,
            PieceStatus::Rejected => St::Rejected,
            PieceStatus::Cancelled => St::Cancelled,
            PieceStatus::Expired => St::Expired,
        }
    }

    /// The ledger's committed state equals the model's.
    fn compare(&self, l: &Ledger) {
        for m in &self.pieces {
            let p = l
                .piece(&m.id)
                .expect("read")
                .unwrap_or_else(|| panic!("piece {} missing", m.id));
            assert_eq!(p.root, self.roots[m.root].id, "root of {m:?}");
            assert_eq!(p.holder, self.addrs[m.holder], "holder of {m:?}");
            assert_eq!(p.amount.0, m.amount, "amount of {m:?}");
            assert_eq!(p.tier, m.tier, "tier of {m:?}");
            assert_eq!(self.status_of(&p.status), m.st, "status of {m:?}");
            assert_eq!(p.frozen.is_some(), m.frozen, "freeze of {m:?}");
            assert_eq!(p.financing.is_some(), m.financed, "financing of {m:?}");
        }
        let core = self.addrs[CORE];
        let ledger_roots: BTreeSet<Hash32> = l.roots_of(&core).expect("read").into_iter().collect();
        let model_roots: BTreeSet<Hash32> = self.roots.iter().map(|r| r.id).collect();
        assert_eq!(ledger_roots, model_roots, "certificates of core");
        for m in &self.roots {
            let r = l.root(&m.id).expect("read").expect("root");
            let st = match r.status {
                RootStatus::Offered => RSt::Offered,
                RootStatus::Live => RSt::Live,
                RootStatus::Void => RSt::Void,
                RootStatus::Settled => RSt::Settled,
            };
            assert_eq!(st, m.st, "status of certificate {}", m.id);
            assert_eq!(r.face.0, m.face);
            assert_eq!(r.overdue, m.overdue);
            assert_eq!(r.terms.maturity, Day(m.maturity));
            assert_eq!(r.terms.credit_grantor, self.addrs[m.grantor]);
            assert_eq!(r.terms.document, self.docs[m.doc].hash);
            assert_eq!(r.piece_count as usize, m.pieces.len(), "piece count");
            let lineage: BTreeSet<Hash32> = l
                .lineage(&m.id)
                .expect("read")
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            let expected: BTreeSet<Hash32> = m.pieces.iter().map(|i| self.pieces[*i].id).collect();
            assert_eq!(lineage, expected, "lineage of {}", m.id);
            let clearing = l.clearing(&m.id).expect("read");
            match (&m.clearing, clearing) {
                (None, None) => {}
                (Some((day, late, entries)), Some(c)) => {
                    assert_eq!(c.day, Day(*day));
                    assert_eq!(c.late, *late);
                    assert_eq!(c.total.0, m.face);
                    let got: Vec<MEntry> = c
                        .entries
                        .iter()
                        .map(|e| (e.piece, self.idx(&e.payee), e.amount.0, e.withheld))
                        .collect();
                    assert_eq!(&got, entries, "stored clearing list");
                }
                (m, l) => panic!("clearing list: model {m:?}, ledger {l:?}"),
            }
        }
        for d in &self.docs {
            let doc = l.document(&d.hash).expect("read").expect("document");
            assert_eq!(doc.amount.amount.0, d.amount);
            assert_eq!(doc.buyer, core);
            assert_eq!(doc.seller, self.addrs[d.seller]);
            assert_eq!(doc.issued.0, d.issued, "issued against document {}", d.hash);
        }
        for g in 0..N {
            let line = l.credit_line(&core, &cny(), &self.addrs[g]).expect("read");
            let line = line.map(|c| (c.limit.0, c.used.0));
            let model = self.lines.get(&g).map(|m| (m.limit, m.used));
            assert_eq!(line, model, "credit line granted by {}", name(g));
        }
        assert_eq!(l.obligor_record(&core).expect("read"), self.record);
        for i in 0..N {
            let p = l
                .participant(&self.addrs[i])
                .expect("read")
                .expect("participant");
            assert_eq!(
                (p.roles, p.active),
                (self.roles[i], self.active[i]),
                "roles and active flag of {}",
                name(i)
            );
        }
        assert_eq!(
            l.consortium().expect("read").active_operators,
            self.active_operators(),
            "active operators"
        );
    }
}

/// Invariants computed from the ledger alone, with no help from the model.
fn ledger_invariants(l: &Ledger, addrs: &[Address], docs: &[Hash32]) {
    let min = l.params().min_unit;
    let core = addrs[CORE];
    let mut held: BTreeMap<Address, BTreeSet<Hash32>> = BTreeMap::new();
    let mut offers_in: BTreeMap<Address, BTreeSet<Hash32>> = BTreeMap::new();
    let mut offers_out: BTreeMap<Address, BTreeSet<Hash32>> = BTreeMap::new();
    let mut used: BTreeMap<Address, u64> = BTreeMap::new();
    let mut issued: BTreeMap<Hash32, u64> = BTreeMap::new();
    for root in l.roots_of(&core).expect("read") {
        let rec = l.root(&root).expect("read").expect("root");
        let lineage = l.lineage(&root).expect("read");
        assert_eq!(lineage.len(), rec.piece_count as usize, "lineage complete");
        let (mut outstanding, mut settled) = (0u64, 0u64);
        for (id, p) in &lineage {
            assert_eq!(p.root, root);
            // Invariant 2: no zero piece, none below the minimum unit.
            assert!(
                !p.amount.is_zero() && p.amount >= min,
                "piece {id} of {}",
                p.amount
            );
            if p.status.is_outstanding() {
                outstanding += p.amount.0;
            }
            if p.status == PieceStatus::Settled {
                settled += p.amount.0;
            }
            match &p.status {
                PieceStatus::Pending { from, .. } => {
                    offers_in.entry(p.holder).or_default().insert(*id);
                    offers_out.entry(*from).or_default().insert(*id);
                }
                PieceStatus::FinancingRequested { financier, .. } => {
                    held.entry(p.holder).or_default().insert(*id);
                    offers_in.entry(*financier).or_default().insert(*id);
                    offers_out.entry(p.holder).or_default().insert(*id);
                }
                PieceStatus::Active | PieceStatus::Financed => {
                    held.entry(p.holder).or_default().insert(*id);
                }
                _ => {}
            }
        }
        // Invariant 1: conservation per certificate.
        let face = rec.face.0;
        match rec.status {
            RootStatus::Offered | RootStatus::Live => {
                assert_eq!((outstanding, settled), (face, 0), "conservation in {root}");
                *used.entry(rec.terms.credit_grantor).or_default() += face;
            }
            RootStatus::Settled => {
                assert_eq!((outstanding, settled), (0, face), "conservation in {root}")
            }
            RootStatus::Void => assert_eq!((outstanding, settled), (0, 0), "void {root}"),
        }
        if rec.status != RootStatus::Void {
            *issued.entry(rec.terms.document).or_default() += face;
        }
    }
    // Invariant 4: credit used is the face of issued, unsettled, non-void certificates.
    for g in addrs {
        let line_used = l
            .credit_line(&core, &cny(), g)
            .expect("read")
            .map_or(0, |c| c.used.0);
        assert_eq!(line_used, used.get(g).copied().unwrap_or(0), "credit used");
    }
    // Invariant 5: document totals.
    for d in docs {
        let doc = l.document(d).expect("read").expect("document");
        assert!(doc.issued <= doc.amount.amount, "document {d} over-issued");
        assert_eq!(doc.issued.0, issued.get(d).copied().unwrap_or(0), "doc {d}");
    }
    // Invariant 6: indexes and counters agree with a full scan.
    let ids =
        |v: Vec<(Hash32, Piece)>| -> BTreeSet<Hash32> { v.into_iter().map(|(id, _)| id).collect() };
    for a in addrs {
        let (h, i, o) = (
            ids(l.holdings(a).expect("read")),
            ids(l.offers_in(a).expect("read")),
            ids(l.offers_out(a).expect("read")),
        );
        assert_eq!(h, held.remove(a).unwrap_or_default(), "holdings of {a}");
        assert_eq!(i, offers_in.remove(a).unwrap_or_default(), "offers to {a}");
        assert_eq!(o, offers_out.remove(a).unwrap_or_default(), "offers by {a}");
        let acct = l.account(a).expect("read");
        assert_eq!(
            (
                acct.holdings as usize,
                acct.offers_in as usize,
                acct.offers_out as usize
            ),
            (h.len(), i.len(), o.len()),
            "counters of {a}"
        );
    }
    assert!(
        held.is_empty() && offers_in.is_empty() && offers_out.is_empty(),
        "pieces held by or offered to strangers"
    );
}

// ---- abstract operations ------------------------------------------------------------------

/// A signer: the one the model believes is right, or (sometimes) an arbitrary participant.
#[derive(Clone, Copy, Debug)]
struct Who {
    right: bool,
    alt: u8,
}

/// A piece or certificate: mostly from those the operation fits, else from all of them.
#[derive(Clone, Copy, Debug)]
struct Sel {
    fit: bool,
    idx: u16,
}

/// An amount relative to a base: per mille of it, an absolute amount, or all of it but `k`.
#[derive(Clone, Copy, Debug)]
enum Amt {
    Frac(u16),
    Abs(u64),
    AllBut(u64),
}

impl Amt {
    fn of(self, base: u64) -> u64 {
        match self {
            Amt::Frac(f) => base * u64::from(f) / 1000,
            Amt::Abs(a) => a,
            Amt::AllBut(k) => base.saturating_sub(k),
        }
    }
}

/// An abstract operation, resolved against the model's state only when it runs (see
/// `Harness::resolve`), so any sequence is meaningful and shrinks well. `follow` answers the
/// offers the operation makes, two bits per offer: accept, accept, leave open, reject.
#[derive(Clone, Debug)]
enum Op {
    Anchor {
        seller: u8,
        amount: u64,
        reuse: bool,
        signer: Who,
    },
    Issue {
        fresh: bool,
        doc: u16,
        doc_amount: u64,
        seller: u8,
        amount: Amt,
        days: u32,
        to: Who,
        grantor: u8,
        signer: Who,
        follow: u8,
    },
    Accept {
        piece: Sel,
        signer: Who,
    },
    Reject {
        piece: Sel,
        signer: Who,
    },
    Cancel {
        piece: Sel,
        signer: Who,
    },
    Transfer {
        piece: Sel,
        outputs: Vec<(u8, Amt)>,
        signer: Who,
        follow: u8,
    },
    Merge {
        first: Sel,
        more: Vec<u16>,
        signer: Who,
    },
    RequestFinancing {
        piece: Sel,
        financier: u8,
        amount: Amt,
        rate: u32,
        signer: Who,
        follow: u8,
    },
    AcceptFinancing {
        piece: Sel,
        reference: u8,
        signer: Who,
    },
    Advance {
        days: u32,
    },
    /// Advance to a day near a certificate's maturity: from the day before maturity
    /// (`offset` 0) on, through the end of the overdue grace period and past it.
    AdvanceNear {
        root: Sel,
        offset: u8,
    },
    Settle {
        root: Sel,
        signer: Who,
    },
    MarkOverdue {
        root: Sel,
        signer: u8,
    },
    Freeze {
        piece: Sel,
        reason: u16,
        signer: Who,
    },
    Unfreeze {
        piece: Sel,
        signer: Who,
    },
    SetCredit {
        limit: u64,
        signer: Who,
    },
    /// An operator changes a participant's roles and active flag (`who`, `roles` and
    /// `active` are resolved by `Harness::role_change`); if the participant was chosen as
    /// the answerer of an open offer, it then answers it as two bits of `roles >> 4` say.
    SetRoles {
        who: u8,
        roles: u8,
        active: bool,
        signer: Who,
    },
    /// Several operations whose transactions share one block (an advance closes it).
    Batch(Vec<Op>),
}

fn who() -> impl Strategy<Value = Who> {
    (0u8..10, any::<u8>()).prop_map(|(r, alt)| Who { right: r != 0, alt })
}

fn sel() -> impl Strategy<Value = Sel> {
    (0u8..8, any::<u16>()).prop_map(|(f, idx)| Sel { fit: f != 0, idx })
}

fn amt() -> impl Strategy<Value = Amt> {
    prop_oneof![
        20 => (1u16..=1000).prop_map(Amt::Frac),
        1 => (1001u16..=1300).prop_map(Amt::Frac),
        1 => (0u64..=250).prop_map(Amt::Abs),
        1 => (0u64..=150).prop_map(Amt::AllBut),
    ]
}

fn tenor() -> impl Strategy<Value = u32> {
    prop_oneof![10 => 2u32..=12, 6 => 13u32..=45, 1 => Just(0u32), 1 => 360u32..=370]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => leaf_op(),
        1 => prop::collection::vec(leaf_op(), 2..=5).prop_map(Op::Batch),
    ]
}

fn leaf_op() -> impl Strategy<Value = Op> {
    let anchor = (
        any::<u8>(),
        prop_oneof![19 => 100u64..=400_000, 1 => Just(0u64)],
        prop::bool::weighted(0.1),
        who(),
    )
        .prop_map(|(seller, amount, reuse, signer)| Op::Anchor {
            seller,
            amount,
            reuse,
            signer,
        });
    let issue = (
        prop::bool::weighted(0.7),
        any::<u16>(),
        100u64..=400_000,
        any::<u8>(),
        amt(),
        tenor(),
        who(),
        any::<u8>(),
        who(),
        prop_oneof![6 => Just(0u8), 1 => Just(2u8), 1 => Just(3u8)],
    )
        .prop_map(
            |(fresh, doc, doc_amount, seller, amount, days, to, grantor, signer, follow)| {
                Op::Issue {
                    fresh,
                    doc,
                    doc_amount,
                    seller,
                    amount,
                    days,
                    to,
                    grantor,
                    signer,
                    follow,
                }
            },
        )
        .boxed();
    let outputs = prop_oneof![
        1 => Just(Vec::new()),
        16 => prop::collection::vec((any::<u8>(), amt()), 1..=3),
        2 => prop::collection::vec((any::<u8>(), amt()), 4..=6),
    ];
    let rate = prop_oneof![18 => 1u32..=200_000, 1 => Just(0u32), 1 => 500_001u32..=600_000];
    let advance = prop_oneof![6 => 1u32..=5, 3 => 6u32..=15, 1 => 20u32..=40];
    let transfer = (sel(), outputs, who(), any::<u8>())
        .prop_map(|(piece, outputs, signer, follow)| Op::Transfer {
            piece,
            outputs,
            signer,
            follow,
        })
        .boxed();
    let financing = (sel(), any::<u8>(), amt(), rate, who(), any::<u8>())
        .prop_map(
            |(piece, financier, amount, rate, signer, follow)| Op::RequestFinancing {
                piece,
                financier,
                amount,
                rate,
                signer,
                follow,
            },
        )
        .boxed();
    let set_roles = (any::<u8>(), any::<u8>(), prop::bool::weighted(0.7), who())
        .prop_map(|(who, roles, active, signer)| Op::SetRoles {
            who,
            roles,
            active,
            signer,
        })
        .boxed();
    // An offer by its right signer, left open, then a change (never a restoration) of the
    // roles or activity of one who has an offer to answer (most likely this one), who
    // answers it: the change lands between offer and answer.
    let offer_then_change = (
        prop_oneof![3 => issue.clone(), 2 => transfer.clone(), 1 => financing.clone()],
        set_roles.clone(),
    )
        .prop_map(|(mut offer, mut change)| {
            if let Op::Issue { follow, signer, .. }
            | Op::Transfer { follow, signer, .. }
            | Op::RequestFinancing { follow, signer, .. } = &mut offer
            {
                *follow = 0b1010_1010;
                signer.right = true;
            }
            if let Op::SetRoles { who, roles, .. } = &mut change {
                *who = 160 + *who % 64;
                *roles = 160 + *roles % 96;
            }
            Op::Batch(vec![offer, change])
        });
    prop_oneof![
        2 => (sel(), 0u8..=6).prop_map(|(root, offset)| Op::AdvanceNear { root, offset }),
        1 => anchor,
        4 => issue,
        3 => (sel(), who()).prop_map(|(piece, signer)| Op::Accept { piece, signer }),
        1 => (sel(), who()).prop_map(|(piece, signer)| Op::Reject { piece, signer }),
        2 => (sel(), who()).prop_map(|(piece, signer)| Op::Cancel { piece, signer }),
        6 => transfer,
        2 => (
            sel(),
            prop_oneof![1 => prop::collection::vec(any::<u16>(), 0..=0), 7 => prop::collection::vec(any::<u16>(), 1..=3)],
            who()
        )
            .prop_map(|(first, more, signer)| Op::Merge { first, more, signer }),
        2 => financing,
        2 => (sel(), any::<u8>(), who()).prop_map(|(piece, reference, signer)| {
            Op::AcceptFinancing {
                piece,
                reference,
                signer,
            }
        }),
        5 => advance.prop_map(|days| Op::Advance { days }),
        3 => (sel(), who()).prop_map(|(root, signer)| Op::Settle { root, signer }),
        1 => (sel(), any::<u8>()).prop_map(|(root, signer)| Op::MarkOverdue { root, signer }),
        1 => (sel(), any::<u16>(), who()).prop_map(|(piece, reason, signer)| Op::Freeze {
            piece,
            reason,
            signer
        }),
        1 => (sel(), who()).prop_map(|(piece, signer)| Op::Unfreeze { piece, signer }),
        1 => (
            prop_oneof![3 => 0u64..=2_000_000, 1 => Just(FIXTURE_LIMIT)],
            who()
        )
            .prop_map(|(limit, signer)| Op::SetCredit { limit, signer }),
        1 => set_roles,
        1 => offer_then_change,
    ]
}

/// Longest random sequence (operations that find nothing to act on are skipped).
const MAX_OPS: usize = 60;

fn ops(max: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=max)
}

/// An accept-financing action with a payment reference chosen by `r`: mostly valid,
/// sometimes empty or too long.
fn accept_financing(piece: Option<usize>, r: u8) -> Action {
    let reference = match r {
        0..=240 => format!("PAY-{r}"),
        241..=248 => String::new(),
        _ => "x".repeat(65),
    };
    Action::AcceptFinancing { piece, reference }
}

/// A supplier most of the time, any participant sometimes.
fn recipient(r: u8) -> usize {
    if r < 230 {
        SUPPLIERS[usize::from(r) % SUPPLIERS.len()]
    } else {
        usize::from(r) % N
    }
}

/// The recipient of output `k` of a transfer by `holder`: mostly distinct suppliers other
/// than the holder; sometimes a repeated one, the holder itself or any participant.
fn transfer_recipient(holder: usize, first: u8, k: usize, r: u8) -> usize {
    let others: Vec<usize> = SUPPLIERS.iter().copied().filter(|&s| s != holder).collect();
    match r {
        0..=199 => others[(usize::from(first) + k) % others.len()],
        200..=229 => others[usize::from(r) % others.len()],
        230..=241 => holder,
        _ => usize::from(r) % N,
    }
}

// ---- the harness --------------------------------------------------------------------------

struct Harness {
    fx: Fixture,
    m: Model,
    docs_made: u64,
    /// App hash after every committed block.
    hashes: Vec<Hash32>,
    /// Per action: (accepted, rejected).
    stats: BTreeMap<&'static str, (u32, u32)>,
    /// Per action and error: how often the ledger refused it so.
    refusals: BTreeMap<(&'static str, String), u32>,
    /// Operations that found nothing of the kind they act on.
    skipped: u32,
    /// A block is open.
    open: bool,
    /// Inside a batch: transactions share a block until the batch ends.
    batch: bool,
}

impl Harness {
    /// A harness over a fresh standard fixture (`Fixture::standard` or `standard_with`).
    fn new(fx: Fixture) -> Harness {
        let params = fx.ledger.params().clone();
        let addrs: Vec<Address> = (0..N).map(|i| fx.addr(name(i))).collect();
        let today = fx.today().0;
        let mut lines = BTreeMap::new();
        lines.insert(
            BANK,
            MLine {
                limit: FIXTURE_LIMIT,
                used: 0,
            },
        );
        Harness {
            fx,
            m: Model {
                params,
                addrs,
                today,
                pieces: Vec::new(),
                by_id: BTreeMap::new(),
                roots: Vec::new(),
                docs: Vec::new(),
                lines,
                record: ObligorRecord::default(),
                roles: (0..N).map(normal_roles).collect(),
                active: vec![true; N],
            },
            docs_made: 0,
            hashes: Vec::new(),
            stats: BTreeMap::new(),
            refusals: BTreeMap::new(),
            skipped: 0,
            open: false,
            batch: false,
        }
    }

    fn who(w: Who, right: usize) -> usize {
        if w.right {
            right
        } else {
            usize::from(w.alt) % N
        }
    }

    /// A piece for `sel`: one that `fits` if `sel.fit` (`None` if there is none), else any
    /// piece at all (`Some(None)`, an unknown id, if there is none).
    fn pick(&self, sel: Sel, fits: impl Fn(&MPiece) -> bool) -> Option<Option<usize>> {
        let all = self.m.pieces.len();
        if sel.fit {
            let c: Vec<usize> = (0..all).filter(|&i| fits(&self.m.pieces[i])).collect();
            return (!c.is_empty()).then(|| Some(c[usize::from(sel.idx) % c.len()]));
        }
        Some((all > 0).then(|| usize::from(sel.idx) % all))
    }

    /// A certificate for `sel`: if `sel.fit`, a live one that `fits` (`None` if there is
    /// none); otherwise any certificate at all (`Some(None)`, an unknown id, if none).
    fn pick_root(&self, sel: Sel, fits: impl Fn(&MRoot) -> bool) -> Option<Option<usize>> {
        let all = self.m.roots.len();
        if sel.fit {
            let c: Vec<usize> = (0..all)
                .filter(|&i| self.m.roots[i].st == RSt::Live && fits(&self.m.roots[i]))
                .collect();
            return (!c.is_empty()).then(|| Some(c[usize::from(sel.idx) % c.len()]));
        }
        Some((all > 0).then(|| usize::from(sel.idx) % all))
    }

    fn fresh_doc_hash(&mut self) -> Hash32 {
        self.docs_made += 1;
        Hash32(sha256(format!("model-doc-{}", self.docs_made).as_bytes()))
    }

    /// The obligor anchors a fresh document of `amount` with T1 as seller (scripted tests).
    fn anchor_for_t1(&mut self, amount: u64) {
        let hash = self.fresh_doc_hash();
        self.must(
            CORE,
            Action::Anchor {
                hash,
                seller: T1,
                amount,
            },
        );
    }

    fn body(&self, a: &Action) -> TxBody {
        let m = &self.m;
        let addr = |i: usize| m.addrs[i];
        match a {
            Action::Anchor {
                hash,
                seller,
                amount,
            } => TxBody::AnchorDocument {
                hash: *hash,
                amount: Money {
                    amount: Amount(*amount),
                    currency: cny(),
                },
                buyer: addr(CORE),
                seller: addr(*seller),
            },
            Action::Issue {
                doc,
                to,
                amount,
                days,
                grantor,
            } => TxBody::Issue {
                to: addr(*to),
                amount: Amount(*amount),
                currency: cny(),
                maturity: Day(m.today + days),
                document: m.docs[*doc].hash,
                credit_grantor: addr(*grantor),
            },
            Action::Accept(p) => TxBody::Accept {
                piece: m.piece_id(*p),
            },
            Action::Reject(p) => TxBody::Reject {
                piece: m.piece_id(*p),
            },
            Action::Cancel(p) => TxBody::Cancel {
                piece: m.piece_id(*p),
            },
            Action::Transfer { piece, outputs } => TxBody::Transfer {
                piece: m.piece_id(*piece),
                outputs: outputs
                    .iter()
                    .map(|(to, a)| Output {
                        to: addr(*to),
                        amount: Amount(*a),
                    })
                    .collect(),
            },
            Action::Merge(ps) => TxBody::Merge {
                pieces: ps.iter().map(|p| m.piece_id(*p)).collect(),
            },
            Action::RequestFinancing {
                piece,
                financier,
                amount,
                rate,
            } => TxBody::RequestFinancing {
                piece: m.piece_id(*piece),
                financier: addr(*financier),
                amount: Amount(*amount),
                rate: AnnualRate(*rate),
            },
            Action::AcceptFinancing { piece, reference } => TxBody::AcceptFinancing {
                piece: m.piece_id(*piece),
                payment_reference: reference.clone(),
            },
            Action::Settle(r) => TxBody::Settle {
                root: m.root_id(*r),
            },
            Action::MarkOverdue(r) => TxBody::MarkOverdue {
                root: m.root_id(*r),
            },
            Action::Freeze { piece, reason } => TxBody::Freeze {
                piece: m.piece_id(*piece),
                reason: *reason,
            },
            Action::Unfreeze(p) => TxBody::Unfreeze {
                piece: m.piece_id(*p),
            },
            Action::SetCredit { limit } => TxBody::SetCreditLine {
                obligor: addr(CORE),
                currency: cny(),
                limit: Amount(*limit),
            },
            Action::SetRoles { who, roles, active } => TxBody::UpdateParticipant {
                address: addr(*who),
                roles: *roles,
                active: *active,
            },
        }
    }

    /// Resolves an abstract operation against the model's current state; `None` when `fit`
    /// asks for a piece or certificate of a kind that does not exist right now.
    fn resolve(&mut self, op: &Op) -> Option<(usize, Action)> {
        let active = |p: &MPiece| p.st == St::Active && !p.frozen;
        let holder_of = |h: &Harness, p: Option<usize>| p.map_or(T1, |i| h.m.pieces[i].holder);
        Some(match op {
            Op::Anchor {
                seller,
                amount,
                reuse,
                signer,
            } => {
                let seller = recipient(*seller);
                let hash = if *reuse && !self.m.docs.is_empty() {
                    self.m.docs[usize::from(signer.alt) % self.m.docs.len()].hash
                } else {
                    self.fresh_doc_hash()
                };
                let action = Action::Anchor {
                    hash,
                    seller,
                    amount: *amount,
                };
                (Self::who(*signer, CORE), action)
            }
            Op::Issue {
                fresh,
                doc,
                amount,
                days,
                to,
                grantor,
                signer,
                ..
            } => {
                // `step` anchors a fresh document first when asked or when there is none
                // (which fails while `core` or the seller is inactive or out of role).
                let n = self.m.docs.len();
                if n == 0 {
                    return None;
                }
                let doc = if *fresh { n - 1 } else { usize::from(*doc) % n };
                let d = &self.m.docs[doc];
                let remaining = d.amount - d.issued;
                let base = if remaining >= 100 {
                    remaining
                } else {
                    d.amount
                };
                let grantor = if *grantor < 240 {
                    BANK
                } else {
                    [FACTOR, OPERATOR, BANK][usize::from(*grantor) % 3]
                };
                let action = Action::Issue {
                    doc,
                    to: Self::who(*to, d.seller),
                    amount: amount.of(base),
                    days: *days,
                    grantor,
                };
                (Self::who(*signer, CORE), action)
            }
            Op::Accept { piece, signer } => {
                let p = self.pick(*piece, |p| matches!(p.st, St::Pending { .. }) && !p.frozen)?;
                (Self::who(*signer, holder_of(self, p)), Action::Accept(p))
            }
            Op::Reject { piece, signer } | Op::Cancel { piece, signer } => {
                let p = self.pick(*piece, |p| {
                    matches!(p.st, St::Pending { .. } | St::FinReq { .. }) && !p.frozen
                })?;
                let reject = matches!(op, Op::Reject { .. });
                let right = p.map_or(T1, |i| self.answerer(i, reject));
                let action = if reject {
                    Action::Reject(p)
                } else {
                    Action::Cancel(p)
                };
                (Self::who(*signer, right), action)
            }
            Op::Transfer {
                piece,
                outputs,
                signer,
                ..
            } => {
                // Mostly pieces whose certificate has not matured yet; a third of the time
                // the deepest one, so chains down the tiers reach the tier limit.
                let today = self.m.today;
                let fits = |p: &MPiece| {
                    active(p) && (today < self.m.roots[p.root].maturity || piece.idx % 5 == 0)
                };
                let p = if piece.fit && piece.idx % 3 == 1 {
                    let pieces = &self.m.pieces;
                    let deepest = (0..pieces.len())
                        .filter(|&i| fits(&pieces[i]))
                        .max_by_key(|&i| (pieces[i].tier, i));
                    Some(deepest?)
                } else {
                    self.pick(*piece, fits)?
                };
                let base = p.map_or(10_000, |i| self.m.pieces[i].amount);
                let share = base / outputs.len().max(1) as u64;
                let holder = holder_of(self, p);
                let first = outputs.first().map_or(0, |o| o.0);
                let outputs = outputs
                    .iter()
                    .enumerate()
                    .map(|(k, (r, a))| (transfer_recipient(holder, first, k, *r), a.of(share)))
                    .collect();
                let action = Action::Transfer { piece: p, outputs };
                (Self::who(*signer, holder_of(self, p)), action)
            }
            Op::Merge {
                first,
                more,
                signer,
            } => {
                let all = self.m.pieces.len();
                // Mostly before maturity, as for transfers.
                let today = self.m.today;
                let live = |p: &MPiece| {
                    active(p) && (today < self.m.roots[p.root].maturity || first.idx % 5 == 0)
                };
                // Pieces `fp` can merge with: same holder and certificate.
                let partners = |fp: &MPiece| -> Vec<usize> {
                    (0..all)
                        .filter(|&j| {
                            let q = &self.m.pieces[j];
                            q.id != fp.id && live(q) && q.holder == fp.holder && q.root == fp.root
                        })
                        .collect()
                };
                // With `fit`, a piece that has partners.
                let picked = self.pick(*first, |p| live(p) && !partners(p).is_empty())?;
                let ids = match picked {
                    None => vec![None, None],
                    Some(f) if first.fit => {
                        let rest = partners(&self.m.pieces[f]);
                        let off = usize::from(more.first().copied().unwrap_or(0));
                        let mut ids = vec![Some(f)];
                        for k in 0..more.len().min(rest.len()) {
                            ids.push(Some(rest[(off + k) % rest.len()]));
                        }
                        ids
                    }
                    Some(f) => std::iter::once(Some(f))
                        .chain(more.iter().map(|m| Some(usize::from(*m) % all)))
                        .collect(),
                };
                let right = holder_of(self, ids[0]);
                (Self::who(*signer, right), Action::Merge(ids))
            }
            Op::RequestFinancing {
                piece,
                financier,
                amount,
                rate,
                signer,
                ..
            } => {
                let today = self.m.today;
                let p = self.pick(*piece, |p| {
                    active(p)
                        && !p.financed
                        && (today < self.m.roots[p.root].maturity || piece.idx % 5 == 0)
                })?;
                let base = p.map_or(10_000, |i| self.m.pieces[i].amount);
                let financier = if *financier < 230 {
                    FINANCIERS[usize::from(*financier) % 2]
                } else {
                    usize::from(*financier) % N
                };
                let action = Action::RequestFinancing {
                    piece: p,
                    financier,
                    amount: amount.of(base),
                    rate: *rate,
                };
                (Self::who(*signer, holder_of(self, p)), action)
            }
            Op::AcceptFinancing {
                piece,
                reference,
                signer,
            } => {
                let p = self.pick(*piece, |p| matches!(p.st, St::FinReq { .. }) && !p.frozen)?;
                let right = p.map_or(BANK, |i| self.answerer(i, true));
                (Self::who(*signer, right), accept_financing(p, *reference))
            }
            Op::Settle { root, signer } => {
                let today = self.m.today;
                let r = self.pick_root(*root, |r| today >= r.maturity)?;
                (Self::who(*signer, CORE), Action::Settle(r))
            }
            Op::MarkOverdue { root, signer } => {
                let grace = self.m.params.overdue_grace_days;
                let today = self.m.today;
                let r = self.pick_root(*root, |r| !r.overdue && today > r.maturity + grace)?;
                (usize::from(*signer) % N, Action::MarkOverdue(r))
            }
            Op::Freeze {
                piece,
                reason,
                signer,
            } => {
                // Often an open offer, whose expiry the freeze suspends.
                let offers = piece.idx % 2 == 0;
                let p = self.pick(*piece, |p| {
                    p.st.outstanding() && !p.frozen && (!offers || p.st.offer_expiry().is_some())
                })?;
                let right = [OPERATOR, AUDITOR][usize::from(signer.alt) % 2];
                let action = Action::Freeze {
                    piece: p,
                    reason: *reason,
                };
                (Self::who(*signer, right), action)
            }
            Op::Unfreeze { piece, signer } => {
                let p = self.pick(*piece, |p| p.frozen)?;
                let right = [OPERATOR, AUDITOR][usize::from(signer.alt) % 2];
                (Self::who(*signer, right), Action::Unfreeze(p))
            }
            Op::SetCredit { limit, signer } => (
                Self::who(*signer, BANK),
                Action::SetCredit { limit: *limit },
            ),
            Op::Advance { .. } | Op::AdvanceNear { .. } | Op::Batch(_) | Op::SetRoles { .. } => {
                unreachable!("handled by `step`")
            }
        })
    }

    /// A participant's new roles and active flag, and the open offer (if any) it then
    /// answers. Mostly (five times in eight), while some participants' roles or activity differ from the
    /// start, one of them is restored (answering an offer it has, if any). Otherwise the
    /// participant is mostly a supplier or financier, often one with an open offer to answer
    /// (so that the answer meets the change), any participant sometimes; it is deactivated,
    /// made auditor-only, given the other business role, made an operator too, or (rarely)
    /// given an invalid role set.
    fn role_change(&self, who: u8, roles: u8, active: bool) -> (Action, Option<usize>) {
        let open: Vec<usize> = (0..self.m.pieces.len())
            .filter(|&i| {
                let p = &self.m.pieces[i];
                !p.frozen && matches!(p.st, St::Pending { .. } | St::FinReq { .. })
            })
            .collect();
        let changed: Vec<usize> = (0..N)
            .filter(|&i| self.m.roles[i] != normal_roles(i) || !self.m.active[i])
            .collect();
        if roles < 160 && !changed.is_empty() {
            let who = changed[usize::from(who) % changed.len()];
            let offer = open
                .iter()
                .copied()
                .find(|&i| self.answerer(i, true) == who);
            let action = Action::SetRoles {
                who,
                roles: normal_roles(who),
                active: true,
            };
            return (action, offer);
        }
        let (who, offer) = match who {
            160..=223 if !open.is_empty() => {
                let i = open[usize::from(who) % open.len()];
                (self.answerer(i, true), Some(i))
            }
            0..=223 => (TOGGLED[usize::from(who) % TOGGLED.len()], None),
            _ => (usize::from(who) % N, None),
        };
        let normal = normal_roles(who);
        let (roles, active) = match roles % 16 {
            0..=5 => (normal, false),
            6..=9 => (Roles::AUDITOR, active),
            10 | 11 if normal == Roles::SUPPLIER => (Roles::FINANCIER, active),
            10 | 11 => (Roles::SUPPLIER, active),
            12 | 13 => (normal.with(Roles::OPERATOR), active),
            14 => (Roles(0), active),
            _ => (Roles(normal.0 | 0x20), active),
        };
        (Action::SetRoles { who, roles, active }, offer)
    }

    /// An active operator, the fixture's own while it is one.
    fn an_operator(&self) -> usize {
        (0..N)
            .find(|&i| self.m.active[i] && self.m.has_any(i, Roles::OPERATOR))
            .unwrap_or(OPERATOR)
    }

    /// Who answers an offer: the recipient (or financier) to accept or reject it, the
    /// sender (or requesting holder) to cancel it.
    fn answerer(&self, i: usize, recipient: bool) -> usize {
        let x = &self.m.pieces[i];
        match (&x.st, recipient) {
            (St::Pending { .. }, true) | (St::FinReq { .. }, false) => x.holder,
            (St::Pending { from, .. }, false) => *from,
            (St::FinReq { financier, .. }, true) => *financier,
            _ => x.holder,
        }
    }

    /// Follow-up answer to the offer `i` just made, chosen by two bits of `follow`:
    /// accept (twice as likely), leave it open, or reject.
    fn answer(&mut self, i: usize, bits: u8) {
        let who = self.answerer(i, true);
        let action = match (bits & 3, &self.m.pieces[i].st) {
            (0 | 1, St::Pending { .. }) => Action::Accept(Some(i)),
            (0 | 1, St::FinReq { .. }) => accept_financing(Some(i), bits),
            (3, St::Pending { .. } | St::FinReq { .. }) => Action::Reject(Some(i)),
            _ => return,
        };
        self.run(who, action);
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Advance { days } => {
                // An empty block of its own (closing any batch block first).
                if self.open {
                    self.commit();
                }
                self.fx.advance_days(*days);
                self.m.today += days;
                self.begin();
                self.commit();
                return;
            }
            Op::AdvanceNear { root, offset } => {
                let today = self.m.today;
                let target = self
                    .pick_root(Sel { fit: true, ..*root }, |_| true)
                    .flatten()
                    .map(|r| self.m.roots[r].maturity + u32::from(*offset))
                    .filter(|t| *t > today + 1);
                match target {
                    Some(t) => self.step(&Op::Advance {
                        days: t - 1 - today,
                    }),
                    None => self.skipped += 1,
                }
                return;
            }
            Op::SetRoles {
                who,
                roles,
                active,
                signer,
            } => {
                let (action, offer) = self.role_change(*who, *roles, *active);
                self.run(Self::who(*signer, self.an_operator()), action);
                // The one chosen to answer an offer now answers it, or leaves it open.
                if let Some(i) = offer {
                    self.answer(i, roles >> 4);
                }
                return;
            }
            Op::Batch(ops) => {
                self.batch = true;
                for op in ops {
                    self.step(op);
                }
                self.batch = false;
                if self.open {
                    self.commit();
                }
                return;
            }
            Op::Issue {
                fresh,
                doc_amount,
                seller,
                ..
            } if *fresh || self.m.docs.is_empty() => {
                // A document of its own, like `Fixture::issue`; usually with tier 1 as seller.
                let seller = if *seller < 160 {
                    T1
                } else {
                    SUPPLIERS[usize::from(*seller) % SUPPLIERS.len()]
                };
                let hash = self.fresh_doc_hash();
                let amount = *doc_amount;
                self.run(
                    CORE,
                    Action::Anchor {
                        hash,
                        seller,
                        amount,
                    },
                );
            }
            _ => {}
        }
        let Some((signer, action)) = self.resolve(op) else {
            self.skipped += 1;
            return;
        };
        let before = self.m.pieces.len();
        let accepted = self.run(signer, action);
        // Follow-ups: answer the offers just made, as their recipients would.
        let follow = match op {
            Op::Issue { follow, .. }
            | Op::Transfer { follow, .. }
            | Op::RequestFinancing { follow, .. } => *follow,
            _ => return,
        };
        if !accepted {
            return;
        }
        let offers: Vec<usize> = (before..self.m.pieces.len())
            .filter(|&i| matches!(self.m.pieces[i].st, St::Pending { .. } | St::FinReq { .. }))
            .collect();
        for (k, i) in offers.into_iter().enumerate() {
            self.answer(i, follow >> (2 * (k % 4)));
        }
    }

    /// One transaction in a block of its own: block-level expiry, then the transaction,
    /// checked against the model's prediction, then every invariant. True if accepted.
    fn run(&mut self, signer: usize, action: Action) -> bool {
        self.begin();
        let broken = self.m.check(signer, &action);
        let bytes = self.fx.sign(name(signer), self.body(&action));
        let result = self.fx.deliver(&bytes);
        let accepted = result.is_ok();
        let stat = self.stats.entry(action.name()).or_default();
        match result {
            Ok(receipt) => {
                assert!(
                    broken.is_empty(),
                    "{} accepted {action:?}, which breaks {broken:?}",
                    name(signer)
                );
                stat.0 += 1;
                self.m.apply(signer, &action, &receipt.events);
            }
            Err(e) => {
                assert!(
                    broken.contains(&kind(&e).as_str()),
                    "{} was refused {action:?} with {e:?} ({e}); the model expected {}",
                    name(signer),
                    if broken.is_empty() {
                        "success".to_string()
                    } else {
                        format!("one of {broken:?}")
                    }
                );
                stat.1 += 1;
                *self.refusals.entry((action.name(), kind(&e))).or_default() += 1;
            }
        }
        if !self.batch {
            self.commit();
        }
        accepted
    }

    /// Opens a block if none is open; the model predicts its offer expiry.
    fn begin(&mut self) {
        if !self.open {
            assert_eq!(self.fx.today().0, self.m.today, "model clock");
            let events = self.fx.begin();
            self.m.expire(&events);
            self.open = true;
        }
    }

    fn commit(&mut self) {
        self.open = false;
        let c = self.fx.commit();
        self.hashes.push(c.app_hash);
        self.check();
    }

    fn check(&self) {
        let l = &self.fx.ledger;
        self.m.compare(l);
        l.check_indexes()
            .unwrap_or_else(|e| panic!("the in-memory indexes differ from the state: {e}"));
        let docs: Vec<Hash32> = self.m.docs.iter().map(|d| d.hash).collect();
        ledger_invariants(l, &self.m.addrs, &docs);
    }

    fn run_all(&mut self, ops: &[Op]) {
        for op in ops {
            self.step(op);
        }
    }
}

/// Tight limits so the tier, output and merge limits are reached in short sequences.
fn tight_params() -> Params {
    Params {
        min_unit: Amount(500),
        max_outputs: 4,
        max_merge_inputs: 3,
        max_tier: 3,
        max_tenor_days: 120,
        offer_expiry_days: 5,
        overdue_grace_days: 2,
        max_offers_out: 4,
        ..Params::default()
    }
}

/// Cases per random test; `PROPTEST_CASES` overrides it for longer runs.
const CASES: u32 = 64;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn model_agrees_with_ledger_default_params(ops in ops(MAX_OPS)) {
        Harness::new(Fixture::standard()).run_all(&ops);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn model_agrees_with_ledger_tight_params(ops in ops(MAX_OPS)) {
        Harness::new(Fixture::standard_with(tight_params())).run_all(&ops);
    }
}

#[test]
fn cast_matches_the_fixture() {
    let expected = [
        "operator", "auditor", "core", "t1", "t2a", "t2b", "t3a", "t3b", "bank", "factor",
    ];
    let names: Vec<&str> = STANDARD_PARTICIPANTS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, expected);
    assert_eq!(name(T2A), "t2a");
    assert_eq!(name(T2B), "t2b");
    assert_eq!(name(T3A), "t3a");
}

// ---- deterministic replay -----------------------------------------------------------------

fn right() -> Who {
    Who {
        right: true,
        alt: 0,
    }
}

fn fit(idx: u16) -> Sel {
    Sel { fit: true, idx }
}

/// A scripted lifecycle (issue, split down three tiers, finance, freeze, settle) followed by
/// a long pseudo-random tail drawn from a fixed seed.
fn fixed_sequence() -> Vec<Op> {
    let issue = |amount: u16, days: u32| Op::Issue {
        fresh: true,
        doc: 0,
        doc_amount: 1_000_000,
        seller: 0,
        amount: Amt::Frac(amount),
        days,
        to: right(),
        grantor: 0,
        signer: right(),
        follow: 2,
    };
    let mut ops = vec![
        issue(1000, 30),
        Op::Accept {
            piece: fit(0),
            signer: right(),
        },
        Op::Transfer {
            piece: fit(0),
            outputs: vec![(1, Amt::Frac(600)), (2, Amt::Frac(200))],
            signer: right(),
            follow: 2,
        },
        Op::Accept {
            piece: fit(0),
            signer: right(),
        },
        Op::Accept {
            piece: fit(0),
            signer: right(),
        },
        Op::Transfer {
            piece: fit(0),
            outputs: vec![(3, Amt::Frac(500))],
            signer: right(),
            follow: 2,
        },
        Op::Accept {
            piece: fit(0),
            signer: right(),
        },
        Op::RequestFinancing {
            piece: fit(0),
            financier: 0,
            amount: Amt::Frac(500),
            rate: 43_500,
            signer: right(),
            follow: 2,
        },
        Op::AcceptFinancing {
            piece: fit(0),
            reference: 1,
            signer: right(),
        },
        issue(400, 10),
        Op::Freeze {
            piece: fit(0),
            reason: 7,
            signer: right(),
        },
        Op::Advance { days: 8 },
        Op::Unfreeze {
            piece: fit(0),
            signer: right(),
        },
        Op::Advance { days: 25 },
        Op::Settle {
            root: fit(0),
            signer: right(),
        },
    ];
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[0x5a; 32]),
    );
    let tail = prop::collection::vec(op(), 150)
        .new_tree(&mut runner)
        .expect("a sequence")
        .current();
    ops.extend(tail);
    ops
}

#[test]
fn replay_gives_identical_app_hashes_after_every_block() {
    let ops = fixed_sequence();
    let mut a = Harness::new(Fixture::standard());
    let mut b = Harness::new(Fixture::standard());
    for (n, op) in ops.iter().enumerate() {
        a.step(op);
        b.step(op);
        assert_eq!(
            a.hashes, b.hashes,
            "app hashes diverge at operation {n}: {op:?}"
        );
    }
    // Every block writes its height and day, so no two versions share an app hash.
    let distinct: BTreeSet<Hash32> = a.hashes.iter().copied().collect();
    assert_eq!(distinct.len(), a.hashes.len());
    // The scripted prefix settled a certificate with five payees, one of them the bank.
    let settled = &a.m.roots[0];
    assert_eq!(settled.st, RSt::Settled);
    let (_, late, entries) = settled.clearing.as_ref().expect("settled");
    assert!(!late);
    assert_eq!(
        entries.len(),
        5,
        "t1, t2a and t2b change, t3a, bank: {entries:?}"
    );
    assert!(entries.iter().any(|e| e.1 == BANK));
    let accepted: u32 = a.stats.values().map(|s| s.0).sum();
    let rejected: u32 = a.stats.values().map(|s| s.1).sum();
    assert!(accepted >= 40 && rejected >= 10, "{:?}", a.stats);
}

/// Prints how often each action was accepted and refused over many random sequences
/// (`cargo test -p cascade-core --test model -- --ignored --nocapture`).
#[test]
#[ignore = "coverage report, not a check"]
fn coverage_report() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[0x11; 32]),
    );
    let mut total: BTreeMap<&'static str, (u32, u32)> = BTreeMap::new();
    let (mut settled, mut blocks, mut skipped) = (0, 0, 0);
    let mut refusals: BTreeMap<(&'static str, String), u32> = BTreeMap::new();
    for n in 0..64 {
        let ops = ops(MAX_OPS).new_tree(&mut runner).expect("ops").current();
        let mut h = Harness::new(if n % 2 == 0 {
            Fixture::standard()
        } else {
            Fixture::standard_with(tight_params())
        });
        h.run_all(&ops);
        settled += h.m.roots.iter().filter(|r| r.st == RSt::Settled).count();
        blocks += h.hashes.len();
        skipped += h.skipped;
        for (k, n) in h.refusals {
            *refusals.entry(k).or_default() += n;
        }
        for (k, (ok, err)) in h.stats {
            let t = total.entry(k).or_default();
            t.0 += ok;
            t.1 += err;
        }
    }
    for (k, (ok, err)) in &total {
        println!("{k:>18}: {ok:>5} accepted {err:>5} refused");
    }
    for ((action, error), n) in &refusals {
        println!("{action:>18} refused {n:>4} × {error}");
    }
    println!("certificates settled: {settled}, blocks: {blocks}, skipped: {skipped}");
}

impl Harness {
    /// Runs `action`, which the model must predict valid (the run checks the ledger agrees).
    fn must(&mut self, signer: usize, action: Action) {
        assert!(self.m.check(signer, &action).is_empty(), "{action:?}");
        assert!(self.run(signer, action));
    }

    /// Runs `action`, which the model must predict refused for `rule` and the ledger must
    /// refuse naming exactly that rule.
    fn refused(&mut self, signer: usize, action: Action, rule: &str) {
        assert!(self.m.check(signer, &action).contains(&rule), "{action:?}");
        let key = (action.name(), rule.to_string());
        let before = self.refusals.get(&key).copied().unwrap_or(0);
        assert!(!self.run(signer, action));
        let after = self.refusals.get(&key).copied().unwrap_or(0);
        assert_eq!(
            after,
            before + 1,
            "the ledger named a rule other than {rule}"
        );
    }

    /// The model index of the only piece matching `f`.
    fn only(&self, f: impl Fn(&MPiece) -> bool) -> usize {
        let found: Vec<usize> = (0..self.m.pieces.len())
            .filter(|&i| f(&self.m.pieces[i]))
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        found[0]
    }
}

/// Edges of time and freezes, step by step under the model: a frozen offer outlives its
/// expiry, an unanswered transfer part is still pending at settlement, the overdue mark
/// and the late flag are tested on their boundary days, and the clearing list pays every
/// part that never took effect to its sender (withheld if frozen).
#[test]
fn frozen_and_pending_offers_at_a_late_settlement() {
    let mut h = Harness::new(Fixture::standard());
    h.anchor_for_t1(1_000_000);
    let issue = Action::Issue {
        doc: 0,
        to: T1,
        amount: 1_000_000,
        days: 10,
        grantor: BANK,
    };
    h.must(CORE, issue);
    h.must(T1, Action::Accept(Some(0)));
    let outputs = vec![(T2A, 300_000), (T2B, 200_000)];
    h.must(
        T1,
        Action::Transfer {
            piece: Some(0),
            outputs,
        },
    );
    let to_t2a = h.only(|p| p.holder == T2A);
    let to_t2b = h.only(|p| p.holder == T2B);
    h.must(
        OPERATOR,
        Action::Freeze {
            piece: Some(to_t2a),
            reason: 9,
        },
    );
    h.refused(T2A, Action::Accept(Some(to_t2a)), "Frozen");
    h.refused(T1, Action::Cancel(Some(to_t2a)), "Frozen");

    // Day 8: the offer to t2b expired and came back to t1; the frozen one did not.
    h.step(&Op::Advance { days: 8 });
    assert_eq!(h.m.pieces[to_t2b].st, St::Expired);
    assert!(matches!(h.m.pieces[to_t2a].st, St::Pending { .. }));
    let change = h.only(|p| p.holder == T1 && p.st == St::Active && p.amount == 500_000);
    h.must(
        T1,
        Action::Transfer {
            piece: Some(change),
            outputs: vec![(T3A, 100_000)],
        },
    );
    let to_t3a = h.only(|p| p.holder == T3A);

    // Day 9: not matured yet. Day 10 (maturity): no more transfers, settlement possible.
    h.step(&Op::Advance { days: 1 });
    h.refused(CORE, Action::Settle(Some(0)), "NotMatured");
    h.step(&Op::Advance { days: 1 });
    let returned = h.only(|p| p.holder == T1 && p.st == St::Active && p.amount == 200_000);
    let late_transfer = Action::Transfer {
        piece: Some(returned),
        outputs: vec![(T3A, 100_000)],
    };
    h.refused(T1, late_transfer, "Matured");

    // Day 13 is the last day of grace: not overdue. Day 14: overdue, and the payment late.
    h.step(&Op::Advance { days: 3 });
    h.refused(AUDITOR, Action::MarkOverdue(Some(0)), "NotYetOverdue");
    h.step(&Op::Advance { days: 1 });
    h.must(T3A, Action::MarkOverdue(Some(0)));
    h.refused(T3A, Action::MarkOverdue(Some(0)), "WrongRootStatus");
    // The part offered to t3a on day 8 would expire on day 15: it is still open.
    assert!(matches!(h.m.pieces[to_t3a].st, St::Pending { .. }));
    h.must(CORE, Action::Settle(Some(0)));

    let (_, late, entries) = h.m.roots[0].clearing.clone().expect("settled");
    assert!(late);
    let paid = |i: usize| {
        entries
            .iter()
            .find(|e| e.0 == h.m.pieces[i].id)
            .map(|e| (e.1, e.2, e.3))
    };
    assert_eq!(paid(to_t2a), Some((T1, 300_000, true)), "frozen part");
    assert_eq!(paid(to_t3a), Some((T1, 100_000, false)), "unanswered part");
    assert_eq!(paid(returned), Some((T1, 200_000, false)), "returned part");
    assert_eq!(entries.len(), 4, "{entries:?}");
    let record = h.fx.ledger.obligor_record(&h.m.addrs[CORE]).expect("read");
    assert_eq!((record.settled_late, record.overdue_now), (1, 0));
    // A frozen piece stays frozen after settlement and can still be released.
    h.must(AUDITOR, Action::Unfreeze(Some(to_t2a)));
}

/// A frozen offer outlives its expiry day; unfrozen, it cannot be accepted in the block that
/// unfreezes it (it is past due) and it expires when the next block begins.
#[test]
fn an_unfrozen_offer_past_its_expiry_expires_at_the_next_block() {
    let mut h = Harness::new(Fixture::standard());
    h.anchor_for_t1(500_000);
    let issue = Action::Issue {
        doc: 0,
        to: T1,
        amount: 500_000,
        days: 30,
        grantor: BANK,
    };
    h.must(CORE, issue);
    h.must(
        AUDITOR,
        Action::Freeze {
            piece: Some(0),
            reason: 1,
        },
    );
    h.step(&Op::Advance { days: 9 });
    assert!(matches!(h.m.pieces[0].st, St::Pending { .. }));
    // One block: unfreeze, then the recipient's late acceptance.
    h.batch = true;
    h.must(OPERATOR, Action::Unfreeze(Some(0)));
    h.refused(T1, Action::Accept(Some(0)), "WrongStatus");
    h.batch = false;
    h.commit();
    assert!(matches!(h.m.pieces[0].st, St::Pending { .. }));
    // The next block expires it: the certificate is void, credit and invoice released.
    h.step(&Op::Advance { days: 0 });
    assert_eq!(h.m.pieces[0].st, St::Expired);
    assert_eq!(h.m.roots[0].st, RSt::Void);
    assert_eq!(h.m.lines[&BANK].used, 0);
    assert_eq!(h.m.docs[0].issued, 0);
}

/// Two rules an audit added, step by step under the model: an issue offer still open on its
/// certificate's maturity day can no longer be accepted (it then expires and voids), and an
/// obligor that is also a financier cannot grant itself a credit line.
#[test]
fn an_issue_open_at_maturity_and_a_self_granted_line_are_refused() {
    let mut h = Harness::new(Fixture::standard());
    h.anchor_for_t1(500_000);
    let issue = Action::Issue {
        doc: 0,
        to: T1,
        amount: 500_000,
        days: 2,
        grantor: BANK,
    };
    h.must(CORE, issue);
    h.step(&Op::Advance { days: 2 });
    h.refused(T1, Action::Accept(Some(0)), "Matured");
    // Offers last 7 days: on day 7 it expires and the certificate is void.
    h.step(&Op::Advance { days: 5 });
    assert_eq!(h.m.pieces[0].st, St::Expired);
    assert_eq!(h.m.roots[0].st, RSt::Void);
    assert_eq!(h.m.lines[&BANK].used, 0);

    let both = Roles::OBLIGOR.with(Roles::FINANCIER);
    h.must(
        OPERATOR,
        Action::SetRoles {
            who: CORE,
            roles: both,
            active: true,
        },
    );
    h.refused(CORE, Action::SetCredit { limit: 1_000_000 }, "Unauthorized");
    assert!(!h.m.lines.contains_key(&CORE));
}

/// A deactivated obligor's line can be cut (down to zero), not raised, under the model.
#[test]
fn a_deactivated_obligors_line_can_be_cut_but_not_raised() {
    let mut h = Harness::new(Fixture::standard());
    h.must(
        OPERATOR,
        Action::SetRoles {
            who: CORE,
            roles: Roles::OBLIGOR,
            active: false,
        },
    );
    h.must(BANK, Action::SetCredit { limit: 0 });
    assert_eq!(h.m.lines[&BANK].limit, 0);
    h.refused(BANK, Action::SetCredit { limit: 1 }, "Inactive");
}

/// The rules that depend on the roles held *now*, step by step under the model: who may
/// update participants, an offer taken only by a current supplier (a former one may still
/// reject it), financing paid only by a current financier, recipients and counterparties
/// active and in role, a credit line usable only while its grantor is an active financier
/// or operator, and a deactivated participant refused whatever it signs.
#[test]
fn role_and_activity_changes_apply_when_acted_on() {
    let mut h = Harness::new(Fixture::standard());
    let set = |who: usize, roles: Roles, active: bool| Action::SetRoles { who, roles, active };
    let issue = |amount: u64| Action::Issue {
        doc: 0,
        to: T1,
        amount,
        days: 30,
        grantor: BANK,
    };
    h.anchor_for_t1(1_000_000);

    // Only an operator updates participants, with a valid role set, never locking itself out.
    h.refused(AUDITOR, set(T1, Roles::AUDITOR, true), "MissingRole");
    h.refused(OPERATOR, set(OPERATOR, Roles::AUDITOR, true), "SelfLockout");
    h.refused(
        OPERATOR,
        set(OPERATOR, Roles::OPERATOR, false),
        "SelfLockout",
    );
    h.refused(OPERATOR, set(T1, Roles(0), true), "InvalidRoles");
    h.refused(OPERATOR, set(T1, Roles(0x40), true), "InvalidRoles");

    // t1 is offered a certificate, then made auditor-only: it may reject, not accept, and
    // receives no new certificate.
    h.must(CORE, issue(300_000));
    h.must(OPERATOR, set(T1, Roles::AUDITOR, true));
    h.refused(T1, Action::Accept(Some(0)), "MissingRole");
    h.refused(CORE, issue(100_000), "CounterpartyRole");
    h.must(T1, Action::Reject(Some(0)));
    assert_eq!(h.m.roots[0].st, RSt::Void);

    // Restored and offered again, then deactivated: it signs nothing, not even a rejection,
    // and receives nothing; reactivated, it accepts.
    h.must(OPERATOR, set(T1, Roles::SUPPLIER, true));
    h.must(CORE, issue(300_000));
    h.must(OPERATOR, set(T1, Roles::SUPPLIER, false));
    h.refused(T1, Action::Reject(Some(1)), "Inactive");
    h.refused(CORE, issue(100_000), "Inactive");
    h.must(OPERATOR, set(T1, Roles::SUPPLIER, true));
    h.must(T1, Action::Accept(Some(1)));

    // Transfers only to active suppliers; a recipient that loses the role before answering
    // may reject the part (it returns to t1) but not accept it.
    h.must(OPERATOR, set(T2A, Roles::SUPPLIER, false));
    h.must(OPERATOR, set(T2B, Roles::AUDITOR, true));
    let to = |who: usize| Action::Transfer {
        piece: Some(1),
        outputs: vec![(who, 100_000)],
    };
    h.refused(T1, to(T2A), "Inactive");
    h.refused(T1, to(T2B), "CounterpartyRole");
    h.must(T1, to(T3A));
    let to_t3a = h.only(|p| p.holder == T3A);
    h.must(OPERATOR, set(T3A, Roles::AUDITOR, true));
    h.refused(T3A, Action::Accept(Some(to_t3a)), "MissingRole");
    h.must(T3A, Action::Reject(Some(to_t3a)));

    // Financing only from an active financier, paid only while it still is one.
    let change = h.only(|p| p.holder == T1 && p.st == St::Active && p.amount == 200_000);
    let request = |financier: usize| Action::RequestFinancing {
        piece: Some(change),
        financier,
        amount: 200_000,
        rate: 40_000,
    };
    h.must(OPERATOR, set(FACTOR, Roles::FINANCIER, false));
    h.refused(T1, request(FACTOR), "Inactive");
    h.must(T1, request(BANK));
    h.must(OPERATOR, set(BANK, Roles::AUDITOR, true));
    h.refused(BANK, accept_financing(Some(change), 1), "MissingRole");
    // Nor does the bank's line back a new certificate while the bank is out of role or
    // inactive.
    h.refused(CORE, issue(100_000), "CounterpartyRole");
    h.must(OPERATOR, set(BANK, Roles::FINANCIER, false));
    h.refused(CORE, issue(100_000), "Inactive");
    h.refused(BANK, accept_financing(Some(change), 1), "Inactive");
    h.must(OPERATOR, set(BANK, Roles::FINANCIER, true));
    h.must(BANK, accept_financing(Some(change), 1));
    h.must(CORE, issue(100_000));

    // A second operator may deactivate the first, which then signs nothing; it cannot lock
    // itself out, and it restores the first.
    h.must(
        OPERATOR,
        set(AUDITOR, Roles::AUDITOR.with(Roles::OPERATOR), true),
    );
    assert_eq!(h.m.active_operators(), 2);
    h.must(AUDITOR, set(OPERATOR, Roles::OPERATOR, false));
    assert_eq!(h.m.active_operators(), 1);
    h.refused(OPERATOR, set(T2A, Roles::SUPPLIER, true), "Inactive");
    h.refused(AUDITOR, set(AUDITOR, Roles::AUDITOR, true), "SelfLockout");
    h.must(AUDITOR, set(OPERATOR, Roles::OPERATOR, true));
    assert_eq!(h.m.active_operators(), 2);
}

/// The cap on pending offers out (`Params::max_offers_out`, 4 in the tight parameters),
/// step by step under the model: transfer parts and financing requests count, a refused
/// offer changes nothing, and an answered offer frees room.
#[test]
fn pending_offers_out_are_capped_per_sender() {
    let mut h = Harness::new(Fixture::standard_with(tight_params()));
    h.anchor_for_t1(500_000);
    h.must(
        CORE,
        Action::Issue {
            doc: 0,
            to: T1,
            amount: 500_000,
            days: 30,
            grantor: BANK,
        },
    );
    h.must(T1, Action::Accept(Some(0)));
    // Three parts pending (pieces 1–3), change 350,000 (piece 4).
    h.must(
        T1,
        Action::Transfer {
            piece: Some(0),
            outputs: vec![(T2A, 50_000), (T2B, 50_000), (T3A, 50_000)],
        },
    );
    assert_eq!(h.m.offers_out_of(T1), 3);
    h.refused(
        T1,
        Action::Transfer {
            piece: Some(4),
            outputs: vec![(T2A, 10_000), (T2B, 10_000)],
        },
        "TooManyOffers",
    );
    // A financing request is an offer too: the fourth one fits, a fifth does not.
    h.must(
        T1,
        Action::RequestFinancing {
            piece: Some(4),
            financier: BANK,
            amount: 100_000,
            rate: 40_000,
        },
    );
    assert_eq!(h.m.offers_out_of(T1), 4);
    let change = h.m.pieces.len() - 1;
    assert_eq!(h.m.pieces[change].st, St::Active);
    let one_more = Action::Transfer {
        piece: Some(change),
        outputs: vec![(T2A, 10_000)],
    };
    h.refused(T1, one_more.clone(), "TooManyOffers");
    // An answered offer frees its place.
    h.must(T2A, Action::Accept(Some(1)));
    h.must(T1, one_more);
    assert_eq!(h.m.offers_out_of(T1), 4);
}
