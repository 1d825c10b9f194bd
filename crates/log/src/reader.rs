//! Read-only access to a log directory: sequential, buffered iteration from any seq, safe to use
//! while a [`crate::FileLog`] in this or another thread appends to the same directory.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Corruption, LogError, Problem};
use crate::event_log::Record;
use crate::file_log::{LogOptions, Recovery};
use crate::frame::{
    self, ChainHash, FrameError, LEN_BYTES, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
    SegmentHeader,
};
use crate::segment::{self, ChainPosition, READ_BUFFER_BYTES, SegmentFile};

/// A read-only handle on a log directory. Cheap: it holds no open files; each iteration opens the
/// segments it needs.
#[derive(Debug, Clone)]
pub struct LogReader {
    /// The data directory.
    dir: PathBuf,
    /// Lengths above this are corruption.
    record_bytes_max: u32,
}

impl LogReader {
    /// A reader on `dir` with the default record size limit. The directory must exist.
    pub fn open(dir: &Path) -> Result<LogReader, LogError> {
        Self::open_with_options(dir, &LogOptions::default())
    }

    /// A reader on `dir` using the record size limit of `options`. The directory must exist.
    pub fn open_with_options(dir: &Path, options: &LogOptions) -> Result<LogReader, LogError> {
        options.validate()?;
        std::fs::metadata(dir).map_err(|e| LogError::io("open log directory", dir, e))?;
        Ok(Self::open_with(dir, options))
    }

    pub(crate) fn open_with(dir: &Path, options: &LogOptions) -> LogReader {
        LogReader {
            dir: dir.to_path_buf(),
            record_bytes_max: options.record_bytes_max,
        }
    }

    /// Iterates over the records from `seq` (at least 1) to the end of the log as it is when the
    /// iterator reaches it. Only the segment holding `seq` and those after it are read, sequentially
    /// through a 1 MiB buffer. Records are checked as they are read (CRC, dense seq and hash chain
    /// from the segment's header on); the first problem is yielded as an error and ends iteration.
    /// A missing segment is such a problem: a segment that ends where no next one starts while a
    /// later one exists, or a log whose first segment does not start at seq 1, is reported as
    /// [`Problem::SegmentSeqMismatch`] naming the missing seq, not taken for the end of the log.
    ///
    /// While a writer appends, the iterator may see records that are written but not yet durable
    /// (bound it with [`Records::up_to`] and the last durable seq if that matters), and it ends
    /// quietly at a partially written record at the tail. It does not wait for new records: once it
    /// returns `None`, call `read_from` again from the next seq.
    pub fn read_from(&self, seq: u64) -> Result<Records, LogError> {
        Ok(Records {
            cursor: Cursor::start(self, seq)?,
        })
    }

    /// Like [`LogReader::read_from`], but yields only records whose payload satisfies `predicate`,
    /// without copying the payloads of the others.
    pub fn scan<F>(&self, from_seq: u64, predicate: F) -> Result<Scan<F>, LogError>
    where
        F: FnMut(&[u8]) -> bool,
    {
        Ok(Scan {
            cursor: Cursor::start(self, from_seq)?,
            predicate,
        })
    }

    /// The last seq readable now (0 for an empty log); reads only the last segment, checking
    /// framing, CRC32C and dense seq but not hashing (a count, for progress and bounds: a reader
    /// that needs the chain reads the records, which checks it).
    pub fn last_seq(&self) -> Result<u64, LogError> {
        let segments = segment::list_segments(&self.dir)?;
        let Some(last) = segments.last() else {
            return Ok(0);
        };
        let mut last_seq = last.first_seq.saturating_sub(1);
        let mut cursor = Cursor::start(self, last.first_seq.max(1))?;
        cursor.trust = Some(Trust {
            from_seq: 0,
            last_seq: u64::MAX,
            head_hash: ChainHash::GENESIS,
        });
        while let Some(header) = cursor.advance() {
            last_seq = header?.seq;
        }
        Ok(last_seq)
    }

    /// How many records the log holds as their framing tells, for a progress bar: the last
    /// segment's length fields are read and nothing else is checked (a reader of the records
    /// checks them), so it costs a fraction of [`LogReader::last_seq`]. The count stops at a
    /// length out of bounds or a record cut short, where a checked read stops too.
    pub fn count_by_framing(&self) -> Result<u64, LogError> {
        let segments = segment::list_segments(&self.dir)?;
        let Some(last) = segments.last() else {
            return Ok(0);
        };
        let path = &last.path;
        let (mut reader, size) = segment::open_buffered(path)?;
        let mut at = SEGMENT_HEADER_BYTES as u64;
        reader
            .seek(SeekFrom::Start(at))
            .map_err(|e| LogError::io("seek segment", path, e))?;
        let mut records = 0_u64;
        let mut len_bytes = [0; LEN_BYTES];
        while at + LEN_BYTES as u64 <= size {
            reader
                .read_exact(&mut len_bytes)
                .map_err(|e| LogError::io("read", path, e))?;
            let Ok(framed) = frame::framed_len(len_bytes, self.record_bytes_max) else {
                break;
            };
            if at + framed as u64 > size {
                break;
            }
            let rest = i64::try_from(framed - LEN_BYTES).unwrap_or(i64::MAX);
            reader
                .seek_relative(rest)
                .map_err(|e| LogError::io("seek segment", path, e))?;
            at += framed as u64;
            records += 1;
        }
        Ok(last.first_seq.saturating_sub(1) + records)
    }

    /// The first sequence number of every segment file, oldest first (empty when there is no
    /// segment). Reads only the directory. For a reader that works back from the tail a segment
    /// at a time, reading each with `read_from(first).up_to(next_first - 1)`, which opens that
    /// segment alone (the last segment may hold no record yet: its first seq is then past the
    /// log's last).
    pub fn segment_first_seqs(&self) -> Result<Vec<u64>, LogError> {
        Ok(segment::list_segments(&self.dir)?
            .into_iter()
            .map(|segment| segment.first_seq)
            .collect())
    }

    /// The payloads from `seq` (at least 1) to the end of the log as it is now, every record
    /// checked as [`LogReader::read_from`] checks it; [`Payloads::head`] is the chain hash at the
    /// last one read.
    pub fn payloads_from(&self, seq: u64) -> Result<Payloads, LogError> {
        Ok(Payloads {
            cursor: Cursor::start(self, seq)?,
        })
    }

    /// The payloads from `seq` (at least 1) to `opened.last_seq`, for the process that has just
    /// opened this log with [`crate::FileLog::open`] (which returned `opened`) and holds it, so
    /// that nobody else writes: what opening verified is not hashed again. Every record is still
    /// checked for framing, CRC32C and dense seq; records before `opened.chain_verified_from`
    /// (not read by opening) are hashed and chained as [`LogReader::read_from`] does, up to and
    /// into the first verified one; and the last record is hashed and must match
    /// `opened.head_hash` ([`Problem::HeadMismatch`](crate::Problem::HeadMismatch) otherwise). The
    /// chain of a log is so hashed once per open (BLAKE3 is most of the cost of reading).
    /// Records the same writer appended after opening (cluster mode's copy of the stream's tail,
    /// with `opened`'s `last_seq` and `head_hash` moved on to its new end) are trusted too: it
    /// hashed them as it wrote them.
    pub fn read_opened(&self, seq: u64, opened: &Recovery) -> Result<Payloads, LogError> {
        let mut cursor = Cursor::start(self, seq)?;
        cursor.up_to_seq = opened.last_seq;
        cursor.trust = Some(Trust {
            from_seq: opened.chain_verified_from,
            last_seq: opened.last_seq,
            head_hash: opened.head_hash,
        });
        Ok(Payloads { cursor })
    }

    /// The record at `seq`, or `None` if the log does not reach it.
    pub fn record_at(&self, seq: u64) -> Result<Option<Record>, LogError> {
        self.read_from(seq)?.up_to(seq).next().transpose()
    }
}

/// Iterator over records, from [`LogReader::read_from`].
#[derive(Debug)]
pub struct Records {
    /// The read position.
    cursor: Cursor,
}

impl Records {
    /// Stops the iteration after the record with seq `last_seq` (e.g. the last durable one).
    pub fn up_to(mut self, last_seq: u64) -> Self {
        self.cursor.up_to_seq = last_seq;
        self
    }
}

impl Records {
    /// The next record with its payload borrowed from the read buffer instead of copied: the
    /// allocation-free path for replay. Valid until the next call.
    pub fn next_view(&mut self) -> Option<Result<RecordView<'_>, LogError>> {
        match self.cursor.advance()? {
            Ok(header) => Some(Ok(RecordView {
                seq: header.seq,
                at_ms: header.at_ms,
                hash: header.hash,
                prev_hash: header.prev_hash,
                payload: self.cursor.payload(),
            })),
            Err(error) => Some(Err(error)),
        }
    }
}

/// A record whose payload is borrowed from the reader, from [`Records::next_view`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Event time in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// This record's chain hash.
    pub hash: ChainHash,
    /// The previous record's chain hash.
    pub prev_hash: ChainHash,
    /// The payload, borrowed.
    pub payload: &'a [u8],
}

impl RecordView<'_> {
    /// Copies the record out.
    pub fn to_record(&self) -> Record {
        Record {
            seq: self.seq,
            at_ms: self.at_ms,
            hash: self.hash,
            prev_hash: self.prev_hash,
            payload: self.payload.to_vec(),
        }
    }
}

/// Payloads borrowed from the reader, from [`LogReader::payloads_from`] and
/// [`LogReader::read_opened`]: the path for replay.
#[derive(Debug)]
pub struct Payloads {
    /// The read position.
    cursor: Cursor,
}

impl Payloads {
    /// The next record's seq and payload, borrowed from the read buffer (valid until the next
    /// call); the first problem is yielded as an error and ends iteration.
    pub fn next_payload(&mut self) -> Option<Result<(u64, &[u8]), LogError>> {
        match self.cursor.advance()? {
            Ok(header) => Some(Ok((header.seq, self.cursor.payload()))),
            Err(error) => Some(Err(error)),
        }
    }

    /// The chain hash at the last record read ([`ChainHash::GENESIS`] before any), if it was
    /// computed: always in a [`LogReader::payloads_from`] read, and at the last record of a
    /// [`LogReader::read_opened`] one.
    #[must_use]
    pub fn head(&self) -> Option<ChainHash> {
        self.cursor
            .head_known
            .then_some(self.cursor.chain.head_hash)
    }
}

impl Iterator for Records {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.cursor.advance()? {
            Ok(header) => Some(Ok(self.cursor.record(header))),
            Err(error) => Some(Err(error)),
        }
    }
}

/// Iterator over the records whose payload matches a predicate, from [`LogReader::scan`].
#[derive(Debug)]
pub struct Scan<F> {
    /// The read position.
    cursor: Cursor,
    /// Which payloads to yield.
    predicate: F,
}

impl<F: FnMut(&[u8]) -> bool> Scan<F> {
    /// Stops the scan after the record with seq `last_seq`.
    pub fn up_to(mut self, last_seq: u64) -> Self {
        self.cursor.up_to_seq = last_seq;
        self
    }
}

impl<F: FnMut(&[u8]) -> bool> Iterator for Scan<F> {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.cursor.advance()? {
                Ok(header) => {
                    if (self.predicate)(self.cursor.payload()) {
                        return Some(Ok(self.cursor.record(header)));
                    }
                }
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

/// The fixed fields of the record currently in the cursor's buffer.
#[derive(Debug, Clone, Copy)]
struct RecordHeader {
    /// Its seq.
    seq: u64,
    /// Its event time.
    at_ms: u64,
    /// Its `prev_hash`.
    prev_hash: ChainHash,
    /// Its own hash ([`ChainHash::GENESIS`] when it was trusted, not computed).
    hash: ChainHash,
}

/// What a reader may leave unhashed (see [`LogReader::read_opened`]).
#[derive(Debug, Clone, Copy)]
struct Trust {
    /// Records from this seq on are not hashed (their chain was verified already)...
    from_seq: u64,
    /// ...except this last one, which must hash to `head_hash`.
    last_seq: u64,
    /// The head hash at `last_seq`.
    head_hash: ChainHash,
}

/// The outcome of trying to fill a buffer from a file that may still be growing.
enum Fill {
    /// The buffer was filled.
    Full,
    /// End of file before the first byte.
    Empty,
    /// End of file part way through.
    Partial,
}

/// The shared reading machinery of [`Records`] and [`Scan`].
#[derive(Debug)]
struct Cursor {
    /// The data directory.
    dir: PathBuf,
    /// Lengths above this are corruption.
    record_bytes_max: u32,
    /// The open segment, if any.
    reader: Option<BufReader<File>>,
    /// Its path.
    segment_path: PathBuf,
    /// Its first seq (from its header): segments starting after it are its successors.
    segment_first_seq: u64,
    /// Byte offset of the next record in the open segment.
    offset: u64,
    /// The seq and `prev_hash` the next record must have.
    chain: ChainPosition,
    /// Whether `chain.head_hash` is known: false after a record read under `trust`, whose hash
    /// was not computed (the next record's link is then not checked either).
    head_known: bool,
    /// Records this reader does not hash, if any.
    trust: Option<Trust>,
    /// Records before this seq are checked but not yielded.
    from_seq: u64,
    /// Records after this seq end the iteration.
    up_to_seq: u64,
    /// The current record's bytes.
    buf: Vec<u8>,
    /// Set once iteration has ended (tail reached, bound reached or error yielded).
    done: bool,
}

impl Cursor {
    /// Positions a cursor at the segment that holds `from_seq`.
    fn start(log: &LogReader, from_seq: u64) -> Result<Cursor, LogError> {
        if from_seq == 0 {
            return Err(LogError::InvalidSeq {
                seq: 0,
                reason: "sequence numbers start at 1",
            });
        }
        let segments = segment::list_segments(&log.dir)?;
        let mut cursor = Cursor {
            dir: log.dir.clone(),
            record_bytes_max: log.record_bytes_max,
            reader: None,
            segment_path: PathBuf::new(),
            segment_first_seq: 0,
            offset: 0,
            chain: ChainPosition {
                next_seq: 1,
                head_hash: ChainHash::GENESIS,
            },
            from_seq,
            up_to_seq: u64::MAX,
            head_known: true,
            trust: None,
            buf: Vec::with_capacity(4096),
            done: false,
        };
        // The last segment whose first seq is at or before `from_seq` holds it, if anything does.
        let start = segments.iter().rev().find(|s| s.first_seq <= from_seq);
        match (start, segments.first()) {
            (Some(segment_file), _) => {
                let file = File::open(&segment_file.path)
                    .map_err(|e| LogError::io("open segment", &segment_file.path, e))?;
                cursor.enter_segment(file, segment_file.path.clone(), None)?;
            }
            // Every segment starts after `from_seq`, so the log's first segment (which starts at
            // seq 1, and is never removed) is missing: reading on from the next one would skip
            // records without a word, as `FileLog::open` and `verify` refuse to.
            (None, Some(first)) => {
                return Err(Corruption {
                    segment: first.path.clone(),
                    offset: 0,
                    seq: Some(1),
                    problem: Problem::SegmentSeqMismatch {
                        expected: 1,
                        found: first.first_seq,
                    },
                }
                .into());
            }
            (None, None) => cursor.done = true,
        }
        Ok(cursor)
    }

    /// Reads and checks a segment header and makes the segment current. With `expected`, the
    /// header must continue that chain position; otherwise the header sets it.
    fn enter_segment(
        &mut self,
        file: File,
        path: PathBuf,
        expected: Option<ChainPosition>,
    ) -> Result<(), LogError> {
        let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
        let mut header_bytes = [0; SEGMENT_HEADER_BYTES];
        let corrupt = |problem| -> LogError {
            Corruption {
                segment: path.clone(),
                offset: 0,
                seq: expected.map(|e| e.next_seq),
                problem,
            }
            .into()
        };
        match fill(&mut reader, &mut header_bytes).map_err(|e| LogError::io("read", &path, e))? {
            Fill::Full => {}
            Fill::Empty | Fill::Partial => {
                return Err(corrupt(Problem::BadSegmentHeader("shorter than 64 bytes")));
            }
        }
        let header = SegmentHeader::decode(&header_bytes)
            .map_err(|reason| corrupt(Problem::BadSegmentHeader(reason)))?;
        if let Some(expected) = expected {
            if header.first_seq != expected.next_seq {
                return Err(corrupt(Problem::SegmentSeqMismatch {
                    expected: expected.next_seq,
                    found: header.first_seq,
                }));
            }
            if self.head_known && header.prev_hash != expected.head_hash {
                return Err(corrupt(Problem::SegmentChainMismatch));
            }
        }
        self.reader = Some(reader);
        self.segment_path = path;
        self.segment_first_seq = header.first_seq;
        self.offset = SEGMENT_HEADER_BYTES as u64;
        self.chain = ChainPosition {
            next_seq: header.first_seq,
            head_hash: header.prev_hash,
        };
        Ok(())
    }

    /// Moves to the next record at or after `from_seq`, leaving it in `buf`.
    fn advance(&mut self) -> Option<Result<RecordHeader, LogError>> {
        if self.done {
            return None;
        }
        let result = self.advance_inner();
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result.transpose()
    }

    fn advance_inner(&mut self) -> Result<Option<RecordHeader>, LogError> {
        loop {
            if self.chain.next_seq > self.up_to_seq {
                return Ok(None);
            }
            let Some(header) = self.read_record()? else {
                return Ok(None);
            };
            if header.seq >= self.from_seq {
                return Ok(Some(header));
            }
        }
    }

    /// Reads and checks the next record, moving to the next segment at the end of this one.
    /// `None` means the end of the log as it is now.
    fn read_record(&mut self) -> Result<Option<RecordHeader>, LogError> {
        let mut retried = false;
        loop {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            let path = &self.segment_path;
            let mut len_bytes = [0; LEN_BYTES];
            let fill_len =
                fill(reader, &mut len_bytes).map_err(|e| LogError::io("read", path, e))?;
            let complete = match fill_len {
                Fill::Empty => {
                    // A clean end of segment: go on to the next one, or stop at the log's tail.
                    if let Some(next) = self.next_segment_path()
                        && let Some(file) = segment::open_if_exists(&next)?
                    {
                        self.enter_segment(file, next, Some(self.chain))?;
                        // The reread allowance is per segment: a writer may roll over again while
                        // this reader is at the end of the new one.
                        retried = false;
                        continue;
                    }
                    // No segment starts at the next seq. That is the tail, unless a later segment
                    // exists: then either a writer filled this segment and rolled over since we
                    // read its end (it finishes a segment before it creates the next, so a reread
                    // finds the rest), or the records from the next seq are gone (a removed
                    // segment), and ending here would pass a truncated log off as whole.
                    let Some(later) = self.later_segment()? else {
                        return Ok(None);
                    };
                    if retried {
                        return Err(Corruption {
                            segment: later.path,
                            offset: 0,
                            seq: Some(self.chain.next_seq),
                            problem: Problem::SegmentSeqMismatch {
                                expected: self.chain.next_seq,
                                found: later.first_seq,
                            },
                        }
                        .into());
                    }
                    retried = true;
                    self.reopen_at_offset()?;
                    continue;
                }
                Fill::Partial => false,
                Fill::Full => {
                    let total = match frame::framed_len(len_bytes, self.record_bytes_max) {
                        Ok(total) => total,
                        Err(FrameError::LengthOutOfBounds { len }) => {
                            return Err(self.corrupt(Problem::LengthOutOfBounds { len }));
                        }
                        Err(_) => return Err(self.corrupt(Problem::Truncated)),
                    };
                    self.buf.clear();
                    self.buf.extend_from_slice(&len_bytes);
                    self.buf.resize(total, 0);
                    let fill_rest = fill(reader, &mut self.buf[LEN_BYTES..])
                        .map_err(|e| LogError::io("read", path, e))?;
                    matches!(fill_rest, Fill::Full)
                }
            };
            if !complete {
                // A partial record: a write in progress at the tail, a torn tail not yet recovered,
                // or damage if the log continues in another segment (the next one, or a later one
                // when the next is missing). The writer finishes a segment before it creates the
                // next, so reread once before calling it damage.
                if self.later_segment()?.is_none() {
                    return Ok(None);
                }
                if retried {
                    return Err(self.corrupt(Problem::Truncated));
                }
                retried = true;
                self.reopen_at_offset()?;
                continue;
            }
            return self.check_record().map(Some);
        }
    }

    /// Where the segment after the current one would be: named by the next sequence number.
    /// `None` while the current segment holds no record yet (a segment just rolled over to, or
    /// left so by a crash), since that name is the current segment's own.
    fn next_segment_path(&self) -> Option<PathBuf> {
        let next = segment::segment_path(&self.dir, self.chain.next_seq);
        (next != self.segment_path).then_some(next)
    }

    /// The first segment that starts after the current one, if the directory has one: the current
    /// segment is then not the log's tail.
    fn later_segment(&self) -> Result<Option<SegmentFile>, LogError> {
        Ok(segment::list_segments(&self.dir)?
            .into_iter()
            .find(|s| s.first_seq > self.segment_first_seq))
    }

    /// Reopens the current segment at the next record's offset, so that reading sees what a
    /// writer appended after this reader met the end of the file.
    fn reopen_at_offset(&mut self) -> Result<(), LogError> {
        let path = &self.segment_path;
        let mut file = File::open(path).map_err(|e| LogError::io("open segment", path, e))?;
        file.seek(SeekFrom::Start(self.offset))
            .map_err(|e| LogError::io("seek segment", path, e))?;
        self.reader = Some(BufReader::with_capacity(READ_BUFFER_BYTES, file));
        Ok(())
    }

    /// Checks the complete record in `buf` against framing, seq and chain, and advances. Under
    /// `trust`, a record from its `from_seq` is not hashed (nor, after one such, linked), except
    /// its last one, which must hash to its head.
    fn check_record(&mut self) -> Result<RecordHeader, LogError> {
        let (record, size) = match frame::decode_record(&self.buf, self.record_bytes_max) {
            Ok(decoded) => decoded,
            Err(error) => return Err(self.corrupt(Problem::from(error))),
        };
        let checked = if self.head_known {
            frame::check_continues(record.seq, &record.prev_hash, &self.chain)
        } else if record.seq == self.chain.next_seq {
            Ok(())
        } else {
            Err(Problem::SequenceMismatch {
                expected: self.chain.next_seq,
                found: record.seq,
            })
        };
        if let Err(problem) = checked {
            return Err(self.corrupt(problem));
        }
        let (seq, at_ms, prev_hash) = (record.seq, record.at_ms, record.prev_hash);
        let trusted = self.trust.filter(|trust| seq >= trust.from_seq);
        let hash = match trusted {
            Some(trust) if seq != trust.last_seq => None,
            Some(trust) => {
                let hash = frame::hash_framed_in_place(&mut self.buf[..size]);
                if hash != trust.head_hash {
                    return Err(self.corrupt(Problem::HeadMismatch {
                        expected: trust.head_hash,
                        found: hash,
                    }));
                }
                Some(hash)
            }
            None => Some(frame::hash_framed_in_place(&mut self.buf[..size])),
        };
        let header = RecordHeader {
            seq,
            at_ms,
            prev_hash,
            hash: hash.unwrap_or(ChainHash::GENESIS),
        };
        self.head_known = hash.is_some();
        self.chain = ChainPosition {
            next_seq: seq + 1,
            head_hash: header.hash,
        };
        self.offset += size as u64;
        Ok(header)
    }

    /// A corruption error at the current record.
    fn corrupt(&self, problem: Problem) -> LogError {
        Corruption {
            segment: self.segment_path.clone(),
            offset: self.offset,
            seq: Some(self.chain.next_seq),
            problem,
        }
        .into()
    }

    /// The payload of the record in `buf`.
    fn payload(&self) -> &[u8] {
        &self.buf[RECORD_HEADER_BYTES..]
    }

    /// Copies the record in `buf` out.
    fn record(&self, header: RecordHeader) -> Record {
        Record {
            seq: header.seq,
            at_ms: header.at_ms,
            hash: header.hash,
            prev_hash: header.prev_hash,
            payload: self.payload().to_vec(),
        }
    }
}

/// Reads until `buf` is full or the file ends.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<Fill> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(if filled == buf.len() {
        Fill::Full
    } else if filled == 0 {
        Fill::Empty
    } else {
        Fill::Partial
    })
}
