//! The event log's payload: one event, postcard-encoded, in a versioned envelope.
//!
//! # Format
//!
//! A payload is postcard's encoding of [`StoredEvent`]. Postcard writes an enum's variant
//! *index* as a varint and then the variant's content, so the first byte of every payload is the
//! format version: `0x00` for [`StoredEvent::V1`], `0x01` for [`StoredEvent::V2`], `0x02` for
//! [`StoredEvent::V3`] (written today), and so on. The content is the version's `EventDto`
//! ([`v1::EventDto`], [`v2::EventDto`], [`v3::EventDto`]), whose structs postcard writes field by field in declaration order, with no
//! names and no lengths except for strings and lists. A payload must be consumed exactly:
//! trailing bytes are an error.
//!
//! Version 2 holds version 1's kinds unchanged inside its first variant (`Base`, index 0), so a
//! version 2 payload of an old kind is `0x01`, the instant, `0x00`, then the version 1 kind's
//! bytes; the kinds added in version 2 follow at indexes 1 to 5 (see [`crate::event::v2`]).
//! Version 3 holds version 2's kinds the same way (`0x02`, the instant, `0x00`, then the
//! version 2 kind's bytes) and adds `contact_unservable` at index 1 (see [`crate::event::v3`]).
//!
//! # The versioning rule
//!
//! Postcard encodes variants by index and fields by position. So in a version that has been
//! written to a log (all of [`crate::event::v1`], [`crate::event::v2`] and [`crate::event::v3`]
//! today), **no variant
//! and no field may ever be removed, reordered, renamed in its JSON spelling, or change type, and
//! nothing may be inserted between them**. Even appending is done only through a new version: a
//! field appended to a struct would be read by an older build as the start of the next value (a
//! silent misreading), and a variant appended to an enum would be reported by an older build as
//! corruption deep in the log; under a new version an older build stops at once with
//! [`StoredError::UnknownVersion`]: "written by a newer build". Old versions stay readable for
//! good: logs are kept for years and replaying them must rebuild the same state.
//!
//! To add version 4 (as versions 2 and 3 were added):
//!
//! 1. Leave `event/v1.rs`, `event/v2.rs` and `event/v3.rs` exactly as they are, conversions to
//!    and from the core aside.
//! 2. Write `event/v4.rs` without copying: its kind enum's first variant is
//!    `Base(v3::EventKindDto)`, holding every older kind in its exact form, and the new kinds
//!    follow as variants of their own. The conversion from the core asks the older version first
//!    and converts only what it hands back (v1's [`NotInV1`](crate::event::v1::NotInV1) and
//!    v2's [`NotInV2`](crate::event::v2::NotInV2) show how: a typed hand-back, so there is no
//!    fallback arm and no panic). Re-export v4's types from [`crate::event`] as the current
//!    ones.
//! 3. Append `V4(v4::EventDto<'a>)` to [`StoredEvent`] (never insert it before the others), add
//!    its arm to the version dispatch in `read_stored`, and make [`encode_event`] write `V4`.
//! 4. Extend [`upcast`], the one place where old versions become the current one: an older
//!    event is wrapped in `Base`.
//! 5. Keep the golden files `tests/fixtures/events-v1.bin` to `events-v3.bin` and their tests
//!    (they prove old payloads still decode through `upcast`), and add `events-v4.bin`.
//!
//! The JSON form ([`crate::json`]) always uses the current version; it is published, not stored.

use serde::Serialize;
use switchboard_core::Event;

use crate::event::{self, DtoError, v1, v2, v3};

/// The stored envelope. The variant index is the format version; see the module docs.
#[derive(Debug, Serialize)]
pub enum StoredEvent<'a> {
    /// Version 1 (index 0): the first format, read but no longer written.
    V1(v1::EventDto<'a>),
    /// Version 2 (index 1): version 1's kinds plus those of opening hours, working-day clocks
    /// and complaints. Read but no longer written.
    V2(v2::EventDto<'a>),
    /// Version 3 (index 2): version 2's kinds plus `contact_unservable`. Written today.
    V3(v3::EventDto<'a>),
}

/// The variant index of [`StoredEvent::V1`]: the first varint of a version 1 payload.
const V1: u32 = 0;
/// The variant index of [`StoredEvent::V2`].
const V2: u32 = 1;
/// The variant index of [`StoredEvent::V3`].
const V3: u32 = 2;

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
    let stored = StoredEvent::V3(v3::EventDto::from(event));
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
    let (stored, rest) = match version {
        V1 => take(version, rest, StoredEvent::V1)?,
        V2 => take(version, rest, StoredEvent::V2)?,
        V3 => take(version, rest, StoredEvent::V3)?,
        other => return Err(StoredError::UnknownVersion { version: other }),
    };
    if !rest.is_empty() {
        return Err(StoredError::TrailingBytes { count: rest.len() });
    }
    Ok(stored)
}

/// Reads one version's DTO from the bytes after the version prefix, wrapped in its envelope.
fn take<T: serde::de::DeserializeOwned>(
    version: u32,
    bytes: &[u8],
    wrap: impl FnOnce(T) -> StoredEvent<'static>,
) -> Result<(StoredEvent<'static>, &[u8]), StoredError> {
    postcard::take_from_bytes::<T>(bytes)
        .map(|(dto, rest)| (wrap(dto), rest))
        .map_err(|source| StoredError::Malformed { version, source })
}

/// Brings a stored event of any version to the current version (3): the one place where old
/// versions are upcast. An older event is wrapped, unchanged, in the next version's `Base`.
#[must_use]
pub fn upcast(stored: StoredEvent<'_>) -> event::EventDto<'_> {
    match stored {
        StoredEvent::V1(event) => v3::EventDto {
            at: event.at,
            kind: v3::EventKindDto::Base(v2::EventKindDto::Base(event.kind)),
        },
        StoredEvent::V2(event) => v3::EventDto {
            at: event.at,
            kind: v3::EventKindDto::Base(event.kind),
        },
        StoredEvent::V3(event) => event,
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
        // V3, at = 5, Base (0) of v3, Base (0) of v2, v1 variant 1 (agent_ready), "ann".
        assert_eq!(
            bytes,
            [0x02, 0x05, 0x00, 0x00, 0x01, 0x03, b'a', b'n', b'n']
        );
        assert_eq!(decode_event(&bytes).expect("decodes"), ready(5));
    }

    #[test]
    fn a_version_2_payload_is_upcast() {
        // V2, at = 5, Base (0), v1 variant 1 (agent_ready), "ann".
        let bytes = [0x01, 0x05, 0x00, 0x01, 0x03, b'a', b'n', b'n'];
        assert_eq!(decode_event(&bytes).expect("decodes"), ready(5));
    }

    #[test]
    fn a_version_1_payload_is_upcast() {
        // V1, at = 5, variant 1 (agent_ready), "ann": version 2's bytes without `Base`.
        let bytes = [0x00, 0x05, 0x01, 0x03, b'a', b'n', b'n'];
        assert_eq!(decode_event(&bytes).expect("decodes"), ready(5));
    }

    #[test]
    fn an_unknown_version_is_named() {
        let mut bytes = encode_event(&ready(5));
        bytes[0] = 0x03;
        assert!(matches!(
            decode_event(&bytes),
            Err(StoredError::UnknownVersion { version: 3 })
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
                    Err(StoredError::Malformed { version: 2, .. })
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
