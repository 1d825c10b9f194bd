//! Cluster mode's JetStream side (issue 16, DESIGN.md "Cluster mode"): the routing domain's
//! event log in a replicated JetStream stream, and the domain's leader lease in a KV bucket.
//!
//! - [`JetStreamLog`] is the second backend of the log crate's [`EventLog`] trait. Each record
//!   is one message holding exactly the bytes a segment file holds for it
//!   ([`switchboard_log::frame_record`]: length, CRC32C, seq, time, previous hash, payload), so the
//!   hash chain and its checks are the file log's. The message's stream sequence is the record's
//!   seq. Each append goes out as one atomic batch (`allow_atomic`, nats-server 2.12 or later;
//!   longer than [`ATOMIC_BATCH_MAX`] records, as several) whose first message carries
//!   `Nats-Expected-Last-Sequence`: a writer whose idea of the log's end is stale, because another
//!   has appended since, is refused with [`LogError::Fenced`] and nothing of its batch is
//!   stored. That is the fence that keeps a deposed leader from writing.
//! - [`Lease`] is the leadership lease of one domain: a key in a KV bucket whose entries live for
//!   the lease's TTL (`max_age`), created by the holder and renewed by revision (compare and swap).
//!   A renewal that fails means the lease is lost.
//! - [`MirroredLog`] is what a cluster-mode engine writes: the stream first (fenced), then a
//!   local file copy that everything reading the log reads; [`copy_tail`] brings a copy (a
//!   standby's) up to the stream's end.
//! - [`SnapshotStore`] is the domain's snapshot bucket (an Object Store, `SB_SNAP_<PREFIX>`):
//!   the leader's snapshots, so that an engine on an empty disk need not replay the whole
//!   stream.
//!
//! The servers must run with `sync_interval: always` (Jepsen, NATS 2.12.1: lazy fsync loses
//! acknowledged writes); nothing a client can read shows it, so it is the deployment's to check
//! (docs/cluster.md).
//!
//! [`EventLog`]: switchboard_log::EventLog
//! [`LogError::Fenced`]: switchboard_log::LogError::Fenced

mod batch;
mod error;
mod lease;
mod mirrored;
mod snapshot_store;
mod stream_log;

pub use batch::ATOMIC_BATCH_MAX;
pub use error::{JetStreamError, LeaseError, SnapshotStoreError};
pub use lease::{Lease, LeaseConfig};
pub use mirrored::{MirroredLog, copy_tail};
pub use snapshot_store::{SnapshotStore, SnapshotStoreConfig, StoredSnapshot};
pub use stream_log::{
    JetStreamConfig, JetStreamLog, StreamReader, StreamRecords, StreamVerifyReport,
};
