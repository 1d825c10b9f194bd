//! `switchboard simulate`: a simulated day (or month) at a contact centre through the real
//! routing core, from a scenario file; or a recorded log re-run under another routing
//! configuration (what-if). Figures per queue and in total, as text or JSON; optionally the
//! real event log (`--data-dir`) and an HTML report with charts (`--report`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::json;
use switchboard_core::{Event, RoutingConfig};
use switchboard_log::{Entry, FileLog, LogOptions};
use switchboard_sim::{Figures, Observer, Scenario, SimulationRun};

use crate::config::FileConfig;
use crate::progress;

/// Options of `switchboard simulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The scenario file (TOML, see docs/simulation.md).
    #[arg(long, required_unless_present = "replay_log")]
    scenario: Option<PathBuf>,
    /// The seed of every random draw: the same seed gives the same run, event for event.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the run's events to a real event log here (a new or empty directory), for
    /// `switchboard audit` and `switchboard replay`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
    /// Write a self-contained HTML report with charts over the day to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// A configuration file whose [routing] section replaces the scenario's (the same file
    /// `switchboard serve` reads).
    #[arg(long)]
    config: Option<PathBuf>,
    /// What-if: re-run the contacts recorded in this event log under --config, and print the
    /// recorded figures and the new ones side by side.
    #[arg(long, requires = "config", conflicts_with = "scenario")]
    replay_log: Option<PathBuf>,
}

/// Writes events to a real event log, batch by batch, with one `fdatasync` per batch.
struct LogWriter {
    log: FileLog,
}

impl Observer for LogWriter {
    fn events(&mut self, events: &[Event]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let entries: Vec<Entry> = events
            .iter()
            .map(|event| Entry {
                at_ms: event.at.as_millis(),
                payload: switchboard_wire::encode_event(event),
            })
            .collect();
        self.log.append(&entries)?;
        Ok(())
    }
}

/// Shows progress in virtual time and passes events on to the log writer, if any.
struct Watcher {
    bar: indicatif::ProgressBar,
    writer: Option<LogWriter>,
}

impl Observer for Watcher {
    fn events(&mut self, events: &[Event]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match &mut self.writer {
            Some(writer) => writer.events(events),
            None => Ok(()),
        }
    }

    fn progress(&mut self, done: std::time::Duration, total: std::time::Duration) {
        self.bar.set_length(total.as_secs());
        self.bar.set_position(done.as_secs());
    }
}

fn open_log(dir: &Path) -> Result<LogWriter> {
    let (log, _) = FileLog::open(dir, LogOptions::default())
        .with_context(|| format!("could not open an event log in {}", dir.display()))?;
    if log.next_seq() > 1 {
        bail!(
            "{} already holds an event log ({} records); give a new or empty directory",
            dir.display(),
            log.next_seq() - 1
        );
    }
    Ok(LogWriter { log })
}

/// The routing configuration: `--config`'s (its [routing] and the sections beside it), else the
/// scenario's [routing] and [complaints], else the defaults.
fn routing_config(config: Option<&Path>, scenario: Option<&Scenario>) -> Result<RoutingConfig> {
    if let Some(path) = config {
        return Ok(crate::config::load(path)?.1);
    }
    let Some(scenario) = scenario else {
        return Ok(RoutingConfig::default());
    };
    // The scenario's sections, read as a configuration file holding only them.
    let mut file = toml::Table::new();
    if let Some(routing) = &scenario.routing {
        file.insert("routing".to_owned(), toml::Value::Table(routing.clone()));
    }
    if let Some(complaints) = &scenario.complaints {
        file.insert(
            "complaints".to_owned(),
            toml::Value::Table(complaints.clone()),
        );
    }
    let sections: FileConfig = toml::Value::Table(file)
        .try_into()
        .map_err(|e| anyhow::anyhow!("the scenario's [routing] or [complaints]: {e}"))?;
    sections
        .routing_config()
        .context("the scenario's [routing] or [complaints]")
}

fn watcher(args: &Args) -> Result<Watcher> {
    let quiet = args.json || !std::io::stderr().is_terminal();
    let bar = progress::bar(quiet, "simulated seconds");
    bar.set_message("simulating");
    let writer = args.data_dir.as_deref().map(open_log).transpose()?;
    Ok(Watcher { bar, writer })
}

/// Runs `switchboard simulate`.
pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    if let Some(log) = &args.replay_log {
        return what_if(args, log);
    }
    let Some(path) = &args.scenario else {
        bail!("give --scenario FILE (or --replay-log DIR with --config FILE)");
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let scenario = Scenario::from_toml(&text).with_context(|| format!("in {}", path.display()))?;
    let config = routing_config(args.config.as_deref(), Some(&scenario))?;
    let mut watcher = watcher(args)?;
    let started = std::time::Instant::now();
    let run = switchboard_sim::simulate(&scenario, config, args.seed, &mut watcher)
        .context("the simulation failed")?;
    let elapsed = started.elapsed();
    watcher.bar.finish_and_clear();
    if let Some(report) = &args.report {
        let html = switchboard_sim::report::html(&scenario.name, &scenario.description, &run);
        std::fs::write(report, html)
            .with_context(|| format!("could not write {}", report.display()))?;
    }
    if args.json {
        let mut value = serde_json::to_value(&run.figures)?;
        value["seed"] = json!(args.seed);
        value["events"] = json!(run.events);
        value["contacts"] = json!(run.contacts);
        value["elapsed_seconds"] = json!(elapsed.as_secs_f64());
        value["refused"] = json!(run.refused);
        say!("{value}");
    } else {
        print_run(&scenario.name, args.seed, &run, elapsed)?;
        if let Some(dir) = &args.data_dir {
            say!("Event log written to {}.", dir.display());
        }
        if let Some(report) = &args.report {
            say!("Report written to {}.", report.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_run(
    name: &str,
    seed: u64,
    run: &SimulationRun,
    elapsed: std::time::Duration,
) -> Result<()> {
    say!(
        "Simulated {name} (seed {seed}) from {} to {}: {} contacts, {} events in {:.3} s.",
        run.start,
        run.end,
        run.contacts,
        run.events,
        elapsed.as_secs_f64()
    );
    say!("");
    std::io::Write::write_fmt(&mut std::io::stdout(), format_args!("{}", run.figures))?;
    if !run.refused.is_empty() {
        let refused: Vec<String> = run
            .refused
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect();
        say!("");
        say!(
            "Commands the core refused: {} (a sign of a problem in the scenario or its routing).",
            refused.join(", ")
        );
    }
    Ok(())
}

/// `--replay-log DIR --config NEW.toml`: the recorded figures beside the re-run's.
fn what_if(args: &Args, dir: &Path) -> Result<ExitCode> {
    let config = routing_config(args.config.as_deref(), None)?;
    let mut events = Vec::new();
    let reader = switchboard_log::LogReader::open(dir)
        .with_context(|| format!("could not open the event log in {}", dir.display()))?;
    for record in reader
        .read_from(1)
        .context("could not read the event log")?
    {
        let record = record.context("could not read the event log")?;
        events.push(
            switchboard_wire::decode_event(&record.payload)
                .with_context(|| format!("record {} does not decode", record.seq))?,
        );
    }
    let recorded = switchboard_sim::whatif::Recorded::from_events(&events);
    let baseline = recorded.figures(&events);
    let mut watcher = watcher(args)?;
    let run = recorded
        .resimulate(config, args.seed, &mut watcher)
        .context("the what-if run failed")?;
    watcher.bar.finish_and_clear();
    if let Some(report) = &args.report {
        let html = switchboard_sim::report::html("what-if", "recorded contacts, new routing", &run);
        std::fs::write(report, html)
            .with_context(|| format!("could not write {}", report.display()))?;
    }
    if args.json {
        say!(
            "{}",
            json!({ "recorded": baseline, "what_if": run.figures, "contacts": recorded.contacts() })
        );
    } else {
        say!(
            "What-if: {} recorded contacts and {} agents from {}, re-run under {}.",
            recorded.contacts(),
            recorded.agents(),
            dir.display(),
            args.config
                .as_deref()
                .map_or_else(|| "the defaults".to_owned(), |p| p.display().to_string())
        );
        side_by_side(&baseline, &run.figures)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn side_by_side(before: &Figures, after: &Figures) -> Result<()> {
    say!(
        "{:<24} {:<13} {:>17} {:>17} {:>17} {:>17}",
        "service",
        "channel",
        "SL recorded→new",
        "ASA s",
        "abandoned",
        "AHT s"
    );
    let rows = before
        .queues
        .iter()
        .map(|q| {
            let other = after
                .queues
                .iter()
                .find(|o| o.service == q.service && o.channel == q.channel);
            (q, other)
        })
        .chain(std::iter::once((&before.total, Some(&after.total))));
    for (b, a) in rows {
        let Some(a) = a else { continue };
        say!(
            "{:<24} {:<13} {:>7.1}% → {:>5.1}% {:>7.1} → {:>7.1} {:>7} → {:>7} {:>7.1} → {:>7.1}",
            b.service.as_deref().unwrap_or("total"),
            b.channel.as_deref().unwrap_or(""),
            b.service_level * 100.0,
            a.service_level * 100.0,
            b.asa_seconds,
            a.asa_seconds,
            b.abandoned,
            a.abandoned,
            b.aht_seconds,
            a.aht_seconds
        );
    }
    for b in &before.queues {
        let answered_now = after
            .queues
            .iter()
            .find(|o| o.service == b.service && o.channel == b.channel)
            .map_or(0, |o| o.answered);
        if b.answered > 0 && answered_now == 0 {
            say!(
                "{} on {}: {} answered in the recording, none in the re-run; can any agent take them \
                 under the new configuration (its [complaints] skill, its plans)?",
                b.service.as_deref().unwrap_or(""),
                b.channel.as_deref().unwrap_or(""),
                b.answered
            );
        }
    }
    Ok(())
}
