//! The engine over a real data directory: recovery from snapshot plus tail equals replay from
//! zero; torn tails are cut; unusable snapshots are skipped; nothing uncommitted survives a
//! crash; histories are read back from the log; each snapshot also goes to the sink.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_core::{
    AgentLogin, Channel, Command, Event, EventKind, Level, NewContact, OfferId, Outcome,
    RoutingConfig, State, Tier, Timestamp,
};
use switchboard_engine::{Engine, EngineOptions, HistoryFilter, history, history_up_to, replay};

fn options(snapshot_every_events: u64) -> EngineOptions {
    EngineOptions {
        snapshot_every_events,
        ..EngineOptions::default()
    }
}

fn open(dir: &std::path::Path, every: u64) -> (Engine, switchboard_engine::Recovered) {
    Engine::open(
        dir,
        RoutingConfig::default(),
        options(every),
        &mut |_, _| {},
    )
    .expect("engine opens")
}

/// A seeded morning under group commit (snapshots every `every` events), with a snapshotter
/// taken before it and fed nothing: returns it, the submitted batches (first seq, events) and
/// the last seq, all durable.
fn submitted_morning(
    dir: &std::path::Path,
    every: u64,
    seed: u64,
) -> (switchboard_engine::Snapshotter, Vec<(u64, Vec<Event>)>, u64) {
    let (engine, _) = open(dir, every);
    let mut engine = engine.group_commit(|_| {}).expect("group commit starts");
    let snapshotter = engine.snapshotter().expect("the state is durable");
    let mut batches = Vec::new();
    morning_with(&mut engine, seed, 40, |engine| {
        engine.submit().expect("submit").map(|submitted| {
            batches.push((submitted.first_seq, submitted.events.clone()));
            submitted.events
        })
    });
    let engine = engine
        .direct_commit()
        .expect("everything submitted is durable");
    assert!(batches.len() > 3, "{} batches", batches.len());
    (snapshotter, batches, engine.next_seq() - 1)
}

/// Decides one routine contact after the mornings (at a fixed later instant), uncommitted.
fn decide_new_contact(engine: &mut Engine, id: &str, channel: Channel, service: &str) {
    let now = Timestamp::from_millis(1_795_500_000_000);
    engine
        .decide(
            Command::CreateContact(Box::new(NewContact::routine(id, channel, service))),
            now,
        )
        .expect("a new contact is decided");
}

/// The chain hash of record `seq` in the log in `dir`.
fn hash_at(dir: &std::path::Path, seq: u64) -> switchboard_log::ChainHash {
    switchboard_log::LogReader::open(dir)
        .expect("reader")
        .read_from(seq)
        .expect("read")
        .next()
        .expect("a record")
        .expect("intact")
        .hash
}

/// How many snapshot files `dir` holds.
fn snapshot_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("snapshot-"))
        })
        .count()
}

/// A seeded morning: agents log in and answer, contacts arrive and are completed; every command
/// is committed at once. Returns every committed event.
fn morning(engine: &mut Engine, seed: u64, steps: usize) -> Vec<Event> {
    morning_with(engine, seed, steps, |engine| {
        engine.commit().expect("commit").map(|batch| {
            assert_eq!(
                batch.last_seq - batch.first_seq + 1,
                batch.events.len() as u64
            );
            batch.events
        })
    })
}

/// The seeded morning, each command's events handed on by `commit` (which returns them).
fn morning_with(
    engine: &mut Engine,
    seed: u64,
    steps: usize,
    mut commit: impl FnMut(&mut Engine) -> Option<Vec<Event>>,
) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut now = Timestamp::from_millis(1_795_422_600_000);
    let mut committed = Vec::new();
    let services = ["council_tax", "benefits", "housing"];
    for a in 0..6 {
        let login = Command::LoginAgent(Box::new(AgentLogin {
            agent: format!("agent{a}").into(),
            name: format!("Agent {a}").into(),
            tier: Tier::new(1 + a % 3).expect("1-3"),
            site: "hq".into(),
            skills: services
                .iter()
                .map(|s| ((*s).into(), Level::new(3).expect("3")))
                .collect(),
            channels: None,
        }));
        engine.decide(login, now).expect("login");
        engine
            .decide(
                Command::MakeReady {
                    agent: format!("agent{a}").into(),
                },
                now,
            )
            .expect("ready");
    }
    let mut contacts = 0;
    for _ in 0..steps {
        now = now + Duration::from_millis(rng.random_range(100..20_000));
        engine.tick(now);
        let command = match rng.random_range(0..4) {
            0 => {
                contacts += 1;
                let mut contact = NewContact::routine(
                    &format!("c{contacts}"),
                    Channel::Phone,
                    services[rng.random_range(0..3)],
                );
                contact.customer = Some(format!("cust{}", rng.random_range(0..5)).into());
                Some(Command::CreateContact(Box::new(contact)))
            }
            1 => engine
                .state()
                .offers()
                .next()
                .map(|o| Command::AcceptOffer {
                    agent: engine.state().agent_at(o.agent).id.clone(),
                    offer: o.id,
                }),
            2 => engine
                .state()
                .agents()
                .find(|a| !a.contacts.is_empty())
                .map(|a| Command::CompleteContact {
                    agent: a.id.clone(),
                    contact: engine
                        .state()
                        .contact_by_number(a.contacts[0])
                        .expect("held")
                        .id
                        .clone(),
                    outcome: Outcome::Resolved,
                }),
            _ => Some(Command::RejectOffer {
                agent: "agent0".into(),
                offer: OfferId::new(0),
                reason: None,
            }),
        };
        if let Some(command) = command {
            let _ = engine.decide(command, now);
        }
        if let Some(events) = commit(engine) {
            committed.extend(events);
        }
    }
    committed
}

#[test]
fn recovery_from_snapshot_and_tail_equals_replay_from_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, recovered) = open(dir.path(), 97);
    assert_eq!((recovered.last_seq, recovered.snapshot_seq), (0, None));
    let events = morning(&mut engine, 7, 400);
    assert!(
        events.len() > 300,
        "the morning should be busy: {} events",
        events.len()
    );
    let live = engine.state().clone();
    drop(engine);

    let (reopened, recovered) = open(dir.path(), 97);
    let snapshot_seq = recovered
        .snapshot_seq
        .expect("a snapshot was taken and used");
    assert_eq!(recovered.replayed, events.len() as u64 - snapshot_seq);
    assert!(
        recovered.skipped_snapshots.is_empty(),
        "{:?}",
        recovered.skipped_snapshots
    );
    assert!(
        *reopened.state() == live,
        "snapshot + tail differs from the live state"
    );
    assert!(
        State::replay(&events) == live,
        "replay from zero differs from the live state"
    );
    assert_eq!(reopened.state().check_invariants(), Ok(()));

    let (replayed, report) = replay(dir.path(), &mut |_, _| {}).expect("replay");
    assert_eq!(report.events, events.len() as u64);
    assert!(replayed == live);
}

#[test]
fn group_commit_reports_every_submitted_batch_durable_in_order_and_recovers_the_same_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, _) = open(dir.path(), 97);
    let (reports, reported) = std::sync::mpsc::channel();
    let mut engine = engine
        .group_commit(move |report| {
            let _ = reports.send(report);
        })
        .expect("group commit starts");
    let mut snapshotter = engine.snapshotter().expect("the state is durable");
    let mut batches = Vec::new();
    let mut last_submitted = 0;
    let events = morning_with(&mut engine, 7, 400, |engine| {
        engine.submit().expect("submit").map(|submitted| {
            assert_eq!(submitted.first_seq, last_submitted + 1, "dense numbering");
            assert_eq!(
                submitted.last_seq - submitted.first_seq + 1,
                submitted.events.len() as u64
            );
            last_submitted = submitted.last_seq;
            batches.push((
                submitted.first_seq,
                submitted.last_seq,
                submitted.events.clone(),
            ));
            submitted.events
        })
    });
    assert_eq!(last_submitted, events.len() as u64);
    assert_eq!(engine.next_seq(), last_submitted + 1);
    // Every batch is reported durable, in increasing order, up to the last one submitted; the
    // snapshotter follows as the engine loop feeds it: durable batches, then the durable point.
    let mut durable = 0;
    let mut fed = batches.into_iter().peekable();
    while durable < last_submitted {
        match reported.recv_timeout(Duration::from_secs(30)) {
            Ok(switchboard_log::Report::Durable(group)) => {
                assert!(group.durable.up_to_seq > durable, "reports go forward");
                assert!(group.entries > 0 && group.batches > 0);
                durable = group.durable.up_to_seq;
                while let Some((first, _, events)) = fed.next_if(|(_, last, _)| *last <= durable) {
                    snapshotter.events(first, std::sync::Arc::new(events));
                }
                snapshotter.durable(durable, group.durable.head_hash);
            }
            Ok(switchboard_log::Report::Failed(error)) => panic!("the log failed: {error}"),
            Err(error) => panic!("no report covers seq {last_submitted}: {error}"),
        }
    }
    assert_eq!(durable, last_submitted);
    snapshotter.stop();
    let live = engine.state().clone();
    drop(engine);

    let (reopened, recovered) = open(dir.path(), 97);
    assert_eq!(recovered.last_seq, last_submitted);
    assert!(
        recovered.snapshot_seq.is_some(),
        "the snapshotter wrote snapshots at durable points"
    );
    assert!(
        recovered.skipped_snapshots.is_empty(),
        "{:?}",
        recovered.skipped_snapshots
    );
    assert!(*reopened.state() == live);
    assert!(State::replay(&events) == live);
}

#[test]
fn the_engine_goes_back_to_direct_commits_and_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, _) = open(dir.path(), 0);
    let mut engine = engine.group_commit(|_| {}).expect("group commit starts");
    let mut events = morning_with(&mut engine, 5, 80, |engine| {
        engine.submit().expect("submit").map(|s| s.events)
    });
    let mut engine = engine
        .direct_commit()
        .expect("the committer hands the log back");
    decide_new_contact(&mut engine, "after", Channel::Email, "housing");
    let batch = engine.commit().expect("commit").expect("events");
    assert_eq!(batch.first_seq, events.len() as u64 + 1);
    events.extend(batch.events);
    assert_eq!(engine.next_seq(), events.len() as u64 + 1);
    drop(engine);
    let (engine, _) = open(dir.path(), 0);
    assert!(*engine.state() == State::replay(&events));
}

#[test]
fn the_engine_goes_on_from_where_it_stopped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), 50);
    let mut events = morning(&mut engine, 11, 150);
    drop(engine);
    let (mut engine, _) = open(dir.path(), 50);
    let next = engine.next_seq();
    assert_eq!(next, events.len() as u64 + 1);
    decide_new_contact(&mut engine, "late", Channel::Email, "housing");
    let batch = engine.commit().expect("commit").expect("events");
    assert_eq!(batch.first_seq, next);
    events.extend(batch.events);
    drop(engine);
    let (engine, _) = open(dir.path(), 0);
    assert!(*engine.state() == State::replay(&events));
}

#[test]
fn an_engine_taken_apart_and_put_back_together_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), 0);
    morning(&mut engine, 13, 60);
    decide_new_contact(&mut engine, "pending", Channel::Email, "housing");
    let parts = engine.into_parts().expect("taken apart");
    assert_eq!(
        parts.router.state().events_applied(),
        switchboard_log::EventLog::next_seq(&parts.log) - 1,
        "what was pending is committed first"
    );
    let mut engine = Engine::from_parts(parts).expect("put back together");
    decide_new_contact(&mut engine, "after", Channel::Email, "housing");
    engine.commit().expect("commit").expect("events");
    let (state, _) = replay(dir.path(), &mut |_, _| {}).expect("replay");
    assert!(state == *engine.state());
    // A router that does not hold the log's events is refused.
    let parts = engine.into_parts().expect("taken apart");
    let stranger = switchboard_core::Router::new(RoutingConfig::default()).expect("router");
    let refused = Engine::from_parts(switchboard_engine::EngineParts {
        router: stranger,
        ..parts
    });
    assert!(matches!(
        refused,
        Err(switchboard_engine::EngineError::Diverged { .. })
    ));
}

#[test]
fn nothing_decided_but_uncommitted_survives_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), 0);
    let events = morning(&mut engine, 3, 60);
    decide_new_contact(&mut engine, "unsaid", Channel::Phone, "benefits");
    assert!(engine.pending() > 0);
    drop(engine); // no commit: as if the process died before the fdatasync
    let (engine, _) = open(dir.path(), 0);
    assert!(engine.state().contact("unsaid").is_none());
    assert!(*engine.state() == State::replay(&events));
}

#[test]
fn a_torn_final_record_is_cut_and_everything_before_it_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), 0);
    let events = morning(&mut engine, 5, 80);
    drop(engine);
    let segment = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .max()
        .expect("a segment");
    let len = std::fs::metadata(&segment).expect("stat").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open segment");
    file.set_len(len - 7).expect("tear the last record");
    drop(file);

    let (engine, recovered) = open(dir.path(), 0);
    assert!(recovered.torn_tail.is_some());
    assert_eq!(recovered.last_seq, events.len() as u64 - 1);
    assert!(*engine.state() == State::replay(&events[..events.len() - 1]));
}

#[test]
fn an_older_snapshot_serves_when_the_newest_is_not_of_this_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), 0);
    let events = morning(&mut engine, 9, 100);
    let good = events.len() as u64;
    engine.snapshot().expect("snapshot").expect("written");
    // Newer, and of another history: past the end of this log (as after restoring an older log
    // beside newer snapshots).
    let other = tempfile::tempdir().expect("temp dir");
    let (mut stranger, _) = open(other.path(), 0);
    morning(&mut stranger, 10, 100);
    switchboard_log::save_snapshot(
        dir.path(),
        good + 50,
        switchboard_log::ChainHash([7; 32]),
        &switchboard_wire::encode_snapshot(stranger.state()),
        &switchboard_log::SnapshotOptions::default(),
    )
    .expect("save");
    drop(engine);
    let (mut engine, recovered) = open(dir.path(), 0);
    assert_eq!(recovered.snapshot_seq, Some(good), "the older one serves");
    assert_eq!(recovered.replayed, 0);
    assert_eq!(
        recovered.skipped_snapshots.len(),
        1,
        "{:?}",
        recovered.skipped_snapshots
    );
    assert!(*engine.state() == State::replay(&events));
    // The next snapshot written clears the one of the other history away.
    engine.snapshot().expect("snapshot").expect("written");
    drop(engine);
    let (_, recovered) = open(dir.path(), 0);
    assert!(
        recovered.skipped_snapshots.is_empty(),
        "{:?}",
        recovered.skipped_snapshots
    );
}

#[test]
fn a_snapshot_that_does_not_match_the_log_is_skipped_and_the_log_replayed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), 0);
    let events = morning(&mut engine, 9, 100);
    // A snapshot of another history, stamped with this log's position.
    let other = tempfile::tempdir().expect("temp dir");
    let (mut stranger, _) = open(other.path(), 0);
    morning(&mut stranger, 10, 100);
    let bytes = switchboard_wire::encode_snapshot(stranger.state());
    let seq = events.len() as u64;
    switchboard_log::save_snapshot(
        dir.path(),
        seq,
        switchboard_log::ChainHash([7; 32]),
        &bytes,
        &switchboard_log::SnapshotOptions::default(),
    )
    .expect("save");
    drop(engine);
    let (engine, recovered) = open(dir.path(), 0);
    assert_eq!(recovered.snapshot_seq, None);
    assert_eq!(
        recovered.skipped_snapshots.len(),
        1,
        "{:?}",
        recovered.skipped_snapshots
    );
    let skipped = &recovered.skipped_snapshots[0];
    assert!(
        matches!(
            skipped.reason,
            switchboard_engine::SnapshotRejection::NotInLog(
                switchboard_log::LogError::SnapshotMismatch { seq: at, .. }
            ) if at == seq
        ),
        "{skipped:?}"
    );
    assert!(
        skipped
            .to_string()
            .starts_with(&format!("{}: ", skipped.path.display())),
        "{skipped}"
    );
    assert!(*engine.state() == State::replay(&events));
}

#[test]
fn history_names_every_event_of_a_contact_and_of_a_customer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), 0);
    let mut events = morning(&mut engine, 13, 200);
    // A decision about a customer that names no contact: their history (a subject access
    // request) must hold it; another customer's must not.
    let later = events.last().map_or(Timestamp::EPOCH, |e| e.at);
    for customer in ["cust2", "cust-other"] {
        let mark = Command::MarkPersistentComplainant {
            customer: customer.into(),
            designated: true,
            reason: "policy decision 2026/14".into(),
        };
        engine.decide(mark, later).expect("mark");
        events.extend(engine.commit().expect("commit").expect("an event").events);
    }
    drop(engine);
    let of = |id: &str| -> Vec<&Event> {
        events
            .iter()
            .filter(|e| e.kind.contact().is_some_and(|c| c.as_str() == id))
            .collect()
    };
    let found = history(dir.path(), &HistoryFilter::Contact("c1".into())).expect("history");
    assert!(!found.is_empty());
    assert_eq!(found.iter().map(|(_, e)| e).collect::<Vec<_>>(), of("c1"));
    assert!(found.windows(2).all(|w| w[0].0 < w[1].0), "in log order");
    // Bounded at a sequence number (a running engine's durable point): nothing after it.
    let middle = found[found.len() / 2].0;
    let bounded =
        history_up_to(dir.path(), &HistoryFilter::Contact("c1".into()), middle).expect("history");
    assert_eq!(
        bounded,
        found
            .iter()
            .filter(|(seq, _)| *seq <= middle)
            .cloned()
            .collect::<Vec<_>>()
    );
    assert!(bounded.len() < found.len());

    let customer = "cust2";
    let theirs: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ContactCreated(c) if c.details.customer.as_deref() == Some(customer) => {
                Some(c.details.id.to_string())
            }
            _ => None,
        })
        .collect();
    assert!(!theirs.is_empty());
    let found = history(dir.path(), &HistoryFilter::Customer(customer.into())).expect("history");
    let expected: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.kind
                .contact()
                .is_some_and(|c| theirs.iter().any(|t| t == c.as_str()))
                || matches!(&e.kind, EventKind::PersistentComplainantMarked { customer: c, .. }
                    if c.as_str() == customer)
        })
        .collect();
    assert_eq!(found.iter().map(|(_, e)| e).collect::<Vec<_>>(), expected);
    assert_eq!(
        found
            .iter()
            .filter(|(_, e)| matches!(e.kind, EventKind::PersistentComplainantMarked { .. }))
            .count(),
        1,
        "their own decision, not the other customer's"
    );
    assert!(
        history(dir.path(), &HistoryFilter::Contact("nobody".into()))
            .expect("history")
            .is_empty()
    );
}

#[test]
fn an_empty_log_takes_no_snapshot_and_reopens_clean() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), 0);
    assert_eq!(engine.snapshot().expect("snapshot"), None);
    drop(engine);
    let (_, recovered) = open(dir.path(), 0);
    assert!(
        recovered.skipped_snapshots.is_empty(),
        "{:?}",
        recovered.skipped_snapshots
    );
    assert_eq!((recovered.last_seq, recovered.snapshot_seq), (0, None));
}

#[test]
fn the_snapshotter_writes_only_at_a_durable_point_it_has_applied_and_stops_at_a_gap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut snapshotter, batches, _) = submitted_morning(dir.path(), 1, 9);
    let hash_at = |seq: u64| hash_at(dir.path(), seq);
    let snapshots = || snapshot_files(dir.path());
    // The first batch, then a durable point past it: not the state it holds, so no snapshot.
    let (first, events) = batches[0].clone();
    let applied = first + events.len() as u64 - 1;
    snapshotter.events(first, std::sync::Arc::new(events));
    snapshotter.durable(applied + 1, hash_at(applied + 1));
    // A gap: the third batch without the second. It stops following, so even an exact durable
    // point after it writes nothing.
    let (third, events) = batches[2].clone();
    let last = third + events.len() as u64 - 1;
    snapshotter.events(third, std::sync::Arc::new(events));
    snapshotter.durable(last, hash_at(last));
    snapshotter.stop();
    assert_eq!(
        snapshots(),
        0,
        "no snapshot of a state that is not the log's"
    );
}

#[test]
fn with_snapshots_off_the_snapshotter_follows_nothing_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut snapshotter, batches, last) = submitted_morning(dir.path(), 0, 11);
    let head = hash_at(dir.path(), last);
    // Every batch and an exact durable point at the end: with snapshots on, a snapshot.
    for (first, events) in batches {
        snapshotter.events(first, std::sync::Arc::new(events));
    }
    snapshotter.durable(last, head);
    snapshotter.stop();
    assert_eq!(snapshot_files(dir.path()), 0);
}

#[test]
fn a_snapshot_that_cannot_be_written_does_not_cost_a_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut tight = options(1);
    // Every snapshot is refused as too large: a stand-in for a full disk.
    tight.snapshot.snapshot_bytes_max = 16;
    let (mut engine, _) = Engine::open(dir.path(), RoutingConfig::default(), tight, &mut |_, _| {})
        .expect("engine opens");
    decide_new_contact(&mut engine, "kept", Channel::Email, "housing");
    let batch = engine
        .commit()
        .expect("committed although the snapshot failed")
        .expect("events");
    assert_eq!(batch.first_seq, 1);
    drop(engine);
    let (engine, recovered) = open(dir.path(), 0);
    assert_eq!(recovered.last_seq, batch.last_seq);
    assert_eq!(recovered.snapshot_seq, None);
    assert!(engine.state().contact("kept").is_some());
}

#[test]
fn each_snapshot_also_goes_to_the_sink_with_the_files_stamp_and_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (unused, batches, last) = submitted_morning(dir.path(), 0, 12);
    unused.stop();
    let head = hash_at(dir.path(), last);
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = {
        let sent = sent.clone();
        switchboard_engine::SnapshotSink::new(move |seq, hash, payload| {
            sent.lock()
                .expect("lock")
                .push((seq, hash, payload.to_vec()));
        })
    };
    let mut snapshotter = switchboard_engine::Snapshotter::spawn(
        &State::new(),
        0,
        switchboard_engine::SnapshotterOptions {
            dir: dir.path().to_path_buf(),
            snapshot: switchboard_log::SnapshotOptions::default(),
            every_events: 1,
            sink: Some(sink),
        },
    )
    .expect("the snapshot thread starts");
    for (first, events) in batches {
        snapshotter.events(first, std::sync::Arc::new(events));
    }
    snapshotter.durable(last, head);
    snapshotter.stop();
    let file = switchboard_log::load_latest_snapshot(dir.path(), &Default::default())
        .expect("read the snapshots")
        .snapshot
        .expect("a snapshot file");
    let sent = sent.lock().expect("lock");
    assert_eq!(sent.len(), 1, "one snapshot, one hand-over");
    assert_eq!((sent[0].0, sent[0].1), (last, head));
    assert_eq!((file.seq, file.head_hash), (last, head));
    assert_eq!(sent[0].2, file.payload, "the bytes of the snapshot file");
}

#[test]
fn a_damaged_record_opening_did_not_read_is_refused_by_recovery() {
    // Without a full scan, opening the log reads only its last segment: recovery, which replays
    // from the start (no snapshot), must check the others itself.
    let seed = 19;
    println!("seed {seed}");
    let dir = tempfile::tempdir().expect("temp dir");
    let engine_options = EngineOptions {
        snapshot_every_events: 0,
        log: switchboard_log::LogOptions {
            segment_bytes_max: 4096,
            full_scan_on_open: false,
            ..switchboard_log::LogOptions::default()
        },
        ..EngineOptions::default()
    };
    let open_with = |options: &EngineOptions| {
        Engine::open(
            dir.path(),
            RoutingConfig::default(),
            options.clone(),
            &mut |_, _| {},
        )
    };
    let (mut engine, _) = open_with(&engine_options).expect("engine opens");
    morning(&mut engine, seed, 200);
    drop(engine);
    let mut segments: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    assert!(segments.len() >= 3, "{} segments", segments.len());
    let mut bytes = std::fs::read(&segments[0]).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&segments[0], &bytes).expect("write");
    match open_with(&engine_options) {
        Err(switchboard_engine::EngineError::Log(switchboard_log::LogError::Corrupt(c))) => {
            assert_eq!(c.segment, segments[0]);
        }
        Err(other) => panic!("expected corruption, got {other}"),
        Ok(_) => panic!("a damaged log must be refused"),
    }
}

#[test]
fn a_replay_long_enough_to_read_on_a_second_thread_applies_every_event_and_stops_at_a_bad_one() {
    // Past a few thousand records, `replay` reads and checks the log on a second thread, a batch
    // ahead of decoding and applying (when the machine has two cores; else in turn). Either way:
    // every event in order, the same head, and the first bad record named.
    let seed = 23;
    println!("seed {seed}");
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut engine, _) = open(dir.path(), 0);
    let events = morning(&mut engine, seed, 8_000);
    assert!(events.len() > 10_000, "{} events", events.len());
    let live = engine.state().clone();
    let last_seq = engine.next_seq() - 1;
    drop(engine);
    let mut told = Vec::new();
    let (replayed, report) =
        replay(dir.path(), &mut |done, total| told.push((done, total))).expect("replay");
    assert_eq!(report.events, last_seq);
    assert_eq!(report.head_hash, hash_at(dir.path(), last_seq));
    assert!(
        replayed == live,
        "the replayed state differs from the live one"
    );
    assert!(State::replay(&events) == live);
    assert_eq!(told.first(), Some(&(0, last_seq)));
    assert_eq!(told.last(), Some(&(last_seq, last_seq)));

    // A record that is intact in the log (CRC and chain) but is no event: named by its seq,
    // after every record before it was read.
    let (mut log, _) =
        switchboard_log::FileLog::open(dir.path(), switchboard_log::LogOptions::default())
            .expect("log opens");
    log.append(&[switchboard_log::Entry {
        at_ms: 1_795_422_600_000,
        payload: vec![0xff; 40],
    }])
    .expect("append");
    drop(log);
    match replay(dir.path(), &mut |_, _| {}) {
        Err(switchboard_engine::EngineError::Decode { seq, .. }) => {
            assert_eq!(seq, last_seq + 1);
        }
        Err(other) => panic!("expected a decoding error, got {other}"),
        Ok(_) => panic!("a record that is no event must stop the replay"),
    }

    // A damaged record past the first batches: the read's problem, not a wrong state.
    let segment = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|entry| entry.expect("entry").path())
        .find(|path| path.extension().is_some_and(|e| e == "seg"))
        .expect("a segment");
    let mut bytes = std::fs::read(&segment).expect("read");
    let at = bytes.len() * 3 / 4;
    bytes[at] ^= 0x40;
    std::fs::write(&segment, &bytes).expect("write");
    match replay(dir.path(), &mut |_, _| {}) {
        Err(switchboard_engine::EngineError::Log(switchboard_log::LogError::Corrupt(c))) => {
            assert_eq!(c.segment, segment);
        }
        Err(other) => panic!("expected corruption, got {other}"),
        Ok(_) => panic!("a damaged log must be refused"),
    }
}
