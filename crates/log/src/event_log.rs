//! The small trait every log backend implements, and the values that cross it.

use crate::error::LogError;
use crate::frame::ChainHash;

/// One event to append: its time and its opaque, already-encoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Event time in milliseconds since the Unix epoch, chosen by the caller (the log reads no clock).
    pub at_ms: u64,
    /// The encoded event; the log never looks inside.
    pub payload: Vec<u8>,
}

/// One record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sequence number: 1 for the first record, dense.
    pub seq: u64,
    /// Event time in milliseconds since the Unix epoch, as appended.
    pub at_ms: u64,
    /// This record's chain hash: `BLAKE3(prev_hash || seq || at_ms || payload)`.
    pub hash: ChainHash,
    /// The previous record's chain hash ([`ChainHash::GENESIS`] for seq 1).
    pub prev_hash: ChainHash,
    /// The payload exactly as appended.
    pub payload: Vec<u8>,
}

/// What a durable append wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The seq of the batch's first entry.
    pub first_seq: u64,
    /// The seq of the batch's last entry.
    pub last_seq: u64,
    /// The chain hash of the last record: the log's head after the append.
    pub head_hash: ChainHash,
}

/// An append-only, hash-chained log of opaque records.
///
/// Kept small so that other backends stand beside [`crate::FileLog`]: `switchboard-jetlog`'s
/// `JetStreamLog` keeps the log in a JetStream stream, and can refuse an append with
/// [`LogError::Fenced`] when another writer has appended.
/// Contract: sequence numbers start at 1 and are dense; `append` returns only once the whole batch
/// is durable; after any `append` error the log is poisoned and every later `append` fails.
pub trait EventLog {
    /// The iterator `read_from` returns.
    type Records: Iterator<Item = Result<Record, LogError>>;

    /// Appends a non-empty batch durably and returns its seq range and the new head hash.
    fn append(&mut self, entries: &[Entry]) -> Result<Appended, LogError>;

    /// The seq the next appended record will get (1 for an empty log).
    fn next_seq(&self) -> u64;

    /// The chain hash of the last record ([`ChainHash::GENESIS`] for an empty log).
    fn head_hash(&self) -> ChainHash;

    /// The largest payload `append` accepts, in bytes.
    fn payload_bytes_max(&self) -> usize;

    /// Reads records in order starting at `seq` (at least 1) up to the current end of the log.
    fn read_from(&self, seq: u64) -> Result<Self::Records, LogError>;

    /// How long the durability step (`fdatasync` or the like) of the latest `append` took, if
    /// the backend measures it.
    fn last_sync_time(&self) -> Option<std::time::Duration> {
        None
    }
}
