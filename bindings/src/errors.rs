//! The error enums the app sees: one per area, with named fields and a `Display` sentence a
//! user can read (exported, so Kotlin's `toString()`, Swift's `description` and Python's
//! `str()` show it). The core's richer errors are folded into these here, in one place.
//!
//! No field is called `message`: Kotlin's `Throwable` already has one, and uniffi generates
//! an override for it.

use cascade_core::app::AppError;
use cascade_core::solo::SoloError;
use cascade_core::wallet::client::WalletError as CoreWalletError;
use cascade_core::wallet::keys::KeyError;
use cascade_core::wallet::light::LightClientError;
use cascade_core::wallet::transport::TransportError;
use cascade_core::LedgerError;

/// A key could not be made, opened, sealed or used.
///
/// Named `KeyPairError` rather than `KeyError`: `KeyError` is a Python built-in that the
/// generated Python module relies on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum KeyPairError {
    /// The recovery phrase is not a valid English BIP-39 phrase.
    #[error("{reason}")]
    InvalidMnemonic {
        /// What is wrong, for the user.
        reason: String,
    },
    /// The bytes are not a valid secp256k1 secret key.
    #[error("not a valid secret key: it must be 32 bytes below the secp256k1 group order")]
    InvalidSecretKey,
    /// The bytes are not a sealed key at all.
    #[error("the stored key is not readable: {reason}")]
    InvalidSealedKey {
        /// What is wrong.
        reason: String,
    },
    /// The sealed key could not be opened: wrong storage secret, or the bytes were altered.
    #[error("the stored key could not be unlocked: wrong storage secret or corrupted data")]
    WrongStorageSecret,
    /// The storage secret is too short to seal a key with.
    #[error("the storage secret must be at least {min_bytes} bytes (got {got})")]
    StorageSecretTooShort {
        /// Least length accepted.
        min_bytes: u32,
        /// Length given.
        got: u32,
    },
    /// The sealed key was written by a newer version of the library.
    #[error("stored key format {version} is not supported by this version of the app")]
    UnsupportedFormat {
        /// Format version found.
        version: u8,
    },
    /// An argument is malformed.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Argument name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The app's signer failed or returned something unusable.
    #[error("the signer failed: {reason}")]
    Signer {
        /// The signer's message.
        reason: String,
    },
    /// A bug or an unexpected state in the library.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

/// Minimum storage-secret length the core enforces.
const MIN_STORAGE_SECRET: u32 = 16;

impl From<KeyError> for KeyPairError {
    fn from(e: KeyError) -> KeyPairError {
        match e {
            KeyError::InvalidMnemonic => KeyPairError::InvalidMnemonic {
                reason: e.to_string(),
            },
            KeyError::InvalidSecretKey => KeyPairError::InvalidSecretKey,
            KeyError::Derivation => KeyPairError::Internal {
                reason: e.to_string(),
            },
            KeyError::WeakStorageSecret { len } => KeyPairError::StorageSecretTooShort {
                min_bytes: MIN_STORAGE_SECRET,
                got: u32::try_from(len).unwrap_or(u32::MAX),
            },
            KeyError::Decrypt => KeyPairError::WrongStorageSecret,
            KeyError::UnsupportedFormat { version } => KeyPairError::UnsupportedFormat { version },
            KeyError::Signer { reason } => KeyPairError::Signer { reason },
        }
    }
}

impl KeyPairError {
    /// What a `Signer` error says, without the "the signer failed" its `Display` adds: for
    /// wrapping into another signer error, whose own `Display` says it once.
    pub(crate) fn into_reason(self) -> String {
        match self {
            KeyPairError::Signer { reason } => reason,
            other => other.to_string(),
        }
    }
}

/// An exception the app's `HostSigner` threw that is not a `KeyPairError`.
impl From<uniffi::UnexpectedUniFFICallbackError> for KeyPairError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> KeyPairError {
        KeyPairError::Signer { reason: e.reason }
    }
}

/// The embedded solo node failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum NodeError {
    /// The node's configuration is unusable.
    #[error("invalid solo node configuration, {field}: {reason}")]
    InvalidConfig {
        /// Configuration field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// An argument is malformed.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Argument name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The node's files failed or do not belong together.
    #[error("solo node storage: {reason}")]
    Storage {
        /// What failed.
        reason: String,
    },
    /// A bug or an unexpected state in the library.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

impl From<SoloError> for NodeError {
    fn from(e: SoloError) -> NodeError {
        let reason = e.to_string();
        match e {
            SoloError::Genesis { .. }
            | SoloError::App(AppError::Genesis { .. })
            | SoloError::App(AppError::Ledger(LedgerError::InvalidGenesis { .. }))
            | SoloError::Ledger(LedgerError::InvalidGenesis { .. }) => NodeError::InvalidConfig {
                field: "participants".into(),
                reason,
            },
            SoloError::TimeNotIncreasing { .. } | SoloError::BadTime { .. } => {
                NodeError::InvalidInput {
                    field: "time".into(),
                    reason,
                }
            }
            SoloError::Store(_)
            | SoloError::Io(_)
            | SoloError::Corrupt { .. }
            | SoloError::AppHashMismatch { .. }
            | SoloError::StoreBehind { .. }
            | SoloError::Ledger(_) => NodeError::Storage { reason },
            SoloError::App(_) | SoloError::ProposalRejected { .. } | SoloError::Build { .. } => {
                NodeError::Internal { reason }
            }
        }
    }
}

/// A wallet operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum WalletError {
    /// An argument is malformed (hex, date, currency, amount…); nothing was done.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Argument name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The ledger's rules refuse this transaction (checked before signing, or by the node).
    #[error("refused: {reason}")]
    Refused {
        /// The ledger's stable error code.
        code: u32,
        /// The ledger's explanation.
        reason: String,
    },
    /// What the node sent failed verification: it lied, forked or sent nonsense.
    #[error("the node's answer failed verification: {reason}")]
    Verification {
        /// What did not check out.
        reason: String,
    },
    /// The node could not be reached or did not answer usably.
    #[error("node {node} could not be reached: {reason}")]
    Network {
        /// Node URL or name.
        node: String,
        /// What failed.
        reason: String,
    },
    /// The state the node answered for is proven by a block not produced yet; retry shortly.
    #[error("state {version} cannot be proven until the next block exists; retry shortly")]
    AwaitingNextBlock {
        /// State version answered.
        version: u64,
    },
    /// Nothing verified yet (or the terms of a piece are unknown): refresh online first.
    #[error("no verified state yet: connect and refresh first")]
    NotSynced,
    /// An id is not among this wallet's pieces, offers or transactions.
    #[error("{id} is not in this wallet's {list}")]
    NotInWallet {
        /// Piece or transaction id.
        id: String,
        /// Which list was searched.
        list: String,
    },
    /// The wallet's cache file failed.
    #[error("wallet storage: {reason}")]
    Storage {
        /// What failed.
        reason: String,
    },
    /// The signer failed.
    #[error("the signer failed: {reason}")]
    Signer {
        /// What failed.
        reason: String,
    },
    /// A bug or an unexpected state in the library.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

/// An exception the app's `HttpClient` or `WalletListener` threw that is not a
/// `WalletError`.
impl From<uniffi::UnexpectedUniFFICallbackError> for WalletError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> WalletError {
        WalletError::Internal {
            reason: format!("the app's callback failed: {}", e.reason),
        }
    }
}

impl From<TransportError> for WalletError {
    fn from(e: TransportError) -> WalletError {
        match e {
            TransportError::Unreachable { node, reason } => WalletError::Network { node, reason },
            TransportError::NotFound { node, what } => WalletError::Network {
                node,
                reason: format!("does not have {what}"),
            },
            TransportError::Rpc {
                node,
                code,
                message,
            } => WalletError::Network {
                node,
                reason: format!("RPC error {code}: {message}"),
            },
            // A node that answers garbage is as untrustworthy as one that lies.
            TransportError::Malformed { node, reason } => WalletError::Verification {
                reason: format!("node {node} sent a malformed response: {reason}"),
            },
        }
    }
}

impl From<CoreWalletError> for WalletError {
    fn from(e: CoreWalletError) -> WalletError {
        let reason = e.to_string();
        match e {
            CoreWalletError::Refused { code, message } => WalletError::Refused {
                code,
                reason: message,
            },
            CoreWalletError::Light(LightClientError::Transport(t))
            | CoreWalletError::Transport(t) => t.into(),
            CoreWalletError::Light(_)
            | CoreWalletError::Proof(_)
            | CoreWalletError::Outcome(_)
            | CoreWalletError::WrongAnswer { .. } => WalletError::Verification { reason },
            CoreWalletError::Query { path, .. } => WalletError::Network { node: path, reason },
            CoreWalletError::AwaitingNextBlock { version } => {
                WalletError::AwaitingNextBlock { version }
            }
            CoreWalletError::Key(k) => WalletError::Signer {
                reason: KeyPairError::from(k).into_reason(),
            },
            CoreWalletError::Storage(reason) => WalletError::Storage { reason },
            CoreWalletError::NotSynced => WalletError::NotSynced,
            CoreWalletError::NotInWallet { piece, list } => WalletError::NotInWallet {
                id: piece.to_hex(),
                list: list.to_string(),
            },
        }
    }
}

/// A lock whose holder panicked: the library's state may be half-updated, so the call fails
/// instead of panicking again.
pub(crate) fn poisoned(what: &str) -> String {
    format!("the {what} lock is poisoned (an earlier call failed inside it)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::{Amount, TxError};

    #[test]
    fn core_errors_fold_into_the_foreign_ones() {
        let refused: WalletError = CoreWalletError::from(TxError::SplitExceedsPiece {
            outputs: Amount(2),
            available: Amount(1),
        })
        .into();
        assert!(
            matches!(refused, WalletError::Refused { code, .. } if code == TxError::SplitExceedsPiece { outputs: Amount(2), available: Amount(1) }.code())
        );
        let down: WalletError = CoreWalletError::Transport(TransportError::Unreachable {
            node: "n".into(),
            reason: "refused".into(),
        })
        .into();
        assert_eq!(
            down,
            WalletError::Network {
                node: "n".into(),
                reason: "refused".into()
            }
        );
        let garbage: WalletError =
            CoreWalletError::Light(LightClientError::Transport(TransportError::Malformed {
                node: "n".into(),
                reason: "not json".into(),
            }))
            .into();
        assert!(matches!(garbage, WalletError::Verification { .. }));
        assert_eq!(
            KeyPairError::from(KeyError::WeakStorageSecret { len: 3 }),
            KeyPairError::StorageSecretTooShort {
                min_bytes: 16,
                got: 3
            }
        );
        assert_eq!(
            KeyPairError::from(KeyError::Decrypt).to_string(),
            "the stored key could not be unlocked: wrong storage secret or corrupted data"
        );
    }
}
