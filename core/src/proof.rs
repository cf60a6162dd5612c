//! Merkle proofs of ledger state against an app hash, and the client-side checks.
//!
//! Proofs are ICS-23 commitment proofs in the Jellyfish Merkle tree's format (see
//! ADR 0002 and ADR 0010): membership for a present key, non-membership for an absent one.
//!
//! **Completeness.** A holding list cannot be proven complete by proving its members alone:
//! a node could simply leave one out. So every account record (itself proven) carries the
//! number of pieces the account holds and of offers to and from it, and every certificate
//! carries the number of pieces ever created under it. A client accepts a list only if it
//! contains exactly that many distinct, individually proven pieces that each satisfy the
//! relation (held by the account, offered to it, …). Omitting or substituting a piece makes
//! the check fail.

use crate::codec;
use crate::crypto::{hex, Address, Hash32};
use crate::keys;
use crate::ledger::Ledger;
use crate::store::StoreError;
use crate::types::{Account, Piece, PieceStatus, RootRecord};
use borsh::{BorshDeserialize, BorshSerialize};
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A key, its value (or absence) and an ICS-23 proof of that against an app hash.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct StateProof {
    /// State key.
    pub key: Vec<u8>,
    /// Value, or `None` if the key is absent.
    pub value: Option<Vec<u8>>,
    /// Protobuf-encoded `ics23.CommitmentProof`.
    pub proof: Vec<u8>,
    /// Version (block height) the proof is for.
    pub version: u64,
}

/// Why a proof or proven list was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof bytes are not a valid ICS-23 proof.
    #[error("malformed proof for key {key}")]
    Malformed {
        /// Hex of the key.
        key: String,
    },
    /// The proof is for a different key than the one asked about.
    #[error("proof is for another key")]
    WrongKey,
    /// The proof does not lead to the trusted app hash.
    #[error("proof does not match the app hash")]
    Mismatch,
    /// The proven value does not decode.
    #[error("proven value does not decode: {reason}")]
    BadValue {
        /// Decoder message.
        reason: String,
    },
    /// A piece in a list does not satisfy the list's relation.
    #[error("piece {piece} does not belong in this list")]
    Unrelated {
        /// Piece.
        piece: Hash32,
    },
    /// The same piece appears twice in a list.
    #[error("piece {piece} appears twice")]
    Duplicate {
        /// Piece.
        piece: Hash32,
    },
    /// The list has fewer or more pieces than the proven count: something is hidden or added.
    #[error(
        "list has {got} pieces but the ledger proves {expected}: the list is incomplete or padded"
    )]
    Incomplete {
        /// Proven count.
        expected: u32,
        /// Pieces received.
        got: usize,
    },
    /// A piece the list needs is proven absent.
    #[error("a listed piece is absent from the state")]
    Absent,
}

impl StateProof {
    /// Verifies the proof against `app_hash` for the expected `key`; returns the proven value.
    pub fn verify(&self, app_hash: &Hash32, key: &[u8]) -> Result<Option<&[u8]>, ProofError> {
        if self.key != key {
            return Err(ProofError::WrongKey);
        }
        let proof = ics23::CommitmentProof::decode(self.proof.as_slice())
            .map_err(|_| ProofError::Malformed { key: hex(key) })?;
        let spec = jmt::ics23_spec();
        let root = app_hash.0.to_vec();
        let ok = match &self.value {
            Some(v) => ics23::verify_membership::<ics23::HostFunctionsManager>(
                &proof, &spec, &root, key, v,
            ),
            None => ics23::verify_non_membership::<ics23::HostFunctionsManager>(
                &proof, &spec, &root, key,
            ),
        };
        if !ok {
            return Err(ProofError::Mismatch);
        }
        Ok(self.value.as_deref())
    }

    /// Verifies and decodes a typed value.
    pub fn verify_typed<T: BorshDeserialize>(
        &self,
        app_hash: &Hash32,
        key: &[u8],
    ) -> Result<Option<T>, ProofError> {
        match self.verify(app_hash, key)? {
            Some(bytes) => {
                codec::decode_stored(bytes)
                    .map(Some)
                    .map_err(|e| ProofError::BadValue {
                        reason: e.to_string(),
                    })
            }
            None => Ok(None),
        }
    }
}

/// Which accounts' list a set of pieces is claimed to be.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub enum ListKind {
    /// Pieces the account holds.
    Holdings,
    /// Offers addressed to the account.
    OffersIn,
    /// Offers the account made.
    OffersOut,
}

/// A list of pieces of one account with the proofs needed to check it is complete.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AccountListProof {
    /// Which list.
    pub kind: ListKind,
    /// Account.
    pub account: Address,
    /// Proof of the account record (with the counts).
    pub account_proof: StateProof,
    /// Piece ids and their proofs.
    pub pieces: Vec<(Hash32, StateProof)>,
}

/// The lineage of a certificate with the proofs needed to check it is complete.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct LineageProof {
    /// Certificate.
    pub root: Hash32,
    /// Proof of the certificate record (with its piece count).
    pub root_proof: StateProof,
    /// Every piece and its proof.
    pub pieces: Vec<(Hash32, StateProof)>,
}

fn belongs(kind: ListKind, account: &Address, p: &Piece) -> bool {
    match (kind, &p.status) {
        (ListKind::Holdings, s) => s.is_held() && p.holder == *account,
        (ListKind::OffersIn, PieceStatus::Pending { .. }) => p.holder == *account,
        (ListKind::OffersIn, PieceStatus::FinancingRequested { financier, .. }) => {
            financier == account
        }
        (ListKind::OffersOut, PieceStatus::Pending { from, .. }) => from == account,
        (ListKind::OffersOut, PieceStatus::FinancingRequested { .. }) => p.holder == *account,
        _ => false,
    }
}

fn verify_pieces(
    app_hash: &Hash32,
    pieces: &[(Hash32, StateProof)],
    mut related: impl FnMut(&Piece) -> bool,
) -> Result<Vec<(Hash32, Piece)>, ProofError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(pieces.len());
    for (id, proof) in pieces {
        if !seen.insert(*id) {
            return Err(ProofError::Duplicate { piece: *id });
        }
        let piece: Piece = proof
            .verify_typed(app_hash, &keys::piece(id))?
            .ok_or(ProofError::Absent)?;
        if !related(&piece) {
            return Err(ProofError::Unrelated { piece: *id });
        }
        out.push((*id, piece));
    }
    Ok(out)
}

impl AccountListProof {
    /// Checks every proof and that the list is complete; returns the verified pieces.
    ///
    /// This proves the list of the account and kind the proof names, not that it answers
    /// the question asked; a client checking a node's answer uses
    /// [`AccountListProof::verify_for`].
    pub fn verify(&self, app_hash: &Hash32) -> Result<Vec<(Hash32, Piece)>, ProofError> {
        let account: Account = self
            .account_proof
            .verify_typed(app_hash, &keys::account(&self.account))?
            .unwrap_or_default();
        let expected = match self.kind {
            ListKind::Holdings => account.holdings,
            ListKind::OffersIn => account.offers_in,
            ListKind::OffersOut => account.offers_out,
        };
        let pieces = verify_pieces(app_hash, &self.pieces, |p| {
            belongs(self.kind, &self.account, p)
        })?;
        if pieces.len() != expected as usize {
            return Err(ProofError::Incomplete {
                expected,
                got: pieces.len(),
            });
        }
        Ok(pieces)
    }

    /// [`AccountListProof::verify`] for the answer to a question about `account`'s `kind`
    /// list: the list must also *be* that list. `verify` alone proves the list the answer
    /// names, so a node asked for A's holdings could answer with another account's genuine,
    /// complete list (an empty one hides all of A's pieces) or with A's offers; a client
    /// that checks the answer against its question uses this.
    pub fn verify_for(
        &self,
        app_hash: &Hash32,
        account: &Address,
        kind: ListKind,
    ) -> Result<Vec<(Hash32, Piece)>, ProofError> {
        if self.account != *account || self.kind != kind {
            return Err(ProofError::WrongKey);
        }
        self.verify(app_hash)
    }
}

impl LineageProof {
    /// Checks every proof and that the lineage is complete; returns the certificate and pieces.
    ///
    /// This proves the lineage of the certificate the proof names; a client checking a
    /// node's answer uses [`LineageProof::verify_for`].
    pub fn verify(
        &self,
        app_hash: &Hash32,
    ) -> Result<(RootRecord, Vec<(Hash32, Piece)>), ProofError> {
        let root: RootRecord = self
            .root_proof
            .verify_typed(app_hash, &keys::root(&self.root))?
            .ok_or(ProofError::Absent)?;
        let pieces = verify_pieces(app_hash, &self.pieces, |p| p.root == self.root)?;
        if pieces.len() != root.piece_count as usize {
            return Err(ProofError::Incomplete {
                expected: root.piece_count,
                got: pieces.len(),
            });
        }
        Ok((root, pieces))
    }

    /// [`LineageProof::verify`] for the answer to a question about certificate `root`: the
    /// proof must also be that certificate's (another certificate's lineage verifies on its
    /// own).
    pub fn verify_for(
        &self,
        app_hash: &Hash32,
        root: &Hash32,
    ) -> Result<(RootRecord, Vec<(Hash32, Piece)>), ProofError> {
        if self.root != *root {
            return Err(ProofError::WrongKey);
        }
        self.verify(app_hash)
    }
}

impl Ledger {
    /// Proves the value (or absence) of a state key at the last committed version.
    pub fn prove(&self, key: &[u8]) -> Result<StateProof, StoreError> {
        let version = self.committed().map_or(0, |c| c.version);
        let (value, proof) = self.snapshot().prove(key)?;
        Ok(StateProof {
            key: key.to_vec(),
            value,
            proof: proof.encode_to_vec(),
            version,
        })
    }

    /// Proves a piece (or its absence).
    pub fn prove_piece(&self, id: &Hash32) -> Result<StateProof, StoreError> {
        self.prove(&keys::piece(id))
    }

    /// An account's list (holdings or offers) with completeness proof.
    pub fn prove_account_list(
        &self,
        account: &Address,
        kind: ListKind,
    ) -> Result<AccountListProof, StoreError> {
        let listed = match kind {
            ListKind::Holdings => self.holdings(account)?,
            ListKind::OffersIn => self.offers_in(account)?,
            ListKind::OffersOut => self.offers_out(account)?,
        };
        let pieces = listed
            .iter()
            .map(|(id, _)| Ok((*id, self.prove_piece(id)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(AccountListProof {
            kind,
            account: *account,
            account_proof: self.prove(&keys::account(account))?,
            pieces,
        })
    }

    /// A certificate's lineage with completeness proof.
    pub fn prove_lineage(&self, root: &Hash32) -> Result<LineageProof, StoreError> {
        let pieces = self
            .lineage(root)?
            .iter()
            .map(|(id, _)| Ok((*id, self.prove_piece(id)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(LineageProof {
            root: *root,
            root_proof: self.prove(&keys::root(root))?,
            pieces,
        })
    }
}
