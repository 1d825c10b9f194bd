//! Runs the single-queue checks of `tests/erlang.rs` over many seeds and prints the spread of
//! the simulated figures around the formulas: how the tolerances of that test were chosen.
//!
//! `cargo run --release -p switchboard-sim --example erlang_sweep -- 40`

use switchboard_sim::staffing::{ErlangC, erlang_a, erlang_c};
use switchboard_sim::{NoObserver, Scenario, simulate, single_queue_routing};

fn scenario(per_hour: f64, patience: Option<f64>, days: u32) -> Scenario {
    let patience = patience
        .map(|p| format!("patience = {{ distribution = \"exponential\", mean_secs = {p} }}\n"))
        .unwrap_or_default();
    Scenario::from_toml(&format!(
        "name = \"sweep\"\ndays = {days}\nwarmup_minutes = 60\n[[arrivals]]\nservice = \"s\"\nchannel = \"phone\"\nfrom = \"00:00\"\nto = \"24:00\"\nper_hour = {per_hour}\nhandle = {{ distribution = \"exponential\", mean_secs = 240 }}\n{patience}[[agents]]\nname = \"a\"\ncount = 8\nskills = {{ s = 3 }}\nchannels = {{ phone = 1 }}\nshift = {{ from = \"00:00\", to = \"24:00\" }}\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn spread(name: &str, values: &[f64], expected: f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let worst = values
        .iter()
        .map(|v| (v - expected).abs())
        .fold(0.0, f64::max);
    println!(
        "{name:<28} formula {expected:>9.4}  mean {mean:>9.4}  sd {sd:>8.4}  worst |error| {worst:.4}"
    );
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let (mut wait, mut sl, mut asa, mut occ) = (vec![], vec![], vec![], vec![]);
    let (mut ab, mut sl_a, mut asa_a, mut occ_a) = (vec![], vec![], vec![], vec![]);
    for seed in 1..=seeds {
        let c = simulate(
            &scenario(96.0, None, 16),
            single_queue_routing(),
            seed,
            &mut NoObserver,
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .figures
        .total;
        wait.push(c.delayed as f64 / c.offered as f64);
        sl.push(c.service_level);
        asa.push(c.asa_seconds);
        occ.push(c.occupancy.unwrap_or(f64::NAN));
        let a = simulate(
            &scenario(120.0, Some(180.0), 14),
            single_queue_routing(),
            seed,
            &mut NoObserver,
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .figures
        .total;
        ab.push(a.abandon_rate);
        sl_a.push(a.service_level);
        asa_a.push(a.asa_seconds);
        occ_a.push(a.occupancy.unwrap_or(f64::NAN));
    }
    let ErlangC::Stable(c) = erlang_c(6.4, 240.0, 8, 20.0).unwrap_or_else(|e| panic!("{e}")) else {
        panic!("overloaded")
    };
    println!("Erlang C, 6.4 Erlangs on 8 agents, {seeds} seeds:");
    spread("P(wait)", &wait, c.probability_wait);
    spread("service level", &sl, c.service_level);
    spread("ASA (s)", &asa, c.asa_seconds);
    spread("occupancy", &occ, c.occupancy);
    let a = erlang_a(120.0 / 3600.0, 240.0, 180.0, 8, 20.0).unwrap_or_else(|e| panic!("{e}"));
    println!("Erlang A, 8 Erlangs on 8 agents, patience 180 s, {seeds} seeds:");
    spread("abandon rate", &ab, a.probability_abandon);
    spread("service level", &sl_a, a.service_level);
    spread("ASA (s)", &asa_a, a.asa_seconds.unwrap_or(f64::NAN));
    spread("occupancy", &occ_a, a.occupancy);
}
