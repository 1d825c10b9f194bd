//! The append-only event log of Switchboard: the audit trail and the only source of truth, from
//! which routing state is rebuilt by replay.
//!
//! The log is byte-generic: a record's payload is opaque bytes (the engine postcard-encodes a
//! versioned event into it elsewhere). Records are framed with a length and a CRC32C, numbered with
//! dense sequence numbers from 1, and hash-chained with BLAKE3 so that altering any record is
//! detectable. [`FileLog`] is the embedded backend behind the small [`EventLog`] trait;
//! [`GroupCommitter`] runs it on its own thread with group commit; [`LogReader`] reads while it
//! writes; [`verify`] audits a directory; snapshots ([`save_snapshot`], [`load_latest_snapshot`])
//! bound recovery time. The stored form of one record ([`frame_record`], [`unframe_record`],
//! [`ChainPosition::advance`]) is public so that another backend (the JetStream stream of
//! `switchboard-jetlog`) stores and checks records exactly as segments do.
//!
//! # Files
//!
//! A data directory holds segment files named by the seq of their first record, 20 zero-padded
//! digits: `00000000000000000001.seg`, `00000000000000052431.seg`, ... Other files are ignored by
//! the log (snapshots may share the directory). A segment is rolled over before a record would
//! take it past [`LogOptions::segment_bytes_max`] (default 64 MiB). New segments are written as
//! `*.seg.tmp`, fsynced, renamed and the directory fsynced, so a segment file always has a whole
//! header; leftover `*.seg.tmp` files (and `snapshot-*.snap.tmp` files) are removed on open.
//!
//! All integers are little-endian.
//!
//! **Segment header**, 64 bytes:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic `SWBDLOG\0` |
//! | 8 | 4 | format version, u32 = 1 |
//! | 12 | 4 | reserved, zero |
//! | 16 | 8 | `first_seq`, u64: seq of the segment's first record (equals the file name) |
//! | 24 | 32 | chain hash entering the segment: hash of record `first_seq - 1`, or genesis |
//! | 56 | 4 | CRC32C of bytes 0..56, u32 |
//! | 60 | 4 | reserved, zero |
//!
//! **Record**, 56 bytes + payload, back to back after the header:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | `len`, u32: bytes after this field = 52 + payload length |
//! | 4 | 4 | CRC32C, u32, over the `len` bytes (0..4) then bytes 8..end of record |
//! | 8 | 8 | `seq`, u64 |
//! | 16 | 8 | `at_ms`, u64: event time, ms since the Unix epoch |
//! | 24 | 32 | `prev_hash`: chain hash of the previous record |
//! | 56 | len − 52 | payload |
//!
//! A length below 52 or a record above [`LogOptions::record_bytes_max`] (default 16 MiB) is
//! corruption, checked before anything is allocated.
//!
//! **Hash chain**: `hash(record) = BLAKE3(prev_hash ‖ seq as u64 LE ‖ at_ms as u64 LE ‖ payload)`,
//! 32 bytes; the first record's `prev_hash` is [`ChainHash::GENESIS`] (32 zero bytes); each
//! record stores its predecessor's hash. The head hash (the last record's hash) summarises the
//! whole history. The chain detects any change to a record that has a successor; changing or
//! removing the final records is only detectable against a head hash kept elsewhere (a
//! snapshot, a published event, [`VerifyReport::head_hash`] noted by an auditor).
//!
//! # Recovery rules ([`FileLog::open`])
//!
//! * Every segment must start where the previous one ended (seq and chain hash in its header), the
//!   first at seq 1 with the genesis hash; every record must frame, pass its CRC, have the next
//!   seq and continue the chain (with [`LogOptions::full_scan_on_open`], the default; otherwise
//!   only the last segment is scanned).
//! * The chain is hashed **once per open**. The engine's recovery then reads the log again
//!   through [`LogReader::read_opened`], under the writer's lock, checking framing, CRC and seq
//!   but hashing only what opening did not (the earlier segments without a full scan) and the
//!   last record, which must hash to the opened head ([`Problem::HeadMismatch`]).
//! * A **torn final record** — a record at the end of the last segment that is cut short (header
//!   or payload) or fails its CRC, with no valid record anywhere after it in the file — is the
//!   remains of a write that was never acknowledged. It is truncated, the truncation fsynced, and
//!   reported in [`Recovery::torn_tail`].
//! * Anything else is a hard [`LogError::Corrupt`] naming the segment file, byte offset and seq:
//!   a bad record in an earlier segment, a bad record in the last segment followed by a valid
//!   one, a sequence gap or repeat, a broken hash chain, a bad segment header. Nothing is ever
//!   dropped silently; an operator decides.
//!
//! After a power loss (as opposed to a process crash) a file system may persist the pages of an
//! unsynced write out of order, leaving valid records after a hole. Those records were never
//! acknowledged, but the log cannot tell that from damage, so it refuses to open rather than
//! guess.
//!
//! # Durability contract
//!
//! * [`FileLog::append`] writes the whole batch and calls `fdatasync` once (plus once per segment
//!   roll-over inside the batch, where the new segment and the directory are also fsynced) and
//!   returns only after that: every record of a returned [`Appended`] survives a crash of the
//!   process or the machine. Acknowledge nothing before that.
//! * [`GroupCommitter::submit`] assigns seqs at once and queues; durability is reported by the
//!   `on_durable` callback, in seq order, after the group's fdatasync.
//! * A failed write or fsync **poisons** the writer: every later call fails with
//!   [`LogError::Poisoned`], which keeps the first failure's text and whether the file system
//!   was full ([`LogError::is_storage_full`]: `ENOSPC` or `EDQUOT`). A failed fsync is never retried, because the kernel may have dropped
//!   the dirty pages and a second fsync could succeed without them. Reopen the directory instead;
//!   recovery keeps exactly what reached the disk.
//! * After a crash the log is a prefix of what was written, containing at least every record
//!   whose append returned (or that `on_durable` reported).
//! * One writer per directory, enforced by an exclusive OS lock on `LOCK` in the directory held
//!   for the writer's lifetime: a second writer is refused with [`LogError::Locked`]. Readers
//!   ([`LogReader`], [`verify`]) take no lock and may run beside the writer.
//!
//! # Snapshots
//!
//! [`save_snapshot`] writes opaque caller bytes pinned to a `(seq, chain hash)` as
//! `snapshot-<seq, 20 digits>.snap` (temp file, fsync, rename, directory fsync; a temp file
//! that cannot be finished, on a full disk say, is removed) and keeps the newest
//! [`SnapshotOptions::keep_count`]. [`load_latest_snapshot`] returns the newest one that
//! passes its checks and lists the damaged newer ones it skipped; [`verify_snapshot_against_log`]
//! refuses a snapshot whose hash is not the log's at that seq.

mod error;
mod event_log;
mod file_log;
mod frame;
mod group;
mod reader;
mod segment;
#[cfg(feature = "testing")]
pub mod small_fs;
mod snapshot;
mod verify;

pub use error::{Corruption, LogError, Problem};
pub use event_log::{Appended, Entry, EventLog, Record};
pub use file_log::{FileLog, LogOptions, LogStats, Recovery, TornTail};
pub use frame::{ChainHash, ChainPosition, frame_record, unframe_record};
pub use group::{
    CommitterOptions, CommitterStats, Durable, GroupCommitter, GroupDurable, Report, SeqRange,
};
pub use reader::{LogReader, Payloads, RecordView, Records, Scan};
pub use snapshot::{
    LatestSnapshot, SkippedSnapshot, Snapshot, SnapshotDamage, SnapshotOptions,
    load_latest_snapshot, load_newest_usable_snapshot, save_snapshot, verify_snapshot_against_log,
};
pub use verify::{VerifyReport, verify, verify_with_options};
