//! Version 2 of the event DTOs: version 1 unchanged, plus the kinds of issue 7 (opening hours,
//! working-day clocks, complaints). **Frozen** once written, like version 1: see
//! [`crate::stored`] for the rule. Version 3 ([`super::v3`]) holds it as its `Base`.
//!
//! Version 2 does not copy version 1. Its [`EventKindDto`] holds every version 1 kind in version
//! 1's exact form as its first variant, [`EventKindDto::Base`], and appends the new kinds as
//! variants of their own:
//!
//! | index | variant | |
//! |---|---|---|
//! | 0 | `Base(v1::EventKindDto)` | every kind of version 1, its bytes exactly as in version 1 |
//! | 1 | `ContactHeld` | |
//! | 2 | `ContactReleased` | |
//! | 3 | `ComplaintStageChanged` | |
//! | 4 | `DueTimeExtended` | |
//! | 5 | `PersistentComplainantMarked` | |
//!
//! So a version 1 payload upcasts by wrapping ([`crate::stored::upcast`]), the conversions of
//! the old kinds to and from the core are version 1's, and a version 2 payload of an old kind
//! is its version 1 payload with one byte (`Base`'s index) after the instant. A version 3 would
//! do the same with `Base(v2::EventKindDto)`.
//!
//! In JSON ([`crate::json`]) `Base` is invisible: an old kind is published exactly as version 1
//! writes it, and a new kind under its own `type`, from [`EventKindDto::tagged_json`].

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_core::{
    ComplaintStageChanged, ContactUnservable, DueTimeExtended, Event, EventKind,
    PersonalDataErasure,
};

use super::DtoError;
use super::v1::{
    self, ComplaintStageDto, NotInV1, PlacementDto, QueueOrderDto, Text, Time, arc, id, opt_text,
    text,
};

/// A fact with the instant it was decided: the DTO of [`Event`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventDto<'a> {
    /// When it happened.
    pub at: Time,
    /// What happened.
    #[serde(borrow)]
    pub kind: EventKindDto<'a>,
}

/// What happened: the DTO of [`EventKind`]. Variant names (but `base`) are [`EventKind::name`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKindDto<'a> {
    /// Every kind of version 1, in version 1's form (JSON: flattened, named by its own type).
    Base(#[serde(borrow)] v1::EventKindDto<'a>),
    /// A contact that arrived while its channel was closed waits, unoffered, for the opening.
    ContactHeld {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// When it joins its queue: the channel's next opening.
        until: Time,
        /// The calendar that is closed.
        #[serde(borrow)]
        calendar: Cow<'a, str>,
    },
    /// A held contact joined its queue at the opening.
    ContactReleased {
        /// The contact.
        #[serde(borrow)]
        contact_id: Cow<'a, str>,
        /// Its place in its plan, counted from the release.
        placement: PlacementDto,
    },
    /// A complaint reached a stage (on arrival, or moving on): the stage's clock starts.
    ComplaintStageChanged(#[serde(borrow)] Box<ComplaintStageChangedDto<'a>>),
    /// A due time was extended, with the reason given to the customer.
    DueTimeExtended(#[serde(borrow)] Box<DueTimeExtendedDto<'a>>),
    /// A customer was designated a persistent complainant, or the designation was lifted.
    PersistentComplainantMarked {
        /// The customer.
        #[serde(borrow)]
        customer_id: Cow<'a, str>,
        /// Designated (true) or lifted (false).
        designated: bool,
        /// The policy decision recorded.
        #[serde(borrow)]
        reason: Cow<'a, str>,
    },
}

/// The DTO of [`ComplaintStageChanged`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComplaintStageChangedDto<'a> {
    /// The complaint.
    #[serde(borrow)]
    pub contact_id: Cow<'a, str>,
    /// The stage it was at; `null` when it arrived as a complaint.
    pub from: Option<ComplaintStageDto>,
    /// The stage it is at now.
    pub to: ComplaintStageDto,
    /// Why (`received` on arrival; the customer's request to escalate; the referral).
    #[serde(borrow)]
    pub reason: Cow<'a, str>,
    /// The agent who was handling it and let it go back to the queue, or who asked.
    #[serde(borrow)]
    pub agent_id: Option<Text<'a>>,
    /// When the stage's clock starts: receipt of the complaint, or of the request to escalate.
    pub received_at: Time,
    /// When the acknowledgement is due (stages 1 and 2).
    pub acknowledge_by: Option<Time>,
    /// When the response is due: the contact's due time from now on.
    pub due_at: Option<Time>,
    /// When it is reported at risk if not done.
    pub due_warning_at: Option<Time>,
    /// Its place in the queue order under the new due time.
    pub order: QueueOrderDto,
    /// Its place in its routing plan (a new place if it went back to the queue).
    pub placement: PlacementDto,
}

/// The DTO of [`DueTimeExtended`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DueTimeExtendedDto<'a> {
    /// The contact.
    #[serde(borrow)]
    pub contact_id: Cow<'a, str>,
    /// Who extended it, if known.
    #[serde(borrow)]
    pub agent_id: Option<Text<'a>>,
    /// The due time before.
    pub previous_due_at: Time,
    /// The due time now.
    pub due_at: Time,
    /// The working days added.
    pub working_days: u32,
    /// The reason given to the customer.
    #[serde(borrow)]
    pub reason: Cow<'a, str>,
    /// When it is reported at risk now.
    pub due_warning_at: Option<Time>,
    /// Its place in the queue order under the new due time.
    pub order: QueueOrderDto,
}

/// The types of the kinds added in version 2, as in [`EventKind::name`]: the JSON `type`s that
/// are read as version 2's own variants (every other type is read as version 1's).
pub const ADDED_TYPES: [&str; 5] = [
    "contact_held",
    "contact_released",
    "complaint_stage_changed",
    "due_time_extended",
    "persistent_complainant_marked",
];

impl EventKindDto<'_> {
    /// The JSON form, externally tagged (`{"<type>": {fields}}`) with `Base` left out: an old
    /// kind exactly as version 1 writes it, a new kind under its own type.
    ///
    /// # Errors
    /// What serde says when an instant cannot be written (after year 9999).
    pub fn tagged_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        self.serialize_tagged(serde_json::value::Serializer)
    }

    /// Serializes the form of [`tagged_json`](Self::tagged_json) with any serializer: `Base`'s
    /// content as version 1 serializes it, a new kind as itself.
    pub(crate) fn serialize_tagged<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match self {
            Self::Base(base) => base.serialize(serializer),
            added => added.serialize(serializer),
        }
    }

    /// Reads the JSON form written by [`tagged_json`](Self::tagged_json): a single-key object
    /// whose key is the event type.
    ///
    /// # Errors
    /// What serde says when the fields do not fit the type (or the type is unknown).
    pub fn from_tagged_json<'v>(
        event_type: &str,
        tagged: &'v serde_json::Value,
    ) -> Result<EventKindDto<'v>, serde_json::Error> {
        if ADDED_TYPES.contains(&event_type) {
            EventKindDto::deserialize(tagged)
        } else {
            v1::EventKindDto::deserialize(tagged).map(EventKindDto::Base)
        }
    }
}

// --- from the core (every kind but those of later versions) -----------------------------------

/// A kind that version 2 cannot hold, handed back for a later version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotInV2<'a> {
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

/// Version 2 of an event, when version 2 can hold its kind. Events are no longer written in
/// version 2; this serves version 3 (its `Base`) and tests that build version 2 payloads.
impl<'a> TryFrom<&'a Event> for EventDto<'a> {
    type Error = NotInV2<'a>;

    fn try_from(event: &'a Event) -> Result<Self, NotInV2<'a>> {
        Ok(Self {
            at: event.at.into(),
            kind: (&event.kind).try_into()?,
        })
    }
}

impl<'a> TryFrom<&'a EventKind> for EventKindDto<'a> {
    type Error = NotInV2<'a>;

    fn try_from(kind: &'a EventKind) -> Result<Self, NotInV2<'a>> {
        Ok(match v1::EventKindDto::try_from(kind) {
            Ok(base) => Self::Base(base),
            Err(NotInV1::ContactHeld {
                contact,
                until,
                calendar,
            }) => Self::ContactHeld {
                contact_id: text(contact),
                until: until.into(),
                calendar: text(calendar),
            },
            Err(NotInV1::ContactReleased { contact, placement }) => Self::ContactReleased {
                contact_id: text(contact),
                placement: placement.into(),
            },
            Err(NotInV1::ComplaintStageChanged(changed)) => {
                Self::ComplaintStageChanged(Box::new(changed.into()))
            }
            Err(NotInV1::DueTimeExtended(extended)) => {
                Self::DueTimeExtended(Box::new(extended.into()))
            }
            Err(NotInV1::PersistentComplainantMarked {
                customer,
                designated,
                reason,
            }) => Self::PersistentComplainantMarked {
                customer_id: text(customer),
                designated,
                reason: text(reason),
            },
            Err(NotInV1::ContactUnservable(unservable)) => {
                return Err(NotInV2::ContactUnservable(unservable));
            }
            Err(NotInV1::PersonalDataErasure { deferred, erasure }) => {
                return Err(NotInV2::PersonalDataErasure { deferred, erasure });
            }
        })
    }
}

impl<'a> From<&'a ComplaintStageChanged> for ComplaintStageChangedDto<'a> {
    fn from(c: &'a ComplaintStageChanged) -> Self {
        Self {
            contact_id: text(&c.contact),
            from: c.from.map(Into::into),
            to: c.to.into(),
            reason: text(&c.reason),
            agent_id: opt_text(c.agent.as_ref()),
            received_at: c.received_at.into(),
            acknowledge_by: c.acknowledge_by.map(Into::into),
            due_at: c.due_at.map(Into::into),
            due_warning_at: c.due_warning_at.map(Into::into),
            order: c.order.into(),
            placement: c.placement.into(),
        }
    }
}

impl<'a> From<&'a DueTimeExtended> for DueTimeExtendedDto<'a> {
    fn from(e: &'a DueTimeExtended) -> Self {
        Self {
            contact_id: text(&e.contact),
            agent_id: opt_text(e.agent.as_ref()),
            previous_due_at: e.previous_due_at.into(),
            due_at: e.due_at.into(),
            working_days: e.working_days,
            reason: text(&e.reason),
            due_warning_at: e.due_warning_at.map(Into::into),
            order: e.order.into(),
        }
    }
}

// --- back to the core (validated) ------------------------------------------------------------

impl TryFrom<EventDto<'_>> for Event {
    type Error = DtoError;

    fn try_from(dto: EventDto<'_>) -> Result<Self, DtoError> {
        Ok(Self {
            at: dto.at.into(),
            kind: dto.kind.try_into()?,
        })
    }
}

impl TryFrom<EventKindDto<'_>> for EventKind {
    type Error = DtoError;

    fn try_from(dto: EventKindDto<'_>) -> Result<Self, DtoError> {
        Ok(match dto {
            EventKindDto::Base(base) => base.try_into()?,
            EventKindDto::ContactHeld {
                contact_id,
                until,
                calendar,
            } => Self::ContactHeld {
                contact: id(&contact_id),
                until: until.into(),
                calendar: arc(&calendar),
            },
            EventKindDto::ContactReleased {
                contact_id,
                placement,
            } => Self::ContactReleased {
                contact: id(&contact_id),
                placement: placement.into(),
            },
            EventKindDto::ComplaintStageChanged(c) => {
                Self::ComplaintStageChanged(Box::new(ComplaintStageChanged {
                    contact: id(&c.contact_id),
                    from: c.from.map(Into::into),
                    to: c.to.into(),
                    reason: arc(&c.reason),
                    agent: c.agent_id.as_ref().map(id),
                    received_at: c.received_at.into(),
                    acknowledge_by: c.acknowledge_by.map(Into::into),
                    due_at: c.due_at.map(Into::into),
                    due_warning_at: c.due_warning_at.map(Into::into),
                    order: c.order.into(),
                    placement: c.placement.into(),
                }))
            }
            EventKindDto::DueTimeExtended(e) => Self::DueTimeExtended(Box::new(DueTimeExtended {
                contact: id(&e.contact_id),
                agent: e.agent_id.as_ref().map(id),
                previous_due_at: e.previous_due_at.into(),
                due_at: e.due_at.into(),
                working_days: e.working_days,
                reason: arc(&e.reason),
                due_warning_at: e.due_warning_at.map(Into::into),
                order: e.order.into(),
            })),
            EventKindDto::PersistentComplainantMarked {
                customer_id,
                designated,
                reason,
            } => Self::PersistentComplainantMarked {
                customer: id(&customer_id),
                designated,
                reason: arc(&reason),
            },
        })
    }
}
