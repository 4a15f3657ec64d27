//! The core's timers: an ordered queue keyed by (time, sequence) so that ties fire in the order
//! they were set (deterministic).

use std::collections::BTreeMap;

use crate::cloud::CallId;
use crate::time::SimTime;

use super::coordinator::UseId;

/// What a timer does when it fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A driver call's timeout (spec §3.12).
    CallTimeout(CallId),
    /// The 30 s sleep after a failed `rm -y` (`removeRetryInterval`, spec §3.9).
    RemovalRetry(String),
    /// The 1 s sleep after a failed useMachine attempt (`provisionRetryInterval`, spec §3.6).
    UseRetry(UseId),
    /// The 1 s poll of an on-demand waiter (spec §3.6 step 2b, §3.7).
    WaiterPoll(UseId),
    /// The shutdown drain's budget ends (`shutdown_timeout`, spec §4.3).
    DrainDeadline,
    /// A drain retry backoff ends (`retry_backoff × k`, spec §4.3 step 4d).
    DrainBackoff(String),
}

/// A key to cancel a timer.
pub type TimerKey = (SimTime, u64);

/// Pending timers.
#[derive(Clone, Debug, Default)]
pub struct Timers {
    queue: BTreeMap<TimerKey, Timer>,
    seq: u64,
}

impl Timers {
    /// Sets `timer` to fire at `at`.
    pub fn set(&mut self, at: SimTime, timer: Timer) -> TimerKey {
        self.seq += 1;
        let key = (at, self.seq);
        self.queue.insert(key, timer);
        key
    }

    /// Cancels a timer (no effect if it already fired).
    pub fn cancel(&mut self, key: TimerKey) {
        self.queue.remove(&key);
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<SimTime> {
        self.queue.keys().next().map(|k| k.0)
    }

    /// Removes and returns the earliest timer due at or before `now`.
    pub fn pop_due(&mut self, now: SimTime) -> Option<Timer> {
        let key = *self.queue.keys().next()?;
        if key.0 > now {
            return None;
        }
        self.queue.remove(&key)
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}
