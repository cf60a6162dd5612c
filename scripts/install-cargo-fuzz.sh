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
exec "$(dirname "$0")/install-cargo-tool.sh" fuzz "${CASCADE_CARGO_FUZZ_VERSION:-0.13.2}"
