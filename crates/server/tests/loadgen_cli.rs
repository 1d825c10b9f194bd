//! `switchboard loadgen` end to end: a short, low-rate run against an engine it starts itself on
//! a real nats-server (random port, its own JetStream directory). It checks what the run
//! reports, never how fast it was: every contact sent got an offer, none was lost, and the
//! figures scripts read are all there.

mod common;

use common::{json, switchboard, text};
use switchboard_natsd::NatsServer;

#[test]
fn a_short_load_run_offers_every_contact_and_reports_every_figure() {
    let server = NatsServer::start().expect("nats-server starts");
    let scratch = tempfile::tempdir().expect("temp dir");
    let url = server.client_url();
    let output = switchboard(&[
        "loadgen",
        "--nats-url",
        &url,
        "--spawn-engine",
        "--rate",
        "200",
        "--duration",
        "2",
        "--agents",
        "20",
        "--warmup",
        "0.25",
        "--data-dir",
        scratch.path().to_str().expect("utf-8 path"),
        "--json",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let report = json(&output);

    assert_eq!(report["sent"], 400, "{report}");
    assert_eq!(report["offers"], report["sent"], "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["creates_refused"], 0, "{report}");
    assert_eq!(report["agent_commands_refused"], 0, "{report}");
    for relay in ["relay", "durable_relay"] {
        assert_eq!(report[format!("{relay}_sent")], 400, "{report}");
        assert_eq!(report[format!("{relay}_lost")], 0, "{report}");
    }
    for key in [
        "achieved_rate",
        "p50_us",
        "p99_us",
        "p999_us",
        "max_us",
        "relay_p50_us",
        "relay_p99_us",
        "durable_relay_p50_us",
        "durable_relay_p99_us",
        "ratio_p50",
        "ratio_p99",
        // The engine (started here) and the load generator used CPU in the engine phase.
        "engine_cpu_us_per_contact",
        "loadgen_cpu_us_per_contact",
    ] {
        assert!(
            report[key].as_f64().is_some_and(|v| v > 0.0),
            "{key}: {report}"
        );
    }
    for key in ["engine_rss_before_bytes", "engine_rss_after_bytes"] {
        assert!(
            report[key].as_u64().is_some_and(|b| b > 0),
            "{key}: {report}"
        );
    }
    assert!(report["fdatasync"]["p99_us"].as_f64().is_some(), "{report}");
    // The nats-server was given (the harness's), so its CPU is not the load generator's to read.
    assert!(report["nats_cpu_us_per_contact"].is_null(), "{report}");
    // Nor its message counters (read from the monitoring endpoint of a nats-server started here).
    assert!(report["nats_msgs_in_per_contact"].is_null(), "{report}");
    assert!(report["nats_msgs_out_per_contact"].is_null(), "{report}");
    assert!(
        report["offer_bytes"].as_u64().is_some_and(|b| b > 100),
        "{report}"
    );
    // The scratch directory (the engine's log, the relay's file) is removed at the end.
    assert_eq!(
        std::fs::read_dir(scratch.path()).expect("list").count(),
        0,
        "{report}"
    );
}
