//! `switchboard simulate` end to end: JSON figures with the documented keys, an HTML report
//! with charts, the same seed writing the same event log byte for byte (which `audit verify`
//! and `replay` accept), and a what-if re-run of a recorded log.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{switchboard, text};

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

/// Its stdout as JSON, after checking it succeeded.
fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", text(output));
    common::json(output)
}

fn check_figures(figures: &serde_json::Value) {
    for key in [
        "offered",
        "answered",
        "abandoned",
        "service_level",
        "asa_seconds",
        "aht_seconds",
        "occupancy",
        "abandon_rate",
    ] {
        assert!(figures[key].is_number(), "{key} missing in {figures}");
    }
    let offered = figures["offered"].as_u64().expect("offered");
    let answered = figures["answered"].as_u64().expect("answered");
    let abandoned = figures["abandoned"].as_u64().expect("abandoned");
    assert!(answered + abandoned <= offered, "{figures}");
    for share in ["service_level", "occupancy", "abandon_rate"] {
        let v = figures[share].as_f64().expect("a number");
        assert!((0.0..=1.0).contains(&v), "{share} = {v}");
    }
}

#[test]
fn simulate_json_has_the_figures_in_total_and_per_queue() {
    let value = json(&switchboard(&[
        "simulate",
        "--scenario",
        &scenario("council.toml"),
        "--seed",
        "3",
        "--json",
    ]));
    check_figures(&value["total"]);
    assert!(
        value["total"]["offered"].as_u64().expect("offered") > 1000,
        "{value}"
    );
    let queues = value["queues"].as_array().expect("queues");
    assert!(queues.len() >= 8, "{value}");
    for queue in queues {
        check_figures(queue);
        assert!(queue["service"].is_string() && queue["channel"].is_string());
    }
    let sum: u64 = queues.iter().filter_map(|q| q["offered"].as_u64()).sum();
    assert_eq!(Some(sum), value["total"]["offered"].as_u64());
}

#[test]
fn simulate_writes_an_html_report_with_charts() {
    let temp = tempfile::tempdir().expect("temp dir");
    let report = temp.path().join("day.html");
    let output = switchboard(&[
        "simulate",
        "--scenario",
        &scenario("council.toml"),
        "--report",
        report.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let html = std::fs::read_to_string(&report).expect("the report");
    assert!(
        html.contains("<svg") && html.contains("<polyline"),
        "no chart"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "external assets"
    );
}

fn segments(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            (PathBuf::from(p.file_name().expect("name")), bytes)
        })
        .collect()
}

#[test]
fn the_same_seed_writes_the_same_log_byte_for_byte_and_it_audits_and_replays() {
    let temp = tempfile::tempdir().expect("temp dir");
    let (a, b, c) = (
        temp.path().join("a"),
        temp.path().join("b"),
        temp.path().join("c"),
    );
    for (dir, seed) in [(&a, "11"), (&b, "11"), (&c, "12")] {
        let output = switchboard(&[
            "simulate",
            "--scenario",
            &scenario("council.toml"),
            "--seed",
            seed,
            "--data-dir",
            dir.to_str().expect("utf-8"),
            "--json",
        ]);
        assert!(output.status.success(), "{}", text(&output));
    }
    let (sa, sb, sc) = (segments(&a), segments(&b), segments(&c));
    assert!(!sa.is_empty());
    assert!(sa == sb, "seed 11 wrote two different logs");
    assert!(sa != sc, "seeds 11 and 12 wrote the same log");

    let d = a.to_str().expect("utf-8");
    let verified = json(&switchboard(&[
        "audit",
        "verify",
        "--data-dir",
        d,
        "--json",
    ]));
    assert_eq!(verified["ok"], true);
    let replayed = json(&switchboard(&["replay", "--data-dir", d, "--json"]));
    assert_eq!(replayed["events"], verified["records"]);

    let again = switchboard(&[
        "simulate",
        "--scenario",
        &scenario("council.toml"),
        "--data-dir",
        d,
    ]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("already holds an event log"));

    // What-if: the recorded day under most-skilled routing, side by side.
    let config = temp.path().join("most-skilled.toml");
    std::fs::write(&config, "[routing]\nstrategy = \"most_skilled\"\n").expect("write");
    let what_if = json(&switchboard(&[
        "simulate",
        "--replay-log",
        d,
        "--config",
        config.to_str().expect("utf-8"),
        "--json",
    ]));
    check_figures(&what_if["recorded"]["total"]);
    check_figures(&what_if["what_if"]["total"]);
    assert_eq!(
        what_if["recorded"]["total"]["offered"], what_if["what_if"]["total"]["offered"],
        "the same contacts arrive in both"
    );
}

#[test]
fn a_bad_scenario_is_refused_with_its_field() {
    let temp = tempfile::tempdir().expect("temp dir");
    let path = temp.path().join("bad.toml");
    std::fs::write(
        &path,
        "name = \"x\"\n[[agents]]\nname = \"a\"\ncount = 1\ntier = 9\nskills = {}\n",
    )
    .expect("write");
    let output = switchboard(&["simulate", "--scenario", path.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("tier must be 1 to 5"),
        "{}",
        text(&output)
    );
}
