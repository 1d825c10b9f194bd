//! Unit tests of the node's rules: what waits for which durable point, in what order, the
//! idempotency window, intake, queries, timers and a failed log.

use std::time::Duration;

use async_nats::Subject;
use bytes::Bytes;
use serde_json::{Value, json};
use switchboard_core::{Router, RoutingConfig, Timestamp};
use switchboard_privacy::DomainSecret;
use switchboard_wire::{Format, Subjects};

use super::*;

const START: Timestamp = Timestamp::from_millis(1_767_600_000_000);

fn settings(batch_max: usize) -> NodeSettings {
    NodeSettings {
        subjects: Subjects::new("sb").expect("a valid prefix"),
        batch_max,
        idempotency_window: Duration::from_secs(600),
        idempotency_entries_max: 1000,
    }
}

/// A sealer with a fixed domain secret and seed.
fn sealer() -> Sealer {
    Sealer::seeded(Keys::new(DomainSecret::from_bytes([3; 32])), [4; 32])
}

fn node() -> Node {
    node_with(settings(1024))
}

fn node_with(settings: NodeSettings) -> Node {
    let router = Router::new(RoutingConfig::default()).expect("the default configuration");
    Node::new(router, 0, settings, sealer())
}

fn request(subject: &str, body: &Value, reply: &str) -> Request {
    Request {
        subject: Subject::from(subject),
        reply: Some(Subject::from(reply)),
        content_type: None,
        msg_id: None,
        payload: Bytes::from(body.to_string()),
        mark: Mark(0),
    }
}

fn keyed(subject: &str, body: &Value, reply: &str, key: &str) -> Request {
    Request {
        msg_id: Some(key.to_owned()),
        ..request(subject, body, reply)
    }
}

fn create(id: &str) -> Value {
    json!({"contact_id": id, "channel": "phone", "service": "council_tax"})
}

fn login() -> Value {
    json!({"name": "Ann", "tier": 1, "site": "hq", "skills": {"council_tax": 3}})
}

/// Everything the node has to say now, the events feed's work left out.
fn drain(node: &mut Node) -> Vec<Transmit> {
    let mut out = Vec::new();
    while let Some(transmit) = node.poll_transmit(node.now) {
        if !matches!(transmit, Transmit::Feed(_)) {
            out.push(transmit);
        }
    }
    out
}

/// The replies among `transmits`, by reply subject, as JSON.
fn replies(transmits: &[Transmit]) -> Vec<(String, Value)> {
    transmits
        .iter()
        .filter_map(|t| match t {
            Transmit::Reply { to, body, .. } => Some((
                to.to_string(),
                serde_json::from_slice(body).expect("a JSON reply"),
            )),
            _ => None,
        })
        .collect()
}

fn events(count: u64) -> usize {
    usize::try_from(count).expect("a small count")
}

fn appended(transmits: &[Transmit]) -> Vec<(u64, usize)> {
    transmits
        .iter()
        .filter_map(|t| match t {
            Transmit::Append(append) => Some((append.first_seq, append.entries.len())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_reply_waits_until_its_turn_is_durable() {
    let mut node = node();
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c1"), "r1"),
        START,
    );
    let out = drain(&mut node);
    let last = node.last_decided();
    assert!(last >= 1);
    assert_eq!(
        appended(&out),
        [(1, events(last))],
        "the turn's events go to the log"
    );
    assert!(replies(&out).is_empty(), "no reply before it is durable");
    node.handle_durable(last - 1);
    assert!(
        replies(&drain(&mut node)).is_empty(),
        "nor before its last event is"
    );
    node.handle_durable(last);
    let out = drain(&mut node);
    let replies = replies(&out);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].0, "r1");
    assert_eq!(replies[0].1["ok"], true);
    assert_eq!(replies[0].1["seq"], last);
    assert!(
        out.iter()
            .any(|t| matches!(t, Transmit::Released { first_seq: 1, .. })),
        "the durable events are released to the log's followers"
    );
}

#[test]
fn a_refusal_waits_for_the_events_decided_before_it_and_turns_go_in_order() {
    let mut node = node();
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c1"), "r1"),
        START,
    );
    let last = node.last_decided();
    assert_eq!(appended(&drain(&mut node)), [(1, events(last))]);
    // A second turn without events: a duplicate, refused against a state holding the first's.
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c1"), "r2"),
        START,
    );
    let out = drain(&mut node);
    assert!(appended(&out).is_empty());
    assert!(
        replies(&out).is_empty(),
        "the refusal waits for the first turn"
    );
    node.handle_durable(last);
    let replies = replies(&drain(&mut node));
    let order: Vec<&str> = replies.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(order, ["r1", "r2"], "turns are released in order");
    assert_eq!(replies[1].1["error"]["code"], "duplicate_contact");
}

#[test]
fn a_later_durable_point_releases_every_turn_it_covers_and_no_more() {
    let mut node = node();
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c1"), "r1"),
        START,
    );
    drain(&mut node);
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c2"), "r2"),
        START,
    );
    drain(&mut node);
    let second = node.last_decided();
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c3"), "r3"),
        START,
    );
    assert_eq!(
        appended(&drain(&mut node)),
        [(second + 1, events(node.last_decided() - second))]
    );
    node.handle_durable(second);
    let order: Vec<String> = replies(&drain(&mut node))
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(order, ["r1", "r2"]);
    assert!(!node.is_settled());
    node.handle_durable(node.last_decided());
    let order: Vec<String> = replies(&drain(&mut node))
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(order, ["r3"]);
    assert!(node.is_settled());
}

#[test]
fn a_turn_gathers_what_comes_between_two_polls_up_to_the_bound() {
    let mut node = node_with(settings(2));
    for i in 0..5 {
        node.handle_request(
            &request("sb.cmd.contact.create", &create(&format!("c{i}")), "r"),
            START,
        );
    }
    let out = drain(&mut node);
    let per_contact = node.last_decided() / 5;
    let turns: Vec<usize> = appended(&out)
        .into_iter()
        .map(|(_, count)| count / events(per_contact))
        .collect();
    assert_eq!(turns, [2, 2, 1], "two full turns and the rest at the poll");
}

#[test]
fn a_repeated_key_gets_the_first_reply_in_its_own_format_and_no_second_effect() {
    let mut node = node();
    let subject = "sb.cmd.contact.create";
    node.handle_request(&keyed(subject, &create("c1"), "r1", "k"), START);
    // In the same turn, and in the next one, under the same key: no second decision.
    node.handle_request(&keyed(subject, &create("c1"), "r2", "k"), START);
    let last = node.last_decided();
    assert_eq!(appended(&drain(&mut node)), [(1, events(last))]);
    let mut postcard = keyed(subject, &create("c1"), "r3", "k");
    let decoded = switchboard_wire::decode_command(
        CommandKind::CreateContact,
        None,
        &postcard.payload,
        Format::Json,
    )
    .expect("a valid create");
    let (body, _) = switchboard_wire::CommandBody::from_command(&decoded.command, None);
    postcard.payload = Bytes::from(body.encode(Format::Postcard).expect("postcard"));
    postcard.content_type = Some(Format::POSTCARD_CONTENT_TYPE.to_owned());
    node.handle_request(&postcard, START);
    assert!(appended(&drain(&mut node)).is_empty());
    node.handle_durable(last);
    let out: Vec<Transmit> = drain(&mut node)
        .into_iter()
        .filter(|t| matches!(t, Transmit::Reply { .. }))
        .collect();
    let json = replies(&out[..2]);
    assert_eq!(json[0].1, json[1].1, "the repeat gets the first reply");
    let Transmit::Reply { to, body, .. } = &out[2] else {
        panic!("a reply: {:?}", out[2]);
    };
    assert_eq!(to.as_str(), "r3");
    let decoded = switchboard_wire::decode_reply(body, Format::Postcard).expect("postcard");
    let Reply::Ok(body) = decoded else {
        panic!("the first reply: {decoded:?}");
    };
    assert_eq!(body.seq, last);
    assert_eq!(node.state().contacts().count(), 1);
    assert_eq!(node.remembered(), 1);
}

#[test]
fn a_keyed_commands_reply_rides_into_the_log_and_a_restarted_node_answers_from_it() {
    let mut node = node();
    let subject = "sb.cmd.contact.create";
    node.handle_request(&keyed(subject, &create("c1"), "r1", "k"), START);
    // A refused keyed command (no events) keeps no receipt.
    node.handle_request(&keyed(subject, &create("c1"), "r2", "other"), START);
    let out = drain(&mut node);
    let Some(Transmit::Append(append)) = out.first() else {
        panic!("an append first: {out:?}");
    };
    let records: Vec<_> = append
        .entries
        .iter()
        .map(|entry| switchboard_wire::decode_record(&entry.payload).expect("a record"))
        .collect();
    let last = node.last_decided();
    let carried: Vec<(usize, &Receipt)> = records
        .iter()
        .enumerate()
        .filter_map(|(i, (_, receipt))| receipt.as_ref().map(|r| (i, r)))
        .collect();
    assert_eq!(carried.len(), 1, "one receipt: {records:?}");
    let (index, receipt) = carried[0];
    assert_eq!(index, records.len() - 1, "on the command's last event");
    assert_eq!(receipt.key, "create  k");
    assert_eq!(receipt.reply.seq, last);
    node.handle_durable(last);
    let first = replies(&drain(&mut node))[0].1.clone();

    // A new node over the same state, its window rebuilt from the receipts.
    let mut restarted = Node::new(node.into_router(), last, settings(1024), sealer());
    let receipts = vec![(START, receipt.clone())];
    restarted.restore_receipts(receipts.clone());
    let later = START + Duration::from_secs(30);
    restarted.handle_request(&keyed(subject, &create("c1"), "r3", "k"), later);
    restarted.handle_durable(last);
    let out = drain(&mut restarted);
    assert!(appended(&out).is_empty(), "no second effect");
    assert_eq!(replies(&out), [("r3".to_owned(), first)], "the first reply");

    // Past the window, the receipt is forgotten.
    let mut restarted = Node::new(restarted.into_router(), last, settings(1024), sealer());
    restarted.restore_receipts(receipts);
    let late = START + Duration::from_secs(600);
    restarted.handle_request(&keyed(subject, &create("c1"), "r4", "k"), late);
    drain(&mut restarted); // The core's timers due by then may have decided events.
    restarted.handle_durable(restarted.last_decided());
    let out = drain(&mut restarted);
    assert_eq!(replies(&out)[0].1["error"]["code"], "duplicate_contact");
}

#[test]
fn a_key_is_scoped_to_its_command_and_a_garbled_body_is_not_remembered() {
    let mut node = node();
    let garbled = json!({"contact_id": "c1", "channel": "fax"});
    node.handle_request(&keyed("sb.cmd.contact.create", &garbled, "r1", "k"), START);
    node.handle_request(
        &keyed("sb.cmd.contact.create", &create("c1"), "r2", "k"),
        START,
    );
    // Another kind of command under the same key is decided too.
    node.handle_request(&keyed("sb.cmd.agent.ann.login", &login(), "r3", "k"), START);
    drain(&mut node);
    node.handle_durable(node.last_decided());
    let replies = replies(&drain(&mut node));
    assert_eq!(replies[0].1["error"]["code"], "invalid_message");
    assert_eq!(replies[1].1["ok"], true, "the fixed command is decided");
    assert_eq!(
        replies[2].1["ok"], true,
        "a login under the same key is decided"
    );
}

#[test]
fn the_window_forgets_a_key_after_its_time() {
    let mut node = node();
    let subject = "sb.cmd.contact.create";
    node.handle_request(&keyed(subject, &create("c1"), "r1", "k"), START);
    drain(&mut node);
    node.handle_durable(node.last_decided());
    drain(&mut node);
    let within = START + Duration::from_secs(599);
    node.handle_request(&keyed(subject, &create("c1"), "r2", "k"), within);
    let later = START + Duration::from_secs(600);
    node.handle_request(&keyed(subject, &create("c1"), "r3", "k"), later);
    drain(&mut node);
    node.handle_durable(node.last_decided());
    let replies = replies(&drain(&mut node));
    assert_eq!(
        replies[0].1["ok"], true,
        "the first reply: {:?}",
        replies[0].1
    );
    assert_eq!(
        replies[1].1["error"]["code"], "duplicate_contact",
        "decided again: {:?}",
        replies[1].1
    );
}

#[test]
fn intake_is_acknowledged_once_durable_and_never_replied_to() {
    let mut node = node();
    let mut message = request("sb.inbox.contact.create", &create("c1"), "$JS.ACK.x");
    message.reply = None;
    node.handle_intake(&message, IntakeHandle(7), START);
    let out = drain(&mut node);
    assert_eq!(appended(&out), [(1, events(node.last_decided()))]);
    assert!(!out.iter().any(|t| matches!(t, Transmit::AckIntake { .. })));
    node.handle_durable(node.last_decided());
    let out = drain(&mut node);
    assert!(out.iter().any(|t| matches!(
        t,
        Transmit::AckIntake {
            handle: IntakeHandle(7),
            ..
        }
    )));
    assert!(replies(&out).is_empty());
}

#[test]
fn a_query_sees_every_command_before_it_and_waits_for_them_to_be_durable() {
    let mut node = node();
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c1"), "r1"),
        START,
    );
    node.handle_request(&request("sb.query.queues", &json!({}), "q1"), START);
    let out = drain(&mut node);
    assert!(replies(&out).is_empty());
    node.handle_durable(node.last_decided());
    let replies = replies(&drain(&mut node));
    assert_eq!(replies[1].0, "q1");
    assert!(
        replies[1].1.to_string().contains("council_tax"),
        "{}",
        replies[1].1
    );
}

#[test]
fn a_contact_history_is_read_once_durable_up_to_the_query() {
    let mut node = node();
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c1"), "r1"),
        START,
    );
    node.handle_request(
        &request("sb.query.contact", &json!({"contact_id": "c1"}), "q1"),
        START,
    );
    let out = drain(&mut node);
    assert!(
        !out.iter()
            .any(|t| matches!(t, Transmit::ReadHistory { .. }))
    );
    node.handle_durable(node.last_decided());
    let out = drain(&mut node);
    let Some(Transmit::ReadHistory { id, up_to, .. }) = out
        .iter()
        .find(|t| matches!(t, Transmit::ReadHistory { .. }))
        .cloned()
    else {
        panic!("a history read: {out:?}");
    };
    assert_eq!(up_to, node.last_decided());
    let created = node.state().contacts().count();
    assert_eq!(created, 1);
    node.handle_history(id, Some(Vec::new()));
    let replies = replies(&drain(&mut node));
    assert_eq!(replies[0].0, "q1");
    assert_eq!(replies[0].1["contact_id"], "c1");
}

#[test]
fn offers_and_notices_wait_for_their_turn() {
    let mut node = node();
    node.handle_request(&request("sb.cmd.agent.ann.login", &login(), "r1"), START);
    node.handle_request(&request("sb.cmd.agent.ann.ready", &json!({}), "r2"), START);
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c1"), "r3"),
        START,
    );
    let out = drain(&mut node);
    assert!(!out.iter().any(|t| matches!(t, Transmit::Notice { .. })));
    node.handle_durable(node.last_decided());
    let out = drain(&mut node);
    assert!(
        out.iter().any(|t| matches!(
            t,
            Transmit::Notice { subject, .. } if subject.as_str() == "sb.agent.ann.offer"
        )),
        "{out:?}"
    );
}

#[test]
fn the_cores_timers_decide_in_a_turn_of_their_own() {
    let mut node = node();
    node.handle_request(&request("sb.cmd.agent.ann.login", &login(), "r1"), START);
    node.handle_request(&request("sb.cmd.agent.ann.ready", &json!({}), "r2"), START);
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c1"), "r3"),
        START,
    );
    drain(&mut node);
    node.handle_durable(node.last_decided());
    drain(&mut node);
    let deadline = node.poll_timeout().expect("the offer's expiry");
    let before = node.last_decided();
    assert!(node.handle_timeout(deadline) > 0, "the offer expired");
    let out = drain(&mut node);
    assert_eq!(
        appended(&out),
        [(
            before + 1,
            usize::try_from(node.last_decided() - before).expect("small")
        )]
    );
}

#[test]
fn a_failed_log_answers_what_waits_unavailable_and_leaves_intake_unacknowledged() {
    let mut node = node();
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c1"), "r1"),
        START,
    );
    let mut message = request("sb.inbox.contact.create", &create("c2"), "x");
    message.reply = None;
    node.handle_intake(&message, IntakeHandle(1), START);
    drain(&mut node);
    node.handle_request(&request("sb.query.agents", &json!({}), "q1"), START);
    node.handle_log_failed();
    let out = drain(&mut node);
    assert!(
        appended(&out).is_empty(),
        "the open turn never goes to the log"
    );
    let replies = replies(&out);
    let to: Vec<&str> = replies.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(to, ["r1", "q1"]);
    assert!(
        replies
            .iter()
            .all(|(_, reply)| reply["error"]["code"] == "unavailable")
    );
    assert!(!out.iter().any(|t| matches!(t, Transmit::AckIntake { .. })));
    // Later requests are answered at once, unavailable.
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c3"), "r4"),
        START,
    );
    let replies = self::replies(&drain(&mut node));
    assert_eq!(replies[0].1["error"]["code"], "unavailable");
    assert!(node.has_failed());
}

#[test]
fn durable_events_go_to_the_events_feed_which_first_reads_the_streams_tail() {
    let mut node = node();
    node.handle_request(
        &request("sb.cmd.contact.create", &create("c1"), "r1"),
        START,
    );
    let out: Vec<Transmit> = std::iter::from_fn(|| node.poll_transmit(START)).collect();
    assert!(matches!(out[0], Transmit::Append(_)));
    assert!(
        matches!(out[1], Transmit::Feed(feed::Transmit::ReadStreamTail)),
        "{out:?}"
    );
    node.handle_stream_tail(Some(StreamTail::Empty), START);
    assert!(
        node.poll_transmit(START).is_none(),
        "nothing durable to publish"
    );
    node.handle_durable(node.last_decided());
    let publish = std::iter::from_fn(|| node.poll_transmit(START)).find_map(|t| match t {
        Transmit::Feed(feed::Transmit::Publish(publish)) => Some(publish),
        _ => None,
    });
    assert_eq!(publish.map(|p| p.seq), Some(1));
}

/// The test's personal data: a customer reference, a caller's number and name, a reason.
const PERSONAL: [&str; 4] = [
    "CUST-77001",
    "07700 900461",
    "Alice Example",
    "wants a manager",
];

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn personal_fields_are_sealed_into_the_log_and_opened_in_offers_and_the_feed() {
    let mut node = node();
    node.handle_request(&request("sb.cmd.agent.ann.login", &login(), "r1"), START);
    node.handle_request(&request("sb.cmd.agent.ann.ready", &json!({}), "r2"), START);
    let mut contact = create("c1");
    contact["customer_id"] = json!(PERSONAL[0]);
    contact["attributes"] = json!({"caller": PERSONAL[1], "name": PERSONAL[2]});
    node.handle_request(&request("sb.cmd.contact.create", &contact, "r3"), START);
    let out: Vec<Transmit> = std::iter::from_fn(|| node.poll_transmit(START)).collect();
    let save = out.iter().position(|t| matches!(t, Transmit::SaveKeys(_)));
    let append = out.iter().position(|t| matches!(t, Transmit::Append(_)));
    assert!(
        save.is_some() && save < append,
        "keys are saved first: {out:?}"
    );
    let Some(Transmit::Append(append)) = append.map(|i| &out[i]) else {
        panic!("an append");
    };
    for entry in &append.entries {
        for personal in PERSONAL {
            assert!(!contains(&entry.payload, personal), "{personal} in the log");
        }
    }
    node.handle_stream_tail(Some(StreamTail::Empty), START);
    node.handle_durable(node.last_decided());
    let out: Vec<Transmit> = std::iter::from_fn(|| node.poll_transmit(START)).collect();
    let offer = out
        .iter()
        .find_map(|t| match t {
            Transmit::Notice { subject, body } if subject.as_str() == "sb.agent.ann.offer" => {
                Some(body.clone())
            }
            _ => None,
        })
        .expect("an offer");
    let offer: Value = serde_json::from_slice(&offer).expect("JSON");
    assert_eq!(offer["customer_id"], PERSONAL[0]);
    assert_eq!(offer["attributes"]["caller"], PERSONAL[1]);
    let feed: Vec<u8> = out
        .iter()
        .filter_map(|t| match t {
            Transmit::Feed(feed::Transmit::Publish(publish)) => Some(publish.body.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    for personal in &PERSONAL[..3] {
        assert!(contains(&feed, personal), "{personal} on the feed");
    }
}

/// The `contact_created` events among an append's entries.
fn created_in(transmits: &[Transmit]) -> Vec<switchboard_core::event::ContactCreated> {
    transmits
        .iter()
        .filter_map(|t| match t {
            Transmit::Append(append) => Some(append.events.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|e| match &e.kind {
            EventKind::ContactCreated(c) => Some((**c).clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_returning_customer_goes_back_to_their_last_agent_across_a_restart_though_sealed() {
    let mut node = node();
    node.handle_request(&request("sb.cmd.agent.ann.login", &login(), "r1"), START);
    node.handle_request(&request("sb.cmd.agent.ann.ready", &json!({}), "r2"), START);
    let mut first = create("c1");
    first["customer_id"] = json!(PERSONAL[0]);
    node.handle_request(&request("sb.cmd.contact.create", &first, "r3"), START);
    drain(&mut node);
    let accept = json!({"offer_id": 1});
    node.handle_request(&request("sb.cmd.agent.ann.accept", &accept, "r4"), START);
    let complete = json!({"contact_id": "c1", "outcome": "resolved"});
    node.handle_request(
        &request("sb.cmd.agent.ann.complete", &complete, "r5"),
        START,
    );
    drain(&mut node);
    let last = node.last_decided();
    node.handle_durable(last);
    drain(&mut node);

    // A restart: the keystore's keys, a generator seeded otherwise.
    let keys = node.sealer.keys().clone();
    let sealer = Sealer::seeded(keys, [8; 32]);
    let mut restarted = Node::new(node.into_router(), last, settings(1024), sealer);
    let mut again = create("c2");
    again["customer_id"] = json!(PERSONAL[0]);
    let later = START + Duration::from_secs(60);
    restarted.handle_request(&request("sb.cmd.contact.create", &again, "r6"), later);
    let created = created_in(&drain(&mut restarted));
    assert_eq!(created.len(), 1);
    let details = &created[0].details;
    assert_eq!(
        details.preferred_agent.as_ref().map(|a| a.as_str()),
        Some("ann"),
        "the last agent, found through the sealed reference: {details:?}"
    );
    let customer = details.customer.as_ref().expect("a customer").to_string();
    assert!(customer.starts_with(switchboard_privacy::TOKEN_PREFIX));
    assert!(!customer.contains(PERSONAL[0]));
}

#[test]
fn a_contact_history_read_from_the_log_carries_its_personal_fields_opened() {
    let mut node = node();
    let mut contact = create("c1");
    contact["customer_id"] = json!(PERSONAL[0]);
    contact["attributes"] = json!({"caller": PERSONAL[1]});
    node.handle_request(&request("sb.cmd.contact.create", &contact, "r1"), START);
    node.handle_request(
        &request("sb.query.contact", &json!({"contact_id": "c1"}), "q1"),
        START,
    );
    let out = drain(&mut node);
    // What the log holds: the turn's events, sealed.
    let logged: Vec<(u64, Event)> = out
        .iter()
        .filter_map(|t| match t {
            Transmit::Append(append) => Some(
                (append.first_seq..)
                    .zip(append.events.iter().cloned())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(!format!("{logged:?}").contains(PERSONAL[1]));
    node.handle_durable(node.last_decided());
    let out = drain(&mut node);
    let Some(Transmit::ReadHistory { id, .. }) = out
        .iter()
        .find(|t| matches!(t, Transmit::ReadHistory { .. }))
        .cloned()
    else {
        panic!("a history read: {out:?}");
    };
    node.handle_history(id, Some(logged));
    let replies = replies(&drain(&mut node));
    let history = replies[0].1["history"].to_string();
    assert!(
        history.contains(PERSONAL[0]) && history.contains(PERSONAL[1]),
        "{history}"
    );
    assert!(!history.contains(switchboard_privacy::TOKEN_PREFIX));
}

/// The replies of what the node has to say now, once durable.
fn durable_replies(node: &mut Node) -> Vec<(String, Value)> {
    let out = drain(node);
    node.handle_durable(node.last_decided());
    let mut all = out;
    all.extend(drain(node));
    replies(&all)
}

#[test]
fn an_erasure_waits_for_the_customers_contact_then_destroys_the_key_and_the_feed_shows_erased() {
    let mut node = node();
    node.handle_stream_tail(Some(StreamTail::Empty), START);
    let mut contact = create("c1");
    contact["customer_id"] = json!(PERSONAL[0]);
    contact["attributes"] = json!({"caller": PERSONAL[1]});
    node.handle_request(&request("sb.cmd.contact.create", &contact, "r1"), START);
    let created = created_in(&drain(&mut node)).remove(0);
    node.handle_durable(node.last_decided());
    drain(&mut node);
    let subject = node.sealer.keys().customer(PERSONAL[0]);
    assert!(node.sealer.keys().holds(subject));

    // The contact is waiting: the erasure waits for it, and the key lives on meanwhile.
    let erase = json!({"customer_id": PERSONAL[0]});
    node.handle_request(&request("sb.cmd.privacy.erase", &erase, "r2"), START);
    let answered = durable_replies(&mut node);
    assert_eq!(answered[0].1["erasure"], "deferred", "{answered:?}");
    assert!(node.sealer.keys().holds(subject));

    // It ends: the erasure is carried out in the same turn, and the key goes.
    node.handle_request(
        &request("sb.cmd.contact.abandon", &json!({"contact_id": "c1"}), "r3"),
        START,
    );
    let out: Vec<Transmit> = std::iter::from_fn(|| node.poll_transmit(START)).collect();
    let destroyed: Vec<_> = out
        .iter()
        .filter_map(|t| match t {
            Transmit::SaveKeys(delta) => Some(delta.destroyed.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(destroyed, [subject], "the keystore is told to destroy it");
    assert!(!node.sealer.keys().holds(subject));
    let Some(Transmit::Append(append)) = out.iter().find(|t| matches!(t, Transmit::Append(_)))
    else {
        panic!("an append: {out:?}");
    };
    let erased = append
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::PersonalDataErased(erased) => Some(erased.clone()),
            _ => None,
        })
        .expect("personal_data_erased");
    assert_eq!(&*erased.subject, subject.to_string());
    for entry in &append.entries {
        assert!(
            !contains(&entry.payload, PERSONAL[0]),
            "the reference in the log"
        );
    }
    node.handle_durable(node.last_decided());
    let out: Vec<Transmit> = std::iter::from_fn(|| node.poll_transmit(START)).collect();
    assert_eq!(replies(&out)[0].1["erasure"], "erased");
    // What the feed, offers and histories show of the contact from now on.
    let shown = open_for_output(
        node.sealer.keys(),
        Event {
            at: START,
            kind: EventKind::ContactCreated(Box::new(created)),
        },
    );
    let EventKind::ContactCreated(shown) = shown.kind else {
        panic!("a contact_created");
    };
    assert_eq!(shown.details.customer.as_deref(), Some("[erased]"));
    assert_eq!(&*shown.details.attributes[0].1, "[erased]");

    // Asked again: nothing is held any more; the request is still recorded, by pseudonym.
    node.handle_request(&request("sb.cmd.privacy.erase", &erase, "r4"), START);
    let answered = durable_replies(&mut node);
    assert_eq!(answered[0].1["erasure"], "nothing_held", "{answered:?}");
}

/// An instant in UTC, e.g. `"2028-02-29T10:00"`.
fn utc(text: &str) -> Timestamp {
    let at: jiff::Timestamp = format!("{text}:00Z").parse().expect("an instant");
    Timestamp::from_millis(u64::try_from(at.as_millisecond()).expect("after 1970"))
}

/// The subjects whose keys the turns decided up to now destroyed, and the erasures' reasons.
fn shredded(node: &mut Node) -> Vec<(switchboard_privacy::Pseudonym, ErasureReasonName)> {
    let out: Vec<Transmit> = std::iter::from_fn(|| node.poll_transmit(node.now)).collect();
    node.handle_durable(node.last_decided());
    out.iter()
        .filter_map(|t| match t {
            Transmit::Append(append) => Some(append.events.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|e| match &e.kind {
            EventKind::PersonalDataErased(erased) => Some((
                switchboard_privacy::Pseudonym::parse_hex(&erased.subject).expect("hex"),
                erased.reason.name(),
            )),
            _ => None,
        })
        .collect()
}

type ErasureReasonName = &'static str;

#[test]
fn retention_shreds_six_years_after_the_last_contact_across_a_leap_day_and_a_return_restarts_it() {
    let mut node = node();
    let schedule = RetentionSchedule {
        default: switchboard_privacy::RetentionPeriod::parse("2y").expect("a period"),
        services: [(
            "council_tax".to_owned(),
            switchboard_privacy::RetentionPeriod::parse("6y").expect("a period"),
        )]
        .into(),
    };
    node.set_retention(schedule);
    let leap_day = utc("2028-02-29T10:00");
    node.handle_stream_tail(Some(StreamTail::Empty), leap_day);
    // The log up to the start is folded off the loop; here it was empty.
    node.handle_retention_fold(RetentionFold::new(), leap_day);
    for (contact, customer) in [("c1", "CUST-A"), ("c2", "CUST-B")] {
        let mut body = create(contact);
        body["customer_id"] = json!(customer);
        body["attributes"] = json!({"caller": "07700 900001"});
        node.handle_request(&request("sb.cmd.contact.create", &body, "r"), leap_day);
        let abandon = json!({"contact_id": contact});
        node.handle_request(&request("sb.cmd.contact.abandon", &abandon, "r"), leap_day);
    }
    let a = node.sealer.keys().customer("CUST-A");
    let b = node.sealer.keys().customer("CUST-B");
    assert!(shredded(&mut node).is_empty());
    // Customer B comes back three years on: their clock restarts.
    let back = utc("2031-01-01T10:00");
    let mut body = create("c3");
    body["customer_id"] = json!("CUST-B");
    node.handle_request(&request("sb.cmd.contact.create", &body, "r"), back);
    let abandon = json!({"contact_id": "c3"});
    node.handle_request(&request("sb.cmd.contact.abandon", &abandon, "r"), back);
    assert!(shredded(&mut node).is_empty());

    // Six years from 29 February 2028 is 28 February 2034 (2034 has no 29 February).
    node.handle_timeout(utc("2034-02-28T09:00"));
    assert!(shredded(&mut node).is_empty(), "an hour early");
    assert_eq!(
        node.poll_timeout(),
        Some(utc("2034-02-28T10:00")),
        "checked again within the hour"
    );
    node.handle_timeout(utc("2034-02-28T10:00"));
    assert_eq!(shredded(&mut node), [(a, "retention")]);
    assert!(!node.sealer.keys().holds(a), "A's key is destroyed");
    assert!(node.sealer.keys().holds(b), "B came back: kept");
    node.handle_timeout(utc("2037-01-01T09:00"));
    assert!(shredded(&mut node).is_empty(), "B's six years end at 10:00");
    node.handle_timeout(utc("2037-01-01T10:00"));
    assert_eq!(shredded(&mut node), [(b, "retention")]);
    node.handle_timeout(utc("2037-01-01T11:00"));
    assert!(shredded(&mut node).is_empty(), "shredded once");
}

#[test]
fn retention_waits_for_the_start_up_fold_then_counts_what_was_decided_meanwhile() {
    let mut node = node();
    let schedule = RetentionSchedule {
        default: switchboard_privacy::RetentionPeriod::parse("90d").expect("a period"),
        services: BTreeMap::new(),
    };
    node.set_retention(schedule);
    node.handle_stream_tail(Some(StreamTail::Empty), START);
    // Decided before the fold of the log is back.
    let mut body = create("c1");
    body["customer_id"] = json!("CUST-A");
    node.handle_request(&request("sb.cmd.contact.create", &body, "r"), START);
    let abandon = json!({"contact_id": "c1"});
    node.handle_request(&request("sb.cmd.contact.abandon", &abandon, "r"), START);
    let later = START + Duration::from_secs(91 * 24 * 3600);
    assert_eq!(
        node.poll_timeout().filter(|&at| at <= later),
        None,
        "no check yet"
    );
    node.handle_timeout(later);
    assert!(
        shredded(&mut node).is_empty(),
        "nothing is shredded before the fold"
    );
    node.handle_retention_fold(RetentionFold::new(), later);
    node.handle_timeout(later);
    let a = node.sealer.keys().customer("CUST-A");
    assert_eq!(shredded(&mut node), [(a, "retention")]);
}

#[test]
fn staff_reasons_are_sealed_in_the_log_and_opened_for_the_agents_query_and_the_desktop() {
    const WHY: &str = "hospital appointment for my son";
    let mut node = node();
    node.handle_stream_tail(Some(StreamTail::Empty), START);
    node.handle_request(&request("sb.cmd.agent.ann.login", &login(), "r1"), START);
    let not_ready = json!({"reason": WHY});
    node.handle_request(
        &request("sb.cmd.agent.ann.not_ready", &not_ready, "r2"),
        START,
    );
    let out: Vec<Transmit> = std::iter::from_fn(|| node.poll_transmit(START)).collect();
    for entry in out.iter().filter_map(|t| match t {
        Transmit::Append(append) => Some(&append.entries),
        _ => None,
    }) {
        for entry in entry {
            assert!(!contains(&entry.payload, WHY), "the reason in the log");
        }
    }
    node.handle_durable(node.last_decided());
    let out: Vec<Transmit> = std::iter::from_fn(|| node.poll_transmit(START)).collect();
    let notice = out
        .iter()
        .filter_map(|t| match t {
            Transmit::Notice { subject, body } if subject.as_str() == "sb.agent.ann.state" => {
                Some(serde_json::from_slice::<Value>(body).expect("JSON"))
            }
            _ => None,
        })
        .last()
        .expect("a state notice after the login's");
    assert_eq!(notice["reason"], WHY, "{notice}");
    // The same reason again changes nothing (its token is stable under the agent's key).
    node.handle_request(
        &request("sb.cmd.agent.ann.not_ready", &not_ready, "r3"),
        START,
    );
    let answered = durable_replies(&mut node);
    assert_eq!(answered[0].1["unchanged"], true, "{answered:?}");
    node.handle_request(&request("sb.query.agents", &json!({}), "r4"), START);
    let answered = durable_replies(&mut node);
    assert_eq!(answered[0].1["agents"][0]["reason"], WHY, "{answered:?}");
}
