//! Acquire, step by step (spec §3.4, §3.5, §3.8; quirks Q2, Q10, Q22, Q23; §0 W7, M9, M10).

use crate::cloud::{CallKind, DriverError, StoreListing};

use super::api::{AcquireError, Acquired, Action, RequestId};
use super::core::{Core, Owner};
use super::events::EventKind;
use super::machine::{MachineState, Tally};
use super::policy::{MachineView, can_create_idle, can_create_on_demand, should_remove};

/// The Acquire holding the provider-wide acquire lock.
#[derive(Clone, Debug)]
pub(crate) struct AcquireTask {
    request: RequestId,
    runner: String,
    /// The tally after the update pass and background creation.
    tally: Tally,
    /// `validMachines` not yet tried by find-free; tried from the back (newest first).
    candidates: Vec<String>,
}

impl Core {
    pub(super) fn start_acquire(
        &mut self,
        request: RequestId,
        runner: String,
        listing: &StoreListing,
    ) {
        if self.shutdown.is_some() {
            self.reply_acquire(request, &runner, Err(AcquireError::ShuttingDown));
            return;
        }
        // Step 1 comes before the lock.
        if !self.runners.contains_key(&runner) {
            let e = AcquireError::UnknownRunner(runner.clone());
            self.reply_acquire(request, &runner, Err(e));
            return;
        }
        if self.machine_runner(&runner).is_none() {
            self.reply_acquire(request, &runner, Err(AcquireError::MissingMachineOptions));
            return;
        }
        if self.acquiring.is_some() {
            self.log(Some(&runner), None, EventKind::AcquireQueued);
        }
        self.acquire_queue.push_back((request, runner));
        self.pump_acquires(listing);
    }

    /// Runs queued Acquires (FIFO) while nobody holds the lock.
    pub(super) fn pump_acquires(&mut self, listing: &StoreListing) {
        while self.acquiring.is_none() {
            let Some((request, runner)) = self.acquire_queue.pop_front() else {
                return;
            };
            self.run_acquire(request, runner, listing);
        }
    }

    /// Steps 3–6 under the lock.
    fn run_acquire(&mut self, request: RequestId, runner: String, listing: &StoreListing) {
        if self.shutdown.is_some() {
            // Queued before Shutdown: no update pass, no creation after it.
            self.reply_acquire(request, &runner, Err(AcquireError::ShuttingDown));
            return;
        }
        let (Some(cfg), Some(mut limits)) = (self.machine_runner(&runner), self.limits(&runner))
        else {
            // The config changed while this request queued.
            self.reply_acquire(request, &runner, Err(AcquireError::MissingMachineOptions));
            return;
        };
        let template = cfg.machine_name_template().unwrap_or_default();
        if self.sabotage == super::core::Sabotage::IgnoreMaxBuilds {
            limits.max_builds = 0;
        }
        // Step 3: load machines.
        let names = match self.load_machines(&template, listing) {
            Ok(n) => n,
            Err(e) => {
                self.reply_acquire(request, &runner, Err(AcquireError::List(e)));
                return;
            }
        };
        // Step 4: the update pass with its running tally (spec §3.8, Q2).
        let mut tally = Tally::default();
        let mut valid = Vec::with_capacity(names.len());
        for name in names {
            self.ensure_record(&name, &runner);
            let view = {
                let Some(r) = self.records.get_mut(&name) else {
                    continue;
                };
                r.last_seen = self.now;
                MachineView {
                    state: r.state,
                    used_count: r.used_count,
                    used: r.used,
                }
            };
            let decision = should_remove(&limits, &tally, &view, self.now);
            let removed = match decision {
                super::policy::Decision::Remove(_)
                    if self.sabotage == super::core::Sabotage::DropRecordInsteadOfRemoving =>
                {
                    self.records.remove(&name);
                    true
                }
                super::policy::Decision::Remove(reason) => {
                    self.remove(&name, reason, Some(&runner)).is_ok()
                }
                super::policy::Decision::Keep => false,
            };
            if let Some(r) = self.records.get(&name) {
                tally.add_record(r);
            }
            if !removed {
                valid.push(name);
            }
        }
        // Step 5: background creation.
        let mut admission = limits;
        if self.sabotage == super::core::Sabotage::SkipLimitCheck {
            admission.limit = 0;
        }
        if self.sabotage == super::core::Sabotage::IgnoreMaxGrowthRate {
            admission.max_growth_rate = 0;
        }
        while can_create_idle(&admission, &tally) {
            if self.create(&runner, MachineState::Idle, None).is_none() {
                break;
            }
            tally.creating += 1;
        }
        self.acquiring = Some(AcquireTask {
            request,
            runner,
            tally,
            candidates: valid,
        });
        self.step_acquire();
    }

    /// Step 6: find free, newest first, CanConnect with the cache allowed.
    fn step_acquire(&mut self) {
        loop {
            let Some(task) = self.acquiring.as_mut() else {
                return;
            };
            let Some(name) = task.candidates.pop() else {
                self.finish_acquire_without_machine();
                return;
            };
            let runner = task.runner.clone();
            // findFreeMachine looks names up with ensureDetails: a record deleted while this
            // Acquire waited is re-adopted here.
            self.ensure_record(&name, &runner);
            if !self.try_acquire(&name) {
                continue;
            }
            if self.cached_can_connect(&name) {
                self.finish_acquire(Ok(Acquired::Machine(name)));
                return;
            }
            self.call(Owner::Acquire, &name, CallKind::CanConnect);
            return;
        }
    }

    pub(super) fn acquire_can_connect_done(
        &mut self,
        name: &str,
        result: Result<(), DriverError>,
        listing: &StoreListing,
    ) {
        let runner = self.acquiring.as_ref().map(|t| t.runner.clone());
        match result {
            Ok(()) => {
                self.cache_can_connect(name);
                self.finish_acquire(Ok(Acquired::Machine(name.to_string())));
            }
            Err(_) => {
                self.log(runner.as_deref(), Some(name), EventKind::CannotConnect);
                let _ = self.remove(name, super::policy::REASON_UNAVAILABLE, runner.as_deref());
                self.step_acquire();
            }
        }
        self.pump_acquires(listing);
    }

    /// Step 7. The active IdleCount is read again now: the Acquire may have waited for
    /// CanConnect calls since step 4 (GitLab Runner's getters read the clock at each call).
    fn finish_acquire_without_machine(&mut self) {
        let Some(task) = self.acquiring.as_ref() else {
            return;
        };
        let tally = task.tally;
        let result = match self.limits(&task.runner) {
            None => Err(AcquireError::MissingMachineOptions),
            Some(l) if l.idle.idle_count == 0 && can_create_on_demand(&l, &tally) => {
                Ok(Acquired::Nothing)
            }
            Some(_) if tally.idle == 0 => Err(AcquireError::NoFreeMachines),
            // Idle machines were counted but none could be acquired or reached (Q10b, W7).
            Some(_) => Ok(Acquired::Nothing),
        };
        self.finish_acquire(result);
    }

    /// Replies and releases the lock; the caller pumps the queue.
    fn finish_acquire(&mut self, result: Result<Acquired, AcquireError>) {
        if let Some(task) = self.acquiring.take() {
            self.reply_acquire(task.request, &task.runner, result);
        }
    }

    fn reply_acquire(
        &mut self,
        request: RequestId,
        runner: &str,
        result: Result<Acquired, AcquireError>,
    ) {
        let outcome = match &result {
            Ok(a) => a.to_string(),
            Err(e) => e.to_string(),
        };
        let machine = match &result {
            Ok(Acquired::Machine(m)) => Some(m.clone()),
            _ => None,
        };
        self.log(
            Some(runner),
            machine.as_deref(),
            EventKind::AcquireResult { outcome },
        );
        self.emit(Action::AcquireDone {
            request,
            runner: runner.to_string(),
            result,
        });
    }
}
