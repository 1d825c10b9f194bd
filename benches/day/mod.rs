//! A seeded working day at a council contact centre, for the benchmarks that need a realistic
//! stream of events: agents for six services log in and say ready; contacts arrive on the phone,
//! chat and email, are offered, accepted, worked and completed. Each benchmark runs the commands
//! through what it measures (the router, or the durable engine).

use rand::Rng;
use switchboard_core::{AgentLogin, Channel, Command, Level, NewContact, Outcome, State, Tier};

/// The centre's services; every agent has all of them, at a random level.
pub(crate) const SERVICES: [&str; 6] = [
    "council_tax",
    "benefits",
    "housing",
    "parking",
    "bins",
    "complaints",
];

/// The commands that staff the centre: `agents` agents (`agent0`...) log in at the `hq` site
/// with every service at a random level, tier 1 to 3, and say ready.
pub(crate) fn staffing(rng: &mut impl Rng, agents: usize) -> Vec<Command> {
    let mut commands = Vec::with_capacity(2 * agents);
    for a in 0..agents {
        let skills = SERVICES
            .iter()
            .map(|s| {
                let level = Level::new(rng.random_range(1..=5)).unwrap_or(Level::MIN);
                ((*s).into(), level)
            })
            .collect();
        let login = AgentLogin {
            agent: format!("agent{a}").into(),
            name: format!("Agent {a}").into(),
            tier: Tier::new(rng.random_range(1..=3)).unwrap_or(Tier::FIRST),
            site: "hq".into(),
            skills,
            channels: None,
        };
        commands.push(Command::LoginAgent(Box::new(login)));
        commands.push(Command::MakeReady {
            agent: format!("agent{a}").into(),
        });
    }
    commands
}

/// Contact `c<n>` arrives: a routine phone call, chat or email for one of the services.
pub(crate) fn arrival(rng: &mut impl Rng, n: u64) -> Command {
    let channel = [Channel::Phone, Channel::Chat, Channel::Email][rng.random_range(0..3)];
    let service = SERVICES[rng.random_range(0..SERVICES.len())];
    let contact = NewContact::routine(&format!("c{n}"), channel, service);
    Command::CreateContact(Box::new(contact))
}

/// Every offer waiting for an answer is accepted.
pub(crate) fn answers(state: &State) -> Vec<Command> {
    state
        .offers()
        .map(|o| Command::AcceptOffer {
            agent: state.agent_at(o.agent).id.clone(),
            offer: o.id,
        })
        .collect()
}

/// About one agent in three working on contacts completes the first of them.
pub(crate) fn completions(state: &State, rng: &mut impl Rng) -> Vec<Command> {
    state
        .agents()
        .filter(|a| !a.contacts.is_empty() && rng.random_bool(0.3))
        .filter_map(|a| {
            Some(Command::CompleteContact {
                agent: a.id.clone(),
                contact: state.contact_by_number(a.contacts[0])?.id.clone(),
                outcome: Outcome::Resolved,
            })
        })
        .collect()
}
