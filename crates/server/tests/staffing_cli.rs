//! `switchboard staffing` end to end: its JSON is exactly what `plan_staffing` answers, its
//! human output shows the answer, and bad input exits 2 with a message naming the problem.

mod common;

use std::process::Output;

use common::switchboard;

use switchboard_sim::staffing::{StaffingQuery, plan_staffing};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn staffing_json_is_exactly_what_plan_staffing_answers() {
    let output = switchboard(&[
        "staffing",
        "--arrivals-per-interval",
        "360",
        "--interval-secs",
        "1800",
        "--aht-secs",
        "240",
        "--target-sl",
        "0.8",
        "--target-secs",
        "20",
        "--shrinkage",
        "0.3",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let expected = plan_staffing(&StaffingQuery {
        arrivals_per_interval: 360.0,
        interval_secs: 1800.0,
        aht_secs: 240.0,
        target_sl: 0.8,
        target_secs: 20.0,
        patience_secs: None,
        shrinkage: 0.3,
        max_asa_secs: None,
        max_occupancy: None,
    })
    .expect("a valid query");
    // Both sides through the same JSON text and parser, so that floats compare exactly.
    let expected: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&expected).expect("serialises")).expect("JSON");
    assert_eq!(printed, expected);
    assert_eq!(printed["agents"], 54);
    assert_eq!(printed["rostered_agents"], 78);
}

#[test]
fn staffing_with_patience_uses_erlang_a_and_prints_a_table() {
    let json = switchboard(&[
        "staffing",
        "--arrivals-per-interval",
        "100",
        "--interval-secs",
        "3600",
        "--aht-secs",
        "300",
        "--patience-secs",
        "120",
        "--json",
    ]);
    assert!(json.status.success(), "{}", stderr(&json));
    let printed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert!(
        printed["probability_abandon"].as_f64().is_some(),
        "{printed}"
    );

    let human = switchboard(&[
        "staffing",
        "--arrivals-per-interval",
        "100",
        "--interval-secs",
        "3600",
        "--aht-secs",
        "300",
    ]);
    assert!(human.status.success(), "{}", stderr(&human));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("Erlangs") && text.contains("Agents needed"),
        "{text}"
    );
}

#[test]
fn staffing_with_bad_input_exits_2_with_a_message() {
    for (args, expected) in [
        (
            &["--arrivals-per-interval", "100", "--aht-secs", "0"][..],
            "aht_secs must be greater than zero",
        ),
        (
            &[
                "--arrivals-per-interval",
                "100",
                "--aht-secs",
                "200",
                "--target-sl",
                "80",
            ][..],
            "target service level",
        ),
        (
            &["--arrivals-per-interval", "-5", "--aht-secs", "200"][..],
            "arrivals_per_interval must not be negative",
        ),
        (
            &[
                "--arrivals-per-interval",
                "100",
                "--aht-secs",
                "200",
                "--shrinkage",
                "1",
            ][..],
            "shrinkage",
        ),
        (
            &["--arrivals-per-interval", "many", "--aht-secs", "200"][..],
            "invalid value",
        ),
    ] {
        let mut all = vec!["staffing"];
        all.extend_from_slice(args);
        let output = switchboard(&all);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: expected {expected:?} in {}",
            stderr(&output)
        );
    }
}
