//! What the JetStream log and lease tests share: a runtime, a client on the three-node cluster,
//! and waits on the cluster's state with a bound.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use async_nats::jetstream;
use switchboard_natsd::NatsCluster;
use tokio::runtime::Runtime;

/// Bound on every wait for the cluster to settle (a stream leader, a lease to lapse).
pub const SETTLE_MAX: Duration = Duration::from_secs(15);

/// How often a condition is looked at while waiting for it.
pub const POLL: Duration = Duration::from_millis(25);

/// A multi-thread runtime (the JetStream log's blocking calls need one driving its I/O).
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A client connected to any server of the cluster, reconnecting to the others.
pub async fn connect(cluster: &NatsCluster) -> async_nats::Client {
    let urls: Vec<async_nats::ServerAddr> = cluster
        .client_urls()
        .split(',')
        .map(|url| url.parse().expect("a server URL"))
        .collect();
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(urls)
        .await
        .expect("connect to the cluster")
}

/// A JetStream context on `client` (made on the runtime: it starts a timer).
pub fn context(rt: &Runtime, client: &async_nats::Client) -> jetstream::Context {
    rt.block_on(async { jetstream::new(client.clone()) })
}

/// Waits (bounded) until the stream has a leader and returns its server name.
pub async fn stream_leader(context: &jetstream::Context, name: &str) -> String {
    let deadline = Instant::now() + SETTLE_MAX;
    loop {
        if let Ok(mut stream) = context.get_stream(name).await
            && let Ok(info) = stream.info().await
            && let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone())
        {
            return leader;
        }
        assert!(Instant::now() < deadline, "stream {name} has no leader");
        tokio::time::sleep(POLL).await;
    }
}
