//! Persistent storage: the state in memory (in the state tree) behind a log of blocks and
//! periodic checkpoints in redb, and the non-authenticated indexes in redb.
//!
//! Invariant: everything one block changes (its log record, its index entries, the committed
//! height and app hash, and a checkpoint when one is due) is written in **one** redb write
//! transaction, so a process killed at any point reopens at the last committed block, never
//! between two.
//!
//! Why a log and not a table of the state (ADR 0012): the state tree ([`crate::merkle`])
//! holds every key with its value in memory, so reads never need the file. What the file
//! needs is durability at every block and a quick reopen. A block's state changes are
//! therefore appended as one record (one redb value, at the right edge of its table)
//! instead of one B-tree insert per key; inserting into a B-tree of the whole state cost
//! most of issue 2's budget. Every so often the whole state is written as a checkpoint, and
//! the records it covers are removed, so the file stays within a few times the state's size
//! and reopening replays a bounded log.
//!
//! When a checkpoint is due: once the log records since the last checkpoint are twice as
//! large as that checkpoint (`LOG_PER_CHECKPOINT`). Writing checkpoints then costs at most
//! half as many bytes as the log itself (a constant factor on every block's write, whatever
//! the state's size), and reopening replays at most two states' worth of log. Why two and
//! not one: a checkpoint walks and copies the whole state, and at one state's worth of log
//! per checkpoint that was a tenth of the ledger's whole cost per transaction in
//! `cascade-bench`; at two it is half that, and reopening the benchmark's file takes 80–100
//! ms instead of about 70.
//!
//! Opening a file loads the checkpoint, replays the records after it (each record's app
//! hash is checked against the rebuilt tree) and checks the result against the committed
//! app hash; a file whose records do not give their app hashes is refused as corrupt. The
//! *derived* indexes ([`Derived`]: entries that follow from one state record each, such as
//! "account A holds piece P") are kept in memory too, rebuilt from the state on open, and
//! never written to the file.
//!
//! Layout:
//! - `checkpoint`: chunk number → a run of (key, value) records: the whole state at the
//!   checkpoint's height (`meta` "checkpoint").
//! - `log`: height → that block's state changes and app hash, for every block after the
//!   checkpoint.
//! - `history`: height → that block's audit history record (written by the ledger, which
//!   alone reads it).
//! - `index`: raw key → value, for lookups the app hash does not cover and the state does
//!   not imply (the ledger has none left). Derived index entries live in memory only.
//! - `meta`: committed height, app hash, checkpoint height and the file's record layout
//!   ([`FORMAT`]).

use crate::codec;
use crate::crypto::{hex, Hash32};
use crate::keys::Key;
use crate::merkle::{self, Change, Leaf, Tree, TreeError};
use borsh::{BorshDeserialize, BorshSerialize};
use redb::{Database, ReadOnlyTable, ReadableTable, TableDefinition};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

const CHECKPOINT: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoint");
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history");
const INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("index");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const META_HEIGHT: &str = "height";
const META_APP_HASH: &str = "app_hash";
const META_FORMAT: &str = "format";
const META_CHECKPOINT: &str = "checkpoint";

/// A checkpoint is due once the log records written since the last one are this many times
/// as large as it (the module's documentation gives the trade-off).
const LOG_PER_CHECKPOINT: u64 = 2;

/// A checkpoint is written in chunks of about this many bytes (one redb value each), so
/// neither writing nor reading one needs the whole state in one buffer.
const CHECKPOINT_CHUNK_BYTES: usize = 1 << 20;

/// The layout of the records this build writes and reads, stamped into every ledger file.
///
/// State values are borsh structs without field tags, so a file written by a build with a
/// different record layout would decode into wrong values, or fail at some later read in
/// the middle of a block. The stamp is checked when a file is opened, so such a file is
/// refused up front with [`StoreError::Format`]. Raise it with every change to a stored
/// record or to the table layout.
///
/// - 1: first stamped layout (obligor records keep settled face per currency).
/// - 2: receipts' events carry more (`Issued`: document and credit grantor; `Offered`:
///   expiry; `FinancingRequested`: the piece it was made on, rate and expiry).
/// - 3: `ParamsUpdated` receipts carry the parameters.
/// - 4: `Params` has `max_offers_out`.
/// - 5: the latest state in `state` replaces the versioned values, tree nodes and key
///   preimages; the tree and the derived indexes live in memory and are rebuilt on open;
///   audit history keys lead with the piece's creation height (ADR 0010).
/// - 6: a block log and checkpoints replace the `state` table; no receipts (ADR 0012).
/// - 7: the audit history is one record per block (`history`), linked through pieces'
///   `updated_height`.
pub const FORMAT: u32 = 7;

/// The page cache a node gives its ledger database unless configured otherwise, in MiB (the
/// node's `ledger_cache_mib`; `cascade-bench` replays on disk with it too).
///
/// redb's own default is 1 GiB, and its cache keeps every page read or written until it is
/// full, so a validator's memory grew with its ledger file: in a 6-minute soak at 150 tx/s
/// each application went from 24 to 222 MiB with a 257 MiB file (`docs/reliability.md`,
/// Memory). 64 MiB holds the pages of the indexes a block touches; the soak held its rate
/// with it, and the application's memory levels off near 64 MiB above its base (plus the
/// state itself, which lives in memory: ADR 0012).
pub const NODE_CACHE_MIB: u64 = 64;

/// Version of the state: the block height it was committed at.
pub type Version = u64;

/// A storage failure. The operation that hit it had no effect.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// redb reported an error.
    #[error("database error: {0}")]
    Database(String),
    /// The state tree could not make a proof.
    #[error("merkle tree error: {0}")]
    Tree(#[from] TreeError),
    /// The file was written with another record layout ([`FORMAT`]); `found` is `None` for
    /// a file from before layouts were stamped. Nothing was read or written.
    #[error(
        "ledger file format {} but this build reads format {expected}: keep the file for the \
         build that wrote it, or start from an empty ledger (the chain replays from genesis)",
        found.map_or("unstamped (older than format 1)".to_string(), |f| f.to_string())
    )]
    Format {
        /// Format stamped in the file.
        found: Option<u32>,
        /// [`FORMAT`].
        expected: u32,
    },
    /// Stored bytes did not decode: the database is corrupt or from another version.
    #[error("corrupt record under {what}: {reason}")]
    Corrupt {
        /// Which record.
        what: String,
        /// Decoder message.
        reason: String,
    },
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Database(e.to_string()) }
        }
    )*};
}
db_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::CompactionError
);

/// Index entries as (key, value) pairs, in key order.
pub type IndexEntries = Vec<(Vec<u8>, Vec<u8>)>;

/// Which index entries follow from the state, and how: the store keeps these in memory,
/// rebuilds them from the state when it opens a file, and writes only the others.
///
/// Invariant the ledger keeps (and [`Store::check_derived`] verifies): after every block,
/// the derived entries it has written are exactly those [`Derived::of`] gives for the
/// committed state. Derived entries carry no value (empty).
#[derive(Clone, Copy)]
pub struct Derived {
    /// Whether an index key belongs to a derived index (decided by its first bytes, so a
    /// key prefix answers too).
    pub owns: fn(&[u8]) -> bool,
    /// The derived index keys one state record (key, value) implies.
    pub of: DeriveFn,
}

/// The derived index keys one state record (key, value) implies, or why the record does
/// not decode.
pub type DeriveFn = fn(&[u8], &[u8]) -> Result<Vec<Key>, String>;

impl Derived {
    /// No derived index: every index entry is stored (tests of the store alone).
    pub const NONE: Derived = Derived {
        owns: |_| false,
        of: |_, _| Ok(Vec::new()),
    };
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Derived")
    }
}

/// Keys of the derived indexes, in memory.
type DerivedSet = BTreeSet<Key>;

/// Appends the borsh encoding of a change map to `out`: the bytes borsh gives the same map
/// with `Vec` keys, which is how a log record's changes are read back. Borsh writes lengths
/// as `u32`; a longer map, key or value is refused rather than cut.
pub fn encode_changes(
    out: &mut Vec<u8>,
    map: &BTreeMap<Key, Option<Vec<u8>>>,
) -> Result<(), StoreError> {
    let length = |n: usize| {
        u32::try_from(n)
            .map(u32::to_le_bytes)
            .map_err(|_| corrupt("log record", "a length over 4 GiB"))
    };
    let size: usize = map
        .iter()
        .map(|(k, v)| 4 + k.len() + 1 + v.as_ref().map_or(0, |v| 4 + v.len()))
        .sum();
    out.reserve(4 + size);
    out.extend_from_slice(&length(map.len())?);
    for (k, v) in map {
        out.extend_from_slice(&length(k.len())?);
        out.extend_from_slice(k);
        match v {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&length(v.len())?);
                out.extend_from_slice(v);
            }
        }
    }
    Ok(())
}

/// Changes of one block, ready to commit.
#[derive(Debug, Default)]
pub struct ChangeSet {
    /// Authenticated state: key → new value (`None` deletes).
    pub state: BTreeMap<Key, Option<Vec<u8>>>,
    /// Index entries: key → new value (`None` deletes).
    pub index: BTreeMap<Key, Option<Vec<u8>>>,
    /// The block's audit history record, kept under its height (empty: none). The store
    /// does not read it; the ledger encodes and decodes it.
    pub history: Vec<u8>,
}

/// One block's entry in the `log` table: its state changes, and the app hash they give.
#[derive(BorshSerialize, BorshDeserialize)]
struct LogRecord {
    app_hash: [u8; 32],
    changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Where the file's log stands: what decides the next checkpoint.
#[derive(Clone, Copy, Debug, Default)]
struct LogSize {
    /// Bytes of the last checkpoint (0 before the first: the first block writes one).
    checkpoint: u64,
    /// Bytes of the log records written since it.
    since: u64,
}

/// The ledger's database.
pub struct Store {
    db: Arc<Database>,
    /// The last committed state: every key and value, and the app hash (empty before the
    /// first commit).
    tree: Tree,
    derivation: Derived,
    /// The derived index entries of the last committed state. Shared with snapshots; the
    /// store updates it in place when no snapshot holds it, and copies it otherwise.
    derived: Arc<DerivedSet>,
    log: LogSize,
}

/// What a commit produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Version (block height) committed.
    pub version: u64,
    /// Root of the state tree: the app hash.
    pub app_hash: Hash32,
}

impl Store {
    /// Opens (or creates) a database file, with redb's default page cache (1 GiB).
    pub fn open(path: &Path, derivation: Derived) -> Result<Store, StoreError> {
        let db = Database::builder().create(path)?;
        Store::init(db, derivation)
    }

    /// Opens (or creates) a database file whose page cache holds at most `cache_bytes`.
    ///
    /// redb keeps every page it reads or writes in memory up to this size (nine tenths for
    /// reads, one tenth for writes not yet flushed), so a process's memory grows with its
    /// database file until the file outgrows the cache: with redb's 1 GiB default, for as
    /// long as the file stays under 1 GiB. A smaller cache only costs reads from the file
    /// (the OS page cache still helps); results never depend on it. (The state, its tree
    /// and the derived indexes are in memory whatever the cache; they grow with the state.)
    pub fn open_with_cache(
        path: &Path,
        cache_bytes: usize,
        derivation: Derived,
    ) -> Result<Store, StoreError> {
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)?;
        Store::init(db, derivation)
    }

    /// A database in memory, for tests and demos.
    pub fn in_memory(derivation: Derived) -> Result<Store, StoreError> {
        #[allow(unused_mut)] // mutated only under `cfg(fuzzing)`
        let mut builder = Database::builder();
        // The fuzz targets (`fuzz/`; cargo fuzz builds with `--cfg fuzzing`) create a fresh
        // store for every input. redb sizes a new database for 4 GiB regions, which makes
        // creating and dropping one cost ~16 ms; with 4 MiB regions it is ~1 ms. Other
        // builds keep redb's default (the setter exists only under this cfg).
        #[cfg(fuzzing)]
        builder.set_region_size(1 << 22);
        let db = builder.create_with_backend(crate::memory_backend::MemoryBackend::default())?;
        Store::init(db, derivation)
    }

    /// Creates the tables of a new file and stamps it with [`FORMAT`]; checks the stamp of
    /// an existing one (a mismatch is refused before anything is written).
    fn init(db: Database, derivation: Derived) -> Result<Store, StoreError> {
        let w = db.begin_write()?;
        {
            let mut meta = w.open_table(META)?;
            let found = stamped_format(&meta)?;
            let fresh = meta.get(META_HEIGHT)?.is_none();
            match found {
                Some(FORMAT) => {}
                None if fresh => {
                    meta.insert(META_FORMAT, FORMAT.to_be_bytes().as_slice())?;
                }
                found => {
                    return Err(StoreError::Format {
                        found,
                        expected: FORMAT,
                    })
                }
            }
            w.open_table(CHECKPOINT)?;
            w.open_table(LOG)?;
            w.open_table(HISTORY)?;
            w.open_table(INDEX)?;
        }
        w.commit()?;
        let (tree, log) = load(&db)?;
        let mut derived = DerivedSet::new();
        tree.for_each_leaf(|leaf| derive_into(&mut derived, derivation, leaf.key(), leaf.value()))?;
        Ok(Store {
            db: Arc::new(db),
            tree,
            derivation,
            derived: Arc::new(derived),
            log,
        })
    }

    /// A consistent snapshot of the last committed state.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(Snapshot {
            index: txn.open_table(INDEX)?,
            history: txn.open_table(HISTORY)?,
            meta: txn.open_table(META)?,
            tree: self.tree.clone(),
            owns: self.derivation.owns,
            derived: Arc::clone(&self.derived),
        })
    }

    /// Computes the new tree for one block's changes without writing anything: the app hash
    /// is known (ABCI `FinalizeBlock`) before the block is persisted (ABCI `Commit`).
    pub fn prepare(&self, version: Version, changes: ChangeSet) -> Result<Prepared, StoreError> {
        // The log record ([`LogRecord`]: app hash, then the changes) is encoded before the
        // values move into the tree's leaves, and its app hash filled in once known: the
        // values are copied once, into the record, not twice.
        let mut record = vec![0u8; 32];
        encode_changes(&mut record, &changes.state)?;
        let tree = self.tree.with(
            changes
                .state
                .into_iter()
                .map(|(k, v)| match v {
                    Some(v) => Change::Put(Leaf::new(&k, &v)),
                    None => Change::Delete(merkle::hash(&k)),
                })
                .collect(),
        );
        let app_hash = Hash32(tree.root_hash());
        record[..32].copy_from_slice(&app_hash.0);
        Ok(Prepared {
            committed: Committed { version, app_hash },
            tree,
            record,
            index: changes.index,
            history: changes.history,
        })
    }

    /// Writes a prepared block in one redb write transaction: either all of it is durable or
    /// none of it is (a crash in between leaves the previous version intact). The prepared
    /// tree and derived index entries become the committed ones only once the write is
    /// durable. A derived entry with a value is refused before anything is written.
    ///
    /// The derived entries are updated in place if no snapshot still holds them, so a
    /// caller drops its snapshot of the previous block first (or pays for a copy).
    pub fn write(&mut self, prepared: Prepared) -> Result<Committed, StoreError> {
        let Prepared {
            committed,
            tree,
            record,
            index,
            history,
        } = prepared;
        // One pass over the index changes splits them into the derived ones (kept in memory:
        // key, and whether it is added) and the stored ones (written below).
        let owns = self.derivation.owns;
        let mut derived_changes = Vec::new();
        let mut stored_changes = Vec::new();
        for (k, v) in index {
            if !owns(&k) {
                stored_changes.push((k, v));
            } else if v.as_ref().is_some_and(|v| !v.is_empty()) {
                return Err(corrupt("derived index entry", "has a value"));
            } else {
                derived_changes.push((k, v.is_some()));
            }
        }
        let mut log = LogSize {
            checkpoint: self.log.checkpoint,
            since: self.log.since + record.len() as u64,
        };
        let w = self.db.begin_write()?;
        {
            let mut stored = w.open_table(INDEX)?;
            for (k, v) in &stored_changes {
                match v {
                    Some(v) => stored.insert(k.as_slice(), v.as_slice())?,
                    None => stored.remove(k.as_slice())?,
                };
            }
            if !history.is_empty() {
                w.open_table(HISTORY)?
                    .insert(committed.version, history.as_slice())?;
            }
            let mut meta = w.open_table(META)?;
            meta.insert(META_HEIGHT, committed.version.to_be_bytes().as_slice())?;
            meta.insert(META_APP_HASH, committed.app_hash.0.as_slice())?;
            let mut records = w.open_table(LOG)?;
            if log.since >= LOG_PER_CHECKPOINT.saturating_mul(log.checkpoint) {
                // The checkpoint is this block's state: it replaces the log up to here.
                records.retain(|_, _| false)?;
                let mut chunks = w.open_table(CHECKPOINT)?;
                log = LogSize {
                    checkpoint: write_checkpoint(&mut chunks, &tree)?,
                    since: 0,
                };
                meta.insert(META_CHECKPOINT, committed.version.to_be_bytes().as_slice())?;
            } else {
                records.insert(committed.version, record.as_slice())?;
            }
        }
        w.commit()?;
        self.tree = tree;
        self.log = log;
        let derived = Arc::make_mut(&mut self.derived);
        for (k, added) in derived_changes {
            if added {
                derived.insert(k);
            } else {
                derived.remove(&k);
            }
        }
        Ok(committed)
    }

    /// Rebuilds the derived index entries from the committed state and compares them with
    /// the ones maintained block by block: [`StoreError::Corrupt`] names the first entry
    /// that differs. Reads the whole state; for tests and operators' checks.
    pub fn check_derived(&self) -> Result<(), StoreError> {
        let mut rebuilt = DerivedSet::new();
        self.tree.for_each_leaf(|leaf| {
            derive_into(&mut rebuilt, self.derivation, leaf.key(), leaf.value())
        })?;
        if let Some(k) = rebuilt.symmetric_difference(&self.derived).next() {
            let (what, side) = if rebuilt.contains(k) {
                ("missing", "the state implies it")
            } else {
                ("stray", "the state does not imply it")
            };
            return Err(corrupt(
                "derived index",
                &format!("{what} entry {}: {side}", hex(k)),
            ));
        }
        Ok(())
    }

    /// Commits one block's changes as tree version `version`, atomically.
    pub fn commit(
        &mut self,
        version: Version,
        changes: ChangeSet,
    ) -> Result<Committed, StoreError> {
        let prepared = self.prepare(version, changes)?;
        self.write(prepared)
    }
}

/// Writes the whole state of `tree` into the (emptied) `checkpoint` table, in chunks of
/// about [`CHECKPOINT_CHUNK_BYTES`]; returns the bytes written.
fn write_checkpoint(chunks: &mut redb::Table<u64, &[u8]>, tree: &Tree) -> Result<u64, StoreError> {
    chunks.retain(|_, _| false)?;
    let mut pending: Vec<(&[u8], &[u8])> = Vec::new();
    let (mut pending_bytes, mut number, mut written) = (0usize, 0u64, 0u64);
    let mut flush = |pending: &mut Vec<(&[u8], &[u8])>| -> Result<(), StoreError> {
        let encoded = codec::encode(pending);
        chunks.insert(number, encoded.as_slice())?;
        number += 1;
        written += encoded.len() as u64;
        pending.clear();
        Ok(())
    };
    tree.for_each_leaf(|leaf| {
        pending.push((leaf.key(), leaf.value()));
        pending_bytes += leaf.key().len() + leaf.value().len();
        if pending_bytes >= CHECKPOINT_CHUNK_BYTES {
            pending_bytes = 0;
            flush(&mut pending)?;
        }
        Ok::<(), StoreError>(())
    })?;
    if !pending.is_empty() {
        flush(&mut pending)?;
    }
    Ok(written)
}

/// What [`Store::compact_file`] did to a ledger file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compacted {
    /// File size before, in bytes.
    pub before: u64,
    /// File size after, in bytes.
    pub after: u64,
}

impl Store {
    /// Compacts a ledger file in place: redb moves the live pages together and gives the
    /// free space back to the file system. The committed state, checkpoint, log and index
    /// entries stay as they were (the app hash and every proof are unchanged); only the
    /// free and half-empty pages that copy-on-write leaves behind go (see
    /// `docs/reliability.md`, Disk).
    ///
    /// It needs the file to itself, so a node runs it while stopped: a file another
    /// process (or this one) has open is refused with [`StoreError::Database`], and a
    /// missing file too (this never creates a ledger). A crash during compaction leaves
    /// the last committed state (redb commits compaction like any transaction).
    pub fn compact_file(path: &Path) -> Result<Compacted, StoreError> {
        let size = |path: &Path| {
            std::fs::metadata(path)
                .map(|m| m.len())
                .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))
        };
        let before = size(path)?;
        let mut db = Database::open(path)?;
        // `compact` returns whether it moved anything; either way the file is as small as
        // redb can make it.
        db.compact()?;
        drop(db);
        Ok(Compacted {
            before,
            after: size(path)?,
        })
    }
}

/// A block whose new tree has been computed but not yet written (see [`Store::prepare`]).
pub struct Prepared {
    committed: Committed,
    tree: Tree,
    /// The block's [`LogRecord`], encoded.
    record: Vec<u8>,
    index: BTreeMap<Key, Option<Vec<u8>>>,
    history: Vec<u8>,
}

impl Prepared {
    /// Version and app hash this block will have once written.
    pub fn committed(&self) -> Committed {
        self.committed
    }
}

/// A read-only view of one committed version of the store.
pub struct Snapshot {
    index: ReadOnlyTable<&'static [u8], &'static [u8]>,
    history: ReadOnlyTable<u64, &'static [u8]>,
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
    tree: Tree,
    owns: fn(&[u8]) -> bool,
    derived: Arc<DerivedSet>,
}

impl Snapshot {
    /// Last committed (height, app hash), or `None` for an empty store.
    pub fn committed(&self) -> Result<Option<Committed>, StoreError> {
        committed_in(&self.meta)
    }

    /// Committed value of a state key.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get_ref(key).map(<[u8]>::to_vec))
    }

    /// Committed value of a state key, where the state tree holds it (no copy).
    pub fn get_ref(&self, key: &[u8]) -> Option<&[u8]> {
        self.tree.get(key)
    }

    /// Number of state keys (walks the state; for diagnostics).
    pub fn state_len(&self) -> Result<u64, StoreError> {
        Ok(self.tree.len() as u64)
    }

    /// The audit history record of the block at `height` ([`ChangeSet::history`]), if it
    /// had one.
    pub fn history(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.history.get(height)?.map(|v| v.value().to_vec()))
    }

    /// An index entry.
    pub fn index_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if (self.owns)(key) {
            return Ok(self.derived.contains(key).then(Vec::new));
        }
        Ok(self.index.get(key)?.map(|v| v.value().to_vec()))
    }
    /// Lets go of this snapshot's share of the derived indexes, so that the store can update
    /// them in place at the next write. The snapshot then answers derived lookups as empty:
    /// call this only on a snapshot about to be replaced.
    pub fn release_derived(&mut self) {
        self.derived = Arc::default();
    }

    /// Index entries whose key starts with `prefix` and is at most `upper` (inclusive), in key order.
    pub fn index_scan(
        &self,
        prefix: &[u8],
        upper: Option<&[u8]>,
    ) -> Result<IndexEntries, StoreError> {
        let in_range = |k: &[u8]| k.starts_with(prefix) && upper.is_none_or(|u| k <= u);
        // A prefix names one kind of index; only the empty prefix spans both.
        let derived = prefix.is_empty() || (self.owns)(prefix);
        let stored = prefix.is_empty() || !(self.owns)(prefix);
        let mut out: IndexEntries = Vec::new();
        if derived {
            let from = (
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            );
            out.extend(
                self.derived
                    .range::<[u8], _>(from)
                    .take_while(|k| in_range(k))
                    .map(|k| (k.to_vec(), Vec::new())),
            );
        }
        if stored {
            for entry in self.index.range(prefix..)? {
                let (k, v) = entry?;
                let k = k.value();
                if !in_range(k) {
                    break;
                }
                out.push((k.to_vec(), v.value().to_vec()));
            }
        }
        if derived && stored {
            out.sort();
        }
        Ok(out)
    }

    /// The value (or absence) of a state key with an ICS-23 proof against this snapshot's
    /// app hash, in the Jellyfish Merkle tree's format (verify with `jmt::ics23_spec()`).
    pub fn prove(
        &self,
        key: &[u8],
    ) -> Result<(Option<Vec<u8>>, ics23::CommitmentProof), StoreError> {
        Ok(self.tree.prove(key)?)
    }
}

/// Adds the derived index entries of one state record to `set`.
fn derive_into(
    set: &mut DerivedSet,
    derivation: Derived,
    key: &[u8],
    value: &[u8],
) -> Result<(), StoreError> {
    let keys = (derivation.of)(key, value).map_err(|reason| StoreError::Corrupt {
        what: String::from_utf8_lossy(key).into_owned(),
        reason,
    })?;
    set.extend(keys);
    Ok(())
}

/// The committed state of a file: its checkpoint with the log after it replayed, each log
/// record checked against the app hash it recorded, and the result against the committed
/// app hash.
fn load(db: &Database) -> Result<(Tree, LogSize), StoreError> {
    let r = db.begin_read()?;
    let meta = r.open_table(META)?;
    let Some(committed) = committed_in(&meta)? else {
        return Ok((Tree::default(), LogSize::default()));
    };
    let checkpoint = match meta.get(META_CHECKPOINT)? {
        Some(v) => u64::from_be_bytes(
            v.value()
                .try_into()
                .map_err(|_| corrupt("meta checkpoint", "length"))?,
        ),
        None => return Err(corrupt("meta checkpoint", "missing")),
    };
    let mut size = LogSize::default();
    let mut leaves = Vec::new();
    for entry in r.open_table(CHECKPOINT)?.iter()? {
        let (number, chunk) = entry?;
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = codec::decode_stored(chunk.value()).map_err(|e| {
            corrupt(
                &format!("checkpoint chunk {}", number.value()),
                &e.to_string(),
            )
        })?;
        size.checkpoint += chunk.value().len() as u64;
        leaves.extend(pairs.into_iter().map(|(k, v)| Leaf::new(&k, &v)));
    }
    let mut tree = Tree::from_leaves(leaves);
    let mut height = checkpoint;
    for entry in r.open_table(LOG)?.iter()? {
        let (at, bytes) = entry?;
        let at = at.value();
        let what = format!("log record of block {at}");
        if at != height + 1 {
            return Err(corrupt(&what, &format!("follows block {height}")));
        }
        let record: LogRecord =
            codec::decode_stored(bytes.value()).map_err(|e| corrupt(&what, &e.to_string()))?;
        size.since += bytes.value().len() as u64;
        tree = tree.with(
            record
                .changes
                .into_iter()
                .map(|(k, v)| match v {
                    Some(v) => Change::Put(Leaf::new(&k, &v)),
                    None => Change::Delete(merkle::hash(&k)),
                })
                .collect(),
        );
        if tree.root_hash() != record.app_hash {
            return Err(corrupt(
                &what,
                &format!(
                    "the state gives app hash {} but block {at} committed {}",
                    Hash32(tree.root_hash()),
                    Hash32(record.app_hash)
                ),
            ));
        }
        height = at;
    }
    if height != committed.version || tree.root_hash() != committed.app_hash.0 {
        return Err(corrupt(
            "state",
            &format!(
                "the checkpoint and log give block {height} with app hash {} but block {} \
                 committed {}",
                Hash32(tree.root_hash()),
                committed.version,
                committed.app_hash
            ),
        ));
    }
    Ok((tree, size))
}

/// The committed (height, app hash) a `meta` table records, or `None` for an empty store.
fn committed_in(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Option<Committed>, StoreError> {
    let height = match meta.get(META_HEIGHT)? {
        Some(v) => u64::from_be_bytes(
            v.value()
                .try_into()
                .map_err(|_| corrupt("meta height", "length"))?,
        ),
        None => return Ok(None),
    };
    let hash = match meta.get(META_APP_HASH)? {
        Some(v) => Hash32(
            v.value()
                .try_into()
                .map_err(|_| corrupt("meta app hash", "length"))?,
        ),
        None => return Err(corrupt("meta app hash", "missing")),
    };
    Ok(Some(Committed {
        version: height,
        app_hash: hash,
    }))
}

/// The [`FORMAT`] stamped in a file's `meta` table, `None` if it has none.
fn stamped_format(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Option<u32>, StoreError> {
    match meta.get(META_FORMAT)? {
        Some(v) => Ok(Some(u32::from_be_bytes(
            v.value()
                .try_into()
                .map_err(|_| corrupt("meta format", "length"))?,
        ))),
        None => Ok(None),
    }
}

fn corrupt(what: &str, reason: &str) -> StoreError {
    StoreError::Corrupt {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::tests::verifies;
    use redb::ReadableTableMetadata;

    fn set(pairs: &[(&str, Option<&str>)]) -> ChangeSet {
        let mut c = ChangeSet::default();
        for (k, v) in pairs {
            c.state
                .insert(k.as_bytes().into(), v.map(|v| v.as_bytes().to_vec()));
        }
        c
    }

    /// The log record's changes are encoded by hand from inline keys; they must be the bytes
    /// borsh gives the same map with `Vec` keys, which is how they are read back.
    #[test]
    fn changes_encode_as_borsh_encodes_the_map() {
        let mut changes = BTreeMap::new();
        changes.insert(Key::from_slice(b"piece/1"), Some(vec![1, 2, 3]));
        changes.insert(Key::from_slice(b"gone"), None);
        changes.insert(Key::from_slice(&[7; 100]), Some(Vec::new()));
        let as_vecs: BTreeMap<Vec<u8>, Option<Vec<u8>>> = changes
            .iter()
            .map(|(k, v)| (k.to_vec(), v.clone()))
            .collect();
        let mut encoded = Vec::new();
        encode_changes(&mut encoded, &changes).unwrap();
        assert_eq!(encoded, codec::encode(&as_vecs));
        let mut empty = Vec::new();
        encode_changes(&mut empty, &BTreeMap::new()).unwrap();
        assert_eq!(
            empty,
            codec::encode(&BTreeMap::<Vec<u8>, Option<Vec<u8>>>::new())
        );
    }

    #[test]
    fn versions_and_deletes() {
        let mut s = Store::in_memory(Derived::NONE).unwrap();
        let c0 = s
            .commit(0, set(&[("a", Some("1")), ("b", Some("2"))]))
            .unwrap();
        let c1 = s.commit(1, set(&[("a", Some("3")), ("b", None)])).unwrap();
        assert_ne!(c0.app_hash, c1.app_hash);
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.get(b"a").unwrap(), Some(b"3".to_vec()));
        assert_eq!(snap.get(b"b").unwrap(), None);
        assert_eq!(snap.committed().unwrap(), Some(c1));
    }

    #[test]
    fn same_changes_same_root_regardless_of_store() {
        let mut a = Store::in_memory(Derived::NONE).unwrap();
        let mut b = Store::in_memory(Derived::NONE).unwrap();
        let ca = a
            .commit(0, set(&[("x", Some("1")), ("y", Some("2"))]))
            .unwrap();
        let cb = b
            .commit(0, set(&[("y", Some("2")), ("x", Some("1"))]))
            .unwrap();
        assert_eq!(ca.app_hash, cb.app_hash);
    }

    #[test]
    fn compaction_keeps_the_state_and_shrinks_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let mut store = Store::open(&path, Derived::NONE).unwrap();
        // Many versions of the same keys, then a bulky batch of index entries (24 MB, more
        // than the file's first allocation) that the next version deletes: the file has
        // grown, and most of it is free pages.
        let mut last = None;
        for v in 0..60u64 {
            let mut c = ChangeSet::default();
            for k in 0..50u64 {
                let key = format!("key-{k}").into_bytes();
                c.state.insert(key.into(), Some(vec![(v % 251) as u8; 300]));
                c.index
                    .insert(format!("idx-{v}-{k}").as_bytes().into(), Some(vec![1; 40]));
            }
            for k in 0..12_000u64 {
                let bulky: Key = format!("tmp-{k}").as_bytes().into();
                match v {
                    40 => c.index.insert(bulky, Some(vec![2; 2_000])),
                    41 => c.index.insert(bulky, None),
                    _ => None,
                };
            }
            last = Some(store.commit(v, c).unwrap());
        }
        let before = store.snapshot().unwrap();
        let proof = before.prove(b"key-7").unwrap();
        drop(before);

        // Refused while the store is open (here, in this very process).
        assert!(matches!(
            Store::compact_file(&path),
            Err(StoreError::Database(_))
        ));
        drop(store);
        let done = Store::compact_file(&path).unwrap();
        assert!(done.after < done.before, "{done:?}");

        let store = Store::open(&path, Derived::NONE).unwrap();
        let snap = store.snapshot().unwrap();
        assert_eq!(snap.committed().unwrap(), last);
        assert_eq!(snap.get(b"key-7").unwrap(), Some(vec![59; 300]));
        assert_eq!(snap.index_get(b"idx-3-9").unwrap(), Some(vec![1; 40]));
        assert_eq!(snap.prove(b"key-7").unwrap(), proof);
    }

    #[test]
    fn compacting_a_missing_file_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nothing.redb");
        assert!(matches!(
            Store::compact_file(&path),
            Err(StoreError::Database(_))
        ));
        assert!(!path.exists());
    }

    /// Writes `stamp` (or removes it) in a file's `meta` table, as another build would have.
    fn restamp(path: &Path, stamp: Option<u32>) {
        let db = Database::open(path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut meta = w.open_table(META).unwrap();
            match stamp {
                Some(f) => meta.insert(META_FORMAT, f.to_be_bytes().as_slice()),
                None => meta.remove(META_FORMAT),
            }
            .unwrap();
        }
        w.commit().unwrap();
    }

    fn stamp_of(path: &Path) -> Option<u32> {
        let db = Database::open(path).unwrap();
        let r = db.begin_read().unwrap();
        stamped_format(&r.open_table(META).unwrap()).unwrap()
    }

    #[test]
    fn a_file_of_another_record_layout_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let mut store = Store::open(&path, Derived::NONE).unwrap();
        let committed = store.commit(0, set(&[("a", Some("1"))])).unwrap();
        drop(store);
        assert_eq!(stamp_of(&path), Some(FORMAT));

        for stamp in [None, Some(FORMAT + 1), Some(0)] {
            restamp(&path, stamp);
            let refused = Store::open(&path, Derived::NONE).err();
            assert_eq!(
                refused,
                Some(StoreError::Format {
                    found: stamp,
                    expected: FORMAT
                }),
                "stamp {stamp:?}"
            );
            assert_eq!(stamp_of(&path), stamp, "a refused open wrote nothing");
        }
        // Stamped right again, the same file opens with its state intact.
        restamp(&path, Some(FORMAT));
        let store = Store::open(&path, Derived::NONE).unwrap();
        let snap = store.snapshot().unwrap();
        assert_eq!(snap.committed().unwrap(), Some(committed));
        assert_eq!(snap.get(b"a").unwrap(), Some(b"1".to_vec()));
        let message = StoreError::Format {
            found: None,
            expected: FORMAT,
        }
        .to_string();
        assert!(message.contains("unstamped"), "{message}");
    }

    #[test]
    fn a_file_that_never_committed_is_stamped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        drop(Store::open(&path, Derived::NONE).unwrap());
        restamp(&path, None);
        drop(Store::open(&path, Derived::NONE).unwrap());
        assert_eq!(stamp_of(&path), Some(FORMAT));
    }

    /// Every snapshot stays provable after later commits: at each version, every probed key
    /// (present, deleted, deleted without ever existing, keys that are prefixes of one
    /// another, the empty key) gets the value it had then and a proof that verifies against
    /// that version's root only. Covers the one-leaf tree (leftmost and rightmost absence
    /// proofs) and versions written after later deletions.
    #[test]
    fn every_snapshot_proves_its_values_and_absences() {
        let mut store = Store::in_memory(Derived::NONE).unwrap();
        let key = |i: u64| -> Vec<u8> {
            let mut k = b"k/".to_vec();
            k.extend_from_slice(&i.to_be_bytes()[(i % 8) as usize..]);
            k
        };
        let (mut states, mut roots, mut snapshots) = (Vec::new(), Vec::new(), Vec::new());
        let mut state: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for v in 0..12u64 {
            let mut c = ChangeSet::default();
            if v < 2 {
                let (k, value) = [("a", "1"), ("abc", "2")][v as usize];
                c.state.insert(k.as_bytes().into(), Some(value.into()));
            } else {
                for i in 0..v * 7 {
                    let value = ((i + v) % 5 != 0).then(|| vec![v as u8, i as u8]);
                    c.state.insert(key(i * 31 % 97).into(), value);
                }
                c.state.insert(format!("never-{v}").as_bytes().into(), None);
            }
            for (k, value) in &c.state {
                match value {
                    Some(x) => state.insert(k.to_vec(), x.clone()),
                    None => state.remove(k.as_slice()),
                };
            }
            roots.push(store.commit(v, c).unwrap().app_hash);
            states.push(state.clone());
            snapshots.push(store.snapshot().unwrap());
        }
        let mut probes: Vec<Vec<u8>> = (0..120).map(key).collect();
        for k in ["a", "ab", "abc", "abcd", "", "never-3"] {
            probes.push(k.as_bytes().to_vec());
        }
        for (v, (state, snap)) in states.iter().zip(&snapshots).enumerate() {
            for k in &probes {
                let (value, proof) = snap.prove(k).unwrap();
                assert_eq!(value.as_ref(), state.get(k), "version {v}, key {k:?}");
                assert!(
                    verifies(&roots[v].0, k, value.as_deref(), &proof),
                    "version {v}, key {k:?}"
                );
                let other = roots[(v + 1) % roots.len()];
                assert!(
                    !verifies(&other.0, k, value.as_deref(), &proof),
                    "version {v}, key {k:?}"
                );
            }
        }
        // An empty store has nothing to prove an absence against.
        let empty = Store::in_memory(Derived::NONE).unwrap().snapshot().unwrap();
        assert_eq!(
            empty.prove(b"a").err(),
            Some(StoreError::Tree(TreeError::Empty))
        );
    }

    /// The tree is rebuilt from the state when a file is opened, and a state that does not
    /// give the committed app hash (a value changed behind the ledger's back) is refused.
    #[test]
    fn reopening_rebuilds_the_tree_and_refuses_a_tampered_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let (committed, proof) = {
            let mut s = Store::open(&path, Derived::NONE).unwrap();
            s.commit(0, set(&[("a", Some("1")), ("b", Some("2"))]))
                .unwrap();
            let c = s.commit(1, set(&[("b", None), ("c", Some("3"))])).unwrap();
            (c, s.snapshot().unwrap().prove(b"b").unwrap())
        };
        {
            let s = Store::open(&path, Derived::NONE).unwrap();
            let snap = s.snapshot().unwrap();
            assert_eq!(snap.committed().unwrap(), Some(committed));
            assert_eq!(snap.prove(b"b").unwrap(), proof);
        }
        // A value changed behind the ledger's back, in the checkpoint.
        let db = Database::open(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut chunks = w.open_table(CHECKPOINT).unwrap();
            let chunk = chunks.get(0).unwrap().unwrap().value().to_vec();
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = codec::decode_stored(&chunk).unwrap();
            pairs[0].1 = b"4".to_vec();
            chunks.insert(0, codec::encode(&pairs).as_slice()).unwrap();
        }
        w.commit().unwrap();
        drop(db);
        match Store::open(&path, Derived::NONE) {
            Err(StoreError::Corrupt { reason, .. }) => {
                assert!(reason.contains("block 1 committed"), "{reason}");
            }
            other => panic!("a tampered state opened: {:?}", other.err()),
        }
    }

    /// The rows of a file's `log` and `checkpoint` tables, and its checkpoint height.
    fn layout(db: &Database) -> (Vec<u64>, usize, u64) {
        let r = db.begin_read().unwrap();
        let log: Vec<u64> = r
            .open_table(LOG)
            .unwrap()
            .iter()
            .unwrap()
            .map(|e| e.unwrap().0.value())
            .collect();
        let chunks = r.open_table(CHECKPOINT).unwrap().iter().unwrap().count();
        let meta = r.open_table(META).unwrap();
        let at = meta.get(META_CHECKPOINT).unwrap().unwrap().value().to_vec();
        (log, chunks, u64::from_be_bytes(at.try_into().unwrap()))
    }

    /// Blocks go to the log until it is twice as large as the last checkpoint; then the block's
    /// state is written as the next checkpoint and the log it covers is removed. Reopening
    /// at any height (after a checkpoint, or with log records after one) gives the same
    /// state and app hash as the store that wrote it.
    #[test]
    fn the_log_grows_to_twice_the_checkpoints_size_and_reopening_replays_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let mut store = Store::open(&path, Derived::NONE).unwrap();
        let (mut checkpoints, mut most_log, mut past_once) = (Vec::new(), 0, false);
        let mut state: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for v in 0..40u64 {
            let mut c = ChangeSet::default();
            // A state that grows, some values rewritten, some keys deleted.
            for i in 0..(v % 7 + 1) {
                let k = format!("key-{}", (v * 5 + i * 3) % 61).into_bytes();
                let value = ((v + i) % 9 != 0).then(|| vec![v as u8; 20 + i as usize]);
                c.state.insert(k.into(), value);
            }
            for (k, value) in &c.state {
                match value {
                    Some(x) => state.insert(k.to_vec(), x.clone()),
                    None => state.remove(k.as_slice()),
                };
            }
            let committed = store.commit(v, c).unwrap();
            let (log, chunks, at) = layout(&store.db);
            // A small state fits in one chunk; an empty one has none.
            assert_eq!(chunks, usize::from(!state.is_empty()), "block {v}");
            assert_eq!(log, (at + 1..=v).collect::<Vec<_>>(), "block {v}");
            if at == v {
                checkpoints.push(v);
            }
            most_log = most_log.max(log.len());
            // The log never stays at twice the checkpoint (a checkpoint just written leaves
            // it empty), but does pass once its size.
            let LogSize { checkpoint, since } = store.log;
            assert!(
                since == 0 || since < LOG_PER_CHECKPOINT * checkpoint,
                "block {v}"
            );
            past_once |= checkpoint > 0 && since >= checkpoint;
            if v % 3 == 0 {
                drop(store);
                store = Store::open(&path, Derived::NONE).unwrap();
            }
            let snap = store.snapshot().unwrap();
            assert_eq!(snap.committed().unwrap(), Some(committed));
            for (k, value) in &state {
                assert_eq!(snap.get(k).unwrap().as_ref(), Some(value), "block {v}");
            }
            assert_eq!(snap.state_len().unwrap(), state.len() as u64);
        }
        assert_eq!(
            checkpoints[0], 0,
            "the first block writes the first checkpoint"
        );
        assert!(checkpoints.len() >= 3, "checkpoints at {checkpoints:?}");
        assert!(most_log >= 2, "at most {most_log} log records at a time");
        assert!(past_once, "the log never grew past one checkpoint's size");
    }

    /// A log that does not give its recorded app hashes, or has a gap, is refused on open.
    #[test]
    fn a_log_record_that_does_not_give_its_app_hash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        {
            let mut s = Store::open(&path, Derived::NONE).unwrap();
            // A big first state, so the blocks after it stay in the log.
            let big: Vec<(String, Option<String>)> = (0..50)
                .map(|i| (format!("k{i}"), Some("v".repeat(50))))
                .collect();
            let pairs: Vec<(&str, Option<&str>)> = big
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            s.commit(0, set(&pairs)).unwrap();
            s.commit(1, set(&[("a", Some("1"))])).unwrap();
            s.commit(2, set(&[("b", Some("2"))])).unwrap();
            s.commit(3, set(&[("c", Some("3"))])).unwrap();
        }
        assert_eq!(layout(&Database::open(&path).unwrap()).0, [1, 2, 3]);
        type LogTable<'t> = redb::Table<'t, u64, &'static [u8]>;
        let edit = |f: &dyn Fn(&mut LogTable)| {
            let db = Database::open(&path).unwrap();
            let w = db.begin_write().unwrap();
            f(&mut w.open_table(LOG).unwrap());
            w.commit().unwrap();
        };
        let record = |table: &LogTable, at: u64| -> LogRecord {
            codec::decode_stored(table.get(at).unwrap().unwrap().value()).unwrap()
        };
        // Block 2's change altered: its recorded app hash no longer follows.
        edit(&|t| {
            let mut r = record(t, 2);
            r.changes[0].1 = Some(b"9".to_vec());
            t.insert(2, codec::encode(&r).as_slice()).unwrap();
        });
        let refused = |case: &str| match Store::open(&path, Derived::NONE) {
            Err(StoreError::Corrupt { what, reason }) => (what, reason),
            other => panic!("{case} opened: {:?}", other.err()),
        };
        let (what, reason) = refused("a tampered log");
        assert_eq!(what, "log record of block 2");
        assert!(reason.contains("block 2 committed"), "{reason}");
        // Block 2's record missing: block 3's does not follow block 1.
        edit(&|t| {
            t.remove(2).unwrap();
        });
        let (what, reason) = refused("a log with a gap");
        assert_eq!(what, "log record of block 3");
        assert_eq!(reason, "follows block 1");
        // The last record missing: the log ends before the committed block.
        edit(&|t| {
            t.remove(3).unwrap();
        });
        let (what, reason) = refused("a short log");
        assert_eq!(what, "state");
        assert!(reason.contains("give block 1"), "{reason}");
    }

    /// A derivation for tests: a state value `v` implies the index key `d` + `v`.
    const TEST_DERIVED: Derived = Derived {
        owns: |k| k.first() == Some(&b'd'),
        of: |_, v| Ok(vec![[b"d", v].concat().into()]),
    };

    /// Derived entries are answered from memory, never written to the file, rebuilt from
    /// the state on open, and checked against it.
    #[test]
    fn derived_entries_live_in_memory_and_are_rebuilt_from_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let mut s = Store::open(&path, TEST_DERIVED).unwrap();
        let mut c = set(&[("a", Some("x")), ("b", Some("y"))]);
        c.index.insert(b"dx"[..].into(), Some(Vec::new()));
        c.index.insert(b"dy"[..].into(), Some(Vec::new()));
        c.index.insert(b"stored"[..].into(), Some(b"1".to_vec()));
        s.commit(0, c).unwrap();
        let mut c = set(&[("a", Some("z"))]);
        c.index.insert(b"dx"[..].into(), None);
        c.index.insert(b"dz"[..].into(), Some(Vec::new()));
        s.commit(1, c).unwrap();
        s.check_derived().unwrap();
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.index_get(b"dz").unwrap(), Some(Vec::new()));
        assert_eq!(snap.index_get(b"dx").unwrap(), None);
        let keys = |entries: IndexEntries| -> Vec<Vec<u8>> {
            entries.into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(
            keys(snap.index_scan(b"d", None).unwrap()),
            [b"dy".to_vec(), b"dz".to_vec()]
        );
        // An empty prefix spans both kinds, in key order.
        assert_eq!(
            keys(snap.index_scan(b"", None).unwrap()),
            [b"dy".to_vec(), b"dz".to_vec(), b"stored".to_vec()]
        );
        drop(snap);

        // A derived entry with a value is refused, and nothing of its block is written.
        let mut c = set(&[("c", Some("w"))]);
        c.index.insert(b"dw"[..].into(), Some(b"value".to_vec()));
        assert!(matches!(s.commit(2, c), Err(StoreError::Corrupt { .. })));
        assert_eq!(s.snapshot().unwrap().get(b"c").unwrap(), None);

        // The state's `w` with its entry forgotten, and an entry the state does not imply:
        // the check names the first difference in key order.
        let mut c = set(&[("c", Some("w"))]);
        c.index.insert(b"dstray"[..].into(), Some(Vec::new()));
        s.commit(2, c).unwrap();
        match s.check_derived() {
            Err(StoreError::Corrupt { what, reason }) => {
                assert_eq!(what, "derived index");
                assert_eq!(
                    reason,
                    "stray entry 647374726179: the state does not imply it"
                );
            }
            other => panic!("the check passed: {other:?}"),
        }
        drop(s);

        // Nothing derived was written: reopening rebuilds exactly what the state implies.
        let raw = Database::open(&path).unwrap();
        let r = raw.begin_read().unwrap();
        let index = r.open_table(INDEX).unwrap();
        assert_eq!(
            index.len().unwrap(),
            1,
            "only the stored entry is in the file"
        );
        drop((index, r, raw));
        let s = Store::open(&path, TEST_DERIVED).unwrap();
        s.check_derived().unwrap();
        let snap = s.snapshot().unwrap();
        assert_eq!(
            keys(snap.index_scan(b"d", None).unwrap()),
            [b"dw".to_vec(), b"dy".to_vec(), b"dz".to_vec()]
        );
    }

    #[test]
    fn reopen_keeps_last_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let c = {
            let mut s = Store::open(&path, Derived::NONE).unwrap();
            s.commit(0, set(&[("k", Some("v"))])).unwrap()
        };
        let s = Store::open(&path, Derived::NONE).unwrap();
        assert_eq!(s.snapshot().unwrap().committed().unwrap(), Some(c));
    }
}
