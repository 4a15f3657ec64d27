//! One period expression: the gorhill/cronexpr syntax (pinned 88b0669f7d75) and a wall-clock
//! matcher over precomputed bitsets (spec §1.3 with §0 W5, M14).
//!
//! Reading an expression, in the library's order:
//! 1. Every occurrence of an alias is replaced by its 7-field form (case-sensitive, anywhere in
//!    the text): `@yearly`/`@annually` → `0 0 0 1 1 * *`, `@monthly` → `0 0 0 1 * * *`,
//!    `@weekly` → `0 0 0 * * 0 *`, `@daily` → `0 0 0 * * * *`, `@hourly` → `0 0 * * * * *`.
//!    These six are all the library has: `@midnight`, `@minutely`, `@reboot` and
//!    `@every <d>` are **not** aliases and fail ("missing field(s)").
//! 2. Fields are runs of characters other than space, tab, LF, FF, CR. Fewer than 5 → error
//!    "missing field(s)"; fields beyond the 7th are ignored. 7 fields: second minute hour
//!    day-of-month month day-of-week year. 6: minute…year with second = `0`. 5: minute…day-of-week
//!    with second = `0` and year `*`.
//! 3. Fields are read left to right; the first error wins. Token syntax: [`super::field`].
//!
//! Matching a wall-clock time: every field must contain its value, and the day must match:
//! when **both** day-of-month and day-of-week are restricted, a day matches if **either** does;
//! when one is restricted only that one counts; otherwise every day. A field is unrestricted
//! only when one of its entries is `*` or `?`: a step such as `*/1` counts as restricted (M14),
//! in day-of-month **and** in day-of-week (the library sets the "restricted" flag in both
//! fields the same way).
//!
//! Quirks of the library kept here: in the second, minute, hour, month and year fields an
//! entry `*` ends the field early, so later entries are not checked (`*,abc` loads); a reversed
//! range adds nothing; `nW` for a day the month does not have is ignored.

use jiff::civil::DateTime;

use super::field::{self, DomEntry, DowEntry, Entry, Field, ValueSet};

/// The aliases gorhill/cronexpr replaces, with their 7-field forms (M14).
pub(super) const ALIASES: [(&str, &str); 6] = [
    ("@yearly", "0 0 0 1 1 * *"),
    ("@annually", "0 0 0 1 1 * *"),
    ("@monthly", "0 0 0 1 * * *"),
    ("@weekly", "0 0 0 * * 0 *"),
    ("@daily", "0 0 0 * * * *"),
    ("@hourly", "0 0 * * * * *"),
];

/// A parsed period expression in gorhill/cronexpr syntax (spec §1.3, §0 W5, M14).
///
/// Fields `[second] minute hour day-of-month month day-of-week [year]`: 7 as written; 6 =
/// minute…year with second 0; 5 = minute…day-of-week with second 0 and any year; fewer is an
/// error, more are ignored. Values: second/minute 0–59, hour 0–23, day-of-month 1–31 plus `L`
/// (last day), `LW` (last weekday), `nW` (weekday nearest day `n`, never leaving the month),
/// month 1–12 or `jan`…`dec`/`january`…`december`, day-of-week 0–7 (0 and 7 Sunday) or
/// `sun`…`sat`/`sunday`…`saturday` plus `dL` (last weekday `d` of the month) and `d#k`
/// (`k`-th weekday `d`, `k` 1–5), year 1970–2099; names in any case. `*` and `?` (every
/// value), `a-b` (inclusive, never wraps: day-of-week `7` becomes 0 first, so `1-7` is empty),
/// lists `a,b`, steps `*/n`, `a/n`, `a-b/n` with `n` in 1…field maximum (day-of-week: 6).
/// Aliases `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@hourly` expand to
/// 7-field forms with second 0; `@midnight`, `@minutely`, `@reboot`, `@every` do not exist.
///
/// Day rule: when day-of-month **and** day-of-week are both restricted (not `*`/`?`; a step
/// such as `*/1` is restricted), a day matches if either does; otherwise only the restricted
/// one counts, or every day.
///
/// Quirks kept: zero-padded month `01`–`09` reads as month 0 (never) and day-of-week
/// `01`–`06` as Sunday; `*` ends a second/minute/hour/month/year field, so later entries are
/// not checked; reversed ranges add nothing. [`CronExpr::lints`] reports these.
///
/// Cheap to match: every field is a bitset, and [`CronExpr::matches`] never allocates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronExpr {
    source: String,
    field_count: usize,
    pub(super) seconds: u64,
    pub(super) minutes: u64,
    pub(super) hours: u64,
    /// Bit `m` for month `m`; bit 0 only from the zero-padded quirk (never matches).
    pub(super) months: u64,
    /// Bit `y − 1970`.
    pub(super) years: ValueSet,
    pub(super) dom: DomRule,
    pub(super) dow: DowRule,
    /// Facts the lints report (aliases, reversed ranges, zero-padded values).
    pub(super) notes: Vec<Note>,
}

/// The day-of-month field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct DomRule {
    /// False when an entry is `*` or `?`.
    pub(super) restricted: bool,
    /// Bit `d` for day `d` (1–31).
    pub(super) days: u64,
    /// `L`.
    pub(super) last: bool,
    /// `LW`.
    pub(super) last_weekday: bool,
    /// Bit `n` for each `nW`.
    pub(super) nearest_weekday: u64,
}

/// The day-of-week field (Sunday = 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct DowRule {
    /// False when an entry is `*` or `?`.
    pub(super) restricted: bool,
    /// Bit `d` for weekday `d`.
    pub(super) days: u8,
    /// Bit `d` for each `dL`.
    pub(super) last_of_month: u8,
    /// `nth[k-1]` has bit `d` for each `d#k`.
    pub(super) nth: [u8; 5],
}

/// A fact noted while parsing, for [`super::CronLint`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Note {
    /// An alias was expanded.
    Alias(&'static str),
    /// A range `a-b` with `a > b` (after the day-of-week `7` → 0 mapping).
    ReversedRange(Field, String),
    /// A zero-padded month or day-of-week value read as 0.
    ZeroPadded(Field, String),
}

impl CronExpr {
    /// Parses `text` the way gorhill/cronexpr does (module doc; spec §1.3, M14).
    ///
    /// # Errors
    /// A reason such as `missing field(s): …`, `syntax error in hour field: "25"` or
    /// `invalid interval in day-of-week field: "*/7" (step 7 is outside 1..=6)`.
    pub fn parse(text: &str) -> Result<CronExpr, String> {
        let mut notes = Vec::new();
        let expanded = expand_aliases(text, &mut notes);
        let fields: Vec<&str> = expanded.split_ascii_whitespace().collect();
        if fields.len() < 5 {
            return Err(missing_fields(text, fields.len()));
        }
        let count = fields.len().min(7);
        let mut expr = CronExpr {
            source: text.to_string(),
            field_count: count,
            seconds: 1,
            minutes: 0,
            hours: 0,
            months: 0,
            years: ValueSet::default(),
            dom: DomRule::default(),
            dow: DowRule::default(),
            notes,
        };
        let mut it = fields.iter().copied();
        let mut next = || it.next().unwrap_or("*");
        if count == 7 {
            expr.seconds = generic(Field::Second, next(), &mut expr.notes)?.low();
        }
        expr.minutes = generic(Field::Minute, next(), &mut expr.notes)?.low();
        expr.hours = generic(Field::Hour, next(), &mut expr.notes)?.low();
        expr.dom = dom_field(next(), &mut expr.notes)?;
        expr.months = generic(Field::Month, next(), &mut expr.notes)?.low();
        expr.dow = dow_field(next(), &mut expr.notes)?;
        expr.years = if count >= 6 {
            generic(Field::Year, next(), &mut expr.notes)?
        } else {
            let mut all = ValueSet::default();
            field::populate(&mut all, 1970, 1970, 2099, 1);
            all
        };
        Ok(expr)
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How many fields were read: 5, 6 or 7 (7 after an alias, or when more were written).
    pub fn field_count(&self) -> usize {
        self.field_count
    }

    /// Whether the wall-clock fields of `local` (any zone; sub-seconds ignored) match every
    /// field, with the day rule (see [`CronExpr`]). Years outside 1970–2099 never match.
    #[inline]
    pub fn matches(&self, local: DateTime) -> bool {
        self.matches_minute(local) && bit(self.seconds, local.second())
    }

    /// Whether everything but the second matches.
    #[inline]
    pub(super) fn matches_minute(&self, local: DateTime) -> bool {
        self.matches_hour(local) && bit(self.minutes, local.minute())
    }

    /// Whether the date and the hour match.
    #[inline]
    pub(super) fn matches_hour(&self, local: DateTime) -> bool {
        self.matches_date(local) && bit(self.hours, local.hour())
    }

    /// Whether the date matches (year, month, and the day rule).
    #[inline]
    pub(super) fn matches_date(&self, local: DateTime) -> bool {
        let year = local.year();
        if !(1970..=2099).contains(&year) {
            return false;
        }
        self.years.contains((year - 1970) as u16)
            && bit(self.months, local.month())
            && self.day_matches(
                local.day() as u8,
                local.days_in_month() as u8,
                local.weekday().to_sunday_zero_offset() as u8,
            )
    }

    /// The day rule for day `day` of a month of `last` days, `weekday` its weekday (Sunday 0).
    #[inline]
    pub(super) fn day_matches(&self, day: u8, last: u8, weekday: u8) -> bool {
        match (self.dom.restricted, self.dow.restricted) {
            (false, false) => true,
            (true, false) => self.dom_hit(day, last, weekday),
            (false, true) => self.dow_hit(day, last, weekday),
            (true, true) => self.dom_hit(day, last, weekday) || self.dow_hit(day, last, weekday),
        }
    }

    fn dom_hit(&self, day: u8, last: u8, weekday: u8) -> bool {
        let d = &self.dom;
        if bit(d.days, day as i8) || (d.last && day == last) {
            return true;
        }
        if d.last_weekday && day + 2 >= last {
            let wd_last = (weekday + (last - day)) % 7;
            if nearest_weekday(last, last, wd_last) == day {
                return true;
            }
        }
        if d.nearest_weekday != 0 {
            // `nW` lands at most two days away from `n`.
            for n in day.saturating_sub(2).max(1)..=(day + 2).min(last) {
                if bit(d.nearest_weekday, n as i8) {
                    let wd_n = (i16::from(weekday) + i16::from(n) - i16::from(day)).rem_euclid(7);
                    if nearest_weekday(n, last, wd_n as u8) == day {
                        return true;
                    }
                }
            }
        }
        false
    }

    fn dow_hit(&self, day: u8, last: u8, weekday: u8) -> bool {
        let w = &self.dow;
        let mask = 1u8 << weekday;
        w.days & mask != 0
            || (w.last_of_month & mask != 0 && day + 7 > last)
            || w.nth[usize::from((day - 1) / 7)] & mask != 0
    }
}

/// Bit `v` of `set` (false for negative or too large `v`).
#[inline]
fn bit(set: u64, v: i8) -> bool {
    (0..64).contains(&v) && (set >> v) & 1 == 1
}

/// The weekday (Mon–Fri) nearest day `n` without leaving the month: Saturday → Friday before
/// (or Monday after when `n` is the 1st), Sunday → Monday after (or Friday before when `n` is
/// the last day). `weekday` is `n`'s weekday, Sunday 0.
pub(super) fn nearest_weekday(n: u8, last: u8, weekday: u8) -> u8 {
    match weekday {
        6 if n > 1 => n - 1,
        6 => n + 2,
        0 if n < last => n + 1,
        0 => n - 2,
        _ => n,
    }
}

/// Replaces every alias occurrence (module doc step 1), noting which ones were seen.
fn expand_aliases(text: &str, notes: &mut Vec<Note>) -> String {
    if !text.contains('@') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '@' {
            for (alias, expansion) in ALIASES {
                if let Some(after) = rest.strip_prefix(alias) {
                    out.push_str(expansion);
                    notes.push(Note::Alias(alias));
                    rest = after;
                    continue 'outer;
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The "missing field(s)" reason, with a hint for unknown `@` words.
fn missing_fields(text: &str, found: usize) -> String {
    let mut reason = format!(
        "missing field(s): found {found}, need 5 to 7 ([second] minute hour day-of-month month day-of-week [year], e.g. \"* * 9-17 * * mon-fri *\")"
    );
    if let Some(word) = text.split_ascii_whitespace().find(|w| w.starts_with('@')) {
        let known: Vec<&str> = ALIASES.iter().map(|(a, _)| *a).collect();
        reason.push_str(&format!(
            "; {word:?} is not an alias gorhill/cronexpr knows (it knows {})",
            known.join(", ")
        ));
    }
    reason
}

/// Reads a second, minute, hour, month or year field into a set (bits relative to the
/// field's base: 1970 for years, else 0).
fn generic(f: Field, text: &str, notes: &mut Vec<Note>) -> Result<ValueSet, String> {
    let base = if f == Field::Year { 1970 } else { 0 };
    let mut set = ValueSet::default();
    for e in field::entries(f, text)? {
        if e.zero_padded {
            notes.push(Note::ZeroPadded(f, e.text.to_string()));
        }
        match e.entry {
            Entry::All => {
                set = ValueSet::default();
                field::populate(&mut set, base, f.min(), f.max(), 1);
                // The library returns the whole range here: later entries are not read.
                return Ok(set);
            }
            Entry::One(v) => set.insert(v - base),
            Entry::Span {
                first,
                last,
                step,
                range,
            } => {
                if range && first > last {
                    notes.push(Note::ReversedRange(f, e.text.to_string()));
                }
                field::populate(&mut set, base, first, last, step);
            }
            Entry::Other => return Err(syntax_error(f, e.text)),
        }
    }
    Ok(set)
}

fn syntax_error(f: Field, tok: &str) -> String {
    format!("syntax error in {} field: {tok:?}", f.name())
}

/// Reads the day-of-month field (`L`, `LW`, `nW` besides the generic forms).
fn dom_field(text: &str, notes: &mut Vec<Note>) -> Result<DomRule, String> {
    let f = Field::DayOfMonth;
    let mut rule = DomRule {
        restricted: true,
        ..DomRule::default()
    };
    let mut days = ValueSet::default();
    for e in field::entries(f, text)? {
        match e.entry {
            Entry::All => {
                rule.restricted = false;
                field::populate(&mut days, 0, f.min(), f.max(), 1);
            }
            Entry::One(v) => days.insert(v),
            Entry::Span {
                first,
                last,
                step,
                range,
            } => {
                if range && first > last {
                    notes.push(Note::ReversedRange(f, e.text.to_string()));
                }
                field::populate(&mut days, 0, first, last, step);
            }
            Entry::Other => match field::dom_special(&e.lower) {
                Some(DomEntry::Last) => rule.last = true,
                Some(DomEntry::LastWeekday) => rule.last_weekday = true,
                Some(DomEntry::NearestWeekday(n)) => rule.nearest_weekday |= 1 << n,
                None => return Err(syntax_error(f, e.text)),
            },
        }
    }
    rule.days = days.low();
    Ok(rule)
}

/// Reads the day-of-week field (`dL`, `d#k` besides the generic forms).
fn dow_field(text: &str, notes: &mut Vec<Note>) -> Result<DowRule, String> {
    let f = Field::DayOfWeek;
    let mut rule = DowRule {
        restricted: true,
        ..DowRule::default()
    };
    let mut days = ValueSet::default();
    for e in field::entries(f, text)? {
        if e.zero_padded {
            notes.push(Note::ZeroPadded(f, e.text.to_string()));
        }
        match e.entry {
            Entry::All => {
                rule.restricted = false;
                field::populate(&mut days, 0, f.min(), f.max(), 1);
            }
            Entry::One(v) => days.insert(v),
            Entry::Span {
                first,
                last,
                step,
                range,
            } => {
                if range && first > last {
                    notes.push(Note::ReversedRange(f, e.text.to_string()));
                }
                field::populate(&mut days, 0, first, last, step);
            }
            Entry::Other => match field::dow_special(&e.lower) {
                Some((special, zero_padded)) => {
                    if zero_padded {
                        notes.push(Note::ZeroPadded(f, e.text.to_string()));
                    }
                    match special {
                        DowEntry::LastOfMonth(d) => rule.last_of_month |= 1 << d,
                        DowEntry::Nth(d, k) => rule.nth[usize::from(k - 1)] |= 1 << d,
                    }
                }
                None => return Err(syntax_error(f, e.text)),
            },
        }
    }
    rule.days = days.low() as u8;
    Ok(rule)
}
