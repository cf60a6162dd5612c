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
exec "$(dirname "$0")/install-cargo-tool.sh" deny "${CASCADE_CARGO_DENY_VERSION:-0.20.2}"
