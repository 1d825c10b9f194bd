//! The keys of one routing domain in memory: the domain secret and one key per subject. Both
//! keystores (the file and the JetStream KV bucket) load into and save from this.

use std::collections::BTreeMap;

use crate::PrivacyError;
use crate::pseudonym::{DomainSecret, Pseudonym, SubjectKind};
use crate::seal::{SealedValue, SubjectKey};

/// What a reader sees in place of a value whose key was destroyed.
pub const ERASED: &str = "[erased]";

/// A sealed value, opened: the plaintext, or the fact that its key is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsealed {
    /// The value.
    Plain(Vec<u8>),
    /// Its subject was erased (by request or retention), or the keystore that held its key was
    /// lost: it reads as [`ERASED`].
    Erased,
}

impl Unsealed {
    /// The value as text, `[erased]` when it is gone (invalid UTF-8 is replaced, as sealed
    /// text was UTF-8 when sealed).
    #[must_use]
    pub fn into_text(self) -> String {
        match self {
            Self::Plain(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Self::Erased => ERASED.to_owned(),
        }
    }
}

/// The domain secret and the live subjects' keys.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The pseudonyms' key.
    secret: DomainSecret,
    /// Each live subject's key; an erased subject has none.
    subjects: BTreeMap<Pseudonym, SubjectKey>,
}

/// Keys made and subjects erased, to carry from the keys that changed to a keystore's copy
/// ([`Keys::delta`], [`Keys::apply`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyDelta {
    /// The keys made, with their subjects.
    pub made: Vec<(Pseudonym, SubjectKey)>,
    /// The subjects whose keys were destroyed.
    pub destroyed: Vec<Pseudonym>,
}

impl KeyDelta {
    /// Whether it changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.made.is_empty() && self.destroyed.is_empty()
    }
}

/// What changed in a [`Keys`] since the keystore last saved it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Keys made.
    pub made: Vec<Pseudonym>,
    /// Keys destroyed.
    pub destroyed: Vec<Pseudonym>,
}

impl Changes {
    /// Nothing to save.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.made.is_empty() && self.destroyed.is_empty()
    }
}

impl Keys {
    /// A domain with no subjects yet.
    #[must_use]
    pub fn new(secret: DomainSecret) -> Self {
        Self {
            secret,
            subjects: BTreeMap::new(),
        }
    }

    /// The domain secret (for the keystore only).
    #[must_use]
    pub const fn secret(&self) -> &DomainSecret {
        &self.secret
    }

    /// The pseudonym of a customer reference.
    #[must_use]
    pub fn customer(&self, reference: &str) -> Pseudonym {
        Pseudonym::of(&self.secret, SubjectKind::Customer, reference)
    }

    /// The pseudonym of a member of staff (their agent id).
    #[must_use]
    pub fn agent(&self, agent_id: &str) -> Pseudonym {
        Pseudonym::of(&self.secret, SubjectKind::Agent, agent_id)
    }

    /// The pseudonym of a contact without a customer reference.
    #[must_use]
    pub fn contact(&self, contact_id: &str) -> Pseudonym {
        Pseudonym::of(&self.secret, SubjectKind::Contact, contact_id)
    }

    /// The number of subjects holding a key.
    #[must_use]
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    /// No subject holds a key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    /// Whether `subject` holds a key.
    #[must_use]
    pub fn holds(&self, subject: Pseudonym) -> bool {
        self.subjects.contains_key(&subject)
    }

    /// The subjects holding a key and their keys, in pseudonym order.
    pub fn iter(&self) -> impl Iterator<Item = (&Pseudonym, &SubjectKey)> {
        self.subjects.iter()
    }

    /// `subject`'s key, if it holds one (for the keystores only).
    pub(crate) fn key(&self, subject: Pseudonym) -> Option<&SubjectKey> {
        self.subjects.get(&subject)
    }

    /// Puts a loaded key in place (for the keystores' loading).
    pub(crate) fn insert(&mut self, subject: Pseudonym, key: SubjectKey) {
        self.subjects.insert(subject, key);
    }

    /// Seals `plaintext` for `subject`, making its key first if it has none (recorded in
    /// `changes`: the keystore must save it before anything sealed under it is made durable).
    ///
    /// # Errors
    /// The random source failed.
    pub fn seal(
        &mut self,
        subject: Pseudonym,
        plaintext: &[u8],
        changes: &mut Changes,
    ) -> Result<SealedValue, PrivacyError> {
        if let Some(key) = self.subjects.get(&subject) {
            return key.seal(subject, plaintext);
        }
        let key = SubjectKey::generate()?;
        let sealed = key.seal(subject, plaintext)?;
        self.subjects.insert(subject, key);
        changes.made.push(subject);
        Ok(sealed)
    }

    /// `subject`'s key, made with `make` (and noted in `changes`) if it has none: the engine's
    /// [`crate::Sealer`] makes keys from its own seeded generator this way.
    pub fn key_or_make(
        &mut self,
        subject: Pseudonym,
        make: impl FnOnce() -> SubjectKey,
        changes: &mut Changes,
    ) -> &SubjectKey {
        self.subjects.entry(subject).or_insert_with(|| {
            changes.made.push(subject);
            make()
        })
    }

    /// The keys `changes` made (those still held) and the subjects it destroyed: what a
    /// keystore must save, without the rest of the keys.
    #[must_use]
    pub fn delta(&self, changes: &Changes) -> KeyDelta {
        KeyDelta {
            made: changes
                .made
                .iter()
                .filter_map(|s| self.subjects.get(s).map(|k| (*s, k.clone())))
                .collect(),
            destroyed: changes.destroyed.clone(),
        }
    }

    /// Applies a [`KeyDelta`] made by another copy of these keys, returning the changes it
    /// made here (to hand to a keystore's `commit` or `save`).
    pub fn apply(&mut self, delta: &KeyDelta) -> Changes {
        let mut changes = Changes::default();
        for (subject, key) in &delta.made {
            self.subjects.insert(*subject, key.clone());
            changes.made.push(*subject);
        }
        for subject in &delta.destroyed {
            self.erase(*subject, &mut changes);
        }
        changes
    }

    /// Opens a sealed value: [`Unsealed::Erased`] when its subject holds no key, or another key
    /// than the one it was sealed under (erased, then back again).
    ///
    /// # Errors
    /// The value's bytes were altered.
    pub fn unseal(&self, sealed: &SealedValue) -> Result<Unsealed, PrivacyError> {
        match self.subjects.get(&sealed.subject()) {
            Some(key) if key.id() == sealed.key_id() => key.open(sealed).map(Unsealed::Plain),
            _ => Ok(Unsealed::Erased),
        }
    }

    /// Destroys `subject`'s key (crypto-shredding): every value sealed under it is unreadable
    /// from now on. Returns whether there was one.
    pub fn erase(&mut self, subject: Pseudonym, changes: &mut Changes) -> bool {
        let had = self.subjects.remove(&subject).is_some();
        if had {
            changes.destroyed.push(subject);
        }
        had
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_erased_subject_reads_as_erased_even_when_it_comes_back() {
        let mut keys = Keys::new(DomainSecret::from_bytes([1; 32]));
        let mut changes = Changes::default();
        let alice = keys.customer("CUST-1001");
        let old = keys
            .seal(alice, b"Alice Example", &mut changes)
            .expect("seal");
        assert_eq!(changes.made, vec![alice]);
        assert_eq!(
            keys.unseal(&old).expect("open").into_text(),
            "Alice Example"
        );
        assert!(keys.erase(alice, &mut changes));
        assert!(!keys.erase(alice, &mut changes));
        assert_eq!(keys.unseal(&old).expect("open"), Unsealed::Erased);
        // Back again: a new key; the old value stays erased, the new one reads.
        let new = keys.seal(alice, b"Alice E.", &mut changes).expect("seal");
        assert_eq!(keys.unseal(&old).expect("open").into_text(), ERASED);
        assert_eq!(keys.unseal(&new).expect("open").into_text(), "Alice E.");
        assert_eq!(changes.made.len(), 2);
        assert_eq!(changes.destroyed, vec![alice]);
    }

    #[test]
    fn debug_output_shows_no_key_or_secret() {
        let secret = [0x5A; 32];
        let mut keys = Keys::new(DomainSecret::from_bytes(secret));
        let subject = keys.customer("CUST-1001");
        keys.seal(subject, b"x", &mut Changes::default())
            .expect("seal");
        let key = *keys.key(subject).expect("made").as_bytes();
        let shown = format!("{keys:?}");
        assert!(shown.contains("DomainSecret(..)"), "{shown}");
        assert!(!shown.contains(&format!("{secret:?}")), "{shown}");
        assert!(!shown.contains(&format!("{key:?}")), "{shown}");
        assert!(
            !shown.contains(format!("{:?}", &key[..4]).trim_end_matches(']')),
            "{shown}"
        );
    }
}
