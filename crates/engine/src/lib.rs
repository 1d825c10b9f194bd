//! The durable engine: the routing core over the event log.
//!
//! [`Engine`] joins the three parts that make Switchboard event-sourced: the [`Router`] decides
//! commands and timeouts into events; [`Engine::commit`] appends every event decided since the
//! last commit to the log with one `fdatasync` and only then hands them back with their sequence
//! numbers, so the caller acknowledges nothing that is not durable; and [`Engine::open`] rebuilds
//! the state from the newest valid snapshot plus the log's tail (or from the whole log).
//!
//! The engine is synchronous and single-threaded on purpose: it is the single writer of its
//! routing domain. The NATS driver owns one and calls it from its loop. For throughput it can
//! hand its log to a group committer thread ([`Engine::group_commit`]): [`Engine::submit`] then
//! returns at once and the committer reports each durable point, so the caller decides the next
//! commands while the disk syncs and acknowledges each batch once it is reported durable; a
//! [`Snapshotter`] writes snapshots on a thread of its own from the durable events.
//!
//! Idempotency receipts (docs/adr/0002) ride in the log: [`Engine::attach_receipt`] puts a keyed
//! command's first reply on its last event's record, and [`Engine::open`] reads back those of the
//! log's last ten minutes ([`ReceiptOptions`], [`Recovered::receipts`]) from its tail, whatever
//! snapshot it starts from.
//!
//! The log is an [`EngineLog`]: the file log in the data directory, or in cluster mode a
//! [`switchboard_jetlog::MirroredLog`] (the domain's JetStream stream, fenced, then a local copy
//! in the data directory), opened with [`Engine::open_on`]; both recover the same way.
//!
//! Also here, for the command line and queries: [`replay`] (rebuild the state from the whole log,
//! with progress) and [`history`] (every event of one contact or customer).

mod history;
mod log;
mod receipts;
mod recovery;
mod snapshotter;

use std::path::{Path, PathBuf};
use std::time::Instant;

use switchboard_core::{Command, Event, Rejection, Router, RoutingConfig, State, Timestamp};
use switchboard_log::{
    ChainHash, CommitterOptions, EventLog, FileLog, GroupCommitter, LogError, LogOptions, Recovery,
    Report, SnapshotOptions,
};
use switchboard_wire::encode_snapshot;

pub use history::{HistoryFilter, history, history_of_records, history_up_to};
pub use log::EngineLog;
pub use receipts::{ReceiptError, ReceiptOptions, RecoveredReceipts, encode_entries};
pub use recovery::{Recovered, ReplayReport, SnapshotRejection, replay, replay_records};
pub use snapshotter::{HAND_OVER_EVENTS_MAX, SnapshotSink, Snapshotter, SnapshotterOptions};

/// How the engine keeps its log and snapshots.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Options of the event log (segment size, record size bound).
    pub log: LogOptions,
    /// Options of snapshots (how many to keep, size bound).
    pub snapshot: SnapshotOptions,
    /// Take a snapshot after this many events since the last (0: never automatically).
    pub snapshot_every_events: u64,
    /// How many idempotency receipts recovery reads back from the log's tail, and how far.
    pub receipts: ReceiptOptions,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            log: LogOptions::default(),
            snapshot: SnapshotOptions::default(),
            snapshot_every_events: 100_000,
            receipts: ReceiptOptions::default(),
        }
    }
}

/// What went wrong in the engine. Rejected commands are not errors: see [`Rejection`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The event log failed (I/O, damage, a poisoned writer).
    #[error(transparent)]
    Log(#[from] LogError),
    /// A record in the log does not decode as an event of any known version.
    #[error("record {seq} of the log does not decode as an event")]
    Decode {
        /// The record's sequence number.
        seq: u64,
        /// Why.
        source: switchboard_wire::StoredError,
    },
    /// The routing configuration is not valid.
    #[error("routing configuration: {0}")]
    Config(switchboard_core::ConfigError),
    /// A thread of the engine's (the snapshot thread) could not be started.
    #[error("could not start the {what} thread")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A snapshotter was asked for while events are pending or not yet durable.
    #[error("a snapshotter starts only from a durable state ({pending} events not yet durable)")]
    NotDurable {
        /// Events decided but not yet durable.
        pending: u64,
    },
    /// The number of events applied does not match the log: the snapshot or the log belongs to
    /// another history.
    #[error("state has {applied} events applied but the log is at {log_seq}")]
    Diverged {
        /// Events applied to the recovered state.
        applied: u64,
        /// The log's last sequence number.
        log_seq: u64,
    },
}

/// An engine taken apart ([`Engine::into_parts`]), for a driver that runs the router and the
/// log's writer itself (the NATS driver's node decides, its shell appends); put back together
/// with [`Engine::from_parts`].
#[derive(Debug)]
pub struct EngineParts {
    /// The router: state and configuration, holding exactly the log's events.
    pub router: Router,
    /// The log, with nothing pending.
    pub log: EngineLog,
    /// The data directory.
    pub dir: PathBuf,
    /// The options the engine was opened with.
    pub options: EngineOptions,
}

/// Events made durable by one [`Engine::commit`], in order, with their sequence numbers.
#[derive(Debug)]
pub struct Committed {
    /// The first event's sequence number.
    pub first_seq: u64,
    /// The last event's sequence number.
    pub last_seq: u64,
    /// The chain hash after the last event.
    pub head_hash: ChainHash,
    /// The events, first to last (`first_seq + i` is event `i`'s sequence number).
    pub events: Vec<Event>,
    /// How long the append and its `fdatasync` took.
    pub append_time: std::time::Duration,
    /// How long the `fdatasync` alone took (part of `append_time`).
    pub sync_time: std::time::Duration,
}

/// Events decided since the last submit, handed to the group committer: numbered, applied to
/// the state, but **not yet durable**. Acknowledge them only once the committer reports a
/// durable point at or past `last_seq` (see [`Engine::group_commit`]).
#[derive(Debug)]
pub struct Submitted {
    /// The first event's sequence number.
    pub first_seq: u64,
    /// The last event's sequence number.
    pub last_seq: u64,
    /// The events, first to last (`first_seq + i` is event `i`'s sequence number).
    pub events: Vec<Event>,
}

/// Where the engine's events go: straight to the log (one synchronous append and `fdatasync`
/// per commit), or to a [`GroupCommitter`] thread that owns the log.
#[derive(Debug)]
enum Writer {
    Direct(EngineLog),
    Group(GroupCommitter<EngineLog>),
}

impl Writer {
    fn next_seq(&self) -> u64 {
        match self {
            Self::Direct(log) => log.next_seq(),
            Self::Group(committer) => committer.next_seq(),
        }
    }
}

/// The routing core over the durable log. See the crate documentation.
#[derive(Debug)]
pub struct Engine {
    router: Router,
    log: Writer,
    dir: PathBuf,
    options: EngineOptions,
    /// Events decided and applied, not yet durable. They are durable once `commit` returns.
    pending: Vec<Event>,
    /// Events made durable since the last snapshot.
    since_snapshot: u64,
    /// Idempotency receipts attached to pending events (see [`Engine::attach_receipt`]).
    receipts: receipts::Attached,
}

impl Engine {
    /// Opens (or creates) the engine's data directory and recovers the state: the newest snapshot
    /// that decodes and matches the log, then the log's tail; or the whole log. `progress` is
    /// told (events replayed, events to replay) as replay goes.
    ///
    /// # Errors
    /// The configuration is invalid, or the log is damaged beyond its torn tail, or a record does
    /// not decode.
    pub fn open(
        dir: &Path,
        config: RoutingConfig,
        options: EngineOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Self, Recovered), EngineError> {
        let (log, recovered_log) = FileLog::open(dir, options.log.clone())?;
        Self::open_on(
            EngineLog::File(log),
            recovered_log,
            dir,
            config,
            options,
            progress,
        )
    }

    /// Recovers the state over a log already opened on `dir` (for cluster mode, a
    /// [`switchboard_jetlog::MirroredLog`] whose local copy has been brought up to the stream's
    /// end), with `recovered_log` what opening it found. The one recovery path of
    /// [`Engine::open`]: the newest usable snapshot in `dir`, then the log's tail.
    ///
    /// # Errors
    /// As [`Engine::open`].
    pub fn open_on(
        log: EngineLog,
        recovered_log: Recovery,
        dir: &Path,
        config: RoutingConfig,
        options: EngineOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Self, Recovered), EngineError> {
        let (state, recovered) = recovery::recover(dir, &options, recovered_log, progress)?;
        let router = Router::with_state(config, state).map_err(EngineError::Config)?;
        let engine = Self {
            router,
            log: Writer::Direct(log),
            dir: dir.to_path_buf(),
            options,
            pending: Vec::new(),
            since_snapshot: recovered.replayed,
            receipts: receipts::Attached::default(),
        };
        Ok((engine, recovered))
    }

    /// The router (its state and configuration), including events not yet committed.
    #[must_use]
    pub const fn router(&self) -> &Router {
        &self.router
    }

    /// The routing state, including events not yet committed.
    #[must_use]
    pub const fn state(&self) -> &State {
        self.router.state()
    }

    /// The data directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sequence number the next committed event will get.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.log.next_seq() + self.pending.len() as u64
    }

    /// Decides a command; its events are pending until [`Engine::commit`].
    ///
    /// # Errors
    /// The command's [`Rejection`]; nothing changes then.
    pub fn decide(&mut self, command: Command, now: Timestamp) -> Result<usize, Rejection> {
        let count = self.router.handle_command(command, now)?;
        self.pending.extend(self.router.drain_events());
        Ok(count)
    }

    /// Handles timers due at `now`; their events are pending until [`Engine::commit`].
    pub fn tick(&mut self, now: Timestamp) -> usize {
        let count = self.router.handle_timeout(now);
        self.pending.extend(self.router.drain_events());
        count
    }

    /// When to call [`Engine::tick`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.router.poll_timeout()
    }

    /// Events decided but not yet committed.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Makes every pending event durable: one append, one `fdatasync` (with a group committer:
    /// submits them and waits for the committer to report them durable). Returns `None` when
    /// nothing was pending. Takes a snapshot afterwards when one is due (a snapshot that cannot
    /// be written is logged and tried again at the next commit; the events are returned).
    ///
    /// # Errors
    /// The log failed. The engine must then stop: its in-memory state is ahead of the log, and
    /// a restart recovers exactly what is durable.
    pub fn commit(&mut self) -> Result<Option<Committed>, EngineError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let entries = self.receipts.encode_entries(&self.pending);
        let started = Instant::now();
        let (first_seq, last_seq, head_hash, sync_time) = match &mut self.log {
            Writer::Direct(log) => {
                let appended = log.append(&entries)?;
                (
                    appended.first_seq,
                    appended.last_seq,
                    appended.head_hash,
                    log.last_sync_time().unwrap_or_default(),
                )
            }
            Writer::Group(committer) => {
                let range = committer.submit(entries)?;
                let durable = committer.flush()?;
                (
                    range.first_seq,
                    range.last_seq,
                    durable.head_hash,
                    std::time::Duration::ZERO,
                )
            }
        };
        let append_time = started.elapsed();
        let events = std::mem::take(&mut self.pending);
        self.since_snapshot += events.len() as u64;
        let committed = Committed {
            first_seq,
            last_seq,
            head_hash,
            events,
            append_time,
            sync_time,
        };
        // The events are durable and must reach the caller: a snapshot is only a cache, so one
        // that cannot be written (a full disk) is reported and tried again at the next commit.
        if let Err(error) = self.snapshot_if_due() {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "could not write a snapshot; trying again at the next commit"
            );
        }
        Ok(Some(committed))
    }

    /// Hands every pending event to the group committer without waiting for it: the events
    /// are numbered and stay applied, and become durable when the committer reports so (to the
    /// `on_report` given to [`Engine::group_commit`]). Without a group committer this is
    /// [`Engine::commit`]: the events are durable on return. Returns `None` when nothing was
    /// pending. It takes no snapshot: under group commit they are taken off the loop by a
    /// [`Snapshotter`] (see [`Engine::snapshotter`]), or by [`Engine::snapshot`], which waits.
    ///
    /// # Errors
    /// The log failed (the committer is poisoned): the engine must stop, as for `commit`.
    pub fn submit(&mut self) -> Result<Option<Submitted>, EngineError> {
        let Writer::Group(committer) = &mut self.log else {
            return Ok(self.commit()?.map(|committed| Submitted {
                first_seq: committed.first_seq,
                last_seq: committed.last_seq,
                events: committed.events,
            }));
        };
        if self.pending.is_empty() {
            return Ok(None);
        }
        let entries = self.receipts.encode_entries(&self.pending);
        let range = committer.submit(entries)?;
        // Not counted towards the next snapshot: under group commit the snapshotter takes them
        // (counting here would make the next `commit` write one more on the loop).
        let events = std::mem::take(&mut self.pending);
        Ok(Some(Submitted {
            first_seq: range.first_seq,
            last_seq: range.last_seq,
            events,
        }))
    }

    /// Moves the log onto a [`GroupCommitter`] thread: from now on [`Engine::submit`] returns
    /// at once and the committer appends whatever was submitted while its last `fdatasync` was
    /// in flight as one group, then calls `on_report` on its thread with the new durable point
    /// (or, once, the failure). The caller decides the next commands while the disk syncs,
    /// and acknowledges each submitted batch only when a report covers its `last_seq`.
    /// [`Engine::commit`] and [`Engine::snapshot`] still work (they wait for the committer).
    /// Committing anything pending first.
    ///
    /// # Errors
    /// The pending events could not be committed, or the writer thread could not start.
    pub fn group_commit<F>(mut self, on_report: F) -> Result<Self, EngineError>
    where
        F: FnMut(Report) + Send + 'static,
    {
        self.commit()?;
        self.log = match self.log {
            Writer::Direct(log) => Writer::Group(GroupCommitter::spawn_reporting(
                log,
                CommitterOptions::default(),
                on_report,
            )?),
            group @ Writer::Group(_) => group,
        };
        Ok(self)
    }

    /// A [`Snapshotter`] following this engine from its durable point: call it when nothing is
    /// submitted but not yet durable (right after [`Engine::group_commit`], which commits what
    /// was pending), then hand it every durable batch and durable point in order. It writes
    /// a snapshot every `snapshot_every_events` of the engine's options, on its own thread.
    ///
    /// # Errors
    /// Events are pending or in flight (the state is ahead of the log), or the thread could
    /// not start.
    pub fn snapshotter(&self) -> Result<Snapshotter, EngineError> {
        let durable = match &self.log {
            Writer::Direct(log) => log.next_seq() - 1,
            Writer::Group(committer) => committer.flush()?.up_to_seq,
        };
        let ahead = self.next_seq() - 1 - durable;
        if ahead > 0 {
            return Err(EngineError::NotDurable { pending: ahead });
        }
        Snapshotter::spawn(
            self.router.state(),
            durable,
            SnapshotterOptions {
                dir: self.dir.clone(),
                snapshot: self.options.snapshot.clone(),
                every_events: self.options.snapshot_every_events,
                sink: None,
            },
        )
        .map_err(|source| EngineError::Thread {
            what: "snapshot",
            source,
        })
    }

    /// Stops the group committer (after everything submitted is durable) and takes the log
    /// back: commits are synchronous again.
    ///
    /// # Errors
    /// The committer failed: what it had not made durable is lost to this process (a restart
    /// recovers what is durable).
    pub fn direct_commit(mut self) -> Result<Self, EngineError> {
        self.commit()?;
        self.log = match self.log {
            Writer::Group(committer) => Writer::Direct(committer.shutdown()?),
            direct @ Writer::Direct(_) => direct,
        };
        Ok(self)
    }

    /// Takes the engine apart: everything pending is committed first and a group committer
    /// stopped, so the router holds exactly the log's events.
    ///
    /// # Errors
    /// The pending events could not be committed, or the committer had failed.
    pub fn into_parts(mut self) -> Result<EngineParts, EngineError> {
        self.commit()?;
        let log = match self.log {
            Writer::Direct(log) => log,
            Writer::Group(committer) => committer.shutdown()?,
        };
        Ok(EngineParts {
            router: self.router,
            log,
            dir: self.dir,
            options: self.options,
        })
    }

    /// Puts an engine back together from its parts. The router must hold exactly the log's
    /// events (as [`Engine::into_parts`] left them, plus what was appended since).
    ///
    /// # Errors
    /// The router has applied another number of events than the log holds.
    pub fn from_parts(parts: EngineParts) -> Result<Self, EngineError> {
        let log_seq = parts.log.next_seq() - 1;
        let applied = parts.router.state().events_applied();
        if applied != log_seq {
            return Err(EngineError::Diverged { applied, log_seq });
        }
        Ok(Self {
            router: parts.router,
            log: Writer::Direct(parts.log),
            dir: parts.dir,
            options: parts.options,
            pending: Vec::new(),
            since_snapshot: 0,
            receipts: receipts::Attached::default(),
        })
    }

    /// The idempotency receipts of the log in `dir` up to `last_seq`, read back as recovery reads
    /// them: for an engine put together from a state kept elsewhere (a cluster-mode standby's,
    /// [`Engine::from_parts`]).
    ///
    /// # Errors
    /// The log could not be read, or a record does not decode.
    pub fn read_receipts(
        dir: &Path,
        options: &EngineOptions,
        last_seq: u64,
    ) -> Result<RecoveredReceipts, EngineError> {
        let reader = switchboard_log::LogReader::open_with_options(dir, &options.log)?;
        receipts::read_back(&reader, &options.receipts, last_seq)
    }

    fn snapshot_if_due(&mut self) -> Result<(), EngineError> {
        let every = self.options.snapshot_every_events;
        if every > 0 && self.since_snapshot >= every {
            self.snapshot()?;
        }
        Ok(())
    }

    /// Writes a snapshot of the committed state now (pending events are committed first).
    /// Returns the snapshot's file, or `None` when the log is empty (nothing to snapshot).
    ///
    /// # Errors
    /// The log or the snapshot file could not be written.
    pub fn snapshot(&mut self) -> Result<Option<PathBuf>, EngineError> {
        if !self.pending.is_empty() {
            self.commit()?;
        }
        // The state now holds exactly the events submitted: snapshot it at the durable point
        // that covers them all.
        let (seq, head_hash) = match &self.log {
            Writer::Direct(log) => (log.next_seq() - 1, log.head_hash()),
            Writer::Group(committer) => {
                let durable = committer.flush()?;
                (durable.up_to_seq, durable.head_hash)
            }
        };
        if seq == 0 {
            return Ok(None);
        }
        let bytes = encode_snapshot(self.router.state());
        let path = switchboard_log::save_snapshot(
            &self.dir,
            seq,
            head_hash,
            &bytes,
            &self.options.snapshot,
        )?;
        self.since_snapshot = 0;
        Ok(Some(path))
    }
}
