//! The adversarial transaction corpus (`adversarial/cases.rs`), fed through every entry
//! point that decides a transaction's fate.
//!
//! Three replicas start from the same world (a piece in every lifecycle state):
//! - **A**, the ABCI application, gets each hostile transaction through `CheckTx`,
//!   `PrepareProposal`, `ProcessProposal`, and a decided block (`FinalizeBlock` + `Commit`);
//! - **B**, a second application, commits an empty block at the same height and time;
//! - **C**, a bare [`Ledger`], checks it (`verify` + `check_tx`) and delivers it in a block.
//!
//! For every case: C returns exactly the expected [`TxError`] (every field) from both
//! paths; A's `CheckTx` and `FinalizeBlock` results carry that error's code and message;
//! `PrepareProposal` leaves the transaction out and `ProcessProposal` rejects a block with
//! it; the three app hashes are equal afterwards, so the transaction changed no state at
//! all; and the only trace it leaves is what the ledger documents for a failed transaction:
//! a failure receipt in the node's index (not part of the app hash), or none if its hash
//! already has a receipt (a replay keeps its original success).
//!
//! The second test writes the fuzz seed corpus (`fuzz/corpus/*`) when
//! `CASCADE_FUZZ_SEEDS` names a directory, after checking every seed decodes back to what
//! was encoded; `scripts/fuzz.sh` runs it that way.
#![cfg(all(feature = "app", feature = "testkit", feature = "wallet"))]

#[path = "adversarial/cases.rs"]
mod cases;
#[path = "adversarial/fuzz_inputs.rs"]
mod fuzz_inputs;

use bytes::Bytes;
use cascade_core::app::App;
use cascade_core::codec;
use cascade_core::proof::ListKind;
use cascade_core::testkit::abci;
use cascade_core::tx::SignedTx;
use cascade_core::wallet::light::{TrustAnchor, TrustedState};
use cascade_core::*;
use cases::{cases, World, SIGNERS};
use fuzz_inputs::*;
use std::collections::BTreeSet;
use tendermint::abci::{response, Code};

// ---- ABCI requests (built by `testkit::abci`) -------------------------------------------------

fn finalize(app: &mut App, h: u64, t: i64, txs: &[Bytes]) -> response::FinalizeBlock {
    app.finalize_block(&abci::finalize_block(h, t, txs))
        .unwrap()
}

fn prepare(app: &mut App, h: u64, t: i64, txs: &[Bytes]) -> Vec<Bytes> {
    app.prepare_proposal(&abci::prepare_proposal(h, t, txs))
        .unwrap()
        .txs
}

fn process(app: &mut App, h: u64, t: i64, txs: &[Bytes]) -> response::ProcessProposal {
    app.process_proposal(&abci::process_proposal(h, t, txs))
        .unwrap()
}

fn check(app: &mut App, tx: &Bytes) -> response::CheckTx {
    app.check_tx(&abci::check_tx(tx))
}

fn last_app_hash(app: &App) -> Hash32 {
    app.ledger().committed().expect("committed").app_hash
}

/// An application on the world's genesis with the world's setup blocks decided and committed.
fn world_app(w: &World) -> App {
    let mut app = abci::new_app(&w.genesis);
    for block in &w.setup {
        let txs: Vec<Bytes> = block.txs.iter().cloned().map(Bytes::from).collect();
        let r = finalize(&mut app, block.height, block.time, &txs);
        for (i, result) in r.tx_results.iter().enumerate() {
            assert_eq!(
                result.code,
                Code::Ok,
                "setup block {} tx {i}: {}",
                block.height,
                result.log
            );
        }
        app.commit().unwrap();
    }
    app
}

// ---- the corpus ------------------------------------------------------------------------------

#[test]
fn every_adversarial_transaction_gets_its_exact_error_and_changes_nothing() {
    let (mut w, mut c) = World::build();
    let mut a = world_app(&w);
    let mut b = world_app(&w);
    let start = c.committed().unwrap().app_hash;
    assert_eq!(
        last_app_hash(&a),
        start,
        "the application replays the world's setup"
    );
    assert_eq!(last_app_hash(&b), start);

    let table = cases();
    let mut names = BTreeSet::new();
    let mut seen_bytes = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for case in &table {
        let name = case.name;
        assert!(names.insert(name), "case {name:?} appears twice");
        let (bytes, want) = (case.build)(&w);
        assert_eq!(
            want.code(),
            case.code,
            "{name}: the table's code is not the error's"
        );
        assert!(
            seen_bytes.insert(bytes.clone()),
            "{name}: same bytes as another case"
        );
        codes.insert(case.code);
        let tx = Bytes::from(bytes.clone());
        let (h, t) = (w.next_height, w.time);

        // C, the ledger: the exact typed error from the mempool check and from a block.
        let checked = c.verify(&bytes).and_then(|v| c.check_tx(&v));
        let err = checked.expect_err(name);
        assert!(
            want.matches(&err),
            "{name}: check_tx gave {err:?}, want {want:?}"
        );
        c.begin_block(h, t).unwrap();
        let pending = c.pending_fingerprint();
        let delivered = c.deliver_tx(&bytes).expect_err(name);
        assert_eq!(delivered, err, "{name}: the block and the mempool disagree");
        assert_eq!(
            c.pending_fingerprint(),
            pending,
            "{name}: the rejection wrote state"
        );
        let c_hash = c.commit().unwrap().app_hash;
        let (code, log) = (Code::from(err.code()), err.to_string());

        // A, the application: every phase refuses it with the same code and message.
        for _ in 0..2 {
            // Twice: the second check is answered from the verification cache.
            let r = check(&mut a, &tx);
            assert_eq!(
                (r.code, r.log.as_str()),
                (code, log.as_str()),
                "{name}: CheckTx"
            );
        }
        assert!(
            prepare(&mut a, h, t, std::slice::from_ref(&tx)).is_empty(),
            "{name}: PrepareProposal kept it"
        );
        let rejected = a.stats().rejected_proposals;
        assert_eq!(
            process(&mut a, h, t, std::slice::from_ref(&tx)),
            response::ProcessProposal::Reject,
            "{name}: ProcessProposal"
        );
        assert_eq!(a.stats().rejected_proposals, rejected + 1);
        let decided = finalize(&mut a, h, t, std::slice::from_ref(&tx));
        assert_eq!(decided.tx_results.len(), 1);
        let result = &decided.tx_results[0];
        assert_eq!(
            (result.code, result.log.as_str()),
            (code, log.as_str()),
            "{name}: FinalizeBlock"
        );
        assert!(
            result.events.is_empty(),
            "{name}: a failed transaction emitted events"
        );
        assert!(decided.validator_updates.is_empty());
        a.commit().unwrap();

        // B: the same block without it.
        let empty = finalize(&mut b, h, t, &[]);
        b.commit().unwrap();
        assert_eq!(
            abci::app_hash(&decided.app_hash),
            abci::app_hash(&empty.app_hash),
            "{name}: app hash moved"
        );
        assert_eq!(
            c_hash,
            abci::app_hash(&empty.app_hash),
            "{name}: the ledger's app hash differs"
        );

        // No trace at all, not even in the unauthenticated index: the ledger keeps no
        // receipts (ADR 0012); CometBFT indexes the failure from the block's results.
        let index = |l: &cascade_core::Ledger| l.snapshot().index_scan(b"", None).unwrap();
        assert_eq!(index(a.ledger()), index(b.ledger()), "{name}");
        assert_eq!(index(&c), index(b.ledger()), "{name}");
        w.advance();
    }
    // Every signer's nonce is where the setup left it: nothing was executed.
    for who in SIGNERS {
        let addr = w.addr(who);
        assert_eq!(
            c.account(&addr).unwrap().nonce,
            w.nonce(who),
            "{who}'s nonce"
        );
        assert_eq!(
            a.ledger().account(&addr).unwrap().nonce,
            w.nonce(who),
            "{who}'s nonce"
        );
    }
    println!(
        "adversarial corpus: {} cases, {} distinct error codes, all rejected with their exact \
         error and no state change",
        table.len(),
        codes.len()
    );
    // Floors at the corpus's size when its cases were last counted: cases may be added,
    // never dropped or merged into fewer error codes.
    assert!(
        table.len() >= 119,
        "the corpus shrank to {} cases",
        table.len()
    );
    assert!(
        codes.len() >= 53,
        "the corpus covers only {} distinct error codes",
        codes.len()
    );
}

// ---- fuzz seeds ------------------------------------------------------------------------------

/// Seeds for each fuzz target, built from the world and the corpus.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let (w, ledger) = World::build();
    let table = cases();
    let case_bytes: Vec<Vec<u8>> = table.iter().map(|c| (c.build)(&w).0).collect();
    let setup_txs: Vec<Vec<u8>> = w.setup.iter().flat_map(|b| b.txs.clone()).collect();
    let mut out = Vec::new();

    // tx: every case and setup transaction raw; the decodable ones also as signed bodies.
    for bytes in case_bytes.iter().chain(&setup_txs) {
        let seed = tx_raw(bytes);
        assert_eq!(parse_tx(&seed), Some(TxInput::Raw(bytes)));
        out.push(("tx", seed));
        let Ok(signed) = codec::decode_canonical::<SignedTx>(bytes) else {
            continue;
        };
        let Some(signer) = SIGNERS
            .iter()
            .position(|n| w.fx.key(n).public_key() == signed.tx.signer)
        else {
            continue;
        };
        let name = SIGNERS[signer];
        let delta = signed.tx.nonce.wrapping_sub(w.nonce(name)) as i64;
        let Ok(delta) = i8::try_from(delta) else {
            continue;
        };
        let body = codec::encode(&signed.tx.body);
        let seed = tx_signed(signer as u8, delta, &body);
        assert_eq!(
            parse_tx(&seed),
            Some(TxInput::Signed {
                signer: signer as u8,
                nonce_delta: delta,
                body: &body
            })
        );
        out.push(("tx", seed));
    }

    // abci: the setup replayed block by block (pool = setup transactions, then the corpus),
    // then queries, then corpus cases through every phase.
    let pool_len = setup_txs.len() + case_bytes.len();
    assert!(
        pool_len < 0xf0,
        "pool indices must stay below the raw marker"
    );
    let mut replay = Vec::new();
    let (mut index, mut last) = (0u8, w.genesis.genesis_time);
    for block in &w.setup {
        let tens = u16::try_from((block.time - last) / 10).expect("step fits");
        let txs = block.txs.iter().map(|_| {
            index += 1;
            TxRef::Pool(index - 1)
        });
        replay.push(Op::Block {
            tens,
            txs: txs.collect(),
        });
        last = block.time;
    }
    let paths = w.known_paths();
    let queries: Vec<Op> = (0..paths.len())
        .map(|i| Op::Query(PathRef::Known(i as u8)))
        .collect();
    let mut sequences = vec![replay.clone(), [replay.clone(), queries].concat()];
    let first_case = setup_txs.len() as u8;
    for chunk in (0..case_bytes.len() as u8).collect::<Vec<_>>().chunks(6) {
        let mut ops = replay.clone();
        for i in chunk {
            let tx = TxRef::Pool(first_case + i);
            ops.push(Op::Check(tx.clone()));
            ops.push(Op::Prepare {
                tens: 1,
                txs: vec![tx.clone()],
            });
            ops.push(Op::Process {
                tens: 1,
                txs: vec![tx.clone()],
            });
            ops.push(Op::Block {
                tens: 1,
                txs: vec![tx],
            });
        }
        ops.push(Op::Info);
        ops.truncate(MAX_OPS);
        sequences.push(ops);
    }
    sequences.push(vec![
        Op::Query(PathRef::Raw(b"/piece/zz".to_vec())),
        Op::Commit,
        Op::Finalize {
            tens: 0,
            txs: vec![TxRef::Raw(vec![1, 2, 3])],
        },
        Op::Commit,
        Op::Info,
    ]);
    for ops in sequences {
        let seed = encode_abci(&ops);
        assert_eq!(parse_abci(&seed), ops);
        out.push(("abci", seed));
    }

    // proof: real proofs of the world's state after its setup.
    for key in w.known_keys() {
        let proof = ledger.prove(&key).unwrap();
        let bytes = codec::encode(&proof);
        let input = ProofInput::State(&bytes);
        assert_eq!(parse_proof(&encode_proof(&input)), Some(input.clone()));
        out.push(("proof", encode_proof(&input)));
    }
    for (i, key) in w.known_keys().iter().enumerate().take(8) {
        let proof = ledger.prove(key).unwrap().proof;
        for claim in [0u8, 1, 2] {
            let input = ProofInput::Raw {
                key: i as u8,
                claim,
                proof: &proof,
            };
            assert_eq!(parse_proof(&encode_proof(&input)), Some(input.clone()));
            out.push(("proof", encode_proof(&input)));
        }
    }
    for who in ["t1", "t3b", "bank", "stranger"] {
        for kind in [ListKind::Holdings, ListKind::OffersIn, ListKind::OffersOut] {
            let list = ledger.prove_account_list(&w.addr(who), kind).unwrap();
            out.push((
                "proof",
                encode_proof(&ProofInput::List(&codec::encode(&list))),
            ));
        }
    }
    for root in [w.ids.root_a, w.ids.root_s, w.ids.root_m] {
        let lineage = ledger.prove_lineage(&root).unwrap();
        out.push((
            "proof",
            encode_proof(&ProofInput::Lineage(&codec::encode(&lineage))),
        ));
    }

    // light: genuine blocks of the light chain in every role, as JSON and lightly mutated,
    // and saved client state.
    let (blocks, _now) = light_chain(&w.genesis);
    for (i, block) in blocks.iter().enumerate() {
        let json = serde_json::to_vec(block).unwrap();
        for mode in [
            LightMode::Skipping,
            LightMode::Anchor,
            LightMode::Witness,
            LightMode::Backward,
        ] {
            let input = LightInput::Block {
                mode,
                height: i as u8,
                block: LightBlockSpec::Json(&json),
            };
            assert_eq!(parse_light(&encode_light(&input)), Some(input.clone()));
            out.push(("light", encode_light(&input)));
            for mutation in [&[][..], &[0, 1], &[3, 5], &[10, 0, 1], &[11, 2]] {
                let input = LightInput::Block {
                    mode,
                    height: i as u8,
                    block: LightBlockSpec::Mutated(mutation),
                };
                out.push(("light", encode_light(&input)));
            }
        }
    }
    let vset = blocks[0].validators.hash();
    let anchor = TrustAnchor::genesis_validators(
        w.genesis.chain_id.clone(),
        Hash32(vset.as_bytes().try_into().unwrap()),
    );
    for kept in [&blocks[..1], &blocks[..], &blocks[3..5]] {
        let state = TrustedState {
            version: TrustedState::VERSION,
            anchor: anchor.clone(),
            blocks: kept.to_vec(),
        };
        out.push((
            "light",
            encode_light(&LightInput::Restore(&state.to_bytes().unwrap())),
        ));
    }
    out
}

#[test]
fn fuzz_seeds_decode_to_what_was_encoded_and_are_written_on_request() {
    let seeds = seeds();
    for target in ["tx", "abci", "proof", "light"] {
        let n = seeds.iter().filter(|(t, _)| *t == target).count();
        assert!(n >= 10, "only {n} seeds for {target}");
    }
    let Ok(dir) = std::env::var("CASCADE_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    for (i, (target, seed)) in seeds.iter().enumerate() {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("seed-{i:04}")), seed).unwrap();
    }
    println!("wrote {} fuzz seeds under {}", seeds.len(), dir.display());
}
