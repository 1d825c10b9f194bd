//! The report as text for a terminal: the period per queue, each queue's intervals, the
//! complaint table and the agents.

use anyhow::Result;
use switchboard_sim::figures::{ComplaintFigures, QueueFigures, duration_text, or_dash};

use super::Report;
use super::table::{Align, Table};

/// The columns of a queue's figures, after its name: over the period (with the target and
/// staffed hours) or in an interval (the average number staffed).
fn figure_columns(period: bool) -> Vec<(&'static str, Align)> {
    let mut columns = vec![
        ("offered", Align::Right),
        ("answered", Align::Right),
        ("abandoned", Align::Right),
        ("<5 s", Align::Right),
        ("SL", Align::Right),
    ];
    if period {
        columns.push(("target", Align::Right));
    }
    columns.extend([
        ("ASA", Align::Right),
        ("AHT", Align::Right),
        ("longest wait", Align::Right),
        ("transfers", Align::Right),
        ("escalations", Align::Right),
        ("FCR", Align::Right),
        (if period { "staffed h" } else { "staffed" }, Align::Right),
        ("open", Align::Right),
    ]);
    columns
}

/// A queue's figures as cells (see [`figure_columns`]); a service level below its target is
/// marked `*`, and a figure with nothing to measure reads `-`.
fn figure_cells(q: &QueueFigures, period: bool) -> Vec<String> {
    let mut cells = vec![
        q.offered.to_string(),
        q.answered.to_string(),
        q.abandoned.to_string(),
        q.short_abandoned.to_string(),
        or_dash(q.service_level_counted() > 0, || {
            format!(
                "{:.1}%{}",
                q.service_level * 100.0,
                if q.below_target() { "*" } else { " " }
            )
        }),
    ];
    if period {
        cells.push(
            q.service_level_target
                .map_or_else(|| "-".to_owned(), |t| format!("{:.0}%", t * 100.0)),
        );
    }
    cells.extend([
        or_dash(q.answered > 0, || duration_text(q.asa_seconds)),
        or_dash(q.handlings > 0, || duration_text(q.aht_seconds)),
        or_dash(q.offered > 0, || duration_text(q.longest_wait_seconds)),
        q.transfers.to_string(),
        q.escalations.to_string(),
        or_dash(q.completed > 0, || {
            format!("{:.1}%", q.first_contact_resolution * 100.0)
        }),
        if period {
            format!("{:.1}", q.staffed_hours)
        } else {
            format!("{:.1}", q.agents_staffed)
        },
        q.open_at_end.to_string(),
    ]);
    cells
}

/// A note, wrapped at 100 columns.
pub(super) fn note(text: &str) -> Result<()> {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > 100 {
            say!("{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        say!("{line}");
    }
    Ok(())
}

fn header(report: &Report) -> Result<()> {
    say!(
        "Report of {}: {}, {}.",
        report.dir.display(),
        report.days(),
        report.describe()
    );
    say!(
        "{} events read in {:.2} s ({:.2} M events/s).",
        report.pass.events,
        report.pass.elapsed.as_secs_f64(),
        report.pass.events_per_second() / 1e6
    );
    say!("");
    Ok(())
}

/// The period per queue, with the total.
fn queues(report: &Report) -> Result<()> {
    let figures = &report.measured.figures;
    let mut columns = vec![("service", Align::Left), ("channel", Align::Left)];
    columns.extend(figure_columns(true));
    let mut table = Table::new(&columns);
    for q in &figures.queues {
        let mut cells = vec![
            q.service.clone().unwrap_or_default(),
            q.channel.clone().unwrap_or_default(),
        ];
        cells.extend(figure_cells(q, true));
        table.row(cells);
    }
    for (name, q) in [("live queues", &figures.live), ("total", &figures.total)] {
        let mut cells = vec![name.to_owned(), String::new()];
        cells.extend(figure_cells(q, true));
        table.row(cells);
    }
    say!("Queues over the period");
    std::io::Write::write_all(&mut std::io::stdout(), table.render().as_bytes())?;
    note(
        "SL: answered within the threshold (or by the due time) over answered, abandoned and still \
         unanswered past it at the end; * below its target. <5 s: of the abandoned, those who \
         left within 5 s. Staffed h: the hours agents who could take the queue were logged in and \
         not on a break or otherwise not ready (an agent counts in every queue they could take); \
         per interval, their average number. Live queues: phone, face to face and chat together. Contacts count in the interval they \
         arrived in. Definitions: docs/reporting.md.",
    )?;
    say!(
        "Occupancy: {:.1}% of staffed time holding a contact or wrapping up.",
        figures.total.occupancy.unwrap_or(0.0) * 100.0
    );
    say!("");
    Ok(())
}

/// Each queue's intervals, leaving out those with no contacts and nobody staffed.
fn intervals(report: &Report) -> Result<()> {
    let m = &report.measured;
    for (i, q) in m.figures.queues.iter().enumerate() {
        let mut columns = vec![("interval", Align::Left)];
        columns.extend(figure_columns(false));
        let mut table = Table::new(&columns);
        for (interval, label) in m.intervals.iter().zip(&report.labels) {
            let Some(figures) = interval.queues.get(i) else {
                continue;
            };
            if figures.offered == 0 && figures.agents_staffed == 0.0 && figures.handlings == 0 {
                continue;
            }
            let mut cells = vec![label.text(report.whole_days())];
            cells.extend(figure_cells(figures, false));
            table.row(cells);
        }
        say!(
            "{} on {}, per interval (those with no contact and nobody staffed left out)",
            q.service.as_deref().unwrap_or(""),
            q.channel.as_deref().unwrap_or("")
        );
        std::io::Write::write_all(&mut std::io::stdout(), table.render().as_bytes())?;
        say!("");
    }
    Ok(())
}

/// The complaint stages' names as a council writes them.
fn complaint_table(complaints: &[ComplaintFigures]) -> Table {
    let mut table = Table::new(&[
        ("stage", Align::Left),
        ("opened", Align::Right),
        ("responded", Align::Right),
        ("within timescale", Align::Right),
        ("breached", Align::Right),
        ("extended", Align::Right),
        ("to stage 2", Align::Right),
        ("to Ombudsman", Align::Right),
        ("abandoned", Align::Right),
        ("open at end", Align::Right),
    ]);
    for c in complaints {
        let mut row = vec![c.stage_name().to_owned()];
        row.extend(c.counts().iter().map(u64::to_string));
        // The published figure: within the timescale, with its share of the responses.
        row[3] = c.within_timescale_text();
        table.row(row);
    }
    table
}

fn complaints(report: &Report) -> Result<()> {
    say!("Complaints against the Complaint Handling Code's timescales");
    let table = complaint_table(&report.measured.complaints);
    std::io::Write::write_all(&mut std::io::stdout(), table.render().as_bytes())?;
    note(
        "Counted when they happened in the period. Responded: completed at that stage; within \
         timescale: by the due time in force (an explained extension included), with its share \
         of the responses (the figure a council publishes); breached: a due time passed undone.",
    )?;
    say!("");
    Ok(())
}

fn agents(report: &Report) -> Result<()> {
    let mut table = Table::new(&[
        ("agent", Align::Left),
        ("name", Align::Left),
        ("site", Align::Left),
        ("handled", Align::Left),
        ("AHT", Align::Right),
        ("logged in h", Align::Right),
        ("staffed h", Align::Right),
        ("busy h", Align::Right),
        ("occupancy", Align::Right),
        ("not ready", Align::Left),
    ]);
    for a in &report.measured.agents {
        table.row(vec![
            a.agent.clone(),
            a.name.clone(),
            a.site.clone(),
            a.handled_text(),
            duration_text(a.aht_seconds),
            format!("{:.1}", a.logged_in_hours),
            format!("{:.1}", a.staffed_hours),
            format!("{:.1}", a.busy_hours),
            format!("{:.1}%", a.occupancy * 100.0),
            a.not_ready_text(),
        ]);
    }
    say!("Agents");
    std::io::Write::write_all(&mut std::io::stdout(), table.render().as_bytes())?;
    Ok(())
}

/// The whole report.
pub(super) fn print(report: &Report) -> Result<()> {
    header(report)?;
    queues(report)?;
    intervals(report)?;
    complaints(report)?;
    agents(report)
}

/// The period per queue and the complaint table only (the rest is in the files written).
pub(super) fn print_summary(report: &Report) -> Result<()> {
    header(report)?;
    queues(report)?;
    complaints(report)
}
