//! Validator-set governance: `TxBody::ApproveValidatorChange { pub_key, power }`.
//!
//! A change applies once a strict majority of the *active* operators approved the same key
//! and power (`Consortium::quorum`); power 0 removes a validator. The standard fixture starts
//! with one operator (`operator`) and one validator (`validator-0`, power 10); tests register
//! more operators with `RegisterParticipant`. Each refusal is checked for its exact typed
//! error and for leaving the state unchanged (`Fixture::err` checks the open block; the tests
//! also read consortium, validator and proposal records back).

use bytes::Bytes;
use cascade_core::app::App;
use cascade_core::crypto::sha256;
use cascade_core::testkit::{abci, validator_key, Fixture, GENESIS_TIME, STANDARD_PARTICIPANTS};
use cascade_core::tx::TxBody;
use cascade_core::*;
use tendermint::abci::{response, Code};

// ================================================================================================
// Helpers
// ================================================================================================

fn approve(pub_key: ValidatorKey, power: u64) -> TxBody {
    TxBody::ApproveValidatorChange { pub_key, power }
}

fn consortium(f: &Fixture) -> Consortium {
    f.ledger.consortium().unwrap()
}

fn validator(f: &Fixture, key: &ValidatorKey) -> Option<ValidatorRecord> {
    f.ledger.validator(key).unwrap()
}

fn proposal(f: &Fixture, key: &ValidatorKey, power: u64) -> Option<ValidatorProposal> {
    f.ledger.validator_proposal(key, power).unwrap()
}

fn register_body(f: &Fixture, name: &str, roles: Roles) -> TxBody {
    TxBody::RegisterParticipant {
        public_key: f.key(name).public_key(),
        roles,
        legal_id_hash: Hash32(sha256(name.as_bytes())),
    }
}

/// Registers `name` (a new key) with `roles`, signed by `operator`.
fn register(f: &mut Fixture, name: &str, roles: Roles) {
    f.add_key(name);
    let body = register_body(f, name, roles);
    f.ok("operator", body);
}

fn update(f: &mut Fixture, name: &str, roles: Roles, active: bool) -> TxReceipt {
    let address = f.addr(name);
    f.ok(
        "operator",
        TxBody::UpdateParticipant {
            address,
            roles,
            active,
        },
    )
}

/// The standard fixture plus `op2` and `op3`: three active operators, quorum 2.
fn three_operators() -> Fixture {
    let mut f = Fixture::standard();
    register(&mut f, "op2", Roles::OPERATOR);
    register(&mut f, "op3", Roles::OPERATOR);
    assert_eq!(
        consortium(&f),
        Consortium {
            active_operators: 3,
            validators: 1
        }
    );
    f
}

/// Active operators counted from the participant records themselves.
fn count_active_operators(f: &Fixture, names: &[&str]) -> u32 {
    names
        .iter()
        .filter(|n| {
            let p = f.ledger.participant(&f.addr(n)).unwrap().unwrap();
            p.active && p.roles.contains(Roles::OPERATOR)
        })
        .count() as u32
}

fn v0() -> ValidatorKey {
    validator_key("validator-0")
}

fn new_key() -> ValidatorKey {
    validator_key("validator-1")
}

/// 32 bytes that are not an Ed25519 point: the first y-coordinate (little-endian, small
/// values) that does not decompress.
fn invalid_key() -> ValidatorKey {
    (2u8..=255)
        .map(|y| {
            let mut b = [0u8; 32];
            b[0] = y;
            ValidatorKey(b)
        })
        .find(|k| !k.is_valid())
        .expect("some small y-coordinate is not on the curve")
}

// ================================================================================================
// Genesis and quorum
// ================================================================================================

#[test]
fn genesis_counts_operators_and_validators() {
    let f = Fixture::standard();
    let operators = STANDARD_PARTICIPANTS
        .iter()
        .filter(|(_, r)| r.contains(Roles::OPERATOR))
        .count();
    assert_eq!(operators, 1, "the standard cast has one operator");
    assert_eq!(
        consortium(&f),
        Consortium {
            active_operators: 1,
            validators: 1
        }
    );
    assert_eq!(
        validator(&f, &v0()),
        Some(ValidatorRecord {
            pub_key: v0(),
            power: 10
        })
    );
    assert_eq!(validator(&f, &new_key()), None);
}

#[test]
fn quorum_is_a_strict_majority_of_active_operators() {
    let quorum = |n| {
        Consortium {
            active_operators: n,
            validators: 1,
        }
        .quorum()
    };
    assert_eq!(
        (1..=7).map(quorum).collect::<Vec<_>>(),
        [1, 2, 2, 3, 3, 4, 4]
    );

    let mut f = Fixture::standard();
    assert_eq!(consortium(&f).quorum(), 1);
    register(&mut f, "op2", Roles::OPERATOR);
    assert_eq!(consortium(&f).active_operators, 2);
    assert_eq!(consortium(&f).quorum(), 2);
    // A participant without the operator role is not an elector.
    register(&mut f, "aud2", Roles::AUDITOR);
    assert_eq!(consortium(&f).active_operators, 2);
    register(&mut f, "op3", Roles(Roles::OPERATOR.0 | Roles::AUDITOR.0));
    assert_eq!(consortium(&f).active_operators, 3);
    assert_eq!(consortium(&f).quorum(), 2);
    register(&mut f, "op4", Roles::OPERATOR);
    assert_eq!(consortium(&f).active_operators, 4);
    assert_eq!(consortium(&f).quorum(), 3);
}

#[test]
fn a_single_operator_is_a_quorum_of_one() {
    let mut f = Fixture::standard();
    let r = f.ok("operator", approve(new_key(), 3));
    assert_eq!(
        r.events,
        [Event::ValidatorSetChanged {
            pub_key: new_key(),
            power: 3
        }]
    );
    assert_eq!(consortium(&f).validators, 2);
    assert_eq!(proposal(&f, &new_key(), 3), None);
}

// ================================================================================================
// Approval and application
// ================================================================================================

#[test]
fn a_second_distinct_operator_approval_applies_the_change() {
    let mut f = three_operators();
    let key = new_key();

    let r = f.ok("op2", approve(key, 5));
    assert_eq!(
        r.events,
        [Event::ValidatorChangeApproved {
            pub_key: key,
            power: 5,
            by: f.addr("op2"),
            approvals: 1,
            quorum: 2,
        }]
    );
    assert_eq!(validator(&f, &key), None);
    assert_eq!(consortium(&f).validators, 1);
    assert_eq!(
        proposal(&f, &key, 5),
        Some(ValidatorProposal {
            approvals: vec![f.addr("op2")]
        })
    );

    let r = f.ok("operator", approve(key, 5));
    assert_eq!(
        r.events,
        [Event::ValidatorSetChanged {
            pub_key: key,
            power: 5
        }]
    );
    assert_eq!(
        validator(&f, &key),
        Some(ValidatorRecord {
            pub_key: key,
            power: 5
        })
    );
    assert_eq!(
        consortium(&f),
        Consortium {
            active_operators: 3,
            validators: 2
        }
    );
    // The proposal is consumed, and the existing validator is untouched.
    assert_eq!(proposal(&f, &key, 5), None);
    assert_eq!(validator(&f, &v0()).map(|v| v.power), Some(10));

    // The third operator approving afterwards is now a no-op change.
    let e = f.err("op3", approve(key, 5));
    assert_eq!(
        e,
        TxError::NoValidatorChange {
            pub_key: key,
            current: 5
        }
    );
}

#[test]
fn approvals_for_different_powers_do_not_add_up() {
    let mut f = three_operators();
    let key = new_key();
    f.ok("op2", approve(key, 5));
    let r = f.ok("op3", approve(key, 6));
    assert!(matches!(
        r.events[..],
        [Event::ValidatorChangeApproved {
            power: 6,
            approvals: 1,
            quorum: 2,
            ..
        }]
    ));
    assert_eq!(validator(&f, &key), None);
    assert_eq!(
        proposal(&f, &key, 5).unwrap().approvals,
        vec![f.addr("op2")]
    );
    assert_eq!(
        proposal(&f, &key, 6).unwrap().approvals,
        vec![f.addr("op3")]
    );
    f.ok("operator", approve(key, 6));
    assert_eq!(validator(&f, &key).map(|v| v.power), Some(6));
    // The other proposal is still waiting.
    assert_eq!(
        proposal(&f, &key, 5).unwrap().approvals,
        vec![f.addr("op2")]
    );
}

#[test]
fn changing_an_existing_validators_power_keeps_the_count() {
    let mut f = three_operators();
    f.ok("op2", approve(v0(), 20));
    assert_eq!(validator(&f, &v0()).map(|v| v.power), Some(10));
    let r = f.ok("op3", approve(v0(), 20));
    assert_eq!(
        r.events,
        [Event::ValidatorSetChanged {
            pub_key: v0(),
            power: 20
        }]
    );
    assert_eq!(validator(&f, &v0()).map(|v| v.power), Some(20));
    assert_eq!(consortium(&f).validators, 1);
}

#[test]
fn removing_a_validator_with_quorum_deletes_its_record() {
    let mut f = three_operators();
    let key = new_key();
    f.ok("op2", approve(key, 5));
    f.ok("op3", approve(key, 5));
    assert_eq!(consortium(&f).validators, 2);

    let r = f.ok("op3", approve(key, 0));
    assert!(matches!(
        r.events[..],
        [Event::ValidatorChangeApproved {
            power: 0,
            approvals: 1,
            quorum: 2,
            ..
        }]
    ));
    assert_eq!(validator(&f, &key).map(|v| v.power), Some(5));

    let r = f.ok("operator", approve(key, 0));
    assert_eq!(
        r.events,
        [Event::ValidatorSetChanged {
            pub_key: key,
            power: 0
        }]
    );
    assert_eq!(validator(&f, &key), None);
    assert_eq!(proposal(&f, &key, 0), None);
    assert_eq!(
        consortium(&f),
        Consortium {
            active_operators: 3,
            validators: 1
        }
    );
    // The proven query of the validator now proves its absence.
    let proof = f
        .ledger
        .prove(&cascade_core::keys::validator(&key))
        .unwrap();
    let app_hash = f.ledger.committed().unwrap().app_hash;
    assert_eq!(
        proof.verify_typed::<ValidatorRecord>(&app_hash, &cascade_core::keys::validator(&key)),
        Ok(None)
    );
    // Removing it again is no change.
    assert_eq!(
        f.err("operator", approve(key, 0)),
        TxError::NoValidatorChange {
            pub_key: key,
            current: 0
        }
    );
}

// ================================================================================================
// Refusals
// ================================================================================================

/// Everything a refused approval must leave alone.
fn governance_state(
    f: &Fixture,
) -> (
    Consortium,
    Vec<Option<ValidatorRecord>>,
    Vec<Option<ValidatorProposal>>,
) {
    let keys = [v0(), new_key(), invalid_key()];
    (
        consortium(f),
        keys.iter().map(|k| validator(f, k)).collect(),
        keys.iter()
            .flat_map(|k| {
                [0, 5, 10, MAX_VALIDATOR_POWER, MAX_VALIDATOR_POWER + 1].map(|p| proposal(f, k, p))
            })
            .collect(),
    )
}

#[test]
fn a_non_operator_cannot_approve() {
    let mut f = three_operators();
    f.ok("op2", approve(new_key(), 5));
    let before = governance_state(&f);
    for name in ["auditor", "core", "t1", "bank"] {
        let e = f.err(name, approve(new_key(), 5));
        assert_eq!(
            e,
            TxError::MissingRole {
                signer: f.addr(name),
                role: "operator",
                action: "approve validator changes",
            }
        );
    }
    assert_eq!(governance_state(&f), before);
    assert_eq!(validator(&f, &new_key()), None);
}

#[test]
fn an_invalid_ed25519_key_is_refused() {
    let mut f = Fixture::standard();
    let bad = invalid_key();
    assert!(!bad.is_valid());
    assert!(ed25519_consensus::VerificationKey::try_from(bad.0).is_err());
    let before = governance_state(&f);
    assert_eq!(
        f.err("operator", approve(bad, 5)),
        TxError::InvalidValidatorKey { pub_key: bad }
    );
    assert_eq!(
        f.err("operator", approve(bad, 0)),
        TxError::InvalidValidatorKey { pub_key: bad }
    );
    assert_eq!(governance_state(&f), before);
}

#[test]
fn power_above_the_maximum_is_refused_and_the_maximum_accepted() {
    let mut f = Fixture::standard();
    let before = governance_state(&f);
    for power in [MAX_VALIDATOR_POWER + 1, u64::MAX] {
        assert_eq!(
            f.err("operator", approve(new_key(), power)),
            TxError::ValidatorPowerTooHigh {
                power,
                max: MAX_VALIDATOR_POWER
            }
        );
    }
    assert_eq!(governance_state(&f), before);
    f.ok("operator", approve(new_key(), MAX_VALIDATOR_POWER));
    assert_eq!(
        validator(&f, &new_key()).map(|v| v.power),
        Some(MAX_VALIDATOR_POWER)
    );
}

#[test]
fn a_change_to_the_current_power_is_refused() {
    let mut f = three_operators();
    let before = governance_state(&f);
    // Removing a key that is not a validator.
    assert_eq!(
        f.err("operator", approve(new_key(), 0)),
        TxError::NoValidatorChange {
            pub_key: new_key(),
            current: 0
        }
    );
    // Setting a validator's current power.
    assert_eq!(
        f.err("operator", approve(v0(), 10)),
        TxError::NoValidatorChange {
            pub_key: v0(),
            current: 10
        }
    );
    assert_eq!(governance_state(&f), before);
}

#[test]
fn removing_the_last_validator_is_refused() {
    let mut f = Fixture::standard();
    let before = governance_state(&f);
    assert_eq!(
        f.err("operator", approve(v0(), 0)),
        TxError::ValidatorSetSize {
            max: MAX_VALIDATORS
        }
    );
    assert_eq!(governance_state(&f), before);
    assert_eq!(validator(&f, &v0()).map(|v| v.power), Some(10));

    // With a second validator, the first can go.
    f.ok("operator", approve(new_key(), 1));
    f.ok("operator", approve(v0(), 0));
    assert_eq!(consortium(&f).validators, 1);
    assert_eq!(
        f.err("operator", approve(new_key(), 0)),
        TxError::ValidatorSetSize {
            max: MAX_VALIDATORS
        }
    );
}

#[test]
fn more_than_the_maximum_number_of_validators_is_refused() {
    let mut f = Fixture::standard();
    for i in 1..MAX_VALIDATORS {
        f.ok(
            "operator",
            approve(validator_key(&format!("validator-{i}")), 1),
        );
    }
    assert_eq!(consortium(&f).validators, MAX_VALIDATORS);
    let extra = validator_key("one-too-many");
    assert_eq!(
        f.err("operator", approve(extra, 1)),
        TxError::ValidatorSetSize {
            max: MAX_VALIDATORS
        }
    );
    assert_eq!(validator(&f, &extra), None);
    // A power change at the maximum size is still fine.
    f.ok("operator", approve(v0(), 11));
    assert_eq!(consortium(&f).validators, MAX_VALIDATORS);
}

#[test]
fn the_same_operator_cannot_approve_twice() {
    let mut f = three_operators();
    f.ok("op2", approve(new_key(), 5));
    let before = governance_state(&f);
    assert_eq!(
        f.err("op2", approve(new_key(), 5)),
        TxError::AlreadyApproved {
            operator: f.addr("op2")
        }
    );
    assert_eq!(governance_state(&f), before);
    assert_eq!(
        proposal(&f, &new_key(), 5).unwrap().approvals,
        vec![f.addr("op2")]
    );
    assert_eq!(validator(&f, &new_key()), None);
}

// ================================================================================================
// The electorate changes
// ================================================================================================

#[test]
fn an_approval_by_an_operator_later_deactivated_no_longer_counts() {
    let mut f = three_operators();
    let key = new_key();
    f.ok("op2", approve(key, 5));

    update(&mut f, "op2", Roles::OPERATOR, false);
    assert_eq!(consortium(&f).active_operators, 2);
    assert_eq!(consortium(&f).quorum(), 2);
    // op2 can no longer sign at all.
    assert_eq!(
        f.err("op2", approve(key, 5)),
        TxError::Inactive {
            address: f.addr("op2")
        }
    );

    // op3's approval makes two recorded approvals, but only one counts.
    let r = f.ok("op3", approve(key, 5));
    assert_eq!(
        r.events,
        [Event::ValidatorChangeApproved {
            pub_key: key,
            power: 5,
            by: f.addr("op3"),
            approvals: 1,
            quorum: 2,
        }]
    );
    assert_eq!(validator(&f, &key), None);
    let mut recorded = vec![f.addr("op2"), f.addr("op3")];
    recorded.sort();
    assert_eq!(proposal(&f, &key, 5).unwrap().approvals, recorded);

    // The remaining active operator completes the quorum.
    let r = f.ok("operator", approve(key, 5));
    assert_eq!(
        r.events,
        [Event::ValidatorSetChanged {
            pub_key: key,
            power: 5
        }]
    );
    assert_eq!(validator(&f, &key).map(|v| v.power), Some(5));
}

#[test]
fn an_approval_by_an_operator_who_lost_the_role_no_longer_counts_until_regained() {
    let mut f = three_operators();
    let key = new_key();
    f.ok("op2", approve(key, 5));
    // op2 stays active but becomes a mere auditor.
    update(&mut f, "op2", Roles::AUDITOR, true);
    assert_eq!(consortium(&f).active_operators, 2);
    // The quorum is still 2, so operator's approval alone is not enough.
    let r = f.ok("operator", approve(key, 5));
    assert!(matches!(
        r.events[..],
        [Event::ValidatorChangeApproved {
            approvals: 1,
            quorum: 2,
            ..
        }]
    ));
    // Given the role back, op2's earlier approval counts again for the next approval.
    update(&mut f, "op2", Roles::OPERATOR, true);
    assert_eq!(consortium(&f).active_operators, 3);
    let r = f.ok("op3", approve(key, 5));
    assert_eq!(
        r.events,
        [Event::ValidatorSetChanged {
            pub_key: key,
            power: 5
        }]
    );
}

#[test]
fn deactivating_and_reactivating_operators_keeps_the_count_right() {
    let mut f = three_operators();
    let names = ["operator", "op2", "op3", "auditor", "t1"];
    let check = |f: &Fixture, expected: u32| {
        assert_eq!(consortium(f).active_operators, expected);
        assert_eq!(count_active_operators(f, &names), expected);
    };
    check(&f, 3);

    update(&mut f, "op2", Roles::OPERATOR, false);
    check(&f, 2);
    // Deactivating again changes nothing.
    update(&mut f, "op2", Roles::OPERATOR, false);
    check(&f, 2);
    // Changing the roles of an inactive participant neither.
    update(&mut f, "op2", Roles::SUPPLIER, false);
    check(&f, 2);
    // Reactivated without the role: still not an operator.
    update(&mut f, "op2", Roles::SUPPLIER, true);
    check(&f, 2);
    // The role back: counted again.
    update(&mut f, "op2", Roles::OPERATOR, true);
    check(&f, 3);
    // Role given while inactive, then reactivated: counted once, on reactivation.
    update(&mut f, "op3", Roles::OPERATOR, false);
    check(&f, 2);
    update(
        &mut f,
        "op3",
        Roles(Roles::OPERATOR.0 | Roles::AUDITOR.0),
        false,
    );
    check(&f, 2);
    update(
        &mut f,
        "op3",
        Roles(Roles::OPERATOR.0 | Roles::AUDITOR.0),
        true,
    );
    check(&f, 3);
    // Granting the role to an active non-operator counts it.
    update(
        &mut f,
        "auditor",
        Roles(Roles::OPERATOR.0 | Roles::AUDITOR.0),
        true,
    );
    check(&f, 4);
    // Another role change that keeps the operator role changes nothing.
    update(&mut f, "auditor", Roles::OPERATOR, true);
    check(&f, 4);
    // Deactivating a non-operator changes nothing.
    update(&mut f, "t1", Roles::SUPPLIER, false);
    check(&f, 4);
    assert_eq!(consortium(&f).quorum(), 3);

    // An operator cannot take itself out of the electorate.
    let me = f.addr("operator");
    assert_eq!(
        f.err(
            "operator",
            TxBody::UpdateParticipant {
                address: me,
                roles: Roles::OPERATOR,
                active: false
            }
        ),
        TxError::SelfLockout
    );
    check(&f, 4);
}

// ================================================================================================
// Through the ABCI application
// ================================================================================================

/// An app on the fixture's genesis plus the fixture's signing keys; nonces tracked here.
struct Chain {
    app: App,
    f: Fixture,
    nonces: std::collections::BTreeMap<String, u64>,
    height: u64,
}

impl Chain {
    fn new() -> Chain {
        let mut f = Fixture::standard();
        for name in ["op2", "op3"] {
            f.add_key(name);
        }
        let genesis = f.genesis().clone();
        let app = abci::new_app(&genesis);
        Chain {
            app,
            f,
            nonces: Default::default(),
            height: 0,
        }
    }

    fn tx(&mut self, name: &str, body: TxBody) -> Bytes {
        let nonce = self.nonces.entry(name.to_string()).or_insert(0);
        let bytes = self.f.sign_with(name, *nonce, body);
        *nonce += 1;
        bytes.into()
    }

    /// One block with `txs` (every one must succeed), committed.
    fn block(&mut self, txs: Vec<Bytes>) -> response::FinalizeBlock {
        self.height += 1;
        let r = self
            .app
            .finalize_block(&abci::finalize_block(
                self.height,
                GENESIS_TIME + 10 * self.height as i64,
                &txs,
            ))
            .unwrap();
        for (i, t) in r.tx_results.iter().enumerate() {
            assert_eq!(t.code, Code::Ok, "tx {i}: {}", t.log);
        }
        self.app.commit().unwrap();
        r
    }

    fn register_operators(&mut self) {
        let bodies: Vec<TxBody> = ["op2", "op3"]
            .iter()
            .map(|n| register_body(&self.f, n, Roles::OPERATOR))
            .collect();
        let txs = bodies.into_iter().map(|b| self.tx("operator", b)).collect();
        self.block(txs);
        assert_eq!(
            self.app.ledger().consortium().unwrap(),
            Consortium {
                active_operators: 3,
                validators: 1
            }
        );
    }
}

fn update_of(key: &ValidatorKey, power: u32) -> tendermint::validator::Update {
    tendermint::validator::Update {
        pub_key: tendermint::PublicKey::from_raw_ed25519(&key.0).unwrap(),
        power: power.into(),
    }
}

#[test]
fn the_app_reports_a_validator_update_only_when_the_quorum_is_reached() {
    let mut c = Chain::new();
    c.register_operators();
    let key = new_key();

    let first = c.tx("op2", approve(key, 5));
    let r = c.block(vec![first]);
    assert!(r.validator_updates.is_empty());
    let events = &r.tx_results[0].events;
    assert_eq!(events[1].kind, "cascade.validator_change_approved");
    assert_eq!(c.app.ledger().validator(&key).unwrap(), None);

    let second = c.tx("operator", approve(key, 5));
    let r = c.block(vec![second]);
    assert_eq!(r.validator_updates, vec![update_of(&key, 5)]);
    let ed = r.validator_updates[0].pub_key.ed25519().unwrap();
    assert_eq!(ed.as_bytes(), &key.0[..]);
    assert_eq!(r.validator_updates[0].power.value(), 5);
    assert_eq!(
        r.tx_results[0].events[1].kind,
        "cascade.validator_set_changed"
    );
    assert_eq!(
        c.app.ledger().validator(&key).unwrap(),
        Some(ValidatorRecord {
            pub_key: key,
            power: 5
        })
    );
    assert_eq!(c.app.ledger().consortium().unwrap().validators, 2);

    // Removal with quorum: an update with power 0 in the block that reaches it.
    let a = c.tx("op3", approve(key, 0));
    let b = c.tx("op2", approve(key, 0));
    let r = c.block(vec![a, b]);
    assert_eq!(r.validator_updates, vec![update_of(&key, 0)]);
    assert_eq!(c.app.ledger().validator(&key).unwrap(), None);
    assert_eq!(c.app.ledger().consortium().unwrap().validators, 1);

    // Quorum reached within one block: one update per key that changed, ordered by key.
    let other = validator_key("validator-2");
    let txs = vec![
        c.tx("op2", approve(other, 7)),
        c.tx("op3", approve(other, 7)),
        c.tx("op2", approve(v0(), 9)),
        c.tx("operator", approve(v0(), 9)),
    ];
    let r = c.block(txs);
    let mut expected = vec![(other, update_of(&other, 7)), (v0(), update_of(&v0(), 9))];
    expected.sort_by_key(|(k, _)| *k);
    assert_eq!(
        r.validator_updates,
        expected.into_iter().map(|(_, u)| u).collect::<Vec<_>>()
    );
}

#[test]
fn the_app_reports_no_validator_update_for_a_refused_approval() {
    let mut c = Chain::new();
    let bad = c.tx("t1", approve(new_key(), 5));
    let last = c.tx("operator", approve(v0(), 0));
    c.height += 1;
    let r = c
        .app
        .finalize_block(&abci::finalize_block(
            c.height,
            GENESIS_TIME + 10,
            &[bad, last],
        ))
        .unwrap();
    c.app.commit().unwrap();
    let codes: Vec<u32> = r.tx_results.iter().map(|t| t.code.value()).collect();
    assert_eq!(
        codes,
        [
            TxError::MissingRole {
                signer: c.f.addr("t1"),
                role: "operator",
                action: "approve validator changes"
            }
            .code(),
            TxError::ValidatorSetSize {
                max: MAX_VALIDATORS
            }
            .code()
        ]
    );
    assert_eq!(codes, [8, 73]);
    assert!(r.validator_updates.is_empty());
    assert_eq!(
        c.app.ledger().validator(&v0()).unwrap().map(|v| v.power),
        Some(10)
    );
}

#[test]
fn a_block_changing_one_validator_twice_reports_its_net_change_once() {
    // One operator: quorum 1, so every approval applies at once.
    let mut c = Chain::new();
    let key = new_key();
    let txs = vec![
        c.tx("operator", approve(key, 5)),
        c.tx("operator", approve(key, 7)),
    ];
    let r = c.block(txs);
    assert_eq!(
        c.app.ledger().validator(&key).unwrap().map(|v| v.power),
        Some(7)
    );
    assert_eq!(r.validator_updates, vec![update_of(&key, 7)]);

    // Added and removed again within one block: no net change for CometBFT.
    let other = validator_key("validator-2");
    let txs = vec![
        c.tx("operator", approve(other, 3)),
        c.tx("operator", approve(other, 0)),
    ];
    let r = c.block(txs);
    assert_eq!(c.app.ledger().validator(&other).unwrap(), None);
    assert_eq!(r.validator_updates, Vec::new());
}
