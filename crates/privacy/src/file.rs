//! The keystore as files in the data directory: `keys`, rewritten whole and atomically when a
//! key is destroyed (a temporary file beside it, `fsync`, rename over the old one, then `fsync`
//! of the directory, so a crash leaves the old keystore or the new, never half), and
//! `keys.journal`, to which keys made since are appended with one `fdatasync` (a new customer
//! costs a small append, not a rewrite of every key).
//!
//! `keys`: `SBKEYS\0\x01`, the domain secret (32 bytes), the epoch (u64, little endian), the
//! number of subjects (u32), each subject as pseudonym (16) + key id (16) + key (32), then the
//! BLAKE3 hash of everything before it (32), which [`FileKeystore::open`] checks.
//!
//! `keys.journal`: `SBKJRN\0\x01` and the epoch of the `keys` it extends (u64), then records
//! of pseudonym (16) + key id (16) + key (32) + the first 8 bytes of their BLAKE3 hash. A
//! journal of another epoch is stale (left by a crash between a rewrite and the journal's
//! removal) and is ignored, so a destroyed key in it never comes back; a torn last record (a
//! crash mid-append) is ignored and cut at the next append.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::PrivacyError;
use crate::keys::{Changes, Keys};
use crate::pseudonym::{DomainSecret, PSEUDONYM_LEN, Pseudonym};
use crate::seal::{KEY_ID_LEN, KeyId, SubjectKey};

/// The keystore file's first bytes: its kind and format version.
const MAGIC: &[u8; 8] = b"SBKEYS\0\x01";
/// The journal's first bytes: its kind and format version.
const JOURNAL_MAGIC: &[u8; 8] = b"SBKJRN\0\x01";
/// The journal's header: magic and epoch.
const JOURNAL_HEADER_LEN: usize = 16;
/// One subject's length in either file.
const ENTRY_LEN: usize = PSEUDONYM_LEN + KEY_ID_LEN + 32;
/// One journal record's length: an entry and its check.
const RECORD_LEN: usize = ENTRY_LEN + 8;
/// The keystore's usual name in the data directory.
pub const KEYSTORE_FILE: &str = "keys";

/// The keystore's files and the keys they hold.
#[derive(Debug)]
pub struct FileKeystore {
    /// Where `keys` lives; the journal and the temporary file are beside it.
    path: PathBuf,
    /// What they hold, as last loaded or changed.
    keys: Keys,
    /// The number of the last rewrite of `keys`; the journal must carry the same.
    epoch: u64,
    /// The journal's length up to its last whole record, when it extends this epoch.
    journal_len: Option<u64>,
}

impl FileKeystore {
    /// Makes a new keystore with a new domain secret at `path`, saved before it returns.
    ///
    /// # Errors
    /// The random source or the file system failed.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self, PrivacyError> {
        let mut store = Self {
            path: path.into(),
            keys: Keys::new(DomainSecret::generate()?),
            epoch: 0,
            journal_len: None,
        };
        store.save()?;
        Ok(store)
    }

    /// Loads the keystore at `path` and the keys its journal adds.
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
        let (keys, epoch) = decode(&bytes).map_err(|detail| PrivacyError::Damaged {
            path: path.clone(),
            detail: detail.to_owned(),
        })?;
        let mut store = Self {
            path,
            keys,
            epoch,
            journal_len: None,
        };
        store.replay_journal()?;
        Ok(store)
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

    /// The keys, to seal or erase; [`FileKeystore::commit`] makes the changes durable.
    pub const fn keys_mut(&mut self) -> &mut Keys {
        &mut self.keys
    }

    /// Makes `changes` durable: a rewrite of `keys` when a key was destroyed (the destroyed key
    /// is then in no file of the keystore), otherwise an append of the keys made to the journal.
    /// A key made for sealing must be made durable before anything sealed under it is.
    ///
    /// # Errors
    /// The file system failed; what was durable before stays so.
    pub fn commit(&mut self, changes: &Changes) -> Result<(), PrivacyError> {
        if !changes.destroyed.is_empty() {
            self.save()
        } else if !changes.made.is_empty() {
            self.append(&changes.made)
        } else {
            Ok(())
        }
    }

    /// Rewrites `keys` atomically and durably with every key held (see the module
    /// documentation), under a new epoch, and removes the journal it absorbs.
    ///
    /// # Errors
    /// The file system failed; the old keystore is then still in place.
    pub fn save(&mut self) -> Result<(), PrivacyError> {
        let dir = self.dir().to_path_buf();
        let temp = self.beside(".tmp");
        let epoch = self.epoch + 1;
        let write = || -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&temp)?;
            file.write_all(&encode(&self.keys, epoch))?;
            file.sync_all()
        };
        if let Err(source) = write() {
            // Best effort: a half-written temporary file holds keys and must not linger.
            let _ = fs::remove_file(&temp);
            return Err(PrivacyError::Io { path: temp, source });
        }
        fs::rename(&temp, &self.path).map_err(io(&self.path))?;
        sync_dir(&dir)?;
        self.epoch = epoch;
        self.journal_len = None;
        let journal = self.beside(".journal");
        match fs::remove_file(&journal) {
            Ok(()) => sync_dir(&dir),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            // Stale now (its epoch is the old one), so it is ignored; it goes at the next save.
            Err(_) => Ok(()),
        }
    }

    /// Appends the keys of `made` still held to the journal, with one `fdatasync`.
    fn append(&mut self, made: &[Pseudonym]) -> Result<(), PrivacyError> {
        let journal = self.beside(".journal");
        let mut records = Vec::with_capacity(made.len() * RECORD_LEN + JOURNAL_HEADER_LEN);
        let fresh = self.journal_len.is_none();
        if fresh {
            records.extend_from_slice(JOURNAL_MAGIC);
            records.extend_from_slice(&self.epoch.to_le_bytes());
        }
        for subject in made {
            if let Some(key) = self.keys.key(*subject) {
                let start = records.len();
                put_entry(&mut records, *subject, key);
                let check = blake3::hash(&records[start..]);
                records.extend_from_slice(&check.as_bytes()[..8]);
            }
        }
        let start = self.journal_len.unwrap_or(0);
        let write = || -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(fresh)
                .open(&journal)?;
            // Cuts a torn record left by a crash, then writes after the last whole one.
            file.set_len(start)?;
            file.seek(SeekFrom::Start(start))?;
            file.write_all(&records)?;
            file.sync_data()
        };
        write().map_err(io(&journal))?;
        if fresh {
            sync_dir(self.dir())?;
        }
        self.journal_len = Some(start + records.len() as u64);
        Ok(())
    }

    /// Adds the journal's keys, if it extends this epoch, up to its last whole record.
    fn replay_journal(&mut self) -> Result<(), PrivacyError> {
        let journal = self.beside(".journal");
        let bytes = match fs::read(&journal) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(PrivacyError::Io {
                    path: journal,
                    source,
                });
            }
        };
        let Some((header, mut rest)) = bytes.split_first_chunk::<JOURNAL_HEADER_LEN>() else {
            return Ok(());
        };
        if &header[..8] != JOURNAL_MAGIC || header[8..] != self.epoch.to_le_bytes() {
            return Ok(()); // stale or torn at its header: ignored, replaced at the next append
        }
        let mut len = JOURNAL_HEADER_LEN;
        while let Some((record, tail)) = rest.split_first_chunk::<RECORD_LEN>() {
            let (entry, check) = record.split_at(ENTRY_LEN);
            if &blake3::hash(entry).as_bytes()[..8] != check {
                break; // torn: the rest was never acknowledged
            }
            let (subject, key) = take_entry(entry).ok_or_else(|| PrivacyError::Damaged {
                path: journal.clone(),
                detail: "a record of the wrong length".into(),
            })?;
            self.keys.insert(subject, key);
            len += RECORD_LEN;
            rest = tail;
        }
        self.journal_len = Some(len as u64);
        Ok(())
    }

    /// The directory the keystore's files are in.
    fn dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."))
    }

    /// The path of `keys` with `suffix` added to its name.
    fn beside(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.dir().join(name)
    }
}

/// Maps an I/O error to [`PrivacyError::Io`] naming `path`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PrivacyError + use<> {
    let path = path.to_path_buf();
    move |source| PrivacyError::Io { path, source }
}

/// Makes a directory's entries durable.
fn sync_dir(dir: &Path) -> Result<(), PrivacyError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Writes one subject's entry.
fn put_entry(out: &mut Vec<u8>, subject: Pseudonym, key: &SubjectKey) {
    out.extend_from_slice(subject.as_bytes());
    out.extend_from_slice(&key.id().0);
    out.extend_from_slice(key.as_bytes());
}

/// Reads one subject's entry.
fn take_entry(entry: &[u8]) -> Option<(Pseudonym, SubjectKey)> {
    let entry: &[u8; ENTRY_LEN] = entry.try_into().ok()?;
    let (subject, entry) = entry.split_first_chunk::<PSEUDONYM_LEN>()?;
    let (id, key) = entry.split_first_chunk::<KEY_ID_LEN>()?;
    let key: [u8; 32] = key.try_into().ok()?;
    Some((
        Pseudonym::from_bytes(*subject),
        SubjectKey::from_parts(KeyId(*id), key),
    ))
}

/// The file's bytes.
fn encode(keys: &Keys, epoch: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 32 + 8 + 4 + keys.len() * ENTRY_LEN + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(keys.secret().as_bytes());
    out.extend_from_slice(&epoch.to_le_bytes());
    // A keystore holds far fewer than 4 billion subjects: its file would be 256 GB.
    let count = u32::try_from(keys.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for (subject, key) in keys.iter() {
        put_entry(&mut out, *subject, key);
    }
    let hash = blake3::hash(&out);
    out.extend_from_slice(hash.as_bytes());
    out
}

/// Reads the file's bytes back, or says what is wrong with them.
fn decode(bytes: &[u8]) -> Result<(Keys, u64), &'static str> {
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
    let (epoch, rest) = rest.split_first_chunk::<8>().ok_or("no epoch")?;
    let (count, rest) = rest.split_first_chunk::<4>().ok_or("no subject count")?;
    let count = usize::try_from(u32::from_le_bytes(*count)).map_err(|_| "count too large")?;
    if rest.len() != count * ENTRY_LEN {
        return Err("subject count does not match the file's length");
    }
    let mut keys = Keys::new(DomainSecret::from_bytes(*secret));
    for entry in rest.chunks_exact(ENTRY_LEN) {
        let (subject, key) = take_entry(entry).ok_or("entry")?;
        keys.insert(subject, key);
    }
    Ok((keys, u64::from_le_bytes(*epoch)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::ERASED;

    /// Whether any file in `dir` contains `needle`.
    fn dir_contains(dir: &Path, needle: &[u8]) -> bool {
        fs::read_dir(dir).expect("dir").flatten().any(|entry| {
            fs::read(entry.path())
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        })
    }

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
    fn new_keys_go_to_the_journal_and_survive_a_torn_append() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(KEYSTORE_FILE);
        let mut store = FileKeystore::create(&path).expect("create");
        let mut changes = Changes::default();
        let keys = store.keys_mut();
        let (alice, bob) = (keys.customer("CUST-1001"), keys.customer("CUST-2002"));
        let a = keys.seal(alice, b"Alice", &mut changes).expect("seal");
        let b = keys.seal(bob, b"Bob", &mut changes).expect("seal");
        let keys_file = fs::read(&path).expect("read");
        store.commit(&changes).expect("commit");
        assert_eq!(
            fs::read(&path).expect("read"),
            keys_file,
            "an append, not a rewrite"
        );

        // A crash in the middle of the next append leaves half a record.
        let journal = dir.path().join("keys.journal");
        let mut file = OpenOptions::new()
            .append(true)
            .open(&journal)
            .expect("journal");
        file.write_all(&[0xAB; RECORD_LEN / 2]).expect("torn");
        let mut store = FileKeystore::open(&path).expect("reopen");
        assert_eq!(store.keys().unseal(&a).expect("open").into_text(), "Alice");
        assert_eq!(store.keys().unseal(&b).expect("open").into_text(), "Bob");

        let mut changes = Changes::default();
        let carol = store.keys().customer("CUST-3003");
        let c = store
            .keys_mut()
            .seal(carol, b"Carol", &mut changes)
            .expect("seal");
        store
            .commit(&changes)
            .expect("commit after the torn record");
        let store = FileKeystore::open(&path).expect("reopen");
        assert_eq!(store.keys().len(), 3);
        assert_eq!(store.keys().unseal(&c).expect("open").into_text(), "Carol");
    }

    #[test]
    fn an_erased_key_is_in_no_file_and_a_stale_journal_cannot_bring_it_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(KEYSTORE_FILE);
        let mut store = FileKeystore::create(&path).expect("create");
        let mut changes = Changes::default();
        let keys = store.keys_mut();
        let (alice, bob) = (keys.customer("CUST-1001"), keys.customer("CUST-2002"));
        let a = keys.seal(alice, b"Alice", &mut changes).expect("seal");
        keys.seal(bob, b"Bob", &mut changes).expect("seal");
        store.commit(&changes).expect("commit");
        let alice_key = *store.keys().key(alice).expect("held").as_bytes();
        let bob_key = *store.keys().key(bob).expect("held").as_bytes();
        let journal = dir.path().join("keys.journal");
        let stale = fs::read(&journal).expect("journal");

        let mut changes = Changes::default();
        assert!(store.keys_mut().erase(alice, &mut changes));
        store.commit(&changes).expect("erase");
        assert!(!journal.exists(), "the rewrite absorbs the journal");
        assert!(dir_contains(dir.path(), &bob_key), "the scan's control");
        assert!(!dir_contains(dir.path(), &alice_key));

        // A crash between the rewrite and the journal's removal leaves the old journal.
        fs::write(&journal, stale).expect("stale journal");
        let store = FileKeystore::open(&path).expect("reopen");
        assert_eq!(store.keys().unseal(&a).expect("open").into_text(), ERASED);
        assert!(!store.keys().holds(alice));
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
