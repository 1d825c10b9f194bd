//! Snapshots taken off the engine loop.
//!
//! Encoding a snapshot costs time in proportion to the state (every agent, every open contact,
//! and the finished contacts kept for a day): tens of milliseconds for a busy centre. Taken on
//! the loop, that is a pause in routing every `snapshot_every_events`. A [`Snapshotter`] is a
//! thread that follows the durable events with a copy of the state of its own (without the
//! matching index, which a snapshot does not hold) and writes the snapshot there, so the loop
//! only hands it each durable batch and each durable point.
//!
//! The loop's hand-overs are gathered and sent to the thread a few thousand events at a time
//! ([`HAND_OVER_EVENTS_MAX`]), not turn by turn: waking the thread for every turn cost the loop
//! a `futex` call per turn and the machine a context switch, for a snapshot every
//! `snapshot_every_events`.
//!
//! It writes a snapshot only at a durable point it has applied exactly (the chain hash it is
//! stamped with is the log's at that sequence number), so a snapshot never holds an event that
//! is not durable. A snapshot that cannot be written (a full disk, say) is logged and skipped,
//! and the next one is tried after another `every_events`: snapshots shorten start-up, the log
//! alone is the truth.
//!
//! In cluster mode each snapshot also goes to a [`SnapshotSink`] (the domain's snapshot bucket),
//! on this same thread, so the upload never holds up the loop and is over when the thread is
//! stopped.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use switchboard_core::{Event, State};
use switchboard_log::{ChainHash, SnapshotOptions};
use switchboard_wire::encode_snapshot;

/// What the loop hands the snapshotter, in log order.
#[derive(Debug)]
enum Follow {
    /// Durable events, the first of them numbered `first_seq`.
    Events {
        first_seq: u64,
        events: Arc<Vec<Event>>,
    },
    /// Everything up to `seq` is durable, and the log's chain hash there is `head_hash`.
    Durable { seq: u64, head_hash: ChainHash },
}

/// The most events the loop gathers before it hands them to the thread (fewer when snapshots
/// are more frequent than this).
pub const HAND_OVER_EVENTS_MAX: u64 = 4096;

/// The snapshot thread. Dropping it (or [`Snapshotter::stop`]) hands over what is gathered,
/// lets the thread finish it and stops it: up to [`HAND_OVER_EVENTS_MAX`] events to apply, and
/// a snapshot if one is due, before the caller goes on.
#[derive(Debug)]
pub struct Snapshotter {
    sender: Option<Sender<Vec<Follow>>>,
    /// Hand-overs gathered since the last send, in log order.
    gathered: Vec<Follow>,
    /// Events in `gathered`.
    gathered_events: u64,
    /// Send once this many events are gathered, at a durable point.
    hand_over_events: u64,
    thread: Option<JoinHandle<()>>,
}

/// Where a snapshot goes besides the data directory (cluster mode: the domain's snapshot
/// bucket). Called on the snapshot thread with each snapshot's seq, chain hash and payload (the
/// bytes a snapshot file holds after its header), whether or not the local file was written.
/// It reports its own failures (log and count them): a snapshot is never worth stopping for.
#[derive(Clone)]
pub struct SnapshotSink(Arc<Publish>);

/// What a [`SnapshotSink`] calls: (seq, chain hash, payload).
type Publish = dyn Fn(u64, ChainHash, &[u8]) + Send + Sync;

impl SnapshotSink {
    /// A sink that calls `publish`.
    pub fn new(publish: impl Fn(u64, ChainHash, &[u8]) + Send + Sync + 'static) -> Self {
        Self(Arc::new(publish))
    }
}

impl std::fmt::Debug for SnapshotSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotSink")
    }
}

/// Where and how often the snapshotter writes.
#[derive(Clone, Debug)]
pub struct SnapshotterOptions {
    /// The engine's data directory.
    pub dir: PathBuf,
    /// How snapshots are kept.
    pub snapshot: SnapshotOptions,
    /// A snapshot after at least this many events since the last (0: never).
    pub every_events: u64,
    /// Where each snapshot also goes (`None`: only the data directory).
    pub sink: Option<SnapshotSink>,
}

impl Snapshotter {
    /// Starts following from `state`, which must be the state after exactly the events up to
    /// `seq` (the durable point when the engine hands over: see
    /// [`crate::Engine::snapshotter`]). The thread gets a copy of it; with snapshots off
    /// (`every_events` 0) nothing is copied and no thread starts.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn spawn(
        state: &State,
        seq: u64,
        options: SnapshotterOptions,
    ) -> Result<Self, std::io::Error> {
        if options.every_events == 0 {
            // Snapshots are off: nothing to follow, so no thread and nothing gathered.
            return Ok(Self {
                sender: None,
                gathered: Vec::new(),
                gathered_events: 0,
                hand_over_events: HAND_OVER_EVENTS_MAX,
                thread: None,
            });
        }
        let hand_over_events = options.every_events.min(HAND_OVER_EVENTS_MAX);
        let state = state.clone();
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("switchboard-snapshots".to_owned())
            .spawn(move || follow(state, seq, &options, &receiver))?;
        Ok(Self {
            sender: Some(sender),
            gathered: Vec::new(),
            gathered_events: 0,
            hand_over_events,
            thread: Some(thread),
        })
    }

    /// Hands over durable events, in log order, `first_seq` being the first one's number.
    pub fn events(&mut self, first_seq: u64, events: Arc<Vec<Event>>) {
        if self.sender.is_none() {
            return;
        }
        self.gathered_events += events.len() as u64;
        self.gathered.push(Follow::Events { first_seq, events });
    }

    /// Says that everything up to `seq` is durable, with the log's chain hash there. What is
    /// gathered goes to the thread once it holds enough events for the next hand-over.
    pub fn durable(&mut self, seq: u64, head_hash: ChainHash) {
        if self.sender.is_none() {
            return;
        }
        self.gathered.push(Follow::Durable { seq, head_hash });
        if self.gathered_events >= self.hand_over_events {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        if self.gathered.is_empty() {
            return;
        }
        let gathered = std::mem::take(&mut self.gathered);
        self.gathered_events = 0;
        if let Some(sender) = &self.sender
            && sender.send(gathered).is_err()
        {
            tracing::error!("the snapshot thread has stopped; no more snapshots until a restart");
        }
    }

    /// Hands over what is gathered, lets the thread finish it, and waits for it.
    pub fn stop(mut self) {
        self.join();
    }

    fn join(&mut self) {
        self.hand_over();
        self.sender = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the snapshot thread panicked");
        }
    }
}

impl Drop for Snapshotter {
    fn drop(&mut self) {
        self.join();
    }
}

/// The thread: apply what comes, snapshot at a durable point once enough has come.
fn follow(
    mut state: State,
    mut seq: u64,
    options: &SnapshotterOptions,
    receiver: &Receiver<Vec<Follow>>,
) {
    state.suspend_index();
    let mut since_snapshot = 0u64;
    for follow in receiver.iter().flatten() {
        match follow {
            Follow::Events { first_seq, events } => {
                if first_seq != seq + 1 {
                    // Cannot happen while the loop hands batches over in order; if it does,
                    // this copy of the state is no longer the log's, so it stops here.
                    tracing::error!(
                        expected = seq + 1,
                        got = first_seq,
                        "the snapshot thread lost its place in the log; no more snapshots until a restart"
                    );
                    return;
                }
                for event in events.iter() {
                    state.apply(event);
                }
                seq += events.len() as u64;
                since_snapshot += events.len() as u64;
            }
            Follow::Durable {
                seq: durable,
                head_hash,
            } => {
                let due = options.every_events > 0 && since_snapshot >= options.every_events;
                if due && durable == seq {
                    let started = std::time::Instant::now();
                    let bytes = encode_snapshot(&state);
                    write_snapshot(seq, head_hash, &bytes, options, started);
                    since_snapshot = 0;
                    if let Some(sink) = &options.sink {
                        (sink.0)(seq, head_hash, &bytes);
                    }
                }
            }
        }
    }
}

/// Writes a snapshot file in the data directory; a failure is logged (tried again only after
/// as many events again: on a full disk every try writes until the space runs out, and then
/// removes the file).
fn write_snapshot(
    seq: u64,
    head_hash: ChainHash,
    bytes: &[u8],
    options: &SnapshotterOptions,
    started: std::time::Instant,
) {
    match switchboard_log::save_snapshot(&options.dir, seq, head_hash, bytes, &options.snapshot) {
        Ok(path) => {
            tracing::info!(
                seq,
                bytes = bytes.len(),
                took_ms = started.elapsed().as_millis(),
                path = %path.display(),
                "snapshot written"
            );
        }
        Err(error) => {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                seq,
                every_events = options.every_events,
                "could not write a snapshot; trying again after as many events again"
            );
        }
    }
}
