//! Replies to commands (and the envelope of query replies): `{"ok":true,...}` or
//! `{"ok":false,"error":{"code":"...","message":"..."}}`.
//!
//! A command's reply is sent only after its events are durable. [`reply_body`] builds the
//! success body from the command and the events it produced, with their sequence numbers: the
//! last sequence number, how many events, and where the contact or agent now stands.
//!
//! In JSON the body's fields sit beside `ok` (absent values are `null`). In postcard a reply is
//! serde's `Result`: varint `0` then the body, or varint `1` then the error.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_core::{
    Command, ContactId, Event, EventKind, LIVE_EARLIER_ARRIVAL_MAX, OfferId, Timestamp,
};

use crate::command::Format;
use crate::error::{ErrorCode, WireError};
use crate::event::Time;

/// A command's reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The command was carried out and its events are durable.
    Ok(ReplyBody),
    /// The command was refused (or could not be carried out); nothing changed.
    Error(WireError),
}

/// What a carried-out command reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReplyBody {
    /// The sequence number of the command's last event in the log (0 when it produced none).
    pub seq: u64,
    /// How many events the command produced (routing that followed it included).
    pub events: u32,
    /// The contact the command was about (for accept and reject: the offer's contact; for agent
    /// commands that led to an offer: the contact offered).
    pub contact_id: Option<String>,
    /// Where that contact stands after the command, when the command moved it: `queued`,
    /// `held`, `offered`, `assigned`, `finished`. `null` when it did not move (it is where it
    /// was: a waiting complaint moved on a stage, a due time extended) or there is no contact.
    pub status: Option<ContactStatusName>,
    /// The agent the contact is offered or assigned to.
    pub agent_id: Option<String>,
    /// The open or accepted offer of the contact.
    pub offer_id: Option<u64>,
    /// Agent commands: the agent's presence after the command, when it changed.
    pub presence: Option<PresenceName>,
    /// The command was accepted but changed nothing, so nothing was recorded (`events` and
    /// `seq` are 0): `ready` from an agent already ready, `not_ready` with the reason already
    /// in force. Added after the fields above, last, so an older reader ignores it (absent in
    /// an older engine's JSON reply: read as `false`).
    #[serde(default)]
    pub unchanged: bool,
    /// `contact.create`: the contact's first arrival, from which its service level and queue
    /// order count (`received_at` as given, or now, within the limits below);
    /// `contact.complaint_stage`: when the new stage's clock starts. Null for other commands.
    #[serde(default)]
    pub received_at: Option<Time>,
    /// What the engine changed in what the command asked, and why: a `received_at` later than
    /// now counts from now; a live contact's (phone, face to face, chat) more than an hour back
    /// counts from an hour back. Empty when it took the command as given.
    #[serde(default)]
    pub adjustments: Vec<Adjustment>,
    /// `privacy.erase`: `erased` (the customer's key is destroyed), `deferred` (it will be
    /// when the contacts they have in progress end) or `nothing_held` (no key was held: never
    /// seen, or erased before; the request is recorded all the same); also on a command whose contact's end
    /// carried out a waiting erasure. Null for other commands and for an erasure already
    /// waiting (`unchanged`). Added last, so an older reader ignores it.
    #[serde(default)]
    pub erasure: Option<ErasureName>,
}

/// What an erasure did: `erased`, `deferred` or `nothing_held`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureName {
    /// The customer's key is destroyed: their personal data reads as `[erased]` for good.
    Erased,
    /// The customer has contacts in progress: the key is destroyed as the last one ends.
    Deferred,
    /// No key was held for the customer (never seen, or erased before): nothing to destroy;
    /// the request is recorded all the same.
    NothingHeld,
}

/// A value of a command that the engine did not take as given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Adjustment {
    /// The body's field (`received_at`).
    pub field: String,
    /// Why it was adjusted.
    pub reason: AdjustmentReason,
    /// A sentence with the value given and the value used.
    pub message: String,
}

/// Why a value was adjusted.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentReason {
    /// The instant is later than the engine's now: now is used.
    InTheFuture,
    /// A live contact's first arrival is more than an hour back: an hour back is used (a
    /// customer on the line has not waited longer, and an earlier one would put the contact
    /// ahead of everyone).
    BeyondLiveLimit,
}

/// Where a contact stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactStatusName {
    /// Waiting in its queue.
    Queued,
    /// Offered to an agent, waiting for the answer.
    Offered,
    /// Being handled by an agent.
    Assigned,
    /// Completed or abandoned.
    Finished,
    /// Not known to the engine (never created, or finished and forgotten with no history).
    Unknown,
    /// Arrived while its channel was closed: waits, unoffered, until the channel opens (then
    /// `queued`).
    Held,
}

/// An agent's presence: `logged_out`, `ready`, `not_ready`, `wrap_up`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresenceName {
    /// Not logged in.
    LoggedOut,
    /// Taking work.
    Ready,
    /// Logged in, not taking new work.
    NotReady,
    /// After-contact work.
    WrapUp,
}

impl From<&switchboard_core::Presence> for PresenceName {
    fn from(presence: &switchboard_core::Presence) -> Self {
        use switchboard_core::Presence;
        match presence {
            Presence::LoggedOut => Self::LoggedOut,
            Presence::Ready => Self::Ready,
            Presence::NotReady { .. } => Self::NotReady,
            Presence::WrapUp { .. } => Self::WrapUp,
        }
    }
}

/// The success body of `command`, from the events it produced (with their sequence numbers, in
/// order).
pub fn reply_body<'a>(
    command: &Command,
    events: impl IntoIterator<Item = (u64, &'a Event)>,
) -> ReplyBody {
    let mut body = ReplyBody::default();
    let (mut contact, offer, agent): (Option<ContactId>, Option<OfferId>, _) = match command {
        Command::CreateContact(c) => (Some(c.id.clone()), None, None),
        Command::AbandonContact { contact } => (Some(contact.clone()), None, None),
        Command::LoginAgent(login) => (None, None, Some(login.agent.clone())),
        Command::MakeReady { agent }
        | Command::MakeNotReady { agent, .. }
        | Command::LogoutAgent { agent, .. } => (None, None, Some(agent.clone())),
        Command::AcceptOffer { agent, offer } | Command::RejectOffer { agent, offer, .. } => {
            (None, Some(*offer), Some(agent.clone()))
        }
        Command::CompleteContact { agent, contact, .. }
        | Command::EscalateContact { agent, contact, .. }
        | Command::TransferContact { agent, contact, .. } => {
            (Some(contact.clone()), None, Some(agent.clone()))
        }
        // The agent who moves a complaint on goes to wrap-up if they were handling it.
        Command::ChangeComplaintStage { contact, agent, .. } => {
            (Some(contact.clone()), None, agent.clone())
        }
        Command::ExtendDueTime { contact, .. } => (Some(contact.clone()), None, None),
        Command::MarkPersistentComplainant { .. } | Command::ErasePersonalData { .. } => {
            (None, None, None)
        }
    };
    // Agent commands with no contact of their own report an offer made to the agent.
    let follow_offers_to_agent = contact.is_none() && offer.is_none();
    for (seq, event) in events {
        body.seq = seq;
        body.events = body.events.saturating_add(1);
        let kind = &event.kind;
        if let Some(agent) = &agent
            && kind.agent() == Some(agent)
        {
            match kind {
                EventKind::AgentLoggedIn(_) | EventKind::AgentNotReady { .. } => {
                    body.presence = Some(PresenceName::NotReady);
                }
                EventKind::AgentReady { .. } | EventKind::WrapUpEnded { .. } => {
                    body.presence = Some(PresenceName::Ready);
                }
                EventKind::AgentLoggedOut { .. } => body.presence = Some(PresenceName::LoggedOut),
                EventKind::WrapUpStarted { .. } => body.presence = Some(PresenceName::WrapUp),
                EventKind::OfferMade(made) if follow_offers_to_agent && contact.is_none() => {
                    contact = Some(made.contact.clone());
                }
                _ => {}
            }
        }
        if let (Some(offer), None) = (offer, &contact) {
            match kind {
                EventKind::OfferAccepted {
                    offer: o,
                    contact: c,
                    ..
                }
                | EventKind::OfferRejected {
                    offer: o,
                    contact: c,
                    ..
                } if *o == offer => {
                    contact = Some(c.clone());
                }
                _ => {}
            }
        }
        match kind {
            EventKind::PersonalDataErased(erased) => {
                body.erasure = Some(if erased.customer.is_some() {
                    ErasureName::Erased
                } else {
                    ErasureName::NothingHeld
                });
            }
            EventKind::PersonalDataErasureDeferred(_) => {
                body.erasure = Some(ErasureName::Deferred);
            }
            _ => {}
        }
        if contact.is_some() && kind.contact() == contact.as_ref() {
            track_contact(&mut body, kind);
            received_at(&mut body, command, event);
        }
    }
    body.contact_id = contact.map(|c| c.to_string());
    // Every command that changes anything records at least one event.
    body.unchanged = body.events == 0;
    body
}

/// Reports the instant a contact's clock counts from, and whether the command's `received_at`
/// was adjusted to get it (the core writes both, as given and as used, into its events).
fn received_at(body: &mut ReplyBody, command: &Command, event: &Event) {
    let (asked, used) = match (command, &event.kind) {
        (Command::CreateContact(new), EventKind::ContactCreated(created)) => {
            (new.received_at, created.first_arrived_at)
        }
        (
            Command::ChangeComplaintStage { received_at, .. },
            EventKind::ComplaintStageChanged(changed),
        ) => (*received_at, changed.received_at),
        _ => return,
    };
    body.received_at = Some(used.into());
    let Some(asked) = asked.filter(|&asked| asked != used) else {
        return;
    };
    let show = |at: Timestamp| {
        crate::time::format_rfc3339(at.as_millis()).unwrap_or_else(|_| at.to_string())
    };
    let (reason, why) = if asked > used {
        (
            AdjustmentReason::InTheFuture,
            "is later than now".to_owned(),
        )
    } else {
        (
            AdjustmentReason::BeyondLiveLimit,
            format!(
                "is more than {} minutes back, the most a live contact (phone, face to face, \
                 chat) counts",
                LIVE_EARLIER_ARRIVAL_MAX.as_secs() / 60
            ),
        )
    };
    body.adjustments.push(Adjustment {
        field: "received_at".to_owned(),
        reason,
        message: format!(
            "`received_at` {} {why}: it counts from {}",
            show(asked),
            show(used)
        ),
    });
}

/// Moves the reply's view of its contact along one event about it.
fn track_contact(body: &mut ReplyBody, kind: &EventKind) {
    let queued = |body: &mut ReplyBody| {
        body.status = Some(ContactStatusName::Queued);
        body.agent_id = None;
        body.offer_id = None;
    };
    match kind {
        EventKind::ContactCreated(_)
        | EventKind::OfferRejected { .. }
        | EventKind::OfferExpired { .. }
        | EventKind::OfferRevoked { .. }
        | EventKind::ContactEscalated { .. }
        | EventKind::ContactTransferred { .. }
        | EventKind::ContactRequeued { .. }
        | EventKind::ContactReleased { .. } => queued(body),
        EventKind::ContactHeld { .. } => {
            queued(body);
            body.status = Some(ContactStatusName::Held);
        }
        EventKind::OfferMade(made) => {
            body.status = Some(ContactStatusName::Offered);
            body.agent_id = Some(made.agent.to_string());
            body.offer_id = Some(made.offer.get());
        }
        EventKind::OfferAccepted { offer, agent, .. } => {
            body.status = Some(ContactStatusName::Assigned);
            body.agent_id = Some(agent.to_string());
            body.offer_id = Some(offer.get());
        }
        EventKind::ContactCompleted { .. } | EventKind::ContactAbandoned { .. } => {
            body.status = Some(ContactStatusName::Finished);
            body.offer_id = None;
        }
        _ => {}
    }
}

#[derive(Serialize)]
struct JsonOk<'a, T> {
    ok: bool,
    #[serde(flatten)]
    body: &'a T,
}

#[derive(Serialize)]
struct JsonError<'a> {
    ok: bool,
    error: &'a WireError,
}

/// The bytes of a success (`{"ok":true, ...fields of T}`) or an error reply in `format`: the
/// envelope of command and query replies alike. `T` must serialize as a struct.
///
/// Never fails: should `T` not be writable (an instant after year 9999), the reply becomes an
/// `unavailable` error saying so.
#[must_use]
pub fn encode_result<T: Serialize>(result: Result<&T, &WireError>, format: Format) -> Vec<u8> {
    let written = match (format, result) {
        (Format::Json, Ok(body)) => serde_json::to_vec(&JsonOk { ok: true, body }).ok(),
        (Format::Json, Err(error)) => serde_json::to_vec(&JsonError { ok: false, error }).ok(),
        (Format::Postcard, result) => postcard::to_stdvec(&result).ok(),
    };
    written.unwrap_or_else(|| {
        let error = WireError::new(
            ErrorCode::Unavailable,
            "the reply cannot be encoded (an instant lies beyond year 9999)",
        );
        // Writing a code and a plain string cannot fail in either format.
        match format {
            Format::Json => serde_json::to_vec(&JsonError {
                ok: false,
                error: &error,
            })
            .unwrap_or_default(),
            Format::Postcard => postcard::to_stdvec(&Err::<(), _>(&error)).unwrap_or_default(),
        }
    })
}

/// The bytes of a command's reply in `format`.
#[must_use]
pub fn encode_reply(reply: &Reply, format: Format) -> Vec<u8> {
    match reply {
        Reply::Ok(body) => encode_result(Ok(body), format),
        Reply::Error(error) => encode_result::<ReplyBody>(Err(error), format),
    }
}

/// Reads a command's reply (for clients and tests).
///
/// # Errors
/// `invalid_message` when the bytes are not a reply in `format`.
pub fn decode_reply(bytes: &[u8], format: Format) -> Result<Reply, WireError> {
    decode_result::<ReplyBody>(bytes, format).map(|result| match result {
        Ok(body) => Reply::Ok(body),
        Err(error) => Reply::Error(error),
    })
}

/// Reads a success-or-error reply whose success body is `T` (for clients and tests).
///
/// # Errors
/// `invalid_message` when the bytes are not such a reply in `format`.
pub fn decode_result<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    format: Format,
) -> Result<Result<T, WireError>, WireError> {
    let bad = |e: &dyn std::fmt::Display| WireError::invalid(format!("not a reply: {e}"));
    match format {
        Format::Json => {
            let value: Value = serde_json::from_slice(bytes).map_err(|e| bad(&e))?;
            match value.get("ok") {
                Some(Value::Bool(true)) => {
                    serde_json::from_value(value).map(Ok).map_err(|e| bad(&e))
                }
                Some(Value::Bool(false)) => {
                    let error = value
                        .get("error")
                        .cloned()
                        .ok_or_else(|| bad(&"`ok` is false but there is no `error`"))?;
                    serde_json::from_value(error).map(Err).map_err(|e| bad(&e))
                }
                _ => Err(bad(&"field `ok` is missing or not a boolean")),
            }
        }
        Format::Postcard => postcard::from_bytes(bytes).map_err(|e| bad(&e)),
    }
}
