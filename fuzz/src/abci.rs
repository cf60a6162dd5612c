//! `abci`: arbitrary sequences of ABCI requests (see `inputs::Op`) on three applications
//! started from the world's genesis.
//!
//! - **A** and **B** get exactly the same requests and must answer identically (the state
//!   machine is deterministic, caches included).
//! - **C** gets the same requests, except that where A and B prepare a proposal, C is asked
//!   to process A's proposal, as another validator would, and must accept it. From then on
//!   C's answers must equal A's too.
//! - `FinalizeBlock` returns one result per transaction; after `Commit`, `Info` reports the
//!   app hash `FinalizeBlock` returned.
//! - Every successful query answer verifies against the committed app hash (a node never
//!   serves a proof its own state does not back).
//!
//! Transactions come from a pool (the world's setup, then the corpus) or from the input.

use crate::cases::{cases, World};
use crate::inputs::{parse_abci, Op, PathRef, TxRef};
use crate::requests::{check, finalize, info, new_app, prepare, process, query};
use bytes::Bytes;
use cascade_core::app::App;
use cascade_core::codec;
use cascade_core::keys;
use cascade_core::proof::ProofError;
use cascade_core::query::{Answer, Query};
use cascade_core::{Genesis, Hash32};
use std::cell::RefCell;
use tendermint::abci::response;

struct Context {
    genesis: Genesis,
    pool: Vec<Bytes>,
    paths: Vec<String>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

fn context() -> Context {
    let (world, _) = World::build();
    let mut pool: Vec<Bytes> = world
        .setup
        .iter()
        .flat_map(|b| b.txs.iter().cloned().map(Bytes::from))
        .collect();
    pool.extend(cases().iter().map(|c| Bytes::from((c.build)(&world).0)));
    Context {
        paths: world.known_paths(),
        genesis: world.genesis,
        pool,
    }
}

fn resolve(ctx: &Context, tx: &TxRef) -> Bytes {
    match tx {
        TxRef::Pool(i) => ctx.pool[usize::from(*i) % ctx.pool.len()].clone(),
        TxRef::Raw(bytes) => Bytes::from(bytes.clone()),
    }
}

/// The chain position the harness tracks: the next height and the last block's time.
struct Chain {
    next: u64,
    last_time: i64,
    /// Time and app hash of a finalized block not committed yet.
    finalized: Option<(i64, tendermint::AppHash)>,
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let ops = parse_abci(data);
    if ops.is_empty() {
        return;
    }
    CONTEXT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let ctx = slot.get_or_insert_with(context);
        let mut apps = [
            new_app(&ctx.genesis),
            new_app(&ctx.genesis),
            new_app(&ctx.genesis),
        ];
        let mut chain = Chain {
            next: 1,
            last_time: ctx.genesis.genesis_time,
            finalized: None,
        };
        for op in &ops {
            step(ctx, &mut apps, &mut chain, op);
        }
    });
}

/// Time of a block `tens` ten-second steps after the last one (Unix seconds).
fn block_time(chain: &Chain, tens: u16) -> i64 {
    chain.last_time + 10 * i64::from(tens)
}

fn step(ctx: &Context, apps: &mut [App; 3], chain: &mut Chain, op: &Op) {
    match op {
        Op::Finalize { tens, txs } => return finalize_all(ctx, apps, chain, *tens, txs),
        Op::Commit => return commit_all(apps, chain),
        Op::Block { tens, txs } => {
            finalize_all(ctx, apps, chain, *tens, txs);
            return commit_all(apps, chain);
        }
        _ => {}
    }
    match op {
        Op::Check(tx) => {
            let tx = resolve(ctx, tx);
            agree("CheckTx", apps, |app| check(app, &tx));
        }
        Op::Prepare { tens, txs } => {
            let txs: Vec<Bytes> = txs.iter().map(|t| resolve(ctx, t)).collect();
            let t = block_time(chain, *tens);
            // Apps 0 and 1 propose; app 2 validates what they proposed.
            let (proposers, validator) = apps.split_at_mut(2);
            let ra = agree("PrepareProposal", proposers, |app| {
                prepare(app, chain.next, t, &txs)
            });
            if let Ok(proposal) = ra {
                assert!(
                    is_subsequence(&proposal.txs, &txs),
                    "PrepareProposal invented a transaction"
                );
                assert_eq!(
                    process(&mut validator[0], chain.next, t, &proposal.txs),
                    Ok(response::ProcessProposal::Accept),
                    "a validator rejected an honest proposal"
                );
            }
        }
        Op::Process { tens, txs } => {
            let txs: Vec<Bytes> = txs.iter().map(|t| resolve(ctx, t)).collect();
            let t = block_time(chain, *tens);
            // Accepted or refused (or an error), all three must say the same.
            let _decision = agree("ProcessProposal", apps, |app| {
                process(app, chain.next, t, &txs)
            });
        }
        Op::Finalize { .. } | Op::Commit | Op::Block { .. } => {}
        Op::Query(path) => {
            let path = match path {
                PathRef::Known(i) => ctx.paths[usize::from(*i) % ctx.paths.len()].clone(),
                PathRef::Raw(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            };
            let ra = agree("Query", apps, |app| query(app, &path));
            check_answer(&apps[0], &path, &ra);
        }
        Op::Info => {
            agree("Info", apps, |app| info(app));
        }
    }
}

/// Runs `call` on every app in `apps` and asserts that they all answer the same (they were
/// given the same inputs, so a difference is nondeterminism); returns the first app's answer.
fn agree<T: PartialEq + std::fmt::Debug>(
    what: &str,
    apps: &mut [App],
    mut call: impl FnMut(&mut App) -> T,
) -> T {
    let (first, others) = apps
        .split_first_mut()
        .expect("agree needs at least one app");
    let answer = call(first);
    for (i, app) in others.iter_mut().enumerate() {
        assert_eq!(
            answer,
            call(app),
            "{what} differs between app 0 and app {}",
            i + 1
        );
    }
    answer
}

fn finalize_all(ctx: &Context, apps: &mut [App; 3], chain: &mut Chain, tens: u16, txs: &[TxRef]) {
    let txs: Vec<Bytes> = txs.iter().map(|t| resolve(ctx, t)).collect();
    let t = block_time(chain, tens);
    let ra = agree("FinalizeBlock", apps, |app| {
        finalize(app, chain.next, t, &txs)
    });
    if let Ok(r) = ra {
        assert_eq!(r.tx_results.len(), txs.len(), "one result per transaction");
        chain.finalized = Some((t, r.app_hash));
    }
}

fn commit_all(apps: &mut [App; 3], chain: &mut Chain) {
    let ra = agree("Commit", apps, |app| crate::requests::plain(app.commit()));
    if ra.is_ok() {
        let (secs, hash) = chain
            .finalized
            .take()
            .expect("a commit succeeded without a finalized block");
        assert_eq!(
            info(&apps[0]).last_block_app_hash,
            hash,
            "committed another app hash"
        );
        assert_eq!(info(&apps[0]).last_block_height.value(), chain.next);
        chain.next += 1;
        chain.last_time = secs;
    }
}

fn is_subsequence(sub: &[Bytes], of: &[Bytes]) -> bool {
    let mut rest = of.iter();
    sub.iter().all(|s| rest.any(|o| o == s))
}

/// A successful answer about proven state verifies against the committed app hash.
fn check_answer(app: &App, path: &str, r: &tendermint::abci::response::Query) {
    if r.code.is_err() {
        return;
    }
    let query = Query::parse(path).expect("the app answered a path it cannot parse");
    let answer: Answer = codec::decode_stored(&r.value).expect("the answer decodes");
    let hash: Hash32 = app.ledger().committed().expect("committed").app_hash;
    let state_key = match &query {
        Query::Piece(id) => Some(keys::piece(id)),
        Query::Root(id) => Some(keys::root(id)),
        Query::Account(a) => Some(keys::account(a)),
        Query::Participant(a) => Some(keys::participant(a)),
        Query::Clearing(id) => Some(keys::clearing(id)),
        Query::Document(h) => Some(keys::document(h)),
        Query::Validator(k) => Some(keys::validator(k)),
        Query::Consortium => Some(keys::CONSORTIUM.into()),
        Query::ObligorRecord(a) => Some(keys::obligor(a)),
        Query::Params => Some(keys::PARAMS.into()),
        _ => None,
    };
    match (&answer, state_key) {
        (Answer::State(proof), Some(key)) => {
            let value = proof
                .verify(&hash, &key)
                .expect("a served proof does not verify");
            assert_eq!(
                value.map(<[u8]>::to_vec),
                app.ledger().snapshot().get(&key).expect("read")
            );
        }
        (Answer::List(list), None) => {
            list.verify(&hash).expect("a served list does not verify");
        }
        (Answer::Lineage(lineage), None) => match lineage.verify(&hash) {
            Ok(_) => {}
            // A lineage of a certificate that does not exist proves its absence.
            Err(ProofError::Absent) => {
                let key = keys::root(&lineage.root);
                assert_eq!(lineage.root_proof.verify(&hash, &key), Ok(None));
            }
            Err(e) => panic!("a served lineage does not verify: {e}"),
        },
        (Answer::History(_), None) => {}
        (answer, key) => panic!("{path} answered with {answer:?} (state key {key:?})"),
    }
}
