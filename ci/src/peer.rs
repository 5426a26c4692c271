//! The fidelity probes' host peer: a socket outside the cell's runtime
//! (Wine, wasmtime, qemu-user) that resets a connection on request, as a
//! real server's clients do. A WASI program cannot reset at all (no
//! SO_LINGER; wasmtime shuts a dropped socket down before it closes it),
//! and under Wine a peer inside Wine is not the host's socket.
//!
//! The protocol, one request and one answer per line on a control
//! connection (tests/fidelity.rs is its client): `connect PORT` connects
//! to 127.0.0.1:PORT and answers `connected`; `reset` closes that
//! connection with SO_LINGER 0 and answers `reset`. Anything else, or a
//! failure, answers `error: ...`.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

/// The longest a `connect` may take: loopback answers at once.
const CONNECT: Duration = Duration::from_secs(10);

/// The peer of this process, started on first use and serving until the
/// process ends; the error says why it could not start.
pub fn address() -> Result<SocketAddr, String> {
    static PEER: OnceLock<Result<SocketAddr, String>> = OnceLock::new();
    PEER.get_or_init(|| start().map_err(|e| format!("starting the fidelity probes' host peer: {e}"))).clone()
}

fn start() -> io::Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for control in listener.incoming().flatten() {
            thread::spawn(move || serve(control));
        }
    });
    Ok(addr)
}

/// Serves one control connection until the probe closes it.
fn serve(control: TcpStream) -> io::Result<()> {
    let mut answers = control.try_clone()?;
    let mut connection = None;
    for request in BufReader::new(control).lines() {
        let answer = answer(&request?, &mut connection).unwrap_or_else(|e| format!("error: {e}"));
        writeln!(answers, "{answer}")?;
    }
    Ok(())
}

/// Carries out one request on the probe's `connection`.
fn answer(request: &str, connection: &mut Option<TcpStream>) -> Result<String, String> {
    match request.split_once(' ').unwrap_or((request, "")) {
        ("connect", port) => {
            let port: u16 = port.parse().map_err(|_| format!("{port:?} is not a port"))?;
            let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let stream = TcpStream::connect_timeout(&to, CONNECT).map_err(|e| format!("connecting to {to}: {e}"))?;
            *connection = Some(stream);
            Ok("connected".into())
        }
        ("reset", "") => {
            let stream = connection.take().ok_or("nothing to reset: no connection")?;
            socket2::SockRef::from(&stream)
                .set_linger(Some(Duration::ZERO))
                .map_err(|e| format!("setting SO_LINGER 0: {e}"))?;
            drop(stream);
            Ok("reset".into())
        }
        _ => Err(format!("unknown request {request:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The conversation tests/fidelity.rs has with the peer, and the reset
    /// the probe's end sees.
    #[test]
    fn the_peer_connects_then_resets_on_request() {
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let mut control = TcpStream::connect(address().unwrap()).unwrap();
        let mut answers = BufReader::new(control.try_clone().unwrap()).lines();
        let mut ask = |request: &str| {
            writeln!(control, "{request}").unwrap();
            answers.next().unwrap().unwrap()
        };
        assert_eq!(ask(&format!("connect {}", probe.local_addr().unwrap().port())), "connected");
        let (mut accepted, _) = probe.accept().unwrap();
        assert_eq!(ask("reset"), "reset");
        let read = accepted.read(&mut [0; 8]).map_err(|e| e.kind());
        assert_eq!(read, Err(io::ErrorKind::ConnectionReset));
        assert_eq!(ask("reset"), "error: nothing to reset: no connection");
        assert!(ask("connect x").starts_with("error: \"x\" is not a port"));
        assert!(ask("hello").starts_with("error: unknown request"));
    }
}
