//! What the load runs against: the NATS (given, a local nats-server started here, or with
//! `--cluster` a local three-node JetStream cluster started here) and the engine (already
//! running, or `switchboard serve` started here from this very executable with its own data
//! directory and metrics port, in cluster mode on the cluster).

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::{Context, Result};
use switchboard_natsd::{NatsCluster, NatsServer};

/// An engine process started by the load generator, killed and reaped on drop.
#[derive(Debug)]
pub(super) struct SpawnedEngine {
    child: Child,
}

impl SpawnedEngine {
    /// Starts `switchboard serve` (this executable) on `url` with its log in `dir` and its
    /// metrics on a free local port. Its warnings go to this process's stderr.
    pub(super) fn start(url: &str, prefix: &str, dir: &Path) -> Result<Self> {
        let metrics = crate::demo::free_local_port()?;
        let mut serve = serve_command()?;
        serve
            .args(["--nats-url", url, "--subject-prefix", prefix])
            .arg("--data-dir")
            .arg(dir)
            .arg("--metrics-addr")
            .arg(metrics.to_string());
        Self::spawn(serve)
    }

    /// Starts `switchboard serve` in cluster mode on the cluster at `url`: the log in an R3
    /// stream, the intake and events streams R3, the lease in the cluster's bucket (the same
    /// configuration file `demo --cluster` writes, with the servers' monitoring endpoints
    /// `monitors` for its fsync check), its data directory and file in `dir`. Alone, it takes
    /// the lease and serves.
    pub(super) fn start_cluster(
        url: &str,
        monitors: &[String],
        prefix: &str,
        dir: &Path,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let config = dir.join("switchboard.toml");
        let text = crate::demo::cluster::engine_config(
            url,
            monitors,
            prefix,
            &dir.join("data"),
            "loadgen-1",
        )?;
        std::fs::write(&config, text)
            .with_context(|| format!("could not write {}", config.display()))?;
        let mut serve = serve_command()?;
        serve.arg("--config").arg(&config);
        Self::spawn(serve)
    }

    fn spawn(mut serve: Command) -> Result<Self> {
        let child = serve
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("could not start this executable's serve")?;
        Ok(Self { child })
    }

    /// The engine's process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How it ended, if it has.
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

/// `switchboard serve`, from this very executable.
fn serve_command() -> Result<Command> {
    let executable = std::env::current_exe().context("cannot find this executable")?;
    let mut command = Command::new(executable);
    command.arg("serve");
    Ok(command)
}

impl Drop for SpawnedEngine {
    fn drop(&mut self) {
        // A scratch engine: its log is thrown away with its directory, so no clean stop is owed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a local nats-server (installed on first use) with JetStream in `store` and its
/// monitoring endpoint on a free port (for its message counts). Blocking.
pub(super) fn start_nats(store: &Path) -> Result<NatsServer> {
    NatsServer::builder()
        .store_dir(store)
        .monitoring(true)
        .start()
        .context("could not start a local nats-server")
}

/// The NATS started here: one server, or the three of a cluster.
#[derive(Debug)]
pub(super) enum StartedNats {
    One(NatsServer),
    Cluster(NatsCluster),
}

impl StartedNats {
    /// Every server (for their CPU time and message counts).
    pub(super) fn servers(&self) -> Vec<&NatsServer> {
        match self {
            Self::One(server) => vec![server],
            Self::Cluster(cluster) => (0..cluster.len()).map(|i| cluster.server(i)).collect(),
        }
    }

    /// The URL every client of the run connects to: the one server, or the cluster's first
    /// (the engine, the relays and the load generator on the same server, so that a message
    /// takes the same routes whoever answers it; the engine's streams lead wherever JetStream
    /// put them, and the protocol relay's are moved to the same servers).
    pub(super) fn client_url(&self) -> String {
        match self {
            Self::One(server) => server.client_url(),
            Self::Cluster(cluster) => cluster.server(0).client_url(),
        }
    }
}

/// Starts the three-node loopback cluster of the test harness (`sync_interval: always`, each
/// server's JetStream store in a temporary directory of its own, monitoring on). Blocking.
pub(super) fn start_cluster() -> Result<NatsCluster> {
    NatsCluster::start().context("could not start a local three-node nats-server cluster")
}

/// Bound on a stream's leader moving to the server asked.
const LEADER_MOVE_BOUND: std::time::Duration = std::time::Duration::from_secs(20);

/// The engine's streams on a cluster whose leaders the protocol relay's follow: its log stream
/// and its events stream, for the engine's `prefix`.
pub(super) fn engine_streams(prefix: &str) -> Result<(String, String)> {
    let subjects = switchboard_wire::Subjects::new(prefix).context("the subject prefix")?;
    let events = switchboard_nats::DriverSettings::new(subjects).events_stream;
    let log = switchboard_nats::cluster::Domain::new(prefix).log_stream();
    Ok((log, events))
}

/// The server leading `stream`, if the stream is replicated and has a leader.
pub(super) async fn leader_of(client: &async_nats::Client, stream: &str) -> Option<String> {
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js.get_stream(stream).await.ok()?;
    let info = stream.info().await.ok()?;
    info.cluster.as_ref().and_then(|c| c.leader.clone())
}

/// Moves the leader of `stream` to `server` (a leader step-down with `server` preferred,
/// nats-server 2.11 or later), then polls the stream's info until it names `server`, within a
/// bound. Nothing is done when it leads there already. Only for a stream nothing is writing to:
/// a request in flight during the election may go unanswered.
pub(super) async fn move_leader(
    client: &async_nats::Client,
    stream: &str,
    server: &str,
) -> Result<()> {
    if leader_of(client, stream).await.as_deref() == Some(server) {
        return Ok(());
    }
    let body = serde_json::json!({"placement": {"preferred": server}}).to_string();
    client
        .request(
            format!("$JS.API.STREAM.LEADER.STEPDOWN.{stream}"),
            body.into(),
        )
        .await
        .with_context(|| format!("could not ask stream {stream}'s leader to step down"))?;
    let arrived = tokio::time::timeout(LEADER_MOVE_BOUND, async {
        let mut poll = tokio::time::interval(std::time::Duration::from_millis(100));
        loop {
            poll.tick().await;
            if leader_of(client, stream).await.as_deref() == Some(server) {
                return;
            }
        }
    })
    .await;
    anyhow::ensure!(
        arrived.is_ok(),
        "stream {stream}'s leader did not move to {server} within {} s",
        LEADER_MOVE_BOUND.as_secs()
    );
    Ok(())
}
