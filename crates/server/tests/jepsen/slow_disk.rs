//! The nemesis's slow disk: a nats-server started again under `strace`, which delays every
//! `fsync` it makes (nats-server 2.14 syncs each stored message with `fsync` under
//! `sync_interval: always`, never `fdatasync`: counted with `strace -c`), made the log stream's
//! leader where a leader stepdown can move it there, kept slow under load, then started plainly.

use std::path::Path;
use std::time::Duration;

use async_nats::Client;
use serde_json::json;

use crate::PREFIX;

/// The delays per `fsync` the nemesis picks from, seeded (a local SSD syncs in well under a
/// millisecond here; these are a network disk having a bad day).
pub(crate) const DELAYS_MS: [u64; 3] = [5, 10, 20];

/// Whether `strace` runs here. Without it the slow disk is passed over (said in the output),
/// unless `SWITCHBOARD_REQUIRE_STRACE` is set, as CI sets it: then the test fails.
pub(crate) fn strace_runs() -> bool {
    let runs = std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success());
    if !runs && std::env::var_os("SWITCHBOARD_REQUIRE_STRACE").is_some() {
        panic!("the slow-disk fault needs strace (SWITCHBOARD_REQUIRE_STRACE is set)");
    }
    runs
}

/// The syncs `strace -c` counted in `summary` (zero if it wrote none).
pub(crate) fn syncs_counted(summary: &Path) -> u64 {
    let text = std::fs::read_to_string(summary).unwrap_or_default();
    text.lines()
        .filter(|line| {
            let last = line.split_whitespace().last();
            last == Some("fsync") || last == Some("fdatasync")
        })
        .filter_map(|line| line.split_whitespace().nth(3)?.parse::<u64>().ok())
        .sum()
}

/// The log stream's name.
fn log_stream() -> String {
    switchboard_nats::cluster::Domain::new(PREFIX).log_stream()
}

/// The server leading the log stream, as the stream's info says.
pub(crate) async fn log_stream_leader(client: &Client) -> Option<String> {
    let js = async_nats::jetstream::new(client.clone());
    let asked = async {
        let mut stream = js.get_stream(log_stream()).await.ok()?;
        let info = stream.info().await.ok()?;
        info.cluster.as_ref()?.leader.clone()
    };
    tokio::time::timeout(Duration::from_secs(2), asked)
        .await
        .ok()
        .flatten()
}

/// Moves the log stream's leadership to `server` (a leader stepdown naming it as preferred),
/// asking again until it leads, at most `bound`; whether it does.
pub(crate) async fn lead_log_stream(client: &Client, server: &str, bound: Duration) -> bool {
    let subject = format!("$JS.API.STREAM.LEADER.STEPDOWN.{}", log_stream());
    let body = json!({"placement": {"preferred": server}}).to_string();
    let asking = async {
        let mut pace = tokio::time::interval(Duration::from_millis(500));
        loop {
            pace.tick().await;
            if log_stream_leader(client).await.as_deref() == Some(server) {
                return;
            }
            let asked = client.request(subject.clone(), body.clone().into());
            let _ = tokio::time::timeout(Duration::from_secs(2), asked).await;
        }
    };
    tokio::time::timeout(bound, asking).await.is_ok()
}

/// The `p`th percentile of `sorted` (empty: zero).
pub(crate) fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted
        .get((sorted.len() * p).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

/// What one slow-disk fault did.
#[derive(Debug, Clone)]
pub(crate) struct SlowDisk {
    /// The server slowed, e.g. `n2`.
    pub(crate) server: String,
    /// Whether it led the log stream through the slow period.
    pub(crate) led_log: bool,
    pub(crate) delay_ms: u64,
    /// From a query answered after the move to the slow server's plain restart.
    pub(crate) period: Duration,
    /// Commands acknowledged in the period.
    pub(crate) acknowledged: usize,
    /// The syncs strace delayed.
    pub(crate) syncs: u64,
    /// How long the creates by request sent in the period took, sorted.
    pub(crate) latencies: Vec<Duration>,
    /// Engines' `stopped serving` in the period.
    pub(crate) stops: usize,
}

impl std::fmt::Display for SlowDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} slowed by {} ms per fsync ({} syncs delayed) for {:.1} s, {} the log stream: \
             {} commands acknowledged, creates by request p50 {} ms, p99 {} ms, max {} ms \
             over {}; {} stopped serving",
            self.server,
            self.delay_ms,
            self.syncs,
            self.period.as_secs_f64(),
            if self.led_log {
                "leading"
            } else {
                "not leading"
            },
            self.acknowledged,
            percentile(&self.latencies, 50).as_millis(),
            percentile(&self.latencies, 99).as_millis(),
            self.latencies
                .last()
                .copied()
                .unwrap_or_default()
                .as_millis(),
            self.latencies.len(),
            self.stops
        )
    }
}
