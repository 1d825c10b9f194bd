//! A small contact centre around the real [`Router`] for tests: named agents and contacts, a
//! test clock in seconds, and every step checked against the state's invariants and replay.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a different part of the harness"
)]

pub mod workload;

use std::time::Duration;

use switchboard_core::{
    AgentLogin, Channel, Command, Event, Level, NewContact, OfferId, Outcome, PerChannel,
    Rejection, Router, RoutingConfig, SkillRequirement, State, Tier, Timestamp,
};

/// A contact centre under test.
pub struct Centre {
    pub router: Router,
    pub now: Timestamp,
    pub log: Vec<Event>,
    unread: usize,
}

impl Centre {
    pub fn new() -> Self {
        Self::with_config(RoutingConfig::default())
    }

    pub fn with_config(config: RoutingConfig) -> Self {
        Self::starting_at(config, Timestamp::EPOCH)
    }

    /// A centre whose clock starts at `now` (real dates, for calendar tests).
    pub fn starting_at(config: RoutingConfig, now: Timestamp) -> Self {
        Self {
            router: Router::new(config).expect("valid config"),
            now,
            log: Vec::new(),
            unread: 0,
        }
    }

    /// Moves the clock on to `at` (never back), handling whatever falls due on the way.
    pub fn advance_to(&mut self, at: Timestamp) {
        let secs = at.saturating_since(self.now).as_secs();
        self.advance(secs);
    }

    /// Runs a command now; panics on rejection (use `try_command` to expect one).
    pub fn command(&mut self, command: Command) {
        if let Err(rejection) = self.try_command(command) {
            panic!("unexpected rejection: {rejection}");
        }
    }

    pub fn try_command(&mut self, command: Command) -> Result<usize, Rejection> {
        let result = self.router.handle_command(command, self.now);
        self.collect();
        result
    }

    /// Moves the clock on and handles whatever falls due, deadline by deadline.
    pub fn advance(&mut self, secs: u64) {
        let until = self.now + Duration::from_secs(secs);
        while let Some(deadline) = self.router.poll_timeout() {
            if deadline > until {
                break;
            }
            self.now = self.now.max(deadline);
            self.router.handle_timeout(self.now);
            self.collect();
        }
        self.now = until;
    }

    fn collect(&mut self) {
        self.log.extend(self.router.drain_events());
        if let Err(broken) = self.router.state().check_invariants() {
            panic!("invariant broken: {broken}");
        }
    }

    /// The events since the last call, one line each, times in seconds.
    pub fn events(&mut self) -> String {
        let lines: Vec<String> = self.log[self.unread..]
            .iter()
            .map(|e| format!("[{:>5}s] {}", e.at.as_millis() / 1000, e.kind))
            .collect();
        self.unread = self.log.len();
        lines.join("\n")
    }

    /// The events since the last call, one line each, with their instants in full (RFC 3339).
    pub fn dated_events(&mut self) -> String {
        let lines: Vec<String> = self.log[self.unread..]
            .iter()
            .map(|e| e.to_string())
            .collect();
        self.unread = self.log.len();
        lines.join("\n")
    }

    pub fn state(&self) -> &State {
        self.router.state()
    }

    /// Replaying every event so far from empty gives the router's state.
    pub fn assert_replay_equal(&self) {
        let replayed = State::replay(&self.log);
        assert!(replayed == *self.state(), "replayed state differs");
    }

    // --- agents ---------------------------------------------------------------------------

    pub fn login(&mut self, agent: &str, tier: u8, site: &str, skills: &[(&str, u8)]) {
        self.command(login(agent, tier, site, skills, None));
    }

    pub fn login_with_channels(
        &mut self,
        agent: &str,
        tier: u8,
        site: &str,
        skills: &[(&str, u8)],
        channels: &[(Channel, u8)],
    ) {
        let mut capacity = PerChannel::splat(0);
        for &(channel, n) in channels {
            capacity.set(channel, n);
        }
        self.command(login(agent, tier, site, skills, Some(capacity)));
    }

    pub fn ready(&mut self, agent: &str) {
        self.command(Command::MakeReady {
            agent: agent.into(),
        });
    }

    pub fn not_ready(&mut self, agent: &str, reason: &str) {
        self.command(Command::MakeNotReady {
            agent: agent.into(),
            reason: reason.into(),
        });
    }

    /// Logs in and makes ready.
    pub fn staff(&mut self, agent: &str, tier: u8, site: &str, skills: &[(&str, u8)]) {
        self.login(agent, tier, site, skills);
        self.ready(agent);
    }

    pub fn accept(&mut self, agent: &str, offer: u64) {
        self.command(Command::AcceptOffer {
            agent: agent.into(),
            offer: OfferId::new(offer),
        });
    }

    pub fn reject(&mut self, agent: &str, offer: u64) {
        self.command(Command::RejectOffer {
            agent: agent.into(),
            offer: OfferId::new(offer),
            reason: Some("busy".into()),
        });
    }

    pub fn complete(&mut self, agent: &str, contact: &str, outcome: Outcome) {
        self.command(Command::CompleteContact {
            agent: agent.into(),
            contact: contact.into(),
            outcome,
        });
    }

    // --- contacts -------------------------------------------------------------------------

    pub fn arrive(&mut self, contact: NewContact) {
        self.command(Command::CreateContact(Box::new(contact)));
    }

    pub fn call(&mut self, id: &str, service: &str) {
        self.arrive(NewContact::routine(id, Channel::Phone, service));
    }

    pub fn abandon(&mut self, id: &str) {
        self.command(Command::AbandonContact { contact: id.into() });
    }
}

pub fn login(
    agent: &str,
    tier: u8,
    site: &str,
    skills: &[(&str, u8)],
    channels: Option<PerChannel<u8>>,
) -> Command {
    Command::LoginAgent(Box::new(AgentLogin {
        agent: agent.into(),
        name: agent.into(),
        tier: Tier::new(tier).expect("tier 1-5"),
        site: site.into(),
        skills: skills
            .iter()
            .map(|&(s, l)| (s.into(), Level::new(l).expect("level 1-5")))
            .collect(),
        channels,
    }))
}

pub fn needs(skill: &str, level: u8) -> SkillRequirement {
    SkillRequirement {
        skill: skill.into(),
        min_level: Level::new(level).expect("level 1-5"),
    }
}
