#!/usr/bin/env bash
# Supply-chain checks of the workspace's dependency graph with cargo-deny (policy in
# deny.toml): licences, bans (duplicate versions are warnings), sources (crates.io only).
#
# The advisories check is not run: it needs the RustSec advisory database, which cargo-deny
# clones from GitHub, and this machine reaches only package registries. Where GitHub is
# reachable, run `cargo deny check advisories` (or set CASCADE_DENY_ADVISORIES=1 here).
#
# Usage: scripts/deny.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY="$(scripts/install-cargo-deny.sh | tail -n1)"
checks=(licenses bans sources)
if [[ "${CASCADE_DENY_ADVISORIES:-0}" == 1 ]]; then
    checks+=(advisories)
fi
# On success print one line per warning (duplicate versions, wildcards) and the verdict; on
# failure print everything cargo-deny said.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if "$CARGO_DENY" deny check --hide-inclusion-graph "${checks[@]}" >"$out" 2>&1; then
    grep -E '^(warning|error)\[' "$out" || true
    tail -n1 "$out"
else
    cat "$out"
    exit 1
fi
