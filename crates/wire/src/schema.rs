//! JSON Schemas of every message of the wire contract, generated from the Rust types so they
//! cannot drift: `docs/schemas/*.json` are checked against [`schemas`] by a test (run it with
//! `UPDATE_SCHEMAS=1` to rewrite them after a deliberate change).
//!
//! Schemas describe the JSON form (postcard bodies are the same fields by position). Replies are
//! described with their envelope: `{"ok":true, ...}` or `{"ok":false,"error":{...}}`.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema, schema_for};
use serde_json::{Map, Value, json};

use crate::command::{
    AbandonContactBody, AcceptBody, ComplaintStageBody, CompleteBody, CreateContactBody, EraseBody,
    EscalateBody, ExtendDueBody, LoginBody, LogoutBody, NotReadyBody, PersistentComplainantBody,
    ReadyBody, RejectBody, TransferBody,
};
use crate::error::WireError;
use crate::event::EventKindDto;
use crate::offer::{
    AssignedNotice, OfferExpiredNotice, OfferNotice, OfferRevokedNotice, ReleasedNotice,
    StateNotice,
};
use crate::query::{AgentsReply, ContactQuery, ContactReply, EmptyQuery, QueuesReply};
use crate::reply::ReplyBody;

/// `true`, and nothing else.
struct True;
/// `false`, and nothing else.
struct False;

impl JsonSchema for True {
    fn schema_name() -> Cow<'static, str> {
        "True".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"const": true})
    }
}

impl JsonSchema for False {
    fn schema_name() -> Cow<'static, str> {
        "False".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"const": false})
    }
}

/// A success: `ok` is true and the body's fields sit beside it.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "only its schema is used")]
struct Success<T> {
    /// Always true.
    ok: True,
    #[serde(flatten)]
    body: T,
}

/// A refusal: `ok` is false and `error` says why. Nothing changed.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "only its schema is used")]
struct Failure {
    /// Always false.
    ok: False,
    /// What went wrong.
    error: WireError,
}

/// A reply: a success with a body `T`, or a refusal.
#[derive(JsonSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "only its schema is used")]
enum Envelope<T> {
    /// Done.
    Success(Success<T>),
    /// Refused.
    Failure(Failure),
}

fn titled(mut schema: Schema, title: &str, description: &str) -> Value {
    schema.insert("title".into(), json!(title));
    schema.insert("description".into(), json!(description));
    schema.to_value()
}

/// Every schema, as (file name, schema), in a fixed order.
#[must_use]
pub fn schemas() -> Vec<(&'static str, Value)> {
    let mut out = command_schemas();
    out.extend(reply_and_notice_schemas());
    out.extend(query_schemas());
    out.push(("event.json", event_schema()));
    out
}

/// The request bodies of the commands, `{p}.cmd.*`.
fn command_schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "command.contact.create.json",
            schema_for!(CreateContactBody).to_value(),
        ),
        (
            "command.contact.abandon.json",
            schema_for!(AbandonContactBody).to_value(),
        ),
        (
            "command.contact.complaint_stage.json",
            schema_for!(ComplaintStageBody).to_value(),
        ),
        (
            "command.contact.extend_due.json",
            schema_for!(ExtendDueBody).to_value(),
        ),
        (
            "command.customer.persistent_complainant.json",
            schema_for!(PersistentComplainantBody).to_value(),
        ),
        (
            "command.privacy.erase.json",
            schema_for!(EraseBody).to_value(),
        ),
        (
            "command.agent.login.json",
            schema_for!(LoginBody).to_value(),
        ),
        (
            "command.agent.ready.json",
            schema_for!(ReadyBody).to_value(),
        ),
        (
            "command.agent.not_ready.json",
            schema_for!(NotReadyBody).to_value(),
        ),
        (
            "command.agent.logout.json",
            schema_for!(LogoutBody).to_value(),
        ),
        (
            "command.agent.accept.json",
            schema_for!(AcceptBody).to_value(),
        ),
        (
            "command.agent.reject.json",
            schema_for!(RejectBody).to_value(),
        ),
        (
            "command.agent.complete.json",
            schema_for!(CompleteBody).to_value(),
        ),
        (
            "command.agent.escalate.json",
            schema_for!(EscalateBody).to_value(),
        ),
        (
            "command.agent.transfer.json",
            schema_for!(TransferBody).to_value(),
        ),
    ]
}

/// The command reply, the offer and the desktop notices.
fn reply_and_notice_schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "reply.json",
            titled(
                schema_for!(Envelope<ReplyBody>),
                "command reply",
                "The reply to every command on {p}.cmd.*, sent once its events are durable.",
            ),
        ),
        ("offer.json", schema_for!(OfferNotice).to_value()),
        (
            "notice.offer_revoked.json",
            schema_for!(OfferRevokedNotice).to_value(),
        ),
        (
            "notice.offer_expired.json",
            schema_for!(OfferExpiredNotice).to_value(),
        ),
        (
            "notice.assigned.json",
            schema_for!(AssignedNotice).to_value(),
        ),
        (
            "notice.released.json",
            schema_for!(ReleasedNotice).to_value(),
        ),
        ("notice.state.json", schema_for!(StateNotice).to_value()),
    ]
}

/// The queries' request bodies and replies.
fn query_schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "query.queues.json",
            titled(
                schema_for!(EmptyQuery),
                "query.queues",
                "Request body of {p}.query.queues: nothing (no body, or {}).",
            ),
        ),
        (
            "query.agents.json",
            titled(
                schema_for!(EmptyQuery),
                "query.agents",
                "Request body of {p}.query.agents: nothing (no body, or {}).",
            ),
        ),
        ("query.contact.json", schema_for!(ContactQuery).to_value()),
        (
            "reply.query.queues.json",
            titled(
                schema_for!(Envelope<QueuesReply>),
                "query.queues reply",
                "Live figures per queue.",
            ),
        ),
        (
            "reply.query.agents.json",
            titled(
                schema_for!(Envelope<AgentsReply>),
                "query.agents reply",
                "Every agent's presence and work.",
            ),
        ),
        (
            "reply.query.contact.json",
            titled(
                schema_for!(Envelope<ContactReply>),
                "query.contact reply",
                "One contact's status and full history.",
            ),
        ),
    ]
}

/// The published event, `{"seq", "at", "type", ...fields}`: one branch per event type, built
/// from the schema of the event DTOs (externally tagged there, flattened here). The current
/// DTO's `base` variant (version 1's kinds, nested for the stored form only) is opened up into
/// the branches of the kinds it holds, as they are published.
fn event_schema() -> Value {
    let tagged = schema_for!(EventKindDto<'static>).to_value();
    let mut defs = tagged.get("$defs").cloned().unwrap_or_else(|| json!({}));
    let mut branches = Vec::new();
    event_branches(&tagged, &defs, &mut branches);
    // The older version's enum is opened up into branches: its own definition is not needed.
    let base = base_reference(&tagged);
    if let (Some(defs), Some(base)) = (defs.as_object_mut(), base) {
        defs.remove(&base);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "event",
        "description": "An event as published on {p}.events.<type> (and kept in the events stream). Consumers should ignore fields they do not know.",
        "oneOf": branches,
        "$defs": defs,
    })
}

/// The name in `$defs` of the enum that a tagged event enum's `base` variant holds.
fn base_reference(tagged: &Value) -> Option<String> {
    tagged
        .get("oneOf")?
        .as_array()?
        .iter()
        .find_map(|variant| {
            variant
                .get("properties")?
                .get("base")?
                .get("$ref")?
                .as_str()
        })
        .and_then(|reference| reference.strip_prefix("#/$defs/"))
        .map(str::to_owned)
}

/// A schema from `$defs` when `schema` is a reference to one, else `schema` itself.
fn resolve(schema: &Value, defs: &Value) -> Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix("#/$defs/")
            .and_then(|d| defs.get(d))
            .cloned()
            .unwrap_or_default(),
        None => schema.clone(),
    }
}

/// Appends the published form of every variant of an externally tagged event enum's schema.
fn event_branches(tagged: &Value, defs: &Value, branches: &mut Vec<Value>) {
    let variants = tagged
        .get("oneOf")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for variant in variants {
        let Some((name, inner)) = variant
            .get("properties")
            .and_then(Value::as_object)
            .and_then(|p| p.iter().next())
        else {
            continue;
        };
        // A boxed struct (or the older version's enum) is a reference into `$defs`.
        let inner = resolve(inner, defs);
        if name == "base" {
            event_branches(&inner, defs, branches);
            continue;
        }
        let mut properties = Map::new();
        properties.insert(
            "seq".into(),
            json!({"type": "integer", "minimum": 0, "description": "The event's sequence number in the log."}),
        );
        properties.insert(
            "at".into(),
            json!({"$ref": "#/$defs/Time", "description": "When the engine decided it."}),
        );
        properties.insert("type".into(), json!({"const": name}));
        if let Some(fields) = inner.get("properties").and_then(Value::as_object) {
            properties.extend(fields.clone());
        }
        let mut required = vec![json!("seq"), json!("at"), json!("type")];
        if let Some(fields) = inner.get("required").and_then(Value::as_array) {
            required.extend(fields.iter().cloned());
        }
        let mut branch = Map::new();
        if let Some(description) = variant.get("description") {
            branch.insert("description".into(), description.clone());
        }
        branch.insert("type".into(), json!("object"));
        branch.insert("properties".into(), Value::Object(properties));
        branch.insert("required".into(), Value::Array(required));
        branches.push(Value::Object(branch));
    }
}
