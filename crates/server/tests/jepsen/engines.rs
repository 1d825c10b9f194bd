//! The engines under test: `switchboard serve` processes in cluster mode, each with its own data
//! directory and its log lines appended to a file that outlives the process, so that what every
//! run of an engine said (`serving as leader`, `stopped serving`) can be counted at the end.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::PREFIX;

/// The directory the run's logs are kept in (`SWITCHBOARD_JEPSEN_LOGS`), made if needed.
pub(crate) fn kept_logs() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("SWITCHBOARD_JEPSEN_LOGS")?);
    std::fs::create_dir_all(&dir).expect("the directory of the kept logs");
    Some(dir)
}

/// The lease's TTL the engines run with (the smallest `serve` accepts is what CI can afford).
pub(crate) const LEASE_TTL_SECS: u64 = 3;

/// One engine: its node id, directory and current process.
struct Node {
    id: String,
    dir: TempDir,
    child: Option<Child>,
}

/// Every engine of the domain.
pub(crate) struct Engines {
    urls: String,
    nodes: Vec<Node>,
    /// The configuration file every engine reads: the intake and events streams on all three
    /// servers, so that restarting one loses nothing.
    config: TempDir,
}

impl Engines {
    /// Starts `count` engines on the cluster at `urls`.
    pub(crate) fn start(urls: &str, count: usize) -> Self {
        let config = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            config.path().join("switchboard.toml"),
            "[nats]\nstream_replicas = 3\n",
        )
        .expect("write the configuration");
        let mut engines = Self {
            urls: urls.to_owned(),
            nodes: (1..=count)
                .map(|n| Node {
                    id: format!("engine-{n}"),
                    dir: tempfile::tempdir().expect("temp dir"),
                    child: None,
                })
                .collect(),
            config,
        };
        for n in 0..count {
            engines.spawn(n);
        }
        engines
    }

    fn index(&self, id: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .unwrap_or_else(|| panic!("no engine {id}"))
    }

    /// Each engine's log: in its directory, or in `SWITCHBOARD_JEPSEN_LOGS` (a directory kept
    /// after the run) as `<id>.log`.
    fn log_path(&self, index: usize) -> PathBuf {
        match kept_logs() {
            Some(dir) => dir.join(format!("{}.log", self.nodes[index].id)),
            None => self.nodes[index].dir.path().join("engine.log"),
        }
    }

    fn spawn(&mut self, index: usize) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path(index))
            .expect("the engine's log file");
        let node = &self.nodes[index];
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(self.config.path().join("switchboard.toml"))
            .args(["--nats-url", &self.urls, "--subject-prefix", PREFIX])
            .args(["--log-backend", "jetstream", "--log-replicas", "3"])
            .args(["--node-id", &node.id])
            .args(["--lease-ttl-secs", &LEASE_TTL_SECS.to_string()])
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{}", crate::common::free_port()),
            ])
            .arg("--data-dir")
            .arg(node.dir.path().join("data"))
            .env(
                "RUST_LOG",
                std::env::var("SWITCHBOARD_JEPSEN_RUST_LOG")
                    .unwrap_or_else(|_| "info,async_nats=warn".to_owned()),
            )
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the switchboard binary starts");
        self.nodes[index].child = Some(child);
    }

    fn signal(&self, id: &str, signal: &str) {
        let index = self.index(id);
        let child = self.nodes[index]
            .child
            .as_ref()
            .unwrap_or_else(|| panic!("{id} is not running"));
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {id}");
    }

    /// SIGKILLs engine `id` and reaps it.
    pub(crate) fn kill(&mut self, id: &str) {
        let index = self.index(id);
        if let Some(mut child) = self.nodes[index].child.take() {
            child.kill().expect("SIGKILL");
            let _ = child.wait();
        }
    }

    /// Starts engine `id` again on its data directory (it comes back as a standby).
    pub(crate) fn restart(&mut self, id: &str) {
        let index = self.index(id);
        self.spawn(index);
    }

    /// Starts again, as a supervisor (systemd, compose) would, every engine whose process has
    /// exited on its own; returns each one's id and last log line.
    pub(crate) fn revive_exited(&mut self) -> Vec<(String, String)> {
        let mut revived = Vec::new();
        for index in 0..self.nodes.len() {
            let exited = self.nodes[index]
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some());
            if exited {
                let log = std::fs::read_to_string(self.log_path(index)).unwrap_or_default();
                let last = log.lines().last().unwrap_or_default().to_owned();
                revived.push((self.nodes[index].id.clone(), last));
                self.spawn(index);
            }
        }
        revived
    }

    /// SIGSTOPs engine `id`.
    pub(crate) fn pause(&self, id: &str) {
        self.signal(id, "-STOP");
    }

    /// SIGCONTs engine `id`.
    pub(crate) fn resume(&self, id: &str) {
        self.signal(id, "-CONT");
    }

    /// Every line every run of every engine logged, as one text per engine.
    fn logs(&self) -> Vec<String> {
        (0..self.nodes.len())
            .map(|i| std::fs::read_to_string(self.log_path(i)).unwrap_or_default())
            .collect()
    }

    /// How often engine `id` has logged `stopped serving`.
    pub(crate) fn stops_of(&self, id: &str) -> usize {
        let index = self.index(id);
        self.logs()[index]
            .lines()
            .filter(|l| l.contains("stopped serving"))
            .count()
    }

    /// Waits (at most `bound`) until engine `id` has logged `stopped serving` `count` times.
    pub(crate) fn wait_for_stops(&self, id: &str, count: usize, bound: Duration) -> Option<()> {
        let deadline = Instant::now() + bound;
        // The log file gives no notification: look at it every 50 ms until the bound.
        while self.stops_of(id) < count {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(())
    }

    /// How many times the engines have logged `stopped serving`, all reasons.
    pub(crate) fn stops(&self) -> usize {
        self.logs()
            .iter()
            .flat_map(|log| log.lines())
            .filter(|l| l.contains("stopped serving"))
            .count()
    }

    /// How many times an engine stopped serving because an append was fenced.
    pub(crate) fn fenced_stops(&self) -> usize {
        self.logs()
            .iter()
            .flat_map(|log| log.lines())
            .filter(|l| l.contains("stopped serving") && l.contains("fenced"))
            .count()
    }

    /// The takeover times the engines reported (`serving as leader ... took_ms=N`).
    pub(crate) fn takeovers_ms(&self) -> Vec<u64> {
        self.logs()
            .iter()
            .flat_map(|log| log.lines())
            .filter(|l| l.contains("serving as leader"))
            .filter_map(|l| {
                let rest = &l[l.find("took_ms=")? + "took_ms=".len()..];
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
            .collect()
    }

    /// Stops every engine (SIGTERM, then reaps it).
    pub(crate) fn stop_all(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = Command::new("kill")
                    .args(["-CONT", &child.id().to_string()])
                    .status();
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Engines {
    /// Stops the engines; on a failure, prints the end of each one's log.
    fn drop(&mut self) {
        self.stop_all();
        if std::thread::panicking() {
            for (node, log) in self.nodes.iter().zip(self.logs()) {
                let lines: Vec<&str> = log.lines().collect();
                let tail = &lines[lines.len().saturating_sub(60)..];
                println!(
                    "--- {} (last {} lines)\n{}",
                    node.id,
                    tail.len(),
                    tail.join("\n")
                );
            }
        }
    }
}
