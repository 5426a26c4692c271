//! WASI, in process (these tests run under wasmtime). Preview 1 cannot bind a
//! socket: the library says so the way mio's example does, and the binary
//! panics with the same text (ci/ checks that). Preview 2 binds through
//! wasi:sockets; its serving is checked from outside by the black-box tests
//! (tests/echo.rs and others, launched under wasmtime), since a WASI program
//! has no second thread to be a client from.
#![cfg(target_os = "wasi")]

use std::io::ErrorKind;

use portable_echo::{BACKEND, Config, Server};

fn loopback() -> Config {
    Config {
        addrs: vec!["127.0.0.1:0".parse().unwrap()],
        ..Config::default()
    }
}

#[cfg(target_env = "p1")]
#[test]
fn bind_fails_with_unsupported_and_the_seed_message() {
    let err = match Server::bind(loopback()) {
        Ok(_) => panic!("bind succeeded on WASI preview 1"),
        Err(err) => err,
    };
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(err.to_string(), "can't bind to an address with wasi");
    assert_eq!(BACKEND, "wasi");
}

#[cfg(not(target_env = "p1"))]
#[test]
fn preview_2_binds_an_ephemeral_port_with_the_poll_backend() {
    let server = Server::bind(loopback()).expect("binding 127.0.0.1:0 on WASI preview 2");
    assert_ne!(server.local_addr().port(), 0);
    assert_eq!(server.backend(), "poll");
    assert_eq!(BACKEND, "poll");
}

#[cfg(not(target_env = "p1"))]
#[test]
fn preview_2_names_the_address_in_use() {
    let first = Server::bind(loopback()).unwrap();
    let addr = first.local_addr();
    let err = match Server::bind(Config {
        addrs: vec![addr],
        ..loopback()
    }) {
        Ok(_) => panic!("second bind of {addr} succeeded"),
        Err(err) => err,
    };
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    assert!(
        err.to_string().starts_with(&format!("binding {addr}: ")),
        "{err}"
    );
}

/// Several addresses on one shared port, IPv6 among them (the serving of
/// both is checked from outside, tests/listen.rs under wasmtime).
#[cfg(not(target_env = "p1"))]
#[test]
fn preview_2_binds_ipv4_and_ipv6_loopback_on_one_port() {
    let server = Server::bind(Config {
        addrs: vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()],
        ..loopback()
    })
    .expect("binding 127.0.0.1:0 and [::1]:0 on WASI preview 2");
    let [v4, v6] = server.local_addrs() else {
        panic!("two addresses, got {:?}", server.local_addrs());
    };
    assert_ne!(v4.port(), 0);
    assert_eq!(v4.port(), v6.port());
    assert!(v4.is_ipv4() && v6.is_ipv6());
}
