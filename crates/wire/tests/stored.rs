//! Stored events: the golden files of versions 1 to 3, round trips of random workloads, and bad
//! bytes.
//!
//! A golden file holds events, each framed as a little-endian `u32` length and the payload.
//! `tests/fixtures/events-v3.bin` holds the events of [`common::golden_events`] as written today
//! (version 3); it is written by running this test with `UPDATE_FIXTURES=1`, and rewritten only
//! when the core's *routing* changed the scenario's events, never because `event/v3.rs` changed.
//! `tests/fixtures/events-v1.bin` and `events-v2.bin` were written by the last builds that wrote
//! versions 1 and 2 and are never rewritten: they prove that old payloads still decode, through
//! `upcast`, to the events they held. `v1_layout_is_frozen`, `v2_layout_is_frozen` and
//! `v3_layout_is_frozen` pin the bytes independently of the router.

mod common;

use std::path::PathBuf;

use proptest::prelude::*;
use switchboard_core::event::{AgentLoggedIn, ContactCreated, OfferMade};
use switchboard_core::{
    Channel, ComplaintStage, ComplaintStageChanged, ContactUnservable, Decision, DueTimeExtended,
    Event, EventKind, Level, NewContact, OfferId, PerChannel, Placement, Priority, QueueOrder,
    Rule, SelectionStrategy, Shortfall, Tier, Timestamp,
};
use switchboard_wire::event::{v1, v2};
use switchboard_wire::stored::StoredEvent;
use switchboard_wire::{DtoError, StoredError, decode_event, encode_event};

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

/// The current version's number: the fixture written today.
const CURRENT: u32 = 3;

/// An event in version 2's envelope, as the last build that wrote version 2 wrote it.
fn encode_v2(event: &Event) -> Vec<u8> {
    let dto = v2::EventDto::try_from(event).expect("a version 2 event");
    postcard::to_allocvec(&StoredEvent::V2(dto)).expect("encodes")
}

fn kinds_seen<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<bool> {
    let mut seen = vec![false; KINDS];
    for event in events {
        seen[event.kind.index()] = true;
    }
    seen
}

#[test]
fn golden_fixture_matches_the_router() {
    let events = common::golden_events();
    let bytes = frame(events.iter().map(encode_event));
    if std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(fixture_path(CURRENT).parent().expect("has a parent"))
            .expect("create the fixtures directory");
        std::fs::write(fixture_path(CURRENT), &bytes).expect("write the fixture");
    }
    let decoded = fixture_events(CURRENT);
    assert_eq!(decoded.len(), events.len(), "event count differs");
    for (i, (old, new)) in decoded.iter().zip(&events).enumerate() {
        assert_eq!(old, new, "event {i} differs");
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
        let v3 = encode_event(event);
        let at_end = 1 + v2[1..].iter().position(|&b| b < 0x80).expect("a varint") + 1;
        let expected = format!("02{}00{}", hex(&v2[1..at_end]), hex(&v2[at_end..]));
        assert_eq!(hex(&v3), expected);
        assert_eq!(&decode_event(&v3).expect("decodes"), event);
    }
    let added: Vec<String> = hand_built_v3_events()
        .iter()
        .map(|e| hex(&encode_event(e)))
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
        assert_eq!(&decode_event(&encode_event(event)).expect("decodes"), event);
    }
}

#[test]
fn values_the_core_cannot_take_are_invalid_not_panics() {
    let dto = v1::EventDto {
        at: v1::Time(5),
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
        newer[0] = 0x03;
        assert!(matches!(
            decode_event(&newer),
            Err(StoredError::UnknownVersion { version: 3 })
        ));
    }
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
    fn random_bytes_decode_to_an_error_or_an_event_never_a_panic(
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let _ = decode_event(&body);
        // The same bytes behind each version's prefix, to reach its event decoder (and, behind
        // version 2's `Base`, version 1's kinds inside version 2).
        for prefix in [&[0x00][..], &[0x01], &[0x01, 0x00]] {
            let mut prefixed = prefix.to_vec();
            prefixed.extend_from_slice(&body);
            let _ = decode_event(&prefixed);
        }
    }

    #[test]
    fn corrupted_golden_payloads_never_panic(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        xor in 1..=255_u8,
    ) {
        let events = common::golden_events();
        let mut bytes = encode_event(pick.get(&events));
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        // Either an error or some other valid event: never a panic.
        let _ = decode_event(&bytes);
    }
}
