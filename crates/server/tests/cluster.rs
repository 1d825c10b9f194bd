//! Cluster mode on a real three-node NATS cluster: two `switchboard serve` processes with
//! `[log] backend = "jetstream"` and their own configuration files and data directories, under
//! continuous creates (requests and the durable intake). The leader is SIGKILLed and the standby
//! serves; the killed one comes back as a standby; then each engine in turn, as leader, is
//! paused (SIGSTOP) with a turn decided and not yet appended (held back by pausing the two
//! nats-servers it is not connected to, so the log stream has no quorum for a moment) until the
//! other takes the lease and appends, and resumed: each time the zombie's append is fenced and
//! it stops serving without exiting. At the end every acknowledged create is in the stream exactly
//! once and the chain verifies; the creates carry customer references and caller numbers, and
//! no record of the JetStream log holds them in plaintext (the keys in the domain's KV
//! keystore, shared across failovers). Takeover times are printed (figures, not assertions). And an
//! engine started while the cluster has no quorum waits for JetStream instead of exiting. A
//! standby that takes over while the intake consumer elects its leader (its leader's
//! nats-server restarted just then) keeps the lease and tries again rather than stop serving.
//!
//! Snapshots in cluster mode: a leader stores its snapshots in the domain's bucket, and an
//! engine started on an empty disk recovers from the bucket's newest snapshot plus the stream's
//! tail (fewer records applied than the stream holds), then serves the same state; a snapshot
//! in the bucket from another history is skipped with its reason and the stream applied whole.
//!
//! The engines check at start-up that every nats-server fsyncs every write, through the
//! servers' monitoring endpoints, and one refuses a server that does not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use serde_json::json;
use switchboard_core::EventKind;
use switchboard_jetlog::{
    JetStreamConfig, JetStreamLog, SnapshotStore, SnapshotStoreConfig, StreamReader,
};
use switchboard_natsd::NatsCluster;

mod common;
use common::{free_port, serving_within, wait_until_serving};

/// Milliseconds since midnight UTC of `time` (the log lines' clock, to the millisecond).
fn ms_of_day(time: std::time::SystemTime) -> u64 {
    let ms = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    u64::try_from(ms % 86_400_000).unwrap_or(0)
}

/// The node's last `serving as leader` line, with its time in milliseconds since midnight UTC.
fn last_serving(node: &Node) -> (Option<u64>, String) {
    let line = node
        .logged()
        .lines()
        .rfind(|line| line.contains("serving as leader"))
        .map(str::to_owned)
        .unwrap_or_default();
    let at = line.get(11..23).and_then(|time| {
        let mut parts = time.split([':', '.']).map(|part| part.parse::<u64>().ok());
        let (h, m, s, ms) = (
            parts.next()??,
            parts.next()??,
            parts.next()??,
            parts.next()??,
        );
        Some(((h * 60 + m) * 60 + s) * 1000 + ms)
    });
    (at, line)
}

/// What a takeover after a kill at `killed_at` (ms of the day) took, by the new leader's log
/// line, with that log when it was slower than the TTL + 1 s; `answered` is when a query was
/// first answered.
fn takeover_report(new_leader: &Node, killed_at: u64, answered: Duration) -> String {
    let (serving_at, serving) = last_serving(new_leader);
    let mut report = format!(
        "takeover after SIGKILL (lease TTL {} s): serving {} ms after the kill (by the logs' \
         clock; the new leader's line: {serving}); first query answered after {} ms (behind the \
         backlog of the leaderless seconds)",
        lease_ttl_secs(),
        serving_at.map_or(-1, |at| i64::try_from(at).unwrap_or(0)
            - i64::try_from(killed_at).unwrap_or(0)),
        answered.as_millis()
    );
    let slow_after_ms = (lease_ttl_secs() + 1) * 1000;
    if serving_at.is_some_and(|at| at.saturating_sub(killed_at) > slow_after_ms) {
        report.push_str("\na takeover slower than the TTL + 1 s; the new leader's log:\n");
        report.push_str(&new_leader.logged());
    }
    report
}

/// One engine: its process, node id, data directory and log file.
struct Node {
    id: &'static str,
    config: PathBuf,
    log: PathBuf,
    child: Child,
}

/// The lease TTL the engines run with: 3 s (the default), or `SWITCHBOARD_CLUSTER_TTL` to
/// measure takeovers under another (docs/cluster.md, "Measured").
fn lease_ttl_secs() -> u64 {
    std::env::var("SWITCHBOARD_CLUSTER_TTL")
        .ok()
        .and_then(|ttl| ttl.parse().ok())
        .unwrap_or(3)
}

impl Node {
    fn start(id: &'static str, cluster: &NatsCluster, root: &Path) -> Self {
        Self::start_with(id, cluster, root, "")
    }

    /// Starts connected to `cluster`'s server `server` alone (it can then be cut off from the
    /// others by pausing them).
    fn start_on(id: &'static str, cluster: &NatsCluster, root: &Path, server: usize) -> Self {
        Self::launch(id, cluster, &cluster.server(server).client_url(), root, "")
    }

    /// Starts with `engine` added to the `[engine]` section, on `cluster`'s servers, whose
    /// fsync setting it checks at start-up (their monitoring URLs).
    fn start_with(id: &'static str, cluster: &NatsCluster, root: &Path, engine: &str) -> Self {
        Self::launch(id, cluster, &cluster.client_urls(), root, engine)
    }

    /// Starts connected to `urls` of `cluster`, with `engine` added to the `[engine]` section.
    fn launch(
        id: &'static str,
        cluster: &NatsCluster,
        urls: &str,
        root: &Path,
        engine: &str,
    ) -> Self {
        let dir = root.join(id);
        std::fs::create_dir_all(&dir).expect("node dir");
        let config = dir.join("switchboard.toml");
        let monitors = cluster.monitor_urls();
        let text = format!(
            "[nats]\nurl = \"{urls}\"\nstream_replicas = 3\n\n[engine]\ndata_dir = \"{}\"\n{engine}\n\
             [metrics]\naddress = \"127.0.0.1:{}\"\n\n[log]\nbackend = \"jetstream\"\n\
             replicas = 3\n\n[cluster]\nnode_id = \"{id}\"\nlease_ttl_secs = {}\n\
             nats_monitor_urls = {monitors:?}\n",
            dir.join("data").display(),
            free_port(),
            lease_ttl_secs()
        );
        std::fs::write(&config, text).expect("config written");
        let log = dir.join("serve.log");
        let child = spawn(&config, &log);
        Self {
            id,
            config,
            log,
            child,
        }
    }

    fn restart(&mut self) {
        self.child = spawn(&self.config, &self.log);
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {}", self.id);
    }

    fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The engine's log, then its own series from `/metrics` (what a stuck engine was doing:
    /// turns submitted and durable, the feed, the intake), for a failure's message.
    async fn logged_and_metrics(&self) -> String {
        let scrape = self.scrape().await;
        let series: Vec<&str> = scrape
            .lines()
            .filter(|line| line.starts_with("switchboard_") && !line.contains("_bucket{"))
            .collect();
        format!("{}\nits metrics:\n{}", self.logged(), series.join("\n"))
    }

    /// The engine's `/metrics` text (empty if it does not answer).
    async fn scrape(&self) -> String {
        let config = std::fs::read_to_string(&self.config).unwrap_or_default();
        let address = config
            .lines()
            .find_map(|line| line.strip_prefix("address = \""))
            .and_then(|rest| rest.trim_end_matches('"').parse().ok());
        match address {
            Some(address) => common::http_get(address, "/metrics").await.1,
            None => String::new(),
        }
    }

    /// The sum of the counter `name`'s series in the engine's `/metrics` (0 if it has none).
    async fn counter(&self, name: &str) -> f64 {
        self.scrape()
            .await
            .lines()
            .filter(|line| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// A failed test does not leave its engines running.
impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &Path, log: &Path) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("the switchboard binary starts")
}

/// The tests run one at a time: each runs three nats-servers and up to two engines, and two such at
/// once on two cores slow start-up past the harness's bounds.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Senders working at once, so that a leader has turns queued behind the one being appended.
const LOAD_WORKERS: u64 = 4;

/// How often each sender to the durable inbox publishes. JetStream acknowledges an inbox message
/// as soon as the stream holds it, not when the engine has taken it, so an unpaced sender runs
/// ahead of a leader on a loaded machine without bound (and a failover's backlog grows with it).
const INBOX_PACE: Duration = Duration::from_millis(20);

/// Zombie rounds, the engines taking turns as the zombie.
const ZOMBIE_ROUNDS: usize = 2;

/// Creates in each of a zombie round's two bursts.
const ZOMBIE_BURST: usize = 8;

/// The counter a burst's decided creates show in.
const CREATED: &str = "switchboard_contacts_created_total";

#[derive(Default)]
struct Acknowledged {
    ids: BTreeSet<String>,
}

/// Sends creates until told to stop, ids `worker` + k * [`LOAD_WORKERS`]: even ones as requests
/// (with an idempotency key), odd ones to the durable inbox; `progress` counts the
/// acknowledged ones.
async fn load(
    worker: u64,
    client: async_nats::Client,
    acked: Arc<Mutex<Acknowledged>>,
    stop: tokio::sync::watch::Receiver<bool>,
    progress: tokio::sync::watch::Sender<usize>,
) {
    let js = async_nats::jetstream::new(client.clone());
    let mut n = worker;
    let mut pace = tokio::time::interval(INBOX_PACE);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() {
        n += LOAD_WORKERS;
        let id = format!("cluster-{n}");
        // Personal data, which the JetStream log must hold only sealed (docs/privacy.md).
        let body = json!({"contact_id": id, "channel": "email", "service": "council_tax",
            "customer_id": format!("{CUSTOMER}{}", n % 11),
            "attributes": {"caller": format!("{CALLER}{n:05}")}})
        .to_string();
        let ok = if n.is_multiple_of(2) {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.as_str());
            let reply = tokio::time::timeout(
                Duration::from_secs(2),
                client.request_with_headers("switchboard.cmd.contact.create", headers, body.into()),
            )
            .await;
            matches!(reply, Ok(Ok(reply))
                if serde_json::from_slice::<serde_json::Value>(&reply.payload)
                    .is_ok_and(|value| value["ok"] == true))
        } else {
            pace.tick().await;
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.as_str());
            match js
                .publish_with_headers("switchboard.inbox.contact.create", headers, body.into())
                .await
            {
                Ok(ack) => matches!(
                    tokio::time::timeout(Duration::from_secs(2), ack).await,
                    Ok(Ok(_))
                ),
                Err(_) => false,
            }
        };
        if ok {
            acked.lock().expect("lock").ids.insert(id);
            progress.send_modify(|n| *n += 1);
        }
    }
}

/// A client on the cluster's servers (`urls`, comma-separated).
async fn connect(urls: &str) -> async_nats::Client {
    let addresses: Vec<async_nats::ServerAddr> = urls
        .split(',')
        .map(|url| url.parse().expect("a server URL"))
        .collect();
    async_nats::connect(addresses).await.expect("connect")
}

/// [`LOAD_WORKERS`] senders of creates, running until [`Load::finish`].
struct Load {
    acked: Arc<Mutex<Acknowledged>>,
    stop: tokio::sync::watch::Sender<bool>,
    generators: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts the senders; the receiver counts the acknowledged creates.
    fn start(client: &async_nats::Client) -> (Self, tokio::sync::watch::Receiver<usize>) {
        let acked = Arc::new(Mutex::new(Acknowledged::default()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (progress_tx, progress) = tokio::sync::watch::channel(0_usize);
        let generators = (0..LOAD_WORKERS)
            .map(|worker| {
                let (client, acked) = (client.clone(), acked.clone());
                tokio::spawn(load(
                    worker,
                    client,
                    acked,
                    stopped.clone(),
                    progress_tx.clone(),
                ))
            })
            .collect();
        let load = Self {
            acked,
            stop,
            generators,
        };
        (load, progress)
    }

    /// Stops the senders and returns the ids of the acknowledged creates.
    async fn finish(self) -> BTreeSet<String> {
        let _ = self.stop.send(true);
        for generator in self.generators {
            generator.await.expect("load generator");
        }
        std::mem::take(&mut self.acked.lock().expect("lock").ids)
    }
}

/// Waits (at most 60 s) for `more` acknowledged creates.
async fn acknowledged_more(progress: &mut tokio::sync::watch::Receiver<usize>, more: usize) {
    let target = *progress.borrow() + more;
    tokio::time::timeout(Duration::from_secs(60), progress.wait_for(|n| *n >= target))
        .await
        .unwrap_or_else(|_| panic!("the load stalled before {target} acknowledged creates"))
        .expect("load alive");
}

/// The node holding the domain's lease now, waiting (at most 30 s) for one that is `wanted`.
async fn holder(js: &async_nats::jetstream::Context, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        poll.tick().await;
        let domain = switchboard_nats::cluster::Domain::new("switchboard");
        if let Some(holder) = switchboard_nats::cluster::lease_holder(&js.client(), &domain).await
            && wanted(&holder)
        {
            return holder;
        }
        assert!(Instant::now() < deadline, "no wanted lease holder in 30 s");
    }
}

/// What every customer reference the load sends starts with.
const CUSTOMER: &str = "CUST-CL-";
/// What every caller number it sends starts with.
const CALLER: &str = "07700 8";

/// Every contact created in the stream, with how many times; no record holds the load's
/// personal data in plaintext.
async fn created_in_stream(client: &async_nats::Client) -> BTreeMap<String, u32> {
    let js = async_nats::jetstream::new(client.clone());
    let config = JetStreamConfig::new("SB_LOG_SWITCHBOARD", "switchboard.log");
    let mut reader = StreamReader::start(&js, &config, 1).await.expect("reader");
    let mut created = BTreeMap::new();
    while let Some(record) = reader.next().await {
        let payload = record.expect("record").payload;
        for personal in [CUSTOMER, CALLER] {
            assert!(
                !payload
                    .windows(personal.len())
                    .any(|w| w == personal.as_bytes()),
                "{personal} in plaintext in the JetStream log"
            );
        }
        let event = switchboard_wire::decode_event(&payload).expect("event");
        if let EventKind::ContactCreated(c) = &event.kind {
            *created.entry(c.details.id.to_string()).or_insert(0) += 1;
        }
    }
    created
}

/// One zombie round: the leader `zombie` (engine `i` is connected to server `i` alone) is made
/// to hold a turn decided and not yet appended, paused (SIGSTOP) until the other engine holds
/// the lease and has appended, and resumed. Returns its `stopped serving` line and the time
/// from the pause to the other's 40 more acknowledged creates.
///
/// The turn is made so, not waited for by chance: the two servers other than the zombie's are
/// paused, so the log stream has no quorum and the zombie's append in flight waits; a burst of
/// creates sent through the zombie's server is decided and submitted (its contacts counted in
/// the zombie's metrics), then a second one, which the committer must queue behind the first.
/// The zombie is paused, the servers resumed (the first append lands before any takeover); on
/// resuming, the zombie appends the queued turn after the new leader's appends: fenced.
async fn zombie_round(
    js: &async_nats::jetstream::Context,
    cluster: &mut NatsCluster,
    nodes: &mut [Node; 2],
    zombie: usize,
    progress: &mut tokio::sync::watch::Receiver<usize>,
) -> (String, Duration) {
    let other = nodes[1 - zombie].id;
    holder(js, |h| h == nodes[zombie].id).await;
    let stopped_before = nodes[zombie].logged().matches("stopped serving").count();
    let own_server = connect(&cluster.server(zombie).client_url()).await;
    let others: Vec<usize> = (0..cluster.len()).filter(|&i| i != zombie).collect();
    for &server in &others {
        cluster.server_mut(server).pause().expect("a server pauses");
    }
    for burst in 0..2 {
        let created = nodes[zombie].counter(CREATED).await;
        for n in 0..ZOMBIE_BURST {
            let body = json!({"contact_id": format!("burst-{zombie}-{stopped_before}-{burst}-{n}"),
                "channel": "email", "service": "council_tax"});
            own_server
                .publish("switchboard.cmd.contact.create", body.to_string().into())
                .await
                .expect("publish a burst create");
        }
        own_server.flush().await.expect("flush the burst");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut poll = tokio::time::interval(Duration::from_millis(20));
        while nodes[zombie].counter(CREATED).await <= created {
            assert!(
                Instant::now() < deadline,
                "the leader decided no turn of burst {burst} within 20 s: {}",
                nodes[zombie].logged_and_metrics().await
            );
            poll.tick().await;
        }
    }
    nodes[zombie].signal("-STOP");
    let paused = Instant::now();
    for &server in &others {
        cluster
            .server_mut(server)
            .resume()
            .expect("a server resumes");
    }
    holder(js, |h| h == other).await;
    acknowledged_more(progress, 40).await;
    let took = paused.elapsed();
    nodes[zombie].signal("-CONT");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        let logged = nodes[zombie].logged();
        if let Some(line) = logged
            .lines()
            .filter(|line| line.contains("stopped serving"))
            .nth(stopped_before)
        {
            return (line.to_owned(), took);
        }
        assert!(
            Instant::now() < deadline,
            "the resumed zombie did not stop serving: {logged}"
        );
        poll.tick().await;
    }
}

/// Waits (at most 45 s) until every acknowledged create is in the stream (intake a killed or
/// paused leader had taken is delivered again to the next one), checks none is there twice and
/// the chain verifies; returns the stream's records.
async fn every_acknowledged_create_once(
    client: &async_nats::Client,
    acked: &BTreeSet<String>,
) -> u64 {
    // Every acknowledged create is in the stream exactly once (intake a killed or paused
    // leader had taken is delivered again to the next one: bounded wait).
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut poll = tokio::time::interval(Duration::from_millis(200));
    let created = loop {
        let created = created_in_stream(client).await;
        let missing = acked.iter().filter(|id| !created.contains_key(*id)).count();
        if missing == 0 {
            break created;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} acknowledged creates are not in the stream"
        );
        poll.tick().await;
    };
    let twice: Vec<_> = created.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "created more than once: {twice:?}");
    let js = async_nats::jetstream::new(client.clone());
    let verified = JetStreamLog::verify(
        &js,
        &JetStreamConfig::new("SB_LOG_SWITCHBOARD", "switchboard.log"),
    )
    .await
    .expect("the chain verifies");
    verified.records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_from_a_killed_leader_and_a_zombie_is_fenced() {
    let _alone = ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut cluster = NatsCluster::start().expect("a three-node cluster");
    let urls = cluster.client_urls();
    let root = tempfile::tempdir().expect("temp dir");
    eprintln!("nodes in {}", root.path().display());
    let root = root.path();
    let client = connect(&urls).await;
    let js = async_nats::jetstream::new(client.clone());
    // Each engine on a server of its own, so that a zombie round can cut one off.
    let mut nodes = [
        Node::start_on("a", &cluster, root, 0),
        Node::start_on("b", &cluster, root, 1),
    ];
    wait_until_serving(&client).await;
    let (load, mut progress) = Load::start(&client);
    acknowledged_more(&mut progress, 60).await;

    // The leader dies: the standby serves.
    let first = holder(&js, |h| !h.is_empty()).await;
    let (leader, standby) = if first == "a" { (0, 1) } else { (1, 0) };
    standing_by(&nodes[standby], &mut progress).await;
    let killed = Instant::now();
    let killed_at = ms_of_day(std::time::SystemTime::now());
    nodes[leader].child.kill().expect("SIGKILL the leader");
    let _ = nodes[leader].child.wait();
    holder(&js, |h| h == nodes[standby].id).await;
    if !serving_within(&client, Duration::from_secs(30)).await {
        panic!(
            "the new leader holds the lease but answers no query within 30 s; its log:\n{}",
            nodes[standby].logged_and_metrics().await
        );
    }
    eprintln!(
        "{}",
        takeover_report(&nodes[standby], killed_at, killed.elapsed())
    );
    acknowledged_more(&mut progress, 60).await;

    // The killed one comes back as a standby; then each engine in turn is made a zombie: paused
    // with a turn decided and not yet appended until the other holds the lease and has
    // appended, then resumed (see `zombie_round`). Each time, the zombie's append is fenced.
    nodes[leader].restart();
    let mut zombie = standby;
    for round in 1..=ZOMBIE_ROUNDS {
        let (reason, took) =
            zombie_round(&js, &mut cluster, &mut nodes, zombie, &mut progress).await;
        eprintln!(
            "zombie round {round}: {} ms from the pause to 40 more acknowledged creates; {} \
             stopped serving: {reason}",
            took.as_millis(),
            nodes[zombie].id
        );
        assert!(
            reason.contains("reason=\"fenced\""),
            "zombie round {round}: {} was not fenced: {reason}\n{}",
            nodes[zombie].id,
            nodes[zombie].logged()
        );
        zombie = 1 - zombie;
    }
    acknowledged_more(&mut progress, 20).await;
    let acked = load.finish().await;

    let records = every_acknowledged_create_once(&client, &acked).await;
    eprintln!(
        "{} acknowledged creates, {records} records in the stream",
        acked.len()
    );
    for node in &mut nodes {
        node.signal("-TERM");
        let status = node.child.wait().expect("exits");
        assert!(
            status.success(),
            "{} stops cleanly: {}",
            node.id,
            node.logged()
        );
    }
}

/// Waits (at most 30 s, the load going on) until the standby `node` has started and looked at
/// the lease (start-up is not takeover).
async fn standing_by(node: &Node, progress: &mut tokio::sync::watch::Receiver<usize>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !node.logged().contains("the domain's lease is held") {
        assert!(
            Instant::now() < deadline,
            "the standby never stood by; its log:\n{}",
            node.logged()
        );
        acknowledged_more(progress, 1).await;
    }
}

/// A nats-server killed and restarted takes with it the leadership of the groups it led, and a
/// group answers nothing until its servers have elected another leader, seconds later (4-5 s
/// for the intake consumer here). With the leader engine killed and the intake consumer's
/// leader restarted right after, the standby takes the lease while the consumer has no leader: it
/// keeps the lease and tries the consumer again until it is answered
/// (`Leadership::setup_retry`; the intake behind the loop, commands and queries served
/// meanwhile), rather than stopping ("nats failed") and releasing the lease after the first
/// unanswered request, as it did before (BENCHMARKS.md, "Failover under the Jepsen-style
/// test"). Every acknowledged create, the intake's included, is then in the log once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_right_after_a_nats_restart_keeps_its_lease_while_the_consumer_elects() {
    let _alone = ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut cluster = NatsCluster::start().expect("a three-node cluster");
    let root = tempfile::tempdir().expect("temp dir");
    let client = connect(&cluster.client_urls()).await;
    let js = async_nats::jetstream::new(client.clone());
    let mut nodes = [
        Node::start("a", &cluster, root.path()),
        Node::start("b", &cluster, root.path()),
    ];
    wait_until_serving(&client).await;
    let (load, mut progress) = Load::start(&client);
    acknowledged_more(&mut progress, 40).await;
    let first = holder(&js, |h| !h.is_empty()).await;
    let (leader, standby) = if first == "a" { (0, 1) } else { (1, 0) };
    standing_by(&nodes[standby], &mut progress).await;

    let mut consumer = js
        .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
            "switchboard-engine",
            "SWITCHBOARD_INBOX",
        )
        .await
        .expect("the intake consumer");
    let info = consumer.info().await.expect("the intake consumer's info");
    let consumer_leader = info
        .cluster
        .as_ref()
        .and_then(|cluster| cluster.leader.clone())
        .expect("the intake consumer has a leader");
    let index = cluster
        .index_of(&consumer_leader)
        .expect("the consumer's leader is one of the servers");
    eprintln!(
        "killing the leader engine and restarting {consumer_leader}, the intake consumer's leader"
    );
    nodes[leader].child.kill().expect("SIGKILL the leader");
    let _ = nodes[leader].child.wait();
    cluster
        .server_mut(index)
        .restart()
        .expect("a server restarts");
    holder(&js, |h| h == nodes[standby].id).await;
    until_logged(
        &mut nodes[standby],
        "serving as leader",
        Duration::from_secs(60),
    )
    .await;
    assert!(
        serving_within(&client, Duration::from_secs(30)).await,
        "the new leader answers no query within 30 s:\n{}",
        nodes[standby].logged_and_metrics().await
    );
    acknowledged_more(&mut progress, 20).await;
    let acked = load.finish().await;
    every_acknowledged_create_once(&client, &acked).await;
    // The intake (set up behind the loop) delivered every acknowledged create too.
    let logged = nodes[standby].logged();
    let later_tries: Vec<&str> = logged
        .lines()
        .filter(|line| line.contains("on a later try"))
        .collect();
    eprintln!("the new leader's set-up tried again: {later_tries:?}");
    assert!(
        !logged.contains("stopped serving"),
        "the new leader stopped serving during its takeover:\n{logged}"
    );
}

/// The value of `name=` in a log line (up to the next space).
fn logged_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {name}="))? + name.len() + 2;
    line[at..].split(' ').next()
}

/// Waits (at most `bound`) until `node`'s log holds `line`, failing if the process exits first.
async fn until_logged(node: &mut Node, line: &str, bound: Duration) {
    let deadline = Instant::now() + bound;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    while !node.logged().contains(line) {
        poll.tick().await;
        let exited = node.child.try_wait().expect("the engine's status");
        assert!(
            exited.is_none(),
            "engine {} exited ({exited:?}) before logging {line:?}:\n{}",
            node.id,
            node.logged()
        );
        assert!(
            Instant::now() < deadline,
            "engine {} did not log {line:?} within {bound:?}:\n{}",
            node.id,
            node.logged()
        );
    }
}

/// The snapshots the domain's bucket holds, waiting (at most 60 s) for at least one.
async fn snapshots_in_bucket(js: &async_nats::jetstream::Context) -> Vec<u64> {
    let config = SnapshotStoreConfig {
        bucket: "SB_SNAP_SWITCHBOARD".to_owned(),
        replicas: 3,
        keep_count: 2,
    };
    let store = SnapshotStore::open(js, config).await.expect("the bucket");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    loop {
        poll.tick().await;
        let seqs = store.list().await.expect("list the bucket");
        if !seqs.is_empty() {
            return seqs;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot in the bucket in 60 s"
        );
    }
}

/// Waits (at most 30 s) until the leader has taken and acknowledged every intake message, so
/// that its state holds every create the load got acknowledged.
async fn intake_drained(js: &async_nats::jetstream::Context) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        poll.tick().await;
        if let Ok(mut consumer) = js
            .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
                "switchboard-engine",
                "SWITCHBOARD_INBOX",
            )
            .await
            && let Ok(info) = consumer.info().await
            && info.num_pending == 0
            && info.num_ack_pending == 0
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the intake was not drained in 30 s"
        );
    }
}

/// Drops what depends on when it is asked (`at`, `oldest_wait_ms`) from a query's answer.
fn timeless(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|key, _| key != "at" && !key.ends_with("_ms"));
            map.values_mut().for_each(timeless);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(timeless),
        _ => {}
    }
}

/// What `query.queues` answers, without what depends on when it is asked.
async fn queues(client: &async_nats::Client) -> serde_json::Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        client.request("switchboard.query.queues", "{}".into()),
    )
    .await
    .expect("query.queues answered in time")
    .expect("query.queues answered");
    let mut answer = serde_json::from_slice(&reply.payload).expect("queues JSON");
    timeless(&mut answer);
    answer
}

/// A leader snapshots into the bucket under load; an engine on an empty disk recovers from the
/// bucket's snapshot plus the stream's tail and, once the leader steps down, serves the same
/// queues; a planted snapshot of another history is skipped by the next empty engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_on_an_empty_disk_recovers_from_the_buckets_snapshot() {
    let _alone = ONE_CLUSTER_AT_A_TIME.lock().await;
    let cluster = NatsCluster::start().expect("a three-node cluster");
    let urls = cluster.client_urls();
    let root = tempfile::tempdir().expect("temp dir");
    let root = root.path();
    let client = connect(&urls).await;
    let js = async_nats::jetstream::new(client.clone());
    let snapshots = "snapshot_every_events = 40\n";
    let mut leader = Node::start_with("a", &cluster, root, snapshots);
    wait_until_serving(&client).await;
    let (load, mut progress) = Load::start(&client);
    acknowledged_more(&mut progress, 150).await;
    let in_bucket = snapshots_in_bucket(&js).await;
    acknowledged_more(&mut progress, 10).await;
    load.finish().await;
    intake_drained(&js).await;
    let before = queues(&client).await;

    // A new node on an empty disk: the bucket's snapshot, then the stream's tail.
    let mut newcomer = Node::start_with("b", &cluster, root, snapshots);
    let recovered = "recovered from the snapshot bucket's snapshot";
    until_logged(&mut newcomer, recovered, Duration::from_secs(60)).await;
    let logged = newcomer.logged();
    let line = logged
        .lines()
        .find(|line| line.contains(recovered))
        .expect("the line just seen");
    let number = |name| -> u64 {
        logged_field(line, name)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {line:?}"))
    };
    let (snapshot_seq, replayed, last_seq) = (
        number("snapshot_seq"),
        number("replayed"),
        number("last_seq"),
    );
    eprintln!(
        "bucket held {in_bucket:?}; the newcomer applied {replayed} of {last_seq} records after \
         the snapshot at {snapshot_seq}"
    );
    assert!(in_bucket.iter().all(|&seen| snapshot_seq >= seen), "{line}");
    assert_eq!(snapshot_seq + replayed, last_seq, "{line}");
    assert!(replayed < last_seq, "{line}");

    // The leader steps down; the newcomer serves the same state the leader built event by event.
    leader.signal("-TERM");
    assert!(leader.child.wait().expect("exits").success());
    holder(&js, |h| h == "b").await;
    wait_until_serving(&client).await;
    assert_eq!(queues(&client).await, before);
    assert!(!newcomer.logged().contains("snapshot not used"));

    subject_access_reads_the_jetstream_log_with_the_keystore_bucket(&js, &urls).await;
    a_snapshot_of_another_history_is_skipped(&js, &cluster, root, &mut leader).await;
}

/// `audit show --nats-url --customer` (a subject access request in cluster mode) finds the
/// customer's contacts in the domain's JetStream log and opens their sealed fields with the
/// domain's keystore bucket, which it only reads.
async fn subject_access_reads_the_jetstream_log_with_the_keystore_bucket(
    js: &async_nats::jetstream::Context,
    urls: &str,
) {
    let bucket = |js: async_nats::jetstream::Context| async move {
        let mut stream = js
            .get_stream("KV_SB_KEYS_SWITCHBOARD")
            .await
            .expect("the keystore");
        let state = stream.info().await.expect("its state").state.clone();
        (state.messages, state.last_sequence)
    };
    let before = bucket(js.clone()).await;
    let customer = format!("{CUSTOMER}3");
    let urls = urls.to_owned();
    let shown = tokio::task::spawn_blocking(move || {
        common::switchboard(&[
            "audit",
            "show",
            "--nats-url",
            &urls,
            "--customer",
            &customer,
            "--json",
        ])
    })
    .await
    .expect("audit show runs");
    assert!(shown.status.success(), "{}", common::text(&shown));
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        shown.contains(&format!("{CUSTOMER}3")),
        "the reference opened: {shown}"
    );
    assert!(
        shown.contains(CALLER),
        "the caller's number opened: {shown}"
    );
    assert!(
        !shown.contains(switchboard_privacy::TOKEN_PREFIX),
        "{shown}"
    );
    assert_eq!(
        bucket(js.clone()).await,
        before,
        "the keystore bucket was only read"
    );
}

/// A snapshot in the bucket that is not of this stream (its chain hash is not the stream's at
/// its seq), newer than the genuine ones, is passed over with its reason by an engine on an
/// empty disk, which recovers from the next older snapshot instead of applying the whole stream.
/// `spare` is a stopped node whose id is reused for it, on an empty directory.
async fn a_snapshot_of_another_history_is_skipped(
    js: &async_nats::jetstream::Context,
    cluster: &NatsCluster,
    root: &Path,
    spare: &mut Node,
) {
    let mut stream = js
        .get_stream("SB_LOG_SWITCHBOARD")
        .await
        .expect("the stream");
    let last = stream
        .info()
        .await
        .expect("stream info")
        .state
        .last_sequence;
    let config = SnapshotStoreConfig {
        bucket: "SB_SNAP_SWITCHBOARD".to_owned(),
        replicas: 3,
        keep_count: 2,
    };
    let store = SnapshotStore::open(js, config).await.expect("the bucket");
    // The stranger goes at the stream's end, in place of a genuine snapshot there if there is
    // one: the newest genuine one below it is what the engine should fall back to.
    let genuine = store
        .list()
        .await
        .expect("the bucket's snapshots")
        .into_iter()
        .filter(|&seq| seq < last)
        .max()
        .expect("the leader stored snapshots before the stream's end");
    let stranger = switchboard_log::ChainHash([7; 32]);
    store
        .put(last, stranger, b"another history")
        .await
        .expect("plant a snapshot");
    std::fs::remove_dir_all(root.join(spare.id)).expect("empty the spare's directory");
    let mut empty = Node::start_with(spare.id, cluster, root, "snapshot_every_events = 40\n");
    let recovered = "recovered from the snapshot bucket's snapshot";
    until_logged(&mut empty, recovered, Duration::from_secs(60)).await;
    let logged = empty.logged();
    assert!(logged.contains("snapshot not used"), "{logged}");
    assert!(logged.contains("belongs to another history"), "{logged}");
    let line = logged
        .lines()
        .find(|line| line.contains(recovered))
        .expect("the line just seen");
    assert_eq!(
        logged_field(line, "snapshot_seq"),
        Some(genuine.to_string().as_str()),
        "the next older snapshot is used: {line}"
    );
    assert_eq!(
        logged_field(line, "replayed"),
        Some((last - genuine).to_string().as_str()),
        "{line}"
    );
}

/// An engine started while the cluster has no quorum (two of three servers down) waits for
/// JetStream, saying so, instead of exiting; when the servers come back it takes the lease and
/// serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_started_without_quorum_waits_and_then_serves() {
    let _alone = ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut cluster = NatsCluster::start().expect("a three-node cluster");
    let root = tempfile::tempdir().expect("temp dir");
    for index in 1..3 {
        cluster.server_mut(index).stop().expect("a server stops");
    }
    let mut node = Node::start("a", &cluster, root.path());
    until_logged(
        &mut node,
        "JetStream not answering yet",
        Duration::from_secs(60),
    )
    .await;
    assert!(
        !node.logged().contains("serving as leader"),
        "served without a quorum:\n{}",
        node.logged()
    );
    for index in 1..3 {
        cluster
            .server_mut(index)
            .restart()
            .expect("a server restarts");
    }
    until_logged(&mut node, "serving as leader", Duration::from_secs(90)).await;
    let client = async_nats::connect(cluster.server(0).client_url())
        .await
        .expect("connect");
    wait_until_serving(&client).await;
    // At start-up the running server's fsync setting was read, the stopped ones' passed over.
    let logged = node.logged();
    assert_eq!(
        logged
            .matches("nats-server fsyncs every write (sync_interval: always)")
            .count(),
        1,
        "{logged}"
    );
    assert_eq!(
        logged
            .matches("could not read a nats-server's fsync setting")
            .count(),
        2,
        "{logged}"
    );
}

/// An engine in cluster mode refuses to start on a nats-server that does not fsync every write
/// (`sync_interval` left at its default), saying which server and what to set.
#[test]
fn an_engine_refuses_a_server_that_does_not_fsync_every_write() {
    let server = switchboard_natsd::NatsServer::builder()
        .monitoring(true)
        .start()
        .expect("a nats-server with its default fsync");
    let monitor = server.monitor_url().expect("monitoring is on");
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--nats-url", &server.client_url()])
        .args(["--log-backend", "jetstream", "--log-replicas", "1"])
        .args(["--node-id", "a", "--nats-monitor-url", &monitor])
        .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("the switchboard binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it started: {stderr}");
    assert!(
        stderr.contains(&format!("({monitor}) does not fsync every write"))
            && stderr.contains("sync_interval: always"),
        "{stderr}"
    );
    assert!(!stderr.contains("serving as leader"), "{stderr}");
}
