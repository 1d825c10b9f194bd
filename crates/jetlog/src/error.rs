//! The typed errors of this crate: what JetStream answered (the source of a log error) and why
//! a lease could not be taken or kept.

/// What went wrong talking to JetStream: the source of a [`switchboard_log::LogError::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JetStreamError {
    /// A request was not answered (timeout, no responders, connection closed).
    #[error("request to {subject} failed")]
    Request {
        /// The subject the request went to.
        subject: String,
        /// The client's error.
        #[source]
        source: async_nats::RequestError,
    },
    /// A message could not be published.
    #[error("publish to {subject} failed")]
    Publish {
        /// The subject.
        subject: String,
        /// The client's error.
        #[source]
        source: async_nats::PublishError,
    },
    /// JetStream answered with an API error.
    #[error("JetStream refused it: {description} (error {err_code})")]
    Refused {
        /// The JetStream error code (10071: wrong last sequence).
        err_code: u64,
        /// JetStream's text.
        description: String,
    },
    /// JetStream's answer is not what the protocol says it should be.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// A stream operation (create, info, get a message, make a consumer) failed.
    #[error("{0}")]
    Stream(String),
    /// The stream holds something the log did not write, or lacks what it did: a stored record
    /// that does not decode or continue the chain, a gap, a purge.
    #[error("stream {stream} is damaged at seq {seq}: {problem}")]
    Damaged {
        /// The stream.
        stream: String,
        /// The stream sequence at fault.
        seq: u64,
        /// What is wrong.
        problem: String,
    },
    /// A blocking call of the [`switchboard_log::EventLog`] trait was made from inside an async
    /// runtime, where it would stall the runtime: call it from a thread of its own (the group
    /// committer's), or use the `async` methods.
    #[error("a blocking log call was made from inside an async runtime")]
    InsideRuntime,
}

/// Why a [`crate::Lease`] could not be taken or kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// Another node holds the lease now.
    #[error("the lease {key} is held by {holder}")]
    Held {
        /// The lease's key (the routing domain).
        key: String,
        /// Who holds it, as it wrote itself into the lease.
        holder: String,
    },
    /// This node's renewal failed: the lease lapsed (or was taken) since the last renewal, so
    /// this node must stop serving at once.
    #[error("the lease {key} was lost: {reason}")]
    Lost {
        /// The lease's key.
        key: String,
        /// What the bucket answered.
        reason: String,
    },
    /// `renew` or `release` was called without holding the lease.
    #[error("the lease {key} is not held by this node")]
    NotHeld {
        /// The lease's key.
        key: String,
    },
    /// The bucket exists with entries that live for another time than this lease's TTL.
    #[error("lease bucket {bucket} keeps entries for {found:?}, not the lease TTL {expected:?}")]
    TtlMismatch {
        /// The bucket.
        bucket: String,
        /// This node's TTL.
        expected: std::time::Duration,
        /// The bucket's `max_age`.
        found: std::time::Duration,
    },
    /// The bucket could not be made or read, or a request failed.
    #[error("lease bucket {bucket}: {detail}")]
    Bucket {
        /// The bucket.
        bucket: String,
        /// What failed, with the client's error.
        detail: String,
    },
}

/// Why the snapshot bucket ([`crate::SnapshotStore`]) could not store or give a snapshot. A
/// snapshot is only a shortcut: the caller logs it and goes on (the log is the truth).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotStoreError {
    /// The bucket could not be made, read or written.
    #[error("snapshot bucket {bucket}: could not {op}: {detail}")]
    Bucket {
        /// The bucket.
        bucket: String,
        /// What was being done.
        op: &'static str,
        /// The client's error.
        detail: String,
    },
    /// The newest object is not a snapshot as this store writes them.
    #[error("snapshot bucket {bucket}: {object} is damaged: {problem}")]
    Damaged {
        /// The bucket.
        bucket: String,
        /// The object's name.
        object: String,
        /// What is wrong.
        problem: String,
    },
}
