//! Staffing from the log: for each interval and each group of live queues that share agents
//! (a **pool**; a queue with agents of its own is a pool of one), the measured arrivals,
//! handle time and (optionally) patience, the Erlang C or Erlang A requirement for a
//! service-level target ([`crate::staffing`]), the agents actually staffed and the shortfall;
//! understaffed intervals first.
//!
//! Why pools: a multi-skilled agent could take any of several queues, so sizing each queue as
//! if it had agents of its own overstates what small queues need (one chat in an interval
//! "needs" an agent of its own), and comparing each queue with every agent who could take it
//! counts an agent in several places. A pool is sized as one queue, as Erlang's formulas
//! assume: its arrivals added up, their handle times averaged by arrivals, its customers'
//! patience pooled. That assumes every agent of the pool could take every queue of it; where
//! they cannot, the answer is a little optimistic.
//!
//! The measurement is the fold's ([`crate::figures`]): arrivals are the contacts offered in the
//! interval; a queue's handle time is the interval's AHT (the period's, for an interval without
//! a handling); patience is estimated from the whole period (exponential: every second waited
//! over the abandonments). Agents staffed is the pool's share of the agents logged in and not
//! on a break: an agent's time is split among the queues they could take by each one's
//! workload (arrivals times AHT, email included), and the pool has its queues' shares.
//! Deferred channels (email, callbacks) are not queues in Erlang's sense and get no row, but
//! the time agents give them is not counted as staffing the pool.

use serde::Serialize;

use crate::figures::{IntervalFigures, Measured, QueueFigures};
use crate::staffing::{StaffingQuery, plan_staffing};

/// A pool is understaffed when it is short by at least this many agents on average (a tenth
/// of an agent: what one decimal shows).
pub const UNDERSTAFFED_BY: f64 = 0.05;

/// The answer threshold of a pool whose queues' thresholds are unknown: the industry's 20 s.
const DEFAULT_TARGET_SECS: f64 = 20.0;

/// The targets to size for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShortfallQuery {
    /// The share of offered contacts to answer within `target_secs` (e.g. 0.8).
    pub target_sl: f64,
    /// The service-level threshold in seconds (e.g. 20); `None`: each pool's queues' own
    /// configured threshold (the shortest, where they differ; 20 s when unknown).
    pub target_secs: Option<f64>,
    /// Size with Erlang A using the pool's measured patience, when it has abandonments.
    pub patience_from_log: bool,
}

/// One queue's part of a pool's interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueDemand {
    /// The service.
    pub service: String,
    /// The channel.
    pub channel: String,
    /// Contacts offered.
    pub arrivals: u64,
    /// The handle time sized with, in seconds (the interval's, else the period's).
    pub aht_seconds: f64,
    /// The service level measured.
    pub measured_service_level: f64,
}

/// One pool in one interval: what was measured, needed and there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShortfallRow {
    /// The pool's number in [`Measured::pools`] order, from 1.
    pub pool: usize,
    /// The pool's queues.
    pub queues: Vec<QueueDemand>,
    /// The interval's index in [`Measured::intervals`].
    pub interval: usize,
    /// The interval's start, in milliseconds since the Unix epoch.
    pub start_ms: u64,
    /// The interval's end.
    pub end_ms: u64,
    /// The answer threshold sized for, in seconds.
    pub target_secs: f64,
    /// Contacts offered to the pool's queues.
    pub arrivals: u64,
    /// Their handle time, averaged by arrivals, in seconds.
    pub aht_seconds: f64,
    /// The patience sized with (Erlang A), in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience_seconds: Option<f64>,
    /// `erlang_c` or `erlang_a`.
    pub model: &'static str,
    /// The fewest agents meeting the target; absent when it could not be sized (see `note`).
    pub required: Option<u32>,
    /// The service level Erlang predicts with `required` agents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_service_level: Option<f64>,
    /// The average number of agents staffed for the pool (its share of them, see the module).
    pub staffed: f64,
    /// `required - staffed`: positive when understaffed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<f64>,
    /// The service level measured over the pool's queues.
    pub measured_service_level: f64,
    /// Why it could not be sized, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ShortfallRow {
    /// Whether the pool had fewer agents than it needed.
    #[must_use]
    pub fn understaffed(&self) -> bool {
        self.shortfall.is_some_and(|s| s >= UNDERSTAFFED_BY)
    }
}

/// Every pool's intervals with arrivals or agents staffed: understaffed first (the largest
/// shortfall first), then the rest in time order.
#[must_use]
pub fn shortfalls(measured: &Measured, query: &ShortfallQuery) -> Vec<ShortfallRow> {
    let mut rows = Vec::new();
    for (n, pool) in measured.pools.iter().enumerate() {
        let period: Vec<&QueueFigures> = pool
            .iter()
            .filter_map(|&q| measured.figures.queues.get(q))
            .collect();
        let patience = pooled_patience(&period).filter(|_| query.patience_from_log);
        let target_secs = query.target_secs.unwrap_or_else(|| {
            period
                .iter()
                .filter_map(|q| q.service_level_threshold_seconds)
                .reduce(f64::min)
                .unwrap_or(DEFAULT_TARGET_SECS)
        });
        let query = &ShortfallQuery {
            target_secs: Some(target_secs),
            ..*query
        };
        for (i, interval) in measured.intervals.iter().enumerate() {
            if let Some(mut row) = size(pool, &period, interval, patience, query) {
                (row.pool, row.interval) = (n + 1, i);
                rows.push(row);
            }
        }
    }
    rows.sort_by(|a, b| {
        b.understaffed()
            .cmp(&a.understaffed())
            .then_with(|| {
                if a.understaffed() && b.understaffed() {
                    b.shortfall
                        .unwrap_or(0.0)
                        .total_cmp(&a.shortfall.unwrap_or(0.0))
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .then(a.start_ms.cmp(&b.start_ms))
            .then(a.pool.cmp(&b.pool))
    });
    rows
}

/// The pool's customers' mean patience: all their waiting over all their abandonments.
fn pooled_patience(period: &[&QueueFigures]) -> Option<f64> {
    let (waited, abandoned) = period.iter().fold((0.0, 0_u64), |(w, a), q| {
        let waited = q.patience_seconds.map_or(0.0, |p| p * q.abandoned as f64);
        (w + waited, a + q.abandoned)
    });
    (abandoned > 0).then(|| waited / abandoned as f64)
}

/// A queue's demand in an interval, with the period's AHT when the interval had no handling.
fn demand(figures: &QueueFigures, period: &QueueFigures) -> QueueDemand {
    QueueDemand {
        service: figures.service.clone().unwrap_or_default(),
        channel: figures.channel.clone().unwrap_or_default(),
        arrivals: figures.offered,
        aht_seconds: if figures.handlings == 0 {
            period.aht_seconds
        } else {
            figures.aht_seconds
        },
        measured_service_level: figures.service_level,
    }
}

/// One pool in one interval, sized; `None` when it had neither arrivals nor agents.
fn size(
    pool: &[usize],
    period: &[&QueueFigures],
    interval: &IntervalFigures,
    patience: Option<f64>,
    query: &ShortfallQuery,
) -> Option<ShortfallRow> {
    let figures: Vec<&QueueFigures> = pool
        .iter()
        .filter_map(|&q| interval.queues.get(q))
        .collect();
    let queues: Vec<QueueDemand> = figures
        .iter()
        .zip(period)
        .map(|(f, p)| demand(f, p))
        .collect();
    let arrivals: u64 = queues.iter().map(|q| q.arrivals).sum();
    let staffed: f64 = figures.iter().map(|f| f.agents_share).sum();
    if arrivals == 0 && staffed == 0.0 {
        return None;
    }
    let work: f64 = queues
        .iter()
        .map(|q| q.arrivals as f64 * q.aht_seconds)
        .sum();
    let aht_seconds = if arrivals == 0 {
        0.0
    } else {
        work / arrivals as f64
    };
    let (within, counted) = figures.iter().fold((0, 0), |(w, c), f| {
        (
            w + f.answered_within_service_level,
            c + f.service_level_counted(),
        )
    });
    let target_secs = query.target_secs.unwrap_or(DEFAULT_TARGET_SECS);
    let mut row = ShortfallRow {
        pool: 0,
        target_secs,
        queues,
        interval: 0,
        start_ms: interval.start_ms,
        end_ms: interval.end_ms,
        arrivals,
        aht_seconds,
        patience_seconds: patience,
        model: if patience.is_some() {
            "erlang_a"
        } else {
            "erlang_c"
        },
        required: None,
        predicted_service_level: None,
        staffed,
        shortfall: None,
        measured_service_level: if counted == 0 {
            0.0
        } else {
            within as f64 / counted as f64
        },
        note: None,
    };
    if arrivals == 0 {
        (row.required, row.shortfall) = (Some(0), Some(-staffed));
        return Some(row);
    }
    if aht_seconds <= 0.0 {
        row.note = Some("no handle time measured".to_owned());
        return Some(row);
    }
    let staffing = StaffingQuery {
        arrivals_per_interval: arrivals as f64,
        interval_secs: (interval.end_ms - interval.start_ms) as f64 / 1000.0,
        aht_secs: aht_seconds,
        target_sl: query.target_sl,
        target_secs,
        patience_secs: patience,
        shrinkage: 0.0,
        max_asa_secs: None,
        max_occupancy: None,
    };
    match plan_staffing(&staffing) {
        Ok(answer) => {
            row.required = Some(answer.agents);
            row.predicted_service_level = Some(answer.service_level);
            row.shortfall = Some(f64::from(answer.agents) - staffed);
        }
        Err(error) => row.note = Some(error.to_string()),
    }
    Some(row)
}
