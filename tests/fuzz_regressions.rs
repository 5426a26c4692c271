//! Inputs the fuzz target (fuzz/, `connection`) found to violate an
//! invariant, as ordinary tests: each is the `Script` the crash printed
//! (minimized with `cargo fuzz tmin`), run through the same checks as in
//! the fuzzer (`portable_echo::testing::Checker`). Socket-free: runs on
//! every target, under Miri too.

use std::io::ErrorKind;

use portable_echo::connection::{Outcome, Readiness};
use portable_echo::testing::{Op, Script, Setup, pattern};

/// A direct echo (nothing else owed) whose first write is short but does
/// not prove `WouldBlock` (poll(2), IOCP), and whose next write fails:
/// the bytes of the first write reached the peer, yet `bytes_echoed` did
/// not count them (it was added up after the write loop, which the error
/// left early). Found by the fuzzer as
/// `minimized-from-36ccea35042659a764fcfe4d752bf2f8f5b51b26` (37 bytes;
/// here with a shorter pattern: 50115 bytes in the crash).
#[test]
fn bytes_written_before_a_failing_write_are_counted_as_echoed() {
    let script = Script {
        setup: Setup {
            greeting: vec![],
            max_pending: 57765,
            short_io_proves_would_block: false,
            reads_per_turn: 48,
            read_buf_len: 62463,
            write_capacity: Some(255),
        },
        ops: vec![
            Op::Send(pattern(1000, 1)),
            Op::WriteFaults(vec![None, Some(ErrorKind::UnexpectedEof)]),
            Op::Drive(Readiness {
                readable: true,
                writable: false,
                read_closed: false,
            }),
        ],
    };
    match script.run() {
        Ok(Outcome::Failed(err)) => assert_eq!(err.kind(), ErrorKind::UnexpectedEof),
        other => panic!("expected the injected failure, got {other:?}"),
    }
}
