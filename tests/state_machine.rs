//! Property tests of the connection state machine, without sockets: random
//! chunkings of the peer's bytes, random short writes, random interleavings of
//! readiness (with spurious wake-ups), half-close at any point, random
//! max-pending, read-buffer size and read budget, and injected I/O errors.
//!
//! The peer and the kernel are modelled as an edge-triggered selector reports
//! them: an event when new bytes arrive, when the peer's FIN arrives (marked
//! `read_closed`, once), when the peer reads and frees window, or when an
//! error arrives; and nothing else, so a connection that waits for an event
//! that will never come is caught. Where a short read does not prove the
//! socket drained (`short_io_proves_would_block` false: poll(2), IOCP, WASI)
//! reads may also return fewer bytes than available.
//!
//! Invariants checked after every drive:
//! * what was written is a prefix of greeting ++ input, and the byte
//!   counters agree with it;
//! * no connection owes more than max-pending echo bytes;
//! * `Finished` only after the FIN was read and greeting ++ input was written
//!   exactly, and the write side shut down;
//! * `Failed` only after an injected error, and with its kind.
//!
//! And at the end (the peer half-closes and reads everything, only the events
//! that model produces are delivered): the connection finished with exactly
//! greeting ++ input written, or failed with the injected error.
//!
//! Runs everywhere, WASI preview 1 included (no socket is needed), and
//! under Miri. Case counts are proptest's default (256, or PROPTEST_CASES);
//! under Miri, which runs this some thousand times slower, 32. Failures are
//! not persisted to regression files on WASI, which has no file system
//! here, nor under Miri, whose isolation forbids opening files.

use std::cell::RefCell;
use std::io::ErrorKind;

use portable_echo::connection::{Connection, Context, Outcome, Readiness};
use portable_echo::testing::{ScriptedStream, pattern};
use proptest::prelude::*;
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

#[derive(Clone, Debug)]
struct Setup {
    greeting: Vec<u8>,
    max_pending: usize,
    short_io_proves_would_block: bool,
    read_buf_len: usize,
    reads_per_turn: usize,
    /// Most bytes one read returns (0: no limit). Only where short reads
    /// prove nothing: under edge triggering a socket returns all it holds.
    read_limit: usize,
    /// Bytes the peer's window takes before the first write blocks.
    initial_window: usize,
}

#[derive(Clone, Debug)]
enum Step {
    /// The peer's bytes arrive (ignored after its FIN).
    Send(Vec<u8>),
    /// The peer reads this many bytes, opening the window by as much.
    Read(usize),
    /// The peer's FIN arrives.
    HalfClose,
    /// The loop wakes up: due edges are delivered, or a yielded connection
    /// is driven again.
    Event,
    /// A spurious wake-up (mio allows them) with this readiness.
    Spurious { readable: bool, writable: bool },
    /// The socket fails from now on with this error, in reads or writes.
    Fail { kind: ErrorKind, on_write: bool },
}

/// `len` arbitrary bytes made from `seed`: cheaper to generate and shrink
/// than a vector of independent bytes (this runs under emulation too), and
/// the state machine never looks at byte values.
fn bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    (len, any::<u64>()).prop_map(|(len, seed)| pattern(len, seed))
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        bytes(0..16),
        1usize..64,
        any::<bool>(),
        1usize..48,
        1usize..8,
        0usize..8,
        0usize..32,
    )
        .prop_map(
            |(greeting, max_pending, short_io, read_buf_len, reads_per_turn, limit, window)| {
                Setup {
                    greeting,
                    max_pending,
                    short_io_proves_would_block: short_io,
                    read_buf_len,
                    reads_per_turn,
                    read_limit: if short_io { 0 } else { limit },
                    initial_window: window,
                }
            },
        )
}

fn step(with_faults: bool) -> impl Strategy<Value = Step> {
    let fault_weight = if with_faults { 1 } else { 0 };
    prop_oneof![
        4 => bytes(1..40).prop_map(Step::Send),
        3 => (0usize..48).prop_map(Step::Read),
        1 => Just(Step::HalfClose),
        5 => Just(Step::Event),
        1 => (any::<bool>(), any::<bool>())
            .prop_map(|(readable, writable)| Step::Spurious { readable, writable }),
        fault_weight => (
            prop_oneof![
                Just(ErrorKind::ConnectionReset),
                Just(ErrorKind::BrokenPipe),
                Just(ErrorKind::ConnectionAborted),
            ],
            any::<bool>()
        )
            .prop_map(|(kind, on_write)| Step::Fail { kind, on_write }),
    ]
}

/// What the properties saw over all cases, printed at the end.
#[derive(Default, Debug)]
struct Tally {
    cases: u64,
    steps: u64,
    drives: u64,
    finished: u64,
    failed: u64,
    yielded: u64,
    /// Cases where one connection's pending queue reached max-pending.
    backpressured: u64,
    /// Cases whose peer half-closed before the final phase.
    early_half_close: u64,
    bytes_echoed: u64,
}

/// The peer, the kernel between it and the server, and the connection.
struct Model {
    setup: Setup,
    ctx: Context,
    conn: Connection,
    stream: ScriptedStream,
    input: Vec<u8>,
    /// Edges due: delivered by the next event.
    read_edge: bool,
    write_edge: bool,
    fin_edge: bool,
    fin_sent: bool,
    yielded: bool,
    injected: Option<ErrorKind>,
    /// How the connection ended; nothing is driven after that.
    ended: Option<Outcome>,
}

impl Model {
    fn new(setup: Setup) -> Model {
        let ctx_greeting = setup.greeting.clone();
        let mut ctx = Context::new(&ctx_greeting, setup.max_pending)
            .with_short_io_proves_would_block(setup.short_io_proves_would_block)
            .with_read_buf_len(setup.read_buf_len);
        ctx.reads_per_turn = setup.reads_per_turn;
        let conn = Connection::new(ctx.now);
        let mut stream = ScriptedStream::new(b"");
        stream.read_limit = setup.read_limit;
        stream.write_capacity = Some(setup.initial_window);
        Model {
            setup,
            ctx,
            conn,
            stream,
            input: Vec::new(),
            read_edge: false,
            write_edge: false,
            fin_edge: false,
            fin_sent: false,
            yielded: false,
            injected: None,
            ended: None,
        }
    }

    fn expected(&self) -> Vec<u8> {
        let mut all = self.setup.greeting.clone();
        all.extend_from_slice(&self.input);
        all
    }

    fn drive(&mut self, ready: Readiness, tally: &mut Tally) -> Result<(), TestCaseError> {
        tally.drives += 1;
        let outcome = self.conn.drive(&mut self.stream, ready, &mut self.ctx);
        self.yielded = matches!(outcome, Outcome::Yielded);
        self.check(&outcome)?;
        match outcome {
            Outcome::Waiting => {}
            Outcome::Yielded => tally.yielded += 1,
            Outcome::Finished | Outcome::Failed(_) => self.ended = Some(outcome),
        }
        Ok(())
    }

    /// The invariants that hold after every drive.
    fn check(&self, outcome: &Outcome) -> Result<(), TestCaseError> {
        let expected = self.expected();
        let written = self.stream.written();
        let greeting_len = self.setup.greeting.len();
        let counters = &self.ctx.counters;
        prop_assert!(
            expected.starts_with(written),
            "wrote {} bytes that are not a prefix of greeting ++ input",
            written.len()
        );
        let received = (self.input.len() - self.stream.unread()) as u64;
        prop_assert_eq!(counters.bytes_received, received);
        prop_assert_eq!(
            counters.bytes_echoed,
            written.len().saturating_sub(greeting_len) as u64,
            "echo counter vs bytes written after the greeting"
        );
        let pending = self.conn.pending_len();
        prop_assert!(
            pending <= self.setup.max_pending,
            "pending {} over max-pending {}",
            pending,
            self.setup.max_pending
        );
        prop_assert_eq!(counters.pending_bytes, pending);
        prop_assert!(counters.peak_pending_one <= self.setup.max_pending);
        if !matches!(outcome, Outcome::Failed(_)) {
            // Every byte read is echoed or owed (a failing connection drops
            // the chunk it was echoing when the error came: it is closed).
            prop_assert_eq!(
                counters.bytes_received,
                counters.bytes_echoed + pending as u64
            );
            prop_assert_eq!(
                self.conn.owed_len(&self.setup.greeting),
                expected.len() - self.stream.unread() - written.len(),
                "owed bytes"
            );
        }
        prop_assert!(
            !self.conn.read_closed() || (self.fin_sent && self.stream.unread() == 0),
            "end of stream seen before the FIN was read"
        );
        match outcome {
            Outcome::Finished => {
                prop_assert!(self.fin_sent, "finished before the peer's FIN");
                prop_assert_eq!(self.stream.unread(), 0, "finished with input unread");
                prop_assert!(
                    written == &expected[..],
                    "finished before writing everything"
                );
                prop_assert!(
                    self.stream.write_shut,
                    "finished without shutting down writes"
                );
            }
            Outcome::Failed(err) => match self.injected {
                Some(kind) => prop_assert_eq!(err.kind(), kind, "failed with another error"),
                None => prop_assert!(false, "failed without an injected error: {}", err),
            },
            Outcome::Waiting | Outcome::Yielded => {
                prop_assert!(
                    !self.stream.write_shut,
                    "shut down writes but did not finish"
                );
            }
        }
        Ok(())
    }

    /// One step of the script (nothing happens to a connection that ended).
    fn apply(&mut self, step: Step, tally: &mut Tally) -> Result<(), TestCaseError> {
        if self.ended.is_some() {
            return Ok(());
        }
        tally.steps += 1;
        match step {
            Step::Send(bytes) => {
                if !self.fin_sent {
                    self.stream.push_input(&bytes);
                    self.input.extend_from_slice(&bytes);
                    self.read_edge = true;
                }
            }
            Step::Read(n) => {
                if let Some(window) = &mut self.stream.write_capacity {
                    *window += n;
                    self.write_edge |= n > 0;
                }
            }
            Step::HalfClose => self.half_close(),
            Step::Event => {
                self.event(tally)?;
            }
            Step::Spurious { readable, writable } => {
                let ready = Readiness {
                    readable,
                    writable,
                    read_closed: false,
                };
                self.drive(ready, tally)?;
            }
            Step::Fail { kind, on_write } => {
                if self.injected.is_none() {
                    self.injected = Some(kind);
                    if on_write {
                        self.stream.write_error = Some(kind);
                    } else {
                        self.stream.read_error = Some(kind);
                    }
                    // An error is reported like a hang-up: both directions.
                    self.read_edge = true;
                    self.write_edge = true;
                    self.fin_edge = true;
                }
            }
        }
        Ok(())
    }

    fn half_close(&mut self) {
        if !self.fin_sent {
            self.fin_sent = true;
            self.stream.eof_after_data = true;
            self.read_edge = true;
            self.fin_edge = true;
        }
    }

    /// One wake-up of the event loop for this connection. Returns whether
    /// anything was due.
    fn event(&mut self, tally: &mut Tally) -> Result<bool, TestCaseError> {
        if self.ended.is_some() {
            return Ok(false);
        }
        if self.read_edge || self.write_edge {
            let ready = Readiness {
                readable: self.read_edge,
                writable: self.write_edge,
                read_closed: self.fin_edge,
            };
            self.read_edge = false;
            self.write_edge = false;
            self.fin_edge = false;
            self.drive(ready, tally)?;
            Ok(true)
        } else if self.yielded {
            self.drive(Readiness::default(), tally)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// The peer half-closes and reads everything; events are delivered until
    /// none is due. The connection must have ended by then.
    fn finish(&mut self, tally: &mut Tally) -> Result<(), TestCaseError> {
        if self.ended.is_none() {
            self.half_close();
            self.stream.write_capacity = None;
            self.write_edge = true;
        }
        // Every event moves at least one byte or ends the connection.
        let bound = self.expected().len() * 2 + 16;
        let mut events = 0;
        while self.event(tally)? {
            events += 1;
            prop_assert!(events <= bound, "no progress after {} events", events);
        }
        match &self.ended {
            Some(Outcome::Finished) => {
                tally.finished += 1;
                tally.bytes_echoed += self.ctx.counters.bytes_echoed;
                prop_assert!(self.stream.written() == &self.expected()[..]);
            }
            Some(Outcome::Failed(_)) => tally.failed += 1,
            _ => prop_assert!(
                false,
                "the connection waits for an event that never comes: wrote {} of {} bytes, \
                 {} unread, read_closed {}",
                self.stream.written().len(),
                self.expected().len(),
                self.stream.unread(),
                self.conn.read_closed()
            ),
        }
        if self.ctx.counters.peak_pending_one == self.setup.max_pending {
            tally.backpressured += 1;
        }
        Ok(())
    }
}

fn run_script(setup: Setup, steps: Vec<Step>, tally: &RefCell<Tally>) -> Result<(), TestCaseError> {
    let tally = &mut tally.borrow_mut();
    tally.cases += 1;
    let mut model = Model::new(setup);
    // The loop drives a connection once right after accepting it.
    model.drive(Readiness::default(), tally)?;
    for step in steps {
        model.apply(step, tally)?;
    }
    if model.fin_sent {
        tally.early_half_close += 1;
    }
    model.finish(tally)
}

fn run_property(name: &str, with_faults: bool) {
    let tally = RefCell::new(Tally::default());
    let mut runner = TestRunner::new(proptest_config());
    let strategy = (setup(), proptest::collection::vec(step(with_faults), 0..80));
    let result = runner.run(&strategy, |(setup, steps)| run_script(setup, steps, &tally));
    let tally = tally.into_inner();
    println!("{name}: {tally:?}");
    if let Err(err) = result {
        panic!("{name}: {err}");
    }
    assert!(
        tally.finished > 0,
        "no case ever finished: the model is broken"
    );
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
/// connection must finish without waiting for another event (it used to
/// take the short read as proof of WouldBlock and hang until the idle
/// timeout; tests/faults.rs has the same case over real sockets).
#[test]
fn data_and_end_of_stream_in_one_event_finish_without_another() {
    for short_io in [true, false] {
        let mut ctx = Context::new(b"hi\n", 64)
            .with_short_io_proves_would_block(short_io)
            .with_read_buf_len(64);
        let mut conn = Connection::new(ctx.now);
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
