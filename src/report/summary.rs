//! `summary.json`: the run's key figures (issue 4 item 9, DESIGN.md "Outputs of a run"),
//! computed from [`RunRecords`] only.
//!
//! Units: times in **seconds** since the scenario start (millisecond precision), money in
//! **USD**. Floats are serialised deterministically: values are rounded on output only (queue
//! times to the millisecond, money to 1e-6 USD) and written by `serde_json`'s shortest
//! round-trip formatter, so the same records always give the same bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use crate::sim::records::{CostState, Finding, JobOutcome, RunRecords};
use crate::sim::recovery::Recovery;

/// Version of the `summary.json` schema; raised on any breaking change (issue 4 item 9).
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// The invariant whose documented excess paths (spec Q10) are counted as `limit_excess`.
pub const LIMIT_INVARIANT: &str = "machines_within_limit";

/// The run's key figures, serialised as `summary.json` (field order = key order).
///
/// Also `Deserialize`, so a later gate can read a baseline back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Always [`SUMMARY_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Scenario name.
    pub scenario: String,
    /// The seed used.
    pub seed: u64,
    /// Simulated span, seconds (ms precision).
    pub simulated_seconds: f64,
    /// Job counts by outcome.
    pub jobs: JobCounts,
    /// Queue time statistics, seconds.
    pub queue_time_s: QueueTimes,
    /// Machine counts.
    pub machines: MachineCounts,
    /// Cost split by machine state, USD.
    pub cost_usd: CostSplit,
    /// Driver (docker-machine) calls and the cloud API calls behind them.
    pub api: ApiCounts,
    /// Failed creates by stage and cloud error code, and failed removals (issue 5 item 7).
    #[serde(default)]
    pub failures: Failures,
    /// The scenario's fault windows with the pending queue's recovery after each (issue 5
    /// item 7); empty without `[[faults]]`.
    #[serde(default)]
    pub faults: Vec<FaultWindow>,
    /// Count of findings in `quirks` whose invariant is `machines_within_limit` (machines
    /// beyond `limit` through the paths spec Q10 documents; DESIGN.md "Terms").
    pub limit_excess: u64,
    /// Number of invariant violations (`violations.len()`).
    pub invariant_violations: u64,
    /// The violations, in the order the checker reported them.
    pub violations: Vec<SummaryFinding>,
    /// Documented quirks (spec §6) counted, keyed by quirk id (`Q10`, …); a finding without a
    /// quirk id is keyed by its invariant name.
    pub quirks: BTreeMap<String, u64>,
    /// Config and scenario warnings, one line each.
    pub warnings: Vec<String>,
}

/// `jobs.*`: every job is counted in exactly one outcome, so the four parts sum to `total`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    /// All jobs of the run.
    pub total: u64,
    /// Outcome `succeeded`.
    pub succeeded: u64,
    /// Outcome `failed` (e.g. `runner_system_failure`, spec §1.4).
    pub failed: u64,
    /// Outcome `running` at the horizon.
    pub running_at_end: u64,
    /// Outcome `pending` (never picked) at the horizon.
    pub pending_at_end: u64,
}

/// `queue_time_s.*`, seconds, over the jobs the runner picked ([`JobRecord::queue_time`] is
/// `Some`; still-pending jobs are not included).
///
/// Percentiles use the **nearest-rank** method on the sorted queue times: the p-th percentile
/// of n values is the value at 1-based rank `ceil(p/100 · n)` (so p50 of 4 values is the 2nd,
/// p95/p99 of fewer than 20 values are the maximum). Every value is therefore an observed queue
/// time (exact to the ms); `mean` is rounded to the ms on output. When no job was picked, every
/// field is `null`.
///
/// [`JobRecord::queue_time`]: crate::sim::records::JobRecord::queue_time
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueTimes {
    /// Arithmetic mean, seconds.
    #[serde(serialize_with = "ser_opt_ms")]
    pub mean: Option<f64>,
    /// Median (nearest rank), seconds.
    #[serde(serialize_with = "ser_opt_ms")]
    pub p50: Option<f64>,
    /// 95th percentile (nearest rank), seconds.
    #[serde(serialize_with = "ser_opt_ms")]
    pub p95: Option<f64>,
    /// 99th percentile (nearest rank), seconds.
    #[serde(serialize_with = "ser_opt_ms")]
    pub p99: Option<f64>,
    /// Maximum, seconds.
    #[serde(serialize_with = "ser_opt_ms")]
    pub max: Option<f64>,
}

/// `machines.*`: counts over [`RunRecords::machines`] (one record per machine the run saw,
/// pre-existing ones included) and the peaks the simulator tracked.
///
/// Decisions (the spec is silent): `created` counts records whose creation finished (`ready`
/// is set, so adopted pre-existing machines count too); the other counts classify by
/// `MachineRecord::end_state`: `creation_failed`, `removed`, `orphaned`, and `left_running`
/// = any other end state (`left_running` itself, or a core state name such as `idle` at the
/// horizon: the VM still exists and the runner's store still has its entry, DESIGN.md
/// "Terms"). So `creation_failed + removed + left_running + orphaned` = number of records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineCounts {
    /// Records whose creation finished (`ready` is set).
    pub created: u64,
    /// Records with end state `creation_failed`.
    pub creation_failed: u64,
    /// Records with end state `removed` (VM deleted in the cloud).
    pub removed: u64,
    /// Peak of all machines tracked at once (all runners).
    pub peak_total: u64,
    /// Records still in the cloud and in the runner's store at the end.
    pub left_running: u64,
    /// Records with end state `orphaned` (billed, no longer findable by any runner).
    pub orphaned: u64,
    /// Peak count per state over all runners (spec §2.1 states).
    pub peak_by_state: PeakByState,
}

/// `machines.peak_by_state.*`: peak machine count per state (spec §2.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeakByState {
    /// Peak in Creating.
    pub creating: u64,
    /// Peak Idle.
    pub idle: u64,
    /// Peak Acquired.
    pub acquired: u64,
    /// Peak Used.
    pub used: u64,
    /// Peak Removing.
    pub removing: u64,
}

/// `cost_usd.*`, USD: sums over machines of `MachineRecord::cost_by_state`. `total` is the sum
/// of the six parts (summed in machine order, then state order), so the parts sum to the total
/// exactly before rounding; on output every value is rounded to 1e-6 USD independently.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostSplit {
    /// All machine cost.
    #[serde(serialize_with = "ser_usd")]
    pub total: f64,
    /// Cost while Creating.
    #[serde(serialize_with = "ser_usd")]
    pub creating: f64,
    /// Cost while Idle.
    #[serde(serialize_with = "ser_usd")]
    pub idle: f64,
    /// Cost while Acquired.
    #[serde(serialize_with = "ser_usd")]
    pub acquired: f64,
    /// Cost while Used.
    #[serde(serialize_with = "ser_usd")]
    pub used: f64,
    /// Cost while Removing.
    #[serde(serialize_with = "ser_usd")]
    pub removing: f64,
    /// Cost while orphaned (billed but untracked).
    #[serde(serialize_with = "ser_usd")]
    pub orphaned: f64,
}

impl CostSplit {
    /// The part for one state, USD.
    pub fn part(&self, s: CostState) -> f64 {
        match s {
            CostState::Creating => self.creating,
            CostState::Idle => self.idle,
            CostState::Acquired => self.acquired,
            CostState::Used => self.used,
            CostState::Removing => self.removing,
            CostState::Orphaned => self.orphaned,
        }
    }
}

/// `api.*`: driver calls (docker-machine commands) and the cloud API requests behind them
/// (issue 5 item 7; what each command sends comes from the profile's `[api_calls]`,
/// cloud-faults §2, §7 `api.calls_per_create`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiCounts {
    /// All driver calls (sum of `by_command`).
    pub calls: u64,
    /// Cloud API attempts answered with the cloud's throttle error (sum of
    /// `by_operation.*.throttled`; cloud-faults §2).
    pub throttled: u64,
    /// Driver calls per docker-machine command (`create`, `rm`, …), sorted by command.
    pub by_command: BTreeMap<String, u64>,
    /// Cloud API requests per API operation (`RunInstances`, `DescribeInstances`, …), sorted:
    /// `calls` counts every attempt (SDK retries included), `throttled` the attempts answered
    /// with the throttle error. Empty for profiles without `[api_calls]`.
    #[serde(default)]
    pub by_operation: BTreeMap<String, OperationCalls>,
    /// Creates that completed successfully.
    #[serde(default)]
    pub successful_creates: u64,
    /// All cloud API requests of the run (every operation, failed creates, stops, removals and
    /// connectivity checks included) over `successful_creates`, rounded to 0.001; `null`
    /// without a successful create. Compare with cloud-faults §7 `api.calls_per_create`
    /// (create + remove lifecycle) plus `api.calls_per_job` per job.
    #[serde(default, serialize_with = "ser_opt_ms")]
    pub calls_per_successful_create: Option<f64>,
}

/// `api.by_operation.<operation>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationCalls {
    /// Requests sent (attempts).
    pub calls: u64,
    /// Attempts throttled.
    pub throttled: u64,
}

/// `failures.*`: failed `docker-machine create` calls (top level) and failed removals
/// (`removal`), from the fake cloud's log of failed driver calls.
///
/// * `by_kind`: `rate_limited`, `quota`, `insufficient_capacity`, `provisioning`, `timeout`
///   (killed at GitLab Runner's 1 h timeout, spec §3.12), `other`; sums to `total`.
/// * `by_stage`: the `docker-machine create` step that failed (cloud-faults §1.1):
///   `pre_create_check`, `driver_create` (the create API call and the boot until the instance
///   ID is saved), `wait_running`, `ssh`, `provision` (apt, Docker install), `tls_check`
///   (certificates); `unknown` for a create killed at its timeout while not hung in the API
///   call. Sums to `total`.
/// * `by_code`: the cloud error code (`RequestLimitExceeded`, `VcpuLimitExceeded`,
///   `InsufficientInstanceCapacity`, `QUOTA_EXCEEDED`, `ZONE_RESOURCE_POOL_EXHAUSTED`,
///   `too_many_requests`, …, from the profile's `throttle_code`, `vcpus_code`,
///   `instances_code`, `[capacity] code` or an `api_error` fault's `code`). Only failures
///   that were a cloud API answer have one (not SSH/Docker-install/certificate failures nor
///   timeouts), so it may sum to less than `total`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failures {
    /// Failed creates (each one also ends a machine record as `creation_failed`).
    pub total: u64,
    /// By failure class.
    pub by_kind: BTreeMap<String, u64>,
    /// By create step.
    pub by_stage: BTreeMap<String, u64>,
    /// By cloud error code.
    pub by_code: BTreeMap<String, u64>,
    /// Failed removals.
    pub removal: RemovalFailures,
}

/// `failures.removal.*`: failed `stop` (the runner only logs it), failed `rm -y` attempts (the
/// runner retries, spec §3.9), and `rm -f` calls whose delete the cloud refused although the
/// command exited 0 (quirk Q21: the VM stays and is orphaned). Timeouts included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalFailures {
    /// All of them.
    pub total: u64,
    /// By command (`stop`, `rm -y`, `rm -f`).
    pub by_command: BTreeMap<String, u64>,
    /// By cloud error code (only failures with one).
    pub by_code: BTreeMap<String, u64>,
}

/// One `faults[]` entry: a `[[faults]]` window and the recovery of the pending queue after it
/// (definition in [`crate::sim::recovery`]: from the end of the window until pending jobs are
/// back to their time-weighted mean over the hour before the window).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// Fault kind (`provisioning`, `rate_limit`, `quota`, …).
    pub kind: String,
    /// Kind and parameters in one line.
    pub detail: String,
    /// Window start, seconds.
    pub from_s: f64,
    /// Window end, seconds; `null` when the window has no end.
    pub to_s: Option<f64>,
    /// Mean pending jobs over the hour before the window (0.001 precision).
    #[serde(serialize_with = "ser_milli")]
    pub baseline_pending: f64,
    /// Seconds from the window's end until pending jobs were back to the baseline; `null`
    /// when they never were by the horizon or the window had not ended.
    #[serde(serialize_with = "ser_opt_ms")]
    pub recovery_s: Option<f64>,
    /// `recovered`, `not recovered by the horizon`, or `window not ended by the horizon`.
    pub status: String,
    /// Creations started per minute inside the window (the runner's retry churn; 0.001
    /// precision).
    #[serde(default, serialize_with = "ser_milli")]
    pub creates_per_minute: f64,
    /// Failed creates per minute inside the window.
    #[serde(default, serialize_with = "ser_milli")]
    pub create_failures_per_minute: f64,
    /// Creations started per minute over the hour before the window.
    #[serde(default, serialize_with = "ser_milli")]
    pub baseline_creates_per_minute: f64,
}

/// One invariant violation as written in `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryFinding {
    /// When it was detected, seconds since the start (ms precision).
    pub time_s: f64,
    /// The invariant, e.g. `machines_within_limit`.
    pub invariant: String,
    /// What was seen.
    pub detail: String,
}

impl SummaryFinding {
    fn from_finding(f: &Finding) -> Self {
        SummaryFinding {
            time_s: f.time_ms as f64 / 1000.0,
            invariant: f.invariant.to_string(),
            detail: f.detail.clone(),
        }
    }
}

/// Computes the summary of a run (issue 4 item 9). Never fails and never panics: empty records
/// give zero counts and `null` queue times.
pub fn summarize(r: &RunRecords) -> Summary {
    let mut jobs = JobCounts {
        total: r.jobs.len() as u64,
        ..JobCounts::default()
    };
    for j in &r.jobs {
        match j.outcome {
            JobOutcome::Succeeded => jobs.succeeded += 1,
            JobOutcome::Failed => jobs.failed += 1,
            JobOutcome::Running => jobs.running_at_end += 1,
            JobOutcome::Pending => jobs.pending_at_end += 1,
        }
    }

    let sorted = sorted_queue_times_ms(r);
    let secs = |ms: u64| ms as f64 / 1000.0;
    let queue_time_s = QueueTimes {
        mean: mean_ms(&sorted).map(|m| m / 1000.0),
        p50: percentile_ms(&sorted, 50).map(secs),
        p95: percentile_ms(&sorted, 95).map(secs),
        p99: percentile_ms(&sorted, 99).map(secs),
        max: sorted.last().copied().map(secs),
    };

    let mut machines = MachineCounts {
        peak_total: u64::from(r.peak_total),
        peak_by_state: PeakByState {
            creating: u64::from(r.peak_by_state[0]),
            idle: u64::from(r.peak_by_state[1]),
            acquired: u64::from(r.peak_by_state[2]),
            used: u64::from(r.peak_by_state[3]),
            removing: u64::from(r.peak_by_state[4]),
        },
        ..MachineCounts::default()
    };
    let mut parts = [0.0f64; 6];
    for m in &r.machines {
        if m.ready.is_some() {
            machines.created += 1;
        }
        match m.end_state.as_str() {
            "creation_failed" => machines.creation_failed += 1,
            "removed" => machines.removed += 1,
            "orphaned" => machines.orphaned += 1,
            _ => machines.left_running += 1,
        }
        for (acc, c) in parts.iter_mut().zip(m.cost_by_state.iter()) {
            *acc += c;
        }
    }
    let cost_usd = CostSplit {
        total: parts.iter().sum(),
        creating: parts[CostState::Creating.index()],
        idle: parts[CostState::Idle.index()],
        acquired: parts[CostState::Acquired.index()],
        used: parts[CostState::Used.index()],
        removing: parts[CostState::Removing.index()],
        orphaned: parts[CostState::Orphaned.index()],
    };

    let api = ApiCounts {
        calls: r.api_calls.values().sum(),
        throttled: r.api_throttled,
        by_command: r.api_calls.clone(),
        by_operation: r
            .api_by_operation
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    OperationCalls {
                        calls: v.calls,
                        throttled: v.throttled,
                    },
                )
            })
            .collect(),
        successful_creates: r.successful_creates,
        calls_per_successful_create: r.api_calls_per_successful_create,
    };
    let failures = failures(r);
    let faults = r
        .fault_windows
        .iter()
        .map(|w| {
            let (recovery_s, status) = match w.recovery {
                Recovery::Recovered(at) => (
                    w.to.map(|to| at.since(to).as_millis() as f64 / 1000.0),
                    "recovered",
                ),
                Recovery::NotRecovered => (None, "not recovered by the horizon"),
                Recovery::OpenAtEnd => (None, "window not ended by the horizon"),
            };
            FaultWindow {
                kind: w.kind.clone(),
                detail: w.detail.clone(),
                from_s: w.from.as_millis() as f64 / 1000.0,
                to_s: w.to.map(|t| t.as_millis() as f64 / 1000.0),
                baseline_pending: w.baseline_pending,
                recovery_s,
                status: status.to_string(),
                creates_per_minute: w.creates_per_minute,
                create_failures_per_minute: w.create_failures_per_minute,
                baseline_creates_per_minute: w.baseline_creates_per_minute,
            }
        })
        .collect();

    let mut quirks = BTreeMap::new();
    for q in &r.quirks {
        *quirks
            .entry(q.quirk.unwrap_or(q.invariant).to_string())
            .or_insert(0u64) += 1;
    }

    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        scenario: r.scenario.clone(),
        seed: r.seed,
        simulated_seconds: r.simulated.as_millis() as f64 / 1000.0,
        jobs,
        queue_time_s,
        machines,
        cost_usd,
        api,
        failures,
        faults,
        limit_excess: r
            .quirks
            .iter()
            .filter(|q| q.invariant == LIMIT_INVARIANT)
            .count() as u64,
        invariant_violations: r.violations.len() as u64,
        violations: r
            .violations
            .iter()
            .map(SummaryFinding::from_finding)
            .collect(),
        quirks,
        warnings: r.warnings.clone(),
    }
}

/// `failures.*` from the failed driver calls (see [`Failures`]).
fn failures(r: &RunRecords) -> Failures {
    let mut f = Failures::default();
    for x in &r.failures {
        match x.command.as_str() {
            "create" => {
                f.total += 1;
                *f.by_kind.entry(x.kind.clone()).or_default() += 1;
                let stage = x.stage.clone().unwrap_or_else(|| "unknown".to_string());
                *f.by_stage.entry(stage).or_default() += 1;
                if let Some(c) = &x.code {
                    *f.by_code.entry(c.clone()).or_default() += 1;
                }
            }
            "stop" | "rm -y" | "rm -f" => {
                let rm = &mut f.removal;
                rm.total += 1;
                *rm.by_command.entry(x.command.clone()).or_default() += 1;
                if let Some(c) = &x.code {
                    *rm.by_code.entry(c.clone()).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    f
}

/// Queue times (ms) of the picked jobs, ascending.
pub(crate) fn sorted_queue_times_ms(r: &RunRecords) -> Vec<u64> {
    let mut v: Vec<u64> = r
        .jobs
        .iter()
        .filter_map(|j| j.queue_time())
        .map(|d| d.as_millis())
        .collect();
    v.sort_unstable();
    v
}

/// Nearest-rank percentile `p` (1..=100) of ascending `sorted`: the value at 1-based rank
/// `ceil(p·n/100)`; `None` when empty.
pub(crate) fn percentile_ms(sorted: &[u64], p: u64) -> Option<u64> {
    let n = sorted.len() as u64;
    if n == 0 {
        return None;
    }
    let rank = (p * n).div_ceil(100).clamp(1, n);
    sorted.get((rank - 1) as usize).copied()
}

/// Mean in ms (unrounded); `None` when empty.
fn mean_ms(v: &[u64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let sum: u128 = v.iter().map(|&x| u128::from(x)).sum();
    Some(sum as f64 / v.len() as f64)
}

/// Rounds to `1/per_unit` (e.g. `per_unit = 1e6` for 1e-6) and turns `-0.0` into `0.0` (so
/// output bytes do not depend on the sign of a zero). Dividing the rounded integer by the exact
/// power of ten gives the double nearest the decimal, which serialises in its short form.
pub(crate) fn round_to(x: f64, per_unit: f64) -> f64 {
    (x * per_unit).round() / per_unit + 0.0
}

fn ser_usd<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_to(*x, 1e6))
}

fn ser_milli<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_to(*x, 1e3))
}

fn ser_opt_ms<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(v) => s.serialize_some(&round_to(*v, 1e3)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn job_counts_by_outcome() {
        let s = summarize(&fixture::records());
        // Jobs 1, 2 succeeded; 3 failed; 4 running; 5 pending.
        assert_eq!(
            s.jobs,
            JobCounts {
                total: 5,
                succeeded: 2,
                failed: 1,
                running_at_end: 1,
                pending_at_end: 1
            }
        );
    }

    #[test]
    fn queue_times_nearest_rank() {
        let s = summarize(&fixture::records());
        // Picked jobs' queue times, sorted (ms): 5_000, 30_000, 90_000, 90_345 (n = 4).
        // p50: rank ceil(0.50·4) = 2 → 30_000; p95: ceil(3.8) = 4 → 90_345; p99: ceil(3.96) = 4.
        // mean: 215_345 / 4 = 53_836.25 ms = 53.83625 s (53.836 on output).
        let q = &s.queue_time_s;
        assert_eq!(q.p50, Some(30.0));
        assert_eq!(q.p95, Some(90.345));
        assert_eq!(q.p99, Some(90.345));
        assert_eq!(q.max, Some(90.345));
        let mean = q.mean.expect("mean");
        assert!((mean - 53.83625).abs() < 1e-12, "{mean}");
    }

    #[test]
    fn percentile_nearest_rank_cases() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile_ms(&v, 50), Some(50));
        assert_eq!(percentile_ms(&v, 95), Some(95));
        assert_eq!(percentile_ms(&v, 99), Some(99));
        assert_eq!(percentile_ms(&v, 100), Some(100));
        // n = 20: p95 rank ceil(19) = 19, p99 rank ceil(19.8) = 20.
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile_ms(&v, 95), Some(19));
        assert_eq!(percentile_ms(&v, 99), Some(20));
        // One value: every percentile is that value.
        assert_eq!(percentile_ms(&[7], 1), Some(7));
        assert_eq!(percentile_ms(&[7], 99), Some(7));
        assert_eq!(percentile_ms(&[], 50), None);
    }

    #[test]
    fn no_job_picked_gives_null_queue_times() {
        let mut r = fixture::records();
        r.jobs.retain(|j| j.picked.is_none());
        let s = summarize(&r);
        assert_eq!(s.queue_time_s, QueueTimes::default());
        let json = serde_json::to_value(&s).expect("serialise");
        for key in ["mean", "p50", "p95", "p99", "max"] {
            assert!(json["queue_time_s"][key].is_null(), "{key}");
        }
    }

    #[test]
    fn machine_counts_from_end_states() {
        let s = summarize(&fixture::records());
        // created: m1, m2, m4 have `ready`; m3 creation_failed; m1 removed; m2 ends `used`
        // (left running); m4 orphaned. Peaks are copied from the records.
        assert_eq!(
            s.machines,
            MachineCounts {
                created: 3,
                creation_failed: 1,
                removed: 1,
                peak_total: 3,
                left_running: 1,
                orphaned: 1,
                peak_by_state: PeakByState {
                    creating: 2,
                    idle: 1,
                    acquired: 1,
                    used: 2,
                    removing: 1
                },
            }
        );
    }

    #[test]
    fn cost_parts_sum_to_total() {
        let r = fixture::records();
        let c = summarize(&r).cost_usd;
        // creating 0.001 + 0.003 + 0.0015 + 0.002 = 0.0075; idle 0.002 + 0.001 = 0.003;
        // acquired 0.0005 + 0.0002 = 0.0007; used 0.004 + 0.006 = 0.01;
        // removing 0.0001 + 0.0005 = 0.0006; orphaned 0.01; total 0.0318
        // (= m1 0.0076 + m2 0.0092 + m3 0.0015 + m4 0.0135).
        let expect = [0.0075, 0.003, 0.0007, 0.01, 0.0006, 0.01];
        for (s, e) in CostState::ALL.iter().zip(expect) {
            assert!((c.part(*s) - e).abs() < 1e-9, "{s:?}: {}", c.part(*s));
        }
        assert!((c.total - 0.0318).abs() < 1e-9, "{}", c.total);
        let parts: f64 = CostState::ALL.iter().map(|s| c.part(*s)).sum();
        assert!((parts - c.total).abs() < 1e-9);
        let bills: f64 = r.machines.iter().map(|m| m.cost_usd).sum();
        assert!((bills - c.total).abs() < 1e-9);
    }

    #[test]
    fn api_findings_and_warnings() {
        let s = summarize(&fixture::records());
        // calls 4 create + 2 rm + 3 config = 9.
        assert_eq!(s.api.calls, 9);
        assert_eq!(s.api.throttled, 1);
        assert_eq!(s.api.by_command.get("config"), Some(&3));
        // Two Q10 findings on machines_within_limit, one Q6 on another invariant.
        assert_eq!(s.limit_excess, 2);
        assert_eq!(
            s.quirks,
            BTreeMap::from([("Q10".to_string(), 2), ("Q6".to_string(), 1)])
        );
        assert_eq!(s.invariant_violations, 1);
        assert_eq!(s.violations[0].time_s, 95.0);
        assert_eq!(s.violations[0].invariant, "every_job_accounted");
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(s.schema_version, SUMMARY_SCHEMA_VERSION);
        assert_eq!(s.simulated_seconds, 150.0);
    }

    #[test]
    fn summary_json_exact() {
        let s = summarize(&fixture::records());
        let json = serde_json::to_string_pretty(&s).expect("serialise");
        // Rounded on output: mean 53.83625 → 53.836; costs to 1e-6 (short forms).
        let expected = r#"{
  "schema_version": 1,
  "scenario": "analytic",
  "seed": 42,
  "simulated_seconds": 150.0,
  "jobs": {
    "total": 5,
    "succeeded": 2,
    "failed": 1,
    "running_at_end": 1,
    "pending_at_end": 1
  },
  "queue_time_s": {
    "mean": 53.836,
    "p50": 30.0,
    "p95": 90.345,
    "p99": 90.345,
    "max": 90.345
  },
  "machines": {
    "created": 3,
    "creation_failed": 1,
    "removed": 1,
    "peak_total": 3,
    "left_running": 1,
    "orphaned": 1,
    "peak_by_state": {
      "creating": 2,
      "idle": 1,
      "acquired": 1,
      "used": 2,
      "removing": 1
    }
  },
  "cost_usd": {
    "total": 0.0318,
    "creating": 0.0075,
    "idle": 0.003,
    "acquired": 0.0007,
    "used": 0.01,
    "removing": 0.0006,
    "orphaned": 0.01
  },
  "api": {
    "calls": 9,
    "throttled": 1,
    "by_command": {
      "config": 3,
      "create": 4,
      "rm": 2
    },
    "by_operation": {
      "DescribeInstances": {
        "calls": 20,
        "throttled": 0
      },
      "RunInstances": {
        "calls": 4,
        "throttled": 1
      }
    },
    "successful_creates": 3,
    "calls_per_successful_create": 8.0
  },
  "failures": {
    "total": 1,
    "by_kind": {
      "rate_limited": 1
    },
    "by_stage": {
      "driver_create": 1
    },
    "by_code": {
      "RequestLimitExceeded": 1
    },
    "removal": {
      "total": 1,
      "by_command": {
        "rm -y": 1
      },
      "by_code": {
        "InternalError": 1
      }
    }
  },
  "faults": [
    {
      "kind": "capacity",
      "detail": "capacity",
      "from_s": 20.0,
      "to_s": 30.0,
      "baseline_pending": 2.6,
      "recovery_s": 1.0,
      "status": "recovered",
      "creates_per_minute": 12.0,
      "create_failures_per_minute": 6.0,
      "baseline_creates_per_minute": 1.5
    },
    {
      "kind": "quota",
      "detail": "quota, vcpus 4",
      "from_s": 0.0,
      "to_s": null,
      "baseline_pending": 1.0,
      "recovery_s": null,
      "status": "window not ended by the horizon",
      "creates_per_minute": 0.25,
      "create_failures_per_minute": 0.0,
      "baseline_creates_per_minute": 0.0
    }
  ],
  "limit_excess": 2,
  "invariant_violations": 1,
  "violations": [
    {
      "time_s": 95.0,
      "invariant": "every_job_accounted",
      "detail": "job 3 ended twice"
    }
  ],
  "quirks": {
    "Q10": 2,
    "Q6": 1
  },
  "warnings": [
    "runners[0]: IdleTime 0 removes idle machines at once"
  ]
}"#;
        assert_eq!(json, expected);
    }

    #[test]
    fn failures_split_creation_and_removal() {
        let f = summarize(&fixture::records()).failures;
        // m3's create (rate limited at the create operation) is the only creation failure;
        // m1's rm -y the only removal failure; the config failure is in neither.
        assert_eq!(f.total, 1);
        assert_eq!(
            f.by_stage,
            BTreeMap::from([("driver_create".to_string(), 1)])
        );
        assert_eq!(f.by_kind, BTreeMap::from([("rate_limited".to_string(), 1)]));
        assert_eq!(
            f.by_code,
            BTreeMap::from([("RequestLimitExceeded".to_string(), 1)])
        );
        assert_eq!(f.removal.total, 1);
        assert_eq!(
            f.removal.by_command,
            BTreeMap::from([("rm -y".to_string(), 1)])
        );
    }

    #[test]
    fn fixture_fault_windows_match_the_recovery_definition() {
        // The fixture's hand-computed baseline and recovery (module doc of `fixture`) are what
        // `sim::recovery` computes from its jobs.
        let r = fixture::records();
        let steps = crate::sim::recovery::pending_steps(&r.jobs);
        let end = crate::time::SimTime(r.simulated.as_millis());
        for w in &r.fault_windows {
            let (b, rec) = crate::sim::recovery::fault_recovery(&steps, w.from, w.to, end);
            assert!((b - w.baseline_pending).abs() < 1e-12, "{}: {b}", w.kind);
            assert_eq!(rec, w.recovery, "{}", w.kind);
        }
    }

    #[test]
    fn old_summaries_without_fault_keys_still_read() {
        let mut v = serde_json::to_value(summarize(&fixture::records())).expect("serialise");
        let o = v.as_object_mut().expect("object");
        o.remove("failures");
        o.remove("faults");
        let api = o["api"].as_object_mut().expect("api");
        for k in [
            "by_operation",
            "successful_creates",
            "calls_per_successful_create",
        ] {
            api.remove(k);
        }
        let s: Summary = serde_json::from_value(v).expect("read back");
        assert_eq!(s.failures, Failures::default());
        assert!(s.faults.is_empty());
        assert_eq!(s.api.calls_per_successful_create, None);
    }

    #[test]
    fn rounding_is_short_and_sign_free() {
        assert_eq!(round_to(-0.0, 1e6).to_string(), "0");
        assert_eq!(round_to(-1e-9, 1e6).to_string(), "0");
        assert_eq!(round_to(0.1 + 0.2, 1e6).to_string(), "0.3");
        assert_eq!(round_to(1.2345675, 1e6), 1.234568);
    }

    #[test]
    fn empty_records_do_not_panic() {
        let s = summarize(&RunRecords::default());
        assert_eq!(s.jobs.total, 0);
        assert_eq!(s.cost_usd.total, 0.0);
        assert!(serde_json::to_string(&s).is_ok());
    }
}
