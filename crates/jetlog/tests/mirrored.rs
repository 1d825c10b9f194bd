//! Cluster mode's log: the stream written first (fenced), then a local copy that is always a
//! prefix of it, record for record; a standby's copy brought up to the stream's end with each
//! record handed over once; a zombie's append fenced with its copy untouched; a copy of another
//! history refused.

mod common;

use switchboard_jetlog::{JetStreamConfig, JetStreamLog, MirroredLog, copy_tail};
use switchboard_log::{Entry, EventLog, FileLog, LogError, LogOptions};
use switchboard_natsd::NatsServer;

use common::{context, runtime};

/// `count` entries numbered from `from`.
fn entries(from: u64, count: u64) -> Vec<Entry> {
    (from..from + count)
        .map(|n| Entry {
            at_ms: 1_000 + n,
            payload: format!("event {n}").into_bytes(),
        })
        .collect()
}

#[test]
fn the_local_copy_is_the_streams_prefix_and_a_stale_writer_is_fenced() {
    let server = NatsServer::start().expect("nats-server");
    let rt = runtime();
    let client = rt
        .block_on(async_nats::connect(server.client_url().as_str()))
        .expect("connect");
    let mut config = JetStreamConfig::new("SB_LOG_MIRROR", "mirror.log");
    config.replicas = 1;
    let leader_dir = tempfile::tempdir().expect("dir");
    let open = |dir: &std::path::Path| {
        rt.block_on(MirroredLog::open(
            client.clone(),
            config.clone(),
            dir,
            LogOptions::default(),
        ))
    };
    let (mut leader, recovered) = open(leader_dir.path()).expect("open");
    assert_eq!(recovered.last_seq, 0);
    leader.append(&entries(1, 3)).expect("a turn");
    leader.append(&entries(4, 40)).expect("another");
    assert_eq!(leader.next_seq(), 44);
    assert_eq!(
        leader.local().next_seq(),
        leader.stream().position().next_seq
    );

    // A standby's copy follows: every record once, in order, the same chain.
    let standby_dir = tempfile::tempdir().expect("dir");
    let (mut standby, _) = FileLog::open(standby_dir.path(), LogOptions::default()).expect("log");
    let js = context(&rt, &client);
    let mut seen = Vec::new();
    let copied = rt
        .block_on(copy_tail(&js, &config, &mut standby, &mut |record| {
            seen.push(record.seq);
            Ok(())
        }))
        .expect("copy");
    assert_eq!(copied, 43);
    assert_eq!(seen, (1..=43).collect::<Vec<_>>());
    assert_eq!(standby.head_hash(), leader.head_hash());
    let again = rt
        .block_on(copy_tail(&js, &config, &mut standby, &mut |_| Ok(())))
        .expect("nothing new");
    assert_eq!(again, 0);

    // A writer opened here, then stalled while the leader went on, is fenced; its copy is not
    // touched.
    drop(standby);
    let (mut zombie, _) = open(standby_dir.path()).expect("zombie");
    leader.append(&entries(44, 2)).expect("the leader goes on");
    let refused = zombie.append(&entries(44, 1));
    assert!(
        matches!(
            refused,
            Err(LogError::Fenced {
                expected_last_seq: 43
            })
        ),
        "{refused:?}"
    );
    assert_eq!(zombie.local().next_seq(), 44, "nothing copied locally");
    let stream = rt
        .block_on(JetStreamLog::verify(&js, &config))
        .expect("verify the stream");
    assert_eq!(stream.records, 45);
    assert_eq!(stream.head_hash, leader.head_hash());
    let local = switchboard_log::verify(leader_dir.path(), |_, _| {}).expect("verify the copy");
    assert_eq!(
        local.head_hash, stream.head_hash,
        "the copy verifies as the stream"
    );

    // Reopened, the zombie's copy catches up; a copy of another history is refused.
    drop(zombie);
    let (caught_up, recovered) = open(standby_dir.path()).expect("reopen");
    assert_eq!(recovered.last_seq, 45);
    assert_eq!(caught_up.head_hash(), stream.head_hash);
    let stranger_dir = tempfile::tempdir().expect("dir");
    let (mut stranger, _) = FileLog::open(stranger_dir.path(), LogOptions::default()).expect("log");
    stranger.append(&entries(900, 2)).expect("another history");
    drop(stranger);
    let refused = open(stranger_dir.path()).expect_err("another history");
    assert!(
        refused.with_sources().contains("does not continue"),
        "{}",
        refused.with_sources()
    );
}
