//! What the figures depend on, measured in the same run: the disk's `fdatasync` latency in the
//! directory the engine's log and the durable relay write to, the cores, the load, and a
//! process's resident memory.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

/// The disk's durable-write latency: `count` times, 256 bytes appended then `fdatasync`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(super) struct SyncLatency {
    /// How many were timed.
    pub(super) syncs: u32,
    /// Percentiles and maximum, in microseconds.
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    pub(super) max_us: f64,
}

/// Times `count` appends of 256 bytes, each followed by one `fdatasync`, to a new file in `dir`
/// (removed afterwards). Blocking.
pub(super) fn fdatasync_latency(dir: &Path, count: u32) -> Result<SyncLatency> {
    let path = dir.join("fdatasync-probe");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("could not create {}", path.display()))?;
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .context("fdatasync histogram bounds")?;
    let record = [b'x'; 256];
    for _ in 0..count {
        let started = Instant::now();
        file.write_all(&record)
            .and_then(|()| file.sync_data())
            .with_context(|| format!("could not write and sync {}", path.display()))?;
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        histogram.saturating_record(us.max(1));
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    Ok(SyncLatency {
        syncs: count,
        p50_us: histogram.value_at_quantile(0.5) as f64,
        p99_us: histogram.value_at_quantile(0.99) as f64,
        max_us: histogram.max() as f64,
    })
}

/// A process's resident memory now and at its peak, in bytes, from `/proc/<pid>/status`
/// (`VmRSS`, `VmHWM`). `None` when the process or the file is not there (not Linux).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(super) struct Resident {
    /// Resident now.
    pub(super) rss_bytes: u64,
    /// The most it has been resident.
    pub(super) peak_bytes: u64,
}

pub(super) fn resident(pid: u32) -> Option<Resident> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some(Resident {
        rss_bytes: field("VmRSS:")?,
        peak_bytes: field("VmHWM:")?,
    })
}

/// CPU time a process has used so far (user and system), from `/proc/<pid>/stat`, in clock
/// ticks of 10 ms (Linux's `USER_HZ` of 100 on every mainstream architecture).
pub(super) fn cpu_time(pid: u32) -> Option<std::time::Duration> {
    stat_cpu_time(&format!("/proc/{pid}/stat"))
}

/// CPU time one thread of this process has used so far (user and system), from
/// `/proc/self/task/<tid>/stat`, in ticks of 10 ms.
pub(super) fn thread_cpu_time(tid: u32) -> Option<std::time::Duration> {
    stat_cpu_time(&format!("/proc/self/task/{tid}/stat"))
}

fn stat_cpu_time(path: &str) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; the fields after its `)` are plain.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    // utime and stime are fields 14 and 15, i.e. the 12th and 13th after the name.
    let user: u64 = fields.nth(11)?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(std::time::Duration::from_millis((user + system) * 10))
}

/// Cores this process may use.
pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The one-minute load average, where the system tells it.
pub(super) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_resident_memory() {
        let me = resident(std::process::id()).expect("Linux /proc");
        assert!(me.rss_bytes > 0 && me.peak_bytes >= me.rss_bytes);
    }

    #[test]
    fn this_process_has_used_cpu_time() {
        let spin = Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(30) {}
        assert!(cpu_time(std::process::id()).is_some_and(|t| !t.is_zero()));
    }

    #[test]
    fn the_disk_is_timed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let latency = fdatasync_latency(dir.path(), 3).expect("probe");
        assert_eq!(latency.syncs, 3);
        assert!(latency.p50_us >= 1.0 && latency.max_us >= latency.p50_us);
        assert!(!dir.path().join("fdatasync-probe").exists());
    }
}
