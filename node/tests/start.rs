//! `cascade-node start` refuses an ABCI address it cannot own, before it launches CometBFT
//! and without touching what is already there.
//!
//! CometBFT is replaced by a shell script: these tests are about what happens before (and
//! instead of) running it. `start` records a child it launched in
//! `<home>/cometbft/cascade-node-child.pid`, which shows whether it got that far.

use cascade_node::cli::{start, StartOptions};
use cascade_node::config::NodeHome;
use cascade_node::NodeError;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A node home whose CometBFT `config.toml` names `proxy_app`, and a stand-in CometBFT
/// binary that exits at once with status 3.
fn home_with_proxy_app(dir: &Path, proxy_app: &str) -> (NodeHome, PathBuf) {
    let home = NodeHome::new(dir.join("node"));
    std::fs::create_dir_all(home.config_toml().parent().unwrap()).unwrap();
    std::fs::write(
        home.config_toml(),
        format!("proxy_app = \"{proxy_app}\"\nmoniker = \"t\"\n"),
    )
    .unwrap();
    let bin = dir.join("fake-cometbft");
    std::fs::write(&bin, "#!/bin/sh\nexit 3\n").unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    (home, bin)
}

fn child_pid_file(home: &NodeHome) -> PathBuf {
    home.cometbft().join("cascade-node-child.pid")
}

/// Another process already listens on the TCP address. `start` used to connect to that
/// listener, take it for its own server and launch CometBFT against the other process's
/// application before noticing that its own bind had failed.
#[test]
fn start_refuses_a_tcp_address_another_process_listens_on_before_launching_cometbft() {
    let dir = tempfile::tempdir().unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = other.local_addr().unwrap();
    let (home, bin) = home_with_proxy_app(dir.path(), &format!("tcp://{address}"));

    let result = start(&home, Some(bin), StartOptions::default());
    match &result {
        Err(NodeError::Server(reason)) => {
            assert!(reason.contains(&address.to_string()), "{reason}")
        }
        other => panic!("expected a server error naming {address}, got {other:?}"),
    }
    assert!(
        !child_pid_file(&home).exists(),
        "CometBFT was launched although the ABCI address belongs to another process"
    );
}

/// `proxy_app` names a Unix socket path that holds a regular file, or the live socket of
/// another process. `start` used to delete whatever was there.
#[test]
fn start_never_deletes_a_file_or_a_live_socket_at_the_unix_abci_path() {
    let dir = tempfile::tempdir().unwrap();

    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "not a socket").unwrap();
    let (home, bin) = home_with_proxy_app(dir.path(), &format!("unix://{}", file.display()));
    let result = start(&home, Some(bin.clone()), StartOptions::default());
    assert!(
        matches!(&result, Err(NodeError::Config { reason, .. }) if reason.contains("not a socket")),
        "{result:?}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a socket");
    assert!(!child_pid_file(&home).exists());

    let socket = dir.path().join("live.sock");
    let _other = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let (home, bin) = home_with_proxy_app(dir2.path(), &format!("unix://{}", socket.display()));
    let result = start(&home, Some(bin), StartOptions::default());
    assert!(
        matches!(&result, Err(NodeError::Server(reason)) if reason.contains("in use")),
        "{result:?}"
    );
    assert!(
        std::os::unix::net::UnixStream::connect(&socket).is_ok(),
        "the other process's socket was removed"
    );
    assert!(!child_pid_file(&home).exists());
}

/// A socket file left by a previous run (nothing listens on it) is still replaced.
#[test]
fn start_replaces_a_stale_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let (home, bin) = home_with_proxy_app(dir.path(), &format!("unix://{}", socket.display()));
    // The stand-in CometBFT exits with status 3 once launched: `start` got past the socket.
    let result = start(&home, Some(bin), StartOptions::default());
    assert!(
        matches!(&result, Err(NodeError::CometbftExited(status)) if status.contains('3')),
        "{result:?}"
    );
    assert!(child_pid_file(&home).exists());
}
