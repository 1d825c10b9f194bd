//! `switchboard demo`: a council contact centre on a local NATS, end to end on the real wire.
//!
//! It starts the pinned nats-server (installed on first use) with JetStream in the data
//! directory, the engine, synthetic telephony, web-chat, email and walk-in traffic, and simulated
//! agent desktops that log in, receive offers on their own subjects, accept them, work them and
//! complete them: every one of them a plain NATS client speaking the wire contract, exactly as
//! real systems would. A live summary shows the queues, the service level and the agents; the
//! Prometheus endpoint is up. Ctrl-C (or `--duration`) stops everything cleanly.

use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use switchboard_engine::{Engine, EngineOptions};
use switchboard_nats::DriverSettings;
use switchboard_natsd::NatsServer;
use switchboard_wire::Subjects;
use tokio::sync::watch;

/// `switchboard demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where the demo keeps its event log and its JetStream data (kept between runs; a new run
    /// recovers the previous one's state).
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "demo-data")]
    data_dir: PathBuf,
    /// Contacts per minute arriving over all channels.
    #[arg(long, default_value_t = 40)]
    per_minute: u32,
    /// How many simulated agent desktops.
    #[arg(long, default_value_t = 12)]
    agents: u32,
    /// Stop by itself after this many seconds (otherwise run until Ctrl-C).
    #[arg(long)]
    duration: Option<u64>,
    /// Where Prometheus scrapes /metrics (default: a free port on 127.0.0.1).
    #[arg(long, env = "SWITCHBOARD_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// Seed of the synthetic traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const PREFIX: &str = "switchboard";
const SERVICES: [&str; 5] = [
    "council_tax",
    "benefits",
    "environmental_services",
    "housing",
    "parking",
];
const SITES: [&str; 3] = ["town_hall", "riverside", "market_square"];

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    // The live summary is the demo's output: only warnings and errors are logged by default.
    crate::serve::init_logging(crate::serve::LogFormat::Text, "warn");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(demo(args))?;
    Ok(ExitCode::SUCCESS)
}

/// A free TCP port on 127.0.0.1 (bound, then released for whoever binds it next).
pub(crate) fn free_local_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("no free local port")?;
    listener.local_addr().context("no local address")
}

async fn demo(args: Args) -> Result<()> {
    let nats_dir = args.data_dir.join("nats");
    let engine_dir = args.data_dir.join("engine");
    std::fs::create_dir_all(&nats_dir)
        .with_context(|| format!("could not create {}", nats_dir.display()))?;
    std::fs::create_dir_all(&engine_dir)?;
    say!(
        "Installing (first run only) and starting nats-server {} ...",
        switchboard_natsd::NATS_SERVER_VERSION
    );
    let server =
        tokio::task::spawn_blocking(move || NatsServer::builder().store_dir(nats_dir).start())
            .await
            .context("nats-server start")?
            .context("could not start nats-server")?;
    let url = server.client_url();
    let metrics_addr = match args.metrics_addr {
        Some(address) => address,
        None => free_local_port()?,
    };
    let (health, http) = crate::serve::start_http(metrics_addr).await?;

    let (engine, recovered) = Engine::open(
        &engine_dir,
        switchboard_core::RoutingConfig::default(),
        EngineOptions::default(),
        &mut |_, _| {},
    )
    .context("could not open the engine's data directory")?;
    let client = switchboard_nats::connect(&switchboard_nats::ConnectSettings {
        url: url.clone(),
        name: Some("switchboard-demo-engine".to_owned()),
        ..Default::default()
    })
    .await?;
    // Two stops: the desktops and the traffic first, so that they log out through a running
    // engine, then the engine.
    let (stop, stopped) = watch::channel(false);
    let (stop_engine, mut engine_stopped) = watch::channel(false);
    let mut settings = DriverSettings::new(Subjects::new(PREFIX).context("prefix")?);
    settings.health = health;
    let engine_client = client.clone();
    let engine_task = tokio::spawn(switchboard_nats::run(
        client,
        engine,
        settings,
        async move {
            let _ = engine_stopped.wait_for(|stop| *stop).await;
        },
    ));
    say!(
        "NATS on {url}; metrics on http://{metrics_addr}/metrics (and /healthz, /readyz); data in {}",
        args.data_dir.display()
    );
    say!(
        "Recovered {} events from the previous run. Ctrl-C stops the demo.",
        recovered.last_seq
    );

    let peers = async_nats::connect(url.as_str())
        .await
        .context("the demo's clients could not connect")?;
    let mut engine_task = engine_task;
    tokio::select! {
        ready = wait_until_ready(&peers, PREFIX) => ready?,
        stopped = &mut engine_task => {
            stopped.context("engine task")??;
            anyhow::bail!("the engine stopped before it was ready");
        }
    }
    let counts = Arc::new(Counts::default());
    let mut tasks = Vec::new();
    for n in 0..args.agents {
        tasks.push(tokio::spawn(desktop(
            peers.clone(),
            n,
            args.seed,
            stopped.clone(),
            counts.clone(),
        )));
    }
    tasks.push(tokio::spawn(traffic(
        peers.clone(),
        args.per_minute,
        args.seed,
        stopped.clone(),
        counts.clone(),
    )));
    tasks.push(tokio::spawn(summary(
        peers.clone(),
        stopped.clone(),
        counts.clone(),
    )));

    let until = async {
        match args.duration {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = crate::serve::shutdown_signal() => {}
        () = until => {}
    }
    say!(
        "\nStopping: traffic and desktops first, then the engine (it syncs and snapshots), then NATS."
    );
    let _ = stop.send(true);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let _ = stop_engine.send(true);
    let engine = engine_task.await.context("engine task")??;
    http.stop().await;
    // Closed before NATS stops (the health endpoint still holds it), so that stopping NATS is
    // not reported as a lost connection. The drain ends on the connection's own task; a flush
    // fails once that task has closed it.
    let _ = engine_client.drain().await;
    let closed = async { while engine_client.flush().await.is_ok() {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), closed).await;
    let state = engine.state();
    say!(
        "Done: {} events in the log; {} contacts created, {} offers accepted, {} completed by the desktops.",
        engine.next_seq() - 1,
        counts.created.load(Ordering::Relaxed),
        counts.accepted.load(Ordering::Relaxed),
        counts.completed.load(Ordering::Relaxed)
    );
    say!(
        "{} contacts still open. Try: switchboard replay --data-dir {}",
        state.contacts().count(),
        engine_dir.display()
    );
    drop(server);
    Ok(())
}

#[derive(Debug, Default)]
struct Counts {
    created: AtomicU64,
    refused: AtomicU64,
    accepted: AtomicU64,
    completed: AtomicU64,
}

/// Sends a JSON request and reads the JSON reply; `None` after 5 s or on anything unreadable.
pub(crate) async fn request(
    client: &async_nats::Client,
    subject: String,
    body: Value,
) -> Option<Value> {
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(subject, body.to_string().into()),
    )
    .await
    .ok()?
    .ok()?;
    serde_json::from_slice(&reply.payload).ok()
}

/// Polls the engine under subject prefix `prefix` every 100 ms until it answers a query, for at
/// most 30 s.
pub(crate) async fn wait_until_ready(client: &async_nats::Client, prefix: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    while tokio::time::Instant::now() < deadline {
        poll.tick().await;
        if request(client, format!("{prefix}.query.queues"), json!({}))
            .await
            .is_some()
        {
            return Ok(());
        }
    }
    anyhow::bail!("the engine did not answer within 30 s")
}

/// One simulated agent desktop: log in, be ready, accept offers after a moment, work them,
/// complete them (now and then escalating or referring).
async fn desktop(
    client: async_nats::Client,
    n: u32,
    seed: u64,
    mut stop: watch::Receiver<bool>,
    counts: Arc<Counts>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(n) << 32));
    let id = format!("agent{n:02}");
    let walk_in_site = (n as usize) < SITES.len();
    let site = if walk_in_site {
        SITES[n as usize]
    } else {
        "contact_centre"
    };
    let mut skills = serde_json::Map::new();
    for service in SERVICES {
        if rng.random_bool(0.6) {
            skills.insert(service.to_owned(), json!(rng.random_range(2..=5)));
        }
    }
    skills.insert(SERVICES[n as usize % SERVICES.len()].to_owned(), json!(4));
    if n.is_multiple_of(4) {
        skills.insert("polish".to_owned(), json!(5));
    }
    if n % 5 == 1 {
        skills.insert("safeguarding".to_owned(), json!(3));
    }
    let channels = if walk_in_site {
        json!({"face_to_face": 1})
    } else {
        json!({"phone": 1, "chat": 2, "email": 3, "callback": 1})
    };
    let tier = 1 + (n % 4) as u8;
    let Ok(mut offers) = client.subscribe(format!("{PREFIX}.agent.{id}.offer")).await else {
        return;
    };
    let cmd = |verb: &str| format!("{PREFIX}.cmd.agent.{id}.{verb}");
    let login = json!({"name": format!("Agent {n}"), "tier": tier, "site": site, "skills": skills, "channels": channels});
    if request(&client, cmd("login"), login).await.is_none() {
        return;
    }
    let _ = request(&client, cmd("ready"), json!({})).await;
    loop {
        let offer = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            offer = offers.next() => match offer { Some(offer) => offer, None => break },
        };
        let Ok(offer) = serde_json::from_slice::<Value>(&offer.payload) else {
            continue;
        };
        let think = Duration::from_millis(rng.random_range(300..2500));
        tokio::time::sleep(think).await;
        if offer["channel"] != "email" {
            let accepted = request(
                &client,
                cmd("accept"),
                json!({"offer_id": offer["offer_id"]}),
            )
            .await;
            if accepted.as_ref().is_none_or(|r| r["ok"] != true) {
                continue;
            }
        }
        counts.accepted.fetch_add(1, Ordering::Relaxed);
        let client = client.clone();
        let counts = counts.clone();
        let work = Duration::from_millis(rng.random_range(2_000..12_000));
        let roll: f64 = rng.random();
        let contact = offer["contact_id"].clone();
        let complete = cmd("complete");
        let escalate = cmd("escalate");
        let ready = cmd("ready");
        // After-contact work (notes, a form), then the desktop's "ready" button: the engine's
        // wrap-up time per channel (30–60 s) is the longest an agent may take, not the usual.
        let after_work = Duration::from_millis(rng.random_range(1_000..5_000));
        tokio::spawn(async move {
            tokio::time::sleep(work).await;
            let done = if roll < 0.05 {
                request(
                    &client,
                    escalate,
                    json!({"contact_id": contact, "reason": "needs a senior advisor"}),
                )
                .await
            } else {
                let outcome = if roll < 0.15 { "referred" } else { "resolved" };
                request(
                    &client,
                    complete,
                    json!({"contact_id": contact, "outcome": outcome}),
                )
                .await
            };
            if done.is_some_and(|r| r["ok"] == true) {
                counts.completed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(after_work).await;
                // Refused harmlessly if the wrap-up time has already ended it.
                let _ = request(&client, ready, json!({})).await;
            }
        });
    }
    let _ = request(&client, cmd("logout"), json!({"force": true})).await;
}

/// Synthetic arrivals: Poisson at `per_minute`, spread over the channels like a council's day.
async fn traffic(
    client: async_nats::Client,
    per_minute: u32,
    seed: u64,
    mut stop: watch::Receiver<bool>,
    counts: Arc<Counts>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mean_gap = 60.0 / f64::from(per_minute.max(1));
    let run = rng.random::<u32>();
    let mut n = 0_u64;
    loop {
        let gap = -mean_gap * (1.0 - rng.random::<f64>()).ln();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            () = tokio::time::sleep(Duration::from_secs_f64(gap)) => {}
        }
        n += 1;
        let roll: f64 = rng.random();
        let channel = match roll {
            r if r < 0.55 => "phone",
            r if r < 0.70 => "chat",
            r if r < 0.85 => "email",
            r if r < 0.95 => "face_to_face",
            _ => "callback",
        };
        let mut body = json!({
            "contact_id": format!("demo-{run:08x}-{n}"),
            "channel": channel,
            "service": SERVICES[rng.random_range(0..SERVICES.len())],
            "customer_id": format!("cust-{}", rng.random_range(0..200)),
        });
        if channel == "face_to_face" {
            body["site"] = json!(SITES[rng.random_range(0..SITES.len())]);
        }
        if rng.random_bool(0.08) {
            body["language"] = json!("polish");
        }
        if rng.random_bool(0.05) {
            body["vulnerable"] = json!(true);
        }
        if rng.random_bool(0.01) {
            body["safeguarding"] = json!(true);
        }
        let reply = request(&client, format!("{PREFIX}.cmd.contact.create"), body).await;
        let counter = if reply.is_some_and(|r| r["ok"] == true) {
            &counts.created
        } else {
            &counts.refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The live summary: queues, service level and agents, once a second.
async fn summary(client: async_nats::Client, mut stop: watch::Receiver<bool>, counts: Arc<Counts>) {
    let tty = std::io::stdout().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_secs(if tty { 1 } else { 5 }));
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tick.tick() => {}
        }
        let (Some(queues), Some(agents)) = (
            request(&client, format!("{PREFIX}.query.queues"), json!({})).await,
            request(&client, format!("{PREFIX}.query.agents"), json!({})).await,
        ) else {
            continue;
        };
        let mut out = String::new();
        if tty {
            out.push_str("\x1b[2J\x1b[H");
        }
        out.push_str(&render(&queues, &agents, &counts));
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }
}

fn render(queues: &Value, agents: &Value, counts: &Counts) -> String {
    let mut out = format!(
        "Switchboard demo: {} created, {} accepted, {} completed\n\n{:<24} {:<13} {:>7} {:>9} {:>8} {:>8} {:>7}\n",
        counts.created.load(Ordering::Relaxed),
        counts.accepted.load(Ordering::Relaxed),
        counts.completed.load(Ordering::Relaxed),
        "service",
        "channel",
        "waiting",
        "oldest s",
        "answered",
        "abandon",
        "SL"
    );
    for q in queues["queues"].as_array().into_iter().flatten() {
        let sl = q["service_level"]
            .as_f64()
            .map_or_else(|| "-".to_owned(), |sl| format!("{:.0}%", sl * 100.0));
        out.push_str(&format!(
            "{:<24} {:<13} {:>7} {:>9.0} {:>8} {:>8} {:>7}\n",
            q["service"].as_str().unwrap_or("?"),
            q["channel"].as_str().unwrap_or("?"),
            q["waiting"].as_u64().unwrap_or(0),
            q["oldest_wait_ms"].as_f64().unwrap_or(0.0) / 1000.0,
            q["answered"].as_u64().unwrap_or(0),
            q["abandoned"].as_u64().unwrap_or(0),
            sl
        ));
    }
    let mut presence: std::collections::BTreeMap<String, u32> = std::collections::BTreeMap::new();
    for a in agents["agents"].as_array().into_iter().flatten() {
        *presence
            .entry(a["presence"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    out.push_str("\nagents: ");
    out.push_str(
        &presence
            .iter()
            .map(|(p, n)| format!("{n} {p}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push('\n');
    out
}
