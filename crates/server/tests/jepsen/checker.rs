//! The checker: reads the domain's final log from JetStream (checking the whole chain as
//! `audit verify` does) and holds it against what the clients were told; and reads the events
//! stream the leaders fed through every failover, which must hold the log's events exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use switchboard_core::{Event, EventKind};
use switchboard_jetlog::{JetStreamConfig, JetStreamLog, StreamReader};
use switchboard_nats::cluster::Domain;
use switchboard_nats::{DriverSettings, SEQ_HEADER};
use switchboard_wire::Subjects;

use crate::PREFIX;
use crate::load::Ledger;

/// The log as read: every event with its seq.
pub(crate) struct Log {
    events: Vec<(u64, Event)>,
}

/// The domain's log stream.
fn log_config() -> JetStreamConfig {
    let domain = Domain::new(PREFIX);
    JetStreamConfig::new(domain.log_stream(), domain.log_subject())
}

/// Waits (at most 60 s) until every contact JetStream acknowledged on the intake is in the log:
/// the leader takes the intake's backlog after the last fault.
pub(crate) async fn wait_for_intake(client: &Client, ledger: &Ledger, seed: u64) {
    let config = log_config();
    let context = jetstream::new(client.clone());
    let intake: BTreeSet<String> = {
        let records = ledger.records.lock().expect("records");
        records.intake.iter().map(|(id, _)| id.clone()).collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    loop {
        poll.tick().await;
        let log = read(&context, &config).await;
        let created: BTreeSet<String> = log.created().map(|(_, id)| id.to_owned()).collect();
        let missing: Vec<&String> = intake.difference(&created).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "seed {seed}: {} intake contacts acknowledged by JetStream never reached the log, \
             e.g. {:?}",
            missing.len(),
            missing.iter().take(5).collect::<Vec<_>>()
        );
    }
}

/// The events stream as the leaders fed it: the event type of each message, in the stream's
/// order (message `k` is event `k`).
pub(crate) struct EventsFed {
    types: Vec<String>,
}

/// Waits (at most 60 s, the load stopped) until the events stream ends where the log does, then
/// reads it whole and checks that message `k` is event `k` (its `Switchboard-Seq`): every event
/// of the log once, in order, none missing, through every failover and nats-server restart.
pub(crate) async fn events_stream(client: &Client, seed: u64) -> EventsFed {
    let context = jetstream::new(client.clone());
    let subjects = Subjects::new(PREFIX).expect("a valid prefix");
    let name = DriverSettings::new(subjects.clone()).events_stream;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    let last = loop {
        poll.tick().await;
        let logged = last_sequence(&context, &log_config().stream).await;
        let fed = last_sequence(&context, &name).await;
        if logged.is_some() && logged == fed {
            break fed.unwrap_or_default();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "seed {seed}: the events stream ends at {fed:?}, the log at {logged:?}, 60 s after \
             the load stopped"
        );
    };
    let stream = context.get_stream(&name).await.expect("the events stream");
    let reader = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: subjects.events_wildcard(),
            ..Default::default()
        })
        .await
        .expect("a reader of the events stream");
    let mut messages = reader.messages().await.expect("read the events stream");
    let prefix = format!("{PREFIX}.events.");
    let mut types = Vec::new();
    for position in 1..=last {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("seed {seed}: message {position} of the events stream"))
            .expect("a message of the events stream");
        let seq = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get(SEQ_HEADER))
            .and_then(|value| value.as_str().parse::<u64>().ok());
        assert_eq!(
            seq,
            Some(position),
            "seed {seed}: message {position} of the events stream is event {seq:?}"
        );
        let kind = message.subject.as_str().strip_prefix(prefix.as_str());
        types.push(kind.unwrap_or_default().to_owned());
    }
    EventsFed { types }
}

/// A stream's last sequence, if its info could be read now.
async fn last_sequence(context: &jetstream::Context, name: &str) -> Option<u64> {
    let mut stream = context.get_stream(name).await.ok()?;
    Some(stream.info().await.ok()?.state.last_sequence)
}

impl EventsFed {
    /// Checks that each event fed has the type of the log's event of the same seq; returns how
    /// many were fed.
    pub(crate) fn check_against(&self, log: &Log, seed: u64) -> usize {
        for (index, fed) in self.types.iter().enumerate() {
            let logged = log.events.get(index).map(|(_, event)| event.kind.name());
            assert_eq!(
                logged,
                Some(fed.as_str()),
                "seed {seed}: event {} of the events stream is not the log's",
                index + 1
            );
        }
        self.types.len()
    }
}

/// Reads the final log (every engine stopped) and verifies its whole chain, as `audit verify`
/// does. A batch a killed leader had sent may still land after its death (seed 68050790762828497
/// saw 61 records land between the read and the verification): both are done again, a bounded
/// number of times, until they agree.
pub(crate) async fn final_log(client: &Client, seed: u64) -> Log {
    let config = log_config();
    let context = jetstream::new(client.clone());
    let mut tries = 0;
    loop {
        tries += 1;
        let log = read(&context, &config).await;
        let verified = JetStreamLog::verify(&context, &config)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: the chain does not verify: {e}"));
        let last_seq = log.events.last().map_or(0, |e| e.0);
        if verified.last_seq != last_seq && tries < 10 {
            println!(
                "jepsen: the log grew from seq {last_seq} to {} while it was read; reading again",
                verified.last_seq
            );
            continue;
        }
        assert_eq!(verified.last_seq, last_seq, "seed {seed}");
        assert_eq!(verified.records, log.events.len() as u64, "seed {seed}");
        return log;
    }
}

async fn read(context: &jetstream::Context, config: &JetStreamConfig) -> Log {
    let mut reader = StreamReader::start(context, config, 1)
        .await
        .expect("read the log stream");
    let mut events = Vec::new();
    while let Some(record) = reader.next().await {
        let record = record.expect("a whole record");
        let event = switchboard_wire::decode_event(&record.payload).expect("an event");
        events.push((record.seq, event));
    }
    Log { events }
}

impl Log {
    fn created(&self) -> impl Iterator<Item = (u64, &str)> {
        self.events.iter().filter_map(|(seq, e)| match &e.kind {
            EventKind::ContactCreated(c) => Some((*seq, c.details.id.as_str())),
            _ => None,
        })
    }
}

/// What the checker counted.
#[derive(Debug, Default)]
pub(crate) struct Report {
    events: u64,
    created_by_request: usize,
    intake: usize,
    intake_during_faults: usize,
    accepted: usize,
    completed: usize,
    offers: usize,
    unanswered: usize,
    retried: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} events in the log; acknowledged and found exactly once: {} creates by request, \
             {} by intake ({} published during a fault), {} accepts, {} completes; {} offers, \
             never two open on one contact; {} commands answered after a retry, {} never \
             answered within the retry bound",
            self.events,
            self.created_by_request,
            self.intake,
            self.intake_during_faults,
            self.accepted,
            self.completed,
            self.offers,
            self.retried,
            self.unanswered
        )
    }
}

/// Holds the log against the clients' records; panics naming the seed at the first violation.
pub(crate) fn check(log: &Log, ledger: &Ledger, seed: u64) -> Report {
    let records = ledger.records.lock().expect("records");
    let mut created: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (seq, id) in log.created() {
        created.entry(id).or_default().push(seq);
    }
    for (id, seqs) in &created {
        assert_eq!(seqs.len(), 1, "seed {seed}: contact {id} created {seqs:?}");
    }
    for (id, reply_seq) in &records.created {
        let seqs = created.get(id.as_str());
        assert!(
            seqs.is_some_and(|s| s[0] <= *reply_seq),
            "seed {seed}: acknowledged create of {id} (reply seq {reply_seq}) is not in the log \
             at or before that seq: {seqs:?}"
        );
    }
    for (id, _) in &records.intake {
        assert!(
            created.contains_key(id.as_str()),
            "seed {seed}: intake {id} not routed"
        );
    }
    let offers = no_contact_offered_twice(log, seed);
    let (accepts, completes) = answers(log);
    for (offer, contact) in &records.accepted {
        assert_eq!(
            accepts.get(offer).map(Vec::len),
            Some(1),
            "seed {seed}: acknowledged accept of offer {offer} ({contact}) is not in the log once"
        );
    }
    for contact in &records.completed {
        assert_eq!(
            completes.get(contact.as_str()).map(Vec::len),
            Some(1),
            "seed {seed}: acknowledged complete of {contact} is not in the log once"
        );
    }
    Report {
        events: log.events.len() as u64,
        created_by_request: records.created.len(),
        intake: records.intake.len(),
        intake_during_faults: records.intake.iter().filter(|(_, during)| *during).count(),
        accepted: records.accepted.len(),
        completed: records.completed.len(),
        offers,
        unanswered: records.unanswered,
        retried: records.retried,
    }
}

/// The seqs of every accepted offer (by offer number) and every completed contact (by id).
type Answers<'a> = (BTreeMap<u64, Vec<u64>>, BTreeMap<&'a str, Vec<u64>>);

/// Every accepted offer and every completed contact in the log, with their seqs.
fn answers(log: &Log) -> Answers<'_> {
    let mut accepts: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut completes: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (seq, event) in &log.events {
        match &event.kind {
            EventKind::OfferAccepted { offer, .. } => {
                accepts.entry(offer.get()).or_default().push(*seq);
            }
            EventKind::ContactCompleted { contact, .. } => {
                completes.entry(contact.as_str()).or_default().push(*seq);
            }
            _ => {}
        }
    }
    (accepts, completes)
}

/// Replays the offers: a contact is never offered while an offer of it is open (offered and not
/// yet accepted, rejected, expired or revoked). Returns how many offers were made.
fn no_contact_offered_twice(log: &Log, seed: u64) -> usize {
    let mut open: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
    let mut made = 0;
    for (seq, event) in &log.events {
        match &event.kind {
            EventKind::OfferMade(offer) => {
                made += 1;
                if let Some((other, agent)) = open.get(offer.contact.as_str()) {
                    panic!(
                        "seed {seed}: at seq {seq} contact {} was offered to {} while offer \
                         {other} to {agent} was open",
                        offer.contact, offer.agent
                    );
                }
                open.insert(
                    offer.contact.as_str(),
                    (offer.offer.get(), offer.agent.as_str()),
                );
            }
            EventKind::OfferAccepted { contact, .. }
            | EventKind::OfferRejected { contact, .. }
            | EventKind::OfferExpired { contact, .. }
            | EventKind::OfferRevoked { contact, .. } => {
                open.remove(contact.as_str());
            }
            _ => {}
        }
    }
    made
}
