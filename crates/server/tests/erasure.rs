//! Erasure of a customer's personal data, as a data protection administrator does it
//! (docs/privacy.md): a real `switchboard serve` over a real nats-server holds a customer's
//! contact in progress; `switchboard privacy erase --customer` defers the erasure until the
//! contact ends, and the key is destroyed as it does. Afterwards no file in the data directory
//! holds the customer's reference, caller number or key bytes; the chain verifies; `audit show`
//! and the events feed show `[erased]`; the engine restarts (a full replay) and routes the same
//! customer again under a new key; the log records the erasure by pseudonym only.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use switchboard_natsd::NatsServer;
use switchboard_privacy::{FileKeystore, KEYSTORE_FILE};

mod common;
use common::{
    files_under, json as output_json, send_ok, start_engine, stop_cleanly, switchboard, text,
    wait_until_serving,
};

const CUSTOMER: &str = "CUST-ERASE-1";
const CALLER: &str = "07700 900123";

fn holds(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// The customer's pseudonym (hex) and key bytes, from the keystore file.
fn customer_key(dir: &Path) -> (String, [u8; 32]) {
    let store = FileKeystore::open(dir.join(KEYSTORE_FILE)).expect("the keystore");
    let subject = store.keys().customer(CUSTOMER);
    let key = store
        .keys()
        .iter()
        .find(|(s, _)| **s == subject)
        .map(|(_, key)| *key.as_bytes())
        .expect("the customer has a key");
    (subject.to_string(), key)
}

/// `switchboard privacy erase` as the administrator runs it; its output.
fn erase(url: &str, json: bool) -> std::process::Output {
    let mut args = vec![
        "privacy",
        "erase",
        "--customer",
        CUSTOMER,
        "--nats-url",
        url,
    ];
    if json {
        args.push("--json");
    }
    let erased = switchboard(&args);
    assert!(erased.status.success(), "{}", text(&erased));
    erased
}

/// Reads the feed until an event of `event_type` arrives; returns it.
async fn next_of(feed: &mut async_nats::Subscriber, event_type: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let message = tokio::time::timeout_at(deadline, feed.next())
            .await
            .unwrap_or_else(|_| panic!("no {event_type} on the feed in time"))
            .expect("a message");
        if message.subject.as_str().ends_with(event_type) {
            return serde_json::from_slice(&message.payload).expect("JSON");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customer_is_gone_from_disk_and_output_and_the_trail_still_verifies() {
    let server = NatsServer::start().expect("nats-server starts");
    let url = server.client_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8");
    let client = async_nats::connect(url.as_str()).await.expect("connect");
    let mut feed = client
        .subscribe("switchboard.events.>")
        .await
        .expect("subscribe");
    let mut engine = start_engine(&url, dir.path());
    wait_until_serving(&client).await;

    // A call waits: nobody is logged in.
    let call = json!({"contact_id": "call-1", "channel": "phone", "service": "council_tax",
        "customer_id": CUSTOMER, "attributes": {"caller": CALLER}});
    send_ok(&client, "switchboard.cmd.contact.create", call).await;
    let (subject, key) = customer_key(dir.path());

    let deferred = erase(&url, false);
    assert!(
        text(&deferred).starts_with("Deferred: customer CUST-ERASE-1 has contacts in progress"),
        "{}",
        text(&deferred)
    );
    let event = next_of(&mut feed, "personal_data_erasure_deferred").await;
    assert_eq!(event["subject"], subject.as_str(), "{event}");
    assert_eq!(event["live_contacts"], 1, "{event}");
    let again = erase(&url, false);
    assert!(
        text(&again).starts_with("Already waiting"),
        "{}",
        text(&again)
    );

    // The caller hangs up: the erasure is carried out with it.
    let abandoned = send_ok(
        &client,
        "switchboard.cmd.contact.abandon",
        json!({"contact_id": "call-1"}),
    )
    .await;
    assert_eq!(abandoned["erasure"], "erased", "{abandoned}");
    let event = next_of(&mut feed, "personal_data_erased").await;
    assert_eq!(event["subject"], subject.as_str(), "{event}");
    assert_eq!(event["customer_id"], "[erased]", "{event}");
    assert!(!event.to_string().contains(CUSTOMER));
    // Asked for again: nothing is held; the request is still recorded.
    let repeated = output_json(&erase(&url, true));
    assert_eq!(repeated["reply"]["erasure"], "nothing_held", "{repeated}");
    stop_cleanly(&mut engine);

    // Nothing left on disk: not the reference, not the caller, not the key.
    for path in files_under(dir.path()) {
        let bytes = std::fs::read(&path).expect("readable");
        for (what, needle) in [
            ("the reference", CUSTOMER.as_bytes()),
            ("the caller", CALLER.as_bytes()),
            ("the key", &key[..]),
        ] {
            assert!(!holds(&bytes, needle), "{what} in {}", path.display());
        }
    }
    let verified = switchboard(&["audit", "verify", "--data-dir", d]);
    assert!(verified.status.success(), "{}", text(&verified));
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
    assert!(!shown.contains(CALLER), "{shown}");

    // A full replay (no snapshot) works, and the customer comes back under a new key.
    for path in files_under(dir.path()) {
        if path.to_string_lossy().contains("snapshot") {
            std::fs::remove_file(&path).expect("removed");
        }
    }
    let mut engine = start_engine(&url, dir.path());
    wait_until_serving(&client).await;
    let back = json!({"contact_id": "call-2", "channel": "phone", "service": "council_tax",
        "customer_id": CUSTOMER});
    send_ok(&client, "switchboard.cmd.contact.create", back).await;
    let (same_subject, new_key) = customer_key(dir.path());
    assert_eq!(same_subject, subject, "the pseudonym is the reference's");
    assert_ne!(new_key, key, "a new key: not linked to the erased data");
    stop_cleanly(&mut engine);
    let verified = switchboard(&["audit", "verify", "--data-dir", d]);
    assert!(verified.status.success(), "{}", text(&verified));
}
