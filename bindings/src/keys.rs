//! Keys: the library-held [`KeyPair`] (BIP-39 phrase, sealing at rest) and the app-held
//! [`HostSigner`] (a key in Android Keystore or iOS Keychain), both seen by the wallet as a
//! core [`Signer`].

use crate::errors::KeyPairError;
use crate::types::{hex, parse_hex};
use cascade_core::codec;
use cascade_core::crypto::{PublicKeyBytes, SignatureBytes};
use cascade_core::wallet::keys::{KeyError, LocalKey, SealedKey, Signer};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use zeroize::Zeroizing;

/// A secp256k1 account key held by the library (zeroized when the object is freed).
#[derive(uniffi::Object)]
pub struct KeyPair {
    key: Arc<LocalKey>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({})", self.key.secret().address())
    }
}

/// A new key and the recovery phrase it was derived from.
///
/// Its `Display` and `Debug` (exported: Kotlin's `toString()`, Swift's `description` and
/// `debugDescription`, Python's `str()` and `repr()`) show the address, never the phrase, so
/// logging or printing the record cannot leak the wallet's master secret.
#[derive(uniffi::Record)]
#[uniffi::export(Display, Debug)]
pub struct GeneratedKey {
    /// Account 0 of the phrase.
    pub key: Arc<KeyPair>,
    /// The 24-word BIP-39 phrase: show it to the user once, then drop it.
    pub phrase: String,
}

impl std::fmt::Display for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GeneratedKey({}, recovery words withheld)",
            self.key.address()
        )
    }
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Generates a new 24-word phrase from the OS random source and derives its account-0 key.
#[uniffi::export]
pub fn generate_key() -> Result<GeneratedKey, KeyPairError> {
    let new = LocalKey::generate()?;
    Ok(GeneratedKey {
        key: Arc::new(KeyPair {
            key: Arc::new(new.key),
        }),
        phrase: new.phrase.to_string(),
    })
}

/// One past the largest account index: BIP-32 normal (non-hardened) children are below 2^31.
const MAX_ACCOUNT_INDEX: u32 = 1 << 31;

fn invalid(field: &str, reason: impl Into<String>) -> KeyPairError {
    KeyPairError::InvalidInput {
        field: field.into(),
        reason: reason.into(),
    }
}

#[uniffi::export]
impl KeyPair {
    /// Restores account `index` of a BIP-39 phrase (12 to 24 English words, any case and
    /// spacing) with an optional passphrase (empty for none).
    #[uniffi::constructor]
    pub fn from_mnemonic(
        phrase: String,
        passphrase: String,
        index: u32,
    ) -> Result<Arc<KeyPair>, KeyPairError> {
        let phrase = Zeroizing::new(phrase);
        let passphrase = Zeroizing::new(passphrase);
        // The index is the last, non-hardened step of the BIP-32 path: indexes from 2^31 on
        // are the hardened range and cannot be expressed there. Caught here so the app gets
        // an input error naming the argument, not the core's internal "derivation failed".
        if index >= MAX_ACCOUNT_INDEX {
            return Err(invalid(
                "index",
                format!(
                    "{index} is not an account index (0 to {})",
                    MAX_ACCOUNT_INDEX - 1
                ),
            ));
        }
        let key = LocalKey::from_mnemonic(&phrase, &passphrase, index)?;
        Ok(Arc::new(KeyPair { key: Arc::new(key) }))
    }

    /// Imports a raw 32-byte secret key (as `export_secret` gives it).
    #[uniffi::constructor]
    pub fn from_secret(secret: Vec<u8>) -> Result<Arc<KeyPair>, KeyPairError> {
        let secret = Zeroizing::new(secret);
        let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(
            secret
                .as_slice()
                .try_into()
                .map_err(|_| KeyPairError::InvalidSecretKey)?,
        );
        let key = LocalKey::from_secret_bytes(&bytes)?;
        Ok(Arc::new(KeyPair { key: Arc::new(key) }))
    }

    /// Opens a key sealed by [`KeyPair::seal`] with the same storage secret.
    #[uniffi::constructor]
    pub fn unseal(sealed: Vec<u8>, storage_secret: Vec<u8>) -> Result<Arc<KeyPair>, KeyPairError> {
        let storage_secret = Zeroizing::new(storage_secret);
        match sealed.first() {
            None => {
                return Err(KeyPairError::InvalidSealedKey {
                    reason: "no bytes".into(),
                })
            }
            Some(&v) if v != SealedKey::VERSION => {
                return Err(KeyPairError::UnsupportedFormat { version: v })
            }
            Some(_) => {}
        }
        let sealed: SealedKey =
            codec::decode_canonical(&sealed).map_err(|e| KeyPairError::InvalidSealedKey {
                reason: e.to_string(),
            })?;
        let key = LocalKey::unseal(&sealed, &storage_secret)?;
        Ok(Arc::new(KeyPair { key: Arc::new(key) }))
    }

    /// Seals the key for storage under a secret the app keeps in Keystore/Keychain (at
    /// least 16 bytes). The sealed bytes show only the public key without that secret.
    pub fn seal(&self, storage_secret: Vec<u8>) -> Result<Vec<u8>, KeyPairError> {
        let storage_secret = Zeroizing::new(storage_secret);
        Ok(codec::encode(&self.key.seal(&storage_secret)?))
    }

    /// The compressed public key (33 bytes, hex).
    pub fn public_key(&self) -> String {
        self.key.public_key().to_hex()
    }

    /// The account address (20 bytes, hex).
    pub fn address(&self) -> String {
        self.key.public_key().address().to_hex()
    }

    /// Signs a 32-byte digest: a 64-byte compact low-S secp256k1 signature (`r || s`).
    pub fn sign_digest(&self, digest: Vec<u8>) -> Result<Vec<u8>, KeyPairError> {
        let digest: [u8; 32] = digest
            .as_slice()
            .try_into()
            .map_err(|_| invalid("digest", format!("expected 32 bytes, got {}", digest.len())))?;
        Ok(self.key.sign_digest(&digest)?.0.to_vec())
    }

    /// The raw 32-byte secret key. Only for an explicit user action ("export key"): the
    /// copy in the app's memory cannot be wiped by the library.
    pub fn export_secret(&self) -> Vec<u8> {
        self.key.export_secret_bytes().to_vec()
    }
}

impl KeyPair {
    /// The key as the wallet's signer.
    pub(crate) fn signer(&self) -> Arc<dyn Signer> {
        self.key.clone()
    }
}

/// A signer the app implements, for keys that never leave Android Keystore or the iOS
/// Keychain/Secure Enclave. Called from a background thread.
#[uniffi::export(with_foreign)]
pub trait HostSigner: Send + Sync {
    /// The compressed secp256k1 public key, 33 bytes as hex. Read once, when a wallet is
    /// created.
    fn public_key(&self) -> Result<String, KeyPairError>;
    /// Signs a 32-byte digest: a 64-byte compact secp256k1 signature (`r || s`); a high-S
    /// signature is normalised by the library.
    fn sign_digest(&self, digest: Vec<u8>) -> Result<Vec<u8>, KeyPairError>;
}

/// A [`HostSigner`] seen as the core's [`Signer`]: its public key checked and kept, its
/// signatures checked for shape, and anything it throws (or a panic while calling it) turned
/// into a typed error.
pub(crate) struct ForeignSigner {
    host: Arc<dyn HostSigner>,
    public_key: PublicKeyBytes,
}

impl ForeignSigner {
    /// Asks the host for its public key and checks it is a valid compressed key.
    pub(crate) fn new(host: Arc<dyn HostSigner>) -> Result<ForeignSigner, KeyPairError> {
        let text = catch_unwind(AssertUnwindSafe(|| host.public_key())).map_err(|_| {
            KeyPairError::Signer {
                reason: "the signer panicked reading its public key".into(),
            }
        })??;
        let public_key = PublicKeyBytes(parse_hex::<33>("public_key", &text).map_err(|e| {
            KeyPairError::Signer {
                reason: format!("the signer's public key is unusable: {e}"),
            }
        })?);
        public_key
            .verifying_key()
            .map_err(|_| KeyPairError::Signer {
                reason: "the signer's public key is not a compressed secp256k1 key".into(),
            })?;
        Ok(ForeignSigner { host, public_key })
    }
}

impl Signer for ForeignSigner {
    fn public_key(&self) -> PublicKeyBytes {
        self.public_key
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Result<SignatureBytes, KeyError> {
        let signer = |reason: String| KeyError::Signer { reason };
        let sig = catch_unwind(AssertUnwindSafe(|| self.host.sign_digest(digest.to_vec())))
            .map_err(|_| signer("the signer panicked".into()))?
            .map_err(|e| signer(e.into_reason()))?;
        let bytes: [u8; 64] = sig.as_slice().try_into().map_err(|_| {
            signer(format!(
                "expected a 64-byte compact signature, got {} bytes ({})",
                sig.len(),
                hex(&sig[..sig.len().min(8)])
            ))
        })?;
        Ok(SignatureBytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHRASE: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

    #[test]
    fn sealed_keys_reopen_only_with_their_secret() {
        let key = KeyPair::from_mnemonic(PHRASE.into(), String::new(), 0).expect("key");
        let sealed = key.seal(vec![7; 32]).expect("seal");
        let back = KeyPair::unseal(sealed.clone(), vec![7; 32]).expect("unseal");
        assert_eq!(back.address(), key.address());
        assert_eq!(
            KeyPair::unseal(sealed.clone(), vec![8; 32]).err(),
            Some(KeyPairError::WrongStorageSecret)
        );
        assert!(matches!(
            KeyPair::unseal(sealed[..10].to_vec(), vec![7; 32]),
            Err(KeyPairError::InvalidSealedKey { .. })
        ));
        let mut newer = sealed;
        newer[0] = 9;
        assert_eq!(
            KeyPair::unseal(newer, vec![7; 32]).err(),
            Some(KeyPairError::UnsupportedFormat { version: 9 })
        );
        assert_eq!(
            key.seal(vec![1; 3]).err(),
            Some(KeyPairError::StorageSecretTooShort {
                min_bytes: 16,
                got: 3
            })
        );
        assert_eq!(
            KeyPair::from_secret(vec![0; 31]).err(),
            Some(KeyPairError::InvalidSecretKey)
        );
        assert_eq!(
            KeyPair::from_secret(key.export_secret())
                .expect("import")
                .public_key(),
            key.public_key()
        );
        assert!(matches!(
            key.sign_digest(vec![0; 31]),
            Err(KeyPairError::InvalidInput { .. })
        ));
    }

    #[test]
    fn a_generated_key_prints_without_its_phrase() {
        let generated = generate_key().expect("generate");
        let address = generated.key.address();
        for shown in [format!("{generated}"), format!("{generated:?}")] {
            assert!(shown.contains(&address), "{shown}");
            // The display's own words are not BIP-39 words, so no phrase word can appear.
            for word in generated.phrase.split(' ') {
                assert!(
                    !shown
                        .split(|c: char| !c.is_alphanumeric())
                        .any(|w| w == word),
                    "{word:?} leaks into {shown}"
                );
            }
        }
    }

    #[test]
    fn an_account_index_beyond_bip32_is_invalid_input_naming_it() {
        for index in [1 << 31, u32::MAX] {
            assert!(
                matches!(
                    KeyPair::from_mnemonic(PHRASE.into(), String::new(), index),
                    Err(KeyPairError::InvalidInput { ref field, .. }) if field == "index"
                ),
                "index {index}"
            );
        }
        let last = KeyPair::from_mnemonic(PHRASE.into(), String::new(), (1 << 31) - 1);
        assert!(last.is_ok(), "{:?}", last.err());
    }
}
