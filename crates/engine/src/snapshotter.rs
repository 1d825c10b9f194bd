//! Snapshots taken off the engine loop.
//!
//! Encoding a snapshot costs time in proportion to the state (every agent, every open contact,
//! and the finished contacts kept for a day): tens of milliseconds for a busy centre. Taken on
//! the loop, that is a pause in routing every `snapshot_every_events`. A [`Snapshotter`] is a
//! thread that follows the durable events with a copy of the state of its own (without the
//! matching index, which a snapshot does not hold) and writes the snapshot there, so the loop
//! only hands it each durable batch and each durable point.
//!
//! It writes a snapshot only at a durable point it has applied exactly (the chain hash it is
//! stamped with is the log's at that sequence number), so a snapshot never holds an event that
//! is not durable. A snapshot that cannot be written is logged and skipped: snapshots shorten
//! start-up, the log alone is the truth.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use switchboard_core::{Event, State};
use switchboard_log::{ChainHash, SnapshotOptions};
use switchboard_wire::encode_snapshot;

/// What the loop hands the snapshotter, in log order.
enum Follow {
    /// Durable events, the first of them numbered `first_seq`.
    Events {
        first_seq: u64,
        events: Arc<Vec<Event>>,
    },
    /// Everything up to `seq` is durable, and the log's chain hash there is `head_hash`.
    Durable { seq: u64, head_hash: ChainHash },
}

/// The snapshot thread. Dropping it (or [`Snapshotter::stop`]) lets it finish what it was
/// handed and stops it.
#[derive(Debug)]
pub struct Snapshotter {
    sender: Option<Sender<Follow>>,
    thread: Option<JoinHandle<()>>,
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
}

impl Snapshotter {
    /// Starts following from `state`, which must be the state after exactly the events up to
    /// `seq` (the durable point when the engine hands over: see
    /// [`crate::Engine::snapshotter`]).
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn spawn(
        state: State,
        seq: u64,
        options: SnapshotterOptions,
    ) -> Result<Self, std::io::Error> {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("switchboard-snapshots".to_owned())
            .spawn(move || follow(state, seq, &options, &receiver))?;
        Ok(Self {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Hands over durable events, in log order, `first_seq` being the first one's number.
    pub fn events(&self, first_seq: u64, events: Arc<Vec<Event>>) {
        self.send(Follow::Events { first_seq, events });
    }

    /// Says that everything up to `seq` is durable, with the log's chain hash there.
    pub fn durable(&self, seq: u64, head_hash: ChainHash) {
        self.send(Follow::Durable { seq, head_hash });
    }

    fn send(&self, follow: Follow) {
        if let Some(sender) = &self.sender
            && sender.send(follow).is_err()
        {
            tracing::error!("the snapshot thread has stopped; no more snapshots until a restart");
        }
    }

    /// Lets the thread finish what it was handed, and waits for it.
    pub fn stop(mut self) {
        self.join();
    }

    fn join(&mut self) {
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
    receiver: &Receiver<Follow>,
) {
    state.suspend_index();
    let mut since_snapshot = 0u64;
    while let Ok(follow) = receiver.recv() {
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
                    match switchboard_log::save_snapshot(
                        &options.dir,
                        seq,
                        head_hash,
                        &bytes,
                        &options.snapshot,
                    ) {
                        Ok(path) => {
                            since_snapshot = 0;
                            tracing::info!(
                                seq,
                                bytes = bytes.len(),
                                took_ms = started.elapsed().as_millis(),
                                path = %path.display(),
                                "snapshot written"
                            );
                        }
                        Err(error) => {
                            tracing::error!(%error, seq, "could not write a snapshot; the next durable point tries again");
                        }
                    }
                }
            }
        }
    }
}
