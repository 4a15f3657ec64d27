//! The summary table printed on the terminal after a run (DESIGN.md "Outputs of a run",
//! issue 4 item 9): plain text, no colours, one labelled row per topic, labels padded to one
//! column so the figures line up. Deterministic: same records → same text.

use std::fmt::Write as _;

use super::fmt_ms;
use super::summary::{Summary, percentile_ms, round_to, sorted_queue_times_ms};

use crate::sim::records::RunRecords;

/// How many violation lines the table shows before "... and N more".
pub const MAX_VIOLATION_LINES: usize = 5;

/// Width of the label column.
const LABEL_WIDTH: usize = 22;

/// Renders the terminal summary of a run. `s` must be [`super::summarize`]`(r)`; queue
/// percentiles and violation times are read from `r` (exact integer ms), counts and money from
/// `s`.
///
/// Rows: jobs; queue time p50/p95/p99/max (nearest rank, human durations such as `1m12s`);
/// machines created / creation failed / removed / peak; peak by state; cost in USD with the
/// idle share (idle cost ÷ total, %); API calls and throttled attempts (by API operation when
/// some were throttled), with the cloud API requests
/// and their number per successful create when the profile counts them; creation failures
/// by stage and cloud error code and removal failures (only when there were some); one row
/// per fault window with its recovery; left running / orphaned; limit
/// excess; quirks (only when some were counted); invariant violations with the first
/// [`MAX_VIOLATION_LINES`] findings; config warnings. Ends with a newline.
pub fn terminal_summary(r: &RunRecords, s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "simrun summary: {} (seed {}, {} simulated)",
        s.scenario,
        s.seed,
        human_ms(r.simulated.as_millis())
    );
    let mut row = |label: &str, value: String| {
        let _ = writeln!(out, "  {label:<LABEL_WIDTH$}{value}");
    };

    let j = &s.jobs;
    row(
        "jobs",
        format!(
            "total {}  succeeded {}  failed {}  running {}  pending {}",
            j.total, j.succeeded, j.failed, j.running_at_end, j.pending_at_end
        ),
    );

    let q = sorted_queue_times_ms(r);
    let queue = if q.is_empty() {
        "no job picked".to_string()
    } else {
        let p = |pct| percentile_ms(&q, pct).map_or_else(|| "-".to_string(), human_ms);
        format!(
            "p50 {}  p95 {}  p99 {}  max {}  ({} jobs picked)",
            p(50),
            p(95),
            p(99),
            p(100),
            q.len()
        )
    };
    row("queue time", queue);

    let m = &s.machines;
    row(
        "machines",
        format!(
            "created {}  creation failed {}  removed {}  peak {}",
            m.created, m.creation_failed, m.removed, m.peak_total
        ),
    );
    let pk = &m.peak_by_state;
    row(
        "peak by state",
        format!(
            "creating {}  idle {}  acquired {}  used {}  removing {}",
            pk.creating, pk.idle, pk.acquired, pk.used, pk.removing
        ),
    );

    let c = &s.cost_usd;
    let share = if c.total > 0.0 {
        format!("{:.1}%", round_to(c.idle / c.total * 100.0, 10.0))
    } else {
        "-".to_string()
    };
    row(
        "cost (USD)",
        format!(
            "total {}  idle {} ({share} of total)  orphaned {}",
            usd(c.total),
            usd(c.idle),
            usd(c.orphaned)
        ),
    );
    let mut api = format!("{}  throttled {}", s.api.calls, s.api.throttled);
    let throttled_ops: Vec<String> = s
        .api
        .by_operation
        .iter()
        .filter(|(_, o)| o.throttled > 0)
        .map(|(op, o)| format!("{op} {}", o.throttled))
        .collect();
    if !throttled_ops.is_empty() {
        api.push_str(&format!(" ({})", throttled_ops.join(", ")));
    }
    if !s.api.by_operation.is_empty() {
        let requests: u64 = s.api.by_operation.values().map(|o| o.calls).sum();
        let per = s
            .api
            .calls_per_successful_create
            .map_or_else(|| "-".to_string(), |x| format!("{:.1}", round_to(x, 10.0)));
        api.push_str(&format!(
            "  cloud requests {requests} ({per} per successful create)"
        ));
    }
    row("api calls", api);
    let f = &s.failures;
    if f.total > 0 {
        let mut line = format!("{}  by stage: {}", f.total, counts(&f.by_stage));
        if !f.by_code.is_empty() {
            line.push_str(&format!("  by code: {}", counts(&f.by_code)));
        }
        row("create failures", line);
    }
    if f.removal.total > 0 {
        let mut line = format!("{}  {}", f.removal.total, counts(&f.removal.by_command));
        if !f.removal.by_code.is_empty() {
            line.push_str(&format!("  by code: {}", counts(&f.removal.by_code)));
        }
        row("removal failures", line);
    }
    for w in &s.faults {
        let span = match w.to_s {
            Some(to) => format!(
                "{}-{}",
                human_ms((w.from_s * 1000.0) as u64),
                human_ms((to * 1000.0) as u64)
            ),
            None => format!("from {}", human_ms((w.from_s * 1000.0) as u64)),
        };
        let outcome = match w.recovery_s {
            Some(0.0) => format!(
                "pending at {:.2} or less (mean of the hour before) when it ended",
                w.baseline_pending
            ),
            Some(x) => format!(
                "pending back to {:.2} (mean of the hour before) {} after the end",
                w.baseline_pending,
                human_ms((x * 1000.0).round() as u64)
            ),
            None => w.status.clone(),
        };
        row(
            "fault window",
            format!(
                "{}  {span}: {outcome}; creates/min {:.1} (failed {:.1}, hour before {:.1})",
                w.detail,
                w.creates_per_minute,
                w.create_failures_per_minute,
                w.baseline_creates_per_minute
            ),
        );
    }
    row(
        "at end",
        format!("left running {}  orphaned {}", m.left_running, m.orphaned),
    );
    row("limit excess", s.limit_excess.to_string());
    if !s.quirks.is_empty() {
        let list: Vec<String> = s.quirks.iter().map(|(k, n)| format!("{k} {n}")).collect();
        row("quirks counted", list.join("  "));
    }
    row("invariant violations", s.invariant_violations.to_string());
    for f in r.violations.iter().take(MAX_VIOLATION_LINES) {
        let _ = writeln!(
            out,
            "    at {}s  {}: {}",
            fmt_ms(f.time_ms),
            f.invariant,
            f.detail
        );
    }
    if r.violations.len() > MAX_VIOLATION_LINES {
        let _ = writeln!(
            out,
            "    ... and {} more (see summary.json)",
            r.violations.len() - MAX_VIOLATION_LINES
        );
    }
    let _ = writeln!(
        out,
        "  {:<LABEL_WIDTH$}{}",
        "config warnings",
        s.warnings.len()
    );
    for w in s.warnings.iter().take(MAX_VIOLATION_LINES) {
        let _ = writeln!(out, "    {w}");
    }
    if s.warnings.len() > MAX_VIOLATION_LINES {
        let _ = writeln!(
            out,
            "    ... and {} more (see summary.json)",
            s.warnings.len() - MAX_VIOLATION_LINES
        );
    }
    out
}

/// `key n  key n` in key order.
fn counts(m: &std::collections::BTreeMap<String, u64>) -> String {
    let v: Vec<String> = m.iter().map(|(k, n)| format!("{k} {n}")).collect();
    v.join("  ")
}

/// A duration for humans: `0s`, `850ms`, `12.3s` (tenths below a minute), `1m12s`,
/// `2h5m0s` (whole seconds from a minute on, rounded half up).
pub fn human_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let tenths = (ms + 50) / 100;
    if tenths < 600 {
        return if tenths % 10 == 0 {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let secs = ms.saturating_add(500) / 1000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else {
        format!("{m}m{s}s")
    }
}

/// USD for the table: two decimals from 1 USD on, four below (small analytic runs).
fn usd(x: f64) -> String {
    let x = x + 0.0;
    if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{fixture, summarize};
    use crate::sim::records::Finding;

    #[test]
    fn human_durations() {
        assert_eq!(human_ms(0), "0s");
        assert_eq!(human_ms(850), "850ms");
        assert_eq!(human_ms(5_000), "5s");
        assert_eq!(human_ms(12_345), "12.3s");
        assert_eq!(human_ms(59_960), "1m0s");
        assert_eq!(human_ms(72_000), "1m12s");
        assert_eq!(human_ms(90_345), "1m30s");
        assert_eq!(human_ms(7_505_000), "2h5m5s");
    }

    #[test]
    fn table_shows_key_figures() {
        let r = fixture::records();
        let t = terminal_summary(&r, &summarize(&r));
        // Queue times sorted 5s, 30s, 90s, 90.345s: p50 30s, p95/p99/max 90.345s → 1m30s.
        // Idle share 0.003 / 0.0318 = 9.43…% → 9.4%. Cloud requests 4 + 20 = 24 over 3
        // successful creates = 8.0; one failed create, one failed rm -y (the config failure
        // is neither); fault windows as in the fixture's module doc.
        let expected = "\
simrun summary: analytic (seed 42, 2m30s simulated)
  jobs                  total 5  succeeded 2  failed 1  running 1  pending 1
  queue time            p50 30s  p95 1m30s  p99 1m30s  max 1m30s  (4 jobs picked)
  machines              created 3  creation failed 1  removed 1  peak 3
  peak by state         creating 2  idle 1  acquired 1  used 2  removing 1
  cost (USD)            total 0.0318  idle 0.0030 (9.4% of total)  orphaned 0.0100
  api calls             9  throttled 1 (RunInstances 1)  cloud requests 24 (8.0 per successful create)
  create failures       1  by stage: driver_create 1  by code: RequestLimitExceeded 1
  removal failures      1  rm -y 1  by code: InternalError 1
  fault window          capacity  20s-30s: pending back to 2.60 (mean of the hour before) 1s after the end; creates/min 12.0 (failed 6.0, hour before 1.5)
  fault window          quota, vcpus 4  from 0s: window not ended by the horizon; creates/min 0.2 (failed 0.0, hour before 0.0)
  at end                left running 1  orphaned 1
  limit excess          2
  quirks counted        Q10 2  Q6 1
  invariant violations  1
    at 95.000s  every_job_accounted: job 3 ended twice
  config warnings       1
    runners[0]: IdleTime 0 removes idle machines at once
";
        assert_eq!(t, expected);
        assert!(!t.contains('\u{1b}'), "no colour codes");
    }

    #[test]
    fn table_without_picked_jobs_or_cost() {
        let mut r = fixture::records();
        r.jobs.retain(|j| j.picked.is_none());
        r.machines.clear();
        let t = terminal_summary(&r, &summarize(&r));
        assert!(t.contains("queue time            no job picked\n"), "{t}");
        assert!(t.contains("total 0.0000  idle 0.0000 (- of total)"), "{t}");
    }

    #[test]
    fn violations_are_capped() {
        let mut r = fixture::records();
        r.violations = (0..8)
            .map(|i| Finding {
                time_ms: i * 1000,
                invariant: "every_job_accounted",
                detail: format!("job {i}"),
                quirk: None,
            })
            .collect();
        let t = terminal_summary(&r, &summarize(&r));
        assert!(t.contains("  invariant violations  8\n"));
        assert_eq!(
            t.matches("every_job_accounted").count(),
            MAX_VIOLATION_LINES
        );
        assert!(t.contains("    ... and 3 more (see summary.json)\n"));
        assert!(!t.contains("job 5"));
    }
}
