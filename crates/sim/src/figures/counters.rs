//! The tallies kept per queue and interval, and the figures made from them. Everything is a whole
//! count or whole milliseconds, so adding intervals up gives the period's tallies exactly,
//! whatever the intervals.

use switchboard_core::Channel;

use super::QueueFigures;

/// One queue's tallies in one interval. Contacts count in the interval they arrived in
/// (`offered` to `escalations`); handlings in the interval they began in (`handle_ms`,
/// `handlings`); agent time where it was spent (`staffed_ms`, `busy_ms`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) offered: u64,
    pub(crate) answered: u64,
    pub(crate) within: u64,
    pub(crate) delayed: u64,
    pub(crate) abandoned: u64,
    pub(crate) short_abandoned: u64,
    /// Waits of answered contacts, to first acceptance.
    pub(crate) wait_ms: u64,
    /// Waits of abandoned contacts, to abandonment.
    pub(crate) abandon_wait_ms: u64,
    /// The longest wait: answered, abandoned, or still waiting at the end.
    pub(crate) longest_wait_ms: u64,
    /// Open and unanswered at the end, past the answer threshold or due time.
    pub(crate) waiting_past_threshold: u64,
    /// Waits so far of contacts still unanswered at the end.
    pub(crate) open_wait_ms: u64,
    pub(crate) handle_ms: u64,
    pub(crate) handlings: u64,
    pub(crate) completed: u64,
    pub(crate) resolved_first: u64,
    pub(crate) due_breaches: u64,
    pub(crate) open: u64,
    pub(crate) transfers: u64,
    pub(crate) escalations: u64,
    /// Agent time staffed by agents who could take the queue (or any agent, for a total).
    pub(crate) staffed_ms: u64,
    /// The queue's share of that time: each agent's staffed time split among the queues they
    /// could take in proportion to each queue's workload (arrivals times AHT) in the interval.
    pub(crate) share_ms: u64,
    /// Agent time busy (holding work or wrapping up), for totals only.
    pub(crate) busy_ms: u64,
}

impl Counters {
    /// Adds `other`'s tallies to these (the longest wait is the longer).
    pub(crate) fn add(&mut self, other: &Self) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.within += other.within;
        self.delayed += other.delayed;
        self.abandoned += other.abandoned;
        self.short_abandoned += other.short_abandoned;
        self.wait_ms += other.wait_ms;
        self.abandon_wait_ms += other.abandon_wait_ms;
        self.longest_wait_ms = self.longest_wait_ms.max(other.longest_wait_ms);
        self.waiting_past_threshold += other.waiting_past_threshold;
        self.open_wait_ms += other.open_wait_ms;
        self.handle_ms += other.handle_ms;
        self.handlings += other.handlings;
        self.completed += other.completed;
        self.resolved_first += other.resolved_first;
        self.due_breaches += other.due_breaches;
        self.open += other.open;
        self.transfers += other.transfers;
        self.escalations += other.escalations;
        self.staffed_ms += other.staffed_ms;
        self.share_ms += other.share_ms;
        self.busy_ms += other.busy_ms;
    }

    /// The figures of these tallies, over a span of `span_ms` (for agents staffed); with
    /// `occupancy` for a total.
    pub(crate) fn figures(
        &self,
        queue: Option<(&str, Channel)>,
        span_ms: u64,
        occupancy: bool,
    ) -> QueueFigures {
        QueueFigures {
            service: queue.map(|(service, _)| service.to_owned()),
            channel: queue.map(|(_, channel)| channel.as_str().to_owned()),
            offered: self.offered,
            answered: self.answered,
            answered_within_service_level: self.within,
            delayed: self.delayed,
            abandoned: self.abandoned,
            short_abandoned: self.short_abandoned,
            waiting_past_threshold: self.waiting_past_threshold,
            service_level: ratio(
                self.within,
                self.answered + self.abandoned + self.waiting_past_threshold,
            ),
            asa_seconds: ratio(self.wait_ms, self.answered) / 1000.0,
            aht_seconds: ratio(self.handle_ms, self.handlings) / 1000.0,
            longest_wait_seconds: self.longest_wait_ms as f64 / 1000.0,
            occupancy: occupancy.then(|| ratio(self.busy_ms, self.staffed_ms)),
            agents_staffed: ratio(self.staffed_ms, span_ms),
            staffed_hours: hours(self.staffed_ms),
            agents_share: ratio(self.share_ms, span_ms),
            agent_hours: hours(self.handle_ms),
            service_level_target: None,
            service_level_threshold_seconds: None,
            abandon_rate: ratio(self.abandoned, self.offered),
            completed: self.completed,
            first_contact_resolution: ratio(self.resolved_first, self.completed),
            transfers: self.transfers,
            escalations: self.escalations,
            due_breaches: self.due_breaches,
            open_at_end: self.open,
            handlings: self.handlings,
            patience_seconds: self.patience_seconds(),
        }
    }

    /// The customers' mean patience, estimated as exponential from waits cut short by an
    /// answer (censored) and ended by abandonment: every second waited, over the abandonments.
    fn patience_seconds(&self) -> Option<f64> {
        (self.abandoned > 0).then(|| {
            let waited = self.wait_ms + self.abandon_wait_ms + self.open_wait_ms;
            waited as f64 / self.abandoned as f64 / 1000.0
        })
    }
}

/// Milliseconds as hours.
pub(crate) fn hours(ms: u64) -> f64 {
    ms as f64 / 3_600_000.0
}

/// `numerator / denominator`, 0 when there is nothing to divide by.
pub(crate) fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}
