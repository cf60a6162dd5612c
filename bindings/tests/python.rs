//! The FFI surface through the bindings uniffi generates: the Python lifecycle tests
//! (`tests/python/test_lifecycle.py`) against the library cargo just built, and a check that
//! the Kotlin and Swift bindings generate cleanly with the types the apps use (there is no
//! Kotlin compiler run or Swift toolchain here: the Kotlin sources are compiled by the
//! `android/` Maven build, the Swift ones by `ios/` on macOS).
//!
//! Needs `python3` on the PATH (standard library only); without it the test fails with a
//! message saying so rather than skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `uniffi-bindgen`, built by cargo for this test (the `cli` feature is on by default).
const BINDGEN: &str = env!("CARGO_BIN_EXE_uniffi-bindgen");

/// The cdylib cargo built for this test run. `cargo test` writes it to `target/<profile>/deps/`
/// and only `cargo build` copies it up to `target/<profile>/`, so the copy there can be a
/// stale one from an earlier build: the newer of the two is the one just built.
fn cdylib() -> PathBuf {
    let dir = Path::new(BINDGEN)
        .parent()
        .expect("the bindgen binary lives in the target directory");
    let name = format!(
        "{}cascade_ffi{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let candidates = [dir.join(&name), dir.join("deps").join(&name)];
    candidates
        .iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.modified().ok()?, p)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| panic!("the cdylib {name} was not built; looked at {candidates:?}"))
}

/// Runs `uniffi-bindgen generate` for `language` into `out`.
fn generate(language: &str, out: &Path) {
    let output = Command::new(BINDGEN)
        // uniffi reads `uniffi.toml` through cargo metadata of this crate.
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["generate", "--no-format", "--metadata-no-deps", "--library"])
        .arg(cdylib())
        .args(["--language", language, "--out-dir"])
        .arg(out)
        .output()
        .expect("run uniffi-bindgen");
    assert!(
        output.status.success(),
        "uniffi-bindgen generate --language {language} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_contains(text: &str, file: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{file} lacks {needle:?}");
    }
}

#[test]
fn python_lifecycle_through_the_generated_bindings() {
    let python = Command::new("python3").arg("--version").output();
    assert!(
        matches!(&python, Ok(o) if o.status.success()),
        "python3 is needed to run the FFI tests (standard library only) but was not found \
         on the PATH: {python:?}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    generate("python", dir.path());
    let lib = cdylib();
    let file_name = lib.file_name().expect("library file name");
    std::fs::copy(&lib, dir.path().join(file_name)).expect("copy the library next to cascade.py");
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let output = Command::new("python3")
        .current_dir(&script_dir)
        .env("PYTHONPATH", dir.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(["-m", "unittest", "-v", "test_lifecycle"])
        .output()
        .expect("run python3");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    assert!(
        output.status.success(),
        "the Python FFI tests failed:\n{report}"
    );
    // unittest's summary: a run that executed nothing must not pass.
    let ran = report
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")?
                .split(' ')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or(0);
    assert!(
        ran >= 10,
        "expected the whole Python suite to run, it ran {ran} tests"
    );
}

#[test]
fn kotlin_and_swift_bindings_generate_with_the_app_facing_types() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kotlin = dir.path().join("kotlin");
    generate("kotlin", &kotlin);
    let kt = kotlin.join("org/cascade/ffi/cascade.kt");
    assert_contains(
        &read(&kt),
        "cascade.kt",
        &[
            "package org.cascade.ffi",
            "open class Wallet",
            "open class SoloNode",
            "open class KeyPair",
            "suspend fun `refresh`()",
            "interface HostSigner",
            "interface HttpClient",
            "interface WalletListener",
            "sealed class WalletException",
            "class Refused(",
            "sealed class PieceState",
            "data class PieceInfo (",
            "data class ObligorRecord (",
            "data class SettledFaces (",
            "suspend fun `obligorRecord`(",
            "override fun toString(): String",
            "fun `generateKey`()",
        ],
    );

    let swift = dir.path().join("swift");
    generate("swift", &swift);
    let sw = read(&swift.join("CascadeFFI.swift"));
    assert_contains(
        &sw,
        "CascadeFFI.swift",
        &[
            "open class Wallet",
            "open class SoloNode",
            "func refresh() async throws",
            "public protocol HostSigner",
            "public protocol HttpClient",
            "public protocol WalletListener",
            "enum WalletError: Swift.Error",
            "case Refused(",
            "*/code: UInt32",
            "public struct PieceInfo",
            "public enum PieceState",
            "public var description: String",
            "public func generateKey()",
        ],
    );
    let header = read(&swift.join("CascadeFFIFFI.h"));
    assert!(header.contains("uniffi_cascade_ffi_fn_method_wallet_refresh"));
    let modulemap = read(&swift.join("CascadeFFIFFI.modulemap"));
    assert!(modulemap.contains("module CascadeFFIFFI"), "{modulemap}");
}
