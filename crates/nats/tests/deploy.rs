//! The deploy/ files that can be checked without a container engine: the NATS cluster
//! configuration parses with the pinned nats-server (`-t`), and the per-role permissions in
//! `deploy/nats/auth.conf` hold on a real nats-server running the engine: a desktop may use only
//! its own agent's subjects, a channel system may only create and abandon contacts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};
use futures::StreamExt;
use serde_json::{Value, json};
use switchboard_core::RoutingConfig;
use switchboard_engine::{Engine, EngineOptions};
use switchboard_nats::DriverSettings;
use switchboard_natsd::NatsServer;
use switchboard_wire::Subjects;
use tokio::sync::mpsc;

/// How long any single expected condition may take before the test fails.
const WAIT: Duration = Duration::from_secs(15);

/// The passwords the deploy files take as variables, with test values.
const PASSWORDS: [(&str, &str); 5] = [
    ("SWITCHBOARD_ENGINE_PASSWORD", "engine-secret"),
    ("SWITCHBOARD_CHANNEL_PASSWORD", "channel-secret"),
    ("SWITCHBOARD_WALLBOARD_PASSWORD", "wallboard-secret"),
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

/// Publishes to `subject`, which the server must refuse, and waits for the violation.
async fn publish_refused(
    client: &Client,
    errors: &mut mpsc::UnboundedReceiver<String>,
    subject: &'static str,
) {
    client
        .publish(subject, "{}".into())
        .await
        .expect("publish (refused by the server)");
    client.flush().await.expect("flush");
    violation(errors, subject).await;
}

/// Subscribes to `subject`, which the server must refuse, and waits for the violation.
async fn subscribe_refused(
    client: &Client,
    errors: &mut mpsc::UnboundedReceiver<String>,
    subject: &'static str,
) {
    let _subscription = client
        .subscribe(subject)
        .await
        .expect("subscribe (refused by the server)");
    client.flush().await.expect("flush");
    violation(errors, subject).await;
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
    publish_refused(&ann, &mut ann_errors, "switchboard.cmd.agent.bob.login").await;
    subscribe_refused(&ann, &mut ann_errors, "switchboard.agent.bob.>").await;
    // Nor create contacts.
    publish_refused(&ann, &mut ann_errors, "switchboard.cmd.contact.create").await;

    // The telephony system may not send agent commands, nor listen to desktops or events.
    publish_refused(
        &telephony,
        &mut telephony_errors,
        "switchboard.cmd.agent.ann.ready",
    )
    .await;
    subscribe_refused(&telephony, &mut telephony_errors, "switchboard.events.>").await;

    let _ = stop.send(());
    tokio::time::timeout(WAIT, engine_task)
        .await
        .expect("stops in time")
        .expect("task")
        .expect("clean stop");
}
