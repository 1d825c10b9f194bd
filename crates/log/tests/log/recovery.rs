//! Recovery on open: torn tails are truncated; damage anywhere else is a hard error that names its
//! position, and `verify` and the readers report it too (a missing segment included).

use std::fs;
use std::path::Path;

use rand::Rng;
use switchboard_log::{
    ChainHash, Corruption, FileLog, LogError, LogOptions, LogReader, Problem, TornTail, verify,
};

use crate::common::{
    Seeded, assert_record_is_expected, entries_for, open_clean, segment_files, small_segments,
};

/// Byte offsets of every record in a segment file, found by walking the length fields.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 64;
    while at < bytes.len() {
        offsets.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + len;
    }
    assert_eq!(at, bytes.len(), "test log is well formed");
    offsets
}

/// Writes records 1..=`count` (single-record batches) into a fresh directory.
fn write_log(dir: &Path, count: u64, options: LogOptions) -> Vec<ChainHash> {
    let mut log = open_clean(dir, options);
    let mut heads = vec![ChainHash::GENESIS];
    for seq in 1..=count {
        heads.push(log.append(&entries_for(seq, 1)).unwrap().head_hash);
    }
    heads
}

/// Copies a log directory's segment files into a new temporary directory.
fn copy_log(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for file in segment_files(from) {
        fs::copy(&file, to.path().join(file.file_name().unwrap())).unwrap();
    }
    to
}

/// Flips a bit of the record at `bytes[start..end]`, `at` bytes into it, and gives it a valid
/// CRC again: an edit only the hash chain can catch.
fn edit_with_valid_crc(bytes: &mut [u8], start: usize, end: usize, at: usize) {
    bytes[start + at] ^= 0x40;
    let crc = crc32c::crc32c_append(
        crc32c::crc32c(&bytes[start..start + 4]),
        &bytes[start + 8..end],
    );
    bytes[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn corruption_of(result: Result<(FileLog, switchboard_log::Recovery), LogError>) -> Corruption {
    match result {
        Err(LogError::Corrupt(corruption)) => *corruption,
        Err(other) => panic!("expected corruption, got {other}"),
        Ok((_, recovery)) => panic!("expected corruption, opened with {recovery:?}"),
    }
}

#[test]
fn truncating_the_last_record_at_every_byte_offset_recovers_the_earlier_records() {
    let pristine = tempfile::tempdir().unwrap();
    let heads = write_log(pristine.path(), 10, LogOptions::default());
    let segment = segment_files(pristine.path()).remove(0);
    let bytes = fs::read(&segment).unwrap();
    let offsets = record_offsets(&bytes);
    let last_start = *offsets.last().unwrap();
    assert!(
        bytes.len() - last_start > 56 + 20,
        "last record has a payload to cut"
    );

    for cut in last_start..bytes.len() {
        let dir = copy_log(pristine.path());
        let path = dir.path().join(segment.file_name().unwrap());
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();

        let (mut log, recovery) = FileLog::open(dir.path(), LogOptions::default())
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(recovery.last_seq, 9, "cut at {cut}");
        assert_eq!(recovery.head_hash, heads[9], "cut at {cut}");
        let expected_tail = (cut > last_start).then(|| TornTail {
            segment: path.clone(),
            offset: last_start as u64,
            bytes: (cut - last_start) as u64,
        });
        assert_eq!(recovery.torn_tail, expected_tail, "cut at {cut}");
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            last_start as u64,
            "cut at {cut}"
        );

        // Appending continues the chain from record 9.
        let appended = log.append(&entries_for(10, 2)).unwrap();
        assert_eq!((appended.first_seq, appended.last_seq), (10, 11));
        drop(log);
        let report = verify(dir.path(), |_, _| {}).unwrap();
        assert_eq!(report.last_seq, 11);
        assert_eq!(report.torn_tail, None);
        let records: Vec<_> = LogReader::open(dir.path())
            .unwrap()
            .read_from(1)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(records.len(), 11);
        assert_eq!(records[9].prev_hash, heads[9]);
        assert_eq!(
            records[9].hash, heads[10],
            "record 10 rewritten identically"
        );
        records.iter().for_each(assert_record_is_expected);
    }
}

#[test]
fn a_final_record_failing_its_crc_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let heads = write_log(dir.path(), 5, LogOptions::default());
    let segment = segment_files(dir.path()).remove(0);
    let mut bytes = fs::read(&segment).unwrap();
    let last_start = *record_offsets(&bytes).last().unwrap();
    let end = bytes.len();
    bytes[end - 1] ^= 0x01;
    fs::write(&segment, &bytes).unwrap();

    // verify reports the torn tail without touching it; open truncates it.
    let report = verify(dir.path(), |_, _| {}).unwrap();
    assert_eq!(report.last_seq, 4);
    assert_eq!(
        report.torn_tail.as_ref().map(|t| t.offset),
        Some(last_start as u64)
    );
    let (_, recovery) = FileLog::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(recovery.last_seq, 4);
    assert_eq!(recovery.head_hash, heads[4]);
    assert_eq!(
        recovery.torn_tail,
        Some(TornTail {
            segment,
            offset: last_start as u64,
            bytes: (end - last_start) as u64,
        })
    );
}

/// Flips one bit at `byte` of `file` in a copy of `pristine`, then checks that open fails naming
/// `record_offset` in that file, and that verify reports the same corruption.
fn assert_flip_is_caught(pristine: &Path, file: &Path, byte: usize, bit: u8, record_offset: u64) {
    let dir = copy_log(pristine);
    let path = dir.path().join(file.file_name().unwrap());
    let mut bytes = fs::read(&path).unwrap();
    bytes[byte] ^= 1 << bit;
    fs::write(&path, &bytes).unwrap();
    let context = format!("flip bit {bit} of byte {byte} in {}", path.display());

    let corruption = corruption_of(FileLog::open(dir.path(), LogOptions::default()));
    assert_eq!(corruption.segment, path, "{context}");
    assert_eq!(corruption.offset, record_offset, "{context}: {corruption}");
    let message = LogError::from(corruption.clone()).to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("offset {record_offset}")),
        "{message}"
    );

    match verify(dir.path(), |_, _| {}) {
        Err(LogError::Corrupt(from_verify)) => assert_eq!(*from_verify, corruption, "{context}"),
        other => panic!("{context}: verify gave {other:?}"),
    }
    // Nothing was truncated or repaired.
    assert_eq!(fs::read(&path).unwrap(), bytes, "{context}");
}

#[test]
fn a_flipped_bit_in_an_earlier_record_is_a_hard_error_naming_its_position() {
    let mut seeded = Seeded::new(0x5eed_0002);
    let pristine = tempfile::tempdir().unwrap();
    let options = LogOptions {
        segment_bytes_max: 4096,
        ..LogOptions::default()
    };
    write_log(pristine.path(), 40, options);
    let segments = segment_files(pristine.path());
    assert!(segments.len() >= 3, "need earlier and last segments");

    for (index, segment) in segments.iter().enumerate() {
        let bytes = fs::read(segment).unwrap();
        let offsets = record_offsets(&bytes);
        let is_last = index + 1 == segments.len();
        // In the last segment the final record would be a torn tail, so damage an earlier one;
        // in earlier segments every record counts, the final one included.
        let candidates = if is_last {
            &offsets[..offsets.len() - 1]
        } else {
            &offsets[..]
        };
        // The first, a middle and the final candidate record of each segment.
        let picks = [0, candidates.len() / 2, candidates.len() - 1];
        for &start in picks.iter().map(|&i| &candidates[i]) {
            let end = offsets
                .iter()
                .find(|&&o| o > start)
                .copied()
                .unwrap_or(bytes.len());
            // Every header byte (length, CRC, seq, at_ms, prev_hash) and a few payload bytes.
            let mut positions: Vec<usize> = (start..start + 56).collect();
            for _ in 0..3 {
                positions.push(seeded.rng.random_range(start + 56..end));
            }
            for byte in positions {
                let bit = seeded.rng.random_range(0..8u8);
                assert_flip_is_caught(pristine.path(), segment, byte, bit, start as u64);
            }
        }
    }
}

#[test]
fn a_damaged_segment_header_is_a_hard_error() {
    let pristine = tempfile::tempdir().unwrap();
    write_log(
        pristine.path(),
        40,
        LogOptions {
            segment_bytes_max: 4096,
            ..LogOptions::default()
        },
    );
    let segments = segment_files(pristine.path());
    for segment in [&segments[0], &segments[1], segments.last().unwrap()] {
        for byte in [0, 9, 17, 30, 57] {
            assert_flip_is_caught(pristine.path(), segment, byte, 2, 0);
        }
    }
}

#[test]
fn an_edited_payload_with_a_recomputed_crc_breaks_the_hash_chain() {
    let pristine = tempfile::tempdir().unwrap();
    let heads = write_log(pristine.path(), 30, LogOptions::default());
    let segment = segment_files(pristine.path()).remove(0);
    let bytes = fs::read(&segment).unwrap();
    let offsets = record_offsets(&bytes);

    // Alter record 12: its payload, its at_ms, then its seq, each with a valid CRC.
    for (field_at, expected_problem_seq) in [(60usize, 13u64), (16, 13), (8, 12)] {
        let dir = copy_log(pristine.path());
        let path = dir.path().join(segment.file_name().unwrap());
        let mut tampered = bytes.clone();
        edit_with_valid_crc(&mut tampered, offsets[11], offsets[12], field_at);
        fs::write(&path, &tampered).unwrap();

        let corruption = corruption_of(FileLog::open(dir.path(), LogOptions::default()));
        assert_eq!(corruption.segment, path);
        assert_eq!(corruption.seq, Some(expected_problem_seq));
        if expected_problem_seq == 13 {
            // The chain catches the edit at the next record, which names record 12's true hash.
            assert_eq!(corruption.offset, offsets[12] as u64);
            match &corruption.problem {
                Problem::ChainBroken { found, expected } => {
                    assert_eq!(
                        *found, heads[12],
                        "record 13 still holds record 12's true hash"
                    );
                    assert_ne!(expected, found);
                }
                other => panic!("expected a broken chain, got {other}"),
            }
        } else {
            assert_eq!(corruption.offset, offsets[11] as u64);
            assert!(matches!(
                corruption.problem,
                Problem::SequenceMismatch { expected: 12, .. }
            ));
        }
        match verify(dir.path(), |_, _| {}) {
            Err(LogError::Corrupt(from_verify)) => assert_eq!(*from_verify, corruption),
            other => panic!("verify gave {other:?}"),
        }
    }
}

#[test]
fn an_edited_final_record_is_visible_only_in_the_head_hash() {
    // The documented limit of a hash chain: the last record has no successor to vouch for it, so
    // the edit is caught by comparing the head hash with one kept elsewhere.
    let dir = tempfile::tempdir().unwrap();
    let heads = write_log(dir.path(), 5, LogOptions::default());
    let segment = segment_files(dir.path()).remove(0);
    let mut bytes = fs::read(&segment).unwrap();
    let start = *record_offsets(&bytes).last().unwrap();
    let end = bytes.len();
    edit_with_valid_crc(&mut bytes, start, end, 60);
    fs::write(&segment, &bytes).unwrap();
    let report = verify(dir.path(), |_, _| {}).unwrap();
    assert_eq!(report.last_seq, 5);
    assert_ne!(report.head_hash, heads[5]);
}

#[test]
fn a_missing_middle_segment_is_a_sequence_gap() {
    let dir = tempfile::tempdir().unwrap();
    write_log(
        dir.path(),
        40,
        LogOptions {
            segment_bytes_max: 4096,
            ..LogOptions::default()
        },
    );
    let segments = segment_files(dir.path());
    assert!(segments.len() >= 3);
    fs::remove_file(&segments[1]).unwrap();
    let corruption = corruption_of(FileLog::open(dir.path(), LogOptions::default()));
    assert_eq!(corruption.segment, segments[2]);
    assert_eq!(corruption.offset, 0);
    assert!(
        matches!(corruption.problem, Problem::SegmentSeqMismatch { .. }),
        "{corruption}"
    );

    // Removing the first segment is caught too: the log must start at seq 1.
    fs::remove_file(&segments[0]).unwrap();
    let corruption = corruption_of(FileLog::open(dir.path(), LogOptions::default()));
    assert_eq!(corruption.segment, segments[2]);
    assert!(matches!(
        corruption.problem,
        Problem::SegmentSeqMismatch { expected: 1, .. }
    ));
}

/// The first seq of a segment file, from its name.
fn first_seq_of(segment: &Path) -> u64 {
    segment
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .unwrap()
}

/// Reads the whole log from `from_seq` and returns the corruption that must end the reading.
fn reader_corruption(dir: &Path, from_seq: u64) -> Corruption {
    let result: Result<Vec<_>, _> = LogReader::open(dir)
        .unwrap()
        .read_from(from_seq)
        .and_then(|records| records.collect());
    match result {
        Err(LogError::Corrupt(corruption)) => *corruption,
        Err(other) => panic!("expected corruption, got {other}"),
        Ok(records) => panic!(
            "expected corruption, the reader ended quietly after {} records",
            records.len()
        ),
    }
}

#[test]
fn a_reader_reports_a_missing_middle_segment_instead_of_ending_there() {
    // Readers back replay and the contact history: taking the end of the segment before the
    // hole for the end of the log would pass a truncated log off as whole.
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 40, small_segments());
    let segments = segment_files(dir.path());
    assert!(segments.len() >= 3, "the test needs roll-overs");
    let missing = first_seq_of(&segments[1]);
    let after = first_seq_of(&segments[2]);
    fs::remove_file(&segments[1]).unwrap();
    let expected = Corruption {
        segment: segments[2].clone(),
        offset: 0,
        seq: Some(missing),
        problem: Problem::SegmentSeqMismatch {
            expected: missing,
            found: after,
        },
    };

    // From the start, and from inside the missing range (which starts in the segment before).
    assert_eq!(reader_corruption(dir.path(), 1), expected);
    assert_eq!(reader_corruption(dir.path(), missing + 1), expected);
    // The scan path shares the cursor.
    let scanned: Result<Vec<_>, _> = LogReader::open(dir.path())
        .unwrap()
        .scan(1, |_| true)
        .unwrap()
        .collect();
    assert!(
        matches!(&scanned, Err(LogError::Corrupt(c)) if **c == expected),
        "{scanned:?}"
    );
    // Records before the hole are still readable one by one, and a bounded read ends cleanly.
    let bounded: Vec<_> = LogReader::open(dir.path())
        .unwrap()
        .read_from(1)
        .unwrap()
        .up_to(missing - 1)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(bounded.len() as u64, missing - 1);
    // verify walks every segment itself and names the same gap.
    match verify(dir.path(), |_, _| {}) {
        Err(LogError::Corrupt(from_verify)) => {
            assert_eq!(from_verify.segment, segments[2]);
            assert_eq!(from_verify.problem, expected.problem);
        }
        other => panic!("verify gave {other:?}"),
    }

    // A partial record at the end of the segment before the hole is damage too, not a torn tail:
    // the log goes on after it.
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(&segments[0])
        .unwrap();
    std::io::Write::write_all(&mut file, &[9, 0, 0]).unwrap();
    drop(file);
    let corruption = reader_corruption(dir.path(), 1);
    assert_eq!(corruption.segment, segments[0]);
    assert_eq!(corruption.problem, Problem::Truncated);
}

#[test]
fn a_reader_reports_a_header_only_segment_that_is_not_the_newest() {
    // Only the newest segment may be a bare header (a crash right after a roll-over); one with
    // later segments after it has lost its records.
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 40, small_segments());
    let segments = segment_files(dir.path());
    assert!(segments.len() >= 3, "the test needs roll-overs");
    let emptied = first_seq_of(&segments[1]);
    fs::OpenOptions::new()
        .write(true)
        .open(&segments[1])
        .unwrap()
        .set_len(64)
        .unwrap();
    let corruption = reader_corruption(dir.path(), 1);
    assert_eq!(corruption.segment, segments[2]);
    assert_eq!(
        corruption.problem,
        Problem::SegmentSeqMismatch {
            expected: emptied,
            found: first_seq_of(&segments[2]),
        }
    );
    assert!(matches!(
        verify(dir.path(), |_, _| {}),
        Err(LogError::Corrupt(c)) if matches!(c.problem, Problem::SegmentSeqMismatch { .. })
    ));
}

#[test]
fn a_reader_reports_a_missing_first_segment() {
    // Reading on from the first segment that is there would start the history part way through.
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 40, small_segments());
    let segments = segment_files(dir.path());
    assert!(segments.len() >= 2, "the test needs roll-overs");
    fs::remove_file(&segments[0]).unwrap();
    let corruption = reader_corruption(dir.path(), 1);
    assert_eq!(corruption.segment, segments[1]);
    assert_eq!(
        corruption.problem,
        Problem::SegmentSeqMismatch {
            expected: 1,
            found: first_seq_of(&segments[1]),
        }
    );
}

#[test]
fn a_half_created_segment_is_removed_and_a_reader_stops_at_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 5, LogOptions::default());
    let leftover = dir.path().join("00000000000000000006.seg.tmp");
    fs::write(&leftover, b"SWBD").unwrap();
    // A torn tail that open has not yet repaired: the reader ends quietly before it.
    let segment = segment_files(dir.path()).remove(0);
    let mut file = fs::OpenOptions::new().append(true).open(&segment).unwrap();
    std::io::Write::write_all(&mut file, &[9, 0, 0]).unwrap();
    assert_eq!(
        LogReader::open(dir.path())
            .unwrap()
            .read_from(1)
            .unwrap()
            .count(),
        5
    );

    let (_, recovery) = FileLog::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(recovery.temp_files_removed, 1);
    assert_eq!(recovery.torn_tail.map(|t| t.bytes), Some(3));
    assert!(!leftover.exists());
}

#[test]
fn a_newest_segment_holding_only_its_header_ends_the_log_for_readers_and_recovery() {
    // A crash after a roll-over created the next segment but before its first record was
    // written leaves a segment that is only a header. Readers used to take the header-only
    // segment for its own successor and loop for ever.
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 200, small_segments());
    let segments = segment_files(dir.path());
    assert!(segments.len() >= 3, "the test needs roll-overs");
    let newest = segments.last().unwrap();
    let first_in_newest: u64 = newest
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(newest)
        .unwrap()
        .set_len(64)
        .unwrap();
    let kept = first_in_newest - 1;

    // Read on a thread with a bound, so that a reader that loops fails the test, not hangs it.
    let (done, read) = std::sync::mpsc::channel();
    let path = dir.path().to_path_buf();
    std::thread::spawn(move || {
        let records: Result<Vec<_>, _> = LogReader::open(&path)
            .unwrap()
            .read_from(1)
            .unwrap()
            .collect();
        let _ = done.send(records);
    });
    let records = read
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the reader ends at the header-only segment instead of looping")
        .unwrap();
    assert_eq!(records.len() as u64, kept);
    assert_eq!(records.last().map(|r| r.seq), Some(kept));
    // Reading from inside the empty segment's range finds nothing, and ends.
    assert_eq!(
        LogReader::open(dir.path())
            .unwrap()
            .read_from(first_in_newest)
            .unwrap()
            .count(),
        0
    );
    assert_eq!(verify(dir.path(), |_, _| {}).unwrap().records, kept);

    // The writer carries on in that segment, and readers then see the new records.
    let (mut log, recovery) = FileLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(recovery.last_seq, kept);
    log.append(&entries_for(first_in_newest, 3)).unwrap();
    drop(log);
    let records: Vec<_> = LogReader::open(dir.path())
        .unwrap()
        .read_from(1)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len() as u64, kept + 3);
    records.iter().for_each(assert_record_is_expected);
}

/// Every (seq, payload) of a `Payloads` read, or its error.
fn read_payloads(mut payloads: switchboard_log::Payloads) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
    let mut read = Vec::new();
    while let Some(record) = payloads.next_payload() {
        let (seq, payload) = record?;
        read.push((seq, payload.to_vec()));
    }
    Ok(read)
}

#[test]
fn reading_after_open_yields_what_a_checked_read_yields_and_ends_at_the_opened_head() {
    let dir = tempfile::tempdir().unwrap();
    let heads = write_log(dir.path(), 60, small_segments());
    assert!(segment_files(dir.path()).len() >= 3);
    for full_scan_on_open in [true, false] {
        let options = LogOptions {
            full_scan_on_open,
            ..small_segments()
        };
        let (log, opened) = FileLog::open(dir.path(), options.clone()).unwrap();
        let reader = LogReader::open_with_options(dir.path(), &options).unwrap();
        for from in [1, 2, 31, 60] {
            let checked: Vec<_> = reader
                .read_from(from)
                .unwrap()
                .map(|r| r.map(|r| (r.seq, r.payload)).unwrap())
                .collect();
            let mut trusted = reader.read_opened(from, &opened).unwrap();
            let mut read = Vec::new();
            while let Some(record) = trusted.next_payload() {
                let (seq, payload) = record.unwrap();
                read.push((seq, payload.to_vec()));
            }
            assert_eq!(read, checked, "from {from}, full scan {full_scan_on_open}");
            assert_eq!(trusted.head(), Some(heads[60]));
        }
        let mut all = reader.payloads_from(1).unwrap();
        while all.next_payload().is_some() {}
        assert_eq!(all.head(), Some(heads[60]));
        drop(log);
    }
}

#[test]
fn reading_after_open_hashes_what_open_did_not_and_refuses_an_edit_there() {
    // Without a full scan, opening checks only the last segment's chain: an edit with a valid
    // CRC in an earlier one passes the open, and the read after it must catch it.
    let pristine = tempfile::tempdir().unwrap();
    write_log(pristine.path(), 60, small_segments());
    let dir = copy_log(pristine.path());
    let first = segment_files(dir.path()).remove(0);
    let mut bytes = fs::read(&first).unwrap();
    let offsets = record_offsets(&bytes);
    edit_with_valid_crc(&mut bytes, offsets[3], offsets[4], 60);
    fs::write(&first, &bytes).unwrap();
    let options = LogOptions {
        full_scan_on_open: false,
        ..small_segments()
    };
    let (log, opened) = FileLog::open(dir.path(), options.clone()).unwrap();
    assert!(opened.chain_verified_from > 1);
    let reader = LogReader::open_with_options(dir.path(), &options).unwrap();
    match read_payloads(reader.read_opened(1, &opened).unwrap()) {
        Err(LogError::Corrupt(corruption)) => {
            assert_eq!(corruption.seq, Some(5));
            assert!(matches!(corruption.problem, Problem::ChainBroken { .. }));
        }
        other => panic!("the edit must be refused, got {other:?}"),
    }
    // With a full scan, opening itself refuses it.
    drop(log);
    assert!(matches!(
        FileLog::open(dir.path(), small_segments()),
        Err(LogError::Corrupt(_))
    ));
}

#[test]
fn reading_after_open_refuses_a_log_changed_under_it() {
    let pristine = tempfile::tempdir().unwrap();
    write_log(pristine.path(), 60, small_segments());
    let last_segment = |dir: &Path| segment_files(dir).pop().unwrap();
    // A damaged record (no valid CRC) anywhere, and an edited last record (valid CRC: only its
    // hash can tell), each made after the open.
    for edit_last_with_valid_crc in [false, true] {
        let dir = copy_log(pristine.path());
        let (_log, opened) = FileLog::open(dir.path(), small_segments()).unwrap();
        let segment = last_segment(dir.path());
        let mut bytes = fs::read(&segment).unwrap();
        let start = *record_offsets(&bytes).last().unwrap();
        let end = bytes.len();
        if edit_last_with_valid_crc {
            edit_with_valid_crc(&mut bytes, start, end, 60);
        } else {
            bytes[start + 60] ^= 0x40;
        }
        fs::write(&segment, &bytes).unwrap();
        let reader = LogReader::open_with_options(dir.path(), &small_segments()).unwrap();
        match read_payloads(reader.read_opened(1, &opened).unwrap()) {
            Err(LogError::Corrupt(corruption)) => {
                assert_eq!(corruption.seq, Some(60));
                if edit_last_with_valid_crc {
                    assert!(matches!(corruption.problem, Problem::HeadMismatch { .. }));
                } else {
                    assert_eq!(corruption.problem, Problem::CrcMismatch);
                }
            }
            other => panic!("the change must be refused, got {other:?}"),
        }
    }
}

#[test]
fn the_count_by_framing_is_the_last_seq_of_a_whole_log_and_stops_at_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let reader = LogReader::open(dir.path()).unwrap();
    assert_eq!(reader.count_by_framing().unwrap(), 0);
    write_log(dir.path(), 60, small_segments());
    assert_eq!(reader.count_by_framing().unwrap(), 60);
    assert_eq!(reader.last_seq().unwrap(), 60);
    let last = segment_files(dir.path()).pop().unwrap();
    let bytes = fs::read(&last).unwrap();
    fs::write(&last, &bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(reader.count_by_framing().unwrap(), 59);
    assert_eq!(reader.last_seq().unwrap(), 59);
}
