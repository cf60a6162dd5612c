//! Golden vectors: a fixed script of every transaction kind, with the app hash of every block
//! and a digest of every signed transaction pinned in `tests/golden/vectors.txt`.
//!
//! Why: validators on different machines, and builds of different versions during a rolling
//! upgrade, must compute the same app hash for the same blocks, or the chain halts. The other
//! determinism tests replay through two ledgers in one process, which cannot see a change
//! that moves every ledger the same way: a new field order, another encoding, a changed
//! default, a platform whose integer width or byte order leaks into a hash. This test can.
//! It runs wherever the core's tests run (mobile targets included), and it fails on any
//! change to the bytes that reach consensus.
//!
//! When it fails after a change you meant to make, the change is consensus-breaking: it
//! needs a coordinated upgrade of every validator (and a new `store::FORMAT` if stored
//! records changed). Then re-pin with
//! `CASCADE_BLESS_GOLDEN=1 cargo test -p cascade-core --test golden` and review the diff.

use cascade_core::crypto::sha256;
use cascade_core::testkit::{
    cny, financing_requested, first_piece, offered_and_change, validator_key, Fixture,
};
use cascade_core::tx::{Output, TxBody};
use cascade_core::*;
use std::fmt::Write as _;
use std::path::PathBuf;

/// One line per block: height, app hash and what the block held.
struct Recorder {
    fx: Fixture,
    lines: Vec<String>,
    /// Running digest over every signed transaction's bytes, so the wire encoding and the
    /// (deterministic, RFC 6979) signatures are pinned too, not only their effect.
    tx_digest: [u8; 32],
}

impl Recorder {
    fn new() -> Recorder {
        let fx = Fixture::standard();
        let genesis = fx
            .ledger
            .committed()
            .unwrap_or_else(|| panic!("the fixture commits its credit line"));
        Recorder {
            fx,
            lines: vec![format!("{} {} setup", genesis.version, genesis.app_hash)],
            tx_digest: [0; 32],
        }
    }

    /// Signs and delivers `body` from `name` in a block of its own, and pins the block.
    fn tx(&mut self, name: &str, body: TxBody) -> TxReceipt {
        let kind = body.kind();
        let bytes = self.fx.sign(name, body);
        self.tx_digest = sha256(&[self.tx_digest.as_slice(), &bytes].concat());
        let receipt = self
            .fx
            .deliver(&bytes)
            .unwrap_or_else(|e| panic!("{name} {kind}: {e}"));
        self.pin(kind);
        receipt
    }

    /// Delivers a transaction the ledger must refuse (its refusal is part of the block too).
    fn refused(&mut self, name: &str, body: TxBody) {
        let kind = body.kind();
        let bytes = self.fx.sign(name, body);
        self.tx_digest = sha256(&[self.tx_digest.as_slice(), &bytes].concat());
        let error = self
            .fx
            .deliver(&bytes)
            .err()
            .unwrap_or_else(|| panic!("{name} {kind} should be refused"));
        self.pin(&format!("{kind} refused ({})", error.code()));
    }

    /// Commits an empty block (block-level processing: offer expiry).
    fn empty(&mut self, what: &str) -> Vec<Event> {
        let events = self.fx.begin();
        self.pin(what);
        events
    }

    fn pin(&mut self, what: &str) {
        let c = self.fx.commit();
        self.lines
            .push(format!("{} {} {what}", c.version, c.app_hash));
    }

    fn addr(&self, name: &str) -> Address {
        self.fx.addr(name)
    }

    fn output(&self, to: &str, amount: u64) -> Output {
        Output {
            to: self.addr(to),
            amount: Amount(amount),
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "transactions {}", Hash32(self.tx_digest));
        out
    }
}

/// The script: every transaction kind at least once, refusals, offer expiry, a settlement with
/// a financed piece, and an overdue certificate.
fn script() -> Recorder {
    let mut r = Recorder::new();
    let cny = cny();
    let (core, bank, t1) = (r.addr("core"), r.addr("bank"), r.addr("t1"));

    // Administration.
    let newcomer = SecretKey::from_seed(b"golden newcomer");
    r.tx(
        "operator",
        TxBody::RegisterParticipant {
            public_key: newcomer.public_key(),
            roles: Roles::SUPPLIER,
            legal_id_hash: Hash32(sha256(b"91310000MA1FL0000X")),
        },
    );
    r.tx(
        "operator",
        TxBody::UpdateParticipant {
            address: newcomer.address(),
            roles: Roles::SUPPLIER,
            active: false,
        },
    );
    r.tx(
        "factor",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny,
            limit: Amount(50_000_000),
        },
    );
    let mut params = r.fx.ledger.params().clone();
    params.overdue_grace_days = 5;
    r.tx("operator", TxBody::UpdateParams { params });
    r.tx(
        "operator",
        TxBody::ApproveValidatorChange {
            pub_key: validator_key("validator-1"),
            power: 5,
        },
    );

    // A certificate of 1,000,000.00 down three tiers.
    let document = Hash32(sha256(b"golden invoice 1"));
    r.tx(
        "core",
        TxBody::AnchorDocument {
            hash: document,
            amount: Money {
                amount: Amount(100_000_000),
                currency: cny,
            },
            buyer: core,
            seller: t1,
        },
    );
    let maturity = Day(r.fx.today().0 + 90);
    let issued = r.tx(
        "core",
        TxBody::Issue {
            to: t1,
            amount: Amount(100_000_000),
            currency: cny,
            maturity,
            document,
            credit_grantor: bank,
        },
    );
    let root = first_piece(&issued.events);
    r.tx("t1", TxBody::Accept { piece: root });
    let split = r.tx(
        "t1",
        TxBody::Transfer {
            piece: root,
            outputs: vec![r.output("t2a", 30_000_000), r.output("t2b", 20_000_000)],
        },
    );
    let (offered, change) = offered_and_change(&split.events);
    let change = change.unwrap_or_else(|| panic!("t1 keeps change"));
    let (to_t2a, to_t2b) = (offered[0], offered[1]);
    r.tx("t2a", TxBody::Accept { piece: to_t2a });
    r.tx("t2b", TxBody::Reject { piece: to_t2b });
    let again = r.tx(
        "t1",
        TxBody::Transfer {
            piece: change,
            outputs: vec![r.output("t2b", 10_000_000)],
        },
    );
    let (offered, change) = offered_and_change(&again.events);
    r.tx("t1", TxBody::Cancel { piece: offered[0] });
    let change = change.unwrap_or_else(|| panic!("t1 keeps change"));
    // The refused and cancelled offers came back to t1 as pieces of their own: merge them.
    let mut t1_pieces: Vec<Hash32> =
        r.fx.ledger
            .holdings(&t1)
            .unwrap_or_else(|e| panic!("holdings: {e}"))
            .into_iter()
            .map(|(id, _)| id)
            .collect();
    t1_pieces.sort();
    assert!(t1_pieces.len() >= 2 && t1_pieces.contains(&change));
    let merged = r.tx("t1", TxBody::Merge { pieces: t1_pieces });
    let merged = merged
        .events
        .iter()
        .find_map(|e| match e {
            Event::Merged { output, .. } => Some(*output),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no merge event"));

    // Tier 3, then an offer left unanswered until it expires.
    let down = r.tx(
        "t2a",
        TxBody::Transfer {
            piece: to_t2a,
            outputs: vec![r.output("t3a", 5_000_000), r.output("t3b", 1_000_000)],
        },
    );
    let (offered, t2a_change) = offered_and_change(&down.events);
    r.tx("t3a", TxBody::Accept { piece: offered[0] });
    let expiry = r.fx.ledger.params().offer_expiry_days;
    r.fx.advance_days(expiry + 1);
    let expired = r.empty("offer expiry");
    assert!(
        expired
            .iter()
            .any(|e| matches!(e, Event::OfferExpired { piece, .. } if *piece == offered[1])),
        "t3b's offer expires: {expired:?}"
    );

    // A financing request withdrawn, then one accepted; a double financing attempt and a
    // transfer of a frozen piece are refused.
    let asked = r.tx(
        "t3a",
        TxBody::RequestFinancing {
            piece: offered[0],
            financier: r.addr("factor"),
            amount: Amount(5_000_000),
            rate: rate(380),
        },
    );
    let asked =
        financing_requested(&asked.events).unwrap_or_else(|| panic!("no financing request event"));
    r.tx("t3a", TxBody::Cancel { piece: asked });
    let t3a = r.addr("t3a");
    let held =
        r.fx.ledger
            .holdings(&t3a)
            .unwrap_or_else(|e| panic!("holdings: {e}"));
    let [(t3a_piece, _)] = held.as_slice() else {
        panic!("t3a holds one piece again: {held:?}")
    };
    let t3a_piece = *t3a_piece;
    r.tx(
        "t3a",
        TxBody::RequestFinancing {
            piece: t3a_piece,
            financier: bank,
            amount: Amount(5_000_000),
            rate: rate(450),
        },
    );
    r.refused(
        "t3a",
        TxBody::RequestFinancing {
            piece: t3a_piece,
            financier: r.addr("factor"),
            amount: Amount(5_000_000),
            rate: rate(400),
        },
    );
    r.tx(
        "bank",
        TxBody::AcceptFinancing {
            piece: t3a_piece,
            payment_reference: "GOLDEN-PAY-0001".into(),
        },
    );
    let t2a_change = t2a_change.unwrap_or_else(|| panic!("t2a keeps change"));
    r.tx(
        "auditor",
        TxBody::Freeze {
            piece: t2a_change,
            reason: 7,
        },
    );
    r.refused(
        "t2a",
        TxBody::Transfer {
            piece: t2a_change,
            outputs: vec![r.output("t3b", 1_000_000)],
        },
    );
    r.tx("auditor", TxBody::Unfreeze { piece: t2a_change });
    r.refused(
        "t1",
        TxBody::Merge {
            pieces: vec![merged],
        },
    );

    // A second certificate that will go overdue.
    let document = Hash32(sha256(b"golden invoice 2"));
    r.tx(
        "core",
        TxBody::AnchorDocument {
            hash: document,
            amount: Money {
                amount: Amount(2_500_000),
                currency: cny,
            },
            buyer: core,
            seller: t1,
        },
    );
    let late = r.tx(
        "core",
        TxBody::Issue {
            to: t1,
            amount: Amount(2_500_000),
            currency: cny,
            maturity: Day(r.fx.today().0 + 30),
            document,
            credit_grantor: r.addr("factor"),
        },
    );
    let late = first_piece(&late.events);
    r.tx("t1", TxBody::Accept { piece: late });

    // Maturity: the first certificate is settled on time, the second marked overdue.
    let days_to_maturity = maturity.0 - r.fx.today().0;
    r.fx.advance_days(days_to_maturity);
    r.tx("core", TxBody::Settle { root });
    r.refused("core", TxBody::Settle { root });
    r.fx.advance_days(10);
    r.tx("t2b", TxBody::MarkOverdue { root: late });
    r.tx("core", TxBody::Settle { root: late });
    r
}

fn rate(bps: u32) -> pricing::AnnualRate {
    pricing::AnnualRate::from_bps(bps).unwrap_or_else(|| panic!("{bps} bps is a valid rate"))
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/vectors.txt")
}

#[test]
fn app_hashes_and_transaction_bytes_match_the_pinned_vectors() {
    let got = script().text();
    let path = vectors_path();
    if std::env::var_os("CASCADE_BLESS_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let pinned =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if got != pinned {
        let first = got
            .lines()
            .zip(pinned.lines())
            .find(|(g, p)| g != p)
            .map_or("the number of blocks differs".to_string(), |(g, p)| {
                format!("pinned: {p}\n   now: {g}")
            });
        panic!(
            "the ledger no longer computes the pinned app hashes or transaction bytes.\n{first}\n\
             If this change is intended it is consensus-breaking: every validator must upgrade \
             together. Re-pin with CASCADE_BLESS_GOLDEN=1 (see this file's header)."
        );
    }
}

/// The indexes kept in memory (holdings, offers, lineage, certificates by obligor, expiry
/// queue), maintained block by block through every transaction kind of the script, equal
/// the ones rebuilt from the state, as a reopened ledger rebuilds them.
#[test]
fn the_script_keeps_the_in_memory_indexes_equal_to_the_state() {
    let r = script();
    r.fx.ledger
        .check_indexes()
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_script_is_deterministic_within_one_build() {
    // The pinned file is only meaningful if the script itself does not vary run to run.
    assert_eq!(script().text(), script().text());
}
