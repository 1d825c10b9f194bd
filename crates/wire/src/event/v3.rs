//! Version 3 of the event DTOs: version 2 unchanged, plus `contact_unservable` (a waiting
//! contact that nobody logged in can serve, and why). **Frozen** once written, like versions 1
//! and 2: see [`crate::stored`] for the rule.
//!
//! As version 2 did with version 1, version 3 does not copy version 2. Its [`EventKindDto`]
//! holds every version 2 kind in version 2's exact form as its first variant,
//! [`EventKindDto::Base`], and appends the new kinds:
//!
//! | index | variant | |
//! |---|---|---|
//! | 0 | `Base(v2::EventKindDto)` | every kind of versions 1 and 2, its bytes exactly as in version 2 |
//! | 1 | `ContactUnservable` | |
//!
//! So a version 2 payload upcasts by wrapping ([`crate::stored::upcast`]), and a version 3
//! payload of an old kind is its version 2 payload with one byte (`Base`'s index) after the
//! instant. In JSON ([`crate::json`]) `Base` is invisible, as in version 2.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_core::{ContactUnservable, Event, EventKind, PersonalDataErasure, Shortfall};

use super::DtoError;
use super::v1::{ChannelDto, Text, Time, id, level, text, tier};
use super::v2::{self, NotInV2};

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
    /// Every kind of versions 1 and 2, in version 2's form (JSON: flattened, named by its own
    /// type).
    Base(#[serde(borrow)] v2::EventKindDto<'a>),
    /// A waiting contact that no logged-in agent could take at its plan step or any later one,
    /// with the requirement nobody meets.
    ContactUnservable(#[serde(borrow)] Box<ContactUnservableDto<'a>>),
}

/// The DTO of [`ContactUnservable`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactUnservableDto<'a> {
    /// The contact.
    #[serde(borrow)]
    pub contact_id: Cow<'a, str>,
    /// The plan step it was at (0-based); no step from here on accepts anyone logged in.
    pub step: u8,
    /// How many agents were logged in.
    pub logged_in: u32,
    /// The first requirement that no logged-in agent meets.
    #[serde(borrow)]
    pub shortfall: ShortfallDto<'a>,
}

/// The DTO of [`Shortfall`]: always an object with one key, the shortfall's kind (JSON
/// `{"skill": {"skill": "council_tax", "level": 1, "site": "market_square"}}`,
/// `{"nobody_logged_in": {}}`). `site`, where present, is the site the search was narrowed to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShortfallDto<'a> {
    /// Nobody is logged in.
    NobodyLoggedIn {},
    /// Nobody logged in takes the contact's channel.
    Channel {
        /// The channel.
        channel: ChannelDto,
    },
    /// Nobody logged in who takes the channel works at the contact's site.
    Site {
        /// The site.
        #[serde(borrow)]
        site: Cow<'a, str>,
    },
    /// Nobody logged in who takes the channel (at the site) has the skill at the level.
    Skill {
        /// The skill.
        #[serde(borrow)]
        skill: Cow<'a, str>,
        /// The lowest level any step ahead accepts, 1 to 5.
        level: u8,
        /// The site searched, if the contact must be served there.
        #[serde(borrow)]
        site: Option<Text<'a>>,
    },
    /// Nobody logged in with the skills (at the site) is in the tiers that may take it.
    Tier {
        /// The contact's tier, 1 to 5.
        lowest: u8,
        /// The highest tier any step ahead lets take it, 1 to 5.
        highest: u8,
        /// The site searched, if the contact must be served there.
        #[serde(borrow)]
        site: Option<Text<'a>>,
    },
    /// Nobody logged in with the skills (at the site) speaks the language, and no step drops it.
    Language {
        /// The language.
        #[serde(borrow)]
        language: Cow<'a, str>,
        /// The site searched, if the contact must be served there.
        #[serde(borrow)]
        site: Option<Text<'a>>,
    },
    /// Every step ahead takes only the preferred agent, who cannot take it now.
    PreferredAgent {
        /// The preferred agent (case owner or last agent).
        #[serde(borrow)]
        agent_id: Cow<'a, str>,
    },
    /// Someone meets each requirement, but nobody meets them all at one step.
    NoSingleStep {},
}

/// The types of the kinds added in version 3, as in [`EventKind::name`]: the JSON `type`s that
/// are read as version 3's own variants (every other type is read as version 2's).
pub const ADDED_TYPES: [&str; 1] = ["contact_unservable"];

impl EventKindDto<'_> {
    /// The JSON form, externally tagged (`{"<type>": {fields}}`) with `Base` left out: an old
    /// kind exactly as version 2 writes it, a new kind under its own type.
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
            v2::EventKindDto::from_tagged_json(event_type, tagged).map(EventKindDto::Base)
        }
    }
}

// --- from the core (cannot fail) -------------------------------------------------------------

/// A kind version 3 cannot hold: one added by a later version, handed back for it to convert.
#[derive(Debug)]
pub enum NotInV3<'a> {
    /// `personal_data_erasure_deferred` and `personal_data_erased` (version 5).
    PersonalDataErasure {
        /// Deferred (true) or carried out (false).
        deferred: bool,
        /// The erasure.
        erasure: &'a PersonalDataErasure,
    },
}

/// Version 3 of an event, when version 3 can hold its kind. Events are no longer written in
/// version 3; this serves version 5 (its `Base`) and tests that build version 3 payloads.
impl<'a> TryFrom<&'a Event> for EventDto<'a> {
    type Error = NotInV3<'a>;

    fn try_from(event: &'a Event) -> Result<Self, NotInV3<'a>> {
        Ok(Self {
            at: event.at.into(),
            kind: (&event.kind).try_into()?,
        })
    }
}

impl<'a> TryFrom<&'a EventKind> for EventKindDto<'a> {
    type Error = NotInV3<'a>;

    fn try_from(kind: &'a EventKind) -> Result<Self, NotInV3<'a>> {
        Ok(match v2::EventKindDto::try_from(kind) {
            Ok(base) => Self::Base(base),
            Err(NotInV2::ContactUnservable(u)) => {
                Self::ContactUnservable(Box::new(ContactUnservableDto {
                    contact_id: text(&u.contact),
                    step: u.step,
                    logged_in: u.logged_in,
                    shortfall: (&u.shortfall).into(),
                }))
            }
            Err(NotInV2::PersonalDataErasure { deferred, erasure }) => {
                return Err(NotInV3::PersonalDataErasure { deferred, erasure });
            }
        })
    }
}

impl<'a> From<&'a Shortfall> for ShortfallDto<'a> {
    fn from(shortfall: &'a Shortfall) -> Self {
        let site = |site: &'a Option<switchboard_core::SiteId>| site.as_deref().map(text);
        match shortfall {
            Shortfall::NobodyLoggedIn => Self::NobodyLoggedIn {},
            Shortfall::Channel(channel) => Self::Channel {
                channel: (*channel).into(),
            },
            Shortfall::Site(s) => Self::Site { site: text(s) },
            Shortfall::Skill {
                skill,
                level,
                site: s,
            } => Self::Skill {
                skill: text(skill),
                level: level.get(),
                site: site(s),
            },
            Shortfall::Tier {
                lowest,
                highest,
                site: s,
            } => Self::Tier {
                lowest: lowest.get(),
                highest: highest.get(),
                site: site(s),
            },
            Shortfall::Language { language, site: s } => Self::Language {
                language: text(language),
                site: site(s),
            },
            Shortfall::PreferredAgent(agent) => Self::PreferredAgent {
                agent_id: text(agent),
            },
            Shortfall::NoSingleStep => Self::NoSingleStep {},
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
            EventKindDto::ContactUnservable(u) => {
                Self::ContactUnservable(Box::new(ContactUnservable {
                    contact: id(&u.contact_id),
                    step: u.step,
                    logged_in: u.logged_in,
                    shortfall: u.shortfall.try_into()?,
                }))
            }
        })
    }
}

impl TryFrom<ShortfallDto<'_>> for Shortfall {
    type Error = DtoError;

    fn try_from(dto: ShortfallDto<'_>) -> Result<Self, DtoError> {
        let site = |site: Option<Text<'_>>| site.as_ref().map(id);
        Ok(match dto {
            ShortfallDto::NobodyLoggedIn {} => Self::NobodyLoggedIn,
            ShortfallDto::Channel { channel } => Self::Channel(channel.into()),
            ShortfallDto::Site { site: s } => Self::Site(id(&s)),
            ShortfallDto::Skill {
                skill,
                level: l,
                site: s,
            } => Self::Skill {
                skill: id(&skill),
                level: level(l, "contact_unservable.shortfall.level")?,
                site: site(s),
            },
            ShortfallDto::Tier {
                lowest,
                highest,
                site: s,
            } => Self::Tier {
                lowest: tier(lowest, "contact_unservable.shortfall.lowest")?,
                highest: tier(highest, "contact_unservable.shortfall.highest")?,
                site: site(s),
            },
            ShortfallDto::Language { language, site: s } => Self::Language {
                language: id(&language),
                site: site(s),
            },
            ShortfallDto::PreferredAgent { agent_id } => Self::PreferredAgent(id(&agent_id)),
            ShortfallDto::NoSingleStep {} => Self::NoSingleStep,
        })
    }
}
