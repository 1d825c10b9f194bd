//! The `switchboard` binary end to end: a scenario writes a real event log, and the audit and
//! replay commands read it back, with exit statuses and JSON that scripts can rely on.

mod common;

use std::path::Path;

use common::{json, switchboard, text};

/// Runs the built-in scenario into `dir`; returns its output.
fn scenario_into(dir: &Path) -> String {
    let output = switchboard(&["scenario", "--data-dir", dir.to_str().expect("utf-8 path")]);
    assert!(output.status.success(), "{}", text(&output));
    text(&output)
}

#[test]
fn the_scenario_writes_a_log_that_verifies_replays_and_tells_each_contacts_story() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("log");
    let d = dir.to_str().expect("utf-8 path");
    let printed = scenario_into(&dir);
    assert!(
        printed.contains("contact_escalated contact=call-003"),
        "{printed}"
    );
    assert!(
        printed.contains("rule=preferred_agent"),
        "the returning customer goes back to their agent"
    );

    let verified = switchboard(&["audit", "verify", "--data-dir", d, "--json"]);
    assert!(verified.status.success(), "{}", text(&verified));
    let verified = json(&verified);
    assert_eq!(verified["ok"], true);
    let records = verified["records"].as_u64().expect("records");
    assert!(records > 100, "{verified}");

    let replayed = switchboard(&["replay", "--data-dir", d, "--json"]);
    assert!(replayed.status.success(), "{}", text(&replayed));
    let replayed = json(&replayed);
    assert_eq!(replayed["events"].as_u64(), Some(records));
    assert_eq!(replayed["head_hash"], verified["head_hash"]);
    assert_eq!(replayed["contacts"]["queued"], 0);
    assert!(
        replayed["events_per_second"]
            .as_f64()
            .is_some_and(|r| r > 0.0)
    );

    let story = switchboard(&["audit", "show", "--data-dir", d, "--contact", "call-003"]);
    assert!(story.status.success(), "{}", text(&story));
    let story = text(&story);
    for expected in [
        "arrived for benefits",
        "offered to",
        "plan default step 0 'matched'",
        "escalated by",
        "completed by",
    ] {
        assert!(story.contains(expected), "missing {expected:?} in\n{story}");
    }

    let events = json(&switchboard(&[
        "audit",
        "show",
        "--data-dir",
        d,
        "--contact",
        "call-003",
        "--json",
    ]));
    let events = events.as_array().expect("an array");
    assert!(events.iter().all(|e| e["contact_id"] == "call-003"));
    assert_eq!(
        events.first().map(|e| e["type"].clone()),
        Some("contact_created".into())
    );
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let customer = json(&switchboard(&[
        "audit",
        "show",
        "--data-dir",
        d,
        "--customer",
        "cust-1042",
        "--json",
    ]));
    let contacts: std::collections::BTreeSet<&str> = customer
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|e| e["contact_id"].as_str())
        .collect();
    assert_eq!(
        contacts.into_iter().collect::<Vec<_>>(),
        ["call-011", "call-013"]
    );

    let unknown = switchboard(&[
        "audit",
        "show",
        "--data-dir",
        d,
        "--contact",
        "no-such-contact",
    ]);
    assert_eq!(unknown.status.code(), Some(1));
}

#[test]
fn a_flipped_bit_anywhere_in_the_log_is_reported_with_its_position() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("log");
    scenario_into(&dir);
    let segment = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .expect("a segment");
    let mut bytes = std::fs::read(&segment).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&segment, &bytes).expect("write");

    let d = dir.to_str().expect("utf-8 path");
    let broken = switchboard(&["audit", "verify", "--data-dir", d]);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    let said = text(&broken);
    let name = segment.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(said.contains("BROKEN") && said.contains(name), "{said}");

    let report = json(&switchboard(&[
        "audit",
        "verify",
        "--data-dir",
        d,
        "--json",
    ]));
    assert_eq!(report["ok"], false);
    let offset = report["offset"].as_u64().expect("offset");
    assert!(
        offset <= middle as u64,
        "the bad record starts at or before the flipped byte: {report}"
    );
    assert!(report["seq"].as_u64().is_some(), "{report}");
}

#[test]
fn the_scenario_refuses_a_directory_that_already_holds_a_log() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("log");
    scenario_into(&dir);
    let again = switchboard(&["scenario", "--data-dir", dir.to_str().expect("utf-8 path")]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again).contains("already holds an event log"),
        "{}",
        text(&again)
    );
}

#[test]
fn audit_and_replay_refuse_a_directory_without_a_log_and_say_where_it_is() {
    let temp = tempfile::tempdir().expect("temp dir");
    // Laid out as the demo lays out its data directory: the log one level down.
    scenario_into(&temp.path().join("engine"));
    let d = temp.path().to_str().expect("utf-8 path");
    for args in [
        vec!["audit", "verify", "--data-dir", d],
        vec!["audit", "verify", "--data-dir", d, "--json"],
        vec!["audit", "open", "--data-dir", d],
        vec!["audit", "show", "--data-dir", d, "--contact", "call-003"],
        vec!["replay", "--data-dir", d],
    ] {
        let refused = switchboard(&args);
        let said = text(&refused);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {said}");
        assert!(
            said.contains(&format!("no event log in {d}"))
                && said.contains(&format!("there is one in {d}/engine")),
            "{args:?}: {said}"
        );
        assert!(!said.contains("whole"), "{args:?}: {said}");
    }
    let missing = temp.path().join("missing");
    let refused = switchboard(&[
        "audit",
        "verify",
        "--data-dir",
        missing.to_str().expect("utf-8"),
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("is not a directory"),
        "{}",
        text(&refused)
    );
}

#[test]
fn the_calendar_answers_by_the_statutory_clock() {
    // Christmas 2026: Thursday 24 Dec 16:59 is before Thursday's 17:00 close; 25 and 28 Dec and
    // 1 Jan are bank holidays; the fifth working day after is Tuesday 5 January.
    let due = json(&switchboard(&[
        "calendar",
        "add-working-days",
        "2026-12-24T16:59",
        "5",
        "--json",
    ]));
    assert_eq!(due["due"]["at"], "2027-01-05T17:00:00Z", "{due}");

    // Easter 2027: received Thursday 25 March; Good Friday and Easter Monday do not count; the
    // clocks went forward on 28 March, so close of business is 16:00 UTC.
    let complaint = json(&switchboard(&[
        "calendar",
        "due",
        "--stage",
        "1",
        "--received",
        "2027-03-25T12:00",
        "--json",
    ]));
    assert_eq!(
        complaint["acknowledge_by"]["at"], "2027-04-05T16:00:00Z",
        "{complaint}"
    );
    assert_eq!(
        complaint["respond_by"]["at"], "2027-04-19T16:00:00Z",
        "{complaint}"
    );

    // A Friday afternoon before the clocks go back: closed at 16:45 BST, open Monday 08:30 GMT.
    let open = json(&switchboard(&[
        "calendar",
        "next-open",
        "--at",
        "2026-10-23T16:45",
        "--json",
    ]));
    assert_eq!(open["open_now"], false);
    assert_eq!(open["next_open"]["at"], "2026-10-26T08:30:00Z", "{open}");

    let bad = switchboard(&["calendar", "next-open", "--at", "tomorrow"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("RFC 3339"), "{}", text(&bad));
}
