//! The synthetic contact centre the core benchmarks share: 200 skills (190 services and 10
//! languages), 5 sites, and agents with 8 random skills each.

use rand::Rng;
use switchboard_core::{AgentLogin, Channel, Level, PerChannel, SkillId, Tier};

/// Skills in the centre: the first `LANGUAGES` are languages, the rest services.
pub(crate) const SKILLS: usize = 200;
pub(crate) const LANGUAGES: usize = 10;
pub(crate) const SITES: usize = 5;
/// The seed of every benchmark's random centre.
pub(crate) const SEED: u64 = 0x00C0_FFEE;

/// Skill number `i`'s name.
pub(crate) fn skill(i: usize) -> String {
    if i < LANGUAGES {
        format!("language_{i}")
    } else {
        format!("service_{i}")
    }
}

/// A level, clamped into 1..=5.
pub(crate) fn level(n: u8) -> Level {
    Level::new(n.clamp(1, 5)).unwrap_or(Level::MIN)
}

/// Agent `a`'s login: 8 random service skills at random levels, a language for one in five,
/// tier 1–3, one of the sites, capacity phone 1 / chat 2 / email 3.
pub(crate) fn random_agent(rng: &mut impl Rng, a: usize) -> AgentLogin {
    let mut skills: Vec<(SkillId, Level)> = (0..8)
        .map(|_| {
            let i = rng.random_range(LANGUAGES..SKILLS);
            (skill(i).into(), level(rng.random_range(1..=5)))
        })
        .collect();
    if rng.random_bool(0.2) {
        skills.push((skill(rng.random_range(0..LANGUAGES)).into(), level(4)));
    }
    let mut channels = PerChannel::splat(0);
    channels.set(Channel::Phone, 1);
    channels.set(Channel::Chat, 2);
    channels.set(Channel::Email, 3);
    let tier = Tier::new(rng.random_range(1..=3)).unwrap_or(Tier::FIRST);
    AgentLogin {
        agent: format!("agent{a}").into(),
        name: format!("Agent {a}").into(),
        tier,
        site: format!("site{}", a % SITES).into(),
        skills,
        channels: Some(channels),
    }
}
