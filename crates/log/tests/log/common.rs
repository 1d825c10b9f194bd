//! Helpers shared by the tests: deterministic payloads, seeded randomness that reports its seed.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use switchboard_log::{ChainHash, Entry, FileLog, LogOptions, Record};

/// The payload the tests write at `seq`: its length and bytes are a function of the seq, so any
/// record read back can be checked on its own.
pub(crate) fn payload_for(seq: u64) -> Vec<u8> {
    let len = 1 + (seq.wrapping_mul(37) % 300) as usize;
    (0..len)
        .map(|i| (seq as u8).wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

/// The event time the tests write at `seq`.
pub(crate) fn at_ms_for(seq: u64) -> u64 {
    1_700_000_000_000 + seq * 10
}

/// Entries for seqs `first..first + count`.
pub(crate) fn entries_for(first: u64, count: u64) -> Vec<Entry> {
    (first..first + count)
        .map(|seq| Entry {
            at_ms: at_ms_for(seq),
            payload: payload_for(seq),
        })
        .collect()
}

/// Checks a record read back against what the tests wrote at its seq.
pub(crate) fn assert_record_is_expected(record: &Record) {
    assert_eq!(
        record.payload,
        payload_for(record.seq),
        "payload of seq {}",
        record.seq
    );
    assert_eq!(
        record.at_ms,
        at_ms_for(record.seq),
        "at_ms of seq {}",
        record.seq
    );
    assert_eq!(
        record.hash,
        ChainHash::of_record(&record.prev_hash, record.seq, record.at_ms, &record.payload)
    );
}

/// Options with small segments, so tests cross many roll-overs.
pub(crate) fn small_segments() -> LogOptions {
    LogOptions {
        segment_bytes_max: 4096,
        ..LogOptions::default()
    }
}

/// Opens a log that must have recovered cleanly.
pub(crate) fn open_clean(dir: &Path, options: LogOptions) -> FileLog {
    let (log, recovery) = FileLog::open(dir, options).expect("open log");
    assert_eq!(recovery.torn_tail, None);
    log
}

/// The segment files in `dir`, sorted.
pub(crate) fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

/// A seeded generator whose seed is printed if the test fails. The seed comes from
/// `SWITCHBOARD_TEST_SEED` when set (to replay a failure), else from `default_seed`.
pub(crate) struct Seeded {
    /// The generator.
    pub(crate) rng: ChaCha8Rng,
    /// The seed, for the failure message.
    seed: u64,
}

impl Seeded {
    pub(crate) fn new(default_seed: u64) -> Self {
        let seed = std::env::var("SWITCHBOARD_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default_seed);
        Seeded {
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
        }
    }
}

impl Drop for Seeded {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "test failed with seed {0}; replay with SWITCHBOARD_TEST_SEED={0}",
                self.seed
            );
        }
    }
}
