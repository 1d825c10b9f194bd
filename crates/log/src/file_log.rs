//! The embedded log: segment files in a data directory, opened with recovery, appended with one
//! fdatasync per batch.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;
use crate::event_log::{Appended, Entry, EventLog};
use crate::frame::{self, ChainHash, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, SegmentHeader};
use crate::reader::{LogReader, Records};
use crate::segment::{self, ChainPosition, Entering, SegmentFile};

/// Encoded bytes gathered before a `write` during an append; bounds the append buffer.
const WRITE_CHUNK_BYTES: usize = 4 << 20;

/// Limits and choices for a [`FileLog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// A segment is rolled over before a record would take it past this size. A record larger
    /// than this still fits: it gets a segment of its own. Default 64 MiB; at least 4 KiB.
    pub segment_bytes_max: u64,
    /// The largest framed record (56 header bytes plus payload) that is written or read; a length
    /// field above it is corruption. Default 16 MiB; between 64 bytes and 1 GiB.
    pub record_bytes_max: u32,
    /// Whether `open` checks every record of every segment (CRC, seq and hash chain). When false,
    /// only the last segment is scanned (trusting the chain hash in its header), which bounds
    /// open time on a long log; run [`crate::verify`] for the full audit. Default true.
    pub full_scan_on_open: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes_max: 64 << 20,
            record_bytes_max: 16 << 20,
            full_scan_on_open: true,
        }
    }
}

impl LogOptions {
    /// Checks the options against their documented bounds.
    pub(crate) fn validate(&self) -> Result<(), LogError> {
        if self.segment_bytes_max < 4096 {
            return Err(LogError::InvalidOptions {
                reason: "segment_bytes_max must be at least 4 KiB",
            });
        }
        if self.record_bytes_max < 64 || self.record_bytes_max > 1 << 30 {
            return Err(LogError::InvalidOptions {
                reason: "record_bytes_max must be between 64 bytes and 1 GiB",
            });
        }
        Ok(())
    }
}

/// What [`FileLog::open`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The last durable seq in the log (0 when empty).
    pub last_seq: u64,
    /// The chain hash of that record ([`ChainHash::GENESIS`] when empty).
    pub head_hash: ChainHash,
    /// The number of segment files after recovery.
    pub segment_count: u32,
    /// A torn final record that was cut off, if any.
    pub torn_tail: Option<TornTail>,
    /// Half-written files that were removed: segments (`*.seg.tmp`) from a crash during a
    /// roll-over, snapshots (`snapshot-*.snap.tmp`) from a crash or a full disk while one was
    /// written.
    pub temp_files_removed: u32,
    /// Whether the directory held no log and a new one was created.
    pub created: bool,
    /// The first seq from which opening hashed every record and checked the chain: 1 with
    /// [`LogOptions::full_scan_on_open`], else the last segment's first seq (the earlier
    /// segments were not read). [`crate::LogReader::read_opened`] trusts the chain from here.
    pub chain_verified_from: u64,
}

/// A torn final record: a partial write at the very end of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The last segment, which held the torn record.
    pub segment: PathBuf,
    /// The byte offset where the torn record started; the file now ends here.
    pub offset: u64,
    /// How many bytes were cut off.
    pub bytes: u64,
}

/// Counters of the work a [`FileLog`] has done since it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Successful `append` calls.
    pub appends: u64,
    /// Records appended.
    pub records: u64,
    /// Bytes written to segment files (records only).
    pub bytes_written: u64,
    /// fdatasync calls on segment data (one per append, one more per roll-over inside it).
    pub data_syncs: u64,
    /// Segments created by roll-over.
    pub segments_rolled: u64,
    /// How long the fdatasync(s) of the latest `append` took (the durability cost alone, without
    /// encoding and writing).
    pub last_append_sync: std::time::Duration,
}

/// The embedded, file-backed event log. One writer per directory: opening two `FileLog`s on the
/// same directory is not detected and corrupts the log (readers are fine, see [`LogReader`]).
#[derive(Debug)]
pub struct FileLog {
    /// The data directory.
    dir: PathBuf,
    /// The options the log was opened with.
    options: LogOptions,
    /// The last segment, open for writing at its end.
    segment: File,
    /// The path of the last segment.
    segment_path: PathBuf,
    /// The length of the last segment in bytes, including its header.
    segment_bytes: u64,
    /// The seq the next record gets and the hash it must chain to.
    chain: ChainPosition,
    /// Set by the first failed write or fsync (its text, sources included, and whether the
    /// disk was full); every later append fails with it.
    poisoned: Option<(String, bool)>,
    /// Reused encoding buffer, at most about `WRITE_CHUNK_BYTES` plus one record.
    buffer: Vec<u8>,
    /// The exclusive lock on `LOCK` in the directory: one writer per log. Held for the log's
    /// life; the operating system releases it when the process ends, however it ends.
    _lock: File,
    /// Work counters.
    stats: LogStats,
}

impl FileLog {
    /// Opens the log in `dir`, creating the directory and the first segment if needed, and
    /// recovers: a torn final record is truncated (durably) and reported; any other damage is a
    /// [`LogError::Corrupt`] naming the segment file, byte offset and seq.
    pub fn open(dir: &Path, options: LogOptions) -> Result<(FileLog, Recovery), LogError> {
        options.validate()?;
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(|e| LogError::io("create directory", dir, e))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                segment::sync_dir(parent)?;
            }
        }
        let lock = lock_dir(dir)?;
        let temp_files_removed = segment::remove_temp_files(dir)?;
        let segments = segment::list_segments(dir)?;
        let Some(last) = segments.last().cloned() else {
            let header = SegmentHeader {
                first_seq: 1,
                prev_hash: ChainHash::GENESIS,
            };
            let file = segment::create_segment(dir, header)?;
            let recovery = Recovery {
                last_seq: 0,
                head_hash: ChainHash::GENESIS,
                segment_count: 1,
                torn_tail: None,
                temp_files_removed,
                created: true,
                chain_verified_from: 1,
            };
            let log = FileLog::new(
                dir,
                options,
                file,
                segment::segment_path(dir, 1),
                64,
                header,
                lock,
            );
            return Ok((log, recovery));
        };

        let (position, scan) = scan_all(&segments, &options)?;
        let torn_tail = if scan.torn_bytes() > 0 {
            truncate(&last.path, scan.valid_bytes)?;
            Some(TornTail {
                segment: last.path.clone(),
                offset: scan.valid_bytes,
                bytes: scan.torn_bytes(),
            })
        } else {
            None
        };
        debug_assert_eq!(position, scan.end);
        let mut file = OpenOptions::new()
            .write(true)
            .open(&last.path)
            .map_err(|e| LogError::io("open segment for append", &last.path, e))?;
        file.seek(SeekFrom::Start(scan.valid_bytes))
            .map_err(|e| LogError::io("seek segment", &last.path, e))?;
        let recovery = Recovery {
            last_seq: scan.end.next_seq - 1,
            head_hash: scan.end.head_hash,
            segment_count: u32::try_from(segments.len()).unwrap_or(u32::MAX),
            torn_tail,
            temp_files_removed,
            created: false,
            chain_verified_from: if options.full_scan_on_open {
                1
            } else {
                last.first_seq
            },
        };
        let log = FileLog {
            dir: dir.to_path_buf(),
            options,
            segment: file,
            segment_path: last.path,
            segment_bytes: scan.valid_bytes,
            chain: scan.end,
            poisoned: None,
            buffer: Vec::new(),
            stats: LogStats::default(),
            _lock: lock,
        };
        Ok((log, recovery))
    }

    fn new(
        dir: &Path,
        options: LogOptions,
        segment: File,
        segment_path: PathBuf,
        segment_bytes: u64,
        header: SegmentHeader,
        lock: File,
    ) -> FileLog {
        FileLog {
            dir: dir.to_path_buf(),
            options,
            segment,
            segment_path,
            segment_bytes,
            chain: ChainPosition {
                next_seq: header.first_seq,
                head_hash: header.prev_hash,
            },
            poisoned: None,
            buffer: Vec::new(),
            stats: LogStats::default(),
            _lock: lock,
        }
    }

    /// Appends a non-empty batch with one `write` per few MiB and ONE fdatasync at the end (plus
    /// one per segment roll-over inside the batch), and returns once all of it is durable.
    ///
    /// If a record is too large the batch is refused before anything is written. If a write or
    /// fsync fails the log is poisoned: this and every later call fail, and the caller must drop
    /// this `FileLog` and reopen the directory (recovery keeps what reached the disk). A failed
    /// fsync is never retried, because the kernel may have dropped the unwritten pages.
    pub fn append(&mut self, entries: &[Entry]) -> Result<Appended, LogError> {
        if let Some((cause, storage_full)) = &self.poisoned {
            return Err(LogError::Poisoned {
                cause: cause.clone(),
                storage_full: *storage_full,
            });
        }
        if entries.is_empty() {
            return Err(LogError::EmptyBatch);
        }
        for entry in entries {
            let record_bytes = (RECORD_HEADER_BYTES + entry.payload.len()) as u64;
            if record_bytes > u64::from(self.options.record_bytes_max) {
                return Err(LogError::RecordTooLarge {
                    record_bytes,
                    record_bytes_max: self.options.record_bytes_max,
                });
            }
        }
        match self.write_batch(entries) {
            Ok(appended) => {
                self.stats.appends += 1;
                self.stats.records += entries.len() as u64;
                Ok(appended)
            }
            Err(error) => {
                self.poisoned = Some((error.with_sources(), error.is_storage_full()));
                Err(error)
            }
        }
    }

    /// Encodes and writes the batch, rolling segments as needed, then syncs once.
    fn write_batch(&mut self, entries: &[Entry]) -> Result<Appended, LogError> {
        let first_seq = self.chain.next_seq;
        self.buffer.clear();
        self.stats.last_append_sync = std::time::Duration::ZERO;
        for entry in entries {
            let record_bytes = (RECORD_HEADER_BYTES + entry.payload.len()) as u64;
            let segment_used = self.segment_bytes + self.buffer.len() as u64;
            if segment_used + record_bytes > self.options.segment_bytes_max
                && segment_used > SEGMENT_HEADER_BYTES as u64
            {
                self.write_buffer()?;
                self.sync_data()?;
                self.roll_segment()?;
            }
            let hash = frame::encode_record(
                &mut self.buffer,
                self.chain.next_seq,
                entry.at_ms,
                &self.chain.head_hash,
                &entry.payload,
            );
            self.chain = ChainPosition {
                next_seq: self.chain.next_seq + 1,
                head_hash: hash,
            };
            if self.buffer.len() >= WRITE_CHUNK_BYTES {
                self.write_buffer()?;
            }
        }
        self.write_buffer()?;
        self.sync_data()?;
        Ok(Appended {
            first_seq,
            last_seq: self.chain.next_seq - 1,
            head_hash: self.chain.head_hash,
        })
    }

    /// Writes the encoding buffer to the current segment and empties it.
    fn write_buffer(&mut self) -> Result<(), LogError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.segment
            .write_all(&self.buffer)
            .map_err(|e| LogError::io("write segment", &self.segment_path, e))?;
        self.segment_bytes += self.buffer.len() as u64;
        self.stats.bytes_written += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// fdatasyncs the current segment.
    fn sync_data(&mut self) -> Result<(), LogError> {
        let started = std::time::Instant::now();
        self.segment
            .sync_data()
            .map_err(|e| LogError::io("fdatasync segment", &self.segment_path, e))?;
        self.stats.last_append_sync += started.elapsed();
        self.stats.data_syncs += 1;
        Ok(())
    }

    /// Starts a new segment at the next seq; the current one is already synced.
    fn roll_segment(&mut self) -> Result<(), LogError> {
        let header = SegmentHeader {
            first_seq: self.chain.next_seq,
            prev_hash: self.chain.head_hash,
        };
        self.segment = segment::create_segment(&self.dir, header)?;
        self.segment_path = segment::segment_path(&self.dir, header.first_seq);
        self.segment_bytes = SEGMENT_HEADER_BYTES as u64;
        self.stats.segments_rolled += 1;
        Ok(())
    }

    /// The seq the next appended record gets.
    pub fn next_seq(&self) -> u64 {
        self.chain.next_seq
    }

    /// The chain hash of the last appended record (genesis when empty).
    pub fn head_hash(&self) -> ChainHash {
        self.chain.head_hash
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Work counters since open.
    pub fn stats(&self) -> LogStats {
        self.stats
    }

    /// Why the log is poisoned, if it is.
    pub fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_ref().map(|(cause, _)| cause.as_str())
    }

    /// A reader over the same directory, with the same record size limit.
    pub fn reader(&self) -> LogReader {
        LogReader::open_with(&self.dir, &self.options)
    }
}

impl EventLog for FileLog {
    type Records = Records;

    fn append(&mut self, entries: &[Entry]) -> Result<Appended, LogError> {
        FileLog::append(self, entries)
    }

    fn next_seq(&self) -> u64 {
        FileLog::next_seq(self)
    }

    fn head_hash(&self) -> ChainHash {
        FileLog::head_hash(self)
    }

    fn payload_bytes_max(&self) -> usize {
        self.options.record_bytes_max as usize - RECORD_HEADER_BYTES
    }

    fn read_from(&self, seq: u64) -> Result<Records, LogError> {
        self.reader().read_from(seq)
    }

    fn last_sync_time(&self) -> Option<std::time::Duration> {
        Some(self.stats.last_append_sync)
    }
}

/// Scans the segments for open: every one strictly when `full_scan_on_open`, otherwise headers of
/// the earlier ones and the last one in full. Returns the chain position and the last scan.
fn scan_all(
    segments: &[SegmentFile],
    options: &LogOptions,
) -> Result<(ChainPosition, segment::SegmentScan), LogError> {
    let mut position = ChainPosition {
        next_seq: 1,
        head_hash: ChainHash::GENESIS,
    };
    let last_index = segments.len() - 1;
    if let Some(first) = segments.first()
        && first.first_seq != 1
    {
        return Err(crate::error::Corruption {
            segment: first.path.clone(),
            offset: 0,
            seq: Some(first.first_seq),
            problem: crate::error::Problem::SegmentSeqMismatch {
                expected: 1,
                found: first.first_seq,
            },
        }
        .into());
    }
    let start = if options.full_scan_on_open {
        0
    } else {
        last_index
    };
    let mut last_scan = None;
    for (index, segment_file) in segments.iter().enumerate().skip(start) {
        let entering = if index == start && start > 0 {
            Entering::TrustHeader {
                first_seq: segment_file.first_seq,
            }
        } else {
            Entering::Expect(position)
        };
        let scan = segment::scan_segment(
            segment_file,
            entering,
            index == last_index,
            options.record_bytes_max,
            &mut |_| {},
        )?;
        position = scan.end;
        last_scan = Some(scan);
    }
    match last_scan {
        Some(scan) => Ok((position, scan)),
        None => unreachable!("segments is non-empty, so the last one was scanned"),
    }
}

/// Cuts a torn tail off the last segment and makes the new length durable.
fn truncate(path: &Path, valid_bytes: u64) -> Result<(), LogError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| LogError::io("open segment to truncate", path, e))?;
    file.set_len(valid_bytes)
        .map_err(|e| LogError::io("truncate torn tail", path, e))?;
    file.sync_all()
        .map_err(|e| LogError::io("fsync truncated segment", path, e))
}

/// Takes the exclusive writer's lock on `dir/LOCK`: a second writer on the same directory would
/// interleave records and break the chain, so it is refused with [`LogError::Locked`].
fn lock_dir(dir: &Path) -> Result<File, LogError> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| LogError::io("open lock file", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(LogError::Locked { path }),
        Err(fs::TryLockError::Error(e)) => Err(LogError::io("lock", &path, e)),
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (first, _) = FileLog::open(dir.path(), LogOptions::default()).expect("first writer");
        match FileLog::open(dir.path(), LogOptions::default()) {
            Err(LogError::Locked { path }) => assert!(path.ends_with("LOCK")),
            other => panic!("a second writer must be refused, got {other:?}"),
        }
        drop(first);
        assert!(
            FileLog::open(dir.path(), LogOptions::default()).is_ok(),
            "free again once the first is gone"
        );
    }
}
