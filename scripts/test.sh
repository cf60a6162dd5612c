#!/usr/bin/env bash
# Runs every check and test of the workspace. This is the README's test command, and CI's.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "CometBFT for the network tests (scripts/install-cometbft.sh)"
CASCADE_COMETBFT="$(scripts/install-cometbft.sh | tail -n1)"
export CASCADE_COMETBFT
echo "using $CASCADE_COMETBFT"

step "tests (cargo test --workspace)"
cargo test --workspace --locked
