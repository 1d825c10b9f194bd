//! What the load runs against: the NATS (given, or a local nats-server started here) and the
//! engine (already running, or `switchboard serve` started here from this very executable with
//! its own data directory and metrics port).

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::{Context, Result};
use switchboard_natsd::NatsServer;

/// An engine process started by the load generator, killed and reaped on drop.
#[derive(Debug)]
pub(super) struct SpawnedEngine {
    child: Child,
}

impl SpawnedEngine {
    /// Starts `switchboard serve` (this executable) on `url` with its log in `dir` and its
    /// metrics on a free local port. Its warnings go to this process's stderr.
    pub(super) fn start(url: &str, prefix: &str, dir: &Path) -> Result<Self> {
        let executable = std::env::current_exe().context("cannot find this executable")?;
        let metrics = crate::demo::free_local_port()?;
        let child = Command::new(&executable)
            .arg("serve")
            .args(["--nats-url", url, "--subject-prefix", prefix])
            .arg("--data-dir")
            .arg(dir)
            .arg("--metrics-addr")
            .arg(metrics.to_string())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("could not start {} serve", executable.display()))?;
        Ok(Self { child })
    }

    /// The engine's process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How it ended, if it has.
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for SpawnedEngine {
    fn drop(&mut self) {
        // A scratch engine: its log is thrown away with its directory, so no clean stop is owed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a local nats-server (installed on first use) with JetStream in `store` and its
/// monitoring endpoint on a free port (for its message counts). Blocking.
pub(super) fn start_nats(store: &Path) -> Result<NatsServer> {
    NatsServer::builder()
        .store_dir(store)
        .monitoring(true)
        .start()
        .context("could not start a local nats-server")
}
