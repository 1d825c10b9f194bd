//! Per-message bookkeeping of one measured phase: when each message was sent, when its answer
//! arrived, and the latencies in an HDR histogram. Shared by the engine phases and the relays.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// The most messages one phase may plan: 8 bytes each are kept, so this bounds a phase's
/// bookkeeping at 400 MB (e.g. 100,000 contacts/s for 500 s).
pub(super) const PLANNED_MAX: u64 = 50_000_000;

/// Latencies are recorded in nanoseconds between 1 µs and 60 s, to 3 significant digits.
const LATENCY_NS_MIN: u64 = 1_000;
const LATENCY_NS_MAX: u64 = 60_000_000_000;

/// One phase: `planned` messages numbered `0..planned`, sent open loop from `started`.
#[derive(Debug)]
pub(super) struct Tracker {
    /// When the phase began; every time below is nanoseconds since then.
    started: Instant,
    /// Per message: its send time plus one, or 0 when not sent yet or already answered (so a
    /// second answer for the same message, a re-offer say, is not counted twice).
    sent_at_ns: Box<[AtomicU64]>,
    /// Messages handed to the NATS client so far.
    sent: AtomicU64,
    /// When the last message was sent.
    last_sent_ns: AtomicU64,
    /// Distinct messages answered.
    received: AtomicU64,
    /// When the latest answer arrived.
    last_received_ns: AtomicU64,
    /// Size of the latest answer in bytes (an offer's size, for the relays).
    answer_bytes: AtomicU64,
    /// Replies to the engine's create commands: ok, refused, and ok with the contact queued
    /// (no agent was free at once).
    replies_ok: AtomicU64,
    replies_refused: AtomicU64,
    replies_queued: AtomicU64,
    /// Latencies of answered messages, in nanoseconds.
    histogram: Mutex<Histogram<u64>>,
    /// Woken when every message sent so far has its answer.
    caught_up: tokio::sync::Notify,
}

impl Tracker {
    /// A phase of `planned` messages (at most [`PLANNED_MAX`]), starting now.
    pub(super) fn new(planned: u64) -> Self {
        let planned = planned.min(PLANNED_MAX);
        let slots = usize::try_from(planned).unwrap_or(usize::MAX);
        Self {
            started: Instant::now(),
            sent_at_ns: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            sent: AtomicU64::new(0),
            last_sent_ns: AtomicU64::new(0),
            received: AtomicU64::new(0),
            last_received_ns: AtomicU64::new(0),
            answer_bytes: AtomicU64::new(0),
            replies_ok: AtomicU64::new(0),
            replies_refused: AtomicU64::new(0),
            replies_queued: AtomicU64::new(0),
            histogram: Mutex::new(
                Histogram::new_with_bounds(LATENCY_NS_MIN, LATENCY_NS_MAX, 3)
                    .expect("constant bounds hdrhistogram accepts: low >= 1, high >= 2 * low"),
            ),
            caught_up: tokio::sync::Notify::new(),
        }
    }

    /// How many messages the phase sends.
    pub(super) fn planned(&self) -> u64 {
        self.sent_at_ns.len() as u64
    }

    /// When the phase began.
    pub(super) fn started(&self) -> Instant {
        self.started
    }

    fn since_start_ns(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.started).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Message `n` is about to be handed to the client now.
    pub(super) fn sending(&self, n: u64) {
        let now = self.since_start_ns(Instant::now());
        if let Some(slot) = usize::try_from(n).ok().and_then(|i| self.sent_at_ns.get(i)) {
            slot.store(now.saturating_add(1), Ordering::Release);
            self.sent.fetch_add(1, Ordering::Relaxed);
            self.last_sent_ns.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// The answer to message `n` (`bytes` long) arrived at `at`. A message answered twice, or
    /// one this phase never sent, is ignored; returns whether it counted.
    pub(super) fn answered(&self, n: u64, at: Instant, bytes: usize) -> bool {
        let Some(slot) = usize::try_from(n).ok().and_then(|i| self.sent_at_ns.get(i)) else {
            return false;
        };
        let sent = slot.swap(0, Ordering::AcqRel);
        if sent == 0 {
            return false;
        }
        let arrived = self.since_start_ns(at);
        let latency = arrived.saturating_sub(sent - 1).max(LATENCY_NS_MIN);
        self.histogram
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .saturating_record(latency);
        let received = self.received.fetch_add(1, Ordering::Relaxed) + 1;
        self.last_received_ns.fetch_max(arrived, Ordering::Relaxed);
        self.answer_bytes.store(bytes as u64, Ordering::Relaxed);
        if received >= self.sent() {
            self.caught_up.notify_waiters();
        }
        true
    }

    /// A reply to one of this phase's create commands.
    pub(super) fn replied(&self, body: &[u8]) {
        if body.starts_with(br#"{"ok":true"#) {
            self.replies_ok.fetch_add(1, Ordering::Relaxed);
            if body.windows(17).any(|w| w == br#""status":"queued""#) {
                self.replies_queued.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            self.replies_refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Messages sent so far.
    pub(super) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Messages answered so far.
    pub(super) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// The size of the latest answer, in bytes (0 before the first).
    pub(super) fn answer_bytes(&self) -> u64 {
        self.answer_bytes.load(Ordering::Relaxed)
    }

    /// Waits until every sent message is answered (and, with `replies`, every create has its
    /// reply too: a reply may come after its offer), for at most `bound`, woken by the last
    /// answer (and every 100 ms to call `on_poll`, which moves the progress bar). Returns
    /// whether all were answered.
    pub(super) async fn drain(
        &self,
        bound: Duration,
        replies: bool,
        mut on_poll: impl FnMut(&Self),
    ) -> bool {
        const TICK: Duration = Duration::from_millis(100);
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let caught_up = self.caught_up.notified();
            on_poll(self);
            let replied = self.replies_ok.load(Ordering::Relaxed)
                + self.replies_refused.load(Ordering::Relaxed);
            if self.received() >= self.sent() && (!replies || replied >= self.sent()) {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            let wait = TICK.min(deadline - now);
            // Either the last answer arrived or it is time to move the bar: check again.
            let _ = tokio::time::timeout(wait, caught_up).await;
        }
    }

    /// The phase's figures as they stand.
    pub(super) fn result(&self) -> PhaseResult {
        let sent = self.sent();
        let received = self.received();
        let secs = |ns: u64| Duration::from_nanos(ns).as_secs_f64();
        let send_secs = secs(self.last_sent_ns.load(Ordering::Relaxed));
        let receive_secs = secs(self.last_received_ns.load(Ordering::Relaxed));
        let histogram = self
            .histogram
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        PhaseResult {
            sent,
            received,
            lost: sent.saturating_sub(received),
            // n messages sent at 0, 1/R, ..., (n-1)/R span (n-1)/R seconds.
            achieved_rate: if send_secs > 0.0 {
                sent.saturating_sub(1) as f64 / send_secs
            } else {
                0.0
            },
            answered_rate: if receive_secs > 0.0 {
                received as f64 / receive_secs
            } else {
                0.0
            },
            p50_us: us(0.5),
            p99_us: us(0.99),
            p999_us: us(0.999),
            max_us: histogram.max() as f64 / 1000.0,
            mean_us: histogram.mean() / 1000.0,
            replies_ok: self.replies_ok.load(Ordering::Relaxed),
            replies_refused: self.replies_refused.load(Ordering::Relaxed),
            replies_queued: self.replies_queued.load(Ordering::Relaxed),
        }
    }
}

/// The figures of one phase.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct PhaseResult {
    /// Messages sent.
    pub(super) sent: u64,
    /// Distinct messages answered (offers, for the engine).
    pub(super) received: u64,
    /// Sent and never answered before the drain bound.
    pub(super) lost: u64,
    /// Messages per second actually sent (the target rate unless the sender fell behind).
    pub(super) achieved_rate: f64,
    /// Answers per second, from the start to the last answer: below the sent rate when the
    /// system under test fell behind.
    pub(super) answered_rate: f64,
    /// Latency percentiles, in microseconds.
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    pub(super) p999_us: f64,
    pub(super) max_us: f64,
    pub(super) mean_us: f64,
    /// Replies to create commands (engine phases only; zero for the relays).
    pub(super) replies_ok: u64,
    pub(super) replies_refused: u64,
    pub(super) replies_queued: u64,
}

/// The phases of a run by number, so that an answer naming a phase and a message finds its
/// tracker. Phase numbers are part of the contact ids, so late answers of an earlier phase
/// never count in a later one.
#[derive(Debug, Default)]
pub(super) struct Phases(RwLock<Vec<Arc<Tracker>>>);

impl Phases {
    /// Adds a phase; returns its number.
    pub(super) fn add(&self, tracker: Arc<Tracker>) -> u32 {
        let mut phases = self.0.write().unwrap_or_else(PoisonError::into_inner);
        phases.push(tracker);
        u32::try_from(phases.len() - 1).unwrap_or(u32::MAX)
    }

    /// Phase number `n`.
    pub(super) fn get(&self, n: u32) -> Option<Arc<Tracker>> {
        let phases = self.0.read().unwrap_or_else(PoisonError::into_inner);
        phases.get(n as usize).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_counts_once_and_only_for_a_sent_message() {
        let tracker = Tracker::new(3);
        tracker.sending(0);
        tracker.sending(1);
        let now = Instant::now();
        assert!(tracker.answered(0, now, 10));
        assert!(!tracker.answered(0, now, 10), "a second answer is ignored");
        assert!(!tracker.answered(2, now, 10), "never sent");
        assert!(!tracker.answered(7, now, 10), "out of range");
        let result = tracker.result();
        assert_eq!((result.sent, result.received, result.lost), (2, 1, 1));
        assert_eq!(tracker.answer_bytes(), 10);
    }

    #[test]
    fn replies_are_told_apart() {
        let tracker = Tracker::new(1);
        tracker.replied(br#"{"ok":true,"seq":4,"status":"offered"}"#);
        tracker.replied(br#"{"ok":true,"seq":5,"status":"queued"}"#);
        tracker.replied(br#"{"ok":false,"error":{"code":"invalid_message"}}"#);
        let result = tracker.result();
        assert_eq!(
            (
                result.replies_ok,
                result.replies_queued,
                result.replies_refused
            ),
            (2, 1, 1)
        );
    }
}
