//! `switchboard simulate` end to end: JSON figures with the documented keys, every shipped
//! scenario answering on every queue with nothing refused, the text's open contacts and
//! occupancy per site, an HTML report a manager can read, the same seed writing the same event
//! log byte for byte (which `audit verify` and `replay` accept), and a what-if re-run of a
//! recorded log.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{scenario, switchboard, text};

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
        "open_at_end",
        "service_level",
        "asa_seconds",
        "aht_seconds",
        "agent_hours",
        "abandon_rate",
    ] {
        assert!(figures[key].is_number(), "{key} missing in {figures}");
    }
    let offered = figures["offered"].as_u64().expect("offered");
    let answered = figures["answered"].as_u64().expect("answered");
    let abandoned = figures["abandoned"].as_u64().expect("abandoned");
    let open = figures["open_at_end"].as_u64().expect("open_at_end");
    assert!(answered + abandoned <= offered, "{figures}");
    assert!(open <= offered - abandoned, "{figures}");
    for share in ["service_level", "abandon_rate"] {
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
    let occupancy = value["total"]["occupancy"].as_f64().expect("occupancy");
    assert!((0.0..=1.0).contains(&occupancy), "{value}");
    let queues = value["queues"].as_array().expect("queues");
    assert!(queues.len() >= 8, "{value}");
    for queue in queues {
        check_figures(queue);
        assert!(queue["service"].is_string() && queue["channel"].is_string());
        // Per queue there is no staffed time to divide by: occupancy is per site.
        assert!(queue.get("occupancy").is_none(), "{queue}");
        assert!(queue["service_level_target"].is_number(), "{queue}");
    }
    let sum: u64 = queues.iter().filter_map(|q| q["offered"].as_u64()).sum();
    assert_eq!(Some(sum), value["total"]["offered"].as_u64());
    let sites = value["sites"].as_array().expect("sites");
    let names: Vec<&str> = sites.iter().filter_map(|s| s["site"].as_str()).collect();
    assert_eq!(
        names,
        ["contact_centre", "northgate", "riverside", "town_hall"]
    );
    for site in sites {
        let occupancy = site["occupancy"].as_f64().expect("occupancy");
        assert!(occupancy > 0.0 && occupancy <= 1.0, "{site}");
        assert!(site["agents"].as_u64() > Some(0), "{site}");
    }
}

/// A shipped scenario shortened to its first day, so that the month runs fast in a debug build.
fn first_day_of(path: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(path).expect("read the scenario");
    let mut table: toml::Table = text.parse().expect("a scenario is TOML");
    table.insert("days".to_owned(), toml::Value::Integer(1));
    let short = dir.join(path.file_name().expect("a file name"));
    std::fs::write(&short, toml::to_string(&table).expect("TOML")).expect("write");
    short
}

/// Every scenario in scenarios/ (issue 14: the flagship answered no complaint, and its desktops
/// answered offers already withdrawn): every queue it is offered contacts on answers some, and
/// some within the service level, and the core refuses nothing, since the simulated desktops
/// answer only open offers and finish only contacts in hand.
#[test]
fn every_shipped_scenario_answers_on_every_queue_and_nothing_is_refused() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 3, "{paths:?}");
    for path in paths {
        let short = first_day_of(&path, temp.path());
        let value = json(&switchboard(&[
            "simulate",
            "--scenario",
            short.to_str().expect("utf-8"),
            "--json",
        ]));
        let name = path.display();
        assert_eq!(value["refused"], serde_json::json!({}), "{name}: {value}");
        let queues = value["queues"].as_array().expect("queues");
        assert!(!queues.is_empty(), "{name}");
        for queue in queues {
            let (service, channel) = (&queue["service"], &queue["channel"]);
            if queue["offered"].as_u64() == Some(0) {
                continue;
            }
            assert!(
                queue["answered"].as_u64() > Some(0),
                "{name}: {service} on {channel} answered nothing: {queue}"
            );
            assert!(
                queue["answered_within_service_level"].as_u64() > Some(0),
                "{name}: {service} on {channel} answered nothing within its service level: {queue}"
            );
        }
    }
}

#[test]
fn the_text_says_what_is_still_open_and_how_busy_each_site_was() {
    let output = switchboard(&["simulate", "--scenario", &scenario("council.toml")]);
    assert!(output.status.success(), "{}", text(&output));
    let out = String::from_utf8_lossy(&output.stdout);
    let value = json(&switchboard(&[
        "simulate",
        "--scenario",
        &scenario("council.toml"),
        "--json",
    ]));
    let open = value["total"]["open_at_end"].as_u64().expect("open");
    let offered = value["total"]["offered"].as_u64().expect("offered");
    assert!(
        out.contains(&format!(
            "Open at the end: {open} of the {offered} contacts offered were still waiting or in hand ("
        )),
        "{out}"
    );
    assert!(out.contains(" open "), "no open column: {out}");
    assert!(out.contains("overall."), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("town_hall") && l.ends_with('%')),
        "no occupancy per site: {out}"
    );
    // Email waits read in hours and minutes.
    assert!(
        out.lines()
            .any(|l| l.contains("email") && l.contains(" h ") && l.contains(" min")),
        "{out}"
    );
    assert!(!out.contains("refused"), "{out}");
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
    // What a manager reads first: the seed, what is still open, the SL target line, waiting
    // contacts per queue rather than one total, waits in hours and minutes, labelled axes, and
    // charts that scale to the page's width.
    assert!(html.contains("seed 1 "), "no seed");
    assert!(html.contains("open at the end"), "no open contacts");
    assert!(html.contains("target 80%"), "no target line");
    assert!(html.contains("stroke-dasharray"), "no target line");
    for queue in ["council_tax &middot; phone", "complaints &middot; email"] {
        assert!(html.contains(queue), "no waiting panel for {queue}");
    }
    assert!(
        html.contains(" h ") && html.contains(" min<"),
        "no wait in hours"
    );
    assert!(html.contains("time of day (UTC)") && html.contains(">contacts<"));
    assert!(
        html.contains("width:100%")
            && !html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" width=")
    );
    assert!(html.contains("Agents per site"));
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
    // The file has no [complaints]: under the built-in policy nobody can take a complaint, and
    // the side-by-side text says so.
    let text_what_if = switchboard(&[
        "simulate",
        "--replay-log",
        d,
        "--config",
        config.to_str().expect("utf-8"),
    ]);
    assert!(text_what_if.status.success(), "{}", text(&text_what_if));
    let out = String::from_utf8_lossy(&text_what_if.stdout);
    assert!(
        out.contains("complaints on phone: ") && out.contains("none in the re-run"),
        "{out}"
    );
    assert!(!out.contains("council_tax on phone: "), "{out}");
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
    // A scenario's complaint policy takes the serve configuration's keys, and no others.
    std::fs::write(&path, "name = \"x\"\n[complaints]\nskil = \"complaints\"\n").expect("write");
    let output = switchboard(&["simulate", "--scenario", path.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("unknown field `skil`") && text(&output).contains("complaints"),
        "{}",
        text(&output)
    );
}
