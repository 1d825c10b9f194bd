//! The keystore as a file in the data directory (`keys` by default), rewritten whole and
//! atomically on every save: a temporary file beside it, `fsync`, rename over the old one,
//! then `fsync` of the directory, so a crash leaves the old keystore or the new, never half.
//!
//! Format: `SBKEYS\0\x01`, the domain secret (32 bytes), the number of subjects (u32, little
//! endian), each subject as pseudonym (16) + key id (16) + key (32), then the BLAKE3 hash of
//! everything before it (32), which [`FileKeystore::open`] checks.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::PrivacyError;
use crate::keys::Keys;
use crate::pseudonym::{DomainSecret, PSEUDONYM_LEN, Pseudonym};
use crate::seal::{KEY_ID_LEN, KeyId, SubjectKey};

/// The file's first bytes: its kind and format version.
const MAGIC: &[u8; 8] = b"SBKEYS\0\x01";
/// One subject's length in the file.
const ENTRY_LEN: usize = PSEUDONYM_LEN + KEY_ID_LEN + 32;
/// The keystore's usual name in the data directory.
pub const KEYSTORE_FILE: &str = "keys";

/// The keystore file and the keys it holds.
#[derive(Debug)]
pub struct FileKeystore {
    /// Where it lives.
    path: PathBuf,
    /// What it holds, as last loaded or changed.
    keys: Keys,
}

impl FileKeystore {
    /// Makes a new keystore with a new domain secret at `path`, saved before it returns.
    ///
    /// # Errors
    /// The random source or the file system failed.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self, PrivacyError> {
        let store = Self {
            path: path.into(),
            keys: Keys::new(DomainSecret::generate()?),
        };
        store.save()?;
        Ok(store)
    }

    /// Loads the keystore at `path`.
    ///
    /// # Errors
    /// [`PrivacyError::Lost`] when there is no file; [`PrivacyError::Damaged`] when it fails
    /// its checks; [`PrivacyError::Io`] when it cannot be read.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, PrivacyError> {
        let path = path.into();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(PrivacyError::Lost { path }),
            Err(source) => return Err(PrivacyError::Io { path, source }),
        };
        let keys = decode(&bytes).map_err(|detail| PrivacyError::Damaged {
            path: path.clone(),
            detail: detail.to_owned(),
        })?;
        Ok(Self { path, keys })
    }

    /// Loads the keystore at `path`, or makes a new one if there is none. When there is none
    /// but `log_holds_sealed_data` (the log was written with a keystore), the new keystore is
    /// returned with the [`PrivacyError::Lost`] it replaces, for the caller to report loudly:
    /// routing goes on, and what the lost keystore sealed reads as `[erased]` for good.
    ///
    /// # Errors
    /// The file is damaged or unreadable (never replaced: an operator must look), or a new one
    /// cannot be written.
    pub fn open_or_create(
        path: impl Into<PathBuf>,
        log_holds_sealed_data: bool,
    ) -> Result<(Self, Option<PrivacyError>), PrivacyError> {
        match Self::open(path) {
            Ok(store) => Ok((store, None)),
            Err(PrivacyError::Lost { path }) => {
                let store = Self::create(path.clone())?;
                let lost = log_holds_sealed_data.then_some(PrivacyError::Lost { path });
                Ok((store, lost))
            }
            Err(other) => Err(other),
        }
    }

    /// Where the keystore lives.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keys.
    #[must_use]
    pub const fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The keys, to seal or erase; [`FileKeystore::save`] makes the changes durable.
    pub const fn keys_mut(&mut self) -> &mut Keys {
        &mut self.keys
    }

    /// Writes the keystore atomically and durably (see the module documentation). A key made
    /// for sealing must be saved before anything sealed under it is made durable; a key
    /// destroyed is gone from this file once this returns.
    ///
    /// # Errors
    /// The file system failed; the old keystore is then still in place.
    pub fn save(&self) -> Result<(), PrivacyError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PrivacyError::Io { path, source }
        };
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        let mut temp_name = self.path.file_name().unwrap_or_default().to_os_string();
        temp_name.push(".tmp");
        let temp = dir.join(temp_name);
        let write = || -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&temp)?;
            file.write_all(&encode(&self.keys))?;
            file.sync_all()
        };
        if let Err(source) = write() {
            // Best effort: a half-written temporary file holds keys and must not linger.
            let _ = fs::remove_file(&temp);
            return Err(PrivacyError::Io { path: temp, source });
        }
        fs::rename(&temp, &self.path).map_err(io(&self.path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
    }
}

/// The file's bytes.
fn encode(keys: &Keys) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 32 + 4 + keys.len() * ENTRY_LEN + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(keys.secret().as_bytes());
    // A keystore holds far fewer than 4 billion subjects: its file would be 256 GB.
    let count = u32::try_from(keys.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for (subject, key) in keys.iter() {
        out.extend_from_slice(subject.as_bytes());
        out.extend_from_slice(&key.id().0);
        out.extend_from_slice(key.as_bytes());
    }
    let hash = blake3::hash(&out);
    out.extend_from_slice(hash.as_bytes());
    out
}

/// Reads the file's bytes back, or says what is wrong with them.
fn decode(bytes: &[u8]) -> Result<Keys, &'static str> {
    let body_len = bytes
        .len()
        .checked_sub(32)
        .ok_or("shorter than its checksum")?;
    let (body, hash) = bytes.split_at(body_len);
    if blake3::hash(body).as_bytes() != hash {
        return Err("checksum does not match (torn or altered)");
    }
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("not a keystore of this version")?;
    let (secret, rest) = rest.split_first_chunk::<32>().ok_or("no domain secret")?;
    let (count, mut rest) = rest.split_first_chunk::<4>().ok_or("no subject count")?;
    let count = usize::try_from(u32::from_le_bytes(*count)).map_err(|_| "count too large")?;
    if rest.len() != count * ENTRY_LEN {
        return Err("subject count does not match the file's length");
    }
    let mut keys = Keys::new(DomainSecret::from_bytes(*secret));
    while let Some((entry, tail)) = rest.split_first_chunk::<ENTRY_LEN>() {
        let (subject, entry) = entry.split_first_chunk::<PSEUDONYM_LEN>().ok_or("entry")?;
        let (id, key) = entry.split_first_chunk::<KEY_ID_LEN>().ok_or("entry")?;
        let key: [u8; 32] = key.try_into().map_err(|_| "entry")?;
        keys.insert(
            Pseudonym::from_bytes(*subject),
            SubjectKey::from_parts(KeyId(*id), key),
        );
        rest = tail;
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Changes;

    #[test]
    fn a_saved_keystore_reads_back_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(KEYSTORE_FILE);
        let mut store = FileKeystore::create(&path).expect("create");
        let mut changes = Changes::default();
        let bob = store.keys().customer("CUST-2002");
        let sealed = store
            .keys_mut()
            .seal(bob, b"Bob", &mut changes)
            .expect("seal");
        store.save().expect("save");
        let again = FileKeystore::open(&path).expect("open");
        assert_eq!(again.keys().customer("CUST-2002"), bob);
        assert_eq!(
            again.keys().unseal(&sealed).expect("open").into_text(),
            "Bob"
        );
        assert!(!dir.path().join("keys.tmp").exists());

        let mut bytes = fs::read(&path).expect("read");
        bytes[40] ^= 1;
        fs::write(&path, &bytes).expect("write");
        assert!(matches!(
            FileKeystore::open(&path),
            Err(PrivacyError::Damaged { .. })
        ));
    }

    #[test]
    fn a_missing_keystore_is_reported_lost_when_the_log_needs_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(KEYSTORE_FILE);
        assert!(matches!(
            FileKeystore::open(&path),
            Err(PrivacyError::Lost { .. })
        ));
        let (_, lost) = FileKeystore::open_or_create(&path, false).expect("fresh");
        assert!(lost.is_none());
        fs::remove_file(&path).expect("lose it");
        let (store, lost) = FileKeystore::open_or_create(&path, true).expect("replaced");
        let lost = lost.expect("reported");
        assert!(lost.to_string().contains("[erased]"), "{lost}");
        assert!(store.keys().is_empty());
    }
}
