//! The simulator's error type: a scenario that cannot be run, or an observer that failed.

/// Why a simulation could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The scenario file is not valid TOML or has unknown or mistyped keys.
    #[error("scenario: {0}")]
    Parse(String),
    /// The scenario parses but says something impossible (a field out of range, a
    /// face-to-face stream without sites...). The message names the field.
    #[error("scenario: {0}")]
    Invalid(String),
    /// The routing configuration is not valid.
    #[error("routing configuration: {0}")]
    Config(switchboard_core::ConfigError),
    /// The observer (for example the writer of the event log) failed; the run stopped.
    #[error("the event observer failed")]
    Observer(#[source] Box<dyn std::error::Error + Send + Sync>),
}
