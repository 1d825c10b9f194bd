//! The JetStream log against a real three-node cluster: records read back as written, the hash
//! chain the file log's, a stale writer fenced with nothing of its batch stored, nothing
//! acknowledged lost when servers are killed, and a reader that goes on when its consumer is
//! made again.

mod common;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_jetlog::{ATOMIC_BATCH_MAX, JetStreamConfig, JetStreamLog, StreamReader};
use switchboard_log::{Entry, EventLog, FileLog, LogError, LogOptions};
use switchboard_natsd::NatsCluster;

use common::{connect, context, runtime, stream_leader};

/// `count` entries with seeded payloads of 0 to 300 bytes, times from `at_ms`.
fn entries(rng: &mut ChaCha8Rng, count: usize, at_ms: u64) -> Vec<Entry> {
    (0..count)
        .map(|index| {
            let len = rng.random_range(0..300);
            Entry {
                at_ms: at_ms + index as u64,
                payload: (0..len).map(|_| rng.random()).collect(),
            }
        })
        .collect()
}

/// The seed of a test's randomness, printed so that a failure can be replayed.
/// Every record of `log` from `seq`. Making the reader (an ordered consumer on the R3 stream)
/// is one JetStream request, which a loaded machine has been seen to leave unanswered within
/// the client's 5 s; a reader does what a standby does then: it asks again (at most
/// [`READ_ATTEMPTS`] times).
fn read_records(log: &JetStreamLog, seq: u64) -> Vec<switchboard_log::Record> {
    let mut attempt = 1;
    loop {
        match log.read_from(seq) {
            Ok(records) => return records.collect::<Result<_, _>>().expect("records"),
            Err(error) if attempt < READ_ATTEMPTS => {
                println!("reading from {seq}, attempt {attempt}: {error}; again");
                attempt += 1;
            }
            Err(error) => panic!("reading from {seq}: {error}"),
        }
    }
}

/// Attempts at making a reader before a read fails the test.
const READ_ATTEMPTS: usize = 3;

fn seed() -> u64 {
    let seed = std::env::var("SWITCHBOARD_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(rand::random);
    println!("SWITCHBOARD_SEED={seed}");
    seed
}

fn config(name: &str) -> JetStreamConfig {
    JetStreamConfig::new(format!("LOG_{name}"), format!("log.{name}"))
}

#[test]
fn records_read_back_and_chain_exactly_as_in_the_file_log() {
    let cluster = NatsCluster::start().expect("cluster");
    let rt = runtime();
    let client = rt.block_on(connect(&cluster));
    let config = config("readback");
    let mut log = rt
        .block_on(JetStreamLog::open(client.clone(), config.clone()))
        .expect("open");
    let dir = tempfile::tempdir().expect("dir");
    let (mut file_log, _) = FileLog::open(dir.path(), LogOptions::default()).expect("file log");
    let mut rng = ChaCha8Rng::seed_from_u64(seed());

    let mut written = Vec::new();
    // A turn of one, a turn of many, and one longer than an atomic batch may be.
    for count in [1, 37, ATOMIC_BATCH_MAX + 250] {
        let batch = entries(&mut rng, count, 1_000 * written.len() as u64);
        let appended = log.append(&batch).expect("append");
        let in_file = file_log.append(&batch).expect("file append");
        assert_eq!(appended, in_file, "the same seqs and the same head hash");
        written.extend(batch);
    }
    assert_eq!(log.next_seq(), written.len() as u64 + 1);

    let read = read_records(&log, 1);
    assert_eq!(read.len(), written.len());
    let from_file: Vec<_> = file_log
        .read_from(1)
        .expect("file read")
        .collect::<Result<_, _>>()
        .expect("file records");
    assert_eq!(
        read, from_file,
        "every record, hash included, as the file log has it"
    );
    for (record, entry) in read.iter().zip(&written) {
        assert_eq!(
            (record.at_ms, &record.payload),
            (entry.at_ms, &entry.payload)
        );
    }
    let tail = read_records(&log, 1_000);
    assert_eq!(tail.first().map(|r| r.seq), Some(1_000));
    assert_eq!(tail.len(), written.len() - 999);

    let js = context(&rt, &client);
    let report = rt
        .block_on(JetStreamLog::verify(&js, &config))
        .expect("verify");
    assert_eq!(report.records, written.len() as u64);
    assert_eq!(report.head_hash, log.head_hash());

    let reopened = rt
        .block_on(JetStreamLog::open(client, config))
        .expect("reopen");
    assert_eq!(reopened.position(), log.position());
}

#[test]
fn a_stale_writer_is_fenced_and_nothing_of_its_batch_is_stored() {
    let cluster = NatsCluster::start().expect("cluster");
    let rt = runtime();
    let client = rt.block_on(connect(&cluster));
    let config = config("fence");
    let mut rng = ChaCha8Rng::seed_from_u64(seed());
    let mut leader = rt
        .block_on(JetStreamLog::open(client.clone(), config.clone()))
        .expect("leader");
    leader.append(&entries(&mut rng, 3, 0)).expect("first turn");
    // The zombie opened the log here, then stalled while the leader went on.
    let mut zombie = rt
        .block_on(JetStreamLog::open(client.clone(), config.clone()))
        .expect("zombie");
    leader
        .append(&entries(&mut rng, 2, 10))
        .expect("second turn");

    for count in [5, 1] {
        let before = leader.position();
        let refused = zombie.append(&entries(&mut rng, count, 20));
        match refused {
            Err(LogError::Fenced { expected_last_seq }) => assert_eq!(expected_last_seq, 3),
            Err(LogError::Poisoned { cause, .. }) => assert!(cause.contains("fenced"), "{cause}"),
            other => panic!("the zombie's turn of {count} was not fenced: {other:?}"),
        }
        let js = context(&rt, &client);
        let report = rt
            .block_on(JetStreamLog::verify(&js, &config))
            .expect("verify");
        assert_eq!(report.records, 5, "nothing of the fenced batch is stored");
        assert_eq!(report.head_hash, before.head_hash);
    }
    // Reopened, the old writer learns the log's end, and may write again (a new leader would).
    let mut reopened = rt
        .block_on(JetStreamLog::open(client, config))
        .expect("reopen");
    assert_eq!(reopened.position(), leader.position());
    assert_eq!(
        reopened
            .append(&entries(&mut rng, 2, 30))
            .expect("append")
            .last_seq,
        7
    );
    assert!(matches!(
        leader.append(&entries(&mut rng, 1, 40)),
        Err(LogError::Fenced {
            expected_last_seq: 5
        })
    ));
}

#[test]
fn acknowledged_batches_survive_servers_killed_and_restarted() {
    let mut cluster = NatsCluster::start().expect("cluster");
    let rt = runtime();
    let client = rt.block_on(connect(&cluster));
    let js = context(&rt, &client);
    let config = config("restart");
    let mut rng = ChaCha8Rng::seed_from_u64(seed());
    let mut log = rt
        .block_on(JetStreamLog::open(client.clone(), config.clone()))
        .expect("open");
    let mut written = entries(&mut rng, 40, 0);
    log.append(&written[..25]).expect("turn 1");
    log.append(&written[25..]).expect("turn 2");
    let acknowledged = log.position();

    // The stream's leader is killed mid-run and comes back.
    let stream_leader_name = rt.block_on(stream_leader(&js, &config.stream));
    let index = cluster.index_of(&stream_leader_name).expect("leader index");
    cluster
        .server_mut(index)
        .restart()
        .expect("restart the leader");
    cluster.wait_for_meta_leader().expect("meta leader");
    rt.block_on(stream_leader(&js, &config.stream));

    // Writing goes on once the stream has a leader again: reopen after a failure.
    let more = entries(&mut rng, 10, 100);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match log.append(&more) {
            Ok(_) => break,
            Err(error) => {
                assert!(
                    attempts < 5,
                    "append keeps failing: {error}\n{}",
                    cluster.logs()
                );
                log = rt
                    .block_on(JetStreamLog::open(client.clone(), config.clone()))
                    .expect("reopen");
                assert_eq!(
                    log.position(),
                    acknowledged,
                    "the failed turn was not stored"
                );
            }
        }
    }
    written.extend(more);
    let acknowledged = log.position();

    // Then every server is killed at once (no graceful flush) and started again.
    cluster.crash_and_restart_all().expect("restart all");
    rt.block_on(stream_leader(&js, &config.stream));
    let client = rt.block_on(connect(&cluster));
    let reopened = rt
        .block_on(JetStreamLog::open(client.clone(), config.clone()))
        .expect("reopen after the crash");
    assert_eq!(
        reopened.position(),
        acknowledged,
        "nothing acknowledged lost"
    );
    let js = context(&rt, &client);
    let report = rt
        .block_on(JetStreamLog::verify(&js, &config))
        .expect("verify");
    assert_eq!(report.records, written.len() as u64);
    let read: Vec<_> = reopened
        .read_from(1)
        .expect("read")
        .collect::<Result<_, _>>()
        .expect("records");
    let payloads: Vec<_> = read.iter().map(|record| &record.payload).collect();
    let expected: Vec<_> = written.iter().map(|entry| &entry.payload).collect();
    assert_eq!(payloads, expected);
}

#[test]
fn a_reader_whose_consumer_is_made_again_reads_on_from_where_it_was() {
    // A reader's ordered consumer lost before it delivered anything (here deleted) is made again
    // by async-nats from after the last message it delivered: the stream's first. The reader
    // passes over what comes before the record it expects, rather than call the stream damaged.
    let cluster = NatsCluster::start().expect("cluster");
    let rt = runtime();
    let client = rt.block_on(connect(&cluster));
    let js = context(&rt, &client);
    let config = config("remade");
    let mut log = rt
        .block_on(JetStreamLog::open(client, config.clone()))
        .expect("open");
    let mut rng = ChaCha8Rng::seed_from_u64(seed());
    log.append(&entries(&mut rng, 10, 1_000)).expect("append");

    let read = rt.block_on(async {
        let mut reader = StreamReader::start(&js, &config, 6)
            .await
            .expect("a reader from record 6");
        let stream = js.get_stream(&config.stream).await.expect("the stream");
        let names: Vec<String> = futures::TryStreamExt::try_collect(stream.consumer_names())
            .await
            .expect("the stream's consumers");
        assert_eq!(names.len(), 1, "the reader's consumer alone: {names:?}");
        for name in &names {
            stream
                .delete_consumer(name)
                .await
                .expect("consumer deleted");
        }
        let mut read = Vec::new();
        while let Some(record) = reader.next().await {
            read.push(record.expect("a record, not damage").seq);
        }
        read
    });
    assert_eq!(read, (6..=10).collect::<Vec<u64>>());
}
