//! Command bodies: what telephony, chat and agent desktops send on `{p}.cmd.…` (and
//! `{p}.inbox.…`), and [`decode_command`], which turns a subject's route and a body into a core
//! [`Command`].
//!
//! Bodies are JSON objects by default, postcard when the message has the header
//! `Content-Type: application/postcard` (see [`Format`]). One Rust type per body serves both:
//! JSON reads fields by name, postcard by position, in the order they are declared here. An empty
//! body is read as `{}` (so `ready` needs no body at all).
//!
//! The rules, written down in `docs/wire.md`:
//! - **Unknown fields are refused** (`invalid_message` naming the field): a misspelt
//!   `safegaurding` must not silently route a safeguarding concern as routine work. Fields may be
//!   added in later versions of the contract; a client sends only fields the engine documents.
//! - Ids follow the id rules of [`crate::names`]; numbers are range-checked (tier and level 1–5,
//!   priority 0–9, working days 1–60); lists and maps are bounded; reasons are non-blank.
//! - An agent command's agent is named by the subject. Its body may repeat it as `agent_id`;
//!   a body naming another agent is refused with `invalid_message` (it is a malformed message,
//!   not a question of whose offer it is: nothing is looked up). Contact and customer commands
//!   (`contact.complaint_stage`, `contact.extend_due`) name an agent, when they do, in the body:
//!   they come from case-management systems and team leaders as much as from desktops.
//! - `command_id` is the idempotency key; the driver remembers the first reply to each one (and
//!   to each `Nats-Msg-Id` header) and repeats it instead of deciding the command again.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use switchboard_core::{
    AgentId, AgentLogin, Channel, Command, Level, NewContact, OfferId, PerChannel, Priority,
    SkillRequirement, Tier,
};

use crate::error::{ErrorCode, WireError};
use crate::event::{ChannelDto, ComplaintStageDto, OutcomeDto, Time};
use crate::names::{
    AGENT_ID_PATTERN, ID_BYTES_MAX, ID_PATTERN, IdKind, REQUIRED_TEXT_PATTERN, TEXT_BYTES_MAX,
    TEXT_PATTERN, check_id, check_text,
};
use crate::subjects::CommandKind;

/// The largest body accepted, in bytes; a larger one is refused with `payload_too_large`.
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;
/// The most skills a contact may require (create and transfer).
pub const CONTACT_SKILLS_MAX: usize = 16;
/// The most skills an agent may log in with.
pub const AGENT_SKILLS_MAX: usize = 256;
/// The most attributes a contact may carry.
pub const ATTRIBUTES_MAX: usize = 32;
/// The longest attribute name, in bytes.
pub const ATTRIBUTE_NAME_BYTES_MAX: usize = 64;
/// The longest attribute value, in bytes.
pub const ATTRIBUTE_VALUE_BYTES_MAX: usize = 1024;
/// The most contacts of one channel an agent may hold at once.
pub const CAPACITY_MAX: u8 = 50;
/// The most working days one extension of a due time may add (about three months: far beyond
/// what the Complaint Handling Code allows, so a typo such as `100` is refused, not applied).
pub const EXTENSION_WORKING_DAYS_MAX: u32 = 60;

/// The body's encoding, from the message's `Content-Type` header. Replies use the request's.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON (`application/json`, or no header): the default.
    #[default]
    Json,
    /// Postcard (`application/postcard`): compact binary, fields by position.
    Postcard,
}

impl Format {
    /// The content type that selects postcard.
    pub const POSTCARD_CONTENT_TYPE: &'static str = "application/postcard";
    /// The content type of JSON bodies.
    pub const JSON_CONTENT_TYPE: &'static str = "application/json";

    /// The format a `Content-Type` header asks for: `application/postcard` (case-insensitive,
    /// parameters ignored) is postcard; anything else, or no header, is JSON.
    #[must_use]
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        let Some(content_type) = content_type else {
            return Self::Json;
        };
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case(Self::POSTCARD_CONTENT_TYPE) {
            Self::Postcard
        } else {
            Self::Json
        }
    }

    /// The `Content-Type` to send with a body in this format.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Json => Self::JSON_CONTENT_TYPE,
            Self::Postcard => Self::POSTCARD_CONTENT_TYPE,
        }
    }
}

/// A decoded command and its idempotency key.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The command for the core.
    pub command: Command,
    /// The body's `command_id`, if it had one.
    pub command_id: Option<String>,
}

/// A skill a contact needs, in `contact.create` and `agent.transfer`: `{"skill": "council_tax",
/// "min_level": 2}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "an object with a `skill` and its `min_level`"
)]
pub struct SkillNeed {
    /// The skill (an id).
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub skill: String,
    /// The lowest acceptable proficiency level, 1 to 5.
    #[schemars(range(min = 1, max = 5))]
    pub min_level: u8,
}

/// Body of `{p}.cmd.contact.create`: a new contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of contact.create"
)]
#[schemars(title = "contact.create", transform = face_to_face_needs_a_site)]
pub struct CreateContactBody {
    /// The contact's id, chosen by the system that raised it (unique among live contacts).
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub contact_id: String,
    /// How it arrived.
    pub channel: ChannelDto,
    /// The service area it is about (`council_tax`, `benefits`...).
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub service: String,
    /// Skills it needs, each at or above a level 1–5; when empty, the service's own skill at
    /// level 1. At most 16, each named once.
    #[serde(default)]
    #[schemars(length(max = CONTACT_SKILLS_MAX))]
    pub skills: Vec<SkillNeed>,
    /// A community language the agent must speak (a skill, needed at level 3 by default).
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub language: Option<String>,
    /// How urgent, 0 (routine, the default) to 9.
    #[serde(default)]
    #[schemars(range(max = 9))]
    pub priority: u8,
    /// A safeguarding concern about a child or vulnerable adult: goes first, only to agents with
    /// the `safeguarding` skill.
    #[serde(default)]
    pub safeguarding: bool,
    /// The customer is vulnerable (raises the priority by 2).
    #[serde(default)]
    pub vulnerable: bool,
    /// The customer's reference in the council's records.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub customer_id: Option<String>,
    /// The case owner or agent the customer asked for.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub preferred_agent_id: Option<String>,
    /// The site: **required for `face_to_face`** (the building the customer is standing in); a
    /// preference for other channels.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub site: Option<String>,
    /// Deferred work: when it must be done by (default: email 2 days, callback 4 hours).
    #[serde(default)]
    pub due_at: Option<Time>,
    /// When the customer first made contact, if earlier than now; service levels count from it.
    #[serde(default)]
    pub received_at: Option<Time>,
    /// The complaint stage, if this is a complaint.
    #[serde(default)]
    pub complaint_stage: Option<ComplaintStageDto>,
    /// Free-form attributes shown on the desktop, never used for routing: at most 32, names of at
    /// most 64 bytes following the id rules, values of at most 1024 bytes.
    #[serde(default, deserialize_with = "unique_keys")]
    #[schemars(schema_with = "attributes_schema")]
    pub attributes: BTreeMap<String, String>,
    /// The idempotency key: a repeat returns the first reply and has no second effect.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.contact.abandon`: the customer left before being answered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of contact.abandon"
)]
#[schemars(title = "contact.abandon")]
pub struct AbandonContactBody {
    /// The contact.
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub contact_id: String,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Capacities per channel in a login: how many contacts of each channel the agent may hold at
/// once, 0 to 50. A channel left out takes nothing (0).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "an object of capacities per channel")]
pub struct ChannelCapacities {
    /// Phone calls (usually 1).
    #[serde(default)]
    #[schemars(range(max = 50))]
    pub phone: Option<u8>,
    /// Face-to-face visits (usually 1).
    #[serde(default)]
    #[schemars(range(max = 50))]
    pub face_to_face: Option<u8>,
    /// Chats (e.g. 3).
    #[serde(default)]
    #[schemars(range(max = 50))]
    pub chat: Option<u8>,
    /// Emails and correspondence (e.g. 5).
    #[serde(default)]
    #[schemars(range(max = 50))]
    pub email: Option<u8>,
    /// Callbacks (usually 1).
    #[serde(default)]
    #[schemars(range(max = 50))]
    pub callback: Option<u8>,
}

/// Body of `{p}.cmd.agent.<agent_id>.login`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of agent.login"
)]
#[schemars(title = "agent.login")]
pub struct LoginBody {
    /// The escalation tier, 1 (customer service representative) to 5 (specialist).
    #[schemars(range(min = 1, max = 5))]
    pub tier: u8,
    /// Where they work today.
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub site: String,
    /// Skills and proficiency levels 1–5, e.g. `{"council_tax": 3, "polish": 4}`; at least one,
    /// at most 256.
    #[serde(deserialize_with = "unique_keys")]
    #[schemars(schema_with = "login_skills_schema")]
    pub skills: BTreeMap<String, u8>,
    /// Capacity per channel; when absent, the engine's defaults (phone 1, face to face 1, chat 3,
    /// email 5, callback 1 unless configured otherwise).
    #[serde(default)]
    pub channels: Option<ChannelCapacities>,
    /// Display name (at most 512 bytes); the agent id when absent.
    #[serde(default)]
    #[schemars(regex(pattern = REQUIRED_TEXT_PATTERN), length(min = 1, max = TEXT_BYTES_MAX))]
    pub name: Option<String>,
    /// The agent, if the body repeats it: must match the subject's.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.agent.<agent_id>.ready` (may be empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of agent.ready"
)]
#[schemars(title = "agent.ready")]
pub struct ReadyBody {
    /// The agent, if the body repeats it: must match the subject's.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.agent.<agent_id>.not_ready`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of agent.not_ready"
)]
#[schemars(title = "agent.not_ready")]
pub struct NotReadyBody {
    /// Why (break, training, meeting...): non-empty, at most 512 bytes.
    #[schemars(regex(pattern = REQUIRED_TEXT_PATTERN), length(min = 1, max = TEXT_BYTES_MAX))]
    pub reason: String,
    /// The agent, if the body repeats it: must match the subject's.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.agent.<agent_id>.logout` (may be empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of agent.logout"
)]
#[schemars(title = "agent.logout")]
pub struct LogoutBody {
    /// Requeue live work in hand (a call, a walk-in, a chat) instead of refusing the logout.
    #[serde(default)]
    pub force: bool,
    /// The agent, if the body repeats it: must match the subject's.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.agent.<agent_id>.accept`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of agent.accept"
)]
#[schemars(title = "agent.accept")]
pub struct AcceptBody {
    /// The offer, as received on `{p}.agent.<agent_id>.offer`.
    pub offer_id: u64,
    /// The agent, if the body repeats it: must match the subject's.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.agent.<agent_id>.reject`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of agent.reject"
)]
#[schemars(title = "agent.reject")]
pub struct RejectBody {
    /// The offer.
    pub offer_id: u64,
    /// Why, if the agent says (at most 512 bytes).
    #[serde(default)]
    #[schemars(regex(pattern = TEXT_PATTERN), length(max = TEXT_BYTES_MAX))]
    pub reason: Option<String>,
    /// The agent, if the body repeats it: must match the subject's.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.agent.<agent_id>.complete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of agent.complete"
)]
#[schemars(title = "agent.complete")]
pub struct CompleteBody {
    /// The contact.
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub contact_id: String,
    /// How it ended.
    pub outcome: OutcomeDto,
    /// The agent, if the body repeats it: must match the subject's.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.agent.<agent_id>.escalate`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of agent.escalate"
)]
#[schemars(title = "agent.escalate")]
pub struct EscalateBody {
    /// The contact.
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub contact_id: String,
    /// Why: non-empty, at most 512 bytes.
    #[schemars(regex(pattern = REQUIRED_TEXT_PATTERN), length(min = 1, max = TEXT_BYTES_MAX))]
    pub reason: String,
    /// The tier, 1–5, to escalate to; by default the tier above both the agent's and the
    /// contact's.
    #[serde(default)]
    #[schemars(range(min = 1, max = 5))]
    pub to_tier: Option<u8>,
    /// The agent, if the body repeats it: must match the subject's.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.agent.<agent_id>.transfer`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of agent.transfer"
)]
#[schemars(title = "agent.transfer")]
pub struct TransferBody {
    /// The contact.
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub contact_id: String,
    /// The service it goes to.
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub service: String,
    /// The skills it now needs (at most 16); by default the new service's own skill.
    #[serde(default)]
    #[schemars(length(max = CONTACT_SKILLS_MAX))]
    pub skills: Vec<SkillNeed>,
    /// The agent, if the body repeats it: must match the subject's.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.contact.complaint_stage`: a complaint moves on a stage (stage 1 to stage 2,
/// or a referral to the Ombudsman) and the new stage's clock starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of contact.complaint_stage"
)]
#[schemars(title = "contact.complaint_stage")]
pub struct ComplaintStageBody {
    /// The complaint.
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub contact_id: String,
    /// The agent handling it, who lets it go back to the queue at its new stage; required when it
    /// is being handled (and must be its agent), optional otherwise.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// The stage it moves to, `stage_2` or `ombudsman`: a stage only moves on.
    pub to: ComplaintStageDto,
    /// Why (the customer's request to escalate, the Ombudsman's referral): non-empty, at most
    /// 512 bytes.
    #[schemars(regex(pattern = REQUIRED_TEXT_PATTERN), length(min = 1, max = TEXT_BYTES_MAX))]
    pub reason: String,
    /// When the request for the new stage was received, if earlier than now (a letter scanned
    /// later): the stage's clock counts from here.
    #[serde(default)]
    pub received_at: Option<Time>,
    /// The response due time, when someone else sets it (the Ombudsman does); by default it
    /// comes from the complaint rules.
    #[serde(default)]
    pub due_at: Option<Time>,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.contact.extend_due`: a contact's due time moves back by working days, for a
/// reason given to the customer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of contact.extend_due"
)]
#[schemars(title = "contact.extend_due")]
pub struct ExtendDueBody {
    /// The contact (it must have a due time).
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub contact_id: String,
    /// The agent or manager extending it, for the record.
    #[serde(default)]
    #[schemars(regex(pattern = AGENT_ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub agent_id: Option<String>,
    /// How many working days to add, 1 to 60.
    #[schemars(range(min = 1, max = 60))]
    pub working_days: u32,
    /// Why, in words fit for the customer (every extension must be explained): non-empty, at
    /// most 512 bytes.
    #[schemars(regex(pattern = REQUIRED_TEXT_PATTERN), length(min = 1, max = TEXT_BYTES_MAX))]
    pub reason: String,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.customer.persistent_complainant`: a customer is designated a persistent
/// complainant (their complaints then go only to the designated officers), or the designation
/// is lifted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of customer.persistent_complainant"
)]
#[schemars(title = "customer.persistent_complainant")]
pub struct PersistentComplainantBody {
    /// The customer's reference, as in `contact.create`'s `customer_id`.
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub customer_id: String,
    /// Designate (`true`) or lift the designation (`false`).
    pub designated: bool,
    /// The policy decision being recorded: non-empty, at most 512 bytes.
    #[schemars(regex(pattern = REQUIRED_TEXT_PATTERN), length(min = 1, max = TEXT_BYTES_MAX))]
    pub reason: String,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Body of `{p}.cmd.privacy.erase`: a customer's personal data is to be erased (their key
/// destroyed, so what was sealed under it reads as `[erased]` for good); at once, or when the
/// contacts they have in progress end. An administrator's command (docs/privacy.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of privacy.erase"
)]
#[schemars(title = "privacy.erase")]
pub struct EraseBody {
    /// The customer's reference, as in `contact.create`'s `customer_id`.
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub customer_id: String,
    /// The idempotency key.
    #[serde(default)]
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub command_id: Option<String>,
}

/// Any command body, with the command it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandBody {
    /// `contact.create`.
    CreateContact(Box<CreateContactBody>),
    /// `contact.abandon`.
    AbandonContact(AbandonContactBody),
    /// `agent.login`.
    Login(LoginBody),
    /// `agent.ready`.
    Ready(ReadyBody),
    /// `agent.not_ready`.
    NotReady(NotReadyBody),
    /// `agent.logout`.
    Logout(LogoutBody),
    /// `agent.accept`.
    Accept(AcceptBody),
    /// `agent.reject`.
    Reject(RejectBody),
    /// `agent.complete`.
    Complete(CompleteBody),
    /// `agent.escalate`.
    Escalate(EscalateBody),
    /// `agent.transfer`.
    Transfer(TransferBody),
    /// `contact.complaint_stage`.
    ComplaintStage(ComplaintStageBody),
    /// `contact.extend_due`.
    ExtendDue(ExtendDueBody),
    /// `customer.persistent_complainant`.
    PersistentComplainant(PersistentComplainantBody),
    /// `privacy.erase`.
    Erase(EraseBody),
}

impl CommandBody {
    /// The command this body belongs to.
    #[must_use]
    pub const fn kind(&self) -> CommandKind {
        match self {
            Self::CreateContact(_) => CommandKind::CreateContact,
            Self::AbandonContact(_) => CommandKind::AbandonContact,
            Self::Login(_) => CommandKind::Login,
            Self::Ready(_) => CommandKind::Ready,
            Self::NotReady(_) => CommandKind::NotReady,
            Self::Logout(_) => CommandKind::Logout,
            Self::Accept(_) => CommandKind::Accept,
            Self::Reject(_) => CommandKind::Reject,
            Self::Complete(_) => CommandKind::Complete,
            Self::Escalate(_) => CommandKind::Escalate,
            Self::Transfer(_) => CommandKind::Transfer,
            Self::ComplaintStage(_) => CommandKind::ChangeComplaintStage,
            Self::ExtendDue(_) => CommandKind::ExtendDueTime,
            Self::PersistentComplainant(_) => CommandKind::MarkPersistentComplainant,
            Self::Erase(_) => CommandKind::ErasePersonalData,
        }
    }

    /// The body that asks for `command` (what a client sends), with its agent for the subject.
    /// The agent is not repeated in the body.
    #[must_use]
    pub fn from_command(command: &Command, command_id: Option<&str>) -> (Self, Option<AgentId>) {
        let command_id = command_id.map(str::to_owned);
        if let Some((body, agent)) = Self::from_agent_command(command, command_id.clone()) {
            return (body, Some(agent));
        }
        let body = Self::from_contact_command(command, command_id);
        (
            body.expect("every command is an agent's or a contact's"),
            None,
        )
    }

    /// The body of a command on `{p}.cmd.agent.<id>.…`, with the agent; `None` for others.
    fn from_agent_command(
        command: &Command,
        command_id: Option<String>,
    ) -> Option<(Self, AgentId)> {
        let text = |s: &str| s.to_owned();
        match command {
            Command::LoginAgent(login) => Some((
                Self::Login(LoginBody::from_login(login, command_id)),
                login.agent.clone(),
            )),
            Command::MakeReady { agent } => Some((
                Self::Ready(ReadyBody {
                    agent_id: None,
                    command_id,
                }),
                agent.clone(),
            )),
            Command::MakeNotReady { agent, reason } => Some((
                Self::NotReady(NotReadyBody {
                    reason: text(reason),
                    agent_id: None,
                    command_id,
                }),
                agent.clone(),
            )),
            Command::LogoutAgent { agent, force } => Some((
                Self::Logout(LogoutBody {
                    force: *force,
                    agent_id: None,
                    command_id,
                }),
                agent.clone(),
            )),
            Command::AcceptOffer { agent, offer } => Some((
                Self::Accept(AcceptBody {
                    offer_id: offer.get(),
                    agent_id: None,
                    command_id,
                }),
                agent.clone(),
            )),
            Command::RejectOffer {
                agent,
                offer,
                reason,
            } => Some((
                Self::Reject(RejectBody {
                    offer_id: offer.get(),
                    reason: reason.as_ref().map(|s| text(s)),
                    agent_id: None,
                    command_id,
                }),
                agent.clone(),
            )),
            Command::CompleteContact {
                agent,
                contact,
                outcome,
            } => Some((
                Self::Complete(CompleteBody {
                    contact_id: text(contact),
                    outcome: (*outcome).into(),
                    agent_id: None,
                    command_id,
                }),
                agent.clone(),
            )),
            Command::EscalateContact {
                agent,
                contact,
                reason,
                to_tier,
            } => Some((
                Self::Escalate(EscalateBody {
                    contact_id: text(contact),
                    reason: text(reason),
                    to_tier: to_tier.map(Tier::get),
                    agent_id: None,
                    command_id,
                }),
                agent.clone(),
            )),
            Command::TransferContact {
                agent,
                contact,
                service,
                skills,
            } => Some((
                Self::Transfer(TransferBody::asking(contact, service, skills, command_id)),
                agent.clone(),
            )),
            Command::CreateContact(_)
            | Command::AbandonContact { .. }
            | Command::ChangeComplaintStage { .. }
            | Command::ExtendDueTime { .. }
            | Command::MarkPersistentComplainant { .. }
            | Command::ErasePersonalData { .. } => None,
        }
    }

    /// The body of a command on `{p}.cmd.contact.…` or `{p}.cmd.customer.…`; `None` for others.
    fn from_contact_command(command: &Command, command_id: Option<String>) -> Option<Self> {
        let text = |s: &str| s.to_owned();
        match command {
            Command::CreateContact(c) => Some(Self::CreateContact(Box::new(
                CreateContactBody::from_new(c, command_id),
            ))),
            Command::AbandonContact { contact } => Some(Self::AbandonContact(AbandonContactBody {
                contact_id: text(contact),
                command_id,
            })),
            Command::ChangeComplaintStage {
                contact,
                agent,
                to,
                reason,
                received_at,
                due_at,
            } => Some(Self::ComplaintStage(ComplaintStageBody {
                contact_id: text(contact),
                agent_id: agent.as_ref().map(|a| text(a)),
                to: (*to).into(),
                reason: text(reason),
                received_at: received_at.map(Time::from),
                due_at: due_at.map(Time::from),
                command_id,
            })),
            Command::ExtendDueTime {
                contact,
                agent,
                working_days,
                reason,
            } => Some(Self::ExtendDue(ExtendDueBody {
                contact_id: text(contact),
                agent_id: agent.as_ref().map(|a| text(a)),
                working_days: *working_days,
                reason: text(reason),
                command_id,
            })),
            Command::MarkPersistentComplainant {
                customer,
                designated,
                reason,
            } => Some(Self::PersistentComplainant(PersistentComplainantBody {
                customer_id: text(customer),
                designated: *designated,
                reason: text(reason),
                command_id,
            })),
            // What a client sends: the reference (the node turns it into the pseudonym).
            Command::ErasePersonalData { customer, .. } => Some(Self::Erase(EraseBody {
                customer_id: customer.as_deref().map(text).unwrap_or_default(),
                command_id,
            })),
            Command::LoginAgent(_)
            | Command::MakeReady { .. }
            | Command::MakeNotReady { .. }
            | Command::LogoutAgent { .. }
            | Command::AcceptOffer { .. }
            | Command::RejectOffer { .. }
            | Command::CompleteContact { .. }
            | Command::EscalateContact { .. }
            | Command::TransferContact { .. } => None,
        }
    }

    /// The body's bytes in `format`.
    ///
    /// # Errors
    /// `invalid_message` when a time in it lies beyond year 9999 (JSON cannot write it).
    pub fn encode(&self, format: Format) -> Result<Vec<u8>, WireError> {
        match self {
            Self::CreateContact(b) => encode(b.as_ref(), format),
            Self::AbandonContact(b) => encode(b, format),
            Self::Login(b) => encode(b, format),
            Self::Ready(b) => encode(b, format),
            Self::NotReady(b) => encode(b, format),
            Self::Logout(b) => encode(b, format),
            Self::Accept(b) => encode(b, format),
            Self::Reject(b) => encode(b, format),
            Self::Complete(b) => encode(b, format),
            Self::Escalate(b) => encode(b, format),
            Self::Transfer(b) => encode(b, format),
            Self::ComplaintStage(b) => encode(b, format),
            Self::ExtendDue(b) => encode(b, format),
            Self::PersistentComplainant(b) => encode(b, format),
            Self::Erase(b) => encode(b, format),
        }
    }
}

/// Reads a map whose keys must each be given once: a repeated key (`{"tax":1,"tax":5}`) is an
/// error, not a silent choice of one value, as a repeated field of a body is.
fn unique_keys<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct UniqueKeys<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for UniqueKeys<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object whose keys are each given once")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                if out.contains_key(&key) {
                    return Err(serde::de::Error::custom(format_args!(
                        "key `{}` is given twice",
                        shorten(&key)
                    )));
                }
                let value = map.next_value()?;
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(UniqueKeys(std::marker::PhantomData))
}

/// `attributes` in JSON Schema: at most [`ATTRIBUTES_MAX`] names following the id rules (at
/// most [`ATTRIBUTE_NAME_BYTES_MAX`] long), each a string of at most
/// [`ATTRIBUTE_VALUE_BYTES_MAX`] (characters there, bytes in the engine).
fn attributes_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": ATTRIBUTES_MAX,
        "propertyNames": {
            "pattern": ID_PATTERN,
            "minLength": 1,
            "maxLength": ATTRIBUTE_NAME_BYTES_MAX,
        },
        "additionalProperties": {"type": "string", "maxLength": ATTRIBUTE_VALUE_BYTES_MAX},
    })
}

/// A login's `skills` in JSON Schema: 1 to [`AGENT_SKILLS_MAX`] skills (ids), each at a
/// proficiency level 1 to 5.
fn login_skills_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "minProperties": 1,
        "maxProperties": AGENT_SKILLS_MAX,
        "propertyNames": {"pattern": ID_PATTERN, "minLength": 1, "maxLength": ID_BYTES_MAX},
        "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 5},
    })
}

/// In JSON Schema, a `face_to_face` contact must name its `site` (a string, not null).
fn face_to_face_needs_a_site(schema: &mut Schema) {
    schema.insert(
        "if".into(),
        serde_json::json!({
            "properties": {"channel": {"const": "face_to_face"}},
            "required": ["channel"],
        }),
    );
    schema.insert(
        "then".into(),
        serde_json::json!({
            "properties": {"site": {"type": "string"}},
            "required": ["site"],
        }),
    );
}

fn encode<T: Serialize>(body: &T, format: Format) -> Result<Vec<u8>, WireError> {
    match format {
        Format::Json => serde_json::to_vec(body).map_err(|e| WireError::invalid(e.to_string())),
        Format::Postcard => {
            postcard::to_stdvec(body).map_err(|e| WireError::invalid(e.to_string()))
        }
    }
}

/// Reads a body of type `T`: an empty body is `{}`; JSON must be one value and nothing after it;
/// postcard must be used up exactly. The error names the field that did not fit.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8], format: Format) -> Result<T, WireError> {
    check_size(body)?;
    let (body, format) = if body.is_empty() {
        (&b"{}"[..], Format::Json)
    } else {
        (body, format)
    };
    match format {
        Format::Json => {
            // serde would also read a struct from an array of its fields, by position: JSON
            // bodies are objects, and only objects.
            if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(WireError::invalid(
                    "not a valid JSON body: a body must be a JSON object",
                ));
            }
            let mut de = serde_json::Deserializer::from_slice(body);
            let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                if matches!(
                    e.inner().classify(),
                    serde_json::error::Category::Syntax | serde_json::error::Category::Eof
                ) {
                    WireError::invalid(format!("not valid JSON: {}", e.inner()))
                } else {
                    describe(&e.path().to_string(), e.inner(), "JSON")
                }
            })?;
            de.end().map_err(|e| {
                WireError::invalid(format!("trailing data after the JSON body: {e}"))
            })?;
            Ok(value)
        }
        Format::Postcard => {
            let mut de = postcard::Deserializer::from_bytes(body);
            let value: T = serde_path_to_error::deserialize(&mut de)
                .map_err(|e| describe(&e.path().to_string(), e.inner(), "postcard"))?;
            let rest = de
                .finalize()
                .map_err(|e| WireError::invalid(format!("not a postcard body: {e}")))?;
            if !rest.is_empty() {
                return Err(WireError::invalid(format!(
                    "{} bytes of trailing data after the postcard body",
                    rest.len()
                )));
            }
            Ok(value)
        }
    }
}

fn describe(path: &str, error: &dyn std::fmt::Display, format: &str) -> WireError {
    if path.is_empty() || path == "." || path.contains('?') {
        WireError::invalid(format!("not a valid {format} body: {error}"))
    } else {
        WireError::invalid(format!("field `{path}`: {error}"))
    }
}

/// Turns a command subject's route and body into a core command.
///
/// `agent` is the agent id from the subject (`{p}.cmd.agent.<agent_id>.<verb>`), required for
/// agent commands and ignored for contact commands.
///
/// # Errors
/// A [`WireError`]: `payload_too_large` for a body over [`PAYLOAD_BYTES_MAX`], `unknown_subject`
/// for an agent command without a valid agent, `invalid_message` for anything wrong with the
/// body, naming the field. Never panics, whatever the bytes.
pub fn decode_command(
    route: CommandKind,
    agent: Option<&AgentId>,
    body: &[u8],
    format: Format,
) -> Result<Decoded, WireError> {
    check_size(body)?;
    let decoded = match route {
        CommandKind::CreateContact => contact_command::<CreateContactBody>(body, format),
        CommandKind::AbandonContact => contact_command::<AbandonContactBody>(body, format),
        CommandKind::ChangeComplaintStage => contact_command::<ComplaintStageBody>(body, format),
        CommandKind::ExtendDueTime => contact_command::<ExtendDueBody>(body, format),
        CommandKind::MarkPersistentComplainant => {
            contact_command::<PersistentComplainantBody>(body, format)
        }
        CommandKind::ErasePersonalData => contact_command::<EraseBody>(body, format),
        CommandKind::Login => agent_command::<LoginBody>(route, agent, body, format),
        CommandKind::Ready => agent_command::<ReadyBody>(route, agent, body, format),
        CommandKind::NotReady => agent_command::<NotReadyBody>(route, agent, body, format),
        CommandKind::Logout => agent_command::<LogoutBody>(route, agent, body, format),
        CommandKind::Accept => agent_command::<AcceptBody>(route, agent, body, format),
        CommandKind::Reject => agent_command::<RejectBody>(route, agent, body, format),
        CommandKind::Complete => agent_command::<CompleteBody>(route, agent, body, format),
        CommandKind::Escalate => agent_command::<EscalateBody>(route, agent, body, format),
        CommandKind::Transfer => agent_command::<TransferBody>(route, agent, body, format),
    }?;
    if let Some(id) = &decoded.command_id {
        check_id("command_id", id, IdKind::Other)?;
    }
    Ok(decoded)
}

/// The body of a command on a contact or a customer (no agent in its subject).
trait ContactCommandBody: DeserializeOwned {
    /// The core command, checked, and the body's `command_id`.
    fn decode(self) -> Result<Decoded, WireError>;
}

/// The body of an agent command, `{p}.cmd.agent.<agent_id>.<verb>`.
trait AgentCommandBody: DeserializeOwned {
    /// The core command of the subject's `agent`, checked, and the body's `command_id`.
    fn decode(self, agent: AgentId) -> Result<Decoded, WireError>;
}

/// Parses and decodes a contact or customer command's body.
fn contact_command<B: ContactCommandBody>(
    body: &[u8],
    format: Format,
) -> Result<Decoded, WireError> {
    parse_body::<B>(body, format)?.decode()
}

/// Checks the agent of an agent command's subject, then parses and decodes its body.
fn agent_command<B: AgentCommandBody>(
    route: CommandKind,
    agent: Option<&AgentId>,
    body: &[u8],
    format: Format,
) -> Result<Decoded, WireError> {
    let agent = subject_agent(route, agent)?;
    parse_body::<B>(body, format)?.decode(agent)
}

impl ContactCommandBody for CreateContactBody {
    fn decode(self) -> Result<Decoded, WireError> {
        let command_id = self.command_id.clone();
        let command = create_contact(self)?;
        Ok(Decoded {
            command,
            command_id,
        })
    }
}

impl ContactCommandBody for AbandonContactBody {
    fn decode(self) -> Result<Decoded, WireError> {
        check_id("contact_id", &self.contact_id, IdKind::Other)?;
        let command = Command::AbandonContact {
            contact: self.contact_id.into(),
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl ContactCommandBody for ComplaintStageBody {
    fn decode(self) -> Result<Decoded, WireError> {
        check_id("contact_id", &self.contact_id, IdKind::Other)?;
        let agent = optional_id("agent_id", self.agent_id, IdKind::Agent)?;
        check_text("reason", &self.reason, true)?;
        let command = Command::ChangeComplaintStage {
            contact: self.contact_id.into(),
            agent: agent.map(Into::into),
            to: self.to.into(),
            reason: self.reason.into(),
            received_at: self.received_at.map(Into::into),
            due_at: self.due_at.map(Into::into),
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl ContactCommandBody for ExtendDueBody {
    fn decode(self) -> Result<Decoded, WireError> {
        check_id("contact_id", &self.contact_id, IdKind::Other)?;
        let agent = optional_id("agent_id", self.agent_id, IdKind::Agent)?;
        if !(1..=EXTENSION_WORKING_DAYS_MAX).contains(&self.working_days) {
            return Err(WireError::invalid(format!(
                "field `working_days`: {} is not a number of working days to add (1 to \
                 {EXTENSION_WORKING_DAYS_MAX})",
                self.working_days
            )));
        }
        check_text("reason", &self.reason, true)?;
        let command = Command::ExtendDueTime {
            contact: self.contact_id.into(),
            agent: agent.map(Into::into),
            working_days: self.working_days,
            reason: self.reason.into(),
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl ContactCommandBody for PersistentComplainantBody {
    fn decode(self) -> Result<Decoded, WireError> {
        check_id("customer_id", &self.customer_id, IdKind::Other)?;
        check_text("reason", &self.reason, true)?;
        let command = Command::MarkPersistentComplainant {
            customer: self.customer_id.into(),
            designated: self.designated,
            reason: self.reason.into(),
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl ContactCommandBody for EraseBody {
    /// The command holds the reference as given and no pseudonym: the node, which holds the
    /// keys, puts the pseudonym in and the sealed reference in place of the given one before
    /// the core sees it (the core refuses an erasure without a pseudonym).
    fn decode(self) -> Result<Decoded, WireError> {
        check_id("customer_id", &self.customer_id, IdKind::Other)?;
        let command = Command::ErasePersonalData {
            customer: Some(self.customer_id.into()),
            subject: "".into(),
            reason: switchboard_core::ErasureReason::Request,
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl AgentCommandBody for LoginBody {
    fn decode(self, agent: AgentId) -> Result<Decoded, WireError> {
        same_agent(self.agent_id.as_deref(), &agent)?;
        let command_id = self.command_id.clone();
        let command = login(agent, self)?;
        Ok(Decoded {
            command,
            command_id,
        })
    }
}

impl AgentCommandBody for ReadyBody {
    fn decode(self, agent: AgentId) -> Result<Decoded, WireError> {
        same_agent(self.agent_id.as_deref(), &agent)?;
        let command = Command::MakeReady { agent };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl AgentCommandBody for NotReadyBody {
    fn decode(self, agent: AgentId) -> Result<Decoded, WireError> {
        same_agent(self.agent_id.as_deref(), &agent)?;
        check_text("reason", &self.reason, true)?;
        let command = Command::MakeNotReady {
            agent,
            reason: self.reason.into(),
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl AgentCommandBody for LogoutBody {
    fn decode(self, agent: AgentId) -> Result<Decoded, WireError> {
        same_agent(self.agent_id.as_deref(), &agent)?;
        let command = Command::LogoutAgent {
            agent,
            force: self.force,
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl AgentCommandBody for AcceptBody {
    fn decode(self, agent: AgentId) -> Result<Decoded, WireError> {
        same_agent(self.agent_id.as_deref(), &agent)?;
        let command = Command::AcceptOffer {
            agent,
            offer: OfferId::new(self.offer_id),
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl AgentCommandBody for RejectBody {
    fn decode(self, agent: AgentId) -> Result<Decoded, WireError> {
        same_agent(self.agent_id.as_deref(), &agent)?;
        if let Some(reason) = &self.reason {
            check_text("reason", reason, false)?;
        }
        let command = Command::RejectOffer {
            agent,
            offer: OfferId::new(self.offer_id),
            reason: self.reason.map(Into::into),
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl AgentCommandBody for CompleteBody {
    fn decode(self, agent: AgentId) -> Result<Decoded, WireError> {
        same_agent(self.agent_id.as_deref(), &agent)?;
        check_id("contact_id", &self.contact_id, IdKind::Other)?;
        let command = Command::CompleteContact {
            agent,
            contact: self.contact_id.into(),
            outcome: self.outcome.into(),
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl AgentCommandBody for EscalateBody {
    fn decode(self, agent: AgentId) -> Result<Decoded, WireError> {
        same_agent(self.agent_id.as_deref(), &agent)?;
        check_id("contact_id", &self.contact_id, IdKind::Other)?;
        check_text("reason", &self.reason, true)?;
        let to_tier = self.to_tier.map(|t| tier("to_tier", t)).transpose()?;
        let command = Command::EscalateContact {
            agent,
            contact: self.contact_id.into(),
            reason: self.reason.into(),
            to_tier,
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

impl AgentCommandBody for TransferBody {
    fn decode(self, agent: AgentId) -> Result<Decoded, WireError> {
        same_agent(self.agent_id.as_deref(), &agent)?;
        check_id("contact_id", &self.contact_id, IdKind::Other)?;
        check_id("service", &self.service, IdKind::Other)?;
        let command = Command::TransferContact {
            agent,
            contact: self.contact_id.into(),
            service: self.service.into(),
            skills: requirements(&self.skills)?,
        };
        Ok(Decoded {
            command,
            command_id: self.command_id,
        })
    }
}

/// The agent named by an agent command's subject, checked against the id rules.
fn subject_agent(route: CommandKind, agent: Option<&AgentId>) -> Result<AgentId, WireError> {
    let agent = agent.ok_or_else(|| {
        WireError::unknown_subject(format!(
            "agent.{} needs the agent id in its subject",
            route.verb()
        ))
    })?;
    check_id("agent_id", agent, IdKind::Agent)
        .map_err(|e| WireError::unknown_subject(format!("the subject's {}", e.message)))?;
    Ok(agent.clone())
}

/// Refuses a body over [`PAYLOAD_BYTES_MAX`].
fn check_size(body: &[u8]) -> Result<(), WireError> {
    if body.len() > PAYLOAD_BYTES_MAX {
        return Err(WireError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the body is {} bytes, more than {PAYLOAD_BYTES_MAX}",
                body.len()
            ),
        ));
    }
    Ok(())
}

fn same_agent(named: Option<&str>, subject: &AgentId) -> Result<(), WireError> {
    match named {
        Some(named) if named != subject.as_str() => Err(WireError::invalid(format!(
            "field `agent_id`: the body names agent `{}` but the subject is agent `{subject}`'s",
            shorten(named)
        ))),
        _ => Ok(()),
    }
}

fn shorten(text: &str) -> &str {
    let mut end = text.len().min(ID_BYTES_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn tier(field: &str, n: u8) -> Result<Tier, WireError> {
    Tier::new(n)
        .ok_or_else(|| WireError::invalid(format!("field `{field}`: {n} is not a tier (1 to 5)")))
}

fn level(field: &str, n: u8) -> Result<Level, WireError> {
    Level::new(n).ok_or_else(|| {
        WireError::invalid(format!(
            "field `{field}`: {n} is not a proficiency level (1 to 5)"
        ))
    })
}

fn requirements(skills: &[SkillNeed]) -> Result<Vec<SkillRequirement>, WireError> {
    if skills.len() > CONTACT_SKILLS_MAX {
        return Err(WireError::invalid(format!(
            "field `skills`: {} skills, more than {CONTACT_SKILLS_MAX}",
            skills.len()
        )));
    }
    let mut out: Vec<SkillRequirement> = Vec::with_capacity(skills.len());
    for (i, r) in skills.iter().enumerate() {
        check_id(&format!("skills[{i}].skill"), &r.skill, IdKind::Other)?;
        if out.iter().any(|o| o.skill.as_str() == r.skill) {
            return Err(WireError::invalid(format!(
                "field `skills[{i}].skill`: skill `{}` is named twice",
                r.skill
            )));
        }
        out.push(SkillRequirement {
            skill: r.skill.as_str().into(),
            min_level: level(&format!("skills[{i}].min_level"), r.min_level)?,
        });
    }
    Ok(out)
}

fn optional_id(field: &str, id: Option<String>, kind: IdKind) -> Result<Option<String>, WireError> {
    if let Some(id) = &id {
        check_id(field, id, kind)?;
    }
    Ok(id)
}

fn create_contact(b: CreateContactBody) -> Result<Command, WireError> {
    check_id("contact_id", &b.contact_id, IdKind::Other)?;
    check_id("service", &b.service, IdKind::Other)?;
    let skills = requirements(&b.skills)?;
    let language = optional_id("language", b.language, IdKind::Other)?;
    let priority = Priority::new(b.priority).ok_or_else(|| {
        WireError::invalid(format!(
            "field `priority`: {} is not a priority (0 to 9)",
            b.priority
        ))
    })?;
    let customer = optional_id("customer_id", b.customer_id, IdKind::Other)?;
    let preferred_agent = optional_id("preferred_agent_id", b.preferred_agent_id, IdKind::Agent)?;
    let site = optional_id("site", b.site, IdKind::Other)?;
    let channel = Channel::from(b.channel);
    if channel == Channel::FaceToFace && site.is_none() {
        return Err(WireError::invalid(
            "field `site` is required for face_to_face contacts (the building the customer is in)",
        ));
    }
    if b.attributes.len() > ATTRIBUTES_MAX {
        return Err(WireError::invalid(format!(
            "field `attributes`: {} attributes, more than {ATTRIBUTES_MAX}",
            b.attributes.len()
        )));
    }
    for (name, value) in &b.attributes {
        check_id("attributes", name, IdKind::Other)?;
        if name.len() > ATTRIBUTE_NAME_BYTES_MAX {
            return Err(WireError::invalid(format!(
                "field `attributes`: the name `{name}` is longer than {ATTRIBUTE_NAME_BYTES_MAX} bytes"
            )));
        }
        if value.len() > ATTRIBUTE_VALUE_BYTES_MAX {
            return Err(WireError::invalid(format!(
                "field `attributes.{name}`: {} bytes, more than {ATTRIBUTE_VALUE_BYTES_MAX}",
                value.len()
            )));
        }
    }
    Ok(Command::CreateContact(Box::new(NewContact {
        id: b.contact_id.into(),
        channel,
        service: b.service.into(),
        skills,
        language: language.map(Into::into),
        priority,
        safeguarding: b.safeguarding,
        vulnerable: b.vulnerable,
        customer: customer.map(Into::into),
        preferred_agent: preferred_agent.map(Into::into),
        site: site.map(Into::into),
        due_at: b.due_at.map(Into::into),
        received_at: b.received_at.map(Into::into),
        complaint_stage: b.complaint_stage.map(Into::into),
        attributes: b
            .attributes
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
    })))
}

fn login(agent: AgentId, b: LoginBody) -> Result<Command, WireError> {
    let tier = tier("tier", b.tier)?;
    check_id("site", &b.site, IdKind::Other)?;
    if b.skills.is_empty() {
        return Err(WireError::invalid(
            "field `skills`: an agent needs at least one skill",
        ));
    }
    if b.skills.len() > AGENT_SKILLS_MAX {
        return Err(WireError::invalid(format!(
            "field `skills`: {} skills, more than {AGENT_SKILLS_MAX}",
            b.skills.len()
        )));
    }
    let mut skills = Vec::with_capacity(b.skills.len());
    for (skill, n) in b.skills {
        check_id("skills", &skill, IdKind::Other)?;
        let level = level(&format!("skills.{skill}"), n)?;
        skills.push((skill.into(), level));
    }
    let channels = match b.channels {
        None => None,
        Some(c) => {
            let mut capacity = PerChannel::splat(0);
            for (channel, value) in [
                (Channel::Phone, c.phone),
                (Channel::FaceToFace, c.face_to_face),
                (Channel::Chat, c.chat),
                (Channel::Email, c.email),
                (Channel::Callback, c.callback),
            ] {
                let value = value.unwrap_or(0);
                if value > CAPACITY_MAX {
                    return Err(WireError::invalid(format!(
                        "field `channels.{channel}`: {value} is more than {CAPACITY_MAX}"
                    )));
                }
                capacity.set(channel, value);
            }
            Some(capacity)
        }
    };
    let name = match b.name {
        Some(name) => {
            check_text("name", &name, true)?;
            name.into()
        }
        None => agent.as_str().into(),
    };
    Ok(Command::LoginAgent(Box::new(AgentLogin {
        agent,
        name,
        tier,
        site: b.site.into(),
        skills,
        channels,
    })))
}

/// Skill requirements as a body lists them.
fn skill_needs(skills: &[SkillRequirement]) -> Vec<SkillNeed> {
    skills
        .iter()
        .map(|r| SkillNeed {
            skill: r.skill.to_string(),
            min_level: r.min_level.get(),
        })
        .collect()
}

impl TransferBody {
    /// The body that asks to transfer `contact` to `service` with `skills`.
    fn asking(
        contact: &str,
        service: &str,
        skills: &[SkillRequirement],
        command_id: Option<String>,
    ) -> Self {
        Self {
            contact_id: contact.to_owned(),
            service: service.to_owned(),
            skills: skill_needs(skills),
            agent_id: None,
            command_id,
        }
    }
}

impl CreateContactBody {
    /// The body that asks for `c` (the inverse of decoding it).
    fn from_new(c: &NewContact, command_id: Option<String>) -> Self {
        let text = |s: &str| s.to_owned();
        Self {
            contact_id: text(&c.id),
            channel: c.channel.into(),
            service: text(&c.service),
            skills: skill_needs(&c.skills),
            language: c.language.as_ref().map(|s| text(s)),
            priority: c.priority.get(),
            safeguarding: c.safeguarding,
            vulnerable: c.vulnerable,
            customer_id: c.customer.as_ref().map(|s| text(s)),
            preferred_agent_id: c.preferred_agent.as_ref().map(|s| text(s)),
            site: c.site.as_ref().map(|s| text(s)),
            due_at: c.due_at.map(Time::from),
            received_at: c.received_at.map(Time::from),
            complaint_stage: c.complaint_stage.map(Into::into),
            attributes: c
                .attributes
                .iter()
                .map(|(k, v)| (text(k), text(v)))
                .collect(),
            command_id,
        }
    }
}

impl LoginBody {
    /// The body that asks for `login` (the agent's id is in the subject).
    fn from_login(login: &AgentLogin, command_id: Option<String>) -> Self {
        let text = |s: &str| s.to_owned();
        LoginBody {
            tier: login.tier.get(),
            site: text(&login.site),
            skills: login
                .skills
                .iter()
                .map(|(s, l)| (text(s), l.get()))
                .collect(),
            channels: login.channels.map(|c| ChannelCapacities {
                phone: Some(c.get(Channel::Phone)),
                face_to_face: Some(c.get(Channel::FaceToFace)),
                chat: Some(c.get(Channel::Chat)),
                email: Some(c.get(Channel::Email)),
                callback: Some(c.get(Channel::Callback)),
            }),
            name: Some(text(&login.name)),
            agent_id: None,
            command_id,
        }
    }
}
