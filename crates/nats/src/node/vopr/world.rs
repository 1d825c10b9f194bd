//! The simulated world around one node: NATS (core messages with delays, reordered across
//! subjects and lost while the engine's connection is down; the durable intake, a JetStream work
//! queue that redelivers what is not acknowledged in time and sometimes delivers twice; the
//! events stream, whose acknowledgements fail, come late or never), the disk, the clients, and
//! the engine's process, which crashes, exits on a failed log and restarts. One step moves
//! virtual time on, injects faults, lets everyone act, delivers what is due, carries out what
//! the node asks (checking it as it leaves) and checks the invariants.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_nats::Subject;
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_core::{Event, EventKind, Router, RoutingConfig, State, Timestamp};
use switchboard_engine::ReceiptOptions;
use switchboard_privacy::{DomainSecret, Keys, Sealer};

use super::check::{Checker, Violation, same_state};
use super::clients::holds_personal_data;
use super::clients::{Clients, Outgoing};
use super::disk::{Disk, Synced, event};
use crate::feed::simulation::SimStream;
use crate::feed::{self, Ack, EventsFeed, Publish};
use crate::node::{IntakeHandle, Mark, Node, NodeSettings, Request, Transmit, open_for_output};

/// Monday 5 January 2026, 09:00 UTC: the simulation's first instant.
const START: Timestamp = Timestamp::from_millis(1_767_603_600_000);

/// The idempotency window in the simulation: short, so that runs outlive it.
pub(super) const WINDOW: Duration = Duration::from_secs(60);

/// How long the intake consumer waits for an acknowledgement before it delivers again.
const INTAKE_ACK_WAIT: Duration = Duration::from_secs(5);

/// The most transmits taken from the node in one step (a guard against a node that never
/// stops talking).
const TRANSMITS_PER_STEP_MAX: usize = 100_000;

/// Which rules the node follows, and which invariants are checked.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rules {
    /// The events feed's rules before `EventsFeed` (to show the simulation finds their defects).
    pub(super) legacy_feed: bool,
    /// Whether a repeat after a restart must get the first reply.
    pub(super) across_restarts: bool,
    /// Whether a restarted node rebuilds its idempotency window from the log's receipts (off:
    /// the window lived in memory only, as before receipts).
    pub(super) restore_receipts: bool,
}

/// Something on its way, due at a time.
#[derive(Debug)]
enum Flight {
    /// A client's request to the engine.
    Request(Request),
    /// An intake message delivered to the engine of run `run`.
    Intake { run: u32, index: usize },
    /// A reply or notice to a client.
    ToClient { subject: Subject, body: Bytes },
    /// An intake acknowledgement to JetStream.
    IntakeAck { index: usize },
    /// An event to the events stream, from the engine of run `run`.
    Publish { run: u32, publish: Publish },
    /// The events stream's answer.
    EventAck {
        run: u32,
        seq: u64,
        epoch: u64,
        ack: Ack,
    },
    /// A log read's answer.
    LogRead {
        run: u32,
        from: u64,
        to: u64,
        fails: bool,
    },
    /// The events stream's tail.
    Tail { run: u32 },
    /// A contact history's answer.
    History {
        run: u32,
        id: u64,
        contact_id: String,
        up_to: u64,
    },
}

/// A message in the intake stream.
#[derive(Debug)]
struct IntakeMessage {
    subject: String,
    msg_id: String,
    payload: Bytes,
    contact: String,
    acked: bool,
    /// Delivered and waiting for its acknowledgement until then.
    out_until: Option<Timestamp>,
}

/// The whole simulated world.
pub(super) struct World {
    rng: ChaCha8Rng,
    pub(super) now: Timestamp,
    pub(super) step: u32,
    pub(super) faults: bool,
    rules: Rules,
    settings: NodeSettings,
    config: RoutingConfig,
    node: Option<Node>,
    /// The engine's life: bumped at each crash, so what was meant for a dead one is dropped.
    run: u32,
    restart_at: Option<Timestamp>,
    /// The durable point the node was told in this run.
    durable_told: u64,
    disk: Disk,
    /// The replay of the disk's records.
    shadow: State,
    /// The disk's records, decoded.
    log: Vec<Event>,
    /// The events applied by the node's state and the shadow when they were last compared
    /// (a state changes only by its events, so equal counts since then need no new look).
    compared: Option<(u64, u64)>,
    /// The sequence number of each offer's `offer_made`.
    offers: HashMap<u64, u64>,
    flights: BTreeMap<(Timestamp, u64), Flight>,
    flight_no: u64,
    /// The last arrival on each lane (a sender's subject keeps its order).
    lanes: HashMap<String, Timestamp>,
    disconnected_until: Timestamp,
    intake: Vec<IntakeMessage>,
    intake_ids: HashMap<String, usize>,
    /// This run's intake handles: the message and the last event decided once it was taken.
    intake_handles: HashMap<u64, (usize, u64)>,
    next_handle: u64,
    intake_down_until: Timestamp,
    stream: SimStream,
    /// The stored body of each message of the events stream.
    stream_bodies: Vec<Bytes>,
    stream_checked: usize,
    clients: Clients,
    checker: Checker,
    /// The simulated keystore: keys the node saves are durable at once.
    keystore: Keys,
    /// The run's seed, from which each node's sealer is seeded.
    seed: u64,
}

impl World {
    pub(super) fn new(seed: u64, rules: Rules) -> Self {
        let settings = NodeSettings {
            subjects: switchboard_wire::Subjects::new("sb").expect("a valid prefix"),
            batch_max: 64,
            idempotency_window: WINDOW,
            idempotency_entries_max: 100_000,
        };
        let config = RoutingConfig::default();
        let router = Router::new(config.clone()).expect("the default configuration");
        let mut world = Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: START,
            step: 0,
            faults: true,
            rules,
            settings,
            config,
            node: None,
            run: 0,
            restart_at: None,
            durable_told: 0,
            disk: Disk::default(),
            shadow: State::new(),
            log: Vec::new(),
            compared: None,
            offers: HashMap::new(),
            flights: BTreeMap::new(),
            flight_no: 0,
            lanes: HashMap::new(),
            disconnected_until: Timestamp::EPOCH,
            intake: Vec::new(),
            intake_ids: HashMap::new(),
            intake_handles: HashMap::new(),
            next_handle: 0,
            intake_down_until: Timestamp::EPOCH,
            stream: SimStream::default(),
            stream_bodies: Vec::new(),
            stream_checked: 0,
            clients: Clients::new("sb"),
            checker: Checker::new(rules.across_restarts, WINDOW),
            keystore: Keys::new(DomainSecret::from_bytes([0x5b; 32])),
            seed,
        };
        world.node = Some(world.new_node(router, 0));
        world
    }

    fn new_node(&self, router: Router, durable: u64) -> Node {
        let subjects = self.settings.subjects.clone();
        let feed = if self.rules.legacy_feed {
            EventsFeed::new_legacy(subjects, durable)
        } else {
            EventsFeed::new(subjects, durable)
        };
        // Seeded from the run's seed and the engine's life: the same run seals the same bytes.
        let mut sealer_seed = [0_u8; 32];
        sealer_seed[..8].copy_from_slice(&self.seed.to_le_bytes());
        sealer_seed[8..12].copy_from_slice(&self.run.to_le_bytes());
        let sealer = Sealer::seeded(self.keystore.clone(), sealer_seed);
        Node::with_feed(router, durable, self.settings.clone(), feed, sealer)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.faults && self.rng.random_bool(p)
    }

    fn millis(&mut self, range: std::ops::Range<u64>) -> Duration {
        Duration::from_millis(self.rng.random_range(range))
    }

    /// The time as the simulated stream counts it.
    fn stream_now(&self) -> Duration {
        Duration::from_millis(self.now.as_millis())
    }

    fn disconnected(&self) -> bool {
        self.now < self.disconnected_until
    }

    /// One step; the invariants are checked as things leave the node and at its end.
    pub(super) fn step(&mut self) -> Result<(), Violation> {
        self.step += 1;
        let pause = self.millis(0..40);
        self.now = self.now + pause;
        self.inject_faults();
        self.restart_if_due()?;
        let mut out = Vec::new();
        self.clients.act(&mut self.rng, self.now, &mut out);
        self.send(out);
        self.deliver_intake();
        self.deliver_flights()?;
        self.syncs()?;
        if let Some(node) = &mut self.node
            && node.poll_timeout().is_some_and(|at| at <= self.now)
        {
            node.handle_timeout(self.now);
        }
        self.drain()?;
        self.check()
    }

    fn inject_faults(&mut self) {
        if self.node.is_some() && self.chance(0.002) {
            self.crash();
        }
        if self.chance(0.003) {
            let outage = self.millis(100..3_000);
            self.disconnected_until = self.now + outage;
        }
        if self.chance(0.003) {
            let outage = self.millis(100..3_000);
            self.stream.unavailable_until = self.stream_now() + outage;
        }
        if self.chance(0.0005) {
            let now = self.stream_now();
            self.stream.restart(now);
        }
        if self.chance(0.002) {
            let outage = self.millis(100..3_000);
            self.intake_down_until = self.now + outage;
        }
    }

    /// The engine's process dies (or exits on a failed log); it restarts a little later.
    fn crash(&mut self) {
        self.node = None;
        self.run += 1;
        let delay = self.millis(50..2_000);
        self.restart_at = Some(self.now + delay);
    }

    /// Restarts the engine from what survived on the disk, through the real recovery.
    fn restart_if_due(&mut self) -> Result<(), Violation> {
        if self.restart_at.is_none_or(|at| at > self.now) {
            return Ok(());
        }
        self.restart_at = None;
        let receipts = ReceiptOptions {
            window: self.settings.idempotency_window,
            entries_max: self.settings.idempotency_entries_max,
        };
        let recovered = self
            .disk
            .crash_and_recover(&mut self.rng, &self.config, &receipts);
        self.checker.recovered(self.step, &self.disk.entries)?;
        self.log = self.disk.entries.iter().map(event).collect();
        self.shadow = State::replay(&self.log);
        same_state(self.step, recovered.router.state(), &self.shadow)?;
        self.compared = None;
        self.offers.clear();
        for seq in 1..=self.log.len() as u64 {
            self.index_offer(seq);
        }
        self.durable_told = self.disk.len();
        let mut node = self.new_node(recovered.router, self.disk.len());
        if self.rules.restore_receipts {
            node.restore_receipts(recovered.receipts);
        }
        self.node = Some(node);
        self.intake_handles.clear();
        for message in &mut self.intake {
            message.out_until = None; // The consumer is made afresh: everything comes again.
        }
        Ok(())
    }

    fn index_offer(&mut self, seq: u64) {
        if let EventKind::OfferMade(made) = &self.log[index(seq - 1)].kind {
            self.offers.insert(made.offer.get(), seq);
        }
    }

    /// Puts `flight` on the way, arriving after `delay`, after whatever went before it on `lane`.
    fn fly(&mut self, flight: Flight, delay: Duration, lane: Option<&str>) {
        let mut at = self.now + delay;
        if let Some(lane) = lane {
            let last = self.lanes.entry(lane.to_owned()).or_insert(at);
            at = at.max(*last);
            *last = at;
        }
        self.flight_no += 1;
        self.flights.insert((at, self.flight_no), flight);
    }

    /// What the clients send goes on its way (a request) or into the intake stream.
    fn send(&mut self, out: Vec<Outgoing>) {
        for outgoing in out {
            match outgoing {
                Outgoing::Request { request, lane } => {
                    let delay = self.millis(0..30);
                    self.fly(Flight::Request(request), delay, Some(&lane));
                }
                Outgoing::Intake {
                    subject,
                    msg_id,
                    payload,
                } => {
                    if self.intake_ids.contains_key(&msg_id) {
                        continue; // JetStream's duplicate window.
                    }
                    let value: serde_json::Value =
                        serde_json::from_slice(&payload).unwrap_or_default();
                    let contact = value["contact_id"].as_str().unwrap_or_default().to_owned();
                    self.intake_ids.insert(msg_id.clone(), self.intake.len());
                    self.intake.push(IntakeMessage {
                        subject,
                        msg_id,
                        payload,
                        contact,
                        acked: false,
                        out_until: None,
                    });
                }
            }
        }
    }

    /// The intake consumer delivers what is neither acknowledged nor out.
    fn deliver_intake(&mut self) {
        if self.node.is_none() || self.now < self.intake_down_until {
            return;
        }
        for index in 0..self.intake.len() {
            let message = &self.intake[index];
            if message.acked || message.out_until.is_some_and(|until| until > self.now) {
                continue;
            }
            self.intake[index].out_until = Some(self.now + INTAKE_ACK_WAIT);
            let copies = if self.chance(0.02) { 2 } else { 1 };
            for _ in 0..copies {
                let delay = self.millis(0..30);
                let run = self.run;
                self.fly(Flight::Intake { run, index }, delay, Some("intake"));
            }
        }
    }

    /// Delivers every flight due by now.
    fn deliver_flights(&mut self) -> Result<(), Violation> {
        while let Some(entry) = self.flights.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let flight = entry.remove();
            self.deliver(flight)?;
        }
        Ok(())
    }

    fn deliver(&mut self, flight: Flight) -> Result<(), Violation> {
        match flight {
            Flight::Request(request) => self.request(&request),
            Flight::Intake { run, index } => self.intake_delivered(run, index),
            Flight::ToClient { subject, body } => {
                let mut out = Vec::new();
                self.clients
                    .receive(&mut self.rng, subject.as_str(), &body, self.now, &mut out);
                self.send(out);
            }
            Flight::IntakeAck { index } => {
                if self.now >= self.intake_down_until {
                    self.intake[index].acked = true;
                }
            }
            Flight::Publish { run, publish } => self.stream_publish(run, &publish),
            flight => self.answer(flight),
        }
        Ok(())
    }

    /// A client's request reaches the engine, if it is there to take it.
    fn request(&mut self, request: &Request) {
        if self.disconnected() {
            return;
        }
        let Some(node) = &mut self.node else {
            return; // No responder.
        };
        node.handle_request(request, self.now);
        let needs = node.last_decided();
        let key = request.msg_id.clone().or_else(|| {
            let body: serde_json::Value =
                serde_json::from_slice(&request.payload).unwrap_or_default();
            body["command_id"].as_str().map(str::to_owned)
        });
        let key = key.map(|key| format!("{} {key}", request.subject));
        if let Some(inbox) = &request.reply {
            self.checker
                .taken(inbox.as_str(), needs, self.now, key, self.run);
        }
    }

    fn intake_delivered(&mut self, run: u32, index: usize) {
        if run != self.run || self.disconnected() {
            return;
        }
        let Some(node) = &mut self.node else {
            return;
        };
        let message = &self.intake[index];
        let request = Request {
            subject: Subject::from(message.subject.as_str()),
            reply: None,
            content_type: None,
            msg_id: Some(message.msg_id.clone()),
            payload: message.payload.clone(),
            mark: Mark(0),
        };
        let handle = self.next_handle;
        self.next_handle += 1;
        node.handle_intake(&request, IntakeHandle(handle), self.now);
        self.intake_handles
            .insert(handle, (index, node.last_decided()));
    }

    /// An event reaches the events stream; its answer goes back (or is lost, or fails late).
    fn stream_publish(&mut self, run: u32, publish: &Publish) {
        let copies = if self.chance(0.01) { 2 } else { 1 };
        for _ in 0..copies {
            let now = self.stream_now();
            let stored_before = self.stream.messages.len();
            let ack = if self.disconnected() {
                Ack::Failed
            } else {
                self.stream.publish(now, publish)
            };
            if self.stream.messages.len() > stored_before {
                self.stream_bodies.push(publish.body.clone());
            }
            let (ack, delay) = if self.chance(0.02) {
                continue; // The acknowledgement is lost.
            } else if self.chance(0.02) {
                (Ack::Failed, self.millis(1_000..5_000)) // The client gave up waiting.
            } else {
                (ack, self.millis(0..50))
            };
            let (seq, epoch) = (publish.seq, publish.epoch);
            let flight = Flight::EventAck {
                run,
                seq,
                epoch,
                ack,
            };
            self.fly(flight, delay, None);
        }
    }

    /// An answer to the engine of `run` (dropped if that engine is gone).
    fn answer(&mut self, flight: Flight) {
        let now = self.now;
        let tail = self.stream.tail(self.stream_now());
        let Some(node) = &mut self.node else {
            return;
        };
        match flight {
            Flight::EventAck {
                run,
                seq,
                epoch,
                ack,
            } if run == self.run => node.handle_event_ack(seq, epoch, ack, None, now),
            Flight::LogRead {
                run,
                from,
                to,
                fails,
            } if run == self.run => {
                let events = (!fails).then(|| {
                    let to = to.min(self.disk.len());
                    (from..=to)
                        .map(|seq| self.log[index(seq - 1)].clone())
                        .collect()
                });
                node.handle_log_read(from, events, now);
            }
            Flight::Tail { run } if run == self.run => node.handle_stream_tail(tail, now),
            Flight::History {
                run,
                id,
                contact_id,
                up_to,
            } if run == self.run => {
                let history = (1..=up_to)
                    .map(|seq| (seq, &self.log[index(seq - 1)]))
                    .filter(|(_, e)| e.kind.contact().is_some_and(|c| c.as_str() == contact_id))
                    .map(|(seq, e)| (seq, e.clone()))
                    .collect();
                node.handle_history(id, Some(history));
            }
            _ => {}
        }
    }

    /// The disk's syncs that have returned are reported; a failed one stops the engine.
    fn syncs(&mut self) -> Result<(), Violation> {
        if self.node.is_none() {
            return Ok(());
        }
        while let Some(synced) = self.disk.poll_synced(self.now) {
            let Some(node) = &mut self.node else {
                break;
            };
            match synced {
                Synced::Durable(seq) => {
                    self.durable_told = seq;
                    node.handle_durable(seq);
                }
                Synced::Failed => {
                    // The engine answers what waited, then stops (see `drain`).
                    node.handle_log_failed();
                    return self.drain();
                }
            }
        }
        Ok(())
    }

    /// Carries out everything the node asks, checking each thing as it leaves.
    fn drain(&mut self) -> Result<(), Violation> {
        let Some(mut node) = self.node.take() else {
            return Ok(());
        };
        let mut result = Ok(());
        for _ in 0..TRANSMITS_PER_STEP_MAX {
            let Some(transmit) = node.poll_transmit(self.now) else {
                break;
            };
            result = self.carry_out(&mut node, transmit);
            if result.is_err() {
                break;
            }
        }
        let failed = node.has_failed();
        self.node = Some(node);
        if failed && result.is_ok() {
            // A failed log stops the process once it has answered what waited.
            self.crash();
        }
        result
    }

    fn carry_out(&mut self, node: &mut Node, transmit: Transmit) -> Result<(), Violation> {
        let (step, durable) = (self.step, self.durable_told);
        match transmit {
            Transmit::SaveKeys(delta) => {
                self.keystore.apply(&delta);
            }
            Transmit::Append(append) => self.append(node, append)?,
            Transmit::Reply { to, body, .. } => {
                self.checker
                    .reply(step, to.as_str(), &body, durable, &self.disk.entries)?;
                self.send_to_client(to, body);
            }
            Transmit::AckIntake { handle, .. } => {
                let Some(&(index, needs)) = self.intake_handles.get(&handle.0) else {
                    return Ok(());
                };
                let contact = self.intake[index].contact.clone();
                self.checker.intake_ack(step, needs, durable, &contact)?;
                if !self.disconnected() && !self.chance(0.02) {
                    let delay = self.millis(0..30);
                    self.fly(Flight::IntakeAck { index }, delay, None);
                }
            }
            Transmit::Notice { subject, body } => {
                let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if let Some(offer) = value["offer_id"].as_u64()
                    && subject.as_str().ends_with(".offer")
                {
                    let needs = self.offers.get(&offer).copied().unwrap_or(u64::MAX);
                    Checker::released(step, || format!("offer {offer}"), needs, durable)?;
                }
                self.send_to_client(subject, body);
            }
            Transmit::Released { first_seq, events } => {
                let last = first_seq + events.len() as u64 - 1;
                Checker::released(step, || format!("events to {last}"), last, durable)?;
            }
            Transmit::ReadHistory {
                id,
                contact_id,
                up_to,
            } => {
                Checker::released(step, || format!("history to {up_to}"), up_to, durable)?;
                let (run, delay) = (self.run, self.millis(1..20));
                let history = Flight::History {
                    run,
                    id,
                    contact_id,
                    up_to,
                };
                self.fly(history, delay, None);
            }
            Transmit::Feed(transmit) => self.feed(transmit, durable)?,
        }
        Ok(())
    }

    /// A turn's records go to the disk (refused when the log is poisoned: the node learns it).
    fn append(&mut self, node: &mut Node, append: crate::node::Append) -> Result<(), Violation> {
        if append.first_seq != self.disk.len() + 1 {
            return Err(Violation::Diverged {
                step: self.step,
                log: self.disk.len(),
            });
        }
        let latency = match self.rng.random_range(0..100) {
            0 if self.faults => self.millis(1_000..3_000),
            1..10 => self.millis(20..200),
            _ => self.millis(0..3),
        };
        let fails = self.chance(0.003);
        let first = self.disk.len() + 1;
        if let Some(entry) = append
            .entries
            .iter()
            .find(|e| holds_personal_data(&e.payload))
        {
            return Err(Violation::Plaintext {
                step: self.step,
                detail: String::from_utf8_lossy(&entry.payload).into_owned(),
            });
        }
        if !self.disk.append(append.entries, self.now, latency, fails) {
            node.handle_log_failed();
            return Ok(());
        }
        for seq in first..=self.disk.len() {
            let event = event(&self.disk.entries[index(seq - 1)]);
            self.shadow.apply(&event);
            self.log.push(event);
            self.index_offer(seq);
        }
        Ok(())
    }

    fn send_to_client(&mut self, subject: Subject, body: Bytes) {
        if self.disconnected() || self.chance(0.005) {
            return; // Core NATS: lost.
        }
        let delay = self.millis(0..30);
        let lane = subject.to_string();
        self.fly(Flight::ToClient { subject, body }, delay, Some(&lane));
    }

    fn feed(&mut self, transmit: feed::Transmit, durable: u64) -> Result<(), Violation> {
        let (step, run) = (self.step, self.run);
        match transmit {
            feed::Transmit::Publish(publish) => {
                let seq = publish.seq;
                Checker::released(step, || format!("event {seq} to the stream"), seq, durable)?;
                if self.chance(0.01) {
                    // Lost on the way; the client times out, or says nothing.
                    if self.rng.random_bool(0.5) {
                        let delay = self.millis(1_000..5_000);
                        let (seq, epoch) = (publish.seq, publish.epoch);
                        let ack = Ack::Failed;
                        self.fly(
                            Flight::EventAck {
                                run,
                                seq,
                                epoch,
                                ack,
                            },
                            delay,
                            None,
                        );
                    }
                    return Ok(());
                }
                let delay = self.millis(0..30);
                self.fly(Flight::Publish { run, publish }, delay, Some("events"));
            }
            feed::Transmit::ReadLog { from, to } => {
                Checker::released(step, || format!("log read to {to}"), to, durable)?;
                let fails = self.chance(0.01);
                let delay = self.millis(1..10);
                self.fly(
                    Flight::LogRead {
                        run,
                        from,
                        to,
                        fails,
                    },
                    delay,
                    None,
                );
            }
            feed::Transmit::ReadStreamTail => {
                let delay = self.millis(1..20);
                self.fly(Flight::Tail { run }, delay, None);
            }
        }
        Ok(())
    }

    /// After every step: the node's state is the log's replay; the events stream is a prefix
    /// of the log, in order, as the log has each event.
    fn check(&mut self) -> Result<(), Violation> {
        if let Some(node) = &self.node
            && !node.has_failed()
        {
            let applied = (node.state().events_applied(), self.shadow.events_applied());
            if self.compared != Some(applied) {
                same_state(self.step, node.state(), &self.shadow)?;
                self.compared = Some(applied);
            }
        }
        self.check_stream()
    }

    fn check_stream(&mut self) -> Result<(), Violation> {
        for position in self.stream_checked..self.stream.messages.len() {
            let seq = self.stream.messages[position].seq;
            let detail = if seq != position as u64 + 1 {
                Some(format!("message {} is event {seq}", position + 1))
            } else if seq > self.disk.len() {
                Some(format!("event {seq} is not in the log"))
            } else {
                let mut body = Vec::new();
                // The feed carries personal fields opened with the keystore; the log, sealed.
                let event = open_for_output(&self.keystore, self.log[index(seq - 1)].clone());
                switchboard_wire::write_event_json(seq, &event, &mut body)
                    .expect("an event writes as JSON");
                (body != self.stream_bodies[position])
                    .then(|| format!("event {seq} is not as the log has it"))
            };
            if let Some(detail) = detail {
                return Err(Violation::Stream {
                    step: self.step,
                    detail,
                });
            }
        }
        self.stream_checked = self.stream.messages.len();
        Ok(())
    }

    /// The faults stop and no new work comes; what is out is finished.
    pub(super) fn calm(&mut self) {
        self.faults = false;
        self.clients.busy = false;
        self.disconnected_until = Timestamp::EPOCH;
        self.intake_down_until = Timestamp::EPOCH;
        self.stream.unavailable_until = Duration::ZERO;
    }

    /// Whether nothing is left to happen but the core's own timers.
    pub(super) fn settled(&self) -> bool {
        self.node
            .as_ref()
            .is_some_and(|node| node.is_settled() && node.feed_is_idle())
            && self.flights.is_empty()
            && self.disk.is_idle()
            && self.clients.is_idle()
            && self.intake.iter().all(|message| message.acked)
    }

    /// Once settled: the events stream holds exactly the log.
    pub(super) fn check_end(&mut self) -> Result<(), Violation> {
        self.compared = None;
        self.check()?;
        let stored = self.stream.messages.len() as u64;
        if stored != self.disk.len() {
            return Err(Violation::Missing { seq: stored + 1 });
        }
        Ok(())
    }

    /// A description of where things stand, for a run that did not settle.
    pub(super) fn stuck(&self) -> String {
        format!(
            "node up {}, settled {}, feed idle {}, flights {}, disk idle {}, clients idle {}, \
             intake unacknowledged {}, stream {} of {}",
            self.node.is_some(),
            self.node.as_ref().is_some_and(Node::is_settled),
            self.node.as_ref().is_some_and(Node::feed_is_idle),
            self.flights.len(),
            self.disk.is_idle(),
            self.clients.is_idle(),
            self.intake.iter().filter(|m| !m.acked).count(),
            self.stream.messages.len(),
            self.disk.len(),
        )
    }

    /// When something next happens (for jumping over quiet stretches once the faults stop).
    pub(super) fn next_happening(&self) -> Option<Timestamp> {
        [
            self.node.as_ref().and_then(Node::poll_timeout),
            self.flights.keys().next().map(|(at, _)| *at),
            self.disk.next_sync(),
            self.restart_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

fn index(seq: u64) -> usize {
    usize::try_from(seq).expect("a simulated log fits in memory")
}
