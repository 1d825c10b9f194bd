//! A local JetStream cluster: several nats-servers on random loopback ports (client, cluster and
//! monitoring), routed to each other, each with its own temporary store and `sync_interval:
//! always`, for the cluster-mode tests (the replicated log, the lease).

use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use crate::NatsdError;
use crate::server::{NatsServer, NatsServerBuilder, poll_until};

/// The name every test cluster carries (`cluster { name }`).
const CLUSTER_NAME: &str = "switchboard";

/// Default bound on waiting for the cluster to elect a JetStream meta leader.
const LEADER_TIMEOUT_DEFAULT: Duration = Duration::from_secs(20);

/// How often the servers' `/jsz` is read while waiting for a leader.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// How many times a start is tried with fresh cluster ports: a port reserved and released by
/// this process can, rarely, be taken by another before the server binds it.
const START_ATTEMPTS_MAX: u32 = 3;

/// Options for starting a [`NatsCluster`]; see [`NatsCluster::builder`].
#[derive(Debug, Clone)]
pub struct NatsClusterBuilder {
    /// How many servers (at least 1; 3 for a JetStream quorum that survives one loss).
    size: usize,
    /// Bound on waiting for each server's readiness and for the meta leader.
    ready_timeout: Duration,
    /// Whether each server gets a process group of its own (see
    /// [`NatsServerBuilder::own_process_group`]).
    own_process_group: bool,
}

impl Default for NatsClusterBuilder {
    fn default() -> Self {
        Self {
            size: 3,
            ready_timeout: LEADER_TIMEOUT_DEFAULT,
            own_process_group: false,
        }
    }
}

impl NatsClusterBuilder {
    /// The number of servers (default 3).
    #[must_use]
    pub fn size(mut self, size: usize) -> Self {
        self.size = size.max(1);
        self
    }

    /// Bounds the wait for readiness and for a meta leader (default 20 s).
    #[must_use]
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Gives each server a process group of its own, so that a terminal's Ctrl-C reaches only
    /// the caller, which then stops the servers itself, last (default off: a test's servers
    /// die with it). See [`NatsServerBuilder::own_process_group`].
    #[must_use]
    pub fn own_process_group(mut self, enabled: bool) -> Self {
        self.own_process_group = enabled;
        self
    }

    /// Starts every server, then waits until each accepts clients and all agree on a JetStream
    /// meta leader.
    ///
    /// # Errors
    /// A server could not be started or was not ready in time, or no meta leader was elected
    /// within the bound (the error carries the servers' logs).
    pub fn start(self) -> Result<NatsCluster, NatsdError> {
        let mut attempt = 1;
        loop {
            match self.try_start() {
                Ok(cluster) => return Ok(cluster),
                Err(NatsdError::ExitedEarly { .. }) if attempt < START_ATTEMPTS_MAX => {
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// One attempt of [`NatsClusterBuilder::start`].
    fn try_start(&self) -> Result<NatsCluster, NatsdError> {
        let cluster_ports = reserve_ports(self.size)?;
        let routes: Vec<String> = cluster_ports
            .iter()
            .map(|port| format!("\"nats-route://127.0.0.1:{port}\""))
            .collect();
        let routes = routes.join(", ");
        // A name of its own, so that a route dialled to another test's cluster is refused.
        let cluster_name = format!("{CLUSTER_NAME}-{}", cluster_ports[0]);
        let mut servers = Vec::with_capacity(self.size);
        for (index, cluster_port) in cluster_ports.iter().enumerate() {
            let name = node_name(index);
            let config = format!(
                "server_name: \"{name}\"\n\
                 jetstream {{ sync_interval: always }}\n\
                 cluster {{\n  name: \"{cluster_name}\"\n  listen: \"127.0.0.1:{cluster_port}\"\n  \
                 routes: [{routes}]\n}}\n"
            );
            let server = NatsServerBuilder::default()
                .config_text(config)
                .monitoring(true)
                .ready_timeout(self.ready_timeout)
                .own_process_group(self.own_process_group)
                .spawn()?;
            servers.push(server);
        }
        wait_all_bound(&mut servers, self.ready_timeout)?;
        for server in &mut servers {
            server.wait_launched()?;
        }
        let mut cluster = NatsCluster {
            servers,
            leader_timeout: self.ready_timeout,
        };
        cluster.wait_for_meta_leader()?;
        Ok(cluster)
    }
}

/// A cluster of nats-servers with JetStream on loopback, each killed when the cluster is
/// dropped. Server `i` is named `n<i+1>`.
#[derive(Debug)]
pub struct NatsCluster {
    /// The servers, in the order of their names.
    servers: Vec<NatsServer>,
    /// Bound on waiting for a meta leader.
    leader_timeout: Duration,
}

impl NatsCluster {
    /// Options for starting a cluster.
    pub fn builder() -> NatsClusterBuilder {
        NatsClusterBuilder::default()
    }

    /// Starts three servers and waits for a meta leader.
    ///
    /// # Errors
    /// As [`NatsClusterBuilder::start`].
    pub fn start() -> Result<Self, NatsdError> {
        Self::builder().start()
    }

    /// The number of servers.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether the cluster has no server (never, once started).
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Every server's client URL, comma-separated: what a client is given to connect to any of
    /// them and fail over between them.
    pub fn client_urls(&self) -> String {
        let urls: Vec<String> = self.servers.iter().map(NatsServer::client_url).collect();
        urls.join(",")
    }

    /// Every server's monitoring URL (`http://127.0.0.1:PORT`): what an engine in cluster mode
    /// is given to check that each fsyncs every write.
    pub fn monitor_urls(&self) -> Vec<String> {
        self.servers
            .iter()
            .filter_map(NatsServer::monitor_url)
            .collect()
    }

    /// Server `index` (its name is `n<index+1>`).
    ///
    /// # Panics
    /// `index` is not below [`NatsCluster::len`] (a bug in the test).
    pub fn server(&self, index: usize) -> &NatsServer {
        &self.servers[index]
    }

    /// Server `index`, to stop, restart, pause or resume it ([`NatsServer::stop`],
    /// [`NatsServer::restart`], [`NatsServer::pause`], [`NatsServer::resume`]). A restarted
    /// server keeps its ports and store, and rejoins the cluster.
    ///
    /// # Panics
    /// `index` is not below [`NatsCluster::len`] (a bug in the test).
    pub fn server_mut(&mut self, index: usize) -> &mut NatsServer {
        &mut self.servers[index]
    }

    /// Kills every server at once (SIGKILL: a power cut, no graceful flush), starts them all
    /// again on the same ports and stores, and waits until they agree on a meta leader.
    ///
    /// # Errors
    /// A server could not be restarted or was not ready in time, or no leader was elected.
    pub fn crash_and_restart_all(&mut self) -> Result<String, NatsdError> {
        for server in &mut self.servers {
            server.kill()?;
        }
        for server in &mut self.servers {
            server.respawn()?;
        }
        for server in &mut self.servers {
            server.wait_launched()?;
        }
        self.wait_for_meta_leader()
    }

    /// The index of the server named `name` (`n1`, `n2`, ...), if there is one.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        (0..self.servers.len()).find(|&index| node_name(index) == name)
    }

    /// Waits until every running, unpaused server reports the same JetStream meta leader (from
    /// its `/jsz`), one of the running servers, and returns the leader's name. Call it after a restart before relying on the
    /// cluster. A paused server must be resumed first: its monitoring port does not answer.
    ///
    /// # Errors
    /// No leader was agreed on within the cluster's bound ([`NatsdError::NoMetaLeader`]).
    pub fn wait_for_meta_leader(&mut self) -> Result<String, NatsdError> {
        let deadline = Instant::now() + self.leader_timeout;
        let mut last_seen = Vec::new();
        let mut running = Vec::new();
        loop {
            last_seen.clear();
            running.clear();
            for (index, server) in self.servers.iter_mut().enumerate() {
                if !server.is_running() {
                    continue;
                }
                running.push(node_name(index));
                let leader = server
                    .monitor_json("/jsz")
                    .ok()
                    .and_then(|jsz| jsz["meta_cluster"]["leader"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                last_seen.push(leader);
            }
            if let Some(first) = last_seen.first()
                && running.contains(first)
                && last_seen.iter().all(|leader| leader == first)
            {
                return Ok(first.clone());
            }
            if Instant::now() >= deadline {
                return Err(NatsdError::NoMetaLeader {
                    waited: self.leader_timeout,
                    seen: format!("{last_seen:?}"),
                    logs: self.logs(),
                });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Every server's log, each under its name, for a failing test to print.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for (index, server) in self.servers.iter().enumerate() {
            text.push_str(&format!("===== {} =====\n", node_name(index)));
            text.push_str(&server.logs());
        }
        text
    }
}

/// The name of server `index`: `n1`, `n2`, ...
fn node_name(index: usize) -> String {
    format!("n{}", index + 1)
}

/// Waits until every spawned server has bound its ports (or one has exited: its error is
/// returned, for the start to be tried again with other ports).
fn wait_all_bound(servers: &mut [NatsServer], timeout: Duration) -> Result<(), NatsdError> {
    // Past the bound, `wait_launched` reports what is wrong.
    poll_until(timeout, POLL_INTERVAL, || {
        let mut all = true;
        for server in servers.iter_mut() {
            all &= server.has_bound_ports()?;
        }
        Ok::<_, NatsdError>(all.then_some(()))
    })?;
    Ok(())
}

/// Picks `count` distinct loopback ports that are free now, below the kernel's ephemeral range
/// (where `bind(0)`, which every other server here uses, never lands), at random, so that two
/// clusters starting at once rarely pick the same; a port taken before its server binds it
/// makes that server exit, and the start is tried again.
fn reserve_ports(count: usize) -> Result<Vec<u16>, NatsdError> {
    let (low, high) = (PORTS_LOW, ephemeral_start().max(PORTS_LOW + 1_000));
    let mut state = std::hash::BuildHasher::hash_one(
        &std::collections::hash_map::RandomState::new(),
        (std::process::id(), Instant::now()),
    );
    let mut ports: Vec<u16> = Vec::with_capacity(count);
    let mut tries = 0u32;
    while ports.len() < count {
        tries += 1;
        if tries > 10_000 {
            return Err(NatsdError::io(
                "reserving cluster ports",
                std::io::Error::other(format!("no free port in {low}..{high}")),
            ));
        }
        // xorshift64: cheap, and enough to spread the choices.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let span = u64::from(high - low);
        let port = low + u16::try_from(state % span).unwrap_or(0);
        if ports.contains(&port) || TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            continue;
        }
        ports.push(port);
    }
    Ok(ports)
}

/// The lowest cluster port picked.
const PORTS_LOW: u16 = 20_000;

/// The start of the kernel's ephemeral port range (32768 if it cannot be read).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}
