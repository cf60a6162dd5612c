//! No `unsafe` outside the FFI crate: every crate root of `core`, `node` and `tests`
//! (libraries and binaries) declares `#![forbid(unsafe_code)]`, so the compiler refuses
//! `unsafe` in them, and no Rust source of those crates (tests included, which are crate roots
//! of their own) contains the `unsafe` keyword at all. Only `bindings/` may use it.

use std::path::{Path, PathBuf};

const CRATES: &[&str] = &["core", "node", "tests"];
const FORBID: &str = "#![forbid(unsafe_code)]";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ has a parent")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source with comments, string and character literals blanked out, so only code remains.
fn code_only(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) {
            // Raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    _ => j += 1,
                }
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn has_unsafe_keyword(code: &str) -> bool {
    code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|word| word == "unsafe")
}

#[test]
fn the_scanner_sees_unsafe_in_code_and_not_in_comments_or_strings() {
    assert!(has_unsafe_keyword(&code_only("fn f() { unsafe { g() } }")));
    assert!(has_unsafe_keyword(&code_only("unsafe fn f() {}")));
    assert!(has_unsafe_keyword(&code_only(
        "let c = '\"'; unsafe { g() }"
    )));
    assert!(has_unsafe_keyword(&code_only(
        "fn f<'a>(x: &'a u8) { unsafe { g() } }"
    )));
    assert!(!has_unsafe_keyword(&code_only("// unsafe here\nfn f() {}")));
    assert!(!has_unsafe_keyword(&code_only("/* unsafe */ fn f() {}")));
    assert!(!has_unsafe_keyword(&code_only(
        "let s = \"an unsafe word\";"
    )));
    assert!(!has_unsafe_keyword(&code_only("let s = r#\"unsafe\"#;")));
    assert!(!has_unsafe_keyword(&code_only("#![forbid(unsafe_code)]")));
}

#[test]
fn no_unsafe_outside_the_ffi_crate() {
    let root = workspace();
    let mut files = Vec::new();
    for krate in CRATES {
        rust_files(&root.join(krate), &mut files);
    }
    assert!(
        files.len() > 20,
        "found only {} source files under {CRATES:?}",
        files.len()
    );
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| {
            let src = std::fs::read_to_string(f).expect("source is UTF-8");
            has_unsafe_keyword(&code_only(&src))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "`unsafe` outside bindings/: {offenders:?}"
    );
}

#[test]
fn every_library_and_binary_root_forbids_unsafe() {
    let root = workspace();
    let mut roots = Vec::new();
    for krate in CRATES {
        let src = root.join(krate).join("src");
        for name in ["lib.rs", "main.rs"] {
            if src.join(name).exists() {
                roots.push(src.join(name));
            }
        }
        rust_files(&src.join("bin"), &mut roots);
    }
    assert!(roots.len() >= 5, "found only {} crate roots", roots.len());
    let missing: Vec<String> = roots
        .iter()
        .filter(|f| {
            let src = std::fs::read_to_string(f).expect("source is UTF-8");
            !src.lines().any(|l| l.trim() == FORBID)
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "crate roots without {FORBID}: {missing:?}"
    );
}
