//! `switchboard loadgen`: the proof of speed. Drives an engine over NATS on the real wire
//! contract and measures, per contact, the time from publishing its create command to its offer
//! reaching the agent's subscription, against three floors measured in the same run, on the
//! same NATS, at the same rate: a bare relay and a durable relay (see `relay`), with the
//! create's and the offer's sizes, and the protocol relay (see `protocol`), which does a
//! contact's whole NATS work as the engine does, without routing.
//!
//! A run: measure the disk's `fdatasync`; start NATS and the engine if asked; log in the
//! simulated agents (`agents`); warm up (unrecorded); read one contact's messages off the engine
//! (`shape`) and start the protocol relay with them; then the bare relay, the durable relay, the
//! protocol relay and the engine, each for `--duration` seconds at `--rate`, one after another so
//! that each has the machine to itself. Sending is open loop: message `n` is sent at `n / rate`
//! seconds whatever has been answered, so a system that falls behind shows its queueing delay.
//! `--find-max` instead steps the rate up until the engine, then the protocol relay, stops
//! keeping up.
//!
//! `--cluster` runs all of it on a local three-node JetStream cluster with the engine in cluster
//! mode (`rig`), the protocol relay appending its log records to an R3 stream as the engine does
//! (`protocol`), and each of the relay's streams led by the server leading the engine's.

mod agents;
mod machine;
mod protocol;
mod relay;
mod rig;
mod shape;
mod tracker;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::{Client, Subject};
use bytes::Bytes;
use futures::StreamExt;
use rig::StartedNats;
use serde_json::{Value, json};
use switchboard_natsd::NatsServer;

use agents::{Desk, Names};
use machine::Resident;
use protocol::ProtocolRelay;
use relay::{Relay, RelayKind};
use tracker::{PhaseResult, Phases, Tracker};

/// `switchboard loadgen`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The NATS server the engine takes commands on. Without it, loadgen starts a local
    /// nats-server (installed on first use) and its own engine (as with --spawn-engine).
    #[arg(long, env = "SWITCHBOARD_NATS_URL")]
    nats_url: Option<String>,
    /// The engine's subject prefix.
    #[arg(long, default_value = "switchboard")]
    subject_prefix: String,
    /// Contacts (and relay messages) per second, sent open loop.
    #[arg(long, default_value_t = 5000.0)]
    rate: f64,
    /// Seconds of load in each measured phase (the engine, and each relay).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Simulated agents. Each takes one phone contact at a time; too few and contacts queue
    /// (counted in `queued`).
    #[arg(long, default_value_t = 500)]
    agents: u32,
    /// Milliseconds an agent works a contact between accepting and completing it.
    #[arg(long, default_value_t = 1)]
    handle_time_ms: u64,
    /// Seconds of unrecorded load at the rate before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Bound, in seconds, on waiting for the last answers once a phase has sent everything;
    /// what has not arrived by then is `lost`.
    #[arg(long, default_value_t = 10.0)]
    drain_secs: f64,
    /// Start the engine here: this executable's `serve`, with a scratch data directory and
    /// a free metrics port, killed at the end. Its resident memory is then reported. (Not on a
    /// NATS where an engine already serves the prefix: both would take every command.)
    #[arg(long)]
    spawn_engine: bool,
    /// The process id of an engine started elsewhere, to report its resident memory.
    #[arg(long, conflicts_with = "spawn_engine")]
    engine_pid: Option<u32>,
    /// Where the scratch directory (a started engine's log, a started nats-server's store, the
    /// durable relay's file, the fdatasync probe) is made. Put it on the disk to be measured,
    /// not on tmpfs. Default: the system's temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Measure the engine only, not the relays (bare, durable and protocol).
    #[arg(long)]
    no_relays: bool,
    /// Step the rate up from --rate until the engine stops keeping up, and report the highest
    /// sustainable rate; then the same for the protocol relay (unless --no-relays), and the
    /// ratio of the two.
    #[arg(long)]
    find_max: bool,
    /// --find-max: the p99 create→offer latency, in ms, above which a rate is not sustainable.
    #[arg(long, default_value_t = 10.0)]
    p99_bound_ms: f64,
    /// --find-max: each step multiplies the rate by this.
    #[arg(long, default_value_t = 1.5)]
    step_factor: f64,
    /// --find-max: the highest rate tried.
    #[arg(long, default_value_t = 100_000.0)]
    rate_max: f64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Cluster mode: start a local three-node nats-server cluster (`sync_interval: always`)
    /// and the engine in cluster mode on it (`[log] backend = "jetstream"`, replicas 3, the
    /// intake and events streams R3, the lease held), and give the protocol relay the same
    /// work: each batch appended to an R3 stream as one fenced atomic batch before its answers
    /// go out. Every client connects to the first server; the relay's streams are led by the
    /// servers leading the engine's; CPU and message counts are the three servers' sums. The
    /// servers' stores are in the system's temporary directory, not --data-dir.
    #[arg(long, conflicts_with_all = ["nats_url", "spawn_engine", "engine_pid"])]
    cluster: bool,
}

/// A phase keeps up when it sends and is answered at no less than this share of the rate.
const KEEP_UP_SHARE: f64 = 0.95;

/// The replicas of every stream in cluster mode (the engine's log, intake and events streams;
/// the protocol relay's log and events streams).
const CLUSTER_REPLICAS: usize = 3;

/// Bisection steps between the last sustainable and the first unsustainable rate.
const REFINE_STEPS: u32 = 2;

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    crate::serve::init_logging(crate::serve::LogFormat::Text, "warn");
    check(args)?;
    // One thread: the sender, the agents and the receivers take the least CPU from the cores
    // the engine and nats-server share (BENCHMARKS.md).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let report = runtime.block_on(loadgen(args))?;
    runtime.shutdown_background();
    if args.json {
        say!("{report}");
    } else {
        say!("{}", render(&report, args));
    }
    Ok(ExitCode::SUCCESS)
}

fn check(args: &Args) -> Result<()> {
    let positive = |name: &str, value: f64| {
        anyhow::ensure!(
            value.is_finite() && value > 0.0,
            "--{name} must be a positive number"
        );
        Ok(())
    };
    positive("rate", args.rate)?;
    positive("duration", args.duration)?;
    positive("drain-secs", args.drain_secs)?;
    anyhow::ensure!(
        args.warmup.is_finite() && args.warmup >= 0.0,
        "--warmup must be zero or more"
    );
    anyhow::ensure!(args.agents > 0, "--agents must be at least 1");
    anyhow::ensure!(
        args.step_factor.is_finite() && args.step_factor > 1.0,
        "--step-factor must be more than 1"
    );
    let top = if args.find_max {
        args.rate_max.max(args.rate)
    } else {
        args.rate
    };
    anyhow::ensure!(
        top * args.duration <= tracker::PLANNED_MAX as f64,
        "--rate × --duration is over {} messages a phase",
        tracker::PLANNED_MAX
    );
    Ok(())
}

/// Messages a phase at `rate` for `secs` sends (at least one).
fn planned(rate: f64, secs: f64) -> u64 {
    // Bounded by `check`; the cast saturates anyway.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a positive count bounded by PLANNED_MAX"
    )]
    let n = (rate * secs).round() as u64;
    n.max(1)
}

/// Everything a phase needs.
struct Run {
    /// The NATS the relays connect to.
    url: String,
    /// The run's ids and subjects.
    names: Names,
    /// Every phase so far, by number, for the receivers.
    phases: Arc<Phases>,
    /// The connection the contacts (and relay messages) are sent on.
    sender: Client,
    /// The connection the agents (and the relays' receiver) use.
    desk_client: Client,
    /// Bound on waiting for the last answers of a phase.
    drain: Duration,
    /// No progress bars (`--json`, or stderr is not a terminal).
    quiet: bool,
}

async fn loadgen(args: &Args) -> Result<Value> {
    let scratch = scratch_dir(args)?;
    let probe_dir = scratch.path().to_path_buf();
    let sync = tokio::task::spawn_blocking(move || machine::fdatasync_latency(&probe_dir, 200))
        .await
        .context("fdatasync probe")??;
    let (url, nats, mut engine) = start_rig(args, scratch.path()).await?;
    let servers = nats.as_ref().map(StartedNats::servers).unwrap_or_default();
    let engine_pid = engine
        .as_ref()
        .map(rig::SpawnedEngine::pid)
        .or(args.engine_pid);
    let (desk_client, sender) = connect_when_ready(&url, args, engine.as_mut()).await?;

    let run: u32 = rand::random();
    let names = Names::new(&args.subject_prefix, run);
    let phases = Arc::new(Phases::default());
    let cx = Run {
        url: url.clone(),
        names: names.clone(),
        phases: phases.clone(),
        sender: sender.clone(),
        desk_client: desk_client.clone(),
        drain: Duration::from_secs_f64(args.drain_secs),
        quiet: args.json || !std::io::stderr().is_terminal(),
    };
    let replies = tokio::spawn(count_replies(
        sender
            .subscribe(format!("loadgen.{}.created.*", names.tag))
            .await
            .context("could not subscribe to the create replies")?,
        phases.clone(),
    ));
    let desk = Desk::open(
        desk_client.clone(),
        names.clone(),
        args.agents,
        Duration::from_millis(args.handle_time_ms),
        phases.clone(),
    )
    .await?;

    let offer_bytes = warm_up(&cx, args).await?;
    let create_bytes = names.create_body(0, 0).len();
    let rss_before = engine_pid.and_then(machine::resident);

    let mut report = json!({
        "rate": args.rate,
        "duration_secs": args.duration,
        "agents": args.agents,
        "handle_time_ms": args.handle_time_ms,
        "create_bytes": create_bytes,
        "offer_bytes": offer_bytes,
        "cores": machine::cores(),
        "load_average_1m": machine::load_average(),
        "fdatasync": sync,
        "scratch_dir": scratch.path().display().to_string(),
        "engine_pid": engine_pid,
        "engine_spawned": engine.is_some(),
        "cluster": args.cluster,
        "nats_servers": servers.len(),
        "log_backend": if args.cluster { "jetstream" } else { "file" },
        "log_replicas": if args.cluster { CLUSTER_REPLICAS } else { 1 },
    });
    let floor = if args.no_relays {
        None
    } else {
        Some(start_floor(&cx, args, &desk, scratch.path()).await?)
    };
    if let Some(floor) = &floor {
        merge(&mut report, floor.shape_figures());
    }
    if args.find_max {
        merge(&mut report, find_both(&cx, args, floor.as_ref()).await);
    } else {
        let sizes = (create_bytes, offer_bytes);
        let processes = (engine_pid, servers.as_slice());
        let measured = fixed_rate(&cx, args, floor.as_ref(), scratch.path(), sizes, processes);
        merge(&mut report, measured.await?);
    }
    let rss_after = engine_pid.and_then(machine::resident);
    merge(&mut report, memory(rss_before, rss_after));
    let counts = desk.counts();
    merge(
        &mut report,
        json!({
            "agent_commands_refused": counts.refused.load(std::sync::atomic::Ordering::Relaxed),
            "stray_offers": counts.strays.load(std::sync::atomic::Ordering::Relaxed),
        }),
    );
    if let Some(status) = engine.as_mut().and_then(rig::SpawnedEngine::exited) {
        anyhow::bail!("the engine exited during the run ({status})");
    }
    tokio::time::timeout(Duration::from_secs(10), desk.close())
        .await
        .ok();
    if let Some(floor) = floor {
        merge(&mut report, floor.close().await);
    }
    replies.abort();
    drop(engine);
    Ok(report)
}

/// The phases of a fixed-rate run: the bare, durable and protocol relays (with a floor), then
/// the engine; their figures and costs.
async fn fixed_rate(
    cx: &Run,
    args: &Args,
    floor: Option<&Floor>,
    scratch: &Path,
    (create_bytes, offer_bytes): (usize, u64),
    (engine_pid, nats): (Option<u32>, &[&NatsServer]),
) -> Result<Value> {
    let mut report = json!({});
    let floors = match floor {
        None => None,
        Some(floor) => {
            let durable_file = scratch.join("durable-relay.log");
            let output_bytes = usize::try_from(offer_bytes).unwrap_or(usize::MAX);
            let (bare, durable) =
                relay_phases(cx, args, create_bytes, output_bytes, durable_file).await?;
            let (protocol, costs) = measured_phase(
                cx,
                args,
                &floor.names,
                "protocol relay",
                engine_pid,
                nats,
                Some(&floor.relay),
            )
            .await;
            merge(&mut report, costs.protocol());
            // Its agents' last commands answered before the engine's phase is measured.
            floor.desk.until_idle(cx.drain).await;
            Some((bare, durable, protocol))
        }
    };
    let (engine_result, costs) =
        measured_phase(cx, args, &cx.names, "engine", engine_pid, nats, None).await;
    let relays = floors.as_ref().map(|(bare, durable, protocol)| Relays {
        bare,
        durable,
        protocol,
    });
    merge(&mut report, figures(&engine_result, relays.as_ref()));
    merge(&mut report, costs.engine());
    Ok(report)
}

/// Contacts in the template phase the protocol relay's shape is read from.
const TEMPLATE_CONTACTS: usize = 50;

/// The template phase's rate at most (low, so the watcher's copies cost the engine little).
const TEMPLATE_RATE: f64 = 200.0;

/// The protocol relay, with the run's agents logged in to it too.
struct Floor {
    relay: ProtocolRelay,
    /// Its wire contract's prefix (`loadgen.<tag>.proto`) and the run's tag.
    names: Names,
    desk: Desk,
    shape: Arc<shape::Shape>,
    /// Cluster mode: which server leads each stream.
    placement: Value,
}

impl Floor {
    /// One contact's messages as the relay sends them, and how many go into nats-server.
    fn shape_figures(&self) -> Value {
        let mut figures = json!({
            "protocol_shape": *self.shape,
            "protocol_shape_messages_in_per_contact": self.shape.messages_per_contact(),
        });
        merge(&mut figures, self.placement.clone());
        figures
    }

    /// Logs the agents out and stops the relay; returns what its side counted.
    async fn close(self) -> Value {
        let counts = self.desk.counts();
        let refused = counts.refused.load(std::sync::atomic::Ordering::Relaxed);
        let strays = counts.strays.load(std::sync::atomic::Ordering::Relaxed);
        tokio::time::timeout(Duration::from_secs(10), self.desk.close())
            .await
            .ok();
        let relay = self.relay.counts();
        let stored = relay.stored.load(std::sync::atomic::Ordering::Relaxed);
        let failed = relay.failed.load(std::sync::atomic::Ordering::Relaxed);
        let logged = relay.logged.load(std::sync::atomic::Ordering::Relaxed);
        json!({
            "protocol_agent_commands_refused": refused,
            "protocol_stray_offers": strays,
            "protocol_relay_events_stored": stored,
            "protocol_relay_events_failed": failed,
            "protocol_relay_log_records": logged,
        })
    }
}

/// Reads one contact's messages off the engine (a short template phase), then starts the
/// protocol relay with them and logs the agents in to it; warms it up as the engine was.
async fn start_floor(cx: &Run, args: &Args, desk: &Desk, scratch: &Path) -> Result<Floor> {
    let rate = args.rate.min(TEMPLATE_RATE);
    let secs = TEMPLATE_CONTACTS as f64 / rate;
    let template = async {
        contact_phase(cx, &cx.names, "template", rate, secs).await;
    };
    // The warm-up's contacts finished first, so that the template's messages are its own.
    if !desk.until_idle(cx.drain).await {
        tracing::warn!(
            "the warm-up's agents are still working; the template may count their messages"
        );
    }
    let shape = shape::watch(&cx.url, &cx.names, TEMPLATE_CONTACTS, template).await?;
    let shape = Arc::new(shape);
    let names = Names {
        prefix: format!("loadgen.{}.proto", cx.names.tag),
        tag: cx.names.tag.clone(),
    };
    let relay_log = args.cluster.then(|| protocol::LogStream {
        stream: format!("LOADGEN_{}_PROTOCOL_LOG", cx.names.tag.to_ascii_uppercase()),
        subject: format!("{}.log", names.prefix),
        replicas: CLUSTER_REPLICAS,
    });
    let relay_events = format!(
        "LOADGEN_{}_PROTOCOL_EVENTS",
        cx.names.tag.to_ascii_uppercase()
    );
    let relay = ProtocolRelay::start(protocol::Setup {
        url: cx.url.clone(),
        prefix: names.prefix.clone(),
        stream: relay_events.clone(),
        file: scratch.join("protocol-relay.log"),
        shape: shape.clone(),
        log: relay_log.clone(),
    })
    .await?;
    let placement = match relay_log {
        Some(relay_log) => {
            let relay_streams = (relay_log.stream, relay_events);
            follow_leaders(&cx.desk_client, &args.subject_prefix, relay_streams).await?
        }
        None => Value::Null,
    };
    let desk = Desk::open(
        cx.desk_client.clone(),
        names.clone(),
        args.agents,
        Duration::from_millis(args.handle_time_ms),
        cx.phases.clone(),
    )
    .await?;
    let warm = args.warmup.max(1.0 / args.rate);
    contact_phase(cx, &names, "protocol relay warm-up", args.rate, warm).await;
    Ok(Floor {
        relay,
        names,
        desk,
        shape,
        placement,
    })
}

/// Cluster mode: moves the leaders of the protocol relay's log and events streams to the
/// servers leading the engine's (so that both sides' appends take the same routes), and
/// returns where each leads.
async fn follow_leaders(
    client: &Client,
    prefix: &str,
    (relay_log, relay_events): (String, String),
) -> Result<Value> {
    let (engine_log, engine_events) = rig::engine_streams(prefix)?;
    let mut placement = serde_json::Map::new();
    for (engine, relay) in [(engine_log, relay_log), (engine_events, relay_events)] {
        let leader = rig::leader_of(client, &engine)
            .await
            .with_context(|| format!("the engine's stream {engine} has no leader"))?;
        rig::move_leader(client, &relay, &leader).await?;
        placement.insert(engine, json!(leader));
        placement.insert(relay, json!(leader));
    }
    Ok(json!({ "stream_leaders": placement }))
}

/// A scratch directory for the run (under `--data-dir`, or the system's temporary directory),
/// removed when dropped.
fn scratch_dir(args: &Args) -> Result<tempfile::TempDir> {
    let base = args.data_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)
        .with_context(|| format!("could not create {}", base.display()))?;
    tempfile::Builder::new()
        .prefix("switchboard-loadgen-")
        .tempdir_in(&base)
        .with_context(|| format!("could not make a scratch directory in {}", base.display()))
}

/// The NATS to drive (`--nats-url`, or a nats-server started in `scratch`) and the engine,
/// when this run starts one (`--spawn-engine`, or no `--nats-url`).
async fn start_rig(
    args: &Args,
    scratch: &Path,
) -> Result<(String, Option<StartedNats>, Option<rig::SpawnedEngine>)> {
    let (url, nats) = match &args.nats_url {
        Some(url) => (url.clone(), None),
        None if args.cluster => {
            let cluster = tokio::task::spawn_blocking(rig::start_cluster)
                .await
                .context("nats-server cluster start")??;
            let nats = StartedNats::Cluster(cluster);
            (nats.client_url(), Some(nats))
        }
        None => {
            let store = scratch.join("nats");
            let server = tokio::task::spawn_blocking(move || rig::start_nats(&store))
                .await
                .context("nats-server start")??;
            let nats = StartedNats::One(server);
            (nats.client_url(), Some(nats))
        }
    };
    let dir = scratch.join("engine");
    let engine = if args.cluster {
        let monitors: Vec<String> = nats
            .as_ref()
            .map(StartedNats::servers)
            .unwrap_or_default()
            .into_iter()
            .filter_map(NatsServer::monitor_url)
            .collect();
        Some(rig::SpawnedEngine::start_cluster(
            &url,
            &monitors,
            &args.subject_prefix,
            &dir,
        )?)
    } else if args.spawn_engine || args.nats_url.is_none() {
        Some(rig::SpawnedEngine::start(&url, &args.subject_prefix, &dir)?)
    } else {
        None
    };
    Ok((url, nats, engine))
}

/// The agents' connection, once the engine answers on it, and the contacts' connection.
async fn connect_when_ready(
    url: &str,
    args: &Args,
    engine: Option<&mut rig::SpawnedEngine>,
) -> Result<(Client, Client)> {
    let connect = |name: &'static str| async move {
        async_nats::ConnectOptions::new()
            .name(name)
            .connect(url)
            .await
            .with_context(|| format!("could not connect to NATS at {url}"))
    };
    let desk_client = connect("switchboard-loadgen-agents").await?;
    if let Err(error) = crate::demo::wait_until_ready(&desk_client, &args.subject_prefix).await {
        if let Some(status) = engine.and_then(rig::SpawnedEngine::exited) {
            anyhow::bail!("the engine exited ({status}) before it was ready");
        }
        return Err(error);
    }
    let sender = connect("switchboard-loadgen-contacts").await?;
    Ok((desk_client, sender))
}

/// The warm-up, at least one contact, which must get an offer; returns the offer's size, for
/// the relays.
async fn warm_up(cx: &Run, args: &Args) -> Result<u64> {
    let (warmup, offer_bytes) =
        engine_phase(cx, "warm-up", args.rate, args.warmup.max(1.0 / args.rate)).await;
    if warmup.received == 0 {
        anyhow::bail!(
            "none of the {} warm-up contacts got an offer ({} created, {} refused): is the \
             engine on this NATS routing under the prefix {:?}?",
            warmup.sent,
            warmup.replies_ok,
            warmup.replies_refused,
            args.subject_prefix
        );
    }
    Ok(offer_bytes)
}

/// The bare and the durable relay at the run's rate, with the engine's message sizes.
async fn relay_phases(
    cx: &Run,
    args: &Args,
    input_bytes: usize,
    output_bytes: usize,
    durable_file: PathBuf,
) -> Result<(PhaseResult, PhaseResult)> {
    let bare = relay_phase(cx, RelayKind::Bare, args, input_bytes, output_bytes).await?;
    let durable = relay_phase(
        cx,
        RelayKind::Durable(durable_file),
        args,
        input_bytes,
        output_bytes,
    )
    .await?;
    Ok((bare, durable))
}

/// What a measured phase cost: the CPU time of each process in the path (the engine's, the
/// nats-server's when started here, this load generator's, and the protocol relay's two threads
/// in it) and nats-server's messages in and out, over the phase.
struct Costs {
    cpu: [Option<Duration>; 4],
    /// In and out of the servers (`/varz`), replication among a cluster's servers included.
    messages: Option<(u64, u64)>,
    /// In from and out to the client connections only (`/connz`).
    clients: Option<(u64, u64)>,
    contacts: u64,
}

impl Costs {
    fn cpu_us_per_contact(&self, n: usize) -> Option<f64> {
        self.cpu[n].map(|t| t.as_secs_f64() * 1e6 / self.contacts.max(1) as f64)
    }

    fn messages_per_contact(&self) -> Option<(f64, f64)> {
        self.per_contact(self.messages)
    }

    fn per_contact(&self, counts: Option<(u64, u64)>) -> Option<(f64, f64)> {
        let per = |count: u64| count as f64 / self.contacts.max(1) as f64;
        counts.map(|(received, sent)| (per(received), per(sent)))
    }

    /// The engine phase's figures.
    fn engine(&self) -> Value {
        let messages = self.messages_per_contact();
        json!({
            "engine_cpu_ms": self.cpu[0].map(|t| t.as_millis()),
            "engine_cpu_us_per_contact": self.cpu_us_per_contact(0),
            "nats_cpu_us_per_contact": self.cpu_us_per_contact(1),
            "loadgen_cpu_us_per_contact": self.cpu_us_per_contact(2),
            "nats_msgs_in_per_contact": messages.map(|(received, _)| received),
            "nats_msgs_out_per_contact": messages.map(|(_, sent)| sent),
            "nats_client_msgs_in_per_contact": self.per_contact(self.clients).map(|(r, _)| r),
            "nats_client_msgs_out_per_contact": self.per_contact(self.clients).map(|(_, s)| s),
        })
    }

    /// The protocol relay phase's figures (the relay's CPU is its loop's and its committer's
    /// threads'; the load generator's is the rest of this process's).
    fn protocol(&self) -> Value {
        let messages = self.messages_per_contact();
        let loadgen = self.cpu_us_per_contact(2).zip(self.cpu_us_per_contact(3));
        json!({
            "protocol_relay_cpu_us_per_contact": self.cpu_us_per_contact(3),
            "protocol_nats_cpu_us_per_contact": self.cpu_us_per_contact(1),
            "protocol_loadgen_cpu_us_per_contact": loadgen.map(|(all, relay)| all - relay),
            "protocol_nats_msgs_in_per_contact": messages.map(|(received, _)| received),
            "protocol_nats_msgs_out_per_contact": messages.map(|(_, sent)| sent),
            "protocol_nats_client_msgs_in_per_contact":
                self.per_contact(self.clients).map(|(r, _)| r),
            "protocol_nats_client_msgs_out_per_contact":
                self.per_contact(self.clients).map(|(_, s)| s),
        })
    }
}

/// A contact phase under `names` at the run's rate, with what it cost (`Costs`).
async fn measured_phase(
    cx: &Run,
    args: &Args,
    names: &Names,
    name: &str,
    engine_pid: Option<u32>,
    nats: &[&NatsServer],
    relay: Option<&ProtocolRelay>,
) -> (PhaseResult, Costs) {
    let pids = [engine_pid, Some(std::process::id())];
    // Every nats-server's, summed (none when none was started here).
    let nats_cpu = || -> Option<Duration> {
        if nats.is_empty() {
            return None;
        }
        nats.iter()
            .map(|server| server.pid().and_then(machine::cpu_time))
            .sum()
    };
    let cpu = || {
        let [engine, loadgen] = pids.map(|pid| pid.and_then(machine::cpu_time));
        [
            engine,
            nats_cpu(),
            loadgen,
            relay.and_then(ProtocolRelay::cpu_time),
        ]
    };
    // nats-server's message counters, read just outside the phase and its CPU window (a local
    // HTTP call of about a millisecond per server).
    let messages_before = nats_messages(nats, "/varz", |varz| {
        varz["in_msgs"].as_u64().zip(varz["out_msgs"].as_u64())
    });
    let clients_before = nats_messages(nats, CONNZ, client_messages);
    let cpu_before = cpu();
    let (result, _) = contact_phase(cx, names, name, args.rate, args.duration).await;
    let cpu_after = cpu();
    let clients_after = nats_messages(nats, CONNZ, client_messages);
    let messages_after = nats_messages(nats, "/varz", |varz| {
        varz["in_msgs"].as_u64().zip(varz["out_msgs"].as_u64())
    });
    let since = |before: Option<(u64, u64)>, after: Option<(u64, u64)>| {
        before
            .zip(after)
            .map(|((in_before, out_before), (in_after, out_after))| {
                (
                    in_after.saturating_sub(in_before),
                    out_after.saturating_sub(out_before),
                )
            })
    };
    let messages = since(messages_before, messages_after);
    let clients = since(clients_before, clients_after);
    let mut used = [None; 4];
    for (n, slot) in used.iter_mut().enumerate() {
        *slot = cpu_after[n]
            .zip(cpu_before[n])
            .map(|(after, before)| after.saturating_sub(before));
    }
    let costs = Costs {
        cpu: used,
        messages,
        clients,
        contacts: result.sent,
    };
    (result, costs)
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

/// Counts the replies to create commands, per phase (named by the reply subject's last token).
async fn count_replies(mut replies: async_nats::Subscriber, phases: Arc<Phases>) {
    while let Some(reply) = replies.next().await {
        let phase = reply
            .subject
            .rsplit('.')
            .next()
            .and_then(|n| n.parse().ok())
            .and_then(|n| phases.get(n));
        if let Some(tracker) = phase {
            tracker.replied(&reply.payload);
        }
    }
}

/// Sends `tracker.planned()` messages open loop at `rate`: message `n` at `n / rate` seconds
/// after the phase began, however far behind the answers are. Tokio's timer ticks in
/// milliseconds, so messages due within the same millisecond leave together.
async fn send_paced(
    client: &Client,
    tracker: &Tracker,
    rate: f64,
    bar: &indicatif::ProgressBar,
    mut message: impl FnMut(u64) -> (Subject, Option<Subject>, Bytes),
) {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = tokio::time::Instant::from_std(tracker.started());
    for n in 0..tracker.planned() {
        let due = started + interval.mul_f64(n as f64);
        if due > tokio::time::Instant::now() {
            tokio::time::sleep_until(due).await;
        }
        let (subject, reply, body) = message(n);
        tracker.sending(n);
        let sent = match reply {
            Some(reply) => client.publish_with_reply(subject, reply, body).await,
            None => client.publish(subject, body).await,
        };
        if let Err(error) = sent {
            tracing::warn!(%error, "could not publish");
        }
        if n % 256 == 0 {
            bar.set_position(n);
        }
    }
    bar.set_position(tracker.planned());
}

fn phase_bar(cx: &Run, name: &str, planned: u64) -> indicatif::ProgressBar {
    let bar = crate::progress::bar(cx.quiet, "sent");
    bar.set_length(planned);
    bar.set_message(name.to_owned());
    bar
}

/// Waits for the stragglers (with `replies`, the creates' replies too), with the count on the
/// bar.
async fn drain(
    cx: &Run,
    tracker: &Tracker,
    bar: &indicatif::ProgressBar,
    name: &str,
    replies: bool,
) {
    tracker
        .drain(cx.drain, replies, |t| {
            bar.set_message(format!("{name}: {} answered", t.received()));
        })
        .await;
    bar.finish_and_clear();
}

/// One engine phase: contacts at `rate` for `secs`; returns its figures and the offers' size.
async fn engine_phase(cx: &Run, name: &str, rate: f64, secs: f64) -> (PhaseResult, u64) {
    contact_phase(cx, &cx.names, name, rate, secs).await
}

/// One phase of contacts at `rate` for `secs` on the wire contract under `names` (the engine's,
/// or the protocol relay's); returns its figures and the offers' size.
async fn contact_phase(
    cx: &Run,
    names: &Names,
    name: &str,
    rate: f64,
    secs: f64,
) -> (PhaseResult, u64) {
    let tracker = Arc::new(Tracker::new(planned(rate, secs)));
    let phase = cx.phases.add(tracker.clone());
    let bar = phase_bar(cx, name, tracker.planned());
    let subject = Subject::from(names.create_subject());
    let reply = Subject::from(format!("loadgen.{}.created.{phase}", names.tag));
    send_paced(&cx.sender, &tracker, rate, &bar, |n| {
        (
            subject.clone(),
            Some(reply.clone()),
            Bytes::from(names.create_body(phase, n)),
        )
    })
    .await;
    drain(cx, &tracker, &bar, name, true).await;
    (tracker.result(), tracker.answer_bytes())
}

/// One relay phase, on subjects of its own, at the run's rate and message sizes.
async fn relay_phase(
    cx: &Run,
    kind: RelayKind,
    args: &Args,
    input_bytes: usize,
    output_bytes: usize,
) -> Result<PhaseResult> {
    let name = match kind {
        RelayKind::Bare => "bare relay",
        RelayKind::Durable(_) => "durable relay",
    };
    let token = match kind {
        RelayKind::Bare => "bare",
        RelayKind::Durable(_) => "durable",
    };
    let input = format!("loadgen.{}.{token}.in", cx.names.tag);
    let output = format!("loadgen.{}.{token}.out", cx.names.tag);
    let relay = Relay::start(&cx.url, kind, input.clone(), output.clone(), output_bytes).await?;
    let mut answers = cx.desk_client.subscribe(output.clone()).await?;
    relay::until_routed(&cx.desk_client, &mut answers, &output).await?;
    let tracker = Arc::new(Tracker::new(planned(args.rate, args.duration)));
    let receiving = tracker.clone();
    let receiver = tokio::spawn(async move {
        while let Some(message) = answers.next().await {
            let arrived = std::time::Instant::now();
            if let Some(n) = relay::number(&message.payload) {
                receiving.answered(n, arrived, message.payload.len());
            }
        }
    });
    let bar = phase_bar(cx, name, tracker.planned());
    let subject = Subject::from(input);
    send_paced(&cx.sender, &tracker, args.rate, &bar, |n| {
        (subject.clone(), None, relay::body(n, input_bytes))
    })
    .await;
    drain(cx, &tracker, &bar, name, false).await;
    receiver.abort();
    drop(relay);
    Ok(tracker.result())
}

/// Whether a phase at `rate` kept up; `None` when it did, else why not.
fn verdict(result: &PhaseResult, rate: f64, p99_bound_us: f64) -> Option<String> {
    if result.lost > 0 {
        return Some(format!("{} contacts got no offer", result.lost));
    }
    if result.achieved_rate < KEEP_UP_SHARE * rate {
        return Some(format!(
            "the load generator sent only {:.0}/s",
            result.achieved_rate
        ));
    }
    if result.answered_rate < KEEP_UP_SHARE * rate {
        return Some(format!(
            "offers fell behind ({:.0}/s)",
            result.answered_rate
        ));
    }
    if result.p99_us > p99_bound_us {
        return Some(format!(
            "p99 {:.2} ms over the bound",
            result.p99_us / 1000.0
        ));
    }
    None
}

/// `--find-max` for the engine and, unless `--no-relays`, for the protocol relay, with the
/// ratio of the two sustainable rates.
async fn find_both(cx: &Run, args: &Args, floor: Option<&Floor>) -> Value {
    let (best, steps) = find_max(cx, args, &cx.names).await;
    let mut found = json!({
        "max_sustainable_rate": best,
        "p99_bound_us": args.p99_bound_ms * 1000.0,
        "steps": steps,
    });
    if let Some(floor) = floor {
        let (floor_best, floor_steps) = find_max(cx, args, &floor.names).await;
        let ratio = best.zip(floor_best).map(|(engine, relay)| engine / relay);
        merge(
            &mut found,
            json!({
                "protocol_relay_max_sustainable_rate": floor_best,
                "protocol_relay_steps": floor_steps,
                "ratio_sustainable": ratio,
            }),
        );
    }
    found
}

/// Steps the rate of contacts under `names` up from `--rate` until a step is not sustained,
/// then bisects; returns the highest sustained rate and every step.
async fn find_max(cx: &Run, args: &Args, names: &Names) -> (Option<f64>, Vec<Value>) {
    let bound_us = args.p99_bound_ms * 1000.0;
    let mut steps = Vec::new();
    let mut best: Option<f64> = None;
    let mut failed: Option<f64> = None;
    let mut rate = args.rate;
    let step = |rate: f64, result: PhaseResult, steps: &mut Vec<Value>| {
        let why = verdict(&result, rate, bound_us);
        let mut line = json!({"rate": rate, "sustained": why.is_none(), "why_not": why});
        merge(&mut line, serde_json::to_value(result).unwrap_or_default());
        steps.push(line);
        why.is_none()
    };
    let phase = |rate: f64| async move {
        let name = format!("{rate:.0}/s");
        contact_phase(cx, names, &name, rate, args.duration).await.0
    };
    loop {
        if step(rate, phase(rate).await, &mut steps) {
            best = Some(rate);
            if rate >= args.rate_max {
                break;
            }
            rate = (rate * args.step_factor).min(args.rate_max);
        } else {
            failed = Some(rate);
            break;
        }
    }
    if let (Some(low), Some(high)) = (best, failed) {
        let (mut low, mut high) = (low, high);
        for _ in 0..REFINE_STEPS {
            let middle = f64::midpoint(low, high);
            if step(middle, phase(middle).await, &mut steps) {
                low = middle;
                best = Some(middle);
            } else {
                high = middle;
            }
        }
    }
    (best, steps)
}

/// The three floors' results of a measured run.
struct Relays<'a> {
    bare: &'a PhaseResult,
    durable: &'a PhaseResult,
    protocol: &'a PhaseResult,
}

/// The `--json` figures of a measured run.
fn figures(engine: &PhaseResult, relays: Option<&Relays<'_>>) -> Value {
    let ratio = |engine: f64, relay: Option<f64>| relay.filter(|r| *r > 0.0).map(|r| engine / r);
    let bare = relays.map(|r| r.bare);
    let durable = relays.map(|r| r.durable);
    let protocol = relays.map(|r| r.protocol);
    let mut out = json!({
        "sent": engine.sent,
        "offers": engine.received,
        "lost": engine.lost,
        "achieved_rate": engine.achieved_rate,
        "offer_rate": engine.answered_rate,
        "p50_us": engine.p50_us,
        "p99_us": engine.p99_us,
        "p999_us": engine.p999_us,
        "max_us": engine.max_us,
        "mean_us": engine.mean_us,
        "creates_ok": engine.replies_ok,
        "creates_refused": engine.replies_refused,
        "queued": engine.replies_queued,
        "ratio_p50": ratio(engine.p50_us, durable.map(|r| r.p50_us)),
        "ratio_p99": ratio(engine.p99_us, durable.map(|r| r.p99_us)),
        "ratio_protocol_p50": ratio(engine.p50_us, protocol.map(|r| r.p50_us)),
        "ratio_protocol_p99": ratio(engine.p99_us, protocol.map(|r| r.p99_us)),
    });
    for (prefix, relay) in [
        ("relay", bare),
        ("durable_relay", durable),
        ("protocol_relay", protocol),
    ] {
        merge(&mut out, relay_figures(prefix, relay));
    }
    if let Some(protocol) = protocol {
        merge(
            &mut out,
            json!({
                "protocol_relay_creates_ok": protocol.replies_ok,
                "protocol_relay_creates_refused": protocol.replies_refused,
            }),
        );
    }
    out
}

/// One floor's latency figures, each key starting with `prefix`.
fn relay_figures(prefix: &str, relay: Option<&PhaseResult>) -> Value {
    let mut out = serde_json::Map::new();
    let figures = [
        ("sent", relay.map(|r| json!(r.sent))),
        ("received", relay.map(|r| json!(r.received))),
        ("p50_us", relay.map(|r| json!(r.p50_us))),
        ("p99_us", relay.map(|r| json!(r.p99_us))),
        ("p999_us", relay.map(|r| json!(r.p999_us))),
        ("max_us", relay.map(|r| json!(r.max_us))),
        ("lost", relay.map(|r| json!(r.lost))),
    ];
    for (key, value) in figures {
        out.insert(format!("{prefix}_{key}"), value.unwrap_or(Value::Null));
    }
    Value::Object(out)
}

/// `/connz` with every connection (far more than a run opens).
const CONNZ: &str = "/connz?limit=100000";

/// The messages the nats-servers started here have received and sent so far, as `counts` reads
/// them from each one's monitoring `endpoint`, summed over the servers; `None` (with a warning)
/// if they cannot be read, or when no server was started here.
fn nats_messages(
    nats: &[&NatsServer],
    endpoint: &str,
    counts: impl Fn(&Value) -> Option<(u64, u64)>,
) -> Option<(u64, u64)> {
    let mut total: Option<(u64, u64)> = None;
    for server in nats {
        let read = match server.monitor_json(endpoint) {
            Ok(json) => counts(&json),
            Err(error) => {
                tracing::warn!("no message counts: {error}");
                None
            }
        };
        let (received, sent) = read?;
        let (all_in, all_out) = total.unwrap_or_default();
        total = Some((all_in + received, all_out + sent));
    }
    total
}

/// The messages a server received from its client connections and sent to them (`/connz`:
/// routes and the servers' own internal clients are not among them, so a cluster's
/// replication is not counted).
fn client_messages(connz: &Value) -> Option<(u64, u64)> {
    let connections = connz["connections"].as_array()?;
    Some(connections.iter().fold((0, 0), |(received, sent), c| {
        (
            received + c["in_msgs"].as_u64().unwrap_or(0),
            sent + c["out_msgs"].as_u64().unwrap_or(0),
        )
    }))
}

fn memory(before: Option<Resident>, after: Option<Resident>) -> Value {
    json!({
        "engine_rss_before_bytes": before.map(|r| r.rss_bytes),
        "engine_rss_after_bytes": after.map(|r| r.rss_bytes),
        "engine_rss_peak_bytes": after.map(|r| r.peak_bytes),
    })
}

/// The human table, from the same figures as `--json`.
/// The `--find-max` report's table: each rate tried, and the highest sustainable one.
fn render_steps(report: &Value, args: &Args) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\n{:>10} {:>10} {:>10} {:>8} {:>9} {:>9} {:>9}  verdict\n",
        "rate/s", "sent/s", "offers/s", "lost", "p50 ms", "p99 ms", "max ms"
    ));
    for step in report["steps"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:>10.0} {:>10.0} {:>10.0} {:>8} {:>9} {:>9} {:>9}  {}\n",
            step["rate"].as_f64().unwrap_or(0.0),
            step["achieved_rate"].as_f64().unwrap_or(0.0),
            step["answered_rate"].as_f64().unwrap_or(0.0),
            step["lost"].to_string(),
            ms(&step["p50_us"]),
            ms(&step["p99_us"]),
            ms(&step["max_us"]),
            step["why_not"].as_str().unwrap_or("sustained"),
        ));
    }
    out.push_str(&match report["max_sustainable_rate"].as_f64() {
        Some(rate) => format!(
            "\nhighest sustainable rate: {rate:.0} contacts/s (p99 ≤ {} ms, offers ≥ 95% of the rate, none lost)\n",
            args.p99_bound_ms
        ),
        None => "\nno rate tried was sustainable; lower --rate\n".to_owned(),
    });
    if let Some(rate) = report["protocol_relay_max_sustainable_rate"].as_f64() {
        out.push_str(&format!(
            "protocol relay's highest sustainable rate: {rate:.0} contacts/s; engine ÷ relay {}\n",
            report["ratio_sustainable"]
                .as_f64()
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}×")),
        ));
    }
    out
}

/// The fixed-rate report: the relays' and the engine's latency table, then what each contact
/// cost (CPU time, nats-server's messages) and the engine against the durable relay.
fn render_phases(report: &Value, args: &Args) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\n{:<24} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>9}\n",
        "", "sent", "answered", "lost", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
    ));
    let row = |name: &str, prefix: &str, received: &str| {
        format!(
            "{name:<24} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>9}\n",
            report[format!("{prefix}sent")].to_string(),
            report[format!("{prefix}{received}")].to_string(),
            report[format!("{prefix}lost")].to_string(),
            ms(&report[format!("{prefix}p50_us")]),
            ms(&report[format!("{prefix}p99_us")]),
            ms(&report[format!("{prefix}p999_us")]),
            ms(&report[format!("{prefix}max_us")]),
        )
    };
    if !args.no_relays {
        out.push_str(&row("bare relay", "relay_", "received"));
        out.push_str(&row("durable relay", "durable_relay_", "received"));
        out.push_str(&row("protocol relay", "protocol_relay_", "received"));
    }
    out.push_str(&row("engine: create → offer", "", "offers"));
    out.push_str(&format!(
        "\nengine sent {:.0}/s, offers {:.0}/s; creates refused {}, queued {}\n",
        report["achieved_rate"].as_f64().unwrap_or(0.0),
        report["offer_rate"].as_f64().unwrap_or(0.0),
        report["creates_refused"],
        report["queued"],
    ));
    if let Some(cpu) = report["engine_cpu_us_per_contact"].as_f64() {
        out.push_str(&format!(
            "engine CPU: {cpu:.0} µs per contact ({} ms over the engine phase)\n",
            report["engine_cpu_ms"]
        ));
    }
    if let (Some(nats), Some(loadgen)) = (
        report["nats_cpu_us_per_contact"].as_f64(),
        report["loadgen_cpu_us_per_contact"].as_f64(),
    ) {
        out.push_str(&format!(
            "nats-server CPU: {nats:.0} µs per contact; this load generator: {loadgen:.0} µs\n"
        ));
    }
    out.push_str(&pair_line(
        report,
        ("nats_msgs_in_per_contact", "nats_msgs_out_per_contact"),
        "nats-server messages per contact in the engine's phase: {a} in, {b} out",
    ));
    out.push_str(&pair_line(
        report,
        (
            "nats_client_msgs_in_per_contact",
            "nats_client_msgs_out_per_contact",
        ),
        "  of which from and to clients: {a} in, {b} out",
    ));
    out.push_str(&pair_line(
        report,
        ("ratio_p50", "ratio_p99"),
        "engine / durable relay: p50 {a}×, p99 {b}×",
    ));
    out.push_str(&render_protocol(report));
    out
}

/// `template` with `{a}` and `{b}` the report's two figures (two decimals, one when over ten)
/// and a newline; nothing when either is absent.
fn pair_line(report: &Value, (a, b): (&str, &str), template: &str) -> String {
    let figure = |v: f64| {
        if v >= 10.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.2}")
        }
    };
    match (report[a].as_f64(), report[b].as_f64()) {
        (Some(a), Some(b)) => {
            let line = template
                .replace("{a}", &figure(a))
                .replace("{b}", &figure(b));
            format!("{line}\n")
        }
        _ => String::new(),
    }
}

/// The protocol relay's costs and the engine against it.
fn render_protocol(report: &Value) -> String {
    let mut out = String::new();
    if let Some(cpu) = report["protocol_relay_cpu_us_per_contact"].as_f64() {
        out.push_str(&format!(
            "protocol relay CPU: {cpu:.0} µs per contact; nats-server's in its phase: {} µs\n",
            report["protocol_nats_cpu_us_per_contact"]
                .as_f64()
                .map_or_else(|| "-".to_owned(), |us| format!("{us:.0}")),
        ));
    }
    out.push_str(&pair_line(
        report,
        (
            "protocol_nats_msgs_in_per_contact",
            "protocol_nats_msgs_out_per_contact",
        ),
        "nats-server messages per contact in the protocol relay's phase: {a} in, {b} out",
    ));
    out.push_str(&pair_line(
        report,
        (
            "protocol_nats_client_msgs_in_per_contact",
            "protocol_nats_client_msgs_out_per_contact",
        ),
        "  of which from and to clients: {a} in, {b} out",
    ));
    out.push_str(&pair_line(
        report,
        ("ratio_protocol_p50", "ratio_protocol_p99"),
        "engine / protocol relay: p50 {a}×, p99 {b}×",
    ));
    out
}

/// Microseconds as milliseconds with three decimals, `-` when absent.
fn ms(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_owned(), |us| format!("{:.3}", us / 1000.0))
}

fn render(report: &Value, args: &Args) -> String {
    let mib = |v: &Value| {
        v.as_u64().map_or_else(
            || "-".to_owned(),
            |b| format!("{:.1} MiB", b as f64 / 1_048_576.0),
        )
    };
    let sync = &report["fdatasync"];
    let mut out = format!(
        "Switchboard loadgen: {} contacts/s for {} s, {} agents (handle time {} ms)\n\
         machine: {} cores, load {:.2}; fdatasync of 256 B in {}: p50 {} ms, p99 {} ms, max {} ms ({} syncs)\n\
         messages: create {} B, offer {} B\n",
        args.rate,
        args.duration,
        args.agents,
        args.handle_time_ms,
        report["cores"],
        report["load_average_1m"].as_f64().unwrap_or(f64::NAN),
        report["scratch_dir"].as_str().unwrap_or("?"),
        ms(&sync["p50_us"]),
        ms(&sync["p99_us"]),
        ms(&sync["max_us"]),
        sync["syncs"],
        report["create_bytes"],
        report["offer_bytes"],
    );
    if args.cluster {
        out.push_str(&format!(
            "cluster mode: {} nats-servers on loopback (sync_interval: always); the engine's log \
             and the protocol relay's in R{CLUSTER_REPLICAS} streams, one fenced atomic batch per \
             group commit; log records of {} B, {} per contact\n",
            report["nats_servers"],
            report["protocol_shape"]["log_record_bytes"],
            report["protocol_shape"]["log_records_per_contact"],
        ));
    }
    if args.find_max {
        out.push_str(&render_steps(report, args));
    } else {
        out.push_str(&render_phases(report, args));
    }
    out.push_str(&format!(
        "engine resident memory: {} before, {} after (peak {})",
        mib(&report["engine_rss_before_bytes"]),
        mib(&report["engine_rss_after_bytes"]),
        mib(&report["engine_rss_peak_bytes"]),
    ));
    out
}
