//! The plain-data calendar spec: defaults, validation errors that name the field, and (with the
//! `serde` feature) reading it from TOML.

use jiff::civil::date;
use switchboard_calendar::{BusinessCalendar, CalendarError, CalendarSpec, PeriodSpec};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[test]
fn the_default_spec_is_the_council_calendar() {
    let from_spec = CalendarSpec::default().to_calendar().unwrap();
    let council = BusinessCalendar::council_default();
    assert_eq!(from_spec.hours(), council.hours());
    assert_eq!(from_spec.holidays(), council.holidays());
    assert_eq!(from_spec.time_zone().iana_name(), Some("Europe/London"));
}

#[test]
fn a_full_spec_builds() {
    let mut spec = CalendarSpec {
        holidays: strings(&["2026-12-24"]),
        closures: vec![
            PeriodSpec {
                from: "2026-07-01T12:00".to_owned(),
                to: Some("2026-07-01T17:00".to_owned()),
            },
            PeriodSpec {
                from: "2026-08-03".to_owned(),
                to: None,
            },
            PeriodSpec {
                from: "2026-08-10".to_owned(),
                to: Some("2026-08-11".to_owned()),
            },
        ],
        extra_openings: vec![PeriodSpec {
            from: "2026-05-02 09:00".to_owned(),
            to: Some("2026-05-02 13:00".to_owned()),
        }],
        ..CalendarSpec::default()
    };
    spec.hours.tuesday = strings(&["08:30-12:30", "13:30-17:00"]);
    let calendar = BusinessCalendar::try_from(&spec).unwrap();
    assert!(!calendar.is_working_day(date(2026, 12, 24)));
    assert!(calendar.is_working_day(date(2026, 7, 1)));
    assert!(!calendar.is_working_day(date(2026, 8, 3)));
    assert!(!calendar.is_working_day(date(2026, 8, 10)));
    assert!(!calendar.is_working_day(date(2026, 8, 11)));
    assert!(calendar.is_working_day(date(2026, 8, 12)));
    assert!(calendar.is_working_day(date(2026, 5, 2)));
    assert_eq!(calendar.opening_hours_on(date(2026, 7, 7)).len(), 2);
}

/// Builds `spec` and returns its error message.
fn error_of(spec: &CalendarSpec) -> String {
    spec.to_calendar()
        .expect_err("spec must be rejected")
        .to_string()
}

#[test]
fn validation_errors_name_the_field() {
    let mut spec = CalendarSpec::default();
    spec.hours.friday = strings(&["08:30-1630"]);
    assert_eq!(
        error_of(&spec),
        "hours.friday[0]: bad opening hours \"08:30-1630\": bad end time \
         (expected HH:MM-HH:MM, e.g. \"08:30-17:00\")"
    );

    let mut spec = CalendarSpec::default();
    spec.hours.monday = strings(&["17:00-08:30"]);
    assert!(
        error_of(&spec).contains("hours.monday[0]"),
        "{}",
        error_of(&spec)
    );
    assert!(error_of(&spec).contains("end time is not after the start time"));

    let mut spec = CalendarSpec::default();
    spec.hours.wednesday = strings(&["08:30-13:00", "12:00-17:00"]);
    assert_eq!(
        error_of(&spec),
        "hours.wednesday: opening hours on Wednesday overlap: 08:30-13:00 and 12:00-17:00"
    );

    let spec = CalendarSpec {
        time_zone: "Europe/Atlantis".to_owned(),
        ..CalendarSpec::default()
    };
    assert!(error_of(&spec).starts_with("time_zone: unknown time zone \"Europe/Atlantis\""));

    let spec = CalendarSpec {
        holidays: strings(&["2026-12-25", "2026-13-01"]),
        ..CalendarSpec::default()
    };
    assert!(error_of(&spec).starts_with("holidays[1]: bad date \"2026-13-01\""));

    let spec = CalendarSpec {
        bank_holidays: "atlantis".to_owned(),
        ..CalendarSpec::default()
    };
    assert!(error_of(&spec).starts_with("bank_holidays: unknown bank holiday set"));

    let spec = CalendarSpec {
        closures: vec![PeriodSpec {
            from: "2026-07-01T17:00".to_owned(),
            to: Some("2026-07-01T12:00".to_owned()),
        }],
        ..CalendarSpec::default()
    };
    assert!(
        error_of(&spec).starts_with("closures[0]: period from 2026-07-01T17:00:00"),
        "{}",
        error_of(&spec)
    );

    let spec = CalendarSpec {
        extra_openings: vec![PeriodSpec {
            from: "2026-07-01T09:00".to_owned(),
            to: None,
        }],
        ..CalendarSpec::default()
    };
    assert!(error_of(&spec).starts_with("extra_openings[0].from: bad date"));

    let spec = CalendarSpec {
        closures: vec![PeriodSpec {
            from: "2026-07-01".to_owned(),
            to: Some("tomorrow".to_owned()),
        }],
        ..CalendarSpec::default()
    };
    assert!(error_of(&spec).starts_with("closures[0].to: bad date or date-time \"tomorrow\""));

    let spec = CalendarSpec {
        hours: Default::default(),
        ..CalendarSpec::default()
    };
    let error = spec.to_calendar().unwrap_err();
    assert!(matches!(
        &error,
        CalendarError::InField { field, problem } if field == "hours"
            && **problem == CalendarError::NeverOpen
    ));
}

#[cfg(feature = "serde")]
#[test]
fn reads_from_toml() {
    let text = r#"
        time_zone = "Europe/London"
        bank_holidays = "england-and-wales"
        holidays = ["2026-12-24"]
        closures = [{ from = "2026-07-01T12:00", to = "2026-07-01T17:00" }]

        [hours]
        monday = ["08:30-17:00"]
        tuesday = ["08:30-12:30", "13:30-17:00"]
        saturday = ["09:00-12:00"]
    "#;
    let spec: CalendarSpec = toml::from_str(text).unwrap();
    assert!(
        spec.hours.wednesday.is_empty(),
        "a weekday missing from [hours] is closed"
    );
    let calendar = spec.to_calendar().unwrap();
    assert!(calendar.is_working_day(date(2026, 6, 6)), "Saturday");
    assert!(!calendar.is_working_day(date(2026, 6, 3)), "Wednesday");

    // Everything omitted: the council calendar.
    let empty: CalendarSpec = toml::from_str("").unwrap();
    assert_eq!(empty, CalendarSpec::default());

    // Unknown keys are rejected, not ignored.
    assert!(toml::from_str::<CalendarSpec>("timezone = \"Europe/London\"").is_err());

    let rules: switchboard_calendar::ComplaintRules =
        toml::from_str("stage2_response_working_days = 25").unwrap();
    assert_eq!(rules.acknowledge_working_days, 5);
    assert_eq!(rules.stage2_response_working_days, 25);
}
