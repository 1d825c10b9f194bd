//! The error half of every reply: a code for programs and a sentence for people.
//!
//! [`WireError`] is what a request that could not be carried out gets back, whether the message
//! was refused at the edge (bad subject, bad body, too large) or the routing core refused the
//! command ([`switchboard_core::Rejection`]). Its codes are the wire contract's error codes;
//! `docs/wire.md` says when each one happens.

use std::fmt;

use schemars::JsonSchema;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use switchboard_core::{Rejection, RejectionCode};

use crate::event::Time;

/// A refused request: `{"code":"invalid_message","message":"field `priority`: ..."}`, and for
/// `closed`, when the channel opens: `{"code":"closed","message":"...","opens_at":"..."}`.
///
/// In JSON `opens_at` is present only when known; in postcard it is always there, as an option
/// after `message` (the last field of the reply, so a client built before it ignores it).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct WireError {
    /// What kind of refusal.
    pub code: ErrorCode,
    /// What was wrong, in a sentence naming the field, agent, contact or offer.
    pub message: String,
    /// `closed`: when the channel next opens, if within a year. Absent otherwise.
    #[serde(default)]
    pub opens_at: Option<Time>,
}

impl Serialize for WireError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // JSON leaves out an unknown opening; postcard reads fields by position, so it has one.
        let write_opens_at = !serializer.is_human_readable() || self.opens_at.is_some();
        let mut error =
            serializer.serialize_struct("WireError", 2 + usize::from(write_opens_at))?;
        error.serialize_field("code", &self.code)?;
        error.serialize_field("message", &self.message)?;
        if write_opens_at {
            error.serialize_field("opens_at", &self.opens_at)?;
        } else {
            error.skip_field("opens_at")?;
        }
        error.end()
    }
}

impl WireError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            opens_at: None,
        }
    }

    /// An `invalid_message` error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidMessage, message)
    }

    /// An `unknown_subject` error.
    pub fn unknown_subject(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnknownSubject, message)
    }
}

/// The wire contract's error codes, written in snake case (`invalid_message`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body could not be read as the subject's message: not JSON (or postcard), a field
    /// missing, unknown, of the wrong type or out of range, an id that breaks the id rules, or a
    /// body that names another agent than its subject.
    InvalidMessage,
    /// The subject is not one of the contract's subjects (or its agent token is not a valid id).
    UnknownSubject,
    /// The body is larger than [`crate::PAYLOAD_BYTES_MAX`].
    PayloadTooLarge,
    /// The agent has never logged in.
    UnknownAgent,
    /// The contact is not known, or has already finished.
    UnknownContact,
    /// The offer is not known, or was already answered, expired or withdrawn.
    UnknownOffer,
    /// The command does not fit the current state (ready while logged out, completing a contact
    /// that is still queued, logging out with a call in hand...).
    InvalidTransition,
    /// The offer, or the contact, belongs to another agent.
    NotYourOffer,
    /// A contact with this id is already live, or finished within the retention window.
    DuplicateContact,
    /// The command is well formed but the core cannot accept it: a new service, skill or site
    /// beyond the 10,000 of its kind the engine keeps, or a due time extended beyond the
    /// calendar's reach. (Escalating above tier 5 does not fit the contact's state:
    /// `invalid_transition`.)
    InvalidCommand,
    /// The engine cannot answer this request now: a contact query while four histories are
    /// being read, or a reply that cannot be written (an instant beyond year 9999). Ask again.
    /// (An engine that is starting, stopping or down sends no reply at all: the request times
    /// out at the sender, and is safe to repeat with the same `command_id`.)
    Unavailable,
    /// The contact's channel is closed (out of hours) and is configured to refuse contacts then;
    /// the error's `opens_at` says when it opens, if within a year.
    Closed,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [Self; 12] = [
        Self::InvalidMessage,
        Self::UnknownSubject,
        Self::PayloadTooLarge,
        Self::UnknownAgent,
        Self::UnknownContact,
        Self::UnknownOffer,
        Self::InvalidTransition,
        Self::NotYourOffer,
        Self::DuplicateContact,
        Self::InvalidCommand,
        Self::Unavailable,
        Self::Closed,
    ];

    /// The code's name on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidMessage => "invalid_message",
            Self::UnknownSubject => "unknown_subject",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnknownAgent => "unknown_agent",
            Self::UnknownContact => "unknown_contact",
            Self::UnknownOffer => "unknown_offer",
            Self::InvalidTransition => "invalid_transition",
            Self::NotYourOffer => "not_your_offer",
            Self::DuplicateContact => "duplicate_contact",
            Self::InvalidCommand => "invalid_command",
            Self::Unavailable => "unavailable",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<RejectionCode> for ErrorCode {
    fn from(code: RejectionCode) -> Self {
        match code {
            RejectionCode::UnknownAgent => Self::UnknownAgent,
            RejectionCode::UnknownContact => Self::UnknownContact,
            RejectionCode::UnknownOffer => Self::UnknownOffer,
            RejectionCode::InvalidTransition => Self::InvalidTransition,
            RejectionCode::NotYourOffer => Self::NotYourOffer,
            RejectionCode::DuplicateContact => Self::DuplicateContact,
            RejectionCode::InvalidCommand => Self::InvalidCommand,
            RejectionCode::Closed => Self::Closed,
        }
    }
}

impl From<&Rejection> for WireError {
    fn from(rejection: &Rejection) -> Self {
        Self {
            code: rejection.code.into(),
            message: rejection.message.clone(),
            opens_at: rejection.opens_at.map(Into::into),
        }
    }
}

impl From<Rejection> for WireError {
    fn from(rejection: Rejection) -> Self {
        Self {
            code: rejection.code.into(),
            message: rejection.message,
            opens_at: rejection.opens_at.map(Into::into),
        }
    }
}
