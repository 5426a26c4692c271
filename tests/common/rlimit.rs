//! RLIMIT_NOFILE, the one place the tests read and set it: this process's
//! (raised for tests that hold many clients, lowered to run out of
//! descriptors) and a launched child's. Unix only: Windows and WASI have no
//! per-process descriptor limit.

use std::process::Command;

/// The soft and hard limits now.
pub(crate) fn get() -> (libc::rlim_t, libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid rlimit struct that lives across the call.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0,
        "getrlimit(RLIMIT_NOFILE)"
    );
    (limit.rlim_cur, limit.rlim_max)
}

/// Sets this process's soft limit, keeping the hard one; returns the soft
/// limit it replaced.
pub(crate) fn set_soft(soft: libc::rlim_t) -> libc::rlim_t {
    let (was, hard) = get();
    let wanted = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit with a valid rlimit struct that lives across the call.
    assert_eq!(
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) },
        0,
        "setrlimit(RLIMIT_NOFILE, {soft})"
    );
    was
}

/// Has `command` start its process with `soft` / `hard`.
pub(crate) fn for_child(command: &mut Command, soft: libc::rlim_t, hard: libc::rlim_t) {
    use std::os::unix::process::CommandExt;
    let wanted = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit is async-signal-safe, so it may run between fork
    // and exec; it touches only the child.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}
