//! Business calendars for Switchboard: opening hours, public holidays, working days, and the
//! deadlines of deferred work and complaints measured in working days.
//!
//! Pure and deterministic: nothing here reads the clock, the file system or the host's time zone
//! files. "Now" is always an argument, and time zones come from the IANA database bundled into
//! the binary (jiff's `tzdb-bundle-always`), so a result is the same on every machine. The
//! routing core can call it freely.
//!
//! ```
//! use jiff::Timestamp;
//! use switchboard_calendar::BusinessCalendar;
//!
//! let council = BusinessCalendar::council_default();
//! // An email arrives at 16:45 on Friday 5 June 2026, after the 16:30 Friday close.
//! let received: Timestamp = "2026-06-05T15:45:00Z".parse()?;
//! assert!(!council.is_open(received));
//! // It counts as received at 08:30 on Monday, so "reply within 1 working day" means by
//! // close of business on Tuesday 9 June (17:00 BST).
//! let due = council.add_working_days(received, 1);
//! assert_eq!(due, Some("2026-06-09T16:00:00Z".parse()?));
//! # Ok::<(), jiff::Error>(())
//! ```
//!
//! # The rules
//!
//! 1. **Local time.** Opening hours, dates and weekdays are read on the wall clock of the
//!    calendar's time zone (Europe/London by default). Opening hours keep their wall-clock times
//!    across the clock changes: 08:30 is 08:30 GMT in winter and 08:30 BST in summer. A
//!    wall-clock time that does not exist (in the spring-forward gap) moves forward by the gap;
//!    one that happens twice (in the autumn fold) means the earlier.
//! 2. **Open.** On a given date the calendar is open during that weekday's opening hours, none
//!    if the date is a holiday, minus any one-off closure, plus any one-off extra opening (an
//!    extra opening wins over holidays and closures). Each open period is half-open: open at
//!    08:30:00, closed at 17:00:00.
//! 3. **Working day.** A working day is a date on which the calendar is open at some time. For
//!    the council default that is Monday to Friday except England and Wales bank holidays. A
//!    day closed only for an afternoon is still a working day (it closes early); a Saturday with
//!    an extra opening becomes one. Keep statutory clocks on a calendar without such openings if
//!    they should not count.
//! 4. **Close of business** on a working day is the end of its last open period (17:00, or 16:30
//!    on a Friday).
//! 5. **Receipt.** A contact received while the calendar is open counts as received then, on that
//!    day. One received while it is closed (at night, at a weekend, on a bank holiday, after
//!    16:30 on a Friday) counts as received at the next opening, and that opening's date is its
//!    *receipt day*. So a contact at 00:00 on a Tuesday counts from 08:30 that Tuesday, and one
//!    at 16:31 or 16:59 on a Friday counts from 08:30 on Monday (or Tuesday after a bank holiday
//!    Monday).
//! 6. **Due time.** "Within N working days" falls due at the **close of business on the N-th
//!    working day after the receipt day**; the receipt day itself is not counted (day one is the
//!    next working day). N = 0 means close of business on the receipt day.
//! 7. **Counting.** [`BusinessCalendar::working_days_between`]`(from, to)` is the smallest N for
//!    which `to` is within N working days of `from`, so a reply is on time exactly when that
//!    count is at most the target.
//! 8. **Bounds.** Searches look at most [`SEARCH_DAYS_MAX`] days ahead for an opening or a
//!    working day, and return `None` past that (a calendar closed for over a year).
//!
//! Why close of business rather than "the same time N working days later": everyone can say it
//! ("reply by the end of Tuesday"); everything received on one day shares one deadline, so the
//! minute of arrival does not reorder work; and a deadline never falls outside opening hours, so
//! a breach always happens while staff are on duty and can act on the warning.
//!
//! Worked examples with the council default (Mon–Thu 08:30–17:00, Fri 08:30–16:30, Europe/London):
//!
//! | received (local) | receipt day | due within 1 working day | within 5 working days |
//! |---|---|---|---|
//! | Tue 2 Jun 2026 10:00 | Tue 2 Jun | Wed 3 Jun 17:00 | Tue 9 Jun 17:00 |
//! | Tue 2 Jun 2026 00:00 | Tue 2 Jun | Wed 3 Jun 17:00 | Tue 9 Jun 17:00 |
//! | Fri 5 Jun 2026 16:29 | Fri 5 Jun | Mon 8 Jun 17:00 | Fri 12 Jun 16:30 |
//! | Fri 5 Jun 2026 16:31 | Mon 8 Jun | Tue 9 Jun 17:00 | Mon 15 Jun 17:00 |
//! | Mon 31 Aug 2026 10:00 (bank holiday) | Tue 1 Sep | Wed 2 Sep 17:00 | Tue 8 Sep 17:00 |
//!
//! # Complaints
//!
//! [`ComplaintRules`] holds the 2024 Complaint Handling Code's defaults: acknowledge within 5
//! working days of receipt; respond within 10 (stage 1) or 20 (stage 2) working days of the
//! acknowledgement. Each is a due time by rule 6, counted from the acknowledgement for
//! responses. An [`Extension`] adds working days to a deadline and must give its reason.
//!
//! # Configuration
//!
//! [`CalendarSpec`] is the plain-data form (strings such as `"08:30-17:00"` and `"2026-12-25"`)
//! that a configuration file holds; with the `serde` feature it (and [`ComplaintRules`]) can be
//! read from TOML. It validates into a [`BusinessCalendar`] with errors naming the field.

mod calendar;
mod complaint;
mod error;
mod holidays;
mod hours;
mod period;
mod spec;

pub use calendar::{
    BusinessCalendar, DEFAULT_TIME_ZONE, SEARCH_DAYS_MAX, SPAN_DAYS_MAX, WORKING_DAYS_MAX,
    time_zone,
};
pub use complaint::{ComplaintDueTimes, ComplaintRules, ComplaintStage, Extension};
pub use error::CalendarError;
pub use holidays::{
    ENGLAND_AND_WALES_FIRST_YEAR, ENGLAND_AND_WALES_LAST_YEAR, bank_holidays_named,
    england_and_wales_bank_holidays,
};
pub use hours::{INTERVALS_PER_DAY_MAX, OpeningInterval, WeeklyHours};
pub use period::Period;
pub use spec::{CalendarSpec, PeriodSpec, WeeklyHoursSpec};
