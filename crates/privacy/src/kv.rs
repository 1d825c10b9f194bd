//! The keystore in cluster mode: a JetStream KV bucket (file storage, history 1), one entry per
//! subject (`s.<pseudonym>`: key id then key) and the domain secret (`domain-secret`).
//!
//! Erasing a subject first deletes its entry's message from the bucket's stream with the
//! server's secure erase (`$JS.API.STREAM.MSG.DELETE` without `no_erase`: the stored message
//! is overwritten with random bytes in place), then purges the key, leaving only a purge marker
//! (no value). What the servers may still hold after that, and for how long, is in
//! docs/privacy.md ("What JetStream keeps after an erasure"). Every request is bounded by the
//! JetStream context's request timeout.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt;

use crate::PrivacyError;
use crate::keys::{Changes, Keys};
use crate::pseudonym::{DomainSecret, Pseudonym};
use crate::seal::{KEY_ID_LEN, KeyId, SubjectKey};

/// The domain secret's key in the bucket.
const SECRET_KEY: &str = "domain-secret";
/// The prefix of a subject's key in the bucket.
const SUBJECT_PREFIX: &str = "s.";
/// Bound on the subjects one load reads (a council's customers, with a wide margin).
pub const SUBJECTS_MAX: usize = 10_000_000;

/// Where the keystore bucket is and how it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvKeystoreConfig {
    /// The bucket, e.g. `switchboard_keys`.
    pub bucket: String,
    /// Copies the cluster keeps (3 in a cluster).
    pub replicas: usize,
}

/// A handle on the keystore bucket.
#[derive(Debug)]
pub struct KvKeystore {
    /// The bucket.
    store: kv::Store,
    /// Its stream, for the secure erase of a key's message.
    stream: jetstream::stream::Stream,
    /// The bucket's name, for errors.
    bucket: String,
}

impl KvKeystore {
    /// Opens the bucket, making it (history 1, file storage, deletes allowed) if it does not
    /// exist.
    ///
    /// # Errors
    /// The bucket cannot be made or read.
    pub async fn open(
        context: &jetstream::Context,
        config: &KvKeystoreConfig,
    ) -> Result<Self, PrivacyError> {
        let name = format!("KV_{}", config.bucket);
        let stream = match context.get_stream(&name).await {
            Ok(stream) => stream,
            Err(_) => context
                .create_stream(stream_config(config))
                .await
                .map_err(fail(&config.bucket))?,
        };
        if stream.cached_info().config.deny_delete {
            return Err(fail::<&str>(&config.bucket)(
                "the bucket refuses message deletes, so keys could not be securely erased: \
                 it was not made by Switchboard (remove it, or name another bucket)",
            ));
        }
        let store = context
            .get_key_value(&config.bucket)
            .await
            .map_err(fail(&config.bucket))?;
        Ok(Self {
            store,
            stream,
            bucket: config.bucket.clone(),
        })
    }

    /// Opens the bucket read-only, for readers such as `audit show`: never makes the bucket,
    /// and `Ok(None)` when it does not exist. Load its keys with [`KvKeystore::load_existing`].
    ///
    /// # Errors
    /// The bucket exists but cannot be read.
    pub async fn open_existing(
        context: &jetstream::Context,
        bucket: &str,
    ) -> Result<Option<Self>, PrivacyError> {
        let name = format!("KV_{bucket}");
        let stream = match context.get_stream(&name).await {
            Ok(stream) => stream,
            Err(error) => {
                if let jetstream::context::GetStreamErrorKind::JetStream(js) = error.kind()
                    && js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
                {
                    return Ok(None);
                }
                return Err(fail(bucket)(error));
            }
        };
        let store = context.get_key_value(bucket).await.map_err(fail(bucket))?;
        Ok(Some(Self {
            store,
            stream,
            bucket: bucket.to_owned(),
        }))
    }

    /// Whether the bucket holds a domain secret: `false` for a new bucket, or one that was
    /// lost (then what it sealed reads as `[erased]`; [`KvKeystore::load`] makes a new one).
    ///
    /// # Errors
    /// The bucket failed.
    pub async fn has_secret(&self) -> Result<bool, PrivacyError> {
        Ok(self.get(SECRET_KEY).await?.is_some())
    }

    /// Loads every key, making and storing a domain secret first if the bucket has none.
    ///
    /// # Errors
    /// The bucket failed, or holds an entry of the wrong length.
    pub async fn load(&self) -> Result<Keys, PrivacyError> {
        let secret = self.secret_or_make().await?;
        self.load_with(secret).await
    }

    /// Loads every key without writing anything: `Ok(None)` when the bucket holds no domain
    /// secret (nothing was ever sealed under it, or it was lost).
    ///
    /// # Errors
    /// The bucket failed, or holds an entry of the wrong length.
    pub async fn load_existing(&self) -> Result<Option<Keys>, PrivacyError> {
        let Some(bytes) = self.get(SECRET_KEY).await? else {
            return Ok(None);
        };
        let secret = DomainSecret::from_bytes(self.exact::<32>(SECRET_KEY, &bytes)?);
        self.load_with(secret).await.map(Some)
    }

    /// The stored domain secret, made and stored first if the bucket has none.
    async fn secret_or_make(&self) -> Result<DomainSecret, PrivacyError> {
        Ok(match self.get(SECRET_KEY).await? {
            Some(bytes) => DomainSecret::from_bytes(self.exact::<32>(SECRET_KEY, &bytes)?),
            None => {
                let secret = DomainSecret::generate()?;
                let value = Bytes::copy_from_slice(secret.as_bytes());
                // `create` refuses if another node stored one first: then that one is read.
                match self.store.create(SECRET_KEY, value).await {
                    Ok(_) => secret,
                    _ => {
                        let bytes = self.get(SECRET_KEY).await?.ok_or_else(|| {
                            fail::<&str>(&self.bucket)(
                                "the domain secret could be neither stored nor read",
                            )
                        })?;
                        DomainSecret::from_bytes(self.exact::<32>(SECRET_KEY, &bytes)?)
                    }
                }
            }
        })
    }

    /// Every subject's key in the bucket, with the domain secret given.
    async fn load_with(&self, secret: DomainSecret) -> Result<Keys, PrivacyError> {
        let mut keys = Keys::new(secret);
        let mut names = self.store.keys().await.map_err(fail(&self.bucket))?;
        let mut seen = 0_usize;
        while let Some(name) = names.next().await {
            let name = name.map_err(fail(&self.bucket))?;
            seen += 1;
            if seen > SUBJECTS_MAX {
                return Err(fail::<&str>(&self.bucket)(
                    "more subjects than SUBJECTS_MAX",
                ));
            }
            let Some(hex) = name.strip_prefix(SUBJECT_PREFIX) else {
                continue;
            };
            let Some(subject) = Pseudonym::parse_hex(hex) else {
                continue;
            };
            // A key purged between the listing and this read is simply gone.
            if let Some(bytes) = self.get(&name).await? {
                let entry = self.exact::<{ KEY_ID_LEN + 32 }>(&name, &bytes)?;
                let (id, key) = entry.split_at(KEY_ID_LEN);
                let id: [u8; KEY_ID_LEN] = id.try_into().unwrap_or_default();
                let key: [u8; 32] = key.try_into().unwrap_or_default();
                keys.insert(subject, SubjectKey::from_parts(KeyId(id), key));
            }
        }
        Ok(keys)
    }

    /// Stores the keys made and erases the keys destroyed since the last save. The keys made
    /// are put all at once and their acknowledgements awaited together: a turn that makes many
    /// customers' keys costs the loop one round trip to the bucket, not one per key.
    ///
    /// # Errors
    /// The bucket failed; what was saved before the failure stays saved.
    pub async fn save(&self, keys: &Keys, changes: &Changes) -> Result<(), PrivacyError> {
        let puts = changes.made.iter().filter_map(|subject| {
            // None: made, then destroyed again before this save.
            let key = keys.key(*subject)?;
            let mut value = Vec::with_capacity(KEY_ID_LEN + 32);
            value.extend_from_slice(&key.id().0);
            value.extend_from_slice(key.as_bytes());
            Some(self.store.put(subject_key(*subject), value.into()))
        });
        futures::future::try_join_all(puts)
            .await
            .map_err(fail(&self.bucket))?;
        for subject in &changes.destroyed {
            self.erase(*subject).await?;
        }
        Ok(())
    }

    /// Destroys `subject`'s key: a secure erase of its message, then a purge of its key.
    ///
    /// # Errors
    /// The bucket failed.
    pub async fn erase(&self, subject: Pseudonym) -> Result<(), PrivacyError> {
        let name = subject_key(subject);
        let entry = self
            .store
            .entry(name.clone())
            .await
            .map_err(fail(&self.bucket))?;
        if let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) {
            self.stream
                .delete_message(entry.revision)
                .await
                .map_err(fail(&self.bucket))?;
        }
        self.store.purge(&name).await.map_err(fail(&self.bucket))
    }

    /// The value of `key`, if it has one.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, PrivacyError> {
        self.store.get(key).await.map_err(fail(&self.bucket))
    }

    /// `bytes` as exactly `N` bytes, or a damaged-entry error naming `key`.
    fn exact<const N: usize>(&self, key: &str, bytes: &[u8]) -> Result<[u8; N], PrivacyError> {
        bytes.try_into().map_err(|_| PrivacyError::Bucket {
            bucket: self.bucket.clone(),
            detail: format!("entry {key} holds {} bytes, not {N}", bytes.len()),
        })
    }
}

/// The bucket's stream: what `async_nats` makes for a KV bucket with history 1 and file
/// storage, except that it allows message deletes (a KV bucket made by the client refuses
/// them), which the secure erase of a destroyed key needs.
fn stream_config(config: &KvKeystoreConfig) -> jetstream::stream::Config {
    jetstream::stream::Config {
        name: format!("KV_{}", config.bucket),
        description: Some("Switchboard keystore: the domain secret and one key per subject".into()),
        subjects: vec![format!("$KV.{}.>", config.bucket)],
        max_messages_per_subject: 1,
        storage: jetstream::stream::StorageType::File,
        num_replicas: config.replicas.max(1),
        allow_rollup: true,
        deny_delete: false,
        deny_purge: false,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    }
}

/// The bucket key of `subject`.
fn subject_key(subject: Pseudonym) -> String {
    format!("{SUBJECT_PREFIX}{subject}")
}

/// Maps any error to [`PrivacyError::Bucket`] naming `bucket`.
fn fail<E: ToString>(bucket: &str) -> impl Fn(E) -> PrivacyError + '_ {
    move |e| PrivacyError::Bucket {
        bucket: bucket.to_owned(),
        detail: e.to_string(),
    }
}
