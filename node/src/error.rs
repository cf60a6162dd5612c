//! Errors of the node daemon and its setup commands.

use std::path::{Path, PathBuf};

/// Anything that stops a `cascade-node` command.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (with the path).
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No CometBFT binary was found.
    #[error(
        "CometBFT binary not found (looked at: {searched}); run scripts/install-cometbft.sh, \
         then pass --cometbft PATH or set CASCADE_COMETBFT to the path it prints"
    )]
    CometbftNotFound {
        /// Every place that was tried.
        searched: String,
    },
    /// A CometBFT subcommand failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    CometbftFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// A CometBFT configuration or key file is not as expected.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The ledger could not be opened.
    #[error("cannot open the ledger at {path}: {source}")]
    Ledger {
        /// The ledger file.
        path: PathBuf,
        /// The ledger's error.
        source: cascade_core::LedgerError,
    },
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// The ABCI server stopped or could not start.
    #[error("ABCI server: {0}")]
    Server(String),
    /// The application hit a failure it must not continue after (see ADR 0006).
    #[error("fatal application error, stopping: {0}")]
    Fatal(String),
    /// CometBFT, run as the node's child, exited.
    #[error("CometBFT exited: {0}")]
    CometbftExited(String),
    /// The demo failed.
    #[error("demo failed: {0}")]
    Demo(String),
}

impl NodeError {
    /// An I/O error with the operation and path it happened on.
    pub fn io(what: &str, path: &Path, source: std::io::Error) -> NodeError {
        NodeError::Io {
            context: format!("{what} {}", path.display()),
            source,
        }
    }

    /// A configuration error for `path`.
    pub fn config(path: &Path, reason: impl Into<String>) -> NodeError {
        NodeError::Config {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}
