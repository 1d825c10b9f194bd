//! Retention: how long a customer's personal data may be kept, and when each subject's key is
//! due to be shredded. Pure: the clock is an argument, so the schedule runs in virtual time.
//!
//! A period is counted from the end of the subject's last contact, in calendar units in UTC
//! (`"6y"` from 29 February 2024 ends on 28 February 2030, the last day that exists). A subject's
//! data is kept until the latest of its contacts' expiries: a customer who comes back before
//! expiry restarts the clock, and a short enquiry after a complaint does not cut the complaint's
//! six years short. Nothing is shredded while the subject has a contact open; an erasure
//! requested then waits for the contact to end.

use std::collections::BTreeMap;

use jiff::Span;
use jiff::tz::TimeZone;
use switchboard_core::Timestamp;

use crate::PrivacyError;
use crate::pseudonym::Pseudonym;

/// The longest period accepted, in years (a guard against a typo such as `"600y"`).
pub const PERIOD_YEARS_MAX: u32 = 100;

/// A retention period: a whole number of years, months or days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionPeriod {
    /// `"6y"`.
    Years(u32),
    /// `"18m"`.
    Months(u32),
    /// `"90d"`.
    Days(u32),
}

impl RetentionPeriod {
    /// Reads `"6y"`, `"18m"` or `"90d"`.
    ///
    /// # Errors
    /// Another form, zero, or longer than [`PERIOD_YEARS_MAX`] years.
    pub fn parse(text: &str) -> Result<Self, PrivacyError> {
        let bad = |detail| PrivacyError::Period {
            text: text.to_owned(),
            detail,
        };
        let unit = text.chars().last().ok_or_else(|| bad("empty"))?;
        let number: u32 = text[..text.len() - unit.len_utf8()]
            .parse()
            .map_err(|_| bad("expected a whole number then y, m or d, e.g. \"6y\""))?;
        if number == 0 {
            return Err(bad("must be longer than nothing"));
        }
        let (period, years) = match unit {
            'y' => (Self::Years(number), number),
            'm' => (Self::Months(number), number / 12),
            'd' => (Self::Days(number), number / 365),
            _ => return Err(bad("the unit must be y, m or d")),
        };
        if years > PERIOD_YEARS_MAX {
            return Err(bad("longer than 100 years"));
        }
        Ok(period)
    }

    /// When data whose last contact ended at `ended` expires.
    #[must_use]
    pub fn expiry(self, ended: Timestamp) -> Timestamp {
        let span = match self {
            Self::Years(n) => Span::new().years(i64::from(n)),
            Self::Months(n) => Span::new().months(i64::from(n)),
            Self::Days(n) => Span::new().days(i64::from(n)),
        };
        let millis = i64::try_from(ended.as_millis()).unwrap_or(i64::MAX);
        let utc = TimeZone::UTC;
        let expiry = jiff::Timestamp::from_millisecond(millis)
            .and_then(|at| utc.to_datetime(at).checked_add(span))
            .and_then(|at| utc.to_timestamp(at));
        match expiry {
            Ok(at) => Timestamp::from_millis(u64::try_from(at.as_millisecond()).unwrap_or(0)),
            // Past the calendar's end (year 9999): never, in practice.
            Err(_) => Timestamp::from_millis(u64::MAX),
        }
    }
}

impl std::fmt::Display for RetentionPeriod {
    /// The form [`RetentionPeriod::parse`] reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Years(n) => write!(f, "{n}y"),
            Self::Months(n) => write!(f, "{n}m"),
            Self::Days(n) => write!(f, "{n}d"),
        }
    }
}

/// The retention schedule: a period per service, and a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSchedule {
    /// For services not named.
    pub default: RetentionPeriod,
    /// By service id.
    pub services: BTreeMap<String, RetentionPeriod>,
}

impl RetentionSchedule {
    /// The period of `service`.
    #[must_use]
    pub fn period(&self, service: &str) -> RetentionPeriod {
        self.services.get(service).copied().unwrap_or(self.default)
    }
}

/// One subject's place in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// Contacts of the subject open now.
    pub open: u32,
    /// The latest expiry of its ended contacts, if any has ended.
    pub expires: Option<Timestamp>,
    /// An erasure was requested while a contact was open.
    pub erase_requested: bool,
}

/// What an erasure request does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erasure {
    /// No contact is open: destroy the key now.
    Now,
    /// A contact is open: the key is destroyed when the last one ends.
    WhenContactsEnd,
}

/// Every subject's lifetime, folded from contacts starting and ending (the engine feeds it from
/// its events, so a replay rebuilds it).
#[derive(Debug, Clone, Default)]
pub struct RetentionLedger {
    /// By subject.
    subjects: BTreeMap<Pseudonym, Lifetime>,
}

impl RetentionLedger {
    /// An empty ledger.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A contact of `subject` began.
    pub fn contact_started(&mut self, subject: Pseudonym) {
        let lifetime = self.entry(subject);
        lifetime.open = lifetime.open.saturating_add(1);
    }

    /// A contact of `subject` for `service` ended at `ended`. Returns `true` when an erasure
    /// requested while it was open is now due.
    pub fn contact_ended(
        &mut self,
        subject: Pseudonym,
        service: &str,
        ended: Timestamp,
        schedule: &RetentionSchedule,
    ) -> bool {
        let expiry = schedule.period(service).expiry(ended);
        let lifetime = self.entry(subject);
        lifetime.open = lifetime.open.saturating_sub(1);
        lifetime.expires = Some(lifetime.expires.map_or(expiry, |e| e.max(expiry)));
        lifetime.open == 0 && lifetime.erase_requested
    }

    /// An erasure of `subject` was requested.
    pub fn request_erasure(&mut self, subject: Pseudonym) -> Erasure {
        let lifetime = self.entry(subject);
        if lifetime.open == 0 {
            Erasure::Now
        } else {
            lifetime.erase_requested = true;
            Erasure::WhenContactsEnd
        }
    }

    /// `subject`'s key was destroyed: it leaves the ledger.
    pub fn erased(&mut self, subject: Pseudonym) {
        self.subjects.remove(&subject);
    }

    /// The subjects whose retention has run out by `now` and that have no contact open, in
    /// expiry order, at most `limit` (the engine shreds them, a batch at a time).
    #[must_use]
    pub fn due(&self, now: Timestamp, limit: usize) -> Vec<(Pseudonym, Timestamp)> {
        let mut due: Vec<_> = self
            .subjects
            .iter()
            .filter(|(_, l)| l.open == 0)
            .filter_map(|(s, l)| l.expires.filter(|e| *e <= now).map(|e| (*s, e)))
            .collect();
        due.sort_by_key(|&(s, e)| (e, s));
        due.truncate(limit);
        due
    }

    /// The next `limit` subjects to be shredded, soonest first, with when (for
    /// `switchboard privacy report`); subjects with a contact open are left out.
    #[must_use]
    pub fn next(&self, limit: usize) -> Vec<(Pseudonym, Timestamp)> {
        self.due(Timestamp::from_millis(u64::MAX), limit)
    }

    /// `subject`'s lifetime, if it has one.
    #[must_use]
    pub fn lifetime(&self, subject: Pseudonym) -> Option<Lifetime> {
        self.subjects.get(&subject).copied()
    }

    /// `subject`'s entry, made empty if it has none.
    fn entry(&mut self, subject: Pseudonym) -> &mut Lifetime {
        self.subjects.entry(subject).or_insert(Lifetime {
            open: 0,
            expires: None,
            erase_requested: false,
        })
    }
}
