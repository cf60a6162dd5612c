//! The CometBFT binary: where to find it and how to run its setup subcommands.
//!
//! The node is tested against one pinned version, installed by `scripts/install-cometbft.sh`
//! into `~/.cache/cascade/cometbft/<version>/cometbft`.

use crate::error::NodeError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The CometBFT version the node is built and tested against.
pub const COMETBFT_VERSION: &str = "v0.38.26";

/// Environment variable naming the CometBFT binary.
pub const COMETBFT_ENV: &str = "CASCADE_COMETBFT";

/// Finds the CometBFT binary: `explicit` (the `--cometbft` flag), else `$CASCADE_COMETBFT`,
/// else the install script's cache (`$CASCADE_CACHE_DIR` or `~/.cache/cascade`), else `PATH`.
///
/// An explicit path or environment variable that does not name a file is an error rather
/// than a reason to look elsewhere: running a different binary than asked would be a
/// surprise.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, NodeError> {
    if let Some(path) = explicit {
        return existing(path, "--cometbft");
    }
    if let Some(value) = std::env::var_os(COMETBFT_ENV).filter(|v| !v.is_empty()) {
        return existing(Path::new(&value), COMETBFT_ENV);
    }
    let mut searched = Vec::new();
    let cache_root = std::env::var_os("CASCADE_CACHE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache").join("cascade"))
        });
    if let Some(root) = cache_root {
        let cached = root
            .join("cometbft")
            .join(COMETBFT_VERSION)
            .join("cometbft");
        if cached.is_file() {
            return Ok(cached);
        }
        searched.push(cached.display().to_string());
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("cometbft");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        searched.push("every directory in PATH".into());
    }
    Err(NodeError::CometbftNotFound {
        searched: searched.join(", "),
    })
}

fn existing(path: &Path, source: &str) -> Result<PathBuf, NodeError> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(NodeError::CometbftNotFound {
            searched: format!("{} (from {source}), which is not a file", path.display()),
        })
    }
}

/// Runs `cometbft <args>` to completion; an error carries the end of its standard error.
pub fn run(cometbft: &Path, args: &[&str]) -> Result<String, NodeError> {
    let command = format!("{} {}", cometbft.display(), args.join(" "));
    let output = Command::new(cometbft)
        .args(args)
        .output()
        .map_err(|e| NodeError::io("cannot run", cometbft, e))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        return Err(NodeError::CometbftFailed {
            command,
            status: output.status.to_string(),
            stderr: tail,
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `cometbft init --home <home>`: config, genesis, node key and validator key.
pub fn init(cometbft: &Path, home: &Path) -> Result<(), NodeError> {
    let home_str = home.to_str().ok_or_else(|| {
        NodeError::Usage(format!(
            "the home directory {} is not valid UTF-8",
            home.display()
        ))
    })?;
    run(cometbft, &["init", "--home", home_str]).map(|_| ())
}
