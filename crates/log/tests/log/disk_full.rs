//! A full disk: the append that meets it fails with the operating system's `ENOSPC`, the writer
//! is poisoned with that cause (and says the disk was full), nothing reported durable is lost,
//! a snapshot that cannot be written leaves nothing behind, and once space is freed the log
//! reopens cleanly and takes appends again.
//!
//! The file system is real: a 1 MiB tmpfs mounted over a temporary directory (CI runs as root).
//! Where mounting is not permitted the test says why and runs the same checks of the committer
//! against an injected `ENOSPC` instead.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use switchboard_log::{
    Appended, ChainHash, CommitterOptions, Entry, EventLog, FileLog, GroupCommitter, LogError,
    LogOptions, Records, Report, SnapshotOptions, load_latest_snapshot, save_snapshot, verify,
};

use switchboard_log::small_fs::SmallFs;

use crate::common::{assert_record_is_expected, entries_for, open_clean};

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|name| name.ends_with(".tmp"))
        .collect()
}

/// Submits batches of 50 entries, one flush each, until the committer fails (bounded).
/// Returns the durable point reached and the failure the committer reported.
fn fill<L: EventLog + Send + 'static>(log: L) -> (u64, LogError, GroupCommitter<L>) {
    let (reports, reported) = mpsc::channel();
    let mut committer = GroupCommitter::spawn_reporting(log, CommitterOptions::default(), {
        move |report| reports.send(report).unwrap()
    })
    .unwrap();
    let mut durable = 0;
    let mut next = committer.next_seq();
    for _ in 0..10_000 {
        committer.submit(entries_for(next, 50)).unwrap();
        next += 50;
        match committer.flush() {
            Ok(point) => durable = point.up_to_seq,
            Err(poisoned) => {
                assert!(poisoned.is_storage_full(), "{poisoned}");
                assert!(
                    matches!(&poisoned, LogError::Poisoned { cause, .. } if cause.contains("No space left on device")),
                    "the poisoned writer keeps the operating system's error: {poisoned}"
                );
                let failure = reported
                    .try_iter()
                    .find_map(|report| match report {
                        Report::Failed(error) => Some(error),
                        Report::Durable(_) => None,
                    })
                    .expect("the failure is reported");
                return (durable, failure, committer);
            }
        }
    }
    panic!("the file system never filled");
}

#[test]
fn a_full_disk_stops_the_writer_with_its_cause_and_loses_nothing_durable() {
    let fs = match SmallFs::mount("1m") {
        Ok(fs) => fs,
        Err(reason) => {
            eprintln!("no tmpfs for this test ({reason}); checking an injected ENOSPC instead");
            an_injected_enospc_poisons_the_committer_as_a_full_disk();
            return;
        }
    };
    let dir = fs.path().join("data");
    let options = LogOptions {
        segment_bytes_max: 64 * 1024,
        ..LogOptions::default()
    };
    let log = open_clean(&dir, options.clone());
    let (durable, failure, committer) = fill(log);
    assert!(durable > 0, "something was durable before the disk filled");
    assert!(failure.is_storage_full(), "{failure}");
    assert!(
        matches!(failure, LogError::Io { .. }),
        "the report is the failed operation itself, naming its file: {failure}"
    );
    let text = format!("{failure}");
    assert!(text.contains(&dir.display().to_string()), "{text}");

    // A snapshot cannot be written either, and leaves no half-written file holding space.
    let snapshot = save_snapshot(
        &dir,
        durable,
        ChainHash::GENESIS,
        &vec![7_u8; 256 * 1024],
        &SnapshotOptions::default(),
    );
    let error = snapshot.expect_err("no room for a snapshot");
    assert!(error.is_storage_full(), "{error}");
    assert_eq!(temp_files(&dir), Vec::<String>::new());
    drop(committer);

    // Space is freed: the log reopens (cutting a torn tail, if the last write was cut short)
    // with every record reported durable, the chain whole, and takes appends again.
    fs.grow("4m").expect("the tmpfs grows");
    let (mut log, recovery) = FileLog::open(&dir, options).unwrap();
    assert!(
        recovery.last_seq >= durable,
        "recovered up to {} but {durable} was durable",
        recovery.last_seq
    );
    let records: Vec<_> = log
        .reader()
        .read_from(1)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len() as u64, recovery.last_seq);
    records.iter().for_each(assert_record_is_expected);
    let next = log.next_seq();
    let appended = log.append(&entries_for(next, 10)).unwrap();
    assert_eq!(appended.last_seq, next + 9);
    let report = verify(&dir, |_, _| {}).unwrap();
    assert_eq!(report.last_seq, next + 9);
    assert_eq!(report.torn_tail, None);
    save_snapshot(
        &dir,
        appended.last_seq,
        appended.head_hash,
        b"state",
        &SnapshotOptions::default(),
    )
    .unwrap();
    let latest = load_latest_snapshot(&dir, &SnapshotOptions::default()).unwrap();
    assert_eq!(latest.snapshot.map(|s| s.seq), Some(appended.last_seq));
}

/// A `FileLog` whose appends fail with `ENOSPC` once `appends_left` have succeeded.
struct FullAfter {
    inner: FileLog,
    appends_left: u32,
}

impl EventLog for FullAfter {
    type Records = Records;

    fn append(&mut self, entries: &[Entry]) -> Result<Appended, LogError> {
        if self.appends_left == 0 {
            return Err(LogError::Io {
                op: "write segment",
                path: self.inner.dir().join("injected.seg"),
                source: std::io::Error::from_raw_os_error(28),
            });
        }
        self.appends_left -= 1;
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

#[test]
fn an_injected_enospc_poisons_the_committer_as_a_full_disk() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let log = FullAfter {
        inner: open_clean(&dir, LogOptions::default()),
        appends_left: 3,
    };
    let (durable, failure, committer) = fill(log);
    assert_eq!(durable, 150);
    assert!(failure.is_storage_full(), "{failure}");
    drop(committer);
    let (_, recovery) = FileLog::open(&dir, LogOptions::default()).unwrap();
    assert_eq!(recovery.last_seq, 150);
}

#[test]
fn only_enospc_and_edquot_count_as_a_full_disk() {
    let io = |source| LogError::Io {
        op: "write segment",
        path: PathBuf::from("/data/1.seg"),
        source,
    };
    assert!(io(std::io::Error::from_raw_os_error(28)).is_storage_full());
    assert!(io(std::io::Error::from_raw_os_error(122)).is_storage_full());
    assert!(io(std::io::Error::from(std::io::ErrorKind::StorageFull)).is_storage_full());
    assert!(!io(std::io::Error::from_raw_os_error(5)).is_storage_full());
    assert!(!io(std::io::Error::from(std::io::ErrorKind::PermissionDenied)).is_storage_full());
    assert!(!LogError::WriterStopped.is_storage_full());
}
