//! Group commit: a writer thread that owns the log and turns every batch queued while a sync was in
//! flight into one write and one fdatasync.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::LogError;
use crate::event_log::{Entry, EventLog};
use crate::frame::{ChainHash, RECORD_HEADER_BYTES};

/// Limits of a [`GroupCommitter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitterOptions {
    /// Batches that may wait in the queue; `submit` blocks when it is full (backpressure).
    /// Default 4096, at least 1.
    pub queue_batches_max: u32,
    /// A group stops taking queued batches once it holds this many framed bytes (a single larger
    /// batch still goes alone). Default 8 MiB.
    pub group_bytes_max: u64,
    /// A group stops taking queued batches once it holds this many entries. Default 65 536.
    pub group_entries_max: u32,
}

impl Default for CommitterOptions {
    fn default() -> Self {
        CommitterOptions {
            queue_batches_max: 4096,
            group_bytes_max: 8 << 20,
            group_entries_max: 65_536,
        }
    }
}

/// The seq numbers given to a submitted batch, before it is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    /// The seq of the batch's first entry.
    pub first_seq: u64,
    /// The seq of the batch's last entry.
    pub last_seq: u64,
}

/// Notice that everything up to `up_to_seq` is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durable {
    /// Every record with a seq up to and including this one is durable.
    pub up_to_seq: u64,
    /// The chain hash of that record.
    pub head_hash: ChainHash,
}

/// What the writer thread reports after each group it appends.
#[derive(Debug)]
pub enum Report {
    /// The group is durable.
    Durable(GroupDurable),
    /// The append failed: the committer is poisoned (reported once; nothing later becomes
    /// durable). This is the append's own error (say [`LogError::Io`], with the operating
    /// system's error as its source); later calls fail with [`LogError::Poisoned`].
    Failed(LogError),
}

/// One durable group: the new durable point and what it cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupDurable {
    /// Everything up to here is durable.
    pub durable: Durable,
    /// Batches in the group.
    pub batches: u64,
    /// Entries in the group.
    pub entries: u64,
    /// How long the append took (encoding, writing and the `fdatasync`).
    pub append_time: Duration,
    /// How long the `fdatasync` alone took, when the log says ([`EventLog::last_sync_time`]).
    pub sync_time: Option<Duration>,
}

/// Counters of a [`GroupCommitter`]'s work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitterStats {
    /// Batches accepted by `submit`.
    pub batches_submitted: u64,
    /// Batches made durable.
    pub batches_committed: u64,
    /// Entries made durable.
    pub entries_committed: u64,
    /// Groups written: each is one `EventLog::append`, so one write and one fdatasync for
    /// [`crate::FileLog`] (plus one per segment roll-over).
    pub groups_committed: u64,
}

/// What the caller sends the writer thread.
enum Message {
    /// A batch whose seqs were assigned by `submit`.
    Batch {
        /// The seq assigned to the first entry.
        first_seq: u64,
        /// The entries.
        entries: Vec<Entry>,
    },
    /// Reply once everything queued before this message is durable.
    Flush(SyncSender<Result<Durable, LogError>>),
}

/// State shared between the caller and the writer thread.
#[derive(Debug, Default)]
struct Shared {
    /// Fast check of `cause`.
    poisoned: AtomicBool,
    /// The failure that poisoned the writer: its text (sources included) and whether the disk
    /// was full.
    cause: Mutex<Option<(String, bool)>>,
    /// See [`CommitterStats`].
    batches_submitted: AtomicU64,
    /// See [`CommitterStats`].
    batches_committed: AtomicU64,
    /// See [`CommitterStats`].
    entries_committed: AtomicU64,
    /// See [`CommitterStats`].
    groups_committed: AtomicU64,
}

impl Shared {
    fn poison(&self, cause: String, storage_full: bool) {
        let mut slot = self.cause.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert((cause, storage_full));
        self.poisoned.store(true, Ordering::Release);
    }

    fn poisoned_error(&self) -> Option<LogError> {
        if !self.poisoned.load(Ordering::Acquire) {
            return None;
        }
        let slot = self.cause.lock().unwrap_or_else(|e| e.into_inner());
        let (cause, storage_full) = slot.clone().unwrap_or_default();
        Some(LogError::Poisoned {
            cause,
            storage_full,
        })
    }
}

/// Runs an [`EventLog`] on its own thread with group commit.
///
/// The caller (the engine loop: one writer per routing domain) calls [`GroupCommitter::submit`],
/// which assigns seq numbers at once, so events can be stamped and applied before they are durable,
/// and queues the batch on a bounded channel. The writer thread takes every batch queued while its
/// previous sync was in flight, appends them as ONE group (one write, one fdatasync), then calls
/// `on_durable` on the writer thread, in seq order, with the new durable point. Acknowledge commands
/// from `on_durable`, never from `submit`.
///
/// If an append fails, the committer is poisoned: the assigned seqs of the failed and all queued
/// batches are void, every later `submit` and `flush` fails with [`LogError::Poisoned`], and the
/// caller must shut down and reopen the log, whose recovery keeps what reached the disk.
pub struct GroupCommitter<L: EventLog + Send + 'static> {
    /// The queue to the writer; `None` once shut down.
    sender: Option<SyncSender<Message>>,
    /// The writer thread, which returns the log when the queue closes.
    writer: Option<JoinHandle<L>>,
    /// The seq the next submitted entry gets.
    next_seq: u64,
    /// The log's payload limit, checked before a seq is assigned.
    payload_bytes_max: usize,
    /// Poisoning and counters.
    shared: Arc<Shared>,
}

impl<L: EventLog + Send + 'static> std::fmt::Debug for GroupCommitter<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitter")
            .field("next_seq", &self.next_seq)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<L: EventLog + Send + 'static> GroupCommitter<L> {
    /// Moves `log` onto a new writer thread. `on_durable` runs on that thread after each group is
    /// durable; keep it short (hand the notice to another channel) because the next sync waits.
    pub fn spawn<F>(log: L, options: CommitterOptions, mut on_durable: F) -> Result<Self, LogError>
    where
        F: FnMut(Durable) + Send + 'static,
    {
        Self::spawn_reporting(log, options, move |report| {
            if let Report::Durable(group) = report {
                on_durable(group.durable);
            }
        })
    }

    /// As [`Self::spawn`], with a fuller report after each group: the durable point with the
    /// group's size and timings, or, once, the failure that poisoned the committer (so a caller
    /// waiting for durability learns that none is coming).
    pub fn spawn_reporting<F>(
        log: L,
        options: CommitterOptions,
        on_report: F,
    ) -> Result<Self, LogError>
    where
        F: FnMut(Report) + Send + 'static,
    {
        if options.queue_batches_max == 0 || options.group_entries_max == 0 {
            return Err(LogError::InvalidOptions {
                reason: "queue_batches_max and group_entries_max must be at least 1",
            });
        }
        let next_seq = log.next_seq();
        let payload_bytes_max = log.payload_bytes_max();
        let (sender, receiver) = mpsc::sync_channel(options.queue_batches_max as usize);
        let shared = Arc::new(Shared::default());
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("switchboard-log-writer".to_owned())
            .spawn(move || run_writer(log, &receiver, &writer_shared, &options, on_report))
            .map_err(|e| LogError::io("spawn writer thread", PathBuf::new(), e))?;
        Ok(GroupCommitter {
            sender: Some(sender),
            writer: Some(writer),
            next_seq,
            payload_bytes_max,
            shared,
        })
    }

    /// Assigns seqs to a non-empty batch and queues it for the writer; blocks while the queue is
    /// full. The batch is NOT durable when this returns: wait for `on_durable` or [`Self::flush`].
    /// Entries larger than the log's limit are refused here, before a seq is assigned.
    pub fn submit(&mut self, entries: Vec<Entry>) -> Result<SeqRange, LogError> {
        if let Some(error) = self.shared.poisoned_error() {
            return Err(error);
        }
        if entries.is_empty() {
            return Err(LogError::EmptyBatch);
        }
        let payload_bytes_max = self.payload_bytes_max;
        if let Some(entry) = entries.iter().find(|e| e.payload.len() > payload_bytes_max) {
            return Err(LogError::RecordTooLarge {
                record_bytes: (entry.payload.len() + RECORD_HEADER_BYTES) as u64,
                record_bytes_max: u32::try_from(payload_bytes_max + RECORD_HEADER_BYTES)
                    .unwrap_or(u32::MAX),
            });
        }
        let sender = self.sender.as_ref().ok_or(LogError::WriterStopped)?;
        let range = SeqRange {
            first_seq: self.next_seq,
            last_seq: self.next_seq + entries.len() as u64 - 1,
        };
        let message = Message::Batch {
            first_seq: range.first_seq,
            entries,
        };
        if sender.send(message).is_err() {
            return Err(self
                .shared
                .poisoned_error()
                .unwrap_or(LogError::WriterStopped));
        }
        self.next_seq = range.last_seq + 1;
        self.shared
            .batches_submitted
            .fetch_add(1, Ordering::Relaxed);
        Ok(range)
    }

    /// Returns once everything submitted before this call is durable, with the durable point.
    pub fn flush(&self) -> Result<Durable, LogError> {
        let sender = self.sender.as_ref().ok_or(LogError::WriterStopped)?;
        let (reply, replied) = mpsc::sync_channel(1);
        if sender.send(Message::Flush(reply)).is_err() {
            return Err(self
                .shared
                .poisoned_error()
                .unwrap_or(LogError::WriterStopped));
        }
        replied.recv().map_err(|_| LogError::WriterStopped)?
    }

    /// Flushes, stops the writer thread and gives the log back.
    pub fn shutdown(mut self) -> Result<L, LogError> {
        let flushed = self.flush();
        self.sender = None;
        let log = match self.writer.take().map(JoinHandle::join) {
            Some(Ok(log)) => log,
            Some(Err(_)) | None => return Err(LogError::WriterStopped),
        };
        flushed.map(|_| log)
    }

    /// The seq the next submitted entry will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Counters of the work done so far.
    pub fn stats(&self) -> CommitterStats {
        CommitterStats {
            batches_submitted: self.shared.batches_submitted.load(Ordering::Relaxed),
            batches_committed: self.shared.batches_committed.load(Ordering::Relaxed),
            entries_committed: self.shared.entries_committed.load(Ordering::Relaxed),
            groups_committed: self.shared.groups_committed.load(Ordering::Relaxed),
        }
    }

    /// Why the committer is poisoned, if it is.
    pub fn poisoned(&self) -> Option<LogError> {
        self.shared.poisoned_error()
    }
}

impl<L: EventLog + Send + 'static> Drop for GroupCommitter<L> {
    /// Closes the queue and waits for the writer to finish what was queued.
    fn drop(&mut self) {
        self.sender = None;
        if let Some(writer) = self.writer.take() {
            // A panic on the writer thread has already been reported by the panic hook.
            let _ = writer.join();
        }
    }
}

/// Framed bytes of a batch.
fn batch_bytes(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .map(|e| (e.payload.len() + RECORD_HEADER_BYTES) as u64)
        .sum()
}

/// The writer thread: gather a group, append it, report, repeat until the queue closes.
fn run_writer<L: EventLog, F: FnMut(Report)>(
    mut log: L,
    receiver: &Receiver<Message>,
    shared: &Shared,
    options: &CommitterOptions,
    mut on_report: F,
) -> L {
    let mut carried: Option<Message> = None;
    let mut group: Vec<Entry> = Vec::new();
    let mut waiters: Vec<SyncSender<Result<Durable, LogError>>> = Vec::new();
    loop {
        let first = match carried.take() {
            Some(message) => message,
            None => match receiver.recv() {
                Ok(message) => message,
                Err(_) => return log,
            },
        };
        group.clear();
        waiters.clear();
        let mut group_bytes = 0u64;
        let mut batches = 0u64;
        let mut expected_first_seq = None;
        let mut next = Some(first);
        // Take everything already queued, within the group bounds.
        while let Some(message) = next.take() {
            match message {
                Message::Batch { first_seq, entries } => {
                    let bytes = batch_bytes(&entries);
                    let full = group_bytes + bytes > options.group_bytes_max
                        || group.len() + entries.len() > options.group_entries_max as usize;
                    if !group.is_empty() && full {
                        carried = Some(Message::Batch { first_seq, entries });
                        break;
                    }
                    expected_first_seq.get_or_insert(first_seq);
                    group_bytes += bytes;
                    batches += 1;
                    group.extend(entries);
                }
                Message::Flush(reply) => waiters.push(reply),
            }
            next = receiver.try_recv().ok();
        }

        if shared.poisoned_error().is_none() && !group.is_empty() {
            let started = Instant::now();
            let appended = log.append(&group);
            let append_time = started.elapsed();
            match appended {
                Ok(appended) if Some(appended.first_seq) == expected_first_seq => {
                    shared.groups_committed.fetch_add(1, Ordering::Relaxed);
                    shared
                        .batches_committed
                        .fetch_add(batches, Ordering::Relaxed);
                    shared
                        .entries_committed
                        .fetch_add(group.len() as u64, Ordering::Relaxed);
                    on_report(Report::Durable(GroupDurable {
                        durable: Durable {
                            up_to_seq: appended.last_seq,
                            head_hash: appended.head_hash,
                        },
                        batches,
                        entries: group.len() as u64,
                        append_time,
                        sync_time: log.last_sync_time(),
                    }));
                }
                Ok(appended) => {
                    shared.poison(
                        format!(
                            "the log gave seq {} to a batch the committer numbered {:?}",
                            appended.first_seq, expected_first_seq
                        ),
                        false,
                    );
                    if let Some(error) = shared.poisoned_error() {
                        on_report(Report::Failed(error));
                    }
                }
                // The failure itself is reported (what failed, on which file, and the operating
                // system's error as its source); later calls get `Poisoned`, which keeps its text.
                Err(error) => {
                    shared.poison(error.with_sources(), error.is_storage_full());
                    on_report(Report::Failed(error));
                }
            }
        }
        let reply = match shared.poisoned_error() {
            Some(_) => None,
            None => Some(Durable {
                up_to_seq: log.next_seq() - 1,
                head_hash: log.head_hash(),
            }),
        };
        for waiter in waiters.drain(..) {
            let answer = match (reply, shared.poisoned_error()) {
                (Some(durable), _) => Ok(durable),
                (None, Some(error)) => Err(error),
                (None, None) => Err(LogError::WriterStopped),
            };
            // The caller may have stopped waiting; nothing to do then.
            let _ = waiter.send(answer);
        }
    }
}
