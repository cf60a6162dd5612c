#!/usr/bin/env bash
# The Kotlin tests on the JVM: builds the host cdylib of `cascade-ffi`, generates its Kotlin
# bindings into a build directory (never committed), and runs the Maven build in
# android/jvm/, which compiles the Android library's Kotlin sources (generated bindings, the
# `org.cascade` layer, the tests) against plain JNA and runs them with JUnit 5.
#
# Why Maven: Gradle and the Android SDK cannot be downloaded on the development machines or
# CI, while Maven and its plugins come from Maven Central. Maven resolves from its local
# repository (MAVEN_REPO, default ~/.m2/repository) and only goes to the network for what is
# missing, so a warm run does not touch the network.
#
# Prints one closing line, "kotlin: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

die() { printf 'test-kotlin: %s\n' "$*" >&2; exit 1; }

command -v java >/dev/null || die "a Java runtime (17 or newer) is needed: apt-get install openjdk-17-jdk-headless"
command -v mvn >/dev/null || die "Maven is needed: apt-get install maven"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$(uname -s)" in
  Darwin) LIB_NAME=libcascade_ffi.dylib ;;
  *) LIB_NAME=libcascade_ffi.so ;;
esac
LIB_DIR="$TARGET_DIR/debug"
JVM_DIR="$ROOT/android/jvm"
GEN_DIR="$JVM_DIR/target/generated-sources/uniffi"

# --workspace --all-targets: the same feature set as `cargo test --workspace` (dev-
# dependencies included), so after the test step this reuses its build and links nothing
# new. With `-p cascade-ffi` alone cascade-core's features differ, and without
# --all-targets the dev-dependencies' features do (tempfile, getrandom): either way the
# uniffi generator and everything above it compiled again, 1.5 minutes of CI.
echo "building the cdylib and uniffi-bindgen (cargo build --workspace --all-targets)"
cargo build --workspace --all-targets --locked
[ -f "$LIB_DIR/$LIB_NAME" ] || die "no $LIB_DIR/$LIB_NAME after the build"
[ -x "$LIB_DIR/uniffi-bindgen" ] || die "no $LIB_DIR/uniffi-bindgen after the build"

echo "generating the Kotlin bindings into ${GEN_DIR#"$ROOT"/}"
rm -rf "$GEN_DIR"
mkdir -p "$GEN_DIR"
# Run from the crate directory, where uniffi-bindgen finds bindings/uniffi.toml.
(cd "$ROOT/bindings" && "$LIB_DIR/uniffi-bindgen" generate \
  --library "$LIB_DIR/$LIB_NAME" --language kotlin --no-format --out-dir "$GEN_DIR")
ls "$GEN_DIR"/org/cascade/ffi/*.kt >/dev/null 2>&1 || die "uniffi-bindgen wrote no Kotlin under $GEN_DIR/org/cascade/ffi"

MVN_ARGS=(-B -q -f "$JVM_DIR/pom.xml" "-Dcascade.libdir=$LIB_DIR")
[ -n "${MAVEN_REPO:-}" ] && MVN_ARGS+=("-Dmaven.repo.local=$MAVEN_REPO")

# The Kotlin compiler runs once per build inside Maven's JVM: the C1 JIT alone starts it
# faster (about half the CPU time of a full compile here).
export MAVEN_OPTS="${MAVEN_OPTS:-} -XX:TieredStopAtLevel=1"

echo "compiling and running the Kotlin tests (mvn test)"
rm -rf "$JVM_DIR/target/surefire-reports"
status=0
# (Debian's Maven 3.8 prints colour resets even in batch mode: strip them.)
mvn "${MVN_ARGS[@]}" test 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g' || status=$?

# Maven's -q hides Surefire's summary: count the results from its reports instead.
reports=("$JVM_DIR"/target/surefire-reports/TEST-*.xml)
if [ -e "${reports[0]}" ]; then
  awk '
    function attr(name,   m) {
      if (match($0, " " name "=\"[0-9]+\"")) {
        m = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", m); return m + 0
      }
      return 0
    }
    /<testsuite[ >]/ { t += attr("tests"); f += attr("failures") + attr("errors"); s += attr("skipped") }
    END { printf "kotlin: %d passed, %d failed, %d skipped\n", t - f - s, f, s }
  ' "${reports[@]}"
  # JUnit silently skips a @Test method that returns a value (an easy slip with
  # `= runBlocking { ... }` in Kotlin): every @Test in the sources must have run.
  declared=$(find android/cascade/src/test/kotlin -name '*.kt' -exec cat {} + | grep -c '^ *@Test$' || true)
  ran=$(cat "${reports[@]}" | grep -c '<testcase ' || true)
  if [ "$declared" -ne "$ran" ]; then
    echo "kotlin: $declared @Test methods declared but $ran ran (does one return a value?)"
    [ "$status" -ne 0 ] || status=1
  fi
else
  echo "kotlin: no test reports (the build failed before the tests ran)"
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
