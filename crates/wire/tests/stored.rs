//! Stored events: the golden files of versions 1 to 5, round trips of random workloads (with
//! receipts), and bad bytes.
//!
//! A golden file holds records, each framed as a little-endian `u32` length and the payload.
//! `tests/fixtures/events-v5.bin` holds the events of [`common::golden_events`] as written today
//! (version 5), every third one with a receipt from [`golden_receipt`]; it is written by running
//! this test with `UPDATE_FIXTURES=1`, and rewritten only when the core's *routing* changed the
//! scenario's events, never because a stored DTO changed. `tests/fixtures/events-v1.bin` to
//! `events-v4.bin` were written by the last builds that wrote versions 1 to 4 and are never
//! rewritten: they prove that old payloads still decode, through `upcast_record`, to the events
//! (and, for version 4, the receipts) they held. `v1_layout_is_frozen` to `v4_layout_is_frozen` pin
//! the bytes independently of the router.

mod common;

use std::path::PathBuf;

use proptest::prelude::*;
use switchboard_core::event::{AgentLoggedIn, ContactCreated, OfferMade};
use switchboard_core::{
    Channel, ComplaintStage, ComplaintStageChanged, ContactUnservable, Decision, DueTimeExtended,
    ErasureReason, Event, EventKind, Level, NewContact, OfferId, PerChannel, PersonalDataErasure,
    Placement, Priority, QueueOrder, Rule, SelectionStrategy, Shortfall, Tier, Timestamp,
};
use switchboard_wire::event::{Time, v1, v2, v3};
use switchboard_wire::receipt::ReceiptDto;
use switchboard_wire::reply::{
    Adjustment, AdjustmentReason, ContactStatusName, ErasureName, PresenceName,
};
use switchboard_wire::stored::{RecordV4, StoredEvent};
use switchboard_wire::{
    DtoError, Receipt, ReplyBody, StoredError, decode_event, decode_receipt, decode_record,
    encode_event, encode_record,
};

fn fixture_path(version: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/events-v{version}.bin"))
}

fn frame(payloads: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for payload in payloads {
        let len = u32::try_from(payload.len()).expect("small payload");
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&payload);
    }
    bytes
}

fn unframe(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut payloads = Vec::new();
    while let Some((len, rest)) = bytes.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*len) as usize;
        let (payload, rest) = rest.split_at(len);
        payloads.push(payload);
        bytes = rest;
    }
    assert!(bytes.is_empty(), "the fixture ends in a partial frame");
    payloads
}

fn fixture(version: u32) -> Vec<u8> {
    std::fs::read(fixture_path(version)).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run with UPDATE_FIXTURES=1 to write it",
            fixture_path(version).display()
        )
    })
}

fn fixture_events(version: u32) -> Vec<Event> {
    unframe(&fixture(version))
        .into_iter()
        .enumerate()
        .map(|(i, payload)| {
            assert_eq!(
                payload.first().map(|&b| u32::from(b)),
                Some(version - 1),
                "fixture event {i} is not of version {version}"
            );
            decode_event(payload).unwrap_or_else(|e| panic!("fixture event {i}: {e}"))
        })
        .collect()
}

/// Every kind, by [`EventKind::index`]: a new kind in the core makes the coverage checks below
/// fail until the golden scenario (and a stored version) covers it. Kinds below [`V1_KINDS`] are
/// version 1's, below [`V2_KINDS`] version 2's.
const KINDS: usize = EventKind::COUNT;
const V1_KINDS: usize = 21;
const V2_KINDS: usize = 26;
const V3_KINDS: usize = 27;

/// The current version's number: the fixture written today.
const CURRENT: u32 = 5;

/// An event in version 2's envelope, as the last build that wrote version 2 wrote it.
fn encode_v2(event: &Event) -> Vec<u8> {
    let dto = v2::EventDto::try_from(event).expect("a version 2 event");
    postcard::to_allocvec(&StoredEvent::V2(dto)).expect("encodes")
}

/// An event in version 3's envelope, as the last build that wrote version 3 wrote it.
fn encode_v3(event: &Event) -> Vec<u8> {
    let dto = v3::EventDto::try_from(event).expect("a version 3 event");
    postcard::to_allocvec(&StoredEvent::V3(dto)).expect("encodes")
}

/// A record in version 4's envelope, as the last build that wrote version 4 wrote it.
fn encode_v4(event: &Event, receipt: Option<&Receipt>) -> Vec<u8> {
    let record = RecordV4 {
        receipt: receipt.map(ReceiptDto::from),
        event: v3::EventDto::try_from(event).expect("a version 3 event"),
    };
    postcard::to_allocvec(&StoredEvent::V4(record)).expect("encodes")
}

/// Every contact status a reply can hold, and none.
const STATUSES: [Option<ContactStatusName>; 7] = [
    None,
    Some(ContactStatusName::Queued),
    Some(ContactStatusName::Offered),
    Some(ContactStatusName::Assigned),
    Some(ContactStatusName::Finished),
    Some(ContactStatusName::Unknown),
    Some(ContactStatusName::Held),
];

/// Every presence a reply can hold, and none.
const PRESENCES: [Option<PresenceName>; 5] = [
    None,
    Some(PresenceName::LoggedOut),
    Some(PresenceName::Ready),
    Some(PresenceName::NotReady),
    Some(PresenceName::WrapUp),
];

/// Every erasure a reply can report, and none.
const ERASURES: [Option<ErasureName>; 4] = [
    None,
    Some(ErasureName::Erased),
    Some(ErasureName::Deferred),
    Some(ErasureName::NothingHeld),
];

/// Every adjustment reason, and none.
const REASONS: [Option<AdjustmentReason>; 3] = [
    None,
    Some(AdjustmentReason::InTheFuture),
    Some(AdjustmentReason::BeyondLiveLimit),
];

/// The receipt the golden file holds with event `i` (at sequence number `i + 1`): every third
/// event has one, and between them they hold every contact status, presence and adjustment
/// reason of a reply, present and absent.
fn golden_receipt(i: usize, event: &Event) -> Option<Receipt> {
    if !i.is_multiple_of(3) {
        return None;
    }
    let n = i / 3;
    let adjustments = REASONS[n % REASONS.len()]
        .map(|reason| Adjustment {
            field: "received_at".into(),
            reason,
            message: format!("adjusted {n}"),
        })
        .into_iter()
        .collect();
    Some(Receipt {
        key: format!(
            "golden {} key-{n}",
            event.kind.agent().map_or("", |a| a.as_str())
        ),
        reply: ReplyBody {
            seq: i as u64 + 1,
            events: u32::try_from(n % 4 + 1).expect("small"),
            contact_id: event.kind.contact().map(ToString::to_string),
            status: STATUSES[n % STATUSES.len()],
            agent_id: event.kind.agent().map(ToString::to_string),
            offer_id: n.is_multiple_of(2).then_some(n as u64 + 300),
            presence: PRESENCES[n % PRESENCES.len()],
            unchanged: n % 5 == 4,
            received_at: (n % 2 == 1).then_some(Time(event.at.as_millis())),
            adjustments,
            erasure: ERASURES[n % ERASURES.len()],
        },
    })
}

/// The golden records: the golden events with their receipts.
fn golden_records() -> Vec<(Event, Option<Receipt>)> {
    common::golden_events()
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let receipt = golden_receipt(i, &event);
            (event, receipt)
        })
        .collect()
}

fn kinds_seen<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<bool> {
    let mut seen = vec![false; KINDS];
    for event in events {
        seen[event.kind.index()] = true;
    }
    seen
}

/// The records of the current version's golden file, with their receipts.
fn fixture_records() -> Vec<(Event, Option<Receipt>)> {
    unframe(&fixture(CURRENT))
        .into_iter()
        .enumerate()
        .map(|(i, payload)| {
            assert_eq!(payload.first().map(|&b| u32::from(b)), Some(CURRENT - 1));
            let record =
                decode_record(payload).unwrap_or_else(|e| panic!("fixture record {i}: {e}"));
            let receipt = decode_receipt(payload).unwrap_or_else(|e| panic!("receipt {i}: {e}"));
            assert_eq!(receipt, record.1, "record {i}: the receipt alone differs");
            record
        })
        .collect()
}

#[test]
fn golden_fixture_matches_the_router() {
    let records = golden_records();
    let bytes = frame(
        records
            .iter()
            .map(|(event, receipt)| encode_record(event, receipt.as_ref())),
    );
    if std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(fixture_path(CURRENT).parent().expect("has a parent"))
            .expect("create the fixtures directory");
        std::fs::write(fixture_path(CURRENT), &bytes).expect("write the fixture");
    }
    let decoded = fixture_records();
    assert_eq!(decoded.len(), records.len(), "record count differs");
    for (i, (old, new)) in decoded.iter().zip(&records).enumerate() {
        assert_eq!(old, new, "record {i} differs");
    }
    assert!(
        fixture(CURRENT) == bytes,
        "today's encoding differs from the fixture's bytes"
    );
}

#[test]
fn golden_fixture_covers_every_event_kind() {
    let events = fixture_events(CURRENT);
    let seen = kinds_seen(&events);
    let missing: Vec<usize> = (0..KINDS).filter(|&k| !seen[k]).collect();
    assert!(
        missing.is_empty(),
        "kinds {missing:?} are not in the fixture"
    );
    let mut names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), KINDS);
}

#[test]
fn golden_fixture_covers_every_reply_shape_in_its_receipts() {
    let receipts: Vec<Receipt> = fixture_records()
        .into_iter()
        .filter_map(|(_, receipt)| receipt)
        .collect();
    let statuses: std::collections::HashSet<_> = receipts.iter().map(|r| r.reply.status).collect();
    let presences: std::collections::HashSet<_> =
        receipts.iter().map(|r| r.reply.presence).collect();
    let reasons: std::collections::HashSet<_> = receipts
        .iter()
        .map(|r| r.reply.adjustments.first().map(|a| a.reason))
        .collect();
    assert_eq!(statuses.len(), STATUSES.len(), "{statuses:?}");
    assert_eq!(presences.len(), PRESENCES.len(), "{presences:?}");
    assert_eq!(reasons.len(), REASONS.len(), "{reasons:?}");
    assert!(receipts.iter().any(|r| r.reply.unchanged));
    assert!(receipts.iter().any(|r| r.reply.received_at.is_some()));
    assert!(receipts.iter().any(|r| r.reply.offer_id.is_none()));
}

#[test]
fn the_golden_log_replays_to_the_routers_state() {
    let centre = common::golden_centre();
    let replayed = switchboard_core::State::replay(&fixture_events(CURRENT));
    assert!(replayed == *centre.state());
}

/// The version 1 file decodes (through `upcast`) to events that version 1 writes back to the
/// very same bytes: nothing of a version 1 payload is lost or misread. It holds every kind of
/// version 1, and its log still replays.
#[test]
fn version_1_payloads_still_decode() {
    let bytes = fixture(1);
    let events = fixture_events(1);
    let rewritten = frame(events.iter().map(|event| {
        let dto = v1::EventDto::try_from(event).expect("a version 1 event");
        postcard::to_allocvec(&StoredEvent::V1(dto)).expect("encodes")
    }));
    assert!(rewritten == bytes, "version 1 did not round-trip");
    let seen = kinds_seen(&events);
    assert!(seen[..V1_KINDS].iter().all(|&s| s), "{seen:?}");
    assert!(!seen[V1_KINDS..].iter().any(|&s| s), "{seen:?}");
    let state = switchboard_core::State::replay(&events);
    assert!(state.check_invariants().is_ok());
    assert_today_round_trips(&events);
}

/// Re-encoded today, every event is of the current version and decodes to itself.
fn assert_today_round_trips(events: &[Event]) {
    for event in events {
        let today = encode_event(event);
        assert_eq!(today.first().map(|&b| u32::from(b)), Some(CURRENT - 1));
        assert_eq!(&decode_event(&today).expect("decodes"), event);
    }
}

/// The version 2 file decodes (through `upcast`) to events that version 2 writes back to the
/// very same bytes. It holds every kind of version 2 and none later, and its log still replays.
#[test]
fn version_2_payloads_still_decode() {
    let bytes = fixture(2);
    let events = fixture_events(2);
    let rewritten = frame(events.iter().map(encode_v2));
    assert!(rewritten == bytes, "version 2 did not round-trip");
    let seen = kinds_seen(&events);
    assert!(seen[..V2_KINDS].iter().all(|&s| s), "{seen:?}");
    assert!(!seen[V2_KINDS..].iter().any(|&s| s), "{seen:?}");
    let state = switchboard_core::State::replay(&events);
    assert!(state.check_invariants().is_ok());
    assert_today_round_trips(&events);
}

/// The version 3 file decodes (through `upcast_record`) to events with no receipt that version 3
/// writes back to the very same bytes; it holds every kind, and its log still replays.
#[test]
fn version_3_payloads_still_decode() {
    let bytes = fixture(3);
    let events = fixture_events(3);
    let rewritten = frame(events.iter().map(encode_v3));
    assert!(rewritten == bytes, "version 3 did not round-trip");
    for payload in unframe(&bytes) {
        assert!(decode_record(payload).expect("decodes").1.is_none());
        assert_eq!(decode_receipt(payload).expect("decodes"), None);
    }
    let seen = kinds_seen(&events);
    assert!(seen[..V3_KINDS].iter().all(|&s| s), "{seen:?}");
    assert!(!seen[V3_KINDS..].iter().any(|&s| s), "{seen:?}");
    // The golden scenario has grown since (version 5's kinds, at its end).
    let golden = common::golden_events();
    assert!(events[..] == golden[..events.len()], "the routing changed");
    let state = switchboard_core::State::replay(&events);
    assert!(state.check_invariants().is_ok());
    assert_today_round_trips(&events);
}

/// The version 4 file (the golden records as version 4 wrote them, every third with a receipt)
/// decodes (through `upcast_record`) to records that version 4 writes back to the very same
/// bytes, receipts included; it holds every kind up to version 3's, and its log still replays.
#[test]
fn version_4_payloads_still_decode() {
    let bytes = fixture(4);
    let payloads = unframe(&bytes);
    let records: Vec<(Event, Option<Receipt>)> = payloads
        .iter()
        .map(|payload| decode_record(payload).expect("decodes"))
        .collect();
    let rewritten = frame(
        records
            .iter()
            .map(|(event, receipt)| encode_v4(event, receipt.as_ref())),
    );
    assert!(rewritten == bytes, "version 4 did not round-trip");
    assert!(records.iter().any(|(_, receipt)| receipt.is_some()));
    let events: Vec<Event> = records.into_iter().map(|(event, _)| event).collect();
    let seen = kinds_seen(&events);
    assert!(seen[..V3_KINDS].iter().all(|&s| s), "{seen:?}");
    assert!(!seen[V3_KINDS..].iter().any(|&s| s), "{seen:?}");
    let golden = golden_records();
    for (i, payload) in payloads.iter().enumerate() {
        let record = decode_record(payload).expect("decodes");
        // Version 4 stored no `erasure`.
        let mut expected = golden[i].clone();
        if let Some(receipt) = &mut expected.1 {
            receipt.reply.erasure = None;
        }
        assert_eq!(record, expected, "record {i}: the routing changed");
    }
    assert_today_round_trips(&events);
}

#[test]
fn older_versions_cannot_hold_the_kinds_added_later() {
    for event in common::golden_events() {
        let number = event.kind.index();
        assert_eq!(
            v1::EventDto::try_from(&event).is_ok(),
            number < V1_KINDS,
            "{event}"
        );
        let v2 = v2::EventDto::try_from(&event);
        assert_eq!(v2.is_ok(), number < V2_KINDS, "{event}");
        assert_eq!(
            v3::EventDto::try_from(&event).is_ok(),
            number < V3_KINDS,
            "{event}"
        );
        if let Ok(v2) = v2 {
            assert_eq!(
                matches!(v2.kind, v2::EventKindDto::Base(_)),
                number < V1_KINDS,
                "{event}"
            );
        }
    }
}

#[test]
fn a_long_random_workload_exercises_every_event_kind() {
    let centre = common::random_centre(0, 1_500);
    for event in &centre.log {
        assert_eq!(&decode_event(&encode_event(event)).expect("decodes"), event);
    }
    let seen = kinds_seen(&centre.log);
    let missing: Vec<usize> = (0..KINDS).filter(|&k| !seen[k]).collect();
    assert!(missing.is_empty(), "kinds {missing:?} never happened");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Events of version 1's kinds built by hand (not by the router), with every optional field set.
fn hand_built_v1_events() -> [Event; 3] {
    let t = Timestamp::from_millis;
    [
        Event {
            at: t(1_795_424_400_000),
            kind: EventKind::AgentLoggedIn(Box::new(AgentLoggedIn {
                agent: "ann".into(),
                name: "Ann".into(),
                tier: Tier::new(2).expect("1-5"),
                site: "hq".into(),
                skills: vec![("tax".into(), Level::new(3).expect("1-5"))],
                capacity: PerChannel([1, 2, 3, 4, 5]),
            })),
        },
        Event {
            at: t(1_795_424_400_001),
            kind: EventKind::ContactCreated(Box::new(ContactCreated {
                details: NewContact {
                    id: "c1".into(),
                    channel: Channel::Callback,
                    service: "tax".into(),
                    skills: vec![common::needs("tax", 2)],
                    language: Some("pl".into()),
                    priority: Priority::new(9).expect("0-9"),
                    safeguarding: true,
                    vulnerable: true,
                    customer: Some("u1".into()),
                    preferred_agent: Some("ann".into()),
                    site: Some("hq".into()),
                    due_at: Some(t(300)),
                    received_at: Some(t(1)),
                    complaint_stage: Some(ComplaintStage::Ombudsman),
                    attributes: vec![("k".into(), "v".into())],
                },
                first_arrived_at: t(1),
                order: QueueOrder {
                    safeguarding: true,
                    live: false,
                    rank: -2,
                },
                placement: Placement {
                    step: 1,
                    preferred_agent_only: true,
                    next_step_at: Some(t(2)),
                },
                answer_by: None,
                due_warning_at: Some(t(3)),
            })),
        },
        Event {
            at: t(1_795_424_400_002),
            kind: EventKind::OfferMade(Box::new(OfferMade {
                offer: OfferId::new(300),
                contact: "c1".into(),
                agent: "ann".into(),
                channel: Channel::FaceToFace,
                expires_at: t(4),
                decision: Decision {
                    plan: "p".into(),
                    step: 2,
                    step_name: "s".into(),
                    rule: Rule::Strategy(SelectionStrategy::LeastOccupied),
                    pool: 7,
                    examined: 128,
                    score: -1,
                },
            })),
        },
    ]
}

/// The version 1 bytes of [`hand_built_v1_events`].
const V1_HEX: [&str; 3] = [
    // V1, at (varint), variant 0, "ann", "Ann", tier 2, "hq", 1 skill "tax" 3, capacity.
    "0080e588bda0340003616e6e03416e6e020268710103746178030102030405",
    "0081e588bda0340402633104037461780103746178020102706c090101010275310103616e6e01026871\
     01ac020101010201016b01760101000301010102000103",
    // V1, at, variant 6, offer 300, "c1", "ann", face_to_face, expires 4, "p", step 2,
    // "s", least_occupied, pool 7, examined 128, score -1 (zigzag).
    "0082e588bda03406ac0202633103616e6e010401700201730307800101",
];

/// Version 1 is frozen: if this test fails, a change broke the stored format.
#[test]
fn v1_layout_is_frozen() {
    for (event, expected) in hand_built_v1_events().iter().zip(V1_HEX) {
        let dto = v1::EventDto::try_from(event).expect("a version 1 event");
        let bytes = postcard::to_allocvec(&StoredEvent::V1(dto)).expect("encodes");
        assert_eq!(hex(&bytes), expected);
        assert_eq!(&decode_event(&bytes).expect("decodes"), event);
    }
}

/// Events of the kinds added in version 2, built by hand with every optional field set.
fn hand_built_v2_events() -> [Event; 5] {
    let t = Timestamp::from_millis;
    let order = QueueOrder {
        safeguarding: false,
        live: false,
        rank: 7,
    };
    let placement = Placement {
        step: 1,
        preferred_agent_only: false,
        next_step_at: Some(t(9)),
    };
    [
        Event {
            at: t(1),
            kind: EventKind::ContactHeld {
                contact: "c1".into(),
                until: t(2),
                calendar: "lib".into(),
            },
        },
        Event {
            at: t(3),
            kind: EventKind::ContactReleased {
                contact: "c1".into(),
                placement,
            },
        },
        Event {
            at: t(4),
            kind: EventKind::ComplaintStageChanged(Box::new(ComplaintStageChanged {
                contact: "c1".into(),
                from: Some(ComplaintStage::Stage1),
                to: ComplaintStage::Stage2,
                reason: "r".into(),
                agent: Some("ann".into()),
                received_at: t(5),
                acknowledge_by: Some(t(6)),
                due_at: Some(t(7)),
                due_warning_at: Some(t(8)),
                order,
                placement,
            })),
        },
        Event {
            at: t(10),
            kind: EventKind::DueTimeExtended(Box::new(DueTimeExtended {
                contact: "c1".into(),
                agent: Some("ann".into()),
                previous_due_at: t(7),
                due_at: t(300),
                working_days: 5,
                reason: "r".into(),
                due_warning_at: Some(t(11)),
                order,
            })),
        },
        Event {
            at: t(12),
            kind: EventKind::PersistentComplainantMarked {
                customer: "u1".into(),
                designated: true,
                reason: "r".into(),
            },
        },
    ]
}

/// Version 2 is frozen too: the kinds of version 1 are `0x01`, the instant, `Base` (`0x00`)
/// and then exactly their version 1 bytes; the new kinds have their own variants 1 to 5.
#[test]
fn v2_layout_is_frozen() {
    for (event, v1_hex) in hand_built_v1_events().iter().zip(V1_HEX) {
        let bytes = encode_v2(event);
        // The instant's varint ends at the first byte below 0x80.
        let at_end = 1 + bytes[1..].iter().position(|&b| b < 0x80).expect("a varint") + 1;
        let expected = format!("01{}00{}", &v1_hex[2..2 * at_end], &v1_hex[2 * at_end..]);
        assert_eq!(hex(&bytes), expected.replace(' ', ""));
        assert_eq!(&decode_event(&bytes).expect("decodes"), event);
    }
    let added: Vec<String> = hand_built_v2_events()
        .iter()
        .map(|e| hex(&encode_v2(e)))
        .collect();
    assert_eq!(
        added,
        [
            // V2, at 1, variant 1 (contact_held), "c1", until 2, "lib".
            "01010102633102036c6962",
            // V2, at 3, variant 2 (contact_released), "c1", step 1, false, some 9.
            "01030202633101000109",
            // V2, at 4, variant 3: "c1", some stage_1, stage_2, "r", some "ann", received 5,
            // some 6, some 7, some 8, order (false, false, 7 zigzag 14), placement.
            "01040302633101000101720103616e6e0501060107010800000e01000109",
            // V2, at 10, variant 4 (due_time_extended): "c1", some "ann", previous 7, due 300,
            // 5 working days, "r", some 11, order.
            "010a040263310103616e6e07ac02050172010b00000e",
            // V2, at 12, variant 5 (persistent_complainant_marked): "u1", true, "r".
            "010c05027531010172",
        ]
    );
    for event in &hand_built_v2_events() {
        assert_eq!(&decode_event(&encode_v2(event)).expect("decodes"), event);
    }
}

fn hand_built_v3_events() -> [Event; 2] {
    let unservable = |at: u64, shortfall: Shortfall| Event {
        at: Timestamp::from_millis(at),
        kind: EventKind::ContactUnservable(Box::new(ContactUnservable {
            contact: "w1".into(),
            step: 1,
            logged_in: 12,
            shortfall,
        })),
    };
    [
        unservable(
            1,
            Shortfall::Skill {
                skill: "tax".into(),
                level: Level::new(2).expect("a level"),
                site: Some("ms".into()),
            },
        ),
        unservable(2, Shortfall::NobodyLoggedIn),
    ]
}

/// Version 3 is frozen too: the kinds of version 2 are `0x02`, the instant, `Base` (`0x00`)
/// and then exactly their version 2 bytes after its instant; `contact_unservable` is variant 1.
#[test]
fn v3_layout_is_frozen() {
    for event in hand_built_v1_events()
        .iter()
        .chain(hand_built_v2_events().iter())
    {
        let v2 = encode_v2(event);
        let v3 = encode_v3(event);
        let at_end = 1 + v2[1..].iter().position(|&b| b < 0x80).expect("a varint") + 1;
        let expected = format!("02{}00{}", hex(&v2[1..at_end]), hex(&v2[at_end..]));
        assert_eq!(hex(&v3), expected);
        assert_eq!(&decode_event(&v3).expect("decodes"), event);
    }
    let added: Vec<String> = hand_built_v3_events()
        .iter()
        .map(|e| hex(&encode_v3(e)))
        .collect();
    assert_eq!(
        added,
        [
            // V3, at 1, variant 1 (contact_unservable), "w1", step 1, 12 logged in, shortfall
            // variant 3 (skill): "tax", level 2, some "ms".
            "020101027731010c03037461780201026d73",
            // V3, at 2, variant 1, "w1", step 1, 12, shortfall variant 0 (nobody_logged_in).
            "020201027731010c00",
        ]
    );
    for event in &hand_built_v3_events() {
        assert_eq!(&decode_event(&encode_v3(event)).expect("decodes"), event);
    }
}

/// A receipt built by hand with every optional field set.
fn hand_built_receipt() -> Receipt {
    Receipt {
        key: "accept ann k".into(),
        reply: ReplyBody {
            seq: 300,
            events: 2,
            contact_id: Some("c1".into()),
            status: Some(ContactStatusName::Assigned),
            agent_id: Some("ann".into()),
            offer_id: Some(7),
            presence: Some(PresenceName::WrapUp),
            unchanged: false,
            received_at: Some(Time(5)),
            adjustments: vec![Adjustment {
                field: "f".into(),
                reason: AdjustmentReason::BeyondLiveLimit,
                message: "m".into(),
            }],
            erasure: None,
        },
    }
}

/// Version 4 is frozen too: without a receipt a record is `0x03 0x00` and then exactly the
/// version 3 bytes after their version byte; with one, `0x03 0x01`, the receipt, the same.
#[test]
fn v4_layout_is_frozen() {
    let events = hand_built_v1_events()
        .into_iter()
        .chain(hand_built_v2_events())
        .chain(hand_built_v3_events());
    let receipt = hand_built_receipt();
    // "accept ann k"; seq 300, 2 events, some "c1", some assigned (2), some "ann", some 7, some
    // wrap_up (3), not unchanged, some received 5, 1 adjustment: "f", beyond_live_limit (1), "m".
    let receipt_hex = "0c61636365707420616e6e206bac02020102633101020103616e6e0107010300\
                       010501016601016d";
    for event in events {
        let v3 = encode_v3(&event);
        let without = encode_v4(&event, None);
        assert_eq!(hex(&without), format!("0300{}", hex(&v3[1..])));
        assert_eq!(
            decode_record(&without).expect("decodes"),
            (event.clone(), None)
        );
        let with = encode_v4(&event, Some(&receipt));
        assert_eq!(hex(&with), format!("0301{receipt_hex}{}", hex(&v3[1..])));
        assert_eq!(
            decode_record(&with).expect("decodes"),
            (event, Some(receipt.clone()))
        );
    }
}

/// Version 5: version 4's envelope; an old kind's event is version 3's bytes with `Base` (0)
/// after the instant; the erasures are pinned byte for byte.
#[test]
fn v5_layout_is_frozen() {
    let events = hand_built_v1_events()
        .into_iter()
        .chain(hand_built_v2_events())
        .chain(hand_built_v3_events());
    let receipt = hand_built_receipt();
    for event in events {
        let v4 = encode_v4(&event, Some(&receipt));
        let v5 = encode_record(&event, Some(&receipt));
        let v3 = encode_v3(&event);
        let at_end = 1 + v3[1..].iter().position(|&b| b < 0x80).expect("a varint") + 1;
        let receipt_end = v4.len() - (v3.len() - 1);
        let expected = format!(
            "04{}00{}00{}",
            hex(&v4[1..receipt_end]),
            hex(&v3[1..at_end]),
            hex(&v3[at_end..])
        );
        assert_eq!(hex(&v5), expected, "{event}");
        assert_eq!(
            decode_record(&v5).expect("decodes"),
            (event, Some(receipt.clone()))
        );
    }
    let erasure = |customer: Option<&str>, reason, live_contacts| {
        Box::new(PersonalDataErasure {
            customer: customer.map(Into::into),
            subject: "ab".into(),
            reason,
            live_contacts,
        })
    };
    let added = [
        EventKind::PersonalDataErasureDeferred(erasure(Some("s"), ErasureReason::Request, 2)),
        EventKind::PersonalDataErased(erasure(None, ErasureReason::Retention, 0)),
    ]
    .map(|kind| Event {
        at: Timestamp::from_millis(5),
        kind,
    });
    let bytes: Vec<String> = added.iter().map(|e| hex(&encode_event(e))).collect();
    // V5, no receipt, at 5, variant 1: some "s", "ab", request (0), 2 live contacts; variant 2:
    // none, "ab", retention (1), 0.
    assert_eq!(
        bytes,
        ["0400050101017302616200 02", "04000502000261620100"].map(|h| h.replace(' ', ""))
    );
    for event in added {
        assert_eq!(decode_event(&encode_event(&event)).expect("decodes"), event);
    }
}

#[test]
fn values_the_core_cannot_take_are_invalid_not_panics() {
    let dto = v1::EventDto {
        at: Time(5),
        kind: v1::EventKindDto::ContactEscalated {
            contact_id: "c1".into(),
            agent_id: "ann".into(),
            to_tier: 9,
            reason: "r".into(),
            placement: v1::PlacementDto {
                step: 0,
                preferred_agent_only: false,
                next_step_at: None,
            },
        },
    };
    let bytes = postcard::to_allocvec(&StoredEvent::V1(dto)).expect("encodes");
    assert!(matches!(
        decode_event(&bytes),
        Err(StoredError::Invalid(DtoError::OutOfRange {
            field: "contact_escalated.to_tier",
            value: 9,
            ..
        }))
    ));
}

#[test]
fn every_truncation_and_every_unknown_version_of_the_golden_log_is_an_error() {
    for event in common::golden_events() {
        let bytes = encode_event(&event);
        for len in 0..bytes.len() {
            assert!(decode_event(&bytes[..len]).is_err(), "{event}: {len} bytes");
        }
        let mut newer = bytes.clone();
        newer[0] = 0x05;
        assert!(matches!(
            decode_event(&newer),
            Err(StoredError::UnknownVersion { version: 5 })
        ));
        assert!(matches!(
            decode_receipt(&newer),
            Err(StoredError::UnknownVersion { version: 5 })
        ));
    }
}

/// Any receipt: every field drawn, strings of any characters.
fn receipt_strategy() -> impl Strategy<Value = Receipt> {
    let status = prop::sample::select(STATUSES.to_vec());
    let presence = prop::sample::select(PRESENCES.to_vec());
    let reasons: Vec<AdjustmentReason> = REASONS.into_iter().flatten().collect();
    let adjustment = (".{0,12}", prop::sample::select(reasons), ".{0,40}").prop_map(
        |(field, reason, message)| Adjustment {
            field,
            reason,
            message,
        },
    );
    (
        ".{0,40}",
        (any::<u64>(), any::<u32>(), proptest::option::of(".{0,16}")),
        (
            status,
            proptest::option::of(".{0,16}"),
            any::<Option<u64>>(),
        ),
        (presence, any::<bool>(), any::<Option<u64>>()),
        proptest::collection::vec(adjustment, 0..3),
    )
        .prop_map(
            |(key, (seq, events, contact_id), (status, agent_id, offer_id), rest, adjustments)| {
                let (presence, unchanged, received_at) = rest;
                Receipt {
                    key,
                    reply: ReplyBody {
                        seq,
                        events,
                        contact_id,
                        status,
                        agent_id,
                        offer_id,
                        presence,
                        unchanged,
                        received_at: received_at.map(Time),
                        adjustments,
                        erasure: None,
                    },
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_event_of_a_random_workload_round_trips(seed in any::<u64>(), steps in 1..400_usize) {
        let centre = common::random_centre(seed, steps);
        for event in &centre.log {
            let decoded = decode_event(&encode_event(event));
            prop_assert_eq!(decoded.as_ref().ok(), Some(event), "seed {}", seed);
        }
    }

    #[test]
    fn every_record_with_a_random_receipt_round_trips(
        seed in any::<u64>(),
        steps in 1..200_usize,
        receipts in proptest::collection::vec(receipt_strategy(), 1..8),
    ) {
        let centre = common::random_centre(seed, steps);
        for (i, event) in centre.log.iter().enumerate() {
            let receipt = i.is_multiple_of(2).then(|| &receipts[i / 2 % receipts.len()]);
            let bytes = encode_record(event, receipt);
            let decoded = decode_record(&bytes);
            prop_assert_eq!(
                decoded.as_ref().ok(),
                Some(&(event.clone(), receipt.cloned())),
                "seed {}", seed
            );
            prop_assert_eq!(decode_receipt(&bytes).ok(), Some(receipt.cloned()), "seed {}", seed);
            prop_assert_eq!(decode_event(&bytes).ok(), Some(event.clone()), "seed {}", seed);
        }
    }

    #[test]
    fn random_bytes_decode_to_an_error_or_an_event_never_a_panic(
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let _ = decode_event(&body);
        let _ = decode_receipt(&body);
        // The same bytes behind each version's prefix, to reach its event decoder (and, behind
        // version 2's `Base`, version 1's kinds inside version 2; behind version 4's receipt
        // tags, its receipt decoder and a version 3 event).
        for prefix in [
            &[0x00][..], &[0x01], &[0x01, 0x00], &[0x02], &[0x03], &[0x03, 0x00], &[0x03, 0x01],
        ] {
            let mut prefixed = prefix.to_vec();
            prefixed.extend_from_slice(&body);
            let _ = decode_record(&prefixed);
            let _ = decode_receipt(&prefixed);
        }
    }

    #[test]
    fn corrupted_golden_payloads_never_panic(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        xor in 1..=255_u8,
    ) {
        let records = golden_records();
        let (event, receipt) = pick.get(&records);
        let mut bytes = encode_record(event, receipt.as_ref());
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        // Either an error or some other valid record: never a panic.
        let _ = decode_record(&bytes);
        let _ = decode_receipt(&bytes);
    }
}
