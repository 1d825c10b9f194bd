//! The working-day rules on real dates with the council calendar (Europe/London, Mon–Thu
//! 08:30–17:00, Fri 08:30–16:30, England and Wales bank holidays): Christmas and New Year
//! 2026–27, Easter 2027, Friday afternoons, the 2026 clock changes, midnight and bank holidays.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{DateTime, Weekday, date};
use switchboard_calendar::{BusinessCalendar, OpeningInterval, Period, WeeklyHours, time_zone};

/// The instant of a Europe/London wall-clock time such as `"2026-12-24T16:59"`.
fn london(local: &str) -> Timestamp {
    let local: DateTime = local.parse().expect("local date-time");
    time_zone("Europe/London")
        .expect("zone")
        .to_ambiguous_timestamp(local)
        .unambiguous()
        .expect("not in a clock-change gap or fold")
}

fn council() -> BusinessCalendar {
    BusinessCalendar::council_default()
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

#[test]
fn open_periods_are_half_open() {
    let c = council();
    // Thursday 4 June 2026.
    assert!(!c.is_open(london("2026-06-04T08:29:59")));
    assert!(c.is_open(london("2026-06-04T08:30")));
    assert!(c.is_open(london("2026-06-04T16:59:59")));
    assert!(!c.is_open(london("2026-06-04T17:00")));
    // Friday 5 June closes at 16:30.
    assert!(c.is_open(london("2026-06-05T16:29")));
    assert!(!c.is_open(london("2026-06-05T16:30")));
    // Saturday.
    assert!(!c.is_open(london("2026-06-06T10:00")));
}

#[test]
fn the_crate_docs_worked_examples() {
    let c = council();
    // (received, receipt day, due in 1 working day, due in 5 working days)
    let examples = [
        // Tue 2 Jun 2026, 10:00: open, so Tuesday is the receipt day. Day 1 is Wednesday;
        // days 1..5 are Wed 3, Thu 4, Fri 5, Mon 8, Tue 9.
        (
            "2026-06-02T10:00",
            date(2026, 6, 2),
            "2026-06-03T17:00",
            "2026-06-09T17:00",
        ),
        // Midnight starting Tuesday: counts from 08:30 that Tuesday, same as above.
        (
            "2026-06-02T00:00",
            date(2026, 6, 2),
            "2026-06-03T17:00",
            "2026-06-09T17:00",
        ),
        // Fri 5 Jun 16:29, one minute before the Friday close: Friday is the receipt day.
        // Days: Mon 8 (1), Tue 9, Wed 10, Thu 11, Fri 12 (5, closes 16:30).
        (
            "2026-06-05T16:29",
            date(2026, 6, 5),
            "2026-06-08T17:00",
            "2026-06-12T16:30",
        ),
        // Fri 16:31 and 16:59: closed, so received at 08:30 Monday 8 June.
        // Days: Tue 9 (1), Wed 10, Thu 11, Fri 12, Mon 15 (5).
        (
            "2026-06-05T16:31",
            date(2026, 6, 8),
            "2026-06-09T17:00",
            "2026-06-15T17:00",
        ),
        (
            "2026-06-05T16:59",
            date(2026, 6, 8),
            "2026-06-09T17:00",
            "2026-06-15T17:00",
        ),
        // Mon 31 Aug 2026 is the summer bank holiday: received 08:30 Tuesday 1 Sep.
        // Days: Wed 2 (1), Thu 3, Fri 4, Mon 7, Tue 8 (5).
        (
            "2026-08-31T10:00",
            date(2026, 9, 1),
            "2026-09-02T17:00",
            "2026-09-08T17:00",
        ),
    ];
    for (received, receipt_day, due_1, due_5) in examples {
        let at = london(received);
        assert_eq!(c.receipt_day(at), Some(receipt_day), "{received}");
        assert_eq!(
            c.add_working_days(at, 1),
            Some(london(due_1)),
            "{received} + 1"
        );
        assert_eq!(
            c.add_working_days(at, 5),
            Some(london(due_5)),
            "{received} + 5"
        );
    }
}

#[test]
fn zero_working_days_is_close_of_business_on_the_receipt_day() {
    let c = council();
    assert_eq!(
        c.add_working_days(london("2026-06-02T10:00"), 0),
        Some(london("2026-06-02T17:00"))
    );
    // Received on Friday evening: the receipt day is Monday.
    assert_eq!(
        c.add_working_days(london("2026-06-05T19:00"), 0),
        Some(london("2026-06-08T17:00"))
    );
}

#[test]
fn friday_afternoon_next_open_and_next_close() {
    let c = council();
    let friday_1600 = london("2026-06-05T16:00");
    assert_eq!(c.next_open(friday_1600), Some(friday_1600));
    assert_eq!(c.next_close(friday_1600), Some(london("2026-06-05T16:30")));
    for closed in ["2026-06-05T16:30", "2026-06-05T16:31", "2026-06-05T16:59"] {
        assert_eq!(
            c.next_open(london(closed)),
            Some(london("2026-06-08T08:30")),
            "{closed}"
        );
        assert_eq!(
            c.next_close(london(closed)),
            Some(london("2026-06-08T17:00")),
            "{closed}"
        );
    }
    // Open for one more minute at 16:29: it answers in one minute of working time.
    assert_eq!(
        c.working_time_between(london("2026-06-05T16:29"), london("2026-06-08T08:31")),
        Some(minutes(1) + minutes(1))
    );
}

#[test]
fn christmas_and_new_year_2026_27() {
    let c = council();
    // Bank holidays: Fri 25 Dec, Mon 28 Dec (Boxing Day substitute), Fri 1 Jan 2027.
    for holiday in [date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)] {
        assert!(!c.is_working_day(holiday), "{holiday}");
    }
    for working in [
        date(2026, 12, 24),
        date(2026, 12, 29),
        date(2026, 12, 31),
        date(2027, 1, 4),
    ] {
        assert!(c.is_working_day(working), "{working}");
    }
    // Closing on Christmas Eve (a Thursday, 17:00) it next opens on Tuesday 29 December.
    assert_eq!(
        c.next_open(london("2026-12-24T17:00")),
        Some(london("2026-12-29T08:30"))
    );

    // An email at 15:00 on Christmas Eve counts from Thursday 24 Dec.
    // Working days after it: Tue 29 (1), Wed 30 (2), Thu 31 (3), Mon 4 Jan (4), Tue 5 Jan (5).
    let eve = london("2026-12-24T15:00");
    assert_eq!(c.add_working_days(eve, 1), Some(london("2026-12-29T17:00")));
    assert_eq!(c.add_working_days(eve, 3), Some(london("2026-12-31T17:00")));
    assert_eq!(c.add_working_days(eve, 4), Some(london("2027-01-04T17:00")));
    assert_eq!(c.add_working_days(eve, 5), Some(london("2027-01-05T17:00")));

    // After the Christmas Eve close, or on Christmas Day, it counts from Tuesday 29 Dec:
    // Wed 30 (1) ... Thu 31 (2), Mon 4 Jan (3), Tue 5 (4), Wed 6 (5).
    for received in ["2026-12-24T17:30", "2026-12-25T10:00", "2026-12-28T09:00"] {
        let at = london(received);
        assert_eq!(c.receipt_day(at), Some(date(2026, 12, 29)), "{received}");
        assert_eq!(c.add_working_days(at, 1), Some(london("2026-12-30T17:00")));
        assert_eq!(c.add_working_days(at, 5), Some(london("2027-01-06T17:00")));
    }

    // Counting: from Christmas Eve 10:00 to Monday 4 Jan 12:00 is 4 working days (29, 30, 31 Dec
    // and 4 Jan), so a reply then is within 4 working days but not within 3.
    let replied = london("2027-01-04T12:00");
    assert_eq!(
        c.working_days_between(london("2026-12-24T10:00"), replied),
        Some(4)
    );
    // Working time over the break: 7 h on the 24th, then 8.5 h each on 29, 30 and 31 December.
    assert_eq!(
        c.working_time_between(london("2026-12-24T10:00"), london("2027-01-01T00:00")),
        Some(hours(7) + minutes(3 * 510))
    );
}

#[test]
fn easter_2027_with_the_clock_change_in_the_middle() {
    let c = council();
    // Good Friday 26 Mar, Easter Monday 29 Mar 2027; BST starts on Sunday 28 Mar 2027.
    let thursday_close = london("2027-03-25T17:00");
    assert_eq!(thursday_close, "2027-03-25T17:00:00Z".parse().unwrap());
    let next = c.next_open(thursday_close).unwrap();
    assert_eq!(next, london("2027-03-30T08:30"));
    assert_eq!(next, "2027-03-30T07:30:00Z".parse().unwrap(), "08:30 BST");

    // Received Thursday 16:00 GMT: day 1 is Tuesday 30 March, due 17:00 BST (16:00 UTC).
    let due = c.add_working_days(london("2027-03-25T16:00"), 1).unwrap();
    assert_eq!(due, "2027-03-30T16:00:00Z".parse().unwrap());
    // One hour of Thursday and one of Tuesday, although 113 hours pass on the clock.
    assert_eq!(
        c.working_time_between(london("2027-03-25T16:00"), london("2027-03-30T09:30")),
        Some(hours(2))
    );
}

#[test]
fn clock_changes_of_2026() {
    let c = council();
    // Spring: Sunday 29 March 2026, 01:00 GMT becomes 02:00 BST.
    let friday_close = london("2026-03-27T16:30");
    assert_eq!(friday_close, "2026-03-27T16:30:00Z".parse().unwrap(), "GMT");
    assert_eq!(
        c.next_open(friday_close),
        Some("2026-03-30T07:30:00Z".parse().unwrap())
    );
    assert_eq!(
        c.add_working_days(london("2026-03-27T12:00"), 1),
        Some("2026-03-30T16:00:00Z".parse().unwrap()),
        "Monday 17:00 BST"
    );
    assert_eq!(
        c.working_time_between(london("2026-03-27T16:00"), london("2026-03-30T09:00")),
        Some(hours(1))
    );

    // Autumn: Sunday 25 October 2026, 02:00 BST becomes 01:00 GMT.
    let friday_close = london("2026-10-23T16:30");
    assert_eq!(friday_close, "2026-10-23T15:30:00Z".parse().unwrap(), "BST");
    assert_eq!(
        c.next_open(friday_close),
        Some("2026-10-26T08:30:00Z".parse().unwrap())
    );
    assert_eq!(
        c.add_working_days(london("2026-10-23T12:00"), 1),
        Some("2026-10-26T17:00:00Z".parse().unwrap()),
        "Monday 17:00 GMT"
    );
}

#[test]
fn round_the_clock_service_sees_23_and_25_hour_days() {
    let all_day = OpeningInterval::parse("00:00-24:00").unwrap();
    let hours_24_7 = WeeklyHours::every_day([all_day]).unwrap();
    let c = BusinessCalendar::new(time_zone("Europe/London").unwrap(), hours_24_7).unwrap();
    let spring = c.working_time_between(london("2026-03-29T00:00"), london("2026-03-30T00:00"));
    assert_eq!(spring, Some(hours(23)));
    let autumn = c.working_time_between(london("2026-10-25T00:00"), london("2026-10-26T00:00"));
    assert_eq!(autumn, Some(hours(25)));
    // Always open: it never closes within the search bound.
    assert!(c.is_open(london("2026-03-29T03:00")));
    assert_eq!(c.next_close(london("2026-03-29T03:00")), None);
    // Close of business on the Sunday of the change is midnight starting Monday.
    assert_eq!(
        c.add_working_days(london("2026-03-28T12:00"), 1),
        Some(london("2026-03-30T00:00"))
    );
}

#[test]
fn night_opening_hours_across_the_gap_and_the_fold() {
    let zone = time_zone("Europe/London").unwrap();
    let night = WeeklyHours::closed()
        .with(
            Weekday::Sunday,
            [OpeningInterval::parse("00:30-03:00").unwrap()],
        )
        .unwrap();
    let c = BusinessCalendar::new(zone, night).unwrap();
    // 29 Mar 2026: 00:30 GMT to 03:00 BST is 00:30Z to 02:00Z, 1 h 30 min.
    let spring: Vec<_> = c.open_periods(date(2026, 3, 29)).collect();
    assert_eq!(
        spring,
        [(
            "2026-03-29T00:30:00Z".parse().unwrap(),
            "2026-03-29T02:00:00Z".parse().unwrap()
        )]
    );
    // 25 Oct 2026: 00:30 BST to 03:00 GMT is 23:30Z to 03:00Z, 3 h 30 min.
    assert_eq!(
        c.working_time_between(
            "2026-10-24T00:00:00Z".parse().unwrap(),
            "2026-10-26T00:00:00Z".parse().unwrap()
        ),
        Some(hours(3) + minutes(30))
    );
    // An interval wholly inside the spring gap (01:00 to 02:00 GMT does not exist) moves
    // forward by the gap's hour, keeping its length: 02:10 to 02:50 BST.
    let in_gap = WeeklyHours::closed()
        .with(
            Weekday::Sunday,
            [OpeningInterval::parse("01:10-01:50").unwrap()],
        )
        .unwrap();
    let c = BusinessCalendar::new(time_zone("Europe/London").unwrap(), in_gap).unwrap();
    let spring: Vec<_> = c.open_periods(date(2026, 3, 29)).collect();
    assert_eq!(
        spring,
        [(london("2026-03-29T02:10"), london("2026-03-29T02:50"))]
    );
    assert!(c.is_working_day(date(2026, 4, 5)));
}

#[test]
fn closures_and_extra_openings() {
    // Staff training on Wednesday 24 June 2026 from 12:00; the office closes early.
    let training = Period::new(
        date(2026, 6, 24).at(12, 0, 0, 0),
        date(2026, 6, 24).at(17, 0, 0, 0),
    )
    .unwrap();
    // Closed all of Thursday 25 and Friday 26 June (office move).
    let office_move = Period::days(date(2026, 6, 25), date(2026, 6, 26)).unwrap();
    // Open on Saturday 2 May 2026 09:00-13:00 for the elections.
    let election = Period::new(
        date(2026, 5, 2).at(9, 0, 0, 0),
        date(2026, 5, 2).at(13, 0, 0, 0),
    )
    .unwrap();
    let c = council()
        .with_closure(training)
        .with_closure(office_move)
        .with_extra_opening(election);

    assert!(c.is_open(london("2026-06-24T11:59")));
    assert!(!c.is_open(london("2026-06-24T12:00")));
    assert!(
        c.is_working_day(date(2026, 6, 24)),
        "closed early, still a working day"
    );
    assert_eq!(
        c.close_of_business(date(2026, 6, 24)),
        Some(london("2026-06-24T12:00"))
    );
    assert!(!c.is_working_day(date(2026, 6, 25)));
    assert!(!c.is_working_day(date(2026, 6, 26)));
    // A contact at 13:00 on the training afternoon counts from Monday 29 June 08:30.
    assert_eq!(
        c.next_open(london("2026-06-24T13:00")),
        Some(london("2026-06-29T08:30"))
    );
    // Received on the Tuesday before: day 1 is the short Wednesday, day 2 is Monday.
    let tuesday = london("2026-06-23T10:00");
    assert_eq!(
        c.add_working_days(tuesday, 1),
        Some(london("2026-06-24T12:00"))
    );
    assert_eq!(
        c.add_working_days(tuesday, 2),
        Some(london("2026-06-29T17:00"))
    );

    // The election Saturday is a working day.
    assert!(c.is_working_day(date(2026, 5, 2)));
    assert!(c.is_open(london("2026-05-02T10:00")));
    assert_eq!(
        c.add_working_days(london("2026-05-01T12:00"), 1),
        Some(london("2026-05-02T13:00"))
    );
    // Monday 4 May 2026 is the early May bank holiday, so after the Saturday comes Tuesday.
    assert_eq!(
        c.next_open(london("2026-05-02T13:00")),
        Some(london("2026-05-05T08:30"))
    );
}

#[test]
fn an_extra_opening_on_a_bank_holiday_and_lunch_breaks() {
    let lunch = ["08:30-12:30", "13:30-17:00"].map(|t| OpeningInterval::parse(t).unwrap());
    let hours = WeeklyHours::council_default()
        .with(Weekday::Tuesday, lunch)
        .unwrap();
    let c = BusinessCalendar::new(time_zone("Europe/London").unwrap(), hours)
        .unwrap()
        .with_holidays([date(2026, 8, 31)])
        .with_extra_opening(
            Period::new(
                date(2026, 8, 31).at(10, 0, 0, 0),
                date(2026, 8, 31).at(12, 0, 0, 0),
            )
            .unwrap(),
        );
    assert!(c.is_open(london("2026-08-31T11:00")));
    assert!(!c.is_open(london("2026-08-31T09:00")));
    // Tuesday 1 September: closed for lunch; next_close stops at the lunch break.
    assert!(!c.is_open(london("2026-09-01T13:00")));
    assert_eq!(
        c.next_open(london("2026-09-01T12:45")),
        Some(london("2026-09-01T13:30"))
    );
    assert_eq!(
        c.next_close(london("2026-09-01T09:00")),
        Some(london("2026-09-01T12:30"))
    );
    assert_eq!(
        c.working_time_between(london("2026-09-01T00:00"), london("2026-09-02T00:00")),
        Some(hours_and_minutes(7, 30))
    );
}

fn hours_and_minutes(h: u64, m: u64) -> Duration {
    hours(h) + minutes(m)
}

#[test]
fn working_days_between_counts_like_due_times() {
    let c = council();
    let received = london("2026-06-02T10:00"); // Tuesday
    assert_eq!(
        c.working_days_between(received, london("2026-06-02T16:00")),
        Some(0)
    );
    assert_eq!(
        c.working_days_between(received, london("2026-06-02T17:00")),
        Some(0)
    );
    // After close on Tuesday is too late for "same day": it counts as Wednesday.
    assert_eq!(
        c.working_days_between(received, london("2026-06-02T17:01")),
        Some(1)
    );
    assert_eq!(
        c.working_days_between(received, london("2026-06-03T08:00")),
        Some(1)
    );
    assert_eq!(
        c.working_days_between(received, london("2026-06-09T17:00")),
        Some(5)
    );
    assert_eq!(
        c.working_days_between(received, london("2026-06-09T17:01")),
        Some(6)
    );
    // Earlier than the receipt: zero.
    assert_eq!(
        c.working_days_between(received, london("2026-06-01T10:00")),
        Some(0)
    );
}

#[test]
fn search_bounds_give_none() {
    // Closed for two years: no opening is found within the 366-day search.
    let c = council().with_closure(Period::days(date(2026, 1, 1), date(2027, 12, 31)).unwrap());
    assert_eq!(c.next_open(london("2026-01-01T09:00")), None);
    assert_eq!(c.add_working_days(london("2026-01-01T09:00"), 1), None);
    assert_eq!(
        c.add_working_days(london("2025-06-02T09:00"), u32::MAX),
        None,
        "n beyond WORKING_DAYS_MAX"
    );
}

#[test]
fn at_risk_four_working_hours_before_a_due_time() {
    let c = council();
    // Due at close of business on Tuesday 29 December 2026 (17:00 GMT), after the Christmas and
    // Boxing Day (substitute Monday 28th) bank holidays: four working hours before is 13:00 that
    // Tuesday.
    let due = london("2026-12-29T17:00");
    assert_eq!(
        c.working_time_before(due, hours(4)),
        Some(london("2026-12-29T13:00"))
    );
    // Ten working hours back crosses the holidays and the weekend to Thursday 24 December: the
    // Tuesday gives 8.5 hours, so the last 1.5 hours are taken from 17:00 on Thursday 24th.
    assert_eq!(
        c.working_time_before(due, hours(10)),
        Some(london("2026-12-24T15:30"))
    );
    // Due at 16:30 on a Friday: two working hours before is 14:30.
    assert_eq!(
        c.working_time_before(london("2026-06-05T16:30"), hours(2)),
        Some(london("2026-06-05T14:30"))
    );
    // Across the spring clock change (Sunday 29 March 2026): four working hours before 10:30
    // BST on Monday 30 March is 14:30 GMT on Friday 27 March (2 h on Monday, 2 h on Friday).
    assert_eq!(
        c.working_time_before(london("2026-03-30T10:30"), hours(4)),
        Some(london("2026-03-27T14:30"))
    );
    assert_eq!(c.working_time_before(due, minutes(0)), Some(due));
}
