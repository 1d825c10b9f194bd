//! Keyed pseudonyms: what the routing core sees instead of a customer's reference. Equal
//! references give equal pseudonyms under one domain secret, so "last agent", "case owner",
//! duplicate refusal and the customer query work on them; without the secret a pseudonym
//! cannot be turned back into the reference, nor checked against a guessed one.

use std::fmt;

use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;

use crate::PrivacyError;

/// Length of a pseudonym in bytes (128 bits: no two of a council's customers collide).
pub const PSEUDONYM_LEN: usize = 16;

/// The domain secret: the key of every pseudonym of one routing domain. It lives in the
/// keystore beside the subjects' keys and is never written to the log.
#[derive(Clone, PartialEq, Eq)]
pub struct DomainSecret([u8; 32]);

impl DomainSecret {
    /// Draws a new secret from the operating system's random source.
    ///
    /// # Errors
    /// The random source failed.
    pub fn generate() -> Result<Self, PrivacyError> {
        let mut bytes = [0_u8; 32];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| PrivacyError::Random {
                detail: e.to_string(),
            })?;
        Ok(Self(bytes))
    }

    /// The secret from its stored bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The stored bytes (for the keystore only).
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DomainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DomainSecret(..)")
    }
}

/// Whom a key and its sealed values belong to: a customer (by reference) or, when the contact
/// gives no reference, the contact itself; or a member of staff (by agent id), for the free text
/// they give about themselves (not-ready and offer-rejection reasons: employee data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// A customer, named by the council's reference.
    Customer,
    /// A contact without a customer reference, named by its contact id.
    Contact,
    /// A member of staff, named by their agent id.
    Agent,
}

/// A keyed pseudonym: BLAKE3 in keyed mode under the domain secret, over the subject's kind and
/// name, cut to [`PSEUDONYM_LEN`] bytes. Printed as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym([u8; PSEUDONYM_LEN]);

impl Pseudonym {
    /// The pseudonym of `name` (a customer reference or a contact id) under `secret`.
    #[must_use]
    pub fn of(secret: &DomainSecret, kind: SubjectKind, name: &str) -> Self {
        let mut hasher = blake3::Hasher::new_keyed(secret.as_bytes());
        // The kind goes first, so a customer and a contact of the same name differ.
        hasher.update(match kind {
            SubjectKind::Customer => b"customer\0",
            SubjectKind::Contact => b"contact\0\0",
            SubjectKind::Agent => b"agent\0\0\0\0",
        });
        hasher.update(name.as_bytes());
        let mut bytes = [0_u8; PSEUDONYM_LEN];
        bytes.copy_from_slice(&hasher.finalize().as_bytes()[..PSEUDONYM_LEN]);
        Self(bytes)
    }

    /// The pseudonym from its stored bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; PSEUDONYM_LEN]) -> Self {
        Self(bytes)
    }

    /// The stored bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; PSEUDONYM_LEN] {
        &self.0
    }

    /// Reads the hex form written by `Display`.
    #[must_use]
    pub fn parse_hex(text: &str) -> Option<Self> {
        let bytes = hex_decode::<PSEUDONYM_LEN>(text)?;
        Some(Self(bytes))
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({self})")
    }
}

/// Decodes exactly `N` bytes of lowercase or uppercase hex.
pub(crate) fn hex_decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.as_bytes();
    if text.len() != N * 2 {
        return None;
    }
    let mut out = [0_u8; N];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_references_give_equal_pseudonyms_under_one_secret_only() {
        let secret = DomainSecret::from_bytes([7; 32]);
        let other = DomainSecret::from_bytes([8; 32]);
        let a = Pseudonym::of(&secret, SubjectKind::Customer, "CUST-1001");
        assert_eq!(
            a,
            Pseudonym::of(&secret, SubjectKind::Customer, "CUST-1001")
        );
        assert_ne!(
            a,
            Pseudonym::of(&secret, SubjectKind::Customer, "CUST-1002")
        );
        assert_ne!(a, Pseudonym::of(&other, SubjectKind::Customer, "CUST-1001"));
        assert_ne!(a, Pseudonym::of(&secret, SubjectKind::Contact, "CUST-1001"));
        assert_eq!(Pseudonym::parse_hex(&a.to_string()), Some(a));
        assert!(!a.to_string().contains("1001"));
        assert_eq!(Pseudonym::parse_hex("zz"), None);
    }
}
