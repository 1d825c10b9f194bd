//! `switchboard serve` on a data directory whose file system fills up (issue 21), for real: a
//! 3 MiB tmpfs mounted by the test (CI runs as root), a real nats-server, and contacts sent
//! until the disk is full. The engine turns not-ready below `min_free_bytes`, then stops with
//! exit status 75 and one error line naming the cause and the directory; requests waiting for
//! the failed write get `unavailable`; its log on a pipe has no colour codes; snapshots that
//! cannot be written leave nothing behind. After space is freed it starts again, every
//! acknowledged contact is there and the hash chain verifies.
//!
//! Where mounting is not permitted the full-disk test says why and stops; the log's own tests
//! then cover a full disk with an injected `ENOSPC` (crates/log/tests/log/disk_full.rs). The
//! readiness floor and plain logs are checked on any file system.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::json;
use switchboard_log::small_fs::SmallFs;
use switchboard_natsd::NatsServer;

/// Bound of every wait on the engine.
const WAIT: Duration = Duration::from_secs(60);

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// An engine started from a configuration file, its stderr going to a file (not a terminal).
struct Engine {
    child: Child,
    metrics: SocketAddr,
    stderr: PathBuf,
}

fn start_engine(config: &Path, metrics: SocketAddr, stderr: PathBuf) -> Engine {
    let log = std::fs::File::create(&stderr).expect("a stderr file");
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        // Colour must be left out because stderr is a file, not because of NO_COLOR.
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the switchboard binary starts");
    Engine {
        child,
        metrics,
        stderr,
    }
}

fn write_config(path: &Path, url: &str, data_dir: &Path, metrics: SocketAddr, min_free: u64) {
    let text = format!(
        "[nats]\nurl = \"{url}\"\n\n[engine]\ndata_dir = \"{}\"\nsnapshot_every_events = 1000\nmin_free_bytes = {min_free}\n\n[metrics]\naddress = \"{metrics}\"\n",
        data_dir.display()
    );
    std::fs::write(path, text).expect("write the configuration");
}

/// Polls `/readyz` every 50 ms (the bound is [`WAIT`]) until it answers `status` with a body
/// that `matches`.
async fn wait_readyz(engine: &Engine, status: u16, matches: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        poll.tick().await;
        let (got, body) = common::http_get(engine.metrics, "/readyz").await;
        if got == status && matches(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz did not answer {status} as expected in time: {got} {body}\n{}",
            std::fs::read_to_string(&engine.stderr).unwrap_or_default()
        );
    }
}

/// Polls the process every 50 ms (the bound is [`WAIT`]) until it exits.
async fn wait_exit(engine: &mut Engine) -> ExitStatus {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        poll.tick().await;
        if let Some(status) = engine.child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the engine did not exit in time"
        );
    }
}

fn stop(engine: &mut Engine) -> ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &engine.child.id().to_string()])
        .status();
    engine.child.wait().expect("the engine exits")
}

/// `switchboard_data_dir_free_bytes` in a scrape now, as written (`None` if the engine does
/// not answer).
async fn free_bytes(metrics: SocketAddr) -> Option<String> {
    let (_, scrape) = common::http_get(metrics, "/metrics").await;
    scrape
        .lines()
        .find_map(|line| line.strip_prefix("switchboard_data_dir_free_bytes "))
        .map(|value| value.trim().to_owned())
}

/// Polls `/metrics` every 50 ms (the bound is [`WAIT`]) until the free bytes differ from
/// `before` (or the engine stopped answering).
async fn wait_free_bytes_changed(metrics: SocketAddr, before: Option<String>) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        poll.tick().await;
        let now = free_bytes(metrics).await;
        if now != before || now.is_none() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the free space was not read again"
        );
    }
}

/// What a create request came back with.
enum Answer {
    Ok,
    Unavailable,
    /// No reply in time, or no engine to reply.
    Nothing,
}

async fn create(client: &async_nats::Client, id: &str) -> Answer {
    let body = json!({"contact_id": id, "channel": "email", "service": "council_tax"}).to_string();
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request("switchboard.cmd.contact.create", body.into()),
    )
    .await;
    let Ok(Ok(reply)) = reply else {
        return Answer::Nothing;
    };
    let value: serde_json::Value = serde_json::from_slice(&reply.payload).expect("a JSON reply");
    if value["ok"] == true {
        return Answer::Ok;
    }
    assert_eq!(
        value["error"]["code"], "unavailable",
        "{id}: the only refusal expected is unavailable: {value}"
    );
    Answer::Unavailable
}

/// Sends `count` creates, 32 at a time; returns the ids acknowledged and how many got
/// `unavailable`.
async fn send(client: &async_nats::Client, first: u64, count: u64) -> (Vec<String>, u64) {
    let mut acked = Vec::new();
    let mut unavailable = 0;
    let ids: Vec<String> = (first..first + count)
        .map(|n| format!("full-{n}"))
        .collect();
    for chunk in ids.chunks(32) {
        let answers = futures::future::join_all(chunk.iter().map(|id| create(client, id))).await;
        for (id, answer) in chunk.iter().zip(answers) {
            match answer {
                Answer::Ok => acked.push(id.clone()),
                Answer::Unavailable => unavailable += 1,
                Answer::Nothing => {}
            }
        }
    }
    (acked, unavailable)
}

fn no_colour(log: &str) {
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log written to a file:\n{log}"
    );
}

/// The contacts sent so far: those acknowledged, how many were answered `unavailable`, and the
/// number of the next.
struct Traffic {
    acked: Vec<String>,
    unavailable: u64,
    next: u64,
}

impl Traffic {
    /// Nothing sent yet; the first contact is `full-1`.
    const fn new() -> Self {
        Self {
            acked: Vec::new(),
            unavailable: 0,
            next: 1,
        }
    }

    /// Sends `count` more contacts, and waits for their answers.
    async fn send(&mut self, client: &async_nats::Client, count: u64) {
        let (ok, refused) = send(client, self.next, count).await;
        self.next += count;
        self.acked.extend(ok);
        self.unavailable += refused;
    }
}

/// Seen coming: contacts go in batches until readiness turns 503 naming the disk while the
/// engine still serves.
async fn fill_until_not_ready(
    client: &async_nats::Client,
    metrics: SocketAddr,
    engine: &mut Engine,
    traffic: &mut Traffic,
) {
    loop {
        // A batch, then a wait for the engine to read the free space again (every 5 s): the
        // disk fills in about a second at full speed, faster than that.
        let free = free_bytes(metrics).await;
        traffic.send(client, 1000).await;
        wait_free_bytes_changed(metrics, free).await;
        let (status, body) = common::http_get(metrics, "/readyz").await;
        if status == 503 {
            assert!(
                body.contains("less free space than engine.min_free_bytes"),
                "{body}"
            );
            return;
        }
        assert!(
            traffic.next < 100_000 && engine.child.try_wait().expect("wait").is_none(),
            "readiness never saw the disk fill; {} acknowledged of {}:\n{}",
            traffic.acked.len(),
            traffic.next,
            std::fs::read_to_string(&engine.stderr).unwrap_or_default()
        );
    }
}

/// Full: contacts go on until the engine stops.
async fn fill_until_it_stops(
    client: &async_nats::Client,
    engine: &mut Engine,
    traffic: &mut Traffic,
) {
    while engine.child.try_wait().expect("wait").is_none() {
        traffic.send(client, 200).await;
        assert!(traffic.next < 100_000, "the disk never filled");
    }
}

/// The stopped engine's log: every request it had taken and not answered was answered
/// `unavailable`, one error line names the full disk and the data directory, a snapshot met
/// the full disk first and left no half-written file, and no colour.
fn the_log_tells_of_the_full_disk(engine: &Engine, data_dir: &Path, unavailable: u64) {
    let log = std::fs::read_to_string(&engine.stderr).expect("the log");
    let answered_unavailable: u64 = log
        .lines()
        .find(|line| line.contains("requests waiting for the failed log were answered unavailable"))
        .and_then(|line| line.split("replies=").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("the engine says what it answered unavailable:\n{log}"));
    assert_eq!(unavailable, answered_unavailable, "{log}");
    no_colour(&log);
    let stopped: Vec<&str> = log.lines().filter(|line| line.contains("ERROR")).collect();
    assert_eq!(stopped.len(), 1, "one error line:\n{log}");
    let line = stopped[0];
    assert!(
        line.contains("the file system of the data directory is full"),
        "{line}"
    );
    assert!(line.contains(&data_dir.display().to_string()), "{line}");
    assert!(line.contains("No space left on device"), "{line}");
    assert!(
        log.lines()
            .any(|line| line.contains("could not write a snapshot")
                && line.contains("No space left on device")),
        "a snapshot met the full disk before the log did:\n{log}"
    );
    let leftovers: Vec<String> = std::fs::read_dir(data_dir)
        .expect("the data directory")
        .filter_map(|e| e.expect("entry").file_name().into_string().ok())
        .filter(|name| name.ends_with(".snap.tmp"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new(), "half-written snapshots");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_seen_coming_stops_the_engine_cleanly_and_loses_nothing_acknowledged() {
    let fs = match SmallFs::mount("3m") {
        Ok(fs) => fs,
        Err(reason) => {
            eprintln!(
                "skipping the full-disk run: no small file system ({reason}); a full disk is \
                 covered with an injected ENOSPC by the log's tests"
            );
            return;
        }
    };
    let server = NatsServer::start().expect("nats-server starts");
    let url = server.client_url();
    let client = async_nats::connect(url.as_str()).await.expect("connect");
    let outside = tempfile::tempdir().expect("temp dir");
    let data_dir = fs.path().join("data");
    let config = outside.path().join("switchboard.toml");
    let metrics = free_address();
    // Not ready once less than 2 MiB of the 3 are left: well before the disk is full.
    write_config(&config, &url, &data_dir, metrics, 2 << 20);
    let mut engine = start_engine(&config, metrics, outside.path().join("stderr-1.log"));
    wait_readyz(&engine, 200, |_| true).await;

    // Seen coming: the gauge is there, and readiness turns 503 naming the disk while the
    // engine still serves.
    let (_, scrape) = common::http_get(metrics, "/metrics").await;
    assert!(
        scrape.contains("switchboard_data_dir_free_bytes "),
        "{scrape}"
    );
    assert!(
        scrape.contains("switchboard_data_dir_free_inodes "),
        "{scrape}"
    );
    let mut traffic = Traffic::new();
    fill_until_not_ready(&client, metrics, &mut engine, &mut traffic).await;
    assert_eq!(traffic.unavailable, 0, "the disk is not full yet");
    let before_full = traffic.acked.len();

    // Full: the engine stops with status 75, having answered what waited `unavailable`.
    fill_until_it_stops(&client, &mut engine, &mut traffic).await;
    let Traffic {
        acked,
        unavailable,
        next,
    } = traffic;
    let status = wait_exit(&mut engine).await;
    assert_eq!(status.code(), Some(75), "exit status of a full disk");
    the_log_tells_of_the_full_disk(&engine, &data_dir, unavailable);
    eprintln!(
        "{} contacts acknowledged ({before_full} before readiness failed), {unavailable} answered unavailable, {} sent",
        acked.len(),
        next - 1
    );

    // Space freed: it starts, is ready, and every acknowledged contact is there.
    fs.grow("16m").expect("the tmpfs grows");
    let mut engine = start_engine(&config, metrics, outside.path().join("stderr-2.log"));
    wait_readyz(&engine, 200, |_| true).await;
    let (ok, refused) = send(&client, next, 10).await;
    assert_eq!((ok.len(), refused), (10, 0), "it takes contacts again");
    assert_eq!(stop(&mut engine).code(), Some(0), "a clean stop");
    no_colour(&std::fs::read_to_string(&engine.stderr).expect("the log"));
    let created = common::created_in_log(&data_dir);
    for id in acked.iter().chain(&ok) {
        assert!(created.contains(id), "acknowledged contact {id} is missing");
    }
    let (state, _) = switchboard_engine::replay(&data_dir, &mut |_, _| {}).expect("replay");
    assert_eq!(state.check_invariants(), Ok(()));
    for id in &acked {
        assert!(
            state.contact(id).is_some(),
            "{id} not waiting after the restart"
        );
    }
    let verified = common::switchboard(&[
        "audit",
        "verify",
        "--data-dir",
        &data_dir.display().to_string(),
    ]);
    assert!(verified.status.success(), "{}", common::text(&verified));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_the_free_space_floor_the_engine_is_not_ready_and_its_log_has_no_colour() {
    let server = NatsServer::start().expect("nats-server starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("switchboard.toml");
    let metrics = free_address();
    // More than any disk has free.
    write_config(
        &config,
        &server.client_url(),
        &dir.path().join("data"),
        metrics,
        1 << 62,
    );
    let mut engine = start_engine(&config, metrics, dir.path().join("stderr.log"));
    // Only the disk fails once the loop runs and has read the free space.
    wait_readyz(&engine, 503, |body| {
        body == "not ready\nthe data directory's file system has less free space than engine.min_free_bytes\n"
    })
    .await;

    assert_eq!(
        common::http_get(metrics, "/healthz").await.0,
        200,
        "alive all the same"
    );
    let (_, scrape) = common::http_get(metrics, "/metrics").await;
    assert!(scrape.contains("switchboard_ready 0"), "{scrape}");
    assert_eq!(stop(&mut engine).code(), Some(0));
    let log = std::fs::read_to_string(&engine.stderr).expect("the log");
    assert!(log.contains("engine stopped cleanly"), "{log}");
    no_colour(&log);
}
