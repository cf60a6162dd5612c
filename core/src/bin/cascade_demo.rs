//! `cascade-demo`: the whole life of a receivable certificate on a solo chain.
//!
//! The scenario is [`cascade_core::demo::run`]: a core enterprise issues 1,000,000.00 CNY,
//! the certificate is split down three supplier tiers, a tier-3 supplier discounts part of
//! its piece with a bank, and at maturity every holder is paid. Every transaction goes into a
//! block of an in-process single-validator chain whose headers a light client verifies; the
//! holdings, clearing list and lineage shown are proven against the verified app hash. The
//! binary exits non-zero if anything fails.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut stdout = std::io::stdout();
    match cascade_core::demo::run(&mut stdout) {
        Ok(report) => {
            println!(
                "\ndemo finished: all checks passed ({} blocks, {} headers and {} proofs verified)",
                report.height, report.headers_verified, report.proofs_verified
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\ndemo FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
