//! The log a cluster-mode engine writes: the domain's JetStream stream, which is the truth and
//! the fence, with a copy of every record in a local file log.
//!
//! [`MirroredLog::append`] appends to the stream first (one fenced atomic batch: a deposed
//! leader's append fails with `LogError::Fenced` and nothing is stored anywhere), and only then
//! to the local copy, with its own `fdatasync`. The local copy is therefore always a prefix of
//! the stream, record for record (the same bytes, so the same chain hashes), and everything the
//! engine reads (recovery, snapshots' checks, idempotency receipts, the events feed, a contact's
//! history) reads it as it reads a single engine's directory. [`copy_tail`] brings a local copy
//! up to the stream's end, checking that it continues the same chain; a standby calls it to
//! follow the leader, and [`MirroredLog::open`] before recovery.
//!
//! Its blocking methods must run outside the tokio runtime (the group committer's thread); its
//! `async` ones on a multi-thread runtime (they write the local file with `block_in_place`).

use std::path::Path;

use async_nats::Client;
use async_nats::jetstream;
use switchboard_log::{
    Appended, ChainHash, Entry, EventLog, FileLog, LogError, LogOptions, Record, Records, Recovery,
};

use crate::{JetStreamConfig, JetStreamError, JetStreamLog, StreamReader};

/// Records copied to the local file per append (one `fdatasync` each).
const COPY_CHUNK: usize = 1024;

/// The stream (written first, fenced) and its local copy (written after). See the module
/// documentation.
#[derive(Debug)]
pub struct MirroredLog {
    /// The domain's stream.
    stream: JetStreamLog,
    /// The local copy, a prefix of the stream.
    local: FileLog,
}

impl MirroredLog {
    /// Opens the domain's stream (creating it if missing) and the local copy in `dir`, and
    /// copies to the local file every record it lacks. Returns the local log's recovery as it
    /// stands after the copy (what the engine's recovery starts from). Must run on a
    /// multi-thread tokio runtime.
    ///
    /// # Errors
    /// JetStream failed, the local log is damaged, or the local copy is not a prefix of the
    /// stream (it holds another history, or more records than the stream).
    pub async fn open(
        client: Client,
        config: JetStreamConfig,
        dir: &Path,
        options: LogOptions,
    ) -> Result<(Self, Recovery), LogError> {
        let stream = JetStreamLog::open(client.clone(), config.clone()).await?;
        let (mut local, mut recovery) =
            tokio::task::block_in_place(|| FileLog::open(dir, options))?;
        let context = jetstream::new(client);
        copy_tail(&context, &config, &mut local, &mut |_| Ok(())).await?;
        recovery.last_seq = local.next_seq() - 1;
        recovery.head_hash = local.head_hash();
        Ok((Self::from_parts(stream, local)?, recovery))
    }

    /// Joins a stream writer and a local copy that already ends where the stream does (a
    /// standby's copy, brought up to the stream's end after it took the lease).
    ///
    /// # Errors
    /// The two do not end at the same record with the same chain hash (the stream moved on:
    /// copy again).
    pub fn from_parts(stream: JetStreamLog, local: FileLog) -> Result<Self, LogError> {
        if local.next_seq() != stream.position().next_seq
            || local.head_hash() != stream.position().head_hash
        {
            return Err(diverged(format!(
                "the local copy ends at seq {} but the stream at seq {}",
                local.next_seq() - 1,
                stream.position().next_seq - 1
            )));
        }
        Ok(Self { stream, local })
    }

    /// The stream's side.
    pub fn stream(&self) -> &JetStreamLog {
        &self.stream
    }

    /// The local copy.
    pub fn local(&self) -> &FileLog {
        &self.local
    }

    /// Gives the local copy back (the stream's writer is dropped).
    pub fn into_local(self) -> FileLog {
        self.local
    }
}

impl EventLog for MirroredLog {
    type Records = Records;

    fn append(&mut self, entries: &[Entry]) -> Result<Appended, LogError> {
        let stored = self.stream.append(entries)?;
        let copied = self.local.append(entries)?;
        if copied != stored {
            return Err(diverged(format!(
                "the stream stored seqs {}..={} but the local copy {}..={}",
                stored.first_seq, stored.last_seq, copied.first_seq, copied.last_seq
            )));
        }
        Ok(stored)
    }

    fn next_seq(&self) -> u64 {
        self.local.next_seq()
    }

    fn head_hash(&self) -> ChainHash {
        self.local.head_hash()
    }

    fn payload_bytes_max(&self) -> usize {
        self.stream
            .payload_bytes_max()
            .min(self.local.payload_bytes_max())
    }

    fn read_from(&self, seq: u64) -> Result<Records, LogError> {
        self.local.read_from(seq)
    }

    fn last_sync_time(&self) -> Option<std::time::Duration> {
        self.stream.last_sync_time()
    }
}

/// Copies to `local` every record the stream holds past its end, checking that the first one
/// continues `local`'s chain, and hands each copied record to `on_record` once it is durable in
/// the local file (a standby applies it to its state there). Returns how many were copied. Runs
/// on a multi-thread tokio runtime (the file is written with `block_in_place`).
///
/// # Errors
/// JetStream failed, a record is damaged, the local file could not be written, the local copy
/// holds another history or more records than the stream, or `on_record` failed.
pub async fn copy_tail(
    context: &jetstream::Context,
    config: &JetStreamConfig,
    local: &mut FileLog,
    on_record: &mut dyn FnMut(&Record) -> Result<(), LogError>,
) -> Result<u64, LogError> {
    let from = local.next_seq();
    let mut reader = StreamReader::start(context, config, from).await?;
    if reader.end_seq() + 1 < from {
        return Err(diverged(format!(
            "the local copy holds records up to seq {} but the stream ends at seq {}",
            from - 1,
            reader.end_seq()
        )));
    }
    let mut copied = 0_u64;
    let mut chunk: Vec<Record> = Vec::with_capacity(COPY_CHUNK);
    loop {
        let next = reader.next().await.transpose()?;
        if let Some(record) = next {
            if copied == 0 && chunk.is_empty() && record.prev_hash != local.head_hash() {
                return Err(diverged(format!(
                    "record {} of the stream does not continue the local copy's chain",
                    record.seq
                )));
            }
            chunk.push(record);
            if chunk.len() < COPY_CHUNK {
                continue;
            }
        }
        if chunk.is_empty() {
            return Ok(copied);
        }
        copy_chunk(local, &chunk)?;
        for record in &chunk {
            on_record(record)?;
        }
        copied += chunk.len() as u64;
        chunk.clear();
    }
}

/// Appends `chunk` (read from the stream, in order) to `local`, checking it lands on the same
/// seqs with the same head hash.
fn copy_chunk(local: &mut FileLog, chunk: &[Record]) -> Result<(), LogError> {
    let entries: Vec<Entry> = chunk
        .iter()
        .map(|record| Entry {
            at_ms: record.at_ms,
            payload: record.payload.clone(),
        })
        .collect();
    let appended = tokio::task::block_in_place(|| local.append(&entries))?;
    let (first, last) = (&chunk[0], &chunk[chunk.len() - 1]);
    if appended.first_seq != first.seq || appended.head_hash != last.hash {
        return Err(diverged(format!(
            "copying seqs {}..={} from the stream gave another chain locally",
            first.seq, last.seq
        )));
    }
    Ok(())
}

/// The local copy and the stream disagree.
fn diverged(problem: String) -> LogError {
    LogError::Backend {
        backend: "jetstream",
        op: "copy the stream to the local log",
        source: Box::new(JetStreamError::Unexpected(problem)),
    }
}
