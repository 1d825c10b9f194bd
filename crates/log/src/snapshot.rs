//! Snapshots: opaque state bytes pinned to a (seq, chain hash) of the log, written atomically and
//! kept as a disposable cache that bounds recovery time.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;
use crate::frame::ChainHash;
use crate::reader::LogReader;
use crate::segment;

/// Bytes of the snapshot file header.
const SNAPSHOT_HEADER_BYTES: usize = 72;
/// The magic bytes that open a snapshot file.
const SNAPSHOT_MAGIC: [u8; 8] = *b"SWBDSNAP";
/// The snapshot format version.
const SNAPSHOT_VERSION: u32 = 1;

/// Limits and retention of snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// How many of the newest snapshots [`save_snapshot`] keeps; older ones are deleted.
    /// Default 2, at least 1.
    pub keep_count: u32,
    /// The largest snapshot payload written or read. Default 1 GiB.
    pub snapshot_bytes_max: u64,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            keep_count: 2,
            snapshot_bytes_max: 1 << 30,
        }
    }
}

/// Writes `header` and `payload` to `temp`, syncs it and renames it to `path`.
fn write_snapshot_file(
    temp: &Path,
    path: &Path,
    header: &[u8],
    payload: &[u8],
) -> Result<(), LogError> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(temp)
        .map_err(|e| LogError::io("create snapshot", temp, e))?;
    file.write_all(header)
        .and_then(|()| file.write_all(payload))
        .map_err(|e| LogError::io("write snapshot", temp, e))?;
    file.sync_all()
        .map_err(|e| LogError::io("fsync snapshot", temp, e))?;
    drop(file);
    fs::rename(temp, path).map_err(|e| LogError::io("rename snapshot", path, e))
}

/// A snapshot read back from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The seq of the last event folded into the state.
    pub seq: u64,
    /// The log's chain hash at `seq`.
    pub head_hash: ChainHash,
    /// The caller's serialized state.
    pub payload: Vec<u8>,
    /// The file it came from.
    pub path: PathBuf,
}

/// The result of [`load_latest_snapshot`]: the newest valid snapshot and any newer ones skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LatestSnapshot {
    /// The newest snapshot that passed its checks, if any.
    pub snapshot: Option<Snapshot>,
    /// Newer snapshot files that were damaged and skipped, newest first.
    pub skipped: Vec<SkippedSnapshot>,
}

/// A snapshot file that was not used, and why: [`SnapshotDamage`] when it failed its own
/// checks, or the caller's reason (see [`load_newest_usable_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedSnapshot<R = SnapshotDamage> {
    /// The file.
    pub path: PathBuf,
    /// What was wrong with it.
    pub reason: R,
}

/// `path: reason: cause: ...`, the reason's whole chain on one line (a skipped snapshot is
/// reported, not returned as an error).
impl<R: std::error::Error> std::fmt::Display for SkippedSnapshot<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)?;
        let mut cause = self.reason.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

/// Why a snapshot file failed its own checks (it is then skipped, never trusted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotDamage {
    /// The file is shorter than the header.
    #[error("shorter than the {header_bytes}-byte header")]
    TooShort {
        /// The header's size.
        header_bytes: usize,
    },
    /// The file does not start with the snapshot magic.
    #[error("bad magic")]
    BadMagic,
    /// The header's checksum does not match.
    #[error("header CRC32C mismatch")]
    HeaderCrc,
    /// The header's format version is not this build's.
    #[error("unsupported version {version}")]
    UnsupportedVersion {
        /// The version in the header.
        version: u32,
    },
    /// The header's sequence number is not the one in the file name.
    #[error("header seq {header_seq} differs from the file name")]
    SeqMismatch {
        /// The sequence number in the header.
        header_seq: u64,
    },
    /// The payload is larger than [`SnapshotOptions::snapshot_bytes_max`].
    #[error("payload of {payload_bytes} bytes exceeds the limit of {limit_bytes}")]
    TooLarge {
        /// The payload's size per the header.
        payload_bytes: u64,
        /// The limit.
        limit_bytes: u64,
    },
    /// The header's payload size is not what the file holds.
    #[error("header says {payload_bytes} payload bytes but the file holds {file_payload_bytes}")]
    LengthMismatch {
        /// The payload's size per the header.
        payload_bytes: u64,
        /// What follows the header in the file.
        file_payload_bytes: u64,
    },
    /// The payload's size does not fit this machine's address space.
    #[error("payload does not fit in memory")]
    TooLargeForMemory,
    /// The payload's checksum does not match.
    #[error("payload CRC32C mismatch")]
    PayloadCrc,
}

/// The path of the snapshot taken at `seq`.
fn snapshot_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("snapshot-{seq:020}.snap"))
}

/// Snapshot files in `dir`, newest (highest seq) first.
fn list_snapshots(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LogError> {
    let mut found = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| LogError::io("list directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io("list directory", dir, e))?;
        let name = entry.file_name();
        let Some(digits) = name
            .to_str()
            .and_then(|n| n.strip_prefix("snapshot-"))
            .and_then(|n| n.strip_suffix(".snap"))
        else {
            continue;
        };
        if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(seq) = digits.parse::<u64>() {
            found.push((seq, entry.path()));
        }
    }
    found.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
    Ok(found)
}

/// Writes a snapshot of the state after event `seq`, whose log chain hash is `head_hash`:
/// to a temp file, fsynced, renamed into place, directory fsynced. Then deletes all but the
/// newest `keep_count` snapshots. Returns the snapshot's path.
///
/// The file is a 72-byte header (magic `SWBDSNAP`, version u32, reserved u32, seq u64, chain hash
/// 32 bytes, payload length u64, CRC32C of the payload u32, CRC32C of the preceding 68 header
/// bytes u32; integers little-endian) followed by the payload.
pub fn save_snapshot(
    dir: &Path,
    seq: u64,
    head_hash: ChainHash,
    payload: &[u8],
    options: &SnapshotOptions,
) -> Result<PathBuf, LogError> {
    if seq == 0 {
        return Err(LogError::InvalidSeq {
            seq,
            reason: "a snapshot is taken after at least one event",
        });
    }
    if options.keep_count == 0 {
        return Err(LogError::InvalidOptions {
            reason: "keep_count must be at least 1",
        });
    }
    let payload_bytes = payload.len() as u64;
    if payload_bytes > options.snapshot_bytes_max {
        return Err(LogError::SnapshotTooLarge {
            bytes: payload_bytes,
            bytes_max: options.snapshot_bytes_max,
        });
    }
    let mut header = [0u8; SNAPSHOT_HEADER_BYTES];
    header[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
    header[8..12].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&seq.to_le_bytes());
    header[24..56].copy_from_slice(head_hash.as_bytes());
    header[56..64].copy_from_slice(&payload_bytes.to_le_bytes());
    header[64..68].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let header_crc = crc32c::crc32c(&header[..68]);
    header[68..72].copy_from_slice(&header_crc.to_le_bytes());

    let path = snapshot_path(dir, seq);
    let temp = dir.join(format!("snapshot-{seq:020}.snap.tmp"));
    if let Err(error) = write_snapshot_file(&temp, &path, &header, payload) {
        // A half-written snapshot is of no use, and on a full disk it holds the very space the
        // log needs: it goes at once (and, if even that fails, at the log's next open).
        let _ = fs::remove_file(&temp);
        return Err(error);
    }
    segment::sync_dir(dir)?;

    // Snapshots past this one belong to another history (the log was restored from an older
    // backup, the snapshots were not): they can never be used, and left in place they would
    // count among the newest and push out every snapshot written from now on.
    let snapshots = list_snapshots(dir)?;
    let (beyond, kept): (Vec<_>, Vec<_>) = snapshots.iter().partition(|(at, _)| *at > seq);
    let mut removed_any = false;
    for (_, old) in beyond
        .into_iter()
        .chain(kept.into_iter().skip(options.keep_count as usize))
    {
        fs::remove_file(old).map_err(|e| LogError::io("remove old snapshot", old, e))?;
        removed_any = true;
    }
    if removed_any {
        segment::sync_dir(dir)?;
    }
    Ok(path)
}

/// Loads the newest snapshot in `dir` that passes its checks (magic, version, header CRC, length,
/// payload CRC). Damaged newer snapshots are skipped and listed, since snapshots are only a cache:
/// the log can always be replayed instead. Check the result against the log with
/// [`verify_snapshot_against_log`] before trusting it, or use [`load_newest_usable_snapshot`],
/// which goes on to older snapshots when the newest is not usable.
pub fn load_latest_snapshot(
    dir: &Path,
    options: &SnapshotOptions,
) -> Result<LatestSnapshot, LogError> {
    let (snapshot, skipped) = load_newest_usable_snapshot(dir, options, Ok::<_, SnapshotDamage>)?;
    Ok(LatestSnapshot { snapshot, skipped })
}

/// Loads snapshots newest first, one at a time, and returns what `usable` makes of the first it
/// accepts (checked against the log and decoded, say): a newest snapshot that is damaged, from
/// another history or of another build does not send recovery back to the first event while an
/// older one would do. Those refused, by their checks or by `usable`, are listed, newest first,
/// with a reason of `usable`'s type (which says what a [`SnapshotDamage`] becomes).
pub fn load_newest_usable_snapshot<T, R: From<SnapshotDamage>>(
    dir: &Path,
    options: &SnapshotOptions,
    mut usable: impl FnMut(Snapshot) -> Result<T, R>,
) -> Result<(Option<T>, Vec<SkippedSnapshot<R>>), LogError> {
    let mut skipped = Vec::new();
    for (seq, path) in list_snapshots(dir)? {
        match read_snapshot(&path, seq, options)?
            .map_err(R::from)
            .and_then(&mut usable)
        {
            Ok(value) => return Ok((Some(value), skipped)),
            Err(reason) => skipped.push(SkippedSnapshot { path, reason }),
        }
    }
    Ok((None, skipped))
}

/// Reads one snapshot file. The outer error is I/O; the inner one says why the file is damaged.
fn read_snapshot(
    path: &Path,
    name_seq: u64,
    options: &SnapshotOptions,
) -> Result<Result<Snapshot, SnapshotDamage>, LogError> {
    let mut file = File::open(path).map_err(|e| LogError::io("open snapshot", path, e))?;
    let file_bytes = file
        .metadata()
        .map_err(|e| LogError::io("stat snapshot", path, e))?
        .len();
    if file_bytes < SNAPSHOT_HEADER_BYTES as u64 {
        return Ok(Err(SnapshotDamage::TooShort {
            header_bytes: SNAPSHOT_HEADER_BYTES,
        }));
    }
    let mut header = [0u8; SNAPSHOT_HEADER_BYTES];
    file.read_exact(&mut header)
        .map_err(|e| LogError::io("read snapshot", path, e))?;
    if header[0..8] != SNAPSHOT_MAGIC {
        return Ok(Err(SnapshotDamage::BadMagic));
    }
    let field = |at: usize| -> [u8; 8] {
        let mut out = [0; 8];
        out.copy_from_slice(&header[at..at + 8]);
        out
    };
    let word = |at: usize| -> u32 {
        let mut out = [0; 4];
        out.copy_from_slice(&header[at..at + 4]);
        u32::from_le_bytes(out)
    };
    if crc32c::crc32c(&header[..68]) != word(68) {
        return Ok(Err(SnapshotDamage::HeaderCrc));
    }
    if word(8) != SNAPSHOT_VERSION {
        return Ok(Err(SnapshotDamage::UnsupportedVersion { version: word(8) }));
    }
    let seq = u64::from_le_bytes(field(16));
    if seq != name_seq {
        return Ok(Err(SnapshotDamage::SeqMismatch { header_seq: seq }));
    }
    let mut hash = [0; 32];
    hash.copy_from_slice(&header[24..56]);
    let payload_bytes = u64::from_le_bytes(field(56));
    if payload_bytes > options.snapshot_bytes_max {
        return Ok(Err(SnapshotDamage::TooLarge {
            payload_bytes,
            limit_bytes: options.snapshot_bytes_max,
        }));
    }
    if payload_bytes != file_bytes - SNAPSHOT_HEADER_BYTES as u64 {
        return Ok(Err(SnapshotDamage::LengthMismatch {
            payload_bytes,
            file_payload_bytes: file_bytes - SNAPSHOT_HEADER_BYTES as u64,
        }));
    }
    let Ok(payload_len) = usize::try_from(payload_bytes) else {
        return Ok(Err(SnapshotDamage::TooLargeForMemory));
    };
    let mut payload = vec![0; payload_len];
    file.read_exact(&mut payload)
        .map_err(|e| LogError::io("read snapshot", path, e))?;
    if crc32c::crc32c(&payload) != word(64) {
        return Ok(Err(SnapshotDamage::PayloadCrc));
    }
    Ok(Ok(Snapshot {
        seq,
        head_hash: ChainHash(hash),
        payload,
        path: path.to_path_buf(),
    }))
}

/// Checks that the log has a record at `snapshot.seq` whose chain hash is `snapshot.head_hash`,
/// so that a snapshot from another history (or ahead of a log that lost its tail) is refused.
pub fn verify_snapshot_against_log(log: &LogReader, snapshot: &Snapshot) -> Result<(), LogError> {
    match log.record_at(snapshot.seq)? {
        Some(record) if record.hash == snapshot.head_hash => Ok(()),
        Some(record) => Err(LogError::SnapshotMismatch {
            seq: snapshot.seq,
            snapshot_hash: snapshot.head_hash,
            log_hash: record.hash,
        }),
        None => {
            let log_last_seq = log.last_seq()?;
            Err(LogError::SnapshotBeyondLog {
                seq: snapshot.seq,
                log_last_seq,
            })
        }
    }
}
