//! The core's public inputs and outputs (DESIGN.md "The core contract").

use std::fmt;

use crate::cloud::{CallId, DriverCall};

/// Identifies one request of the runner manager (Acquire or Use); chosen by the manager and
/// echoed in the reply. The core does not require uniqueness, but replies are only useful if
/// it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Something that happened to the core, stamped with `now` by [`super::Core::handle`].
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// `Acquire` for runner `runner` (its [`crate::config::RunnerConfig::id`]), before a job
    /// request (spec §3.4). Answered by [`Action::AcquireDone`], possibly later: the acquire
    /// lock is provider-wide and find-free may wait for a `config` (CanConnect) call.
    Acquire {
        /// Echoed in the reply.
        request: RequestId,
        /// The runner's id.
        runner: String,
    },
    /// `Use` once a job was received (spec §3.6): `acquired` is the machine Acquire returned,
    /// if any. Answered by [`Action::UseDone`].
    Use {
        /// Echoed in the reply.
        request: RequestId,
        /// The runner's id.
        runner: String,
        /// The machine from Acquire (`None` when Acquire returned nothing).
        acquired: Option<String>,
    },
    /// `Release` of a machine (spec §3.11): by the worker for the machine from Acquire after
    /// the job (or when no job came), and by the executor's Cleanup for a machine Use returned
    /// as new data. No reply; takes effect at once.
    Release {
        /// The runner's id (for `MaxBuilds` and the coordinator).
        runner: String,
        /// The machine name.
        machine: String,
    },
    /// A driver call finished (successfully or not).
    DriverDone(crate::cloud::Completion),
    /// The provider's Shutdown is entered at `now` (spec §4.1: after all workers stopped,
    /// SIGQUIT or SIGTERM/SIGINT). `drain` is the global `[machine.shutdown_drain]` table as
    /// loaded (`None` when absent) and `budget` the drain context's timeout, the effective
    /// `shutdown_timeout` (≤ 0 → 30 s, spec §1.4); see [`Input::shutdown_for`].
    ///
    /// No reply action: poll [`super::Core::shutdown_status`] to learn when Shutdown returned
    /// (at once when the drain is absent or disabled, spec §4.2) and the drain summary; the
    /// drain's log comes from [`super::Core::poll_drain_event`]. From now on the core starts
    /// no creation and refuses Acquire and Use (spec §4.3, module [`super::drain`]).
    Shutdown {
        /// `[machine.shutdown_drain]`, raw (the core applies its `effective_*` defaults).
        drain: Option<crate::config::ShutdownDrain>,
        /// The drain budget (`shutdown_timeout`), ms resolution.
        budget: crate::time::SimDuration,
    },
}

impl Input {
    /// The [`Input::Shutdown`] of a loaded config: its `[machine.shutdown_drain]` and its
    /// effective `shutdown_timeout` in seconds (spec §1.4, §4.3).
    pub fn shutdown_for(config: &crate::config::Config) -> Input {
        let secs = u64::try_from(config.effective_shutdown_timeout_secs()).unwrap_or(30);
        Input::Shutdown {
            drain: config.shutdown_drain.clone(),
            budget: crate::time::SimDuration::from_secs(secs),
        }
    }
}

/// Acquire's failures (spec §3.4 steps 1, 3, 7).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AcquireError {
    /// `[runners.machine]` missing or `MachineName` empty (spec §3.4 step 1).
    #[error("missing Machine options")]
    MissingMachineOptions,
    /// NoFreeExecutorError (spec §3.4 step 7): the worker does not request a job.
    #[error("no free machines that can process builds")]
    NoFreeMachines,
    /// The machine store could not be listed (spec §3.4 step 3).
    #[error("{0}")]
    List(String),
    /// The request names no runner of this core (a simrun usage error, not GitLab behaviour).
    #[error("unknown runner {0:?}")]
    UnknownRunner(String),
    /// The request came after [`Input::Shutdown`] (a simrun usage error: GitLab Runner has no
    /// worker left then, spec §4.1; the last Acquires of §0 M17 come before Shutdown).
    #[error("the machine provider is shutting down")]
    ShuttingDown,
}

/// What Acquire gives the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// A machine, now Acquired: the worker requests a job and Releases it afterwards.
    Machine(String),
    /// Nothing and no error: the worker requests a job and the machine is obtained in Use
    /// (spec §3.4 step 7, first and third cases).
    Nothing,
}

/// A machine Use hands to the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsedMachine {
    /// The machine, now Used.
    pub machine: String,
    /// True when it is not the machine from Acquire but one obtained in Use ("new data",
    /// spec §3.6 step 3): the executor must Release it in Cleanup.
    pub new_data: bool,
}

/// Use's failures (spec §3.6).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UseError {
    /// `[runners.machine]` missing or `MachineName` empty.
    #[error("missing Machine options")]
    MissingMachineOptions,
    /// The request names no runner of this core.
    #[error("unknown runner {0:?}")]
    UnknownRunner(String),
    /// All three useMachine attempts failed; the last error (spec §3.6 step 2).
    #[error("{0}")]
    Machine(String),
    /// Getting credentials failed (spec §3.6 step 4).
    #[error("{0}")]
    Credentials(String),
    /// The request came after [`Input::Shutdown`] (a simrun usage error, spec §4.1).
    #[error("the machine provider is shutting down")]
    ShuttingDown,
}

/// Something the core wants its owner to do or know.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Run this docker-machine command and report its [`crate::cloud::Completion`] (or never,
    /// and the core's timeout fires, spec §3.12).
    Call(DriverCall),
    /// The core stopped waiting for this call at its timeout (GitLab Runner kills the process):
    /// a completion that arrives later is ignored. The owner may model the kill.
    Kill(CallId),
    /// The answer to [`Input::Acquire`].
    AcquireDone {
        /// The request.
        request: RequestId,
        /// The runner.
        runner: String,
        /// The outcome.
        result: Result<Acquired, AcquireError>,
    },
    /// The answer to [`Input::Use`].
    UseDone {
        /// The request.
        request: RequestId,
        /// The runner.
        runner: String,
        /// The outcome.
        result: Result<UsedMachine, UseError>,
    },
}

impl fmt::Display for Acquired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Acquired::Machine(m) => write!(f, "machine {m}"),
            Acquired::Nothing => f.write_str("nothing"),
        }
    }
}
