//! End-to-end simulations through the library: hand-computed (analytic) scenarios on a
//! fixed-latency fake cloud, determinism, and every shared real config running to the end.

use std::path::{Path, PathBuf};

use simrun::scenario::{ScenarioOverrides, load_scenario_str};
use simrun::sim::records::{JobOutcome, RunRecords};
use simrun::sim::world::{RunOptions, run};

mod common;

use common::{root, scenario, simulate};

/// One docker+machine runner on the fixed cloud (create 50 s, config/credentials 1 s each,
/// 1 USD per started hour).
fn fixed(machine: &str, extra_global: &str, workloads: &str, gitlab: &str) -> String {
    format!(
        "[scenario]\nname = \"analytic\"\nseed = 1\nstart = \"2026-03-02T00:00:00Z\"\nduration = \"1h\"\n\
         [runner]\ninline = '''\n{extra_global}check_interval = 3\n[[runners]]\n  name = \"r\"\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineDriver = \"google\"\n    MachineName = \"m-%s\"\n    MachineOptions = [\"google-machine-type=n1-standard-1\"]\n{machine}'''\n\
         [cloud]\nprofile = \"fakes/fixed.toml\"\n{gitlab}{workloads}"
    )
}

fn queue_ms(r: &RunRecords) -> Vec<u64> {
    r.jobs
        .iter()
        .map(|j| j.queue_time().expect("picked").as_millis())
        .collect()
}

#[test]
fn analytic_on_demand_single_job() {
    // IdleCount 0 (on-demand), concurrent 1, check_interval 3 s: the feeder calls Acquire at
    // 0, 3, 6, 9, 12 s; each returns "nothing" (on-demand admission) and a job request follows.
    // The job arrives at 10 s and is picked by the request at 12 s: queue time 2 s. Use then
    // creates a machine on demand (50 s), so the script starts at 62 s plus the config and
    // credentials calls (1 s each): 62–66 s. The machine lives < 1 h: billed 1 started hour
    // = 1 USD. IdleTime 600 s after the job ends (~126 s) the next Acquire removes it.
    let r = simulate(&fixed(
        "    IdleCount = 0\n    IdleTime = 600\n",
        "concurrent = 1\n",
        "[[workload]]\nkind = \"burst\"\nat = \"10s\"\njobs = 1\nduration = \"60s\"\n",
        "",
    ));
    assert_eq!(queue_ms(&r), vec![2000]);
    let j = &r.jobs[0];
    assert_eq!(j.outcome, JobOutcome::Succeeded);
    let start = j.start.unwrap().as_millis();
    assert!((62_000..=66_000).contains(&start), "start {start}");
    assert_eq!(j.end.unwrap().as_millis(), start + 60_000);
    assert_eq!(r.machines.len(), 1);
    let m = &r.machines[0];
    assert_eq!(m.end_state, "removed");
    assert_eq!(m.jobs, 1);
    let removed = m.removed.unwrap().as_millis();
    assert!(
        removed > start + 60_000 + 600_000 && removed < start + 60_000 + 620_000,
        "removed {removed}"
    );
    assert!((r.cloud_bill_usd - 1.0).abs() < 1e-9);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
}

#[test]
fn analytic_idle_pool_serves_jobs_without_queueing() {
    // IdleCount 2: the Acquire at 0 s starts 2 creations (ready at 50 s). Find-free always
    // tries the newest name first, so only that machine has a cached positive CanConnect
    // (5 min, spec §3.12). Two jobs arrive at 300 s, a feed instant (300 = 100 × 3 s): the
    // first cycle acquires the newest idle machine from the cache and takes job 1 at 300 s;
    // the immediate requeue gives a second worker the other idle machine, whose CanConnect is
    // not cached: `docker-machine config` (1 s) runs under the acquire lock (Q23), so job 2 is
    // taken at 301 s. Queue times 0 and 1 s. Once both machines are Used,
    // Available = 0 < 2 and the next Acquire starts 2 replacements: 4 machines, none past
    // IdleTime (3600 s) within the hour, so all 4 are left running, each billed one started
    // hour: 4 USD.
    let r = simulate(&fixed(
        "    IdleCount = 2\n    IdleTime = 3600\n",
        "concurrent = 4\n",
        "[[workload]]\nkind = \"burst\"\nat = \"5m\"\njobs = 2\nduration = \"2m\"\n",
        "",
    ));
    assert_eq!(queue_ms(&r), vec![0, 1000]);
    assert_eq!(r.machines.len(), 4);
    assert!(
        r.machines.iter().all(|m| m.end_state == "left_running"),
        "{:?}",
        r.machines
    );
    assert_eq!(r.machines.iter().map(|m| m.jobs).sum::<u32>(), 2);
    assert!(
        (r.cloud_bill_usd - 4.0).abs() < 1e-9,
        "{}",
        r.cloud_bill_usd
    );
    assert_eq!(r.peak_by_state[1], 4, "peak idle");
}

#[test]
fn analytic_long_polling_hands_out_jobs_on_arrival() {
    // Without long polling the job arriving at 20 s waits for the next feed (21 s): 1 s.
    // With GitLab holding requests 50 s (spec §0 M1), the request made at 18 s is still open
    // at 20 s and gets the job at once: 0 s.
    let w = "[[workload]]\nkind = \"burst\"\nat = \"20s\"\njobs = 1\nduration = \"30s\"\n";
    let m = "    IdleCount = 0\n    IdleTime = 600\n";
    let r = simulate(&fixed(m, "concurrent = 2\n", w, ""));
    assert_eq!(queue_ms(&r), vec![1000]);
    let r = simulate(&fixed(
        m,
        "concurrent = 2\n",
        w,
        "[gitlab]\nlong_poll = \"50s\"\n",
    ));
    assert_eq!(queue_ms(&r), vec![0]);
}

#[test]
fn same_seed_same_records_other_seed_differs() {
    let text = std::fs::read_to_string(root().join("scenarios/burst.toml")).unwrap();
    let load = |seed| {
        let o = ScenarioOverrides {
            seed: Some(seed),
            duration: Some(simrun::time::SimDuration::from_mins(150)),
            ..Default::default()
        };
        load_scenario_str("burst.toml", &text, &root().join("scenarios"), &o).unwrap()
    };
    let a = format!("{:?}", run(&load(42), &RunOptions::default()).unwrap());
    let b = format!("{:?}", run(&load(42), &RunOptions::default()).unwrap());
    let c = format!("{:?}", run(&load(43), &RunOptions::default()).unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn every_shared_config_runs_to_the_end() {
    let dir = root().join("../shared/data/configs");
    if !dir.is_dir() {
        eprintln!("skipping: {} is absent", dir.display());
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let text = format!(
            "[scenario]\nname = \"shared\"\nseed = 3\nstart = \"2026-03-02T08:00:00Z\"\nduration = \"3h\"\n[runner]\nconfig = {:?}\n\
             [[workload]]\nkind = \"poisson\"\nrate_per_hour = 30\nduration = {{ dist = \"lognormal\", median = \"5m\", p95 = \"15m\" }}\n\
             [[workload]]\nkind = \"burst\"\nat = \"1h\"\njobs = 40\nduration = \"10m\"\n",
            f.display().to_string()
        );
        let s = load_scenario_str(
            "shared.toml",
            &text,
            Path::new("."),
            &ScenarioOverrides::default(),
        )
        .unwrap_or_else(|e| panic!("{}: {}", f.display(), e.render()));
        let r = run(&s, &RunOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let done = r
            .jobs
            .iter()
            .filter(|j| j.outcome == JobOutcome::Succeeded)
            .count();
        assert!(done > 0, "{}: no job succeeded", f.display());
        assert!(
            r.violations.is_empty(),
            "{}: {:?}",
            f.display(),
            r.violations
        );
        let sum: f64 = r.machines.iter().map(|m| m.cost_usd).sum();
        assert!((sum - r.cloud_bill_usd).abs() < 1e-6);
    }
}

#[test]
fn preexisting_machines_are_adopted_as_used_once_quirk_q3() {
    // Three machines are in the store at the start. The first Acquire (t = 0) lists them,
    // adopts each as Idle with UsedCount 1 (spec §2.4), and with MaxBuilds = 1 the update pass
    // removes every one of them at once: "too many builds" (Q3).
    let text = fixed(
        "    IdleCount = 0\n    IdleTime = 600\n    MaxBuilds = 1\n",
        "concurrent = 1\n",
        "[[machines]]\nrunner = \"r\"\ncount = 3\nage = \"2h\"\n",
        "",
    );
    let r = simulate(&text);
    assert_eq!(r.machines.len(), 3);
    assert!(
        r.machines
            .iter()
            .all(|m| m.end_state == "removed" && m.jobs == 0),
        "{:?}",
        r.machines
    );
    let adopted = r
        .events
        .iter()
        .filter(|e| e.event == "adopted" && e.time.as_millis() == 0)
        .count();
    assert_eq!(adopted, 3);
    let removals: Vec<&str> = r
        .events
        .iter()
        .filter(|e| e.event == "removal requested")
        .map(|e| e.reason.as_str())
        .collect();
    assert_eq!(removals, vec!["too many builds"; 3]);
    // Each billed one started hour (from the start of the simulated span): 3 USD.
    assert!((r.cloud_bill_usd - 3.0).abs() < 1e-9);
}

#[test]
fn sigquit_finishes_the_running_job_and_leaves_the_machine_running() {
    // Job 1 (30 min) starts at about 63 s on an on-demand machine. SIGQUIT at 10 min: the
    // feeder stops, the job runs to completion, the provider has no drain config, so the
    // process exits and the idle machine stays in the cloud (left running, spec §4.2). Job 2
    // arrives after the signal and stays pending.
    let text = fixed(
        "    IdleCount = 0\n    IdleTime = 60\n",
        "concurrent = 2\n",
        "[[workload]]\nkind = \"burst\"\nat = \"10s\"\njobs = 1\nduration = \"30m\"\n\
         [[workload]]\nkind = \"burst\"\nat = \"20m\"\njobs = 1\nduration = \"1m\"\n\
         [[signals]]\nat = \"10m\"\nsignal = \"SIGQUIT\"\n",
        "",
    );
    let r = simulate(&text);
    assert_eq!(r.jobs[0].outcome, JobOutcome::Succeeded);
    assert_eq!(r.jobs[1].outcome, JobOutcome::Pending);
    assert_eq!(r.machines.len(), 1);
    assert_eq!(r.machines[0].end_state, "left_running");
    let exit = r
        .events
        .iter()
        .find(|e| e.event == "process exited")
        .expect("exited");
    assert_eq!(
        exit.time,
        r.jobs[0].end.unwrap(),
        "exits when the last job ends"
    );
    assert!(
        r.events
            .iter()
            .any(|e| e.reason == "No shutdown drain config, skipping machine pool drain")
    );
    assert!((r.cloud_bill_usd - 1.0).abs() < 1e-9);
}

#[test]
fn sigterm_aborts_the_running_job_with_runner_interrupted() {
    let text = fixed(
        "    IdleCount = 0\n    IdleTime = 60\n",
        "concurrent = 2\nshutdown_timeout = 120\n",
        "[[workload]]\nkind = \"burst\"\nat = \"10s\"\njobs = 1\nduration = \"30m\"\n[[signals]]\nat = \"10m\"\nsignal = \"SIGTERM\"\n",
        "",
    );
    let r = simulate(&text);
    let j = &r.jobs[0];
    assert_eq!(j.outcome, JobOutcome::Failed);
    assert_eq!(j.failure_reason.as_deref(), Some("runner_interrupted"));
    assert_eq!(j.end.unwrap().as_millis(), 600_000);
    // No drain: the provider returns at once, so the process exits at the signal, not at
    // the 120 s shutdown_timeout.
    let exit = r
        .events
        .iter()
        .find(|e| e.event == "process exited")
        .expect("exited");
    assert_eq!(exit.time.as_millis(), 600_000);
    assert_eq!(r.machines[0].end_state, "left_running");
}

#[test]
fn the_limit_invariant_catches_a_core_that_skips_the_limit_check() {
    // IdleCount 5 with limit 2: the faithful core pre-creates 2 machines and stops (spec §3.3
    // totalExceeded). A core with the limit check skipped (a test-only sabotage switch in the
    // core's admission, not an injected record) creates 5, and the checker must say so.
    let text = fixed(
        "    IdleCount = 5\n    IdleTime = 600\n",
        "concurrent = 1\n",
        "",
        "",
    )
    .replace("  executor", "  limit = 2\n  executor");
    let s = scenario(&text);
    let faithful = run(&s, &RunOptions::default()).unwrap();
    assert!(faithful.violations.is_empty(), "{:?}", faithful.violations);
    assert_eq!(faithful.machines.len(), 2);
    let broken = run(
        &s,
        &RunOptions {
            sabotage: simrun::autoscaler::Sabotage::SkipLimitCheck,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert!(
        broken
            .violations
            .iter()
            .any(|v| v.invariant == "machines_within_limit"),
        "{:?}",
        broken.violations
    );
}

/// A machine whose create failed before the cloud made a VM (a capacity fault) is never
/// billed; its `removed` time is when the runner dropped it (minutes after the create), not
/// the horizon.
#[test]
fn never_billed_machines_are_removed_when_the_runner_drops_them() {
    let text = fixed(
        "    IdleCount = 1\n    IdleTime = 600\n",
        "concurrent = 1\n",
        "[[workload]]\nkind = \"burst\"\nat = \"50m\"\njobs = 1\nduration = \"60s\"\n\
         [[faults]]\nkind = \"capacity\"\nto = \"10m\"\n",
        "",
    );
    let r = simulate(&text);
    let failed: Vec<_> = r
        .machines
        .iter()
        .filter(|m| m.end_state == "creation_failed")
        .collect();
    assert!(!failed.is_empty(), "the capacity fault fails creates");
    for m in failed {
        assert_eq!(m.cost_usd, 0.0, "{}: no VM, no bill", m.name);
        let removed = m.removed.expect("gone").as_millis();
        assert!(
            removed >= m.created.as_millis() && removed < m.created.as_millis() + 5 * 60_000,
            "{}: created {} removed {removed}",
            m.name,
            m.created
        );
    }
}

/// cloud-faults §1.5 through the whole runner: on a fresh store, IdleCount 5 starts five
/// creates at once; four race the first one's certificate bootstrap and fail at step 1; the
/// runner replaces them (no backoff, spec §3.10) and the pool fills anyway.
#[test]
fn first_use_race_fails_the_first_concurrent_creates_only() {
    let text = fixed(
        "    IdleCount = 5\n    IdleTime = 3600\n",
        "concurrent = 5\n",
        "[[workload]]\nkind = \"burst\"\nat = \"30m\"\njobs = 5\nduration = \"60s\"\n\
         [[faults]]\nkind = \"first_use_race\"\n",
        "",
    );
    let r = simulate(&text);
    let bootstrap: Vec<_> = r
        .events
        .iter()
        .filter(|e| e.event == "creation failed")
        .collect();
    assert_eq!(bootstrap.len(), 4, "{bootstrap:?}");
    assert!(bootstrap.iter().all(|e| {
        e.time.as_millis() == 0
            && e.reason
                .starts_with("Error creating machine: Error generating certificates: ")
    }));
    assert!(r.jobs.iter().all(|j| j.outcome == JobOutcome::Succeeded));
    // Without the fault, nothing fails.
    let clean = simulate(&text.replace("[[faults]]\nkind = \"first_use_race\"\n", ""));
    assert!(clean.events.iter().all(|e| e.event != "creation failed"));
}

/// Spec §0 M16 / Q22: a MachineName without `%s` makes names docker-machine refuses
/// (`…%!(EXTRA string=…)`): every create fails at once, no machine ever appears, the jobs stay
/// pending — a failing-create thrash, not a pile of machines.
#[test]
fn machine_name_without_percent_s_is_a_failing_create_thrash() {
    let text = fixed(
        "    IdleCount = 2\n    IdleTime = 600\n",
        "concurrent = 2\n",
        "[[workload]]\nkind = \"burst\"\nat = \"5m\"\njobs = 2\nduration = \"60s\"\n",
        "",
    )
    .replace("MachineName = \"m-%s\"", "MachineName = \"fixed\"");
    let r = simulate(&text);
    let failed: Vec<_> = r
        .events
        .iter()
        .filter(|e| e.event == "creation failed")
        .collect();
    assert!(failed.len() > 100, "{} failed creates in 1 h", failed.len());
    assert!(
        failed
            .iter()
            .all(|e| e.reason.starts_with("Invalid hostname specified"))
    );
    assert!(r.events.iter().all(|e| e.event != "created"));
    assert!(
        r.machines
            .iter()
            .all(|m| m.ready.is_none() && m.cost_usd == 0.0)
    );
    assert!(r.jobs.iter().all(|j| j.start.is_none()));
}
