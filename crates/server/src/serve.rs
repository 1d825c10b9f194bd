//! `switchboard serve`: the engine on NATS. Recovers the state from the data directory, connects,
//! and runs the single-writer loop until SIGINT or SIGTERM, when it stops taking messages,
//! finishes its batch, syncs, snapshots and exits.
//!
//! A log that cannot be written stops the engine with one error line naming the cause and the
//! data directory, and a distinct exit status: [`EXIT_DISK_FULL`] when the file system is full,
//! [`EXIT_LOG_FAILED`] for any other failure of the log (docs/operations.md).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use switchboard_engine::{Engine, EngineOptions};
use switchboard_nats::DriverSettings;
use switchboard_nats::health::Health;
use switchboard_nats::http::{Endpoints, HttpLimits, HttpServer};
use switchboard_web::{PageConfig, Pages, QueueTarget, ServiceLevels};
use switchboard_wire::Subjects;

use crate::config::{self, FileConfig};

/// Log line format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `switchboard serve`. Each flag can also be set by its environment variable; flags override
/// the configuration file, which overrides the built-in defaults.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration file (TOML); see `switchboard config check`.
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// The NATS server URL(s), e.g. nats://127.0.0.1:4222.
    #[arg(long, env = "SWITCHBOARD_NATS_URL")]
    nats_url: Option<String>,
    /// Where the event log and snapshots live.
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where Prometheus scrapes /metrics.
    #[arg(long, env = "SWITCHBOARD_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// The subject prefix of the wire contract.
    #[arg(long, env = "SWITCHBOARD_SUBJECT_PREFIX")]
    subject_prefix: Option<String>,
    /// Where the web pages (/wallboard, /desktop, served on the metrics address) reach NATS's
    /// WebSocket listener: ws://HOST:PORT, wss://HOST/PATH, or a path on the pages' own origin
    /// (/nats, behind a reverse proxy).
    #[arg(long, env = "SWITCHBOARD_NATS_WS_URL")]
    nats_ws_url: Option<String>,
    /// Log line format.
    #[arg(long, env = "SWITCHBOARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Where the event log lives: `file` (the data directory) or `jetstream` (cluster mode:
    /// the domain's stream, one leader under a lease, standbys following; docs/cluster.md).
    #[arg(long, env = "SWITCHBOARD_LOG_BACKEND", value_enum)]
    log_backend: Option<config::LogBackend>,
    /// Copies the JetStream cluster keeps of the log stream and the lease (jetstream only).
    #[arg(long, env = "SWITCHBOARD_LOG_REPLICAS")]
    log_replicas: Option<usize>,
    /// This engine's name in the domain's lease (jetstream only; default: the host name).
    #[arg(long, env = "SWITCHBOARD_NODE_ID")]
    node_id: Option<String>,
    /// How long the lease lasts after its last renewal, the same on every engine (jetstream
    /// only).
    #[arg(long, env = "SWITCHBOARD_LEASE_TTL_SECS")]
    lease_ttl_secs: Option<u64>,
    /// A nats-server's monitoring URL (http://HOST:PORT; repeat it, or separate them with
    /// commas): the engine refuses to start if one does not fsync every write
    /// (`sync_interval: always`; jetstream only).
    #[arg(
        long = "nats-monitor-url",
        env = "SWITCHBOARD_NATS_MONITOR_URLS",
        value_delimiter = ','
    )]
    nats_monitor_urls: Vec<String>,
}

/// The exit status when the data directory's file system is full (`ENOSPC`, or a quota):
/// `EX_TEMPFAIL` of sysexits.h, "try again later". Nothing acknowledged is lost; free space and
/// start the engine again.
pub(crate) const EXIT_DISK_FULL: u8 = 75;

/// The exit status when the event log failed otherwise (an I/O error, a failed `fdatasync`):
/// `EX_IOERR` of sysexits.h. Check the disk before starting again.
pub(crate) const EXIT_LOG_FAILED: u8 = 74;

/// Structured logs on stderr; the level comes from `RUST_LOG`, else `default_filter`. Text
/// lines are coloured only on a terminal (see [`colour_logs`]).
pub(crate) fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let colour = colour_logs(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Whether log lines get ANSI colour codes: only when stderr is a terminal, and never when
/// `NO_COLOR` is set to anything but the empty string (<https://no-color.org>). A pipe, a file,
/// journald or a container's log driver gets plain text.
pub(crate) fn colour_logs(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    init_logging(args.log_format, "info");
    let (mut file, routing) = match &args.config {
        Some(path) => config::load(path)?,
        None => (FileConfig::default(), config::parse("")?.1),
    };
    if let Some(url) = args.nats_url {
        file.nats.url = url;
    }
    if let Some(dir) = args.data_dir {
        file.engine.data_dir = dir;
    }
    if let Some(address) = args.metrics_addr {
        file.metrics.address = address;
    }
    if let Some(prefix) = args.subject_prefix {
        file.nats.subject_prefix = prefix;
    }
    if let Some(url) = args.nats_ws_url {
        switchboard_web::check_nats_ws_url(&url).context("--nats-ws-url")?;
        file.http.nats_ws_url = Some(url);
    }
    if let Some(backend) = args.log_backend {
        file.log.backend = backend;
    }
    file.log.replicas = args.log_replicas.or(file.log.replicas);
    file.cluster.node_id = args.node_id.or(file.cluster.node_id.take());
    file.cluster.lease_ttl_secs = args.lease_ttl_secs.or(file.cluster.lease_ttl_secs);
    if !args.nats_monitor_urls.is_empty() {
        file.cluster.nats_monitor_urls = Some(args.nats_monitor_urls);
    }
    let cluster = config::cluster_settings(&file)?;
    // Cluster mode's log writes its local copy from the loop's runtime (`block_in_place`) and
    // its stream from the committer's thread: it needs a multi-thread runtime.
    if cluster.is_some() {
        file.engine.worker_threads = file.engine.worker_threads.max(2);
    }
    // One thread by default: the loop, the NATS connection's I/O and the metrics endpoint
    // then hand work to each other without waking threads (BENCHMARKS.md measures both).
    let mut builder = if file.engine.worker_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(file.engine.worker_threads);
        builder
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let dir = file.engine.data_dir.clone();
    let served = match cluster {
        Some(cluster) => runtime.block_on(serve_cluster(file, routing, cluster)),
        None => runtime.block_on(serve(file, routing)),
    };
    // Once the loop has stopped everything durable is on disk and answered as far as NATS let
    // it; a blocking task still running then (a history read, a reconnect's address lookup) is
    // not waited for without end: a stop while NATS was down was once seen to linger here.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match served {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => match log_failure(&error) {
            Some(failure) => Ok(stop_on_log_failure(&dir, &error, failure)),
            None => Err(error),
        },
    }
}

/// The log's failure behind `error`, if that is what stopped the engine.
fn log_failure(error: &anyhow::Error) -> Option<&switchboard_log::LogError> {
    match error.downcast_ref::<switchboard_nats::DriverError>()? {
        switchboard_nats::DriverError::Engine(switchboard_engine::EngineError::Log(failure)) => {
            Some(failure)
        }
        _ => None,
    }
}

/// The one line that says why the engine stopped on a failed log, and the exit status.
fn stop_on_log_failure(
    dir: &std::path::Path,
    error: &anyhow::Error,
    failure: &switchboard_log::LogError,
) -> ExitCode {
    let data_dir = dir.display();
    if failure.is_storage_full() {
        tracing::error!(
            %data_dir,
            cause = %format!("{error:#}"),
            exit_status = EXIT_DISK_FULL,
            "the file system of the data directory is full: the engine stops; nothing \
             acknowledged is lost; free space (docs/operations.md, \"Disk filling up\") and \
             start it again"
        );
        ExitCode::from(EXIT_DISK_FULL)
    } else {
        tracing::error!(
            %data_dir,
            cause = %format!("{error:#}"),
            exit_status = EXIT_LOG_FAILED,
            "the event log in the data directory could not be written: the engine stops; \
             nothing acknowledged is lost; check the disk, then start it again"
        );
        ExitCode::from(EXIT_LOG_FAILED)
    }
}

/// `serve` in cluster mode: a standby until it holds the domain's lease, then the leader, and
/// back, until SIGINT or SIGTERM (docs/cluster.md).
async fn serve_cluster(
    file: FileConfig,
    routing: switchboard_core::RoutingConfig,
    cluster: config::ClusterSettings,
) -> Result<()> {
    let (health, http) = start_http_and_pages(&file, &routing).await?;
    check_servers_fsync(&cluster.nats_monitor_urls).await?;
    let dir = file.engine.data_dir.clone();
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    // A JetStream request left unanswered (sent to a nats-server that is restarting, or on a
    // connection that died) waits at most a fraction of the lease's TTL, then is tried again.
    let mut connect = file.nats.connect_settings();
    connect.request_timeout =
        Some(switchboard_nats::cluster::role::Leadership::new(cluster.lease_ttl).request_bound());
    let client = switchboard_nats::connect(&connect).await?;
    let driver = driver_settings(&file, health)?;
    let options = switchboard_nats::cluster::ClusterOptions {
        domain: switchboard_nats::cluster::Domain::new(&file.nats.subject_prefix),
        node_id: cluster.node_id.clone(),
        lease_ttl: cluster.lease_ttl,
        replicas: cluster.replicas,
        dir,
        engine: engine_options(&file),
        routing,
    };
    tracing::info!(
        node_id = %cluster.node_id,
        domain = %file.nats.subject_prefix,
        stream = %options.domain.log_stream(),
        lease_ttl_secs = cluster.lease_ttl.as_secs(),
        "cluster mode: standing by until this engine holds the domain's lease"
    );
    let ran = switchboard_nats::cluster::serve(client, options, driver, shutdown_signal()).await;
    http.stop().await;
    ran?;
    Ok(())
}

/// Cluster mode's check that every nats-server named in `cluster.nats_monitor_urls` fsyncs
/// every write: one that says it does not stops the start (Jepsen, NATS 2.12.1: lazy fsync
/// loses acknowledged writes); one that cannot be read is logged and passed over (it may be
/// down or being upgraded, and the cluster can serve without it).
async fn check_servers_fsync(urls: &[String]) -> Result<()> {
    use switchboard_nats::cluster::fsync;
    if urls.is_empty() {
        tracing::warn!(
            "cluster.nats_monitor_urls is not set: the engine cannot check that the nats-servers \
             fsync every write (sync_interval: always), which cluster mode requires \
             (docs/cluster.md)"
        );
        return Ok(());
    }
    for url in urls {
        match fsync::fsync_setting(url).await {
            Ok(setting) if setting.sync_always => tracing::info!(
                %url,
                server = %setting.server_name,
                "nats-server fsyncs every write (sync_interval: always)"
            ),
            Ok(setting) => anyhow::bail!(
                "nats-server {} ({url}) does not fsync every write: cluster mode needs \
                 `jetstream {{ sync_interval: always }}` on every server, as without it servers \
                 that crash together lose acknowledged writes (Jepsen's analysis of NATS \
                 2.12.1; docs/cluster.md). Set it and restart that server, one server at a time",
                setting.server_name
            ),
            Err(error) => tracing::warn!(
                %url,
                %error,
                "could not read a nats-server's fsync setting from its monitoring endpoint: \
                 not checked; starting anyway"
            ),
        }
    }
    Ok(())
}

/// The engine's options from the file.
fn engine_options(file: &FileConfig) -> EngineOptions {
    EngineOptions {
        snapshot_every_events: file.engine.snapshot_every_events,
        ..EngineOptions::default()
    }
}

/// The driver's settings from the file, reporting into `health`.
fn driver_settings(file: &FileConfig, health: Health) -> Result<DriverSettings> {
    let subjects = Subjects::new(&file.nats.subject_prefix).context("invalid subject prefix")?;
    let mut driver = DriverSettings::new(subjects);
    driver.batch_max = file.engine.batch_max;
    driver.stream_replicas = file.nats.stream_replicas;
    health.set_min_free_bytes(file.engine.min_free_bytes);
    driver.health = health;
    driver.retention = file.retention_schedule()?;
    if driver.retention.is_none() {
        tracing::info!(
            "no [retention] schedule: nothing is erased by retention (docs/privacy.md, \"Retention\")"
        );
    }
    Ok(driver)
}

/// Serves `/metrics`, the health endpoints and the pages, and says where.
async fn start_http_and_pages(
    file: &FileConfig,
    routing: &switchboard_core::RoutingConfig,
) -> Result<(Health, HttpServer)> {
    let pages = pages(
        file.http.nats_ws_url.clone(),
        &file.nats.subject_prefix,
        routing,
    );
    let (health, http) = start_http(file.metrics.address, pages).await?;
    tracing::info!(
        address = %file.metrics.address,
        nats_ws_url = file.http.nats_ws_url.as_deref().unwrap_or("not set"),
        "metrics on /metrics, health on /healthz and /readyz, the wallboard on /wallboard and the desktop on /desktop"
    );
    if file.http.nats_ws_url.is_none() {
        tracing::warn!(
            "no NATS WebSocket URL is set (--nats-ws-url, [http] nats_ws_url or \
             SWITCHBOARD_NATS_WS_URL): /wallboard and /desktop will say they cannot connect"
        );
    }
    Ok((health, http))
}

async fn serve(file: FileConfig, routing: switchboard_core::RoutingConfig) -> Result<()> {
    let (health, http) = start_http_and_pages(&file, &routing).await?;
    let dir = file.engine.data_dir.clone();
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let options = engine_options(&file);
    let open_dir = dir.clone();
    let (engine, recovered) = tokio::task::spawn_blocking(move || {
        Engine::open(&open_dir, routing, options, &mut |done, total| {
            if total > 0 && (done == total || done % (1 << 20) == 0) {
                tracing::info!(done, total, "replaying the log");
            }
        })
    })
    .await
    .context("recovery stopped")?
    .with_context(|| format!("could not recover the state from {}", dir.display()))?;
    for skipped in &recovered.skipped_snapshots {
        tracing::warn!(snapshot = %skipped, "snapshot not used; the log was replayed instead");
    }
    if let Some(torn) = &recovered.torn_tail {
        tracing::warn!(segment = %torn.segment.display(), offset = torn.offset, "cut a torn final record (a write interrupted by a crash)");
    }
    tracing::info!(
        data_dir = %dir.display(),
        last_seq = recovered.last_seq,
        snapshot_seq = recovered.snapshot_seq,
        replayed = recovered.replayed,
        receipts = recovered.receipts().len(),
        elapsed_ms = recovered.elapsed.as_millis(),
        "state recovered"
    );

    let client = switchboard_nats::connect(&file.nats.connect_settings()).await?;
    let mut driver = driver_settings(&file, health)?;
    driver.receipts = recovered.receipts.into_entries();
    let ran = switchboard_nats::run(client, engine, driver, shutdown_signal()).await;
    // The endpoint answers (503 on /readyz) until the loop has stopped, then stops itself.
    http.stop().await;
    ran?;
    Ok(())
}

/// The web pages, told where NATS's WebSocket listener is, the subject prefix and the
/// service-level targets of `routing`.
pub(crate) fn pages(
    nats_ws_url: Option<String>,
    subject_prefix: &str,
    routing: &switchboard_core::RoutingConfig,
) -> Pages {
    let answer_within_secs = switchboard_core::Channel::ALL
        .iter()
        .map(|&channel| {
            let within = routing.channels.get(channel).answer_within.as_secs();
            (channel.as_str().to_owned(), within)
        })
        .collect();
    let mut queues: Vec<QueueTarget> = routing
        .service_levels
        .iter()
        .map(|((service, channel), target)| QueueTarget {
            service: service.to_string(),
            channel: channel.as_str().to_owned(),
            answer_within_secs: target.answer_within.as_secs(),
            target: target.target,
        })
        .collect();
    queues.sort_by(|a, b| (&a.service, &a.channel).cmp(&(&b.service, &b.channel)));
    Pages::new(&PageConfig {
        nats_ws_url,
        subject_prefix: subject_prefix.to_owned(),
        service_levels: ServiceLevels {
            answer_within_secs,
            queues,
            ..ServiceLevels::default()
        },
    })
}

/// Installs the Prometheus recorder and serves `/metrics`, `/healthz`, `/readyz` and the web
/// `pages` on `address` (one listener for all; see `docs/operations.md`). Returns the health
/// state for the engine loop to report into (not ready until the loop runs) and the server,
/// which the caller stops once the loop has stopped (dropped, it is aborted).
pub(crate) async fn start_http(address: SocketAddr, pages: Pages) -> Result<(Health, HttpServer)> {
    let handle = switchboard_nats::telemetry::install()?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("could not serve metrics on {address}"))?;
    let health = Health::new();
    let server = HttpServer::spawn(
        listener,
        Endpoints::new(handle, health.clone()).with_pages(pages),
        HttpLimits::default(),
    );
    Ok((health, server))
}

/// Set by `demo --cluster` on the engines it starts (to its own pid): an engine whose parent is
/// no longer that process (the demo was SIGKILLed; its children are in process groups of their
/// own, so nothing else would stop them) shuts down as on SIGTERM.
pub(crate) const EXIT_WITH_PARENT_ENV: &str = "SWITCHBOARD_EXIT_WITH_PARENT";

/// Completes when [`EXIT_WITH_PARENT_ENV`] names a process that is no longer this one's parent
/// (looked at twice a second: the parent's exit sends no signal); never when it is not set.
async fn parent_gone() {
    let parent = std::env::var(EXIT_WITH_PARENT_ENV)
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok());
    let Some(parent) = parent else {
        return std::future::pending().await;
    };
    let mut look = tokio::time::interval(std::time::Duration::from_millis(500));
    while std::os::unix::process::parent_id() == parent {
        look.tick().await;
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (or, for an engine of `demo --cluster`, when the demo
/// has gone: see [`EXIT_WITH_PARENT_ENV`]).
pub(crate) async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
        () = parent_gone() => tracing::warn!("the demo that started this engine has gone: shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::colour_logs;

    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(colour_logs(true, None));
        assert!(
            !colour_logs(false, None),
            "a pipe or a file gets no escape codes"
        );
        assert!(
            !colour_logs(true, Some(OsStr::new("1"))),
            "NO_COLOR is honoured"
        );
        assert!(!colour_logs(false, Some(OsStr::new("1"))));
        // no-color.org: an empty NO_COLOR does not count.
        assert!(colour_logs(true, Some(OsStr::new(""))));
    }
}
