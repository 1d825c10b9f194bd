//! Test helpers shared by the core's and the wire crate's tests: a small contact centre around
//! the real [`Router`] ([`Centre`]), with named agents and contacts, a test clock in seconds, and
//! every step checked against the state's invariants; and the builders of commands that tests
//! write by hand ([`login`], [`needs`]).
//!
//! A dev-only crate (`publish = false`): the crates whose tests use it name it under
//! `[dev-dependencies]`, so nothing here is built into Switchboard itself. It panics freely: a
//! panic here is the test failing.

use std::time::Duration;

use switchboard_core::{
    AgentLogin, Channel, Command, Event, Level, NewContact, OfferId, Outcome, PerChannel,
    Rejection, Router, RoutingConfig, SkillRequirement, State, Tier, Timestamp,
};

/// A contact centre under test: the real router, a test clock and every event it decided.
pub struct Centre {
    /// The router under test.
    pub router: Router,
    /// The test clock; commands run at this instant.
    pub now: Timestamp,
    /// Every event decided so far, oldest first (event `i` would be log sequence `i + 1`).
    pub log: Vec<Event>,
    /// How many events of `log` [`Centre::events`] and [`Centre::dated_events`] already showed.
    unread: usize,
}

impl Default for Centre {
    fn default() -> Self {
        Self::new()
    }
}

impl Centre {
    /// A centre with the default configuration whose clock starts at the epoch.
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(RoutingConfig::default())
    }

    /// A centre with `config` whose clock starts at the epoch.
    #[must_use]
    pub fn with_config(config: RoutingConfig) -> Self {
        Self::starting_at(config, Timestamp::EPOCH)
    }

    /// A centre whose clock starts at `now` (real dates, for calendar tests).
    #[must_use]
    pub fn starting_at(config: RoutingConfig, now: Timestamp) -> Self {
        Self {
            router: Router::new(config).expect("the test configuration is valid"),
            now,
            log: Vec::new(),
            unread: 0,
        }
    }

    /// A centre over a recovered `state` (a snapshot's), at instant `now`, with an empty log.
    #[must_use]
    pub fn with_state(config: RoutingConfig, state: State, now: Timestamp) -> Self {
        Self {
            router: Router::with_state(config, state).expect("the test configuration is valid"),
            now,
            log: Vec::new(),
            unread: 0,
        }
    }

    /// The router's state.
    #[must_use]
    pub const fn state(&self) -> &State {
        self.router.state()
    }

    /// Runs a command now; panics on rejection (use [`Centre::try_command`] to expect one).
    pub fn command(&mut self, command: Command) {
        let description = format!("{command:?}");
        if let Err(rejection) = self.try_command(command) {
            panic!("unexpected rejection of {description}: {rejection}");
        }
    }

    /// Runs a command now; returns how many events it produced, or its rejection.
    ///
    /// # Errors
    /// The router's [`Rejection`], when the command does not fit the state.
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

    /// Moves the clock on to `at` (never back), handling whatever falls due on the way.
    pub fn advance_to(&mut self, at: Timestamp) {
        let secs = at.saturating_since(self.now).as_secs();
        self.advance(secs);
    }

    /// Takes the router's new events into the log and checks the state's invariants.
    fn collect(&mut self) {
        self.log.extend(self.router.drain_events());
        if let Err(broken) = self.router.state().check_invariants() {
            panic!("invariant broken: {broken}");
        }
    }

    /// The events since the last call, one line each, times in seconds since the epoch.
    pub fn events(&mut self) -> String {
        self.unread_lines(|e| format!("[{:>5}s] {}", e.at.as_millis() / 1000, e.kind))
    }

    /// The events since the last call, one line each, with their instants in full (RFC 3339).
    pub fn dated_events(&mut self) -> String {
        self.unread_lines(ToString::to_string)
    }

    fn unread_lines(&mut self, line: impl Fn(&Event) -> String) -> String {
        let lines: Vec<String> = self.log[self.unread..].iter().map(line).collect();
        self.unread = self.log.len();
        lines.join("\n")
    }

    /// Replaying every event so far from empty gives the router's state.
    pub fn assert_replay_equal(&self) {
        let replayed = State::replay(&self.log);
        assert!(replayed == *self.state(), "replayed state differs");
    }

    /// The first offer waiting for `agent`'s answer.
    #[must_use]
    pub fn offer_of(&self, agent: &str) -> OfferId {
        let a = self.state().agent(agent).expect("the agent is logged in");
        match a.offers.first() {
            Some(&offer) => offer,
            None => panic!("{agent} has no offer; events so far:\n{:#?}", self.log),
        }
    }

    // --- agents ---------------------------------------------------------------------------

    /// Logs `agent` in (see [`login`]), with the default capacity on every channel.
    pub fn login(&mut self, agent: &str, tier: u8, site: &str, skills: &[(&str, u8)]) {
        self.command(login(agent, tier, site, skills, None));
    }

    /// Logs `agent` in with a capacity per channel (channels not named: none).
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

    /// `agent` says ready.
    pub fn ready(&mut self, agent: &str) {
        self.command(Command::MakeReady {
            agent: agent.into(),
        });
    }

    /// `agent` says not ready, for `reason`.
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

    /// `agent` accepts offer number `offer`.
    pub fn accept(&mut self, agent: &str, offer: u64) {
        self.command(Command::AcceptOffer {
            agent: agent.into(),
            offer: OfferId::new(offer),
        });
    }

    /// `agent` accepts the first offer waiting for their answer.
    pub fn accept_offered(&mut self, agent: &str) {
        let offer = self.offer_of(agent);
        self.command(Command::AcceptOffer {
            agent: agent.into(),
            offer,
        });
    }

    /// `agent` rejects offer number `offer`, being busy.
    pub fn reject(&mut self, agent: &str, offer: u64) {
        self.command(Command::RejectOffer {
            agent: agent.into(),
            offer: OfferId::new(offer),
            reason: Some("busy".into()),
        });
    }

    /// `agent` rejects the first offer waiting for their answer, for `reason` if any.
    pub fn reject_offered(&mut self, agent: &str, reason: Option<&str>) {
        let offer = self.offer_of(agent);
        self.command(Command::RejectOffer {
            agent: agent.into(),
            offer,
            reason: reason.map(Into::into),
        });
    }

    /// `agent` completes the contact they hold, with `outcome`.
    pub fn complete(&mut self, agent: &str, contact: &str, outcome: Outcome) {
        self.command(Command::CompleteContact {
            agent: agent.into(),
            contact: contact.into(),
            outcome,
        });
    }

    // --- contacts -------------------------------------------------------------------------

    /// A contact arrives.
    pub fn arrive(&mut self, contact: NewContact) {
        self.command(Command::CreateContact(Box::new(contact)));
    }

    /// A routine phone call arrives for `service`.
    pub fn call(&mut self, id: &str, service: &str) {
        self.arrive(NewContact::routine(id, Channel::Phone, service));
    }

    /// The customer of contact `id` gives up.
    pub fn abandon(&mut self, id: &str) {
        self.command(Command::AbandonContact { contact: id.into() });
    }
}

/// The login of `agent` (named "Agent <agent>") at `tier` and `site` with `skills` as
/// (skill, level) pairs, and a capacity per channel when given.
///
/// # Panics
/// When the tier or a level is out of 1–5 (a mistake in the test).
#[must_use]
pub fn login(
    agent: &str,
    tier: u8,
    site: &str,
    skills: &[(&str, u8)],
    channels: Option<PerChannel<u8>>,
) -> Command {
    Command::LoginAgent(Box::new(AgentLogin {
        agent: agent.into(),
        name: format!("Agent {agent}").into(),
        tier: Tier::new(tier).expect("tier 1-5"),
        site: site.into(),
        skills: skills
            .iter()
            .map(|&(s, l)| (s.into(), Level::new(l).expect("level 1-5")))
            .collect(),
        channels,
    }))
}

/// A skill requirement: `skill` at `level` or better.
///
/// # Panics
/// When the level is out of 1–5 (a mistake in the test).
#[must_use]
pub fn needs(skill: &str, level: u8) -> SkillRequirement {
    SkillRequirement {
        skill: skill.into(),
        min_level: Level::new(level).expect("level 1-5"),
    }
}
