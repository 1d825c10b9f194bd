//! The plain-data form of a calendar, with strings for times and dates, for configuration files.
//! [`CalendarSpec::to_calendar`] validates it, naming the field at fault.
//!
//! In TOML (with the `serde` feature), every field is optional and defaults to the council
//! calendar; a `[hours]` table replaces the whole week, and a weekday missing from it is closed:
//!
//! ```toml
//! time_zone = "Europe/London"
//! bank_holidays = "england-and-wales"          # or "none"
//! holidays = ["2026-12-24"]                    # extra whole-day closures
//! closures = [{ from = "2026-07-01T12:00", to = "2026-07-01T17:00" }]
//! extra_openings = [{ from = "2026-05-02T09:00", to = "2026-05-02T13:00" }]
//!
//! [hours]
//! monday = ["08:30-17:00"]
//! tuesday = ["08:30-12:30", "13:30-17:00"]
//! ```

use jiff::civil::{Date, DateTime, Time, Weekday};

use crate::{
    BusinessCalendar, CalendarError, DEFAULT_TIME_ZONE, OpeningInterval, Period, WeeklyHours,
    bank_holidays_named, time_zone,
};

/// A business calendar as plain data; see the module documentation for the format.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct CalendarSpec {
    /// IANA time zone name, e.g. `"Europe/London"`.
    pub time_zone: String,
    /// Which shipped public holidays apply: `"england-and-wales"` or `"none"`.
    pub bank_holidays: String,
    /// Further whole-day closures as `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// Opening hours per weekday.
    pub hours: WeeklyHoursSpec,
    /// One-off closures.
    pub closures: Vec<PeriodSpec>,
    /// One-off extra openings.
    pub extra_openings: Vec<PeriodSpec>,
}

/// Opening hours per weekday as `HH:MM-HH:MM` strings; an empty list means closed all day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct WeeklyHoursSpec {
    /// Monday's open intervals.
    pub monday: Vec<String>,
    /// Tuesday's open intervals.
    pub tuesday: Vec<String>,
    /// Wednesday's open intervals.
    pub wednesday: Vec<String>,
    /// Thursday's open intervals.
    pub thursday: Vec<String>,
    /// Friday's open intervals.
    pub friday: Vec<String>,
    /// Saturday's open intervals.
    pub saturday: Vec<String>,
    /// Sunday's open intervals.
    pub sunday: Vec<String>,
}

/// A one-off period. `from` and `to` are each a date (`YYYY-MM-DD`) or a local date-time
/// (`YYYY-MM-DDTHH:MM`). A date as `from` means from the start of that day; a date as `to`
/// means to the end of that day (inclusive); a date-time as `to` is exclusive. Without `to`, the
/// period is the single day `from`, which must then be a date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct PeriodSpec {
    /// Where it starts.
    pub from: String,
    /// Where it ends; see the type's documentation.
    #[cfg_attr(feature = "serde", serde(default))]
    pub to: Option<String>,
}

impl Default for CalendarSpec {
    /// The council calendar of [`BusinessCalendar::council_default`].
    fn default() -> Self {
        let long_day = || vec!["08:30-17:00".to_owned()];
        Self {
            time_zone: DEFAULT_TIME_ZONE.to_owned(),
            bank_holidays: "england-and-wales".to_owned(),
            holidays: Vec::new(),
            hours: WeeklyHoursSpec {
                monday: long_day(),
                tuesday: long_day(),
                wednesday: long_day(),
                thursday: long_day(),
                friday: vec!["08:30-16:30".to_owned()],
                saturday: Vec::new(),
                sunday: Vec::new(),
            },
            closures: Vec::new(),
            extra_openings: Vec::new(),
        }
    }
}

impl CalendarSpec {
    /// Validates the spec and builds the calendar. Errors name the field at fault, e.g.
    /// `hours.friday[0]: bad opening hours "08:30-1630": ...`.
    pub fn to_calendar(&self) -> Result<BusinessCalendar, CalendarError> {
        let zone = time_zone(self.time_zone.trim()).map_err(|e| e.in_field("time_zone"))?;
        let hours = self.hours.to_weekly_hours()?;
        let shipped = bank_holidays_named(self.bank_holidays.trim()).ok_or_else(|| {
            CalendarError::UnknownBankHolidays {
                name: self.bank_holidays.clone(),
            }
            .in_field("bank_holidays")
        })?;
        let mut holidays = shipped.to_vec();
        for (index, text) in self.holidays.iter().enumerate() {
            holidays.push(parse_date(text).map_err(|e| e.in_field(format!("holidays[{index}]")))?);
        }
        let mut calendar = BusinessCalendar::new(zone, hours)
            .map_err(|e| e.in_field("hours"))?
            .with_holidays(holidays);
        for (index, spec) in self.closures.iter().enumerate() {
            let period = spec.to_period(&format!("closures[{index}]"))?;
            calendar = calendar.with_closure(period);
        }
        for (index, spec) in self.extra_openings.iter().enumerate() {
            let period = spec.to_period(&format!("extra_openings[{index}]"))?;
            calendar = calendar.with_extra_opening(period);
        }
        Ok(calendar)
    }
}

impl TryFrom<&CalendarSpec> for BusinessCalendar {
    type Error = CalendarError;

    fn try_from(spec: &CalendarSpec) -> Result<Self, Self::Error> {
        spec.to_calendar()
    }
}

impl WeeklyHoursSpec {
    /// Validates and builds the weekly hours.
    pub fn to_weekly_hours(&self) -> Result<WeeklyHours, CalendarError> {
        let mut hours = WeeklyHours::closed();
        for (weekday, key, texts) in [
            (Weekday::Monday, "monday", &self.monday),
            (Weekday::Tuesday, "tuesday", &self.tuesday),
            (Weekday::Wednesday, "wednesday", &self.wednesday),
            (Weekday::Thursday, "thursday", &self.thursday),
            (Weekday::Friday, "friday", &self.friday),
            (Weekday::Saturday, "saturday", &self.saturday),
            (Weekday::Sunday, "sunday", &self.sunday),
        ] {
            let intervals = texts
                .iter()
                .enumerate()
                .map(|(index, text)| {
                    OpeningInterval::parse(text)
                        .map_err(|e| e.in_field(format!("hours.{key}[{index}]")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            hours
                .set(weekday, intervals)
                .map_err(|e| e.in_field(format!("hours.{key}")))?;
        }
        Ok(hours)
    }
}

impl PeriodSpec {
    /// Validates and builds the period; `field` names it in errors.
    fn to_period(&self, field: &str) -> Result<Period, CalendarError> {
        let start = match parse_date_or_time(&self.from)
            .map_err(|e| e.in_field(format!("{field}.from")))?
        {
            DateOrTime::Date(date) => date.to_datetime(Time::midnight()),
            DateOrTime::Time(moment) => moment,
        };
        let end = match &self.to {
            None => match parse_date_or_time(&self.from) {
                Ok(DateOrTime::Date(date)) => end_of(date, field)?,
                _ => {
                    return Err(CalendarError::BadDate {
                        text: self.from.clone(),
                    }
                    // Without `to` the period is one whole day, so `from` must be a date.
                    .in_field(format!("{field}.from")));
                }
            },
            Some(text) => {
                match parse_date_or_time(text).map_err(|e| e.in_field(format!("{field}.to")))? {
                    DateOrTime::Date(date) => end_of(date, field)?,
                    DateOrTime::Time(moment) => moment,
                }
            }
        };
        Period::new(start, end).map_err(|e| e.in_field(field))
    }
}

/// The first local minute after `date`.
fn end_of(date: Date, field: &str) -> Result<DateTime, CalendarError> {
    date.tomorrow()
        .map(|day| day.to_datetime(Time::midnight()))
        .map_err(|_| {
            CalendarError::BadDate {
                text: date.to_string(),
            }
            .in_field(format!("{field}.to"))
        })
}

/// A parsed `from` or `to`.
enum DateOrTime {
    /// `YYYY-MM-DD`.
    Date(Date),
    /// `YYYY-MM-DDTHH:MM`.
    Time(DateTime),
}

/// Parses `YYYY-MM-DD` strictly (no time part).
fn parse_date(text: &str) -> Result<Date, CalendarError> {
    let text = text.trim();
    let bad = || CalendarError::BadDate {
        text: text.to_owned(),
    };
    if text.len() != 10 {
        return Err(bad());
    }
    text.parse::<Date>().map_err(|_| bad())
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (a space may replace the `T`).
fn parse_date_or_time(text: &str) -> Result<DateOrTime, CalendarError> {
    let trimmed = text.trim();
    if trimmed.len() == 10 {
        return parse_date(trimmed).map(DateOrTime::Date);
    }
    let bad = || CalendarError::BadDateTime {
        text: trimmed.to_owned(),
    };
    if trimmed.len() != 16 {
        return Err(bad());
    }
    trimmed
        .replacen(' ', "T", 1)
        .parse::<DateTime>()
        .map(DateOrTime::Time)
        .map_err(|_| bad())
}
