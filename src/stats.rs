//! What a server did over its lifetime: [`Stats`], returned by
//! [`crate::Server::run`], with the bytes its connections moved
//! ([`ByteStats`], which the state machine counts into as it goes).

use std::fmt;

/// What a server did over its lifetime, returned by [`crate::Server::run`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted and served.
    pub connections_served: u64,
    /// Connections accepted and closed at once because of `max_connections`.
    pub connections_rejected: u64,
    /// Connections closed by the idle timeout.
    pub connections_timed_out: u64,
    /// Connections closed because of an I/O error on them.
    pub connections_failed: u64,
    /// Pending connections that failed before they were accepted (a reset
    /// or an abort while they waited in the listen queue), skipped.
    pub connections_lost_before_accept: u64,
    /// Most connections open at once.
    pub peak_connections: usize,
    /// Times accepting paused after an accept error: descriptors or buffers
    /// ran out, or an error that is not one connection's.
    pub accept_pauses: u64,
    /// What the connections moved.
    pub bytes: ByteStats,
}

/// Bytes a server moved over its lifetime, part of [`Stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteStats {
    /// Bytes read from clients.
    pub received: u64,
    /// Bytes echoed back (the greeting is not counted).
    pub echoed: u64,
    /// Bytes read after a connection's echo ended (while it lingered), and dropped.
    pub discarded: u64,
    /// Most bytes one connection owed its client at once.
    pub peak_pending_one: usize,
    /// Most bytes all connections owed at once.
    pub peak_pending_total: usize,
}

/// One line, the end of the binary's log: `served 3 connections (peak 2 at
/// once; ...)`. Every field of the statistics appears, in declaration order
/// of the numbers, so the line can be read back by a supervisor or a test.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "served {} connections (peak {} at once; {} rejected over the limit, {} timed out, \
             {} failed, {} lost before accept; accepting paused {} times); received {} bytes, \
             echoed {}, discarded {} after the end of the echo; at most {} bytes owed to one \
             client, {} to all",
            self.connections_served,
            self.peak_connections,
            self.connections_rejected,
            self.connections_timed_out,
            self.connections_failed,
            self.connections_lost_before_accept,
            self.accept_pauses,
            self.bytes.received,
            self.bytes.echoed,
            self.bytes.discarded,
            self.bytes.peak_pending_one,
            self.bytes.peak_pending_total,
        )
    }
}
