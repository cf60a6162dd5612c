#!/usr/bin/env bash
# Runs every check and test of the workspace. This is the README's test command, and CI's.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "API documentation (cargo doc, warnings are errors: broken or private links)"
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --workspace --no-deps --locked --quiet

step "supply chain (scripts/deny.sh: licences, bans, sources)"
scripts/deny.sh

step "CometBFT for the network tests (scripts/install-cometbft.sh)"
CASCADE_COMETBFT="$(scripts/install-cometbft.sh | tail -n1)"
export CASCADE_COMETBFT
echo "using $CASCADE_COMETBFT"

step "tests (cargo test --workspace)"
cargo test --workspace --locked

step "Kotlin tests on the JVM (scripts/test-kotlin.sh: Maven, JUnit 5)"
scripts/test-kotlin.sh

step "fuzzing, 15 s per target (scripts/fuzz.sh --seconds 15)"
scripts/fuzz.sh --seconds 15
