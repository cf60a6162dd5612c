//! Secrets stay secret: no secret key, storage secret or recovery phrase appears in any
//! `Debug` output, error message, sealed form or wallet cache; the types that hold secrets
//! zeroize them and cannot be copied, printed or serialised by accident.
//!
//! "Appears" is checked in every form a secret could take in text or bytes: raw, lower- and
//! upper-case hex (whole, and any 8-byte window), Rust's `[u8]` debug list, and for a
//! phrase, any two consecutive words.
#![cfg(all(feature = "app", feature = "testkit", feature = "wallet"))]

use cascade_core::crypto::{CryptoError, SecretKey};
use cascade_core::solo::SoloNode;
use cascade_core::testkit::{self, Fixture, GENESIS_TIME};
use cascade_core::tx::TxBody;
use cascade_core::wallet::client::{Clock, Wallet, WalletConfig, WalletError};
use cascade_core::wallet::keys::{KeyError, LocalKey, NewKey, SealedKey, Signer};
use cascade_core::wallet::light::TrustAnchor;
use cascade_core::wallet::solo_transport::{SoloClock, SoloTransport};
use cascade_core::wallet::transport::Transport;
use cascade_core::Hash32;
use std::sync::{Arc, Mutex};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The BIP-39 test-vector phrase (public).
const PHRASE: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                      abandon abandon about";
const STORAGE_SECRET: &[u8] = b"host keystore secret: 32 bytes!!";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails if `text` shows `secret` in any form.
fn assert_hidden(text: &str, secret: &[u8], what: &str) {
    let lower = hex(secret);
    let upper = lower.to_uppercase();
    assert!(
        !text.contains(&lower) && !text.contains(&upper),
        "{what} shows the secret in hex: {text}"
    );
    for window in lower.as_bytes().chunks(16).filter(|w| w.len() == 16) {
        let w = std::str::from_utf8(window).expect("hex is ascii");
        assert!(
            !text.to_lowercase().contains(w),
            "{what} shows 8 bytes of the secret: {text}"
        );
    }
    let list = format!("{secret:?}");
    assert!(
        !text.contains(&list[1..list.len() - 1]),
        "{what} shows the secret's bytes: {text}"
    );
    assert_hidden_bytes(text.as_bytes(), secret, what);
}

/// Fails if `haystack` contains `secret` raw or as hex.
fn assert_hidden_bytes(haystack: &[u8], secret: &[u8], what: &str) {
    assert!(
        !haystack.windows(secret.len()).any(|w| w == secret),
        "{what} contains the raw secret"
    );
    let lower = hex(secret);
    let hex_bytes = lower.as_bytes();
    assert!(
        !haystack
            .windows(hex_bytes.len())
            .any(|w| w.eq_ignore_ascii_case(hex_bytes)),
        "{what} contains the secret in hex"
    );
}

/// Fails if `text` contains two consecutive words of `phrase`.
fn assert_phrase_hidden(text: &str, phrase: &str, what: &str) {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    for pair in words.windows(2) {
        let shown = format!("{} {}", pair[0], pair[1]);
        assert!(
            !text.contains(&shown),
            "{what} shows part of the recovery phrase: {text}"
        );
    }
}

// ---- what the types allow -------------------------------------------------------------------

/// `Probe(&x).is_debug()` is true exactly when `x`'s type implements `Debug` (an inherent
/// method wins over the blanket trait method), and likewise for the other probes: compile-time
/// facts read at run time, so the test fails rather than stops compiling if one changes.
#[allow(dead_code)] // only the type matters
struct Probe<'a, T>(&'a T);
trait Fallback {
    fn is_debug(&self) -> bool {
        false
    }
    fn is_clone(&self) -> bool {
        false
    }
    fn is_display(&self) -> bool {
        false
    }
    fn is_serialize(&self) -> bool {
        false
    }
}
impl<T> Fallback for Probe<'_, T> {}
impl<T: std::fmt::Debug> Probe<'_, T> {
    fn is_debug(&self) -> bool {
        true
    }
}
#[allow(dead_code)] // only the type matters
struct CloneProbe<'a, T>(&'a T);
impl<T> Fallback for CloneProbe<'_, T> {}
impl<T: Clone> CloneProbe<'_, T> {
    fn is_clone(&self) -> bool {
        true
    }
}
#[allow(dead_code)] // only the type matters
struct DisplayProbe<'a, T>(&'a T);
impl<T> Fallback for DisplayProbe<'_, T> {}
impl<T: std::fmt::Display> DisplayProbe<'_, T> {
    fn is_display(&self) -> bool {
        true
    }
}
#[allow(dead_code)] // only the type matters
struct SerializeProbe<'a, T>(&'a T);
impl<T> Fallback for SerializeProbe<'_, T> {}
impl<T: serde::Serialize> SerializeProbe<'_, T> {
    fn is_serialize(&self) -> bool {
        true
    }
}

fn zeroizes_on_drop<T: ZeroizeOnDrop>() {}
fn zeroizes<T: Zeroize>(_: &T) {}

#[test]
fn secret_holding_types_zeroize_and_cannot_be_copied_printed_or_serialised() {
    // The probes work: positive controls on types that do implement each trait.
    let sealed = LocalKey::from_secret(SecretKey::from_seed(b"frank")).seal(STORAGE_SECRET);
    let sealed = sealed.expect("seal");
    assert!(Probe(&sealed).is_debug());
    assert!(CloneProbe(&sealed).is_clone());
    assert!(SerializeProbe(&sealed).is_serialize());
    assert!(DisplayProbe(&sealed.public_key).is_display());

    let new: NewKey = LocalKey::generate().expect("generate");
    // The phrase lives in a zeroizing container (this line does not compile otherwise).
    let phrase: &Zeroizing<String> = &new.phrase;
    assert_eq!(phrase.split_whitespace().count(), 24);
    // NewKey cannot be printed (it would print the phrase).
    assert!(!Probe(&new).is_debug(), "NewKey implements Debug");
    assert!(!DisplayProbe(&new).is_display());
    assert!(!SerializeProbe(&new).is_serialize());

    // Secret keys cannot be cloned, displayed or serialised; Debug is custom (checked below).
    let secret = SecretKey::from_seed(b"carol");
    assert!(!CloneProbe(&secret).is_clone(), "SecretKey is Clone");
    assert!(!DisplayProbe(&secret).is_display());
    assert!(!SerializeProbe(&secret).is_serialize());
    let local = LocalKey::from_secret(SecretKey::from_seed(b"dave"));
    assert!(!CloneProbe(&local).is_clone(), "LocalKey is Clone");
    assert!(!DisplayProbe(&local).is_display());
    assert!(!SerializeProbe(&local).is_serialize());

    // The secret scalar inside SecretKey is k256's SigningKey, which zeroizes on drop;
    // exported bytes come back in zeroizing containers.
    zeroizes_on_drop::<k256::ecdsa::SigningKey>();
    let exported: Zeroizing<[u8; 32]> = secret.export_bytes();
    zeroizes(&*exported);
    let exported: Zeroizing<[u8; 32]> = local.export_secret_bytes();
    zeroizes(&*exported);
}

// ---- Debug output ---------------------------------------------------------------------------

#[test]
fn debug_output_never_shows_a_secret_key() {
    let key = LocalKey::from_mnemonic(PHRASE, "", 0).expect("valid phrase");
    let secret = key.export_secret_bytes();
    let sealed = key.seal(STORAGE_SECRET).expect("seal");
    let seed_key = SecretKey::from_seed(b"erin");
    let seed_secret = seed_key.export_bytes();
    for (what, text, secret) in [
        ("LocalKey {:?}", format!("{key:?}"), &secret[..]),
        ("LocalKey {:#?}", format!("{key:#?}"), &secret[..]),
        (
            "LocalKey's SecretKey",
            format!("{:?}", key.secret()),
            &secret[..],
        ),
        ("SealedKey {:?}", format!("{sealed:?}"), &secret[..]),
        ("SealedKey {:#?}", format!("{sealed:#?}"), &secret[..]),
        ("SecretKey {:?}", format!("{seed_key:?}"), &seed_secret[..]),
    ] {
        assert_hidden(&text, secret, what);
        assert_hidden(&text, STORAGE_SECRET, what);
        assert_phrase_hidden(&text, PHRASE, what);
    }
    // What Debug does show: the address, which identifies the key without revealing it.
    assert!(format!("{key:?}").contains(&key.secret().address().to_hex()));
}

#[test]
fn the_sealed_form_holds_neither_the_key_nor_the_storage_secret() {
    let key = LocalKey::from_mnemonic(PHRASE, "", 0).expect("valid phrase");
    let secret = key.export_secret_bytes();
    let sealed: SealedKey = key.seal(STORAGE_SECRET).expect("seal");
    let borsh = cascade_core::codec::encode(&sealed);
    let json = serde_json::to_vec(&sealed).expect("json");
    for (what, bytes) in [("borsh", &borsh), ("json", &json)] {
        assert_hidden_bytes(bytes, &secret[..], what);
        assert_hidden_bytes(bytes, STORAGE_SECRET, what);
    }
    // Two seals of one key differ (fresh salt and nonce), so sealed copies cannot be linked
    // by their ciphertext.
    let again = key.seal(STORAGE_SECRET).expect("seal");
    assert_ne!(again.ciphertext, sealed.ciphertext);
    assert_eq!(again.public_key, sealed.public_key);
}

// ---- error messages -------------------------------------------------------------------------

#[test]
fn key_errors_never_carry_the_secret_they_refused() {
    let key = LocalKey::from_mnemonic(PHRASE, "", 0).expect("valid phrase");
    let secret = key.export_secret_bytes();
    let sealed = key.seal(STORAGE_SECRET).expect("seal");

    let mut errors: Vec<(&str, KeyError)> = Vec::new();
    // A phrase with a broken checksum: every word is valid, the error must quote none.
    let broken = PHRASE.replace("about", "abandon");
    errors.push((
        "bad checksum",
        LocalKey::from_mnemonic(&broken, "my passphrase", 0).unwrap_err(),
    ));
    let typo = PHRASE.replace("about", "abuot");
    errors.push((
        "unknown word",
        LocalKey::from_mnemonic(&typo, "", 0).unwrap_err(),
    ));
    // The wrong storage secret, a short one, altered ciphertext, an unknown format.
    let wrong = b"another host secret of 32 bytes!";
    errors.push((
        "wrong storage secret",
        LocalKey::unseal(&sealed, wrong).unwrap_err(),
    ));
    errors.push(("short storage secret", key.seal(b"too short").unwrap_err()));
    let mut tampered = sealed.clone();
    tampered.ciphertext[3] ^= 0x40;
    errors.push((
        "tampered",
        LocalKey::unseal(&tampered, STORAGE_SECRET).unwrap_err(),
    ));
    let mut future = sealed.clone();
    future.version = 9;
    errors.push((
        "format",
        LocalKey::unseal(&future, STORAGE_SECRET).unwrap_err(),
    ));
    // A secret key out of range: the error must not echo the bytes.
    let out_of_range = [0xffu8; 32];
    errors.push((
        "out of range",
        LocalKey::from_secret_bytes(&out_of_range).expect_err("rejected"),
    ));

    assert_eq!(errors[0].1, KeyError::InvalidMnemonic);
    assert_eq!(errors[2].1, KeyError::Decrypt);
    assert_eq!(errors[3].1, KeyError::WeakStorageSecret { len: 9 });
    assert_eq!(errors[6].1, KeyError::InvalidSecretKey);
    for (what, err) in errors {
        let wallet_err = WalletError::from(err.clone());
        for text in [
            err.to_string(),
            format!("{err:?}"),
            wallet_err.to_string(),
            format!("{wallet_err:?}"),
        ] {
            assert_hidden(&text, &secret[..], what);
            assert_hidden(&text, STORAGE_SECRET, what);
            assert_hidden(&text, wrong, what);
            assert_hidden(&text, b"too short", what);
            assert_hidden(&text, &out_of_range, what);
            assert_phrase_hidden(&text, PHRASE, what);
            assert!(!text.contains("my passphrase"), "{what}: {text}");
            assert!(
                !text.contains("abuot"),
                "{what} quotes the mistyped word: {text}"
            );
        }
    }
    let err = SecretKey::from_bytes(&out_of_range).expect_err("rejected");
    assert_eq!(err, CryptoError::InvalidSecretKey);
    assert_hidden(&format!("{err} {err:?}"), &out_of_range, "CryptoError");
}

// ---- a wallet in use ------------------------------------------------------------------------

#[test]
fn a_wallet_in_use_keeps_its_key_out_of_its_errors_debug_and_cache() {
    let fx = Fixture::standard();
    let node = SoloNode::in_memory(fx.genesis(), testkit::validator_signing_key("validator-0"))
        .expect("solo node");
    let node = Arc::new(Mutex::new(node));
    node.lock()
        .unwrap()
        .produce_block(GENESIS_TIME + 3600)
        .expect("block 1");
    let set = node
        .lock()
        .unwrap()
        .validator_set(1)
        .expect("validator set");
    let anchor = TrustAnchor::genesis_validators(
        testkit::CHAIN_ID,
        Hash32(set.hash().as_bytes().try_into().unwrap()),
    );
    let secret_key = SecretKey::from_seed(b"core");
    let secret = secret_key.export_bytes();
    let signer: Arc<dyn Signer> = Arc::new(LocalKey::from_secret(secret_key));
    let transport: Arc<dyn Transport> = Arc::new(SoloTransport::live(node.clone()));
    let clock: Arc<dyn Clock> = Arc::new(SoloClock::new(node.clone()));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wallet.redb");
    {
        let mut wallet = Wallet::open(
            &path,
            WalletConfig::new(anchor),
            signer,
            transport,
            vec![],
            clock,
        )
        .expect("wallet");
        wallet.refresh().expect("refresh");
        assert_hidden(&format!("{wallet:?}"), &secret[..], "Wallet {:?}");
        // Transactions refused locally before signing: by the wallet's view, by the rules.
        let ghost = Hash32([9; 32]);
        let err = wallet
            .submit(TxBody::Accept { piece: ghost })
            .expect_err("refused");
        assert!(matches!(err, WalletError::NotInWallet { .. }), "{err:?}");
        assert_hidden(
            &format!("{err} {err:?}"),
            &secret[..],
            "WalletError::NotInWallet",
        );
        let settle = TxBody::Settle { root: ghost };
        let err = wallet.submit(settle).expect_err("refused");
        assert_hidden(
            &format!("{err} {err:?}"),
            &secret[..],
            "WalletError on settle",
        );
        // …and one that is signed, submitted and tracked in the cache: the signature and the
        // transaction are public, the key is not.
        let core = fx.addr("core");
        let anchor = TxBody::AnchorDocument {
            hash: Hash32([7; 32]),
            amount: cascade_core::Money {
                amount: cascade_core::Amount(1000_00),
                currency: testkit::cny(),
            },
            buyer: core,
            seller: fx.addr("t1"),
        };
        wallet.submit(anchor).expect("submitted");
        assert_eq!(wallet.transactions().len(), 1);
        for tracked in wallet.transactions().values() {
            assert_hidden(&format!("{tracked:?}"), &secret[..], "TrackedTx");
        }
    }
    let cache = std::fs::read(&path).expect("wallet cache");
    assert!(!cache.is_empty());
    assert_hidden_bytes(&cache, &secret[..], "the wallet cache file");
}

#[test]
fn the_leak_checks_catch_every_form_of_a_secret() {
    let secret: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let lower = hex(&secret);
    let shown = [
        lower.clone(),
        lower.to_uppercase(),
        format!("key {}…", &lower[16..32]),
        format!("{secret:?}"),
    ];
    for text in shown {
        let caught = std::panic::catch_unwind(|| assert_hidden(&text, &secret, "control"));
        assert!(caught.is_err(), "a leak slipped through: {text:?}");
    }
    let caught = std::panic::catch_unwind(|| {
        assert_phrase_hidden("phrase: …abandon about", PHRASE, "control")
    });
    assert!(caught.is_err(), "a phrase leak slipped through");
    let stored = [b"cache:".as_slice(), &secret, b":end"].concat();
    let caught = std::panic::catch_unwind(|| assert_hidden_bytes(&stored, &secret, "control"));
    assert!(caught.is_err(), "raw secret bytes slipped through");
    assert_hidden("address 0x1234 only", &secret, "control");
}
