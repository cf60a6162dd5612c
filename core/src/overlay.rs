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
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Most committed values a [`ReadCache`] holds.
pub const READ_CACHE_ENTRIES: usize = 16_384;

/// Committed state values already read from one snapshot.
///
/// Many transactions of a block read the same few records (every transfer reads its
/// signer's and its recipients' participant records), and a redb lookup costs a tree
/// descent and a copy. The snapshot is immutable, so a remembered value can never be stale;
/// the ledger starts an empty cache with every new snapshot. At most
/// [`READ_CACHE_ENTRIES`] values are kept (later misses go to redb uncached), so a burst of
/// CheckTx calls reading distinct keys cannot grow memory without bound.
#[derive(Debug)]
pub struct ReadCache {
    entries: RefCell<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
    limit: usize,
}

impl Default for ReadCache {
    fn default() -> ReadCache {
        ReadCache::with_limit(READ_CACHE_ENTRIES)
    }
}

impl ReadCache {
    /// An empty cache that holds at most `limit` values.
    pub fn with_limit(limit: usize) -> ReadCache {
        ReadCache {
            entries: RefCell::new(BTreeMap::new()),
            limit,
        }
    }

    /// The value of `key` in `snapshot` (which must be the snapshot this cache belongs to).
    pub fn get(&self, snapshot: &Snapshot, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.entries.borrow().get(key) {
            return Ok(v.clone());
        }
        let value = snapshot.get(key)?;
        let mut entries = self.entries.borrow_mut();
        if entries.len() < self.limit {
            entries.insert(key.to_vec(), value.clone());
        }
        Ok(value)
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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
    pub(crate) reads: &'a ReadCache,
    pub(crate) block: &'a Layer,
    pub(crate) tx: Layer,
}

impl<'a> View<'a> {
    /// A fresh transaction layer.
    pub fn new(snapshot: &'a Snapshot, reads: &'a ReadCache, block: &'a Layer) -> View<'a> {
        View {
            snapshot,
            reads,
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
        self.reads.get(self.snapshot, key)
    }

    /// Typed state read.
    pub fn get<T: BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.get_raw(key)? {
            Some(bytes) => {
                codec::decode_stored(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        what: String::from_utf8_lossy(&key[..key.len().min(8)]).into_owned(),
                        reason: e.to_string(),
                    })
            }
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

    #[test]
    fn read_cache_answers_like_the_snapshot_and_stays_within_its_limit() {
        let mut store = Store::in_memory(Derived::NONE).unwrap();
        let mut changes = ChangeSet::default();
        for k in 0..6u8 {
            changes.state.insert(vec![b'k', k], Some(vec![k; 3]));
        }
        store.commit(1, changes).unwrap();
        let snapshot = store.snapshot().unwrap();
        let cache = ReadCache::with_limit(4);
        // Twice over six present keys and one absent key: every answer is the snapshot's,
        // whether it came from the cache or (past the limit) from redb.
        for _ in 0..2 {
            for k in 0..6u8 {
                assert_eq!(cache.get(&snapshot, &[b'k', k]).unwrap(), Some(vec![k; 3]));
            }
            assert_eq!(cache.get(&snapshot, b"absent").unwrap(), None);
        }
        assert_eq!(cache.len(), 4);
    }
}
