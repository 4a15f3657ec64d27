//! What loads but misbehaves: the analysis behind [`CronExpr::lints`] (spec §1.3, §0 W5, M14,
//! quirk Q5). GitLab Runner reports none of these; the config loader turns them into simrun
//! warnings or errors.

use std::fmt;

use jiff::civil;

use super::cron::{CronExpr, Note};
use super::field::Field;

/// A property of an expression that GitLab Runner accepts but that rarely does what its author
/// meant. Produced by [`CronExpr::lints`], in a stable order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CronLint {
    /// 5 or 6 fields: the second is fixed to 0, so the entry is active only about **1 s per
    /// matching minute** (the second before it, spec §1.3, quirk Q5, M14). `fields` is 5 or 6.
    SecondsFixed {
        /// How many fields were written.
        fields: usize,
    },
    /// `@hourly`, `@daily`, …: a 7-field expression with second 0, active about **1 s per
    /// occurrence** (M14). `alias` as written, e.g. `"@daily"`.
    Alias {
        /// The alias.
        alias: String,
    },
    /// A day-of-week range that expands to nothing because `7` becomes 0 before ranges expand
    /// and ranges never wrap (`1-7`, `mon-sun`, `fri-sun`, `sat-sun`, W5). Alone in its field
    /// it leaves no weekday: the expression then matches only through a restricted
    /// day-of-month, or never ([`CronLint::NeverMatches`]).
    EmptyDayOfWeekRange {
        /// The entry as written.
        token: String,
    },
    /// A reversed day-of-month range (`20-10`) adds no day (W5); alone it never matches.
    EmptyDayOfMonthRange {
        /// The entry as written.
        token: String,
    },
    /// A reversed range in the second, minute, hour or month field (`22-6`) that leaves the
    /// field with **no value at all**: GitLab Runner loads the config but **crashes** at the
    /// first Acquire (an index into an empty list, W5; the same holds for the month field),
    /// unless every year of the year field is already past by then. simrun treats the
    /// expression as never matching. Reported for each reversed entry of such a field. (When
    /// other entries give the field a value, see [`CronLint::IgnoredRange`].)
    ReversedTimeRange {
        /// `"second"`, `"minute"`, `"hour"` or `"month"`.
        field: &'static str,
        /// The entry as written.
        token: String,
    },
    /// A reversed range in the second, minute, hour, month or year field that adds nothing
    /// while other entries still give the field values (`22-6,8` is hour 8 only): harmless
    /// but not what was meant (W5).
    IgnoredRange {
        /// The field's name.
        field: &'static str,
        /// The entry as written.
        token: String,
    },
    /// A zero-padded month (`01`–`09`) or day-of-week (`01`–`06`) value: gorhill/cronexpr
    /// accepts the syntax but reads it as **0** (month 0 never matches; weekday 0 is Sunday).
    ZeroPaddedValue {
        /// `"month"` or `"day-of-week"`.
        field: &'static str,
        /// The entry as written.
        token: String,
    },
    /// The expression can never match any second of 1970–2099 (an empty field, no day of the
    /// selected months that passes the day rule, …): the entry is never active.
    NeverMatches {
        /// Why, in words.
        why: String,
    },
}

impl fmt::Display for CronLint {
    /// A one-line explanation for a config warning, naming the spec section.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CronLint::SecondsFixed { fields } => write!(
                f,
                "{fields}-field expression: the second is fixed to 0, so it is active only about 1 s per matching minute (spec §1.3, Q5); write 7 fields such as \"* * 9-17 * * mon-fri *\""
            ),
            CronLint::Alias { alias } => write!(
                f,
                "{alias} expands to a 7-field expression with second 0: active only about 1 s per occurrence (spec §0 M14)"
            ),
            CronLint::EmptyDayOfWeekRange { token } => write!(
                f,
                "day-of-week range {token:?} is empty: 7 becomes 0 before ranges expand and ranges never wrap (spec §0 W5); list the days (\"sat,sun\") or use 0-6"
            ),
            CronLint::EmptyDayOfMonthRange { token } => write!(
                f,
                "day-of-month range {token:?} is reversed and adds no day (spec §0 W5)"
            ),
            CronLint::ReversedTimeRange { field, token } => write!(
                f,
                "{field} range {token:?} is reversed and leaves the field empty: GitLab Runner loads it but crashes at the first Acquire (spec §0 W5); simrun treats it as never active"
            ),
            CronLint::IgnoredRange { field, token } => write!(
                f,
                "{field} range {token:?} is reversed and adds nothing (ranges never wrap, spec §0 W5)"
            ),
            CronLint::ZeroPaddedValue { field, token } => write!(
                f,
                "{field} value {token:?} is zero-padded: gorhill/cronexpr reads it as 0 (month 0 never matches, weekday 0 is Sunday); drop the leading zero"
            ),
            CronLint::NeverMatches { why } => write!(f, "never active: {why}"),
        }
    }
}

impl CronExpr {
    /// The lints of this expression (see [`CronLint`]): first the field-count or alias note,
    /// then one per suspicious entry in field order, then a crash or never-matches verdict.
    pub fn lints(&self) -> Vec<CronLint> {
        let mut out = Vec::new();
        if self.field_count() < 7 {
            out.push(CronLint::SecondsFixed {
                fields: self.field_count(),
            });
        }
        for note in &self.notes {
            out.push(match note {
                Note::Alias(a) => CronLint::Alias {
                    alias: (*a).to_string(),
                },
                Note::ZeroPadded(f, token) => CronLint::ZeroPaddedValue {
                    field: f.name(),
                    token: token.clone(),
                },
                Note::ReversedRange(Field::DayOfWeek, token) => CronLint::EmptyDayOfWeekRange {
                    token: token.clone(),
                },
                Note::ReversedRange(Field::DayOfMonth, token) => CronLint::EmptyDayOfMonthRange {
                    token: token.clone(),
                },
                Note::ReversedRange(f, token) => {
                    if f != &Field::Year && self.field_is_empty(*f) && !self.years.is_empty() {
                        CronLint::ReversedTimeRange {
                            field: f.name(),
                            token: token.clone(),
                        }
                    } else {
                        CronLint::IgnoredRange {
                            field: f.name(),
                            token: token.clone(),
                        }
                    }
                }
            });
        }
        if let Some(why) = self.never_matches() {
            out.push(CronLint::NeverMatches { why });
        }
        out
    }

    /// Whether the second, minute, hour, month or year field has no value.
    fn field_is_empty(&self, f: Field) -> bool {
        match f {
            Field::Second => self.seconds == 0,
            Field::Minute => self.minutes == 0,
            Field::Hour => self.hours == 0,
            Field::Month => self.months == 0,
            Field::Year => self.years.is_empty(),
            Field::DayOfMonth | Field::DayOfWeek => false,
        }
    }

    /// Why the expression can never match, if it cannot: checks every field for a value and
    /// every day of every selected month of 1970–2099 against the day rule.
    fn never_matches(&self) -> Option<String> {
        for f in [
            Field::Second,
            Field::Minute,
            Field::Hour,
            Field::Month,
            Field::Year,
        ] {
            if self.field_is_empty(f) {
                return Some(format!("the {} field has no value", f.name()));
            }
        }
        if self.months & !1 == 0 {
            return Some("the only month is 0 (a zero-padded month such as `01`)".to_string());
        }
        for year in 1970..=2099i16 {
            if !self.years.contains((year - 1970) as u16) {
                continue;
            }
            for month in 1..=12i8 {
                if (self.months >> month) & 1 == 0 {
                    continue;
                }
                let first = civil::date(year, month, 1);
                let last = first.days_in_month() as u8;
                let wd1 = first.weekday().to_sunday_zero_offset() as u8;
                if (1..=last).any(|d| self.day_matches(d, last, (wd1 + d - 1) % 7)) {
                    return None;
                }
            }
        }
        Some(
            "no day of the selected months and years passes the day-of-month/day-of-week fields"
                .to_string(),
        )
    }
}
