//! `switchboard calendar`: working-day arithmetic for operators checking a date by hand: when a
//! channel next opens, what N working days after a time is, and a complaint's due times.
//!
//! The calendar is the `[calendar]` section of the configuration file (and the complaint rules its
//! `[complaints]` section), or the council default
//! (Europe/London; Monday–Thursday 08:30–17:00, Friday 08:30–16:30; England and Wales bank
//! holidays). Times are RFC 3339 (`2026-12-24T16:59:00Z`) or a local time in the calendar's zone
//! (`2026-12-24T16:59`). The rules are written down in the `switchboard-calendar` crate docs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use jiff::Timestamp;
use serde_json::json;
use switchboard_calendar::{BusinessCalendar, ComplaintRules, ComplaintStage};

/// `switchboard calendar`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A configuration file whose `[calendar]` section to use (default: the council calendar).
    #[arg(long, env = "SWITCHBOARD_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Print JSON instead of sentences.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CalendarCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CalendarCommand {
    /// When the calendar next opens, from now or from --at.
    NextOpen {
        /// From this time instead of now.
        #[arg(long)]
        at: Option<String>,
    },
    /// The due time N working days after FROM: close of business on the N-th working day after
    /// the day of receipt (a time outside opening hours counts from the next opening).
    AddWorkingDays {
        /// When the work was received.
        from: String,
        /// How many working days.
        days: u32,
    },
    /// A complaint's acknowledgement and response due times under the 2024 Complaint Handling
    /// Code (5 working days to acknowledge; 10 or 20 to respond from the acknowledgement).
    Due {
        /// The complaint stage: 1 or 2.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
        stage: u8,
        /// When the complaint (or the request to escalate it) was received.
        #[arg(long)]
        received: String,
        /// When it was acknowledged, if it has been (the response clock starts there).
        #[arg(long)]
        acknowledged: Option<String>,
    },
}

fn parse_time(calendar: &BusinessCalendar, text: &str) -> Result<Timestamp> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let civil: jiff::civil::DateTime = text.parse().with_context(|| {
        format!("`{text}` is neither an RFC 3339 time nor a local date-time like 2026-12-24T16:59")
    })?;
    let zoned = civil
        .to_zoned_datetime(calendar.time_zone().clone())
        .with_context(|| {
            format!(
                "`{text}` is not a time in {}",
                calendar
                    .time_zone()
                    .iana_name()
                    .unwrap_or("the calendar's zone")
            )
        })?;
    Ok(zoned.timestamp())
}

fn local(calendar: &BusinessCalendar, at: Timestamp) -> String {
    at.to_zoned_datetime(calendar.time_zone().clone())
        .strftime("%a %-d %b %Y %H:%M %Z")
        .to_string()
}

fn both(calendar: &BusinessCalendar, at: Timestamp) -> serde_json::Value {
    json!({"at": at.to_string(), "local": local(calendar, at)})
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    // The configuration's business calendar and complaint rules, as the engine would use them.
    let (calendar, rules) = match &args.config {
        Some(path) => {
            let (_, routing) = crate::config::load(path)?;
            (
                (*routing.business_calendar).clone(),
                routing.complaints.rules,
            )
        }
        None => (
            BusinessCalendar::council_default(),
            ComplaintRules::COMPLAINT_HANDLING_CODE_2024,
        ),
    };
    match &args.command {
        CalendarCommand::NextOpen { at } => next_open(&calendar, at.as_deref(), args.json)?,
        CalendarCommand::AddWorkingDays { from, days } => {
            add_working_days(&calendar, from, *days, args.json)?;
        }
        CalendarCommand::Due {
            stage,
            received,
            acknowledged,
        } => complaint_due(
            &calendar,
            rules,
            *stage,
            received,
            acknowledged.as_deref(),
            args.json,
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `calendar next-open`: whether the calendar is open at `at` (default now), and when it opens
/// next.
fn next_open(calendar: &BusinessCalendar, at: Option<&str>, json: bool) -> Result<()> {
    let from = match at {
        Some(text) => parse_time(calendar, text)?,
        None => Timestamp::now(),
    };
    let open = calendar.is_open(from);
    let next = calendar.next_open(from);
    if json {
        say!(
            "{}",
            json!({"from": both(calendar, from), "open_now": open, "next_open": next.map(|t| both(calendar, t))})
        );
    } else if open {
        say!("Open now ({}).", local(calendar, from));
    } else {
        match next {
            Some(next) => say!(
                "Closed at {}; opens {}.",
                local(calendar, from),
                local(calendar, next)
            ),
            None => say!(
                "Closed at {}, and not open in the next year.",
                local(calendar, from)
            ),
        }
    }
    Ok(())
}

/// `calendar add-working-days`: the instant `days` working days after `from`.
fn add_working_days(calendar: &BusinessCalendar, from: &str, days: u32, json: bool) -> Result<()> {
    let from = parse_time(calendar, from)?;
    let due = calendar
        .add_working_days(from, days)
        .context("no such working day within the calendar's range")?;
    if json {
        say!(
            "{}",
            json!({"from": both(calendar, from), "working_days": days, "due": both(calendar, due)})
        );
    } else {
        say!(
            "{days} working days after {}: due by {}.",
            local(calendar, from),
            local(calendar, due)
        );
    }
    Ok(())
}

/// `calendar due`: a stage 1 or 2 complaint's acknowledge-by and respond-by times.
fn complaint_due(
    calendar: &BusinessCalendar,
    rules: ComplaintRules,
    stage: u8,
    received: &str,
    acknowledged: Option<&str>,
    json: bool,
) -> Result<()> {
    let received = parse_time(calendar, received)?;
    let acknowledged = acknowledged.map(|t| parse_time(calendar, t)).transpose()?;
    let stage_rule = if stage == 1 {
        ComplaintStage::Stage1
    } else {
        ComplaintStage::Stage2
    };
    let due = rules
        .due_times(calendar, stage_rule, received, acknowledged)
        .context("no such working day within the calendar's range")?;
    if json {
        say!(
            "{}",
            json!({
                "stage": stage,
                "received": both(calendar, received),
                "acknowledge_by": both(calendar, due.acknowledge_by),
                "respond_by": both(calendar, due.respond_by),
            })
        );
    } else {
        say!(
            "Stage {stage} complaint received {}:",
            local(calendar, received)
        );
        say!("  acknowledge by {}", local(calendar, due.acknowledge_by));
        say!(
            "  respond by     {}{}",
            local(calendar, due.respond_by),
            if acknowledged.is_some() {
                ""
            } else {
                " (from the latest acknowledgement; earlier if acknowledged sooner)"
            }
        );
    }
    Ok(())
}
