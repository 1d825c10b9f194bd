//! Staffing maths: how many agents a queue needs "by reference to call handling volumes".
//!
//! A contact-centre manager forecasts the contacts offered in an interval (say 360 calls in a
//! 30-minute interval), knows the average handle time (AHT, talk plus wrap-up) and the service
//! level the service has agreed (say 80% answered within 20 s). [`plan_staffing`] turns that
//! [`StaffingQuery`] into a [`StaffingAnswer`]: the offered traffic, the fewest agents on the
//! phones that meet every target, the rostered head count once shrinkage is added, the
//! performance at that head count and a table of the head counts around it.
//!
//! # Models
//!
//! * Without a patience, the queue is **Erlang C** (M/M/N): Poisson arrivals, exponential handle
//!   times, nobody hangs up. See [`mod@erlang_c`] for the formulas. With `N ≤ A` the queue is
//!   unstable and reported as such ([`ErlangC::Overloaded`]), never as NaN.
//! * With `patience_secs = Some(P)`, the queue is **Erlang A** (M/M/N+M): as Erlang C, but each
//!   waiting caller hangs up after an exponential patience with mean `P`. See [`mod@erlang_a`] for
//!   the definitions (the service level counts *all* offered contacts and is
//!   `P(answered and waited ≤ t)`; the ASA is over answered contacts) and the numerical method.
//!
//! Traffic is `A = λ·AHT` Erlangs with `λ = arrivals_per_interval / interval_secs`.
//!
//! # The search
//!
//! Head counts are tried in increasing order, carrying the Erlang B recurrence along, and the
//! first that meets every target is the answer: the service level at least `target_sl` within
//! `target_secs`, and, when given, the ASA at most `max_asa_secs` and the occupancy at most
//! `max_occupancy`. For Erlang C the search starts just above `A` (nothing below is stable). For
//! Erlang A it starts at `⌊target_sl·A⌋`: the answered share is the carried traffic over the
//! offered, at most `N/A`, and the service level is at most the answered share, so fewer agents
//! can never meet the target. The search gives up with [`StaffingError::TargetUnreachable`] past
//! [`MAX_AGENTS`]. With no contacts forecast the answer is zero agents.
//!
//! # The table
//!
//! [`StaffingAnswer::table`] has one [`StaffingRow`] for each head count from
//! [`TABLE_ROWS_EACH_SIDE`] below the answer to as many above it (clamped to at least one agent
//! when there is any traffic, and to [`MAX_AGENTS`]). An Erlang C row at or below the traffic is
//! overloaded: `probability_wait` 1, `service_level` 0, `occupancy` 1 and `asa_seconds` `None`
//! (unbounded; JSON `null`). `probability_abandon` is `None` for Erlang C.
//!
//! # Shrinkage
//!
//! Shrinkage is the share of paid time in which agents are not available to take contacts
//! (breaks, training, absence). The rostered head count is `⌈agents / (1 − shrinkage)⌉`, see
//! [`rostered_agents`].

pub mod erlang_a;
pub mod erlang_c;
mod error;

use std::fmt;

use serde::Serialize;

pub use erlang_a::{ErlangAMeasures, MAX_SERIES_TERMS, erlang_a};
pub use erlang_c::{ErlangC, ErlangCMeasures, erlang_b, erlang_c};
pub use error::StaffingError;

use erlang_a::ErlangAQueue;
use erlang_c::{erlang_b_step, erlang_c_from_b};
use error::{non_negative, positive};

/// The largest head count the search will try before giving up.
pub const MAX_AGENTS: u32 = 100_000;

/// How many head counts below and above the answer the table shows.
pub const TABLE_ROWS_EACH_SIDE: u32 = 5;

/// What a manager asks: the forecast, the handling and the targets for one queue and interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaffingQuery {
    /// Contacts forecast to be offered in the interval (not negative; zero needs zero agents).
    pub arrivals_per_interval: f64,
    /// The length of the interval in seconds (e.g. 1800 for half an hour).
    pub interval_secs: f64,
    /// The average handle time in seconds, talk plus wrap-up.
    pub aht_secs: f64,
    /// The share of offered contacts to answer within `target_secs`, strictly between 0 and 1
    /// (80% is 0.8).
    pub target_sl: f64,
    /// The service-level threshold in seconds (e.g. 20).
    pub target_secs: f64,
    /// The mean patience of waiting callers in seconds: `Some` selects Erlang A, `None`
    /// Erlang C.
    pub patience_secs: Option<f64>,
    /// The share of paid time agents are unavailable, in `[0, 1)`.
    pub shrinkage: f64,
    /// An optional upper bound on the average speed of answer, in seconds.
    pub max_asa_secs: Option<f64>,
    /// An optional upper bound on occupancy, in `(0, 1]` (85% is 0.85).
    pub max_occupancy: Option<f64>,
}

/// The performance of the queue at one head count: a row of the staffing table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StaffingRow {
    /// Agents on the phones.
    pub agents: u32,
    /// The probability that a contact has to queue (finds every agent busy).
    pub probability_wait: f64,
    /// The share of offered contacts answered within the target time (for Erlang A,
    /// `P(answered and waited ≤ t)`).
    pub service_level: f64,
    /// The average speed of answer in seconds (over answered contacts); `None` when it is
    /// unbounded (an overloaded Erlang C queue) or nobody is answered.
    pub asa_seconds: Option<f64>,
    /// The share of agent time spent handling contacts.
    pub occupancy: f64,
    /// The share of offered contacts that abandon; `None` for Erlang C, which has no
    /// abandonment.
    pub probability_abandon: Option<f64>,
}

/// The answer to a [`StaffingQuery`]. Serialises to JSON with exactly these keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaffingAnswer {
    /// The offered traffic `A = λ·AHT` in Erlangs.
    pub traffic_erlangs: f64,
    /// The fewest agents on the phones that meet every target.
    pub agents: u32,
    /// The head count to roster once shrinkage is allowed for.
    pub rostered_agents: u64,
    /// The service level with `agents` agents.
    pub service_level: f64,
    /// The average speed of answer with `agents` agents, in seconds.
    pub asa_seconds: f64,
    /// The occupancy with `agents` agents.
    pub occupancy: f64,
    /// The probability of queueing with `agents` agents.
    pub probability_wait: f64,
    /// The abandonment share with `agents` agents (Erlang A only).
    pub probability_abandon: Option<f64>,
    /// The performance for head counts around `agents`, in increasing order.
    pub table: Vec<StaffingRow>,
}

/// The validated query with the queueing model it selects.
#[derive(Debug, Clone, Copy)]
struct Plan {
    traffic: f64,
    aht: f64,
    target_sl: f64,
    target_secs: f64,
    shrinkage: f64,
    max_asa: Option<f64>,
    max_occupancy: Option<f64>,
    /// `Some` for Erlang A.
    patience: Option<ErlangAQueue>,
}

impl Plan {
    fn new(query: &StaffingQuery) -> Result<Self, StaffingError> {
        let arrivals = non_negative("arrivals_per_interval", query.arrivals_per_interval)?;
        let interval = positive("interval_secs", query.interval_secs)?;
        let aht = positive("aht_secs", query.aht_secs)?;
        let target_sl = error::finite("target_sl", query.target_sl)?;
        if !(target_sl > 0.0 && target_sl < 1.0) {
            return Err(StaffingError::TargetServiceLevelOutOfRange { value: target_sl });
        }
        let target_secs = non_negative("target_secs", query.target_secs)?;
        let shrinkage = validate_shrinkage(query.shrinkage)?;
        let max_asa = query
            .max_asa_secs
            .map(|v| non_negative("max_asa_secs", v))
            .transpose()?;
        let max_occupancy = query
            .max_occupancy
            .map(|v| {
                let v = error::finite("max_occupancy", v)?;
                if v > 0.0 && v <= 1.0 {
                    Ok(v)
                } else {
                    Err(StaffingError::MaxOccupancyOutOfRange { value: v })
                }
            })
            .transpose()?;
        let arrival_rate = arrivals / interval;
        let patience = query
            .patience_secs
            .map(|p| ErlangAQueue::new(arrival_rate, aht, p))
            .transpose()?;
        Ok(Self {
            traffic: arrival_rate * aht,
            aht,
            target_sl,
            target_secs,
            shrinkage,
            max_asa,
            max_occupancy,
            patience,
        })
    }

    /// The performance with `agents` agents given `blocking = B(agents, A)`.
    fn row(&self, agents: u32, blocking: f64) -> Result<StaffingRow, StaffingError> {
        match &self.patience {
            None => Ok(
                match erlang_c_from_b(self.traffic, self.aht, agents, self.target_secs, blocking) {
                    ErlangC::Stable(m) => StaffingRow {
                        agents,
                        probability_wait: m.probability_wait,
                        service_level: m.service_level,
                        asa_seconds: Some(m.asa_seconds),
                        occupancy: m.occupancy,
                        probability_abandon: None,
                    },
                    ErlangC::Overloaded => StaffingRow {
                        agents,
                        probability_wait: 1.0,
                        service_level: 0.0,
                        asa_seconds: None,
                        occupancy: 1.0,
                        probability_abandon: None,
                    },
                },
            ),
            Some(queue) => {
                let m = queue.measures(agents, self.target_secs, blocking)?;
                Ok(StaffingRow {
                    agents,
                    probability_wait: m.probability_wait,
                    service_level: m.service_level,
                    asa_seconds: m.asa_seconds,
                    occupancy: m.occupancy,
                    probability_abandon: Some(m.probability_abandon),
                })
            }
        }
    }

    /// Whether a row meets every target of the query.
    fn is_met_by(&self, row: &StaffingRow) -> bool {
        let asa_ok = match (self.max_asa, row.asa_seconds) {
            (None, _) => true,
            (Some(max), Some(asa)) => asa <= max,
            (Some(_), None) => false,
        };
        let occupancy_ok = self.max_occupancy.is_none_or(|max| row.occupancy <= max);
        row.service_level >= self.target_sl && asa_ok && occupancy_ok
    }

    /// The first head count worth trying (see the module documentation).
    fn search_start(&self) -> u32 {
        if self.traffic == 0.0 {
            return 0;
        }
        let start = match self.patience {
            None => self.traffic.floor() + 1.0,
            Some(_) => (self.target_sl * self.traffic).floor().max(1.0),
        };
        agents_from_f64(start).unwrap_or(u32::MAX)
    }
}

/// Answers a staffing query: the fewest agents meeting every target, the rostered head count
/// and a table around the answer.
///
/// # Errors
///
/// An input error naming the offending field, [`StaffingError::TargetUnreachable`] if more than
/// [`MAX_AGENTS`] agents would be needed, [`StaffingError::RosterTooLarge`] if the shrinkage
/// grosses the head count beyond a `u64`, or [`StaffingError::PatienceTooLong`] from Erlang A.
pub fn plan_staffing(query: &StaffingQuery) -> Result<StaffingAnswer, StaffingError> {
    let plan = Plan::new(query)?;
    let start = plan.search_start();
    if start > MAX_AGENTS {
        return Err(StaffingError::TargetUnreachable {
            max_agents: MAX_AGENTS,
        });
    }

    let mut blocking = 1.0; // B(0, A)
    let mut answer = None;
    for n in 0..=MAX_AGENTS {
        if n > 0 {
            blocking = erlang_b_step(plan.traffic, n, blocking);
        }
        if n < start {
            continue;
        }
        let row = plan.row(n, blocking)?;
        if plan.is_met_by(&row) {
            answer = Some(row);
            break;
        }
    }
    let Some(best) = answer else {
        return Err(StaffingError::TargetUnreachable {
            max_agents: MAX_AGENTS,
        });
    };

    let lowest = if plan.traffic > 0.0 { 1 } else { 0 };
    let first = best.agents.saturating_sub(TABLE_ROWS_EACH_SIDE).max(lowest);
    let last = best
        .agents
        .saturating_add(TABLE_ROWS_EACH_SIDE)
        .min(MAX_AGENTS);
    let mut table = Vec::with_capacity(2 * TABLE_ROWS_EACH_SIDE as usize + 1);
    let mut blocking = 1.0;
    for n in 0..=last {
        if n > 0 {
            blocking = erlang_b_step(plan.traffic, n, blocking);
        }
        if n >= first {
            table.push(plan.row(n, blocking)?);
        }
    }
    debug_assert!(table.contains(&best));

    // The answer meets the service-level target, which is above 0, so some contacts are
    // answered and the ASA exists.
    let asa_seconds = best
        .asa_seconds
        .expect("a head count meeting a positive service level answers contacts");
    Ok(StaffingAnswer {
        traffic_erlangs: plan.traffic,
        agents: best.agents,
        rostered_agents: rostered_agents(best.agents, plan.shrinkage)?,
        service_level: best.service_level,
        asa_seconds,
        occupancy: best.occupancy,
        probability_wait: best.probability_wait,
        probability_abandon: best.probability_abandon,
        table,
    })
}

/// The head count to roster so that `agents` are on the phones after `shrinkage`:
/// `⌈agents / (1 − shrinkage)⌉`.
///
/// A quotient within `1e-9` (relative) of a whole number is taken as that number, so that
/// rounding such as `70 / (1 − 0.3) = 100.00000000000001` does not add a phantom agent.
///
/// # Errors
///
/// [`StaffingError::ShrinkageOutOfRange`] unless `0 ≤ shrinkage < 1`;
/// [`StaffingError::RosterTooLarge`] if the head count does not fit.
pub fn rostered_agents(agents: u32, shrinkage: f64) -> Result<u64, StaffingError> {
    let shrinkage = validate_shrinkage(shrinkage)?;
    let exact = f64::from(agents) / (1.0 - shrinkage);
    let nearest = exact.round();
    let head_count = if (exact - nearest).abs() <= 1e-9 * nearest.max(1.0) {
        nearest
    } else {
        exact.ceil()
    };
    // 2^53: every whole number up to here is exact in an f64 and fits in a u64.
    const LARGEST_EXACT: f64 = 9_007_199_254_740_992.0;
    if !(0.0..=LARGEST_EXACT).contains(&head_count) {
        return Err(StaffingError::RosterTooLarge { agents, shrinkage });
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a whole number in [0, 2^53], checked just above"
    )]
    Ok(head_count as u64)
}

fn validate_shrinkage(shrinkage: f64) -> Result<f64, StaffingError> {
    let shrinkage = error::finite("shrinkage", shrinkage)?;
    if (0.0..1.0).contains(&shrinkage) {
        Ok(shrinkage)
    } else {
        Err(StaffingError::ShrinkageOutOfRange { value: shrinkage })
    }
}

/// A whole, non-negative `f64` as a head count, or `None` past `u32::MAX`.
fn agents_from_f64(value: f64) -> Option<u32> {
    if (0.0..=f64::from(u32::MAX)).contains(&value) {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "in [0, u32::MAX], checked just above"
        )]
        Some(value as u32)
    } else {
        None
    }
}

/// A readable table for a person, e.g. the CLI without `--json`.
impl fmt::Display for StaffingAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let model = if self.probability_abandon.is_some() {
            "Erlang A, callers may abandon"
        } else {
            "Erlang C, callers never abandon"
        };
        writeln!(
            f,
            "Offered traffic: {:.2} Erlangs ({model})",
            self.traffic_erlangs
        )?;
        writeln!(
            f,
            "Agents needed: {} on the phones, {} rostered after shrinkage",
            self.agents, self.rostered_agents
        )?;
        write!(
            f,
            "At {} agents: service level {}, ASA {:.1} s, occupancy {}, P(wait) {}",
            self.agents,
            Percent(self.service_level),
            self.asa_seconds,
            Percent(self.occupancy),
            Percent(self.probability_wait),
        )?;
        if let Some(abandon) = self.probability_abandon {
            write!(f, ", abandoned {}", Percent(abandon))?;
        }
        writeln!(f)?;
        writeln!(f)?;
        writeln!(
            f,
            "  {:>7}  {:>8}  {:>13}  {:>9}  {:>9}  {:>10}",
            "agents", "P(wait)", "service level", "ASA (s)", "occupancy", "abandoned"
        )?;
        for row in &self.table {
            let marker = if row.agents == self.agents { '>' } else { ' ' };
            let asa = match row.asa_seconds {
                Some(asa) => format!("{asa:.1}"),
                None => "unbounded".to_owned(),
            };
            let abandon = match row.probability_abandon {
                Some(p) => Percent(p).to_string(),
                None => "-".to_owned(),
            };
            writeln!(
                f,
                "{marker} {:>7}  {:>8}  {:>13}  {:>9}  {:>9}  {:>10}",
                row.agents,
                Percent(row.probability_wait).to_string(),
                Percent(row.service_level).to_string(),
                asa,
                Percent(row.occupancy).to_string(),
                abandon,
            )?;
        }
        Ok(())
    }
}

/// A share shown as a percentage with one decimal.
struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}%", self.0 * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinkage_grosses_up_and_rounds_up() {
        assert_eq!(rostered_agents(55, 0.3).unwrap(), 79); // 78.57…
        assert_eq!(rostered_agents(70, 0.3).unwrap(), 100); // not 101 from rounding
        assert_eq!(rostered_agents(54, 0.0).unwrap(), 54);
        assert_eq!(rostered_agents(0, 0.5).unwrap(), 0);
        assert!(matches!(
            rostered_agents(5, 1.0),
            Err(StaffingError::ShrinkageOutOfRange { .. })
        ));
        assert!(matches!(
            rostered_agents(5, -0.1),
            Err(StaffingError::ShrinkageOutOfRange { .. })
        ));
        assert!(matches!(
            rostered_agents(5, f64::NAN),
            Err(StaffingError::NotFinite { .. })
        ));
        assert!(matches!(
            rostered_agents(MAX_AGENTS, 1.0 - 1e-15),
            Err(StaffingError::RosterTooLarge { .. })
        ));
    }
}
