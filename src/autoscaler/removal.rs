//! Removal execution and retries (spec §3.9; quirks Q12, Q13, Q21; §0 M9): Exist, the
//! provider-wide stuck-removal lock, `stop` (1 min), `rm -y`, 30 s retry sleeps, give-up after
//! MaxRemovalAttempts with `rm -f`, then the record is deleted (a directory that stays listed
//! is re-adopted by the next listing).

use crate::cloud::{CallKind, DriverError};
use crate::time::SimDuration;

use super::core::{Core, Owner, RemovalOp, RemovalPhase};
use super::events::EventKind;
use super::machine::{MachineState, STUCK_RETRY_COUNT};
use super::metrics::ActionLabel;
use super::timers::Timer;

/// The sleep after a failed `rm -y` (`removeRetryInterval`, spec §3.9).
pub const REMOVE_RETRY_INTERVAL: SimDuration = SimDuration::from_secs(30);

/// Error of [`Core::remove`] when the name has no record ("machine not found", spec §3.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineNotFound;

impl Core {
    /// remove(name, reason) (spec §3.9): Reason, State = Removing, RetryCount = 0, Used = now,
    /// then finalizeRemoval runs asynchronously. A second request while a removal runs only
    /// updates the record.
    pub(super) fn remove(
        &mut self,
        name: &str,
        reason: &str,
        runner: Option<&str>,
    ) -> Result<(), MachineNotFound> {
        let now = self.now;
        let r = self.records.get_mut(name).ok_or(MachineNotFound)?;
        r.reason = reason.to_string();
        r.state = MachineState::Removing;
        r.retry_count = 0;
        r.used = now;
        let max_attempts = r.removal_attempts();
        let runner = runner.map(str::to_string).or_else(|| r.runner.clone());
        self.log(
            runner.as_deref(),
            Some(name),
            EventKind::RemovalRequested {
                reason: reason.to_string(),
            },
        );
        if self.removals.contains_key(name) {
            return Ok(());
        }
        let signal = self.new_signal(name);
        self.removals.insert(
            name.to_string(),
            RemovalOp {
                signal,
                runner,
                attempt: 0,
                max_attempts,
                holds_stuck_lock: false,
                phase: RemovalPhase::Exists,
            },
        );
        self.start_removal_attempt(name);
        Ok(())
    }

    fn start_removal_attempt(&mut self, name: &str) {
        let Some(op) = self.removals.get_mut(name) else {
            return;
        };
        op.attempt += 1;
        op.phase = RemovalPhase::Exists;
        self.call(Owner::Remove(name.to_string()), name, CallKind::Exists);
    }

    fn start_stop(&mut self, name: &str) {
        if let Some(op) = self.removals.get_mut(name) {
            op.phase = RemovalPhase::Stop;
            self.call(Owner::Remove(name.to_string()), name, CallKind::Stop);
        }
    }

    pub(super) fn removal_call_done(
        &mut self,
        name: &str,
        kind: &CallKind,
        result: Result<(), DriverError>,
        elapsed: SimDuration,
    ) {
        let runner = self.removals.get(name).and_then(|o| o.runner.clone());
        let runner = runner.as_deref();
        match kind {
            CallKind::Exists => {
                if result.is_err() {
                    self.log(runner, Some(name), EventKind::RemovalSkipped);
                    self.finish_removal(name);
                    return;
                }
                let stuck = self
                    .records
                    .get(name)
                    .is_some_and(|r| r.retry_count >= STUCK_RETRY_COUNT);
                if !stuck {
                    self.start_stop(name);
                } else if self.stuck_lock.is_none() {
                    self.stuck_lock = Some(name.to_string());
                    if let Some(op) = self.removals.get_mut(name) {
                        op.holds_stuck_lock = true;
                    }
                    self.start_stop(name);
                } else {
                    if let Some(op) = self.removals.get_mut(name) {
                        op.phase = RemovalPhase::WaitingForStuckLock;
                    }
                    self.stuck_queue.push_back(name.to_string());
                    self.log(runner, Some(name), EventKind::WaitingForStuckLock);
                }
            }
            CallKind::Stop => {
                self.metrics.stopping.observe_ms(elapsed.as_millis());
                if let Err(e) = result {
                    self.log(
                        runner,
                        Some(name),
                        EventKind::StopFailed { error: e.message },
                    );
                }
                if let Some(op) = self.removals.get_mut(name) {
                    op.phase = RemovalPhase::Remove;
                    self.call(Owner::Remove(name.to_string()), name, CallKind::Remove);
                }
            }
            CallKind::Remove => {
                self.metrics.removal.observe_ms(elapsed.as_millis());
                match result {
                    Ok(()) => {
                        self.cache.remove(name);
                        self.finish_removal(name);
                    }
                    Err(e) => {
                        let attempt = self.removals.get(name).map_or(0, |o| o.attempt);
                        let retry_count = match self.records.get_mut(name) {
                            Some(r) => {
                                r.retry_count += 1;
                                r.retry_count
                            }
                            None => 0,
                        };
                        self.log(
                            runner,
                            Some(name),
                            EventKind::RemoveAttemptFailed {
                                attempt,
                                retry_count,
                                error: e.message,
                            },
                        );
                        if let Some(op) = self.removals.get_mut(name) {
                            op.phase = RemovalPhase::RetrySleep;
                        }
                        self.timers.set(
                            self.now + REMOVE_RETRY_INTERVAL,
                            Timer::RemovalRetry(name.to_string()),
                        );
                    }
                }
            }
            CallKind::ForceRemove => {
                match result {
                    Ok(()) => {
                        self.cache.remove(name);
                    }
                    Err(e) => self.log(
                        runner,
                        Some(name),
                        EventKind::ForceRemoveFailed { error: e.message },
                    ),
                }
                self.finish_removal(name);
            }
            _ => {}
        }
    }

    /// The 30 s sleep ended: the attempt failed; retry, or give up after the last one.
    pub(super) fn removal_sleep_done(&mut self, name: &str) {
        let Some(op) = self.removals.get_mut(name) else {
            return;
        };
        let (attempt, max) = (op.attempt, op.max_attempts);
        if op.holds_stuck_lock {
            op.holds_stuck_lock = false;
            self.release_stuck_lock();
        }
        if attempt < max {
            self.start_removal_attempt(name);
        } else {
            let runner = self.removals.get(name).and_then(|o| o.runner.clone());
            self.log(runner.as_deref(), Some(name), EventKind::GaveUp);
            if let Some(r) = self.records.get_mut(name) {
                r.removal_gave_up = true;
            }
            if let Some(op) = self.removals.get_mut(name) {
                op.phase = RemovalPhase::ForceRemove;
            }
            self.call(Owner::Remove(name.to_string()), name, CallKind::ForceRemove);
        }
    }

    fn release_stuck_lock(&mut self) {
        self.stuck_lock = None;
        while let Some(next) = self.stuck_queue.pop_front() {
            if let Some(op) = self.removals.get_mut(&next) {
                op.holds_stuck_lock = true;
                self.stuck_lock = Some(next.clone());
                self.start_stop(&next);
                return;
            }
        }
    }

    /// Deletes the record and counts `removed` (give-ups included, Q12).
    fn finish_removal(&mut self, name: &str) {
        let Some(op) = self.removals.remove(name) else {
            return;
        };
        if op.holds_stuck_lock {
            self.release_stuck_lock();
        }
        let Some(r) = self.records.remove(name) else {
            self.fire_signal(name, op.signal, Some(false));
            return;
        };
        self.fire_signal(name, op.signal, Some(r.removal_gave_up));
        self.metrics.count(ActionLabel::Removed, &r.targets);
        self.log(
            op.runner.as_deref(),
            Some(name),
            EventKind::Removed {
                gave_up: r.removal_gave_up,
            },
        );
    }
}
