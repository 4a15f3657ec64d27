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
/// idle share (idle cost ÷ total, %); API calls and throttled; left running / orphaned; limit
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
    row(
        "api calls",
        format!("{}  throttled {}", s.api.calls, s.api.throttled),
    );
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
    out
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
