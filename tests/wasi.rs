//! WASI preview 1 cannot bind a socket; the library says so the way mio's
//! example does, and the binary panics with the same text (ci/ checks that).
#![cfg(target_os = "wasi")]

use std::io::ErrorKind;

use portable_echo::{BACKEND, BIND_UNSUPPORTED, Config, Server};

#[test]
fn bind_fails_with_unsupported_and_the_seed_message() {
    let err = match Server::bind(Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    }) {
        Ok(_) => panic!("bind succeeded on WASI preview 1"),
        Err(err) => err,
    };
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(err.to_string(), "can't bind to an address with wasi");
    assert_eq!(BIND_UNSUPPORTED, "can't bind to an address with wasi");
    assert_eq!(BACKEND, "wasi");
}
