//! Items of the contract that several backends share because their
//! platforms agree, as mio's src/sys shares its pieces: a backend
//! `pub(crate) use`s each one that holds for it and writes its own where
//! its platform differs. Each item is compiled for exactly the platforms
//! whose backends use it (its `cfg` names them), so none is dead anywhere.

use std::io;

use mio::net::{TcpListener, TcpStream};

/// mio's own accept: the connection non-blocking (and close-on-exec, with
/// accept4 where it exists), with its peer's address. Not on WASI preview
/// 2, where both would fail (wasip2.rs).
#[cfg(any(unix, windows, all(target_os = "wasi", target_env = "p1")))]
pub(crate) fn accept(
    listener: &mut TcpListener,
    _registry: &mio::Registry,
    _token: mio::Token,
) -> io::Result<super::Accepted> {
    listener.accept().map(|(stream, peer)| (stream, Some(peer)))
}

/// Closing never waits for the peer (it can on WASI preview 2: wasip2.rs).
#[cfg(any(unix, windows, all(target_os = "wasi", target_env = "p1")))]
pub(crate) fn close_would_wait(_stream: &TcpStream) -> bool {
    false
}

/// SO_LINGER with a zero timeout: closing sends a reset and discards what
/// is unsent, instead of an end of stream. Wherever a socket can be bound
/// (socket2 does not build for WASI preview 1, where none can).
#[cfg(not(all(target_os = "wasi", target_env = "p1")))]
pub(crate) fn set_reset_on_close(stream: &TcpStream) -> io::Result<()> {
    socket2::SockRef::from(stream).set_linger(Some(std::time::Duration::ZERO))
}

/// No soft descriptor limit to raise outside Unix: Windows' sockets are
/// handles, limited only by memory; WASI has no RLIMIT_NOFILE, and its
/// descriptors are the runtime's (with the host's limit, raised or not by
/// the runtime itself).
#[cfg(not(unix))]
pub(crate) fn raise_descriptor_limit(_needed: usize) -> io::Result<Option<super::DescriptorLimit>> {
    Ok(None)
}

/// Nothing to grow ahead of time outside Unix: Windows grows its handle
/// table by itself, without a pause the loop would see; wasi-libc's
/// `fcntl` has no F_DUPFD, and its descriptor table is not the kernel's.
#[cfg(not(unix))]
pub(crate) fn reserve_descriptors(_listener: &TcpListener, _count: usize) -> io::Result<()> {
    Ok(())
}

/// No cap on the listen queue to read outside Unix: Windows has no
/// system-wide one (`bind_listener` asks for the backlog itself through
/// `SOMAXCONN_HINT`), and on WASI it is the host kernel's, which a WASI
/// program cannot read.
#[cfg(not(unix))]
pub(crate) fn listen_backlog_cap() -> Option<u32> {
    None
}

/// What accept returns where errors are errno values (Unix, and WASI,
/// whose runtime passes the host's on) when the connection it took failed
/// in the listen queue: retried, as Linux's accept(2) asks ("Linux
/// accept() (and accept4()) passes already-pending network errors on the
/// new socket as an error code from accept() ... the application should
/// detect the network errors defined for the protocol after accept() and
/// treat them like EAGAIN by retrying": ENETDOWN, EPROTO, ENOPROTOOPT,
/// EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH, and EPERM,
/// "Firewall rules forbid connection"), of those the platform has (WASI
/// has no EHOSTDOWN or ENONET); the BSDs' and macOS' ECONNABORTED, "a
/// connection arrived, but it was closed while waiting on the listen
/// queue" (FreeBSD accept(2)); a reset, and a timeout pending on the new
/// socket.
#[cfg(any(unix, target_os = "wasi"))]
pub(crate) const LOST_BEFORE_ACCEPT: &[i32] = &[
    libc::ECONNABORTED,
    libc::ECONNRESET,
    libc::ETIMEDOUT,
    libc::ENETDOWN,
    libc::ENETUNREACH,
    #[cfg(not(target_os = "wasi"))]
    libc::EHOSTDOWN,
    libc::EHOSTUNREACH,
    libc::EPROTO,
    libc::ENOPROTOOPT,
    libc::EOPNOTSUPP,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    libc::ENONET,
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "wasi"))]
    libc::EPERM,
];

/// Out of descriptors (per process, per system) or of socket buffers and
/// memory (accept(2): "ENOBUFS, ENOMEM Not enough free memory"), where
/// errors are errno values (Unix, and wasi-libc's).
#[cfg(any(unix, target_os = "wasi"))]
pub(crate) const RESOURCE_EXHAUSTION: &[i32] =
    &[libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
