#!/usr/bin/env bash
# Builds the Cascade Android library (AAR):
#  1. cross-compiles `cascade-ffi` for arm64-v8a, armeabi-v7a and x86_64 (and x86 with
#     CASCADE_ANDROID_X86=1) with cargo-ndk and the `release-smaller` profile, straight into
#     android/cascade/src/main/jniLibs/<abi>/libcascade_ffi.so;
#  2. checks each library's ELF segments are 16 KB aligned (Android 15+ devices with 16 KB
#     pages refuse anything less);
#  3. generates the Kotlin bindings (package org.cascade.ffi) into
#     android/cascade/build/generated/uniffi/kotlin/;
#  4. runs Gradle's assembleRelease: android/cascade/build/outputs/aar/cascade-release.aar.
#
# Needs: the Android SDK with an NDK (ANDROID_NDK_HOME, or ANDROID_HOME/ANDROID_SDK_ROOT with
# ndk/<version>), Gradle 8.9+ (`gradle` on PATH or android/gradlew), rustup. cargo-ndk is
# installed (pinned) if missing. None of these is available on the project's development
# machines, so this script has not been run there; the Kotlin sources are compiled and tested
# on the JVM by scripts/test-kotlin.sh instead.
#
# Set CASCADE_SKIP_GRADLE=1 to stop after step 3 (e.g. when Android Studio builds the module).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
ANDROID_DIR="$ROOT/android"
MODULE="$ANDROID_DIR/cascade"
JNI_DIR="$MODULE/src/main/jniLibs"
GEN_DIR="$MODULE/build/generated/uniffi/kotlin"
CARGO_NDK_VERSION="4.1.2"
MIN_SDK=24

die() { printf 'build-android: %s\n' "$*" >&2; exit 1; }

# --- checks, before any long build ----------------------------------------------------------
command -v cargo >/dev/null || die "cargo is needed (https://rustup.rs)"
command -v rustup >/dev/null || die "rustup is needed to add the Android targets"
grep -q '^\[profile\.release-smaller\]' Cargo.toml \
  || die "the root Cargo.toml has no [profile.release-smaller]"

SDK="${ANDROID_HOME:-${ANDROID_SDK_ROOT:-}}"
NDK="${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}"
if [ -z "$NDK" ] && [ -n "$SDK" ] && [ -d "$SDK/ndk" ]; then
  NDK="$(find "$SDK/ndk" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -n1)"
fi
[ -n "$NDK" ] && [ -d "$NDK" ] || die "no Android NDK found. Install the Android SDK and an NDK
  (Android Studio > SDK Manager > NDK, r26 or newer) and set ANDROID_NDK_HOME to it, or set
  ANDROID_HOME to the SDK (the newest \$ANDROID_HOME/ndk/<version> is used)."
export ANDROID_NDK_HOME="$NDK"

GRADLE=""
if [ "${CASCADE_SKIP_GRADLE:-0}" != 1 ]; then
  if [ -x "$ANDROID_DIR/gradlew" ]; then
    GRADLE="$ANDROID_DIR/gradlew"
  elif command -v gradle >/dev/null; then
    GRADLE="$(command -v gradle)"
  else
    die "Gradle is needed (8.9 or newer): install it, or run 'gradle wrapper' in android/ once
  on a machine that has it; or set CASCADE_SKIP_GRADLE=1 to only build the native libraries
  and the bindings."
  fi
  [ -n "$SDK" ] || die "ANDROID_HOME (the Android SDK) must be set for Gradle"
fi

if ! command -v cargo-ndk >/dev/null; then
  echo "installing cargo-ndk $CARGO_NDK_VERSION"
  cargo install cargo-ndk --version "$CARGO_NDK_VERSION" --locked
fi

ABIS=(arm64-v8a armeabi-v7a x86_64)
TRIPLES=(aarch64-linux-android armv7-linux-androideabi x86_64-linux-android)
if [ "${CASCADE_ANDROID_X86:-0}" = 1 ]; then
  ABIS+=(x86)
  TRIPLES+=(i686-linux-android)
fi
rustup target add "${TRIPLES[@]}"

# --- 1. native libraries --------------------------------------------------------------------
rm -rf "$JNI_DIR"
ndk_args=()
for abi in "${ABIS[@]}"; do ndk_args+=(-t "$abi"); done
# --no-default-features: the library only, without the binding generator.
cargo ndk "${ndk_args[@]}" --platform "$MIN_SDK" -o "$JNI_DIR" \
  build -p cascade-ffi --lib --no-default-features --profile release-smaller --locked

for abi in "${ABIS[@]}"; do
  [ -f "$JNI_DIR/$abi/libcascade_ffi.so" ] || die "cargo-ndk left no $JNI_DIR/$abi/libcascade_ffi.so"
done

# --- 2. 16 KB page alignment ----------------------------------------------------------------
READELF="$(find "$NDK/toolchains/llvm/prebuilt" -name llvm-readelf -type f 2>/dev/null | head -n1 || true)"
[ -n "$READELF" ] || READELF="$(command -v readelf || true)"
if [ -n "$READELF" ]; then
  for abi in "${ABIS[@]}"; do
    lib="$JNI_DIR/$abi/libcascade_ffi.so"
    # Every LOAD segment's alignment (the last column, hex) must be at least 2**14.
    bad=""
    while read -r align; do
      [ $((align)) -ge 16384 ] || bad="$bad $align"
    done < <("$READELF" -lW "$lib" | awk '$1 == "LOAD" { print $NF }')
    [ -z "$bad" ] || die "$abi: LOAD segments aligned to $bad, not 16 KB (check the
  -z max-page-size=16384 linker flag of cascade-ffi)"
    printf '  %-12s %8d bytes, 16 KB aligned\n' "$abi" "$(wc -c <"$lib")"
  done
else
  echo "warning: no readelf found; the 16 KB alignment was not checked" >&2
fi

# --- 3. Kotlin bindings ---------------------------------------------------------------------
# The generator reads the interface from a library's symbols, which `release-smaller`
# strips: read it from a host debug build of the same sources (the same interface).
case "$(uname -s)" in
  Darwin) HOST_LIB_NAME=libcascade_ffi.dylib ;;
  *) HOST_LIB_NAME=libcascade_ffi.so ;;
esac
cargo build -p cascade-ffi --lib --locked
HOST_LIB="${CARGO_TARGET_DIR:-$ROOT/target}/debug/$HOST_LIB_NAME"
[ -f "$HOST_LIB" ] || die "no host library $HOST_LIB"
rm -rf "$GEN_DIR"
mkdir -p "$GEN_DIR"
cargo run -q -p cascade-ffi --locked --bin uniffi-bindgen -- generate \
  --library "$HOST_LIB" --language kotlin --no-format --out-dir "$GEN_DIR"
ls "$GEN_DIR"/org/cascade/ffi/*.kt >/dev/null 2>&1 || die "uniffi-bindgen wrote no Kotlin"
echo "bindings: ${GEN_DIR#"$ROOT"/}"

# --- 4. the AAR -----------------------------------------------------------------------------
if [ -n "$GRADLE" ]; then
  (cd "$ANDROID_DIR" && "$GRADLE" --no-daemon :cascade:assembleRelease)
  AAR="$MODULE/build/outputs/aar/cascade-release.aar"
  [ -f "$AAR" ] || die "Gradle finished but $AAR is missing"
  echo "AAR: ${AAR#"$ROOT"/}"
fi
