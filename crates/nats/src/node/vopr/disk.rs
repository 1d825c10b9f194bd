//! The simulated disk: the log's records as the node appended them, which of them an `fdatasync`
//! has covered, syncs that are slow or fail (the log poisons), and a crash that keeps the synced
//! records, any number of the rest, and perhaps a torn one. Recovery goes through the real code:
//! the surviving records are written to a real data directory (on tmpfs when there is one) with
//! the real `FileLog`, perhaps with a snapshot, the torn record's bytes are cut, and
//! `Engine::open` recovers it.

use std::collections::VecDeque;
use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use switchboard_core::{Event, Router, RoutingConfig, State, Timestamp};
use switchboard_engine::{Engine, EngineOptions, EngineParts, ReceiptOptions};
use switchboard_log::{Entry, FileLog, LogOptions, LogReader, SnapshotOptions};
use switchboard_wire::Receipt;

/// One group of appended records waiting for its `fdatasync`.
#[derive(Debug)]
struct Sync {
    /// The last record it covers.
    last_seq: u64,
    /// When the sync returns.
    done_at: Timestamp,
    /// Whether it fails (the log poisons).
    fails: bool,
}

/// What a sync that returned says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Synced {
    /// Every record up to here is durable.
    Durable(u64),
    /// The sync failed: nothing more becomes durable until the log is opened again.
    Failed,
}

/// The log on the simulated disk.
#[derive(Debug, Default)]
pub(super) struct Disk {
    /// Every record appended since the log was last opened, and those it was opened with.
    pub(super) entries: Vec<Entry>,
    /// Every record up to here is on the disk for good (its sync returned).
    pub(super) synced: u64,
    syncs: VecDeque<Sync>,
    /// A sync failed: appends are refused until the log is opened again.
    pub(super) poisoned: bool,
}

/// What recovery found, through the real engine.
pub(super) struct Recovered {
    /// The router over the recovered state.
    pub(super) router: Router,
    /// The records that survived, as the log holds them now.
    pub(super) entries: Vec<Entry>,
    /// Whether a torn record was cut.
    pub(super) torn: bool,
    /// The snapshot recovery started from, if any.
    pub(super) snapshot_seq: Option<u64>,
    /// The idempotency receipts recovery read back.
    pub(super) receipts: Vec<(Timestamp, Receipt)>,
}

impl Disk {
    /// The number of records.
    pub(super) fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Appends a turn's records; their sync returns after `latency` (after any sync before it),
    /// or fails. Refused (`false`) when the log is poisoned.
    pub(super) fn append(
        &mut self,
        entries: Vec<Entry>,
        now: Timestamp,
        latency: std::time::Duration,
        fails: bool,
    ) -> bool {
        if self.poisoned {
            return false;
        }
        self.entries.extend(entries);
        let after = self.syncs.back().map_or(now, |sync| sync.done_at.max(now));
        self.syncs.push_back(Sync {
            last_seq: self.len(),
            done_at: after + latency,
            fails,
        });
        true
    }

    /// The next sync that has returned by `now`, if any.
    pub(super) fn poll_synced(&mut self, now: Timestamp) -> Option<Synced> {
        if self.poisoned {
            return None;
        }
        let sync = self.syncs.front().filter(|sync| sync.done_at <= now)?;
        if sync.fails {
            // A failed fsync is never retried: everything after it stays unsynced.
            self.poisoned = true;
            self.syncs.clear();
            return Some(Synced::Failed);
        }
        let last_seq = sync.last_seq;
        self.syncs.pop_front();
        self.synced = last_seq;
        Some(Synced::Durable(last_seq))
    }

    /// When the next sync returns.
    pub(super) fn next_sync(&self) -> Option<Timestamp> {
        self.syncs.front().map(|sync| sync.done_at)
    }

    /// Whether no sync is out.
    pub(super) fn is_idle(&self) -> bool {
        self.syncs.is_empty()
    }

    /// The process died: the synced records stay, and of the rest a prefix, perhaps with a
    /// torn record after it. The log is opened again through the real engine (perhaps from a
    /// snapshot taken at a random point), and the disk holds what it recovered.
    pub(super) fn crash_and_recover(
        &mut self,
        rng: &mut ChaCha8Rng,
        config: &RoutingConfig,
        receipts: &ReceiptOptions,
    ) -> Recovered {
        let unsynced = self.len() - self.synced;
        let kept = self.synced + rng.random_range(0..=unsynced);
        let torn = (kept < self.len() && rng.random_bool(0.5)).then(|| {
            let framed = 56 + self.entries[index(kept)].payload.len();
            rng.random_range(1..framed)
        });
        let snapshot_at = (kept > 0 && rng.random_bool(0.3)).then(|| rng.random_range(1..=kept));
        let recovered = recover(&self.entries, kept, snapshot_at, torn, config, receipts);
        assert_eq!(
            recovered.entries.len() as u64,
            kept,
            "recovery keeps exactly the surviving records"
        );
        assert_eq!(recovered.torn, torn.is_some(), "a torn record is cut");
        assert_eq!(recovered.snapshot_seq, snapshot_at, "the snapshot is used");
        self.entries.clone_from(&recovered.entries);
        self.synced = kept;
        self.syncs.clear();
        self.poisoned = false;
        recovered
    }
}

fn index(seq: u64) -> usize {
    usize::try_from(seq).expect("a simulated log fits in memory")
}

/// The decoded event of a record.
pub(super) fn event(entry: &Entry) -> Event {
    switchboard_wire::decode_event(&entry.payload).expect("the node writes events that decode")
}

/// A scratch data directory, on tmpfs when the machine has one (the real log syncs it).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::Builder::new().prefix("vopr").tempdir_in(shm)
    } else {
        tempfile::Builder::new().prefix("vopr").tempdir()
    };
    dir.expect("a scratch directory")
}

/// Writes the first `kept` of `entries` as a real log (with a snapshot at `snapshot_at`, and
/// the next record torn by `torn` bytes) and recovers it with `Engine::open`.
fn recover(
    entries: &[Entry],
    kept: u64,
    snapshot_at: Option<u64>,
    torn: Option<usize>,
    config: &RoutingConfig,
    receipts: &ReceiptOptions,
) -> Recovered {
    let dir = scratch();
    let (mut log, _) = FileLog::open(dir.path(), LogOptions::default()).expect("a new log");
    let mut from = 0;
    if let Some(at) = snapshot_at {
        let appended = log.append(&entries[..index(at)]).expect("append");
        let state = State::replay(&entries[..index(at)].iter().map(event).collect::<Vec<_>>());
        let bytes = switchboard_wire::encode_snapshot(&state);
        assert!(
            !super::clients::holds_personal_data(&bytes),
            "a snapshot holds personal data in plaintext"
        );
        switchboard_log::save_snapshot(
            dir.path(),
            at,
            appended.head_hash,
            &bytes,
            &SnapshotOptions::default(),
        )
        .expect("a snapshot");
        from = index(at);
    }
    if index(kept) > from {
        log.append(&entries[from..index(kept)]).expect("append");
    }
    if let Some(cut) = torn {
        log.append(&entries[index(kept)..=index(kept)])
            .expect("append");
        let segment = dir.path().join(format!("{:020}.seg", 1));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&segment)
            .expect("the segment");
        let length = file.metadata().expect("its length").len();
        file.set_len(length - cut as u64).expect("torn");
    }
    drop(log);
    let options = EngineOptions {
        snapshot_every_events: 0,
        receipts: receipts.clone(),
        ..EngineOptions::default()
    };
    let (engine, recovered) = Engine::open(dir.path(), config.clone(), options, &mut |_, _| {})
        .expect("the engine recovers what survived");
    let EngineParts { router, .. } = engine.into_parts().expect("nothing pending");
    let reader = LogReader::open(dir.path()).expect("a reader");
    let entries = reader
        .read_from(1)
        .expect("read")
        .map(|record| {
            let record = record.expect("an intact record");
            Entry {
                at_ms: record.at_ms,
                payload: record.payload,
            }
        })
        .collect();
    Recovered {
        router,
        entries,
        torn: recovered.torn_tail.is_some(),
        snapshot_seq: recovered.snapshot_seq,
        receipts: recovered.receipts.into_entries(),
    }
}
