//! The event log's payload: one event, and optionally an idempotency receipt, postcard-encoded
//! in a versioned envelope.
//!
//! # Format
//!
//! A payload is postcard's encoding of [`StoredEvent`]. Postcard writes an enum's variant
//! *index* as a varint and then the variant's content, so the first byte of every payload is the
//! format version: `0x00` for [`StoredEvent::V1`], `0x01` for [`StoredEvent::V2`], `0x02` for
//! [`StoredEvent::V3`], `0x03` for [`StoredEvent::V4`], `0x04` for [`StoredEvent::V5`] (written
//! today), and so on. The content of
//! versions 1 to 3 is the version's `EventDto` ([`v1::EventDto`], [`v2::EventDto`],
//! [`v3::EventDto`]), whose structs postcard writes field by field in declaration order, with no
//! names and no lengths except for strings and lists. A payload must be consumed exactly:
//! trailing bytes are an error.
//!
//! Version 2 holds version 1's kinds unchanged inside its first variant (`Base`, index 0), so a
//! version 2 payload of an old kind is `0x01`, the instant, `0x00`, then the version 1 kind's
//! bytes; the kinds added in version 2 follow at indexes 1 to 5 (see [`crate::event::v2`]).
//! Version 3 holds version 2's kinds the same way (`0x02`, the instant, `0x00`, then the
//! version 2 kind's bytes) and adds `contact_unservable` at index 1 (see [`crate::event::v3`]).
//!
//! Version 4 changes the envelope, not the events: its content is a [`RecordV4`], an optional
//! idempotency receipt ([`ReceiptDto`]: the scoped key and the first reply, see
//! [`crate::receipt`]) **and then** a version 3 event, unchanged. A record without a receipt is
//! `0x03 0x00` then the version 3 event's bytes after its version byte; one with a receipt is
//! `0x03 0x01`, the receipt, then the event. The receipt comes first so that a reader that wants
//! only receipts (the engine's recovery, [`decode_receipt`]) reads two bytes of a record that has
//! none and never decodes an event. The receipt is not part of the event: [`decode_event`]
//! skips it, replay ignores it and the events feed never publishes it.
//!
//! Version 5 keeps version 4's envelope ([`RecordV5`]: the receipt, then the event). Its
//! receipt ([`crate::receipt::ReceiptV5Dto`]) is version 4's followed by the reply's `erasure`
//! (an option: `0x00` when absent), and its event is a version 5 event, which holds version 3's kinds in its `Base` (index 0) and adds
//! `personal_data_erasure_deferred` (1) and `personal_data_erased` (2) (see
//! [`crate::event::v5`]). A record of an old kind without a receipt is `0x04 0x00`, the
//! instant, `0x00`, then the version 3 kind's bytes.
//!
//! # The versioning rule
//!
//! Postcard encodes variants by index and fields by position. So in a version that has been
//! written to a log (all of [`crate::event::v1`], [`crate::event::v2`], [`crate::event::v3`] and
//! [`RecordV4`] with [`ReceiptDto`] today), **no variant
//! and no field may ever be removed, reordered, renamed in its JSON spelling, or change type, and
//! nothing may be inserted between them**. Even appending is done only through a new version: a
//! field appended to a struct would be read by an older build as the start of the next value (a
//! silent misreading), and a variant appended to an enum would be reported by an older build as
//! corruption deep in the log; under a new version an older build stops at once with
//! [`StoredError::UnknownVersion`]: "written by a newer build". Old versions stay readable for
//! good: logs are kept for years and replaying them must rebuild the same state.
//!
//! To add version 5 with new event kinds (as versions 2 and 3 were added):
//!
//! 1. Leave `event/v1.rs`, `event/v2.rs`, `event/v3.rs` and `receipt.rs`'s DTOs exactly as they
//!    are, conversions to and from the core aside.
//! 2. Write `event/v5.rs` (an event module takes the number of the stored version that brings
//!    it; there is no `event/v4.rs`, as version 4 changed only the envelope) without copying:
//!    its kind enum's first variant is `Base(v3::EventKindDto)`, holding every older kind in its
//!    exact form, and the new kinds follow as variants of their own. The conversion from the core
//!    asks the older version first and converts only what it hands back (v1's
//!    [`NotInV1`](crate::event::v1::NotInV1) and v2's [`NotInV2`](crate::event::v2::NotInV2)
//!    show how: a typed hand-back, so there is no fallback arm and no panic). Re-export its types
//!    from [`crate::event`] as the current ones.
//! 3. Append `V5(RecordV5<'a>)`, a receipt then a `v5::EventDto`, to [`StoredEvent`] (never
//!    insert it before the others), add its arm to the version dispatch in `read_stored` and
//!    `decode_receipt`, and make [`encode_record`] write `V5`. A receipt whose reply grew a field
//!    gets a new receipt DTO the same way (the conversions in [`crate::receipt`] stop compiling
//!    until it has one).
//! 4. Extend [`upcast_record`], the one place where old versions become the current one: an
//!    older event is wrapped in `Base`, an older receipt converted.
//! 5. Keep the golden files `tests/fixtures/events-v1.bin` to `events-v4.bin` and their tests
//!    (they prove old payloads still decode through `upcast_record`), and add `events-v5.bin`.
//!
//! The JSON form ([`crate::json`]) always uses the current version; it is published, not stored.

use serde::{Deserialize, Serialize};
use switchboard_core::Event;

use crate::event::{self, DtoError, v1, v2, v3, v5};
use crate::receipt::{Receipt, ReceiptDto, ReceiptV5Dto};

/// The stored envelope. The variant index is the format version; see the module docs.
#[derive(Debug, Serialize)]
pub enum StoredEvent<'a> {
    /// Version 1 (index 0): the first format, read but no longer written.
    V1(v1::EventDto<'a>),
    /// Version 2 (index 1): version 1's kinds plus those of opening hours, working-day clocks
    /// and complaints. Read but no longer written.
    V2(v2::EventDto<'a>),
    /// Version 3 (index 2): version 2's kinds plus `contact_unservable`. Read but no longer
    /// written.
    V3(v3::EventDto<'a>),
    /// Version 4 (index 3): an optional idempotency receipt, then a version 3 event. Read but
    /// no longer written.
    V4(RecordV4<'a>),
    /// Version 5 (index 4): an optional idempotency receipt, then a version 5 event (version 3's
    /// kinds plus the erasure of personal data). Written today.
    V5(RecordV5<'a>),
}

/// The content of a version 4 payload: the receipt first (see the module docs for why), then
/// the event. **Frozen.**
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordV4<'a> {
    /// The idempotency receipt of the command whose last event this is, if it carried a key.
    #[serde(borrow)]
    pub receipt: Option<ReceiptDto<'a>>,
    /// The event, in version 3's form.
    #[serde(borrow)]
    pub event: v3::EventDto<'a>,
}

/// The content of a version 5 payload: as [`RecordV4`], with a version 5 event. **Frozen.**
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordV5<'a> {
    /// The idempotency receipt of the command whose last event this is, if it carried a key:
    /// version 4's, then the reply's `erasure`.
    #[serde(borrow)]
    pub receipt: Option<ReceiptV5Dto<'a>>,
    /// The event, in version 5's form.
    #[serde(borrow)]
    pub event: v5::EventDto<'a>,
}

/// The variant index of [`StoredEvent::V1`]: the first varint of a version 1 payload.
const V1: u32 = 0;
/// The variant index of [`StoredEvent::V2`].
const V2: u32 = 1;
/// The variant index of [`StoredEvent::V3`].
const V3: u32 = 2;
/// The variant index of [`StoredEvent::V4`].
const V4: u32 = 3;
/// The variant index of [`StoredEvent::V5`].
const V5: u32 = 4;

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

/// Encodes an event as a log payload, in the current version, with no receipt: the same as
/// [`encode_record`]`(event, None)`.
#[must_use]
pub fn encode_event(event: &Event) -> Vec<u8> {
    encode_record(event, None)
}

/// Encodes a log record's payload in the current version: the event, and the idempotency
/// receipt of the command whose last event it is, if that command carried a key.
#[must_use]
pub fn encode_record(event: &Event, receipt: Option<&Receipt>) -> Vec<u8> {
    let stored = StoredEvent::V5(RecordV5 {
        receipt: receipt.map(ReceiptV5Dto::from),
        event: v5::EventDto::from(event),
    });
    // Cannot fail: postcard fails only for sequences of unknown length (every list here is a
    // `Vec`) and for errors a type raises itself (`Time` raises none in binary formats).
    postcard::to_allocvec(&stored).expect("every event DTO has a postcard encoding")
}

/// Decodes a log payload written by [`encode_event`] or [`encode_record`] of this or any earlier
/// version. A receipt the record carries is read and dropped: see [`decode_record`].
///
/// # Errors
/// A [`StoredError`] for an empty, truncated, corrupt or unknown-version payload, or for an event
/// whose values the core cannot take. Never panics, whatever the bytes.
pub fn decode_event(bytes: &[u8]) -> Result<Event, StoredError> {
    decode_record(bytes).map(|(event, _)| event)
}

/// Decodes a log payload of any version into its event and its receipt (`None` for a record
/// without one, and for every payload of versions 1 to 3, which had no receipts).
///
/// # Errors
/// As [`decode_event`]. Never panics, whatever the bytes.
pub fn decode_record(bytes: &[u8]) -> Result<(Event, Option<Receipt>), StoredError> {
    let (event, receipt) = upcast_record(read_stored(bytes)?);
    Ok((Event::try_from(event)?, receipt))
}

/// Reads only a payload's receipt, without decoding its event: the cheap path for a reader that
/// wants receipts only (the engine's recovery). A record without one costs two bytes' reading.
/// The event part is not checked; [`decode_record`] checks everything.
///
/// # Errors
/// An empty payload, an unknown version or a receipt that does not decode. Never panics.
pub fn decode_receipt(bytes: &[u8]) -> Result<Option<Receipt>, StoredError> {
    let (version, rest) = read_version(bytes)?;
    match version {
        V1 | V2 | V3 => Ok(None),
        // The receipt comes first in versions 4 and 5; what follows it (the event) is not read.
        V4 => postcard::take_from_bytes::<Option<ReceiptDto<'_>>>(rest)
            .map(|(receipt, _)| receipt.map(Receipt::from))
            .map_err(|source| StoredError::Malformed { version, source }),
        V5 => postcard::take_from_bytes::<Option<ReceiptV5Dto<'_>>>(rest)
            .map(|(receipt, _)| receipt.map(Receipt::from))
            .map_err(|source| StoredError::Malformed { version, source }),
        other => Err(StoredError::UnknownVersion { version: other }),
    }
}

/// Reads the version prefix: the version and the bytes after it.
fn read_version(bytes: &[u8]) -> Result<(u32, &[u8]), StoredError> {
    if bytes.is_empty() {
        return Err(StoredError::Empty);
    }
    postcard::take_from_bytes::<u32>(bytes).map_err(StoredError::MalformedVersion)
}

/// Reads the envelope: dispatches on the version prefix and requires every byte to be used.
fn read_stored(bytes: &[u8]) -> Result<StoredEvent<'_>, StoredError> {
    let (version, rest) = read_version(bytes)?;
    let (stored, rest) = match version {
        V1 => take(version, rest, StoredEvent::V1)?,
        V2 => take(version, rest, StoredEvent::V2)?,
        V3 => take(version, rest, StoredEvent::V3)?,
        V4 => take(version, rest, StoredEvent::V4)?,
        V5 => take(version, rest, StoredEvent::V5)?,
        other => return Err(StoredError::UnknownVersion { version: other }),
    };
    if !rest.is_empty() {
        return Err(StoredError::TrailingBytes { count: rest.len() });
    }
    Ok(stored)
}

/// Reads one version's DTO from the bytes after the version prefix, wrapped in its envelope.
fn take<'b, T: Deserialize<'b>>(
    version: u32,
    bytes: &'b [u8],
    wrap: impl FnOnce(T) -> StoredEvent<'b>,
) -> Result<(StoredEvent<'b>, &'b [u8]), StoredError> {
    postcard::take_from_bytes::<T>(bytes)
        .map(|(dto, rest)| (wrap(dto), rest))
        .map_err(|source| StoredError::Malformed { version, source })
}

/// Brings a stored event of any version to the current version's event DTO (version 5's),
/// dropping any receipt: [`upcast_record`] without the receipt.
#[must_use]
pub fn upcast(stored: StoredEvent<'_>) -> event::EventDto<'_> {
    upcast_record(stored).0
}

/// Brings a stored payload of any version to the current version (5): its event in version 5's
/// form and its receipt. The one place where old versions are upcast: an older event is
/// wrapped, unchanged, in the next version's `Base`; versions 1 to 3 had no receipts.
#[must_use]
pub fn upcast_record(stored: StoredEvent<'_>) -> (event::EventDto<'_>, Option<Receipt>) {
    let (v3, receipt) = match stored {
        StoredEvent::V1(event) => (
            v3::EventDto {
                at: event.at,
                kind: v3::EventKindDto::Base(v2::EventKindDto::Base(event.kind)),
            },
            None,
        ),
        StoredEvent::V2(event) => (
            v3::EventDto {
                at: event.at,
                kind: v3::EventKindDto::Base(event.kind),
            },
            None,
        ),
        StoredEvent::V3(event) => (event, None),
        StoredEvent::V4(record) => (record.event, record.receipt.map(Receipt::from)),
        StoredEvent::V5(record) => return (record.event, record.receipt.map(Receipt::from)),
    };
    let event = v5::EventDto {
        at: v3.at,
        kind: v5::EventKindDto::Base(v3.kind),
    };
    (event, receipt)
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
        // V5, no receipt, at = 5, Base (0) of v5, of v3, of v2, v1 variant 1 (agent_ready),
        // "ann".
        assert_eq!(
            bytes,
            [
                0x04, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x03, b'a', b'n', b'n'
            ]
        );
        assert_eq!(decode_event(&bytes).expect("decodes"), ready(5));
        assert_eq!(decode_record(&bytes).expect("decodes"), (ready(5), None));
        assert_eq!(decode_receipt(&bytes).expect("decodes"), None);
    }

    #[test]
    fn a_receipt_rides_before_the_event_and_decode_event_skips_it() {
        let receipt = Receipt {
            key: "ready ann k1".into(),
            reply: crate::ReplyBody {
                seq: 7,
                events: 1,
                ..crate::ReplyBody::default()
            },
        };
        let bytes = encode_record(&ready(5), Some(&receipt));
        let without = encode_event(&ready(5));
        assert_eq!(bytes[..2], [0x04, 0x01]);
        assert_eq!(bytes[bytes.len() - (without.len() - 2)..], without[2..]);
        assert_eq!(decode_event(&bytes).expect("decodes"), ready(5));
        assert_eq!(
            decode_record(&bytes).expect("decodes"),
            (ready(5), Some(receipt.clone()))
        );
        assert_eq!(decode_receipt(&bytes).expect("decodes"), Some(receipt));
        // What the events feed publishes, from the decoded event, knows nothing of it.
        let published = |bytes: &[u8]| {
            let event = decode_event(bytes).expect("decodes");
            serde_json::to_string(&crate::event_json(7, &event).expect("writable"))
                .expect("serializable")
        };
        assert_eq!(published(&bytes), published(&without));
        assert!(!published(&bytes).contains("k1"));
    }

    #[test]
    fn decoding_borrows_the_payloads_strings_instead_of_copying_them() {
        // Replay decodes every record: an id read from the payload in place is one allocation
        // (the core's `Arc<str>`) instead of two (postcard's `String`, then the `Arc<str>`).
        let bytes = encode_event(&ready(5));
        let (event, _) = upcast_record(read_stored(&bytes).expect("decodes"));
        let event::EventKindDto::Base(v3::EventKindDto::Base(v2::EventKindDto::Base(
            v1::EventKindDto::AgentReady { agent_id },
        ))) = event.kind
        else {
            panic!("agent_ready decodes as agent_ready: {:?}", event.kind);
        };
        assert_eq!(agent_id, "ann");
        let std::borrow::Cow::Borrowed(text) = agent_id else {
            panic!("the agent id was copied out of the payload");
        };
        assert!(bytes.as_ptr_range().contains(&text.as_ptr()));
    }

    #[test]
    fn a_version_4_payload_is_upcast() {
        // V4, no receipt, at = 5, Base (0) of v3, Base (0) of v2, v1 variant 1, "ann".
        let bytes = [0x03, 0x00, 0x05, 0x00, 0x00, 0x01, 0x03, b'a', b'n', b'n'];
        assert_eq!(decode_record(&bytes).expect("decodes"), (ready(5), None));
        assert_eq!(decode_receipt(&bytes).expect("decodes"), None);
    }

    #[test]
    fn a_version_3_payload_is_upcast_with_no_receipt() {
        // V3, at = 5, Base (0) of v3, Base (0) of v2, v1 variant 1 (agent_ready), "ann".
        let bytes = [0x02, 0x05, 0x00, 0x00, 0x01, 0x03, b'a', b'n', b'n'];
        assert_eq!(decode_record(&bytes).expect("decodes"), (ready(5), None));
        assert_eq!(decode_receipt(&bytes).expect("decodes"), None);
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
        bytes[0] = 0x05;
        assert!(matches!(
            decode_event(&bytes),
            Err(StoredError::UnknownVersion { version: 5 })
        ));
        assert!(matches!(
            decode_receipt(&bytes),
            Err(StoredError::UnknownVersion { version: 5 })
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
        assert!(matches!(decode_receipt(&[]), Err(StoredError::Empty)));
        let bytes = encode_event(&ready(1_795_424_400_000));
        for len in 1..bytes.len() {
            assert!(
                matches!(
                    decode_event(&bytes[..len]),
                    Err(StoredError::Malformed { version: 4, .. })
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
