//! Test harness: a real [`Router`] driven by a script or by a seeded random workload, collecting
//! the events it decides, with the invariants checked after every step.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a different part of the harness"
)]

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_calendar::BusinessCalendar;
use switchboard_core::{
    AgentLogin, Channel, Command, ComplaintStage, Event, Level, NewContact, OfferId, OpeningRule,
    OutOfHours, Outcome, PerChannel, Priority, Router, RoutingConfig, SkillRequirement, State,
    Tier, Timestamp,
};

/// 2026-11-23T09:00:00Z, in milliseconds.
pub const MONDAY_9AM: u64 = 1_795_424_400_000;

/// A contact centre under test.
pub struct Centre {
    pub router: Router,
    pub now: Timestamp,
    pub log: Vec<Event>,
}

/// The site whose walk-ins are held out of hours: its face-to-face desk opens at noon on the
/// golden Monday (a closure until then), then keeps council hours.
pub const LIBRARY: &str = "library";

/// The default configuration, plus opening hours for [`LIBRARY`]'s face-to-face desk (held out
/// of hours) and for its phones (refused out of hours).
pub fn config() -> RoutingConfig {
    let monday = jiff::civil::date(2026, 11, 23);
    let morning = switchboard_calendar::Period::new(monday.at(0, 0, 0, 0), monday.at(12, 0, 0, 0))
        .expect("a valid period");
    let calendar = std::sync::Arc::new(BusinessCalendar::council_default().with_closure(morning));
    let rule = |channel, out_of_hours| OpeningRule {
        site: Some(LIBRARY.into()),
        channel: Some(channel),
        calendar_name: "library".into(),
        calendar: std::sync::Arc::clone(&calendar),
        out_of_hours: Some(out_of_hours),
    };
    RoutingConfig {
        opening: vec![
            rule(Channel::FaceToFace, OutOfHours::Hold),
            rule(Channel::Phone, OutOfHours::Refuse),
        ],
        ..RoutingConfig::default()
    }
}

impl Centre {
    pub fn new() -> Self {
        Self {
            router: Router::new(config()).expect("the test config is valid"),
            now: Timestamp::from_millis(MONDAY_9AM),
            log: Vec::new(),
        }
    }

    /// A centre over a recovered state, at instant `now`.
    pub fn with_state(state: State, now: Timestamp) -> Self {
        Self {
            router: Router::with_state(config(), state).expect("the test config is valid"),
            now,
            log: Vec::new(),
        }
    }

    pub fn state(&self) -> &State {
        self.router.state()
    }

    /// Runs a command now and returns whether it was accepted.
    pub fn try_command(&mut self, command: Command) -> bool {
        let accepted = self.router.handle_command(command, self.now).is_ok();
        self.collect();
        accepted
    }

    /// Runs a command now; panics if it is refused.
    pub fn command(&mut self, command: Command) {
        let description = format!("{command:?}");
        assert!(self.try_command(command), "refused: {description}");
    }

    /// Moves the clock on, handling every deadline on the way.
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

    /// Every event so far, one line each, seconds since 9 am.
    pub fn events(&self) -> String {
        let lines: Vec<String> = self
            .log
            .iter()
            .map(|e| format!("{:>6}s {}", (e.at.as_millis() - MONDAY_9AM) / 1000, e.kind))
            .collect();
        lines.join("\n")
    }

    fn collect(&mut self) {
        self.log.extend(self.router.drain_events());
        if let Err(broken) = self.router.state().check_invariants() {
            panic!("invariant broken: {broken}");
        }
    }

    /// The first offer waiting for `agent`'s answer.
    pub fn offer_of(&self, agent: &str) -> OfferId {
        let a = self.state().agent(agent).expect("agent exists");
        match a.offers.first() {
            Some(&offer) => offer,
            None => panic!("{agent} has no offer; events so far:\n{}", self.events()),
        }
    }

    pub fn login(&mut self, agent: &str, tier: u8, site: &str, skills: &[(&str, u8)]) {
        self.command(login(agent, tier, site, skills, None));
    }

    pub fn ready(&mut self, agent: &str) {
        self.command(Command::MakeReady {
            agent: agent.into(),
        });
    }

    pub fn accept(&mut self, agent: &str) {
        let offer = self.offer_of(agent);
        self.command(Command::AcceptOffer {
            agent: agent.into(),
            offer,
        });
    }

    pub fn reject(&mut self, agent: &str, reason: Option<&str>) {
        let offer = self.offer_of(agent);
        self.command(Command::RejectOffer {
            agent: agent.into(),
            offer,
            reason: reason.map(Into::into),
        });
    }

    pub fn complete(&mut self, agent: &str, contact: &str, outcome: Outcome) {
        self.command(Command::CompleteContact {
            agent: agent.into(),
            contact: contact.into(),
            outcome,
        });
    }

    pub fn arrive(&mut self, contact: NewContact) {
        self.command(Command::CreateContact(Box::new(contact)));
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

pub fn needs(skill: &str, level: u8) -> SkillRequirement {
    SkillRequirement {
        skill: skill.into(),
        min_level: Level::new(level).expect("level 1-5"),
    }
}

/// A morning in the contact centre, scripted so that every kind of event happens at least once.
/// Deterministic: the same build gives the same events.
pub fn golden_centre() -> Centre {
    let mut c = Centre::new();
    let start = c.now;

    // Two agents; Bob names his channels.
    c.login(
        "ann",
        1,
        "hq",
        &[
            ("council_tax", 3),
            ("safeguarding", 2),
            ("polish", 4),
            ("customer_relations", 2),
        ],
    );
    let mut bobs = PerChannel::splat(1);
    bobs.set(Channel::Chat, 2);
    bobs.set(Channel::Email, 3);
    c.command(login(
        "bob",
        2,
        "hq",
        &[
            ("council_tax", 4),
            ("benefits", 3),
            ("polish", 3),
            ("customer_relations", 3),
        ],
        Some(bobs),
    ));
    c.ready("ann");

    // A phone call: offered, accepted, completed; wrap-up starts and ends.
    c.arrive(NewContact::routine("c1", Channel::Phone, "council_tax"));
    c.advance(2);
    c.accept("ann");
    c.advance(60);
    c.complete("ann", "c1", Outcome::Resolved);
    c.advance(31);

    // A chat with every detail, received earlier by another system: rejected, then left to
    // expire, so its service level passes and its plan relaxes while it waits.
    let mut chat = NewContact::routine("c2", Channel::Chat, "council_tax");
    chat.skills = vec![needs("council_tax", 2)];
    chat.language = Some("polish".into());
    chat.priority = Priority::new(5).expect("0-9");
    chat.vulnerable = true;
    chat.customer = Some("cust7".into());
    chat.site = Some("hq".into());
    chat.received_at = Some(start);
    chat.complaint_stage = Some(ComplaintStage::Stage1);
    chat.attributes = vec![
        ("case_ref".into(), "HB-2026-0042".into()),
        ("note".into(), "prefers Polish".into()),
    ];
    c.arrive(chat);
    c.reject("ann", Some("finishing notes"));
    c.advance(95);

    // Ann picks it up in the end, escalates it to tier 2, where Bob takes it and transfers it.
    c.ready("ann");
    c.advance(1);
    if c.state().agent("ann").is_some_and(|a| !a.offers.is_empty()) {
        c.accept("ann");
    }
    c.command(Command::EscalateContact {
        agent: "ann".into(),
        contact: "c2".into(),
        reason: "needs a senior adviser".into(),
        to_tier: Some(Tier::new(2).expect("1-5")),
    });
    c.ready("bob");
    c.advance(1);
    c.accept("bob");
    c.command(Command::TransferContact {
        agent: "bob".into(),
        contact: "c2".into(),
        service: "benefits".into(),
        skills: vec![needs("benefits", 2)],
    });
    c.advance(1);
    c.accept("bob");
    c.complete("bob", "c2", Outcome::Referred);

    // A walk-in offered to Ann, who goes not ready: the offer is revoked.
    let mut walk_in = NewContact::routine("c3", Channel::FaceToFace, "council_tax");
    walk_in.site = Some("hq".into());
    c.ready("ann");
    c.advance(60);
    c.arrive(walk_in);
    c.command(Command::MakeNotReady {
        agent: "ann".into(),
        reason: "lunch".into(),
    });
    // The customer leaves.
    c.advance(5);
    c.command(Command::AbandonContact {
        contact: "c3".into(),
    });

    // An email due soon that nobody can take: at risk, then breached.
    let mut email = NewContact::routine("c4", Channel::Email, "environmental_services");
    email.due_at = Some(c.now + Duration::from_secs(2 * 3600));
    c.arrive(email);
    c.advance(2 * 3600 + 1);

    // A callback Bob holds when he is logged out by force: it goes back to the queue.
    c.arrive(NewContact::routine("c5", Channel::Callback, "benefits"));
    c.advance(1);
    c.accept("bob");
    c.command(Command::LogoutAgent {
        agent: "bob".into(),
        force: true,
    });
    c.advance(1);

    // Bob logs in again with the channel defaults; Ann lets a call's offer expire, the call
    // passes its service level and relaxes, is offered again, and the caller hangs up. Ann logs
    // out.
    c.command(login(
        "bob",
        2,
        "riverside",
        &[("council_tax", 4), ("benefits", 3)],
        None,
    ));
    c.ready("ann");
    c.arrive(NewContact::routine("c6", Channel::Phone, "council_tax"));
    c.advance(16);
    c.advance(40);
    c.command(Command::AbandonContact {
        contact: "c6".into(),
    });
    c.command(Command::LogoutAgent {
        agent: "ann".into(),
        force: false,
    });

    // A walk-in at the library before its desk opens is held until noon, then released to its
    // queue (where nobody at the library can take it, so the customer leaves).
    let mut early = NewContact::routine("c7", Channel::FaceToFace, "housing");
    early.site = Some(LIBRARY.into());
    c.arrive(early);
    let noon = Timestamp::from_millis(MONDAY_9AM + 3 * 3600 * 1000);
    c.advance((noon - c.now).as_secs() + 1);
    c.command(Command::AbandonContact {
        contact: "c7".into(),
    });

    // A written complaint about housing (nobody here takes housing): its stage 1 clock starts
    // on arrival; it is extended, the customer asks for stage 2 by a letter received earlier,
    // and the customer is designated a persistent complainant.
    let mut letter = NewContact::routine("c8", Channel::Email, "housing");
    letter.customer = Some("cust9".into());
    letter.complaint_stage = Some(ComplaintStage::Stage1);
    c.arrive(letter);
    c.command(Command::ExtendDueTime {
        contact: "c8".into(),
        agent: Some("bob".into()),
        working_days: 5,
        reason: "we are waiting for the repairs contractor's report".into(),
    });
    c.advance(60);
    c.command(Command::ChangeComplaintStage {
        contact: "c8".into(),
        agent: None,
        to: ComplaintStage::Stage2,
        reason: "the customer is not satisfied with the stage 1 response".into(),
        received_at: Some(c.now.saturating_sub(Duration::from_secs(30))),
        due_at: None,
    });
    c.command(Command::MarkPersistentComplainant {
        customer: "cust9".into(),
        designated: true,
        reason: "policy decision PC-12: contact restricted to the designated officer".into(),
    });
    c
}

/// The events of the golden scenario.
pub fn golden_events() -> Vec<Event> {
    golden_centre().log
}

/// A random workload of `steps` steps from `seed`: logins, presence changes, contacts of every
/// channel and shape, answers, completions, escalations, transfers, abandonment and time passing.
/// Refused commands are part of the workload (they produce no events).
pub fn random_centre(seed: u64, steps: usize) -> Centre {
    let mut centre = Centre::new();
    let mut workload = Workload::new(seed);
    for _ in 0..steps {
        workload.step(&mut centre);
    }
    centre
}

/// A seeded random workload; clone it to drive two centres with the same steps.
#[derive(Clone)]
pub struct Workload {
    rng: ChaCha8Rng,
    created: u32,
}

const AGENTS: u64 = 8;
const SERVICES: [&str; 3] = ["council_tax", "benefits", "housing"];
const SITES: [&str; 2] = ["hq", "riverside"];

impl Workload {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            created: 0,
        }
    }

    /// One step: a command (perhaps refused) or time passing.
    #[allow(clippy::too_many_lines, reason = "one arm per kind of step")]
    pub fn step(&mut self, c: &mut Centre) {
        let rng = &mut self.rng;
        let created = &mut self.created;
        let agent = format!("a{}", rng.random_range(0..AGENTS));
        let roll = rng.random_range(0..100);
        match roll {
            0..=7 => {
                let mut skills: Vec<(&str, u8)> = Vec::new();
                for service in SERVICES {
                    if rng.random_bool(0.6) {
                        skills.push((service, rng.random_range(1..=5)));
                    }
                }
                if rng.random_bool(0.3) {
                    skills.push(("safeguarding", 3));
                }
                if rng.random_bool(0.3) {
                    skills.push(("polish", 4));
                }
                if rng.random_bool(0.4) {
                    skills.push(("customer_relations", 2));
                }
                if rng.random_bool(0.1) {
                    skills.push(("designated_officer", 3));
                }
                let channels = rng
                    .random_bool(0.5)
                    .then(|| PerChannel(std::array::from_fn(|_| rng.random_range(0..=3))));
                let site = SITES[rng.random_range(0..SITES.len())];
                let tier = rng.random_range(1..=5);
                c.try_command(login(&agent, tier, site, &skills, channels));
            }
            8..=17 => {
                c.try_command(Command::MakeReady {
                    agent: agent.into(),
                });
            }
            18..=20 => {
                c.try_command(Command::MakeNotReady {
                    agent: agent.into(),
                    reason: "break".into(),
                });
            }
            21..=22 => {
                c.try_command(Command::LogoutAgent {
                    agent: agent.into(),
                    force: rng.random_bool(0.5),
                });
            }
            23..=42 => {
                let channel = Channel::ALL[rng.random_range(0..Channel::COUNT)];
                let service = SERVICES[rng.random_range(0..SERVICES.len())];
                let mut contact = NewContact::routine(&format!("c{created}"), channel, service);
                *created += 1;
                if rng.random_bool(0.4) {
                    contact.skills = vec![needs(service, rng.random_range(1..=5))];
                }
                if rng.random_bool(0.2) {
                    contact.language = Some("polish".into());
                }
                contact.priority = Priority::new(rng.random_range(0..=9)).expect("0-9");
                contact.safeguarding = rng.random_bool(0.1);
                contact.vulnerable = rng.random_bool(0.1);
                if rng.random_bool(0.5) {
                    contact.customer = Some(format!("cust{}", rng.random_range(0..10)).into());
                }
                if rng.random_bool(0.2) {
                    contact.preferred_agent =
                        Some(format!("a{}", rng.random_range(0..AGENTS)).into());
                }
                if channel == Channel::FaceToFace || rng.random_bool(0.2) {
                    contact.site = Some(SITES[rng.random_range(0..SITES.len())].into());
                }
                if rng.random_bool(0.1) {
                    contact.site = Some(LIBRARY.into());
                }
                if !channel.is_live() && rng.random_bool(0.5) {
                    contact.due_at =
                        Some(c.now + Duration::from_secs(rng.random_range(60..20_000)));
                }
                if rng.random_bool(0.2) {
                    contact.received_at = Some(
                        c.now
                            .saturating_sub(Duration::from_secs(rng.random_range(0..600))),
                    );
                }
                if rng.random_bool(0.1) {
                    contact.complaint_stage = Some(ComplaintStage::Stage2);
                }
                if rng.random_bool(0.2) {
                    contact.attributes = vec![("k".into(), "v".into())];
                }
                c.try_command(Command::CreateContact(Box::new(contact)));
            }
            43..=46 => {
                let contact = format!("c{}", rng.random_range(0..(*created).max(1)));
                c.try_command(Command::AbandonContact {
                    contact: contact.into(),
                });
            }
            47..=72 => {
                // Answer an offer of a busy agent, mostly accepting.
                let busy: Vec<(String, OfferId)> = c
                    .state()
                    .agents()
                    .filter_map(|a| a.offers.first().map(|&o| (a.id.to_string(), o)))
                    .collect();
                if busy.is_empty() {
                    return;
                }
                let (agent, offer) = busy[rng.random_range(0..busy.len())].clone();
                let command = if rng.random_bool(0.8) {
                    Command::AcceptOffer {
                        agent: agent.into(),
                        offer,
                    }
                } else {
                    Command::RejectOffer {
                        agent: agent.into(),
                        offer,
                        reason: rng.random_bool(0.5).then(|| "busy".into()),
                    }
                };
                c.try_command(command);
            }
            73..=87 => {
                // Finish, escalate or transfer work in hand.
                let holding: Vec<(String, String)> = c
                    .state()
                    .agents()
                    .flat_map(|a| {
                        a.contacts.iter().map(|&no| {
                            let contact = c.state().contact_by_number(no).expect("held");
                            (a.id.to_string(), contact.id.to_string())
                        })
                    })
                    .collect();
                if holding.is_empty() {
                    return;
                }
                let (agent, contact) = holding[rng.random_range(0..holding.len())].clone();
                let command = match rng.random_range(0..10) {
                    0 => Command::EscalateContact {
                        agent: agent.into(),
                        contact: contact.into(),
                        reason: "senior".into(),
                        to_tier: Tier::new(rng.random_range(0..=5)),
                    },
                    1 => Command::TransferContact {
                        agent: agent.into(),
                        contact: contact.into(),
                        service: SERVICES[rng.random_range(0..SERVICES.len())].into(),
                        skills: vec![],
                    },
                    _ => Command::CompleteContact {
                        agent: agent.into(),
                        contact: contact.into(),
                        outcome: [Outcome::Resolved, Outcome::Referred, Outcome::NoAction]
                            [rng.random_range(0..3)],
                    },
                };
                c.try_command(command);
            }
            88..=90 => {
                // Working-day clocks and complaints: extend a due time, move a complaint on (by
                // its agent if it has one), or designate a customer.
                let contact = format!("c{}", rng.random_range(0..(*created).max(1)));
                let holder = c.state().contact(&contact).and_then(|k| match k.status {
                    switchboard_core::state::ContactStatus::Assigned { agent, .. } => {
                        Some(c.state().agent_at(agent).id.clone())
                    }
                    _ => None,
                });
                let command = match roll {
                    88 => Command::ExtendDueTime {
                        contact: contact.into(),
                        agent: holder,
                        working_days: rng.random_range(1..=3),
                        reason: "waiting for a report".into(),
                    },
                    89 => Command::ChangeComplaintStage {
                        contact: contact.into(),
                        agent: holder,
                        to: [ComplaintStage::Stage2, ComplaintStage::Ombudsman]
                            [rng.random_range(0..2)],
                        reason: "escalated by the customer".into(),
                        received_at: None,
                        due_at: rng
                            .random_bool(0.3)
                            .then(|| c.now + Duration::from_secs(rng.random_range(3_600..90_000))),
                    },
                    _ => Command::MarkPersistentComplainant {
                        customer: format!("cust{}", rng.random_range(0..10)).into(),
                        designated: rng.random_bool(0.7),
                        reason: "policy decision".into(),
                    },
                };
                c.try_command(command);
            }
            _ => {
                let secs = if rng.random_bool(0.1) {
                    rng.random_range(60..3_000)
                } else {
                    rng.random_range(0..20)
                };
                c.advance(secs);
            }
        }
    }
}
