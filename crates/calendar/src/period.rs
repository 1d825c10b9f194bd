//! One-off periods in local civil time: closures (training afternoons, a flood) and extra
//! openings (election weekends).

use std::fmt;

use jiff::civil::{Date, DateTime, Time};

use crate::CalendarError;
use crate::hours::MINUTES_PER_DAY;

/// A half-open span of local date-times, `[start, end)`, to the minute.
///
/// Local means in the calendar's time zone: "closed 2026-12-24 from 12:00" is written as the wall
/// clock reads, whatever the UTC offset that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    /// First local minute inside the period.
    start: DateTime,
    /// First local minute after it.
    end: DateTime,
}

impl Period {
    /// The local span `[start, end)`; both must be whole minutes and `end` after `start`.
    pub fn new(start: DateTime, end: DateTime) -> Result<Self, CalendarError> {
        for moment in [start, end] {
            if moment.second() != 0 || moment.subsec_nanosecond() != 0 {
                return Err(CalendarError::NotWholeMinutes {
                    text: moment.to_string(),
                });
            }
        }
        if end <= start {
            return Err(CalendarError::EmptyPeriod {
                start: start.to_string(),
                end: end.to_string(),
            });
        }
        Ok(Self { start, end })
    }

    /// Whole days from `first` to `last` inclusive.
    pub fn days(first: Date, last: Date) -> Result<Self, CalendarError> {
        let end = last
            .tomorrow()
            .map_err(|_| CalendarError::EmptyPeriod {
                start: first.to_string(),
                end: last.to_string(),
            })?
            .to_datetime(Time::midnight());
        Self::new(first.to_datetime(Time::midnight()), end)
    }

    /// One whole day.
    pub fn day(date: Date) -> Result<Self, CalendarError> {
        Self::days(date, date)
    }

    /// The first local minute inside the period.
    pub fn start(&self) -> DateTime {
        self.start
    }

    /// The first local minute after the period.
    pub fn end(&self) -> DateTime {
        self.end
    }

    /// The part of this period that falls on `date`, as minutes since local midnight
    /// (`0..=1440`), or `None` if it does not touch that date.
    pub(crate) fn minutes_on(&self, date: Date) -> Option<(u16, u16)> {
        let day_start = date.to_datetime(Time::midnight());
        if self.end <= day_start || self.start.date() > date {
            return None;
        }
        let start = if self.start <= day_start {
            0
        } else {
            minute_of_day(self.start)
        };
        let end = if self.end.date() > date {
            MINUTES_PER_DAY
        } else {
            minute_of_day(self.end)
        };
        (start < end).then_some((start, end))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Minutes since midnight of a local date-time (seconds are zero by construction).
fn minute_of_day(moment: DateTime) -> u16 {
    // Hours are 0..=23 and minutes 0..=59, so neither cast can lose anything.
    u16::from(moment.hour().unsigned_abs()) * 60 + u16::from(moment.minute().unsigned_abs())
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn clips_to_a_day_in_minutes() {
        let afternoon = Period::new(
            date(2026, 12, 24).at(12, 0, 0, 0),
            date(2026, 12, 24).at(17, 0, 0, 0),
        )
        .unwrap();
        assert_eq!(afternoon.minutes_on(date(2026, 12, 24)), Some((720, 1020)));
        assert_eq!(afternoon.minutes_on(date(2026, 12, 23)), None);
        assert_eq!(afternoon.minutes_on(date(2026, 12, 25)), None);

        let week = Period::days(date(2026, 12, 29), date(2026, 12, 31)).unwrap();
        assert_eq!(week.minutes_on(date(2026, 12, 28)), None);
        assert_eq!(week.minutes_on(date(2026, 12, 29)), Some((0, 1440)));
        assert_eq!(week.minutes_on(date(2026, 12, 31)), Some((0, 1440)));
        assert_eq!(week.minutes_on(date(2027, 1, 1)), None);

        let overnight = Period::new(
            date(2026, 6, 1).at(22, 0, 0, 0),
            date(2026, 6, 2).at(6, 30, 0, 0),
        )
        .unwrap();
        assert_eq!(overnight.minutes_on(date(2026, 6, 1)), Some((1320, 1440)));
        assert_eq!(overnight.minutes_on(date(2026, 6, 2)), Some((0, 390)));
    }

    #[test]
    fn rejects_empty_and_fractional_periods() {
        let noon = date(2026, 1, 5).at(12, 0, 0, 0);
        assert!(matches!(
            Period::new(noon, noon),
            Err(CalendarError::EmptyPeriod { .. })
        ));
        assert!(matches!(
            Period::new(noon, date(2026, 1, 5).at(12, 0, 30, 0)),
            Err(CalendarError::NotWholeMinutes { .. })
        ));
        assert!(Period::days(date(2026, 1, 6), date(2026, 1, 5)).is_err());
    }
}
