//! `switchboard demo`: a council contact centre on a local NATS, end to end on the real wire.
//!
//! It starts the pinned nats-server (installed on first use) with JetStream in the data
//! directory, the engine, synthetic telephony, web-chat, email and walk-in traffic, and simulated
//! agent desktops that log in, receive offers on their own subjects, accept them, work them and
//! complete them: every one of them a plain NATS client speaking the wire contract, exactly as
//! real systems would. A live summary shows the queues, the service level and the agents; the
//! Prometheus endpoint is up, and with it the wallboard and the agent desktop (nats-server opens
//! a WebSocket listener for them). One more desk is left for a person: no simulated desktop
//! answers its offers, which wait for a click in the browser. Ctrl-C (or `--duration`) stops
//! everything cleanly.

use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use switchboard_core::State;
use switchboard_engine::{Engine, EngineOptions};
use switchboard_nats::DriverSettings;
use switchboard_natsd::NatsServer;
use switchboard_wire::Subjects;
use tokio::sync::watch;

use rota::{Desk, Need, Rota};

pub(crate) mod cluster;
mod rota;

/// `switchboard demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where the demo keeps its data (kept between runs; a new run recovers the previous one's
    /// state): the engine's event log in DIR/engine (what `audit` and `replay` read) and NATS's
    /// JetStream store in DIR/nats.
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "demo-data")]
    data_dir: PathBuf,
    /// Contacts per minute arriving over all channels.
    #[arg(long, default_value_t = 40)]
    per_minute: u32,
    /// How many simulated agent desktops (the first three at the one-stop shops, the rest at
    /// the contact centre). The traffic asks only for what they can serve.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=i64::from(rota::DESKS_MAX)))]
    agents: u32,
    /// Stop by itself after this many seconds (otherwise run until Ctrl-C); with --cluster,
    /// counted from when the first engine serves.
    #[arg(long)]
    duration: Option<u64>,
    /// Where Prometheus scrapes /metrics (default: a free port on 127.0.0.1).
    #[arg(long, env = "SWITCHBOARD_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// Seed of the synthetic traffic and the rota.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run on a local cluster instead: three nats-servers in a JetStream cluster (random local
    /// ports, temporary stores) and two engines as child `switchboard serve` processes in
    /// cluster mode, one leading and one standing by (docs/cluster.md). Each engine's
    /// configuration file, data and log are in DIR/cluster/engine-N, replaced at each
    /// --cluster run. The live summary says who leads; the web pages and --metrics-addr are
    /// not used (each engine has its metrics on a free port, in its configuration file).
    #[arg(long)]
    cluster: bool,
    /// With --cluster: SIGKILL the leading engine every SECS seconds and start it again as a
    /// standby; each takeover is reported with the new leader, the time from the kill to it
    /// serving, and whether every create the traffic was told was done is in the log stream
    /// (checked again at the end; the demo fails if one is missing).
    #[arg(long, value_name = "SECS", requires = "cluster", value_parser = clap::value_parser!(u64).range(1..))]
    failover_every: Option<u64>,
}

const PREFIX: &str = "switchboard";

/// Bound on the traffic, the desktops and the live summary finishing once told to stop
/// (the desktops log out through the running engine meanwhile).
const CLIENTS_STOP_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    // The live summary is the demo's output: only warnings and errors are logged by default.
    crate::serve::init_logging(crate::serve::LogFormat::Text, "warn");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    if args.cluster {
        runtime.block_on(cluster::demo(&args))?;
    } else {
        runtime.block_on(demo(args))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A free TCP port on 127.0.0.1 (bound, then released for whoever binds it next).
pub(crate) fn free_local_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("no free local port")?;
    listener.local_addr().context("no local address")
}

/// Contacts counted from the engine's state: its queue counters and its open contacts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    /// Contacts ever created.
    created: u64,
    /// Contacts ever completed.
    completed: u64,
    /// Contacts ever abandoned.
    abandoned: u64,
    /// Contacts open now (waiting, offered, being handled or held; an escalated or transferred
    /// contact is still open). Completion and abandonment are the only ways a contact ends.
    open: u64,
}

impl Tally {
    fn of(state: &State) -> Self {
        let mut tally = Self {
            open: state.contacts().len() as u64,
            ..Self::default()
        };
        for counters in state.counters().values() {
            tally.created += counters.created;
            tally.completed += counters.completed;
            tally.abandoned += counters.abandoned;
        }
        tally
    }
}

async fn demo(args: Args) -> Result<()> {
    let nats_dir = args.data_dir.join("nats");
    let engine_dir = args.data_dir.join("engine");
    std::fs::create_dir_all(&nats_dir)
        .with_context(|| format!("could not create {}", nats_dir.display()))?;
    std::fs::create_dir_all(&engine_dir)
        .with_context(|| format!("could not create {}", engine_dir.display()))?;
    let version = switchboard_natsd::NATS_SERVER_VERSION;
    if switchboard_natsd::install_needed().context("no place to install nats-server")? {
        say!("Installing nats-server {version} (first run only; a 20 MB download) ...");
    }
    say!("Starting nats-server {version} ...");
    // A process group of its own: a terminal's Ctrl-C reaches only the demo, which stops NATS
    // last, after the engine, instead of NATS vanishing under the ordered stop.
    let server = tokio::task::spawn_blocking(move || {
        NatsServer::builder()
            .store_dir(nats_dir)
            .own_process_group(true)
            .websocket(true)
            .start()
    })
    .await
    .context("nats-server start")?
    .context("could not start nats-server")?;
    let urls = Urls {
        nats: server.client_url(),
        websocket: server.websocket_url(),
    };
    let result = run_on(&args, &urls, &engine_dir).await;
    // Gracefully (SIGTERM, so JetStream flushes), after everything that used it has stopped.
    let mut server = server;
    let stopped = tokio::task::spawn_blocking(move || server.stop())
        .await
        .context("nats-server stop")?;
    let lines = result?;
    stopped.context("could not stop nats-server")?;
    for line in lines {
        say!("{line}");
    }
    Ok(())
}

/// Where the demo's NATS listens.
#[derive(Debug)]
struct Urls {
    /// For NATS clients: `nats://127.0.0.1:PORT`.
    nats: String,
    /// For the web pages: `ws://127.0.0.1:PORT`.
    websocket: Option<String>,
}

/// Logs the person's desk out if a previous run left it logged in (its offers and work go back
/// to the queues), so that it is left alone for the browser, and prints the pages' addresses;
/// returns them, for the live summary to print under every screen (it clears the terminal).
async fn announce_pages(
    peers: &async_nats::Client,
    person: &Desk,
    metrics_addr: SocketAddr,
) -> Result<String> {
    if still_logged_in(peers, &person.id).await {
        let logout = format!("{PREFIX}.cmd.agent.{}.logout", person.id);
        let _ = request(peers, logout, json!({"force": true})).await;
    }
    let base = format!("http://{metrics_addr}");
    let pages = format!(
        "The wallboard:  {base}/wallboard\nYour desktop:   {base}{}\n                (agent {}: no simulated desktop answers its offers; they wait for you)\n",
        desktop_path(person),
        person.id
    );
    say!("{}", pages.trim_end());
    Ok(pages)
}

/// Starts the demo's clients on `peers`: a desktop per desk of the rota, the traffic and the
/// live summary (with `footer` under it: the pages' addresses, or who leads the cluster), each
/// stopping when `stopped` turns true.
fn start_clients(
    args: &Args,
    peers: &async_nats::Client,
    rota: &Arc<Rota>,
    footer: watch::Receiver<String>,
    run: u64,
    stopped: &watch::Receiver<bool>,
    counts: &Arc<Counts>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for desk in rota.desks() {
        tasks.push(tokio::spawn(desktop(
            peers.clone(),
            desk.clone(),
            rota.clone(),
            args.seed,
            stopped.clone(),
        )));
    }
    // This run's contact ids start with the log's sequence number at start-up (`run`), which
    // no earlier run on this data directory started at (every run that created a contact logged
    // events): the same seed twice must not re-send the earlier run's ids, which the engine
    // refuses as duplicates.
    tasks.push(tokio::spawn(traffic(
        peers.clone(),
        rota.clone(),
        args.per_minute,
        Seeds {
            seed: args.seed,
            run,
        },
        stopped.clone(),
        counts.clone(),
    )));
    tasks.push(tokio::spawn(summary(
        peers.clone(),
        footer,
        stopped.clone(),
    )));
    tasks
}

/// Waits for Ctrl-C (or the terminal's stop), or for `duration` seconds when given.
async fn wait_for_the_end(duration: Option<u64>) {
    let until = async {
        match duration {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = crate::serve::shutdown_signal() => {}
        () = until => {}
    }
}

/// Runs the engine, the traffic, the desktops and the summary on the NATS at `urls` until
/// Ctrl-C or `--duration`; returns the closing lines, to print once NATS has stopped too.
async fn run_on(args: &Args, urls: &Urls, engine_dir: &Path) -> Result<Vec<String>> {
    let url = urls.nats.as_str();
    let metrics_addr = match args.metrics_addr {
        Some(address) => address,
        None => free_local_port()?,
    };
    let routing = switchboard_core::RoutingConfig::default();
    let pages = crate::serve::pages(urls.websocket.clone(), PREFIX, &routing);
    let (health, http) = crate::serve::start_http(metrics_addr, pages).await?;

    let (engine, mut recovered) = Engine::open(
        engine_dir,
        routing,
        EngineOptions::default(),
        &mut |_, _| {},
    )
    .context("could not open the engine's data directory")?;
    let before = Tally::of(engine.state());
    let client = switchboard_nats::connect(&switchboard_nats::ConnectSettings {
        url: url.to_owned(),
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
    settings.receipts = std::mem::take(&mut recovered.receipts).into_entries();
    let engine_client = client.clone();
    let mut engine_task = tokio::spawn(switchboard_nats::run(
        client,
        engine,
        settings,
        async move {
            let _ = engine_stopped.wait_for(|stop| *stop).await;
        },
    ));
    say!(
        "NATS on {url} (WebSocket {}); metrics on http://{metrics_addr}/metrics (and /healthz, /readyz).",
        urls.websocket.as_deref().unwrap_or("not open")
    );
    say!(
        "The event log (the audit trail) is in {}: `audit` and `replay` read it there.",
        engine_dir.display()
    );
    say!(
        "Recovered {} events and {} open contacts from the previous run. Ctrl-C stops the demo.",
        recovered.last_seq,
        before.open
    );

    let peers = async_nats::connect(url)
        .await
        .context("the demo's clients could not connect")?;
    tokio::select! {
        ready = wait_until_ready(&peers, PREFIX) => ready?,
        stopped = &mut engine_task => {
            stopped.context("engine task")??;
            anyhow::bail!("the engine stopped before it was ready");
        }
    }
    let rota = Arc::new(Rota::new(args.agents, args.seed));
    let person = rota.person(args.seed);
    let pages = announce_pages(&peers, &person, metrics_addr).await?;
    let counts = Arc::new(Counts::default());
    let tasks = start_clients(
        args,
        &peers,
        &rota,
        watch::channel(pages).1,
        recovered.last_seq,
        &stopped,
        &counts,
    );
    wait_for_the_end(args.duration).await;
    say!(
        "\nStopping: traffic and desktops first, then the engine (it syncs and snapshots), then NATS."
    );
    let _ = stop.send(true);
    // One bound for all of them together, not one each.
    let _ = tokio::time::timeout(CLIENTS_STOP_TIMEOUT, futures::future::join_all(tasks)).await;
    // The person's desk too, so that the next run starts it afresh.
    if still_logged_in(&peers, &person.id).await {
        let logout = format!("{PREFIX}.cmd.agent.{}.logout", person.id);
        let _ = request(&peers, logout, json!({"force": true})).await;
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
    let _ = peers.drain().await;
    Ok(closing_lines(
        engine.next_seq() - 1,
        before,
        Tally::of(engine.state()),
        counts.refused.load(Ordering::Relaxed),
        engine_dir,
    ))
}

/// The desktop page's address for `desk`, with its login form filled in.
fn desktop_path(desk: &Desk) -> String {
    let tier = desk.tier.to_string();
    let query = [
        ("agent", desk.id.as_str()),
        ("name", "You"),
        ("site", desk.site),
        ("tier", tier.as_str()),
        ("skills", &desk.skills_text()),
    ]
    .iter()
    .map(|(key, value)| format!("{key}={}", query_escape(value)))
    .collect::<Vec<_>>()
    .join("&");
    format!("/desktop?{query}")
}

/// `text` for a URL's query: letters, digits and `-_.~` as they are, a space as `+`, the rest
/// percent-encoded.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// What the demo says at the end: the log, and this run's contacts from the engine's own
/// counts (created = completed + abandoned + still open, with those the previous run left
/// open), then commands that work as printed.
fn closing_lines(
    events: u64,
    before: Tally,
    after: Tally,
    refused: u64,
    engine_dir: &Path,
) -> Vec<String> {
    let created = after.created.saturating_sub(before.created);
    let completed = after.completed.saturating_sub(before.completed);
    let abandoned = after.abandoned.saturating_sub(before.abandoned);
    let carried = if before.open > 0 {
        format!(" (and {} left open by the previous run)", before.open)
    } else {
        String::new()
    };
    let mut lines = vec![format!(
        "Done: {events} events in the log. This run: {created} contacts created{carried}; \
         {completed} completed, {abandoned} abandoned, {} still open.",
        after.open
    )];
    if before.open + created != completed + abandoned + after.open {
        // Completion and abandonment are the only ends of a contact: a bug if this shows.
        lines.push(format!(
            "These do not add up ({} + {created} != {completed} + {abandoned} + {}): please report it.",
            before.open, after.open
        ));
    }
    if refused > 0 {
        lines.push(format!(
            "The engine refused {refused} of the traffic's contacts (see the warnings above)."
        ));
    }
    let exe = command_name();
    let dir = engine_dir.display();
    lines.push(format!(
        "Still open, and for how long: {exe} audit open --data-dir {dir}"
    ));
    lines.push(format!(
        "Check the audit trail:        {exe} audit verify --data-dir {dir}"
    ));
    lines
}

/// How to run this program from the current directory: `switchboard` when that is what the
/// `PATH` finds, else this executable's own path (after `cargo run`, it is not on the `PATH`).
fn command_name() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "switchboard".to_owned();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::canonicalize(dir.join("switchboard")).is_ok_and(|found| found == exe)
        })
    });
    if on_path {
        "switchboard".to_owned()
    } else {
        exe.display().to_string()
    }
}

#[derive(Debug, Default)]
struct Counts {
    /// Contacts the traffic sent that the engine refused (or did not answer).
    refused: AtomicU64,
    /// The ids of the contacts whose create the engine answered `ok`.
    acknowledged: std::sync::Mutex<Vec<String>>,
}

/// Bound on retrying one command while no engine answers it (a cluster's takeover).
const RETRY_BOUND: Duration = Duration::from_secs(30);

/// Sends a command until it is answered, with the same `Nats-Msg-Id` `key` each time (the
/// retry rule: the engine answers a repeat with its first reply), backing off from 50 ms to
/// 1 s; an `unavailable` error is not an answer (the engine stopped serving with it in hand).
/// `None` when nothing answered within [`RETRY_BOUND`].
async fn command(
    client: &async_nats::Client,
    subject: &str,
    body: &Value,
    key: &str,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + RETRY_BOUND;
    let mut backoff = Duration::from_millis(50);
    loop {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", key);
        let sent =
            client.request_with_headers(subject.to_owned(), headers, body.to_string().into());
        if let Ok(Ok(reply)) = tokio::time::timeout(Duration::from_secs(5), sent).await {
            let value: Option<Value> = serde_json::from_slice(&reply.payload).ok();
            if value
                .as_ref()
                .is_none_or(|v| v["error"]["code"] != "unavailable")
            {
                return value;
            }
        }
        if tokio::time::Instant::now() + backoff > deadline {
            return None;
        }
        // The retry rule's backoff: no engine serves the domain yet.
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
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

/// Whether the engine has `agent` logged in (per `query.agents`); `false` when it does not
/// answer.
async fn still_logged_in(client: &async_nats::Client, agent: &str) -> bool {
    request(client, format!("{PREFIX}.query.agents"), json!({}))
        .await
        .and_then(|reply| {
            reply["agents"].as_array().map(|agents| {
                agents
                    .iter()
                    .any(|a| a["agent_id"] == agent && a["presence"] != "logged_out")
            })
        })
        .unwrap_or(false)
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
/// complete them (now and then escalating, when someone more senior on the rota can take the
/// contact, or else referring it on).
async fn desktop(
    client: async_nats::Client,
    desk: Desk,
    rota: Arc<Rota>,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(desk.number) << 32) ^ 0xd35c);
    let id = desk.id.clone();
    let Ok(mut offers) = client.subscribe(format!("{PREFIX}.agent.{id}.offer")).await else {
        return;
    };
    let cmd = |verb: &str| format!("{PREFIX}.cmd.agent.{id}.{verb}");
    // A desktop that starts afresh ends any session a previous run left behind (one stopped
    // without logging out still holds its offers and contacts, and a login holding work is
    // refused): its contacts go back to their queues, place kept. Only then: a logout the
    // engine would refuse (an agent it does not know, or logged out) would count as bad input
    // in its log and metrics.
    if still_logged_in(&client, &id).await {
        let _ = request(&client, cmd("logout"), json!({"force": true})).await;
    }
    let logged_in = request(&client, cmd("login"), desk.login_body()).await;
    if logged_in.as_ref().is_none_or(|reply| reply["ok"] != true) {
        tracing::warn!(agent = %id, reply = ?logged_in, "the desktop could not log in");
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
        let roll: f64 = rng.random();
        let senior = Need {
            channel: offer["channel"].as_str().unwrap_or_default(),
            service: offer["service"].as_str().unwrap_or_default(),
            site: offer["site"].as_str(),
            safeguarding: offer["safeguarding"] == true,
            tier: offer["tier"]
                .as_u64()
                .and_then(|t| u8::try_from(t).ok())
                .unwrap_or(1)
                .max(desk.tier)
                .saturating_add(1),
        };
        let escalate = roll < 0.05 && rota.can_serve(&senior);
        let (verb, body) = if escalate {
            let reason = "needs a senior advisor";
            (
                cmd("escalate"),
                json!({"contact_id": offer["contact_id"], "reason": reason}),
            )
        } else {
            let outcome = if roll < 0.15 { "referred" } else { "resolved" };
            (
                cmd("complete"),
                json!({"contact_id": offer["contact_id"], "outcome": outcome}),
            )
        };
        let client = client.clone();
        let work = Duration::from_millis(rng.random_range(2_000..12_000));
        let ready = cmd("ready");
        // After-contact work (notes, a form), then the desktop's "ready" button: the engine's
        // wrap-up time per channel (30–60 s) is the longest an agent may take, not the usual.
        let after_work = Duration::from_millis(rng.random_range(1_000..5_000));
        tokio::spawn(async move {
            tokio::time::sleep(work).await;
            let done = request(&client, verb, body).await;
            if done.is_some_and(|r| r["ok"] == true) {
                tokio::time::sleep(after_work).await;
                // Refused harmlessly if the wrap-up time has already ended it.
                let _ = request(&client, ready, json!({})).await;
            }
        });
    }
    let _ = request(&client, cmd("logout"), json!({"force": true})).await;
}

/// The traffic's seeds: `seed` draws the arrivals, `run` tells this run's contact ids apart from
/// every earlier run's on the same data directory.
#[derive(Clone, Copy, Debug)]
struct Seeds {
    seed: u64,
    run: u64,
}

/// Synthetic arrivals: Poisson at `per_minute`, spread over the channels like a council's day,
/// and only of kinds some desk on the rota can take. Contact ids are `demo-{run}-{n}`.
async fn traffic(
    client: async_nats::Client,
    rota: Arc<Rota>,
    per_minute: u32,
    seeds: Seeds,
    mut stop: watch::Receiver<bool>,
    counts: Arc<Counts>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seeds.seed);
    let arrivals = rota.arrivals();
    let mean_gap = 60.0 / f64::from(per_minute.max(1));
    let mut n = 0_u64;
    loop {
        let gap = -mean_gap * (1.0 - rng.random::<f64>()).ln();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            () = tokio::time::sleep(Duration::from_secs_f64(gap)) => {}
        }
        let Some(arrival) = rota::draw(&arrivals, &mut rng) else {
            break;
        };
        n += 1;
        let id = format!("demo-{}-{n}", seeds.run);
        let body = arrival.body(
            &id,
            rng.random_range(0..200),
            rng.random_bool(0.08),
            rng.random_bool(0.05),
            rng.random_bool(0.01),
        );
        let subject = format!("{PREFIX}.cmd.contact.create");
        let reply = command(&client, &subject, &body, &id).await;
        if reply.as_ref().is_some_and(|r| r["ok"] == true) {
            if let Ok(mut acknowledged) = counts.acknowledged.lock() {
                acknowledged.push(id);
            }
        } else {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            let error = reply.as_ref().map(|r| r["error"].to_string());
            tracing::warn!(contact = n, ?error, "the engine refused a contact");
        }
    }
}

/// The live summary: queues, service level and agents, once a second (every 5 s when not on
/// a terminal), then the `footer` lines (the wallboard's and the desktop's addresses, or who
/// leads the cluster) on a terminal, where each screen clears the one before.
async fn summary(
    client: async_nats::Client,
    footer: watch::Receiver<String>,
    mut stop: watch::Receiver<bool>,
) {
    let tty = std::io::stdout().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_secs(if tty { 1 } else { 5 }));
    loop {
        let fetch = async {
            tick.tick().await;
            let queues = request(&client, format!("{PREFIX}.query.queues"), json!({})).await;
            let agents = request(&client, format!("{PREFIX}.query.agents"), json!({})).await;
            (queues, agents)
        };
        let fetched = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            fetched = fetch => fetched,
        };
        let (Some(queues), Some(agents)) = fetched else {
            continue;
        };
        let mut out = String::new();
        if tty {
            out.push_str("\x1b[2J\x1b[H");
        }
        out.push_str(&render(&queues, &agents, tty));
        if tty {
            out.push('\n');
            out.push_str(&footer.borrow());
        }
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }
}

/// One screen of the live summary, from the engine's own figures (`query.queues` and
/// `query.agents`). `highlight` marks unservable contacts in colour (on a terminal) rather
/// than with a `!`.
fn render(queues: &Value, agents: &Value, highlight: bool) -> String {
    let totals = &queues["totals"];
    let figure = |v: &Value, key: &str| v[key].as_u64().unwrap_or(0);
    // Not yet answered: waiting in the queue, or ringing on a desktop.
    let unanswered = |v: &Value| figure(v, "waiting") + figure(v, "offered");
    let open_now =
        unanswered(totals) + figure(totals, "assigned") + figure(totals, "waiting_for_opening");
    let mut out = format!(
        "Switchboard demo (the engine's figures, since its log began): {} contacts created, \
         {} answered, {} completed, {} abandoned; {open_now} open now.\n\n\
         {:<24} {:<13} {:>7} {:>8} {:>10} {:>8} {:>8} {:>6}\n",
        figure(totals, "created"),
        figure(totals, "answered"),
        figure(totals, "completed"),
        figure(totals, "abandoned"),
        "service",
        "channel",
        "waiting",
        "oldest s",
        "unservable",
        "answered",
        "abandon",
        "SL"
    );
    for q in queues["queues"].as_array().into_iter().flatten() {
        let sl = q["service_level"]
            .as_f64()
            .map_or_else(|| "-".to_owned(), |sl| format!("{:.0}%", sl * 100.0));
        let waiting = unanswered(q);
        // Nothing when nothing waits: a zero would read as "someone waits, since just now".
        let oldest = match q["oldest_wait_ms"].as_u64() {
            Some(ms) if waiting > 0 => format!("{:.0}", ms as f64 / 1000.0),
            _ => String::new(),
        };
        let unservable = figure(q, "unservable");
        let unservable = match (unservable, highlight) {
            (0, _) => "0".to_owned(),
            (n, true) => format!("\x1b[1;31m{n:>10}\x1b[0m"),
            (n, false) => format!("{n}!"),
        };
        out.push_str(&format!(
            "{:<24} {:<13} {:>7} {:>8} {:>10} {:>8} {:>8} {:>6}\n",
            q["service"].as_str().unwrap_or("?"),
            q["channel"].as_str().unwrap_or("?"),
            waiting,
            oldest,
            unservable,
            figure(q, "answered"),
            figure(q, "abandoned"),
            sl
        ));
    }
    out.push_str(
        "\nwaiting: not yet answered (in the queue or ringing); oldest: the longest of those \
         waits, from first contact.\n\
         SL: answered within the threshold / (answered + abandoned + still waiting past the \
         threshold); - until there is one.\n",
    );
    let unservable = figure(totals, "unservable");
    if unservable > 0 {
        out.push_str(&format!(
            "UNSERVABLE: {unservable} waiting contact(s) that no logged-in agent can take at any \
             step of their routing plan (wrong skills, site or tier): they will wait until \
             someone who can logs in. `audit show --contact ID` says why.\n"
        ));
    }
    out.push_str(&agents_line(agents));
    out
}

/// `agents: 12 ready (4 with contacts, 8 free), 1 wrap_up`: a ready agent can hold
/// contacts (up to their capacity per channel), so "ready" alone would read as idle.
fn agents_line(agents: &Value) -> String {
    let mut presence: std::collections::BTreeMap<&str, u32> = std::collections::BTreeMap::new();
    let mut handling = 0_u32;
    for a in agents["agents"].as_array().into_iter().flatten() {
        let p = a["presence"].as_str().unwrap_or("?");
        *presence.entry(p).or_default() += 1;
        let holds = a["contacts"].as_array().is_some_and(|c| !c.is_empty());
        if p == "ready" && holds {
            handling += 1;
        }
    }
    let parts = presence
        .iter()
        .map(|(&p, &n)| {
            if p == "ready" && handling > 0 {
                format!(
                    "{n} ready ({handling} with contacts, {} free)",
                    n - handling
                )
            } else {
                format!("{n} {p}")
            }
        })
        .collect::<Vec<_>>();
    format!("\nagents: {}\n", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{query_escape, render};

    #[test]
    fn the_desktop_address_escapes_its_query() {
        assert_eq!(
            query_escape("council_tax 4, benefits 2"),
            "council_tax+4%2C+benefits+2"
        );
        assert_eq!(query_escape("é&="), "%C3%A9%26%3D");
    }

    #[test]
    fn the_summary_shows_no_oldest_wait_when_none_waits_and_flags_unservable_contacts() {
        let queues = json!({
            "totals": {"created": 9, "answered": 5, "completed": 4, "abandoned": 1, "waiting": 2,
                       "offered": 1, "assigned": 1, "unservable": 1},
            "queues": [
                {"service": "benefits", "channel": "phone", "waiting": 0, "offered": 0,
                 "oldest_wait_ms": null, "answered": 3, "abandoned": 1, "service_level": null},
                {"service": "council_tax", "channel": "face_to_face", "waiting": 2, "offered": 1,
                 "oldest_wait_ms": 251_000, "unservable": 1, "answered": 2, "abandoned": 0,
                 "service_level": 0.5},
            ],
        });
        let agents = json!({"agents": [
            {"presence": "ready", "contacts": []},
            {"presence": "ready", "contacts": ["call-1"]},
            {"presence": "wrap_up", "contacts": []},
        ]});
        let screen = render(&queues, &agents, false);
        let line = |service: &str| {
            screen
                .lines()
                .find(|l| l.starts_with(service))
                .unwrap_or_else(|| panic!("no {service} in\n{screen}"))
                .split_whitespace()
                .collect::<Vec<_>>()
        };
        // service, channel, waiting, (oldest), unservable, answered, abandoned, SL
        assert_eq!(
            line("benefits"),
            ["benefits", "phone", "0", "0", "3", "1", "-"]
        );
        assert_eq!(
            line("council_tax"),
            [
                "council_tax",
                "face_to_face",
                "3",
                "251",
                "1!",
                "2",
                "0",
                "50%"
            ]
        );
        assert!(screen.contains("9 contacts created"), "{screen}");
        assert!(screen.contains("4 open now"), "{screen}");
        assert!(screen.contains("UNSERVABLE: 1 waiting contact"), "{screen}");
        assert!(
            screen.contains("agents: 2 ready (1 with contacts, 1 free), 1 wrap_up"),
            "{screen}"
        );
        let calm = json!({"totals": {}, "queues": []});
        assert!(!render(&calm, &agents, false).contains("UNSERVABLE"));
    }
}
