//! The simulated day's desktops and figures (issue 14): desktops never answer an offer they
//! were told is gone, waiting contacts are counted per queue, occupancy is measured per site,
//! and waits read in hours and minutes.

use switchboard_core::RoutingConfig;
use switchboard_sim::figures::duration_text;
use switchboard_sim::{NoObserver, Scenario, SimulationRun, simulate};

fn run(text: &str, seed: u64) -> SimulationRun {
    let scenario = Scenario::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scenario, RoutingConfig::default(), seed, &mut NoObserver)
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"))
}

/// Slow desktops and impatient callers: many offers are withdrawn (the caller hangs up) or
/// expire (a think time past the 15 s phone timeout) while the agent is still deciding.
const SLOW_DESKS: &str = r#"
name = "slow-desks"
[[arrivals]]
service = "council_tax"
channel = "phone"
from = "09:00"
to = "12:00"
per_hour = 60
handle = { distribution = "exponential", mean_secs = 200 }
patience = { distribution = "exponential", mean_secs = 20 }

[[arrivals]]
service = "benefits"
channel = "phone"
from = "09:00"
to = "12:00"
per_hour = 20
handle = { distribution = "exponential", mean_secs = 200 }

[[agents]]
name = "csr"
count = 4
site = "contact_centre"
skills = { council_tax = 3, benefits = 3 }
channels = { phone = 1 }
shift = { from = "09:00", to = "12:00" }
breaks = [{ at = "10:00", minutes = 15, stagger_minutes = 30 }]
think_secs = 12

[[agents]]
name = "shop"
count = 2
site = "town_hall"
skills = { council_tax = 3 }
channels = { phone = 1 }
shift = { from = "09:00", to = "10:30" }
think_secs = 12
"#;

#[test]
fn desktops_drop_offers_that_expired_or_were_withdrawn() {
    for seed in 1..=3 {
        let run = run(SLOW_DESKS, seed);
        let total = &run.figures.total;
        assert!(
            total.abandoned > 10 && total.answered > 50,
            "seed {seed}: the scenario must withdraw offers: {total:?}"
        );
        assert!(
            run.refused.is_empty(),
            "seed {seed}: a desktop answered an offer it had been told was gone: {:?}",
            run.refused
        );
    }
}

#[test]
fn waiting_contacts_are_counted_per_queue_in_the_order_of_the_figures() {
    let run = run(SLOW_DESKS, 7);
    let queues: Vec<_> = run
        .figures
        .queues
        .iter()
        .map(|q| q.service.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(queues, ["benefits", "council_tax"]);
    assert!(!run.samples.is_empty());
    let mut peak = [0_u32; 2];
    for sample in &run.samples {
        assert_eq!(sample.waiting_by_queue.len(), 2, "{sample:?}");
        assert_eq!(
            sample.waiting_by_queue.iter().sum::<u32>(),
            sample.waiting,
            "{sample:?}"
        );
        for (p, w) in peak.iter_mut().zip(&sample.waiting_by_queue) {
            *p = (*p).max(*w);
        }
    }
    assert!(peak.iter().all(|p| *p > 0), "{peak:?}");
}

#[test]
fn occupancy_is_per_site_and_in_total_never_per_queue() {
    let run = run(SLOW_DESKS, 5);
    let figures = &run.figures;
    assert!(figures.queues.iter().all(|q| q.occupancy.is_none()));
    let total = figures.total.occupancy.expect("the total's occupancy");
    let sites: Vec<_> = figures
        .sites
        .iter()
        .map(|s| (s.site.as_str(), s.agents))
        .collect();
    assert_eq!(sites, [("contact_centre", 4), ("town_hall", 2)]);
    let (staffed, busy) = figures.sites.iter().fold((0.0, 0.0), |(s, b), site| {
        assert!(site.busy_hours <= site.staffed_hours + 1e-9, "{site:?}");
        assert!(
            (site.occupancy - site.busy_hours / site.staffed_hours).abs() < 1e-9,
            "{site:?}"
        );
        (s + site.staffed_hours, b + site.busy_hours)
    });
    // The sites partition the agents, so their hours add up to the total's occupancy.
    assert!(
        (busy / staffed - total).abs() < 1e-9,
        "{total} v {busy}/{staffed}"
    );
    // A queue's agent hours are its handlings with their wrap-up: AHT times the handlings,
    // which are at least the contacts answered.
    for q in &figures.queues {
        let answered_hours = q.aht_seconds * q.answered as f64 / 3600.0;
        assert!(q.agent_hours > 0.0, "{q:?}");
        assert!(q.agent_hours >= answered_hours - 1e-9, "{q:?}");
    }
}

#[test]
fn waits_read_in_seconds_minutes_or_hours() {
    assert_eq!(duration_text(0.0), "0 s");
    assert_eq!(duration_text(23.4), "23 s");
    assert_eq!(duration_text(59.6), "1 min 00 s");
    assert_eq!(duration_text(245.0), "4 min 05 s");
    assert_eq!(duration_text(9202.3), "2 h 33 min");
    assert_eq!(duration_text(3599.0), "59 min 59 s");
    assert_eq!(duration_text(3600.0), "1 h 00 min");
    assert_eq!(duration_text(f64::NAN), "-");
}

/// Every call is escalated to tier 2, and the tier-2 agents go home at 16:00: the callers
/// escalated after that wait on hold with nobody to take them.
const ESCALATED_AT_CLOSING: &str = r#"
name = "escalated-at-closing"
[[arrivals]]
service = "council_tax"
channel = "phone"
from = "15:00"
to = "17:00"
per_hour = 30
handle = { distribution = "exponential", mean_secs = 120 }
patience = { distribution = "exponential", mean_secs = 300 }
escalate_share = 1.0

[[agents]]
name = "csr"
count = 4
tier = 1
skills = { council_tax = 3 }
channels = { phone = 1 }
shift = { from = "15:00", to = "17:00" }

[[agents]]
name = "advisor"
count = 2
tier = 2
skills = { council_tax = 3 }
channels = { phone = 1 }
shift = { from = "15:00", to = "16:00" }
"#;

#[test]
fn a_caller_on_hold_after_an_escalation_hangs_up_rather_than_wait_all_night() {
    for seed in 1..=3 {
        let run = run(ESCALATED_AT_CLOSING, seed);
        let total = &run.figures.total;
        assert!(total.answered > 20, "seed {seed}: {total:?}");
        assert_eq!(
            total.open_at_end, 0,
            "seed {seed}: a caller was still on hold at midnight: {total:?}"
        );
        assert!(
            total.answered + total.abandoned <= total.offered,
            "seed {seed}: a hang-up on hold counted as answered and abandoned: {total:?}"
        );
        assert!(run.refused.is_empty(), "seed {seed}: {:?}", run.refused);
        let last = run.samples.last().expect("samples");
        assert_eq!(last.waiting, 0, "seed {seed}: {last:?}");
    }
}
