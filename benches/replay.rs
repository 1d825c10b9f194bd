//! Benchmark of rebuilding the routing state from the log: read, check, decode and apply, as
//! `switchboard replay` and start-up recovery do.
//!
//! The log is written once per run by a seeded morning through the real engine (logins, arrivals
//! on every channel, offers, answers, completions; about 200 000 events), then replayed.
//!
//! Run: `cargo bench --bench replay`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_core::{RoutingConfig, Timestamp};
use switchboard_engine::{Engine, EngineOptions};

mod day;

/// Writes a busy morning into `dir` and returns the number of events.
fn write_morning(dir: &std::path::Path, events_min: u64) -> u64 {
    let options = EngineOptions {
        snapshot_every_events: 0,
        ..EngineOptions::default()
    };
    let (mut engine, _) =
        Engine::open(dir, RoutingConfig::default(), options, &mut |_, _| {}).expect("open");
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut now = Timestamp::from_millis(1_795_422_600_000);
    for command in day::staffing(&mut rng, 200) {
        let _ = engine.decide(command, now);
    }
    let mut n = 0_u64;
    while engine.next_seq() <= events_min {
        for _ in 0..64 {
            now = now + Duration::from_millis(rng.random_range(10..400));
            engine.tick(now);
            n += 1;
            let _ = engine.decide(day::arrival(&mut rng, n), now);
            for command in day::answers(engine.state()) {
                let _ = engine.decide(command, now);
            }
            for command in day::completions(engine.state(), &mut rng) {
                let _ = engine.decide(command, now);
            }
        }
        engine.commit().expect("commit");
    }
    engine.next_seq() - 1
}

fn bench_replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = write_morning(dir.path(), 200_000);
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(events));
    // The stages, to see where the time goes: reading and checking the records (CRC, sequence,
    // hash chain), then decoding them, then (the whole replay) applying them to the state.
    group.bench_function("read_and_check", |b| {
        b.iter(|| {
            let reader = switchboard_log::LogReader::open(dir.path()).expect("reader");
            let mut bytes = 0_usize;
            for record in reader.read_from(1).expect("records") {
                bytes += record.expect("record").payload.len();
            }
            black_box(bytes)
        });
    });
    group.bench_function("read_check_and_decode", |b| {
        b.iter(|| {
            let reader = switchboard_log::LogReader::open(dir.path()).expect("reader");
            let mut decoded = 0_usize;
            for record in reader.read_from(1).expect("records") {
                let event = switchboard_wire::decode_event(&record.expect("record").payload)
                    .expect("event");
                decoded += usize::from(event.kind.contact().is_some());
            }
            black_box(decoded)
        });
    });
    group.bench_function(format!("whole_log_{events}_events"), |b| {
        b.iter(|| {
            black_box(switchboard_engine::replay(dir.path(), &mut |_, _| {}).expect("replay"))
        });
    });
    group.finish();
    let (_, report) = switchboard_engine::replay(dir.path(), &mut |_, _| {}).expect("replay");
    println!(
        "replay: {} events in {:.3} s = {:.0} events/s",
        report.events,
        report.elapsed.as_secs_f64(),
        report.events_per_second()
    );
}

criterion_group!(benches, bench_replay);
criterion_main!(benches);
