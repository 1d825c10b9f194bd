//! The engine on a real nats-server (started by the harness on a random port with its own
//! JetStream directory): the wire contract end to end, as a telephony system and agent desktops
//! would use it.

use std::time::Duration;

use async_nats::{Client, HeaderMap, Subscriber};
use futures::{FutureExt, StreamExt};
use serde_json::{Value, json};
use switchboard_core::RoutingConfig;
use switchboard_engine::{Engine, EngineOptions};
use switchboard_nats::DriverSettings;
use switchboard_natsd::NatsServer;
use switchboard_wire::Subjects;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any single expected message may take to arrive before the test fails.
const WAIT: Duration = Duration::from_secs(10);

/// An engine on the data directory `dir`, recovered.
fn open_engine(dir: &std::path::Path, config: RoutingConfig) -> Engine {
    Engine::open(dir, config, EngineOptions::default(), &mut |_, _| {})
        .expect("engine opens")
        .0
}

/// Waits (polling every 50 ms, for at most WAIT) until an engine on `prefix` answers a query.
async fn wait_until_answering(client: &Client, prefix: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        poll.tick().await;
        let answer = tokio::time::timeout(
            Duration::from_millis(500),
            client.request(format!("{prefix}.query.queues"), "{}".into()),
        )
        .await;
        if matches!(answer, Ok(Ok(_))) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the engine on {prefix} did not come up"
        );
    }
}

/// A nats-server, an engine on it, and a client playing telephony and desktops.
struct Rig {
    config: RoutingConfig,
    server: NatsServer,
    client: Client,
    dir: tempfile::TempDir,
    /// The intake consumer's ack wait the engine is started with.
    inbox_ack_wait: Duration,
    stop: Option<oneshot::Sender<()>>,
    engine: Option<JoinHandle<Result<Engine, switchboard_nats::DriverError>>>,
}

impl Rig {
    async fn start() -> Self {
        Self::start_with(RoutingConfig::default()).await
    }

    async fn start_with(config: RoutingConfig) -> Self {
        let default = DriverSettings::new(Subjects::new("switchboard").expect("prefix"));
        Self::start_with_ack_wait(config, default.inbox_ack_wait).await
    }

    /// With the intake consumer's ack wait (set when the consumer is made, at the first start).
    async fn start_with_ack_wait(config: RoutingConfig, inbox_ack_wait: Duration) -> Self {
        let server = NatsServer::start().expect("nats-server starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let client = async_nats::connect(server.client_url())
            .await
            .expect("client connects");
        let mut rig = Self {
            config,
            server,
            client,
            dir,
            inbox_ack_wait,
            stop: None,
            engine: None,
        };
        rig.start_engine().await;
        rig
    }

    async fn start_engine(&mut self) {
        let (engine, recovered) = Engine::open(
            self.dir.path(),
            self.config.clone(),
            EngineOptions::default(),
            &mut |_, _| {},
        )
        .expect("engine opens");
        let client = async_nats::connect(self.server.client_url())
            .await
            .expect("engine connects");
        let (stop, stopped) = oneshot::channel::<()>();
        let mut settings = DriverSettings::new(Subjects::new("switchboard").expect("prefix"));
        settings.inbox_ack_wait = self.inbox_ack_wait;
        // Short, so that a test stopping the engine while NATS is down stops in seconds.
        settings.shutdown_nats_wait = Duration::from_secs(2);
        settings.receipts = recovered.receipts.into_entries();
        self.engine = Some(tokio::spawn(switchboard_nats::run(
            client,
            engine,
            settings,
            async {
                let _ = stopped.await;
            },
        )));
        self.stop = Some(stop);
        wait_until_answering(&self.client, "switchboard").await;
    }

    async fn stop_engine(&mut self) -> Engine {
        self.stop_engine_within(WAIT).await
    }

    /// Stops the engine and waits for its clean stop, for at most `bound`.
    async fn stop_engine_within(&mut self, bound: Duration) -> Engine {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let handle = self.engine.take().expect("engine running");
        tokio::time::timeout(bound, handle)
            .await
            .expect("stops in time")
            .expect("task")
            .expect("clean stop")
    }

    /// A request with a JSON body; returns the JSON reply.
    async fn request(&self, subject: &str, body: Value) -> Value {
        self.request_with(subject, body, None).await
    }

    async fn request_with(&self, subject: &str, body: Value, msg_id: Option<&str>) -> Value {
        let payload = body.to_string().into_bytes().into();
        let request = match msg_id {
            Some(id) => {
                let mut headers = HeaderMap::new();
                headers.insert("Nats-Msg-Id", id);
                self.client
                    .request_with_headers(subject.to_owned(), headers, payload)
                    .boxed()
            }
            None => self.client.request(subject.to_owned(), payload).boxed(),
        };
        let reply = tokio::time::timeout(WAIT, request)
            .await
            .expect("reply in time")
            .expect("request");
        serde_json::from_slice(&reply.payload).expect("the reply is JSON")
    }

    async fn ok(&self, subject: &str, body: Value) -> Value {
        let reply = self.request(subject, body).await;
        assert_eq!(reply["ok"], true, "{subject}: {reply}");
        reply
    }

    async fn error_code(&self, subject: &str, body: Value) -> String {
        let reply = self.request(subject, body).await;
        assert_eq!(reply["ok"], false, "{subject} should be refused: {reply}");
        assert!(
            reply["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{reply}"
        );
        reply["error"]["code"].as_str().expect("a code").to_owned()
    }

    async fn agent(
        &self,
        id: &str,
        tier: u8,
        site: &str,
        skills: Value,
        channels: Option<Value>,
    ) -> Subscriber {
        let offers = self
            .client
            .subscribe(format!("switchboard.agent.{id}.offer"))
            .await
            .expect("subscribe");
        let mut login = json!({"name": id, "tier": tier, "site": site, "skills": skills});
        if let Some(channels) = channels {
            login["channels"] = channels;
        }
        self.ok(&format!("switchboard.cmd.agent.{id}.login"), login)
            .await;
        self.ok(&format!("switchboard.cmd.agent.{id}.ready"), json!({}))
            .await;
        offers
    }
}

async fn next_offer(offers: &mut Subscriber) -> Value {
    let message = tokio::time::timeout(WAIT, offers.next())
        .await
        .expect("an offer in time")
        .expect("subscription open");
    serde_json::from_slice(&message.payload).expect("the offer is JSON")
}

#[tokio::test]
async fn every_channel_is_offered_accepted_completed_and_wrapped_up() {
    let rig = Rig::start().await;
    let all = json!({"phone": 1, "chat": 3, "email": 5, "callback": 1, "face_to_face": 1});
    let mut offers = rig
        .agent("ann", 1, "town_hall", json!({"council_tax": 3}), Some(all))
        .await;
    for (n, channel) in ["phone", "chat", "email", "callback", "face_to_face"]
        .into_iter()
        .enumerate()
    {
        let id = format!("c{n}");
        let mut create = json!({"contact_id": id, "channel": channel, "service": "council_tax"});
        if channel == "face_to_face" {
            create["site"] = json!("town_hall");
        }
        let created = rig.ok("switchboard.cmd.contact.create", create).await;
        assert!(created["seq"].as_u64().is_some_and(|s| s > 0), "{created}");
        let offer = next_offer(&mut offers).await;
        assert_eq!(offer["contact_id"], id.as_str(), "{offer}");
        assert_eq!(offer["channel"], channel);
        assert!(
            offer["decision"].is_object() || offer["rule"].is_string(),
            "the offer says why: {offer}"
        );
        if channel != "email" {
            // Email is auto-accepted by default.
            rig.ok(
                "switchboard.cmd.agent.ann.accept",
                json!({"offer_id": offer["offer_id"]}),
            )
            .await;
        }
        rig.ok(
            "switchboard.cmd.agent.ann.complete",
            json!({"contact_id": id, "outcome": "resolved"}),
        )
        .await;
        rig.ok("switchboard.cmd.agent.ann.ready", json!({})).await;
    }
    let queues = rig.request("switchboard.query.queues", json!({})).await;
    let text = queues.to_string();
    for channel in ["phone", "chat", "email", "callback", "face_to_face"] {
        assert!(
            text.contains(channel),
            "queue figures name {channel}: {queues}"
        );
    }
}

#[tokio::test]
async fn escalation_transfer_and_abandonment_work_over_the_wire() {
    let rig = Rig::start().await;
    let mut rep = rig
        .agent("rep", 1, "hq", json!({"benefits": 3, "housing": 2}), None)
        .await;
    let mut senior = rig
        .agent("senior", 3, "hq", json!({"benefits": 5}), None)
        .await;
    let mut housing = rig.agent("hou", 2, "hq", json!({"housing": 3}), None).await; // a transfer keeps the tier

    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "e1", "channel": "phone", "service": "benefits"}),
    )
    .await;
    let offer = next_offer(&mut rep).await;
    rig.ok(
        "switchboard.cmd.agent.rep.accept",
        json!({"offer_id": offer["offer_id"]}),
    )
    .await;
    rig.ok(
        "switchboard.cmd.agent.rep.escalate",
        json!({"contact_id": "e1", "reason": "appeal"}),
    )
    .await;
    let up = next_offer(&mut senior).await;
    assert_eq!(up["contact_id"], "e1");
    rig.ok(
        "switchboard.cmd.agent.senior.accept",
        json!({"offer_id": up["offer_id"]}),
    )
    .await;
    rig.ok(
        "switchboard.cmd.agent.senior.transfer",
        json!({"contact_id": "e1", "service": "housing"}),
    )
    .await;
    let across = next_offer(&mut housing).await;
    assert_eq!(across["contact_id"], "e1");

    // Abandoned while offered: the offer is withdrawn.
    let mut notices = rig
        .client
        .subscribe("switchboard.agent.rep.>")
        .await
        .expect("subscribe");
    rig.ok("switchboard.cmd.agent.rep.ready", json!({})).await;
    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "a1", "channel": "phone", "service": "benefits"}),
    )
    .await;
    let offered = next_offer(&mut rep).await;
    assert_eq!(offered["contact_id"], "a1");
    rig.ok(
        "switchboard.cmd.contact.abandon",
        json!({"contact_id": "a1"}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let message = tokio::time::timeout_at(deadline, notices.next())
            .await
            .expect("a revoke notice")
            .expect("open");
        if message.subject.as_str().ends_with("offer_revoked") {
            break;
        }
    }
    // Abandoned while queued.
    rig.ok(
        "switchboard.cmd.agent.rep.not_ready",
        json!({"reason": "break"}),
    )
    .await;
    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "a2", "channel": "phone", "service": "benefits"}),
    )
    .await;
    rig.ok(
        "switchboard.cmd.contact.abandon",
        json!({"contact_id": "a2"}),
    )
    .await;
    let contact = rig
        .request("switchboard.query.contact", json!({"contact_id": "a2"}))
        .await;
    assert!(
        contact.to_string().contains("contact_abandoned"),
        "{contact}"
    );
}

#[tokio::test]
async fn a_repeated_command_gets_the_first_reply_and_has_no_second_effect() {
    let rig = Rig::start().await;
    let body =
        json!({"contact_id": "dup", "channel": "email", "service": "parking", "command_id": "k-1"});
    let first = rig.ok("switchboard.cmd.contact.create", body.clone()).await;
    let second = rig.request("switchboard.cmd.contact.create", body).await;
    assert_eq!(first, second);
    let by_header = json!({"contact_id": "dup2", "channel": "email", "service": "parking"});
    let first = rig
        .request_with(
            "switchboard.cmd.contact.create",
            by_header.clone(),
            Some("m-1"),
        )
        .await;
    let second = rig
        .request_with("switchboard.cmd.contact.create", by_header, Some("m-1"))
        .await;
    assert_eq!(first, second);
    let queues = rig.request("switchboard.query.queues", json!({})).await;
    assert!(queues.to_string().contains("parking"), "{queues}");

    // A garbled body under a key is refused and not remembered: the corrected command under the
    // same key is decided, and its reply is the one repeats get.
    let garbled = rig
        .request_with(
            "switchboard.cmd.contact.create",
            json!({"contact_id": "dup3", "channel": "fax"}),
            Some("m-2"),
        )
        .await;
    assert_eq!(garbled["ok"], false, "{garbled}");
    let fixed = json!({"contact_id": "dup3", "channel": "email", "service": "parking"});
    let first = rig
        .request_with("switchboard.cmd.contact.create", fixed.clone(), Some("m-2"))
        .await;
    assert_eq!(first["ok"], true, "{first}");
    let again = rig
        .request_with("switchboard.cmd.contact.create", fixed, Some("m-2"))
        .await;
    assert_eq!(first, again);

    // A key is one sender's for one kind of command: another agent's command under the same
    // key is carried out, not answered with the first agent's reply.
    rig.agent("ann", 1, "hq", json!({"parking": 3}), None).await;
    rig.agent("bob", 1, "hq", json!({"parking": 3}), None).await;
    let not_ready =
        |id: &str| json!({"agent_id": id, "reason": "training", "command_id": "shared-key"});
    let ann = rig
        .ok("switchboard.cmd.agent.ann.not_ready", not_ready("ann"))
        .await;
    let bob = rig
        .ok("switchboard.cmd.agent.bob.not_ready", not_ready("bob"))
        .await;
    assert_ne!(ann["seq"], bob["seq"], "{ann} {bob}");
    assert_eq!(bob["presence"], "not_ready", "{bob}");

    // A Nats-Msg-Id longer than an id may be is refused, naming the header.
    let long = "k".repeat(129);
    let refused = rig
        .request_with(
            "switchboard.cmd.contact.create",
            json!({"contact_id": "dup4", "channel": "email", "service": "parking"}),
            Some(&long),
        )
        .await;
    assert_eq!(refused["error"]["code"], "invalid_message", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Nats-Msg-Id header is 129 bytes")),
        "{refused}"
    );

    // Exactly three contacts were created.
    let engine = {
        let mut rig = rig;
        rig.stop_engine().await
    };
    assert_eq!(engine.state().contacts().count(), 3);
}

#[tokio::test]
async fn contacts_published_to_the_durable_inbox_are_taken_once() {
    let rig = Rig::start().await;
    let js = async_nats::jetstream::new(rig.client.clone());
    for n in 0..3 {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("inbox-{n}").as_str());
        let body = json!({"contact_id": format!("i{n}"), "channel": "email", "service": "bins"});
        let ack = js
            .publish_with_headers(
                "switchboard.inbox.contact.create",
                headers,
                body.to_string().into(),
            )
            .await
            .expect("publish");
        ack.await.expect("stored in the intake stream");
    }
    // The same message again (a redelivery from the telephony side): deduplicated.
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "inbox-0");
    let body = json!({"contact_id": "i0", "channel": "email", "service": "bins"});
    js.publish_with_headers(
        "switchboard.inbox.contact.create",
        headers,
        body.to_string().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("ack");

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let queues = rig.request("switchboard.query.queues", json!({})).await;
        if queues.to_string().contains("bins") && queues.to_string().contains("\"created\":3") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "intake not taken: {queues}"
        );
    }
    let engine = {
        let mut rig = rig;
        rig.stop_engine().await
    };
    assert_eq!(engine.state().contacts().count(), 3);
}

/// Publishes a contact to the durable intake and waits for JetStream to store it.
async fn publish_to_intake(js: &async_nats::jetstream::Context, contact_id: &str) {
    let body = json!({"contact_id": contact_id, "channel": "email", "service": "bins"});
    js.publish("switchboard.inbox.contact.create", body.to_string().into())
        .await
        .expect("publish")
        .await
        .expect("stored in the intake stream");
}

#[tokio::test]
async fn intake_an_engine_took_and_never_acknowledged_comes_back_at_once_and_in_order() {
    // An ack wait far beyond the test's bounds: JetStream's own redelivery cannot be what
    // brings the message back in time.
    let mut rig =
        Rig::start_with_ack_wait(RoutingConfig::default(), Duration::from_secs(3600)).await;
    rig.stop_engine().await;

    // A message published while the engine is down is stranded on the consumer: taken and not
    // acknowledged. Either the stopped engine's last pull request took it (nats-server still
    // counted the request, so the message went to a subscription that is gone), or, if not,
    // this test takes it as an engine killed before acknowledging would have.
    let js = async_nats::jetstream::new(rig.client.clone());
    publish_to_intake(&js, "stranded").await;
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = js
        .get_stream("SWITCHBOARD_INBOX")
        .await
        .expect("the intake stream")
        .get_consumer("switchboard-engine")
        .await
        .expect("the intake consumer");
    assert_eq!(
        consumer
            .info()
            .await
            .expect("consumer info")
            .config
            .ack_wait,
        Duration::from_secs(3600)
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let info = consumer.info().await.expect("consumer info");
        if info.num_ack_pending == 1 && info.num_pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the message was not taken: {info:?}"
        );
        // Take it and drop it unacknowledged (the batch is empty if the stale request took it
        // meanwhile).
        let batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        let _taken: Vec<_> = tokio::time::timeout(WAIT, batch.collect())
            .await
            .expect("the fetch ends when it expires");
    }
    // Another contact, published after.
    publish_to_intake(&js, "later").await;

    rig.start_engine().await;
    let created_at = |reply: &Value| {
        reply["history"]
            .as_array()
            .and_then(|events| events.iter().find(|e| e["type"] == "contact_created"))
            .and_then(|e| e["seq"].as_u64())
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    let (stranded, later) = loop {
        poll.tick().await;
        let stranded = rig
            .request(
                "switchboard.query.contact",
                json!({"contact_id": "stranded"}),
            )
            .await;
        let later = rig
            .request("switchboard.query.contact", json!({"contact_id": "later"}))
            .await;
        if let (Some(stranded), Some(later)) = (created_at(&stranded), created_at(&later)) {
            break (stranded, later);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the intake was not taken: {stranded} {later}"
        );
    };
    assert!(
        stranded < later,
        "taken in the order published: stranded at {stranded}, later at {later}"
    );
    // Acknowledged too (the acks travel on the engine's connection: waited for, bounded).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        poll.tick().await;
        let pending = consumer
            .info()
            .await
            .expect("consumer info")
            .num_ack_pending;
        if pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{pending} intake messages still not acknowledged"
        );
    }
}

/// Bytes that are not JSON, and a body over the size limit, are refused with their codes.
async fn bytes_that_are_not_a_command_are_refused(rig: &Rig) {
    let raw = |subject: &str, bytes: &[u8]| {
        let client = rig.client.clone();
        let subject = subject.to_owned();
        let bytes = bytes.to_vec();
        async move {
            let reply = tokio::time::timeout(WAIT, client.request(subject, bytes.into()))
                .await
                .expect("in time")
                .expect("reply");
            let value: Value = serde_json::from_slice(&reply.payload).expect("JSON");
            value["error"]["code"].as_str().unwrap_or("none").to_owned()
        }
    };
    assert_eq!(
        raw("switchboard.cmd.contact.create", b"{not json").await,
        "invalid_message"
    );
    assert_eq!(
        raw("switchboard.cmd.contact.create", &vec![b' '; 70 * 1024]).await,
        "payload_too_large"
    );
}

/// Requests the engine refuses, each with its code: bad shapes, unknown names, wrong states and
/// unknown fields. Contact `c1` exists, offered to Ann as `offer_id`.
fn refusals(offer_id: &Value) -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "switchboard.cmd.contact.create",
            json!({"contact_id": 7, "channel": "phone", "service": "bins"}),
            "invalid_message",
        ),
        (
            "switchboard.cmd.contact.create",
            json!({"channel": "phone", "service": "bins"}),
            "invalid_message",
        ),
        (
            "switchboard.cmd.contact.create",
            json!({"contact_id": "x", "channel": "fax", "service": "bins"}),
            "invalid_message",
        ),
        (
            "switchboard.cmd.contact.create",
            json!({"contact_id": "x", "channel": "face_to_face", "service": "bins"}),
            "invalid_message",
        ),
        (
            "switchboard.cmd.contact.create",
            json!({"contact_id": "c1", "channel": "phone", "service": "bins"}),
            "duplicate_contact",
        ),
        (
            "switchboard.cmd.agent.nobody.ready",
            json!({}),
            "unknown_agent",
        ),
        (
            "switchboard.cmd.agent.ann.complete",
            json!({"contact_id": "ghost", "outcome": "resolved"}),
            "unknown_contact",
        ),
        (
            "switchboard.cmd.agent.ann.accept",
            json!({"offer_id": 999}),
            "unknown_offer",
        ),
        (
            "switchboard.cmd.agent.bob.accept",
            json!({"offer_id": offer_id}),
            "not_your_offer",
        ),
        (
            "switchboard.cmd.agent.ann.complete",
            json!({"contact_id": "c1", "outcome": "resolved"}),
            "invalid_transition",
        ),
        (
            "switchboard.cmd.agent.ann.login",
            json!({"tier": 9, "site": "hq", "skills": {}}),
            "invalid_message",
        ),
        // Every request refuses fields it does not know, queries without fields included.
        (
            "switchboard.query.queues",
            json!({"x": 1}),
            "invalid_message",
        ),
        (
            "switchboard.query.agents",
            json!({"x": 1}),
            "invalid_message",
        ),
        (
            "switchboard.query.contact",
            json!({"contact_id": "c1", "x": 1}),
            "invalid_message",
        ),
    ]
}

#[tokio::test]
async fn bad_input_is_refused_with_its_code_and_the_engine_goes_on() {
    let rig = Rig::start().await;
    let mut offers = rig.agent("ann", 1, "hq", json!({"bins": 3}), None).await;
    rig.agent("bob", 1, "hq", json!({"parking": 3}), None).await;
    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "c1", "channel": "phone", "service": "bins"}),
    )
    .await;
    let offer = next_offer(&mut offers).await;

    bytes_that_are_not_a_command_are_refused(&rig).await;
    for (subject, body, code) in refusals(&offer["offer_id"]) {
        assert_eq!(
            rig.error_code(subject, body.clone()).await,
            code,
            "{subject} {body}"
        );
    }
    // And it still works.
    rig.ok(
        "switchboard.cmd.agent.ann.accept",
        json!({"offer_id": offer["offer_id"]}),
    )
    .await;
    rig.ok("switchboard.query.queues", json!({})).await;
    rig.ok("switchboard.query.agents", json!({})).await;
}

#[tokio::test]
async fn a_create_reply_says_when_a_received_at_was_adjusted() {
    let rig = Rig::start().await;
    let now = jiff::Timestamp::now();
    let hours = |n: i64| {
        now.checked_add(jiff::SignedDuration::from_hours(n))
            .expect("in range")
    };
    let time = |t: jiff::Timestamp| format!("{t:.3}");
    let create = |id: &str, received_at: jiff::Timestamp| {
        json!({"contact_id": id, "channel": "phone", "service": "bins",
               "received_at": time(received_at)})
    };

    // Two hours back on the phone: it counts from an hour back, and the reply says so.
    let reply = rig
        .ok("switchboard.cmd.contact.create", create("c1", hours(-2)))
        .await;
    assert_eq!(reply["adjustments"][0]["field"], "received_at", "{reply}");
    assert_eq!(reply["adjustments"][0]["reason"], "beyond_live_limit");
    let used: jiff::Timestamp = reply["received_at"]
        .as_str()
        .expect("a time")
        .parse()
        .expect("RFC 3339");
    // (The engine reads its clock after the test, in whole milliseconds.)
    assert!(
        used.as_millisecond() >= hours(-1).as_millisecond(),
        "{reply}"
    );

    // Two hours ahead: it counts from now.
    let reply = rig
        .ok("switchboard.cmd.contact.create", create("c2", hours(2)))
        .await;
    assert_eq!(
        reply["adjustments"][0]["reason"], "in_the_future",
        "{reply}"
    );

    // Ten minutes back: taken as given.
    let asked = now
        .checked_sub(jiff::SignedDuration::from_mins(10))
        .expect("in range");
    let reply = rig
        .ok("switchboard.cmd.contact.create", create("c3", asked))
        .await;
    assert_eq!(reply["adjustments"], json!([]), "{reply}");
    assert_eq!(reply["received_at"], time(asked));
}

#[tokio::test]
async fn state_and_first_replies_survive_a_restart_of_the_engine() {
    let mut rig = Rig::start().await;
    rig.agent("ann", 2, "hq", json!({"housing": 3}), None).await;
    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "keep", "channel": "email", "service": "tourism"}),
    )
    .await;
    let keyed = json!({"contact_id": "again", "channel": "email", "service": "housing"});
    let create = "switchboard.cmd.contact.create";
    let first = rig.request_with(create, keyed.clone(), Some("m-9")).await;
    assert_eq!(first["ok"], true, "{first}");
    let before = rig.stop_engine().await.state().clone();
    rig.start_engine().await;
    // The same command under the same key, after the restart: the first reply, from the
    // receipt the log kept, not `duplicate_contact`.
    let repeat = rig.request_with(create, keyed, Some("m-9")).await;
    assert_eq!(repeat, first);
    let contact = rig
        .request("switchboard.query.contact", json!({"contact_id": "keep"}))
        .await;
    assert!(contact.to_string().contains("contact_created"), "{contact}");
    let after = rig.stop_engine().await;
    assert!(*after.state() == before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_reconnects_when_nats_restarts_and_loses_nothing_acknowledged() {
    let mut rig = Rig::start().await;
    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "before", "channel": "email", "service": "housing"}),
    )
    .await;
    tokio::task::block_in_place(|| rig.server.restart())
        .expect("nats-server restarts on the same port");
    // Retry with the same idempotency key until the engine, reconnected, answers.
    let body = json!({"contact_id": "after", "channel": "email", "service": "housing", "command_id": "after-1"});
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let reply = loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(1),
            rig.client
                .request("switchboard.cmd.contact.create", body.to_string().into()),
        )
        .await;
        if let Ok(Ok(reply)) = attempt {
            break serde_json::from_slice::<Value>(&reply.payload).expect("JSON");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the engine did not come back after NATS restarted"
        );
    };
    assert_eq!(reply["ok"], true, "{reply}");
    let engine = rig.stop_engine().await;
    let ids: std::collections::BTreeSet<String> = engine
        .state()
        .contacts()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["after", "before"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_stops_while_nats_is_down_with_everything_durable_and_a_snapshot() {
    let mut rig = Rig::start().await;
    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "kept", "channel": "email", "service": "housing"}),
    )
    .await;
    tokio::task::block_in_place(|| rig.server.stop()).expect("nats-server stops");
    // Each of the three last exchanges with NATS waits 2 s at most: well inside this bound.
    let engine = rig.stop_engine_within(Duration::from_secs(60)).await;
    assert!(engine.state().contact("kept").is_some());
    let last_seq = engine.next_seq() - 1;
    drop(engine);
    let (_, recovered) = Engine::open(
        rig.dir.path(),
        rig.config.clone(),
        EngineOptions::default(),
        &mut |_, _| {},
    )
    .expect("reopens");
    assert_eq!(recovered.last_seq, last_seq);
    assert_eq!(
        recovered.snapshot_seq,
        Some(last_seq),
        "the last snapshot was written"
    );
}

#[tokio::test]
async fn a_walk_in_is_offered_only_to_staff_at_its_site() {
    let rig = Rig::start().await;
    let f2f = Some(json!({"face_to_face": 1}));
    let mut far = rig
        .agent("far", 1, "town_hall", json!({"parking": 5}), f2f.clone())
        .await;
    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "w1", "channel": "face_to_face", "service": "parking", "site": "riverside"}),
    )
    .await;
    // Routing ran in the same turn as the create: the walk-in is still waiting, and nobody
    // logged in can serve it, which its history and the queue figures say.
    let contact = rig
        .request("switchboard.query.contact", json!({"contact_id": "w1"}))
        .await;
    assert_eq!(contact["status"], "queued", "{contact}");
    let unservable = &contact["history"][1];
    assert_eq!(unservable["type"], "contact_unservable", "{contact}");
    assert_eq!(
        unservable["shortfall"],
        json!({"site": {"site": "riverside"}}),
        "{contact}"
    );
    let queues = rig.request("switchboard.query.queues", json!({})).await;
    assert_eq!(queues["totals"]["unservable"], 1, "{queues}");
    let mut near = rig
        .agent("near", 1, "riverside", json!({"parking": 1}), f2f)
        .await;
    let offer = next_offer(&mut near).await;
    assert_eq!(offer["contact_id"], "w1");
    assert!(
        far.next().now_or_never().flatten().is_none(),
        "the agent at another site got an offer"
    );
    let queues = rig.request("switchboard.query.queues", json!({})).await;
    assert_eq!(queues["totals"]["unservable"], 0, "{queues}");
}

/// Every stage of complaint `cmp-1` is on the events stream, in order, with its clock.
async fn every_stage_is_on_the_events_stream_in_order(events: &mut Subscriber) {
    let mut stages = Vec::new();
    for _ in 0..3 {
        let message = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("an event in time")
            .expect("subscription open");
        let event: Value = serde_json::from_slice(&message.payload).expect("JSON");
        stages.push((
            event["to"].as_str().unwrap_or_default().to_owned(),
            event["due_at"].clone(),
        ));
    }
    assert_eq!(
        stages,
        [
            ("stage_1".to_owned(), json!("2026-12-14T17:00:00.000Z")),
            ("stage_2".to_owned(), json!("2026-12-30T17:00:00.000Z")),
            ("ombudsman".to_owned(), json!("2027-01-29T17:00:00.000Z")),
        ]
    );
}

/// The story of complaint `cmp-1`, from the log, keeps every stage.
async fn the_story_keeps_every_stage(rig: &Rig) {
    let story = rig
        .request("switchboard.query.contact", json!({"contact_id": "cmp-1"}))
        .await;
    let kinds: Vec<&str> = story["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["type"].as_str()).collect())
        .unwrap_or_default();
    for kind in [
        "contact_created",
        "complaint_stage_changed",
        "due_time_extended",
        "contact_completed",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {story}");
    }
}

#[tokio::test]
async fn a_complaint_runs_through_stage_1_stage_2_and_the_ombudsman() {
    let rig = Rig::start().await;
    let mut events = rig
        .client
        .subscribe("switchboard.events.complaint_stage_changed")
        .await
        .expect("subscribe");
    let email = Some(json!({"email": 5}));
    let mut cara = rig
        .agent(
            "cara",
            2,
            "hq",
            json!({"customer_relations": 3}),
            email.clone(),
        )
        .await;
    let mut pat = rig
        .agent("pat", 2, "hq", json!({"planning": 5}), email)
        .await;
    // A letter received on Monday 23 November 2026, entered later: acknowledge by Monday 30
    // November, respond by Monday 14 December (17:00 GMT), on the council calendar.
    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "cmp-1", "channel": "email", "service": "planning",
               "customer_id": "cust-9", "complaint_stage": "stage_1",
               "received_at": "2026-11-23T10:00:00Z"}),
    )
    .await;
    let offer = next_offer(&mut cara).await;
    assert_eq!(offer["contact_id"], "cmp-1");
    assert_eq!(offer["complaint_stage"], "stage_1", "{offer}");
    assert_eq!(offer["due_at"], "2026-12-14T17:00:00.000Z", "{offer}");
    assert!(
        pat.next().now_or_never().flatten().is_none(),
        "complaints go to customer relations"
    );
    let contact = rig
        .request("switchboard.query.contact", json!({"contact_id": "cmp-1"}))
        .await;
    assert_eq!(
        contact["acknowledge_by"], "2026-11-30T17:00:00.000Z",
        "{contact}"
    );

    // The customer asked for stage 2 (request received the same day, 11:00): acknowledge by
    // 30 November, respond 20 working days after, on 30 December (Christmas and the
    // substitute Boxing Day are bank holidays). Cara lets it go back to the queue.
    rig.ok(
        "switchboard.cmd.contact.complaint_stage",
        json!({"contact_id": "cmp-1", "agent_id": "cara", "to": "stage_2",
               "reason": "dissatisfied with the stage 1 response",
               "received_at": "2026-11-23T11:00:00Z"}),
    )
    .await;
    let offer = next_offer(&mut cara).await;
    assert_eq!(offer["complaint_stage"], "stage_2", "{offer}");
    assert_eq!(offer["due_at"], "2026-12-30T17:00:00.000Z", "{offer}");

    // Five more working days, explained: 7 January 2027 (New Year's Day is a bank holiday).
    rig.ok(
        "switchboard.cmd.contact.extend_due",
        json!({"contact_id": "cmp-1", "agent_id": "cara", "working_days": 5,
               "reason": "waiting for the site visit report"}),
    )
    .await;
    let contact = rig
        .request("switchboard.query.contact", json!({"contact_id": "cmp-1"}))
        .await;
    assert_eq!(contact["due_at"], "2027-01-07T17:00:00.000Z", "{contact}");
    assert_eq!(contact["extensions"], 1, "{contact}");
    let blank = rig
        .error_code(
            "switchboard.cmd.contact.extend_due",
            json!({"contact_id": "cmp-1", "working_days": 2, "reason": " "}),
        )
        .await;
    assert_eq!(blank, "invalid_message", "an extension must be explained");

    // Referred to the Ombudsman, who sets the council's deadline.
    rig.ok(
        "switchboard.cmd.contact.complaint_stage",
        json!({"contact_id": "cmp-1", "agent_id": "cara", "to": "ombudsman",
               "reason": "referred by the LGSCO", "due_at": "2027-01-29T17:00:00Z"}),
    )
    .await;
    next_offer(&mut cara).await;
    let backwards = rig
        .error_code(
            "switchboard.cmd.contact.complaint_stage",
            json!({"contact_id": "cmp-1", "agent_id": "cara", "to": "stage_2", "reason": "undo"}),
        )
        .await;
    assert_eq!(backwards, "invalid_transition");
    rig.ok(
        "switchboard.cmd.agent.cara.complete",
        json!({"contact_id": "cmp-1", "outcome": "resolved"}),
    )
    .await;

    every_stage_is_on_the_events_stream_in_order(&mut events).await;
    the_story_keeps_every_stage(&rig).await;
}

#[tokio::test]
async fn a_handled_complaint_moved_on_wrap_up_ended_early_and_a_repeated_not_ready_tell_the_truth()
{
    let rig = Rig::start().await;
    let mut events = rig
        .client
        .subscribe("switchboard.events.>")
        .await
        .expect("subscribe");
    let mut cara = rig
        .agent("cara", 2, "hq", json!({"customer_relations": 3}), None)
        .await;
    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "cmp-call", "channel": "phone", "service": "planning",
               "complaint_stage": "stage_1"}),
    )
    .await;
    let offer = next_offer(&mut cara).await;
    rig.ok(
        "switchboard.cmd.agent.cara.accept",
        json!({"offer_id": offer["offer_id"]}),
    )
    .await;

    // Moved on while she handles it: the reply says it is back in the queue and she wraps up.
    let moved = rig
        .ok(
            "switchboard.cmd.contact.complaint_stage",
            json!({"contact_id": "cmp-call", "agent_id": "cara", "to": "stage_2",
                   "reason": "dissatisfied with the stage 1 response"}),
        )
        .await;
    assert_eq!(moved["status"], "queued", "{moved}");
    assert_eq!(moved["presence"], "wrap_up", "{moved}");
    assert_eq!(moved["unchanged"], false, "{moved}");
    // Ready before the wrap-up time is up ends it; the complaint comes back at its new stage.
    let ready = rig.ok("switchboard.cmd.agent.cara.ready", json!({})).await;
    assert_eq!(ready["presence"], "ready", "{ready}");
    let again = next_offer(&mut cara).await;
    assert_eq!(again["complaint_stage"], "stage_2", "{again}");

    // The same not-ready reason twice: the second changes nothing and says so.
    let first = rig
        .ok(
            "switchboard.cmd.agent.cara.not_ready",
            json!({"reason": "break"}),
        )
        .await;
    assert_eq!(first["unchanged"], false, "{first}");
    let repeat = rig
        .ok(
            "switchboard.cmd.agent.cara.not_ready",
            json!({"reason": "break"}),
        )
        .await;
    assert_eq!(
        (&repeat["unchanged"], &repeat["events"], &repeat["seq"]),
        (&json!(true), &json!(0), &json!(0)),
        "{repeat}"
    );
    rig.ok(
        "switchboard.cmd.agent.cara.not_ready",
        json!({"reason": "training"}),
    )
    .await;

    // The events stream, up to the new reason: one event per change, in order.
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let message = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("the events in time")
            .expect("subscription open");
        let event: Value = serde_json::from_slice(&message.payload).expect("JSON");
        let kind = event["type"].as_str().unwrap_or_default().to_owned();
        let reason = event["reason"].as_str().unwrap_or_default().to_owned();
        let last = kind == "agent_not_ready" && reason == "training";
        if [
            "contact_requeued",
            "complaint_stage_changed",
            "wrap_up_started",
            "wrap_up_ended",
            "agent_ready",
            "agent_not_ready",
        ]
        .contains(&kind.as_str())
            // Not the complaint's arrival at stage 1, nor Cara's first ready.
            && (kind != "complaint_stage_changed" || event["from"] != Value::Null)
            && (kind != "agent_ready" || !seen.is_empty())
        {
            seen.push(format!("{kind} {reason}").trim_end().to_owned());
        }
        if last {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "contact_requeued complaint_stage_changed",
            "complaint_stage_changed dissatisfied with the stage 1 response",
            "wrap_up_started",
            "wrap_up_ended",
            "agent_not_ready break",
            "agent_not_ready training",
        ]
    );
}

/// A calendar open all day every day, closed today and tomorrow (UTC): whatever the time the
/// test runs, the channel is closed now and opens at midnight after tomorrow.
fn closed_until_the_day_after_tomorrow() -> (
    std::sync::Arc<switchboard_calendar::BusinessCalendar>,
    String,
) {
    use switchboard_calendar::{BusinessCalendar, OpeningInterval, Period, WeeklyHours};
    let all_day = OpeningInterval::from_minutes(0, 24 * 60).expect("valid");
    let hours = WeeklyHours::every_day([all_day]).expect("valid hours");
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let tomorrow = today.tomorrow().expect("a tomorrow");
    let calendar = BusinessCalendar::new(jiff::tz::TimeZone::UTC, hours)
        .expect("valid")
        .with_closure(Period::days(today, tomorrow).expect("valid"));
    let opens = tomorrow.tomorrow().expect("a day after");
    (
        std::sync::Arc::new(calendar),
        format!("{opens}T00:00:00.000Z"),
    )
}

#[tokio::test]
async fn out_of_hours_a_call_is_refused_naming_the_opening_and_a_chat_is_held() {
    let (calendar, opens_at) = closed_until_the_day_after_tomorrow();
    let rule = |channel, out_of_hours| switchboard_core::OpeningRule {
        site: None,
        channel: Some(channel),
        calendar_name: "closure".into(),
        calendar: std::sync::Arc::clone(&calendar),
        out_of_hours: Some(out_of_hours),
    };
    let config = RoutingConfig {
        opening: vec![
            rule(
                switchboard_core::Channel::Phone,
                switchboard_core::OutOfHours::Refuse,
            ),
            rule(
                switchboard_core::Channel::Chat,
                switchboard_core::OutOfHours::Hold,
            ),
        ],
        ..RoutingConfig::default()
    };
    let rig = Rig::start_with(config).await;
    let mut ann = rig
        .agent(
            "ann",
            1,
            "hq",
            json!({"benefits": 3}),
            Some(json!({"chat": 2, "phone": 1})),
        )
        .await;
    let refused = rig
        .request(
            "switchboard.cmd.contact.create",
            json!({"contact_id": "call-1", "channel": "phone", "service": "benefits"}),
        )
        .await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"]["code"], "closed", "{refused}");
    assert_eq!(refused["error"]["opens_at"], opens_at.as_str(), "{refused}");
    rig.ok(
        "switchboard.cmd.contact.create",
        json!({"contact_id": "chat-1", "channel": "chat", "service": "benefits"}),
    )
    .await;
    let chat = rig
        .request("switchboard.query.contact", json!({"contact_id": "chat-1"}))
        .await;
    assert_eq!(chat["status"], "held", "{chat}");
    assert_eq!(chat["held_until"], opens_at.as_str(), "{chat}");
    assert!(
        ann.next().now_or_never().flatten().is_none(),
        "nothing is offered while closed"
    );
    // Nothing refused was recorded; the held chat was.
    let missing = rig
        .request("switchboard.query.contact", json!({"contact_id": "call-1"}))
        .await;
    assert_eq!(missing["status"], "unknown", "{missing}");
}

#[tokio::test]
async fn a_comma_separated_server_list_connects_to_a_server_that_answers() {
    let server = NatsServer::start().expect("nats-server starts");
    // Port 1 refuses connections; the list goes on to the harness's server.
    let settings = switchboard_nats::ConnectSettings {
        url: format!("nats://127.0.0.1:1, {}", server.client_url()),
        ..Default::default()
    };
    assert_eq!(settings.servers().expect("two servers").len(), 2);
    let client = switchboard_nats::connect(&settings)
        .await
        .expect("connects to the server that answers");
    assert_eq!(
        client.connection_state(),
        async_nats::connection::State::Connected
    );
    let mut echo = client.subscribe("echo").await.expect("subscribe");
    client
        .publish("echo", "hello".into())
        .await
        .expect("publish");
    let message = tokio::time::timeout(WAIT, echo.next())
        .await
        .expect("in time")
        .expect("a message");
    assert_eq!(message.payload.as_ref(), b"hello");

    let unusable = switchboard_nats::ConnectSettings {
        url: server.client_url(),
        user: Some("engine".to_owned()),
        ..Default::default()
    };
    let error = switchboard_nats::connect(&unusable)
        .await
        .expect_err("a user without a password");
    assert!(
        error
            .to_string()
            .contains("nats user is set but password is not"),
        "{error}"
    );
}

#[tokio::test]
async fn an_engine_refuses_a_stream_that_captures_another_prefix() {
    let server = NatsServer::start().expect("nats-server starts");
    let client = async_nats::connect(server.client_url())
        .await
        .expect("client connects");
    // Another engine's intake, under the name this engine's prefix would give.
    async_nats::jetstream::new(client.clone())
        .create_stream(async_nats::jetstream::stream::Config {
            name: "SWITCHBOARD_INBOX".to_owned(),
            subjects: vec!["elsewhere.inbox.>".to_owned()],
            ..Default::default()
        })
        .await
        .expect("the other engine's stream");
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = open_engine(dir.path(), RoutingConfig::default());
    let settings = DriverSettings::new(Subjects::new("switchboard").expect("prefix"));
    assert_eq!(settings.inbox_stream, "SWITCHBOARD_INBOX");
    let error = tokio::time::timeout(
        WAIT,
        switchboard_nats::run(client.clone(), engine, settings, std::future::pending()),
    )
    .await
    .expect("stops at once")
    .expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("SWITCHBOARD_INBOX captures [\"elsewhere.inbox.>\"]"),
        "{error}"
    );

    // An engine on its own prefix names its own streams and consumer and runs beside it.
    let council = DriverSettings::new(Subjects::new("council.contact-centre").expect("prefix"));
    assert_eq!(council.inbox_stream, "COUNCIL_CONTACT-CENTRE_INBOX");
    assert_eq!(council.events_stream, "COUNCIL_CONTACT-CENTRE_EVENTS");
    assert_eq!(council.inbox_consumer, "council_contact-centre-engine");
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = open_engine(dir.path(), RoutingConfig::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(switchboard_nats::run(
        client.clone(),
        engine,
        council,
        async {
            let _ = stopped.await;
        },
    ));
    wait_until_answering(&client, "council.contact-centre").await;
    let _ = stop.send(());
    tokio::time::timeout(WAIT, running)
        .await
        .expect("stops in time")
        .expect("task")
        .expect("clean stop");
}

/// The `Switchboard-Seq` of every message in the events stream, in the stream's order.
async fn events_in_stream(client: &Client) -> Vec<u64> {
    let mut stream = async_nats::jetstream::new(client.clone())
        .get_stream("SWITCHBOARD_EVENTS")
        .await
        .expect("the events stream");
    let state = stream.info().await.expect("stream info").state.clone();
    let mut seqs = Vec::new();
    for stream_seq in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        let message = stream
            .get_raw_message(stream_seq)
            .await
            .expect("a stored event");
        seqs.push(
            message
                .headers
                .get(switchboard_nats::SEQ_HEADER)
                .and_then(|v| v.as_str().parse().ok())
                .expect("every event names its sequence number"),
        );
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_the_stream_did_not_store_are_published_again_without_holding_up_routing() {
    let mut rig = Rig::start().await;
    let create = |id: &str| json!({"contact_id": id, "channel": "email", "service": "bins"});
    let first = rig.ok("switchboard.cmd.contact.create", create("a")).await;
    let stored_before = first["seq"].as_u64().expect("a sequence number");
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    while events_in_stream(&rig.client).await.last() != Some(&stored_before) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first events are stored"
        );
        poll.tick().await;
    }

    // The stream goes (an operator's mistake, a JetStream outage): routing goes on.
    let js = async_nats::jetstream::new(rig.client.clone());
    let config = js
        .get_stream("SWITCHBOARD_EVENTS")
        .await
        .expect("the events stream")
        .info()
        .await
        .expect("info")
        .config
        .clone();
    js.delete_stream("SWITCHBOARD_EVENTS")
        .await
        .expect("delete the events stream");
    let mut last = 0;
    for id in ["b", "c", "d"] {
        last = rig.ok("switchboard.cmd.contact.create", create(id)).await["seq"]
            .as_u64()
            .expect("a sequence number");
    }

    // Back: every event decided meanwhile is stored, once.
    js.create_stream(config)
        .await
        .expect("the events stream again");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let wanted: Vec<u64> = (stored_before + 1..=last).collect();
    loop {
        poll.tick().await;
        let mut stored = events_in_stream(&rig.client).await;
        stored.sort_unstable();
        let distinct = stored.len();
        stored.dedup();
        assert_eq!(stored.len(), distinct, "each event stored once: {stored:?}");
        // (Later events, timers say, may have followed; these must all be there.)
        if wanted.iter().all(|seq| stored.binary_search(seq).is_ok()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the events stream holds {stored:?}, not all of {wanted:?}"
        );
    }
    rig.stop_engine().await;
}
