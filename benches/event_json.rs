//! Benchmark of writing the published JSON form of events (`switchboard.events.<type>`), the
//! events feed's per-event encoding work: `switchboard_wire::write_event_json`, which writes the
//! JSON straight from the event's DTO, each object's keys sorted as it goes, without building a
//! `serde_json::Value` (BENCHMARKS.md, "The published JSON of events", has the figures: this
//! path, the `Value` path it replaced, and an earlier hand-written serializer).
//!
//! The events are a seeded working day through the real routing core: 150 agents log in and say
//! ready, contacts arrive on the phone, chat and email for six services, are offered, accepted,
//! worked and completed; about 47,000 events, in the mix a day has (each contact's
//! `contact_created`, `offer_made`, `offer_accepted` and `contact_completed`, a phone call's
//! `wrap_up_started` and `wrap_up_ended`, and the agents' own events).
//!
//! Run: `cargo bench --bench event_json`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_core::{Event, Router, RoutingConfig, Timestamp};

mod day;

/// Agents on shift for the day.
const AGENTS: usize = 150;
/// Contacts that arrive during the day.
const CONTACTS: u64 = 10_000;

/// A day at the centre: every event the core decided, in log order.
fn working_day() -> Vec<Event> {
    let mut router = Router::new(RoutingConfig::default()).expect("the default configuration");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut now = Timestamp::from_millis(1_795_422_600_000);
    for command in day::staffing(&mut rng, AGENTS) {
        let _ = router.handle_command(command, now);
    }
    let mut events: Vec<Event> = router.drain_events().collect();
    for n in 0..CONTACTS {
        now = now + Duration::from_millis(rng.random_range(500..4_000));
        router.handle_timeout(now);
        let _ = router.handle_command(day::arrival(&mut rng, n), now);
        for command in day::answers(router.state()) {
            let _ = router.handle_command(command, now);
        }
        for command in day::completions(router.state(), &mut rng) {
            let _ = router.handle_command(command, now);
        }
        events.extend(router.drain_events());
    }
    events
}

fn bench_event_json(c: &mut Criterion) {
    let events = working_day();
    let count = u64::try_from(events.len()).expect("a day's events fit in u64");
    let mut group = c.benchmark_group("event_json");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(count));
    let mut out = Vec::with_capacity(1024);
    group.bench_function(format!("write_event_json_{count}_events"), |b| {
        b.iter(|| {
            let mut bytes = 0_usize;
            for (seq, event) in (1..).zip(&events) {
                out.clear();
                switchboard_wire::write_event_json(seq, event, &mut out).expect("writable");
                bytes += out.len();
            }
            black_box(bytes)
        });
    });
    group.finish();
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for event in &events {
        *kinds.entry(event.kind.name()).or_default() += 1;
    }
    println!("event_json: {count} events: {kinds:?}");
}

criterion_group!(benches, bench_event_json);
criterion_main!(benches);
