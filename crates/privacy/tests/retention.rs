//! Retention in virtual time: a six-year schedule counted from the end of the last contact, a
//! leap day, a customer who comes back before expiry, a short enquiry after a complaint, and
//! an erasure requested while a contact is open. The clock is an argument throughout.

use std::collections::BTreeMap;

use switchboard_core::Timestamp;
use switchboard_privacy::{
    DomainSecret, Erasure, Keys, RetentionLedger, RetentionPeriod, RetentionSchedule,
};

/// Milliseconds since the epoch of a UTC date and time, e.g. `"2024-02-29T10:00:00Z"`.
fn at(text: &str) -> Timestamp {
    let ts: jiff::Timestamp = text.parse().expect("a timestamp");
    Timestamp::from_millis(u64::try_from(ts.as_millisecond()).expect("after 1970"))
}

fn council() -> RetentionSchedule {
    RetentionSchedule {
        default: RetentionPeriod::parse("2y").expect("2y"),
        services: BTreeMap::from([
            (
                "complaints".to_owned(),
                RetentionPeriod::parse("6y").expect("6y"),
            ),
            (
                "parking".to_owned(),
                RetentionPeriod::parse("90d").expect("90d"),
            ),
        ]),
    }
}

#[test]
fn periods_are_whole_years_months_or_days() {
    assert_eq!(
        RetentionPeriod::parse("6y").expect("6y"),
        RetentionPeriod::Years(6)
    );
    assert_eq!(
        RetentionPeriod::parse("18m").expect("18m"),
        RetentionPeriod::Months(18)
    );
    assert_eq!(
        RetentionPeriod::parse("90d").expect("90d"),
        RetentionPeriod::Days(90)
    );
    for bad in [
        "",
        "y",
        "0y",
        "6",
        "6w",
        "-1y",
        "six years",
        "101y",
        "1300m",
    ] {
        let error = RetentionPeriod::parse(bad).expect_err(bad);
        assert!(error.to_string().contains("retention period"), "{error}");
    }
}

#[test]
fn six_years_from_a_leap_day_end_on_the_last_day_of_february() {
    let six = RetentionPeriod::Years(6);
    assert_eq!(
        six.expiry(at("2024-02-29T10:00:00Z")),
        at("2030-02-28T10:00:00Z")
    );
    assert_eq!(
        six.expiry(at("2023-03-01T00:00:00Z")),
        at("2029-03-01T00:00:00Z")
    );
    // 90 days across the leap day of 2028.
    assert_eq!(
        RetentionPeriod::Days(90).expiry(at("2028-01-01T00:00:00Z")),
        at("2028-03-31T00:00:00Z")
    );
}

#[test]
fn a_complainant_is_shredded_six_years_after_their_last_contact_and_coming_back_restarts_it() {
    let keys = Keys::new(DomainSecret::from_bytes([3; 32]));
    let schedule = council();
    let mut ledger = RetentionLedger::new();
    let alice = keys.customer("CUST-1001");
    let bob = keys.customer("CUST-2002");

    ledger.contact_started(alice);
    ledger.contact_ended(alice, "complaints", at("2024-02-29T10:00:00Z"), &schedule);
    ledger.contact_started(bob);
    ledger.contact_ended(bob, "council_tax", at("2025-06-01T09:00:00Z"), &schedule);

    // Bob's enquiry (default, two years) runs out first.
    assert_eq!(
        ledger.next(10),
        vec![
            (bob, at("2027-06-01T09:00:00Z")),
            (alice, at("2030-02-28T10:00:00Z"))
        ]
    );
    assert!(ledger.due(at("2027-06-01T08:59:59Z"), 10).is_empty());
    assert_eq!(
        ledger.due(at("2027-06-01T09:00:00Z"), 10),
        vec![(bob, at("2027-06-01T09:00:00Z"))]
    );

    // Alice comes back in 2029 with a short enquiry: the complaint's six years still hold...
    ledger.contact_started(alice);
    assert!(
        ledger
            .due(at("2031-01-01T00:00:00Z"), 10)
            .iter()
            .all(|(s, _)| *s != alice),
        "nothing is shredded while a contact is open"
    );
    ledger.contact_ended(alice, "parking", at("2029-11-01T00:00:00Z"), &schedule);
    assert_eq!(
        ledger.lifetime(alice).and_then(|l| l.expires),
        Some(at("2030-02-28T10:00:00Z"))
    );
    // ...and a new complaint before expiry restarts the six years.
    ledger.contact_started(alice);
    ledger.contact_ended(alice, "complaints", at("2030-01-15T12:00:00Z"), &schedule);
    assert!(
        ledger
            .due(at("2030-02-28T10:00:00Z"), 10)
            .iter()
            .all(|(s, _)| *s != alice)
    );
    assert_eq!(
        ledger.due(at("2036-01-15T12:00:00Z"), 10)[1],
        (alice, at("2036-01-15T12:00:00Z"))
    );

    ledger.erased(bob);
    assert_eq!(
        ledger.due(at("2040-01-01T00:00:00Z"), 10),
        vec![(alice, at("2036-01-15T12:00:00Z"))]
    );
}

#[test]
fn an_erasure_requested_during_a_contact_waits_for_its_end() {
    let keys = Keys::new(DomainSecret::from_bytes([4; 32]));
    let schedule = council();
    let mut ledger = RetentionLedger::new();
    let carol = keys.customer("CUST-3003");
    assert_eq!(ledger.request_erasure(carol), Erasure::Now);
    ledger.contact_started(carol);
    ledger.contact_started(carol);
    assert_eq!(ledger.request_erasure(carol), Erasure::WhenContactsEnd);
    assert!(!ledger.contact_ended(carol, "benefits", at("2026-01-01T00:00:00Z"), &schedule));
    assert!(ledger.contact_ended(carol, "benefits", at("2026-01-01T00:05:00Z"), &schedule));
}
