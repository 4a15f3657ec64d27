//! The decision log (DESIGN.md principle 5): every decision of the core with GitLab Runner's
//! reason strings, drained with [`super::Core::poll_event`].

use std::fmt;

use crate::cloud::CallId;
use crate::time::SimTime;

use super::machine::MachineState;

/// One logged decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When (virtual ms).
    pub at: SimTime,
    /// The runner concerned, when known.
    pub runner: Option<String>,
    /// The machine concerned, when any.
    pub machine: Option<String>,
    /// What happened.
    pub kind: EventKind,
}

/// What happened. `Display` gives GitLab Runner's log message where it has one.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// A listed name without a record was adopted: Idle, UsedCount 1 (spec §2.4).
    Adopted,
    /// An Acquire waits for the provider-wide acquire lock (spec §3.4 step 2).
    AcquireQueued,
    /// Acquire's outcome (spec §3.4).
    AcquireResult {
        /// `machine <name>`, `nothing`, or the error text.
        outcome: String,
    },
    /// The update pass decided to remove a machine, or another path requested a removal
    /// ("Requesting machine removal", spec §3.8, §3.9).
    RemovalRequested {
        /// The reason string (spec §3.8, §3.9, §3.11).
        reason: String,
    },
    /// create() made a new record in Creating (spec §2.3).
    CreationStarted {
        /// The target state after a successful create.
        target: MachineState,
        /// Started by Use's create-and-wait rather than Acquire's background creation.
        on_demand: bool,
    },
    /// The creation waits on the growth semaphore (spec §3.7; forever when MaxGrowthRate < 0,
    /// §0 W1).
    WaitingForGrowthCapacity {
        /// Creations of this runner in the driver now.
        growing: i64,
        /// `MaxGrowthRate` read at this create call.
        max_growth_rate: i64,
    },
    /// The driver create finished successfully (spec §2.3).
    Created {
        /// Time in the driver, ms (the creation histogram's value).
        duration_ms: u64,
    },
    /// "Machine creation failed" (spec §3.10).
    CreationFailed {
        /// The driver's error.
        error: String,
    },
    /// A CanConnect (`docker-machine config`) check failed (spec §3.4 step 6, §3.6).
    CannotConnect,
    /// "Skipping machine removal, because it doesn't exist" (spec §3.9 step 1).
    RemovalSkipped,
    /// A stuck removal waits for the provider-wide stuck-removal lock (spec §3.9 step 2).
    WaitingForStuckLock,
    /// "Error while stopping machine" (spec §3.9 step 3; only logged).
    StopFailed {
        /// The driver's error.
        error: String,
    },
    /// A `docker-machine rm -y` attempt failed; the removal sleeps 30 s (spec §3.9 step 4).
    RemoveAttemptFailed {
        /// 1-based attempt number.
        attempt: u32,
        /// RetryCount after this failure.
        retry_count: u32,
        /// The driver's error.
        error: String,
    },
    /// "Giving up on machine removal. The remote VM may be orphaned." (spec §3.9).
    GaveUp,
    /// The give-up `rm -f` failed (only logged; the directory may stay and be re-adopted, Q12).
    ForceRemoveFailed {
        /// The driver's error.
        error: String,
    },
    /// The record was deleted and the `removed` counter raised (spec §3.9).
    Removed {
        /// Whether this removal gave up (the VM may be orphaned).
        gave_up: bool,
    },
    /// Use's outcome for one useMachine attempt that failed (spec §3.6 step 2).
    UseAttemptFailed {
        /// 1-based attempt (of 3).
        attempt: u32,
        /// The error.
        error: String,
    },
    /// The machine is Used (spec §3.6 step 5).
    Used {
        /// Obtained inside Use (new data) rather than from Acquire.
        new_data: bool,
    },
    /// Use failed (spec §3.6).
    UseFailed {
        /// The error.
        error: String,
    },
    /// Release (spec §3.11): back to Idle.
    Released,
    /// Release for a runner unknown to this core: ignored (case 74).
    ReleaseIgnored,
    /// Release named a machine without a record: no record is made, but the available
    /// counter +1 and the wake-up happen as in GitLab Runner (spec §3.11).
    ReleasedUnknown,
    /// Release named a machine that is neither Acquired nor Used: an Idle one goes through
    /// Release's steps (stays Idle, or MaxBuilds removes it), a Creating or Removing one keeps
    /// its state; the available counter +1 and the wake-up happen unless removed (spec §3.11).
    ReleasedNotHeld,
    /// A driver call reached its timeout and was given up (spec §3.12).
    CallTimedOut {
        /// The call.
        call: CallId,
        /// Its command.
        command: &'static str,
    },
    /// The on-demand waiter that started this machine's creation no longer waits for it (it
    /// took another machine, or its attempt failed): if the creation succeeds the machine is
    /// an extra Idle one (spec §6 Q24, §3.6).
    CreationLeftByWaiter,
    /// A completion for a call the core no longer waits for (timed out, or unknown): ignored.
    LateCompletion {
        /// The call.
        call: CallId,
    },
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Adopted => {
                f.write_str("machine found on disk: adopted as Idle, UsedCount 1")
            }
            EventKind::AcquireQueued => f.write_str("waiting for the acquire lock"),
            EventKind::AcquireResult { outcome } => write!(f, "acquire: {outcome}"),
            EventKind::RemovalRequested { reason } => {
                write!(f, "Requesting machine removal reason={reason:?}")
            }
            EventKind::CreationStarted { target, on_demand } => write!(
                f,
                "creating machine (target {target}, {})",
                if *on_demand { "on demand" } else { "idle" }
            ),
            EventKind::WaitingForGrowthCapacity {
                growing,
                max_growth_rate,
            } => write!(
                f,
                "waiting for growth capacity ({growing} growing, MaxGrowthRate {max_growth_rate})"
            ),
            EventKind::Created { duration_ms } => {
                write!(
                    f,
                    "Machine created duration={}",
                    crate::time::format_duration_ms(*duration_ms)
                )
            }
            EventKind::CreationFailed { error } => {
                write!(f, "Machine creation failed error={error:?}")
            }
            EventKind::CannotConnect => f.write_str("machine is unavailable (config failed)"),
            EventKind::RemovalSkipped => {
                f.write_str("Skipping machine removal, because it doesn't exist")
            }
            EventKind::WaitingForStuckLock => f.write_str("waiting for the stuck-removal lock"),
            EventKind::StopFailed { error } => {
                write!(f, "Error while stopping machine error={error:?}")
            }
            EventKind::RemoveAttemptFailed {
                attempt,
                retry_count,
                error,
            } => write!(
                f,
                "Error while removing machine attempt={attempt} retries={retry_count} error={error:?}"
            ),
            EventKind::GaveUp => {
                f.write_str("Giving up on machine removal. The remote VM may be orphaned.")
            }
            EventKind::ForceRemoveFailed { error } => {
                write!(f, "Error while force-removing machine error={error:?}")
            }
            EventKind::Removed { gave_up } => {
                write!(f, "Machine removed gave_up={gave_up}")
            }
            EventKind::UseAttemptFailed { attempt, error } => {
                write!(f, "useMachine attempt {attempt} failed: {error}")
            }
            EventKind::Used { new_data } => write!(f, "machine used (new data: {new_data})"),
            EventKind::UseFailed { error } => write!(f, "use failed: {error}"),
            EventKind::Released => f.write_str("machine released"),
            EventKind::ReleaseIgnored => f.write_str("release for an unknown runner ignored"),
            EventKind::ReleasedUnknown => {
                f.write_str("release of a machine without a record: available +1, wake-up")
            }
            EventKind::ReleasedNotHeld => {
                f.write_str("release of a machine not held (Idle, Creating or Removing)")
            }
            EventKind::CallTimedOut { call, command } => {
                write!(f, "docker-machine {command} ({call}) timed out: killed")
            }
            EventKind::CreationLeftByWaiter => f.write_str(
                "the on-demand waiter no longer waits for this creation: an extra machine if it succeeds",
            ),
            EventKind::LateCompletion { call } => {
                write!(f, "completion of {call} ignored (no longer awaited)")
            }
        }
    }
}
