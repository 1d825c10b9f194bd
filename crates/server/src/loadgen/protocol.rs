//! The **protocol relay**: the floor the engine is judged against (DESIGN.md, "Performance
//! budget"). It speaks the engine's wire contract under a prefix of its own and does, per
//! contact, the engine's NATS work without routing: it answers the same four commands with
//! replies of the same sizes, publishes an offer of the same size to the agent's subject and the
//! same desktop notices, and puts the same events into a JetStream stream of the same kind (file
//! storage, 120 s duplicate window), each with `Nats-Msg-Id`, `Switchboard-Seq` and
//! `Nats-Expected-Last-Msg-Id`, its acknowledgement awaited with at most 256 in flight, as the
//! engine's events feed. Each batch of commands (whatever has arrived, up to 1,024) is handed
//! with its answers' events to a committer thread, which appends whatever batches have queued
//! with one write and one `fdatasync` (group commit, as the engine's log); a batch's answers go
//! out once it is durable, and the loop takes the next batch meanwhile, as the engine's does. The sizes come from the
//! engine itself (`shape`).
//!
//! Its only state: the logged-in agents (an offer goes to the next one round the list, with no
//! look at skills or who is busy), the next offer id and the next event number.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use async_nats::jetstream::{self, stream};
use async_nats::{Client, HeaderMap, Message, Subject};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::oneshot;

use super::shape::Shape;

/// The most commands one batch takes (the engine's default `batch_max`).
const BATCH_MAX: usize = 1024;

/// The most events published and not yet acknowledged (the engine's feed window).
const WINDOW_EVENTS_MAX: usize = 256;

/// What the relay counted, readable while it runs.
#[derive(Debug, Default)]
pub(super) struct Counts {
    /// Events JetStream acknowledged as stored.
    pub(super) stored: AtomicU64,
    /// Events not acknowledged as stored (an error or a timeout).
    pub(super) failed: AtomicU64,
}

/// A running protocol relay; stopped (its stream removed, its thread waited for) on drop.
pub(super) struct ProtocolRelay {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The ids of the relay's thread and its committer's (for their CPU time), as Linux tells
    /// them.
    tids: Vec<u32>,
    counts: Arc<Counts>,
}

impl std::fmt::Debug for ProtocolRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtocolRelay")
            .field("tids", &self.tids)
            .finish_non_exhaustive()
    }
}

/// Where the relay listens and writes.
#[derive(Debug, Clone)]
pub(super) struct Setup {
    /// The NATS server.
    pub(super) url: String,
    /// Its wire contract's subject prefix.
    pub(super) prefix: String,
    /// Its events stream's name (removed when the relay stops).
    pub(super) stream: String,
    /// The file each batch is appended to.
    pub(super) file: PathBuf,
    /// What one contact is on the wire.
    pub(super) shape: Arc<Shape>,
}

impl ProtocolRelay {
    /// Starts the relay on its own thread and single-threaded runtime (as `switchboard serve`
    /// runs its loop); returns once it is subscribed and its stream made.
    pub(super) async fn start(setup: Setup) -> Result<Self> {
        let (ready, subscribed) = oneshot::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let counts = Arc::new(Counts::default());
        let relay_counts = counts.clone();
        let thread = super::relay::on_own_thread("loadgen-protocol", ready, move |ready| {
            run(setup, relay_counts, ready, stopped)
        })?;
        let tids = subscribed
            .await
            .context("the protocol relay stopped before it subscribed")??;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
            tids,
            counts,
        })
    }

    /// The CPU time of the relay's thread and its committer's so far (`None` unless both are
    /// known).
    pub(super) fn cpu_time(&self) -> Option<std::time::Duration> {
        if self.tids.len() < 2 {
            return None;
        }
        self.tids
            .iter()
            .map(|tid| super::machine::thread_cpu_time(*tid))
            .sum()
    }

    /// What it has counted.
    pub(super) fn counts(&self) -> &Counts {
        &self.counts
    }
}

impl Drop for ProtocolRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the protocol relay's thread panicked");
        }
    }
}

/// This thread's id, from `/proc/thread-self` (`<pid>/task/<tid>`).
fn thread_id() -> Option<u32> {
    std::fs::read_link("/proc/thread-self")
        .ok()?
        .file_name()?
        .to_str()?
        .parse()
        .ok()
}

async fn run(
    setup: Setup,
    counts: Arc<Counts>,
    ready: oneshot::Sender<Result<Vec<u32>>>,
    stopped: oneshot::Receiver<()>,
) {
    let (mut relay, commands) = match Relay::open(&setup, counts).await {
        Ok(parts) => {
            let tids = [thread_id(), parts.0.committer_tid].into_iter().flatten();
            let _ = ready.send(Ok(tids.collect()));
            parts
        }
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    tokio::select! {
        result = relay.serve(commands) => {
            if let Err(error) = result {
                tracing::warn!("the protocol relay stopped: {error:#}");
            }
        }
        _ = stopped => {}
    }
    if let Err(error) = relay.js.delete_stream(&setup.stream).await {
        tracing::warn!(%error, "could not remove the protocol relay's stream");
    }
}

/// A reply, offer or notice: its subject and body.
type Outgoing = (Subject, Bytes);

/// An event: its number, subject and body.
type Event = (u64, Subject, Bytes);

/// A JetStream acknowledgement: whether the event was stored.
type Acked = BoxFuture<'static, bool>;

struct Relay {
    client: Client,
    js: jetstream::Context,
    prefix: String,
    shape: Arc<Shape>,
    /// Batches to the committer thread: a number and the bytes to append.
    to_commit: std::sync::mpsc::Sender<(u64, Vec<u8>)>,
    /// The last batch durable, from the committer thread (an error ends the relay).
    committed: tokio::sync::mpsc::UnboundedReceiver<Result<u64, String>>,
    /// The committer thread's id.
    committer_tid: Option<u32>,
    /// The last batch handed to the committer.
    last_batch: u64,
    /// Batches written and not yet durable: their replies, offers and notices, and events.
    waiting: VecDeque<(u64, Vec<Outgoing>, Vec<Event>)>,
    /// The logged-in agents, in the order they logged in.
    agents: Vec<String>,
    /// The agent the next offer goes to (an index into `agents`, round the list).
    next_agent: usize,
    next_offer: u64,
    /// The last event numbered.
    last_event: u64,
    /// Replies, offers and notices of the batch being answered.
    out: Vec<(Subject, Bytes)>,
    /// Events of the batch being answered.
    batch_events: Vec<(u64, Subject, Bytes)>,
    /// Durable events waiting for room in the window.
    events: VecDeque<(u64, Subject, Bytes)>,
    acks: FuturesUnordered<Acked>,
    counts: Arc<Counts>,
}

impl Relay {
    async fn open(setup: &Setup, counts: Arc<Counts>) -> Result<(Self, async_nats::Subscriber)> {
        let client = async_nats::ConnectOptions::new()
            .name("switchboard-loadgen-protocol-relay")
            .connect(&setup.url)
            .await
            .context("the protocol relay could not connect")?;
        let js = jetstream::new(client.clone());
        let prefix = setup.prefix.clone();
        js.get_or_create_stream(stream::Config {
            name: setup.stream.clone(),
            subjects: vec![format!("{prefix}.events.>")],
            storage: stream::StorageType::File,
            duplicate_window: std::time::Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .context("the protocol relay could not make its stream")?;
        let commands = client.subscribe(format!("{prefix}.cmd.>")).await?;
        // The stream's answer came after the subscription: nats-server routes commands here.
        js.get_stream(&setup.stream)
            .await
            .context("the protocol relay could not read its stream")?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&setup.file)
            .with_context(|| format!("could not open {}", setup.file.display()))?;
        let (to_commit, committed, committer_tid) = committer(file)?;
        let relay = Self {
            client,
            js,
            prefix,
            shape: setup.shape.clone(),
            to_commit,
            committed,
            committer_tid,
            last_batch: 0,
            waiting: VecDeque::new(),
            agents: Vec::new(),
            next_agent: 0,
            next_offer: 0,
            last_event: 0,
            out: Vec::new(),
            batch_events: Vec::new(),
            events: VecDeque::new(),
            acks: FuturesUnordered::new(),
            counts,
        };
        Ok((relay, commands))
    }

    /// Takes batches of commands and acknowledgements until the subscription ends.
    async fn serve(&mut self, mut commands: async_nats::Subscriber) -> Result<()> {
        let mut batch = Vec::with_capacity(BATCH_MAX);
        loop {
            tokio::select! {
                biased;
                Some(stored) = self.acks.next(), if !self.acks.is_empty() => {
                    self.acked(stored);
                    // Whatever else is answered already, then the events that now fit.
                    while let Some(Some(stored)) = self.acks.next().now_or_never() {
                        self.acked(stored);
                    }
                    if self.publish_events().await? {
                        self.client.flush().await?;
                    }
                }
                durable = self.committed.recv() => {
                    match durable {
                        Some(Ok(durable)) => self.release(durable).await?,
                        Some(Err(error)) => anyhow::bail!("the protocol relay's log: {error}"),
                        None => anyhow::bail!("the protocol relay's committer stopped"),
                    }
                }
                first = commands.next() => {
                    let Some(first) = first else { return Ok(()) };
                    batch.push(first);
                    while batch.len() < BATCH_MAX {
                        match commands.next().now_or_never() {
                            Some(Some(message)) => batch.push(message),
                            _ => break,
                        }
                    }
                    self.batch(&mut batch).await?;
                }
            }
        }
    }

    fn acked(&self, stored: bool) {
        let count = if stored {
            &self.counts.stored
        } else {
            &self.counts.failed
        };
        count.fetch_add(1, Ordering::Relaxed);
    }

    /// One batch: its answers made and handed to the committer thread with the batch's
    /// bytes, to go out once durable (as the engine hands a turn to its log's committer).
    async fn batch(&mut self, batch: &mut Vec<Message>) -> Result<()> {
        let mut bytes = Vec::new();
        for message in batch.drain(..) {
            bytes.extend_from_slice(&message.payload);
            self.answer(&message);
        }
        for (_, _, body) in &self.batch_events {
            bytes.extend_from_slice(body);
        }
        self.last_batch += 1;
        let out = std::mem::take(&mut self.out);
        let events = std::mem::take(&mut self.batch_events);
        self.waiting.push_back((self.last_batch, out, events));
        self.to_commit
            .send((self.last_batch, bytes))
            .map_err(|_| anyhow::anyhow!("the protocol relay's committer stopped"))
    }

    /// Sends what the batches up to `durable` answered: replies, offers and notices, then
    /// their events into the window.
    async fn release(&mut self, durable: u64) -> Result<()> {
        while self.waiting.front().is_some_and(|(n, ..)| *n <= durable) {
            let Some((_, out, events)) = self.waiting.pop_front() else {
                break;
            };
            for (subject, body) in out {
                self.client.publish(subject, body).await?;
            }
            self.events.extend(events);
        }
        self.publish_events().await?;
        self.client.flush().await?;
        Ok(())
    }

    /// Queues what answers one command: its reply, the offer (a create's), the notices to its
    /// agent and its events.
    fn answer(&mut self, message: &Message) {
        let Some(rest) = message
            .subject
            .strip_prefix(&format!("{}.cmd.", self.prefix))
        else {
            return;
        };
        let (agent, verb) = match rest.strip_prefix("agent.") {
            Some(agent_verb) => match agent_verb.rsplit_once('.') {
                Some((agent, verb)) => (Some(agent.to_owned()), verb),
                None => return,
            },
            None => (None, rest.rsplit('.').next().unwrap_or("")),
        };
        if verb == "login"
            && let Some(agent) = &agent
            && !self.agents.contains(agent)
        {
            self.agents.push(agent.clone());
        }
        let answer = self.shape.answer(verb);
        if let Some(reply) = &message.reply {
            let body = padded(r#"{"ok":true"#, answer.reply_bytes);
            self.out.push((reply.clone(), body));
        }
        let agent = match agent {
            Some(agent) => Some(agent),
            None if verb == "create" => self.offer(&message.payload),
            None => None,
        };
        if let Some(agent) = &agent {
            for notice in &answer.notices {
                let subject = format!("{}.agent.{agent}.{}", self.prefix, notice.name);
                let body = padded("{", notice.bytes);
                self.out.push((Subject::from(subject), body));
            }
        }
        for event in &answer.events {
            self.last_event += 1;
            let subject = Subject::from(format!("{}.events.{}", self.prefix, event.name));
            let head = format!(r#"{{"seq":{}"#, self.last_event);
            let body = padded(&head, event.bytes);
            self.batch_events.push((self.last_event, subject, body));
        }
    }

    /// Queues a create's offer to the next agent round the list; returns the agent.
    fn offer(&mut self, create: &[u8]) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Create<'a> {
            #[serde(borrow)]
            contact_id: &'a str,
        }
        let contact = serde_json::from_slice::<Create<'_>>(create)
            .ok()?
            .contact_id;
        let agent = self.agents.get(self.next_agent)?.clone();
        self.next_agent = (self.next_agent + 1) % self.agents.len();
        self.next_offer += 1;
        let head = format!(
            r#"{{"offer_id":{},"contact_id":"{contact}","agent_id":"{agent}""#,
            self.next_offer
        );
        let subject = format!("{}.agent.{agent}.offer", self.prefix);
        let body = padded(&head, self.shape.offer_bytes);
        self.out.push((Subject::from(subject), body));
        Some(agent)
    }

    /// Publishes held events while the window has room; returns whether it published any.
    async fn publish_events(&mut self) -> Result<bool> {
        let mut published = false;
        while self.acks.len() < WINDOW_EVENTS_MAX {
            let Some((seq, subject, body)) = self.events.pop_front() else {
                break;
            };
            let mut headers = HeaderMap::new();
            let number = seq.to_string();
            headers.insert("Nats-Msg-Id", number.as_str());
            headers.insert("Switchboard-Seq", number.as_str());
            if seq > 1 {
                let last = (seq - 1).to_string();
                headers.insert("Nats-Expected-Last-Msg-Id", last.as_str());
            }
            let ack: Acked = match self.js.publish_with_headers(subject, headers, body).await {
                Ok(ack) => async move { ack.await.is_ok() }.boxed(),
                Err(_) => std::future::ready(false).boxed(),
            };
            self.acks.push(ack);
            published = true;
        }
        Ok(published)
    }
}

/// Starts the committer thread on `file`: it takes every batch handed over, appends those that
/// have queued meanwhile with one write and one `fdatasync` (group commit, as the engine's
/// log), and answers with the last batch now durable. It ends when the relay drops its sender.
/// Also returns the thread's id.
#[expect(
    clippy::type_complexity,
    reason = "a pair of channel ends, named by the fields they go into, and an id"
)]
fn committer(
    mut file: File,
) -> Result<(
    std::sync::mpsc::Sender<(u64, Vec<u8>)>,
    tokio::sync::mpsc::UnboundedReceiver<Result<u64, String>>,
    Option<u32>,
)> {
    let (to_commit, batches) = std::sync::mpsc::channel::<(u64, Vec<u8>)>();
    let (durable, committed) = tokio::sync::mpsc::unbounded_channel();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("loadgen-protocol-log".to_owned())
        .spawn(move || {
            let _ = tid_tx.send(thread_id());
            let mut buffer = Vec::new();
            while let Ok((mut last, bytes)) = batches.recv() {
                buffer.clear();
                buffer.extend_from_slice(&bytes);
                while let Ok((next, bytes)) = batches.try_recv() {
                    last = next;
                    buffer.extend_from_slice(&bytes);
                }
                let written = file
                    .write_all(&buffer)
                    .and_then(|()| file.sync_data())
                    .map(|()| last)
                    .map_err(|error| error.to_string());
                let failed = written.is_err();
                if durable.send(written).is_err() || failed {
                    return;
                }
            }
        })
        .context("could not start the protocol relay's committer")?;
    let tid = tid_rx.recv().ok().flatten();
    Ok((to_commit, committed, tid))
}

/// A JSON object starting with `head` (an object's opening and its first fields, without the
/// closing brace), padded with a string field to `bytes` bytes when it is shorter.
fn padded(head: &str, bytes: usize) -> Bytes {
    // `,"pad":""}` is 10 bytes; an object with only `{` needs no comma.
    let comma = usize::from(head != "{");
    let fixed = head.len() + 9 + comma;
    let mut body = String::with_capacity(bytes.max(head.len() + 1));
    body.push_str(head);
    if bytes > fixed {
        if comma == 1 {
            body.push(',');
        }
        body.push_str(r#""pad":""#);
        body.extend(std::iter::repeat_n('.', bytes - fixed));
        body.push('"');
    }
    body.push('}');
    Bytes::from(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_bodies_are_json_of_the_size_asked() {
        for (head, bytes) in [(r#"{"ok":true"#, 80), ("{", 200), (r#"{"seq":12"#, 300)] {
            let body = padded(head, bytes);
            assert_eq!(body.len(), bytes, "{head}");
            let value: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            assert!(value.is_object());
        }
        // Too small to pad: the head, closed.
        assert_eq!(padded(r#"{"ok":true"#, 3).as_ref(), br#"{"ok":true}"#);
    }
}
