//! What the browser test runs against: a real nats-server with deploy/'s users and permissions
//! and a WebSocket listener, a real engine (`switchboard serve`, a child process) serving the
//! pages, and the small helpers the test uses to speak NATS and to check a page with axe-core.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::{Client, ConnectOptions};
use serde_json::{Value, json};
use switchboard_natsd::NatsServer;

use crate::cdp::Page;
use crate::common;

/// The passwords deploy/nats/auth.conf takes as variables, with test values.
const PASSWORDS: [(&str, &str); 6] = [
    ("SWITCHBOARD_ENGINE_PASSWORD", "engine-secret"),
    ("SWITCHBOARD_CHANNEL_PASSWORD", "channel-secret"),
    ("SWITCHBOARD_WALLBOARD_PASSWORD", "wallboard-secret"),
    ("SWITCHBOARD_PRIVACY_PASSWORD", "privacy-secret"),
    ("SWITCHBOARD_DESKTOP_PASSWORD", "desktop-secret"),
    ("SWITCHBOARD_SYSTEM_PASSWORD", "system-secret"),
];

/// axe-core, vendored for the tests only (from crates/web/js's lockfile; CI checks it).
const AXE: &str = include_str!("axe.min.js");

/// The WCAG 2.2 A and AA rules, and axe's best practices.
const AXE_RUN: &str = "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', \
    'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}}).then(r => r.violations.map(v => \
    `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`))";

/// How long a NATS request from the test may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// The engine as a child process, killed on drop.
struct Engine(Child);

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A nats-server and an engine serving the pages, stopped on drop (the engine first).
pub(crate) struct Stack {
    _engine: Engine,
    /// The pages' address, `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// The telephony system's connection (the channel role), which creates contacts.
    pub(crate) telephony: Client,
    /// A connection as the engine's user, standing in for the complaints officers' case
    /// management system (deploy/ has no role of its own for it): moves complaints on a stage.
    case_management: Client,
    _dir: tempfile::TempDir,
    _server: NatsServer,
}

impl Stack {
    /// Starts nats-server (deploy/'s permissions, WebSocket on) and the engine as the engine
    /// user, and waits until the engine serves.
    pub(crate) async fn start() -> Self {
        let auth = std::fs::read_to_string(deploy().join("nats/auth.conf")).expect("auth.conf");
        let mut config: String = PASSWORDS
            .iter()
            .map(|(name, value)| format!("{name}: \"{value}\"\n"))
            .collect();
        config.push_str(&auth);
        let server = NatsServer::builder()
            .config_text(config)
            .websocket(true)
            .start()
            .expect("nats-server starts with the deploy permissions and WebSocket");
        let ws = server.websocket_url().expect("a WebSocket URL");

        let dir = tempfile::tempdir().expect("temp dir");
        let http = format!("127.0.0.1:{}", common::free_port());
        let config_file = dir.path().join("switchboard.toml");
        std::fs::write(
            &config_file,
            format!(
                "[nats]\nurl = \"{}\"\nuser = \"engine\"\npassword = \"engine-secret\"\n\
                 [engine]\ndata_dir = \"{}\"\n[metrics]\naddress = \"{http}\"\n\
                 [http]\nnats_ws_url = \"{ws}\"\n\
                 [complaints]\nskill = \"council_tax\"\n",
                server.client_url(),
                dir.path().join("data").display()
            ),
        )
        .expect("the engine's configuration");
        let engine = Engine(
            Command::new(env!("CARGO_BIN_EXE_switchboard"))
                .arg("serve")
                .arg("--config")
                .arg(&config_file)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("the engine starts"),
        );
        let engine_client = client(&server, "engine", "engine-secret", "engine").await;
        common::wait_until_serving(&engine_client).await;
        let telephony = client(&server, "telephony", "channel-secret", "channel").await;
        Self {
            _engine: engine,
            base: format!("http://{http}"),
            telephony,
            case_management: engine_client,
            _dir: dir,
            _server: server,
        }
    }

    /// Creates a contact as the telephony system would, and expects the engine to take it.
    pub(crate) async fn create_contact(&self, body: Value) {
        ok(&self.telephony, "switchboard.cmd.contact.create", body).await;
    }

    /// Tells the engine the customer of `contact_id` left.
    pub(crate) async fn abandon(&self, contact_id: &str) {
        ok(
            &self.telephony,
            "switchboard.cmd.contact.abandon",
            json!({ "contact_id": contact_id }),
        )
        .await;
    }

    /// Moves the complaint `contact_id`, handled by `agent_id`, on to stage 2, as a complaints
    /// officer would.
    pub(crate) async fn complaint_stage_2(&self, contact_id: &str, agent_id: &str) {
        ok(
            &self.case_management,
            "switchboard.cmd.contact.complaint_stage",
            json!({ "contact_id": contact_id, "agent_id": agent_id, "to": "stage_2",
                    "reason": "the customer asked for a stage 2 review" }),
        )
        .await;
    }
}

/// Where the screenshots go (kept after the test, as its artefacts).
pub(crate) fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).expect("the artefacts directory");
    dir
}

async fn client(server: &NatsServer, user: &str, password: &str, inbox: &str) -> Client {
    ConnectOptions::with_user_and_password(user.to_owned(), password.to_owned())
        .custom_inbox_prefix(format!("_INBOX.{inbox}"))
        .connect(server.client_url())
        .await
        .unwrap_or_else(|e| panic!("{user} connects: {e}"))
}

async fn ok(client: &Client, subject: &str, body: Value) -> Value {
    let reply = tokio::time::timeout(
        REQUEST_TIMEOUT,
        client.request(subject.to_owned(), body.to_string().into()),
    )
    .await
    .unwrap_or_else(|_| panic!("{subject}: a reply in time"))
    .unwrap_or_else(|e| panic!("{subject}: {e}"));
    let reply: Value = serde_json::from_slice(&reply.payload).expect("JSON reply");
    assert_eq!(reply["ok"], true, "{subject}: {reply}");
    reply
}

/// Checks the page with axe-core: no violation.
pub(crate) async fn accessible(page: &Page<'_>, what: &str) {
    if page.eval("typeof axe").await != json!("object") {
        page.eval(AXE).await;
    }
    let violations = page.eval(AXE_RUN).await;
    assert_eq!(
        violations,
        json!([]),
        "{what}: axe-core found accessibility violations"
    );
}
