#!/usr/bin/env bash
# Builds the Swift package's native part and sources:
#  1. cargo builds `cascade-ffi` as a static library for aarch64-apple-ios (devices),
#     aarch64-apple-ios-sim and x86_64-apple-ios (simulators) with the `release-smaller` profile;
#  2. lipo joins the two simulator slices into one fat library;
#  3. uniffi-bindgen generates the Swift bindings: ios/Sources/CascadeFFI/CascadeFFI.swift and
#     the C header and module map of the low-level module `CascadeFFIFFI`;
#  4. xcodebuild -create-xcframework makes ios/CascadeFFIFFI.xcframework (device + simulator),
#     the package's binary target.
# None of the outputs is committed. Then: `cd ios && swift build` or open Package.swift in
# Xcode, and run the tests with
#   xcodebuild test -scheme CascadeFFI -destination 'platform=iOS Simulator,name=iPhone 16'
#
# Runs only on macOS with Xcode (xcodebuild, lipo) and rustup; it checks for them first. The
# project's development machines are Linux without a Swift toolchain, so this script has not
# been run there (scripts/test.sh checks that the Swift bindings generate).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
IOS="$ROOT/ios"
BUILD="$IOS/build"
SOURCES="$IOS/Sources/CascadeFFI"
FFI_MODULE="CascadeFFIFFI"
XCFRAMEWORK="$IOS/$FFI_MODULE.xcframework"
PROFILE="release-smaller"
DEVICE=aarch64-apple-ios
SIMULATORS=(aarch64-apple-ios-sim x86_64-apple-ios)

die() { printf 'build-xcframework: %s\n' "$*" >&2; exit 1; }

# --- checks ---------------------------------------------------------------------------------
[ "$(uname -s)" = Darwin ] || die "this needs macOS with Xcode (found $(uname -s)); the XCFramework
  cannot be built elsewhere. On Linux, scripts/test.sh checks that the Swift bindings generate."
command -v xcodebuild >/dev/null || die "xcodebuild not found: install Xcode and run
  'sudo xcode-select -s /Applications/Xcode.app'"
xcodebuild -version >/dev/null 2>&1 || die "xcodebuild does not run (only the Command Line Tools are
  selected?): install Xcode and run 'sudo xcode-select -s /Applications/Xcode.app'"
command -v lipo >/dev/null || die "lipo not found (part of Xcode)"
command -v cargo >/dev/null || die "cargo is needed (https://rustup.rs)"
command -v rustup >/dev/null || die "rustup is needed to add the iOS targets"
grep -q '^\[profile\.release-smaller\]' Cargo.toml \
  || die "the root Cargo.toml has no [profile.release-smaller]"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
rustup target add "$DEVICE" "${SIMULATORS[@]}"

# --- 1. static libraries --------------------------------------------------------------------
# --no-default-features: the library only, without the binding generator. The crate's
# declared crate types are cdylib and lib (a static archive in every host build would cost
# CI hundreds of megabytes and minutes); the static archive is asked for here only.
for target in "$DEVICE" "${SIMULATORS[@]}"; do
  echo "building $target"
  cargo rustc -p cascade-ffi --lib --no-default-features --locked \
    --profile "$PROFILE" --target "$target" --crate-type staticlib
  [ -f "$TARGET_DIR/$target/$PROFILE/libcascade_ffi.a" ] || die "no static library for $target"
done

# --- 2. one simulator library ---------------------------------------------------------------
rm -rf "$BUILD"
mkdir -p "$BUILD/device" "$BUILD/simulator" "$BUILD/headers"
cp "$TARGET_DIR/$DEVICE/$PROFILE/libcascade_ffi.a" "$BUILD/device/"
lipo -create \
  "$TARGET_DIR/${SIMULATORS[0]}/$PROFILE/libcascade_ffi.a" \
  "$TARGET_DIR/${SIMULATORS[1]}/$PROFILE/libcascade_ffi.a" \
  -output "$BUILD/simulator/libcascade_ffi.a"

# --- 3. Swift bindings ----------------------------------------------------------------------
# The generator reads the interface from a library's metadata. It is read from the host
# build (a .dylib, the same interface) rather than from the iOS archives, whose LTO'd objects
# are a less travelled path for the generator.
echo "generating the Swift bindings"
cargo build -p cascade-ffi --lib --locked
HOST_LIB="$TARGET_DIR/debug/libcascade_ffi.dylib"
[ -f "$HOST_LIB" ] || die "no host library $HOST_LIB"
GEN="$BUILD/swift"
mkdir -p "$GEN"
cargo run -q -p cascade-ffi --locked --bin uniffi-bindgen -- generate \
  --library "$HOST_LIB" --language swift --out-dir "$GEN"
for f in CascadeFFI.swift "$FFI_MODULE.h" "$FFI_MODULE.modulemap"; do
  [ -f "$GEN/$f" ] || die "uniffi-bindgen wrote no $f (check bindings/uniffi.toml [bindings.swift])"
done
rm -rf "$SOURCES"
mkdir -p "$SOURCES"
cp "$GEN/CascadeFFI.swift" "$SOURCES/"
cp "$GEN/$FFI_MODULE.h" "$BUILD/headers/"
# Inside an XCFramework the module map must be called module.modulemap.
cp "$GEN/$FFI_MODULE.modulemap" "$BUILD/headers/module.modulemap"

# --- 4. the XCFramework ---------------------------------------------------------------------
rm -rf "$XCFRAMEWORK"
xcodebuild -create-xcframework \
  -library "$BUILD/device/libcascade_ffi.a" -headers "$BUILD/headers" \
  -library "$BUILD/simulator/libcascade_ffi.a" -headers "$BUILD/headers" \
  -output "$XCFRAMEWORK"
echo "built ${XCFRAMEWORK#"$ROOT"/} and ${SOURCES#"$ROOT"/}/CascadeFFI.swift"
