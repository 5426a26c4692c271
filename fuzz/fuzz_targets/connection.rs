//! Drives one `Connection` through an arbitrary script: the peer's bytes in
//! reads of any size, short writes and `WouldBlock`, one-shot and persistent
//! errors (`Interrupted`, resets, ...), end of stream, readiness flags in any
//! combination, `stop` and `linger` at any point, under any greeting,
//! `max_pending`, read buffer, read budget and short-I/O rule. The script
//! and its invariant checks are `portable_echo::testing::Script` (shared
//! with the regression tests); a violation panics with the script, which
//! pastes into a test as `Script { .. }.run()`.

#![no_main]

use std::io::ErrorKind;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portable_echo::connection::Readiness;
use portable_echo::testing::{Op, Script, Setup, pattern};

#[derive(Arbitrary, Debug)]
struct Input {
    greeting: Vec<u8>,
    max_pending: u16,
    short_io_proves_would_block: bool,
    reads_per_turn: u8,
    read_buf_len: u16,
    write_capacity: Option<u16>,
    ops: Vec<FuzzOp>,
}

#[derive(Arbitrary, Debug)]
enum FuzzOp {
    Send(Vec<u8>),
    /// Many distinct bytes cheaply (a reordering cannot hide in them).
    SendPattern(u16),
    HalfClose,
    ReadLimit(u16),
    WriteCapacity(Option<u16>),
    ReadFaults(Vec<Option<Kind>>),
    WriteFaults(Vec<Option<Kind>>),
    ReadError(Option<Kind>),
    WriteError(Option<Kind>),
    ShutdownError(Option<ShutdownKind>),
    Drive {
        readable: bool,
        writable: bool,
        read_closed: bool,
    },
    Stop,
    Linger,
    AdvanceMillis(u16),
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Kind {
    WouldBlock,
    Interrupted,
    ConnectionReset,
    ConnectionAborted,
    BrokenPipe,
    NotConnected,
    TimedOut,
    UnexpectedEof,
    Other,
}

/// What shutdown(2) can fail with (never EINTR or EAGAIN; Windows' WSAE*
/// map onto these too).
#[derive(Arbitrary, Clone, Copy, Debug)]
enum ShutdownKind {
    NotConnected,
    ConnectionReset,
    InvalidInput,
    Other,
}

impl From<ShutdownKind> for ErrorKind {
    fn from(kind: ShutdownKind) -> ErrorKind {
        match kind {
            ShutdownKind::NotConnected => ErrorKind::NotConnected,
            ShutdownKind::ConnectionReset => ErrorKind::ConnectionReset,
            ShutdownKind::InvalidInput => ErrorKind::InvalidInput,
            ShutdownKind::Other => ErrorKind::Other,
        }
    }
}

impl From<Kind> for ErrorKind {
    fn from(kind: Kind) -> ErrorKind {
        match kind {
            Kind::WouldBlock => ErrorKind::WouldBlock,
            Kind::Interrupted => ErrorKind::Interrupted,
            Kind::ConnectionReset => ErrorKind::ConnectionReset,
            Kind::ConnectionAborted => ErrorKind::ConnectionAborted,
            Kind::BrokenPipe => ErrorKind::BrokenPipe,
            Kind::NotConnected => ErrorKind::NotConnected,
            Kind::TimedOut => ErrorKind::TimedOut,
            Kind::UnexpectedEof => ErrorKind::UnexpectedEof,
            Kind::Other => ErrorKind::Other,
        }
    }
}

fn faults(kinds: Vec<Option<Kind>>) -> Vec<Option<ErrorKind>> {
    kinds.into_iter().map(|kind| kind.map(Into::into)).collect()
}

impl Input {
    fn script(self) -> Script {
        let mut sent = 0u64;
        let ops = self
            .ops
            .into_iter()
            .map(|op| match op {
                FuzzOp::Send(bytes) => Op::Send(bytes),
                FuzzOp::SendPattern(len) => {
                    sent += 1;
                    Op::Send(pattern(usize::from(len), sent))
                }
                FuzzOp::HalfClose => Op::HalfClose,
                FuzzOp::ReadLimit(limit) => Op::ReadLimit(usize::from(limit)),
                FuzzOp::WriteCapacity(capacity) => Op::WriteCapacity(capacity.map(usize::from)),
                FuzzOp::ReadFaults(kinds) => Op::ReadFaults(faults(kinds)),
                FuzzOp::WriteFaults(kinds) => Op::WriteFaults(faults(kinds)),
                FuzzOp::ReadError(kind) => Op::ReadError(kind.map(Into::into)),
                // A persistent Interrupted would spin any retrying writer
                // (std's write_all too): make it the one-shot a socket gives.
                FuzzOp::WriteError(Some(Kind::Interrupted)) => {
                    Op::WriteFaults(vec![Some(ErrorKind::Interrupted)])
                }
                FuzzOp::WriteError(kind) => Op::WriteError(kind.map(Into::into)),
                FuzzOp::ShutdownError(kind) => Op::ShutdownError(kind.map(Into::into)),
                FuzzOp::Drive {
                    readable,
                    writable,
                    read_closed,
                } => Op::Drive(Readiness {
                    readable,
                    writable,
                    read_closed,
                }),
                FuzzOp::Stop => Op::Stop,
                FuzzOp::Linger => Op::Linger,
                FuzzOp::AdvanceMillis(ms) => Op::Advance(Duration::from_millis(u64::from(ms))),
            })
            .collect();
        Script {
            setup: Setup {
                greeting: self.greeting,
                max_pending: usize::from(self.max_pending),
                short_io_proves_would_block: self.short_io_proves_would_block,
                // 0 would never read (Context does not clamp it; the
                // server always uses 16).
                reads_per_turn: usize::from(self.reads_per_turn.max(1)),
                read_buf_len: usize::from(self.read_buf_len),
                write_capacity: self.write_capacity.map(usize::from),
            },
            ops,
        }
    }
}

fuzz_target!(|input: Input| {
    let script = input.script();
    if let Err(violation) = script.run() {
        panic!("{violation}\n{script:#?}");
    }
});
