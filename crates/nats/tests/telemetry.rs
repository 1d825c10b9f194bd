//! Telemetry end to end: the engine loop on a real nats-server, driven over the wire, scraped
//! over HTTP. Checks the figures, that no id leaks into a label, the health endpoints (including
//! /readyz before recovery and while NATS is down), promtool's lint of the live scrape, and that
//! the Grafana dashboard and the alert rules name only metrics of the catalogue.
//!
//! One test function: the Prometheus recorder is process-wide, so the figures asserted here must
//! not be shared with another test in the same binary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::{Client, Subscriber};
use futures::StreamExt;
use serde_json::{Value, json};
use switchboard_core::RoutingConfig;
use switchboard_engine::{Engine, EngineOptions};
use switchboard_nats::DriverSettings;
use switchboard_nats::health::Health;
use switchboard_nats::http::{Endpoints, HttpLimits, HttpServer};
use switchboard_nats::telemetry::{self, CATALOGUE, MetricKind};
use switchboard_natsd::NatsServer;
use switchboard_wire::Subjects;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long any single expected condition may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

const AGENT: &str = "agent-ann-7f3";
const CONTACTS: [&str; 3] = ["contact-0001", "contact-0002", "contact-0003"];
/// The labels of the morning's one line.
const PHONE_TAX: [(&str, &str); 2] = [("channel", "phone"), ("service", "council_tax")];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A GET over a fresh connection; returns (status code, body).
async fn get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the metrics listener");
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut response = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut response))
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

/// Polls `path` every 50 ms (an interval, not a sleep: the bound is the deadline) until it answers `status`, for at most [`WAIT`].
async fn wait_status(address: std::net::SocketAddr, path: &str, status: u16) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        poll.tick().await;
        let (got, body) = get(address, path).await;
        if got == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} still answers {got}, not {status}: {body}"
        );
    }
}

/// One sample of the exposition: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(scrape: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("a TYPE line");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once("=\"").expect("label=\"value\"");
                (key.to_owned(), value.trim_end_matches('"').to_owned())
            })
            .collect();
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value: value.parse().expect("a number"),
        });
    }
    (samples, types)
}

/// The value of the one series of `name` whose labels include `labels`, summed if several.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

struct Wire {
    client: Client,
}

impl Wire {
    async fn ok(&self, subject: &str, body: Value) -> Value {
        let reply = tokio::time::timeout(
            WAIT,
            self.client
                .request(subject.to_owned(), body.to_string().into()),
        )
        .await
        .expect("a reply in time")
        .expect("request");
        let reply: Value = serde_json::from_slice(&reply.payload).expect("JSON reply");
        assert_eq!(reply["ok"], true, "{subject}: {reply}");
        reply
    }
}

async fn next(subscriber: &mut Subscriber) -> Value {
    let message = tokio::time::timeout(WAIT, subscriber.next())
        .await
        .expect("a message in time")
        .expect("subscription open");
    serde_json::from_slice(&message.payload).expect("JSON")
}

/// Every `switchboard_*` (and `up`) metric name in a PromQL expression or rules file.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts_word && text[i..].starts_with("switchboard_") {
            let end = text[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(text.len(), |n| i + n);
            names.insert(text[i..end].to_owned());
            i = end;
        } else {
            i += 1;
        }
    }
    names
}

/// The catalogue metric a series name belongs to (`_bucket`, `_sum`, `_count` of histograms).
fn catalogued(name: &str) -> Option<&'static telemetry::MetricDef> {
    telemetry::metric(name).or_else(|| {
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            name.strip_suffix(suffix)
                .and_then(telemetry::metric)
                .filter(|m| m.kind == MetricKind::Histogram)
        })
    })
}

fn collect_exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "expr" {
                    if let Some(expr) = value.as_str() {
                        out.push(expr.to_owned());
                    }
                } else {
                    collect_exprs(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

fn promtool() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("promtool"))
            .find(|candidate| candidate.is_file())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_follow_the_engine() {
    // The endpoint is up before anything is recovered: alive, not ready.
    let handle = telemetry::install().expect("recorder installs");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("address");
    let health = Health::new();
    let http = HttpServer::spawn(
        listener,
        Endpoints::new(handle, health.clone()),
        HttpLimits::default(),
    );
    assert_eq!(get(address, "/healthz").await.0, 200);
    let (status, body) = get(address, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("not recovered"), "{body}");
    assert_eq!(get(address, "/nope").await.0, 404);

    // The engine on a real nats-server.
    let mut server = NatsServer::start().expect("nats-server starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, _) = Engine::open(
        dir.path(),
        RoutingConfig::default(),
        EngineOptions::default(),
        &mut |_, _| {},
    )
    .expect("engine opens");
    let engine_client = switchboard_nats::connect(&switchboard_nats::ConnectSettings {
        url: server.client_url(),
        ..Default::default()
    })
    .await
    .expect("engine connects");
    let mut settings = DriverSettings::new(Subjects::new("switchboard").expect("prefix"));
    settings.health = health.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine_task = tokio::spawn(switchboard_nats::run(
        engine_client,
        engine,
        settings,
        async {
            let _ = stopped.await;
        },
    ));
    wait_status(address, "/readyz", 200).await;

    // A client on the wire, and a morning over it.
    let wire = Wire {
        client: async_nats::connect(server.client_url())
            .await
            .expect("client connects"),
    };
    a_morning_in_miniature(&wire).await;

    let scrape = scrape_once_caught_up(address).await;
    let (samples, types) = parse(&scrape);
    the_figures_are_the_mornings(&samples, &scrape);
    every_series_is_catalogued_and_no_id_is_a_label(&samples, &types);
    promtool_accepts(&scrape);
    the_dashboard_alerts_and_docs_name_catalogued_metrics();

    // NATS down: not ready (the engine rides it out); back: ready again.
    server.stop().expect("nats-server stops");
    let body = wait_status(address, "/readyz", 503).await;
    assert!(body.contains("NATS"), "{body}");
    assert_eq!(get(address, "/healthz").await.0, 200);
    server.restart().expect("nats-server restarts");
    wait_status(address, "/readyz", 200).await;

    let _ = stop.send(());
    tokio::time::timeout(WAIT, engine_task)
        .await
        .expect("stops in time")
        .expect("task")
        .expect("clean stop");
    let (status, body) = get(address, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    tokio::time::timeout(WAIT, http.stop())
        .await
        .expect("the endpoint stops in time");
}

/// A morning in miniature, over the wire: a contact answered and completed, one abandoned while
/// offered, one escalated, and a bad message.
async fn a_morning_in_miniature(wire: &Wire) {
    let mut offers = wire
        .client
        .subscribe(format!("switchboard.agent.{AGENT}.offer"))
        .await
        .expect("subscribe");
    wire.ok(
        &format!("switchboard.cmd.agent.{AGENT}.login"),
        json!({"name": "Ann", "tier": 1, "site": "town_hall", "skills": {"council_tax": 3}}),
    )
    .await;
    wire.ok(&format!("switchboard.cmd.agent.{AGENT}.ready"), json!({}))
        .await;
    let create = |id: &str| json!({"contact_id": id, "channel": "phone", "service": "council_tax"});

    wire.ok("switchboard.cmd.contact.create", create(CONTACTS[0]))
        .await;
    let offer = next(&mut offers).await;
    wire.ok(
        &format!("switchboard.cmd.agent.{AGENT}.accept"),
        json!({"offer_id": offer["offer_id"]}),
    )
    .await;
    wire.ok(
        &format!("switchboard.cmd.agent.{AGENT}.complete"),
        json!({"contact_id": CONTACTS[0], "outcome": "resolved"}),
    )
    .await;
    wire.ok(&format!("switchboard.cmd.agent.{AGENT}.ready"), json!({}))
        .await;

    wire.ok("switchboard.cmd.contact.create", create(CONTACTS[1]))
        .await;
    let offer = next(&mut offers).await;
    assert_eq!(offer["contact_id"], CONTACTS[1]);
    wire.ok(
        "switchboard.cmd.contact.abandon",
        json!({"contact_id": CONTACTS[1]}),
    )
    .await;

    wire.ok("switchboard.cmd.contact.create", create(CONTACTS[2]))
        .await;
    let offer = next(&mut offers).await;
    assert_eq!(offer["contact_id"], CONTACTS[2]);
    wire.ok(
        &format!("switchboard.cmd.agent.{AGENT}.accept"),
        json!({"offer_id": offer["offer_id"]}),
    )
    .await;
    wire.ok(
        &format!("switchboard.cmd.agent.{AGENT}.escalate"),
        json!({"contact_id": CONTACTS[2], "reason": "appeal"}),
    )
    .await;
    // A bad message, for its counter.
    let bad = wire
        .client
        .request("switchboard.cmd.contact.create", "{not json".into())
        .await
        .expect("a reply");
    assert!(String::from_utf8_lossy(&bad.payload).contains("invalid_message"));
}

/// Scrapes until the gauges have caught up with the morning (counters are set before the
/// replies go out; gauges within a second or so) and the events stream holds every event.
async fn scrape_once_caught_up(address: std::net::SocketAddr) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    loop {
        poll.tick().await;
        let (status, scrape) = get(address, "/metrics").await;
        assert_eq!(status, 200);
        let (samples, _) = parse(&scrape);
        if value(&samples, telemetry::QUEUE_DEPTH, &PHONE_TAX) == 1.0
            && value(
                &samples,
                telemetry::AGENTS,
                &[("site", "town_hall"), ("tier", "1")],
            ) == 1.0
            && value(&samples, telemetry::LOG_BYTES, &[]) > 0.0
            // Every event is stored in the events stream by now (it lags only while it is
            // publishing).
            && value(&samples, telemetry::EVENTS_STREAM_SEQUENCE, &[])
                == value(&samples, telemetry::LOG_LAST_SEQUENCE, &[])
        {
            break scrape;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gauges did not catch up:\n{scrape}"
        );
    }
}

/// The counters, histograms and gauges of the morning.
fn the_figures_are_the_mornings(samples: &[Sample], scrape: &str) {
    let v = |name: &str, labels: &[(&str, &str)]| value(samples, name, labels);
    assert_eq!(v(telemetry::CONTACTS_CREATED, &PHONE_TAX), 3.0);
    assert_eq!(v(telemetry::CONTACTS_ANSWERED, &PHONE_TAX), 2.0);
    assert_eq!(v(telemetry::CONTACTS_ABANDONED, &PHONE_TAX), 1.0);
    assert_eq!(
        v(
            telemetry::CONTACTS_COMPLETED,
            &[
                ("channel", "phone"),
                ("service", "council_tax"),
                ("outcome", "resolved")
            ]
        ),
        1.0
    );
    assert_eq!(
        v(telemetry::CONTACTS_RESOLVED_FIRST_CONTACT, &PHONE_TAX),
        1.0
    );
    assert_eq!(v(telemetry::OFFERS_MADE, &[("channel", "phone")]), 3.0);
    assert_eq!(
        v(
            telemetry::OFFERS_ANSWERED,
            &[("channel", "phone"), ("result", "accepted")]
        ),
        2.0
    );
    assert_eq!(
        v(
            telemetry::OFFERS_ANSWERED,
            &[("channel", "phone"), ("result", "revoked")]
        ),
        1.0
    );
    assert_eq!(
        v(
            telemetry::ESCALATIONS,
            &[("service", "council_tax"), ("to_tier", "2")]
        ),
        1.0
    );
    assert_eq!(v(&format!("{}_count", telemetry::WAIT), &PHONE_TAX), 2.0);
    assert_eq!(
        v(&format!("{}_count", telemetry::ABANDON_WAIT), &PHONE_TAX),
        1.0
    );
    assert_eq!(
        v(telemetry::BAD_MESSAGES, &[("code", "invalid_message")]),
        1.0
    );
    assert_eq!(
        v(telemetry::COMMANDS, &[("kind", "create"), ("result", "ok")]),
        3.0,
        "{scrape}"
    );
    assert!(
        v(
            &format!("{}_count", telemetry::ROUTING_DECISION),
            &[("trigger", "command")]
        ) >= 9.0
    );
    assert!(v(&format!("{}_count", telemetry::LOG_APPEND), &[]) >= 1.0);
    assert!(v(&format!("{}_count", telemetry::COMMAND_REPLY), &[]) >= 9.0);
    assert_eq!(v(telemetry::QUEUE_DEPTH, &PHONE_TAX), 1.0);
    assert!(v(telemetry::OLDEST_WAIT, &PHONE_TAX) >= 0.0);
    assert_eq!(v(telemetry::SERVICE_LEVEL_TARGET, &PHONE_TAX), 0.8);
    assert!(v(telemetry::SERVICE_LEVEL, &PHONE_TAX) > 0.0);
    assert_eq!(v(telemetry::BUILD_INFO, &[]), 1.0);
    assert_eq!(v(telemetry::READY, &[]), 1.0);
    assert_eq!(v(telemetry::NATS_CONNECTED, &[]), 1.0);
    assert!(v(telemetry::LOG_LAST_SEQUENCE, &[]) >= 10.0);
}

/// No id is ever a label value, and every series is of the catalogue, with the catalogue's type
/// and labels.
fn every_series_is_catalogued_and_no_id_is_a_label(
    samples: &[Sample],
    types: &BTreeMap<String, String>,
) {
    for sample in samples {
        for value in sample.labels.values() {
            assert!(
                !value.contains("contact-") && !value.contains(AGENT),
                "an id in a label: {sample:?}"
            );
        }
    }
    // Every series is of the catalogue, with the catalogue's type and labels.
    for sample in samples {
        let def = catalogued(&sample.name)
            .unwrap_or_else(|| panic!("{} is not in the catalogue", sample.name));
        assert_eq!(
            types.get(def.name).map(String::as_str),
            Some(def.kind.as_str()),
            "{}",
            def.name
        );
        let mut labels: BTreeSet<&str> = sample.labels.keys().map(String::as_str).collect();
        labels.remove("le");
        assert_eq!(
            labels,
            def.labels.iter().copied().collect(),
            "labels of {}",
            sample.name
        );
    }
}

/// promtool's lint of the live exposition (CI installs promtool and sets
/// SWITCHBOARD_REQUIRE_PROMTOOL=1 so that a missing promtool fails instead of skipping).
fn promtool_accepts(scrape: &str) {
    match promtool() {
        Some(promtool) => {
            let mut child = std::process::Command::new(promtool)
                .args(["check", "metrics"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("promtool runs");
            {
                use std::io::Write;
                let mut stdin = child.stdin.take().expect("stdin");
                stdin.write_all(scrape.as_bytes()).expect("write");
            }
            let output = child.wait_with_output().expect("promtool finishes");
            assert!(
                output.status.success(),
                "promtool check metrics:\n{}{}\n{scrape}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        None => assert!(
            std::env::var_os("SWITCHBOARD_REQUIRE_PROMTOOL").is_none(),
            "promtool is required (SWITCHBOARD_REQUIRE_PROMTOOL) but not on PATH"
        ),
    }
}

/// The dashboard and the alert rules name only catalogued metrics, and docs/operations.md
/// describes every metric.
fn the_dashboard_alerts_and_docs_name_catalogued_metrics() {
    let dashboard_path = workspace().join("deploy/grafana/dashboards/switchboard.json");
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(&dashboard_path).expect("the dashboard exists"),
    )
    .expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "the dashboard has panels with queries");
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "a panel queries no Switchboard metric: {expr}"
        );
        used.extend(names);
    }
    let rules = std::fs::read_to_string(workspace().join("deploy/prometheus/alerts.yml"))
        .expect("the alert rules exist");
    used.extend(metric_names(&rules));
    for name in &used {
        assert!(
            catalogued(name).is_some(),
            "{name} (dashboard or alert rules) is not a metric Switchboard exports"
        );
    }
    let operations =
        std::fs::read_to_string(workspace().join("docs/operations.md")).expect("operations.md");
    for metric in CATALOGUE {
        assert!(
            operations.contains(&format!("`{}`", metric.name)),
            "docs/operations.md does not describe {}",
            metric.name
        );
    }
}

/// The alert rules' unit tests (`deploy/prometheus/alerts_test.yml`): the disk alerts fire
/// with the time left, and not for a disk that is not filling.
#[test]
fn the_alert_rules_pass_their_promtool_unit_tests() {
    let Some(promtool) = promtool() else {
        assert!(
            std::env::var_os("SWITCHBOARD_REQUIRE_PROMTOOL").is_none(),
            "promtool is required (SWITCHBOARD_REQUIRE_PROMTOOL) but not on PATH"
        );
        eprintln!("promtool is not on PATH; the alert rules' unit tests were not run");
        return;
    };
    let output = std::process::Command::new(promtool)
        .args(["test", "rules"])
        .arg(workspace().join("deploy/prometheus/alerts_test.yml"))
        .output()
        .expect("promtool runs");
    assert!(
        output.status.success(),
        "promtool test rules:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
