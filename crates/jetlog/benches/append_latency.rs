//! Durable append latency, one turn at a time: the file log (one `fdatasync`) against the
//! JetStream log's fenced atomic batch on a single server (R1) and on the three-node loopback
//! cluster (R3), every server with `sync_interval: always`. Prints a Markdown table of p50, p99 and max per backend and turn size.
//!
//! `cargo bench -p switchboard-jetlog --bench append_latency` (`SWITCHBOARD_BENCH_QUICK=1` for a
//! short run).

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use switchboard_jetlog::{JetStreamConfig, JetStreamLog};
use switchboard_log::{Entry, EventLog, FileLog, LogOptions};
use switchboard_natsd::{NatsCluster, NatsServer};

/// Bytes of each record's payload: about one stored event.
const PAYLOAD_BYTES: usize = 200;

/// Turns of this many records are timed.
const TURN_SIZES: [usize; 3] = [1, 10, 100];

fn main() {
    let quick = std::env::var_os("SWITCHBOARD_BENCH_QUICK").is_some();
    let turns = if quick { 200 } else { 2_000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("| backend | records per turn | turns | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|");

    let dir = tempfile::tempdir().expect("dir");
    let (mut file_log, _) = FileLog::open(dir.path(), LogOptions::default()).expect("file log");
    for size in TURN_SIZES {
        report(
            "file log, fdatasync",
            size,
            turns,
            &time_turns(&mut file_log, size, turns),
        );
    }

    let single = NatsServer::builder()
        .config_text("jetstream { sync_interval: always }\n")
        .start()
        .expect("server");
    let client = rt
        .block_on(async_nats::connect(single.client_url()))
        .expect("connect");
    for size in TURN_SIZES {
        let mut config = JetStreamConfig::new(format!("R1_{size}"), format!("r1.{size}"));
        config.replicas = 1;
        let mut log = rt
            .block_on(JetStreamLog::open(client.clone(), config))
            .expect("open");
        report(
            "JetStream R1, one server",
            size,
            turns,
            &time_turns(&mut log, size, turns),
        );
    }

    let cluster = NatsCluster::start().expect("cluster");
    let urls: Vec<async_nats::ServerAddr> = cluster
        .client_urls()
        .split(',')
        .map(|url| url.parse().expect("url"))
        .collect();
    let client = rt.block_on(async_nats::connect(urls)).expect("connect");
    for size in TURN_SIZES {
        let config = JetStreamConfig::new(format!("R3_{size}"), format!("r3.{size}"));
        let mut log = rt
            .block_on(JetStreamLog::open(client.clone(), config))
            .expect("open");
        report(
            "JetStream R3, 3-node loopback cluster",
            size,
            turns,
            &time_turns(&mut log, size, turns),
        );
    }
}

/// Appends `turns` turns of `size` records and returns the histogram of their latencies (µs).
fn time_turns(log: &mut impl EventLog, size: usize, turns: usize) -> Histogram<u64> {
    let mut histogram = Histogram::<u64>::new(3).expect("histogram");
    let turn: Vec<Entry> = (0..size)
        .map(|index| Entry {
            at_ms: index as u64,
            payload: vec![u8::try_from(index % 251).unwrap_or(0); PAYLOAD_BYTES],
        })
        .collect();
    // A few untimed turns first: connections, the stream's leader, the page cache.
    for _ in 0..20 {
        log.append(&turn).expect("append");
    }
    for _ in 0..turns {
        let started = Instant::now();
        log.append(&turn).expect("append");
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        histogram.record(micros.max(1)).expect("record");
    }
    histogram
}

/// Prints one row of the table.
fn report(backend: &str, size: usize, turns: usize, histogram: &Histogram<u64>) {
    let at = |quantile: f64| format_us(histogram.value_at_quantile(quantile));
    println!(
        "| {backend} | {size} | {turns} | {} | {} | {} |",
        at(0.5),
        at(0.99),
        format_us(histogram.max())
    );
}

/// Microseconds, printed in ms above 1 ms.
fn format_us(micros: u64) -> String {
    let duration = Duration::from_micros(micros);
    if micros >= 1_000 {
        format!("{:.2} ms", duration.as_secs_f64() * 1e3)
    } else {
        format!("{micros} µs")
    }
}
