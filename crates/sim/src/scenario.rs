//! Scenario files: a contact centre's day in TOML, as docs/simulation.md describes.
//!
//! A scenario names the streams of contacts that arrive (per service and channel, Poisson with
//! an hour-by-hour profile), how long they take to handle, how patient the customers are, and the
//! groups of agents with their shifts, breaks, skills, tiers and sites. The routing
//! configuration is not part of this crate: a scenario may carry a `[routing]` and a
//! `[complaints]` table with the same keys as the serve configuration's, which the command line
//! turns into a [`switchboard_core::RoutingConfig`].

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_core::{Channel, ComplaintStage, Level, Priority, Tier};

use crate::error::SimError;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name for reports.
    pub name: String,
    /// What it models, for reports.
    #[serde(default)]
    pub description: String,
    /// The first simulated day, `YYYY-MM-DD` (times of day are UTC).
    #[serde(default = "default_start_date")]
    pub start_date: String,
    /// How many days to simulate; every day repeats the same arrivals and rota.
    #[serde(default = "one_day")]
    pub days: u32,
    /// Contacts arriving this many minutes after the first day's first arrival window opens are
    /// counted; earlier ones run but are left out of the figures (a warm-up).
    #[serde(default)]
    pub warmup_minutes: u32,
    /// The width of a report interval (the charts' resolution), in minutes.
    #[serde(default = "fifteen")]
    pub sample_minutes: u32,
    /// The routing configuration, with the keys of `[routing]` in the serve configuration file.
    /// Interpreted by the command line; absent means the built-in defaults.
    #[serde(default)]
    pub routing: Option<toml::Table>,
    /// The complaint policy, with the keys of `[complaints]` in the serve configuration file
    /// (the skill every complaint needs, the designated officers' skill, the time limits).
    /// Interpreted by the command line; absent means the built-in policy, whose skill is
    /// `customer_relations`.
    #[serde(default)]
    pub complaints: Option<toml::Table>,
    /// The streams of contacts.
    #[serde(default)]
    pub arrivals: Vec<ArrivalStream>,
    /// The groups of agents.
    #[serde(default)]
    pub agents: Vec<AgentGroup>,
}

fn default_start_date() -> String {
    "2026-11-23".to_owned()
}
const fn one_day() -> u32 {
    1
}
const fn fifteen() -> u32 {
    15
}

/// A random duration in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Exponential with this mean (the M of M/M/N).
    Exponential {
        /// The mean, in seconds.
        mean_secs: f64,
    },
    /// Lognormal with this mean and standard deviation (handle times usually look like this).
    Lognormal {
        /// The mean, in seconds.
        mean_secs: f64,
        /// The standard deviation, in seconds.
        sd_secs: f64,
    },
    /// Always the same.
    Fixed {
        /// The duration, in seconds.
        secs: f64,
    },
}

impl Distribution {
    /// The mean, in seconds.
    #[must_use]
    pub const fn mean_secs(&self) -> f64 {
        match *self {
            Self::Exponential { mean_secs } | Self::Lognormal { mean_secs, .. } => mean_secs,
            Self::Fixed { secs } => secs,
        }
    }

    /// A draw in seconds from two independent uniforms in `[0, 1)` (the second is used by the
    /// lognormal only). Inverse transform for the exponential, Box-Muller for the lognormal, so
    /// that no distributions crate is needed.
    #[must_use]
    pub fn sample_secs(&self, u1: f64, u2: f64) -> f64 {
        match *self {
            Self::Exponential { mean_secs } => -mean_secs * (1.0 - u1).ln(),
            Self::Lognormal { mean_secs, sd_secs } => {
                let sigma2 = (1.0 + (sd_secs / mean_secs).powi(2)).ln();
                let mu = mean_secs.ln() - sigma2 / 2.0;
                let normal = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (mu + sigma2.sqrt() * normal).exp()
            }
            Self::Fixed { secs } => secs,
        }
    }

    fn validate(&self, field: &str) -> Result<(), SimError> {
        let ok = match *self {
            Self::Exponential { mean_secs } => mean_secs.is_finite() && mean_secs > 0.0,
            Self::Lognormal { mean_secs, sd_secs } => {
                mean_secs.is_finite() && mean_secs > 0.0 && sd_secs.is_finite() && sd_secs > 0.0
            }
            Self::Fixed { secs } => secs.is_finite() && secs >= 0.0,
        };
        if ok {
            Ok(())
        } else {
            Err(SimError::Invalid(format!(
                "{field}: the mean (and standard deviation) must be positive finite seconds"
            )))
        }
    }
}

/// A stream of contacts of one service on one channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalStream {
    /// The service area, e.g. `council_tax`.
    pub service: String,
    /// The channel: `phone`, `face_to_face`, `chat`, `email` or `callback`.
    pub channel: String,
    /// When the stream opens each day, `HH:MM`.
    #[serde(default = "opening")]
    pub from: String,
    /// When it closes each day, `HH:MM`.
    #[serde(default = "closing")]
    pub to: String,
    /// Mean contacts per hour (Poisson), before the profile.
    pub per_hour: f64,
    /// Multipliers of `per_hour` for each successive hour from `from` (a time-of-day profile);
    /// hours past the end of the list use 1.
    #[serde(default)]
    pub profile: Vec<f64>,
    /// The handle time (talk or work, not wrap-up: the routing configuration adds that).
    pub handle: Distribution,
    /// Live channels: how long a customer waits before giving up. Absent: they never do.
    #[serde(default)]
    pub patience: Option<Distribution>,
    /// Skills the contacts need (skill to level); absent: the service's own skill at level 1.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    /// Sites the contacts come in at, chosen uniformly (face to face needs at least one).
    #[serde(default)]
    pub sites: Vec<String>,
    /// The share of contacts needing each community language, e.g. `{ polish = 0.03 }`.
    #[serde(default)]
    pub languages: BTreeMap<String, f64>,
    /// The share of customers flagged vulnerable (they get the configured priority boost).
    #[serde(default)]
    pub vulnerable_share: f64,
    /// The share of contacts raising a safeguarding concern.
    #[serde(default)]
    pub safeguarding_share: f64,
    /// The priority, 0 (routine) to 9.
    #[serde(default)]
    pub priority: u8,
    /// Deferred work: due this many hours after arrival (absent: the channel's default).
    #[serde(default)]
    pub due_after_hours: Option<f64>,
    /// Complaints: the stage (`stage_1`, `stage_2`, `ombudsman`).
    #[serde(default)]
    pub complaint_stage: Option<String>,
    /// The share of completed contacts resolved (the rest are referred on).
    #[serde(default = "all")]
    pub resolve_share: f64,
    /// The share of contacts the first agent escalates up a tier (once at most).
    #[serde(default)]
    pub escalate_share: f64,
    /// The share of contacts transferred to `transfer_to` (once at most).
    #[serde(default)]
    pub transfer_share: f64,
    /// The service transfers go to.
    #[serde(default)]
    pub transfer_to: Option<String>,
}

fn opening() -> String {
    "08:30".to_owned()
}
fn closing() -> String {
    "17:00".to_owned()
}
const fn all() -> f64 {
    1.0
}

/// A group of identical agents (ids `<name>-01`, `<name>-02`...).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentGroup {
    /// The group's name, the prefix of its agents' ids.
    pub name: String,
    /// How many agents.
    pub count: u32,
    /// Their escalation tier, 1 to 5.
    #[serde(default = "tier_one")]
    pub tier: u8,
    /// Where they work.
    #[serde(default = "contact_centre")]
    pub site: String,
    /// Skills (and languages) with proficiency 1 to 5.
    pub skills: BTreeMap<String, u8>,
    /// Capacity per channel; absent: the routing configuration's channel defaults.
    #[serde(default)]
    pub channels: Option<BTreeMap<String, u8>>,
    /// Their shift each day.
    #[serde(default)]
    pub shift: Shift,
    /// Breaks each day.
    #[serde(default)]
    pub breaks: Vec<Break>,
    /// The mean time (exponential) an agent takes to answer an offer, in seconds.
    #[serde(default = "three")]
    pub think_secs: f64,
    /// The share of offers rejected.
    #[serde(default)]
    pub reject_share: f64,
    /// The share of offers left to expire (the agent is away from the desk).
    #[serde(default)]
    pub miss_share: f64,
}

const fn tier_one() -> u8 {
    1
}
fn contact_centre() -> String {
    "contact_centre".to_owned()
}
const fn three() -> f64 {
    3.0
}

/// A daily shift.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// Log in, `HH:MM`.
    pub from: String,
    /// Stop taking work, `HH:MM` (live work in hand is finished first, then they log out).
    pub to: String,
}

impl Default for Shift {
    fn default() -> Self {
        Self {
            from: opening(),
            to: closing(),
        }
    }
}

/// A daily break, staggered across the group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Break {
    /// When the group's first agent goes, `HH:MM`.
    pub at: String,
    /// How long, in minutes.
    pub minutes: u32,
    /// The group's agents go at even steps over this many minutes from `at`.
    #[serde(default)]
    pub stagger_minutes: u32,
}

impl Scenario {
    /// Parses and checks a scenario file's text.
    ///
    /// # Errors
    /// [`SimError::Parse`] naming the line for syntax and unknown keys; [`SimError::Invalid`]
    /// naming the field for values out of range.
    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        let scenario: Self =
            toml::from_str(text).map_err(|e| SimError::Parse(e.to_string().trim().to_owned()))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Checks every value; see [`Scenario::from_toml`].
    ///
    /// # Errors
    /// [`SimError::Invalid`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Invalid(m));
        start_day(&self.start_date)?;
        if self.days == 0 || self.days > 3660 {
            return bad(format!("days must be 1 to 3660, got {}", self.days));
        }
        if self.sample_minutes == 0 {
            return bad("sample_minutes must be at least 1".to_owned());
        }
        for (i, s) in self.arrivals.iter().enumerate() {
            s.validate(&format!("arrivals[{i}] ({} {})", s.service, s.channel))?;
        }
        for (i, g) in self.agents.iter().enumerate() {
            g.validate(&format!("agents[{i}] ({})", g.name))?;
        }
        Ok(())
    }
}

impl ArrivalStream {
    /// Checks the stream's values; `at` names it in the error.
    fn validate(&self, at: &str) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Invalid(m));
        let channel =
            channel(&self.channel).map_err(|e| SimError::Invalid(format!("{at}: {e}")))?;
        let (from, to) = (minute_of_day(&self.from)?, minute_of_day(&self.to)?);
        if to <= from {
            return bad(format!("{at}: `to` must be after `from`"));
        }
        if !(self.per_hour.is_finite() && self.per_hour >= 0.0) {
            return bad(format!("{at}: per_hour must be a rate of at least 0"));
        }
        if self.profile.iter().any(|f| !(f.is_finite() && *f >= 0.0)) {
            return bad(format!("{at}: profile multipliers must be at least 0"));
        }
        self.handle.validate(&format!("{at}.handle"))?;
        if let Some(p) = &self.patience {
            p.validate(&format!("{at}.patience"))?;
            if !channel.is_live() {
                return bad(format!("{at}: patience applies only to live channels"));
            }
        }
        for (skill, level) in &self.skills {
            if Level::new(*level).is_none() {
                return bad(format!("{at}: skill {skill} level must be 1 to 5"));
            }
        }
        if channel == Channel::FaceToFace && self.sites.is_empty() {
            return bad(format!("{at}: face-to-face contacts need `sites`"));
        }
        let shares = [
            ("vulnerable_share", self.vulnerable_share),
            ("safeguarding_share", self.safeguarding_share),
            ("resolve_share", self.resolve_share),
            ("escalate_share", self.escalate_share),
            ("transfer_share", self.transfer_share),
        ];
        for (name, share) in shares
            .into_iter()
            .chain(self.languages.iter().map(|(l, v)| (l.as_str(), *v)))
        {
            if !(0.0..=1.0).contains(&share) {
                return bad(format!("{at}: {name} must be a share from 0 to 1"));
            }
        }
        if self.languages.values().sum::<f64>() > 1.0 + 1e-9 {
            return bad(format!("{at}: language shares add up to more than 1"));
        }
        if Priority::new(self.priority).is_none() {
            return bad(format!("{at}: priority must be 0 to 9"));
        }
        if self.transfer_share > 0.0 && self.transfer_to.is_none() {
            return bad(format!("{at}: transfer_share needs transfer_to"));
        }
        if let Some(stage) = &self.complaint_stage {
            complaint_stage(stage).map_err(|e| SimError::Invalid(format!("{at}: {e}")))?;
        }
        if let Some(h) = self.due_after_hours
            && !(h.is_finite() && h > 0.0)
        {
            return bad(format!("{at}: due_after_hours must be positive"));
        }
        Ok(())
    }
}

impl AgentGroup {
    /// Checks the group's values; `at` names it in the error.
    fn validate(&self, at: &str) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Invalid(m));
        if self.count > 100_000 {
            return bad(format!("{at}: at most 100000 agents in a group"));
        }
        if Tier::new(self.tier).is_none() {
            return bad(format!("{at}: tier must be 1 to 5"));
        }
        for (skill, level) in &self.skills {
            if Level::new(*level).is_none() {
                return bad(format!("{at}: skill {skill} level must be 1 to 5"));
            }
        }
        for name in self.channels.iter().flat_map(|c| c.keys()) {
            channel(name).map_err(|e| SimError::Invalid(format!("{at}: {e}")))?;
        }
        let (from, to) = (
            minute_of_day(&self.shift.from)?,
            minute_of_day(&self.shift.to)?,
        );
        if to <= from {
            return bad(format!("{at}: the shift must end after it starts"));
        }
        for b in &self.breaks {
            minute_of_day(&b.at)?;
        }
        if !(self.think_secs.is_finite() && self.think_secs >= 0.0) {
            return bad(format!("{at}: think_secs must be at least 0"));
        }
        for (name, share) in [
            ("reject_share", self.reject_share),
            ("miss_share", self.miss_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return bad(format!("{at}: {name} must be a share from 0 to 1"));
            }
        }
        Ok(())
    }
}

/// A channel's wire name as a [`Channel`].
pub(crate) fn channel(name: &str) -> Result<Channel, String> {
    Channel::from_name(name).ok_or_else(|| {
        format!("unknown channel `{name}` (phone, face_to_face, chat, email, callback)")
    })
}

/// A complaint stage's name.
pub(crate) fn complaint_stage(name: &str) -> Result<ComplaintStage, String> {
    match name {
        "stage_1" => Ok(ComplaintStage::Stage1),
        "stage_2" => Ok(ComplaintStage::Stage2),
        "ombudsman" => Ok(ComplaintStage::Ombudsman),
        other => Err(format!(
            "unknown complaint stage `{other}` (stage_1, stage_2, ombudsman)"
        )),
    }
}

/// `HH:MM` as minutes after midnight.
pub(crate) fn minute_of_day(text: &str) -> Result<u32, SimError> {
    let parsed = text.split_once(':').and_then(|(h, m)| {
        let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    });
    parsed.ok_or_else(|| SimError::Invalid(format!("`{text}` is not a time of day HH:MM")))
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub(crate) fn start_day(text: &str) -> Result<u64, SimError> {
    let invalid = || SimError::Invalid(format!("start_date `{text}` is not a date YYYY-MM-DD"));
    let mut parts = text.splitn(3, '-');
    let mut next = || parts.next().and_then(|p| p.parse::<u64>().ok());
    let (y, m, d) = (
        next().ok_or_else(invalid)?,
        next().ok_or_else(invalid)?,
        next().ok_or_else(invalid)?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(invalid());
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok(era * 146_097 + doe - 719_468)
}

/// The routing configuration under which the core behaves as the M/M/N queue of Erlang C and A:
/// one plan step (no relaxation), offers auto-accepted (no think time) and no wrap-up on the
/// phone. The single-queue checks against the formulas run under it.
#[must_use]
pub fn single_queue_routing() -> switchboard_core::RoutingConfig {
    let mut config = switchboard_core::RoutingConfig {
        default_plan: switchboard_core::RoutingPlan {
            name: "single_step".into(),
            steps: vec![switchboard_core::PlanStep::matched(
                "matched",
                std::time::Duration::ZERO,
            )],
        },
        ..switchboard_core::RoutingConfig::default()
    };
    let mut phone = config.channels.get(Channel::Phone);
    phone.auto_accept = true;
    phone.wrap_up = std::time::Duration::ZERO;
    config.channels.set(Channel::Phone, phone);
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_parse() {
        assert_eq!(start_day("1970-01-01").ok(), Some(0));
        assert_eq!(start_day("2026-11-23").ok(), Some(1_795_422_600 / 86_400));
        assert!(start_day("2026-13-01").is_err());
        assert_eq!(minute_of_day("08:30").ok(), Some(510));
        assert!(minute_of_day("8h30").is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let typo = Scenario::from_toml("name = \"x\"\ndayz = 2\n").expect_err("typo");
        assert!(typo.to_string().contains("dayz"), "{typo}");
        let f2f = Scenario::from_toml(
            "name = \"x\"\n[[arrivals]]\nservice = \"s\"\nchannel = \"face_to_face\"\nper_hour = 1\nhandle = { distribution = \"fixed\", secs = 60 }\n",
        )
        .expect_err("no site");
        assert!(f2f.to_string().contains("sites"), "{f2f}");
    }
}
