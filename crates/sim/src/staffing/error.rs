//! The one error type of the staffing maths: bad input from a caller, or a target that no
//! head count within the search cap can meet.

/// Why a staffing calculation could not be made.
///
/// Every variant is about the caller's input or about a target being out of reach; a broken
/// internal invariant is a bug and panics instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StaffingError {
    /// A number that must be finite was NaN or infinite.
    #[error("{field} must be a finite number, got {value}")]
    NotFinite {
        /// The name of the input field.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A volume, rate or duration that may be zero was negative.
    #[error("{field} must not be negative, got {value}")]
    Negative {
        /// The name of the input field.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A duration that must be strictly positive (an interval, a handle time, a patience) was
    /// zero or negative.
    #[error("{field} must be greater than zero, got {value}")]
    NotPositive {
        /// The name of the input field.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// The target service level was not strictly between 0 and 1 (80% is written 0.8).
    #[error("target service level must be strictly between 0 and 1 (80% is 0.8), got {value}")]
    TargetServiceLevelOutOfRange {
        /// The value given.
        value: f64,
    },
    /// The shrinkage (the share of paid time not spent available to take contacts) was not in
    /// `[0, 1)`.
    #[error("shrinkage must be at least 0 and less than 1 (30% is 0.3), got {value}")]
    ShrinkageOutOfRange {
        /// The value given.
        value: f64,
    },
    /// The maximum occupancy was not in `(0, 1]`.
    #[error("maximum occupancy must be greater than 0 and at most 1 (85% is 0.85), got {value}")]
    MaxOccupancyOutOfRange {
        /// The value given.
        value: f64,
    },
    /// No head count up to the search cap meets every target.
    #[error("the targets cannot be met with {max_agents} agents or fewer")]
    TargetUnreachable {
        /// The search cap that was reached.
        max_agents: u32,
    },
    /// The rostered head count (agents grossed up for shrinkage) does not fit in a `u64`.
    #[error("the rostered head count for {agents} agents at shrinkage {shrinkage} is too large")]
    RosterTooLarge {
        /// The agents needed on the phones.
        agents: u32,
        /// The shrinkage given.
        shrinkage: f64,
    },
    /// The Erlang A series would need more terms than the bound allows. This happens only when
    /// the queue is heavily overloaded and the patience is enormous compared with the handle
    /// time; such a queue behaves like Erlang C, so leave `patience_secs` unset.
    #[error(
        "the Erlang A computation would need about {terms} series terms (the limit is {limit}); \
         the patience is so long that the queue is effectively Erlang C: leave the patience unset"
    )]
    PatienceTooLong {
        /// The estimated number of terms needed.
        terms: f64,
        /// The bound on the number of terms.
        limit: u32,
    },
}

/// Checks that `value` is finite.
pub(crate) fn finite(field: &'static str, value: f64) -> Result<f64, StaffingError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(StaffingError::NotFinite { field, value })
    }
}

/// Checks that `value` is finite and not negative.
pub(crate) fn non_negative(field: &'static str, value: f64) -> Result<f64, StaffingError> {
    let value = finite(field, value)?;
    if value < 0.0 {
        Err(StaffingError::Negative { field, value })
    } else {
        Ok(value)
    }
}

/// Checks that `value` is finite and strictly positive.
pub(crate) fn positive(field: &'static str, value: f64) -> Result<f64, StaffingError> {
    let value = finite(field, value)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(StaffingError::NotPositive { field, value })
    }
}
