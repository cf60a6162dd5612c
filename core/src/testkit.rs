//! A deterministic fixture for tests, demos and benchmarks: a ledger in memory with named
//! participants, one block per step, and a clock that only moves when told to.
//!
//! Keys are derived from names with [`SecretKey::from_seed`], so every run is identical.

#[cfg(feature = "app")]
pub mod abci;

use crate::crypto::{sha256, Address, Hash32, SecretKey, ValidatorKey};
use crate::date::Day;
use crate::error::TxError;
use crate::event::Event;
use crate::ledger::{Ledger, TxReceipt};
use crate::money::{Amount, Currency, Money};
use crate::store::Committed;
use crate::tx::{Tx, TxBody};
use crate::types::*;
use std::collections::BTreeMap;

/// Chain id used by fixtures.
pub const CHAIN_ID: &str = "cascade-test";
/// Fixture genesis: 2026-01-05 00:00 UTC.
pub const GENESIS_TIME: i64 = 1_767_571_200;

/// The participants of [`Fixture::standard`] and their roles.
pub const STANDARD_PARTICIPANTS: &[(&str, Roles)] = &[
    ("operator", Roles::OPERATOR),
    ("auditor", Roles::AUDITOR),
    ("core", Roles::OBLIGOR),
    ("t1", Roles::SUPPLIER),
    ("t2a", Roles::SUPPLIER),
    ("t2b", Roles::SUPPLIER),
    ("t3a", Roles::SUPPLIER),
    ("t3b", Roles::SUPPLIER),
    ("bank", Roles::FINANCIER),
    ("factor", Roles::FINANCIER),
];

/// A ledger in memory with named participants.
pub struct Fixture {
    /// The ledger under test.
    pub ledger: Ledger,
    keys: BTreeMap<String, SecretKey>,
    nonces: BTreeMap<Address, u64>,
    /// Block time of the next block (Unix seconds).
    pub time: i64,
    /// Transactions default to expire this many blocks after the next one.
    pub ttl: u64,
    docs: u64,
    genesis: Genesis,
}

/// `CNY`, the fixtures' currency.
pub fn cny() -> Currency {
    Currency::new("CNY").unwrap_or_else(|_| unreachable!("CNY is a valid code"))
}

impl Fixture {
    /// A chain with the given participants and parameters.
    pub fn new(participants: &[(&str, Roles)], params: Params) -> Fixture {
        let keys: BTreeMap<String, SecretKey> = participants
            .iter()
            .map(|(n, _)| (n.to_string(), SecretKey::from_seed(n.as_bytes())))
            .collect();
        let genesis = Genesis {
            chain_id: CHAIN_ID.into(),
            genesis_time: GENESIS_TIME,
            params,
            participants: participants
                .iter()
                .map(|(n, r)| GenesisParticipant {
                    public_key: keys[*n].public_key(),
                    roles: *r,
                    legal_id_hash: Hash32(sha256(n.as_bytes())),
                })
                .collect(),
            validators: vec![ValidatorRecord {
                pub_key: validator_key("validator-0"),
                power: 10,
            }],
        };
        let mut ledger = Ledger::in_memory().unwrap_or_else(|e| panic!("in-memory ledger: {e}"));
        ledger
            .init_chain(&genesis)
            .unwrap_or_else(|e| panic!("genesis: {e}"));
        Fixture {
            ledger,
            keys,
            nonces: BTreeMap::new(),
            time: GENESIS_TIME + 3600,
            ttl: 100,
            docs: 0,
            genesis,
        }
    }

    /// The genesis the fixture's ledger was initialised with. Pass it to
    /// [`Ledger::init_chain`] of another ledger (e.g. one opened on disk with
    /// [`Ledger::open`]) to replay the fixture's signed transactions there.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The standard cast with default parameters and a 10,000,000.00 CNY credit line from `bank` to `core`.
    pub fn standard() -> Fixture {
        Fixture::standard_with(Params::default())
    }

    /// The standard cast with custom parameters.
    pub fn standard_with(params: Params) -> Fixture {
        let mut fx = Fixture::new(STANDARD_PARTICIPANTS, params);
        fx.standard_credit_line();
        fx
    }

    /// Grants the standard cast's credit line (10,000,000.00 CNY from `bank` to `core`) in a
    /// block of its own: for a fixture whose ledger was replaced (say, by one on disk)
    /// after [`Fixture::new`].
    pub fn standard_credit_line(&mut self) {
        let core = self.addr("core");
        self.ok(
            "bank",
            TxBody::SetCreditLine {
                obligor: core,
                currency: cny(),
                limit: Amount(1_000_000_000),
            },
        );
    }

    /// The key of a participant.
    pub fn key(&self, name: &str) -> &SecretKey {
        self.keys
            .get(name)
            .unwrap_or_else(|| panic!("no participant named {name}"))
    }

    /// Adds a key that is not registered on the ledger (for negative tests or later registration).
    pub fn add_key(&mut self, name: &str) -> Address {
        let key = SecretKey::from_seed(name.as_bytes());
        let a = key.address();
        self.keys.insert(name.to_string(), key);
        a
    }

    /// The address of a participant.
    pub fn addr(&self, name: &str) -> Address {
        self.key(name).address()
    }

    /// Today, as the next block will see it.
    pub fn today(&self) -> Day {
        Day::from_unix_seconds(self.time).unwrap_or_default()
    }

    /// Moves the clock forward by whole days.
    pub fn advance_days(&mut self, days: u32) {
        self.time += i64::from(days) * 86_400;
    }

    /// Height the next block will have.
    pub fn next_height(&self) -> u64 {
        self.ledger.committed().map_or(0, |c| c.version) + 1
    }

    /// Builds and signs a transaction from `name` with its next nonce.
    pub fn sign(&self, name: &str, body: TxBody) -> Vec<u8> {
        let key = self.key(name);
        let nonce = self.nonces.get(&key.address()).copied().unwrap_or(0);
        self.sign_with(name, nonce, body)
    }

    /// Builds and signs a transaction with an explicit nonce.
    pub fn sign_with(&self, name: &str, nonce: u64, body: TxBody) -> Vec<u8> {
        let key = self.key(name);
        Tx {
            chain_id: CHAIN_ID.into(),
            signer: key.public_key(),
            nonce,
            expiry_height: self.next_height() + self.ttl,
            body,
        }
        .sign(key)
        .to_bytes()
    }

    /// Opens a block at the fixture's time if none is open; returns the block-level events.
    pub fn begin(&mut self) -> Vec<Event> {
        if self.ledger.pending_fingerprint().is_some() {
            return Vec::new();
        }
        let h = self.next_height();
        self.ledger
            .begin_block(h, self.time)
            .unwrap_or_else(|e| panic!("begin_block: {e}"))
    }

    /// Commits the open block.
    pub fn commit(&mut self) -> Committed {
        self.ledger
            .commit()
            .unwrap_or_else(|e| panic!("commit: {e}"))
    }

    /// Commits an empty block (to let block-level processing such as expiry run).
    pub fn empty_block(&mut self) -> Vec<Event> {
        let events = self.begin();
        self.commit();
        events
    }

    /// Delivers signed bytes into the open block (opening one if needed), tracking the nonce.
    pub fn deliver(&mut self, bytes: &[u8]) -> Result<TxReceipt, TxError> {
        self.begin();
        let before = self.ledger.pending_fingerprint();
        let result = self.ledger.deliver_tx(bytes);
        match &result {
            Ok(_) => {
                if let Ok(d) = crate::tx::DecodedTx::decode(bytes, usize::MAX) {
                    let a = d.signed().tx.signer.address();
                    let next = d.signed().tx.nonce + 1;
                    self.nonces.insert(a, next);
                }
            }
            Err(_) => assert_eq!(
                self.ledger.pending_fingerprint(),
                before,
                "a rejected transaction changed the state"
            ),
        }
        result
    }

    /// Signs, delivers and commits `body` from `name` in a block of its own.
    pub fn submit(&mut self, name: &str, body: TxBody) -> Result<TxReceipt, TxError> {
        let bytes = self.sign(name, body);
        let r = self.deliver(&bytes);
        self.commit();
        r
    }

    /// Like [`Fixture::submit`] but panics with the error if the transaction is rejected.
    pub fn ok(&mut self, name: &str, body: TxBody) -> TxReceipt {
        let kind = body.kind();
        self.submit(name, body)
            .unwrap_or_else(|e| panic!("{name} {kind} failed: {e}"))
    }

    /// Like [`Fixture::submit`] but expects a rejection, which must leave the state unchanged.
    pub fn err(&mut self, name: &str, body: TxBody) -> TxError {
        let kind = body.kind();
        match self.submit(name, body) {
            Ok(_) => panic!("{name} {kind} was accepted but should have been rejected"),
            Err(e) => e,
        }
    }

    /// Anchors a fresh document of `amount` between `core` and `seller`; returns its hash.
    pub fn anchor(&mut self, seller: &str, amount: u64) -> Hash32 {
        self.docs += 1;
        let hash = Hash32(sha256(format!("invoice-{}", self.docs).as_bytes()));
        let (buyer, seller) = (self.addr("core"), self.addr(seller));
        self.ok(
            "core",
            TxBody::AnchorDocument {
                hash,
                amount: Money {
                    amount: Amount(amount),
                    currency: cny(),
                },
                buyer,
                seller,
            },
        );
        hash
    }

    /// Anchors a document and issues a certificate of `amount` to `to`, maturing in `days`;
    /// returns the root (= first piece) id. The offer is not yet accepted.
    pub fn issue(&mut self, to: &str, amount: u64, days: u32) -> Hash32 {
        let document = self.anchor(to, amount);
        let maturity = Day(self.today().0 + days);
        let (to, bank) = (self.addr(to), self.addr("bank"));
        let r = self.ok(
            "core",
            TxBody::Issue {
                to,
                amount: Amount(amount),
                currency: cny(),
                maturity,
                document,
                credit_grantor: bank,
            },
        );
        first_piece(&r.events)
    }

    /// Issues and accepts: returns a live certificate's root id held by `to`.
    pub fn issue_accepted(&mut self, to: &str, amount: u64, days: u32) -> Hash32 {
        let root = self.issue(to, amount, days);
        self.ok(to, TxBody::Accept { piece: root });
        root
    }

    /// Transfers parts of `piece` from `from`; returns (offered piece ids, change id).
    pub fn transfer(
        &mut self,
        from: &str,
        piece: Hash32,
        outputs: &[(&str, u64)],
    ) -> (Vec<Hash32>, Option<Hash32>) {
        let outputs = outputs
            .iter()
            .map(|(n, a)| crate::tx::Output {
                to: self.addr(n),
                amount: Amount(*a),
            })
            .collect();
        let r = self.ok(from, TxBody::Transfer { piece, outputs });
        offered_and_change(&r.events)
    }
}

/// The first piece offered in a list of events.
pub fn first_piece(events: &[Event]) -> Hash32 {
    events
        .iter()
        .find_map(|e| match e {
            Event::Offered { piece, .. } => Some(*piece),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no piece offered in {events:?}"))
}

/// Offered piece ids and the change piece of a transfer's events.
pub fn offered_and_change(events: &[Event]) -> (Vec<Hash32>, Option<Hash32>) {
    let offered = events
        .iter()
        .filter_map(|e| {
            if let Event::Offered { piece, .. } = e {
                Some(*piece)
            } else {
                None
            }
        })
        .collect();
    let change = events.iter().find_map(|e| {
        if let Event::Split { change, .. } = e {
            *change
        } else {
            None
        }
    });
    (offered, change)
}

/// The piece a financing request locked (the whole piece asked about, or the part split
/// off it), if the events hold a request.
pub fn financing_requested(events: &[Event]) -> Option<Hash32> {
    events.iter().find_map(|e| match e {
        Event::FinancingRequested { piece, .. } => Some(*piece),
        _ => None,
    })
}

/// A deterministic Ed25519 consensus key for tests, derived from `seed`.
pub fn validator_signing_key(seed: &str) -> ed25519_consensus::SigningKey {
    ed25519_consensus::SigningKey::from(sha256(seed.as_bytes()))
}

/// The public half of [`validator_signing_key`].
pub fn validator_key(seed: &str) -> ValidatorKey {
    ValidatorKey(validator_signing_key(seed).verification_key().to_bytes())
}
