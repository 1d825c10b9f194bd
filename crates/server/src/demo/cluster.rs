//! `switchboard demo --cluster`: the demo on a local three-node NATS JetStream cluster, with the
//! engines as child `switchboard serve` processes in cluster mode (one leads, the others stand
//! by), and with `--failover-every SECS` a leader SIGKILLed every SECS seconds, started again as
//! a standby once another serves, and each takeover reported: who leads now, how long from the kill to the new leader
//! serving, and whether every create the traffic had been told was done is in the log stream.
//!
//! Every child (engines and nats-servers) runs in a process group of its own, so that a
//! terminal's Ctrl-C reaches only the demo, which stops them in order: traffic and desktops, the
//! standbys, the leader, then NATS. Every way out (an error, a panic) kills what is still running
//! ([`Engines`] and the cluster kill their processes on drop); an engine whose demo was SIGKILLed
//! notices and shuts down (`serve`'s `SWITCHBOARD_EXIT_WITH_PARENT`).

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use switchboard_jetlog::StreamReader;
use switchboard_nats::cluster::Domain;
use switchboard_natsd::NatsCluster;
use tokio::sync::watch;

use super::rota::Rota;
use super::{Args, Counts, PREFIX, free_local_port};

/// How many engines serve the domain: one leader and one hot standby.
const ENGINES: usize = 2;

/// The lease's TTL the engines run with: a killed leader's lease lapses after it.
const LEASE_TTL_SECS: u64 = 3;

/// Bound on a takeover (from the kill to the new leader answering) and on the first start.
const SERVING_BOUND: Duration = Duration::from_secs(60);

/// Bound on an engine exiting after SIGTERM before it is SIGKILLed.
const EXIT_BOUND: Duration = Duration::from_secs(10);

/// One engine: its node id, its directory (configuration file, data, log file) and process.
struct Node {
    id: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn config_path(&self) -> PathBuf {
        self.dir.join("switchboard.toml")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("engine.log")
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// The engines: child `serve` processes of this executable, killed on drop.
pub(super) struct Engines {
    exe: PathBuf,
    nodes: Vec<Node>,
}

impl Engines {
    /// Writes each engine's configuration file under `dir` (`engine-N/switchboard.toml`) and
    /// starts them all on the cluster at `urls` (whose monitoring endpoints are `monitors`).
    fn start(urls: &str, monitors: &[String], dir: &Path) -> Result<Self> {
        let exe = std::env::current_exe().context("where is this executable?")?;
        let mut engines = Self {
            exe,
            nodes: Vec::new(),
        };
        for n in 1..=ENGINES {
            let id = format!("engine-{n}");
            let node_dir = dir.join(&id);
            std::fs::create_dir_all(&node_dir)
                .with_context(|| format!("could not create {}", node_dir.display()))?;
            let node = Node {
                id,
                dir: node_dir,
                child: None,
            };
            std::fs::write(node.config_path(), config_text(urls, monitors, &node)?)
                .with_context(|| format!("could not write {}", node.config_path().display()))?;
            engines.nodes.push(node);
        }
        for index in 0..engines.nodes.len() {
            engines.spawn(index)?;
        }
        Ok(engines)
    }

    fn spawn(&mut self, index: usize) -> Result<()> {
        let node = &self.nodes[index];
        let log = File::options()
            .create(true)
            .append(true)
            .open(node.log_path())
            .with_context(|| format!("could not open {}", node.log_path().display()))?;
        let child = Command::new(&self.exe)
            .arg("serve")
            .arg("--config")
            .arg(node.config_path())
            .env("RUST_LOG", "info,async_nats=warn")
            .env("NO_COLOR", "1")
            .env(
                crate::serve::EXIT_WITH_PARENT_ENV,
                std::process::id().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("could not start {}", node.id))?;
        self.nodes[index].child = Some(child);
        Ok(())
    }

    fn index(&self, id: &str) -> Result<usize> {
        self.nodes.iter().position(|n| n.id == id).with_context(|| {
            format!("the lease names {id}, which is not one of the demo's engines")
        })
    }

    /// SIGKILLs engine `id` and reaps it.
    fn kill(&mut self, id: &str) -> Result<()> {
        let index = self.index(id)?;
        if let Some(mut child) = self.nodes[index].child.take() {
            child
                .kill()
                .with_context(|| format!("could not kill {id}"))?;
            child
                .wait()
                .with_context(|| format!("could not reap {id}"))?;
        }
        Ok(())
    }

    /// Starts engine `id` again on its data directory.
    fn restart(&mut self, id: &str) -> Result<()> {
        let index = self.index(id)?;
        self.spawn(index)
    }

    /// `engine-1 (pid 123), engine-2 (pid 124)`.
    fn listing(&self) -> String {
        self.nodes
            .iter()
            .map(|n| match n.pid() {
                Some(pid) => format!("{} (pid {pid})", n.id),
                None => format!("{} (stopped)", n.id),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Stops every engine, the standbys first and `leader` last (SIGTERM: a leader finishes its
    /// turn and releases the lease), each SIGKILLed if it has not exited within [`EXIT_BOUND`].
    fn stop_all(&mut self, leader: Option<&str>) {
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.sort_by_key(|&i| Some(self.nodes[i].id.as_str()) == leader);
        for index in order {
            if let Some(mut child) = self.nodes[index].child.take() {
                terminate(&mut child);
            }
        }
    }
}

impl Drop for Engines {
    /// No engine outlives the demo: whatever is still running is killed.
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// SIGTERM, then a bounded wait for the exit, then SIGKILL.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + EXIT_BOUND;
    // A child's exit gives no notification to wait on with a bound: look every 50 ms.
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// An engine's configuration file: the cluster, its own data directory, node id and metrics
/// port, the log and the streams on all three servers, whose fsync setting it checks.
fn config_text(urls: &str, monitors: &[String], node: &Node) -> Result<String> {
    let quoted = |text: &str| toml::Value::String(text.to_owned()).to_string();
    let monitors = toml::Value::Array(monitors.iter().cloned().map(toml::Value::from).collect());
    let data = node.dir.join("data");
    let data = data.to_str().context("the data directory is not UTF-8")?;
    let metrics = free_local_port()?;
    Ok(format!(
        "# Written by `switchboard demo --cluster` for this run.\n\
         [nats]\nurl = {}\nsubject_prefix = {}\nstream_replicas = 3\n\n\
         [engine]\ndata_dir = {}\n\n\
         [log]\nbackend = \"jetstream\"\nreplicas = 3\n\n\
         [cluster]\nnode_id = {}\nlease_ttl_secs = {LEASE_TTL_SECS}\n\
         nats_monitor_urls = {monitors}\n\n\
         [metrics]\naddress = \"{metrics}\"\n",
        quoted(urls),
        quoted(PREFIX),
        quoted(data),
        quoted(&node.id),
    ))
}

/// Connects to every server of the cluster (a comma-separated list of URLs).
async fn connect(urls: &str) -> Result<async_nats::Client> {
    let servers = urls
        .split(',')
        .map(|url| url.parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .context("a server URL")?;
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(servers)
        .await
        .context("the demo's clients could not connect to the cluster")
}

/// The node id holding the demo's lease, if any.
async fn lease_holder(client: &async_nats::Client) -> Option<String> {
    switchboard_nats::cluster::lease_holder(client, &Domain::new(PREFIX)).await
}

/// Waits (at most [`SERVING_BOUND`]) until some engine answers a query, and names the lease's
/// holder then (only the leader answers queries).
async fn wait_for_serving(client: &async_nats::Client) -> Result<String> {
    let subject = format!("{PREFIX}.query.queues");
    let serving = async {
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        loop {
            poll.tick().await;
            let asked = client.request(subject.clone(), "{}".into());
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), asked).await
                && let Some(holder) = lease_holder(client).await
            {
                return holder;
            }
        }
    };
    tokio::time::timeout(SERVING_BOUND, serving)
        .await
        .context("no engine served the domain within 60 s")
}

/// The traffic's acknowledged creates held against the log stream.
struct Check {
    events: u64,
    acknowledged: usize,
    missing: Vec<String>,
}

impl Check {
    fn line(&self) -> String {
        if self.missing.is_empty() {
            format!(
                "nothing acknowledged lost: all {} creates the traffic was told were done are \
                 in the log stream ({} events)",
                self.acknowledged, self.events
            )
        } else {
            format!(
                "LOST: {} of the {} creates the traffic was told were done are not in the log \
                 stream, e.g. {:?}",
                self.missing.len(),
                self.acknowledged,
                self.missing.iter().take(5).collect::<Vec<_>>()
            )
        }
    }
}

/// Reads the whole log stream and checks that every create acknowledged so far is in it.
async fn check_acknowledged(client: &async_nats::Client, counts: &Counts) -> Result<Check> {
    // Taken before the read: each of these was appended to the stream before it was answered.
    let acknowledged: Vec<String> = counts
        .acknowledged
        .lock()
        .map_err(|_| anyhow::anyhow!("the traffic's record is poisoned"))?
        .clone();
    let domain = Domain::new(PREFIX);
    let config =
        switchboard_jetlog::JetStreamConfig::new(domain.log_stream(), domain.log_subject());
    let context = async_nats::jetstream::new(client.clone());
    let mut reader = StreamReader::start(&context, &config, 1)
        .await
        .context("could not read the log stream")?;
    let mut created = HashSet::new();
    let mut events = 0;
    while let Some(record) = reader.next().await {
        let record = record.context("a record of the log stream")?;
        events += 1;
        let event = switchboard_wire::decode_event(&record.payload)
            .context("an event of the log stream")?;
        if let switchboard_core::EventKind::ContactCreated(c) = event.kind {
            created.insert(c.details.id.to_string());
        }
    }
    let missing = acknowledged
        .iter()
        .filter(|id| !created.contains(*id))
        .cloned()
        .collect();
    Ok(Check {
        events,
        acknowledged: acknowledged.len(),
        missing,
    })
}

/// `switchboard demo --cluster`.
pub(super) async fn demo(args: &Args) -> Result<()> {
    let mut end = Box::pin(crate::serve::shutdown_signal());
    // Polled once now, so that its signal handlers are in place: from here on a Ctrl-C is never
    // lost (nor kills the demo outright, leaving its children): it is acted on at the next step.
    // `--duration` counts from when the first engine serves (see `run_on`).
    let _ = futures::FutureExt::now_or_never(&mut end);
    let dir = args.data_dir.join("cluster");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("could not empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let version = switchboard_natsd::NATS_SERVER_VERSION;
    if switchboard_natsd::install_needed().context("no place to install nats-server")? {
        say!("Installing nats-server {version} (first run only; a 20 MB download) ...");
    }
    say!("Starting a cluster of three nats-servers {version} (JetStream, three copies) ...");
    let cluster =
        tokio::task::spawn_blocking(|| NatsCluster::builder().own_process_group(true).start())
            .await
            .context("nats-server start")?
            .context("could not start the NATS cluster")?;
    let urls = cluster.client_urls();
    let mut engines = Engines::start(&urls, &cluster.monitor_urls(), &dir)?;
    let mut leader = None;
    let result = run_on(args, &urls, &mut engines, &mut leader, &mut end).await;
    say!("Stopping the engines (standbys first, then the leader), then NATS ...");
    tokio::task::block_in_place(|| engines.stop_all(leader.as_deref()));
    let closing = match result {
        Ok(running) => {
            closing(
                &urls,
                running,
                &dir.join(leader.as_deref().unwrap_or("engine-1")),
            )
            .await
        }
        Err(error) => Err(error),
    };
    let mut cluster = cluster;
    tokio::task::spawn_blocking(move || {
        for index in 0..cluster.len() {
            let _ = cluster.server_mut(index).stop();
        }
    })
    .await
    .context("nats-server stop")?;
    for line in closing? {
        say!("{line}");
    }
    Ok(())
}

/// What a run leaves for its closing lines.
struct Ran {
    counts: Arc<Counts>,
    takeovers: Vec<Duration>,
}

/// The closing lines, from the final log (every engine stopped); an error if anything
/// acknowledged is missing from it. `last_leader` is the directory of the engine that led last
/// (its local copy is the whole log; a standby's may lack the last few records).
async fn closing(urls: &str, ran: Ran, last_leader: &Path) -> Result<Vec<String>> {
    let client = connect(urls).await?;
    let check = check_acknowledged(&client, &ran.counts).await?;
    let _ = client.drain().await;
    let took = ran
        .takeovers
        .iter()
        .map(|t| format!("{:.1} s", t.as_secs_f64()))
        .collect::<Vec<_>>();
    let mut lines = vec![format!("Done: {}.", check.line())];
    if !took.is_empty() {
        lines.push(format!(
            "{} takeover(s), from the kill to the new leader serving: {}.",
            took.len(),
            took.join(", ")
        ));
    }
    let refused = ran.counts.refused.load(Ordering::Relaxed);
    if refused > 0 {
        lines.push(format!(
            "{refused} of the traffic's contacts were refused or never answered (see the \
             warnings above)."
        ));
    }
    let exe = super::command_name();
    let dir = last_leader.parent().unwrap_or(last_leader);
    lines.push(format!(
        "Each engine's log, configuration and local copy of the log: {}/engine-N (kept until \
         the next --cluster run).",
        dir.display()
    ));
    lines.push(format!(
        "Check the last leader's copy:  {exe} audit verify --data-dir {}",
        last_leader.join("data").display()
    ));
    anyhow::ensure!(
        check.missing.is_empty(),
        "acknowledged creates are missing from the log stream"
    );
    Ok(lines)
}

/// The live summary's footer: who leads, the engines, and the last takeover's line.
fn status(engines: &Engines, leader: Option<&str>, last: &str) -> String {
    format!(
        "Cluster: {} leads; engines {}.\n{last}",
        leader.unwrap_or("?"),
        engines.listing()
    )
}

/// Runs the traffic, the desktops and the summary on the cluster until Ctrl-C or `--duration`,
/// killing the leader every `--failover-every` seconds; keeps `leader` up to date.
async fn run_on(
    args: &Args,
    urls: &str,
    engines: &mut Engines,
    leader: &mut Option<String>,
    end: &mut (impl Future<Output = ()> + Unpin),
) -> Result<Ran> {
    say!("NATS cluster on {urls}.");
    say!(
        "Engines: {} (cluster mode, lease TTL {LEASE_TTL_SECS} s), waiting for one to lead ...",
        engines.listing()
    );
    let peers = connect(urls).await?;
    let counts = Arc::new(Counts::default());
    *leader = tokio::select! {
        () = &mut *end => {
            return Ok(Ran { counts, takeovers: Vec::new() });
        }
        first = wait_for_serving(&peers) => Some(first?),
    };
    let first = status(engines, leader.as_deref(), "");
    say!("{}", first.trim_end());
    let (footer, footer_rx) = watch::channel(first);
    let (stop, stopped) = watch::channel(false);
    let rota = Arc::new(Rota::new(args.agents, args.seed));
    let tasks = super::start_clients(args, &peers, &rota, footer_rx, 1, &stopped, &counts);
    let mut takeovers = Vec::new();
    // The traffic runs for `--duration` whatever the start-up took.
    let duration = async {
        match args.duration {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(duration);
    let mut every = args.failover_every.map(|secs| {
        let period = Duration::from_secs(secs);
        tokio::time::interval_at(tokio::time::Instant::now() + period, period)
    });
    loop {
        let tick = async {
            match every.as_mut() {
                Some(every) => every.tick().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut *end => break,
            () = &mut duration => break,
            _ = tick => {}
        }
        let old = leader.clone().unwrap_or_default();
        let killed = Instant::now();
        tokio::task::block_in_place(|| engines.kill(&old))?;
        let new = wait_for_serving(&peers).await?;
        let took = killed.elapsed();
        // Only now, so that it comes back as a standby (started at once, it can be first to
        // take the lapsed lease: a restart, not a takeover by the standby).
        engines.restart(&old)?;
        let check = check_acknowledged(&peers, &counts).await?;
        let last = format!(
            "Takeover {}: {old} killed (SIGKILL); {new} serving {:.1} s after the kill; {old} \
             restarted as a standby; {}.\n",
            takeovers.len() + 1,
            took.as_secs_f64(),
            check.line()
        );
        say!("{}", last.trim_end());
        takeovers.push(took);
        *leader = Some(new);
        footer.send_replace(status(engines, leader.as_deref(), &last));
        if let Some(every) = every.as_mut() {
            // The next kill comes SECS after this takeover, not after the last kill.
            every.reset();
        }
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(
        super::CLIENTS_STOP_TIMEOUT,
        futures::future::join_all(tasks),
    )
    .await;
    let _ = peers.drain().await;
    Ok(Ran { counts, takeovers })
}
