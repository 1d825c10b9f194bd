//! The one error type of this crate: why a calendar, a period, opening hours or an extension could
//! not be built. Computations on a valid calendar do not fail; they return `None` when no answer
//! exists within their search bound.

/// Why a calendar (or one of its parts) is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// The time zone name is not in the bundled IANA time zone database.
    #[error("unknown time zone {name:?} (expected an IANA name such as \"Europe/London\")")]
    UnknownTimeZone {
        /// The name given.
        name: String,
    },

    /// Opening hours text is not of the form `HH:MM-HH:MM`, or its times are out of range, or it
    /// does not end after it starts.
    #[error("bad opening hours {text:?}: {reason} (expected HH:MM-HH:MM, e.g. \"08:30-17:00\")")]
    BadOpeningHours {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An opening interval given in minutes since midnight is empty, reversed or past 24:00.
    #[error(
        "opening interval {start_minute}..{end_minute} (minutes since midnight) must satisfy \
         start < end <= 1440"
    )]
    InvalidInterval {
        /// Start, in minutes since local midnight.
        start_minute: u16,
        /// End, in minutes since local midnight.
        end_minute: u16,
    },

    /// Two opening intervals of the same weekday overlap.
    #[error("opening hours on {weekday} overlap: {first} and {second}")]
    OverlappingIntervals {
        /// The weekday, in English.
        weekday: &'static str,
        /// The earlier interval, as `HH:MM-HH:MM`.
        first: String,
        /// The interval that overlaps it.
        second: String,
    },

    /// A weekday has more opening intervals than the bound allows.
    #[error("{weekday} has {count} opening intervals; at most {max} are allowed")]
    TooManyIntervals {
        /// The weekday, in English.
        weekday: &'static str,
        /// How many were given.
        count: usize,
        /// The bound.
        max: usize,
    },

    /// No weekday has any opening hours, so there would never be a working day.
    #[error("the calendar has no opening hours on any weekday, so it would never be open")]
    NeverOpen,

    /// Text that should be a date is not `YYYY-MM-DD` or not a real date.
    #[error("bad date {text:?} (expected YYYY-MM-DD, e.g. \"2026-12-25\")")]
    BadDate {
        /// The text given.
        text: String,
    },

    /// Text that should be a date or a local date and time is neither.
    #[error(
        "bad date or date-time {text:?} (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM, e.g. \
         \"2026-12-24T12:00\")"
    )]
    BadDateTime {
        /// The text given.
        text: String,
    },

    /// A period's times are not whole minutes (calendars work to the minute).
    #[error("{text} is not a whole minute; calendar periods start and end on whole minutes")]
    NotWholeMinutes {
        /// The offending date-time.
        text: String,
    },

    /// A period does not end after it starts.
    #[error("period from {start} to {end} does not end after it starts")]
    EmptyPeriod {
        /// Its start (local date-time).
        start: String,
        /// Its end (local date-time, exclusive).
        end: String,
    },

    /// The named set of shipped public holidays does not exist.
    #[error("unknown bank holiday set {name:?} (expected \"england-and-wales\" or \"none\")")]
    UnknownBankHolidays {
        /// The name given.
        name: String,
    },

    /// An extension of a deadline has no reason; the Complaint Handling Code requires one.
    #[error("an extension must give its reason")]
    ExtensionWithoutReason,

    /// An extension of zero working days extends nothing.
    #[error("an extension must add at least one working day")]
    ExtensionOfZeroDays,

    /// An error in one field of a [`crate::CalendarSpec`], named by its path.
    #[error("{field}: {problem}")]
    InField {
        /// The field's path, e.g. `hours.friday[0]` or `closures[2].to`.
        field: String,
        /// What is wrong with it (part of this error's message, so not also its `source`).
        problem: Box<CalendarError>,
    },
}

impl CalendarError {
    /// Attaches the path of the spec field this error came from.
    pub(crate) fn in_field(self, field: impl Into<String>) -> Self {
        Self::InField {
            field: field.into(),
            problem: Box::new(self),
        }
    }
}
