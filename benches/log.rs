//! Event log benchmarks: durable append in batches of 1, 64 and 1024 events of 200-byte payloads,
//! group commit of many small submits, replay of 1M events, and the machine's raw fdatasync
//! latency as the baseline, measured in the same run. After criterion, a percentile report
//! (hdrhistogram) prints p50/p99 of sync and append latencies.
//!
//! Run: `cargo bench --bench log`. Files go under the target directory (a real disk), not /tmp.

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hdrhistogram::Histogram;
use switchboard_log::{
    CommitterOptions, Durable, Entry, FileLog, GroupCommitter, LogOptions, LogReader,
};

/// Payload bytes per event: about the size of a postcard-encoded routing event.
const PAYLOAD_BYTES: usize = 200;
/// Events written once and replayed by the replay benchmark.
const REPLAY_EVENTS: u64 = 1_000_000;

fn bench_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create bench directory")
}

fn entries(count: usize) -> Vec<Entry> {
    (0..count)
        .map(|i| Entry {
            at_ms: 1_700_000_000_000 + i as u64,
            payload: (0..PAYLOAD_BYTES)
                .map(|b| (b + i).to_le_bytes()[0])
                .collect(),
        })
        .collect()
}

fn open_log(dir: &Path) -> FileLog {
    FileLog::open(dir, LogOptions::default())
        .expect("open log")
        .0
}

/// A file opened for appending, for the raw fdatasync baseline.
fn sync_baseline_file(dir: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("baseline"))
        .expect("open baseline file")
}

fn write_and_sync(file: &mut File, bytes: &[u8]) {
    file.write_all(bytes).expect("write");
    file.sync_data().expect("fdatasync");
}

fn fdatasync_baseline(c: &mut Criterion) {
    let dir = bench_dir("fdatasync");
    let mut file = sync_baseline_file(dir.path());
    let bytes = [7u8; 256];
    c.bench_function("log/fdatasync_baseline_256B", |b| {
        b.iter(|| write_and_sync(&mut file, black_box(&bytes)));
    });
}

fn durable_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("log/durable_append");
    for batch in [1usize, 64, 1024] {
        let dir = bench_dir("append");
        let mut log = open_log(dir.path());
        let batch_entries = entries(batch);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter(|| log.append(black_box(&batch_entries)).expect("append"));
        });
    }
    group.finish();
}

fn group_commit(c: &mut Criterion) {
    // Many small submits (16 events each, as from individual commands) merged by the writer.
    let mut group = c.benchmark_group("log/group_commit");
    let submits = 64usize;
    let per_submit = 16usize;
    let dir = bench_dir("group");
    let mut committer = GroupCommitter::spawn(
        open_log(dir.path()),
        CommitterOptions::default(),
        |_: Durable| {},
    )
    .expect("spawn committer");
    let batch = entries(per_submit);
    group.throughput(Throughput::Elements((submits * per_submit) as u64));
    group.bench_function("64_submits_of_16_then_flush", |b| {
        b.iter(|| {
            for _ in 0..submits {
                committer.submit(batch.clone()).expect("submit");
            }
            committer.flush().expect("flush")
        });
    });
    group.finish();
    let stats = committer.stats();
    println!(
        "group commit: {} batches in {} groups ({:.1} batches per fdatasync)",
        stats.batches_committed,
        stats.groups_committed,
        stats.batches_committed as f64 / stats.groups_committed.max(1) as f64
    );
}

fn replay(c: &mut Criterion) {
    let dir = bench_dir("replay");
    let mut log = open_log(dir.path());
    let batch = entries(1024);
    while log.next_seq() <= REPLAY_EVENTS {
        let left = REPLAY_EVENTS + 1 - log.next_seq();
        let take = usize::try_from(left).map_or(batch.len(), |left| left.min(batch.len()));
        log.append(&batch[..take]).expect("append");
    }
    drop(log);
    let reader = LogReader::open(dir.path()).expect("reader");
    let mut group = c.benchmark_group("log/replay");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(REPLAY_EVENTS));
    group.bench_function("read_from_1_1M_events", |b| {
        b.iter(|| {
            let mut payload_bytes = 0u64;
            for record in reader.read_from(1).expect("read") {
                payload_bytes += record.expect("record").payload.len() as u64;
            }
            assert_eq!(payload_bytes, REPLAY_EVENTS * PAYLOAD_BYTES as u64);
            payload_bytes
        });
    });
    group.bench_function("next_view_from_1_1M_events", |b| {
        b.iter(|| {
            let mut payload_bytes = 0u64;
            let mut records = reader.read_from(1).expect("read");
            while let Some(view) = records.next_view() {
                payload_bytes += view.expect("record").payload.len() as u64;
            }
            assert_eq!(payload_bytes, REPLAY_EVENTS * PAYLOAD_BYTES as u64);
            payload_bytes
        });
    });
    group.bench_function("verify_1M_events", |b| {
        b.iter(|| switchboard_log::verify(dir.path(), |_, _| {}).expect("verify"));
    });
    group.finish();
}

fn print_percentiles(what: &str, histogram: &Histogram<u64>, events_per_op: u64) {
    let p50 = histogram.value_at_quantile(0.50);
    let p99 = histogram.value_at_quantile(0.99);
    println!(
        "{what:<32} n={:>5}  p50={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms  ~{:>10.0} events/s at p50",
        histogram.len(),
        p50 as f64 / 1e6,
        p99 as f64 / 1e6,
        histogram.max() as f64 / 1e6,
        events_per_op as f64 / (p50 as f64 / 1e9),
    );
}

fn measure(iterations: u32, mut op: impl FnMut()) -> Histogram<u64> {
    let mut histogram = Histogram::<u64>::new(3).expect("histogram");
    for _ in 0..iterations {
        let start = Instant::now();
        op();
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        histogram.record(nanos.max(1)).expect("record");
    }
    histogram
}

/// Percentiles that criterion does not report: per-operation latency distributions.
fn latency_percentiles(_: &mut Criterion) {
    println!("\nlatency percentiles (hdrhistogram, one sample per operation):");
    let dir = bench_dir("percentiles");
    let mut file = sync_baseline_file(dir.path());
    let bytes = [7u8; 256];
    let histogram = measure(3000, || write_and_sync(&mut file, &bytes));
    print_percentiles("fdatasync 256 B (baseline)", &histogram, 1);
    for (batch, iterations) in [(1usize, 3000u32), (64, 2000), (1024, 500)] {
        let dir = bench_dir("percentiles-append");
        let mut log = open_log(dir.path());
        let batch_entries = entries(batch);
        let histogram = measure(iterations, || {
            log.append(&batch_entries).expect("append");
        });
        print_percentiles(
            &format!("FileLog::append batch {batch}"),
            &histogram,
            batch as u64,
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(30);
    targets = fdatasync_baseline, durable_append, group_commit, replay, latency_percentiles
}
criterion_main!(benches);
