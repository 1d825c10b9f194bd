//! Test harness: the shared test centre ([`switchboard_testkit::Centre`]) driven by a script or
//! by a seeded random workload, in a configuration with opening hours, collecting the events it
//! decides, with the invariants checked after every step.

#![expect(
    dead_code,
    reason = "each test file uses a different part of the harness, and none all of it"
)]

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_calendar::BusinessCalendar;
use switchboard_core::{
    Channel, Command, ComplaintStage, Event, NewContact, OfferId, OpeningRule, OutOfHours, Outcome,
    PerChannel, Priority, RoutingConfig, State, Tier, Timestamp,
};
pub(crate) use switchboard_testkit::{Centre, login, needs};

/// 2026-11-23T09:00:00Z, in milliseconds.
pub(crate) const MONDAY_9AM: u64 = 1_795_424_400_000;

/// The site whose walk-ins are held out of hours: its face-to-face desk opens at noon on the
/// golden Monday (a closure until then), then keeps council hours.
pub(crate) const LIBRARY: &str = "library";

/// The default configuration, plus opening hours for [`LIBRARY`]'s face-to-face desk (held out
/// of hours) and for its phones (refused out of hours).
pub(crate) fn config() -> RoutingConfig {
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

/// A centre in the test configuration ([`config`]) at 9 am on the golden Monday.
pub(crate) fn centre() -> Centre {
    Centre::starting_at(config(), Timestamp::from_millis(MONDAY_9AM))
}

/// A centre in the test configuration over a recovered state, at instant `now`.
pub(crate) fn centre_over(state: State, now: Timestamp) -> Centre {
    Centre::with_state(config(), state, now)
}

/// A morning in the contact centre, scripted so that every kind of event happens at least once.
/// Deterministic: the same build gives the same events.
pub(crate) fn golden_centre() -> Centre {
    let mut c = centre();
    let start = c.now;
    two_agents_log_in(&mut c);
    a_call_is_answered_and_wrapped_up(&mut c);
    a_chat_is_escalated_and_transferred(&mut c, start);
    a_walk_in_is_revoked_and_leaves(&mut c);
    an_email_nobody_takes_breaches(&mut c);
    a_callback_is_requeued_on_a_forced_logout(&mut c);
    an_offer_expires_and_the_caller_hangs_up(&mut c);
    a_walk_in_is_held_until_the_library_opens(&mut c);
    a_complaint_moves_on_to_stage_2(&mut c);
    c
}

/// Two agents; Bob names his channels.
fn two_agents_log_in(c: &mut Centre) {
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
}

/// A phone call: offered, accepted, completed; wrap-up starts and ends.
fn a_call_is_answered_and_wrapped_up(c: &mut Centre) {
    c.arrive(NewContact::routine("c1", Channel::Phone, "council_tax"));
    c.advance(2);
    c.accept_offered("ann");
    c.advance(60);
    c.complete("ann", "c1", Outcome::Resolved);
    c.advance(31);
}

/// A chat with every detail, received at `received_at` by another system: rejected, then left
/// to expire, so its service level passes and its plan relaxes while it waits. Ann picks it up
/// in the end, escalates it to tier 2, where Bob takes it and transfers it.
fn a_chat_is_escalated_and_transferred(c: &mut Centre, received_at: Timestamp) {
    let mut chat = NewContact::routine("c2", Channel::Chat, "council_tax");
    chat.skills = vec![needs("council_tax", 2)];
    chat.language = Some("polish".into());
    chat.priority = Priority::new(5).expect("0-9");
    chat.vulnerable = true;
    chat.customer = Some("cust7".into());
    chat.site = Some("hq".into());
    chat.received_at = Some(received_at);
    chat.complaint_stage = Some(ComplaintStage::Stage1);
    chat.attributes = vec![
        ("case_ref".into(), "HB-2026-0042".into()),
        ("note".into(), "prefers Polish".into()),
    ];
    c.arrive(chat);
    c.reject_offered("ann", Some("finishing notes"));
    c.advance(95);

    c.ready("ann");
    c.advance(1);
    if c.state().agent("ann").is_some_and(|a| !a.offers.is_empty()) {
        c.accept_offered("ann");
    }
    c.command(Command::EscalateContact {
        agent: "ann".into(),
        contact: "c2".into(),
        reason: "needs a senior adviser".into(),
        to_tier: Some(Tier::new(2).expect("1-5")),
    });
    c.ready("bob");
    c.advance(1);
    c.accept_offered("bob");
    c.command(Command::TransferContact {
        agent: "bob".into(),
        contact: "c2".into(),
        service: "benefits".into(),
        skills: vec![needs("benefits", 2)],
    });
    c.advance(1);
    c.accept_offered("bob");
    c.complete("bob", "c2", Outcome::Referred);
}

/// A walk-in offered to Ann, who goes not ready: the offer is revoked. The customer leaves.
fn a_walk_in_is_revoked_and_leaves(c: &mut Centre) {
    let mut walk_in = NewContact::routine("c3", Channel::FaceToFace, "council_tax");
    walk_in.site = Some("hq".into());
    c.ready("ann");
    c.advance(60);
    c.arrive(walk_in);
    c.not_ready("ann", "lunch");
    c.advance(5);
    c.abandon("c3");
}

/// An email due soon that nobody can take: at risk, then breached.
fn an_email_nobody_takes_breaches(c: &mut Centre) {
    let mut email = NewContact::routine("c4", Channel::Email, "environmental_services");
    email.due_at = Some(c.now + Duration::from_secs(2 * 3600));
    c.arrive(email);
    c.advance(2 * 3600 + 1);
}

/// A callback Bob holds when he is logged out by force: it goes back to the queue.
fn a_callback_is_requeued_on_a_forced_logout(c: &mut Centre) {
    c.arrive(NewContact::routine("c5", Channel::Callback, "benefits"));
    c.advance(1);
    c.accept_offered("bob");
    c.command(Command::LogoutAgent {
        agent: "bob".into(),
        force: true,
    });
    c.advance(1);
}

/// Bob logs in again with the channel defaults; Ann lets a call's offer expire, the call passes
/// its service level and relaxes, is offered again, and the caller hangs up. Ann logs out.
fn an_offer_expires_and_the_caller_hangs_up(c: &mut Centre) {
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
    c.abandon("c6");
    c.command(Command::LogoutAgent {
        agent: "ann".into(),
        force: false,
    });
}

/// A walk-in at the library before its desk opens is held until noon, then released to its
/// queue (where nobody at the library can take it, so the customer leaves).
fn a_walk_in_is_held_until_the_library_opens(c: &mut Centre) {
    let mut early = NewContact::routine("c7", Channel::FaceToFace, "housing");
    early.site = Some(LIBRARY.into());
    c.arrive(early);
    let noon = Timestamp::from_millis(MONDAY_9AM + 3 * 3600 * 1000);
    c.advance((noon - c.now).as_secs() + 1);
    c.abandon("c7");
}

/// A written complaint about housing (nobody here takes housing): its stage 1 clock starts on
/// arrival; it is extended, the customer asks for stage 2 by a letter received earlier, and the
/// customer is designated a persistent complainant.
fn a_complaint_moves_on_to_stage_2(c: &mut Centre) {
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
    // Version 5's kinds, last, so that the scenario's events up to here stay those of the
    // older golden files: an erasure that waits for the customer's contact in progress, then
    // happens as it ends, and one of a customer nothing is held for.
    let state = c.state();
    let assigned = |customer: &switchboard_core::CustomerId| {
        state
            .contacts()
            .any(|k| k.customer.as_ref() == Some(customer) && k.status.as_str() == "assigned")
    };
    let waiting = state
        .contacts()
        .filter_map(|contact| contact.customer.clone())
        .find(|customer| !assigned(customer))
        .expect("some customer has contacts in progress, none with an agent");
    c.command(Command::ErasePersonalData {
        customer: Some(waiting.clone()),
        subject: "9f86d081884c7d65".into(),
        reason: switchboard_core::ErasureReason::Request,
    });
    let ending: Vec<String> = c
        .state()
        .contacts()
        .filter(|contact| contact.customer.as_ref() == Some(&waiting))
        .map(|contact| contact.id.to_string())
        .collect();
    for contact in ending {
        c.command(Command::AbandonContact {
            contact: contact.into(),
        });
    }
    c.command(Command::ErasePersonalData {
        customer: None,
        subject: "2c26b46b68ffc68f".into(),
        reason: switchboard_core::ErasureReason::Retention,
    });
}

/// The events of the golden scenario.
pub(crate) fn golden_events() -> Vec<Event> {
    golden_centre().log
}

/// A random workload of `steps` steps from `seed`: logins, presence changes, contacts of every
/// channel and shape, answers, completions, escalations, transfers, abandonment and time passing.
/// Refused commands are part of the workload (they produce no events).
pub(crate) fn random_centre(seed: u64, steps: usize) -> Centre {
    let mut centre = centre();
    let mut workload = Workload::new(seed);
    for _ in 0..steps {
        workload.step(&mut centre);
    }
    centre
}

/// A seeded random workload; clone it to drive two centres with the same steps.
#[derive(Clone)]
pub(crate) struct Workload {
    rng: ChaCha8Rng,
    /// How many contacts it created: contact ids are `c0`, `c1`...
    created: u32,
}

const AGENTS: u64 = 8;
const SERVICES: [&str; 3] = ["council_tax", "benefits", "housing"];
const SITES: [&str; 2] = ["hq", "riverside"];

/// Runs a command that may be refused: refusals are part of the workload.
fn attempt(c: &mut Centre, command: Command) {
    let _refused_or_not = c.try_command(command);
}

impl Workload {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            created: 0,
        }
    }

    /// One step: a command (perhaps refused) or time passing.
    pub(crate) fn step(&mut self, c: &mut Centre) {
        let agent = format!("a{}", self.rng.random_range(0..AGENTS));
        let roll = self.rng.random_range(0..100);
        match roll {
            0..=7 => self.log_in(c, &agent),
            8..=17 => attempt(
                c,
                Command::MakeReady {
                    agent: agent.into(),
                },
            ),
            18..=20 => attempt(
                c,
                Command::MakeNotReady {
                    agent: agent.into(),
                    reason: "break".into(),
                },
            ),
            21..=22 => {
                let force = self.rng.random_bool(0.5);
                attempt(
                    c,
                    Command::LogoutAgent {
                        agent: agent.into(),
                        force,
                    },
                );
            }
            23..=42 => self.create_contact(c),
            43..=46 => {
                let contact = self.some_contact();
                attempt(
                    c,
                    Command::AbandonContact {
                        contact: contact.into(),
                    },
                );
            }
            47..=72 => self.answer_an_offer(c),
            73..=87 => self.finish_work_in_hand(c),
            88 => self.extend_a_due_time(c),
            89 => self.move_a_complaint_on(c),
            90 => self.designate_a_customer(c),
            _ => self.let_time_pass(c),
        }
    }

    /// A contact id this workload created (or `c0` before any).
    fn some_contact(&mut self) -> String {
        format!("c{}", self.rng.random_range(0..self.created.max(1)))
    }

    /// An agent logs in with random skills, site, tier and (half the time) channels.
    fn log_in(&mut self, c: &mut Centre, agent: &str) {
        let rng = &mut self.rng;
        let mut skills: Vec<(&str, u8)> = Vec::new();
        for service in SERVICES {
            if rng.random_bool(0.6) {
                skills.push((service, rng.random_range(1..=5)));
            }
        }
        for (skill, level, chance) in [
            ("safeguarding", 3, 0.3),
            ("polish", 4, 0.3),
            ("customer_relations", 2, 0.4),
            ("designated_officer", 3, 0.1),
        ] {
            if rng.random_bool(chance) {
                skills.push((skill, level));
            }
        }
        let channels = rng
            .random_bool(0.5)
            .then(|| PerChannel(std::array::from_fn(|_| rng.random_range(0..=3))));
        let site = SITES[rng.random_range(0..SITES.len())];
        let tier = rng.random_range(1..=5);
        attempt(c, login(agent, tier, site, &skills, channels));
    }

    /// A contact of any channel and shape arrives.
    fn create_contact(&mut self, c: &mut Centre) {
        let rng = &mut self.rng;
        let channel = Channel::ALL[rng.random_range(0..Channel::COUNT)];
        let service = SERVICES[rng.random_range(0..SERVICES.len())];
        let mut contact = NewContact::routine(&format!("c{}", self.created), channel, service);
        self.created += 1;
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
            contact.preferred_agent = Some(format!("a{}", rng.random_range(0..AGENTS)).into());
        }
        if channel == Channel::FaceToFace || rng.random_bool(0.2) {
            contact.site = Some(SITES[rng.random_range(0..SITES.len())].into());
        }
        if rng.random_bool(0.1) {
            contact.site = Some(LIBRARY.into());
        }
        if !channel.is_live() && rng.random_bool(0.5) {
            contact.due_at = Some(c.now + Duration::from_secs(rng.random_range(60..20_000)));
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
        attempt(c, Command::CreateContact(Box::new(contact)));
    }

    /// An agent with an offer answers it, mostly accepting.
    fn answer_an_offer(&mut self, c: &mut Centre) {
        let rng = &mut self.rng;
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
        attempt(c, command);
    }

    /// An agent finishes, escalates or transfers work in hand.
    fn finish_work_in_hand(&mut self, c: &mut Centre) {
        let rng = &mut self.rng;
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
        attempt(c, command);
    }

    /// A contact and the agent holding it, if anyone is.
    fn some_contact_and_holder(
        &mut self,
        c: &Centre,
    ) -> (String, Option<switchboard_core::AgentId>) {
        let contact = self.some_contact();
        let holder = c.state().contact(&contact).and_then(|k| match k.status {
            switchboard_core::state::ContactStatus::Assigned { agent, .. } => {
                Some(c.state().agent_at(agent).id.clone())
            }
            _ => None,
        });
        (contact, holder)
    }

    /// A working-day clock: a due time is extended (by its agent, if it has one).
    fn extend_a_due_time(&mut self, c: &mut Centre) {
        let (contact, holder) = self.some_contact_and_holder(c);
        attempt(
            c,
            Command::ExtendDueTime {
                contact: contact.into(),
                agent: holder,
                working_days: self.rng.random_range(1..=3),
                reason: "waiting for a report".into(),
            },
        );
    }

    /// A complaint moves on (by its agent, if it has one).
    fn move_a_complaint_on(&mut self, c: &mut Centre) {
        let (contact, holder) = self.some_contact_and_holder(c);
        let rng = &mut self.rng;
        let to = [ComplaintStage::Stage2, ComplaintStage::Ombudsman][rng.random_range(0..2)];
        let due_at = rng
            .random_bool(0.3)
            .then(|| c.now + Duration::from_secs(rng.random_range(3_600..90_000)));
        attempt(
            c,
            Command::ChangeComplaintStage {
                contact: contact.into(),
                agent: holder,
                to,
                reason: "escalated by the customer".into(),
                received_at: None,
                due_at,
            },
        );
    }

    /// A customer is designated a persistent complainant, or the designation is lifted.
    fn designate_a_customer(&mut self, c: &mut Centre) {
        // Draws a contact as the other two kinds of step do, which this one does not need, so
        // that a seed gives the same workload as it always has (and its regressions replay).
        let _unused = self.some_contact();
        let rng = &mut self.rng;
        let number = rng.random_range(0..10);
        let designated = rng.random_bool(0.7);
        attempt(
            c,
            Command::MarkPersistentComplainant {
                customer: format!("cust{number}").into(),
                designated,
                reason: "policy decision".into(),
            },
        );
        // Now and then a lifted customer is erased too (no draw of its own, so that a seed's
        // draws stay as they were): at once, or when their contacts in progress end.
        if !designated && number < 4 {
            attempt(
                c,
                Command::ErasePersonalData {
                    customer: Some(format!("cust{number}").into()),
                    subject: format!("5eed{number}").into(),
                    reason: switchboard_core::ErasureReason::Request,
                },
            );
        }
    }

    /// Time passes: mostly seconds, now and then most of an hour.
    fn let_time_pass(&mut self, c: &mut Centre) {
        let rng = &mut self.rng;
        let secs = if rng.random_bool(0.1) {
            rng.random_range(60..3_000)
        } else {
            rng.random_range(0..20)
        };
        c.advance(secs);
    }
}
