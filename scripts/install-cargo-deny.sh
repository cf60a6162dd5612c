#!/usr/bin/env bash
# Install a pinned cargo-deny (licence, ban and source checks of the dependency graph)
# from crates.io into ~/.cargo/bin, unless that exact version is already there.
#
# Usage:
#   scripts/install-cargo-deny.sh        # prints the binary's path as its last line
#
# Environment:
#   CASCADE_CARGO_DENY_VERSION  version to install (default below; needs Rust >= 1.88)

set -euo pipefail

VERSION="${CASCADE_CARGO_DENY_VERSION:-0.20.2}"
BIN="${CARGO_HOME:-$HOME/.cargo}/bin/cargo-deny"

log() { printf 'install-cargo-deny: %s\n' "$*" >&2; }

# `cargo deny --version` prints "cargo-deny 0.20.2".
installed_version() {
    [[ -x "$BIN" ]] || return 1
    "$BIN" deny --version 2>/dev/null | awk '{print $2}'
}

if [[ "$(installed_version || true)" == "$VERSION" ]]; then
    printf '%s\n' "$BIN"
    exit 0
fi

log "installing cargo-deny $VERSION from crates.io (first build takes several minutes)..."
start=$SECONDS
cargo install --locked --force --version "=$VERSION" cargo-deny >&2
got="$(installed_version || true)"
[[ "$got" == "$VERSION" ]] || { log "error: installed cargo-deny reports '$got', expected '$VERSION'"; exit 1; }
log "installed cargo-deny $VERSION in $((SECONDS - start))s"
printf '%s\n' "$BIN"
