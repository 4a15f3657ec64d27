//! Virtual time and its mapping to calendar time.
//!
//! `SimTime` is an integer number of **milliseconds** since a scenario's start instant
//! (DESIGN.md, "Time and calendar"). Nothing in the simulator uses floating-point time or the
//! host clock. A [`Calendar`] maps a `SimTime` to a real instant (`jiff::Timestamp`) and carries
//! the zone that GitLab Runner's `Local` means in a simulation (a scenario's `timezone`, never
//! the host's zone).

use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A point in virtual time: milliseconds since the scenario's start instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of virtual time in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimDuration {
    /// Zero milliseconds.
    pub const ZERO: SimDuration = SimDuration(0);

    /// `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms)
    }

    /// `s` whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1000)
    }

    /// `m` whole minutes.
    pub const fn from_mins(m: u64) -> Self {
        SimDuration(m * 60_000)
    }

    /// The span in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The span in seconds, as a float (for reports only, never for scheduling).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl SimTime {
    /// The scenario's start instant.
    pub const ZERO: SimTime = SimTime(0);

    /// Milliseconds since the start.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at `u64::MAX` ms.
    pub const fn after(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    /// `self − earlier`, or zero when `earlier` is later than `self`.
    pub const fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        self.after(rhs)
    }
}

impl fmt::Display for SimTime {
    /// `H:MM:SS.mmm` since the start (hours are not wrapped at 24).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 % 1000;
        let s = self.0 / 1000;
        write!(
            f,
            "{}:{:02}:{:02}.{:03}",
            s / 3600,
            (s / 60) % 60,
            s % 60,
            ms
        )
    }
}

impl fmt::Display for SimDuration {
    /// Human form: `1h30m`, `90s`, `250ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration_ms(self.0))
    }
}

/// Formats milliseconds as the shortest exact `NdNhNmNs` / `Nms` string (`0s` for zero).
pub fn format_duration_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let mut s = ms / 1000;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400u64), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    out
}

/// Error from [`parse_duration`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {reason} (expected a number with a unit: ms, s, m, h or d, e.g. \"90s\", \"15m\", \"1h30m\")"
)]
pub struct DurationError {
    /// The text that failed to parse.
    pub input: String,
    /// Why it failed.
    pub reason: &'static str,
}

/// Parses a simrun scenario duration (`"250ms"`, `"90s"`, `"15m"`, `"4h"`, `"2d"`, `"1h30m"`)
/// into milliseconds. Units: `ms`, `s`, `m`, `h`, `d`; integers only; components may be
/// concatenated. This is simrun's own scenario syntax (DESIGN.md "Scenario file"); GitLab
/// Runner's Go durations in `config.toml` are parsed by `config::go_duration`.
///
/// # Errors
/// Empty text, a number without a unit, an unknown unit, or overflow of `u64` milliseconds.
pub fn parse_duration(input: &str) -> Result<SimDuration, DurationError> {
    let err = |reason| DurationError {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
            i += 1;
        }
        if start == i {
            return Err(err("expected a number"));
        }
        let number: u64 = s[start..i]
            .replace('_', "")
            .parse()
            .map_err(|_| err("number too large"))?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit_ms: u64 = match &s[ustart..i] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(err("missing unit")),
            _ => return Err(err("unknown unit")),
        };
        total = number
            .checked_mul(unit_ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("too large"))?;
    }
    Ok(SimDuration(total))
}

/// Maps virtual time to calendar time: `start + now`, and names the zone that GitLab Runner's
/// `Local` (or an empty `Timezone`) means here (DESIGN.md "Time and calendar").
#[derive(Clone, Debug)]
pub struct Calendar {
    /// The real instant at `SimTime::ZERO`.
    pub start: Timestamp,
    /// The zone that stands for `Local`: a scenario's `timezone`, default UTC; never the host's.
    pub local: TimeZone,
}

impl Calendar {
    /// A calendar starting at `start`, with `local` standing for GitLab Runner's `Local`.
    pub fn new(start: Timestamp, local: TimeZone) -> Self {
        Calendar { start, local }
    }

    /// The real instant of virtual time `t`.
    pub fn instant(&self, t: SimTime) -> Timestamp {
        let span = jiff::SignedDuration::from_millis(t.0 as i64);
        self.start.checked_add(span).unwrap_or(Timestamp::MAX)
    }

    /// Whole Unix seconds at virtual time `t` (as used in machine names, spec §2.5).
    pub fn unix_seconds(&self, t: SimTime) -> i64 {
        self.instant(t).as_second()
    }
}

/// Looks up an IANA zone name in simrun's **bundled** time-zone database (never the host's
/// files), the way Go's `time.LoadLocation` does on Linux: names are case-sensitive, `UTC` is
/// UTC. `Local` and the empty name are not zones here; callers map them to their own zone.
///
/// # Errors
/// A message naming the zone, with a case-corrected suggestion where one exists.
pub fn lookup_zone(name: &str) -> Result<TimeZone, String> {
    if name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    let db = jiff::tz::TimeZoneDatabase::bundled();
    match db.get(name) {
        Ok(tz) => {
            let canonical_match = db.available().any(|n| n.as_str() == name);
            if canonical_match {
                Ok(tz)
            } else {
                let suggestion = db
                    .available()
                    .find(|n| n.as_str().eq_ignore_ascii_case(name))
                    .map(|n| n.as_str().to_string());
                Err(match suggestion {
                    Some(s) => format!(
                        "unknown time zone {name:?} (zone names are case-sensitive: did you mean {s:?}?)"
                    ),
                    None => format!("unknown time zone {name:?}"),
                })
            }
        }
        Err(_) => Err(format!(
            "unknown time zone {name:?} (expected an IANA name such as \"Europe/Berlin\" or \"UTC\")"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(parse_duration("90s").unwrap(), SimDuration(90_000));
        assert_eq!(parse_duration("1h30m").unwrap(), SimDuration(5_400_000));
        assert_eq!(parse_duration("2d").unwrap(), SimDuration(172_800_000));
        assert_eq!(parse_duration("250ms").unwrap(), SimDuration(250));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(format_duration_ms(5_400_000), "1h30m");
        assert_eq!(format_duration_ms(0), "0s");
        assert_eq!(format_duration_ms(1500), "1500ms");
        assert_eq!(SimTime(3_723_004).to_string(), "1:02:03.004");
    }

    #[test]
    fn zones_come_from_the_bundled_database_case_sensitively() {
        assert!(lookup_zone("Europe/Berlin").is_ok());
        assert!(lookup_zone("Etc/UTC").is_ok());
        assert!(lookup_zone("UTC").is_ok());
        let e = lookup_zone("europe/berlin").unwrap_err();
        assert!(e.contains("did you mean \"Europe/Berlin\""), "{e}");
        assert!(lookup_zone("InvalidTimezone/String").is_err());
        assert!(lookup_zone("Local").is_err());
    }

    #[test]
    fn calendar_maps_virtual_time() {
        let start: Timestamp = "2026-03-02T08:00:00Z".parse().unwrap();
        let cal = Calendar::new(start, TimeZone::UTC);
        assert_eq!(cal.unix_seconds(SimTime(1_500)), start.as_second() + 1);
    }
}
