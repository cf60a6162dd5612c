#!/usr/bin/env bash
# The FFI measurement command (not part of scripts/test.sh):
#  1. builds the host cdylib of `cascade-ffi` with the `release-smaller` profile and prints its
#     stripped size against the 6 MB target;
#  2. times the Rust half of the trivial call in-process (`cascade-ffi-native-bench`: the
#     exported C function called as a binding calls it), the floor under every binding;
#  3. runs the Kotlin benchmark (android/jvm/src/bench) on the JVM through that library: the
#     per-call cost of a trivial call (`libraryVersion()`) and of a proof-verified query
#     (`wallet.piece(id)` on a solo wallet), each next to a baseline measured in the same run.
#     Target: the trivial call under 2 µs.
#
# `--quick` runs fewer iterations (a smoke run of the command; the figures are noisier).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

die() { printf 'ffi-bench: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
  "") MODE=full ;;
  --quick) MODE=quick ;;
  *) die "unknown argument $1 (only --quick)" ;;
esac

command -v java >/dev/null || die "a Java runtime (17 or newer) is needed: apt-get install openjdk-17-jdk-headless"
command -v mvn >/dev/null || die "Maven is needed: apt-get install maven"
grep -q '^\[profile\.release-smaller\]' Cargo.toml \
  || die "the root Cargo.toml has no [profile.release-smaller] yet"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$(uname -s)" in
  Darwin) LIB_NAME=libcascade_ffi.dylib ;;
  *) LIB_NAME=libcascade_ffi.so ;;
esac
LIB_DIR="$TARGET_DIR/release-smaller"
LIB="$LIB_DIR/$LIB_NAME"
JVM_DIR="$ROOT/android/jvm"
GEN_DIR="$JVM_DIR/target/generated-sources/uniffi"

# --no-default-features: the library as apps ship it, without the binding generator.
echo "building the cdylib (cargo build -p cascade-ffi --profile release-smaller --no-default-features)"
cargo build -p cascade-ffi --lib --locked --profile release-smaller --no-default-features
[ -f "$LIB" ] || die "no $LIB after the build"

# The size an app ships: the library without symbols. `strip` works on a copy so the build
# output stays as cargo left it.
STRIPPED="$(mktemp)"
trap 'rm -f "$STRIPPED"' EXIT
if command -v strip >/dev/null; then
  case "$(uname -s)" in
    Darwin) strip -x -o "$STRIPPED" "$LIB" ;;
    *) strip --strip-all -o "$STRIPPED" "$LIB" ;;
  esac
else
  die "strip (binutils) is needed to measure the stripped size"
fi
size_of() { wc -c <"$1" | tr -d ' '; }
built=$(size_of "$LIB")
stripped=$(size_of "$STRIPPED")
limit=$((6 * 1024 * 1024))
awk -v b="$built" -v s="$stripped" -v l="$limit" -v name="$LIB_NAME" -v host="$(uname -sm)" 'BEGIN {
  printf "\n== library size (%s, release-smaller, host %s)\n", name, host
  printf "  as built:   %10d bytes (%.2f MiB)\n", b, b / 1048576
  printf "  stripped:   %10d bytes (%.2f MiB)\n", s, s / 1048576
  printf "  target:     %10d bytes (6.00 MiB) -> %.0f%% of target: %s\n", l, 100 * s / l, (s <= l ? "MET" : "MISSED")
}'

echo
# The Rust half of the trivial call, with the same profile and features as the shipped
# library: what the library costs per call before any foreign runtime is involved.
cargo run -q --locked --profile release-smaller --no-default-features -p cascade-ffi \
  --bin cascade-ffi-native-bench -- "$([ "$MODE" = quick ] && echo quick || echo full)"

echo
# The stripped release library has no symbols left for the generator to read the interface
# from: generate from the debug build of the same sources (the same interface).
echo "generating the Kotlin bindings (from the debug build)"
cargo build -p cascade-ffi --lib --locked
rm -rf "$GEN_DIR"
mkdir -p "$GEN_DIR"
cargo run -q -p cascade-ffi --locked --bin uniffi-bindgen -- generate \
  --library "$TARGET_DIR/debug/$LIB_NAME" --language kotlin --no-format --out-dir "$GEN_DIR"

# The C1 JIT alone starts the Kotlin compiler in Maven faster; the benchmark runs in its own
# JVM (exec:exec) with the default JIT.
export MAVEN_OPTS="${MAVEN_OPTS:-} -XX:TieredStopAtLevel=1"
echo "compiling and running the Kotlin benchmark (mvn -Pbench)"
MVN_ARGS=(-B -q -f "$JVM_DIR/pom.xml" -Pbench "-Dcascade.libdir=$LIB_DIR")
[ -n "${MAVEN_REPO:-}" ] && MVN_ARGS+=("-Dmaven.repo.local=$MAVEN_REPO")
[ "$MODE" = quick ] && MVN_ARGS+=(-Dcascade.bench.mode=quick)
# (Debian's Maven 3.8 prints colour resets even in batch mode: strip them.)
mvn "${MVN_ARGS[@]}" test-compile exec:exec 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g'
