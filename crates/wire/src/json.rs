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
//! The same DTO serves postcard and JSON: serde writes the DTO as `{"<type>": {fields}}` (an
//! externally tagged enum), and the single key is lifted into `type`. [`event_from_json`] does
//! the reverse. The current DTO nests the kinds of earlier versions in a `Base` variant for the
//! stored form; that nesting never shows in JSON (see [`EventKindDto::tagged_json`]), so the
//! kinds of version 1 are published exactly as before and the kinds added later under their own
//! types (`contact_held`, `complaint_stage_changed`...).
//!
//! [`write_event_json`] writes that text into a message body, the one to publish with, straight
//! from the DTO: a small serializer (`json/sorted.rs`) writes each object's fields in key order,
//! the text serde_json writes for the DTO's [`serde_json::Value`] (its maps sort their keys),
//! without building one. [`event_json`] reads those bytes back into an [`EventJson`], so there is
//! one writer of the published text; `tests/json.rs` compares it with the `Value`'s text for
//! every event kind.

use std::fmt;

mod sorted;

use serde::ser::{self, SerializeMap};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use switchboard_core::Event;

use crate::event::{DtoError, EventDto, EventKindDto, Time};
use crate::time::{TimeError, parse_rfc3339, rfc3339};

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
    /// The published text, as [`write_event_json`] writes it.
    text: String,
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

/// The published text's fields in its order (the map's keys are sorted, as the text's are).
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
        f.write_str(&self.text)
    }
}

/// The JSON form of event number `seq`: the text [`write_event_json`] writes, and its fields.
///
/// # Errors
/// [`JsonError::Unwritable`] when one of its instants lies after year 9999 (the core counts
/// instants as `u64` milliseconds; RFC 3339 stops there).
pub fn event_json(seq: u64, event: &Event) -> Result<EventJson, JsonError> {
    let mut text = Vec::new();
    write_event_json(seq, event, &mut text)?;
    // What was just written is a JSON object with a string `at`: reading it back cannot fail.
    let mut fields: Map<String, Value> =
        serde_json::from_slice(&text).map_err(JsonError::Unwritable)?;
    let at = match fields.remove("at") {
        Some(Value::String(at)) => at,
        _ => return Err(JsonError::Field("at")),
    };
    fields.remove("seq");
    fields.remove("type");
    let text = String::from_utf8(text).map_err(|e| JsonError::Unwritable(ser::Error::custom(e)))?;
    Ok(EventJson {
        seq,
        at,
        event_type: event.kind.name(),
        fields,
        text,
    })
}

/// Writes the JSON form of event number `seq` at the end of `out`, the body of the message
/// published on `switchboard.events.<type>`: `seq`, `at`, `type`, then the event's fields in
/// key order, straight from its DTO.
///
/// # Errors
/// [`JsonError::Unwritable`] when one of the event's instants lies after year 9999 (the core
/// counts instants as `u64` milliseconds; RFC 3339 stops there). `out` is then left as it was.
pub fn write_event_json(seq: u64, event: &Event, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let start = out.len();
    let written = write_published(seq, event, out).map_err(JsonError::Unwritable);
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// `{"seq":…,"at":…,"type":…` then the kind's fields and `}`, at the end of `out`.
fn write_published(seq: u64, event: &Event, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let at = rfc3339(event.at.as_millis()).map_err(ser::Error::custom)?;
    let event_type = event.kind.name();
    out.extend_from_slice(b"{\"seq\":");
    serde_json::to_writer(&mut *out, &seq)?;
    out.extend_from_slice(b",\"at\":");
    sorted::string(out, at.as_str())?;
    out.extend_from_slice(b",\"type\":");
    sorted::string(out, event_type)?;
    let tagged = out.len();
    let kind = EventKindDto::from(&event.kind);
    sorted::write(out, |serializer| kind.serialize_tagged(serializer))?;
    lift_fields(out, tagged, event_type)
}

/// Turns `{"<type>":{fields}}`, written from `tagged` on, into the end of the event's object:
/// `,fields}` (`}` when there are none), as the single key is lifted into `type`.
fn lift_fields(
    out: &mut Vec<u8>,
    tagged: usize,
    event_type: &str,
) -> Result<(), serde_json::Error> {
    // `{"` + type + `":{`; event types are snake case, never escaped.
    let prefix = event_type.len() + 5;
    let text = out.get(tagged..).unwrap_or_default();
    let fits = text.len() >= prefix + 2
        && text.starts_with(b"{\"")
        && text.get(2..prefix - 3) == Some(event_type.as_bytes())
        && text.get(prefix - 3..prefix) == Some(b"\":{".as_slice())
        && text.ends_with(b"}}");
    // Every variant of `EventKindDto` holds a struct and is named as `EventKind::name`; the
    // tests check this for every kind, so this is a bug in this crate's DTOs.
    if !fits {
        return Err(ser::Error::custom(format!(
            "{event_type} is not a tagged struct"
        )));
    }
    out.pop();
    let fields = tagged + prefix - 1;
    if out.len() - fields == 2 {
        out.truncate(tagged);
        out.push(b'}');
    } else {
        out[fields] = b',';
        out.drain(tagged..fields);
    }
    Ok(())
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
