//! Health: the engine's readiness, shared between the engine loop (which sets it) and the HTTP
//! endpoint ([`crate::http`]), whose `/readyz` answers it.
//!
//! Ready when the engine's NATS connection is up (read live from the client), the log is
//! writable (the last commit did not fail), the state is recovered (the engine loop is running)
//! the loop has sampled within the last [`HEARTBEAT_STALE`] and the data directory's file
//! system has at least the configured floor free ([`Health::set_min_free_bytes`]); else `/readyz` is 503 with the
//! failing checks listed, one per line ([`Readiness::report`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_nats::Client;

/// The loop is considered stuck when it has not sampled for this long.
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(15);

/// The readiness state: cheap to clone, shared by the loop and the HTTP endpoint.
#[derive(Clone, Debug)]
pub struct Health(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// The engine's NATS client, asked for its connection state on each check.
    client: OnceLock<Client>,
    /// True from the loop's start until a commit fails (the loop then stops).
    log_writable: AtomicBool,
    /// Set when the engine loop starts with a recovered engine.
    state_recovered: AtomicBool,
    /// Milliseconds since `started` at the loop's last sample; `u64::MAX` before the first.
    heartbeat_ms: AtomicU64,
    /// Free bytes on the data directory's file system at the last sample; `u64::MAX` before
    /// the first (or when it cannot be read: a metric failing is no reason to refuse traffic).
    free_bytes: AtomicU64,
    /// Below this many free bytes the engine is not ready (0: no floor). Set once at start.
    min_free_bytes: AtomicU64,
    /// The origin of `heartbeat_ms`.
    started: Instant,
}

/// The checks behind `/readyz`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "five independent checks, reported as such"
)]
pub struct Readiness {
    /// The NATS connection is up.
    pub nats_connected: bool,
    /// The last commit succeeded (or none has failed yet).
    pub log_writable: bool,
    /// The state was recovered and the engine loop runs.
    pub state_recovered: bool,
    /// The loop sampled within [`HEARTBEAT_STALE`].
    pub loop_alive: bool,
    /// The data directory's file system has at least the floor free (or no floor is set).
    pub disk_space: bool,
}

impl Readiness {
    /// All checks pass.
    #[must_use]
    pub const fn is_ready(&self) -> bool {
        self.nats_connected
            && self.log_writable
            && self.state_recovered
            && self.loop_alive
            && self.disk_space
    }
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

impl Health {
    /// Not ready: nothing recovered, nothing connected.
    #[must_use]
    pub fn new() -> Self {
        Self(Arc::new(Inner {
            client: OnceLock::new(),
            log_writable: AtomicBool::new(false),
            state_recovered: AtomicBool::new(false),
            heartbeat_ms: AtomicU64::new(u64::MAX),
            free_bytes: AtomicU64::new(u64::MAX),
            min_free_bytes: AtomicU64::new(0),
            started: Instant::now(),
        }))
    }

    /// The engine loop started with a recovered engine whose log is open for writing, on this
    /// NATS client (whose connection state `/readyz` reads live).
    pub fn loop_started(&self, client: &Client) {
        // One health belongs to one engine loop on one client; a restarted loop keeps the
        // first client it was given.
        if self.0.client.set(client.clone()).is_err() {
            tracing::debug!("health already watches a NATS client; keeping the first");
        }
        self.0.state_recovered.store(true, Ordering::Release);
        self.0.log_writable.store(true, Ordering::Release);
        self.beat();
    }

    /// The engine loop stopped (shutdown or failure): not ready any more.
    pub fn loop_stopped(&self) {
        self.0.state_recovered.store(false, Ordering::Release);
    }

    /// The engine's NATS connection is up now.
    #[must_use]
    pub fn nats_connected(&self) -> bool {
        self.0.client.get().is_some_and(|client| {
            client.connection_state() == async_nats::connection::State::Connected
        })
    }

    /// Records whether the log can still be written.
    pub fn set_log_writable(&self, writable: bool) {
        self.0.log_writable.store(writable, Ordering::Release);
    }

    /// Not ready while the data directory's file system has fewer than `bytes` free (0: no
    /// floor), so that traffic stops before a full disk stops the engine.
    pub fn set_min_free_bytes(&self, bytes: u64) {
        self.0.min_free_bytes.store(bytes, Ordering::Release);
    }

    /// Records the free bytes just read from the data directory's file system.
    pub fn set_free_bytes(&self, bytes: u64) {
        self.0.free_bytes.store(bytes, Ordering::Release);
    }

    /// The loop is alive now.
    pub fn beat(&self) {
        let ms = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.0.heartbeat_ms.store(ms, Ordering::Release);
    }

    /// The checks now.
    #[must_use]
    pub fn readiness(&self) -> Readiness {
        let beat = self.0.heartbeat_ms.load(Ordering::Acquire);
        let now = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let stale = u64::try_from(HEARTBEAT_STALE.as_millis()).unwrap_or(u64::MAX);
        Readiness {
            nats_connected: self.nats_connected(),
            log_writable: self.0.log_writable.load(Ordering::Acquire),
            state_recovered: self.0.state_recovered.load(Ordering::Acquire),
            loop_alive: beat != u64::MAX && now.saturating_sub(beat) <= stale,
            disk_space: self.0.free_bytes.load(Ordering::Acquire)
                >= self.0.min_free_bytes.load(Ordering::Acquire),
        }
    }
}

impl Readiness {
    /// `/readyz`'s body: `ready`, or `not ready` and then each failing check on its own line.
    #[must_use]
    pub fn report(&self) -> String {
        if self.is_ready() {
            return String::from("ready\n");
        }
        let mut body = String::from("not ready\n");
        for (ok, what) in [
            (self.nats_connected, "NATS is not connected"),
            (self.log_writable, "the log is not writable"),
            (
                self.state_recovered,
                "the state is not recovered (the engine loop is not running)",
            ),
            (self.loop_alive, "the engine loop has not reported recently"),
            (
                self.disk_space,
                "the data directory's file system has less free space than engine.min_free_bytes",
            ),
        ] {
            if !ok {
                body.push_str(what);
                body.push('\n');
            }
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::Health;

    #[test]
    fn readiness_fails_below_the_free_space_floor_and_only_there() {
        let health = Health::new();
        assert!(health.readiness().disk_space, "no floor, nothing sampled");
        health.set_min_free_bytes(1000);
        assert!(health.readiness().disk_space, "nothing sampled yet");
        health.set_free_bytes(1000);
        assert!(health.readiness().disk_space, "at the floor");
        health.set_free_bytes(999);
        assert!(!health.readiness().disk_space, "below the floor");
        health.set_min_free_bytes(0);
        assert!(health.readiness().disk_space, "0: no floor");
        health.set_free_bytes(0);
        assert!(
            health.readiness().disk_space,
            "0: no floor, even on a full disk"
        );
    }
}
