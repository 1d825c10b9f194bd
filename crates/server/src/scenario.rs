//! `switchboard scenario`: a scripted morning at a council contact centre, played through the
//! real routing core with simulated agent desktops, printed as it happens.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use switchboard_core::{
    AgentLogin, Channel, Command, ContactId, Event, EventKind, Level, NewContact, Outcome,
    PerChannel, Priority, RoutingConfig, SkillRequirement, State, Tier, Timestamp,
};
use switchboard_engine::{Engine, EngineOptions};

/// Options of `switchboard scenario`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print only the queue figures at the end, not every event.
    #[arg(long)]
    quiet: bool,
    /// Write the event log here (created if missing; it must not hold another log), for
    /// `switchboard audit` and `switchboard replay`. Without it, a temporary directory is used.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// 08:30 on Monday 23 November 2026 (UTC, which is also UK time in November).
const OPENING_MS: u64 = 1_795_422_600_000;

fn at(minutes: u64, seconds: u64) -> Timestamp {
    Timestamp::from_millis(OPENING_MS + (minutes * 60 + seconds) * 1000)
}

fn clock(t: Timestamp) -> String {
    let secs = (t.as_millis().saturating_sub(OPENING_MS)) / 1000 + 8 * 3600 + 30 * 60;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

fn agent(
    id: &str,
    name: &str,
    tier: u8,
    site: &str,
    skills: &[(&str, u8)],
    channels: &[(Channel, u8)],
) -> Command {
    let mut capacity = PerChannel::splat(0);
    for &(channel, n) in channels {
        capacity.set(channel, n);
    }
    Command::LoginAgent(Box::new(AgentLogin {
        agent: id.into(),
        name: name.into(),
        tier: Tier::new(tier).unwrap_or(Tier::FIRST),
        site: site.into(),
        skills: skills
            .iter()
            .map(|&(s, l)| (s.into(), Level::new(l).unwrap_or(Level::MIN)))
            .collect(),
        channels: Some(capacity),
    }))
}

/// One member of staff on the morning's rota.
struct Shift {
    id: &'static str,
    name: &'static str,
    tier: u8,
    site: &'static str,
    skills: &'static [(&'static str, u8)],
    channels: &'static [(Channel, u8)],
}

/// The phones, and three emails at a time.
const PHONE_AND_EMAIL: &[(Channel, u8)] = &[(Channel::Phone, 1), (Channel::Email, 3)];

/// Who works the morning: seven in the contact centre, one at each one-stop shop.
const ROTA: [Shift; 9] = [
    Shift {
        id: "amira",
        name: "Amira Khan",
        tier: 1,
        site: "contact_centre",
        skills: &[("council_tax", 3), ("benefits", 2)],
        channels: PHONE_AND_EMAIL,
    },
    Shift {
        id: "ben",
        name: "Ben Hughes",
        tier: 1,
        site: "contact_centre",
        skills: &[("council_tax", 2), ("environmental_services", 3)],
        channels: PHONE_AND_EMAIL,
    },
    Shift {
        id: "chloe",
        name: "Chloe Evans",
        tier: 2,
        site: "contact_centre",
        skills: &[("benefits", 4), ("council_tax", 3), ("polish", 5)],
        channels: PHONE_AND_EMAIL,
    },
    Shift {
        id: "dev",
        name: "Dev Patel",
        tier: 1,
        site: "contact_centre",
        skills: &[("environmental_services", 2), ("housing", 2)],
        channels: &[(Channel::Phone, 1), (Channel::Chat, 3)],
    },
    Shift {
        id: "erin",
        name: "Erin Walsh",
        tier: 3,
        site: "contact_centre",
        skills: &[("council_tax", 5), ("benefits", 5), ("safeguarding", 3)],
        channels: PHONE_AND_EMAIL,
    },
    Shift {
        id: "femi",
        name: "Femi Adeyemi",
        tier: 4,
        site: "contact_centre",
        skills: &[("council_tax", 5), ("housing", 4), ("safeguarding", 4)],
        channels: PHONE_AND_EMAIL,
    },
    Shift {
        id: "gosia",
        name: "Gosia Nowak",
        tier: 1,
        site: "riverside",
        skills: &[("council_tax", 3), ("benefits", 3), ("polish", 5)],
        channels: &[(Channel::FaceToFace, 1)],
    },
    Shift {
        id: "harry",
        name: "Harry Moss",
        tier: 1,
        site: "town_hall",
        skills: &[("council_tax", 2), ("housing", 3)],
        channels: &[(Channel::FaceToFace, 1)],
    },
    Shift {
        id: "isla",
        name: "Isla Reid",
        tier: 2,
        site: "contact_centre",
        skills: &[("council_tax", 3), ("benefits", 3)],
        channels: &[(Channel::Email, 5)],
    },
];

/// The morning's script: who logs in, and which contacts arrive when.
fn script() -> Vec<(Timestamp, Command)> {
    let mut s: Vec<(Timestamp, Command)> = ROTA
        .iter()
        .map(|shift| {
            let login = agent(
                shift.id,
                shift.name,
                shift.tier,
                shift.site,
                shift.skills,
                shift.channels,
            );
            (at(0, 0), login)
        })
        .collect();
    for shift in &ROTA {
        s.push((
            at(0, 5),
            Command::MakeReady {
                agent: shift.id.into(),
            },
        ));
    }
    let arrivals = calls().into_iter().chain(walk_ins_chats_and_emails());
    s.extend(arrivals.map(|(t, c)| (t, Command::CreateContact(Box::new(c)))));
    s.push((
        at(5, 35),
        Command::AbandonContact {
            contact: "call-009".into(),
        },
    ));
    s
}

/// A routine contact.
fn contact(id: &str, channel: Channel, service: &str) -> NewContact {
    NewContact::routine(id, channel, service)
}

/// The morning's phone calls, when each arrives.
fn calls() -> Vec<(Timestamp, NewContact)> {
    use Channel::Phone;
    vec![
        (at(1, 0), contact("call-001", Phone, "council_tax")),
        (
            at(1, 10),
            contact("call-002", Phone, "environmental_services"),
        ),
        (at(1, 20), contact("call-003", Phone, "benefits")),
        (
            at(1, 25),
            NewContact {
                language: Some("polish".into()),
                ..contact("call-004", Phone, "benefits")
            },
        ),
        (at(1, 30), contact("call-005", Phone, "council_tax")),
        (at(1, 40), contact("call-006", Phone, "council_tax")),
        (
            at(5, 0),
            NewContact {
                safeguarding: true,
                priority: Priority::new(5).unwrap_or_default(),
                ..contact("call-007", Phone, "housing")
            },
        ),
        (
            at(5, 10),
            NewContact {
                vulnerable: true,
                ..contact("call-008", Phone, "council_tax")
            },
        ),
        (at(5, 20), contact("call-009", Phone, "council_tax")),
        (
            at(6, 0),
            NewContact {
                skills: vec![SkillRequirement {
                    skill: "council_tax".into(),
                    min_level: Level::new(4).unwrap_or(Level::MAX),
                }],
                ..contact("call-010", Phone, "council_tax")
            },
        ),
        (
            at(7, 0),
            NewContact {
                customer: Some("cust-1042".into()),
                ..contact("call-011", Phone, "benefits")
            },
        ),
        (
            at(8, 0),
            contact("call-012", Phone, "environmental_services"),
        ),
        (
            at(20, 0),
            NewContact {
                customer: Some("cust-1042".into()),
                ..contact("call-013", Phone, "benefits")
            },
        ),
    ]
}

/// The morning's walk-ins, chats and emails, when each arrives.
fn walk_ins_chats_and_emails() -> Vec<(Timestamp, NewContact)> {
    use Channel::{Chat, Email, FaceToFace};
    vec![
        (
            at(2, 0),
            NewContact {
                site: Some("riverside".into()),
                ..contact("walkin-001", FaceToFace, "benefits")
            },
        ),
        (
            at(2, 30),
            NewContact {
                site: Some("town_hall".into()),
                ..contact("walkin-002", FaceToFace, "housing")
            },
        ),
        (
            at(3, 0),
            contact("chat-001", Chat, "environmental_services"),
        ),
        (at(3, 5), contact("chat-002", Chat, "housing")),
        (at(4, 0), contact("email-001", Email, "council_tax")),
        (at(4, 0), contact("email-002", Email, "benefits")),
    ]
}

/// How long each contact takes, and what happens at the end of it. A contact is escalated or
/// transferred at most once; whoever takes it next resolves it.
fn handling(contact: &str, passed_on: bool) -> (Duration, Ending) {
    match contact {
        _ if passed_on => (
            Duration::from_secs(300),
            Ending::Complete(Outcome::Resolved),
        ),
        "call-003" => (Duration::from_secs(150), Ending::Escalate),
        "call-012" => (Duration::from_secs(60), Ending::Transfer("housing")),
        "call-005" => (
            Duration::from_secs(200),
            Ending::Complete(Outcome::Referred),
        ),
        id if id.starts_with("email") => (
            Duration::from_secs(900),
            Ending::Complete(Outcome::Resolved),
        ),
        id if id.starts_with("walkin") => (
            Duration::from_secs(420),
            Ending::Complete(Outcome::Resolved),
        ),
        _ => (
            Duration::from_secs(240),
            Ending::Complete(Outcome::Resolved),
        ),
    }
}

enum Ending {
    Complete(Outcome),
    Escalate,
    Transfer(&'static str),
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let temporary;
    let dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::tempdir().context("could not make a temporary data directory")?;
            temporary.path().to_path_buf()
        }
    };
    let mut engine = open_empty(&dir)?;
    let mut agenda = Agenda::default();
    for (t, command) in script() {
        agenda.add(t, command);
    }
    let mut passed_on_already = BTreeSet::new();
    let mut out = std::io::stdout().lock();
    let end = at(60, 0);
    let mut now = at(0, 0);
    loop {
        let next_command = agenda.next_at();
        let next_timer = engine.poll_timeout();
        let Some(next) = [next_command, next_timer].into_iter().flatten().min() else {
            break;
        };
        if next > end {
            break;
        }
        now = now.max(next);
        if next_command == Some(next) {
            let command = agenda.take_next().context("agenda entry vanished")?;
            if let Err(rejection) = engine.decide(command, now) {
                writeln!(out, "{} refused: {rejection}", clock(now))?;
            }
        } else {
            engine.tick(now);
        }
        let committed = engine.commit().context("could not write the event log")?;
        for event in committed.map(|c| c.events).unwrap_or_default() {
            if !args.quiet {
                writeln!(out, "{} {}", clock(event.at), event.kind)?;
            }
            if let Some((at, command)) = desktop_answer(&event, &mut passed_on_already) {
                agenda.add(at, command);
            }
        }
    }
    write_queue_figures(&mut out, engine.state(), now)?;
    if let Some(dir) = &args.data_dir {
        writeln!(
            out,
            "The event log is in {0}: try `switchboard audit verify --data-dir {0}`.",
            dir.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the engine on `dir`, which must hold no event log yet.
fn open_empty(dir: &Path) -> Result<Engine> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let (engine, recovered) = Engine::open(
        dir,
        RoutingConfig::default(),
        EngineOptions::default(),
        &mut |_, _| {},
    )
    .with_context(|| format!("could not open the event log in {}", dir.display()))?;
    if recovered.last_seq > 0 {
        anyhow::bail!(
            "{} already holds an event log ({} events); the scenario needs an empty directory",
            dir.display(),
            recovered.last_seq
        );
    }
    Ok(engine)
}

/// The commands still to come, in time order; commands due at the same instant keep the order
/// they were added in.
#[derive(Default)]
struct Agenda {
    commands: BTreeMap<(Timestamp, u64), Command>,
    /// How many commands were added: the tie-break of the next one.
    added: u64,
}

impl Agenda {
    fn add(&mut self, at: Timestamp, command: Command) {
        self.commands.insert((at, self.added), command);
        self.added += 1;
    }

    /// When the next command is due, if any is.
    fn next_at(&self) -> Option<Timestamp> {
        self.commands.keys().next().map(|&(t, _)| t)
    }

    fn take_next(&mut self) -> Option<Command> {
        self.commands.pop_first().map(|(_, command)| command)
    }
}

/// What the simulated desktops do about `event`: answer an offer after a few seconds (all but
/// some of Ben's, which he lets expire), and end an accepted contact when its handling time is
/// up (see [`handling`]).
fn desktop_answer(
    event: &Event,
    passed_on_already: &mut BTreeSet<ContactId>,
) -> Option<(Timestamp, Command)> {
    match &event.kind {
        EventKind::OfferMade(offer)
            if offer.agent.as_str() != "ben" || offer.offer.get() % 4 != 0 =>
        {
            let accept = Command::AcceptOffer {
                agent: offer.agent.clone(),
                offer: offer.offer,
            };
            Some((event.at + Duration::from_secs(4), accept))
        }
        EventKind::OfferAccepted { contact, agent, .. } => {
            let passed_on = !passed_on_already.insert(contact.clone());
            let (took, ending) = handling(contact.as_str(), passed_on);
            let (agent, contact) = (agent.clone(), contact.clone());
            let command = match ending {
                Ending::Complete(outcome) => Command::CompleteContact {
                    agent,
                    contact,
                    outcome,
                },
                Ending::Escalate => Command::EscalateContact {
                    agent,
                    contact,
                    reason: "appeal against a decision".into(),
                    to_tier: None,
                },
                Ending::Transfer(service) => Command::TransferContact {
                    agent,
                    contact,
                    service: service.into(),
                    skills: vec![],
                },
            };
            Some((event.at + took, command))
        }
        _ => None,
    }
}

/// The figures per queue at `now`, then how many events and open contacts there are.
fn write_queue_figures(out: &mut impl Write, state: &State, now: Timestamp) -> Result<()> {
    writeln!(out, "\nQueue figures at {}:", clock(now))?;
    writeln!(
        out,
        "{:<24} {:<13} {:>7} {:>8} {:>9} {:>9} {:>8} {:>6}",
        "service", "channel", "offered", "answered", "abandoned", "completed", "SL", "FCR"
    )?;
    for ((service, channel), c) in state.counters() {
        let sl = if c.answered + c.abandoned == 0 {
            "-".to_owned()
        } else {
            format!(
                "{:.0}%",
                100.0 * c.answered_within_service_level as f64 / (c.answered + c.abandoned) as f64
            )
        };
        let fcr = if c.completed == 0 {
            "-".to_owned()
        } else {
            format!(
                "{:.0}%",
                100.0 * c.resolved_first_contact as f64 / c.completed as f64
            )
        };
        writeln!(
            out,
            "{:<24} {:<13} {:>7} {:>8} {:>9} {:>9} {:>8} {:>6}",
            service.as_str(),
            channel.as_str(),
            c.created,
            c.answered,
            c.abandoned,
            c.completed,
            sl,
            fcr
        )?;
    }
    let waiting = state.contacts().count();
    writeln!(
        out,
        "\n{} events, {waiting} contacts still open.",
        state.events_applied()
    )?;
    Ok(())
}
