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
    let out_of_range = || TimeError::OutOfRange { millis };
    let signed = i64::try_from(millis).map_err(|_| out_of_range())?;
    let instant = jiff::Timestamp::from_millisecond(signed).map_err(|_| out_of_range())?;
    Ok(format!("{instant:.3}"))
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
