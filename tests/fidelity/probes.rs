// Written by `cargo xtask gen` from ci/fidelity.toml; do not edit.

//! The fidelity probes of ci/fidelity.toml, in its order: the one list the probes'
//! test, the matrix runner and the record share.

/// A probe of the record.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Probe {
    /// the peer closes with SO_LINGER 0 (an abortive close); what the next read returns
    ResetByRead,
    /// the peer closes with SO_LINGER 0; what the next write returns
    ResetByWrite,
    /// a client connects and resets while it waits in the listen queue; what accept returns
    ResetByAccept,
    /// as reset-by-read, with the peer a process on the host, outside the runtime (the matrix runner's)
    HostResetByRead,
    /// as reset-by-write, with the peer on the host
    HostResetByWrite,
    /// as reset-by-accept, with the peer on the host
    HostResetByAccept,
    /// a non-blocking connect to a loopback port nobody listens on; the error it ends with
    RefusedConnect,
    /// the peer sends 3 bytes and shuts down its write side; whether an event says read-closed before the reads reach the end of stream
    HalfClose,
    /// an idle connection: readable reports that a read refutes, for 100 ms; a listener registered for both directions with a connection pending: whether it reports writable
    FalseReadiness,
    /// ten waits of 10 ms with nothing registered: whether any ends early (how late they end is in the detail)
    TimerLateness,
    /// three wakes of mio's Waker before a poll: events for it in that poll and the next
    WakerCoalescing,
}

impl Probe {
    /// Every probe, in the record's order.
    pub(crate) const ALL: [Probe; 11] = [
        Probe::ResetByRead,
        Probe::ResetByWrite,
        Probe::ResetByAccept,
        Probe::HostResetByRead,
        Probe::HostResetByWrite,
        Probe::HostResetByAccept,
        Probe::RefusedConnect,
        Probe::HalfClose,
        Probe::FalseReadiness,
        Probe::TimerLateness,
        Probe::WakerCoalescing,
    ];

    /// The name its line reports: `fidelity: NAME = SEEN; DETAIL`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Probe::ResetByRead => "reset-by-read",
            Probe::ResetByWrite => "reset-by-write",
            Probe::ResetByAccept => "reset-by-accept",
            Probe::HostResetByRead => "host-reset-by-read",
            Probe::HostResetByWrite => "host-reset-by-write",
            Probe::HostResetByAccept => "host-reset-by-accept",
            Probe::RefusedConnect => "refused-connect",
            Probe::HalfClose => "half-close",
            Probe::FalseReadiness => "false-readiness",
            Probe::TimerLateness => "timer-lateness",
            Probe::WakerCoalescing => "waker-coalescing",
        }
    }
}

/// The variable at which the matrix runner gives its host peer's address.
pub(crate) const HOST_PEER: &str = "PORTABLE_ECHO_FIDELITY_PEER";
