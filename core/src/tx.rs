//! Signed transactions.
//!
//! Wire format: the canonical borsh encoding of [`SignedTx`]. Decoding rejects any byte
//! string that is not the unique encoding of its value (see `codec.rs`), signatures are
//! low-S and domain separated, and the transaction hash is SHA-256 of the wire bytes.
//! Verification is split from execution ([`DecodedTx::verify`] returns a [`VerifiedTx`]) so a
//! node can verify a signature once and cache the result between mempool and block execution.

use crate::codec::{self, DecodeError};
use crate::crypto::{
    self, Address, CryptoError, Hash32, PublicKeyBytes, SecretKey, SignatureBytes, SignerKey,
    ValidatorKey,
};
use crate::date::Day;
use crate::money::{Amount, Currency, Money};
use crate::pricing::AnnualRate;
use crate::types::{DocumentHash, Params, PieceId, Roles, RootId};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// One recipient of a split-transfer.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Output {
    /// Recipient (must be a registered, active supplier).
    pub to: Address,
    /// Face value transferred.
    pub amount: Amount,
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub enum TxBody {
    /// Operator: register a participant.
    RegisterParticipant {
        /// Key of the new participant.
        public_key: PublicKeyBytes,
        /// Roles granted.
        roles: Roles,
        /// Hash of the legal identity.
        legal_id_hash: Hash32,
    },
    /// Operator: change a participant's roles or (de)activate it.
    UpdateParticipant {
        /// Participant to change.
        address: Address,
        /// New roles.
        roles: Roles,
        /// Active flag.
        active: bool,
    },
    /// Financier or operator: set the limit of the credit line it grants an obligor.
    SetCreditLine {
        /// Obligor receiving the line.
        obligor: Address,
        /// Currency of the line.
        currency: Currency,
        /// New limit (not below what is in use).
        limit: Amount,
    },
    /// Buyer (the obligor): anchor a trade document by hash, confirming the debt.
    AnchorDocument {
        /// SHA-256 of the document.
        hash: DocumentHash,
        /// Amount of the invoice or contract.
        amount: Money,
        /// Buyer (the obligor).
        buyer: Address,
        /// Seller (the tier-1 supplier).
        seller: Address,
    },
    /// Operator: replace the ledger parameters.
    UpdateParams {
        /// New parameters.
        params: Params,
    },
    /// Obligor: issue a certificate to the document's seller (pending until accepted).
    Issue {
        /// Tier-1 supplier (must be the document's seller).
        to: Address,
        /// Face value.
        amount: Amount,
        /// Currency (must be the document's).
        currency: Currency,
        /// Maturity day.
        maturity: Day,
        /// Trade document backing it.
        document: DocumentHash,
        /// Grantor of the credit line to consume.
        credit_grantor: Address,
    },
    /// Recipient: accept a pending piece.
    Accept {
        /// Piece offered.
        piece: PieceId,
    },
    /// Recipient: refuse an offer (a pending piece or a financing request).
    Reject {
        /// Piece offered.
        piece: PieceId,
    },
    /// Sender: withdraw an offer before it is answered.
    Cancel {
        /// Piece offered.
        piece: PieceId,
    },
    /// Holder: split a piece and offer parts to suppliers; the rest comes back as change.
    Transfer {
        /// Piece to split.
        piece: PieceId,
        /// Recipients and amounts.
        outputs: Vec<Output>,
    },
    /// Holder: combine pieces of the same certificate into one.
    Merge {
        /// Pieces to combine (at least two, distinct).
        pieces: Vec<PieceId>,
    },
    /// Holder: ask a financier to discount `amount` of a piece at `rate`.
    RequestFinancing {
        /// Piece to finance.
        piece: PieceId,
        /// Financier asked.
        financier: Address,
        /// Face value to finance (the rest stays with the holder).
        amount: Amount,
        /// Annual discount rate.
        rate: AnnualRate,
    },
    /// Financier: accept a financing request; the piece becomes the financier's.
    AcceptFinancing {
        /// Piece whose financing was requested.
        piece: PieceId,
        /// Reference of the off-ledger payment of the proceeds.
        payment_reference: String,
    },
    /// Obligor: pay a certificate on or after maturity.
    Settle {
        /// Certificate to settle.
        root: RootId,
    },
    /// Anyone registered: mark a certificate overdue after maturity plus grace.
    MarkOverdue {
        /// Certificate.
        root: RootId,
    },
    /// Operator or auditor: freeze a piece.
    Freeze {
        /// Piece.
        piece: PieceId,
        /// Reason code.
        reason: u16,
    },
    /// Operator or auditor: lift a freeze.
    Unfreeze {
        /// Piece.
        piece: PieceId,
    },
    /// Operator: approve a consensus validator-set change. It takes effect (and becomes a
    /// CometBFT validator update) once a strict majority of active operators approved the
    /// same key and power. Power 0 removes the validator.
    ApproveValidatorChange {
        /// Ed25519 consensus key of the validator organisation.
        pub_key: ValidatorKey,
        /// New voting power (0 removes).
        power: u64,
    },
}

impl TxBody {
    /// Short name of the transaction kind (event attribute, logs).
    pub fn kind(&self) -> &'static str {
        match self {
            TxBody::RegisterParticipant { .. } => "register-participant",
            TxBody::UpdateParticipant { .. } => "update-participant",
            TxBody::SetCreditLine { .. } => "set-credit-line",
            TxBody::AnchorDocument { .. } => "anchor-document",
            TxBody::UpdateParams { .. } => "update-params",
            TxBody::Issue { .. } => "issue",
            TxBody::Accept { .. } => "accept",
            TxBody::Reject { .. } => "reject",
            TxBody::Cancel { .. } => "cancel",
            TxBody::Transfer { .. } => "transfer",
            TxBody::Merge { .. } => "merge",
            TxBody::RequestFinancing { .. } => "request-financing",
            TxBody::AcceptFinancing { .. } => "accept-financing",
            TxBody::Settle { .. } => "settle",
            TxBody::MarkOverdue { .. } => "mark-overdue",
            TxBody::Freeze { .. } => "freeze",
            TxBody::Unfreeze { .. } => "unfreeze",
            TxBody::ApproveValidatorChange { .. } => "approve-validator-change",
        }
    }
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Tx {
    /// Chain this transaction is for.
    pub chain_id: String,
    /// Signer's public key.
    pub signer: PublicKeyBytes,
    /// Signer's nonce: must equal the account's next nonce.
    pub nonce: u64,
    /// Last block height at which the transaction may be included.
    pub expiry_height: u64,
    /// What it does.
    pub body: TxBody,
}

impl Tx {
    /// The digest that is signed: `SHA-256(SIGN_DOMAIN || encode(tx))`.
    pub fn sign_digest(&self) -> [u8; 32] {
        crypto::sha256_parts(&[crypto::SIGN_DOMAIN, &codec::encode(self)])
    }

    /// Signs with `key` (which must match `signer`).
    pub fn sign(self, key: &SecretKey) -> SignedTx {
        let signature = key.sign_prehash(&self.sign_digest());
        SignedTx {
            tx: self,
            signature,
        }
    }
}

/// A transaction with its signature: the wire format.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTx {
    /// Signed content.
    pub tx: Tx,
    /// Low-S ECDSA signature over [`Tx::sign_digest`].
    pub signature: SignatureBytes,
}

impl SignedTx {
    /// The canonical wire bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }
}

/// Why transaction bytes were refused before touching state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxDecodeError {
    /// Larger than the configured maximum.
    #[error("transaction is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// Size received.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// Not a valid canonical encoding.
    #[error(transparent)]
    Encoding(#[from] DecodeError),
}

/// Decoded wire bytes whose signature has not been checked yet. Its parts are read-only, so
/// what [`DecodedTx::verify`] checks is what was decoded.
#[derive(Clone, Debug)]
pub struct DecodedTx {
    signed: SignedTx,
    hash: Hash32,
    size: usize,
    digest: [u8; 32],
}

impl DecodedTx {
    /// Decodes wire bytes (size limit first, then canonical decoding).
    pub fn decode(bytes: &[u8], max_bytes: usize) -> Result<DecodedTx, TxDecodeError> {
        if bytes.len() > max_bytes {
            return Err(TxDecodeError::TooLarge {
                size: bytes.len(),
                limit: max_bytes,
            });
        }
        let signed: SignedTx = codec::decode_canonical(bytes)?;
        // The bytes are the canonical encoding of `signed`: the encoding of its `tx` followed
        // by the 64 signature bytes. So the signed digest is taken from the bytes as they
        // are, instead of encoding the transaction a second time.
        let tx_bytes = &bytes[..bytes.len().saturating_sub(SignatureBytes::LEN)];
        Ok(DecodedTx {
            signed,
            hash: Hash32(crypto::sha256(bytes)),
            size: bytes.len(),
            digest: crypto::sha256_parts(&[crypto::SIGN_DOMAIN, tx_bytes]),
        })
    }

    /// The decoded transaction and signature.
    pub fn signed(&self) -> &SignedTx {
        &self.signed
    }

    /// SHA-256 of the wire bytes.
    pub fn hash(&self) -> Hash32 {
        self.hash
    }

    /// Length of the wire bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The digest the signature must cover ([`Tx::sign_digest`]).
    pub fn sign_digest(&self) -> [u8; 32] {
        self.digest
    }

    /// Checks the signature against the signer's key.
    pub fn verify(self) -> Result<VerifiedTx, CryptoError> {
        let key = SignerKey::parse(&self.signed.tx.signer)?;
        self.verify_with_key(&key)
    }

    /// Checks the signature with an already parsed key (callers cache parsed keys). A key
    /// other than the transaction's signer's does not verify it.
    pub fn verify_with_key(self, key: &SignerKey) -> Result<VerifiedTx, CryptoError> {
        if *key.bytes() != self.signed.tx.signer {
            return Err(CryptoError::BadSignature);
        }
        crypto::verify_prehash(key.verifying_key(), &self.digest, &self.signed.signature)?;
        Ok(VerifiedTx {
            tx: self.signed.tx,
            hash: self.hash,
            signer: key.address(),
            size: self.size,
        })
    }
}

/// A transaction whose encoding and signature have been checked. Only this type can be
/// executed, so no code path can apply an unverified transaction.
#[derive(Clone, Debug)]
pub struct VerifiedTx {
    tx: Tx,
    hash: Hash32,
    signer: Address,
    size: usize,
}

impl VerifiedTx {
    /// Content.
    pub fn tx(&self) -> &Tx {
        &self.tx
    }
    /// Hash of the wire bytes.
    pub fn hash(&self) -> Hash32 {
        self.hash
    }
    /// Address of the signer.
    pub fn signer(&self) -> Address {
        self.signer
    }
    /// Length of the wire bytes.
    pub fn size(&self) -> usize {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &SecretKey) -> SignedTx {
        Tx {
            chain_id: "t".into(),
            signer: key.public_key(),
            nonce: 0,
            expiry_height: 10,
            body: TxBody::Accept {
                piece: Hash32([7; 32]),
            },
        }
        .sign(key)
    }

    #[test]
    fn decode_verify_round_trip() {
        let key = SecretKey::from_seed(b"k");
        let bytes = sample(&key).to_bytes();
        let v = DecodedTx::decode(&bytes, 4096).unwrap().verify().unwrap();
        assert_eq!(v.signer(), key.address());
        assert_eq!(v.hash().0, crypto::sha256(&bytes));
    }

    /// The digest taken from the wire bytes at decoding is the one a signer signs.
    #[test]
    fn the_decoded_digest_is_the_signed_one() {
        let key = SecretKey::from_seed(b"k");
        let signed = sample(&key);
        let decoded = DecodedTx::decode(&signed.to_bytes(), 4096).unwrap();
        assert_eq!(decoded.sign_digest(), signed.tx.sign_digest());
        assert_eq!(decoded.signed(), &signed);
    }

    /// A cached key that is not the signer's does not verify the transaction, even though
    /// the signature is valid for the signer's key.
    #[test]
    fn another_signers_key_does_not_verify() {
        let key = SecretKey::from_seed(b"k");
        let other = SignerKey::parse(&SecretKey::from_seed(b"other").public_key()).unwrap();
        let decoded = DecodedTx::decode(&sample(&key).to_bytes(), 4096).unwrap();
        assert_eq!(
            decoded.clone().verify_with_key(&other).unwrap_err(),
            CryptoError::BadSignature
        );
        let own = SignerKey::parse(&key.public_key()).unwrap();
        assert_eq!(
            decoded.verify_with_key(&own).unwrap().signer(),
            key.address()
        );
    }

    #[test]
    fn tampering_breaks_signature() {
        let key = SecretKey::from_seed(b"k");
        let mut s = sample(&key);
        s.tx.nonce = 1;
        let bytes = s.to_bytes();
        assert_eq!(
            DecodedTx::decode(&bytes, 4096)
                .unwrap()
                .verify()
                .unwrap_err(),
            CryptoError::BadSignature
        );
    }

    #[test]
    fn size_limit_is_checked_first() {
        let err = DecodedTx::decode(&[0u8; 100], 50).unwrap_err();
        assert_eq!(
            err,
            TxDecodeError::TooLarge {
                size: 100,
                limit: 50
            }
        );
    }
}
