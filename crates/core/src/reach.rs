//! Reach: whether anyone logged in could ever take a waiting contact, and if not, why not.
//!
//! A contact can wait for two reasons. Usually everyone who could take it is busy: it is served
//! when one of them frees up. But when no logged-in agent meets its needs at its current plan
//! step or any later one (nobody at the walk-in's site has the skill, nobody speaks the language
//! and no step drops it), it would wait for ever in silence. Councils misconfigure rotas, so the
//! engine says so: such a contact is *unservable*. The router records a
//! [`ContactUnservable`](crate::event::ContactUnservable) event with the [`Shortfall`] (the first
//! requirement that nobody logged in meets), and [`Router::unservable`](crate::Router::unservable)
//! counts them live for the queue figures.
//!
//! "Logged in" means any presence but logged out: an agent who is not ready now may be ready
//! later, so a contact they could take is not unservable. Capacity, exclusions after a
//! rejection and the agent's current work are ignored for the same reason: they pass.

use crate::config::PlanStep;
use crate::event::Shortfall;
use crate::index::Profile;
use crate::model::Presence;
use crate::routing::Rules;
use crate::state::{Agent, AgentIdx, Contact, State};

/// The plan steps still ahead of a contact at step `from` (its own included), with the
/// preferred-agent-only steps apart.
fn steps_from<'r>(
    state: &State,
    rules: &'r Rules<'_>,
    profile: &Profile,
    from: u8,
) -> impl Iterator<Item = &'r PlanStep> {
    let plan = rules
        .config
        .plan_for(state.service_name(profile.service), profile.channel);
    let from = usize::from(from).min(plan.steps.len().saturating_sub(1));
    plan.steps[from..].iter()
}

/// Logged in, and takes the profile's channel at all.
fn takes_channel(agent: &Agent, profile: &Profile) -> bool {
    agent.presence != Presence::LoggedOut && agent.capacity.get(profile.channel) > 0
}

/// Whether some logged-in agent meets `profile` at step `from` or a later step open to anyone.
/// Preferred-agent-only steps are left to [`preferred_could_serve`].
pub(crate) fn anyone_could_serve(
    state: &State,
    rules: &Rules<'_>,
    profile: &Profile,
    from: u8,
) -> bool {
    let steps: Vec<&PlanStep> = steps_from(state, rules, profile, from)
        .filter(|step| !step.preferred_agent_only)
        .collect();
    !steps.is_empty()
        && state.agents().any(|agent| {
            takes_channel(agent, profile) && steps.iter().any(|s| rules.accepts(agent, profile, s))
        })
}

/// Whether the contact's preferred agent is logged in and meets its needs at a step from its
/// current one on (any step, since every step accepts the preferred agent if they qualify).
fn preferred_could_serve(state: &State, rules: &Rules<'_>, contact: &Contact) -> bool {
    let Some(agent) = contact
        .preferred_agent
        .as_deref()
        .and_then(|id| state.agent_number(id))
        .map(|idx: AgentIdx| state.agent_at(idx))
    else {
        return false;
    };
    let profile = &*contact.profile;
    takes_channel(agent, profile)
        && steps_from(state, rules, profile, contact.placement.step)
            .any(|s| rules.accepts(agent, profile, s))
}

/// Whether a waiting contact is unservable: nobody logged in meets its needs at its step or any
/// later one. `anyone` is [`anyone_could_serve`] for its profile and step, which callers share
/// between contacts of one group.
pub(crate) fn is_unservable(
    state: &State,
    rules: &Rules<'_>,
    contact: &Contact,
    anyone: bool,
) -> bool {
    !anyone && !preferred_could_serve(state, rules, contact)
}

/// The first requirement of an unservable contact that no logged-in agent meets, checked in
/// the order a team leader would fix a rota: the channel, the site, each skill, the tier, the
/// language. Each requirement is taken at its most relaxed over the steps still ahead, so the
/// shortfall names something no step would waive. Also returns how many agents are logged in.
pub(crate) fn shortfall(state: &State, rules: &Rules<'_>, contact: &Contact) -> (Shortfall, u32) {
    let profile = &*contact.profile;
    let steps: Vec<&PlanStep> = steps_from(state, rules, profile, contact.placement.step)
        .filter(|step| !step.preferred_agent_only)
        .collect();
    let logged_in: Vec<&Agent> = state
        .agents()
        .filter(|a| a.presence != Presence::LoggedOut)
        .collect();
    let count = u32::try_from(logged_in.len()).unwrap_or(u32::MAX);
    if steps.is_empty() {
        // Every step ahead takes only the preferred agent, who cannot.
        return match &contact.preferred_agent {
            Some(agent) => (Shortfall::PreferredAgent(agent.clone()), count),
            None => (Shortfall::NoSingleStep, count),
        };
    }
    if logged_in.is_empty() {
        return (Shortfall::NobodyLoggedIn, 0);
    }
    let mut pool: Vec<&Agent> = logged_in
        .into_iter()
        .filter(|a| takes_channel(a, profile))
        .collect();
    if pool.is_empty() {
        return (Shortfall::Channel(profile.channel), count);
    }
    let mut searched_site = None;
    if let Some(site) = profile.site {
        let site_required =
            profile.channel == crate::Channel::FaceToFace || steps.iter().all(|s| !s.any_site);
        if site_required {
            pool.retain(|a| a.site == site);
            let name = state.site_name(site).clone();
            if pool.is_empty() {
                return (Shortfall::Site(name), count);
            }
            searched_site = Some(name);
        }
    }
    let relaxation = steps.iter().map(|s| s.level_relaxation).max().unwrap_or(0);
    for &(skill, level) in profile.skills.iter() {
        let needed = if Some(skill) == rules.safeguarding_skill {
            level
        } else {
            level.relaxed_by(relaxation)
        };
        pool.retain(|a| a.level(skill) >= Some(needed));
        if pool.is_empty() {
            let skill = state.skill_name(skill).clone();
            let site = searched_site;
            return (
                Shortfall::Skill {
                    skill,
                    level: needed,
                    site,
                },
                count,
            );
        }
    }
    let highest = profile
        .tier
        .saturating_add(steps.iter().map(|s| s.tiers_above).max().unwrap_or(0));
    pool.retain(|a| a.tier >= profile.tier && a.tier <= highest);
    if pool.is_empty() {
        return (
            Shortfall::Tier {
                lowest: profile.tier,
                highest,
                site: searched_site,
            },
            count,
        );
    }
    if let Some(language) = profile.language
        && steps.iter().all(|s| !s.drop_language)
    {
        pool.retain(|a| a.level(language) >= Some(rules.config.language_min_level));
        if pool.is_empty() {
            let language = state.skill_name(language).clone();
            let site = searched_site;
            return (Shortfall::Language { language, site }, count);
        }
    }
    (Shortfall::NoSingleStep, count)
}
