//! Complaint clocks under the 2024 Complaint Handling Code defaults, on the council calendar,
//! with every due date worked out by hand in the comments.

use jiff::Timestamp;
use jiff::civil::DateTime;
use switchboard_calendar::{
    BusinessCalendar, CalendarError, ComplaintDueTimes, ComplaintRules, ComplaintStage, Extension,
    time_zone,
};

/// The instant of a Europe/London wall-clock time such as `"2026-11-02T11:00"`.
fn london(local: &str) -> Timestamp {
    let local: DateTime = local.parse().expect("local date-time");
    time_zone("Europe/London")
        .expect("zone")
        .to_ambiguous_timestamp(local)
        .unambiguous()
        .expect("not in a clock-change gap or fold")
}

#[test]
fn the_code_defaults() {
    let rules = ComplaintRules::default();
    assert_eq!(rules, ComplaintRules::COMPLAINT_HANDLING_CODE_2024);
    assert_eq!(rules.acknowledge_working_days, 5);
    assert_eq!(rules.response_working_days(ComplaintStage::Stage1), 10);
    assert_eq!(rules.response_working_days(ComplaintStage::Stage2), 20);
}

#[test]
fn stage_1_in_november_2026() {
    let c = BusinessCalendar::council_default();
    let rules = ComplaintRules::default();
    // Received Monday 2 November 2026 at 11:00 (open): the receipt day is Monday 2 Nov.
    // Acknowledge within 5 working days: Tue 3 (1), Wed 4 (2), Thu 5 (3), Fri 6 (4),
    // Mon 9 (5) → Monday 9 November 17:00 GMT.
    let received = london("2026-11-02T11:00");
    assert_eq!(
        rules.acknowledgement_due(&c, received),
        Some(london("2026-11-09T17:00"))
    );
    // Acknowledged Wednesday 4 November at 14:00. Respond within 10 working days of that:
    // Thu 5 (1), Fri 6 (2), Mon 9 (3), Tue 10 (4), Wed 11 (5), Thu 12 (6), Fri 13 (7),
    // Mon 16 (8), Tue 17 (9), Wed 18 (10) → Wednesday 18 November 17:00.
    let acknowledged = london("2026-11-04T14:00");
    assert_eq!(
        rules.response_due(&c, ComplaintStage::Stage1, acknowledged),
        Some(london("2026-11-18T17:00"))
    );
    assert_eq!(
        rules.due_times(&c, ComplaintStage::Stage1, received, Some(acknowledged)),
        Some(ComplaintDueTimes {
            acknowledge_by: london("2026-11-09T17:00"),
            respond_by: london("2026-11-18T17:00"),
        })
    );
    // Not yet acknowledged: the latest the response can be due is 10 working days after the
    // acknowledgement due day, Monday 9 Nov: Tue 10 (1) ... Fri 13 (4), Mon 16 (5) ...
    // Fri 20 (9), Mon 23 (10) → Monday 23 November 17:00.
    assert_eq!(
        rules
            .due_times(&c, ComplaintStage::Stage1, received, None)
            .map(|due| due.respond_by),
        Some(london("2026-11-23T17:00"))
    );
}

#[test]
fn stage_2_over_christmas_2026_with_an_extension() {
    let c = BusinessCalendar::council_default();
    let rules = ComplaintRules::default();
    // The customer asks to escalate on Friday 11 December 2026 at 15:00 (open until 16:30).
    // Acknowledge within 5 working days: Mon 14 (1), Tue 15 (2), Wed 16 (3), Thu 17 (4),
    // Fri 18 (5) → Friday 18 December 16:30.
    let requested = london("2026-12-11T15:00");
    assert_eq!(
        rules.acknowledgement_due(&c, requested),
        Some(london("2026-12-18T16:30"))
    );
    // Acknowledged Tuesday 15 December at 10:00. Stage 2: 20 working days of that.
    // Wed 16 (1), Thu 17 (2), Fri 18 (3), Mon 21 (4), Tue 22 (5), Wed 23 (6), Thu 24 (7),
    // [Fri 25 Christmas, weekend, Mon 28 Boxing Day substitute], Tue 29 (8), Wed 30 (9),
    // Thu 31 (10), [Fri 1 Jan New Year, weekend], Mon 4 Jan (11), Tue 5 (12), Wed 6 (13),
    // Thu 7 (14), Fri 8 (15), Mon 11 (16), Tue 12 (17), Wed 13 (18), Thu 14 (19),
    // Fri 15 Jan 2027 (20) → Friday 15 January 2027 16:30 GMT.
    let acknowledged = london("2026-12-15T10:00");
    let due = rules
        .response_due(&c, ComplaintStage::Stage2, acknowledged)
        .unwrap();
    assert_eq!(due, london("2027-01-15T16:30"));

    // Extended by 10 working days, explained to the customer: counted from the due day, Friday
    // 15 January: Mon 18 (1), Tue 19, Wed 20, Thu 21, Fri 22 (5), Mon 25, Tue 26, Wed 27,
    // Thu 28, Fri 29 (10) → Friday 29 January 2027 16:30.
    let extension = Extension::new(10, "awaiting the housing repairs contractor's report").unwrap();
    assert_eq!(extension.working_days(), 10);
    assert_eq!(extension.apply(&c, due), Some(london("2027-01-29T16:30")));
    // One working day from a Thursday 17:00 deadline is Friday at 16:30, not Monday.
    let one_day = Extension::new(1, "a further report is due").unwrap();
    assert_eq!(
        one_day.apply(&c, london("2027-01-14T17:00")),
        Some(london("2027-01-15T16:30"))
    );
}

#[test]
fn stage_1_over_easter_2027_received_after_hours() {
    let c = BusinessCalendar::council_default();
    let rules = ComplaintRules::default();
    // Received Tuesday 23 March 2027 at 18:00 (closed): it counts from 08:30 Wednesday 24.
    // Acknowledge within 5 working days: Thu 25 (1), [Fri 26 Good Friday, weekend (BST starts
    // Sunday 28), Mon 29 Easter Monday], Tue 30 (2), Wed 31 (3), Thu 1 Apr (4), Fri 2 Apr (5)
    // → Friday 2 April 2027 16:30 BST, which is 15:30 UTC.
    let due = rules
        .acknowledgement_due(&c, london("2027-03-23T18:00"))
        .unwrap();
    assert_eq!(due, london("2027-04-02T16:30"));
    assert_eq!(due, "2027-04-02T15:30:00Z".parse().unwrap());
}

#[test]
fn configurable_rules() {
    let c = BusinessCalendar::council_default();
    let rules = ComplaintRules {
        acknowledge_working_days: 3,
        stage1_response_working_days: 15,
        stage2_response_working_days: 25,
    };
    // Received Monday 2 November 2026 11:00: Tue 3 (1), Wed 4 (2), Thu 5 (3).
    assert_eq!(
        rules.acknowledgement_due(&c, london("2026-11-02T11:00")),
        Some(london("2026-11-05T17:00"))
    );
    assert_eq!(rules.response_working_days(ComplaintStage::Stage2), 25);
}

#[test]
fn extensions_must_be_explained() {
    assert_eq!(
        Extension::new(5, "  "),
        Err(CalendarError::ExtensionWithoutReason)
    );
    assert_eq!(
        Extension::new(0, "more time"),
        Err(CalendarError::ExtensionOfZeroDays)
    );
    let extension = Extension::new(5, "more time").unwrap();
    assert_eq!(extension.reason(), "more time");
}
