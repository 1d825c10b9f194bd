//! Erlang A (M/M/N+M, "Palm's queue"): Erlang C plus callers who hang up when their patience
//! runs out, computed exactly by a log-scaled series over the queue states.
//!
//! # Model
//!
//! As in Erlang C, contacts arrive as a Poisson stream at rate `λ`, handle times are exponential
//! with mean `AHT = 1/μ`, and `N` agents serve one queue first come, first served. In addition
//! each waiting caller has an exponentially distributed patience with mean `P = 1/θ`, independent
//! of everything else, and abandons (hangs up) when it runs out before an agent answers. The
//! queue is stable for every `N`, including `N ≤ A`, because the abandonment rate grows with the
//! queue.
//!
//! # Definitions
//!
//! In the notation of Mandelbaum & Zeltyn ("The M/M/n+G queue: summary of performance
//! measures"; "Service engineering in action: the Palm/Erlang-A queue"), write `V` for the
//! *offered* wait (how long a caller with infinite patience would wait), `τ` for the caller's
//! patience and `W = min(V, τ)` for the actual time spent in the queue. A caller is *answered*
//! (served, `Sr`) when `V < τ` and abandons (`Ab`) otherwise. The formulas below are derived in
//! this file from the birth–death chain and checked in the tests against an explicitly solved
//! chain, not transcribed from the papers. This module reports:
//!
//! * `probability_wait = P(V > 0)`: the caller finds every agent busy (by PASTA, the
//!   stationary probability of at least `N` contacts in the system).
//! * `probability_abandon = P(V ≥ τ)`: the share of all offered contacts that hang up.
//! * `service_level = P(answered and W ≤ t) = P(V ≤ t, V < τ)`: the share of **all offered**
//!   contacts that are answered within `t`. Abandoned contacts count against it whenever they
//!   hung up, which is how a contact centre's "share of calls answered within 20 s" is usually
//!   reported and is the conservative choice (it is never above the other common definition).
//!   `service_level_of_answered = P(W ≤ t | answered)` is reported too.
//! * `asa_seconds = E[W | answered]`: the average speed of answer over **answered** contacts,
//!   which is what an ACD reports as ASA. `mean_wait_seconds = E[W]` over all offered contacts
//!   (answered or not) is reported too; by Little's law and the abandonment rate `θ·E[queue]`,
//!   `E[W] = P(abandon)·P`.
//! * `occupancy = A·P(answered) / N`: the share of agent time spent handling (only answered
//!   contacts load the agents).
//!
//! # Formulas
//!
//! In units of the patience, let `x = Nμ/θ = N·P/AHT` and `y = λ/θ = λ·P`. A caller who arrives
//! to find all `N` agents busy and `j` callers already waiting moves up one place at rate
//! `θ·(x + i)` while `i` callers are ahead of them and is answered at rate `θ·x` at the head of
//! the queue; their own patience ends at rate `θ`. Hence, given `j`:
//!
//! * `P(answered | j) = ∏_{i=0..j} (x+i)/(x+i+1) = x/(x+j+1)`;
//! * `E[W·1{answered} | j] = x/(x+j+1) · (1/θ) · Σ_{i=1..j+1} 1/(x+i)` (differentiate the
//!   Laplace transform of the offered wait, a sum of exponentials, at `θ`).
//!
//! The stationary probabilities of the queue states are `π_{N+j} = π_N·t_j` with `t_0 = 1` and
//! `t_j = t_{j−1}·y/(x+j)`. Writing `S = Σ_j t_j` and `E = B(N, A)` (Erlang B, by the stable
//! recurrence of [`super::erlang_b`]):
//!
//! * `P(V > 0) = S·E / (1 − E + S·E)`;
//! * `P(abandon) = P(V > 0) · Σ_j t_j (j+1)/(x+j+1) / S`;
//! * `E[W·1{answered}] = P(V > 0) · P · Σ_j t_j x/(x+j+1) Σ_{i=1..j+1} 1/(x+i) / S`.
//!
//! For the service level, `P(V > t | V > 0) = γ(x, y·e^{−θt}) / γ(x, y)` with `γ` the lower
//! incomplete gamma function, and integrating `e^{−θv}` against that law gives
//! `P(answered, V > t | V > 0) = u^{x+1} e^{y(1−u)} · S_a(y·u) / S(y)` where `u = e^{−θt}` and
//! `S_a(z) = Σ_j z^j x / ∏_{i=1..j+1}(x+i)` is the same series with the answered weight. So the
//! service level is `1 − P(V>0) + P(V>0)·[S_a(y) − u^{x+1} e^{y(1−u)} S_a(y·u)] / S(y)`. The
//! lower incomplete gamma functions are never formed: only ratios of these series are needed,
//! and `γ(x, z) = z^x e^{−z} S(z)/x` makes `Γ(x)` cancel.
//!
//! # Method, truncation and accuracy
//!
//! The series are summed term by term from `j = 0`, multiplying by the ratio `z/(x+j+1)`. The
//! terms are kept in a scaled form (a mantissa and a separate natural-log scale, renormalised
//! whenever a term passes `1e150`), so queues of thousands of agents and long patience neither
//! overflow nor underflow, and the sums are of positive terms only, so nothing cancels. The sum
//! stops at the first `j` past the peak (ratio below 1) where the geometric bound on the rest,
//! `t_j·r/(1−r)` with `r` the next ratio, is below `1e-17` of the sum so far; since the ratios
//! keep falling that bound is rigorous for `S`, and the weighted sums (weights at most 1, or
//! growing like a harmonic sum) carry a relative truncation error of the same order. Rounding
//! grows with the number of terms (about `j·1e-16` relative), so in practice results agree with
//! an exact computation to better than `1e-10`. The number of terms is about
//! `max(0, y − x) + c·√y`; it is bounded by [`MAX_SERIES_TERMS`], beyond which
//! [`StaffingError::PatienceTooLong`] is returned (only a heavily overloaded queue with a
//! patience many thousands of times the handle time gets there, and that queue is Erlang C in
//! all but name).

use crate::staffing::erlang_c::erlang_b;
use crate::staffing::error::{StaffingError, non_negative, positive};

/// The bound on the number of terms of one Erlang A series.
pub const MAX_SERIES_TERMS: u32 = 10_000_000;

/// Terms are renormalised when they grow past this, to keep sums far from overflow.
const RESCALE_ABOVE: f64 = 1e150;

/// The sum stops when the bound on the remaining terms is below this share of the sum.
const TAIL_TOLERANCE: f64 = 1e-17;

/// The performance of an Erlang A queue with a given number of agents. See the module
/// documentation for the precise definitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangAMeasures {
    /// `P(V > 0)`: the probability that a contact finds every agent busy and has to queue.
    pub probability_wait: f64,
    /// The share of offered contacts that abandon before being answered.
    pub probability_abandon: f64,
    /// The share of offered contacts that are answered, `1 − probability_abandon`.
    pub probability_answered: f64,
    /// `P(answered and waited at most t)`: the share of all offered contacts answered within
    /// the target time.
    pub service_level: f64,
    /// `P(waited at most t | answered)`; `None` when no contact is answered (zero agents).
    pub service_level_of_answered: Option<f64>,
    /// `E[wait | answered]` in seconds; `None` when no contact is answered (zero agents).
    pub asa_seconds: Option<f64>,
    /// `E[wait]` over all offered contacts, answered or abandoned, in seconds.
    pub mean_wait_seconds: f64,
    /// The share of agent time spent handling, `A·P(answered)/N` (0 with zero agents).
    pub occupancy: f64,
}

/// The Erlang A measures for `agents` agents, contacts arriving at `arrival_rate_per_sec`
/// with mean handle time `aht_secs` and mean patience `patience_secs`, with the service level
/// measured at `target_secs`.
///
/// # Errors
///
/// An input error if the arrival rate or the target time is negative or not finite, or the
/// handle time or the patience is not a positive finite number;
/// [`StaffingError::PatienceTooLong`] if the series would exceed [`MAX_SERIES_TERMS`] terms.
pub fn erlang_a(
    arrival_rate_per_sec: f64,
    aht_secs: f64,
    patience_secs: f64,
    agents: u32,
    target_secs: f64,
) -> Result<ErlangAMeasures, StaffingError> {
    let queue = ErlangAQueue::new(arrival_rate_per_sec, aht_secs, patience_secs)?;
    let target = non_negative("target_secs", target_secs)?;
    let blocking = erlang_b(queue.traffic(), agents)?;
    queue.measures(agents, target, blocking)
}

/// A validated Erlang A queue: arrival rate, handle time and patience.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErlangAQueue {
    /// Contacts offered per second, `λ`.
    arrival_rate: f64,
    /// Mean handle time in seconds, `1/μ`.
    aht: f64,
    /// Mean patience in seconds, `1/θ`.
    patience: f64,
}

impl ErlangAQueue {
    /// Validates the three rates of the queue.
    pub(crate) fn new(
        arrival_rate_per_sec: f64,
        aht_secs: f64,
        patience_secs: f64,
    ) -> Result<Self, StaffingError> {
        Ok(Self {
            arrival_rate: non_negative("arrival_rate_per_sec", arrival_rate_per_sec)?,
            aht: positive("aht_secs", aht_secs)?,
            patience: positive("patience_secs", patience_secs)?,
        })
    }

    /// The offered traffic `A = λ·AHT` in Erlangs.
    pub(crate) fn traffic(&self) -> f64 {
        self.arrival_rate * self.aht
    }

    /// The measures with `agents` agents, given `blocking = B(agents, A)` from the Erlang B
    /// recurrence and a validated target time.
    pub(crate) fn measures(
        &self,
        agents: u32,
        target: f64,
        blocking: f64,
    ) -> Result<ErlangAMeasures, StaffingError> {
        if self.arrival_rate == 0.0 {
            return Ok(ErlangAMeasures {
                probability_wait: 0.0,
                probability_abandon: 0.0,
                probability_answered: 1.0,
                service_level: 1.0,
                service_level_of_answered: Some(1.0),
                asa_seconds: Some(0.0),
                mean_wait_seconds: 0.0,
                occupancy: 0.0,
            });
        }
        let n = f64::from(agents);
        let x = n * self.patience / self.aht;
        let y = self.arrival_rate * self.patience;
        let main = QueueSeries::sum(x, y)?;
        let ln_total = main.ln(main.total);

        // P(V > 0) = S·E / (1 − E + S·E) = 1 / (1 + (1 − E)/(E·S)), in logs.
        let probability_wait = if blocking <= 0.0 {
            0.0
        } else {
            let ln_odds_against = (-blocking).ln_1p() - blocking.ln() - ln_total;
            1.0 / (1.0 + ln_odds_against.exp())
        };
        let answered_if_wait = main.answered / main.total;
        let abandon_if_wait = main.abandoned / main.total;
        let probability_abandon = probability_wait * abandon_if_wait;
        let probability_answered = (1.0 - probability_wait) + probability_wait * answered_if_wait;

        // P(answered, V > t | V > 0) = u^{x+1}·e^{y(1−u)}·S_a(y·u)/S(y), u = e^{−θt}.
        let theta_t = target / self.patience;
        let late_if_wait = if main.answered == 0.0 {
            0.0
        } else if theta_t == 0.0 {
            answered_if_wait
        } else {
            let u = (-theta_t).exp();
            let tail = QueueSeries::sum(x, y * u)?;
            // y·(1 − u) = −y·expm1(−θt), exact even for tiny θt.
            let ln_late =
                tail.ln(tail.answered) - (x + 1.0) * theta_t - y * (-theta_t).exp_m1() - ln_total;
            ln_late.exp().min(answered_if_wait)
        };
        let service_level = ((1.0 - probability_wait)
            + probability_wait * (answered_if_wait - late_if_wait))
            .clamp(0.0, 1.0);

        let answered_wait = probability_wait * (main.answered_wait / main.total) * self.patience;
        let (asa_seconds, service_level_of_answered) = if probability_answered > 0.0 {
            (
                Some(answered_wait / probability_answered),
                Some((service_level / probability_answered).min(1.0)),
            )
        } else {
            (None, None)
        };
        let occupancy = if agents == 0 {
            0.0
        } else {
            (self.traffic() * probability_answered / n).min(1.0)
        };
        let measures = ErlangAMeasures {
            probability_wait,
            probability_abandon,
            probability_answered,
            service_level,
            service_level_of_answered,
            asa_seconds,
            mean_wait_seconds: probability_abandon * self.patience,
            occupancy,
        };
        debug_assert!(
            measures.is_sane(),
            "Erlang A measures out of range: {measures:?}"
        );
        Ok(measures)
    }
}

impl ErlangAMeasures {
    /// Every probability in `[0, 1]` and every time finite and non-negative.
    fn is_sane(&self) -> bool {
        let unit = |p: f64| (0.0..=1.0).contains(&p);
        let time = |s: f64| s.is_finite() && s >= 0.0;
        unit(self.probability_wait)
            && unit(self.probability_abandon)
            && unit(self.probability_answered)
            && unit(self.service_level)
            && self.service_level_of_answered.is_none_or(unit)
            && self.asa_seconds.is_none_or(time)
            && time(self.mean_wait_seconds)
            && unit(self.occupancy)
    }
}

/// The sums over the queue states `j ≥ 0` of `t_j = z^j / ∏_{i=1..j}(x+i)` with the weights of
/// the module documentation, all stored divided by `e^{ln_scale}`.
#[derive(Debug, Clone, Copy)]
struct QueueSeries {
    /// The natural log of the common factor the sums below are divided by.
    ln_scale: f64,
    /// `Σ t_j`.
    total: f64,
    /// `Σ t_j · x/(x+j+1)`: weighted by the chance of being answered.
    answered: f64,
    /// `Σ t_j · (j+1)/(x+j+1)`: weighted by the chance of abandoning.
    abandoned: f64,
    /// `Σ t_j · x/(x+j+1) · Σ_{i=1..j+1} 1/(x+i)`: weighted by the answered wait, in units of
    /// the mean patience.
    answered_wait: f64,
}

impl QueueSeries {
    /// Sums the series for `x = N·P/AHT` and `z` (`y = λ·P` or `y·e^{−θt}`).
    fn sum(x: f64, z: f64) -> Result<Self, StaffingError> {
        debug_assert!(x >= 0.0 && z >= 0.0 && x.is_finite() && z.is_finite());
        let limit = f64::from(MAX_SERIES_TERMS);
        if z - x > limit {
            return Err(StaffingError::PatienceTooLong {
                terms: z - x,
                limit: MAX_SERIES_TERMS,
            });
        }
        let mut sums = Self {
            ln_scale: 0.0,
            total: 0.0,
            answered: 0.0,
            abandoned: 0.0,
            answered_wait: 0.0,
        };
        let mut term = 1.0;
        let mut harmonic = 0.0;
        let mut waiting_ahead = 0.0_f64; // j, as a float
        for _ in 0..MAX_SERIES_TERMS {
            let places = x + waiting_ahead + 1.0; // x + j + 1
            harmonic += 1.0 / places;
            let answered_share = x / places;
            sums.total += term;
            sums.answered += term * answered_share;
            sums.abandoned += term * ((waiting_ahead + 1.0) / places);
            sums.answered_wait += term * answered_share * harmonic;

            let ratio = z / places; // t_{j+1} / t_j
            if ratio < 1.0 && term * ratio / (1.0 - ratio) <= TAIL_TOLERANCE * sums.total {
                return Ok(sums);
            }
            term *= ratio;
            if term > RESCALE_ABOVE {
                term /= RESCALE_ABOVE;
                sums.total /= RESCALE_ABOVE;
                sums.answered /= RESCALE_ABOVE;
                sums.abandoned /= RESCALE_ABOVE;
                sums.answered_wait /= RESCALE_ABOVE;
                sums.ln_scale += RESCALE_ABOVE.ln();
            }
            waiting_ahead += 1.0;
        }
        Err(StaffingError::PatienceTooLong {
            terms: limit + 1.0,
            limit: MAX_SERIES_TERMS,
        })
    }

    /// The natural log of one of the sums, undoing the scale (`-inf` for a zero sum).
    fn ln(&self, scaled: f64) -> f64 {
        scaled.ln() + self.ln_scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With `z = 0` only `t_0 = 1` contributes.
    #[test]
    fn empty_series_is_one_term() {
        let s = QueueSeries::sum(3.0, 0.0).unwrap();
        assert_eq!(s.total, 1.0);
        assert!((s.answered - 0.75).abs() < 1e-15);
        assert!((s.abandoned - 0.25).abs() < 1e-15);
    }

    /// With `x = 0` (no agents) the series is `Σ z^j/j! = e^z`, even where `e^z` overflows.
    #[test]
    fn series_with_no_agents_is_the_exponential() {
        let s = QueueSeries::sum(0.0, 2.0).unwrap();
        assert!((s.ln(s.total) - 2.0).abs() < 1e-13);
        let s = QueueSeries::sum(0.0, 2000.0).unwrap();
        assert!((s.ln(s.total) - 2000.0).abs() < 1e-9);
        assert_eq!(s.answered, 0.0);
    }

    #[test]
    fn zero_agents_abandon_everything() {
        let m = erlang_a(0.1, 100.0, 60.0, 0, 20.0).unwrap();
        assert_eq!(m.probability_wait, 1.0);
        assert!((m.probability_abandon - 1.0).abs() < 1e-12);
        assert_eq!(m.service_level, 0.0);
        assert_eq!(m.asa_seconds, None);
    }

    #[test]
    fn bad_patience_is_an_error() {
        assert!(matches!(
            erlang_a(0.1, 100.0, 0.0, 3, 20.0),
            Err(StaffingError::NotPositive {
                field: "patience_secs",
                ..
            })
        ));
        assert!(matches!(
            erlang_a(0.1, 100.0, f64::INFINITY, 3, 20.0),
            Err(StaffingError::NotFinite { .. })
        ));
    }

    #[test]
    fn absurd_patience_in_overload_is_refused_not_hung() {
        // 100 Erlangs on 50 agents with a patience of ten years.
        assert!(matches!(
            erlang_a(1.0, 100.0, 3.0e8, 50, 20.0),
            Err(StaffingError::PatienceTooLong { .. })
        ));
    }
}
