//! Weekly opening hours: for each weekday, a short sorted list of local wall-clock intervals.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Weekday;

use crate::CalendarError;

/// Minutes in a day: an interval may end at 24:00 (`1440`), meaning the next local midnight.
pub(crate) const MINUTES_PER_DAY: u16 = 24 * 60;

/// Bound on opening intervals per weekday (a split shift with lunch is two).
pub const INTERVALS_PER_DAY_MAX: usize = 8;

/// One open interval of a day in local wall-clock time, half-open: open from `start` up to but not
/// including `end`. Stored as minutes since local midnight; `end` may be 24:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpeningInterval {
    /// Minutes since local midnight at which the interval opens, `0..1440`.
    start_minute: u16,
    /// Minutes since local midnight at which it closes, `start_minute < end_minute <= 1440`.
    end_minute: u16,
}

impl OpeningInterval {
    /// An interval from minutes since local midnight, e.g. `from_minutes(510, 1020)` is
    /// 08:30–17:00. Requires `start < end <= 1440`.
    pub const fn from_minutes(start_minute: u16, end_minute: u16) -> Result<Self, CalendarError> {
        if start_minute < end_minute && end_minute <= MINUTES_PER_DAY {
            Ok(Self {
                start_minute,
                end_minute,
            })
        } else {
            Err(CalendarError::InvalidInterval {
                start_minute,
                end_minute,
            })
        }
    }

    /// Parses `HH:MM-HH:MM` (24-hour clock, `24:00` allowed as an end), e.g. `"08:30-17:00"`.
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let bad = |reason| CalendarError::BadOpeningHours {
            text: text.to_owned(),
            reason,
        };
        let (start, end) = text
            .trim()
            .split_once('-')
            .ok_or_else(|| bad("no '-' between the start and end times"))?;
        let start_minute = parse_clock(start.trim()).ok_or_else(|| bad("bad start time"))?;
        let end_minute = parse_clock(end.trim()).ok_or_else(|| bad("bad end time"))?;
        if start_minute >= MINUTES_PER_DAY {
            return Err(bad("the start time must be before 24:00"));
        }
        if end_minute <= start_minute {
            return Err(bad("the end time is not after the start time"));
        }
        Ok(Self {
            start_minute,
            end_minute,
        })
    }

    /// Minutes since local midnight at which it opens.
    pub const fn start_minute(self) -> u16 {
        self.start_minute
    }

    /// Minutes since local midnight at which it closes (up to 1440, i.e. 24:00).
    pub const fn end_minute(self) -> u16 {
        self.end_minute
    }
}

impl FromStr for OpeningInterval {
    type Err = CalendarError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for OpeningInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start_minute / 60,
            self.start_minute % 60,
            self.end_minute / 60,
            self.end_minute % 60
        )
    }
}

/// Parses `HH:MM` (exactly two digits each) into minutes since midnight; `24:00` is allowed.
fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    if minutes >= 60 || hours > 24 || (hours == 24 && minutes != 0) {
        return None;
    }
    Some(hours * 60 + minutes)
}

/// Opening hours for each day of the week, in local wall-clock time.
///
/// Each weekday holds at most [`INTERVALS_PER_DAY_MAX`] sorted, non-overlapping intervals;
/// intervals that touch (12:00-13:00 and 13:00-17:00) are merged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeeklyHours {
    /// Indexed by `Weekday::to_monday_zero_offset`.
    days: [Vec<OpeningInterval>; 7],
}

impl WeeklyHours {
    /// Closed every day.
    pub fn closed() -> Self {
        Self::default()
    }

    /// The same opening hours on all seven days (a 24-hour service, a test calendar).
    pub fn every_day(
        intervals: impl IntoIterator<Item = OpeningInterval>,
    ) -> Result<Self, CalendarError> {
        let intervals: Vec<OpeningInterval> = intervals.into_iter().collect();
        let mut hours = Self::closed();
        for offset in 0..7 {
            let weekday = Weekday::Monday.wrapping_add(offset);
            hours.set(weekday, intervals.iter().copied())?;
        }
        Ok(hours)
    }

    /// The council office hours of DOMAIN.md: Monday–Thursday 08:30–17:00, Friday 08:30–16:30,
    /// closed at weekends.
    pub fn council_default() -> Self {
        const LONG_DAY: OpeningInterval = OpeningInterval {
            start_minute: 8 * 60 + 30,
            end_minute: 17 * 60,
        };
        const FRIDAY: OpeningInterval = OpeningInterval {
            start_minute: 8 * 60 + 30,
            end_minute: 16 * 60 + 30,
        };
        let mut hours = Self::closed();
        for weekday in [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
        ] {
            hours.days[day_index(weekday)] = vec![LONG_DAY];
        }
        hours.days[day_index(Weekday::Friday)] = vec![FRIDAY];
        hours
    }

    /// Replaces the hours of one weekday (an empty list closes it), after checking that the
    /// intervals do not overlap and are few enough.
    pub fn set(
        &mut self,
        weekday: Weekday,
        intervals: impl IntoIterator<Item = OpeningInterval>,
    ) -> Result<(), CalendarError> {
        let mut intervals: Vec<OpeningInterval> = intervals.into_iter().collect();
        if intervals.len() > INTERVALS_PER_DAY_MAX {
            return Err(CalendarError::TooManyIntervals {
                weekday: weekday_name(weekday),
                count: intervals.len(),
                max: INTERVALS_PER_DAY_MAX,
            });
        }
        intervals.sort_unstable();
        let mut merged: Vec<OpeningInterval> = Vec::with_capacity(intervals.len());
        for interval in intervals {
            match merged.last_mut() {
                Some(last) if interval.start_minute < last.end_minute => {
                    return Err(CalendarError::OverlappingIntervals {
                        weekday: weekday_name(weekday),
                        first: last.to_string(),
                        second: interval.to_string(),
                    });
                }
                Some(last) if interval.start_minute == last.end_minute => {
                    last.end_minute = interval.end_minute;
                }
                _ => merged.push(interval),
            }
        }
        self.days[day_index(weekday)] = merged;
        Ok(())
    }

    /// Builder form of [`WeeklyHours::set`].
    pub fn with(
        mut self,
        weekday: Weekday,
        intervals: impl IntoIterator<Item = OpeningInterval>,
    ) -> Result<Self, CalendarError> {
        self.set(weekday, intervals)?;
        Ok(self)
    }

    /// The intervals of one weekday, sorted.
    pub fn on(&self, weekday: Weekday) -> &[OpeningInterval] {
        &self.days[day_index(weekday)]
    }

    /// Whether no weekday has any opening hours.
    pub fn is_always_closed(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }
}

/// Index of a weekday in `WeeklyHours::days`.
fn day_index(weekday: Weekday) -> usize {
    usize::from(weekday.to_monday_zero_offset().unsigned_abs())
}

/// The English name of a weekday, for messages.
pub(crate) fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_intervals() {
        let interval = OpeningInterval::parse(" 08:30 - 17:00 ").unwrap();
        assert_eq!(interval.start_minute(), 510);
        assert_eq!(interval.end_minute(), 1020);
        assert_eq!(interval.to_string(), "08:30-17:00");
        assert_eq!(
            OpeningInterval::parse("00:00-24:00").unwrap().end_minute(),
            1440
        );
    }

    #[test]
    fn rejects_bad_intervals_with_reasons() {
        for (text, reason) in [
            ("08:30", "no '-'"),
            ("8:30-17:00", "bad start"),
            ("08:30-17:60", "bad end"),
            ("08:30-25:00", "bad end"),
            ("24:00-24:00", "before 24:00"),
            ("17:00-08:30", "not after"),
            ("09:00-09:00", "not after"),
        ] {
            let error = OpeningInterval::parse(text).unwrap_err();
            assert!(error.to_string().contains(reason), "{text}: {error}");
        }
        assert!(OpeningInterval::from_minutes(600, 600).is_err());
        assert!(OpeningInterval::from_minutes(0, 1441).is_err());
    }

    #[test]
    fn merges_touching_and_rejects_overlapping_intervals() {
        let lunch_split = ["13:00-17:00", "08:30-12:00", "12:00-13:00"]
            .map(|text| OpeningInterval::parse(text).unwrap());
        let hours = WeeklyHours::closed()
            .with(Weekday::Monday, lunch_split)
            .unwrap();
        assert_eq!(
            hours.on(Weekday::Monday),
            [OpeningInterval::parse("08:30-17:00").unwrap()]
        );
        let overlapping =
            ["08:30-12:30", "12:00-17:00"].map(|text| OpeningInterval::parse(text).unwrap());
        let error = WeeklyHours::closed()
            .with(Weekday::Tuesday, overlapping)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "opening hours on Tuesday overlap: 08:30-12:30 and 12:00-17:00"
        );
    }
}
