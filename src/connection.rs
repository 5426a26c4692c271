//! The per-connection state machine, free of sockets.
//!
//! A [`Connection`] knows what it owes its peer (the rest of the greeting, then
//! echoed bytes not yet written) and what the socket was last seen able to do.
//! It closes the way nginx and HAProxy do, without a reset that would destroy
//! bytes still owed: it writes what it owes, shuts down its write side (the
//! peer sees end of stream after the last echoed byte), then reads and
//! discards until the peer closes ([`Connection::stop`], [`Connection::linger`]).
//! [`Connection::drive`] takes readiness, performs reads and writes on anything
//! that implements [`Stream`] until the socket would block, and says what the
//! event loop should do next. The event loop passes a mio `TcpStream`; tests
//! pass an in-memory stream that returns arbitrary short reads, short writes
//! and `WouldBlock`, so every path here runs without a network.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::Instant;

use crate::{ByteStats, Config};

/// What a connection needs from its socket.
pub trait Stream: Read + Write {
    /// Shut down the write side, sending FIN once everything written is sent.
    fn shutdown_write(&mut self) -> io::Result<()>;
}

impl Stream for mio::net::TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// Readiness the event loop saw for one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Reading may make progress (data, end of stream, or an error to collect).
    pub readable: bool,
    /// Writing may make progress (buffer space, or an error to collect).
    pub writable: bool,
    /// The peer's end of stream (or an error) has arrived and is still to be
    /// read. Edge-triggered selectors report it once, often together with
    /// the last data: from then on a short read no longer proves that the
    /// next read would block, because that read returns the end of stream.
    pub read_closed: bool,
}

#[cfg(any(test, feature = "test-util"))]
impl Readiness {
    /// Both directions ready, the end of stream not reported.
    pub const BOTH: Readiness = Readiness {
        readable: true,
        writable: true,
        read_closed: false,
    };
    /// Every flag, as a hang-up or an error is reported.
    pub const ALL: Readiness = Readiness {
        read_closed: true,
        ..Readiness::BOTH
    };
}

/// What the event loop should do with a connection after [`Connection::drive`].
#[derive(Debug)]
pub enum Outcome {
    /// Nothing more can happen until the socket reports readiness again.
    Waiting,
    /// The per-turn read budget ran out with more to do: drive it again soon,
    /// after the other ready connections (fairness under floods).
    Yielded,
    /// Everything owed was written, our write side is shut down and the peer
    /// has closed its side (or half-closed first): close the socket.
    Finished,
    /// An I/O error ended this connection (reset, broken pipe, ...): close it.
    Failed(io::Error),
}

/// Whether, with this build's backend, a read or write that moved fewer bytes
/// than asked proves the next one would return `WouldBlock` (see src/sys's
/// contract); a client loop like the benchmark's follows the same rule.
pub const SHORT_IO_PROVES_WOULD_BLOCK: bool = crate::sys::SHORT_IO_PROVES_WOULD_BLOCK;

/// Size of the one read buffer the loop shares between all connections.
pub const DEFAULT_READ_BUF_LEN: usize = 64 * 1024;

/// What all connections of one event loop share: the server's settings,
/// how far a read or write may be trusted, the loop's clock, the byte
/// counts and the one read buffer.
pub struct Context {
    /// The server's settings, the one copy: connections read its `greeting`
    /// (the same for their whole life: each counts what it still owes of
    /// it) and `max_pending` (at least 1, as [`Config::validate`] asks).
    pub config: Config,
    /// Whether a read or write shorter than asked proves the socket would now
    /// block, so the call that would return `WouldBlock` can be skipped. True
    /// under edge-triggered epoll and kqueue; false where mio only re-arms
    /// readiness after `WouldBlock` (Windows, poll(2)). Starts as this
    /// platform's [`SHORT_IO_PROVES_WOULD_BLOCK`].
    pub short_io_proves_would_block: bool,
    /// Reads one `drive` may do before it yields to other connections.
    pub reads_per_turn: usize,
    /// The loop's current time, taken once per wake-up.
    pub now: Instant,
    /// What the connections moved, counted as they move it.
    pub bytes: ByteStats,
    /// Bytes all connections owe right now (the gauge whose peak is
    /// `bytes.peak_pending_total`).
    pub pending: usize,
    /// The one read buffer the whole loop shares.
    read_buf: Box<[u8]>,
}

impl Context {
    /// A context for connections served with `config` (one that
    /// [`Config::validate`] accepts), with this platform's short-I/O rule
    /// and a shared read buffer of [`DEFAULT_READ_BUF_LEN`] bytes.
    pub fn new(config: Config) -> Context {
        Context {
            config,
            short_io_proves_would_block: SHORT_IO_PROVES_WOULD_BLOCK,
            reads_per_turn: 16,
            now: Instant::now(),
            bytes: ByteStats::default(),
            pending: 0,
            read_buf: vec![0; DEFAULT_READ_BUF_LEN].into_boxed_slice(),
        }
    }

    /// Replaces the shared read buffer with one of `len` bytes (at least 1):
    /// small buffers make tests take many short reads.
    #[cfg(any(test, feature = "test-util"))]
    pub fn with_read_buf_len(mut self, len: usize) -> Context {
        self.read_buf = vec![0; len.max(1)].into_boxed_slice();
        self
    }

    /// Sets whether a short read or write proves the socket would block.
    #[cfg(any(test, feature = "test-util"))]
    pub fn with_short_io_proves_would_block(mut self, proves: bool) -> Context {
        self.short_io_proves_would_block = proves;
        self
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .field(
                "short_io_proves_would_block",
                &self.short_io_proves_would_block,
            )
            .field("reads_per_turn", &self.reads_per_turn)
            .field("bytes", &self.bytes)
            .field("pending", &self.pending)
            .field("read_buf_len", &self.read_buf.len())
            .finish_non_exhaustive()
    }
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Greeting, then echoing everything that arrives.
    Serving,
    /// The server is stopping: what has already arrived is still echoed, up to
    /// the first read that would block; then the connection lingers.
    Stopping,
    /// The echo has ended: write what is owed, shut down our write side, and
    /// read and discard until the peer closes. Since when it lingers.
    Lingering(Instant),
}

/// One client's state. Holds no socket and, while it owes nothing beyond the
/// greeting, no heap memory.
#[derive(Debug)]
pub struct Connection {
    phase: Phase,
    /// Echoed bytes received but not yet written back, oldest first.
    pending: VecDeque<u8>,
    /// Bytes of the shared greeting still to write (its tail).
    greeting_left: usize,
    /// Last time a byte moved in either direction.
    last_active: Instant,
    /// The socket may have bytes to read (no `WouldBlock` seen since it was readable).
    can_read: bool,
    /// The socket may accept bytes (no `WouldBlock` seen since it was writable).
    can_write: bool,
    /// The peer shut down its write side: no more bytes will arrive.
    read_closed: bool,
    /// The event loop reported the peer's end of stream (or an error), which
    /// must still be read: short reads no longer prove the socket drained.
    end_reported: bool,
    /// Our write side is shut down (end of stream sent after what was owed).
    write_shut: bool,
}

impl Connection {
    /// A freshly accepted connection of `ctx`'s loop: it owes the greeting
    /// and is presumed writable; readability is learned from the first event.
    pub fn new(ctx: &Context) -> Connection {
        Connection {
            phase: Phase::Serving,
            pending: VecDeque::new(),
            greeting_left: ctx.config.greeting.len(),
            last_active: ctx.now,
            can_read: false,
            can_write: true,
            read_closed: false,
            end_reported: false,
            write_shut: false,
        }
    }

    /// The next bytes to write: the rest of the greeting, then pending echo.
    /// Empty when nothing is owed.
    pub fn owed<'a>(&'a self, ctx: &'a Context) -> &'a [u8] {
        if self.greeting_left > 0 {
            let greeting = &ctx.config.greeting;
            &greeting[greeting.len() - self.greeting_left..]
        } else {
            self.pending.as_slices().0
        }
    }

    /// Total bytes owed to the peer.
    pub fn owed_len(&self) -> usize {
        self.greeting_left + self.pending.len()
    }

    /// Echo bytes received and not yet written back.
    #[cfg(any(test, feature = "test-util"))]
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// When a byte last moved on this connection.
    pub fn last_active(&self) -> Instant {
        self.last_active
    }

    /// Whether the peer has shut down its write side.
    #[cfg(any(test, feature = "test-util"))]
    pub fn read_closed(&self) -> bool {
        self.read_closed
    }

    /// The server is stopping: echo what has already arrived (reading until
    /// the socket would block), then linger. Does nothing once lingering.
    pub fn stop(&mut self) {
        if self.phase == Phase::Serving {
            self.phase = Phase::Stopping;
            // Look once more, even without a new event: bytes may be waiting.
            self.can_read = true;
        }
    }

    /// Ends the echo now: from here on, write what is owed, shut down our
    /// write side, and read and discard until the peer closes.
    pub fn linger(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Lingering(_)) {
            self.phase = Phase::Lingering(now);
            self.can_read = true;
        }
    }

    /// Since when the connection lingers, if it does.
    pub fn lingering_since(&self) -> Option<Instant> {
        match self.phase {
            Phase::Lingering(since) => Some(since),
            _ => None,
        }
    }

    /// Whether our write side is shut down.
    pub fn write_shut(&self) -> bool {
        self.write_shut
    }

    /// How many bytes may be read now without the pending queue passing
    /// `max_pending`. Zero means backpressure (or end of stream).
    pub fn read_budget(&self, ctx: &Context) -> usize {
        if self.read_closed {
            0
        } else {
            ctx.config.max_pending.saturating_sub(self.pending.len())
        }
    }

    /// Records that `n` bytes of [`Connection::owed`] were written.
    fn consume_owed(&mut self, n: usize, ctx: &mut Context) {
        if n == 0 {
            return;
        }
        self.last_active = ctx.now;
        let from_greeting = n.min(self.greeting_left);
        self.greeting_left -= from_greeting;
        let echoed = n - from_greeting;
        if echoed > 0 {
            self.pending.drain(..echoed);
            ctx.pending -= echoed;
            ctx.bytes.echoed += echoed as u64;
            if self.pending.is_empty() {
                // Give the memory back: an idle connection costs no buffer.
                self.pending = VecDeque::new();
            }
        }
    }

    /// Queues the shared buffer's `range`: bytes that could not be written at once.
    fn queue(&mut self, range: std::ops::Range<usize>, ctx: &mut Context) {
        self.pending.extend(&ctx.read_buf[range.clone()]);
        ctx.pending += range.len();
        let bytes = &mut ctx.bytes;
        bytes.peak_pending_total = bytes.peak_pending_total.max(ctx.pending);
        bytes.peak_pending_one = bytes.peak_pending_one.max(self.pending.len());
    }

    /// Writes what is owed until it is all written or the socket would block.
    fn flush<S: Stream>(&mut self, stream: &mut S, ctx: &mut Context) -> io::Result<()> {
        while self.can_write {
            let chunk = self.owed(ctx);
            if chunk.is_empty() {
                break;
            }
            let (written, writable) = write_once(stream, chunk, ctx.short_io_proves_would_block)?;
            self.can_write = writable;
            self.consume_owed(written, ctx);
        }
        Ok(())
    }

    /// Sends back the `len` bytes just read into the shared buffer: straight
    /// from the buffer when nothing else is owed, otherwise behind what is.
    fn echo<S: Stream>(&mut self, stream: &mut S, len: usize, ctx: &mut Context) -> io::Result<()> {
        let mut sent = 0;
        if self.owed_len() == 0 {
            while self.can_write && sent < len {
                let (written, writable) = write_once(
                    stream,
                    &ctx.read_buf[sent..len],
                    ctx.short_io_proves_would_block,
                )?;
                self.can_write = writable;
                sent += written;
                // Counted as it goes: a later write may fail.
                ctx.bytes.echoed += written as u64;
            }
        }
        if sent < len {
            self.queue(sent..len, ctx);
        }
        Ok(())
    }

    /// Moves bytes until the socket would block, the read budget for this turn
    /// is spent, or the connection is over.
    pub fn drive<S: Stream>(
        &mut self,
        stream: &mut S,
        ready: Readiness,
        ctx: &mut Context,
    ) -> Outcome {
        self.can_read |= ready.readable;
        self.can_write |= ready.writable;
        self.end_reported |= ready.read_closed;
        let mut reads = 0;
        loop {
            if let Err(err) = self.flush(stream, ctx) {
                return Outcome::Failed(err);
            }
            let owes = self.owed_len() > 0;
            if self.phase == Phase::Stopping && !self.can_read {
                // Everything that had arrived when the stop came was read.
                self.phase = Phase::Lingering(ctx.now);
            }
            let lingering = matches!(self.phase, Phase::Lingering(_));
            if (self.read_closed || lingering) && !owes && !self.write_shut {
                match stream.shutdown_write() {
                    Ok(()) => self.write_shut = true,
                    // The peer closed completely meanwhile; nothing is lost.
                    Err(err) if err.kind() == ErrorKind::NotConnected => return Outcome::Finished,
                    Err(err) => return Outcome::Failed(err),
                }
            }
            if self.read_closed {
                return if owes {
                    Outcome::Waiting
                } else {
                    Outcome::Finished
                };
            }
            let budget = if lingering {
                ctx.read_buf.len()
            } else {
                self.read_budget(ctx).min(ctx.read_buf.len())
            };
            if !self.can_read || budget == 0 {
                return Outcome::Waiting;
            }
            if reads == ctx.reads_per_turn {
                return Outcome::Yielded;
            }
            reads += 1;
            match stream.read(&mut ctx.read_buf[..budget]) {
                Ok(0) => {
                    self.read_closed = true;
                    self.can_read = false;
                }
                Ok(len) => {
                    if len < budget && ctx.short_io_proves_would_block && !self.end_reported {
                        self.can_read = false;
                    }
                    if lingering {
                        // After our end of stream: not echoed, and not
                        // activity that keeps the connection open.
                        ctx.bytes.discarded += len as u64;
                        continue;
                    }
                    self.last_active = ctx.now;
                    ctx.bytes.received += len as u64;
                    log_received(&ctx.read_buf[..len]);
                    if let Err(err) = self.echo(stream, len, ctx) {
                        return Outcome::Failed(err);
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => self.can_read = false,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Outcome::Failed(err),
            }
        }
    }

    /// Gives up whatever is still owed (the connection is being dropped).
    pub fn discard(&mut self, ctx: &mut Context) {
        ctx.pending -= self.pending.len();
        self.pending = VecDeque::new();
    }
}

/// One write attempt. Returns the bytes written and whether the socket may
/// still accept more without a `WouldBlock` first.
fn write_once<S: Write>(
    stream: &mut S,
    data: &[u8],
    short_io_proves_would_block: bool,
) -> io::Result<(usize, bool)> {
    loop {
        return match stream.write(data) {
            Ok(0) => Err(ErrorKind::WriteZero.into()),
            Ok(n) => Ok((n, n == data.len() || !short_io_proves_would_block)),
            Err(err) if err.kind() == ErrorKind::WouldBlock => Ok((0, false)),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => Err(err),
        };
    }
}

/// At debug level, shows what arrived the way mio's example prints it.
fn log_received(data: &[u8]) {
    if log::log_enabled!(log::Level::Debug) {
        match std::str::from_utf8(data) {
            Ok(text) => log::debug!("received data: {}", text.trim_end()),
            Err(_) => log::debug!("received (non-UTF-8) data: {data:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ScriptedStream;

    fn ctx(short_io: bool) -> Context {
        Context::new(Config {
            greeting: b"hi\n".to_vec(),
            max_pending: 8,
            ..Config::default()
        })
        .with_short_io_proves_would_block(short_io)
        .with_read_buf_len(4)
    }

    #[test]
    fn greeting_then_echo_in_order() {
        let mut ctx = ctx(false);
        let mut conn = Connection::new(&ctx);
        let mut stream = ScriptedStream::new(b"abcdefghij");
        for _ in 0..10 {
            conn.drive(&mut stream, Readiness::BOTH, &mut ctx);
        }
        assert_eq!(stream.written(), b"hi\nabcdefghij");
        assert_eq!(ctx.bytes.received, 10);
        assert_eq!(ctx.bytes.echoed, 10);
        assert_eq!(ctx.pending, 0);
    }

    #[test]
    fn blocked_writer_applies_backpressure_at_max_pending() {
        let mut ctx = ctx(false);
        let mut conn = Connection::new(&ctx);
        let mut stream = ScriptedStream::new(&[7u8; 100]);
        stream.write_capacity = Some(0);
        assert!(matches!(
            conn.drive(&mut stream, Readiness::BOTH, &mut ctx),
            Outcome::Waiting
        ));
        assert_eq!(conn.pending_len(), 8, "reads stop exactly at max_pending");
        assert_eq!(conn.read_budget(&ctx), 0);
        assert_eq!(stream.unread(), 92);
        // The peer starts reading: the rest flows through and nothing is lost.
        stream.write_capacity = None;
        while stream.unread() > 0 || conn.owed_len() > 0 {
            conn.drive(&mut stream, Readiness::BOTH, &mut ctx);
        }
        let mut expected = b"hi\n".to_vec();
        expected.extend([7u8; 100]);
        assert_eq!(stream.written(), &expected[..]);
        assert_eq!(ctx.bytes.peak_pending_one, 8);
    }

    #[test]
    fn half_close_flushes_then_shuts_down() {
        let mut ctx = ctx(false);
        let mut conn = Connection::new(&ctx);
        let mut stream = ScriptedStream::new(b"bye");
        stream.eof_after_data = true;
        stream.write_capacity = Some(2);
        let mut finished = false;
        for _ in 0..20 {
            if let Outcome::Finished = conn.drive(&mut stream, Readiness::BOTH, &mut ctx) {
                finished = true;
                break;
            }
            stream.write_capacity = Some(2);
        }
        assert!(finished);
        assert_eq!(stream.written(), b"hi\nbye");
        assert!(stream.write_shut);
    }

    #[test]
    fn read_error_fails_only_this_connection() {
        let mut ctx = ctx(false);
        let mut conn = Connection::new(&ctx);
        let mut stream = ScriptedStream::new(b"");
        stream.read_error = Some(ErrorKind::ConnectionReset);
        match conn.drive(&mut stream, Readiness::BOTH, &mut ctx) {
            Outcome::Failed(err) => assert_eq!(err.kind(), ErrorKind::ConnectionReset),
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[test]
    fn short_read_skips_the_would_block_read_only_when_proven() {
        for (short_io, expected_reads) in [(true, 1), (false, 2)] {
            let mut ctx = ctx(short_io);
            let mut conn = Connection::new(&ctx);
            let mut stream = ScriptedStream::new(b"ab");
            conn.drive(&mut stream, Readiness::BOTH, &mut ctx);
            assert_eq!(stream.reads, expected_reads, "short_io={short_io}");
        }
    }

    #[test]
    fn yields_after_the_read_budget() {
        let mut ctx = ctx(false);
        ctx.reads_per_turn = 2;
        let mut conn = Connection::new(&ctx);
        let mut stream = ScriptedStream::new(&[1u8; 64]);
        stream.read_limit = 1;
        assert!(matches!(
            conn.drive(&mut stream, Readiness::BOTH, &mut ctx),
            Outcome::Yielded
        ));
        assert_eq!(stream.reads, 2);
    }

    #[test]
    fn idle_connection_holds_no_buffer() {
        let mut ctx = ctx(false);
        let mut conn = Connection::new(&ctx);
        let mut stream = ScriptedStream::new(b"xyz");
        stream.write_capacity = Some(3);
        conn.drive(&mut stream, Readiness::BOTH, &mut ctx);
        assert_eq!(conn.pending_len(), 3);
        stream.write_capacity = None;
        conn.drive(&mut stream, Readiness::BOTH, &mut ctx);
        assert_eq!(conn.pending.capacity(), 0);
    }

    #[test]
    fn stop_echoes_what_arrived_then_ends_the_stream_and_discards_the_rest() {
        let mut ctx = ctx(false);
        let mut conn = Connection::new(&ctx);
        let mut stream = ScriptedStream::new(b"");
        conn.drive(&mut stream, Readiness::BOTH, &mut ctx);
        stream.push_input(b"abc");
        conn.stop();
        assert!(matches!(
            conn.drive(&mut stream, Readiness::default(), &mut ctx),
            Outcome::Waiting
        ));
        assert_eq!(stream.written(), b"hi\nabc", "what had arrived is echoed");
        assert!(stream.write_shut, "then our end of stream");
        assert!(conn.lingering_since().is_some());
        stream.push_input(b"late");
        conn.drive(&mut stream, Readiness::BOTH, &mut ctx);
        assert_eq!(stream.written(), b"hi\nabc", "late bytes are not echoed");
        assert_eq!(ctx.bytes.discarded, 4);
        stream.eof_after_data = true;
        assert!(matches!(
            conn.drive(&mut stream, Readiness::BOTH, &mut ctx),
            Outcome::Finished
        ));
        assert_eq!(ctx.bytes.echoed, 3);
        assert_eq!(ctx.bytes.received, 3);
    }

    #[test]
    fn linger_writes_what_is_owed_before_the_end_of_stream() {
        let mut ctx = ctx(false);
        let mut conn = Connection::new(&ctx);
        let mut stream = ScriptedStream::new(b"owed");
        stream.write_capacity = Some(3);
        conn.drive(&mut stream, Readiness::BOTH, &mut ctx);
        assert_eq!(conn.owed_len(), 4);
        conn.linger(ctx.now);
        conn.drive(&mut stream, Readiness::BOTH, &mut ctx);
        assert!(!stream.write_shut, "no end of stream while bytes are owed");
        stream.write_capacity = None;
        conn.drive(&mut stream, Readiness::BOTH, &mut ctx);
        assert_eq!(stream.written(), b"hi\nowed");
        assert!(stream.write_shut);
    }
}
