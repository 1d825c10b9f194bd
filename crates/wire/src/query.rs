//! Read-only queries on `{p}.query.…`: live figures per queue, every agent, one contact's story.
//!
//! Replies use the command reply's envelope (`{"ok":true, ...}` or `{"ok":false,"error":...}`,
//! see [`crate::reply::encode_result`]). The figures are read from the routing state at the
//! instant the query is answered; the contact's history is read from the log.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize, Serializer};
use switchboard_core::state::{ContactStatus, Finish};
use switchboard_core::{Channel, Event, EventKind, Presence, Router, ServiceId, State, Timestamp};

use crate::command::{Format, parse_body};
use crate::error::WireError;
use crate::event::{
    CapacityDto, ChannelDto, ComplaintStageDto, EventDto, OutcomeDto, SkillLevelDto, Time,
};
use crate::json::event_json;
use crate::names::{ID_BYTES_MAX, ID_PATTERN, IdKind, check_id};
use crate::reply::{ContactStatusName, PresenceName, encode_result};

/// Figures for one queue (a service on a channel), or totals over all queues.
///
/// Live counts (`waiting`, `offered`, `assigned`, `oldest_wait_ms`) are by the contact's current
/// service; running totals (`created` ... `due_breached`) are by the service and channel where
/// contacts arrived, since the engine started counting (they are rebuilt by replay).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueueFigures {
    /// Contacts waiting in the queue now.
    pub waiting: u32,
    /// Contacts offered to an agent now, waiting for the answer.
    pub offered: u32,
    /// Contacts being handled now.
    pub assigned: u32,
    /// The longest wait among waiting and offered contacts, from the customer's first contact,
    /// in milliseconds; `null` when none is waiting.
    pub oldest_wait_ms: Option<u64>,
    /// Contacts that arrived.
    pub created: u64,
    /// Contacts answered for the first time.
    pub answered: u64,
    /// Of those, answered within the service-level threshold.
    pub answered_within_service_level: u64,
    /// Contacts abandoned.
    pub abandoned: u64,
    /// Contacts completed.
    pub completed: u64,
    /// Completed as resolved at first contact.
    pub resolved_first_contact: u64,
    /// Contacts that passed their service-level threshold unanswered.
    pub service_level_passed: u64,
    /// Deferred contacts that passed their due time undone.
    pub due_breached: u64,
    /// Live contacts waiting now, never answered, past their service-level threshold (by the
    /// service and channel where they arrived): they have already missed it.
    #[serde(default)]
    pub waiting_past_threshold: u32,
    /// answered within threshold / (answered + abandoned + waiting past threshold), 0 to 1;
    /// `null` when all three are 0. A contact still waiting counts once it passes the
    /// threshold, so a queue whose callers wait unanswered does not read 100%.
    pub service_level: Option<f64>,
    /// Contacts held now because they arrived while their channel was closed; they join the
    /// queue when it opens (not counted in `waiting` nor in `oldest_wait_ms`).
    #[serde(default)]
    pub waiting_for_opening: u32,
    /// Running total: times a contact was held for its channel's opening.
    #[serde(default)]
    pub held: u64,
    /// Contacts waiting now that no logged-in agent could take at their plan step or any later
    /// one: the rota cannot serve them (by current service; each is also recorded in its
    /// history as `contact_unservable`, with why).
    #[serde(default)]
    pub unservable: u32,
}

/// One queue's figures. In JSON the figures sit beside `service` and `channel`; in postcard
/// they follow them as one nested struct (postcard cannot write a flattened struct: it would be
/// a map of unknown length, which it refuses).
#[derive(Clone, Debug, PartialEq, JsonSchema)]
pub struct QueueLine {
    /// The service.
    pub service: String,
    /// The channel.
    pub channel: ChannelDto,
    /// The figures.
    #[serde(flatten)]
    pub figures: QueueFigures,
}

/// A queue line as JSON writes it: the figures flattened.
#[derive(Serialize, Deserialize)]
struct FlatLine<S, F> {
    service: S,
    channel: ChannelDto,
    #[serde(flatten)]
    figures: F,
}

/// A queue line as postcard writes it: the figures as the third field.
#[derive(Serialize, Deserialize)]
#[serde(rename = "QueueLine")]
struct NestedLine<S, F> {
    service: S,
    channel: ChannelDto,
    figures: F,
}

impl Serialize for QueueLine {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (service, channel, figures) = (self.service.as_str(), self.channel, &self.figures);
        if serializer.is_human_readable() {
            FlatLine {
                service,
                channel,
                figures,
            }
            .serialize(serializer)
        } else {
            NestedLine {
                service,
                channel,
                figures,
            }
            .serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for QueueLine {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (service, channel, figures) = if deserializer.is_human_readable() {
            let line = FlatLine::<String, QueueFigures>::deserialize(deserializer)?;
            (line.service, line.channel, line.figures)
        } else {
            let line = NestedLine::<String, QueueFigures>::deserialize(deserializer)?;
            (line.service, line.channel, line.figures)
        };
        Ok(Self {
            service,
            channel,
            figures,
        })
    }
}

/// Reply to `{p}.query.queues` (empty request body).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "query.queues reply")]
pub struct QueuesReply {
    /// When the figures were read.
    pub at: Time,
    /// One line per (service, channel) that has had a contact, sorted by service then channel.
    pub queues: Vec<QueueLine>,
    /// Sums over all queues (`oldest_wait_ms` is the longest of all).
    pub totals: QueueFigures,
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    // Counts far below 2^52: a rate needs no more precision than `as f64` keeps.
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl QueueFigures {
    fn finish(&mut self) {
        self.service_level = rate(
            self.answered_within_service_level,
            self.answered + self.abandoned + u64::from(self.waiting_past_threshold),
        );
    }

    fn add(&mut self, other: &Self) {
        self.waiting += other.waiting;
        self.offered += other.offered;
        self.assigned += other.assigned;
        self.oldest_wait_ms = self.oldest_wait_ms.max(other.oldest_wait_ms);
        self.created += other.created;
        self.answered += other.answered;
        self.answered_within_service_level += other.answered_within_service_level;
        self.abandoned += other.abandoned;
        self.completed += other.completed;
        self.resolved_first_contact += other.resolved_first_contact;
        self.service_level_passed += other.service_level_passed;
        self.due_breached += other.due_breached;
        self.waiting_past_threshold += other.waiting_past_threshold;
        self.waiting_for_opening += other.waiting_for_opening;
        self.held += other.held;
        self.unservable += other.unservable;
    }
}

/// Live figures per queue at `now`.
#[must_use]
pub fn queues_reply(router: &Router, now: Timestamp) -> QueuesReply {
    let state = router.state();
    let mut lines: BTreeMap<(ServiceId, Channel), QueueFigures> = BTreeMap::new();
    for (key, counters) in state.counters() {
        let line = lines.entry(key.clone()).or_default();
        line.created = counters.created;
        line.answered = counters.answered;
        line.answered_within_service_level = counters.answered_within_service_level;
        line.abandoned = counters.abandoned;
        line.completed = counters.completed;
        line.resolved_first_contact = counters.resolved_first_contact;
        line.service_level_passed = counters.service_level_passed;
        line.due_breached = counters.due_breached;
        line.held = counters.held;
    }
    for contact in state.contacts() {
        let key = (state.service_name(contact.service).clone(), contact.channel);
        let line = lines.entry(key).or_default();
        let waiting = match contact.status {
            ContactStatus::Queued => {
                line.waiting += 1;
                true
            }
            ContactStatus::Offered { .. } => {
                line.offered += 1;
                true
            }
            ContactStatus::Assigned { .. } => {
                line.assigned += 1;
                false
            }
            ContactStatus::Held { .. } => {
                line.waiting_for_opening += 1;
                false
            }
        };
        if waiting {
            let wait = switchboard_core::time::millis(now - contact.first_arrived_at);
            line.oldest_wait_ms = line.oldest_wait_ms.max(Some(wait));
        }
        if contact.answered_at.is_none() && contact.service_level_passed {
            let key = (
                state.service_name(contact.first_service).clone(),
                contact.channel,
            );
            lines.entry(key).or_default().waiting_past_threshold += 1;
        }
    }
    for contact in router.unservable() {
        let key = (state.service_name(contact.service).clone(), contact.channel);
        lines.entry(key).or_default().unservable += 1;
    }
    let mut totals = QueueFigures::default();
    let queues = lines
        .into_iter()
        .map(|((service, channel), mut figures)| {
            figures.finish();
            totals.add(&figures);
            QueueLine {
                service: service.to_string(),
                channel: channel.into(),
                figures,
            }
        })
        .collect();
    totals.finish();
    QueuesReply {
        at: now.into(),
        queues,
        totals,
    }
}

/// One agent as the state holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentLine {
    /// The agent.
    pub agent_id: String,
    /// Display name.
    pub name: String,
    /// Escalation tier, 1 to 5.
    pub tier: u8,
    /// Site.
    pub site: String,
    /// Presence.
    pub presence: PresenceName,
    /// Not ready: why.
    pub reason: Option<String>,
    /// Wrap-up: when it ends.
    pub wrap_up_until: Option<Time>,
    /// Skills with proficiency levels.
    pub skills: Vec<SkillLevelDto<'static>>,
    /// How many contacts of each channel they may hold.
    pub capacity: CapacityDto,
    /// How many they hold now (offered or assigned).
    pub load: CapacityDto,
    /// Open offers.
    pub offers: Vec<u64>,
    /// Contacts assigned to them.
    pub contacts: Vec<String>,
    /// When they last became free of all work (or logged in, or became ready while free).
    pub idle_since: Time,
}

/// Counts of agents by presence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentTotals {
    /// Logged in (ready, not ready or in wrap-up).
    pub logged_in: u32,
    /// Ready.
    pub ready: u32,
    /// Not ready.
    pub not_ready: u32,
    /// In wrap-up.
    pub wrap_up: u32,
    /// Logged out (known from an earlier login).
    pub logged_out: u32,
}

/// Reply to `{p}.query.agents` (empty request body).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "query.agents reply")]
pub struct AgentsReply {
    /// When the figures were read.
    pub at: Time,
    /// Every agent who has logged in, in the order they first did.
    pub agents: Vec<AgentLine>,
    /// Counts by presence.
    pub totals: AgentTotals,
}

/// Every agent's presence and work at `now`.
#[must_use]
pub fn agents_reply(state: &State, now: Timestamp) -> AgentsReply {
    let mut totals = AgentTotals::default();
    let agents = state
        .agents()
        .map(|agent| {
            let (reason, wrap_up_until) = match &agent.presence {
                Presence::NotReady { reason } => (Some(reason.to_string()), None),
                Presence::WrapUp { until } => (None, Some(Time::from(*until))),
                Presence::LoggedOut | Presence::Ready => (None, None),
            };
            let presence = PresenceName::from(&agent.presence);
            match presence {
                PresenceName::LoggedOut => totals.logged_out += 1,
                PresenceName::Ready => totals.ready += 1,
                PresenceName::NotReady => totals.not_ready += 1,
                PresenceName::WrapUp => totals.wrap_up += 1,
            }
            let mut offers: Vec<u64> = agent.offers.iter().map(|o| o.get()).collect();
            offers.sort_unstable();
            AgentLine {
                agent_id: agent.id.to_string(),
                name: agent.name.to_string(),
                tier: agent.tier.get(),
                site: state.site_name(agent.site).to_string(),
                presence,
                reason,
                wrap_up_until,
                skills: agent
                    .skills
                    .iter()
                    .map(|&(skill, level)| SkillLevelDto {
                        skill: Cow::Owned(state.skill_name(skill).to_string()),
                        level: level.get(),
                    })
                    .collect(),
                capacity: agent.capacity.into(),
                load: agent.load.into(),
                offers,
                contacts: agent
                    .contacts
                    .iter()
                    .filter_map(|&no| state.contact_by_number(no))
                    .map(|c| c.id.to_string())
                    .collect(),
                idle_since: agent.idle_since.into(),
            }
        })
        .collect();
    totals.logged_in = totals.ready + totals.not_ready + totals.wrap_up;
    AgentsReply {
        at: now.into(),
        agents,
        totals,
    }
}

/// Request body of `{p}.query.queues` and `{p}.query.agents`: nothing (no body, or `{}`). Like
/// every request, a field it does not know is refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "an empty JSON object: this query takes no fields"
)]
pub struct EmptyQuery {}

/// Reads the body of a query that takes no fields (`{p}.query.queues`, `{p}.query.agents`).
///
/// # Errors
/// `payload_too_large`, or `invalid_message` naming an unknown field, as for commands.
pub fn decode_empty_query(body: &[u8], format: Format) -> Result<EmptyQuery, WireError> {
    parse_body(body, format)
}

/// Request body of `{p}.query.contact`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object: the body of query.contact"
)]
#[schemars(title = "query.contact")]
pub struct ContactQuery {
    /// The contact.
    #[schemars(regex(pattern = ID_PATTERN), length(min = 1, max = ID_BYTES_MAX))]
    pub contact_id: String,
}

/// Reads a `{p}.query.contact` request body.
///
/// # Errors
/// `payload_too_large` or `invalid_message`, as for commands.
pub fn decode_contact_query(body: &[u8], format: Format) -> Result<ContactQuery, WireError> {
    let query: ContactQuery = parse_body(body, format)?;
    check_id("contact_id", &query.contact_id, IdKind::Other)?;
    Ok(query)
}

/// One event of a contact's history: in JSON, the event exactly as published on
/// `{p}.events.<type>` (`seq`, `at`, `type`, fields); in postcard, the sequence number and the
/// stored event DTO.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEvent {
    /// The event's sequence number in the log.
    pub seq: u64,
    /// The event.
    pub event: Event,
}

impl Serialize for HistoryEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            event_json(self.seq, &self.event)
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer)
        } else {
            (self.seq, EventDto::from(&self.event)).serialize(serializer)
        }
    }
}

impl JsonSchema for HistoryEvent {
    fn schema_name() -> Cow<'static, str> {
        "HistoryEvent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": "An event exactly as published on {p}.events.<type>: see event.json.",
            "required": ["seq", "at", "type"],
            "properties": {
                "seq": {"type": "integer", "minimum": 0},
                "at": {"type": "string", "format": "date-time"},
                "type": {"type": "string"}
            }
        })
    }
}

/// How a finished contact ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinishName {
    /// Completed: resolved.
    Resolved,
    /// Completed: referred on.
    Referred,
    /// Completed: nothing to do.
    NoAction,
    /// The customer left before being answered.
    Abandoned,
}

impl From<OutcomeDto> for FinishName {
    fn from(outcome: OutcomeDto) -> Self {
        match outcome {
            OutcomeDto::Resolved => Self::Resolved,
            OutcomeDto::Referred => Self::Referred,
            OutcomeDto::NoAction => Self::NoAction,
        }
    }
}

/// Reply to `{p}.query.contact`. Fields added after the first version of the contract follow
/// `history`, so that a postcard reader of the earlier reply still reads it.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(title = "query.contact reply")]
pub struct ContactReply {
    /// The contact asked about.
    pub contact_id: String,
    /// Where it stands: `queued`, `held`, `offered`, `assigned`, `finished`, or `unknown` (no
    /// such contact, live or in the log).
    pub status: ContactStatusName,
    /// Offered or assigned: the agent.
    pub agent_id: Option<String>,
    /// Offered: the open offer.
    pub offer_id: Option<u64>,
    /// Finished: how it ended.
    pub finish: Option<FinishName>,
    /// Live: its service now.
    pub service: Option<String>,
    /// Live: its channel.
    pub channel: Option<ChannelDto>,
    /// Every event about it in the log, oldest first.
    pub history: Vec<HistoryEvent>,
    /// Held: when it joins its queue (its channel's next opening).
    pub held_until: Option<Time>,
    /// Live: its complaint stage, if a complaint.
    pub complaint_stage: Option<ComplaintStageDto>,
    /// Live complaint: when the current stage's acknowledgement is due.
    pub acknowledge_by: Option<Time>,
    /// Live: when it must be done by, if it has a due time (after any extension).
    pub due_at: Option<Time>,
    /// Live: how many times its due time was extended.
    pub extensions: Option<u8>,
}

/// A contact's status (from the state) and history (read from the log by the caller: the
/// events whose contact is `contact_id`, with their sequence numbers, oldest first).
#[must_use]
pub fn contact_reply(state: &State, contact_id: &str, history: Vec<(u64, Event)>) -> ContactReply {
    let mut reply = ContactReply {
        contact_id: contact_id.to_owned(),
        status: ContactStatusName::Unknown,
        agent_id: None,
        offer_id: None,
        finish: None,
        service: None,
        channel: None,
        history: Vec::new(),
        held_until: None,
        complaint_stage: None,
        acknowledge_by: None,
        due_at: None,
        extensions: None,
    };
    if let Some(contact) = state.contact(contact_id) {
        reply.service = Some(state.service_name(contact.service).to_string());
        reply.channel = Some(contact.channel.into());
        reply.complaint_stage = contact.complaint_stage.map(Into::into);
        reply.acknowledge_by = contact.acknowledge_by.map(Into::into);
        reply.due_at = contact.due_at.map(Into::into);
        reply.extensions = Some(contact.extensions);
        match &contact.status {
            ContactStatus::Queued => reply.status = ContactStatusName::Queued,
            ContactStatus::Held { until } => {
                reply.status = ContactStatusName::Held;
                reply.held_until = Some((*until).into());
            }
            ContactStatus::Offered { offer, agent } => {
                reply.status = ContactStatusName::Offered;
                reply.offer_id = Some(offer.get());
                reply.agent_id = Some(state.agent_at(*agent).id.to_string());
            }
            ContactStatus::Assigned { agent, .. } => {
                reply.status = ContactStatusName::Assigned;
                reply.agent_id = Some(state.agent_at(*agent).id.to_string());
            }
        }
    } else if let Some(finished) = state.finished_contact(contact_id) {
        reply.status = ContactStatusName::Finished;
        reply.finish = Some(match finished.finish {
            Finish::Completed(outcome) => OutcomeDto::from(outcome).into(),
            Finish::Abandoned => FinishName::Abandoned,
        });
    } else {
        // Finished and forgotten by the state: the log still tells how it ended.
        for (_, event) in history.iter().rev() {
            match &event.kind {
                EventKind::ContactCompleted { outcome, .. } => {
                    reply.finish = Some(OutcomeDto::from(*outcome).into());
                }
                EventKind::ContactAbandoned { .. } => reply.finish = Some(FinishName::Abandoned),
                _ => continue,
            }
            reply.status = ContactStatusName::Finished;
            break;
        }
    }
    if reply.status == ContactStatusName::Finished
        && let Some((_, event)) = history
            .iter()
            .rev()
            .find(|(_, e)| matches!(e.kind, EventKind::ContactCompleted { .. }))
    {
        reply.agent_id = event.kind.agent().map(ToString::to_string);
    }
    reply.history = history
        .into_iter()
        .map(|(seq, event)| HistoryEvent { seq, event })
        .collect();
    reply
}

/// The bytes of a successful query reply (`{"ok":true, ...}`), as [`encode_result`].
#[must_use]
pub fn encode_query_reply<T: Serialize>(reply: &T, format: Format) -> Vec<u8> {
    encode_result(Ok(reply), format)
}
