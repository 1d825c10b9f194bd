//! `audit verify`, `audit show`, `audit open` and `replay` read a routing domain's JetStream log
//! (cluster mode) with `--nats-url` and `--subject-prefix` exactly as they read a file log: a
//! scenario's log is copied record by record into a real nats-server's stream, and every command
//! must print the same answer from both. A stream with a record the log did not write is
//! reported broken at that seq; a domain with no stream is a clear error, not an empty trail.

mod common;

use std::path::Path;

use common::{json, switchboard, text};
use switchboard_jetlog::{JetStreamConfig, JetStreamLog};
use switchboard_log::{Entry, LogReader};
use switchboard_nats::cluster::Domain;
use switchboard_natsd::NatsServer;

/// The domain the copy is kept under.
const PREFIX: &str = "council_a";

/// Copies every record of the file log in `dir` into the domain's JetStream log on `url`, in
/// turns of up to 50 records; returns how many.
fn copy_to_jetstream(rt: &tokio::runtime::Runtime, dir: &Path, url: &str) -> u64 {
    let records: Vec<Entry> = LogReader::open(dir)
        .expect("reader")
        .read_from(1)
        .expect("records")
        .map(|record| {
            let record = record.expect("a whole record");
            Entry {
                at_ms: record.at_ms,
                payload: record.payload,
            }
        })
        .collect();
    rt.block_on(async {
        let client = async_nats::connect(url).await.expect("connect");
        let domain = Domain::new(PREFIX);
        let mut config = JetStreamConfig::new(domain.log_stream(), domain.log_subject());
        config.replicas = 1;
        let mut log = JetStreamLog::open(client, config).await.expect("open");
        for turn in records.chunks(50) {
            log.append_async(turn).await.expect("append");
        }
    });
    records.len() as u64
}

/// Runs `args` against the file log and against the JetStream copy; both must succeed.
fn both(dir: &str, url: &str, args: &[&str]) -> (serde_json::Value, serde_json::Value) {
    let file = switchboard(&[args, &["--data-dir", dir]].concat());
    assert!(file.status.success(), "{}", text(&file));
    let stream = switchboard(&[args, &["--nats-url", url, "--subject-prefix", PREFIX]].concat());
    assert!(stream.status.success(), "{}", text(&stream));
    (json(&file), json(&stream))
}

#[test]
fn the_audit_commands_read_a_jetstream_log_as_they_read_a_file_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8").to_owned();
    let scenario = switchboard(&["scenario", "--data-dir", &data]);
    assert!(scenario.status.success(), "{}", text(&scenario));
    let server = NatsServer::start().expect("nats-server");
    let url = server.client_url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let copied = copy_to_jetstream(&rt, dir.path(), &url);
    assert!(copied > 10, "the scenario logged {copied} records");

    let (file, stream) = both(&data, &url, &["audit", "verify", "--json"]);
    assert_eq!(stream["ok"], true, "{stream}");
    assert_eq!(stream["records"], copied);
    assert_eq!(stream["stream"], "SB_LOG_COUNCIL_A");
    assert_eq!(stream["head_hash"], file["head_hash"]);
    assert_eq!(stream["last_seq"], file["last_seq"]);
    let head = stream["head_hash"].clone();

    let (file, stream) = both(&data, &url, &["replay", "--json"]);
    assert_eq!(stream["events"], copied);
    for key in ["head_hash", "agents", "contacts", "queues"] {
        assert_eq!(stream[key], file[key], "replay's {key}");
    }
    let (file, stream) = both(&data, &url, &["audit", "open", "--json"]);
    assert_eq!(stream, file);
    let contact = first_contact(&data);
    let (file, stream) = both(
        &data,
        &url,
        &["audit", "show", "--contact", &contact, "--json"],
    );
    assert!(file.as_array().is_some_and(|a| !a.is_empty()), "{file}");
    assert_eq!(stream, file);
    // Reading the keys is read-only: the domain has no keystore bucket; audit show made none.
    assert!(
        !has_keys_bucket(&rt, &url),
        "audit show made a keystore bucket"
    );

    // The engine's own configuration names the log: cluster mode, its NATS and its prefix.
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[nats]\nurl = \"{url}\"\nsubject_prefix = \"{PREFIX}\"\n\n[log]\nbackend = \"jetstream\"\n"
        ),
    )
    .expect("write the configuration");
    let configured = switchboard(&[
        "audit",
        "verify",
        "--json",
        "--config",
        config.to_str().expect("utf-8"),
    ]);
    assert!(configured.status.success(), "{}", text(&configured));
    assert_eq!(json(&configured)["head_hash"], head);

    // A message the log did not write, published straight to the log's subject.
    rt.block_on(async {
        let client = async_nats::connect(url.as_str()).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let ack = js
            .publish(format!("{PREFIX}.log"), "not a record".into())
            .await
            .expect("publish");
        ack.await.expect("stored");
    });
    let broken = switchboard(&[
        "audit",
        "verify",
        "--nats-url",
        &url,
        "--subject-prefix",
        PREFIX,
    ]);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    let said = text(&broken);
    let tampered = copied + 1;
    assert!(
        said.contains("BROKEN in JetStream stream SB_LOG_COUNCIL_A")
            && said.contains(&format!("record seq {tampered}")),
        "{said}"
    );

    let absent = switchboard(&[
        "audit",
        "verify",
        "--nats-url",
        &url,
        "--subject-prefix",
        "nobody",
    ]);
    assert_eq!(absent.status.code(), Some(2), "{}", text(&absent));
    assert!(
        text(&absent).contains("no event log for domain `nobody`")
            && text(&absent).contains("no stream SB_LOG_NOBODY"),
        "{}",
        text(&absent)
    );
}

/// Whether the domain's keystore bucket exists on `url`.
fn has_keys_bucket(rt: &tokio::runtime::Runtime, url: &str) -> bool {
    let bucket = format!("KV_{}", Domain::new(PREFIX).keys_bucket());
    rt.block_on(async {
        let client = async_nats::connect(url).await.expect("connect");
        async_nats::jetstream::new(client)
            .get_stream(&bucket)
            .await
            .is_ok()
    })
}

/// The id of the first contact created in the file log at `dir`.
fn first_contact(dir: &str) -> String {
    common::created_in_log(Path::new(dir))
        .into_iter()
        .next()
        .expect("a contact was created")
}
