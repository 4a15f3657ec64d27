//! Recovery time after a fault window (issue 5 item 7): "from the end of a fault window until
//! pending jobs are back to their mean over the hour before the window".
//!
//! Definitions (all times in ms of virtual time, [`SimTime`]):
//! * **pending(t)**: the number of jobs that arrived at or before `t` and that no runner had
//!   received yet at `t` (GitLab's pending queue over all runners: arrival ≤ t < picked, or
//!   never picked). A step function, right-continuous: at an instant where jobs arrive and are
//!   picked, the value after all of them counts. It is computed from the job records, so a job
//!   that several runners may take counts once.
//! * **baseline**: the time-weighted mean of pending(t) over `[max(0, from − 1 h), from)`,
//!   where `from` is the window's start. A window that starts at 0 has no history before it;
//!   its baseline is pending(0) (the queue the scenario starts with, usually 0).
//! * **recovered at**: the first instant `t ≥ to` (the window's end) with
//!   pending(t) ≤ baseline; **recovery time** = that instant − `to` (0 when the queue is
//!   already back when the window ends).
//! * **not recovered**: no such instant up to the horizon; **open at end**: the window has no
//!   end or ends after the horizon, so no recovery can be measured.

use crate::sim::records::JobRecord;
use crate::time::{SimDuration, SimTime};

/// The look-back span of the baseline: one hour (issue 5 item 7).
pub const BASELINE_SPAN: SimDuration = SimDuration(3_600_000);

/// Where the pending queue stood after a fault window (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Recovery {
    /// Pending jobs fell to the baseline at this instant (≥ the window's end).
    Recovered(SimTime),
    /// The window ended but pending jobs stayed above the baseline until the horizon.
    NotRecovered,
    /// The window had not ended by the horizon.
    OpenAtEnd,
}

/// pending(t) as change points `(t, value from t on)`, ascending, starting with `(0, value)`.
pub fn pending_steps(jobs: &[JobRecord]) -> Vec<(SimTime, i64)> {
    let mut deltas: Vec<(SimTime, i64)> = Vec::with_capacity(jobs.len() * 2);
    for j in jobs {
        deltas.push((j.arrival, 1));
        if let Some(p) = j.picked {
            deltas.push((p, -1));
        }
    }
    deltas.sort_by_key(|d| d.0);
    let mut steps: Vec<(SimTime, i64)> = vec![(SimTime::ZERO, 0)];
    let mut level = 0i64;
    for (t, d) in deltas {
        level += d;
        match steps.last_mut() {
            Some(last) if last.0 == t => last.1 = level,
            _ => steps.push((t, level)),
        }
    }
    steps
}

/// pending(t) from [`pending_steps`].
pub fn pending_at(steps: &[(SimTime, i64)], t: SimTime) -> i64 {
    let i = steps.partition_point(|s| s.0 <= t);
    if i == 0 { 0 } else { steps[i - 1].1 }
}

/// Time-weighted mean of pending over `[a, b)`; pending(a) when the span is empty.
pub fn mean_pending(steps: &[(SimTime, i64)], a: SimTime, b: SimTime) -> f64 {
    if b <= a {
        return pending_at(steps, a) as f64;
    }
    let mut area: i128 = 0;
    let mut t = a;
    let mut level = pending_at(steps, a);
    for &(s, v) in steps.iter().filter(|s| s.0 > a && s.0 < b) {
        area += i128::from(level) * i128::from(s.0 - t.0);
        t = s;
        level = v;
    }
    area += i128::from(level) * i128::from(b.0 - t.0);
    area as f64 / (b.0 - a.0) as f64
}

/// The baseline and the recovery of a window `[from, to)` (`to = None`: no end) in a run that
/// ends at `end` (module docs).
pub fn fault_recovery(
    steps: &[(SimTime, i64)],
    from: SimTime,
    to: Option<SimTime>,
    end: SimTime,
) -> (f64, Recovery) {
    let start = SimTime(from.0.saturating_sub(BASELINE_SPAN.0));
    let baseline = mean_pending(steps, start, from);
    let Some(to) = to.filter(|t| *t <= end) else {
        return (baseline, Recovery::OpenAtEnd);
    };
    let back = |v: i64| v as f64 <= baseline;
    if back(pending_at(steps, to)) {
        return (baseline, Recovery::Recovered(to));
    }
    let at = steps
        .iter()
        .find(|s| s.0 > to && s.0 <= end && back(s.1))
        .map(|s| s.0);
    (
        baseline,
        at.map_or(Recovery::NotRecovered, Recovery::Recovered),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::records::JobOutcome;

    fn job(arrival_s: u64, picked_s: Option<u64>) -> JobRecord {
        JobRecord {
            id: 0,
            runner: None,
            arrival: SimTime(arrival_s * 1000),
            picked: picked_s.map(|p| SimTime(p * 1000)),
            start: None,
            end: None,
            machine: None,
            outcome: JobOutcome::Pending,
            failure_reason: None,
        }
    }

    const fn s(x: u64) -> SimTime {
        SimTime(x * 1000)
    }

    #[test]
    fn baseline_is_the_time_weighted_mean_of_the_hour_before() {
        // Job A pending over [3000 s, 4800 s), B over [6600 s, 7300 s), C over [6600 s, 7400 s).
        let jobs = [
            job(3000, Some(4800)),
            job(6600, Some(7300)),
            job(6600, Some(7400)),
        ];
        let steps = pending_steps(&jobs);
        // Window from 7200 s: hour [3600, 7200): 1 job for 1200 s (A), 0 for 1800 s, 2 jobs for
        // 600 s (B, C) → (1200 + 1200) / 3600 = 0.667.
        let m = mean_pending(&steps, s(3600), s(7200));
        assert!((m - 2400.0 / 3600.0).abs() < 1e-12, "{m}");
        // Window [7200, 7250): pending 2 at 7250 s, 1 from 7300 s, 0 from 7400 s: back to
        // ≤ 0.667 at 7400 s → recovery 150 s.
        let (b, r) = fault_recovery(&steps, s(7200), Some(s(7250)), s(10_000));
        assert!((b - 2400.0 / 3600.0).abs() < 1e-12);
        assert_eq!(r, Recovery::Recovered(s(7400)));
    }

    #[test]
    fn already_back_at_the_end_of_the_window_is_zero() {
        let steps = pending_steps(&[job(100, Some(200))]);
        let (b, r) = fault_recovery(&steps, s(50), Some(s(300)), s(1000));
        assert_eq!(b, 0.0);
        assert_eq!(r, Recovery::Recovered(s(300)));
    }

    #[test]
    fn never_back_and_open_windows() {
        let steps = pending_steps(&[job(100, None)]);
        let (_, r) = fault_recovery(&steps, s(50), Some(s(300)), s(1000));
        assert_eq!(r, Recovery::NotRecovered);
        assert_eq!(
            fault_recovery(&steps, s(50), None, s(1000)).1,
            Recovery::OpenAtEnd
        );
        assert_eq!(
            fault_recovery(&steps, s(50), Some(s(2000)), s(1000)).1,
            Recovery::OpenAtEnd
        );
    }

    #[test]
    fn simultaneous_arrival_and_pick_count_once() {
        let steps = pending_steps(&[job(10, Some(10)), job(10, Some(20))]);
        assert_eq!(pending_at(&steps, s(10)), 1);
        assert_eq!(pending_at(&steps, s(20)), 0);
        assert_eq!(pending_at(&steps, s(5)), 0);
    }
}
