//! Property tests of the connection state machine, without sockets: random
//! [`Script`]s ([`Script::strategy`]: chunkings of the peer's bytes, short
//! writes, interleavings of readiness with spurious wake-ups, half-close at
//! any point, max-pending, read-buffer size and read budget, injected I/O
//! errors), run under the one model of its own here: an edge-triggered
//! selector.
//!
//! The selector reports the socket as epoll and kqueue in edge mode do: an
//! event when new bytes arrive, when the peer's FIN arrives (marked
//! `read_closed`, once), when the peer reads and frees window, or when an
//! error arrives; and nothing else, so a connection that waits for an event
//! that will never come is caught at the end of the script. The invariants
//! checked after every drive and at the end are [`Checker`]'s, the same the
//! fuzz target checks.
//!
//! Runs everywhere, WASI preview 1 included (no socket is needed), and
//! under Miri. Case counts are proptest's default (256, or PROPTEST_CASES);
//! under Miri, which runs this some thousand times slower, 32. Failures are
//! not persisted to regression files on WASI, which has no file system
//! here, nor under Miri, whose isolation forbids opening files.
//!
//! [`Checker`]: portable_echo::testing::Checker

use std::cell::RefCell;

use portable_echo::Config;
use portable_echo::connection::{Connection, Context, Outcome, Readiness};
use portable_echo::testing::{Script, ScriptedStream, Selector};
use proptest::test_runner::{
    Config as ProptestConfig, FailurePersistence, FileFailurePersistence, RngAlgorithm,
    TestCaseError, TestRunner,
};

/// Cases per property under Miri (see the module documentation).
const MIRI_CASES: u32 = 32;

fn proptest_config() -> ProptestConfig {
    // Failing cases are saved to tests/state_machine.proptest-regressions and
    // tried first on later runs; not on WASI preview 1, which runs here
    // without a preopened directory (nowhere to write or read them), nor
    // under Miri's isolation.
    let persistence: Option<Box<dyn FailurePersistence>> = if cfg!(any(target_os = "wasi", miri)) {
        None
    } else {
        Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        )))
    };
    ProptestConfig {
        source_file: Some(file!()),
        failure_persistence: persistence,
        // Plenty for generating scripts, and much cheaper than ChaCha in a
        // debug build under qemu-user.
        rng_algorithm: RngAlgorithm::XorShift,
        ..if cfg!(miri) {
            ProptestConfig::with_cases(MIRI_CASES)
        } else {
            ProptestConfig::default()
        }
    }
}

/// An edge-triggered selector: each change of the socket is reported once,
/// by the next wake-up, and the end of stream with the readable edge.
#[derive(Default)]
struct EdgeTriggered {
    due: Readiness,
}

impl Selector for EdgeTriggered {
    fn changed(&mut self, change: Readiness) {
        self.due.readable |= change.readable;
        self.due.writable |= change.writable;
        self.due.read_closed |= change.read_closed;
    }

    fn wake(&mut self) -> Option<Readiness> {
        let due = std::mem::take(&mut self.due);
        (due.readable || due.writable).then_some(due)
    }
}

/// What the properties saw over all cases, printed at the end.
#[derive(Default, Debug)]
struct Tally {
    cases: u64,
    drives: u64,
    finished: u64,
    failed: u64,
    yielded: u64,
    /// Cases where the connection's pending queue reached max-pending.
    backpressured: u64,
    bytes_echoed: u64,
}

fn run_script(script: &Script, tally: &RefCell<Tally>) -> Result<(), TestCaseError> {
    let ending = script
        .run_with(&mut EdgeTriggered::default())
        .map_err(TestCaseError::fail)?;
    let tally = &mut tally.borrow_mut();
    tally.cases += 1;
    tally.drives += ending.drives;
    tally.yielded += ending.yields;
    tally.bytes_echoed += ending.bytes.echoed;
    match ending.outcome {
        Outcome::Finished => tally.finished += 1,
        _ => tally.failed += 1,
    }
    if ending.bytes.peak_pending_one == script.setup.max_pending {
        tally.backpressured += 1;
    }
    Ok(())
}

fn run_property(name: &str, faults: bool) {
    let tally = RefCell::new(Tally::default());
    let mut runner = TestRunner::new(proptest_config());
    let result = runner.run(&Script::strategy(faults), |script| {
        run_script(&script, &tally)
    });
    let tally = tally.into_inner();
    println!("{name}: {tally:?}");
    if let Err(err) = result {
        panic!("{name}: {err}");
    }
    assert!(
        tally.finished > 0 && tally.yielded > 0 && tally.backpressured > 0,
        "no case finished, yielded or filled its pending queue: the generator is broken"
    );
    if faults {
        assert!(tally.failed > 0, "no injected error failed a connection");
    }
}

#[test]
fn echo_is_greeting_then_input_under_any_chunking_readiness_and_half_close() {
    run_property("no faults", false);
}

#[test]
fn injected_errors_fail_only_that_connection_with_that_error() {
    run_property("with faults", true);
}

/// Data and FIN reported by one edge-triggered event: the read that returns
/// the data is short, yet the end of stream is still to be read. The
/// connection must finish without waiting for another event: one that took
/// the short read as proof of WouldBlock would hang until the idle timeout
/// (tests/faults.rs has the same case over real sockets).
#[test]
fn data_and_end_of_stream_in_one_event_finish_without_another() {
    for short_io in [true, false] {
        let mut ctx = Context::new(Config {
            greeting: b"hi\n".to_vec(),
            max_pending: 64,
            ..Config::default()
        })
        .with_short_io_proves_would_block(short_io)
        .with_read_buf_len(64);
        let mut conn = Connection::new(&ctx);
        let mut stream = ScriptedStream::new(b"last words");
        stream.eof_after_data = true;
        let ready = Readiness {
            readable: true,
            writable: true,
            read_closed: true,
        };
        let outcome = conn.drive(&mut stream, ready, &mut ctx);
        println!(
            "short_io_proves_would_block={short_io}: {outcome:?} after {} reads",
            stream.reads
        );
        assert!(
            matches!(outcome, Outcome::Finished),
            "short_io_proves_would_block={short_io}: {outcome:?}"
        );
        assert_eq!(stream.written(), b"hi\nlast words");
        assert!(stream.write_shut);
    }
}
