//! Public holidays shipped as data: the bank holidays of England and Wales, 2025–2028.
//!
//! Bank holidays are set each year by proclamation, so they are data, not rules: a one-off
//! holiday (a coronation, a jubilee) or a moved one (VE Day in 2020) cannot be computed. The list
//! below follows the usual pattern (New Year's Day, Good Friday, Easter Monday, the first and
//! last Mondays of May, the last Monday of August, Christmas Day and Boxing Day, with a weekday
//! substitute when one falls at a weekend) and the crate's tests re-derive it from those rules.
//! Years after [`ENGLAND_AND_WALES_LAST_YEAR`] must be added here (or configured) when announced.

use jiff::civil::{Date, date};

/// The first year the shipped England and Wales list covers.
pub const ENGLAND_AND_WALES_FIRST_YEAR: i16 = 2025;

/// The last year the shipped England and Wales list covers.
pub const ENGLAND_AND_WALES_LAST_YEAR: i16 = 2028;

/// England and Wales bank holidays, 2025–2028, in date order.
const ENGLAND_AND_WALES: [Date; 32] = [
    // 2025
    date(2025, 1, 1),   // New Year's Day (Wednesday)
    date(2025, 4, 18),  // Good Friday
    date(2025, 4, 21),  // Easter Monday
    date(2025, 5, 5),   // Early May bank holiday
    date(2025, 5, 26),  // Spring bank holiday
    date(2025, 8, 25),  // Summer bank holiday
    date(2025, 12, 25), // Christmas Day (Thursday)
    date(2025, 12, 26), // Boxing Day (Friday)
    // 2026
    date(2026, 1, 1),   // New Year's Day (Thursday)
    date(2026, 4, 3),   // Good Friday
    date(2026, 4, 6),   // Easter Monday
    date(2026, 5, 4),   // Early May bank holiday
    date(2026, 5, 25),  // Spring bank holiday
    date(2026, 8, 31),  // Summer bank holiday
    date(2026, 12, 25), // Christmas Day (Friday)
    date(2026, 12, 28), // Boxing Day (substitute: the 26th is a Saturday)
    // 2027
    date(2027, 1, 1),   // New Year's Day (Friday)
    date(2027, 3, 26),  // Good Friday
    date(2027, 3, 29),  // Easter Monday
    date(2027, 5, 3),   // Early May bank holiday
    date(2027, 5, 31),  // Spring bank holiday
    date(2027, 8, 30),  // Summer bank holiday
    date(2027, 12, 27), // Christmas Day (substitute: the 25th is a Saturday)
    date(2027, 12, 28), // Boxing Day (substitute: the 26th is a Sunday)
    // 2028
    date(2028, 1, 3),   // New Year's Day (substitute: the 1st is a Saturday)
    date(2028, 4, 14),  // Good Friday
    date(2028, 4, 17),  // Easter Monday
    date(2028, 5, 1),   // Early May bank holiday
    date(2028, 5, 29),  // Spring bank holiday
    date(2028, 8, 28),  // Summer bank holiday
    date(2028, 12, 25), // Christmas Day (Monday)
    date(2028, 12, 26), // Boxing Day (Tuesday)
];

/// England and Wales bank holidays from [`ENGLAND_AND_WALES_FIRST_YEAR`] to
/// [`ENGLAND_AND_WALES_LAST_YEAR`], sorted.
pub fn england_and_wales_bank_holidays() -> &'static [Date] {
    &ENGLAND_AND_WALES
}

/// The shipped holiday set called `name` (`"england-and-wales"`, or `"none"` for an empty set).
pub fn bank_holidays_named(name: &str) -> Option<&'static [Date]> {
    match name {
        "england-and-wales" => Some(&ENGLAND_AND_WALES),
        "none" => Some(&[]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use jiff::ToSpan;
    use jiff::civil::Weekday;

    use super::*;

    /// Easter Sunday by the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    fn easter_sunday(year: i16) -> Date {
        let y = i32::from(year);
        let a = y % 19;
        let b = y / 100;
        let c = y % 100;
        let d = b / 4;
        let e = b % 4;
        let f = (b + 8) / 25;
        let g = (b - f + 1) / 3;
        let h = (19 * a + b - d - g + 15) % 30;
        let i = c / 4;
        let k = c % 4;
        let l = (32 + 2 * e + 2 * i - h - k) % 7;
        let m = (a + 11 * h + 22 * l) / 451;
        let month = (h + l - 7 * m + 114) / 31;
        let day = (h + l - 7 * m + 114) % 31 + 1;
        Date::new(
            year,
            i8::try_from(month).unwrap(),
            i8::try_from(day).unwrap(),
        )
        .unwrap()
    }

    /// The first Monday on or after `from`.
    fn monday_on_or_after(from: Date) -> Date {
        let mut day = from;
        while day.weekday() != Weekday::Monday {
            day = day.tomorrow().unwrap();
        }
        day
    }

    /// The last Monday of a month.
    fn last_monday(year: i16, month: i8) -> Date {
        let mut day = date(year, month, 1).last_of_month();
        while day.weekday() != Weekday::Monday {
            day = day.yesterday().unwrap();
        }
        day
    }

    /// A fixed-date holiday moved to the next weekday not already taken if it is at a weekend.
    fn substitute(day: Date, taken: &[Date]) -> Date {
        let mut day = day;
        while matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) || taken.contains(&day) {
            day = day.tomorrow().unwrap();
        }
        day
    }

    /// The usual pattern of England and Wales bank holidays for a year.
    fn derived(year: i16) -> Vec<Date> {
        let easter = easter_sunday(year);
        let christmas = substitute(date(year, 12, 25), &[]);
        let boxing_day = substitute(date(year, 12, 26), &[christmas]);
        let mut days = vec![
            substitute(date(year, 1, 1), &[]),
            easter.checked_sub(2.days()).unwrap(),
            easter.checked_add(1.day()).unwrap(),
            monday_on_or_after(date(year, 5, 1)),
            last_monday(year, 5),
            last_monday(year, 8),
            christmas,
            boxing_day,
        ];
        days.sort();
        days
    }

    #[test]
    fn easter_is_right_for_known_years() {
        assert_eq!(easter_sunday(2025), date(2025, 4, 20));
        assert_eq!(easter_sunday(2026), date(2026, 4, 5));
        assert_eq!(easter_sunday(2027), date(2027, 3, 28));
        assert_eq!(easter_sunday(2028), date(2028, 4, 16));
    }

    #[test]
    fn shipped_list_matches_the_rules_for_every_year() {
        let shipped = england_and_wales_bank_holidays();
        for year in ENGLAND_AND_WALES_FIRST_YEAR..=ENGLAND_AND_WALES_LAST_YEAR {
            let of_year: Vec<Date> = shipped
                .iter()
                .copied()
                .filter(|day| day.year() == year)
                .collect();
            assert_eq!(of_year, derived(year), "{year}");
        }
        assert!(shipped.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            shipped
                .iter()
                .all(|day| !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday))
        );
    }

    #[test]
    fn named_sets() {
        assert_eq!(bank_holidays_named("england-and-wales").unwrap().len(), 32);
        assert_eq!(bank_holidays_named("none").unwrap().len(), 0);
        assert!(bank_holidays_named("scotland").is_none());
    }
}
