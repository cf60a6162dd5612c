#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each and prints, per target, the
# number of inputs executed, the corpus size and whether anything crashed.
#
# Usage:
#   scripts/fuzz.sh [--seconds N] [target...]     # default: 20 s each, all targets
#   scripts/fuzz.sh --seconds 600                 # the long run (10 min per target)
#
# Targets: tx, abci, proof, light (see fuzz/src/lib.rs). Seeds come from the adversarial
# corpus (core/tests/adversarial.rs writes them to fuzz/seeds/); what the fuzzer finds is
# kept in fuzz/corpus/<target>/ and crashes in fuzz/artifacts/<target>/ (all git-ignored).
# A crash makes the script exit non-zero; turn it into a regression test in core/tests.
#
# Environment:
#   CASCADE_FUZZ_TARGET_DIR  build directory (default ~/.cache/cascade/fuzz-target, kept
#                            between runs so CI rebuilds only what changed)
#   CASCADE_FUZZ_SANITIZER   none (default) or address. The code under test forbids
#                            `unsafe`, so ASan mostly checks dependencies; it doubles the build
#                            and slows every input.
#
# Needs a nightly toolchain (libFuzzer's instrumentation flags); without one it uses stable
# with RUSTC_BOOTSTRAP=1, which accepts the same flags.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=20
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) seconds="${2:?--seconds needs a value}"; shift 2 ;;
        --seconds=*) seconds="${1#*=}"; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: --seconds must be a whole number" >&2; exit 2; }
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(tx abci proof light)
fi

log() { printf 'fuzz.sh: %s\n' "$*" >&2; }

scripts/install-cargo-fuzz.sh >/dev/null
if rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=(+nightly)
else
    log "no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
    toolchain=()
fi
target_dir="${CASCADE_FUZZ_TARGET_DIR:-${HOME:?}/.cache/cascade/fuzz-target}"
sanitizer="${CASCADE_FUZZ_SANITIZER:-none}"
build=(-s "$sanitizer" --codegen-units 16 --target-dir "$target_dir")

# Seeds: the adversarial corpus and the world's setup, encoded for each target.
seeds="fuzz/seeds"
rm -rf "$seeds"
start=$SECONDS
# (--workspace: the same feature set as `cargo test --workspace`, so CI reuses its build.)
CASCADE_FUZZ_SEEDS="$PWD/$seeds" cargo test --workspace --locked -q --test adversarial \
    -- --exact fuzz_seeds_decode_to_what_was_encoded_and_are_written_on_request \
    >/dev/null
log "seeds written in $((SECONDS - start)) s"

start=$SECONDS
cargo "${toolchain[@]}" fuzz build "${build[@]}" >&2
log "fuzz targets built in $((SECONDS - start)) s"

# Longest input worth trying per target (the tx limit is max_tx_bytes = 16 KiB).
max_len() {
    case "$1" in
        tx) echo 17000 ;;
        *) echo 16384 ;;
    esac
}

failed=0
summary=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    out="$(mktemp)"
    start=$SECONDS
    set +e
    cargo "${toolchain[@]}" fuzz run "${build[@]}" "$target" "$corpus" "$seeds/$target" -- \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=30 \
        -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$out" 2>&1
    rc=$?
    set -e
    took=$((SECONDS - start))
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | awk '{s += $2} END {print s + 0}')"
    files="$(find "$corpus" -type f | wc -l)"
    if [[ $rc -eq 0 ]]; then
        line="$target: $runs inputs in ${took} s, corpus $files files, no crash"
    else
        failed=1
        line="$target: FAILED (exit $rc) after $runs inputs in ${took} s; artifacts in $artifacts"
        # The failure, without the (long) dump of the input.
        grep -E 'panicked at|^  left|^ right|ERROR: libFuzzer|SUMMARY|Test unit written|^thread' \
            "$out" | cut -c1-300 | head -20 >&2 || true
        grep -A2 -E 'Reproduce with|Minimize test case' "$out" | cut -c1-300 >&2 || true
    fi
    log "$line"
    summary+=("$line")
    rm -f "$out"
done

printf '\nfuzz summary (%s s per target, sanitizer %s):\n' "$seconds" "$sanitizer"
printf '  %s\n' "${summary[@]}"
exit "$failed"
