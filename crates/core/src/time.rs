//! Instants and spans of time as the core sees them: plain numbers handed in by the driver.
//!
//! The core never reads a clock. Every instant arrives as an argument (`now`), and every deadline
//! the core wants goes back out through [`crate::Router::poll_timeout`].

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// An instant in milliseconds since the Unix epoch (UTC).
///
/// Milliseconds are ample for routing (offers expire after seconds, service levels are counted in
/// seconds) and keep the hot-path arithmetic on a single `u64`.
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "snapshot",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// The instant `ms` milliseconds after the Unix epoch.
    #[must_use]
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The time elapsed from `earlier` to `self`, or zero when `earlier` is later.
    #[must_use]
    pub const fn saturating_since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// `self` moved back by `span`, stopping at the epoch.
    #[must_use]
    pub fn saturating_sub(self, span: Duration) -> Self {
        Self(self.0.saturating_sub(millis(span)))
    }

    /// The UTC calendar date (proleptic Gregorian): year, month 1 to 12, day 1 to 31.
    #[must_use]
    pub const fn date(self) -> (u64, u64, u64) {
        civil_from_days(self.0 / 1000 / 86_400)
    }
}

/// A span in whole milliseconds, saturating at `u64::MAX` (about 584 million years).
#[must_use]
pub fn millis(span: Duration) -> u64 {
    u64::try_from(span.as_millis()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Timestamp {
    type Output = Self;

    fn add(self, span: Duration) -> Self {
        Self(self.0.saturating_add(millis(span)))
    }
}

impl Sub for Timestamp {
    type Output = Duration;

    fn sub(self, earlier: Self) -> Duration {
        self.saturating_since(earlier)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{}ms", self.0)
    }
}

/// RFC 3339 in UTC, e.g. `2026-11-23T08:30:00Z` (milliseconds shown when not zero).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 % 1000;
        let secs = self.0 / 1000;
        let (year, month, day) = self.date();
        let time = secs % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            time / 3600,
            (time / 60) % 60,
            time % 60
        )?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// for non-negative days).
const fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_rfc3339_utc() {
        assert_eq!(Timestamp::EPOCH.to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_millis(1_795_422_600_000).to_string(),
            "2026-11-23T08:30:00Z"
        );
        assert_eq!(
            Timestamp::from_millis(951_782_400_123).to_string(),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            Timestamp::from_millis(4_107_542_399_000).to_string(),
            "2100-02-28T23:59:59Z"
        );
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = Timestamp::from_millis(1_000);
        assert_eq!(t + Duration::from_secs(2), Timestamp::from_millis(3_000));
        assert_eq!(Timestamp::from_millis(500) - t, Duration::ZERO);
        assert_eq!(t - Timestamp::from_millis(400), Duration::from_millis(600));
        assert_eq!(t.saturating_sub(Duration::from_secs(5)), Timestamp::EPOCH);
        assert_eq!(
            Timestamp::from_millis(u64::MAX - 1) + Duration::from_secs(1),
            Timestamp::from_millis(u64::MAX)
        );
    }
}
