//! Fault metrics end to end (issue 5 item 7): API calls per successful create on the AWS
//! profile against cloud-faults §2.1, creation failures by stage and cloud error code, and
//! recovery after a fault window, on small scenarios.

use std::collections::BTreeMap;

use simrun::report::{summarize, write_outputs};
use simrun::sim::records::RunRecords;
use simrun::sim::world::{RunOptions, run};

mod common;

use common::{scenario, simulate};

/// One docker+machine runner on the fixed cloud (create 50 s: API call 1 s, boot 9 s, SSH 5 s,
/// provision 5 s, Docker install 20 s, certs 10 s; config/credentials 1 s; rm 2 s).
fn fixed(duration: &str, machine: &str, workloads: &str, faults: &str) -> String {
    format!(
        "[scenario]\nname = \"metrics\"\nseed = 1\nstart = \"2026-03-02T00:00:00Z\"\nduration = \"{duration}\"\n\
         [runner]\ninline = '''\nconcurrent = 1\ncheck_interval = 3\n[[runners]]\n  name = \"r\"\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineDriver = \"google\"\n    MachineName = \"m-%s\"\n    MachineOptions = [\"google-machine-type=n1-standard-1\"]\n{machine}'''\n\
         [cloud]\nprofile = \"fakes/fixed.toml\"\n{workloads}{faults}"
    )
}

/// One docker+machine runner on the AWS profile (`fakes/aws-ec2.toml`), inline amazonec2
/// config: on demand (IdleCount 0), MaxBuilds 1 so every machine runs exactly one job and is
/// then removed.
fn aws(seed: u64, workloads: &str, faults: &str) -> String {
    format!(
        "[scenario]\nname = \"aws-metrics\"\nseed = {seed}\nstart = \"2026-03-02T00:00:00Z\"\nduration = \"4h\"\n\
         [runner]\ninline = '''\nconcurrent = 10\ncheck_interval = 3\n[[runners]]\n  name = \"aws\"\n  executor = \"docker+machine\"\n  limit = 10\n  [runners.machine]\n    MachineDriver = \"amazonec2\"\n    MachineName = \"aws-%s\"\n    MachineOptions = [\"amazonec2-instance-type=m5.large\", \"amazonec2-region=us-east-1\", \"amazonec2-zone=a\"]\n    IdleCount = 0\n    IdleTime = 60\n    MaxBuilds = 1\n'''\n\
         {workloads}{faults}"
    )
}

const POISSON_20: &str =
    "[[workload]]\nkind = \"poisson\"\nrate_per_hour = 20\nduration = \"5m\"\n";

#[test]
fn aws_api_calls_per_successful_create_match_cloud_faults_2_1() {
    // cloud-faults §2.1 (independent of the profile's own numbers: GitLab's measurement and the
    // driver's API mix) puts a create+remove lifecycle at ≈20–25 API calls, ≈13 of them
    // DescribeInstances, plus ≈3 DescribeInstances per job from `config`/`url` (§1.3, §7
    // api.calls_per_job). Here every machine runs exactly one job (MaxBuilds 1) and is removed
    // after it, so `calls_per_successful_create` = lifecycle + connectivity reads per job.
    // Tolerance: the spec's own range 20–25 for the lifecycle part (the calls of failed
    // creates — base failure rate 1.7 % — are included, as the metric includes them), and
    // 13 ± 2 for DescribeInstances (boot polls vary with the lognormal boot time, §1.2).
    for seed in 1..=3 {
        let sc = scenario(&aws(seed, POISSON_20, ""));
        let r = run(&sc, &RunOptions::default()).expect("runs");
        let s = summarize(&r);
        let a = &s.api;
        let n = a.successful_creates as f64;
        assert!(n >= 50.0, "seed {seed}: {n} creates");
        let per = a
            .calls_per_successful_create
            .expect("some creates succeeded");
        let total: u64 = a.by_operation.values().map(|o| o.calls).sum();
        assert!((per - total as f64 / n).abs() < 1e-9);
        // The `config` and `url` commands' reads, as the profile defines them.
        let calls = sc.profiles["aws"].api_calls.clone().expect("[api_calls]");
        let config: u64 = calls.config.values().map(|&c| u64::from(c)).sum();
        let url: u64 = calls.credentials.values().map(|&c| u64::from(c)).sum();
        let reads = a.by_command["config"] * config + a.by_command["url"] * url;
        let lifecycle = (total - reads) as f64 / n;
        assert!(
            (20.0..=25.0).contains(&lifecycle),
            "seed {seed}: {lifecycle:.2} calls per lifecycle ({per:.2} with the per-job reads)"
        );
        let describe = (a.by_operation["DescribeInstances"].calls - reads) as f64 / n;
        assert!(
            (11.0..=15.0).contains(&describe),
            "seed {seed}: {describe:.2} DescribeInstances per lifecycle"
        );
        assert_eq!(a.throttled, 0);
        // Not asserted: the per-job reads. §1.3 counts ≈3 (config at Use, config + url for the
        // credentials); the core issues those as config, config, url, but the profile's
        // `credentials` (the `url` call) counts 2 reads, so the run makes ≈4 per job.
    }
}

const ONE_JOB: &str =
    "[[workload]]\nkind = \"burst\"\nat = \"10s\"\njobs = 1\nduration = \"60s\"\n";
const ON_DEMAND: &str = "    IdleCount = 0\n    IdleTime = 600\n";

fn failure_times_s(r: &RunRecords) -> Vec<u64> {
    r.failures
        .iter()
        .map(|f| f.time.as_millis() / 1000)
        .collect()
}

#[test]
fn creation_failures_by_stage_and_code_on_the_fixed_cloud() {
    // One job at 10 s, picked at 12 s; the runner creates on demand in Use. GitLab Runner
    // tries useMachine 3 times (1 s after each) per preparation attempt and prepares 3 times
    // (3 s after each failed attempt): up to 3 × 3 creates per job (spec §3.6).
    //
    // (a) An `api_error` on the create command (code InternalError) for 5 minutes fails each
    // create at its create operation, 1 s in (the fixed `api_call` stage): creates at 12, 14,
    // 16 s fail at 13, 15, 17 s; then 17 + 1 + 3 = 21 → fails at 22, 24, 26; then 31, 33, 35.
    // Stage driver_create, code InternalError, 9 failures; the job fails at 39 s.
    let r = simulate(&fixed(
        "10m",
        ON_DEMAND,
        ONE_JOB,
        "[[faults]]\nkind = \"api_error\"\ncode = \"InternalError\"\nscope = { operation = \"create\" }\nto = \"5m\"\n",
    ));
    assert_eq!(
        failure_times_s(&r),
        vec![13, 15, 17, 22, 24, 26, 31, 33, 35]
    );
    let f = summarize(&r).failures;
    assert_eq!(f.total, 9);
    assert_eq!(
        f.by_stage,
        BTreeMap::from([("driver_create".to_string(), 9)])
    );
    assert_eq!(
        f.by_code,
        BTreeMap::from([("InternalError".to_string(), 9)])
    );
    assert_eq!(
        r.jobs[0].failure_reason.as_deref(),
        Some("runner_system_failure")
    );
    assert_eq!(r.jobs[0].end.map(|t| t.as_millis()), Some(39_000));

    // (b) A capacity fault: the same 9 creates fail at the create operation, classed
    // insufficient_capacity; the fixed profile has no `[capacity] code`, so no code.
    let r = simulate(&fixed(
        "10m",
        ON_DEMAND,
        ONE_JOB,
        "[[faults]]\nkind = \"capacity\"\nto = \"5m\"\n",
    ));
    assert_eq!(
        failure_times_s(&r),
        vec![13, 15, 17, 22, 24, 26, 31, 33, 35]
    );
    let f = summarize(&r).failures;
    assert_eq!(
        f.by_kind,
        BTreeMap::from([("insufficient_capacity".to_string(), 9)])
    );
    assert_eq!(
        f.by_stage,
        BTreeMap::from([("driver_create".to_string(), 9)])
    );
    assert!(f.by_code.is_empty());

    // (c) Every Docker install fails until 5 min: a create fails at the end of its install
    // stage, 40 s in (1 + 9 + 5 + 5 + 20). Creates at 12, 53, 94 s fail at 52, 93, 134; then
    // 138, 179, 220 → 178, 219, 260; then 264 → 304. The create at 305 s starts its install at
    // 325 s, after the window: it succeeds. 7 failures at stage `provision`, no cloud code.
    let r = simulate(&fixed(
        "10m",
        ON_DEMAND,
        ONE_JOB,
        "[[faults]]\nkind = \"provisioning\"\nstage = \"docker_install\"\nto = \"5m\"\n",
    ));
    assert_eq!(failure_times_s(&r), vec![52, 93, 134, 178, 219, 260, 304]);
    let f = summarize(&r).failures;
    assert_eq!(f.by_stage, BTreeMap::from([("provision".to_string(), 7)]));
    assert_eq!(f.by_kind, BTreeMap::from([("provisioning".to_string(), 7)]));
    assert!(f.by_code.is_empty());
    assert!(r.failures[0].message.contains("error installing docker"));
    // The churn: 7 creations started inside the 5-minute window (12 … 264 s) and 6 failed in
    // it (the 7th fails at 304 s, after the window): 1.4 and 1.2 per minute.
    let w = &r.fault_windows[0];
    assert!((w.creates_per_minute - 1.4).abs() < 1e-9, "{w:?}");
    assert!((w.create_failures_per_minute - 1.2).abs() < 1e-9, "{w:?}");
    assert_eq!(
        w.baseline_creates_per_minute, 0.0,
        "no hour before a window at 0"
    );
    assert_eq!(
        r.jobs[0].outcome,
        simrun::sim::records::JobOutcome::Succeeded
    );
}

#[test]
fn recovery_is_the_wait_from_the_window_end_until_the_queue_is_back() {
    // concurrent 1. Job 1 (10 s) is picked at 12 s; creates fail until the window ends at
    // 30 s: 12, 14, 16 → 21, 23, 25 (as in the failures test); the third round's create at
    // 30 s makes its create call at 31 s, outside the window, and is ready at 80 s; job 1 runs
    // 83–143 s. Job 2 (20 s) waits for the only worker: pending from 20 s to 143 s.
    // Baseline: the window starts at 0, so pending(0) = 0. At 30 s one job is pending; it is
    // picked at 143 s → recovery 143 − 30 = 113 s.
    let two = "[[workload]]\nkind = \"burst\"\nat = \"10s\"\njobs = 1\nduration = \"60s\"\n\
               [[workload]]\nkind = \"burst\"\nat = \"20s\"\njobs = 1\nduration = \"60s\"\n";
    let r = simulate(&fixed(
        "10m",
        ON_DEMAND,
        two,
        "[[faults]]\nkind = \"api_error\"\ncode = \"InternalError\"\nscope = { operation = \"create\" }\nto = \"30s\"\n",
    ));
    assert_eq!(failure_times_s(&r), vec![13, 15, 17, 22, 24, 26]);
    assert_eq!(r.jobs[1].picked.map(|t| t.as_millis()), Some(143_000));
    let s = summarize(&r);
    assert_eq!(s.faults.len(), 1);
    let w = &s.faults[0];
    assert_eq!((w.from_s, w.to_s), (0.0, Some(30.0)));
    assert_eq!(w.baseline_pending, 0.0);
    assert_eq!(w.recovery_s, Some(113.0));
    assert_eq!(w.status, "recovered");
    let rec: Vec<_> = r
        .events
        .iter()
        .filter(|e| e.event == "fault recovered")
        .collect();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].time.as_millis(), 143_000);

    // The same outage that never ends: no recovery to measure.
    let r = simulate(&fixed(
        "10m",
        ON_DEMAND,
        two,
        "[[faults]]\nkind = \"api_error\"\ncode = \"InternalError\"\nscope = { operation = \"create\" }\n",
    ));
    let w = &summarize(&r).faults[0];
    assert_eq!(w.recovery_s, None);
    assert_eq!(w.status, "window not ended by the horizon");
}

#[test]
fn summary_json_and_events_csv_carry_the_fault_metrics() {
    // RunInstances at 5 % of its rate (bucket 5 → 0.25, refill 2/s → 0.1/s) from 5 to 20 min;
    // 30 jobs at 10 min: creates are throttled, the SDK retries 5 times (§2.1), then the
    // create fails with RequestLimitExceeded at the driver's create step.
    let r = simulate(&aws(
        7,
        "[[workload]]\nkind = \"burst\"\nat = \"10m\"\njobs = 30\nduration = \"5m\"\n",
        "[[faults]]\nkind = \"rate_limit\"\nfactor = 0.05\nfrom = \"5m\"\nto = \"20m\"\nscope = { operation = \"RunInstances\" }\n",
    ));
    let dir = std::env::temp_dir().join(format!("simrun-metrics-{}", std::process::id()));
    write_outputs(&dir, &r).expect("writes");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("read"))
            .expect("json");
    let events = std::fs::read_to_string(dir.join("events.csv")).expect("read");
    let _ = std::fs::remove_dir_all(&dir);

    let api = &json["api"];
    for k in [
        "calls",
        "throttled",
        "by_command",
        "by_operation",
        "successful_creates",
        "calls_per_successful_create",
    ] {
        assert!(api.get(k).is_some(), "api.{k}");
    }
    let run = &api["by_operation"]["RunInstances"];
    let throttled = run["throttled"].as_u64().expect("u64");
    assert!(throttled > 0 && throttled <= run["calls"].as_u64().expect("u64"));
    let failures = &json["failures"];
    for k in ["total", "by_kind", "by_stage", "by_code", "removal"] {
        assert!(failures.get(k).is_some(), "failures.{k}");
    }
    let total = failures["total"].as_u64().expect("u64");
    assert!(total > 0);
    // Every failure here is a throttled create: same count by kind, stage and code.
    assert_eq!(failures["by_kind"]["rate_limited"].as_u64(), Some(total));
    assert_eq!(failures["by_stage"]["driver_create"].as_u64(), Some(total));
    assert_eq!(
        failures["by_code"]["RequestLimitExceeded"].as_u64(),
        Some(total)
    );
    // A request that gave up had 6 throttled attempts (1 + 5 retries).
    assert!(throttled >= 6 * total);
    let w = &json["faults"][0];
    assert_eq!(w["kind"], "rate_limit");
    assert_eq!(
        (w["from_s"].as_f64(), w["to_s"].as_f64()),
        (Some(300.0), Some(1200.0))
    );
    for k in ["baseline_pending", "recovery_s", "status", "detail"] {
        assert!(w.get(k).is_some(), "faults[0].{k}");
    }

    assert!(events.contains(
        "300.000,,,fault window opened,\"rate_limit, factor 0.05, operation RunInstances\""
    ));
    assert!(events.contains(",fault window closed,"));
    let gave_up = events
        .lines()
        .filter(|l| l.ends_with(",api throttled,\"RunInstances: 6 throttled attempts, driver gave up (RequestLimitExceeded)\""))
        .count() as u64;
    assert_eq!(gave_up, total);
}

#[test]
fn removal_failures_are_counted_by_command() {
    // IdleTime 60: after the job (start 62–66 s, 60 s long) the machine idles; the Acquire at
    // 188 s removes it ("too many idle machines"). Each removal attempt is inspect (1 s),
    // stop (1 s), rm -y (2 s): the first ends at 192 s. A removal outage until 5 min refuses
    // rm -y; the runner retries 30 s after each failure (spec §3.9): 222 → 226, 260, 294 s.
    // The attempt at 324 s sends rm -y at 326 s, after the window: removed at 328 s.
    let r = simulate(&fixed(
        "10m",
        "    IdleCount = 0\n    IdleTime = 60\n",
        ONE_JOB,
        "[[faults]]\nkind = \"removal_outage\"\nto = \"5m\"\n",
    ));
    assert_eq!(failure_times_s(&r), vec![192, 226, 260, 294]);
    let f = summarize(&r).failures;
    assert_eq!(f.total, 0);
    assert_eq!(f.removal.total, 4);
    assert_eq!(
        f.removal.by_command,
        BTreeMap::from([("rm -y".to_string(), 4)])
    );
    assert!(f.removal.by_code.is_empty());
    assert_eq!(r.machines[0].end_state, "removed");
    assert_eq!(r.machines[0].removed.map(|t| t.as_millis()), Some(328_000));
}
