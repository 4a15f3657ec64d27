//! The invariant checker can fail (issue "Invariants…", done-when 1): each invariant is shown
//! to catch a deliberately broken core or manager — a test-only switch
//! (`RunOptions::sabotage`) that breaks the real logic, never one that injects a finding —
//! and the same scenario without the switch is clean, so every test can fail both ways.
//! Plus the quirks the checker counts instead (spec §6 Q11, Q24).
//!
//! All scenarios run on the deterministic fixed cloud (tests/fixtures/fakes/fixed.toml:
//! create 50 s, config/credentials 1 s, 1 USD per started hour) for at most 20 simulated
//! minutes.

use std::path::PathBuf;

use simrun::autoscaler::Sabotage;
use simrun::scenario::{Scenario, ScenarioOverrides, load_scenario_str};
use simrun::sim::records::RunRecords;
use simrun::sim::world::{RunOptions, run};

fn scenario(text: &str) -> Scenario {
    load_scenario_str(
        "t.toml",
        text,
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &ScenarioOverrides::default(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// One docker+machine runner `r` on the fixed cloud. `global` goes before `[[runners]]`,
/// `runner` into `[[runners]]`, `machine` into `[runners.machine]`, `tables` after it (e.g.
/// `[machine.shutdown_drain]`), `rest` after the `[cloud]` table (workloads, signals, faults).
fn text(global: &str, runner: &str, machine: &str, tables: &str, rest: &str) -> String {
    format!(
        "[scenario]\nname = \"inv\"\nseed = 1\nstart = \"2026-03-02T00:00:00Z\"\nduration = \"20m\"\n\
         [runner]\ninline = '''\n{global}check_interval = 3\n[[runners]]\n  name = \"r\"\n{runner}  executor = \"docker+machine\"\n  [runners.machine]\n    MachineDriver = \"google\"\n    MachineName = \"m-%s\"\n    MachineOptions = [\"google-machine-type=n1-standard-1\"]\n{machine}{tables}'''\n\
         [cloud]\nprofile = \"fakes/fixed.toml\"\n{rest}"
    )
}

fn burst(at: &str, jobs: u32, duration: &str) -> String {
    format!(
        "[[workload]]\nkind = \"burst\"\nat = \"{at}\"\njobs = {jobs}\nduration = \"{duration}\"\n"
    )
}

fn run_with(s: &Scenario, sabotage: Sabotage) -> RunRecords {
    run(
        s,
        &RunOptions {
            sabotage,
            ..RunOptions::default()
        },
    )
    .expect("runs")
}

/// The faithful run is clean; the sabotaged one reports `invariant`, in `violations` and as
/// an `invariant violated` row of the decision log.
fn assert_caught(text: &str, sabotage: Sabotage, invariant: &str) -> RunRecords {
    let s = scenario(text);
    let faithful = run_with(&s, Sabotage::None);
    assert!(
        faithful.violations.is_empty(),
        "faithful run: {:?}",
        faithful.violations
    );
    assert!(
        !faithful
            .events
            .iter()
            .any(|e| e.event == "invariant violated")
    );
    let broken = run_with(&s, sabotage);
    assert!(
        broken.violations.iter().any(|v| v.invariant == invariant),
        "{sabotage:?} should break {invariant}: {:?}",
        broken.violations
    );
    let row = broken
        .events
        .iter()
        .find(|e| {
            e.event == "invariant violated" && e.reason.starts_with(&format!("{invariant}: "))
        })
        .expect("an events.csv row for the violation");
    let finding = broken
        .violations
        .iter()
        .find(|v| v.invariant == invariant)
        .expect("found above");
    assert_eq!(row.time.as_millis(), finding.time_ms);
    assert!(
        broken.events.windows(2).all(|w| w[0].time <= w[1].time),
        "events in time order"
    );
    broken
}

#[test]
fn machines_within_limit_catches_a_core_that_skips_the_limit_check() {
    // IdleCount 5 with limit 2: background creation stops at 2 (spec §3.3 totalExceeded).
    assert_caught(
        &text(
            "",
            "  limit = 2\n",
            "    IdleCount = 5\n    IdleTime = 600\n",
            "",
            "",
        ),
        Sabotage::SkipLimitCheck,
        "machines_within_limit",
    );
}

#[test]
fn creates_within_max_growth_rate_catches_a_core_that_ignores_it() {
    // IdleCount 4, MaxGrowthRate 1: one create at a time (spec §3.3, §3.7).
    assert_caught(
        &text(
            "",
            "",
            "    IdleCount = 4\n    IdleTime = 600\n    MaxGrowthRate = 1\n",
            "",
            "",
        ),
        Sabotage::IgnoreMaxGrowthRate,
        "creates_within_max_growth_rate",
    );
}

#[test]
fn jobs_within_max_builds_catches_a_core_that_ignores_max_builds() {
    // MaxBuilds 1: each machine is removed after its job (spec §3.11); 3 jobs one after
    // another on concurrent 1 would otherwise reuse the first machine.
    assert_caught(
        &text(
            "concurrent = 1\n",
            "",
            "    IdleCount = 1\n    IdleTime = 600\n    MaxBuilds = 1\n",
            "",
            &burst("60s", 3, "30s"),
        ),
        Sabotage::IgnoreMaxBuilds,
        "jobs_within_max_builds",
    );
}

#[test]
fn one_job_per_machine_catches_a_core_that_acquires_used_machines() {
    // IdleCount 1, two long jobs at once on concurrent 2: the second must wait for a new
    // machine, not share the first.
    assert_caught(
        &text(
            "concurrent = 2\n",
            "",
            "    IdleCount = 1\n    IdleTime = 600\n",
            "",
            &burst("60s", 2, "5m"),
        ),
        Sabotage::AcquireUsedMachines,
        "one_job_per_machine",
    );
}

#[test]
fn jobs_only_on_used_machines_catches_a_core_that_does_not_mark_used() {
    assert_caught(
        &text(
            "concurrent = 1\n",
            "",
            "    IdleCount = 1\n    IdleTime = 600\n",
            "",
            &burst("60s", 1, "1m"),
        ),
        Sabotage::SkipMarkUsed,
        "jobs_only_on_used_machines",
    );
}

#[test]
fn jobs_within_concurrent_catches_a_manager_that_ignores_concurrent() {
    assert_caught(
        &text(
            "concurrent = 1\n",
            "",
            "    IdleCount = 2\n    IdleTime = 600\n",
            "",
            &burst("60s", 2, "5m"),
        ),
        Sabotage::IgnoreConcurrent,
        "jobs_within_concurrent",
    );
}

#[test]
fn jobs_within_limit_catches_a_manager_that_ignores_the_runner_limit() {
    // A docker+machine runner's machines are capped by `limit` in the core as well (spec
    // §3.3), so the manager's build-slot check is shown alone on a `docker` runner: limit 1,
    // concurrent 3, three 5-minute jobs — one runs at a time.
    let text = format!(
        "[scenario]\nname = \"inv\"\nseed = 1\nstart = \"2026-03-02T00:00:00Z\"\nduration = \"20m\"\n\
         [runner]\ninline = '''\nconcurrent = 3\ncheck_interval = 3\n[[runners]]\n  name = \"d\"\n  limit = 1\n  executor = \"docker\"\n'''\n{}",
        burst("10s", 3, "5m")
    );
    assert_caught(&text, Sabotage::IgnoreRunnerLimit, "jobs_within_limit");
}

#[test]
fn no_job_request_after_stop_catches_a_manager_that_keeps_feeding() {
    assert_caught(
        &text(
            "concurrent = 2\n",
            "",
            "    IdleCount = 0\n    IdleTime = 600\n",
            "",
            &format!(
                "{}[[signals]]\nat = \"2m\"\nsignal = \"SIGQUIT\"\n",
                burst("10s", 1, "5m")
            ),
        ),
        Sabotage::KeepRequestingAfterStop,
        "no_job_request_after_stop",
    );
}

#[test]
fn job_runs_once_catches_a_manager_that_starts_a_job_twice() {
    assert_caught(
        &text(
            "concurrent = 1\n",
            "",
            "    IdleCount = 1\n    IdleTime = 600\n",
            "",
            &burst("60s", 1, "1m"),
        ),
        Sabotage::StartJobTwice,
        "job_runs_once",
    );
}

#[test]
fn no_job_vanishes_catches_a_manager_that_drops_aborted_preparations() {
    // On demand: the job is picked at 12 s and its machine is still being created (50 s)
    // when SIGTERM arrives at 30 s. The faithful manager fails it with runner_interrupted.
    let r = assert_caught(
        &text(
            "concurrent = 1\n",
            "",
            "    IdleCount = 0\n    IdleTime = 600\n",
            "",
            &format!(
                "{}[[signals]]\nat = \"30s\"\nsignal = \"SIGTERM\"\n",
                burst("10s", 1, "1m")
            ),
        ),
        Sabotage::ForgetAbortedPreparations,
        "no_job_vanishes",
    );
    assert!(r.jobs[0].end.is_none());
}

#[test]
fn job_ends_once_catches_a_manager_that_fails_a_job_before_its_retries() {
    // Every create fails (insufficient capacity), so each of the 3 preparation attempts
    // fails (spec §3.6, §0 W9); only the last may fail the job.
    let r = assert_caught(
        &text(
            "concurrent = 1\n",
            "",
            "    IdleCount = 0\n    IdleTime = 600\n",
            "",
            &format!("{}[[faults]]\nkind = \"capacity\"\n", burst("10s", 1, "1m")),
        ),
        Sabotage::FailJobOnEveryPreparationAttempt,
        "job_ends_once",
    );
    assert_eq!(
        r.jobs[0].failure_reason.as_deref(),
        Some("runner_system_failure")
    );
}

#[test]
fn billed_machines_accounted_catches_a_core_that_drops_records_without_removing() {
    // On demand, IdleTime 60 s: after the job the idle machine is reaped by an update pass.
    assert_caught(
        &text(
            "concurrent = 1\n",
            "",
            "    IdleCount = 0\n    IdleTime = 60\n",
            "",
            &burst("10s", 1, "1m"),
        ),
        Sabotage::DropRecordInsteadOfRemoving,
        "billed_machines_accounted",
    );
}

#[test]
fn drain_leaves_nothing_catches_a_drain_that_does_not_remove() {
    // Two idle machines, SIGQUIT at 5 min, drain enabled with a 10 min budget: the faithful
    // drain removes both (spec §4.3).
    let r = assert_caught(
        &text(
            "concurrent = 1\nshutdown_timeout = 600\n",
            "",
            "    IdleCount = 2\n    IdleTime = 600\n",
            "[machine.shutdown_drain]\n  enabled = true\n",
            "[[signals]]\nat = \"5m\"\nsignal = \"SIGQUIT\"\n",
        ),
        Sabotage::DrainWithoutRemoving,
        "drain_leaves_nothing",
    );
    assert_eq!(
        r.violations
            .iter()
            .filter(|v| v.invariant == "drain_leaves_nothing")
            .count(),
        2
    );
}

#[test]
fn checks_can_be_skipped_for_benchmarks_only() {
    let s = scenario(&text(
        "",
        "  limit = 2\n",
        "    IdleCount = 5\n    IdleTime = 600\n",
        "",
        "",
    ));
    assert!(!RunOptions::default().skip_invariants);
    let skipped = run(
        &s,
        &RunOptions {
            sabotage: Sabotage::SkipLimitCheck,
            skip_invariants: true,
            ..RunOptions::default()
        },
    )
    .expect("runs");
    assert!(skipped.violations.is_empty());
    assert!(skipped.machines.len() > 2, "the sabotage acted");
}

fn quirks(r: &RunRecords, q: &str) -> usize {
    r.quirks.iter().filter(|f| f.quirk == Some(q)).count()
}

#[test]
fn negative_idle_count_is_counted_as_quirk_q11() {
    let r = run_with(
        &scenario(&text(
            "concurrent = 1\n",
            "",
            "    IdleCount = -1\n    IdleTime = 600\n",
            "",
            &burst("10s", 1, "1m"),
        )),
        Sabotage::None,
    );
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(quirks(&r, "Q11"), 1);
    assert!(r.machines.is_empty());
    assert!(r.jobs[0].picked.is_none());
    assert!(
        r.events
            .iter()
            .any(|e| e.event == "quirk" && e.reason.starts_with("Q11 "))
    );
    // IdleCount 0 is on-demand mode: no Q11.
    let r0 = run_with(
        &scenario(&text(
            "concurrent = 1\n",
            "",
            "    IdleCount = 0\n    IdleTime = 600\n",
            "",
            &burst("10s", 1, "1m"),
        )),
        Sabotage::None,
    );
    assert_eq!(quirks(&r0, "Q11"), 0);
}

#[test]
fn an_on_demand_creation_left_by_its_waiter_is_counted_as_quirk_q24() {
    // Job 1 (10 s, 5 s long) gets machine X on demand (ready ~62 s, runs ~64–69 s). Job 2
    // arrives at 60 s on the second worker: X is Creating, so its Use creates Y and waits.
    // Job 1's Release wakes it, it takes X, and Y becomes an extra Idle machine (spec Q24).
    let r = run_with(
        &scenario(&text(
            "concurrent = 2\n",
            "",
            "    IdleCount = 0\n    IdleTime = 600\n",
            "",
            &format!("{}{}", burst("10s", 1, "5s"), burst("60s", 1, "1m")),
        )),
        Sabotage::None,
    );
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(quirks(&r, "Q24"), 1, "{:?}", r.quirks);
    assert_eq!(r.machines.len(), 2);
    assert_eq!(r.jobs[1].machine, r.jobs[0].machine);
    assert!(
        r.events
            .iter()
            .any(|e| e.event == "quirk" && e.reason.starts_with("Q24 "))
    );
}
