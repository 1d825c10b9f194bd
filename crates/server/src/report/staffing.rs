//! `switchboard staffing --from-log`: per live queue and interval, the arrivals, handle time
//! and (with `--patience-from-log`) patience measured in a recorded log, the Erlang C or A
//! requirement for the target, the agents actually staffed and the shortfall; understaffed
//! intervals first. The measurement is the report's (one fold), the sizing `switchboard_sim::
//! shortfall`'s.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use switchboard_sim::figures::{duration_text, or_dash};
use switchboard_sim::shortfall::{ShortfallQuery, ShortfallRow, shortfalls};

use super::table::{Align, Table};
use super::{PeriodArgs, Report, measure};

/// What `staffing --from-log` was asked.
pub(crate) struct FromLog<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) period: &'a PeriodArgs,
    pub(crate) query: ShortfallQuery,
    pub(crate) json: bool,
}

/// Runs `switchboard staffing --from-log`.
pub(crate) fn run(asked: &FromLog<'_>) -> Result<ExitCode> {
    let quiet = asked.json || !std::io::stderr().is_terminal();
    let report = measure(asked.dir, asked.period, quiet)?;
    let rows = shortfalls(&report.measured, &asked.query);
    if asked.json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| {
                let label = &report.labels[row.interval];
                let mut value = json!(row);
                value["date"] = json!(label.date());
                value["start"] = json!(label.start.strftime("%H:%M").to_string());
                value["end"] = json!(label.end_time());
                value["zone"] = json!(label.zone());
                value
            })
            .collect();
        say!(
            "{}",
            json!({
                "from": report.period.from.to_string(),
                "to": report.period.to.to_string(),
                "time_zone": report.period.zone_name(),
                "target_sl": asked.query.target_sl,
                "target_secs": asked.query.target_secs,
                "intervals": rows,
            })
        );
    } else {
        print(&report, &asked.query, &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A pool's name: its queue's, or `pool N` for several queues.
fn pool_name(report: &Report, pool: usize) -> String {
    let queues = &report.measured.pools[pool - 1];
    match queues.as_slice() {
        [q] => queue_name(report, *q),
        _ => format!("pool {pool}"),
    }
}

fn queue_name(report: &Report, q: usize) -> String {
    report
        .measured
        .figures
        .queues
        .get(q)
        .map_or_else(String::new, |f| {
            format!(
                "{} {}",
                f.service.as_deref().unwrap_or(""),
                f.channel.as_deref().unwrap_or("")
            )
        })
}

fn print(report: &Report, query: &ShortfallQuery, rows: &[ShortfallRow]) -> Result<()> {
    let understaffed = rows.iter().filter(|r| r.understaffed()).count();
    say!(
        "Staffing from {}: {}, {}.",
        report.dir.display(),
        report.days(),
        report.describe()
    );
    say!(
        "Target: {:.0}% answered within {}; {}.",
        query.target_sl * 100.0,
        query.target_secs.map_or_else(
            || "the queues' configured thresholds".to_owned(),
            |secs| format!("{secs} s")
        ),
        if query.patience_from_log {
            "Erlang A with the customers' patience as measured (Erlang C where nobody abandoned)"
        } else {
            "Erlang C (callers never abandon)"
        }
    );
    for (n, pool) in report.measured.pools.iter().enumerate() {
        if pool.len() > 1 {
            let names: Vec<String> = pool.iter().map(|&q| queue_name(report, q)).collect();
            say!("Pool {}: {} (they share agents).", n + 1, names.join(", "));
        }
    }
    say!(
        "{understaffed} of {} intervals understaffed; they come first, the largest shortfall first.",
        rows.len()
    );
    say!("");
    let mut table = Table::new(&[
        ("queues", Align::Left),
        ("interval", Align::Left),
        ("arrivals", Align::Right),
        ("AHT", Align::Right),
        ("patience", Align::Right),
        ("model", Align::Left),
        ("within", Align::Right),
        ("required", Align::Right),
        ("staffed", Align::Right),
        ("shortfall", Align::Right),
        ("SL measured", Align::Right),
        ("SL at required", Align::Right),
    ]);
    for (n, row) in rows.iter().enumerate() {
        if n == understaffed && n > 0 {
            table.row(Vec::new());
        }
        table.row(cells(report, row));
    }
    std::io::Write::write_all(&mut std::io::stdout(), table.render().as_bytes())?;
    say!("");
    super::text::note(
        "Queues that share agents are sized together, as one queue (Erlang assumes any agent \
         takes any contact): their arrivals added, handle times averaged. Staffed: the average \
         number of agents logged in and not on a break or otherwise not ready, each agent's time \
         split among the queues they could take by each one's workload (arrivals times AHT, \
         email included), so no agent counts twice. Email and callbacks get no row: Erlang sizes \
         queues whose customers wait on the line.",
    )?;
    Ok(())
}

fn cells(report: &Report, row: &ShortfallRow) -> Vec<String> {
    let label = &report.labels[row.interval];
    vec![
        pool_name(report, row.pool),
        label.text(report.whole_days()),
        row.arrivals.to_string(),
        or_dash(row.arrivals > 0, || duration_text(row.aht_seconds)),
        row.patience_seconds
            .map_or_else(|| "-".to_owned(), duration_text),
        row.model.replace('_', " "),
        duration_text(row.target_secs),
        row.required
            .map_or_else(|| row.note.clone().unwrap_or_default(), |r| r.to_string()),
        format!("{:.1}", row.staffed),
        row.shortfall
            .map_or_else(String::new, |s| format!("{s:+.1}")),
        or_dash(row.arrivals > 0, || {
            format!("{:.1}%", row.measured_service_level * 100.0)
        }),
        row.predicted_service_level
            .map_or_else(String::new, |p| format!("{:.1}%", p * 100.0)),
    ]
}
