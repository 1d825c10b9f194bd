//! The business calendar: when a service is open, which days are working days, and when
//! "within N working days" falls due. The rules are written down in the crate documentation.

use std::borrow::Cow;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{TimeZone, TimeZoneDatabase};

use crate::hours::{MINUTES_PER_DAY, OpeningInterval, WeeklyHours};
use crate::{CalendarError, Period, england_and_wales_bank_holidays};

/// Bound on how many days ahead [`BusinessCalendar::next_open`] (and every other search for
/// the next open time or working day) looks before giving up.
pub const SEARCH_DAYS_MAX: u32 = 366;

/// Bound on the `n` of [`BusinessCalendar::add_working_days`] (about forty years).
pub const WORKING_DAYS_MAX: u32 = 10_000;

/// Bound on the days spanned by [`BusinessCalendar::working_days_between`] and
/// [`BusinessCalendar::working_time_between`] (about a century).
pub const SPAN_DAYS_MAX: u32 = 36_600;

/// The time zone of [`BusinessCalendar::council_default`].
pub const DEFAULT_TIME_ZONE: &str = "Europe/London";

/// Looks a time zone up by IANA name in the time zone database bundled into this crate, so that
/// results never depend on the host's `/usr/share/zoneinfo`.
pub fn time_zone(name: &str) -> Result<TimeZone, CalendarError> {
    TimeZoneDatabase::bundled()
        .get(name)
        .map_err(|_| CalendarError::UnknownTimeZone {
            name: name.to_owned(),
        })
}

/// Opening hours, public holidays and one-off exceptions in one time zone, answering "is it
/// open?", "when does it next open or close?" and "when is N working days from now?".
///
/// Pure: it reads no clock and does no I/O; every instant is an argument. See the crate
/// documentation for the rules.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    /// All wall-clock times and dates are read in this zone.
    time_zone: TimeZone,
    /// The regular week.
    hours: WeeklyHours,
    /// Days closed all day, sorted and without duplicates.
    holidays: Vec<Date>,
    /// One-off closures, sorted by start.
    closures: Vec<Period>,
    /// One-off extra openings, sorted by start.
    extra_openings: Vec<Period>,
}

/// Two calendars are equal when they give the same answers by construction: the same time zone
/// (by IANA name, or by its description for a zone without one), weekly hours, holidays, closures
/// and extra openings.
impl PartialEq for BusinessCalendar {
    fn eq(&self, other: &Self) -> bool {
        let zone = |tz: &TimeZone| {
            tz.iana_name()
                .map_or_else(|| format!("{tz:?}"), str::to_owned)
        };
        zone(&self.time_zone) == zone(&other.time_zone)
            && self.hours == other.hours
            && self.holidays == other.holidays
            && self.closures == other.closures
            && self.extra_openings == other.extra_openings
    }
}

impl Eq for BusinessCalendar {}

impl BusinessCalendar {
    /// A calendar with these weekly hours and no holidays or exceptions. Fails if the week has
    /// no opening hours at all.
    pub fn new(time_zone: TimeZone, hours: WeeklyHours) -> Result<Self, CalendarError> {
        if hours.is_always_closed() {
            return Err(CalendarError::NeverOpen);
        }
        Ok(Self {
            time_zone,
            hours,
            holidays: Vec::new(),
            closures: Vec::new(),
            extra_openings: Vec::new(),
        })
    }

    /// The council calendar of DOMAIN.md: Europe/London, Monday–Thursday 08:30–17:00, Friday
    /// 08:30–16:30, closed at weekends and on England and Wales bank holidays (2025–2028).
    pub fn council_default() -> Self {
        // The bundled database is compiled into the binary (`tzdb-bundle-always`) and always
        // contains Europe/London; a unit test checks it. UTC would be wrong, so no fallback.
        let london = time_zone(DEFAULT_TIME_ZONE).expect("the bundled tzdb has Europe/London");
        Self {
            time_zone: london,
            hours: WeeklyHours::council_default(),
            holidays: england_and_wales_bank_holidays().to_vec(),
            closures: Vec::new(),
            extra_openings: Vec::new(),
        }
    }

    /// Adds days on which the calendar is closed all day.
    #[must_use]
    pub fn with_holidays(mut self, dates: impl IntoIterator<Item = Date>) -> Self {
        self.holidays.extend(dates);
        self.holidays.sort_unstable();
        self.holidays.dedup();
        self
    }

    /// Adds a one-off closure: the calendar is closed during `period`, whatever its hours.
    #[must_use]
    pub fn with_closure(mut self, period: Period) -> Self {
        self.closures.push(period);
        self.closures.sort_unstable();
        self
    }

    /// Adds a one-off extra opening: the calendar is open during `period`, even on a weekend,
    /// a holiday or in a closure.
    #[must_use]
    pub fn with_extra_opening(mut self, period: Period) -> Self {
        self.extra_openings.push(period);
        self.extra_openings.sort_unstable();
        self
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// The regular weekly hours.
    pub fn hours(&self) -> &WeeklyHours {
        &self.hours
    }

    /// The holidays, sorted.
    pub fn holidays(&self) -> &[Date] {
        &self.holidays
    }

    /// The one-off closures, sorted by start.
    pub fn closures(&self) -> &[Period] {
        &self.closures
    }

    /// The one-off extra openings, sorted by start.
    pub fn extra_openings(&self) -> &[Period] {
        &self.extra_openings
    }

    /// The local date of an instant in the calendar's time zone.
    pub fn local_date(&self, at: Timestamp) -> Date {
        self.time_zone.to_datetime(at).date()
    }

    /// The opening hours that apply on `date` after holidays, closures and extra openings, in
    /// local wall-clock time, sorted and non-overlapping.
    pub fn opening_hours_on(&self, date: Date) -> Vec<OpeningInterval> {
        self.intervals_on(date).into_owned()
    }

    /// The open periods of `date` as instants `[open, close)`, in order. A wall-clock time in a
    /// daylight-saving gap moves forward by the gap's length and one in a fold means the earlier
    /// instant (RFC 5545's rule, jiff's "compatible"); a period that comes out empty is skipped.
    pub fn open_periods(&self, date: Date) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let intervals = self.intervals_on(date);
        let mut next = 0;
        std::iter::from_fn(move || {
            loop {
                let interval = intervals.get(next)?;
                next += 1;
                let open = self.instant(date, interval.start_minute())?;
                let close = self.instant(date, interval.end_minute())?;
                if open < close {
                    return Some((open, close));
                }
            }
        })
    }

    /// Whether `date` is a working day: the calendar is open at some time on it.
    pub fn is_working_day(&self, date: Date) -> bool {
        self.open_periods(date).next().is_some()
    }

    /// The close of business on `date`: the end of its last open period, or `None` if it is not
    /// a working day.
    pub fn close_of_business(&self, date: Date) -> Option<Timestamp> {
        self.open_periods(date).last().map(|(_, close)| close)
    }

    /// Whether the calendar is open at `at` (open periods include their opening instant and
    /// exclude their closing instant).
    pub fn is_open(&self, at: Timestamp) -> bool {
        self.open_periods(self.local_date(at))
            .any(|(open, close)| open <= at && at < close)
    }

    /// The earliest instant at or after `at` at which the calendar is open: `at` itself if open,
    /// else the next opening. `None` if it does not open within [`SEARCH_DAYS_MAX`] days.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        let mut date = self.local_date(at);
        for _ in 0..=SEARCH_DAYS_MAX {
            if let Some((open, _)) = self.open_periods(date).find(|&(_, close)| at < close) {
                return Some(open.max(at));
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// When the calendar next closes: the end of the open period containing `at` or, if closed
    /// at `at`, of the next open period. Periods that meet (24:00 then 00:00) count as one.
    /// `None` if it never opens, or never closes, within [`SEARCH_DAYS_MAX`] days.
    pub fn next_close(&self, at: Timestamp) -> Option<Timestamp> {
        let start = self.next_open(at)?;
        let mut date = self.local_date(start);
        let mut close: Option<Timestamp> = None;
        for _ in 0..=SEARCH_DAYS_MAX {
            for (open, end) in self.open_periods(date) {
                if end <= start {
                    continue;
                }
                match close {
                    Some(current) if open > current => return Some(current),
                    Some(current) => close = Some(current.max(end)),
                    None => close = Some(end),
                }
            }
            let tomorrow = date.tomorrow().ok()?;
            if let Some(current) = close {
                // Nothing tomorrow can continue a period that ends before tomorrow begins.
                if current < self.instant(tomorrow, 0)? {
                    return Some(current);
                }
            }
            date = tomorrow;
        }
        None
    }

    /// The first working day strictly after `date`, within [`SEARCH_DAYS_MAX`] days.
    pub fn next_working_day(&self, date: Date) -> Option<Date> {
        let mut day = date;
        for _ in 0..SEARCH_DAYS_MAX {
            day = day.tomorrow().ok()?;
            if self.is_working_day(day) {
                return Some(day);
            }
        }
        None
    }

    /// The day a contact received at `received` counts as received: the local date of
    /// [`BusinessCalendar::next_open`]`(received)`. Out of hours it is the next working day.
    pub fn receipt_day(&self, received: Timestamp) -> Option<Date> {
        self.next_open(received).map(|at| self.local_date(at))
    }

    /// The close of business on the `n`-th working day after `day` (for `n == 0`: on `day`
    /// itself if it is a working day, else on the next one).
    pub fn working_day_close(&self, day: Date, n: u32) -> Option<Timestamp> {
        if n > WORKING_DAYS_MAX {
            return None;
        }
        let mut due_day = if n == 0 && !self.is_working_day(day) {
            self.next_working_day(day)?
        } else {
            day
        };
        for _ in 0..n {
            due_day = self.next_working_day(due_day)?;
        }
        self.close_of_business(due_day)
    }

    /// When "within `n` working days" of `from` falls due: the close of business on the `n`-th
    /// working day after the receipt day of `from` (see the crate documentation).
    ///
    /// `None` only if the search bounds are exceeded (`n` above [`WORKING_DAYS_MAX`], or a
    /// stretch of more than [`SEARCH_DAYS_MAX`] days without a working day).
    pub fn add_working_days(&self, from: Timestamp, n: u32) -> Option<Timestamp> {
        self.working_day_close(self.receipt_day(from)?, n)
    }

    /// How many working days `to` is after `from`, counted as due times are: the smallest `n`
    /// with `to <= add_working_days(from, n)`. So a reply is "within N working days" exactly
    /// when this is at most N. `None` past the search bounds.
    pub fn working_days_between(&self, from: Timestamp, to: Timestamp) -> Option<u32> {
        let receipt_day = self.receipt_day(from)?;
        // The earliest working day whose close of business is at or after `to`. Start a day
        // early: with a 24:00 close, yesterday's close of business is today's midnight.
        let mut due_day = self.local_date(to).yesterday().ok()?;
        let mut found = false;
        for _ in 0..=SEARCH_DAYS_MAX + 1 {
            if self
                .close_of_business(due_day)
                .is_some_and(|close| close >= to)
            {
                found = true;
                break;
            }
            due_day = due_day.tomorrow().ok()?;
        }
        if !found {
            return None;
        }
        let mut count: u32 = 0;
        let mut day = receipt_day;
        for _ in 0..SPAN_DAYS_MAX {
            if day >= due_day {
                return Some(count);
            }
            day = day.tomorrow().ok()?;
            if self.is_working_day(day) {
                count += 1;
            }
        }
        None
    }

    /// How long the calendar is open between `from` and `to` (zero if `to <= from`). `None` if
    /// they are more than [`SPAN_DAYS_MAX`] days apart.
    pub fn working_time_between(&self, from: Timestamp, to: Timestamp) -> Option<Duration> {
        let mut total = Duration::ZERO;
        if to <= from {
            return Some(total);
        }
        let last = self.local_date(to);
        let mut date = self.local_date(from);
        for _ in 0..SPAN_DAYS_MAX {
            for (open, close) in self.open_periods(date) {
                let (start, end) = (open.max(from), close.min(to));
                if start < end {
                    total += Duration::try_from(start.duration_until(end)).ok()?;
                }
            }
            if date >= last {
                return Some(total);
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The instant `amount` of opening time before `to`: the latest `t <= to` with
    /// `working_time_between(t, to) == amount`. It is the instant a deadline at `to` comes within
    /// `amount` of working time ("at risk four working hours before it is due"), so it always
    /// falls while the calendar is open (or is `to` itself when `amount` is zero). `None` if that
    /// lies more than [`SPAN_DAYS_MAX`] days back.
    pub fn working_time_before(&self, to: Timestamp, amount: Duration) -> Option<Timestamp> {
        if amount.is_zero() {
            return Some(to);
        }
        let mut left = amount;
        let mut date = self.local_date(to);
        for _ in 0..SPAN_DAYS_MAX {
            let periods: Vec<(Timestamp, Timestamp)> = self.open_periods(date).collect();
            for &(open, close) in periods.iter().rev() {
                let end = close.min(to);
                if end <= open {
                    continue;
                }
                let span = Duration::try_from(open.duration_until(end)).ok()?;
                if span >= left {
                    let back = jiff::SignedDuration::try_from(left).ok()?;
                    return end.checked_sub(back).ok();
                }
                left -= span;
            }
            date = date.yesterday().ok()?;
        }
        None
    }

    /// The instant of `minute` (since local midnight, up to 1440 = next midnight) on `date`. A
    /// wall-clock time in a daylight-saving gap moves forward by the gap; one in a fold takes
    /// the earlier instant (jiff's "compatible" disambiguation).
    fn instant(&self, date: Date, minute: u16) -> Option<Timestamp> {
        let local: DateTime = if minute >= MINUTES_PER_DAY {
            date.tomorrow().ok()?.to_datetime(Time::midnight())
        } else {
            let hour = i8::try_from(minute / 60).ok()?;
            let minute = i8::try_from(minute % 60).ok()?;
            date.at(hour, minute, 0, 0)
        };
        self.time_zone
            .to_ambiguous_timestamp(local)
            .compatible()
            .ok()
    }

    /// The local opening intervals of `date`: the weekday's hours, none on a holiday, minus
    /// closures, plus extra openings. Borrows the weekly hours when no exception touches the day,
    /// which is the common case.
    fn intervals_on(&self, date: Date) -> Cow<'_, [OpeningInterval]> {
        let weekly = self.hours.on(date.weekday());
        let holiday = self.holidays.binary_search(&date).is_ok();
        let closures = touching(&self.closures, date);
        let extras = touching(&self.extra_openings, date);
        if !holiday && closures.clone().next().is_none() && extras.clone().next().is_none() {
            return Cow::Borrowed(weekly);
        }
        let mut intervals: Vec<(u16, u16)> = if holiday {
            Vec::new()
        } else {
            weekly
                .iter()
                .map(|interval| (interval.start_minute(), interval.end_minute()))
                .collect()
        };
        for (start, end) in closures {
            intervals = subtract(&intervals, start, end);
        }
        for (start, end) in extras {
            intervals = unite(&intervals, start, end);
        }
        Cow::Owned(
            intervals
                .into_iter()
                .filter_map(|(start, end)| OpeningInterval::from_minutes(start, end).ok())
                .collect(),
        )
    }
}

/// The parts of sorted `periods` that fall on `date`, as local minutes.
fn touching(periods: &[Period], date: Date) -> impl Iterator<Item = (u16, u16)> + Clone + '_ {
    periods
        .iter()
        .take_while(move |period| period.start().date() <= date)
        .filter_map(move |period| period.minutes_on(date))
}

/// Sorted disjoint intervals minus `[start, end)`.
fn subtract(intervals: &[(u16, u16)], start: u16, end: u16) -> Vec<(u16, u16)> {
    let mut result = Vec::with_capacity(intervals.len() + 1);
    for &(open, close) in intervals {
        if close <= start || end <= open {
            result.push((open, close));
            continue;
        }
        if open < start {
            result.push((open, start));
        }
        if end < close {
            result.push((end, close));
        }
    }
    result
}

/// Sorted disjoint intervals united with `[start, end)`, merging any that overlap or touch.
fn unite(intervals: &[(u16, u16)], start: u16, end: u16) -> Vec<(u16, u16)> {
    let mut all: Vec<(u16, u16)> = Vec::with_capacity(intervals.len() + 1);
    all.extend_from_slice(intervals);
    all.push((start, end));
    all.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(all.len());
    for (open, close) in all {
        match merged.last_mut() {
            Some(last) if open <= last.1 => last.1 = last.1.max(close),
            _ => merged.push((open, close)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_database_has_the_zones_we_use() {
        for name in [DEFAULT_TIME_ZONE, "Europe/Dublin", "UTC"] {
            assert!(time_zone(name).is_ok(), "{name}");
        }
        assert!(matches!(
            time_zone("Europe/Atlantis"),
            Err(CalendarError::UnknownTimeZone { .. })
        ));
        let calendar = BusinessCalendar::council_default();
        assert_eq!(calendar.time_zone().iana_name(), Some(DEFAULT_TIME_ZONE));
    }

    #[test]
    fn interval_arithmetic() {
        let day = [(510, 720), (780, 1020)];
        assert_eq!(subtract(&day, 600, 800), [(510, 600), (800, 1020)]);
        assert_eq!(subtract(&day, 0, 1440), []);
        assert_eq!(subtract(&day, 720, 780), day);
        assert_eq!(unite(&day, 720, 780), [(510, 1020)]);
        assert_eq!(unite(&[], 600, 660), [(600, 660)]);
        assert_eq!(
            unite(&day, 1100, 1200),
            [(510, 720), (780, 1020), (1100, 1200)]
        );
    }

    #[test]
    fn a_week_without_hours_is_rejected() {
        let london = time_zone(DEFAULT_TIME_ZONE).unwrap();
        assert!(matches!(
            BusinessCalendar::new(london, WeeklyHours::closed()),
            Err(CalendarError::NeverOpen)
        ));
    }
}
