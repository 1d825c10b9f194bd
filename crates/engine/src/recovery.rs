//! Rebuilding the routing state from disk: the newest usable snapshot plus the log's tail at
//! start-up ([`recover`]), or the whole log for the command line ([`replay`]).

use std::path::Path;
use std::time::{Duration, Instant};

use switchboard_core::State;
use switchboard_log::{
    ChainHash, LogError, LogReader, Payloads, Record, Recovery, SkippedSnapshot, SnapshotDamage,
    TornTail, load_newest_usable_snapshot, verify_snapshot_against_log,
};
use switchboard_wire::{SnapshotError, decode_event, decode_snapshot};

use crate::{EngineError, EngineOptions, RecoveredReceipts, receipts};

/// How often replay reports progress, in events.
const PROGRESS_EVERY: u64 = 1 << 16;

/// What start-up recovery found and did.
#[derive(Debug)]
pub struct Recovered {
    /// The sequence number the snapshot used was taken at, if one was used.
    pub snapshot_seq: Option<u64>,
    /// Snapshots that could not be used (damaged, from another build, or from another history),
    /// each with the reason; printed, one reads `path: reason: cause`. Not an error: the log is
    /// replayed instead.
    pub skipped_snapshots: Vec<SkippedSnapshot<SnapshotRejection>>,
    /// Events replayed from the log after the snapshot (or from the start).
    pub replayed: u64,
    /// The log's last sequence number.
    pub last_seq: u64,
    /// The log's chain hash at its last record.
    pub head_hash: ChainHash,
    /// A torn final record the log cut off (a write interrupted by a crash), if any.
    pub torn_tail: Option<TornTail>,
    /// The idempotency receipts read back from the log's last window, whatever snapshot was
    /// used ([`Recovered::receipts`] lists them).
    pub receipts: RecoveredReceipts,
    /// How long recovery took.
    pub elapsed: Duration,
}

/// What a full replay found.
#[derive(Debug)]
pub struct ReplayReport {
    /// Events replayed.
    pub events: u64,
    /// The chain hash at the last record.
    pub head_hash: ChainHash,
    /// How long it took.
    pub elapsed: Duration,
}

impl ReplayReport {
    /// Events replayed per second.
    #[must_use]
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Why recovery did not use a snapshot (it then tries an older one, or replays the whole log).
/// Each variant prints its cause's message and exposes that cause's own source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotRejection {
    /// The file failed its own checks (header, checksums, sizes).
    #[error(transparent)]
    Damaged(#[from] SnapshotDamage),
    /// The log has no record at the snapshot's sequence number with its chain hash (another
    /// history, or a log that lost its tail), or could not be read to tell.
    #[error(transparent)]
    NotInLog(LogError),
    /// The payload does not decode as this build's state (another build's schema, or damage
    /// the checksums missed).
    #[error(transparent)]
    Undecodable(SnapshotError),
    /// The decoded state has applied another number of events than the snapshot's sequence.
    #[error("it holds {events_applied} events but was taken at seq {seq}")]
    EventsMismatch {
        /// Events the decoded state has applied.
        events_applied: u64,
        /// The sequence number the snapshot is stamped with.
        seq: u64,
    },
}

/// Applies `payloads` to `state`; returns how many were applied and the chain hash at the last
/// one, if the read computed it. With a second core, reading and checking the records (CRC,
/// sequence, hash chain) runs on a thread of its own, a batch ahead of decoding and applying
/// them on this one ([`apply_pipelined`]); on one core, in turn ([`apply_in_turn`]). Either way
/// the same events are applied in the same order, and the first problem ends it.
fn apply_payloads(
    payloads: Payloads,
    total: u64,
    state: &mut State,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(u64, Option<ChainHash>), EngineError> {
    progress(0, total);
    // Nobody routes during a replay: keep only the canonical state, build the index once after.
    state.suspend_index();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let outcome = if cores > 1 && total > BATCH_RECORDS as u64 {
        apply_pipelined(payloads, total, state, progress)
    } else {
        apply_in_turn(payloads, total, state, progress)
    };
    state.resume_index();
    let (applied, head) = outcome?;
    progress(applied, total);
    Ok((applied, head))
}

/// Decodes one checked payload and applies it; tells `progress` every [`PROGRESS_EVERY`] events.
fn apply_one(
    seq: u64,
    payload: &[u8],
    applied: &mut u64,
    total: u64,
    state: &mut State,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), EngineError> {
    let event = decode_event(payload).map_err(|source| EngineError::Decode { seq, source })?;
    state.apply(&event);
    *applied += 1;
    if applied.is_multiple_of(PROGRESS_EVERY) {
        progress(*applied, total);
    }
    Ok(())
}

/// [`apply_payloads`] on one thread: read, check, decode and apply each record in turn.
fn apply_in_turn(
    mut payloads: Payloads,
    total: u64,
    state: &mut State,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(u64, Option<ChainHash>), EngineError> {
    let mut applied = 0_u64;
    while let Some(record) = payloads.next_payload() {
        let (seq, payload) = record?;
        apply_one(seq, payload, &mut applied, total, state, progress)?;
    }
    Ok((applied, payloads.head()))
}

/// Records handed from the reading thread to the applying one at a time.
const BATCH_RECORDS: usize = 4096;

/// Checked payloads, back to back in one buffer, handed from the reading thread to the applying
/// one; its buffers go back to the reader to be filled again.
#[derive(Debug, Default)]
struct Batch {
    /// The payloads, one after the other.
    bytes: Vec<u8>,
    /// Each payload's seq and where it ends in `bytes` (it starts where the previous one ends).
    records: Vec<(u64, usize)>,
}

/// [`apply_payloads`] on two threads: a scoped thread reads and checks the records into
/// [`Batch`]es (two may wait), this one decodes and applies them. A read problem arrives after
/// the records before it, as in turn; a decoding problem stops the reader.
fn apply_pipelined(
    payloads: Payloads,
    total: u64,
    state: &mut State,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(u64, Option<ChainHash>), EngineError> {
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Result<Batch, LogError>>(2);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Batch>();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_batches(payloads, &full_tx, &empty_rx));
        let mut applied = 0_u64;
        let mut applying = || -> Result<(), EngineError> {
            for batch in &full_rx {
                let mut batch = batch?;
                let mut start = 0;
                for &(seq, end) in &batch.records {
                    apply_one(
                        seq,
                        &batch.bytes[start..end],
                        &mut applied,
                        total,
                        state,
                        progress,
                    )?;
                    start = end;
                }
                batch.bytes.clear();
                batch.records.clear();
                // The reader may have finished: then the buffer is simply dropped.
                let _ = empty_tx.send(batch);
            }
            Ok(())
        };
        let outcome = applying();
        // A reader still filling a batch finds nobody to take it, and stops.
        drop(full_rx);
        let head = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        outcome.map(|()| (applied, head))
    })
}

/// The reading side of [`apply_pipelined`]: fills batches with checked payloads and sends them,
/// then a problem if the read ends on one. Returns the chain hash at the last record read, if
/// the read computed it.
fn read_batches(
    mut payloads: Payloads,
    full: &std::sync::mpsc::SyncSender<Result<Batch, LogError>>,
    empty: &std::sync::mpsc::Receiver<Batch>,
) -> Option<ChainHash> {
    let mut batch = Batch::default();
    while let Some(record) = payloads.next_payload() {
        match record {
            Ok((seq, payload)) => {
                batch.bytes.extend_from_slice(payload);
                batch.records.push((seq, batch.bytes.len()));
                if batch.records.len() == BATCH_RECORDS {
                    let next = empty.try_recv().unwrap_or_default();
                    if full.send(Ok(std::mem::replace(&mut batch, next))).is_err() {
                        return None;
                    }
                }
            }
            Err(problem) => {
                if !batch.records.is_empty() && full.send(Ok(batch)).is_err() {
                    return None;
                }
                let _ = full.send(Err(problem));
                return None;
            }
        }
    }
    if !batch.records.is_empty() && full.send(Ok(batch)).is_err() {
        return None;
    }
    payloads.head()
}

/// Applies `records` to `state`; returns how many were applied and the last one's hash.
fn apply_records(
    records: impl IntoIterator<Item = Result<Record, LogError>>,
    total: u64,
    state: &mut State,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(u64, ChainHash), EngineError> {
    let mut applied = 0_u64;
    let mut head = ChainHash::GENESIS;
    progress(0, total);
    // Nobody routes during a replay: keep only the canonical state, build the index once after.
    state.suspend_index();
    for record in records {
        let record = record?;
        apply_one(
            record.seq,
            &record.payload,
            &mut applied,
            total,
            state,
            progress,
        )?;
        head = record.hash;
    }
    state.resume_index();
    progress(applied, total);
    Ok((applied, head))
}

/// Recovers the state at start-up. See [`crate::Engine::open`].
pub(crate) fn recover(
    dir: &Path,
    options: &EngineOptions,
    log: Recovery,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(State, Recovered), EngineError> {
    let started = Instant::now();
    let reader = LogReader::open_with_options(dir, &options.log)?;
    // The newest snapshot that matches the log and decodes; an older one when it does not.
    let (usable, skipped) = load_newest_usable_snapshot(dir, &options.snapshot, |snapshot| {
        verify_snapshot_against_log(&reader, &snapshot).map_err(SnapshotRejection::NotInLog)?;
        let decoded = decode_snapshot(&snapshot.payload).map_err(SnapshotRejection::Undecodable)?;
        if decoded.events_applied() == snapshot.seq {
            Ok((snapshot.seq, decoded))
        } else {
            Err(SnapshotRejection::EventsMismatch {
                events_applied: decoded.events_applied(),
                seq: snapshot.seq,
            })
        }
    })?;
    let (snapshot_seq, mut state) = match usable {
        Some((seq, state)) => (Some(seq), state),
        None => (None, State::new()),
    };
    let from = snapshot_seq.map_or(1, |seq| seq + 1);
    let total = log.last_seq.saturating_sub(from - 1);
    let replayed = if total > 0 {
        // `FileLog::open` has just verified the chain (`log`): it is not hashed again.
        apply_payloads(reader.read_opened(from, &log)?, total, &mut state, progress)?.0
    } else {
        0
    };
    if state.events_applied() != log.last_seq {
        return Err(EngineError::Diverged {
            applied: state.events_applied(),
            log_seq: log.last_seq,
        });
    }
    let receipts = receipts::read_back(&reader, &options.receipts, log.last_seq)?;
    let recovered = Recovered {
        snapshot_seq,
        skipped_snapshots: skipped,
        replayed,
        last_seq: log.last_seq,
        head_hash: log.head_hash,
        torn_tail: log.torn_tail,
        receipts,
        elapsed: started.elapsed(),
    };
    Ok((state, recovered))
}

/// Rebuilds the state from the whole log in `dir`, read-only (no snapshot is used, nothing is
/// written). `progress` is told (events replayed, events in the log).
///
/// # Errors
/// The log is damaged or a record does not decode.
pub fn replay(
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(State, ReplayReport), EngineError> {
    let started = Instant::now();
    let reader = LogReader::open(dir)?;
    // For progress only: the read below checks every record.
    let total = reader.count_by_framing()?;
    let mut state = State::new();
    let (events, head_hash) =
        apply_payloads(reader.payloads_from(1)?, total, &mut state, progress)?;
    let head_hash = head_hash.unwrap_or(ChainHash::GENESIS);
    let report = ReplayReport {
        events,
        head_hash,
        elapsed: started.elapsed(),
    };
    Ok((state, report))
}

/// Like [`replay`], over records read from any backend of the log (a JetStream log's reader,
/// say) from the first; `total` is how many there are, for `progress`.
///
/// # Errors
/// A record could not be read, or does not decode.
pub fn replay_records(
    records: impl IntoIterator<Item = Result<Record, LogError>>,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(State, ReplayReport), EngineError> {
    let started = Instant::now();
    let mut state = State::new();
    let (events, head_hash) = apply_records(records, total, &mut state, progress)?;
    let report = ReplayReport {
        events,
        head_hash,
        elapsed: started.elapsed(),
    };
    Ok((state, report))
}
