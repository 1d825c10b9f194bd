//! Appending across many segment roll-overs, reopening, and reading everything back.

use rand::Rng;
use switchboard_log::{ChainHash, Entry, FileLog, LogError, LogReader, Record, verify};

use crate::common::{
    Seeded, assert_record_is_expected, entries_for, open_clean, segment_files, small_segments,
};

#[test]
fn batches_of_varying_sizes_round_trip_across_roll_overs() {
    let mut seeded = Seeded::new(0x5eed_0001);
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_clean(dir.path(), small_segments());
    assert_eq!(log.next_seq(), 1);
    assert_eq!(log.head_hash(), ChainHash::GENESIS);

    let mut next = 1u64;
    let mut heads = vec![ChainHash::GENESIS];
    // Many small batches, then one batch that spans several segments on its own.
    let mut sizes: Vec<u64> = (0..60).map(|_| seeded.rng.random_range(1..=80)).collect();
    sizes.push(400);
    for size in sizes {
        let appended = log.append(&entries_for(next, size)).unwrap();
        assert_eq!(appended.first_seq, next);
        assert_eq!(appended.last_seq, next + size - 1);
        assert_eq!(appended.head_hash, log.head_hash());
        next += size;
        heads.push(appended.head_hash);
    }
    let last_seq = next - 1;
    let stats = log.stats();
    assert!(stats.segments_rolled > 20, "{stats:?}");
    assert_eq!(stats.records, last_seq);
    let head = log.head_hash();
    drop(log);

    let (log, recovery) = FileLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(recovery.last_seq, last_seq);
    assert_eq!(recovery.head_hash, head);
    assert_eq!(recovery.torn_tail, None);
    assert!(!recovery.created);
    assert_eq!(
        recovery.segment_count as usize,
        segment_files(dir.path()).len()
    );
    assert_eq!(u64::from(recovery.segment_count), stats.segments_rolled + 1);

    let reader = LogReader::open(dir.path()).unwrap();
    let records: Vec<Record> = reader.read_from(1).unwrap().map(Result::unwrap).collect();
    assert_eq!(records.len() as u64, last_seq);
    let mut prev = ChainHash::GENESIS;
    for (index, record) in records.iter().enumerate() {
        assert_eq!(record.seq, index as u64 + 1);
        assert_eq!(record.prev_hash, prev);
        assert_record_is_expected(record);
        prev = record.hash;
    }
    assert_eq!(prev, head);

    // From the middle: a segment's first seq, a seq inside a segment, the last, and past the end.
    let second_segment_first_seq: u64 = segment_files(dir.path())[1]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    for from in [second_segment_first_seq, last_seq / 2 + 3, last_seq] {
        let tail: Vec<Record> = reader
            .read_from(from)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            tail.as_slice(),
            &records[(from - 1) as usize..],
            "from {from}"
        );
    }
    assert_eq!(reader.read_from(last_seq + 1).unwrap().count(), 0);
    // The segments' first seqs are the file names', and reading one segment alone gives its
    // records: the first at its first seq, and together every record once.
    let firsts = reader.segment_first_seqs().unwrap();
    let named: Vec<u64> = segment_files(dir.path())
        .iter()
        .map(|path| path.file_stem().unwrap().to_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(firsts, named);
    let mut by_segment = Vec::new();
    for (i, &first) in firsts.iter().enumerate() {
        let end = firsts.get(i + 1).map_or(last_seq, |next| next - 1);
        by_segment.extend(
            reader
                .read_from(first)
                .unwrap()
                .up_to(end)
                .map(|r| r.unwrap().seq),
        );
    }
    assert_eq!(by_segment, (1..=last_seq).collect::<Vec<_>>());
    // The borrowing path yields the same records.
    let mut views = reader.read_from(1).unwrap();
    let mut viewed = 0;
    while let Some(view) = views.next_view() {
        let view = view.unwrap();
        assert_eq!(view.to_record(), records[viewed]);
        viewed += 1;
    }
    assert_eq!(viewed, records.len());
    assert!(matches!(
        reader.read_from(0),
        Err(LogError::InvalidSeq { seq: 0, .. })
    ));
    let bounded: Vec<u64> = reader
        .read_from(10)
        .unwrap()
        .up_to(20)
        .map(|r| r.unwrap().seq)
        .collect();
    assert_eq!(bounded, (10..=20).collect::<Vec<_>>());
    assert_eq!(reader.record_at(77).unwrap().as_ref(), Some(&records[76]));
    assert_eq!(reader.record_at(last_seq + 1).unwrap(), None);
    assert_eq!(reader.last_seq().unwrap(), last_seq);

    // The trait's read_from agrees with the reader's.
    let via_trait: Vec<Record> = switchboard_log::EventLog::read_from(&log, last_seq - 5)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(via_trait.as_slice(), &records[(last_seq - 6) as usize..]);

    // A scan yields exactly the records whose payload matches.
    let long: Vec<u64> = reader
        .scan(1, |payload| payload.len() > 250)
        .unwrap()
        .map(|r| r.unwrap().seq)
        .collect();
    let expected: Vec<u64> = records
        .iter()
        .filter(|r| r.payload.len() > 250)
        .map(|r| r.seq)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(long, expected);

    let mut progress_calls = 0u32;
    let report = verify(dir.path(), |done, total| {
        assert!(done <= total);
        progress_calls += 1;
    })
    .unwrap();
    assert_eq!(report.last_seq, last_seq);
    assert_eq!(report.records, last_seq);
    assert_eq!(report.head_hash, head);
    assert_eq!(report.torn_tail, None);
    assert!(progress_calls >= report.segment_count);
}

#[test]
fn appends_continue_the_chain_after_reopen_and_records_larger_than_a_segment_fit() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_clean(dir.path(), small_segments());
    log.append(&entries_for(1, 5)).unwrap();
    drop(log);
    let mut log = open_clean(dir.path(), small_segments());
    assert_eq!(log.next_seq(), 6);
    let big = Entry {
        at_ms: 1,
        payload: vec![0xab; 10_000],
    };
    let appended = log.append(std::slice::from_ref(&big)).unwrap();
    assert_eq!((appended.first_seq, appended.last_seq), (6, 6));
    log.append(&entries_for(7, 3)).unwrap();
    drop(log);
    let report = verify(dir.path(), |_, _| {}).unwrap();
    assert_eq!(report.last_seq, 9);
    let reader = LogReader::open(dir.path()).unwrap();
    assert_eq!(reader.record_at(6).unwrap().unwrap().payload, big.payload);
}

#[test]
fn oversized_and_empty_batches_are_refused_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let options = switchboard_log::LogOptions {
        record_bytes_max: 1024,
        ..small_segments()
    };
    let mut log = open_clean(dir.path(), options);
    let mut batch = entries_for(1, 2);
    batch.push(Entry {
        at_ms: 0,
        payload: vec![0; 1024 - 56 + 1],
    });
    assert!(matches!(
        log.append(&batch),
        Err(LogError::RecordTooLarge {
            record_bytes: 1025,
            record_bytes_max: 1024
        })
    ));
    assert!(matches!(log.append(&[]), Err(LogError::EmptyBatch)));
    // Neither poisoned the log nor wrote anything.
    assert_eq!(log.poisoned(), None);
    assert_eq!(log.append(&entries_for(1, 1)).unwrap().first_seq, 1);
}

#[test]
fn a_reader_follows_a_writer_on_another_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_clean(dir.path(), small_segments());
    let total = 3_000u64;
    let writer = std::thread::spawn(move || {
        let mut next = 1;
        while next <= total {
            let size = (next % 13 + 1).min(total - next + 1);
            log.append(&entries_for(next, size)).unwrap();
            next += size;
        }
    });
    let reader = LogReader::open(dir.path()).unwrap();
    let mut seen = 0u64;
    let mut prev = ChainHash::GENESIS;
    // Poll until the writer's last record is read: each pass reads what is there now.
    while seen < total {
        let writer_done = writer.is_finished();
        let before = seen;
        for record in reader.read_from(seen + 1).unwrap() {
            let record = record.unwrap();
            assert_eq!(record.seq, seen + 1);
            assert_eq!(record.prev_hash, prev);
            assert_record_is_expected(&record);
            prev = record.hash;
            seen = record.seq;
        }
        // Once the writer is done, one pass must reach the end.
        assert!(
            !writer_done || seen == total,
            "stuck at {seen} (was {before})"
        );
        std::thread::yield_now();
    }
    writer.join().unwrap();
    assert_eq!(seen, total);
}
