//! Erlang B (loss) and Erlang C (M/M/N, infinite patience), computed by the Erlang B
//! recurrence so that they stay exact to rounding for thousands of agents.
//!
//! # Model
//!
//! Contacts arrive as a Poisson stream at rate λ, each takes an exponentially distributed handle
//! time with mean AHT, and `N` agents serve one queue in arrival order. The offered traffic is
//! `A = λ·AHT` Erlangs. Erlang C assumes nobody hangs up.
//!
//! # Formulas
//!
//! * Erlang B, the share of contacts that would be lost with `N` agents and no queue, by the
//!   recurrence `B(0) = 1`, `B(n) = A·B(n−1) / (n + A·B(n−1))`. Every step divides by a number
//!   greater than the numerator, so nothing overflows and nothing cancels; there are no
//!   factorials and no powers.
//! * Erlang C, the probability that a contact waits at all, from B:
//!   `C = N·B / (N − A·(1 − B))`, valid for `N > A`.
//! * Service level, the probability that a contact waits at most `t`:
//!   `SL(t) = 1 − C·exp(−(N − A)·t / AHT)`.
//! * Average speed of answer (the mean wait over all contacts, which in Erlang C are all
//!   answered): `ASA = C·AHT / (N − A)`.
//! * Occupancy, the share of agent time spent handling: `A / N`.
//!
//! When `N ≤ A` the queue is unstable: work arrives at least as fast as the agents can clear
//! it, every contact waits (`C = 1`), the wait grows without bound (the ASA is infinite) and
//! the share answered within any fixed `t` tends to zero. That case is the explicit
//! [`ErlangC::Overloaded`] variant, never a NaN or an infinity.

use crate::staffing::error::{StaffingError, non_negative, positive};

/// The Erlang B blocking probability `B(N, A)`: the share of contacts lost when `agents`
/// agents face `traffic_erlangs` of offered traffic with no queue at all.
///
/// Computed by the recurrence `B(n) = A·B(n−1) / (n + A·B(n−1))` from `B(0) = 1`, in `O(N)`
/// steps. `B(N, 0) = 0` for `N ≥ 1`.
///
/// # Errors
///
/// [`StaffingError::NotFinite`] or [`StaffingError::Negative`] if the traffic is not a finite,
/// non-negative number.
pub fn erlang_b(traffic_erlangs: f64, agents: u32) -> Result<f64, StaffingError> {
    let traffic = non_negative("traffic_erlangs", traffic_erlangs)?;
    let mut blocking = 1.0;
    for n in 1..=agents {
        blocking = erlang_b_step(traffic, n, blocking);
    }
    Ok(blocking)
}

/// One step of the Erlang B recurrence: `B(n)` from `B(n−1)`.
pub(crate) fn erlang_b_step(traffic: f64, n: u32, previous: f64) -> f64 {
    let carried = traffic * previous;
    let next = carried / (f64::from(n) + carried);
    debug_assert!(
        (0.0..=1.0).contains(&next),
        "Erlang B out of [0, 1]: {next}"
    );
    next
}

/// The Erlang C measures of one queue with a given number of agents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ErlangC {
    /// `N > A`: the queue is stable and every measure is finite.
    Stable(ErlangCMeasures),
    /// `N ≤ A`: the agents cannot keep up. Every contact waits (`P(wait) = 1`), the average
    /// speed of answer is unbounded, the share answered within any fixed time tends to 0 and
    /// the agents are busy all the time.
    Overloaded,
}

/// The performance of a stable Erlang C queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangCMeasures {
    /// `C`: the probability that a contact has to wait at all.
    pub probability_wait: f64,
    /// The probability that a contact waits at most the target time.
    pub service_level: f64,
    /// The mean wait, over all contacts, in seconds.
    pub asa_seconds: f64,
    /// The share of agent time spent handling contacts, `A / N`.
    pub occupancy: f64,
}

/// The Erlang C measures for `agents` agents facing `traffic_erlangs` of traffic whose mean
/// handle time is `aht_secs`, with the service level measured at `target_secs`.
///
/// With zero traffic nobody ever waits: `P(wait) = 0`, service level 1, ASA 0, occupancy 0.
///
/// # Errors
///
/// An input error if the traffic or the target time is negative or not finite, or the handle
/// time is not a positive finite number.
pub fn erlang_c(
    traffic_erlangs: f64,
    aht_secs: f64,
    agents: u32,
    target_secs: f64,
) -> Result<ErlangC, StaffingError> {
    let traffic = non_negative("traffic_erlangs", traffic_erlangs)?;
    let aht = positive("aht_secs", aht_secs)?;
    let target = non_negative("target_secs", target_secs)?;
    let blocking = erlang_b(traffic, agents)?;
    Ok(erlang_c_from_b(traffic, aht, agents, target, blocking))
}

/// The Erlang C measures given the Erlang B value `blocking = B(agents, traffic)`, so that a
/// search over head counts can carry the recurrence along instead of restarting it.
pub(crate) fn erlang_c_from_b(
    traffic: f64,
    aht: f64,
    agents: u32,
    target: f64,
    blocking: f64,
) -> ErlangC {
    if traffic == 0.0 {
        return ErlangC::Stable(ErlangCMeasures {
            probability_wait: 0.0,
            service_level: 1.0,
            asa_seconds: 0.0,
            occupancy: 0.0,
        });
    }
    let n = f64::from(agents);
    if n <= traffic {
        return ErlangC::Overloaded;
    }
    // C = N·B / (N − A·(1 − B)) = B / (1 − ρ·(1 − B)) with ρ = A/N < 1, so the denominator is
    // greater than 1 − ρ > 0 and C ∈ [B, 1].
    let occupancy = traffic / n;
    let probability_wait = (blocking / (1.0 - occupancy * (1.0 - blocking))).clamp(0.0, 1.0);
    let spare = n - traffic;
    let service_level = 1.0 - probability_wait * (-spare * target / aht).exp();
    let asa_seconds = probability_wait * aht / spare;
    debug_assert!((0.0..=1.0).contains(&service_level));
    debug_assert!(asa_seconds.is_finite() && asa_seconds >= 0.0);
    ErlangC::Stable(ErlangCMeasures {
        probability_wait,
        service_level,
        asa_seconds,
        occupancy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand computation for A = 1 Erlang: B(1) = 1·1/(1+1) = 1/2, B(2) = (1/2)/(2 + 1/2) = 1/5,
    /// and C(2) = 2·(1/5) / (2 − 1·(4/5)) = (2/5)/(6/5) = 1/3.
    #[test]
    fn one_erlang_two_agents_by_hand() {
        assert!((erlang_b(1.0, 1).unwrap() - 0.5).abs() < 1e-15);
        assert!((erlang_b(1.0, 2).unwrap() - 0.2).abs() < 1e-15);
        let ErlangC::Stable(m) = erlang_c(1.0, 100.0, 2, 0.0).unwrap() else {
            panic!("two agents for one Erlang is stable");
        };
        assert!((m.probability_wait - 1.0 / 3.0).abs() < 1e-15);
        // At t = 0 the service level is the share that does not wait.
        assert!((m.service_level - 2.0 / 3.0).abs() < 1e-15);
        // ASA = C·AHT/(N − A) = (1/3)·100/1.
        assert!((m.asa_seconds - 100.0 / 3.0).abs() < 1e-12);
        assert!((m.occupancy - 0.5).abs() < 1e-15);
    }

    #[test]
    fn no_agents_lose_everything_and_zero_traffic_loses_nothing() {
        assert_eq!(erlang_b(3.0, 0).unwrap(), 1.0);
        assert_eq!(erlang_b(0.0, 4).unwrap(), 0.0);
    }

    #[test]
    fn overloaded_queue_is_explicit() {
        assert_eq!(erlang_c(5.0, 60.0, 5, 20.0).unwrap(), ErlangC::Overloaded);
        assert_eq!(erlang_c(5.5, 60.0, 5, 20.0).unwrap(), ErlangC::Overloaded);
        assert!(matches!(
            erlang_c(5.0, 60.0, 6, 20.0).unwrap(),
            ErlangC::Stable(_)
        ));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            erlang_b(-1.0, 3),
            Err(StaffingError::Negative { .. })
        ));
        assert!(matches!(
            erlang_b(f64::NAN, 3),
            Err(StaffingError::NotFinite { .. })
        ));
        assert!(matches!(
            erlang_c(1.0, 0.0, 3, 20.0),
            Err(StaffingError::NotPositive { .. })
        ));
        assert!(matches!(
            erlang_c(1.0, 60.0, 3, -1.0),
            Err(StaffingError::Negative { .. })
        ));
    }
}
