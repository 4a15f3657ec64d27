//! Use (spec §3.6 with §0 W6, W7, M12, M13; the coordinator of §3.7; quirks Q10, Q15, Q24)
//! and Release (spec §3.11).
//!
//! A Use request becomes a task that walks GitLab Runner's steps as explicit phases: the fast
//! path's `config` call; up to 3 useMachine attempts (find existing, newest first, `config`
//! skipping the cache; else create and wait, listening on the runner's coordinator with a 1 s
//! poll timer restarted on every loop turn) with a 1 s sleep after each failed attempt;
//! credentials (`config` again, then `url` + `inspect`); then Used. Use takes no deadline
//! (M12): only the driver timeouts bound it.

use crate::cloud::{CallKind, DriverError, StoreListing};
use crate::time::SimDuration;

use super::api::{Action, RequestId, UseError, UsedMachine};
use super::coordinator::UseId;
use super::core::{Core, Owner, PendingCall};
use super::events::EventKind;
use super::machine::MachineState;
use super::metrics::ActionLabel;
use super::policy::{REASON_RELEASE_TOO_MANY_BUILDS, REASON_UNAVAILABLE};
use super::timers::{Timer, TimerKey};

/// useMachine attempts per Use (spec §3.6 step 2).
pub const USE_ATTEMPTS: u32 = 3;
/// `provisionRetryInterval`: the sleep after each failed useMachine attempt (spec §3.6).
pub const PROVISION_RETRY_INTERVAL: SimDuration = SimDuration::from_secs(1);
/// The on-demand waiter's poll interval (spec §3.6 step 2b, §3.7).
pub const WAITER_POLL_INTERVAL: SimDuration = SimDuration::from_secs(1);
/// The error of credentials when `config` fails. GitLab Runner's exact text is not in the
/// spec; this wording is simrun's.
pub const CANNOT_CONNECT: &str = "can't connect to the machine";

/// Where a Use task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UsePhase {
    /// Fast path: `config` on the machine from Acquire.
    FastPath,
    /// Find existing: `config` on a candidate.
    FindExisting,
    /// Create and wait: listening for the own creation, a wake-up, or the 1 s poll.
    Listening,
    /// The 1 s sleep after a failed attempt.
    RetrySleep,
    /// Credentials: `config`.
    CredentialsConnect,
    /// Credentials: `url` + `inspect`.
    Credentials,
}

/// One Use request in progress.
#[derive(Clone, Debug)]
pub(crate) struct UseTask {
    request: RequestId,
    runner: String,
    token: String,
    attempt: u32,
    phase: UsePhase,
    /// Find-existing candidates not yet tried (from the back: newest first).
    candidates: Vec<String>,
    /// Inside the create-and-wait loop (a fruitless find-existing returns to the loop).
    waiting: bool,
    /// The own on-demand creation while this task still waits for it.
    own: Option<String>,
    /// Its result, when it finished while the task was busy.
    own_done: Option<Result<(), String>>,
    poll: Option<TimerKey>,
    /// The machine obtained, and whether it is new data.
    machine: Option<(String, bool)>,
    last_error: String,
}

impl Core {
    pub(super) fn start_use(
        &mut self,
        request: RequestId,
        runner: String,
        acquired: Option<String>,
        listing: &StoreListing,
    ) {
        if self.shutdown.is_some() {
            self.reply_use(request, &runner, Err(UseError::ShuttingDown));
            return;
        }
        let Some(cfg) = self.runners.get(&runner) else {
            let e = UseError::UnknownRunner(runner.clone());
            self.reply_use(request, &runner, Err(e));
            return;
        };
        let token = cfg.token.expose().to_string();
        if self.machine_runner(&runner).is_none() {
            self.reply_use(request, &runner, Err(UseError::MissingMachineOptions));
            return;
        }
        let id = self.next_id();
        self.uses.insert(
            id,
            UseTask {
                request,
                runner,
                token,
                attempt: 0,
                phase: UsePhase::FastPath,
                candidates: Vec::new(),
                waiting: false,
                own: None,
                own_done: None,
                poll: None,
                machine: None,
                last_error: String::new(),
            },
        );
        match acquired {
            Some(m) if self.records.get(&m).is_some_and(|r| r.state.can_be_used()) => {
                self.call(Owner::Use(id), &m, CallKind::CanConnect);
            }
            _ => self.begin_attempt(id, listing),
        }
    }

    fn task(&mut self, id: UseId) -> Option<&mut UseTask> {
        self.uses.get_mut(&id)
    }

    /// One useMachine attempt: find existing first.
    fn begin_attempt(&mut self, id: UseId, listing: &StoreListing) {
        let Some(t) = self.task(id) else { return };
        t.attempt += 1;
        t.waiting = false;
        self.find_existing(id, listing);
    }

    fn find_existing(&mut self, id: UseId, listing: &StoreListing) {
        let Some(runner) = self.task(id).map(|t| t.runner.clone()) else {
            return;
        };
        let Some(template) = self
            .machine_runner(&runner)
            .and_then(|r| r.machine_name_template())
        else {
            self.attempt_failed(id, "missing Machine options".to_string());
            return;
        };
        match self.load_machines(&template, listing) {
            Ok(names) => {
                if let Some(t) = self.task(id) {
                    t.candidates = names;
                    t.phase = UsePhase::FindExisting;
                }
                self.step_find(id, listing);
            }
            // M13: a listing error ends useMachine, also inside the wait loop.
            Err(e) => self.attempt_failed(id, e),
        }
    }

    fn step_find(&mut self, id: UseId, listing: &StoreListing) {
        loop {
            let Some(t) = self.task(id) else { return };
            let runner = t.runner.clone();
            let Some(name) = t.candidates.pop() else {
                self.nothing_found(id, listing);
                return;
            };
            self.ensure_record(&name, &runner);
            if self.try_acquire(&name) {
                self.call(Owner::Use(id), &name, CallKind::CanConnect);
                return;
            }
        }
    }

    /// Nothing free: start create-and-wait, or go back to waiting inside it.
    fn nothing_found(&mut self, id: UseId, listing: &StoreListing) {
        let Some(t) = self.task(id) else { return };
        if t.waiting {
            self.wait_turn(id, listing);
            return;
        }
        let runner = t.runner.clone();
        match self.create(&runner, MachineState::Idle, Some(id)) {
            Some(name) => {
                if let Some(t) = self.task(id) {
                    t.own = Some(name);
                    t.own_done = None;
                    t.waiting = true;
                }
                self.wait_turn(id, listing);
            }
            None if self.shutdown.is_some() => {
                self.attempt_failed(id, UseError::ShuttingDown.to_string())
            }
            None => self.attempt_failed(id, "missing Machine options".to_string()),
        }
    }

    /// One turn of the create-and-wait loop: the own creation's result if it is ready, else
    /// listen with a fresh 1 s timer (M13).
    fn wait_turn(&mut self, id: UseId, listing: &StoreListing) {
        let Some(t) = self.task(id) else { return };
        if let Some(done) = t.own_done.take() {
            let own = t.own.clone();
            match done {
                Err(e) => {
                    self.attempt_failed(id, e);
                    return;
                }
                Ok(()) => {
                    if let Some(own) = own
                        && self.try_acquire(&own)
                    {
                        self.got_machine(id, own, true);
                        return;
                    }
                    // Someone else took it: keep waiting.
                }
            }
        }
        let Some(t) = self.task(id) else { return };
        t.phase = UsePhase::Listening;
        let token = t.token.clone();
        let key = self
            .timers
            .set(self.now + WAITER_POLL_INTERVAL, Timer::WaiterPoll(id));
        if let Some(t) = self.task(id) {
            t.poll = Some(key);
        }
        self.coordinator(&token).listeners.push_back(id);
        let _ = listing;
    }

    /// A listening waiter got the wake-up (`woken`) or its 1 s timer fired.
    pub(super) fn waiter_signalled(&mut self, id: UseId, woken: bool, listing: &StoreListing) {
        let Some(t) = self.task(id) else { return };
        if t.phase != UsePhase::Listening {
            return;
        }
        let token = t.token.clone();
        if let Some(key) = t.poll.take()
            && woken
        {
            self.timers.cancel(key);
        }
        let coord = self.coordinator(&token);
        coord.unlisten(id);
        if coord.take_available() {
            self.find_existing(id, listing);
        } else {
            self.wait_turn(id, listing);
        }
    }

    /// Sends the coordinator's non-blocking wake-up (spec §3.7).
    pub(super) fn wake_up(&mut self, token: &str, listing: &StoreListing) {
        if let Some(id) = self.coordinator(token).wake_one() {
            self.waiter_signalled(id, true, listing);
        }
    }

    /// The own on-demand creation finished.
    pub(super) fn own_creation_done(
        &mut self,
        id: UseId,
        name: &str,
        result: Result<(), String>,
        listing: &StoreListing,
    ) {
        let Some(t) = self.task(id) else { return };
        if t.own.as_deref() != Some(name) {
            return;
        }
        t.own_done = Some(result);
        if t.phase == UsePhase::Listening {
            let token = t.token.clone();
            if let Some(key) = t.poll.take() {
                self.timers.cancel(key);
            }
            self.coordinator(&token).unlisten(id);
            self.wait_turn(id, listing);
        }
    }

    /// No longer waits for its own creation (it becomes extra Idle capacity, Q24).
    fn detach_own(&mut self, id: UseId) {
        let Some(t) = self.task(id) else { return };
        t.own_done = None;
        if let Some(own) = t.own.take()
            && let Some(op) = self.creations.get_mut(&own)
            && op.waiter == Some(id)
        {
            op.waiter = None;
            let runner = op.runner.clone();
            self.log(Some(&runner), Some(&own), EventKind::CreationLeftByWaiter);
        }
    }

    fn attempt_failed(&mut self, id: UseId, error: String) {
        self.detach_own(id);
        let Some(t) = self.task(id) else { return };
        t.last_error = error.clone();
        t.waiting = false;
        t.phase = UsePhase::RetrySleep;
        let (attempt, runner) = (t.attempt, t.runner.clone());
        self.log(
            Some(&runner),
            None,
            EventKind::UseAttemptFailed { attempt, error },
        );
        self.timers
            .set(self.now + PROVISION_RETRY_INTERVAL, Timer::UseRetry(id));
    }

    pub(super) fn use_retry_sleep_done(&mut self, id: UseId, listing: &StoreListing) {
        let Some(t) = self.task(id) else { return };
        if t.attempt < USE_ATTEMPTS {
            self.begin_attempt(id, listing);
        } else {
            let e = UseError::Machine(t.last_error.clone());
            self.finish_use(id, Err(e));
        }
    }

    fn got_machine(&mut self, id: UseId, name: String, new_data: bool) {
        self.detach_own(id);
        let Some(t) = self.task(id) else { return };
        t.machine = Some((name.clone(), new_data));
        t.phase = UsePhase::CredentialsConnect;
        self.call(Owner::Use(id), &name, CallKind::CanConnect);
    }

    pub(super) fn use_call_done(
        &mut self,
        id: UseId,
        call: &PendingCall,
        result: Result<(), DriverError>,
        listing: &StoreListing,
    ) {
        let Some(t) = self.task(id) else { return };
        let phase = t.phase;
        let runner = t.runner.clone();
        let name = call.machine.clone();
        if result.is_ok() && call.kind == CallKind::CanConnect {
            self.cache_can_connect(&name);
        }
        match (phase, result) {
            (UsePhase::FastPath, Ok(())) => self.got_machine(id, name, false),
            (UsePhase::FastPath, Err(_)) => {
                self.log(Some(&runner), Some(&name), EventKind::CannotConnect);
                self.begin_attempt(id, listing);
            }
            (UsePhase::FindExisting, Ok(())) => self.got_machine(id, name, true),
            (UsePhase::FindExisting, Err(_)) => {
                self.log(Some(&runner), Some(&name), EventKind::CannotConnect);
                let _ = self.remove(&name, REASON_UNAVAILABLE, Some(&runner));
                self.step_find(id, listing);
            }
            (UsePhase::CredentialsConnect, Ok(())) => {
                if let Some(t) = self.task(id) {
                    t.phase = UsePhase::Credentials;
                }
                self.call(Owner::Use(id), &name, CallKind::Credentials);
            }
            (UsePhase::CredentialsConnect, Err(_)) => {
                self.credentials_failed(id, CANNOT_CONNECT.to_string(), listing)
            }
            (UsePhase::Credentials, Ok(())) => self.mark_used(id),
            (UsePhase::Credentials, Err(e)) => self.credentials_failed(id, e.message, listing),
            (UsePhase::Listening | UsePhase::RetrySleep, _) => {}
        }
    }

    /// Step 4's failure: a machine from step 2 is Released at once (spec §3.6 step 4).
    fn credentials_failed(&mut self, id: UseId, error: String, listing: &StoreListing) {
        let Some(t) = self.task(id) else { return };
        if let Some((name, true)) = t.machine.clone() {
            let runner = t.runner.clone();
            self.release(&runner, &name, listing);
        }
        self.finish_use(id, Err(UseError::Credentials(error)));
    }

    /// Step 5: State = Used, Used = now, UsedCount + 1, `used` counter.
    fn mark_used(&mut self, id: UseId) {
        let Some(t) = self.task(id) else { return };
        let Some((name, new_data)) = t.machine.clone() else {
            return;
        };
        let now = self.now;
        let targets = match self.records.get_mut(&name) {
            Some(r) => {
                if self.sabotage != super::core::Sabotage::SkipMarkUsed {
                    r.state = MachineState::Used;
                }
                r.used = now;
                r.used_count += 1;
                r.targets.clone()
            }
            None => {
                let e = UseError::Machine(format!("machine {name} vanished"));
                self.finish_use(id, Err(e));
                return;
            }
        };
        self.metrics.count(ActionLabel::Used, &targets);
        self.finish_use(
            id,
            Ok(UsedMachine {
                machine: name,
                new_data,
            }),
        );
    }

    fn finish_use(&mut self, id: UseId, result: Result<UsedMachine, UseError>) {
        let Some(t) = self.uses.remove(&id) else {
            return;
        };
        if let Some(key) = t.poll {
            self.timers.cancel(key);
        }
        self.coordinator(&t.token).unlisten(id);
        self.reply_use(t.request, &t.runner, result);
    }

    fn reply_use(
        &mut self,
        request: RequestId,
        runner: &str,
        result: Result<UsedMachine, UseError>,
    ) {
        match &result {
            Ok(m) => self.log(
                Some(runner),
                Some(&m.machine),
                EventKind::Used {
                    new_data: m.new_data,
                },
            ),
            Err(e) => self.log(
                Some(runner),
                None,
                EventKind::UseFailed {
                    error: e.to_string(),
                },
            ),
        }
        self.emit(Action::UseDone {
            request,
            runner: runner.to_string(),
            result,
        });
    }

    /// Release (spec §3.11): Used → Used = now (an Acquired machine keeps its `Used`, §2.2);
    /// MaxBuilds reached → remove("Too many builds") and stop; else Idle, available counter +1
    /// and a wake-up.
    ///
    /// GitLab Runner does the last step unconditionally. So here a machine **without a
    /// record** (deleted by a finished removal, later by a shutdown drain) still raises the
    /// runner's available counter and sends the wake-up, and no record is made (it stays
    /// absent). An Idle record (a second Release) goes through the same steps, so MaxBuilds
    /// can remove it. A Creating or Removing record keeps its state and is not removed again
    /// (GitLab Runner would set it Idle, or restart its removal; only a shutdown drain racing
    /// a job's Release can get there, and that issue decides); it still gets the counter +1
    /// and the wake-up. A runner unknown to this core (case 74) has no coordinator: nothing
    /// happens but the log entry.
    pub(super) fn release(&mut self, runner: &str, machine: &str, listing: &StoreListing) {
        let now = self.now;
        let Some(cfg) = self.runners.get(runner) else {
            self.log(Some(runner), Some(machine), EventKind::ReleaseIgnored);
            return;
        };
        let token = cfg.token.expose().to_string();
        let mut max_builds = cfg.machine.as_ref().map_or(0, |m| m.max_builds);
        if self.sabotage == super::core::Sabotage::IgnoreMaxBuilds {
            max_builds = 0;
        }
        match self.records.get_mut(machine) {
            Some(r)
                if matches!(
                    r.state,
                    MachineState::Acquired | MachineState::Used | MachineState::Idle
                ) =>
            {
                let held = r.state != MachineState::Idle;
                if r.state == MachineState::Used {
                    r.used = now;
                }
                let used_count = r.used_count;
                if max_builds > 0
                    && used_count >= max_builds
                    && self
                        .remove(machine, REASON_RELEASE_TOO_MANY_BUILDS, Some(runner))
                        .is_ok()
                {
                    return;
                }
                if let Some(r) = self.records.get_mut(machine) {
                    r.state = MachineState::Idle;
                }
                let kind = if held {
                    EventKind::Released
                } else {
                    EventKind::ReleasedNotHeld
                };
                self.log(Some(runner), Some(machine), kind);
            }
            Some(_) => self.log(Some(runner), Some(machine), EventKind::ReleasedNotHeld),
            None => self.log(Some(runner), Some(machine), EventKind::ReleasedUnknown),
        }
        self.coordinator(&token).available += 1;
        self.wake_up(&token, listing);
    }
}
