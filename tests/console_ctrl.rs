//! Ctrl-C, the Windows console's stop request, delivered for real to the
//! launched binary. The test takes a console of its own (`FreeConsole`,
//! `AllocConsole`), survives the event with a handler that returns TRUE
//! (`SetConsoleCtrlHandler(None, TRUE)` would be inherited by the server as
//! "ignore Ctrl-C"), starts the server in the same process group and sends
//! `CTRL_C_EVENT` to group 0: every process on that console. This is the
//! pattern of the ctrlc crate's own tests (tests/main/harness.rs), which its
//! CI runs on windows-latest, and the one that reaches the server under
//! Wine 8.0 (Ctrl-Break to a new process group did not). The event reaches
//! every process on the console, so this binary holds one test only.
#![cfg(windows)]

mod common;

mod black_box {
    use crate::common::launch;
    use windows_sys::Win32::Foundation::TRUE;
    use windows_sys::Win32::System::Console::{
        AllocConsole, CTRL_C_EVENT, FreeConsole, GenerateConsoleCtrlEvent, GetStdHandle,
        STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, SetConsoleCtrlHandler, SetStdHandle,
    };
    use windows_sys::core::BOOL;

    /// Keeps this test process alive through the Ctrl-C it sends.
    unsafe extern "system" fn survive(_ctrl_type: u32) -> BOOL {
        TRUE
    }

    #[test]
    fn ctrl_c_in_a_shared_console_stops_cleanly() {
        // SAFETY: plain Win32 calls on this process's own console and standard
        // handles. AllocConsole points the standard handles at the new console;
        // putting back the old ones keeps the test's output where cargo reads it.
        unsafe {
            let standard = [STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE]
                .map(|which| (which, GetStdHandle(which)));
            FreeConsole();
            let allocated = AllocConsole();
            for (which, handle) in standard {
                SetStdHandle(which, handle);
            }
            assert_ne!(
                allocated,
                0,
                "AllocConsole: {}",
                std::io::Error::last_os_error()
            );
            assert_ne!(SetConsoleCtrlHandler(Some(survive), TRUE), 0);
        }
        let (stats, log) = launch::assert_request_stops_cleanly(&[], |_| {
            // SAFETY: as above.
            let sent = unsafe { GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0) };
            assert_ne!(
                sent,
                0,
                "GenerateConsoleCtrlEvent: {}",
                std::io::Error::last_os_error()
            );
        });
        assert!(log.contains("Ctrl-C/Ctrl-Break: shutting down"), "{log}");
        assert_eq!(stats.connections_served, 1, "{log}");
        assert_eq!(stats.bytes.echoed, 23, "{log}");
    }
}
