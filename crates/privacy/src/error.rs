//! The privacy crate's typed errors.

use std::path::PathBuf;

/// Why a keystore, a sealed value or a retention setting failed.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The keystore file could not be read, written, synced or renamed.
    #[error("keystore {path}")]
    Io {
        /// The file or directory at fault.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The keystore file is not one this version wrote, or it fails its own checksum.
    #[error("keystore {path} is damaged: {detail}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// There is no keystore where the log says there was one: everything sealed under it is
    /// unreadable for good and reads as `[erased]`; routing goes on, but customers' earlier
    /// contacts no longer lead to their last agent (their pseudonyms change with the secret).
    #[error(
        "no keystore at {path} although the log holds sealed personal data: restore it from its \
         backup (docs/operations.md); without it every sealed value reads as [erased]"
    )]
    Lost {
        /// Where the keystore was expected.
        path: PathBuf,
    },
    /// A sealed value's bytes are too short or of an unknown version.
    #[error("sealed value is malformed: {detail}")]
    Malformed {
        /// What is wrong with it.
        detail: &'static str,
    },
    /// A sealed value does not open under its own subject's key: its bytes were changed.
    #[error("sealed value for subject {subject} fails its authentication tag: it was altered")]
    Tampered {
        /// The subject's pseudonym, in hex.
        subject: String,
    },
    /// A retention period is not a whole number of years, months or days (`"6y"`, `"18m"`, `"90d"`).
    #[error("retention period {text:?}: {detail}")]
    Period {
        /// The text given.
        text: String,
        /// What is wrong with it.
        detail: &'static str,
    },
    /// The keystore's JetStream KV bucket failed.
    #[error("keystore bucket {bucket}: {detail}")]
    Bucket {
        /// The bucket.
        bucket: String,
        /// The server's or client's error.
        detail: String,
    },
    /// The operating system's random source failed (no key or nonce could be drawn).
    #[error("the operating system's random source failed: {detail}")]
    Random {
        /// The error.
        detail: String,
    },
}
