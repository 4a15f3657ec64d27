//! A small hand-built run used by the report tests; every figure derived from it is worked
//! out by hand in the tests' comments.
//!
//! Jobs (ms): arrival → picked (queue time) → start → end
//!   1: 0 → 5_000 (5_000) → 6_000 → 66_000 on m1, succeeded
//!   2: 1_000 → 31_000 (30_000) → 32_500 → 92_345 on m2, succeeded
//!   3: 2_000 → 92_345 (90_345) → 93_000 → 95_000 on m1, failed (runner_system_failure)
//!   4: 10_000 → 100_000 (90_000) → 101_000 → (running) on m2
//!   5: 120_000 → (pending), no runner
//!
//! Machines (USD by state: creating, idle, acquired, used, removing, orphaned):
//!   m1: created 0, ready 4_000, removed 150_000, end removed; 0.001 0.002 0.0005 0.004 0.0001 0 = 0.0076
//!   m2: created 1_500, ready 30_000, end `used` at the horizon; 0.003 0 0.0002 0.006 0 0 = 0.0092
//!   m3: created 40_000, never ready, end creation_failed; 0.0015 0 0 0 0 0 = 0.0015
//!   m4: created 50_000, ready 80_000, end orphaned; 0.002 0.001 0 0 0.0005 0.01 = 0.0135
//!
//! Cloud API (AWS names): RunInstances 4 calls (1 throttled), DescribeInstances 20 calls;
//! 3 successful creates → 24 / 3 = 8 calls per successful create.
//! Failed calls: m3's create at 45_000 (RequestLimitExceeded at the create operation,
//! `driver_create`); m1's `rm -y` at 148_000 (removal outage, InternalError) and a `config`
//! at 90_000 (not counted as a creation or removal failure).
//!
//! Fault windows: `capacity` [20_000, 30_000): pending jobs over [0, 20_000) are 1 (0–1 s),
//! 2 (1–2 s), 3 (2–5 s), 2 (5–10 s), 3 (10–20 s) → (1 + 2 + 9 + 10 + 30) / 20 = 2.6; at 30 s
//! 3 pending (jobs 2, 3, 4), at 31 s 2 → recovered at 31_000 (1 s after the end).
//! `quota` from 0 with no end: baseline pending(0) = 1, not ended by the horizon.

use std::collections::BTreeMap;

use crate::sim::records::{
    EventRow, FailureRecord, FaultWindowRecord, Finding, JobOutcome, JobRecord, MachineRecord,
    OperationCount, RunRecords, TimelineRow,
};
use crate::sim::recovery::Recovery;
use crate::time::{SimDuration, SimTime};

fn job(
    id: u64,
    runner: Option<&str>,
    times: (u64, Option<u64>, Option<u64>, Option<u64>),
    machine: Option<&str>,
    outcome: JobOutcome,
    failure_reason: Option<&str>,
) -> JobRecord {
    let (arrival, picked, start, end) = times;
    JobRecord {
        id,
        runner: runner.map(str::to_string),
        arrival: SimTime(arrival),
        picked: picked.map(SimTime),
        start: start.map(SimTime),
        end: end.map(SimTime),
        machine: machine.map(str::to_string),
        outcome,
        failure_reason: failure_reason.map(str::to_string),
    }
}

fn machine(
    name: &str,
    created: u64,
    ready: Option<u64>,
    removed: Option<u64>,
    jobs: u32,
    end_state: &str,
    cost_by_state: [f64; 6],
) -> MachineRecord {
    MachineRecord {
        name: name.to_string(),
        runner: "r1".to_string(),
        created: SimTime(created),
        ready: ready.map(SimTime),
        removed: removed.map(SimTime),
        jobs,
        end_state: end_state.to_string(),
        cost_usd: cost_by_state.iter().sum(),
        cost_by_state,
    }
}

fn event(time: u64, machine: &str, event: &str, reason: &str) -> EventRow {
    EventRow {
        time: SimTime(time),
        runner: "r1".to_string(),
        machine: machine.to_string(),
        event: event.to_string(),
        reason: reason.to_string(),
    }
}

/// The hand-built run described in the module doc.
pub(crate) fn records() -> RunRecords {
    use JobOutcome::*;
    let r1 = Some("r1");
    RunRecords {
        scenario: "analytic".to_string(),
        seed: 42,
        simulated: SimDuration::from_millis(150_000),
        jobs: vec![
            job(
                1,
                r1,
                (0, Some(5_000), Some(6_000), Some(66_000)),
                Some("m1"),
                Succeeded,
                None,
            ),
            job(
                2,
                r1,
                (1_000, Some(31_000), Some(32_500), Some(92_345)),
                Some("m2"),
                Succeeded,
                None,
            ),
            job(
                3,
                r1,
                (2_000, Some(92_345), Some(93_000), Some(95_000)),
                Some("m1"),
                Failed,
                Some("runner_system_failure"),
            ),
            job(
                4,
                r1,
                (10_000, Some(100_000), Some(101_000), None),
                Some("m2"),
                Running,
                None,
            ),
            job(5, None, (120_000, None, None, None), None, Pending, None),
        ],
        machines: vec![
            machine(
                "m1",
                0,
                Some(4_000),
                Some(150_000),
                2,
                "removed",
                [0.001, 0.002, 0.0005, 0.004, 0.0001, 0.0],
            ),
            machine(
                "m2",
                1_500,
                Some(30_000),
                None,
                2,
                "used",
                [0.003, 0.0, 0.0002, 0.006, 0.0, 0.0],
            ),
            machine(
                "m3",
                40_000,
                None,
                None,
                0,
                "creation_failed",
                [0.0015, 0.0, 0.0, 0.0, 0.0, 0.0],
            ),
            machine(
                "m4",
                50_000,
                Some(80_000),
                None,
                0,
                "orphaned",
                [0.002, 0.001, 0.0, 0.0, 0.0005, 0.01],
            ),
        ],
        timeline: vec![
            TimelineRow {
                time: SimTime(0),
                runner: "r1".to_string(),
                creating: 0,
                idle: 1,
                acquired: 0,
                used: 0,
                removing: 0,
                pending_jobs: 1,
            },
            TimelineRow {
                time: SimTime(1_500),
                runner: "r1".to_string(),
                creating: 1,
                idle: 0,
                acquired: 0,
                used: 1,
                removing: 0,
                pending_jobs: 2,
            },
        ],
        events: vec![
            event(0, "", "runner started", ""),
            event(1_500, "m2", "creation started", "too few idle machines"),
            event(
                150_000,
                "m1",
                "removal requested",
                "idle, too many \"idle\"",
            ),
        ],
        peak_by_state: [2, 1, 1, 2, 1],
        peak_total: 3,
        api_calls: BTreeMap::from([
            ("create".to_string(), 4),
            ("rm".to_string(), 2),
            ("config".to_string(), 3),
        ]),
        api_throttled: 1,
        cloud_bill_usd: 0.0318,
        violations: vec![Finding {
            time_ms: 95_000,
            invariant: "every_job_accounted",
            detail: "job 3 ended twice".to_string(),
            quirk: None,
        }],
        quirks: vec![
            Finding {
                time_ms: 40_000,
                invariant: "machines_within_limit",
                detail: "3 machines > limit 2".to_string(),
                quirk: Some("Q10"),
            },
            Finding {
                time_ms: 50_000,
                invariant: "machines_within_limit",
                detail: "4 machines > limit 2".to_string(),
                quirk: Some("Q10"),
            },
            Finding {
                time_ms: 100_000,
                invariant: "acquired_machine_released",
                detail: "long poll holds m2".to_string(),
                quirk: Some("Q6"),
            },
        ],
        warnings: vec!["runners[0]: IdleTime 0 removes idle machines at once".to_string()],
        api_by_operation: BTreeMap::from([
            (
                "DescribeInstances".to_string(),
                OperationCount {
                    calls: 20,
                    throttled: 0,
                },
            ),
            (
                "RunInstances".to_string(),
                OperationCount {
                    calls: 4,
                    throttled: 1,
                },
            ),
        ]),
        successful_creates: 3,
        api_calls_per_successful_create: Some(8.0),
        failures: vec![
            failure(
                45_000,
                "m3",
                "create",
                "rate_limited",
                Some("driver_create"),
                Some("RequestLimitExceeded"),
            ),
            failure(90_000, "m2", "config", "other", None, None),
            failure(148_000, "m1", "rm -y", "other", None, Some("InternalError")),
        ],
        fault_windows: vec![
            FaultWindowRecord {
                kind: "capacity".to_string(),
                detail: "capacity".to_string(),
                from: SimTime(20_000),
                to: Some(SimTime(30_000)),
                baseline_pending: 2.6,
                recovery: Recovery::Recovered(SimTime(31_000)),
                creates_per_minute: 12.0,
                create_failures_per_minute: 6.0,
                baseline_creates_per_minute: 1.5,
            },
            FaultWindowRecord {
                kind: "quota".to_string(),
                detail: "quota, vcpus 4".to_string(),
                from: SimTime(0),
                to: None,
                baseline_pending: 1.0,
                recovery: Recovery::OpenAtEnd,
                creates_per_minute: 0.25,
                create_failures_per_minute: 0.0,
                baseline_creates_per_minute: 0.0,
            },
        ],
    }
}

fn failure(
    time: u64,
    machine: &str,
    command: &str,
    kind: &str,
    stage: Option<&str>,
    code: Option<&str>,
) -> FailureRecord {
    FailureRecord {
        time: SimTime(time),
        runner: "r1".to_string(),
        machine: machine.to_string(),
        command: command.to_string(),
        kind: kind.to_string(),
        stage: stage.map(str::to_string),
        code: code.map(str::to_string),
        message: format!("{command} failed"),
    }
}
