//! Cluster mode's leadership rules, without I/O: when a node renews its lease and looks for a
//! free one, why it stops serving, and what a takeover measured. The async plumbing beside it
//! (`mod.rs`) does the lease's writes, the stream's reads and the clock, and asks this module.

use std::time::{Duration, Instant};

use switchboard_log::LogError;

use crate::driver::SetupRetry;

/// Why a leader stopped serving (the `reason` of the `stopped serving` log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A renewal failed or was not confirmed within the TTL: another node may hold the lease.
    LeaseLost,
    /// An append was fenced: another leader appended to the stream since.
    Fenced,
    /// The stream failed otherwise (an append unanswered or refused): the writer is poisoned.
    LogFailed,
    /// NATS failed under the loop (a stream or the intake consumer could not be set up, a
    /// subscription ended).
    NatsFailed,
    /// The process was told to stop (SIGINT or SIGTERM).
    Shutdown,
}

impl StopReason {
    /// The reason as the log line gives it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LeaseLost => "lease lost",
            Self::Fenced => "fenced",
            Self::LogFailed => "log failed",
            Self::NatsFailed => "nats failed",
            Self::Shutdown => "shutdown",
        }
    }

    /// The reason a log failure ends a leader's term, or `None` if it should stop the process
    /// (the local copy's disk failed: a standby on it would fail the same way). A writer
    /// poisoned by an earlier failure (a turn submitted after it) is read by that failure's
    /// text, the one the log crate wrote for it.
    #[must_use]
    pub fn of_log_failure(error: &LogError) -> Option<Self> {
        match error {
            LogError::Fenced { .. } => Some(Self::Fenced),
            LogError::Backend { .. } => Some(Self::LogFailed),
            LogError::Poisoned {
                cause,
                storage_full: false,
            } => {
                let fenced = LogError::Fenced {
                    expected_last_seq: 0,
                }
                .to_string();
                let fence_text = fenced.split(':').next().unwrap_or_default();
                if cause.starts_with(fence_text) {
                    Some(Self::Fenced)
                } else if cause.contains("on the jetstream log") {
                    Some(Self::LogFailed)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Whether the node gives its lease up on stopping (a fenced or failed leader, or a clean
    /// stop, hands over at once; a lost lease is not its to give).
    #[must_use]
    pub const fn releases_lease(self) -> bool {
        !matches!(self, Self::LeaseLost)
    }
}

/// What a takeover measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Takeover {
    /// From first seeing the lease free to serving.
    pub took: Duration,
    /// Whether another node held the lease before (a failover, not a first start).
    pub failover: bool,
}

/// One node's leadership of one domain. See the module documentation.
#[derive(Debug)]
pub struct Leadership {
    ttl: Duration,
    /// Another node was seen holding the lease since this node last served.
    seen_other_holder: bool,
    /// When this node first saw the lease free (it took it then).
    free_since: Option<Instant>,
}

impl Leadership {
    /// Leadership under a lease of `ttl`.
    #[must_use]
    pub const fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            seen_other_holder: false,
            free_since: None,
        }
    }

    /// How often a holder renews: three times per TTL, so one lost renewal still leaves two.
    #[must_use]
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// How often a standby reads the stream's tail and tries the lease: ten times per TTL (a
    /// takeover then starts within a tenth of the TTL of the lease's expiry).
    #[must_use]
    pub fn standby_poll_every(&self) -> Duration {
        (self.ttl / 10).max(Duration::from_millis(50))
    }

    /// How long a cluster-mode engine waits for the reply to one NATS request (a JetStream API
    /// call: a stream's info, a consumer made): two thirds of the TTL, at least 1 s. A request
    /// sent to a nats-server that is restarting, or on a connection that has just died, gets no
    /// reply at all; waited for the client's default 10 s, it held a takeover up for that long
    /// (BENCHMARKS.md), where this bound has the step tried again within the TTL.
    #[must_use]
    pub fn request_bound(&self) -> Duration {
        (self.ttl * 2 / 3).max(Duration::from_secs(1))
    }

    /// How a new leader tries its set-up's JetStream requests (the intake and events streams,
    /// the intake consumer): each try waits a sixth of the TTL (at least 250 ms), and they go on
    /// for up to twice the TTL, the lease renewed meanwhile. After a nats-server restart a
    /// stream or consumer whose leader was on it answers nothing until its group has elected
    /// another, which takes seconds; a leader that gave up at the first unanswered request
    /// released its lease and took it again a request bound later (BENCHMARKS.md).
    #[must_use]
    pub fn setup_retry(&self) -> SetupRetry {
        SetupRetry {
            per_try: (self.ttl / 6).max(Duration::from_millis(250)),
            within: self.ttl * 2,
        }
    }

    /// How long a renewal sent at `now` may take: until the hold ends, `valid_until` (zero if
    /// it has already ended: the lease is lost without asking).
    #[must_use]
    pub fn renewal_bound(now: Instant, valid_until: Option<Instant>) -> Duration {
        valid_until.map_or(Duration::ZERO, |until| until.saturating_duration_since(now))
    }

    /// The lease was found held by another node (`holder`; empty when the replica asked had
    /// not yet seen the holder's write).
    pub fn held_by(&mut self, holder: &str, node_id: &str) {
        if holder != node_id {
            self.seen_other_holder = true;
        }
        self.free_since = None;
    }

    /// This node took the lease at `now`.
    pub fn acquired(&mut self, now: Instant) {
        self.free_since.get_or_insert(now);
    }

    /// This node serves from `now`: what the takeover took.
    pub fn serving(&mut self, now: Instant) -> Takeover {
        let took = self
            .free_since
            .take()
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        let failover = std::mem::take(&mut self.seen_other_holder);
        Takeover { took, failover }
    }

    /// This node stopped serving (or gave up a takeover): it is a standby again.
    pub fn stopped(&mut self) {
        self.free_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_takeover_counts_from_the_lease_seen_free_and_is_a_failover_only_after_another_holder() {
        let ttl = Duration::from_secs(3);
        let mut role = Leadership::new(ttl);
        assert_eq!(role.renew_every(), Duration::from_secs(1));
        assert_eq!(role.standby_poll_every(), Duration::from_millis(300));
        assert_eq!(role.request_bound(), Duration::from_secs(2));
        assert_eq!(
            role.setup_retry(),
            SetupRetry {
                per_try: Duration::from_millis(500),
                within: Duration::from_secs(6)
            }
        );
        assert_eq!(
            Leadership::new(Duration::from_secs(1)).request_bound(),
            Duration::from_secs(1)
        );
        let start = Instant::now();
        role.acquired(start);
        let first = role.serving(start + Duration::from_millis(40));
        assert_eq!(first.took, Duration::from_millis(40));
        assert!(!first.failover, "a first start is not a failover");
        role.stopped();
        role.held_by("node-b", "node-a");
        role.acquired(start + Duration::from_secs(5));
        role.acquired(start + Duration::from_secs(6));
        let second = role.serving(start + Duration::from_millis(5_250));
        assert!(second.failover);
        assert_eq!(
            second.took,
            Duration::from_millis(250),
            "from the first sight"
        );
        role.held_by("node-a", "node-a");
        role.acquired(start);
        assert!(
            !role.serving(start).failover,
            "its own stale entry is no failover"
        );
    }

    #[test]
    fn renewals_are_bounded_by_the_hold_and_reasons_read_as_logged() {
        let now = Instant::now();
        let until = now + Duration::from_millis(700);
        assert_eq!(
            Leadership::renewal_bound(now, Some(until)),
            Duration::from_millis(700)
        );
        assert_eq!(
            Leadership::renewal_bound(until + Duration::from_secs(1), Some(until)),
            Duration::ZERO,
            "a hold that ran out (a paused process) is lost without asking"
        );
        assert_eq!(Leadership::renewal_bound(now, None), Duration::ZERO);
        let fenced = LogError::Fenced {
            expected_last_seq: 7,
        };
        assert_eq!(
            StopReason::of_log_failure(&fenced),
            Some(StopReason::Fenced)
        );
        assert_eq!(StopReason::of_log_failure(&LogError::WriterStopped), None);
        let poisoned = |cause: String| LogError::Poisoned {
            cause,
            storage_full: false,
        };
        assert_eq!(
            StopReason::of_log_failure(&poisoned(fenced.with_sources())),
            Some(StopReason::Fenced),
            "a turn submitted after the fenced one"
        );
        assert_eq!(
            StopReason::of_log_failure(&poisoned("fdatasync failed: EIO".to_owned())),
            None,
            "the local disk failed: the process stops"
        );
        assert_eq!(StopReason::LeaseLost.as_str(), "lease lost");
        assert!(!StopReason::LeaseLost.releases_lease());
        assert!(StopReason::Fenced.releases_lease());
        assert!(StopReason::Shutdown.releases_lease());
    }
}
