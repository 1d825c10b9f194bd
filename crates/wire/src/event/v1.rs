//! Version 1 of the event DTOs. **Frozen**: stored events in this shape must stay readable for
//! as long as there are logs that hold them.
//!
//! Postcard writes enum variants by index and struct fields by position, with no names. So in
//! this file no variant and no field may ever be added, removed, reordered, renamed in a way that
//! changes its JSON name, or change type. A change of shape is a new version (`v2.rs`) with an
//! `upcast` from this one: see [`crate::stored`].
//!
//! Events are written in version 2 ([`super::v2`]) now. Version 2 holds every kind of this
//! version *inside* it, unchanged, as its `Base` variant, so these types are still the current
//! ones for the kinds they know, and a version 1 payload is upcast by wrapping, with no
//! conversion. The conversion from the core is therefore fallible: a kind added after version 1
//! is handed back as [`NotInV1`] for version 2 to convert.
//!
//! One set of types serves both formats. [`Time`] is the only type that writes itself
//! differently: a number of milliseconds in binary formats (postcard), an RFC 3339 string in
//! human-readable ones (JSON). Durations are whole milliseconds in both, in fields named `*_ms`.
//! Strings are [`Cow`]s so that encoding borrows from the core's event instead of copying it,
//! and decoding a log payload (postcard) borrows from the payload instead of copying each id
//! into a `String` before the core's `Arc<str>` (replay decodes every record). A field borrows
//! when it is spelled `Cow<'a, str>` with `#[serde(borrow)]` (serde recognises only that
//! spelling; JSON strings with escapes are still copied). [`Text`] fields are copied: those in
//! `Option`s, and the skill and decision strings, whose types the owned DTOs of offers and
//! queries share.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use switchboard_core::event::{AgentLoggedIn, ContactCreated, OfferMade};
use switchboard_core::time::millis;
use switchboard_core::{
    AgentId, Channel, ComplaintStage, ContactId, Decision, Event, EventKind, Level, NewContact,
    OfferId, Outcome, PerChannel, Placement, Priority, QueueOrder, RevokeReason, Rule,
    SelectionStrategy, SkillRequirement, Tier, Timestamp,
};
use switchboard_core::{
    ComplaintStageChanged, ContactUnservable, CustomerId, DueTimeExtended, PersonalDataErasure,
};

use super::DtoError;
use crate::time::{parse_rfc3339, rfc3339};

/// A string on the wire that decoding copies (see the module docs for the ones it borrows).
pub type Text<'a> = Cow<'a, str>;

/// An instant, in milliseconds since the Unix epoch (UTC).
///
/// Binary formats write the number (a varint in postcard); human-readable formats write RFC 3339
/// in UTC with three fractional digits, e.g. `2026-11-23T10:15:00.123Z`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            let text = rfc3339(self.0).map_err(S::Error::custom)?;
            serializer.serialize_str(text.as_str())
        } else {
            serializer.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = Text::deserialize(deserializer)?;
            parse_rfc3339(&text).map(Self).map_err(D::Error::custom)
        } else {
            u64::deserialize(deserializer).map(Self)
        }
    }
}

/// An RFC 3339 instant in JSON Schema: a year from 1970 to 9999, fractional seconds that are
/// whole milliseconds (digits after the third are zeros), an offset or `Z`. (An instant early
/// on 1 January 1970 with a positive offset lies before the epoch but passes the pattern.)
pub const TIME_PATTERN: &str = r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,3}0*)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";

/// In JSON Schema (which describes the JSON form): an RFC 3339 string ([`TIME_PATTERN`]).
impl JsonSchema for Time {
    fn schema_name() -> Cow<'static, str> {
        "Time".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "pattern": TIME_PATTERN,
            "description": "An instant, RFC 3339 (UTC is written with three fractional digits, e.g. 2026-11-23T10:15:00.123Z; any offset is accepted; at most millisecond precision; not before 1970, which the pattern checks by the year)."
        })
    }
}

impl From<Timestamp> for Time {
    fn from(at: Timestamp) -> Self {
        Self(at.as_millis())
    }
}

impl From<Time> for Timestamp {
    fn from(time: Time) -> Self {
        Self::from_millis(time.0)
    }
}

/// A fact with the instant it was decided: the DTO of [`Event`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventDto<'a> {
    /// When it happened.
    pub at: Time,
    /// What happened.
    #[serde(borrow)]
    pub kind: EventKindDto<'a>,
}

/// What happened: the DTO of [`EventKind`]. Variant names are [`EventKind::name`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKindDto<'a> {
    /// An agent logged in.
    AgentLoggedIn(#[serde(borrow)] Box<AgentLoggedInDto<'a>>),
    /// An agent became ready for work.
    AgentReady {
        /// The agent.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
    },
    /// An agent stopped taking new work.
    AgentNotReady {
        /// The agent.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
        /// Why (`missed_offers` when the core decided it).
        #[serde(borrow)]
        reason: Cow<'a, str>,
    },
    /// An agent logged out.
    AgentLoggedOut {
        /// The agent.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
    },
    /// A contact arrived and joined its queue.
    ContactCreated(#[serde(borrow)] Box<ContactCreatedDto<'a>>),
    /// A waiting contact reached a later step of its routing plan.
    ContactStepAdvanced {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// Its new place in the plan.
        placement: PlacementDto,
    },
    /// A contact was offered to an agent.
    OfferMade(#[serde(borrow)] Box<OfferMadeDto<'a>>),
    /// The agent accepted the offer.
    OfferAccepted {
        /// The offer.
        offer_id: u64,
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// The agent.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
        /// Accepted by the channel's auto-accept policy.
        automatic: bool,
        /// How long the contact had waited since first arrival, in milliseconds.
        waited_ms: u64,
        /// Answered within its service-level threshold.
        within_service_level: bool,
    },
    /// The agent rejected the offer.
    OfferRejected {
        /// The offer.
        offer_id: u64,
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// The agent.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
        /// Why, if the agent said.
        #[serde(borrow)]
        reason: Option<Text<'a>>,
        /// Not offered to this agent again before this instant.
        reoffer_after: Time,
    },
    /// The offer was not answered in time.
    OfferExpired {
        /// The offer.
        offer_id: u64,
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// The agent.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
        /// Not offered to this agent again before this instant.
        reoffer_after: Time,
    },
    /// The offer was withdrawn by the core.
    OfferRevoked {
        /// The offer.
        offer_id: u64,
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// The agent.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
        /// Why.
        reason: RevokeReasonDto,
    },
    /// The customer left before being answered.
    ContactAbandoned {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// How long they had waited since first arrival, in milliseconds.
        waited_ms: u64,
    },
    /// An agent finished a contact.
    ContactCompleted {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// The agent.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
        /// How it ended.
        outcome: OutcomeDto,
        /// Resolved by the first agent who took it.
        first_contact_resolution: bool,
    },
    /// An agent escalated a contact up the tiers.
    ContactEscalated {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// The agent who escalated it.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
        /// The tier it goes to, 1 to 5.
        to_tier: u8,
        /// Why.
        #[serde(borrow)]
        reason: Cow<'a, str>,
        /// Its place in its new queue's plan.
        placement: PlacementDto,
    },
    /// An agent transferred a contact to another service.
    ContactTransferred {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// The agent who transferred it.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
        /// The service it goes to.
        #[serde(borrow)]
        service: Cow<'a, str>,
        /// The skills it now needs (never empty).
        #[serde(borrow)]
        skills: Vec<SkillRequirementDto<'a>>,
        /// Its place in its new queue's plan.
        placement: PlacementDto,
    },
    /// Work in hand went back to the queue from its agent's desk: they logged out, or moved a
    /// complaint on a stage.
    ContactRequeued {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// The agent who held it.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
        /// Why: `agent_logged_out`, or `complaint_stage_changed` (followed by that event).
        #[serde(borrow)]
        reason: Cow<'a, str>,
        /// Its place in its queue's plan.
        placement: PlacementDto,
    },
    /// An agent started after-contact work.
    WrapUpStarted {
        /// The agent.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
        /// When it ends.
        until: Time,
    },
    /// An agent's wrap-up ended.
    WrapUpEnded {
        /// The agent.
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
    },
    /// A live contact waited past its service-level threshold unanswered.
    ServiceLevelThresholdPassed {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// The threshold it passed, in milliseconds.
        threshold_ms: u64,
    },
    /// Deferred work is close to its due time and not done.
    DueTimeAtRisk {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// Its due time.
        due_at: Time,
    },
    /// Deferred work passed its due time and is not done.
    DueTimeBreached {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// Its due time.
        due_at: Time,
    },
}

/// The DTO of [`AgentLoggedIn`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentLoggedInDto<'a> {
    /// The agent.
    #[serde(borrow)]
    pub agent_id: Cow<'a, str>,
    /// Their display name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Their escalation tier, 1 to 5.
    pub tier: u8,
    /// Where they are working.
    #[serde(borrow)]
    pub site: Cow<'a, str>,
    /// Skills with proficiency levels, in the order the core recorded them.
    #[serde(borrow)]
    pub skills: Vec<SkillLevelDto<'a>>,
    /// How many contacts of each channel they may hold at once.
    pub capacity: CapacityDto,
}

/// A skill an agent has, at a proficiency level 1 to 5.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkillLevelDto<'a> {
    /// The skill.
    pub skill: Text<'a>,
    /// The proficiency, 1 to 5.
    pub level: u8,
}

/// A value per channel: the DTO of `PerChannel<u8>`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CapacityDto {
    /// Phone calls.
    pub phone: u8,
    /// Face-to-face visits.
    pub face_to_face: u8,
    /// Chats.
    pub chat: u8,
    /// Emails and other correspondence.
    pub email: u8,
    /// Callbacks.
    pub callback: u8,
}

/// The DTO of [`ContactCreated`], with the contact's details (the core's [`NewContact`]) inline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactCreatedDto<'a> {
    /// The contact.
    #[serde(borrow)]
    pub contact_id: Cow<'a, str>,
    /// How it arrived.
    pub channel: ChannelDto,
    /// The service area it is about.
    #[serde(borrow)]
    pub service: Cow<'a, str>,
    /// The skills it needs (never empty: defaults are resolved).
    #[serde(borrow)]
    pub skills: Vec<SkillRequirementDto<'a>>,
    /// A community language the agent must speak, if any.
    #[serde(borrow)]
    pub language: Option<Text<'a>>,
    /// How urgent, 0 (routine) to 9.
    pub priority: u8,
    /// A safeguarding concern.
    pub safeguarding: bool,
    /// A vulnerable customer.
    pub vulnerable: bool,
    /// The customer's reference, if known.
    #[serde(borrow)]
    pub customer_id: Option<Text<'a>>,
    /// The case owner, the agent asked for, or the customer's last agent.
    #[serde(borrow)]
    pub preferred_agent_id: Option<Text<'a>>,
    /// The site (required for face to face).
    #[serde(borrow)]
    pub site: Option<Text<'a>>,
    /// Deferred work: when it must be done by.
    pub due_at: Option<Time>,
    /// When the customer first made contact, if earlier than its arrival.
    pub received_at: Option<Time>,
    /// The complaint stage, if a complaint.
    pub complaint_stage: Option<ComplaintStageDto>,
    /// Free-form attributes for the desktop, in the order given.
    #[serde(borrow)]
    pub attributes: Vec<AttributeDto<'a>>,
    /// When the customer first made contact; service levels count from here.
    pub first_arrived_at: Time,
    /// Its place in the queue order.
    pub order: QueueOrderDto,
    /// Its place in its routing plan.
    pub placement: PlacementDto,
    /// Live channels: when it passes its service-level threshold if unanswered.
    pub answer_by: Option<Time>,
    /// Deferred channels: when it is reported at risk if not done.
    pub due_warning_at: Option<Time>,
}

/// One free-form attribute of a contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttributeDto<'a> {
    /// The attribute's name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Its value.
    #[serde(borrow)]
    pub value: Cow<'a, str>,
}

/// The DTO of [`SkillRequirement`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkillRequirementDto<'a> {
    /// The skill.
    pub skill: Text<'a>,
    /// The lowest acceptable proficiency, 1 to 5.
    pub min_level: u8,
}

/// The DTO of [`OfferMade`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OfferMadeDto<'a> {
    /// The offer.
    pub offer_id: u64,
    /// The contact.
    #[serde(borrow)]
    pub contact_id: Cow<'a, str>,
    /// The agent.
    #[serde(borrow)]
    pub agent_id: Cow<'a, str>,
    /// The contact's channel.
    pub channel: ChannelDto,
    /// When the offer expires if not answered.
    pub expires_at: Time,
    /// Why this agent and this contact.
    #[serde(borrow)]
    pub decision: DecisionDto<'a>,
}

/// The DTO of [`Decision`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DecisionDto<'a> {
    /// The routing plan used.
    pub plan: Text<'a>,
    /// The plan step (0-based).
    pub step: u8,
    /// That step's name.
    pub step_name: Text<'a>,
    /// The rule that chose.
    pub rule: RuleDto,
    /// How many candidates were in the pool.
    pub pool: u32,
    /// How many were examined.
    pub examined: u32,
    /// The chosen one's score under the rule.
    pub score: i64,
}

/// The DTO of [`Rule`], with the selection strategies flattened in: names as [`Rule::as_str`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleDto {
    /// The contact's preferred agent.
    PreferredAgent,
    /// The longest-idle strategy.
    LongestIdle,
    /// The most-skilled strategy.
    MostSkilled,
    /// The least-occupied strategy.
    LeastOccupied,
    /// Queue order (an agent became free).
    QueueOrder,
}

/// The DTO of [`Placement`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlacementDto {
    /// The plan step (0-based).
    pub step: u8,
    /// The step accepts only the preferred agent.
    pub preferred_agent_only: bool,
    /// When the next step applies, if any.
    pub next_step_at: Option<Time>,
}

/// The DTO of [`QueueOrder`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QueueOrderDto {
    /// A safeguarding concern.
    pub safeguarding: bool,
    /// Live work.
    pub live: bool,
    /// The rank within its class (milliseconds; lower first).
    pub rank: i64,
}

/// The DTO of [`Channel`]: `phone`, `face_to_face`, `chat`, `email`, `callback`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelDto {
    /// Phone.
    Phone,
    /// Face to face.
    FaceToFace,
    /// Chat.
    Chat,
    /// Email and correspondence.
    Email,
    /// Callback.
    Callback,
}

/// The DTO of [`Outcome`]: `resolved`, `referred`, `no_action`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeDto {
    /// Resolved.
    Resolved,
    /// Referred on.
    Referred,
    /// Nothing to do.
    NoAction,
}

/// The DTO of [`ComplaintStage`]: `stage_1`, `stage_2`, `ombudsman`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ComplaintStageDto {
    /// Stage 1.
    #[serde(rename = "stage_1")]
    Stage1,
    /// Stage 2.
    #[serde(rename = "stage_2")]
    Stage2,
    /// The Ombudsman.
    #[serde(rename = "ombudsman")]
    Ombudsman,
}

/// The DTO of [`RevokeReason`]: `contact_abandoned`, `agent_not_ready`, `agent_logged_out`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevokeReasonDto {
    /// The customer left.
    ContactAbandoned,
    /// The agent went not ready.
    AgentNotReady,
    /// The agent logged out.
    AgentLoggedOut,
}

// --- from the core (cannot fail) -------------------------------------------------------------

pub(super) fn text(s: &str) -> Text<'_> {
    Cow::Borrowed(s)
}

pub(super) fn opt_text<T: std::ops::Deref<Target = str>>(s: Option<&T>) -> Option<Text<'_>> {
    s.map(|s| text(s))
}

fn ms(span: Duration) -> u64 {
    millis(span)
}

/// A core event kind that version 1 cannot hold (it was added to the core later), handed back
/// borrowed so that the version that holds it converts it without matching the kind again.
///
/// One variant per core kind added after version 1; [`EventKindDto`]'s conversion from the core
/// is an exhaustive match, so a kind added to the core stops this crate compiling until it is
/// sorted into a version.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum NotInV1<'a> {
    /// `contact_held` (version 2).
    ContactHeld {
        /// The contact.
        contact: &'a ContactId,
        /// When it joins its queue.
        until: Timestamp,
        /// The calendar that is closed.
        calendar: &'a Arc<str>,
    },
    /// `contact_released` (version 2).
    ContactReleased {
        /// The contact.
        contact: &'a ContactId,
        /// Its place in its plan.
        placement: Placement,
    },
    /// `complaint_stage_changed` (version 2).
    ComplaintStageChanged(&'a ComplaintStageChanged),
    /// `due_time_extended` (version 2).
    DueTimeExtended(&'a DueTimeExtended),
    /// `persistent_complainant_marked` (version 2).
    PersistentComplainantMarked {
        /// The customer.
        customer: &'a CustomerId,
        /// Designated (true) or lifted (false).
        designated: bool,
        /// The policy decision recorded.
        reason: &'a Arc<str>,
    },
    /// `contact_unservable` (version 3).
    ContactUnservable(&'a ContactUnservable),
    /// `personal_data_erasure_deferred` and `personal_data_erased` (version 5).
    PersonalDataErasure {
        /// Deferred (true) or carried out (false).
        deferred: bool,
        /// The erasure.
        erasure: &'a PersonalDataErasure,
    },
}

/// Version 1 of an event, when version 1 can hold its kind. Events are no longer written in
/// version 1; this serves tests that build version 1 payloads (and documents the mapping).
impl<'a> TryFrom<&'a Event> for EventDto<'a> {
    type Error = NotInV1<'a>;

    fn try_from(event: &'a Event) -> Result<Self, NotInV1<'a>> {
        Ok(Self {
            at: event.at.into(),
            kind: (&event.kind).try_into()?,
        })
    }
}

/// Version 1 of a kind, or the kind handed back when version 1 cannot hold it.
impl<'a> TryFrom<&'a EventKind> for EventKindDto<'a> {
    type Error = NotInV1<'a>;

    #[expect(
        clippy::too_many_lines,
        reason = "version 1's frozen mapping: one field-for-field arm per kind, exhaustive so that \
                  a new kind must be sorted into a version; split, each group would need a \
                  catch-all arm that cannot happen"
    )]
    fn try_from(kind: &'a EventKind) -> Result<Self, NotInV1<'a>> {
        Ok(match kind {
            EventKind::AgentLoggedIn(login) => Self::AgentLoggedIn(Box::new(login.as_ref().into())),
            EventKind::AgentReady { agent } => Self::AgentReady {
                agent_id: text(agent),
            },
            EventKind::AgentNotReady { agent, reason } => Self::AgentNotReady {
                agent_id: text(agent),
                reason: text(reason),
            },
            EventKind::AgentLoggedOut { agent } => Self::AgentLoggedOut {
                agent_id: text(agent),
            },
            EventKind::ContactCreated(created) => {
                Self::ContactCreated(Box::new(created.as_ref().into()))
            }
            EventKind::ContactStepAdvanced { contact, placement } => Self::ContactStepAdvanced {
                contact_id: text(contact),
                placement: (*placement).into(),
            },
            EventKind::OfferMade(offer) => Self::OfferMade(Box::new(offer.as_ref().into())),
            EventKind::OfferAccepted {
                offer,
                contact,
                agent,
                automatic,
                waited,
                within_service_level,
            } => Self::OfferAccepted {
                offer_id: offer.get(),
                contact_id: text(contact),
                agent_id: text(agent),
                automatic: *automatic,
                waited_ms: ms(*waited),
                within_service_level: *within_service_level,
            },
            EventKind::OfferRejected {
                offer,
                contact,
                agent,
                reason,
                reoffer_after,
            } => Self::OfferRejected {
                offer_id: offer.get(),
                contact_id: text(contact),
                agent_id: text(agent),
                reason: opt_text(reason.as_ref()),
                reoffer_after: (*reoffer_after).into(),
            },
            EventKind::OfferExpired {
                offer,
                contact,
                agent,
                reoffer_after,
            } => Self::OfferExpired {
                offer_id: offer.get(),
                contact_id: text(contact),
                agent_id: text(agent),
                reoffer_after: (*reoffer_after).into(),
            },
            EventKind::OfferRevoked {
                offer,
                contact,
                agent,
                reason,
            } => Self::OfferRevoked {
                offer_id: offer.get(),
                contact_id: text(contact),
                agent_id: text(agent),
                reason: (*reason).into(),
            },
            EventKind::ContactAbandoned { contact, waited } => Self::ContactAbandoned {
                contact_id: text(contact),
                waited_ms: ms(*waited),
            },
            EventKind::ContactCompleted {
                contact,
                agent,
                outcome,
                first_contact_resolution,
            } => Self::ContactCompleted {
                contact_id: text(contact),
                agent_id: text(agent),
                outcome: (*outcome).into(),
                first_contact_resolution: *first_contact_resolution,
            },
            EventKind::ContactEscalated {
                contact,
                agent,
                to_tier,
                reason,
                placement,
            } => Self::ContactEscalated {
                contact_id: text(contact),
                agent_id: text(agent),
                to_tier: to_tier.get(),
                reason: text(reason),
                placement: (*placement).into(),
            },
            EventKind::ContactTransferred {
                contact,
                agent,
                service,
                skills,
                placement,
            } => Self::ContactTransferred {
                contact_id: text(contact),
                agent_id: text(agent),
                service: text(service),
                skills: skills.iter().map(Into::into).collect(),
                placement: (*placement).into(),
            },
            EventKind::ContactRequeued {
                contact,
                agent,
                reason,
                placement,
            } => Self::ContactRequeued {
                contact_id: text(contact),
                agent_id: text(agent),
                reason: text(reason),
                placement: (*placement).into(),
            },
            EventKind::WrapUpStarted { agent, until } => Self::WrapUpStarted {
                agent_id: text(agent),
                until: (*until).into(),
            },
            EventKind::WrapUpEnded { agent } => Self::WrapUpEnded {
                agent_id: text(agent),
            },
            EventKind::ServiceLevelThresholdPassed { contact, threshold } => {
                Self::ServiceLevelThresholdPassed {
                    contact_id: text(contact),
                    threshold_ms: ms(*threshold),
                }
            }
            EventKind::DueTimeAtRisk { contact, due_at } => Self::DueTimeAtRisk {
                contact_id: text(contact),
                due_at: (*due_at).into(),
            },
            EventKind::DueTimeBreached { contact, due_at } => Self::DueTimeBreached {
                contact_id: text(contact),
                due_at: (*due_at).into(),
            },
            EventKind::ContactHeld {
                contact,
                until,
                calendar,
            } => {
                return Err(NotInV1::ContactHeld {
                    contact,
                    until: *until,
                    calendar,
                });
            }
            EventKind::ContactReleased { contact, placement } => {
                return Err(NotInV1::ContactReleased {
                    contact,
                    placement: *placement,
                });
            }
            EventKind::ComplaintStageChanged(changed) => {
                return Err(NotInV1::ComplaintStageChanged(changed));
            }
            EventKind::DueTimeExtended(extended) => {
                return Err(NotInV1::DueTimeExtended(extended));
            }
            EventKind::PersistentComplainantMarked {
                customer,
                designated,
                reason,
            } => {
                return Err(NotInV1::PersistentComplainantMarked {
                    customer,
                    designated: *designated,
                    reason,
                });
            }
            EventKind::ContactUnservable(unservable) => {
                return Err(NotInV1::ContactUnservable(unservable));
            }
            EventKind::PersonalDataErasureDeferred(erasure) => {
                return Err(NotInV1::PersonalDataErasure {
                    deferred: true,
                    erasure,
                });
            }
            EventKind::PersonalDataErased(erasure) => {
                return Err(NotInV1::PersonalDataErasure {
                    deferred: false,
                    erasure,
                });
            }
        })
    }
}

impl<'a> From<&'a AgentLoggedIn> for AgentLoggedInDto<'a> {
    fn from(login: &'a AgentLoggedIn) -> Self {
        Self {
            agent_id: text(&login.agent),
            name: text(&login.name),
            tier: login.tier.get(),
            site: text(&login.site),
            skills: login
                .skills
                .iter()
                .map(|(skill, level)| SkillLevelDto {
                    skill: text(skill),
                    level: level.get(),
                })
                .collect(),
            capacity: login.capacity.into(),
        }
    }
}

impl<'a> From<&'a ContactCreated> for ContactCreatedDto<'a> {
    fn from(created: &'a ContactCreated) -> Self {
        let d = &created.details;
        Self {
            contact_id: text(&d.id),
            channel: d.channel.into(),
            service: text(&d.service),
            skills: d.skills.iter().map(Into::into).collect(),
            language: opt_text(d.language.as_ref()),
            priority: d.priority.get(),
            safeguarding: d.safeguarding,
            vulnerable: d.vulnerable,
            customer_id: opt_text(d.customer.as_ref()),
            preferred_agent_id: opt_text(d.preferred_agent.as_ref()),
            site: opt_text(d.site.as_ref()),
            due_at: d.due_at.map(Into::into),
            received_at: d.received_at.map(Into::into),
            complaint_stage: d.complaint_stage.map(Into::into),
            attributes: d
                .attributes
                .iter()
                .map(|(name, value)| AttributeDto {
                    name: text(name),
                    value: text(value),
                })
                .collect(),
            first_arrived_at: created.first_arrived_at.into(),
            order: created.order.into(),
            placement: created.placement.into(),
            answer_by: created.answer_by.map(Into::into),
            due_warning_at: created.due_warning_at.map(Into::into),
        }
    }
}

impl<'a> From<&'a OfferMade> for OfferMadeDto<'a> {
    fn from(offer: &'a OfferMade) -> Self {
        let d = &offer.decision;
        Self {
            offer_id: offer.offer.get(),
            contact_id: text(&offer.contact),
            agent_id: text(&offer.agent),
            channel: offer.channel.into(),
            expires_at: offer.expires_at.into(),
            decision: DecisionDto {
                plan: text(&d.plan),
                step: d.step,
                step_name: text(&d.step_name),
                rule: d.rule.into(),
                pool: d.pool,
                examined: d.examined,
                score: d.score,
            },
        }
    }
}

impl<'a> From<&'a SkillRequirement> for SkillRequirementDto<'a> {
    fn from(requirement: &'a SkillRequirement) -> Self {
        Self {
            skill: text(&requirement.skill),
            min_level: requirement.min_level.get(),
        }
    }
}

impl From<PerChannel<u8>> for CapacityDto {
    fn from(capacity: PerChannel<u8>) -> Self {
        Self {
            phone: capacity.get(Channel::Phone),
            face_to_face: capacity.get(Channel::FaceToFace),
            chat: capacity.get(Channel::Chat),
            email: capacity.get(Channel::Email),
            callback: capacity.get(Channel::Callback),
        }
    }
}

impl From<Placement> for PlacementDto {
    fn from(placement: Placement) -> Self {
        Self {
            step: placement.step,
            preferred_agent_only: placement.preferred_agent_only,
            next_step_at: placement.next_step_at.map(Into::into),
        }
    }
}

impl From<QueueOrder> for QueueOrderDto {
    fn from(order: QueueOrder) -> Self {
        Self {
            safeguarding: order.safeguarding,
            live: order.live,
            rank: order.rank,
        }
    }
}

impl From<Rule> for RuleDto {
    fn from(rule: Rule) -> Self {
        match rule {
            Rule::PreferredAgent => Self::PreferredAgent,
            Rule::Strategy(SelectionStrategy::LongestIdle) => Self::LongestIdle,
            Rule::Strategy(SelectionStrategy::MostSkilled) => Self::MostSkilled,
            Rule::Strategy(SelectionStrategy::LeastOccupied) => Self::LeastOccupied,
            Rule::QueueOrder => Self::QueueOrder,
        }
    }
}

impl From<Channel> for ChannelDto {
    fn from(channel: Channel) -> Self {
        match channel {
            Channel::Phone => Self::Phone,
            Channel::FaceToFace => Self::FaceToFace,
            Channel::Chat => Self::Chat,
            Channel::Email => Self::Email,
            Channel::Callback => Self::Callback,
        }
    }
}

impl From<Outcome> for OutcomeDto {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Resolved => Self::Resolved,
            Outcome::Referred => Self::Referred,
            Outcome::NoAction => Self::NoAction,
        }
    }
}

impl From<ComplaintStage> for ComplaintStageDto {
    fn from(stage: ComplaintStage) -> Self {
        match stage {
            ComplaintStage::Stage1 => Self::Stage1,
            ComplaintStage::Stage2 => Self::Stage2,
            ComplaintStage::Ombudsman => Self::Ombudsman,
        }
    }
}

impl From<RevokeReason> for RevokeReasonDto {
    fn from(reason: RevokeReason) -> Self {
        match reason {
            RevokeReason::ContactAbandoned => Self::ContactAbandoned,
            RevokeReason::AgentNotReady => Self::AgentNotReady,
            RevokeReason::AgentLoggedOut => Self::AgentLoggedOut,
        }
    }
}

// --- back to the core (validated) ------------------------------------------------------------

pub(super) fn arc(text: &Text<'_>) -> Arc<str> {
    Arc::from(&**text)
}

pub(super) fn id<T: for<'s> From<&'s str>>(text: &Text<'_>) -> T {
    T::from(text)
}

pub(super) fn tier(value: u8, field: &'static str) -> Result<Tier, DtoError> {
    Tier::new(value).ok_or(DtoError::OutOfRange {
        field,
        value,
        min: Tier::FIRST.get(),
        max: Tier::LAST.get(),
    })
}

pub(super) fn level(value: u8, field: &'static str) -> Result<Level, DtoError> {
    Level::new(value).ok_or(DtoError::OutOfRange {
        field,
        value,
        min: Level::MIN.get(),
        max: Level::MAX.get(),
    })
}

fn priority(value: u8, field: &'static str) -> Result<Priority, DtoError> {
    Priority::new(value).ok_or(DtoError::OutOfRange {
        field,
        value,
        min: Priority::ROUTINE.get(),
        max: Priority::MAX.get(),
    })
}

/// Skill requirements; the core files a contact under its first skill, so none is an error.
fn requirements(
    skills: &[SkillRequirementDto<'_>],
    field: &'static str,
    level_field: &'static str,
) -> Result<Vec<SkillRequirement>, DtoError> {
    if skills.is_empty() {
        return Err(DtoError::Empty { field });
    }
    skills
        .iter()
        .map(|r| {
            Ok(SkillRequirement {
                skill: id(&r.skill),
                min_level: level(r.min_level, level_field)?,
            })
        })
        .collect()
}

impl TryFrom<EventKindDto<'_>> for EventKind {
    type Error = DtoError;

    #[expect(
        clippy::too_many_lines,
        reason = "version 1's frozen mapping: one field-for-field arm per kind, exhaustive so that \
                  a new kind must be sorted into a version; split, each group would need a \
                  catch-all arm that cannot happen"
    )]
    fn try_from(dto: EventKindDto<'_>) -> Result<Self, DtoError> {
        Ok(match dto {
            EventKindDto::AgentLoggedIn(login) => Self::AgentLoggedIn(Box::new(AgentLoggedIn {
                agent: id(&login.agent_id),
                name: arc(&login.name),
                tier: tier(login.tier, "agent_logged_in.tier")?,
                site: id(&login.site),
                skills: login
                    .skills
                    .iter()
                    .map(|s| {
                        Ok((
                            id(&s.skill),
                            level(s.level, "agent_logged_in.skills.level")?,
                        ))
                    })
                    .collect::<Result<_, DtoError>>()?,
                capacity: login.capacity.into(),
            })),
            EventKindDto::AgentReady { agent_id } => Self::AgentReady {
                agent: id(&agent_id),
            },
            EventKindDto::AgentNotReady { agent_id, reason } => Self::AgentNotReady {
                agent: id(&agent_id),
                reason: arc(&reason),
            },
            EventKindDto::AgentLoggedOut { agent_id } => Self::AgentLoggedOut {
                agent: id(&agent_id),
            },
            EventKindDto::ContactCreated(created) => {
                Self::ContactCreated(Box::new(ContactCreated::try_from(*created)?))
            }
            EventKindDto::ContactStepAdvanced {
                contact_id,
                placement,
            } => Self::ContactStepAdvanced {
                contact: id(&contact_id),
                placement: placement.into(),
            },
            EventKindDto::OfferMade(offer) => Self::OfferMade(Box::new((*offer).into())),
            EventKindDto::OfferAccepted {
                offer_id,
                contact_id,
                agent_id,
                automatic,
                waited_ms,
                within_service_level,
            } => Self::OfferAccepted {
                offer: OfferId::new(offer_id),
                contact: id(&contact_id),
                agent: id(&agent_id),
                automatic,
                waited: Duration::from_millis(waited_ms),
                within_service_level,
            },
            EventKindDto::OfferRejected {
                offer_id,
                contact_id,
                agent_id,
                reason,
                reoffer_after,
            } => Self::OfferRejected {
                offer: OfferId::new(offer_id),
                contact: id(&contact_id),
                agent: id(&agent_id),
                reason: reason.as_ref().map(arc),
                reoffer_after: reoffer_after.into(),
            },
            EventKindDto::OfferExpired {
                offer_id,
                contact_id,
                agent_id,
                reoffer_after,
            } => Self::OfferExpired {
                offer: OfferId::new(offer_id),
                contact: id(&contact_id),
                agent: id(&agent_id),
                reoffer_after: reoffer_after.into(),
            },
            EventKindDto::OfferRevoked {
                offer_id,
                contact_id,
                agent_id,
                reason,
            } => Self::OfferRevoked {
                offer: OfferId::new(offer_id),
                contact: id(&contact_id),
                agent: id(&agent_id),
                reason: reason.into(),
            },
            EventKindDto::ContactAbandoned {
                contact_id,
                waited_ms,
            } => Self::ContactAbandoned {
                contact: id(&contact_id),
                waited: Duration::from_millis(waited_ms),
            },
            EventKindDto::ContactCompleted {
                contact_id,
                agent_id,
                outcome,
                first_contact_resolution,
            } => Self::ContactCompleted {
                contact: id(&contact_id),
                agent: id(&agent_id),
                outcome: outcome.into(),
                first_contact_resolution,
            },
            EventKindDto::ContactEscalated {
                contact_id,
                agent_id,
                to_tier,
                reason,
                placement,
            } => Self::ContactEscalated {
                contact: id(&contact_id),
                agent: id(&agent_id),
                to_tier: tier(to_tier, "contact_escalated.to_tier")?,
                reason: arc(&reason),
                placement: placement.into(),
            },
            EventKindDto::ContactTransferred {
                contact_id,
                agent_id,
                service,
                skills,
                placement,
            } => Self::ContactTransferred {
                contact: id(&contact_id),
                agent: id(&agent_id),
                service: id(&service),
                skills: requirements(
                    &skills,
                    "contact_transferred.skills",
                    "contact_transferred.skills.min_level",
                )?,
                placement: placement.into(),
            },
            EventKindDto::ContactRequeued {
                contact_id,
                agent_id,
                reason,
                placement,
            } => Self::ContactRequeued {
                contact: id(&contact_id),
                agent: id(&agent_id),
                reason: arc(&reason),
                placement: placement.into(),
            },
            EventKindDto::WrapUpStarted { agent_id, until } => Self::WrapUpStarted {
                agent: id(&agent_id),
                until: until.into(),
            },
            EventKindDto::WrapUpEnded { agent_id } => Self::WrapUpEnded {
                agent: id(&agent_id),
            },
            EventKindDto::ServiceLevelThresholdPassed {
                contact_id,
                threshold_ms,
            } => Self::ServiceLevelThresholdPassed {
                contact: id(&contact_id),
                threshold: Duration::from_millis(threshold_ms),
            },
            EventKindDto::DueTimeAtRisk { contact_id, due_at } => Self::DueTimeAtRisk {
                contact: id(&contact_id),
                due_at: due_at.into(),
            },
            EventKindDto::DueTimeBreached { contact_id, due_at } => Self::DueTimeBreached {
                contact: id(&contact_id),
                due_at: due_at.into(),
            },
        })
    }
}

impl TryFrom<ContactCreatedDto<'_>> for ContactCreated {
    type Error = DtoError;

    fn try_from(dto: ContactCreatedDto<'_>) -> Result<Self, DtoError> {
        let details = NewContact {
            id: id::<ContactId>(&dto.contact_id),
            channel: dto.channel.into(),
            service: id(&dto.service),
            skills: requirements(
                &dto.skills,
                "contact_created.skills",
                "contact_created.skills.min_level",
            )?,
            language: dto.language.as_ref().map(id),
            priority: priority(dto.priority, "contact_created.priority")?,
            safeguarding: dto.safeguarding,
            vulnerable: dto.vulnerable,
            customer: dto.customer_id.as_ref().map(id),
            preferred_agent: dto.preferred_agent_id.as_ref().map(id::<AgentId>),
            site: dto.site.as_ref().map(id),
            due_at: dto.due_at.map(Into::into),
            received_at: dto.received_at.map(Into::into),
            complaint_stage: dto.complaint_stage.map(Into::into),
            attributes: dto
                .attributes
                .iter()
                .map(|a| (arc(&a.name), arc(&a.value)))
                .collect(),
        };
        Ok(Self {
            details,
            first_arrived_at: dto.first_arrived_at.into(),
            order: dto.order.into(),
            placement: dto.placement.into(),
            answer_by: dto.answer_by.map(Into::into),
            due_warning_at: dto.due_warning_at.map(Into::into),
        })
    }
}

impl From<OfferMadeDto<'_>> for OfferMade {
    fn from(dto: OfferMadeDto<'_>) -> Self {
        let d = dto.decision;
        Self {
            offer: OfferId::new(dto.offer_id),
            contact: id(&dto.contact_id),
            agent: id(&dto.agent_id),
            channel: dto.channel.into(),
            expires_at: dto.expires_at.into(),
            decision: Decision {
                plan: arc(&d.plan),
                step: d.step,
                step_name: arc(&d.step_name),
                rule: d.rule.into(),
                pool: d.pool,
                examined: d.examined,
                score: d.score,
            },
        }
    }
}

impl From<CapacityDto> for PerChannel<u8> {
    fn from(dto: CapacityDto) -> Self {
        let mut capacity = Self::splat(0);
        capacity.set(Channel::Phone, dto.phone);
        capacity.set(Channel::FaceToFace, dto.face_to_face);
        capacity.set(Channel::Chat, dto.chat);
        capacity.set(Channel::Email, dto.email);
        capacity.set(Channel::Callback, dto.callback);
        capacity
    }
}

impl From<PlacementDto> for Placement {
    fn from(dto: PlacementDto) -> Self {
        Self {
            step: dto.step,
            preferred_agent_only: dto.preferred_agent_only,
            next_step_at: dto.next_step_at.map(Into::into),
        }
    }
}

impl From<QueueOrderDto> for QueueOrder {
    fn from(dto: QueueOrderDto) -> Self {
        Self {
            safeguarding: dto.safeguarding,
            live: dto.live,
            rank: dto.rank,
        }
    }
}

impl From<RuleDto> for Rule {
    fn from(dto: RuleDto) -> Self {
        match dto {
            RuleDto::PreferredAgent => Self::PreferredAgent,
            RuleDto::LongestIdle => Self::Strategy(SelectionStrategy::LongestIdle),
            RuleDto::MostSkilled => Self::Strategy(SelectionStrategy::MostSkilled),
            RuleDto::LeastOccupied => Self::Strategy(SelectionStrategy::LeastOccupied),
            RuleDto::QueueOrder => Self::QueueOrder,
        }
    }
}

impl From<ChannelDto> for Channel {
    fn from(dto: ChannelDto) -> Self {
        match dto {
            ChannelDto::Phone => Self::Phone,
            ChannelDto::FaceToFace => Self::FaceToFace,
            ChannelDto::Chat => Self::Chat,
            ChannelDto::Email => Self::Email,
            ChannelDto::Callback => Self::Callback,
        }
    }
}

impl From<OutcomeDto> for Outcome {
    fn from(dto: OutcomeDto) -> Self {
        match dto {
            OutcomeDto::Resolved => Self::Resolved,
            OutcomeDto::Referred => Self::Referred,
            OutcomeDto::NoAction => Self::NoAction,
        }
    }
}

impl From<ComplaintStageDto> for ComplaintStage {
    fn from(dto: ComplaintStageDto) -> Self {
        match dto {
            ComplaintStageDto::Stage1 => Self::Stage1,
            ComplaintStageDto::Stage2 => Self::Stage2,
            ComplaintStageDto::Ombudsman => Self::Ombudsman,
        }
    }
}

impl From<RevokeReasonDto> for RevokeReason {
    fn from(dto: RevokeReasonDto) -> Self {
        match dto {
            RevokeReasonDto::ContactAbandoned => Self::ContactAbandoned,
            RevokeReasonDto::AgentNotReady => Self::AgentNotReady,
            RevokeReasonDto::AgentLoggedOut => Self::AgentLoggedOut,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement() -> PlacementDto {
        PlacementDto {
            step: 0,
            preferred_agent_only: false,
            next_step_at: None,
        }
    }

    #[test]
    fn out_of_range_numbers_name_their_field() {
        let escalated = EventKindDto::ContactEscalated {
            contact_id: "c1".into(),
            agent_id: "ann".into(),
            to_tier: 6,
            reason: "why".into(),
            placement: placement(),
        };
        assert_eq!(
            EventKind::try_from(escalated),
            Err(DtoError::OutOfRange {
                field: "contact_escalated.to_tier",
                value: 6,
                min: 1,
                max: 5
            })
        );
        let login = EventKindDto::AgentLoggedIn(Box::new(AgentLoggedInDto {
            agent_id: "ann".into(),
            name: "Ann".into(),
            tier: 1,
            site: "hq".into(),
            skills: vec![SkillLevelDto {
                skill: "council_tax".into(),
                level: 0,
            }],
            capacity: PerChannel::splat(1).into(),
        }));
        let error = EventKind::try_from(login).expect_err("level 0 is refused");
        assert_eq!(
            error.to_string(),
            "`agent_logged_in.skills.level` is 0, outside 1..=5"
        );
    }

    #[test]
    fn a_transfer_without_skills_is_refused() {
        let transferred = EventKindDto::ContactTransferred {
            contact_id: "c1".into(),
            agent_id: "ann".into(),
            service: "benefits".into(),
            skills: vec![],
            placement: placement(),
        };
        assert_eq!(
            EventKind::try_from(transferred),
            Err(DtoError::Empty {
                field: "contact_transferred.skills"
            })
        );
    }

    #[test]
    fn every_rule_and_strategy_round_trips() {
        for rule in [
            Rule::PreferredAgent,
            Rule::QueueOrder,
            Rule::Strategy(SelectionStrategy::LongestIdle),
            Rule::Strategy(SelectionStrategy::MostSkilled),
            Rule::Strategy(SelectionStrategy::LeastOccupied),
        ] {
            assert_eq!(Rule::from(RuleDto::from(rule)), rule);
            let json = serde_json::to_value(RuleDto::from(rule)).expect("serializable");
            assert_eq!(json, serde_json::Value::from(rule.as_str()));
        }
    }

    #[test]
    fn enum_names_match_the_core() {
        for channel in Channel::ALL {
            let json = serde_json::to_value(ChannelDto::from(channel)).expect("serializable");
            assert_eq!(json, serde_json::Value::from(channel.as_str()));
        }
        for outcome in [Outcome::Resolved, Outcome::Referred, Outcome::NoAction] {
            let json = serde_json::to_value(OutcomeDto::from(outcome)).expect("serializable");
            assert_eq!(json, serde_json::Value::from(outcome.as_str()));
        }
        for stage in [
            ComplaintStage::Stage1,
            ComplaintStage::Stage2,
            ComplaintStage::Ombudsman,
        ] {
            let json = serde_json::to_value(ComplaintStageDto::from(stage)).expect("serializable");
            assert_eq!(json, serde_json::Value::from(stage.as_str()));
        }
        for reason in [
            RevokeReason::ContactAbandoned,
            RevokeReason::AgentNotReady,
            RevokeReason::AgentLoggedOut,
        ] {
            let json = serde_json::to_value(RevokeReasonDto::from(reason)).expect("serializable");
            assert_eq!(json, serde_json::Value::from(reason.as_str()));
        }
    }
}
