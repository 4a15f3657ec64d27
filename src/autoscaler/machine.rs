//! Machine records, states and the per-state tally (spec §2.1–§2.4, conventions of the spec's
//! preamble).

use std::fmt;

use crate::time::{SimDuration, SimTime};

use super::metrics::TargetLabels;

/// A machine's state (spec §2.1), in GitLab Runner's enum order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MachineState {
    /// Created and free; can be acquired.
    Idle,
    /// Reserved by Acquire or Use's find-existing step for one job; not yet Used.
    Acquired,
    /// `docker-machine create` queued or running.
    Creating,
    /// Running a job.
    Used,
    /// Being stopped and removed (stuck when RetryCount ≥ 3, [`STUCK_RETRY_COUNT`]).
    Removing,
}

impl fmt::Display for MachineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MachineState::Idle => "Idle",
            MachineState::Acquired => "Acquired",
            MachineState::Creating => "Creating",
            MachineState::Used => "Used",
            MachineState::Removing => "Removing",
        })
    }
}

impl MachineState {
    /// "is used" (cannot be acquired) ⇔ state ≠ Idle (spec §2.1, case 86).
    pub fn is_used(self) -> bool {
        self != MachineState::Idle
    }

    /// "is persisted on disk" ⇔ state ≠ Creating (spec §2.1, case 87).
    pub fn is_persisted_on_disk(self) -> bool {
        self != MachineState::Creating
    }

    /// "can be used" by Use's fast path ⇔ state = Acquired (spec §2.1).
    pub fn can_be_used(self) -> bool {
        self == MachineState::Acquired
    }
}

/// RetryCount from which a Removing machine is "stuck on removing" (`removeRetryTries = 3`,
/// spec §2.1).
pub const STUCK_RETRY_COUNT: u32 = 3;

/// An Idle machine whose LastSeen is more than this long ago is "dead": hidden from the state
/// gauge only (`machineDeadInterval` = 20 min, spec §2.1, §3.13).
pub const DEAD_INTERVAL: SimDuration = SimDuration::from_mins(20);

/// The in-memory bookkeeping entry of one machine (GitLab Runner's `machineDetails`, spec §2.2).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Machine name (spec §2.5).
    pub name: String,
    /// When the record was made (creation start or discovery). Logs only.
    pub created: SimTime,
    /// "Last used": drives IdleTime (spec §2.2 for when it is written).
    pub used: SimTime,
    /// Jobs started on this machine; 1 for machines found on disk (spec §2.4), 0 after create.
    pub used_count: i64,
    /// Current state.
    pub state: MachineState,
    /// The removal reason (spec §3.8, §3.9); empty until a removal is requested.
    pub reason: String,
    /// Failed `rm -y` attempts of the current removal; ≥ 3 means stuck (spec §2.1).
    pub retry_count: u32,
    /// Last time an update pass listed this machine (or record creation / create()).
    pub last_seen: SimTime,
    /// `MaxRemovalAttempts` copied at create(); 0 (machines found on disk) means 30 (spec §3.9).
    pub max_removal_attempts: i64,
    /// Metric target labels from the driver state (spec §3.12).
    pub targets: TargetLabels,
    /// Set when the removal ran out of attempts (spec §3.9).
    pub removal_gave_up: bool,
    /// The runner that created or first listed it (simrun bookkeeping for reports; GitLab
    /// Runner's records carry no owner, ownership is the name filter, spec §2.5).
    pub runner: Option<String>,
}

impl Record {
    /// A record for a machine seen for the first time: Idle, UsedCount 1, Created = Used =
    /// LastSeen = now ("any machine that we find we mark as already used", spec §2.4).
    pub fn discovered(name: impl Into<String>, now: SimTime) -> Self {
        Record {
            name: name.into(),
            created: now,
            used: now,
            used_count: 1,
            state: MachineState::Idle,
            reason: String::new(),
            retry_count: 0,
            last_seen: now,
            max_removal_attempts: 0,
            targets: TargetLabels::default(),
            removal_gave_up: false,
            runner: None,
        }
    }

    /// Stuck on removing: Removing with RetryCount ≥ 3 (spec §2.1).
    pub fn is_stuck_on_remove(&self) -> bool {
        self.state == MachineState::Removing && self.retry_count >= STUCK_RETRY_COUNT
    }

    /// Dead: Idle and LastSeen more than 20 minutes before `now` (spec §2.1).
    pub fn is_dead(&self, now: SimTime) -> bool {
        self.state == MachineState::Idle && now.since(self.last_seen) > DEAD_INTERVAL
    }

    /// Removal attempts finalizeRemoval makes: the copied value if > 0, else 30 (spec §3.9).
    pub fn removal_attempts(&self) -> u32 {
        if self.max_removal_attempts > 0 {
            u32::try_from(self.max_removal_attempts).unwrap_or(u32::MAX)
        } else {
            30
        }
    }
}

/// Counts of machines per state (GitLab Runner's `machinesData`, spec preamble, §3.8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Acquired machines.
    pub acquired: i64,
    /// Creating machines.
    pub creating: i64,
    /// Idle machines.
    pub idle: i64,
    /// Used machines.
    pub used: i64,
    /// Removing machines (not stuck).
    pub removing: i64,
    /// Removing machines with RetryCount ≥ 3.
    pub stuck_on_removing: i64,
}

impl Tally {
    /// Available = Acquired + Creating + Idle.
    pub fn available(&self) -> i64 {
        self.acquired + self.creating + self.idle
    }

    /// InUse = Used only (Acquired machines are not in use).
    pub fn in_use(&self) -> i64 {
        self.used
    }

    /// Total = every state, Removing and stuck included.
    pub fn total(&self) -> i64 {
        self.available() + self.used + self.removing + self.stuck_on_removing
    }

    /// Adds one machine in `state` (`stuck` for a Removing machine with RetryCount ≥ 3).
    pub fn add(&mut self, state: MachineState, stuck: bool) {
        match state {
            MachineState::Idle => self.idle += 1,
            MachineState::Acquired => self.acquired += 1,
            MachineState::Creating => self.creating += 1,
            MachineState::Used => self.used += 1,
            MachineState::Removing if stuck => self.stuck_on_removing += 1,
            MachineState::Removing => self.removing += 1,
        }
    }

    /// Adds a record in its current state.
    pub fn add_record(&mut self, r: &Record) {
        self.add(r.state, r.is_stuck_on_remove());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [MachineState; 5] = [
        MachineState::Idle,
        MachineState::Acquired,
        MachineState::Creating,
        MachineState::Used,
        MachineState::Removing,
    ];

    #[test]
    fn case_086_is_used_by_state() {
        let used: Vec<bool> = ALL.iter().map(|s| s.is_used()).collect();
        assert_eq!(used, [false, true, true, true, true]);
    }

    #[test]
    fn case_087_is_persisted_on_disk_by_state() {
        let p: Vec<bool> = ALL.iter().map(|s| s.is_persisted_on_disk()).collect();
        assert_eq!(p, [true, true, false, true, true]);
    }

    #[test]
    fn discovered_records_count_as_used_once() {
        let r = Record::discovered("m", SimTime(5));
        assert_eq!(
            (r.state, r.used_count, r.used, r.last_seen),
            (MachineState::Idle, 1, SimTime(5), SimTime(5))
        );
        assert_eq!(r.removal_attempts(), 30);
    }

    #[test]
    fn dead_after_twenty_minutes_idle() {
        let r = Record::discovered("m", SimTime(0));
        assert!(!r.is_dead(SimTime(20 * 60_000)));
        assert!(r.is_dead(SimTime(20 * 60_000 + 1)));
    }

    #[test]
    fn tally_sums() {
        let mut t = Tally::default();
        for s in ALL {
            t.add(s, false);
        }
        t.add(MachineState::Removing, true);
        assert_eq!((t.available(), t.in_use(), t.total()), (3, 1, 6));
    }
}
