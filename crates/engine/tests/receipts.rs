//! Idempotency receipts over a real data directory: written with a keyed command's last event,
//! read back on reopening for the last ten minutes of the log (and not before), whatever
//! snapshot recovery starts from, the newest first within the bound, reading the log's tail
//! rather than the whole of it.

use std::path::Path;
use std::time::Duration;

use switchboard_core::{AgentLogin, Channel, Command, Level, NewContact, Tier, Timestamp};
use switchboard_engine::{
    Engine, EngineOptions, ReceiptError, ReceiptOptions, Recovered, history, replay,
};
use switchboard_log::{LogOptions, LogReader};
use switchboard_wire::{Receipt, ReplyBody, decode_event, decode_record, reply_body};

/// 08:30 on a Monday morning.
const START_MS: u64 = 1_795_422_600_000;
const MINUTE_MS: u64 = 60_000;
/// The window the tests recover: the default, ten minutes.
const WINDOW: Duration = Duration::from_secs(10 * 60);
/// The window in milliseconds.
const WINDOW_MS: u64 = 10 * MINUTE_MS;

/// Small segments (so the log has many), snapshots every `snapshot_every` events, receipts
/// bounded by `entries_max`.
fn options(entries_max: usize, snapshot_every: u64) -> EngineOptions {
    EngineOptions {
        log: LogOptions {
            segment_bytes_max: 4096,
            ..LogOptions::default()
        },
        snapshot_every_events: snapshot_every,
        receipts: ReceiptOptions {
            window: WINDOW,
            entries_max,
        },
        ..EngineOptions::default()
    }
}

fn open(dir: &Path, options: EngineOptions) -> (Engine, Recovered) {
    Engine::open(
        dir,
        switchboard_core::RoutingConfig::default(),
        options,
        &mut |_, _| {},
    )
    .expect("engine opens")
}

/// Decides `command` as a keyed command: builds its reply from its events, as the driver does,
/// and attaches the receipt to its last event. Returns the receipt with its event's time.
fn decide_keyed(
    engine: &mut Engine,
    command: &Command,
    key: &str,
    now: Timestamp,
) -> (Timestamp, Receipt) {
    let first_seq = engine.next_seq();
    let count = engine.decide(command.clone(), now).expect("decided");
    assert!(count > 0, "{key}: a keyed command with no events");
    let pending = engine.pending_events();
    let own = &pending[pending.len() - count..];
    let at = own.last().expect("an event").at;
    let reply = reply_body(
        command,
        own.iter()
            .enumerate()
            .map(|(i, event)| (first_seq + i as u64, event)),
    );
    let receipt = Receipt {
        key: format!("create  {key}"),
        reply,
    };
    engine.attach_receipt(receipt.clone()).expect("attached");
    (at, receipt)
}

fn create(id: &str) -> Command {
    Command::CreateContact(Box::new(NewContact::routine(id, Channel::Phone, "tax")))
}

/// One agent who takes `tax`, ready, so that some creates are offered at once (a receipt then
/// rides on an `offer_made`, the command's last event).
fn staff(engine: &mut Engine) {
    let now = Timestamp::from_millis(START_MS);
    let login = Command::LoginAgent(Box::new(AgentLogin {
        agent: "ann".into(),
        name: "Ann".into(),
        tier: Tier::new(1).expect("a tier"),
        site: "hq".into(),
        skills: vec![("tax".into(), Level::new(3).expect("a level"))],
        channels: None,
    }));
    engine.decide(login, now).expect("login");
    engine
        .decide(
            Command::MakeReady {
                agent: "ann".into(),
            },
            now,
        )
        .expect("ready");
    engine.commit().expect("commit");
}

/// `minutes` minutes from minute `from`: each minute a keyed create and an unkeyed one, each
/// committed on its own. Returns the receipts written, oldest first.
fn write_minutes(engine: &mut Engine, from: u64, minutes: u64) -> Vec<(Timestamp, Receipt)> {
    let mut written = Vec::new();
    for minute in from..from + minutes {
        let now = Timestamp::from_millis(START_MS + minute * MINUTE_MS);
        written.push(decide_keyed(
            engine,
            &create(&format!("k{minute}")),
            &format!("key-{minute}"),
            now,
        ));
        engine.commit().expect("commit");
        engine
            .decide(create(&format!("u{minute}")), now)
            .expect("unkeyed create");
        engine.commit().expect("commit");
    }
    written
}

/// The receipts of `written` within the window measured back from `last_at`.
fn in_window(written: &[(Timestamp, Receipt)], last_at: Timestamp) -> Vec<(Timestamp, Receipt)> {
    let start = last_at.as_millis() - WINDOW_MS;
    written
        .iter()
        .filter(|(at, _)| at.as_millis() >= start)
        .cloned()
        .collect()
}

/// The time of the log's last record.
fn last_at(dir: &Path) -> Timestamp {
    let reader = LogReader::open(dir).expect("reader");
    let last = reader.last_seq().expect("last seq");
    let record = reader.record_at(last).expect("read").expect("a record");
    Timestamp::from_millis(record.at_ms)
}

#[test]
fn receipts_within_the_window_come_back_after_a_restart_and_older_ones_do_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, recovered) = open(dir.path(), options(1_000, 25));
    assert!(recovered.receipts().is_empty());
    // Nobody logged in: each create is recorded and then found unservable, two events, and its
    // receipt rides on the second.
    let written = write_minutes(&mut engine, 0, 40);
    let state = engine.state().clone();
    drop(engine);

    let (engine, recovered) = open(dir.path(), options(1_000, 25));
    let expected = in_window(&written, last_at(dir.path()));
    // Minutes 29 to 39: the window reaches back exactly ten minutes from the last record.
    assert_eq!(expected.len(), 11, "{expected:?}");
    assert_eq!(recovered.receipts(), expected.as_slice());
    assert_eq!(
        recovered.receipts.window_start,
        Some(Timestamp::from_millis(START_MS + 29 * MINUTE_MS))
    );
    assert!(engine.state() == &state, "the receipts changed the state");
    // Each receipt rides on the record its reply names, which decodes to an ordinary event.
    let reader = LogReader::open(dir.path()).expect("reader");
    for (at, receipt) in recovered.receipts() {
        let record = reader
            .record_at(receipt.reply.seq)
            .expect("read")
            .expect("the record the reply names");
        let (event, stored) = decode_record(&record.payload).expect("decodes");
        assert_eq!(stored.as_ref(), Some(receipt));
        assert_eq!(event.at, *at);
        assert_eq!(decode_event(&record.payload).expect("decodes"), event);
    }
    assert!(
        recovered
            .receipts()
            .iter()
            .all(|(_, r)| r.reply.events == 2),
        "{:?}",
        recovered.receipts()
    );
}

#[test]
fn a_snapshot_newer_than_the_window_start_does_not_hide_receipts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), options(1_000, 0));
    staff(&mut engine);
    let written = write_minutes(&mut engine, 0, 30);
    let snapshot = engine.snapshot().expect("snapshot");
    assert!(snapshot.is_some());
    let last_seq = engine.next_seq() - 1;
    drop(engine);

    let (_, recovered) = open(dir.path(), options(1_000, 0));
    assert_eq!(recovered.snapshot_seq, Some(last_seq));
    assert_eq!(recovered.replayed, 0);
    let expected = in_window(&written, last_at(dir.path()));
    assert_eq!(expected.len(), 11);
    assert_eq!(recovered.receipts(), expected.as_slice());
    assert!(
        recovered
            .receipts()
            .iter()
            .all(|(_, r)| r.reply.seq < last_seq)
    );
}

#[test]
fn the_bound_keeps_the_newest_receipts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), options(1_000, 0));
    staff(&mut engine);
    let written = write_minutes(&mut engine, 0, 20);
    drop(engine);

    let (engine, recovered) = open(dir.path(), options(3, 0));
    assert_eq!(recovered.receipts(), &written[written.len() - 3..]);
    drop(engine);
    let (_, recovered) = open(dir.path(), options(0, 0));
    assert!(recovered.receipts().is_empty());
    assert_eq!(recovered.receipts.records_read, 0);
}

#[test]
fn the_search_reads_the_logs_tail_not_the_whole_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), options(100_000, 0));
    staff(&mut engine);
    let written = write_minutes(&mut engine, 0, 300);
    drop(engine);

    let (_, recovered) = open(dir.path(), options(100_000, 0));
    let last = last_at(dir.path());
    assert_eq!(recovered.receipts(), in_window(&written, last).as_slice());
    // What it may read: the records of the window, plus the segment the window starts in.
    let reader = LogReader::open(dir.path()).expect("reader");
    let firsts = reader.segment_first_seqs().expect("segments");
    let last_seq = reader.last_seq().expect("last seq");
    let window_start = last.as_millis() - WINDOW_MS;
    let records_in_window = reader
        .read_from(1)
        .expect("read")
        .filter(|r| r.as_ref().expect("intact").at_ms >= window_start)
        .count() as u64;
    let segment_records_max = firsts
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .expect("several segments");
    let scan = &recovered.receipts;
    assert!(firsts.len() >= 20, "{} segments", firsts.len());
    assert!(
        scan.records_read <= records_in_window + segment_records_max,
        "read {} records; {records_in_window} in the window, segments of {segment_records_max} at most",
        scan.records_read
    );
    assert!(scan.records_read < last_seq / 4, "{scan:?} of {last_seq}");
    assert!(scan.segments_read as usize <= firsts.len() / 4, "{scan:?}");
}

#[test]
fn a_receipt_attaches_only_to_the_last_event_of_the_command_just_decided() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), options(1_000, 0));
    let now = Timestamp::from_millis(START_MS);
    let receipt = |seq| Receipt {
        key: "create  k".into(),
        reply: ReplyBody {
            seq,
            events: 1,
            ..ReplyBody::default()
        },
    };
    assert!(matches!(
        engine.attach_receipt(receipt(0)),
        Err(ReceiptError::NoPendingEvent { .. })
    ));
    // Nobody is logged in: created, then unservable.
    engine.decide(create("c1"), now).expect("decided");
    assert_eq!(engine.pending_events().len(), 2);
    assert_eq!(
        engine.attach_receipt(receipt(1)),
        Err(ReceiptError::NotTheLastEvent {
            reply_seq: 1,
            last_seq: 2
        })
    );
    engine.attach_receipt(receipt(2)).expect("attached");
    assert!(matches!(
        engine.attach_receipt(receipt(2)),
        Err(ReceiptError::AlreadyAttached { seq: 2, .. })
    ));
    engine.commit().expect("commit");
    assert!(matches!(
        engine.attach_receipt(receipt(2)),
        Err(ReceiptError::NoPendingEvent { .. })
    ));
    drop(engine);
    let (_, recovered) = open(dir.path(), options(1_000, 0));
    assert_eq!(recovered.receipts(), &[(now, receipt(2))]);
}

#[test]
fn receipts_submitted_to_the_group_committer_are_written_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, _) = open(dir.path(), options(1_000, 0));
    let mut engine = engine.group_commit(|_| {}).expect("group commit starts");
    let mut written = Vec::new();
    // Several keyed commands in one submitted batch, between unkeyed ones.
    for i in 0..4_u64 {
        let now = Timestamp::from_millis(START_MS + i * 1_000);
        engine.decide(create(&format!("u{i}")), now).expect("ok");
        written.push(decide_keyed(
            &mut engine,
            &create(&format!("k{i}")),
            &format!("key-{i}"),
            now,
        ));
    }
    engine
        .decide(create("last"), Timestamp::from_millis(START_MS + 9_000))
        .expect("ok");
    let submitted = engine.submit().expect("submit").expect("events");
    // Nobody is logged in: each create is two events.
    assert_eq!(submitted.events.len(), 18);
    let engine = engine.direct_commit().expect("durable");
    let state = engine.state().clone();
    drop(engine);

    let (_, recovered) = open(dir.path(), options(1_000, 0));
    assert_eq!(recovered.receipts(), written.as_slice());
    // Replay and contact histories read the records as events, receipts ignored.
    let (replayed, report) = replay(dir.path(), &mut |_, _| {}).expect("replay");
    assert_eq!(report.events, 18);
    assert!(replayed == state);
    let story = history(
        dir.path(),
        &switchboard_engine::HistoryFilter::Contact("k2".into()),
    )
    .expect("history");
    assert_eq!(story.len(), 2);
}
