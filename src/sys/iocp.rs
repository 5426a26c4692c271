//! Windows: mio emulates readiness with AFD polls completed through an I/O
//! completion port.

use std::io;
use std::net::SocketAddr;
use std::os::windows::io::AsRawSocket;

use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};
use windows_sys::Win32::Networking::WinSock::{
    SO_EXCLUSIVEADDRUSE, SOCKET, SOL_SOCKET, WSA_NOT_ENOUGH_MEMORY, WSAECONNABORTED, WSAECONNRESET, WSAEMFILE,
    WSAENOBUFS, WSAENOTCONN, WSAETIMEDOUT, setsockopt,
};

use super::OnStopRequest;

// Sockets are handles here: no descriptor limit to raise or table to grow,
// and no readable cap on the listen queue (see shared.rs).
pub(crate) use super::shared::{
    accept, close_would_wait, listen_backlog_cap, raise_descriptor_limit, reserve_descriptors,
    set_reset_on_close,
};
pub(crate) use super::stdin_thread::StdinEof;
pub(crate) use mio::Waker;

pub(crate) const BACKEND: &str = "iocp";

/// mio submits a new AFD poll only after an operation returns `WouldBlock`;
/// a short read or write proves nothing, so the loop must go on until then.
pub(crate) const SHORT_IO_PROVES_WOULD_BLOCK: bool = false;

/// Binds with SO_EXCLUSIVEADDRUSE: no other socket can bind the same port,
/// even one that sets SO_REUSEADDR (Windows' SO_REUSEADDR allows hijacking a
/// port in use, which is why mio never sets it there). socket2 creates the
/// socket with WSA_FLAG_NO_HANDLE_INHERIT (Windows' close-on-exec).
///
/// Windows treats a plain backlog above 200 as "a reasonable maximum";
/// `SOMAXCONN_HINT(N)`, written `-N` (winsock2.h), asks for N itself,
/// clamped to 200..=65535.
pub(crate) fn bind_listener(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?; // Windows' default, said explicitly
    }
    set_exclusive_address_use(&socket)?;
    socket.bind(&addr.into())?;
    let hint = i32::try_from(backlog.min(65535)).unwrap_or(65535);
    socket.listen(-hint)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}

fn set_exclusive_address_use(socket: &Socket) -> io::Result<()> {
    let enable: i32 = 1;
    // SAFETY: the socket handle is valid for the call; optval points to an
    // i32 that lives across it and optlen is its size.
    let rc = unsafe {
        setsockopt(
            socket.as_raw_socket() as SOCKET,
            SOL_SOCKET,
            SO_EXCLUSIVEADDRUSE,
            (&enable as *const i32).cast(),
            size_of::<i32>() as i32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What accept returns when the connection it took failed before it was
/// accepted: WSAECONNRESET, "An incoming connection was indicated, but was
/// subsequently terminated by the remote peer prior to accepting the call"
/// (Microsoft's `accept` documentation); an abort or a timeout of that
/// connection; and WSAENOTCONN, which Wine 8.0 returns for a client that
/// reset before it was accepted: its accept takes the host's connection,
/// then its getpeername fails with ENOTCONN (dlls/ws2_32/socket.c, `accept`).
/// A listener is never connected, so it can only be that connection's. Not WSAENETDOWN: on Windows it means "The network
/// subsystem has failed", which no retry mends.
pub(crate) const LOST_BEFORE_ACCEPT: &[i32] = &[WSAECONNRESET, WSAECONNABORTED, WSAETIMEDOUT, WSAENOTCONN];

/// Out of descriptors, buffers or memory: WSAEMFILE, "The queue is
/// nonempty upon entry to accept and there are no descriptors available";
/// WSAENOBUFS, "No buffer space is available"; WSA_NOT_ENOUGH_MEMORY.
pub(crate) const RESOURCE_EXHAUSTION: &[i32] = &[WSAEMFILE, WSAENOBUFS, WSA_NOT_ENOUGH_MEMORY];

/// Ctrl-C and Ctrl-Break (the console's way to ask a program to stop).
pub(crate) fn watch_shutdown_signals(on_signal: OnStopRequest) -> io::Result<()> {
    ctrlc::set_handler(move || on_signal("Ctrl-C/Ctrl-Break")).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_a_lost_connection_exhaustion_or_unexpected() {
        use super::super::{AcceptError, accept_error};
        let kind = |code| accept_error(&io::Error::from_raw_os_error(code));
        for code in [WSAECONNRESET, WSAECONNABORTED, WSAENOTCONN] {
            assert_eq!(kind(code), AcceptError::LostConnection, "code {code}");
        }
        for code in [WSAEMFILE, WSAENOBUFS, WSA_NOT_ENOUGH_MEMORY] {
            assert_eq!(kind(code), AcceptError::Exhausted, "code {code}");
        }
        let network_down = windows_sys::Win32::Networking::WinSock::WSAENETDOWN;
        assert_eq!(kind(network_down), AcceptError::Unexpected);
    }
}
