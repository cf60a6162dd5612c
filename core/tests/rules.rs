//! One focused test per ledger rule.
//!
//! Each test submits the input a rule exists to refuse and asserts the exact typed error
//! (variant and the fields that matter); where there is a boundary, a passing counterpart
//! shows where it lies (exactly `min_unit` accepted, one less refused, and so on).
//! `Fixture::err` already checks that a rejection leaves the open block's state untouched;
//! a few tests also read balances, pieces and counters back from the ledger to show it.

use cascade_core::codec::DecodeError;
use cascade_core::crypto::{sha256, CryptoError, SignatureBytes};
use cascade_core::exec::MAX_PAYMENT_REFERENCE;
use cascade_core::testkit::{cny, first_piece, Fixture, CHAIN_ID, STANDARD_PARTICIPANTS};
use cascade_core::tx::{Output, SignedTx, Tx, TxBody, TxDecodeError};
use cascade_core::*;

// ================================================================================================
// Helpers
// ================================================================================================

/// One yuan in fen, the minor unit every amount is counted in.
const YUAN: u64 = 100;

/// A deterministic 32-byte label (document hashes, identity hashes, unknown ids).
fn h(label: &str) -> Hash32 {
    Hash32(sha256(label.as_bytes()))
}

fn acct(fx: &Fixture, name: &str) -> Account {
    fx.ledger.account(&fx.addr(name)).unwrap()
}

fn piece(fx: &Fixture, id: &Hash32) -> Piece {
    fx.ledger
        .piece(id)
        .unwrap()
        .unwrap_or_else(|| panic!("no piece {id}"))
}

fn root(fx: &Fixture, id: &Hash32) -> RootRecord {
    fx.ledger
        .root(id)
        .unwrap()
        .unwrap_or_else(|| panic!("no root {id}"))
}

/// The standard `bank` → `core` CNY credit line.
fn bank_line(fx: &Fixture) -> CreditLine {
    fx.ledger
        .credit_line(&fx.addr("core"), &cny(), &fx.addr("bank"))
        .unwrap()
        .expect("the standard fixture has a bank line")
}

fn in_days(fx: &Fixture, days: u32) -> Day {
    Day(fx.today().0 + days)
}

fn transfer_body(fx: &Fixture, piece: Hash32, outputs: &[(&str, u64)]) -> TxBody {
    TxBody::Transfer {
        piece,
        outputs: outputs
            .iter()
            .map(|(to, a)| Output {
                to: fx.addr(to),
                amount: Amount(*a),
            })
            .collect(),
    }
}

fn issue_body(fx: &Fixture, to: &str, amount: u64, maturity: Day, document: Hash32) -> TxBody {
    TxBody::Issue {
        to: fx.addr(to),
        amount: Amount(amount),
        currency: cny(),
        maturity,
        document,
        credit_grantor: fx.addr("bank"),
    }
}

fn financing_body(fx: &Fixture, piece: Hash32, financier: &str, amount: u64, rate: u32) -> TxBody {
    TxBody::RequestFinancing {
        piece,
        financier: fx.addr(financier),
        amount: Amount(amount),
        rate: AnnualRate(rate),
    }
}

/// A body `core` (the buyer) may always sign: anchors a fresh invoice sold by `t1`.
fn anchor_body(fx: &Fixture, label: &str) -> TxBody {
    TxBody::AnchorDocument {
        hash: h(label),
        amount: Money {
            amount: Amount(1_000 * YUAN),
            currency: cny(),
        },
        buyer: fx.addr("core"),
        seller: fx.addr("t1"),
    }
}

/// Builds and signs a transaction by hand, with every envelope field explicit.
fn hand_signed(
    fx: &Fixture,
    name: &str,
    chain_id: &str,
    nonce: u64,
    expiry_height: u64,
    body: TxBody,
) -> SignedTx {
    let key = fx.key(name);
    Tx {
        chain_id: chain_id.into(),
        signer: key.public_key(),
        nonce,
        expiry_height,
        body,
    }
    .sign(key)
}

/// Delivers raw bytes in a block of their own.
fn deliver_block(fx: &mut Fixture, bytes: &[u8]) -> Result<TxReceipt, TxError> {
    let r = fx.deliver(bytes);
    fx.commit();
    r
}

/// Requests financing and returns (locked piece, change piece).
fn request(
    fx: &mut Fixture,
    holder: &str,
    piece: Hash32,
    financier: &str,
    amount: u64,
) -> (Hash32, Option<Hash32>) {
    let body = financing_body(fx, piece, financier, amount, 43_500);
    let r = fx.ok(holder, body);
    match &r.events[0] {
        Event::FinancingRequested { piece, change, .. } => (*piece, *change),
        e => panic!("unexpected {e:?}"),
    }
}

/// Accepts a financing request; returns the financed piece now held by the financier.
fn finance(fx: &mut Fixture, financier: &str, locked: Hash32) -> Hash32 {
    let r = fx.ok(
        financier,
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: "PAY-1".into(),
        },
    );
    match &r.events[0] {
        Event::Financed { piece, .. } => *piece,
        e => panic!("unexpected {e:?}"),
    }
}

/// Everything a rejected transaction must leave alone, read back from the committed ledger.
#[derive(Debug, PartialEq)]
struct Observed {
    accounts: Vec<Account>,
    holdings: Vec<Vec<(Hash32, Piece)>>,
    offers_in: Vec<Vec<(Hash32, Piece)>>,
    offers_out: Vec<Vec<(Hash32, Piece)>>,
    line: CreditLine,
    lineage: Vec<(Hash32, Piece)>,
    root: RootRecord,
}

fn observe(fx: &Fixture, root_id: &Hash32) -> Observed {
    let addrs: Vec<Address> = STANDARD_PARTICIPANTS
        .iter()
        .map(|(n, _)| fx.addr(n))
        .collect();
    Observed {
        accounts: addrs
            .iter()
            .map(|a| fx.ledger.account(a).unwrap())
            .collect(),
        holdings: addrs
            .iter()
            .map(|a| fx.ledger.holdings(a).unwrap())
            .collect(),
        offers_in: addrs
            .iter()
            .map(|a| fx.ledger.offers_in(a).unwrap())
            .collect(),
        offers_out: addrs
            .iter()
            .map(|a| fx.ledger.offers_out(a).unwrap())
            .collect(),
        line: bank_line(fx),
        lineage: fx.ledger.lineage(root_id).unwrap(),
        root: root(fx, root_id),
    }
}

// ================================================================================================
// Envelope: chain, expiry, nonce, signer, signature, encoding, size
// ================================================================================================

#[test]
fn envelope_wrong_chain_id_is_rejected() {
    let mut fx = Fixture::standard();
    let nonce = acct(&fx, "core").nonce;
    let expiry = fx.next_height() + 10;
    let foreign = hand_signed(
        &fx,
        "core",
        "other-chain",
        nonce,
        expiry,
        anchor_body(&fx, "inv"),
    );
    let e = deliver_block(&mut fx, &foreign.to_bytes()).unwrap_err();
    assert!(
        matches!(&e, TxError::WrongChain { expected, got }
            if expected == CHAIN_ID && got == "other-chain"),
        "{e:?}"
    );
    assert_eq!(acct(&fx, "core").nonce, nonce, "nonce not consumed");
    assert!(fx.ledger.document(&h("inv")).unwrap().is_none());

    // The very same transaction signed for this chain goes through.
    let native = hand_signed(
        &fx,
        "core",
        CHAIN_ID,
        nonce,
        expiry,
        anchor_body(&fx, "inv"),
    );
    deliver_block(&mut fx, &native.to_bytes()).unwrap();
    assert!(fx.ledger.document(&h("inv")).unwrap().is_some());
}

#[test]
fn envelope_expired_transaction_is_rejected_but_its_expiry_height_is_still_valid() {
    let mut fx = Fixture::standard();
    let nonce = acct(&fx, "core").nonce;
    let height = fx.next_height();
    let stale = hand_signed(
        &fx,
        "core",
        CHAIN_ID,
        nonce,
        height - 1,
        anchor_body(&fx, "a"),
    );
    let e = deliver_block(&mut fx, &stale.to_bytes()).unwrap_err();
    assert!(
        matches!(e, TxError::Expired { expiry_height, height: at }
            if expiry_height == height - 1 && at == height),
        "{e:?}"
    );

    // expiry_height is the *last* valid height: a transaction included exactly there is fine.
    let height = fx.next_height();
    let last_chance = hand_signed(&fx, "core", CHAIN_ID, nonce, height, anchor_body(&fx, "a"));
    deliver_block(&mut fx, &last_chance.to_bytes()).unwrap();
}

#[test]
fn envelope_replayed_bytes_are_rejected_as_bad_nonce() {
    let mut fx = Fixture::standard();
    let nonce = acct(&fx, "core").nonce;
    let bytes = fx.sign("core", anchor_body(&fx, "a"));
    deliver_block(&mut fx, &bytes).unwrap();
    // Replayed in a later block.
    let e = deliver_block(&mut fx, &bytes).unwrap_err();
    assert!(
        matches!(e, TxError::BadNonce { expected, got } if expected == nonce + 1 && got == nonce),
        "{e:?}"
    );
    // Replayed within the same block.
    let bytes = fx.sign("core", anchor_body(&fx, "b"));
    fx.deliver(&bytes).unwrap();
    let e = fx.deliver(&bytes).unwrap_err();
    fx.commit();
    assert!(
        matches!(e, TxError::BadNonce { expected, got } if expected == nonce + 2 && got == nonce + 1),
        "{e:?}"
    );
    assert_eq!(acct(&fx, "core").nonce, nonce + 2);
}

#[test]
fn envelope_out_of_order_nonce_is_rejected() {
    let mut fx = Fixture::standard();
    let nonce = acct(&fx, "core").nonce;
    let ahead = fx.sign_with("core", nonce + 1, anchor_body(&fx, "second"));
    let e = deliver_block(&mut fx, &ahead).unwrap_err();
    assert!(
        matches!(e, TxError::BadNonce { expected, got } if expected == nonce && got == nonce + 1),
        "{e:?}"
    );
    assert_eq!(acct(&fx, "core").nonce, nonce);
    // Once the gap is filled the same bytes are valid.
    let first = fx.sign_with("core", nonce, anchor_body(&fx, "first"));
    deliver_block(&mut fx, &first).unwrap();
    deliver_block(&mut fx, &ahead).unwrap();
    assert_eq!(acct(&fx, "core").nonce, nonce + 2);
}

#[test]
fn envelope_unknown_signer_is_rejected_until_registered() {
    let mut fx = Fixture::standard();
    let stranger = fx.add_key("stranger");
    let body = TxBody::AnchorDocument {
        hash: h("stranger-invoice"),
        amount: Money {
            amount: Amount(1_000 * YUAN),
            currency: cny(),
        },
        buyer: stranger,
        seller: fx.addr("t1"),
    };
    let e = fx.err("stranger", body.clone());
    assert!(
        matches!(e, TxError::UnknownSigner { signer } if signer == stranger),
        "{e:?}"
    );
    assert_eq!(fx.ledger.account(&stranger).unwrap(), Account::default());

    let public_key = fx.key("stranger").public_key();
    fx.ok(
        "operator",
        TxBody::RegisterParticipant {
            public_key,
            roles: Roles::OBLIGOR,
            legal_id_hash: h("stranger-id"),
        },
    );
    fx.ok("stranger", body);
}

#[test]
fn envelope_deactivated_participant_can_neither_sign_nor_receive() {
    let mut fx = Fixture::standard();
    let t1 = fx.addr("t1");
    let doc = fx.anchor("t1", 1_000 * YUAN);
    // An offer t1 could answer, made while t1 is still active.
    let pending = fx.issue("t1", 500 * YUAN, 30);
    fx.ok(
        "operator",
        TxBody::UpdateParticipant {
            address: t1,
            roles: Roles::SUPPLIER,
            active: false,
        },
    );
    let e = fx.err("t1", TxBody::Reject { piece: pending });
    assert!(
        matches!(e, TxError::Inactive { address } if address == t1),
        "{e:?}"
    );
    let body = issue_body(&fx, "t1", 1_000 * YUAN, in_days(&fx, 30), doc);
    let e = fx.err("core", body.clone());
    assert!(
        matches!(e, TxError::Inactive { address } if address == t1),
        "{e:?}"
    );

    fx.ok(
        "operator",
        TxBody::UpdateParticipant {
            address: t1,
            roles: Roles::SUPPLIER,
            active: true,
        },
    );
    fx.ok("t1", TxBody::Reject { piece: pending });
    fx.ok("core", body);
}

#[test]
fn envelope_high_s_signature_is_rejected() {
    let mut fx = Fixture::standard();
    let nonce = acct(&fx, "core").nonce;
    let expiry = fx.next_height() + 10;
    let signed = hand_signed(&fx, "core", CHAIN_ID, nonce, expiry, anchor_body(&fx, "a"));
    let sig = k256::ecdsa::Signature::from_slice(&signed.signature.0).unwrap();
    assert!(sig.normalize_s().is_none(), "the fixture signs low-S");
    let high = k256::ecdsa::Signature::from_scalars(sig.r(), -sig.s()).unwrap();
    // (r, n − s) is the same signature's malleated twin: it normalises back to the original.
    assert_eq!(high.normalize_s(), Some(sig));
    let mut malleated = signed.clone();
    let mut raw = [0u8; 64];
    raw.copy_from_slice(&high.to_bytes());
    malleated.signature = SignatureBytes(raw);
    assert_ne!(malleated.to_bytes(), signed.to_bytes());

    let e = deliver_block(&mut fx, &malleated.to_bytes()).unwrap_err();
    assert_eq!(e, TxError::Signature(CryptoError::HighS));
    assert_eq!(acct(&fx, "core").nonce, nonce);
    // The low-S original is accepted.
    deliver_block(&mut fx, &signed.to_bytes()).unwrap();
}

#[test]
fn envelope_bad_signature_is_rejected() {
    let mut fx = Fixture::standard();
    let bytes = fx.sign("core", anchor_body(&fx, "a"));
    let n = bytes.len();
    // The signature is the last 64 bytes: flip a bit in r, then one in s.
    for at in [n - 64, n - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        let e = deliver_block(&mut fx, &bad).unwrap_err();
        assert_eq!(
            e,
            TxError::Signature(CryptoError::BadSignature),
            "byte {at}"
        );
    }
    // A signature over different content (another nonce) does not carry over either.
    let mut forged: SignedTx = cascade_core::codec::decode_canonical(&bytes).unwrap();
    let other = hand_signed(
        &fx,
        "core",
        CHAIN_ID,
        forged.tx.nonce + 1,
        forged.tx.expiry_height,
        forged.tx.body.clone(),
    );
    forged.signature = other.signature;
    let e = deliver_block(&mut fx, &forged.to_bytes()).unwrap_err();
    assert_eq!(e, TxError::Signature(CryptoError::BadSignature));
    deliver_block(&mut fx, &bytes).unwrap();
}

#[test]
fn envelope_non_canonical_encodings_are_rejected() {
    let mut fx = Fixture::standard();
    let t1 = fx.addr("t1");
    let bytes = fx.sign(
        "operator",
        TxBody::UpdateParticipant {
            address: t1,
            roles: Roles::SUPPLIER,
            active: true,
        },
    );
    // Layout ends with `... active: bool (1 byte) || signature (64 bytes)`.
    let bool_at = bytes.len() - 65;
    assert_eq!(bytes[bool_at], 1, "the `active` flag");
    let mut trailing = bytes.clone();
    trailing.push(0);
    let truncated = bytes[..bytes.len() - 1].to_vec();
    let mut bad_bool = bytes.clone();
    bad_bool[bool_at] = 2;
    for (what, bad) in [
        ("trailing byte", trailing),
        ("truncated", truncated),
        ("bool = 2", bad_bool),
    ] {
        let e = deliver_block(&mut fx, &bad).unwrap_err();
        assert!(
            matches!(
                e,
                TxError::Decode(TxDecodeError::Encoding(DecodeError::Malformed { .. }))
            ),
            "{what}: {e:?}"
        );
    }
    assert_eq!(acct(&fx, "operator").nonce, 0);
    deliver_block(&mut fx, &bytes).unwrap();
}

#[test]
fn envelope_oversize_transaction_is_rejected_before_decoding() {
    let mut fx = Fixture::standard();
    let limit = fx.ledger.params().max_tx_bytes as usize;
    let missing = h("no-such-piece");
    let body = |reference: String| TxBody::AcceptFinancing {
        piece: missing,
        payment_reference: reference,
    };
    let base = fx.sign("bank", body(String::new())).len();

    // Exactly the limit passes the size check (and fails later, on the unknown piece).
    let exact = fx.sign("bank", body("x".repeat(limit - base)));
    assert_eq!(exact.len(), limit);
    let e = deliver_block(&mut fx, &exact).unwrap_err();
    assert!(
        matches!(e, TxError::UnknownPiece { piece } if piece == missing),
        "{e:?}"
    );
    // One byte more is refused as too large.
    let over = fx.sign("bank", body("x".repeat(limit - base + 1)));
    let e = deliver_block(&mut fx, &over).unwrap_err();
    assert_eq!(
        e,
        TxError::Decode(TxDecodeError::TooLarge {
            size: limit + 1,
            limit
        })
    );
}

// ================================================================================================
// Roles and authorization
// ================================================================================================

#[test]
fn roles_only_an_operator_registers_participants() {
    let mut fx = Fixture::standard();
    let newbie = fx.add_key("newbie");
    let body = TxBody::RegisterParticipant {
        public_key: fx.key("newbie").public_key(),
        roles: Roles::SUPPLIER,
        legal_id_hash: h("newbie-id"),
    };
    for name in ["t1", "auditor", "core", "bank"] {
        let signer = fx.addr(name);
        let e = fx.err(name, body.clone());
        assert!(
            matches!(e, TxError::MissingRole { signer: s, role: "operator", action: "register participants" } if s == signer),
            "{name}: {e:?}"
        );
    }
    assert!(fx.ledger.participant(&newbie).unwrap().is_none());
    fx.ok("operator", body);
    let p = fx.ledger.participant(&newbie).unwrap().unwrap();
    assert_eq!((p.roles, p.active), (Roles::SUPPLIER, true));
}

#[test]
fn roles_a_supplier_cannot_issue() {
    let mut fx = Fixture::standard();
    let t1 = fx.addr("t1");
    let doc = fx.anchor("t1", 1_000 * YUAN);
    let body = issue_body(&fx, "t1", 1_000 * YUAN, in_days(&fx, 30), doc);
    let e = fx.err("t1", body.clone());
    assert!(
        matches!(e, TxError::MissingRole { signer, role: "obligor", action: "issue certificates" } if signer == t1),
        "{e:?}"
    );
    assert_eq!(bank_line(&fx).used, Amount::ZERO);
    fx.ok("core", body);
    assert_eq!(bank_line(&fx).used, Amount(1_000 * YUAN));
}

#[test]
fn roles_only_a_financier_or_operator_sets_credit_lines() {
    let mut fx = Fixture::standard();
    let core = fx.addr("core");
    let body = TxBody::SetCreditLine {
        obligor: core,
        currency: cny(),
        limit: Amount(5_000 * YUAN),
    };
    for name in ["t1", "core", "auditor"] {
        let signer = fx.addr(name);
        let e = fx.err(name, body.clone());
        assert!(
            matches!(e, TxError::MissingRole { signer: s, role: "financier or operator", action: "grant credit lines" } if s == signer),
            "{name}: {e:?}"
        );
        assert!(fx
            .ledger
            .credit_line(&core, &cny(), &signer)
            .unwrap()
            .is_none());
    }
    fx.ok("factor", body);
    let line = fx
        .ledger
        .credit_line(&core, &cny(), &fx.addr("factor"))
        .unwrap()
        .unwrap();
    assert_eq!(line.limit, Amount(5_000 * YUAN));
}

#[test]
fn roles_a_supplier_cannot_freeze_or_unfreeze() {
    let mut fx = Fixture::standard();
    let t1 = fx.addr("t1");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let e = fx.err(
        "t1",
        TxBody::Freeze {
            piece: root_id,
            reason: 1,
        },
    );
    assert!(
        matches!(e, TxError::MissingRole { signer, role: "operator or auditor", action: "freeze pieces" } if signer == t1),
        "{e:?}"
    );
    assert_eq!(piece(&fx, &root_id).frozen, None);
    fx.ok(
        "auditor",
        TxBody::Freeze {
            piece: root_id,
            reason: 1,
        },
    );
    let e = fx.err("t1", TxBody::Unfreeze { piece: root_id });
    assert!(
        matches!(e, TxError::MissingRole { signer, role: "operator or auditor", action: "unfreeze pieces" } if signer == t1),
        "{e:?}"
    );
    assert!(piece(&fx, &root_id).frozen.is_some());
    fx.ok("operator", TxBody::Unfreeze { piece: root_id });
    assert_eq!(piece(&fx, &root_id).frozen, None);
}

#[test]
fn roles_an_operator_cannot_lock_itself_out() {
    let mut fx = Fixture::standard();
    let op = fx.addr("operator");
    for (roles, active) in [
        (Roles::AUDITOR, true),   // drops its own operator role
        (Roles::OPERATOR, false), // deactivates itself
    ] {
        let e = fx.err(
            "operator",
            TxBody::UpdateParticipant {
                address: op,
                roles,
                active,
            },
        );
        assert_eq!(e, TxError::SelfLockout, "{roles:?} active={active}");
        let p = fx.ledger.participant(&op).unwrap().unwrap();
        assert_eq!((p.roles, p.active), (Roles::OPERATOR, true));
    }
    // Adding a role while keeping operator is fine.
    let both = Roles::OPERATOR.with(Roles::AUDITOR);
    fx.ok(
        "operator",
        TxBody::UpdateParticipant {
            address: op,
            roles: both,
            active: true,
        },
    );
    assert_eq!(fx.ledger.participant(&op).unwrap().unwrap().roles, both);
}

#[test]
fn roles_registering_twice_is_rejected() {
    let mut fx = Fixture::standard();
    let t1 = fx.addr("t1");
    let e = fx.err(
        "operator",
        TxBody::RegisterParticipant {
            public_key: fx.key("t1").public_key(),
            roles: Roles::FINANCIER,
            legal_id_hash: h("other"),
        },
    );
    assert!(
        matches!(e, TxError::AlreadyRegistered { address } if address == t1),
        "{e:?}"
    );
    let p = fx.ledger.participant(&t1).unwrap().unwrap();
    assert_eq!(p.roles, Roles::SUPPLIER, "the record is untouched");
    assert_eq!(p.legal_id_hash, h("t1"));

    // A fresh key registers once, then not again.
    let fresh = fx.add_key("fresh");
    let body = TxBody::RegisterParticipant {
        public_key: fx.key("fresh").public_key(),
        roles: Roles::SUPPLIER,
        legal_id_hash: h("fresh-id"),
    };
    fx.ok("operator", body.clone());
    let e = fx.err("operator", body);
    assert!(
        matches!(e, TxError::AlreadyRegistered { address } if address == fresh),
        "{e:?}"
    );
}

#[test]
fn roles_invalid_role_bits_are_rejected() {
    let mut fx = Fixture::standard();
    fx.add_key("newbie");
    let public_key = fx.key("newbie").public_key();
    for bits in [0u8, 32, 0xFF] {
        let e = fx.err(
            "operator",
            TxBody::RegisterParticipant {
                public_key,
                roles: Roles(bits),
                legal_id_hash: h("newbie"),
            },
        );
        assert_eq!(e, TxError::InvalidRoles { roles: bits });
    }
    let t1 = fx.addr("t1");
    let e = fx.err(
        "operator",
        TxBody::UpdateParticipant {
            address: t1,
            roles: Roles(0),
            active: true,
        },
    );
    assert_eq!(e, TxError::InvalidRoles { roles: 0 });
    // Every defined bit at once is valid.
    fx.ok(
        "operator",
        TxBody::RegisterParticipant {
            public_key,
            roles: Roles::ALL,
            legal_id_hash: h("newbie"),
        },
    );
}

// ================================================================================================
// Amounts
// ================================================================================================

#[test]
fn amounts_zero_is_rejected_everywhere() {
    let mut fx = Fixture::standard();
    let doc = fx.anchor("t1", 1_000 * YUAN);
    let e = fx.err("core", issue_body(&fx, "t1", 0, in_days(&fx, 30), doc));
    assert_eq!(e, TxError::ZeroAmount);

    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let e = fx.err("t1", transfer_body(&fx, root_id, &[("t2a", 0)]));
    assert_eq!(e, TxError::ZeroAmount);
    let e = fx.err("t1", financing_body(&fx, root_id, "bank", 0, 43_500));
    assert_eq!(e, TxError::ZeroAmount);
    let e = fx.err(
        "core",
        TxBody::AnchorDocument {
            hash: h("zero-invoice"),
            amount: Money {
                amount: Amount::ZERO,
                currency: cny(),
            },
            buyer: fx.addr("core"),
            seller: fx.addr("t1"),
        },
    );
    assert_eq!(e, TxError::ZeroAmount);
}

#[test]
fn amounts_below_min_unit_are_rejected_and_min_unit_is_accepted() {
    let mut fx = Fixture::standard();
    let min = fx.ledger.params().min_unit;
    assert_eq!(min, Amount(100));
    let doc = fx.anchor("t1", 1_000 * YUAN);
    let maturity = in_days(&fx, 30);
    let e = fx.err("core", issue_body(&fx, "t1", min.0 - 1, maturity, doc));
    assert_eq!(
        e,
        TxError::BelowMinimum {
            amount: Amount(min.0 - 1),
            min_unit: min
        }
    );
    let r = fx.ok("core", issue_body(&fx, "t1", min.0, maturity, doc));
    assert_eq!(piece(&fx, &first_piece(&r.events)).amount, min);

    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let e = fx.err("t1", transfer_body(&fx, root_id, &[("t2a", min.0 - 1)]));
    assert_eq!(
        e,
        TxError::BelowMinimum {
            amount: Amount(min.0 - 1),
            min_unit: min
        }
    );
    let (offered, _) = fx.transfer("t1", root_id, &[("t2a", min.0)]);
    assert_eq!(piece(&fx, &offered[0]).amount, min);
}

#[test]
fn amounts_outputs_whose_sum_overflows_are_rejected() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let before = observe(&fx, &root_id);
    let e = fx.err(
        "t1",
        transfer_body(&fx, root_id, &[("t2a", u64::MAX), ("t2b", 200)]),
    );
    assert_eq!(e, TxError::Overflow);
    assert_eq!(observe(&fx, &root_id), before);
}

#[test]
fn amounts_outputs_may_not_exceed_the_piece() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let before = observe(&fx, &root_id);
    let e = fx.err(
        "t1",
        transfer_body(
            &fx,
            root_id,
            &[("t2a", 600 * YUAN), ("t2b", 400 * YUAN + 1)],
        ),
    );
    assert_eq!(
        e,
        TxError::SplitExceedsPiece {
            outputs: Amount(1_000 * YUAN + 1),
            available: Amount(1_000 * YUAN)
        }
    );
    let e = fx.err(
        "t1",
        financing_body(&fx, root_id, "bank", 1_000 * YUAN + 1, 43_500),
    );
    assert_eq!(
        e,
        TxError::SplitExceedsPiece {
            outputs: Amount(1_000 * YUAN + 1),
            available: Amount(1_000 * YUAN)
        }
    );
    assert_eq!(observe(&fx, &root_id), before);
    // Exactly the whole piece is fine and leaves no change.
    let (offered, change) = fx.transfer("t1", root_id, &[("t2a", 600 * YUAN), ("t2b", 400 * YUAN)]);
    assert_eq!(offered.len(), 2);
    assert_eq!(change, None);
}

#[test]
fn amounts_change_below_min_unit_is_rejected() {
    let mut fx = Fixture::standard();
    let min = fx.ledger.params().min_unit;
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let e = fx.err(
        "t1",
        transfer_body(&fx, root_id, &[("t2a", 1_000 * YUAN - (min.0 - 1))]),
    );
    assert_eq!(
        e,
        TxError::BelowMinimum {
            amount: Amount(min.0 - 1),
            min_unit: min
        }
    );
    let e = fx.err(
        "t1",
        financing_body(&fx, root_id, "bank", 1_000 * YUAN - 1, 43_500),
    );
    assert_eq!(
        e,
        TxError::BelowMinimum {
            amount: Amount(1),
            min_unit: min
        }
    );
    // Change of exactly min_unit is kept.
    let (_, change) = fx.transfer("t1", root_id, &[("t2a", 1_000 * YUAN - min.0)]);
    let change = change.expect("change piece");
    assert_eq!(piece(&fx, &change).amount, min);
}

// ================================================================================================
// Only the holder moves a piece; only the recipient answers; only the sender cancels
// ================================================================================================

#[test]
fn holder_only_the_holder_transfers() {
    let mut fx = Fixture::standard();
    let t2a = fx.addr("t2a");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let before = observe(&fx, &root_id);
    let e = fx.err("t2a", transfer_body(&fx, root_id, &[("t2b", 500 * YUAN)]));
    assert!(
        matches!(e, TxError::NotHolder { piece, signer } if piece == root_id && signer == t2a),
        "{e:?}"
    );
    assert_eq!(observe(&fx, &root_id), before);
    assert_eq!(piece(&fx, &root_id).status, PieceStatus::Active);
}

#[test]
fn holder_only_the_holder_merges() {
    let mut fx = Fixture::standard();
    let t2a = fx.addr("t2a");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (offered, change) = fx.transfer("t1", root_id, &[("t2a", 300 * YUAN)]);
    fx.ok("t2a", TxBody::Accept { piece: offered[0] });
    let change = change.unwrap();
    // t2a holds offered[0] but not t1's change.
    let e = fx.err(
        "t2a",
        TxBody::Merge {
            pieces: vec![offered[0], change],
        },
    );
    assert!(
        matches!(e, TxError::NotHolder { piece, signer } if piece == change && signer == t2a),
        "{e:?}"
    );
    assert_eq!(piece(&fx, &change).status, PieceStatus::Active);
    assert_eq!(piece(&fx, &offered[0]).status, PieceStatus::Active);
}

#[test]
fn holder_only_the_holder_requests_financing() {
    let mut fx = Fixture::standard();
    let t2a = fx.addr("t2a");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let e = fx.err(
        "t2a",
        financing_body(&fx, root_id, "bank", 500 * YUAN, 43_500),
    );
    assert!(
        matches!(e, TxError::NotHolder { piece, signer } if piece == root_id && signer == t2a),
        "{e:?}"
    );
    assert_eq!(acct(&fx, "bank").offers_in, 0);
    request(&mut fx, "t1", root_id, "bank", 500 * YUAN);
    assert_eq!(acct(&fx, "bank").offers_in, 1);
}

#[test]
fn holder_only_the_recipient_accepts_or_rejects_an_offer() {
    let mut fx = Fixture::standard();
    let t2b = fx.addr("t2b");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (offered, _) = fx.transfer("t1", root_id, &[("t2a", 300 * YUAN)]);
    let o = offered[0];
    for body in [TxBody::Accept { piece: o }, TxBody::Reject { piece: o }] {
        let e = fx.err("t2b", body);
        assert!(
            matches!(e, TxError::NotHolder { piece, signer } if piece == o && signer == t2b),
            "{e:?}"
        );
    }
    // Not even the sender accepts its own offer.
    let t1 = fx.addr("t1");
    let e = fx.err("t1", TxBody::Accept { piece: o });
    assert!(
        matches!(e, TxError::NotHolder { piece, signer } if piece == o && signer == t1),
        "{e:?}"
    );
    assert!(matches!(piece(&fx, &o).status, PieceStatus::Pending { .. }));
    fx.ok("t2a", TxBody::Accept { piece: o });
    assert_eq!(piece(&fx, &o).status, PieceStatus::Active);
}

#[test]
fn holder_only_the_sender_cancels_an_offer() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (offered, _) = fx.transfer("t1", root_id, &[("t2a", 300 * YUAN)]);
    let o = offered[0];
    for name in ["t2a", "core", "operator"] {
        let signer = fx.addr(name);
        let e = fx.err(name, TxBody::Cancel { piece: o });
        assert!(
            matches!(e, TxError::Unauthorized { signer: s, action: "cancel this offer", reason: "only its sender may" } if s == signer),
            "{name}: {e:?}"
        );
    }
    assert!(matches!(piece(&fx, &o).status, PieceStatus::Pending { .. }));
    fx.ok("t1", TxBody::Cancel { piece: o });
    assert_eq!(piece(&fx, &o).status, PieceStatus::Cancelled);
}

#[test]
fn holder_only_the_financier_asked_answers_a_financing_request() {
    let mut fx = Fixture::standard();
    let factor = fx.addr("factor");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (locked, _) = request(&mut fx, "t1", root_id, "bank", 1_000 * YUAN);
    let e = fx.err(
        "factor",
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: "PAY".into(),
        },
    );
    assert!(
        matches!(e, TxError::Unauthorized { signer, action: "accept this financing", .. } if signer == factor),
        "{e:?}"
    );
    let e = fx.err("factor", TxBody::Reject { piece: locked });
    assert!(
        matches!(e, TxError::Unauthorized { signer, action: "decline this financing", .. } if signer == factor),
        "{e:?}"
    );
    // Only the holder withdraws it.
    let t2a = fx.addr("t2a");
    let e = fx.err("t2a", TxBody::Cancel { piece: locked });
    assert!(
        matches!(e, TxError::NotHolder { piece, signer } if piece == locked && signer == t2a),
        "{e:?}"
    );
    assert!(matches!(
        piece(&fx, &locked).status,
        PieceStatus::FinancingRequested { .. }
    ));
    finance(&mut fx, "bank", locked);
}

// ================================================================================================
// Maturity and tenor
// ================================================================================================

#[test]
fn maturity_must_be_in_the_future() {
    let mut fx = Fixture::standard();
    let today = fx.today();
    let doc = fx.anchor("t1", 1_000 * YUAN);
    for maturity in [today, Day(today.0 - 1)] {
        let e = fx.err("core", issue_body(&fx, "t1", 1_000 * YUAN, maturity, doc));
        assert!(
            matches!(e, TxError::MaturityNotInFuture { maturity: m, today: t } if m == maturity && t == today),
            "{e:?}"
        );
    }
    assert_eq!(bank_line(&fx).used, Amount::ZERO);
    fx.ok(
        "core",
        issue_body(&fx, "t1", 1_000 * YUAN, Day(today.0 + 1), doc),
    );
}

#[test]
fn maturity_tenor_is_capped_at_max_tenor_days() {
    let mut fx = Fixture::standard();
    let max = fx.ledger.params().max_tenor_days;
    assert_eq!(max, 365);
    let latest = in_days(&fx, 365);
    let doc = fx.anchor("t1", 1_000 * YUAN);
    let e = fx.err(
        "core",
        issue_body(&fx, "t1", 1_000 * YUAN, Day(latest.0 + 1), doc),
    );
    assert!(
        matches!(e, TxError::TenorTooLong { maturity, max_days: 365, latest: l }
            if maturity == Day(latest.0 + 1) && l == latest),
        "{e:?}"
    );
    let r = fx.ok("core", issue_body(&fx, "t1", 1_000 * YUAN, latest, doc));
    let root_id = first_piece(&r.events);
    assert_eq!(root(&fx, &root_id).terms.maturity, latest);
}

// ================================================================================================
// No movement of a pending, frozen, financing-requested, financed or matured piece
// ================================================================================================

#[test]
fn immovable_pending_piece() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (offered, _) = fx.transfer("t1", root_id, &[("t2a", 300 * YUAN)]);
    let o = offered[0];
    // Neither the recipient (not yet holding it) nor the sender (no longer holding it).
    for name in ["t2a", "t1"] {
        let signer = fx.addr(name);
        let e = fx.err(name, transfer_body(&fx, o, &[("t3a", 100 * YUAN)]));
        assert!(
            matches!(e, TxError::NotHolder { piece, signer: s } if piece == o && s == signer),
            "{name}: {e:?}"
        );
        let e = fx.err(name, financing_body(&fx, o, "bank", 100 * YUAN, 43_500));
        assert!(
            matches!(e, TxError::NotHolder { piece, signer: s } if piece == o && s == signer),
            "{name}: {e:?}"
        );
    }
    // The issued piece, still pending, cannot move either.
    let fresh = fx.issue("t1", 1_000 * YUAN, 30);
    let t1 = fx.addr("t1");
    let e = fx.err("t1", transfer_body(&fx, fresh, &[("t2a", 100 * YUAN)]));
    assert!(
        matches!(e, TxError::NotHolder { piece, signer } if piece == fresh && signer == t1),
        "{e:?}"
    );
}

#[test]
fn immovable_frozen_piece() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (offered, change) = fx.transfer("t1", root_id, &[("t2a", 300 * YUAN)]);
    fx.ok("t2a", TxBody::Reject { piece: offered[0] });
    let change = change.unwrap();
    fx.ok(
        "auditor",
        TxBody::Freeze {
            piece: change,
            reason: 7,
        },
    );
    let before = observe(&fx, &root_id);
    let returned = fx
        .ledger
        .holdings(&fx.addr("t1"))
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .find(|id| *id != change)
        .unwrap();
    for body in [
        transfer_body(&fx, change, &[("t2a", 100 * YUAN)]),
        financing_body(&fx, change, "bank", 100 * YUAN, 43_500),
        TxBody::Merge {
            pieces: vec![returned, change],
        },
    ] {
        let kind = body.kind();
        let e = fx.err("t1", body);
        assert!(
            matches!(e, TxError::Frozen { piece, reason: 7 } if piece == change),
            "{kind}: {e:?}"
        );
    }
    assert_eq!(observe(&fx, &root_id), before);
    fx.ok("operator", TxBody::Unfreeze { piece: change });
    fx.transfer("t1", change, &[("t2a", 100 * YUAN)]);
}

#[test]
fn immovable_financing_requested_piece() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (locked, change) = request(&mut fx, "t1", root_id, "bank", 600 * YUAN);
    let e = fx.err("t1", transfer_body(&fx, locked, &[("t2a", 100 * YUAN)]));
    assert!(
        matches!(e, TxError::WrongStatus { piece, status: "financing-requested", action: "transfer" } if piece == locked),
        "{e:?}"
    );
    let e = fx.err(
        "t1",
        TxBody::Merge {
            pieces: vec![change.unwrap(), locked],
        },
    );
    assert!(
        matches!(e, TxError::WrongStatus { piece, status: "financing-requested", action: "merge" } if piece == locked),
        "{e:?}"
    );
    // The change is free to move.
    fx.transfer("t1", change.unwrap(), &[("t2a", 100 * YUAN)]);
}

#[test]
fn immovable_financed_piece() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (locked, _) = request(&mut fx, "t1", root_id, "bank", 1_000 * YUAN);
    let financed = finance(&mut fx, "bank", locked);
    assert_eq!(piece(&fx, &financed).status, PieceStatus::Financed);
    let e = fx.err("bank", transfer_body(&fx, financed, &[("t2a", 100 * YUAN)]));
    assert!(
        matches!(e, TxError::WrongStatus { piece, status: "financed", action: "transfer" } if piece == financed),
        "{e:?}"
    );
    // The seller no longer holds anything.
    let t1 = fx.addr("t1");
    let e = fx.err("t1", transfer_body(&fx, financed, &[("t2a", 100 * YUAN)]));
    assert!(
        matches!(e, TxError::NotHolder { piece, signer } if piece == financed && signer == t1),
        "{e:?}"
    );
    let e = fx.err("t1", transfer_body(&fx, locked, &[("t2a", 100 * YUAN)]));
    assert!(
        matches!(e, TxError::NotHolder { piece, signer } if piece == locked && signer == t1),
        "{e:?}"
    );
}

#[test]
fn immovable_after_maturity() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let maturity = root(&fx, &root_id).terms.maturity;
    // The day before maturity it still moves.
    fx.advance_days(29);
    let (_, change) = fx.transfer("t1", root_id, &[("t2a", 100 * YUAN)]);
    let change = change.unwrap();
    let (locked, _) = request(&mut fx, "t1", change, "bank", 100 * YUAN);
    fx.advance_days(1);
    assert_eq!(fx.today(), maturity);
    let today = fx.today();
    let rest = fx
        .ledger
        .holdings(&fx.addr("t1"))
        .unwrap()
        .into_iter()
        .find(|(_, p)| p.status == PieceStatus::Active)
        .unwrap()
        .0;
    for body in [
        transfer_body(&fx, rest, &[("t2a", 100 * YUAN)]),
        financing_body(&fx, rest, "bank", 100 * YUAN, 43_500),
    ] {
        let kind = body.kind();
        let e = fx.err("t1", body);
        assert!(
            matches!(e, TxError::Matured { maturity: m, today: t } if m == maturity && t == today),
            "{kind}: {e:?}"
        );
    }
    // A financing request made before maturity can no longer be accepted.
    let e = fx.err(
        "bank",
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: "late".into(),
        },
    );
    assert!(
        matches!(e, TxError::Matured { maturity: m, today: t } if m == maturity && t == today),
        "{e:?}"
    );
}

// ================================================================================================
// Credit lines and trade documents
// ================================================================================================

#[test]
fn credit_issuing_beyond_the_line_is_rejected() {
    let mut fx = Fixture::standard();
    let limit = bank_line(&fx).limit;
    assert_eq!(limit, Amount(1_000_000_000));
    let doc = fx.anchor("t1", 2_000_000_000);
    let maturity = in_days(&fx, 30);
    let e = fx.err("core", issue_body(&fx, "t1", limit.0 + 1, maturity, doc));
    assert_eq!(
        e,
        TxError::CreditExceeded {
            requested: Amount(limit.0 + 1),
            available: limit
        }
    );
    assert_eq!(bank_line(&fx).used, Amount::ZERO);
    assert_eq!(
        fx.ledger.document(&doc).unwrap().unwrap().issued,
        Amount::ZERO
    );
    // Exactly the limit is fine; then nothing is left.
    fx.ok("core", issue_body(&fx, "t1", limit.0, maturity, doc));
    assert_eq!(bank_line(&fx).used, limit);
    let e = fx.err("core", issue_body(&fx, "t1", 100, maturity, doc));
    assert_eq!(
        e,
        TxError::CreditExceeded {
            requested: Amount(100),
            available: Amount::ZERO
        }
    );
}

#[test]
fn credit_an_unknown_grantor_has_no_line() {
    let mut fx = Fixture::standard();
    let (core, factor) = (fx.addr("core"), fx.addr("factor"));
    let doc = fx.anchor("t1", 1_000 * YUAN);
    let body = TxBody::Issue {
        to: fx.addr("t1"),
        amount: Amount(1_000 * YUAN),
        currency: cny(),
        maturity: in_days(&fx, 30),
        document: doc,
        credit_grantor: factor,
    };
    let e = fx.err("core", body.clone());
    assert!(
        matches!(e, TxError::NoCreditLine { obligor, grantor, currency }
            if obligor == core && grantor == factor && currency == cny()),
        "{e:?}"
    );
    fx.ok(
        "factor",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(1_000 * YUAN),
        },
    );
    fx.ok("core", body);
    let line = fx
        .ledger
        .credit_line(&core, &cny(), &factor)
        .unwrap()
        .unwrap();
    assert_eq!(line.used, Amount(1_000 * YUAN));
    assert_eq!(
        bank_line(&fx).used,
        Amount::ZERO,
        "the bank line is untouched"
    );
}

#[test]
fn credit_limit_cannot_go_below_what_is_used() {
    let mut fx = Fixture::standard();
    let core = fx.addr("core");
    fx.issue("t1", 500 * YUAN, 30);
    let set = |limit: u64| TxBody::SetCreditLine {
        obligor: core,
        currency: cny(),
        limit: Amount(limit),
    };
    let e = fx.err("bank", set(500 * YUAN - 1));
    assert_eq!(
        e,
        TxError::LimitBelowUsed {
            limit: Amount(500 * YUAN - 1),
            used: Amount(500 * YUAN)
        }
    );
    assert_eq!(
        bank_line(&fx),
        CreditLine {
            limit: Amount(1_000_000_000),
            used: Amount(500 * YUAN)
        }
    );
    fx.ok("bank", set(500 * YUAN));
    assert_eq!(
        bank_line(&fx),
        CreditLine {
            limit: Amount(500 * YUAN),
            used: Amount(500 * YUAN)
        }
    );
}

#[test]
fn document_cannot_back_more_than_its_amount() {
    let mut fx = Fixture::standard();
    let doc = fx.anchor("t1", 1_000 * YUAN);
    let maturity = in_days(&fx, 30);
    fx.ok("core", issue_body(&fx, "t1", 600 * YUAN, maturity, doc));
    let e = fx.err("core", issue_body(&fx, "t1", 600 * YUAN, maturity, doc));
    assert_eq!(
        e,
        TxError::DocumentExceeded {
            requested: Amount(600 * YUAN),
            remaining: Amount(400 * YUAN)
        }
    );
    assert_eq!(
        fx.ledger.document(&doc).unwrap().unwrap().issued,
        Amount(600 * YUAN)
    );
    assert_eq!(bank_line(&fx).used, Amount(600 * YUAN));
    // The remainder exactly is fine.
    fx.ok("core", issue_body(&fx, "t1", 400 * YUAN, maturity, doc));
    assert_eq!(
        fx.ledger.document(&doc).unwrap().unwrap().issued,
        Amount(1_000 * YUAN)
    );
}

#[test]
fn document_cannot_be_anchored_twice() {
    let mut fx = Fixture::standard();
    fx.ok("core", anchor_body(&fx, "inv"));
    let original = fx.ledger.document(&h("inv")).unwrap().unwrap();
    // Not again, and not with different figures.
    let mut other = anchor_body(&fx, "inv");
    if let TxBody::AnchorDocument { amount, .. } = &mut other {
        amount.amount = Amount(9_999 * YUAN);
    }
    for body in [anchor_body(&fx, "inv"), other] {
        let e = fx.err("core", body);
        assert!(
            matches!(e, TxError::DocumentExists { hash } if hash == h("inv")),
            "{e:?}"
        );
    }
    assert_eq!(fx.ledger.document(&h("inv")).unwrap().unwrap(), original);
}

#[test]
fn document_issue_must_match_the_document() {
    let mut fx = Fixture::standard();
    let doc = fx.anchor("t1", 1_000 * YUAN);
    let maturity = in_days(&fx, 30);
    let e = fx.err("core", issue_body(&fx, "t2a", 1_000 * YUAN, maturity, doc));
    assert_eq!(
        e,
        TxError::DocumentMismatch {
            reason: "the recipient is not the document's seller"
        }
    );
    let usd = Currency::new("USD").unwrap();
    let mut body = issue_body(&fx, "t1", 1_000 * YUAN, maturity, doc);
    if let TxBody::Issue { currency, .. } = &mut body {
        *currency = usd;
    }
    let e = fx.err("core", body);
    assert_eq!(
        e,
        TxError::DocumentMismatch {
            reason: "the currency differs from the document's"
        }
    );
    fx.ok("core", issue_body(&fx, "t1", 1_000 * YUAN, maturity, doc));
}

#[test]
fn document_must_be_anchored_before_issuing() {
    let mut fx = Fixture::standard();
    let missing = h("never-anchored");
    let e = fx.err(
        "core",
        issue_body(&fx, "t1", 1_000 * YUAN, in_days(&fx, 30), missing),
    );
    assert!(
        matches!(e, TxError::UnknownDocument { hash } if hash == missing),
        "{e:?}"
    );
    assert_eq!(bank_line(&fx).used, Amount::ZERO);
}

// ================================================================================================
// One financing per piece
// ================================================================================================

#[test]
fn financing_a_financed_piece_cannot_be_financed_again() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (locked, _) = request(&mut fx, "t1", root_id, "bank", 1_000 * YUAN);
    let financed = finance(&mut fx, "bank", locked);
    let p = piece(&fx, &financed);
    assert_eq!(p.status, PieceStatus::Financed);
    assert_eq!(p.holder, fx.addr("bank"));
    assert_eq!(p.financing.as_ref().unwrap().seller, fx.addr("t1"));
    let before = observe(&fx, &root_id);
    for name in ["bank", "t1"] {
        let e = fx.err(
            name,
            financing_body(&fx, financed, "factor", 1_000 * YUAN, 43_500),
        );
        assert!(
            matches!(e, TxError::AlreadyFinanced { piece } if piece == financed),
            "{name}: {e:?}"
        );
    }
    assert_eq!(observe(&fx, &root_id), before);
}

#[test]
fn financing_a_requested_piece_cannot_get_a_second_request() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (locked, _) = request(&mut fx, "t1", root_id, "bank", 1_000 * YUAN);
    assert_eq!(locked, root_id, "no change: the piece itself is locked");
    for financier in ["factor", "bank"] {
        let e = fx.err(
            "t1",
            financing_body(&fx, locked, financier, 1_000 * YUAN, 43_500),
        );
        assert!(
            matches!(e, TxError::WrongStatus { piece, status: "financing-requested", action: "request financing" } if piece == locked),
            "{financier}: {e:?}"
        );
    }
    assert_eq!(acct(&fx, "factor").offers_in, 0);
    assert_eq!(acct(&fx, "bank").offers_in, 1);
}

// ================================================================================================
// Caps and shape of transfers and merges
// ================================================================================================

#[test]
fn caps_too_many_outputs() {
    let mut fx = Fixture::standard();
    let max = fx.ledger.params().max_outputs;
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let outputs: Vec<(&str, u64)> = vec![("t2a", 100); usize::from(max) + 1];
    let e = fx.err("t1", transfer_body(&fx, root_id, &outputs));
    assert_eq!(
        e,
        TxError::TooManyOutputs {
            count: usize::from(max) + 1,
            max
        }
    );

    // With a small cap the boundary is visible: exactly max_outputs is fine.
    let mut fx = Fixture::standard_with(Params {
        max_outputs: 2,
        ..Params::default()
    });
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let e = fx.err(
        "t1",
        transfer_body(
            &fx,
            root_id,
            &[
                ("t2a", 100 * YUAN),
                ("t2b", 100 * YUAN),
                ("t3a", 100 * YUAN),
            ],
        ),
    );
    assert_eq!(e, TxError::TooManyOutputs { count: 3, max: 2 });
    let (offered, _) = fx.transfer("t1", root_id, &[("t2a", 100 * YUAN), ("t2b", 100 * YUAN)]);
    assert_eq!(offered.len(), 2);
}

#[test]
fn caps_tier_depth() {
    let mut fx = Fixture::standard_with(Params {
        max_tier: 2,
        ..Params::default()
    });
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (t2, _) = fx.transfer("t1", root_id, &[("t2a", 500 * YUAN)]);
    fx.ok("t2a", TxBody::Accept { piece: t2[0] });
    assert_eq!(piece(&fx, &t2[0]).tier, 2);
    let e = fx.err("t2a", transfer_body(&fx, t2[0], &[("t3a", 100 * YUAN)]));
    assert_eq!(e, TxError::TierTooDeep { tier: 3, max: 2 });
    assert_eq!(piece(&fx, &t2[0]).status, PieceStatus::Active);
}

#[test]
fn caps_merge_count() {
    let mut fx = Fixture::standard();
    let max = fx.ledger.params().max_merge_inputs;
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let too_many: Vec<Hash32> = (0..=max).map(|i| h(&format!("p{i}"))).collect();
    for pieces in [vec![], vec![root_id], too_many] {
        let count = pieces.len();
        let e = fx.err("t1", TxBody::Merge { pieces });
        assert_eq!(e, TxError::BadMergeCount { count, max });
    }
}

#[test]
fn caps_merge_rejects_duplicates() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let e = fx.err(
        "t1",
        TxBody::Merge {
            pieces: vec![root_id, root_id],
        },
    );
    assert!(
        matches!(e, TxError::DuplicatePiece { piece } if piece == root_id),
        "{e:?}"
    );
    assert_eq!(piece(&fx, &root_id).status, PieceStatus::Active);
}

#[test]
fn caps_merge_rejects_different_roots_and_merges_one_root() {
    let mut fx = Fixture::standard();
    let a = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let b = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let e = fx.err("t1", TxBody::Merge { pieces: vec![a, b] });
    assert_eq!(e, TxError::DifferentRoots);
    assert_eq!(acct(&fx, "t1").holdings, 2);

    // Two pieces of one certificate merge: the change and a returned transfer.
    let (offered, change) = fx.transfer("t1", a, &[("t2a", 300 * YUAN)]);
    let r = fx.ok("t2a", TxBody::Reject { piece: offered[0] });
    let Event::Rejected {
        returned: Some(returned),
        ..
    } = r.events[0]
    else {
        panic!("{:?}", r.events)
    };
    let r = fx.ok(
        "t1",
        TxBody::Merge {
            pieces: vec![change.unwrap(), returned],
        },
    );
    let Event::Merged { output, amount, .. } = &r.events[0] else {
        panic!("{:?}", r.events)
    };
    assert_eq!(*amount, Amount(1_000 * YUAN));
    assert_eq!(
        piece(&fx, output).merged_from,
        vec![change.unwrap(), returned]
    );
}

#[test]
fn caps_duplicate_recipient_self_transfer_and_empty_outputs() {
    let mut fx = Fixture::standard();
    let t2a = fx.addr("t2a");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let before = observe(&fx, &root_id);
    let e = fx.err(
        "t1",
        transfer_body(&fx, root_id, &[("t2a", 100 * YUAN), ("t2a", 200 * YUAN)]),
    );
    assert!(
        matches!(e, TxError::DuplicateRecipient { to } if to == t2a),
        "{e:?}"
    );
    let e = fx.err("t1", transfer_body(&fx, root_id, &[("t1", 100 * YUAN)]));
    assert_eq!(e, TxError::SelfTransfer);
    let e = fx.err("t1", transfer_body(&fx, root_id, &[]));
    assert_eq!(e, TxError::NoOutputs);
    assert_eq!(observe(&fx, &root_id), before);
}

// ================================================================================================
// Rates and payment references
// ================================================================================================

#[test]
fn rates_must_be_positive_and_at_most_the_maximum() {
    let mut fx = Fixture::standard();
    let max = fx.ledger.params().max_annual_rate;
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 90);
    for rate in [0, max.0 + 1] {
        let e = fx.err(
            "t1",
            financing_body(&fx, root_id, "bank", 1_000 * YUAN, rate),
        );
        assert_eq!(
            e,
            TxError::RateOutOfRange {
                rate: AnnualRate(rate),
                max
            }
        );
    }
    assert_eq!(piece(&fx, &root_id).status, PieceStatus::Active);
    fx.ok(
        "t1",
        financing_body(&fx, root_id, "bank", 1_000 * YUAN, max.0),
    );
    assert!(matches!(
        piece(&fx, &root_id).status,
        PieceStatus::FinancingRequested { rate, .. } if rate == max
    ));
}

#[test]
fn rates_payment_reference_must_be_1_to_64_bytes() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 90);
    let (locked, _) = request(&mut fx, "t1", root_id, "bank", 1_000 * YUAN);
    for reference in [String::new(), "x".repeat(MAX_PAYMENT_REFERENCE + 1)] {
        let e = fx.err(
            "bank",
            TxBody::AcceptFinancing {
                piece: locked,
                payment_reference: reference,
            },
        );
        assert_eq!(e, TxError::BadPaymentReference { max: 64 });
    }
    let reference = "x".repeat(MAX_PAYMENT_REFERENCE);
    let r = fx.ok(
        "bank",
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: reference.clone(),
        },
    );
    let Event::Financed { piece: p, .. } = &r.events[0] else {
        panic!("{:?}", r.events)
    };
    assert_eq!(
        piece(&fx, p).financing.unwrap().payment_reference,
        reference
    );
}

// ================================================================================================
// Lifecycle: reject, cancel, expiry, settlement, overdue, freeze
// ================================================================================================

#[test]
fn lifecycle_reject_returns_value_to_the_sender_at_its_tier() {
    let mut fx = Fixture::standard();
    let (t1, t2a) = (fx.addr("t1"), fx.addr("t2a"));
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (t2, _) = fx.transfer("t1", root_id, &[("t2a", 600 * YUAN)]);
    fx.ok("t2a", TxBody::Accept { piece: t2[0] });
    let (t3, change) = fx.transfer("t2a", t2[0], &[("t3a", 250 * YUAN)]);
    assert_eq!(piece(&fx, &t3[0]).tier, 3);

    let r = fx.ok("t3a", TxBody::Reject { piece: t3[0] });
    let Event::Rejected {
        piece: rejected,
        from,
        returned: Some(returned),
        ..
    } = r.events[0]
    else {
        panic!("{:?}", r.events)
    };
    assert_eq!((rejected, from), (t3[0], t2a));
    assert_eq!(piece(&fx, &t3[0]).status, PieceStatus::Rejected);
    let back = piece(&fx, &returned);
    assert_eq!(back.holder, t2a);
    assert_eq!(back.amount, Amount(250 * YUAN));
    assert_eq!(back.tier, 2, "the sender's tier is restored");
    assert_eq!(back.status, PieceStatus::Active);
    assert_eq!(back.parent, Some(t3[0]));
    let held: u64 = fx
        .ledger
        .holdings(&t2a)
        .unwrap()
        .iter()
        .map(|(_, p)| p.amount.0)
        .sum();
    assert_eq!(held, 600 * YUAN, "change plus returned value");
    assert!(fx
        .ledger
        .holdings(&t2a)
        .unwrap()
        .iter()
        .any(|(id, _)| Some(*id) == change));
    assert_eq!(acct(&fx, "t3a").offers_in, 0);
    assert_eq!(acct(&fx, "t2a").offers_out, 0);

    // One level up: tier 2 rejected back to t1 comes back as tier 1.
    let (t2, _) = fx.transfer("t2a", returned, &[("t2b", 100 * YUAN)]);
    assert_eq!(piece(&fx, &t2[0]).tier, 3);
    let t1_change = fx.ledger.holdings(&t1).unwrap()[0].0;
    let (t2_from_t1, _) = fx.transfer("t1", t1_change, &[("t2b", 100 * YUAN)]);
    let r = fx.ok(
        "t2b",
        TxBody::Reject {
            piece: t2_from_t1[0],
        },
    );
    let Event::Rejected {
        returned: Some(back),
        ..
    } = r.events[0]
    else {
        panic!("{:?}", r.events)
    };
    assert_eq!(piece(&fx, &back).tier, 1);
    assert_eq!(piece(&fx, &back).holder, t1);
}

#[test]
fn lifecycle_rejecting_an_issue_voids_it_and_releases_credit_and_document() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue("t1", 1_000 * YUAN, 30);
    let doc = root(&fx, &root_id).terms.document;
    assert_eq!(bank_line(&fx).used, Amount(1_000 * YUAN));
    assert_eq!(
        fx.ledger.document(&doc).unwrap().unwrap().issued,
        Amount(1_000 * YUAN)
    );
    let r = fx.ok("t1", TxBody::Reject { piece: root_id });
    assert!(
        matches!(r.events[0], Event::Rejected { returned: None, piece, .. } if piece == root_id),
        "{:?}",
        r.events
    );
    assert_eq!(root(&fx, &root_id).status, RootStatus::Void);
    assert_eq!(piece(&fx, &root_id).status, PieceStatus::Rejected);
    assert_eq!(bank_line(&fx).used, Amount::ZERO);
    assert_eq!(
        fx.ledger.document(&doc).unwrap().unwrap().issued,
        Amount::ZERO
    );
    assert_eq!(
        fx.ledger
            .obligor_record(&fx.addr("core"))
            .unwrap()
            .certificates,
        0
    );
    // A void certificate cannot be settled; the released invoice can back a new issue.
    let e = fx.err("core", TxBody::Settle { root: root_id });
    assert!(
        matches!(e, TxError::WrongRootStatus { root, status: "void", action: "settle" } if root == root_id),
        "{e:?}"
    );
    fx.ok(
        "core",
        issue_body(&fx, "t1", 1_000 * YUAN, in_days(&fx, 30), doc),
    );
}

#[test]
fn lifecycle_cancel_before_acceptance_returns_value_and_accept_after_cancel_fails() {
    let mut fx = Fixture::standard();
    let t1 = fx.addr("t1");
    // Cancelling an issue voids it and releases the credit and the invoice.
    let issued = fx.issue("t1", 1_000 * YUAN, 30);
    let doc = root(&fx, &issued).terms.document;
    let r = fx.ok("core", TxBody::Cancel { piece: issued });
    assert!(
        matches!(r.events[0], Event::Cancelled { returned: None, piece, .. } if piece == issued),
        "{:?}",
        r.events
    );
    assert_eq!(root(&fx, &issued).status, RootStatus::Void);
    assert_eq!(bank_line(&fx).used, Amount::ZERO);
    assert_eq!(
        fx.ledger.document(&doc).unwrap().unwrap().issued,
        Amount::ZERO
    );
    let e = fx.err("t1", TxBody::Accept { piece: issued });
    assert!(
        matches!(e, TxError::WrongStatus { piece, status: "cancelled", action: "accept" } if piece == issued),
        "{e:?}"
    );

    // Cancelling a transfer gives the sender a new active piece.
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (offered, _) = fx.transfer("t1", root_id, &[("t2a", 400 * YUAN)]);
    let r = fx.ok("t1", TxBody::Cancel { piece: offered[0] });
    let Event::Cancelled {
        returned: Some(returned),
        ..
    } = r.events[0]
    else {
        panic!("{:?}", r.events)
    };
    let back = piece(&fx, &returned);
    assert_eq!(
        (back.holder, back.amount, back.tier, back.status),
        (t1, Amount(400 * YUAN), 1, PieceStatus::Active)
    );
    let e = fx.err("t2a", TxBody::Accept { piece: offered[0] });
    assert!(
        matches!(e, TxError::WrongStatus { piece, status: "cancelled", action: "accept" } if piece == offered[0]),
        "{e:?}"
    );
    assert_eq!(acct(&fx, "t2a").offers_in, 0);
    assert_eq!(acct(&fx, "t1").holdings, 2);
}

#[test]
fn lifecycle_offers_expire_after_offer_expiry_days() {
    let mut fx = Fixture::standard();
    let days = fx.ledger.params().offer_expiry_days;
    assert_eq!(days, 7);
    let t1 = fx.addr("t1");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 90);
    let issued = fx.issue("t1", 500 * YUAN, 90);
    let (offered, _) = fx.transfer("t1", root_id, &[("t2a", 300 * YUAN)]);
    assert_eq!(bank_line(&fx).used, Amount(1_500 * YUAN));

    // One day before expiry nothing happens.
    fx.advance_days(days - 1);
    let events = fx.empty_block();
    assert!(events.is_empty(), "{events:?}");
    assert!(matches!(
        piece(&fx, &offered[0]).status,
        PieceStatus::Pending { .. }
    ));

    fx.advance_days(1);
    let events = fx.empty_block();
    assert_eq!(events.len(), 2, "{events:?}");
    let returned = events
        .iter()
        .find_map(|e| match e {
            Event::OfferExpired {
                piece,
                from,
                returned: Some(r),
                ..
            } if *piece == offered[0] && *from == t1 => Some(*r),
            _ => None,
        })
        .unwrap_or_else(|| panic!("transfer offer did not expire: {events:?}"));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::OfferExpired { piece, returned: None, .. } if *piece == issued
    )));
    assert_eq!(piece(&fx, &offered[0]).status, PieceStatus::Expired);
    let back = piece(&fx, &returned);
    assert_eq!(
        (back.holder, back.amount, back.tier, back.status),
        (t1, Amount(300 * YUAN), 1, PieceStatus::Active)
    );
    // The expired issue is void and released its credit.
    assert_eq!(root(&fx, &issued).status, RootStatus::Void);
    assert_eq!(bank_line(&fx).used, Amount(1_000 * YUAN));
    assert_eq!(acct(&fx, "t2a").offers_in, 0);
    assert_eq!(acct(&fx, "t1").offers_in, 0);
    assert_eq!(acct(&fx, "t1").offers_out, 0);
    let e = fx.err("t2a", TxBody::Accept { piece: offered[0] });
    assert!(
        matches!(
            e,
            TxError::WrongStatus {
                status: "expired",
                action: "accept",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn lifecycle_financing_request_expiry_returns_the_piece_to_active() {
    let mut fx = Fixture::standard();
    let days = fx.ledger.params().offer_expiry_days;
    let t1 = fx.addr("t1");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 90);
    let (locked, _) = request(&mut fx, "t1", root_id, "bank", 1_000 * YUAN);
    assert_eq!(acct(&fx, "bank").offers_in, 1);
    fx.advance_days(days);
    let events = fx.empty_block();
    assert!(
        matches!(events.as_slice(), [Event::OfferExpired { piece, from, returned: None, .. }]
            if *piece == locked && *from == t1),
        "{events:?}"
    );
    assert_eq!(piece(&fx, &locked).status, PieceStatus::Active);
    assert_eq!(piece(&fx, &locked).holder, t1);
    assert_eq!(acct(&fx, "bank").offers_in, 0);
    assert_eq!(acct(&fx, "t1").holdings, 1);
    let e = fx.err(
        "bank",
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: "PAY".into(),
        },
    );
    assert!(
        matches!(e, TxError::WrongStatus { piece, status: "active", action: "accept financing" } if piece == locked),
        "{e:?}"
    );
    // The piece is free to move again.
    fx.transfer("t1", locked, &[("t2a", 100 * YUAN)]);
}

#[test]
fn lifecycle_a_frozen_offer_does_not_expire_until_unfrozen() {
    let mut fx = Fixture::standard();
    let days = fx.ledger.params().offer_expiry_days;
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 90);
    let (offered, _) = fx.transfer("t1", root_id, &[("t2a", 300 * YUAN)]);
    let o = offered[0];
    fx.ok(
        "operator",
        TxBody::Freeze {
            piece: o,
            reason: 3,
        },
    );
    fx.advance_days(days + 5);
    let events = fx.empty_block();
    assert!(events.is_empty(), "{events:?}");
    assert!(matches!(piece(&fx, &o).status, PieceStatus::Pending { .. }));
    // Frozen: the recipient cannot accept it either.
    let e = fx.err("t2a", TxBody::Accept { piece: o });
    assert!(
        matches!(e, TxError::Frozen { piece, reason: 3 } if piece == o),
        "{e:?}"
    );
    fx.ok("operator", TxBody::Unfreeze { piece: o });
    let events = fx.empty_block();
    assert!(
        matches!(events.as_slice(), [Event::OfferExpired { piece, returned: Some(_), .. }] if *piece == o),
        "{events:?}"
    );
    assert_eq!(piece(&fx, &o).status, PieceStatus::Expired);
}

#[test]
fn lifecycle_settlement_rules() {
    let mut fx = Fixture::standard();
    let t1 = fx.addr("t1");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let maturity = root(&fx, &root_id).terms.maturity;
    fx.advance_days(29);
    let today = fx.today();
    let e = fx.err("core", TxBody::Settle { root: root_id });
    assert!(
        matches!(e, TxError::NotMatured { maturity: m, today: t } if m == maturity && t == today),
        "{e:?}"
    );
    fx.advance_days(1);
    let e = fx.err("t1", TxBody::Settle { root: root_id });
    assert!(
        matches!(e, TxError::Unauthorized { signer, action: "settle this certificate", reason: "only its obligor may" } if signer == t1),
        "{e:?}"
    );
    assert_eq!(root(&fx, &root_id).status, RootStatus::Live);
    // On the maturity day itself the obligor settles.
    let r = fx.ok("core", TxBody::Settle { root: root_id });
    assert!(
        matches!(&r.events[0], Event::Settled { late: false, total, .. } if *total == Amount(1_000 * YUAN)),
        "{:?}",
        r.events
    );
    let e = fx.err("core", TxBody::Settle { root: root_id });
    assert!(
        matches!(e, TxError::WrongRootStatus { root, status: "settled", action: "settle" } if root == root_id),
        "{e:?}"
    );
    let rec = fx.ledger.obligor_record(&fx.addr("core")).unwrap();
    assert_eq!((rec.settled_on_time, rec.settled_late), (1, 0));
}

#[test]
fn lifecycle_overdue_marking_and_late_settlement() {
    let mut fx = Fixture::standard();
    let core = fx.addr("core");
    let grace = fx.ledger.params().overdue_grace_days;
    assert_eq!(grace, 3);
    let late_root = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let on_time_root = fx.issue_accepted("t1", 200 * YUAN, 30);
    let maturity = root(&fx, &late_root).terms.maturity;
    let from = Day(maturity.0 + grace + 1);

    // Before maturity, at maturity, and on the last day of grace: not yet.
    for advance in [10, 20, grace] {
        fx.advance_days(advance);
        let today = fx.today();
        let e = fx.err("t2a", TxBody::MarkOverdue { root: late_root });
        assert!(
            matches!(e, TxError::NotYetOverdue { from: f, today: t } if f == from && t == today),
            "{e:?}"
        );
    }
    assert_eq!(fx.today(), Day(maturity.0 + grace));
    assert!(!root(&fx, &late_root).overdue);
    // Paying on the last day of grace is on time.
    let r = fx.ok("core", TxBody::Settle { root: on_time_root });
    assert!(matches!(&r.events[0], Event::Settled { late: false, .. }));

    fx.advance_days(1);
    let r = fx.ok("t2a", TxBody::MarkOverdue { root: late_root });
    assert!(
        matches!(&r.events[0], Event::MarkedOverdue { root, obligor, maturity: m }
            if *root == late_root && *obligor == core && *m == maturity),
        "{:?}",
        r.events
    );
    assert!(root(&fx, &late_root).overdue);
    let rec = fx.ledger.obligor_record(&core).unwrap();
    assert_eq!(rec.overdue_now, 1);
    let e = fx.err("t1", TxBody::MarkOverdue { root: late_root });
    assert!(
        matches!(
            e,
            TxError::WrongRootStatus {
                status: "already overdue",
                action: "mark overdue",
                ..
            }
        ),
        "{e:?}"
    );

    let r = fx.ok("core", TxBody::Settle { root: late_root });
    assert!(
        matches!(&r.events[0], Event::Settled { late: true, .. }),
        "{:?}",
        r.events
    );
    assert!(fx.ledger.clearing(&late_root).unwrap().unwrap().late);
    let rec = fx.ledger.obligor_record(&core).unwrap();
    assert_eq!(rec.overdue_now, 0);
    assert_eq!(rec.settled_late, 1);
    assert_eq!(rec.settled_on_time, 1);
    assert_eq!(
        rec.faces,
        vec![SettledFaces {
            currency: cny(),
            on_time: Amount(200 * YUAN),
            late: Amount(1_000 * YUAN),
        }]
    );
}

#[test]
fn lifecycle_a_frozen_piece_is_settled_with_payment_withheld() {
    let mut fx = Fixture::standard();
    let (t1, t2a) = (fx.addr("t1"), fx.addr("t2a"));
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (t2, change) = fx.transfer("t1", root_id, &[("t2a", 300 * YUAN)]);
    fx.ok("t2a", TxBody::Accept { piece: t2[0] });
    fx.ok(
        "auditor",
        TxBody::Freeze {
            piece: t2[0],
            reason: 9,
        },
    );
    fx.advance_days(30);
    let r = fx.ok("core", TxBody::Settle { root: root_id });
    let Event::Settled { entries, total, .. } = &r.events[0] else {
        panic!("{:?}", r.events)
    };
    assert_eq!(*total, Amount(1_000 * YUAN));
    assert_eq!(entries.len(), 2);
    let frozen = entries.iter().find(|e| e.piece == t2[0]).unwrap();
    assert_eq!(
        (frozen.payee, frozen.amount, frozen.withheld),
        (t2a, Amount(300 * YUAN), true)
    );
    let free = entries.iter().find(|e| Some(e.piece) == change).unwrap();
    assert_eq!(
        (free.payee, free.amount, free.withheld),
        (t1, Amount(700 * YUAN), false)
    );
}

#[test]
fn lifecycle_freeze_twice_and_unfreeze_unfrozen_are_rejected() {
    let mut fx = Fixture::standard();
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let e = fx.err("operator", TxBody::Unfreeze { piece: root_id });
    assert!(
        matches!(e, TxError::NotFrozen { piece } if piece == root_id),
        "{e:?}"
    );
    fx.ok(
        "operator",
        TxBody::Freeze {
            piece: root_id,
            reason: 4,
        },
    );
    let e = fx.err(
        "auditor",
        TxBody::Freeze {
            piece: root_id,
            reason: 5,
        },
    );
    assert!(
        matches!(e, TxError::Frozen { piece, reason: 4 } if piece == root_id),
        "{e:?}"
    );
    let f = piece(&fx, &root_id).frozen.unwrap();
    assert_eq!((f.by, f.reason), (fx.addr("operator"), 4));
    fx.ok("auditor", TxBody::Unfreeze { piece: root_id });
    assert_eq!(piece(&fx, &root_id).frozen, None);
}

// ================================================================================================
// Terms never change
// ================================================================================================

#[test]
fn terms_are_fixed_at_issue_and_never_change() {
    let mut fx = Fixture::standard();
    let issue_day = fx.today();
    let root_id = fx.issue("t1", 1_000_000 * YUAN, 120);
    let expected = Terms {
        obligor: fx.addr("core"),
        currency: cny(),
        maturity: Day(issue_day.0 + 120),
        document: root(&fx, &root_id).terms.document,
        credit_grantor: fx.addr("bank"),
        issue_day,
    };
    assert_eq!(root(&fx, &root_id).terms, expected);

    fx.advance_days(1);
    fx.ok("t1", TxBody::Accept { piece: root_id });
    let (t2, change1) = fx.transfer(
        "t1",
        root_id,
        &[("t2a", 600_000 * YUAN), ("t2b", 100_000 * YUAN)],
    );
    fx.ok("t2a", TxBody::Accept { piece: t2[0] });
    fx.ok("t2b", TxBody::Reject { piece: t2[1] });
    fx.advance_days(10);
    let (t3, _) = fx.transfer(
        "t2a",
        t2[0],
        &[("t3a", 200_000 * YUAN), ("t3b", 50_000 * YUAN)],
    );
    fx.ok("t3a", TxBody::Accept { piece: t3[0] });
    fx.ok("t2a", TxBody::Cancel { piece: t3[1] });
    let t1_pieces: Vec<Hash32> = fx
        .ledger
        .holdings(&fx.addr("t1"))
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(t1_pieces.len(), 2);
    assert!(t1_pieces.contains(&change1.unwrap()));
    fx.ok("t1", TxBody::Merge { pieces: t1_pieces });
    fx.ok(
        "auditor",
        TxBody::Freeze {
            piece: t3[0],
            reason: 1,
        },
    );
    fx.ok("operator", TxBody::Unfreeze { piece: t3[0] });
    let (locked, _) = request(&mut fx, "t3a", t3[0], "bank", 150_000 * YUAN);
    finance(&mut fx, "bank", locked);
    let core = fx.addr("core");
    fx.ok(
        "bank",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(2_000_000_000),
        },
    );
    fx.ok(
        "operator",
        TxBody::UpdateParams {
            params: Params {
                max_tenor_days: 30,
                ..Params::default()
            },
        },
    );
    assert_eq!(root(&fx, &root_id).terms, expected);
    fx.advance_days(120);
    fx.ok("t1", TxBody::MarkOverdue { root: root_id });
    fx.ok("core", TxBody::Settle { root: root_id });

    let rec = root(&fx, &root_id);
    assert_eq!(rec.terms, expected);
    assert_eq!(rec.status, RootStatus::Settled);
    // Every piece ever created under the certificate carries the same root.
    let lineage = fx.ledger.lineage(&root_id).unwrap();
    assert_eq!(lineage.len() as u32, rec.piece_count);
    assert!(lineage.iter().all(|(_, p)| p.root == root_id));
    assert_eq!(
        fx.ledger.clearing(&root_id).unwrap().unwrap().total,
        Amount(1_000_000 * YUAN)
    );
}

#[test]
fn document_only_the_buyer_anchors() {
    let mut fx = Fixture::standard();
    // The seller cannot anchor (it could otherwise squat the invoice hash with another amount).
    let e = fx.err("t1", anchor_body(&fx, "squat"));
    assert!(
        matches!(e, TxError::Unauthorized { signer, .. } if signer == fx.addr("t1")),
        "{e:?}"
    );
    assert_eq!(fx.ledger.document(&h("squat")).unwrap(), None);
    // The buyer still can, afterwards.
    fx.ok("core", anchor_body(&fx, "squat"));
    assert!(fx.ledger.document(&h("squat")).unwrap().is_some());
}

// ================================================================================================
// Roles are checked again when an offer is taken
// ================================================================================================

fn set_roles(fx: &mut Fixture, name: &str, roles: Roles, active: bool) {
    let address = fx.addr(name);
    fx.ok(
        "operator",
        TxBody::UpdateParticipant {
            address,
            roles,
            active,
        },
    );
}

#[test]
fn roles_a_supplier_whose_role_was_removed_may_reject_but_not_accept() {
    let mut fx = Fixture::standard();
    let t1 = fx.addr("t1");
    let pending = fx.issue("t1", 500 * YUAN, 30);
    set_roles(&mut fx, "t1", Roles::AUDITOR, true);
    let e = fx.err("t1", TxBody::Accept { piece: pending });
    assert_eq!(
        e,
        TxError::MissingRole {
            signer: t1,
            role: "supplier",
            action: "accept an offer",
        }
    );
    assert!(matches!(
        piece(&fx, &pending).status,
        PieceStatus::Pending { .. }
    ));
    fx.ok("t1", TxBody::Reject { piece: pending });

    // With the role back, the same kind of offer is accepted.
    set_roles(&mut fx, "t1", Roles::SUPPLIER, true);
    let again = fx.issue("t1", 500 * YUAN, 30);
    fx.ok("t1", TxBody::Accept { piece: again });
    assert_eq!(piece(&fx, &again).status, PieceStatus::Active);
}

#[test]
fn roles_a_bank_that_is_no_longer_a_financier_cannot_take_a_financing_request() {
    let mut fx = Fixture::standard();
    let bank = fx.addr("bank");
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (locked, _) = request(&mut fx, "t1", root_id, "bank", 1_000 * YUAN);
    set_roles(&mut fx, "bank", Roles::AUDITOR, true);
    let before = observe(&fx, &root_id);
    let e = fx.err(
        "bank",
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: "PAY-1".into(),
        },
    );
    assert_eq!(
        e,
        TxError::MissingRole {
            signer: bank,
            role: "financier",
            action: "accept financing",
        }
    );
    assert_eq!(observe(&fx, &root_id), before);

    set_roles(&mut fx, "bank", Roles::FINANCIER, true);
    let financed = finance(&mut fx, "bank", locked);
    assert_eq!(piece(&fx, &financed).holder, bank);
}

#[test]
fn credit_a_line_whose_grantor_left_backs_nothing_new() {
    let mut fx = Fixture::standard();
    let bank = fx.addr("bank");
    let doc = fx.anchor("t1", 1_000 * YUAN);
    let body = issue_body(&fx, "t1", 1_000 * YUAN, in_days(&fx, 30), doc);
    let line = bank_line(&fx);

    set_roles(&mut fx, "bank", Roles::FINANCIER, false);
    let e = fx.err("core", body.clone());
    assert_eq!(e, TxError::Inactive { address: bank });

    set_roles(&mut fx, "bank", Roles::AUDITOR, true);
    let e = fx.err("core", body.clone());
    assert_eq!(
        e,
        TxError::CounterpartyRole {
            address: bank,
            role: "financier or operator",
            what: "back a certificate with a credit line",
        }
    );
    assert_eq!(bank_line(&fx), line, "a refused issue uses no credit");

    set_roles(&mut fx, "bank", Roles::FINANCIER, true);
    fx.ok("core", body);
    assert_eq!(bank_line(&fx).used, Amount(line.used.0 + 1_000 * YUAN));
}

// ================================================================================================
// Day-count parameters are bounded
// ================================================================================================

#[test]
fn params_day_periods_are_at_most_a_hundred_years() {
    let mut fx = Fixture::standard();
    let base = fx.ledger.params().clone();
    let too_long = MAX_PARAM_DAYS + 1;
    for params in [
        Params {
            overdue_grace_days: too_long,
            ..base.clone()
        },
        Params {
            offer_expiry_days: too_long,
            ..base.clone()
        },
        Params {
            max_tenor_days: too_long,
            ..base.clone()
        },
        Params {
            overdue_grace_days: u32::MAX,
            ..base.clone()
        },
    ] {
        let e = fx.err("operator", TxBody::UpdateParams { params });
        assert!(
            matches!(e, TxError::InvalidParams { reason } if reason.contains("36,525")),
            "{e:?}"
        );
    }
    assert_eq!(fx.ledger.params(), &base);

    // At the bound, certificates still settle, and overdue starts the day after the grace.
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    fx.ok(
        "operator",
        TxBody::UpdateParams {
            params: Params {
                overdue_grace_days: MAX_PARAM_DAYS,
                ..base
            },
        },
    );
    fx.advance_days(30);
    let maturity = root(&fx, &root_id).terms.maturity;
    let today = fx.today();
    let e = fx.err("t1", TxBody::MarkOverdue { root: root_id });
    assert_eq!(
        e,
        TxError::NotYetOverdue {
            from: Day(maturity.0 + MAX_PARAM_DAYS + 1),
            today,
        }
    );
    let r = fx.ok("core", TxBody::Settle { root: root_id });
    assert!(
        matches!(&r.events[0], Event::Settled { late: false, .. }),
        "{:?}",
        r.events
    );
}

// ================================================================================================
// The obligor record keeps settled face values per currency
// ================================================================================================

/// An obligor that pays a USD certificate late and then a CNY one on time has one face
/// entry per currency, in currency order whatever the order of payment, each with its own
/// totals: cents and fen are never added together.
#[test]
fn obligor_record_keeps_settled_faces_per_currency() {
    let mut fx = Fixture::standard();
    let (core, t1, bank) = (fx.addr("core"), fx.addr("t1"), fx.addr("bank"));
    let usd = Currency::new("USD").unwrap();
    let grace = fx.ledger.params().overdue_grace_days;
    let usd_face = Amount(700_00);
    let cny_face = Amount(1_000 * YUAN);

    // A USD certificate needs a USD credit line and a USD document.
    fx.ok(
        "bank",
        TxBody::SetCreditLine {
            obligor: core,
            currency: usd,
            limit: Amount(10_000_00),
        },
    );
    let document = h("usd-invoice");
    fx.ok(
        "core",
        TxBody::AnchorDocument {
            hash: document,
            amount: Money {
                amount: usd_face,
                currency: usd,
            },
            buyer: core,
            seller: t1,
        },
    );
    let issue = TxBody::Issue {
        to: t1,
        amount: usd_face,
        currency: usd,
        maturity: in_days(&fx, 10),
        document,
        credit_grantor: bank,
    };
    let usd_root = first_piece(&fx.ok("core", issue).events);
    fx.ok("t1", TxBody::Accept { piece: usd_root });
    let cny_root = fx.issue_accepted("t1", cny_face.0, 30);

    // The USD certificate is paid a day after its grace ran out: late.
    fx.advance_days(10 + grace + 1);
    let r = fx.ok("core", TxBody::Settle { root: usd_root });
    assert!(
        matches!(&r.events[0], Event::Settled { late: true, total, .. } if *total == usd_face),
        "{:?}",
        r.events
    );
    let rec = fx.ledger.obligor_record(&core).unwrap();
    assert_eq!(
        rec.faces,
        vec![SettledFaces {
            currency: usd,
            on_time: Amount::ZERO,
            late: usd_face,
        }]
    );

    // The CNY certificate is paid at maturity: on time. Its entry goes before USD's.
    fx.advance_days(30 - (10 + grace + 1));
    let r = fx.ok("core", TxBody::Settle { root: cny_root });
    assert!(
        matches!(&r.events[0], Event::Settled { late: false, total, .. } if *total == cny_face),
        "{:?}",
        r.events
    );
    let rec = fx.ledger.obligor_record(&core).unwrap();
    assert_eq!(
        (
            rec.certificates,
            rec.settled_on_time,
            rec.settled_late,
            rec.overdue_now
        ),
        (2, 1, 1, 0)
    );
    assert_eq!(
        rec.faces,
        vec![
            SettledFaces {
                currency: cny(),
                on_time: cny_face,
                late: Amount::ZERO,
            },
            SettledFaces {
                currency: usd,
                on_time: Amount::ZERO,
                late: usd_face,
            },
        ]
    );
}

// ================================================================================================
// Audit: gaps and fixes (credit from oneself, issues taken after maturity, financing amounts)
// ================================================================================================

/// A credit line is a financier's (or the operator's) limit on an obligor. A participant the
/// operator gave both the obligor role and the financier or operator role could otherwise
/// grant itself a line of any size and issue without limit, which is no credit limit at all.
#[test]
fn credit_an_obligor_cannot_grant_itself_a_line() {
    let mut cast = STANDARD_PARTICIPANTS.to_vec();
    cast.push(("bankcorp", Roles::OBLIGOR.with(Roles::FINANCIER)));
    cast.push(("opcorp", Roles::OBLIGOR.with(Roles::OPERATOR)));
    let mut fx = Fixture::new(&cast, Params::default());
    for name in ["bankcorp", "opcorp"] {
        let me = fx.addr(name);
        let e = fx.err(
            name,
            TxBody::SetCreditLine {
                obligor: me,
                currency: cny(),
                limit: Amount(u64::MAX),
            },
        );
        assert_eq!(
            e,
            TxError::Unauthorized {
                signer: me,
                action: "grant credit lines",
                reason: "an obligor cannot grant a credit line to itself",
            }
        );
        assert_eq!(fx.ledger.credit_line(&me, &cny(), &me).unwrap(), None);
    }
    // Each may still grant a line to another obligor, and receive one from another grantor.
    let (core, bankcorp) = (fx.addr("core"), fx.addr("bankcorp"));
    for (grantor, obligor) in [("bankcorp", core), ("opcorp", core), ("bank", bankcorp)] {
        fx.ok(
            grantor,
            TxBody::SetCreditLine {
                obligor,
                currency: cny(),
                limit: Amount(1_000 * YUAN),
            },
        );
        let line = fx
            .ledger
            .credit_line(&obligor, &cny(), &fx.addr(grantor))
            .unwrap();
        assert_eq!(line.map(|l| l.limit), Some(Amount(1_000 * YUAN)));
    }
}

/// An issue offer can outlive its certificate's maturity (offers last `offer_expiry_days`,
/// tenors can be shorter). A certificate cannot be settled before it is accepted, so an
/// acceptance after maturity would make it due at once, and past maturity plus grace
/// overdue at once: its obligor's first chance to pay would already count as late in the
/// record financiers price by. From maturity on, an issue offer can only be rejected,
/// cancelled or left to expire, which voids it and releases the credit and the invoice.
#[test]
fn lifecycle_an_issue_cannot_be_accepted_on_or_after_its_maturity() {
    let mut fx = Fixture::standard();
    let grace = fx.ledger.params().overdue_grace_days;
    assert!(fx.ledger.params().offer_expiry_days > 2 + grace + 1);
    let early = fx.issue("t1", 400 * YUAN, 2);
    let late = fx.issue("t1", 600 * YUAN, 2);
    let maturity = root(&fx, &late).terms.maturity;
    // The day before maturity an issue is still taken.
    fx.advance_days(1);
    fx.ok("t1", TxBody::Accept { piece: early });
    assert_eq!(root(&fx, &early).status, RootStatus::Live);

    // On maturity day and after (here past maturity plus grace, where a settlement would be
    // late), the other one is refused and nothing changes.
    for advance in [1, grace + 1] {
        fx.advance_days(advance);
        let today = fx.today();
        let before = observe(&fx, &late);
        let e = fx.err("t1", TxBody::Accept { piece: late });
        assert_eq!(e, TxError::Matured { maturity, today });
        assert_eq!(observe(&fx, &late), before);
        assert!(matches!(
            piece(&fx, &late).status,
            PieceStatus::Pending {
                kind: OfferKind::Issue,
                ..
            }
        ));
        assert_eq!(root(&fx, &late).status, RootStatus::Offered);
        if advance == 1 {
            // The accepted certificate settles on its maturity day, on time.
            let r = fx.ok("core", TxBody::Settle { root: early });
            assert!(
                matches!(&r.events[0], Event::Settled { late: false, .. }),
                "{:?}",
                r.events
            );
        }
    }
    let rec = fx.ledger.obligor_record(&fx.addr("core")).unwrap();
    assert_eq!((rec.certificates, rec.settled_late), (1, 0));

    // Rejecting it still voids it and gives back the credit and the invoice.
    let doc = root(&fx, &late).terms.document;
    assert_eq!(bank_line(&fx).used, Amount(600 * YUAN));
    fx.ok("t1", TxBody::Reject { piece: late });
    assert_eq!(root(&fx, &late).status, RootStatus::Void);
    assert_eq!(bank_line(&fx).used, Amount::ZERO);
    assert_eq!(
        fx.ledger.document(&doc).unwrap().unwrap().issued,
        Amount::ZERO
    );
    assert_eq!(acct(&fx, "t1").offers_in, 0);
}

/// "None below the configured minimum unit" for the third place an amount is named: the
/// amount of a financing request (issue and transfer amounts are tested above).
#[test]
fn amounts_a_financing_request_below_min_unit_is_rejected() {
    let mut fx = Fixture::standard();
    let min = fx.ledger.params().min_unit;
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let before = observe(&fx, &root_id);
    let e = fx.err(
        "t1",
        financing_body(&fx, root_id, "bank", min.0 - 1, 43_500),
    );
    assert_eq!(
        e,
        TxError::BelowMinimum {
            amount: Amount(min.0 - 1),
            min_unit: min
        }
    );
    assert_eq!(observe(&fx, &root_id), before);
    let (locked, change) = request(&mut fx, "t1", root_id, "bank", min.0);
    assert_eq!(piece(&fx, &locked).amount, min);
    assert_eq!(
        piece(&fx, &change.unwrap()).amount,
        Amount(1_000 * YUAN - min.0)
    );
}

#[test]
fn credit_a_line_can_be_cut_but_not_raised_after_its_obligor_is_deactivated_or_demoted() {
    let mut fx = Fixture::standard();
    let core = fx.addr("core");
    fx.issue("t1", 500 * YUAN, 30);
    let set = |limit: u64| TxBody::SetCreditLine {
        obligor: core,
        currency: cny(),
        limit: Amount(limit),
    };
    let line = bank_line(&fx);

    set_roles(&mut fx, "core", Roles::OBLIGOR, false);
    // Raising a deactivated obligor's line, or granting it a new one, is refused...
    let e = fx.err("bank", set(line.limit.0 + 1));
    assert_eq!(e, TxError::Inactive { address: core });
    let e = fx.err("factor", set(1_000 * YUAN));
    assert_eq!(e, TxError::Inactive { address: core });
    assert_eq!(bank_line(&fx), line);
    // ...but its grantor can cut it (never below what is in use), to stop new exposure.
    let e = fx.err("bank", set(500 * YUAN - 1));
    assert_eq!(
        e,
        TxError::LimitBelowUsed {
            limit: Amount(500 * YUAN - 1),
            used: Amount(500 * YUAN)
        }
    );
    fx.ok("bank", set(600 * YUAN));
    assert_eq!(bank_line(&fx).limit, Amount(600 * YUAN));

    // The same for an obligor that is active but no longer an obligor.
    set_roles(&mut fx, "core", Roles::SUPPLIER, true);
    let e = fx.err("bank", set(700 * YUAN));
    assert!(matches!(e, TxError::CounterpartyRole { address, .. } if address == core));
    fx.ok("bank", set(500 * YUAN));
    assert_eq!(
        bank_line(&fx),
        CreditLine {
            limit: Amount(500 * YUAN),
            used: Amount(500 * YUAN)
        }
    );
}

#[test]
fn caps_pending_offers_out_per_sender() {
    let mut fx = Fixture::standard_with(Params {
        max_offers_out: 2,
        ..Params::default()
    });
    let root_id = fx.issue_accepted("t1", 1_000 * YUAN, 30);
    let (_, change) = fx.transfer("t1", root_id, &[("t2a", 100 * YUAN)]);
    let change = change.expect("change");
    let before = observe(&fx, &root_id);
    // One pending; two more would make three.
    let e = fx.err(
        "t1",
        transfer_body(&fx, change, &[("t2b", 100 * YUAN), ("t3a", 100 * YUAN)]),
    );
    assert_eq!(
        e,
        TxError::TooManyOffers {
            pending: 1,
            adding: 2,
            max: 2
        }
    );
    assert_eq!(
        observe(&fx, &root_id),
        before,
        "a refused offer changes nothing"
    );
    // The second fits; then a financing request, which is an offer too, does not.
    let (_, change) = fx.transfer("t1", change, &[("t2b", 100 * YUAN)]);
    let change = change.expect("change");
    let e = fx.err(
        "t1",
        financing_body(&fx, change, "bank", 100 * YUAN, 43_500),
    );
    assert_eq!(
        e,
        TxError::TooManyOffers {
            pending: 2,
            adding: 1,
            max: 2
        }
    );
    // An answered offer frees its place.
    let t2a_offer = fx.ledger.offers_in(&fx.addr("t2a")).unwrap()[0].0;
    fx.ok("t2a", TxBody::Accept { piece: t2a_offer });
    fx.ok(
        "t1",
        financing_body(&fx, change, "bank", 100 * YUAN, 43_500),
    );
    assert_eq!(acct(&fx, "t1").offers_out, 2);

    // The cap is at least one.
    let params = Params {
        max_offers_out: 0,
        ..fx.ledger.params().clone()
    };
    let e = fx.err("operator", TxBody::UpdateParams { params });
    assert!(
        matches!(e, TxError::InvalidParams { reason } if reason.contains("max_offers_out")),
        "{e:?}"
    );
}
