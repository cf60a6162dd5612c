//! The binding generator, pinned to the crate's uniffi version:
//! `cargo run -p cascade-ffi --bin uniffi-bindgen -- generate --library <libcascade_ffi.so>
//! --language kotlin|swift|python --out-dir <dir>`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
