//! The fault metrics of a run (issue 5 item 7), added to [`RunRecords`] when the run ends:
//! cloud API calls and throttled attempts by operation, API calls per successful create,
//! failed driver calls with their stage and cloud error code, and each fault window with the
//! pending queue's recovery after it ([`super::recovery`]).
//!
//! Rows added to the decision log (`events.csv`), merged in time order:
//! * `fault window opened` / `fault window closed` at a window's start and end (within the
//!   simulated span), reason = kind and parameters;
//! * `fault recovered` when pending jobs are back to the window's baseline (reason gives the
//!   recovery time, the pending count and the baseline);
//! * `api throttled`: one row per cloud API **request** that was throttled at least once
//!   (runner, machine, reason = operation, throttled attempts, whether the driver gave up, and
//!   the profile's error code). Not one row per attempt: a request's SDK retries (up to 5 for
//!   AWS, cloud-faults §2.1) would repeat the same row with nothing new, and in a rate-limit
//!   storm the attempt count is several times the request count. The attempt counts are in
//!   `summary.json` (`api.by_operation.*.throttled`). Requests the fake planned past the
//!   horizon (a create's later polls) get no row.

use std::collections::BTreeMap;

use crate::fake_cloud::FaultStage;
use crate::fake_cloud::{FakeCloud, FaultKind, FaultSpec};
use crate::sim::records::{EventRow, FailureRecord, FaultWindowRecord, OperationCount, RunRecords};
use crate::sim::recovery::{BASELINE_SPAN, Recovery, fault_recovery, pending_steps};
use crate::time::SimTime;

/// Fills the metric fields of `r` from the cloud's counters and logs and the scenario's fault
/// windows, and merges the metric rows into `r.events` (stable by time). `end` is the horizon.
pub fn add_fault_metrics(
    r: &mut RunRecords,
    cloud: &FakeCloud,
    faults: &[FaultSpec],
    end: SimTime,
) {
    let mut ops: BTreeMap<String, OperationCount> = BTreeMap::new();
    for (op, n) in cloud.api_calls_by_operation() {
        ops.entry(op.clone()).or_default().calls = *n;
    }
    for (op, n) in cloud.throttled_by_operation() {
        ops.entry(op.clone()).or_default().throttled = *n;
    }
    r.api_by_operation = ops;
    r.successful_creates = cloud.successful_creates();
    r.api_calls_per_successful_create = cloud.api_calls_per_successful_create();

    let mut failures: Vec<FailureRecord> = cloud
        .failures()
        .iter()
        .filter(|f| f.at <= end)
        .map(|f| FailureRecord {
            time: f.at,
            runner: f.runner.clone(),
            machine: f.machine.clone(),
            command: f.command.to_string(),
            kind: f.error.kind.key().to_string(),
            stage: f.error.stage.map(|s| s.key().to_string()),
            code: f.error.code.clone(),
            message: f.error.message.clone(),
        })
        .collect();
    failures.sort_by_key(|f| f.time);
    r.failures = failures;

    let mut rows: Vec<EventRow> = Vec::new();
    for t in cloud.throttled_calls().iter().filter(|t| t.at <= end) {
        let code = cloud
            .runner(&t.runner)
            .and_then(|rc| rc.profile.rate_limits.as_ref())
            .and_then(|rl| rl.throttle_code.clone());
        let mut reason = format!(
            "{}: {} throttled attempt{}{}",
            t.operation,
            t.throttled,
            if t.throttled == 1 { "" } else { "s" },
            if t.gave_up {
                ", driver gave up"
            } else {
                ", then accepted"
            }
        );
        if let Some(c) = code {
            reason.push_str(&format!(" ({c})"));
        }
        rows.push(EventRow {
            time: t.at,
            runner: t.runner.clone(),
            machine: t.machine.clone(),
            event: "api throttled".into(),
            reason,
        });
    }

    let steps = pending_steps(&r.jobs);
    let mut windows = Vec::new();
    for f in faults {
        let from = SimTime(f.from.as_millis());
        let to = f.to.map(|d| SimTime(d.as_millis()));
        let detail = describe(f);
        let (baseline, recovery) = fault_recovery(&steps, from, to, end);
        let scope = f.scope.runner.clone().unwrap_or_default();
        if from <= end {
            rows.push(EventRow {
                time: from,
                runner: scope.clone(),
                machine: String::new(),
                event: "fault window opened".into(),
                reason: detail.clone(),
            });
        }
        if let Some(to) = to.filter(|t| *t <= end) {
            rows.push(EventRow {
                time: to,
                runner: scope.clone(),
                machine: String::new(),
                event: "fault window closed".into(),
                reason: format!(
                    "{detail}; pending before the window: {baseline:.2} jobs (mean over the hour before it)"
                ),
            });
        }
        if let (Recovery::Recovered(at), Some(to)) = (recovery, to) {
            rows.push(EventRow {
                time: at,
                runner: scope,
                machine: String::new(),
                event: "fault recovered".into(),
                reason: format!(
                    "{}: pending jobs back to {baseline:.2} (their mean over the hour before the window) {} after its end",
                    f.kind.name(),
                    // Whole seconds, for people (summary.json has the exact figure).
                    crate::time::SimDuration(at.since(to).as_millis().div_ceil(1000) * 1000)
                ),
            });
        }
        let win_end = to.map_or(end, |t| t.min(end));
        let before = SimTime(from.0.saturating_sub(BASELINE_SPAN.as_millis()));
        windows.push(FaultWindowRecord {
            kind: f.kind.name().to_string(),
            detail,
            from,
            to,
            baseline_pending: baseline,
            recovery,
            creates_per_minute: per_minute(&r.events, "creation started", from, win_end),
            create_failures_per_minute: per_minute(&r.events, "creation failed", from, win_end),
            baseline_creates_per_minute: per_minute(&r.events, "creation started", before, from),
        });
    }
    r.fault_windows = windows;
    if !rows.is_empty() {
        r.events.extend(rows);
        r.events.sort_by_key(|e| e.time);
    }
}

/// Decision-log rows named `event` per minute of `[a, b)` (0 for an empty span).
fn per_minute(events: &[EventRow], event: &str, a: SimTime, b: SimTime) -> f64 {
    if b <= a {
        return 0.0;
    }
    let n = events
        .iter()
        .filter(|e| e.event == event && e.time >= a && e.time < b)
        .count();
    n as f64 * 60_000.0 / (b.0 - a.0) as f64
}

/// A fault's kind and parameters in one line (`provisioning docker_install p=1`, …).
pub fn describe(f: &FaultSpec) -> String {
    let mut parts: Vec<String> = vec![f.kind.name().to_string()];
    if let Some(st) = f.stage {
        let name = match st {
            FaultStage::Boot => "boot",
            FaultStage::Ssh => "ssh",
            FaultStage::Provision => "provision",
            FaultStage::DockerInstall => "docker_install",
            FaultStage::Certs => "certs",
        };
        parts.push(format!("stage {name}"));
    }
    if let Some(x) = f.factor {
        parts.push(format!("factor {x}"));
    }
    if let Some(c) = &f.code {
        parts.push(format!("code {c}"));
    }
    if let Some(n) = f.instances {
        parts.push(format!("instances {n}"));
    }
    if let Some(n) = f.vcpus {
        parts.push(format!("vcpus {n}"));
    }
    if let Some(d) = f.delay {
        parts.push(format!("delay {d}"));
    }
    if let Some(x) = f.rate_per_hour {
        parts.push(format!("{x}/h"));
    }
    if f.kind != FaultKind::Quota
        && f.kind != FaultKind::RateLimit
        && f.kind != FaultKind::ListingLag
        && let Some(p) = f.probability
    {
        parts.push(format!("probability {p}"));
    }
    let s = &f.scope;
    for (k, v) in [
        ("operation", &s.operation),
        ("zone", &s.zone),
        ("instance type", &s.instance_type),
        ("runner", &s.runner),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k} {v}"));
        }
    }
    parts.join(", ")
}
