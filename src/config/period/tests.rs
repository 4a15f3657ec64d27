//! Tests for autoscaling periods: spec §5.7 cases 114–132 (period parts), §1.3 / W4 / W5 / M14 /
//! Q5 behaviour, the token grammar, the day rules, lints, a brute-force cross-check against a
//! naive reference matcher, and daylight-saving changes in Europe/Berlin and America/New_York.

use std::collections::BTreeSet;

use jiff::civil::{self, DateTime};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::*;

fn dt(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> DateTime {
    civil::date(y, mo, d).at(h, mi, s, 0)
}

fn expr(s: &str) -> CronExpr {
    CronExpr::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn parse_err(s: &str) -> String {
    match CronExpr::parse(s) {
        Ok(_) => panic!("{s:?} should not parse"),
        Err(e) => e,
    }
}

fn zone(name: &str) -> TimeZone {
    crate::time::lookup_zone(name).expect("bundled zone")
}

fn periods(exprs: &[&str], tz: &str, local: &TimeZone) -> Periods {
    let list: Vec<String> = exprs.iter().map(|s| s.to_string()).collect();
    Periods::compile(&list, tz, local).unwrap_or_else(|e| panic!("{exprs:?}: {e}"))
}

/// The instant of the **unambiguous** wall time `d` in `z`, plus `ms` milliseconds.
fn wall(z: &TimeZone, d: DateTime, ms: i64) -> Timestamp {
    let amb = z.to_ambiguous_timestamp(d);
    let AmbiguousOffset::Unambiguous { offset } = amb.offset() else {
        panic!("{d} is ambiguous in {z:?}");
    };
    offset
        .to_timestamp(d)
        .expect("in range")
        .checked_add(SignedDuration::from_millis(ms))
        .expect("in range")
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("RFC 3339 timestamp")
}

fn utc_plus(t: Timestamp, secs: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(secs))
        .expect("in range")
}

// ---------------------------------------------------------------------------------------------
// Spec §5.7 (period parts)
// ---------------------------------------------------------------------------------------------

#[test]
fn cases_114_to_121_active_and_inactive_periods_at_20_00() {
    // TestDockerMachine: now = 2020-05-05 20:00:00 local.
    let local = zone("Europe/Berlin");
    let now = wall(&local, dt(2020, 5, 5, 20, 0, 0), 0);
    assert!(periods(&["* * 20 * * * *"], "", &local).in_period(now));
    assert!(!periods(&["* * 22 * * * *"], "", &local).in_period(now));
    // Any expression of the list suffices.
    assert!(periods(&["* * 22 * * * *", "* * 20 * * * *"], "Local", &local).in_period(now));
}

#[test]
fn case_122_invalid_period_fails_to_compile() {
    let list = vec!["invalid period".to_string()];
    let err = Periods::compile(&list, "", &TimeZone::UTC).unwrap_err();
    match &err {
        PeriodError::Expression {
            index,
            expr,
            reason,
            ..
        } => {
            assert_eq!(*index, 0);
            assert_eq!(expr, "invalid period");
            assert!(reason.starts_with("missing field(s)"), "{reason}");
        }
        other => panic!("expected an expression error, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("invalid period \"invalid period\"")
    );
}

fn case_123_periods() -> (Periods, Timestamp) {
    let local = zone("Europe/Berlin");
    let p = periods(&["* 59 14 * * wed *"], "", &local);
    // 2017-02-22 is a Wednesday.
    (p, wall(&local, dt(2017, 2, 22, 14, 59, 0), 0))
}

#[test]
fn case_123_wednesday_14_59_00_in_period() {
    let (p, now) = case_123_periods();
    assert!(p.in_period(now));
}

#[test]
fn case_124_last_second_of_the_window_not_in_period() {
    let (p, now) = case_123_periods();
    assert!(p.in_period(utc_plus(now, 58)));
    assert!(!p.in_period(utc_plus(now, 59)));
}

#[test]
fn case_125_48_hours_later_not_in_period() {
    let (p, now) = case_123_periods();
    assert!(!p.in_period(utc_plus(now, 48 * 3600)));
}

#[test]
fn case_126_4_hours_later_not_in_period() {
    let (p, now) = case_123_periods();
    assert!(!p.in_period(utc_plus(now, 4 * 3600)));
}

#[test]
fn case_127_4_minutes_later_not_in_period() {
    let (p, now) = case_123_periods();
    assert!(!p.in_period(utc_plus(now, 4 * 60)));
}

fn berlin_10_17() -> Periods {
    periods(&["* * 10-17 * * * *"], "Europe/Berlin", &TimeZone::UTC)
}

#[test]
fn case_128_berlin_winter_17_30_cet_in_period() {
    assert!(berlin_10_17().in_period(ts("2017-01-01T16:30:00Z")));
}

#[test]
fn case_129_berlin_summer_18_30_cest_not_in_period() {
    assert!(!berlin_10_17().in_period(ts("2017-07-01T16:30:00Z")));
}

#[test]
fn case_130_14_30_utc_in_period_in_winter_and_summer() {
    let p = berlin_10_17();
    assert!(p.in_period(ts("2017-01-01T14:30:00Z")));
    assert!(p.in_period(ts("2017-07-01T14:30:00Z")));
}

#[test]
fn case_131_20_30_utc_not_in_period_in_winter_and_summer() {
    let p = berlin_10_17();
    assert!(!p.in_period(ts("2017-01-01T20:30:00Z")));
    assert!(!p.in_period(ts("2017-07-01T20:30:00Z")));
}

#[test]
fn case_132_invalid_timezone_fails() {
    let list = vec!["* * 10-17 * * * *".to_string()];
    let err = Periods::compile(&list, "InvalidTimezone/String", &TimeZone::UTC).unwrap_err();
    assert!(
        matches!(&err, PeriodError::Zone { name, .. } if name == "InvalidTimezone/String"),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Periods: zones, empty lists, accessors
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_and_local_timezone_mean_the_callers_zone() {
    let local = zone("Europe/Berlin");
    for tz in ["", "Local"] {
        let p = periods(&["* * 10-17 * * * *"], tz, &local);
        assert_eq!(p.zone(), &local);
        // 16:30 UTC = 17:30 CET: inside in Berlin, outside if the zone were UTC (16:30 is inside
        // too), so use 17:30 UTC = 18:30 CET.
        assert!(!p.in_period(ts("2017-01-01T17:30:00Z")));
        assert!(
            periods(&["* * 10-17 * * * *"], "UTC", &local).in_period(ts("2017-01-01T17:30:00Z"))
        );
    }
}

#[test]
fn zone_names_are_case_sensitive() {
    let list = vec!["* * * * * * *".to_string()];
    let err = Periods::compile(&list, "europe/berlin", &TimeZone::UTC).unwrap_err();
    assert!(err.to_string().contains("Europe/Berlin"), "{err}");
}

#[test]
fn empty_list_is_never_active() {
    let p = periods(&[], "", &TimeZone::UTC);
    assert!(p.expressions().is_empty());
    assert!(!p.in_period(ts("2020-05-05T20:00:00Z")));
}

#[test]
fn the_first_bad_expression_is_reported_with_its_index() {
    let list: Vec<String> = ["* * * * * * *", "* * 25 * * * *", "bad"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let err = Periods::compile(&list, "Nowhere/Land", &TimeZone::UTC).unwrap_err();
    assert!(
        matches!(&err, PeriodError::Expression { index: 1, reason, .. } if reason.contains("hour")),
        "{err:?}"
    );
}

#[test]
fn expressions_keep_their_source_and_order() {
    let p = periods(&["* * 9-17 * * mon-fri *", "@daily"], "UTC", &TimeZone::UTC);
    let sources: Vec<&str> = p.expressions().iter().map(CronExpr::source).collect();
    assert_eq!(sources, ["* * 9-17 * * mon-fri *", "@daily"]);
}

// ---------------------------------------------------------------------------------------------
// §1.3 / W4 / Q5: the in-period test
// ---------------------------------------------------------------------------------------------

#[test]
fn w4_window_is_shifted_one_second_early() {
    let p = periods(&["* * 10-17 * * * *"], "UTC", &TimeZone::UTC);
    let z = TimeZone::UTC;
    let at = |h, m, s, ms| p.in_period(wall(&z, dt(2021, 3, 3, h, m, s), ms));
    assert!(at(9, 59, 59, 0), "09:59:59.000 is inside");
    assert!(!at(9, 59, 58, 999), "09:59:58.999 is outside");
    assert!(at(17, 59, 58, 0), "17:59:58.0 is inside");
    assert!(at(17, 59, 58, 999), "17:59:58.999 is inside");
    assert!(!at(17, 59, 59, 0), "17:59:59.000 is outside");
    assert!(!at(17, 59, 59, 500));
    assert!(at(12, 0, 0, 0));
    assert!(!at(3, 0, 0, 0));
}

#[test]
fn seven_field_window_is_active_exactly_its_length_per_day() {
    let p = periods(&["* * 10-17 * * * *"], "UTC", &TimeZone::UTC);
    let start = ts("2021-03-03T00:00:00Z");
    let active: Vec<i64> = (0..86_400)
        .filter(|s| p.in_period(utc_plus(start, *s)))
        .collect();
    assert_eq!(active.len(), 8 * 3600);
    assert_eq!(active.first(), Some(&(10 * 3600 - 1)));
    assert_eq!(active.last(), Some(&(18 * 3600 - 2)));
}

#[test]
fn q5_five_field_expression_is_active_one_second_per_minute() {
    let p = periods(&["* 8-17 * * *"], "UTC", &TimeZone::UTC);
    let z = TimeZone::UTC;
    let at = |h, m, s| p.in_period(wall(&z, dt(2021, 3, 3, h, m, s), 0));
    assert!(at(7, 59, 59), "07:59:59 counts (§1.3)");
    assert!(!at(8, 0, 0));
    assert!(!at(8, 0, 30));
    assert!(at(8, 0, 59));
    assert!(at(17, 58, 59));
    assert!(!at(17, 59, 59), "17:59:59 does not count (§1.3)");
    let start = ts("2021-03-03T00:00:00Z");
    let active = (0..86_400)
        .filter(|s| p.in_period(utc_plus(start, *s)))
        .count();
    assert_eq!(active, 10 * 60, "one second per matching minute");
}

#[test]
fn q5_six_field_expression_reads_minute_to_year_with_second_zero() {
    let e = expr("30 9 * * * 2021");
    assert_eq!(e.field_count(), 6);
    assert!(e.matches(dt(2021, 6, 1, 9, 30, 0)));
    assert!(!e.matches(dt(2021, 6, 1, 9, 30, 1)));
    assert!(!e.matches(dt(2022, 6, 1, 9, 30, 0)));
    let p = periods(&["30 9 * * * 2021"], "UTC", &TimeZone::UTC);
    assert!(p.in_period(ts("2021-06-01T09:29:59Z")));
    assert!(!p.in_period(ts("2021-06-01T09:30:00Z")));
    assert!(!p.in_period(ts("2022-06-01T09:29:59Z")));
}

#[test]
fn alias_is_active_one_second_per_occurrence() {
    let p = periods(&["@daily"], "UTC", &TimeZone::UTC);
    assert!(p.in_period(ts("2021-03-03T23:59:59Z")));
    assert!(p.in_period(ts("2021-03-03T23:59:59.999Z")));
    assert!(!p.in_period(ts("2021-03-04T00:00:00Z")));
    assert!(!p.in_period(ts("2021-03-03T23:59:58.999Z")));
    let hourly = periods(&["@hourly"], "UTC", &TimeZone::UTC);
    let start = ts("2021-03-03T00:00:00Z");
    let active = (0..86_400)
        .filter(|s| hourly.in_period(utc_plus(start, *s)))
        .count();
    assert_eq!(active, 24);
}

#[test]
fn year_bounds_end_every_period_at_2099() {
    let p = periods(&["* * * * * * *"], "UTC", &TimeZone::UTC);
    assert!(p.in_period(ts("2099-12-31T23:59:58Z")));
    assert!(
        !p.in_period(ts("2099-12-31T23:59:59Z")),
        "the next second is in 2100"
    );
    assert!(!p.in_period(ts("1969-12-31T12:00:00Z")));
    assert!(
        p.in_period(ts("1969-12-31T23:59:59Z")),
        "the next second is 1970-01-01"
    );
}

#[test]
fn instants_far_outside_1970_to_2099_are_never_in_period() {
    let p = periods(
        &["* * * * * * *", "@hourly"],
        "Europe/Berlin",
        &TimeZone::UTC,
    );
    for t in [
        Timestamp::MIN,
        ts("1900-06-01T12:00:00Z"),
        ts("1967-12-31T23:59:59Z"),
        ts("2101-01-01T00:00:00Z"),
        ts("2200-06-01T12:00:00Z"),
        Timestamp::MAX,
    ] {
        assert!(!p.in_period(t), "{t}");
    }
}

#[test]
fn negative_sub_second_instants_floor_correctly() {
    // 1969-12-31T23:59:59.5Z: floor is 23:59:59, the next second 1970-01-01T00:00:00 matches.
    let p = periods(&["* * * * * * 1970"], "UTC", &TimeZone::UTC);
    assert!(p.in_period(ts("1969-12-31T23:59:59.5Z")));
    assert!(!p.in_period(ts("1969-12-31T23:59:58.5Z")));
}

// ---------------------------------------------------------------------------------------------
// Syntax: fields, bounds, names, ranges, lists, steps
// ---------------------------------------------------------------------------------------------

#[test]
fn fewer_than_five_fields_fail_and_extra_fields_are_ignored() {
    for s in ["", "   ", "*", "* * * *", "\t* *\n* *"] {
        assert!(parse_err(s).starts_with("missing field(s)"), "{s:?}");
    }
    let e = expr("1 2 3 4 5 6 2030 garbage more");
    assert_eq!(e.field_count(), 7);
    assert!(e.matches(dt(2030, 5, 4, 3, 2, 1)));
    assert_eq!(expr("* * * * *").field_count(), 5);
    assert_eq!(expr("* * * * * *").field_count(), 6);
    // Tabs, newlines, form feeds and carriage returns separate fields like spaces.
    assert_eq!(expr("*\t*\n*\x0c*\r*").field_count(), 5);
}

/// `(field index in a 7-field expression, max value, max+1 text)`.
const BOUNDS: [(usize, &str, &str, &str); 7] = [
    (0, "second", "59", "60"),
    (1, "minute", "59", "60"),
    (2, "hour", "23", "24"),
    (3, "day-of-month", "31", "32"),
    (4, "month", "12", "13"),
    (5, "day-of-week", "7", "8"),
    (6, "year", "2099", "2100"),
];

fn seven_with(index: usize, token: &str) -> String {
    let mut fields = ["*"; 7];
    fields[index] = token;
    fields.join(" ")
}

#[test]
fn every_field_accepts_its_max_and_rejects_max_plus_one_and_negatives() {
    for (i, name, max, over) in BOUNDS {
        expr(&seven_with(i, max));
        let e = parse_err(&seven_with(i, over));
        assert!(e.contains(&format!("syntax error in {name} field")), "{e}");
        let e = parse_err(&seven_with(i, "-1"));
        assert!(e.contains(name), "{e}");
        let e = parse_err(&seven_with(i, &format!("-{max}")));
        assert!(e.contains(name), "{e}");
    }
}

#[test]
fn every_field_minimum_is_enforced() {
    expr(&seven_with(0, "0"));
    expr(&seven_with(1, "0"));
    expr(&seven_with(2, "0"));
    parse_err(&seven_with(3, "0"));
    expr(&seven_with(3, "1"));
    parse_err(&seven_with(4, "0"));
    expr(&seven_with(4, "1"));
    expr(&seven_with(5, "0"));
    parse_err(&seven_with(6, "1969"));
    expr(&seven_with(6, "1970"));
    // More than one leading zero, or digits with a sign, are not values.
    parse_err(&seven_with(0, "007"));
    parse_err(&seven_with(2, "+5"));
}

#[test]
fn values_match_exactly_their_own_second() {
    let e = expr("7 8 9 10 11 * 2022");
    assert!(e.matches(dt(2022, 11, 10, 9, 8, 7)));
    assert!(!e.matches(dt(2022, 11, 10, 9, 8, 8)));
    assert!(!e.matches(dt(2022, 11, 10, 9, 9, 7)));
    assert!(!e.matches(dt(2022, 11, 10, 10, 8, 7)));
    assert!(!e.matches(dt(2022, 11, 11, 9, 8, 7)));
    assert!(!e.matches(dt(2022, 12, 10, 9, 8, 7)));
    assert!(!e.matches(dt(2023, 11, 10, 9, 8, 7)));
    // One leading zero is fine in second, minute, hour, day-of-month.
    assert!(expr("07 08 09 05 11 * 2022").matches(dt(2022, 11, 5, 9, 8, 7)));
}

#[test]
fn month_and_weekday_names_in_every_case() {
    let months = [
        ("jan", "january"),
        ("feb", "february"),
        ("mar", "march"),
        ("apr", "april"),
        ("may", "may"),
        ("jun", "june"),
        ("jul", "july"),
        ("aug", "august"),
        ("sep", "september"),
        ("oct", "october"),
        ("nov", "november"),
        ("dec", "december"),
    ];
    for (i, (short, long)) in months.iter().enumerate() {
        let m = i as i8 + 1;
        for name in [
            short.to_string(),
            short.to_uppercase(),
            capitalise(short),
            long.to_string(),
            long.to_uppercase(),
            capitalise(long),
        ] {
            let e = expr(&format!("0 0 0 1 {name} * *"));
            assert!(e.matches(dt(2023, m, 1, 0, 0, 0)), "{name}");
            let other = if m == 12 { 1 } else { m + 1 };
            assert!(!e.matches(dt(2023, other, 1, 0, 0, 0)), "{name}");
        }
    }
    // 2023-01-01 is a Sunday.
    let days = [
        ("sun", "sunday"),
        ("mon", "monday"),
        ("tue", "tuesday"),
        ("wed", "wednesday"),
        ("thu", "thursday"),
        ("fri", "friday"),
        ("sat", "saturday"),
    ];
    for (i, (short, long)) in days.iter().enumerate() {
        let d = i as i8 + 1;
        for name in [
            short.to_string(),
            short.to_uppercase(),
            capitalise(short),
            long.to_string(),
            long.to_uppercase(),
            capitalise(long),
        ] {
            let e = expr(&format!("0 0 0 * * {name} *"));
            assert!(e.matches(dt(2023, 1, d, 0, 0, 0)), "{name}");
            assert!(e.matches(dt(2023, 1, d + 7, 0, 0, 0)), "{name}");
            assert!(!e.matches(dt(2023, 1, d + 1, 0, 0, 0)), "{name}");
        }
    }
    for bad in ["janu", "sept", "thur", "tues", "mo", "l", "w"] {
        parse_err(&format!("0 0 0 * {bad} * *"));
        parse_err(&format!("0 0 0 * * {bad} *"));
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[test]
fn ranges_are_inclusive_and_never_wrap() {
    let e = expr("* * 9-17 * * * *");
    assert!(!e.matches(dt(2023, 1, 2, 8, 59, 59)));
    assert!(e.matches(dt(2023, 1, 2, 9, 0, 0)));
    assert!(e.matches(dt(2023, 1, 2, 17, 59, 59)));
    assert!(!e.matches(dt(2023, 1, 2, 18, 0, 0)));
    let rev = expr("* * 22-6 * * * *");
    for h in 0..24 {
        assert!(!rev.matches(dt(2023, 1, 2, h, 0, 0)), "hour {h}");
    }
    let months = expr("0 0 0 1 mar-may * *");
    assert!(months.matches(dt(2023, 3, 1, 0, 0, 0)));
    assert!(months.matches(dt(2023, 5, 1, 0, 0, 0)));
    assert!(!months.matches(dt(2023, 6, 1, 0, 0, 0)));
}

#[test]
fn lists_combine_and_skip_empty_entries() {
    let e = expr("0 0,15,30-31 * * * * *");
    for (m, want) in [
        (0, true),
        (1, false),
        (15, true),
        (30, true),
        (31, true),
        (32, false),
    ] {
        assert_eq!(e.matches(dt(2023, 1, 2, 5, m, 0)), want, "minute {m}");
    }
    let e = expr("0 1,,2, * * * * *");
    assert!(e.matches(dt(2023, 1, 2, 5, 1, 0)));
    assert!(e.matches(dt(2023, 1, 2, 5, 2, 0)));
    assert!(!e.matches(dt(2023, 1, 2, 5, 3, 0)));
    assert!(parse_err("0 , * * * * *").contains("minute"));
}

#[test]
fn steps_select_every_nth_value() {
    let minutes = |s: &str| -> Vec<i8> {
        let e = expr(&format!("0 {s} * * * * *"));
        (0..60)
            .filter(|m| e.matches(dt(2023, 1, 2, 5, *m, 0)))
            .collect()
    };
    assert_eq!(minutes("*/15"), [0, 15, 30, 45]);
    assert_eq!(minutes("5/20"), [5, 25, 45]);
    assert_eq!(minutes("10-30/7"), [10, 17, 24]);
    assert_eq!(minutes("*/59"), [0, 59]);
    assert_eq!(
        minutes("*/05"),
        [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55]
    );
    assert_eq!(minutes("50-10/5"), Vec::<i8>::new());
    let dom = expr("0 0 0 */10 * * *");
    let days: Vec<i8> = (1..=31)
        .filter(|d| dom.matches(dt(2023, 1, *d, 0, 0, 0)))
        .collect();
    assert_eq!(days, [1, 11, 21, 31]);
    let years = expr("0 0 0 1 1 * 2000/25");
    let ys: Vec<i16> = (1970..=2099)
        .filter(|y| years.matches(dt(*y, 1, 1, 0, 0, 0)))
        .collect();
    assert_eq!(ys, [2000, 2025, 2050, 2075]);
}

#[test]
fn m14_steps_must_lie_in_one_to_the_field_maximum() {
    // (field index, largest valid step, first invalid step)
    for (i, ok, bad) in [
        (0, "59", "60"),
        (1, "59", "60"),
        (2, "23", "24"),
        (3, "31", "32"),
        (4, "12", "13"),
        (5, "6", "7"),
        (6, "59", "60"),
    ] {
        expr(&seven_with(i, &format!("*/{ok}")));
        let e = parse_err(&seven_with(i, &format!("*/{bad}")));
        assert!(e.contains("invalid interval"), "{e}");
        let e = parse_err(&seven_with(i, "*/0"));
        assert!(e.contains("invalid interval"), "{e}");
    }
    assert!(parse_err("* */60 * * * * *").contains("minute"));
    let e = parse_err("* * * * * */7 *");
    assert!(e.contains("day-of-week") && e.contains("*/7"), "{e}");
    // The step of `a/n` and `a-b/n` is checked too.
    parse_err("* 5/60 * * * * *");
    parse_err("* 5-10/0 * * * * *");
    // Steps go through the library's number table: 1970..2099 are known, 60..1969 are not.
    expr("* * * * * * */1970");
    parse_err("* * * * * * */100");
    parse_err("* */005 * * * * *");
    // A step check fails even after a `*` that ends the field.
    parse_err("* *,*/0 * * * * *");
}

#[test]
fn question_mark_equals_star_in_every_field() {
    let any = expr("? ? ? ? ? ? ?");
    let star = expr("* * * * * * *");
    for d in [
        dt(1970, 1, 1, 0, 0, 0),
        dt(2023, 7, 15, 13, 45, 12),
        dt(2099, 12, 31, 23, 59, 59),
    ] {
        assert_eq!(any.matches(d), star.matches(d));
        assert!(any.matches(d));
    }
    // `?` leaves the day field unrestricted: only the other day field counts.
    let mondays = expr("0 0 0 ? * mon *");
    assert!(mondays.matches(dt(2023, 1, 2, 0, 0, 0)));
    assert!(!mondays.matches(dt(2023, 1, 3, 0, 0, 0)));
}

#[test]
fn star_ends_a_generic_field_early() {
    // gorhill/cronexpr returns the whole range at `*` without reading later entries.
    let e = expr("* *,abc * * * * *");
    assert!(e.matches(dt(2023, 1, 2, 5, 17, 0)));
    parse_err("* abc,* * * * * *");
    // The day fields read every entry.
    parse_err("* * * *,abc * * *");
    parse_err("* * * * * *,abc *");
}

#[test]
fn garbage_tokens_are_syntax_errors() {
    for tok in [
        "abc", "1-", "-1", "1--2", "1-2-3", "5/", "*/", "*/x", "/5", "1/2/3", "**", "L", "W",
        "1.5", "１", "5L", "#1",
    ] {
        let e = parse_err(&seven_with(2, tok));
        assert!(
            e.contains("hour field") || e.contains("invalid interval"),
            "{tok:?}: {e}"
        );
    }
    for tok in ["5L", "L5", "W", "0W", "32W", "W15", "LW5", "1#2", "15w5"] {
        let e = parse_err(&seven_with(3, tok));
        assert!(e.contains("day-of-month"), "{tok:?}: {e}");
    }
    for tok in [
        "L", "LW", "15W", "1#0", "1#6", "1#", "#1", "8L", "8#1", "1L2",
    ] {
        let e = parse_err(&seven_with(5, tok));
        assert!(e.contains("day-of-week"), "{tok:?}: {e}");
    }
}

#[test]
fn aliases_expand_to_seven_fields_with_second_zero() {
    let cases = [
        ("@yearly", dt(2023, 1, 1, 0, 0, 0), dt(2023, 2, 1, 0, 0, 0)),
        (
            "@annually",
            dt(2023, 1, 1, 0, 0, 0),
            dt(2023, 1, 2, 0, 0, 0),
        ),
        ("@monthly", dt(2023, 5, 1, 0, 0, 0), dt(2023, 5, 2, 0, 0, 0)),
        ("@weekly", dt(2023, 1, 8, 0, 0, 0), dt(2023, 1, 9, 0, 0, 0)),
        ("@daily", dt(2023, 5, 17, 0, 0, 0), dt(2023, 5, 17, 0, 0, 1)),
        (
            "@hourly",
            dt(2023, 5, 17, 13, 0, 0),
            dt(2023, 5, 17, 13, 1, 0),
        ),
    ];
    for (alias, yes, no) in cases {
        let e = expr(alias);
        assert_eq!(e.field_count(), 7, "{alias}");
        assert!(e.matches(yes), "{alias} at {yes}");
        assert!(!e.matches(no), "{alias} at {no}");
        assert_eq!(e.source(), alias);
    }
    // The replacement is textual: extra fields after it are ignored like any 8th field.
    assert!(expr("@daily 2023").matches(dt(2030, 1, 1, 0, 0, 0)));
}

#[test]
fn words_gorhill_cronexpr_does_not_know_fail() {
    for s in [
        "@reboot",
        "@every 5m",
        "@midnight",
        "@minutely",
        "@DAILY",
        "@Daily",
    ] {
        let e = parse_err(s);
        assert!(e.starts_with("missing field(s)"), "{s}: {e}");
        assert!(e.contains("not an alias"), "{s}: {e}");
    }
    let e = parse_err("@reboot * * * * *");
    assert!(e.contains("minute"), "{e}");
}

#[test]
fn zero_padded_month_reads_as_month_zero_and_weekday_as_sunday() {
    // gorhill/cronexpr's name tables have no `01` keys: the value becomes 0.
    let jan = expr("0 0 0 1 01 * *");
    for m in 1..=12 {
        assert!(!jan.matches(dt(2023, m, 1, 0, 0, 0)), "month {m}");
    }
    // 2023-01-01 is a Sunday, 2023-01-02 a Monday.
    let mon = expr("0 0 0 * * 01 *");
    assert!(mon.matches(dt(2023, 1, 1, 0, 0, 0)));
    assert!(!mon.matches(dt(2023, 1, 2, 0, 0, 0)));
    // In ranges both ends read as 0: `01-03` is month 0 only (never), `01-12` every month,
    // `01-05` is Sunday only.
    let q1 = expr("0 0 0 1 01-03 * *");
    for m in 1..=12 {
        assert!(!q1.matches(dt(2023, m, 1, 0, 0, 0)), "month {m}");
    }
    let year = expr("0 0 0 1 01-12 * *");
    assert!(year.matches(dt(2023, 1, 1, 0, 0, 0)));
    assert!(year.matches(dt(2023, 12, 1, 0, 0, 0)));
    let week = expr("0 0 0 * * 01-05 *");
    assert!(week.matches(dt(2023, 1, 1, 0, 0, 0)));
    assert!(!week.matches(dt(2023, 1, 4, 0, 0, 0)));
}

// ---------------------------------------------------------------------------------------------
// Day rules: W5, M14, L, W, LW, #, nL
// ---------------------------------------------------------------------------------------------

fn days_in(e: &CronExpr, y: i16, m: i8) -> Vec<i8> {
    let last = civil::date(y, m, 1).days_in_month();
    (1..=last)
        .filter(|d| e.matches(dt(y, m, *d, 0, 0, 0)))
        .collect()
}

#[test]
fn w5_weekday_seven_alone_works_but_ranges_through_seven_are_empty() {
    // January 2023: Sundays 1, 8, 15, 22, 29; Saturdays 7, 14, 21, 28.
    assert_eq!(days_in(&expr("0 0 0 * * 7 *"), 2023, 1), [1, 8, 15, 22, 29]);
    assert_eq!(days_in(&expr("0 0 0 * * 0 *"), 2023, 1), [1, 8, 15, 22, 29]);
    assert_eq!(
        days_in(&expr("0 0 0 * * sat,sun *"), 2023, 1),
        [1, 7, 8, 14, 15, 21, 22, 28, 29]
    );
    assert_eq!(
        days_in(&expr("0 0 0 * * 6,7 *"), 2023, 1),
        [1, 7, 8, 14, 15, 21, 22, 28, 29]
    );
    for empty in ["1-7", "mon-sun", "fri-sun", "sat-sun", "5-7", "1-7/2"] {
        let e = expr(&format!("0 0 0 * * {empty} *"));
        for m in 1..=12 {
            assert!(days_in(&e, 2023, m).is_empty(), "{empty} in month {m}");
        }
    }
    // `0-7` is 0..0: Sunday only. `sun-sat` is the whole week.
    assert_eq!(
        days_in(&expr("0 0 0 * * 0-7 *"), 2023, 1),
        [1, 8, 15, 22, 29]
    );
    assert_eq!(days_in(&expr("0 0 0 * * sun-sat *"), 2023, 1).len(), 31);
    assert_eq!(days_in(&expr("0 0 0 * * mon-fri *"), 2023, 1).len(), 22);
}

#[test]
fn w5_reversed_day_of_month_range_never_matches() {
    let e = expr("0 0 0 20-10 * * *");
    for m in 1..=12 {
        assert!(days_in(&e, 2023, m).is_empty());
    }
}

#[test]
fn either_day_field_matches_when_both_are_restricted() {
    // January 2023: Fridays 6, 13, 20, 27.
    assert_eq!(days_in(&expr("0 0 0 13 * fri *"), 2023, 1), [6, 13, 20, 27]);
    assert_eq!(
        days_in(&expr("0 0 0 1 * fri *"), 2023, 1),
        [1, 6, 13, 20, 27]
    );
    assert_eq!(days_in(&expr("0 0 0 1 * * *"), 2023, 1), [1]);
    assert_eq!(days_in(&expr("0 0 0 * * fri *"), 2023, 1), [6, 13, 20, 27]);
    assert_eq!(days_in(&expr("0 0 0 * * * *"), 2023, 1).len(), 31);
    // A reversed (empty) weekday range still brings in the OR rule: the 15th only.
    assert_eq!(days_in(&expr("0 0 0 15 * 1-7 *"), 2023, 1), [15]);
}

#[test]
fn m14_day_of_month_step_counts_as_restricted() {
    // `*/1` is every day and restricted, so with `mon` the OR rule gives every day.
    assert_eq!(days_in(&expr("0 0 0 */1 * mon *"), 2023, 1).len(), 31);
    assert_eq!(
        days_in(&expr("0 0 0 * * mon *"), 2023, 1),
        [2, 9, 16, 23, 30]
    );
    assert_eq!(days_in(&expr("0 0 0 1-31 * mon *"), 2023, 1).len(), 31);
}

#[test]
fn day_of_week_step_counts_as_restricted_too() {
    // gorhill/cronexpr clears the "restricted" flag only for `*`/`?`, in both day fields.
    assert_eq!(days_in(&expr("0 0 0 15 * */1 *"), 2023, 1).len(), 31);
    assert_eq!(days_in(&expr("0 0 0 15 * * *"), 2023, 1), [15]);
    // Sun, Tue, Thu, Sat of January 2023 (the 15th is a Sunday already).
    assert_eq!(
        days_in(&expr("0 0 0 15 * */2 *"), 2023, 1).len(),
        5 + 5 + 4 + 4
    );
    assert_eq!(
        days_in(&expr("0 0 0 16 * */2 *"), 2023, 1).len(),
        5 + 5 + 4 + 4 + 1
    );
}

#[test]
fn l_is_the_last_day_of_each_month() {
    let e = expr("0 0 0 L * * *");
    assert_eq!(days_in(&e, 2023, 2), [28]);
    assert_eq!(days_in(&e, 2024, 2), [29]);
    assert_eq!(days_in(&e, 2100 - 1, 2), [28]);
    assert_eq!(days_in(&e, 2000, 2), [29]);
    assert_eq!(days_in(&e, 2023, 4), [30]);
    assert_eq!(days_in(&e, 2023, 1), [31]);
    assert_eq!(days_in(&expr("0 0 0 l * * *"), 2023, 12), [31]);
    // In a list with a day.
    assert_eq!(days_in(&expr("0 0 0 1,L * * *"), 2023, 4), [1, 30]);
}

#[test]
fn w_is_the_nearest_weekday_within_the_month() {
    let w15 = expr("0 0 0 15W * * *");
    assert_eq!(days_in(&w15, 2024, 6), [14], "Sat 15 June 2024 -> Fri 14");
    assert_eq!(days_in(&w15, 2024, 9), [16], "Sun 15 Sep 2024 -> Mon 16");
    assert_eq!(days_in(&w15, 2024, 5), [15], "Wed 15 May 2024");
    let w1 = expr("0 0 0 1w * * *");
    assert_eq!(
        days_in(&w1, 2024, 6),
        [3],
        "Sat 1 June 2024 -> Mon 3 (no jump back)"
    );
    assert_eq!(days_in(&w1, 2024, 9), [2], "Sun 1 Sep 2024 -> Mon 2");
    assert_eq!(days_in(&w1, 2024, 5), [1]);
    let w31 = expr("0 0 0 31W * * *");
    assert_eq!(
        days_in(&w31, 2024, 3),
        [29],
        "Sun 31 Mar 2024 -> Fri 29 (no jump forward)"
    );
    assert_eq!(days_in(&w31, 2024, 8), [30], "Sat 31 Aug 2024 -> Fri 30");
    assert!(
        days_in(&w31, 2024, 4).is_empty(),
        "no 31st in April: ignored"
    );
    let w30 = expr("0 0 0 30W * * *");
    assert!(days_in(&w30, 2024, 2).is_empty());
    assert_eq!(days_in(&w30, 2013, 6), [28], "Sun 30 June 2013 -> Fri 28");
    assert_eq!(
        days_in(&expr("0 0 0 14W * * *"), 2013, 4),
        [15],
        "Sun 14 Apr 2013"
    );
    assert_eq!(
        days_in(&expr("0 0 0 14W * * *"), 2013, 9),
        [13],
        "Sat 14 Sep 2013"
    );
    // Several W entries in a list.
    assert_eq!(days_in(&expr("0 0 0 1W,15W * * *"), 2024, 6), [3, 14]);
    // Feb 2021 (28 days, 28th a Sunday): 28W -> Fri 26.
    assert_eq!(days_in(&expr("0 0 0 28W * * *"), 2021, 2), [26]);
    // Leap February 2020 (29th a Saturday): 29W -> Fri 28.
    assert_eq!(days_in(&expr("0 0 0 29W * * *"), 2020, 2), [28]);
}

#[test]
fn lw_is_the_last_weekday_of_the_month() {
    let e = expr("0 0 0 LW * * *");
    assert_eq!(days_in(&e, 2024, 3), [29], "31 is a Sunday");
    assert_eq!(days_in(&e, 2024, 8), [30], "31 is a Saturday");
    assert_eq!(days_in(&e, 2024, 7), [31], "31 is a Wednesday");
    assert_eq!(days_in(&e, 2025, 2), [28], "28 is a Friday");
    assert_eq!(days_in(&e, 2020, 2), [28], "leap: 29 is a Saturday");
    assert_eq!(days_in(&e, 2013, 11), [29]);
}

#[test]
fn hash_is_the_kth_given_weekday() {
    assert_eq!(days_in(&expr("0 0 0 * * 5#3 *"), 2024, 5), [17]);
    assert_eq!(days_in(&expr("0 0 0 * * fri#1 *"), 2024, 5), [3]);
    assert_eq!(days_in(&expr("0 0 0 * * 6#5 *"), 2013, 11), [30]);
    assert!(days_in(&expr("0 0 0 * * 6#5 *"), 2013, 10).is_empty());
    assert_eq!(days_in(&expr("0 0 0 * * 7#1 *"), 2024, 9), [1]);
    assert_eq!(days_in(&expr("0 0 0 * * 0#5 *"), 2024, 9), [29]);
    // February 2021 has exactly four of every weekday.
    assert!(days_in(&expr("0 0 0 * * 1#5 *"), 2021, 2).is_empty());
    assert_eq!(days_in(&expr("0 0 0 * * 1#4 *"), 2021, 2), [22]);
    // Leap February 2024 has five Thursdays.
    assert_eq!(days_in(&expr("0 0 0 * * thu#5 *"), 2024, 2), [29]);
    assert_eq!(days_in(&expr("0 0 0 * * 1#1,1#3 *"), 2024, 1), [1, 15]);
}

#[test]
fn nl_is_the_last_given_weekday() {
    assert_eq!(days_in(&expr("0 0 0 * * 5L *"), 2024, 5), [31]);
    assert_eq!(days_in(&expr("0 0 0 * * 5L *"), 2024, 2), [23]);
    assert_eq!(days_in(&expr("0 0 0 * * 4L *"), 2024, 2), [29]);
    assert_eq!(days_in(&expr("0 0 0 * * 4L *"), 2023, 2), [23]);
    assert_eq!(days_in(&expr("0 0 0 * * 0L *"), 2024, 3), [31]);
    assert_eq!(days_in(&expr("0 0 0 * * 7L *"), 2024, 3), [31]);
    assert_eq!(days_in(&expr("0 0 0 * * friL *"), 2024, 4), [26]);
    assert_eq!(days_in(&expr("0 0 0 * * 1l *"), 2023, 1), [30]);
}

// ---------------------------------------------------------------------------------------------
// Lints
// ---------------------------------------------------------------------------------------------

#[test]
fn a_plain_seven_field_expression_has_no_lints() {
    assert!(expr("* * 9-17 * * mon-fri *").lints().is_empty());
    assert!(expr("* * * * * sat,sun *").lints().is_empty());
    assert!(expr("* * * * * 7 *").lints().is_empty());
}

#[test]
fn lints_seconds_fixed_and_alias() {
    assert_eq!(
        expr("* 8-17 * * *").lints(),
        [CronLint::SecondsFixed { fields: 5 }]
    );
    assert_eq!(
        expr("* 8-17 * * * 2030").lints(),
        [CronLint::SecondsFixed { fields: 6 }]
    );
    assert_eq!(
        expr("@daily").lints(),
        [CronLint::Alias {
            alias: "@daily".to_string()
        }]
    );
}

#[test]
fn lints_empty_weekday_ranges_and_never_matches() {
    for tok in ["1-7", "mon-sun", "fri-sun", "sat-sun"] {
        let lints = expr(&format!("* * * * * {tok} *")).lints();
        assert_eq!(lints.len(), 2, "{lints:?}");
        assert_eq!(
            lints[0],
            CronLint::EmptyDayOfWeekRange {
                token: tok.to_string()
            }
        );
        assert!(
            matches!(lints[1], CronLint::NeverMatches { .. }),
            "{lints:?}"
        );
    }
    // With a restricted day-of-month the OR rule still gives days: no NeverMatches.
    let lints = expr("* * * 15 * 1-7 *").lints();
    assert_eq!(
        lints,
        [CronLint::EmptyDayOfWeekRange {
            token: "1-7".to_string()
        }]
    );
    let lints = expr("* * * 20-10 * * *").lints();
    assert_eq!(
        lints[0],
        CronLint::EmptyDayOfMonthRange {
            token: "20-10".to_string()
        }
    );
    assert!(matches!(lints[1], CronLint::NeverMatches { .. }));
}

#[test]
fn lints_reversed_time_range_crash_versus_ignored() {
    let lints = expr("* * 22-6 * * * *").lints();
    assert_eq!(
        lints[0],
        CronLint::ReversedTimeRange {
            field: "hour",
            token: "22-6".to_string()
        }
    );
    assert!(matches!(lints[1], CronLint::NeverMatches { .. }));
    // simrun treats it as never active (GitLab Runner would crash instead).
    let p = periods(&["* * 22-6 * * * *"], "UTC", &TimeZone::UTC);
    assert!(!p.in_period(ts("2023-01-02T23:00:00Z")));
    assert!(!p.in_period(ts("2023-01-02T03:00:00Z")));

    assert_eq!(
        expr("* * 22-6,8 * * * *").lints(),
        [CronLint::IgnoredRange {
            field: "hour",
            token: "22-6".to_string()
        }]
    );
    assert_eq!(
        expr("50-10 * * * * * *").lints()[0],
        CronLint::ReversedTimeRange {
            field: "second",
            token: "50-10".to_string()
        }
    );
    assert_eq!(
        expr("0 50-10 * * * * *").lints()[0],
        CronLint::ReversedTimeRange {
            field: "minute",
            token: "50-10".to_string()
        }
    );
    assert_eq!(
        expr("0 0 0 1 dec-jan * *").lints()[0],
        CronLint::ReversedTimeRange {
            field: "month",
            token: "dec-jan".to_string()
        }
    );
    // A reversed year range alone: never matches, no crash (the library finds no year first).
    let lints = expr("* * * * * * 2050-2020").lints();
    assert_eq!(
        lints[0],
        CronLint::IgnoredRange {
            field: "year",
            token: "2050-2020".to_string()
        }
    );
    assert!(matches!(lints[1], CronLint::NeverMatches { .. }));
}

#[test]
fn lints_zero_padded_values() {
    let lints = expr("0 0 0 1 01 * *").lints();
    assert_eq!(
        lints[0],
        CronLint::ZeroPaddedValue {
            field: "month",
            token: "01".to_string()
        }
    );
    assert!(matches!(lints[1], CronLint::NeverMatches { .. }));
    assert_eq!(
        expr("0 0 0 * * 01-05 *").lints(),
        [CronLint::ZeroPaddedValue {
            field: "day-of-week",
            token: "01-05".to_string()
        }]
    );
    assert_eq!(
        expr("0 0 0 * * 05#2 *").lints(),
        [CronLint::ZeroPaddedValue {
            field: "day-of-week",
            token: "05#2".to_string()
        }]
    );
    // `00` and `07` are Sunday anyway; `05` in the minute field is plain 5.
    assert!(expr("0 05 0 * * 00,07 *").lints().is_empty());
}

#[test]
fn lints_explain_themselves() {
    let text = |e: &str| -> Vec<String> { expr(e).lints().iter().map(|l| l.to_string()).collect() };
    assert!(text("* 8-17 * * *")[0].contains("about 1 s per matching minute"));
    assert!(text("@weekly")[0].contains("@weekly"));
    assert!(text("* * * * * 1-7 *")[0].contains("\"1-7\""));
    assert!(text("* * 22-6 * * * *")[0].contains("crashes"));
    assert!(text("* * * * * * 2050-2020")[1].starts_with("never active"));
}

#[test]
fn lints_never_matching_calendars() {
    for s in [
        "0 0 0 30 2 * *",
        "0 0 0 31 4,6,9,11 * *",
        "0 0 0 29 2 * 2021-2023",
        "0 0 0 * 2 1#5 2021",
    ] {
        let lints = expr(s).lints();
        assert!(
            matches!(lints.last(), Some(CronLint::NeverMatches { .. })),
            "{s}: {lints:?}"
        );
    }
    for s in [
        "0 0 0 29 2 * 2021-2024",
        "0 0 0 31 * * *",
        "0 0 0 * 2 1#5 2010-2020",
    ] {
        assert!(expr(s).lints().is_empty(), "{s}");
    }
}

// ---------------------------------------------------------------------------------------------
// Brute-force cross-check against a naive reference
// ---------------------------------------------------------------------------------------------

/// xorshift64*: a tiny deterministic generator for the cross-check.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RefField {
    Sec,
    Min,
    Hour,
    Dom,
    Mon,
    Dow,
    Year,
}

impl RefField {
    /// Lowest and highest value as written (day-of-week may be written 7).
    fn written_bounds(self) -> (i64, i64) {
        match self {
            RefField::Sec | RefField::Min => (0, 59),
            RefField::Hour => (0, 23),
            RefField::Dom => (1, 31),
            RefField::Mon => (1, 12),
            RefField::Dow => (0, 7),
            RefField::Year => (1970, 2099),
        }
    }
    /// The range `*` stands for.
    fn star(self) -> (i64, i64) {
        match self {
            RefField::Dow => (0, 6),
            f => f.written_bounds(),
        }
    }
}

/// A naive description of one field: the plain value set plus the special day forms.
#[derive(Default, Debug)]
struct RefSet {
    text: String,
    values: BTreeSet<i64>,
    restricted: bool,
    last: bool,
    last_weekday: bool,
    nearest: Vec<i64>,
    last_of: Vec<i64>,
    nth: Vec<(i64, i64)>,
}

fn render(rng: &mut Rng, f: RefField, v: i64) -> String {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let name = match f {
        RefField::Mon if rng.chance(40) => Some(MONTHS[(v - 1) as usize]),
        RefField::Dow if v < 7 && rng.chance(40) => Some(DAYS[v as usize]),
        _ => None,
    };
    if let Some(n) = name {
        return if rng.chance(50) {
            n.to_uppercase()
        } else {
            n.to_string()
        };
    }
    let pad = matches!(
        f,
        RefField::Sec | RefField::Min | RefField::Hour | RefField::Dom
    );
    if pad && v < 10 && rng.chance(30) {
        format!("0{v}")
    } else {
        v.to_string()
    }
}

/// The value a written number stands for (day-of-week 7 is Sunday, mapped before ranges).
fn meaning(f: RefField, v: i64) -> i64 {
    if f == RefField::Dow { v % 7 } else { v }
}

fn gen_field(rng: &mut Rng, f: RefField) -> RefSet {
    let (lo, hi) = f.written_bounds();
    let (slo, shi) = f.star();
    let mut set = RefSet {
        restricted: true,
        ..RefSet::default()
    };
    let mut items = Vec::new();
    let n = 1 + rng.below(3);
    for _ in 0..n {
        let kind = rng.below(100);
        let step_max = shi.min(59);
        if kind < 6 {
            items.push(if rng.chance(50) { "*" } else { "?" }.to_string());
            set.restricted = false;
            set.values.extend(slo..=shi);
        } else if kind < 40 {
            let v = rng.int(lo, hi);
            items.push(render(rng, f, v));
            set.values.insert(meaning(f, v));
        } else if kind < 62 {
            let a = rng.int(lo, hi);
            let b = if rng.chance(80) {
                rng.int(a, hi)
            } else {
                rng.int(lo, hi)
            };
            items.push(format!("{}-{}", render(rng, f, a), render(rng, f, b)));
            let (a, b) = (meaning(f, a), meaning(f, b));
            if a <= b {
                set.values.extend(a..=b);
            }
        } else if kind < 72 {
            let s = rng.int(1, step_max);
            items.push(format!("*/{s}"));
            set.values.extend((slo..=shi).step_by(s as usize));
        } else if kind < 80 {
            let a = rng.int(lo, hi);
            let s = rng.int(1, step_max);
            items.push(format!("{}/{s}", render(rng, f, a)));
            let a = meaning(f, a);
            set.values.extend((a..=shi).step_by(s as usize));
        } else if kind < 88 {
            let a = rng.int(lo, hi);
            let b = rng.int(a, hi);
            let s = rng.int(1, step_max);
            items.push(format!("{}-{}/{s}", render(rng, f, a), render(rng, f, b)));
            let (a, b) = (meaning(f, a), meaning(f, b));
            if a <= b {
                set.values.extend((a..=b).step_by(s as usize));
            }
        } else if f == RefField::Dom {
            match rng.below(3) {
                0 => {
                    items.push("L".to_string());
                    set.last = true;
                }
                1 => {
                    items.push("LW".to_string());
                    set.last_weekday = true;
                }
                _ => {
                    let d = rng.int(1, 31);
                    items.push(format!("{d}W"));
                    set.nearest.push(d);
                }
            }
        } else if f == RefField::Dow {
            let d = rng.int(0, 7);
            if rng.chance(50) {
                items.push(format!("{}L", render(rng, f, d)));
                set.last_of.push(d % 7);
            } else {
                let k = rng.int(1, 5);
                items.push(format!("{}#{k}", render(rng, f, d)));
                set.nth.push((d % 7, k));
            }
        } else {
            let v = rng.int(lo, hi);
            items.push(render(rng, f, v));
            set.values.insert(meaning(f, v));
        }
    }
    set.text = items.join(",");
    set
}

/// A naive reference expression: per-field sets and calendar arithmetic from first principles.
struct RefExpr {
    text: String,
    sec: RefSet,
    min: RefSet,
    hour: RefSet,
    dom: RefSet,
    mon: RefSet,
    dow: RefSet,
    year: RefSet,
}

fn gen_expr(rng: &mut Rng) -> RefExpr {
    let count = *rng.pick(&[5, 6, 7, 7]);
    let mut sec = gen_field(rng, RefField::Sec);
    let min = gen_field(rng, RefField::Min);
    let hour = gen_field(rng, RefField::Hour);
    let dom = gen_field(rng, RefField::Dom);
    let mon = gen_field(rng, RefField::Mon);
    let dow = gen_field(rng, RefField::Dow);
    let mut year = gen_field(rng, RefField::Year);
    let mut fields = Vec::new();
    if count == 7 {
        fields.push(sec.text.clone());
    } else {
        sec = RefSet {
            values: [0].into(),
            restricted: true,
            ..RefSet::default()
        };
    }
    for f in [&min, &hour, &dom, &mon, &dow] {
        fields.push(f.text.clone());
    }
    if count >= 6 {
        fields.push(year.text.clone());
    } else {
        year = RefSet {
            values: (1970..=2099).collect(),
            ..RefSet::default()
        };
    }
    let sep = *rng.pick(&[" ", "  ", "\t", " \t "]);
    RefExpr {
        text: fields.join(sep),
        sec,
        min,
        hour,
        dom,
        mon,
        dow,
        year,
    }
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn month_len(y: i64, m: i64) -> i64 {
    match m {
        2 if leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Weekday (Sunday 0) by counting days from 1970-01-01, a Thursday.
fn weekday(y: i64, m: i64, d: i64) -> i64 {
    let mut days = 0;
    if y >= 1970 {
        for yy in 1970..y {
            days += if leap(yy) { 366 } else { 365 };
        }
    } else {
        for yy in y..1970 {
            days -= if leap(yy) { 366 } else { 365 };
        }
    }
    for mm in 1..m {
        days += month_len(y, mm);
    }
    days += d - 1;
    (4 + days).rem_euclid(7)
}

impl RefExpr {
    fn matches(&self, y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> bool {
        self.sec.values.contains(&s)
            && self.min.values.contains(&mi)
            && self.hour.values.contains(&h)
            && self.mon.values.contains(&mo)
            && self.year.values.contains(&y)
            && self.day(y, mo, d)
    }

    fn day(&self, y: i64, m: i64, d: i64) -> bool {
        let dim = month_len(y, m);
        let wd = |x: i64| weekday(y, m, x);
        let dom_hit = || {
            let dom = &self.dom;
            dom.values.contains(&d)
                || (dom.last && d == dim)
                || (dom.last_weekday
                    && d == (1..=dim)
                        .rev()
                        .find(|x| (1..=5).contains(&wd(*x)))
                        .unwrap_or(0))
                || dom.nearest.iter().any(|&n| {
                    // README: Saturday -> Friday before, Sunday -> Monday after, never leaving
                    // the month; days the month does not have are ignored.
                    n <= dim
                        && d == match wd(n) {
                            6 if n == 1 => 3,
                            6 => n - 1,
                            0 if n == dim => n - 2,
                            0 => n + 1,
                            _ => n,
                        }
                })
        };
        let dow_hit = || {
            let dow = &self.dow;
            dow.values.contains(&wd(d))
                || dow
                    .last_of
                    .iter()
                    .any(|&x| (1..=dim).rev().find(|day| wd(*day) == x) == Some(d))
                || dow.nth.iter().any(|&(x, k)| {
                    (1..=dim).filter(|day| wd(*day) == x).nth((k - 1) as usize) == Some(d)
                })
        };
        match (self.dom.restricted, self.dow.restricted) {
            (false, false) => true,
            (true, false) => dom_hit(),
            (false, true) => dow_hit(),
            (true, true) => dom_hit() || dow_hit(),
        }
    }
}

fn pick_from(rng: &mut Rng, set: &BTreeSet<i64>, lo: i64, hi: i64) -> i64 {
    if set.is_empty() || rng.chance(25) {
        rng.int(lo, hi)
    } else {
        let i = rng.below(set.len() as u64) as usize;
        *set.iter().nth(i).unwrap_or(&lo)
    }
}

#[test]
fn cross_check_matches_against_a_naive_reference() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut compared = 0;
    let mut positives = 0;
    for _ in 0..3_000 {
        let r = gen_expr(&mut rng);
        let e = CronExpr::parse(&r.text).unwrap_or_else(|err| panic!("{:?}: {err}", r.text));
        for _ in 0..60 {
            let y = pick_from(&mut rng, &r.year.values, 1968, 2101);
            let mo = pick_from(&mut rng, &r.mon.values, 1, 12);
            let d = rng.int(1, month_len(y, mo));
            let h = pick_from(&mut rng, &r.hour.values, 0, 23);
            let mi = pick_from(&mut rng, &r.min.values, 0, 59);
            let s = pick_from(&mut rng, &r.sec.values, 0, 59);
            let want = r.matches(y, mo, d, h, mi, s);
            let got = e.matches(dt(y as i16, mo as i8, d as i8, h as i8, mi as i8, s as i8));
            assert_eq!(
                got, want,
                "{:?} at {y}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}",
                r.text
            );
            compared += 1;
            positives += usize::from(want);
        }
    }
    // The sample must exercise both outcomes substantially.
    assert!(positives > compared / 10, "{positives} of {compared}");
    assert!(positives < compared * 9 / 10, "{positives} of {compared}");
}

// ---------------------------------------------------------------------------------------------
// Daylight-saving changes
// ---------------------------------------------------------------------------------------------

/// Europe/Berlin 2024: spring forward at 2024-03-31T01:00Z (02:00 CET -> 03:00 CEST), fall back
/// at 2024-10-27T01:00Z (03:00 CEST -> 02:00 CET).
const BERLIN_SPRING: &str = "2024-03-31T01:00:00Z";
const BERLIN_FALL: &str = "2024-10-27T01:00:00Z";

fn berlin(exprs: &[&str]) -> Periods {
    periods(exprs, "Europe/Berlin", &TimeZone::UTC)
}

#[test]
fn dst_berlin_window_not_touching_the_change_keeps_its_edges() {
    let p = berlin(&["* * 10-17 * * * *"]);
    let z = zone("Europe/Berlin");
    for day in [dt(2024, 3, 31, 0, 0, 0), dt(2024, 10, 27, 0, 0, 0)] {
        let at = |h, m, s| p.in_period(wall(&z, day.date().at(h, m, s, 0), 0));
        assert!(!at(9, 59, 58));
        assert!(at(9, 59, 59));
        assert!(at(17, 59, 58));
        assert!(!at(17, 59, 59));
    }
    // Hours active on each change day: still exactly 8 h.
    for (start, len) in [
        ("2024-03-30T23:00:00Z", 23 * 3600),
        ("2024-10-26T22:00:00Z", 25 * 3600),
    ] {
        let start = ts(start);
        let active = (0..len)
            .filter(|s| p.in_period(utc_plus(start, *s)))
            .count();
        assert_eq!(active, 8 * 3600);
    }
}

#[test]
fn dst_berlin_spring_forward_gap_counts_as_the_following_hour() {
    let change = ts(BERLIN_SPRING);
    let two = berlin(&["* * 2 * * * *"]);
    // 01:59:58 CET: the next wall second 01:59:59 is not hour 2.
    assert!(!two.in_period(utc_plus(change, -2)));
    // 01:59:59 CET: the next wall second is 02:00:00, which Go places at 03:00:00 CEST, 1 s away.
    assert!(two.in_period(utc_plus(change, -1)));
    assert!(two.in_period(ts("2024-03-31T00:59:59.5Z")));
    // From 03:00:00 CEST on, hour 2 is a day away.
    assert!(!two.in_period(change));
    assert!(!two.in_period(utc_plus(change, 1800)));

    let three = berlin(&["* * 3 * * * *"]);
    assert!(
        three.in_period(utc_plus(change, -1)),
        "02:xx never matches, 03:00:00 is next"
    );
    assert!(three.in_period(change));
    assert!(three.in_period(utc_plus(change, 3598)), "03:59:58 CEST");
    assert!(!three.in_period(utc_plus(change, 3599)), "03:59:59 CEST");

    let two_three = berlin(&["* * 2-3 * * * *"]);
    assert!(!two_three.in_period(utc_plus(change, -2)));
    assert!(two_three.in_period(utc_plus(change, -1)));
    let active = (-7200..7200)
        .filter(|s| two_three.in_period(utc_plus(change, *s)))
        .count();
    assert_eq!(active, 3600, "01:59:59 CET plus 03:00:00..03:59:58 CEST");

    // A window ending at the gap: hour 1 (CET) ends as usual one second early.
    let one = berlin(&["* * 1 * * * *"]);
    assert!(one.in_period(utc_plus(change, -2)));
    assert!(!one.in_period(utc_plus(change, -1)));
}

#[test]
fn dst_berlin_fall_back_first_pass_is_never_active() {
    let change = ts(BERLIN_FALL);
    let always = berlin(&["* * * * * * *"]);
    // 01:59:58 CEST is fine; from 01:59:59 CEST through 02:59:59 CEST every next wall second
    // lies in the repeated hour and Go places it in the second pass (CET), an hour away.
    assert!(always.in_period(utc_plus(change, -3602)));
    assert!(!always.in_period(utc_plus(change, -3601)));
    assert!(!always.in_period(utc_plus(change, -1800)));
    assert!(!always.in_period(utc_plus(change, -1)));
    assert!(always.in_period(change), "02:00:00 CET");
    assert!(always.in_period(utc_plus(change, 3599)), "02:59:59 CET");
    let start = ts("2024-10-26T22:00:00Z");
    let inactive = (0..25 * 3600)
        .filter(|s| !always.in_period(utc_plus(start, *s)))
        .count();
    assert_eq!(inactive, 3601);

    let two = berlin(&["* * 2 * * * *"]);
    assert!(!two.in_period(utc_plus(change, -3601)), "01:59:59 CEST");
    assert!(
        !two.in_period(utc_plus(change, -1800)),
        "02:30 CEST (first pass)"
    );
    assert!(two.in_period(change), "02:00:00 CET");
    assert!(two.in_period(utc_plus(change, 3598)), "02:59:58 CET");
    assert!(!two.in_period(utc_plus(change, 3599)), "02:59:59 CET");

    let one_two = berlin(&["* * 1-2 * * * *"]);
    assert!(one_two.in_period(utc_plus(change, -3602)), "01:59:58 CEST");
    assert!(!one_two.in_period(utc_plus(change, -3601)), "01:59:59 CEST");
    assert!(one_two.in_period(utc_plus(change, 1)), "02:00:01 CET");
}

/// The seconds at which `e` matches, as civil seconds (read as UTC), in `[from, to]`.
fn matching_wall_seconds(e: &CronExpr, from: i64, to: i64) -> Vec<i64> {
    (from..=to)
        .filter(|c| {
            let t = Timestamp::from_second(*c).expect("in range");
            e.matches(Offset::UTC.to_datetime(t))
        })
        .collect()
}

/// Go's `time.Date` as observed (golang/go #26224, #50223): east of UTC a gap time takes the
/// offset before the change and a repeated time the later offset; west of UTC the reverse.
fn go_instant_reference(z: &TimeZone, civil_secs: i64) -> i64 {
    let t = Timestamp::from_second(civil_secs).expect("in range");
    let d = Offset::UTC.to_datetime(t);
    let east = |o: Offset| o.seconds() > 0;
    let o = match z.to_ambiguous_timestamp(d).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset,
        AmbiguousOffset::Gap { before, after } => {
            if east(before) {
                before
            } else {
                after
            }
        }
        AmbiguousOffset::Fold { before, after } => {
            if east(before) {
                after
            } else {
                before
            }
        }
    };
    civil_secs - i64::from(o.seconds())
}

#[test]
fn dst_in_period_agrees_with_a_next_match_reference_around_changes() {
    let cases = [
        ("Europe/Berlin", BERLIN_SPRING),
        ("Europe/Berlin", BERLIN_FALL),
        ("America/New_York", "2024-03-10T07:00:00Z"),
        ("America/New_York", "2024-11-03T06:00:00Z"),
    ];
    let exprs = [
        "* * * * * * *",
        "* * 10-17 * * * *",
        "* * 2 * * * *",
        "* * 1 * * * *",
        "* * 2-3 * * * *",
        "* * 3 * * * *",
        "* 30 2 * * * *",
        "0 0 3 * * * *",
        "30 1 * * *",
        "59 59 1 * * * *",
        "* * 0-1 * * * *",
    ];
    let mut mismatches = Vec::new();
    for (name, change) in cases {
        let z = zone(name);
        let change = ts(change).as_second();
        for text in exprs {
            let e = expr(text);
            let p = periods(&[text], name, &TimeZone::UTC);
            // Civil seconds that match, over a generous span around the change.
            let o = i64::from(z.to_offset(ts("2024-01-01T00:00:00Z")).seconds());
            let list = matching_wall_seconds(&e, change + o - 86_400, change + o + 86_400);
            for s in -3 * 3600..3 * 3600 {
                for ms in [0i64, 500] {
                    let now_ms = (change + s) * 1000 + ms;
                    let now = Timestamp::from_millisecond(now_ms).expect("in range");
                    let w0 = change + s + i64::from(z.to_offset(now).seconds());
                    let next = list.get(list.partition_point(|c| *c <= w0)).copied();
                    let want = next.is_some_and(|c| {
                        let diff = now_ms - go_instant_reference(&z, c) * 1000;
                        (-1000..=1000).contains(&diff)
                    });
                    if p.in_period(now) != want && mismatches.len() < 20 {
                        mismatches.push(format!("{name} {text:?} at {now}: want {want}"));
                    }
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
