//! Fidelity probes: what this cell's runtime (the real OS, qemu-user, Wine
//! or wasmtime) does with the socket events the server relies on. Each
//! probe prints one line, `fidelity: NAME = SEEN; DETAIL`, where SEEN is a
//! short token the matrix runner compares with what the real OS the cell
//! stands for documents (ci/fidelity.toml holds those expectations and
//! their sources); a deviation is a fact for the report, not a failure.
//!
//! The probes use the server's own sockets (`testing::listen`, `accept`),
//! mio's `Poll` on one thread (WASI has no second one) and deadlines, never
//! fixed ports. A probe that cannot run here says `n/a` and why; one whose
//! set-up fails (no socket, no event before its deadline where one must
//! come) fails this test binary, and so the cell.
//!
//! The reset probes run twice: with the resetting peer a socket of this
//! process, inside the same runtime (`reset-by-*`), and with it a process
//! on the host, outside the runtime, as a real server's clients are
//! (`host-reset-by-*`). That peer is the matrix runner's: it listens at the
//! address in the variable `probes::HOST_PEER` names and takes one request per line on a
//! control connection, `connect PORT` (it connects to 127.0.0.1:PORT and
//! answers `connected`) and `reset` (it closes that connection with
//! SO_LINGER 0 and answers `reset`); ci/src/peer.rs. Without it those
//! probes say `n/a`. Under Wine and wasmtime the two peers differ: a WASI
//! program cannot reset at all, and Wine's sockets talk to each other
//! through the host's.
//!
//! No libtest harness (`harness = false` in Cargo.toml): libtest would
//! capture the lines of a passing test. The binary takes libtest's
//! arguments: a filter that does not match `fidelity` runs nothing, and
//! `--list` lists the one test.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use portable_echo::testing;

/// The name libtest would give this test, for filters and `--list`.
const NAME: &str = "fidelity";

/// Longest wait for an event that must come. Generous: qemu-user and Wine
/// are slow, and Windows retries a refused loopback connect for about 2 s.
const DEADLINE: Duration = Duration::from_secs(10);

/// How long a probe watches for events that must not come.
const QUIET: Duration = Duration::from_millis(100);

const LISTENER: Token = Token(0);
const SERVER: Token = Token(1);
const CLIENT: Token = Token(2);
const PENDING: Token = Token(3);
#[cfg(not(target_os = "wasi"))]
const WAKER: Token = Token(4);
const CONTROL: Token = Token(5);

/// What a probe saw: the token compared with the expectation, and what
/// explains it.
struct Seen {
    token: String,
    detail: String,
}

/// A probe's result: what it saw, `n/a` (it cannot run here), or an error
/// that fails the binary.
type Outcome = Result<Seen, Failure>;

enum Failure {
    /// The probe cannot run here, and why.
    NotApplicable(String),
    /// Its set-up failed.
    Broken(String),
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Failure {
        Failure::Broken(err.to_string())
    }
}

fn seen(token: &str, detail: impl Into<String>) -> Outcome {
    Ok(Seen {
        token: token.into(),
        detail: detail.into(),
    })
}

// The probes' one list, written by `cargo xtask gen` from ci/fidelity.toml.
#[path = "fidelity/probes.rs"]
mod probes;
use probes::{HOST_PEER, Probe};

/// Runs a probe: it says what it saw.
fn run(probe: Probe) -> Outcome {
    match probe {
        Probe::ResetByRead => reset_by_read(PeerAt::Runtime),
        Probe::ResetByWrite => reset_by_write(PeerAt::Runtime),
        Probe::ResetByAccept => reset_by_accept(PeerAt::Runtime),
        Probe::HostResetByRead => reset_by_read(PeerAt::Host),
        Probe::HostResetByWrite => reset_by_write(PeerAt::Host),
        Probe::HostResetByAccept => reset_by_accept(PeerAt::Host),
        Probe::RefusedConnect => refused_connect(),
        Probe::HalfClose => half_close(),
        Probe::FalseReadiness => false_readiness(),
        Probe::TimerLateness => timer_lateness(),
        Probe::WakerCoalescing => waker_coalescing(),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        println!("{NAME}: test");
        return ExitCode::SUCCESS;
    }
    if !filters(&args)
        .iter()
        .all(|filter| NAME.contains(filter.as_str()))
    {
        return ExitCode::SUCCESS;
    }
    let mut broken = 0;
    for probe in Probe::ALL {
        let (token, detail) = match run(probe) {
            Ok(seen) => (seen.token, seen.detail),
            Err(Failure::NotApplicable(why)) => ("n/a".into(), why),
            Err(Failure::Broken(why)) => {
                broken += 1;
                ("broken".into(), why)
            }
        };
        let name = probe.name();
        println!("fidelity: {name} = {token}; {}", detail.replace('\n', " "));
    }
    if broken > 0 {
        eprintln!("{broken} fidelity probe(s) could not run: see their lines above");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// libtest's positional arguments (filters), skipping its options and the
/// values of those that take one.
fn filters(args: &[String]) -> Vec<String> {
    const WITH_VALUE: [&str; 6] = [
        "--test-threads",
        "--skip",
        "--format",
        "--color",
        "--logfile",
        "-Z",
    ];
    let mut filters = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            filters.push(arg.clone());
        }
    }
    filters
}

/// The flags of one event, kept past the next poll.
#[derive(Clone, Copy)]
struct Flags {
    readable: bool,
    writable: bool,
    read_closed: bool,
    write_closed: bool,
    error: bool,
}

impl Flags {
    fn of(event: &Event) -> Flags {
        Flags {
            readable: event.is_readable(),
            writable: event.is_writable(),
            read_closed: event.is_read_closed(),
            write_closed: event.is_write_closed(),
            error: event.is_error(),
        }
    }

    /// The flags, as mio names them.
    fn describe(self) -> String {
        let all = [
            (self.readable, "readable"),
            (self.writable, "writable"),
            (self.read_closed, "read-closed"),
            (self.write_closed, "write-closed"),
            (self.error, "error"),
        ];
        let names: Vec<&str> = all
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| *name)
            .collect();
        if names.is_empty() {
            "no flag".into()
        } else {
            names.join("+")
        }
    }
}

/// One `Poll` and its events, with waits bounded by deadlines. An event
/// for another token than the one waited for is kept for its own wait:
/// readiness is edge-triggered, and a lost edge would never come again.
struct Net {
    poll: Poll,
    events: Events,
    /// Events that came while another token was waited for.
    kept: Vec<(Token, Flags)>,
}

impl Net {
    fn new() -> io::Result<Net> {
        Ok(Net {
            poll: Poll::new()?,
            events: Events::with_capacity(64),
            kept: Vec::new(),
        })
    }

    /// Waits until `token` has an event that `wanted` accepts, or `within`
    /// passes; returns the flags of every event `token` had meanwhile,
    /// those kept from earlier waits first.
    fn wait_for(
        &mut self,
        token: Token,
        within: Duration,
        wanted: impl Fn(Flags) -> bool,
    ) -> io::Result<Option<Vec<String>>> {
        let deadline = Instant::now() + within;
        let (mut seen, mut done) = (Vec::new(), false);
        let mut mine = Vec::new();
        for (of, flags) in std::mem::take(&mut self.kept) {
            if of == token {
                mine.push(flags);
            } else {
                self.kept.push((of, flags));
            }
        }
        loop {
            for flags in mine.drain(..) {
                seen.push(flags.describe());
                done |= wanted(flags);
            }
            if done {
                return Ok(Some(seen));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.poll_once(Some(left))?;
            for event in self.events.iter() {
                let flags = Flags::of(event);
                if event.token() == token {
                    mine.push(flags);
                } else {
                    self.kept.push((event.token(), flags));
                }
            }
        }
    }

    /// Polls once; an interrupted wait counts as a wait that saw nothing.
    fn poll_once(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self.poll.poll(&mut self.events, timeout) {
            Err(err) if err.kind() == ErrorKind::Interrupted => {
                self.events.clear();
                Ok(())
            }
            result => result,
        }
    }

    /// Takes every event already pending, and forgets those kept, so that
    /// a probe starts quiet.
    fn drain(&mut self) -> io::Result<()> {
        self.kept.clear();
        self.poll_once(Some(Duration::from_millis(20)))
    }
}

/// A listener on 127.0.0.1 port 0 (the server's own socket), or why none
/// can exist here (WASI preview 1).
fn listener(net: &Net) -> Result<TcpListener, Failure> {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut listener = match testing::listen(addr) {
        Ok(listener) => listener,
        Err(err) if err.kind() == ErrorKind::Unsupported => {
            return Err(Failure::NotApplicable(format!(
                "no socket can be bound here: {err}"
            )));
        }
        Err(err) => return Err(err.into()),
    };
    net.poll
        .registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    Ok(listener)
}

/// A client connected to `listener`, registered for both directions, once
/// the connection is established (it is then in the listen queue).
fn connected_client(net: &mut Net, listener: &TcpListener) -> Result<TcpStream, Failure> {
    let mut client = connect(listener.local_addr()?)?;
    net.poll
        .registry()
        .register(&mut client, CLIENT, Interest::READABLE | Interest::WRITABLE)?;
    net.wait_for(CLIENT, DEADLINE, |f: Flags| f.writable)?
        .ok_or_else(|| Failure::Broken("the client's connect never became writable".into()))?;
    if let Some(err) = client.take_error()? {
        return Err(Failure::Broken(format!(
            "connecting the probe's client: {err}"
        )));
    }
    Ok(client)
}

/// mio's non-blocking connect. WASI preview 1 has none; no probe gets this
/// far there, since nothing can be bound.
fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    #[cfg(not(all(target_os = "wasi", target_env = "p1")))]
    return TcpStream::connect(addr);
    #[cfg(all(target_os = "wasi", target_env = "p1"))]
    return Err(io::Error::new(
        ErrorKind::Unsupported,
        format!("no connect to {addr} on WASI preview 1"),
    ));
}

/// The server's accepted end, registered for both directions; waits for
/// the listener to report the connection.
fn accepted(net: &mut Net, listener: &mut TcpListener) -> Result<TcpStream, Failure> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match testing::accept(listener, net.poll.registry(), LISTENER) {
            Ok(mut stream) => {
                net.poll.registry().register(
                    &mut stream,
                    SERVER,
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                return Ok(stream);
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                net.wait_for(LISTENER, QUIET, |f: Flags| f.readable)?;
            }
            Err(err) => {
                return Err(Failure::Broken(format!(
                    "accepting the probe's client: {err}"
                )));
            }
        }
    }
}

/// A listener, a connected client and the server's accepted end.
fn pair(net: &mut Net) -> Result<(TcpListener, TcpStream, TcpStream), Failure> {
    let (listener, server, peer) = pair_with(net, PeerAt::Runtime)?;
    let Peer::Local(client) = peer else {
        unreachable!("a peer in the runtime is a local socket")
    };
    Ok((listener, server, client))
}

/// A listener, a peer at `at` connected to it, and the server's accepted end.
fn pair_with(net: &mut Net, at: PeerAt) -> Result<(TcpListener, TcpStream, Peer), Failure> {
    let mut listener = listener(net)?;
    let peer = Peer::connect(at, net, &listener)?;
    let server = accepted(net, &mut listener)?;
    net.drain()?;
    Ok((listener, server, peer))
}

/// Where the peer that resets lives.
#[derive(Clone, Copy)]
enum PeerAt {
    /// In this process, inside the runtime under test.
    Runtime,
    /// On the host, outside the runtime: the matrix runner's peer.
    Host,
}

/// The peer's end of a probe's connection, which it can reset.
enum Peer {
    /// A socket of this process.
    Local(TcpStream),
    /// The host peer's socket, driven over the control connection.
    Host(Control),
}

impl Peer {
    /// A peer at `at` connected to `listener`: the connection is
    /// established (in the listen queue) when this returns.
    fn connect(at: PeerAt, net: &mut Net, listener: &TcpListener) -> Result<Peer, Failure> {
        match at {
            PeerAt::Runtime => connected_client(net, listener).map(Peer::Local),
            PeerAt::Host => {
                let mut control = Control::open(net)?;
                let port = listener.local_addr()?.port();
                control.ask(net, &format!("connect {port}"), "connected")?;
                Ok(Peer::Host(control))
            }
        }
    }

    /// Closes the peer's end abortively (SO_LINGER 0, the server's own
    /// reset on close), so that this end is sent a reset; or says why a
    /// peer here cannot. WASI has no SO_LINGER, and wasmtime shuts a
    /// dropped socket down (a FIN) before it closes it (strace of wasmtime
    /// 48: `shutdown(SHUT_RD)`, `shutdown(SHUT_WR)`, `close`), so a peer
    /// inside WASI never resets: the host peer does.
    fn reset(self, net: &mut Net) -> Result<(), Failure> {
        match self {
            Peer::Local(client) => {
                if let Err(err) = testing::set_reset_on_close(&client) {
                    return Err(Failure::NotApplicable(format!(
                        "a peer inside this runtime cannot reset: setting SO_LINGER 0: {err}"
                    )));
                }
                drop(client);
                Ok(())
            }
            Peer::Host(mut control) => control.ask(net, "reset", "reset"),
        }
    }
}

/// The control connection to the host peer (see the module's
/// documentation): one request, one answer, each a line.
struct Control {
    stream: TcpStream,
}

impl Control {
    /// Connects to the host peer that `PORTABLE_ECHO_FIDELITY_PEER` names;
    /// without one, the probe is `n/a`.
    fn open(net: &mut Net) -> Result<Control, Failure> {
        let Ok(named) = std::env::var(HOST_PEER) else {
            return Err(Failure::NotApplicable(format!(
                "no host peer: {HOST_PEER} is not set (`cargo xtask` runs one for the test \
                 cells it runs on this host, not for those in a container)"
            )));
        };
        let addr: SocketAddr = named
            .parse()
            .map_err(|_| Failure::Broken(format!("{HOST_PEER}={named:?} is not an address")))?;
        let mut stream = connect(addr)?;
        net.poll.registry().register(
            &mut stream,
            CONTROL,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        net.wait_for(CONTROL, DEADLINE, |f| f.writable || f.error)?
            .ok_or_else(|| Failure::Broken(format!("the host peer at {addr} never answered")))?;
        if let Some(err) = stream.take_error()? {
            return Err(Failure::Broken(format!(
                "connecting to the host peer at {addr}: {err}"
            )));
        }
        Ok(Control { stream })
    }

    /// Sends `request` and waits for the answer, which must be `expected`.
    fn ask(&mut self, net: &mut Net, request: &str, expected: &str) -> Result<(), Failure> {
        let broken =
            |what: String| Failure::Broken(format!("the host peer, asked to {request}: {what}"));
        let line = format!("{request}\n");
        let mut written = 0;
        while written < line.len() {
            match self.stream.write(&line.as_bytes()[written..]) {
                Ok(n) => written += n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    net.wait_for(CONTROL, DEADLINE, |f| f.writable || f.error)?
                        .ok_or_else(|| broken(format!("no room to write in {DEADLINE:?}")))?;
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(broken(format!("writing: {err}"))),
            }
        }
        let mut answer = Vec::new();
        loop {
            let mut buf = [0; 256];
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(broken("it closed the control connection".into())),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    net.wait_for(CONTROL, DEADLINE, |f| {
                        f.readable || f.read_closed || f.error
                    })?
                    .ok_or_else(|| broken(format!("no answer in {DEADLINE:?}")))?;
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(broken(format!("reading: {err}"))),
            }
            if let Some(end) = answer.iter().position(|&byte| byte == b'\n') {
                let answer = String::from_utf8_lossy(&answer[..end]);
                return if answer == expected {
                    Ok(())
                } else {
                    Err(broken(format!("it answered {answer:?}")))
                };
            }
        }
    }
}

/// The token for what a read or write returned.
fn io_token(result: &io::Result<usize>) -> String {
    match result {
        Ok(0) => "end-of-stream".into(),
        Ok(_) => "data".into(),
        Err(err) => error_token(err),
    }
}

fn error_token(err: &io::Error) -> String {
    match err.kind() {
        ErrorKind::ConnectionReset => "reset".into(),
        ErrorKind::ConnectionAborted => "aborted".into(),
        ErrorKind::BrokenPipe => "broken-pipe".into(),
        ErrorKind::NotConnected => "not-connected".into(),
        ErrorKind::ConnectionRefused => "refused".into(),
        ErrorKind::WouldBlock => "would-block".into(),
        other => format!("error-{other:?}").to_lowercase(),
    }
}

fn describe(result: &io::Result<usize>) -> String {
    match result {
        Ok(n) => format!("{n} bytes"),
        Err(err) => err.to_string(),
    }
}

/// The peer at `at` resets an idle connection: what the next read returns.
fn reset_by_read(at: PeerAt) -> Outcome {
    let mut net = Net::new()?;
    let (_listener, mut server, peer) = pair_with(&mut net, at)?;
    peer.reset(&mut net)?;
    let events = net
        .wait_for(SERVER, DEADLINE, |f| f.readable || f.read_closed || f.error)?
        .ok_or_else(|| Failure::Broken("no event on the server's end after the reset".into()))?;
    let read = server.read(&mut [0; 64]);
    seen(
        &io_token(&read),
        format!("read: {}; events: {}", describe(&read), events.join(", ")),
    )
}

/// The peer at `at` resets an idle connection: what the next write
/// returns (a second write says what the first one hid).
fn reset_by_write(at: PeerAt) -> Outcome {
    let mut net = Net::new()?;
    let (_listener, mut server, peer) = pair_with(&mut net, at)?;
    peer.reset(&mut net)?;
    net.wait_for(SERVER, DEADLINE, |f| f.readable || f.read_closed || f.error)?
        .ok_or_else(|| Failure::Broken("no event on the server's end after the reset".into()))?;
    let first = server.write(b"after the reset");
    let second = server.write(b"and again");
    seen(
        &io_token(&first),
        format!(
            "first write: {}; second: {}",
            describe(&first),
            describe(&second)
        ),
    )
}

/// A peer at `at` connects and resets while it waits in the listen queue:
/// what accept returns, and how the server reads it.
fn reset_by_accept(at: PeerAt) -> Outcome {
    let mut net = Net::new()?;
    let mut listener = listener(&net)?;
    let peer = Peer::connect(at, &mut net, &listener)?;
    peer.reset(&mut net)?;
    net.wait_for(LISTENER, QUIET, |f: Flags| f.readable)?;
    match testing::accept(&mut listener, net.poll.registry(), LISTENER) {
        Ok(mut stream) => {
            net.poll
                .registry()
                .register(&mut stream, SERVER, Interest::READABLE)?;
            net.wait_for(SERVER, DEADLINE, |f| f.readable || f.error)?;
            let read = stream.read(&mut [0; 64]);
            seen(
                "accepted",
                format!("then the first read: {}", describe(&read)),
            )
        }
        Err(err) if err.kind() == ErrorKind::WouldBlock => seen(
            "vanished",
            "accept would block: the connection left the queue unreported",
        ),
        Err(err) => {
            let meaning = testing::accept_error_meaning(&err);
            seen(
                &error_token(&err),
                format!("accept: {err}; the server reads it as {meaning}"),
            )
        }
    }
}

/// A non-blocking connect to a loopback port nobody listens on.
fn refused_connect() -> Outcome {
    let mut net = Net::new()?;
    let closed = {
        let listener = listener(&net)?;
        listener.local_addr()?
    };
    let started = Instant::now();
    let mut client = match connect(closed) {
        Ok(client) => client,
        Err(err) => return seen(&error_token(&err), format!("connect itself failed: {err}")),
    };
    net.poll
        .registry()
        .register(&mut client, CLIENT, Interest::READABLE | Interest::WRITABLE)?;
    let Some(events) = net.wait_for(CLIENT, DEADLINE, |_| true)? else {
        return seen("no-event", format!("nothing within {DEADLINE:?}"));
    };
    let took = started.elapsed();
    let (token, error) = match client.take_error()? {
        Some(err) => (error_token(&err), err.to_string()),
        None => match client.peer_addr() {
            Ok(peer) => ("connected".into(), format!("connected to {peer}")),
            Err(err) => (
                error_token(&err),
                format!("no pending error; peer_addr: {err}"),
            ),
        },
    };
    seen(
        &token,
        format!("{error}; events: {}; after {took:.1?}", events.join(", ")),
    )
}

/// The peer sends a few bytes and shuts down its write side: whether an
/// event says read-closed, and what the reads return. Reads go on until
/// `WouldBlock` or the end, as mio asks of every backend.
fn half_close() -> Outcome {
    let mut net = Net::new()?;
    let (_listener, mut server, mut client) = pair(&mut net)?;
    client.write_all(b"abc")?;
    client.shutdown(Shutdown::Write)?;
    let (mut events, mut reads) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + DEADLINE;
    let ended = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(seen) = net.wait_for(SERVER, left, |f| f.readable || f.read_closed)? else {
            break false;
        };
        events.extend(seen);
        let read = loop {
            let read = server.read(&mut [0; 64]);
            reads.push(describe(&read));
            if !matches!(read, Ok(n) if n > 0) {
                break read;
            }
        };
        match read {
            Ok(_) => break true,
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            Err(_) => break false,
        }
    };
    if !ended {
        return Err(Failure::Broken(format!(
            "the end of stream was never read (events: {}; reads: {})",
            events.join(", "),
            reads.join(", ")
        )));
    }
    let token = if events.iter().any(|e| e.contains("read-closed")) {
        "read-closed"
    } else {
        "no-read-closed"
    };
    seen(
        token,
        format!("events: {}; reads: {}", events.join(", "), reads.join(", ")),
    )
}

/// An idle connection registered for both directions: readable reports
/// that a read then refutes (`WouldBlock`) during [`QUIET`]. Then a
/// listener registered for both directions with a connection pending:
/// whether its event says writable too (a listener has nothing to write).
fn false_readiness() -> Outcome {
    let mut net = Net::new()?;
    let (mut listener, mut server, _client) = pair(&mut net)?;
    let (mut false_readable, mut wakeups) = (0, 0);
    let deadline = Instant::now() + QUIET;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        net.poll_once(Some(left))?;
        wakeups += 1;
        let readable = net
            .events
            .iter()
            .any(|event| event.token() == SERVER && event.is_readable());
        if readable {
            match server.read(&mut [0; 64]) {
                Err(err) if err.kind() == ErrorKind::WouldBlock => false_readable += 1,
                other => {
                    return Err(Failure::Broken(format!(
                        "the idle connection read {}",
                        describe(&other)
                    )));
                }
            }
        }
    }
    net.poll.registry().reregister(
        &mut listener,
        LISTENER,
        Interest::READABLE | Interest::WRITABLE,
    )?;
    // Not `connected_client`: its token, CLIENT, is the idle pair's, and only
    // the listener's event matters here, not the connect's.
    let mut pending = connect(listener.local_addr()?)?;
    net.poll
        .registry()
        .register(&mut pending, PENDING, Interest::WRITABLE)?;
    let listener_events = net
        .wait_for(LISTENER, DEADLINE, |f: Flags| f.readable)?
        .ok_or_else(|| {
            Failure::Broken("the listener never reported the pending connection".into())
        })?;
    let listener_writable = listener_events
        .iter()
        .any(|flags| flags.contains("writable"));
    let token = match (false_readable, listener_writable) {
        (0, false) => "none",
        (_, false) => "false-readable",
        (0, true) => "listener-writable",
        (_, true) => "false-readable+listener-writable",
    };
    seen(
        token,
        format!(
            "idle connection: {false_readable} readable reports a read refuted in {QUIET:?} \
             ({wakeups} wake-ups); listener with a connection pending: {}",
            listener_events.join(", ")
        ),
    )
}

/// Ten waits of 10 ms with nothing registered: never early, and how late.
fn timer_lateness() -> Outcome {
    const WAIT: Duration = Duration::from_millis(10);
    let mut net = Net::new()?;
    let mut late: Vec<f64> = Vec::new();
    let mut early = 0;
    for _ in 0..10 {
        let started = Instant::now();
        net.poll_once(Some(WAIT))?;
        let took = started.elapsed();
        match took.checked_sub(WAIT) {
            Some(over) => late.push(over.as_secs_f64() * 1e3),
            None => {
                early += 1;
                late.push(-((WAIT - took).as_secs_f64() * 1e3));
            }
        }
    }
    late.sort_by(f64::total_cmp);
    seen(
        if early == 0 { "not-early" } else { "early" },
        format!(
            "10 waits of {WAIT:?}: late by {:.2} ms median, {:.2} to {:.2} ms; {early} ended early",
            late[late.len() / 2],
            late[0],
            late[late.len() - 1]
        ),
    )
}

/// Three wakes before a poll: how many events the waker's token gets, in
/// that poll and in one more.
#[cfg(not(target_os = "wasi"))]
fn waker_coalescing() -> Outcome {
    let mut net = Net::new()?;
    let waker = mio::Waker::new(net.poll.registry(), WAKER)?;
    for _ in 0..3 {
        waker.wake()?;
    }
    let mut counts = Vec::new();
    for _ in 0..2 {
        net.poll_once(Some(QUIET))?;
        counts.push(
            net.events
                .iter()
                .filter(|event| event.token() == WAKER)
                .count(),
        );
    }
    let token = match counts[..] {
        [1, 0] => "one".to_string(),
        [3, 0] => "one-per-wake".to_string(),
        [first, then] => format!("{first}-then-{then}"),
        _ => unreachable!("two polls"),
    };
    seen(
        &token,
        format!(
            "3 wakes: {} event(s) in the first poll, {} in the next",
            counts[0], counts[1]
        ),
    )
}

#[cfg(target_os = "wasi")]
fn waker_coalescing() -> Outcome {
    Err(Failure::NotApplicable(
        "mio has no Waker on WASI, and a WASI program has no other thread to wake it".into(),
    ))
}
