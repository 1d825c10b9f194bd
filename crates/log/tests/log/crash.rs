//! Crash test: a child process (this test binary, re-executed) appends under load and reports each
//! durable seq; the parent SIGKILLs it at random points and checks the log after every kill.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_log::{ChainHash, FileLog, LogOptions, LogReader};

use crate::common::{Seeded, assert_record_is_expected, entries_for};

/// Set in the child's environment to the log directory; selects child mode.
const CHILD_DIR_VAR: &str = "SWITCHBOARD_LOG_CRASH_CHILD_DIR";
/// Set in the child's environment to its random seed.
const CHILD_SEED_VAR: &str = "SWITCHBOARD_LOG_CRASH_CHILD_SEED";
/// This test's name, for `--exact`.
const TEST_NAME: &str = "crash::sigkill_at_random_points_keeps_every_durable_record";
/// The child stops by itself after this many records, in case the parent is gone.
const CHILD_SEQ_MAX: u64 = 2_000_000;

fn options() -> LogOptions {
    LogOptions {
        segment_bytes_max: 16 << 10,
        ..LogOptions::default()
    }
}

/// Child mode: append random-sized batches forever, printing `durable <last_seq>` after each
/// append returns.
fn run_child(dir: &Path, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut log, _) = FileLog::open(dir, options()).expect("child opens the log");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    while log.next_seq() < CHILD_SEQ_MAX {
        let size = rng.random_range(1..=64);
        let appended = log
            .append(&entries_for(log.next_seq(), size))
            .expect("append");
        writeln!(out, "durable {}", appended.last_seq).expect("report");
        out.flush().expect("flush report");
    }
}

#[test]
fn sigkill_at_random_points_keeps_every_durable_record() {
    if let Ok(dir) = std::env::var(CHILD_DIR_VAR) {
        let seed = std::env::var(CHILD_SEED_VAR).unwrap().parse().unwrap();
        run_child(Path::new(&dir), seed);
        return;
    }
    let mut seeded = Seeded::new(0x5eed_0003);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut durable_max = 0u64;
    let mut torn_tails = 0u32;
    for iteration in 0..20 {
        let kill_after_reports = seeded.rng.random_range(0..=40u32);
        let child_seed: u64 = seeded.rng.random();
        let mut child = Command::new(&exe)
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_VAR, dir.path())
            .env(CHILD_SEED_VAR, child_seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut reports = 0u32;
        while reports < kill_after_reports {
            let Some(line) = lines.next() else { break };
            if let Some(seq) = line.unwrap().strip_prefix("durable ") {
                durable_max = durable_max.max(seq.parse().unwrap());
                reports += 1;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Reports still in the pipe were durable too.
        for line in lines {
            if let Some(seq) = line.unwrap().strip_prefix("durable ") {
                durable_max = durable_max.max(seq.parse().unwrap());
            }
        }
        assert!(
            reports == kill_after_reports,
            "iteration {iteration}: child died early"
        );

        let (log, recovery) = FileLog::open(dir.path(), options())
            .unwrap_or_else(|e| panic!("iteration {iteration}: open after kill: {e}"));
        torn_tails += u32::from(recovery.torn_tail.is_some());
        assert!(
            recovery.last_seq >= durable_max,
            "iteration {iteration}: lost durable records: log ends at {} but {durable_max} was durable",
            recovery.last_seq
        );
        let mut prev = ChainHash::GENESIS;
        let mut count = 0u64;
        for record in LogReader::open(dir.path()).unwrap().read_from(1).unwrap() {
            let record = record.unwrap();
            count += 1;
            assert_eq!(record.seq, count);
            assert_eq!(record.prev_hash, prev);
            assert_record_is_expected(&record);
            prev = record.hash;
        }
        assert_eq!(count, recovery.last_seq);
        assert_eq!(prev, log.head_hash());
        // Appends in the next iteration continue in the same directory.
    }
    assert!(durable_max > 0);
    eprintln!("crash test: {durable_max} records durable, {torn_tails} torn tails truncated");
}
