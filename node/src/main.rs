//! `cascade-node`: see `cascade-node --help` and the crate documentation.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    cascade_node::cli::main()
}
