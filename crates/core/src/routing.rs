//! Matching: which free agent takes an arriving contact, and which waiting contact a freed agent
//! takes. Pure functions over the state and its index.
//!
//! Both directions use the index rather than scanning every agent or contact:
//! - a contact looks only at free agents of its rarest required skill on its channel, in
//!   longest-idle order, and (with the default strategy) takes the first eligible one;
//! - an agent looks only at the groups anchored on one of its skills, checks each group once
//!   against the group's plan step, and takes the best head of queue among the eligible groups.

use crate::config::{PlanStep, RoutingConfig, RoutingPlan};
use crate::event::Rule;
use crate::index::{Profile, QueueKey};
use crate::model::{Level, SelectionStrategy};
use crate::state::{Agent, AgentIdx, Contact, ContactNo, SkillIdx, State};
use crate::time::{Timestamp, millis};

/// The agent chosen for a contact, and the record of why.
#[derive(Debug)]
pub(crate) struct AgentChoice {
    pub(crate) agent: AgentIdx,
    pub(crate) rule: Rule,
    pub(crate) pool: u32,
    pub(crate) examined: u32,
    pub(crate) score: i64,
}

/// The contact chosen for an agent, and the record of why.
#[derive(Debug)]
pub(crate) struct ContactChoice {
    pub(crate) contact: ContactNo,
    pub(crate) pool: u32,
    pub(crate) examined: u32,
}

/// What the matching rules need from the configuration, resolved against the state once.
pub(crate) struct Rules<'a> {
    pub(crate) config: &'a RoutingConfig,
    pub(crate) safeguarding_skill: Option<SkillIdx>,
}

impl<'a> Rules<'a> {
    pub(crate) fn new(config: &'a RoutingConfig, state: &State) -> Self {
        Self {
            config,
            safeguarding_skill: state.skill_number(config.safeguarding_skill.as_str()),
        }
    }

    /// The plan and step for a profile at plan step `step` (the last step if the plan has since
    /// been shortened by a configuration change).
    pub(crate) fn step<'p>(
        &'p self,
        state: &State,
        profile: &Profile,
        step: u8,
    ) -> (&'p RoutingPlan, &'p PlanStep) {
        let plan = self
            .config
            .plan_for(state.service_name(profile.service), profile.channel);
        let step = plan
            .steps
            .get(usize::from(step))
            .or_else(|| plan.steps.last())
            .expect("validated plans have at least one step");
        (plan, step)
    }

    /// Whether `agent` meets `profile` at plan step `step`, capacity and exclusions aside.
    pub(crate) fn accepts(&self, agent: &Agent, profile: &Profile, step: &PlanStep) -> bool {
        if agent.tier < profile.tier || agent.tier > profile.tier.saturating_add(step.tiers_above) {
            return false;
        }
        if let Some(site) = profile.site {
            let site_required = profile.channel == crate::Channel::FaceToFace || !step.any_site;
            if site_required && agent.site != site {
                return false;
            }
        }
        for &(skill, level) in profile.skills.iter() {
            let needed = if Some(skill) == self.safeguarding_skill {
                level
            } else {
                level.relaxed_by(step.level_relaxation)
            };
            if agent.level(skill) < Some(needed) {
                return false;
            }
        }
        if let Some(language) = profile.language
            && !step.drop_language
            && agent.level(language) < Some(self.config.language_min_level)
        {
            return false;
        }
        true
    }
}

/// Sum of the agent's levels in the profile's skills (the most-skilled score).
fn skill_score(agent: &Agent, profile: &Profile) -> i64 {
    profile
        .skills
        .iter()
        .map(|&(skill, _)| i64::from(agent.level(skill).map_or(0, Level::get)))
        .sum()
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Chooses a free agent for a waiting contact, or `None` if nobody eligible is free.
pub(crate) fn find_agent(
    state: &State,
    rules: &Rules<'_>,
    contact: &Contact,
    now: Timestamp,
) -> Option<AgentChoice> {
    let profile = &*contact.profile;
    let (_, step) = rules.step(state, profile, contact.placement.step);
    let channel = profile.channel;
    let eligible = |idx: AgentIdx| {
        let agent = state.agent_at(idx);
        agent.can_take(channel)
            && rules.accepts(agent, profile, step)
            && !contact.excludes(idx, now)
    };

    if let Some(preferred) = contact
        .preferred_agent
        .as_deref()
        .and_then(|id| state.agent_number(id))
        && eligible(preferred)
    {
        return Some(AgentChoice {
            agent: preferred,
            rule: Rule::PreferredAgent,
            pool: 1,
            examined: 1,
            score: 0,
        });
    }
    if contact.placement.preferred_agent_only && contact.preferred_agent.is_some() {
        return None;
    }

    // The smallest free pool among the required skills: everyone eligible is in every one.
    let pool = profile
        .skills
        .iter()
        .filter_map(|&(skill, _)| state.index.free_agents(skill, channel))
        .min_by_key(|pool| pool.len())?;
    let strategy = rules.config.strategy;
    let mut examined = 0_u32;
    let mut best: Option<(i64, AgentIdx, i64)> = None;
    for &(idle_since, idx) in pool {
        examined += 1;
        if !eligible(idx) {
            continue;
        }
        let agent = state.agent_at(idx);
        let idle_ms = i64::try_from(millis(now - idle_since)).unwrap_or(i64::MAX);
        let (rank, score) = match strategy {
            SelectionStrategy::LongestIdle => {
                best = Some((0, idx, idle_ms));
                break;
            }
            SelectionStrategy::MostSkilled => {
                let score = skill_score(agent, profile);
                (-score, score)
            }
            SelectionStrategy::LeastOccupied => {
                let held = i64::from(agent.load_total());
                (held, held)
            }
        };
        // Strictly better only: ties keep the longer-idle agent seen first.
        if best.is_none_or(|(best_rank, _, _)| rank < best_rank) {
            best = Some((rank, idx, score));
        }
    }
    best.map(|(_, agent, score)| AgentChoice {
        agent,
        rule: Rule::Strategy(strategy),
        pool: saturating_u32(pool.len()),
        examined,
        score,
    })
}

/// Chooses the waiting contact a free agent should take: the first in queue order among those
/// they are eligible for, or `None`.
pub(crate) fn find_contact(
    state: &State,
    rules: &Rules<'_>,
    agent_idx: AgentIdx,
    now: Timestamp,
) -> Option<ContactChoice> {
    let agent = state.agent_at(agent_idx);
    let mut best: Option<QueueKey> = None;
    let mut pool = 0_usize;
    let mut examined = 0_u32;

    if let Some(waiting) = state.index.awaiting.get(&agent.id) {
        pool += waiting.len();
        for &key in waiting {
            examined += 1;
            let contact = &state.contacts[&key.1];
            let (_, step) = rules.step(state, &contact.profile, contact.placement.step);
            if agent.can_take(contact.channel)
                && rules.accepts(agent, &contact.profile, step)
                && !contact.excludes(agent_idx, now)
            {
                best = Some(key);
                break;
            }
        }
    }

    let channels: Vec<usize> = crate::Channel::ALL
        .into_iter()
        .filter(|&c| agent.can_take(c))
        .map(crate::Channel::index)
        .collect();
    for &(skill, _) in &agent.skills {
        let Some(anchored) = state.index.groups.get(skill.slot()) else {
            continue;
        };
        for &channel in &channels {
            for (group, members) in &anchored[channel] {
                examined += 1;
                // A group whose head is behind the best found so far cannot do better.
                let Some(&head) = members.first() else {
                    continue;
                };
                if best.is_some_and(|b| head >= b) {
                    continue;
                }
                let profile = &*group.profile;
                let (_, step) = rules.step(state, profile, group.step);
                if !rules.accepts(agent, profile, step) {
                    continue;
                }
                pool += members.len();
                for &key in members {
                    if best.is_some_and(|b| key >= b) {
                        break;
                    }
                    if !state.contacts[&key.1].excludes(agent_idx, now) {
                        best = Some(key);
                        break;
                    }
                }
            }
        }
    }
    best.map(|(_, contact)| ContactChoice {
        contact,
        pool: saturating_u32(pool),
        examined,
    })
}
