//! What a simulation run records (DESIGN.md principle 5, "Outputs of a run"): a lifecycle
//! record per job and per machine, a timeline of machine counts, the decision log, and the
//! invariant checker's findings. Reports are built from these records only.
//!
//! Times are [`SimTime`] (ms since the scenario start); money is USD.

use serde::Serialize;

use crate::time::{SimDuration, SimTime};

/// How a job ended (or where it stood at the horizon).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// Ran to the end.
    Succeeded,
    /// Failed (see [`JobRecord::failure_reason`]).
    Failed,
    /// Still running at the end of the simulation.
    Running,
    /// Still pending (never started) at the end.
    Pending,
}

impl JobOutcome {
    /// The CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Succeeded => "succeeded",
            JobOutcome::Failed => "failed",
            JobOutcome::Running => "running",
            JobOutcome::Pending => "pending",
        }
    }
}

/// One job's lifecycle.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    /// Job id (1-based, arrival order).
    pub id: u64,
    /// The runner that took it (id), or the runner it was restricted to while pending.
    pub runner: Option<String>,
    /// Arrival (the job becomes pending).
    pub arrival: SimTime,
    /// When the runner received it (end of queue time), if it did.
    pub picked: Option<SimTime>,
    /// When its script started on a machine.
    pub start: Option<SimTime>,
    /// When it ended (succeeded or failed).
    pub end: Option<SimTime>,
    /// The machine it ran on.
    pub machine: Option<String>,
    /// Outcome.
    pub outcome: JobOutcome,
    /// GitLab's failure reason (`runner_system_failure`, …) when failed.
    pub failure_reason: Option<String>,
}

impl JobRecord {
    /// Queue time: from arrival until the runner received the job (GitLab's "queued
    /// duration"); `None` while pending.
    pub fn queue_time(&self) -> Option<SimDuration> {
        self.picked.map(|p| p.since(self.arrival))
    }
}

/// Machine states as counted for cost and the timeline (spec §2.1; `orphaned` = billed in the
/// cloud while no runner can find it, DESIGN.md "Terms").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostState {
    /// Creating (booting, provisioning).
    Creating,
    /// Idle.
    Idle,
    /// Acquired (held for a job request).
    Acquired,
    /// Used (running a job).
    Used,
    /// Removing (including stuck removals).
    Removing,
    /// No longer tracked by the runner but still billed.
    Orphaned,
}

impl CostState {
    /// All states in report order.
    pub const ALL: [CostState; 6] = [
        CostState::Creating,
        CostState::Idle,
        CostState::Acquired,
        CostState::Used,
        CostState::Removing,
        CostState::Orphaned,
    ];

    /// Index into per-state arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The report spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CostState::Creating => "creating",
            CostState::Idle => "idle",
            CostState::Acquired => "acquired",
            CostState::Used => "used",
            CostState::Removing => "removing",
            CostState::Orphaned => "orphaned",
        }
    }
}

/// One machine's lifecycle as the cloud and the runner saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineRecord {
    /// Machine name.
    pub name: String,
    /// The runner (id) that created or adopted it.
    pub runner: String,
    /// When it started to exist (create call start; for pre-existing machines the scenario
    /// start, since only the simulated span is billed).
    pub created: SimTime,
    /// When creation finished successfully.
    pub ready: Option<SimTime>,
    /// When its VM was deleted in the cloud.
    pub removed: Option<SimTime>,
    /// Jobs that ran on it.
    pub jobs: u32,
    /// Where it ended: `removed`, `creation_failed`, `left_running` (still in the cloud and the
    /// store at the end), `orphaned` (billed, untracked), or a core state name at the horizon.
    pub end_state: String,
    /// Its bill, USD.
    pub cost_usd: f64,
    /// Its bill split by the state the runner had it in (sums to `cost_usd`).
    pub cost_by_state: [f64; 6],
}

/// Machine counts of one runner after a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineRow {
    /// When.
    pub time: SimTime,
    /// The runner id.
    pub runner: String,
    /// Machines in Creating.
    pub creating: u32,
    /// Machines Idle.
    pub idle: u32,
    /// Machines Acquired.
    pub acquired: u32,
    /// Machines Used.
    pub used: u32,
    /// Machines Removing.
    pub removing: u32,
    /// Jobs pending that this runner may take.
    pub pending_jobs: u32,
}

/// One logged decision (events.csv).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// When.
    pub time: SimTime,
    /// The runner, if any.
    pub runner: String,
    /// The machine, if any.
    pub machine: String,
    /// What happened (`creation started`, `removal requested`, `job started`, …).
    pub event: String,
    /// The reason or detail in GitLab Runner's words (`too many idle machines`, …).
    pub reason: String,
}

/// A breach of an invariant (or a documented quirk counted instead, see [`Finding::quirk`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// When it was detected (ms since start).
    pub time_ms: u64,
    /// The invariant, e.g. `machines_within_limit`.
    pub invariant: &'static str,
    /// What was seen.
    pub detail: String,
    /// `Some(Qn)` when this is GitLab Runner's documented behaviour (spec §6), counted but not
    /// a violation.
    pub quirk: Option<&'static str>,
}

/// Cloud API calls of one operation (issue 5 item 7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OperationCount {
    /// Requests sent (every attempt, SDK retries and throttled ones included).
    pub calls: u64,
    /// Attempts answered with the cloud's throttle error.
    pub throttled: u64,
}

/// A driver call that failed, as the runner saw it (from the fake cloud's log,
/// [`crate::fake_cloud::FakeCloud::failures`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FailureRecord {
    /// When the command ended (or was killed at its timeout).
    pub time: SimTime,
    /// The runner id.
    pub runner: String,
    /// The machine.
    pub machine: String,
    /// The docker-machine command (`create`, `stop`, `rm -y`, `rm -f`, `config`, `url`).
    pub command: String,
    /// The failure class ([`crate::cloud::DriverErrorKind::key`]: `rate_limited`, `quota`,
    /// `insufficient_capacity`, `provisioning`, `timeout`, …).
    pub kind: String,
    /// The create step that failed ([`crate::cloud::ProvisioningStage::key`]), when known.
    pub stage: Option<String>,
    /// The cloud error code (`RequestLimitExceeded`, `QUOTA_EXCEEDED`, …), when the failure
    /// was a cloud API answer.
    pub code: Option<String>,
    /// The message GitLab Runner logged.
    pub message: String,
}

/// One `[[faults]]` window and the queue's recovery after it ([`crate::sim::recovery`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultWindowRecord {
    /// The fault kind (`provisioning`, `rate_limit`, …).
    pub kind: String,
    /// A short description of the fault (stage, factor, quota, scope).
    pub detail: String,
    /// Window start.
    pub from: SimTime,
    /// Window end, `None` when the window has no end.
    pub to: Option<SimTime>,
    /// Mean pending jobs over the hour before `from` (time-weighted).
    pub baseline_pending: f64,
    /// Recovery after `to`.
    pub recovery: crate::sim::recovery::Recovery,
    /// Creations started per minute inside the window (up to the horizon): the runner's
    /// retry churn (spec §3.10: no backoff).
    pub creates_per_minute: f64,
    /// Failed creates per minute inside the window.
    pub create_failures_per_minute: f64,
    /// Creations started per minute over the hour before the window (`0` for a window at 0).
    pub baseline_creates_per_minute: f64,
}

/// Everything a run produced.
#[derive(Clone, Debug, Default)]
pub struct RunRecords {
    /// Scenario name.
    pub scenario: String,
    /// The seed used.
    pub seed: u64,
    /// Simulated span.
    pub simulated: SimDuration,
    /// Jobs in id order.
    pub jobs: Vec<JobRecord>,
    /// Machines in creation order.
    pub machines: Vec<MachineRecord>,
    /// Timeline rows in time order.
    pub timeline: Vec<TimelineRow>,
    /// Decision log in time order.
    pub events: Vec<EventRow>,
    /// Peak count per state over all runners (creating, idle, acquired, used, removing).
    pub peak_by_state: [u32; 5],
    /// Peak of all machines tracked at once.
    pub peak_total: u32,
    /// Driver (API) calls made, by docker-machine command.
    pub api_calls: std::collections::BTreeMap<String, u64>,
    /// Calls answered with a rate-limit error.
    pub api_throttled: u64,
    /// Cloud API requests and throttled attempts by API operation (`RunInstances`,
    /// `DescribeInstances`, …; [`crate::fake_cloud::FakeCloud::api_calls_by_operation`]).
    pub api_by_operation: std::collections::BTreeMap<String, OperationCount>,
    /// Creates that completed successfully in the cloud.
    pub successful_creates: u64,
    /// All cloud API requests over successful creates
    /// ([`crate::fake_cloud::FakeCloud::api_calls_per_successful_create`]); `None` before the
    /// first success.
    pub api_calls_per_successful_create: Option<f64>,
    /// Failed driver calls in time order.
    pub failures: Vec<FailureRecord>,
    /// The scenario's fault windows in scenario order, with the recovery after each.
    pub fault_windows: Vec<FaultWindowRecord>,
    /// The fake cloud's own total bill, USD (the invariant checker compares it with the sum
    /// over machines).
    pub cloud_bill_usd: f64,
    /// Invariant violations.
    pub violations: Vec<Finding>,
    /// Documented excess paths and quirks, counted (spec Q10 etc.).
    pub quirks: Vec<Finding>,
    /// Config and scenario warnings (one line each).
    pub warnings: Vec<String>,
}
