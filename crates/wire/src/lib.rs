//! The edge of Switchboard: the only library that knows serde, postcard and JSON.
//!
//! The routing core ([`switchboard_core`]) has no serde on its events; events cross the edge
//! through the versioned DTOs of this crate. Three formats live here:
//!
//! - **Stored events** ([`stored`]): the event log's payload. Postcard, in a versioned envelope
//!   whose first byte is the format version (`0x00` = version 1, ... `0x03` = version 4, written
//!   today). Old versions stay readable for good and are upcast to the current one in one place,
//!   [`stored::upcast_record`]. The rule: postcard writes enum variants by index and struct
//!   fields by position, so in a version that has been written no variant or field is ever
//!   removed, reordered, retyped or inserted; every change of shape, appending included, is a new
//!   version (see [`stored`] for the recipe). Version 2 nests version 1's kinds unchanged and
//!   appends the kinds of opening hours and complaints; version 3 nests version 2 and appends
//!   `ContactUnservable`; version 4 keeps version 3's events and puts an optional idempotency
//!   [`Receipt`] ([`receipt`]: the scoped key and the first reply) in the envelope before the
//!   event ([`encode_record`], [`decode_record`]). Golden files, `tests/fixtures/events-v1.bin`
//!   to `events-v4.bin`, hold every event type of their version (and `events-v4.bin` receipts
//!   of every reply shape) and must decode forever.
//! - **Snapshots** (`snapshot`, behind this crate's `snapshot` feature): the routing state,
//!   postcard, behind a header of magic, format version and schema fingerprint. A disposable
//!   cache: a snapshot from another format or schema is refused and the caller replays the log.
//!   The feature is off by default, so a tool that reads events only does not build serde into
//!   the core; the engine turns it on.
//! - **Published events** ([`json`]): a flat JSON object `{"seq", "at", "type", ...fields}` for
//!   `switchboard.events.<type>`, from the same DTOs as the stored form.
//! - **The wire contract v1** (`docs/wire.md`): NATS [`subjects`] and the [`Route`] each one asks
//!   for; [`command`] bodies and [`decode_command`] (JSON by default, postcard by
//!   `Content-Type`); [`reply`] envelopes (`{"ok":true,...}` / `{"ok":false,"error":...}`) with
//!   [`WireError`] codes; what desktops receive ([`offer`]: offers and notices); read-only
//!   [`query`] replies; and the JSON Schemas of every message ([`schema`], checked into
//!   `docs/schemas`).
//!
//! Conventions shared by all: names are snake case as in the wire contract (`agent_id`,
//! `face_to_face`, `no_action`, event types as [`EventKind::name`]); instants are milliseconds
//! since the Unix epoch in binary formats and RFC 3339 UTC strings with three fractional digits in
//! JSON; durations are whole milliseconds in fields named `*_ms`.
//!
//! Decoding never panics, whatever the bytes: bad input is a typed error ([`StoredError`],
//! `SnapshotError`, [`JsonError`], [`DtoError`], [`WireError`]).
//!
//! [`EventKind::name`]: switchboard_core::EventKind::name

pub mod command;
pub mod error;
pub mod event;
pub mod json;
pub mod names;
pub mod offer;
pub mod query;
pub mod receipt;
pub mod reply;
pub mod schema;
#[cfg(feature = "snapshot")]
pub mod snapshot;
pub mod stored;
pub mod subjects;
mod time;

pub use command::{CommandBody, Decoded, Format, PAYLOAD_BYTES_MAX, decode_command};
pub use error::{ErrorCode, WireError};
pub use offer::{
    AgentNotice, OfferNotice, agent_notices, encode_agent_notice, encode_message, encode_offer,
    offer_notice,
};
pub use query::{
    AgentsReply, ContactQuery, ContactReply, QueuesReply, agents_reply, contact_reply,
    decode_contact_query, decode_empty_query, encode_query_reply, queues_reply,
};
pub use reply::{
    Adjustment, AdjustmentReason, Reply, ReplyBody, decode_reply, encode_reply, encode_result,
    reply_body,
};
pub use subjects::{CommandKind, QueryKind, Route, Subjects};

pub use event::DtoError;
pub use json::{EventJson, JsonError, event_from_json, event_json, write_event_json};
pub use receipt::Receipt;
#[cfg(feature = "snapshot")]
pub use snapshot::{SnapshotError, decode_snapshot, encode_snapshot};
pub use stored::{
    StoredError, decode_event, decode_receipt, decode_record, encode_event, encode_record,
};
pub use time::TimeError;
