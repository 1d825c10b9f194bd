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
    let report = loadgen(
        scratch.path(),
        &["--nats-url", &url, "--spawn-engine", "--duration", "2"],
    );

    assert_eq!(report["sent"], 400, "{report}");
    assert_eq!(report["offers"], report["sent"], "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["creates_refused"], 0, "{report}");
    assert_eq!(report["agent_commands_refused"], 0, "{report}");
    for relay in ["relay", "durable_relay"] {
        assert_eq!(report[format!("{relay}_sent")], 400, "{report}");
        assert_eq!(report[format!("{relay}_lost")], 0, "{report}");
    }
    assert_positive(
        &report,
        &[
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
        ],
    );
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

/// The protocol relay does the engine's NATS work: run against a nats-server the load generator
/// starts itself (so it reads its `/varz`), the two phases' messages per contact, in and out of
/// nats-server, are the same within a tenth (a count, not a time: the last contacts' later
/// commands and events may fall either side of a phase's end).
#[test]
fn the_protocol_relay_sends_as_many_messages_per_contact_as_the_engine() {
    let scratch = tempfile::tempdir().expect("temp dir");
    // No --nats-url: the load generator starts the nats-server, and reads its `/varz`.
    let report = loadgen(scratch.path(), &["--duration", "3"]);

    assert_eq!(report["protocol_relay_sent"], 600, "{report}");
    assert_eq!(report["protocol_relay_lost"], 0, "{report}");
    assert_eq!(report["protocol_relay_creates_ok"], 600, "{report}");
    assert_eq!(report["protocol_agent_commands_refused"], 0, "{report}");
    assert_eq!(report["protocol_relay_events_failed"], 0, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_positive(
        &report,
        &[
            "protocol_relay_p50_us",
            "protocol_relay_p99_us",
            "protocol_relay_p999_us",
            "ratio_protocol_p50",
            "ratio_protocol_p99",
            "protocol_relay_cpu_us_per_contact",
            "nats_cpu_us_per_contact",
            "protocol_nats_cpu_us_per_contact",
        ],
    );
    // A contact is four commands and their replies, an offer, notices and events: well over
    // ten messages into nats-server, whichever side answers them.
    assert_same_messages(&report, "nats_msgs");
}

/// `--cluster`: a three-node nats-server cluster, the engine in cluster mode (its log in an R3
/// stream) and the protocol relay appending to an R3 stream of its own, each turn one fenced
/// atomic batch. Every contact is offered on both sides, the relay's log records are all
/// acknowledged, and the two sides' messages per contact to and from the clients (summed over the
/// three servers' `/connz`) are the same within a tenth, as for a single server. Counts, never
/// times. (`/varz`'s totals, also reported, add the replication among the servers, whose
/// messages depend on how each stream's raft batches its proposals: they differed by up to a
/// seventh between the two sides in runs on a loaded machine.)
#[test]
fn the_cluster_mode_offers_every_contact_and_the_relay_does_the_engines_nats_work() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let report = loadgen(
        scratch.path(),
        &["--cluster", "--rate", "100", "--duration", "3"],
    );

    assert_eq!(report["cluster"], true, "{report}");
    assert_eq!(report["nats_servers"], 3, "{report}");
    assert_eq!(report["log_backend"], "jetstream", "{report}");
    for side in ["", "protocol_relay_"] {
        assert_eq!(report[format!("{side}lost")], 0, "{side}: {report}");
    }
    assert_eq!(report["sent"], 300, "{report}");
    assert_eq!(report["offers"], report["sent"], "{report}");
    assert_eq!(report["creates_refused"], 0, "{report}");
    assert_eq!(report["agent_commands_refused"], 0, "{report}");
    assert_eq!(report["protocol_relay_sent"], 300, "{report}");
    assert_eq!(report["protocol_relay_creates_ok"], 300, "{report}");
    assert_eq!(report["protocol_agent_commands_refused"], 0, "{report}");
    assert_eq!(report["protocol_relay_events_failed"], 0, "{report}");
    // The engine appended its records to its log stream (read off the wire), and so did the
    // relay, one per event, each acknowledged.
    let shape = &report["protocol_shape"];
    assert!(
        shape["log_records_per_contact"]
            .as_f64()
            .is_some_and(|n| n >= 1.0),
        "{report}"
    );
    assert!(
        shape["log_record_bytes"].as_u64().is_some_and(|b| b > 0),
        "{report}"
    );
    let events_per_contact: usize = ["create", "accept", "complete", "ready"]
        .iter()
        .map(|verb| {
            shape["answers"][verb]["events"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    let logged = report["protocol_relay_log_records"]
        .as_u64()
        .expect("logged");
    assert!(logged >= 300 * events_per_contact as u64, "{report}");
    // Each of the relay's streams leads where the engine's counterpart does.
    let leaders = report["stream_leaders"].as_object().expect("leaders");
    assert_eq!(leaders.len(), 4, "{report}");
    assert_positive(
        &report,
        &[
            "p50_us",
            "p99_us",
            "protocol_relay_p50_us",
            "protocol_relay_p99_us",
            "ratio_protocol_p50",
            "engine_cpu_us_per_contact",
            "protocol_relay_cpu_us_per_contact",
            "nats_cpu_us_per_contact",
        ],
    );
    assert_positive(
        &report,
        &[
            "nats_msgs_in_per_contact",
            "protocol_nats_msgs_in_per_contact",
        ],
    );
    assert_same_messages(&report, "nats_client_msgs");
}

/// The engine's and the protocol relay's phases put the same messages per contact through
/// nats-server (`counted`: `nats_msgs` from `/varz`, `nats_client_msgs` from `/connz`), in and
/// out, within a tenth (a count, not a time: the last contacts' later commands and events may
/// fall either side of a phase's end).
fn assert_same_messages(report: &serde_json::Value, counted: &str) {
    for way in ["in", "out"] {
        let engine = report[format!("{counted}_{way}_per_contact")]
            .as_f64()
            .expect("the engine's count");
        let relay = report[format!("protocol_{counted}_{way}_per_contact")]
            .as_f64()
            .expect("the relay's count");
        assert!(engine > 8.0, "{way}: {report}");
        assert!(
            (relay - engine).abs() <= engine / 10.0,
            "{way}: the engine {engine:.2}, the protocol relay {relay:.2} per contact: {}",
            report["protocol_shape"]
        );
    }
}

/// Each of the report's figures `keys` is a number above zero.
fn assert_positive(report: &serde_json::Value, keys: &[&str]) {
    for key in keys {
        assert!(
            report[key].as_f64().is_some_and(|v| v > 0.0),
            "{key}: {report}"
        );
    }
}

/// A `switchboard loadgen --json` run at 200 contacts/s (unless `extra` has a `--rate`) with 20
/// agents, its scratch directory in
/// `scratch`, with `extra` arguments; its report, once it has succeeded.
fn loadgen(scratch: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["loadgen"];
    if !extra.contains(&"--rate") {
        args.extend_from_slice(&["--rate", "200"]);
    }
    args.extend_from_slice(&[
        "--agents",
        "20",
        "--warmup",
        "0.25",
        "--data-dir",
        scratch.to_str().expect("utf-8 path"),
        "--json",
    ]);
    args.extend_from_slice(extra);
    let output = switchboard(&args);
    assert!(output.status.success(), "{}", text(&output));
    json(&output)
}
