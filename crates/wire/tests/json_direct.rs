//! `write_event_json` writes exactly the bytes of `serde_json::to_vec(&event_json(..))`: for every
//! event of the golden files (versions 1 and 2), of the golden scenario, of a seeded workload
//! that covers every event kind, of random workloads, and for text that needs escaping; and it
//! fails where `event_json` fails, leaving its buffer as it was.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;
use switchboard_core::event::ContactCreated;
use switchboard_core::{Channel, Event, EventKind, NewContact, Placement, QueueOrder, Timestamp};
use switchboard_wire::{JsonError, decode_event, event_json, write_event_json};

/// 2026-11-23T10:15:00.123Z.
const AT: u64 = 1_795_428_900_123;

/// How many kinds the core has.
const KINDS: usize = EventKind::COUNT;

fn at(offset_ms: u64) -> Timestamp {
    Timestamp::from_millis(AT + offset_ms)
}

/// Asserts that the direct writer gives the `Value` path's bytes, appended after what the
/// buffer held.
fn same_bytes(seq: u64, event: &Event) {
    let expected =
        serde_json::to_vec(&event_json(seq, event).expect("writable")).expect("serializable");
    let mut out = b"before".to_vec();
    write_event_json(seq, event, &mut out).expect("writable");
    assert_eq!(
        String::from_utf8_lossy(out.get(6..).expect("appended")),
        String::from_utf8_lossy(&expected),
        "event {seq}: {event:?}"
    );
    assert_eq!(out.get(..6), Some(b"before".as_slice()));
    assert_eq!(out.get(6..), Some(expected.as_slice()));
}

fn fixture_events(version: u32) -> Vec<Event> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/events-v{version}.bin"));
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut rest = bytes.as_slice();
    let mut events = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*len) as usize;
        let (payload, tail) = tail.split_at(len);
        events.push(decode_event(payload).expect("a fixture event decodes"));
        rest = tail;
    }
    assert!(
        rest.is_empty(),
        "{} ends in a partial frame",
        path.display()
    );
    events
}

#[test]
fn every_event_of_the_golden_files_is_written_byte_for_byte() {
    for version in [1, 2] {
        let events = fixture_events(version);
        assert!(!events.is_empty(), "version {version} has no events");
        for (seq, event) in (1..).zip(&events) {
            same_bytes(seq, event);
        }
    }
}

#[test]
fn every_event_of_the_golden_scenario_is_written_byte_for_byte() {
    for (seq, event) in (1..).zip(common::golden_events()) {
        same_bytes(seq, &event);
    }
}

#[test]
fn every_event_kind_of_a_seeded_workload_is_written_byte_for_byte() {
    let centre = common::random_centre(0, 1_500);
    let mut kinds = BTreeSet::new();
    for (seq, event) in (1..).zip(&centre.log) {
        same_bytes(seq, event);
        kinds.insert(event.kind.name());
    }
    assert_eq!(kinds.len(), KINDS, "kinds seen: {kinds:?}");
}

/// Quotes, backslashes, control characters, DEL, non-ASCII and the line separators JavaScript
/// minds, in ids, names, reasons and attributes.
const AWKWARD: [&str; 6] = [
    "a\"b\\c",
    "tab\tnew\nline\rcr\u{0}nul\u{1}\u{1f}\u{7f}",
    "café ÿ – 日本 😀",
    "\u{2028}\u{2029}",
    "</script>&<>'",
    "",
];

#[test]
fn text_that_needs_escaping_is_written_byte_for_byte() {
    let mut seq = 1;
    for text in AWKWARD {
        let mut details = NewContact::routine(text, Channel::Chat, text);
        details.language = Some(text.into());
        details.customer = Some(text.into());
        details.site = Some(text.into());
        details.attributes = vec![(text.into(), text.into()), ("x".into(), text.into())];
        let kinds = [
            EventKind::AgentReady { agent: text.into() },
            EventKind::AgentNotReady {
                agent: text.into(),
                reason: text.into(),
            },
            EventKind::ContactHeld {
                contact: text.into(),
                until: at(1_000),
                calendar: text.into(),
            },
            EventKind::PersistentComplainantMarked {
                customer: text.into(),
                designated: true,
                reason: text.into(),
            },
            EventKind::ContactCreated(Box::new(ContactCreated {
                details,
                first_arrived_at: at(0),
                order: QueueOrder {
                    safeguarding: true,
                    live: true,
                    rank: -5,
                },
                placement: Placement {
                    step: 2,
                    preferred_agent_only: true,
                    next_step_at: None,
                },
                answer_by: Some(at(20_000)),
                due_warning_at: None,
            })),
        ];
        for kind in kinds {
            same_bytes(seq, &Event { at: at(seq), kind });
            seq += 1;
        }
    }
}

#[test]
fn an_instant_past_year_9999_fails_as_event_json_does_and_leaves_the_buffer() {
    let late = Timestamp::from_millis(u64::MAX);
    let events = [
        Event {
            at: late,
            kind: EventKind::AgentReady {
                agent: "ann".into(),
            },
        },
        Event {
            at: at(0),
            kind: EventKind::WrapUpStarted {
                agent: "ann".into(),
                until: late,
            },
        },
    ];
    for event in events {
        assert!(matches!(
            event_json(1, &event),
            Err(JsonError::Unwritable(_))
        ));
        let mut out = b"kept".to_vec();
        assert!(matches!(
            write_event_json(1, &event, &mut out),
            Err(JsonError::Unwritable(_))
        ));
        assert_eq!(out, b"kept");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_event_of_a_random_workload_is_written_byte_for_byte(
        seed in any::<u64>(),
        steps in 1..400_usize,
    ) {
        let centre = common::random_centre(seed, steps);
        for (seq, event) in (1..).zip(&centre.log) {
            same_bytes(seq, event);
        }
    }
}
