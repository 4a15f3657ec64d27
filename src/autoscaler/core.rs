//! The sans-IO core: one per runner-manager process, shared by all its docker+machine runners
//! (spec §3.4 step 2, Q22). It never reads a clock, sleeps, spawns or does IO (DESIGN.md "The
//! core contract"); GitLab Runner's blocking behaviour is explicit state here:
//!
//! | GitLab Runner (Go) | here |
//! |---|---|
//! | acquire lock held across find-free's `config` call | [`Core`] holds at most one running Acquire; others queue FIFO |
//! | growth semaphore (`cond.Wait`) | [`Coordinator::waiting`], FIFO |
//! | on-demand waiter's `select` with 1 s timer | a Use task listening on its coordinator + a [`Timer::WaiterPoll`] |
//! | `time.Sleep(1 s)` between useMachine attempts | [`Timer::UseRetry`] |
//! | `time.Sleep(30 s)` after a failed `rm -y` | [`Timer::RemovalRetry`] |
//! | stuck-removal mutex | `stuck_lock` + FIFO queue |
//! | command timeouts (1 h, stop 1 min) | [`Timer::CallTimeout`] per call |
//! | 5-minute positive CanConnect cache | a map of expiry instants |
//!
//! # Driving the core
//! ```text
//! loop {
//!     core.handle(now, input, &listing)   // or core.handle_timeout(now, &listing)
//!     while let Some(a) = core.poll_action() { execute driver calls, deliver replies }
//!     next wake-up = min(core.poll_timeout(), next completion, next manager request)
//! }
//! ```
//! Everything an input causes happens at `now`; replies and driver calls come out in the
//! order they were decided. `now` must not go backwards (an earlier `now` is treated as the
//! last one seen).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::RngCore;

use crate::cloud::{CallId, CallKind, Completion, DriverCall, DriverError, StoreListing, Timeouts};
use crate::config::RunnerConfig;
use crate::time::{Calendar, SimDuration, SimTime};

use super::acquire::AcquireTask;
use super::api::{Action, Input};
use super::coordinator::{Coordinator, UseId};
use super::drain::{DrainEvent, DrainRun, ShutdownStatus, Signal};
use super::events::{Event, EventKind};
use super::machine::{MachineState, Record};
use super::metrics::{Metrics, StateSample, machine_states};
use super::naming::NameFilter;
use super::policy::Limits;
use super::timers::{Timer, TimerKey, Timers};
use super::use_machine::UseTask;
use crate::random::{RngStreams, SimRng};

/// How long a positive CanConnect result is cached (spec §3.12).
pub const CAN_CONNECT_CACHE: SimDuration = SimDuration::from_mins(5);

/// Construction options of a [`Core`].
#[derive(Clone, Debug)]
pub struct CoreOptions {
    /// The scenario seed; the core derives its named streams from it: `"naming"` (the 8 hex
    /// characters of machine names, spec §2.5) and `"map-order"` (the order in which Creating
    /// records are appended to a listing, GitLab Runner's random map order, spec §3.4 step 3).
    pub seed: u64,
    /// Driver command timeouts (spec §3.12); defaults are GitLab Runner's.
    pub timeouts: Timeouts,
    /// Keep the decision log for [`Core::poll_event`] (default true). Turn off when nobody
    /// drains it.
    pub record_events: bool,
    /// A deliberate defect, for proving that the simulator's invariant checker can fail
    /// (issue "Invariants…": "a test-only switch that breaks the logic"). Never set it
    /// outside tests.
    #[doc(hidden)]
    pub sabotage: Sabotage,
}

/// Deliberate defects for checker tests (see [`CoreOptions::sabotage`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sabotage {
    /// The faithful core.
    #[default]
    None,
    /// Background creation ignores `limit` (spec §3.3 totalExceeded skipped).
    SkipLimitCheck,
    /// Creation ignores `MaxGrowthRate`: neither the admission check (spec §3.3) nor the
    /// growth semaphore (§3.7) holds creations back.
    IgnoreMaxGrowthRate,
    /// Release and the update pass ignore `MaxBuilds` (spec §3.11, §3.8): a machine is never
    /// removed for too many builds.
    IgnoreMaxBuilds,
    /// tryAcquire takes a Used machine as if it were Idle (spec §2.3), so a machine running a
    /// job is handed to a second request.
    AcquireUsedMachines,
    /// Use leaves the machine Acquired instead of marking it Used (spec §3.6 step 5).
    SkipMarkUsed,
    /// The update pass deletes the record of a machine it decided to remove instead of
    /// removing it (spec §3.8, §3.9): the VM stays in the cloud.
    DropRecordInsteadOfRemoving,
    /// The shutdown drain counts a machine as drained without `docker-machine rm -f`
    /// (spec §4.3 step 4d): the record is deleted, the VM stays.
    DrainWithoutRemoving,
    /// Manager: `concurrent` is ignored; twice as many workers serve jobs (spec §1.4).
    IgnoreConcurrent,
    /// Manager: the per-runner `limit` build-slot check before Acquire is skipped (spec §1.4,
    /// §0 M2).
    IgnoreRunnerLimit,
    /// Manager: a stop signal neither stops the feeder nor cancels the job request after an
    /// Acquire in flight (spec §4.1, §0 M17).
    KeepRequestingAfterStop,
    /// Manager: a prepared job is started twice (two `RunJob` actions).
    StartJobTwice,
    /// Manager: a forceful signal aborts builds in preparation without reporting their
    /// failure to GitLab (spec §4.1, §0 W8): the job is dropped.
    ForgetAbortedPreparations,
    /// Manager: every failed preparation attempt fails the job, not only the last (spec §3.6,
    /// §0 W9): a retried job ends more than once.
    FailJobOnEveryPreparationAttempt,
}

impl Default for CoreOptions {
    fn default() -> Self {
        CoreOptions {
            seed: 0,
            timeouts: Timeouts::default(),
            record_events: true,
            sabotage: Sabotage::None,
        }
    }
}

/// Who waits for a driver call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Owner {
    /// The Acquire holding the acquire lock (find-free's CanConnect).
    Acquire,
    /// A Use task.
    Use(UseId),
    /// The creation of a machine.
    Create(String),
    /// The removal of a machine.
    Remove(String),
    /// The shutdown drain of a machine (spec §4.3).
    Drain(String),
}

/// A driver call in flight.
#[derive(Clone, Debug)]
pub(super) struct PendingCall {
    pub(super) owner: Owner,
    pub(super) machine: String,
    pub(super) kind: CallKind,
    pub(super) started: SimTime,
    pub(super) timeout: TimerKey,
}

/// A creation in progress (spec §3.10).
#[derive(Clone, Debug)]
pub(super) struct CreateOp {
    /// Its in-flight signal (spec §4.3 step 4a).
    pub(super) signal: u64,
    pub(super) runner: String,
    pub(super) token: String,
    pub(super) target: MachineState,
    /// The on-demand waiter that started it, while it still waits for it.
    pub(super) waiter: Option<UseId>,
    /// When the driver create started (after the growth wait); `None` while waiting.
    pub(super) driver_started: Option<SimTime>,
}

/// The phase of a removal (spec §3.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemovalPhase {
    /// `inspect` (Exist) running.
    Exists,
    /// Waiting for the stuck-removal lock.
    WaitingForStuckLock,
    /// `stop` running.
    Stop,
    /// `rm -y` running.
    Remove,
    /// Sleeping 30 s after a failed `rm -y`.
    RetrySleep,
    /// `rm -f` running after giving up.
    ForceRemove,
}

/// A removal in progress (finalizeRemoval, spec §3.9).
#[derive(Clone, Debug)]
pub(super) struct RemovalOp {
    /// Its in-flight signal (spec §4.3 step 4a).
    pub(super) signal: u64,
    pub(super) runner: Option<String>,
    /// 1-based number of the attempt running.
    pub(super) attempt: u32,
    pub(super) max_attempts: u32,
    pub(super) holds_stuck_lock: bool,
    pub(super) phase: RemovalPhase,
}

/// GitLab Runner's docker+machine provider as a sans-IO state machine (spec §2–§3 with the
/// corrections of §0). See the module docs for the driving loop.
pub struct Core {
    pub(super) now: SimTime,
    pub(super) calendar: Calendar,
    pub(super) runners: BTreeMap<String, RunnerConfig>,
    pub(super) records: BTreeMap<String, Record>,
    pub(super) naming: SimRng,
    pub(super) map_order: SimRng,
    pub(super) timeouts: Timeouts,
    next_id: u64,
    pub(super) calls: BTreeMap<CallId, PendingCall>,
    pub(super) timers: Timers,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    pub(super) record_events: bool,
    pub(super) sabotage: Sabotage,
    pub(super) metrics: Metrics,
    /// Positive CanConnect results: machine → expiry.
    pub(super) cache: BTreeMap<String, SimTime>,
    pub(super) acquiring: Option<AcquireTask>,
    pub(super) acquire_queue: VecDeque<(super::api::RequestId, String)>,
    pub(super) uses: BTreeMap<UseId, UseTask>,
    pub(super) creations: BTreeMap<String, CreateOp>,
    pub(super) removals: BTreeMap<String, RemovalOp>,
    /// Keyed by the full runner token (spec §3.7). Never printed.
    pub(super) coordinators: BTreeMap<String, Coordinator>,
    pub(super) stuck_lock: Option<String>,
    pub(super) stuck_queue: VecDeque<String>,
    /// Each record's in-flight signal (GitLab Runner's `inFlight`), by machine name.
    pub(super) signals: BTreeMap<String, Signal>,
    /// Set once Shutdown was entered (spec §4).
    pub(super) shutdown: Option<ShutdownStatus>,
    /// The running drain (spec §4.3).
    pub(super) drain: Option<DrainRun>,
    /// The `"drain"` stream: Go's random `select` choices during the drain (§0 U1).
    pub(super) drain_rng: SimRng,
    pub(super) drain_events: VecDeque<DrainEvent>,
}

impl Core {
    /// A core for the runners `runners` (all `[[runners]]` entries may be given; requests for
    /// a runner without `[runners.machine]` fail with "missing Machine options"), mapping
    /// virtual time to calendar time with `calendar` (periods, and the Unix seconds in machine
    /// names).
    pub fn new(
        calendar: Calendar,
        options: CoreOptions,
        runners: impl IntoIterator<Item = RunnerConfig>,
    ) -> Self {
        Core {
            now: SimTime::ZERO,
            calendar,
            runners: runners.into_iter().map(|r| (r.id.clone(), r)).collect(),
            records: BTreeMap::new(),
            naming: RngStreams::new(options.seed).stream("naming"),
            map_order: RngStreams::new(options.seed).stream("map-order"),
            timeouts: options.timeouts,
            next_id: 0,
            calls: BTreeMap::new(),
            timers: Timers::default(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            record_events: options.record_events,
            sabotage: options.sabotage,
            metrics: Metrics::default(),
            cache: BTreeMap::new(),
            acquiring: None,
            acquire_queue: VecDeque::new(),
            uses: BTreeMap::new(),
            creations: BTreeMap::new(),
            removals: BTreeMap::new(),
            coordinators: BTreeMap::new(),
            stuck_lock: None,
            stuck_queue: VecDeque::new(),
            signals: BTreeMap::new(),
            shutdown: None,
            drain: None,
            drain_rng: RngStreams::new(options.seed).stream("drain"),
            drain_events: VecDeque::new(),
        }
    }

    /// Adds or replaces a runner's config (a config reload, spec §0 M7). Records, operations
    /// in flight and coordinators are kept; new values apply from the next decision that reads
    /// them.
    pub fn set_runner(&mut self, runner: RunnerConfig) {
        self.runners.insert(runner.id.clone(), runner);
    }

    /// Feeds one input at virtual time `now`, with the machine store as it is at `now`.
    pub fn handle(&mut self, now: SimTime, input: Input, listing: &StoreListing) {
        self.advance(now);
        match input {
            Input::Acquire { request, runner } => self.start_acquire(request, runner, listing),
            Input::Use {
                request,
                runner,
                acquired,
            } => self.start_use(request, runner, acquired, listing),
            Input::Release { runner, machine } => self.release(&runner, &machine, listing),
            Input::DriverDone(c) => self.complete(c, listing),
            Input::Shutdown { drain, budget } => self.shutdown(drain, budget),
        }
        self.drain_pump();
    }

    /// Fires every timer due at or before `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: SimTime, listing: &StoreListing) {
        self.advance(now);
        while let Some(timer) = self.timers.pop_due(self.now) {
            match timer {
                Timer::CallTimeout(id) => self.call_timed_out(id, listing),
                Timer::RemovalRetry(name) => self.removal_sleep_done(&name),
                Timer::UseRetry(id) => self.use_retry_sleep_done(id, listing),
                Timer::WaiterPoll(id) => self.waiter_signalled(id, false, listing),
                Timer::DrainDeadline => {}
                Timer::DrainBackoff(name) => self.drain_backoff_done(&name),
            }
        }
        self.drain_pump();
    }

    /// The next thing the owner must do or deliver, in decision order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next logged decision.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next entry of the shutdown drain's log (spec §4.2, §4.3): the skip messages,
    /// warnings, cancellation, per-machine outcomes and the summary. Kept apart from
    /// [`Core::poll_event`]; the record-level facts (the "shutdown drain" removal request, the
    /// record's deletion) go to the decision log as usual. Empty when `record_events` is off.
    pub fn poll_drain_event(&mut self) -> Option<DrainEvent> {
        self.drain_events.pop_front()
    }

    /// Where the provider's Shutdown is: `None` before [`Input::Shutdown`], then
    /// [`ShutdownStatus::Draining`] until it returns ([`ShutdownStatus::Returned`], with the
    /// drain summary). A driver checks it after each input to learn when Shutdown returned
    /// (spec §4.1: the process exits then).
    pub fn shutdown_status(&self) -> Option<ShutdownStatus> {
        self.shutdown
    }

    /// The next instant the core wants [`Core::handle_timeout`] called, if any.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.timers.next()
    }

    /// The virtual time of the last input.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// All machine records of all runners, by name.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    /// One machine's record.
    pub fn record(&self, name: &str) -> Option<&Record> {
        self.records.get(name)
    }

    /// The counters and histograms (spec §3.13).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The state gauge at `now` (spec §3.13).
    pub fn machine_states(&self, now: SimTime) -> Vec<StateSample> {
        machine_states(self.records.values(), now)
    }

    /// Driver calls in flight: (id, machine, command).
    pub fn calls_in_flight(&self) -> impl Iterator<Item = (CallId, &str, &'static str)> {
        self.calls
            .iter()
            .map(|(id, c)| (*id, c.machine.as_str(), c.kind.command()))
    }

    /// The coordinator of `runner`: (growing, waiting for growth capacity, available hint,
    /// listening waiters). `None` for an unknown runner or one without a coordinator yet.
    pub fn coordinator_state(&self, runner: &str) -> Option<(i64, usize, u64, usize)> {
        let token = self.runners.get(runner)?.token.expose();
        let c = self.coordinators.get(token)?;
        Some((c.growing, c.waiting.len(), c.available, c.listeners.len()))
    }

    /// The phase of a machine's removal, if one runs.
    pub fn removal_phase(&self, machine: &str) -> Option<RemovalPhase> {
        self.removals.get(machine).map(|r| r.phase)
    }

    /// Whether an Acquire holds the acquire lock, and how many wait for it.
    pub fn acquire_lock_state(&self) -> (bool, usize) {
        (self.acquiring.is_some(), self.acquire_queue.len())
    }

    // ---- plumbing shared by the operation modules ----

    fn advance(&mut self, now: SimTime) {
        if now > self.now {
            self.now = now;
        }
    }

    pub(super) fn log(&mut self, runner: Option<&str>, machine: Option<&str>, kind: EventKind) {
        if self.record_events {
            self.events.push_back(Event {
                at: self.now,
                runner: runner.map(str::to_string),
                machine: machine.map(str::to_string),
                kind,
            });
        }
    }

    pub(super) fn emit(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    pub(super) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Starts a driver call with its timeout timer.
    pub(super) fn call(&mut self, owner: Owner, machine: &str, kind: CallKind) -> CallId {
        let id = CallId(self.next_id());
        let timeout = self
            .timers
            .set(self.now + self.timeouts.of(&kind), Timer::CallTimeout(id));
        self.calls.insert(
            id,
            PendingCall {
                owner,
                machine: machine.to_string(),
                kind: kind.clone(),
                started: self.now,
                timeout,
            },
        );
        self.emit(Action::Call(DriverCall {
            id,
            machine: machine.to_string(),
            kind,
        }));
        id
    }

    fn complete(&mut self, c: Completion, listing: &StoreListing) {
        let Some(pending) = self.calls.remove(&c.id) else {
            self.log(None, None, EventKind::LateCompletion { call: c.id });
            return;
        };
        self.timers.cancel(pending.timeout);
        self.dispatch(pending, c.result, c.state, listing);
    }

    fn call_timed_out(&mut self, id: CallId, listing: &StoreListing) {
        let Some(pending) = self.calls.remove(&id) else {
            return;
        };
        self.emit(Action::Kill(id));
        let machine = pending.machine.clone();
        self.log(
            None,
            Some(&machine),
            EventKind::CallTimedOut {
                call: id,
                command: pending.kind.command(),
            },
        );
        self.dispatch(pending, Err(DriverError::timed_out()), None, listing);
    }

    fn dispatch(
        &mut self,
        call: PendingCall,
        result: Result<(), DriverError>,
        state: Option<crate::cloud::DriverState>,
        listing: &StoreListing,
    ) {
        let elapsed = self.now.since(call.started);
        match call.owner.clone() {
            Owner::Acquire => self.acquire_can_connect_done(&call.machine, result, listing),
            Owner::Use(id) => self.use_call_done(id, &call, result, listing),
            Owner::Create(name) => self.create_done(&name, result, state, elapsed, listing),
            Owner::Remove(name) => self.removal_call_done(&name, &call.kind, result, elapsed),
            Owner::Drain(name) => self.drain_call_done(&name, &call.kind, result),
        }
    }

    /// Makes a record for a name seen for the first time (spec §2.4). True if it was new.
    pub(super) fn ensure_record(&mut self, name: &str, runner: &str) -> bool {
        if self.records.contains_key(name) {
            return false;
        }
        let mut r = Record::discovered(name, self.now);
        r.runner = Some(runner.to_string());
        self.records.insert(name.to_string(), r);
        self.log(Some(runner), Some(name), EventKind::Adopted);
        true
    }

    /// tryAcquire: Idle → Acquired (spec §2.3). False if the record is missing or not Idle.
    pub(super) fn try_acquire(&mut self, name: &str) -> bool {
        match self.records.get_mut(name) {
            Some(r)
                if r.state == MachineState::Idle
                    || (self.sabotage == Sabotage::AcquireUsedMachines
                        && r.state == MachineState::Used) =>
            {
                r.state = MachineState::Acquired;
                true
            }
            _ => false,
        }
    }

    /// Whether the CanConnect cache holds a valid positive result (spec §3.12).
    pub(super) fn cached_can_connect(&self, name: &str) -> bool {
        self.cache.get(name).is_some_and(|exp| self.now < *exp)
    }

    /// Records a positive CanConnect result (only positive results are cached, M10).
    pub(super) fn cache_can_connect(&mut self, name: &str) {
        self.cache
            .insert(name.to_string(), self.now + CAN_CONNECT_CACHE);
    }

    /// loadMachines (spec §3.4 step 3): the listing, then the names of all records in Creating
    /// that are not listed (records of **all** runners, in a seeded shuffle standing for Go's
    /// random map order), then only the names passing `template`'s ownership filter.
    pub(super) fn load_machines(
        &mut self,
        template: &str,
        listing: &StoreListing,
    ) -> Result<Vec<String>, String> {
        let listed = listing.names().map_err(str::to_string)?;
        let filter = NameFilter::new(template);
        let mut names: Vec<String> = listed
            .iter()
            .filter(|n| filter.matches(n))
            .cloned()
            .collect();
        let creating = self
            .records
            .values()
            .filter(|r| !r.state.is_persisted_on_disk());
        let mut intermediate: Vec<&str> = Vec::new();
        if creating.clone().next().is_some() {
            let listed_set: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
            intermediate = creating
                .filter(|r| !listed_set.contains(r.name.as_str()))
                .map(|r| r.name.as_str())
                .collect();
        }
        // The shuffle runs over all runners' intermediate names before filtering, so the
        // stream's use does not depend on which runner lists.
        shuffle(&mut intermediate, &mut self.map_order);
        names.extend(
            intermediate
                .into_iter()
                .filter(|n| filter.matches(n))
                .map(str::to_string),
        );
        Ok(names)
    }

    /// The runner's config and `[runners.machine]` with a non-empty MachineName, or `None`.
    pub(super) fn machine_runner(&self, runner: &str) -> Option<&RunnerConfig> {
        self.runners.get(runner).filter(|r| {
            r.machine
                .as_ref()
                .is_some_and(|m| !m.machine_name.is_empty())
        })
    }

    /// The runner's limits with the idle settings active now (spec §1.2: periods evaluated on
    /// the calendar instant of `now`).
    pub(super) fn limits(&self, runner: &str) -> Option<Limits> {
        let r = self.runners.get(runner)?;
        let m = r.machine.as_ref()?;
        let idle = m.idle_at(self.calendar.instant(self.now)).settings;
        Some(Limits::new(r, m, idle))
    }

    /// The coordinator of the runner with full token `token`.
    pub(super) fn coordinator(&mut self, token: &str) -> &mut Coordinator {
        self.coordinators.entry(token.to_string()).or_default()
    }
}

/// Fisher–Yates with a fixed algorithm (value-stable across `rand` versions).
pub(super) fn shuffle<T>(v: &mut [T], rng: &mut SimRng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}
