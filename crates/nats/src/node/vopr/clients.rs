//! The simulation's workload: the systems around the engine, speaking the wire contract in JSON.
//! A telephony system creates contacts (by request, with an idempotency key or without, or
//! through the durable intake) and abandons some; agents' desktops log in, say they are ready,
//! answer the offers they hear of, complete their work and sometimes step away; a wallboard
//! asks queries. A request without an answer in time is sent again (same key, new inbox);
//! keyed commands already answered are repeated at random, to try the idempotency window.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::Subject;
use bytes::Bytes;
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use switchboard_core::Timestamp;

use crate::node::{Mark, Request};

const SERVICES: [&str; 3] = ["council_tax", "housing", "parking"];
const CHANNELS: [&str; 3] = ["phone", "chat", "email"];
const DESKS: usize = 4;

/// How long a client waits for a reply before sending again.
const REPLY_WAIT: Duration = Duration::from_secs(3);

/// How many times a client sends a request before it gives up.
const ATTEMPTS_MAX: u32 = 4;

/// Who sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Phone,
    Desk(usize),
    Wall,
}

/// A request waiting for its reply.
#[derive(Clone, Debug)]
struct Pending {
    owner: Owner,
    subject: String,
    payload: Bytes,
    msg_id: Option<String>,
    sent_at: Timestamp,
    attempts: u32,
}

/// An agent's desktop, as it believes things are.
#[derive(Debug)]
struct Desk {
    id: String,
    logged_in: bool,
    /// An offer it heard of and has not answered.
    offer: Option<u64>,
    /// The contact it works on, and when it will be done.
    working: Option<(String, Timestamp)>,
    /// It owes the engine a `ready`.
    ready_due: bool,
    /// One of its requests is out.
    waiting: bool,
    next_act: Timestamp,
}

/// What the clients send.
#[derive(Debug)]
pub(super) enum Outgoing {
    /// A request (command or query), on a lane that keeps its sender's order.
    Request { request: Request, lane: String },
    /// A command published to the durable intake.
    Intake {
        subject: String,
        msg_id: String,
        payload: Bytes,
    },
}

/// Everyone around the engine.
#[derive(Debug)]
pub(super) struct Clients {
    prefix: String,
    desks: Vec<Desk>,
    pending: BTreeMap<String, Pending>,
    contacts: Vec<String>,
    /// Keyed commands sent, to repeat (subject, body, header key).
    keyed: Vec<(String, Bytes, Option<String>)>,
    next_contact: u64,
    next_inbox: u64,
    /// Whether new work comes in (off once the faults stop).
    pub(super) busy: bool,
}

impl Clients {
    pub(super) fn new(prefix: &str) -> Self {
        let desks = (0..DESKS)
            .map(|i| Desk {
                id: format!("a{i}"),
                logged_in: false,
                offer: None,
                working: None,
                ready_due: false,
                waiting: false,
                next_act: Timestamp::EPOCH,
            })
            .collect();
        Self {
            prefix: prefix.to_owned(),
            desks,
            pending: BTreeMap::new(),
            contacts: Vec::new(),
            keyed: Vec::new(),
            next_contact: 0,
            next_inbox: 0,
            busy: true,
        }
    }

    /// Whether every request has been answered or given up on.
    pub(super) fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    /// One step of everyone's doings.
    pub(super) fn act(&mut self, rng: &mut ChaCha8Rng, now: Timestamp, out: &mut Vec<Outgoing>) {
        self.retry(now, out);
        if !self.busy {
            return;
        }
        if rng.random_bool(0.15) {
            self.create(rng, now, out);
        }
        if rng.random_bool(0.02)
            && let Some(contact) = self.contacts.choose(rng).cloned()
        {
            let body = json!({"contact_id": contact});
            let subject = format!("{}.cmd.contact.abandon", self.prefix);
            self.send(Owner::Phone, subject, &body, None, now, out);
        }
        if rng.random_bool(0.03)
            && let Some((subject, payload, msg_id)) = self.keyed.choose(rng).cloned()
        {
            self.send_bytes(Owner::Phone, subject, payload, msg_id, now, out);
        }
        if rng.random_bool(0.03) {
            self.wallboard(rng, now, out);
        }
        for desk in 0..self.desks.len() {
            self.desk(desk, rng, now, out);
        }
    }

    fn create(&mut self, rng: &mut ChaCha8Rng, now: Timestamp, out: &mut Vec<Outgoing>) {
        let n = self.next_contact;
        self.next_contact += 1;
        let contact = format!("c{n}");
        let mut body = json!({
            "contact_id": contact,
            "channel": CHANNELS.choose(rng).copied().unwrap_or("phone"),
            "service": SERVICES.choose(rng).copied().unwrap_or("housing"),
        });
        // Personal data, which must reach the log only sealed: a customer reference (a few
        // customers come back), a caller's number and a name.
        if rng.random_bool(0.5) {
            body["customer_id"] = json!(format!("{CUSTOMER}{}", n % 7));
        }
        body["attributes"] = json!({"caller": format!("{CALLER}{n:05}"), "name": NAME});
        self.contacts.push(contact);
        if rng.random_bool(0.25) {
            out.push(Outgoing::Intake {
                subject: format!("{}.inbox.contact.create", self.prefix),
                msg_id: format!("in-{n}"),
                payload: Bytes::from(body.to_string()),
            });
            return;
        }
        let subject = format!("{}.cmd.contact.create", self.prefix);
        let choice = rng.random_range(0..10);
        let msg_id = (choice < 3).then(|| format!("m-{n}"));
        if (3..6).contains(&choice) {
            body["command_id"] = json!(format!("k-{n}"));
        }
        let payload = Bytes::from(body.to_string());
        if choice < 6 {
            self.keyed
                .push((subject.clone(), payload.clone(), msg_id.clone()));
        }
        self.send_bytes(Owner::Phone, subject, payload, msg_id, now, out);
    }

    fn wallboard(&mut self, rng: &mut ChaCha8Rng, now: Timestamp, out: &mut Vec<Outgoing>) {
        let (what, body) = match rng.random_range(0..3) {
            0 => ("queues", json!({})),
            1 => ("agents", json!({})),
            _ => match self.contacts.choose(rng) {
                Some(contact) => ("contact", json!({"contact_id": contact})),
                None => ("queues", json!({})),
            },
        };
        let subject = format!("{}.query.{what}", self.prefix);
        self.send(Owner::Wall, subject, &body, None, now, out);
    }

    /// A desktop's next move, if it has one now.
    fn desk(&mut self, i: usize, rng: &mut ChaCha8Rng, now: Timestamp, out: &mut Vec<Outgoing>) {
        let desk = &mut self.desks[i];
        if desk.waiting || desk.next_act > now {
            return;
        }
        desk.next_act = now + Duration::from_millis(rng.random_range(100..2_000));
        let agent = desk.id.clone();
        let (verb, body) = if !desk.logged_in {
            let skills: BTreeMap<&str, u8> = SERVICES.iter().map(|s| (*s, 3)).collect();
            let login = json!({"name": agent, "tier": 1, "site": "hq", "skills": skills});
            ("login", login)
        } else if let Some(offer) = desk.offer.take() {
            if rng.random_bool(0.85) {
                ("accept", json!({"offer_id": offer}))
            } else {
                ("reject", json!({"offer_id": offer, "reason": "busy"}))
            }
        } else if let Some((contact, done_at)) = desk.working.clone() {
            if done_at > now {
                return;
            }
            desk.working = None;
            desk.ready_due = true;
            (
                "complete",
                json!({"contact_id": contact, "outcome": "resolved"}),
            )
        } else if rng.random_bool(0.03) {
            ("logout", json!({}))
        } else if rng.random_bool(0.05) {
            desk.ready_due = true;
            ("not_ready", json!({"reason": "break"}))
        } else if desk.ready_due || rng.random_bool(0.1) {
            desk.ready_due = false;
            ("ready", json!({}))
        } else {
            return;
        };
        desk.waiting = true;
        let mut body = body;
        if rng.random_bool(0.3) {
            body["command_id"] = json!(format!("{agent}-{}", self.next_inbox));
        }
        let subject = format!("{}.cmd.agent.{agent}.{verb}", self.prefix);
        if body.get("command_id").is_some() {
            let payload = Bytes::from(body.to_string());
            self.keyed.push((subject.clone(), payload, None));
        }
        self.send(Owner::Desk(i), subject, &body, None, now, out);
    }

    fn send(
        &mut self,
        owner: Owner,
        subject: String,
        body: &Value,
        msg_id: Option<String>,
        now: Timestamp,
        out: &mut Vec<Outgoing>,
    ) {
        let payload = Bytes::from(body.to_string());
        self.send_bytes(owner, subject, payload, msg_id, now, out);
    }

    fn send_bytes(
        &mut self,
        owner: Owner,
        subject: String,
        payload: Bytes,
        msg_id: Option<String>,
        now: Timestamp,
        out: &mut Vec<Outgoing>,
    ) {
        let pending = Pending {
            owner,
            subject,
            payload,
            msg_id,
            sent_at: now,
            attempts: 1,
        };
        self.dispatch(pending, out);
    }

    /// Sends `pending` on a new inbox.
    fn dispatch(&mut self, pending: Pending, out: &mut Vec<Outgoing>) {
        let inbox = format!("_INBOX.{}", self.next_inbox);
        self.next_inbox += 1;
        let lane = format!("{:?}:{}", pending.owner, pending.subject);
        out.push(Outgoing::Request {
            request: Request {
                subject: Subject::from(pending.subject.as_str()),
                reply: Some(Subject::from(inbox.as_str())),
                content_type: None,
                msg_id: pending.msg_id.clone(),
                payload: pending.payload.clone(),
                mark: Mark(0),
            },
            lane,
        });
        self.pending.insert(inbox, pending);
    }

    /// Requests without an answer in time go again (a wallboard just asks again later).
    fn retry(&mut self, now: Timestamp, out: &mut Vec<Outgoing>) {
        let late: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_since(p.sent_at) >= REPLY_WAIT)
            .map(|(inbox, _)| inbox.clone())
            .collect();
        for inbox in late {
            let Some(mut pending) = self.pending.remove(&inbox) else {
                continue;
            };
            if pending.owner == Owner::Wall || pending.attempts >= ATTEMPTS_MAX {
                self.gave_up(pending.owner);
                continue;
            }
            pending.attempts += 1;
            pending.sent_at = now;
            self.dispatch(pending, out);
        }
    }

    fn gave_up(&mut self, owner: Owner) {
        if let Owner::Desk(i) = owner {
            self.desks[i].waiting = false;
        }
    }

    /// A message on a subject some client listens to: a reply, or a desktop's notice.
    pub(super) fn receive(
        &mut self,
        rng: &mut ChaCha8Rng,
        subject: &str,
        body: &[u8],
        now: Timestamp,
        out: &mut Vec<Outgoing>,
    ) {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        if let Some(pending) = self.pending.remove(subject) {
            if value["error"]["code"] == "unavailable" && pending.attempts < ATTEMPTS_MAX {
                let mut pending = pending;
                pending.attempts += 1;
                pending.sent_at = now;
                self.dispatch(pending, out);
                return;
            }
            if let Owner::Desk(i) = pending.owner {
                self.desk_reply(i, &pending.subject, &value, rng, now);
            }
            return;
        }
        for desk in &mut self.desks {
            if subject == format!("{}.agent.{}.offer", self.prefix, desk.id) {
                desk.offer = value["offer_id"].as_u64();
            }
        }
    }

    fn desk_reply(
        &mut self,
        i: usize,
        subject: &str,
        reply: &Value,
        rng: &mut ChaCha8Rng,
        now: Timestamp,
    ) {
        let desk = &mut self.desks[i];
        desk.waiting = false;
        let ok = reply["ok"] == true;
        let verb = subject.rsplit('.').next().unwrap_or_default();
        match verb {
            "login" if ok => {
                desk.logged_in = true;
                desk.ready_due = true;
            }
            "logout" if ok => desk.logged_in = false,
            "accept" if ok => {
                if let Some(contact) = reply["contact_id"].as_str() {
                    let done_at = now + Duration::from_millis(rng.random_range(500..8_000));
                    desk.working = Some((contact.to_owned(), done_at));
                }
            }
            _ if reply["error"]["code"] == "unknown_agent" => desk.logged_in = false,
            _ => {}
        }
    }
}

/// What every customer reference the clients send starts with.
const CUSTOMER: &str = "CUST-PD-";
/// What every caller number they send starts with.
const CALLER: &str = "07700 9";
/// The name they send.
const NAME: &str = "Alice Example";

/// Whether `bytes` hold any of the personal data the clients send, in plaintext.
pub(super) fn holds_personal_data(bytes: &[u8]) -> bool {
    [CUSTOMER, CALLER, NAME]
        .iter()
        .any(|needle| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
}
