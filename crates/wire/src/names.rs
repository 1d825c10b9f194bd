//! The rules for ids and names that arrive from outside, and the bounds on free text.
//!
//! Ids (agents, contacts, customers, skills, services, sites, languages, command ids) are
//! non-empty, at most [`ID_BYTES_MAX`] bytes, and hold no whitespace, no control characters and
//! none of NATS's wildcard characters (`*`, `>`). Agent ids are also subject tokens
//! (`switchboard.cmd.agent.<agent_id>.ready`), so they hold no `.` either.
//!
//! The same rules in JSON Schema ([`ID_PATTERN`] and its kin) sit beside them, so that the
//! generated schemas say what the checks do; a test compares the two character by character.
//! JSON Schema counts a string's length in characters, not bytes, so the byte limits are only
//! approached there (a limit of 128 bytes becomes at most 128 characters).

use crate::error::WireError;

/// The longest id, in bytes (UTF-8).
pub const ID_BYTES_MAX: usize = 128;
/// The longest free-text field (a reason, a display name), in bytes.
pub const TEXT_BYTES_MAX: usize = 512;

/// Control characters (`Cc`) and white space (Unicode `White_Space`, as `char::is_whitespace`),
/// as the body of a regular-expression character class.
macro_rules! blank_or_control {
    () => {
        r"\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}

/// The control characters (`Cc`) free text may not hold, as a character class body.
macro_rules! control_characters {
    () => {
        r"\u0000-\u001F\u007F-\u009F"
    };
}

/// An id in JSON Schema (with `minLength` 1 and `maxLength` [`ID_BYTES_MAX`]).
pub const ID_PATTERN: &str = concat!("^[^", blank_or_control!(), "*>]+$");
/// An agent id in JSON Schema: an id without `.`.
pub const AGENT_ID_PATTERN: &str = concat!("^[^", blank_or_control!(), "*>.]+$");
/// Free text in JSON Schema: no control characters (with `maxLength` [`TEXT_BYTES_MAX`]).
pub const TEXT_PATTERN: &str = concat!("^[^", control_characters!(), "]*$");
/// Required free text in JSON Schema: no control characters, and not blank (at least one
/// character that is not white space).
pub const REQUIRED_TEXT_PATTERN: &str = concat!(
    "^[^",
    control_characters!(),
    "]*[^",
    blank_or_control!(),
    "]",
    "[^",
    control_characters!(),
    "]*$"
);

/// What kind of id a string must be.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum IdKind {
    /// An agent id: also a subject token, so no `.`.
    Agent,
    /// Any other id.
    Other,
}

/// Checks an id against the rules above; the error names `field`.
pub(crate) fn check_id(field: &str, id: &str, kind: IdKind) -> Result<(), WireError> {
    let fail = |why: &str| Err(WireError::invalid(format!("field `{field}`: {why}")));
    if id.is_empty() {
        return fail("must not be empty");
    }
    if id.len() > ID_BYTES_MAX {
        return fail(&format!(
            "is {} bytes long, more than {ID_BYTES_MAX}",
            id.len()
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|&c| c.is_whitespace() || c.is_control() || c == '*' || c == '>')
    {
        return fail(&format!(
            "must not contain whitespace, control characters, `*` or `>` (found {bad:?})"
        ));
    }
    if kind == IdKind::Agent && id.contains('.') {
        return fail("an agent id is a subject token and must not contain `.`");
    }
    Ok(())
}

/// Checks free text: at most [`TEXT_BYTES_MAX`] bytes and no control characters; `required`
/// text must not be empty or blank.
pub(crate) fn check_text(field: &str, text: &str, required: bool) -> Result<(), WireError> {
    let fail = |why: String| Err(WireError::invalid(format!("field `{field}`: {why}")));
    if required && text.trim().is_empty() {
        return fail("must not be empty".to_owned());
    }
    if text.len() > TEXT_BYTES_MAX {
        return fail(format!(
            "is {} bytes long, more than {TEXT_BYTES_MAX}",
            text.len()
        ));
    }
    if let Some(bad) = text.chars().find(|c| c.is_control()) {
        return fail(format!(
            "must not contain control characters (found {bad:?})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_rules() {
        assert!(check_id("a", "ann", IdKind::Agent).is_ok());
        assert!(check_id("a", "c-1.2", IdKind::Other).is_ok());
        assert!(check_id("a", "c-1.2", IdKind::Agent).is_err());
        for bad in ["", " ", "a b", "a*", "a>", "a\tb", "a\u{0}"] {
            assert!(check_id("a", bad, IdKind::Other).is_err(), "{bad:?}");
        }
        assert!(check_id("a", &"x".repeat(ID_BYTES_MAX), IdKind::Other).is_ok());
        assert!(check_id("a", &"x".repeat(ID_BYTES_MAX + 1), IdKind::Other).is_err());
        assert!(check_text("r", "lunch break", true).is_ok());
        assert!(check_text("r", "  ", true).is_err());
        assert!(check_text("r", "", false).is_ok());
        assert!(check_text("r", "a\nb", false).is_err());
    }
}
