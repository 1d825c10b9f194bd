//! `switchboard report`: management information from a recorded log. One pass over the log
//! through the figures fold that the simulator and what-if replay use (`switchboard_sim::
//! figures`), so the same log gives the same numbers everywhere: per queue and interval, per
//! agent, and the complaint timescale table, over whole local days of the council's calendar.
//! Human text by default, `--json`, CSV files for a spreadsheet (`--csv`) or one HTML page
//! (`--html`). Definitions: docs/reporting.md.

mod csv;
mod period;
mod read;
pub(crate) mod staffing;
mod table;
mod text;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::json;
use switchboard_core::{RoutingConfig, Timestamp};
use switchboard_log::LogReader;
use switchboard_sim::Collector;
use switchboard_sim::figures::Measured;
use switchboard_sim::report::{ManagementPage, management_html};

use crate::progress;
use period::{IntervalLabel, IntervalLength, Period};
use read::Pass;

/// `switchboard report`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The engine's data directory (holding the log's segment files).
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    data_dir: PathBuf,
    #[command(flatten)]
    period: PeriodArgs,
    /// Print the figures as JSON.
    #[arg(long, conflicts_with_all = ["csv", "html"])]
    json: bool,
    /// Write CSV files for a spreadsheet: FILE per queue and interval, and beside it FILE's name
    /// ending -totals (per queue over the period), -agents and -complaints.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Write the report as one self-contained HTML page, with charts.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// The period a report or a staffing answer covers, and the calendar it is read in.
#[derive(Debug, clap::Args)]
pub(crate) struct PeriodArgs {
    /// The first local day, YYYY-MM-DD (default: the day of the log's first event).
    #[arg(long)]
    from: Option<Date>,
    /// The last local day, included (default: the day of the log's last event).
    #[arg(long)]
    to: Option<Date>,
    /// The length of an interval: 15m, 30m, 1h or 1d.
    #[arg(long, default_value = "30m")]
    interval: IntervalLength,
    /// A configuration file: its [calendar]'s time zone and its [[routing.service_levels]]
    /// targets (default: Europe/London, and 80% for every queue).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// A log measured over a period.
pub(crate) struct Report {
    pub(crate) dir: PathBuf,
    pub(crate) period: Period,
    /// Each interval's local name, by index.
    pub(crate) labels: Vec<IntervalLabel>,
    pub(crate) measured: Measured,
    pub(crate) pass: Pass,
}

impl Report {
    /// `Mon 23 Nov 2026 to Sun 29 Nov 2026` (or the one day).
    pub(crate) fn days(&self) -> String {
        let day = |d: Date| d.strftime("%a %-d %b %Y").to_string();
        if self.period.from == self.period.to {
            day(self.period.from)
        } else {
            format!("{} to {}", day(self.period.from), day(self.period.to))
        }
    }

    /// `Europe/London local time, 30-minute intervals`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} local time, {} intervals",
            self.period.zone_name(),
            self.period.length.describe()
        )
    }

    pub(crate) fn whole_days(&self) -> bool {
        self.period.length == IntervalLength::Day
    }
}

/// The calendar's zone and the routing configuration (for the targets).
fn configuration(path: Option<&Path>) -> Result<(TimeZone, RoutingConfig)> {
    let routing = match path {
        Some(path) => crate::config::load(path)?.1,
        None => RoutingConfig::default(),
    };
    Ok((routing.business_calendar.time_zone().clone(), routing))
}

/// The local days of the log's first and last events.
fn log_days(dir: &Path, zone: &TimeZone) -> Result<(Date, Date)> {
    let reader = LogReader::open(dir)?;
    let at = |seq| -> Result<Timestamp> {
        let record = reader
            .record_at(seq)?
            .context("the log ended while being read")?;
        Ok(Timestamp::from_millis(record.at_ms))
    };
    let first = at(1)?;
    let last = at(reader.last_seq()?)?;
    Ok((
        Period::local_date(zone, first)?,
        Period::local_date(zone, last)?,
    ))
}

/// Measures the log in `dir` over the period `args` give, with a progress bar unless `quiet`.
pub(crate) fn measure(dir: &Path, args: &PeriodArgs, quiet: bool) -> Result<Report> {
    crate::audit::require_log(dir)?;
    let (zone, routing) = configuration(args.config.as_deref())?;
    let (from, to) = match (args.from, args.to) {
        (Some(from), Some(to)) => (from, to),
        (from, to) => {
            let (first, last) = log_days(dir, &zone)
                .with_context(|| format!("could not read the event log in {}", dir.display()))?;
            (from.unwrap_or(first), to.unwrap_or(last))
        }
    };
    let period = Period::new(zone, from, to, args.interval)?;
    let (intervals, labels) = period.intervals()?;
    let start = intervals.start();
    let mut collector = Collector::new(intervals, start);
    collector.set_service_level_targets(&routing);
    let bar = progress::bar(quiet, "events");
    bar.set_message("reading the log");
    let (measured, pass) = read::fold_log(dir, collector, &bar)?;
    bar.finish_and_clear();
    Ok(Report {
        dir: dir.to_path_buf(),
        period,
        labels,
        measured,
        pass,
    })
}

/// Runs `switchboard report`.
pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let quiet = args.json || !std::io::stderr().is_terminal();
    let report = measure(&args.data_dir, &args.period, quiet)?;
    let mut written = Vec::new();
    if let Some(path) = &args.csv {
        written.extend(csv::write(path, &report)?);
    }
    if let Some(path) = &args.html {
        std::fs::write(path, html(&report))
            .with_context(|| format!("could not write {}", path.display()))?;
        written.push(path.clone());
    }
    if args.json {
        say!("{}", json_of(&report)?);
    } else if written.is_empty() {
        text::print(&report)?;
    } else {
        text::print_summary(&report)?;
        for path in written {
            say!("Written: {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as one JSON value: the period, the figures over it, per interval (with local
/// times), per agent and the complaint table.
fn json_of(report: &Report) -> Result<serde_json::Value> {
    let m = &report.measured;
    let mut value = serde_json::to_value(&m.figures)?;
    let intervals: Vec<serde_json::Value> = m
        .intervals
        .iter()
        .zip(&report.labels)
        .map(|(interval, label)| {
            json!({
                "date": label.date(),
                "start": label.start.strftime("%H:%M").to_string(),
                "end": label.end_time(),
                "zone": label.zone(),
                "starts_at": label.start.timestamp().to_string(),
                "total": interval.total,
                "queues": interval.queues,
            })
        })
        .collect();
    value["from"] = json!(report.period.from.to_string());
    value["to"] = json!(report.period.to.to_string());
    value["time_zone"] = json!(report.period.zone_name());
    value["intervals"] = json!(intervals);
    value["agents"] = serde_json::to_value(&m.agents)?;
    value["complaints"] = serde_json::to_value(&m.complaints)?;
    value["events"] = json!(report.pass.events);
    value["elapsed_seconds"] = json!(report.pass.elapsed.as_secs_f64());
    Ok(value)
}

/// The HTML page's time axis: each local day's start on a report of several days, else every
/// other hour; in seconds from the period's start.
fn ticks(report: &Report) -> Vec<(f64, String)> {
    let several_days = report.period.from != report.period.to;
    let Some(start) = report.labels.first().map(|l| l.start.timestamp()) else {
        return Vec::new();
    };
    let mut previous_date = None;
    let mut ticks = Vec::new();
    for label in &report.labels {
        let (date, time) = (label.start.date(), label.start.time());
        let new_day = previous_date != Some(date);
        previous_date = Some(date);
        let text = if several_days && new_day {
            label.start.strftime("%a %-d").to_string()
        } else if !several_days && time.minute() == 0 && time.hour() % 2 == 0 {
            label.start.strftime("%H:%M").to_string()
        } else {
            continue;
        };
        let secs = label.start.timestamp().duration_since(start).as_secs_f64();
        ticks.push((secs, text));
    }
    ticks
}

/// The report as an HTML page, its times in local time.
fn html(report: &Report) -> String {
    let labels: Vec<String> = report
        .labels
        .iter()
        .map(|l| l.text(report.whole_days()))
        .collect();
    let title = format!("Report: {}", report.days());
    let meta = format!(
        "{}; {} events read from {}",
        report.describe(),
        report.pass.events,
        report.dir.display()
    );
    let time_title = format!("local time ({})", report.period.zone_name());
    management_html(&ManagementPage {
        title: &title,
        meta: &meta,
        interval_labels: &labels,
        ticks: &ticks(report),
        time_title: &time_title,
        measured: &report.measured,
    })
}
