//! A self-contained HTML report of a run, written for a contact-centre manager: the headline
//! figures, the figures per queue and per site, and inline SVG charts over the day (contacts
//! waiting in each queue, the live service level against its target, agents by state). No
//! scripts, fonts or images from anywhere: one file that opens offline and fills the window.

mod chart;
mod management;

use std::fmt::Write;

use switchboard_core::Channel;

use crate::figures::{Sample, duration_text};
use crate::simulator::SimulationRun;
use chart::{Axis, PANEL, STYLE, TimeAxis, WIDE, chart, escape};

pub use management::{ManagementPage, management_html};

/// The report of `run`, as one HTML page.
#[must_use]
pub fn html(name: &str, description: &str, run: &SimulationRun) -> String {
    let mut page = String::with_capacity(128 * 1024);
    let total = &run.figures.total;
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Simulation: {title}</title><style>{STYLE}</style></head><body>\n\
         <h1>Simulation: {title}</h1>\n<p>{}</p>\n\
         <p class=\"meta\">From {} to {} (times UTC) &middot; seed {} &middot; {} contacts &middot; {} events</p>\n",
        escape(description),
        run.start,
        run.end,
        run.seed,
        run.contacts,
        run.events,
        title = escape(name),
    );
    let _ = writeln!(
        page,
        "<div class=\"headline\">\
         <div>offered<b>{}</b></div><div>answered<b>{}</b></div>\
         <div>abandoned<b>{:.1}%</b></div><div>service level<b>{:.1}%</b></div>\
         <div>open at the end<b>{}</b></div><div>occupancy<b>{:.1}%</b></div></div>",
        total.offered,
        total.answered,
        total.abandon_rate * 100.0,
        total.service_level * 100.0,
        total.open_at_end,
        total.occupancy.unwrap_or(0.0) * 100.0,
    );
    figures_table(&mut page, run);
    sites_table(&mut page, run);
    charts(&mut page, run);
    page.push_str("</body></html>\n");
    page
}

fn figures_table(page: &mut String, run: &SimulationRun) {
    page.push_str(
        "<h2>Figures per queue</h2>\n<table><tr><th class=\"name\">service</th><th class=\"name\">channel</th>\
         <th>offered</th><th>answered</th><th>abandoned</th><th>open at end</th><th>service level</th>\
         <th>target</th><th>ASA</th><th>AHT</th><th>agent hours</th><th>FCR</th><th>due breaches</th></tr>\n",
    );
    for q in &run.figures.queues {
        let below = q.service_level_target.is_some_and(|t| q.service_level < t);
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{}</td><td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td{}>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}%</td><td>{}</td></tr>",
            escape(q.service.as_deref().unwrap_or("")),
            escape(q.channel.as_deref().unwrap_or("")),
            q.offered,
            q.answered,
            q.abandoned,
            q.open_at_end,
            if below { " class=\"below\"" } else { "" },
            q.service_level * 100.0,
            q.service_level_target
                .map_or_else(|| "-".to_owned(), |t| format!("{:.0}%", t * 100.0)),
            duration_text(q.asa_seconds),
            duration_text(q.aht_seconds),
            q.agent_hours,
            q.first_contact_resolution * 100.0,
            q.due_breaches
        );
    }
    let t = &run.figures.total;
    let _ = writeln!(
        page,
        "<tr class=\"total\"><td class=\"name\">total</td><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{:.1}%</td><td></td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}%</td><td>{}</td></tr>",
        t.offered,
        t.answered,
        t.abandoned,
        t.open_at_end,
        t.service_level * 100.0,
        duration_text(t.asa_seconds),
        duration_text(t.aht_seconds),
        t.agent_hours,
        t.first_contact_resolution * 100.0,
        t.due_breaches
    );
    page.push_str(
        "</table>\n<p class=\"note\">Service level: answered within the threshold (live channels) or \
         the due time (email, callbacks), over answered, abandoned and still unanswered at the end \
         past the threshold or due time; red when below its target. ASA: mean wait \
         of answered contacts. AHT: handling plus wrap-up. Agent hours: the agents' time on the \
         queue's contacts. Open at end: offered contacts still waiting or in hand when the run \
         ended.</p>\n",
    );
}

fn sites_table(page: &mut String, run: &SimulationRun) {
    if run.figures.sites.is_empty() {
        return;
    }
    page.push_str(
        "<h2>Agents per site</h2>\n<table><tr><th class=\"name\">site</th><th>agents</th>\
         <th>staffed hours</th><th>busy hours</th><th>occupancy</th></tr>\n",
    );
    for site in &run.figures.sites {
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}%</td></tr>",
            escape(&site.site),
            site.agents,
            site.staffed_hours,
            site.busy_hours,
            site.occupancy * 100.0
        );
    }
    page.push_str(
        "</table>\n<p class=\"note\">Occupancy: the share of staffed time (logged in and not on a \
         break or otherwise not ready) in which an agent held a contact or was wrapping up. It is \
         given per site, not per queue: a multi-skilled agent's free time is free for every queue \
         they take.</p>\n",
    );
}

fn charts(page: &mut String, run: &SimulationRun) {
    let samples = &run.samples;
    let queues = &run.figures.queues;
    let at_secs: Vec<f64> = samples.iter().map(|s| s.at_secs as f64).collect();
    let time = time_axis(samples);
    page.push_str("<h2>Contacts waiting, per queue</h2>\n<div class=\"panels\">\n");
    for (i, q) in queues.iter().enumerate() {
        let waiting: Vec<f64> = samples
            .iter()
            .map(|s| f64::from(s.waiting_by_queue.get(i).copied().unwrap_or(0)))
            .collect();
        let _ = write!(
            page,
            "<div class=\"panel\"><h3>{} &middot; {}</h3>",
            escape(q.service.as_deref().unwrap_or("")),
            escape(q.channel.as_deref().unwrap_or(""))
        );
        let series = [("waiting", "#c0392b", waiting.as_slice())];
        chart(
            page,
            PANEL,
            &at_secs,
            &series,
            &Axis::counts("contacts"),
            &time,
        );
        page.push_str("</div>\n");
    }
    page.push_str("</div>\n");
    service_level_chart(page, run, &at_secs, &time);
    let state = |f: fn(&Sample) -> u32| samples.iter().map(|s| f64::from(f(s))).collect::<Vec<_>>();
    let (busy, idle) = (state(|s| s.busy), state(|s| s.idle));
    let (wrap_up, not_ready) = (state(|s| s.wrap_up), state(|s| s.not_ready));
    page.push_str("<h2>Agents by state</h2>\n");
    let series = [
        ("on contacts", "#c0392b", busy.as_slice()),
        ("ready, idle", "#27ae60", idle.as_slice()),
        ("wrap-up", "#f39c12", wrap_up.as_slice()),
        ("not ready", "#7f8c8d", not_ready.as_slice()),
    ];
    chart(
        page,
        WIDE,
        &at_secs,
        &series,
        &Axis::counts("agents"),
        &time,
    );
}

/// The live service level of the contacts that arrived in each interval, against the targets.
fn service_level_chart(page: &mut String, run: &SimulationRun, at_secs: &[f64], time: &TimeAxis) {
    let service_level: Vec<f64> = run
        .intervals
        .iter()
        .map(|interval| {
            let live = interval
                .queues
                .iter()
                .filter(|q| is_live(q.channel.as_deref()));
            live_service_level(live)
        })
        .collect();
    let mut targets: Vec<f64> = run
        .figures
        .queues
        .iter()
        .filter(|q| q.offered > 0 && is_live(q.channel.as_deref()))
        .filter_map(|q| q.service_level_target)
        .map(|t| t * 100.0)
        .collect();
    targets.sort_by(f64::total_cmp);
    targets.dedup();
    page.push_str(
        "<h2>Live service level per interval</h2>\n<p class=\"note\">Of the phone, face-to-face \
         and chat contacts that arrived in each interval: those answered within their threshold, \
         over those answered, abandoned, or still waiting past the threshold at the end; the \
         dashed line is the target.</p>\n",
    );
    let series = [(
        "answered within threshold",
        "#2471a3",
        service_level.as_slice(),
    )];
    let axis = Axis::percent("% of contacts", &targets);
    chart(page, WIDE, at_secs, &series, &axis, time);
}

/// The service level of some queues together, in percent (NaN when none counts).
fn live_service_level<'a>(queues: impl Iterator<Item = &'a crate::QueueFigures>) -> f64 {
    let (within, counted) = queues.fold((0_u64, 0_u64), |(within, counted), q| {
        let done_or_failed = q.answered + q.abandoned + q.waiting_past_threshold;
        (
            within + q.answered_within_service_level,
            counted + done_or_failed,
        )
    });
    if counted == 0 {
        f64::NAN
    } else {
        100.0 * within as f64 / counted as f64
    }
}

/// The simulation's time axis: a tick every few hours of the day (UTC), or every day on runs of
/// several days. A simulated run starts at midnight.
fn time_axis(samples: &[Sample]) -> TimeAxis {
    let span_secs = samples.last().map_or(1.0, |s| s.at_secs as f64).max(1.0);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "hours in the run, non-negative, capped just after"
    )]
    let hours = ((span_secs / 3600.0) as u64).min(24 * 31);
    let step_hours = if span_secs > 3.0 * 86_400.0 { 24 } else { 2 };
    let ticks = (0..=hours)
        .step_by(step_hours)
        .map(|hour| {
            let label = if step_hours == 24 {
                format!("day {}", hour / 24 + 1)
            } else {
                format!("{:02}:00", hour % 24)
            };
            (hour as f64 * 3600.0, label)
        })
        .collect();
    TimeAxis {
        span_secs,
        ticks,
        title: "time of day (UTC)".to_owned(),
    }
}

/// Whether a channel (by name) is live: the customer waits on it.
fn is_live(channel: Option<&str>) -> bool {
    channel.is_some_and(|name| crate::scenario::channel(name).is_ok_and(Channel::is_live))
}
