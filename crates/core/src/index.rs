//! The derived index that makes matching fast: who is free for what, who is waiting for what,
//! and which timers fall due when.
//!
//! Nothing here is the truth: it is computed from the canonical state, entity by entity, by
//! [`Index::reindex_agent`] and [`Index::reindex_contact`], each of which compares what is indexed
//! now with what the entity calls for and patches the difference. Matching reads it in
//! [`crate::routing`].
//!
//! - **Free agents** are kept per (skill, channel) in longest-idle order: an agent appears under
//!   every skill they have, for every channel they could be offered now ([`Agent::can_take`]).
//! - **Waiting contacts** are kept in *groups*: contacts with the same matching profile (channel,
//!   service, skills, language, site, tier, safeguarding) at the same plan step are equivalent for
//!   every agent, so one eligibility check per group serves them all, and each group is ordered by
//!   [`QueueOrder`]. Groups are filed under their *anchor* (their first required skill, which no
//!   plan step removes) and their channel, so an agent finds every group it might serve by its
//!   skills and the channels it can take now, with no second lookup. Contacts at a step that
//!   accepts only their preferred agent wait in a per-agent list instead.
//! - **Timers**: offer expiries, ends of wrap-up, plan-step advances, service-level thresholds and
//!   due-time warnings and breaches, and the release of contacts held out of hours, in time
//!   order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::event::QueueOrder;
use crate::ids::{AgentId, OfferId};
use crate::model::{Channel, Level, Presence, Tier};
use crate::state::{
    Agent, AgentIdx, Contact, ContactNo, ContactStatus, ServiceIdx, SiteIdx, SkillIdx,
};
use crate::time::Timestamp;

/// What a contact needs from an agent, apart from plan-step relaxations. Contacts with equal
/// profiles are interchangeable for matching.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct Profile {
    /// The channel (capacity and exclusivity are counted against it).
    pub channel: Channel,
    /// The current service.
    pub service: ServiceIdx,
    /// The lowest tier that may take it (raised by escalation).
    pub tier: Tier,
    /// A safeguarding concern: the safeguarding skill is required at every step.
    pub safeguarding: bool,
    /// The site: required for face to face, preferred otherwise.
    pub site: Option<SiteIdx>,
    /// The community language required, unless a plan step drops it.
    pub language: Option<SkillIdx>,
    /// Required skills with minimum levels, sorted by skill; never empty.
    pub skills: Box<[(SkillIdx, Level)]>,
}

impl Profile {
    /// The skill under which the profile's groups are filed: required at every plan step.
    #[must_use]
    pub fn anchor(&self) -> SkillIdx {
        self.skills
            .first()
            .map(|&(s, _)| s)
            .expect("a contact profile always requires at least one skill")
    }
}

/// A group of waiting contacts: one profile at one plan step.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct GroupKey {
    pub(crate) profile: Arc<Profile>,
    pub(crate) step: u8,
}

/// A waiting contact's position: queue order, then creation order.
pub(crate) type QueueKey = (QueueOrder, ContactNo);

/// Something that falls due at an instant.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Timer {
    OfferExpiry(OfferId),
    WrapUpEnd(AgentIdx),
    StepAdvance(ContactNo),
    AnswerBy(ContactNo),
    DueWarning(ContactNo),
    DueBreach(ContactNo),
    HoldRelease(ContactNo),
}

/// Where a waiting contact is filed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum QueueSlot {
    Group(GroupKey, QueueKey),
    Awaiting(AgentId, QueueKey),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ContactSlot {
    queue: Option<QueueSlot>,
    timers: Vec<(Timestamp, Timer)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct AgentSlot {
    free_for: [bool; Channel::COUNT],
    idle_since: Timestamp,
    skills: Vec<SkillIdx>,
    wrap_up_until: Option<Timestamp>,
}

/// Free agents of one skill, per channel, in longest-idle order.
pub(crate) type FreeAgents = [BTreeSet<(Timestamp, AgentIdx)>; Channel::COUNT];

/// The waiting groups anchored on one skill, per channel: each group with its members in queue
/// order. Empty groups are removed.
pub(crate) type AnchoredGroups = [BTreeMap<GroupKey, BTreeSet<QueueKey>>; Channel::COUNT];

/// The derived index. See the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Index {
    pub(crate) free: Vec<FreeAgents>,
    agent_slots: Vec<AgentSlot>,
    pub(crate) groups: Vec<AnchoredGroups>,
    pub(crate) awaiting: BTreeMap<AgentId, BTreeSet<QueueKey>>,
    contact_slots: FxHashMap<ContactNo, ContactSlot>,
    pub(crate) timers: BTreeSet<(Timestamp, Timer)>,
}

impl Index {
    /// Makes room for `count` skills.
    pub(crate) fn ensure_skills(&mut self, count: usize) {
        if self.free.len() < count {
            self.free.resize_with(count, Default::default);
            self.groups.resize_with(count, Default::default);
        }
    }

    pub(crate) fn add_offer_timer(&mut self, expires_at: Timestamp, offer: OfferId) {
        self.timers.insert((expires_at, Timer::OfferExpiry(offer)));
    }

    pub(crate) fn remove_offer_timer(&mut self, expires_at: Timestamp, offer: OfferId) {
        let removed = self.timers.remove(&(expires_at, Timer::OfferExpiry(offer)));
        debug_assert!(removed, "offer {offer} had no expiry timer");
    }

    /// Free agents of `skill` for `channel`, longest idle first.
    pub(crate) fn free_agents(
        &self,
        skill: SkillIdx,
        channel: Channel,
    ) -> Option<&BTreeSet<(Timestamp, AgentIdx)>> {
        self.free
            .get(skill.slot())
            .map(|per_channel| &per_channel[channel.index()])
    }

    pub(crate) fn reindex_agent(&mut self, idx: AgentIdx, agent: &Agent) {
        if self.agent_slots.len() <= idx.slot() {
            self.agent_slots
                .resize_with(idx.slot() + 1, AgentSlot::default);
        }
        let wanted = AgentSlot {
            free_for: Channel::ALL.map(|c| agent.can_take(c)),
            idle_since: agent.idle_since,
            skills: agent.skills.iter().map(|&(s, _)| s).collect(),
            wrap_up_until: match agent.presence {
                Presence::WrapUp { until } => Some(until),
                _ => None,
            },
        };
        let old = &self.agent_slots[idx.slot()];
        if *old == wanted {
            return;
        }
        if old.wrap_up_until != wanted.wrap_up_until {
            if let Some(until) = old.wrap_up_until {
                self.timers.remove(&(until, Timer::WrapUpEnd(idx)));
            }
            if let Some(until) = wanted.wrap_up_until {
                self.timers.insert((until, Timer::WrapUpEnd(idx)));
            }
        }
        if old.free_for != wanted.free_for
            || old.idle_since != wanted.idle_since
            || old.skills != wanted.skills
        {
            for &skill in &old.skills {
                for channel in Channel::ALL {
                    if old.free_for[channel.index()] {
                        self.free[skill.slot()][channel.index()].remove(&(old.idle_since, idx));
                    }
                }
            }
            for &skill in &wanted.skills {
                for channel in Channel::ALL {
                    if wanted.free_for[channel.index()] {
                        self.free[skill.slot()][channel.index()].insert((wanted.idle_since, idx));
                    }
                }
            }
        }
        self.agent_slots[idx.slot()] = wanted;
    }

    pub(crate) fn reindex_contact(&mut self, contact: &Contact) {
        let key = (contact.order, contact.no);
        let queue = (contact.status == ContactStatus::Queued).then(|| {
            match (
                &contact.preferred_agent,
                contact.placement.preferred_agent_only,
            ) {
                (Some(agent), true) => QueueSlot::Awaiting(agent.clone(), key),
                _ => QueueSlot::Group(
                    GroupKey {
                        profile: Arc::clone(&contact.profile),
                        step: contact.placement.step,
                    },
                    key,
                ),
            }
        });
        let mut timers = Vec::new();
        if contact.status == ContactStatus::Queued
            && let Some(at) = contact.placement.next_step_at
        {
            timers.push((at, Timer::StepAdvance(contact.no)));
        }
        if contact.answered_at.is_none()
            && !contact.service_level_passed
            && let Some(at) = contact.answer_by
        {
            timers.push((at, Timer::AnswerBy(contact.no)));
        }
        if let ContactStatus::Held { until } = contact.status {
            timers.push((until, Timer::HoldRelease(contact.no)));
        }
        if !contact.due_at_risk
            && let Some(at) = contact.due_warning_at
        {
            timers.push((at, Timer::DueWarning(contact.no)));
        }
        if !contact.due_breached
            && let Some(at) = contact.due_at
        {
            timers.push((at, Timer::DueBreach(contact.no)));
        }
        let wanted = ContactSlot { queue, timers };
        let old = self.contact_slots.remove(&contact.no).unwrap_or_default();
        if old.queue != wanted.queue {
            if let Some(slot) = &old.queue {
                self.unfile(slot);
            }
            if let Some(slot) = &wanted.queue {
                self.file(slot);
            }
        }
        if old.timers != wanted.timers {
            for timer in &old.timers {
                self.timers.remove(timer);
            }
            self.timers.extend(wanted.timers.iter().copied());
        }
        self.contact_slots.insert(contact.no, wanted);
    }

    /// Forgets a contact that finished.
    pub(crate) fn remove_contact(&mut self, no: ContactNo) {
        if let Some(old) = self.contact_slots.remove(&no) {
            if let Some(slot) = &old.queue {
                self.unfile(slot);
            }
            for timer in &old.timers {
                self.timers.remove(timer);
            }
        }
    }

    fn file(&mut self, slot: &QueueSlot) {
        match slot {
            QueueSlot::Group(group, key) => {
                let channel = group.profile.channel.index();
                self.groups[group.profile.anchor().slot()][channel]
                    .entry(group.clone())
                    .or_default()
                    .insert(*key);
            }
            QueueSlot::Awaiting(agent, key) => {
                self.awaiting.entry(agent.clone()).or_default().insert(*key);
            }
        }
    }

    fn unfile(&mut self, slot: &QueueSlot) {
        match slot {
            QueueSlot::Group(group, key) => {
                let channel = group.profile.channel.index();
                let groups = &mut self.groups[group.profile.anchor().slot()][channel];
                let members = groups.get_mut(group).expect("filed group exists");
                members.remove(key);
                if members.is_empty() {
                    groups.remove(group);
                }
            }
            QueueSlot::Awaiting(agent, key) => {
                let members = self
                    .awaiting
                    .get_mut(agent)
                    .expect("filed agent list exists");
                members.remove(key);
                if members.is_empty() {
                    self.awaiting.remove(agent);
                }
            }
        }
    }
}
