//! `switchboard privacy report` on the built-in scenario's log: a customer's retention runs
//! from the end of their last contact by the period of its service, contacts without a
//! customer reference are subjects of their own, `--at` moves the clock, and a configuration
//! without `[retention]` is refused with a sentence that says what to add.

mod common;

use common::{json, switchboard, text};

/// The scenario's log and a configuration with `[retention]`, in a temporary directory.
fn scenario_and_config(retention: &str) -> (tempfile::TempDir, String, String) {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("log");
    let dir = dir.to_str().expect("utf-8 path").to_owned();
    let output = switchboard(&["scenario", "--data-dir", &dir]);
    assert!(output.status.success(), "{}", text(&output));
    let config = temp.path().join("switchboard.toml");
    std::fs::write(&config, retention).expect("config");
    let config = config.to_str().expect("utf-8 path").to_owned();
    (temp, dir, config)
}

/// The report's JSON at `at`.
fn report_at(dir: &str, config: &str, at: &str) -> serde_json::Value {
    let output = switchboard(&[
        "privacy",
        "report",
        "--data-dir",
        dir,
        "--config",
        config,
        "--at",
        at,
        "--limit",
        "100",
        "--json",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    json(&output)
}

#[test]
fn the_report_counts_each_customers_period_from_their_last_contact() {
    let (_temp, dir, config) =
        scenario_and_config("[retention]\ndefault = \"2y\"\nbenefits = \"6y\"\n");
    let checked = switchboard(&["config", "check", &config]);
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(
        text(&checked).contains("Retention: 2y by default, 1 service(s) of their own."),
        "{}",
        text(&checked)
    );

    // 2030: the scenario's morning (23 November 2026) is past two years, not six.
    let report = report_at(&dir, &config, "2030-01-01T00:00:00Z");
    let rows = report["next"].as_array().expect("rows");
    let customer = rows
        .iter()
        .find(|r| r["customer_id"] == "cust-1042")
        .unwrap_or_else(|| panic!("cust-1042 is listed: {report:#}"));
    let expires = customer["expires_at"].as_str().expect("a time");
    assert!(
        expires.starts_with("2032-11-23T"),
        "benefits keeps six years: {expires}"
    );
    assert_eq!(customer["due"], false);
    let due: Vec<_> = rows.iter().filter(|r| r["due"] == true).collect();
    assert_eq!(
        report["due_now"].as_u64(),
        Some(due.len() as u64),
        "{report:#}"
    );
    assert!(
        !due.is_empty(),
        "two-year contacts are due in 2030: {report:#}"
    );
    for row in &due {
        assert!(
            row["contact_id"].is_string(),
            "only contacts without a reference: {row}"
        );
        assert!(
            row["expires_at"]
                .as_str()
                .is_some_and(|e| e.starts_with("2028-11-23T")),
            "{row}"
        );
    }

    // 2033: the benefits customer is due too.
    let later = report_at(&dir, &config, "2033-01-01T00:00:00Z");
    let customer = later["next"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["customer_id"] == "cust-1042")
        .cloned()
        .expect("listed");
    assert_eq!(customer["due"], true, "{later:#}");
    assert!(later["due_now"].as_u64() > report["due_now"].as_u64());

    let human = switchboard(&[
        "privacy",
        "report",
        "--data-dir",
        &dir,
        "--config",
        &config,
        "--at",
        "2033-01-01T00:00:00Z",
    ]);
    assert!(human.status.success(), "{}", text(&human));
    assert!(text(&human).contains("DUE 2032-11-23T"), "{}", text(&human));
}

#[test]
fn a_configuration_without_retention_is_refused() {
    let (_temp, dir, config) = scenario_and_config("");
    let refused = switchboard(&["privacy", "report", "--data-dir", &dir, "--config", &config]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("has no [retention] section"),
        "{}",
        text(&refused)
    );
}
