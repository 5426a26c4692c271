//! Counting this process's open descriptors (handles on Windows), for the
//! "no descriptor leaks" checks of tests/faults.rs and tests/soak.rs.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How descriptors are counted on this platform, printed with every figure.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const METHOD: &str = "entries of /proc/self/fd";
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
pub(crate) const METHOD: &str =
    "fcntl(F_GETFD) probe of every descriptor below the soft RLIMIT_NOFILE";
#[cfg(windows)]
pub(crate) const METHOD: &str = "GetProcessHandleCount";

/// Open descriptors of this process right now.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn count() -> usize {
    // read_dir holds one descriptor of its own while listing: not counted.
    let entries = std::fs::read_dir("/proc/self/fd")
        .expect("listing /proc/self/fd")
        .count();
    entries - 1
}

/// Open descriptors of this process right now: every descriptor number below
/// the soft limit (capped at 65536) that fcntl(F_GETFD) accepts.
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
pub(crate) fn count() -> usize {
    let (soft, _) = super::rlimit::get();
    let top = soft.min(65_536) as libc::c_int;
    // SAFETY: F_GETFD only reads the descriptor's flags; EBADF for closed ones.
    (0..top)
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1)
        .count()
}

/// Open handles of this process right now (sockets are handles on Windows).
#[cfg(windows)]
pub(crate) fn count() -> usize {
    use std::ffi::c_void;
    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn GetCurrentProcess() -> *mut c_void;
        fn GetProcessHandleCount(process: *mut c_void, count: *mut u32) -> i32;
    }
    let mut handles = 0u32;
    // SAFETY: the pseudo-handle of the current process and a valid out pointer.
    let ok = unsafe { GetProcessHandleCount(GetCurrentProcess(), &mut handles) };
    assert_ne!(ok, 0, "GetProcessHandleCount failed");
    handles as usize
    // Wine's stub reports 0: see unavailable().
}

/// Why descriptors cannot be counted here, if they cannot: the tests that
/// count print this instead of their figures (never a silent skip).
#[cfg(windows)]
pub(crate) fn unavailable() -> Option<String> {
    // Every process holds handles, so 0 means the call is a stub: Wine's
    // GetProcessHandleCount is (tests run under Wine in the windows-gnu cell).
    (count() == 0).then(|| {
        "GetProcessHandleCount reports 0 handles (a stub: Wine), so handle leaks \
         are not measurable in this process"
            .to_string()
    })
}

#[cfg(not(windows))]
pub(crate) fn unavailable() -> Option<String> {
    None
}

/// Whether a count is back at `baseline`. Unix counts descriptors only:
/// exactly. Windows counts every handle of the process, including the
/// thread handles the test harness opens and closes for the tests running
/// beside this one (and whatever per-thread state Winsock keeps): up to 16
/// handles above the baseline are noise there, while a leak of one handle
/// per connection shows as thousands after the churn or the soak.
#[cfg(not(windows))]
fn back_at(count: usize, baseline: usize) -> bool {
    count == baseline
}

#[cfg(windows)]
fn back_at(count: usize, baseline: usize) -> bool {
    count <= baseline + 16
}

/// Waits until the count is back to `baseline` (or below), up to `within`.
/// Returns the last count seen and how long it took; the caller asserts, so
/// the failure message carries the figures.
pub(crate) fn settle_to(baseline: usize, within: Duration) -> (usize, Duration) {
    let started = Instant::now();
    loop {
        let now = count();
        if now <= baseline || back_at(now, baseline) || started.elapsed() >= within {
            return (now, started.elapsed());
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Descriptor counts are per process and every test of a binary shares the
/// process: a test that counts takes this lock exclusively, the others take
/// it shared, so no other test opens or closes sockets while it counts.
static COUNTING: RwLock<()> = RwLock::new(());

/// Taken by a test that counts descriptors.
pub(crate) fn exclusive() -> RwLockWriteGuard<'static, ()> {
    COUNTING
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Taken by a test that opens sockets but does not count them.
pub(crate) fn shared() -> RwLockReadGuard<'static, ()> {
    COUNTING
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// For binaries whose tests must simply run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Prints the descriptor counts around a run and checks that the running
/// server came back to its idle count after `activity` and that stopping it
/// released everything it held (or says why this platform cannot tell).
pub(crate) fn check_returned(
    activity: &str,
    without_server: usize,
    baseline: usize,
    running: usize,
    settle_time: Duration,
    stopped: usize,
) {
    if let Some(why) = unavailable() {
        println!("descriptors: not checked on this platform: {why}");
        return;
    }
    println!(
        "descriptors ({METHOD}): {without_server} before the server, {baseline} with it idle, \
         {running} after {activity} with it running (settled in {settle_time:?}), \
         {stopped} after it stopped"
    );
    assert!(
        back_at(running, baseline),
        "descriptors leaked by the running server: {running}, {baseline} before"
    );
    assert!(
        back_at(stopped, without_server),
        "descriptors left after the server stopped: {stopped}, {without_server} before"
    );
}
