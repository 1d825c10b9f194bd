//! The small value types of the domain: channels, tiers, proficiency levels, priorities, agent
//! presence and contact outcomes.

use std::fmt;
use std::sync::Arc;

use crate::ids::SkillId;
use crate::time::Timestamp;

/// How a contact arrives. See DOMAIN.md, "Channels".
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub enum Channel {
    /// Live: the customer waits on the line and may hang up. Exclusive.
    Phone,
    /// Live: the customer is standing in a particular building. Exclusive; only agents at that
    /// site may take it.
    FaceToFace,
    /// Live but slower: an agent can hold several.
    Chat,
    /// Deferred work with a due date (email, correspondence, online forms). Interruptible.
    Email,
    /// Deferred: the customer asked to be called back. Exclusive while it runs.
    Callback,
}

impl Channel {
    /// Every channel, in the order used for per-channel arrays.
    pub const ALL: [Self; 5] = [
        Self::Phone,
        Self::FaceToFace,
        Self::Chat,
        Self::Email,
        Self::Callback,
    ];

    /// The number of channels.
    pub const COUNT: usize = Self::ALL.len();

    /// This channel's position in [`Channel::ALL`].
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Live work: the customer is waiting now (phone, face to face, chat).
    #[must_use]
    pub const fn is_live(self) -> bool {
        matches!(self, Self::Phone | Self::FaceToFace | Self::Chat)
    }

    /// Exclusive work: while an agent holds it, nothing else is offered to them.
    #[must_use]
    pub const fn is_exclusive(self) -> bool {
        matches!(self, Self::Phone | Self::FaceToFace | Self::Callback)
    }

    /// Interruptible work (email and correspondence): an agent holding it is still free for
    /// anything else, so it neither keeps them from being idle nor from wrapping up.
    #[must_use]
    pub const fn is_interruptible(self) -> bool {
        !self.is_live() && !self.is_exclusive()
    }

    /// The channel's name on the wire and in reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::FaceToFace => "face_to_face",
            Self::Chat => "chat",
            Self::Email => "email",
            Self::Callback => "callback",
        }
    }

    /// Parses a channel's wire name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value per channel, e.g. an agent's capacity or load.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct PerChannel<T>(pub [T; Channel::COUNT]);

impl<T: Copy> PerChannel<T> {
    /// The same value for every channel.
    pub const fn splat(value: T) -> Self {
        Self([value; Channel::COUNT])
    }

    /// The value for `channel`.
    pub const fn get(&self, channel: Channel) -> T {
        self.0[channel.index()]
    }

    /// Sets the value for `channel`.
    pub const fn set(&mut self, channel: Channel, value: T) {
        self.0[channel.index()] = value;
    }

    /// Every channel with its value.
    pub fn iter(&self) -> impl Iterator<Item = (Channel, T)> + '_ {
        Channel::ALL.into_iter().map(|c| (c, self.get(c)))
    }
}

/// An escalation tier, 1 (first point of contact) to 5 (specialist / back office).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct Tier(u8);

impl Tier {
    /// Customer service representative / advisor level 1.
    pub const FIRST: Self = Self(1);
    /// Specialist / back office: the hand-off point beyond customer services.
    pub const LAST: Self = Self(5);

    /// The tier numbered `n`, if `1 <= n <= 5`.
    #[must_use]
    pub const fn new(n: u8) -> Option<Self> {
        if n >= Self::FIRST.0 && n <= Self::LAST.0 {
            Some(Self(n))
        } else {
            None
        }
    }

    /// The tier's number, 1 to 5.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The tier above this one, if any.
    #[must_use]
    pub const fn next(self) -> Option<Self> {
        Self::new(self.0 + 1)
    }

    /// This tier plus `steps`, capped at the last tier.
    #[must_use]
    pub const fn saturating_add(self, steps: u8) -> Self {
        let n = self.0.saturating_add(steps);
        if n > Self::LAST.0 {
            Self::LAST
        } else {
            Self(n)
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tier {}", self.0)
    }
}

/// A proficiency level in a skill, 1 (trainee) to 5 (expert).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct Level(u8);

impl Level {
    /// The lowest proficiency.
    pub const MIN: Self = Self(1);
    /// Competent and working independently: the level a contact's language requires by default.
    pub const COMPETENT: Self = Self(3);
    /// The highest proficiency.
    pub const MAX: Self = Self(5);

    /// The level numbered `n`, if `1 <= n <= 5`.
    #[must_use]
    pub const fn new(n: u8) -> Option<Self> {
        if n >= Self::MIN.0 && n <= Self::MAX.0 {
            Some(Self(n))
        } else {
            None
        }
    }

    /// The level's number, 1 to 5.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// This level lowered by `steps`, never below [`Level::MIN`].
    #[must_use]
    pub const fn relaxed_by(self, steps: u8) -> Self {
        let n = self.0.saturating_sub(steps);
        if n < Self::MIN.0 { Self::MIN } else { Self(n) }
    }
}

/// A contact's priority, 0 (routine) to 9 (most urgent). Higher priorities are answered first,
/// within the bound on overtaking described in [`crate::QueueOrder`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct Priority(u8);

impl Priority {
    /// Routine work.
    pub const ROUTINE: Self = Self(0);
    /// The most urgent priority.
    pub const MAX: Self = Self(9);

    /// The priority numbered `n`, if `n <= 9`.
    #[must_use]
    pub const fn new(n: u8) -> Option<Self> {
        if n <= Self::MAX.0 {
            Some(Self(n))
        } else {
            None
        }
    }

    /// The priority's number, 0 to 9.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// This priority raised by `boost`, capped at [`Priority::MAX`].
    #[must_use]
    pub const fn boosted(self, boost: u8) -> Self {
        let n = self.0.saturating_add(boost);
        if n > Self::MAX.0 { Self::MAX } else { Self(n) }
    }
}

/// A skill a contact needs, at or above a proficiency level.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct SkillRequirement {
    /// The skill.
    pub skill: SkillId,
    /// The lowest acceptable proficiency.
    pub min_level: Level,
}

/// Where an agent is in their working day.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub enum Presence {
    /// Not logged in: never offered anything.
    LoggedOut,
    /// Available: offered work up to their per-channel capacity.
    Ready,
    /// Logged in but not taking new work (break, training, missed offers...). Work in hand goes on.
    NotReady {
        /// Why, as given by the desktop or by the core (`missed_offers`, `login`).
        reason: Arc<str>,
    },
    /// After-contact work; becomes ready at `until` (or earlier if the agent says ready).
    WrapUp {
        /// When wrap-up ends.
        until: Timestamp,
    },
}

impl Presence {
    /// The presence's name on the wire and in reports.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::Ready => "ready",
            Self::NotReady { .. } => "not_ready",
            Self::WrapUp { .. } => "wrap_up",
        }
    }
}

/// How an agent finished a contact.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub enum Outcome {
    /// The customer's enquiry was dealt with.
    Resolved,
    /// Referred on (to back office or another organisation): to be chased until resolved.
    Referred,
    /// Nothing to do (wrong number, duplicate email...).
    NoAction,
}

impl Outcome {
    /// The outcome's name on the wire and in reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Resolved => "resolved",
            Self::Referred => "referred",
            Self::NoAction => "no_action",
        }
    }
}

/// The stage a complaint has reached under the council's complaints procedure.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub enum ComplaintStage {
    /// Stage 1: the first response.
    Stage1,
    /// Stage 2: the customer was still dissatisfied.
    Stage2,
    /// Referred to the Ombudsman.
    Ombudsman,
}

impl ComplaintStage {
    /// The stage's name on the wire and in reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stage1 => "stage_1",
            Self::Stage2 => "stage_2",
            Self::Ombudsman => "ombudsman",
        }
    }
}

/// How the core chooses among several agents who could all take a contact.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub enum SelectionStrategy {
    /// The agent who has been free the longest: spreads work fairly. The default.
    #[default]
    LongestIdle,
    /// The agent with the highest proficiency in the contact's skills.
    MostSkilled,
    /// The agent holding the least work now (useful with multi-session chat and email).
    LeastOccupied,
}

impl SelectionStrategy {
    /// The strategy's name in configuration and in decision records.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LongestIdle => "longest_idle",
            Self::MostSkilled => "most_skilled",
            Self::LeastOccupied => "least_occupied",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_enforced() {
        assert_eq!(Tier::new(0), None);
        assert_eq!(Tier::new(6), None);
        assert_eq!(Tier::new(3).map(Tier::get), Some(3));
        assert_eq!(Tier::LAST.next(), None);
        assert_eq!(Tier::FIRST.saturating_add(10), Tier::LAST);
        assert_eq!(Level::new(0), None);
        assert_eq!(Level::MAX.relaxed_by(9), Level::MIN);
        assert_eq!(Priority::new(10), None);
        assert_eq!(Priority::new(8).map(|p| p.boosted(5)), Some(Priority::MAX));
    }

    #[test]
    fn channel_names_round_trip() {
        for channel in Channel::ALL {
            assert_eq!(Channel::from_name(channel.as_str()), Some(channel));
        }
        assert_eq!(Channel::from_name("fax"), None);
        assert!(Channel::Phone.is_exclusive() && Channel::Phone.is_live());
        assert!(!Channel::Email.is_live() && !Channel::Email.is_exclusive());
        assert!(Channel::Callback.is_exclusive() && !Channel::Callback.is_live());
    }
}
