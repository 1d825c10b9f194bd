//! The leadership lease of one routing domain: a key in a JetStream KV bucket whose entries live
//! for the lease's TTL. The holder creates the key, then renews it by revision (compare and
//! swap) well within the TTL; a renewal that fails, because the entry expired or another node
//! took the key, means the lease is lost and the holder must stop serving at once.

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;

use crate::batch::{self, BatchFailure};
use crate::{JetStreamError, LeaseError};

/// Bound on each write to the lease bucket.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// What a lease is, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// The KV bucket of the cluster's leases, e.g. `switchboard_leases`; its entries live for
    /// `ttl` (its `max_age`), so every node of a cluster must use the same TTL.
    pub bucket: String,
    /// The lease's key: the routing domain.
    pub key: String,
    /// This node's id, written into the lease while it holds it.
    pub holder: String,
    /// How long the lease lasts after its last renewal (whole seconds or more are safest).
    pub ttl: Duration,
    /// Copies the cluster keeps of the bucket (3 in a cluster).
    pub replicas: usize,
}

/// This node's handle on a domain's lease. See the module documentation.
#[derive(Debug)]
pub struct Lease {
    /// The connection, for the lease's writes.
    client: async_nats::Client,
    /// The bucket.
    store: kv::Store,
    /// What the lease is.
    config: LeaseConfig,
    /// The entry's revision this node wrote last, while it holds the lease.
    revision: Option<u64>,
    /// Until when this node may act as holder: the TTL counted from when its last successful
    /// write was *sent*, so it ends no later than the entry expires on the servers.
    valid_until: Option<Instant>,
}

impl Lease {
    /// Opens (creating if needed) the lease bucket, holding nothing yet.
    ///
    /// # Errors
    /// The bucket cannot be made or read, or it keeps entries for another TTL.
    pub async fn open(
        context: &jetstream::Context,
        config: LeaseConfig,
    ) -> Result<Self, LeaseError> {
        let failed = |detail: String| LeaseError::Bucket {
            bucket: config.bucket.clone(),
            detail,
        };
        let store = match context.get_key_value(&config.bucket).await {
            Ok(store) => store,
            Err(_) => context
                .create_key_value(kv::Config {
                    bucket: config.bucket.clone(),
                    description: "Switchboard leadership leases, one per routing domain".into(),
                    history: 1,
                    max_age: config.ttl,
                    storage: jetstream::stream::StorageType::File,
                    num_replicas: config.replicas,
                    ..Default::default()
                })
                .await
                .map_err(|e| failed(e.to_string()))?,
        };
        let status = store.status().await.map_err(|e| failed(e.to_string()))?;
        let max_age = status.info.config.max_age;
        if max_age != config.ttl {
            return Err(LeaseError::TtlMismatch {
                bucket: config.bucket.clone(),
                expected: config.ttl,
                found: max_age,
            });
        }
        Ok(Self {
            client: context.client(),
            store,
            config,
            revision: None,
            valid_until: None,
        })
    }

    /// Takes the lease if nobody holds it: the key is absent (never taken, or expired), or was
    /// released.
    ///
    /// # Errors
    /// [`LeaseError::Held`] naming the holder (empty if the replica read had not yet seen it);
    /// [`LeaseError::Bucket`] if the bucket failed.
    pub async fn acquire(&mut self) -> Result<(), LeaseError> {
        // Revision 0: stored only if the key has no entry at all.
        match self.write_expecting(0).await {
            Ok(()) => return Ok(()),
            Err(BatchFailure::Fenced) => {}
            Err(BatchFailure::Failed(error)) => return Err(self.bucket_error(&error)),
        }
        let entry = self.read_entry().await?;
        let key = self.config.key.clone();
        let held = |holder: String| LeaseError::Held { key, holder };
        match entry {
            // Released: take it over the release, by its revision.
            Some(entry) if entry.operation != kv::Operation::Put => {
                match self.write_expecting(entry.revision).await {
                    Ok(()) => Ok(()),
                    Err(BatchFailure::Fenced) => Err(held(String::new())),
                    Err(BatchFailure::Failed(error)) => Err(self.bucket_error(&error)),
                }
            }
            Some(entry) => Err(held(String::from_utf8_lossy(&entry.value).into_owned())),
            // The replica that answered has not yet seen the entry the refusal was about.
            None => Err(held(String::new())),
        }
    }

    /// Renews the held lease by revision, for another TTL from now.
    ///
    /// # Errors
    /// [`LeaseError::Lost`] if the entry expired or was taken since the last renewal, or the
    /// renewal went unanswered (the lease is then no longer held: a holder that cannot confirm
    /// its lease stops serving); [`LeaseError::NotHeld`] if it was not held.
    pub async fn renew(&mut self) -> Result<(), LeaseError> {
        let Some(revision) = self.revision else {
            return Err(LeaseError::NotHeld {
                key: self.config.key.clone(),
            });
        };
        match self.write_expecting(revision).await {
            Ok(()) => Ok(()),
            Err(failure) => {
                self.revision = None;
                self.valid_until = None;
                let reason = match failure {
                    BatchFailure::Fenced => "the entry expired or another node took it".to_owned(),
                    BatchFailure::Failed(error) => error.to_string(),
                };
                Err(LeaseError::Lost {
                    key: self.config.key.clone(),
                    reason,
                })
            }
        }
    }

    /// Writes this node's name into the lease if the key's last revision is `revision` (0: no
    /// entry), and holds the lease from then.
    async fn write_expecting(&mut self, revision: u64) -> Result<(), BatchFailure> {
        let sent = Instant::now();
        let mut headers = HeaderMap::new();
        headers.insert(
            "Nats-Expected-Last-Subject-Sequence",
            revision.to_string().as_str(),
        );
        let subject = format!("$KV.{}.{}", self.config.bucket, self.config.key);
        let value = Bytes::from(self.config.holder.clone());
        let reply = batch::request(&self.client, &subject, headers, value, REQUEST_TIMEOUT).await?;
        let ack = batch::check_api_error(&reply)?;
        let stored = ack["seq"].as_u64().ok_or_else(|| {
            BatchFailure::Failed(JetStreamError::Unexpected(format!(
                "a lease write's ack has no sequence: {ack}"
            )))
        })?;
        self.hold(stored, sent);
        Ok(())
    }

    /// Gives the lease up at once (deleting the entry if it is still this node's), so that a
    /// standby need not wait for the TTL.
    ///
    /// # Errors
    /// [`LeaseError::NotHeld`] if it was not held; [`LeaseError::Bucket`] if the delete failed
    /// (the lease then lapses after its TTL). It is no longer held either way.
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        let revision = self.revision.take().ok_or_else(|| LeaseError::NotHeld {
            key: self.config.key.clone(),
        })?;
        self.valid_until = None;
        let deleted = self
            .store
            .delete_expect_revision(&self.config.key, Some(revision));
        match tokio::time::timeout(REQUEST_TIMEOUT, deleted).await {
            Ok(deleted) => deleted.map_err(|error| self.bucket_error(&error)),
            Err(_) => Err(self.unanswered()),
        }
    }

    /// Whether this node may act as the holder at `now`: it holds the lease and its TTL, counted
    /// from when the last successful write was sent, has not run out.
    pub fn is_held(&self, now: Instant) -> bool {
        self.valid_until.is_some_and(|until| now < until)
    }

    /// When this node's hold ends unless renewed (`None` when not held).
    pub fn valid_until(&self) -> Option<Instant> {
        self.valid_until
    }

    /// Who holds the lease according to the bucket (`None` if nobody).
    ///
    /// # Errors
    /// The bucket could not be read.
    pub async fn holder(&self) -> Result<Option<String>, LeaseError> {
        let entry = self.read_entry().await?;
        Ok(entry
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| String::from_utf8_lossy(&entry.value).into_owned()))
    }

    /// The key's entry, read within [`REQUEST_TIMEOUT`] (a read left unanswered would otherwise
    /// wait for the connection's request timeout, 10 s by default, far past the lease's TTL).
    async fn read_entry(&self) -> Result<Option<kv::Entry>, LeaseError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.store.entry(&self.config.key)).await {
            Ok(entry) => entry.map_err(|error| self.bucket_error(&error)),
            Err(_) => Err(self.unanswered()),
        }
    }

    /// The error of a request to the bucket left unanswered within [`REQUEST_TIMEOUT`].
    fn unanswered(&self) -> LeaseError {
        self.bucket_error(&format!("no answer within {REQUEST_TIMEOUT:?}"))
    }

    /// The lease's configuration.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// Records a successful write of `revision` sent at `sent`.
    fn hold(&mut self, revision: u64, sent: Instant) {
        self.revision = Some(revision);
        self.valid_until = Some(sent + self.config.ttl);
    }

    /// A [`LeaseError::Bucket`] from a client error.
    fn bucket_error(&self, error: &dyn std::fmt::Display) -> LeaseError {
        LeaseError::Bucket {
            bucket: self.config.bucket.clone(),
            detail: error.to_string(),
        }
    }
}
