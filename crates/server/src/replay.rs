//! `switchboard replay`: rebuild the routing state from the whole log, with a progress bar, and
//! print what it holds and how fast it was rebuilt.

use std::process::ExitCode;

use anyhow::{Context, Result};
use indicatif::HumanCount;
use serde_json::json;
use switchboard_core::state::ContactStatus;
use switchboard_core::{Presence, State};
use switchboard_engine::ReplayReport;

use crate::logsource::{LogSource, Source};
use crate::progress;

/// `switchboard replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    source: LogSource,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Rebuilds the state from the whole log `source` names (which must hold one), with a progress
/// bar unless `quiet`.
pub(crate) fn replay_log(source: &LogSource, quiet: bool) -> Result<(State, ReplayReport)> {
    let source = source.open()?;
    let bar = progress::bar(quiet, "events");
    bar.set_message("replaying");
    let mut progress = |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let replayed = match &source {
        Source::Dir(dir) => switchboard_engine::replay(dir, &mut progress)
            .with_context(|| format!("could not replay {}", dir.display()))?,
        Source::Stream(stream) => {
            switchboard_engine::replay_records(stream.records()?, stream.last_seq, &mut progress)
                .with_context(|| format!("could not replay stream {}", stream.config.stream))?
        }
    };
    bar.finish_and_clear();
    Ok(replayed)
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let (state, report) = replay_log(&args.source, args.json)?;

    let logged_in = state
        .agents()
        .filter(|a| a.presence != Presence::LoggedOut)
        .count();
    let ready = state
        .agents()
        .filter(|a| a.presence == Presence::Ready)
        .count();
    let count = |f: fn(&ContactStatus) -> bool| state.contacts().filter(|c| f(&c.status)).count();
    let queued = count(|s| matches!(s, ContactStatus::Queued));
    let offered = count(|s| matches!(s, ContactStatus::Offered { .. }));
    let assigned = count(|s| matches!(s, ContactStatus::Assigned { .. }));
    let rate = report.events_per_second();
    if args.json {
        let queues: Vec<_> = state
            .counters()
            .iter()
            .map(|((service, channel), c)| {
                json!({
                    "service": service.as_str(), "channel": channel.as_str(), "created": c.created,
                    "answered": c.answered, "answered_within_service_level": c.answered_within_service_level,
                    "abandoned": c.abandoned, "completed": c.completed,
                    "resolved_first_contact": c.resolved_first_contact, "due_breached": c.due_breached,
                })
            })
            .collect();
        let value = json!({
            "events": report.events,
            "head_hash": report.head_hash.0.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "elapsed_seconds": report.elapsed.as_secs_f64(),
            "events_per_second": rate,
            "agents": { "known": state.agents().len(), "logged_in": logged_in, "ready": ready },
            "contacts": { "queued": queued, "offered": offered, "assigned": assigned },
            "queues": queues,
        });
        say!("{value}");
    } else {
        say!(
            "Replayed {} events in {:.2} s ({} events/s); the latest is at {}.",
            HumanCount(report.events),
            report.elapsed.as_secs_f64(),
            HumanCount(whole(rate)),
            state.clock()
        );
        say!(
            "Agents: {} known, {} logged in, {} ready.",
            HumanCount(state.agents().len() as u64),
            HumanCount(logged_in as u64),
            HumanCount(ready as u64)
        );
        say!(
            "Open contacts: {} queued, {} offered, {} being handled.",
            HumanCount(queued as u64),
            HumanCount(offered as u64),
            HumanCount(assigned as u64)
        );
        if !state.counters().is_empty() {
            say!("Since the log began, per queue (within SL: answered within the service level):");
            say!(
                "  {:<24} {:<13} {:>11} {:>11} {:>11} {:>11} {:>11}",
                "service",
                "channel",
                "arrived",
                "answered",
                "within SL",
                "abandoned",
                "completed"
            );
        }
        for ((service, channel), c) in state.counters() {
            let n = |count: u64| HumanCount(count).to_string();
            say!(
                "  {:<24} {:<13} {:>11} {:>11} {:>11} {:>11} {:>11}",
                service.as_str(),
                channel.as_str(),
                n(c.created),
                n(c.answered),
                n(c.answered_within_service_level),
                n(c.abandoned),
                n(c.completed)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A rate to show as a whole number.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "events per second: positive, finite and far below u64::MAX; rounding is the point"
)]
fn whole(rate: f64) -> u64 {
    rate.round() as u64
}
