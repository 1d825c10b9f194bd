//! Personal data at the edge of Switchboard (issue 18, docs/privacy.md).
//!
//! The routing core never sees a customer's reference, name, number or notes: it sees a keyed
//! [`Pseudonym`] (for "last agent", "case owner", duplicate refusal and the customer query) and
//! opaque [`SealedValue`]s. This crate holds what that takes, and nothing of the wire or the log:
//!
//! - [`Keys`]: the domain secret (the pseudonyms' key) and one [`SubjectKey`] per customer (per
//!   contact when the contact gives no customer reference); sealing with XChaCha20-Poly1305 and
//!   a random nonce; unsealing gives [`Unsealed::Erased`] (`[erased]`) once a key is destroyed.
//! - Two keystores: [`FileKeystore`] (a file in the data directory, rewritten atomically and
//!   fsynced) and [`KvKeystore`] (a JetStream KV bucket with history 1, securely erased and
//!   purged on erasure) for cluster mode.
//! - Retention: [`RetentionPeriod`] (`"6y"`, `"18m"`, `"90d"`), a [`RetentionSchedule`] per
//!   service with a default, and the [`RetentionLedger`] that says, with the clock as an
//!   argument, which subjects are due to be shredded and when.

mod error;
mod file;
mod fold;
mod keys;
mod kv;
mod personal;
mod pseudonym;
mod retention;
mod seal;

pub use error::PrivacyError;
pub use file::{FileKeystore, KEYSTORE_FILE};
pub use fold::RetentionFold;
pub use keys::{Changes, ERASED, KeyDelta, Keys, Unsealed};
pub use kv::{KvKeystore, KvKeystoreConfig, SUBJECTS_MAX};
pub use personal::{
    Sealer, TOKEN_PREFIX, UNREADABLE, find_customer_token, has_personal_fields, open_event,
    open_shared, open_text, parse_token, token, token_subject,
};
pub use pseudonym::{DomainSecret, PSEUDONYM_LEN, Pseudonym, SubjectKind};
pub use retention::{
    Erasure, Lifetime, PERIOD_YEARS_MAX, RetentionLedger, RetentionPeriod, RetentionSchedule,
};
pub use seal::{
    KEY_ID_LEN, KeyId, NONCE_LEN, SEALED_OVERHEAD, SEALED_VERSION, SealedValue, SubjectKey,
};
