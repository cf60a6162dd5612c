#!/usr/bin/env bash
# Soak test of the 4-validator network on 127.0.0.1 (issue 6): holds a steady rate of mixed
# lifecycle transactions for a few minutes, then reports throughput, latency percentiles,
# memory growth of every application and CometBFT process, and that no acknowledged commit
# was lost. Bounded (at most 120 minutes), loopback only. Exits non-zero if anything was lost
# or the nodes diverged.
#
# Usage: scripts/soak.sh [--minutes N (default 3)] [--rate TX_PER_S (default 100)]
#                        [--lanes L (default 128)] [--abci unix|tcp (default unix)]
set -euo pipefail
cd "$(dirname "$0")/.."
CASCADE_COMETBFT="$(scripts/install-cometbft.sh | tail -n1)"
export CASCADE_COMETBFT
exec cargo run --release --locked -p cascade-tests --bin cascade-soak -- "$@"
