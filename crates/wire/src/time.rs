//! Instants in human-readable formats: RFC 3339 in UTC with exactly three fractional digits,
//! e.g. `2026-11-23T10:15:00.123Z`.
//!
//! The core counts instants in milliseconds since the Unix epoch as a `u64`; RFC 3339 reaches only
//! to the end of year 9999 (to 9999-12-30T22:00Z here, the limit of `jiff`), so the far end of that range cannot be written and is an error, never
//! a clamped (wrong) time.

/// An instant that RFC 3339 cannot express, or a string that is not a millisecond instant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The instant lies beyond the years RFC 3339 can write (after the last day of year 9999).
    #[error("instant {millis} ms after the Unix epoch is outside the RFC 3339 range")]
    OutOfRange {
        /// The instant, in milliseconds since the Unix epoch.
        millis: u64,
    },
    /// The text is not an RFC 3339 instant.
    #[error("`{text}` is not an RFC 3339 instant: {reason}")]
    Unparsable {
        /// The text given.
        text: String,
        /// What the parser said.
        reason: String,
    },
    /// The instant is before the Unix epoch, which the core cannot represent.
    #[error("`{text}` is before the Unix epoch")]
    BeforeEpoch {
        /// The text given.
        text: String,
    },
    /// The instant has a finer precision than milliseconds, which the core would silently drop.
    #[error("`{text}` is more precise than a millisecond")]
    SubMillisecond {
        /// The text given.
        text: String,
    },
}

/// Writes `millis` (since the Unix epoch) as RFC 3339 UTC with millisecond precision.
pub(crate) fn format_rfc3339(millis: u64) -> Result<String, TimeError> {
    rfc3339(millis).map(|text| text.as_str().to_owned())
}

/// An instant as RFC 3339 UTC with millisecond precision, `2026-11-23T10:15:00.123Z`, held
/// without allocating: every instant the core can write has a four-digit year.
pub(crate) struct Rfc3339([u8; 24]);

impl Rfc3339 {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// `millis` (since the Unix epoch) as RFC 3339 UTC with millisecond precision: the text jiff
/// writes for it (`{:.3}`), written digit by digit: about 270 instructions where formatting
/// through `core::fmt` took about 800, with an allocation. jiff still says which instants can be
/// written.
pub(crate) fn rfc3339(millis: u64) -> Result<Rfc3339, TimeError> {
    let out_of_range = || TimeError::OutOfRange { millis };
    let signed = i64::try_from(millis).map_err(|_| out_of_range())?;
    jiff::Timestamp::from_millisecond(signed).map_err(|_| out_of_range())?;
    let seconds = millis / 1000;
    let (year, month, day) = switchboard_core::Timestamp::from_millis(millis).date();
    let of_day = seconds % 86_400;
    let mut text = *b"0000-00-00T00:00:00.000Z";
    for (at, width, value) in [
        (0, 4, year),
        (5, 2, month),
        (8, 2, day),
        (11, 2, of_day / 3_600),
        (14, 2, of_day / 60 % 60),
        (17, 2, of_day % 60),
        (20, 3, millis % 1000),
    ] {
        let mut value = value;
        for digit in text[at..at + width].iter_mut().rev() {
            *digit = b"0123456789"[usize::from(u8::try_from(value % 10).unwrap_or_default())];
            value /= 10;
        }
    }
    Ok(Rfc3339(text))
}

/// Reads an RFC 3339 instant (any offset; converted to UTC) as milliseconds since the epoch.
pub(crate) fn parse_rfc3339(text: &str) -> Result<u64, TimeError> {
    let instant: jiff::Timestamp =
        text.parse()
            .map_err(|e: jiff::Error| TimeError::Unparsable {
                text: text.to_owned(),
                reason: e.to_string(),
            })?;
    if instant.subsec_nanosecond() % 1_000_000 != 0 {
        return Err(TimeError::SubMillisecond {
            text: text.to_owned(),
        });
    }
    u64::try_from(instant.as_millisecond()).map_err(|_| TimeError::BeforeEpoch {
        text: text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_with_three_fractional_digits() {
        assert_eq!(
            format_rfc3339(1_795_424_400_000).as_deref(),
            Ok("2026-11-23T09:00:00.000Z")
        );
        assert_eq!(
            format_rfc3339(1_795_429_500_123).as_deref(),
            Ok("2026-11-23T10:25:00.123Z")
        );
        assert_eq!(format_rfc3339(0).as_deref(), Ok("1970-01-01T00:00:00.000Z"));
        // 9999-12-30T00:00:00.999Z, near the end of the range.
        for millis in [0, 1, 999, 1_795_429_500_123, 253_402_128_000_999] {
            let text = format_rfc3339(millis).expect("in range");
            assert_eq!(parse_rfc3339(&text), Ok(millis), "{text}");
        }
    }

    /// The last instant jiff takes in milliseconds (late on 9999-12-30), by bisection.
    fn last() -> u64 {
        let (mut taken, mut refused) = (0_i64, i64::MAX);
        while refused - taken > 1 {
            let mid = taken + (refused - taken) / 2;
            if jiff::Timestamp::from_millisecond(mid).is_ok() {
                taken = mid;
            } else {
                refused = mid;
            }
        }
        u64::try_from(taken).expect("after the epoch")
    }

    /// jiff's own text, which `rfc3339` writes digit by digit.
    fn by_jiff(millis: u64) -> String {
        let signed = i64::try_from(millis).expect("in range");
        let instant = jiff::Timestamp::from_millisecond(signed).expect("in range");
        format!("{instant:.3}")
    }

    #[test]
    fn instants_are_written_as_jiff_writes_them() {
        // The epoch, leap days and the ends of leap and common years, centuries (2000 is a
        // leap year, 2100 is not), the end of the range.
        for millis in [
            0,
            999,
            68_255_999_999,
            68_256_000_000,
            951_782_399_999,
            951_868_799_999,
            978_307_199_999,
            1_795_429_500_123,
            4_107_542_399_999,
            4_107_628_800_000,
            last(),
        ] {
            assert_eq!(rfc3339(millis).expect("in range").as_str(), by_jiff(millis));
        }
        assert!(rfc3339(last() + 1).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_instant_in_range_is_written_as_jiff_writes_it(millis in 0..=last()) {
            let text = rfc3339(millis).expect("in range");
            proptest::prop_assert_eq!(text.as_str(), by_jiff(millis));
        }
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        assert_eq!(
            parse_rfc3339("2026-11-23T11:25:00.123+01:00"),
            Ok(1_795_429_500_123)
        );
    }

    #[test]
    fn out_of_range_and_bad_text_are_errors() {
        assert_eq!(
            format_rfc3339(u64::MAX),
            Err(TimeError::OutOfRange { millis: u64::MAX })
        );
        assert!(format_rfc3339(253_402_300_800_000).is_err());
        assert!(format_rfc3339(i64::MAX as u64 + 1).is_err());
        assert!(matches!(
            parse_rfc3339("yesterday"),
            Err(TimeError::Unparsable { .. })
        ));
        assert!(matches!(
            parse_rfc3339("1969-12-31T23:59:59.999Z"),
            Err(TimeError::BeforeEpoch { .. })
        ));
        assert!(matches!(
            parse_rfc3339("2026-11-23T10:25:00.1234Z"),
            Err(TimeError::SubMillisecond { .. })
        ));
    }
}
