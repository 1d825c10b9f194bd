//! What-if replay: the contacts of a recorded log through another routing configuration.
//!
//! From a recorded log this takes each contact's arrival (its `ContactCreated`, details as
//! recorded), each handling's duration (offer accepted to completed, escalated or transferred)
//! and what ended it, and the patience of customers who abandoned (how long they waited); and
//! each agent's logins, ready and not-ready changes (not the core's own `missed_offers`) and
//! logouts. The re-run drives the same core under the new configuration with those fixed
//! inputs; desktops answer offers after the recorded mean think time.
//!
//! Limits: the patience of a customer who was answered is unknown (they waited at least as long
//! as they did), so under the new rules they never abandon; a contact never handled in the log
//! gets the recorded mean handle time.

use std::time::Duration;

use rustc_hash::FxHashMap;
use switchboard_core::{AgentLogin, ContactId, Event, EventKind, OfferId, Timestamp};

use crate::error::SimError;
use crate::figures::{Collector, Figures, Intervals};
use crate::simulator::{
    Action, AgentPlan, ContactPlan, Observer, PresenceChange, SimulationRun, Workload, run,
};

const DAY_MS: u64 = 86_400_000;
/// The handle time of a contact never handled in a log without any handling.
const MEAN_HANDLE_UNKNOWN: Duration = Duration::from_secs(300);
const SAMPLE_MS: u64 = 15 * 60_000;

/// The workload of a recorded log: contacts, handlings, agents and their presence.
#[derive(Debug, Clone)]
pub struct Recorded {
    start: Timestamp,
    end: Timestamp,
    contacts: Vec<ContactPlan>,
    agents: Vec<AgentPlan>,
    presence: Vec<(Timestamp, usize, PresenceChange)>,
}

impl Recorded {
    /// Reconstructs the workload from a log's events, in order.
    #[must_use]
    pub fn from_events(events: &[Event]) -> Self {
        let first = events.first().map_or(Timestamp::EPOCH, |e| e.at);
        let last = events.last().map_or(Timestamp::EPOCH, |e| e.at);
        let mut rebuild = Rebuild::default();
        for event in events {
            rebuild.observe(event);
        }
        let start = Timestamp::from_millis(first.as_millis() / DAY_MS * DAY_MS);
        rebuild.finish(start, last + Duration::from_secs(3600))
    }

    /// Contacts recorded.
    #[must_use]
    pub fn contacts(&self) -> usize {
        self.contacts.len()
    }

    /// Agents recorded.
    #[must_use]
    pub fn agents(&self) -> usize {
        self.agents.len()
    }

    /// The figures of the recorded events themselves, measured as a simulated run is.
    #[must_use]
    pub fn figures(&self, events: &[Event]) -> Figures {
        let intervals = Intervals::uniform(self.start, self.end, Duration::from_millis(SAMPLE_MS));
        let mut collector = Collector::new(intervals, self.start);
        for event in events {
            collector.observe(event);
        }
        collector.finish().figures
    }

    /// Re-runs the recorded contacts and agents under `config`.
    ///
    /// # Errors
    /// The configuration is invalid, or the observer failed.
    pub fn resimulate(
        &self,
        config: switchboard_core::RoutingConfig,
        seed: u64,
        observer: &mut dyn Observer,
    ) -> Result<SimulationRun, SimError> {
        let workload = Workload {
            start: self.start,
            end: self.end,
            measure_from: self.start,
            sample_ms: SAMPLE_MS,
            streams: Vec::new(),
            scripted: self.contacts.clone(),
            agents: self.agents.clone(),
            presence: self.presence.clone(),
        };
        run(workload, config, seed, observer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::{Channel, Command, Level, NewContact, Outcome, Router, Tier};

    /// Handles what falls due up to `secs`, then `command` at `secs`; keeps the events.
    fn at(router: &mut Router, events: &mut Vec<Event>, secs: u64, command: Command) {
        let now = Timestamp::from_millis(secs * 1000);
        router.handle_timeout(now);
        router.handle_command(command, now).expect("accepted");
        events.extend(router.drain_events());
    }

    #[test]
    fn an_early_end_of_wrap_up_is_the_agents_ready_and_a_timed_one_is_not() {
        let mut router = Router::new(switchboard_core::RoutingConfig::default()).expect("valid");
        let mut events = Vec::new();
        let login = AgentLogin {
            agent: "ann".into(),
            name: "Ann".into(),
            tier: Tier::FIRST,
            site: "hq".into(),
            skills: vec![("housing".into(), Level::MIN)],
            channels: None,
        };
        let ready = || Command::MakeReady {
            agent: "ann".into(),
        };
        at(
            &mut router,
            &mut events,
            0,
            Command::LoginAgent(Box::new(login)),
        );
        at(&mut router, &mut events, 0, ready());
        // Two calls, each followed by 30 s of wrap-up: the first runs its time (10 s to 40 s),
        // the second (110 s) ends when Ann says ready at 115 s.
        for (id, start) in [("c1", 0_u64), ("c2", 100)] {
            let call = NewContact::routine(id, Channel::Phone, "housing");
            at(
                &mut router,
                &mut events,
                start,
                Command::CreateContact(Box::new(call)),
            );
            let offer = router
                .state()
                .offers()
                .next()
                .map(|o| o.id)
                .expect("offered");
            let accept = Command::AcceptOffer {
                agent: "ann".into(),
                offer,
            };
            at(&mut router, &mut events, start, accept);
            let complete = Command::CompleteContact {
                agent: "ann".into(),
                contact: id.into(),
                outcome: Outcome::Resolved,
            };
            at(&mut router, &mut events, start + 10, complete);
        }
        at(&mut router, &mut events, 115, ready());
        let ended = events
            .iter()
            .filter(|e| e.kind.name() == "wrap_up_ended")
            .count();
        assert_eq!(ended, 2, "both wrap-ups ended");
        let recorded = Recorded::from_events(&events);
        let readies: Vec<u64> = recorded
            .presence
            .iter()
            .filter(|(_, _, change)| *change == PresenceChange::Ready)
            .map(|(at, _, _)| at.as_millis() / 1000)
            .collect();
        assert_eq!(readies, [0, 115]);
    }
}

/// The workload being read back from a log's events, one at a time.
#[derive(Default)]
struct Rebuild {
    contacts: Vec<ContactPlan>,
    contact_index: FxHashMap<ContactId, usize>,
    held_since: FxHashMap<ContactId, Timestamp>,
    agents: Vec<AgentPlan>,
    agent_index: FxHashMap<switchboard_core::AgentId, usize>,
    presence: Vec<(Timestamp, usize, PresenceChange)>,
    offered_at: FxHashMap<OfferId, Timestamp>,
    wrap_up_until: FxHashMap<usize, Timestamp>,
    /// Desktop think time: the sum, in milliseconds, and how many offers it covers.
    think_ms: u128,
    thinks: u32,
}

impl Rebuild {
    fn observe(&mut self, event: &Event) {
        let at = event.at;
        match &event.kind {
            EventKind::ContactCreated(created) => {
                let mut details = created.details.clone();
                details.received_at = None;
                self.contact_index
                    .insert(details.id.clone(), self.contacts.len());
                self.contacts.push(ContactPlan {
                    arrive_at: at,
                    details,
                    patience: None,
                    handlings: Vec::new(),
                });
            }
            EventKind::OfferMade(offer) => {
                self.offered_at.insert(offer.offer, at);
            }
            EventKind::OfferAccepted {
                offer,
                contact,
                automatic,
                ..
            } => {
                self.held_since.insert(contact.clone(), at);
                if let Some(made) = self.offered_at.remove(offer)
                    && !automatic
                {
                    self.think_ms += (at - made).as_millis();
                    self.thinks += 1;
                }
            }
            EventKind::ContactCompleted {
                contact, outcome, ..
            } => self.handled(at, contact, Action::Complete(*outcome)),
            EventKind::ContactEscalated { contact, .. } => {
                self.handled(at, contact, Action::Escalate);
            }
            EventKind::ContactTransferred {
                contact, service, ..
            } => self.handled(at, contact, Action::Transfer(service.clone())),
            EventKind::ContactRequeued { contact, .. } => {
                self.held_since.remove(contact);
            }
            EventKind::ContactAbandoned { contact, waited } => {
                if let Some(&i) = self.contact_index.get(contact) {
                    self.contacts[i].patience = Some(*waited);
                }
            }
            EventKind::AgentLoggedIn(login) => self.logged_in(at, login),
            _ => self.presence_changed(at, &event.kind),
        }
    }

    /// A handling of `contact` ended at `at` with `action`.
    fn handled(&mut self, at: Timestamp, contact: &ContactId, action: Action) {
        if let (Some(since), Some(&i)) = (
            self.held_since.remove(contact),
            self.contact_index.get(contact),
        ) {
            self.contacts[i].handlings.push((at - since, action));
        }
    }

    fn logged_in(&mut self, at: Timestamp, login: &switchboard_core::event::AgentLoggedIn) {
        let agents = &mut self.agents;
        let index = *self
            .agent_index
            .entry(login.agent.clone())
            .or_insert_with(|| {
                agents.push(AgentPlan {
                    login: AgentLogin {
                        agent: login.agent.clone(),
                        name: login.name.clone(),
                        tier: login.tier,
                        site: login.site.clone(),
                        skills: login.skills.clone(),
                        channels: Some(login.capacity),
                    },
                    think_secs: 0.0,
                    reject_share: 0.0,
                    miss_share: 0.0,
                });
                agents.len() - 1
            });
        self.presence.push((at, index, PresenceChange::Login));
    }

    /// An agent's ready, wrap-up, not-ready and logout events.
    fn presence_changed(&mut self, at: Timestamp, kind: &EventKind) {
        let index = |agent| self.agent_index.get(agent).copied();
        let change = match kind {
            EventKind::AgentReady { agent } => index(agent).map(|i| (i, PresenceChange::Ready)),
            EventKind::WrapUpStarted { agent, until } => {
                if let Some(i) = index(agent) {
                    self.wrap_up_until.insert(i, *until);
                }
                None
            }
            // The agent said ready before the wrap-up time was up (logs written before this
            // was recorded as `wrap_up_ended` hold an `agent_ready` there, read above).
            EventKind::WrapUpEnded { agent } => index(agent)
                .filter(|i| self.wrap_up_until.remove(i).is_some_and(|until| at < until))
                .map(|i| (i, PresenceChange::Ready)),
            EventKind::AgentNotReady { agent, reason } if &**reason != "missed_offers" => {
                index(agent).map(|i| (i, PresenceChange::NotReady(reason.clone())))
            }
            EventKind::AgentLoggedOut { agent } => index(agent).map(|i| (i, PresenceChange::Leave)),
            _ => None,
        };
        if let Some((i, change)) = change {
            self.presence.push((at, i, change));
        }
    }

    /// The workload from `start` to `end`: the contacts (each ending in a completion: one
    /// never completed in the log gets the mean handle time), the agents (with the mean think
    /// time) and their presence.
    fn finish(mut self, start: Timestamp, end: Timestamp) -> Recorded {
        let (sum, count) = self
            .contacts
            .iter()
            .flat_map(|c| &c.handlings)
            .fold((Duration::ZERO, 0_u32), |(s, n), (d, _)| (s + *d, n + 1));
        let mean_handle = sum.checked_div(count).unwrap_or(MEAN_HANDLE_UNKNOWN);
        for contact in &mut self.contacts {
            let ends = contact
                .handlings
                .last()
                .is_some_and(|(_, a)| matches!(a, Action::Complete(_)));
            if !ends {
                contact.handlings.push((
                    mean_handle,
                    Action::Complete(switchboard_core::Outcome::Resolved),
                ));
            }
        }
        let think_secs = if self.thinks == 0 {
            0.0
        } else {
            self.think_ms as f64 / f64::from(self.thinks) / 1000.0
        };
        for agent in &mut self.agents {
            agent.think_secs = think_secs;
        }
        Recorded {
            start,
            end,
            contacts: self.contacts,
            agents: self.agents,
            presence: self.presence,
        }
    }
}
