//! Scripts of peer behaviour and event-loop calls run against one
//! [`Connection`], with its invariants checked after every drive.
//!
//! The fuzz target (`fuzz/fuzz_targets/connection.rs`) decodes its input
//! into a [`Script`] and runs it; a crash it finds prints the script, which
//! becomes an ordinary test as `Script { .. }.run()`. Tests that drive a
//! connection by hand can use [`Checker::drive`] in place of
//! [`Connection::drive`] to get the same checks.

use std::io::ErrorKind;
use std::time::Duration;

use crate::connection::{Connection, Context, Outcome, Readiness};
use crate::testing::ScriptedStream;

/// The settings of the [`Context`] a script runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Written before any echoed byte (any bytes, possibly none).
    pub greeting: Vec<u8>,
    /// Cap on the pending queue (`Context::new` raises 0 to 1).
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
    /// The context these settings describe.
    pub fn context(&self) -> Context {
        let mut ctx = Context::new(&self.greeting, self.max_pending)
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
    /// The event loop drives the connection with this readiness.
    Drive(Readiness),
    /// The server stops ([`Connection::stop`]).
    Stop,
    /// The echo ends now ([`Connection::linger`], as the idle sweep does).
    Linger,
    /// The loop's clock moves on.
    Advance(Duration),
}

/// A connection's whole life: its settings, the steps, and then the end
/// every script gets: the network heals (no more faults, unlimited window),
/// the peer half-closes, and the loop drives the connection, with every
/// readiness flag, until it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The context's settings.
    pub setup: Setup,
    /// What happens, in order.
    pub ops: Vec<Op>,
}

impl Script {
    /// Runs the script, checking the invariants of [`Checker`] after every
    /// drive. Returns how the connection ended (`Finished`, or `Failed`
    /// with an injected error before the end), or the first violation.
    /// After the network heals it must finish, having written exactly the
    /// greeting and every byte it read before it stopped echoing.
    pub fn run(&self) -> Result<Outcome, String> {
        assert!(
            !self
                .ops
                .contains(&Op::WriteError(Some(ErrorKind::Interrupted))),
            "a persistent Interrupted write error spins any retrying writer"
        );
        let mut ctx = self.setup.context();
        let mut conn = Connection::new(ctx.now);
        let mut stream = ScriptedStream::new(b"");
        stream.write_capacity = self.setup.write_capacity;
        let mut checker = Checker::default();
        // The loop drives a connection once right after accepting it.
        let mut outcome = checker.drive(&mut conn, &mut stream, Readiness::default(), &mut ctx)?;
        for op in &self.ops {
            if checker.ended() {
                break;
            }
            match op {
                Op::Send(bytes) => {
                    if !stream.eof_after_data {
                        stream.push_input(bytes);
                    }
                }
                Op::HalfClose => stream.eof_after_data = true,
                Op::ReadLimit(limit) => stream.read_limit = *limit,
                Op::WriteCapacity(capacity) => stream.write_capacity = *capacity,
                Op::ReadFaults(faults) => stream.read_faults.extend(faults),
                Op::WriteFaults(faults) => stream.write_faults.extend(faults),
                Op::ReadError(kind) => stream.read_error = *kind,
                Op::WriteError(kind) => stream.write_error = *kind,
                Op::ShutdownError(kind) => stream.shutdown_error = *kind,
                Op::Drive(ready) => {
                    outcome = checker.drive(&mut conn, &mut stream, *ready, &mut ctx)?;
                }
                Op::Stop => conn.stop(),
                Op::Linger => conn.linger(ctx.now),
                Op::Advance(by) => ctx.now += *by,
            }
        }
        if !checker.ended() {
            outcome = finish(&mut checker, &mut conn, &mut stream, &mut ctx)?;
        }
        conn.discard(&mut ctx.counters);
        if ctx.counters.pending_bytes != 0 {
            return Err(format!(
                "{} pending bytes counted after the connection was discarded",
                ctx.counters.pending_bytes
            ));
        }
        Ok(outcome)
    }
}

/// The network heals and the peer half-closes and reads everything: the
/// connection must finish within a drive per byte still to move.
fn finish(
    checker: &mut Checker,
    conn: &mut Connection,
    stream: &mut ScriptedStream,
    ctx: &mut Context,
) -> Result<Outcome, String> {
    stream.read_faults.clear();
    stream.write_faults.clear();
    stream.read_error = None;
    stream.write_error = None;
    stream.shutdown_error = None;
    stream.write_capacity = None;
    stream.eof_after_data = true;
    let ready = Readiness {
        readable: true,
        writable: true,
        read_closed: true,
    };
    // Each drive moves at least one byte, reads the end of stream, or ends.
    let bound = stream.unread() + conn.owed_len(&ctx.greeting) + 3;
    for _ in 0..bound {
        match checker.drive(conn, stream, ready, ctx)? {
            Outcome::Finished => {
                let mut expected = ctx.greeting.to_vec();
                let received = ctx.counters.bytes_received as usize;
                expected.extend_from_slice(&stream.consumed()[..received]);
                if stream.written() != &expected[..] || !stream.write_shut {
                    return Err(format!(
                        "finished with {} of {} bytes written, write side shut: {}",
                        stream.written().len(),
                        expected.len(),
                        stream.write_shut
                    ));
                }
                return Ok(Outcome::Finished);
            }
            Outcome::Failed(err) => {
                return Err(format!("failed after the network healed: {err}"));
            }
            Outcome::Waiting | Outcome::Yielded => {}
        }
    }
    Err(format!(
        "not finished {bound} drives after the peer half-closed and read everything: \
         {} bytes unread, {} owed, end of stream read: {}",
        stream.unread(),
        conn.owed_len(&ctx.greeting),
        conn.read_closed()
    ))
}

/// Checks one connection's invariants after each drive. Its context must
/// serve no other connection (the counters are the context's).
#[derive(Debug, Default)]
pub struct Checker {
    ended: bool,
    drives: u64,
    /// Bytes written that were already checked (the output only grows, so
    /// each drive checks only the new ones: linear in the bytes moved).
    checked: usize,
}

/// What the checks compare with: the state just before a drive.
struct Before {
    lingering_since: Option<std::time::Instant>,
    bytes_received: u64,
    reads: usize,
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
    /// * `bytes_echoed` is the number of bytes written after the greeting,
    ///   and `bytes_received == bytes_echoed + pending` (on `Failed`, the
    ///   chunk being echoed when the error came may be dropped);
    /// * the pending queue never exceeds `max_pending`, and the counters'
    ///   `pending_bytes` and `peak_pending_one` agree;
    /// * nothing is written after our write side is shut down, and it is
    ///   shut down only when nothing is owed and the echo has ended;
    /// * no more reads per drive than `reads_per_turn`, and `Yielded` only
    ///   when they are spent;
    /// * once the end of stream was read and nothing is owed, the outcome
    ///   is `Finished`; `Finished` only then (or when shutting down our
    ///   write side finds the peer gone); `Failed` never with `WouldBlock`,
    ///   `Interrupted` or `WriteZero`;
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
            bytes_received: ctx.counters.bytes_received,
            reads: stream.reads,
        };
        let outcome = conn.drive(stream, ready, ctx);
        self.drives += 1;
        self.ended = matches!(outcome, Outcome::Finished | Outcome::Failed(_));
        check(&before, self.checked, &outcome, conn, stream, ctx)
            .map_err(|violation| format!("after drive {} ({ready:?}): {violation}", self.drives))?;
        self.checked = stream.written().len();
        Ok(outcome)
    }
}

fn check(
    before: &Before,
    checked: usize,
    outcome: &Outcome,
    conn: &Connection,
    stream: &ScriptedStream,
    ctx: &Context,
) -> Result<(), String> {
    macro_rules! ensure {
        ($cond:expr, $($msg:tt)+) => {
            if !$cond {
                return Err(format!($($msg)+));
            }
        };
    }
    let counters = &ctx.counters;
    let greeting = &ctx.greeting[..];
    let failed = matches!(outcome, Outcome::Failed(_));

    // Bytes read: counted once, as echo input until lingering, then discarded.
    let consumed = stream.consumed();
    let received = counters.bytes_received as usize;
    ensure!(
        received as u64 + counters.bytes_discarded == consumed.len() as u64,
        "{} bytes read, counted {} received + {} discarded",
        consumed.len(),
        received,
        counters.bytes_discarded
    );
    if before.lingering_since.is_some() {
        ensure!(
            counters.bytes_received == before.bytes_received,
            "{} bytes received for echo while lingering",
            counters.bytes_received - before.bytes_received
        );
        ensure!(
            conn.lingering_since() == before.lingering_since,
            "stopped lingering, or the lingering start moved"
        );
    }

    // What was written: the greeting, then a prefix of the echo input.
    let written = stream.written();
    let (greeted, echoed) = written.split_at(written.len().min(greeting.len()));
    let echo_input = &consumed[..received];
    ensure!(
        echoed.len() <= received,
        "wrote {} echo bytes, only {received} were received",
        echoed.len()
    );
    // Only the bytes written since the last check (earlier ones matched
    // then, and neither the output nor the echo input changes behind).
    let new_greeting = checked.min(greeted.len())..greeted.len();
    ensure!(
        greeted[new_greeting.clone()] == greeting[new_greeting],
        "the first {} bytes written are not the greeting's",
        greeted.len()
    );
    let new_echo = checked.saturating_sub(greeting.len()).min(echoed.len())..echoed.len();
    ensure!(
        echoed[new_echo.clone()] == echo_input[new_echo],
        "wrote {} echo bytes that are not the first of the {} received, in order",
        echoed.len(),
        received
    );
    ensure!(
        counters.bytes_echoed == echoed.len() as u64,
        "bytes_echoed is {}, {} echo bytes were written",
        counters.bytes_echoed,
        echoed.len()
    );

    // What is owed.
    let pending = conn.pending_len();
    ensure!(
        pending <= ctx.max_pending,
        "pending {pending} over max_pending {}",
        ctx.max_pending
    );
    ensure!(
        counters.pending_bytes == pending,
        "pending_bytes is {}, the queue holds {pending}",
        counters.pending_bytes
    );
    ensure!(
        counters.peak_pending_one <= ctx.max_pending,
        "peak_pending_one {} over max_pending {}",
        counters.peak_pending_one,
        ctx.max_pending
    );
    let echoed_or_pending = counters.bytes_echoed + pending as u64;
    if failed {
        ensure!(
            counters.bytes_received >= echoed_or_pending,
            "{echoed_or_pending} bytes echoed or pending, only {received} received"
        );
    } else {
        ensure!(
            counters.bytes_received == echoed_or_pending,
            "received {received}, echoed {} + pending {pending}",
            counters.bytes_echoed
        );
        let greeting_left = greeting.len() - greeted.len();
        let owed_len = conn.owed_len(greeting);
        ensure!(
            owed_len == greeting_left + pending,
            "owes {owed_len}, greeting left {greeting_left} + pending {pending}"
        );
        // The next bytes owed are the next of greeting ++ echo input (the
        // first few: the output check above sees every byte when written).
        let next = conn.owed(greeting);
        let expected_next = if greeting_left > 0 {
            &greeting[greeted.len()..]
        } else {
            &echo_input[echoed.len()..]
        };
        let few = next.len().min(16);
        ensure!(
            next.len() <= expected_next.len()
                && next[..few] == expected_next[..few]
                && next.is_empty() == (owed_len == 0),
            "the next {} bytes owed are not the next ones due ({} owed)",
            next.len(),
            owed_len
        );
    }

    // Our end of stream.
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
            conn.owed_len(greeting) == 0,
            "write side shut down while owing {} bytes",
            conn.owed_len(greeting)
        );
        ensure!(
            conn.read_closed() || conn.lingering_since().is_some(),
            "write side shut down while still echoing"
        );
    }

    // The read budget.
    let reads = stream.reads - before.reads;
    ensure!(
        reads <= ctx.reads_per_turn,
        "{reads} reads in one drive, reads_per_turn {}",
        ctx.reads_per_turn
    );

    // The outcome.
    match outcome {
        Outcome::Finished => {
            ensure!(
                conn.owed_len(greeting) == 0,
                "finished owing {} bytes",
                conn.owed_len(greeting)
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
            !matches!(
                err.kind(),
                ErrorKind::WouldBlock | ErrorKind::Interrupted | ErrorKind::WriteZero
            ),
            "failed with {err}"
        ),
        Outcome::Yielded => ensure!(
            reads == ctx.reads_per_turn,
            "yielded after {reads} reads, reads_per_turn {}",
            ctx.reads_per_turn
        ),
        Outcome::Waiting => {}
    }
    if !failed && conn.read_closed() && conn.owed_len(greeting) == 0 {
        ensure!(
            matches!(outcome, Outcome::Finished),
            "end of stream read and nothing owed, yet {outcome:?}"
        );
    }
    Ok(())
}
