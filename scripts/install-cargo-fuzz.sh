#!/usr/bin/env bash
# Install a pinned cargo-fuzz (the libFuzzer driver for Rust) from crates.io into
# ~/.cargo/bin, unless that exact version is already there.
#
# Usage:
#   scripts/install-cargo-fuzz.sh        # prints the binary's path as its last line
#
# Environment:
#   CASCADE_CARGO_FUZZ_VERSION  version to install (default below)
#
# cargo-fuzz itself builds with stable Rust; the fuzz targets need nightly (or stable
# with RUSTC_BOOTSTRAP=1), which scripts/fuzz.sh chooses.

set -euo pipefail

VERSION="${CASCADE_CARGO_FUZZ_VERSION:-0.13.2}"
BIN="${CARGO_HOME:-$HOME/.cargo}/bin/cargo-fuzz"

log() { printf 'install-cargo-fuzz: %s\n' "$*" >&2; }

# `cargo fuzz --version` prints "cargo-fuzz 0.13.2".
installed_version() {
    [[ -x "$BIN" ]] || return 1
    "$BIN" fuzz --version 2>/dev/null | awk '{print $2}'
}

if [[ "$(installed_version || true)" == "$VERSION" ]]; then
    printf '%s\n' "$BIN"
    exit 0
fi

log "installing cargo-fuzz $VERSION from crates.io (first build takes a minute or two)..."
start=$SECONDS
cargo install --locked --force --version "=$VERSION" cargo-fuzz >&2
got="$(installed_version || true)"
[[ "$got" == "$VERSION" ]] || { log "error: installed cargo-fuzz reports '$got', expected '$VERSION'"; exit 1; }
log "installed cargo-fuzz $VERSION in $((SECONDS - start))s"
printf '%s\n' "$BIN"
