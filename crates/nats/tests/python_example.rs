//! A client in another language can use the contract: `examples/python/desktop.py` (nats-py)
//! creates a contact and plays an agent desktop against a real engine on a real nats-server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use switchboard_core::RoutingConfig;
use switchboard_engine::{Engine, EngineOptions};
use switchboard_nats::DriverSettings;
use switchboard_natsd::NatsServer;
use switchboard_wire::Subjects;

/// The pinned nats-py, as the example's README says.
const NATS_PY: &str = "nats-py==2.16.0";

/// Installs the pinned nats-py under the workspace's tools directory once (under a file lock, so
/// parallel test processes do not race) and returns the directory to put on PYTHONPATH.
fn nats_py() -> PathBuf {
    let tools = switchboard_natsd::tools_dir().expect("a tools directory");
    let target = tools.join(NATS_PY.replace("==", "-"));
    std::fs::create_dir_all(&tools).expect("create the tools directory");
    let lock = std::fs::File::create(tools.join("nats-py.lock")).expect("lock file");
    lock.lock().expect("take the install lock");
    if !target.join("nats").is_dir() {
        let staging = tools.join(format!(".nats-py-staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let status = Command::new(
            std::env::var("SWITCHBOARD_PYTHON").unwrap_or_else(|_| "python3".to_owned()),
        )
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--target",
        ])
        .arg(&staging)
        .arg(NATS_PY)
        .status()
        .expect("python3 runs pip");
        assert!(status.success(), "pip could not install {NATS_PY}");
        let _ = std::fs::remove_dir_all(&target);
        std::fs::rename(&staging, &target).expect("move the install into place");
    }
    target
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/python/desktop.py")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_creates_a_contact_and_plays_a_desktop() {
    let site_packages = tokio::task::spawn_blocking(nats_py).await.expect("install");
    let server = NatsServer::start().expect("nats-server starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, _) = Engine::open(
        dir.path(),
        RoutingConfig::default(),
        EngineOptions::default(),
        &mut |_, _| {},
    )
    .expect("engine opens");
    let client = async_nats::connect(server.client_url())
        .await
        .expect("connect");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let settings = DriverSettings::new(Subjects::new("switchboard").expect("prefix"));
    let engine = tokio::spawn(switchboard_nats::run(client, engine, settings, async {
        let _ = stopped.await;
    }));

    let url = server.client_url();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("python3")
            .arg(example())
            .env("PYTHONPATH", &site_packages)
            .env("NATS_URL", &url)
            .output(),
    )
    .await
    .expect("the example finishes in time")
    .expect("python3 runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the example failed:\n{said}");
    assert!(
        said.contains("completed py-call-") && said.contains("contact_completed"),
        "{said}"
    );

    let _ = stop.send(());
    let engine = engine.await.expect("task").expect("clean stop");
    assert_eq!(
        engine
            .state()
            .agent("py-agent")
            .map(|a| a.presence.as_str()),
        Some("wrap_up")
    );
}
