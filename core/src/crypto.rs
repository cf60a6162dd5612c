//! Keys, addresses and domain-separated secp256k1 ECDSA signatures.
//!
//! - An account is a compressed SEC1 public key (33 bytes); its [`Address`] is the first
//!   20 bytes of SHA-256 of that key.
//! - A signature covers `SHA-256(SIGN_DOMAIN || encoded transaction)`, chain id included, so
//!   it is valid on one chain only; the domain tag keeps a Cascade signature from ever
//!   being valid for another protocol.
//! - Only low-S signatures are accepted, so a signature cannot be re-shaped into a second
//!   valid one (ECDSA's (r, s) / (r, n−s) malleability).
//! - Secret keys live in [`SecretKey`], which zeroizes on drop and never prints itself.

use borsh::{BorshDeserialize, BorshSerialize};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature as K256Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

/// Domain tag prefixed to every signed transaction digest.
pub const SIGN_DOMAIN: &[u8] = b"cascade/tx/v1\0";

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 over several parts, without building a concatenated buffer.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Lower-case hex of any bytes (index keys, proof keys, raw messages in errors and logs).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses lower- or upper-case hex into exactly `N` bytes.
pub fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    if text.len() != N * 2 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

macro_rules! hex_bytes_type {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Parses hex (optionally `0x`-prefixed).
            pub fn from_hex(text: &str) -> Option<Self> {
                parse_hex::<$len>(text).map(Self)
            }
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
            /// Lower-case hex.
            pub fn to_hex(&self) -> String {
                self.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "("))?;
                write_hex(f, &self.0[..6])?;
                write!(f, "…)")
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as Deserialize>::deserialize(d)?;
                Self::from_hex(&s).ok_or_else(|| serde::de::Error::custom(concat!("invalid ", stringify!($name))))
            }
        }
    };
}

hex_bytes_type!(
    /// An account address: the first 20 bytes of SHA-256 of the compressed public key.
    Address, 20
);
hex_bytes_type!(
    /// A 32-byte SHA-256 digest (transaction hashes, document hashes, identity hashes).
    Hash32, 32
);
hex_bytes_type!(
    /// A compressed SEC1 secp256k1 public key.
    PublicKeyBytes, 33
);
hex_bytes_type!(
    /// A consensus validator's Ed25519 public key (CometBFT's validator key type).
    ValidatorKey, 32
);

impl ValidatorKey {
    /// True if the bytes decode to an Ed25519 point CometBFT will accept.
    pub fn is_valid(&self) -> bool {
        ed25519_consensus::VerificationKey::try_from(self.0).is_ok()
    }
}

/// A 64-byte compact ECDSA signature `r || s`. Serialized as hex.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignatureBytes(pub [u8; 64]);

impl SignatureBytes {
    /// Length in bytes, encoded as well as in memory (borsh writes the array as it is).
    pub const LEN: usize = 64;
}

impl fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureBytes(")?;
        write_hex(f, &self.0[..6])?;
        write!(f, "…)")
    }
}

/// Why a public key or signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The public key is not a valid compressed secp256k1 point.
    #[error("public key is not a valid compressed secp256k1 point")]
    InvalidPublicKey,
    /// The signature bytes are not a valid (r, s) pair.
    #[error("signature is not a valid ECDSA (r, s) pair")]
    MalformedSignature,
    /// `s` is in the upper half of the group order; only low-S signatures are accepted.
    #[error("signature has a high S value; only low-S signatures are accepted")]
    HighS,
    /// The signature does not verify for this key and message.
    #[error("signature does not verify")]
    BadSignature,
    /// A secret key was out of range (zero or not below the group order).
    #[error("secret key is out of range")]
    InvalidSecretKey,
}

impl PublicKeyBytes {
    /// The address of this key.
    pub fn address(&self) -> Address {
        let digest = sha256(&self.0);
        let mut a = [0u8; 20];
        a.copy_from_slice(&digest[..20]);
        Address(a)
    }

    /// Parses the key as a curve point (compressed form only: one encoding per key).
    pub fn verifying_key(&self) -> Result<VerifyingKey, CryptoError> {
        if self.0[0] != 0x02 && self.0[0] != 0x03 {
            return Err(CryptoError::InvalidPublicKey);
        }
        VerifyingKey::from_sec1_bytes(&self.0).map_err(|_| CryptoError::InvalidPublicKey)
    }
}

/// A signer's public key parsed, with its address: what verifying a transaction needs of
/// the key. Parsing the point and hashing the key cost a noticeable share of a
/// verification, so callers keep these in a cache; a `SignerKey` is made only from the
/// key's bytes, so its parts always belong together.
#[derive(Clone, Copy, Debug)]
pub struct SignerKey {
    bytes: PublicKeyBytes,
    key: VerifyingKey,
    address: Address,
}

impl SignerKey {
    /// Parses `bytes` (see [`PublicKeyBytes::verifying_key`]).
    pub fn parse(bytes: &PublicKeyBytes) -> Result<SignerKey, CryptoError> {
        Ok(SignerKey {
            bytes: *bytes,
            key: bytes.verifying_key()?,
            address: bytes.address(),
        })
    }

    /// The key's bytes.
    pub fn bytes(&self) -> &PublicKeyBytes {
        &self.bytes
    }

    /// The parsed point.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The key's address.
    pub fn address(&self) -> Address {
        self.address
    }
}

/// Verifies a low-S signature over a 32-byte prehashed digest.
pub fn verify_prehash(
    key: &VerifyingKey,
    digest: &[u8; 32],
    sig: &SignatureBytes,
) -> Result<(), CryptoError> {
    let sig = K256Signature::from_slice(&sig.0).map_err(|_| CryptoError::MalformedSignature)?;
    if sig.normalize_s().is_some() {
        return Err(CryptoError::HighS);
    }
    key.verify_prehash(digest, &sig)
        .map_err(|_| CryptoError::BadSignature)
}

/// A secp256k1 secret key. Zeroized on drop; `Debug` never shows the key.
pub struct SecretKey {
    inner: SigningKey,
}

impl SecretKey {
    /// Builds a key from 32 secret bytes (which the caller should zeroize too).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<SecretKey, CryptoError> {
        SigningKey::from_slice(bytes)
            .map(|inner| SecretKey { inner })
            .map_err(|_| CryptoError::InvalidSecretKey)
    }

    /// Derives a key deterministically from a seed phrase or label: for tests and demos only
    /// (a real wallet uses BIP-39 derivation). Retries with a counter in the negligible
    /// case that the hash is not a valid scalar.
    pub fn from_seed(seed: &[u8]) -> SecretKey {
        let mut counter: u32 = 0;
        loop {
            let digest = Zeroizing::new(sha256_parts(&[
                b"cascade/seed-key\0",
                seed,
                &counter.to_be_bytes(),
            ]));
            if let Ok(key) = SecretKey::from_bytes(&digest) {
                return key;
            }
            counter += 1;
        }
    }

    /// The compressed public key.
    pub fn public_key(&self) -> PublicKeyBytes {
        let point = self.inner.verifying_key().to_encoded_point(true);
        let mut out = [0u8; 33];
        out.copy_from_slice(point.as_bytes());
        PublicKeyBytes(out)
    }

    /// The address of this key.
    pub fn address(&self) -> Address {
        self.public_key().address()
    }

    /// Signs a 32-byte digest (RFC 6979 deterministic nonce), returning a low-S signature.
    pub fn sign_prehash(&self, digest: &[u8; 32]) -> SignatureBytes {
        use k256::ecdsa::signature::hazmat::PrehashSigner;
        // Signing a 32-byte prehash with a valid key cannot fail for secp256k1.
        let sig: K256Signature = match self.inner.sign_prehash(digest) {
            Ok(sig) => sig,
            Err(_) => unreachable!("k256 prehash signing of 32 bytes is infallible"),
        };
        let sig = sig.normalize_s().unwrap_or(sig);
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig.to_bytes());
        SignatureBytes(out)
    }

    /// Exports the secret scalar. Only for callers that explicitly export a key; the
    /// result zeroizes itself when dropped.
    pub fn export_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.inner.to_bytes().into())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(address {}, secret redacted)", self.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_low_s() {
        let key = SecretKey::from_seed(b"alice");
        let digest = sha256(b"message");
        let sig = key.sign_prehash(&digest);
        let vk = key.public_key().verifying_key().unwrap();
        verify_prehash(&vk, &digest, &sig).unwrap();
        assert_eq!(
            verify_prehash(&vk, &sha256(b"other"), &sig),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn high_s_is_rejected() {
        let key = SecretKey::from_seed(b"alice");
        let digest = sha256(b"message");
        let sig = K256Signature::from_slice(&key.sign_prehash(&digest).0).unwrap();
        // Flip s to n - s: same (r, s) pair in high form, which plain ECDSA would accept.
        let high = K256Signature::from_scalars(sig.r(), -*sig.s()).unwrap();
        let mut bytes = [0u8; 64];
        bytes.copy_from_slice(&high.to_bytes());
        let vk = key.public_key().verifying_key().unwrap();
        assert_eq!(
            verify_prehash(&vk, &digest, &SignatureBytes(bytes)),
            Err(CryptoError::HighS)
        );
    }

    #[test]
    fn uncompressed_or_invalid_keys_are_rejected() {
        let mut pk = SecretKey::from_seed(b"bob").public_key();
        pk.0[0] = 0x04;
        assert_eq!(
            pk.verifying_key().unwrap_err(),
            CryptoError::InvalidPublicKey
        );
        // x = 2^256 - 1 is not below the field prime, so no point has it.
        let mut beyond_field = [0xffu8; 33];
        beyond_field[0] = 0x02;
        assert_eq!(
            PublicKeyBytes(beyond_field).verifying_key().unwrap_err(),
            CryptoError::InvalidPublicKey
        );
        assert!(SecretKey::from_bytes(&[0u8; 32]).is_err());
    }

    #[test]
    fn debug_never_shows_secret() {
        let key = SecretKey::from_seed(b"carol");
        let secret_hex: String = key
            .export_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let shown = format!("{key:?}");
        assert!(!shown.contains(&secret_hex));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn hex_round_trip() {
        let a = SecretKey::from_seed(b"dave").address();
        assert_eq!(Address::from_hex(&a.to_hex()), Some(a));
        assert_eq!(Address::from_hex("zz"), None);
    }
}
