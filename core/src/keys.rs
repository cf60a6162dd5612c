//! Byte keys of every record. One function per record type keeps the layout in one place.
//!
//! Authenticated (in the app hash) keys are ASCII-prefixed paths; index keys start with a
//! single tag byte and are never hashed into the app hash.

use crate::crypto::{Address, Hash32, ValidatorKey};
use crate::date::Day;
use crate::money::Currency;

/// How many bytes of a key are kept inline, without a heap allocation: every key this
/// module makes fits (the longest, a lineage entry, is 65 bytes).
pub const KEY_INLINE: usize = 72;

/// A state or index key. Kept inline because execution makes and compares keys more than
/// anything else: a key on the heap costs an allocation to make and a pointer to follow at
/// every comparison in the ordered maps of pending writes and derived indexes.
pub type Key = smallvec::SmallVec<[u8; KEY_INLINE]>;

fn key(prefix: &[u8], parts: &[&[u8]]) -> Key {
    let mut k = Key::new();
    k.extend_from_slice(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

// ---- authenticated state ----------------------------------------------------------

/// Chain id.
pub const CHAIN: &[u8] = b"meta/chain";
/// Ledger parameters.
pub const PARAMS: &[u8] = b"meta/params";
/// Last block (height, day): written every block so each version differs.
pub const BLOCK: &[u8] = b"meta/block";

/// Consortium counters (active operators, validators).
pub const CONSORTIUM: &[u8] = b"meta/consortium";

/// A consensus validator's record.
pub fn validator(k: &ValidatorKey) -> Key {
    key(b"val/", &[&k.0])
}
/// A pending validator change (key and power).
pub fn validator_proposal(k: &ValidatorKey, power: u64) -> Key {
    key(b"valprop/", &[&k.0, &power.to_be_bytes()])
}

/// Participant record.
pub fn participant(a: &Address) -> Key {
    key(b"part/", &[&a.0])
}
/// Account counters and nonce.
pub fn account(a: &Address) -> Key {
    key(b"acct/", &[&a.0])
}
/// Credit line of `obligor` in `currency` granted by `grantor`.
pub fn credit_line(obligor: &Address, currency: &Currency, grantor: &Address) -> Key {
    key(
        b"credit/",
        &[&obligor.0, currency.as_str().as_bytes(), &grantor.0],
    )
}
/// Trade document.
pub fn document(h: &Hash32) -> Key {
    key(b"doc/", &[&h.0])
}
/// Prefix of [`root`].
pub const ROOT_PREFIX: &[u8] = b"root/";
/// Certificate.
pub fn root(id: &Hash32) -> Key {
    key(ROOT_PREFIX, &[&id.0])
}
/// Prefix of [`piece`].
pub const PIECE_PREFIX: &[u8] = b"piece/";
/// Piece.
pub fn piece(id: &Hash32) -> Key {
    key(PIECE_PREFIX, &[&id.0])
}
/// Clearing list of a settled certificate.
pub fn clearing(root: &Hash32) -> Key {
    key(b"clear/", &[&root.0])
}
/// Obligor payment record.
pub fn obligor(a: &Address) -> Key {
    key(b"obligor/", &[&a.0])
}

// ---- indexes (not authenticated) ---------------------------------------------------

/// Index: pieces held by an account.
pub fn holding(a: &Address, p: &Hash32) -> Key {
    key(b"H", &[&a.0, &p.0])
}
/// Prefix of [`holding`].
pub fn holdings_of(a: &Address) -> Key {
    key(b"H", &[&a.0])
}
/// Index: offers addressed to an account.
pub fn offer_in(a: &Address, p: &Hash32) -> Key {
    key(b"I", &[&a.0, &p.0])
}
/// Prefix of [`offer_in`].
pub fn offers_in_of(a: &Address) -> Key {
    key(b"I", &[&a.0])
}
/// Index: offers made by an account.
pub fn offer_out(a: &Address, p: &Hash32) -> Key {
    key(b"O", &[&a.0, &p.0])
}
/// Prefix of [`offer_out`].
pub fn offers_out_of(a: &Address) -> Key {
    key(b"O", &[&a.0])
}
/// Index: every piece of a certificate.
pub fn lineage(root: &Hash32, p: &Hash32) -> Key {
    key(b"L", &[&root.0, &p.0])
}
/// Prefix of [`lineage`].
pub fn lineage_of(root: &Hash32) -> Key {
    key(b"L", &[&root.0])
}
/// Index: certificates by obligor.
pub fn obligor_root(obligor: &Address, root: &Hash32) -> Key {
    key(b"R", &[&obligor.0, &root.0])
}
/// Prefix of [`obligor_root`].
pub fn obligor_roots_of(obligor: &Address) -> Key {
    key(b"R", &[&obligor.0])
}
/// Index: offers by expiry day (the expiry queue).
pub fn expiry(day: Day, p: &Hash32) -> Key {
    key(b"X", &[&day.0.to_be_bytes(), &p.0])
}
/// Prefix of the expiry queue.
pub const EXPIRY_PREFIX: &[u8] = b"X";
/// Upper bound (inclusive) of expiry entries due on or before `day`.
pub fn expiry_upper(day: Day) -> Key {
    key(b"X", &[&day.0.to_be_bytes(), &[0xff; 32]])
}
/// Whether an index key (or key prefix) belongs to an index the state implies: holdings,
/// offers in and out, lineage, certificates by obligor and the expiry queue. The store
/// keeps these in memory and rebuilds them from the state ([`crate::store::Derived`]); the
/// ledger stores no other index (the audit history is kept per block:
/// [`crate::exec::HistoryRecord`]).
pub fn is_derived(k: &[u8]) -> bool {
    matches!(k.first(), Some(b'H' | b'I' | b'O' | b'L' | b'R' | b'X'))
}

/// The trailing 32-byte id of an index key.
pub fn trailing_id(k: &[u8]) -> Option<Hash32> {
    let start = k.len().checked_sub(32)?;
    k[start..].try_into().ok().map(Hash32)
}
