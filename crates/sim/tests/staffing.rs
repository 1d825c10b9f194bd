//! Checks of the staffing maths against hand computations, textbook formulas, an explicitly
//! solved birth–death chain, the known limits of Erlang A, and monotonicity properties.

use proptest::prelude::*;
use switchboard_sim::staffing::{
    ErlangC, MAX_AGENTS, StaffingAnswer, StaffingError, StaffingQuery, erlang_a, erlang_b,
    erlang_c, plan_staffing,
};

// ---------------------------------------------------------------------------------------------
// Independent reference computations (no recurrence, no shared code with the crate).

/// `ln(A^k / k!)` by summing logs.
fn ln_poisson_term(traffic: f64, k: u32) -> f64 {
    let ln_factorial: f64 = (1..=k).map(|i| f64::from(i).ln()).sum();
    f64::from(k) * traffic.ln() - ln_factorial
}

/// `ln Σ exp(values)`.
fn ln_sum_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// The textbook Erlang B formula `(A^N/N!) / Σ_{k≤N} A^k/k!`, in logs.
fn erlang_b_textbook(traffic: f64, agents: u32) -> f64 {
    let terms: Vec<f64> = (0..=agents).map(|k| ln_poisson_term(traffic, k)).collect();
    (ln_poisson_term(traffic, agents) - ln_sum_exp(&terms)).exp()
}

/// The textbook Erlang C formula
/// `(A^N/N! · N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N−A))`, in logs.
fn erlang_c_textbook(traffic: f64, agents: u32) -> f64 {
    let n = f64::from(agents);
    let top = ln_poisson_term(traffic, agents) + (n / (n - traffic)).ln();
    let mut terms: Vec<f64> = (0..agents).map(|k| ln_poisson_term(traffic, k)).collect();
    terms.push(top);
    (top - ln_sum_exp(&terms)).exp()
}

/// A small whole `f64` (a head count in these tests) as a `u32`.
fn whole_agents(value: f64) -> u32 {
    assert!(
        (0.0..1e6).contains(&value) && value.fract() == 0.0,
        "{value}"
    );
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a whole number below 1e6, checked"
    )]
    let agents = value as u32;
    agents
}

fn stable(c: ErlangC) -> switchboard_sim::staffing::ErlangCMeasures {
    match c {
        ErlangC::Stable(m) => m,
        ErlangC::Overloaded => panic!("expected a stable queue"),
    }
}

fn classic_query() -> StaffingQuery {
    StaffingQuery {
        arrivals_per_interval: 360.0,
        interval_secs: 1800.0,
        aht_secs: 240.0,
        target_sl: 0.8,
        target_secs: 20.0,
        patience_secs: None,
        shrinkage: 0.3,
        max_asa_secs: None,
        max_occupancy: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Erlang B and C.

#[test]
fn erlang_b_recurrence_matches_the_textbook_formula() {
    for &traffic in &[0.3, 1.0, 2.5, 7.0, 15.0] {
        for agents in 0..=25 {
            let recurrence = erlang_b(traffic, agents).unwrap();
            let direct = erlang_b_textbook(traffic, agents);
            assert!(
                (recurrence - direct).abs() <= 1e-12 * direct.max(1e-300),
                "A={traffic} N={agents}: {recurrence} vs {direct}"
            );
        }
    }
    // Naive powers and factorials, for very small N: B(3, 2) = (8/6) / (1 + 2 + 2 + 8/6) = 4/19.
    assert!((erlang_b(2.0, 3).unwrap() - 4.0 / 19.0).abs() < 1e-15);
}

#[test]
fn erlang_c_matches_the_textbook_formula() {
    for &traffic in &[0.5_f64, 1.0, 4.2, 9.9, 20.0] {
        let first = whole_agents(traffic.floor()) + 1;
        for agents in first..first + 15 {
            let m = stable(erlang_c(traffic, 180.0, agents, 20.0).unwrap());
            let direct = erlang_c_textbook(traffic, agents);
            assert!(
                (m.probability_wait - direct).abs() <= 1e-11,
                "A={traffic} N={agents}: {} vs {direct}",
                m.probability_wait
            );
        }
    }
}

/// The classic worked example of Erlang C tutorials (e.g. Call Centre Helper's "Erlang C
/// formula made simple"): 360 calls in a 30-minute interval, AHT 240 s, target 80% in 20 s.
/// The tutorials present it with about 55 agents; every figure below is recomputed here step by
/// step rather than copied from a page.
///
/// * Traffic: λ = 360 / 1800 s = 0.2 calls/s, A = 0.2 × 240 = 48 Erlangs.
/// * N = 55 (the tutorials' figure): the textbook formula gives C = 0.23870 (checked against
///   `erlang_c_textbook` below). SL = 1 − C·e^{−(55−48)·20/240} = 1 − 0.23870 × e^{−0.58333}
///   = 1 − 0.23870 × 0.55804 = 1 − 0.13320 = 0.86680. ASA = C·240/(55−48) = 0.23870 × 34.286
///   = 8.18 s. Occupancy = 48/55 = 87.27%.
/// * N = 54: C = 0.30131, SL = 1 − 0.30131 × e^{−0.5} = 1 − 0.30131 × 0.60653 = 0.81725 ≥ 0.8.
/// * N = 53: C = 0.37654, SL = 1 − 0.37654 × e^{−0.41667} = 1 − 0.37654 × 0.65924 = 0.75177
///   < 0.8.
///
/// So the fewest agents meeting 80/20 is 54 (the tutorials' 55 gives 86.7%). With a maximum
/// occupancy of 85%, 48/56 = 85.7% is too high and 48/57 = 84.2% meets it: 57 agents. With 30%
/// shrinkage 54 agents roster ⌈54/0.7⌉ = ⌈77.14⌉ = 78 and 57 roster ⌈81.43⌉ = 82.
#[test]
fn classic_worked_example_360_calls_aht_240() {
    let answer = plan_staffing(&classic_query()).unwrap();
    assert!((answer.traffic_erlangs - 48.0).abs() < 1e-12);
    assert_eq!(answer.agents, 54);
    assert_eq!(answer.rostered_agents, 78);
    assert!((answer.service_level - 0.81725).abs() < 5e-5);
    assert!((answer.probability_wait - 0.30131).abs() < 5e-5);
    assert!((answer.occupancy - 48.0 / 54.0).abs() < 1e-12);
    assert_eq!(answer.probability_abandon, None);

    let at = |agents: u32| {
        *answer
            .table
            .iter()
            .find(|row| row.agents == agents)
            .expect("row in table")
    };
    let n55 = at(55);
    assert!((n55.probability_wait - 0.23870).abs() < 5e-5);
    assert!((n55.probability_wait - erlang_c_textbook(48.0, 55)).abs() < 1e-11);
    assert!((n55.service_level - 0.86680).abs() < 5e-5);
    assert!((n55.asa_seconds.unwrap() - 8.18).abs() < 5e-3);
    assert!((n55.occupancy - 0.8727).abs() < 5e-5);
    let n53 = at(53);
    assert!((n53.service_level - 0.75177).abs() < 5e-5);
    assert!(n53.service_level < 0.8);

    // The table spans five head counts either side of the answer.
    let agents: Vec<u32> = answer.table.iter().map(|row| row.agents).collect();
    assert_eq!(agents, (49..=59).collect::<Vec<_>>());

    let capped = plan_staffing(&StaffingQuery {
        max_occupancy: Some(0.85),
        ..classic_query()
    })
    .unwrap();
    assert_eq!(capped.agents, 57);
    assert_eq!(capped.rostered_agents, 82);

    // ASA at 56 agents is C·240/8 = 0.18715 × 30 = 5.61 s; at 57 it is 0.14518 × 240/9 = 3.87 s.
    let asa_capped = plan_staffing(&StaffingQuery {
        max_asa_secs: Some(5.0),
        ..classic_query()
    })
    .unwrap();
    assert_eq!(asa_capped.agents, 57);
    assert!((asa_capped.asa_seconds - 3.87).abs() < 5e-3);
}

#[test]
fn small_traffic_table_shows_overloaded_rows_explicitly() {
    // A = 1.5 Erlangs (90 calls an hour, AHT 60 s).
    let answer = plan_staffing(&StaffingQuery {
        arrivals_per_interval: 90.0,
        interval_secs: 3600.0,
        aht_secs: 60.0,
        ..classic_query()
    })
    .unwrap();
    assert_eq!(answer.table[0].agents, 1);
    let one = answer.table[0];
    assert_eq!(one.probability_wait, 1.0);
    assert_eq!(one.service_level, 0.0);
    assert_eq!(one.asa_seconds, None);
    assert_eq!(one.occupancy, 1.0);
    // The answer is the first head count that meets 80/20, checked directly.
    let sl = |n| stable(erlang_c(1.5, 60.0, n, 20.0).unwrap()).service_level;
    assert!(sl(answer.agents) >= 0.8);
    assert!(answer.agents == 2 || sl(answer.agents - 1) < 0.8);
}

// ---------------------------------------------------------------------------------------------
// Erlang A against an explicitly solved birth–death chain.

struct ChainResult {
    probability_wait: f64,
    probability_abandon: f64,
    occupancy: f64,
    service_level: f64,
    asa_seconds: f64,
}

/// Solves the M/M/n+M chain directly: stationary probabilities by the balance equations on a
/// truncated state space (in plain floating point), abandonment by Little's law, the service
/// level by uniformisation of the tagged caller's progress through the queue, and the answered
/// wait by first-step analysis. Shares nothing with the crate's series.
fn birth_death_chain(
    arrival_rate: f64,
    aht: f64,
    patience: f64,
    agents: u32,
    t: f64,
) -> ChainResult {
    let (mu, theta, n) = (1.0 / aht, 1.0 / patience, agents as usize);
    let states = n + 600;
    let mut pi = vec![1.0_f64; states];
    for k in 1..states {
        let busy = k.min(n) as f64;
        let queued = k.saturating_sub(n) as f64;
        pi[k] = pi[k - 1] * arrival_rate / (busy * mu + queued * theta);
    }
    let norm: f64 = pi.iter().sum();
    pi.iter_mut().for_each(|p| *p /= norm);
    assert!(pi[states - 1] < 1e-40, "truncation too short");

    let probability_wait: f64 = pi[n..].iter().sum();
    let queue_mean: f64 = pi
        .iter()
        .enumerate()
        .map(|(k, p)| k.saturating_sub(n) as f64 * p)
        .sum();
    let probability_abandon = theta * queue_mean / arrival_rate;
    let busy_mean: f64 = pi
        .iter()
        .enumerate()
        .map(|(k, p)| k.min(n) as f64 * p)
        .sum();
    let occupancy = busy_mean / n as f64;

    let service_rate = n as f64 * mu;
    let mut answered_within_t: f64 = pi[..n].iter().sum();
    let mut answered_wait = 0.0;
    for j in 0..states - n {
        let weight = pi[n + j];
        if weight < 1e-25 {
            continue;
        }
        // Uniformisation: position i = callers ahead (j down to 0), absorbing into "answered"
        // from position 0 at rate nμ, moving up at nμ + iθ, abandoning at θ.
        let rate = service_rate + (j as f64 + 1.0) * theta;
        let mut position = vec![0.0_f64; j + 1];
        position[j] = 1.0;
        let mut answered = 0.0;
        let mut poisson = (-rate * t).exp();
        let mut cumulative = poisson;
        let mut within = poisson * answered;
        let mut step = 0_u32;
        while cumulative < 1.0 - 1e-15 {
            let mut next = vec![0.0_f64; j + 1];
            for (i, &p) in position.iter().enumerate() {
                if p == 0.0 {
                    continue;
                }
                let up = (service_rate + i as f64 * theta) / rate;
                if i == 0 {
                    answered += p * up;
                } else {
                    next[i - 1] += p * up;
                }
                next[i] += p * (1.0 - up - theta / rate);
            }
            position = next;
            step += 1;
            poisson *= rate * t / f64::from(step);
            cumulative += poisson;
            within += poisson * answered;
        }
        answered_within_t += weight * within;

        // First-step analysis of E[wait · 1{answered}] from position i:
        // m_i = P_i/r_i + d_i·m_{i−1}, P_i = d_i·P_{i−1}, with r_i = nμ + iθ + θ and
        // d_i = (nμ + iθ)/r_i; m_{−1} = 0, P_{−1} = 1.
        let (mut m, mut p) = (0.0, 1.0);
        for i in 0..=j {
            let out = service_rate + i as f64 * theta + theta;
            let d = (service_rate + i as f64 * theta) / out;
            p *= d;
            m = p / out + d * m;
        }
        answered_wait += weight * m;
    }
    ChainResult {
        probability_wait,
        probability_abandon,
        occupancy,
        service_level: answered_within_t,
        asa_seconds: answered_wait / (1.0 - probability_abandon),
    }
}

#[test]
fn erlang_a_matches_the_birth_death_chain() {
    // (arrivals per second, AHT, patience, agents, t)
    let cases = [
        (0.05, 50.0, 120.0, 3, 20.0), // A = 2.5 on 3 agents
        (0.05, 50.0, 120.0, 2, 20.0), // A = 2.5 on 2 agents: Erlang C would be unstable
        (0.2, 60.0, 300.0, 12, 30.0), // A = 12 on 12 agents
        (0.1, 240.0, 60.0, 20, 15.0), // A = 24 on 20 agents, impatient callers
        (0.02, 180.0, 600.0, 5, 0.0), // t = 0
        (0.3, 30.0, 45.0, 1, 10.0),   // one agent, heavy overload
    ];
    for (rate, aht, patience, agents, t) in cases {
        let got = erlang_a(rate, aht, patience, agents, t).unwrap();
        let want = birth_death_chain(rate, aht, patience, agents, t);
        let label = format!("λ={rate} AHT={aht} P={patience} N={agents} t={t}");
        let close = |a: f64, b: f64, what: &str| {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{label} {what}: {a} vs {b}"
            );
        };
        close(got.probability_wait, want.probability_wait, "P(wait)");
        close(
            got.probability_abandon,
            want.probability_abandon,
            "P(abandon)",
        );
        close(got.occupancy, want.occupancy, "occupancy");
        close(got.service_level, want.service_level, "service level");
        close(got.asa_seconds.unwrap(), want.asa_seconds, "ASA");
        // Little's law: E[W] over everyone is the mean queue over λ.
        close(
            got.mean_wait_seconds,
            want.probability_abandon * patience,
            "E[W]",
        );
    }
}

#[test]
fn erlang_a_with_very_long_patience_approaches_erlang_c() {
    for (traffic, agents) in [(48.0, 54), (48.0, 60), (2.5, 3), (500.0, 520)] {
        let aht = 240.0;
        let c = stable(erlang_c(traffic, aht, agents, 20.0).unwrap());
        let a = erlang_a(traffic / aht, aht, 1.0e8, agents, 20.0).unwrap();
        let label = format!("A={traffic} N={agents}");
        assert!(
            (a.probability_wait - c.probability_wait).abs() < 1e-4,
            "{label}"
        );
        assert!((a.service_level - c.service_level).abs() < 1e-4, "{label}");
        assert!(
            (a.asa_seconds.unwrap() - c.asa_seconds).abs() < 1e-3 * c.asa_seconds.max(1.0),
            "{label}"
        );
        assert!((a.occupancy - c.occupancy).abs() < 1e-4, "{label}");
        assert!(a.probability_abandon < 1e-4, "{label}");
    }
}

#[test]
fn erlang_a_with_vanishing_patience_is_erlang_b_loss() {
    for (traffic, agents) in [(2.5, 2), (2.5, 4), (48.0, 50), (48.0, 40)] {
        let aht = 240.0;
        let b = erlang_b(traffic, agents).unwrap();
        let a = erlang_a(traffic / aht, aht, 1e-6, agents, 20.0).unwrap();
        let label = format!("A={traffic} N={agents}");
        // Whoever finds every agent busy hangs up at once: P(wait) = P(abandon) = B.
        assert!((a.probability_wait - b).abs() < 1e-6, "{label}");
        assert!((a.probability_abandon - b).abs() < 1e-6, "{label}");
        assert!((a.service_level - (1.0 - b)).abs() < 1e-6, "{label}");
        // Carried traffic A·(1 − B) over N agents.
        assert!((a.occupancy - traffic * (1.0 - b) / f64::from(agents)).abs() < 1e-6);
    }
}

#[test]
fn erlang_a_plan_meets_the_target_with_the_fewest_agents() {
    let query = StaffingQuery {
        patience_secs: Some(180.0),
        ..classic_query()
    };
    let answer = plan_staffing(&query).unwrap();
    let rate = 0.2;
    let sl = |n| erlang_a(rate, 240.0, 180.0, n, 20.0).unwrap().service_level;
    assert!(sl(answer.agents) >= 0.8);
    assert!(sl(answer.agents - 1) < 0.8);
    assert!((answer.service_level - sl(answer.agents)).abs() < 1e-15);
    let abandon = answer.probability_abandon.unwrap();
    assert!(abandon > 0.0 && abandon < 0.05, "{abandon}");
    assert!(
        answer
            .table
            .iter()
            .all(|row| row.probability_abandon.is_some())
    );
    // Erlang A is defined below the traffic too: the lower rows are finite.
    assert!(answer.table.iter().all(|row| row.asa_seconds.is_some()));
}

// ---------------------------------------------------------------------------------------------
// Large queues.

fn assert_unit(p: f64, what: &str) {
    assert!(p.is_finite() && (0.0..=1.0).contains(&p), "{what} = {p}");
}

#[test]
fn large_queues_are_stable() {
    let c = stable(erlang_c(500.0, 300.0, 520, 20.0).unwrap());
    assert_unit(c.probability_wait, "C(520, 500)");
    assert_unit(c.service_level, "SL(520, 500)");
    assert!(c.asa_seconds.is_finite() && c.asa_seconds > 0.0);
    // 20 spare agents on 500 Erlangs: a real but modest chance of waiting.
    assert!(c.probability_wait > 0.05 && c.probability_wait < 0.9);

    for agents in [1, 1000, 1900, 1999, 2000, 2001, 2050, 2200, 5000] {
        match erlang_c(2000.0, 300.0, agents, 20.0).unwrap() {
            ErlangC::Stable(m) => {
                assert!(agents > 2000);
                assert_unit(m.probability_wait, "C");
                assert_unit(m.service_level, "SL");
                assert!(m.asa_seconds.is_finite());
            }
            ErlangC::Overloaded => assert!(agents <= 2000),
        }
        let a = erlang_a(2000.0 / 300.0, 300.0, 120.0, agents, 20.0).unwrap();
        assert_unit(a.probability_wait, "A P(wait)");
        assert_unit(a.probability_abandon, "A P(abandon)");
        assert_unit(a.service_level, "A SL");
        assert_unit(a.occupancy, "A occupancy");
        assert!(a.asa_seconds.unwrap().is_finite());
    }

    for patience in [None, Some(120.0)] {
        let answer = plan_staffing(&StaffingQuery {
            arrivals_per_interval: 2000.0 / 300.0 * 1800.0,
            interval_secs: 1800.0,
            aht_secs: 300.0,
            patience_secs: patience,
            ..classic_query()
        })
        .unwrap();
        assert!((answer.traffic_erlangs - 2000.0).abs() < 1e-9);
        let agents = f64::from(answer.agents);
        match patience {
            // Erlang C needs more agents than Erlangs, and not many more at this scale.
            None => assert!(agents > 2000.0 && agents < 2100.0, "{agents}"),
            // Callers who give up after two minutes on five-minute calls let Erlang A meet
            // 80/20 below the traffic (the "efficiency-driven" regime), but never below
            // 0.8·A: the answered share is at most N/A.
            Some(_) => assert!((1600.0..2000.0).contains(&agents), "{agents}"),
        }
        for row in &answer.table {
            assert_unit(row.service_level, "row SL");
            assert_unit(row.probability_wait, "row P(wait)");
            assert_unit(row.occupancy, "row occupancy");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Input validation, limits, output shape.

#[test]
fn bad_queries_are_rejected_with_the_field_named() {
    let bad = |query: StaffingQuery| plan_staffing(&query).unwrap_err();
    assert!(matches!(
        bad(StaffingQuery {
            arrivals_per_interval: -1.0,
            ..classic_query()
        }),
        StaffingError::Negative {
            field: "arrivals_per_interval",
            ..
        }
    ));
    assert!(matches!(
        bad(StaffingQuery {
            aht_secs: 0.0,
            ..classic_query()
        }),
        StaffingError::NotPositive {
            field: "aht_secs",
            ..
        }
    ));
    assert!(matches!(
        bad(StaffingQuery {
            interval_secs: f64::NAN,
            ..classic_query()
        }),
        StaffingError::NotFinite {
            field: "interval_secs",
            ..
        }
    ));
    for target_sl in [0.0, 1.0, 1.5, -0.2] {
        assert!(matches!(
            bad(StaffingQuery {
                target_sl,
                ..classic_query()
            }),
            StaffingError::TargetServiceLevelOutOfRange { .. }
        ));
    }
    assert!(matches!(
        bad(StaffingQuery {
            target_secs: -5.0,
            ..classic_query()
        }),
        StaffingError::Negative {
            field: "target_secs",
            ..
        }
    ));
    assert!(matches!(
        bad(StaffingQuery {
            shrinkage: 1.0,
            ..classic_query()
        }),
        StaffingError::ShrinkageOutOfRange { .. }
    ));
    assert!(matches!(
        bad(StaffingQuery {
            patience_secs: Some(0.0),
            ..classic_query()
        }),
        StaffingError::NotPositive {
            field: "patience_secs",
            ..
        }
    ));
    assert!(matches!(
        bad(StaffingQuery {
            max_occupancy: Some(0.0),
            ..classic_query()
        }),
        StaffingError::MaxOccupancyOutOfRange { .. }
    ));
    assert!(matches!(
        bad(StaffingQuery {
            max_asa_secs: Some(-1.0),
            ..classic_query()
        }),
        StaffingError::Negative {
            field: "max_asa_secs",
            ..
        }
    ));
}

#[test]
fn unreachable_targets_are_an_error() {
    // 200,000 Erlangs: more than the search cap.
    for patience in [None, Some(60.0)] {
        let err = plan_staffing(&StaffingQuery {
            arrivals_per_interval: 1_500_000.0,
            interval_secs: 1800.0,
            patience_secs: patience,
            ..classic_query()
        })
        .unwrap_err();
        assert_eq!(
            err,
            StaffingError::TargetUnreachable {
                max_agents: MAX_AGENTS
            }
        );
    }
}

#[test]
fn no_contacts_need_no_agents() {
    for patience in [None, Some(60.0)] {
        let answer = plan_staffing(&StaffingQuery {
            arrivals_per_interval: 0.0,
            patience_secs: patience,
            ..classic_query()
        })
        .unwrap();
        assert_eq!(answer.agents, 0);
        assert_eq!(answer.rostered_agents, 0);
        assert_eq!(answer.service_level, 1.0);
        assert_eq!(answer.table.first().map(|row| row.agents), Some(0));
    }
}

#[test]
fn json_has_exactly_the_agreed_keys() {
    let answer = plan_staffing(&classic_query()).unwrap();
    let json = serde_json::to_value(&answer).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "traffic_erlangs",
        "agents",
        "rostered_agents",
        "service_level",
        "asa_seconds",
        "occupancy",
        "probability_wait",
        "probability_abandon",
        "table",
    ];
    let mut got = keys.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    let row = json["table"][0].as_object().unwrap();
    let mut row_keys: Vec<&str> = row.keys().map(String::as_str).collect();
    row_keys.sort_unstable();
    assert_eq!(
        row_keys,
        [
            "agents",
            "asa_seconds",
            "occupancy",
            "probability_abandon",
            "probability_wait",
            "service_level"
        ]
    );
    assert!(json["probability_abandon"].is_null());
    assert_eq!(json["agents"], 54);
}

#[test]
fn human_table_marks_the_answer() {
    let answer: StaffingAnswer = plan_staffing(&classic_query()).unwrap();
    let text = answer.to_string();
    assert!(text.contains("48.00 Erlangs"), "{text}");
    assert!(text.contains("54 on the phones, 78 rostered"), "{text}");
    let marked: Vec<&str> = text.lines().filter(|line| line.starts_with('>')).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(
        marked[0].contains("54") && marked[0].contains("81.7%"),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.contains('%')).count(),
        1 + answer.table.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Monotonicity: more agents never make things worse.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn erlang_c_improves_with_every_agent(
        traffic in 0.1_f64..300.0,
        aht in 10.0_f64..1200.0,
        t in 0.0_f64..120.0,
    ) {
        let first = whole_agents(traffic.floor()) + 1;
        let mut previous = stable(erlang_c(traffic, aht, first, t).unwrap());
        for agents in first + 1..first + 30 {
            let m = stable(erlang_c(traffic, aht, agents, t).unwrap());
            prop_assert!(m.service_level >= previous.service_level - 1e-12);
            prop_assert!(m.probability_wait <= previous.probability_wait + 1e-12);
            prop_assert!(m.asa_seconds <= previous.asa_seconds * (1.0 + 1e-12));
            prop_assert!(m.occupancy < previous.occupancy);
            previous = m;
        }
    }

    #[test]
    fn erlang_a_improves_with_every_agent(
        traffic in 0.1_f64..150.0,
        aht in 10.0_f64..1200.0,
        patience_ratio in 0.05_f64..20.0,
        t in 0.0_f64..120.0,
    ) {
        let patience = aht * patience_ratio;
        let rate = traffic / aht;
        let last = whole_agents(traffic.ceil()) + 20;
        let mut previous = erlang_a(rate, aht, patience, 1, t).unwrap();
        for agents in 2..=last {
            let m = erlang_a(rate, aht, patience, agents, t).unwrap();
            prop_assert!(m.service_level >= previous.service_level - 1e-12);
            prop_assert!(m.probability_wait <= previous.probability_wait + 1e-12);
            prop_assert!(m.probability_abandon <= previous.probability_abandon + 1e-12);
            prop_assert!(
                m.asa_seconds.unwrap() <= previous.asa_seconds.unwrap() * (1.0 + 1e-10) + 1e-12
            );
            previous = m;
        }
    }

    #[test]
    fn the_answer_is_the_fewest_meeting_the_target(
        arrivals in 1.0_f64..2000.0,
        aht in 30.0_f64..900.0,
        target_sl in 0.5_f64..0.95,
        target_secs in 5.0_f64..60.0,
        patience in prop::option::of(20.0_f64..600.0),
    ) {
        let query = StaffingQuery {
            arrivals_per_interval: arrivals,
            interval_secs: 1800.0,
            aht_secs: aht,
            target_sl,
            target_secs,
            patience_secs: patience,
            shrinkage: 0.3,
            max_asa_secs: None,
            max_occupancy: None,
        };
        let answer = plan_staffing(&query).unwrap();
        let rate = arrivals / 1800.0;
        let sl = |n: u32| match patience {
            None => match erlang_c(rate * aht, aht, n, target_secs).unwrap() {
                ErlangC::Stable(m) => m.service_level,
                ErlangC::Overloaded => 0.0,
            },
            Some(p) => erlang_a(rate, aht, p, n, target_secs).unwrap().service_level,
        };
        prop_assert!(sl(answer.agents) >= target_sl);
        prop_assert!(answer.agents == 1 || sl(answer.agents - 1) < target_sl);
        prop_assert!(answer.rostered_agents as f64 >= f64::from(answer.agents) / 0.7 - 1e-9);
    }
}
