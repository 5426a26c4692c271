//! A burst of clients connecting at once, as after a restart of a busy
//! server: the client of tests/burst.rs and of the benchmark's `echo-burst`.
//!
//! The connects are issued back to back from one thread, non-blocking, and
//! what arrives meanwhile is read between every [`CONNECTS_PER_POLL`] of
//! them, so a client's time is when it got there, not when the last connect
//! was issued. A listen queue too short for the burst shows up as clients a
//! SYN retransmit late (a second on Linux) and, past a point, clients that
//! never get there.

use std::fmt;
use std::io::{self, ErrorKind, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// Connects issued between two looks, without waiting, at what arrived.
pub const CONNECTS_PER_POLL: usize = 16;

/// What each client of a burst waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want<'a> {
    /// Its TCP handshake completes: the listen queue took it, accepted or not.
    Connected,
    /// Its greeting arrives in full, and is exactly these bytes.
    Greeting(&'a [u8]),
}

/// How one client of a burst ended.
#[derive(Debug)]
pub enum Outcome {
    /// It got what it waited for, this long after its connect call.
    Reached(Duration),
    /// Reset, refused, end of stream, or a wrong greeting.
    Failed(io::Error),
    /// Still waiting when the burst's time was up.
    Waiting,
}

/// A burst that has ended: every client reached, failed, or ran out of time.
#[derive(Debug)]
pub struct Burst {
    /// From the first connect call to the last.
    pub connects_issued_in: Duration,
    /// Each client's outcome, in the order of its connect call.
    pub outcomes: Vec<Outcome>,
}

/// The figures of a [`Burst`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Clients in the burst.
    pub clients: usize,
    /// Clients that got what they waited for.
    pub reached: usize,
    /// Clients that failed.
    pub failed: usize,
    /// Clients still waiting when the time was up.
    pub waiting: usize,
    /// Clients that got there, but later than the `slow` mark.
    pub slow: usize,
    /// The `slow` mark the summary was made with.
    pub slow_mark: Duration,
    /// Times to get there, nearest-rank percentiles over the clients that
    /// got there (`None` if none did).
    pub p50: Option<Duration>,
    /// See `p50`.
    pub p99: Option<Duration>,
    /// The slowest client that got there.
    pub max: Option<Duration>,
}

/// Opens `clients` connections to `addr` at once and waits, until `timeout`
/// after the first connect, for each to get what `want` names. Fails only if
/// a connect call itself fails (out of descriptors, say) or polling does;
/// what happens to a connection afterwards is its [`Outcome`].
pub fn burst(
    addr: SocketAddr,
    clients: usize,
    want: Want<'_>,
    timeout: Duration,
) -> io::Result<Burst> {
    let interest = match want {
        Want::Connected => Interest::WRITABLE,
        Want::Greeting(_) => Interest::READABLE,
    };
    let mut state = State {
        poll: Poll::new()?,
        events: Events::with_capacity(1024),
        want,
        clients: Vec::with_capacity(clients),
        open: 0,
    };
    let started = Instant::now();
    for i in 0..clients {
        let connect_called = Instant::now();
        let mut stream = TcpStream::connect(addr)
            .map_err(|err| io::Error::new(err.kind(), format!("connect {i}: {err}")))?;
        state
            .poll
            .registry()
            .register(&mut stream, Token(i), interest)?;
        state.clients.push(Client {
            stream,
            connect_called,
            greeting: Vec::new(),
            outcome: Outcome::Waiting,
        });
        state.open += 1;
        if (i + 1) % CONNECTS_PER_POLL == 0 {
            state.serve(Duration::ZERO)?;
        }
    }
    let connects_issued_in = started.elapsed();
    let deadline = started + timeout;
    while state.open > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        state.serve(deadline - now)?;
    }
    Ok(Burst {
        connects_issued_in,
        outcomes: state.clients.into_iter().map(|c| c.outcome).collect(),
    })
}

struct Client {
    stream: TcpStream,
    connect_called: Instant,
    /// The greeting's bytes so far.
    greeting: Vec<u8>,
    outcome: Outcome,
}

struct State<'a> {
    poll: Poll,
    events: Events,
    want: Want<'a>,
    clients: Vec<Client>,
    /// Clients still waiting.
    open: usize,
}

impl State<'_> {
    /// Waits up to `timeout` for readiness and settles each client it
    /// concerns that now got what it waits for, or failed.
    fn serve(&mut self, timeout: Duration) -> io::Result<()> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(err) => return Err(err),
        }
        for event in &self.events {
            let client = &mut self.clients[event.token().0];
            if !matches!(client.outcome, Outcome::Waiting) {
                continue;
            }
            let settled = match self.want {
                Want::Connected => connected(&client.stream),
                Want::Greeting(expected) => greeted(client, expected),
            };
            match settled {
                Ok(false) => continue,
                Ok(true) => client.outcome = Outcome::Reached(client.connect_called.elapsed()),
                Err(err) => client.outcome = Outcome::Failed(err),
            }
            self.open -= 1;
        }
        Ok(())
    }
}

/// Whether the handshake of a connection reported writable has completed.
fn connected(stream: &TcpStream) -> io::Result<bool> {
    if let Some(err) = stream.take_error()? {
        return Err(err);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == ErrorKind::NotConnected => Ok(false),
        Err(err) => Err(err),
    }
}

/// Reads what arrived of the greeting; whether all of it is there, and right.
fn greeted(client: &mut Client, expected: &[u8]) -> io::Result<bool> {
    let mut buf = [0u8; 256];
    while client.greeting.len() < expected.len() {
        let want = (expected.len() - client.greeting.len()).min(buf.len());
        match client.stream.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!(
                        "end of stream after {} bytes of the greeting",
                        client.greeting.len()
                    ),
                ));
            }
            Ok(n) => client.greeting.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    if client.greeting != expected {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!(
                "greeting was {:?}, expected {:?}",
                String::from_utf8_lossy(&client.greeting),
                String::from_utf8_lossy(expected)
            ),
        ));
    }
    Ok(true)
}

impl Burst {
    /// The figures, with clients later than `slow` counted as slow (0.9 s:
    /// just under a SYN retransmit on Linux).
    pub fn summary(&self, slow: Duration) -> Summary {
        let mut times: Vec<Duration> = self
            .outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Outcome::Reached(time) => Some(*time),
                _ => None,
            })
            .collect();
        times.sort();
        let failed = self
            .outcomes
            .iter()
            .filter(|outcome| matches!(outcome, Outcome::Failed(_)))
            .count();
        let percentile = |p: usize| -> Option<Duration> {
            let rank = (p * times.len()).div_ceil(100).max(1);
            times.get(rank - 1).copied()
        };
        Summary {
            clients: self.outcomes.len(),
            reached: times.len(),
            failed,
            waiting: self.outcomes.len() - times.len() - failed,
            slow: times.iter().filter(|&&time| time > slow).count(),
            slow_mark: slow,
            p50: percentile(50),
            p99: percentile(99),
            max: times.last().copied(),
        }
    }

    /// The first failure, with the client's number, for an assertion's message.
    pub fn first_failure(&self) -> Option<(usize, &io::Error)> {
        self.outcomes
            .iter()
            .enumerate()
            .find_map(|(i, outcome)| match outcome {
                Outcome::Failed(err) => Some((i, err)),
                _ => None,
            })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |time: Option<Duration>| match time {
            Some(time) => format!("{:.3} ms", time.as_secs_f64() * 1e3),
            None => "-".into(),
        };
        write!(
            f,
            "{} of {} clients got there: p50 {}, p99 {}, max {}; {} after {:?}; \
             {} still waiting; {} failed",
            self.reached,
            self.clients,
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
            self.slow,
            self.slow_mark,
            self.waiting,
            self.failed
        )
    }
}
