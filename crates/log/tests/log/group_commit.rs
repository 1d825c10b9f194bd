//! Group commit: seqs assigned at submit, durability reported in order, batches merged under
//! load into one fsync, and poisoning after a real I/O failure.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use rand::Rng;
use switchboard_log::{
    Appended, ChainHash, CommitterOptions, Durable, Entry, EventLog, FileLog, GroupCommitter,
    LogError, LogReader, Records, Report, SeqRange,
};

use crate::common::{Seeded, assert_record_is_expected, entries_for, open_clean, small_segments};

/// A `FileLog` whose first append announces itself and then waits for the test to open a gate,
/// so the test knows for certain that later submits queue up behind an append in flight.
struct GatedLog {
    inner: FileLog,
    entered: Option<Sender<()>>,
    gate: Option<Receiver<()>>,
}

impl EventLog for GatedLog {
    type Records = Records;

    fn append(&mut self, entries: &[Entry]) -> Result<Appended, LogError> {
        if let (Some(entered), Some(gate)) = (self.entered.take(), self.gate.take()) {
            entered.send(()).unwrap();
            gate.recv().unwrap();
        }
        self.inner.append(entries)
    }
    fn next_seq(&self) -> u64 {
        self.inner.next_seq()
    }
    fn head_hash(&self) -> ChainHash {
        self.inner.head_hash()
    }
    fn payload_bytes_max(&self) -> usize {
        EventLog::payload_bytes_max(&self.inner)
    }
    fn read_from(&self, seq: u64) -> Result<Records, LogError> {
        self.inner.read_from(seq)
    }
}

fn recorder() -> (
    Arc<Mutex<Vec<Durable>>>,
    impl FnMut(Durable) + Send + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    (seen, move |durable| sink.lock().unwrap().push(durable))
}

#[test]
fn batches_queued_during_a_sync_are_merged_into_one_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (gate_tx, gate_rx) = mpsc::channel();
    let log = GatedLog {
        inner: open_clean(dir.path(), Default::default()),
        entered: Some(entered_tx),
        gate: Some(gate_rx),
    };
    let (seen, on_durable) = recorder();
    let mut committer =
        GroupCommitter::spawn(log, CommitterOptions::default(), on_durable).unwrap();

    let first = committer.submit(entries_for(1, 3)).unwrap();
    assert_eq!(
        first,
        SeqRange {
            first_seq: 1,
            last_seq: 3
        }
    );
    entered_rx.recv().unwrap(); // The writer is inside the first append now.
    let mut next = 4;
    for size in 1..=99u64 {
        let range = committer.submit(entries_for(next, size)).unwrap();
        assert_eq!(
            range,
            SeqRange {
                first_seq: next,
                last_seq: next + size - 1
            }
        );
        next += size;
    }
    assert_eq!(committer.next_seq(), next);
    gate_tx.send(()).unwrap();
    let durable = committer.flush().unwrap();
    assert_eq!(durable.up_to_seq, next - 1);

    let stats = committer.stats();
    assert_eq!(stats.batches_submitted, 100);
    assert_eq!(stats.batches_committed, 100);
    assert_eq!(stats.entries_committed, next - 1);
    assert_eq!(
        stats.groups_committed, 2,
        "99 queued batches took one group"
    );
    let log = committer.shutdown().unwrap();
    assert_eq!(log.inner.stats().data_syncs, 2, "one fdatasync per group");

    let reader = LogReader::open(dir.path()).unwrap();
    let hash_at = |seq| reader.record_at(seq).unwrap().unwrap().hash;
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Durable {
                up_to_seq: 3,
                head_hash: hash_at(3)
            },
            Durable {
                up_to_seq: next - 1,
                head_hash: hash_at(next - 1)
            },
        ]
    );
    assert_eq!(durable.head_hash, hash_at(next - 1));
    reader
        .read_from(1)
        .unwrap()
        .for_each(|r| assert_record_is_expected(&r.unwrap()));
}

#[test]
fn a_burst_of_submits_is_durable_in_order_with_fewer_fsyncs_than_batches() {
    let mut seeded = Seeded::new(0x5eed_0004);
    let dir = tempfile::tempdir().unwrap();
    let log = open_clean(dir.path(), small_segments());
    let (seen, on_durable) = recorder();
    let options = CommitterOptions {
        queue_batches_max: 64,
        ..CommitterOptions::default()
    };
    let mut committer = GroupCommitter::spawn(log, options, on_durable).unwrap();
    let mut batch_ends = Vec::new();
    let mut next = 1u64;
    for _ in 0..2_000 {
        let size = seeded.rng.random_range(1..=20);
        let range = committer.submit(entries_for(next, size)).unwrap();
        assert_eq!(range.first_seq, next);
        next = range.last_seq + 1;
        batch_ends.push(range.last_seq);
    }
    let stats_before_shutdown = committer.stats();
    let log = committer.shutdown().unwrap();
    let seen = seen.lock().unwrap();

    // Durability notices are strictly increasing, end at a batch boundary each, cover everything.
    assert!(seen.windows(2).all(|w| w[0].up_to_seq < w[1].up_to_seq));
    assert!(
        seen.iter()
            .all(|d| batch_ends.binary_search(&d.up_to_seq).is_ok())
    );
    assert_eq!(seen.last().unwrap().up_to_seq, next - 1);
    assert_eq!(seen.last().unwrap().head_hash, log.head_hash());
    let groups = seen.len() as u64;
    assert!(groups <= stats_before_shutdown.batches_submitted);
    // The caller submits in microseconds while each group waits for an fdatasync, so batches pile
    // up and merge. (The gated test above proves merging deterministically.)
    assert!(
        groups < 2_000,
        "{groups} groups for 2000 batches: no batch was merged"
    );
    assert!(log.stats().data_syncs < 2_000);

    let mut count = 0u64;
    for record in LogReader::open(dir.path()).unwrap().read_from(1).unwrap() {
        let record = record.unwrap();
        count += 1;
        assert_eq!(record.seq, count);
        assert_record_is_expected(&record);
    }
    assert_eq!(count, next - 1);
}

#[test]
fn empty_and_oversized_submits_are_refused_without_using_a_seq() {
    let dir = tempfile::tempdir().unwrap();
    let options = switchboard_log::LogOptions {
        record_bytes_max: 1024,
        ..small_segments()
    };
    let log = open_clean(dir.path(), options);
    let mut committer =
        GroupCommitter::spawn(log, CommitterOptions::default(), |_: Durable| {}).unwrap();
    assert!(matches!(
        committer.submit(Vec::new()),
        Err(LogError::EmptyBatch)
    ));
    let too_big = vec![Entry {
        at_ms: 0,
        payload: vec![0; 1024],
    }];
    assert!(matches!(
        committer.submit(too_big),
        Err(LogError::RecordTooLarge { .. })
    ));
    assert_eq!(committer.submit(entries_for(1, 1)).unwrap().first_seq, 1);
    assert_eq!(committer.flush().unwrap().up_to_seq, 1);
}

#[test]
fn an_io_failure_poisons_the_file_log_and_the_committer() {
    // A real failure: the data directory disappears, so the next segment roll-over cannot create
    // its file. (A failing fdatasync itself cannot be provoked without a fault-injecting file
    // system; it takes the same poisoning path.)
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let mut log = open_clean(&dir, small_segments());
    log.append(&entries_for(1, 2)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let error = log.append(&entries_for(3, 40)).unwrap_err();
    assert!(matches!(error, LogError::Io { .. }), "{error}");
    assert!(log.poisoned().is_some());
    // A small append would succeed on the still-open file, but the log refuses it.
    assert!(matches!(
        log.append(&entries_for(3, 1)),
        Err(LogError::Poisoned { .. })
    ));

    let dir = root.path().join("data2");
    let log = open_clean(&dir, small_segments());
    let (seen, on_durable) = recorder();
    let mut committer =
        GroupCommitter::spawn(log, CommitterOptions::default(), on_durable).unwrap();
    committer.submit(entries_for(1, 2)).unwrap();
    assert_eq!(committer.flush().unwrap().up_to_seq, 2);
    std::fs::remove_dir_all(&dir).unwrap();
    // Seqs are assigned, but the group fails at the roll-over.
    assert_eq!(committer.submit(entries_for(3, 40)).unwrap().first_seq, 3);
    assert!(matches!(committer.flush(), Err(LogError::Poisoned { .. })));
    assert!(matches!(
        committer.submit(entries_for(43, 1)),
        Err(LogError::Poisoned { .. })
    ));
    assert!(committer.poisoned().is_some());
    assert_eq!(committer.stats().groups_committed, 1);
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "nothing after the failure was reported durable"
    );
    assert!(matches!(
        committer.shutdown(),
        Err(LogError::Poisoned { .. })
    ));
}

#[test]
fn the_reporting_committer_reports_each_group_with_its_timings_then_its_failure_once() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let log = open_clean(&dir, small_segments());
    let (reports, reported) = mpsc::channel();
    let mut committer =
        GroupCommitter::spawn_reporting(log, CommitterOptions::default(), move |report| {
            reports.send(report).unwrap();
        })
        .unwrap();
    committer.submit(entries_for(1, 2)).unwrap();
    committer.submit(entries_for(3, 3)).unwrap();
    assert_eq!(committer.flush().unwrap().up_to_seq, 5);
    let mut groups = Vec::new();
    while let Ok(report) = reported.try_recv() {
        match report {
            Report::Durable(group) => groups.push(group),
            Report::Failed(error) => panic!("unexpected failure: {error}"),
        }
    }
    assert_eq!(groups.last().map(|g| g.durable.up_to_seq), Some(5));
    assert_eq!(groups.iter().map(|g| g.entries).sum::<u64>(), 5);
    assert_eq!(groups.iter().map(|g| g.batches).sum::<u64>(), 2);
    for group in &groups {
        let sync = group.sync_time.expect("a FileLog measures its fdatasync");
        assert!(sync <= group.append_time, "the sync is part of the append");
    }

    std::fs::remove_dir_all(&dir).unwrap();
    committer.submit(entries_for(6, 40)).unwrap();
    assert!(matches!(committer.flush(), Err(LogError::Poisoned { .. })));
    assert!(matches!(
        reported.try_recv(),
        Ok(Report::Failed(LogError::Io { .. }))
    ));
    assert!(
        reported.try_recv().is_err(),
        "the failure is reported once, and nothing durable after it"
    );
}
