//! The per-runner coordinator (spec §3.7, quirk Q15, §0 W1), as explicit state: GitLab Runner
//! keys it by the full runner token; its parts are a growth semaphore, an available-machines
//! hint counter, and a lossy wake-up signal.

use std::collections::VecDeque;

/// Identifies a Use task (an on-demand waiter) inside the core.
pub type UseId = u64;

/// One runner's coordinator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coordinator {
    /// Driver creates of this runner running now (the semaphore's counter).
    pub growing: i64,
    /// Creations waiting for the semaphore, FIFO, with the `MaxGrowthRate` each read at its
    /// create call (machine names).
    pub waiting: VecDeque<(String, i64)>,
    /// The available-machines hint: +1 per successful creation and per Release that keeps the
    /// machine, −1 per waiter check while > 0; never reset (quirk Q15).
    pub available: u64,
    /// On-demand waiters listening for a wake-up now, in the order they started listening.
    pub listeners: VecDeque<UseId>,
}

impl Coordinator {
    /// Whether a creation with `max_growth_rate` may enter the driver now: it waits while
    /// MaxGrowthRate ≠ 0 and growing ≥ MaxGrowthRate (spec §3.7). A negative value therefore
    /// waits forever (spec §0 W1).
    pub fn may_grow(&self, max_growth_rate: i64) -> bool {
        !(max_growth_rate != 0 && self.growing >= max_growth_rate)
    }

    /// Takes the hint: true (and −1) when the counter is > 0 (spec §3.7).
    pub fn take_available(&mut self) -> bool {
        if self.available > 0 {
            self.available -= 1;
            true
        } else {
            false
        }
    }

    /// Sends the non-blocking wake-up: the longest-listening waiter receives it, or it is lost
    /// when nobody listens (spec §3.7). Returns the woken waiter.
    pub fn wake_one(&mut self) -> Option<UseId> {
        self.listeners.pop_front()
    }

    /// Stops `id` listening (it was woken otherwise).
    pub fn unlisten(&mut self, id: UseId) {
        self.listeners.retain(|l| *l != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_053_semaphore_caps_and_zero_is_uncapped() {
        // 1000 concurrent holders with cap 500: admit while may_grow, count the peak.
        let mut c = Coordinator::default();
        let mut peak = 0;
        for _ in 0..1000 {
            if c.may_grow(500) {
                c.growing += 1;
                peak = peak.max(c.growing);
            }
        }
        assert_eq!(peak, 500);
        let mut c = Coordinator::default();
        for _ in 0..1000 {
            assert!(c.may_grow(0));
            c.growing += 1;
        }
        assert_eq!(c.growing, 1000);
        // §0 W1: a negative MaxGrowthRate never admits.
        assert!(!Coordinator::default().may_grow(-1));
    }

    #[test]
    fn case_054_add_available_without_waiter() {
        let mut c = Coordinator::default();
        c.available += 1;
        assert_eq!(c.wake_one(), None, "the wake-up is lost, nothing blocks");
        assert!(c.take_available());
        assert!(!c.take_available());
    }
}
