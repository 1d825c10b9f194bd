//! The figures a manager reads, computed as a fold over the core's events, so the same code
//! measures a simulated day and a recorded log.
//!
//! Definitions (per queue, a queue being the service and channel a contact arrived on):
//! - **offered**: contacts that arrived in the measured window; **answered**: of those, the ones
//!   an agent accepted (first acceptance); **abandoned**: the ones whose customer left.
//! - **service level**: answered within the threshold, over offered (abandoned contacts count
//!   against it, as in Erlang A's `P(answered and waited ≤ t)`).
//! - **ASA**: the mean wait of answered contacts, from first arrival to first acceptance.
//! - **AHT**: agent time per handling, from acceptance to release (complete, escalate,
//!   transfer or requeue), plus the wrap-up that follows it.
//! - **occupancy**: agent time handling this queue's contacts (and their wrap-up) over the
//!   agent time staffed (logged in and not in `not_ready`); for the total, the share of staffed
//!   time in which an agent held at least one contact or was wrapping up. Concurrent work
//!   (several emails) makes the per-queue shares add up to more than the total.
//! - **first-contact resolution**: completed contacts resolved by their first agent, over
//!   completed contacts; **due breaches**: deferred contacts that passed their due time.

use rustc_hash::FxHashMap;
use serde::Serialize;
use switchboard_core::{AgentId, Channel, ContactId, Event, EventKind, ServiceId, Timestamp};

/// The figures of one queue (or of all of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueFigures {
    /// The service (absent in the total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The channel (absent in the total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Contacts that arrived in the measured window.
    pub offered: u64,
    /// Of those, answered by an agent.
    pub answered: u64,
    /// Of those, answered within the service-level threshold.
    pub answered_within_service_level: u64,
    /// Of those, answered after waiting at all.
    pub delayed: u64,
    /// Of those, abandoned by the customer.
    pub abandoned: u64,
    /// Answered within the threshold over offered.
    pub service_level: f64,
    /// The average speed of answer, in seconds.
    pub asa_seconds: f64,
    /// The average handle time (with wrap-up), in seconds.
    pub aht_seconds: f64,
    /// This queue's share of staffed agent time (see the module documentation).
    pub occupancy: f64,
    /// Abandoned over offered.
    pub abandon_rate: f64,
    /// Contacts completed.
    pub completed: u64,
    /// Completed contacts resolved at the first point of contact, over completed.
    pub first_contact_resolution: f64,
    /// Deferred contacts that passed their due time undone.
    pub due_breaches: u64,
    /// Offered contacts still open when the run ended.
    pub open_at_end: u64,
}

/// The figures of a run: in total and per queue (sorted by service, then channel).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// All queues together.
    pub total: QueueFigures,
    /// Each service and channel.
    pub queues: Vec<QueueFigures>,
}

/// The state of the centre at one instant and the flow over the interval before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds since the start of the run.
    pub at_secs: u64,
    /// Contacts waiting for an agent (queued or offered).
    pub waiting: u32,
    /// Agents ready and holding nothing.
    pub idle: u32,
    /// Agents holding work.
    pub busy: u32,
    /// Agents in wrap-up.
    pub wrap_up: u32,
    /// Agents logged in but not ready (breaks, missed offers, end of shift).
    pub not_ready: u32,
    /// Contacts that arrived in the interval.
    pub arrived: u32,
    /// Live contacts answered or abandoned in the interval.
    pub resolved_live: u32,
    /// Of those, answered within the threshold.
    pub within_service_level: u32,
}

#[derive(Debug, Default, Clone)]
struct Counters {
    offered: u64,
    answered: u64,
    within: u64,
    delayed: u64,
    abandoned: u64,
    wait_ms: u128,
    handle_ms: u128,
    handlings: u64,
    completed: u64,
    resolved_first: u64,
    due_breaches: u64,
    open: u64,
}

type QueueKey = (ServiceId, Channel);

#[derive(Debug)]
struct ContactTrack {
    queue: usize,
    counted: bool,
    answered: bool,
    waiting: bool,
    held_since: Option<Timestamp>,
}

#[derive(Debug, Default)]
struct AgentTrack {
    logged_in: bool,
    not_ready: bool,
    wrap_up: bool,
    holds: u32,
    since: Timestamp,
    /// The queue the current wrap-up is for, and when it began.
    wrap_queue: Option<(usize, Timestamp)>,
}

impl AgentTrack {
    const fn category(&self) -> Option<usize> {
        if !self.logged_in {
            None
        } else if self.holds > 0 {
            Some(BUSY)
        } else if self.wrap_up {
            Some(WRAP)
        } else if self.not_ready {
            Some(NOT_READY)
        } else {
            Some(IDLE)
        }
    }
}

const IDLE: usize = 0;
const BUSY: usize = 1;
const WRAP: usize = 2;
const NOT_READY: usize = 3;

/// Folds events into [`Figures`] and a time series of [`Sample`]s.
#[derive(Debug)]
pub struct Collector {
    start: Timestamp,
    measure_from: Timestamp,
    sample_ms: u64,
    next_sample: Timestamp,
    queue_keys: Vec<QueueKey>,
    queue_index: FxHashMap<QueueKey, usize>,
    counters: Vec<Counters>,
    contacts: FxHashMap<ContactId, ContactTrack>,
    agents: FxHashMap<AgentId, AgentTrack>,
    /// Agent milliseconds by category (idle, busy, wrap-up, not ready), in the window.
    agent_ms: [u128; 4],
    /// Agents in each category now.
    agent_count: [u32; 4],
    waiting: u32,
    interval: Sample,
    samples: Vec<Sample>,
}

impl Collector {
    /// A collector for a run starting at `start`, counting contacts that arrive from
    /// `measure_from`, sampling every `sample_ms` milliseconds.
    #[must_use]
    pub fn new(start: Timestamp, measure_from: Timestamp, sample_ms: u64) -> Self {
        Self {
            start,
            measure_from,
            sample_ms: sample_ms.max(1),
            next_sample: start + std::time::Duration::from_millis(sample_ms.max(1)),
            queue_keys: Vec::new(),
            queue_index: FxHashMap::default(),
            counters: Vec::new(),
            contacts: FxHashMap::default(),
            agents: FxHashMap::default(),
            agent_ms: [0; 4],
            agent_count: [0; 4],
            waiting: 0,
            interval: Sample::default(),
            samples: Vec::new(),
        }
    }

    /// Takes the samples due up to `now` (the state has not changed since the last event).
    fn sample_until(&mut self, now: Timestamp) {
        while self.next_sample <= now {
            let at = self.next_sample;
            let mut sample = std::mem::take(&mut self.interval);
            sample.at_secs = (at - self.start).as_secs();
            sample.waiting = self.waiting;
            [sample.idle, sample.busy, sample.wrap_up, sample.not_ready] = self.agent_count;
            self.samples.push(sample);
            self.next_sample = at + std::time::Duration::from_millis(self.sample_ms);
        }
    }

    fn queue(&mut self, service: &ServiceId, channel: Channel) -> usize {
        let key = (service.clone(), channel);
        if let Some(&i) = self.queue_index.get(&key) {
            return i;
        }
        let i = self.queue_keys.len();
        self.queue_keys.push(key.clone());
        self.queue_index.insert(key, i);
        self.counters.push(Counters::default());
        i
    }

    /// Agent time from `since` to `now` inside the measured window.
    fn window_ms(&self, since: Timestamp, now: Timestamp) -> u128 {
        u128::from(
            now.as_millis()
                .saturating_sub(since.max(self.measure_from).as_millis()),
        )
    }

    /// Runs `change` on an agent's track, accounting the time spent in its old category.
    fn agent_change(
        &mut self,
        agent: &AgentId,
        now: Timestamp,
        change: impl FnOnce(&mut AgentTrack),
    ) {
        let mut track = self.agents.remove(agent).unwrap_or_default();
        if let Some(old) = track.category() {
            self.agent_ms[old] += self.window_ms(track.since, now);
            self.agent_count[old] -= 1;
        }
        let was_wrapping = track.wrap_up;
        change(&mut track);
        if was_wrapping
            && !track.wrap_up
            && let Some((queue, since)) = track.wrap_queue.take()
        {
            let ms = self.window_ms(since, now);
            self.counters[queue].handle_ms += ms;
        }
        if let Some(new) = track.category() {
            self.agent_count[new] += 1;
        }
        track.since = now;
        self.agents.insert(agent.clone(), track);
    }

    fn set_waiting(&mut self, contact: &ContactId, waiting: bool) {
        if let Some(track) = self.contacts.get_mut(contact)
            && track.waiting != waiting
        {
            track.waiting = waiting;
            if waiting {
                self.waiting += 1;
            } else {
                self.waiting -= 1;
            }
        }
    }

    /// A handling ends: its agent time goes to the contact's queue, and a wrap-up that follows
    /// is the queue's too.
    fn release(&mut self, contact: &ContactId, agent: &AgentId, now: Timestamp) {
        let mut queue = None;
        if let Some(track) = self.contacts.get_mut(contact)
            && let Some(since) = track.held_since.take()
        {
            queue = Some(track.queue);
            let ms = u128::from(
                now.as_millis()
                    .saturating_sub(since.max(self.measure_from).as_millis()),
            );
            let c = &mut self.counters[track.queue];
            c.handle_ms += ms;
            if since >= self.measure_from {
                c.handlings += 1;
            }
        }
        self.agent_change(agent, now, |a| {
            a.holds = a.holds.saturating_sub(1);
            if let Some(q) = queue {
                a.wrap_queue = Some((q, now));
            }
        });
    }

    /// Takes one event into the figures.
    pub fn observe(&mut self, event: &Event) {
        let now = event.at;
        self.sample_until(now);
        match &event.kind {
            EventKind::AgentLoggedIn(login) => self.agent_change(&login.agent, now, |a| {
                a.logged_in = true;
                a.not_ready = true;
            }),
            EventKind::AgentReady { agent } => self.agent_change(agent, now, |a| {
                a.not_ready = false;
                a.wrap_up = false;
            }),
            EventKind::AgentNotReady { agent, .. } => self.agent_change(agent, now, |a| {
                a.not_ready = true;
                a.wrap_up = false;
            }),
            EventKind::AgentLoggedOut { agent } => self.agent_change(agent, now, |a| {
                a.logged_in = false;
                a.wrap_up = false;
                a.holds = 0;
            }),
            EventKind::WrapUpStarted { agent, .. } => {
                self.agent_change(agent, now, |a| {
                    a.wrap_up = true;
                    if let Some((q, _)) = a.wrap_queue {
                        a.wrap_queue = Some((q, now));
                    }
                });
            }
            EventKind::WrapUpEnded { agent } => self.agent_change(agent, now, |a| {
                a.wrap_up = false;
            }),
            EventKind::ContactCreated(created) => {
                let d = &created.details;
                let queue = self.queue(&d.service, d.channel);
                let counted = now >= self.measure_from;
                if counted {
                    self.counters[queue].offered += 1;
                    self.counters[queue].open += 1;
                }
                self.interval.arrived += 1;
                self.contacts.insert(
                    d.id.clone(),
                    ContactTrack {
                        queue,
                        counted,
                        answered: false,
                        waiting: false,
                        held_since: None,
                    },
                );
                self.set_waiting(&d.id, true);
            }
            EventKind::OfferAccepted {
                contact,
                agent,
                waited,
                within_service_level,
                ..
            } => {
                self.set_waiting(contact, false);
                let mut live = false;
                if let Some(track) = self.contacts.get_mut(contact) {
                    track.held_since = Some(now);
                    if !track.answered {
                        track.answered = true;
                        live = self.queue_keys[track.queue].1.is_live();
                        if track.counted {
                            let c = &mut self.counters[track.queue];
                            c.answered += 1;
                            c.wait_ms += waited.as_millis();
                            c.within += u64::from(*within_service_level);
                            c.delayed += u64::from(!waited.is_zero());
                        }
                    }
                }
                if live {
                    self.interval.resolved_live += 1;
                    self.interval.within_service_level += u32::from(*within_service_level);
                }
                self.agent_change(agent, now, |a| a.holds += 1);
            }
            EventKind::ContactAbandoned { contact, .. } => {
                self.set_waiting(contact, false);
                if let Some(track) = self.contacts.remove(contact) {
                    self.interval.resolved_live += 1;
                    if track.counted {
                        let c = &mut self.counters[track.queue];
                        c.abandoned += 1;
                        c.open -= 1;
                    }
                }
            }
            EventKind::ContactCompleted {
                contact,
                agent,
                first_contact_resolution,
                ..
            } => {
                self.release(contact, agent, now);
                if let Some(track) = self.contacts.remove(contact)
                    && track.counted
                {
                    let c = &mut self.counters[track.queue];
                    c.completed += 1;
                    c.resolved_first += u64::from(*first_contact_resolution);
                    c.open -= 1;
                }
            }
            EventKind::ContactEscalated { contact, agent, .. }
            | EventKind::ContactTransferred { contact, agent, .. }
            | EventKind::ContactRequeued { contact, agent, .. } => {
                self.release(contact, agent, now);
                self.set_waiting(contact, true);
            }
            EventKind::DueTimeBreached { contact, .. } => {
                if let Some(track) = self.contacts.get(contact)
                    && track.counted
                {
                    self.counters[track.queue].due_breaches += 1;
                }
            }
            EventKind::ComplaintStageChanged(changed) => {
                // Moved on from an agent's desk: back to the queue, as on escalation.
                if let Some(agent) = &changed.agent
                    && self
                        .contacts
                        .get(&changed.contact)
                        .is_some_and(|t| t.held_since.is_some())
                {
                    self.release(&changed.contact, agent, now);
                    self.set_waiting(&changed.contact, true);
                }
            }
            EventKind::ContactStepAdvanced { .. }
            | EventKind::ContactHeld { .. }
            | EventKind::ContactReleased { .. }
            | EventKind::DueTimeExtended(_)
            | EventKind::PersistentComplainantMarked { .. }
            | EventKind::OfferMade(_)
            | EventKind::OfferRejected { .. }
            | EventKind::OfferExpired { .. }
            | EventKind::OfferRevoked { .. }
            | EventKind::ServiceLevelThresholdPassed { .. }
            | EventKind::ContactUnservable(_)
            | EventKind::DueTimeAtRisk { .. } => {}
        }
    }

    /// The figures and samples at the end of the run, `end`.
    #[must_use]
    pub fn finish(mut self, end: Timestamp) -> (Figures, Vec<Sample>) {
        self.sample_until(end);
        let agents: Vec<AgentId> = self.agents.keys().cloned().collect();
        for agent in agents {
            self.agent_change(&agent, end, |a| a.wrap_up = false);
        }
        let staffed_ms: u128 = self.agent_ms.iter().sum::<u128>() - self.agent_ms[NOT_READY];
        let busy_ms = self.agent_ms[BUSY] + self.agent_ms[WRAP];
        let mut order: Vec<usize> = (0..self.queue_keys.len()).collect();
        order.sort_by(|&a, &b| self.queue_keys[a].cmp(&self.queue_keys[b]));
        let mut total = Counters::default();
        let mut queues = Vec::with_capacity(order.len());
        for i in order {
            let c = &self.counters[i];
            let (service, channel) = &self.queue_keys[i];
            queues.push(figures_of(
                c,
                Some(service.as_str()),
                Some(*channel),
                ratio128(c.handle_ms, staffed_ms),
            ));
            total.offered += c.offered;
            total.answered += c.answered;
            total.within += c.within;
            total.delayed += c.delayed;
            total.abandoned += c.abandoned;
            total.wait_ms += c.wait_ms;
            total.handle_ms += c.handle_ms;
            total.handlings += c.handlings;
            total.completed += c.completed;
            total.resolved_first += c.resolved_first;
            total.due_breaches += c.due_breaches;
            total.open += c.open;
        }
        let total = figures_of(&total, None, None, ratio128(busy_ms, staffed_ms));
        (Figures { total, queues }, self.samples)
    }
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

fn ratio128(numerator: u128, denominator: u128) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

fn figures_of(
    c: &Counters,
    service: Option<&str>,
    channel: Option<Channel>,
    occupancy: f64,
) -> QueueFigures {
    QueueFigures {
        service: service.map(str::to_owned),
        channel: channel.map(|c| c.as_str().to_owned()),
        offered: c.offered,
        answered: c.answered,
        answered_within_service_level: c.within,
        delayed: c.delayed,
        abandoned: c.abandoned,
        service_level: ratio(c.within, c.offered),
        asa_seconds: ratio128(c.wait_ms, u128::from(c.answered)) / 1000.0,
        aht_seconds: ratio128(c.handle_ms, u128::from(c.handlings)) / 1000.0,
        occupancy,
        abandon_rate: ratio(c.abandoned, c.offered),
        completed: c.completed,
        first_contact_resolution: ratio(c.resolved_first, c.completed),
        due_breaches: c.due_breaches,
        open_at_end: c.open,
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<24} {:<13} {:>8} {:>8} {:>9} {:>7} {:>8} {:>8} {:>6} {:>6} {:>6}",
            "service",
            "channel",
            "offered",
            "answered",
            "abandoned",
            "SL",
            "ASA (s)",
            "AHT (s)",
            "occ",
            "FCR",
            "breach"
        )?;
        for q in self.queues.iter().chain(std::iter::once(&self.total)) {
            writeln!(
                f,
                "{:<24} {:<13} {:>8} {:>8} {:>9} {:>6.1}% {:>8.1} {:>8.1} {:>5.1}% {:>5.1}% {:>6}",
                q.service.as_deref().unwrap_or("total"),
                q.channel.as_deref().unwrap_or(""),
                q.offered,
                q.answered,
                q.abandoned,
                q.service_level * 100.0,
                q.asa_seconds,
                q.aht_seconds,
                q.occupancy * 100.0,
                q.first_contact_resolution * 100.0,
                q.due_breaches
            )?;
        }
        Ok(())
    }
}
