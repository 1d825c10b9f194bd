//! Serde DTOs of every core event, and their conversions to and from the core's types.
//!
//! The core's [`switchboard_core::Event`] knows nothing of serde. Here each event has a data
//! transfer object that does: `EventDto::from(&event)` borrows from the event (encoding copies no
//! strings), and `Event::try_from(dto)` validates what the core cannot represent or would trip
//! over (tier and level 1–5, priority 0–9, a contact's skills never empty), with a [`DtoError`]
//! naming the field. A decoded event never panics the core for its values; whether it fits the
//! state it is applied to (an agent who exists, an offer that is open) is the log's business.
//!
//! The DTOs are versioned and every written version is frozen. [`v1`] is the first version;
//! [`v2`] holds v1's kinds unchanged (its `Base` variant) and adds the kinds of opening hours,
//! working-day clocks and complaints; [`v3`] holds v2's the same way and adds
//! `contact_unservable`; [`v5`], the current one, holds v3's the same way and adds the erasure of
//! personal data (there is no `v4`: stored version 4 changed only the envelope). The current version's types are re-exported
//! here (with v1's shared building blocks), and [`crate::stored`] upcasts older stored versions
//! to them in one place.
//!
//! Names are snake case as in the wire contract: event variants as [`EventKind::name`]
//! (`offer_made`), ids as `agent_id`, `contact_id`, `offer_id`, `customer_id`, channels as
//! `phone`, `face_to_face`, `chat`, `email`, `callback`, outcomes as `resolved`, `referred`,
//! `no_action`. Durations are whole milliseconds in `*_ms` fields; instants are milliseconds since
//! the Unix epoch in postcard and RFC 3339 UTC strings in JSON (see [`v1::Time`]).
//!
//! [`EventKind::name`]: switchboard_core::EventKind::name

pub mod v1;
pub mod v2;
pub mod v3;
pub mod v5;

pub use v1::{
    AgentLoggedInDto, AttributeDto, CapacityDto, ChannelDto, ComplaintStageDto, ContactCreatedDto,
    DecisionDto, OfferMadeDto, OutcomeDto, PlacementDto, QueueOrderDto, RevokeReasonDto, RuleDto,
    SkillLevelDto, SkillRequirementDto, Text, Time,
};
pub use v2::{ComplaintStageChangedDto, DueTimeExtendedDto};
pub use v3::{ContactUnservableDto, ShortfallDto};
pub use v5::{EventDto, EventKindDto, PersonalDataErasureDto};

/// Why a DTO does not make a valid core event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DtoError {
    /// A number lies outside the range its field allows (tier and level 1–5, priority 0–9).
    #[error("`{field}` is {value}, outside {min}..={max}")]
    OutOfRange {
        /// The field, as `event_type.field` (e.g. `contact_escalated.to_tier`).
        field: &'static str,
        /// The value found.
        value: u8,
        /// The lowest value allowed.
        min: u8,
        /// The highest value allowed.
        max: u8,
    },
    /// A list that must hold at least one entry is empty (a contact's skills).
    #[error("`{field}` must not be empty")]
    Empty {
        /// The field, as `event_type.field`.
        field: &'static str,
    },
}
