//! Listening as users expect: several addresses served by one loop, one
//! shared port for port 0, IPv6 addresses that take IPv6 clients only on
//! every platform. Host names and the descriptor limit are the binary's:
//! tests/cli.rs.
//!
//! The IPv6 tests need the IPv6 loopback `::1`. Every runtime of the
//! matrix has it (qemu-user, Wine and wasmtime use the host's sockets); a
//! machine without it fails them with that reason, it does not skip them.
//! Not on WASI in process (no thread to be a client from): the black-box
//! variants run against the WASI preview 2 binary, and tests/wasi.rs binds
//! several addresses there.
#![cfg(not(target_os = "wasi"))]

mod common;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};

use common::*;
use portable_echo::{Config, Server};

/// The config of `config()` listening on `addrs`.
fn listening_on(addrs: &[&str]) -> Config {
    Config {
        addrs: addrs.iter().map(|addr| addr.parse().unwrap()).collect(),
        ..config()
    }
}

/// `addr` with the IP `ip`.
fn at(ip: &str, addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), addr.port())
}

/// Whether a client to `addr` is refused (nothing listens there).
fn refused(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, STEP) {
        Ok(_) => false,
        Err(err) if err.kind() == ErrorKind::ConnectionRefused => true,
        Err(err) => panic!("connecting to {addr}: {err}"),
    }
}

/// Starts `config` on the IPv6 loopback, failing with the reason where
/// the machine has none.
fn start_with_ipv6(mode: Mode, config: Config) -> TestServer {
    if let Err(err) = StdListener::bind("[::1]:0") {
        panic!("this test needs the IPv6 loopback ::1, which this machine lacks: {err}");
    }
    start(mode, config)
}

/// 127.0.0.1 and ::1, both with port 0: one loop serves both, on one port.
fn every_address_serves_on_one_shared_port(mode: Mode) {
    let server = start_with_ipv6(mode, listening_on(&["127.0.0.1:0", "[::1]:0"]));
    let [v4, v6] = server.addrs[..] else {
        panic!("two addresses, got {:?}", server.addrs);
    };
    assert_ne!(v4.port(), 0);
    assert_eq!((v4, v6), (at("127.0.0.1", v4), at("::1", v4)));
    serves(v4);
    serves(v6);
    serves(v4);
    assert_eq!(server.stop().connections_served, 3);
}

/// `[::]` takes IPv6 clients only, on every platform (IPV6_V6ONLY is set
/// explicitly: Linux would default it off and take IPv4 clients too).
fn the_ipv6_wildcard_takes_no_ipv4_client(mode: Mode) {
    let server = start_with_ipv6(mode, listening_on(&["[::]:0"]));
    serves(at("::1", server.addr));
    assert!(
        refused(at("127.0.0.1", server.addr)),
        "an IPv4 client reached a server listening on [::] only"
    );
    assert_eq!(server.stop().connections_served, 1);
}

/// The documented way to take both: `0.0.0.0` and `[::]`, on one port.
/// Without IPV6_V6ONLY, Linux refuses the second (the port is taken).
fn ipv4_and_ipv6_wildcards_together_serve_both(mode: Mode) {
    let server = start_with_ipv6(mode, listening_on(&["0.0.0.0:0", "[::]:0"]));
    assert_eq!(server.addrs[0].port(), server.addrs[1].port());
    serves(at("127.0.0.1", server.addr));
    serves(at("::1", server.addr));
    assert_eq!(server.stop().connections_served, 2);
}

in_both_modes!(
    every_address_serves_on_one_shared_port,
    the_ipv6_wildcard_takes_no_ipv4_client,
    ipv4_and_ipv6_wildcards_together_serve_both,
);

/// When one address cannot be bound, the error names it and the addresses
/// bound before it are closed again. A port found free is free for anyone:
/// another test of this binary binding port 0 may be given it before the
/// server binds it or after the server frees it. Either race is tried again
/// with fresh ports; a server that leaves its listener bound fails every
/// attempt.
#[test]
fn a_failed_address_names_itself_and_leaves_nothing_bound() {
    const ATTEMPTS: usize = 3;
    let mut races = Vec::new();
    for _ in 0..ATTEMPTS {
        let free = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let taken = StdListener::bind("127.0.0.1:0").unwrap();
        let taken_addr = taken.local_addr().unwrap();
        let err = Server::bind(Config {
            addrs: vec![free, taken_addr],
            ..config()
        })
        .err()
        .unwrap_or_else(|| panic!("{taken_addr} was bound twice"));
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        if err.to_string().starts_with(&format!("binding {free}: ")) {
            races.push(format!("{free} was taken before the server bound it"));
            continue;
        }
        assert!(
            err.to_string()
                .starts_with(&format!("binding {taken_addr}: ")),
            "{err}"
        );
        match StdListener::bind(free) {
            Ok(_) => return,
            Err(err) => races.push(format!("{free} in use after the failed bind: {err}")),
        }
    }
    panic!("no attempt of {ATTEMPTS} ended with the first address free again: {races:?}");
}

#[test]
fn no_address_or_one_address_twice_is_refused() {
    let err = Server::bind(listening_on(&[])).expect_err("no address");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.to_string(), "no address to listen on");
    let err =
        Server::bind(listening_on(&["127.0.0.1:0", "127.0.0.1:0"])).expect_err("an address twice");
    assert_eq!(err.to_string(), "127.0.0.1:0 is given twice");
}

/// A zero `max_pending`, `max_connections` or `backlog` is refused before
/// anything is bound, naming the field and the value: the same values the
/// flags refuse (tests/cli.rs).
#[test]
fn a_zero_count_is_refused_naming_its_field() {
    let one = listening_on(&["127.0.0.1:0"]);
    for (config, message) in [
        (
            Config {
                max_pending: 0,
                ..one.clone()
            },
            "max_pending must be at least 1, got 0",
        ),
        (
            Config {
                max_connections: 0,
                ..one.clone()
            },
            "max_connections must be at least 1, got 0",
        ),
        (
            Config {
                backlog: 0,
                ..one.clone()
            },
            "backlog must be at least 1, got 0",
        ),
    ] {
        let err = Server::bind(config).expect_err(message);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.to_string(), message);
    }
    let least = Config {
        max_pending: 1,
        max_connections: 1,
        backlog: 1,
        ..one
    };
    assert!(least.validate().is_ok());
}
