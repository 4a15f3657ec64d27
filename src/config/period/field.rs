//! The token grammar of one cron field, as gorhill/cronexpr (pinned 88b0669f7d75) reads it
//! (spec §1.3 with §0 W5, M14).
//!
//! A field is split at commas into entries (empty entries between commas are skipped; a field
//! of commas only has no entry and is an error). Each entry is lower-cased and is one of:
//!
//! | form | meaning |
//! |---|---|
//! | `*`, `?` | every value of the field (`?` is allowed in every field, M14) |
//! | `v` | one value |
//! | `a-b` | `a` to `b` inclusive; **never wraps**: `a > b` gives nothing (W5) |
//! | `*/n`, `a/n`, `a-b/n` | every `n`-th value of min–max, a–max, a–b |
//! | anything else | only the day fields accept more (`L`, `LW`, `nW`, `nL`, `n#k`), see [`DomEntry`], [`DowEntry`] |
//!
//! Values are the exact spellings the library accepts (facts about its documented and
//! observable behaviour, re-implemented here):
//! * second, minute `0`–`59`, hour `0`–`23`, day-of-month `1`–`31`, year `1970`–`2099`; one
//!   leading zero is allowed on single digits (`05`), never more (`005` is an error);
//! * month `1`–`12`, `jan`…`dec`, `january`…`december` (any case);
//! * day-of-week `0`–`7` (`7` is Sunday and becomes `0` **before** a range expands, so `1-7`
//!   is empty, W5), `sun`…`sat`, `sunday`…`saturday` (any case);
//! * quirk: month `01`–`09` and day-of-week `00`–`07` pass the syntax check but the library's
//!   name tables have no zero-padded keys, so they are read as **0** (month 0 never matches;
//!   day 0 is Sunday). Reported by [`super::CronLint::ZeroPaddedValue`].
//!
//! A step `n` must lie in `1..=max` of the field (M14; day-of-week max is 6, so `*/7` fails).
//! It is read through the library's number table (`0`–`59`, `00`–`09`, `1970`–`2099`); any
//! other digit string counts as 0 and fails the check.

/// A cron field (spec §1.3 field order: `[second] minute hour day-of-month month day-of-week [year]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Field {
    /// The name used in messages (the library's spelling).
    pub(super) fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
            Field::Year => "year",
        }
    }

    /// Smallest value of `*`.
    pub(super) fn min(self) -> u16 {
        match self {
            Field::DayOfMonth | Field::Month => 1,
            Field::Year => 1970,
            _ => 0,
        }
    }

    /// Largest value of `*`, and the largest allowed step (day-of-week: 6, M14).
    pub(super) fn max(self) -> u16 {
        match self {
            Field::Second | Field::Minute => 59,
            Field::Hour => 23,
            Field::DayOfMonth => 31,
            Field::Month => 12,
            Field::DayOfWeek => 6,
            Field::Year => 2099,
        }
    }
}

/// A set of field values: bit `v - base` for value `v` (`base` 1970 for years, else 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct ValueSet {
    bits: [u64; 3],
}

impl ValueSet {
    /// Adds bit `i` (`i` < 192).
    pub(super) fn insert(&mut self, i: u16) {
        let i = usize::from(i);
        if i < 192 {
            self.bits[i / 64] |= 1 << (i % 64);
        }
    }

    /// Whether bit `i` is set.
    #[inline]
    pub(super) fn contains(&self, i: u16) -> bool {
        let i = usize::from(i);
        i < 192 && (self.bits[i / 64] >> (i % 64)) & 1 == 1
    }

    /// Whether no bit is set.
    pub(super) fn is_empty(&self) -> bool {
        self.bits == [0; 3]
    }

    /// The low 64 bits (all fields but the year fit there).
    #[inline]
    pub(super) fn low(&self) -> u64 {
        self.bits[0]
    }
}

/// One comma-separated entry after the generic forms were tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// `*` or `?`.
    All,
    /// A single value (already mapped: `7` → 0 in day-of-week, zero-padded names → 0).
    One(u16),
    /// `first..=last` every `step`; empty when `first > last` (W5).
    Span {
        /// First value.
        first: u16,
        /// Last value (inclusive).
        last: u16,
        /// Step, 1 for a plain range.
        step: u16,
        /// Written as a range `a-b` or `a-b/n` (the only forms that can be reversed).
        range: bool,
    },
    /// No generic form matched; the day fields try their special forms, others reject it.
    Other,
}

/// An entry with its text as written (for messages and lints) and its lower-cased form.
#[derive(Clone, Debug)]
pub(super) struct RawEntry<'a> {
    /// The entry as written.
    pub(super) text: &'a str,
    /// Lower-cased the way Go's `strings.ToLower` does for the characters that matter.
    pub(super) lower: String,
    /// What it is.
    pub(super) entry: Entry,
    /// A month or day-of-week value was written zero-padded (`01`) and reads as 0.
    pub(super) zero_padded: bool,
}

/// Lower-cases like Go's `strings.ToLower` as far as the ASCII grammar can tell: ASCII letters,
/// plus the two non-ASCII letters whose Go lower case is ASCII (`K` KELVIN SIGN → `k`,
/// `İ` → `i`). Other characters stay as they are (they can never match the grammar).
pub(super) fn go_lower(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{212A}' => 'k',
            '\u{0130}' => 'i',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The value of a lower-cased token if it has the field's value syntax (see the module doc),
/// with the library's mapping; the flag tells a zero-padded month/day-of-week token read as 0.
pub(super) fn value(field: Field, tok: &str) -> Option<(u16, bool)> {
    let b = tok.as_bytes();
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u16::from(c - b'0'))
    };
    let two = || Some(digit(0)? * 10 + digit(1)?);
    match field {
        Field::Second | Field::Minute => match b.len() {
            1 => digit(0).map(|v| (v, false)),
            2 if b[0] <= b'5' => two().map(|v| (v, false)),
            _ => None,
        },
        Field::Hour => match b.len() {
            1 => digit(0).map(|v| (v, false)),
            2 => two().filter(|&v| v <= 23).map(|v| (v, false)),
            _ => None,
        },
        Field::DayOfMonth => match b.len() {
            1 => digit(0).filter(|&v| v >= 1).map(|v| (v, false)),
            2 => two().filter(|&v| (1..=31).contains(&v)).map(|v| (v, false)),
            _ => None,
        },
        Field::Month => {
            if let Some(m) = month_name(tok) {
                return Some((m, false));
            }
            match b.len() {
                1 => digit(0).filter(|&v| v >= 1).map(|v| (v, false)),
                // `01`..`09` pass the syntax but are not in the library's table: read as 0.
                2 if b[0] == b'0' => digit(1).filter(|&v| v >= 1).map(|_| (0, true)),
                2 => two()
                    .filter(|&v| (10..=12).contains(&v))
                    .map(|v| (v, false)),
                _ => None,
            }
        }
        Field::DayOfWeek => {
            if let Some(d) = dow_name(tok) {
                return Some((d, false));
            }
            match b.len() {
                1 => digit(0).filter(|&v| v <= 7).map(|v| (v % 7, false)),
                // `00`..`07` pass the syntax but read as 0 (Sunday); only `01`..`06` mislead.
                2 if b[0] == b'0' => digit(1).filter(|&v| v <= 7).map(|v| (0, v % 7 != 0)),
                _ => None,
            }
        }
        Field::Year => {
            if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let v = Some(two()? * 100 + digit(2)? * 10 + digit(3)?)?;
            (1970..=2099).contains(&v).then_some((v, false))
        }
    }
}

/// Month names the library knows (lower case): three-letter and full English names.
fn month_name(tok: &str) -> Option<u16> {
    const NAMES: [(&str, &str); 12] = [
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
    NAMES
        .iter()
        .position(|(short, long)| tok == *short || tok == *long)
        .map(|i| i as u16 + 1)
}

/// Day-of-week names the library knows (lower case), Sunday = 0.
fn dow_name(tok: &str) -> Option<u16> {
    const NAMES: [(&str, &str); 7] = [
        ("sun", "sunday"),
        ("mon", "monday"),
        ("tue", "tuesday"),
        ("wed", "wednesday"),
        ("thu", "thursday"),
        ("fri", "friday"),
        ("sat", "saturday"),
    ];
    NAMES
        .iter()
        .position(|(short, long)| tok == *short || tok == *long)
        .map(|i| i as u16)
}

/// A step written after `/`: ASCII digits read through the library's number table
/// (`0`–`59`, `00`–`09`, `1970`–`2099`), anything else counts as 0. `None` when not digits.
fn step_value(tok: &str) -> Option<u16> {
    if tok.is_empty() || !tok.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let known = match tok.len() {
        1 => true,
        2 => tok.as_bytes()[0] <= b'5',
        4 => {
            let v: u16 = tok.parse().unwrap_or(0);
            (1970..=2099).contains(&v)
        }
        _ => false,
    };
    Some(if known { tok.parse().unwrap_or(0) } else { 0 })
}

/// Splits a field into entries and classifies each one with the generic forms.
///
/// # Errors
/// No entry at all (`,`), or a step outside `1..=max` in any entry (the library checks every
/// entry's step before it looks at anything else).
pub(super) fn entries(field: Field, text: &str) -> Result<Vec<RawEntry<'_>>, String> {
    let mut out = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let lower = go_lower(part);
        let (entry, zero_padded) = classify(field, &lower).map_err(|step| {
            format!(
                "invalid interval in {} field: {part:?} (step {step} is outside 1..={})",
                field.name(),
                field.max()
            )
        })?;
        out.push(RawEntry {
            text: part,
            lower,
            entry,
            zero_padded,
        });
    }
    if out.is_empty() {
        return Err(format!(
            "syntax error in {} field: {text:?} (no value)",
            field.name()
        ));
    }
    Ok(out)
}

/// Classifies one lower-cased entry; `Err(step)` for a step outside `1..=max`.
fn classify(field: Field, tok: &str) -> Result<(Entry, bool), u16> {
    if tok == "*" || tok == "?" {
        return Ok((Entry::All, false));
    }
    if let Some((v, z)) = value(field, tok) {
        return Ok((Entry::One(v), z));
    }
    let range = |s: &str| -> Option<(u16, u16, bool)> {
        let (a, b) = s.split_once('-')?;
        let (a, za) = value(field, a)?;
        let (b, zb) = value(field, b)?;
        Some((a, b, za || zb))
    };
    if let Some((first, last, z)) = range(tok) {
        let span = Entry::Span {
            first,
            last,
            step: 1,
            range: true,
        };
        return Ok((span, z));
    }
    let checked = |step: u16| {
        if (1..=field.max()).contains(&step) {
            Ok(step)
        } else {
            Err(step)
        }
    };
    if let Some((head, step)) = tok.split_once('/') {
        if let Some(step) = step_value(step) {
            if head == "*" {
                let step = checked(step)?;
                let span = Entry::Span {
                    first: field.min(),
                    last: field.max(),
                    step,
                    range: false,
                };
                return Ok((span, false));
            }
            if let Some((first, z)) = value(field, head) {
                let step = checked(step)?;
                let span = Entry::Span {
                    first,
                    last: field.max(),
                    step,
                    range: false,
                };
                return Ok((span, z));
            }
            if let Some((first, last, z)) = range(head) {
                let step = checked(step)?;
                let span = Entry::Span {
                    first,
                    last,
                    step,
                    range: true,
                };
                return Ok((span, z));
            }
        }
    }
    Ok((Entry::Other, false))
}

/// Adds the values of a span to `set` (bits relative to `base`).
pub(super) fn populate(set: &mut ValueSet, base: u16, first: u16, last: u16, step: u16) {
    if first > last || step == 0 {
        return;
    }
    let mut v = first;
    while v <= last {
        set.insert(v - base);
        match v.checked_add(step) {
            Some(n) => v = n,
            None => break,
        }
    }
}

/// A day-of-month entry that is not a generic form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DomEntry {
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (Mon–Fri) of the month.
    LastWeekday,
    /// `nW`: the weekday nearest day `n`, without leaving the month.
    NearestWeekday(u16),
}

/// Reads `L`, `LW`, `nW` (lower-cased); `None` otherwise (a syntax error).
pub(super) fn dom_special(tok: &str) -> Option<DomEntry> {
    match tok {
        "l" => Some(DomEntry::Last),
        "lw" => Some(DomEntry::LastWeekday),
        _ => {
            let n = tok.strip_suffix('w')?;
            value(Field::DayOfMonth, n).map(|(v, _)| DomEntry::NearestWeekday(v))
        }
    }
}

/// A day-of-week entry that is not a generic form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DowEntry {
    /// `dL`: the last weekday `d` (Sunday = 0) of the month.
    LastOfMonth(u16),
    /// `d#k`: the `k`-th (1–5) weekday `d` of the month.
    Nth(u16, u16),
}

/// Reads `dL` and `d#k` (lower-cased, `k` in 1–5); `None` otherwise. The flag tells a
/// zero-padded weekday read as Sunday.
pub(super) fn dow_special(tok: &str) -> Option<(DowEntry, bool)> {
    if let Some(d) = tok.strip_suffix('l') {
        let (d, z) = value(Field::DayOfWeek, d)?;
        return Some((DowEntry::LastOfMonth(d), z));
    }
    let (d, k) = tok.split_once('#')?;
    let (d, z) = value(Field::DayOfWeek, d)?;
    let k = match k {
        "1" => 1,
        "2" => 2,
        "3" => 3,
        "4" => 4,
        "5" => 5,
        _ => return None,
    };
    Some((DowEntry::Nth(d, k), z))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_accept_bounds_and_one_leading_zero() {
        assert_eq!(value(Field::Second, "59"), Some((59, false)));
        assert_eq!(value(Field::Second, "60"), None);
        assert_eq!(value(Field::Second, "07"), Some((7, false)));
        assert_eq!(value(Field::Second, "007"), None);
        assert_eq!(value(Field::Hour, "23"), Some((23, false)));
        assert_eq!(value(Field::Hour, "24"), None);
        assert_eq!(value(Field::DayOfMonth, "0"), None);
        assert_eq!(value(Field::DayOfMonth, "00"), None);
        assert_eq!(value(Field::DayOfMonth, "01"), Some((1, false)));
        assert_eq!(value(Field::DayOfMonth, "31"), Some((31, false)));
        assert_eq!(value(Field::DayOfMonth, "32"), None);
        assert_eq!(value(Field::Month, "12"), Some((12, false)));
        assert_eq!(value(Field::Month, "13"), None);
        assert_eq!(value(Field::Month, "0"), None);
        assert_eq!(value(Field::Year, "1970"), Some((1970, false)));
        assert_eq!(value(Field::Year, "2099"), Some((2099, false)));
        assert_eq!(value(Field::Year, "1969"), None);
        assert_eq!(value(Field::Year, "2100"), None);
        assert_eq!(value(Field::Year, "20x0"), None);
    }

    #[test]
    fn zero_padded_month_and_weekday_read_as_zero() {
        assert_eq!(value(Field::Month, "01"), Some((0, true)));
        assert_eq!(value(Field::Month, "09"), Some((0, true)));
        assert_eq!(value(Field::Month, "00"), None);
        assert_eq!(value(Field::DayOfWeek, "05"), Some((0, true)));
        assert_eq!(value(Field::DayOfWeek, "00"), Some((0, false)));
        assert_eq!(value(Field::DayOfWeek, "07"), Some((0, false)));
        assert_eq!(value(Field::DayOfWeek, "08"), None);
        assert_eq!(value(Field::DayOfWeek, "7"), Some((0, false)));
    }

    #[test]
    fn steps_go_through_the_number_table() {
        assert_eq!(step_value("5"), Some(5));
        assert_eq!(step_value("05"), Some(5));
        assert_eq!(step_value("59"), Some(59));
        assert_eq!(step_value("60"), Some(0));
        assert_eq!(step_value("005"), Some(0));
        assert_eq!(step_value("1970"), Some(1970));
        assert_eq!(step_value("x"), None);
        assert_eq!(step_value(""), None);
    }

    #[test]
    fn go_lower_maps_the_two_non_ascii_letters_go_maps_to_ascii() {
        assert_eq!(go_lower("FRİDAY"), "friday");
        assert_eq!(go_lower("\u{212A}"), "k");
        assert_eq!(go_lower("Ĳ"), "Ĳ");
    }
}
