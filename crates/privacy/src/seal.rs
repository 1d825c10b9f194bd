//! Sealing: XChaCha20-Poly1305 under a subject's key, with a random 192-bit nonce per value
//! (keys come from the operating system's random source, nonces from the thread's generator).
//!
//! A sealed value's stored form is self-describing, so any reader holding the keystore can open
//! it without context: `[version 1][subject pseudonym 16][key id 16][nonce 24][ciphertext + tag]`.
//! The header is the AEAD's associated data, so a sealed value cannot be moved to another
//! subject or key without failing its tag. The key id is drawn at random when the key is made:
//! a customer erased and then back again gets a new key, and values sealed under the old one
//! read as erased rather than as damaged.

use std::fmt;

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::PrivacyError;
use crate::pseudonym::{PSEUDONYM_LEN, Pseudonym};

/// The stored form's version byte.
pub const SEALED_VERSION: u8 = 1;
/// Length of a key id.
pub const KEY_ID_LEN: usize = 16;
/// Length of the nonce.
pub const NONCE_LEN: usize = 24;
/// Length of the header (version, subject, key id, nonce): the associated data is its first
/// `1 + 16 + 16` bytes.
const HEADER_LEN: usize = 1 + PSEUDONYM_LEN + KEY_ID_LEN + NONCE_LEN;
/// Length of the authentication tag.
const TAG_LEN: usize = 16;
/// What sealing adds to a value's length.
pub const SEALED_OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// Names one key of one subject, drawn at random when the key is made.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

/// A subject's key: 256 bits for XChaCha20-Poly1305. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectKey {
    /// Which key this is.
    pub(crate) id: KeyId,
    /// The key itself.
    pub(crate) bytes: [u8; 32],
}

impl SubjectKey {
    /// Draws a new key and key id from the operating system's random source.
    ///
    /// # Errors
    /// The random source failed.
    pub fn generate() -> Result<Self, PrivacyError> {
        let mut id = [0_u8; KEY_ID_LEN];
        let mut bytes = [0_u8; 32];
        OsRng
            .try_fill_bytes(&mut id)
            .and_then(|()| OsRng.try_fill_bytes(&mut bytes))
            .map_err(|e| PrivacyError::Random {
                detail: e.to_string(),
            })?;
        Ok(Self {
            id: KeyId(id),
            bytes,
        })
    }

    /// A key from its stored form.
    #[must_use]
    pub const fn from_parts(id: KeyId, bytes: [u8; 32]) -> Self {
        Self { id, bytes }
    }

    /// The key's id.
    #[must_use]
    pub const fn id(&self) -> KeyId {
        self.id
    }

    /// The key's bytes (for the keystore only).
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Seals `plaintext` for `subject` under this key.
    ///
    /// # Errors
    /// The random source failed to give a nonce.
    pub fn seal(&self, subject: Pseudonym, plaintext: &[u8]) -> Result<SealedValue, PrivacyError> {
        let mut nonce = [0_u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
        self.seal_with_nonce(subject, plaintext, nonce)
    }

    /// Seals `plaintext` under this key with the nonce given. The caller owns the nonce's
    /// uniqueness: a fresh random one per value (the engine's [`crate::Sealer`] draws them from
    /// its seeded generator), or one derived from the plaintext itself where equal plaintexts
    /// must seal equal (a customer's reference, see [`crate::Sealer`]).
    ///
    /// # Errors
    /// [`PrivacyError::Random`] when the cipher refuses (a value too long for it).
    pub fn seal_with_nonce(
        &self,
        subject: Pseudonym,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<SealedValue, PrivacyError> {
        let nonce = XNonce::from(nonce);
        let mut bytes = Vec::with_capacity(plaintext.len() + SEALED_OVERHEAD);
        bytes.push(SEALED_VERSION);
        bytes.extend_from_slice(subject.as_bytes());
        bytes.extend_from_slice(&self.id.0);
        bytes.extend_from_slice(&nonce);
        let cipher = XChaCha20Poly1305::new((&self.bytes).into());
        let aad = &bytes[..1 + PSEUDONYM_LEN + KEY_ID_LEN];
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| PrivacyError::Random {
                detail: "the cipher refused to seal (a value too long)".into(),
            })?;
        bytes.extend_from_slice(&sealed);
        Ok(SealedValue(bytes))
    }

    /// Opens a value sealed under this key.
    ///
    /// # Errors
    /// The value was sealed under another key, or its bytes were altered.
    pub fn open(&self, sealed: &SealedValue) -> Result<Vec<u8>, PrivacyError> {
        let tampered = || PrivacyError::Tampered {
            subject: sealed.subject().to_string(),
        };
        if sealed.key_id() != self.id {
            return Err(tampered());
        }
        let bytes = &sealed.0;
        let cipher = XChaCha20Poly1305::new((&self.bytes).into());
        let nonce = XNonce::from_slice(&bytes[1 + PSEUDONYM_LEN + KEY_ID_LEN..HEADER_LEN]);
        let aad = &bytes[..1 + PSEUDONYM_LEN + KEY_ID_LEN];
        cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &bytes[HEADER_LEN..],
                    aad,
                },
            )
            .map_err(|_| tampered())
    }
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A sealed value in its stored form (see the module documentation). Opaque to the core.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SealedValue(Vec<u8>);

impl SealedValue {
    /// Checks and wraps stored bytes.
    ///
    /// # Errors
    /// Too short to hold a header and a tag, or of an unknown version.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, PrivacyError> {
        if bytes.len() < SEALED_OVERHEAD {
            return Err(PrivacyError::Malformed {
                detail: "shorter than a header and a tag",
            });
        }
        if bytes[0] != SEALED_VERSION {
            return Err(PrivacyError::Malformed {
                detail: "unknown version",
            });
        }
        Ok(Self(bytes))
    }

    /// The stored bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whose value this is.
    #[must_use]
    pub fn subject(&self) -> Pseudonym {
        let mut bytes = [0_u8; PSEUDONYM_LEN];
        bytes.copy_from_slice(&self.0[1..=PSEUDONYM_LEN]);
        Pseudonym::from_bytes(bytes)
    }

    /// The key it was sealed under.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        let mut bytes = [0_u8; KEY_ID_LEN];
        bytes.copy_from_slice(&self.0[1 + PSEUDONYM_LEN..1 + PSEUDONYM_LEN + KEY_ID_LEN]);
        KeyId(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(n: u8) -> Pseudonym {
        Pseudonym::from_bytes([n; PSEUDONYM_LEN])
    }

    #[test]
    fn a_sealed_value_opens_only_under_its_key_and_subject() {
        let key = SubjectKey::generate().expect("key");
        let other = SubjectKey::generate().expect("key");
        let plaintext = b"07700 900123";
        let sealed = key.seal(subject(1), plaintext).expect("seal");
        assert_eq!(sealed.as_bytes().len(), plaintext.len() + SEALED_OVERHEAD);
        assert!(
            !sealed
                .as_bytes()
                .windows(plaintext.len())
                .any(|w| w == plaintext)
        );
        assert_eq!(key.open(&sealed).expect("open"), plaintext);
        assert!(matches!(
            other.open(&sealed),
            Err(PrivacyError::Tampered { .. })
        ));
        // Moving the value to another subject breaks the tag.
        let mut moved = sealed.as_bytes().to_vec();
        moved[1] ^= 1;
        let moved = SealedValue::from_bytes(moved).expect("well formed");
        assert!(matches!(
            key.open(&moved),
            Err(PrivacyError::Tampered { .. })
        ));
        // Two seals of one value differ (random nonces).
        assert_ne!(key.seal(subject(1), plaintext).expect("seal"), sealed);
    }

    #[test]
    fn malformed_bytes_are_refused() {
        assert!(SealedValue::from_bytes(vec![1; 10]).is_err());
        assert!(SealedValue::from_bytes(vec![9; SEALED_OVERHEAD]).is_err());
    }
}
