//! The event loop's timers: one table of deadlines, which the wait reads
//! for its timeout and the timer step for what is due.

use std::time::{Duration, Instant};

use log::warn;

/// When each of the loop's timers is due; `None` while it is not set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deadlines {
    /// Accepting resumes after a pause.
    pub(crate) accept_resume: Option<Instant>,
    /// The next sweep for idle connections.
    pub(crate) idle_sweep: Option<Instant>,
    /// Closes that would wait on their peer are tried again.
    pub(crate) close_retry: Option<Instant>,
    /// A stop's grace period ends, and whatever is open is closed. Set from
    /// the moment a stop begins, so it also says that the server is stopping.
    pub(crate) grace_end: Option<Instant>,
    /// The summary of connections rejected over the limit is due.
    pub(crate) rejections_summary: Option<Instant>,
    /// The summary of accept errors that paused accepting is due.
    pub(crate) accept_failures_summary: Option<Instant>,
}

impl Deadlines {
    fn all(&self) -> [Option<Instant>; 6] {
        [
            self.accept_resume,
            self.idle_sweep,
            self.close_retry,
            self.grace_end,
            self.rejections_summary,
            self.accept_failures_summary,
        ]
    }

    /// The earliest deadline set.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.all().into_iter().flatten().min()
    }

    /// The deadlines that have come at `now`; the others `None`.
    pub(crate) fn due(&self, now: Instant) -> Deadlines {
        let due = |at: Option<Instant>| at.filter(|&at| now >= at);
        Deadlines {
            accept_resume: due(self.accept_resume),
            idle_sweep: due(self.idle_sweep),
            close_retry: due(self.close_retry),
            grace_end: due(self.grace_end),
            rejections_summary: due(self.rejections_summary),
            accept_failures_summary: due(self.accept_failures_summary),
        }
    }
}

/// A recurring event worth a warning, reported without letting its cause
/// (a hostile client, a descriptor shortage) control the log's volume: the
/// first occurrence logs at once, later ones are counted and summed up at
/// most once per [`Recurring::EVERY`]. When the summary is due is its
/// deadline in [`Deadlines`].
#[derive(Debug)]
pub(crate) struct Recurring {
    what: &'static str,
    /// Occurrences since the last report.
    count: u64,
}

impl Recurring {
    const EVERY: Duration = Duration::from_secs(60);

    pub(crate) fn new(what: &'static str) -> Recurring {
        Recurring { what, count: 0 }
    }

    /// Records one occurrence; true when the caller should log it in full:
    /// the first one while no summary is due (`summary` is `None`), which
    /// sets the summary for [`Recurring::EVERY`] from now.
    pub(crate) fn note(&mut self, summary: &mut Option<Instant>, now: Instant) -> bool {
        if summary.is_none() {
            *summary = Some(now + Self::EVERY);
            return true;
        }
        self.count += 1;
        false
    }

    /// When the summary is due: warns with the count, if any, and returns
    /// when the next summary is due; `None` when nothing happened, so the
    /// next occurrence logs in full again.
    pub(crate) fn summarize(&mut self, now: Instant) -> Option<Instant> {
        if self.count == 0 {
            return None;
        }
        warn!(
            "{} {} in the last {}s",
            self.count,
            self.what,
            Self::EVERY.as_secs()
        );
        self.count = 0;
        Some(now + Self::EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_earliest_set_and_due_keeps_what_has_come() {
        let now = Instant::now();
        let mut deadlines = Deadlines::default();
        assert_eq!(deadlines.next(), None);
        deadlines.idle_sweep = Some(now + Duration::from_secs(2));
        deadlines.grace_end = Some(now + Duration::from_secs(1));
        deadlines.accept_failures_summary = Some(now);
        assert_eq!(deadlines.next(), Some(now));
        let due = deadlines.due(now + Duration::from_secs(1));
        assert_eq!(
            due,
            Deadlines {
                grace_end: deadlines.grace_end,
                accept_failures_summary: deadlines.accept_failures_summary,
                ..Deadlines::default()
            }
        );
    }

    #[test]
    fn a_recurring_event_logs_once_then_sums_up_until_a_quiet_window() {
        let now = Instant::now();
        let mut recurring = Recurring::new("events");
        let mut summary = None;
        assert!(recurring.note(&mut summary, now), "the first logs in full");
        assert_eq!(summary, Some(now + Recurring::EVERY));
        assert!(!recurring.note(&mut summary, now), "later ones are counted");
        let later = now + Recurring::EVERY;
        summary = recurring.summarize(later);
        assert_eq!(summary, Some(later + Recurring::EVERY), "one was counted");
        assert_eq!(recurring.summarize(later + Recurring::EVERY), None);
    }
}
