//! The discrete-event engine: integer virtual time and a queue of future events.
//!
//! Next-event time (DESIGN.md principle 4): the engine jumps from one event to the next; nothing
//! is simulated between events. Events are ordered by `(time, sequence)`, where `sequence` is
//! the order in which they were scheduled, so events due at the same millisecond pop in FIFO
//! order. The engine is generic over the event payload and never reads a clock or an RNG, so a
//! run is a pure function of what is scheduled (DESIGN.md principle 3).
//!
//! **Scheduling in the past is an error** ([`ScheduleError::InThePast`]), not clamped to `now`:
//! an event in the past means the caller computed a time wrongly, and clamping would hide that
//! bug while silently reordering events. [`Engine::schedule_after`] cannot be in the past and is
//! infallible.
//!
//! Cancellation is by [`EventHandle`]; the handle carries the event's key, so cancelling removes
//! the entry at once (no lazy tombstones).

use std::collections::BTreeMap;

use crate::time::{SimDuration, SimTime};

/// Identifies one scheduled event: its due time and its scheduling sequence number.
/// Handles are unique for the engine's lifetime (sequence numbers are never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventHandle {
    /// When the event is due (ms since the scenario start).
    pub time: SimTime,
    /// Order of scheduling: 0 for the first event ever scheduled on this engine, then 1, 2, …
    pub seq: u64,
}

/// Error from [`Engine::schedule_at`] and [`Engine::advance_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The requested time is earlier than the engine's current time.
    #[error("cannot schedule at {at} (virtual time is already {now}): time never goes back")]
    InThePast {
        /// The requested time.
        at: SimTime,
        /// The engine's current time.
        now: SimTime,
    },
    /// [`Engine::advance_to`] would skip over a pending event.
    #[error("cannot advance to {to}: an event is still pending at {pending}")]
    SkipsEvent {
        /// The requested time.
        to: SimTime,
        /// The earliest pending event.
        pending: SimTime,
    },
}

/// A discrete-event queue with a current virtual time `now` (ms, [`SimTime`]).
///
/// `now` starts at [`SimTime::ZERO`] and only moves forward: to an event's time when it is
/// popped, or explicitly with [`Engine::advance_to`].
#[derive(Debug, Clone)]
pub struct Engine<E> {
    now: SimTime,
    next_seq: u64,
    queue: BTreeMap<(SimTime, u64), E>,
}

impl<E> Default for Engine<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Engine<E> {
    /// An empty engine at virtual time zero.
    pub fn new() -> Self {
        Engine {
            now: SimTime::ZERO,
            next_seq: 0,
            queue: BTreeMap::new(),
        }
    }

    /// The current virtual time: the time of the last popped event (or of the last
    /// [`Engine::advance_to`]), zero before any.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at the absolute time `at` (which may equal `now`).
    ///
    /// # Errors
    /// [`ScheduleError::InThePast`] when `at < now()`; nothing is scheduled then.
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> Result<EventHandle, ScheduleError> {
        if at < self.now {
            return Err(ScheduleError::InThePast { at, now: self.now });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.insert((at, seq), event);
        Ok(EventHandle { time: at, seq })
    }

    /// Schedules `event` at `now() + delay` (saturating at the end of time).
    pub fn schedule_after(&mut self, delay: SimDuration, event: E) -> EventHandle {
        let at = self.now.after(delay);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.insert((at, seq), event);
        EventHandle { time: at, seq }
    }

    /// Cancels a pending event and returns its payload; `None` when it already fired or was
    /// already cancelled.
    pub fn cancel(&mut self, handle: EventHandle) -> Option<E> {
        self.queue.remove(&(handle.time, handle.seq))
    }

    /// Whether `handle` is still pending.
    pub fn is_pending(&self, handle: EventHandle) -> bool {
        self.queue.contains_key(&(handle.time, handle.seq))
    }

    /// The due time of the next event, without removing it.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.queue.first_key_value().map(|(&(t, _), _)| t)
    }

    /// Removes the next event (earliest time; FIFO among equal times), advances `now` to its
    /// time, and returns it with its handle.
    pub fn pop_next(&mut self) -> Option<(EventHandle, E)> {
        let ((time, seq), event) = self.queue.pop_first()?;
        debug_assert!(time >= self.now, "queue invariant: no event in the past");
        self.now = time;
        Some((EventHandle { time, seq }, event))
    }

    /// Like [`Engine::pop_next`], but only if the next event is due at or before `deadline`;
    /// otherwise leaves the queue untouched and returns `None`.
    pub fn pop_until(&mut self, deadline: SimTime) -> Option<(EventHandle, E)> {
        match self.peek_time() {
            Some(t) if t <= deadline => self.pop_next(),
            _ => None,
        }
    }

    /// Moves `now` forward to `to` without an event (e.g. to the end of a scenario).
    ///
    /// # Errors
    /// [`ScheduleError::InThePast`] when `to < now()`; [`ScheduleError::SkipsEvent`] when an
    /// event is pending before `to` (pop it first).
    pub fn advance_to(&mut self, to: SimTime) -> Result<(), ScheduleError> {
        if to < self.now {
            return Err(ScheduleError::InThePast {
                at: to,
                now: self.now,
            });
        }
        match self.peek_time() {
            Some(pending) if pending < to => Err(ScheduleError::SkipsEvent { to, pending }),
            _ => {
                self.now = to;
                Ok(())
            }
        }
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_and_advances_now() {
        let mut e = Engine::new();
        e.schedule_at(SimTime(300), "c").unwrap();
        e.schedule_at(SimTime(100), "a").unwrap();
        e.schedule_at(SimTime(200), "b").unwrap();
        assert_eq!(e.peek_time(), Some(SimTime(100)));
        let mut seen = Vec::new();
        while let Some((h, ev)) = e.pop_next() {
            assert_eq!(e.now(), h.time);
            seen.push((h.time.0, ev));
        }
        assert_eq!(seen, vec![(100, "a"), (200, "b"), (300, "c")]);
        assert_eq!(e.now(), SimTime(300));
        assert!(e.is_empty());
    }

    #[test]
    fn equal_times_pop_fifo() {
        let mut e = Engine::new();
        for i in 0..5 {
            e.schedule_at(SimTime(50), i).unwrap();
        }
        // Scheduled later but due earlier: still first.
        e.schedule_at(SimTime(10), 99).unwrap();
        let order: Vec<i32> = std::iter::from_fn(|| e.pop_next().map(|(_, v)| v)).collect();
        assert_eq!(order, vec![99, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn schedule_after_is_relative_to_now() {
        let mut e = Engine::new();
        e.schedule_at(SimTime(1_000), "first").unwrap();
        e.pop_next();
        let h = e.schedule_after(SimDuration::from_secs(2), "second");
        assert_eq!(h.time, SimTime(3_000));
        // An event scheduled "now" from inside an event is due at now, after older ones.
        let h0 = e.schedule_after(SimDuration::ZERO, "now");
        assert_eq!(h0.time, SimTime(1_000));
        assert_eq!(e.pop_next().map(|(_, v)| v), Some("now"));
    }

    #[test]
    fn cancelled_events_never_fire() {
        let mut e = Engine::new();
        let a = e.schedule_at(SimTime(10), "a").unwrap();
        let b = e.schedule_at(SimTime(10), "b").unwrap();
        let c = e.schedule_at(SimTime(20), "c").unwrap();
        assert_eq!(e.cancel(b), Some("b"));
        assert_eq!(e.cancel(b), None, "second cancel is a no-op");
        assert!(e.is_pending(a) && !e.is_pending(b) && e.is_pending(c));
        assert_eq!(e.len(), 2);
        assert_eq!(e.pop_next().map(|(_, v)| v), Some("a"));
        assert_eq!(e.cancel(a), None, "already fired");
        assert_eq!(e.cancel(c), Some("c"));
        assert_eq!(e.peek_time(), None);
        assert!(e.pop_next().is_none());
    }

    #[test]
    fn time_never_goes_back() {
        let mut e = Engine::new();
        e.schedule_at(SimTime(500), ()).unwrap();
        e.pop_next();
        assert_eq!(
            e.schedule_at(SimTime(499), ()),
            Err(ScheduleError::InThePast {
                at: SimTime(499),
                now: SimTime(500)
            })
        );
        assert!(e.is_empty(), "a refused event is not queued");
        assert!(
            e.schedule_at(SimTime(500), ()).is_ok(),
            "now itself is allowed"
        );
        assert!(e.advance_to(SimTime(400)).is_err());
        assert_eq!(
            e.advance_to(SimTime(600)),
            Err(ScheduleError::SkipsEvent {
                to: SimTime(600),
                pending: SimTime(500)
            })
        );
        e.pop_next();
        e.advance_to(SimTime(600)).unwrap();
        assert_eq!(e.now(), SimTime(600));
    }

    #[test]
    fn pop_until_respects_the_deadline() {
        let mut e = Engine::new();
        e.schedule_at(SimTime(100), 1).unwrap();
        e.schedule_at(SimTime(200), 2).unwrap();
        assert_eq!(e.pop_until(SimTime(150)).map(|(_, v)| v), Some(1));
        assert!(e.pop_until(SimTime(150)).is_none());
        assert_eq!(e.now(), SimTime(100), "a refused pop does not move time");
        assert_eq!(e.pop_until(SimTime(200)).map(|(_, v)| v), Some(2));
    }

    #[test]
    fn handles_are_unique_even_at_equal_times() {
        let mut e = Engine::new();
        let a = e.schedule_at(SimTime(5), ()).unwrap();
        let b = e.schedule_at(SimTime(5), ()).unwrap();
        assert_ne!(a, b);
        assert!(a.seq < b.seq);
    }
}
