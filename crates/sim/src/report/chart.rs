//! The pieces every HTML page here shares: the style sheet, escaping, and inline SVG line
//! charts over time with labelled axes and gridlines (no scripts, fonts or images).

use std::fmt::Write;

/// A chart's drawing box, in SVG units (the page scales it to its width).
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) width: f64,
    pub(crate) height: f64,
    /// Room for the y axis's labels and title.
    pub(crate) left: f64,
    pub(crate) right: f64,
    pub(crate) top: f64,
    /// Room for the time axis's labels and title.
    pub(crate) bottom: f64,
    /// Label font size.
    pub(crate) font: f64,
}

impl Frame {
    fn plot_width(&self) -> f64 {
        self.width - self.left - self.right
    }

    fn plot_height(&self) -> f64 {
        self.height - self.top - self.bottom
    }

    fn floor(&self) -> f64 {
        self.top + self.plot_height()
    }
}

/// The wide charts.
pub(crate) const WIDE: Frame = Frame {
    width: 1200.0,
    height: 300.0,
    left: 70.0,
    right: 30.0,
    top: 16.0,
    bottom: 48.0,
    font: 14.0,
};

/// One panel of a grid of charts, one per queue.
pub(crate) const PANEL: Frame = Frame {
    width: 600.0,
    height: 230.0,
    left: 60.0,
    right: 26.0,
    top: 14.0,
    bottom: 44.0,
    font: 14.0,
};

/// The pages' style sheet.
pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;line-height:1.4}\
h1{margin-bottom:0.2em}h2{margin-top:1.6em}.meta{color:#555;margin-top:0}\
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:0.9em}\
td,th{padding:4px 4px;text-align:right;border-bottom:1px solid #ddd}td{white-space:nowrap}\
th{background:#f3f3f3;vertical-align:bottom}tr.total td{font-weight:bold;border-top:2px solid #999}\
td.name,th.name{text-align:left;white-space:normal}td.below{color:#b03a2e;font-weight:bold}\
.headline{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0}\
.headline div{background:#f3f6f9;border:1px solid #d6dee6;border-radius:6px;padding:0.6em 1em;min-width:9em}\
.headline b{display:block;font-size:1.8em}\
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1em}\
.panel h3{margin:0.3em 0;font-size:1.05em}\
details{margin:0.6em 0}summary{cursor:pointer;font-weight:600}.scroll{overflow-x:auto}\
svg{display:block;width:100%;height:auto;background:#fcfcfc;border:1px solid #ddd}\
.legend span{margin-right:1.5em}.note{color:#555;font-size:0.95em}";

/// A chart's y axis.
pub(crate) struct Axis<'a> {
    /// What is counted.
    pub(crate) title: &'a str,
    /// A fixed top (100 for a percentage), else the data's, rounded up to a tick.
    pub(crate) max: Option<f64>,
    /// Dashed horizontal lines, labelled `target`.
    pub(crate) targets: &'a [f64],
}

impl<'a> Axis<'a> {
    pub(crate) const fn counts(title: &'a str) -> Self {
        Self {
            title,
            max: None,
            targets: &[],
        }
    }

    pub(crate) const fn percent(title: &'a str, targets: &'a [f64]) -> Self {
        Self {
            title,
            max: Some(100.0),
            targets,
        }
    }
}

/// A chart's time axis: seconds from its start, labelled ticks and a title.
pub(crate) struct TimeAxis {
    /// The span shown, in seconds.
    pub(crate) span_secs: f64,
    /// Where to put a tick (seconds from the start) and what to write under it.
    pub(crate) ticks: Vec<(f64, String)>,
    /// The axis title, saying the time zone.
    pub(crate) title: String,
}

/// A line: its name, colour and a value at each of the chart's times (NaN: no point).
pub(crate) type Series<'a> = (&'a str, &'a str, &'a [f64]);

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

/// One SVG line chart of `series`, each value at the time in `at_secs` of the same index.
pub(crate) fn chart(
    page: &mut String,
    frame: Frame,
    at_secs: &[f64],
    series: &[Series<'_>],
    axis: &Axis<'_>,
    time: &TimeAxis,
) {
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
    legend(page, series);
    let Frame {
        width,
        height,
        font,
        ..
    } = frame;
    let _ = write!(
        page,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" font-size=\"{font}\" \
         font-family=\"system-ui,sans-serif\" role=\"img\">"
    );
    let plot = Plot {
        frame,
        t_max: time.span_secs.max(1.0),
        v_max,
    };
    y_axis(page, &plot, step, axis);
    time_axis(page, &plot, time);
    for target in axis.targets {
        target_line(page, &plot, *target);
    }
    for (_, colour, values) in series {
        lines(page, &plot, colour, at_secs, values);
    }
    page.push_str("</svg>\n");
}

/// A series as lines through its points, broken where a value is missing (NaN: an interval
/// with nothing to measure), so no line is drawn across a night or a gap.
fn lines(page: &mut String, plot: &Plot, colour: &str, at_secs: &[f64], values: &[f64]) {
    let mut points = String::new();
    let mut flush = |points: &mut String| {
        if !points.is_empty() {
            let _ = write!(
                page,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                points.trim_end()
            );
            points.clear();
        }
    };
    for (t, v) in at_secs.iter().zip(values) {
        if v.is_finite() {
            let _ = write!(points, "{:.1},{:.1} ", plot.x(*t), plot.y(*v));
        } else {
            flush(&mut points);
        }
    }
    flush(&mut points);
}

/// A chart's frame and scales.
struct Plot {
    frame: Frame,
    t_max: f64,
    v_max: f64,
}

impl Plot {
    fn x(&self, t: f64) -> f64 {
        self.frame.left + t / self.t_max * self.frame.plot_width()
    }

    fn y(&self, v: f64) -> f64 {
        self.frame.top + self.frame.plot_height() - v / self.v_max * self.frame.plot_height()
    }
}

fn legend(page: &mut String, series: &[Series<'_>]) {
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
}

/// The y axis: gridlines and labels at each tick, and its title.
fn y_axis(page: &mut String, plot: &Plot, step: f64, axis: &Axis<'_>) {
    let f = plot.frame;
    let mut v = 0.0;
    while v <= plot.v_max + step / 2.0 {
        let _ = write!(
            page,
            "<line x1=\"{}\" y1=\"{py:.1}\" x2=\"{r:.1}\" y2=\"{py:.1}\" stroke=\"{}\"/>\
             <text x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{v}</text>",
            f.left,
            if v == 0.0 { "#888" } else { "#e4e4e4" },
            py = plot.y(v),
            r = f.width - f.right,
            lx = f.left - 6.0,
            ty = plot.y(v) + f.font * 0.35,
        );
        v += step;
    }
    let _ = write!(
        page,
        "<text transform=\"translate({tx:.1},{ty:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
        escape(axis.title),
        tx = f.font,
        ty = f.top + f.plot_height() / 2.0,
    );
}

/// The time axis: a tick, a faint gridline and a label at each tick, and the title.
fn time_axis(page: &mut String, plot: &Plot, time: &TimeAxis) {
    let f = plot.frame;
    // Labels apart by their own width at the least: every k-th tick when they are denser.
    let widest = time
        .ticks
        .iter()
        .map(|(_, l)| l.chars().count())
        .max()
        .unwrap_or(0);
    let label_width = widest as f64 * f.font * 0.62 + 14.0;
    let fits = (f.plot_width() / label_width).max(1.0);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a small positive ratio of counts"
    )]
    let every = ((time.ticks.len() as f64 / fits).ceil() as usize).max(1);
    for (t, label) in time.ticks.iter().step_by(every) {
        let _ = write!(
            page,
            "<line x1=\"{px:.1}\" y1=\"{}\" x2=\"{px:.1}\" y2=\"{b:.1}\" stroke=\"#f0f0f0\"/>\
             <line x1=\"{px:.1}\" y1=\"{b:.1}\" x2=\"{px:.1}\" y2=\"{b5:.1}\" stroke=\"#888\"/>\
             <text x=\"{px:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{}</text>",
            f.top,
            escape(label),
            px = plot.x(*t),
            b = f.floor(),
            b5 = f.floor() + 5.0,
            ly = f.floor() + f.font + 6.0,
        );
    }
    let _ = write!(
        page,
        "<line x1=\"{l}\" y1=\"{}\" x2=\"{l}\" y2=\"{b:.1}\" stroke=\"#888\"/>\
         <text x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
        f.top,
        escape(&time.title),
        l = f.left,
        b = f.floor(),
        cx = f.left + f.plot_width() / 2.0,
        ty = f.height - 6.0,
    );
}

/// A dashed horizontal line at `target` percent, labelled.
fn target_line(page: &mut String, plot: &Plot, target: f64) {
    let f = plot.frame;
    let _ = write!(
        page,
        "<line x1=\"{}\" y1=\"{py:.1}\" x2=\"{r:.1}\" y2=\"{py:.1}\" stroke=\"#1e8449\" \
         stroke-width=\"2\" stroke-dasharray=\"8 5\"/>\
         <text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" fill=\"#1e8449\" font-weight=\"bold\">target {target:.0}%</text>",
        f.left,
        py = plot.y(target),
        r = f.width - f.right,
        tx = f.width - f.right - 4.0,
        ty = plot.y(target) - 5.0,
    );
}

/// Text made safe for HTML.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
