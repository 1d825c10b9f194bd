//! Running the `switchboard` binary from the tests and reading what it printed.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the helpers"
)]

use std::process::{Command, Output};

/// Runs the binary with `args` and waits for it.
pub(crate) fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .expect("the switchboard binary runs")
}

/// Everything it printed, stdout then stderr.
pub(crate) fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Its stdout as JSON (whatever its exit status).
pub(crate) fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(output)))
}

/// The ids of every contact the log records as created, read as it is now.
pub(crate) fn created_in_log(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut created = std::collections::BTreeSet::new();
    let reader = switchboard_log::LogReader::open(dir).expect("reader");
    for record in reader.read_from(1).expect("records") {
        // The engine may be writing the tail: a partial last record ends this read.
        let Ok(record) = record else { break };
        let event = switchboard_wire::decode_event(&record.payload).expect("event");
        if let switchboard_core::EventKind::ContactCreated(c) = &event.kind {
            created.insert(c.details.id.to_string());
        }
    }
    created
}
