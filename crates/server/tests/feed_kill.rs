//! The events feed survives the worst moment for it: while contacts flow, nats-server freezes
//! (SIGSTOP), so the engine's publishes to the events stream go unacknowledged; the engine is
//! SIGKILLed while it is frozen; nats-server resumes and the engine restarts. Then the events
//! stream holds exactly the log's events: the same count, `Switchboard-Seq` 1..=N in order with no
//! gap, and every contact the engine acknowledged is in it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use switchboard_natsd::NatsServer;

mod common;
use common::{start_engine, wait_until_serving};

/// Bound on every wait for a condition.
const WAIT: Duration = Duration::from_secs(60);

/// How long each contact request waits for its reply.
const REQUEST_WAIT: Duration = Duration::from_millis(500);

/// What the load generator saw.
#[derive(Default)]
struct Seen {
    /// Contacts the engine acknowledged (an ok reply).
    acknowledged: BTreeSet<String>,
    /// Requests that got no reply in time.
    unanswered: usize,
}

/// Creates contacts by request until told to stop; `progress` is bumped on every answer or
/// timeout.
async fn load(
    client: async_nats::Client,
    seen: Arc<Mutex<Seen>>,
    stop: tokio::sync::watch::Receiver<bool>,
    progress: tokio::sync::watch::Sender<(usize, usize)>,
) {
    let mut n = 0_u64;
    while !*stop.borrow() {
        n += 1;
        let id = format!("feed-{n}");
        let body = json!({"contact_id": id, "channel": "email", "service": "council_tax"});
        let reply = tokio::time::timeout(
            REQUEST_WAIT,
            client.request("switchboard.cmd.contact.create", body.to_string().into()),
        )
        .await;
        let mut seen = seen.lock().expect("lock");
        match reply {
            Ok(Ok(reply)) => {
                let value: serde_json::Value =
                    serde_json::from_slice(&reply.payload).unwrap_or_default();
                if value["ok"] == true {
                    seen.acknowledged.insert(id);
                }
            }
            _ => seen.unanswered += 1,
        }
        let counts = (seen.acknowledged.len(), seen.unanswered);
        drop(seen);
        progress.send_replace(counts);
    }
}

/// The last event in the log at `dir`, read as it is now.
fn last_in_log(dir: &Path) -> u64 {
    let reader = switchboard_log::LogReader::open(dir).expect("reader");
    let mut last = 0;
    for record in reader.read_from(1).expect("records") {
        let Ok(record) = record else { break };
        last = record.seq;
    }
    last
}

/// Every message of the events stream, in the stream's order: its `Switchboard-Seq` and body.
async fn events_in_stream(client: &async_nats::Client) -> Vec<(u64, serde_json::Value)> {
    let mut stream = async_nats::jetstream::new(client.clone())
        .get_stream("SWITCHBOARD_EVENTS")
        .await
        .expect("the events stream");
    let state = stream.info().await.expect("stream info").state.clone();
    let mut events = Vec::new();
    if state.messages == 0 {
        return events;
    }
    for stream_seq in state.first_sequence..=state.last_sequence {
        let message = stream
            .get_raw_message(stream_seq)
            .await
            .expect("a stored event");
        let seq = message
            .headers
            .get(switchboard_nats::SEQ_HEADER)
            .and_then(|v| v.as_str().parse().ok())
            .expect("every event names its sequence number");
        let body = serde_json::from_slice(&message.payload).expect("an event as JSON");
        events.push((seq, body));
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_stream_holds_the_log_after_a_kill_while_nats_is_frozen() {
    let mut server = NatsServer::start().expect("nats-server starts");
    let url = server.client_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let client = async_nats::connect(url.as_str()).await.expect("connect");

    let mut engine = start_engine(&url, dir.path());
    wait_until_serving(&client).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (progress, mut counts) = tokio::sync::watch::channel((0_usize, 0_usize));
    let generator = tokio::spawn(load(client.clone(), seen.clone(), stopped, progress));

    // Traffic runs; then NATS freezes for as long as three requests take to time out.
    tokio::time::timeout(WAIT, counts.wait_for(|(acked, _)| *acked >= 100))
        .await
        .expect("the load runs")
        .expect("load generator alive");
    server.pause().expect("SIGSTOP nats-server");
    let unanswered = counts.borrow().1;
    let frozen = tokio::time::timeout(
        WAIT,
        counts.wait_for(|(_, timed_out)| *timed_out >= unanswered + 3),
    )
    .await;
    engine.kill().expect("SIGKILL the engine");
    let _ = engine.wait();
    server.resume().expect("SIGCONT nats-server");
    frozen
        .expect("requests time out while NATS is frozen")
        .expect("load generator alive");

    engine = start_engine(&url, dir.path());
    wait_until_serving(&client).await;
    let acked_now = counts.borrow().0;
    tokio::time::timeout(WAIT, counts.wait_for(|(acked, _)| *acked >= acked_now + 50))
        .await
        .expect("the load runs after the restart")
        .expect("load generator alive");
    let _ = stop.send(true);
    generator.await.expect("load generator");

    // The stream catches up with the log (bounded), then holds exactly it.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    let events = loop {
        poll.tick().await;
        let events = events_in_stream(&client).await;
        let logged = last_in_log(dir.path());
        if events.len() as u64 >= logged && logged > 0 {
            break events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the events stream holds {} events, the log {logged}",
            events.len()
        );
    };
    let _ = Command::new("kill")
        .args(["-TERM", &engine.id().to_string()])
        .status();
    let status = engine.wait().expect("engine exits");
    assert!(status.success(), "a clean stop on SIGTERM, got {status}");

    let logged = last_in_log(dir.path());
    let seqs: Vec<u64> = events.iter().map(|(seq, _)| *seq).collect();
    let expected: Vec<u64> = (1..=logged).collect();
    assert_eq!(
        seqs, expected,
        "the events stream holds the log's events in order, each once"
    );
    let created: BTreeSet<&str> = events
        .iter()
        .filter(|(_, body)| body["type"] == "contact_created")
        .filter_map(|(_, body)| body["contact_id"].as_str())
        .collect();
    let seen = std::mem::take(&mut *seen.lock().expect("lock"));
    for id in &seen.acknowledged {
        assert!(
            created.contains(id.as_str()),
            "acknowledged contact {id} is not in the events stream"
        );
    }
}
