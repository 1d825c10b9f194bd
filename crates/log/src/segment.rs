//! Segment files: naming, listing, creation, and the strict scan shared by recovery and `verify`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Corruption, LogError, Problem};
use crate::frame::{
    self, ChainHash, FrameError, LEN_BYTES, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
    SegmentHeader,
};

/// The extension of segment files.
pub(crate) const SEGMENT_EXTENSION: &str = "seg";
/// The suffix of a segment being created; such files are removed on open.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";
/// Read buffer size for sequential scans.
pub(crate) const READ_BUFFER_BYTES: usize = 1 << 20;

/// The path of the segment whose first record has `first_seq`: 20 zero-padded digits.
pub(crate) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.{SEGMENT_EXTENSION}"))
}

/// A segment file found in the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    /// The first seq, from the file name.
    pub(crate) first_seq: u64,
    /// The full path.
    pub(crate) path: PathBuf,
}

/// Lists the segment files in `dir`, sorted by first seq. Other files are ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>, LogError> {
    let mut segments = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| LogError::io("list directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io("list directory", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".seg") else {
            continue;
        };
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(first_seq) = stem.parse::<u64>() else {
            continue;
        };
        segments.push(SegmentFile {
            first_seq,
            path: entry.path(),
        });
    }
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

/// Removes segment and snapshot files left half-written by a crash or a full disk
/// (`*.seg.tmp`, `snapshot-*.snap.tmp`); returns how many.
pub(crate) fn remove_temp_files(dir: &Path) -> Result<u32, LogError> {
    let mut removed = 0;
    let entries = fs::read_dir(dir).map_err(|e| LogError::io("list directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io("list directory", dir, e))?;
        let is_temp = entry.file_name().to_str().is_some_and(|n| {
            n.ends_with(".seg.tmp") || (n.starts_with("snapshot-") && n.ends_with(".snap.tmp"))
        });
        if is_temp {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| LogError::io("remove temp segment", &path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// fsyncs a directory so that file creations, renames and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    let handle = File::open(dir).map_err(|e| LogError::io("open directory", dir, e))?;
    handle
        .sync_all()
        .map_err(|e| LogError::io("fsync directory", dir, e))
}

/// Creates a segment durably: header written to a temp file, fsynced, renamed, directory fsynced.
/// Returns the file opened for appending, positioned after the header.
pub(crate) fn create_segment(dir: &Path, header: SegmentHeader) -> Result<File, LogError> {
    let path = segment_path(dir, header.first_seq);
    let mut temp = path.clone().into_os_string();
    temp.push(TEMP_SUFFIX);
    let temp = PathBuf::from(temp);
    let created = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&temp)
        .map_err(|e| LogError::io("create segment", &temp, e))
        .and_then(|mut file| {
            file.write_all(&header.encode())
                .map_err(|e| LogError::io("write segment header", &temp, e))?;
            file.sync_all()
                .map_err(|e| LogError::io("fsync new segment", &temp, e))?;
            fs::rename(&temp, &path).map_err(|e| LogError::io("rename new segment", &path, e))?;
            Ok(file)
        });
    let mut file = match created {
        Ok(file) => file,
        Err(error) => {
            // Removed now rather than at the next open: on a full disk it holds space.
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
    };
    sync_dir(dir)?;
    file.seek(SeekFrom::End(0))
        .map_err(|e| LogError::io("seek segment", &path, e))?;
    Ok(file)
}

pub(crate) use crate::frame::ChainPosition;

/// What a scan of one segment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentScan {
    /// Where the chain stands after the segment's last valid record.
    pub(crate) end: ChainPosition,
    /// Bytes of valid data (header and whole records); the file is longer if the tail is torn.
    pub(crate) valid_bytes: u64,
    /// The file's length when scanned.
    pub(crate) file_bytes: u64,
    /// Number of valid records.
    pub(crate) records: u64,
}

impl SegmentScan {
    /// Bytes of torn tail after the valid data (0 when the segment ends cleanly).
    pub(crate) fn torn_bytes(&self) -> u64 {
        self.file_bytes - self.valid_bytes
    }
}

/// How strictly a scan treats the segment's header chain hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entering {
    /// The header must continue exactly this chain position.
    Expect(ChainPosition),
    /// The header's first seq must be this, and its chain hash is trusted (partial scans on open).
    TrustHeader {
        /// The seq the segment must start at.
        first_seq: u64,
    },
}

/// Opens a segment for sequential reading through a [`READ_BUFFER_BYTES`] buffer; returns the
/// reader and the file's length.
pub(crate) fn open_buffered(path: &Path) -> Result<(BufReader<File>, u64), LogError> {
    let file = File::open(path).map_err(|e| LogError::io("open segment", path, e))?;
    let file_bytes = file
        .metadata()
        .map_err(|e| LogError::io("stat segment", path, e))?
        .len();
    Ok((
        BufReader::with_capacity(READ_BUFFER_BYTES, file),
        file_bytes,
    ))
}

/// Scans one segment strictly. Every record must frame correctly, carry the next seq and continue
/// the hash chain. A failure is a hard [`LogError::Corrupt`], except in the log's last segment
/// (`is_last`) when no valid record follows the failure: that is a torn tail, reported through
/// `valid_bytes < file_bytes` for the caller to truncate or report.
///
/// `progress` is called with the bytes of this segment scanned so far.
pub(crate) fn scan_segment(
    segment: &SegmentFile,
    entering: Entering,
    is_last: bool,
    record_bytes_max: u32,
    progress: &mut dyn FnMut(u64),
) -> Result<SegmentScan, LogError> {
    let path = &segment.path;
    let (mut reader, file_bytes) = open_buffered(path)?;
    let header = read_header(segment, file_bytes, &mut reader)?;
    let mut position = entry_position(path, &header, entering)?;

    let mut offset = SEGMENT_HEADER_BYTES as u64;
    let mut records = 0u64;
    let mut buf = Vec::with_capacity(4096);
    let mut progress_reported = 0u64;
    while offset < file_bytes {
        if offset - progress_reported >= READ_BUFFER_BYTES as u64 {
            progress(offset);
            progress_reported = offset;
        }
        let remaining = file_bytes - offset;
        let framed = read_record(&mut reader, remaining, record_bytes_max, &mut buf, path)?;
        let decoded = framed
            .and_then(|()| frame::decode_record(&buf, record_bytes_max).map_err(Problem::from));
        match decoded {
            Ok((record, size)) => {
                check_continues(path, offset, position, record.seq, record.prev_hash)?;
                position = ChainPosition {
                    next_seq: record.seq + 1,
                    head_hash: frame::hash_framed_in_place(&mut buf[..size]),
                };
                offset += size as u64;
                records += 1;
            }
            Err(problem) => {
                // A record failed to frame: a torn tail, or damage.
                check_torn_tail(
                    path,
                    offset,
                    file_bytes,
                    position.next_seq,
                    is_last,
                    problem,
                    record_bytes_max,
                )?;
                break;
            }
        }
    }
    progress(file_bytes);
    Ok(SegmentScan {
        end: position,
        valid_bytes: offset,
        file_bytes,
        records,
    })
}

/// A corruption of the segment at `path`, at byte `offset`.
fn corrupt(path: &Path, offset: u64, seq: Option<u64>, problem: Problem) -> LogError {
    Corruption {
        segment: path.to_path_buf(),
        offset,
        seq,
        problem,
    }
    .into()
}

/// Reads and checks the segment's header: whole, well formed, and starting at the seq its file
/// name says.
fn read_header(
    segment: &SegmentFile,
    file_bytes: u64,
    reader: &mut impl Read,
) -> Result<SegmentHeader, LogError> {
    let path = &segment.path;
    if file_bytes < SEGMENT_HEADER_BYTES as u64 {
        return Err(corrupt(
            path,
            0,
            None,
            Problem::BadSegmentHeader("shorter than 64 bytes"),
        ));
    }
    let mut header_bytes = [0; SEGMENT_HEADER_BYTES];
    reader
        .read_exact(&mut header_bytes)
        .map_err(|e| LogError::io("read segment header", path, e))?;
    let header = SegmentHeader::decode(&header_bytes)
        .map_err(|reason| corrupt(path, 0, None, Problem::BadSegmentHeader(reason)))?;
    if header.first_seq != segment.first_seq {
        return Err(corrupt(
            path,
            0,
            Some(header.first_seq),
            Problem::SegmentSeqMismatch {
                expected: segment.first_seq,
                found: header.first_seq,
            },
        ));
    }
    Ok(header)
}

/// Where the chain stands as the segment's first record comes: the expected position, which
/// the header must continue, or the header's own (trusted) one.
fn entry_position(
    path: &Path,
    header: &SegmentHeader,
    entering: Entering,
) -> Result<ChainPosition, LogError> {
    let expected_seq = match entering {
        Entering::Expect(expected) => expected.next_seq,
        Entering::TrustHeader { first_seq } => first_seq,
    };
    if header.first_seq != expected_seq {
        return Err(corrupt(
            path,
            0,
            Some(header.first_seq),
            Problem::SegmentSeqMismatch {
                expected: expected_seq,
                found: header.first_seq,
            },
        ));
    }
    match entering {
        Entering::Expect(expected) if header.prev_hash != expected.head_hash => Err(corrupt(
            path,
            0,
            Some(header.first_seq),
            Problem::SegmentChainMismatch,
        )),
        Entering::Expect(expected) => Ok(expected),
        Entering::TrustHeader { .. } => Ok(ChainPosition {
            next_seq: header.first_seq,
            head_hash: header.prev_hash,
        }),
    }
}

/// Checks that the record at `offset` carries the next seq and continues the hash chain.
fn check_continues(
    path: &Path,
    offset: u64,
    position: ChainPosition,
    seq: u64,
    prev_hash: ChainHash,
) -> Result<(), LogError> {
    frame::check_continues(seq, &prev_hash, &position)
        .map_err(|problem| corrupt(path, offset, Some(position.next_seq), problem))
}

/// A record at `offset` failed to frame with `problem`. That is a torn tail, which the scan
/// reports by ending its valid bytes there, only in the log's last segment with no valid record
/// after it; anything else is a hard corruption.
fn check_torn_tail(
    path: &Path,
    offset: u64,
    file_bytes: u64,
    next_seq: u64,
    is_last: bool,
    problem: Problem,
    record_bytes_max: u32,
) -> Result<(), LogError> {
    if !is_last {
        return Err(corrupt(path, offset, Some(next_seq), problem));
    }
    if valid_record_after(path, offset, file_bytes, next_seq, record_bytes_max)? {
        return Err(corrupt(
            path,
            offset,
            Some(next_seq),
            Problem::DamagedBeforeValidData(Box::new(problem)),
        ));
    }
    Ok(())
}

/// Reads one framed record into `buf` (replacing its contents), checking its length bounds; the
/// caller decodes it (which checks the CRC). The outer `Result` is an I/O failure; the inner one is a framing problem at this offset.
fn read_record(
    reader: &mut impl Read,
    remaining_bytes: u64,
    record_bytes_max: u32,
    buf: &mut Vec<u8>,
    path: &Path,
) -> Result<Result<(), Problem>, LogError> {
    if remaining_bytes < LEN_BYTES as u64 {
        return Ok(Err(Problem::Truncated));
    }
    let mut len_bytes = [0; LEN_BYTES];
    reader
        .read_exact(&mut len_bytes)
        .map_err(|e| LogError::io("read segment", path, e))?;
    let total = match frame::framed_len(len_bytes, record_bytes_max) {
        Ok(total) => total,
        Err(FrameError::LengthOutOfBounds { len }) => {
            return Ok(Err(Problem::LengthOutOfBounds { len }));
        }
        Err(_) => unreachable!("framed_len only reports bounds"),
    };
    if total as u64 > remaining_bytes {
        return Ok(Err(Problem::Truncated));
    }
    buf.clear();
    buf.extend_from_slice(&len_bytes);
    buf.resize(total, 0);
    reader
        .read_exact(&mut buf[LEN_BYTES..])
        .map_err(|e| LogError::io("read segment", path, e))?;
    Ok(Ok(()))
}

/// Whether any valid record (framing and CRC intact, seq at least `next_seq`) starts anywhere in
/// `(offset, file_bytes)`. Used to tell a torn tail (nothing valid after) from damage in the middle.
///
/// Reads the tail into memory: it is bounded by the segment size.
fn valid_record_after(
    path: &Path,
    offset: u64,
    file_bytes: u64,
    next_seq: u64,
    record_bytes_max: u32,
) -> Result<bool, LogError> {
    let mut file = File::open(path).map_err(|e| LogError::io("open segment", path, e))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| LogError::io("seek segment", path, e))?;
    let mut tail = Vec::new();
    file.take(file_bytes - offset)
        .read_to_end(&mut tail)
        .map_err(|e| LogError::io("read segment tail", path, e))?;
    // Records after `offset` have seqs in [next_seq, next_seq + tail/header]; this cheap filter on
    // the seq field skips nearly every candidate offset before computing a CRC.
    let seq_max = next_seq.saturating_add(tail.len() as u64 / RECORD_HEADER_BYTES as u64 + 1);
    for start in 1..tail.len() {
        let candidate = &tail[start..];
        let Some(seq_bytes) = candidate.get(8..16) else {
            break;
        };
        let mut seq = [0; 8];
        seq.copy_from_slice(seq_bytes);
        let seq = u64::from_le_bytes(seq);
        if seq < next_seq || seq > seq_max {
            continue;
        }
        if frame::decode_record(candidate, record_bytes_max).is_ok() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Maps an I/O error that means "not found" to `None`.
pub(crate) fn open_if_exists(path: &Path) -> Result<Option<File>, LogError> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LogError::io("open segment", path, e)),
    }
}
