//! `tx`: transaction decoding and validation against the world's ledger.
//!
//! Inputs are raw wire bytes, or a transaction body the harness signs with a world key so
//! mutations reach the rules behind the signature (see `inputs::TxInput`). Each input is
//! delivered twice in a block opened on the world's state and then discarded, so inputs do
//! not affect one another.

use crate::cases::{World, FAR_EXPIRY, SIGNERS};
use crate::inputs::{parse_tx, TxInput};
use cascade_core::codec;
use cascade_core::tx::{DecodedTx, TxBody};
use cascade_core::{Ledger, TxError, TxReceipt};
use std::cell::RefCell;

thread_local! {
    static WORLD: RefCell<Option<(World, Ledger)>> = const { RefCell::new(None) };
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some(input) = parse_tx(data) else { return };
    WORLD.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (world, ledger) = slot.get_or_insert_with(World::build);
        let bytes = match input {
            TxInput::Raw(bytes) => bytes.to_vec(),
            TxInput::Signed {
                signer,
                nonce_delta,
                body,
            } => {
                let Ok(body) = codec::decode_canonical::<TxBody>(body) else {
                    return;
                };
                let name = SIGNERS[usize::from(signer) % SIGNERS.len()];
                let nonce = world
                    .nonce(name)
                    .wrapping_add_signed(i64::from(nonce_delta));
                let chain = world.genesis.chain_id.clone();
                world
                    .envelope(name, &chain, nonce, FAR_EXPIRY, body)
                    .to_bytes()
            }
        };
        check_decoding(&bytes);
        let first = deliver(world, ledger, &bytes);
        let second = deliver(world, ledger, &bytes);
        assert_eq!(first, second, "the same transaction gave two results");
    });
}

/// Decoding accepts only the one canonical encoding, and hashes every byte.
fn check_decoding(bytes: &[u8]) {
    if let Ok(decoded) = DecodedTx::decode(bytes, usize::MAX) {
        assert_eq!(
            decoded.signed().to_bytes(),
            bytes,
            "accepted a non-canonical encoding"
        );
        assert_eq!(decoded.hash().0, cascade_core::crypto::sha256(bytes));
        assert_eq!(decoded.size(), bytes.len());
        assert_eq!(decoded.sign_digest(), decoded.signed().tx.sign_digest());
    }
}

/// Delivers `bytes` in a block on the world's state, checks the outcome, and discards the block.
fn deliver(world: &World, ledger: &mut Ledger, bytes: &[u8]) -> Result<TxReceipt, TxError> {
    ledger
        .begin_block(world.next_height, world.time)
        .expect("begin_block on the world's state");
    let before = ledger.pending_fingerprint();
    let result = ledger.deliver_tx(bytes);
    match &result {
        Ok(receipt) => {
            assert_eq!(receipt.code, 0);
            assert_eq!(receipt.height, world.next_height);
        }
        Err(err) => {
            assert!(
                !matches!(err, TxError::Store(_)),
                "a transaction caused a storage error: {err}"
            );
            assert_ne!(err.code(), 0);
            assert!(!err.to_string().is_empty());
            assert_eq!(
                ledger.pending_fingerprint(),
                before,
                "a rejected transaction changed the state: {err}"
            );
        }
    }
    ledger.abort_block();
    result
}
