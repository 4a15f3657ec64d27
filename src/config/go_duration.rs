//! Go's `time.ParseDuration`, used where GitLab Runner's config holds a `time.Duration`
//! (`[machine.shutdown_drain] retry_backoff`, spec §4.3, §0 M15). The TOML library GitLab
//! Runner uses reads a duration from a string with this syntax, and from an integer as
//! **nanoseconds**.

/// Parses a Go duration string (`"5s"`, `"1m30s"`, `"1.5h"`, `"300ms"`, `"-2us"`, `"0"`) into
/// nanoseconds. Units: `ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`; an optional sign; decimal
/// fractions; several components concatenated. A bare `0` is allowed.
///
/// # Errors
/// A message naming the input: empty text, a missing or unknown unit, or overflow of `i64`
/// nanoseconds (about 292 years).
pub fn parse_go_duration(input: &str) -> Result<i64, String> {
    let bad = |why: &str| {
        format!("invalid duration {input:?}: {why} (Go syntax, e.g. \"5s\", \"1m30s\", \"250ms\")")
    };
    let mut s = input;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[..frac_len];
            s = &rest[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("expected a number"));
        }
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        let unit_ns: u128 = match &s[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(bad("missing unit")),
            _ => return Err(bad("unknown unit")),
        };
        s = &s[unit_len..];
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad("number too large"))?
        };
        let mut value = whole.checked_mul(unit_ns).ok_or_else(|| bad("overflow"))?;
        // Fractions are truncated to whole nanoseconds, as Go does.
        let mut scale = unit_ns;
        for d in frac_part.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            value += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(value).ok_or_else(|| bad("overflow"))?;
        if total > i64::MAX as u128 + u128::from(negative) {
            return Err(bad("overflow"));
        }
    }
    let t = total as i128;
    Ok(if negative { (-t) as i64 } else { t as i64 })
}

/// Formats nanoseconds the way Go's `Duration.String` does for whole units (`5s`, `1m30s`,
/// `5ns`, `1.5s`), for messages.
pub fn format_go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let n = ns.unsigned_abs();
    let body = if n < 1_000 {
        format!("{n}ns")
    } else if n < 1_000_000 {
        trim_fraction(n, 1_000, "µs")
    } else if n < 1_000_000_000 {
        trim_fraction(n, 1_000_000, "ms")
    } else {
        let h = n / 3_600_000_000_000;
        let m = (n / 60_000_000_000) % 60;
        let rest = n % 60_000_000_000;
        let mut out = String::new();
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&trim_fraction(rest, 1_000_000_000, "s"));
        out
    };
    if neg { format!("-{body}") } else { body }
}

fn trim_fraction(n: u64, unit: u64, suffix: &str) -> String {
    let whole = n / unit;
    let frac = n % unit;
    if frac == 0 {
        return format!("{whole}{suffix}");
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}{suffix}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_go_duration("5s"), Ok(5_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("2us"), Ok(2_000));
        assert_eq!(parse_go_duration("2µs"), Ok(2_000));
        assert_eq!(parse_go_duration("-2s"), Ok(-2_000_000_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("1h1m1s1ms1us1ns"), Ok(3_661_001_001_001));
        for bad in ["", "5", "s", "5x", "1.s.", "5 s", "9999999999h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(5), "5ns");
        assert_eq!(format_go_duration(5_000_000_000), "5s");
        assert_eq!(format_go_duration(90_000_000_000), "1m30s");
        assert_eq!(format_go_duration(1_500_000_000), "1.5s");
        assert_eq!(format_go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_go_duration(250_000_000), "250ms");
    }
}
