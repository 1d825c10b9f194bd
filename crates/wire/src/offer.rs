//! What an agent's desktop receives: offers on `{p}.agent.<agent_id>.offer`, and notices on
//! `{p}.agent.<agent_id>.<notice>` (`offer_revoked`, `offer_expired`, `assigned`, `released`,
//! `state`).
//!
//! An offer carries everything the desktop needs to show the contact (its details as they are
//! now, after any escalation or transfer) and why it was chosen (the routing decision as
//! recorded in the `offer_made` event). The driver publishes it after the `offer_made` event is
//! durable, so an offer an agent sees always exists in the log.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_core::event::OfferMade;
use switchboard_core::{AgentId, Event, EventKind, State};

use crate::command::Format;
use crate::error::WireError;
use crate::event::{
    ChannelDto, ComplaintStageDto, DecisionDto, OfferMadeDto, RevokeReasonDto, SkillRequirementDto,
    Time,
};
use crate::reply::PresenceName;

/// An offer of a contact to an agent, with the contact's details and the reasons for the choice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "offer")]
pub struct OfferNotice {
    /// The offer: answer with `accept` or `reject` naming it.
    pub offer_id: u64,
    /// The agent offered it.
    pub agent_id: String,
    /// The contact.
    pub contact_id: String,
    /// How it arrived.
    pub channel: ChannelDto,
    /// Its service now (after any transfer).
    pub service: String,
    /// When the offer expires if not answered: then it goes back to its queue.
    pub expires_at: Time,
    /// The skills it needs, with minimum levels.
    pub skills: Vec<SkillRequirementDto<'static>>,
    /// The community language it needs, if any.
    pub language: Option<String>,
    /// How urgent, 0 to 9 (before the vulnerability boost).
    pub priority: u8,
    /// A safeguarding concern.
    pub safeguarding: bool,
    /// A vulnerable customer.
    pub vulnerable: bool,
    /// The lowest tier that may take it (raised by escalation), 1 to 5.
    pub tier: u8,
    /// The customer's reference, if known.
    pub customer_id: Option<String>,
    /// The case owner or the customer's last agent, if any.
    pub preferred_agent_id: Option<String>,
    /// The site (face to face: the building the customer is in).
    pub site: Option<String>,
    /// Deferred work: when it must be done by.
    pub due_at: Option<Time>,
    /// The complaint stage, if a complaint.
    pub complaint_stage: Option<ComplaintStageDto>,
    /// Free-form attributes from the system that raised it.
    pub attributes: BTreeMap<String, String>,
    /// When the customer first made contact (service levels count from here).
    pub first_arrived_at: Time,
    /// How many times it has been escalated.
    pub escalations: u8,
    /// How many times it has been transferred.
    pub transfers: u8,
    /// Why this agent: plan, step, rule, pool, examined, score (as in the `offer_made` event).
    pub decision: DecisionDto<'static>,
}

fn owned(text: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(text.into_owned())
}

/// The offer notice for an `offer_made` event, from the state after it: `None` when the contact
/// is no longer live (it finished before the notice was built).
#[must_use]
pub fn offer_notice(state: &State, made: &OfferMade) -> Option<OfferNotice> {
    let contact = state.contact(&made.contact)?;
    let profile = &contact.profile;
    let dto = OfferMadeDto::from(made);
    Some(OfferNotice {
        offer_id: made.offer.get(),
        agent_id: made.agent.to_string(),
        contact_id: contact.id.to_string(),
        channel: contact.channel.into(),
        service: state.service_name(contact.service).to_string(),
        expires_at: made.expires_at.into(),
        skills: profile
            .skills
            .iter()
            .map(|&(skill, level)| SkillRequirementDto {
                skill: Cow::Owned(state.skill_name(skill).to_string()),
                min_level: level.get(),
            })
            .collect(),
        language: profile.language.map(|l| state.skill_name(l).to_string()),
        priority: contact.priority.get(),
        safeguarding: contact.safeguarding,
        vulnerable: contact.vulnerable,
        tier: profile.tier.get(),
        customer_id: contact.customer.as_ref().map(ToString::to_string),
        preferred_agent_id: contact.preferred_agent.as_ref().map(ToString::to_string),
        site: profile.site.map(|s| state.site_name(s).to_string()),
        due_at: contact.due_at.map(Into::into),
        complaint_stage: contact.complaint_stage.map(Into::into),
        attributes: contact
            .attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        first_arrived_at: contact.first_arrived_at.into(),
        escalations: contact.escalations,
        transfers: contact.transfers,
        decision: DecisionDto {
            plan: owned(dto.decision.plan),
            step: dto.decision.step,
            step_name: owned(dto.decision.step_name),
            rule: dto.decision.rule,
            pool: dto.decision.pool,
            examined: dto.decision.examined,
            score: dto.decision.score,
        },
    })
}

/// Writes a message (an offer, a notice, a query reply body) in `format`.
///
/// # Errors
/// `invalid_message` when an instant in it lies after year 9999 (JSON cannot write it).
pub fn encode_message<T: Serialize>(message: &T, format: Format) -> Result<Vec<u8>, WireError> {
    match format {
        Format::Json => serde_json::to_vec(message).map_err(|e| WireError::invalid(e.to_string())),
        Format::Postcard => {
            postcard::to_stdvec(message).map_err(|e| WireError::invalid(e.to_string()))
        }
    }
}

/// The bytes of an offer notice.
///
/// # Errors
/// As [`encode_message`].
pub fn encode_offer(notice: &OfferNotice, format: Format) -> Result<Vec<u8>, WireError> {
    encode_message(notice, format)
}

/// `{p}.agent.<agent_id>.offer_revoked`: an open offer was withdrawn (the customer left, or the
/// agent went not ready or logged out). Stop showing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "offer_revoked")]
pub struct OfferRevokedNotice {
    /// The offer.
    pub offer_id: u64,
    /// The contact.
    pub contact_id: String,
    /// Why it was withdrawn.
    pub reason: RevokeReasonDto,
    /// When.
    pub at: Time,
}

/// `{p}.agent.<agent_id>.offer_expired`: the offer was not answered in time; the contact went
/// back to its queue. (Two in a row and the agent is made not ready, reason `missed_offers`.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "offer_expired")]
pub struct OfferExpiredNotice {
    /// The offer.
    pub offer_id: u64,
    /// The contact.
    pub contact_id: String,
    /// When.
    pub at: Time,
}

/// `{p}.agent.<agent_id>.assigned`: the contact is the agent's now (after their accept, or
/// accepted automatically, as email is by default).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "assigned")]
pub struct AssignedNotice {
    /// The offer accepted.
    pub offer_id: u64,
    /// The contact.
    pub contact_id: String,
    /// Accepted by the channel's auto-accept policy, not by the agent.
    pub automatic: bool,
    /// When.
    pub at: Time,
}

/// `{p}.agent.<agent_id>.released`: work in the agent's hand went back to its queue without
/// them finishing it (they logged out, or the complaint moved on a stage). Stop showing it: an
/// action on it now would be refused. It is shown again only if offered or assigned anew.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "released")]
pub struct ReleasedNotice {
    /// The contact.
    pub contact_id: String,
    /// Why: `agent_logged_out`, or `complaint_stage_changed` (as in the `contact_requeued`
    /// event).
    pub reason: String,
    /// When.
    pub at: Time,
}

/// `{p}.agent.<agent_id>.state`: the agent's presence changed (login, ready, not ready, wrap-up
/// started or ended, logout), whoever caused it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "state")]
pub struct StateNotice {
    /// The presence now.
    pub presence: PresenceName,
    /// Not ready: why (`login` just after login, `missed_offers` when the engine decided it).
    pub reason: Option<String>,
    /// Wrap-up: when it ends.
    pub wrap_up_until: Option<Time>,
    /// When.
    pub at: Time,
}

/// A notice for one agent's desktop. Its name is the last token of its subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentNotice {
    /// `offer_revoked`.
    OfferRevoked(OfferRevokedNotice),
    /// `offer_expired`.
    OfferExpired(OfferExpiredNotice),
    /// `assigned`.
    Assigned(AssignedNotice),
    /// `released`.
    Released(ReleasedNotice),
    /// `state`.
    State(StateNotice),
}

impl AgentNotice {
    /// Every notice name.
    pub const NAMES: [&'static str; 5] = [
        "offer_revoked",
        "offer_expired",
        "assigned",
        "released",
        "state",
    ];

    /// The notice's name: the last token of `{p}.agent.<agent_id>.<notice>`.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::OfferRevoked(_) => "offer_revoked",
            Self::OfferExpired(_) => "offer_expired",
            Self::Assigned(_) => "assigned",
            Self::Released(_) => "released",
            Self::State(_) => "state",
        }
    }

    /// The notice's bytes in `format` (the notice's own fields; the name is in the subject).
    ///
    /// # Errors
    /// As [`encode_message`].
    pub fn encode(&self, format: Format) -> Result<Vec<u8>, WireError> {
        match self {
            Self::OfferRevoked(n) => encode_message(n, format),
            Self::OfferExpired(n) => encode_message(n, format),
            Self::Assigned(n) => encode_message(n, format),
            Self::Released(n) => encode_message(n, format),
            Self::State(n) => encode_message(n, format),
        }
    }
}

/// The bytes of an agent notice (as [`AgentNotice::encode`]).
///
/// # Errors
/// As [`encode_message`].
pub fn encode_agent_notice(notice: &AgentNotice, format: Format) -> Result<Vec<u8>, WireError> {
    notice.encode(format)
}

/// The desktop notices an event gives rise to, each with the agent it is for. Offers are not
/// among them: build those with [`offer_notice`] from `offer_made`.
#[must_use]
pub fn agent_notices(event: &Event) -> Vec<(AgentId, AgentNotice)> {
    let at = Time::from(event.at);
    let state = |agent: &AgentId, presence, reason: Option<&str>, until| {
        vec![(
            agent.clone(),
            AgentNotice::State(StateNotice {
                presence,
                reason: reason.map(str::to_owned),
                wrap_up_until: until,
                at,
            }),
        )]
    };
    match &event.kind {
        EventKind::OfferRevoked {
            offer,
            contact,
            agent,
            reason,
        } => vec![(
            agent.clone(),
            AgentNotice::OfferRevoked(OfferRevokedNotice {
                offer_id: offer.get(),
                contact_id: contact.to_string(),
                reason: (*reason).into(),
                at,
            }),
        )],
        EventKind::OfferExpired {
            offer,
            contact,
            agent,
            ..
        } => vec![(
            agent.clone(),
            AgentNotice::OfferExpired(OfferExpiredNotice {
                offer_id: offer.get(),
                contact_id: contact.to_string(),
                at,
            }),
        )],
        EventKind::OfferAccepted {
            offer,
            contact,
            agent,
            automatic,
            ..
        } => vec![(
            agent.clone(),
            AgentNotice::Assigned(AssignedNotice {
                offer_id: offer.get(),
                contact_id: contact.to_string(),
                automatic: *automatic,
                at,
            }),
        )],
        EventKind::ContactRequeued {
            contact,
            agent,
            reason,
            ..
        } => vec![(
            agent.clone(),
            AgentNotice::Released(ReleasedNotice {
                contact_id: contact.to_string(),
                reason: reason.to_string(),
                at,
            }),
        )],
        EventKind::AgentLoggedIn(login) => {
            state(&login.agent, PresenceName::NotReady, Some("login"), None)
        }
        EventKind::AgentReady { agent } | EventKind::WrapUpEnded { agent } => {
            state(agent, PresenceName::Ready, None, None)
        }
        EventKind::AgentNotReady { agent, reason } => {
            state(agent, PresenceName::NotReady, Some(reason), None)
        }
        EventKind::AgentLoggedOut { agent } => state(agent, PresenceName::LoggedOut, None, None),
        EventKind::WrapUpStarted { agent, until } => {
            state(agent, PresenceName::WrapUp, None, Some(Time::from(*until)))
        }
        _ => Vec::new(),
    }
}
