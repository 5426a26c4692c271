//! Where scripts come from: [`arbitrary::Arbitrary`] for the fuzz target
//! (any bytes decode into a script) and [`Script::strategy`] for the
//! property tests.

use std::io::ErrorKind;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use proptest::prelude::*;

use super::{Op, Script, Setup, pattern};
use crate::connection::Readiness;

/// The fuzzer's view of a script: every field in a type `arbitrary` can
/// decode.
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
    PeerReads(u16),
    Wake,
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

impl From<Input> for Script {
    fn from(input: Input) -> Script {
        let mut sent = 0u64;
        let ops = input
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
                FuzzOp::PeerReads(len) => Op::PeerReads(usize::from(len)),
                FuzzOp::Wake => Op::Wake,
            })
            .collect();
        Script {
            setup: Setup {
                greeting: input.greeting,
                // 0 is no setting the server accepts (Config::validate).
                max_pending: usize::from(input.max_pending.max(1)),
                short_io_proves_would_block: input.short_io_proves_would_block,
                // 0 would never read (Context does not clamp it; the
                // server always uses 16).
                reads_per_turn: usize::from(input.reads_per_turn.max(1)),
                read_buf_len: usize::from(input.read_buf_len),
                write_capacity: input.write_capacity.map(usize::from),
            },
            ops,
        }
    }
}

impl<'a> Arbitrary<'a> for Script {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Script> {
        Input::arbitrary(u).map(Script::from)
    }

    fn size_hint(depth: usize) -> (usize, Option<usize>) {
        Input::size_hint(depth)
    }
}

/// `len` arbitrary bytes made from a seed: cheaper to generate and shrink
/// than a vector of independent bytes (the property tests run under
/// emulation and Miri too), and the state machine never looks at byte
/// values.
fn bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    (len, any::<u64>()).prop_map(|(len, seed)| pattern(len, seed))
}

impl Script {
    /// Scripts of up to 80 steps as a socket under an edge-triggered
    /// selector sees them: the peer's bytes in any chunking, the peer
    /// reading (and so opening a window of 0 to 31 bytes at first) at any
    /// pace, half-close at any point, wake-ups and spurious wake-ups, under
    /// any greeting (0 to 15 bytes), `max_pending`, read buffer and read
    /// budget. Reads are short only where a short read proves nothing
    /// (`short_io_proves_would_block` false: poll(2), IOCP, WASI); with
    /// `faults`, a reset, broken pipe or abort may come in reads or writes.
    pub fn strategy(faults: bool) -> impl Strategy<Value = Script> {
        let setup = (
            bytes(0..16),
            1usize..64,
            any::<bool>(),
            1usize..48,
            1usize..8,
            0usize..32,
        )
            .prop_map(
                |(greeting, max_pending, short_io, read_buf_len, reads_per_turn, window)| Setup {
                    greeting,
                    max_pending,
                    short_io_proves_would_block: short_io,
                    reads_per_turn,
                    read_buf_len,
                    write_capacity: Some(window),
                },
            );
        let fault_weight = u32::from(faults);
        let error = (
            prop_oneof![
                Just(ErrorKind::ConnectionReset),
                Just(ErrorKind::BrokenPipe),
                Just(ErrorKind::ConnectionAborted),
            ],
            any::<bool>(),
        )
            .prop_map(|(kind, on_write)| {
                if on_write {
                    Op::WriteError(Some(kind))
                } else {
                    Op::ReadError(Some(kind))
                }
            });
        let op = prop_oneof![
            4 => bytes(1..40).prop_map(Op::Send),
            3 => (0usize..48).prop_map(Op::PeerReads),
            1 => Just(Op::HalfClose),
            5 => Just(Op::Wake),
            1 => (any::<bool>(), any::<bool>()).prop_map(|(readable, writable)| {
                Op::Drive(Readiness { readable, writable, read_closed: false })
            }),
            fault_weight => error,
        ];
        (setup, 0usize..8, proptest::collection::vec(op, 0..80)).prop_map(
            |(setup, read_limit, mut ops)| {
                // Under edge triggering a socket returns all it holds.
                if !setup.short_io_proves_would_block && read_limit > 0 {
                    ops.insert(0, Op::ReadLimit(read_limit));
                }
                Script { setup, ops }
            },
        )
    }
}
