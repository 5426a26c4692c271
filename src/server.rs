//! The event loop: accepts, drives connections, enforces limits, stops cleanly.
//!
//! Platform differences come from [`crate::sys`] only; per-connection logic
//! lives in [`crate::connection`].

use std::fmt;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::{Level, debug, error, info, log, warn};
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::config::Config;
use crate::connection::{Connection, Context, Outcome, Readiness};
use crate::error::{describe, with_context};
use crate::stats::Stats;
use crate::sys::{self, AcceptError};
use crate::timers::{Deadlines, Recurring};

/// Token of the waker that carries stop requests.
const WAKER: Token = Token(0);
/// Token of standard input where [`Config::stop_on_stdin_eof`] has the
/// loop watch it (WASI preview 2; elsewhere a thread does).
const STDIN: Token = Token(1);
/// Listener `i` is registered as `Token(FIRST_LISTENER + i)`; as in mio's
/// example, clients come after the listeners (see `Server::first_connection`).
const FIRST_LISTENER: usize = 2;

/// Descriptors the process holds besides its connections and listeners:
/// stdio, the selector, the waker, the signal thread's pipe, and spares.
const SPARE_DESCRIPTORS: usize = 16;

/// Attempts at one shared port when several addresses ask for port 0: the
/// port the first one picked may be taken on another address.
const SHARED_PORT_ATTEMPTS: usize = 8;

/// How often connections whose close would wait on their peer are tried
/// again (see [`sys::close_would_wait`]).
const CLOSE_RETRY: Duration = Duration::from_millis(100);

/// Events taken from the kernel per wake-up.
const EVENTS_CAPACITY: usize = 1024;
/// Asks a running [`Server`] to stop, from any thread.
#[derive(Clone, Debug)]
pub struct StopHandle {
    requested: Arc<AtomicBool>,
    waker: Arc<sys::Waker>,
}

impl StopHandle {
    /// Stop accepting, write what is owed for up to the grace period, close
    /// everything, and return from [`Server::run`]. Idempotent.
    pub fn stop(&self) {
        self.requested.store(true, Ordering::SeqCst);
        if let Err(err) = self.waker.wake() {
            error!("waking the event loop to stop: {err}");
        }
    }

    /// Whether a stop was requested (the binary exits at once on a second
    /// request, whichever way the first came).
    pub fn is_stopping(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

/// A bound, not yet running echo server.
#[derive(Debug)]
pub struct Server {
    poll: Poll,
    /// Emptied when a stop begins; listener `i` has `Token(FIRST_LISTENER + i)`.
    listeners: Vec<TcpListener>,
    local_addrs: Vec<SocketAddr>,
    /// Connection `key` in the slab is registered as `Token(key + first_connection)`.
    first_connection: usize,
    connections: Slab<Client>,
    /// The settings (`ctx.config`) and what the connections share.
    ctx: Context,
    stop: StopHandle,
    /// Watches standard input when [`Config::stop_on_stdin_eof`] asks.
    stdin: Option<sys::StdinEof>,
    /// What the loop counts itself; the bytes are counted in `ctx.bytes`
    /// and join these when the loop ends.
    stats: Stats,
    /// Streams already ended for the server whose close would wait on their
    /// peer (WASI preview 2 only), closed once it no longer would.
    closing: Vec<TcpStream>,
    /// Connections that used up their read budget and must be driven again.
    yielded: Vec<usize>,
    /// Every timer of the loop.
    deadlines: Deadlines,
    /// Connections refused over `max_connections`, reported at warn once a minute.
    rejections: Recurring,
    /// Accept errors that paused accepting, reported at warn once a minute.
    accept_failures: Recurring,
}

#[derive(Debug)]
struct Client {
    stream: TcpStream,
    peer: Peer,
    conn: Connection,
}

/// How logs name a connection: its peer's address, or its token where the
/// platform cannot tell the address safely (WASI preview 2).
#[derive(Clone, Copy, Debug)]
struct Peer {
    addr: Option<SocketAddr>,
    token: Token,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            Some(addr) => write!(f, "{addr}"),
            None => write!(f, "connection {}", self.token.0),
        }
    }
}

impl Server {
    /// Binds every address of [`Config::addrs`] and prepares the event loop.
    ///
    /// A config that [`Config::validate`] refuses is refused with its error.
    /// Errors carry the address and the cause, e.g.
    /// `binding 127.0.0.1:9000: address already in use`; when one address
    /// fails, none is left bound. On WASI preview 1 the error is
    /// `ErrorKind::Unsupported` and exactly the message mio's example panics
    /// with there, `can't bind to an address with wasi`.
    ///
    /// On Unix it first raises the soft descriptor limit (RLIMIT_NOFILE)
    /// toward what [`Config::max_connections`] needs, up to the hard limit,
    /// as Go does at startup: the usual soft limit (1,024 on Linux, 256 on
    /// macOS) would otherwise cap the connections served far below it.
    pub fn bind(config: Config) -> io::Result<Server> {
        config.validate()?;
        let needed = config
            .max_connections
            .saturating_add(config.addrs.len())
            .saturating_add(SPARE_DESCRIPTORS);
        raise_descriptor_limit(needed, config.max_connections);
        let (mut listeners, local_addrs) = bind_all(&config.addrs, config.backlog)?;
        match sys::listen_backlog_cap() {
            Some(cap) if cap < config.backlog => warn!(
                "the kernel caps the listen backlog at {cap}, below the {} asked for: \
                 a burst of more clients than that may wait for SYN retransmits \
                 (raise net.core.somaxconn on Linux, kern.ipc.somaxconn on macOS and the BSDs)",
                config.backlog
            ),
            Some(cap) => debug!("listen backlog {} (kernel cap {cap})", config.backlog),
            None => debug!(
                "listen backlog {} (kernel cap not readable here)",
                config.backlog
            ),
        }
        // Room for every connection the limit allows, the one over it that
        // is accepted to be refused, and the loop's own descriptors.
        if let Err(err) = sys::reserve_descriptors(&listeners[0], needed) {
            debug!("growing the descriptor table ahead: {}", describe(&err));
        }
        let poll = Poll::new().map_err(|err| with_context("creating the event loop", err))?;
        for (i, (listener, addr)) in listeners.iter_mut().zip(&local_addrs).enumerate() {
            poll.registry()
                .register(listener, Token(FIRST_LISTENER + i), Interest::READABLE)
                .map_err(|err| with_context(format!("registering the listener on {addr}"), err))?;
        }
        let waker = sys::Waker::new(poll.registry(), WAKER)
            .map_err(|err| with_context("creating the waker", err))?;
        let stop = StopHandle {
            requested: Arc::new(AtomicBool::new(false)),
            waker: Arc::new(waker),
        };
        let stdin = if config.stop_on_stdin_eof {
            let on_eof = stop.clone();
            let on_eof = Box::new(move |what: &'static str| {
                // Logged before the loop wakes to log its own stop: see main.rs.
                if !on_eof.is_stopping() {
                    info!("{what}: shutting down (a signal exits at once)");
                    on_eof.stop();
                }
            });
            let watch = sys::StdinEof::watch(poll.registry(), STDIN, on_eof)
                .map_err(|err| with_context("watching standard input", err))?;
            Some(watch)
        } else {
            None
        };
        Ok(Server {
            poll,
            first_connection: FIRST_LISTENER + listeners.len(),
            listeners,
            local_addrs,
            connections: Slab::new(),
            stop,
            stdin,
            stats: Stats::default(),
            closing: Vec::new(),
            yielded: Vec::new(),
            deadlines: Deadlines::default(),
            rejections: Recurring::new("connections rejected over the limit"),
            accept_failures: Recurring::new("accept errors that paused accepting"),
            ctx: Context::new(config),
        })
    }

    /// The first address bound (with the real port when port 0 was asked
    /// for): the one a client of a single-address server connects to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addrs[0]
    }

    /// Every address bound, in the order of [`Config::addrs`] (a host name
    /// given to the binary contributes each address it resolved to).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The name of the readiness backend in use (`epoll`, `kqueue`, `iocp`, ...).
    pub fn backend(&self) -> &'static str {
        sys::BACKEND
    }

    /// A handle that stops this server from any thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Serves until stopped. Returns an error only when the event loop itself
    /// fails; errors on single connections close that connection and are logged.
    pub fn run(mut self) -> io::Result<Stats> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        self.ctx.now = Instant::now();
        self.schedule_idle_sweep();
        loop {
            self.wait(&mut events)?;
            self.ctx.now = Instant::now();
            for event in events.iter() {
                self.on_event(event);
            }
            for key in std::mem::take(&mut self.yielded) {
                self.drive(key, Readiness::default());
            }
            if self.on_timers().is_break() {
                return Ok(self.finish());
            }
        }
    }

    /// Waits for events until the next deadline, or not at all when
    /// connections yielded work.
    fn wait(&mut self, events: &mut Events) -> io::Result<()> {
        loop {
            let timeout = if self.yielded.is_empty() {
                self.deadlines
                    .next()
                    .map(|at| at.saturating_duration_since(self.ctx.now))
            } else {
                Some(Duration::ZERO)
            };
            match self.poll.poll(events, timeout) {
                Ok(()) => return Ok(()),
                // A signal interrupts the wait with EINTR; under qemu-user
                // (i386) a signal during the wait can come back as EAGAIN,
                // which epoll_wait does not return natively. Neither means
                // the loop is broken: wait again.
                Err(err)
                    if matches!(err.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {}
                Err(err) => return Err(with_context("waiting for events", err)),
            }
        }
    }

    fn on_event(&mut self, event: &Event) {
        match event.token() {
            WAKER => {}
            STDIN => {
                if let Some(stdin) = &mut self.stdin {
                    stdin.readable(self.poll.registry(), STDIN);
                }
            }
            Token(n) if n < self.first_connection => self.accept_all(n - FIRST_LISTENER),
            Token(n) => {
                // A hang-up or an error is for the connection to read.
                let error = event.is_error();
                let ready = Readiness {
                    readable: event.is_readable() || event.is_read_closed() || error,
                    writable: event.is_writable() || event.is_write_closed() || error,
                    read_closed: event.is_read_closed() || error,
                };
                self.drive(n - self.first_connection, ready);
            }
        }
    }

    /// Fires the timers that are due, then begins a stop once one is
    /// requested. Breaks when the loop is over.
    fn on_timers(&mut self) -> ControlFlow<()> {
        let now = self.ctx.now;
        let due = self.deadlines.due(now);
        if due.accept_resume.is_some() {
            self.deadlines.accept_resume = None;
            debug!("resuming accepts");
            (0..self.listeners.len()).for_each(|i| self.accept_all(i));
        }
        if due.idle_sweep.is_some() {
            self.close_idle();
            self.schedule_idle_sweep();
        }
        if due.close_retry.is_some() {
            self.closing.retain(sys::close_would_wait);
            self.deadlines.close_retry = (!self.closing.is_empty()).then(|| now + CLOSE_RETRY);
        }
        if due.rejections_summary.is_some() {
            self.deadlines.rejections_summary = self.rejections.summarize(now);
        }
        if due.accept_failures_summary.is_some() {
            self.deadlines.accept_failures_summary = self.accept_failures.summarize(now);
        }
        if self.stop.is_stopping() && self.deadlines.grace_end.is_none() {
            self.begin_stop();
        }
        self.stop_progress()
    }

    /// Once stopping: the loop is over when every connection has closed,
    /// or when the grace period has run out.
    fn stop_progress(&self) -> ControlFlow<()> {
        let Some(grace_end) = self.deadlines.grace_end else {
            return ControlFlow::Continue(());
        };
        if self.connections.is_empty() {
            return ControlFlow::Break(());
        }
        if self.ctx.now < grace_end {
            return ControlFlow::Continue(());
        }
        let owing = self
            .connections
            .iter()
            .filter(|(_, client)| !client.conn.write_shut())
            .count();
        warn!(
            "grace period over: closing {} connections ({owing} still owed bytes, \
             the others had not closed after our end of stream)",
            self.connections.len()
        );
        ControlFlow::Break(())
    }

    /// Closes what is left and says what the server did.
    fn finish(mut self) -> Stats {
        for key in self
            .connections
            .iter()
            .map(|(key, _)| key)
            .collect::<Vec<_>>()
        {
            self.close(key);
        }
        if !self.closing.is_empty() {
            warn!(
                "{} connections ended for the server are left open: closing them would wait for peers that read nothing",
                self.closing.len()
            );
            self.closing.drain(..).for_each(std::mem::forget);
        }
        // Every connection is closed: what they owed was released with them.
        debug_assert_eq!(self.ctx.pending, 0, "bytes still owed after run");
        let stats = Stats {
            bytes: self.ctx.bytes,
            ..self.stats
        };
        info!("stopped: {stats}");
        stats
    }

    /// Idle connections are found by a sweep a few times per timeout period:
    /// no per-connection timer, and a connection closes at most a quarter of
    /// the timeout late.
    fn schedule_idle_sweep(&mut self) {
        self.deadlines.idle_sweep = self.ctx.config.idle_timeout.map(|timeout| {
            let every = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
            self.ctx.now + every
        });
    }

    /// Closes what the idle timeout ends. A connection that owes nothing
    /// lingers: our end of stream, then what the peer still sends is
    /// discarded, so a byte racing the timeout costs no reset. One that owes
    /// bytes its peer is not reading is reset: a peer that does not read
    /// would never see our end of stream, and the reset frees the buffers at
    /// once. A lingering connection whose peer has not closed within the
    /// timeout is then closed.
    fn close_idle(&mut self) {
        let Some(timeout) = self.ctx.config.idle_timeout else {
            return;
        };
        let now = self.ctx.now;
        let mut to_linger = Vec::new();
        let mut to_reset = Vec::new();
        let mut to_close = Vec::new();
        for (key, client) in &self.connections {
            match client.conn.lingering_since() {
                Some(since) if now.saturating_duration_since(since) >= timeout => {
                    to_close.push(key)
                }
                Some(_) => {}
                None if now.saturating_duration_since(client.conn.last_active()) < timeout => {}
                None if client.conn.owed_len() == 0 => to_linger.push(key),
                None => to_reset.push(key),
            }
        }
        self.stats.connections_timed_out += (to_linger.len() + to_reset.len()) as u64;
        for key in to_linger {
            debug!(
                "{}: idle for {timeout:?}, ending it",
                self.connections[key].peer
            );
            self.connections[key].conn.linger(now);
            self.drive(key, Readiness::default());
        }
        for key in to_reset {
            let client = &self.connections[key];
            debug!(
                "{}: idle for {timeout:?} with {} bytes it does not read, resetting it",
                client.peer,
                client.conn.owed_len()
            );
            self.reset(key);
        }
        for key in to_close {
            debug!(
                "{}: did not close within {timeout:?} after our end of stream, closing it",
                self.connections[key].peer
            );
            self.close(key);
        }
    }

    /// Accepts every connection waiting on listener `i`.
    fn accept_all(&mut self, i: usize) {
        if self.deadlines.accept_resume.is_some() {
            return;
        }
        loop {
            let Some(listener) = self.listeners.get_mut(i) else {
                return; // stopping: the listeners are closed
            };
            match sys::accept(listener, self.poll.registry(), Token(FIRST_LISTENER + i)) {
                Ok((stream, addr)) => self.admit(stream, addr),
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    let (what, log_level) = match sys::accept_error(&err) {
                        // That connection is gone; the next one is not.
                        AcceptError::LostConnection => {
                            debug!(
                                "accepting: {}: a connection lost before it was accepted; \
                                 accepting the next",
                                describe(&err)
                            );
                            self.stats.connections_lost_before_accept += 1;
                            continue;
                        }
                        AcceptError::Exhausted => ("out of descriptors or buffers", Level::Warn),
                        AcceptError::Unexpected => ("unexpected error", Level::Error),
                    };
                    let pause = self.ctx.config.accept_pause;
                    let summary = &mut self.deadlines.accept_failures_summary;
                    if self.accept_failures.note(summary, self.ctx.now) {
                        log!(
                            log_level,
                            "accepting: {} ({what}); pausing accepts for {pause:?} \
                             (further pauses are summed up once a minute)",
                            describe(&err)
                        );
                    } else {
                        debug!(
                            "accepting: {}; pausing accepts for {pause:?}",
                            describe(&err)
                        );
                    }
                    // The listener stays registered: with edge-triggered
                    // readiness no event repeats until we accept again, so
                    // the pause costs no CPU, and the timer resumes accepting.
                    self.deadlines.accept_resume = Some(self.ctx.now + pause);
                    self.stats.accept_pauses += 1;
                    return;
                }
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream, addr: Option<SocketAddr>) {
        let key = self.connections.vacant_key();
        let token = Token(key + self.first_connection);
        let peer = Peer { addr, token };
        if self.connections.len() + self.closing.len() >= self.ctx.config.max_connections {
            // A reset, not an end of stream: the client learns it was refused
            // (not served and finished), and the server keeps no TIME_WAIT
            // state for the clients it sheds.
            reset_on_close(&stream, peer);
            self.stats.connections_rejected += 1;
            let summary = &mut self.deadlines.rejections_summary;
            if self.rejections.note(summary, self.ctx.now) {
                warn!(
                    "{peer}: over the limit of {} connections, closing it \
                     (further rejections are summed up once a minute)",
                    self.ctx.config.max_connections
                );
            } else {
                debug!("{peer}: over the limit, closing it");
            }
            return;
        }
        if let Err(err) = stream.set_nodelay(true) {
            debug!("{peer}: setting TCP_NODELAY: {}", describe(&err));
        }
        if let Err(err) = self.poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            warn!(
                "{peer}: registering the connection: {}; closing it",
                describe(&err)
            );
            self.stats.connections_failed += 1;
            return;
        }
        self.connections.insert(Client {
            stream,
            peer,
            conn: Connection::new(&self.ctx),
        });
        self.stats.connections_served += 1;
        self.stats.peak_connections = self.stats.peak_connections.max(self.connections.len());
        debug!("{peer}: accepted");
        // Send the greeting now rather than after a round trip through poll.
        self.drive(key, Readiness::default());
    }

    fn drive(&mut self, key: usize, ready: Readiness) {
        let Some(client) = self.connections.get_mut(key) else {
            return; // closed earlier in this batch of events
        };
        match client.conn.drive(&mut client.stream, ready, &mut self.ctx) {
            Outcome::Waiting => {}
            Outcome::Yielded => self.yielded.push(key),
            Outcome::Finished => {
                debug!("{}: both sides closed", client.peer);
                self.close(key);
            }
            Outcome::Failed(err) => {
                debug!(
                    "{}: {}; closing the connection",
                    client.peer,
                    describe(&err)
                );
                self.stats.connections_failed += 1;
                self.close(key);
            }
        }
    }

    fn close(&mut self, key: usize) {
        let mut client = self.connections.remove(key);
        client.conn.discard(&mut self.ctx);
        // Dropping the stream closes it and removes it from the selector,
        // unless the close would wait on the peer: then it waits here.
        if sys::close_would_wait(&client.stream) {
            debug!(
                "{}: closing would wait for the peer to read; closing it once it has",
                client.peer
            );
            if let Err(err) = self.poll.registry().deregister(&mut client.stream) {
                debug!("{}: deregistering: {}", client.peer, describe(&err));
            }
            self.closing.push(client.stream);
            self.deadlines
                .close_retry
                .get_or_insert(self.ctx.now + CLOSE_RETRY);
        }
    }

    /// Closes a connection with a reset, discarding what it owes.
    fn reset(&mut self, key: usize) {
        let client = &self.connections[key];
        reset_on_close(&client.stream, client.peer);
        self.close(key);
    }

    /// Stops accepting; every connection echoes what has already arrived,
    /// then lingers: owed bytes, our end of stream, and it closes when its
    /// peer does, or at the deadline.
    fn begin_stop(&mut self) {
        // The grace counts from now, not from when this turn's poll
        // returned: a request that arrived while the turn ran must still
        // get the whole grace period.
        self.ctx.now = Instant::now();
        let deadline = self.ctx.now + self.ctx.config.shutdown_grace;
        self.deadlines.grace_end = Some(deadline);
        for mut listener in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        info!(
            "stopping: no longer accepting; finishing {} connections for up to {:?}",
            self.connections.len(),
            self.ctx.config.shutdown_grace
        );
        for key in self
            .connections
            .iter()
            .map(|(key, _)| key)
            .collect::<Vec<_>>()
        {
            self.connections[key].conn.stop();
            self.drive(key, Readiness::default());
        }
    }
}

/// Binds every address, in order. Addresses with port 0 share one port:
/// the first picks it and the others ask for it, and when it is taken on
/// one of them, everything is closed and a new port tried (up to
/// [`SHARED_PORT_ATTEMPTS`]). On an error nothing is left bound.
fn bind_all(addrs: &[SocketAddr], backlog: u32) -> io::Result<(Vec<TcpListener>, Vec<SocketAddr>)> {
    let mut attempt = 1;
    'attempts: loop {
        let (mut listeners, mut bound) = (Vec::new(), Vec::<SocketAddr>::new());
        let mut shared_port = None;
        for &addr in addrs {
            let mut asked = addr;
            if addr.port() == 0 {
                asked.set_port(shared_port.unwrap_or(0));
            }
            let listener = match sys::bind_listener(asked, backlog) {
                Ok(listener) => listener,
                Err(err) if err.kind() == ErrorKind::Unsupported => return Err(err),
                Err(err)
                    if err.kind() == ErrorKind::AddrInUse
                        && asked.port() != addr.port()
                        && attempt < SHARED_PORT_ATTEMPTS =>
                {
                    debug!(
                        "binding {asked}: {}; trying another shared port",
                        describe(&err)
                    );
                    attempt += 1;
                    continue 'attempts;
                }
                Err(err) => return Err(with_context(format!("binding {asked}"), err)),
            };
            let local = listener.local_addr().map_err(|err| {
                with_context(format!("reading the address bound for {asked}"), err)
            })?;
            if addr.port() == 0 {
                shared_port.get_or_insert(local.port());
            }
            listeners.push(listener);
            bound.push(local);
        }
        return Ok((listeners, bound));
    }
}

/// Raises the soft descriptor limit to `needed` where the platform has one
/// (see [`sys::raise_descriptor_limit`]), and says what it did: at info
/// when it raised it, at warn when the hard limit is too low for
/// `max_connections`.
fn raise_descriptor_limit(needed: usize, max_connections: usize) {
    match sys::raise_descriptor_limit(needed) {
        Ok(None) => {}
        Ok(Some(limit)) if limit.now >= needed => {
            if limit.was < limit.now {
                info!(
                    "raised the soft descriptor limit (RLIMIT_NOFILE) from {} to {} \
                     for {max_connections} connections (hard limit {})",
                    limit.was,
                    limit.now,
                    count(limit.hard)
                );
            } else {
                debug!(
                    "descriptor limit {} (hard {}) holds {max_connections} connections",
                    limit.now,
                    count(limit.hard)
                );
            }
        }
        Ok(Some(limit)) => warn!(
            "the descriptor limit (RLIMIT_NOFILE) goes no higher than {} (hard limit {}), \
             below the {needed} that {max_connections} connections need: about {} \
             connections can be served at once (raise the hard limit: ulimit -Hn, or \
             systemd's LimitNOFILE=)",
            limit.now,
            count(limit.hard),
            limit.now.saturating_sub(needed - max_connections)
        ),
        Err(err) => warn!(
            "raising the descriptor limit (RLIMIT_NOFILE) to {needed}: {}",
            describe(&err)
        ),
    }
}

/// A limit for a log line: RLIM_INFINITY reads as "unlimited".
fn count(limit: usize) -> String {
    match limit {
        usize::MAX => "unlimited".into(),
        n => n.to_string(),
    }
}

/// Makes closing `stream` send a reset (SO_LINGER 0). Best effort: where the
/// platform refuses, the close is an ordinary one.
fn reset_on_close(stream: &TcpStream, peer: Peer) {
    if let Err(err) = sys::set_reset_on_close(stream) {
        debug!("{peer}: asking for a reset on close: {}", describe(&err));
    }
}
