//! Pending writes of a block over a committed snapshot, with a journal per transaction.
//!
//! Execution reads through `block layer → snapshot` and writes into the block layer. Each
//! write journals what it replaced, and a transaction that fails is undone from its journal
//! when its [`View`] is dropped without [`View::keep`], so a rejected transaction leaves the
//! block layer exactly as it found it (the "state unchanged" rule). The undo runs in
//! `Drop`, so it runs on every path out of a failing transaction: an early `?` return, or a
//! panic unwinding through execution.
//!
//! Why a journal and not a layer per transaction that is merged on success (the design
//! before): every write was inserted twice, into the transaction's map and then into the
//! block's, and every read looked in both. Transactions that fail are the exception; the
//! journal makes the common case pay once.

use crate::codec;
use crate::exec::HistoryStep;
use crate::keys::Key;
use crate::store::{ChangeSet, IndexEntries, Snapshot, StoreError};
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;

/// Pending writes: authenticated state, index entries, and audit history records.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Layer {
    pub(crate) state: BTreeMap<Key, Option<Vec<u8>>>,
    pub(crate) index: BTreeMap<Key, Option<Vec<u8>>>,
    /// Audit history, in the order the steps ran.
    pub(crate) history: Vec<HistoryStep>,
}

impl Layer {
    /// Converts into the set of changes to commit: the block's audit history becomes one
    /// record of the block ([`ChangeSet::history`]).
    pub fn into_changes(self) -> ChangeSet {
        ChangeSet {
            state: self.state,
            index: self.index,
            history: if self.history.is_empty() {
                Vec::new()
            } else {
                codec::encode(&self.history)
            },
        }
    }
}

/// An entry of a layer's map as it was before a write: `None` if the layer had no entry
/// for the key (the write is undone by removing it), else the entry to put back.
type Replaced = Option<Option<Vec<u8>>>;

/// What one transaction's writes replaced in the block layer, in the order it wrote.
#[derive(Default)]
struct Journal {
    state: Vec<(Key, Replaced)>,
    index: Vec<(Key, Replaced)>,
    /// Length of the block's history when the transaction began.
    history: usize,
}

/// Read-write access for one transaction (or one begin-block step).
pub struct View<'a> {
    pub(crate) snapshot: &'a Snapshot,
    block: &'a mut Layer,
    journal: Journal,
    kept: bool,
}

impl Drop for View<'_> {
    /// Undoes the transaction's writes unless it was kept: replaced entries are put back
    /// newest first, so a key written twice ends with the entry it had before the first.
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let journal = std::mem::take(&mut self.journal);
        for (map, undo) in [
            (&mut self.block.state, journal.state),
            (&mut self.block.index, journal.index),
        ] {
            for (key, replaced) in undo.into_iter().rev() {
                match replaced {
                    Some(entry) => map.insert(key, entry),
                    None => map.remove(&key),
                };
            }
        }
        self.block.history.truncate(journal.history);
    }
}

/// Writes `entry` under `key` in `map`, journaling what it replaces.
fn write(
    map: &mut BTreeMap<Key, Option<Vec<u8>>>,
    undo: &mut Vec<(Key, Replaced)>,
    key: Key,
    entry: Option<Vec<u8>>,
) {
    let replaced = map.insert(key.clone(), entry);
    undo.push((key, replaced));
}

impl<'a> View<'a> {
    /// A transaction over `block`: its writes go into `block` and stay there only if it is
    /// kept ([`View::keep`]).
    pub fn new(snapshot: &'a Snapshot, block: &'a mut Layer) -> View<'a> {
        let history = block.history.len();
        View {
            snapshot,
            block,
            journal: Journal {
                history,
                ..Journal::default()
            },
            kept: false,
        }
    }

    fn write_state(&mut self, key: Key, entry: Option<Vec<u8>>) {
        write(&mut self.block.state, &mut self.journal.state, key, entry);
    }

    fn write_index(&mut self, key: Key, entry: Option<Vec<u8>>) {
        write(&mut self.block.index, &mut self.journal.index, key, entry);
    }

    /// Keeps the transaction's writes in the block.
    pub fn keep(mut self) {
        self.kept = true;
    }

    /// Raw state read.
    pub fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.block.state.get(key) {
            return Ok(v.clone());
        }
        self.snapshot.get(key)
    }

    /// Typed state read. A committed value is decoded where the state tree holds it, with
    /// no copy of its bytes.
    pub fn get<T: BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        let bytes = match self.block.state.get(key) {
            Some(pending) => pending.as_deref(),
            None => self.snapshot.get_ref(key),
        };
        match bytes {
            Some(bytes) => codec::decode_stored(bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    what: String::from_utf8_lossy(&key[..key.len().min(8)]).into_owned(),
                    reason: e.to_string(),
                }),
            None => Ok(None),
        }
    }

    /// Typed state write.
    pub fn put<T: BorshSerialize>(&mut self, key: impl Into<Key>, value: &T) {
        let entry = Some(codec::encode(value));
        self.write_state(key.into(), entry);
    }

    /// State delete (removes the key from the tree).
    pub fn delete(&mut self, key: impl Into<Key>) {
        self.write_state(key.into(), None);
    }

    /// Index read.
    pub fn index_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.block.index.get(key) {
            return Ok(v.clone());
        }
        self.snapshot.index_get(key)
    }

    /// Adds a step to the audit history.
    pub fn history_push(&mut self, step: HistoryStep) {
        self.block.history.push(step);
    }

    /// Index write.
    pub fn index_put(&mut self, key: impl Into<Key>, value: Vec<u8>) {
        self.write_index(key.into(), Some(value));
    }

    /// Index delete.
    pub fn index_delete(&mut self, key: impl Into<Key>) {
        self.write_index(key.into(), None);
    }

    /// Index keys under `prefix` (up to `upper` inclusive), merged across all layers, in order.
    pub fn index_scan(
        &self,
        prefix: &[u8],
        upper: Option<&[u8]>,
    ) -> Result<IndexEntries, StoreError> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = self
            .snapshot
            .index_scan(prefix, upper)?
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        let from = (
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        );
        for (k, v) in self.block.index.range::<[u8], _>(from) {
            if !k.starts_with(prefix) || upper.is_some_and(|u| k.as_slice() > u) {
                break;
            }
            merged.insert(k.to_vec(), v.clone());
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Hash32;
    use crate::date::Day;
    use crate::store::{Derived, Store};

    /// A store whose committed state holds `k0`..`k3` = 0..3.
    fn committed() -> Snapshot {
        let mut store = Store::in_memory(Derived::NONE).unwrap();
        let mut changes = ChangeSet::default();
        for k in 0..4u64 {
            changes
                .state
                .insert([b'k', k as u8][..].into(), Some(codec::encode(&k)));
        }
        store.commit(1, changes).unwrap();
        store.snapshot().unwrap()
    }

    fn step(n: u8) -> HistoryStep {
        HistoryStep {
            piece: Hash32([n; 32]),
            prev: None,
            height: 2,
            day: Day(0),
            tx: None,
            action: "test",
            actor: None,
            status: "active",
        }
    }

    /// A read sees the block's pending writes first, then the committed state; a delete
    /// pending in the block hides the committed value.
    #[test]
    fn reads_see_the_nearest_layer_first() {
        let snapshot = committed();
        let mut block = Layer::default();
        block
            .state
            .insert([b'k', 1][..].into(), Some(codec::encode(&10u64)));
        block.state.insert([b'k', 2][..].into(), None);
        let mut view = View::new(&snapshot, &mut block);
        view.put(&[b'k', 3][..], &30u64);
        let read = |view: &View, k: u8| view.get::<u64>(&[b'k', k]).unwrap();
        assert_eq!(
            (0..5).map(|k| read(&view, k)).collect::<Vec<_>>(),
            [Some(0), Some(10), None, Some(30), None]
        );
        assert_eq!(
            view.get_raw(&[b'k', 0]).unwrap(),
            Some(codec::encode(&0u64))
        );
        view.delete(&[b'k', 0][..]);
        assert_eq!(read(&view, 0), None);
    }

    /// A transaction that is not kept leaves the block layer exactly as it found it, even
    /// when it wrote a key twice, deleted a pending write, added index entries and history
    /// steps; a kept one leaves its writes.
    #[test]
    fn a_view_dropped_without_keep_undoes_every_write() {
        let snapshot = committed();
        let mut block = Layer::default();
        {
            let mut first = View::new(&snapshot, &mut block);
            first.put(&b"k\x01"[..], &11u64);
            first.delete(&b"k\x02"[..]);
            first.index_put(&b"I1"[..], vec![1]);
            first.history_push(step(1));
            first.keep();
        }
        let before = block.clone();
        {
            let mut failing = View::new(&snapshot, &mut block);
            failing.put(&b"k\x01"[..], &12u64);
            failing.put(&b"k\x01"[..], &13u64);
            failing.put(&b"k\x02"[..], &22u64);
            failing.delete(&b"k\x03"[..]);
            failing.put(&b"k\x09"[..], &99u64);
            failing.index_delete(&b"I1"[..]);
            failing.index_put(&b"I2"[..], vec![2]);
            failing.history_push(step(2));
            assert_eq!(failing.get::<u64>(b"k\x01").unwrap(), Some(13));
            assert_eq!(failing.get::<u64>(b"k\x03").unwrap(), None);
        }
        assert_eq!(block, before);
        let view = View::new(&snapshot, &mut block);
        assert_eq!(view.get::<u64>(b"k\x01").unwrap(), Some(11));
        assert_eq!(view.get::<u64>(b"k\x02").unwrap(), None);
        assert_eq!(view.get::<u64>(b"k\x03").unwrap(), Some(3));
        assert_eq!(view.index_get(b"I1").unwrap(), Some(vec![1]));
        assert_eq!(view.index_get(b"I2").unwrap(), None);
        drop(view);
        assert_eq!(block.history, [step(1)]);
    }

    /// The undo runs while a panic unwinds through a transaction too.
    #[test]
    fn a_panic_inside_a_transaction_undoes_its_writes() {
        let snapshot = committed();
        let mut block = Layer::default();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut view = View::new(&snapshot, &mut block);
            view.put(&b"k\x01"[..], &77u64);
            view.index_put(&b"I9"[..], Vec::new());
            panic!("a bug in a handler");
        }));
        assert!(outcome.is_err());
        assert_eq!(block, Layer::default());
    }
}
