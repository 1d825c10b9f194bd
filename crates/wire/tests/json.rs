//! The JSON form of events: exact text for a few events, round trips for every event of the
//! golden scenario and of random workloads, and errors for JSON that is not an event.

mod common;

use std::time::Duration;

use proptest::prelude::*;
use serde_json::Value;
use switchboard_core::event::{ContactCreated, OfferMade};
use switchboard_core::{
    Channel, ComplaintStage, Decision, Event, EventKind, NewContact, OfferId, Placement, Priority,
    QueueOrder, Rule, SelectionStrategy, Timestamp,
};
use switchboard_wire::event::{EventKindDto, Time};
use switchboard_wire::{DtoError, JsonError, event_from_json, event_json, write_event_json};

/// 2026-11-23T10:15:00.123Z.
const AT: u64 = 1_795_428_900_123;

fn at(offset_ms: u64) -> Timestamp {
    Timestamp::from_millis(AT + offset_ms)
}

fn check(seq: u64, event: &Event, expected: &str) {
    let json = event_json(seq, event).expect("writable");
    assert_eq!(json.to_string(), expected);
    assert_eq!(json.event_type(), event.kind.name());
    assert_eq!(json.seq(), seq);
    assert_eq!(
        serde_json::to_string(&json).expect("serializable"),
        expected
    );
    assert_eq!(
        event_from_json(expected).expect("reads back"),
        (seq, event.clone())
    );
}

#[test]
fn agent_ready() {
    let event = Event {
        at: at(0),
        kind: EventKind::AgentReady {
            agent: "ann".into(),
        },
    };
    check(
        42,
        &event,
        r#"{"seq":42,"at":"2026-11-23T10:15:00.123Z","type":"agent_ready","agent_id":"ann"}"#,
    );
}

#[test]
fn offer_made() {
    let event = Event {
        at: at(0),
        kind: EventKind::OfferMade(Box::new(OfferMade {
            offer: OfferId::new(7),
            contact: "c1".into(),
            agent: "ann".into(),
            channel: Channel::FaceToFace,
            expires_at: at(30_000),
            decision: Decision {
                plan: "default".into(),
                step: 1,
                step_name: "any_higher_tier".into(),
                rule: Rule::Strategy(SelectionStrategy::LongestIdle),
                pool: 3,
                examined: 2,
                score: 61_000,
            },
        })),
    };
    check(
        43,
        &event,
        concat!(
            r#"{"seq":43,"at":"2026-11-23T10:15:00.123Z","type":"offer_made","agent_id":"ann","#,
            r#""channel":"face_to_face","contact_id":"c1","decision":{"examined":2,"#,
            r#""plan":"default","pool":3,"rule":"longest_idle","score":61000,"step":1,"#,
            r#""step_name":"any_higher_tier"},"expires_at":"2026-11-23T10:15:30.123Z","#,
            r#""offer_id":7}"#
        ),
    );
}

#[test]
fn offer_accepted_and_rejected_with_durations_in_milliseconds() {
    let accepted = Event {
        at: at(0),
        kind: EventKind::OfferAccepted {
            offer: OfferId::new(7),
            contact: "c1".into(),
            agent: "ann".into(),
            automatic: false,
            waited: Duration::from_millis(12_345),
            within_service_level: true,
        },
    };
    check(
        44,
        &accepted,
        concat!(
            r#"{"seq":44,"at":"2026-11-23T10:15:00.123Z","type":"offer_accepted","#,
            r#""agent_id":"ann","automatic":false,"contact_id":"c1","offer_id":7,"#,
            r#""waited_ms":12345,"within_service_level":true}"#
        ),
    );
    let rejected = Event {
        at: at(0),
        kind: EventKind::OfferRejected {
            offer: OfferId::new(8),
            contact: "c1".into(),
            agent: "ann".into(),
            reason: None,
            reoffer_after: at(30_000),
        },
    };
    check(
        45,
        &rejected,
        concat!(
            r#"{"seq":45,"at":"2026-11-23T10:15:00.123Z","type":"offer_rejected","#,
            r#""agent_id":"ann","contact_id":"c1","offer_id":8,"reason":null,"#,
            r#""reoffer_after":"2026-11-23T10:15:30.123Z"}"#
        ),
    );
}

#[test]
fn contact_created_with_every_detail() {
    let mut details = NewContact::routine("c2", Channel::Email, "council_tax");
    details.skills = vec![common::needs("council_tax", 2)];
    details.language = Some("polish".into());
    details.priority = Priority::new(3).expect("0-9");
    details.vulnerable = true;
    details.customer = Some("cust7".into());
    details.due_at = Some(at(86_400_000));
    details.complaint_stage = Some(ComplaintStage::Stage2);
    details.attributes = vec![("case_ref".into(), "HB-42".into())];
    let event = Event {
        at: at(0),
        kind: EventKind::ContactCreated(Box::new(ContactCreated {
            details,
            first_arrived_at: at(0),
            order: QueueOrder {
                safeguarding: false,
                live: false,
                rank: 1_795_515_300_123,
            },
            placement: Placement {
                step: 0,
                preferred_agent_only: false,
                next_step_at: Some(at(30_000)),
            },
            answer_by: None,
            due_warning_at: Some(at(72_000_000)),
        })),
    };
    check(
        46,
        &event,
        concat!(
            r#"{"seq":46,"at":"2026-11-23T10:15:00.123Z","type":"contact_created","#,
            r#""answer_by":null,"attributes":[{"name":"case_ref","value":"HB-42"}],"#,
            r#""channel":"email","complaint_stage":"stage_2","contact_id":"c2","#,
            r#""customer_id":"cust7","due_at":"2026-11-24T10:15:00.123Z","#,
            r#""due_warning_at":"2026-11-24T06:15:00.123Z","#,
            r#""first_arrived_at":"2026-11-23T10:15:00.123Z","language":"polish","#,
            r#""order":{"live":false,"rank":1795515300123,"safeguarding":false},"#,
            r#""placement":{"next_step_at":"2026-11-23T10:15:30.123Z","#,
            r#""preferred_agent_only":false,"step":0},"preferred_agent_id":null,"priority":3,"#,
            r#""received_at":null,"safeguarding":false,"service":"council_tax","site":null,"#,
            r#""skills":[{"min_level":2,"skill":"council_tax"}],"vulnerable":true}"#
        ),
    );
}

#[test]
fn every_golden_event_round_trips_through_json_with_its_type_name() {
    for (seq, event) in (1..).zip(common::golden_events()) {
        let json = event_json(seq, &event).expect("writable");
        assert_eq!(json.event_type(), event.kind.name());
        assert!(!json.fields().is_empty(), "{event}");
        for header in ["seq", "at", "type"] {
            assert!(!json.fields().contains_key(header), "{event}: {header}");
        }
        let text = json.to_string();
        assert_eq!(event_from_json(&text).expect("reads back"), (seq, event));
    }
}

#[test]
fn an_instant_past_year_9999_cannot_be_written() {
    let event = Event {
        at: Timestamp::from_millis(u64::MAX),
        kind: EventKind::AgentReady {
            agent: "ann".into(),
        },
    };
    assert!(matches!(
        event_json(1, &event),
        Err(JsonError::Unwritable(_))
    ));
    let event = Event {
        at: at(0),
        kind: EventKind::DueTimeAtRisk {
            contact: "c1".into(),
            due_at: Timestamp::from_millis(u64::MAX),
        },
    };
    assert!(matches!(
        event_json(1, &event),
        Err(JsonError::Unwritable(_))
    ));
}

#[test]
fn the_published_body_is_the_text_of_event_json_appended() {
    let mut body = b"kept".to_vec();
    let mut expected = body.clone();
    for (seq, event) in (1..).zip(common::golden_events()) {
        write_event_json(seq, &event, &mut body).expect("writable");
        expected.extend_from_slice(
            event_json(seq, &event)
                .expect("writable")
                .to_string()
                .as_bytes(),
        );
    }
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&expected)
    );
}

/// The published text as serde_json writes the kind's [`Value`] (the path before the direct
/// writer): `seq`, `at` and `type`, then the fields under `tagged_json`'s single key in its map's
/// order (serde_json's maps sort their keys unless its `preserve_order` feature is on: then this
/// is declaration order, and the comparisons below fail rather than let the published order
/// change).
fn through_a_value(seq: u64, event: &Event) -> String {
    let tagged = EventKindDto::from(&event.kind)
        .tagged_json()
        .expect("writable");
    let Value::Object(tagged) = tagged else {
        panic!("{event}: the tagged form is not an object");
    };
    let mut entries = tagged.into_iter();
    let (Some((tag, Value::Object(fields))), None) = (entries.next(), entries.next()) else {
        panic!("{event}: the tagged form is not one key holding the fields");
    };
    assert_eq!(tag, event.kind.name());
    let mut text = format!(
        "{{\"seq\":{seq},\"at\":{},\"type\":{}",
        json(&Time::from(event.at)),
        json(&tag)
    );
    for (key, value) in &fields {
        text.push(',');
        text.push_str(&json(key));
        text.push(':');
        text.push_str(&json(value));
    }
    text.push('}');
    text
}

/// A value's compact JSON text.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("writable")
}

/// Compares the published bytes with [`through_a_value`]'s text, event by event.
fn assert_written_as_through_a_value<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    origin: &str,
) -> Result<(), TestCaseError> {
    let mut body = Vec::new();
    for (seq, event) in (1..).zip(events) {
        body.clear();
        write_event_json(seq, event, &mut body).expect("writable");
        let expected = through_a_value(seq, event);
        prop_assert_eq!(
            String::from_utf8_lossy(&body),
            expected.as_str(),
            "{}: event {}",
            origin,
            seq
        );
    }
    Ok(())
}

#[test]
fn the_published_bytes_are_those_of_the_kinds_json_value_for_every_kind() {
    let golden = common::golden_events();
    assert_written_as_through_a_value(&golden, "the golden scenario").expect("the same bytes");
    let mut seen: std::collections::BTreeSet<&str> =
        golden.iter().map(|event| event.kind.name()).collect();
    for seed in [1_u64, 7, 42, 2026] {
        println!("random workload seed {seed}, 400 steps");
        let centre = common::random_centre(seed, 400);
        assert_written_as_through_a_value(&centre.log, &format!("seed {seed}"))
            .expect("the same bytes");
        seen.extend(centre.log.iter().map(|event| event.kind.name()));
    }
    let missing: Vec<_> = EventKind::NAMES
        .iter()
        .filter(|name| !seen.contains(*name))
        .collect();
    assert!(missing.is_empty(), "kinds never written: {missing:?}");
}

#[test]
fn a_body_that_cannot_be_written_leaves_the_buffer_as_it_was() {
    let event = Event {
        at: Timestamp::from_millis(u64::MAX),
        kind: EventKind::AgentReady {
            agent: "ann".into(),
        },
    };
    let mut body = b"kept".to_vec();
    assert!(matches!(
        write_event_json(1, &event, &mut body),
        Err(JsonError::Unwritable(_))
    ));
    assert_eq!(body, b"kept");
}

#[test]
fn json_that_is_not_an_event_is_a_typed_error() {
    let ok = r#"{"seq":1,"at":"2026-11-23T10:15:00.123Z","type":"agent_ready","agent_id":"ann"}"#;
    assert!(event_from_json(ok).is_ok());
    type Expect = fn(&JsonError) -> bool;
    let cases: [(&str, Expect); 9] = [
        ("{", |e| matches!(e, JsonError::Syntax(_))),
        ("[1]", |e| matches!(e, JsonError::NotAnObject)),
        (
            r#"{"at":"2026-11-23T10:15:00Z","type":"agent_ready","agent_id":"a"}"#,
            |e| matches!(e, JsonError::Field("seq")),
        ),
        (
            r#"{"seq":1,"at":5,"type":"agent_ready","agent_id":"a"}"#,
            |e| matches!(e, JsonError::Field("at")),
        ),
        (
            r#"{"seq":1,"at":"noon","type":"agent_ready","agent_id":"a"}"#,
            |e| matches!(e, JsonError::At(_)),
        ),
        (
            r#"{"seq":1,"at":"2026-11-23T10:15:00Z","agent_id":"a"}"#,
            |e| matches!(e, JsonError::Field("type")),
        ),
        (
            r#"{"seq":1,"at":"2026-11-23T10:15:00Z","type":"agent_teleported","agent_id":"a"}"#,
            |e| matches!(e, JsonError::Fields(_)),
        ),
        (
            r#"{"seq":1,"at":"2026-11-23T10:15:00Z","type":"agent_ready"}"#,
            |e| matches!(e, JsonError::Fields(_)),
        ),
        (
            concat!(
                r#"{"seq":1,"at":"2026-11-23T10:15:00Z","type":"contact_escalated","#,
                r#""contact_id":"c1","agent_id":"a","to_tier":0,"reason":"r","#,
                r#""placement":{"step":0,"preferred_agent_only":false,"next_step_at":null}}"#
            ),
            |e| {
                matches!(
                    e,
                    JsonError::Invalid(DtoError::OutOfRange {
                        field: "contact_escalated.to_tier",
                        ..
                    })
                )
            },
        ),
    ];
    for (text, expected) in cases {
        let error = event_from_json(text).expect_err(text);
        assert!(expected(&error), "{text}: {error}");
    }
}

#[test]
fn unknown_fields_are_ignored_for_forward_compatibility() {
    let text = concat!(
        r#"{"seq":1,"at":"2026-11-23T10:15:00.123Z","type":"agent_ready","agent_id":"ann","#,
        r#""desk":"3B"}"#
    );
    let (seq, event) = event_from_json(text).expect("reads");
    assert_eq!(seq, 1);
    assert_eq!(
        event.kind,
        EventKind::AgentReady {
            agent: "ann".into()
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_event_of_a_random_workload_round_trips_through_json(
        seed in any::<u64>(),
        steps in 1..300_usize,
    ) {
        let centre = common::random_centre(seed, steps);
        for (seq, event) in (1..).zip(&centre.log) {
            let text = event_json(seq, event).expect("writable").to_string();
            let back = event_from_json(&text);
            prop_assert_eq!(back.ok(), Some((seq, event.clone())), "seed {}", seed);
        }
    }

    #[test]
    fn every_event_of_a_random_workload_is_written_as_through_a_value(
        seed in any::<u64>(),
        steps in 1..300_usize,
    ) {
        let centre = common::random_centre(seed, steps);
        assert_written_as_through_a_value(&centre.log, &format!("seed {seed}"))?;
    }

    #[test]
    fn strings_that_need_escaping_are_written_as_through_a_value(
        agent in "\\PC{0,12}|[\\x00-\\x1f\"\\\\/\\u{7f}\\u{2028}é]{0,12}",
        text in any::<String>(),
    ) {
        let mut details = NewContact::routine("c1", Channel::Chat, "council_tax");
        details.attributes = vec![(text.as_str().into(), agent.as_str().into())];
        details.language = Some(text.as_str().into());
        let events = [
            Event {
                at: at(0),
                kind: EventKind::AgentNotReady {
                    agent: agent.as_str().into(),
                    reason: text.as_str().into(),
                },
            },
            Event {
                at: at(0),
                kind: EventKind::ContactCreated(Box::new(ContactCreated {
                    details,
                    first_arrived_at: at(0),
                    order: ORDER,
                    placement: PLACEMENT,
                    answer_by: None,
                    due_warning_at: None,
                })),
            },
        ];
        assert_written_as_through_a_value(&events, "escaping")?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = event_from_json(&text);
    }
}

/// A deferred contact's place in the queue, for the kinds of version 2.
const ORDER: QueueOrder = QueueOrder {
    safeguarding: false,
    live: false,
    rank: 7,
};

/// A contact at its plan's first step, for the kinds of version 2.
const PLACEMENT: Placement = Placement {
    step: 0,
    preferred_agent_only: false,
    next_step_at: None,
};

#[test]
fn the_hold_kinds_added_in_version_2_have_their_own_types_and_flat_fields() {
    check(
        1,
        &Event {
            at: at(0),
            kind: EventKind::ContactHeld {
                contact: "w1".into(),
                until: at(3_600_000),
                calendar: "library".into(),
            },
        },
        concat!(
            r#"{"seq":1,"at":"2026-11-23T10:15:00.123Z","type":"contact_held","#,
            r#""calendar":"library","contact_id":"w1","until":"2026-11-23T11:15:00.123Z"}"#
        ),
    );
    check(
        2,
        &Event {
            at: at(0),
            kind: EventKind::ContactReleased {
                contact: "w1".into(),
                placement: PLACEMENT,
            },
        },
        concat!(
            r#"{"seq":2,"at":"2026-11-23T10:15:00.123Z","type":"contact_released","#,
            r#""contact_id":"w1","placement":{"next_step_at":null,"preferred_agent_only":false,"step":0}}"#
        ),
    );
}

#[test]
fn the_complaint_kinds_added_in_version_2_have_their_own_types_and_flat_fields() {
    use switchboard_core::{ComplaintStageChanged, DueTimeExtended};
    check(
        3,
        &Event {
            at: at(0),
            kind: EventKind::ComplaintStageChanged(Box::new(ComplaintStageChanged {
                contact: "e1".into(),
                from: Some(ComplaintStage::Stage1),
                to: ComplaintStage::Stage2,
                reason: "asked".into(),
                agent: None,
                received_at: at(0),
                acknowledge_by: Some(at(1)),
                due_at: Some(at(2)),
                due_warning_at: None,
                order: ORDER,
                placement: PLACEMENT,
            })),
        },
        concat!(
            r#"{"seq":3,"at":"2026-11-23T10:15:00.123Z","type":"complaint_stage_changed","#,
            r#""acknowledge_by":"2026-11-23T10:15:00.124Z","agent_id":null,"contact_id":"e1","#,
            r#""due_at":"2026-11-23T10:15:00.125Z","due_warning_at":null,"from":"stage_1","#,
            r#""order":{"live":false,"rank":7,"safeguarding":false},"#,
            r#""placement":{"next_step_at":null,"preferred_agent_only":false,"step":0},"#,
            r#""reason":"asked","received_at":"2026-11-23T10:15:00.123Z","to":"stage_2"}"#
        ),
    );
    check(
        4,
        &Event {
            at: at(0),
            kind: EventKind::DueTimeExtended(Box::new(DueTimeExtended {
                contact: "e1".into(),
                agent: Some("ann".into()),
                previous_due_at: at(2),
                due_at: at(3),
                working_days: 5,
                reason: "report".into(),
                due_warning_at: Some(at(1)),
                order: ORDER,
            })),
        },
        concat!(
            r#"{"seq":4,"at":"2026-11-23T10:15:00.123Z","type":"due_time_extended","#,
            r#""agent_id":"ann","contact_id":"e1","due_at":"2026-11-23T10:15:00.126Z","#,
            r#""due_warning_at":"2026-11-23T10:15:00.124Z","#,
            r#""order":{"live":false,"rank":7,"safeguarding":false},"#,
            r#""previous_due_at":"2026-11-23T10:15:00.125Z","reason":"report","working_days":5}"#
        ),
    );
    check(
        5,
        &Event {
            at: at(0),
            kind: EventKind::PersistentComplainantMarked {
                customer: "cust9".into(),
                designated: true,
                reason: "policy".into(),
            },
        },
        concat!(
            r#"{"seq":5,"at":"2026-11-23T10:15:00.123Z","type":"persistent_complainant_marked","#,
            r#""customer_id":"cust9","designated":true,"reason":"policy"}"#
        ),
    );
}

#[test]
fn the_stored_forms_nesting_is_not_a_json_type() {
    for text in [
        r#"{"seq":1,"at":"2026-11-23T10:15:00Z","type":"base","agent_ready":{"agent_id":"a"}}"#,
        r#"{"seq":1,"at":"2026-11-23T10:15:00Z","type":"base"}"#,
    ] {
        assert!(
            matches!(event_from_json(text), Err(JsonError::Fields(_))),
            "{text}"
        );
    }
}
