//! Properties of the working-day arithmetic over 2025–2028, on the council calendar and on a
//! busier one (lunch breaks, a Saturday, a 24-hour Sunday, closures and extra openings).

use jiff::civil::{Weekday, date};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use switchboard_calendar::{BusinessCalendar, OpeningInterval, Period, WeeklyHours, time_zone};

/// 2025-01-01T00:00:00Z and 2029-01-01T00:00:00Z in Unix seconds.
const FIRST_SECOND: i64 = 1_735_689_600;
const LAST_SECOND: i64 = 1_861_920_000;

fn busy() -> BusinessCalendar {
    let parse = |text: &str| OpeningInterval::parse(text).expect("valid test data");
    let hours = WeeklyHours::council_default()
        .with(
            Weekday::Tuesday,
            [parse("08:30-12:30"), parse("13:30-17:00")],
        )
        .expect("valid test data")
        .with(Weekday::Saturday, [parse("09:00-12:00")])
        .expect("valid test data")
        .with(Weekday::Sunday, [parse("00:00-24:00")])
        .expect("valid test data");
    BusinessCalendar::new(time_zone("Europe/London").expect("valid test data"), hours)
        .expect("valid test data")
        .with_holidays(
            switchboard_calendar::england_and_wales_bank_holidays()
                .iter()
                .copied(),
        )
        .with_closure(
            Period::days(date(2026, 12, 21), date(2026, 12, 31)).expect("valid test data"),
        )
        .with_closure(
            Period::new(
                date(2026, 3, 28).at(22, 0, 0, 0),
                date(2026, 3, 29).at(3, 0, 0, 0),
            )
            .expect("valid test data"),
        )
        .with_extra_opening(
            Period::new(
                date(2026, 12, 25).at(10, 0, 0, 0),
                date(2026, 12, 25).at(11, 0, 0, 0),
            )
            .expect("valid test data"),
        )
}

fn calendars() -> [BusinessCalendar; 2] {
    [BusinessCalendar::council_default(), busy()]
}

fn instant() -> impl Strategy<Value = Timestamp> {
    (FIRST_SECOND..LAST_SECOND)
        .prop_map(|second| Timestamp::from_second(second).expect("valid test data"))
}

fn before(at: Timestamp) -> Timestamp {
    at.checked_sub(SignedDuration::from_nanos(1))
        .expect("valid test data")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// A due time is at or after `from` and is a close of business: the end of the last open
    /// period of a working day.
    #[test]
    fn due_time_is_a_close_of_business_at_or_after_from(from in instant(), n in 0u32..30) {
        for calendar in calendars() {
            let due = calendar.add_working_days(from, n).unwrap();
            prop_assert!(due >= from);
            prop_assert!(calendar.is_open(before(due)), "open just before the due time");
            let due_day = calendar.local_date(before(due));
            prop_assert!(calendar.is_working_day(due_day));
            prop_assert_eq!(calendar.close_of_business(due_day), Some(due));
        }
    }

    /// Later receipt never gives an earlier due time.
    #[test]
    fn adding_working_days_is_monotonic_in_from(a in instant(), b in instant(), n in 0u32..30) {
        let (early, late) = if a <= b { (a, b) } else { (b, a) };
        for calendar in calendars() {
            prop_assert!(
                calendar.add_working_days(early, n).unwrap()
                    <= calendar.add_working_days(late, n).unwrap()
            );
        }
    }

    /// More working days is strictly later.
    #[test]
    fn adding_working_days_is_strictly_monotonic_in_n(from in instant(), n in 0u32..40) {
        for calendar in calendars() {
            prop_assert!(
                calendar.add_working_days(from, n).unwrap()
                    < calendar.add_working_days(from, n + 1).unwrap()
            );
        }
    }

    /// Counting working days agrees with due times: `to` is within n working days of `from`
    /// exactly when the count is at most n.
    #[test]
    fn working_days_between_agrees_with_due_times(
        from in instant(),
        to in instant(),
        n in 0u32..30,
    ) {
        for calendar in calendars() {
            let due = calendar.add_working_days(from, n).unwrap();
            prop_assert_eq!(calendar.working_days_between(from, due), Some(n));
            let count = calendar.working_days_between(from, to).unwrap();
            prop_assert_eq!(to <= due, count <= n);
        }
    }

    /// Next open is at or after the instant and open; next close ends that open period.
    #[test]
    fn next_open_and_next_close(at in instant()) {
        for calendar in calendars() {
            let open = calendar.next_open(at).unwrap();
            prop_assert!(open >= at);
            prop_assert!(calendar.is_open(open));
            prop_assert_eq!(calendar.is_open(at), open == at);
            let close = calendar.next_close(at).unwrap();
            prop_assert!(close > open);
            prop_assert!(calendar.is_open(before(close)));
            prop_assert!(!calendar.is_open(close));
            prop_assert_eq!(
                calendar.working_time_between(open, close).unwrap(),
                std::time::Duration::try_from(open.duration_until(close)).unwrap(),
                "open all the way from next open to next close"
            );
        }
    }

    /// Working time adds up over consecutive spans, and is positive exactly when open.
    #[test]
    fn working_time_is_additive(a in instant(), b in instant(), c in instant()) {
        let mut points = [a, b, c];
        points.sort();
        let [a, b, c] = points;
        for calendar in calendars() {
            let whole = calendar.working_time_between(a, c).unwrap();
            let parts = calendar.working_time_between(a, b).unwrap()
                + calendar.working_time_between(b, c).unwrap();
            prop_assert_eq!(whole, parts);
            let next_second = a.checked_add(SignedDuration::from_secs(1)).unwrap();
            prop_assert_eq!(
                calendar.is_open(a),
                !calendar.working_time_between(a, next_second).unwrap().is_zero()
            );
        }
    }

    /// Going back `amount` of working time from `to` lands on the latest instant from which
    /// exactly that much working time remains, and that instant is within opening hours.
    #[test]
    fn working_time_before_inverts_working_time_between(to in instant(), minutes in 0u64..6_000) {
        let amount = std::time::Duration::from_secs(minutes * 60);
        for calendar in calendars() {
            let at = calendar.working_time_before(to, amount).unwrap();
            prop_assert!(at <= to);
            prop_assert_eq!(calendar.working_time_between(at, to).unwrap(), amount);
            if !amount.is_zero() {
                prop_assert!(calendar.is_open(at), "{} is out of hours", at);
                // Latest: a second later, less than `amount` is left.
                let later = at.checked_add(SignedDuration::from_secs(1)).unwrap();
                prop_assert!(calendar.working_time_between(later, to).unwrap() < amount);
            }
        }
    }
}
