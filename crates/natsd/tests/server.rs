//! Tests against real nats-server processes: installation, random ports, JetStream, restart on
//! the same port and store, and cleanup on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use switchboard_natsd::{
    ENV_NATS_SERVER, NATS_SERVER_VERSION, NatsServer, NatsdError, ensure_installed, server_version,
    slow_disk_wrapper,
};

/// Reads the `INFO {...}` greeting of the server on `port` and returns its JSON.
fn info(port: u16) -> serde_json::Value {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut line = String::new();
    BufReader::new(stream.take(64 * 1024))
        .read_line(&mut line)
        .expect("read INFO");
    let json = line
        .strip_prefix("INFO ")
        .unwrap_or_else(|| panic!("not an INFO line: {line:?}"));
    serde_json::from_str(json.trim()).expect("INFO JSON")
}

/// The version the servers under test should report: the pinned one, unless a developer pointed
/// `SWITCHBOARD_NATS_SERVER` at another binary on purpose.
fn expected_version() -> String {
    let binary = ensure_installed().expect("nats-server installed");
    let reported = server_version(&binary).expect("version");
    if std::env::var_os(ENV_NATS_SERVER).is_none() {
        assert_eq!(reported, NATS_SERVER_VERSION);
    }
    reported
}

/// Whether the process is gone. `stop`, `kill`, `restart` and `Drop` reap the child before they
/// return, so its pid has already left /proc: no waiting is needed.
fn gone(pid: u32) -> bool {
    !process_exists(pid)
}

/// Whether a process with this pid exists (a reaped child's pid is gone from /proc).
fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn installs_the_pinned_version() {
    let version = expected_version();
    assert!(!version.is_empty());
    let binary = ensure_installed().expect("second call");
    assert!(binary.is_file(), "{binary:?}");
}

#[test]
fn two_servers_run_at_once_on_different_random_ports_with_jetstream() {
    let version = expected_version();
    let a = NatsServer::start().expect("server a");
    let b = NatsServer::start().expect("server b");
    assert_ne!(a.port(), b.port());
    assert_ne!(a.port(), 4222, "must never take the system server's port");
    assert_ne!(a.store_dir(), b.store_dir());
    assert_eq!(a.client_url(), format!("nats://127.0.0.1:{}", a.port()));

    for server in [&a, &b] {
        let info = info(server.port());
        assert_eq!(info["jetstream"], serde_json::Value::Bool(true), "{info}");
        assert_eq!(info["version"].as_str(), Some(version.as_str()), "{info}");
        assert_eq!(
            info["port"].as_u64(),
            Some(u64::from(server.port())),
            "{info}"
        );
    }
    assert!(
        a.store_dir().join("jetstream").is_dir(),
        "JetStream keeps its data in the store dir; logs:\n{}",
        a.logs()
    );
    assert!(a.logs().contains("Server is ready"), "{}", a.logs());
}

#[test]
fn starts_in_parallel_threads() {
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| NatsServer::start().map(|server| server.port())))
        .collect();
    let mut ports: Vec<u16> = handles
        .into_iter()
        .map(|handle| handle.join().expect("thread").expect("server"))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4);
}

#[test]
fn restart_keeps_the_port_and_the_store() {
    let mut server = NatsServer::start().expect("server");
    let port = server.port();
    let store = server.store_dir().to_path_buf();
    let first_pid = server.pid().expect("running");
    let marker = store.join("jetstream").join("survives-restart");
    std::fs::write(&marker, b"x").expect("marker");

    server.restart().expect("restart");

    assert_eq!(server.port(), port);
    assert_eq!(server.store_dir(), store);
    assert_ne!(server.pid(), Some(first_pid));
    assert!(gone(first_pid), "the first process was killed");
    assert!(marker.exists(), "the store dir was kept");
    assert_eq!(info(port)["jetstream"], serde_json::Value::Bool(true));
}

#[test]
fn stop_then_restart_and_kill() {
    let mut server = NatsServer::builder()
        .monitoring(true)
        .start()
        .expect("server");
    let monitor_port = server.monitor_port().expect("monitoring enabled");
    assert_ne!(monitor_port, server.port());
    let pid = server.pid().expect("running");

    server.stop().expect("graceful stop");
    assert!(!server.is_running());
    assert!(gone(pid));
    assert!(TcpStream::connect(("127.0.0.1", server.port())).is_err());
    server.stop().expect("stopping twice is fine");

    server.restart().expect("restart after stop");
    assert_eq!(server.monitor_port(), Some(monitor_port));
    assert!(server.is_running());
    let pid = server.pid().expect("running");
    server.kill().expect("kill");
    assert!(gone(pid));
}

#[test]
fn drop_kills_the_process() {
    let server = NatsServer::start().expect("server");
    let pid = server.pid().expect("running");
    let port = server.port();
    let work_log = server.log_path();
    assert!(process_exists(pid));
    drop(server);
    assert!(gone(pid), "pid {pid} still exists after drop");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!work_log.exists(), "the temporary directory is removed");
}

#[test]
fn explicit_store_dir_and_port_are_used() {
    let data = tempfile::tempdir().expect("tempdir");
    let first = NatsServer::builder()
        .store_dir(data.path().join("nats"))
        .start()
        .expect("server");
    let port = first.port();
    drop(first);
    // Re-use the port just freed: this is how the demo pins its port across runs.
    let second = NatsServer::builder()
        .store_dir(data.path().join("nats"))
        .port(port)
        .start()
        .expect("server on explicit port");
    assert_eq!(second.port(), port);
    assert_eq!(second.store_dir(), data.path().join("nats"));
    assert!(data.path().join("nats").join("jetstream").is_dir());
}

#[test]
fn config_text_is_applied() {
    let server = NatsServer::builder()
        .config_text("server_name: switchboard_test\nmax_payload: 65536\n")
        .start()
        .expect("server");
    let info = info(server.port());
    assert_eq!(
        info["server_name"].as_str(),
        Some("switchboard_test"),
        "{info}"
    );
    assert_eq!(info["max_payload"].as_u64(), Some(65536), "{info}");
}

#[test]
fn a_bad_config_is_an_error_with_the_log() {
    let error = NatsServer::builder()
        .config_text("this is { not valid")
        .start()
        .expect_err("bad config must fail");
    assert!(
        matches!(error, NatsdError::ExitedEarly { .. }),
        "unexpected error: {error}"
    );
}

#[test]
fn monitoring_endpoints_are_read_as_json_and_count_messages() {
    let server = NatsServer::builder()
        .monitoring(true)
        .start()
        .expect("server");
    let varz = server.monitor_json("/varz").expect("varz");
    assert_eq!(varz["server_id"], info(server.port())["server_id"]);
    let before = varz["in_msgs"].as_u64().expect("in_msgs");

    // Three messages published over a plain connection; PONG means the server has them.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    std::io::Write::write_all(
        &mut stream,
        b"CONNECT {\"verbose\":false}\r\nPUB a.b 2\r\nhi\r\nPUB a.b 2\r\nhi\r\nPUB a.b 2\r\nhi\r\nPING\r\n",
    )
    .expect("publish");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !line.starts_with("PONG") {
        line.clear();
        assert!(reader.read_line(&mut line).expect("read") > 0, "closed");
    }
    let after = server.monitor_json("/varz").expect("varz")["in_msgs"]
        .as_u64()
        .expect("in_msgs");
    assert_eq!(after - before, 3);
    // A larger document (JetStream's) comes through too.
    assert!(server.monitor_json("/jsz").expect("jsz").is_object());

    let quiet = NatsServer::start().expect("server");
    assert!(matches!(
        quiet.monitor_json("/varz"),
        Err(NatsdError::Monitor { .. })
    ));
}

/// The process group of `pid`: the fifth field of `/proc/<pid>/stat` (after the command name in
/// parentheses, which may itself hold spaces).
fn process_group_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name = &stat[stat.rfind(')').expect("a command name") + 1..];
    after_name
        .split_whitespace()
        .nth(2)
        .and_then(|field| field.parse().ok())
        .unwrap_or_else(|| panic!("no process group in {stat:?}"))
}

#[test]
fn a_server_in_its_own_process_group_does_not_share_the_terminals_signals() {
    let ours = process_group_of(std::process::id());
    let shared = NatsServer::start().expect("start");
    let shared_pid = shared.pid().expect("running");
    assert_eq!(
        process_group_of(shared_pid),
        ours,
        "by default, the caller's group"
    );

    let mut own = NatsServer::builder()
        .own_process_group(true)
        .start()
        .expect("start");
    let pid = own.pid().expect("running");
    assert_eq!(
        process_group_of(pid),
        pid,
        "a group of its own, led by itself"
    );
    own.stop().expect("a graceful stop still reaches it");
    assert!(gone(pid));
}

/// Sends a WebSocket upgrade request to `url` (`ws://127.0.0.1:PORT`) and returns the status
/// line of the answer.
fn websocket_handshake(url: &str) -> String {
    use std::io::Write;
    let address = url.strip_prefix("ws://").expect("a ws:// URL");
    let mut stream = TcpStream::connect(address).expect("connect to the WebSocket port");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .expect("send the upgrade");
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("read the status line");
    line
}

#[test]
fn a_websocket_listener_opens_on_a_random_port_and_keeps_it_across_a_restart() {
    let plain = NatsServer::start().expect("start");
    assert_eq!(plain.websocket_url(), None, "no listener unless asked");

    let mut server = NatsServer::builder()
        .websocket(true)
        .config_text("max_payload: 65536\n")
        .start()
        .expect("start with WebSocket");
    let url = server.websocket_url().expect("a WebSocket URL");
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    assert_ne!(url, format!("ws://127.0.0.1:{}", server.port()));
    let answer = websocket_handshake(&url);
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    // The caller's configuration still applies beside the WebSocket block.
    assert_eq!(info(server.port())["max_payload"], 65536);

    server.restart().expect("restart");
    assert_eq!(server.websocket_url().as_deref(), Some(url.as_str()));
    let answer = websocket_handshake(&url);
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
}

/// Whether `strace` runs here; when it does not, a test that needs it is passed over (said on
/// stderr) unless `SWITCHBOARD_REQUIRE_STRACE` is set, as CI sets it (`.ci/run` installs it).
fn strace_available() -> bool {
    let found = std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found || std::env::var_os("SWITCHBOARD_REQUIRE_STRACE").is_none(),
        "strace is required (SWITCHBOARD_REQUIRE_STRACE) but does not run"
    );
    found
}

/// Sends one raw NATS protocol exchange to `port`: makes the stream `T` on subject `t` and
/// publishes `count` messages to it, each acknowledged by JetStream before the next.
fn publish_to_a_stream(port: u16, count: usize) {
    use std::io::Write;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("INFO");
    let mut reply = || loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a line from the server");
        if let Some(size) = line.strip_prefix("MSG ").and_then(|rest| {
            rest.split_whitespace()
                .last()
                .and_then(|size| size.parse::<usize>().ok())
        }) {
            let mut body = vec![0; size + 2];
            reader.read_exact(&mut body).expect("a message's body");
            return String::from_utf8_lossy(&body).into_owned();
        }
        assert!(!line.starts_with("-ERR"), "{line}");
    };
    let config = r#"{"name":"T","subjects":["t"],"storage":"file","num_replicas":1}"#;
    write!(
        stream,
        "CONNECT {{\"verbose\":false}}\r\nSUB reply.* 1\r\n\
         PUB $JS.API.STREAM.CREATE.T reply.0 {}\r\n{config}\r\n",
        config.len()
    )
    .expect("create the stream");
    let made = reply();
    assert!(!made.contains("\"error\""), "{made}");
    for n in 1..=count {
        write!(stream, "PUB t reply.{n} 5\r\nhello\r\n").expect("publish");
        let ack = reply();
        assert!(ack.contains("\"seq\""), "{ack}");
    }
}

/// The number of `syscall` calls in an `strace -c` summary.
fn calls_in_summary(summary: &str, syscall: &str) -> u64 {
    summary
        .lines()
        .find(|line| line.split_whitespace().last() == Some(syscall))
        .and_then(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(3)?.parse().ok()
        })
        .unwrap_or(0)
}

#[test]
fn a_restart_under_a_wrapper_runs_the_server_under_it_and_signals_reach_the_server() {
    if !strace_available() {
        eprintln!("strace not found: the wrapper test is passed over");
        return;
    }
    let mut server = NatsServer::builder()
        .config_text("jetstream { sync_interval: always }\n")
        .start()
        .expect("server");
    let port = server.port();
    let summary = tempfile::NamedTempFile::new().expect("a summary file");
    // Every fsync counted and delayed by 1 ms (what the Jepsen test's slow disk does, longer).
    let wrapper = slow_disk_wrapper(Duration::from_millis(1), summary.path());
    server
        .restart_wrapped(&wrapper)
        .expect("restart under strace");
    assert_eq!(server.port(), port);
    let pid = server.pid().expect("running");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's stat");
    assert!(stat.contains("(nats-server)"), "{stat}");
    let parent: u32 = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
        .expect("the parent's pid");
    let parent_comm = std::fs::read_to_string(format!("/proc/{parent}/comm")).expect("comm");
    assert_eq!(
        parent_comm.trim(),
        "strace",
        "the server runs under the wrapper"
    );

    publish_to_a_stream(port, 20);
    server.stop().expect("a graceful stop reaches the server");
    assert!(
        gone(pid) && gone(parent),
        "the server and its wrapper are gone"
    );
    let counted = std::fs::read_to_string(summary.path()).expect("strace's summary");
    assert!(
        calls_in_summary(&counted, "fsync") + calls_in_summary(&counted, "fdatasync") >= 20,
        "every stored message was synced through the wrapper: {counted}"
    );

    // Under the wrapper again, a kill reaches the server; a plain restart runs it plain.
    server
        .restart_wrapped(&wrapper)
        .expect("restart under strace");
    let pid = server.pid().expect("running");
    server.restart().expect("a plain restart");
    assert!(gone(pid), "the wrapped server was killed");
    let pid = server.pid().expect("running");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's stat");
    assert!(stat.contains("(nats-server)"), "{stat}");
    assert_eq!(info(port)["jetstream"], serde_json::Value::Bool(true));
}
