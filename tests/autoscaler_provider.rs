//! Provider scenarios of spec §5.4 (cases 41–80) through the core's sans-IO interface, with the
//! scripted driver of `autoscaler_harness`. GitLab Runner's tests call internal functions
//! (findFreeMachine, useMachine, create); here each case is driven through Acquire / Use /
//! Release and driver completions, and each test says how it maps.

mod autoscaler_harness;

use autoscaler_harness::{Harness, R, machine, runner};
use simrun::autoscaler::{AcquireError, Acquired, EventKind, MachineState, UseError};
use simrun::cloud::CallKind;
use simrun::time::SimTime;

fn acquired(name: &str) -> Result<Acquired, AcquireError> {
    Ok(Acquired::Machine(name.to_string()))
}

fn machine_of(r: &Result<Acquired, AcquireError>) -> String {
    match r {
        Ok(Acquired::Machine(m)) => m.clone(),
        other => panic!("expected a machine, got {other:?}"),
    }
}

// ---- TestMachineDetails --------------------------------------------------------------------

/// Case 41: an unknown listed name gets a record Idle/UsedCount 1 (adoption); a second listing
/// gives the same record; acquiring makes it Acquired; a second acquire gets nothing; the
/// record is still there, Acquired. Mapped onto Acquire with IdleCount 0 (no creations): the
/// store lists "test" then "other"; the first Acquire adopts both in its update pass and
/// find-free tries the newest ("other") first, so while its `config` runs "test" has been
/// looked up without being acquired.
#[test]
fn case_041_machine_details_adoption_and_acquire() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.disk("test");
    h.disk("other");
    let first = h.acquire(R);
    assert!(h.acquires.is_empty(), "waiting for config on \"other\"");
    let r = h.core.record("test").expect("record made by the lookup");
    assert_eq!(
        (r.state, r.used_count, r.created),
        (MachineState::Idle, 1, SimTime(0))
    );
    h.advance(1_000);
    assert_eq!(
        h.acquires.get(&first).map(|x| x.1.clone()),
        Some(acquired("other"))
    );
    assert_eq!(h.events_where(|k| *k == EventKind::Adopted).len(), 2);
    assert_eq!(h.acquire_now(R), acquired("test"));
    let r = h.core.record("test").expect("record");
    assert_eq!(
        (r.state, r.used_count, r.created),
        (MachineState::Acquired, 1, SimTime(0)),
        "the same record, now Acquired"
    );
    assert_eq!(h.events_where(|k| *k == EventKind::Adopted).len(), 2);
    h.advance(1_000);
    assert_eq!(h.acquire_now(R), Ok(Acquired::Nothing), "already acquired");
    assert_eq!(
        h.events_where(|k| *k == EventKind::Adopted).len(),
        2,
        "same record"
    );
    let r = h.core.record("test").expect("record kept");
    assert_eq!((r.state, r.created), (MachineState::Acquired, SimTime(0)));
}

// ---- TestMachineFindFree (cases 42–46) -----------------------------------------------------

/// Cases 42–46 in sequence: find-free over the listing passed with each Acquire (IdleCount 0,
/// IdleTime long so the update pass keeps everything), newest first, with "no-can-connect"
/// failing CanConnect.
fn find_free_harness() -> Harness {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.script.unreachable.insert("no-can-connect".into());
    h
}

#[test]
fn case_042_find_free_over_nothing() {
    let mut h = find_free_harness();
    assert_eq!(h.acquire_now(R), Ok(Acquired::Nothing));
    assert!(h.calls_of("config").is_empty());
}

#[test]
fn case_043_find_free_acquires_machine1() {
    let mut h = find_free_harness();
    h.disk("machine1");
    assert_eq!(h.acquire_now(R), acquired("machine1"));
    assert_eq!(
        h.core.record("machine1").map(|r| r.state),
        Some(MachineState::Acquired)
    );
}

#[test]
fn case_044_find_free_skips_acquired() {
    let mut h = find_free_harness();
    h.disk("machine1");
    assert_eq!(h.acquire_now(R), acquired("machine1"));
    assert_eq!(h.acquire_now(R), Ok(Acquired::Nothing));
}

#[test]
fn case_045_find_free_newest_first() {
    let mut h = find_free_harness();
    h.disk("machine1");
    assert_eq!(h.acquire_now(R), acquired("machine1"));
    h.disk("machine2");
    assert_eq!(h.acquire_now(R), acquired("machine2"));
    assert_eq!(h.core.records().count(), 2, "a different record");
}

#[test]
fn case_046_find_free_unreachable_is_removed() {
    let mut h = find_free_harness();
    h.disk("machine1");
    assert_eq!(h.acquire_now(R), acquired("machine1"));
    h.store = simrun::cloud::StoreListing::new(vec!["machine1".into(), "no-can-connect".into()]);
    assert_eq!(h.acquire_now(R), Ok(Acquired::Nothing));
    let r = h.core.record("no-can-connect").expect("record");
    assert_eq!(r.state, MachineState::Removing);
    assert_eq!(r.reason, "machine is unavailable");
    assert_eq!(
        h.core.record("machine1").map(|r| r.state),
        Some(MachineState::Acquired)
    );
}

// ---- TestMachineCreationAndRemoval ---------------------------------------------------------

/// Case 47: a successful create leaves the record in its target state with UsedCount 0;
/// remove() makes it Removing. GitLab's test creates with target Used, which only its tests
/// do; here Acquire's background creation (target Idle) is used, and the update pass removes
/// it (IdleCount 0, IdleTime 0).
#[test]
fn case_047_create_then_remove() {
    let mut h = Harness::single(0, machine("%s", 1, 0));
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    let name = h.calls_of("create")[0].machine.clone();
    assert_eq!(
        h.core.record(&name).map(|r| r.state),
        Some(MachineState::Creating)
    );
    h.advance(60_000);
    let r = h.core.record(&name).expect("record present");
    assert_eq!((r.state, r.used_count), (MachineState::Idle, 0));
    assert_eq!(
        h.core
            .metrics()
            .action_total(simrun::autoscaler::metrics::ActionLabel::Created),
        1
    );
    h.set_runner(runner(R, "", 0, machine("%s", 0, 0)));
    h.advance(1);
    let _ = h.acquire(R);
    let r = h.core.record(&name).expect("record present");
    assert_eq!(
        (r.state, r.reason.as_str()),
        (MachineState::Removing, "too many idle machines")
    );
}

/// Case 48: a failing driver create delivers the error and leaves the record Removing
/// ("Failed to create"). The error is observable where GitLab Runner delivers it: to the
/// on-demand waiter that started the creation (the useMachine attempt fails with it, and Use
/// finally returns it). A background creation's failure only reaches the log.
#[test]
fn case_048_failed_create_is_removing() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.script.create_fails = true;
    h.script.failed_create_leaves_dir = true;
    let u = h.use_machine(R, None);
    let name = h.calls_of("create")[0].machine.clone();
    h.advance(60_000);
    let r = h.core.record(&name).expect("record");
    assert_eq!(
        (r.state, r.reason.as_str()),
        (MachineState::Removing, "Failed to create")
    );
    let failed = h.events_where(|k| {
        matches!(k, EventKind::UseAttemptFailed { attempt: 1, error } if error.contains("quota"))
    });
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].at,
        SimTime(60_000),
        "delivered when the create failed"
    );
    h.settle(30 * 60_000);
    let res = h.uses.get(&u).map(|x| x.1.clone()).expect("answered");
    assert!(
        matches!(res, Err(UseError::Machine(ref e)) if e.contains("quota")),
        "{res:?}"
    );

    // Background creation (Acquire, IdleCount 1): the same removal, the error logged.
    let mut h = Harness::single(0, machine("%s", 1, 0));
    h.script.create_fails = true;
    h.script.failed_create_leaves_dir = true;
    let _ = h.acquire_now(R);
    let name = h.calls_of("create")[0].machine.clone();
    h.advance(60_000);
    let r = h.core.record(&name).expect("record");
    assert_eq!(
        (r.state, r.reason.as_str()),
        (MachineState::Removing, "Failed to create")
    );
    let failed = h.events_where(
        |k| matches!(k, EventKind::CreationFailed { error } if error.contains("quota")),
    );
    assert_eq!(failed.len(), 1);
}

// ---- TestMachineUse / TestMachineTestRetry -------------------------------------------------

/// Case 49: Use(nothing) finds machine1 on disk; a second Use creates a new machine; with
/// failing creates Use ends in an error. (GitLab calls useMachine; here Use also gets
/// credentials and marks the machine Used.)
#[test]
fn case_049_use_finds_then_creates_then_fails() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.disk("machine1");
    let first = h.use_now(R, None).expect("first use");
    assert_eq!((first.machine.as_str(), first.new_data), ("machine1", true));
    let second = h.use_now(R, None).expect("second use");
    assert_ne!(second.machine, "machine1");
    assert!(second.new_data);
    assert_eq!(h.calls_of("create").len(), 1);
    h.script.create_fails = true;
    let third = h.use_now(R, None);
    assert!(
        matches!(third, Err(UseError::Machine(ref e)) if e.contains("quota")),
        "{third:?}"
    );
}

/// Case 50: the first create fails, the second succeeds: one attempt errs, Use (retryUseMachine)
/// succeeds on its second attempt after the 1 s sleep.
#[test]
fn case_050_retry_use_machine_after_failed_create() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.script.create_results = vec![false, true];
    let start = h.now;
    let r = h.use_machine(R, None);
    h.settle(10 * 60_000);
    let (at, res) = h.uses.get(&r).cloned().expect("answered");
    assert!(res.expect("success").new_data);
    let failures = h.events_where(|k| matches!(k, EventKind::UseAttemptFailed { attempt: 1, .. }));
    assert_eq!(failures.len(), 1);
    // create 60 s, 1 s sleep, create 60 s; then config + url of credentials. The owner is the
    // only listener, so it receives its creation's wake-up itself (before its result, as in
    // GitLab Runner) and finds the new machine through find-existing's config first.
    let expected = 60_000 + 1_000 + 60_000 + 500 + 500 + 300;
    assert_eq!(at.since(start).as_millis(), expected);
}

// ---- TestMachineAcquireGrowthCapacity, coordinator tests -----------------------------------

fn peak_with(mgr: i64, uses: usize, create_ms: u64) -> Harness {
    let mut m = machine("%s", 0, 3600);
    m.max_growth_rate = mgr;
    let mut h = Harness::single(0, m);
    h.script.create_ms = create_ms;
    let reqs: Vec<_> = (0..uses).map(|_| h.use_machine(R, None)).collect();
    h.settle(24 * 3600 * 1000);
    for r in reqs {
        assert!(
            matches!(h.uses.get(&r), Some((_, Ok(_)))),
            "use {r:?} succeeded"
        );
    }
    h
}

/// Case 51: MaxGrowthRate 3, 15 on-demand creations at once, each create 300 ms → at most 3
/// driver creates run at once.
#[test]
fn case_051_growth_semaphore_caps_concurrent_creates() {
    let h = peak_with(3, 15, 300);
    assert_eq!(h.peak_creates_in_driver, 3);
    assert_eq!(h.calls_of("create").len(), 15);
}

/// Case 52: the same with one creation → peak 1.
#[test]
fn case_052_single_create_peak_one() {
    let h = peak_with(3, 1, 300);
    assert_eq!(h.peak_creates_in_driver, 1);
}

/// Case 53: cap 500 with 1000 concurrent creations holding 1 s → peak exactly 500; cap 0 →
/// no cap.
#[test]
fn case_053_semaphore_cap_500_and_uncapped() {
    let h = peak_with(500, 1000, 1000);
    assert_eq!(h.peak_creates_in_driver, 500);
    let h = peak_with(0, 1000, 1000);
    assert_eq!(h.peak_creates_in_driver, 1000);
}

/// Case 54: a Release with no waiter does not block and the wake-up is lost; the counter
/// stays 1 and the next waiter's first poll consumes it exactly once.
#[test]
fn case_054_available_counter_without_waiter() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.disk("m1");
    assert_eq!(h.acquire_now(R), acquired("m1"));
    h.release(R, "m1");
    assert_eq!(h.core.coordinator_state(R), Some((0, 0, 1, 0)));
    // m1 is now unreachable: Use removes it and waits for its own creation.
    h.script.unreachable.insert("m1".into());
    h.script.create_ms = 10_000;
    let _ = h.use_machine(R, None);
    h.advance(600);
    assert_eq!(
        h.core.coordinator_state(R),
        Some((1, 0, 1, 1)),
        "listening, counter untouched"
    );
    h.advance(1_000);
    assert_eq!(
        h.core.coordinator_state(R).map(|c| c.2),
        Some(0),
        "first poll took it"
    );
    h.advance(3_000);
    assert_eq!(h.core.coordinator_state(R).map(|c| c.2), Some(0));
}

// ---- TestMachineAcquireAndRelease, on-demand mode ------------------------------------------

/// Case 55: IdleCount 0, IdleTime 5: Acquire gets the disk machine; again → nothing and no
/// error; after Release the same machine again.
#[test]
fn case_055_acquire_and_release() {
    let mut h = Harness::single(0, machine("%s", 0, 5));
    h.disk("test-machine");
    assert_eq!(h.acquire_now(R), acquired("test-machine"));
    assert_eq!(h.acquire_now(R), Ok(Acquired::Nothing));
    h.release(R, "test-machine");
    assert_eq!(h.acquire_now(R), acquired("test-machine"));
}

/// Case 56: on-demand mode with an empty store: nothing, no error.
#[test]
fn case_056_on_demand_mode() {
    let mut h = Harness::single(0, machine("%s", 0, 1));
    assert_eq!(h.acquire_now(R), Ok(Acquired::Nothing));
    assert!(h.calls_of("create").is_empty());
}

/// Case 57: on-demand with limit 2: twice Acquire → nothing and Use → a new machine; the
/// third Acquire → "no free machines that can process builds".
#[test]
fn case_057_on_demand_with_limit() {
    let mut h = Harness::single(2, machine("%s", 0, 1));
    for _ in 0..2 {
        assert_eq!(h.acquire_now(R), Ok(Acquired::Nothing));
        assert!(h.use_now(R, None).expect("use").new_data);
    }
    let e = h.acquire_now(R);
    assert_eq!(e, Err(AcquireError::NoFreeMachines));
    assert_eq!(
        e.unwrap_err().to_string(),
        "no free machines that can process builds"
    );
}

// ---- TestMachinePreCreateMode (cases 58–62, one sequence) ----------------------------------

fn pre_create_steps(upto: u32) -> Harness {
    let mut h = Harness::single(0, machine("%s", 1, 5));
    // 58
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    assert_eq!(h.calls_of("create").len(), 1);
    h.advance(60_000);
    assert_eq!(h.count_state(MachineState::Idle), 1);
    if upto == 58 {
        return h;
    }
    // 59
    let m = machine_of(&h.acquire_now(R));
    assert_eq!(h.count_state(MachineState::Idle), 0);
    h.release(R, &m);
    assert_eq!(h.count_state(MachineState::Idle), 1);
    if upto == 59 {
        return h;
    }
    // 60
    h.set_runner(runner(R, "", 0, machine("%s", 2, 5)));
    let m2 = machine_of(&h.acquire_now(R));
    assert_eq!(m2, m, "the existing one");
    assert_eq!(h.calls_of("create").len(), 2, "one more creation");
    h.release(R, &m2);
    h.advance(60_000);
    assert_eq!(h.count_state(MachineState::Idle), 2);
    if upto == 60 {
        return h;
    }
    // 61
    h.set_runner(runner(R, "", 1, machine("%s", 1, 0)));
    let m3 = machine_of(&h.acquire_now(R));
    assert_eq!(h.removal_reasons(), ["too many machines"]);
    h.release(R, &m3);
    h.advance(60_000);
    assert_eq!(h.count_state(MachineState::Idle), 1);
    assert_eq!(h.core.records().count(), 1);
    if upto == 61 {
        return h;
    }
    // 62
    let m4 = machine_of(&h.acquire_now(R));
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    h.release(R, &m4);
    assert_eq!(h.count_state(MachineState::Idle), 1);
    h
}

#[test]
fn case_058_pre_create_first_acquire_fails_and_creates() {
    pre_create_steps(58);
}
#[test]
fn case_059_pre_create_acquire_then_release() {
    pre_create_steps(59);
}
#[test]
fn case_060_pre_create_idle_count_two() {
    pre_create_steps(60);
}
#[test]
fn case_061_pre_create_limit_one_removes_second() {
    pre_create_steps(61);
}
#[test]
fn case_062_pre_create_limit_reached() {
    pre_create_steps(62);
}

// ---- TestMachineLimitMax -------------------------------------------------------------------

fn limit_max(limits: &[i64]) -> Harness {
    let mut h = Harness::single(5, machine("%s", 10, 5));
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    assert_eq!(h.calls_of("create").len(), 5);
    h.advance(60_000);
    assert_eq!(h.count_state(MachineState::Idle), 5);
    for &l in limits {
        h.set_runner(runner(R, "", l, machine("%s", 10, 5)));
        let m = machine_of(&h.acquire_now(R));
        h.release(R, &m);
        h.advance(60_000);
    }
    h
}

/// Case 63: IdleCount 10, limit 5 → exactly 5 machines.
#[test]
fn case_063_limit_caps_creation() {
    let h = limit_max(&[]);
    assert_eq!(h.core.records().count(), 5);
}

/// Case 64: then limit 8 → success and 8 Idle after Release.
#[test]
fn case_064_limit_raised_to_eight() {
    let h = limit_max(&[8]);
    assert_eq!(h.count_state(MachineState::Idle), 8);
}

/// Case 65: then (after case 64's 8 machines) limit 2 → success, 6 removed as "too many
/// machines", 2 Idle.
#[test]
fn case_065_limit_lowered_to_two() {
    let h = limit_max(&[8, 2]);
    assert_eq!(h.removal_reasons(), vec!["too many machines"; 6]);
    assert_eq!(h.count_state(MachineState::Idle), 2);
    assert_eq!(h.core.records().count(), 2);
}

// ---- TestMachineMaxBuilds ------------------------------------------------------------------

/// Case 66: a disk machine (UsedCount 1) with MaxBuilds 2: acquired, used via the fast path (no
/// new data), and removed at Release with "Too many builds".
#[test]
fn case_066_max_builds_at_release() {
    let mut m = machine("%s", 1, 5);
    m.max_builds = 2;
    let mut h = Harness::single(0, m);
    h.disk("found");
    assert_eq!(h.acquire_now(R), acquired("found"));
    let used = h.use_now(R, Some("found")).expect("use");
    assert_eq!((used.machine.as_str(), used.new_data), ("found", false));
    h.release(R, "found");
    let r = h.core.record("found").expect("record");
    assert_eq!(
        (r.state, r.reason.as_str()),
        (MachineState::Removing, "Too many builds")
    );
}

// ---- TestMachineIdleLimits -----------------------------------------------------------------

/// One machine on disk, adopted by a first Acquire+Release; then, after `wait_ms`, Acquire
/// and Release with IdleCount `ic`, IdleTime `it`. Returns the machine's record state and
/// reason.
fn idle_limits(ic: i64, it: i64, wait_ms: u64) -> (Option<MachineState>, String) {
    let mut h = Harness::single(0, machine("%s", ic, it));
    h.script.hang.insert("create"); // only the disk machine matters
    h.disk("m");
    assert_eq!(h.acquire_now(R), acquired("m"));
    h.release(R, "m");
    h.advance(wait_ms);
    let r = h.acquire_now(R);
    if let Ok(Acquired::Machine(x)) = &r {
        h.release(R, x);
    }
    let rec = h.core.record("m");
    (
        rec.map(|r| r.state),
        rec.map(|r| r.reason.clone()).unwrap_or_default(),
    )
}

/// Case 67: IdleCount 2, IdleTime 1, 1 s later: kept (A′ = 0 < 2), not because of IdleTime
/// (Q19).
#[test]
fn case_067_idle_limits_kept_under_idle_count() {
    assert_eq!(idle_limits(2, 1, 1_001).0, Some(MachineState::Idle));
}

/// Case 68: IdleCount 2, IdleTime 0: kept.
#[test]
fn case_068_idle_limits_idle_time_zero_kept() {
    assert_eq!(idle_limits(2, 0, 1).0, Some(MachineState::Idle));
}

/// Case 69: IdleCount 0, IdleTime 0: Removing, "too many idle machines".
#[test]
fn case_069_idle_limits_on_demand_removed() {
    assert_eq!(
        idle_limits(0, 0, 1),
        (
            Some(MachineState::Removing),
            "too many idle machines".to_string()
        )
    );
}

// ---- TestMachineUseOnDemand (cases 70–73) --------------------------------------------------

/// Case 70: two Use(nothing) each give new data; 1 then 2 non-removing records.
#[test]
fn case_070_use_on_demand_twice() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    assert!(h.use_now(R, None).expect("use").new_data);
    assert_eq!(h.non_removing(), 1);
    assert!(h.use_now(R, None).expect("use").new_data);
    assert_eq!(h.non_removing(), 2);
}

/// Case 71: then Use(nothing) with failing creates → error, still 2 non-removing records.
#[test]
fn case_071_use_on_demand_failing_create() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.use_now(R, None).expect("use");
    h.use_now(R, None).expect("use");
    h.script.create_fails = true;
    assert!(h.use_now(R, None).is_err());
    assert_eq!(h.non_removing(), 2);
}

/// Case 72: then a create that succeeds with credentials failing → error; 3 non-removing
/// records (the created machine is released to Idle and kept).
#[test]
fn case_072_use_on_demand_credentials_fail_keeps_machine() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.use_now(R, None).expect("use");
    h.use_now(R, None).expect("use");
    h.script.credentials_fail = true;
    let e = h.use_now(R, None);
    assert!(matches!(e, Err(UseError::Credentials(_))), "{e:?}");
    assert_eq!(h.non_removing(), 3);
    assert_eq!(h.count_state(MachineState::Idle), 1);
}

/// Case 73: Use with a credentials failure returns an error and no new data.
#[test]
fn case_073_credentials_failure_gives_no_data() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.disk("m");
    assert_eq!(h.acquire_now(R), acquired("m"));
    h.script.credentials_fail = true;
    let e = h.use_now(R, Some("m"));
    assert!(matches!(e, Err(UseError::Credentials(_))), "{e:?}");
    // The machine from Acquire stays Acquired until the worker's Release.
    assert_eq!(
        h.core.record("m").map(|r| r.state),
        Some(MachineState::Acquired)
    );
}

/// Case 74: Release with invalid data (unknown runner, unknown machine) does not crash. An
/// unknown runner has no coordinator: ignored. An unknown machine of a known runner makes no
/// record, but raises the available counter (and sends the wake-up) as GitLab Runner's
/// Release does unconditionally (spec §3.11).
#[test]
fn case_074_release_with_invalid_data() {
    let mut h = Harness::single(0, machine("%s", 0, 3600));
    h.release("no-such-runner", "no-such-machine");
    assert_eq!(h.events_where(|k| *k == EventKind::ReleaseIgnored).len(), 1);
    h.release(R, "no-such-machine");
    assert_eq!(
        h.events_where(|k| *k == EventKind::ReleasedUnknown).len(),
        1
    );
    assert_eq!(h.core.records().count(), 0);
    assert_eq!(h.core.coordinator_state(R), Some((0, 0, 1, 0)));
}

// ---- TestIntermediateMachineList -----------------------------------------------------------

/// Case 75: records {m1 Idle, m2 Creating, m3 Creating}, listing [m1, m2] → m3 is added as an
/// intermediate machine and m2 is not counted twice. Observed through the tally: with
/// IdleCount 4, Available = 3 so exactly one creation starts.
#[test]
fn case_075_intermediate_machines() {
    let mut h = Harness::single(0, machine("%s", 2, 3600));
    h.script.hang.insert("create");
    assert_eq!(h.acquire_now(R), Err(AcquireError::NoFreeMachines));
    let creating: Vec<String> = h
        .calls_of("create")
        .iter()
        .map(|c| c.machine.clone())
        .collect();
    assert_eq!(creating.len(), 2);
    h.disk("m1");
    h.disk(&creating[0]); // m2's directory already exists
    h.set_runner(runner(R, "", 0, machine("%s", 4, 3600)));
    h.advance(1_000);
    let _ = h.acquire_now(R);
    assert_eq!(h.calls_of("create").len(), 3, "exactly one more creation");
    let m3 = h.core.record(&creating[1]).expect("m3");
    assert_eq!(m3.last_seen, SimTime(1_000), "m3 was in the loaded list");
}

// ---- TestMachineOptionsWithName ------------------------------------------------------------

fn create_options(m: simrun::config::MachineConfig) -> Vec<String> {
    let mut h = Harness::single(0, m);
    let _ = h.acquire_now(R);
    match &h.calls_of("create")[0].kind {
        CallKind::Create { options, .. } => options.clone(),
        _ => unreachable!(),
    }
}

/// Case 76: MachineOptions, then MachineOptionsWithName formatted with the name, in order.
#[test]
fn case_076_machine_options_with_name() {
    let mut m = machine("%s", 1, 0);
    m.machine_options = vec!["o1".into(), "o2".into()];
    m.machine_options_with_name = vec![
        "--name-option=%s".into(),
        "--another-name-option=%s-suffix".into(),
    ];
    let opts = create_options(m);
    assert_eq!(opts.len(), 4);
    assert_eq!(&opts[..2], ["o1", "o2"]);
    let name = opts[2].strip_prefix("--name-option=").expect("prefix");
    assert_eq!(opts[3], format!("--another-name-option={name}-suffix"));
}

/// Case 77: without MachineOptionsWithName only MachineOptions.
#[test]
fn case_077_machine_options_without_name() {
    let mut m = machine("%s", 1, 0);
    m.machine_options = vec!["o1".into()];
    assert_eq!(create_options(m), ["o1"]);
}

// ---- TestFinalizeRemoval_StopsAfterMaxAttempts ---------------------------------------------

/// Case 78: MaxRemovalAttempts 3 and `rm -y` always failing: 3 attempts (each stop + rm + 30 s
/// sleep), then one `rm -f`, and the record is deleted (removed counter +1, Q12).
#[test]
fn case_078_removal_gives_up_after_max_attempts() {
    let mut m = machine("%s", 1, 0);
    m.max_removal_attempts = 3;
    let mut h = Harness::single(0, m.clone());
    let _ = h.acquire_now(R);
    h.advance(60_000);
    let name = h.calls_of("create")[0].machine.clone();
    h.script.rm_fails = true;
    m.idle.idle_count = 0;
    h.set_runner(runner(R, "", 0, m));
    h.advance(1);
    let start = h.now;
    let _ = h.acquire(R);
    h.settle(3600 * 1000);
    assert_eq!(h.calls_of("rm -y").len(), 3);
    assert_eq!(h.calls_of("rm -f").len(), 1);
    assert!(h.core.record(&name).is_none(), "record deleted");
    assert_eq!(h.events_where(|k| *k == EventKind::GaveUp).len(), 1);
    let removed = h.events_where(|k| *k == EventKind::Removed { gave_up: true });
    // 3 × (inspect 0.1 s + stop 5 s + rm 10 s + sleep 30 s) + rm -f 10 s.
    assert_eq!(removed[0].at.since(start).as_millis(), 3 * 45_100 + 10_000);
}

// ---- TestMachineReuse, TestMachineReuseWithContention --------------------------------------

/// Case 79: MaxGrowthRate 1; machine A Used; a second Use must create and that create blocks
/// in the driver holding the only growth slot; A is released 1 s later → the waiter gets A.
#[test]
fn case_079_waiter_reuses_released_machine() {
    let mut m = machine("%s", 0, 3600);
    m.max_growth_rate = 1;
    let mut h = Harness::single(0, m);
    let a = h.use_now(R, None).expect("A").machine;
    h.script.hang.insert("create");
    let r = h.use_machine(R, None);
    h.advance(1_000);
    assert_eq!(
        h.core.coordinator_state(R).map(|c| c.0),
        Some(1),
        "blocked create holds the slot"
    );
    h.release(R, &a);
    h.advance(10_000);
    let got = h.uses.get(&r).cloned().expect("answered").1.expect("ok");
    assert_eq!(got.machine, a);
    assert_eq!(h.calls_of("create").len(), 2);
}

/// Case 80: MaxGrowthRate 10, 500 concurrent Use(nothing), each job releasing its machine
/// 100 ms after Use: all succeed, nothing deadlocks, machines were created.
#[test]
fn case_080_reuse_with_contention() {
    let mut m = machine("%s", 0, 3600);
    m.max_growth_rate = 10;
    let mut h = Harness::single(0, m);
    h.script.create_ms = 1_000;
    let reqs: Vec<_> = (0..500).map(|_| h.use_machine(R, None)).collect();
    let mut released = std::collections::BTreeSet::new();
    let deadline = SimTime(24 * 3600 * 1000);
    while h.now < deadline {
        let done: Vec<_> = h
            .uses
            .iter()
            .filter(|(r, _)| !released.contains(*r))
            .map(|(r, (_, res))| (*r, res.clone()))
            .collect();
        for (r, res) in done {
            released.insert(r);
            if let Ok(u) = res {
                h.release(R, &u.machine);
            }
        }
        if released.len() == reqs.len() || !h.step() {
            break;
        }
    }
    assert_eq!(h.uses.len(), 500);
    assert!(h.uses.values().all(|(_, r)| r.is_ok()));
    assert!(!h.calls_of("create").is_empty());
}
