//! A running nats-server child process on a random loopback port, with JetStream and its own
//! temporary directory, killed on `Drop`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{NatsdError, ensure_installed};

/// Default bound on waiting for a started server to accept clients.
const READY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// Bound on waiting for a gracefully stopped server to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How often readiness and exit are polled.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Bound on each probe connection (connect, then read the greeting).
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// How many trailing log lines an error message carries.
const ERROR_LOG_LINES_MAX: usize = 80;

/// The address every server binds: loopback only.
const HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Options for starting a [`NatsServer`]; see [`NatsServer::builder`].
#[derive(Debug, Clone)]
pub struct NatsServerBuilder {
    /// The binary to run; `None` means [`ensure_installed`].
    binary: Option<PathBuf>,
    /// Extra configuration file text (accounts, permissions, limits).
    config_text: Option<String>,
    /// Whether to open the HTTP monitoring port (on a random port unless given).
    monitoring: bool,
    /// An explicit monitoring port; implies monitoring.
    monitor_port: Option<u16>,
    /// Whether JetStream is enabled (default: yes).
    jetstream: bool,
    /// An explicit JetStream store directory, kept after the server is dropped.
    store_dir: Option<PathBuf>,
    /// An explicit client port; `None` means a random free one chosen by the server.
    port: Option<u16>,
    /// Bound on waiting for readiness.
    ready_timeout: Duration,
    /// Whether the process gets a process group of its own (see
    /// [`NatsServerBuilder::own_process_group`]).
    own_process_group: bool,
    /// Whether to open a WebSocket listener (on a random loopback port), for the web pages.
    websocket: bool,
}

impl Default for NatsServerBuilder {
    fn default() -> Self {
        Self {
            binary: None,
            config_text: None,
            monitoring: false,
            monitor_port: None,
            jetstream: true,
            store_dir: None,
            port: None,
            ready_timeout: READY_TIMEOUT_DEFAULT,
            own_process_group: false,
            websocket: false,
        }
    }
}

impl NatsServerBuilder {
    /// Runs this binary instead of the one [`ensure_installed`] resolves.
    #[must_use]
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Adds a configuration file with this text (passed with `-c`). Command-line settings made by
    /// this harness (address, port, JetStream, store directory, log file) take precedence.
    #[must_use]
    pub fn config_text(mut self, text: impl Into<String>) -> Self {
        self.config_text = Some(text.into());
        self
    }

    /// Opens the HTTP monitoring endpoint on a random loopback port; readiness then also waits
    /// for `/healthz` to answer 200.
    #[must_use]
    pub fn monitoring(mut self, enabled: bool) -> Self {
        self.monitoring = enabled;
        self
    }

    /// Opens the HTTP monitoring endpoint on this port.
    #[must_use]
    pub fn monitor_port(mut self, port: u16) -> Self {
        self.monitoring = true;
        self.monitor_port = Some(port);
        self
    }

    /// Enables or disables JetStream (enabled by default).
    #[must_use]
    pub fn jetstream(mut self, enabled: bool) -> Self {
        self.jetstream = enabled;
        self
    }

    /// Keeps JetStream data in this directory (created if missing, never deleted) instead of a
    /// temporary one.
    #[must_use]
    pub fn store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.store_dir = Some(dir.into());
        self
    }

    /// Listens on this client port instead of a random one. Never use 4222 on shared machines.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Bounds the wait for the server to become ready (default 10 s).
    #[must_use]
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Runs the server in a process group of its own, so that the signals a terminal sends to its
    /// foreground group (Ctrl-C's SIGINT among them) reach only the caller, which then
    /// stops the server in its own order ([`NatsServer::stop`]) instead of racing it.
    ///
    /// Off by default: a test binary interrupted from the terminal dies without running `Drop`,
    /// and its servers, in its group, then die of the same SIGINT instead of lingering. A caller
    /// that turns this on must stop the server on every way out (it is still killed on `Drop`).
    #[must_use]
    pub fn own_process_group(mut self, enabled: bool) -> Self {
        self.own_process_group = enabled;
        self
    }

    /// Opens a WebSocket listener for browsers (the wallboard and the desktop) on a random
    /// loopback port, without TLS (a local listener; production puts TLS in front, see
    /// docs/operations.md), with the same users and permissions as the client port. Its URL is
    /// [`NatsServer::websocket_url`]. The listener is a `websocket` block added to the
    /// configuration file, so `config_text` must not hold one of its own.
    #[must_use]
    pub fn websocket(mut self, enabled: bool) -> Self {
        self.websocket = enabled;
        self
    }

    /// Starts the server and waits until it accepts clients.
    pub fn start(self) -> Result<NatsServer, NatsdError> {
        let mut server = self.spawn()?;
        server.wait_launched()?;
        Ok(server)
    }

    /// Starts the server process without waiting for it to be ready: the servers of a cluster
    /// are all started first, because a clustered JetStream server reports healthy only once its
    /// peers are up. Call [`NatsServer::wait_launched`] next.
    pub(crate) fn spawn(self) -> Result<NatsServer, NatsdError> {
        let binary = match self.binary {
            Some(binary) => binary,
            None => ensure_installed()?,
        };
        let work_dir = tempfile::Builder::new()
            .prefix("switchboard-natsd-")
            .tempdir()
            .map_err(|e| NatsdError::io("creating the server's temporary directory", e))?;
        let store_dir = match self.store_dir {
            Some(dir) => dir,
            None => work_dir.path().join("store"),
        };
        if self.jetstream {
            std::fs::create_dir_all(&store_dir).map_err(|e| {
                NatsdError::io(format!("creating store directory {store_dir:?}"), e)
            })?;
        }
        let config_path = (self.config_text.is_some() || self.websocket)
            .then(|| work_dir.path().join("nats-server.conf"));
        let mut server = NatsServer {
            binary,
            store_dir,
            config_path,
            config_text: self.config_text.unwrap_or_default(),
            websocket: self.websocket,
            websocket_port: None,
            jetstream: self.jetstream,
            monitoring: self.monitoring,
            port: 0,
            monitor_port: None,
            ready_timeout: self.ready_timeout,
            own_process_group: self.own_process_group,
            child: None,
            wrapper: Vec::new(),
            wrapped_pid: None,
            pending_ports_dir: None,
            work_dir,
        };
        server.pending_ports_dir = Some(server.spawn_child(self.port, self.monitor_port)?);
        Ok(server)
    }
}

/// A nats-server child process listening on `127.0.0.1`, killed (SIGKILL) when dropped.
///
/// Each server has its own temporary directory holding its log (`nats-server.log`, plus
/// `stderr.log` for anything printed before logging starts), its ports file and, unless
/// [`NatsServerBuilder::store_dir`] was given, its JetStream store. The directory is removed on
/// drop, after the process is dead.
#[derive(Debug)]
pub struct NatsServer {
    /// The binary, kept for restarts and for sending signals.
    binary: PathBuf,
    /// The JetStream store directory, the same across restarts.
    store_dir: PathBuf,
    /// The configuration file written from `config_text` and the WebSocket block, if any.
    config_path: Option<PathBuf>,
    /// The caller's configuration text (empty when none).
    config_text: String,
    /// Whether a WebSocket listener is opened.
    websocket: bool,
    /// The WebSocket port: chosen by the first start, reused by every restart.
    websocket_port: Option<u16>,
    /// Whether JetStream is enabled.
    jetstream: bool,
    /// Whether the monitoring endpoint is open.
    monitoring: bool,
    /// The client port: chosen by the first start, reused by every restart.
    port: u16,
    /// The monitoring port, likewise fixed after the first start.
    monitor_port: Option<u16>,
    /// Bound on waiting for readiness.
    ready_timeout: Duration,
    /// Whether the process runs in a process group of its own.
    own_process_group: bool,
    /// The process, `None` between `stop`/`kill` and `restart`: the server, or the wrapper
    /// that runs it ([`NatsServer::restart_wrapped`]).
    child: Option<Child>,
    /// The command (and arguments) the current process runs the server under; empty: none.
    wrapper: Vec<OsString>,
    /// The server's own pid when it runs under a wrapper, read from its ports file.
    wrapped_pid: Option<u32>,
    /// The ports directory of a process spawned but not yet seen ready (see
    /// [`NatsServerBuilder::spawn`]); `None` once [`NatsServer::wait_launched`] has returned.
    pending_ports_dir: Option<PathBuf>,
    /// Logs, ports file, config and (by default) the store. Declared last so that it is removed
    /// after `Drop::drop` has killed the process.
    work_dir: TempDir,
}

impl NatsServer {
    /// Options for starting a server.
    pub fn builder() -> NatsServerBuilder {
        NatsServerBuilder::default()
    }

    /// Starts a server with the defaults: pinned binary, random port, JetStream in a temporary
    /// store, no monitoring.
    pub fn start() -> Result<Self, NatsdError> {
        Self::builder().start()
    }

    /// The URL clients connect to, `nats://127.0.0.1:PORT`.
    pub fn client_url(&self) -> String {
        format!("nats://{HOST}:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL browsers connect to over WebSocket, `ws://127.0.0.1:PORT`, if
    /// [`NatsServerBuilder::websocket`] was asked for.
    pub fn websocket_url(&self) -> Option<String> {
        self.websocket_port
            .map(|port| format!("ws://{HOST}:{port}"))
    }

    /// The monitoring port, if monitoring is enabled.
    pub fn monitor_port(&self) -> Option<u16> {
        self.monitor_port
    }

    /// The monitoring endpoint's base URL, `http://127.0.0.1:PORT`, if monitoring is enabled.
    pub fn monitor_url(&self) -> Option<String> {
        self.monitor_port
            .map(|port| format!("http://{HOST}:{port}"))
    }

    /// Reads a monitoring endpoint (`/varz`, `/jsz`, ...) as JSON. Blocking; each connect,
    /// write and read waits at most 5 s.
    ///
    /// # Errors
    /// Monitoring is not enabled, the endpoint did not answer, or its answer is not JSON.
    pub fn monitor_json(&self, endpoint: &str) -> Result<serde_json::Value, NatsdError> {
        let failed = |detail: String| NatsdError::Monitor {
            endpoint: endpoint.to_owned(),
            detail,
        };
        let port = self
            .monitor_port
            .ok_or_else(|| failed("monitoring is not enabled".to_owned()))?;
        let response = http_get(port, endpoint).map_err(|error| failed(error.to_string()))?;
        serde_json::from_slice(&response).map_err(|error| failed(error.to_string()))
    }

    /// The JetStream store directory (the server keeps its data in `jetstream/` inside it).
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.work_dir.path().join("nats-server.log")
    }

    /// The binary this server runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The server's process id, or `None` while stopped (under a wrapper, the server's own
    /// once it is ready, the wrapper's before).
    pub fn pid(&self) -> Option<u32> {
        let child = self.child.as_ref()?;
        Some(self.wrapped_pid.unwrap_or_else(|| child.id()))
    }

    /// Whether the process is still alive (reaps it if it has exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) | None => false,
        }
    }

    /// Everything the server has logged so far across all its runs (standard error first), for a
    /// failing test to print.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for name in ["stderr.log", "nats-server.log"] {
            if let Ok(bytes) = std::fs::read(self.work_dir.path().join(name)) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        text
    }

    /// Stops the server gracefully (SIGTERM, so JetStream flushes), waiting up to 10 s before
    /// falling back to SIGKILL. Does nothing if already stopped.
    pub fn stop(&mut self) -> Result<(), NatsdError> {
        let wrapped_pid = self.wrapped_pid.take();
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child
            .try_wait()
            .map_err(|e| NatsdError::io("checking the server process", e))?
            .is_some()
        {
            return Ok(());
        }
        // The server binary itself can signal a pid, which avoids depending on a `kill` command
        // or on libc. If it fails we fall through to SIGKILL below.
        let pid = wrapped_pid.unwrap_or_else(|| child.id());
        let signalled = Command::new(&self.binary)
            .arg("--signal")
            .arg(format!("term={pid}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if signalled && wait_exit(&mut child, STOP_TIMEOUT)? {
            return Ok(());
        }
        if pid != child.id() && matches!(child.try_wait(), Ok(None)) {
            signal_pid(pid, "KILL")?;
        }
        kill_child(&mut child)
    }

    /// Kills the server with SIGKILL, like a crash, and reaps it. Does nothing if already
    /// stopped.
    pub fn kill(&mut self) -> Result<(), NatsdError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // A wrapper may outlive its child (strace detaches it when killed): the server first,
        // then the wrapper is given the time a graceful stop gets to finish (strace writes its
        // summary) before it is killed too.
        if let Some(pid) = self.wrapped_pid.take()
            && matches!(child.try_wait(), Ok(None))
        {
            signal_pid(pid, "KILL")?;
            wait_exit(&mut child, STOP_TIMEOUT)?;
        }
        kill_child(&mut child)
    }

    /// Freezes the server (SIGSTOP), like a machine that stops answering without closing its
    /// connections: clients' requests and JetStream acknowledgements go unanswered until
    /// [`NatsServer::resume`]. Dropping a paused server still kills it.
    ///
    /// # Errors
    /// The server is not running, or the signal could not be sent.
    pub fn pause(&mut self) -> Result<(), NatsdError> {
        self.signal("STOP")?;
        // `kill` returns once the signal is sent; the threads stop when next scheduled. Wait
        // (bounded) until every one of them is stopped, so that nothing answers after this.
        let pid = self.pid().unwrap_or_default();
        let stopped = poll_until(STOP_TIMEOUT, POLL_INTERVAL, || {
            Ok::<_, NatsdError>(all_threads_stopped(pid).then_some(()))
        })?;
        stopped.ok_or_else(|| {
            NatsdError::io(
                "pausing the server",
                std::io::Error::other(format!("its threads did not stop within {STOP_TIMEOUT:?}")),
            )
        })
    }

    /// Lets a [`NatsServer::pause`]d server run again (SIGCONT).
    ///
    /// # Errors
    /// The server is not running, or the signal could not be sent.
    pub fn resume(&mut self) -> Result<(), NatsdError> {
        self.signal("CONT")
    }

    /// Sends the signal `name` (`STOP`, `CONT`) to the server.
    fn signal(&mut self, name: &str) -> Result<(), NatsdError> {
        let pid = self.pid().ok_or_else(|| {
            NatsdError::io(
                format!("sending SIG{name} to the server"),
                std::io::Error::other("not running"),
            )
        })?;
        signal_pid(pid, name)
    }

    /// Kills the server (SIGKILL) if it is running and starts it again on the same port(s), with
    /// the same store directory and configuration, waiting until it is ready: "NATS restarted
    /// under the engine". For a graceful restart call [`NatsServer::stop`] first.
    pub fn restart(&mut self) -> Result<(), NatsdError> {
        self.wrapper.clear();
        self.respawn()?;
        self.wait_launched()
    }

    /// Like [`NatsServer::restart`], but the new process runs the server under `wrapper`: its
    /// first item is the program, the rest its arguments, and the server's own command line
    /// follows them, e.g. `strace -f -qq -o /dev/null -e inject=fsync:delay_enter=20000 --` to
    /// give it a slow disk. The wrapper must run the server as its child and exit when it
    /// does (`strace`, `nice`, `taskset` do). Signals ([`NatsServer::stop`], `kill`, `pause`)
    /// go to the server itself, whose pid is read from its ports file, and [`NatsServer::pid`]
    /// is the server's. The next [`NatsServer::restart`] runs it plain again.
    ///
    /// # Errors
    /// As [`NatsServer::restart`]; also when `wrapper` is empty or cannot be started.
    pub fn restart_wrapped<S: Into<OsString> + Clone>(
        &mut self,
        wrapper: &[S],
    ) -> Result<(), NatsdError> {
        if wrapper.is_empty() {
            return Err(NatsdError::io(
                "restarting the server under a wrapper",
                std::io::Error::other("the wrapper command is empty"),
            ));
        }
        self.wrapper = wrapper.iter().cloned().map(Into::into).collect();
        self.respawn()?;
        self.wait_launched()
    }

    /// Whether a spawned process has bound all its ports (its ports file is written), for a
    /// cluster to learn early that one of its servers could not start.
    ///
    /// # Errors
    /// [`NatsdError::ExitedEarly`] if the process has exited.
    pub(crate) fn has_bound_ports(&mut self) -> Result<bool, NatsdError> {
        let pid = self.starting_pid()?;
        Ok(match &self.pending_ports_dir {
            Some(dir) => read_ports_file(dir, self.wrapper.is_empty().then_some(pid)).is_some(),
            None => true,
        })
    }

    /// Kills the server if it is running and starts it again on the same ports, store and
    /// configuration, without waiting for it to be ready (see [`NatsServer::wait_launched`]).
    pub(crate) fn respawn(&mut self) -> Result<(), NatsdError> {
        self.kill()?;
        self.pending_ports_dir = Some(self.spawn_child(Some(self.port), self.monitor_port)?);
        Ok(())
    }

    /// Waits until a process spawned by [`NatsServerBuilder::spawn`] (or a restart) is ready
    /// and records its ports; kills it if it is not ready within the bound. Does nothing if no
    /// process is waiting to be seen ready.
    pub(crate) fn wait_launched(&mut self) -> Result<(), NatsdError> {
        let Some(ports_dir) = self.pending_ports_dir.take() else {
            return Ok(());
        };
        match self.wait_ready(&ports_dir) {
            Ok(ports) => {
                self.port = ports.nats;
                self.monitor_port = ports.monitoring;
                self.websocket_port = ports.websocket;
                Ok(())
            }
            Err(e) => {
                // Best effort: the readiness error is the one to report.
                let _ = self.kill();
                Err(e)
            }
        }
    }

    /// Spawns the process (with these ports, or random ones) and returns its ports directory.
    fn spawn_child(
        &mut self,
        port: Option<u16>,
        monitor_port: Option<u16>,
    ) -> Result<PathBuf, NatsdError> {
        let work = self.work_dir.path();
        let ports_dir = work.join("ports");
        if ports_dir.exists() {
            std::fs::remove_dir_all(&ports_dir)
                .map_err(|e| NatsdError::io(format!("clearing {ports_dir:?}"), e))?;
        }
        std::fs::create_dir_all(&ports_dir)
            .map_err(|e| NatsdError::io(format!("creating {ports_dir:?}"), e))?;
        let stderr_path = work.join("stderr.log");
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .map_err(|e| NatsdError::io(format!("opening {stderr_path:?}"), e))?;
        let stdout = stderr
            .try_clone()
            .map_err(|e| NatsdError::io(format!("cloning {stderr_path:?}"), e))?;

        if let Some(config) = &self.config_path {
            let mut text = self.config_text.clone();
            if self.websocket {
                // -1: a random port, reported in the ports file; a restart keeps the first one.
                let port = self.websocket_port.map_or(-1, i32::from);
                text.push_str(&format!(
                    "\nwebsocket {{\n  host: \"{HOST}\"\n  port: {port}\n  no_tls: true\n}}\n"
                ));
            }
            std::fs::write(config, text)
                .map_err(|e| NatsdError::io(format!("writing {config:?}"), e))?;
        }
        let mut command = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        if let Some(config) = &self.config_path {
            command.arg("-c").arg(config);
        }
        command
            .arg("-a")
            .arg(HOST.to_string())
            .arg("-p")
            .arg(port.map_or_else(|| "-1".to_owned(), |p| p.to_string()))
            .arg("--ports_file_dir")
            .arg(&ports_dir)
            .arg("-l")
            .arg(self.log_path());
        if self.jetstream {
            command.arg("-js").arg("-sd").arg(&self.store_dir);
        }
        if self.monitoring {
            command
                .arg("-m")
                .arg(monitor_port.map_or_else(|| "-1".to_owned(), |p| p.to_string()));
        }
        command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        if self.own_process_group {
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
        }
        let child = command
            .spawn()
            .map_err(|e| NatsdError::io(format!("starting {:?}", self.binary), e))?;
        self.child = Some(child);
        Ok(ports_dir)
    }

    /// The pid of the process being started, if it is still alive.
    ///
    /// # Errors
    /// [`NatsdError::ExitedEarly`] if it has exited, with the tail of its log.
    fn starting_pid(&mut self) -> Result<u32, NatsdError> {
        let child = self.child.as_mut().ok_or_else(|| {
            NatsdError::io(
                "waiting for readiness",
                std::io::Error::other("no server process"),
            )
        })?;
        if let Some(status) = child
            .try_wait()
            .map_err(|e| NatsdError::io("checking the server process", e))?
        {
            return Err(NatsdError::ExitedEarly {
                status,
                logs: self.logs_tail(),
            });
        }
        Ok(child.id())
    }

    /// Polls until the server has written its ports file, answers a client connection with its
    /// `INFO` greeting and (with monitoring) reports healthy; bounded by `ready_timeout`.
    fn wait_ready(&mut self, ports_dir: &Path) -> Result<Ports, NatsdError> {
        let deadline = Instant::now() + self.ready_timeout;
        let mut ports = None;
        loop {
            let pid = self.starting_pid()?;
            if ports.is_none() {
                // Under a wrapper the server is another process: its pid is the file's.
                let wanted = self.wrapper.is_empty().then_some(pid);
                if let Some((server_pid, found)) = read_ports_file(ports_dir, wanted) {
                    self.wrapped_pid = wanted.is_none().then_some(server_pid);
                    ports = Some(found);
                }
            }
            if let Some(found) = ports {
                let monitor_ready = match found.monitoring {
                    Some(monitor_port) => healthz_ok(monitor_port),
                    None => !self.monitoring,
                };
                let websocket_ready = found.websocket.is_some() || !self.websocket;
                if monitor_ready && websocket_ready && read_info_line(found.nats).is_ok() {
                    return Ok(found);
                }
                if !websocket_ready {
                    // Written before the WebSocket listener was up: read it again.
                    ports = None;
                }
            }
            if Instant::now() >= deadline {
                return Err(NatsdError::NotReady {
                    waited: self.ready_timeout,
                    logs: self.logs_tail(),
                });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// The last lines of [`NatsServer::logs`], for error messages.
    fn logs_tail(&self) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        let start = lines.len().saturating_sub(ERROR_LOG_LINES_MAX);
        lines[start..].join("\n")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        // Nothing useful can be done with a failure here; the process is usually already gone.
        let _ = self.kill();
    }
}

/// Whether every thread of process `pid` is stopped (state `T` in `/proc/<pid>/task/*/stat`).
/// Where `/proc` cannot be read, the signal's delivery is taken on trust.
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.filter_map(Result::ok).all(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
            // The state follows the command name, which is in parentheses and may hold spaces.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state == "T" || state == "t")
        })
    })
}

/// Sends the signal `name` (`KILL`, `STOP`, `CONT`) to process `pid` with `kill`, which needs
/// no `unsafe` here.
fn signal_pid(pid: u32, name: &str) -> Result<(), NatsdError> {
    let what = format!("sending SIG{name} to the server");
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .status()
        .map_err(|e| NatsdError::io(&what, e))?;
    if status.success() {
        Ok(())
    } else {
        Err(NatsdError::io(
            &what,
            std::io::Error::other(format!("kill exited with {status}")),
        ))
    }
}

/// A wrapper for [`NatsServer::restart_wrapped`] that gives the server a slow disk: `strace`
/// (which must be on the PATH) delays each of its `fsync` and `fdatasync` calls by `delay`
/// before it runs (nats-server 2.14 syncs each stored message with `fsync` under
/// `sync_interval: always`), and writes how many there were to `summary` (`strace -c`) when the
/// server exits. Only those two calls stop in the tracer (seccomp filter): nothing else slows.
pub fn slow_disk_wrapper(delay: Duration, summary: &Path) -> Vec<String> {
    [
        "strace",
        "-f",
        "--seccomp-bpf",
        "-qq",
        "-c",
        "-o",
        &summary.to_string_lossy(),
        "-e",
        "trace=fsync,fdatasync",
        "-e",
        &format!("inject=fsync,fdatasync:delay_enter={}", delay.as_micros()),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Calls `check` every `every` until it finds something or `bound` has passed (`None` then):
/// the one way this crate waits on a process or a server, which notify nothing. A check's
/// error ends the wait.
pub(crate) fn poll_until<T, E>(
    bound: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<Option<T>, E>,
) -> Result<Option<T>, E> {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(found) = check()? {
            return Ok(Some(found));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(every);
    }
}

/// Waits (at most `bound`) until `child` has exited; whether it has.
fn wait_exit(child: &mut Child, bound: Duration) -> Result<bool, NatsdError> {
    let exited = poll_until(bound, POLL_INTERVAL, || {
        child
            .try_wait()
            .map_err(|e| NatsdError::io("waiting for the server to exit", e))
    })?;
    Ok(exited.is_some())
}

/// SIGKILLs and reaps `child`; an already exited child is only reaped.
fn kill_child(child: &mut Child) -> Result<(), NatsdError> {
    if child
        .try_wait()
        .map_err(|e| NatsdError::io("checking the server process", e))?
        .is_none()
    {
        child
            .kill()
            .map_err(|e| NatsdError::io("killing the server process", e))?;
    }
    child
        .wait()
        .map_err(|e| NatsdError::io("reaping the server process", e))?;
    Ok(())
}

/// The ports a server reported in its ports file.
#[derive(Clone, Copy, Debug)]
struct Ports {
    /// The client port.
    nats: u16,
    /// The HTTP monitoring port, when open.
    monitoring: Option<u16>,
    /// The WebSocket port, when open.
    websocket: Option<u16>,
}

/// Reads `<name>_<pid>.ports` from `dir` (of this `pid`, or of any when `None`), with the pid:
/// `{"nats":["nats://127.0.0.1:P"],"monitoring":[...], "websocket":[...]}`. `None` until the
/// server has written it completely.
fn read_ports_file(dir: &Path, pid: Option<u32>) -> Option<(u32, Ports)> {
    let (pid, entry) = std::fs::read_dir(dir).ok()?.find_map(|entry| {
        let entry = entry.ok()?;
        let name = entry.file_name();
        let found: u32 = name
            .to_str()?
            .strip_suffix(".ports")?
            .rsplit('_')
            .next()?
            .parse()
            .ok()?;
        pid.is_none_or(|pid| pid == found)
            .then(|| (found, entry.path()))
    })?;
    // A file caught half-written fails to parse and is simply read again on the next poll.
    let text = std::fs::read_to_string(entry).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let first_port = |key: &str| -> Option<u16> {
        let url = json.get(key)?.as_array()?.first()?.as_str()?;
        url.trim_end_matches('/').rsplit(':').next()?.parse().ok()
    };
    let ports = Ports {
        nats: first_port("nats")?,
        monitoring: first_port("monitoring"),
        websocket: first_port("websocket"),
    };
    Some((pid, ports))
}

/// Connects to `port` and returns the server's first line, which must be its `INFO {...}`.
fn read_info_line(port: u16) -> std::io::Result<String> {
    let stream = TcpStream::connect_timeout(&SocketAddr::from((HOST, port)), PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new(stream.take(64 * 1024)).read_line(&mut line)?;
    if line.starts_with("INFO ") {
        Ok(line)
    } else {
        Err(std::io::Error::other(format!(
            "unexpected greeting {line:?}"
        )))
    }
}

/// The body of `GET path` on the monitoring port, which must answer 200; a chunked body is
/// put back together.
fn http_get(monitor_port: u16, path: &str) -> std::io::Result<Vec<u8>> {
    const TIMEOUT: Duration = Duration::from_secs(5);
    const RESPONSE_BYTES_MAX: u64 = 16 << 20;
    let mut stream = TcpStream::connect_timeout(&SocketAddr::from((HOST, monitor_port)), TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream
        .take(RESPONSE_BYTES_MAX + 1)
        .read_to_end(&mut response)?;
    if response.len() as u64 > RESPONSE_BYTES_MAX {
        return Err(std::io::Error::other(format!(
            "the response is over {RESPONSE_BYTES_MAX} bytes"
        )));
    }
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of the response's header"))?;
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let body = &response[split + 4..];
    if head.split_whitespace().nth(1) != Some("200") {
        let status = head.lines().next().unwrap_or_default().to_owned();
        return Err(std::io::Error::other(format!("answered {status:?}")));
    }
    if !head.contains("transfer-encoding: chunked") {
        return Ok(body.to_vec());
    }
    // Chunks: a hex size line, that many bytes, CRLF; a size of 0 ends the body.
    let mut rest = body;
    let mut out = Vec::with_capacity(body.len());
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| std::io::Error::other("a chunk has no size line"))?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| std::io::Error::other(format!("bad chunk size {size_hex:?}")))?;
        if size == 0 {
            return Ok(out);
        }
        let start = line_end + 2;
        let cut_short = || std::io::Error::other("a chunk is cut short");
        let end = start.checked_add(size).ok_or_else(cut_short)?;
        let chunk = rest.get(start..end).ok_or_else(cut_short)?;
        out.extend_from_slice(chunk);
        rest = rest.get(end + 2..).unwrap_or_default();
    }
}

/// Whether `GET /healthz` on the monitoring port answers 200 (with JetStream, only once JetStream
/// is up).
fn healthz_ok(monitor_port: u16) -> bool {
    let probe = || -> std::io::Result<bool> {
        let mut stream =
            TcpStream::connect_timeout(&SocketAddr::from((HOST, monitor_port)), PROBE_TIMEOUT)?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut status_line = String::new();
        BufReader::new(stream.take(4096)).read_line(&mut status_line)?;
        Ok(status_line.split_whitespace().nth(1) == Some("200"))
    };
    probe().unwrap_or(false)
}
