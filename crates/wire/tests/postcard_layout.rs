//! `docs/postcard.md`, the postcard layout of every request and reply (fields in order, enum
//! variants with their numbers), is generated here from the message types by tracing their
//! serde form (`serde-reflection`), and checked: the test fails when the types and the page
//! differ. After a deliberate change, rewrite it with `UPDATE_POSTCARD=1 cargo test -p
//! switchboard-wire --test postcard_layout`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_reflection::{
    ContainerFormat, Format, Named, Registry, Samples, Tracer, TracerConfig, VariantFormat,
};
use switchboard_core::State;
use switchboard_wire::command::{
    AbandonContactBody, AcceptBody, ComplaintStageBody, CompleteBody, CreateContactBody,
    EscalateBody, ExtendDueBody, LoginBody, LogoutBody, NotReadyBody, PersistentComplainantBody,
    ReadyBody, RejectBody, TransferBody,
};
use switchboard_wire::event::Time;
use switchboard_wire::offer::{
    AssignedNotice, OfferExpiredNotice, OfferNotice, OfferRevokedNotice, ReleasedNotice,
    StateNotice,
};
use switchboard_wire::query::{AgentsReply, ContactQuery, EmptyQuery, QueuesReply};
use switchboard_wire::{ReplyBody, WireError, contact_reply};

/// (where it goes, the traced type's name) for every message, in the order of docs/wire.md.
const MESSAGES: &[(&str, &str)] = &[
    ("`{p}.cmd.contact.create`", "CreateContactBody"),
    ("`{p}.cmd.contact.abandon`", "AbandonContactBody"),
    ("`{p}.cmd.contact.complaint_stage`", "ComplaintStageBody"),
    ("`{p}.cmd.contact.extend_due`", "ExtendDueBody"),
    (
        "`{p}.cmd.customer.persistent_complainant`",
        "PersistentComplainantBody",
    ),
    ("`{p}.cmd.agent.<agent_id>.login`", "LoginBody"),
    ("`{p}.cmd.agent.<agent_id>.ready`", "ReadyBody"),
    ("`{p}.cmd.agent.<agent_id>.not_ready`", "NotReadyBody"),
    ("`{p}.cmd.agent.<agent_id>.logout`", "LogoutBody"),
    ("`{p}.cmd.agent.<agent_id>.accept`", "AcceptBody"),
    ("`{p}.cmd.agent.<agent_id>.reject`", "RejectBody"),
    ("`{p}.cmd.agent.<agent_id>.complete`", "CompleteBody"),
    ("`{p}.cmd.agent.<agent_id>.escalate`", "EscalateBody"),
    ("`{p}.cmd.agent.<agent_id>.transfer`", "TransferBody"),
    ("command reply, success (after varint `0`)", "ReplyBody"),
    ("any reply, refusal (after varint `1`)", "WireError"),
    (
        "`{p}.query.queues` and `{p}.query.agents` request",
        "EmptyQuery",
    ),
    ("`{p}.query.queues` reply (after varint `0`)", "QueuesReply"),
    ("`{p}.query.agents` reply (after varint `0`)", "AgentsReply"),
    ("`{p}.query.contact` request", "ContactQuery"),
    (
        "`{p}.query.contact` reply (after varint `0`)",
        "ContactReply",
    ),
    ("`{p}.agent.<agent_id>.offer`", "OfferNotice"),
    ("`{p}.agent.<agent_id>.offer_revoked`", "OfferRevokedNotice"),
    ("`{p}.agent.<agent_id>.offer_expired`", "OfferExpiredNotice"),
    ("`{p}.agent.<agent_id>.assigned`", "AssignedNotice"),
    ("`{p}.agent.<agent_id>.released`", "ReleasedNotice"),
    ("`{p}.agent.<agent_id>.state`", "StateNotice"),
];

fn page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/postcard.md")
}

/// Every message type traced as postcard sees it (not human-readable: instants are numbers).
fn registry() -> Registry {
    let mut tracer = Tracer::new(TracerConfig::default());
    macro_rules! trace {
        ($($t:ty),* $(,)?) => {
            $(tracer
                .trace_simple_type::<$t>()
                .unwrap_or_else(|e| panic!("{} traces: {e}", stringify!($t)));)*
        };
    }
    // Enums first: tracing a type explores every variant of the enums named directly.
    trace!(
        switchboard_wire::event::ChannelDto,
        switchboard_wire::event::ComplaintStageDto,
        switchboard_wire::event::OutcomeDto,
        switchboard_wire::event::v1::RevokeReasonDto,
        switchboard_wire::event::v1::RuleDto,
        switchboard_wire::reply::ContactStatusName,
        switchboard_wire::reply::PresenceName,
        switchboard_wire::reply::ErasureName,
        switchboard_wire::query::FinishName,
        switchboard_wire::AdjustmentReason,
        switchboard_wire::ErrorCode,
    );
    trace!(
        CreateContactBody,
        AbandonContactBody,
        ComplaintStageBody,
        ExtendDueBody,
        PersistentComplainantBody,
        switchboard_wire::command::EraseBody,
        LoginBody,
        ReadyBody,
        NotReadyBody,
        LogoutBody,
        AcceptBody,
        RejectBody,
        CompleteBody,
        EscalateBody,
        TransferBody,
        ReplyBody,
        WireError,
        EmptyQuery,
        QueuesReply,
        AgentsReply,
        ContactQuery,
        OfferNotice,
        OfferRevokedNotice,
        OfferExpiredNotice,
        AssignedNotice,
        ReleasedNotice,
        StateNotice,
    );
    // The contact reply is written, never read, by the engine: traced from a value whose
    // options are all present. Its history entries are stored events (see docs/wire.md).
    let mut reply = contact_reply(&State::new(), "c1", Vec::new());
    reply.agent_id = Some(String::new());
    reply.offer_id = Some(0);
    reply.finish = Some(switchboard_wire::query::FinishName::Resolved);
    reply.service = Some(String::new());
    reply.channel = Some(switchboard_wire::event::ChannelDto::Phone);
    reply.held_until = Some(Time(0));
    reply.complaint_stage = Some(switchboard_wire::event::ComplaintStageDto::Stage1);
    reply.acknowledge_by = Some(Time(0));
    reply.due_at = Some(Time(0));
    reply.extensions = Some(0);
    // A tracer of its own: tracing a value records only the enum variants it holds.
    let mut values = Tracer::new(TracerConfig::default());
    values
        .trace_value(&mut Samples::new(), &reply)
        .expect("the contact reply traces");
    let mut registry = tracer.registry().expect("every type traced completely");
    let contact = values
        .registry_unchecked()
        .remove("ContactReply")
        .expect("the contact reply is traced");
    registry.insert("ContactReply".to_owned(), contact);
    registry
}

fn format(f: &Format) -> String {
    match f {
        Format::TypeName(name) => format!("[{name}](#{})", name.to_lowercase()),
        Format::Unit => "nothing".to_owned(),
        Format::Bool => "bool: 1 byte, 0 or 1".to_owned(),
        Format::U8 => "u8: 1 byte".to_owned(),
        Format::I8 => "i8: 1 byte".to_owned(),
        Format::U16 | Format::U32 | Format::U64 | Format::U128 => "varint".to_owned(),
        Format::I16 | Format::I32 | Format::I64 | Format::I128 => "zigzag varint".to_owned(),
        Format::F32 => "f32: 4 bytes, little-endian".to_owned(),
        Format::F64 => "f64: 8 bytes, little-endian".to_owned(),
        Format::Str | Format::Char => "string: varint length, UTF-8".to_owned(),
        Format::Bytes => "bytes: varint length, bytes".to_owned(),
        Format::Option(inner) => format!("option: `0`, or `1` then {}", format(inner)),
        Format::Seq(inner) => format!("list: varint count, then each {}", format(inner)),
        Format::Map { key, value } => format!(
            "map: varint count, then each key ({}) and value ({})",
            format(key),
            format(value)
        ),
        Format::Tuple(items) => format!(
            "tuple: {}",
            items.iter().map(format).collect::<Vec<_>>().join(", ")
        ),
        Format::TupleArray { content, size } => format!("{size} × {}", format(content)),
        Format::Variable(_) => {
            "unknown here: a `[seq, stored event]` pair (see docs/wire.md)".to_owned()
        }
    }
}

fn fields(out: &mut String, fields: &[Named<Format>]) {
    out.push_str("| # | field | postcard |\n|---|---|---|\n");
    for (i, field) in fields.iter().enumerate() {
        let _ = writeln!(out, "| {i} | `{}` | {} |", field.name, format(&field.value));
    }
}

/// The names of the containers `f` refers to.
fn referred(f: &Format, into: &mut Vec<String>) {
    match f {
        Format::TypeName(name) => into.push(name.clone()),
        Format::Option(inner) | Format::Seq(inner) => referred(inner, into),
        Format::TupleArray { content, .. } => referred(content, into),
        Format::Map { key, value } => {
            referred(key, into);
            referred(value, into);
        }
        Format::Tuple(items) => items.iter().for_each(|i| referred(i, into)),
        _ => {}
    }
}

fn container(out: &mut String, name: &str, container: &ContainerFormat) -> Vec<String> {
    let mut next = Vec::new();
    let _ = writeln!(out, "### {name}\n");
    match container {
        ContainerFormat::UnitStruct => out.push_str("Nothing: zero bytes.\n"),
        ContainerFormat::NewTypeStruct(inner) => {
            let _ = writeln!(out, "{}", format(inner));
            referred(inner, &mut next);
        }
        ContainerFormat::TupleStruct(items) => {
            let named: Vec<Named<Format>> = items
                .iter()
                .enumerate()
                .map(|(i, f)| Named {
                    name: i.to_string(),
                    value: f.clone(),
                })
                .collect();
            fields(out, &named);
            items.iter().for_each(|i| referred(i, &mut next));
        }
        ContainerFormat::Struct(named) if named.is_empty() => {
            out.push_str("No fields: zero bytes.\n");
        }
        ContainerFormat::Struct(named) => {
            fields(out, named);
            named.iter().for_each(|f| referred(&f.value, &mut next));
        }
        ContainerFormat::Enum(variants) => {
            out.push_str("An enum: the variant's number as a varint, then its fields.\n\n");
            out.push_str("| number | name | then |\n|---|---|---|\n");
            for (number, variant) in variants {
                let then = match &variant.value {
                    VariantFormat::Unit => "nothing".to_owned(),
                    VariantFormat::NewType(inner) => {
                        referred(inner, &mut next);
                        format(inner)
                    }
                    VariantFormat::Tuple(items) => {
                        items.iter().for_each(|i| referred(i, &mut next));
                        items.iter().map(format).collect::<Vec<_>>().join(", ")
                    }
                    VariantFormat::Struct(named) => {
                        named.iter().for_each(|f| referred(&f.value, &mut next));
                        named
                            .iter()
                            .map(|f| format!("`{}` {}", f.name, format(&f.value)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                    VariantFormat::Variable(_) => "unknown".to_owned(),
                };
                let _ = writeln!(out, "| {number} | `{}` | {then} |", variant.name);
            }
        }
    }
    out.push('\n');
    next
}

fn page() -> String {
    let registry = registry();
    let mut out = String::from(
        "# Postcard layout of the wire contract\n\n\
         <!-- Generated from the message types by crates/wire/tests/postcard_layout.rs; do not \
         edit. Rewrite with `UPDATE_POSTCARD=1 cargo test -p switchboard-wire --test \
         postcard_layout`. -->\n\n\
         A message with `Content-Type: application/postcard` is [postcard](https://postcard.jamesmunns.com/): \
         fields by position, in the order below, with no names. Every field is present (an \
         absent optional field is `0`); a `u8` is one byte, wider integers are varints, a \
         string or list starts with its varint length, an enum with its variant's varint \
         number (the numbers below, not the order of any table in docs/wire.md). Instants \
         (`*_at`, `*_until`, `expires_at`, `idle_since`, `at`) are varints of milliseconds \
         since the Unix epoch. A body must be used up exactly.\n\n\
         A reply is serde's `Result`: varint `0` then the success body, or varint `1` then \
         the refusal ([WireError](#wireerror)). Fields added to a reply after its first \
         version come last, so an older reader reads what it knows and ignores the rest.\n\n\
         ## Messages\n\n| message | body |\n|---|---|\n",
    );
    for (message, name) in MESSAGES {
        let _ = writeln!(out, "| {message} | [{name}](#{}) |", name.to_lowercase());
    }
    out.push_str("\n## Types\n\n");
    let mut done = BTreeSet::new();
    let mut todo: Vec<String> = MESSAGES.iter().map(|(_, n)| (*n).to_owned()).collect();
    todo.reverse();
    while let Some(name) = todo.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        let traced = registry
            .get(&name)
            .unwrap_or_else(|| panic!("{name} was not traced"));
        let mut next = container(&mut out, &name, traced);
        next.reverse();
        todo.extend(next);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[test]
fn the_postcard_page_matches_the_message_types() {
    let text = page();
    let path = page_path();
    if std::env::var_os("UPDATE_POSTCARD").is_some_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("write docs/postcard.md");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == text,
        "docs/postcard.md is out of date; run `UPDATE_POSTCARD=1 cargo test -p \
         switchboard-wire --test postcard_layout` and review the diff"
    );
}

#[test]
fn the_channel_numbers_are_those_postcard_writes() {
    use switchboard_wire::event::ChannelDto;
    let text = page();
    for (channel, number) in [
        (ChannelDto::Phone, 0),
        (ChannelDto::FaceToFace, 1),
        (ChannelDto::Chat, 2),
        (ChannelDto::Email, 3),
        (ChannelDto::Callback, 4),
    ] {
        assert_eq!(
            postcard::to_stdvec(&channel).expect("postcard"),
            [number],
            "{channel:?}"
        );
        let name = serde_json::to_value(channel).expect("JSON");
        let row = format!("| {number} | `{}` |", name.as_str().expect("a name"));
        assert!(text.contains(&row), "the page lacks {row}");
    }
}
