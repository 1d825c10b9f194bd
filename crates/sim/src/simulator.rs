//! The discrete-event simulator: a queue of future happenings in virtual time, merged with the
//! real core's `poll_timeout`, reacting to the core's events.
//!
//! Each turn takes whichever comes first: the core's next deadline (`handle_timeout`) or the
//! next happening (an arrival, a desktop answering an offer, an agent finishing a contact, a
//! customer's patience running out, a shift or a break starting or ending), which becomes a
//! command. The events the core decides are folded into the figures, handed to the observer
//! (which may write them to a log), and reacted to: an offer is answered after a think time, an
//! accepted contact is finished after its handle time, a leaving agent logs out once free.
//!
//! Randomness is seeded: each arrival stream has its own ChaCha stream (so arrivals, handle
//! times and patience are the same under any routing configuration: common random numbers for
//! what-if comparisons), and the desktops' behaviour has another. The same seed gives the same
//! commands at the same instants, so the same events, byte for byte.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::{FxHashMap, FxHashSet};
use switchboard_core::{
    AgentId, AgentLogin, Channel, Command, ContactId, Event, EventKind, Level, NewContact, OfferId,
    Outcome as ContactOutcome, PerChannel, Priority, Router, RoutingConfig, ServiceId,
    SkillRequirement, Tier, Timestamp,
};

use crate::error::SimError;
use crate::figures::{
    AgentFigures, Collector, ComplaintFigures, Figures, IntervalFigures, Intervals, Sample,
};
use crate::scenario::{self, ArrivalStream, Scenario};

const DAY_MS: u64 = 86_400_000;
const HOUR_MS: f64 = 3_600_000.0;
/// Events handed to the observer at once.
const OBSERVER_BATCH: usize = 4096;
/// How long an agent sent not ready for missed offers takes to come back.
const RETURN_AFTER_MISSED: Duration = Duration::from_secs(60);

/// Sees the run as it goes: every event in order, and progress.
pub trait Observer {
    /// A batch of events, in the order the core decided them.
    ///
    /// # Errors
    /// Whatever stops the run (a log that cannot be written).
    fn events(&mut self, events: &[Event]) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// Virtual time simulated so far, of the total.
    fn progress(&mut self, done: Duration, total: Duration) {
        let _ = (done, total);
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn events(&mut self, _: &[Event]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct SimulationRun {
    /// The figures, in total and per queue.
    pub figures: Figures,
    /// The state of the centre at the end of each report interval.
    pub samples: Vec<Sample>,
    /// The figures of each report interval.
    pub intervals: Vec<IntervalFigures>,
    /// Each agent's figures.
    pub agents: Vec<AgentFigures>,
    /// The complaint table.
    pub complaints: Vec<ComplaintFigures>,
    /// The report interval, in seconds.
    pub sample_secs: u64,
    /// Events the core decided.
    pub events: u64,
    /// Contacts that arrived.
    pub contacts: u64,
    /// The first instant of the run.
    pub start: Timestamp,
    /// The last instant of the run.
    pub end: Timestamp,
    /// Commands the core refused, by rejection code. The simulated desktops answer only offers
    /// still open and finish only contacts in hand, so any refusal points at a problem (in the
    /// scenario, its routing configuration or the core).
    pub refused: BTreeMap<&'static str, u64>,
    /// The seed of the run's random draws.
    pub seed: u64,
}

/// What the agent does when a handling ends.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Complete(ContactOutcome),
    Escalate,
    Transfer(ServiceId),
}

/// Everything about a contact fixed when it arrives: its details, patience and handlings.
#[derive(Debug, Clone)]
pub(crate) struct ContactPlan {
    pub(crate) arrive_at: Timestamp,
    pub(crate) details: NewContact,
    pub(crate) patience: Option<Duration>,
    /// Each handling's duration and what happens at its end, in order; never empty.
    pub(crate) handlings: Vec<(Duration, Action)>,
}

/// An agent as the simulator drives them.
#[derive(Debug, Clone)]
pub(crate) struct AgentPlan {
    pub(crate) login: AgentLogin,
    pub(crate) think_secs: f64,
    pub(crate) reject_share: f64,
    pub(crate) miss_share: f64,
}

/// A change of an agent's presence, from the rota or a recorded log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PresenceChange {
    Login,
    Ready,
    NotReady(Arc<str>),
    /// Stop taking work; log out once no live work is in hand.
    Leave,
}

/// The work and the people of a run, however they were made.
#[derive(Debug)]
pub(crate) struct Workload {
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    pub(crate) measure_from: Timestamp,
    pub(crate) sample_ms: u64,
    pub(crate) streams: Vec<GeneratedStream>,
    pub(crate) scripted: Vec<ContactPlan>,
    pub(crate) agents: Vec<AgentPlan>,
    pub(crate) presence: Vec<(Timestamp, usize, PresenceChange)>,
}

/// A Poisson stream of contacts from a scenario.
#[derive(Debug)]
pub(crate) struct GeneratedStream {
    spec: ArrivalStream,
    service: ServiceId,
    channel: Channel,
    open_ms: u64,
    close_ms: u64,
    days: u64,
    rng: ChaCha8Rng,
    /// Milliseconds since the start of the run of the last arrival, exactly.
    clock_ms: f64,
}

impl Workload {
    /// The workload a scenario describes, with randomness from `seed`.
    pub(crate) fn from_scenario(s: &Scenario, seed: u64) -> Result<Self, SimError> {
        s.validate()?;
        let start = Timestamp::from_millis(scenario::start_day(&s.start_date)? * DAY_MS);
        let days = u64::from(s.days);
        let minute = |text: &str| scenario::minute_of_day(text).map(|m| u64::from(m) * 60_000);
        let mut streams = Vec::with_capacity(s.arrivals.len());
        let mut first_open = u64::MAX;
        for (i, spec) in s.arrivals.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(1 + i as u64);
            let open_ms = minute(&spec.from)?;
            first_open = first_open.min(open_ms);
            streams.push(GeneratedStream {
                spec: spec.clone(),
                service: spec.service.as_str().into(),
                channel: scenario::channel(&spec.channel).map_err(SimError::Invalid)?,
                open_ms,
                close_ms: minute(&spec.to)?,
                days,
                rng,
                clock_ms: 0.0,
            });
        }
        let mut agents = Vec::new();
        let mut presence = Vec::new();
        for group in &s.agents {
            let width = group.count.to_string().len().max(2);
            let (from, to) = (minute(&group.shift.from)?, minute(&group.shift.to)?);
            let capacity = group
                .channels
                .as_ref()
                .map(|c| -> Result<PerChannel<u8>, SimError> {
                    let mut capacity = PerChannel::splat(0);
                    for (name, n) in c {
                        capacity.set(scenario::channel(name).map_err(SimError::Invalid)?, *n);
                    }
                    Ok(capacity)
                })
                .transpose()?;
            for n in 0..group.count {
                let index = agents.len();
                agents.push(AgentPlan {
                    login: AgentLogin {
                        agent: format!("{}-{:0width$}", group.name, n + 1).into(),
                        name: format!("{} {}", group.name, n + 1).into(),
                        tier: Tier::new(group.tier).unwrap_or(Tier::FIRST),
                        site: group.site.as_str().into(),
                        skills: group
                            .skills
                            .iter()
                            .map(|(k, v)| (k.as_str().into(), Level::new(*v).unwrap_or(Level::MIN)))
                            .collect(),
                        channels: capacity,
                    },
                    think_secs: group.think_secs,
                    reject_share: group.reject_share,
                    miss_share: group.miss_share,
                });
                for day in 0..days {
                    let day_start = start + Duration::from_millis(day * DAY_MS);
                    let at = |ms: u64| day_start + Duration::from_millis(ms);
                    presence.push((at(from), index, PresenceChange::Login));
                    presence.push((at(from), index, PresenceChange::Ready));
                    for b in &group.breaks {
                        let stagger = u64::from(b.stagger_minutes) * 60_000 * u64::from(n)
                            / u64::from(group.count.max(1));
                        let went = minute(&b.at)? + stagger;
                        let back = went + u64::from(b.minutes) * 60_000;
                        presence.push((at(went), index, PresenceChange::NotReady("break".into())));
                        presence.push((at(back), index, PresenceChange::Ready));
                    }
                    presence.push((at(to), index, PresenceChange::Leave));
                }
            }
        }
        let first_open = if first_open == u64::MAX {
            0
        } else {
            first_open
        };
        Ok(Self {
            start,
            end: start + Duration::from_millis(days * DAY_MS),
            measure_from: start
                + Duration::from_millis(first_open + u64::from(s.warmup_minutes) * 60_000),
            sample_ms: u64::from(s.sample_minutes) * 60_000,
            streams,
            scripted: Vec::new(),
            agents,
            presence,
        })
    }
}

impl GeneratedStream {
    /// The next arrival after the last, in milliseconds since the start of the run: a Poisson
    /// process with a rate that is constant within each hour of the window (memoryless, so a
    /// draw that crosses an hour boundary is redrawn from the boundary at the new rate).
    fn next_arrival_ms(&mut self) -> Option<u64> {
        let mut t = self.clock_ms;
        loop {
            let day = (t / DAY_MS as f64).floor();
            if day >= self.days as f64 {
                return None;
            }
            let open = day * DAY_MS as f64 + self.open_ms as f64;
            let close = day * DAY_MS as f64 + self.close_ms as f64;
            if t < open {
                t = open;
            }
            if t >= close {
                t = (day + 1.0) * DAY_MS as f64;
                continue;
            }
            let hour = ((t - open) / HOUR_MS).floor();
            let segment_end = (open + (hour + 1.0) * HOUR_MS).min(close);
            #[expect(
                clippy::cast_possible_truncation,
                reason = "an hour index within a day"
            )]
            let factor = self.spec.profile.get(hour as usize).copied().unwrap_or(1.0);
            let rate_per_ms = self.spec.per_hour * factor / HOUR_MS;
            if rate_per_ms <= 0.0 {
                t = segment_end;
                continue;
            }
            let u: f64 = self.rng.random();
            let gap = -(1.0 - u).ln() / rate_per_ms;
            if t + gap < segment_end {
                self.clock_ms = t + gap;
                #[expect(clippy::cast_possible_truncation, reason = "non-negative, within days")]
                return Some((t + gap) as u64);
            }
            t = segment_end;
        }
    }

    /// The contact arriving at `at`, with everything about it drawn now.
    fn contact(&mut self, id: &ContactId, at: Timestamp, top_tier_escalation: bool) -> ContactPlan {
        let spec = &self.spec;
        let rng = &mut self.rng;
        let mut uniform = || -> f64 { rng.random() };
        let mut details = NewContact::routine(id.as_str(), self.channel, self.service.as_str());
        details.skills = spec
            .skills
            .iter()
            .map(|(k, v)| SkillRequirement {
                skill: k.as_str().into(),
                min_level: Level::new(*v).unwrap_or(Level::MIN),
            })
            .collect();
        details.priority = Priority::new(spec.priority).unwrap_or(Priority::ROUTINE);
        if !spec.sites.is_empty() {
            #[expect(clippy::cast_possible_truncation, reason = "an index below the length")]
            let i = ((uniform() * spec.sites.len() as f64) as usize).min(spec.sites.len() - 1);
            details.site = Some(spec.sites[i].as_str().into());
        }
        let language_draw = uniform();
        let mut acc = 0.0;
        for (language, share) in &spec.languages {
            acc += share;
            if language_draw < acc {
                details.language = Some(language.as_str().into());
                break;
            }
        }
        details.vulnerable = uniform() < spec.vulnerable_share;
        details.safeguarding = uniform() < spec.safeguarding_share;
        details.due_at = spec
            .due_after_hours
            .map(|h| at + Duration::from_secs_f64(h * 3600.0));
        details.complaint_stage = spec
            .complaint_stage
            .as_deref()
            .and_then(|s| scenario::complaint_stage(s).ok());
        let patience = spec
            .patience
            .map(|p| Duration::from_secs_f64(p.sample_secs(uniform(), uniform()).max(0.0)));
        let (escalate, transfer, resolved) = (uniform(), uniform(), uniform());
        let mut handle =
            || Duration::from_secs_f64(spec.handle.sample_secs(uniform(), uniform()).max(0.0));
        let mut handlings = Vec::with_capacity(3);
        if escalate < spec.escalate_share && top_tier_escalation {
            handlings.push((handle(), Action::Escalate));
        }
        if transfer < spec.transfer_share
            && let Some(to) = &spec.transfer_to
        {
            handlings.push((handle(), Action::Transfer(to.as_str().into())));
        }
        let outcome = if resolved < spec.resolve_share {
            ContactOutcome::Resolved
        } else {
            ContactOutcome::Referred
        };
        handlings.push((handle(), Action::Complete(outcome)));
        ContactPlan {
            arrive_at: at,
            details,
            patience,
            handlings,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Happening {
    Arrival(usize),
    Scripted(usize),
    Presence(usize, PresenceChange),
    TryLogout(usize),
    Answer {
        agent: usize,
        offer: OfferId,
        accept: bool,
    },
    Finish {
        agent: usize,
        contact: ContactId,
        offer: OfferId,
    },
    /// The customer's patience runs out in the contact's `wait`-th spell in the queue.
    Abandon {
        contact: ContactId,
        wait: u32,
    },
    Return(usize),
}

#[derive(Debug)]
struct Scheduled {
    at: Timestamp,
    seq: u64,
    what: Happening,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Debug)]
struct LiveContact {
    plan: Box<ContactPlan>,
    stage: usize,
    /// The offer accepted for the handling in progress; `None` while the contact waits.
    offer: Option<OfferId>,
    /// How many times the contact went back to the queue (escalated, transferred, requeued):
    /// each spell in the queue runs the customer's patience anew.
    wait: u32,
}

#[derive(Debug, Default, Clone)]
struct AgentRuntime {
    logged_in: bool,
    leaving: bool,
    on_break: bool,
}

struct Simulation<'a> {
    workload: Workload,
    router: Router,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    desk_rng: ChaCha8Rng,
    agents: Vec<AgentRuntime>,
    agent_index: FxHashMap<AgentId, usize>,
    contacts: FxHashMap<ContactId, LiveContact>,
    /// Offers a desktop means to answer and has not been told are gone: made, not yet answered,
    /// expired or revoked. A desktop told that its offer expired or was withdrawn drops it, as a
    /// real one does on the offer notice, so the simulated desktops cause no stale answers.
    offers_in_hand: FxHashSet<OfferId>,
    collector: Collector,
    observer: &'a mut dyn Observer,
    out: Vec<Event>,
    buffer: Vec<Event>,
    events: u64,
    arrived: u64,
    refused: BTreeMap<&'static str, u64>,
    top_tier: u8,
    seed: u64,
}

/// Simulates a scenario through the real routing core under `config`, seeded by `seed`.
///
/// # Errors
/// The scenario or the configuration is invalid, or the observer failed.
pub fn simulate(
    scenario: &Scenario,
    config: RoutingConfig,
    seed: u64,
    observer: &mut dyn Observer,
) -> Result<SimulationRun, SimError> {
    let workload = Workload::from_scenario(scenario, seed)?;
    run(workload, config, seed, observer)
}

pub(crate) fn run(
    workload: Workload,
    config: RoutingConfig,
    seed: u64,
    observer: &mut dyn Observer,
) -> Result<SimulationRun, SimError> {
    let router = Router::new(config).map_err(SimError::Config)?;
    let mut desk_rng = ChaCha8Rng::seed_from_u64(seed);
    desk_rng.set_stream(0);
    let top_tier = workload
        .agents
        .iter()
        .map(|a| a.login.tier.get())
        .max()
        .unwrap_or(1);
    let agent_index = workload
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.login.agent.clone(), i))
        .collect();
    let mut collector = Collector::new(
        Intervals::uniform(
            workload.start,
            workload.end,
            Duration::from_millis(workload.sample_ms),
        ),
        workload.measure_from,
    );
    collector.set_service_level_targets(router.config());
    let mut sim = Simulation {
        agents: vec![AgentRuntime::default(); workload.agents.len()],
        workload,
        router,
        queue: BinaryHeap::new(),
        seq: 0,
        desk_rng,
        agent_index,
        contacts: FxHashMap::default(),
        offers_in_hand: FxHashSet::default(),
        collector,
        observer,
        out: Vec::with_capacity(OBSERVER_BATCH),
        buffer: Vec::new(),
        events: 0,
        arrived: 0,
        refused: BTreeMap::new(),
        top_tier,
        seed,
    };
    sim.prime();
    sim.run()
}

impl Simulation<'_> {
    fn schedule(&mut self, at: Timestamp, what: Happening) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            what,
        }));
    }

    fn prime(&mut self) {
        let presence = std::mem::take(&mut self.workload.presence);
        for (at, agent, change) in presence {
            self.schedule(at, Happening::Presence(agent, change));
        }
        for i in 0..self.workload.scripted.len() {
            let at = self.workload.scripted[i].arrive_at;
            self.schedule(at, Happening::Scripted(i));
        }
        for i in 0..self.workload.streams.len() {
            self.schedule_next_arrival(i);
        }
    }

    fn schedule_next_arrival(&mut self, stream: usize) {
        if let Some(ms) = self.workload.streams[stream].next_arrival_ms() {
            let at = self.workload.start + Duration::from_millis(ms);
            self.schedule(at, Happening::Arrival(stream));
        }
    }

    fn run(mut self) -> Result<SimulationRun, SimError> {
        let total = self.workload.end - self.workload.start;
        let mut turns = 0_u64;
        loop {
            let next_happening = self.queue.peek().map(|s| s.0.at);
            let next_timeout = self.router.poll_timeout();
            let (now, timeout) = match (next_happening, next_timeout) {
                (None, None) => break,
                (Some(h), None) => (h, false),
                (None, Some(t)) => (t, true),
                (Some(h), Some(t)) => {
                    if t <= h {
                        (t, true)
                    } else {
                        (h, false)
                    }
                }
            };
            if now > self.workload.end {
                break;
            }
            if timeout {
                self.router.handle_timeout(now);
            } else if let Some(Reverse(next)) = self.queue.pop() {
                self.happen(next.what, now);
            }
            self.pump(now)?;
            turns += 1;
            if turns.is_multiple_of(1 << 14) {
                self.observer.progress(now - self.workload.start, total);
            }
        }
        self.flush()?;
        self.observer.progress(total, total);
        let end = self.workload.end;
        let measured = self.collector.finish();
        Ok(SimulationRun {
            figures: measured.figures,
            samples: measured.samples,
            intervals: measured.intervals,
            agents: measured.agents,
            complaints: measured.complaints,
            sample_secs: self.workload.sample_ms / 1000,
            events: self.events,
            contacts: self.arrived,
            start: self.workload.start,
            end,
            refused: self.refused,
            seed: self.seed,
        })
    }

    fn flush(&mut self) -> Result<(), SimError> {
        if !self.out.is_empty() {
            self.observer
                .events(&self.out)
                .map_err(SimError::Observer)?;
            self.out.clear();
        }
        Ok(())
    }

    fn command(&mut self, command: Command, now: Timestamp) -> bool {
        match self.router.handle_command(command, now) {
            Ok(_) => true,
            Err(rejection) => {
                *self.refused.entry(rejection.code.as_str()).or_default() += 1;
                false
            }
        }
    }

    fn agent_id(&self, agent: usize) -> AgentId {
        self.workload.agents[agent].login.agent.clone()
    }

    fn happen(&mut self, what: Happening, now: Timestamp) {
        match what {
            Happening::Arrival(stream) => {
                self.arrived += 1;
                let id: ContactId = format!("c{:07}", self.arrived).into();
                let top = self.top_tier > 1;
                let plan = self.workload.streams[stream].contact(&id, now, top);
                self.schedule_next_arrival(stream);
                self.arrive(plan, now);
            }
            Happening::Scripted(i) => {
                self.arrived += 1;
                let plan = self.workload.scripted[i].clone();
                self.arrive(plan, now);
            }
            Happening::Presence(agent, change) => self.presence(agent, change, now),
            Happening::TryLogout(agent) => self.try_logout(agent, now),
            Happening::Answer {
                agent,
                offer,
                accept,
            } => {
                if !self.offers_in_hand.remove(&offer) {
                    return; // the desktop was told the offer expired or was withdrawn
                }
                let agent = self.agent_id(agent);
                let command = if accept {
                    Command::AcceptOffer { agent, offer }
                } else {
                    Command::RejectOffer {
                        agent,
                        offer,
                        reason: Some("busy_elsewhere".into()),
                    }
                };
                self.command(command, now);
            }
            Happening::Finish {
                agent,
                contact,
                offer,
            } => self.finish(agent, &contact, offer, now),
            Happening::Abandon { contact, wait } => {
                if self
                    .contacts
                    .get(&contact)
                    .is_some_and(|c| c.wait == wait && c.offer.is_none())
                {
                    self.command(Command::AbandonContact { contact }, now);
                }
            }
            Happening::Return(agent) => {
                let a = &self.agents[agent];
                if a.logged_in && !a.leaving && !a.on_break {
                    let agent = self.agent_id(agent);
                    self.command(Command::MakeReady { agent }, now);
                }
            }
        }
    }

    fn arrive(&mut self, plan: ContactPlan, now: Timestamp) {
        let id = plan.details.id.clone();
        let patience = plan.patience;
        let details = plan.details.clone();
        self.contacts.insert(
            id.clone(),
            LiveContact {
                plan: Box::new(plan),
                stage: 0,
                offer: None,
                wait: 0,
            },
        );
        if self.command(Command::CreateContact(Box::new(details)), now) {
            if let Some(patience) = patience {
                self.schedule(
                    now + patience,
                    Happening::Abandon {
                        contact: id,
                        wait: 0,
                    },
                );
            }
        } else {
            self.contacts.remove(&id);
        }
    }

    fn presence(&mut self, agent: usize, change: PresenceChange, now: Timestamp) {
        let id = self.agent_id(agent);
        let state = self.agents[agent].clone();
        match change {
            PresenceChange::Login => {
                if state.logged_in && state.leaving {
                    // The next shift starts before the last one's work is finished: stay on.
                    self.agents[agent].leaving = false;
                    self.command(Command::MakeReady { agent: id }, now);
                } else if !state.logged_in {
                    let login = self.workload.agents[agent].login.clone();
                    if self.command(Command::LoginAgent(Box::new(login)), now) {
                        self.agents[agent] = AgentRuntime {
                            logged_in: true,
                            ..AgentRuntime::default()
                        };
                    }
                }
            }
            PresenceChange::Ready => {
                if state.logged_in && !state.leaving {
                    self.agents[agent].on_break = false;
                    self.command(Command::MakeReady { agent: id }, now);
                }
            }
            PresenceChange::NotReady(reason) => {
                if state.logged_in && !state.leaving {
                    self.agents[agent].on_break = true;
                    self.command(Command::MakeNotReady { agent: id, reason }, now);
                }
            }
            PresenceChange::Leave => {
                if state.logged_in {
                    self.agents[agent].leaving = true;
                    let not_ready = self.router.state().agent(&id).is_some_and(|a| {
                        matches!(a.presence, switchboard_core::Presence::NotReady { .. })
                    });
                    if !not_ready {
                        self.command(
                            Command::MakeNotReady {
                                agent: id,
                                reason: "end_of_shift".into(),
                            },
                            now,
                        );
                    }
                    self.try_logout(agent, now);
                }
            }
        }
    }

    fn try_logout(&mut self, agent: usize, now: Timestamp) {
        let state = &self.agents[agent];
        if !(state.logged_in && state.leaving) {
            return;
        }
        let id = self.agent_id(agent);
        let busy = self
            .router
            .state()
            .agent(&id)
            .is_some_and(switchboard_core::state::Agent::holds_live_work);
        if !busy {
            self.command(
                Command::LogoutAgent {
                    agent: id,
                    force: false,
                },
                now,
            );
        }
    }

    fn finish(&mut self, agent: usize, contact: &ContactId, offer: OfferId, now: Timestamp) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        if live.offer != Some(offer) {
            return; // stale: the contact went back to the queue since
        }
        let last = live.plan.handlings.len() - 1;
        let action = live.plan.handlings[live.stage.min(last)].1.clone();
        live.stage += 1;
        live.offer = None;
        let agent_id = self.agent_id(agent);
        let agent_tier = self.workload.agents[agent].login.tier.get();
        let complete = |outcome| Command::CompleteContact {
            agent: agent_id.clone(),
            contact: contact.clone(),
            outcome,
        };
        let command = match action {
            Action::Complete(outcome) => complete(outcome),
            Action::Escalate if agent_tier < self.top_tier => Command::EscalateContact {
                agent: agent_id.clone(),
                contact: contact.clone(),
                reason: "beyond_tier".into(),
                to_tier: None,
            },
            Action::Escalate => complete(ContactOutcome::Referred),
            Action::Transfer(service) => Command::TransferContact {
                agent: agent_id.clone(),
                contact: contact.clone(),
                service,
                skills: Vec::new(),
            },
        };
        if !self.command(command, now) {
            self.command(complete(ContactOutcome::Referred), now);
        }
    }

    /// Takes the core's new events: figures, observer, reactions. Reactions may issue commands,
    /// whose events are taken in turn.
    fn pump(&mut self, now: Timestamp) -> Result<(), SimError> {
        loop {
            self.buffer.extend(self.router.drain_events());
            if self.buffer.is_empty() {
                return Ok(());
            }
            let batch = std::mem::take(&mut self.buffer);
            for event in &batch {
                self.events += 1;
                self.collector.observe(event);
                self.react(event, now);
            }
            self.out.extend_from_slice(&batch);
            self.buffer = batch;
            self.buffer.clear();
            if self.out.len() >= OBSERVER_BATCH {
                self.flush()?;
            }
        }
    }

    fn react(&mut self, event: &Event, now: Timestamp) {
        match &event.kind {
            EventKind::OfferMade(offer) => {
                if self.router.config().channels.get(offer.channel).auto_accept {
                    return;
                }
                let Some(&agent) = self.agent_index.get(&offer.agent) else {
                    return;
                };
                let plan = &self.workload.agents[agent];
                let (miss, reject, think) = (plan.miss_share, plan.reject_share, plan.think_secs);
                let u: f64 = self.desk_rng.random();
                if u < miss {
                    return; // away from the desk: the offer expires
                }
                let accept = self.desk_rng.random::<f64>() >= reject;
                let v: f64 = self.desk_rng.random();
                let wait = Duration::from_secs_f64(-think * (1.0 - v).ln());
                self.offers_in_hand.insert(offer.offer);
                self.schedule(
                    now + wait,
                    Happening::Answer {
                        agent,
                        offer: offer.offer,
                        accept,
                    },
                );
            }
            EventKind::OfferAccepted {
                offer,
                contact,
                agent,
                ..
            } => {
                let Some(&agent) = self.agent_index.get(agent) else {
                    return;
                };
                let Some(live) = self.contacts.get_mut(contact) else {
                    return;
                };
                live.offer = Some(*offer);
                let last = live.plan.handlings.len() - 1;
                let handle = live.plan.handlings[live.stage.min(last)].0;
                let what = Happening::Finish {
                    agent,
                    contact: contact.clone(),
                    offer: *offer,
                };
                self.schedule(now + handle, what);
            }
            EventKind::OfferExpired { offer, .. } | EventKind::OfferRevoked { offer, .. } => {
                self.offers_in_hand.remove(offer);
            }
            EventKind::ContactRequeued { contact, .. } => self.back_in_queue(contact, now),
            EventKind::ContactCompleted { contact, agent, .. } => {
                self.contacts.remove(contact);
                self.after_release(agent, now);
            }
            EventKind::ContactEscalated { agent, contact, .. }
            | EventKind::ContactTransferred { agent, contact, .. } => {
                self.back_in_queue(contact, now);
                self.after_release(agent, now);
            }
            EventKind::ContactAbandoned { contact, .. } => {
                self.contacts.remove(contact);
            }
            EventKind::AgentNotReady { agent, reason } if &**reason == "missed_offers" => {
                if let Some(&agent) = self.agent_index.get(agent) {
                    self.schedule(now + RETURN_AFTER_MISSED, Happening::Return(agent));
                }
            }
            EventKind::AgentLoggedOut { agent } => {
                if let Some(&agent) = self.agent_index.get(agent) {
                    self.agents[agent] = AgentRuntime::default();
                }
            }
            _ => {}
        }
    }

    /// A contact went back to the queue: a customer on the line waits again, for as long as
    /// their patience (the same draw as on arrival, so runs stay comparable), and hangs up
    /// unless answered first; without this a call escalated at closing time waited all night.
    fn back_in_queue(&mut self, contact: &ContactId, now: Timestamp) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        live.offer = None;
        live.wait += 1;
        if let Some(patience) = live.plan.patience {
            let wait = live.wait;
            self.schedule(
                now + patience,
                Happening::Abandon {
                    contact: contact.clone(),
                    wait,
                },
            );
        }
    }

    fn after_release(&mut self, agent: &AgentId, now: Timestamp) {
        if let Some(&agent) = self.agent_index.get(agent)
            && self.agents[agent].leaving
        {
            self.schedule(now, Happening::TryLogout(agent));
        }
    }
}
