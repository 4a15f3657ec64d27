//! Provider Shutdown and the shutdown drain (spec §4.2, §4.3, §4.4; §0 M8, M17, U1; quirks Q20,
//! Q21).
//!
//! [`super::Input::Shutdown`] enters the provider's Shutdown at `now` with the `shutdown_timeout`
//! budget. Without `[machine.shutdown_drain]`, or with `enabled = false`, it returns at once
//! (spec §4.2: idle machines stay in the cloud, removals in flight are lost at exit, Q21).
//! With the drain enabled it follows spec §4.3 step by step:
//!
//! | GitLab Runner (Go) | here |
//! |---|---|
//! | `collectAllMachines` (a map iteration) | a snapshot of every record, shuffled with the core's `"map-order"` stream |
//! | semaphore of `concurrency` slots | at most `concurrency` drain tasks |
//! | `select` on a free slot vs the context | U1: when both are ready, a draw from the `"drain"` stream |
//! | a record's `inFlight` channel | a per-record signal set by each create and removal operation and fired when it ends |
//! | `select` on the signal (or backoff timer) vs the context | the same: a draw from `"drain"` when both are ready at one instant |
//! | `docker-machine inspect` under the drain context | an `inspect` call, killed when the budget expires (then "does not exist", M8) |
//! | `docker-machine rm -f` | an `rm -f` call that runs to completion (see below) |
//! | `time.After(retry_backoff × k)` | a [`super::timers::Timer::DrainBackoff`] |
//!
//! Decisions where the spec is silent (documented for the report):
//! * `rm -f` is not bound to the drain budget: a force-removal running when the budget expires
//!   completes; if it fails, the backoff wait then sees the ended context → failed.
//! * An `inspect` running when the budget expires is killed ([`super::Action::Kill`]) and
//!   reads "does not exist" (M8): the machine counts as removed and its VM is orphaned.
//! * `retry_backoff` is in nanoseconds (M15); waits are rounded **up** to whole milliseconds,
//!   the core's time resolution (`5` ns → 1 ms).
//! * After Shutdown the core starts no creation: Acquire and Use answer
//!   [`super::AcquireError::ShuttingDown`] / [`super::UseError::ShuttingDown`] (in GitLab Runner
//!   no worker is left when Shutdown runs, spec §4.1; the Acquire of M17 happens before it, so a
//!   manager must send it before Shutdown). A Use already running fails its later create
//!   attempts. Creations already queued on the growth semaphore still reach the driver (their
//!   goroutines keep running in GitLab Runner); Release keeps working.
//! * A second Shutdown is ignored (logged).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use rand::RngCore;

use crate::cloud::{CallId, CallKind, DriverError};
use crate::config::ShutdownDrain;
use crate::time::{SimDuration, SimTime};

use super::api::Action;
use super::core::{Core, Owner};
use super::events::EventKind;
use super::machine::MachineState;
use super::metrics::ActionLabel;
use super::timers::{Timer, TimerKey};

/// The removal reason the drain writes into a record (spec §4.3 step 4c).
pub const REASON_SHUTDOWN_DRAIN: &str = "shutdown drain";

/// A `shutdown_timeout` under this logs a warning when the drain runs (spec §4.3 step 1).
pub const SHORT_SHUTDOWN_TIMEOUT: SimDuration = SimDuration::from_mins(5);

/// The drain's final counts, logged when Shutdown returns (spec §4.3 step 3, Q20).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrainSummary {
    /// Machines removed (by the drain, by an in-flight removal that finished, or counted as
    /// removed after the deadline, M8).
    pub success: u64,
    /// Machines that were started and not removed.
    pub failed: u64,
    /// The snapshot size, **including** machines never attempted after cancellation (Q20):
    /// `success + failed ≤ total`.
    pub total: u64,
}

impl fmt::Display for DrainSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "success={} failed={} total={}",
            self.success, self.failed, self.total
        )
    }
}

/// Where the provider's Shutdown is (see [`Core::shutdown_status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownStatus {
    /// The drain runs; Shutdown has not returned.
    Draining {
        /// When Shutdown was entered.
        entered: SimTime,
        /// `entered + shutdown_timeout`: the drain context's deadline.
        deadline: SimTime,
    },
    /// Shutdown returned at `at`: the runner process exits now (spec §4.1).
    Returned {
        /// When Shutdown was entered.
        entered: SimTime,
        /// When it returned.
        at: SimTime,
        /// The drain's counts; `None` when the drain was skipped (no config, or disabled).
        summary: Option<DrainSummary>,
    },
}

/// One entry of the drain's log (see [`Core::poll_drain_event`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DrainEvent {
    /// When (virtual ms).
    pub at: SimTime,
    /// The machine concerned, when any.
    pub machine: Option<String>,
    /// What happened.
    pub kind: DrainEventKind,
}

/// What the drain logged. `Display` gives GitLab Runner's message where the spec quotes one.
#[derive(Clone, Debug, PartialEq)]
pub enum DrainEventKind {
    /// No `[machine.shutdown_drain]` table (spec §4.2, case 97).
    NoConfig,
    /// `enabled = false` (spec §4.2, case 98).
    Disabled,
    /// A second Shutdown input: ignored (a simrun usage error).
    AlreadyShutDown,
    /// `shutdown_timeout` is under 5 min (spec §4.3 step 1; a warning only).
    ShortTimeout {
        /// The budget, ms.
        budget_ms: u64,
    },
    /// The drain starts over a snapshot of `total` records (spec §4.3 step 2).
    Started {
        /// Snapshot size.
        total: u64,
        /// Effective `concurrency`.
        concurrency: u64,
        /// Attempts per machine: effective `max_retries` + 1 (Q20).
        attempts: u32,
        /// Effective `retry_backoff`, ns (M15).
        retry_backoff_ns: u64,
    },
    /// "Drain operation cancelled or timed out": no more machines are started (step 3).
    Cancelled,
    /// The machine is Creating or Removing: waiting for its operation (step 4a).
    WaitingForInFlight {
        /// Its state.
        state: MachineState,
    },
    /// "Transient state without completion signal" (step 4a): drained anyway.
    NoCompletionSignal {
        /// Its state.
        state: MachineState,
    },
    /// "In-flight operation left machine in a transient state" (step 4a: the same fired signal
    /// seen again): drained anyway.
    LeftTransient {
        /// Its state.
        state: MachineState,
    },
    /// "Machine did not settle before shutdown timeout; cloud VM may still exist" (step 4a):
    /// failed, the record stays.
    DidNotSettle {
        /// Its state.
        state: MachineState,
    },
    /// The record disappeared because an in-flight removal finished: success (step 4b).
    InFlightRemoved,
    /// "In-flight removal gave up; cloud VM may still exist" (step 4b): failed.
    InFlightGaveUp,
    /// A drain attempt's `rm -f` failed (step 4d).
    AttemptFailed {
        /// 1-based attempt.
        attempt: u32,
        /// The driver's error.
        error: String,
    },
    /// The machine was drained: record deleted, `removed` counter +1 (step 4d).
    Removed {
        /// The successful attempt (1-based).
        attempt: u32,
        /// False when Exist said "does not exist" (no `rm -f` ran).
        existed: bool,
    },
    /// M8: the existence check could not run (budget expired, or killed at the deadline) and
    /// read "does not exist": counted as removed, record deleted, the cloud VM is orphaned.
    OrphanedAfterDeadline,
    /// All attempts failed: failed, the record stays in Removing (step 4e).
    GaveUp {
        /// Attempts made.
        attempts: u32,
    },
    /// The budget expired during a retry backoff: failed, the record stays (step 4d).
    BackoffCancelled {
        /// The attempt that would have run next.
        next_attempt: u32,
    },
    /// The summary; Shutdown returns (step 3).
    Finished(DrainSummary),
}

impl fmt::Display for DrainEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrainEventKind::NoConfig => {
                f.write_str("No shutdown drain config, skipping machine pool drain")
            }
            DrainEventKind::Disabled => {
                f.write_str("Shutdown drain is disabled, skipping machine pool drain")
            }
            DrainEventKind::AlreadyShutDown => f.write_str("Shutdown already entered: ignored"),
            DrainEventKind::ShortTimeout { budget_ms } => write!(
                f,
                "shutdown_timeout ({}) is under 5m0s: the machine pool drain may not finish",
                crate::time::format_duration_ms(*budget_ms)
            ),
            DrainEventKind::Started {
                total,
                concurrency,
                attempts,
                retry_backoff_ns,
            } => write!(
                f,
                "Draining machine pool machines={total} concurrency={concurrency} \
                 attempts={attempts} retry_backoff={retry_backoff_ns}ns"
            ),
            DrainEventKind::Cancelled => f.write_str("Drain operation cancelled or timed out"),
            DrainEventKind::WaitingForInFlight { state } => {
                write!(f, "Waiting for in-flight operation state={state}")
            }
            DrainEventKind::NoCompletionSignal { state } => {
                write!(f, "Transient state without completion signal state={state}")
            }
            DrainEventKind::LeftTransient { state } => write!(
                f,
                "In-flight operation left machine in a transient state state={state}"
            ),
            DrainEventKind::DidNotSettle { state } => write!(
                f,
                "Machine did not settle before shutdown timeout; cloud VM may still exist \
                 state={state}"
            ),
            DrainEventKind::InFlightRemoved => {
                f.write_str("Machine removed by its in-flight removal")
            }
            DrainEventKind::InFlightGaveUp => {
                f.write_str("In-flight removal gave up; cloud VM may still exist")
            }
            DrainEventKind::AttemptFailed { attempt, error } => {
                write!(f, "Drain attempt failed attempt={attempt} error={error:?}")
            }
            DrainEventKind::Removed { attempt, existed } => {
                write!(f, "Machine drained attempt={attempt} existed={existed}")
            }
            DrainEventKind::OrphanedAfterDeadline => f.write_str(
                "Existence check cannot run after the shutdown timeout: machine counted as \
                 removed, record deleted, cloud VM orphaned",
            ),
            DrainEventKind::GaveUp { attempts } => write!(
                f,
                "Failed to drain machine after {attempts} attempts; cloud VM may still exist"
            ),
            DrainEventKind::BackoffCancelled { next_attempt } => write!(
                f,
                "Drain retry cancelled by the shutdown timeout next_attempt={next_attempt}; \
                 cloud VM may still exist"
            ),
            DrainEventKind::Finished(s) => write!(f, "Machine pool drain finished {s}"),
        }
    }
}

/// A record's in-flight signal (GitLab Runner's `inFlight` channel): set by each create and
/// each removal operation, fired when that operation ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Signal {
    pub(super) id: u64,
    pub(super) fired: bool,
}

/// A running drain (spec §4.3).
pub(super) struct DrainRun {
    entered: SimTime,
    deadline: SimTime,
    deadline_timer: TimerKey,
    concurrency: usize,
    attempts: u32,
    backoff_ns: u64,
    /// Snapshot names not yet dispatched, in dispatch order.
    queue: VecDeque<String>,
    total: u64,
    tasks: BTreeMap<String, Task>,
    /// Removal outcomes (gave up?) of records deleted by removals while draining (step 4b).
    vanished: BTreeMap<String, bool>,
    success: u64,
    failed: u64,
    cancelled: bool,
}

/// One machine's drain (spec §4.3 step 4).
#[derive(Clone, Debug)]
struct Task {
    phase: Phase,
    /// The signal last waited on (step 4a "the same already-fired signal").
    last_signal: Option<u64>,
}

#[derive(Clone, Debug)]
enum Phase {
    /// Step 4a: just dispatched (`parked_on` None), or waiting on signal `parked_on`;
    /// `woken` once it fired.
    Settle { parked_on: Option<u64>, woken: bool },
    /// Step 4d: Exist (`inspect`) running; `result` when it finished.
    Exists {
        attempt: u32,
        call: CallId,
        result: Option<bool>,
    },
    /// Step 4d: `rm -f` running.
    ForceRemove {
        attempt: u32,
        result: Option<Result<(), String>>,
    },
    /// Step 4d: waiting `retry_backoff × (next_attempt − 1)`.
    Backoff {
        next_attempt: u32,
        timer: TimerKey,
        fired: bool,
    },
}

impl Task {
    fn is_ready(&self) -> bool {
        match &self.phase {
            Phase::Settle { parked_on, woken } => parked_on.is_none() || *woken,
            Phase::Exists { result, .. } => result.is_some(),
            Phase::ForceRemove { result, .. } => result.is_some(),
            Phase::Backoff { fired, .. } => *fired,
        }
    }
}

/// How a step of a task ended.
enum Outcome {
    Success(DrainEventKind),
    Failed(DrainEventKind),
}

fn is_transient(s: MachineState) -> bool {
    matches!(s, MachineState::Creating | MachineState::Removing)
}

/// `ns × k` rounded up to whole ms.
fn backoff(ns: u64, k: u32) -> SimDuration {
    let total = u128::from(ns) * u128::from(k);
    let ms = total.div_ceil(1_000_000);
    SimDuration(u64::try_from(ms).unwrap_or(u64::MAX))
}

impl Core {
    /// The provider's Shutdown (spec §4.2, §4.3), entered at `now` with the `shutdown_timeout`
    /// budget.
    pub(super) fn shutdown(&mut self, drain: Option<ShutdownDrain>, budget: SimDuration) {
        if self.shutdown.is_some() {
            self.drain_log(None, DrainEventKind::AlreadyShutDown);
            return;
        }
        let entered = self.now;
        let cfg = match drain {
            None => {
                self.drain_log(None, DrainEventKind::NoConfig);
                return self.shutdown_returned(entered, None);
            }
            Some(d) if !d.enabled => {
                self.drain_log(None, DrainEventKind::Disabled);
                return self.shutdown_returned(entered, None);
            }
            Some(d) => d,
        };
        if budget < SHORT_SHUTDOWN_TIMEOUT {
            self.drain_log(
                None,
                DrainEventKind::ShortTimeout {
                    budget_ms: budget.as_millis(),
                },
            );
        }
        let concurrency = usize::try_from(cfg.effective_concurrency()).unwrap_or(usize::MAX);
        let attempts = u32::try_from(cfg.effective_max_retries())
            .unwrap_or(u32::MAX - 1)
            .saturating_add(1);
        let backoff_ns = u64::try_from(cfg.effective_retry_backoff_ns()).unwrap_or(u64::MAX);
        // Step 2: every record of every runner, in Go's random map order.
        let mut names: Vec<String> = self.records.keys().cloned().collect();
        super::core::shuffle(&mut names, &mut self.map_order);
        let total = names.len() as u64;
        self.drain_log(
            None,
            DrainEventKind::Started {
                total,
                concurrency: concurrency as u64,
                attempts,
                retry_backoff_ns: backoff_ns,
            },
        );
        let deadline = entered + budget;
        let deadline_timer = self.timers.set(deadline, Timer::DrainDeadline);
        self.shutdown = Some(ShutdownStatus::Draining { entered, deadline });
        self.drain = Some(DrainRun {
            entered,
            deadline,
            deadline_timer,
            concurrency,
            attempts,
            backoff_ns,
            queue: names.into(),
            total,
            tasks: BTreeMap::new(),
            vanished: BTreeMap::new(),
            success: 0,
            failed: 0,
            cancelled: false,
        });
    }

    fn shutdown_returned(&mut self, entered: SimTime, summary: Option<DrainSummary>) {
        self.shutdown = Some(ShutdownStatus::Returned {
            entered,
            at: self.now,
            summary,
        });
    }

    pub(super) fn drain_log(&mut self, machine: Option<&str>, kind: DrainEventKind) {
        if self.record_events {
            self.drain_events.push_back(DrainEvent {
                at: self.now,
                machine: machine.map(str::to_string),
                kind,
            });
        }
    }

    /// A new in-flight signal for `name` (a create or removal operation starts); its id.
    pub(super) fn new_signal(&mut self, name: &str) -> u64 {
        let id = self.next_id();
        self.signals
            .insert(name.to_string(), Signal { id, fired: false });
        id
    }

    /// The operation with signal `id` on `name` ended: fire it and wake a drain task parked on
    /// it. `deleted` is `Some(gave_up)` when the operation deleted the record (a removal).
    pub(super) fn fire_signal(&mut self, name: &str, id: u64, deleted: Option<bool>) {
        match deleted {
            Some(_) => {
                if self.signals.get(name).is_some_and(|s| s.id == id) {
                    self.signals.remove(name);
                }
            }
            None => {
                if let Some(s) = self.signals.get_mut(name)
                    && s.id == id
                {
                    s.fired = true;
                }
            }
        }
        let Some(d) = self.drain.as_mut() else {
            return;
        };
        if let Some(gave_up) = deleted {
            d.vanished.insert(name.to_string(), gave_up);
        }
        if let Some(Task {
            phase: Phase::Settle { parked_on, woken },
            ..
        }) = d.tasks.get_mut(name)
            && *parked_on == Some(id)
        {
            *woken = true;
        }
    }

    /// A drain driver call finished (or timed out: the error path).
    pub(super) fn drain_call_done(
        &mut self,
        name: &str,
        kind: &CallKind,
        result: Result<(), DriverError>,
    ) {
        let Some(task) = self.drain.as_mut().and_then(|d| d.tasks.get_mut(name)) else {
            return;
        };
        match (&mut task.phase, kind) {
            (Phase::Exists { result: r, .. }, CallKind::Exists) => *r = Some(result.is_ok()),
            (Phase::ForceRemove { result: r, .. }, CallKind::ForceRemove) => {
                if result.is_ok() {
                    self.cache.remove(name);
                }
                *r = Some(result.map_err(|e| e.message));
            }
            _ => {}
        }
    }

    /// A retry backoff ended.
    pub(super) fn drain_backoff_done(&mut self, name: &str) {
        if let Some(Task {
            phase: Phase::Backoff { fired, .. },
            ..
        }) = self.drain.as_mut().and_then(|d| d.tasks.get_mut(name))
        {
            *fired = true;
        }
    }

    /// Runs the drain as far as it can go at `now`: tasks woken by signals, calls and timers;
    /// the deadline; dispatch into free slots; the summary once nothing runs.
    pub(super) fn drain_pump(&mut self) {
        loop {
            let Some(d) = self.drain.as_ref() else {
                return;
            };
            let mut progressed = false;
            let ready: Vec<String> = d
                .tasks
                .iter()
                .filter(|(_, t)| t.is_ready())
                .map(|(n, _)| n.clone())
                .collect();
            for name in ready {
                self.drain_advance(&name);
                progressed = true;
            }
            if self.drain_expired() {
                progressed |= self.drain_expire();
            }
            progressed |= self.drain_dispatch();
            if !progressed {
                break;
            }
        }
        self.drain_maybe_finish();
    }

    fn drain_expired(&self) -> bool {
        self.drain.as_ref().is_some_and(|d| self.now >= d.deadline)
    }

    /// A Go `select` with both cases ready picks one at random (U1): true = the context.
    fn drain_context_wins(&mut self) -> bool {
        self.drain_rng.next_u64() & 1 == 0
    }

    fn set_phase(&mut self, name: &str, phase: Phase) {
        if let Some(t) = self.drain.as_mut().and_then(|d| d.tasks.get_mut(name)) {
            t.phase = phase;
        }
    }

    fn task_phase(&self, name: &str) -> Option<Phase> {
        self.drain
            .as_ref()
            .and_then(|d| d.tasks.get(name))
            .map(|t| t.phase.clone())
    }

    /// Step 3: dispatch one machine into a free slot, or cancel. True if something changed.
    fn drain_dispatch(&mut self) -> bool {
        let expired = self.drain_expired();
        let Some(d) = self.drain.as_ref() else {
            return false;
        };
        if d.cancelled || d.queue.is_empty() {
            return false;
        }
        let free = d.tasks.len() < d.concurrency;
        let dispatch = match (free, expired) {
            (false, false) => return false,
            (true, false) => true,
            (false, true) => false,
            // U1: a free slot and the ended context at the same time.
            (true, true) => !self.drain_context_wins(),
        };
        let Some(d) = self.drain.as_mut() else {
            return false;
        };
        if dispatch {
            if let Some(name) = d.queue.pop_front() {
                d.tasks.insert(
                    name,
                    Task {
                        phase: Phase::Settle {
                            parked_on: None,
                            woken: false,
                        },
                        last_signal: None,
                    },
                );
            }
        } else {
            d.cancelled = true;
            self.drain_log(None, DrainEventKind::Cancelled);
        }
        true
    }

    /// Advances a ready task.
    fn drain_advance(&mut self, name: &str) {
        let expired = self.drain_expired();
        let Some(phase) = self.task_phase(name) else {
            return;
        };
        let outcome = match phase {
            Phase::Settle { parked_on, woken } => {
                // Woken from the select on the signal: if the context ended at the same
                // instant, either case can win.
                if woken && parked_on.is_some() && expired && self.drain_context_wins() {
                    self.did_not_settle(name)
                } else {
                    self.settle(name)
                }
            }
            Phase::Exists {
                attempt,
                result: Some(exists),
                ..
            } => {
                if exists {
                    self.set_phase(
                        name,
                        Phase::ForceRemove {
                            attempt,
                            result: None,
                        },
                    );
                    self.call(Owner::Drain(name.to_string()), name, CallKind::ForceRemove);
                    None
                } else {
                    Some(self.drained(
                        name,
                        DrainEventKind::Removed {
                            attempt,
                            existed: false,
                        },
                    ))
                }
            }
            Phase::ForceRemove {
                attempt,
                result: Some(result),
            } => match result {
                Ok(()) => Some(self.drained(
                    name,
                    DrainEventKind::Removed {
                        attempt,
                        existed: true,
                    },
                )),
                Err(error) => {
                    self.drain_log(Some(name), DrainEventKind::AttemptFailed { attempt, error });
                    let (max, ns) = self
                        .drain
                        .as_ref()
                        .map_or((0, 0), |d| (d.attempts, d.backoff_ns));
                    if attempt >= max {
                        Some(Outcome::Failed(DrainEventKind::GaveUp {
                            attempts: attempt,
                        }))
                    } else {
                        // Retry k = attempt waits retry_backoff × k.
                        let at = self.now + backoff(ns, attempt);
                        let timer = self.timers.set(at, Timer::DrainBackoff(name.to_string()));
                        self.set_phase(
                            name,
                            Phase::Backoff {
                                next_attempt: attempt + 1,
                                timer,
                                fired: false,
                            },
                        );
                        None
                    }
                }
            },
            Phase::Backoff {
                next_attempt,
                fired: true,
                ..
            } => {
                if expired && self.drain_context_wins() {
                    Some(Outcome::Failed(DrainEventKind::BackoffCancelled {
                        next_attempt,
                    }))
                } else {
                    self.start_drain_attempt(name, next_attempt)
                }
            }
            _ => None,
        };
        if let Some(o) = outcome {
            self.task_done(name, o);
        }
    }

    /// Step 4a–4c: wait for a drainable state, then set Removing and start attempt 1.
    fn settle(&mut self, name: &str) -> Option<Outcome> {
        loop {
            let Some(state) = self.records.get(name).map(|r| r.state) else {
                // Step 4b: an in-flight removal deleted the record.
                let gave_up = self
                    .drain
                    .as_ref()
                    .and_then(|d| d.vanished.get(name).copied())
                    .unwrap_or(false);
                return Some(if gave_up {
                    Outcome::Failed(DrainEventKind::InFlightGaveUp)
                } else {
                    Outcome::Success(DrainEventKind::InFlightRemoved)
                });
            };
            if !is_transient(state) {
                break;
            }
            let last = self
                .drain
                .as_ref()
                .and_then(|d| d.tasks.get(name))
                .and_then(|t| t.last_signal);
            let Some(signal) = self.signals.get(name).copied() else {
                self.drain_log(Some(name), DrainEventKind::NoCompletionSignal { state });
                break;
            };
            if last == Some(signal.id) {
                self.drain_log(Some(name), DrainEventKind::LeftTransient { state });
                break;
            }
            if let Some(t) = self.drain.as_mut().and_then(|d| d.tasks.get_mut(name)) {
                t.last_signal = Some(signal.id);
            }
            let expired = self.drain_expired();
            match (signal.fired, expired) {
                (true, false) => continue,
                (true, true) if !self.drain_context_wins() => continue,
                (_, true) => return self.did_not_settle(name),
                (false, false) => {
                    self.drain_log(Some(name), DrainEventKind::WaitingForInFlight { state });
                    self.set_phase(
                        name,
                        Phase::Settle {
                            parked_on: Some(signal.id),
                            woken: false,
                        },
                    );
                    return None;
                }
            }
        }
        // Step 4c.
        let now = self.now;
        let runner = match self.records.get_mut(name) {
            Some(r) => {
                r.state = MachineState::Removing;
                r.reason = REASON_SHUTDOWN_DRAIN.to_string();
                r.used = now;
                r.runner.clone()
            }
            None => None,
        };
        self.log(
            runner.as_deref(),
            Some(name),
            EventKind::RemovalRequested {
                reason: REASON_SHUTDOWN_DRAIN.to_string(),
            },
        );
        self.start_drain_attempt(name, 1)
    }

    fn did_not_settle(&mut self, name: &str) -> Option<Outcome> {
        let state = self
            .records
            .get(name)
            .map_or(MachineState::Removing, |r| r.state);
        Some(Outcome::Failed(DrainEventKind::DidNotSettle { state }))
    }

    /// Step 4d: one attempt: Exist, then `rm -f`. After the deadline the existence check
    /// cannot run and reads false (M8).
    fn start_drain_attempt(&mut self, name: &str, attempt: u32) -> Option<Outcome> {
        if self.sabotage == super::core::Sabotage::DrainWithoutRemoving {
            return Some(self.drained(
                name,
                DrainEventKind::Removed {
                    attempt,
                    existed: true,
                },
            ));
        }
        if self.drain_expired() {
            self.drain_log(Some(name), DrainEventKind::OrphanedAfterDeadline);
            return Some(self.drained(
                name,
                DrainEventKind::Removed {
                    attempt,
                    existed: false,
                },
            ));
        }
        let call = self.call(Owner::Drain(name.to_string()), name, CallKind::Exists);
        self.set_phase(
            name,
            Phase::Exists {
                attempt,
                call,
                result: None,
            },
        );
        None
    }

    /// A successful attempt: delete the record, `removed` +1 (step 4d).
    fn drained(&mut self, name: &str, kind: DrainEventKind) -> Outcome {
        self.signals.remove(name);
        self.cache.remove(name);
        if let Some(r) = self.records.remove(name) {
            self.metrics.count(ActionLabel::Removed, &r.targets);
            self.log(
                r.runner.as_deref(),
                Some(name),
                EventKind::Removed { gave_up: false },
            );
        }
        Outcome::Success(kind)
    }

    fn task_done(&mut self, name: &str, outcome: Outcome) {
        let kind = match outcome {
            Outcome::Success(k) => {
                if let Some(d) = self.drain.as_mut() {
                    d.success += 1;
                }
                k
            }
            Outcome::Failed(k) => {
                if let Some(d) = self.drain.as_mut() {
                    d.failed += 1;
                }
                k
            }
        };
        if let Some(d) = self.drain.as_mut() {
            d.tasks.remove(name);
        }
        self.drain_log(Some(name), kind);
    }

    /// The context ended: tasks waiting on it give up (step 4a, 4d); a running `inspect` is
    /// killed and reads "does not exist" (M8). True if something changed.
    fn drain_expire(&mut self) -> bool {
        let Some(d) = self.drain.as_ref() else {
            return false;
        };
        let waiting: Vec<(String, Phase)> = d
            .tasks
            .iter()
            .filter(|(_, t)| !t.is_ready())
            .map(|(n, t)| (n.clone(), t.phase.clone()))
            .collect();
        let mut changed = false;
        for (name, phase) in waiting {
            let outcome = match phase {
                Phase::Settle { .. } => self.did_not_settle(&name),
                Phase::Backoff {
                    next_attempt,
                    timer,
                    ..
                } => {
                    self.timers.cancel(timer);
                    Some(Outcome::Failed(DrainEventKind::BackoffCancelled {
                        next_attempt,
                    }))
                }
                Phase::Exists { attempt, call, .. } => {
                    if let Some(p) = self.calls.remove(&call) {
                        self.timers.cancel(p.timeout);
                        self.emit(Action::Kill(call));
                    }
                    self.drain_log(Some(&name), DrainEventKind::OrphanedAfterDeadline);
                    Some(self.drained(
                        &name,
                        DrainEventKind::Removed {
                            attempt,
                            existed: false,
                        },
                    ))
                }
                // `rm -f` is not bound to the drain context.
                Phase::ForceRemove { .. } => None,
            };
            if let Some(o) = outcome {
                self.task_done(&name, o);
                changed = true;
            }
        }
        changed
    }

    /// Step 3's end: once no machine is left to start and none runs, log the summary and
    /// return from Shutdown.
    fn drain_maybe_finish(&mut self) {
        let Some(d) = self.drain.as_ref() else {
            return;
        };
        if !(d.cancelled || d.queue.is_empty()) || !d.tasks.is_empty() {
            return;
        }
        let summary = DrainSummary {
            success: d.success,
            failed: d.failed,
            total: d.total,
        };
        let (entered, timer) = (d.entered, d.deadline_timer);
        self.timers.cancel(timer);
        self.drain = None;
        self.drain_log(None, DrainEventKind::Finished(summary));
        self.shutdown_returned(entered, Some(summary));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{Completion, StoreListing};
    use crate::config::{IdleSettings, MachineConfig, RunnerConfig, Secret};
    use crate::time::Calendar;

    use super::super::CoreOptions;
    use super::super::api::Input;
    use super::super::machine::Record;

    fn core() -> Core {
        let start = "2026-03-02T08:00:00Z".parse().expect("valid timestamp");
        let runner = RunnerConfig {
            index: 0,
            id: "r".to_string(),
            name: Some("r".to_string()),
            url: "https://gitlab.example.com".to_string(),
            token: Secret::new(""),
            executor: "docker+machine".to_string(),
            limit: 0,
            request_concurrency: 1,
            strict_check_interval: false,
            machine: Some(MachineConfig {
                machine_name: "m-%s".to_string(),
                machine_driver: "fake".to_string(),
                idle: IdleSettings::default(),
                ..MachineConfig::default()
            }),
        };
        Core::new(
            Calendar::new(start, jiff::tz::TimeZone::UTC),
            CoreOptions::default(),
            [runner],
        )
    }

    fn creating(core: &mut Core, name: &str) {
        let mut r = Record::discovered(name, core.now);
        r.state = MachineState::Creating;
        core.records.insert(name.to_string(), r);
    }

    fn enabled() -> Option<ShutdownDrain> {
        Some(ShutdownDrain {
            enabled: true,
            ..ShutdownDrain::default()
        })
    }

    /// Answers every driver call the core asked for with success at `now`; returns the
    /// commands seen.
    fn answer_all(core: &mut Core) -> Vec<&'static str> {
        let mut seen = Vec::new();
        let listing = StoreListing::empty();
        while let Some(a) = core.poll_action() {
            if let Action::Call(c) = a {
                seen.push(c.kind.command());
                let now = core.now();
                core.handle(
                    now,
                    Input::DriverDone(Completion {
                        id: c.id,
                        result: Ok(()),
                        state: None,
                    }),
                    &listing,
                );
            }
        }
        seen
    }

    fn drain_events(core: &mut Core) -> Vec<DrainEventKind> {
        std::iter::from_fn(|| core.poll_drain_event())
            .map(|e| e.kind)
            .collect()
    }

    /// Case 108: a Creating record with no in-flight signal: warning, then force-removed.
    #[test]
    fn case_108_creating_without_signal_is_force_removed() {
        let mut c = core();
        creating(&mut c, "m-a");
        c.handle(
            SimTime(0),
            Input::Shutdown {
                drain: enabled(),
                budget: SimDuration::from_secs(1),
            },
            &StoreListing::empty(),
        );
        assert_eq!(answer_all(&mut c), vec!["inspect", "rm -f"]);
        let events = drain_events(&mut c);
        assert!(events.contains(&DrainEventKind::NoCompletionSignal {
            state: MachineState::Creating
        }));
        assert!(c.record("m-a").is_none());
        assert_eq!(
            c.shutdown_status(),
            Some(ShutdownStatus::Returned {
                entered: SimTime(0),
                at: SimTime(0),
                summary: Some(DrainSummary {
                    success: 1,
                    failed: 0,
                    total: 1
                })
            })
        );
    }

    /// Case 110: a Creating record whose signal already fired and never changes: the drain
    /// waits on it once (returns at once), sees the same fired signal again, warns and
    /// force-removes, all at the same instant (no busy spin: no timer, no repeated wait).
    #[test]
    fn case_110_already_fired_signal_no_busy_spin() {
        let mut c = core();
        creating(&mut c, "m-a");
        let id = c.new_signal("m-a");
        c.fire_signal("m-a", id, None);
        c.handle(
            SimTime(0),
            Input::Shutdown {
                drain: enabled(),
                budget: SimDuration::from_secs(1),
            },
            &StoreListing::empty(),
        );
        let events = drain_events(&mut c);
        assert_eq!(
            events
                .iter()
                .filter(|k| matches!(k, DrainEventKind::LeftTransient { .. }))
                .count(),
            1
        );
        assert!(
            !events
                .iter()
                .any(|k| matches!(k, DrainEventKind::WaitingForInFlight { .. })),
            "a fired signal is not parked on"
        );
        assert_eq!(answer_all(&mut c), vec!["inspect", "rm -f"]);
        assert!(c.record("m-a").is_none());
        assert!(matches!(
            c.shutdown_status(),
            Some(ShutdownStatus::Returned {
                at: SimTime(0),
                summary: Some(DrainSummary { success: 1, .. }),
                ..
            })
        ));
    }

    #[test]
    fn backoff_rounds_nanoseconds_up_to_milliseconds() {
        assert_eq!(backoff(5, 1), SimDuration(1), "M15: 5 ns");
        assert_eq!(backoff(5_000_000_000, 3), SimDuration::from_secs(15));
        assert_eq!(backoff(1_500_000, 1), SimDuration(2));
        assert_eq!(backoff(u64::MAX, u32::MAX), SimDuration(u64::MAX));
    }
}
