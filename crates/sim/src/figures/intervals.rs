//! The intervals a run or a report is measured in: half-open spans between sorted boundaries,
//! of any lengths (a report's local half hours keep their wall-clock times across BST and GMT, so
//! a day may hold 46 or 50 of them; a simulation's are equal from its start).

use std::time::Duration;

use switchboard_core::Timestamp;

/// Consecutive half-open intervals `[b0, b1)`, `[b1, b2)`, ... between strictly increasing
/// boundaries. The first boundary is where measuring can start; the last is the end of the
/// window: events at or after it are outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intervals {
    /// At least two, strictly increasing.
    boundaries: Vec<Timestamp>,
}

/// Why boundaries do not make intervals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntervalsError {
    /// Fewer than two boundaries: not even one interval.
    #[error("intervals need at least two boundaries, got {count}")]
    TooFew {
        /// How many were given.
        count: usize,
    },
    /// A boundary at or before the one before it.
    #[error("interval boundaries must increase: {at} follows {previous}")]
    NotIncreasing {
        /// The boundary before.
        previous: Timestamp,
        /// The boundary that does not follow it.
        at: Timestamp,
    },
}

impl Intervals {
    /// Intervals of `step` from `start`, the last one cut short at `end` if it does not fall on a
    /// step. With `end` at or before `start`, one interval of `step` (a zero step counts as 1 ms).
    #[must_use]
    pub fn uniform(start: Timestamp, end: Timestamp, step: Duration) -> Self {
        let step = step.max(Duration::from_millis(1));
        let end = if end > start { end } else { start + step };
        let mut boundaries = vec![start];
        let mut at = start + step;
        while at < end {
            boundaries.push(at);
            at = at + step;
        }
        boundaries.push(end);
        Self { boundaries }
    }

    /// Intervals between the given boundaries.
    ///
    /// # Errors
    /// Fewer than two boundaries, or boundaries that do not strictly increase.
    pub fn from_boundaries(boundaries: Vec<Timestamp>) -> Result<Self, IntervalsError> {
        if boundaries.len() < 2 {
            return Err(IntervalsError::TooFew {
                count: boundaries.len(),
            });
        }
        if let Some(pair) = boundaries.windows(2).find(|pair| pair[1] <= pair[0]) {
            return Err(IntervalsError::NotIncreasing {
                previous: pair[0],
                at: pair[1],
            });
        }
        Ok(Self { boundaries })
    }

    /// How many intervals (at least one).
    #[must_use]
    pub fn len(&self) -> usize {
        self.boundaries.len() - 1
    }

    /// Never: there is always at least one interval.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The first interval's start.
    #[must_use]
    pub fn start(&self) -> Timestamp {
        self.boundaries[0]
    }

    /// The last interval's end: the end of the window.
    #[must_use]
    pub fn end(&self) -> Timestamp {
        self.boundaries[self.boundaries.len() - 1]
    }

    /// The start and end of interval `i` (`i < len()`).
    #[must_use]
    pub fn bounds(&self, i: usize) -> (Timestamp, Timestamp) {
        (self.boundaries[i], self.boundaries[i + 1])
    }

    /// Every boundary, in order (one more than the intervals).
    #[must_use]
    pub fn boundaries(&self) -> &[Timestamp] {
        &self.boundaries
    }

    /// The interval holding `at`, or `None` outside the window.
    #[must_use]
    pub fn index(&self, at: Timestamp) -> Option<usize> {
        if at < self.start() || at >= self.end() {
            return None;
        }
        Some(self.boundaries.partition_point(|b| *b <= at) - 1)
    }

    /// Splits `[from, to)`, cut to the window, into its parts in each interval: `(interval,
    /// milliseconds)`, in order.
    pub fn split(&self, from: Timestamp, to: Timestamp) -> impl Iterator<Item = (usize, u64)> + '_ {
        let from = from.max(self.start());
        let to = to.min(self.end());
        let mut next = if from < to { self.index(from) } else { None };
        let mut at = from;
        std::iter::from_fn(move || {
            let i = next?;
            let part_end = self.boundaries[i + 1].min(to);
            let ms = part_end.as_millis() - at.as_millis();
            at = part_end;
            next = (part_end < to).then_some(i + 1);
            Some((i, ms))
        })
    }

    /// The length of interval `i` in milliseconds.
    #[must_use]
    pub fn millis(&self, i: usize) -> u64 {
        let (start, end) = self.bounds(i);
        end.as_millis() - start.as_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_millis(secs * 1000)
    }

    #[test]
    fn uniform_intervals_end_at_the_window_end() {
        let intervals = Intervals::uniform(at(0), at(250), Duration::from_secs(100));
        assert_eq!(intervals.boundaries(), [at(0), at(100), at(200), at(250)]);
        assert_eq!(intervals.index(at(0)), Some(0));
        assert_eq!(intervals.index(at(199)), Some(1));
        assert_eq!(intervals.index(at(200)), Some(2));
        assert_eq!(intervals.index(at(250)), None, "the end is outside");
        assert_eq!(intervals.millis(2), 50_000);
    }

    #[test]
    fn a_span_is_split_at_every_boundary_and_cut_to_the_window() {
        let intervals = Intervals::uniform(at(100), at(400), Duration::from_secs(100));
        let parts: Vec<_> = intervals.split(at(50), at(450)).collect();
        assert_eq!(parts, [(0, 100_000), (1, 100_000), (2, 100_000)]);
        let parts: Vec<_> = intervals.split(at(150), at(160)).collect();
        assert_eq!(parts, [(0, 10_000)]);
        let parts: Vec<_> = intervals.split(at(190), at(210)).collect();
        assert_eq!(parts, [(0, 10_000), (1, 10_000)]);
        assert_eq!(intervals.split(at(10), at(20)).count(), 0);
        assert_eq!(intervals.split(at(300), at(300)).count(), 0);
    }

    #[test]
    fn boundaries_must_increase() {
        assert!(matches!(
            Intervals::from_boundaries(vec![at(1)]),
            Err(IntervalsError::TooFew { count: 1 })
        ));
        assert!(matches!(
            Intervals::from_boundaries(vec![at(1), at(3), at(3)]),
            Err(IntervalsError::NotIncreasing { .. })
        ));
        let intervals = Intervals::from_boundaries(vec![at(0), at(10), at(35)]).expect("valid");
        assert_eq!(intervals.len(), 2);
        assert_eq!(intervals.index(at(34)), Some(1));
    }
}
