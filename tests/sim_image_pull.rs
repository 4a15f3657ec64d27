//! The `image_pull` fault through the whole simulator (`simrun::sim::world::run`) on the
//! fixed-latency fake cloud (tests/fixtures/fakes/fixed.toml: creates take 50 s; `config`,
//! `url` and `inspect` 1 s each, so Use's fast path — CanConnect, then credentials — takes 3 s,
//! spec §3.6 steps 1, 4): a preparation step failing **after** Use (spec §3.6 last paragraph),
//! retried (W9) or not, and quirk Q18.

mod common;

use simrun::sim::records::{JobOutcome, RunRecords};

const S: u64 = 1000;

/// One docker+machine runner (`[runners.machine]` lines `machine` appended) on the fixed
/// cloud for 20 min: one job at 2 min (inside the fault window 1–5 min), one at 6 min
/// (outside), each 60 s; `fault` = the `image_pull` fault's keys after `kind`.
fn simulate(machine: &str, fault: &str) -> RunRecords {
    let text = format!(
        "[scenario]\nname = \"pull\"\nseed = 1\nstart = \"2026-03-02T00:00:00Z\"\nduration = \"20m\"\n\
         [runner]\ninline = '''\nconcurrent = 4\ncheck_interval = 3\n[[runners]]\n  name = \"r\"\n  executor = \"docker+machine\"\n  limit = 10\n  [runners.machine]\n    MachineDriver = \"google\"\n    MachineName = \"m-%s\"\n    MachineOptions = [\"google-machine-type=n1-standard-1\"]\n    IdleTime = 3600\n{machine}'''\n\
         [cloud]\nprofile = \"fakes/fixed.toml\"\n\
         [[workload]]\nkind = \"burst\"\nat = \"2m\"\njobs = 1\nduration = \"60s\"\n\
         [[workload]]\nkind = \"burst\"\nat = \"6m\"\njobs = 1\nduration = \"60s\"\n\
         [[faults]]\nkind = \"image_pull\"\n{fault}"
    );
    common::simulate_clean(&text)
}

/// (time ms, machine) of the events named `event` whose reason contains `reason`.
fn rows(r: &RunRecords, event: &str, reason: &str) -> Vec<(u64, String)> {
    r.events
        .iter()
        .filter(|e| e.event == event && e.reason.contains(reason))
        .map(|e| (e.time.as_millis(), e.machine.clone()))
        .collect()
}

const IDLE_1: &str = "    IdleCount = 1\n";

/// The fault window 1–5 min, for runner "r".
const WINDOW: &str = "from = \"1m\"\nto = \"5m\"\nscope = { runner = \"r\" }\n";

const RATE_LIMIT: &str = "failed to pull image \"alpine:latest\" with specified policies [always]: Error response from daemon: toomanyrequests: You have reached your pull rate limit.";

#[test]
fn retried_pull_failures_take_three_attempts_3s_apart_and_a_second_machine_q18() {
    // The idle machine A (created 0–50 s) is Acquired when job 1 arrives at 120 s; Use's fast
    // path makes it Used at 123 s and the pull fails. Attempt 2 starts 3 s later (126 s) with
    // the same Acquire data: A is Used, so Use takes another machine — none is Idle (the
    // replacement B started at 123 s), so it creates C on demand and takes B when B is ready
    // (173 s) + 3 s of credentials: Used at 176 s, the pull fails, Cleanup releases B, and with
    // MaxBuilds 1 that removes it ("Too many builds", §3.11). Attempt 3 at 179 s takes C
    // (Idle since 176 s) → Used at 182 s → fails → removed. The job fails 3 s after the third
    // failure (W9), at 185 s, and only then the deferred Release removes A.
    let r = simulate(
        "    IdleCount = 1\n    MaxBuilds = 1\n",
        &format!("{WINDOW}retried = true\n"),
    );
    let fails = rows(&r, "image pull failed", RATE_LIMIT);
    let at: Vec<u64> = fails.iter().map(|f| f.0).collect();
    assert_eq!(at, vec![123 * S, 176 * S, 182 * S]);
    assert!(
        fails
            .iter()
            .all(|f| r.events.iter().any(|e| e.event == "image pull failed"
                && e.machine == f.1
                && e.reason.starts_with("retried: ")))
    );
    let a = &r.machines[0];
    assert_eq!(a.created.as_millis(), 0);
    assert_eq!(fails[0].1, a.name);
    assert!(fails[1].1 != a.name && fails[2].1 != a.name && fails[1].1 != fails[2].1);

    // Q18 at each retry (3 s after the failure before it), about A.
    let q18: Vec<u64> = r
        .quirks
        .iter()
        .filter(|q| q.quirk == Some("Q18"))
        .map(|q| q.time_ms)
        .collect();
    assert_eq!(q18, vec![126 * S, 179 * S]);
    assert_eq!(
        rows(
            &r,
            "quirk",
            &format!("Q18 used_count_without_job: {}", a.name)
        )
        .len(),
        2
    );

    let job1 = &r.jobs[0];
    assert_eq!(job1.outcome, JobOutcome::Failed);
    assert_eq!(
        job1.failure_reason.as_deref(),
        Some("runner_system_failure")
    );
    assert_eq!(job1.end.map(|t| t.as_millis()), Some(185 * S));
    assert_eq!(job1.start, None);
    assert_eq!(
        rows(
            &r,
            "job failed",
            "job 1: runner_system_failure: failed to pull image"
        )
        .len(),
        1
    );

    // Each of the three machines was Used once without running a job and, with MaxBuilds 1,
    // removed for "Too many builds": A at the job's end, B and C by Cleanup. (The fourth is
    // job 2's machine after its one job: Used at 363 s, 60 s of job.)
    let job2 = &r.jobs[1];
    let too_many = rows(&r, "removal requested", "Too many builds");
    assert_eq!(
        too_many,
        vec![
            (176 * S, fails[1].1.clone()),
            (182 * S, fails[2].1.clone()),
            (185 * S, a.name.clone()),
            (423 * S, job2.machine.clone().unwrap()),
        ]
    );
    for (_, m) in &fails {
        let rec = r.machines.iter().find(|x| &x.name == m).unwrap();
        assert_eq!(rec.jobs, 0, "{m}");
        assert_eq!(rec.end_state, "removed");
    }

    // Outside the window the pull works: job 2 (6 min) runs and succeeds on a fresh machine.
    assert_eq!(job2.outcome, JobOutcome::Succeeded);
    assert!(
        rows(&r, "image pull failed", "")
            .iter()
            .all(|(t, _)| *t < 5 * 60 * S)
    );
    let on = job2.machine.as_deref().unwrap();
    assert!(fails.iter().all(|(_, m)| m != on));
}

#[test]
fn a_pull_failure_as_a_build_error_fails_the_job_at_once_without_q18() {
    // The default (`retried` absent, GitLab Runner ≥ 14.1): W9 "a build error is not retried".
    // A is Used at 123 s, the pull fails, the job fails at once and the deferred Release puts A
    // back to Idle (UsedCount 1, no job). Job 2 at 6 min, outside the window, succeeds.
    let r = simulate(IDLE_1, WINDOW);
    let fails = rows(&r, "image pull failed", "not retried: ");
    assert_eq!(fails.len(), 1);
    assert_eq!(fails[0].0, 123 * S);
    assert_eq!(fails[0].1, r.machines[0].name);
    let job1 = &r.jobs[0];
    assert_eq!(job1.outcome, JobOutcome::Failed);
    assert_eq!(
        job1.failure_reason.as_deref(),
        Some("runner_system_failure")
    );
    assert_eq!(job1.end.map(|t| t.as_millis()), Some(123 * S));
    assert!(r.quirks.iter().all(|q| q.quirk != Some("Q18")));
    // One Use only: no on-demand creation for job 1.
    assert!(rows(&r, "creation started", "on demand").is_empty());
    assert_eq!(r.jobs[1].outcome, JobOutcome::Succeeded);
}

#[test]
fn with_probability_zero_nothing_fails_and_other_draws_do_not_move() {
    // probability 0 fails nothing, and a fault whose window holds no Use (19–20 min) changes
    // nothing either: both runs are the same, event for event (the pull draws have their own
    // stream).
    let with = simulate(
        IDLE_1,
        &format!("{WINDOW}probability = 0.0\nretried = true\n"),
    );
    assert!(with.jobs.iter().all(|j| j.outcome == JobOutcome::Succeeded));
    assert!(rows(&with, "image pull failed", "").is_empty());
    let text = |r: &RunRecords| {
        // The fault windows' own rows (`fault window opened`, …) differ by construction.
        r.events
            .iter()
            .filter(|e| !e.event.starts_with("fault "))
            .map(|e| {
                format!(
                    "{} {} {} {}",
                    e.time.as_millis(),
                    e.machine,
                    e.event,
                    e.reason
                )
            })
            .collect::<Vec<_>>()
    };
    let ok = simulate(IDLE_1, "from = \"19m\"\nretried = true\n");
    assert_eq!(text(&with), text(&ok));
}

#[test]
fn an_on_demand_machine_is_released_by_cleanup_and_picked_again_w6() {
    // IdleCount 0: Acquire returns nothing, Use creates machine M on demand (new data). Each
    // failed pull's Cleanup releases M (→ Idle), and the retry's find-existing picks the same
    // M again (spec §0 W6): three failures on one machine, no machine from Acquire, no Q18.
    let r = simulate("    IdleCount = 0\n", &format!("{WINDOW}retried = true\n"));
    // Created 120–170 s, Used at 173 s (3 s of CanConnect and credentials); each retry comes
    // 3 s after the failure and takes 3 s of Use (CanConnect skipping the cache, credentials).
    let fails = rows(&r, "image pull failed", "retried: ");
    let at: Vec<u64> = fails.iter().map(|f| f.0).collect();
    assert_eq!(at, vec![173 * S, 179 * S, 185 * S]);
    let m = &fails[0].1;
    assert!(fails.iter().all(|f| &f.1 == m));
    let used: Vec<(u64, String)> = rows(&r, "used", "new data")
        .into_iter()
        .filter(|u| u.0 < 5 * 60 * S)
        .collect();
    assert_eq!(used, fails);
    let on_demand = rows(&r, "creation started", "on demand");
    assert_eq!(on_demand.iter().filter(|c| c.0 < 5 * 60 * S).count(), 1);
    assert!(r.quirks.iter().all(|q| q.quirk != Some("Q18")));
    let job1 = &r.jobs[0];
    assert_eq!(
        job1.failure_reason.as_deref(),
        Some("runner_system_failure")
    );
    assert_eq!(job1.end.map(|t| t.as_millis()), Some(188 * S));
}

#[test]
fn a_build_aborted_while_its_retry_waits_for_a_machine_pulls_nothing_more() {
    // SIGTERM at 150 s, while attempt 2's Use waits for B (spec §0 M12: Use takes no
    // deadline): the job fails at once with runner_interrupted (§0 W8); when Use returns B at
    // 176 s, Cleanup releases it and no image is pulled for the aborted build.
    let r = simulate(
        "    IdleCount = 1\n",
        &format!("{WINDOW}retried = true\n[[signals]]\nat = \"150s\"\nsignal = \"SIGTERM\"\n"),
    );
    assert_eq!(
        rows(&r, "image pull failed", "")
            .iter()
            .map(|f| f.0)
            .collect::<Vec<_>>(),
        vec![123 * S]
    );
    let job1 = &r.jobs[0];
    assert_eq!(job1.failure_reason.as_deref(), Some("runner_interrupted"));
    assert_eq!(job1.end.map(|t| t.as_millis()), Some(150 * S));
    assert_eq!(
        r.quirks.iter().filter(|q| q.quirk == Some("Q18")).count(),
        1
    );
}

#[test]
fn a_partial_probability_fails_some_pulls_and_replays_exactly() {
    // probability 0.5, not retried: each Use in the window draws once from the image-pull
    // stream. 12 more jobs at 3 min: some fail (at their Use, reason runner_system_failure),
    // some run; the same seed gives the same outcomes.
    let fault = format!(
        "{WINDOW}probability = 0.5\n[[workload]]\nkind = \"burst\"\nat = \"3m\"\njobs = 12\nduration = \"30s\"\n"
    );
    let r = simulate(IDLE_1, &fault);
    let fails = rows(&r, "image pull failed", "not retried: ");
    let failed: Vec<u64> = r
        .jobs
        .iter()
        .filter(|j| j.outcome == JobOutcome::Failed)
        .map(|j| j.id)
        .collect();
    assert_eq!(fails.len(), failed.len());
    assert!(!failed.is_empty() && failed.len() < 13, "{failed:?}");
    assert!(
        r.jobs
            .iter()
            .filter(|j| j.outcome == JobOutcome::Failed)
            .all(|j| j.failure_reason.as_deref() == Some("runner_system_failure"))
    );
    assert_eq!(
        r.jobs
            .iter()
            .filter(|j| j.outcome == JobOutcome::Succeeded)
            .count(),
        14 - failed.len()
    );
    let again = simulate(IDLE_1, &fault);
    assert_eq!(
        rows(&again, "image pull failed", ""),
        rows(&r, "image pull failed", "")
    );
}
