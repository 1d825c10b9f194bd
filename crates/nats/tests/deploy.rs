//! The deploy/ files that can be checked without a container engine: the NATS cluster
//! configuration parses with the pinned nats-server (`-t`), and the per-role permissions in
//! `deploy/nats/auth.conf` hold on a real nats-server running the engine: a desktop may use only
//! its own agent's subjects, a channel system may only create and abandon contacts, the
//! wallboard may only query and follow the events feed, only the privacy administrator may erase
//! a customer's personal data. In cluster mode the engine user takes and
//! renews its domain's lease, appends its log stream in fenced batches and keeps snapshots in
//! its object store, and no desktop or channel user may touch any of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};
use futures::StreamExt;
use serde_json::{Value, json};
use switchboard_core::RoutingConfig;
use switchboard_engine::{Engine, EngineOptions};
use switchboard_jetlog::{JetStreamConfig, JetStreamLog, Lease, LeaseConfig};
use switchboard_log::Entry;
use switchboard_nats::DriverSettings;
use switchboard_nats::cluster::{Domain, LEASE_BUCKET};
use switchboard_natsd::NatsServer;
use switchboard_privacy::{Changes, KvKeystore, KvKeystoreConfig};
use switchboard_wire::Subjects;
use tokio::sync::mpsc;

/// How long any single expected condition may take before the test fails.
const WAIT: Duration = Duration::from_secs(15);

/// The passwords the deploy files take as variables, with test values.
const PASSWORDS: [(&str, &str); 6] = [
    ("SWITCHBOARD_ENGINE_PASSWORD", "engine-secret"),
    ("SWITCHBOARD_CHANNEL_PASSWORD", "channel-secret"),
    ("SWITCHBOARD_WALLBOARD_PASSWORD", "wallboard-secret"),
    ("SWITCHBOARD_PRIVACY_PASSWORD", "privacy-secret"),
    ("SWITCHBOARD_DESKTOP_PASSWORD", "desktop-secret"),
    ("SWITCHBOARD_SYSTEM_PASSWORD", "system-secret"),
];

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

#[test]
fn the_nats_cluster_configuration_parses() {
    let binary = switchboard_natsd::ensure_installed().expect("nats-server installed");
    for name in ["nats-1", "nats-2", "nats-3"] {
        let output = std::process::Command::new(&binary)
            .arg("-t")
            .arg("-c")
            .arg(deploy().join("nats/cluster.conf"))
            .env("NATS_SERVER_NAME", name)
            .env(
                "SWITCHBOARD_PAGES_ORIGIN",
                "https://switchboard.council.example",
            )
            .envs(PASSWORDS)
            .output()
            .expect("nats-server runs");
        assert!(
            output.status.success(),
            "nats-server -t: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A client as `user`, with replies on `_INBOX.<inbox>` and server errors (permission
/// violations) sent to the returned channel.
async fn connect(
    server: &NatsServer,
    user: &str,
    password: &str,
    inbox: &str,
) -> (Client, mpsc::UnboundedReceiver<String>) {
    let (errors, received) = mpsc::unbounded_channel();
    let client = ConnectOptions::with_user_and_password(user.to_owned(), password.to_owned())
        .custom_inbox_prefix(format!("_INBOX.{inbox}"))
        .event_callback(move |event| {
            let errors = errors.clone();
            async move {
                if let Event::ServerError(error) = event {
                    let _ = errors.send(error.to_string());
                }
            }
        })
        .connect(server.client_url())
        .await
        .unwrap_or_else(|e| panic!("{user} connects: {e}"));
    (client, received)
}

async fn ok(client: &Client, subject: &str, body: Value) -> Value {
    let reply = tokio::time::timeout(
        WAIT,
        client.request(subject.to_owned(), body.to_string().into()),
    )
    .await
    .unwrap_or_else(|_| panic!("{subject}: a reply in time"))
    .unwrap_or_else(|e| panic!("{subject}: {e}"));
    let reply: Value = serde_json::from_slice(&reply.payload).expect("JSON reply");
    assert_eq!(reply["ok"], true, "{subject}: {reply}");
    reply
}

/// Waits for the server to report a permissions violation naming `subject`.
async fn violation(errors: &mut mpsc::UnboundedReceiver<String>, subject: &str) {
    let wanted = subject.to_ascii_lowercase();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let error = tokio::time::timeout_at(deadline, errors.recv())
            .await
            .unwrap_or_else(|_| panic!("no permissions violation reported for {subject}"))
            .expect("the error channel stays open");
        let error = error.to_ascii_lowercase();
        if error.contains("permissions violation") && error.contains(&wanted) {
            return;
        }
    }
}

/// Publishes on `subject` and waits for the server to refuse it as a permissions violation.
async fn refused_publish(
    client: &Client,
    errors: &mut mpsc::UnboundedReceiver<String>,
    subject: &str,
) {
    client
        .publish(subject.to_owned(), "{}".into())
        .await
        .expect("publish (refused by the server)");
    client.flush().await.expect("flush");
    violation(errors, subject).await;
}

/// Subscribes to `subject` and waits for the server to refuse it as a permissions violation;
/// the subscription is returned so that it is not dropped before the refusal.
async fn refused_subscribe(
    client: &Client,
    errors: &mut mpsc::UnboundedReceiver<String>,
    subject: &str,
) -> async_nats::Subscriber {
    let subscription = client
        .subscribe(subject.to_owned())
        .await
        .expect("subscribe (refused by the server)");
    client.flush().await.expect("flush");
    violation(errors, subject).await;
    subscription
}

/// The wallboard reads the figures and the events feed, and may send nothing else.
async fn the_wallboard_only_reads(server: &NatsServer) {
    let (wallboard, mut wallboard_errors) =
        connect(server, "wallboard", "wallboard-secret", "wallboard").await;
    let _feed = wallboard
        .subscribe("switchboard.events.>")
        .await
        .expect("subscribe to the events feed");
    let queues = ok(&wallboard, "switchboard.query.queues", json!({})).await;
    assert!(queues["queues"].is_array(), "{queues}");
    ok(&wallboard, "switchboard.query.agents", json!({})).await;
    ok(
        &wallboard,
        "switchboard.query.contact",
        json!({"contact_id": "call-1"}),
    )
    .await;
    refused_publish(
        &wallboard,
        &mut wallboard_errors,
        "switchboard.cmd.agent.ann.not_ready",
    )
    .await;
    refused_publish(
        &wallboard,
        &mut wallboard_errors,
        "switchboard.cmd.contact.create",
    )
    .await;
    let _desk =
        refused_subscribe(&wallboard, &mut wallboard_errors, "switchboard.agent.ann.>").await;
}

/// The privacy administrator erases (and the engine answers it on its own inbox prefix), and may
/// do nothing else: no other command, no query, no events.
async fn only_the_privacy_administrator_erases(server: &NatsServer) {
    let (admin, mut admin_errors) = connect(server, "privacy", "privacy-secret", "privacy").await;
    let reply = ok(
        &admin,
        "switchboard.cmd.privacy.erase",
        json!({"customer_id": "CUST-GONE-1"}),
    )
    .await;
    assert_eq!(reply["erasure"], "nothing_held", "{reply}");
    refused_publish(&admin, &mut admin_errors, "switchboard.cmd.contact.create").await;
    refused_publish(&admin, &mut admin_errors, "switchboard.query.contact").await;
    let _events = refused_subscribe(&admin, &mut admin_errors, "switchboard.events.>").await;
    let (wallboard, mut wallboard_errors) =
        connect(server, "wallboard", "wallboard-secret", "wallboard").await;
    refused_publish(
        &wallboard,
        &mut wallboard_errors,
        "switchboard.cmd.privacy.erase",
    )
    .await;
}

#[tokio::test]
async fn roles_are_confined_to_their_subjects() {
    let auth = std::fs::read_to_string(deploy().join("nats/auth.conf")).expect("auth.conf");
    let mut config: String = PASSWORDS
        .iter()
        .map(|(name, value)| format!("{name}: \"{value}\"\n"))
        .collect();
    config.push_str(&auth);
    let server = NatsServer::builder()
        .config_text(config)
        .start()
        .expect("nats-server starts with the deploy permissions");

    // The engine, as the engine user: JetStream streams, consumers and replies all allowed.
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, _) = Engine::open(
        dir.path(),
        RoutingConfig::default(),
        EngineOptions::default(),
        &mut |_, _| {},
    )
    .expect("engine opens");
    let (engine_client, _) = connect(&server, "engine", "engine-secret", "engine").await;
    let settings = DriverSettings::new(Subjects::new("switchboard").expect("prefix"));
    let health = settings.health.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine_task = tokio::spawn(switchboard_nats::run(
        engine_client,
        engine,
        settings,
        async {
            let _ = stopped.await;
        },
    ));
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    while !health.readiness().is_ready() {
        assert!(
            tokio::time::Instant::now() < deadline && !engine_task.is_finished(),
            "the engine did not become ready under the engine user's permissions"
        );
        poll.tick().await;
    }

    // Ann's desktop: her own commands and notices work.
    let (ann, mut ann_errors) = connect(&server, "desktop-ann", "desktop-secret", "ann").await;
    let mut ann_offers = ann
        .subscribe("switchboard.agent.ann.>")
        .await
        .expect("subscribe to her own notices");
    ok(
        &ann,
        "switchboard.cmd.agent.ann.login",
        json!({"name": "Ann", "tier": 1, "site": "town_hall", "skills": {"council_tax": 3}}),
    )
    .await;
    ok(&ann, "switchboard.cmd.agent.ann.ready", json!({})).await;

    // The telephony system: creates and abandons contacts.
    let (telephony, mut telephony_errors) =
        connect(&server, "telephony", "channel-secret", "channel").await;
    ok(
        &telephony,
        "switchboard.cmd.contact.create",
        json!({"contact_id": "call-1", "channel": "phone", "service": "council_tax"}),
    )
    .await;
    // Her notices (state changes) come first; then the offer.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let notice = tokio::time::timeout_at(deadline, ann_offers.next())
            .await
            .expect("Ann hears her offer in time")
            .expect("subscription open");
        if notice.subject.as_str() == "switchboard.agent.ann.offer" {
            break;
        }
    }
    ok(
        &telephony,
        "switchboard.cmd.contact.abandon",
        json!({"contact_id": "call-1"}),
    )
    .await;

    // Ann may not act as Bob, nor listen to Bob's desktop.
    refused_publish(&ann, &mut ann_errors, "switchboard.cmd.agent.bob.login").await;
    let _bob = refused_subscribe(&ann, &mut ann_errors, "switchboard.agent.bob.>").await;
    // Nor create contacts.
    refused_publish(&ann, &mut ann_errors, "switchboard.cmd.contact.create").await;

    // The telephony system may not send agent commands, nor listen to desktops or events.
    refused_publish(
        &telephony,
        &mut telephony_errors,
        "switchboard.cmd.agent.ann.ready",
    )
    .await;
    let _events =
        refused_subscribe(&telephony, &mut telephony_errors, "switchboard.events.>").await;

    only_the_privacy_administrator_erases(&server).await;

    the_wallboard_only_reads(&server).await;
    the_engine_user_runs_cluster_mode(&server).await;
    let others = [(&ann, &mut ann_errors), (&telephony, &mut telephony_errors)];
    for (client, errors) in others {
        nobody_else_touches_the_cluster_state(client, errors).await;
    }

    let _ = stop.send(());
    tokio::time::timeout(WAIT, engine_task)
        .await
        .expect("stops in time")
        .expect("task")
        .expect("clean stop");
}

/// The engine user does what an engine in cluster mode does: takes and renews its domain's lease,
/// appends to its log stream (a fenced atomic batch), writes and reads a snapshot in its
/// object store, and saves and loads a key in its keystore bucket.
async fn the_engine_user_runs_cluster_mode(server: &NatsServer) {
    let (client, _) = connect(server, "engine", "engine-secret", "engine-cluster").await;
    let context = async_nats::jetstream::new(client.clone());
    let names = Domain::new("switchboard");
    let mut lease = Lease::open(
        &context,
        LeaseConfig {
            bucket: LEASE_BUCKET.to_owned(),
            key: names.lease_key(),
            holder: "engine-a".to_owned(),
            ttl: Duration::from_secs(3),
            replicas: 1,
        },
    )
    .await
    .expect("the engine user opens the lease bucket");
    lease.acquire().await.expect("takes the lease");
    lease.renew().await.expect("renews it");
    assert_eq!(
        lease.holder().await.expect("reads it").as_deref(),
        Some("engine-a")
    );
    let mut config = JetStreamConfig::new(names.log_stream(), names.log_subject());
    config.replicas = 1;
    let mut log = JetStreamLog::open(client, config)
        .await
        .expect("the engine user makes the log stream");
    let entry = Entry {
        at_ms: 1,
        payload: b"a record".to_vec(),
    };
    log.append_async(std::slice::from_ref(&entry))
        .await
        .expect("appends a fenced batch");
    let store = context
        .create_object_store(async_nats::jetstream::object_store::Config {
            bucket: names.snapshot_bucket(),
            ..Default::default()
        })
        .await
        .expect("the engine user makes the snapshot bucket");
    store
        .put("snapshot-1", &mut &b"a snapshot"[..])
        .await
        .expect("writes a snapshot");
    let mut read = Vec::new();
    let mut object = store.get("snapshot-1").await.expect("reads it back");
    tokio::io::AsyncReadExt::read_to_end(&mut object, &mut read)
        .await
        .expect("reads its bytes");
    assert_eq!(read, b"a snapshot");
    let keystore = KvKeystore::open(
        &context,
        &KvKeystoreConfig {
            bucket: names.keys_bucket(),
            replicas: 1,
        },
    )
    .await
    .expect("the engine user makes the keystore bucket");
    let mut keys = keystore.load().await.expect("reads the keystore");
    let mut changes = Changes::default();
    let subject = keys.customer("CUST-1");
    keys.seal(subject, b"a name", &mut changes).expect("sealed");
    keystore
        .save(&keys, &changes)
        .await
        .expect("saves a customer's key");
    assert!(keystore.load().await.expect("reads it back").holds(subject));
}

/// A desktop or channel user may not erase personal data, write the lease, the log stream, the
/// snapshots or the keystore, nor call the JetStream API at all.
async fn nobody_else_touches_the_cluster_state(
    client: &Client,
    errors: &mut mpsc::UnboundedReceiver<String>,
) {
    // No erasure of a customer's personal data: only the privacy administrator may.
    refused_publish(client, errors, "switchboard.cmd.privacy.erase").await;
    refused_publish(client, errors, "switchboard.inbox.privacy.erase").await;
    for subject in [
        "$KV.switchboard_leases.switchboard",
        "switchboard.log",
        "$O.SB_SNAP_SWITCHBOARD.M.snapshot-1",
        "$KV.SB_KEYS_SWITCHBOARD.s.00",
        "$JS.API.STREAM.INFO.SB_LOG_SWITCHBOARD",
        "$JS.API.DIRECT.GET.KV_switchboard_leases",
    ] {
        refused_publish(client, errors, subject).await;
    }
}
