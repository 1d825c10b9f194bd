//! The simulated day's desktops (issue 14): desktops never answer an offer they were told is
//! gone.

use switchboard_core::RoutingConfig;
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
