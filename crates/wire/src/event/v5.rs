//! Version 5 of the event DTOs: version 3 unchanged, plus the erasure of a customer's personal
//! data (`personal_data_erasure_deferred`, `personal_data_erased`). **Frozen** once written,
//! like the versions before it: see [`crate::stored`] for the rule. (There is no version 4 of
//! the events: stored version 4 changed only the envelope.)
//!
//! As version 3 did with version 2, version 5 does not copy version 3. Its [`EventKindDto`]
//! holds every version 3 kind in version 3's exact form as its first variant,
//! [`EventKindDto::Base`], and appends the new kinds:
//!
//! | index | variant | |
//! |---|---|---|
//! | 0 | `Base(v3::EventKindDto)` | every kind of versions 1 to 3, its bytes exactly as in version 3 |
//! | 1 | `PersonalDataErasureDeferred` | |
//! | 2 | `PersonalDataErased` | |
//!
//! The erasure carries the customer's pseudonym (`subject`, a keyed hash in hex) and the
//! customer as the core knew them (a sealed token, unreadable once the key is destroyed), never
//! the reference in the clear. In JSON ([`crate::json`]) `Base` is invisible.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_core::{ErasureReason, Event, EventKind, PersonalDataErasure};

use super::DtoError;
use super::v1::{Text, Time, id, text};
use super::v3::{self, NotInV3};

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
    /// Every kind of versions 1 to 3, in version 3's form (JSON: flattened, named by its own
    /// type).
    Base(#[serde(borrow)] v3::EventKindDto<'a>),
    /// A customer's erasure waits for the contacts they have in progress to end.
    PersonalDataErasureDeferred(#[serde(borrow)] Box<PersonalDataErasureDto<'a>>),
    /// A customer's personal data was erased: their key is destroyed.
    PersonalDataErased(#[serde(borrow)] Box<PersonalDataErasureDto<'a>>),
}

/// The DTO of [`PersonalDataErasure`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PersonalDataErasureDto<'a> {
    /// The customer as the engine knew them (sealed: `[erased]` once opened after the erasure),
    /// or `null` when nothing was held for them.
    #[serde(borrow)]
    pub customer_id: Option<Text<'a>>,
    /// The customer's pseudonym: what the erasure is recorded and found under.
    #[serde(borrow)]
    pub subject: Cow<'a, str>,
    /// Why: `request` (the customer asked) or `retention` (the schedule's period ran out).
    pub reason: ErasureReasonDto,
    /// Deferred: how many of the customer's contacts were in progress. Erased: 0.
    pub live_contacts: u32,
}

/// The DTO of [`ErasureReason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureReasonDto {
    /// The customer asked.
    Request,
    /// The retention schedule's period ran out.
    Retention,
}

/// The types of the kinds added in version 5, as in [`EventKind::name`]: the JSON `type`s that
/// are read as version 5's own variants (every other type is read as version 3's).
pub const ADDED_TYPES: [&str; 2] = ["personal_data_erasure_deferred", "personal_data_erased"];

impl EventKindDto<'_> {
    /// The JSON form, externally tagged (`{"<type>": {fields}}`) with `Base` left out: an old
    /// kind exactly as version 3 writes it, a new kind under its own type.
    ///
    /// # Errors
    /// What serde says when an instant cannot be written (after year 9999).
    pub fn tagged_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        self.serialize_tagged(serde_json::value::Serializer)
    }

    /// Serializes the form of [`tagged_json`](Self::tagged_json) with any serializer.
    pub(crate) fn serialize_tagged<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match self {
            Self::Base(base) => base.serialize_tagged(serializer),
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
            v3::EventKindDto::from_tagged_json(event_type, tagged).map(EventKindDto::Base)
        }
    }
}

// --- from the core (cannot fail) -------------------------------------------------------------

impl<'a> From<&'a Event> for EventDto<'a> {
    fn from(event: &'a Event) -> Self {
        Self {
            at: event.at.into(),
            kind: (&event.kind).into(),
        }
    }
}

impl<'a> From<&'a EventKind> for EventKindDto<'a> {
    fn from(kind: &'a EventKind) -> Self {
        match v3::EventKindDto::try_from(kind) {
            Ok(base) => Self::Base(base),
            Err(NotInV3::PersonalDataErasure { deferred, erasure }) => {
                let dto = Box::new(erasure.into());
                if deferred {
                    Self::PersonalDataErasureDeferred(dto)
                } else {
                    Self::PersonalDataErased(dto)
                }
            }
        }
    }
}

impl<'a> From<&'a PersonalDataErasure> for PersonalDataErasureDto<'a> {
    fn from(erasure: &'a PersonalDataErasure) -> Self {
        Self {
            customer_id: erasure.customer.as_deref().map(text),
            subject: text(&erasure.subject),
            reason: erasure.reason.into(),
            live_contacts: erasure.live_contacts,
        }
    }
}

impl From<ErasureReason> for ErasureReasonDto {
    fn from(reason: ErasureReason) -> Self {
        match reason {
            ErasureReason::Request => Self::Request,
            ErasureReason::Retention => Self::Retention,
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
            EventKindDto::PersonalDataErasureDeferred(e) => {
                Self::PersonalDataErasureDeferred(Box::new((*e).into()))
            }
            EventKindDto::PersonalDataErased(e) => Self::PersonalDataErased(Box::new((*e).into())),
        })
    }
}

impl From<PersonalDataErasureDto<'_>> for PersonalDataErasure {
    fn from(dto: PersonalDataErasureDto<'_>) -> Self {
        Self {
            customer: dto.customer_id.as_ref().map(id),
            subject: id(&dto.subject),
            reason: dto.reason.into(),
            live_contacts: dto.live_contacts,
        }
    }
}

impl From<ErasureReasonDto> for ErasureReason {
    fn from(dto: ErasureReasonDto) -> Self {
        match dto {
            ErasureReasonDto::Request => Self::Request,
            ErasureReasonDto::Retention => Self::Retention,
        }
    }
}
