//! Creation (spec §3.10, §2.3, §3.7 growth semaphore, §3.12 target labels; quirks Q14, Q17;
//! §0 W1, M16).

use crate::cloud::{CallKind, DriverError, DriverState, StoreListing};
use crate::time::SimDuration;

use super::coordinator::UseId;
use super::core::{Core, CreateOp, Owner};
use super::events::EventKind;
use super::machine::{MachineState, Record};
use super::metrics::{ActionLabel, TargetLabels};
use super::naming::{new_machine_name, sprintf_s};
use super::policy::REASON_FAILED_TO_CREATE;

impl Core {
    /// create(): a new name, a record in Creating (UsedCount 0, RetryCount 0, Used = LastSeen =
    /// now, MaxRemovalAttempts copied), then the driver create through the runner's growth
    /// semaphore (spec §2.3, §3.7). `waiter` is the on-demand Use task waiting for it.
    /// Returns the name, or `None` when the runner has no machine options.
    ///
    /// A freshly drawn name that already has a record is drawn again (GitLab Runner would
    /// reuse the record; with 32 random bits per second this never happens in practice).
    pub(super) fn create(
        &mut self,
        runner: &str,
        target: MachineState,
        waiter: Option<UseId>,
    ) -> Option<String> {
        if self.shutdown.is_some() {
            // No creation after Shutdown (see the drain module).
            return None;
        }
        let cfg = self.machine_runner(runner)?;
        let template = cfg.machine_name_template()?;
        let token = cfg.token.expose().to_string();
        let machine = cfg.machine.as_ref()?;
        let (mut mgr, attempts) = (machine.max_growth_rate, machine.max_removal_attempts);
        if self.sabotage == super::core::Sabotage::IgnoreMaxGrowthRate {
            mgr = 0;
        }
        let unix = self.calendar.unix_seconds(self.now);
        let name = loop {
            let n = new_machine_name(&template, unix, &mut self.naming);
            if !self.records.contains_key(&n) {
                break n;
            }
        };
        let mut r = Record::discovered(&name, self.now);
        r.state = MachineState::Creating;
        r.used_count = 0;
        r.max_removal_attempts = attempts;
        r.runner = Some(runner.to_string());
        self.records.insert(name.clone(), r);
        let signal = self.new_signal(&name);
        self.creations.insert(
            name.clone(),
            CreateOp {
                signal,
                runner: runner.to_string(),
                token: token.clone(),
                target,
                waiter,
                driver_started: None,
            },
        );
        self.log(
            Some(runner),
            Some(&name),
            EventKind::CreationStarted {
                target,
                on_demand: waiter.is_some(),
            },
        );
        let coord = self.coordinator(&token);
        if coord.may_grow(mgr) {
            coord.growing += 1;
            self.start_driver_create(&name);
        } else {
            coord.waiting.push_back((name.clone(), mgr));
            let growing = coord.growing;
            self.log(
                Some(runner),
                Some(&name),
                EventKind::WaitingForGrowthCapacity {
                    growing,
                    max_growth_rate: mgr,
                },
            );
        }
        Some(name)
    }

    /// The driver create, with `MachineDriver`, `MachineOptions` then `MachineOptionsWithName`
    /// formatted with the name (cases 76, 77), read from the runner's config now.
    fn start_driver_create(&mut self, name: &str) {
        let Some(op) = self.creations.get_mut(name) else {
            return;
        };
        op.driver_started = Some(self.now);
        let runner = op.runner.clone();
        let (driver, options) = match self.runners.get(&runner).and_then(|r| r.machine.as_ref()) {
            Some(m) => (
                m.machine_driver.clone(),
                m.machine_options
                    .iter()
                    .cloned()
                    .chain(
                        m.machine_options_with_name
                            .iter()
                            .map(|o| sprintf_s(o, name)),
                    )
                    .collect(),
            ),
            None => (String::new(), Vec::new()),
        };
        self.call(
            Owner::Create(name.to_string()),
            name,
            CallKind::Create { driver, options },
        );
    }

    /// The driver create finished (or timed out after 1 h).
    pub(super) fn create_done(
        &mut self,
        name: &str,
        result: Result<(), DriverError>,
        state: Option<DriverState>,
        elapsed: SimDuration,
        listing: &StoreListing,
    ) {
        let Some(op) = self.creations.remove(name) else {
            return;
        };
        let signal = op.signal;
        self.creation_finished(name, op, result, state, elapsed, listing);
        // The in-flight signal fires last: after a failed create, the removal's signal has
        // already replaced it (the hand-off the drain follows, spec §4.3 step 4a, case 109).
        self.fire_signal(name, signal, None);
    }

    fn creation_finished(
        &mut self,
        name: &str,
        op: CreateOp,
        result: Result<(), DriverError>,
        state: Option<DriverState>,
        elapsed: SimDuration,
        listing: &StoreListing,
    ) {
        // Leave the growth semaphore and wake one waiter, which re-checks its condition.
        let coord = self.coordinator(&op.token);
        coord.growing -= 1;
        if let Some((next, mgr)) = coord.waiting.pop_front() {
            if coord.may_grow(mgr) {
                coord.growing += 1;
                self.start_driver_create(&next);
            } else {
                coord.waiting.push_back((next, mgr));
            }
        }
        let targets = TargetLabels::from_driver_state(&state.unwrap_or_default());
        if let Some(r) = self.records.get_mut(name) {
            r.targets = targets.clone();
        }
        let runner = op.runner.clone();
        match result {
            Ok(()) => {
                if let Some(r) = self.records.get_mut(name) {
                    r.state = op.target;
                    r.used = self.now;
                }
                self.metrics.count(ActionLabel::Created, &targets);
                self.metrics.creation.observe_ms(elapsed.as_millis());
                self.log(
                    Some(&runner),
                    Some(name),
                    EventKind::Created {
                        duration_ms: elapsed.as_millis(),
                    },
                );
                // Available counter +1 and the wake-up (spec §2.3, §3.7), and the owner's
                // result (§3.6 step 2b). In GitLab Runner the signal is sent first, but a
                // woken *other* waiter starts its find-existing with `docker-machine ls`,
                // while the owner only reads its result channel and tries its own machine:
                // the owner almost always wins. Listing is instantaneous here, so the owner's
                // completion is delivered first whenever the wake-up would go to another
                // waiter. When the owner itself is the longest listener it receives the
                // signal itself (as in Go) and takes the find-existing path.
                self.coordinator(&op.token).available += 1;
                let owner_is_woken = op
                    .waiter
                    .is_some_and(|w| self.coordinator(&op.token).listeners.front() == Some(&w));
                match op.waiter {
                    Some(w) if !owner_is_woken => {
                        self.own_creation_done(w, name, Ok(()), listing);
                        self.wake_up(&op.token, listing);
                    }
                    Some(w) => {
                        self.wake_up(&op.token, listing);
                        self.own_creation_done(w, name, Ok(()), listing);
                    }
                    None => self.wake_up(&op.token, listing),
                }
            }
            Err(e) => {
                self.metrics.count(ActionLabel::CreationFailed, &targets);
                self.metrics.failed_creation.observe_ms(elapsed.as_millis());
                self.log(
                    Some(&runner),
                    Some(name),
                    EventKind::CreationFailed {
                        error: e.message.clone(),
                    },
                );
                let _ = self.remove(name, REASON_FAILED_TO_CREATE, Some(&runner));
                if let Some(w) = op.waiter {
                    self.own_creation_done(w, name, Err(e.message), listing);
                }
            }
        }
    }
}
