//! The **protocol relay**: the floor the engine is judged against (DESIGN.md, "Performance
//! budget"). It speaks the engine's wire contract under a prefix of its own and does, per
//! contact, the engine's NATS work without routing: it answers the same four commands with
//! replies of the same sizes, publishes an offer of the same size to the agent's subject and the
//! same desktop notices, and puts the same events into a JetStream stream of the same kind (file
//! storage, 120 s duplicate window), each with `Nats-Msg-Id`, `Switchboard-Seq` and
//! `Nats-Expected-Last-Sequence`, its acknowledgement awaited with at most 256 in flight, as the
//! engine's events feed. Each batch of commands (whatever has arrived, up to 1,024) is handed
//! with its answers' events to a committer thread, which appends whatever batches have queued
//! with one write and one `fdatasync` (group commit, as the engine's log); a batch's answers go
//! out once it is durable, and the loop takes the next batch meanwhile, as the engine's does. The sizes come from the
//! engine itself (`shape`).
//!
//! In cluster mode (`loadgen --cluster`) it does a cluster-mode engine's work: its events stream
//! has three replicas, and the committer appends each group's log records (one per event, of the
//! engine's mean record size) to an R3 log stream of its own with jetlog's `JetStreamLog` (one
//! fenced atomic batch, `Nats-Expected-Last-Sequence` on its first message, as `MirroredLog`
//! does) before it writes and syncs its file, so that a batch's answers wait for both.
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
use switchboard_jetlog::{JetStreamConfig, JetStreamLog};
use switchboard_log::Entry;
use tokio::sync::{mpsc, oneshot};

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
    /// Cluster mode: log records the log stream acknowledged.
    pub(super) logged: AtomicU64,
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
    /// Cluster mode: the log stream each batch's records go to first (and the replicas of both
    /// streams).
    pub(super) log: Option<LogStream>,
}

/// Cluster mode's log stream (removed when the relay stops).
#[derive(Debug, Clone)]
pub(super) struct LogStream {
    /// Its name.
    pub(super) stream: String,
    /// The one subject it captures.
    pub(super) subject: String,
    /// Its replicas, and the events stream's.
    pub(super) replicas: usize,
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
    let streams = std::iter::once(&setup.stream).chain(setup.log.as_ref().map(|log| &log.stream));
    for stream in streams {
        if let Err(error) = relay.js.delete_stream(stream).await {
            tracing::warn!(%error, "could not remove the protocol relay's stream {stream}");
        }
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
    /// Batches to the committer thread.
    to_commit: mpsc::UnboundedSender<Commit>,
    /// The last batch durable, from the committer thread (an error ends the relay).
    committed: mpsc::UnboundedReceiver<Result<u64, String>>,
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
            num_replicas: setup.log.as_ref().map_or(1, |log| log.replicas),
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
        let log = setup.log.as_ref().map(|log| Log {
            url: setup.url.clone(),
            stream: log.clone(),
            record_bytes: setup.shape.log_record_bytes,
        });
        let (to_commit, committed, committer_tid) = committer(file, log, counts.clone()).await?;
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
        let records = events.len();
        self.waiting.push_back((self.last_batch, out, events));
        let commit = Commit {
            number: self.last_batch,
            bytes,
            records,
        };
        self.to_commit
            .send(commit)
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
            // Its stream is its own and new: event `seq - 1` is at stream sequence `seq - 1`.
            let last = (seq - 1).to_string();
            headers.insert("Nats-Expected-Last-Sequence", last.as_str());
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

/// A batch handed to the committer: its number, the bytes to append to the file, and how many
/// log records (one per event) it has.
struct Commit {
    number: u64,
    bytes: Vec<u8>,
    records: usize,
}

/// Cluster mode's log, as the committer opens it.
struct Log {
    url: String,
    stream: LogStream,
    /// Each record's payload bytes (the engine's mean).
    record_bytes: usize,
}

/// Starts the committer thread on `file` (and, in cluster mode, `log`, opened on a connection
/// of its own): it takes every batch handed over and commits those that have queued meanwhile
/// together (group commit, as the engine's log): their records to the log stream as one fenced
/// atomic batch, then one write and one `fdatasync`; and answers with the last batch now
/// durable. It runs a single-threaded runtime of its own (so its connection is served while
/// it waits), and ends when the relay drops its sender. Also returns the thread's id.
async fn committer(
    file: File,
    log: Option<Log>,
    counts: Arc<Counts>,
) -> Result<(
    mpsc::UnboundedSender<Commit>,
    mpsc::UnboundedReceiver<Result<u64, String>>,
    Option<u32>,
)> {
    let (to_commit, batches) = mpsc::unbounded_channel::<Commit>();
    let (durable, committed) = mpsc::unbounded_channel();
    let (ready, opened) = oneshot::channel();
    super::relay::on_own_thread("loadgen-protocol-log", ready, move |ready| async move {
        let stream = match log {
            None => None,
            Some(log) => match open_log(&log).await {
                Ok(stream) => Some((stream, log.record_bytes)),
                Err(error) => {
                    let _ = ready.send(Err(error));
                    return;
                }
            },
        };
        let _ = ready.send(Ok(thread_id()));
        commit(file, stream, batches, durable, &counts).await;
    })
    .context("could not start the protocol relay's committer")?;
    let tid = opened
        .await
        .context("the protocol relay's committer stopped before it opened its log")??;
    Ok((to_commit, committed, tid))
}

/// Cluster mode's log stream, on a connection of its own.
async fn open_log(log: &Log) -> Result<JetStreamLog> {
    let client = async_nats::ConnectOptions::new()
        .name("switchboard-loadgen-protocol-log")
        .connect(&log.url)
        .await
        .context("the protocol relay's log could not connect")?;
    let mut config = JetStreamConfig::new(&log.stream.stream, &log.stream.subject);
    config.replicas = log.stream.replicas;
    JetStreamLog::open(client, config)
        .await
        .context("the protocol relay could not open its log stream")
}

/// The committer's loop (see [`committer`]).
async fn commit(
    mut file: File,
    mut stream: Option<(JetStreamLog, usize)>,
    mut batches: mpsc::UnboundedReceiver<Commit>,
    durable: mpsc::UnboundedSender<Result<u64, String>>,
    counts: &Counts,
) {
    let mut buffer = Vec::new();
    let mut entries = Vec::new();
    while let Some(first) = batches.recv().await {
        buffer.clear();
        let mut last = first.number;
        let mut records = first.records;
        buffer.extend_from_slice(&first.bytes);
        while let Ok(next) = batches.try_recv() {
            last = next.number;
            records += next.records;
            buffer.extend_from_slice(&next.bytes);
        }
        let mut written = Ok(last);
        if let Some((log, record_bytes)) = &mut stream
            && records > 0
        {
            let at_ms = u64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis(),
            )
            .unwrap_or(u64::MAX);
            entries.clear();
            entries.extend((0..records).map(|_| Entry {
                at_ms,
                payload: vec![b'.'; *record_bytes],
            }));
            match log.append_async(&entries).await {
                Ok(_) => {
                    counts.logged.fetch_add(records as u64, Ordering::Relaxed);
                }
                Err(error) => written = Err(error.to_string()),
            }
        }
        if written.is_ok() {
            written = file
                .write_all(&buffer)
                .and_then(|()| file.sync_data())
                .map(|()| last)
                .map_err(|error| error.to_string());
        }
        let failed = written.is_err();
        if durable.send(written).is_err() || failed {
            return;
        }
    }
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
