//! Health: the engine's readiness, shared between the engine loop (which sets it) and the HTTP
//! endpoint ([`crate::http`]), whose `/readyz` answers it.
//!
//! Ready when the engine's NATS connection is up (read live from the client), the log is
//! writable (the last commit did not fail), the state is recovered (the engine loop is running)
//! and the loop has sampled within the last [`HEARTBEAT_STALE`]; else `/readyz` is 503 with the
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
    /// The origin of `heartbeat_ms`.
    started: Instant,
}

/// The checks behind `/readyz`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "four independent checks, reported as such"
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
}

impl Readiness {
    /// All checks pass.
    #[must_use]
    pub const fn is_ready(&self) -> bool {
        self.nats_connected && self.log_writable && self.state_recovered && self.loop_alive
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
        ] {
            if !ok {
                body.push_str(what);
                body.push('\n');
            }
        }
        body
    }
}
