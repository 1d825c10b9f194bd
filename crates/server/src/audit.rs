//! `switchboard audit`: check the hash chain of the event log, and read the history of a contact
//! or a customer from it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;
use switchboard_core::event::OfferMade;
use switchboard_core::{Event, EventKind, NewContact, RevokeReason, Rule};
use switchboard_engine::{HistoryFilter, history, history_of_records};
use switchboard_jetlog::JetStreamError;
use switchboard_log::{LogError, LogReader};

use crate::logsource::{LogSource, Source, StreamSource};
use crate::progress;

mod open;

pub(crate) use open::{OpenArgs, open};

/// `switchboard audit verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    source: LogSource,
    /// Print the result as JSON (for scripts) instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// `switchboard audit show`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("whose").required(true).args(["contact", "customer"])))]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    source: LogSource,
    /// The contact whose history to show.
    #[arg(long)]
    contact: Option<String>,
    /// The customer whose contacts' history to show.
    #[arg(long)]
    customer: Option<String>,
    /// Print the events as a JSON array (the same objects as published on NATS).
    #[arg(long)]
    json: bool,
}

/// Checks every record's checksum, the dense sequence and the whole hash chain. Exit status 0
/// when the chain is whole; 1 with the first bad record's position when it is not.
pub(crate) fn verify(args: &VerifyArgs) -> Result<ExitCode> {
    match args.source.open()? {
        Source::Dir(dir) => verify_dir(&dir, args.json),
        Source::Stream(stream) => verify_stream(&stream, args.json),
    }
}

/// [`verify`] of a file log.
fn verify_dir(dir: &Path, json: bool) -> Result<ExitCode> {
    let bar = progress::bar(json, "bytes");
    bar.set_message("verifying");
    let result = switchboard_log::verify(dir, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            let head = hex(&report.head_hash.0);
            if json {
                let value = json!({
                    "ok": true,
                    "records": report.records,
                    "segments": report.segment_count,
                    "bytes": report.bytes,
                    "last_seq": report.last_seq,
                    "head_hash": head,
                    "torn_tail": report.torn_tail.as_ref().map(|t| json!({
                        "segment": t.segment.display().to_string(), "offset": t.offset, "bytes": t.bytes,
                    })),
                });
                say!("{value}");
            } else {
                say!(
                    "The audit trail is whole: {} records in {} segment(s), {} bytes; last seq {}, head hash {head}.",
                    report.records,
                    report.segment_count,
                    report.bytes,
                    report.last_seq
                );
                if let Some(torn) = &report.torn_tail {
                    say!(
                        "Its last record is torn (an interrupted write at {} byte {}); the engine cuts it on start-up.",
                        torn.segment.display(),
                        torn.offset
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(LogError::Corrupt(corruption)) => {
            if json {
                let value = json!({
                    "ok": false,
                    "segment": corruption.segment.display().to_string(),
                    "offset": corruption.offset,
                    "seq": corruption.seq,
                    "problem": corruption.problem.to_string(),
                });
                say!("{value}");
            } else {
                let seq = corruption
                    .seq
                    .map_or_else(String::new, |s| format!(" (record seq {s})"));
                say!(
                    "The audit trail is BROKEN at {} byte {}{seq}: {}.",
                    corruption.segment.display(),
                    corruption.offset,
                    corruption.problem
                );
            }
            Ok(ExitCode::from(1))
        }
        Err(other) => Err(other).with_context(|| format!("could not verify {}", dir.display())),
    }
}

/// [`verify`] of a domain's JetStream log: the same checks, record by record; damage names the
/// stream and the record's seq.
fn verify_stream(stream: &StreamSource, json: bool) -> Result<ExitCode> {
    let name = &stream.config.stream;
    match stream.verify() {
        Ok(report) => {
            let head = hex(&report.head_hash.0);
            if json {
                let value = json!({
                    "ok": true, "stream": name, "records": report.records,
                    "last_seq": report.last_seq, "head_hash": head,
                });
                say!("{value}");
            } else {
                say!(
                    "The audit trail is whole: {} records in JetStream stream {name}; last seq {}, head hash {head}.",
                    report.records,
                    report.last_seq
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(LogError::Backend { source, .. })
            if matches!(
                source.downcast_ref::<JetStreamError>(),
                Some(JetStreamError::Damaged { .. })
            ) =>
        {
            let Some(JetStreamError::Damaged { seq, problem, .. }) =
                source.downcast_ref::<JetStreamError>()
            else {
                unreachable!("matched above")
            };
            if json {
                let value = json!({ "ok": false, "stream": name, "seq": seq, "problem": problem });
                say!("{value}");
            } else {
                say!(
                    "The audit trail is BROKEN in JetStream stream {name} at record seq {seq}: {problem}."
                );
            }
            Ok(ExitCode::from(1))
        }
        Err(other) => {
            Err(other).with_context(|| format!("could not verify stream {name} on {}", stream.url))
        }
    }
}

/// Prints the history of one contact, or of every contact of a customer.
pub(crate) fn show(args: &ShowArgs) -> Result<ExitCode> {
    let filter = match (&args.contact, &args.customer) {
        (Some(contact), _) => HistoryFilter::Contact(contact.clone()),
        (None, Some(customer)) => HistoryFilter::Customer(customer.clone()),
        (None, None) => anyhow::bail!("name a --contact or a --customer"),
    };
    let (events, keys) = match args.source.open()? {
        Source::Dir(dir) => {
            // The keystore opens what the log holds sealed; a customer is looked for by the
            // token their reference seals to under their key.
            let keys = crate::privacy::data_dir_keys(&dir);
            let filter = customer_filter(&filter, keys.as_ref());
            let events = history(&dir, &filter)
                .with_context(|| format!("could not read {}", dir.display()))?;
            (events, keys)
        }
        Source::Stream(stream) => {
            // Cluster mode: the domain's keystore bucket, read only.
            let keys = stream.keys()?;
            let filter = customer_filter(&filter, keys.as_ref());
            let events = history_of_records(stream.records()?, &filter, u64::MAX)
                .with_context(|| format!("could not read stream {}", stream.config.stream))?;
            (events, keys)
        }
    };
    let events: Vec<(u64, Event)> = match &keys {
        Some(keys) => events
            .into_iter()
            .map(|(seq, event)| (seq, switchboard_privacy::open_event(keys, &event)))
            .collect(),
        None => events,
    };
    if args.json {
        let values = events
            .iter()
            .map(|(seq, event)| {
                switchboard_wire::event_json(*seq, event).map(|j| serde_json::to_value(&j))
            })
            .collect::<Result<Result<Vec<_>, _>, _>>()
            .context("an event could not be written as JSON")??;
        say!("{}", serde_json::Value::Array(values));
        return Ok(ExitCode::SUCCESS);
    }
    let whose = match &filter {
        HistoryFilter::Contact(id) => format!("contact {id}"),
        HistoryFilter::Customer(id) => format!("customer {id}"),
    };
    if events.is_empty() {
        say!("The log has nothing about {whose}.");
        return Ok(ExitCode::from(1));
    }
    if keys.is_none()
        && events
            .iter()
            .any(|(_, event)| switchboard_privacy::has_personal_fields(event))
    {
        say!(
            "Personal fields are shown sealed (`sealed:...`): no keystore was found to open \
             them. A file log's keystore is `keys` in its data directory; cluster mode's is the \
             domain's JetStream KV bucket SB_KEYS_<PREFIX>, with its domain secret \
             (docs/privacy.md)."
        );
    }
    say!("History of {whose} ({} events):", events.len());
    for (seq, event) in &events {
        say!("{}  #{seq:<6} {}", event.at, describe(event));
    }
    Ok(ExitCode::SUCCESS)
}

/// A customer is looked for by the token their reference seals to under their key, when the
/// keystore holds one.
fn customer_filter(
    filter: &HistoryFilter,
    keys: Option<&switchboard_privacy::Keys>,
) -> HistoryFilter {
    match (filter, keys) {
        (HistoryFilter::Customer(reference), Some(keys)) => {
            switchboard_privacy::find_customer_token(keys, reference)
                .map_or_else(|| filter.clone(), HistoryFilter::Customer)
        }
        _ => filter.clone(),
    }
}

/// One event as a sentence: what happened, who, and why.
fn describe(event: &Event) -> String {
    match &event.kind {
        EventKind::ContactCreated(c) => contact_arrived(&c.details),
        EventKind::OfferMade(o) => offer_made(o),
        EventKind::OfferAccepted {
            agent,
            offer,
            automatic,
            waited,
            within_service_level,
            ..
        } => format!(
            "{} by {agent} (offer {offer}) after {:.0} s{}",
            if *automatic {
                "assigned automatically"
            } else {
                "accepted"
            },
            waited.as_secs_f64(),
            if *within_service_level {
                ", within service level"
            } else {
                ", outside service level"
            }
        ),
        EventKind::OfferRejected {
            agent,
            offer,
            reason,
            ..
        } => format!(
            "rejected by {agent} (offer {offer}){}; back in the queue, place kept",
            reason
                .as_ref()
                .map_or_else(String::new, |r| format!(": {r}"))
        ),
        EventKind::OfferExpired { agent, offer, .. } => {
            format!("offer {offer} to {agent} expired unanswered; back in the queue, place kept")
        }
        EventKind::OfferRevoked {
            agent,
            offer,
            reason,
            ..
        } => format!(
            "offer {offer} to {agent} withdrawn: {}",
            match reason {
                RevokeReason::ContactAbandoned => "the customer left",
                RevokeReason::AgentNotReady => "the agent went not ready",
                RevokeReason::AgentLoggedOut => "the agent logged out",
            }
        ),
        EventKind::ContactAbandoned { waited, .. } => format!(
            "the customer left after waiting {:.0} s",
            waited.as_secs_f64()
        ),
        EventKind::ContactCompleted {
            agent,
            outcome,
            first_contact_resolution,
            ..
        } => format!(
            "completed by {agent}: {}{}",
            outcome.as_str(),
            if *first_contact_resolution {
                " at first contact"
            } else {
                ""
            }
        ),
        EventKind::ContactEscalated {
            agent,
            to_tier,
            reason,
            ..
        } => format!("escalated by {agent} to {to_tier}: {reason}"),
        EventKind::ContactTransferred { agent, service, .. } => {
            format!("transferred by {agent} to {service}")
        }
        EventKind::ContactRequeued { agent, reason, .. } => {
            format!("back in the queue from {agent}: {reason}")
        }
        EventKind::ContactStepAdvanced { placement, .. } => {
            format!("routing plan relaxed to step {}", placement.step)
        }
        EventKind::ServiceLevelThresholdPassed { threshold, .. } => {
            format!(
                "still unanswered at its {} s service-level threshold",
                threshold.as_secs()
            )
        }
        EventKind::DueTimeAtRisk { due_at, .. } => {
            format!("at risk of missing its due time {due_at}")
        }
        EventKind::DueTimeBreached { due_at, .. } => format!("BREACHED its due time {due_at}"),
        EventKind::ContactUnservable(unservable) => format!(
            "NOBODY logged in can serve it, at plan step {} or later ({} logged in): {}",
            unservable.step, unservable.logged_in, unservable.shortfall
        ),
        other => other.to_string(),
    }
}

/// A contact's arrival: channel, priority, service, what it needs and what marks it out.
fn contact_arrived(d: &NewContact) -> String {
    let mut needs: Vec<String> = d
        .skills
        .iter()
        .map(|r| format!("{} at level {}", r.skill, r.min_level.get()))
        .collect();
    if let Some(language) = &d.language {
        needs.push(format!("{language} speaker"));
    }
    let mut flags = Vec::new();
    if d.safeguarding {
        flags.push("SAFEGUARDING concern".to_owned());
    }
    if d.vulnerable {
        flags.push("vulnerable customer".to_owned());
    }
    if let Some(customer) = &d.customer {
        flags.push(format!("customer {customer}"));
    }
    if let Some(agent) = &d.preferred_agent {
        flags.push(format!("preferred agent {agent}"));
    }
    if let Some(site) = &d.site {
        flags.push(format!("site {site}"));
    }
    if let Some(due) = d.due_at {
        flags.push(format!("due {due}"));
    }
    format!(
        "{} {} contact {} arrived for {}; needs {}{}",
        d.channel,
        if d.priority.get() > 0 {
            format!("priority {}", d.priority.get())
        } else {
            "routine".to_owned()
        },
        d.id,
        d.service,
        needs.join(", "),
        if flags.is_empty() {
            String::new()
        } else {
            format!(" ({})", flags.join(", "))
        }
    )
}

/// An offer: to whom, until when, at which plan step, and why that agent.
fn offer_made(o: &OfferMade) -> String {
    let d = &o.decision;
    let why = match d.rule {
        Rule::PreferredAgent => "the customer's preferred agent was free".to_owned(),
        Rule::Strategy(s) => format!(
            "{} among {} free agents (examined {}, score {})",
            s.as_str(),
            d.pool,
            d.examined,
            d.score
        ),
        Rule::QueueOrder => format!(
            "{} became free and this was first in queue order of {} waiting",
            o.agent, d.pool
        ),
    };
    format!(
        "offered to {} (offer {}, expires {}); plan {} step {} '{}': {why}",
        o.agent, o.offer, o.expires_at, d.plan, d.step, d.step_name
    )
}

/// Fails, with a message saying where to look instead, unless `dir` holds an event log with at
/// least one record: an empty or mistaken directory must not pass for a whole, empty audit trail.
pub(crate) fn require_log(dir: &Path) -> Result<()> {
    // A log that cannot even be read is not "no log": the command reports what is wrong with it.
    let records = |dir: &Path| LogReader::open(dir).and_then(|log| log.last_seq());
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    if !matches!(records(dir), Ok(0)) {
        return Ok(());
    }
    let inner = dir.join("engine");
    let hint = if inner.is_dir() && records(&inner).is_ok_and(|n| n > 0) {
        format!("; there is one in {}", inner.display())
    } else {
        String::new()
    };
    anyhow::bail!(
        "no event log in {} (no records in it){hint}; --data-dir names the engine's data \
         directory (`switchboard demo` keeps its log in its --data-dir's engine/)",
        dir.display()
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
