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

/// Looks at a condition until `probe` answers `Some`, and returns the answer; fails naming
/// `what` if it has not within [`SETTLE_MAX`]. The one wait on the cluster's state in these
/// tests: JetStream gives no notification for a stream leader or a lease read back from a
/// replica, so the condition is polled every [`POLL`].
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + SETTLE_MAX;
    loop {
        if let Some(answer) = probe().await {
            return answer;
        }
        assert!(Instant::now() < deadline, "{what} within {SETTLE_MAX:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Waits (bounded) until the stream has a leader and returns its server name.
pub async fn stream_leader(context: &jetstream::Context, name: &str) -> String {
    eventually(&format!("stream {name} has a leader"), || async {
        let mut stream = context.get_stream(name).await.ok()?;
        let info = stream.info().await.ok()?;
        info.cluster.as_ref().and_then(|c| c.leader.clone())
    })
    .await
}
