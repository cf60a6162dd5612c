//! The state tree: a binary sparse Merkle tree held in memory whose root and ICS-23 proofs
//! are, bit for bit, those of the Jellyfish Merkle tree (jmt) over the same keys and values.
//!
//! Why our own update code when jmt's format is kept (ADR 0010): jmt groups the binary tree
//! into 16-way nodes for storage and rehashes whole 16-way nodes on every change. Its update
//! cost ~15 µs per changed key on this project's workload, more than the whole budget
//! issue 2's benchmark target leaves. This tree keeps every binary node's hash, so an update
//! rehashes only the paths it changes, and versions share unchanged subtrees (`Arc`), so a
//! snapshot is a pointer copy. The wallet and any ICS-23 client keep verifying with the
//! stock verifier and `jmt::ics23_spec()`; the tests check roots and proof bytes against jmt
//! itself.
//!
//! The commitment (jmt's): a key `k` with value `v` is a leaf at the path given by the bits
//! of `sha256(k)`, most significant first, hashing to
//! `sha256("JMT::LeafNode" || sha256(k) || sha256(v))`. An empty subtree hashes to the
//! placeholder `"SPARSE_MERKLE_PLACEHOLDER_HASH__"`; a subtree holding exactly one leaf
//! hashes to that leaf; any other subtree to `sha256("JMT::IntrnalNode" || left || right)`.
//!
//! Invariant (canonical shape), kept by `join`: an inner node's subtree holds at least two
//! leaves, and a subtree with one leaf is that leaf itself. So the shape, and with it the
//! root, depends only on the set of (key, value) pairs, never on the order of updates.

use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A 32-byte SHA-256 digest.
pub type Digest32 = [u8; 32];

const LEAF_DOMAIN: &[u8] = b"JMT::LeafNode";
const INNER_DOMAIN: &[u8] = b"JMT::IntrnalNode";
/// The hash of an empty subtree (jmt's `SPARSE_MERKLE_PLACEHOLDER_HASH`).
pub const PLACEHOLDER: Digest32 = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";

/// Why a proof could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The tree is empty: there is no leaf to prove an absence against.
    #[error("the state tree is empty")]
    Empty,
}

/// SHA-256 of `bytes`: a key's position, or a value's hash.
pub fn hash(bytes: &[u8]) -> Digest32 {
    Sha256::digest(bytes).into()
}

fn leaf_hash(key_hash: &Digest32, value_hash: &Digest32) -> Digest32 {
    let mut h = Sha256::new();
    h.update(LEAF_DOMAIN);
    h.update(key_hash);
    h.update(value_hash);
    h.finalize().into()
}

fn inner_hash(left: &Digest32, right: &Digest32) -> Digest32 {
    let mut h = Sha256::new();
    h.update(INNER_DOMAIN);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Bit `depth` of a key hash, most significant bit of byte 0 first: `true` goes right.
fn bit(key_hash: &Digest32, depth: usize) -> bool {
    (key_hash[depth / 8] >> (7 - depth % 8)) & 1 == 1
}

/// A leaf: one key of the state and its value. The tree is where the state lives between
/// checkpoints (ADR 0012), so a snapshot of the state is a pointer copy of the tree, and
/// reading a value is a walk down it. The key itself is kept because absence proofs carry
/// the neighbouring keys.
#[derive(Debug)]
pub struct Leaf {
    key_hash: Digest32,
    hash: Digest32,
    /// The key followed by the value, in one allocation (a leaf is made for every key a
    /// block changes, so one allocation fewer per changed key counts).
    key_then_value: Box<[u8]>,
    key_len: usize,
}

impl Leaf {
    /// A leaf for `key` holding `value`.
    pub fn new(key: &[u8], value: &[u8]) -> Leaf {
        let key_hash = hash(key);
        Leaf {
            key_hash,
            hash: leaf_hash(&key_hash, &hash(value)),
            key_then_value: [key, value].concat().into_boxed_slice(),
            key_len: key.len(),
        }
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        &self.key_then_value[..self.key_len]
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        &self.key_then_value[self.key_len..]
    }
}

#[derive(Debug)]
enum Node {
    Leaf(Leaf),
    Inner {
        hash: Digest32,
        left: Link,
        right: Link,
    },
}

type Link = Option<Arc<Node>>;

impl Node {
    fn hash(&self) -> &Digest32 {
        match self {
            Node::Leaf(l) => &l.hash,
            Node::Inner { hash, .. } => hash,
        }
    }
}

fn hash_of(link: &Link) -> &Digest32 {
    link.as_deref().map_or(&PLACEHOLDER, Node::hash)
}

/// The parent of two subtrees, kept canonical: nothing for two empty sides, a lone leaf
/// floats up, anything else (including a lone inner node) gets an inner node.
fn join(left: Link, right: Link) -> Link {
    match (&left, &right) {
        (None, None) => None,
        (Some(n), None) | (None, Some(n)) if matches!(**n, Node::Leaf(_)) => Some(n.clone()),
        _ => Some(Arc::new(Node::Inner {
            hash: inner_hash(hash_of(&left), hash_of(&right)),
            left,
            right,
        })),
    }
}

/// A leaf under its key hash.
type Keyed = (Digest32, Arc<Node>);

/// The subtree at `depth` holding exactly `leaves` (sorted by key hash, distinct). Two
/// distinct key hashes differ at some bit before the 256th, so `depth` stays in range.
fn build(depth: usize, leaves: &[Keyed]) -> Link {
    match leaves {
        [] => None,
        [(_, one)] => Some(one.clone()),
        _ => {
            let split = leaves.partition_point(|(kh, _)| !bit(kh, depth));
            join(
                build(depth + 1, &leaves[..split]),
                build(depth + 1, &leaves[split..]),
            )
        }
    }
}

/// One change to the tree: put a leaf, or delete the key with this hash.
pub enum Change {
    /// Insert or replace this leaf.
    Put(Leaf),
    /// Remove the key with this hash (nothing happens if it is absent).
    Delete(Digest32),
}

/// A change ready to apply: the key hash it is at, and the new leaf (`None` deletes).
struct Op {
    key_hash: Digest32,
    leaf: Link,
}

/// `ops` applied to the subtree `node` at `depth`. `ops` are sorted by key hash, distinct,
/// and all lie under `node`'s path.
fn apply(node: &Link, depth: usize, ops: &[Op]) -> Link {
    if ops.is_empty() {
        return node.clone();
    }
    let Some(n) = node else {
        return build(depth, &new_leaves(ops));
    };
    match &**n {
        Node::Inner { left, right, .. } => {
            let split = ops.partition_point(|op| !bit(&op.key_hash, depth));
            join(
                apply(left, depth + 1, &ops[..split]),
                apply(right, depth + 1, &ops[split..]),
            )
        }
        Node::Leaf(existing) => {
            // A single leaf: rebuild the subtree from its leaves after the changes.
            let kh = existing.key_hash;
            let mut leaves = new_leaves(ops);
            if ops.binary_search_by(|op| op.key_hash.cmp(&kh)).is_err() {
                let at = leaves.partition_point(|(other, _)| *other < kh);
                leaves.insert(at, (kh, n.clone()));
            }
            build(depth, &leaves)
        }
    }
}

/// The leaves `ops` put, in key-hash order.
fn new_leaves(ops: &[Op]) -> Vec<Keyed> {
    ops.iter()
        .filter_map(|op| Some((op.key_hash, op.leaf.clone()?)))
        .collect()
}

/// One version of the state tree. Cloning is a pointer copy; versions share the subtrees
/// they have in common.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    root: Link,
}

impl Tree {
    /// The tree of these leaves (any order; a later leaf with the same key wins).
    pub fn from_leaves(leaves: Vec<Leaf>) -> Tree {
        Tree::default().with(leaves.into_iter().map(Change::Put).collect())
    }

    /// The root hash: the app hash (the placeholder for an empty tree, as in jmt).
    pub fn root_hash(&self) -> Digest32 {
        *hash_of(&self.root)
    }

    /// Number of leaves (walks the whole tree; for tests and diagnostics).
    pub fn len(&self) -> usize {
        fn count(link: &Link) -> usize {
            match link.as_deref() {
                None => 0,
                Some(Node::Leaf(_)) => 1,
                Some(Node::Inner { left, right, .. }) => count(left) + count(right),
            }
        }
        count(&self.root)
    }

    /// Whether the tree has no leaf.
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// The value of `key`, if the tree holds it.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.leaf(&hash(key)).map(Leaf::value)
    }

    /// The leaf at `key_hash`, if the tree holds one there.
    fn leaf(&self, key_hash: &Digest32) -> Option<&Leaf> {
        let mut node = &self.root;
        let mut depth = 0;
        loop {
            match node.as_deref()? {
                Node::Leaf(l) => return (l.key_hash == *key_hash).then_some(l),
                Node::Inner { left, right, .. } => {
                    node = if bit(key_hash, depth) { right } else { left };
                    depth += 1;
                }
            }
        }
    }

    /// Calls `f` with every leaf, in key-hash order. Stops at, and returns, the first error.
    pub fn for_each_leaf<'t, E>(
        &'t self,
        mut f: impl FnMut(&'t Leaf) -> Result<(), E>,
    ) -> Result<(), E> {
        fn walk<'t, E>(
            link: &'t Link,
            f: &mut impl FnMut(&'t Leaf) -> Result<(), E>,
        ) -> Result<(), E> {
            match link.as_deref() {
                None => Ok(()),
                Some(Node::Leaf(l)) => f(l),
                Some(Node::Inner { left, right, .. }) => {
                    walk(left, f)?;
                    walk(right, f)
                }
            }
        }
        walk(&self.root, &mut f)
    }

    /// A new version with `changes` applied; `self` is unchanged. When one key has several
    /// changes, the last one counts.
    pub fn with(&self, changes: Vec<Change>) -> Tree {
        let mut ops: Vec<Op> = changes
            .into_iter()
            .map(|c| match c {
                Change::Put(l) => Op {
                    key_hash: l.key_hash,
                    leaf: Some(Arc::new(Node::Leaf(l))),
                },
                Change::Delete(key_hash) => Op {
                    key_hash,
                    leaf: None,
                },
            })
            .collect();
        // A stable sort keeps each key's changes in order; the last one is kept.
        ops.sort_by_key(|op| op.key_hash);
        let mut distinct: Vec<Op> = Vec::with_capacity(ops.len());
        for op in ops {
            match distinct.last_mut() {
                Some(last) if last.key_hash == op.key_hash => *last = op,
                _ => distinct.push(op),
            }
        }
        Tree {
            root: apply(&self.root, 0, &distinct),
        }
    }

    /// The siblings on the path to `key_hash`, root first, and the leaf the path ends at
    /// (`None` at an empty subtree). The leaf may hold another key.
    fn path(&self, key_hash: &Digest32) -> (Vec<Digest32>, Option<&Leaf>) {
        let mut siblings = Vec::new();
        let mut node = &self.root;
        let mut depth = 0;
        loop {
            match node.as_deref() {
                None => return (siblings, None),
                Some(Node::Leaf(l)) => return (siblings, Some(l)),
                Some(Node::Inner { left, right, .. }) => {
                    let (next, other) = if bit(key_hash, depth) {
                        (right, left)
                    } else {
                        (left, right)
                    };
                    siblings.push(*hash_of(other));
                    node = next;
                    depth += 1;
                }
            }
        }
    }

    /// The leaves just below and just above `key_hash` in key-hash order (for an absent key).
    fn neighbours(&self, key_hash: &Digest32) -> (Option<&Leaf>, Option<&Leaf>) {
        fn extreme(mut link: &Link, rightmost: bool) -> Option<&Leaf> {
            loop {
                match link.as_deref()? {
                    Node::Leaf(l) => return Some(l),
                    Node::Inner { left, right, .. } => {
                        link = match (rightmost, left.is_some(), right.is_some()) {
                            (true, _, true) | (false, false, _) => right,
                            _ => left,
                        };
                    }
                }
            }
        }
        // The deepest subtrees wholly below and wholly above the key on its path.
        let (mut below, mut above): (&Link, &Link) = (&None, &None);
        let mut node = &self.root;
        let mut depth = 0;
        loop {
            match node.as_deref() {
                None => break,
                Some(Node::Leaf(l)) => {
                    if l.key_hash < *key_hash {
                        return (Some(l), extreme(above, false));
                    }
                    return (extreme(below, true), Some(l));
                }
                Some(Node::Inner { left, right, .. }) => {
                    if bit(key_hash, depth) {
                        if left.is_some() {
                            below = left;
                        }
                        node = right;
                    } else {
                        if right.is_some() {
                            above = right;
                        }
                        node = left;
                    }
                    depth += 1;
                }
            }
        }
        (extreme(below, true), extreme(above, false))
    }

    /// An ICS-23 proof of `key`'s value or absence, in jmt's format (verify with
    /// `jmt::ics23_spec()`), with the value if present.
    pub fn prove(
        &self,
        key: &[u8],
    ) -> Result<(Option<Vec<u8>>, ics23::CommitmentProof), TreeError> {
        use ics23::commitment_proof::Proof;
        let key_hash = hash(key);
        let exist = |leaf: &Leaf| {
            let (siblings, _) = self.path(&leaf.key_hash);
            existence_proof(leaf, &siblings)
        };
        if let (_, Some(l)) = self.path(&key_hash) {
            if l.key_hash == key_hash {
                return Ok((
                    Some(l.value().to_vec()),
                    ics23::CommitmentProof {
                        proof: Some(Proof::Exist(exist(l))),
                    },
                ));
            }
        }
        let (left, right) = self.neighbours(&key_hash);
        if left.is_none() && right.is_none() {
            return Err(TreeError::Empty);
        }
        let proof = ics23::NonExistenceProof {
            key: key.to_vec(),
            left: left.map(exist),
            right: right.map(exist),
        };
        Ok((
            None,
            ics23::CommitmentProof {
                proof: Some(Proof::Nonexist(proof)),
            },
        ))
    }
}

/// The ICS-23 existence proof of `leaf` under `siblings` (root first).
fn existence_proof(leaf: &Leaf, siblings: &[Digest32]) -> ics23::ExistenceProof {
    let path = siblings
        .iter()
        .enumerate()
        .rev()
        .map(|(depth, sibling)| {
            // hash(domain || left || right): the current node is the right child on a 1 bit.
            let (prefix, suffix) = if bit(&leaf.key_hash, depth) {
                ([INNER_DOMAIN, sibling.as_slice()].concat(), Vec::new())
            } else {
                (INNER_DOMAIN.to_vec(), sibling.to_vec())
            };
            ics23::InnerOp {
                hash: ics23::HashOp::Sha256.into(),
                prefix,
                suffix,
            }
        })
        .collect();
    ics23::ExistenceProof {
        key: leaf.key().to_vec(),
        value: leaf.value().to_vec(),
        leaf: Some(ics23::LeafOp {
            hash: ics23::HashOp::Sha256.into(),
            prehash_key: ics23::HashOp::Sha256.into(),
            prehash_value: ics23::HashOp::Sha256.into(),
            length: ics23::LengthOp::NoPrefix.into(),
            prefix: LEAF_DOMAIN.to_vec(),
        }),
        path,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jmt::storage::{HasPreimage, LeafNode, Node as JmtNode, NodeKey, TreeReader};
    use jmt::{KeyHash, OwnedValue, Sha256Jmt, Version};
    use proptest::prelude::*;
    use prost::Message;
    use std::collections::{BTreeMap, HashMap};

    /// One batch of changes: key → new value (`None` deletes).
    type Batch = Vec<(Vec<u8>, Option<Vec<u8>>)>;
    /// Key → value.
    type State = BTreeMap<Vec<u8>, Vec<u8>>;

    /// jmt over memory: the oracle this tree must agree with.
    #[derive(Default)]
    struct Oracle {
        nodes: HashMap<NodeKey, JmtNode>,
        values: HashMap<KeyHash, Vec<(Version, Option<OwnedValue>)>>,
        preimages: HashMap<KeyHash, Vec<u8>>,
    }

    impl TreeReader for Oracle {
        fn get_node_option(&self, key: &NodeKey) -> anyhow::Result<Option<JmtNode>> {
            Ok(self.nodes.get(key).cloned())
        }
        fn get_value_option(
            &self,
            max: Version,
            key_hash: KeyHash,
        ) -> anyhow::Result<Option<OwnedValue>> {
            Ok(self
                .values
                .get(&key_hash)
                .and_then(|vs| vs.iter().rev().find(|(v, _)| *v <= max))
                .and_then(|(_, value)| value.clone()))
        }
        fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
            Err(anyhow::anyhow!("not needed"))
        }
    }

    impl HasPreimage for Oracle {
        fn preimage(&self, key_hash: KeyHash) -> anyhow::Result<Option<Vec<u8>>> {
            Ok(self.preimages.get(&key_hash).cloned())
        }
    }

    impl Oracle {
        fn commit(&mut self, version: Version, batch: &Batch) -> Digest32 {
            let set: Vec<_> = batch
                .iter()
                .map(|(k, v)| {
                    let kh = KeyHash::with::<Sha256>(k);
                    self.preimages.insert(kh, k.clone());
                    (kh, v.clone())
                })
                .collect();
            let (root, update) = Sha256Jmt::new(&*self).put_value_set(set, version).unwrap();
            for (k, n) in update.node_batch.nodes() {
                self.nodes.insert(k.clone(), n.clone());
            }
            for ((v, kh), value) in update.node_batch.values() {
                self.values
                    .entry(*kh)
                    .or_default()
                    .push((*v, value.clone()));
            }
            root.0
        }
    }

    fn changes(batch: &Batch) -> Vec<Change> {
        batch
            .iter()
            .map(|(k, v)| match v {
                Some(v) => Change::Put(Leaf::new(k, v)),
                None => Change::Delete(hash(k)),
            })
            .collect()
    }

    fn key(i: u8) -> Vec<u8> {
        // Short keys, some prefixes of others, and the empty key.
        b"k/abcdefgh"[..(i % 11) as usize]
            .iter()
            .copied()
            .chain([i])
            .collect()
    }

    /// ICS-23 verification of `p` for `key` (and `value`, `None` for absence) against
    /// `root`, with jmt's proof spec.
    pub(crate) fn verifies(
        root: &Digest32,
        key: &[u8],
        value: Option<&[u8]>,
        p: &ics23::CommitmentProof,
    ) -> bool {
        let (spec, root) = (jmt::ics23_spec(), root.to_vec());
        match value {
            Some(v) => {
                ics23::verify_membership::<ics23::HostFunctionsManager>(p, &spec, &root, key, v)
            }
            None => {
                ics23::verify_non_membership::<ics23::HostFunctionsManager>(p, &spec, &root, key)
            }
        }
    }

    /// Batches of puts and deletes over a small key space (so keys come back, and trees
    /// shrink to one leaf and grow again). Values are never empty: ICS-23 cannot prove an
    /// empty value (the ledger stores none).
    fn batches() -> impl Strategy<Value = Vec<Batch>> {
        let change = (
            0u8..48,
            prop::option::weighted(0.7, prop::collection::vec(any::<u8>(), 1..4)),
        )
            .prop_map(|(k, v)| (key(k), v));
        prop::collection::vec(prop::collection::vec(change, 1..24), 1..10)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

        /// After every batch: the same root as jmt, and for every key (present or not) the
        /// same value and byte-identical ICS-23 proof, which verifies against this root and
        /// no other. Older versions stay intact after newer ones are made.
        #[test]
        fn agrees_with_jmt_on_roots_and_proofs(batches in batches()) {
            let mut oracle = Oracle::default();
            let mut versions: Vec<(Tree, State)> = Vec::new();
            let mut tree = Tree::default();
            let mut state = BTreeMap::new();
            for (version, batch) in batches.iter().enumerate() {
                // jmt rejects a batch naming one key twice; the tree keeps the last change.
                let mut last: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
                for (k, v) in batch {
                    last.insert(k.clone(), v.clone());
                }
                let batch: Vec<_> = last.into_iter().collect();
                let expected = oracle.commit(version as Version, &batch);
                tree = tree.with(changes(&batch));
                prop_assert_eq!(tree.root_hash(), expected);
                for (k, v) in &batch {
                    match v {
                        Some(v) => state.insert(k.clone(), v.clone()),
                        None => state.remove(k),
                    };
                }
                prop_assert_eq!(tree.len(), state.len());
                versions.push((tree.clone(), state.clone()));
            }
            let reader = Sha256Jmt::new(&oracle);
            for (version, (tree, state)) in versions.iter().enumerate() {
                let root = tree.root_hash();
                for i in 0..60u8 {
                    let k = key(i);
                    let ours = tree.prove(&k);
                    prop_assert_eq!(tree.get(&k), state.get(&k).map(Vec::as_slice));
                    let theirs = reader.get_with_ics23_proof(k.clone(), version as Version);
                    match (ours, theirs) {
                        (Ok((value, proof)), Ok((jvalue, jproof))) => {
                            prop_assert_eq!(&value, &jvalue);
                            prop_assert_eq!(value.as_ref(), state.get(&k));
                            prop_assert_eq!(proof.encode_to_vec(), jproof.encode_to_vec());
                            prop_assert!(verifies(&root, &k, value.as_deref(), &proof));
                            prop_assert!(!verifies(&PLACEHOLDER, &k, value.as_deref(), &proof));
                        }
                        (Err(e), Err(_)) => prop_assert_eq!(e, TreeError::Empty),
                        (ours, theirs) => prop_assert!(false, "ours {:?}, jmt {:?}", ours.is_ok(), theirs.is_ok()),
                    }
                }
            }
        }

        /// The shape is canonical: the same final set gives the same root whatever the order
        /// and grouping of the updates that led to it.
        #[test]
        fn the_root_depends_only_on_the_final_set(batches in batches()) {
            let mut stepwise = Tree::default();
            let mut state = BTreeMap::new();
            for batch in &batches {
                stepwise = stepwise.with(changes(batch));
                for (k, v) in batch {
                    match v {
                        Some(v) => state.insert(k.clone(), v.clone()),
                        None => state.remove(k),
                    };
                }
            }
            let mut leaves: Vec<Leaf> = state.iter().map(|(k, v)| Leaf::new(k, v)).collect();
            leaves.reverse();
            prop_assert_eq!(Tree::from_leaves(leaves).root_hash(), stepwise.root_hash());
        }
    }

    #[test]
    fn the_empty_tree_has_the_placeholder_root_and_no_proofs() {
        let tree = Tree::default();
        assert_eq!(tree.root_hash(), PLACEHOLDER);
        assert!(tree.is_empty());
        let proof = tree.prove(b"a");
        assert_eq!(tree.get(b"a"), None);
        assert_eq!(proof.err(), Some(TreeError::Empty));
    }
}
