//! A self-contained HTML report of a run: the figures and inline SVG charts over the day (queue
//! length, service level per interval, agent states). No scripts, fonts or images from
//! anywhere: one file that opens offline.

use std::fmt::Write;

use crate::figures::Sample;
use crate::simulator::SimulationRun;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 220.0;
const MARGIN: f64 = 40.0;

/// The report of `run`, as one HTML page.
#[must_use]
pub fn html(name: &str, description: &str, run: &SimulationRun) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Simulation: {}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse}}td,th{{padding:2px 8px;text-align:right;border-bottom:1px solid #ddd}}\
         td:first-child,td:nth-child(2),th:first-child,th:nth-child(2){{text-align:left}}\
         svg{{background:#fafafa;border:1px solid #ddd;margin:0.5em 0}}.legend span{{margin-right:1em}}</style>\
         </head><body>\n<h1>Simulation: {}</h1>\n<p>{}</p>\n<p>{} to {}: {} contacts, {} events.</p>\n",
        escape(name),
        escape(name),
        escape(description),
        run.start,
        run.end,
        run.contacts,
        run.events
    );
    page.push_str("<h2>Figures</h2>\n<table><tr><th>service</th><th>channel</th><th>offered</th><th>answered</th><th>abandoned</th><th>service level</th><th>ASA (s)</th><th>AHT (s)</th><th>occupancy</th><th>FCR</th><th>due breaches</th></tr>\n");
    for q in run
        .figures
        .queues
        .iter()
        .chain(std::iter::once(&run.figures.total))
    {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}%</td><td>{:.1}%</td><td>{}</td></tr>",
            escape(q.service.as_deref().unwrap_or("total")),
            escape(q.channel.as_deref().unwrap_or("")),
            q.offered,
            q.answered,
            q.abandoned,
            q.service_level * 100.0,
            q.asa_seconds,
            q.aht_seconds,
            q.occupancy * 100.0,
            q.first_contact_resolution * 100.0,
            q.due_breaches
        );
    }
    page.push_str("</table>\n");
    let samples = &run.samples;
    let waiting: Vec<f64> = samples.iter().map(|s| f64::from(s.waiting)).collect();
    let service_level: Vec<f64> = samples
        .iter()
        .map(|s| {
            if s.resolved_live == 0 {
                f64::NAN
            } else {
                100.0 * f64::from(s.within_service_level) / f64::from(s.resolved_live)
            }
        })
        .collect();
    let state = |f: fn(&Sample) -> u32| samples.iter().map(|s| f64::from(f(s))).collect::<Vec<_>>();
    page.push_str("<h2>Contacts waiting</h2>\n");
    chart(
        &mut page,
        samples,
        &[("waiting", "#c0392b", &waiting)],
        None,
    );
    page.push_str("<h2>Live service level per interval (%)</h2>\n");
    chart(
        &mut page,
        samples,
        &[("answered within threshold", "#2471a3", &service_level)],
        Some(100.0),
    );
    page.push_str("<h2>Agents by state</h2>\n");
    chart(
        &mut page,
        samples,
        &[
            ("busy", "#c0392b", &state(|s| s.busy)),
            ("idle", "#27ae60", &state(|s| s.idle)),
            ("wrap-up", "#f39c12", &state(|s| s.wrap_up)),
            ("not ready", "#7f8c8d", &state(|s| s.not_ready)),
        ],
        None,
    );
    page.push_str("</body></html>\n");
    page
}

/// One SVG line chart of `series` over the samples' times.
fn chart(
    page: &mut String,
    samples: &[Sample],
    series: &[(&str, &str, &[f64])],
    y_max: Option<f64>,
) {
    let t_max = samples.last().map_or(1.0, |s| s.at_secs as f64).max(1.0);
    let v_max = y_max.unwrap_or_else(|| {
        series
            .iter()
            .flat_map(|(_, _, v)| v.iter().copied())
            .filter(|v| v.is_finite())
            .fold(1.0, f64::max)
    });
    let x = |t: f64| MARGIN + t / t_max * (WIDTH - 2.0 * MARGIN);
    let y = |v: f64| HEIGHT - MARGIN + -v / v_max * (HEIGHT - 2.0 * MARGIN);
    let _ = write!(
        page,
        "<div class=\"legend\">{}</div>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\">",
        series
            .iter()
            .map(|(name, colour, _)| format!(
                "<span style=\"color:{colour}\">&#9632; {}</span>",
                escape(name)
            ))
            .collect::<String>()
    );
    let _ = write!(
        page,
        "<line x1=\"{MARGIN}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#999\"/><line x1=\"{MARGIN}\" y1=\"{MARGIN}\" x2=\"{MARGIN}\" y2=\"{b}\" stroke=\"#999\"/>\
         <text x=\"4\" y=\"{top}\" font-size=\"11\">{v_max:.0}</text><text x=\"4\" y=\"{b}\" font-size=\"11\">0</text>",
        b = HEIGHT - MARGIN,
        r = WIDTH - MARGIN,
        top = MARGIN + 4.0,
    );
    #[allow(
        clippy::cast_possible_truncation,
        reason = "hours in the run, capped just after"
    )]
    let hours = ((t_max / 3600.0) as u64).min(24 * 31);
    for hour in 0..=hours {
        let step = if t_max > 3.0 * 86_400.0 { 24 } else { 2 };
        if hour % step != 0 {
            continue;
        }
        let t = hour as f64 * 3600.0;
        let label = if step == 24 {
            format!("day {}", hour / 24 + 1)
        } else {
            format!("{:02}:00", hour % 24)
        };
        let _ = write!(
            page,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{label}</text>",
            x(t),
            HEIGHT - MARGIN + 14.0
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
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
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
