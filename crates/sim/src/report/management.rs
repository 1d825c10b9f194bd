//! The management report of a recorded log (`switchboard report --html`): the period's figures
//! per queue against their targets, charts per interval, the complaint timescale table, the
//! agents' figures and every queue's intervals; in the simulation report's conventions (one
//! self-contained page, the same styles and charts). Times are the caller's local labels.

use std::fmt::Write;

use crate::figures::{Measured, QueueFigures, duration_text, or_dash};

use super::chart::{Axis, PANEL, STYLE, TimeAxis, WIDE, chart, escape};
use super::{is_live, live_service_level};

/// What the page shows, and the local names of its times.
#[derive(Debug, Clone, Copy)]
pub struct ManagementPage<'a> {
    /// The page's title, e.g. `Report: Mon 23 Nov 2026 to Sun 29 Nov 2026`.
    pub title: &'a str,
    /// A line under it: the time zone, the intervals, where the figures came from.
    pub meta: &'a str,
    /// Each interval's name, e.g. `Mon 23 Nov 08:30–09:00`, one per interval.
    pub interval_labels: &'a [String],
    /// The time axis: ticks in seconds from the first interval's start, with their labels.
    pub ticks: &'a [(f64, String)],
    /// The time axis's title, naming the time zone.
    pub time_title: &'a str,
    /// The figures.
    pub measured: &'a Measured,
}

/// The management report, as one HTML page.
#[must_use]
pub fn management_html(page_of: &ManagementPage<'_>) -> String {
    let mut page = String::with_capacity(256 * 1024);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n\
         <h1>{title}</h1>\n<p class=\"meta\">{}</p>\n",
        escape(page_of.meta),
        title = escape(page_of.title),
    );
    headline(&mut page, page_of.measured);
    queues_table(&mut page, page_of.measured);
    charts(&mut page, page_of);
    complaints_table(&mut page, page_of.measured);
    agents_table(&mut page, page_of.measured);
    interval_tables(&mut page, page_of);
    page.push_str("</body></html>\n");
    page
}

fn headline(page: &mut String, measured: &Measured) {
    let (t, live) = (&measured.figures.total, &measured.figures.live);
    let _ = writeln!(
        page,
        "<div class=\"headline\">\
         <div>offered<b>{}</b></div><div>answered<b>{}</b></div>\
         <div>service level, live<b>{}</b></div><div>speed of answer, live<b>{}</b></div>\
         <div>abandoned, live<b>{}</b>{} within 5 s</div>\
         <div>average handle time<b>{}</b></div><div>occupancy<b>{:.1}%</b></div></div>\n\
         <p class=\"note\">Live: phone, face to face and chat, where customers wait; email and \
         callbacks are measured against their due times, in the table.</p>",
        t.offered,
        t.answered,
        or_dash(live.service_level_counted() > 0, || {
            format!("{:.1}%", live.service_level * 100.0)
        }),
        or_dash(live.answered > 0, || duration_text(live.asa_seconds)),
        or_dash(live.offered > 0, || format!(
            "{:.1}%",
            live.abandon_rate * 100.0
        )),
        live.short_abandoned,
        or_dash(t.handlings > 0, || duration_text(t.aht_seconds)),
        t.occupancy.unwrap_or(0.0) * 100.0,
    );
}

/// The header cells of a queue's figures: over the period (with the target and staffed
/// hours) or in an interval (the average number staffed).
fn figure_headers(period: bool) -> String {
    format!(
        "<th>offered</th><th>answered</th><th>abandoned</th><th>of which &lt; 5 s</th>\
         <th>service level</th>{}<th>ASA</th><th>AHT</th><th>longest wait</th>\
         <th>transfers</th><th>escalations</th><th>FCR</th>{}<th>open at end</th>",
        if period { "<th>target</th>" } else { "" },
        if period {
            "<th>agent hours staffed</th>"
        } else {
            "<th>agents staffed</th>"
        },
    )
}

/// The cells of a queue's figures (see [`figure_headers`]), the service level red when below
/// its target, a figure with nothing to measure `-`.
fn figure_cells(q: &QueueFigures, period: bool) -> String {
    let service_level = or_dash(q.service_level_counted() > 0, || {
        format!("{:.1}%", q.service_level * 100.0)
    });
    let target = if period {
        let target = q
            .service_level_target
            .map_or_else(|| "-".to_owned(), |t| format!("{:.0}%", t * 100.0));
        format!("<td>{target}</td>")
    } else {
        String::new()
    };
    format!(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{service_level}</td>{target}<td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td>",
        q.offered,
        q.answered,
        q.abandoned,
        q.short_abandoned,
        if q.below_target() {
            " class=\"below\""
        } else {
            ""
        },
        or_dash(q.answered > 0, || duration_text(q.asa_seconds)),
        or_dash(q.handlings > 0, || duration_text(q.aht_seconds)),
        or_dash(q.offered > 0, || duration_text(q.longest_wait_seconds)),
        q.transfers,
        q.escalations,
        or_dash(q.completed > 0, || format!(
            "{:.1}%",
            q.first_contact_resolution * 100.0
        )),
        if period {
            q.staffed_hours
        } else {
            q.agents_staffed
        },
        q.open_at_end,
    )
}

fn queues_table(page: &mut String, measured: &Measured) {
    let _ = writeln!(
        page,
        "<h2>Queues over the period</h2>\n<div class=\"scroll\"><table><tr>\
         <th class=\"name\">queue</th>{}</tr>",
        figure_headers(true)
    );
    for q in &measured.figures.queues {
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{} &middot; {}</td>{}</tr>",
            escape(q.service.as_deref().unwrap_or("")),
            escape(q.channel.as_deref().unwrap_or("")),
            figure_cells(q, true)
        );
    }
    let figures = &measured.figures;
    for (name, q) in [("live queues", &figures.live), ("total", &figures.total)] {
        let _ = writeln!(
            page,
            "<tr class=\"total\"><td class=\"name\">{name}</td>{}</tr>",
            figure_cells(q, true)
        );
    }
    page.push_str("</table></div>\n");
    page.push_str(
        "<p class=\"note\">Contacts count in the interval they arrived in. Service level: answered \
         within the threshold (live channels) or by the due time (email, callbacks), over \
         answered, abandoned and still unanswered at the end past the threshold or due time; red \
         when below its target. Live queues: phone, face to face and chat together. Abandoned includes those who left within 5 s, shown apart. ASA: \
         mean wait of answered contacts from first arrival. AHT: handling plus wrap-up. FCR: \
         completed contacts resolved with no escalation or transfer. Agent hours staffed: the \
         hours agents who could take the queue were logged in and not on a break or otherwise \
         not ready (a multi-skilled agent counts in each queue they could take); per interval, \
         their average number. Definitions: \
         docs/reporting.md.</p>\n",
    );
}

/// Each interval's middle, in seconds from the first interval's start.
fn interval_middles(measured: &Measured) -> Vec<f64> {
    let start = measured.intervals.first().map_or(0, |i| i.start_ms);
    measured
        .intervals
        .iter()
        .map(|i| ((i.start_ms + i.end_ms) as f64 / 2.0 - start as f64) / 1000.0)
        .collect()
}

fn charts(page: &mut String, page_of: &ManagementPage<'_>) {
    let measured = page_of.measured;
    let at_secs = interval_middles(measured);
    let span_secs = measured
        .intervals
        .last()
        .zip(measured.intervals.first())
        .map_or(1.0, |(last, first)| {
            (last.end_ms - first.start_ms) as f64 / 1000.0
        });
    let time = TimeAxis {
        span_secs,
        ticks: page_of.ticks.to_vec(),
        title: page_of.time_title.to_owned(),
    };
    service_level_panels(page, measured, &at_secs, &time);
    contacts_panels(page, measured, &at_secs, &time);
    let staffed: Vec<f64> = measured
        .intervals
        .iter()
        .map(|i| i.total.agents_staffed)
        .collect();
    let busy: Vec<f64> = measured
        .intervals
        .iter()
        .map(|i| i.total.agents_staffed * i.total.occupancy.unwrap_or(0.0))
        .collect();
    page.push_str(
        "<h2>Agents per interval</h2>\n<p class=\"note\">The average number of agents staffed \
         (logged in and not on a break or otherwise not ready), and of those the number busy \
         (holding a contact or wrapping up).</p>\n",
    );
    let series = [
        ("staffed", "#2471a3", staffed.as_slice()),
        ("busy", "#c0392b", busy.as_slice()),
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

/// The service level of each live queue per interval, against its target.
fn service_level_panels(page: &mut String, measured: &Measured, at_secs: &[f64], time: &TimeAxis) {
    page.push_str(
        "<h2>Service level per interval</h2>\n<p class=\"note\">Live queues; each interval's \
         contacts by the interval they arrived in. The dashed line is the target.</p>\n\
         <div class=\"panels\">\n",
    );
    for (i, q) in measured.figures.queues.iter().enumerate() {
        if q.offered == 0 || !is_live(q.channel.as_deref()) {
            continue;
        }
        let values: Vec<f64> = measured
            .intervals
            .iter()
            .map(|interval| live_service_level(interval.queues.get(i).into_iter()))
            .collect();
        let targets: Vec<f64> = q
            .service_level_target
            .map(|t| t * 100.0)
            .into_iter()
            .collect();
        panel_title(page, q);
        let series = [("service level", "#2471a3", values.as_slice())];
        let axis = Axis::percent("% of contacts", &targets);
        chart(page, PANEL, at_secs, &series, &axis, time);
        page.push_str("</div>\n");
    }
    page.push_str("</div>\n");
}

/// Contacts offered, answered and abandoned per interval, for each queue.
fn contacts_panels(page: &mut String, measured: &Measured, at_secs: &[f64], time: &TimeAxis) {
    page.push_str(
        "<h2>Contacts per interval</h2>\n<p class=\"note\">Each interval's contacts by the \
         interval they arrived in, and of those the ones answered or abandoned by the end of the \
         period (an email that came in at night and was answered in the morning counts as \
         answered at night).</p>\n<div class=\"panels\">\n",
    );
    for (i, q) in measured.figures.queues.iter().enumerate() {
        if q.offered == 0 {
            continue;
        }
        let of = |f: fn(&QueueFigures) -> u64| -> Vec<f64> {
            measured
                .intervals
                .iter()
                .map(|interval| interval.queues.get(i).map_or(0.0, |q| f(q) as f64))
                .collect()
        };
        let (offered, answered, abandoned) =
            (of(|q| q.offered), of(|q| q.answered), of(|q| q.abandoned));
        panel_title(page, q);
        let series = [
            ("offered", "#2471a3", offered.as_slice()),
            ("of which answered", "#27ae60", answered.as_slice()),
            ("of which abandoned", "#c0392b", abandoned.as_slice()),
        ];
        chart(
            page,
            PANEL,
            at_secs,
            &series,
            &Axis::counts("contacts"),
            time,
        );
        page.push_str("</div>\n");
    }
    page.push_str("</div>\n");
}

fn panel_title(page: &mut String, q: &QueueFigures) {
    let _ = write!(
        page,
        "<div class=\"panel\"><h3>{} &middot; {}</h3>",
        escape(q.service.as_deref().unwrap_or("")),
        escape(q.channel.as_deref().unwrap_or(""))
    );
}

fn complaints_table(page: &mut String, measured: &Measured) {
    page.push_str(
        "<h2>Complaints against the Complaint Handling Code's timescales</h2>\n\
         <table><tr><th class=\"name\">stage</th><th>opened</th><th>responded</th>\
         <th>within timescale</th><th>breached</th><th>extended</th><th>to stage 2</th>\
         <th>to the Ombudsman</th><th>abandoned</th><th>open at end</th></tr>\n",
    );
    for c in &measured.complaints {
        let _ = write!(
            page,
            "<tr><td class=\"name\">{}</td>",
            escape(c.stage_name())
        );
        for (column, count) in c.counts().into_iter().enumerate() {
            // The published figure: within the timescale, with its share of the responses.
            if column == 2 {
                let _ = write!(page, "<td>{}</td>", c.within_timescale_text());
            } else {
                let _ = write!(page, "<td>{count}</td>");
            }
        }
        page.push_str("</tr>\n");
    }
    page.push_str(
        "</table>\n<p class=\"note\">Counted when they happened in the period: a stage reached, a \
         response (the complaint completed at that stage; within timescale when by the due time in \
         force, an extension included), a due time passed undone (breached) or extended. Open at \
         end: at that stage when the period ended.</p>\n",
    );
}

fn agents_table(page: &mut String, measured: &Measured) {
    let _ = writeln!(
        page,
        "<h2>Agents</h2>\n<details><summary>{} agents logged in during the period</summary>\
         <table><tr><th class=\"name\">agent</th><th class=\"name\">name</th><th class=\"name\">site</th>\
         <th class=\"name\">handled</th><th>AHT</th><th>logged in h</th><th>staffed h</th><th>busy h</th>\
         <th>occupancy</th><th class=\"name\">not ready</th></tr>",
        measured.agents.len()
    );
    for a in &measured.agents {
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{}</td><td class=\"name\">{}</td><td class=\"name\">{}</td>\
             <td class=\"name\">{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td>\
             <td>{:.1}%</td><td class=\"name\">{}</td></tr>",
            escape(&a.agent),
            escape(&a.name),
            escape(&a.site),
            escape(&a.handled_text()),
            duration_text(a.aht_seconds),
            a.logged_in_hours,
            a.staffed_hours,
            a.busy_hours,
            a.occupancy * 100.0,
            escape(&a.not_ready_text()),
        );
    }
    page.push_str("</table></details>\n");
}

/// Each queue's intervals, folded away; intervals with no contacts and nobody staffed are left
/// out.
fn interval_tables(page: &mut String, page_of: &ManagementPage<'_>) {
    let measured = page_of.measured;
    page.push_str("<h2>Queues per interval</h2>\n");
    for (i, q) in measured.figures.queues.iter().enumerate() {
        let rows: Vec<(usize, &QueueFigures)> = measured
            .intervals
            .iter()
            .enumerate()
            .filter_map(|(n, interval)| interval.queues.get(i).map(|q| (n, q)))
            .filter(|(_, q)| q.offered > 0 || q.agents_staffed > 0.0 || q.handlings > 0)
            .collect();
        let _ = writeln!(
            page,
            "<details><summary>{} &middot; {}: {} intervals</summary><div class=\"scroll\">\
             <table><tr><th class=\"name\">interval</th>{}</tr>",
            escape(q.service.as_deref().unwrap_or("")),
            escape(q.channel.as_deref().unwrap_or("")),
            rows.len(),
            figure_headers(false)
        );
        for (n, figures) in rows {
            let label = page_of.interval_labels.get(n).map_or("", String::as_str);
            let _ = writeln!(
                page,
                "<tr><td class=\"name\">{}</td>{}</tr>",
                escape(label),
                figure_cells(figures, false)
            );
        }
        page.push_str("</table></div></details>\n");
    }
}
