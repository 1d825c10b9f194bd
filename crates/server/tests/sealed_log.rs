//! Personal data is sealed on disk (docs/privacy.md): a real `switchboard serve` over a real
//! nats-server is sent contacts with customer references, caller numbers, names and free text;
//! the desktop's offer and the events feed carry them in the clear, while the raw bytes of every
//! file the engine wrote in its data directory (log segments, snapshots; the keystore aside)
//! hold none of them. `audit show --customer`, given the keystore, opens them again, and the
//! chain verifies. Without its keystore the engine still routes, and what the lost keystore
//! sealed reads as `[erased]`. And the simulator's log (`switchboard simulate`) holds no personal field
//! other than sealed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use switchboard_core::EventKind;
use switchboard_natsd::NatsServer;

mod common;
use common::{
    files_under, json as output_json, scenario, send_ok, start_engine, stop_cleanly, switchboard,
    text, wait_until_serving,
};

/// The test's personal data, looked for as bytes.
const CUSTOMER: &str = "CUST-77001";
const OTHER_CUSTOMER: &str = "CUST-77002";
const FINISHED_CUSTOMER: &str = "CUST-77003";
const CALLER: &str = "07700 900461";
const NAME: &str = "Alice Example";
const NOTE: &str = "lives at 12 Acacia Avenue";
const REASON: &str = "awaiting documents from Alice";
const POLICY: &str = "abusive calls from 07700 900999";
const PERSONAL: [&str; 8] = [
    CUSTOMER,
    OTHER_CUSTOMER,
    FINISHED_CUSTOMER,
    CALLER,
    NAME,
    NOTE,
    REASON,
    POLICY,
];

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The files the engine wrote, the keystore aside, and the personal data any of them holds.
fn plaintext_on_disk(dir: &Path) -> (Vec<PathBuf>, Vec<(PathBuf, &'static str)>) {
    let written: Vec<PathBuf> = files_under(dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with(switchboard_privacy::KEYSTORE_FILE)
        })
        .collect();
    let mut found = Vec::new();
    for path in &written {
        let bytes = std::fs::read(path).expect("readable");
        for personal in PERSONAL {
            if holds(&bytes, personal) {
                found.push((path.clone(), personal));
            }
        }
    }
    (written, found)
}

/// Sends the personal data: a phone call and an e-mail of one customer (attributes, and the
/// reason for extending the e-mail's due time), and a persistent-complainant decision about
/// another. Returns the offer the agent's desktop received.
async fn send_personal_data(client: &async_nats::Client) -> Value {
    let mut offers = client
        .subscribe("switchboard.agent.ann.offer")
        .await
        .expect("subscribe");
    let login = json!({"name": "Ann", "tier": 1, "site": "hq", "skills": {"council_tax": 3}});
    send_ok(client, "switchboard.cmd.agent.ann.login", login).await;
    send_ok(client, "switchboard.cmd.agent.ann.ready", json!({})).await;
    // A first customer's call, answered and finished: their retention clock runs.
    let first = json!({"contact_id": "call-0", "channel": "phone", "service": "council_tax",
        "customer_id": FINISHED_CUSTOMER});
    send_ok(client, "switchboard.cmd.contact.create", first).await;
    let offer = next_offer(&mut offers).await;
    let accept = json!({"offer_id": offer["offer_id"]});
    send_ok(client, "switchboard.cmd.agent.ann.accept", accept).await;
    let complete = json!({"contact_id": "call-0", "outcome": "resolved"});
    send_ok(client, "switchboard.cmd.agent.ann.complete", complete).await;
    send_ok(client, "switchboard.cmd.agent.ann.ready", json!({})).await;
    let call = json!({"contact_id": "call-1", "channel": "phone", "service": "council_tax",
        "customer_id": CUSTOMER, "attributes": {"caller": CALLER, "name": NAME}});
    send_ok(client, "switchboard.cmd.contact.create", call).await;
    let email = json!({"contact_id": "mail-1", "channel": "email", "service": "council_tax",
        "customer_id": CUSTOMER, "attributes": {"note": NOTE}});
    send_ok(client, "switchboard.cmd.contact.create", email).await;
    let extend = json!({"contact_id": "mail-1", "working_days": 5, "reason": REASON});
    send_ok(client, "switchboard.cmd.contact.extend_due", extend).await;
    let mark = json!({"customer_id": OTHER_CUSTOMER, "designated": true, "reason": POLICY});
    send_ok(
        client,
        "switchboard.cmd.customer.persistent_complainant",
        mark,
    )
    .await;
    next_offer(&mut offers).await
}

async fn next_offer(offers: &mut async_nats::Subscriber) -> Value {
    let offer = tokio::time::timeout(Duration::from_secs(10), offers.next())
        .await
        .expect("an offer in time")
        .expect("an offer");
    serde_json::from_slice(&offer.payload).expect("a JSON offer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_is_written_in_plaintext_and_output_opens_it() {
    let server = NatsServer::start().expect("nats-server starts");
    let url = server.client_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let client = async_nats::connect(url.as_str()).await.expect("connect");
    let mut feed = client
        .subscribe("switchboard.events.>")
        .await
        .expect("subscribe");
    let mut engine = start_engine(&url, dir.path());
    wait_until_serving(&client).await;

    let offer = send_personal_data(&client).await;
    assert_eq!(
        offer["customer_id"], CUSTOMER,
        "the desktop sees the reference"
    );
    assert_eq!(offer["attributes"]["caller"], CALLER);
    assert_eq!(offer["attributes"]["name"], NAME);

    // The events feed carries them opened: read until the persistent-complainant decision.
    let mut published = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !holds(&published, POLICY) {
        let message = tokio::time::timeout_at(deadline, feed.next())
            .await
            .expect("the feed publishes every event in time")
            .expect("a message");
        published.extend_from_slice(&message.payload);
    }
    for personal in PERSONAL {
        assert!(holds(&published, personal), "{personal} is on the feed");
    }
    assert!(!holds(&published, switchboard_privacy::TOKEN_PREFIX));

    // A clean stop writes a snapshot too.
    stop_cleanly(&mut engine);

    let (written, found) = plaintext_on_disk(dir.path());
    assert!(
        written
            .iter()
            .any(|p| p.to_string_lossy().contains("snapshot")),
        "a snapshot was written: {written:?}"
    );
    assert!(written.len() >= 2, "segments and snapshots: {written:?}");
    assert!(
        found.is_empty(),
        "personal data in plaintext on disk: {found:?}"
    );
    assert!(
        files_under(dir.path())
            .iter()
            .any(|p| p.ends_with(switchboard_privacy::KEYSTORE_FILE)),
        "the keystore is in the data directory"
    );

    // Given the keystore, a subject access request opens what the log holds.
    let d = dir.path().to_str().expect("utf-8");
    let verified = switchboard(&["audit", "verify", "--data-dir", d]);
    assert!(verified.status.success(), "{}", text(&verified));
    let shown = switchboard(&[
        "audit",
        "show",
        "--data-dir",
        d,
        "--customer",
        CUSTOMER,
        "--json",
    ]);
    assert!(shown.status.success(), "{}", text(&shown));
    let shown = output_json(&shown).to_string();
    for personal in [CUSTOMER, CALLER, NAME, NOTE, REASON] {
        assert!(
            shown.contains(personal),
            "{personal} in audit show: {shown}"
        );
    }

    // The retention report names customers by their reference, opened with the keystore.
    let config = dir.path().join("switchboard.toml");
    std::fs::write(&config, "[retention]\ndefault = \"2y\"\n").expect("config");
    let config = config.to_str().expect("utf-8");
    let report = switchboard(&[
        "privacy",
        "report",
        "--data-dir",
        d,
        "--config",
        config,
        "--json",
    ]);
    assert!(report.status.success(), "{}", text(&report));
    let report = output_json(&report).to_string();
    assert!(
        report.contains(FINISHED_CUSTOMER) && !report.contains(switchboard_privacy::TOKEN_PREFIX),
        "{report}"
    );
    std::fs::remove_file(config).expect("removed");

    lose_the_keystore(&url, dir.path(), &client).await;
}

/// Without its keystore the engine still routes (a new keystore is made, and an error says so),
/// and what the lost one sealed reads as `[erased]` for good.
async fn lose_the_keystore(url: &str, dir: &Path, client: &async_nats::Client) {
    for path in files_under(dir) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(switchboard_privacy::KEYSTORE_FILE) {
            std::fs::remove_file(&path).expect("removed");
        }
    }
    // With no keystore at all, audit show says why what it prints is sealed.
    let d = dir.to_str().expect("utf-8");
    let shown = switchboard(&["audit", "show", "--data-dir", d, "--contact", "call-1"]);
    assert!(shown.status.success(), "{}", text(&shown));
    assert!(
        text(&shown)
            .contains("Personal fields are shown sealed (`sealed:...`): no keystore was found"),
        "{}",
        text(&shown)
    );
    let mut engine = start_engine(url, dir);
    wait_until_serving(client).await;
    let after = json!({"contact_id": "call-2", "channel": "phone", "service": "council_tax",
        "customer_id": CUSTOMER});
    send_ok(client, "switchboard.cmd.contact.create", after).await;
    stop_cleanly(&mut engine);
    let shown = switchboard(&[
        "audit",
        "show",
        "--data-dir",
        d,
        "--contact",
        "call-1",
        "--json",
    ]);
    assert!(shown.status.success(), "{}", text(&shown));
    let shown = output_json(&shown).to_string();
    assert!(shown.contains("[erased]"), "{shown}");
    for personal in [CUSTOMER, CALLER, NAME] {
        assert!(
            !shown.contains(personal),
            "{personal} survived the keystore: {shown}"
        );
    }
    let (_, found) = plaintext_on_disk(dir);
    assert!(
        found.is_empty(),
        "personal data in plaintext on disk: {found:?}"
    );
}

/// The reasons the simulator gives itself: codes, about no one.
const SIMULATOR_REASONS: [&str; 1] = ["beyond_tier"];

fn sealed(seq: u64, text: &str) {
    assert!(
        switchboard_privacy::parse_token(text).is_some() || SIMULATOR_REASONS.contains(&text),
        "record {seq}: {text} is neither sealed nor one of the simulator's codes"
    );
}

#[test]
fn the_simulators_log_holds_no_personal_field_in_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("log");
    let d = d.to_str().expect("utf-8");
    let ran = switchboard(&[
        "simulate",
        "--scenario",
        &scenario("council.toml"),
        "--data-dir",
        d,
    ]);
    assert!(ran.status.success(), "{}", text(&ran));
    let reader = switchboard_log::LogReader::open(Path::new(d)).expect("a log");
    let mut events = 0;
    for record in reader.read_from(1).expect("records") {
        let record = record.expect("a record");
        let event = switchboard_wire::decode_event(&record.payload).expect("an event");
        events += 1;
        // The simulator's contacts carry no customer reference and no attributes (it makes
        // up contacts, not people); free text about a contact is either sealed or one of the
        // simulator's own codes.
        match &event.kind {
            EventKind::ContactCreated(created) => {
                let d = &created.details;
                assert!(
                    d.customer.is_none() && d.attributes.is_empty(),
                    "record {}: {d:?}",
                    record.seq
                );
            }
            EventKind::ContactEscalated { reason, .. } => sealed(record.seq, reason),
            EventKind::DueTimeExtended(extended) => sealed(record.seq, &extended.reason),
            EventKind::PersistentComplainantMarked {
                customer, reason, ..
            } => {
                sealed(record.seq, customer.as_str());
                sealed(record.seq, reason);
            }
            _ => {}
        }
    }
    assert!(events > 100, "the simulation wrote a log ({events} events)");
}
