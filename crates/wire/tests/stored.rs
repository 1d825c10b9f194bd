//! Stored events: the golden version 1 file, round trips of random workloads, and bad bytes.
//!
//! The golden file `tests/fixtures/events-v1.bin` holds the events of [`common::golden_events`],
//! each framed as a little-endian `u32` length and the payload. It is written once, by running
//! this test with `UPDATE_FIXTURES=1`. Rewrite it only when the core's *routing* changed the
//! scenario's events, never because `event/v1.rs` changed: version 1 is frozen, and
//! `v1_layout_is_frozen` pins its bytes independently of the router.

mod common;

use std::path::PathBuf;

use proptest::prelude::*;
use switchboard_core::event::{AgentLoggedIn, ContactCreated, OfferMade};
use switchboard_core::{
    Channel, ComplaintStage, Decision, Event, EventKind, Level, NewContact, OfferId, PerChannel,
    Placement, Priority, QueueOrder, Rule, SelectionStrategy, Tier, Timestamp,
};
use switchboard_wire::event::v1;
use switchboard_wire::stored::StoredEvent;
use switchboard_wire::{DtoError, StoredError, decode_event, encode_event};

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events-v1.bin")
}

fn frame(events: &[Event]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for event in events {
        let payload = encode_event(event);
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

fn fixture_events() -> Vec<Event> {
    let bytes = std::fs::read(fixture_path()).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run with UPDATE_FIXTURES=1 to write it",
            fixture_path().display()
        )
    });
    unframe(&bytes)
        .into_iter()
        .enumerate()
        .map(|(i, payload)| {
            decode_event(payload).unwrap_or_else(|e| panic!("fixture event {i}: {e}"))
        })
        .collect()
}

/// Each event kind's position, by an exhaustive match: a new kind in the core stops this file
/// compiling until the golden scenario covers it.
fn kind_number(kind: &EventKind) -> usize {
    match kind {
        EventKind::AgentLoggedIn(_) => 0,
        EventKind::AgentReady { .. } => 1,
        EventKind::AgentNotReady { .. } => 2,
        EventKind::AgentLoggedOut { .. } => 3,
        EventKind::ContactCreated(_) => 4,
        EventKind::ContactStepAdvanced { .. } => 5,
        EventKind::OfferMade(_) => 6,
        EventKind::OfferAccepted { .. } => 7,
        EventKind::OfferRejected { .. } => 8,
        EventKind::OfferExpired { .. } => 9,
        EventKind::OfferRevoked { .. } => 10,
        EventKind::ContactAbandoned { .. } => 11,
        EventKind::ContactCompleted { .. } => 12,
        EventKind::ContactEscalated { .. } => 13,
        EventKind::ContactTransferred { .. } => 14,
        EventKind::ContactRequeued { .. } => 15,
        EventKind::WrapUpStarted { .. } => 16,
        EventKind::WrapUpEnded { .. } => 17,
        EventKind::ServiceLevelThresholdPassed { .. } => 18,
        EventKind::DueTimeAtRisk { .. } => 19,
        EventKind::DueTimeBreached { .. } => 20,
    }
}

const KINDS: usize = 21;

#[test]
fn golden_fixture_matches_the_router() {
    let events = common::golden_events();
    let bytes = frame(&events);
    if std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(fixture_path().parent().expect("has a parent"))
            .expect("create the fixtures directory");
        std::fs::write(fixture_path(), &bytes).expect("write the fixture");
    }
    let decoded = fixture_events();
    assert_eq!(decoded.len(), events.len(), "event count differs");
    for (i, (old, new)) in decoded.iter().zip(&events).enumerate() {
        assert_eq!(old, new, "event {i} differs");
    }
    let written = std::fs::read(fixture_path()).expect("fixture exists");
    assert!(
        written == bytes,
        "today's encoding differs from the fixture's bytes"
    );
}

#[test]
fn golden_fixture_covers_every_event_kind() {
    let events = fixture_events();
    let mut seen = [false; KINDS];
    for event in &events {
        seen[kind_number(&event.kind)] = true;
    }
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
    let replayed = switchboard_core::State::replay(&fixture_events());
    assert!(replayed == *centre.state());
}

#[test]
fn a_long_random_workload_exercises_every_event_kind() {
    let centre = common::random_centre(0, 1_500);
    let mut seen = [false; KINDS];
    for event in &centre.log {
        seen[kind_number(&event.kind)] = true;
        assert_eq!(&decode_event(&encode_event(event)).expect("decodes"), event);
    }
    assert_eq!(seen, [true; KINDS]);
}

/// Events built by hand (not by the router), with every optional field set, and their bytes.
/// Version 1 is frozen: if this test fails, a change broke the stored format.
#[test]
fn v1_layout_is_frozen() {
    let t = Timestamp::from_millis;
    let events = [
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
    ];
    let hex: Vec<String> = events
        .iter()
        .map(|e| {
            encode_event(e)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        })
        .collect();
    assert_eq!(
        hex,
        [
            // V1, at (varint), variant 0, "ann", "Ann", tier 2, "hq", 1 skill "tax" 3, capacity.
            "0080e588bda0340003616e6e03416e6e020268710103746178030102030405",
            "0081e588bda0340402633104037461780103746178020102706c090101010275310103616e6e01026871\
             01ac020101010201016b01760101000301010102000103",
            // V1, at, variant 6, offer 300, "c1", "ann", face_to_face, expires 4, "p", step 2,
            // "s", least_occupied, pool 7, examined 128, score -1 (zigzag).
            "0082e588bda03406ac0202633103616e6e010401700201730307800101",
        ]
    );
    for event in &events {
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
        newer[0] = 0x01;
        assert!(matches!(
            decode_event(&newer),
            Err(StoredError::UnknownVersion { version: 1 })
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
        // The same bytes behind a version 1 prefix, to reach the event decoder.
        let mut prefixed = vec![0];
        prefixed.extend_from_slice(&body);
        let _ = decode_event(&prefixed);
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
