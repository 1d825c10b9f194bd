//! One atomic batch publish (nats-server 2.12 or later, ADR-50), written with raw headers, as
//! async-nats 0.51 has no batch API: the first message is a request that starts the batch
//! (answered empty) and carries `Nats-Expected-Last-Sequence`, the middle ones are plain
//! publishes, the last carries `Nats-Batch-Commit` and is answered with the batch's ack. The
//! server checks the expected sequence when it commits, under the stream's lock, and stores all
//! the messages or none.

use std::time::Duration;

use async_nats::{Client, HeaderMap, Request, RequestErrorKind};
use bytes::Bytes;

use crate::JetStreamError;

/// The most messages one atomic batch may hold (the server's limit).
pub const ATOMIC_BATCH_MAX: usize = 1000;

/// How long a request that found no responders waits before it is sent again.
const NO_RESPONDERS_RETRY: Duration = Duration::from_millis(20);

/// JetStream's error codes for a failed `Nats-Expected-Last-Sequence` (or subject sequence)
/// check: the stream's, and the one the batch and subject checks answer with.
const ERR_WRONG_LAST_SEQUENCE: [u64; 2] = [10071, 10164];

/// How an atomic batch failed.
#[derive(Debug)]
pub(crate) enum BatchFailure {
    /// The stream (or the subject) does not end at the expected sequence: another writer has
    /// appended.
    Fenced,
    /// Anything else; whether the batch was stored is unknown if the commit went unanswered.
    Failed(JetStreamError),
}

/// Publishes `messages` (1 to [`ATOMIC_BATCH_MAX`]) to `subject` as one atomic batch that is
/// stored only if the stream's last sequence is `expected_last_seq`; returns the stream sequence
/// of the last message. Each request waits at most `timeout`.
pub(crate) async fn publish_atomic(
    client: &Client,
    subject: &str,
    messages: &[Bytes],
    expected_last_seq: u64,
    timeout: Duration,
) -> Result<u64, BatchFailure> {
    let Some((commit, rest)) = messages.split_last() else {
        return Err(BatchFailure::Failed(JetStreamError::Unexpected(
            "an atomic batch needs at least one message".to_owned(),
        )));
    };
    debug_assert!(messages.len() <= ATOMIC_BATCH_MAX);
    // An inbox is a fresh NUID: unique among the stream's batches in flight, whoever writes.
    let inbox = client.new_inbox();
    let batch_id = inbox.rsplit('.').next().unwrap_or(&inbox).to_owned();
    for (index, payload) in rest.iter().enumerate() {
        let headers = batch_headers(&batch_id, index, expected_last_seq);
        if index == 0 {
            let reply = request(client, subject, headers, payload.clone(), timeout).await?;
            if !reply.is_empty() {
                check_api_error(&reply)?;
            }
        } else {
            client
                .publish_with_headers(subject.to_owned(), headers, payload.clone())
                .await
                .map_err(|source| {
                    BatchFailure::Failed(JetStreamError::Publish {
                        subject: subject.to_owned(),
                        source,
                    })
                })?;
        }
    }
    let mut headers = batch_headers(&batch_id, rest.len(), expected_last_seq);
    headers.insert("Nats-Batch-Commit", "1");
    let ack = request(client, subject, headers, commit.clone(), timeout).await?;
    check_commit_ack(&ack, &batch_id, messages.len())
}

/// The headers of message `index` (from 0) of a batch: its id and place, and on the first the
/// sequence the stream must end at for the batch to be stored.
fn batch_headers(batch_id: &str, index: usize, expected_last_seq: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Batch-Id", batch_id);
    headers.insert("Nats-Batch-Sequence", (index + 1).to_string().as_str());
    if index == 0 {
        headers.insert(
            "Nats-Expected-Last-Sequence",
            expected_last_seq.to_string().as_str(),
        );
    }
    headers
}

/// Sends one request and returns the reply's payload. "No responders" (the stream is electing
/// a leader, or its interest has not reached this server yet) means nobody received it, so it is
/// sent again, every [`NO_RESPONDERS_RETRY`], within the same bound.
pub(crate) async fn request(
    client: &Client,
    subject: &str,
    headers: HeaderMap,
    payload: Bytes,
    timeout: Duration,
) -> Result<Bytes, BatchFailure> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let request = Request::new()
            .headers(headers.clone())
            .payload(payload.clone())
            .timeout(Some(timeout));
        match client.send_request(subject.to_owned(), request).await {
            Ok(message) => return Ok(message.payload),
            Err(source)
                if source.kind() == RequestErrorKind::NoResponders
                    && tokio::time::Instant::now() + NO_RESPONDERS_RETRY < deadline =>
            {
                tokio::time::sleep(NO_RESPONDERS_RETRY).await;
            }
            Err(source) => {
                return Err(BatchFailure::Failed(JetStreamError::Request {
                    subject: subject.to_owned(),
                    source,
                }));
            }
        }
    }
}

/// Refuses a reply that is a JetStream API error (`{"error": {...}}`).
pub(crate) fn check_api_error(reply: &[u8]) -> Result<serde_json::Value, BatchFailure> {
    let json: serde_json::Value = serde_json::from_slice(reply).map_err(|error| {
        BatchFailure::Failed(JetStreamError::Unexpected(format!(
            "a batch reply is not JSON ({error}): {}",
            String::from_utf8_lossy(reply)
        )))
    })?;
    if let Some(error) = json.get("error") {
        let err_code = error["err_code"].as_u64().unwrap_or_default();
        if ERR_WRONG_LAST_SEQUENCE.contains(&err_code) {
            return Err(BatchFailure::Fenced);
        }
        return Err(BatchFailure::Failed(JetStreamError::Refused {
            err_code,
            description: error["description"].as_str().unwrap_or_default().to_owned(),
        }));
    }
    Ok(json)
}

/// Checks the commit's ack: this batch, all its messages, and the last one's sequence.
fn check_commit_ack(reply: &[u8], batch_id: &str, count: usize) -> Result<u64, BatchFailure> {
    let json = check_api_error(reply)?;
    let unexpected = |what: &str| {
        BatchFailure::Failed(JetStreamError::Unexpected(format!(
            "the batch's ack {what}: {json}"
        )))
    };
    if json["batch"].as_str() != Some(batch_id) {
        return Err(unexpected("names another batch"));
    }
    if json["count"].as_u64() != Some(count as u64) {
        return Err(unexpected("counts another number of messages"));
    }
    json["seq"]
        .as_u64()
        .ok_or_else(|| unexpected("has no sequence"))
}
