//! The event log's payload: one event, postcard-encoded, in a versioned envelope.
//!
//! # Format
//!
//! A payload is postcard's encoding of [`StoredEvent`]. Postcard writes an enum's variant
//! *index* as a varint and then the variant's content, so the first byte of every payload is the
//! format version: `0x00` for [`StoredEvent::V1`], `0x01` for a future `V2`, and so on. The
//! content is the version's [`EventDto`](crate::event::v1::EventDto), whose structs postcard
//! writes field by field in declaration order, with no names and no lengths except for strings
//! and lists. A payload must be consumed exactly: trailing bytes are an error.
//!
//! # The versioning rule
//!
//! Postcard encodes variants by index and fields by position. So in a version that has been
//! written to a log (all of [`crate::event::v1`] today), **no variant and no field may ever be
//! removed, reordered, renamed in its JSON spelling, or change type, and nothing may be inserted
//! between them**. Even appending is done only through a new version: a field appended to a
//! struct would be read by an older build as the start of the next value (a silent misreading),
//! and a variant appended to an enum would be reported by an older build as corruption deep in
//! the log; under a new version an older build stops at once with
//! [`StoredError::UnknownVersion`]: "written by a newer build". Old versions stay readable for
//! good: logs are kept for years and replaying them must rebuild the same state.
//!
//! To add version 2:
//!
//! 1. Leave `event/v1.rs` exactly as it is, conversions to the core aside (they may be deleted
//!    once `upcast` exists, since v1 events then reach the core only through v2).
//! 2. Copy it to `event/v2.rs`, make the change there, and re-export v2's types from
//!    [`crate::event`] as the current ones.
//! 3. Append `V2(v2::EventDto<'a>)` to [`StoredEvent`] (never insert it before `V1`), add its arm
//!    to the version dispatch in `read_stored`, and make [`encode_event`] write `V2`.
//! 4. Write `v1 → v2` in [`upcast`], the one place where old versions become the current one.
//! 5. Keep the golden file `tests/fixtures/events-v1.bin` and its test (it now proves v1 payloads
//!    still decode through `upcast`), and add `events-v2.bin` beside it.
//!
//! The JSON form ([`crate::json`]) always uses the current version; it is published, not stored.

use serde::Serialize;
use switchboard_core::Event;

use crate::event::{self, DtoError, v1};

/// The stored envelope. The variant index is the format version; see the module docs.
#[derive(Debug, Serialize)]
pub enum StoredEvent<'a> {
    /// Version 1 (index 0).
    V1(v1::EventDto<'a>),
}

/// The variant index of [`StoredEvent::V1`]: the first varint of a version 1 payload.
const V1: u32 = 0;

/// Why a stored payload could not be read as an event.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    /// The payload has no bytes at all.
    #[error("empty event payload")]
    Empty,
    /// The payload's version is not one this build knows (written by a newer build, or not an
    /// event at all).
    #[error("unknown event format version index {version}")]
    UnknownVersion {
        /// The variant index found.
        version: u32,
    },
    /// The payload does not decode as an event of its version (truncated or corrupt).
    #[error("malformed version {version} event payload")]
    Malformed {
        /// The variant index of the version being read.
        version: u32,
        /// What postcard said.
        #[source]
        source: postcard::Error,
    },
    /// The version prefix itself is not a valid varint.
    #[error("malformed event format version: {0}")]
    MalformedVersion(#[source] postcard::Error),
    /// The event decoded but bytes were left over: the payload is not what was written.
    #[error("{count} bytes left over after the event")]
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
    /// The event decoded but its values are not valid for the core.
    #[error("invalid event: {0}")]
    Invalid(#[from] DtoError),
}

/// Encodes an event as a log payload, in the current version.
#[must_use]
pub fn encode_event(event: &Event) -> Vec<u8> {
    let stored = StoredEvent::V1(v1::EventDto::from(event));
    // Cannot fail: postcard fails only for sequences of unknown length (every list here is a
    // `Vec`) and for errors a type raises itself (`Time` raises none in binary formats).
    postcard::to_allocvec(&stored).expect("every event DTO has a postcard encoding")
}

/// Decodes a log payload written by [`encode_event`] of this or any earlier version.
///
/// # Errors
/// A [`StoredError`] for an empty, truncated, corrupt or unknown-version payload, or for an event
/// whose values the core cannot take. Never panics, whatever the bytes.
pub fn decode_event(bytes: &[u8]) -> Result<Event, StoredError> {
    let current = upcast(read_stored(bytes)?);
    Ok(Event::try_from(current)?)
}

/// Reads the envelope: dispatches on the version prefix and requires every byte to be used.
fn read_stored(bytes: &[u8]) -> Result<StoredEvent<'static>, StoredError> {
    if bytes.is_empty() {
        return Err(StoredError::Empty);
    }
    let (version, rest) =
        postcard::take_from_bytes::<u32>(bytes).map_err(StoredError::MalformedVersion)?;
    let malformed = |source| StoredError::Malformed { version, source };
    let (stored, rest) = match version {
        V1 => {
            let (dto, rest) =
                postcard::take_from_bytes::<v1::EventDto<'static>>(rest).map_err(malformed)?;
            (StoredEvent::V1(dto), rest)
        }
        other => return Err(StoredError::UnknownVersion { version: other }),
    };
    if !rest.is_empty() {
        return Err(StoredError::TrailingBytes { count: rest.len() });
    }
    Ok(stored)
}

/// Brings a stored event of any version to the current version: the one place where old
/// versions are upcast. Version 1 is current, so today this is the identity.
#[must_use]
pub fn upcast(stored: StoredEvent<'_>) -> event::EventDto<'_> {
    match stored {
        StoredEvent::V1(event) => event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::{EventKind, Timestamp};

    fn ready(at: u64) -> Event {
        Event {
            at: Timestamp::from_millis(at),
            kind: EventKind::AgentReady {
                agent: "ann".into(),
            },
        }
    }

    #[test]
    fn the_first_byte_is_the_version_index() {
        let bytes = encode_event(&ready(5));
        // V1, at = 5, variant 1 (agent_ready), "ann".
        assert_eq!(bytes, [0x00, 0x05, 0x01, 0x03, b'a', b'n', b'n']);
        assert_eq!(decode_event(&bytes).expect("decodes"), ready(5));
    }

    #[test]
    fn an_unknown_version_is_named() {
        let mut bytes = encode_event(&ready(5));
        bytes[0] = 0x01;
        assert!(matches!(
            decode_event(&bytes),
            Err(StoredError::UnknownVersion { version: 1 })
        ));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode_event(&ready(5));
        bytes.push(0);
        assert!(matches!(
            decode_event(&bytes),
            Err(StoredError::TrailingBytes { count: 1 })
        ));
    }

    #[test]
    fn empty_and_truncated_payloads_are_errors() {
        assert!(matches!(decode_event(&[]), Err(StoredError::Empty)));
        let bytes = encode_event(&ready(1_795_424_400_000));
        for len in 1..bytes.len() {
            assert!(
                matches!(
                    decode_event(&bytes[..len]),
                    Err(StoredError::Malformed { version: 0, .. })
                ),
                "prefix of {len} bytes"
            );
        }
        assert!(matches!(
            decode_event(&[0xff]),
            Err(StoredError::MalformedVersion(_))
        ));
    }
}
