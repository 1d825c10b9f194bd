//! The figures a manager reads, computed as a fold over the core's events, so the same code
//! measures a simulated day and a recorded log.
//!
//! Definitions (per queue, a queue being the service and channel a contact arrived on):
//! - **offered**: contacts that arrived in the measured window; **answered**: of those, the ones
//!   an agent accepted (first acceptance); **abandoned**: the ones whose customer left before
//!   being answered (hanging up on hold after an escalation or transfer is not abandonment).
//! - **service level**: answered within the threshold, over offered (abandoned contacts count
//!   against it, as in Erlang A's `P(answered and waited ≤ t)`).
//! - **ASA**: the mean wait of answered contacts, from first arrival to first acceptance.
//! - **AHT**: agent time per handling, from acceptance to release (complete, escalate,
//!   transfer or requeue), plus the wrap-up that follows it.
//! - **agent hours**: the agents' time on this queue's contacts, handling and wrap-up, in
//!   hours (every handling counted in full, so three emails handled side by side for an hour are
//!   three agent hours).
//! - **occupancy**: the share of staffed agent time (logged in and not in `not_ready`) in which
//!   an agent held at least one contact or was wrapping up. It is measured for the total and per
//!   site (the agents' building), never per queue: a multi-skilled agent's free time belongs to
//!   every queue they could take, so no queue has a staffed time of its own to divide by.
//! - **first-contact resolution**: completed contacts resolved by their first agent, over
//!   completed contacts; **due breaches**: deferred contacts that passed their due time.

use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use switchboard_core::event::{AgentLoggedIn, ContactCreated};
use switchboard_core::{
    AgentId, Channel, ComplaintStageChanged, ContactId, Event, EventKind, ServiceId, SiteId,
    Timestamp,
};

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
    /// The share of staffed time agents were busy: for the total only (see the module
    /// documentation; per site in [`Figures::sites`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupancy: Option<f64>,
    /// Agent time on this queue's contacts (handling and wrap-up), in hours.
    pub agent_hours: f64,
    /// The service-level target (a share, e.g. 0.8) for this queue, when the run knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_level_target: Option<f64>,
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

/// The figures of a run: in total, per queue (sorted by service, then channel) and per site.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// All queues together.
    pub total: QueueFigures,
    /// Each service and channel.
    pub queues: Vec<QueueFigures>,
    /// The agents of each site (sorted by site), in the measured window.
    pub sites: Vec<SiteFigures>,
}

/// How busy the agents of one site were.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SiteFigures {
    /// The site agents logged in at.
    pub site: String,
    /// Agents who logged in there.
    pub agents: u32,
    /// Agent hours staffed: logged in and not `not_ready`.
    pub staffed_hours: f64,
    /// Agent hours holding at least one contact or wrapping up.
    pub busy_hours: f64,
    /// Busy over staffed.
    pub occupancy: f64,
}

/// The state of the centre at one instant and the flow over the interval before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds since the start of the run.
    pub at_secs: u64,
    /// Contacts waiting for an agent (queued or offered).
    pub waiting: u32,
    /// The same per queue, in the order of [`Figures::queues`].
    pub waiting_by_queue: Vec<u32>,
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

#[derive(Debug, Default, Clone)]
struct SiteTrack {
    /// Agents who logged in at the site.
    agents: FxHashSet<AgentId>,
    /// Agent milliseconds by category (idle, busy, wrap-up, not ready), in the window.
    agent_ms: [u128; 4],
}

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
    /// The site of the agent's latest login (an index into the collector's sites).
    site: usize,
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
    /// Contacts waiting now, per queue (by the order queues were first seen).
    waiting_by_queue: Vec<u32>,
    site_names: Vec<SiteId>,
    site_index: FxHashMap<SiteId, usize>,
    sites: Vec<SiteTrack>,
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
            next_sample: start + Duration::from_millis(sample_ms.max(1)),
            queue_keys: Vec::new(),
            queue_index: FxHashMap::default(),
            counters: Vec::new(),
            waiting_by_queue: Vec::new(),
            site_names: Vec::new(),
            site_index: FxHashMap::default(),
            sites: Vec::new(),
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
            sample.waiting_by_queue.clone_from(&self.waiting_by_queue);
            [sample.idle, sample.busy, sample.wrap_up, sample.not_ready] = self.agent_count;
            self.samples.push(sample);
            self.next_sample = at + Duration::from_millis(self.sample_ms);
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
        self.waiting_by_queue.push(0);
        i
    }

    fn site(&mut self, site: &SiteId) -> usize {
        if let Some(&i) = self.site_index.get(site) {
            return i;
        }
        let i = self.site_names.len();
        self.site_names.push(site.clone());
        self.site_index.insert(site.clone(), i);
        self.sites.push(SiteTrack::default());
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
            let ms = self.window_ms(track.since, now);
            self.agent_ms[old] += ms;
            if let Some(site) = self.sites.get_mut(track.site) {
                site.agent_ms[old] += ms;
            }
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
                self.waiting_by_queue[track.queue] += 1;
            } else {
                self.waiting -= 1;
                self.waiting_by_queue[track.queue] -= 1;
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
            EventKind::AgentLoggedIn(login) => self.on_agent_logged_in(now, login),
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
            EventKind::ContactCreated(created) => self.on_contact_created(now, created),
            EventKind::OfferAccepted {
                contact,
                agent,
                waited,
                within_service_level,
                ..
            } => self.on_offer_accepted(now, contact, agent, *waited, *within_service_level),
            EventKind::ContactAbandoned { contact, .. } => self.on_contact_abandoned(contact),
            EventKind::ContactCompleted {
                contact,
                agent,
                first_contact_resolution,
                ..
            } => self.on_contact_completed(now, contact, agent, *first_contact_resolution),
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
                self.on_complaint_stage_changed(now, changed);
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

    /// An agent logs in at their site, not ready.
    fn on_agent_logged_in(&mut self, now: Timestamp, login: &AgentLoggedIn) {
        let site = self.site(&login.site);
        self.sites[site].agents.insert(login.agent.clone());
        self.agent_change(&login.agent, now, |a| {
            a.logged_in = true;
            a.not_ready = true;
            a.site = site;
        });
    }

    /// A contact arrives: offered to its queue (if in the measured period) and waiting.
    fn on_contact_created(&mut self, now: Timestamp, created: &ContactCreated) {
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

    /// An agent answers: counted answered the first time, with its wait.
    fn on_offer_accepted(
        &mut self,
        now: Timestamp,
        contact: &ContactId,
        agent: &AgentId,
        waited: Duration,
        within_service_level: bool,
    ) {
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
                    c.within += u64::from(within_service_level);
                    c.delayed += u64::from(!waited.is_zero());
                }
            }
        }
        if live {
            self.interval.resolved_live += 1;
            self.interval.within_service_level += u32::from(within_service_level);
        }
        self.agent_change(agent, now, |a| a.holds += 1);
    }

    /// The customer leaves: abandoned if never answered, closed otherwise.
    fn on_contact_abandoned(&mut self, contact: &ContactId) {
        self.set_waiting(contact, false);
        if let Some(track) = self.contacts.remove(contact) {
            // A customer who hangs up on hold after an escalation or a transfer was
            // answered: that contact is closed, not abandoned.
            if !track.answered {
                self.interval.resolved_live += 1;
            }
            if track.counted {
                let c = &mut self.counters[track.queue];
                c.abandoned += u64::from(!track.answered);
                c.open -= 1;
            }
        }
    }

    /// An agent completes a contact.
    fn on_contact_completed(
        &mut self,
        now: Timestamp,
        contact: &ContactId,
        agent: &AgentId,
        first_contact_resolution: bool,
    ) {
        self.release(contact, agent, now);
        if let Some(track) = self.contacts.remove(contact)
            && track.counted
        {
            let c = &mut self.counters[track.queue];
            c.completed += 1;
            c.resolved_first += u64::from(first_contact_resolution);
            c.open -= 1;
        }
    }

    /// A complaint moved on from an agent's desk goes back to the queue, as on escalation.
    fn on_complaint_stage_changed(&mut self, now: Timestamp, changed: &ComplaintStageChanged) {
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

    /// The figures and samples at the end of the run, `end`.
    #[must_use]
    pub fn finish(mut self, end: Timestamp) -> (Figures, Vec<Sample>) {
        self.sample_until(end);
        let agents: Vec<AgentId> = self.agents.keys().cloned().collect();
        for agent in agents {
            self.agent_change(&agent, end, |a| a.wrap_up = false);
        }
        let mut order: Vec<usize> = (0..self.queue_keys.len()).collect();
        order.sort_by(|&a, &b| self.queue_keys[a].cmp(&self.queue_keys[b]));
        let mut total = Counters::default();
        let mut queues = Vec::with_capacity(order.len());
        for &i in &order {
            let c = &self.counters[i];
            let (service, channel) = &self.queue_keys[i];
            queues.push(figures_of(c, Some(service.as_str()), Some(*channel), None));
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
        let total = figures_of(&total, None, None, Some(occupancy(&self.agent_ms)));
        // Samples taken before a queue was first seen are shorter; all follow the sorted order.
        for sample in &mut self.samples {
            let seen = std::mem::take(&mut sample.waiting_by_queue);
            sample.waiting_by_queue = order
                .iter()
                .map(|&i| seen.get(i).copied().unwrap_or(0))
                .collect();
        }
        let mut sites: Vec<SiteFigures> = self
            .site_names
            .iter()
            .zip(&self.sites)
            .map(|(name, track)| {
                let staffed = staffed_ms(&track.agent_ms);
                SiteFigures {
                    site: name.as_str().to_owned(),
                    agents: u32::try_from(track.agents.len()).unwrap_or(u32::MAX),
                    staffed_hours: hours(staffed),
                    busy_hours: hours(track.agent_ms[BUSY] + track.agent_ms[WRAP]),
                    occupancy: occupancy(&track.agent_ms),
                }
            })
            .collect();
        sites.sort_by(|a, b| a.site.cmp(&b.site));
        (
            Figures {
                total,
                queues,
                sites,
            },
            self.samples,
        )
    }
}

/// Staffed agent time: logged in and not `not_ready` (holding work counts, even on a break).
fn staffed_ms(agent_ms: &[u128; 4]) -> u128 {
    agent_ms.iter().sum::<u128>() - agent_ms[NOT_READY]
}

/// Busy (holding a contact or wrapping up) over staffed.
fn occupancy(agent_ms: &[u128; 4]) -> f64 {
    ratio128(agent_ms[BUSY] + agent_ms[WRAP], staffed_ms(agent_ms))
}

fn hours(ms: u128) -> f64 {
    ms as f64 / 3_600_000.0
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
    occupancy: Option<f64>,
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
        agent_hours: hours(c.handle_ms),
        service_level_target: None,
        abandon_rate: ratio(c.abandoned, c.offered),
        completed: c.completed,
        first_contact_resolution: ratio(c.resolved_first, c.completed),
        due_breaches: c.due_breaches,
        open_at_end: c.open,
    }
}

/// A span of seconds as a manager reads it: `42 s`, `4 min 05 s`, `2 h 33 min`.
#[must_use]
pub fn duration_text(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".to_owned();
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "finite and non-negative, rounded to whole seconds"
    )]
    let whole = secs.round() as u64;
    if whole < 60 {
        format!("{whole} s")
    } else if whole < 3600 {
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        let minutes = (whole + 30) / 60;
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<24} {:<13} {:>8} {:>8} {:>9} {:>5} {:>7} {:>12} {:>12} {:>8} {:>6} {:>6}",
            "service",
            "channel",
            "offered",
            "answered",
            "abandoned",
            "open",
            "SL",
            "ASA",
            "AHT",
            "agent h",
            "FCR",
            "breach"
        )?;
        for q in self.queues.iter().chain(std::iter::once(&self.total)) {
            writeln!(
                f,
                "{:<24} {:<13} {:>8} {:>8} {:>9} {:>5} {:>6.1}% {:>12} {:>12} {:>8.1} {:>5.1}% {:>6}",
                q.service.as_deref().unwrap_or("total"),
                q.channel.as_deref().unwrap_or(""),
                q.offered,
                q.answered,
                q.abandoned,
                q.open_at_end,
                q.service_level * 100.0,
                duration_text(q.asa_seconds),
                duration_text(q.aht_seconds),
                q.agent_hours,
                q.first_contact_resolution * 100.0,
                q.due_breaches
            )?;
        }
        writeln!(f)?;
        let open: Vec<String> = self
            .queues
            .iter()
            .filter(|q| q.open_at_end > 0)
            .map(|q| {
                format!(
                    "{} {} {}",
                    q.service.as_deref().unwrap_or(""),
                    q.channel.as_deref().unwrap_or(""),
                    q.open_at_end
                )
            })
            .collect();
        writeln!(
            f,
            "Open at the end: {} of the {} contacts offered were still waiting or in hand{}.",
            self.total.open_at_end,
            self.total.offered,
            if open.is_empty() {
                String::new()
            } else {
                format!(" ({})", open.join(", "))
            }
        )?;
        writeln!(
            f,
            "Occupancy (staffed time holding a contact or in wrap-up): {:.1}% overall.",
            self.total.occupancy.unwrap_or(0.0) * 100.0
        )?;
        if !self.sites.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "{:<24} {:>6} {:>10} {:>10} {:>9}",
                "site", "agents", "staffed h", "busy h", "occupancy"
            )?;
            for site in &self.sites {
                writeln!(
                    f,
                    "{:<24} {:>6} {:>10.1} {:>10.1} {:>8.1}%",
                    site.site,
                    site.agents,
                    site.staffed_hours,
                    site.busy_hours,
                    site.occupancy * 100.0
                )?;
            }
        }
        Ok(())
    }
}
