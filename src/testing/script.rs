//! Scripts of peer behaviour and event-loop calls run against one
//! [`Connection`], with its invariants checked after every drive.
//!
//! A [`Script`] is the one way the tests describe what a client and its
//! socket do: the fuzz target decodes its input into one
//! ([`arbitrary::Arbitrary`]), the property tests generate them
//! ([`Script::strategy`]), and a crash either finds prints the script, which
//! becomes an ordinary test as `Script { .. }.run()`. [`Checker`] is the one
//! place the invariants are written; tests that drive a connection by hand
//! can use [`Checker::drive`] in place of [`Connection::drive`].

use std::io::ErrorKind;
use std::time::Duration;

use crate::connection::{Connection, Context, Outcome, Readiness};
use crate::testing::ScriptedStream;
use crate::{ByteStats, Config};

/// The settings of the [`Context`] a script runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Written before any echoed byte (any bytes, possibly none).
    pub greeting: Vec<u8>,
    /// Cap on the pending queue (at least 1, as [`Config::validate`] asks).
    pub max_pending: usize,
    /// Whether a short read or write proves the socket would block.
    pub short_io_proves_would_block: bool,
    /// Reads one drive may do before it yields (at least 1: with 0 a
    /// connection never reads).
    pub reads_per_turn: usize,
    /// Length of the shared read buffer (`with_read_buf_len` raises 0 to 1).
    pub read_buf_len: usize,
    /// Bytes the peer's window takes before writes return `WouldBlock`
    /// (`None`: unlimited).
    pub write_capacity: Option<usize>,
}

impl Setup {
    /// The context these settings describe. Panics on settings the server
    /// would refuse ([`Config::validate`]).
    pub fn context(&self) -> Context {
        let config = Config {
            greeting: self.greeting.clone(),
            max_pending: self.max_pending,
            ..Config::default()
        };
        if let Err(err) = config.validate() {
            panic!("a setup the server would refuse: {err}");
        }
        let mut ctx = Context::new(config)
            .with_short_io_proves_would_block(self.short_io_proves_would_block)
            .with_read_buf_len(self.read_buf_len);
        ctx.reads_per_turn = self.reads_per_turn;
        ctx
    }
}

/// One step of a script: what the peer or the network does, or what the
/// event loop calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// The peer sends these bytes (ignored once it has half-closed).
    Send(Vec<u8>),
    /// The peer shuts down its write side: once its bytes are read, reads
    /// return end of stream.
    HalfClose,
    /// The peer reads this many bytes, opening a limited window by as much.
    PeerReads(usize),
    /// Most bytes one read returns from now on (0: no limit).
    ReadLimit(usize),
    /// Bytes writes may take from now on before they return `WouldBlock`
    /// (`None`: unlimited; `Some(0)`: `WouldBlock` at once).
    WriteCapacity(Option<usize>),
    /// Outcomes of the next reads, one per call (`ScriptedStream::read_faults`).
    ReadFaults(Vec<Option<ErrorKind>>),
    /// Outcomes of the next writes, one per call (`ScriptedStream::write_faults`).
    WriteFaults(Vec<Option<ErrorKind>>),
    /// Once the peer's bytes are read, reads fail with this error.
    ReadError(Option<ErrorKind>),
    /// Every write fails with this error. Not `Interrupted`: a writer that
    /// retries it, as `std::io::Write::write_all` does, would spin forever
    /// (use `WriteFaults` for a one-shot `Interrupted`).
    WriteError(Option<ErrorKind>),
    /// `shutdown_write` fails with this error. Not `WouldBlock` or
    /// `Interrupted`, which shutdown(2) never returns.
    ShutdownError(Option<ErrorKind>),
    /// The event loop drives the connection with this readiness, whatever
    /// the [`Selector`] would report (a spurious wake-up, which mio allows).
    Drive(Readiness),
    /// The event loop wakes up: it drives the connection with what the
    /// [`Selector`] reports, or, with nothing reported, drives it again if
    /// it yielded last time.
    Wake,
    /// The server stops ([`Connection::stop`]).
    Stop,
    /// The echo ends now ([`Connection::linger`], as the idle sweep does).
    Linger,
    /// The loop's clock moves on.
    Advance(Duration),
}

/// What the event loop learns from its selector when it wakes up ([`Op::Wake`]
/// and the end of every script).
pub trait Selector {
    /// The socket changed: new bytes or the peer's end of stream arrived
    /// (`readable`, with `read_closed` for the end), the peer's window opened
    /// (`writable`), or an error came (all three, as a hang-up is reported).
    fn changed(&mut self, change: Readiness);
    /// The readiness the loop is told about now; `None`: no event.
    fn wake(&mut self) -> Option<Readiness>;
}

/// A selector that reports every flag on every wake-up: no connection can
/// miss an event, so a script under it checks what the connection does
/// with any readiness [`Op::Drive`] gives it, and that it ends.
#[derive(Clone, Copy, Debug, Default)]
pub struct EveryFlag;

impl Selector for EveryFlag {
    fn changed(&mut self, _: Readiness) {}

    fn wake(&mut self) -> Option<Readiness> {
        Some(Readiness::ALL)
    }
}

/// A connection's whole life: its settings, the steps, and then the end
/// every script gets: the network heals (no more faults, unlimited window),
/// the peer half-closes, and the loop wakes up until the connection ends or
/// the selector has nothing more to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The context's settings.
    pub setup: Setup,
    /// What happens, in order.
    pub ops: Vec<Op>,
}

/// How a script's connection ended, and what it did on the way.
#[derive(Debug)]
pub struct Ending {
    /// `Finished`, or `Failed` with an injected error before the end.
    pub outcome: Outcome,
    /// Times the loop drove the connection.
    pub drives: u64,
    /// Drives that returned `Yielded`.
    pub yields: u64,
    /// The context's byte counts after the connection was discarded.
    pub bytes: ByteStats,
}

impl Script {
    /// Runs the script under [`EveryFlag`], checking the invariants of
    /// [`Checker`] after every drive. Returns how the connection ended, or
    /// the first violation. After the network heals it must finish, having
    /// written exactly the greeting and every byte it read before it
    /// stopped echoing.
    pub fn run(&self) -> Result<Outcome, String> {
        self.run_with(&mut EveryFlag).map(|ending| ending.outcome)
    }

    /// Runs the script as [`Script::run`], with `selector` telling the loop
    /// what is ready when it wakes up. At the end, a connection that has
    /// not ended when the selector has nothing more to report waits for an
    /// event that never comes: a violation.
    pub fn run_with(&self, selector: &mut impl Selector) -> Result<Ending, String> {
        assert!(
            !self
                .ops
                .contains(&Op::WriteError(Some(ErrorKind::Interrupted))),
            "a persistent Interrupted write error spins any retrying writer"
        );
        let mut run = Run::new(&self.setup);
        // The loop drives a connection once right after accepting it.
        run.drive(Readiness::default())?;
        for op in &self.ops {
            if run.checker.ended() {
                break;
            }
            run.apply(op, selector)?;
        }
        if !run.checker.ended() {
            run.finish(selector)?;
        }
        let Run {
            mut ctx,
            mut conn,
            checker,
            outcome,
            yields,
            ..
        } = run;
        conn.discard(&mut ctx);
        if ctx.pending != 0 {
            return Err(format!(
                "{} pending bytes counted after the connection was discarded",
                ctx.pending
            ));
        }
        Ok(Ending {
            outcome,
            drives: checker.drives,
            yields,
            bytes: ctx.bytes,
        })
    }
}

/// A persistent error is reported as a hang-up: every flag.
fn hang_up_if(error: bool, selector: &mut impl Selector) {
    if error {
        selector.changed(Readiness::ALL);
    }
}

/// A script being run: the connection, its socket and the checks.
struct Run {
    ctx: Context,
    conn: Connection,
    stream: ScriptedStream,
    checker: Checker,
    outcome: Outcome,
    yields: u64,
}

impl Run {
    fn new(setup: &Setup) -> Run {
        let ctx = setup.context();
        let conn = Connection::new(&ctx);
        let mut stream = ScriptedStream::new(b"");
        stream.write_capacity = setup.write_capacity;
        Run {
            ctx,
            conn,
            stream,
            checker: Checker::default(),
            outcome: Outcome::Waiting,
            yields: 0,
        }
    }

    fn drive(&mut self, ready: Readiness) -> Result<(), String> {
        let outcome = self
            .checker
            .drive(&mut self.conn, &mut self.stream, ready, &mut self.ctx)?;
        self.yields += u64::from(matches!(outcome, Outcome::Yielded));
        self.outcome = outcome;
        Ok(())
    }

    /// One wake-up of the loop. Returns whether it drove the connection.
    fn wake(&mut self, selector: &mut impl Selector) -> Result<bool, String> {
        match selector.wake() {
            Some(ready) => self.drive(ready)?,
            None if matches!(self.outcome, Outcome::Yielded) => self.drive(Readiness::default())?,
            None => return Ok(false),
        }
        Ok(true)
    }

    fn apply(&mut self, op: &Op, selector: &mut impl Selector) -> Result<(), String> {
        let stream = &mut self.stream;
        let readable = Readiness {
            readable: true,
            ..Readiness::default()
        };
        let writable = Readiness {
            writable: true,
            ..Readiness::default()
        };
        match op {
            Op::Send(bytes) => {
                if !stream.eof_after_data {
                    stream.push_input(bytes);
                    selector.changed(readable);
                }
            }
            Op::HalfClose => {
                if !stream.eof_after_data {
                    stream.eof_after_data = true;
                    selector.changed(Readiness {
                        read_closed: true,
                        ..readable
                    });
                }
            }
            Op::PeerReads(len) => {
                if let Some(window) = &mut stream.write_capacity {
                    *window += len;
                    if *len > 0 {
                        selector.changed(writable);
                    }
                }
            }
            Op::ReadLimit(limit) => stream.read_limit = *limit,
            Op::WriteCapacity(capacity) => {
                stream.write_capacity = *capacity;
                if *capacity != Some(0) {
                    selector.changed(writable);
                }
            }
            Op::ReadFaults(faults) => stream.read_faults.extend(faults),
            Op::WriteFaults(faults) => stream.write_faults.extend(faults),
            Op::ReadError(kind) => {
                stream.read_error = *kind;
                hang_up_if(kind.is_some(), selector);
            }
            Op::WriteError(kind) => {
                stream.write_error = *kind;
                hang_up_if(kind.is_some(), selector);
            }
            Op::ShutdownError(kind) => stream.shutdown_error = *kind,
            Op::Drive(ready) => self.drive(*ready)?,
            Op::Wake => {
                self.wake(selector)?;
            }
            Op::Stop => self.conn.stop(),
            Op::Linger => self.conn.linger(self.ctx.now),
            Op::Advance(by) => self.ctx.now += *by,
        }
        Ok(())
    }

    /// The network heals and the peer half-closes and reads everything: the
    /// connection must finish within a wake-up per byte still to move.
    fn finish(&mut self, selector: &mut impl Selector) -> Result<(), String> {
        let stream = &mut self.stream;
        stream.read_faults.clear();
        stream.write_faults.clear();
        stream.read_error = None;
        stream.write_error = None;
        stream.shutdown_error = None;
        self.apply(&Op::WriteCapacity(None), selector)?;
        self.apply(&Op::HalfClose, selector)?;
        // Each drive moves at least one byte, reads the end of stream, or ends.
        let bound = self.stream.unread() + self.conn.owed_len() + 3;
        for _ in 0..bound {
            if self.checker.ended() || !self.wake(selector)? {
                break;
            }
        }
        match &self.outcome {
            Outcome::Finished => {
                let mut expected = self.ctx.config.greeting.clone();
                let received = self.ctx.bytes.received as usize;
                expected.extend_from_slice(&self.stream.consumed()[..received]);
                if self.stream.written() != &expected[..] || !self.stream.write_shut {
                    return Err(format!(
                        "finished with {} of {} bytes written, write side shut: {}",
                        self.stream.written().len(),
                        expected.len(),
                        self.stream.write_shut
                    ));
                }
                Ok(())
            }
            Outcome::Failed(err) => Err(format!("failed after the network healed: {err}")),
            Outcome::Waiting | Outcome::Yielded => Err(format!(
                "not finished {bound} wake-ups after the peer half-closed and read everything, \
                 or waiting for an event that never comes: {} bytes unread, {} owed, \
                 end of stream read: {}",
                self.stream.unread(),
                self.conn.owed_len(),
                self.conn.read_closed()
            )),
        }
    }
}

/// Checks one connection's invariants after each drive. Its context must
/// serve no other connection (the byte counts are the context's).
#[derive(Debug, Default)]
pub struct Checker {
    ended: bool,
    drives: u64,
    /// Bytes written that were already checked (the output only grows, so
    /// each drive checks only the new ones: linear in the bytes moved).
    checked: usize,
}

impl Checker {
    /// Whether the connection has ended (`Finished` or `Failed`).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Drives the connection once, as [`Connection::drive`], then checks:
    ///
    /// * what was written is a prefix of the greeting, then (once the
    ///   greeting is complete) a prefix of the bytes read for echo, in order;
    /// * bytes read are counted once: as received (echo input) until the
    ///   connection lingers, as discarded after; none more is received once
    ///   it lingers;
    /// * `bytes.echoed` is the number of bytes written after the greeting,
    ///   and `bytes.received == bytes.echoed + pending` (on `Failed`, the
    ///   chunk being echoed when the error came may be dropped);
    /// * the pending queue never exceeds `max_pending`, and the context's
    ///   `pending` and `bytes.peak_pending_one` agree;
    /// * nothing is written after our write side is shut down, and it is
    ///   shut down only when nothing is owed and the echo has ended;
    /// * no more reads per drive than `reads_per_turn`, and `Yielded` only
    ///   when they are spent;
    /// * the end of stream is read only after the peer's FIN and last byte;
    /// * once the end of stream was read and nothing is owed, the outcome
    ///   is `Finished`; `Finished` only then (or when shutting down our
    ///   write side finds the peer gone); `Failed` only with an error the
    ///   socket returned, never with `WouldBlock` or `Interrupted`;
    /// * a connection that ended is not driven again.
    pub fn drive(
        &mut self,
        conn: &mut Connection,
        stream: &mut ScriptedStream,
        ready: Readiness,
        ctx: &mut Context,
    ) -> Result<Outcome, String> {
        if self.ended {
            return Err("driven after it ended".into());
        }
        let before = Before {
            lingering_since: conn.lingering_since(),
            bytes_received: ctx.bytes.received,
            reads: stream.reads,
        };
        let outcome = conn.drive(stream, ready, ctx);
        self.drives += 1;
        self.ended = matches!(outcome, Outcome::Finished | Outcome::Failed(_));
        let drive = Drive {
            before,
            checked: self.checked,
            outcome: &outcome,
            conn,
            stream,
            ctx,
        };
        Checker::check(&drive)
            .map_err(|violation| format!("after drive {} ({ready:?}): {violation}", self.drives))?;
        self.checked = stream.written().len();
        Ok(outcome)
    }

    /// Every invariant of [`Checker::drive`], one concern at a time.
    fn check(drive: &Drive<'_>) -> Result<(), String> {
        drive.reads_counted_once()?;
        drive.nothing_echoed_while_lingering()?;
        drive.greeting_first()?;
        drive.echo_in_order()?;
        drive.backpressure()?;
        drive.owed_is_what_arrived()?;
        drive.end_of_stream()?;
        drive.read_budget()?;
        drive.outcome()
    }
}

/// Fails the check it stands in, with the message, unless `$cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// What the checks compare with: the state just before a drive.
struct Before {
    lingering_since: Option<std::time::Instant>,
    bytes_received: u64,
    reads: usize,
}

/// One drive as the checks see it: the state before, and the connection,
/// its socket and its context after.
struct Drive<'a> {
    before: Before,
    /// Bytes written that earlier drives checked.
    checked: usize,
    outcome: &'a Outcome,
    conn: &'a Connection,
    stream: &'a ScriptedStream,
    ctx: &'a Context,
}

impl Drive<'_> {
    fn greeting(&self) -> &[u8] {
        &self.ctx.config.greeting
    }

    /// Bytes read for echo (received, not discarded), in order.
    fn echo_input(&self) -> &[u8] {
        &self.stream.consumed()[..self.ctx.bytes.received as usize]
    }

    /// What was written: the greeting's part, then the echo's.
    fn written(&self) -> (&[u8], &[u8]) {
        let written = self.stream.written();
        written.split_at(written.len().min(self.greeting().len()))
    }

    fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }

    /// Every byte read is counted once: as received, or as discarded.
    fn reads_counted_once(&self) -> Result<(), String> {
        let bytes = &self.ctx.bytes;
        let consumed = self.stream.consumed().len();
        ensure!(
            bytes.received + bytes.discarded == consumed as u64,
            "{consumed} bytes read, counted {} received + {} discarded",
            bytes.received,
            bytes.discarded
        );
        Ok(())
    }

    /// Once lingering, nothing more is received for echo, and the
    /// connection lingers on from the same moment.
    fn nothing_echoed_while_lingering(&self) -> Result<(), String> {
        if self.before.lingering_since.is_none() {
            return Ok(());
        }
        let received = self.ctx.bytes.received;
        ensure!(
            received == self.before.bytes_received,
            "{} bytes received for echo while lingering",
            received - self.before.bytes_received
        );
        ensure!(
            self.conn.lingering_since() == self.before.lingering_since,
            "stopped lingering, or the lingering start moved"
        );
        Ok(())
    }

    /// What was written starts with the greeting (only the bytes written
    /// since the last check: earlier ones matched then).
    fn greeting_first(&self) -> Result<(), String> {
        let (greeted, _) = self.written();
        let new = self.checked.min(greeted.len())..greeted.len();
        ensure!(
            greeted[new.clone()] == self.greeting()[new],
            "the first {} bytes written are not the greeting's",
            greeted.len()
        );
        Ok(())
    }

    /// After the greeting come the bytes received, in order, and
    /// `bytes.echoed` counts them.
    fn echo_in_order(&self) -> Result<(), String> {
        let (_, echoed) = self.written();
        let echo_input = self.echo_input();
        let received = echo_input.len();
        ensure!(
            echoed.len() <= received,
            "wrote {} echo bytes, only {received} were received",
            echoed.len()
        );
        // Only the bytes written since the last check (neither the output
        // nor the echo input changes behind them).
        let greeting_len = self.greeting().len();
        let new = self.checked.saturating_sub(greeting_len).min(echoed.len())..echoed.len();
        ensure!(
            echoed[new.clone()] == echo_input[new],
            "wrote {} echo bytes that are not the first of the {received} received, in order",
            echoed.len()
        );
        ensure!(
            self.ctx.bytes.echoed == echoed.len() as u64,
            "bytes.echoed is {}, {} echo bytes were written",
            self.ctx.bytes.echoed,
            echoed.len()
        );
        Ok(())
    }

    /// The pending queue stays within `max_pending`, and the context's
    /// gauge and peak agree with it.
    fn backpressure(&self) -> Result<(), String> {
        let pending = self.conn.pending_len();
        let max_pending = self.ctx.config.max_pending;
        ensure!(
            pending <= max_pending,
            "pending {pending} over max_pending {max_pending}"
        );
        ensure!(
            self.ctx.pending == pending,
            "the pending gauge is {}, the queue holds {pending}",
            self.ctx.pending
        );
        let peak = self.ctx.bytes.peak_pending_one;
        ensure!(
            peak <= max_pending,
            "peak_pending_one {peak} over max_pending {max_pending}"
        );
        Ok(())
    }

    /// What is owed is what arrived and is not yet written: the rest of
    /// the greeting, then the echo input after what was echoed. On
    /// `Failed`, the chunk being echoed when the error came may be dropped.
    fn owed_is_what_arrived(&self) -> Result<(), String> {
        let (pending, bytes) = (self.conn.pending_len(), &self.ctx.bytes);
        let received = bytes.received;
        let echoed_or_pending = bytes.echoed + pending as u64;
        if self.failed() {
            ensure!(
                received >= echoed_or_pending,
                "{echoed_or_pending} bytes echoed or pending, only {received} received"
            );
            return Ok(());
        }
        ensure!(
            received == echoed_or_pending,
            "received {received}, echoed {} + pending {pending}",
            bytes.echoed
        );
        let (greeted, echoed) = self.written();
        let greeting_left = self.greeting().len() - greeted.len();
        let owed_len = self.conn.owed_len();
        ensure!(
            owed_len == greeting_left + pending,
            "owes {owed_len}, greeting left {greeting_left} + pending {pending}"
        );
        // The next bytes owed are the next of greeting ++ echo input (the
        // first few: the output checks see every byte when written).
        let next = self.conn.owed(self.ctx);
        let expected_next = if greeting_left > 0 {
            &self.greeting()[greeted.len()..]
        } else {
            &self.echo_input()[echoed.len()..]
        };
        let few = next.len().min(16);
        ensure!(
            next.len() <= expected_next.len()
                && next[..few] == expected_next[..few]
                && next.is_empty() == (owed_len == 0),
            "the next {} bytes owed are not the next ones due ({owed_len} owed)",
            next.len()
        );
        Ok(())
    }

    /// The peer's end of stream is read only after its FIN and last byte;
    /// ours is sent only when nothing is owed and the echo has ended, and
    /// nothing is written after it.
    fn end_of_stream(&self) -> Result<(), String> {
        let (conn, stream) = (self.conn, self.stream);
        ensure!(
            !conn.read_closed() || (stream.eof_after_data && stream.unread() == 0),
            "end of stream read before the peer's FIN and last byte ({} unread)",
            stream.unread()
        );
        ensure!(
            stream.writes_after_shutdown == 0,
            "{} writes after our write side was shut down",
            stream.writes_after_shutdown
        );
        ensure!(
            conn.write_shut() == stream.write_shut,
            "the connection believes its write side shut: {}, the stream: {}",
            conn.write_shut(),
            stream.write_shut
        );
        if stream.write_shut {
            ensure!(
                conn.owed_len() == 0,
                "write side shut down while owing {} bytes",
                conn.owed_len()
            );
            ensure!(
                conn.read_closed() || conn.lingering_since().is_some(),
                "write side shut down while still echoing"
            );
        }
        Ok(())
    }

    /// No more reads per drive than `reads_per_turn`, and `Yielded` only
    /// when they are spent.
    fn read_budget(&self) -> Result<(), String> {
        let reads = self.stream.reads - self.before.reads;
        let per_turn = self.ctx.reads_per_turn;
        ensure!(
            reads <= per_turn,
            "{reads} reads in one drive, reads_per_turn {per_turn}"
        );
        if matches!(self.outcome, Outcome::Yielded) {
            ensure!(
                reads == per_turn,
                "yielded after {reads} reads, reads_per_turn {per_turn}"
            );
        }
        Ok(())
    }

    /// `Finished` exactly when both ends of stream are through and nothing
    /// is owed (or the peer was gone when ours was sent); `Failed` only
    /// with an error the socket returned, never `WouldBlock` or
    /// `Interrupted`.
    fn outcome(&self) -> Result<(), String> {
        let (conn, stream) = (self.conn, self.stream);
        match self.outcome {
            Outcome::Finished => {
                ensure!(
                    conn.owed_len() == 0,
                    "finished owing {} bytes",
                    conn.owed_len()
                );
                let peer_gone = stream.shutdown_error == Some(ErrorKind::NotConnected);
                ensure!(
                    (conn.read_closed() && stream.write_shut) || peer_gone,
                    "finished with end of stream read: {}, write side shut: {}",
                    conn.read_closed(),
                    stream.write_shut
                );
            }
            Outcome::Failed(err) => ensure!(
                stream.errors.contains(&err.kind())
                    && !matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted),
                "failed with {err}, the socket returned {:?}",
                stream.errors
            ),
            Outcome::Yielded | Outcome::Waiting => {}
        }
        if !self.failed() && conn.read_closed() && conn.owed_len() == 0 {
            ensure!(
                matches!(self.outcome, Outcome::Finished),
                "end of stream read and nothing owed, yet {:?}",
                self.outcome
            );
        }
        Ok(())
    }
}
