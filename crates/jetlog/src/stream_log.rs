//! The JetStream backend of the event log: one stream per routing domain, one message per
//! record in the file log's stored form, appended in fenced atomic batches.

use std::pin::Pin;
use std::time::{Duration, Instant};

use async_nats::Client;
use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures::StreamExt;
use switchboard_log::{
    Appended, ChainHash, ChainPosition, Entry, EventLog, LogError, LogOptions, Record,
    frame_record, unframe_record,
};
use tokio::runtime::Handle;

use crate::JetStreamError;
use crate::batch::{self, ATOMIC_BATCH_MAX, BatchFailure};

/// The backend's name in [`LogError::Backend`].
const BACKEND: &str = "jetstream";

/// Bytes a stored record takes besides its payload (length, CRC32C, seq, time, previous hash).
const RECORD_OVERHEAD_BYTES: usize = 56;

/// Room left in a message for the batch headers, below the server's `max_payload`.
const HEADER_ALLOWANCE_BYTES: usize = 1024;

/// Where a domain's log lives and how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// The stream's name (one per routing domain), e.g. `SWITCHBOARD_LOG_COUNCIL`.
    pub stream: String,
    /// The one subject the stream captures and the log publishes to, e.g. `switchboard.log`;
    /// nothing else may publish to it.
    pub subject: String,
    /// Copies of every record the cluster keeps (3 in a cluster, 1 on a single server).
    pub replicas: usize,
    /// Bound on each request to JetStream (a batch's start and commit, a read).
    pub request_timeout: Duration,
    /// The largest stored record accepted, as the file log's `record_bytes_max` (the server's
    /// `max_payload` may bound it lower).
    pub record_bytes_max: u32,
}

impl JetStreamConfig {
    /// A log in stream `stream` on `subject`, with 3 replicas, a 5 s request bound and the file
    /// log's record size bound.
    pub fn new(stream: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            subject: subject.into(),
            replicas: 3,
            request_timeout: Duration::from_secs(5),
            record_bytes_max: LogOptions::default().record_bytes_max,
        }
    }

    /// The stream's configuration: file storage, the replicas, atomic batches allowed, nothing
    /// deleted or purged (the stream sequence is the record's seq), direct reads.
    fn stream_config(&self) -> stream::Config {
        stream::Config {
            name: self.stream.clone(),
            subjects: vec![self.subject.clone()],
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            allow_atomic_publish: true,
            deny_delete: true,
            deny_purge: true,
            allow_direct: true,
            ..Default::default()
        }
    }
}

/// The event log of one routing domain in a JetStream stream. See the crate documentation.
///
/// Its `async` methods run on the caller's runtime; its [`EventLog`] methods block on the
/// runtime it was opened on (which must be a multi-thread runtime) and must be called from a
/// thread outside it, such as the log crate's group committer's.
#[derive(Debug)]
pub struct JetStreamLog {
    /// The connection.
    client: Client,
    /// The JetStream context on it.
    context: jetstream::Context,
    /// The runtime the blocking methods run on.
    handle: Handle,
    /// Where the log is.
    config: JetStreamConfig,
    /// Where the chain stands: the seq the next record gets and the last record's hash.
    position: ChainPosition,
    /// The largest payload an append accepts.
    payload_bytes_max: usize,
    /// The first failure's text, after which every append is refused (the outcome of an
    /// unanswered commit is unknown: reopen to learn it).
    poisoned: Option<String>,
    /// How long the latest append's batches took to be acknowledged.
    last_commit_time: Option<Duration>,
}

impl JetStreamLog {
    /// Opens the domain's log, creating the stream if it does not exist, and finds where the chain
    /// stands from the stream's last record. Must be called on a multi-thread tokio runtime.
    ///
    /// # Errors
    /// JetStream cannot be reached, the stream exists without atomic batches, or it is damaged
    /// (a gap, a purge, a last record that does not decode).
    pub async fn open(client: Client, config: JetStreamConfig) -> Result<Self, LogError> {
        let context = jetstream::new(client.clone());
        let mut stream = context
            .get_or_create_stream(config.stream_config())
            .await
            .map_err(|e| stream_error("open stream", &e))?;
        if !stream.cached_info().config.allow_atomic_publish {
            return Err(backend(
                "open stream",
                JetStreamError::Stream(format!(
                    "stream {} exists without allow_atomic",
                    config.stream
                )),
            ));
        }
        let state = stream
            .info()
            .await
            .map_err(|e| stream_error("read stream info", &e))?
            .state
            .clone();
        let position = last_position(&stream, &config, &state).await?;
        let server_bytes = client.server_info().max_payload;
        let payload_bytes_max = (config.record_bytes_max as usize)
            .min(server_bytes.saturating_sub(HEADER_ALLOWANCE_BYTES))
            .saturating_sub(RECORD_OVERHEAD_BYTES);
        Ok(Self {
            client,
            context,
            handle: Handle::current(),
            config,
            position,
            payload_bytes_max,
            poisoned: None,
            last_commit_time: None,
        })
    }

    /// Where the chain stands: the seq the next record gets and the last record's hash.
    pub fn position(&self) -> ChainPosition {
        self.position
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &JetStreamConfig {
        &self.config
    }

    /// Appends a non-empty batch as one atomic batch (several if longer than
    /// [`ATOMIC_BATCH_MAX`]), stored only if the stream still ends where this writer left it,
    /// and returns once JetStream has acknowledged it (stored on a quorum of replicas).
    ///
    /// # Errors
    /// [`LogError::Fenced`] if another writer has appended (nothing of the refused batch is
    /// stored); [`LogError::Backend`] if JetStream failed or did not answer; after any failure
    /// the log is poisoned ([`LogError::Poisoned`]) and must be reopened.
    pub async fn append_async(&mut self, entries: &[Entry]) -> Result<Appended, LogError> {
        if let Some(cause) = &self.poisoned {
            return Err(LogError::Poisoned {
                cause: cause.clone(),
                storage_full: false,
            });
        }
        if entries.is_empty() {
            return Err(LogError::EmptyBatch);
        }
        let mut framed = Vec::with_capacity(entries.len());
        let mut position = self.position;
        for entry in entries {
            if entry.payload.len() > self.payload_bytes_max {
                return Err(LogError::RecordTooLarge {
                    record_bytes: (entry.payload.len() + RECORD_OVERHEAD_BYTES) as u64,
                    record_bytes_max: u32::try_from(self.payload_bytes_max + RECORD_OVERHEAD_BYTES)
                        .unwrap_or(u32::MAX),
                });
            }
            let (bytes, after) = frame_record(
                position,
                entry.at_ms,
                &entry.payload,
                self.config.record_bytes_max,
            )?;
            framed.push(Bytes::from(bytes));
            position = after;
        }
        let started = Instant::now();
        let first_seq = self.position.next_seq;
        for chunk in framed.chunks(ATOMIC_BATCH_MAX) {
            if let Err(error) = self.publish_chunk(chunk).await {
                self.poisoned = Some(error.with_sources());
                return Err(error);
            }
        }
        self.last_commit_time = Some(started.elapsed());
        debug_assert_eq!(self.position, position);
        Ok(Appended {
            first_seq,
            last_seq: position.next_seq - 1,
            head_hash: position.head_hash,
        })
    }

    /// Publishes one chunk of framed records continuing the chain, and moves past it.
    async fn publish_chunk(&mut self, chunk: &[Bytes]) -> Result<(), LogError> {
        let expected_last_seq = self.position.next_seq - 1;
        let stored = batch::publish_atomic(
            &self.client,
            &self.config.subject,
            chunk,
            expected_last_seq,
            self.config.request_timeout,
        )
        .await
        .map_err(|failure| match failure {
            BatchFailure::Fenced => LogError::Fenced { expected_last_seq },
            BatchFailure::Failed(error) => backend("append batch", error),
        })?;
        let last_seq = expected_last_seq + chunk.len() as u64;
        if stored != last_seq {
            return Err(backend(
                "append batch",
                JetStreamError::Unexpected(format!(
                    "the batch was stored up to seq {stored}, not {last_seq}"
                )),
            ));
        }
        // The chunk's last record's hash: decode it back rather than keep every hash.
        let last = chunk
            .last()
            .map(|bytes| unframe_record(bytes, self.config.record_bytes_max));
        let Some(Ok(record)) = last else {
            return Err(backend(
                "append batch",
                JetStreamError::Unexpected("a framed record does not decode".to_owned()),
            ));
        };
        self.position = ChainPosition {
            next_seq: last_seq + 1,
            head_hash: record.hash,
        };
        Ok(())
    }

    /// Reads the records from `seq` (at least 1) to the stream's end as it is now, each checked
    /// as the file log's reader checks it (CRC, seq, hash chain from the record before `seq`).
    ///
    /// # Errors
    /// `seq` is 0, or JetStream failed.
    pub async fn reader_from(&self, seq: u64) -> Result<StreamReader, LogError> {
        StreamReader::start(&self.context, &self.config, seq).await
    }
}

/// Where the chain stands after the stream's last record (the empty position for an empty
/// stream), checking that the stream is dense from seq 1.
async fn last_position(
    stream: &stream::Stream,
    config: &JetStreamConfig,
    state: &stream::State,
) -> Result<ChainPosition, LogError> {
    let last_seq = state.last_sequence;
    if last_seq == 0 {
        return Ok(ChainPosition::EMPTY);
    }
    if state.first_sequence != 1 || state.messages != last_seq {
        return Err(damaged(
            config,
            state.first_sequence,
            format!(
                "the stream holds {} messages from seq {} to {last_seq}: records are missing",
                state.messages, state.first_sequence
            ),
        ));
    }
    let record = record_at(stream, config, last_seq).await?;
    Ok(ChainPosition {
        next_seq: last_seq + 1,
        head_hash: record.hash,
    })
}

/// The stored record at `seq`, decoded (its chain is not checked here).
async fn record_at(
    stream: &stream::Stream,
    config: &JetStreamConfig,
    seq: u64,
) -> Result<Record, LogError> {
    let message = stream
        .get_raw_message(seq)
        .await
        .map_err(|e| stream_error("read a record", &e))?;
    let record = unframe_record(&message.payload, config.record_bytes_max)
        .map_err(|problem| damaged(config, seq, problem.to_string()))?;
    if record.seq != seq {
        return Err(damaged(
            config,
            seq,
            format!("the message holds record {}", record.seq),
        ));
    }
    Ok(record)
}

/// The messages of an ordered consumer.
type Messages = Pin<Box<consumer::pull::Ordered>>;

/// An async reader of a JetStream log from a seq to the stream's end when it started, checking
/// every record like the file log's reader.
pub struct StreamReader {
    /// The ordered consumer's messages; `None` when there is nothing to read.
    messages: Option<Messages>,
    /// Where the chain stands: the next record must continue it.
    position: ChainPosition,
    /// The last seq to read.
    end_seq: u64,
    /// Where the log is.
    config: JetStreamConfig,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("position", &self.position)
            .field("end_seq", &self.end_seq)
            .field("stream", &self.config.stream)
            .finish_non_exhaustive()
    }
}

impl StreamReader {
    /// A reader of `config`'s log from `seq` (at least 1) to its end now.
    ///
    /// # Errors
    /// `seq` is 0, or JetStream failed.
    pub async fn start(
        context: &jetstream::Context,
        config: &JetStreamConfig,
        seq: u64,
    ) -> Result<Self, LogError> {
        if seq == 0 {
            return Err(LogError::InvalidSeq {
                seq,
                reason: "sequence numbers start at 1",
            });
        }
        let mut stream = context
            .get_stream(&config.stream)
            .await
            .map_err(|e| stream_error("open stream", &e))?;
        let end_seq = stream
            .info()
            .await
            .map_err(|e| stream_error("read stream info", &e))?
            .state
            .last_sequence;
        let mut reader = Self {
            messages: None,
            position: ChainPosition::EMPTY,
            end_seq,
            config: config.clone(),
        };
        if seq > end_seq {
            return Ok(reader);
        }
        if seq > 1 {
            let before = record_at(&stream, config, seq - 1).await?;
            reader.position = ChainPosition {
                next_seq: seq,
                head_hash: before.hash,
            };
        }
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: config.subject.clone(),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: seq,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| stream_error("make a reader", &e))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| stream_error("start a reader", &e))?;
        reader.messages = Some(Box::pin(messages));
        Ok(reader)
    }

    /// The last seq this reader reads (the stream's end when it started; 0 for an empty
    /// stream).
    pub fn end_seq(&self) -> u64 {
        self.end_seq
    }

    /// The next record, checked; `None` past the end the reader started with. Each message is
    /// waited for at most the configuration's request bound.
    ///
    /// A message from before the record expected is passed over: async-nats makes an ordered
    /// consumer again when it loses it (deleted, heartbeats missed, a server restarted) from
    /// after the last message it delivered, which for one lost before it delivered any is the
    /// stream's first. A message from after it is a record missing: the stream is damaged.
    pub async fn next(&mut self) -> Option<Result<Record, LogError>> {
        if self.position.next_seq > self.end_seq {
            return None;
        }
        let messages = self.messages.as_mut()?;
        let timeout = self.config.request_timeout;
        let expected = self.position.next_seq;
        let next = loop {
            let next = match tokio::time::timeout(timeout, messages.next()).await {
                Ok(Some(Ok(message))) => message,
                Ok(Some(Err(error))) => return Some(Err(stream_error("read a record", &error))),
                Ok(None) => {
                    let error = JetStreamError::Stream("the reader's consumer ended".to_owned());
                    return Some(Err(backend("read a record", error)));
                }
                Err(_) => {
                    let error = JetStreamError::Stream(format!("no record within {timeout:?}"));
                    return Some(Err(backend("read a record", error)));
                }
            };
            match next.info().map(|info| info.stream_sequence).ok() {
                Some(seq) if seq == expected => break next,
                Some(seq) if seq < expected => {} // Delivered again by a consumer made again.
                stream_seq => {
                    let problem =
                        format!("the stream delivered seq {stream_seq:?} for record {expected}");
                    return Some(Err(damaged(&self.config, expected, problem)));
                }
            }
        };
        let checked = unframe_record(&next.payload, self.config.record_bytes_max)
            .and_then(|record| self.position.advance(&record).map(|()| record));
        Some(checked.map_err(|problem| damaged(&self.config, expected, problem.to_string())))
    }
}

/// The blocking iterator of [`EventLog::read_from`] over a [`StreamReader`].
#[derive(Debug)]
pub struct StreamRecords {
    /// The reader.
    reader: StreamReader,
    /// The runtime it runs on.
    handle: Handle,
}

impl Iterator for StreamRecords {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if Handle::try_current().is_ok() {
            return Some(Err(backend("read a record", JetStreamError::InsideRuntime)));
        }
        self.handle.block_on(self.reader.next())
    }
}

/// What [`JetStreamLog::verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamVerifyReport {
    /// Records checked.
    pub records: u64,
    /// The last seq (0 for an empty log).
    pub last_seq: u64,
    /// The last record's hash (see the file log's `VerifyReport::head_hash`).
    pub head_hash: ChainHash,
}

impl JetStreamLog {
    /// Checks the whole log as `switchboard audit verify` checks a directory: every record's
    /// CRC, the dense seqs from 1 and the whole hash chain.
    ///
    /// # Errors
    /// The first damaged record, or a JetStream failure.
    pub async fn verify(
        context: &jetstream::Context,
        config: &JetStreamConfig,
    ) -> Result<StreamVerifyReport, LogError> {
        let mut reader = StreamReader::start(context, config, 1).await?;
        let mut records = 0;
        while let Some(record) = reader.next().await {
            record?;
            records += 1;
        }
        Ok(StreamVerifyReport {
            records,
            last_seq: reader.position.next_seq - 1,
            head_hash: reader.position.head_hash,
        })
    }

    /// Runs `future` on the log's runtime from a thread outside it.
    fn block_on<T>(
        &mut self,
        op: &'static str,
        run: impl AsyncFnOnce(&mut Self) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        if Handle::try_current().is_ok() {
            return Err(backend(op, JetStreamError::InsideRuntime));
        }
        let handle = self.handle.clone();
        handle.block_on(run(self))
    }
}

impl EventLog for JetStreamLog {
    type Records = StreamRecords;

    fn append(&mut self, entries: &[Entry]) -> Result<Appended, LogError> {
        self.block_on("append batch", async |log| log.append_async(entries).await)
    }

    fn next_seq(&self) -> u64 {
        self.position.next_seq
    }

    fn head_hash(&self) -> ChainHash {
        self.position.head_hash
    }

    fn payload_bytes_max(&self) -> usize {
        self.payload_bytes_max
    }

    fn read_from(&self, seq: u64) -> Result<StreamRecords, LogError> {
        if Handle::try_current().is_ok() {
            return Err(backend("read a record", JetStreamError::InsideRuntime));
        }
        let reader = self.handle.block_on(self.reader_from(seq))?;
        Ok(StreamRecords {
            reader,
            handle: self.handle.clone(),
        })
    }

    fn last_sync_time(&self) -> Option<Duration> {
        self.last_commit_time
    }
}

/// A [`LogError::Backend`] for `op`.
fn backend(op: &'static str, error: JetStreamError) -> LogError {
    LogError::Backend {
        backend: BACKEND,
        op,
        source: Box::new(error),
    }
}

/// A [`LogError::Backend`] from a stream operation's error.
fn stream_error(op: &'static str, error: &dyn std::fmt::Display) -> LogError {
    backend(op, JetStreamError::Stream(error.to_string()))
}

/// A [`LogError::Backend`] naming damage at `seq`.
fn damaged(config: &JetStreamConfig, seq: u64, problem: String) -> LogError {
    backend(
        "check the stream",
        JetStreamError::Damaged {
            stream: config.stream.clone(),
            seq,
            problem,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_overhead_is_the_file_logs() {
        let (bytes, _) = frame_record(ChainPosition::EMPTY, 0, &[], u32::MAX).expect("frame");
        assert_eq!(bytes.len(), RECORD_OVERHEAD_BYTES);
    }
}
