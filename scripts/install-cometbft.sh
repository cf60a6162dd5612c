#!/usr/bin/env bash
# Install a pinned CometBFT v0.38 binary (the consensus engine Cascade runs
# under as an ABCI application), built from the CometBFT Go module with the
# machine's Go toolchain. Nothing is downloaded except Go modules.
#
# Usage:
#   COMETBFT=$(scripts/install-cometbft.sh | tail -n1)
#
# The last line of stdout is the absolute path of the binary; all progress
# messages go to stderr.
#
# Environment:
#   CASCADE_COMETBFT_VERSION  CometBFT version to install (default below)
#   CASCADE_CACHE_DIR         cache root (default: $HOME/.cache/cascade);
#                             the binary lands in
#                             $CASCADE_CACHE_DIR/cometbft/<version>/cometbft
#
# Go's own module and build caches are left at their defaults so CI can
# reuse them between runs.
#
# Tested with go1.26.8 linux/amd64 (CometBFT v0.38.26 requires Go >= 1.22.11).

set -euo pipefail

# Latest v0.38.x patch release at the time of pinning.
COMETBFT_VERSION="${CASCADE_COMETBFT_VERSION:-v0.38.26}"
COMETBFT_MODULE_PKG="github.com/cometbft/cometbft/cmd/cometbft"

log() { printf 'install-cometbft: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

case "$COMETBFT_VERSION" in
    v*) ;;
    *) COMETBFT_VERSION="v$COMETBFT_VERSION" ;;
esac
want_version="${COMETBFT_VERSION#v}"

cache_dir="${CASCADE_CACHE_DIR:-${HOME:?HOME is not set}/.cache/cascade}"
case "$cache_dir" in
    /*) ;;
    *) cache_dir="$PWD/$cache_dir" ;;
esac
dest_dir="$cache_dir/cometbft/$COMETBFT_VERSION"
bin="$dest_dir/cometbft"

# True if "$1" is an executable whose `version` output matches the pin.
# `cometbft version` prints e.g. "0.38.26" (or "0.38.26+<commit>" when built
# with the commit hash linked in).
version_ok() {
    local out
    [[ -x "$1" ]] || return 1
    out="$("$1" version 2>/dev/null | head -n1)" || return 1
    out="${out%%+*}"
    out="${out#v}"
    [[ "$out" == "$want_version" ]]
}

# Fast path: already installed.
if version_ok "$bin"; then
    printf '%s\n' "$bin"
    exit 0
fi

command -v go >/dev/null 2>&1 ||
    die "'go' not found in PATH; install a Go toolchain (>= 1.22) to build CometBFT $COMETBFT_VERSION"

mkdir -p "$dest_dir"
# Build into a temporary GOBIN inside the destination directory (same
# filesystem), then rename into place: the rename is atomic, so an
# interrupted build never leaves a half-written binary at $bin.
tmp_bin_dir="$(mktemp -d "$dest_dir/.build.XXXXXX")"
trap 'rm -rf "$tmp_bin_dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building CometBFT $COMETBFT_VERSION with $(go version) (first build can take several minutes)..."
start=$SECONDS
if ! GOBIN="$tmp_bin_dir" CGO_ENABLED=0 go install "$COMETBFT_MODULE_PKG@$COMETBFT_VERSION" >&2; then
    log "build with CGO_ENABLED=0 failed; retrying with cgo enabled..."
    GOBIN="$tmp_bin_dir" CGO_ENABLED=1 go install "$COMETBFT_MODULE_PKG@$COMETBFT_VERSION" >&2 ||
        die "go install $COMETBFT_MODULE_PKG@$COMETBFT_VERSION failed"
fi

[[ -f "$tmp_bin_dir/cometbft" ]] || die "go install did not produce a cometbft binary"
if ! version_ok "$tmp_bin_dir/cometbft"; then
    got="$("$tmp_bin_dir/cometbft" version 2>&1 | head -n1 || true)"
    die "built binary reports version '$got', expected '$want_version'"
fi

mv -f "$tmp_bin_dir/cometbft" "$bin"
log "installed CometBFT $COMETBFT_VERSION in $((SECONDS - start))s"
printf '%s\n' "$bin"
