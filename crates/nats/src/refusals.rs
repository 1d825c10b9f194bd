//! Refused requests in the log, bounded whatever clients send: each refusal is a DEBUG line (its
//! subject and message escaped, so a NUL or a newline from a client cannot forge or break a log
//! line), and a [`RefusalLog`] gathers them into at most one WARN summary per
//! [`SUMMARY_EVERY`] ("37 requests refused in the last 10 s, by code: invalid_message 30,
//! unknown_subject 7"). The `switchboard_bad_messages_total` metric counts every one.
//!
//! A body that does not decode is logged with the field at fault but without the decoder's
//! detail, which can quote the values sent (a caller's number in `attributes`, a customer
//! reference): engine log lines carry no personal data (docs/privacy.md). The client's reply
//! still carries the whole message.
//!
//! The rate limit is a pure type fed explicit instants, so it is tested without a clock (the
//! node owns one, and its timer says when a summary is due).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use switchboard_core::Timestamp;

/// The shortest time between two summaries of refusals.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// The most bytes of a client's text (a subject, a refusal's message) written into one log
/// line; the rest is cut, and the cut said.
pub const LOGGED_TEXT_BYTES_MAX: usize = 512;

/// Counts refusals and says when a summary is due.
#[derive(Debug, Default)]
pub struct RefusalLog {
    /// When the first refusal not yet summarised came; `None` when there is none.
    since: Option<Timestamp>,
    /// Refusals not yet summarised, by wire error code (a dozen codes at most).
    by_code: BTreeMap<&'static str, u64>,
}

/// What a summary line says: how many requests were refused, over how long, by code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusalSummary {
    /// Requests refused since the first one not yet summarised.
    pub refused: u64,
    /// From that first refusal to the summary.
    pub over: Duration,
    /// The count of each code, by code name.
    pub by_code: Vec<(&'static str, u64)>,
}

impl fmt::Display for RefusalSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests refused in the last {} s, by code:",
            self.refused,
            self.over.as_secs()
        )?;
        for (i, (code, n)) in self.by_code.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            write!(f, "{comma} {code} {n}")?;
        }
        Ok(())
    }
}

impl RefusalLog {
    /// When the next summary is due, if a refusal waits for one.
    #[must_use]
    pub fn due_at(&self) -> Option<Timestamp> {
        self.since.map(|since| since + SUMMARY_EVERY)
    }

    /// Counts one refusal at `at`; returns the summary when one is due.
    pub fn refused(&mut self, code: &'static str, at: Timestamp) -> Option<RefusalSummary> {
        self.since.get_or_insert(at);
        *self.by_code.entry(code).or_default() += 1;
        self.poll(at)
    }

    /// The summary, when [`SUMMARY_EVERY`] has passed since the first refusal not yet
    /// summarised (called from a timer too, so the last refusals of a burst are reported).
    pub fn poll(&mut self, at: Timestamp) -> Option<RefusalSummary> {
        let since = self.since?;
        let over = at.saturating_since(since);
        if over < SUMMARY_EVERY {
            return None;
        }
        self.since = None;
        let by_code: Vec<(&'static str, u64)> =
            std::mem::take(&mut self.by_code).into_iter().collect();
        Some(RefusalSummary {
            refused: by_code.iter().map(|(_, n)| n).sum(),
            over,
            by_code,
        })
    }
}

/// A client's text made safe for one log line: control characters, quotes and backslashes
/// escaped as in Rust (`\0`, `\n`, `\u{7f}`), and cut at [`LOGGED_TEXT_BYTES_MAX`] bytes.
#[must_use]
pub fn escaped(text: &str) -> String {
    let mut end = text.len().min(LOGGED_TEXT_BYTES_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out: String = text[..end].escape_debug().collect();
    if end < text.len() {
        out.push_str(&format!("… ({} bytes more)", text.len() - end));
    }
    out
}

/// What the log says in place of a decoding error's detail.
pub const WITHHELD: &str = " (the rest withheld from the log: it can quote the request's values)";

/// A refusal's message as the log may hold it: for a body that does not decode
/// (`invalid_message`), only the field at fault (`field `attributes.phone``) or the kind of
/// failure (`not valid JSON`), since the decoder's detail can quote the values sent; other
/// refusals' messages name ids and states, never a body's values, and are kept whole.
#[must_use]
pub fn loggable(code: &str, message: &str) -> String {
    if code != "invalid_message" {
        return message.to_owned();
    }
    const FIELD: &str = "field `";
    let kept = match message.strip_prefix(FIELD) {
        // `field `a.b``: the name is the wire contract's, never the client's value.
        Some(rest) => rest
            .find('`')
            .map_or("field", |end| &message[..FIELD.len() + end + 1]),
        None => message.split(':').next().unwrap_or(message),
    };
    if kept.len() == message.len() {
        return message.to_owned();
    }
    format!("{kept}{WITHHELD}")
}

/// Writes one refusal's DEBUG line.
pub fn log_refusal(subject: &str, code: &'static str, message: &str) {
    tracing::debug!(
        subject = %escaped(subject),
        code,
        message = %escaped(&loggable(code, message)),
        "request refused"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_summarised_at_most_once_per_window() {
        let start = Timestamp::from_millis(1_700_000_000_000);
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut log = RefusalLog::default();
        // A burst of 10,000 refusals within the window gives no line until it has passed.
        for i in 0..10_000_u64 {
            let code = if i % 4 == 0 {
                "unknown_subject"
            } else {
                "invalid_message"
            };
            assert_eq!(log.refused(code, at(i / 2)), None);
        }
        assert_eq!(log.poll(at(9_999)), None);
        assert_eq!(log.due_at(), Some(at(10_000)));
        let summary = log.poll(at(10_000)).expect("due after 10 s");
        assert_eq!(summary.refused, 10_000);
        assert_eq!(
            summary.by_code,
            [("invalid_message", 7_500), ("unknown_subject", 2_500)]
        );
        assert_eq!(
            summary.to_string(),
            "10000 requests refused in the last 10 s, by code: invalid_message 7500, \
             unknown_subject 2500"
        );
        // Nothing more to say, however often it is asked.
        assert_eq!(log.poll(at(60_000)), None);
        // The next refusal starts a new window, and the one that ends it is counted in it.
        assert_eq!(log.refused("closed", at(70_000)), None);
        let summary = log
            .refused("closed", at(80_000))
            .expect("the refusal that ends the window");
        assert_eq!(summary.refused, 2);
        assert_eq!(summary.over, Duration::from_secs(10));
    }

    #[test]
    fn a_decoding_errors_detail_is_withheld_from_the_log_but_not_its_field() {
        // A real refusal: a caller's number sent as a number where a string is expected.
        let body = br#"{"contact_id":"c1","channel":"phone","service":"benefits","attributes":{"phone":7700900123}}"#;
        let refused = switchboard_wire::decode_command(
            switchboard_wire::CommandKind::CreateContact,
            None,
            body,
            switchboard_wire::Format::Json,
        )
        .expect_err("refused");
        assert!(
            refused.message.contains("7700900123"),
            "{}",
            refused.message
        );
        let logged = loggable("invalid_message", &refused.message);
        assert!(!logged.contains("7700900123"), "{logged}");
        assert!(logged.starts_with("field `attributes"), "{logged}");
        assert!(logged.ends_with(WITHHELD), "{logged}");

        let syntax = loggable(
            "invalid_message",
            "not valid JSON: expected value at line 1 column 9",
        );
        assert_eq!(syntax, format!("not valid JSON{WITHHELD}"));
        assert_eq!(
            loggable("invalid_message", "field `x"),
            format!("field{WITHHELD}")
        );
        assert_eq!(
            loggable("invalid_message", "field `priority`"),
            "field `priority`"
        );
        // Other refusals name ids and states, and are kept whole.
        let unknown = "agent a7 has not logged in";
        assert_eq!(loggable("unknown_agent", unknown), unknown);
    }

    #[test]
    fn a_clients_text_is_escaped_and_cut_for_the_log() {
        assert_eq!(escaped("switchboard.cmd.x"), "switchboard.cmd.x");
        assert_eq!(
            escaped("switchboard.cmd.a\0b\nc\u{7f}"),
            "switchboard.cmd.a\\0b\\nc\\u{7f}"
        );
        assert_eq!(escaped("say \"hi\""), "say \\\"hi\\\"");
        let long = "é".repeat(LOGGED_TEXT_BYTES_MAX);
        let cut = escaped(&long);
        assert!(cut.starts_with(&"é".repeat(LOGGED_TEXT_BYTES_MAX / 2)));
        assert!(cut.ends_with(&format!("({LOGGED_TEXT_BYTES_MAX} bytes more)")));
    }
}
