//! Cluster mode's home for snapshots: a JetStream Object Store bucket (`SB_SNAP_<PREFIX>`,
//! docs/cluster.md), replicated as the log stream is, so that an engine started on an empty disk
//! recovers from the newest snapshot plus the stream's tail instead of replaying the whole
//! stream.
//!
//! Each snapshot is one object named `snapshot-<seq, 20 digits>` holding exactly the payload a
//! snapshot file holds, with the file's stamp (the seq and the log's chain hash there) in the
//! object's metadata (`seq`, `head_hash` in hex). The object store checks the bytes against
//! their SHA-256 digest on reading. Only the newest few are kept. A snapshot from the bucket is
//! trusted no more than a file: the reader checks it against the log before using it.

use std::collections::HashMap;
use std::fmt::Write as _;

use async_nats::jetstream::{self, object_store};
use futures::StreamExt as _;
use switchboard_log::ChainHash;
use tokio::io::AsyncReadExt as _;

use crate::error::SnapshotStoreError;

/// Where and how a [`SnapshotStore`] keeps snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotStoreConfig {
    /// The Object Store bucket (`SB_SNAP_<PREFIX>`).
    pub bucket: String,
    /// Copies of the bucket (as the log stream's), when it is made.
    pub replicas: usize,
    /// How many of the newest snapshots are kept (at least 1).
    pub keep_count: usize,
}

/// A snapshot as the bucket holds it: the stamp and the payload of a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// The seq of the last event folded into the state.
    pub seq: u64,
    /// The log's chain hash at `seq`.
    pub head_hash: ChainHash,
    /// The encoded state.
    pub payload: Vec<u8>,
}

/// The snapshot bucket of one routing domain. See the module documentation.
#[derive(Clone)]
pub struct SnapshotStore {
    store: object_store::ObjectStore,
    config: SnapshotStoreConfig,
}

impl std::fmt::Debug for SnapshotStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

const SEQ_KEY: &str = "seq";
const HASH_KEY: &str = "head_hash";

/// The object name of the snapshot taken at `seq`.
fn object_name(seq: u64) -> String {
    format!("snapshot-{seq:020}")
}

/// The seq of an object named by [`object_name`].
fn seq_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?;
    (digits.len() == 20).then(|| digits.parse().ok()).flatten()
}

fn hex(hash: &ChainHash) -> String {
    hash.as_bytes()
        .iter()
        .fold(String::with_capacity(64), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

fn unhex(text: &str) -> Option<ChainHash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (at, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[at * 2..at * 2 + 2], 16).ok()?;
    }
    Some(ChainHash(hash))
}

impl SnapshotStore {
    /// Opens the bucket, making it (file storage, `config.replicas` copies) if it is not there.
    ///
    /// # Errors
    /// The bucket can neither be read nor made.
    pub async fn open(
        context: &jetstream::Context,
        config: SnapshotStoreConfig,
    ) -> Result<Self, SnapshotStoreError> {
        let store = match context.get_object_store(&config.bucket).await {
            Ok(store) => store,
            Err(_) => context
                .create_object_store(object_store::Config {
                    bucket: config.bucket.clone(),
                    description: Some("Switchboard snapshots (docs/cluster.md)".to_owned()),
                    num_replicas: config.replicas,
                    storage: jetstream::stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| SnapshotStoreError::Bucket {
                    bucket: config.bucket.clone(),
                    op: "make the bucket",
                    detail: e.to_string(),
                })?,
        };
        Ok(Self { store, config })
    }

    /// Stores the snapshot taken at `seq` (the log's chain hash there is `head_hash`), then
    /// deletes all but the newest [`SnapshotStoreConfig::keep_count`].
    ///
    /// # Errors
    /// The upload failed (the older snapshots are then kept), or the bucket could not be listed
    /// or pruned.
    pub async fn put(
        &self,
        seq: u64,
        head_hash: ChainHash,
        payload: &[u8],
    ) -> Result<(), SnapshotStoreError> {
        let meta = object_store::ObjectMetadata {
            name: object_name(seq),
            metadata: HashMap::from([
                (SEQ_KEY.to_owned(), seq.to_string()),
                (HASH_KEY.to_owned(), hex(&head_hash)),
            ]),
            ..Default::default()
        };
        let mut reader = payload;
        self.store
            .put(meta, &mut reader)
            .await
            .map_err(|e| self.failed("upload a snapshot", &e))?;
        let mut stored = self.list().await?;
        stored.sort_unstable_by(|a, b| b.cmp(a));
        for old in stored.into_iter().skip(self.config.keep_count.max(1)) {
            self.store
                .delete(object_name(old))
                .await
                .map_err(|e| self.failed("delete an old snapshot", &e))?;
        }
        Ok(())
    }

    /// The seqs of the snapshots the bucket holds, in no order.
    ///
    /// # Errors
    /// The bucket could not be listed.
    pub async fn list(&self) -> Result<Vec<u64>, SnapshotStoreError> {
        let mut list = self
            .store
            .list()
            .await
            .map_err(|e| self.failed("list the snapshots", &e))?;
        let mut seqs = Vec::new();
        while let Some(info) = list.next().await {
            let info = info.map_err(|e| self.failed("list the snapshots", &e))?;
            if !info.deleted
                && let Some(seq) = seq_of(&info.name)
            {
                seqs.push(seq);
            }
        }
        Ok(seqs)
    }

    /// The newest snapshot the bucket holds (`None`: it holds none).
    ///
    /// # Errors
    /// The bucket could not be read, or the newest object is not a snapshot this store wrote
    /// ([`SnapshotStoreError::Damaged`]: its stamp is missing or does not match its name, or
    /// its bytes do not match their digest).
    pub async fn newest(&self) -> Result<Option<StoredSnapshot>, SnapshotStoreError> {
        let Some(seq) = self.list().await?.into_iter().max() else {
            return Ok(None);
        };
        self.fetch(seq).await.map(Some)
    }

    /// The snapshot at `seq`, checked to be stamped with its seq and a chain hash.
    ///
    /// # Errors
    /// The bucket failed, or the object is damaged.
    pub async fn fetch(&self, seq: u64) -> Result<StoredSnapshot, SnapshotStoreError> {
        let name = object_name(seq);
        let mut object = self
            .store
            .get(&name)
            .await
            .map_err(|e| self.failed("fetch a snapshot", &e))?;
        let stamp = &object.info().metadata;
        let stamped_seq = stamp.get(SEQ_KEY).and_then(|s| s.parse::<u64>().ok());
        let Some(head_hash) = stamp.get(HASH_KEY).and_then(|h| unhex(h)) else {
            return Err(self.damaged(&name, "no chain hash in its metadata"));
        };
        if stamped_seq != Some(seq) {
            return Err(self.damaged(&name, "its metadata's seq is not its name's"));
        }
        let mut payload = Vec::with_capacity(object.info().size);
        object
            .read_to_end(&mut payload)
            .await
            .map_err(|e| self.damaged(&name, &e.to_string()))?;
        Ok(StoredSnapshot {
            seq,
            head_hash,
            payload,
        })
    }

    fn failed(&self, op: &'static str, error: &dyn std::error::Error) -> SnapshotStoreError {
        SnapshotStoreError::Bucket {
            bucket: self.config.bucket.clone(),
            op,
            detail: error.to_string(),
        }
    }

    fn damaged(&self, object: &str, problem: &str) -> SnapshotStoreError {
        SnapshotStoreError::Damaged {
            bucket: self.config.bucket.clone(),
            object: object.to_owned(),
            problem: problem.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_hashes_read_back_and_strangers_are_refused() {
        assert_eq!(seq_of(&object_name(42)), Some(42));
        assert_eq!(seq_of("snapshot-42"), None);
        assert_eq!(seq_of("other-00000000000000000042"), None);
        let hash = ChainHash::of_record(&ChainHash::GENESIS, 1, 2, b"x");
        assert_eq!(unhex(&hex(&hash)), Some(hash));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(&"é".repeat(32)), None);
    }
}
