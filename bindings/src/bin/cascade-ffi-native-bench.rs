//! The Rust half of the FFI benchmark's trivial call (`scripts/ffi-bench.sh` runs it before
//! the Kotlin half): `libraryVersion()`'s exported C function, called in-process exactly as a
//! foreign binding calls it (a call status in, a `RustBuffer` out, the buffer then freed), so
//! the figure is what the library itself costs per call, without any foreign runtime.
//!
//! The Kotlin figure minus this one is the cost of the binding layer (JNA and uniffi's
//! generated Kotlin), which is where the trivial call's time goes.
//!
//! Usage: `cargo run --release -p cascade-ffi --bin cascade-ffi-native-bench [-- quick]`
#![forbid(unsafe_code)]

use cascade_ffi::uniffi_cascade_ffi_fn_func_library_version as library_version;
use std::time::Instant;

fn main() {
    let quick = std::env::args().nth(1).as_deref() == Some("quick");
    let iters: u32 = if quick { 200_000 } else { 2_000_000 };
    let rounds = if quick { 3 } else { 7 };
    let mut per_call = Vec::with_capacity(rounds);
    let mut bytes = 0usize;
    for round in 0..=rounds {
        let start = Instant::now();
        for _ in 0..iters {
            let mut status = uniffi::RustCallStatus::default();
            let buffer = library_version(&mut status);
            assert_eq!(status.code, uniffi::RustCallStatusCode::Success);
            // What the foreign side's free call does with a buffer Rust allocated.
            bytes += std::hint::black_box(buffer.destroy_into_vec()).len();
        }
        if round > 0 {
            // Round 0 warms up caches and the allocator.
            per_call.push(start.elapsed().as_nanos() as f64 / f64::from(iters));
        }
    }
    per_call.sort_by(f64::total_cmp);
    let median = per_call[per_call.len() / 2];
    println!("== FFI, Rust side only (the library's exported C functions called in-process)");
    println!(
        "   libraryVersion(): call + free of the returned buffer       {median:>10.0} ns/call   (median of {rounds} rounds of {iters}; {bytes} bytes returned in all)"
    );
}
