//! Wallet keys: generation, BIP-39 backup, BIP-32 derivation, encryption at rest, and the
//! [`Signer`] seam through which a host app can keep its key in its own secure storage.
//!
//! # Derivation path
//! A Cascade account key is the secp256k1 key at **`m/44'/7731'/0'/0/{index}`** of the BIP-32
//! tree seeded by the BIP-39 mnemonic (and optional passphrase). `7731` is Cascade's coin type
//! (not registered in SLIP-44; chosen so a phrase used for another chain never yields the
//! same key here). The account address is derived from the public key as everywhere else
//! (`crypto::PublicKeyBytes::address`).
//!
//! # At rest
//! A stored key is sealed with ChaCha20-Poly1305 under a key derived (HKDF-SHA256, salted per
//! key) from a secret the host supplies — on Android from the Keystore, on iOS from the
//! Keychain. The library never persists that secret; without it the sealed bytes are noise.
//!
//! Secrets live in zeroizing containers, and no type here prints a secret in `Debug`.

use crate::crypto::{PublicKeyBytes, SecretKey, SignatureBytes};
use bip32::{DerivationPath, XPrv};
use bip39::Mnemonic;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Cascade's BIP-44 coin type.
pub const COIN_TYPE: u32 = 7731;

/// The derivation path of account `index`.
pub fn derivation_path(index: u32) -> String {
    format!("m/44'/{COIN_TYPE}'/0'/0/{index}")
}

/// Why a key operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The phrase is not a valid English BIP-39 mnemonic (wrong word, count or checksum).
    #[error("the recovery phrase is not valid: check every word and the word count (12 or 24)")]
    InvalidMnemonic,
    /// The bytes are not a valid secp256k1 secret key.
    #[error("not a valid secp256k1 secret key")]
    InvalidSecretKey,
    /// BIP-32 derivation failed (practically unreachable).
    #[error("key derivation failed")]
    Derivation,
    /// The host secret used to seal the key must be at least 16 bytes.
    #[error("the storage secret must be at least 16 bytes (got {len})")]
    WeakStorageSecret {
        /// Length given.
        len: usize,
    },
    /// The sealed key could not be opened: wrong storage secret or altered bytes.
    #[error("the stored key could not be decrypted: wrong storage secret or corrupted data")]
    Decrypt,
    /// The sealed key has an unknown format version.
    #[error("stored key format {version} is not supported")]
    UnsupportedFormat {
        /// Version found.
        version: u8,
    },
    /// A host-supplied signer failed.
    #[error("the signer failed: {reason}")]
    Signer {
        /// The host's message.
        reason: String,
    },
}

/// Something that can sign Cascade transactions. The wallet only ever asks for signatures
/// over 32-byte transaction digests (domain-separated, see `tx::Tx::sign_digest`).
///
/// Implement it in the host app to keep the key in hardware-backed storage; the signature
/// must be a 64-byte compact secp256k1 ECDSA signature (`r || s`). High-S signatures are
/// normalised by the wallet before broadcast.
pub trait Signer: Send + Sync {
    /// The compressed public key.
    fn public_key(&self) -> PublicKeyBytes;
    /// Signs a 32-byte digest.
    fn sign_digest(&self, digest: &[u8; 32]) -> Result<SignatureBytes, KeyError>;
}

/// A key held by the library, in memory, zeroized on drop.
pub struct LocalKey {
    secret: SecretKey,
}

impl std::fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalKey({})", self.secret.address())
    }
}

/// A freshly generated key with its recovery phrase (show it to the user once, then drop it).
pub struct NewKey {
    /// The key (account 0 of the phrase).
    pub key: LocalKey,
    /// The 24-word BIP-39 phrase; zeroized on drop.
    pub phrase: Zeroizing<String>,
}

impl LocalKey {
    /// Generates a new 24-word phrase from the OS random source and derives account 0.
    pub fn generate() -> Result<NewKey, KeyError> {
        let mut entropy = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(entropy.as_mut());
        let mnemonic =
            Mnemonic::from_entropy(entropy.as_slice()).map_err(|_| KeyError::Derivation)?;
        let phrase = Zeroizing::new(mnemonic.to_string());
        let key = LocalKey::from_mnemonic(&phrase, "", 0)?;
        Ok(NewKey { key, phrase })
    }

    /// Restores account `index` from a BIP-39 phrase (12 to 24 English words, any case and
    /// spacing) and optional passphrase.
    pub fn from_mnemonic(phrase: &str, passphrase: &str, index: u32) -> Result<LocalKey, KeyError> {
        derive(phrase, passphrase, &derivation_path(index))
    }

    /// Imports a raw 32-byte secret key.
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Result<LocalKey, KeyError> {
        SecretKey::from_bytes(bytes)
            .map(|secret| LocalKey { secret })
            .map_err(|_| KeyError::InvalidSecretKey)
    }

    /// Wraps an existing secret key.
    pub fn from_secret(secret: SecretKey) -> LocalKey {
        LocalKey { secret }
    }

    /// The secret key, for signing inside the library.
    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// Exports the raw secret. Only for an explicit user action ("export key").
    pub fn export_secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.secret.export_bytes()
    }

    /// Seals the key for storage under a host-supplied secret (≥ 16 bytes).
    pub fn seal(&self, storage_secret: &[u8]) -> Result<SealedKey, KeyError> {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let cipher = cipher(storage_secret, &salt)?;
        let plain = self.secret.export_bytes();
        let ciphertext = cipher
            .encrypt(&Nonce::from(nonce), plain.as_slice())
            .map_err(|_| KeyError::Decrypt)?;
        Ok(SealedKey {
            version: SealedKey::VERSION,
            public_key: self.public_key(),
            salt,
            nonce,
            ciphertext,
        })
    }

    /// Opens a sealed key.
    pub fn unseal(sealed: &SealedKey, storage_secret: &[u8]) -> Result<LocalKey, KeyError> {
        if sealed.version != SealedKey::VERSION {
            return Err(KeyError::UnsupportedFormat {
                version: sealed.version,
            });
        }
        let cipher = cipher(storage_secret, &sealed.salt)?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(&Nonce::from(sealed.nonce), sealed.ciphertext.as_slice())
                .map_err(|_| KeyError::Decrypt)?,
        );
        let bytes: Zeroizing<[u8; 32]> =
            Zeroizing::new(plain.as_slice().try_into().map_err(|_| KeyError::Decrypt)?);
        let key = LocalKey::from_secret_bytes(&bytes)?;
        // The public key is stored in the clear for display; it must match the secret.
        if key.public_key() != sealed.public_key {
            return Err(KeyError::Decrypt);
        }
        Ok(key)
    }
}

impl Signer for LocalKey {
    fn public_key(&self) -> PublicKeyBytes {
        self.secret.public_key()
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Result<SignatureBytes, KeyError> {
        Ok(self.secret.sign_prehash(digest))
    }
}

/// Derives the secp256k1 key at `path` from a BIP-39 phrase.
fn derive(phrase: &str, passphrase: &str, path: &str) -> Result<LocalKey, KeyError> {
    // Built in one buffer of its final size, so no intermediate copy of the words (a
    // per-word lower-case string, a grown buffer) is freed without being wiped. ASCII
    // lower-casing suffices: every BIP-39 English word is ASCII, and a word that is not
    // stays invalid.
    let mut normalised = Zeroizing::new(String::with_capacity(phrase.len()));
    for word in phrase.split_whitespace() {
        if !normalised.is_empty() {
            normalised.push(' ');
        }
        normalised.extend(word.chars().map(|c| c.to_ascii_lowercase()));
    }
    let mnemonic = Mnemonic::parse_in_normalized(bip39::Language::English, &normalised)
        .map_err(|_| KeyError::InvalidMnemonic)?;
    let seed = Zeroizing::new(mnemonic.to_seed_normalized(passphrase));
    let path: DerivationPath = path.parse().map_err(|_| KeyError::Derivation)?;
    let xprv = XPrv::derive_from_path(seed.as_slice(), &path).map_err(|_| KeyError::Derivation)?;
    let bytes = Zeroizing::new(<[u8; 32]>::from(xprv.private_key().to_bytes()));
    LocalKey::from_secret_bytes(&bytes)
}

fn cipher(storage_secret: &[u8], salt: &[u8; 16]) -> Result<ChaCha20Poly1305, KeyError> {
    if storage_secret.len() < 16 {
        return Err(KeyError::WeakStorageSecret {
            len: storage_secret.len(),
        });
    }
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), storage_secret);
    let mut key = Zeroizing::new([0u8; 32]);
    hk.expand(b"cascade/wallet-key/v1", key.as_mut())
        .map_err(|_| KeyError::Derivation)?;
    ChaCha20Poly1305::new_from_slice(key.as_slice()).map_err(|_| KeyError::Derivation)
}

/// A key sealed for storage. Safe to write to disk or app storage: without the host's
/// storage secret it reveals only the public key.
#[derive(
    Clone, PartialEq, Eq, Serialize, Deserialize, borsh::BorshSerialize, borsh::BorshDeserialize,
)]
pub struct SealedKey {
    /// Format version.
    pub version: u8,
    /// Public key, in the clear (so the app can show the address before unlocking).
    pub public_key: PublicKeyBytes,
    /// HKDF salt.
    pub salt: [u8; 16],
    /// AEAD nonce.
    pub nonce: [u8; 12],
    /// Encrypted secret and tag.
    pub ciphertext: Vec<u8>,
}

impl SealedKey {
    /// Current format version.
    pub const VERSION: u8 = 1;
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedKey({})", self.public_key.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The BIP-39 test vector phrase (all "abandon" + "about"), public and well known.
    const PHRASE: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

    #[test]
    fn mnemonic_derivation_is_stable_and_index_dependent() {
        let a = LocalKey::from_mnemonic(PHRASE, "", 0).expect("valid phrase");
        let b = LocalKey::from_mnemonic(&PHRASE.to_uppercase(), "", 0).expect("case-insensitive");
        let c = LocalKey::from_mnemonic(PHRASE, "", 1).expect("valid phrase");
        let d = LocalKey::from_mnemonic(PHRASE, "passphrase", 0).expect("valid phrase");
        assert_eq!(a.public_key(), b.public_key());
        // Spacing does not matter either (words separated by any whitespace).
        let spaced = format!("  {}\n", PHRASE.replace(' ', " \t "));
        let e = LocalKey::from_mnemonic(&spaced, "", 0).expect("any whitespace");
        assert_eq!(a.public_key(), e.public_key());
        assert!(LocalKey::from_mnemonic(&PHRASE.replace("about", "abóut"), "", 0).is_err());
        assert_ne!(a.public_key(), c.public_key());
        assert_ne!(a.public_key(), d.public_key());
        assert_eq!(derivation_path(3), "m/44'/7731'/0'/0/3");
    }

    #[test]
    fn bip32_derivation_matches_the_published_vector() {
        // Widely published: this phrase at the Ethereum path m/44'/60'/0'/0/0 has this
        // secret key. It checks our BIP-39 seed and BIP-32 derivation against the standard.
        let key = derive(PHRASE, "", "m/44'/60'/0'/0/0").expect("derive");
        let hex: String = key
            .export_secret_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "1ab42cc412b618bdea3a599e3c9bae199ebf030895b039e9db1e30dafb12b727"
        );
    }

    #[test]
    fn bad_phrases_are_rejected() {
        let wrong_checksum = PHRASE.replace("about", "abandon");
        assert_eq!(
            LocalKey::from_mnemonic(&wrong_checksum, "", 0).err(),
            Some(KeyError::InvalidMnemonic)
        );
        assert_eq!(
            LocalKey::from_mnemonic("hello world", "", 0).err(),
            Some(KeyError::InvalidMnemonic)
        );
    }

    #[test]
    fn generated_phrase_restores_the_same_key() {
        let new = LocalKey::generate().expect("generate");
        assert_eq!(new.phrase.split_whitespace().count(), 24);
        let restored = LocalKey::from_mnemonic(&new.phrase, "", 0).expect("restore");
        assert_eq!(restored.public_key(), new.key.public_key());
    }

    #[test]
    fn seal_and_unseal() {
        let key = LocalKey::from_mnemonic(PHRASE, "", 0).expect("valid");
        let secret = b"host keystore secret 32 bytes!!!";
        let sealed = key.seal(secret).expect("seal");
        assert_eq!(
            LocalKey::unseal(&sealed, secret)
                .expect("unseal")
                .public_key(),
            key.public_key()
        );
        assert_eq!(
            LocalKey::unseal(&sealed, b"another secret of 32 bytes......").err(),
            Some(KeyError::Decrypt)
        );
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(
            LocalKey::unseal(&tampered, secret).err(),
            Some(KeyError::Decrypt)
        );
        assert_eq!(
            key.seal(b"short").err(),
            Some(KeyError::WeakStorageSecret { len: 5 })
        );
        // The sealed bytes never contain the secret in the clear.
        let raw = key.export_secret_bytes();
        let encoded = crate::codec::encode(&sealed);
        assert!(!encoded.windows(32).any(|w| w == raw.as_slice()));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let key = LocalKey::from_mnemonic(PHRASE, "", 0).expect("valid");
        let raw = key.export_secret_bytes();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let shown = format!("{key:?} {:?}", key.seal(&[7u8; 32]).expect("seal"));
        assert!(!shown.contains(&hex));
        assert!(!shown.contains(&hex[..16]));
    }
}
