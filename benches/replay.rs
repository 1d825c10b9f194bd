//! Benchmark of rebuilding the routing state from the log: read, check, decode and apply, as
//! `switchboard replay` and start-up recovery do.
//!
//! The log is written once per run by a seeded morning through the real engine (logins, arrivals
//! on every channel, offers, answers, completions; about 200 000 events), then replayed.
//!
//! Run: `cargo bench --bench replay` (criterion), or with `SWITCHBOARD_REPLAY_ROUNDS=5` for
//! medians of wall and CPU time per stage, taken in turns (for a shared machine), and
//! `SWITCHBOARD_REPLAY_STAGE=whole_replay` for one stage only.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_core::{RoutingConfig, State, Timestamp};
use switchboard_engine::{Engine, EngineOptions};

mod day;

/// Writes a busy morning into `dir` and returns the number of events.
fn write_morning(dir: &Path, events_min: u64) -> u64 {
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

/// The records of the log from the first, read and checked, in order.
fn records(dir: &Path) -> switchboard_log::Records {
    switchboard_log::LogReader::open(dir)
        .expect("reader")
        .read_from(1)
        .expect("records")
}

/// Reads and checks every record (CRC, sequence, hash chain), copying each payload out.
fn read_and_check(dir: &Path) -> usize {
    records(dir)
        .map(|record| record.expect("record").payload.len())
        .sum()
}

/// … and decodes each.
fn read_check_and_decode(dir: &Path) -> usize {
    let mut decoded = 0_usize;
    for record in records(dir) {
        let event = switchboard_wire::decode_event(&record.expect("record").payload);
        decoded += usize::from(event.expect("event").kind.contact().is_some());
    }
    decoded
}

/// … and folds each into the retention ledger, as `serve` does at start-up with a `[retention]`
/// schedule (off its loop: this is the cost of that read).
fn retention_fold(dir: &Path) -> usize {
    let keys =
        switchboard_privacy::Keys::new(switchboard_privacy::DomainSecret::from_bytes([1; 32]));
    let schedule = switchboard_privacy::RetentionSchedule {
        default: switchboard_privacy::RetentionPeriod::parse("2y").expect("a period"),
        services: std::collections::BTreeMap::new(),
    };
    let mut fold = switchboard_privacy::RetentionFold::new();
    for record in records(dir) {
        let event = switchboard_wire::decode_event(&record.expect("record").payload);
        fold.observe(&keys, &event.expect("event"), &schedule);
    }
    fold.subjects_with_open_contacts()
}

/// … and applies each to the state: the whole replay as it was before it read payloads in place
/// and counted the log without hashing it (the same state as [`switchboard_engine::replay`]).
fn sequential_replay(dir: &Path) -> State {
    let mut state = State::new();
    state.suspend_index();
    for record in records(dir) {
        let event = switchboard_wire::decode_event(&record.expect("record").payload);
        state.apply(&event.expect("event"));
    }
    state.resume_index();
    state
}

/// The whole replay as `switchboard replay` does it.
fn engine_replay(dir: &Path) -> State {
    switchboard_engine::replay(dir, &mut |_, _| {})
        .expect("replay")
        .0
}

/// Start-up recovery of the whole log (no snapshot): `Engine::open`, which verifies the log
/// (`FileLog::open`, a full scan), replays it and reads back the receipts.
fn engine_open(dir: &Path) -> u64 {
    let options = EngineOptions {
        snapshot_every_events: 0,
        ..EngineOptions::default()
    };
    let (_, recovered) =
        Engine::open(dir, RoutingConfig::default(), options, &mut |_, _| {}).expect("open");
    recovered.replayed
}

/// A stage of the replay, run over the log in a directory; what it returns is kept from the
/// optimiser and dropped.
type Stage = fn(&Path);

/// Runs `f` as a stage: its result is kept from the optimiser, then dropped.
fn stage<T>(f: fn(&Path) -> T, dir: &Path) {
    black_box(f(dir));
}

/// The stages, cheapest first, by name.
fn stages() -> [(&'static str, Stage); 6] {
    [
        ("read_and_check", |d| stage(read_and_check, d)),
        ("read_check_and_decode", |d| stage(read_check_and_decode, d)),
        ("retention_fold", |d| stage(retention_fold, d)),
        ("sequential_replay", |d| stage(sequential_replay, d)),
        ("whole_replay", |d| stage(engine_replay, d)),
        ("engine_open", |d| stage(engine_open, d)),
    ]
}

/// CPU time of this process (all its threads, finished ones included) and of this thread, in
/// nanoseconds, from `/proc` (Linux only): on a shared machine, what a stage costs, whatever the
/// neighbours take.
fn cpu_ns() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let after = &stat[stat.rfind(')').expect("stat") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    let thread = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let thread_ns = thread
        .split(' ')
        .next()
        .expect("run time")
        .parse()
        .expect("ns");
    // USER_HZ is 100 on Linux.
    (ticks * 10_000_000, thread_ns)
}

/// `SWITCHBOARD_REPLAY_ROUNDS=n`: instead of criterion, runs every stage `n` times in turn
/// (stage 1, 2, ... then again) and prints, per stage, the medians of wall time, CPU time of the
/// process and CPU time of the calling thread, and events per second of each.
fn rounds(dir: &Path, events: u64, rounds: usize) {
    // `SWITCHBOARD_REPLAY_STAGE=name`: that stage only (to count its instructions with `perf
    // stat` against a run of zero rounds).
    let only = std::env::var("SWITCHBOARD_REPLAY_STAGE").ok();
    let stages: Vec<_> = stages()
        .into_iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|only| only == *name))
        .collect();
    let mut figures = vec![Vec::new(); stages.len()];
    for _ in 0..rounds {
        for ((_, stage), figures) in stages.iter().zip(&mut figures) {
            let (cpu0, thread0) = cpu_ns();
            let started = Instant::now();
            stage(dir);
            let wall = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let (cpu1, thread1) = cpu_ns();
            figures.push((wall, cpu1 - cpu0, thread1 - thread0));
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{events} events, {rounds} rounds, load average at the end: {}",
        load.trim()
    );
    println!("stage | wall ms (M ev/s) | process CPU ms (M ev/s) | calling thread CPU ms (M ev/s)");
    for ((name, _), figures) in stages.iter().zip(&figures) {
        let median = |pick: fn(&(u64, u64, u64)) -> u64| {
            let mut v: Vec<u64> = figures.iter().map(pick).collect();
            v.sort_unstable();
            v[v.len() / 2]
        };
        let show = |ns: u64| {
            format!(
                "{:.1} ({:.2})",
                ns as f64 / 1e6,
                events as f64 / ns as f64 * 1e3
            )
        };
        println!(
            "{name} | {} | {} | {}",
            show(median(|f| f.0)),
            show(median(|f| f.1)),
            show(median(|f| f.2))
        );
    }
}

fn bench_replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = write_morning(dir.path(), 200_000);
    // The pipelined replay rebuilds exactly the state of the one-thread loop.
    assert_eq!(engine_replay(dir.path()), sequential_replay(dir.path()));
    if let Some(n) = std::env::var("SWITCHBOARD_REPLAY_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        rounds(dir.path(), events, n);
        return;
    }
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(events));
    // The stages, to see where the time goes: reading and checking the records (CRC, sequence,
    // hash chain), then decoding them, then applying them to the state on one thread, then the
    // whole replay as shipped (decoding on a second thread while this one applies).
    for (name, stage) in stages() {
        group.bench_function(name, |b| b.iter(|| stage(dir.path())));
    }
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
