//! GitLab Runner's in-period test (spec §1.3, §0 W4), including what it does around
//! daylight-saving changes.
//!
//! GitLab Runner converts "now" to the period's zone and asks gorhill/cronexpr for `next`, the
//! first matching **wall-clock** second strictly after the wall clock of now (sub-seconds
//! dropped). The library walks wall-clock fields and turns the result into an instant with Go's
//! `time.Date` in that zone. The period is active iff `now − next` lies in [−1 s, +1 s].
//!
//! Go's `time.Date` picks the offset for a wall-clock time `c` like this (documented
//! behaviour of the Go standard library, golang/go issues #26224, #50223): read `c` as if it were
//! UTC, take the zone's offset `o1` at that instant, then take the offset `o2` in force at
//! `c − o1`; the instant is `c − o2`. Consequences, for Europe/Berlin (and every zone east of
//! UTC):
//! * a wall time in the spring-forward gap gets the offset from **before** the change
//!   (02:30 → 03:30 CEST);
//! * a repeated wall time in the fall-back hour gets the **later** (standard-time) offset
//!   (02:30 → 02:30 CET, the second pass). Zones west of UTC get the earlier one, and gap times
//!   move an hour back.
//!
//! What that means for periods (all reproduced here; tested on Europe/Berlin, and against a
//! reference for Europe/Berlin and America/New_York):
//! * Away from a change (the normal case) the period is active iff the wall-clock second after
//!   `floor(now)` matches: the window shifted one second early (W4).
//! * Spring forward (02:00 CET → 03:00 CEST): at 01:59:59 CET the next wall second is the
//!   non-existent 02:00:00, which becomes 03:00:00 CEST, one second away: an expression that
//!   matches 02:00:00 is active then (`* * 2 * * * *` is active for that one second only), and
//!   one that matches 03:00:00 but nothing in 02:00–02:59 is active too.
//! * Fall back (03:00 CEST → 02:00 CET): during the **first** pass of 02:00–02:59 (CEST), and
//!   in the second before it (01:59:59 CEST), every next wall second lies in the repeated hour
//!   and is placed in the second pass, an hour away: **no expression is active** for those
//!   3 601 seconds, not even `* * * * * * *`. During the second pass (CET) periods work normally.
//!
//! Cost: away from a change (more than a few hours from one) the test is one binary search in
//! the zone's precomputed changes ([`ZoneChanges`]), one civil conversion and one bitset match
//! per expression, with no allocation. Near a change it examines the few wall-clock seconds
//! whose Go instant can fall within ±1 s of now.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::cron::CronExpr;

/// Seconds on each side of now in which zone changes are looked for: more than twice the
/// largest possible offset (26 h) plus slack, so that every offset `time.Date` could use is seen.
const NEAR: i64 = 3 * 86_400;

/// The most offsets / transitions kept from the ±[`NEAR`] window (real zones have 1–3).
const MAX_OFFSETS: usize = 16;

/// spec §1.3 in-period test for `exprs` in `zone` at `now` (module doc): true iff some
/// expression's next wall-clock match, placed by Go's `time.Date` rule, lies within 1 s of now.
/// `changes` must have been built from `zone`.
pub(super) fn in_period(
    exprs: &[CronExpr],
    zone: &TimeZone,
    changes: &ZoneChanges,
    now: Timestamp,
) -> bool {
    if exprs.is_empty() {
        return false;
    }
    let floor = now.as_second() - i64::from(now.subsec_nanosecond() < 0);
    let whole = now.subsec_nanosecond() == 0;
    if !changes.covers(floor - NEAR, floor + NEAR) {
        // Within 3 days of 1968-01-01 or 2101-01-01, or beyond: the wall clock of the next
        // second is in 1968 or earlier, or in 2100 or later, so no expression can be next.
        return false;
    }
    let near = changes.nearby(floor);
    // Wall clock of floor(now), as seconds of a civil time read as UTC.
    let w0 = floor + near.offset_now;
    if !near.may_shift(floor) {
        return match civil(w0 + 1) {
            Some(c1) => exprs.iter().any(|e| e.matches(c1)),
            None => false,
        };
    }

    // Every wall-clock second > w0 whose Go instant lies in [now − 1 s, now + 1 s].
    let (lo, hi) = if whole {
        (floor - 1, floor + 1)
    } else {
        (floor, floor + 1)
    };
    let mut cands = [0i64; 3 * MAX_OFFSETS];
    let mut m = 0;
    for i in lo..=hi {
        for &o in near.offsets() {
            let c = i + o;
            if c > w0 && go_date(zone, c) == Some(i) && !cands[..m].contains(&c) {
                cands[m] = c;
                m += 1;
            }
        }
    }
    let cands = &mut cands[..m];
    cands.sort_unstable();
    exprs.iter().any(|e| next_is_candidate(e, w0, cands))
}

/// Whether `e`'s first match after wall second `w0` is one of `cands` (ascending).
fn next_is_candidate(e: &CronExpr, w0: i64, cands: &[i64]) -> bool {
    for &c in cands {
        let Some(dt) = civil(c) else { continue };
        if e.matches(dt) {
            return !any_match_between(e, w0 + 1, c - 1);
        }
    }
    false
}

/// Whether `e` matches any wall second in `from..=to` (skips whole days, hours and minutes
/// that cannot match; the span is at most a zone change plus two seconds).
fn any_match_between(e: &CronExpr, from: i64, to: i64) -> bool {
    let mut s = from;
    while s <= to {
        let Some(dt) = civil(s) else { return false };
        if !e.matches_date(dt) {
            s += 86_400 - s.rem_euclid(86_400);
        } else if !e.matches_hour(dt) {
            s += 3_600 - s.rem_euclid(3_600);
        } else if !e.matches_minute(dt) {
            s += 60 - s.rem_euclid(60);
        } else if e.matches(dt) {
            return true;
        } else {
            s += 1;
        }
    }
    false
}

/// The civil date-time of `secs` seconds read as UTC.
fn civil(secs: i64) -> Option<DateTime> {
    Timestamp::from_second(secs)
        .ok()
        .map(|t| Offset::UTC.to_datetime(t))
}

/// Go's `time.Date` for the wall-clock time `civil_secs` (civil seconds read as UTC) in `zone`:
/// the instant in Unix seconds (module doc).
pub(super) fn go_date(zone: &TimeZone, civil_secs: i64) -> Option<i64> {
    let pseudo = Timestamp::from_second(civil_secs).ok()?;
    let o1 = i64::from(zone.to_offset(pseudo).seconds());
    let utc = Timestamp::from_second(civil_secs - o1).ok()?;
    let o2 = i64::from(zone.to_offset(utc).seconds());
    Some(civil_secs - o2)
}

/// A zone's offset changes from 1968 to 2101, precomputed at compile time so that the
/// in-period test needs one binary search instead of two zone-database lookups.
#[derive(Clone, Debug)]
pub(super) struct ZoneChanges {
    /// First second covered (Unix seconds).
    from: i64,
    /// Last second covered.
    to: i64,
    /// The offset in force at `from` (seconds east of UTC).
    initial: i64,
    /// Each change: (Unix second it takes effect, offset from then on), ascending.
    changes: Vec<(i64, i64)>,
}

impl ZoneChanges {
    /// 1968-01-01T00:00:00Z and 2101-01-01T00:00:00Z: the years periods can match, with a
    /// margin larger than [`NEAR`].
    const FROM: i64 = -63_158_400;
    const TO: i64 = 4_133_980_800;

    /// Collects `zone`'s changes in the covered span.
    pub(super) fn new(zone: &TimeZone) -> ZoneChanges {
        let (Ok(from), Ok(_)) = (
            Timestamp::from_second(Self::FROM),
            Timestamp::from_second(Self::TO),
        ) else {
            return ZoneChanges {
                from: 0,
                to: -1,
                initial: 0,
                changes: Vec::new(),
            };
        };
        let changes = zone
            .following(from)
            .map(|t| (t.timestamp().as_second(), i64::from(t.offset().seconds())))
            .take_while(|(at, _)| *at <= Self::TO)
            .collect();
        ZoneChanges {
            from: Self::FROM,
            to: Self::TO,
            initial: i64::from(zone.to_offset(from).seconds()),
            changes,
        }
    }

    fn covers(&self, lo: i64, hi: i64) -> bool {
        lo >= self.from && hi <= self.to
    }

    /// The offset in force at Unix second `t` (covered span only).
    fn offset_at(&self, t: i64) -> i64 {
        match self.changes.partition_point(|(at, _)| *at <= t) {
            0 => self.initial,
            i => self.changes[i - 1].1,
        }
    }

    /// The changes within ±[`NEAR`] of `floor` (covered span only).
    fn nearby(&self, floor: i64) -> Nearby {
        let start = self.changes.partition_point(|(at, _)| *at <= floor - NEAR);
        let mut near = Nearby::empty(self.offset_at(floor));
        for &(at, offset) in &self.changes[start..] {
            if at > floor + NEAR || near.n_changes == MAX_OFFSETS {
                break;
            }
            if near.n_changes == 0 {
                near.push_offset(self.offset_at(floor - NEAR));
            }
            near.changes[near.n_changes] = at;
            near.n_changes += 1;
            near.push_offset(offset);
        }
        near
    }
}

/// The zone's changes within ±[`NEAR`] of now and the offsets in force around them.
struct Nearby {
    /// The offset in force at now.
    offset_now: i64,
    offsets: [i64; MAX_OFFSETS],
    n_offsets: usize,
    changes: [i64; MAX_OFFSETS],
    n_changes: usize,
}

impl Nearby {
    fn empty(offset_now: i64) -> Nearby {
        Nearby {
            offset_now,
            offsets: [0; MAX_OFFSETS],
            n_offsets: 0,
            changes: [0; MAX_OFFSETS],
            n_changes: 0,
        }
    }

    fn push_offset(&mut self, o: i64) {
        if !self.offsets().contains(&o) && self.n_offsets < MAX_OFFSETS {
            self.offsets[self.n_offsets] = o;
            self.n_offsets += 1;
        }
    }

    fn offsets(&self) -> &[i64] {
        &self.offsets[..self.n_offsets]
    }

    /// Whether a change lies where Go's `time.Date` could look for the seconds around now:
    /// within [floor − 1 + min(lo, lo − hi), floor + 1 + max(hi, hi − lo)] for offsets lo..hi.
    fn may_shift(&self, floor: i64) -> bool {
        if self.n_changes == 0 {
            return false;
        }
        let lo = self.offsets().iter().copied().min().unwrap_or(0);
        let hi = self.offsets().iter().copied().max().unwrap_or(0);
        let from = floor - 1 + lo.min(lo - hi);
        let to = floor + 1 + hi.max(hi - lo);
        self.changes[..self.n_changes]
            .iter()
            .any(|&t| t > from && t <= to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_changes_agree_with_the_zone_database() {
        for name in [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "UTC",
        ] {
            let zone = crate::time::lookup_zone(name).expect("bundled zone");
            let table = ZoneChanges::new(&zone);
            let mut t = ZoneChanges::FROM;
            while t <= ZoneChanges::TO {
                let ts = Timestamp::from_second(t).expect("in range");
                assert_eq!(
                    table.offset_at(t),
                    i64::from(zone.to_offset(ts).seconds()),
                    "{name} at {ts}"
                );
                t += 6 * 3600 + 17;
            }
        }
    }

    #[test]
    fn go_date_places_gap_and_repeated_times_like_go() {
        let berlin = crate::time::lookup_zone("Europe/Berlin").expect("bundled zone");
        let civil_secs = |s: &str| {
            let d: DateTime = s.parse().expect("civil datetime");
            Offset::UTC.to_timestamp(d).expect("in range").as_second()
        };
        let unix = |s: &str| s.parse::<Timestamp>().expect("timestamp").as_second();
        // Gap: 02:30 on 2024-03-31 becomes 03:30 CEST (01:30Z).
        assert_eq!(
            go_date(&berlin, civil_secs("2024-03-31T02:30:00")),
            Some(unix("2024-03-31T01:30:00Z"))
        );
        // Repeated: 02:30 on 2024-10-27 is the second pass, 02:30 CET (01:30Z).
        assert_eq!(
            go_date(&berlin, civil_secs("2024-10-27T02:30:00")),
            Some(unix("2024-10-27T01:30:00Z"))
        );
        // New York (west of UTC): the gap moves back, the repeated hour takes the first pass.
        let ny = crate::time::lookup_zone("America/New_York").expect("bundled zone");
        assert_eq!(
            go_date(&ny, civil_secs("2024-03-10T02:30:00")),
            Some(unix("2024-03-10T06:30:00Z"))
        );
        assert_eq!(
            go_date(&ny, civil_secs("2024-11-03T01:30:00")),
            Some(unix("2024-11-03T05:30:00Z"))
        );
    }
}
