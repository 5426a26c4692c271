//! Pieces shared by every Unix backend: only the readiness mechanism differs
//! between them, not sockets, errors or signals.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use mio::net::TcpListener;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use socket2::{Domain, Socket, Type};

use super::{DescriptorLimit, OnStopRequest};

pub(crate) use super::shared::{
    LOST_BEFORE_ACCEPT, RESOURCE_EXHAUSTION, accept, close_would_wait, set_reset_on_close,
};
pub(crate) use super::stdin_thread::StdinEof;
pub(crate) use mio::Waker;

/// SO_REUSEADDR, so a restart is not refused while old connections sit in
/// TIME_WAIT (mio and std set it too). socket2 creates the socket
/// close-on-exec (SOCK_CLOEXEC, or FD_CLOEXEC where that flag does not exist).
/// IPV6_V6ONLY on: Linux defaults it off, the BSDs and macOS on, and
/// OpenBSD refuses to turn it off.
pub(crate) fn bind_listener(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    // listen(2) takes an int; anything larger is capped by the kernel anyway.
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// The kernel caps the listen queue silently: Linux at `net.core.somaxconn`
/// (4096 since 5.4, 128 before), macOS and the BSDs at `kern.ipc.somaxconn`
/// (128 on macOS).
pub(crate) fn listen_backlog_cap() -> Option<u32> {
    cfg_if::cfg_if! {
        if #[cfg(any(target_os = "linux", target_os = "android"))] {
            std::fs::read_to_string("/proc/sys/net/core/somaxconn")
                .ok()?
                .trim()
                .parse()
                .ok()
        } else if #[cfg(any(
            target_os = "dragonfly",
            target_os = "freebsd",
            target_os = "ios",
            target_os = "macos",
            target_os = "netbsd",
        ))] {
            u32::try_from(sysctl_int(c"kern.ipc.somaxconn")?).ok()
        } else {
            None
        }
    }
}

/// The soft limit goes up to `needed`, never down, and never past the hard
/// limit; on Apple systems also not past `kern.maxfilesperproc`, where
/// setrlimit refuses more even when the hard limit is "unlimited".
pub(crate) fn raise_descriptor_limit(needed: usize) -> io::Result<Option<DescriptorLimit>> {
    let mut limit = nofile()?;
    let (was, hard) = (to_usize(limit.rlim_cur), to_usize(limit.rlim_max));
    let ceiling = per_process_ceiling().map_or(hard, |per_process| hard.min(per_process));
    let now = needed.min(ceiling).max(was);
    if now > was {
        limit.rlim_cur = libc::rlim_t::try_from(now).unwrap_or(libc::rlim_t::MAX);
        // SAFETY: `limit` is a valid rlimit that lives across the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(Some(DescriptorLimit { was, now, hard }))
}

/// Apple's `kern.maxfilesperproc`: setrlimit refuses a soft limit above it.
fn per_process_ceiling() -> Option<usize> {
    cfg_if::cfg_if! {
        if #[cfg(any(target_os = "ios", target_os = "macos"))] {
            usize::try_from(sysctl_int(c"kern.maxfilesperproc")?).ok()
        } else {
            None
        }
    }
}

/// The process's RLIMIT_NOFILE.
fn nofile() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit that lives across the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(limit)
}

/// An rlimit value as a count (RLIM_INFINITY becomes usize::MAX).
#[allow(
    clippy::useless_conversion,
    reason = "rlim_t is usize on Haiku, u64 elsewhere"
)]
fn to_usize(value: libc::rlim_t) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// An integer sysctl, read by name.
#[cfg(any(
    target_os = "dragonfly",
    target_os = "freebsd",
    target_os = "ios",
    target_os = "macos",
    target_os = "netbsd",
))]
fn sysctl_int(name: &std::ffi::CStr) -> Option<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>();
    // SAFETY: the name is NUL-terminated; `value` and `len` live across
    // the call and `len` is the size of `value`.
    let rc = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            (&raw mut value).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (rc == 0).then_some(value)
}

/// Grows the descriptor table at once to hold `count` descriptors (capped at
/// the soft RLIMIT_NOFILE), so a burst of connections does not grow it one
/// doubling at a time while clients wait. On Linux each growth of the table
/// of a process with more than one thread (the binary has its signal
/// thread) waits for an RCU grace period (`expand_fdtable` calls
/// `synchronize_rcu`): each doubling during a burst stalls the loop for
/// milliseconds, and every client in the listen queue waits with it.
///
/// `fcntl(F_DUPFD_CLOEXEC, n)` takes the lowest free descriptor at or above
/// `n` (it never replaces one in use, unlike `dup2`) and grows the table to
/// hold it; closing it again keeps the table's size.
pub(crate) fn reserve_descriptors(listener: &TcpListener, count: usize) -> io::Result<()> {
    let cap = to_usize(nofile()?.rlim_cur);
    let highest = count.min(cap).saturating_sub(1);
    let Ok(highest) = libc::c_int::try_from(highest) else {
        return Ok(());
    };
    // SAFETY: the listener's descriptor is open for the call; F_DUPFD_CLOEXEC
    // creates a new descriptor, which only this function owns.
    let fd = unsafe { libc::fcntl(listener.as_raw_fd(), libc::F_DUPFD_CLOEXEC, highest) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was created above and is closed exactly once.
    unsafe { libc::close(fd) };
    Ok(())
}

pub(crate) fn watch_shutdown_signals(on_signal: OnStopRequest) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("shutdown-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                on_signal(if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                });
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_a_lost_connection_exhaustion_or_unexpected() {
        use super::super::{AcceptError, accept_error};
        let kind = |errno| accept_error(&io::Error::from_raw_os_error(errno));
        // Linux accept(2)'s list of pending network errors, then the BSDs' abort.
        for errno in [
            libc::ENETDOWN,
            libc::EPROTO,
            libc::ENOPROTOOPT,
            libc::EHOSTDOWN,
            libc::EHOSTUNREACH,
            libc::EOPNOTSUPP,
            libc::ENETUNREACH,
            libc::ECONNABORTED,
            libc::ECONNRESET,
        ] {
            assert_eq!(kind(errno), AcceptError::LostConnection, "errno {errno}");
        }
        #[cfg(target_os = "linux")]
        assert_eq!(kind(libc::ENONET), AcceptError::LostConnection);
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert_eq!(kind(errno), AcceptError::Exhausted, "errno {errno}");
        }
        for errno in [libc::EBADF, libc::EINVAL, libc::ENOTSOCK, libc::EFAULT] {
            assert_eq!(kind(errno), AcceptError::Unexpected, "errno {errno}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    #[cfg_attr(miri, ignore = "reads /proc, which Miri's isolation forbids")]
    fn the_linux_backlog_cap_is_read_from_proc() {
        let cap = listen_backlog_cap().expect("/proc/sys/net/core/somaxconn is readable");
        assert!(cap >= 128, "somaxconn {cap}");
    }
}
