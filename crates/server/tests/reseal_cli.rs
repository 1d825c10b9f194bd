//! `switchboard privacy reseal` (docs/privacy.md, "Logs written before sealing"): a log written
//! before sealing, with customer references, caller numbers and free-text reasons in plaintext,
//! is re-sealed into a new data directory by the real binary. No file there but the keystore
//! holds any of the personal data; the new chain verifies; `audit show --customer` opens it;
//! `replay` rebuilds the same state; idempotency receipts ride along; the proof names the old
//! log's verified head. A tampered old log, and a new directory that already holds a log or a
//! keystore, are refused with exit status 1 and nothing written.

use std::path::Path;

use switchboard_core::{
    AgentLogin, Channel, Command, ComplaintStage, Event, Level, NewContact, Router, RoutingConfig,
    Tier, Timestamp,
};
use switchboard_log::{Entry, FileLog, LogOptions};
use switchboard_wire::Receipt;

mod common;
use common::{files_under, json, switchboard, text};

const CUSTOMER: &str = "CUST-RESEAL-1";
const CALLER: &str = "07700 900555";
const NAME: &str = "Rosalind Reseal";
const NOTE: &str = "flat 4 Resealing Court";
const EXTENSION: &str = "waiting for Rosalind's tenancy papers";
const POLICY: &str = "abusive calls from 07700 900555";
const STAGE: &str = "Rosalind asked for stage 2";
/// A member of staff's own reason (employee data, sealed under their key).
const STAFF: &str = "dentist appointment for Ann";
const PERSONAL: [&str; 8] = [
    CUSTOMER, CALLER, NAME, NOTE, EXTENSION, POLICY, STAGE, STAFF,
];

/// The events a routing core writes for a few contacts with personal data, unsealed, as an
/// engine wrote them before sealing.
fn plaintext_events() -> Vec<Event> {
    let mut router = Router::new(RoutingConfig::default()).expect("config");
    let mut complaint = NewContact::routine("c1", Channel::Email, "council_tax");
    complaint.customer = Some(CUSTOMER.into());
    complaint.complaint_stage = Some(ComplaintStage::Stage1);
    complaint.attributes = vec![
        ("caller".into(), CALLER.into()),
        ("name".into(), NAME.into()),
    ];
    let mut anonymous = NewContact::routine("c2", Channel::Phone, "housing");
    anonymous.attributes = vec![("note".into(), NOTE.into())];
    let commands = [
        Command::LoginAgent(Box::new(AgentLogin {
            agent: "ann".into(),
            name: "Ann".into(),
            tier: Tier::new(1).expect("a tier"),
            site: "hq".into(),
            skills: vec![("council_tax".into(), Level::new(3).expect("a level"))],
            channels: None,
        })),
        Command::MakeNotReady {
            agent: "ann".into(),
            reason: STAFF.into(),
        },
        Command::CreateContact(Box::new(complaint)),
        Command::CreateContact(Box::new(anonymous)),
        Command::ExtendDueTime {
            contact: "c1".into(),
            agent: None,
            working_days: 5,
            reason: EXTENSION.into(),
        },
        Command::ChangeComplaintStage {
            contact: "c1".into(),
            agent: None,
            to: ComplaintStage::Stage2,
            reason: STAGE.into(),
            received_at: None,
            due_at: None,
        },
        Command::MarkPersistentComplainant {
            customer: CUSTOMER.into(),
            designated: true,
            reason: POLICY.into(),
        },
        Command::AbandonContact {
            contact: "c2".into(),
        },
    ];
    let mut events = Vec::new();
    for (i, command) in commands.into_iter().enumerate() {
        let now = Timestamp::from_millis(1_780_000_000_000 + 60_000 * i as u64);
        router
            .handle_command(command, now)
            .unwrap_or_else(|e| panic!("command {i}: {e:?}"));
        events.extend(router.drain_events());
    }
    events
}

/// Writes `events` to a new log in `dir` as the engine stored them before sealing, with a
/// receipt on the first.
fn write_old_log(dir: &Path, events: &[Event]) {
    let (mut log, _) = FileLog::open(dir, LogOptions::default()).expect("a new log");
    let receipt = Receipt {
        key: "contact.create  reseal-key-1".to_owned(),
        ..Receipt::default()
    };
    let entries: Vec<Entry> = events
        .iter()
        .enumerate()
        .map(|(i, event)| Entry {
            at_ms: event.at.as_millis(),
            payload: switchboard_wire::encode_record(event, (i == 0).then_some(&receipt)),
        })
        .collect();
    log.append(&entries).expect("appended");
}

/// Whether any of the personal strings is in any file under `dir` but the keystore's.
fn personal_bytes_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for path in files_under(dir) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with(switchboard_privacy::KEYSTORE_FILE) {
            continue;
        }
        let bytes = std::fs::read(&path).expect("readable");
        for needle in PERSONAL {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(format!("{needle} in {}", path.display()));
            }
        }
    }
    found
}

fn dir_arg(dir: &Path) -> &str {
    dir.to_str().expect("utf-8 path")
}

#[test]
fn an_old_log_is_resealed_into_a_new_one_that_verifies_and_opens() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (old, new) = (tmp.path().join("old"), tmp.path().join("new"));
    let events = plaintext_events();
    write_old_log(&old, &events);
    assert!(
        !personal_bytes_in(&old).is_empty(),
        "the old log holds plaintext"
    );
    let verified = json(&switchboard(&[
        "audit",
        "verify",
        "--data-dir",
        dir_arg(&old),
        "--json",
    ]));
    assert_eq!(verified["ok"], true, "{verified}");

    let output = switchboard(&[
        "privacy",
        "reseal",
        "--from",
        dir_arg(&old),
        "--to",
        dir_arg(&new),
        "--json",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let printed = json(&output);
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(new.join("reseal-proof.json")).expect("the proof"))
            .expect("JSON");
    assert_eq!(printed, stored, "the proof printed is the proof kept");
    for field in ["records", "last_seq", "head_hash"] {
        assert_eq!(stored["old_log"][field], verified[field], "{field}");
    }
    assert_eq!(stored["old_log"]["records"], events.len());
    assert_eq!(stored["new_log"]["records"], events.len());
    assert_eq!(stored["receipts_carried"], 1);
    assert_eq!(stored["already_sealed"], false);
    assert_eq!(stored["keys_carried_from_old_keystore"], false);
    assert!(
        stored["tool"]
            .as_str()
            .is_some_and(|t| t.starts_with("switchboard "))
    );

    let found = personal_bytes_in(&new);
    assert!(
        found.is_empty(),
        "plaintext in the new directory: {found:?}"
    );
    let new_verified = json(&switchboard(&[
        "audit",
        "verify",
        "--data-dir",
        dir_arg(&new),
        "--json",
    ]));
    assert_eq!(new_verified["ok"], true, "{new_verified}");
    assert_eq!(new_verified["head_hash"], stored["new_log"]["head_hash"]);
    assert_ne!(new_verified["head_hash"], verified["head_hash"]);

    assert_each_record_kept(&old, &new, &events);
    assert_opened_and_replayed(&old, &new);
    // The old directory is only read.
    assert!(!personal_bytes_in(&old).is_empty());

    // Re-sealing a sealed log changes nothing, and says so instead of "now sealed".
    let again = tmp.path().join("again");
    let output = switchboard(&[
        "privacy",
        "reseal",
        "--from",
        dir_arg(&new),
        "--to",
        dir_arg(&again),
    ]);
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("was already sealed"), "{said}");
    assert!(!said.contains("now sealed"), "{said}");
    let proof: serde_json::Value =
        serde_json::from_slice(&std::fs::read(again.join("reseal-proof.json")).expect("proof"))
            .expect("JSON");
    assert_eq!(proof["already_sealed"], true, "{proof}");
    assert_eq!(
        proof["new_log"]["head_hash"],
        stored["new_log"]["head_hash"]
    );
}

/// Times, seqs and receipts are the old log's; only the personal fields changed.
fn assert_each_record_kept(old: &Path, new: &Path, events: &[Event]) {
    let read = |dir: &Path| {
        switchboard_log::LogReader::open(dir)
            .expect("reader")
            .read_from(1)
            .expect("records")
            .map(|r| r.expect("a record"))
            .collect::<Vec<_>>()
    };
    let (before, after) = (read(old), read(new));
    assert_eq!(before.len(), after.len());
    for ((was, now), event) in before.iter().zip(&after).zip(events) {
        assert_eq!((was.seq, was.at_ms), (now.seq, now.at_ms));
        let (sealed, receipt) = switchboard_wire::decode_record(&now.payload).expect("decodes");
        assert_eq!(sealed.at, event.at);
        assert_eq!(sealed.kind.name(), event.kind.name());
        assert_eq!(
            receipt.is_some(),
            now.seq == 1,
            "the receipt rides on its record"
        );
        if !switchboard_privacy::has_personal_fields(event) {
            assert_eq!(
                &sealed, event,
                "seq {}: nothing personal, nothing changed",
                now.seq
            );
        }
    }
}

/// `audit show --customer` opens the sealed values with the new keystore; `replay` rebuilds
/// the state the old log gives.
fn assert_opened_and_replayed(old: &Path, new: &Path) {
    let shown = switchboard(&[
        "audit",
        "show",
        "--customer",
        CUSTOMER,
        "--data-dir",
        dir_arg(new),
    ]);
    assert!(shown.status.success(), "{}", text(&shown));
    let shown = text(&shown);
    for needle in [CUSTOMER, EXTENSION, STAGE] {
        assert!(shown.contains(needle), "{needle} not shown:\n{shown}");
    }
    assert!(!shown.contains("sealed:"), "{shown}");
    let shown = switchboard(&[
        "audit",
        "show",
        "--customer",
        CUSTOMER,
        "--data-dir",
        dir_arg(new),
        "--json",
    ]);
    let shown = text(&shown);
    for needle in [CUSTOMER, CALLER, NAME, EXTENSION, STAGE] {
        assert!(shown.contains(needle), "{needle} not in the JSON:\n{shown}");
    }
    assert!(!shown.contains("sealed:"), "{shown}");
    let replay = |dir: &Path| {
        let out = json(&switchboard(&[
            "replay",
            "--data-dir",
            dir_arg(dir),
            "--json",
        ]));
        (
            out["events"].clone(),
            out["contacts"].clone(),
            out["queues"].clone(),
        )
    };
    let (old_replay, new_replay) = (replay(old), replay(new));
    assert_eq!(old_replay, new_replay);
    assert!(old_replay.0.as_u64().is_some_and(|n| n > 0));
}

#[test]
fn a_tampered_old_log_or_a_used_new_directory_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (old, new) = (tmp.path().join("old"), tmp.path().join("new"));
    write_old_log(&old, &plaintext_events());
    let reseal = |to: &Path| {
        switchboard(&[
            "privacy",
            "reseal",
            "--from",
            dir_arg(&old),
            "--to",
            dir_arg(to),
        ])
    };

    // A new directory that already holds a keystore, or a log.
    let used = tmp.path().join("used");
    std::fs::create_dir_all(&used).expect("dir");
    std::fs::write(used.join(switchboard_privacy::KEYSTORE_FILE), b"x").expect("written");
    let output = reseal(&used);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("a keystore"), "{}", text(&output));
    let output = reseal(&old);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("Refused"), "{}", text(&output));

    // One byte of the first record's payload changed: its checksum fails.
    let segment = files_under(&old)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .expect("a segment");
    let mut bytes = std::fs::read(&segment).expect("readable");
    bytes[64 + 56 + 4] ^= 0x01;
    std::fs::write(&segment, &bytes).expect("written");
    let output = reseal(&new);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("does not verify"),
        "{}",
        text(&output)
    );
    assert!(
        !new.exists(),
        "nothing is written for a log that does not verify"
    );
}
