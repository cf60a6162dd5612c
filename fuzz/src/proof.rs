//! `proof`: proofs and proven lists against the world's real app hash.
//!
//! The invariant is soundness: whatever the bytes, a proof that verifies against the app
//! hash states what the ledger actually holds (the value, the absence, the complete list);
//! and nothing verifies against an app hash with one bit changed.

use crate::cases::World;
use crate::inputs::{parse_proof, ProofInput};
use cascade_core::codec;
use cascade_core::keys;
use cascade_core::proof::{AccountListProof, LineageProof, ListKind, StateProof};
use cascade_core::{Hash32, Ledger, Piece};
use std::cell::RefCell;
use std::collections::BTreeMap;

struct Fixture {
    ledger: Ledger,
    app_hash: Hash32,
    other_hash: Hash32,
    version: u64,
    keys: Vec<keys::Key>,
}

thread_local! {
    static FIXTURE: RefCell<Option<Fixture>> = const { RefCell::new(None) };
}

fn fixture() -> Fixture {
    let (world, ledger) = World::build();
    let committed = ledger.committed().expect("committed");
    let mut other = committed.app_hash;
    other.0[0] ^= 1;
    Fixture {
        keys: world.known_keys(),
        ledger,
        app_hash: committed.app_hash,
        other_hash: other,
        version: committed.version,
    }
}

/// What the ledger holds under `key`.
fn truth(f: &Fixture, key: &[u8]) -> Option<Vec<u8>> {
    f.ledger.prove(key).expect("prove").value
}

fn as_map(pieces: &[(Hash32, Piece)]) -> BTreeMap<Hash32, Piece> {
    pieces.iter().cloned().collect()
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some(input) = parse_proof(data) else {
        return;
    };
    FIXTURE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let f = slot.get_or_insert_with(fixture);
        match input {
            ProofInput::State(bytes) => {
                if let Ok(proof) = codec::decode_stored::<StateProof>(bytes) {
                    check_state(f, &proof);
                }
            }
            ProofInput::Raw { key, claim, proof } => {
                let key = f.keys[usize::from(key) % f.keys.len()].clone();
                let real = truth(f, &key);
                let value = match (claim, &real) {
                    (0, _) => real.clone(),
                    (1, _) => None,
                    (c, Some(v)) if !v.is_empty() => {
                        let mut v = v.clone();
                        let at = usize::from(c) % v.len();
                        v[at] ^= c;
                        Some(v)
                    }
                    (c, _) => Some(vec![c]),
                };
                let proof = StateProof {
                    key: key.to_vec(),
                    value,
                    proof: proof.to_vec(),
                    version: f.version,
                };
                check_state(f, &proof);
            }
            ProofInput::List(bytes) => {
                let Ok(list) = codec::decode_stored::<AccountListProof>(bytes) else {
                    return;
                };
                if let Ok(pieces) = list.verify(&f.app_hash) {
                    let real = match list.kind {
                        ListKind::Holdings => f.ledger.holdings(&list.account),
                        ListKind::OffersIn => f.ledger.offers_in(&list.account),
                        ListKind::OffersOut => f.ledger.offers_out(&list.account),
                    }
                    .expect("list");
                    assert_eq!(
                        pieces.len(),
                        real.len(),
                        "a proven list has the wrong length"
                    );
                    assert_eq!(
                        as_map(&pieces),
                        as_map(&real),
                        "a proven list is not the truth"
                    );
                }
                assert!(
                    list.verify(&f.other_hash).is_err(),
                    "a list verified against a wrong app hash"
                );
            }
            ProofInput::Lineage(bytes) => {
                let Ok(lineage) = codec::decode_stored::<LineageProof>(bytes) else {
                    return;
                };
                if let Ok((root, pieces)) = lineage.verify(&f.app_hash) {
                    let real_root = f.ledger.root(&lineage.root).expect("root");
                    assert_eq!(
                        Some(root),
                        real_root,
                        "a proven certificate is not the truth"
                    );
                    let real = f.ledger.lineage(&lineage.root).expect("lineage");
                    assert_eq!(
                        as_map(&pieces),
                        as_map(&real),
                        "a proven lineage is not the truth"
                    );
                }
                assert!(
                    lineage.verify(&f.other_hash).is_err(),
                    "a lineage verified against a wrong app hash"
                );
            }
        }
    });
}

/// A state proof that verifies tells the truth about its key, and only against the real hash.
fn check_state(f: &Fixture, proof: &StateProof) {
    if let Ok(value) = proof.verify(&f.app_hash, &proof.key) {
        assert_eq!(
            value.map(<[u8]>::to_vec),
            truth(f, &proof.key),
            "a proof verified a false value for key {:?}",
            proof.key
        );
    }
    assert!(
        proof.verify(&f.other_hash, &proof.key).is_err(),
        "a proof verified against a wrong app hash"
    );
    // The typed form decodes or refuses, never more.
    if let Ok(Some(piece)) = proof.verify_typed::<Piece>(&f.app_hash, &proof.key) {
        let id = keys::trailing_id(&proof.key);
        if let Some(id) = id.filter(|id| proof.key[..] == keys::piece(id)[..]) {
            assert_eq!(f.ledger.piece(&id).expect("piece"), Some(piece));
        }
    }
}
