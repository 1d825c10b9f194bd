//! A self-contained HTML report of a run, written for a contact-centre manager: the headline
//! figures, the figures per queue and per site, and inline SVG charts over the day (contacts
//! waiting in each queue, the live service level against its target, agents by state). No
//! scripts, fonts or images from anywhere: one file that opens offline and fills the window.

use std::fmt::Write;

use switchboard_core::Channel;

use crate::figures::{Sample, duration_text};
use crate::simulator::SimulationRun;

/// A chart's drawing box, in SVG units (the page scales it to its width).
#[derive(Clone, Copy)]
struct Frame {
    width: f64,
    height: f64,
    /// Room for the y axis's labels and title.
    left: f64,
    right: f64,
    top: f64,
    /// Room for the time axis's labels and title.
    bottom: f64,
    /// Label font size.
    font: f64,
}

/// The wide charts (service level, agents).
const WIDE: Frame = Frame {
    width: 1200.0,
    height: 300.0,
    left: 70.0,
    right: 30.0,
    top: 16.0,
    bottom: 48.0,
    font: 14.0,
};

/// One panel of the waiting contacts per queue.
const PANEL: Frame = Frame {
    width: 600.0,
    height: 230.0,
    left: 60.0,
    right: 26.0,
    top: 14.0,
    bottom: 44.0,
    font: 14.0,
};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;line-height:1.4}\
h1{margin-bottom:0.2em}h2{margin-top:1.6em}.meta{color:#555;margin-top:0}\
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}\
td,th{padding:4px 8px;text-align:right;border-bottom:1px solid #ddd}td{white-space:nowrap}\
th{background:#f3f3f3;vertical-align:bottom}tr.total td{font-weight:bold;border-top:2px solid #999}\
td.name,th.name{text-align:left}td.below{color:#b03a2e;font-weight:bold}\
.headline{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0}\
.headline div{background:#f3f6f9;border:1px solid #d6dee6;border-radius:6px;padding:0.6em 1em;min-width:9em}\
.headline b{display:block;font-size:1.8em}\
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1em}\
.panel h3{margin:0.3em 0;font-size:1.05em}\
svg{display:block;width:100%;height:auto;background:#fcfcfc;border:1px solid #ddd}\
.legend span{margin-right:1.5em}.note{color:#555;font-size:0.95em}";

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
         the due time (email, callbacks) over offered; red when below its target. ASA: mean wait \
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
        chart(
            page,
            PANEL,
            samples,
            &[("waiting", "#c0392b", &waiting)],
            &Axis::counts("contacts"),
        );
        page.push_str("</div>\n");
    }
    page.push_str("</div>\n");

    let service_level: Vec<f64> = run
        .intervals
        .iter()
        .map(|interval| {
            let (within, counted) = interval
                .queues
                .iter()
                .filter(|q| is_live(q.channel.as_deref()))
                .fold((0, 0), |(within, counted), q| {
                    let failed_or_done = q.answered + q.abandoned + q.waiting_past_threshold;
                    (
                        within + q.answered_within_service_level,
                        counted + failed_or_done,
                    )
                });
            if counted == 0 {
                f64::NAN
            } else {
                100.0 * within as f64 / counted as f64
            }
        })
        .collect();
    let mut targets: Vec<f64> = queues
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
    chart(
        page,
        WIDE,
        samples,
        &[("answered within threshold", "#2471a3", &service_level)],
        &Axis {
            title: "% of contacts",
            max: Some(100.0),
            targets: &targets,
        },
    );

    let state = |f: fn(&Sample) -> u32| samples.iter().map(|s| f64::from(f(s))).collect::<Vec<_>>();
    page.push_str("<h2>Agents by state</h2>\n");
    chart(
        page,
        WIDE,
        samples,
        &[
            ("on contacts", "#c0392b", &state(|s| s.busy)),
            ("ready, idle", "#27ae60", &state(|s| s.idle)),
            ("wrap-up", "#f39c12", &state(|s| s.wrap_up)),
            ("not ready", "#7f8c8d", &state(|s| s.not_ready)),
        ],
        &Axis::counts("agents"),
    );
}

/// Whether a channel (by name) is live: the customer waits on it.
fn is_live(channel: Option<&str>) -> bool {
    channel.is_some_and(|name| crate::scenario::channel(name).is_ok_and(Channel::is_live))
}

/// A chart's y axis.
struct Axis<'a> {
    /// What is counted.
    title: &'a str,
    /// A fixed top (100 for a percentage), else the data's, rounded up to a tick.
    max: Option<f64>,
    /// Dashed horizontal lines, labelled `target`.
    targets: &'a [f64],
}

impl<'a> Axis<'a> {
    const fn counts(title: &'a str) -> Self {
        Self {
            title,
            max: None,
            targets: &[],
        }
    }
}

/// A tick step of 1, 2 or 5 times a power of ten giving at most five steps up to `max`.
fn tick_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1.0);
    let power = 10_f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

/// One SVG line chart of `series` over the samples' times, with labelled axes and gridlines.
fn chart(
    page: &mut String,
    frame: Frame,
    samples: &[Sample],
    series: &[(&str, &str, &[f64])],
    axis: &Axis<'_>,
) {
    let Frame {
        width,
        height,
        left,
        right,
        top,
        bottom,
        font,
    } = frame;
    let t_max = samples.last().map_or(1.0, |s| s.at_secs as f64).max(1.0);
    let data_max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (v_max, step) = match axis.max {
        Some(max) => (max, 20.0),
        None => {
            let step = tick_step(data_max);
            ((data_max / step).ceil().max(1.0) * step, step)
        }
    };
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let x = |t: f64| left + t / t_max * plot_w;
    let y = |v: f64| top + plot_h - v / v_max * plot_h;
    if series.len() > 1 {
        let _ = write!(
            page,
            "<div class=\"legend\">{}</div>",
            series
                .iter()
                .map(|(name, colour, _)| format!(
                    "<span><b style=\"color:{colour}\">&#9632;</b> {}</span>",
                    escape(name)
                ))
                .collect::<String>()
        );
    }
    let _ = write!(
        page,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" font-size=\"{font}\" \
         font-family=\"system-ui,sans-serif\" role=\"img\">"
    );
    // The y axis: gridlines and labels at each tick, and its title.
    let mut v = 0.0;
    while v <= v_max + step / 2.0 {
        let _ = write!(
            page,
            "<line x1=\"{left}\" y1=\"{py:.1}\" x2=\"{r:.1}\" y2=\"{py:.1}\" stroke=\"{}\"/>\
             <text x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{v}</text>",
            if v == 0.0 { "#888" } else { "#e4e4e4" },
            py = y(v),
            r = width - right,
            lx = left - 6.0,
            ty = y(v) + font * 0.35,
        );
        v += step;
    }
    let _ = write!(
        page,
        "<text transform=\"translate({tx:.1},{ty:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
        escape(axis.title),
        tx = font,
        ty = top + plot_h / 2.0,
    );
    // The time axis: a tick and label every few hours (every day on runs of several days).
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "hours in the run, non-negative, capped just after"
    )]
    let hours = ((t_max / 3600.0) as u64).min(24 * 31);
    let step_hours = if t_max > 3.0 * 86_400.0 {
        24
    } else if plot_w < 800.0 {
        4
    } else {
        2
    };
    for hour in (0..=hours).step_by(step_hours) {
        let t = hour as f64 * 3600.0;
        let label = if step_hours == 24 {
            format!("day {}", hour / 24 + 1)
        } else {
            format!("{:02}:00", hour % 24)
        };
        let _ = write!(
            page,
            "<line x1=\"{px:.1}\" y1=\"{top}\" x2=\"{px:.1}\" y2=\"{b:.1}\" stroke=\"#f0f0f0\"/>\
             <line x1=\"{px:.1}\" y1=\"{b:.1}\" x2=\"{px:.1}\" y2=\"{b5:.1}\" stroke=\"#888\"/>\
             <text x=\"{px:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{label}</text>",
            px = x(t),
            b = top + plot_h,
            b5 = top + plot_h + 5.0,
            ly = top + plot_h + font + 6.0,
        );
    }
    let _ = write!(
        page,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b:.1}\" stroke=\"#888\"/>\
         <text x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\" fill=\"#555\">time of day (UTC)</text>",
        b = top + plot_h,
        cx = left + plot_w / 2.0,
        ty = height - 6.0,
    );
    for target in axis.targets {
        let _ = write!(
            page,
            "<line x1=\"{left}\" y1=\"{py:.1}\" x2=\"{r:.1}\" y2=\"{py:.1}\" stroke=\"#1e8449\" \
             stroke-width=\"2\" stroke-dasharray=\"8 5\"/>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" fill=\"#1e8449\" font-weight=\"bold\">target {target:.0}%</text>",
            py = y(*target),
            r = width - right,
            tx = width - right - 4.0,
            ty = y(*target) - 5.0,
        );
    }
    for (_, colour, values) in series {
        let mut points = String::new();
        for (s, v) in samples.iter().zip(values.iter()) {
            if v.is_finite() {
                let _ = write!(points, "{:.1},{:.1} ", x(s.at_secs as f64), y(*v));
            }
        }
        let _ = write!(
            page,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            points.trim_end()
        );
    }
    page.push_str("</svg>\n");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
