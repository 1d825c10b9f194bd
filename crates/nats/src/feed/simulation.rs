//! A deterministic fault simulation of the events feed: a seeded run drives the real
//! [`EventsFeed`] against a simulated JetStream stream (ordered storage, dedupe by message id
//! within a window, the expected-last-sequence check, a server restart that forgets the
//! duplicate window's old ids, unavailability), a simulated network (delays, lost publishes, acknowledgements that
//! fail, get lost, come late or out of order, publishes delivered twice) and a simulated log,
//! and crashes and restarts the engine at any step.
//!
//! After every step the stream must be a prefix of the log, in order, with no duplicate; once
//! the faults stop, it must equal the log. A failure names its seed; `SWITCHBOARD_SEED=<n>`
//! replays one seed and `SWITCHBOARD_SEEDS=<n>` runs `n` seeds (300 by default):
//!
//! ```text
//! SWITCHBOARD_SEEDS=5000 cargo test --release -p switchboard-nats --lib feed::simulation
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_core::event::{Event, EventKind};
use switchboard_core::ids::AgentId;
use switchboard_core::time::Timestamp;
use switchboard_wire::Subjects;

use super::{Ack, EventsFeed, Publish, StreamTail, Transmit};

/// Seeds run by default (CI).
const SEEDS_DEFAULT: u64 = 300;

/// Steps with faults, new events and crashes.
const STEPS_FAULTY: u32 = 1_000;

/// Bound on the steps after the faults stop, for the feed to catch up.
const STEPS_QUIET_MAX: u32 = 20_000;

/// The stream's duplicate window, short so that runs outlive it.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(2);

/// The most transmits taken from the feed in one step.
const TRANSMITS_PER_STEP_MAX: usize = 64;

/// Which rules the feed follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rules {
    /// [`EventsFeed`] as shipped.
    Ordered,
    /// The publisher's rules before it (see `Legacy`).
    Legacy,
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Violation {
    /// The stream holds an event before one that precedes it in the log.
    OutOfOrder { step: u32, detail: String },
    /// The stream holds an event twice.
    Duplicate { step: u32, seq: u64 },
    /// Once the faults stopped, the stream still lacks an event of the log.
    Missing { seq: u64 },
    /// The stream holds an event the log does not have.
    Invented { step: u32, seq: u64 },
    /// The feed did not catch up within the bound after the faults stopped.
    NotConverged { stored: usize, logged: u64 },
}

/// One message stored in the simulated stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stored {
    /// Its `Switchboard-Seq`.
    pub(crate) seq: u64,
}

/// A JetStream stream, as far as the feed can tell (the node's simulation uses it too).
#[derive(Debug, Default)]
pub(crate) struct SimStream {
    pub(crate) messages: Vec<Stored>,
    /// Message ids and when they were stored, for the duplicate window.
    ids: HashMap<u64, Duration>,
    /// The last message's stream sequence (never forgotten: it is in the store).
    last_sequence: u64,
    /// Refuses everything until then.
    pub(crate) unavailable_until: Duration,
}

impl SimStream {
    pub(crate) fn publish(&mut self, now: Duration, publish: &Publish) -> Ack {
        if now < self.unavailable_until {
            return Ack::Failed;
        }
        // As nats-server does: the sequence first, then the duplicate window.
        if let Some(expected) = publish.expected_last_sequence
            && self.last_sequence != expected
        {
            return Ack::WrongLast;
        }
        if self
            .ids
            .get(&publish.seq)
            .is_some_and(|&at| now.saturating_sub(at) <= DUPLICATE_WINDOW)
        {
            return Ack::Duplicate;
        }
        self.messages.push(Stored { seq: publish.seq });
        self.ids.insert(publish.seq, now);
        self.last_sequence += 1;
        Ack::Stored
    }

    /// nats-server restarts: it rebuilds its message ids from the messages inside the duplicate
    /// window, and forgets older ones (its stream sequence is in the store and stays).
    pub(crate) fn restart(&mut self, now: Duration) {
        self.ids
            .retain(|_, at| now.saturating_sub(*at) <= DUPLICATE_WINDOW);
    }

    pub(crate) fn tail(&self, now: Duration) -> Option<StreamTail> {
        if now < self.unavailable_until {
            return None;
        }
        Some(
            self.messages
                .last()
                .map_or(StreamTail::Empty, |m| StreamTail::Event {
                    event: m.seq,
                    stream_seq: self.last_sequence,
                }),
        )
    }
}

/// An answer on its way to the feed.
#[derive(Debug)]
enum Answer {
    Ack { seq: u64, epoch: u64, ack: Ack },
    LogRead { from: u64, to: u64, fails: bool },
    Tail,
}

/// A publish on its way to the server.
#[derive(Debug)]
struct Outbound {
    arrive: Duration,
    publish: Publish,
    /// The engine run that sent it.
    run: u32,
}

/// The whole simulated world around one feed.
struct World {
    rng: ChaCha8Rng,
    rules: Rules,
    now: Duration,
    /// The durable log's events (index + 1 is the sequence number).
    log: Vec<Event>,
    stream: SimStream,
    feed: EventsFeed,
    /// The engine run: bumped at each crash, so answers for a dead run are dropped.
    run: u32,
    to_server: VecDeque<Outbound>,
    to_feed: Vec<(Duration, u32, Answer)>,
    faults: bool,
    /// How many stored messages the invariants have been checked on.
    checked: usize,
    /// The events among those.
    seen: HashSet<u64>,
}

/// An event numbered `seq` (what it says does not matter to the feed).
pub(crate) fn event(seq: u64) -> Event {
    Event {
        at: Timestamp::from_millis(seq),
        kind: EventKind::AgentLoggedOut {
            agent: AgentId::new("sim"),
        },
    }
}

fn new_feed(rules: Rules, durable: u64) -> EventsFeed {
    let subjects = Subjects::new("sim").expect("a valid prefix");
    match rules {
        Rules::Ordered => EventsFeed::new(subjects, durable),
        Rules::Legacy => EventsFeed::new_legacy(subjects, durable),
    }
}

impl World {
    fn new(seed: u64, rules: Rules) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            rules,
            now: Duration::ZERO,
            log: Vec::new(),
            stream: SimStream::default(),
            feed: new_feed(rules, 0),
            run: 0,
            to_server: VecDeque::new(),
            to_feed: Vec::new(),
            faults: true,
            checked: 0,
            seen: HashSet::new(),
        }
    }

    fn instant(&self) -> Timestamp {
        Timestamp::from_millis(self.now.as_millis().try_into().unwrap_or(u64::MAX))
    }

    fn chance(&mut self, p: f64) -> bool {
        self.faults && self.rng.random_bool(p)
    }

    fn millis(&mut self, range: std::ops::Range<u64>) -> Duration {
        Duration::from_millis(self.rng.random_range(range))
    }

    /// One step of the world; the caller checks the invariants after it.
    fn step(&mut self) {
        let pause = self.millis(0..20);
        self.now += pause;
        self.inject_faults();
        if self.faults && self.rng.random_bool(0.3) {
            self.append_events();
        }
        self.deliver_to_server();
        self.deliver_to_feed();
        let now = self.instant();
        if self.feed.poll_timeout().is_some_and(|at| at <= now) {
            self.feed.handle_timeout(now);
        }
        self.drain_transmits();
    }

    fn inject_faults(&mut self) {
        if self.chance(0.002) {
            // The engine crashes and restarts: what it had in memory is gone, what it sent may
            // still arrive, what was coming back to it is lost.
            self.run += 1;
            self.feed = new_feed(self.rules, self.log.len() as u64);
        }
        if self.chance(0.004) {
            let outage = self.millis(100..3_000);
            self.stream.unavailable_until = self.now + outage;
        }
        if self.chance(0.001) {
            // nats-server restarts: what was on the wire is lost; its publishers hear of it as
            // a timeout, or not at all.
            self.stream.restart(self.now);
            let lost: Vec<Outbound> = self.to_server.drain(..).collect();
            for outbound in lost {
                if self.rng.random_bool(0.5) {
                    let at = self.now + self.millis(1_000..5_000);
                    self.answer_ack(at, outbound.run, &outbound.publish, Ack::Failed);
                }
            }
        }
    }

    /// The engine makes a turn's events durable and hands them to the feed, unless its channel
    /// is full.
    fn append_events(&mut self) {
        let count = self.rng.random_range(1..8_u64);
        let first = self.log.len() as u64 + 1;
        let events: Vec<Event> = (first..first + count).map(event).collect();
        self.log.extend(events.iter().cloned());
        if self.chance(0.05) {
            // Left in the log; the shell says only how far the log is durable.
            self.feed.handle_durable_point(first + count - 1);
        } else {
            self.feed.handle_durable(first, Arc::new(events));
        }
    }

    fn answer_ack(&mut self, at: Duration, run: u32, publish: &Publish, ack: Ack) {
        self.to_feed.push((
            at,
            run,
            Answer::Ack {
                seq: publish.seq,
                epoch: publish.epoch,
                ack,
            },
        ));
    }

    fn deliver_to_server(&mut self) {
        while self.to_server.front().is_some_and(|o| o.arrive <= self.now) {
            let Some(outbound) = self.to_server.pop_front() else {
                break;
            };
            let copies = if self.chance(0.01) { 2 } else { 1 };
            for _ in 0..copies {
                let ack = self.stream.publish(self.now, &outbound.publish);
                let (answer, delay) = if self.chance(0.02) {
                    (None, Duration::ZERO) // The acknowledgement is lost.
                } else if self.chance(0.02) {
                    // The client gave up waiting although it was stored.
                    (Some(Ack::Failed), self.millis(1_000..5_000))
                } else {
                    (Some(ack), self.millis(0..50))
                };
                if let Some(answer) = answer {
                    let at = self.now + delay;
                    self.answer_ack(at, outbound.run, &outbound.publish, answer);
                }
            }
        }
    }

    fn deliver_to_feed(&mut self) {
        let now = self.instant();
        let (mut due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.to_feed)
            .into_iter()
            .partition(|(at, _, _)| *at <= self.now);
        self.to_feed = waiting;
        // Answers due at the same time arrive in any order.
        for i in (1..due.len()).rev() {
            let j = self.rng.random_range(0..=i);
            due.swap(i, j);
        }
        for (_, run, answer) in due {
            if run != self.run {
                continue;
            }
            match answer {
                Answer::Ack { seq, epoch, ack } => self.feed.handle_ack(now, seq, epoch, ack),
                Answer::LogRead { from, to, fails } => {
                    let events = (!fails).then(|| {
                        let end = usize::try_from(to)
                            .unwrap_or(usize::MAX)
                            .min(self.log.len());
                        let start = usize::try_from(from - 1).unwrap_or(usize::MAX).min(end);
                        self.log[start..end].to_vec()
                    });
                    self.feed.handle_log_read(now, from, events);
                }
                Answer::Tail => {
                    let tail = self.stream.tail(self.now);
                    self.feed.handle_stream_tail(now, tail);
                }
            }
        }
    }

    fn drain_transmits(&mut self) {
        let now = self.instant();
        for _ in 0..TRANSMITS_PER_STEP_MAX {
            let Some(transmit) = self.feed.poll_transmit(now) else {
                return;
            };
            match transmit {
                Transmit::Publish(publish) => {
                    if self.chance(0.01) {
                        // Lost on the way; the client times out, or says nothing.
                        if self.rng.random_bool(0.5) {
                            let at = self.now + self.millis(1_000..5_000);
                            self.answer_ack(at, self.run, &publish, Ack::Failed);
                        }
                        continue;
                    }
                    // One connection: publishes reach the server in the order sent.
                    let after = self.to_server.back().map_or(Duration::ZERO, |o| o.arrive);
                    let arrive = (self.now + self.millis(0..30)).max(after);
                    self.to_server.push_back(Outbound {
                        arrive,
                        publish,
                        run: self.run,
                    });
                }
                Transmit::ReadLog { from, to } => {
                    let fails = self.chance(0.01);
                    let at = self.now + self.millis(1..10);
                    self.to_feed
                        .push((at, self.run, Answer::LogRead { from, to, fails }));
                }
                Transmit::ReadStreamTail => {
                    let at = self.now + self.millis(1..20);
                    self.to_feed.push((at, self.run, Answer::Tail));
                }
            }
        }
    }

    /// The stream is a prefix of the log, in order, without duplicates (or, with `order`
    /// false, only: without duplicates and nothing invented). The stream only grows, so each
    /// call checks the messages stored since the last.
    fn check_step(&mut self, step: u32, order: bool) -> Result<(), Violation> {
        let logged = self.log.len() as u64;
        for (index, message) in self.stream.messages.iter().enumerate().skip(self.checked) {
            if message.seq == 0 || message.seq > logged {
                return Err(Violation::Invented {
                    step,
                    seq: message.seq,
                });
            }
            if !self.seen.insert(message.seq) {
                return Err(Violation::Duplicate {
                    step,
                    seq: message.seq,
                });
            }
            if order && message.seq != index as u64 + 1 {
                return Err(Violation::OutOfOrder {
                    step,
                    detail: format!("message {} is event {}", index + 1, message.seq),
                });
            }
        }
        self.checked = self.stream.messages.len();
        Ok(())
    }

    /// Once the faults stop: the stream equals the log.
    fn check_end(&mut self, step: u32) -> Result<(), Violation> {
        self.check_step(step, false)?;
        if let Some(seq) = (1..=self.log.len() as u64).find(|seq| !self.seen.contains(seq)) {
            return Err(Violation::Missing { seq });
        }
        for (index, message) in self.stream.messages.iter().enumerate() {
            if message.seq != index as u64 + 1 {
                return Err(Violation::OutOfOrder {
                    step,
                    detail: format!("message {} is event {}", index + 1, message.seq),
                });
            }
        }
        Ok(())
    }

    /// Whether nothing is left to happen: the feed has confirmed the whole log, nothing is on
    /// the wire.
    fn settled(&self) -> bool {
        self.feed.is_idle()
            && self.feed.durable() == self.log.len() as u64
            && self.to_server.is_empty()
            && self.to_feed.iter().all(|(_, run, _)| *run != self.run)
    }
}

/// Runs one seed: faulty steps, then quiet ones until the feed settles.
fn run(seed: u64, rules: Rules) -> Result<(), Violation> {
    let mut world = World::new(seed, rules);
    let order_each_step = rules == Rules::Ordered;
    for step in 0..STEPS_FAULTY {
        world.step();
        world.check_step(step, order_each_step)?;
    }
    world.faults = false;
    world.stream.unavailable_until = Duration::ZERO;
    // A restarted engine knows the whole log; a running one has been handed every batch or reads
    // the rest.
    for step in STEPS_FAULTY..STEPS_FAULTY + STEPS_QUIET_MAX {
        world.step();
        world.check_step(step, order_each_step)?;
        if world.settled() {
            return world.check_end(step);
        }
        // Nothing to do until the next timer or answer: jump there.
        let next = [
            world
                .feed
                .poll_timeout()
                .map(|at| Duration::from_millis(at.as_millis())),
            world.to_feed.iter().map(|(at, _, _)| *at).min(),
            world.to_server.front().map(|o| o.arrive),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(next) => world.now = world.now.max(next),
            // Nothing can happen any more.
            None => break,
        }
    }
    match world.check_end(STEPS_FAULTY + STEPS_QUIET_MAX) {
        Ok(()) => Err(Violation::NotConverged {
            stored: world.stream.messages.len(),
            logged: world.log.len() as u64,
        }),
        Err(violation) => Err(violation),
    }
}

/// The seeds to run: `SWITCHBOARD_SEED` alone, or `0..SWITCHBOARD_SEEDS` (default
/// [`SEEDS_DEFAULT`]).
fn seeds() -> std::ops::Range<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    match var("SWITCHBOARD_SEED") {
        Some(seed) => seed..seed + 1,
        None => 0..var("SWITCHBOARD_SEEDS").unwrap_or(SEEDS_DEFAULT),
    }
}

#[test]
fn the_stream_holds_exactly_the_log_in_order_whatever_the_faults() {
    for seed in seeds() {
        if let Err(violation) = run(seed, Rules::Ordered) {
            panic!("seed {seed}: {violation:?}; replay with SWITCHBOARD_SEED={seed}");
        }
    }
}

/// The simulation finds both defects of the rules before [`EventsFeed`] (issue 15): an event
/// published again after a failure is stored after later ones, and one whose acknowledgement
/// failed before a crash never reaches the stream. (When written: out of order first at seed
/// 28, missing first at seed 4.)
#[test]
fn the_simulation_finds_the_old_rules_defects() {
    let mut out_of_order = None;
    let mut missing = None;
    for seed in 0..SEEDS_DEFAULT {
        match run(seed, Rules::Legacy) {
            Err(Violation::OutOfOrder { .. }) => {
                out_of_order.get_or_insert(seed);
            }
            Err(Violation::Missing { .. }) => {
                missing.get_or_insert(seed);
            }
            _ => {}
        }
        if out_of_order.is_some() && missing.is_some() {
            break;
        }
    }
    assert!(
        out_of_order.is_some() && missing.is_some(),
        "old rules: out of order at seed {out_of_order:?}, missing at seed {missing:?}"
    );
}
