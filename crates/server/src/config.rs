//! The configuration file: one TOML file for the NATS connection, the data directory, metrics
//! and routing. Every key is optional; unknown keys are refused (a typo is an error, not a
//! silent default). `switchboard config check FILE` validates a file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;
use switchboard_core::{
    Channel, ChannelPolicy, DueWarning, Level, OpeningRule, OutOfHours, PlanBinding, PlanStep,
    RoutingConfig, RoutingPlan, SelectionStrategy, ServiceLevelTarget,
};
use switchboard_nats::{ConnectSettings, TlsSettings};
use switchboard_wire::Subjects;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    #[serde(default)]
    pub(crate) nats: NatsConfig,
    #[serde(default)]
    pub(crate) engine: EngineConfig,
    #[serde(default)]
    pub(crate) metrics: MetricsConfig,
    #[serde(default)]
    pub(crate) http: HttpConfig,
    #[serde(default)]
    pub(crate) routing: RoutingSection,
    /// `[log]`: where the event log lives (a file log, or a JetStream stream in cluster mode).
    #[serde(default)]
    pub(crate) log: LogSection,
    /// `[cluster]`: this node and its lease, in cluster mode.
    #[serde(default)]
    pub(crate) cluster: ClusterSection,
    /// The business calendar: working-day clocks, and opening hours unless a rule names another
    /// calendar. Called `default` in `[[opening]]` rules. The council calendar when absent.
    pub(crate) calendar: Option<switchboard_calendar::CalendarSpec>,
    /// More calendars, by name, for opening rules (a one-stop shop's own hours).
    #[serde(default)]
    pub(crate) calendars: BTreeMap<String, switchboard_calendar::CalendarSpec>,
    /// `[[opening]]`: when each site's channels are open, and what happens out of hours.
    #[serde(default)]
    pub(crate) opening: Vec<OpeningSection>,
    /// `[complaints]`
    #[serde(default)]
    pub(crate) complaints: ComplaintsSection,
    /// `[retention]`: how long personal data is kept after a customer's last contact, per
    /// service (`complaints = "6y"`), with `default` for the others (docs/privacy.md).
    #[serde(default)]
    pub(crate) retention: BTreeMap<String, String>,
}

impl FileConfig {
    /// The retention schedule of `[retention]`, if the file has one.
    pub(crate) fn retention_schedule(
        &self,
    ) -> Result<Option<switchboard_privacy::RetentionSchedule>> {
        if self.retention.is_empty() {
            return Ok(None);
        }
        let mut default = None;
        let mut services = BTreeMap::new();
        for (key, text) in &self.retention {
            let period = switchboard_privacy::RetentionPeriod::parse(text)
                .with_context(|| format!("retention.{key}"))?;
            if key == "default" {
                default = Some(period);
            } else {
                services.insert(key.clone(), period);
            }
        }
        let default = default.context(
            "retention.default is missing: [retention] needs a default period for the services it does not name",
        )?;
        Ok(Some(switchboard_privacy::RetentionSchedule {
            default,
            services,
        }))
    }
}

/// The name of the `[calendar]` section's calendar in `[[opening]]` rules.
const DEFAULT_CALENDAR: &str = "default";

/// `[[opening]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpeningSection {
    site: Option<String>,
    channel: Option<ChannelName>,
    calendar: Option<String>,
    out_of_hours: Option<OutOfHoursName>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutOfHoursName {
    Refuse,
    Callback,
    Hold,
}

/// `[complaints]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ComplaintsSection {
    skill: Option<String>,
    designated_officer_skill: Option<String>,
    acknowledge_working_days: Option<u32>,
    stage1_response_working_days: Option<u32>,
    stage2_response_working_days: Option<u32>,
    warning_working_hours: Option<f64>,
}

impl FileConfig {
    /// The routing configuration: built-in defaults overridden by `[routing]`, with the
    /// calendars, opening rules and complaint rules.
    pub(crate) fn routing_config(&self) -> Result<RoutingConfig> {
        let mut config = self.routing.routing_config()?;
        let business = match &self.calendar {
            Some(spec) => Arc::new(spec.to_calendar().context("[calendar]")?),
            None => Arc::clone(&config.business_calendar),
        };
        config.business_calendar = Arc::clone(&business);
        let mut calendars = BTreeMap::new();
        calendars.insert(DEFAULT_CALENDAR.to_owned(), business);
        for (name, spec) in &self.calendars {
            if name == DEFAULT_CALENDAR {
                anyhow::bail!(
                    "[calendars.{name}]: `{DEFAULT_CALENDAR}` is the [calendar] section's name; choose another"
                );
            }
            let calendar = spec
                .to_calendar()
                .with_context(|| format!("[calendars.{name}]"))?;
            calendars.insert(name.clone(), Arc::new(calendar));
        }
        for (i, section) in self.opening.iter().enumerate() {
            let name = section.calendar.as_deref().unwrap_or(DEFAULT_CALENDAR);
            let calendar = calendars.get(name).with_context(|| {
                format!(
                    "opening[{i}]: no calendar `{name}` (define it as [calendars.{name}], or use `{DEFAULT_CALENDAR}`)"
                )
            })?;
            let channel = section.channel.map(Channel::from);
            // Unset: by the contact's channel, live work refused and deferred work held.
            let out_of_hours = section.out_of_hours.map(|name| match name {
                OutOfHoursName::Refuse => OutOfHours::Refuse,
                OutOfHoursName::Callback => OutOfHours::Callback,
                OutOfHoursName::Hold => OutOfHours::Hold,
            });
            config.opening.push(OpeningRule {
                site: section.site.as_deref().map(Into::into),
                channel,
                calendar_name: name.into(),
                calendar: Arc::clone(calendar),
                out_of_hours,
            });
        }
        let c = &self.complaints;
        let policy = &mut config.complaints;
        if let Some(skill) = &c.skill {
            policy.skill = skill.as_str().into();
        }
        if let Some(skill) = &c.designated_officer_skill {
            policy.designated_officer_skill = skill.as_str().into();
        }
        if let Some(n) = c.acknowledge_working_days {
            policy.rules.acknowledge_working_days = n;
        }
        if let Some(n) = c.stage1_response_working_days {
            policy.rules.stage1_response_working_days = n;
        }
        if let Some(n) = c.stage2_response_working_days {
            policy.rules.stage2_response_working_days = n;
        }
        if let Some(hours) = c.warning_working_hours {
            policy.warning = DueWarning::WorkingTime(
                hours_span(hours).context("complaints.warning_working_hours")?,
            );
        }
        config
            .validate()
            .map_err(|problem| anyhow::anyhow!("routing: {problem}"))?;
        Ok(config)
    }
}

/// A span given in (possibly fractional) hours.
fn hours_span(hours: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(hours * 3600.0)
        .map_err(|_| anyhow::anyhow!("{hours} is not a number of hours (0 or more)"))
}

/// `[nats]`
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct NatsConfig {
    pub(crate) url: String,
    pub(crate) name: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) nkey_seed: Option<String>,
    pub(crate) credentials_file: Option<PathBuf>,
    pub(crate) subject_prefix: String,
    /// How many servers of a JetStream cluster keep the intake and events streams (when made).
    pub(crate) stream_replicas: usize,
    #[serde(default)]
    pub(crate) tls: TlsConfig,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
            name: None,
            user: None,
            password: None,
            token: None,
            nkey_seed: None,
            credentials_file: None,
            subject_prefix: "switchboard".to_owned(),
            stream_replicas: 1,
            tls: TlsConfig::default(),
        }
    }
}

impl NatsConfig {
    /// What a command-line client of the engine connects with, and the subject prefix it
    /// addresses: this section, with its `--nats-url`, `--nats-creds` and `--subject-prefix`
    /// (each when given) in place of the file's.
    pub(crate) fn for_client(
        mut self,
        url: Option<&String>,
        creds: Option<&PathBuf>,
        prefix: Option<&String>,
    ) -> (ConnectSettings, String) {
        if let Some(url) = url {
            self.url.clone_from(url);
        }
        if let Some(creds) = creds {
            self.credentials_file = Some(creds.clone());
        }
        let prefix = prefix
            .cloned()
            .unwrap_or_else(|| self.subject_prefix.clone());
        (self.connect_settings(), prefix)
    }

    /// What the NATS client is given.
    pub(crate) fn connect_settings(&self) -> ConnectSettings {
        ConnectSettings {
            url: self.url.clone(),
            name: self.name.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            token: self.token.clone(),
            nkey_seed: self.nkey_seed.clone(),
            credentials_file: self.credentials_file.clone(),
            tls: TlsSettings {
                required: self.tls.required,
                ca_file: self.tls.ca_file.clone(),
                cert_file: self.tls.cert_file.clone(),
                key_file: self.tls.key_file.clone(),
            },
            request_timeout: None,
            inbox_prefix: None,
        }
    }
}

/// `[nats.tls]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsConfig {
    #[serde(default)]
    pub(crate) required: bool,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) cert_file: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
}

/// `[engine]`
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct EngineConfig {
    pub(crate) data_dir: PathBuf,
    pub(crate) snapshot_every_events: u64,
    pub(crate) batch_max: usize,
    /// Threads of the async runtime running the loop, the NATS connection and the metrics
    /// endpoint; 1 runs them on one thread.
    pub(crate) worker_threads: usize,
    /// `/readyz` fails while the data directory's file system has fewer bytes free than this
    /// (0: never), so that traffic stops before the log fails.
    pub(crate) min_free_bytes: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            snapshot_every_events: 100_000,
            batch_max: 1024,
            worker_threads: 1,
            min_free_bytes: MIN_FREE_BYTES_DEFAULT,
        }
    }
}

/// The default of `engine.min_free_bytes`: 256 MiB, room for a busy centre's snapshot and some
/// hours of log, so that the not-ready answer comes well before the disk is full.
const MIN_FREE_BYTES_DEFAULT: u64 = 256 << 20;

/// `[log] backend`: where the event log lives.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LogBackend {
    /// The file log in the data directory: one engine, the embedded default.
    #[default]
    File,
    /// Cluster mode: the domain's log in a replicated JetStream stream, one leader per domain
    /// under a lease, standbys following (docs/cluster.md).
    Jetstream,
}

impl LogBackend {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Jetstream => "jetstream",
        }
    }
}

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LogSection {
    pub(crate) backend: LogBackend,
    /// Copies the JetStream cluster keeps of the log stream, the snapshots and the lease
    /// (jetstream only; [`LOG_REPLICAS_DEFAULT`] when unset).
    pub(crate) replicas: Option<usize>,
}

/// `[cluster]` (jetstream only).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ClusterSection {
    /// This engine's name in the lease (unset: the host name).
    pub(crate) node_id: Option<String>,
    /// How long the lease lasts after its last renewal ([`LEASE_TTL_SECS_DEFAULT`] when unset).
    pub(crate) lease_ttl_secs: Option<u64>,
    /// The nats-servers' monitoring URLs (`http://nats-1:8222`), to check at start-up that
    /// each fsyncs every write (`sync_interval: always`).
    pub(crate) nats_monitor_urls: Option<Vec<String>>,
}

/// The default of `[log] replicas`: a three-node cluster keeps every record on each node.
pub(crate) const LOG_REPLICAS_DEFAULT: usize = 3;

/// The default of `[cluster] lease_ttl_secs`, chosen by measurement (docs/cluster.md,
/// "Measured"): a takeover takes the TTL plus well under a second.
pub(crate) const LEASE_TTL_SECS_DEFAULT: u64 = 3;

/// The bounds of `[cluster] lease_ttl_secs`.
pub(crate) const LEASE_TTL_SECS_RANGE: std::ops::RangeInclusive<u64> = 2..=60;

/// The longest `[cluster] node_id`.
const NODE_ID_BYTES_MAX: usize = 64;

/// Cluster mode's settings, resolved and checked ([`cluster_settings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterSettings {
    pub(crate) replicas: usize,
    pub(crate) node_id: String,
    pub(crate) lease_ttl: Duration,
    pub(crate) nats_monitor_urls: Vec<String>,
}

/// Cluster mode's settings when `[log] backend = "jetstream"` (`None` for the file log, which
/// then refuses the cluster's keys rather than ignore them). The node id defaults to the host
/// name.
pub(crate) fn cluster_settings(file: &FileConfig) -> Result<Option<ClusterSettings>> {
    if file.log.backend == LogBackend::File {
        let ignored = [
            ("log.replicas", file.log.replicas.is_some()),
            ("cluster.node_id", file.cluster.node_id.is_some()),
            (
                "cluster.lease_ttl_secs",
                file.cluster.lease_ttl_secs.is_some(),
            ),
            (
                "cluster.nats_monitor_urls",
                file.cluster.nats_monitor_urls.is_some(),
            ),
        ];
        if let Some((key, _)) = ignored.iter().find(|(_, set)| *set) {
            anyhow::bail!(
                "{key} is set but log.backend is \"file\": it applies to cluster mode only \
                 (log.backend = \"jetstream\", docs/cluster.md)"
            );
        }
        return Ok(None);
    }
    let replicas = file.log.replicas.unwrap_or(LOG_REPLICAS_DEFAULT);
    if !(1..=STREAM_REPLICAS_MAX).contains(&replicas) {
        anyhow::bail!(
            "log.replicas is {replicas}; it must be from 1 to {STREAM_REPLICAS_MAX} (JetStream's bound)"
        );
    }
    let ttl = file
        .cluster
        .lease_ttl_secs
        .unwrap_or(LEASE_TTL_SECS_DEFAULT);
    if !LEASE_TTL_SECS_RANGE.contains(&ttl) {
        anyhow::bail!(
            "cluster.lease_ttl_secs is {ttl}; it must be from {} to {} (every engine of a \
             cluster must use the same)",
            LEASE_TTL_SECS_RANGE.start(),
            LEASE_TTL_SECS_RANGE.end()
        );
    }
    let node_id = match &file.cluster.node_id {
        Some(id) => id.clone(),
        None => host_name().context(
            "cluster.node_id is not set and the host name cannot be read: set cluster.node_id \
             (or --node-id, SWITCHBOARD_NODE_ID)",
        )?,
    };
    check_node_id(&node_id)?;
    let nats_monitor_urls = file.cluster.nats_monitor_urls.clone().unwrap_or_default();
    for url in &nats_monitor_urls {
        switchboard_nats::cluster::fsync::check_url(url)
            .with_context(|| format!("cluster.nats_monitor_urls: {url:?}"))?;
    }
    Ok(Some(ClusterSettings {
        replicas,
        node_id,
        lease_ttl: Duration::from_secs(ttl),
        nats_monitor_urls,
    }))
}

/// A node id names one engine in the lease and the logs: 1 to 64 printable characters, no
/// spaces.
fn check_node_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > NODE_ID_BYTES_MAX
        || id.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        anyhow::bail!(
            "cluster.node_id {id:?}: it must be 1 to {NODE_ID_BYTES_MAX} bytes of printable \
             characters without spaces"
        );
    }
    Ok(())
}

/// This machine's host name.
fn host_name() -> Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty());
    name.context("no host name")
}

/// `[metrics]`
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MetricsConfig {
    pub(crate) address: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

/// `[http]`: the web pages served beside `/metrics` (the wallboard and the agent desktop).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct HttpConfig {
    /// Where the pages reach NATS's WebSocket listener: `ws://HOST:PORT`, `wss://HOST/PATH`,
    /// or a path on the pages' own origin (`/nats`, behind a reverse proxy). Unset: the pages
    /// say that it is not configured.
    pub(crate) nats_ws_url: Option<String>,
}

/// `[routing]`: everything optional; absent keys keep the built-in defaults (docs/routing.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoutingSection {
    strategy: Option<Strategy>,
    missed_offers_limit: Option<u8>,
    reoffer_cooldown_secs: Option<u64>,
    priority_step_secs: Option<u64>,
    vulnerable_priority_boost: Option<u8>,
    safeguarding_skill: Option<String>,
    language_min_level: Option<u8>,
    due_warning_secs: Option<u64>,
    due_warning_working_hours: Option<f64>,
    #[serde(default)]
    channels: ChannelsSection,
    default_plan: Option<PlanSection>,
    #[serde(default)]
    plans: Vec<PlanSection>,
    #[serde(default)]
    service_levels: Vec<ServiceLevelSection>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Strategy {
    LongestIdle,
    MostSkilled,
    LeastOccupied,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum ChannelName {
    Phone,
    FaceToFace,
    Chat,
    Email,
    Callback,
}

impl From<ChannelName> for Channel {
    fn from(name: ChannelName) -> Self {
        match name {
            ChannelName::Phone => Self::Phone,
            ChannelName::FaceToFace => Self::FaceToFace,
            ChannelName::Chat => Self::Chat,
            ChannelName::Email => Self::Email,
            ChannelName::Callback => Self::Callback,
        }
    }
}

/// `[routing.channels.<channel>]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelsSection {
    phone: Option<ChannelSection>,
    face_to_face: Option<ChannelSection>,
    chat: Option<ChannelSection>,
    email: Option<ChannelSection>,
    callback: Option<ChannelSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelSection {
    offer_timeout_secs: Option<u64>,
    auto_accept: Option<bool>,
    wrap_up_secs: Option<u64>,
    default_capacity: Option<u8>,
    answer_within_secs: Option<u64>,
    due_after_secs: Option<u64>,
    due_working_days: Option<u32>,
}

/// `[[routing.plans]]` (and `[routing.default_plan]`)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanSection {
    name: String,
    service: Option<String>,
    channel: Option<ChannelName>,
    steps: Vec<StepSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSection {
    name: String,
    after_secs: u64,
    #[serde(default)]
    preferred_agent_only: bool,
    #[serde(default)]
    level_relaxation: u8,
    #[serde(default = "one")]
    tiers_above: u8,
    #[serde(default)]
    any_site: bool,
    #[serde(default)]
    drop_language: bool,
}

const fn one() -> u8 {
    1
}

/// `[[routing.service_levels]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceLevelSection {
    service: String,
    channel: ChannelName,
    answer_within_secs: u64,
    target: f64,
}

impl PlanSection {
    fn plan(&self) -> RoutingPlan {
        RoutingPlan {
            name: self.name.as_str().into(),
            steps: self
                .steps
                .iter()
                .map(|s| PlanStep {
                    name: s.name.as_str().into(),
                    after: Duration::from_secs(s.after_secs),
                    preferred_agent_only: s.preferred_agent_only,
                    level_relaxation: s.level_relaxation,
                    tiers_above: s.tiers_above,
                    any_site: s.any_site,
                    drop_language: s.drop_language,
                })
                .collect(),
        }
    }
}

impl RoutingSection {
    /// The routing configuration: built-in defaults overridden by what the file says.
    pub(crate) fn routing_config(&self) -> Result<RoutingConfig> {
        let mut config = RoutingConfig::default();
        self.set_settings(&mut config)?;
        self.set_channel_policies(&mut config);
        self.set_plans(&mut config)?;
        self.set_service_levels(&mut config)?;
        config
            .validate()
            .map_err(|problem| anyhow::anyhow!("routing: {problem}"))?;
        Ok(config)
    }

    /// The section's own settings: selection strategy, missed offers, priorities, the
    /// safeguarding skill, the language level and the due-time warning.
    fn set_settings(&self, config: &mut RoutingConfig) -> Result<()> {
        if let Some(strategy) = self.strategy {
            config.strategy = match strategy {
                Strategy::LongestIdle => SelectionStrategy::LongestIdle,
                Strategy::MostSkilled => SelectionStrategy::MostSkilled,
                Strategy::LeastOccupied => SelectionStrategy::LeastOccupied,
            };
        }
        let secs = Duration::from_secs;
        if let Some(n) = self.missed_offers_limit {
            config.missed_offers_limit = n;
        }
        if let Some(n) = self.reoffer_cooldown_secs {
            config.reoffer_cooldown = secs(n);
        }
        if let Some(n) = self.priority_step_secs {
            config.priority_step = secs(n);
        }
        if let Some(n) = self.vulnerable_priority_boost {
            config.vulnerable_priority_boost = n;
        }
        if let Some(skill) = &self.safeguarding_skill {
            config.safeguarding_skill = skill.as_str().into();
        }
        if let Some(n) = self.language_min_level {
            config.language_min_level = Level::new(n).with_context(|| {
                format!("routing.language_min_level: {n} is not a level from 1 to 5")
            })?;
        }
        match (self.due_warning_secs, self.due_warning_working_hours) {
            (Some(_), Some(_)) => anyhow::bail!(
                "routing: give due_warning_secs or due_warning_working_hours, not both"
            ),
            (Some(n), None) => config.due_warning = DueWarning::Elapsed(secs(n)),
            (None, Some(hours)) => {
                config.due_warning = DueWarning::WorkingTime(
                    hours_span(hours).context("routing.due_warning_working_hours")?,
                );
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Each `[routing.channels.*]` section over the channel's default policy.
    fn set_channel_policies(&self, config: &mut RoutingConfig) {
        let secs = Duration::from_secs;
        let channels = [
            (Channel::Phone, &self.channels.phone),
            (Channel::FaceToFace, &self.channels.face_to_face),
            (Channel::Chat, &self.channels.chat),
            (Channel::Email, &self.channels.email),
            (Channel::Callback, &self.channels.callback),
        ];
        for (channel, section) in channels {
            let Some(section) = section else { continue };
            let mut policy: ChannelPolicy = config.channels.get(channel);
            if let Some(n) = section.offer_timeout_secs {
                policy.offer_timeout = secs(n);
            }
            if let Some(b) = section.auto_accept {
                policy.auto_accept = b;
            }
            if let Some(n) = section.wrap_up_secs {
                policy.wrap_up = secs(n);
            }
            if let Some(n) = section.default_capacity {
                policy.default_capacity = n;
            }
            if let Some(n) = section.answer_within_secs {
                policy.answer_within = secs(n);
            }
            if let Some(n) = section.due_after_secs {
                policy.due_after = Some(secs(n));
            }
            if let Some(n) = section.due_working_days {
                policy.due_working_days = Some(n);
            }
            config.channels.set(channel, policy);
        }
    }

    /// The default plan and the plans for a service or channel.
    fn set_plans(&self, config: &mut RoutingConfig) -> Result<()> {
        if let Some(plan) = &self.default_plan {
            if plan.service.is_some() || plan.channel.is_some() {
                anyhow::bail!(
                    "routing.default_plan (`{}`) is the plan for everything else: it takes no \
                     service or channel; a plan for one is a [[routing.plans]] entry",
                    plan.name
                );
            }
            config.default_plan = plan.plan();
        }
        for (i, section) in self.plans.iter().enumerate() {
            if section.service.is_none() && section.channel.is_none() {
                anyhow::bail!(
                    "routing.plans[{i}] (`{}`): name a service or a channel (or both); \
                     a plan for everything is [routing.default_plan]",
                    section.name
                );
            }
            config.plans.push(PlanBinding {
                service: section.service.as_deref().map(Into::into),
                channel: section.channel.map(Into::into),
                plan: section.plan(),
            });
        }
        Ok(())
    }

    /// The service-level targets per service and channel, each given once.
    fn set_service_levels(&self, config: &mut RoutingConfig) -> Result<()> {
        for section in &self.service_levels {
            let channel = Channel::from(section.channel);
            if config
                .service_levels
                .contains_key(&(section.service.as_str().into(), channel))
            {
                anyhow::bail!(
                    "routing.service_levels: {} on {channel} is given twice",
                    section.service
                );
            }
            config.service_levels.insert(
                (section.service.as_str().into(), section.channel.into()),
                ServiceLevelTarget {
                    answer_within: Duration::from_secs(section.answer_within_secs),
                    target: section.target,
                },
            );
        }
        Ok(())
    }
}

/// Reads and checks a configuration file. Syntax errors and unknown or mistyped keys name the
/// line and column; routing problems name the plan or channel.
pub(crate) fn load(path: &Path) -> Result<(FileConfig, RoutingConfig)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    parse(&text).with_context(|| format!("in {}", path.display()))
}

/// The most messages `engine.batch_max` lets one turn decide (and one `fdatasync` cover).
const BATCH_MAX_MAX: usize = 65_536;

/// The most replicas a JetStream stream takes.
const STREAM_REPLICAS_MAX: usize = 5;

/// The most threads `engine.worker_threads` takes.
const WORKER_THREADS_MAX: usize = 64;

/// Parses configuration text (see [`load`]).
pub(crate) fn parse(text: &str) -> Result<(FileConfig, RoutingConfig)> {
    let file: FileConfig =
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
    if !(1..=WORKER_THREADS_MAX).contains(&file.engine.worker_threads) {
        anyhow::bail!(
            "engine.worker_threads is {}; it must be from 1 to {WORKER_THREADS_MAX}",
            file.engine.worker_threads
        );
    }
    if !(1..=BATCH_MAX_MAX).contains(&file.engine.batch_max) {
        anyhow::bail!(
            "engine.batch_max is {}; it must be from 1 to {BATCH_MAX_MAX}",
            file.engine.batch_max
        );
    }
    file.nats.connect_settings().check()?;
    if !(1..=STREAM_REPLICAS_MAX).contains(&file.nats.stream_replicas) {
        anyhow::bail!(
            "nats.stream_replicas is {}; it must be from 1 to {STREAM_REPLICAS_MAX} (JetStream's bound)",
            file.nats.stream_replicas
        );
    }
    Subjects::new(&file.nats.subject_prefix)
        .map_err(|problem| anyhow::anyhow!("nats.subject_prefix: {problem}"))?;
    if let Some(url) = &file.http.nats_ws_url {
        switchboard_web::check_nats_ws_url(url)
            .map_err(|problem| anyhow::anyhow!("http.{problem}"))?;
    }
    cluster_settings(&file)?;
    let routing = file.routing_config()?;
    file.retention_schedule()?;
    Ok((file, routing))
}

/// `switchboard config check FILE`.
pub(crate) fn check(path: &Path) -> Result<std::process::ExitCode> {
    let (file, routing) = load(path)?;
    if let Some(cluster) = cluster_settings(&file)? {
        say!(
            "cluster mode (log.backend = \"{}\"): the log in JetStream stream {} ({} replicas), node `{}`, lease TTL {} s.",
            file.log.backend.as_str(),
            switchboard_nats::cluster::Domain::new(&file.nats.subject_prefix).log_stream(),
            cluster.replicas,
            cluster.node_id,
            cluster.lease_ttl.as_secs()
        );
        match cluster.nats_monitor_urls.len() {
            0 => say!(
                "cluster.nats_monitor_urls is not set: the engine will not check that the \
                 nats-servers fsync every write (sync_interval: always)."
            ),
            n => say!(
                "At start-up the engine checks that {n} nats-server(s) fsync every write: {}.",
                cluster.nats_monitor_urls.join(", ")
            ),
        }
    }
    say!(
        "{} is valid: NATS {} (prefix `{}`), data in {}, metrics and pages on {} (pages reach NATS at {}), {} routing plan(s) besides the default, strategy {}, {} opening rule(s){}.",
        path.display(),
        file.nats.url,
        file.nats.subject_prefix,
        file.engine.data_dir.display(),
        file.metrics.address,
        file.http
            .nats_ws_url
            .as_deref()
            .unwrap_or("no WebSocket URL set"),
        routing.plans.len(),
        routing.strategy.as_str(),
        routing.opening.len(),
        if routing.opening.is_empty() {
            " (every channel always open)"
        } else {
            ""
        }
    );
    if let Some(schedule) = file.retention_schedule()? {
        say!(
            "Retention: {} by default, {} service(s) of their own.",
            schedule.default,
            schedule.services.len()
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_periods_are_checked_and_need_a_default() {
        let error = |text: &str| format!("{:#}", parse(text).expect_err("invalid"));
        let (file, _) =
            parse("[retention]\ndefault = \"2y\"\ncomplaints = \"6y\"\n").expect("valid");
        let schedule = file.retention_schedule().expect("valid").expect("given");
        assert_eq!(
            schedule.period("complaints"),
            switchboard_privacy::RetentionPeriod::Years(6)
        );
        assert_eq!(
            schedule.period("parking"),
            switchboard_privacy::RetentionPeriod::Years(2)
        );
        let bad = error("[retention]\ndefault = \"2y\"\nparking = \"90 days\"\n");
        assert!(
            bad.contains("retention.parking") && bad.contains("90 days"),
            "{bad}"
        );
        let no_default = error("[retention]\ncomplaints = \"6y\"\n");
        assert!(
            no_default.contains("retention.default is missing"),
            "{no_default}"
        );
        assert!(
            parse("")
                .expect("valid")
                .0
                .retention_schedule()
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let (file, routing) = parse("").expect("valid");
        assert_eq!(file.nats.subject_prefix, "switchboard");
        assert_eq!(routing, RoutingConfig::default());
    }

    #[test]
    fn a_full_file_sets_everything() {
        let text = r#"
            [nats]
            url = "nats://10.0.0.5:4222"
            subject_prefix = "council"
            [engine]
            data_dir = "/var/lib/switchboard"
            worker_threads = 4
            [metrics]
            address = "0.0.0.0:9464"
            [routing]
            strategy = "most_skilled"
            reoffer_cooldown_secs = 10
            [routing.channels.phone]
            offer_timeout_secs = 12
            [[routing.plans]]
            name = "complaints"
            service = "complaints"
            [[routing.plans.steps]]
            name = "case_owner"
            after_secs = 0
            preferred_agent_only = true
            [[routing.plans.steps]]
            name = "anyone"
            after_secs = 3600
            tiers_above = 4
            [[routing.service_levels]]
            service = "council_tax"
            channel = "phone"
            answer_within_secs = 30
            target = 0.9
        "#;
        let (file, routing) = parse(text).expect("valid");
        assert_eq!(file.nats.subject_prefix, "council");
        assert_eq!(file.engine.worker_threads, 4);
        assert_eq!(routing.strategy, SelectionStrategy::MostSkilled);
        assert_eq!(
            routing.channels.get(Channel::Phone).offer_timeout,
            Duration::from_secs(12)
        );
        assert_eq!(routing.plans.len(), 1);
        assert_eq!(
            routing.answer_within(&"council_tax".into(), Channel::Phone),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn the_engine_runs_on_one_thread_unless_told_and_bounds_are_named() {
        let (file, _) = parse("").expect("valid");
        assert_eq!(file.engine.worker_threads, 1);
        let error = |text: &str| format!("{:#}", parse(text).expect_err("invalid"));
        let none = error("[engine]\nworker_threads = 0\n");
        assert!(
            none.contains("engine.worker_threads is 0; it must be from 1 to 64"),
            "{none}"
        );
        let many = error("[engine]\nworker_threads = 65\n");
        assert!(many.contains("engine.worker_threads is 65"), "{many}");
        let batch = error("[engine]\nbatch_max = 0\n");
        assert!(
            batch.contains("engine.batch_max is 0; it must be from 1 to 65536"),
            "{batch}"
        );
        let huge = error("[engine]\nbatch_max = 100000000000\n");
        assert!(huge.contains("engine.batch_max is 100000000000"), "{huge}");
    }

    #[test]
    fn nats_settings_are_checked_before_connecting() {
        let cluster =
            "[nats]\nurl = \"nats://nats-1:4222, nats://nats-2:4222,nats://nats-3:4222\"\n";
        let (file, _) = parse(cluster).expect("a list of servers");
        let servers = file.nats.connect_settings().servers().expect("servers");
        assert_eq!(servers.len(), 3);
        assert_eq!(servers[1].host(), "nats-2");

        let error = |text: &str| format!("{:#}", parse(text).expect_err("invalid"));
        let url = error("[nats]\nurl = \"nats://a:4222,nats://b:42x2\"\n");
        assert!(
            url.contains("nats url: `nats://b:42x2` is not a NATS URL"),
            "{url}"
        );
        let empty = error("[nats]\nurl = \" , \"\n");
        assert!(empty.contains("nats url: no server given"), "{empty}");
        let user = error("[nats]\nuser = \"engine\"\n");
        assert!(
            user.contains("nats user is set but password is not"),
            "{user}"
        );
        let key = error("[nats.tls]\nkey_file = \"engine.key\"\n");
        assert!(
            key.contains("nats tls.key_file is set but tls.cert_file is not"),
            "{key}"
        );
        let prefix = error("[nats]\nsubject_prefix = \"council.*\"\n");
        assert!(prefix.contains("nats.subject_prefix"), "{prefix}");
        let ws = error("[http]\nnats_ws_url = \"nats://127.0.0.1:4222\"\n");
        assert!(
            ws.contains("http.nats_ws_url `nats://127.0.0.1:4222` is not a NATS WebSocket URL"),
            "{ws}"
        );
        let (file, _) =
            parse("[http]\nnats_ws_url = \"/nats\"\n").expect("a path on the pages' origin");
        assert_eq!(file.http.nats_ws_url.as_deref(), Some("/nats"));
        assert_eq!(parse("").expect("valid").0.http.nats_ws_url, None);
        assert_eq!(parse("").expect("valid").0.nats.stream_replicas, 1);
        let replicas = error("[nats]\nstream_replicas = 7\n");
        assert!(
            replicas.contains("nats.stream_replicas is 7; it must be from 1 to 5"),
            "{replicas}"
        );
    }

    #[test]
    fn cluster_mode_keys_are_resolved_and_checked() {
        let (file, _) = parse("").expect("valid");
        assert_eq!(file.log.backend, LogBackend::File);
        assert_eq!(cluster_settings(&file).expect("valid"), None);
        let (file, _) =
            parse("[log]\nbackend = \"jetstream\"\n[cluster]\nnode_id = \"engine-a\"\n")
                .expect("valid");
        let cluster = cluster_settings(&file)
            .expect("valid")
            .expect("cluster mode");
        assert_eq!(
            cluster,
            ClusterSettings {
                replicas: LOG_REPLICAS_DEFAULT,
                node_id: "engine-a".to_owned(),
                lease_ttl: Duration::from_secs(LEASE_TTL_SECS_DEFAULT),
                nats_monitor_urls: Vec::new(),
            }
        );
        let (file, _) = parse("[log]\nbackend = \"jetstream\"\n").expect("valid");
        let named = cluster_settings(&file)
            .expect("the host name")
            .expect("cluster");
        assert!(!named.node_id.is_empty(), "the host name is the default");
        let error = |text: &str| format!("{:#}", parse(text).expect_err("invalid"));
        let ignored = error("[cluster]\nnode_id = \"a\"\n");
        assert!(
            ignored.contains("cluster.node_id is set but log.backend is \"file\""),
            "{ignored}"
        );
        let replicas = error("[log]\nbackend = \"jetstream\"\nreplicas = 7\n");
        assert!(
            replicas.contains("log.replicas is 7; it must be from 1 to 5"),
            "{replicas}"
        );
        let ttl = error("[log]\nbackend = \"jetstream\"\n[cluster]\nlease_ttl_secs = 1\n");
        assert!(
            ttl.contains("cluster.lease_ttl_secs is 1; it must be from 2 to 60"),
            "{ttl}"
        );
        let id = error("[log]\nbackend = \"jetstream\"\n[cluster]\nnode_id = \"a b\"\n");
        assert!(id.contains("cluster.node_id \"a b\""), "{id}");
        let backend = error("[log]\nbackend = \"s3\"\n");
        assert!(backend.contains("unknown variant `s3`"), "{backend}");
    }

    #[test]
    fn the_nats_monitor_urls_are_checked_and_cluster_only() {
        let jetstream = "[log]\nbackend = \"jetstream\"\n[cluster]\nnode_id = \"a\"\n";
        let (file, _) = parse(&format!(
            "{jetstream}nats_monitor_urls = [\"http://nats-1:8222\", \"http://10.0.0.2:8222/\"]\n"
        ))
        .expect("valid");
        let settings = cluster_settings(&file).expect("valid").expect("cluster");
        assert_eq!(
            settings.nats_monitor_urls,
            ["http://nats-1:8222", "http://10.0.0.2:8222/"]
        );
        let error = |text: &str| format!("{:#}", parse(text).expect_err("invalid"));
        let bad = error(&format!(
            "{jetstream}nats_monitor_urls = [\"nats-1:8222\"]\n"
        ));
        assert!(
            bad.contains("cluster.nats_monitor_urls: \"nats-1:8222\"")
                && bad.contains("http://HOST:PORT"),
            "{bad}"
        );
        let file_log = error("[cluster]\nnats_monitor_urls = [\"http://nats-1:8222\"]\n");
        assert!(
            file_log.contains("cluster.nats_monitor_urls is set but log.backend is \"file\""),
            "{file_log}"
        );
    }

    #[test]
    fn settings_that_would_be_ignored_or_contradict_are_refused() {
        let error = |text: &str| format!("{:#}", parse(text).expect_err("invalid"));
        let level = "[[routing.service_levels]]\nservice = \"bins\"\nchannel = \"phone\"\nanswer_within_secs = 20\ntarget = 0.8\n";
        let twice = error(&format!("{level}{level}"));
        assert!(twice.contains("bins on phone is given twice"), "{twice}");
        let plan = "[[routing.plans]]\nname = \"p{n}\"\nservice = \"bins\"\nsteps = [{ name = \"s\", after_secs = 0 }]\n";
        let plans = error(&format!(
            "{}{}",
            plan.replace("{n}", "1"),
            plan.replace("{n}", "2")
        ));
        assert!(
            plans.contains("routing plan `p2` is the second for service bins"),
            "{plans}"
        );
        let default_plan = error(
            "[routing.default_plan]\nname = \"d\"\nservice = \"bins\"\nsteps = [{ name = \"s\", after_secs = 0 }]\n",
        );
        assert!(
            default_plan.contains("takes no service or channel"),
            "{default_plan}"
        );
        let live_due = error("[routing.channels.phone]\ndue_after_secs = 60\n");
        assert!(
            live_due.contains("channel phone: a live channel has no due time"),
            "{live_due}"
        );
        let step = error("[routing]\npriority_step_secs = 7200\n");
        assert!(
            step.contains("priority_step is 7200 s; at most 3600 s"),
            "{step}"
        );
        let skill = error("[routing]\nsafeguarding_skill = \" \"\n");
        assert!(
            skill.contains("safeguarding_skill must name a skill"),
            "{skill}"
        );
        let days = error("[complaints]\nstage2_response_working_days = 20000\n");
        assert!(
            days.contains("complaints.stage2_response_working_days is 20000; at most 10000"),
            "{days}"
        );
    }

    #[test]
    fn mistakes_are_named_with_their_line_or_field() {
        let typo = parse("[routing]\nstrategy = \"longest_idle\"\nmised_offers_limit = 3\n")
            .expect_err("a typo");
        let text = format!("{typo:#}");
        assert!(
            text.contains("line 3") && text.contains("mised_offers_limit"),
            "{text}"
        );

        let channel = parse("[[routing.service_levels]]\nservice = \"x\"\nchannel = \"fax\"\nanswer_within_secs = 1\ntarget = 0.8\n")
            .expect_err("no such channel");
        let text = format!("{channel:#}");
        assert!(text.contains("line 3") && text.contains("fax"), "{text}");

        let plan = parse("[[routing.plans]]\nname = \"p\"\nservice = \"s\"\nsteps = []\n")
            .expect_err("empty plan");
        assert!(
            format!("{plan:#}").contains("routing plan `p` has no steps"),
            "{plan:#}"
        );

        let level = parse("[routing]\nlanguage_min_level = 9\n").expect_err("bad level");
        assert!(
            format!("{level:#}").contains("routing.language_min_level"),
            "{level:#}"
        );
    }

    #[test]
    fn opening_hours_calendars_and_complaints() {
        let text = r#"
            [calendar]
            time_zone = "Europe/London"
            [calendars.one_stop_shop]
            hours.monday = ["09:00-16:00"]
            hours.wednesday = ["09:00-16:00"]
            [[opening]]
            channel = "phone"
            [[opening]]
            site = "riverside"
            channel = "face_to_face"
            calendar = "one_stop_shop"
            out_of_hours = "hold"
            [[opening]]
            channel = "callback"
            [complaints]
            skill = "complaints_team"
            stage2_response_working_days = 25
            warning_working_hours = 8
            [routing]
            due_warning_working_hours = 4.5
            [routing.channels.email]
            due_working_days = 3
        "#;
        let (_, routing) = parse(text).expect("valid");
        /// An opening rule as (site, channel, calendar, treatment).
        type Rule<'a> = (
            Option<&'a str>,
            Option<Channel>,
            &'a str,
            Option<OutOfHours>,
        );
        let rules: Vec<Rule<'_>> = routing
            .opening
            .iter()
            .map(|r| {
                (
                    r.site.as_deref(),
                    r.channel,
                    &*r.calendar_name,
                    r.out_of_hours,
                )
            })
            .collect();
        assert_eq!(
            rules,
            [
                (None, Some(Channel::Phone), "default", None),
                (
                    Some("riverside"),
                    Some(Channel::FaceToFace),
                    "one_stop_shop",
                    Some(OutOfHours::Hold)
                ),
                (None, Some(Channel::Callback), "default", None),
            ],
            "unset: by the contact's channel (live refused, deferred held)"
        );
        assert_eq!(&*routing.complaints.skill, "complaints_team");
        assert_eq!(routing.complaints.rules.stage2_response_working_days, 25);
        assert_eq!(routing.complaints.rules.acknowledge_working_days, 5);
        assert_eq!(
            routing.complaints.warning,
            DueWarning::WorkingTime(Duration::from_secs(8 * 3600))
        );
        assert_eq!(
            routing.due_warning,
            DueWarning::WorkingTime(Duration::from_secs(4 * 3600 + 1800))
        );
        assert_eq!(
            routing.channels.get(Channel::Email).due_working_days,
            Some(3)
        );
    }

    #[test]
    fn opening_mistakes_are_named() {
        let error = |text: &str| format!("{:#}", parse(text).expect_err("invalid"));
        let unknown = error("[[opening]]\nchannel = \"phone\"\ncalendar = \"library\"\n");
        assert!(
            unknown.contains("opening[0]: no calendar `library`"),
            "{unknown}"
        );
        let callback = error("[[opening]]\nchannel = \"callback\"\nout_of_hours = \"callback\"\n");
        assert!(
            callback.contains("a callback request cannot be turned into a callback"),
            "{callback}"
        );
        let twice = error("[[opening]]\nchannel = \"chat\"\n[[opening]]\nchannel = \"chat\"\n");
        assert!(twice.contains("is given twice"), "{twice}");
        let treatment = error("[[opening]]\nout_of_hours = \"voicemail\"\n");
        assert!(treatment.contains("voicemail"), "{treatment}");
        let both = error("[routing]\ndue_warning_secs = 60\ndue_warning_working_hours = 1\n");
        assert!(both.contains("not both"), "{both}");
        let hours = error("[calendars.shop]\nhours.monday = [\"9-5\"]\n");
        assert!(hours.contains("[calendars.shop]"), "{hours}");
        let negative = error("[complaints]\nwarning_working_hours = -2\n");
        assert!(
            negative.contains("complaints.warning_working_hours"),
            "{negative}"
        );
    }

    /// The ```toml block of docs/configuration.md: the configuration reference.
    fn reference() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        let doc = std::fs::read_to_string(path).expect("docs/configuration.md is readable");
        doc.split_once("```toml\n")
            .and_then(|(_, rest)| rest.split_once("\n```"))
            .map(|(block, _)| block.to_owned())
            .expect("docs/configuration.md has a ```toml block")
    }

    /// The value the reference (as TOML, `root`) writes at the dotted `path`.
    fn written<'a>(root: &'a toml::Value, path: &str) -> &'a toml::Value {
        path.split('.')
            .try_fold(root, |value, key| value.get(key))
            .unwrap_or_else(|| panic!("the reference does not set `{path}`"))
    }

    #[test]
    fn the_configuration_reference_writes_the_engine_defaults() {
        let block = reference();
        let (defaults, _) = parse("").expect("valid");
        // The keys the reference must write out, with the values an empty file gives them.
        let root = toml::Value::Table(toml::from_str(&block).expect("the reference is TOML"));
        let integer = |path: &str| {
            written(&root, path)
                .as_integer()
                .and_then(|n| u64::try_from(n).ok())
        };
        let text = |path: &str| written(&root, path).as_str().map(str::to_owned);
        assert_eq!(text("nats.url"), Some(defaults.nats.url.clone()));
        assert_eq!(
            text("nats.subject_prefix"),
            Some(defaults.nats.subject_prefix.clone())
        );
        assert_eq!(
            integer("nats.stream_replicas"),
            u64::try_from(defaults.nats.stream_replicas).ok()
        );
        assert_eq!(
            written(&root, "nats.tls.required").as_bool(),
            Some(defaults.nats.tls.required)
        );
        assert_eq!(
            text("engine.data_dir").map(PathBuf::from),
            Some(defaults.engine.data_dir.clone())
        );
        assert_eq!(
            integer("engine.snapshot_every_events"),
            Some(defaults.engine.snapshot_every_events)
        );
        assert_eq!(
            integer("engine.batch_max"),
            u64::try_from(defaults.engine.batch_max).ok()
        );
        assert_eq!(
            integer("engine.worker_threads"),
            u64::try_from(defaults.engine.worker_threads).ok()
        );
        assert_eq!(
            integer("engine.min_free_bytes"),
            Some(defaults.engine.min_free_bytes)
        );
        assert_eq!(
            text("metrics.address"),
            Some(defaults.metrics.address.to_string())
        );
    }

    /// The routing, calendar and complaints keys the reference must write out.
    fn routing_calendar_and_complaints_keys() -> Vec<String> {
        let mut keys: Vec<String> = [
            "strategy",
            "missed_offers_limit",
            "reoffer_cooldown_secs",
            "priority_step_secs",
            "vulnerable_priority_boost",
            "safeguarding_skill",
            "language_min_level",
            "due_warning_secs",
            "default_plan.name",
        ]
        .iter()
        .map(|key| format!("routing.{key}"))
        .collect();
        for channel in ["phone", "face_to_face", "chat", "email", "callback"] {
            for key in [
                "offer_timeout_secs",
                "auto_accept",
                "wrap_up_secs",
                "default_capacity",
                "answer_within_secs",
            ] {
                keys.push(format!("routing.channels.{channel}.{key}"));
            }
        }
        keys.push("routing.channels.email.due_after_secs".to_owned());
        keys.push("routing.channels.callback.due_after_secs".to_owned());
        for key in [
            "time_zone",
            "bank_holidays",
            "holidays",
            "closures",
            "extra_openings",
        ] {
            keys.push(format!("calendar.{key}"));
        }
        for day in [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ] {
            keys.push(format!("calendar.hours.{day}"));
        }
        for key in [
            "skill",
            "designated_officer_skill",
            "acknowledge_working_days",
            "stage1_response_working_days",
            "stage2_response_working_days",
            "warning_working_hours",
        ] {
            keys.push(format!("complaints.{key}"));
        }
        keys
    }

    #[test]
    fn the_configuration_reference_writes_every_routing_calendar_and_complaints_key() {
        let block = reference();
        let (_, default_routing) = parse("").expect("valid");
        let root = toml::Value::Table(toml::from_str(&block).expect("the reference is TOML"));
        for key in &routing_calendar_and_complaints_keys() {
            written(&root, key);
        }
        let steps = written(&root, "routing.default_plan.steps")
            .as_array()
            .expect("the default plan's steps are a list");
        assert_eq!(steps.len(), default_routing.default_plan.steps.len());
        for step in steps {
            for key in [
                "name",
                "after_secs",
                "preferred_agent_only",
                "level_relaxation",
                "tiers_above",
                "any_site",
                "drop_language",
            ] {
                assert!(step.get(key).is_some(), "a default plan step lacks `{key}`");
            }
        }
    }

    #[test]
    fn the_configuration_reference_parses_to_the_built_in_routing() {
        let block = reference();
        let (file, routing) =
            parse(&block).unwrap_or_else(|e| panic!("the reference is not valid: {e:#}"));
        let (_, default_routing) = parse("").expect("valid");
        assert_eq!(routing.strategy, default_routing.strategy);
        assert_eq!(
            routing.missed_offers_limit,
            default_routing.missed_offers_limit
        );
        assert_eq!(routing.reoffer_cooldown, default_routing.reoffer_cooldown);
        assert_eq!(routing.priority_step, default_routing.priority_step);
        assert_eq!(
            routing.vulnerable_priority_boost,
            default_routing.vulnerable_priority_boost
        );
        assert_eq!(
            routing.safeguarding_skill,
            default_routing.safeguarding_skill
        );
        assert_eq!(
            routing.language_min_level,
            default_routing.language_min_level
        );
        assert_eq!(routing.due_warning, default_routing.due_warning);
        assert_eq!(routing.channels, default_routing.channels);
        assert_eq!(routing.default_plan, default_routing.default_plan);
        assert_eq!(routing.complaints, default_routing.complaints);
        assert_eq!(
            file.calendar,
            Some(switchboard_calendar::CalendarSpec::default())
        );
        assert_eq!(routing.business_calendar, default_routing.business_calendar);
    }

    #[test]
    fn the_configuration_reference_gives_the_bounds_of_bounded_keys() {
        let block = reference();
        // The comment above a bounded key names the bound the code enforces.
        let lines: Vec<&str> = block.lines().collect();
        for (key, max) in [
            ("worker_threads", WORKER_THREADS_MAX),
            ("batch_max", BATCH_MAX_MAX),
            ("stream_replicas", STREAM_REPLICAS_MAX),
        ] {
            let at = lines
                .iter()
                .position(|line| line.starts_with(&format!("{key} =")))
                .unwrap_or_else(|| panic!("the reference does not set `{key}`"));
            let comment = lines[at.saturating_sub(1)];
            assert!(
                comment.starts_with('#') && comment.contains(&format!("1 to {max}")),
                "the comment on `{key}` should give its bounds, 1 to {max}: {comment}"
            );
        }
    }
}
