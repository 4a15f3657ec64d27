//! Autoscaler core behaviour beyond the numbered cases: GitLab's worked example, driver
//! timeouts (spec §3.12), and quirks of spec §6 / corrections of §0, through the sans-IO
//! interface with the scripted driver.

mod autoscaler_harness;

use std::collections::BTreeMap;

use autoscaler_harness::{Harness, R, machine, runner};
use simrun::autoscaler::{
    AcquireError, Acquired, EventKind, MachineState, RequestId, UseError, UsedMachine,
};
use simrun::cloud::{DriverErrorKind, StoreListing};
use simrun::time::{SimDuration, SimTime};

/// A minimal stand-in for the runner manager (another issue): every `check_interval` one
/// Acquire; a machine from Acquire is Used for a pending job or Released at once; "nothing"
/// with a pending job means Use(nothing); a received job also requeues an immediate Acquire
/// (spec §1.4); each job Releases its machine when it ends.
struct Manager {
    check_interval_ms: u64,
    job_ms: u64,
    pending_jobs: usize,
    next_tick: SimTime,
    /// Acquire requests waiting for their reply.
    acquires: Vec<RequestId>,
    /// Use requests → the machine from Acquire (None for on-demand).
    uses: BTreeMap<RequestId, Option<String>>,
    /// Job ends: (time, machine).
    job_ends: Vec<(SimTime, String)>,
    immediate_acquire: bool,
}

impl Manager {
    fn new(jobs: usize, job_ms: u64) -> Self {
        Manager {
            check_interval_ms: 3_000,
            job_ms,
            pending_jobs: jobs,
            next_tick: SimTime::ZERO,
            acquires: Vec::new(),
            uses: BTreeMap::new(),
            job_ends: Vec::new(),
            immediate_acquire: false,
        }
    }

    fn next_time(&self) -> SimTime {
        let ends = self.job_ends.iter().map(|e| e.0).min();
        ends.map_or(self.next_tick, |e| e.min(self.next_tick))
    }

    /// Handles replies that arrived, and manager events due now.
    fn react(&mut self, h: &mut Harness) {
        loop {
            let mut progressed = false;
            if let Some(i) = self.job_ends.iter().position(|e| e.0 <= h.now) {
                let (_, m) = self.job_ends.remove(i);
                h.release(R, &m);
                progressed = true;
            }
            if h.now >= self.next_tick || self.immediate_acquire {
                if h.now >= self.next_tick {
                    self.next_tick = h.now + SimDuration(self.check_interval_ms);
                }
                self.immediate_acquire = false;
                let r = h.acquire(R);
                self.acquires.push(r);
                progressed = true;
            }
            let answered: Vec<_> = self
                .acquires
                .iter()
                .filter_map(|r| h.acquires.get(r).map(|x| (*r, x.1.clone())))
                .collect();
            for (r, res) in answered {
                self.acquires.retain(|x| *x != r);
                progressed = true;
                match res {
                    Ok(Acquired::Machine(m)) if self.pending_jobs > 0 => {
                        self.pending_jobs -= 1;
                        self.immediate_acquire = true;
                        let u = h.use_machine(R, Some(&m));
                        self.uses.insert(u, Some(m));
                    }
                    Ok(Acquired::Machine(m)) => h.release(R, &m),
                    Ok(Acquired::Nothing) if self.pending_jobs > 0 => {
                        self.pending_jobs -= 1;
                        self.immediate_acquire = true;
                        let u = h.use_machine(R, None);
                        self.uses.insert(u, None);
                    }
                    _ => {}
                }
            }
            let used: Vec<_> = self
                .uses
                .keys()
                .filter_map(|r| h.uses.get(r).map(|x| (*r, x.1.clone())))
                .collect();
            for (r, res) in used {
                progressed = true;
                let from_acquire = self.uses.remove(&r).flatten();
                match res {
                    Ok(u) => {
                        let end = h.now + SimDuration(self.job_ms);
                        self.job_ends.push((end, u.machine.clone()));
                        if let Some(a) = from_acquire
                            && a != u.machine
                        {
                            h.release(R, &a);
                        }
                    }
                    Err(_) => {
                        self.pending_jobs += 1;
                        if let Some(a) = from_acquire {
                            h.release(R, &a);
                        }
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn run(&mut self, h: &mut Harness, until: SimTime, mut each: impl FnMut(&Harness)) {
        while h.now < until {
            self.react(h);
            each(h);
            let core_next = h.next_event();
            let mine = self.next_time();
            let next = core_next.map_or(mine, |c| c.min(mine));
            if next > until {
                break;
            }
            if core_next == Some(next) {
                h.step();
            } else {
                h.run_until(next);
            }
        }
    }
}

fn worked_example(seed: u64) -> (Harness, i64, usize) {
    let mut m = machine("auto-%s", 2, 1800);
    m.max_growth_rate = 1;
    let mut h = Harness::with_seed(vec![runner(R, "glrt-abcdefghijk", 10, m)], seed);
    h.script.create_ms = 90_000;
    let mut mgr = Manager::new(5, 4 * 3600 * 1000);
    let mut peak_creating = 0;
    mgr.run(&mut h, SimTime(60 * 60_000), |h| {
        peak_creating = peak_creating.max(h.count_state(MachineState::Creating) as i64);
    });
    let total = h.core.records().count();
    (h, peak_creating, total)
}

/// GitLab's worked example (docs/configuration/autoscale.md): limit 10, MaxGrowthRate 1,
/// IdleCount 2, IdleTime 1800, concurrent ≥ 5, five jobs much longer than a creation arrive at
/// once. The runner manager is not modelled here (another issue): [`Manager`] drives Acquire /
/// Use / Release as a manager with free workers would. Expect one creation at a time and a
/// steady state of seven machines: five Used, two Idle.
#[test]
fn worked_example_gitlab_docs() {
    let (h, peak_creating, total) = worked_example(1);
    assert_eq!(h.peak_creates_in_driver, 1, "one driver create at a time");
    assert_eq!(peak_creating, 1, "one machine Creating at a time");
    assert_eq!(h.count_state(MachineState::Used), 5);
    assert_eq!(h.count_state(MachineState::Idle), 2);
    assert_eq!(total, 7);
    assert_eq!(h.calls_of("create").len(), 7);
    assert!(h.removal_reasons().is_empty());
}

/// Same scenario and seed → identical decision logs (DESIGN.md principle 3); another seed
/// changes machine names only.
#[test]
fn core_is_deterministic() {
    let log = |seed| {
        let (h, _, _) = worked_example(seed);
        h.events
            .iter()
            .map(|e| format!("{} {:?} {}", e.at, e.machine, e.kind))
            .collect::<Vec<_>>()
    };
    assert_eq!(log(7), log(7));
    assert_ne!(log(7), log(8));
}

// ---- driver timeouts (spec §3.12) ----------------------------------------------------------

/// A create whose completion never arrives is killed after 1 h: creation failed with
/// "signal: killed", removal "Failed to create", the growth slot freed.
#[test]
fn create_times_out_after_one_hour() {
    let mut m = machine("%s", 1, 3600);
    m.max_growth_rate = 1;
    let mut h = Harness::single(0, m);
    h.script.hang.insert("create");
    let _ = h.acquire_now(R);
    let name = h.calls_of("create")[0].machine.clone();
    h.advance(3_600_000 - 1);
    assert!(h.killed.is_empty());
    assert_eq!(
        h.core.record(&name).map(|r| r.state),
        Some(MachineState::Creating)
    );
    h.advance(1);
    assert_eq!(h.killed.len(), 1);
    let failed = h.events_where(
        |k| matches!(k, EventKind::CreationFailed { error } if error == "signal: killed"),
    );
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].at, SimTime(3_600_000));
    let r = h.core.record(&name);
    assert!(r.is_none_or(|r| r.reason == "Failed to create"));
    assert_eq!(h.core.coordinator_state(R).map(|c| c.0), Some(0));
}

/// `stop` has a 1 min timeout; its failure is only logged and `rm -y` follows.
#[test]
fn stop_times_out_after_one_minute() {
    let mut h = Harness::single(0, machine("%s", 0, 0));
    h.disk("m");
    assert_eq!(h.acquire_now(R), Ok(Acquired::Machine("m".into())));
    h.release(R, "m");
    h.script.hang.insert("stop");
    h.advance(1);
    let _ = h.acquire(R);
    let t0 = h.now;
    h.settle(10 * 60_000);
    let stop = h.events_where(|k| matches!(k, EventKind::StopFailed { .. }));
    assert_eq!(stop[0].at, t0 + SimDuration(100 + 60_000));
    assert_eq!(h.calls_of("rm -y").len(), 1);
    assert!(h.core.record("m").is_none());
    assert_eq!(h.core.metrics().stopping.count, 1);
}

/// Quirk Q23: the acquire lock is held across find-free's `config`; a hanging `config` blocks
/// every runner's Acquire until its 1 h timeout, then the machine is "unavailable".
#[test]
fn acquire_lock_held_across_can_connect_timeout() {
    let mut h = Harness::new(vec![
        runner(R, "", 0, machine("%s", 0, 3600)),
        runner("other", "glrt-zzzzzzzzzz", 0, machine("x-%s", 0, 3600)),
    ]);
    h.disk("m");
    h.script.hang.insert("config");
    let a = h.acquire(R);
    let b = h.acquire("other");
    assert_eq!(h.core.acquire_lock_state(), (true, 1));
    h.advance(3_600_000 - 1);
    assert!(h.acquires.is_empty());
    h.advance(1);
    assert_eq!(
        h.acquires.get(&a).map(|x| x.1.clone()),
        Some(Ok(Acquired::Nothing))
    );
    assert_eq!(h.acquires.get(&b).map(|x| x.0), Some(SimTime(3_600_000)));
    assert_eq!(
        h.core.record("m").map(|r| r.reason.as_str()),
        Some("machine is unavailable")
    );
}

/// A completion arriving after the timeout is ignored.
#[test]
fn late_completion_is_ignored() {
    let mut h = Harness::single(0, machine("%s", 1, 3600));
    h.script.hang.insert("create");
    let _ = h.acquire_now(R);
    let id = h.calls_of("create")[0].id;
    h.advance(3_600_000);
    let c = simrun::cloud::Completion::ok(id);
    h.input(simrun::autoscaler::Input::DriverDone(c));
    assert_eq!(
        h.events_where(|k| *k == EventKind::LateCompletion { call: id })
            .len(),
        1
    );
    assert_eq!(
        h.core
            .metrics()
            .action_total(simrun::autoscaler::metrics::ActionLabel::Created),
        0
    );
    let _ = DriverErrorKind::Timeout;
}

// ---- corrections and quirks ----------------------------------------------------------------

/// §0 W1: a negative MaxGrowthRate admits creations but the semaphore never lets them run:
/// records stay Creating, count as Available, and no driver create ever starts.
#[test]
fn w1_negative_max_growth_rate_freezes_creation() {
    let mut m = machine("%s", 2, 3600);
    m.max_growth_rate = -1;
    let mut h = Harness::single(0, m);
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    h.advance(3_600_000 * 3);
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    assert!(h.calls_of("create").is_empty());
    assert_eq!(
        h.count_state(MachineState::Creating),
        2,
        "no more than IdleCount"
    );
    assert_eq!(h.core.coordinator_state(R), Some((0, 2, 0, 0)));
}

/// §0 M9 / Q16: Exist false while the directory remains → removal skipped, record deleted,
/// and the next listing re-adopts the machine as Idle with UsedCount 1.
#[test]
fn m9_exist_false_with_directory_is_readopted() {
    let mut h = Harness::single(0, machine("%s", 0, 0));
    h.disk("m");
    assert_eq!(h.acquire_now(R), Ok(Acquired::Machine("m".into())));
    h.release(R, "m");
    h.script.exists_false.insert("m".into());
    h.advance(1);
    let _ = h.acquire_now(R);
    h.advance(1_000);
    assert_eq!(h.events_where(|k| *k == EventKind::RemovalSkipped).len(), 1);
    assert!(h.core.record("m").is_none());
    assert!(h.store.contains("m"));
    let _ = h.acquire_now(R);
    assert_eq!(h.events_where(|k| *k == EventKind::Adopted).len(), 2);
    let r = h.core.record("m").expect("re-adopted");
    assert_eq!(r.used_count, 1);
}

/// Q12: give-up `rm -f` that fails leaves the directory; the next listing re-adopts it.
#[test]
fn q12_failed_force_remove_is_readopted() {
    let mut m = machine("%s", 0, 0);
    m.max_removal_attempts = 1;
    let mut h = Harness::single(0, m);
    h.disk("m");
    let _ = h.acquire_now(R);
    h.release(R, "m");
    h.script.rm_fails = true;
    h.script.rm_f_fails = true;
    h.advance(1);
    let _ = h.acquire_now(R);
    h.settle(30 * 60_000);
    assert!(h.core.record("m").is_none());
    assert_eq!(
        h.events_where(|k| matches!(k, EventKind::ForceRemoveFailed { .. }))
            .len(),
        1
    );
    assert_eq!(
        h.core
            .metrics()
            .action_total(simrun::autoscaler::metrics::ActionLabel::Removed),
        1,
        "give-ups count as removed"
    );
    let _ = h.acquire_now(R);
    assert!(h.core.record("m").is_some(), "re-adopted");
}

/// §3.9: after 3 failed `rm -y` a removal is stuck; stuck removals take turns on the
/// provider-wide lock, held through the 30 s sleep. Two created machines (MaxRemovalAttempts
/// 5 copied at create) fail every `rm -y`.
#[test]
fn stuck_removals_are_serialised() {
    let mut m = machine("%s", 2, 0);
    m.max_removal_attempts = 5;
    let mut h = Harness::single(0, m.clone());
    let _ = h.acquire_now(R);
    h.advance(60_000);
    assert_eq!(h.count_state(MachineState::Idle), 2);
    m.idle.idle_count = 0;
    h.set_runner(runner(R, "", 0, m));
    h.script.rm_fails = true;
    h.advance(1);
    let _ = h.acquire(R);
    h.settle(60 * 60_000);
    assert!(
        !h.events_where(|k| *k == EventKind::WaitingForStuckLock)
            .is_empty()
    );
    // While one stuck removal holds the lock (from its `stop` until its sleep ends), the
    // other runs no `stop`: the stuck attempts (4 and 5) of the two never overlap.
    let stops: Vec<SimTime> = h
        .calls
        .iter()
        .filter(|(_, c)| c.kind.command() == "stop")
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(stops.len(), 10);
    let stuck = &stops[6..];
    for w in stuck.windows(2) {
        assert!(
            w[1].since(w[0]) >= SimDuration(5_000 + 10_000 + 30_000),
            "{stops:?}"
        );
    }
    // The first three attempts of the two machines ran side by side.
    assert_eq!(stops[0], stops[1]);
    assert_eq!(h.calls_of("rm -f").len(), 2);
    assert_eq!(h.core.records().count(), 0);
}

/// Machines found on disk carry MaxRemovalAttempts 0, which means 30 (spec §1.1, §3.9).
#[test]
fn adopted_machines_get_thirty_removal_attempts() {
    let mut h = Harness::single(0, machine("%s", 0, 0));
    h.disk("a");
    let _ = h.acquire_now(R);
    h.release(R, "a");
    h.script.rm_fails = true;
    h.advance(1);
    let _ = h.acquire(R);
    h.settle(3 * 3600 * 1000);
    assert_eq!(h.calls_of("rm -y").len(), 30);
    assert_eq!(h.calls_of("rm -f").len(), 1);
}

/// §0 M10: a cached positive CanConnect hands out an unreachable machine for up to 5 min;
/// Use's fast path (cache skipped) then fails and a machine is created on demand.
#[test]
fn m10_stale_positive_cache() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.disk("m");
    assert_eq!(h.acquire_now(R), Ok(Acquired::Machine("m".into())));
    h.release(R, "m");
    h.script.unreachable.insert("m".into());
    h.advance(60_000);
    assert_eq!(h.acquire_now(R), Ok(Acquired::Machine("m".into())));
    assert_eq!(h.calls_of("config").len(), 1, "answered from the cache");
    let u = h.use_now(R, Some("m")).expect("on-demand machine");
    assert_ne!(u.machine, "m");
    assert!(u.new_data);
    h.release(R, "m");
    h.advance(5 * 60_000);
    let _ = h.acquire_now(R);
    assert_eq!(
        h.core.record("m").map(|r| r.reason.as_str()),
        Some("machine is unavailable")
    );
}

/// §0 M16 / Q22: a MachineName without `%s` yields names with a formatting-error suffix that
/// never pass the filter: every Acquire starts IdleCount new creations.
#[test]
fn m16_machine_name_without_slot() {
    let mut h = Harness::single(0, machine("fixed", 1, 3600));
    h.script.create_fails = true;
    let _ = h.acquire_now(R);
    let _ = h.acquire_now(R);
    let creates = h.calls_of("create");
    assert_eq!(creates.len(), 2);
    assert!(creates[0].machine.starts_with("fixed%!(EXTRA string="));
}

/// Q2: removal decisions use the running tally: with IdleScaleFactor, Used machines listed
/// after the Idle ones do not raise the target for them, so the second idle machine is removed
/// although the full-tally target (InUse 2 → T 2) would keep both — and the same Acquire
/// creates a replacement (churn).
#[test]
fn q2_order_dependent_removal() {
    let mut m = machine("%s", 10, 3600);
    m.idle.idle_scale_factor = 1.0;
    let mut h = Harness::single(0, m.clone());
    h.script.hang.insert("create");
    for n in ["a1", "a2", "u1", "u2"] {
        h.disk(n);
    }
    let got: Vec<String> = (0..4)
        .map(|_| match h.acquire_now(R) {
            Ok(Acquired::Machine(m)) => m,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, ["u2", "u1", "a2", "a1"], "newest first");
    assert!(h.calls_of("create").is_empty());
    h.use_now(R, Some("u1")).expect("u1");
    h.use_now(R, Some("u2")).expect("u2");
    h.release(R, "a1");
    h.release(R, "a2");
    m.idle.idle_time = 0;
    h.set_runner(runner(R, "", 0, m));
    h.advance(1_000);
    assert_eq!(h.acquire_now(R), Ok(Acquired::Machine("a1".into())));
    let a2 = h.core.record("a2").expect("a2");
    assert_eq!(
        (a2.state, a2.reason.as_str()),
        (MachineState::Removing, "too many idle machines")
    );
    assert_eq!(h.calls_of("create").len(), 1, "a replacement is created");
}

/// The core module imports no clock, thread, async or IO facility (issue 3, "Done when").
#[test]
fn core_imports_no_clock_thread_async_or_io() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for sub in ["autoscaler", "cloud"] {
        let entries = std::fs::read_dir(dir.join(sub)).expect("source dir");
        for e in entries {
            let path = e.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("source");
            for bad in [
                "std::time",
                "Instant",
                "SystemTime",
                "std::thread",
                "thread::",
                "tokio",
                "async ",
                ".await",
                "std::fs",
                "std::io",
                "std::net",
                "std::process",
                "std::env",
            ] {
                assert!(!text.contains(bad), "{} uses {bad}", path.display());
            }
        }
    }
}

/// Q22 with one core for all runners: intermediate Creating machines of every runner are
/// appended to each listing, and the prefix-only filter of `ci-%s` matches `ci-big-…` names,
/// so runner A counts runner B's creation as its own and starts none.
#[test]
fn q22_shared_core_cross_counts_intermediate_machines() {
    let mut h = Harness::new(vec![
        runner("a", "", 0, machine("ci-%s", 1, 3600)),
        runner("b", "", 0, machine("ci-big-%s", 1, 3600)),
    ]);
    h.script.hang.insert("create");
    assert_eq!(h.acquire_now("b"), Err(AcquireError::NoFreeMachines));
    assert_eq!(h.calls_of("create").len(), 1);
    assert_eq!(h.acquire_now("a"), Err(AcquireError::NoFreeMachines));
    assert_eq!(
        h.calls_of("create").len(),
        1,
        "a counted b's Creating machine"
    );
    // The other way round does not match: b's filter `ci-big-` rejects `ci-<digits>…`.
    let mut h2 = Harness::new(vec![
        runner("a", "", 0, machine("ci-%s", 1, 3600)),
        runner("b", "", 0, machine("ci-big-%s", 1, 3600)),
    ]);
    h2.script.hang.insert("create");
    let _ = h2.acquire_now("a");
    let _ = h2.acquire_now("b");
    assert_eq!(h2.calls_of("create").len(), 2);
}

/// Requests name their runner: an unknown runner or one without `[runners.machine]` gets a
/// clear error, never a panic.
#[test]
fn unknown_runner_and_missing_machine_options() {
    let mut plain = runner("shell", "", 0, machine("%s", 0, 0));
    plain.machine = None;
    let mut h = Harness::new(vec![runner(R, "", 0, machine("", 1, 0)), plain]);
    assert_eq!(h.acquire_now(R), Err(AcquireError::MissingMachineOptions));
    assert_eq!(
        h.acquire_now(R).unwrap_err().to_string(),
        "missing Machine options"
    );
    assert_eq!(
        h.acquire_now("shell"),
        Err(AcquireError::MissingMachineOptions)
    );
    assert!(matches!(
        h.acquire_now("nobody"),
        Err(AcquireError::UnknownRunner(_))
    ));
    assert!(h.use_now("nobody", None).is_err());
    assert!(h.calls.is_empty());
}

/// The state gauge and counters follow a machine through create, use and removal.
#[test]
fn metrics_follow_the_lifecycle() {
    use simrun::autoscaler::metrics::ActionLabel;
    let mut h = Harness::single(0, machine("%s", 0, 0));
    h.script.state = Some(simrun::cloud::DriverState {
        driver: "google".into(),
        zone: "europe-west1-b".into(),
        project: "p".into(),
        machine_type: "e2-medium".into(),
    });
    let u = h.use_now(R, None).expect("use");
    let gauge = h.core.machine_states(h.now);
    let used: Vec<_> = gauge
        .iter()
        .filter(|s| s.state == "used" && s.value == 1)
        .collect();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].targets.region, "europe-west1");
    h.release(R, &u.machine);
    h.advance(1);
    let _ = h.acquire_now(R);
    h.settle(10 * 60_000);
    let m = h.core.metrics();
    for a in [
        ActionLabel::Created,
        ActionLabel::Used,
        ActionLabel::Removed,
    ] {
        assert_eq!(m.action_total(a), 1, "{a}");
    }
    assert_eq!(m.creation.count, 1);
    // 60 s lies above the 58.59375 s bucket and within the 73.2421875 s one.
    assert_eq!(m.creation.cumulative(3), 0);
    assert_eq!(m.creation.cumulative(4), 1);
}

// ---- spec items from the review against the spec (§0 W7, Q10, Q11, Q13, Q17, Q24, M13, …) --

/// The result of a finished Use request.
fn use_result(h: &Harness, r: RequestId) -> (SimTime, Result<UsedMachine, UseError>) {
    h.uses.get(&r).cloned().expect("use answered")
}

/// §0 W7 / Q10b (§3.4 step 7, third case): IdleCount 1, limit 1, the only machine on disk is
/// unreachable. Acquire counts it Idle, acquires it, fails CanConnect and removes it ("machine
/// is unavailable"); the tally's Idle is 1, so Acquire returns nothing without an error (not
/// NoFreeMachines). The job's Use then creates a machine with no limit check: Total 2 with
/// limit 1.
#[test]
fn w7_q10b_unreachable_idle_gives_nothing_and_use_creates_over_limit() {
    let mut h = Harness::single(1, machine("%s", 1, 3600));
    h.disk("m");
    h.script.unreachable.insert("m".into());
    assert_eq!(h.acquire_now(R), Ok(Acquired::Nothing));
    let r = h.core.record("m").expect("record");
    assert_eq!(
        (r.state, r.reason.as_str()),
        (MachineState::Removing, "machine is unavailable")
    );
    assert!(
        h.calls_of("create").is_empty(),
        "Total 1 ≥ limit 1: no background creation"
    );
    let u = h.use_machine(R, None);
    assert_eq!(
        h.calls_of("create").len(),
        1,
        "Use creates regardless of limit"
    );
    assert_eq!(h.core.records().count(), 2, "Total 2 with limit 1");
    assert_eq!(h.count_state(MachineState::Removing), 1);
    assert_eq!(h.count_state(MachineState::Creating), 1);
    h.settle(10 * 60_000);
    let got = use_result(&h, u).1.expect("on-demand machine");
    assert!(got.new_data);
    assert_ne!(got.machine, "m");
}

/// Q10a: on-demand admission (IdleCount 0) reserves nothing. With limit 1, two Acquires before
/// any Use both return nothing; the two Use(None) then create two machines (over the limit).
#[test]
fn q10a_on_demand_admission_reserves_nothing() {
    let mut h = Harness::single(1, machine("%s", 0, 3600));
    assert_eq!(h.acquire_now(R), Ok(Acquired::Nothing));
    assert_eq!(h.acquire_now(R), Ok(Acquired::Nothing));
    let a = h.use_machine(R, None);
    let b = h.use_machine(R, None);
    assert_eq!(h.calls_of("create").len(), 2);
    assert_eq!(h.count_state(MachineState::Creating), 2);
    h.settle(10 * 60_000);
    let (ma, mb) = (
        use_result(&h, a).1.expect("a").machine,
        use_result(&h, b).1.expect("b").machine,
    );
    assert_ne!(ma, mb);
    assert_eq!(
        h.count_state(MachineState::Used),
        2,
        "2 machines with limit 1"
    );
}

/// §2.2 / §3.11: Release of an Acquired machine that was never Used leaves `Used` unchanged, so
/// IdleTime still counts from adoption. IdleCount 0, IdleTime 10: adopted at t = 0, Acquire +
/// Release at 5 s, then Acquire at 11 s removes it ("too many idle machines"); had the Release
/// at 5 s reset `Used`, it would be kept.
#[test]
fn release_of_acquired_machine_keeps_used_timestamp() {
    let mut h = Harness::single(0, machine("%s", 0, 10));
    h.disk("m");
    assert_eq!(h.acquire_now(R), Ok(Acquired::Machine("m".into())));
    h.release(R, "m");
    h.run_until(SimTime(5_000));
    assert_eq!(h.acquire_now(R), Ok(Acquired::Machine("m".into())));
    h.release(R, "m");
    let r = h.core.record("m").expect("record");
    assert_eq!((r.state, r.used), (MachineState::Idle, SimTime(0)));
    h.run_until(SimTime(11_000));
    let _ = h.acquire_now(R);
    let r = h.core.record("m").expect("record");
    assert_eq!(
        (r.state, r.reason.as_str()),
        (MachineState::Removing, "too many idle machines")
    );
}

/// §3.6 step 2b, §3.7: two on-demand waiters whose creations finish at different times each
/// keep their own machine. W1 starts at 0 s, W2 at 10.7 s, each create takes 60.5 s. When W1's
/// creation finishes W2 is the longest listener and receives the wake-up; in GitLab Runner its
/// find-existing first runs `docker-machine ls` while W1 only reads its result channel, so W1
/// takes its own machine first (the core delivers the owner's completion before the wake-up).
#[test]
fn s3_6_two_waiters_each_keep_their_own_machine() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.script.create_ms = 60_500;
    let w1 = h.use_machine(R, None);
    h.run_until(SimTime(10_700));
    let w2 = h.use_machine(R, None);
    let creates: Vec<String> = h
        .calls_of("create")
        .iter()
        .map(|c| c.machine.clone())
        .collect();
    assert_eq!(creates.len(), 2);
    h.settle(10 * 60_000);
    assert_eq!(use_result(&h, w1).1.expect("w1").machine, creates[0]);
    assert_eq!(use_result(&h, w2).1.expect("w2").machine, creates[1]);
    assert_eq!(h.calls_of("create").len(), 2);
}

/// Q11: a negative IdleCount disables pre-creation but is not on-demand mode (Acquire tests
/// `== 0`): every Acquire fails with NoFreeMachines and no create ever runs.
#[test]
fn q11_negative_idle_count_never_creates() {
    let mut h = Harness::single(0, machine("%s", -1, 3600));
    for _ in 0..5 {
        assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
        h.advance(3_000);
    }
    assert!(h.calls_of("create").is_empty());
    assert_eq!(h.core.records().count(), 0);
}

/// §3.6 step 2: a Use whose creations always fail makes exactly 3 useMachine attempts, each a
/// create followed by the 1 s sleep (also after the last), and replies with the create error
/// at 3 × create time + 3 × 1 s.
#[test]
fn s3_6_use_with_failing_creates_makes_three_attempts() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.script.create_fails = true;
    let start = h.now;
    let u = h.use_machine(R, None);
    h.settle(30 * 60_000);
    let (at, res) = use_result(&h, u);
    assert!(
        matches!(res, Err(UseError::Machine(ref e)) if e.contains("quota")),
        "{res:?}"
    );
    assert_eq!(h.calls_of("create").len(), 3);
    assert_eq!(at.since(start).as_millis(), 3 * 60_000 + 3 * 1_000);
}

/// Q13 / §3.9: Removing machines whose directory is still listed hold `limit` slots. limit 2,
/// `rm -y` always failing: both machines sit in Removing and block background creation; a
/// machine created on demand (no limit check) is removed as "too many machines" once Idle.
#[test]
fn q13_removing_machines_hold_limit_slots() {
    let mut m = machine("%s", 2, 3600);
    let mut h = Harness::single(2, m.clone());
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    h.advance(60_000);
    assert_eq!(h.count_state(MachineState::Idle), 2);
    h.script.rm_fails = true;
    m.idle.idle_count = 0;
    m.idle.idle_time = 0;
    h.set_runner(runner(R, "", 2, m.clone()));
    h.advance(1);
    let _ = h.acquire_now(R);
    assert_eq!(h.removal_reasons(), vec!["too many idle machines"; 2]);
    m.idle.idle_count = 2;
    m.idle.idle_time = 3600;
    h.set_runner(runner(R, "", 2, m));
    h.advance(60_000);
    assert_eq!(
        h.count_state(MachineState::Removing),
        2,
        "rm -y keeps failing"
    );
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    assert_eq!(
        h.calls_of("create").len(),
        2,
        "Total 2 ≥ limit 2: no creation"
    );
    let u = h.use_now(R, None).expect("on demand, no limit check");
    assert_eq!(h.calls_of("create").len(), 3);
    h.release(R, &u.machine);
    h.advance(1);
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    let r = h.core.record(&u.machine).expect("record");
    assert_eq!(
        (r.state, r.reason.as_str()),
        (MachineState::Removing, "too many machines")
    );
    assert_eq!(h.calls_of("create").len(), 3);
}

/// Q17: background creation counts on-demand creations against MaxGrowthRate. MaxGrowthRate 2,
/// IdleCount 3, one Use(None) creation in flight: the next Acquire starts exactly one
/// background creation, the one after none.
#[test]
fn q17_background_creation_counts_on_demand_creation() {
    let mut m = machine("%s", 3, 3600);
    m.max_growth_rate = 2;
    let mut h = Harness::single(0, m);
    h.script.hang.insert("create");
    let _ = h.use_machine(R, None);
    assert_eq!(h.calls_of("create").len(), 1);
    h.advance(100);
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    assert_eq!(
        h.calls_of("create").len(),
        2,
        "exactly one background creation"
    );
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    assert_eq!(
        h.calls_of("create").len(),
        2,
        "Creating 2 ≥ MaxGrowthRate 2"
    );
}

/// Q24 (case 79 continued): the waiter took the released machine A; its own creation, blocked
/// so far, finishes later and becomes one extra Idle machine, and the available counter goes
/// up by one with nobody left to take it.
#[test]
fn q24_blocked_creation_becomes_extra_idle() {
    let mut m = machine("%s", 0, 3600);
    m.max_growth_rate = 1;
    let mut h = Harness::single(0, m);
    let a = h.use_now(R, None).expect("A").machine;
    h.script.create_ms = 600_000;
    let r = h.use_machine(R, None);
    h.advance(1_000);
    h.release(R, &a);
    h.advance(10_000);
    assert_eq!(use_result(&h, r).1.expect("ok").machine, a);
    let blocked = h.calls_of("create")[1].machine.clone();
    assert_eq!(
        h.core.record(&blocked).map(|r| r.state),
        Some(MachineState::Creating)
    );
    assert_eq!(h.count_state(MachineState::Idle), 0);
    let before = h.core.coordinator_state(R).expect("coordinator");
    h.advance(600_000);
    assert_eq!(
        h.core.record(&blocked).map(|r| r.state),
        Some(MachineState::Idle)
    );
    assert_eq!(
        h.count_state(MachineState::Idle),
        1,
        "one extra Idle machine"
    );
    let after = h.core.coordinator_state(R).expect("coordinator");
    assert_eq!(after.2, before.2 + 1, "available counter +1");
    assert_eq!(after.3, 0, "nobody listens");
}

/// §0 M13: a listing error during a wait-loop re-check ends that useMachine attempt; after the
/// 1 s sleep the next attempt runs (and, its own machine still Creating, starts another
/// creation), while the first attempt's creation carries on and becomes Idle — the waiter
/// then takes it through the wake-up. Setup as case 54: the available counter is 1 and the
/// only disk machine unreachable, so the first poll (1 s after the create starts) re-lists.
#[test]
fn m13_listing_error_in_wait_ends_attempt_and_creation_carries_on() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.disk("m1");
    assert_eq!(h.acquire_now(R), Ok(Acquired::Machine("m1".into())));
    h.release(R, "m1");
    h.script.unreachable.insert("m1".into());
    let t0 = h.now;
    let u = h.use_machine(R, None);
    h.advance(1_000); // m1 failed CanConnect at +0.5 s; the own create started then
    assert_eq!(h.calls_of("create").len(), 1);
    let first = h.calls_of("create")[0].machine.clone();
    let store = std::mem::replace(
        &mut h.store,
        StoreListing::failed("open machines: permission denied"),
    );
    h.advance(1_000); // the poll at +1.5 s re-lists and fails
    h.store = store;
    let failed = h.events_where(|k| matches!(k, EventKind::UseAttemptFailed { .. }));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].at, t0 + SimDuration(1_500));
    assert!(matches!(
        &failed[0].kind,
        EventKind::UseAttemptFailed { attempt: 1, error } if error.contains("permission denied")
    ));
    assert_eq!(
        h.core.record(&first).map(|r| r.state),
        Some(MachineState::Creating),
        "the own creation carries on"
    );
    h.settle(10 * 60_000);
    let creates = h.calls_of("create");
    assert_eq!(creates.len(), 2, "attempt 2 started its own creation");
    let second_start = h
        .calls
        .iter()
        .filter(|(_, c)| c.kind.command() == "create")
        .map(|(t, _)| *t)
        .nth(1);
    assert_eq!(
        second_start,
        Some(t0 + SimDuration(2_500)),
        "attempt 2 began after the 1 s sleep"
    );
    let got = use_result(&h, u).1.expect("use");
    assert_eq!(
        got.machine, first,
        "the first creation, found through the wake-up"
    );
    let second = h.calls_of("create")[1].machine.clone();
    assert_eq!(
        h.core.record(&second).map(|r| r.state),
        Some(MachineState::Idle),
        "the second becomes extra Idle capacity (Q24)"
    );
}

/// §3.14 / Q10c: while an Acquire holds the acquire lock waiting for find-free's `config` on
/// m2, a Use(None) (not under the lock) takes m1, which the Acquire had counted Idle. m2 turns
/// out unreachable, m1 is no longer acquirable: the Acquire returns nothing without an error
/// (the W7 path, IdleCount 1) and creates nothing.
#[test]
fn q10c_use_takes_machine_counted_by_blocked_acquire() {
    let mut h = Harness::single(0, machine("%s", 1, 3600));
    h.disk("m1");
    h.disk("m2");
    h.script.unreachable.insert("m2".into());
    let a = h.acquire(R);
    assert_eq!(h.core.acquire_lock_state(), (true, 0));
    assert_eq!(
        h.core.record("m2").map(|r| r.state),
        Some(MachineState::Acquired)
    );
    h.advance(100);
    let u = h.use_machine(R, None);
    assert_eq!(
        h.core.record("m1").map(|r| r.state),
        Some(MachineState::Acquired),
        "Use's find-existing took m1"
    );
    h.settle(60_000);
    assert_eq!(
        h.acquires.get(&a).map(|x| x.1.clone()),
        Some(Ok(Acquired::Nothing))
    );
    assert_eq!(use_result(&h, u).1.expect("use").machine, "m1");
    assert_eq!(h.removal_reasons(), ["machine is unavailable"]);
    assert!(h.calls_of("create").is_empty());
}

/// §3.11: Release of a machine without a record still raises the available counter and sends
/// the wake-up (GitLab Runner's Release does both unconditionally); no record is made. A
/// waiter listening for its own creation (10 s) is woken at once, re-lists, and takes a
/// machine that appeared on disk meanwhile, long before its own creation would finish (the
/// polls alone would not re-list: the counter is 0).
#[test]
fn s3_11_release_of_unknown_machine_counts_and_wakes() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.release(R, "gone");
    assert_eq!(h.core.coordinator_state(R), Some((0, 0, 1, 0)));
    assert!(h.core.record("gone").is_none());
    h.script.create_ms = 10_000;
    let start = h.now;
    let u = h.use_machine(R, None);
    h.advance(1_300); // the first poll consumed the counter
    assert_eq!(h.core.coordinator_state(R), Some((1, 0, 0, 1)));
    h.disk("m");
    h.release(R, "gone");
    assert!(h.core.record("gone").is_none(), "stays absent");
    h.settle(60_000);
    let (at, res) = use_result(&h, u);
    assert_eq!(res.expect("use").machine, "m");
    // +1.3 s, then find-existing's config 0.5 s, credentials' config 0.5 s and url 0.3 s.
    assert_eq!(at.since(start).as_millis(), 1_300 + 500 + 500 + 300);
}

/// §3.11: a second Release of a machine that is already Idle keeps it Idle (GitLab Runner sets
/// Idle again) and still raises the available counter.
#[test]
fn s3_11_second_release_keeps_idle_and_counts() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.disk("m");
    assert_eq!(h.acquire_now(R), Ok(Acquired::Machine("m".into())));
    h.release(R, "m");
    assert_eq!(h.core.coordinator_state(R).map(|c| c.2), Some(1));
    h.release(R, "m");
    assert_eq!(h.core.coordinator_state(R).map(|c| c.2), Some(2));
    assert_eq!(
        h.core.record("m").map(|r| r.state),
        Some(MachineState::Idle)
    );
    assert_eq!(
        h.events_where(|k| *k == EventKind::ReleasedNotHeld).len(),
        1
    );
}
