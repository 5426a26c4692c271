//! Client behaviours of the fault, soak and linger tests: byte streams that
//! can be made or checked at any offset without being kept (the payload
//! generator of `portable_echo::testing::payload`), stalled
//! clients, resets, and a catalogue of misbehaving connections.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::common::*;

use portable_echo::testing::payload::{fill, first_mismatch};

/// A client socket with small kernel buffers (so little data fills them),
/// connected and switched to non-blocking.
pub(crate) fn small_buffered_client(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    clamp_segment_size(&socket);
    socket
        .connect(&addr.into())
        .expect("connecting a stalled client");
    socket.set_tcp_nodelay(true).unwrap();
    let client = TcpStream::from(socket);
    client.set_nonblocking(true).unwrap();
    client
}

/// A [`small_buffered_client`] that has read its greeting (blocking, bounded
/// by STEP) and is non-blocking again, ready to flood the server.
pub(crate) fn greeted_small_buffered_client(addr: SocketAddr) -> TcpStream {
    let mut client = small_buffered_client(addr);
    client.set_nonblocking(false).unwrap();
    client.set_read_timeout(Some(STEP)).unwrap();
    expect_greeting(&mut client, GREETING);
    client.set_nonblocking(true).unwrap();
    client
}

/// Writes `seed`'s byte stream from a non-blocking client that never reads,
/// until no write has succeeded for 100 ms: the server stopped reading and
/// every buffer on the way is full. Returns the bytes sent, or the error that
/// showed the server closed the connection meanwhile; any other error fails.
pub(crate) fn flood_until_quiet(
    client: &mut TcpStream,
    seed: u64,
    chunk_len: usize,
) -> io::Result<u64> {
    let started = Instant::now();
    let mut chunk = vec![0u8; chunk_len];
    let mut sent = 0u64;
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(100) {
        fill(seed, sent, &mut chunk);
        match client.write(&chunk) {
            Ok(n) => {
                sent += n as u64;
                quiet_since = Instant::now();
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(2))
            }
            Err(err) if is_disconnect(&err) => return Err(err),
            Err(err) => panic!("flooding client: {err}"),
        }
        assert!(started.elapsed() < STEP, "a flooding client never blocked");
        assert!(sent < 64 << 20, "a client that never reads sent 64 MiB");
    }
    Ok(sent)
}

/// Loopback's 64 KiB segments make Linux size a new connection's send buffer
/// at megabytes (ten segments' worth), so each stalled connection would soak
/// up megabytes in the kernel before the server's own backpressure is
/// reached. A 1460-byte MSS (Ethernet's) asked for in our SYN applies to both
/// directions and keeps those buffers near 100 KiB.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn clamp_segment_size(socket: &Socket) {
    use std::os::fd::AsRawFd;
    let mss: libc::c_int = 1460;
    // SAFETY: setsockopt with a valid descriptor and a c_int option value.
    let status = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MAXSEG,
            (&mss as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(
        status,
        0,
        "setting TCP_MAXSEG: {}",
        io::Error::last_os_error()
    );
}

/// Elsewhere the connection keeps its default segment size. Windows can only
/// read TCP_MAXSEG. macOS and the BSDs accept it only at or below the MSS a
/// new socket starts with (512 or 536 bytes; EINVAL above), and their
/// loopback buffers are not sized in segments, so there is nothing to clamp.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn clamp_segment_size(_socket: &Socket) {}

/// Sends RST instead of FIN on close (SO_LINGER 0), then closes.
pub(crate) fn reset(client: TcpStream) {
    let socket = Socket::from(client);
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    drop(socket);
}

pub(crate) fn is_disconnect(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

/// What [`misbehave`] did over its cycles.
#[derive(Default, Debug)]
pub(crate) struct FaultTally {
    /// Connections ended abruptly (RST, or closed with data unread): each
    /// may count as a failed connection on the server.
    pub(crate) abrupt: u64,
    /// Connections that half-closed and checked every byte of the echo.
    pub(crate) half_closed: u64,
    /// Bytes those half-closed connections got back, all verified.
    pub(crate) half_closed_bytes: u64,
    /// Connections that ended before reading the greeting: the server may
    /// never see them (accepting one that was already reset can fail with
    /// ECONNABORTED, which the server retries past).
    pub(crate) unseen: u64,
}

/// How many kinds of misbehaviour [`misbehave`] knows.
pub(crate) const MISBEHAVIOURS: usize = 7;

/// One cycle of a misbehaving client, of kind `kind`.
pub(crate) fn misbehave(addr: SocketAddr, kind: usize, seed: u64, tally: &mut FaultTally) {
    let len = 1 + (seed as usize * 7919) % (32 * 1024);
    let mut data = vec![0u8; len];
    fill(seed, 0, &mut data);
    match kind {
        // Sends, then resets while the server still owes the echo.
        0 => {
            let mut client = connect(addr);
            client.write_all(&data).unwrap();
            reset(client);
            tally.abrupt += 1;
            tally.unseen += 1;
        }
        // Reads part of the echo, then resets.
        1 => {
            let mut client = connect(addr);
            expect_greeting(&mut client, GREETING);
            client.write_all(&data).unwrap();
            let mut half = vec![0u8; len / 2];
            client.read_exact(&mut half).unwrap();
            assert_eq!(first_mismatch(seed, 0, &half), None, "partial echo differs");
            reset(client);
            tally.abrupt += 1;
        }
        // Sends, half-closes, and gets exactly the greeting and its bytes back.
        2 => {
            let mut client = connect(addr);
            client.write_all(&data).unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            let back = read_to_end(&mut client);
            assert_eq!(back.len(), GREETING.len() + len, "half-closed echo length");
            assert_eq!(&back[..GREETING.len()], GREETING);
            assert_eq!(
                first_mismatch(seed, 0, &back[GREETING.len()..]),
                None,
                "half-closed echo differs"
            );
            tally.half_closed += 1;
            tally.half_closed_bytes += len as u64;
        }
        // Half-closes at once: gets the greeting, then end of stream.
        3 => {
            let mut client = connect(addr);
            client.shutdown(Shutdown::Write).unwrap();
            assert_eq!(read_to_end(&mut client), GREETING);
            tally.half_closed += 1;
        }
        // Connects and leaves without reading anything.
        4 => {
            drop(connect(addr));
            tally.abrupt += 1;
            tally.unseen += 1;
        }
        // Sends and leaves with the echo unread (the close becomes a reset).
        5 => {
            let mut client = connect(addr);
            client.write_all(&data).unwrap();
            drop(client);
            tally.abrupt += 1;
            tally.unseen += 1;
        }
        // Sends without reading until the server stops reading from it
        // (backpressure), then resets.
        _ => {
            let mut client = greeted_small_buffered_client(addr);
            let mut sent = 0u64;
            let mut chunk = vec![0u8; 16 * 1024];
            loop {
                fill(seed, sent, &mut chunk);
                match client.write(&chunk) {
                    Ok(n) => sent += n as u64,
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                    Err(err) => panic!("stalling client: {err}"),
                }
                assert!(sent < 64 << 20, "a client that never reads sent 64 MiB");
            }
            reset(client);
            tally.abrupt += 1;
        }
    }
}

/// Sends and echoes round trips until `stop`; after `signalled`, the server
/// may end the echo between or inside round trips, with a clean end of
/// stream after its last echoed byte: never a reset, never a wrong byte.
pub(crate) fn load_client(
    addr: SocketAddr,
    seed: u64,
    signalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> (u64, u64, bool) {
    let mut client = connect(addr);
    expect_greeting(&mut client, GREETING);
    let mut offset = 0u64;
    let mut rounds = 0u64;
    let mut cut = false;
    let mut buf = vec![0u8; 8192];
    while !stop.load(Ordering::SeqCst) {
        let n = 1 + (seed as usize * 131 + rounds as usize * 977) % buf.len();
        fill(seed, offset, &mut buf[..n]);
        let result = client
            .write_all(&buf[..n])
            .and_then(|()| client.read_exact(&mut buf[..n]));
        if let Err(err) = result {
            assert!(
                signalled.load(Ordering::SeqCst),
                "client {seed}: {err} before any signal"
            );
            assert_eq!(
                err.kind(),
                ErrorKind::UnexpectedEof,
                "client {seed}: {err}: the stop must end the echo with an end of stream"
            );
            cut = true;
            break;
        }
        if let Some(at) = first_mismatch(seed, offset, &buf[..n]) {
            panic!("client {seed}: echo differs at byte {}", offset + at as u64);
        }
        offset += n as u64;
        rounds += 1;
    }
    if !cut {
        let _ = client.shutdown(Shutdown::Write);
        let mut rest = Vec::new();
        match client.read_to_end(&mut rest) {
            Ok(_) => assert_eq!(rest, b"", "client {seed}: bytes after its own"),
            Err(err) => panic!("client {seed}: {err} instead of an end of stream"),
        }
    }
    (rounds, offset, cut)
}
