//! The ledger's block-level refusals and its financing figures, driven through [`Ledger`].
//!
//! Four groups, each closing a gap an audit found (checks no other test exercised):
//!
//! * **Block time** — every condition under which `begin_block` returns
//!   [`LedgerError::BadBlockTime`]: a time before 1970, a time whose day does not fit the
//!   ledger's day counter, and a day before the last committed block's day (with the boundary:
//!   an earlier second of the *same* day is accepted).
//! * **Block sequence** — [`LedgerError::NotInitialized`], [`LedgerError::BlockOutOfOrder`]
//!   and [`LedgerError::Sequence`], and the `TxError::Store` that `deliver_tx`, `apply`,
//!   `try_apply` and `reject_unverified` return with no open block.
//! * **Genesis** — one test per [`LedgerError::InvalidGenesis`] condition of
//!   [`Ledger::init_chain`], plus a genesis at every limit that is accepted.
//! * **Financing figures** — interest, proceeds and days recorded by `AcceptFinancing` under
//!   ACT/365 and ACT/360, computed by hand in the comments (not with `pricing::discount`), and
//!   the two ways a ledger transaction ends in `TxError::Pricing`.
//!
//! "State unchanged" is shown three ways, as fits the refusal: the committed height and app
//! hash read back right after it; the records a rejected transaction touches read back after
//! it (on top of `Fixture::err`, which checks the open block's pending state); and, after
//! every block-level refusal, the next correct block commits to the *same app hash* as a twin
//! ledger that never saw the refusal (the fixtures are deterministic, so any stray write would
//! show up as a different hash).

use cascade_core::crypto::sha256;
use cascade_core::ledger::MAX_CHAIN_ID_LEN;
use cascade_core::pricing::PricingError;
use cascade_core::store::{Committed, StoreError};
use cascade_core::testkit::{
    validator_key, Fixture, CHAIN_ID, GENESIS_TIME, STANDARD_PARTICIPANTS,
};
use cascade_core::tx::TxBody;
use cascade_core::*;
use std::sync::OnceLock;

// ================================================================================================
// Helpers
// ================================================================================================

const DAY_SECS: i64 = 86_400;

/// What `deliver_tx`, `apply`, `try_apply` and `reject_unverified` return with no open block.
fn no_open_block() -> TxError {
    TxError::Store(StoreError::Database(
        "no open block: call begin_block first".into(),
    ))
}

/// A harmless transaction `operator` can always sign: registers a fresh supplier `name`
/// (a key the fixture derives from the name, so twins build identical bodies).
fn register_body(fx: &mut Fixture, name: &str) -> TxBody {
    fx.add_key(name);
    TxBody::RegisterParticipant {
        public_key: fx.key(name).public_key(),
        roles: Roles::SUPPLIER,
        legal_id_hash: Hash32(sha256(name.as_bytes())),
    }
}

fn committed(fx: &Fixture) -> Committed {
    fx.ledger.committed().expect("the fixture is initialised")
}

/// Asserts nothing moved after a block-level refusal: same committed height and hash, same
/// last day, no block opened.
fn assert_untouched(fx: &Fixture, before: Committed, last_day: Day) {
    assert_eq!(fx.ledger.committed(), Some(before), "committed state moved");
    assert_eq!(fx.ledger.last_day(), last_day, "last block day moved");
    assert_eq!(
        fx.ledger.pending_fingerprint(),
        None,
        "a refused call left a block open"
    );
}

/// Runs `steps` on a fresh standard fixture (the twin of one built the same way) and returns
/// what it committed last.
fn standard_twin(steps: impl FnOnce(&mut Fixture)) -> Committed {
    let mut twin = Fixture::standard();
    steps(&mut twin);
    committed(&twin)
}

/// A block time on the fixture's genesis day plus `days`, at `secs` past midnight.
fn at(days: i64, secs: i64) -> i64 {
    GENESIS_TIME + days * DAY_SECS + secs
}

fn piece(fx: &Fixture, id: &Hash32) -> Piece {
    fx.ledger
        .piece(id)
        .unwrap()
        .unwrap_or_else(|| panic!("no piece {id}"))
}

fn day(text: &str) -> Day {
    Day::parse(text).unwrap()
}

// ================================================================================================
// BadBlockTime
// ================================================================================================

/// Begins the next block of a standard fixture at each of `times`, expecting
/// `BadBlockTime` with that time and no trace; then shows the ledger still works, exactly as
/// if the refusals never happened (same app hash as a twin that never saw them).
fn assert_block_times_refused(times: &[i64]) {
    let mut fx = Fixture::standard();
    let (before, last_day) = (committed(&fx), fx.ledger.last_day());
    let h = fx.next_height();
    for &time in times {
        match fx.ledger.begin_block(h, time) {
            Err(LedgerError::BadBlockTime { time: t }) => assert_eq!(t, time),
            other => panic!("block time {time}: expected BadBlockTime, got {other:?}"),
        }
        assert_untouched(&fx, before, last_day);
    }
    fx.empty_block();
    assert_eq!(
        committed(&fx),
        standard_twin(|t| {
            t.empty_block();
        })
    );
}

/// `Day::from_unix_seconds` is `None` for a negative time, so a block dated before
/// 1970-01-01 00:00:00 UTC is refused, down to `i64::MIN`.
#[test]
fn block_time_before_1970_is_refused() {
    assert_block_times_refused(&[-1, -DAY_SECS, i64::MIN]);
}

/// A time whose day number does not fit the ledger's `u32` day counter (from day 2^32 on,
/// i.e. `(u32::MAX + 1) × 86,400` seconds, up to `i64::MAX`) is refused the same way.
#[test]
fn block_time_whose_day_does_not_fit_is_refused() {
    let first_unrepresentable = (i64::from(u32::MAX) + 1) * DAY_SECS;
    assert_block_times_refused(&[first_unrepresentable, first_unrepresentable + 1, i64::MAX]);
}

/// The genesis day is the "last block's day" of block 1: one second before the genesis
/// midnight (the previous day) is refused, the genesis midnight itself is accepted.
#[test]
fn first_block_before_the_genesis_day_is_refused() {
    let mut fx = Fixture::new(STANDARD_PARTICIPANTS, Params::default());
    let genesis_day = Day::from_unix_seconds(GENESIS_TIME).unwrap();
    assert_eq!(fx.ledger.last_day(), genesis_day);
    let before = committed(&fx);
    assert_eq!(before.version, 0);
    for time in [GENESIS_TIME - 1, GENESIS_TIME - 30 * DAY_SECS, 0] {
        match fx.ledger.begin_block(1, time) {
            Err(LedgerError::BadBlockTime { time: t }) => assert_eq!(t, time),
            other => panic!("block time {time}: expected BadBlockTime, got {other:?}"),
        }
        assert_untouched(&fx, before, genesis_day);
    }
    fx.ledger.begin_block(1, GENESIS_TIME).unwrap();
    let c = fx.commit();
    assert_eq!(c.version, 1);
    assert_eq!(fx.ledger.last_day(), genesis_day);

    let mut twin = Fixture::new(STANDARD_PARTICIPANTS, Params::default());
    twin.ledger.begin_block(1, GENESIS_TIME).unwrap();
    assert_eq!(twin.commit(), c);
}

/// After a block on day D, a block on any earlier day is refused (the last second of D−1,
/// and a day in between genesis and D); a block on D itself is accepted even at an earlier
/// second than the last block's, because the ledger keeps days, not seconds.
#[test]
fn block_on_a_day_before_the_last_blocks_day_is_refused() {
    let last_time = at(3, 12 * 3600);
    let run_to_day_3 = |fx: &mut Fixture| {
        fx.time = last_time;
        fx.empty_block();
    };
    let mut fx = Fixture::standard();
    run_to_day_3(&mut fx);
    let day3 = Day::from_unix_seconds(last_time).unwrap();
    assert_eq!(fx.ledger.last_day(), day3);
    let before = committed(&fx);
    let h = fx.next_height();
    for time in [at(3, -1), at(1, 0), at(0, 3600)] {
        match fx.ledger.begin_block(h, time) {
            Err(LedgerError::BadBlockTime { time: t }) => assert_eq!(t, time),
            other => panic!("block time {time}: expected BadBlockTime, got {other:?}"),
        }
        assert_untouched(&fx, before, day3);
    }
    // Midnight of day 3: twelve hours before the last block, same day, accepted.
    fx.time = at(3, 0);
    fx.empty_block();
    assert_eq!(committed(&fx).version, h);
    assert_eq!(fx.ledger.last_day(), day3);
    assert_eq!(
        committed(&fx),
        standard_twin(|t| {
            run_to_day_3(t);
            t.time = at(3, 0);
            t.empty_block();
        })
    );
}

// ================================================================================================
// Block sequence
// ================================================================================================

/// Before `init_chain` there is no chain: `begin_block` is `NotInitialized` and `check_tx`
/// is a store error; neither initialises anything, and genesis then proceeds normally.
#[test]
fn calls_before_genesis_are_refused() {
    let reference = Fixture::new(STANDARD_PARTICIPANTS, Params::default());
    let genesis = reference.genesis().clone();
    let bytes = reference.sign(
        "operator",
        TxBody::Unfreeze {
            piece: Hash32([7; 32]),
        },
    );

    let mut ledger = Ledger::in_memory().unwrap();
    for h in [0, 1, 2] {
        assert!(
            matches!(
                ledger.begin_block(h, GENESIS_TIME),
                Err(LedgerError::NotInitialized)
            ),
            "height {h}"
        );
    }
    let verified = ledger.verify(&bytes).unwrap();
    assert_eq!(
        ledger.check_tx(&verified),
        Err(TxError::Store(StoreError::Database(
            "ledger not initialised".into()
        )))
    );
    assert_eq!(ledger.deliver_tx(&bytes), Err(no_open_block()));
    assert_eq!(ledger.committed(), None);
    assert_eq!(ledger.chain_id(), None);
    assert_eq!(ledger.mempool_len(), 0);

    let app_hash = ledger.init_chain(&genesis).unwrap();
    assert_eq!(app_hash, committed(&reference).app_hash);
    ledger.begin_block(1, GENESIS_TIME).unwrap();
    let c = ledger.commit().unwrap();
    let mut twin = reference;
    twin.ledger.begin_block(1, GENESIS_TIME).unwrap();
    assert_eq!(twin.commit(), c);
}

/// On a fresh chain (version 0) the first block is height 1: 0 and 2 are refused.
#[test]
fn first_block_must_be_height_one() {
    let mut fx = Fixture::new(STANDARD_PARTICIPANTS, Params::default());
    let (before, last_day) = (committed(&fx), fx.ledger.last_day());
    for got in [0, 2] {
        match fx.ledger.begin_block(got, fx.time) {
            Err(LedgerError::BlockOutOfOrder { expected, got: g }) => {
                assert_eq!((expected, g), (1, got));
            }
            other => panic!("height {got}: expected BlockOutOfOrder, got {other:?}"),
        }
        assert_untouched(&fx, before, last_day);
    }
    fx.empty_block();
    assert_eq!(committed(&fx).version, 1);
}

/// Any height but committed + 1 is refused: a replay of the last height, 0, a gap, and
/// `u64::MAX`. The height is checked before the time: a wrong height with a time before 1970
/// reports the height.
#[test]
fn begin_block_at_a_height_other_than_the_next_is_refused() {
    let mut fx = Fixture::standard();
    let (before, last_day) = (committed(&fx), fx.ledger.last_day());
    let expected = before.version + 1;
    let time = fx.time;
    for (got, time) in [
        (before.version, time),
        (0, time),
        (expected + 1, time),
        (u64::MAX, time),
        (expected + 1, -1),
    ] {
        match fx.ledger.begin_block(got, time) {
            Err(LedgerError::BlockOutOfOrder {
                expected: e,
                got: g,
            }) => {
                assert_eq!((e, g), (expected, got));
            }
            other => panic!("height {got}: expected BlockOutOfOrder, got {other:?}"),
        }
        assert_untouched(&fx, before, last_day);
    }
    let body = register_body(&mut fx, "newcomer");
    fx.ok("operator", body);
    assert_eq!(committed(&fx).version, expected);
    assert_eq!(
        committed(&fx),
        standard_twin(|t| {
            let body = register_body(t, "newcomer");
            t.ok("operator", body);
        })
    );
}

/// A second `begin_block` while a block is open is refused, whatever height it names, and
/// the open block (with its transaction) is kept and commits normally.
#[test]
fn begin_block_twice_is_refused_and_keeps_the_open_block() {
    let mut fx = Fixture::standard();
    let before = committed(&fx);
    let h = fx.next_height();
    let body = register_body(&mut fx, "newcomer");
    let bytes = fx.sign("operator", body);
    fx.ledger.begin_block(h, fx.time).unwrap();
    fx.ledger.deliver_tx(&bytes).unwrap();
    let pending = fx.ledger.pending_fingerprint();
    assert!(pending.is_some());
    for height in [h, h + 1, h - 1] {
        match fx.ledger.begin_block(height, fx.time) {
            Err(LedgerError::Sequence(msg)) => {
                assert_eq!(msg, "begin_block called twice without commit");
            }
            other => panic!("height {height}: expected Sequence, got {other:?}"),
        }
        assert_eq!(fx.ledger.pending_fingerprint(), pending);
        assert_eq!(fx.ledger.committed(), Some(before));
    }
    let c = fx.commit();
    assert_eq!(c.version, h);
    assert_eq!(
        c,
        standard_twin(|t| {
            let body = register_body(t, "newcomer");
            t.ok("operator", body);
        })
    );
}

/// Between `finalize_block` and `commit` a new block cannot begin; a second
/// `finalize_block` returns the same result (it is idempotent, not refused), and `commit`
/// writes exactly the finalized block.
#[test]
fn begin_block_after_finalize_before_commit_is_refused() {
    let mut fx = Fixture::standard();
    let before = committed(&fx);
    let h = fx.next_height();
    fx.ledger.begin_block(h, fx.time).unwrap();
    let finalized = fx.ledger.finalize_block().unwrap();
    assert_eq!(finalized.version, h);
    assert_eq!(
        fx.ledger.committed(),
        Some(before),
        "finalize is not durable"
    );
    for height in [h, h + 1] {
        match fx.ledger.begin_block(height, fx.time) {
            Err(LedgerError::Sequence(msg)) => {
                assert_eq!(msg, "begin_block called twice without commit");
            }
            other => panic!("height {height}: expected Sequence, got {other:?}"),
        }
    }
    assert_eq!(fx.ledger.finalize_block().unwrap(), finalized);
    assert_eq!(fx.commit(), finalized);
    assert_eq!(fx.ledger.committed(), Some(finalized));
    assert_eq!(
        finalized,
        standard_twin(|t| {
            t.empty_block();
        })
    );
}

/// `finalize_block` and `commit` with no block open are refused — after the fixture's last
/// commit, and again right after a commit of our own (a second `commit`). `commit` goes
/// through `finalize_block`, so its refusal carries `finalize_block`'s message.
#[test]
fn finalize_or_commit_without_begin_is_refused() {
    let mut fx = Fixture::standard();
    let (before, last_day) = (committed(&fx), fx.ledger.last_day());
    let expect_sequence = |r: Result<Committed, LedgerError>, call: &str| match r {
        Err(LedgerError::Sequence(msg)) => {
            assert_eq!(msg, "finalize_block without begin_block", "{call}");
        }
        other => panic!("{call}: expected Sequence, got {other:?}"),
    };
    expect_sequence(fx.ledger.finalize_block(), "finalize_block");
    assert_untouched(&fx, before, last_day);
    expect_sequence(fx.ledger.commit(), "commit");
    assert_untouched(&fx, before, last_day);

    // A second commit after a successful one is the same refusal.
    let c = {
        fx.empty_block();
        committed(&fx)
    };
    expect_sequence(fx.ledger.commit(), "commit after commit");
    assert_untouched(&fx, c, last_day);
    fx.empty_block();
    assert_eq!(
        committed(&fx),
        standard_twin(|t| {
            t.empty_block();
            t.empty_block();
        })
    );
}

/// With no open block every way in for a transaction is refused, and refused before any
/// write: no nonce used. The very same signed bytes are accepted afterwards in a
/// proper block.
#[test]
fn transactions_without_an_open_block_are_refused_and_leave_no_trace() {
    let mut fx = Fixture::standard();
    let (before, last_day) = (committed(&fx), fx.ledger.last_day());
    let body = register_body(&mut fx, "newcomer");
    let bytes = fx.sign("operator", body);
    let verified = fx.ledger.verify(&bytes).unwrap();
    let operator = fx.addr("operator");
    let account_before = fx.ledger.account(&operator).unwrap();

    assert_eq!(fx.ledger.deliver_tx(&bytes), Err(no_open_block()));
    assert_eq!(fx.ledger.apply(&verified), Err(no_open_block()));
    assert_eq!(fx.ledger.try_apply(&verified), Err(no_open_block()));
    assert_eq!(fx.ledger.reject_unverified(), Err(no_open_block()));
    // Undecodable bytes take the same path (their position in a block needs a block too).
    let garbage = [0xFFu8; 7];
    assert_eq!(fx.ledger.deliver_tx(&garbage), Err(no_open_block()));

    assert_untouched(&fx, before, last_day);
    assert_eq!(fx.ledger.account(&operator).unwrap(), account_before);
    assert_eq!(fx.ledger.participant(&fx.addr("newcomer")).unwrap(), None);

    let receipt = fx.deliver(&bytes).unwrap();
    assert_eq!(receipt.code, 0);
    fx.commit();
    assert_eq!(
        committed(&fx),
        standard_twin(|t| {
            let body = register_body(t, "newcomer");
            t.ok("operator", body);
        })
    );
}

/// Once a block is finalized it is closed: a transaction delivered before `commit` is
/// refused, is not in the committed block, and can go in the next block with the same nonce.
#[test]
fn deliver_after_finalize_is_refused() {
    let mut fx = Fixture::standard();
    let first = register_body(&mut fx, "first");
    let second = register_body(&mut fx, "second");
    let h = fx.next_height();
    let first_bytes = fx.sign("operator", first.clone());
    fx.deliver(&first_bytes).unwrap();
    let finalized = fx.ledger.finalize_block().unwrap();
    let operator = fx.addr("operator");
    let nonce = fx.ledger.account(&operator).unwrap().nonce;
    // Signed with the nonce after `first`'s, as a client would.
    let second_bytes = fx.sign("operator", second.clone());
    assert_eq!(fx.ledger.deliver_tx(&second_bytes), Err(no_open_block()));
    assert_eq!(fx.commit(), finalized);
    assert_eq!(finalized.version, h);
    assert_eq!(fx.ledger.participant(&fx.addr("second")).unwrap(), None);
    assert_eq!(fx.ledger.account(&operator).unwrap().nonce, nonce + 1);

    assert_eq!(fx.deliver(&second_bytes).unwrap().code, 0);
    fx.commit();
    assert_eq!(
        committed(&fx),
        standard_twin(|t| {
            t.ok("operator", first);
            t.ok("operator", second);
        })
    );
}

/// `abort_block` drops an open (or finalized) block without a trace: the same height can
/// begin again and commits as if the aborted block never existed.
#[test]
fn aborted_block_leaves_nothing_and_its_height_can_begin_again() {
    let mut fx = Fixture::standard();
    let (before, last_day) = (committed(&fx), fx.ledger.last_day());
    let h = fx.next_height();
    let body = register_body(&mut fx, "dropped");
    let bytes = fx.sign("operator", body);
    fx.ledger.begin_block(h, fx.time).unwrap();
    fx.ledger.deliver_tx(&bytes).unwrap();
    fx.ledger.abort_block();
    assert_untouched(&fx, before, last_day);
    fx.ledger.begin_block(h, fx.time).unwrap();
    fx.ledger.finalize_block().unwrap();
    fx.ledger.abort_block();
    assert_untouched(&fx, before, last_day);
    assert_eq!(fx.ledger.participant(&fx.addr("dropped")).unwrap(), None);
    fx.empty_block();
    assert_eq!(
        committed(&fx),
        standard_twin(|t| {
            t.empty_block();
        })
    );
}

// ================================================================================================
// Genesis
// ================================================================================================

const GENESIS_CHAIN: &str = "ledger-sequence";

fn participant(name: &str, roles: Roles) -> GenesisParticipant {
    GenesisParticipant {
        public_key: SecretKey::from_seed(name.as_bytes()).public_key(),
        roles,
        legal_id_hash: Hash32(sha256(name.as_bytes())),
    }
}

/// A valid genesis the refusal tests each break in one way (built once per test process:
/// it derives three secp256k1 keys, slow in a debug build).
fn valid_genesis() -> Genesis {
    static GENESIS: OnceLock<Genesis> = OnceLock::new();
    GENESIS.get_or_init(build_valid_genesis).clone()
}

/// The app hash [`valid_genesis`] gives a fresh ledger.
fn valid_genesis_hash() -> Hash32 {
    static HASH: OnceLock<Hash32> = OnceLock::new();
    *HASH.get_or_init(|| {
        Ledger::in_memory()
            .unwrap()
            .init_chain(&valid_genesis())
            .unwrap()
    })
}

fn build_valid_genesis() -> Genesis {
    Genesis {
        chain_id: GENESIS_CHAIN.into(),
        genesis_time: GENESIS_TIME,
        params: Params::default(),
        participants: vec![
            participant("operator", Roles::OPERATOR),
            participant("core", Roles::OBLIGOR),
            participant("t1", Roles::SUPPLIER),
        ],
        validators: vec![ValidatorRecord {
            pub_key: validator_key("validator-0"),
            power: 10,
        }],
    }
}

/// Asserts each genesis in `cases` is refused with exactly `reason` and leaves the ledger
/// uninitialised, then that a valid genesis initialises the same ledger to the same app hash
/// as a fresh one. (One ledger serves every case: creating a redb store in memory is the
/// costly part of these tests in a debug build.)
fn assert_genesis_refused(cases: &[Genesis], reason: &str) {
    assert!(!cases.is_empty());
    let mut ledger = Ledger::in_memory().unwrap();
    for (i, genesis) in cases.iter().enumerate() {
        match ledger.init_chain(genesis) {
            Err(LedgerError::InvalidGenesis { reason: r }) => assert_eq!(r, reason, "case {i}"),
            other => panic!("case {i}: expected InvalidGenesis {reason:?}, got {other:?}"),
        }
        assert_eq!(ledger.committed(), None, "case {i}");
        assert_eq!(ledger.chain_id(), None, "case {i}");
        assert!(
            matches!(
                ledger.begin_block(1, GENESIS_TIME),
                Err(LedgerError::NotInitialized)
            ),
            "case {i}"
        );
    }

    let app_hash = ledger.init_chain(&valid_genesis()).unwrap();
    assert_eq!(
        app_hash,
        valid_genesis_hash(),
        "the refused genesis left something behind"
    );
    assert_eq!(ledger.chain_id(), Some(GENESIS_CHAIN));
    assert_eq!(
        ledger.committed(),
        Some(Committed {
            version: 0,
            app_hash
        })
    );
    assert_eq!(ledger.params(), &Params::default());
}

const CHAIN_ID_REASON: &str = "chain id must be 1 to 50 bytes";

#[test]
fn genesis_with_an_empty_chain_id_is_refused() {
    let g = Genesis {
        chain_id: String::new(),
        ..valid_genesis()
    };
    assert_genesis_refused(&[g], CHAIN_ID_REASON);
}

/// 51 bytes: one over CometBFT's limit. Bytes, not characters: 26 two-byte characters
/// (52 bytes) are refused too.
#[test]
fn genesis_with_a_chain_id_over_50_bytes_is_refused() {
    let cases = ["c".repeat(MAX_CHAIN_ID_LEN + 1), "é".repeat(26)].map(|chain_id| Genesis {
        chain_id,
        ..valid_genesis()
    });
    assert_eq!(cases[1].chain_id.len(), 52);
    assert_genesis_refused(&cases, CHAIN_ID_REASON);
}

fn params_refused(params: Params, reason: &str) {
    assert_eq!(params.validate(), Err(reason));
    let g = Genesis {
        params,
        ..valid_genesis()
    };
    assert_genesis_refused(&[g], reason);
}

#[test]
fn genesis_with_zero_min_unit_is_refused() {
    params_refused(
        Params {
            min_unit: Amount(0),
            ..Params::default()
        },
        "min_unit must be at least one minor unit",
    );
}

const SHAPE_REASON: &str = "max_outputs must be ≥ 1, max_merge_inputs ≥ 2 and max_tier ≥ 1";

#[test]
fn genesis_with_zero_max_outputs_is_refused() {
    params_refused(
        Params {
            max_outputs: 0,
            ..Params::default()
        },
        SHAPE_REASON,
    );
}

#[test]
fn genesis_with_max_merge_inputs_below_two_is_refused() {
    params_refused(
        Params {
            max_merge_inputs: 1,
            ..Params::default()
        },
        SHAPE_REASON,
    );
}

#[test]
fn genesis_with_zero_max_tier_is_refused() {
    params_refused(
        Params {
            max_tier: 0,
            ..Params::default()
        },
        SHAPE_REASON,
    );
}

const DAYS_REASON: &str = "max_tenor_days and offer_expiry_days must be ≥ 1";

#[test]
fn genesis_with_zero_max_tenor_is_refused() {
    params_refused(
        Params {
            max_tenor_days: 0,
            ..Params::default()
        },
        DAYS_REASON,
    );
}

#[test]
fn genesis_with_zero_offer_expiry_is_refused() {
    params_refused(
        Params {
            offer_expiry_days: 0,
            ..Params::default()
        },
        DAYS_REASON,
    );
}

const RATE_SIZE_REASON: &str = "max_annual_rate must be positive and max_tx_bytes ≥ 256";

#[test]
fn genesis_with_zero_max_annual_rate_is_refused() {
    params_refused(
        Params {
            max_annual_rate: AnnualRate(0),
            ..Params::default()
        },
        RATE_SIZE_REASON,
    );
}

#[test]
fn genesis_with_max_tx_bytes_below_256_is_refused() {
    params_refused(
        Params {
            max_tx_bytes: 255,
            ..Params::default()
        },
        RATE_SIZE_REASON,
    );
}

#[test]
fn genesis_time_before_1970_is_refused() {
    let cases = [-1, i64::MIN].map(|genesis_time| Genesis {
        genesis_time,
        ..valid_genesis()
    });
    assert_genesis_refused(&cases, GENESIS_TIME_REASON);
}

const GENESIS_TIME_REASON: &str = "genesis time is before 1970 or past the ledger's last day";

/// A genesis time whose day does not fit the ledger's `u32` day counter is refused too.
#[test]
fn genesis_time_whose_day_does_not_fit_is_refused() {
    let cases = [(i64::from(u32::MAX) + 1) * DAY_SECS, i64::MAX].map(|genesis_time| Genesis {
        genesis_time,
        ..valid_genesis()
    });
    assert_genesis_refused(&cases, GENESIS_TIME_REASON);
}

const NO_OPERATOR_REASON: &str = "at least one participant must be an operator";

#[test]
fn genesis_without_participants_is_refused() {
    let g = Genesis {
        participants: Vec::new(),
        ..valid_genesis()
    };
    assert_genesis_refused(&[g], NO_OPERATOR_REASON);
}

/// Every role except operator, spread over participants (one holds all four), is not enough.
#[test]
fn genesis_without_an_operator_is_refused() {
    let g = Genesis {
        participants: vec![
            participant("core", Roles::OBLIGOR),
            participant("auditor", Roles::AUDITOR),
            participant("all-but-operator", Roles(Roles::ALL.0 & !Roles::OPERATOR.0)),
        ],
        ..valid_genesis()
    };
    assert_genesis_refused(&[g], NO_OPERATOR_REASON);
}

#[test]
fn genesis_with_an_invalid_validator_key_is_refused() {
    // The y-coordinate 0x0202…02 has no Ed25519 point (x² is not a square mod 2^255 − 19).
    let bad = ValidatorKey([2; 32]);
    assert!(!bad.is_valid(), "test key must be invalid");
    let mut g = valid_genesis();
    g.validators.push(ValidatorRecord {
        pub_key: bad,
        power: 1,
    });
    assert_genesis_refused(&[g], "validator with an invalid Ed25519 key");
}

const POWER_REASON: &str = "validator power must be 1 to 1,000,000";

#[test]
fn genesis_with_a_zero_power_validator_is_refused() {
    let mut g = valid_genesis();
    g.validators.push(ValidatorRecord {
        pub_key: validator_key("validator-1"),
        power: 0,
    });
    assert_genesis_refused(&[g], POWER_REASON);
}

#[test]
fn genesis_with_a_validator_power_above_the_cap_is_refused() {
    let cases = [MAX_VALIDATOR_POWER + 1, u64::MAX].map(|power| {
        let mut g = valid_genesis();
        g.validators[0].power = power;
        g
    });
    assert_genesis_refused(&cases, POWER_REASON);
}

/// The same key twice is refused even with different powers.
#[test]
fn genesis_with_a_duplicate_validator_is_refused() {
    let mut g = valid_genesis();
    g.validators.push(ValidatorRecord {
        pub_key: validator_key("validator-0"),
        power: 20,
    });
    assert_genesis_refused(&[g], "validator listed twice");
}

#[test]
fn genesis_with_more_than_100_validators_is_refused() {
    let g = Genesis {
        validators: (0..=MAX_VALIDATORS)
            .map(|i| ValidatorRecord {
                pub_key: validator_key(&format!("validator-{i}")),
                power: 1,
            })
            .collect(),
        ..valid_genesis()
    };
    assert_eq!(g.validators.len(), 101);
    assert_genesis_refused(&[g], "more than 100 validators");
}

/// An empty role set, undefined bits (0x20, 0x80) next to valid ones or alone, and a genesis
/// whose only operator carries an undefined bit (0x40), so the "needs an operator" check
/// passes and the role-set check is what refuses it.
#[test]
fn genesis_with_an_invalid_role_set_is_refused() {
    let odd = participant("odd", Roles(0));
    let mut cases: Vec<Genesis> = [Roles(0), Roles(Roles::OPERATOR.0 | 0x20), Roles(0x80)]
        .into_iter()
        .map(|roles| {
            let mut g = valid_genesis();
            g.participants.push(GenesisParticipant { roles, ..odd });
            g
        })
        .collect();
    // The only operator carries an undefined bit: the operator check passes, this one refuses.
    cases.push(Genesis {
        participants: vec![GenesisParticipant {
            roles: Roles(Roles::OPERATOR.0 | 0x40),
            ..odd
        }],
        ..valid_genesis()
    });
    assert_genesis_refused(&cases, "participant with an invalid role set");
}

/// A prefix that is not a compressed point's (0x04, the uncompressed prefix), and a valid
/// prefix with x = 2^256 − 1, which is not a field element.
#[test]
fn genesis_with_an_invalid_participant_key_is_refused() {
    let mut over = [0xFF; 33];
    over[0] = 0x02;
    let cases = [PublicKeyBytes([0x04; 33]), PublicKeyBytes(over)].map(|key| {
        assert!(key.verifying_key().is_err());
        let mut g = valid_genesis();
        g.participants.push(GenesisParticipant {
            public_key: key,
            roles: Roles::SUPPLIER,
            legal_id_hash: Hash32([1; 32]),
        });
        g
    });
    assert_genesis_refused(&cases, "participant with an invalid public key");
}

/// The same key twice is refused even with different roles and identity hashes.
#[test]
fn genesis_with_a_duplicate_participant_is_refused() {
    let mut g = valid_genesis();
    g.participants.push(GenesisParticipant {
        legal_id_hash: Hash32([9; 32]),
        ..participant("core", Roles::SUPPLIER)
    });
    assert_genesis_refused(&[g], "participant listed twice");
}

#[test]
fn init_chain_twice_is_refused() {
    let mut fx = Fixture::standard();
    let (before, last_day) = (committed(&fx), fx.ledger.last_day());
    for genesis in [fx.genesis().clone(), valid_genesis()] {
        match fx.ledger.init_chain(&genesis) {
            Err(LedgerError::AlreadyInitialized { chain_id }) => assert_eq!(chain_id, CHAIN_ID),
            other => panic!("expected AlreadyInitialized, got {other:?}"),
        }
        assert_untouched(&fx, before, last_day);
        assert_eq!(fx.ledger.chain_id(), Some(CHAIN_ID));
    }
    fx.empty_block();
    assert_eq!(
        committed(&fx),
        standard_twin(|t| {
            t.empty_block();
        })
    );
}

/// The counterpart of the refusals: a genesis at every limit at once is accepted — a 50-byte
/// chain id, genesis at the Unix epoch, 100 validators one of which has the maximum power,
/// a participant with every role, and every parameter at its smallest valid value.
#[test]
fn genesis_at_every_limit_is_accepted() {
    let params = Params {
        min_unit: Amount(1),
        max_outputs: 1,
        max_merge_inputs: 2,
        max_tier: 1,
        max_tenor_days: 1,
        offer_expiry_days: 1,
        overdue_grace_days: 0,
        day_count: DayCount::Act365,
        max_annual_rate: AnnualRate(1),
        max_tx_bytes: 256,
        max_offers_out: 1,
    };
    let mut validators: Vec<ValidatorRecord> = (0..MAX_VALIDATORS)
        .map(|i| ValidatorRecord {
            pub_key: validator_key(&format!("validator-{i}")),
            power: 1,
        })
        .collect();
    validators[0].power = MAX_VALIDATOR_POWER;
    let chain_id = "c".repeat(MAX_CHAIN_ID_LEN);
    let g = Genesis {
        chain_id: chain_id.clone(),
        genesis_time: 0,
        params: params.clone(),
        participants: vec![participant("everything", Roles::ALL)],
        validators,
    };
    let mut ledger = Ledger::in_memory().unwrap();
    let app_hash = ledger.init_chain(&g).unwrap();
    assert_eq!(
        ledger.committed(),
        Some(Committed {
            version: 0,
            app_hash
        })
    );
    assert_eq!(ledger.chain_id(), Some(chain_id.as_str()));
    assert_eq!(ledger.params(), &params);
    assert_eq!(ledger.last_day(), Day(0));
    assert_eq!(
        ledger.validator(&validator_key("validator-0")).unwrap(),
        Some(ValidatorRecord {
            pub_key: validator_key("validator-0"),
            power: MAX_VALIDATOR_POWER,
        })
    );
    let consortium = ledger.consortium().unwrap();
    assert_eq!(
        (consortium.validators, consortium.active_operators),
        (100, 1)
    );
    // The epoch itself is a valid block time for block 1.
    ledger.begin_block(1, 0).unwrap();
    assert_eq!(ledger.commit().unwrap().version, 1);
}

// ================================================================================================
// Financing figures
// ================================================================================================

/// Requests financing of `amount` of `piece` from `holder`; returns (locked piece, change).
fn request_financing(
    fx: &mut Fixture,
    holder: &str,
    piece: Hash32,
    financier: &str,
    amount: u64,
    rate: u32,
) -> (Hash32, Option<Hash32>) {
    let body = TxBody::RequestFinancing {
        piece,
        financier: fx.addr(financier),
        amount: Amount(amount),
        rate: AnnualRate(rate),
    };
    let r = fx.ok(holder, body);
    match r.events.as_slice() {
        [Event::FinancingRequested { piece, change, .. }] => (*piece, *change),
        e => panic!("unexpected events {e:?}"),
    }
}

/// Accepts the financing of `locked` and checks everything recorded against `expected`:
/// the `Financed` event (every field) and the financed piece with its `Financing` record.
fn accept_and_check(
    fx: &mut Fixture,
    financier: &str,
    holder: &str,
    locked: Hash32,
    expected: Quote,
    reference: &str,
) -> Hash32 {
    let input = piece(fx, &locked);
    let accept_day = fx.today();
    let r = fx.ok(
        financier,
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: reference.into(),
        },
    );
    let financed = match r.events.as_slice() {
        [Event::Financed { piece, .. }] => *piece,
        e => panic!("unexpected events {e:?}"),
    };
    let (seller, financier_addr) = (fx.addr(holder), fx.addr(financier));
    assert_eq!(
        r.events,
        vec![Event::Financed {
            root: input.root,
            input: locked,
            piece: financed,
            seller,
            financier: financier_addr,
            quote: expected,
            payment_reference: reference.into(),
        }]
    );
    let p = piece(fx, &financed);
    assert_eq!(
        p.financing,
        Some(Financing {
            seller,
            day: accept_day,
            quote: expected,
            payment_reference: reference.into(),
        })
    );
    assert_eq!(p.status, PieceStatus::Financed);
    assert_eq!(p.holder, financier_addr);
    assert_eq!(p.amount, expected.face);
    assert_eq!(p.parent, Some(locked));
    assert_eq!(p.tier, input.tier);
    assert_eq!(piece(fx, &locked).status, PieceStatus::Consumed);
    financed
}

/// ACT/365 with an exact half. Dates (fixture genesis is 2026-01-05):
///
/// ```text
/// issue 2026-01-05, maturity 2026-03-26 (80 days), request 2026-01-07, accept 2026-01-12
/// days = 2026-01-12 → 2026-03-26 = 19 (to Jan 31) + 28 (Feb) + 26 (Mar) = 73
///        (priced from the accept day, not the request day, which would give 78)
/// rate 2.5 % = AnnualRate(25_000); 73/365 = 1/5, so interest = face × 0.025 / 5 = face / 200
///
/// piece A, face 100,000,100 fen: 100,000,100 / 200 = 500,000.5     → 500,001 (half goes up)
///          proceeds 100,000,100 − 500,001 = 99,500,099
/// piece B, face 100,000,099 fen: 100,000,099 / 200 = 500,000.495   → 500,000 (below half down)
///          proceeds 100,000,099 − 500,000 = 99,500,099
/// ```
///
/// B is the change of A's request, financed by a second request; both are accepted the same day.
#[test]
fn act365_financing_records_hand_computed_figures_and_rounds_half_up() {
    let mut fx = Fixture::standard_with(Params {
        day_count: DayCount::Act365,
        ..Params::default()
    });
    assert_eq!(fx.today(), day("2026-01-05"));
    let root = fx.issue_accepted("t1", 200_000_199, 80);
    let maturity = fx.ledger.root(&root).unwrap().unwrap().terms.maturity;
    assert_eq!(maturity, day("2026-03-26"));

    fx.advance_days(2);
    assert_eq!(fx.today(), day("2026-01-07"));
    let (a, change) = request_financing(&mut fx, "t1", root, "bank", 100_000_100, 25_000);
    let b = change.expect("a partial request leaves change");
    assert_eq!(piece(&fx, &b).amount, Amount(100_000_099));
    let (b_locked, none) = request_financing(&mut fx, "t1", b, "bank", 100_000_099, 25_000);
    assert_eq!(
        (b_locked, none),
        (b, None),
        "a whole-piece request locks it"
    );

    fx.advance_days(5);
    assert_eq!(fx.today(), day("2026-01-12"));
    let quote = |face: u64, interest: u64, proceeds: u64| Quote {
        face: Amount(face),
        rate: AnnualRate(25_000),
        day_count: DayCount::Act365,
        days: 73,
        interest: Amount(interest),
        proceeds: Amount(proceeds),
    };
    accept_and_check(
        &mut fx,
        "bank",
        "t1",
        a,
        quote(100_000_100, 500_001, 99_500_099),
        "PAY-A",
    );
    accept_and_check(
        &mut fx,
        "bank",
        "t1",
        b,
        quote(100_000_099, 500_000, 99_500_099),
        "PAY-B",
    );
    assert!(fx.ledger.holdings(&fx.addr("t1")).unwrap().is_empty());
    assert_eq!(fx.ledger.holdings(&fx.addr("bank")).unwrap().len(), 2);
}

/// ACT/360, partial financing, rounding up from above a half:
///
/// ```text
/// issue 2026-01-05, maturity 2026-03-06 (60 days), request 2026-01-15, accept 2026-01-20
/// days = 2026-01-20 → 2026-03-06 = 11 (to Jan 31) + 28 (Feb) + 6 (Mar) = 45
/// face 8,765,432 fen (of a 12,000,000 piece; change 3,234,568), rate 6.18 % = AnnualRate(61_800)
/// N = 8,765,432 × 61,800 × 45 = 24,376,666,392,000
/// D = 1,000,000 × 360         = 360,000,000
/// N / D = 67,712.9622…  → interest 67,713
/// proceeds = 8,765,432 − 67,713 = 8,697,719
/// ```
#[test]
fn act360_financing_records_hand_computed_figures() {
    let mut fx = Fixture::standard_with(Params {
        day_count: DayCount::Act360,
        ..Params::default()
    });
    let root = fx.issue_accepted("t1", 12_000_000, 60);
    assert_eq!(
        fx.ledger.root(&root).unwrap().unwrap().terms.maturity,
        day("2026-03-06")
    );
    fx.advance_days(10);
    assert_eq!(fx.today(), day("2026-01-15"));
    let (locked, change) = request_financing(&mut fx, "t1", root, "factor", 8_765_432, 61_800);
    let change = change.expect("a partial request leaves change");
    assert_eq!(piece(&fx, &change).amount, Amount(3_234_568));
    assert_eq!(piece(&fx, &change).status, PieceStatus::Active);

    fx.advance_days(5);
    assert_eq!(fx.today(), day("2026-01-20"));
    accept_and_check(
        &mut fx,
        "factor",
        "t1",
        locked,
        Quote {
            face: Amount(8_765_432),
            rate: AnnualRate(61_800),
            day_count: DayCount::Act360,
            days: 45,
            interest: Amount(67_713),
            proceeds: Amount(8_697_719),
        },
        "SWIFT-360",
    );
    // The change is untouched by the financing of its sibling.
    assert_eq!(piece(&fx, &change).status, PieceStatus::Active);
    assert_eq!(piece(&fx, &change).holder, fx.addr("t1"));
}

// ================================================================================================
// TxError::Pricing through the ledger
// ================================================================================================

/// What a rejected financing transaction must leave alone.
#[derive(Debug, PartialEq)]
struct FinancingState {
    pieces: Vec<(Hash32, Piece)>,
    root: RootRecord,
    accounts: Vec<Account>,
    holdings: Vec<Vec<(Hash32, Piece)>>,
}

fn financing_state(fx: &Fixture, root: &Hash32) -> FinancingState {
    let names = ["t1", "bank", "operator"];
    FinancingState {
        pieces: fx.ledger.lineage(root).unwrap(),
        root: fx.ledger.root(root).unwrap().unwrap(),
        accounts: names
            .iter()
            .map(|n| fx.ledger.account(&fx.addr(n)).unwrap())
            .collect(),
        holdings: names
            .iter()
            .map(|n| fx.ledger.holdings(&fx.addr(n)).unwrap())
            .collect(),
    }
}

/// Params whose rate cap (500 %) lets a request name a rate at which interest can pass face.
fn high_cap(day_count: DayCount) -> Params {
    Params {
        max_annual_rate: AnnualRate(5_000_000),
        day_count,
        ..Params::default()
    }
}

/// `RequestFinancing` prices the request up front. 1,000,000 fen for 100 days, ACT/360:
///
/// ```text
/// rate 360.0002 % (3,600,002): 1,000,000 × 3,600,002 × 100 / 360,000,000 = 1,000,000.555… → 1,000,001 > face
/// rate 360.0001 % (3,600,001): … = 1,000,000.277… → 1,000,000 = face: accepted (proceeds 0)
/// ```
#[test]
fn request_financing_whose_interest_would_exceed_face_is_refused() {
    let mut fx = Fixture::standard_with(high_cap(DayCount::Act360));
    let root = fx.issue_accepted("t1", 1_000_000, 100);
    let before = financing_state(&fx, &root);
    let body = |fx: &Fixture, rate: u32| TxBody::RequestFinancing {
        piece: root,
        financier: fx.addr("bank"),
        amount: Amount(1_000_000),
        rate: AnnualRate(rate),
    };
    let bytes = fx.sign("t1", body(&fx, 3_600_002));
    let err = fx.deliver(&bytes).unwrap_err();
    fx.commit();
    let expected = TxError::Pricing(PricingError::InterestExceedsFace {
        interest: Amount(1_000_001),
        face: Amount(1_000_000),
    });
    assert_eq!(err, expected);
    assert_eq!(financing_state(&fx, &root), before);
    assert_eq!(
        (err.code(), err.to_string().as_str()),
        (
            37,
            "cannot price financing: interest of 1000001 minor units would exceed the face of 1000000"
        )
    );

    let (locked, change) = request_financing(&mut fx, "t1", root, "bank", 1_000_000, 3_600_001);
    assert_eq!((locked, change), (root, None));
    assert!(matches!(
        piece(&fx, &root).status,
        PieceStatus::FinancingRequested {
            rate: AnnualRate(3_600_001),
            ..
        }
    ));
}

/// `AcceptFinancing` prices again under the convention in force when it runs
/// (`docs/pricing.md`). A request that fits under ACT/365 can therefore stop fitting if the
/// operator switches to ACT/360 before the financier accepts. 1,000,000 fen, 100 days, 362 %:
///
/// ```text
/// ACT/365: 1,000,000 × 3,620,000 × 100 / 365,000,000 = 991,780.82… → 991,781 (request fits)
/// ACT/360: 1,000,000 × 3,620,000 × 100 / 360,000,000 = 1,005,555.5… → 1,005,556 > face
/// ```
///
/// After the refusal nothing moved; back under ACT/365 the same acceptance goes through with
/// the ACT/365 figures.
#[test]
fn accept_financing_priced_above_face_is_refused() {
    let mut fx = Fixture::standard_with(high_cap(DayCount::Act365));
    let root = fx.issue_accepted("t1", 1_000_000, 100);
    let (locked, _) = request_financing(&mut fx, "t1", root, "bank", 1_000_000, 3_620_000);
    fx.ok(
        "operator",
        TxBody::UpdateParams {
            params: high_cap(DayCount::Act360),
        },
    );
    assert_eq!(fx.ledger.params().day_count, DayCount::Act360);
    let before = financing_state(&fx, &root);
    let accept = TxBody::AcceptFinancing {
        piece: locked,
        payment_reference: "PAY-1".into(),
    };
    assert_eq!(
        fx.err("bank", accept),
        TxError::Pricing(PricingError::InterestExceedsFace {
            interest: Amount(1_005_556),
            face: Amount(1_000_000),
        })
    );
    assert_eq!(financing_state(&fx, &root), before);
    assert!(matches!(
        piece(&fx, &locked).status,
        PieceStatus::FinancingRequested {
            rate: AnnualRate(3_620_000),
            ..
        }
    ));

    fx.ok(
        "operator",
        TxBody::UpdateParams {
            params: high_cap(DayCount::Act365),
        },
    );
    accept_and_check(
        &mut fx,
        "bank",
        "t1",
        locked,
        Quote {
            face: Amount(1_000_000),
            rate: AnnualRate(3_620_000),
            day_count: DayCount::Act365,
            days: 100,
            interest: Amount(991_781),
            proceeds: Amount(8_219),
        },
        "PAY-1",
    );
}

/// A financing request on the largest possible piece at a rate whose interest does not even
/// fit in an amount is refused as `InterestExceedsFace` (interest shown saturated at
/// `u64::MAX`). Before the fix the interest was clamped to `u64::MAX`, which equals this
/// face, so the request was accepted with a quote of zero proceeds.
///
/// ```text
/// 18,446,744,073,709,551,615 × 4,294,967,295 × 1 / 360,000,000 ≈ 2.2 × 10^20 > u64::MAX
/// ```
#[test]
fn request_financing_whose_interest_does_not_fit_an_amount_is_refused() {
    let mut fx = Fixture::standard_with(Params {
        max_annual_rate: AnnualRate(u32::MAX),
        ..Params::default()
    });
    let core = fx.addr("core");
    fx.ok(
        "bank",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cascade_core::testkit::cny(),
            limit: Amount(u64::MAX),
        },
    );
    let root = fx.issue_accepted("t1", u64::MAX, 1);
    let before = financing_state(&fx, &root);
    let body = TxBody::RequestFinancing {
        piece: root,
        financier: fx.addr("bank"),
        amount: Amount(u64::MAX),
        rate: AnnualRate(u32::MAX),
    };
    assert_eq!(
        fx.err("t1", body),
        TxError::Pricing(PricingError::InterestExceedsFace {
            interest: Amount(u64::MAX),
            face: Amount(u64::MAX),
        })
    );
    assert_eq!(financing_state(&fx, &root), before);
    assert_eq!(piece(&fx, &root).status, PieceStatus::Active);
}
