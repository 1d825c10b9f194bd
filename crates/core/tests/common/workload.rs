//! A random contact-centre workload as a list of abstract operations, and a brute-force reference
//! model of who could take what, written independently of the core's index.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the workload (an `expect` would be \
              unfulfilled in those that use all of it)"
)]

use std::time::Duration;

use super::{Centre, login, needs};
use switchboard_core::state::{Agent, Contact, ContactStatus};
use switchboard_core::{
    AgentId, Channel, Command, ComplaintStage, ContactId, NewContact, OfferId, Outcome, PerChannel,
    Presence, Priority, Tier, Timestamp,
};

pub(crate) const AGENTS: usize = 12;
pub(crate) const SERVICES: [&str; 4] = ["council_tax", "benefits", "housing", "complaints"];
pub(crate) const SITES: [&str; 3] = ["hq", "riverside", "town_hall"];
pub(crate) const LANGUAGES: [&str; 2] = ["polish", "portuguese"];

/// One step of a workload. Indices are taken modulo whatever exists, so any value is valid.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Login {
        agent: u8,
        tier: u8,
        site: u8,
        skills: u8,
        chat: u8,
        email: u8,
    },
    Ready {
        agent: u8,
    },
    NotReady {
        agent: u8,
    },
    Logout {
        agent: u8,
        force: bool,
    },
    Create {
        channel: u8,
        service: u8,
        level: u8,
        language: u8,
        priority: u8,
        flags: u8,
        customer: u8,
        site: u8,
    },
    Abandon {
        pick: u16,
    },
    Accept {
        agent: u8,
        pick: u8,
    },
    Reject {
        agent: u8,
        pick: u8,
    },
    Complete {
        agent: u8,
        pick: u8,
        outcome: u8,
    },
    Escalate {
        agent: u8,
        pick: u8,
        tier: u8,
    },
    Transfer {
        agent: u8,
        pick: u8,
        service: u8,
    },
    Advance {
        secs: u16,
    },
    /// A complaint moves on a stage (by its agent when handled, by a manager when waiting).
    ComplaintStage {
        pick: u16,
        to: u8,
    },
    /// A due time is extended (now and then without a reason, which is refused).
    Extend {
        pick: u16,
        days: u8,
    },
    /// A customer is designated a persistent complainant, or the designation lifted.
    MarkPersistent {
        customer: u8,
    },
    /// A command that names things that do not exist.
    Nonsense {
        kind: u8,
    },
}

fn agent_name(i: u8) -> String {
    format!("agent{}", usize::from(i) % AGENTS)
}

/// Runs one operation against the centre. Rejections are expected and fine; they must change
/// nothing, which is checked here.
pub(crate) fn run(centre: &mut Centre, op: &Op, created: &mut Vec<String>) {
    let command = match *op {
        Op::Advance { secs } => {
            let_time_pass(centre, secs);
            return;
        }
        Op::Login {
            agent,
            tier,
            site,
            skills,
            chat,
            email,
        } => log_in(agent, tier, site, skills, chat, email),
        Op::Ready { agent } => Command::MakeReady {
            agent: agent_name(agent).into(),
        },
        Op::NotReady { agent } => Command::MakeNotReady {
            agent: agent_name(agent).into(),
            reason: "break".into(),
        },
        Op::Logout { agent, force } => log_out(centre, agent, force),
        Op::Create { .. } => create_contact(centre, op, created),
        Op::Abandon { pick } => {
            let Some(id) = pick_created(created, usize::from(pick)) else {
                return;
            };
            Command::AbandonContact { contact: id.into() }
        }
        Op::Accept { agent, pick } | Op::Reject { agent, pick } => {
            answer_an_offer(centre, agent, pick, matches!(op, Op::Accept { .. }))
        }
        Op::Complete {
            agent,
            pick,
            outcome,
        } => {
            let (agent, contact) = work_in_hand(centre, agent, pick);
            Command::CompleteContact {
                agent,
                contact,
                outcome: [Outcome::Resolved, Outcome::Referred, Outcome::NoAction]
                    [usize::from(outcome) % 3],
            }
        }
        Op::Escalate { agent, pick, tier } => {
            let (agent, contact) = work_in_hand(centre, agent, pick);
            let to_tier = if tier % 2 == 0 {
                None
            } else {
                Tier::new(1 + tier % 5)
            };
            Command::EscalateContact {
                agent,
                contact,
                reason: "beyond me".into(),
                to_tier,
            }
        }
        Op::Transfer {
            agent,
            pick,
            service,
        } => {
            let (agent, contact) = work_in_hand(centre, agent, pick);
            let service = SERVICES[usize::from(service) % SERVICES.len()].into();
            Command::TransferContact {
                agent,
                contact,
                service,
                skills: vec![],
            }
        }
        Op::ComplaintStage { pick, to } => {
            let Some(id) = pick_created(created, usize::from(pick)) else {
                return;
            };
            move_a_complaint_on(centre, id, to)
        }
        Op::Extend { pick, days } => {
            let Some(id) = pick_created(created, usize::from(pick)) else {
                return;
            };
            extend_a_due_time(id, days)
        }
        Op::MarkPersistent { customer } => Command::MarkPersistentComplainant {
            customer: format!("cust{}", customer % 16).into(),
            designated: customer % 3 != 0,
            reason: "policy decision".into(),
        },
        Op::Nonsense { kind } => nonsense(kind),
    };
    let applied = centre.state().events_applied();
    if centre.try_command(command).is_err() {
        assert_eq!(
            centre.state().events_applied(),
            applied,
            "a rejected command applied events"
        );
    }
}

/// Time passes: mostly a few seconds; now and then long enough for offers to expire and plans
/// to relax.
fn let_time_pass(centre: &mut Centre, secs: u16) {
    let secs = if secs.is_multiple_of(8) {
        u64::from(secs % 240)
    } else {
        u64::from(secs % 12)
    };
    centre.advance(secs);
}

/// The login an [`Op::Login`] draws: services, safeguarding, the complaints team's skills and
/// a language from the bits of `skills`; capacity one per channel but chat's and email's.
fn log_in(agent: u8, tier: u8, site: u8, skills: u8, chat: u8, email: u8) -> Command {
    let mut list: Vec<(&str, u8)> = Vec::new();
    for (i, service) in SERVICES.iter().enumerate() {
        if skills & (1 << i) != 0 {
            list.push((service, 1 + (skills >> 4) % 5));
        }
    }
    if skills & 0x10 != 0 {
        list.push(("safeguarding", 2));
    }
    if skills & 0x08 != 0 {
        // The complaints service's staff are the customer relations team; senior ones are
        // designated officers for persistent complainants.
        list.push(("customer_relations", 1 + (skills >> 4) % 5));
        if tier % 5 >= 2 {
            list.push(("designated_officer", 1));
        }
    }
    if skills & 0x20 != 0 {
        list.push((LANGUAGES[usize::from(skills >> 6) % 2], 4));
    }
    let mut capacity = PerChannel::splat(1);
    capacity.set(Channel::Chat, chat % 4);
    capacity.set(Channel::Email, email % 6);
    login(
        &agent_name(agent),
        1 + tier % 5,
        SITES[usize::from(site) % 3],
        &list,
        Some(capacity),
    )
}

/// The contact an [`Op::Create`] draws (its id is `c<n>`, the n-th created), with skills,
/// language, priority, flags, customer, preferred agent, due time, site and complaint stage
/// from its bytes.
fn create_contact(centre: &Centre, op: &Op, created: &mut Vec<String>) -> Command {
    let Op::Create {
        channel,
        service,
        level,
        language,
        priority,
        flags,
        customer,
        site,
    } = *op
    else {
        unreachable!("create_contact is called for Op::Create");
    };
    let channel = Channel::ALL[usize::from(channel) % Channel::COUNT];
    let id = format!("c{}", created.len());
    let service = SERVICES[usize::from(service) % SERVICES.len()];
    let mut contact = NewContact::routine(&id, channel, service);
    if level % 3 == 0 {
        contact.skills = vec![needs(service, 1 + level % 5)];
    }
    if language % 5 == 0 {
        contact.language = Some(LANGUAGES[usize::from(language / 5) % 2].into());
    }
    contact.priority = Priority::new(priority % 10).expect("0-9");
    contact.safeguarding = flags % 11 == 0;
    contact.vulnerable = flags % 7 == 0;
    if customer % 2 == 0 {
        contact.customer = Some(format!("cust{}", customer % 16).into());
    }
    if flags % 4 == 0 {
        contact.preferred_agent = Some(agent_name(customer).into());
    }
    if !channel.is_live() && level % 4 == 1 {
        // Deferred work due within minutes, so due times are reached during the run.
        contact.due_at = Some(centre.now + Duration::from_secs(60 * u64::from(1 + priority % 30)));
    }
    if channel == Channel::FaceToFace || site % 4 == 0 {
        contact.site = Some(SITES[usize::from(site) % 3].into());
    }
    if service == "complaints" {
        contact.complaint_stage = Some(if flags % 5 == 0 {
            ComplaintStage::Stage2
        } else {
            ComplaintStage::Stage1
        });
    }
    created.push(id);
    Command::CreateContact(Box::new(contact))
}

/// An agent with offers (chosen by `agent`) accepts or rejects one of them (chosen by `pick`).
fn answer_an_offer(centre: &Centre, agent: u8, pick: u8, accept: bool) -> Command {
    let name = busy_agent(centre, agent, |a| !a.offers.is_empty());
    let offer = centre
        .state()
        .agent(&name)
        .and_then(|a| pick_from(&a.offers, pick))
        .unwrap_or(OfferId::new(u64::from(pick)));
    if accept {
        Command::AcceptOffer {
            agent: name.into(),
            offer,
        }
    } else {
        Command::RejectOffer {
            agent: name.into(),
            offer,
            reason: None,
        }
    }
}

/// An agent holding work (chosen by `agent`) and one of their contacts (chosen by `pick`); any
/// names when nobody holds work (so the command is refused, which is checked to change nothing).
fn work_in_hand(centre: &Centre, agent: u8, pick: u8) -> (AgentId, ContactId) {
    let name = busy_agent(centre, agent, |a| !a.contacts.is_empty());
    let contact = held(centre, &name, pick).unwrap_or_else(|| format!("c{pick}"));
    (name.into(), contact.into())
}

/// An agent logs out: one holding work when by force (which requeues it).
fn log_out(centre: &Centre, agent: u8, force: bool) -> Command {
    let name = if force {
        busy_agent(centre, agent, |a| !a.contacts.is_empty())
    } else {
        agent_name(agent)
    };
    Command::LogoutAgent {
        agent: name.into(),
        force,
    }
}

/// Contact `id`'s due time is extended by up to two working days (now and then without a
/// reason, which is refused).
fn extend_a_due_time(id: &str, days: u8) -> Command {
    Command::ExtendDueTime {
        contact: id.into(),
        agent: None,
        working_days: u32::from(days % 3),
        reason: if days.is_multiple_of(7) {
            ""
        } else {
            "more time"
        }
        .into(),
    }
}

/// Complaint `id` moves on a stage: by its agent when handled, by a manager when waiting.
fn move_a_complaint_on(centre: &Centre, id: &str, to: u8) -> Command {
    let state = centre.state();
    let agent = state.contact(id).and_then(|c| match c.status {
        ContactStatus::Assigned { agent, .. } => Some(state.agent_at(agent).id.clone()),
        _ => None,
    });
    Command::ChangeComplaintStage {
        contact: id.into(),
        agent,
        to: [
            ComplaintStage::Stage1,
            ComplaintStage::Stage2,
            ComplaintStage::Ombudsman,
        ][usize::from(to) % 3],
        reason: "customer asked".into(),
        received_at: None,
        due_at: to
            .is_multiple_of(2)
            .then(|| centre.now + Duration::from_secs(600)),
    }
}

/// A command that names things that do not exist.
fn nonsense(kind: u8) -> Command {
    match kind % 3 {
        0 => Command::MakeReady {
            agent: "ghost".into(),
        },
        1 => Command::AcceptOffer {
            agent: agent_name(kind).into(),
            offer: OfferId::new(u64::MAX),
        },
        _ => Command::CompleteContact {
            agent: agent_name(kind).into(),
            contact: "never".into(),
            outcome: Outcome::Resolved,
        },
    }
}

/// An agent for whom `busy` holds, chosen by `pick`; any agent name when nobody is busy (so the
/// command is refused, which is checked to change nothing).
fn busy_agent(centre: &Centre, pick: u8, busy: impl Fn(&Agent) -> bool) -> String {
    let busy: Vec<&Agent> = centre.state().agents().filter(|a| busy(a)).collect();
    pick_from(&busy, pick).map_or_else(|| agent_name(pick), |a| a.id.to_string())
}

fn pick_created(created: &[String], pick: usize) -> Option<&str> {
    (!created.is_empty()).then(|| created[pick % created.len()].as_str())
}

fn pick_from<T: Copy>(items: &[T], pick: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[usize::from(pick) % items.len()])
}

fn held(centre: &Centre, agent: &str, pick: u8) -> Option<String> {
    let state = centre.state();
    let a = state.agent(agent)?;
    let no = pick_from(&a.contacts, pick)?;
    Some(state.contact_by_number(no)?.id.to_string())
}

/// The reference model's answer to "could this free agent take this waiting contact now?",
/// written from the documented rules without the core's index or matching code.
pub(crate) fn could_take(
    centre: &Centre,
    agent: &Agent,
    contact: &Contact,
    now: Timestamp,
) -> bool {
    let state = centre.state();
    if contact.status != ContactStatus::Queued || agent.presence != Presence::Ready {
        return false;
    }
    let channel = contact.channel;
    let held = |c: Channel| agent.load.get(c) > 0;
    let holds_exclusive = Channel::ALL
        .into_iter()
        .any(|c| c.is_exclusive() && held(c));
    let holds_live = [Channel::Phone, Channel::FaceToFace, Channel::Chat]
        .into_iter()
        .any(held);
    if agent.load.get(channel) >= agent.capacity.get(channel)
        || holds_exclusive
        || (channel.is_exclusive() && holds_live)
    {
        return false;
    }
    let agent_no = state.agent_number_for_tests(&agent.id);
    if contact
        .excluded
        .iter()
        .any(|e| Some(e.agent) == agent_no && e.until.is_none_or(|u| now < u))
    {
        return false;
    }
    meets_requirements(centre, agent, contact)
}

/// The reference model's static half: the contact's plan step accepts this agent (preferred
/// agent, tier, site, skills with relaxation, language), whatever the agent is doing.
pub(crate) fn meets_requirements(centre: &Centre, agent: &Agent, contact: &Contact) -> bool {
    let state = centre.state();
    let config = centre.router.config();
    let channel = contact.channel;
    let service = state.service_name(contact.service);
    let plan = config.plan_for(service, channel);
    let step = &plan.steps[usize::from(contact.placement.step).min(plan.steps.len() - 1)];
    if contact.placement.preferred_agent_only && contact.preferred_agent.as_ref() != Some(&agent.id)
    {
        return false;
    }
    let tier = contact.profile.tier;
    if agent.tier < tier || agent.tier > tier.saturating_add(step.tiers_above) {
        return false;
    }
    if let Some(site) = contact.profile.site {
        let must = channel == Channel::FaceToFace || !step.any_site;
        if must && agent.site != site {
            return false;
        }
    }
    for &(skill, level) in contact.profile.skills.iter() {
        let name = state.skill_name(skill);
        let needed = if *name == config.safeguarding_skill {
            level
        } else {
            level.relaxed_by(step.level_relaxation)
        };
        if agent.level(skill).is_none_or(|l| l < needed) {
            return false;
        }
    }
    if let Some(language) = contact.profile.language
        && !step.drop_language
        && agent
            .level(language)
            .is_none_or(|l| l < config.language_min_level)
    {
        return false;
    }
    true
}

/// Checks that every offer and assignment meets its contact's requirements, and that routing
/// left no free agent who could take a waiting contact.
pub(crate) fn assert_work_conserving(centre: &Centre) {
    for contact in centre.state().contacts() {
        let holder = match contact.status {
            ContactStatus::Offered { agent, .. } | ContactStatus::Assigned { agent, .. } => agent,
            ContactStatus::Queued | ContactStatus::Held { .. } => continue,
        };
        let agent = centre.state().agent_at(holder);
        assert!(
            meets_requirements(centre, agent, contact),
            "contact {} is with agent {}, who does not meet its requirements at step {}",
            contact.id,
            agent.id,
            contact.placement.step
        );
    }
    let now = centre.now.max(centre.state().clock());
    for contact in centre.state().contacts() {
        for agent in centre.state().agents() {
            assert!(
                !could_take(centre, agent, contact, now),
                "agent {} is free and could take waiting contact {} (step {})",
                agent.id,
                contact.id,
                contact.placement.step
            );
        }
    }
}

/// A workload step drawn from a seeded generator, weighted like a busy morning.
pub(crate) fn random_op(rng: &mut impl rand::Rng) -> Op {
    let roll: u8 = rng.random_range(0..100);
    let b = |rng: &mut dyn rand::RngCore| rng.next_u32().to_le_bytes()[0];
    match roll {
        0..=4 => Op::Login {
            agent: b(rng),
            tier: b(rng),
            site: b(rng),
            skills: b(rng),
            chat: b(rng),
            email: b(rng),
        },
        5..=14 => Op::Ready { agent: b(rng) },
        15..=17 => Op::NotReady { agent: b(rng) },
        18..=19 => Op::Logout {
            agent: b(rng),
            force: rng.random_bool(0.5),
        },
        20..=39 => Op::Create {
            channel: b(rng),
            service: b(rng),
            level: b(rng),
            language: b(rng),
            priority: b(rng),
            flags: b(rng),
            customer: b(rng),
            site: b(rng),
        },
        40..=43 => Op::Abandon { pick: rng.random() },
        44..=57 => Op::Accept {
            agent: b(rng),
            pick: b(rng),
        },
        58..=61 => Op::Reject {
            agent: b(rng),
            pick: b(rng),
        },
        62..=75 => Op::Complete {
            agent: b(rng),
            pick: b(rng),
            outcome: b(rng),
        },
        76..=79 => Op::Escalate {
            agent: b(rng),
            pick: b(rng),
            tier: b(rng),
        },
        80..=82 => Op::Transfer {
            agent: b(rng),
            pick: b(rng),
            service: b(rng),
        },
        83..=96 => Op::Advance { secs: rng.random() },
        97 => match b(rng) % 3 {
            0 => Op::ComplaintStage {
                pick: rng.random(),
                to: b(rng),
            },
            1 => Op::Extend {
                pick: rng.random(),
                days: b(rng),
            },
            _ => Op::MarkPersistent { customer: b(rng) },
        },
        _ => Op::Nonsense { kind: b(rng) },
    }
}
