//! Why a command was refused. A rejection changes nothing: no events, no state.

use std::fmt;

use crate::time::Timestamp;

/// A refused command, with a code for programs and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// What kind of refusal.
    pub code: RejectionCode,
    /// What was wrong, in a sentence naming the agent, contact or offer.
    pub message: String,
    /// For [`RejectionCode::Closed`]: when the channel next opens, if within a year.
    pub opens_at: Option<Timestamp>,
}

impl Rejection {
    pub(crate) fn new(code: RejectionCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            opens_at: None,
        }
    }

    pub(crate) fn closed(message: impl Into<String>, opens_at: Option<Timestamp>) -> Self {
        Self {
            code: RejectionCode::Closed,
            message: message.into(),
            opens_at,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Rejection {}

/// The kinds of refusal. Their names are the wire contract's error codes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RejectionCode {
    /// The agent is not known (never logged in).
    UnknownAgent,
    /// The contact is not known, or already finished.
    UnknownContact,
    /// The offer is not known, or already answered, expired or withdrawn.
    UnknownOffer,
    /// The command does not fit the current state (e.g. ready while logged out, completing a
    /// contact that is still queued).
    InvalidTransition,
    /// The offer, or the contact, belongs to another agent.
    NotYourOffer,
    /// A contact with this id is already live (or finished within the retention window).
    DuplicateContact,
    /// The command is well-formed but not acceptable (e.g. face to face without a site).
    InvalidCommand,
    /// The contact's channel is closed at its site and the out-of-hours treatment is to refuse
    /// it; the rejection names the next opening.
    Closed,
}

impl RejectionCode {
    /// The code's name on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnknownAgent => "unknown_agent",
            Self::UnknownContact => "unknown_contact",
            Self::UnknownOffer => "unknown_offer",
            Self::InvalidTransition => "invalid_transition",
            Self::NotYourOffer => "not_your_offer",
            Self::DuplicateContact => "duplicate_contact",
            Self::InvalidCommand => "invalid_command",
            Self::Closed => "closed",
        }
    }
}
