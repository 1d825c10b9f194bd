//! The report as CSV files that open in a spreadsheet as they are: one table a file with a
//! header row, UTF-8 with a byte-order mark (so Excel reads names rightly), CRLF line ends,
//! RFC 4180 quoting, dates as `2026-11-23` and times as `08:30`, shares as percentages and
//! durations in seconds. Text that a spreadsheet would take for a formula (starting `=`, `+`,
//! `-` or `@`) is written with a leading apostrophe.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use switchboard_core::Channel;
use switchboard_sim::figures::QueueFigures;

use super::Report;

/// One CSV file being written.
struct Csv {
    text: String,
}

impl Csv {
    fn new(header: &[&str]) -> Self {
        let mut csv = Self {
            text: "\u{feff}".to_owned(),
        };
        csv.row(header.iter().map(|h| (*h).to_owned()));
        csv
    }

    fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        let cells: Vec<String> = cells.into_iter().map(|c| field(&c)).collect();
        self.text.push_str(&cells.join(","));
        self.text.push_str("\r\n");
    }

    fn write(&self, path: &Path) -> Result<PathBuf> {
        std::fs::write(path, &self.text)
            .with_context(|| format!("could not write {}", path.display()))?;
        Ok(path.to_path_buf())
    }
}

/// A cell, quoted when it must be, kept from being read as a formula.
fn field(cell: &str) -> String {
    let guarded = if cell.starts_with(['=', '+', '-', '@']) && cell.parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// The columns of a queue's figures.
const FIGURE_HEADER: [&str; 22] = [
    "offered",
    "answered",
    "answered within SL",
    "abandoned",
    "abandoned within 5 s",
    "unanswered past threshold at end",
    "service level %",
    "target %",
    "ASA s",
    "AHT s",
    "longest wait s",
    "transfers",
    "escalations",
    "completed",
    "FCR %",
    "agents staffed (average)",
    "agent hours staffed",
    "agent hours handling",
    "handlings",
    "due breaches",
    "open at end",
    "patience s",
];

/// A number, or an empty cell when there is nothing to measure.
fn number(defined: bool, text: impl FnOnce() -> String) -> String {
    if defined { text() } else { String::new() }
}

fn figure_cells(q: &QueueFigures) -> Vec<String> {
    vec![
        q.offered.to_string(),
        q.answered.to_string(),
        q.answered_within_service_level.to_string(),
        q.abandoned.to_string(),
        q.short_abandoned.to_string(),
        q.waiting_past_threshold.to_string(),
        number(q.service_level_counted() > 0, || {
            format!("{:.1}", q.service_level * 100.0)
        }),
        q.service_level_target
            .map_or_else(String::new, |t| format!("{:.0}", t * 100.0)),
        number(q.answered > 0, || format!("{:.1}", q.asa_seconds)),
        number(q.handlings > 0, || format!("{:.1}", q.aht_seconds)),
        number(q.offered > 0, || format!("{:.1}", q.longest_wait_seconds)),
        q.transfers.to_string(),
        q.escalations.to_string(),
        q.completed.to_string(),
        number(q.completed > 0, || {
            format!("{:.1}", q.first_contact_resolution * 100.0)
        }),
        format!("{:.2}", q.agents_staffed),
        format!("{:.2}", q.staffed_hours),
        format!("{:.2}", q.agent_hours),
        q.handlings.to_string(),
        q.due_breaches.to_string(),
        q.open_at_end.to_string(),
        q.patience_seconds
            .map_or_else(String::new, |p| format!("{p:.1}")),
    ]
}

/// `report.csv` → `report-totals.csv`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "report".into(), |s| s.to_string_lossy());
    let extension = path
        .extension()
        .map_or_else(|| "csv".into(), |e| e.to_string_lossy());
    path.with_file_name(format!("{stem}-{suffix}.{extension}"))
}

/// Writes the four files; returns their paths.
pub(super) fn write(path: &Path, report: &Report) -> Result<Vec<PathBuf>> {
    Ok(vec![
        intervals(report).write(path)?,
        totals(report).write(&beside(path, "totals"))?,
        agents(report).write(&beside(path, "agents"))?,
        complaints(report).write(&beside(path, "complaints"))?,
    ])
}

/// Every queue in every interval, one row each.
fn intervals(report: &Report) -> Csv {
    let mut header = vec!["date", "start", "end", "zone", "service", "channel"];
    header.extend(FIGURE_HEADER);
    let mut csv = Csv::new(&header);
    for (interval, label) in report.measured.intervals.iter().zip(&report.labels) {
        for q in &interval.queues {
            let mut cells = vec![
                label.date(),
                label.start.strftime("%H:%M").to_string(),
                label.end_time(),
                label.zone(),
                q.service.clone().unwrap_or_default(),
                q.channel.clone().unwrap_or_default(),
            ];
            cells.extend(figure_cells(q));
            csv.row(cells);
        }
    }
    csv
}

/// Every queue over the period, then the total.
fn totals(report: &Report) -> Csv {
    let mut header = vec!["from", "to", "service", "channel"];
    header.extend(FIGURE_HEADER);
    header.push("occupancy %");
    let mut csv = Csv::new(&header);
    let figures = &report.measured.figures;
    let totals = [("total live", &figures.live), ("total", &figures.total)];
    let rows = figures
        .queues
        .iter()
        .map(|q| (q.service.as_deref().unwrap_or_default(), q))
        .chain(totals);
    for (name, q) in rows {
        let mut cells = vec![
            report.period.from.to_string(),
            report.period.to.to_string(),
            name.to_owned(),
            q.channel.clone().unwrap_or_default(),
        ];
        cells.extend(figure_cells(q));
        cells.push(
            q.occupancy
                .map_or_else(String::new, |o| format!("{:.1}", o * 100.0)),
        );
        csv.row(cells);
    }
    csv
}

/// Every agent: handlings per channel, time, and hours per not-ready reason (a column each).
fn agents(report: &Report) -> Csv {
    let agents = &report.measured.agents;
    let mut reasons: Vec<&str> = agents
        .iter()
        .flat_map(|a| a.not_ready.iter().map(|r| r.reason.as_str()))
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    let reason_headers: Vec<String> = reasons
        .iter()
        .map(|r| format!("not ready h: {r}"))
        .collect();
    let mut header = vec!["agent", "name", "site"];
    header.extend(Channel::ALL.iter().map(|c| c.as_str()));
    header.extend([
        "handlings",
        "AHT s",
        "logged in h",
        "staffed h",
        "busy h",
        "occupancy %",
    ]);
    header.extend(reason_headers.iter().map(String::as_str));
    let mut csv = Csv::new(&header);
    for a in agents {
        let mut cells = vec![a.agent.clone(), a.name.clone(), a.site.clone()];
        cells.extend(Channel::ALL.iter().map(|c| {
            let count = a
                .handled
                .iter()
                .find(|h| h.channel == c.as_str())
                .map_or(0, |h| h.count);
            count.to_string()
        }));
        cells.extend([
            a.handlings.to_string(),
            format!("{:.1}", a.aht_seconds),
            format!("{:.2}", a.logged_in_hours),
            format!("{:.2}", a.staffed_hours),
            format!("{:.2}", a.busy_hours),
            format!("{:.1}", a.occupancy * 100.0),
        ]);
        cells.extend(reasons.iter().map(|reason| {
            let hours = a
                .not_ready
                .iter()
                .find(|r| r.reason == *reason)
                .map_or(0.0, |r| r.hours);
            format!("{hours:.2}")
        }));
        csv.row(cells);
    }
    csv
}

/// The complaint table.
fn complaints(report: &Report) -> Csv {
    let mut csv = Csv::new(&[
        "from",
        "to",
        "stage",
        "opened",
        "responded",
        "responded within timescale",
        "responded within timescale %",
        "breached",
        "extended",
        "escalated to stage 2",
        "referred to Ombudsman",
        "abandoned",
        "open at end",
    ]);
    for c in &report.measured.complaints {
        let mut row = vec![
            report.period.from.to_string(),
            report.period.to.to_string(),
            c.stage_name().to_owned(),
        ];
        row.extend(c.counts().iter().map(u64::to_string));
        let share = c.within_timescale_share();
        row.insert(
            6,
            share.map_or_else(String::new, |s| format!("{:.1}", s * 100.0)),
        );
        csv.row(row);
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_when_they_must_be_and_never_read_as_formulas() {
        assert_eq!(field("council_tax"), "council_tax");
        assert_eq!(field("Smith, Ann"), "\"Smith, Ann\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-12.5"), "-12.5", "a negative number stays a number");
        assert_eq!(field("@ann"), "'@ann");
    }

    #[test]
    fn the_other_files_sit_beside_the_first() {
        assert_eq!(
            beside(Path::new("/tmp/week.csv"), "agents"),
            Path::new("/tmp/week-agents.csv")
        );
        assert_eq!(
            beside(Path::new("week"), "totals"),
            Path::new("week-totals.csv")
        );
    }
}
