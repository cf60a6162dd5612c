//! Copy-on-write layers over a committed snapshot.
//!
//! Execution reads through `tx layer → block layer → snapshot` and writes only to the
//! transaction layer. A transaction that fails is dropped with its layer, so a rejected
//! transaction cannot leave a trace (the "state unchanged" rule is kept here, structurally,
//! rather than by undo code in every handler). A successful one is merged into the block layer.

use crate::codec;
use crate::exec::HistoryRecord;
use crate::store::{ChangeSet, IndexEntries, Snapshot, StoreError};
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;

/// Pending writes: authenticated state, index entries, and audit history records.
#[derive(Debug, Default, Clone)]
pub struct Layer {
    pub(crate) state: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    pub(crate) index: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Audit history, in the order the steps ran.
    pub(crate) history: Vec<HistoryRecord>,
}

impl Layer {
    /// Applies `other` on top of `self`.
    pub fn merge(&mut self, other: Layer) {
        self.state.extend(other.state);
        self.index.extend(other.index);
        self.history.extend(other.history);
    }

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

/// Read-write access for one transaction (or one begin-block step).
pub struct View<'a> {
    pub(crate) snapshot: &'a Snapshot,
    pub(crate) block: &'a Layer,
    pub(crate) tx: Layer,
}

impl<'a> View<'a> {
    /// A fresh transaction layer.
    pub fn new(snapshot: &'a Snapshot, block: &'a Layer) -> View<'a> {
        View {
            snapshot,
            block,
            tx: Layer::default(),
        }
    }

    /// Raw state read.
    pub fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.tx.state.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.block.state.get(key) {
            return Ok(v.clone());
        }
        self.snapshot.get(key)
    }

    /// Typed state read. A committed value is decoded where the state tree holds it, with
    /// no copy of its bytes.
    pub fn get<T: BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        let bytes = match self.tx.state.get(key).or_else(|| self.block.state.get(key)) {
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
    pub fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        self.tx.state.insert(key, Some(codec::encode(value)));
    }

    /// State delete (removes the key from the tree).
    pub fn delete(&mut self, key: Vec<u8>) {
        self.tx.state.insert(key, None);
    }

    /// Index read.
    pub fn index_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.tx.index.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.block.index.get(key) {
            return Ok(v.clone());
        }
        self.snapshot.index_get(key)
    }

    /// Adds a step to the audit history.
    pub fn history_push(&mut self, record: HistoryRecord) {
        self.tx.history.push(record);
    }

    /// Index write.
    pub fn index_put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.tx.index.insert(key, Some(value));
    }

    /// Index delete.
    pub fn index_delete(&mut self, key: Vec<u8>) {
        self.tx.index.insert(key, None);
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
        for layer in [&self.block.index, &self.tx.index] {
            for (k, v) in layer.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) || upper.is_some_and(|u| k.as_slice() > u) {
                    break;
                }
                merged.insert(k.clone(), v.clone());
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    /// The writes of this transaction.
    pub fn into_layer(self) -> Layer {
        self.tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Derived, Store};

    /// A read sees the transaction's own writes first, then the block's, then the
    /// committed state; a delete in a layer hides the value below it.
    #[test]
    fn reads_see_the_nearest_layer_first() {
        let mut store = Store::in_memory(Derived::NONE).unwrap();
        let mut changes = ChangeSet::default();
        for k in 0..4u64 {
            changes
                .state
                .insert(vec![b'k', k as u8], Some(codec::encode(&k)));
        }
        store.commit(1, changes).unwrap();
        let snapshot = store.snapshot().unwrap();
        let mut block = Layer::default();
        block
            .state
            .insert(vec![b'k', 1], Some(codec::encode(&10u64)));
        block.state.insert(vec![b'k', 2], None);
        let mut view = View::new(&snapshot, &block);
        view.put(vec![b'k', 3], &30u64);
        let read = |view: &View, k: u8| view.get::<u64>(&[b'k', k]).unwrap();
        assert_eq!(
            (0..5).map(|k| read(&view, k)).collect::<Vec<_>>(),
            [Some(0), Some(10), None, Some(30), None]
        );
        assert_eq!(
            view.get_raw(&[b'k', 0]).unwrap(),
            Some(codec::encode(&0u64))
        );
        view.delete(vec![b'k', 0]);
        assert_eq!(read(&view, 0), None);
    }
}
