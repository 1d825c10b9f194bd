//! The engine's log: a single engine's file log, or, in cluster mode, the domain's JetStream
//! stream with its local copy ([`switchboard_jetlog::MirroredLog`]). Both read back from the
//! data directory, so recovery, receipts, history and the events feed have one path.

use std::time::Duration;

use switchboard_jetlog::MirroredLog;
use switchboard_log::{Appended, ChainHash, Entry, EventLog, FileLog, LogError, Records};

/// The log an [`crate::Engine`] appends to. See the module documentation.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per engine, moved a few times; boxing the file log would add an indirection on               every append of the embedded default"
)]
pub enum EngineLog {
    /// The file log in the data directory (`[log] backend = "file"`).
    File(FileLog),
    /// The domain's stream, fenced, then a local copy in the data directory
    /// (`[log] backend = "jetstream"`).
    Cluster(Box<MirroredLog>),
}

impl EngineLog {
    /// Whether this is cluster mode's log.
    #[must_use]
    pub const fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl EventLog for EngineLog {
    type Records = Records;

    fn append(&mut self, entries: &[Entry]) -> Result<Appended, LogError> {
        match self {
            Self::File(log) => log.append(entries),
            Self::Cluster(log) => log.append(entries),
        }
    }

    fn next_seq(&self) -> u64 {
        match self {
            Self::File(log) => log.next_seq(),
            Self::Cluster(log) => log.next_seq(),
        }
    }

    fn head_hash(&self) -> ChainHash {
        match self {
            Self::File(log) => log.head_hash(),
            Self::Cluster(log) => log.head_hash(),
        }
    }

    fn payload_bytes_max(&self) -> usize {
        match self {
            Self::File(log) => EventLog::payload_bytes_max(log),
            Self::Cluster(log) => log.payload_bytes_max(),
        }
    }

    fn read_from(&self, seq: u64) -> Result<Records, LogError> {
        match self {
            Self::File(log) => EventLog::read_from(log, seq),
            Self::Cluster(log) => log.read_from(seq),
        }
    }

    fn last_sync_time(&self) -> Option<Duration> {
        match self {
            Self::File(log) => EventLog::last_sync_time(log),
            Self::Cluster(log) => log.last_sync_time(),
        }
    }
}
