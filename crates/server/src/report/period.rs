//! The report's period in the council's local time: whole local days from `--from` to `--to`,
//! cut into intervals that keep their wall-clock times across the clock changes (a local day
//! is 23 hours long in March and 25 in October, with 46 or 50 half hours), and the local names
//! of those intervals.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp as JiffTimestamp, ZonedDateTime};
use switchboard_core::Timestamp;
use switchboard_sim::Intervals;

/// The longest period a report covers: a little over a year of local days.
const DAYS_MAX: i32 = 400;

/// How long each interval is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntervalLength {
    /// A quarter of an hour.
    Minutes15,
    /// Half an hour (the industry's usual interval).
    Minutes30,
    /// An hour.
    Hour,
    /// A local day.
    Day,
}

impl FromStr for IntervalLength {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "15m" => Ok(Self::Minutes15),
            "30m" => Ok(Self::Minutes30),
            "1h" | "60m" => Ok(Self::Hour),
            "1d" | "24h" => Ok(Self::Day),
            _ => Err(format!(
                "`{text}` is not an interval: give 15m, 30m, 1h or 1d"
            )),
        }
    }
}

impl IntervalLength {
    /// Its length, or `None` for a local day (whose length varies).
    const fn step(self) -> Option<Duration> {
        match self {
            Self::Minutes15 => Some(Duration::from_secs(15 * 60)),
            Self::Minutes30 => Some(Duration::from_secs(30 * 60)),
            Self::Hour => Some(Duration::from_secs(3600)),
            Self::Day => None,
        }
    }

    /// As an adjective: `30-minute`.
    pub(crate) const fn describe(self) -> &'static str {
        match self {
            Self::Minutes15 => "15-minute",
            Self::Minutes30 => "30-minute",
            Self::Hour => "hourly",
            Self::Day => "daily",
        }
    }
}

/// Local days `from` to `to` (both included) in `zone`, in intervals of `length`.
#[derive(Debug, Clone)]
pub(crate) struct Period {
    pub(crate) zone: TimeZone,
    pub(crate) from: Date,
    pub(crate) to: Date,
    pub(crate) length: IntervalLength,
}

/// One interval's local name.
#[derive(Debug, Clone)]
pub(crate) struct IntervalLabel {
    pub(crate) start: ZonedDateTime,
    pub(crate) end: ZonedDateTime,
    /// The interval is on a day whose clocks change, so its times need their zone to be told
    /// apart (01:00 BST and 01:00 GMT on the last Sunday of October).
    pub(crate) clocks_change: bool,
}

impl IntervalLabel {
    /// The local date, `2026-11-23`.
    pub(crate) fn date(&self) -> String {
        self.start.date().to_string()
    }

    /// `08:30`, with the zone on a day the clocks change (`01:00 BST`).
    pub(crate) fn start_time(&self) -> String {
        self.time(&self.start)
    }

    /// The end: `09:00` (`24:00` for the end of the day).
    pub(crate) fn end_time(&self) -> String {
        if self.end.date() != self.start.date() && self.end.time() == jiff::civil::Time::midnight()
        {
            return "24:00".to_owned();
        }
        self.time(&self.end)
    }

    fn time(&self, at: &ZonedDateTime) -> String {
        if self.clocks_change {
            at.strftime("%H:%M %Z").to_string()
        } else {
            at.strftime("%H:%M").to_string()
        }
    }

    /// The zone's abbreviation at the start, `GMT` or `BST`.
    pub(crate) fn zone(&self) -> String {
        self.start.strftime("%Z").to_string()
    }

    /// `Mon 23 Nov 08:30–09:00`, or `Mon 23 Nov` for a whole day.
    pub(crate) fn text(&self, whole_days: bool) -> String {
        let day = self.start.strftime("%a %-d %b").to_string();
        if whole_days {
            day
        } else {
            format!("{day} {}–{}", self.start_time(), self.end_time())
        }
    }
}

impl Period {
    /// The period, checked: `from` not after `to`, at most [`DAYS_MAX`] days.
    pub(crate) fn new(
        zone: TimeZone,
        from: Date,
        to: Date,
        length: IntervalLength,
    ) -> Result<Self> {
        if from > to {
            bail!("--from {from} is after --to {to}");
        }
        let days = from.until(to).map(|span| span.get_days())?;
        if days >= DAYS_MAX {
            bail!(
                "the period is {} days; a report covers at most {DAYS_MAX}",
                days + 1
            );
        }
        Ok(Self {
            zone,
            from,
            to,
            length,
        })
    }

    /// Local midnight at the start of `date`.
    fn midnight(&self, date: Date) -> Result<ZonedDateTime> {
        date.to_zoned_datetime(self.zone.clone())
            .and_then(|at| at.start_of_day())
            .with_context(|| format!("{date} has no start in the calendar's time zone"))
    }

    /// The intervals and their local names.
    pub(crate) fn intervals(&self) -> Result<(Intervals, Vec<IntervalLabel>)> {
        let mut boundaries = Vec::new();
        let mut labels = Vec::new();
        let mut day = self.from;
        while day <= self.to {
            let start = self.midnight(day)?;
            let next = day.tomorrow()?;
            let end = self.midnight(next)?;
            let clocks_change = start.offset() != end.offset();
            let mut at = start;
            while at < end {
                let until = match self.length.step() {
                    Some(step) => at.checked_add(step)?.min(end.clone()),
                    None => end.clone(),
                };
                boundaries.push(core_time(at.timestamp())?);
                labels.push(IntervalLabel {
                    start: at,
                    end: until.clone(),
                    clocks_change,
                });
                at = until;
            }
            day = next;
        }
        boundaries.push(core_time(self.midnight(day)?.timestamp())?);
        let intervals = Intervals::from_boundaries(boundaries).context("the report's intervals")?;
        Ok((intervals, labels))
    }

    /// The local date of an instant.
    pub(crate) fn local_date(zone: &TimeZone, at: Timestamp) -> Result<Date> {
        Ok(jiff_time(at)?.to_zoned_datetime(zone.clone()).date())
    }

    /// The zone's name for people: `Europe/London`.
    pub(crate) fn zone_name(&self) -> &str {
        self.zone.iana_name().unwrap_or("the calendar's time zone")
    }
}

/// A jiff instant as the core's.
fn core_time(at: JiffTimestamp) -> Result<Timestamp> {
    let ms = u64::try_from(at.as_millisecond())
        .with_context(|| format!("{at} is before 1970, which the log cannot hold"))?;
    Ok(Timestamp::from_millis(ms))
}

/// The core's instant as jiff's.
pub(crate) fn jiff_time(at: Timestamp) -> Result<JiffTimestamp> {
    let ms = i64::try_from(at.as_millis()).context("a time past the year 292 million")?;
    Ok(JiffTimestamp::from_millisecond(ms)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn london() -> TimeZone {
        switchboard_calendar::time_zone("Europe/London").expect("bundled")
    }

    fn period(from: &str, to: &str, length: &str) -> (Intervals, Vec<IntervalLabel>) {
        let length = length.parse().expect("a length");
        Period::new(
            london(),
            from.parse().expect("date"),
            to.parse().expect("date"),
            length,
        )
        .expect("a period")
        .intervals()
        .expect("intervals")
    }

    #[test]
    fn a_winter_day_is_48_half_hours_from_midnight_gmt() {
        let (intervals, labels) = period("2026-11-23", "2026-11-23", "30m");
        assert_eq!(intervals.len(), 48);
        assert_eq!(intervals.start().to_string(), "2026-11-23T00:00:00Z");
        assert_eq!(labels[17].text(false), "Mon 23 Nov 08:30–09:00");
        assert_eq!(labels[47].end_time(), "24:00");
        assert_eq!(labels[0].zone(), "GMT");
    }

    #[test]
    fn the_clocks_going_forward_and_back_give_days_of_46_and_50_half_hours() {
        let (spring, labels) = period("2026-03-29", "2026-03-29", "30m");
        assert_eq!(spring.len(), 46);
        assert_eq!(
            labels[2].start_time(),
            "02:00 BST",
            "01:00 GMT is 02:00 BST"
        );
        let (autumn, labels) = period("2026-10-25", "2026-10-25", "30m");
        assert_eq!(autumn.len(), 50);
        let times: Vec<String> = labels[2..6].iter().map(IntervalLabel::start_time).collect();
        assert_eq!(times, ["01:00 BST", "01:30 BST", "01:00 GMT", "01:30 GMT"]);
        // A summer day starts at midnight BST, 23:00 UTC the day before.
        let (summer, _) = period("2026-06-01", "2026-06-02", "1d");
        assert_eq!(summer.len(), 2);
        assert_eq!(summer.start().to_string(), "2026-05-31T23:00:00Z");
    }

    #[test]
    fn interval_lengths_are_the_four_the_report_offers() {
        assert_eq!("1h".parse(), Ok(IntervalLength::Hour));
        assert!("20m".parse::<IntervalLength>().is_err());
        let (intervals, _) = period("2026-11-23", "2026-11-29", "1d");
        assert_eq!(intervals.len(), 7);
        assert!(
            Period::new(
                london(),
                "2026-11-24".parse().expect("d"),
                "2026-11-23".parse().expect("d"),
                IntervalLength::Day
            )
            .is_err()
        );
    }
}
