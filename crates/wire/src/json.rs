//! The JSON form of an event, published on `switchboard.events.<type>`.
//!
//! A flat object: `seq` (the event's sequence number in the log), `at` (RFC 3339 UTC with three
//! fractional digits), `type` ([`EventKind::name`](switchboard_core::EventKind::name)), then the
//! event's own fields, as the current version's DTO names them (see [`crate::event`]):
//!
//! ```json
//! {"seq":42,"at":"2026-11-23T10:15:00.123Z","type":"agent_ready","agent_id":"ann"}
//! ```
//!
//! Instants are RFC 3339 strings (`null` when absent), durations are whole milliseconds in
//! `*_ms` fields, nested records (`placement`, `decision`, `order`) are objects. `seq`, `at` and
//! `type` come first; the event's fields follow in alphabetical order (nested objects too), so
//! the text is deterministic. Consumers should ignore fields they do not know: fields may be
//! added in later versions.
//!
//! The same DTO serves postcard and JSON: the DTO is serialized to a JSON value, which serde
//! writes as `{"<type>": {fields}}` (an externally tagged enum), and the single key is lifted into
//! `type`. [`event_from_json`] does the reverse. The current DTO (version 2) nests version 1's
//! kinds in a `Base` variant for the stored form; that nesting never shows in JSON (see
//! [`EventKindDto::tagged_json`]), so the kinds of version 1 are published exactly as before and
//! the kinds added later under their own types (`contact_held`, `complaint_stage_changed`...).
//!
//! [`write_event_json`] writes that text into a message body: the one to publish with.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use switchboard_core::Event;

use crate::event::{DtoError, EventDto, EventKindDto, Time};
use crate::time::{TimeError, format_rfc3339, parse_rfc3339};

/// Why an event could not be written as JSON, or JSON could not be read as an event.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// One of the event's instants is outside the range RFC 3339 can write (after year 9999).
    #[error("the event cannot be written as JSON: {0}")]
    Unwritable(#[source] serde_json::Error),
    /// The text is not JSON.
    #[error("not JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    /// The JSON is not an object.
    #[error("an event must be a JSON object")]
    NotAnObject,
    /// A required top-level field is missing or of the wrong type.
    #[error("field `{0}` is missing or of the wrong type")]
    Field(&'static str),
    /// The `at` field is not an RFC 3339 instant the core can hold.
    #[error("field `at`: {0}")]
    At(#[source] TimeError),
    /// The event's fields do not fit its `type` (unknown type, missing or mistyped field).
    #[error("fields do not fit the event type: {0}")]
    Fields(#[source] serde_json::Error),
    /// The event's values are not valid for the core.
    #[error("invalid event: {0}")]
    Invalid(#[from] DtoError),
}

/// An event ready to publish: serialize it (or `to_string()` it) for the message body.
#[derive(Clone, Debug, PartialEq)]
pub struct EventJson {
    seq: u64,
    at: String,
    event_type: &'static str,
    fields: Map<String, Value>,
}

impl EventJson {
    /// The event's sequence number in the log.
    #[must_use]
    pub const fn seq(&self) -> u64 {
        self.seq
    }

    /// The event's type name: the last token of its subject, `switchboard.events.<type>`.
    #[must_use]
    pub const fn event_type(&self) -> &'static str {
        self.event_type
    }

    /// The event's own fields (everything but `seq`, `at` and `type`).
    #[must_use]
    pub const fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

impl Serialize for EventJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3 + self.fields.len()))?;
        map.serialize_entry("seq", &self.seq)?;
        map.serialize_entry("at", &self.at)?;
        map.serialize_entry("type", self.event_type)?;
        for (name, value) in &self.fields {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Compact JSON text, as published.
impl fmt::Display for EventJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Writing strings, numbers and JSON values with string keys cannot fail.
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// The JSON form of event number `seq`.
///
/// # Errors
/// [`JsonError::Unwritable`] when one of its instants lies after year 9999 (the core counts
/// instants as `u64` milliseconds; RFC 3339 stops there).
pub fn event_json(seq: u64, event: &Event) -> Result<EventJson, JsonError> {
    let at = format_rfc3339(event.at.as_millis())
        .map_err(|e| JsonError::Unwritable(serde::ser::Error::custom(e)))?;
    let event_type = event.kind.name();
    let tagged = EventKindDto::from(&event.kind)
        .tagged_json()
        .map_err(JsonError::Unwritable)?;
    let fields = match tagged {
        Value::Object(tagged) => tagged
            .into_iter()
            .next()
            .and_then(|(tag, fields)| match fields {
                Value::Object(fields) if tag == event_type => Some(fields),
                _ => None,
            }),
        _ => None,
    };
    // Every variant of `EventKindDto` holds a struct and is named as `EventKind::name`; the
    // tests check this for every variant, so `None` means a bug in this crate's DTOs.
    debug_assert!(fields.is_some(), "{event_type} is not a tagged struct");
    let fields = fields.unwrap_or_default();
    Ok(EventJson {
        seq,
        at,
        event_type,
        fields,
    })
}

/// Writes the JSON form of event number `seq` (the text of [`event_json`]'s result) at the end of
/// `out`, the body of the message published on `switchboard.events.<type>`.
///
/// # Errors
/// [`JsonError::Unwritable`] when one of the event's instants lies after year 9999, as
/// [`event_json`]. `out` is then left as it was.
pub fn write_event_json(seq: u64, event: &Event, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let json = event_json(seq, event)?;
    let start = out.len();
    let written = serde_json::to_writer(&mut *out, &json).map_err(JsonError::Unwritable);
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// Reads the JSON form back: the sequence number and the event.
///
/// # Errors
/// A [`JsonError`] saying what does not fit.
pub fn event_from_json(text: &str) -> Result<(u64, Event), JsonError> {
    let value: Value = serde_json::from_str(text).map_err(JsonError::Syntax)?;
    let Value::Object(mut fields) = value else {
        return Err(JsonError::NotAnObject);
    };
    let seq = fields
        .remove("seq")
        .and_then(|v| v.as_u64())
        .ok_or(JsonError::Field("seq"))?;
    let at = match fields.remove("at") {
        Some(Value::String(at)) => parse_rfc3339(&at).map_err(JsonError::At)?,
        _ => return Err(JsonError::Field("at")),
    };
    let Some(Value::String(event_type)) = fields.remove("type") else {
        return Err(JsonError::Field("type"));
    };
    let mut tagged = Map::new();
    tagged.insert(event_type.clone(), Value::Object(fields));
    let tagged = Value::Object(tagged);
    let kind = EventKindDto::from_tagged_json(&event_type, &tagged).map_err(JsonError::Fields)?;
    let event = Event::try_from(EventDto { at: Time(at), kind })?;
    Ok((seq, event))
}
