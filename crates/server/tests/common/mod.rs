//! Running the `switchboard` binary from the tests and reading what it printed.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the helpers"
)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Runs the binary with `args` and waits for it.
pub(crate) fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .expect("the switchboard binary runs")
}

/// The path of a shipped scenario file, `scenarios/<name>`.
pub(crate) fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

/// Everything it printed, stdout then stderr.
pub(crate) fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Its stdout as JSON (whatever its exit status).
pub(crate) fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(output)))
}

/// The ids of every contact the log records as created, read as it is now.
pub(crate) fn created_in_log(dir: &Path) -> std::collections::BTreeSet<String> {
    let mut created = std::collections::BTreeSet::new();
    let reader = switchboard_log::LogReader::open(dir).expect("reader");
    for record in reader.read_from(1).expect("records") {
        // The engine may be writing the tail: a partial last record ends this read.
        let Ok(record) = record else { break };
        let event = switchboard_wire::decode_event(&record.payload).expect("event");
        if let switchboard_core::EventKind::ContactCreated(c) = &event.kind {
            created.insert(c.details.id.to_string());
        }
    }
    created
}

/// A free loopback port (for a metrics address).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `switchboard serve` on NATS at `url` with its data in `dir` (WARN logs to stderr).
pub(crate) fn start_engine(url: &str, dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            "--nats-url",
            url,
            "--metrics-addr",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the switchboard binary starts")
}

/// Waits (at most 30 s) until the engine answers a query.
pub(crate) async fn wait_until_serving(client: &async_nats::Client) {
    assert!(
        serving_within(client, Duration::from_secs(30)).await,
        "the engine did not come up"
    );
}

/// How long one query of [`serving_within`] waits for its answer. A query's reply waits, like a
/// command's, for its turn to be durable: behind a backlog (a new leader's, after a failover) on
/// a loaded machine that is more than a few hundred milliseconds (docs/cluster.md).
const QUERY_WAIT: Duration = Duration::from_secs(2);

/// Whether some engine answers a query within `bound` (asked every 50 ms, each query waiting at
/// most [`QUERY_WAIT`]).
pub(crate) async fn serving_within(client: &async_nats::Client, bound: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        poll.tick().await;
        let answer = tokio::time::timeout(
            QUERY_WAIT,
            client.request("switchboard.query.queues", "{}".into()),
        )
        .await;
        if matches!(answer, Ok(Ok(_))) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
    }
}

/// How long [`http_get`] waits for a whole response.
const HTTP_WAIT: Duration = Duration::from_secs(30);

/// A GET over a fresh connection: (status code, body).
pub(crate) async fn http_get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else {
        // The engine is not listening (yet, or any more).
        return (0, String::new());
    };
    tokio::io::AsyncWriteExt::write_all(
        &mut stream,
        format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
    )
    .await
    .expect("send");
    let mut response = String::new();
    tokio::time::timeout(
        HTTP_WAIT,
        tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut response),
    )
    .await
    .expect("a response in time")
    .expect("read");
    let status = response
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Sends a JSON request and returns its reply, which must be `ok` (10 s at most).
pub(crate) async fn send_ok(
    client: &async_nats::Client,
    subject: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(subject.to_owned(), body.to_string().into()),
    )
    .await
    .unwrap_or_else(|_| panic!("{subject}: no reply in time"))
    .unwrap_or_else(|e| panic!("{subject}: {e}"));
    let value: serde_json::Value = serde_json::from_slice(&reply.payload).expect("a JSON reply");
    assert_eq!(value["ok"], true, "{subject}: {value}");
    value
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Stops an engine with SIGTERM; it must stop cleanly.
pub(crate) fn stop_cleanly(engine: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &engine.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let stopped = engine.wait().expect("the engine stops");
    assert!(stopped.success(), "a clean stop: {stopped}");
}
