//! Snapshots: save and load, keep-newest-N pruning, fallback past a damaged newest snapshot, and
//! refusal of a snapshot from another history.

use std::fs;

use switchboard_log::{
    ChainHash, LogError, LogReader, SnapshotDamage, SnapshotOptions, load_latest_snapshot,
    save_snapshot, verify_snapshot_against_log,
};

use crate::common::{entries_for, open_clean};

fn snapshot_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("snapshot-"))
        .collect();
    names.sort();
    names
}

#[test]
fn saved_snapshots_load_back_and_only_the_newest_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let options = SnapshotOptions::default();
    assert_eq!(
        load_latest_snapshot(dir.path(), &options).unwrap().snapshot,
        None
    );

    let hash = ChainHash([7; 32]);
    let path = save_snapshot(dir.path(), 10, hash, b"state at 10", &options).unwrap();
    let latest = load_latest_snapshot(dir.path(), &options).unwrap();
    let snapshot = latest.snapshot.unwrap();
    assert_eq!((snapshot.seq, snapshot.head_hash), (10, hash));
    assert_eq!(snapshot.payload, b"state at 10");
    assert_eq!(snapshot.path, path);
    assert!(latest.skipped.is_empty());

    save_snapshot(dir.path(), 20, ChainHash([8; 32]), b"state at 20", &options).unwrap();
    save_snapshot(dir.path(), 30, ChainHash([9; 32]), &[], &options).unwrap();
    assert_eq!(
        snapshot_files(dir.path()),
        [
            "snapshot-00000000000000000020.snap",
            "snapshot-00000000000000000030.snap"
        ]
    );
    let snapshot = load_latest_snapshot(dir.path(), &options)
        .unwrap()
        .snapshot
        .unwrap();
    assert_eq!((snapshot.seq, snapshot.payload.len()), (30, 0));

    let keep_three = SnapshotOptions {
        keep_count: 3,
        ..options
    };
    save_snapshot(dir.path(), 40, ChainHash([1; 32]), b"x", &keep_three).unwrap();
    assert_eq!(snapshot_files(dir.path()).len(), 3);
    assert!(matches!(
        save_snapshot(dir.path(), 0, ChainHash::GENESIS, b"", &options),
        Err(LogError::InvalidSeq { .. })
    ));
    let tiny = SnapshotOptions {
        snapshot_bytes_max: 4,
        ..SnapshotOptions::default()
    };
    assert!(matches!(
        save_snapshot(dir.path(), 50, ChainHash::GENESIS, b"12345", &tiny),
        Err(LogError::SnapshotTooLarge {
            bytes: 5,
            bytes_max: 4
        })
    ));
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_the_previous_one_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let options = SnapshotOptions {
        keep_count: 3,
        ..SnapshotOptions::default()
    };
    save_snapshot(dir.path(), 5, ChainHash([5; 32]), b"five", &options).unwrap();
    let newer = save_snapshot(dir.path(), 6, ChainHash([6; 32]), b"six", &options).unwrap();
    let newest = save_snapshot(dir.path(), 7, ChainHash([7; 32]), b"seven", &options).unwrap();

    // Newest: a payload bit flipped. Next: cut short.
    let mut bytes = fs::read(&newest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
    fs::write(&newest, &bytes).unwrap();
    let latest = load_latest_snapshot(dir.path(), &options).unwrap();
    assert_eq!(latest.snapshot.as_ref().map(|s| s.seq), Some(6));
    assert_eq!(latest.skipped.len(), 1);
    assert_eq!(latest.skipped[0].path, newest);
    assert_eq!(latest.skipped[0].reason, SnapshotDamage::PayloadCrc);
    assert!(
        latest.skipped[0]
            .to_string()
            .ends_with(".snap: payload CRC32C mismatch"),
        "{}",
        latest.skipped[0]
    );

    let len = fs::metadata(&newer).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&newer)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let latest = load_latest_snapshot(dir.path(), &options).unwrap();
    let snapshot = latest.snapshot.unwrap();
    assert_eq!(
        (snapshot.seq, snapshot.payload.as_slice()),
        (5, &b"five"[..])
    );
    assert_eq!(
        latest.skipped.iter().map(|s| &s.path).collect::<Vec<_>>(),
        [&newest, &newer]
    );
    assert!(
        matches!(
            latest.skipped[1].reason,
            SnapshotDamage::LengthMismatch { payload_bytes, file_payload_bytes }
                if file_payload_bytes + 1 == payload_bytes
        ),
        "{}",
        latest.skipped[1]
    );

    // A header bit flip is caught by the header CRC.
    let oldest = snapshot.path;
    let mut bytes = fs::read(&oldest).unwrap();
    bytes[20] ^= 1;
    fs::write(&oldest, &bytes).unwrap();
    let latest = load_latest_snapshot(dir.path(), &options).unwrap();
    assert_eq!(latest.snapshot, None);
    assert_eq!(latest.skipped.len(), 3);
    assert_eq!(latest.skipped[2].reason, SnapshotDamage::HeaderCrc);
}

#[test]
fn a_snapshot_is_checked_against_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_clean(dir.path(), Default::default());
    log.append(&entries_for(1, 20)).unwrap();
    let reader = LogReader::open(dir.path()).unwrap();
    let at_12 = reader.record_at(12).unwrap().unwrap().hash;
    let options = SnapshotOptions::default();

    // Snapshots share the log's directory without disturbing it.
    save_snapshot(dir.path(), 12, at_12, b"state", &options).unwrap();
    let snapshot = load_latest_snapshot(dir.path(), &options)
        .unwrap()
        .snapshot
        .unwrap();
    verify_snapshot_against_log(&reader, &snapshot).unwrap();

    let foreign = save_snapshot(dir.path(), 15, at_12, b"other history", &options).unwrap();
    let snapshot = load_latest_snapshot(dir.path(), &options)
        .unwrap()
        .snapshot
        .unwrap();
    assert_eq!(snapshot.path, foreign);
    match verify_snapshot_against_log(&reader, &snapshot) {
        Err(LogError::SnapshotMismatch {
            seq: 15,
            snapshot_hash,
            log_hash,
        }) => {
            assert_eq!(snapshot_hash, at_12);
            assert_eq!(log_hash, reader.record_at(15).unwrap().unwrap().hash);
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }

    save_snapshot(dir.path(), 25, at_12, b"ahead", &options).unwrap();
    let snapshot = load_latest_snapshot(dir.path(), &options)
        .unwrap()
        .snapshot
        .unwrap();
    assert!(matches!(
        verify_snapshot_against_log(&reader, &snapshot),
        Err(LogError::SnapshotBeyondLog {
            seq: 25,
            log_last_seq: 20
        })
    ));
    drop(log);
    let (_, recovery) = switchboard_log::FileLog::open(dir.path(), Default::default()).unwrap();
    assert_eq!(recovery.last_seq, 20);
}
