//! The typed errors of the log: I/O, corruption that names its position, poisoning, and misuse.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::frame::ChainHash;

/// Everything that can go wrong in the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// An I/O operation failed; `op` says what the log was doing and `path` on which file.
    #[error("{op} {path}")]
    Io {
        /// What the log was doing, e.g. "write segment".
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Stored data is damaged or inconsistent; the log refuses to guess, see [`Corruption`].
    #[error("{0}")]
    Corrupt(Box<Corruption>),
    /// An earlier write or fsync failed, so this writer no longer knows what is durable and refuses
    /// all further work. Reopen the log (which recovers from what is on disk); never retry a fsync.
    #[error("the log writer is poisoned by an earlier failure ({cause}); reopen the log")]
    Poisoned {
        /// The failure that poisoned the writer, with the operating system's error
        /// ("write segment /data/….seg: No space left on device (os error 28)").
        cause: String,
        /// Whether that failure was a full file system or an exhausted quota (see
        /// [`LogError::is_storage_full`]).
        storage_full: bool,
    },
    /// A record would be larger than `record_bytes_max`.
    #[error("record of {record_bytes} bytes exceeds the limit of {record_bytes_max} bytes")]
    RecordTooLarge {
        /// The framed size the record would have.
        record_bytes: u64,
        /// The configured limit.
        record_bytes_max: u32,
    },
    /// `append` or `submit` was called with no entries.
    #[error("an append needs at least one entry")]
    EmptyBatch,
    /// A sequence number outside what the call accepts (sequence numbers start at 1).
    #[error("invalid sequence number {seq}: {reason}")]
    InvalidSeq {
        /// The sequence number given.
        seq: u64,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The options are out of their documented bounds.
    #[error("invalid log options: {reason}")]
    InvalidOptions {
        /// Which bound was broken.
        reason: &'static str,
    },
    /// The group-commit writer thread is gone (it panicked or was shut down).
    #[error("the group-commit writer thread has stopped")]
    WriterStopped,
    /// Another writer (this process or another) has the log open: one writer per log.
    #[error("{} is locked by another writer of this log (another engine running on the same data directory?)", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A snapshot does not belong to this log's history: its hash differs from the log's record.
    #[error(
        "snapshot at seq {seq} has chain hash {snapshot_hash} but the log's record has {log_hash}: \
         the snapshot belongs to another history"
    )]
    SnapshotMismatch {
        /// The snapshot's sequence number.
        seq: u64,
        /// The chain hash stored in the snapshot.
        snapshot_hash: ChainHash,
        /// The chain hash of the log's record at that seq.
        log_hash: ChainHash,
    },
    /// A snapshot is ahead of the log: the log has no record at the snapshot's seq.
    #[error("snapshot at seq {seq} is beyond the log, whose last seq is {log_last_seq}")]
    SnapshotBeyondLog {
        /// The snapshot's sequence number.
        seq: u64,
        /// The last sequence number in the log (0 when empty).
        log_last_seq: u64,
    },
    /// A snapshot payload is larger than the configured limit.
    #[error("snapshot of {bytes} bytes exceeds the limit of {bytes_max} bytes")]
    SnapshotTooLarge {
        /// The payload size.
        bytes: u64,
        /// The limit.
        bytes_max: u64,
    },
    /// The log no longer ends where this writer left it: another writer has appended since, so
    /// this one is no longer its domain's leader and must stop writing (a replicated backend's
    /// fence; the file log's lock makes it impossible there). Nothing of the refused batch was
    /// stored.
    #[error(
        "append fenced: the log no longer ends at seq {expected_last_seq}, another writer has \
         appended (this engine is no longer its domain's leader)"
    )]
    Fenced {
        /// The last seq this writer expected the log to end at.
        expected_last_seq: u64,
    },
    /// A replicated backend (a JetStream stream) could not be reached, or answered with an
    /// error: `op` says what the log was doing.
    #[error("{op} on the {backend} log")]
    Backend {
        /// The backend, e.g. `jetstream`.
        backend: &'static str,
        /// What the log was doing, e.g. "append batch".
        op: &'static str,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl LogError {
    /// Wraps an I/O error with what was being done and where.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        LogError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Whether this is (or was poisoned by) a file system with no space, or no inodes, left
    /// (`ENOSPC`), or an exhausted disk quota (`EDQUOT`): the operator's fix is to free space,
    /// and a restart then recovers everything that was durable.
    #[must_use]
    pub fn is_storage_full(&self) -> bool {
        match self {
            LogError::Io { source, .. } => is_storage_full(source),
            LogError::Poisoned { storage_full, .. } => *storage_full,
            _ => false,
        }
    }

    /// The text of this error and of every error beneath it, joined by `": "`: what a
    /// poisoned writer keeps of the failure (the operating system's or the backend's error
    /// included).
    #[must_use]
    pub fn with_sources(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(error) = source {
            text.push_str(": ");
            text.push_str(&error.to_string());
            source = error.source();
        }
        text
    }

    /// The corruption this error reports, if it is one.
    pub fn corruption(&self) -> Option<&Corruption> {
        match self {
            LogError::Corrupt(corruption) => Some(corruption),
            _ => None,
        }
    }
}

/// `ENOSPC` (no space or no inodes left) or `EDQUOT` (quota exhausted).
fn is_storage_full(error: &io::Error) -> bool {
    /// `ENOSPC` on Linux and the BSDs.
    const ENOSPC: i32 = 28;
    /// `EDQUOT` on Linux.
    const EDQUOT: i32 = 122;
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(error.raw_os_error(), Some(ENOSPC | EDQUOT))
}

/// Where the log is damaged and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The segment file that holds the damage.
    pub segment: PathBuf,
    /// Byte offset in that file of the damaged record (or 0 for the header).
    pub offset: u64,
    /// The sequence number the damaged record has or should have, when known.
    pub seq: Option<u64>,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupt log: segment {} at byte offset {}",
            self.segment.display(),
            self.offset
        )?;
        if let Some(seq) = self.seq {
            write!(f, " (seq {seq})")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl From<Corruption> for LogError {
    fn from(corruption: Corruption) -> Self {
        LogError::Corrupt(Box::new(corruption))
    }
}

/// The kinds of damage the log detects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The segment header is short, has a bad magic, version or CRC.
    #[error("bad segment header: {0}")]
    BadSegmentHeader(&'static str),
    /// The segment's file name and its header or position in the log disagree.
    #[error("segment should start at seq {expected} but starts at seq {found}")]
    SegmentSeqMismatch {
        /// The seq the segment should start at (from the previous segment, or 1).
        expected: u64,
        /// The seq the header or file name says.
        found: u64,
    },
    /// The chain hash in the segment header is not the hash of the previous segment's last record.
    #[error("segment header's entering chain hash does not match the previous record's hash")]
    SegmentChainMismatch,
    /// The record length is below the minimum or above `record_bytes_max`.
    #[error("record length {len} is out of bounds")]
    LengthOutOfBounds {
        /// The length field as read.
        len: u32,
    },
    /// The record's CRC32C does not match its bytes.
    #[error("record CRC32C mismatch")]
    CrcMismatch,
    /// The record runs past the end of a segment that is not the log's tail.
    #[error("record is cut short by the end of the segment")]
    Truncated,
    /// The record is damaged, and valid records follow it, so it is not a torn tail.
    #[error("{0}, and valid records follow it (not a torn tail)")]
    DamagedBeforeValidData(Box<Problem>),
    /// The record's seq is not the one after its predecessor (a gap or a repeat).
    #[error("expected seq {expected} but found seq {found}")]
    SequenceMismatch {
        /// The seq that should be here.
        expected: u64,
        /// The seq stored in the record.
        found: u64,
    },
    /// The record's `prev_hash` is not the hash of the previous record: the previous record
    /// (seq - 1) or this record's header was altered after it was written.
    #[error(
        "hash chain broken: prev_hash {found} is not {expected}, the hash of the previous record; \
         the previous record was altered"
    )]
    ChainBroken {
        /// The hash of the previous record as recomputed from its bytes.
        expected: ChainHash,
        /// The `prev_hash` stored in this record.
        found: ChainHash,
    },
    /// Read again after [`crate::FileLog::open`] verified the log, the last record does not hash
    /// to the head that opening found: the log changed under the open.
    #[error("the last record hashes to {found}, not to the head {expected} the log was opened at")]
    HeadMismatch {
        /// The head hash [`crate::FileLog::open`] found.
        expected: ChainHash,
        /// The last record's hash as recomputed from its bytes.
        found: ChainHash,
    },
}
