//! The shipped scenarios run cleanly, and the drain scenarios show what their headers promise.

use std::path::Path;

use simrun::scenario::{ScenarioOverrides, load_scenario};
use simrun::sim::records::{JobOutcome, RunRecords};
use simrun::sim::world::{RunOptions, run};

fn shipped(name: &str) -> RunRecords {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    let s = load_scenario(&p, &ScenarioOverrides::default())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    run(&s, &RunOptions::default()).expect("runs")
}

#[test]
fn every_shipped_scenario_runs_without_violations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    for n in names {
        let r = shipped(&n);
        assert!(r.violations.is_empty(), "{n}: {:?}", r.violations);
        assert!(
            r.jobs.iter().any(|j| j.outcome == JobOutcome::Succeeded),
            "{n}: nothing ran"
        );
    }
}

#[test]
fn drain_sigquit_finishes_jobs_and_leaves_nothing_behind() {
    let r = shipped("drain-sigquit.toml");
    let signal_ms = 30 * 60_000;
    // No job request after SIGQUIT: every job picked was picked before the signal.
    assert!(
        r.jobs
            .iter()
            .filter_map(|j| j.picked)
            .all(|p| p.as_millis() <= signal_ms)
    );
    // Graceful: every picked job ran to the end.
    assert!(
        r.jobs
            .iter()
            .filter(|j| j.picked.is_some())
            .all(|j| j.outcome == JobOutcome::Succeeded)
    );
    assert!(r.jobs.iter().all(|j| j.failure_reason.is_none()));
    // The drain removed every machine: nothing left running or orphaned.
    assert!(!r.machines.is_empty());
    assert!(
        r.machines.iter().all(|m| m.end_state == "removed"),
        "{:?}",
        r.machines.iter().map(|m| &m.end_state).collect::<Vec<_>>()
    );
    let last_job_end = r.jobs.iter().filter_map(|j| j.end).max().unwrap();
    let drain_start = r
        .events
        .iter()
        .find(|e| e.reason.starts_with("Draining machine pool"))
        .expect("drain started")
        .time;
    assert_eq!(
        drain_start, last_job_end,
        "the drain starts once the last worker stops"
    );
    let finished = r
        .events
        .iter()
        .find(|e| e.reason.contains("success="))
        .expect("drain summary");
    assert!(finished.reason.contains("failed=0"), "{}", finished.reason);
}

#[test]
fn drain_sigterm_aborts_jobs_and_runs_out_of_time() {
    let r = shipped("drain-sigterm.toml");
    let signal_ms = 30 * 60_000;
    let aborted: Vec<_> = r
        .jobs
        .iter()
        .filter(|j| j.failure_reason.as_deref() == Some("runner_interrupted"))
        .collect();
    assert!(!aborted.is_empty());
    assert!(
        aborted
            .iter()
            .all(|j| j.end.unwrap().as_millis() == signal_ms)
    );
    assert!(
        r.jobs.iter().all(|j| j.outcome != JobOutcome::Running),
        "nothing runs after the forceful exit"
    );
    let exit = r
        .events
        .iter()
        .find(|e| e.event == "process exited")
        .expect("exited");
    assert_eq!(
        exit.time.as_millis(),
        signal_ms + 60_000,
        "exit when shutdown_timeout (60 s) runs out"
    );
    assert!(
        r.events
            .iter()
            .any(|e| e.reason == "Drain operation cancelled or timed out")
    );
    let left = r
        .machines
        .iter()
        .filter(|m| m.end_state == "left_running")
        .count();
    assert!(
        left >= r.machines.len() - 2,
        "most machines stay in the cloud: {left} of {}",
        r.machines.len()
    );
    // They keep billing until the end of the scenario: the idle share dominates the bill.
    let idle: f64 = r.machines.iter().map(|m| m.cost_by_state[1]).sum();
    assert!(idle > 0.5 * r.cloud_bill_usd);
}

#[test]
fn docker_install_outage_fails_creates_in_the_window_only() {
    let r = shipped("docker-install-outage.toml");
    let (from, to) = (5_400_000u64, 9_000_000u64);
    let install: Vec<u64> = r
        .events
        .iter()
        .filter(|e| e.event == "creation failed" && e.reason.contains("error installing docker"))
        .map(|e| e.time.as_millis())
        .collect();
    assert!(install.len() >= 30, "{} install failures", install.len());
    // A create fails at the end of its install stage, which started inside the window; the
    // stage lasts at most a few minutes on GCE.
    assert!(
        install.iter().all(|&t| t >= from && t <= to + 10 * 60_000),
        "{install:?}"
    );
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert!(r.machines.iter().all(|m| m.end_state != "orphaned"));
    // Recovery: every job that arrived before the last hour finished.
    let horizon = r.simulated.as_millis();
    assert!(
        r.jobs
            .iter()
            .filter(|j| j.arrival.as_millis() < horizon - 3_600_000)
            .all(|j| j.outcome == JobOutcome::Succeeded)
    );
}
