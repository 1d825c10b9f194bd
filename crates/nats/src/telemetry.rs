//! Telemetry: every Prometheus metric the engine exports, named in one place.
//!
//! [`CATALOGUE`] lists each metric with its type, labels and meaning; `docs/operations.md`,
//! the Grafana dashboard and the alert rules are checked against it by tests. Names follow the
//! Prometheus conventions: base units (`_seconds`, `_bytes`, `_ratio`), `_total` on counters,
//! and bounded label sets only. **No contact, customer or agent id is ever a label value**:
//! labels are channels (5), outcomes, tiers (1–5), presences (4), and service and site names,
//! which come from outside and are therefore capped at [`LABEL_VALUES_MAX`] distinct values
//! each (later ones are counted under `other`).
//!
//! Two kinds of measurement:
//! - [`Telemetry::submitted`] counts each event as its turn is submitted to the log (called by
//!   the driver's shell as it hands a turn to the committer, so before any reply goes out;
//!   [`Telemetry::commit_finished`] records a whole direct commit the same way). Events that
//!   no longer carry their contact's channel and service (a completion, an abandonment...)
//!   are labelled from a small map of live contacts kept here, because the state has already
//!   dropped a finished contact when the events are seen.
//! - [`Telemetry::sample`] sets the gauges (queues, oldest waits, agents, occupancy, service
//!   level, health) at most once a second, and the data directory's figures (log bytes,
//!   snapshot age, free bytes and inodes of its file system, which also feed readiness) at
//!   most every five seconds.
//!
//! The free functions record what only the loop sees (decision latency, replies, bad input).
//!
//! Everything recorded per event or per command goes through metric handles registered once,
//! on first use, and kept (by [`Telemetry`], and per thread for the free functions): recording
//! is then an atomic operation, with no key to build, no label to allocate and no registry to
//! search. The handles are dropped and registered anew if the recorder changes.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use switchboard_core::event::{ContactCreated, OfferMade};
use switchboard_core::model::Presence;
use switchboard_core::state::ContactStatus;
use switchboard_core::{
    Channel, ComplaintStage, ContactId, Event, EventKind, Outcome, Router, Rule, SelectionStrategy,
    ServiceId, State, Timestamp,
};
use switchboard_engine::{Committed, EngineError};

use crate::health::Health;

/// At most this many distinct values of the `service` label, and as many of `site`; others are
/// reported as `other`. Services and sites are named by the systems that send contacts and
/// logins, so without a cap a bad client could grow the label set without bound.
pub const LABEL_VALUES_MAX: usize = 64;

/// The label value standing for every service or site past [`LABEL_VALUES_MAX`].
pub const OTHER: &str = "other";

/// How often the gauges are set, at most.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How often the data directory is read for log size and snapshot age, at most.
const DISK_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// What kind of Prometheus metric.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonically increasing count (`_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution in buckets (`_bucket`, `_sum`, `_count`).
    Histogram,
}

impl MetricKind {
    /// The name Prometheus uses in `# TYPE` lines.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One metric of the catalogue.
#[derive(Copy, Clone, Debug)]
pub struct MetricDef {
    /// The full metric name.
    pub name: &'static str,
    /// Its type.
    pub kind: MetricKind,
    /// Its label names (every series has all of them).
    pub labels: &'static [&'static str],
    /// What it measures (the `# HELP` text).
    pub help: &'static str,
}

macro_rules! catalogue {
    ($( $konst:ident = $name:literal, $kind:ident, [$($label:literal),*], $help:literal; )*) => {
        $(
            #[doc = $help]
            pub const $konst: &str = $name;
        )*
        /// Every metric Switchboard exports, in the order `docs/operations.md` describes them.
        pub const CATALOGUE: &[MetricDef] = &[
            $( MetricDef { name: $name, kind: MetricKind::$kind, labels: &[$($label),*], help: $help }, )*
        ];
    };
}

catalogue! {
    BUILD_INFO = "switchboard_build_info", Gauge, ["version"],
        "Always 1; the version of the running build.";
    READY = "switchboard_ready", Gauge, [],
        "1 when /readyz would answer 200 (NATS connected, log writable, state recovered, loop alive, disk space above engine.min_free_bytes), else 0.";
    CONTACTS_CREATED = "switchboard_contacts_created_total", Counter, ["channel", "service"],
        "Contacts that arrived.";
    CONTACTS_ANSWERED = "switchboard_contacts_answered_total", Counter, ["channel", "service"],
        "Contacts answered (accepted by an agent) for the first time, by the service they arrived for.";
    CONTACTS_ANSWERED_WITHIN_SERVICE_LEVEL = "switchboard_contacts_answered_within_service_level_total", Counter, ["channel", "service"],
        "Live contacts answered for the first time within their service-level threshold.";
    CONTACTS_ABANDONED = "switchboard_contacts_abandoned_total", Counter, ["channel", "service"],
        "Contacts whose customer left before being answered.";
    CONTACTS_COMPLETED = "switchboard_contacts_completed_total", Counter, ["channel", "service", "outcome"],
        "Contacts completed by an agent, by outcome (resolved, referred, no_action).";
    CONTACTS_RESOLVED_FIRST_CONTACT = "switchboard_contacts_resolved_first_contact_total", Counter, ["channel", "service"],
        "Contacts completed by the first agent who took them, without escalation or transfer.";
    CONTACTS_REQUEUED = "switchboard_contacts_requeued_total", Counter, ["channel", "service"],
        "Contacts in hand put back in the queue from their agent: logged out, or complaint moved on a stage.";
    PLAN_STEPS_ADVANCED = "switchboard_routing_plan_steps_advanced_total", Counter, ["channel", "service"],
        "Waiting contacts that moved to a later (more relaxed) step of their routing plan.";
    WAIT = "switchboard_contact_wait_seconds", Histogram, ["channel", "service"],
        "Time from first arrival to first answer.";
    ABANDON_WAIT = "switchboard_contact_abandon_wait_seconds", Histogram, ["channel", "service"],
        "Time from first arrival to abandonment.";
    SERVICE_LEVEL_THRESHOLD_PASSED = "switchboard_service_level_threshold_passed_total", Counter, ["channel", "service"],
        "Live contacts that waited past their service-level threshold unanswered.";
    DUE_AT_RISK = "switchboard_due_time_at_risk_total", Counter, ["channel", "service"],
        "Deferred contacts reported at risk of missing their due time.";
    DUE_BREACHED = "switchboard_due_time_breached_total", Counter, ["channel", "service"],
        "Deferred contacts that passed their due time undone.";
    CONTACTS_UNSERVABLE_RECORDED = "switchboard_contacts_unservable_total", Counter, ["channel", "service"],
        "Waiting contacts recorded unservable: no logged-in agent could take them at their plan step or any later one (a contact_unservable event).";
    CONTACTS_HELD = "switchboard_contacts_held_total", Counter, ["channel", "service"],
        "Contacts that arrived while their channel was closed and were held for the opening (a callback request made out of hours included).";
    DUE_EXTENDED = "switchboard_due_time_extensions_total", Counter, ["channel", "service"],
        "Due times extended, with a reason given to the customer.";
    COMPLAINT_STAGES = "switchboard_complaint_stage_changes_total", Counter, ["service", "stage"],
        "Complaints reaching a stage: on arrival, and moving on (stage_1, stage_2, ombudsman).";
    OFFERS_MADE = "switchboard_offers_made_total", Counter, ["channel", "rule"],
        "Offers made to agents, by the routing rule that chose (preferred_agent, a strategy, queue_order).";
    OFFERS_ANSWERED = "switchboard_offers_answered_total", Counter, ["channel", "result"],
        "Offers that ended: accepted, rejected, expired or revoked.";
    ESCALATIONS = "switchboard_escalations_total", Counter, ["service", "to_tier"],
        "Contacts escalated, by the tier they went to.";
    TRANSFERS = "switchboard_transfers_total", Counter, ["service", "to_service"],
        "Contacts transferred from one service to another.";
    EVENTS_COMMITTED = "switchboard_events_committed_total", Counter, ["type"],
        "Events made durable in the log, by event type.";
    QUEUE_DEPTH = "switchboard_queue_depth", Gauge, ["channel", "service"],
        "Contacts waiting to be answered now (queued or offered), by current queue.";
    CONTACTS_ASSIGNED = "switchboard_contacts_assigned", Gauge, ["channel", "service"],
        "Contacts being handled by an agent now.";
    OLDEST_WAIT = "switchboard_queue_oldest_wait_seconds", Gauge, ["channel", "service"],
        "The longest wait (from first arrival) among contacts not yet answered; 0 when none waits.";
    CONTACTS_DUE_AT_RISK = "switchboard_contacts_due_at_risk", Gauge, ["channel", "service"],
        "Deferred contacts open now that are at risk of their due time (not yet breached).";
    CONTACTS_OVERDUE = "switchboard_contacts_overdue", Gauge, ["channel", "service"],
        "Deferred contacts open now past their due time.";
    CONTACTS_UNSERVABLE = "switchboard_contacts_unservable", Gauge, ["channel", "service"],
        "Contacts waiting now that no logged-in agent could take at their plan step or any later one (the rota cannot serve them), by current queue.";
    CONTACTS_HELD_NOW = "switchboard_contacts_held", Gauge, ["channel", "service"],
        "Contacts held now until their channel opens.";
    COMPLAINTS_OPEN = "switchboard_complaints_open", Gauge, ["stage"],
        "Complaints open now, by stage.";
    SERVICE_LEVEL = "switchboard_service_level_ratio", Gauge, ["channel", "service"],
        "Live channels: answered within threshold / (answered + abandoned + still waiting past the threshold), over the whole log.";
    SERVICE_LEVEL_TARGET = "switchboard_service_level_target_ratio", Gauge, ["channel", "service"],
        "Live channels: the configured share to answer within the threshold.";
    SERVICE_LEVEL_THRESHOLD = "switchboard_service_level_threshold_seconds", Gauge, ["channel", "service"],
        "Live channels: the configured answer threshold.";
    AGENTS = "switchboard_agents", Gauge, ["presence", "site", "tier"],
        "Agents by presence (ready, not_ready, wrap_up, logged_out), site and tier.";
    OCCUPANCY = "switchboard_agent_occupancy_ratio", Gauge, ["site"],
        "Of agents ready or in wrap-up, the share holding work or wrapping up; 0 when none.";
    ROUTING_DECISION = "switchboard_routing_decision_seconds", Histogram, ["trigger"],
        "Time the core took to decide a command (trigger=command) or due timers (trigger=timer), routing included.";
    COMMANDS = "switchboard_commands_total", Counter, ["kind", "result"],
        "Commands decided, by kind and result (ok, refused).";
    COMMAND_REPLY = "switchboard_command_reply_seconds", Histogram, [],
        "Time from taking a command into a batch to sending its reply (once its turn is durable).";
    BAD_MESSAGES = "switchboard_bad_messages_total", Counter, ["code"],
        "Commands (and queries) answered with an error, by wire error code.";
    REPEATED_COMMANDS = "switchboard_repeated_commands_total", Counter, [],
        "Commands repeated with a known idempotency key (answered with the first reply).";
    QUERIES = "switchboard_queries_total", Counter, ["kind"],
        "Queries answered, by kind.";
    IDEMPOTENCY_ENTRIES = "switchboard_idempotency_entries", Gauge, [],
        "Replies remembered for repeated idempotency keys.";
    RETENTION_DUE = "switchboard_retention_due_subjects", Gauge, [],
        "Subjects (customers, contacts without one) whose retention period has run out and whose personal data is not yet erased, after the last check.";
    RETENTION_CHECKED = "switchboard_retention_last_check_timestamp_seconds", Gauge, [],
        "When the engine last looked for subjects due for erasure by retention (only with a [retention] schedule).";
    BATCH_MESSAGES = "switchboard_batch_messages", Histogram, [],
        "Messages decided per turn of the engine loop.";
    BATCH_EVENTS = "switchboard_batch_events", Histogram, [],
        "Events decided per turn and submitted to the log (turns queued during a sync share the next fdatasync).";
    LOG_APPEND = "switchboard_log_append_seconds", Histogram, [],
        "Time to write a group of turns to the log and fdatasync it.";
    LOG_FSYNC = "switchboard_log_fsync_seconds", Histogram, [],
        "Time of the fdatasync alone that makes a group of turns durable (part of the append).";
    LOG_FAILURES = "switchboard_log_failures_total", Counter, [],
        "Commits that failed (the engine stops after one).";
    LOG_LAST_SEQUENCE = "switchboard_log_last_sequence", Gauge, [],
        "Sequence number of the last event submitted to the log (durable once its batch's fdatasync returns).";
    LOG_BYTES = "switchboard_log_bytes", Gauge, [],
        "Total size of the log's segment files.";
    LOG_SEGMENTS = "switchboard_log_segments", Gauge, [],
        "Number of log segment files.";
    SNAPSHOT_AGE = "switchboard_snapshot_age_seconds", Gauge, [],
        "Age of the newest snapshot file (absent until one exists).";
    DATA_DIR_FREE_BYTES = "switchboard_data_dir_free_bytes", Gauge, [],
        "Bytes free (for the engine's user) on the file system holding the data directory; below engine.min_free_bytes /readyz fails, at 0 the log fails and the engine stops.";
    DATA_DIR_FREE_INODES = "switchboard_data_dir_free_inodes", Gauge, [],
        "File nodes (inodes) free on the file system holding the data directory (0 where the file system does not count them).";
    NATS_CONNECTED = "switchboard_nats_connected", Gauge, [],
        "1 when the NATS connection is up.";
    NATS_EVENTS = "switchboard_nats_events_total", Counter, ["event"],
        "NATS connection events: connected (each reconnect too), disconnected, slow_consumer (messages dropped), server_error, ...";
    INTAKE_ERRORS = "switchboard_intake_errors_total", Counter, [],
        "Errors from the durable intake consumer.";
    EVENTS_STREAM_SEQUENCE = "switchboard_events_stream_sequence", Gauge, [],
        "Sequence number up to which every event is stored in the JetStream events stream.";
    EVENTS_PUBLISH_RETRIES = "switchboard_events_publish_retries_total", Counter, [],
        "Events published to the events stream again because JetStream did not acknowledge them.";
    EVENTS_REFUSED_FOR_ORDER = "switchboard_events_refused_for_order_total", Counter, [],
        "Events the events stream refused because its last message was not the previous event.";
    CLUSTER_LEADER = "switchboard_cluster_leader", Gauge, ["domain"],
        "Cluster mode: 1 while this engine serves the domain as its leader, 0 while it is a standby.";
    LEASE_RENEWALS = "switchboard_lease_renewals_total", Counter, ["domain"],
        "Cluster mode: renewals of the domain's lease by this engine.";
    LEASE_LOST = "switchboard_lease_lost_total", Counter, ["domain"],
        "Cluster mode: leases this engine lost while serving (a renewal refused or not confirmed in time); it stops serving.";
    LOG_FENCED_APPENDS = "switchboard_log_fenced_appends_total", Counter, ["domain"],
        "Cluster mode: appends refused because another leader had appended (the fence); the engine stops serving.";
    FAILOVERS = "switchboard_failovers_total", Counter, ["domain"],
        "Cluster mode: takeovers by this engine of a lease another engine held.";
    STANDBY_LAG = "switchboard_standby_lag_events", Gauge, ["domain"],
        "Cluster mode: events the log stream held that this standby had not yet applied, at its last look.";
    FAILOVER_DURATION = "switchboard_failover_duration_seconds", Histogram, ["domain"],
        "Cluster mode: time from this standby first seeing the lease free to serving.";
    SNAPSHOT_UPLOADS = "switchboard_snapshot_uploads_total", Counter, ["domain"],
        "Cluster mode: snapshots this leader stored in the domain's snapshot bucket.";
    SNAPSHOT_UPLOAD_FAILURES = "switchboard_snapshot_upload_failures_total", Counter, ["domain"],
        "Cluster mode: snapshots this leader could not store in the domain's snapshot bucket (logged; serving goes on).";
}

/// The catalogue entry of a metric, if it is one of Switchboard's.
#[must_use]
pub fn metric(name: &str) -> Option<&'static MetricDef> {
    CATALOGUE.iter().find(|m| m.name == name)
}

/// Why the Prometheus recorder could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The exporter refused its configuration, or another recorder is already installed.
    #[error("could not install the Prometheus recorder")]
    Install(#[source] BuildError),
}

/// Buckets for latencies measured inside the process (decisions, appends, replies): 10 µs to 5 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Buckets for customers' waits: 5 s to a week (deferred work waits days).
const WAIT_BUCKETS: &[f64] = &[
    5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14_400.0, 86_400.0,
    259_200.0, 604_800.0,
];
/// Buckets for sizes of a turn.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// Installs the process-wide Prometheus recorder with Switchboard's histogram buckets, describes
/// every metric of the [`CATALOGUE`] and sets `switchboard_build_info`. Returns the handle that
/// renders `/metrics` (see [`crate::http::serve`], which also runs its upkeep).
///
/// # Errors
/// A recorder is already installed in this process.
pub fn install() -> Result<PrometheusHandle, TelemetryError> {
    let mut builder = PrometheusBuilder::new();
    for metric in CATALOGUE.iter().filter(|m| m.kind == MetricKind::Histogram) {
        let buckets = match metric.name {
            WAIT | ABANDON_WAIT => WAIT_BUCKETS,
            BATCH_MESSAGES | BATCH_EVENTS => BATCH_BUCKETS,
            _ => LATENCY_BUCKETS,
        };
        builder = builder
            .set_buckets_for_metric(Matcher::Full(metric.name.to_owned()), buckets)
            .map_err(TelemetryError::Install)?;
    }
    let handle = builder
        .install_recorder()
        .map_err(TelemetryError::Install)?;
    for metric in CATALOGUE {
        match metric.kind {
            MetricKind::Counter => metrics::describe_counter!(metric.name, metric.help),
            MetricKind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
            MetricKind::Histogram => metrics::describe_histogram!(metric.name, metric.help),
        }
    }
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// A capped set of label values: the first [`LABEL_VALUES_MAX`] names seen are kept, any
/// other is [`OTHER`]. Each value has a small index (in order of first sight; `other` gets the
/// next one when first needed), by which the metric handles of [`Handles`] are kept.
#[derive(Debug, Default)]
struct LabelValues {
    known: BTreeMap<Arc<str>, usize>,
    /// Every value by its index: the known names and, once needed, `other`.
    values: Vec<Arc<str>>,
    /// The index of `other`, once a name past the cap was seen.
    other: Option<usize>,
}

impl LabelValues {
    /// The index of `name`'s label value (the same for every name past the cap).
    fn index(&mut self, name: &str) -> usize {
        if let Some(&index) = self.known.get(name) {
            return index;
        }
        if self.known.len() >= LABEL_VALUES_MAX {
            return *self.other.get_or_insert_with(|| {
                self.values.push(Arc::from(OTHER));
                self.values.len() - 1
            });
        }
        let value: Arc<str> = Arc::from(name);
        let index = self.values.len();
        self.values.push(value.clone());
        self.known.insert(value, index);
        index
    }

    /// The label value of an index returned by [`LabelValues::index`].
    fn value(&self, index: usize) -> Arc<str> {
        self.values
            .get(index)
            .cloned()
            .unwrap_or_else(|| Arc::from(OTHER))
    }

    /// The label value for `name`.
    fn label(&mut self, name: &str) -> Arc<str> {
        let index = self.index(name);
        self.value(index)
    }
}

/// What telemetry remembers of a live contact, to label the events that no longer say it.
#[derive(Debug)]
struct Tracked {
    channel: Channel,
    /// The index of the service it arrived for in [`Telemetry::services`] (counters stay
    /// there, as in `query.queues`).
    service: usize,
    /// Answered once already: later acceptances (after an escalation) are not first answers.
    answered: bool,
}

/// The counters labelled with a contact's channel and service only, by their place in
/// [`Line::counters`].
#[derive(Copy, Clone, Debug)]
enum LineCounter {
    Created,
    Answered,
    AnsweredWithinServiceLevel,
    Abandoned,
    ResolvedFirstContact,
    Requeued,
    PlanStepAdvanced,
    ServiceLevelThresholdPassed,
    DueAtRisk,
    DueBreached,
    Held,
    DueExtended,
    Unservable,
}

impl LineCounter {
    const fn name(self) -> &'static str {
        match self {
            Self::Created => CONTACTS_CREATED,
            Self::Answered => CONTACTS_ANSWERED,
            Self::AnsweredWithinServiceLevel => CONTACTS_ANSWERED_WITHIN_SERVICE_LEVEL,
            Self::Abandoned => CONTACTS_ABANDONED,
            Self::ResolvedFirstContact => CONTACTS_RESOLVED_FIRST_CONTACT,
            Self::Requeued => CONTACTS_REQUEUED,
            Self::PlanStepAdvanced => PLAN_STEPS_ADVANCED,
            Self::ServiceLevelThresholdPassed => SERVICE_LEVEL_THRESHOLD_PASSED,
            Self::DueAtRisk => DUE_AT_RISK,
            Self::DueBreached => DUE_BREACHED,
            Self::Held => CONTACTS_HELD,
            Self::DueExtended => DUE_EXTENDED,
            Self::Unservable => CONTACTS_UNSERVABLE_RECORDED,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// How an offer ended (the `result` label of [`OFFERS_ANSWERED`]).
#[derive(Copy, Clone, Debug)]
enum OfferResult {
    Accepted,
    Rejected,
    Expired,
    Revoked,
}

impl OfferResult {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// The place of a `rule` label of [`OFFERS_MADE`].
const fn rule_index(rule: Rule) -> usize {
    match rule {
        Rule::PreferredAgent => 0,
        Rule::Strategy(SelectionStrategy::LongestIdle) => 1,
        Rule::Strategy(SelectionStrategy::MostSkilled) => 2,
        Rule::Strategy(SelectionStrategy::LeastOccupied) => 3,
        Rule::QueueOrder => 4,
    }
}

/// The place of an `outcome` label of [`CONTACTS_COMPLETED`].
const fn outcome_index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Resolved => 0,
        Outcome::Referred => 1,
        Outcome::NoAction => 2,
    }
}

/// The place of a `stage` label.
const fn stage_index(stage: ComplaintStage) -> usize {
    match stage {
        ComplaintStage::Stage1 => 0,
        ComplaintStage::Stage2 => 1,
        ComplaintStage::Ombudsman => 2,
    }
}

/// The place of a `to_tier` label (see [`tier_label`]): 1 to 5, and 0 for `other`.
fn tier_index(tier: u8) -> usize {
    match tier {
        1..=5 => usize::from(tier),
        _ => 0,
    }
}

/// The entry at `index` of a table of handles, which grows to hold it.
fn slot<T: Default>(table: &mut Vec<T>, index: usize) -> &mut T {
    if table.len() <= index {
        table.resize_with(index + 1, T::default);
    }
    &mut table[index]
}

/// Handles of one (channel, service) line's series, each registered on first use.
#[derive(Debug, Default)]
struct Line {
    /// By [`LineCounter`].
    counters: Vec<Option<Counter>>,
    /// By [`outcome_index`].
    completed: Vec<Option<Counter>>,
    wait: Option<Histogram>,
    abandon_wait: Option<Histogram>,
}

/// Handles of one service's series that are not per channel, each registered on first use.
#[derive(Debug, Default)]
struct ServiceLine {
    /// By [`stage_index`].
    complaint_stages: Vec<Option<Counter>>,
    /// By [`tier_index`].
    escalations: Vec<Option<Counter>>,
}

/// Which recorder the `metrics` macros register with on this thread now (a local one, the
/// global one or the no-op one), by address. A handle stays bound to the recorder it was
/// registered with, so cached handles are dropped when this changes: when the global recorder
/// is installed, and when a local recorder ([`metrics::with_local_recorder`]) comes or goes.
///
/// The address cannot tell apart two local recorders that live one after the other at the same
/// place (say, on the stack of a test that makes one, drops it and makes another): a test
/// swapping local recorders keeps each alive until it is done with it. The global recorder is
/// set once per process and never moves.
fn recorder_id() -> usize {
    metrics::with_recorder(|recorder| std::ptr::from_ref(recorder).cast::<()>().addr())
}

/// The metric handles [`Telemetry`] counts committed events with, registered on first use and
/// kept, so that counting an event is an atomic add rather than building a key, allocating its
/// labels and looking it up in the recorder's registry. Services are kept by their index in
/// [`Telemetry::services`].
#[derive(Debug, Default)]
struct Handles {
    /// The [`recorder_id`] the handles were registered with.
    recorder: Option<usize>,
    /// [`EVENTS_COMMITTED`] by [`EventKind::index`].
    events: Vec<Option<Counter>>,
    /// By `service * Channel::COUNT + channel`.
    lines: Vec<Line>,
    /// By service.
    services: Vec<ServiceLine>,
    /// By channel, then [`rule_index`].
    offers_made: Vec<Vec<Option<Counter>>>,
    /// By channel, then [`OfferResult`].
    offers_answered: Vec<Vec<Option<Counter>>>,
    /// By (from service, to service).
    transfers: HashMap<(usize, usize), Counter>,
    log_append: Option<Histogram>,
    log_fsync: Option<Histogram>,
    batch_events: Option<Histogram>,
    last_sequence: Option<Gauge>,
}

impl Handles {
    /// Drops every handle if the recorder is no longer the one they were registered with.
    fn follow_recorder(&mut self) {
        let recorder = recorder_id();
        if self.recorder != Some(recorder) {
            *self = Self {
                recorder: Some(recorder),
                ..Self::default()
            };
        }
    }

    fn line(&mut self, channel: Channel, service: usize) -> &mut Line {
        let index = service
            .saturating_mul(Channel::COUNT)
            .saturating_add(channel.index());
        slot(&mut self.lines, index)
    }
}

/// Counters and gauges of the routing state, fed by the engine loop. See the module docs.
#[derive(Debug)]
pub struct Telemetry {
    services: LabelValues,
    sites: LabelValues,
    live: HashMap<ContactId, Tracked>,
    handles: Handles,
    /// Every queue (channel, service) and agent group (presence, site, tier) ever reported, so
    /// that a group that empties is reported as 0 rather than left at its last value.
    queues_seen: BTreeSet<(&'static str, Arc<str>)>,
    agents_seen: BTreeSet<(&'static str, Arc<str>, u8)>,
    sites_seen: BTreeSet<Arc<str>>,
    health: Health,
    last_sample: Option<Instant>,
    last_disk_sample: Option<Instant>,
}

impl Telemetry {
    /// Telemetry for a recovered state: the live contacts are remembered from it.
    #[must_use]
    pub fn new(state: &State, health: Health) -> Self {
        let mut telemetry = Self {
            services: LabelValues::default(),
            sites: LabelValues::default(),
            live: HashMap::new(),
            handles: Handles::default(),
            queues_seen: BTreeSet::new(),
            agents_seen: BTreeSet::new(),
            sites_seen: BTreeSet::new(),
            health,
            last_sample: None,
            last_disk_sample: None,
        };
        for contact in state.contacts() {
            let service = telemetry
                .services
                .index(state.service_name(contact.first_service));
            telemetry.live.insert(
                contact.id.clone(),
                Tracked {
                    channel: contact.channel,
                    service,
                    answered: contact.answered_at.is_some(),
                },
            );
        }
        telemetry
    }

    /// The health state this telemetry reports into.
    #[must_use]
    pub const fn health(&self) -> &Health {
        &self.health
    }

    /// Records a commit's outcome: latency, batch size and each event (as
    /// [`Telemetry::submitted`]), and whether the log is still writable. Called before the result is acted on.
    pub fn commit_finished(
        &mut self,
        result: &Result<Option<Committed>, EngineError>,
        state: &State,
    ) {
        match result {
            Ok(Some(committed)) => {
                self.log_appended(committed.append_time, Some(committed.sync_time));
                self.submitted(&committed.events, committed.last_seq, state);
            }
            Ok(None) => {}
            Err(_) => self.log_failed(),
        }
    }

    /// Records a turn's events as they are submitted to the log (under group commit, before
    /// they are durable): the batch size, the last sequence number, and each event (by type,
    /// and the contact lines' counters). `state` is the state after the turn; it is only asked
    /// about contacts this telemetry does not know yet.
    pub fn submitted(&mut self, events: &[Event], last_seq: u64, state: &State) {
        let handles = &mut self.handles;
        handles.follow_recorder();
        handles
            .batch_events
            .get_or_insert_with(|| metrics::histogram!(BATCH_EVENTS))
            .record(count(events.len()));
        handles
            .last_sequence
            .get_or_insert_with(|| metrics::gauge!(LOG_LAST_SEQUENCE))
            .set(count_u64(last_seq));
        for event in events {
            self.count_event(event, state);
        }
    }

    /// Records one group the log's committer made durable: its append and `fdatasync` times.
    pub fn group_durable(&mut self, group: &switchboard_log::GroupDurable) {
        self.log_appended(group.append_time, group.sync_time);
    }

    fn log_appended(&mut self, append_time: Duration, sync_time: Option<Duration>) {
        let handles = &mut self.handles;
        handles.follow_recorder();
        handles
            .log_append
            .get_or_insert_with(|| metrics::histogram!(LOG_APPEND))
            .record(append_time.as_secs_f64());
        if let Some(sync_time) = sync_time {
            handles
                .log_fsync
                .get_or_insert_with(|| metrics::histogram!(LOG_FSYNC))
                .record(sync_time.as_secs_f64());
        }
    }

    /// Records that the log failed: the engine stops, and readiness says so.
    pub fn log_failed(&mut self) {
        metrics::counter!(LOG_FAILURES).increment(1);
        self.health.set_log_writable(false);
    }

    /// Counts one submitted event, the handles already following the current recorder: by
    /// type, then the counters of its kind.
    fn count_event(&mut self, event: &Event, state: &State) {
        slot(&mut self.handles.events, event.kind.index())
            .get_or_insert_with(|| metrics::counter!(EVENTS_COMMITTED, "type" => event.kind.name()))
            .increment(1);
        match &event.kind {
            EventKind::ContactCreated(created) => self.contact_created(created),
            EventKind::OfferMade(made) => self.offer_made(made),
            EventKind::OfferAccepted {
                contact,
                waited,
                within_service_level,
                ..
            } => self.offer_accepted(contact, *waited, *within_service_level, state),
            EventKind::OfferRejected { contact, .. } => {
                self.offer_ended(contact, state, OfferResult::Rejected);
            }
            EventKind::OfferExpired { contact, .. } => {
                self.offer_ended(contact, state, OfferResult::Expired);
            }
            EventKind::OfferRevoked { contact, .. } => {
                self.offer_ended(contact, state, OfferResult::Revoked);
            }
            EventKind::ContactAbandoned { contact, waited } => {
                self.contact_abandoned(contact, *waited, state);
            }
            EventKind::ContactCompleted {
                contact,
                outcome,
                first_contact_resolution,
                ..
            } => self.contact_completed(contact, *outcome, *first_contact_resolution, state),
            EventKind::ContactEscalated {
                contact, to_tier, ..
            } => self.contact_escalated(contact, to_tier.get(), state),
            EventKind::ContactTransferred {
                contact, service, ..
            } => self.contact_transferred(contact, service, state),
            EventKind::ContactRequeued { contact, .. } => {
                self.contact_counter(LineCounter::Requeued, contact, state);
            }
            EventKind::ContactStepAdvanced { contact, .. } => {
                self.contact_counter(LineCounter::PlanStepAdvanced, contact, state);
            }
            EventKind::ServiceLevelThresholdPassed { contact, .. } => {
                self.contact_counter(LineCounter::ServiceLevelThresholdPassed, contact, state);
            }
            EventKind::DueTimeAtRisk { contact, .. } => {
                self.contact_counter(LineCounter::DueAtRisk, contact, state);
            }
            EventKind::DueTimeBreached { contact, .. } => {
                self.contact_counter(LineCounter::DueBreached, contact, state);
            }
            EventKind::ContactHeld { contact, .. } => {
                self.contact_counter(LineCounter::Held, contact, state);
            }
            EventKind::DueTimeExtended(extended) => {
                self.contact_counter(LineCounter::DueExtended, &extended.contact, state);
            }
            EventKind::ContactUnservable(unservable) => {
                self.contact_counter(LineCounter::Unservable, &unservable.contact, state);
            }
            EventKind::ComplaintStageChanged(changed) => {
                self.complaint_stage_changed(&changed.contact, changed.to, state);
            }
            EventKind::AgentLoggedIn(_)
            | EventKind::AgentReady { .. }
            | EventKind::AgentNotReady { .. }
            | EventKind::AgentLoggedOut { .. }
            | EventKind::WrapUpStarted { .. }
            | EventKind::WrapUpEnded { .. }
            | EventKind::ContactReleased { .. }
            | EventKind::PersistentComplainantMarked { .. }
            | EventKind::PersonalDataErasureDeferred(_)
            | EventKind::PersonalDataErased(_) => {}
        }
    }

    /// A new contact: counted on its line, and tracked until it is finished.
    fn contact_created(&mut self, created: &ContactCreated) {
        let details = &created.details;
        let service = self.services.index(&details.service);
        self.line_counter(LineCounter::Created, details.channel, service);
        self.live.insert(
            details.id.clone(),
            Tracked {
                channel: details.channel,
                service,
                answered: false,
            },
        );
    }

    /// An offer, by channel and the rule that chose the agent.
    fn offer_made(&mut self, made: &OfferMade) {
        let (channel, rule) = (made.channel, made.decision.rule);
        let by_rule = slot(&mut self.handles.offers_made, channel.index());
        slot(by_rule, rule_index(rule))
            .get_or_insert_with(|| {
                metrics::counter!(OFFERS_MADE, "channel" => channel.as_str(), "rule" => rule.as_str())
            })
            .increment(1);
    }

    /// An accepted offer; the contact's first answer also counts as answered (within the
    /// service level or not) and records its wait.
    fn offer_accepted(
        &mut self,
        contact: &ContactId,
        waited: Duration,
        within_service_level: bool,
        state: &State,
    ) {
        let Some((channel, service, answered)) = self.contact(contact, state) else {
            return;
        };
        self.offer_answered(channel, OfferResult::Accepted);
        if answered {
            return;
        }
        self.line_counter(LineCounter::Answered, channel, service);
        if within_service_level && channel.is_live() {
            self.line_counter(LineCounter::AnsweredWithinServiceLevel, channel, service);
        }
        let label = &self.services;
        self.handles
            .line(channel, service)
            .wait
            .get_or_insert_with(|| {
                metrics::histogram!(WAIT, "channel" => channel.as_str(), "service" => label.value(service).to_string())
            })
            .record(waited.as_secs_f64());
        if let Some(tracked) = self.live.get_mut(contact) {
            tracked.answered = true;
        }
    }

    /// An abandoned contact, with how long it waited; no longer tracked.
    fn contact_abandoned(&mut self, contact: &ContactId, waited: Duration, state: &State) {
        if let Some((channel, service, _)) = self.contact(contact, state) {
            self.line_counter(LineCounter::Abandoned, channel, service);
            let label = &self.services;
            self.handles
                .line(channel, service)
                .abandon_wait
                .get_or_insert_with(|| {
                    metrics::histogram!(ABANDON_WAIT, "channel" => channel.as_str(), "service" => label.value(service).to_string())
                })
                .record(waited.as_secs_f64());
        }
        self.live.remove(contact);
    }

    /// A completed contact, by outcome, and whether it was resolved at first contact; no
    /// longer tracked.
    fn contact_completed(
        &mut self,
        contact: &ContactId,
        outcome: Outcome,
        first_contact_resolution: bool,
        state: &State,
    ) {
        if let Some((channel, service, _)) = self.contact(contact, state) {
            let label = &self.services;
            let line = self.handles.line(channel, service);
            slot(&mut line.completed, outcome_index(outcome))
                .get_or_insert_with(|| {
                    metrics::counter!(CONTACTS_COMPLETED, "channel" => channel.as_str(), "service" => label.value(service).to_string(), "outcome" => outcome.as_str())
                })
                .increment(1);
            if first_contact_resolution {
                self.line_counter(LineCounter::ResolvedFirstContact, channel, service);
            }
        }
        self.live.remove(contact);
    }

    /// An escalation, by service and the tier it goes to.
    fn contact_escalated(&mut self, contact: &ContactId, tier: u8, state: &State) {
        if let Some((_, service, _)) = self.contact(contact, state) {
            let label = &self.services;
            let by_service = slot(&mut self.handles.services, service);
            slot(&mut by_service.escalations, tier_index(tier))
                .get_or_insert_with(|| {
                    metrics::counter!(ESCALATIONS, "service" => label.value(service).to_string(), "to_tier" => tier_label(tier))
                })
                .increment(1);
        }
    }

    /// A transfer, by the service it leaves and the one it goes to.
    fn contact_transferred(&mut self, contact: &ContactId, to: &ServiceId, state: &State) {
        let to_service = self.services.index(to);
        if let Some((_, from, _)) = self.contact(contact, state) {
            let label = &self.services;
            self.handles
                .transfers
                .entry((from, to_service))
                .or_insert_with(|| {
                    metrics::counter!(TRANSFERS, "service" => label.value(from).to_string(), "to_service" => label.value(to_service).to_string())
                })
                .increment(1);
        }
    }

    /// A complaint's change of stage, by service and the stage it enters.
    fn complaint_stage_changed(
        &mut self,
        contact: &ContactId,
        stage: ComplaintStage,
        state: &State,
    ) {
        if let Some((_, service, _)) = self.contact(contact, state) {
            let label = &self.services;
            let by_service = slot(&mut self.handles.services, service);
            slot(&mut by_service.complaint_stages, stage_index(stage))
                .get_or_insert_with(|| {
                    metrics::counter!(COMPLAINT_STAGES, "service" => label.value(service).to_string(), "stage" => stage.as_str())
                })
                .increment(1);
        }
    }

    /// A contact's channel, service (its index in `services`) and whether it was answered
    /// before.
    fn contact(&mut self, id: &ContactId, state: &State) -> Option<(Channel, usize, bool)> {
        if let Some(tracked) = self.live.get(id) {
            return Some((tracked.channel, tracked.service, tracked.answered));
        }
        // Not seen arriving (it cannot happen after `new`, which reads every live contact, but
        // a label from the state is better than none).
        let contact = state.contact(id)?;
        let service = self
            .services
            .index(state.service_name(contact.first_service));
        Some((contact.channel, service, contact.answered_at.is_some()))
    }

    fn offer_ended(&mut self, contact: &ContactId, state: &State, result: OfferResult) {
        if let Some((channel, _, _)) = self.contact(contact, state) {
            self.offer_answered(channel, result);
        }
    }

    fn offer_answered(&mut self, channel: Channel, result: OfferResult) {
        let by_result = slot(&mut self.handles.offers_answered, channel.index());
        slot(by_result, result.index())
            .get_or_insert_with(|| {
                metrics::counter!(OFFERS_ANSWERED, "channel" => channel.as_str(), "result" => result.as_str())
            })
            .increment(1);
    }

    fn contact_counter(&mut self, counter: LineCounter, contact: &ContactId, state: &State) {
        if let Some((channel, service, _)) = self.contact(contact, state) {
            self.line_counter(counter, channel, service);
        }
    }

    /// Adds one to a (channel, service) counter.
    fn line_counter(&mut self, counter: LineCounter, channel: Channel, service: usize) {
        let label = &self.services;
        let line = self.handles.line(channel, service);
        slot(&mut line.counters, counter.index())
            .get_or_insert_with(|| {
                metrics::counter!(counter.name(), "channel" => channel.as_str(), "service" => label.value(service).to_string())
            })
            .increment(1);
    }

    /// Sets the gauges from the engine's state at `now` (wall clock, for waits), at most once a
    /// second, and the data directory's figures at most every five seconds. The health's
    /// heartbeat is renewed.
    pub fn sample(&mut self, router: &Router, dir: &Path, now: Timestamp, at: Instant) {
        if self
            .last_sample
            .is_some_and(|last| at.saturating_duration_since(last) < SAMPLE_EVERY)
        {
            return;
        }
        self.last_sample = Some(at);
        self.health.beat();
        let nats_connected = self.health.nats_connected();
        metrics::gauge!(NATS_CONNECTED).set(if nats_connected { 1.0 } else { 0.0 });
        // The free space first: readiness depends on it.
        if self
            .last_disk_sample
            .is_none_or(|last| at.saturating_duration_since(last) >= DISK_SAMPLE_EVERY)
        {
            self.last_disk_sample = Some(at);
            sample_data_dir(dir);
            self.sample_free_space(dir);
        }
        metrics::gauge!(READY).set(if self.health.readiness().is_ready() {
            1.0
        } else {
            0.0
        });
        let state = router.state();
        metrics::gauge!(LOG_LAST_SEQUENCE).set(count_u64(state.events_applied()));
        self.sample_queues(router, now);
        self.sample_service_levels(router);
        self.sample_agents(state);
    }

    /// Free bytes and inodes of the data directory's file system, into the gauges and the
    /// readiness check. A failed read is logged and changes nothing.
    fn sample_free_space(&self, dir: &Path) {
        match crate::disk::free_space(dir) {
            Ok(free) => {
                metrics::gauge!(DATA_DIR_FREE_BYTES).set(count_u64(free.bytes));
                metrics::gauge!(DATA_DIR_FREE_INODES).set(count_u64(free.inodes));
                self.health.set_free_bytes(free.bytes);
            }
            Err(error) => {
                tracing::warn!(%error, dir = %dir.display(), "could not read the data directory's free space");
            }
        }
    }

    fn sample_queues(&mut self, router: &Router, now: Timestamp) {
        #[derive(Default)]
        struct Line {
            depth: u64,
            assigned: u64,
            oldest_wait: Duration,
            at_risk: u64,
            overdue: u64,
            held: u64,
            unservable: u64,
        }
        let state = router.state();
        let mut complaints = [0_u64; 3];
        let mut lines: BTreeMap<(&'static str, Arc<str>), Line> = BTreeMap::new();
        for key in &self.queues_seen {
            lines.insert(key.clone(), Line::default());
        }
        for contact in state.contacts() {
            let service = self.services.label(state.service_name(contact.service));
            let line = lines
                .entry((contact.channel.as_str(), service))
                .or_default();
            match contact.status {
                ContactStatus::Queued | ContactStatus::Offered { .. } => {
                    line.depth += 1;
                    line.oldest_wait = line
                        .oldest_wait
                        .max(now.saturating_since(contact.first_arrived_at));
                }
                ContactStatus::Assigned { .. } => line.assigned += 1,
                ContactStatus::Held { .. } => line.held += 1,
            }
            if let Some(stage) = contact.complaint_stage {
                complaints[stage_index(stage)] += 1;
            }
            if contact.due_breached {
                line.overdue += 1;
            } else if contact.due_at_risk {
                line.at_risk += 1;
            }
        }
        for contact in router.unservable() {
            let service = self.services.label(state.service_name(contact.service));
            let line = lines
                .entry((contact.channel.as_str(), service))
                .or_default();
            line.unservable += 1;
        }
        for ((channel, service), line) in lines {
            let labels = [
                ("channel", channel.to_owned()),
                ("service", service.to_string()),
            ];
            metrics::gauge!(QUEUE_DEPTH, &labels).set(count_u64(line.depth));
            metrics::gauge!(CONTACTS_ASSIGNED, &labels).set(count_u64(line.assigned));
            metrics::gauge!(OLDEST_WAIT, &labels).set(line.oldest_wait.as_secs_f64());
            metrics::gauge!(CONTACTS_DUE_AT_RISK, &labels).set(count_u64(line.at_risk));
            metrics::gauge!(CONTACTS_OVERDUE, &labels).set(count_u64(line.overdue));
            metrics::gauge!(CONTACTS_HELD_NOW, &labels).set(count_u64(line.held));
            metrics::gauge!(CONTACTS_UNSERVABLE, &labels).set(count_u64(line.unservable));
            self.queues_seen.insert((channel, service));
        }
        for (stage, open) in [
            ComplaintStage::Stage1,
            ComplaintStage::Stage2,
            ComplaintStage::Ombudsman,
        ]
        .into_iter()
        .zip(complaints)
        {
            metrics::gauge!(COMPLAINTS_OPEN, "stage" => stage.as_str()).set(count_u64(open));
        }
    }

    fn sample_service_levels(&mut self, router: &Router) {
        let state = router.state();
        let config = router.config();
        /// One (channel, service label) line; services past the cap are summed.
        #[derive(Default)]
        struct Line<'s> {
            within: u64,
            answered: u64,
            abandoned: u64,
            /// Live contacts waiting now, never answered, past the threshold.
            waiting_past: u64,
            /// The service's own name, unless lumped under `other` (which has no target).
            exact: Option<&'s str>,
        }
        let mut lines: BTreeMap<(Channel, Arc<str>), Line<'_>> = BTreeMap::new();
        for ((service, channel), counters) in state.counters() {
            if !channel.is_live() {
                continue;
            }
            let label = self.services.label(service);
            let exact = (*label != *OTHER).then_some(&**service);
            let line = lines.entry((*channel, label)).or_insert_with(|| Line {
                exact,
                ..Line::default()
            });
            line.within += counters.answered_within_service_level;
            line.answered += counters.answered;
            line.abandoned += counters.abandoned;
        }
        for contact in state.contacts() {
            if contact.answered_at.is_none() && contact.service_level_passed {
                let label = self
                    .services
                    .label(state.service_name(contact.first_service));
                if let Some(line) = lines.get_mut(&(contact.channel, label)) {
                    line.waiting_past += 1;
                }
            }
        }
        for (
            (channel, service),
            Line {
                within,
                answered,
                abandoned,
                waiting_past,
                exact,
            },
        ) in lines
        {
            let labels = [
                ("channel", channel.as_str().to_owned()),
                ("service", service.to_string()),
            ];
            let offered = answered + abandoned + waiting_past;
            if offered > 0 {
                metrics::gauge!(SERVICE_LEVEL, &labels).set(count_u64(within) / count_u64(offered));
            }
            if let Some(service) = exact {
                let service = ServiceId::from(service);
                let target = config
                    .service_levels
                    .get(&(service.clone(), channel))
                    .map_or(0.8, |t| t.target);
                metrics::gauge!(SERVICE_LEVEL_TARGET, &labels).set(target);
                metrics::gauge!(SERVICE_LEVEL_THRESHOLD, &labels)
                    .set(config.answer_within(&service, channel).as_secs_f64());
            }
        }
    }

    fn sample_agents(&mut self, state: &State) {
        let mut groups: BTreeMap<(&'static str, Arc<str>, u8), u64> = BTreeMap::new();
        for key in &self.agents_seen {
            groups.insert(key.clone(), 0);
        }
        // (staffed, busy) per site.
        let mut occupancy: BTreeMap<Arc<str>, (u64, u64)> = BTreeMap::new();
        for site in &self.sites_seen {
            occupancy.insert(site.clone(), (0, 0));
        }
        for agent in state.agents() {
            let site = self.sites.label(state.site_name(agent.site));
            *groups
                .entry((agent.presence.as_str(), site.clone(), agent.tier.get()))
                .or_default() += 1;
            let (staffed, busy) = match agent.presence {
                Presence::Ready => (true, agent.load_total() > 0),
                Presence::WrapUp { .. } => (true, true),
                Presence::NotReady { .. } | Presence::LoggedOut => (false, false),
            };
            let line = occupancy.entry(site).or_default();
            line.0 += u64::from(staffed);
            line.1 += u64::from(busy);
        }
        for ((presence, site, tier), n) in groups {
            metrics::gauge!(AGENTS, "presence" => presence, "site" => site.to_string(), "tier" => tier_label(tier))
                .set(count_u64(n));
            self.agents_seen.insert((presence, site, tier));
        }
        for (site, (staffed, busy)) in occupancy {
            let ratio = if staffed == 0 {
                0.0
            } else {
                count_u64(busy) / count_u64(staffed)
            };
            metrics::gauge!(OCCUPANCY, "site" => site.to_string()).set(ratio);
            self.sites_seen.insert(site);
        }
    }
}

/// Log bytes, segment count and snapshot age, read from the data directory's file names and
/// sizes (the engine keeps no such figures itself).
fn sample_data_dir(dir: &Path) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            tracing::warn!(%error, dir = %dir.display(), "could not read the data directory for metrics");
            return;
        }
    };
    let mut bytes = 0_u64;
    let mut segments = 0_u64;
    let mut newest_snapshot: Option<SystemTime> = None;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Ok(meta) = entry.metadata() else { continue };
        if name.ends_with(".seg") {
            bytes += meta.len();
            segments += 1;
        } else if name.starts_with("snapshot-")
            && name.ends_with(".snap")
            && let Ok(modified) = meta.modified()
        {
            newest_snapshot = newest_snapshot.max(Some(modified));
        }
    }
    metrics::gauge!(LOG_BYTES).set(count_u64(bytes));
    metrics::gauge!(LOG_SEGMENTS).set(count_u64(segments));
    if let Some(modified) = newest_snapshot {
        let age = SystemTime::now()
            .duration_since(modified)
            .unwrap_or(Duration::ZERO);
        metrics::gauge!(SNAPSHOT_AGE).set(age.as_secs_f64());
    }
}

fn tier_label(tier: u8) -> &'static str {
    match tier {
        1 => "1",
        2 => "2",
        3 => "3",
        4 => "4",
        5 => "5",
        _ => OTHER,
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "counts far below 2^52; a gauge needs no more"
)]
const fn count_u64(n: u64) -> f64 {
    n as f64
}

fn count(n: usize) -> f64 {
    count_u64(u64::try_from(n).unwrap_or(u64::MAX))
}

/// FNV-1a, for the maps of [`LoopHandles`], keyed by names compiled into the program
/// (triggers, command kinds, error codes, query kinds): a few short keys that no client chooses,
/// so a hash without the standard one's resistance to chosen keys is enough, at a fraction of
/// its cost.
#[derive(Copy, Clone, Debug)]
struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map of the loop's metric handles (see [`NameHasher`]).
type HandleMap<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;

/// Handles of the series the engine loop records itself (the functions below), registered on
/// first use and kept per thread, so that recording is an atomic operation rather than building
/// a key and looking it up in the recorder's registry. Dropped whenever the recorder the
/// `metrics` macros would use changes (see [`recorder_id`]).
#[derive(Debug, Default)]
struct LoopHandles {
    /// The [`recorder_id`] the handles were registered with.
    recorder: Option<usize>,
    /// [`ROUTING_DECISION`] by trigger.
    routing_decisions: HandleMap<&'static str, Histogram>,
    /// [`COMMANDS`] by kind and whether it was accepted.
    commands: HandleMap<(&'static str, bool), Counter>,
    /// [`BAD_MESSAGES`] by code.
    bad_messages: HandleMap<&'static str, Counter>,
    /// [`QUERIES`] by kind.
    queries: HandleMap<&'static str, Counter>,
    repeated_commands: Option<Counter>,
    batch_messages: Option<Histogram>,
    idempotency_entries: Option<Gauge>,
    command_reply: Option<Histogram>,
}

thread_local! {
    static LOOP_HANDLES: RefCell<LoopHandles> = RefCell::new(LoopHandles::default());
}

/// Runs `record` with this thread's [`LoopHandles`], first dropped if the recorder changed.
/// Returns false, without running it, if they are out of reach (the thread is exiting, or a
/// call from within `record`): the caller then records without the cache.
fn with_loop_handles(record: impl FnOnce(&mut LoopHandles)) -> bool {
    LOOP_HANDLES
        .try_with(|cell| {
            let Ok(mut handles) = cell.try_borrow_mut() else {
                return false;
            };
            let recorder = recorder_id();
            if handles.recorder != Some(recorder) {
                *handles = LoopHandles {
                    recorder: Some(recorder),
                    ..LoopHandles::default()
                };
            }
            record(&mut handles);
            true
        })
        .unwrap_or(false)
}

/// A connection event of the NATS client (`connected`, `disconnected`, `slow_consumer`...).
pub fn nats_event(event: &'static str) {
    metrics::counter!(NATS_EVENTS, "event" => event).increment(1);
}

/// The durable intake consumer reported an error.
pub fn intake_error() {
    metrics::counter!(INTAKE_ERRORS).increment(1);
}

/// Every event up to `seq` is stored in the events stream.
pub(crate) fn events_stream_sequence(seq: u64) {
    metrics::gauge!(EVENTS_STREAM_SEQUENCE).set(count_u64(seq));
}

/// `events` events are published to the events stream again.
pub(crate) fn events_publish_retried(events: u64) {
    metrics::counter!(EVENTS_PUBLISH_RETRIES).increment(events);
}

/// The events stream refused `events` events because its last message was not the previous one
/// (they are published again in order).
pub(crate) fn events_refused_for_order(events: u64) {
    metrics::counter!(EVENTS_REFUSED_FOR_ORDER).increment(events);
}

/// The core decided a command (`trigger` = `command`) or due timers (`timer`) in `elapsed`.
pub fn routing_decision(trigger: &'static str, elapsed: Duration) {
    let register = || metrics::histogram!(ROUTING_DECISION, "trigger" => trigger);
    let seconds = elapsed.as_secs_f64();
    let cached = with_loop_handles(|handles| {
        handles
            .routing_decisions
            .entry(trigger)
            .or_insert_with(register)
            .record(seconds);
    });
    if !cached {
        register().record(seconds);
    }
}

/// A command of `kind` was decided: accepted (`ok`) or refused by the core.
pub fn command_decided(kind: &'static str, ok: bool) {
    let register = || metrics::counter!(COMMANDS, "kind" => kind, "result" => if ok { "ok" } else { "refused" });
    let cached = with_loop_handles(|handles| {
        handles
            .commands
            .entry((kind, ok))
            .or_insert_with(register)
            .increment(1);
    });
    if !cached {
        register().increment(1);
    }
}

/// A command was answered with an error of this wire code.
pub fn bad_message(code: &'static str) {
    let register = || metrics::counter!(BAD_MESSAGES, "code" => code);
    let cached = with_loop_handles(|handles| {
        handles
            .bad_messages
            .entry(code)
            .or_insert_with(register)
            .increment(1);
    });
    if !cached {
        register().increment(1);
    }
}

/// A command repeated a known idempotency key.
pub fn repeated_command() {
    let register = || metrics::counter!(REPEATED_COMMANDS);
    let cached = with_loop_handles(|handles| {
        handles
            .repeated_commands
            .get_or_insert_with(register)
            .increment(1);
    });
    if !cached {
        register().increment(1);
    }
}

/// A query of `kind` was answered.
pub fn query_answered(kind: &'static str) {
    let register = || metrics::counter!(QUERIES, "kind" => kind);
    let cached = with_loop_handles(|handles| {
        handles
            .queries
            .entry(kind)
            .or_insert_with(register)
            .increment(1);
    });
    if !cached {
        register().increment(1);
    }
}

/// Retention was checked at `now` (the core's time); `left` subjects are still due after this
/// check's batch. Rare (hourly): recorded without cached handles.
pub fn retention_checked(now: Timestamp, left: usize) {
    metrics::gauge!(RETENTION_DUE).set(count(left));
    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds since 1970 are exact in an f64 until the year 287 396"
    )]
    let secs = now.as_millis() as f64 / 1000.0;
    metrics::gauge!(RETENTION_CHECKED).set(secs);
}

/// A turn took `messages` messages; the idempotency cache holds `entries` replies.
pub fn turn_finished(messages: usize, entries: usize) {
    let batch = || metrics::histogram!(BATCH_MESSAGES);
    let cache = || metrics::gauge!(IDEMPOTENCY_ENTRIES);
    let cached = with_loop_handles(|handles| {
        handles
            .batch_messages
            .get_or_insert_with(batch)
            .record(count(messages));
        handles
            .idempotency_entries
            .get_or_insert_with(cache)
            .set(count(entries));
    });
    if !cached {
        batch().record(count(messages));
        cache().set(count(entries));
    }
}

/// A reply went out `elapsed` after its command was taken into a batch.
pub fn command_replied(elapsed: Duration) {
    let register = || metrics::histogram!(COMMAND_REPLY);
    let seconds = elapsed.as_secs_f64();
    let cached = with_loop_handles(|handles| {
        handles
            .command_reply
            .get_or_insert_with(register)
            .record(seconds);
    });
    if !cached {
        register().record(seconds);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString,
        Unit,
    };
    use switchboard_core::{
        AgentLogin, Channel, Command, Level, NewContact, Outcome, RoutingConfig, Tier, Timestamp,
    };
    use switchboard_engine::{Committed, Engine, EngineError, EngineOptions};

    use super::*;

    /// Counts histogram samples.
    #[derive(Debug, Default)]
    struct Records(AtomicU64);

    impl HistogramFn for Records {
        fn record(&self, _value: f64) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A recorder keeping counters and histogram sample counts by key, like a registry: the
    /// same key registered twice is the same series.
    #[derive(Debug, Default)]
    struct Recorded {
        counters: Mutex<HashMap<Key, Arc<AtomicU64>>>,
        histograms: Mutex<HashMap<Key, Arc<Records>>>,
    }

    impl Recorder for Recorded {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let mut counters = self.counters.lock().expect("not poisoned");
            Counter::from_arc(counters.entry(key.clone()).or_default().clone())
        }

        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }

        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            let mut histograms = self.histograms.lock().expect("not poisoned");
            Histogram::from_arc(histograms.entry(key.clone()).or_default().clone())
        }
    }

    fn matches(key: &Key, name: &str, labels: &[(&str, &str)]) -> bool {
        key.name() == name
            && key.labels().count() == labels.len()
            && labels
                .iter()
                .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
    }

    impl Recorded {
        /// The counter of `name` with exactly these labels (0 if never registered).
        fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
            let counters = self.counters.lock().expect("not poisoned");
            counters
                .iter()
                .filter(|(key, _)| matches(key, name, labels))
                .map(|(_, value)| value.load(Ordering::Relaxed))
                .sum()
        }

        /// How many samples the histogram of `name` with exactly these labels got.
        fn samples(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
            let histograms = self.histograms.lock().expect("not poisoned");
            histograms
                .iter()
                .filter(|(key, _)| matches(key, name, labels))
                .map(|(_, records)| records.0.load(Ordering::Relaxed))
                .sum()
        }
    }

    fn engine(dir: &Path) -> Engine {
        Engine::open(
            dir,
            RoutingConfig::default(),
            EngineOptions::default(),
            &mut |_, _| {},
        )
        .expect("engine opens")
        .0
    }

    /// One agent answers and completes a phone contact for `benefits`.
    fn answered_call(engine: &mut Engine) -> Vec<Result<Option<Committed>, EngineError>> {
        let now = Timestamp::from_millis(1_795_422_600_000);
        let login = AgentLogin {
            agent: "agent-ann".into(),
            name: "Ann".into(),
            tier: Tier::new(1).expect("tier 1"),
            site: "hq".into(),
            skills: [("benefits".into(), Level::new(3).expect("level 3"))]
                .into_iter()
                .collect(),
            channels: None,
        };
        engine
            .decide(Command::LoginAgent(Box::new(login)), now)
            .expect("login");
        engine
            .decide(
                Command::MakeReady {
                    agent: "agent-ann".into(),
                },
                now,
            )
            .expect("ready");
        let contact = NewContact::routine("contact-1", Channel::Phone, "benefits");
        engine
            .decide(Command::CreateContact(Box::new(contact)), now)
            .expect("create");
        let mut batches = vec![engine.commit()];
        let offer = engine
            .state()
            .offers()
            .next()
            .map(|o| o.id)
            .expect("an offer");
        engine
            .decide(
                Command::AcceptOffer {
                    agent: "agent-ann".into(),
                    offer,
                },
                now,
            )
            .expect("accept");
        batches.push(engine.commit());
        engine
            .decide(
                Command::CompleteContact {
                    agent: "agent-ann".into(),
                    contact: "contact-1".into(),
                    outcome: Outcome::Resolved,
                },
                now,
            )
            .expect("complete");
        batches.push(engine.commit());
        batches
    }

    const PHONE_BENEFITS: &[(&str, &str)] = &[("channel", "phone"), ("service", "benefits")];

    #[test]
    fn events_are_counted_with_their_labels_into_the_recorder_in_place() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut engine = engine(dir.path());
        let batches = answered_call(&mut engine);
        let state = engine.state();
        let mut telemetry = Telemetry::new(&State::default(), Health::new());
        let first = Recorded::default();
        metrics::with_local_recorder(&first, || {
            for batch in &batches {
                telemetry.commit_finished(batch, state);
            }
        });
        assert_eq!(first.counter(CONTACTS_CREATED, PHONE_BENEFITS), 1);
        assert_eq!(first.counter(CONTACTS_ANSWERED, PHONE_BENEFITS), 1);
        assert_eq!(
            first.counter(
                CONTACTS_COMPLETED,
                &[
                    ("channel", "phone"),
                    ("service", "benefits"),
                    ("outcome", "resolved")
                ]
            ),
            1
        );
        assert_eq!(
            first.counter(
                OFFERS_ANSWERED,
                &[("channel", "phone"), ("result", "accepted")]
            ),
            1
        );
        assert_eq!(
            first.counter(
                OFFERS_MADE,
                &[("channel", "phone"), ("rule", "longest_idle")]
            ),
            1
        );
        assert_eq!(
            first.counter(EVENTS_COMMITTED, &[("type", "contact_created")]),
            1
        );
        assert_eq!(first.samples(WAIT, PHONE_BENEFITS), 1);
        assert_eq!(first.samples(BATCH_EVENTS, &[]), 3);

        // Another recorder in place: the handles follow it, the first one counts no more.
        let second = Recorded::default();
        metrics::with_local_recorder(&second, || {
            for batch in &batches {
                telemetry.commit_finished(batch, state);
            }
        });
        assert_eq!(first.counter(CONTACTS_CREATED, PHONE_BENEFITS), 1);
        assert_eq!(second.counter(CONTACTS_CREATED, PHONE_BENEFITS), 1);
        assert_eq!(
            second.counter(EVENTS_COMMITTED, &[("type", "contact_created")]),
            1
        );
        assert_eq!(second.samples(BATCH_EVENTS, &[]), 3);
    }

    #[test]
    fn the_loop_functions_record_into_the_recorder_in_place() {
        // Both alive throughout, so at different addresses (see `recorder_id`).
        let recorders = [Recorded::default(), Recorded::default()];
        for recorded in &recorders {
            metrics::with_local_recorder(recorded, || {
                command_decided("accept_offer", true);
                command_decided("accept_offer", true);
                command_decided("accept_offer", false);
                bad_message("bad_json");
                repeated_command();
                query_answered("queues");
                routing_decision("command", Duration::from_micros(20));
                command_replied(Duration::from_micros(300));
                turn_finished(3, 10);
            });
            let accepted = [("kind", "accept_offer"), ("result", "ok")];
            assert_eq!(recorded.counter(COMMANDS, &accepted), 2);
            let refused = [("kind", "accept_offer"), ("result", "refused")];
            assert_eq!(recorded.counter(COMMANDS, &refused), 1);
            assert_eq!(recorded.counter(BAD_MESSAGES, &[("code", "bad_json")]), 1);
            assert_eq!(recorded.counter(REPEATED_COMMANDS, &[]), 1);
            assert_eq!(recorded.counter(QUERIES, &[("kind", "queues")]), 1);
            assert_eq!(
                recorded.samples(ROUTING_DECISION, &[("trigger", "command")]),
                1
            );
            assert_eq!(recorded.samples(COMMAND_REPLY, &[]), 1);
            assert_eq!(recorded.samples(BATCH_MESSAGES, &[]), 1);
        }
    }

    #[test]
    fn services_past_the_cap_are_counted_as_other() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut engine = engine(dir.path());
        let now = Timestamp::from_millis(1_795_422_600_000);
        let extra = 3;
        for n in 0..LABEL_VALUES_MAX + extra {
            let contact = NewContact::routine(
                &format!("contact-{n}"),
                Channel::Email,
                &format!("service-{n}"),
            );
            engine
                .decide(Command::CreateContact(Box::new(contact)), now)
                .expect("create");
        }
        let batch = engine.commit();
        let recorded = Recorded::default();
        let mut telemetry = Telemetry::new(&State::default(), Health::new());
        metrics::with_local_recorder(&recorded, || {
            telemetry.commit_finished(&batch, engine.state());
        });
        let created = |service: &str| {
            recorded.counter(
                CONTACTS_CREATED,
                &[("channel", "email"), ("service", service)],
            )
        };
        assert_eq!(created("service-0"), 1);
        assert_eq!(created(&format!("service-{}", LABEL_VALUES_MAX - 1)), 1);
        assert_eq!(created(&format!("service-{LABEL_VALUES_MAX}")), 0);
        assert_eq!(created(OTHER), u64::try_from(extra).expect("small"));
    }
}
