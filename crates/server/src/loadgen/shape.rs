//! What one contact is on the wire, read off the engine itself: a short template phase is
//! watched by a connection of its own subscribed to every subject, which records the size of each reply by command, each desktop notice by the
//! command that caused it, and each event by type. The protocol relay (`protocol`) then sends
//! exactly that per contact: the same messages, of the same sizes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::Client;
use futures::StreamExt;

use super::agents::Names;

/// The commands a contact is, in the order an agent sends them.
pub(super) const VERBS: [&str; 4] = ["create", "accept", "complete", "ready"];

/// How long the template phase's last events may take to reach the events stream.
const SETTLE_WAIT: Duration = Duration::from_secs(10);

/// One kind of message and its size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(super) struct Sized {
    /// The notice's name (last subject token) or the event's type.
    pub(super) name: String,
    /// Body bytes.
    pub(super) bytes: usize,
}

/// What the engine sends for one command of a contact, besides the offer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub(super) struct Answer {
    /// The reply's body bytes.
    pub(super) reply_bytes: usize,
    /// Desktop notices to the agent, in order.
    pub(super) notices: Vec<Sized>,
    /// Events into the events stream, in order.
    pub(super) events: Vec<Sized>,
}

/// One contact's messages, per command (`VERBS`), and the offer's size.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub(super) struct Shape {
    pub(super) answers: HashMap<String, Answer>,
    pub(super) offer_bytes: usize,
    /// Cluster mode: the mean payload of the log records the engine appended to its log stream
    /// (`<prefix>.log`) while watched (0 when it appended none: the file log is not on the
    /// wire).
    pub(super) log_record_bytes: usize,
    /// How many log records it appended per contact while watched (rounded to a tenth; one per
    /// event, which is what the relay appends).
    pub(super) log_records_per_contact: f64,
}

impl Shape {
    /// What answers `verb` (an empty answer for a command not seen).
    pub(super) fn answer(&self, verb: &str) -> Answer {
        self.answers.get(verb).cloned().unwrap_or_default()
    }

    /// Messages per contact into nats-server that the shape accounts for (commands, replies,
    /// the offer, notices, events).
    pub(super) fn messages_per_contact(&self) -> usize {
        let per_verb: usize = VERBS
            .iter()
            .map(|verb| {
                let answer = self.answer(verb);
                2 + answer.notices.len() + answer.events.len()
            })
            .sum();
        per_verb + 1
    }
}

/// The command an event of this type answers (the domain's: a create makes the contact and its
/// offer, an accept takes it, a complete ends it and starts wrap-up, a ready ends wrap-up).
fn event_verb(kind: &str) -> &'static str {
    match kind {
        "offer_accepted" => "accept",
        "contact_completed" | "wrap_up_started" => "complete",
        "wrap_up_ended" => "ready",
        _ => "create",
    }
}

/// What the watcher has seen so far.
#[derive(Debug, Default)]
struct Seen {
    /// Reply subject → the command it answers.
    pending: HashMap<String, String>,
    /// Agent → its last command, to which its next notices are put down.
    last_verb: HashMap<String, String>,
    /// Reply sizes by command.
    replies: HashMap<String, Vec<usize>>,
    /// Notice sizes by (command, notice name), in the order first seen.
    notices: Vec<((String, String), Vec<usize>)>,
    /// Every event seen: its number (`Switchboard-Seq`), type and size.
    events: Vec<(u64, String, usize)>,
    /// The first contact created while watched, and the number of its first event: events
    /// before it were decided before the template began (the feed publishes after the log).
    first_contact: Option<String>,
    first_event: Option<u64>,
    offer_bytes: usize,
    /// The payload size of each log record seen on the log stream's subject.
    log_records: Vec<usize>,
}

/// What the watcher reads of one message.
struct Seen1<'a> {
    subject: &'a str,
    reply: Option<&'a str>,
    /// The events stream's number, on an event.
    seq: Option<u64>,
    body: &'a [u8],
}

fn push<K: PartialEq>(list: &mut Vec<(K, Vec<usize>)>, key: K, bytes: usize) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, sizes)) => sizes.push(bytes),
        None => list.push((key, vec![bytes])),
    }
}

impl Seen {
    fn take(&mut self, names: &Names, message: &Seen1<'_>) {
        let Seen1 {
            subject,
            reply,
            seq,
            body,
        } = *message;
        let bytes = body.len();
        let p = names.prefix.as_str();
        if let Some(rest) = subject.strip_prefix(&format!("{p}.cmd.")) {
            let verb = rest.rsplit('.').next().unwrap_or("");
            if verb == "create" && self.first_contact.is_none() {
                self.first_contact = first_contact_id(body);
            }
            if let (Some(reply), Some(verb)) = (reply, VERBS.iter().find(|v| **v == verb)) {
                self.pending.insert(reply.to_owned(), (*verb).to_owned());
            }
            if let Some(agent) = rest.strip_prefix("agent.").and_then(|r| r.rsplit_once('.')) {
                self.last_verb
                    .insert(agent.0.to_owned(), agent.1.to_owned());
            }
        } else if let Some(rest) = subject.strip_prefix(&format!("{p}.agent.")) {
            let Some((agent, notice)) = rest.rsplit_once('.') else {
                return;
            };
            if notice == "offer" {
                self.offer_bytes = bytes;
            } else if let Some(verb) = self.last_verb.get(agent) {
                push(&mut self.notices, (verb.clone(), notice.to_owned()), bytes);
            }
        } else if let Some(kind) = subject.strip_prefix(&format!("{p}.events.")) {
            let seq = seq.unwrap_or(0);
            if self.first_event.is_none()
                && let Some(first) = &self.first_contact
                && contains(body, format!("\"{first}\"").as_bytes())
            {
                self.first_event = Some(seq);
            }
            self.events.push((seq, kind.to_owned(), bytes));
        } else if subject == format!("{p}.log") {
            let bound = switchboard_log::LogOptions::default().record_bytes_max;
            if let Ok(record) = switchboard_log::unframe_record(body, bound) {
                self.log_records.push(record.payload.len());
            }
        } else if let Some(verb) = self.pending.remove(subject) {
            self.replies.entry(verb).or_default().push(bytes);
        }
    }

    fn count(&self, verb: &str) -> usize {
        self.replies.get(verb).map_or(0, Vec::len)
    }

    /// The template's events, by type in the order first seen, with their sizes.
    fn template_events(&self) -> Vec<(String, Vec<usize>)> {
        let mut events = Vec::new();
        let Some(first) = self.first_event else {
            return events;
        };
        for (_, kind, bytes) in self.events.iter().filter(|(seq, ..)| *seq >= first) {
            push(&mut events, kind.clone(), *bytes);
        }
        events
    }

    fn events_of(&self, kind: &str) -> usize {
        self.template_events()
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, sizes)| sizes.len())
    }

    /// The shape of one of `contacts` contacts: each kind sent as often per contact as seen
    /// (rounded), at its mean size.
    fn shape(&self, contacts: usize) -> Shape {
        let mean = |sizes: &[usize]| sizes.iter().sum::<usize>() / sizes.len().max(1);
        let contacts = contacts.max(1);
        // How many a contact has, to the nearest whole.
        let repeat = |sizes: &[usize]| (sizes.len() + contacts / 2) / contacts;
        let mut answers: HashMap<String, Answer> = VERBS
            .iter()
            .map(|verb| {
                let reply_bytes = self.replies.get(*verb).map_or(0, |s| mean(s));
                let answer = Answer {
                    reply_bytes,
                    ..Answer::default()
                };
                ((*verb).to_owned(), answer)
            })
            .collect();
        for ((verb, name), sizes) in &self.notices {
            if let Some(answer) = answers.get_mut(verb) {
                for _ in 0..repeat(sizes) {
                    let bytes = mean(sizes);
                    let name = name.clone();
                    answer.notices.push(Sized { name, bytes });
                }
            }
        }
        for (kind, sizes) in &self.template_events() {
            if let Some(answer) = answers.get_mut(event_verb(kind)) {
                for _ in 0..repeat(sizes) {
                    let bytes = mean(sizes);
                    let name = kind.clone();
                    answer.events.push(Sized { name, bytes });
                }
            }
        }
        let per_contact = self.log_records.len() as f64 / contacts as f64;
        Shape {
            answers,
            offer_bytes: self.offer_bytes,
            log_record_bytes: mean(&self.log_records),
            log_records_per_contact: (per_contact * 10.0).round() / 10.0,
        }
    }
}

/// The `contact_id` of a create command's body.
fn first_contact_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Create {
        contact_id: String,
    }
    serde_json::from_slice::<Create>(body)
        .ok()
        .map(|c| c.contact_id)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Watches the engine's traffic under `names` while `phase` runs `contacts` contacts, until
/// each contact's last command is answered and its last event is in the stream (bounded), and
/// returns the shape of one contact.
pub(super) async fn watch<F>(url: &str, names: &Names, contacts: usize, phase: F) -> Result<Shape>
where
    F: Future<Output = ()>,
{
    let client = async_nats::ConnectOptions::new()
        .name("switchboard-loadgen-watcher")
        .connect(url)
        .await
        .context("the watcher could not connect")?;
    // One subscription to everything, so that the messages come in the order nats-server
    // routed them (an agent's notice after the command that caused it); the rest is skipped.
    let everything = client.subscribe(">").await?;
    round_trip(&client).await?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let changed = Arc::new(tokio::sync::Notify::new());
    let recorder = tokio::spawn(record(
        everything,
        names.clone(),
        seen.clone(),
        changed.clone(),
    ));
    phase.await;
    let settled = tokio::time::timeout(SETTLE_WAIT, async {
        loop {
            let notified = changed.notified();
            {
                let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
                if seen.count("ready") >= contacts && seen.events_of("wrap_up_ended") >= contacts {
                    break;
                }
            }
            notified.await;
        }
    })
    .await;
    if settled.is_err() {
        tracing::warn!("the template contacts did not all finish; their shape is from what did");
    }
    recorder.abort();
    let shape = seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .shape(contacts);
    Ok(shape)
}

/// Returns once nats-server has taken every subscription of `client` (it answers a request
/// only after the operations sent before it).
async fn round_trip(client: &Client) -> Result<()> {
    client
        .flush()
        .await
        .context("the watcher could not flush")?;
    // A request nobody answers still comes back (no responders), after the subscriptions.
    let _ = client
        .request("loadgen.watcher.ping".to_owned(), bytes::Bytes::new())
        .await;
    Ok(())
}

async fn record(
    mut messages: async_nats::Subscriber,
    names: Names,
    seen: Arc<Mutex<Seen>>,
    changed: Arc<tokio::sync::Notify>,
) {
    while let Some(message) = messages.next().await {
        let seq = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Switchboard-Seq"))
            .and_then(|v| v.as_str().parse().ok());
        let seen1 = Seen1 {
            subject: &message.subject,
            reply: message.reply.as_deref(),
            seq,
            body: &message.payload,
        };
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(&names, &seen1);
        changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message of `bytes` bytes (the body holds `text` at its start).
    fn see(
        seen: &mut Seen,
        subject: &str,
        reply: Option<&str>,
        seq: Option<u64>,
        text: &str,
        bytes: usize,
    ) {
        let mut body = text.as_bytes().to_vec();
        body.resize(bytes.max(body.len()), b' ');
        let names = Names::new("sb", 1);
        let message = Seen1 {
            subject,
            reply,
            seq,
            body: &body,
        };
        seen.take(&names, &message);
    }

    #[test]
    fn a_contact_is_read_off_its_messages() {
        let mut seen = Seen::default();
        // An event of a contact decided before the template began: not counted.
        see(&mut seen, "sb.events.wrap_up_ended", None, Some(1), "", 90);
        let mut seq = 1;
        for contact in 0..2 {
            let inbox = |verb: &str| format!("_INBOX.x.{verb}{contact}");
            let id = format!(r#"{{"contact_id":"c{contact}"}}"#);
            see(
                &mut seen,
                "sb.cmd.contact.create",
                Some(&inbox("c")),
                None,
                &id,
                100,
            );
            see(&mut seen, &inbox("c"), None, None, "", 50);
            see(&mut seen, "sb.agent.a1.offer", None, None, "", 600);
            for (kind, bytes) in [("contact_created", 300), ("offer_made", 400)] {
                seq += 1;
                let subject = format!("sb.events.{kind}");
                see(&mut seen, &subject, None, Some(seq), &id, bytes);
            }
            see(
                &mut seen,
                "sb.cmd.agent.a1.accept",
                Some(&inbox("a")),
                None,
                "",
                20,
            );
            see(&mut seen, &inbox("a"), None, None, "", 30 + contact * 2);
            see(&mut seen, "sb.agent.a1.assigned", None, None, "", 200);
            seq += 1;
            see(
                &mut seen,
                "sb.events.offer_accepted",
                None,
                Some(seq),
                "",
                250,
            );
        }
        let shape = seen.shape(2);
        assert_eq!(shape.offer_bytes, 600);
        let create = shape.answer("create");
        assert_eq!(create.reply_bytes, 50);
        assert_eq!(create.events.len(), 2);
        assert!(create.notices.is_empty());
        let accept = shape.answer("accept");
        assert_eq!(accept.reply_bytes, 31);
        assert_eq!(
            accept.notices,
            vec![Sized {
                name: "assigned".to_owned(),
                bytes: 200
            }]
        );
        assert_eq!(accept.events.len(), 1);
        assert_eq!(shape.answer("ready"), Answer::default());
        // create 2 + offer 1 + 2 events; accept 2 + 1 notice + 1 event; complete 2; ready 2.
        assert_eq!(shape.messages_per_contact(), 13);
    }
}
