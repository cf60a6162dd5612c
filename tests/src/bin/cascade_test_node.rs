//! `cascade-node` under another name, for the network tests (see `Cargo.toml`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    cascade_node::cli::main()
}
