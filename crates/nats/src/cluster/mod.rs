//! Cluster mode's async plumbing (issue 16, docs/cluster.md): one process per engine that waits
//! as a hot standby, following the domain's log stream into its local copy and its own state,
//! until it takes the domain's lease; then serves with the ordinary driver while a task renews
//! the lease; and, when the lease is lost or an append is fenced, stops serving and is a
//! standby again, without exiting. The rules (when to renew, why a term ends, what a takeover
//! took) are the sans-IO [`role`] module's; this one only does the lease's writes, the
//! stream's reads, the metrics and the clock.

pub mod fsync;
mod measure;
pub mod role;
mod snapshots;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::Client;
use async_nats::jetstream;
use switchboard_core::{Router, RoutingConfig, State};
use switchboard_engine::{Engine, EngineError, EngineLog, EngineOptions, EngineParts, Recovered};
use switchboard_jetlog::{
    JetStreamConfig, JetStreamError, JetStreamLog, Lease, LeaseConfig, LeaseError, MirroredLog,
    copy_tail,
};
use switchboard_log::{FileLog, LogError};
use tokio::sync::{Notify, oneshot, watch};

use crate::driver::{DriverError, DriverSettings, nats};
use role::{Leadership, StopReason};

/// The KV bucket of every domain's lease.
pub const LEASE_BUCKET: &str = "switchboard_leases";

/// Who holds `domain`'s lease, as the lease bucket says (`None` when nobody does, or the bucket
/// cannot be read): for tools and tests that watch a cluster from outside (`demo --cluster`).
pub async fn lease_holder(client: &Client, domain: &Domain) -> Option<String> {
    let js = jetstream::new(client.clone());
    let kv = js.get_key_value(LEASE_BUCKET).await.ok()?;
    let value = kv.get(domain.lease_key()).await.ok()??;
    let holder = String::from_utf8(value.to_vec()).ok()?;
    (!holder.is_empty()).then_some(holder)
}

/// The names of one routing domain's cluster objects, from its subject prefix (the contract of
/// docs/cluster.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    prefix: String,
}

impl Domain {
    /// The domain of subject prefix `prefix` (e.g. `switchboard`, `council_a`).
    #[must_use]
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The subject prefix (the `domain` label of the cluster's metrics).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn upper(&self) -> String {
        self.prefix.to_ascii_uppercase().replace(['.', '-'], "_")
    }

    /// The log stream: `SB_LOG_<PREFIX>`.
    #[must_use]
    pub fn log_stream(&self) -> String {
        format!("SB_LOG_{}", self.upper())
    }

    /// The one subject of the log stream: `<prefix>.log`.
    #[must_use]
    pub fn log_subject(&self) -> String {
        format!("{}.log", self.prefix)
    }

    /// The Object Store bucket of the domain's snapshots: `SB_SNAP_<PREFIX>`.
    #[must_use]
    pub fn snapshot_bucket(&self) -> String {
        format!("SB_SNAP_{}", self.upper())
    }

    /// The KV bucket of the domain's keystore (docs/privacy.md): `SB_KEYS_<PREFIX>`.
    #[must_use]
    pub fn keys_bucket(&self) -> String {
        format!("SB_KEYS_{}", self.upper())
    }

    /// The lease's key in [`LEASE_BUCKET`]: the prefix with `.` made `_`.
    #[must_use]
    pub fn lease_key(&self) -> String {
        self.prefix.replace('.', "_")
    }
}

/// What a cluster-mode engine needs besides the driver's settings.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The routing domain.
    pub domain: Domain,
    /// This engine's name in the lease.
    pub node_id: String,
    /// The lease's TTL (the same on every node).
    pub lease_ttl: Duration,
    /// Copies of the log stream and the lease bucket.
    pub replicas: usize,
    /// The data directory: the local copy of the log and the snapshots.
    pub dir: PathBuf,
    /// The engine's options.
    pub engine: EngineOptions,
    /// The routing configuration.
    pub routing: RoutingConfig,
}

impl ClusterOptions {
    /// The log stream's configuration.
    #[must_use]
    pub fn stream_config(&self) -> JetStreamConfig {
        let mut config = JetStreamConfig::new(self.domain.log_stream(), self.domain.log_subject());
        config.replicas = self.replicas;
        config.record_bytes_max = self.engine.log.record_bytes_max;
        config
    }

    fn lease_config(&self) -> LeaseConfig {
        LeaseConfig {
            bucket: LEASE_BUCKET.to_owned(),
            key: self.domain.lease_key(),
            holder: self.node_id.clone(),
            ttl: self.lease_ttl,
            replicas: self.replicas,
        }
    }
}

/// A standby: the local copy of the log and the state it holds.
struct Follower {
    state: State,
    log: FileLog,
}

/// Serves the domain in cluster mode until `shutdown` completes: standby, takeover, serving,
/// back to standby, as often as it takes. Must run on a multi-thread runtime.
///
/// # Errors
/// The lease bucket cannot be opened, the local copy cannot be read or written, or the driver
/// failed in a way a standby would fail too.
pub async fn serve(
    client: Client,
    options: ClusterOptions,
    driver: DriverSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DriverError> {
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let context = jetstream::new(client.clone());
    // A standby may start while the cluster elects a leader or a server restarts: until
    // JetStream answers, it waits (saying so), as it would wait for the lease. Only a refusal
    // that trying again cannot cure (a bucket with another TTL, a damaged stream) stops it.
    let lease = until_answered(&stop, "open the lease bucket", || {
        Lease::open(&context, options.lease_config())
    })
    .await?;
    let Some(mut lease) = lease.transpose().map_err(nats("open the lease bucket"))? else {
        return Ok(());
    };
    // The stream is made (or checked: dense, atomic batches allowed) before anyone follows it.
    let stream = until_answered(&stop, "open the log stream", || {
        JetStreamLog::open(client.clone(), options.stream_config())
    })
    .await?;
    if stream.transpose().map_err(EngineError::Log)?.is_none() {
        return Ok(());
    }
    let metrics = measure::Metrics::new(options.domain.prefix());
    let mut role = Leadership::new(options.lease_ttl);
    let mut stopping = stop.clone();
    loop {
        metrics.leader(false);
        let Some(follower) =
            standby(&context, &options, &mut lease, &mut role, &metrics, &stop).await?
        else {
            return Ok(());
        };
        let (reason, held) = lead(
            &client, &options, follower, lease, &mut role, &metrics, &driver, &stop,
        )
        .await?;
        lease = held;
        metrics.leader(false);
        role.stopped();
        if let Some(reason) = reason {
            tracing::warn!(node_id = %options.node_id, domain = %options.domain.prefix(), reason = reason.as_str(), "stopped serving");
        }
        if reason.is_none_or(StopReason::releases_lease)
            && let Err(error) = lease.release().await
        {
            tracing::info!(error = %chain(&error), "the lease was not released; it lapses after its TTL");
        }
        match reason {
            Some(StopReason::Shutdown) => return Ok(()),
            Some(_) => {}
            // A takeover that failed: give the stream a moment before the next try.
            None => tokio::select! {
                _ = stopping.changed() => {}
                () = tokio::time::sleep(role.standby_poll_every()) => {}
            },
        }
    }
}

/// The most a start-up step waits between two tries while JetStream does not answer.
const START_RETRY_MAX: Duration = Duration::from_secs(5);

/// Whether trying again may cure a start-up failure (JetStream not answering or not yet able
/// to: no quorum, a leader being elected), as opposed to a refusal of what is there.
trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for LeaseError {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Bucket { .. })
    }
}

impl Transient for LogError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Backend { source, .. } => !matches!(
                source.downcast_ref::<JetStreamError>(),
                Some(JetStreamError::Damaged { .. } | JetStreamError::InsideRuntime)
            ),
            _ => false,
        }
    }
}

/// Runs a start-up step until it succeeds, fails for good (`Some(Err)`), or shutdown comes
/// (`None`): a transient failure is logged (the first, then every tenth) and tried again after
/// a backoff doubling from 100 ms to [`START_RETRY_MAX`].
async fn until_answered<T, E, F, Fut>(
    stop: &watch::Receiver<bool>,
    what: &'static str,
    mut step: F,
) -> Result<Option<Result<T, E>>, DriverError>
where
    E: Transient + std::error::Error,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut stop = stop.clone();
    let mut wait = Duration::from_millis(100);
    for attempt in 1_u64.. {
        if *stop.borrow() {
            return Ok(None);
        }
        let error = match step().await {
            Err(error) if error.is_transient() => error,
            done => return Ok(Some(done)),
        };
        if attempt == 1 || attempt % 10 == 0 {
            tracing::warn!(error = %chain(&error), attempt, "could not {what} (JetStream not answering yet); trying again");
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(START_RETRY_MAX);
    }
    unreachable!("the attempts are counted in a u64")
}

/// An error with its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Waits as a hot standby until this node holds the lease (`None`: shutdown came first).
///
/// It reads the stream's tail into its copy and tries the lease every
/// [`Leadership::standby_poll_every`], *also while a read is under way*: a JetStream request
/// left unanswered (a server restarting, the client reconnecting) waits for the connection's
/// request timeout, 10 s, and a standby that tried the lease only between reads took over that
/// much later than the lease's TTL (BENCHMARKS.md, "Failover under the Jepsen-style test").
/// A read cut short by the takeover loses nothing: the copy keeps what was appended, and the
/// takeover reads to the stream's end anyway.
async fn standby(
    context: &jetstream::Context,
    options: &ClusterOptions,
    lease: &mut Lease,
    role: &mut Leadership,
    metrics: &measure::Metrics,
    stop: &watch::Receiver<bool>,
) -> Result<Option<Follower>, DriverError> {
    let mut follower = open_follower(context, options).await?;
    let stream = options.stream_config();
    let mut stop = stop.clone();
    let mut trier = LeaseTrier {
        lease,
        role,
        metrics,
        node_id: &options.node_id,
        seen_holder: None,
    };
    loop {
        if *stop.borrow() {
            return Ok(None);
        }
        let started = Instant::now();
        let followed = {
            let following = follow(context, &stream, &mut follower);
            tokio::pin!(following);
            loop {
                tokio::select! {
                    followed = &mut following => break Some(followed),
                    _ = stop.changed() => return Ok(None),
                    () = tokio::time::sleep(trier.role.standby_poll_every()) => {
                        if trier.try_lease().await {
                            break None;
                        }
                    }
                }
            }
        };
        let Some(followed) = followed else {
            tracing::info!(
                reading_ms = started.elapsed().as_millis(),
                "took the lease while a read of the log stream was still under way"
            );
            return Ok(Some(follower));
        };
        match followed {
            Ok(lag) => metrics.standby_lag(lag),
            Err(error) => {
                tracing::warn!(error = %chain(&error), took_ms = started.elapsed().as_millis(), "could not follow the log stream; trying again");
            }
        }
        if trier.try_lease().await {
            return Ok(Some(follower));
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(trier.role.standby_poll_every()) => {}
        }
    }
}

/// A standby's tries of the lease.
struct LeaseTrier<'a> {
    lease: &'a mut Lease,
    role: &'a mut Leadership,
    metrics: &'a measure::Metrics,
    node_id: &'a str,
    /// The holder last logged.
    seen_holder: Option<String>,
}

impl LeaseTrier<'_> {
    /// Tries to take the lease; whether this node now holds it.
    async fn try_lease(&mut self) -> bool {
        match self.lease.acquire().await {
            Ok(()) => {
                self.role.acquired(Instant::now());
                true
            }
            Err(LeaseError::Held { holder, .. }) => {
                if self.seen_holder.as_deref() != Some(holder.as_str()) {
                    tracing::info!(holder = %holder, lag_events = self.metrics.last_lag(), "standing by: the domain's lease is held");
                    self.seen_holder = Some(holder.clone());
                }
                self.role.held_by(&holder, self.node_id);
                false
            }
            Err(error) => {
                tracing::warn!(error = %chain(&error), "could not try the lease; trying again");
                false
            }
        }
    }
}

/// Recovers a standby's state from the local copy (its newest snapshot, then its tail). When
/// the local copy has no usable snapshot and the bucket has some past the copy's end (a new or
/// emptied disk), the stream is copied without being applied, the bucket's snapshots are
/// written into the data directory, and recovery runs again from them: it checks each against
/// the log (its seq's chain hash) as any snapshot file, takes the newest that fits and passes
/// over, with its reason, any that does not (a damaged newest one: the next older is used).
async fn open_follower(
    context: &jetstream::Context,
    options: &ClusterOptions,
) -> Result<Follower, DriverError> {
    let (mut follower, recovered) = recover_follower(options).await?;
    if recovered.snapshot_seq.is_some() {
        return Ok(follower);
    }
    let fetched = snapshots::fetch_newest_first(context, options, recovered.last_seq).await;
    if fetched.is_empty() {
        return Ok(follower);
    }
    // The local copy first (the snapshots are checked against it); the state is rebuilt below.
    copy_tail(
        context,
        &options.stream_config(),
        &mut follower.log,
        &mut |_| Ok(()),
    )
    .await
    .map_err(EngineError::Log)?;
    drop(follower);
    // Every one into the data directory, oldest first (saving a snapshot removes any newer
    // one: one of another history, for a local log): recovery takes the newest that fits the
    // log and passes over, with its reason, any that does not.
    let (dir, snapshot_options) = (options.dir.clone(), options.engine.snapshot.clone());
    let saved = tokio::task::spawn_blocking(move || {
        fetched.iter().rev().try_for_each(|snapshot| {
            switchboard_log::save_snapshot(
                &dir,
                snapshot.seq,
                snapshot.head_hash,
                &snapshot.payload,
                &snapshot_options,
            )
            .map(|_| ())
        })
    })
    .await
    .map_err(nats("write the bucket's snapshots"))?;
    if let Err(error) = saved {
        tracing::warn!(error = %chain(&error), "could not write the bucket's snapshots; the stream is replayed instead");
    }
    let (follower, recovered) = recover_follower(options).await?;
    for skipped in &recovered.skipped_snapshots {
        tracing::warn!(snapshot = %skipped, "snapshot not used; the log was replayed instead");
    }
    tracing::info!(
        snapshot_seq = recovered.snapshot_seq,
        replayed = recovered.replayed,
        last_seq = recovered.last_seq,
        "recovered from the snapshot bucket's snapshot"
    );
    Ok(follower)
}

/// Recovers the state from the data directory with [`Engine::open`].
async fn recover_follower(options: &ClusterOptions) -> Result<(Follower, Recovered), DriverError> {
    let (dir, engine) = (options.dir.clone(), options.engine.clone());
    let routing = options.routing.clone();
    let (opened, recovered) = tokio::task::spawn_blocking(move || {
        let (engine, recovered) = Engine::open(&dir, routing, engine, &mut |_, _| {})?;
        Ok::<_, EngineError>((engine.into_parts()?, recovered))
    })
    .await
    .map_err(nats("recover the standby's state"))??;
    let EngineLog::File(log) = opened.log else {
        unreachable!("Engine::open opens the file log");
    };
    let follower = Follower {
        state: opened.router.into_state(),
        log,
    };
    Ok((follower, recovered))
}

/// Copies the stream's new records into the follower's local copy and state; returns how many
/// it was behind.
async fn follow(
    context: &jetstream::Context,
    stream: &JetStreamConfig,
    follower: &mut Follower,
) -> Result<u64, LogError> {
    let Follower { state, log } = follower;
    copy_tail(context, stream, log, &mut |record| {
        let event = switchboard_wire::decode_event(&record.payload).map_err(|source| {
            LogError::Backend {
                backend: "jetstream",
                op: "decode a followed record",
                source: Box::new(EngineError::Decode {
                    seq: record.seq,
                    source,
                }),
            }
        })?;
        state.apply(&event);
        Ok(())
    })
    .await
}

/// Serves as leader until the lease is lost, an append fails, or shutdown; returns why (`None`:
/// the takeover failed before serving), with the lease.
#[expect(clippy::too_many_arguments, reason = "one call, from `serve`")]
async fn lead(
    client: &Client,
    options: &ClusterOptions,
    follower: Follower,
    lease: Lease,
    role: &mut Leadership,
    metrics: &measure::Metrics,
    driver: &DriverSettings,
    stop: &watch::Receiver<bool>,
) -> Result<(Option<StopReason>, Lease), DriverError> {
    let context = jetstream::new(client.clone());
    let stream_config = options.stream_config();
    let engine = match take_over(client, &context, options, follower, stream_config).await {
        Ok(engine) => engine,
        Err(error) => {
            tracing::warn!(error = %chain(&error), "could not take over; back to standby");
            return Ok((None, lease));
        }
    };
    let from_seq = engine.next_seq();
    let (lost_tx, lost) = watch::channel(false);
    let (end_tx, end) = oneshot::channel();
    let renewing = tokio::spawn(renew(
        lease,
        role.renew_every(),
        lost_tx,
        end,
        metrics.clone(),
    ));
    let receipts = {
        let (dir, engine_options) = (options.dir.clone(), options.engine.clone());
        tokio::task::spawn_blocking(move || {
            Engine::read_receipts(&dir, &engine_options, from_seq - 1)
        })
        .await
        .map_err(nats("read the receipts"))??
    };
    let mut settings = driver.clone();
    settings.receipts = receipts.into_entries();
    settings.snapshot_sink = snapshots::sink(&context, options, metrics).await;
    settings.keystore = crate::driver::KeystoreSetting::Kv(switchboard_privacy::KvKeystoreConfig {
        bucket: options.domain.keys_bucket(),
        replicas: options.replicas,
    });
    let serving = Arc::new(Notify::new());
    settings.serving = Some(serving.clone());
    settings.setup_retry = Some(role.setup_retry());
    let (mut stop, mut lost_early) = (stop.clone(), lost.clone());
    let ended = async move {
        let mut lost = lost;
        tokio::select! {
            _ = stop.wait_for(|stopping| *stopping) => StopReason::Shutdown,
            _ = lost.wait_for(|lost| *lost) => StopReason::LeaseLost,
        }
    };
    let (why_tx, why) = oneshot::channel();
    let shutdown = async move {
        let _ = why_tx.send(ended.await);
    };
    let run = crate::driver::run(client.clone(), engine, settings, shutdown);
    tokio::pin!(run);
    // The set-up tries its requests again while a stream or consumer elects its leader
    // (`Leadership::setup_retry`), the lease renewed meanwhile; a lease lost before serving
    // ends the takeover at once (nothing was served, and an append would be fenced anyway).
    let ran = tokio::select! {
        ran = &mut run => Some(ran),
        () = serving.notified() => {
            let takeover = role.serving(Instant::now());
            metrics.serving(takeover);
            tracing::info!(node_id = %options.node_id, domain = %options.domain.prefix(), from_seq, took_ms = takeover.took.as_millis(), "serving as leader");
            Some(run.await)
        }
        _ = lost_early.wait_for(|lost| *lost) => None,
    };
    let _ = end_tx.send(());
    let lease = renewing.await.map_err(nats("stop renewing the lease"))?;
    let Some(ran) = ran else {
        return Ok((Some(StopReason::LeaseLost), lease));
    };
    let reason = match ran {
        Ok(_engine) => why.await.unwrap_or(StopReason::Shutdown),
        Err(DriverError::Engine(EngineError::Log(error))) => {
            let Some(reason) = StopReason::of_log_failure(&error) else {
                return Err(EngineError::Log(error).into());
            };
            if reason == StopReason::Fenced {
                metrics.fenced();
            }
            tracing::warn!(error = %chain(&error), "an append failed");
            reason
        }
        Err(error @ (DriverError::Nats { .. } | DriverError::SubscriptionEnded(_))) => {
            tracing::warn!(error = %chain(&error), "NATS failed under the loop");
            StopReason::NatsFailed
        }
        Err(error) => return Err(error),
    };
    Ok((Some(reason), lease))
}

/// Brings the follower to the stream's end and builds the leader's engine on it.
async fn take_over(
    client: &Client,
    context: &jetstream::Context,
    options: &ClusterOptions,
    mut follower: Follower,
    stream_config: JetStreamConfig,
) -> Result<Engine, DriverError> {
    let stream = JetStreamLog::open(client.clone(), stream_config.clone())
        .await
        .map_err(EngineError::Log)?;
    follow(context, &stream_config, &mut follower)
        .await
        .map_err(EngineError::Log)?;
    let Follower { state, log } = follower;
    let mirrored = MirroredLog::from_parts(stream, log).map_err(EngineError::Log)?;
    let router = Router::with_state(options.routing.clone(), state).map_err(EngineError::Config)?;
    Ok(Engine::from_parts(EngineParts {
        router,
        log: EngineLog::Cluster(Box::new(mirrored)),
        dir: options.dir.clone(),
        options: options.engine.clone(),
    })?)
}

/// Renews the lease every `every` until told to end (returns the lease) or a renewal fails or
/// is not confirmed while the hold lasts (tells `lost`, returns the lease, no longer held).
async fn renew(
    mut lease: Lease,
    every: Duration,
    lost: watch::Sender<bool>,
    mut end: oneshot::Receiver<()>,
    metrics: measure::Metrics,
) -> Lease {
    loop {
        tokio::select! {
            _ = &mut end => return lease,
            () = tokio::time::sleep(every) => {}
        }
        let bound = Leadership::renewal_bound(Instant::now(), lease.valid_until());
        let renewed = match tokio::time::timeout(bound, lease.renew()).await {
            Ok(Ok(())) => {
                metrics.renewed();
                continue;
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => "not confirmed before the hold ran out".to_owned(),
        };
        metrics.lost();
        tracing::warn!(reason = %renewed, "the lease is lost");
        let _ = lost.send(true);
        return lease;
    }
}
