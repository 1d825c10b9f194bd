//! The simulator against the formulas: in the single-queue case (one service, one phone queue,
//! N identical agents, Poisson arrivals, exponential handle times, optionally exponential
//! patience) its long-run figures must agree with Erlang C, and with Erlang A when callers
//! abandon.
//!
//! The core is configured to behave as M/M/N: phone offers auto-accepted (no think time, no
//! expiry), no wrap-up, and a one-step routing plan (no relaxation over time). Every routing
//! decision is still the real core's.
//!
//! **Tolerances.** Each run measures about 37,000 (Erlang C: 6.4 Erlangs on 8 agents, 16 days)
//! or 40,000 (Erlang A: 8 Erlangs on 8 agents, mean patience 180 s, 14 days) contacts after a
//! one-hour warm-up. Waits in a busy queue are strongly autocorrelated, so the spread is much
//! wider than the count suggests. Over 30 seeds (`examples/erlang_sweep.rs`) the simulated means
//! sit on the formulas (P(wait) 0.4586 v 0.4576, ASA 69.1 v 68.6 s, abandonment 0.1487 v 0.1493)
//! with standard deviations: Erlang C P(wait) 0.012, service level 0.014, ASA 6.2 s (9 %),
//! occupancy 0.005; Erlang A abandonment 0.004, service level 0.009, ASA 0.7 s (3 %), occupancy
//! 0.005. The bounds are about 3.5 standard deviations, so a correct simulator fails for roughly
//! one seed in a thousand, while a systematic error (an added wrap-up, a wait counted from the
//! wrong instant, a plan that relaxes) shows far outside them:
//! - Erlang C: **±0.045** absolute on P(wait) and service level, **±0.02** on occupancy, **±30 %**
//!   relative on ASA, **±3 %** on AHT;
//! - Erlang A: **±0.015** absolute on the abandonment rate, **±0.03** on service level, **±0.02**
//!   on occupancy, **±12 %** relative on ASA.
//!
//! A failure prints its seed; `SWITCHBOARD_SEED=<n>` replays it.

use switchboard_sim::staffing::{ErlangC, erlang_a, erlang_c};
use switchboard_sim::{NoObserver, Scenario, simulate, single_queue_routing};

fn seed() -> u64 {
    std::env::var("SWITCHBOARD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_123)
}

fn single_queue(
    agents: u32,
    per_hour: f64,
    aht: f64,
    patience: Option<f64>,
    days: u32,
) -> Scenario {
    let patience = patience
        .map(|p| format!("patience = {{ distribution = \"exponential\", mean_secs = {p} }}\n"))
        .unwrap_or_default();
    let text = format!(
        r#"
name = "single-queue"
days = {days}
warmup_minutes = 60
[[arrivals]]
service = "council_tax"
channel = "phone"
from = "00:00"
to = "24:00"
per_hour = {per_hour}
handle = {{ distribution = "exponential", mean_secs = {aht} }}
{patience}
[[agents]]
name = "agent"
count = {agents}
skills = {{ council_tax = 3 }}
channels = {{ phone = 1 }}
shift = {{ from = "00:00", to = "24:00" }}
"#
    );
    Scenario::from_toml(&text).expect("a valid scenario")
}

fn close(name: &str, simulated: f64, expected: f64, tolerance: f64, seed: u64) {
    assert!(
        (simulated - expected).abs() <= tolerance,
        "{name}: simulated {simulated:.4}, formula {expected:.4}, tolerance {tolerance:.4} (seed {seed}; SWITCHBOARD_SEED={seed} replays it)"
    );
}

#[test]
fn the_single_queue_agrees_with_erlang_c() {
    let seed = seed();
    let (agents, aht, per_hour) = (8_u32, 240.0, 96.0); // 6.4 Erlangs on 8 agents
    let run = simulate(
        &single_queue(agents, per_hour, aht, None, 16),
        single_queue_routing(),
        seed,
        &mut NoObserver,
    )
    .expect("runs");
    let total = &run.figures.total;
    assert!(total.offered > 35_000, "{total:?}");
    let ErlangC::Stable(formula) =
        erlang_c(per_hour * aht / 3600.0, aht, agents, 20.0).expect("valid")
    else {
        panic!("stable");
    };
    let p_wait = total.delayed as f64 / total.offered as f64;
    close("P(wait)", p_wait, formula.probability_wait, 0.045, seed);
    close(
        "service level",
        total.service_level,
        formula.service_level,
        0.045,
        seed,
    );
    let occupancy = total.occupancy.unwrap_or_default();
    close("occupancy", occupancy, formula.occupancy, 0.02, seed);
    close(
        "ASA",
        total.asa_seconds,
        formula.asa_seconds,
        0.30 * formula.asa_seconds,
        seed,
    );
    close("AHT", total.aht_seconds, aht, 0.03 * aht, seed);
    assert_eq!(total.abandoned, 0);
}

#[test]
fn the_single_queue_with_patience_agrees_with_erlang_a() {
    let seed = seed();
    let (agents, aht, per_hour, patience) = (8_u32, 240.0, 120.0, 180.0); // 8 Erlangs on 8
    let run = simulate(
        &single_queue(agents, per_hour, aht, Some(patience), 14),
        single_queue_routing(),
        seed,
        &mut NoObserver,
    )
    .expect("runs");
    let total = &run.figures.total;
    assert!(total.offered > 35_000, "{total:?}");
    let formula = erlang_a(per_hour / 3600.0, aht, patience, agents, 20.0).expect("valid");
    close(
        "abandon rate",
        total.abandon_rate,
        formula.probability_abandon,
        0.015,
        seed,
    );
    close(
        "service level",
        total.service_level,
        formula.service_level,
        0.03,
        seed,
    );
    let occupancy = total.occupancy.unwrap_or_default();
    close("occupancy", occupancy, formula.occupancy, 0.02, seed);
    let asa = formula.asa_seconds.expect("some answered");
    close("ASA", total.asa_seconds, asa, 0.12 * asa, seed);
}
