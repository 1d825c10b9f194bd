//! The figures as text for a terminal: durations a manager reads at a glance, and the table
//! `switchboard simulate` prints.

use super::{AgentFigures, ComplaintFigures, Figures};

/// A span of seconds as a manager reads it: `42 s`, `4 min 05 s`, `2 h 33 min`.
#[must_use]
pub fn duration_text(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".to_owned();
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "finite and non-negative, rounded to whole seconds"
    )]
    let whole = secs.round() as u64;
    if whole < 60 {
        format!("{whole} s")
    } else if whole < 3600 {
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        let minutes = (whole + 30) / 60;
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

/// `text()` when the figure is defined, else `-` (the ASA of an interval nobody was answered in).
#[must_use]
pub fn or_dash(defined: bool, text: impl FnOnce() -> String) -> String {
    if defined { text() } else { "-".to_owned() }
}

impl ComplaintFigures {
    /// The stage as a council's table names it: `stage 1`, `stage 2`, `Ombudsman`.
    #[must_use]
    pub fn stage_name(&self) -> &str {
        match self.stage.as_str() {
            "stage_1" => "stage 1",
            "stage_2" => "stage 2",
            "ombudsman" => "Ombudsman",
            other => other,
        }
    }

    /// The counts in the order of the published table: opened, responded, within timescale,
    /// breached, extended, to stage 2, to the Ombudsman, abandoned, open at the end.
    #[must_use]
    pub const fn counts(&self) -> [u64; 9] {
        [
            self.opened,
            self.closed,
            self.closed_within_timescale,
            self.breached,
            self.extended,
            self.escalated_to_stage_2,
            self.referred_to_ombudsman,
            self.abandoned,
            self.open_at_end,
        ]
    }
}

impl ComplaintFigures {
    /// The published figure: the share of responses at this stage within the timescale
    /// (`None` without responses).
    #[must_use]
    pub fn within_timescale_share(&self) -> Option<f64> {
        (self.closed > 0).then(|| self.closed_within_timescale as f64 / self.closed as f64)
    }

    /// The count within the timescale and its share of the responses: `58 (100.0%)`.
    #[must_use]
    pub fn within_timescale_text(&self) -> String {
        self.within_timescale_share().map_or_else(
            || self.closed_within_timescale.to_string(),
            |share| format!("{} ({:.1}%)", self.closed_within_timescale, share * 100.0),
        )
    }
}

impl AgentFigures {
    /// Contacts handled per channel: `phone 31, chat 4`.
    #[must_use]
    pub fn handled_text(&self) -> String {
        let parts: Vec<String> = self
            .handled
            .iter()
            .map(|c| format!("{} {}", c.channel, c.count))
            .collect();
        parts.join(", ")
    }

    /// Time in each not-ready reason: `break 45 min 00 s, training 1 h 00 min`.
    #[must_use]
    pub fn not_ready_text(&self) -> String {
        let parts: Vec<String> = self
            .not_ready
            .iter()
            .map(|r| format!("{} {}", r.reason, duration_text(r.hours * 3600.0)))
            .collect();
        parts.join(", ")
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write_queues(f)?;
        writeln!(f)?;
        self.write_open_and_occupancy(f)?;
        self.write_sites(f)
    }
}

impl Figures {
    /// The table per queue, with the total last.
    fn write_queues(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<24} {:<13} {:>8} {:>8} {:>9} {:>5} {:>7} {:>12} {:>12} {:>8} {:>6} {:>6}",
            "service",
            "channel",
            "offered",
            "answered",
            "abandoned",
            "open",
            "SL",
            "ASA",
            "AHT",
            "agent h",
            "FCR",
            "breach"
        )?;
        for q in self.queues.iter().chain(std::iter::once(&self.total)) {
            writeln!(
                f,
                "{:<24} {:<13} {:>8} {:>8} {:>9} {:>5} {:>6.1}% {:>12} {:>12} {:>8.1} {:>5.1}% {:>6}",
                q.service.as_deref().unwrap_or("total"),
                q.channel.as_deref().unwrap_or(""),
                q.offered,
                q.answered,
                q.abandoned,
                q.open_at_end,
                q.service_level * 100.0,
                duration_text(q.asa_seconds),
                duration_text(q.aht_seconds),
                q.agent_hours,
                q.first_contact_resolution * 100.0,
                q.due_breaches
            )?;
        }
        Ok(())
    }

    /// The contacts still open at the end, and the overall occupancy.
    fn write_open_and_occupancy(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open: Vec<String> = self
            .queues
            .iter()
            .filter(|q| q.open_at_end > 0)
            .map(|q| {
                format!(
                    "{} {} {}",
                    q.service.as_deref().unwrap_or(""),
                    q.channel.as_deref().unwrap_or(""),
                    q.open_at_end
                )
            })
            .collect();
        writeln!(
            f,
            "Open at the end: {} of the {} contacts offered were still waiting or in hand{}.",
            self.total.open_at_end,
            self.total.offered,
            if open.is_empty() {
                String::new()
            } else {
                format!(" ({})", open.join(", "))
            }
        )?;
        writeln!(
            f,
            "Occupancy (staffed time holding a contact or in wrap-up): {:.1}% overall.",
            self.total.occupancy.unwrap_or(0.0) * 100.0
        )
    }

    /// Occupancy per site.
    fn write_sites(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.sites.is_empty() {
            return Ok(());
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<24} {:>6} {:>10} {:>10} {:>9}",
            "site", "agents", "staffed h", "busy h", "occupancy"
        )?;
        for site in &self.sites {
            writeln!(
                f,
                "{:<24} {:>6} {:>10.1} {:>10.1} {:>8.1}%",
                site.site,
                site.agents,
                site.staffed_hours,
                site.busy_hours,
                site.occupancy * 100.0
            )?;
        }
        Ok(())
    }
}
