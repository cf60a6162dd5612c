#!/usr/bin/env bash
# Install a pinned cargo subcommand (`cargo-<name>`) from crates.io into ~/.cargo/bin, unless
# that exact version is already there. The per-tool scripts (install-cargo-deny.sh,
# install-cargo-fuzz.sh) pin the versions; this one holds the logic they share.
#
# Usage:
#   scripts/install-cargo-tool.sh NAME VERSION   # e.g. `deny 0.20.2`; prints the binary's
#                                                # path as its last line

set -euo pipefail

[[ $# -eq 2 ]] || { printf 'usage: %s NAME VERSION\n' "$0" >&2; exit 2; }
NAME="$1"
VERSION="$2"
CRATE="cargo-$NAME"
BIN="${CARGO_HOME:-$HOME/.cargo}/bin/$CRATE"

log() { printf 'install-%s: %s\n' "$CRATE" "$*" >&2; }

# `cargo NAME --version` prints "cargo-NAME X.Y.Z".
installed_version() {
    [[ -x "$BIN" ]] || return 1
    "$BIN" "$NAME" --version 2>/dev/null | awk '{print $2}'
}

if [[ "$(installed_version || true)" == "$VERSION" ]]; then
    printf '%s\n' "$BIN"
    exit 0
fi

log "installing $CRATE $VERSION from crates.io (the first build takes minutes)..."
start=$SECONDS
cargo install --locked --force --version "=$VERSION" "$CRATE" >&2
got="$(installed_version || true)"
[[ "$got" == "$VERSION" ]] || { log "error: installed $CRATE reports '$got', expected '$VERSION'"; exit 1; }
log "installed $CRATE $VERSION in $((SECONDS - start))s"
printf '%s\n' "$BIN"
