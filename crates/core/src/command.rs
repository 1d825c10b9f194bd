//! Commands: what the outside world asks the core to do. Each is decided into events or rejected.

use std::sync::Arc;

use crate::event::ErasureReason;
use crate::ids::{AgentId, ContactId, CustomerId, OfferId, ServiceId, SiteId, SkillId};
use crate::model::{
    Channel, ComplaintStage, Level, Outcome, PerChannel, Priority, SkillRequirement, Tier,
};
use crate::time::Timestamp;

/// A request to the core. Typed and range-checked at the edge; the core checks it against state.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// A new contact arrives (a call, a chat, an email, a walk-in, a callback request).
    CreateContact(Box<NewContact>),
    /// The customer left before being answered (hung up, walked out, closed the chat).
    AbandonContact {
        /// The contact.
        contact: ContactId,
    },
    /// An agent logs in (or logs in again with new skills while holding no work).
    LoginAgent(Box<AgentLogin>),
    /// An agent becomes ready for work (also ends wrap-up early).
    MakeReady {
        /// The agent.
        agent: AgentId,
    },
    /// An agent stops taking new work; work in hand goes on, pending offers are withdrawn.
    MakeNotReady {
        /// The agent.
        agent: AgentId,
        /// Why (break, training, meeting...).
        reason: Arc<str>,
    },
    /// An agent logs out. Deferred work in hand goes back to the queue. Live work in hand (a
    /// call, a chat, a walk-in) refuses the logout unless `force` is set, when it too goes back.
    LogoutAgent {
        /// The agent.
        agent: AgentId,
        /// Requeue live work in hand rather than refuse.
        force: bool,
    },
    /// An agent accepts an offer: the contact is assigned to them.
    AcceptOffer {
        /// The agent answering.
        agent: AgentId,
        /// The offer.
        offer: OfferId,
    },
    /// An agent rejects an offer: the contact goes back with its place kept.
    RejectOffer {
        /// The agent answering.
        agent: AgentId,
        /// The offer.
        offer: OfferId,
        /// Why, if the agent said.
        reason: Option<Arc<str>>,
    },
    /// An agent finishes a contact.
    CompleteContact {
        /// The agent.
        agent: AgentId,
        /// The contact.
        contact: ContactId,
        /// How it ended.
        outcome: Outcome,
    },
    /// An agent passes a contact up the tiers, keeping its history and first arrival time.
    EscalateContact {
        /// The agent.
        agent: AgentId,
        /// The contact.
        contact: ContactId,
        /// Why.
        reason: Arc<str>,
        /// The tier to escalate to; by default the tier above the agent's and the contact's.
        to_tier: Option<Tier>,
    },
    /// An agent passes a contact to another service.
    TransferContact {
        /// The agent.
        agent: AgentId,
        /// The contact.
        contact: ContactId,
        /// The service it goes to.
        service: ServiceId,
        /// The skills it now needs; by default the new service's own skill. A complaint keeps the
        /// complaint policy's skills beside these, as at creation.
        skills: Vec<SkillRequirement>,
    },
    /// A complaint moves on a stage (stage 1 to stage 2, or a referral to the Ombudsman): the new
    /// stage's clock starts. A queued or held complaint keeps its place in the queue; one being
    /// handled goes back to the queue from its agent (who must be the one asking).
    ChangeComplaintStage {
        /// The complaint.
        contact: ContactId,
        /// The agent handling it, if it is being handled.
        agent: Option<AgentId>,
        /// The stage it moves to; a stage only moves on.
        to: ComplaintStage,
        /// Why (the customer's request to escalate, the Ombudsman's referral...).
        reason: Arc<str>,
        /// When the request for the new stage was received, if earlier than now (a letter
        /// scanned later). The stage's clock counts from here.
        received_at: Option<Timestamp>,
        /// The response due time, when someone else sets it (the Ombudsman does); by default
        /// it comes from the complaint rules.
        due_at: Option<Timestamp>,
    },
    /// A contact's due time moves back by some working days, for a reason given to the customer
    /// (the Complaint Handling Code requires every extension to be explained).
    ExtendDueTime {
        /// The contact.
        contact: ContactId,
        /// The agent or manager extending it, for the record.
        agent: Option<AgentId>,
        /// How many working days to add (at least 1).
        working_days: u32,
        /// Why, in words fit for the customer.
        reason: Arc<str>,
    },
    /// A customer is designated a persistent complainant (their complaints then go only to the
    /// designated officers), or the designation is lifted.
    MarkPersistentComplainant {
        /// The customer.
        customer: CustomerId,
        /// Designated (true) or lifted (false).
        designated: bool,
        /// Why: the policy decision that is being recorded.
        reason: Arc<str>,
    },
    /// A customer's personal data is to be erased: at once, or when their last contact in
    /// progress ends.
    ErasePersonalData {
        /// The customer as the core knows them, if anything is held for them.
        customer: Option<CustomerId>,
        /// The customer's pseudonym, which the erasure is recorded under.
        subject: Arc<str>,
        /// Why.
        reason: ErasureReason,
    },
}

/// Everything known about a contact when it arrives.
#[derive(Clone, Debug, PartialEq)]
pub struct NewContact {
    /// Its id, chosen by the system that raised it.
    pub id: ContactId,
    /// How it arrived.
    pub channel: Channel,
    /// The service area it is about.
    pub service: ServiceId,
    /// Skills it needs; when empty, the service's own skill at level 1.
    pub skills: Vec<SkillRequirement>,
    /// A community language the agent must speak (a skill), if not the default language.
    pub language: Option<SkillId>,
    /// How urgent it is.
    pub priority: Priority,
    /// A safeguarding concern about a child or vulnerable adult: goes first, only to agents with
    /// the safeguarding skill, never relaxed.
    pub safeguarding: bool,
    /// The customer is vulnerable (in crisis, emotional, with a language barrier...).
    pub vulnerable: bool,
    /// The customer's reference, if known.
    pub customer: Option<CustomerId>,
    /// The case owner or agent the customer asked for.
    pub preferred_agent: Option<AgentId>,
    /// The site: required for face-to-face (the building the customer is standing in); for other
    /// channels a preference that the routing plan may relax.
    pub site: Option<SiteId>,
    /// Deferred work: when it must be done by.
    pub due_at: Option<Timestamp>,
    /// When the customer first made contact, if earlier than now (a letter scanned later, a
    /// contact re-raised by another system). Service levels count from here.
    pub received_at: Option<Timestamp>,
    /// The complaint stage, if this is a complaint.
    pub complaint_stage: Option<ComplaintStage>,
    /// Free-form attributes carried through to the agent's desktop (never used for routing).
    pub attributes: Vec<(Arc<str>, Arc<str>)>,
}

impl NewContact {
    /// A routine contact with no special requirements: handy for tests and examples.
    #[must_use]
    pub fn routine(id: &str, channel: Channel, service: &str) -> Self {
        Self {
            id: id.into(),
            channel,
            service: service.into(),
            skills: Vec::new(),
            language: None,
            priority: Priority::ROUTINE,
            safeguarding: false,
            vulnerable: false,
            customer: None,
            preferred_agent: None,
            site: None,
            due_at: None,
            received_at: None,
            complaint_stage: None,
            attributes: Vec::new(),
        }
    }
}

/// An agent's login: who they are and what they can take.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentLogin {
    /// The agent.
    pub agent: AgentId,
    /// Their display name.
    pub name: Arc<str>,
    /// Their escalation tier.
    pub tier: Tier,
    /// Where they are working today.
    pub site: SiteId,
    /// Their skills and proficiency levels (languages included).
    pub skills: Vec<(SkillId, Level)>,
    /// How many contacts of each channel they may hold at once; `None` uses the channel defaults.
    pub channels: Option<PerChannel<u8>>,
}
