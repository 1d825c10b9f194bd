//! Benchmark of reading idempotency receipts back at start-up: what `Engine::open` adds to
//! recovery to find the receipts of the last ten minutes in a long log.
//!
//! The log is written once per run through the real engine: 500 000 contacts over three hours
//! of event time, each created and abandoned with an idempotency key (so about 1.5 M events,
//! two in three records carrying a receipt), then a snapshot at the end. Both benchmarks open
//! it with `full_scan_on_open` off and from that snapshot (nothing to replay), so what differs
//! is the receipts' read: the window's records plus the rest of the segment it starts in.
//!
//! Run: `cargo bench --bench receipts`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_core::{Channel, Command, NewContact, RoutingConfig, Timestamp};
use switchboard_engine::{Engine, EngineOptions, ReceiptOptions};
use switchboard_log::{LogOptions, LogReader};
use switchboard_wire::{Receipt, decode_record, encode_event, reply_body};

/// 08:30 on a Monday morning.
const START_MS: u64 = 1_795_422_600_000;
const CONTACTS: u64 = 500_000;
/// Three hours of event time over the contacts.
const SPAN_MS: u64 = 3 * 60 * 60 * 1_000;

/// Decides `command` and attaches its receipt under `key`, as the driver would.
fn decide_keyed(engine: &mut Engine, command: &Command, key: String, now: Timestamp) {
    let first_seq = engine.next_seq();
    let count = engine.decide(command.clone(), now).expect("decided");
    let pending = engine.pending_events();
    let own = &pending[pending.len() - count..];
    let reply = reply_body(
        command,
        own.iter()
            .enumerate()
            .map(|(i, event)| (first_seq + i as u64, event)),
    );
    engine
        .attach_receipt(Receipt { key, reply })
        .expect("attached");
}

/// A UUID-shaped key, 36 characters, from a number and a verb.
fn uuid(i: u64, verb: u64) -> String {
    format!(
        "{:08x}-{verb:04x}-4000-8000-{:012x}",
        i,
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16
    )
}

/// What a receipt costs on disk: the mean bytes of a record (56 bytes of framing and the
/// payload) without a receipt, and the mean bytes a receipt adds, by command.
fn disk_cost(dir: &Path) {
    let reader = LogReader::open(dir).expect("reader");
    let (mut plain, mut plain_bytes) = (0_u64, 0_u64);
    let mut keyed: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for record in reader.read_from(1).expect("records") {
        let record = record.expect("record");
        let (event, receipt) = decode_record(&record.payload).expect("a record");
        let without = encode_event(&event).len() as u64;
        plain += 1;
        plain_bytes += 56 + without;
        if let Some(receipt) = receipt {
            let verb = receipt.key.split(' ').next().unwrap_or("").to_owned();
            let entry = keyed.entry(verb).or_default();
            entry.0 += 1;
            entry.1 += record.payload.len() as u64 - without;
        }
    }
    println!(
        "disk: a record without a receipt is {:.1} bytes on average (56 of framing)",
        plain_bytes as f64 / plain as f64
    );
    for (verb, (count, bytes)) in keyed {
        println!(
            "disk: a receipt of {verb} adds {:.1} bytes on average ({count} receipts)",
            bytes as f64 / count as f64
        );
    }
}

/// Writes the log and a snapshot at its end; returns the number of records.
fn write_log(dir: &Path) -> u64 {
    let options = EngineOptions {
        snapshot_every_events: 0,
        ..EngineOptions::default()
    };
    let (mut engine, _) =
        Engine::open(dir, RoutingConfig::default(), options, &mut |_, _| {}).expect("open");
    for i in 0..CONTACTS {
        let now = Timestamp::from_millis(START_MS + i * SPAN_MS / CONTACTS);
        let id = format!("c{i}");
        let create = Command::CreateContact(Box::new(NewContact::routine(
            &id,
            Channel::Phone,
            "council_tax",
        )));
        // Keys as a telephony system would send them: a UUID per call and verb.
        decide_keyed(&mut engine, &create, format!("create  {}", uuid(i, 1)), now);
        let abandon = Command::AbandonContact {
            contact: id.as_str().into(),
        };
        decide_keyed(
            &mut engine,
            &abandon,
            format!("abandon  {}", uuid(i, 2)),
            now,
        );
        if i % 1_000 == 999 {
            engine.commit().expect("commit");
        }
    }
    engine.snapshot().expect("snapshot");
    engine.next_seq() - 1
}

fn open_options(entries_max: usize) -> EngineOptions {
    EngineOptions {
        log: LogOptions {
            full_scan_on_open: false,
            ..LogOptions::default()
        },
        receipts: ReceiptOptions {
            entries_max,
            ..ReceiptOptions::default()
        },
        ..EngineOptions::default()
    }
}

fn open(dir: &Path, entries_max: usize) -> switchboard_engine::Recovered {
    let (engine, recovered) = Engine::open(
        dir,
        RoutingConfig::default(),
        open_options(entries_max),
        &mut |_, _| {},
    )
    .expect("open");
    drop(engine);
    recovered
}

fn bench_receipts(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let records = write_log(dir.path());
    disk_cost(dir.path());
    let segments = LogReader::open(dir.path())
        .expect("reader")
        .segment_first_seqs()
        .expect("segments")
        .len();
    let mut group = c.benchmark_group("receipts");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("open_without_receipts", |b| {
        b.iter(|| black_box(open(dir.path(), 0)));
    });
    group.bench_function("open_with_receipts", |b| {
        b.iter(|| black_box(open(dir.path(), 100_000)));
    });
    group.finish();
    let recovered = open(dir.path(), 100_000);
    let scan = &recovered.receipts;
    let bytes: u64 = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "receipts: {} read back in {:.1} ms from {} of {records} records ({} of {segments} \
         segments, {:.1} MB of log); recovery took {:.1} ms in all",
        recovered.receipts().len(),
        scan.elapsed.as_secs_f64() * 1e3,
        scan.records_read,
        scan.segments_read,
        bytes as f64 / 1e6,
        recovered.elapsed.as_secs_f64() * 1e3,
    );
}

criterion_group!(benches, bench_receipts);
criterion_main!(benches);
