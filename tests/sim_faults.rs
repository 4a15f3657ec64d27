//! One simulation-level test per fault kind (issue 5 "Done when"): each `[[faults]]` kind runs
//! through the whole simulator (`simrun::sim::world::run`) on the fixed-latency fake cloud
//! (tests/fixtures/fakes/fixed.toml: create stages 1 + 9 + 5 + 5 + 20 + 10 = 50 s, stop 1 s,
//! rm 2 s, config/credentials 1 s, no base failures, 1 USD per started hour for
//! n1-standard-1 and 4 USD for n1-standard-4), so the effects are asserted with exact numbers.
//!
//! `rate_limit` needs a profile with rate limits: it runs here on the shipped aws-ec2 profile
//! (the SDK's retries, then failure) and in the rate-limit-storm scenario (DigitalOcean's
//! wait-for-reset). `capacity` and `spot_interruption` need a capacity error text or spot
//! prices; they are checked at the simulation level by the shipped scenarios
//! (tests/scenarios_shipped.rs: capacity-outage, spot-interruptions; also quota-wall,
//! docker-install-outage, removal-outage).
//!
//! The profiles' own stockout episodes (`[capacity] episodes_per_day`) run on
//! tests/fixtures/fakes/fixed-stockouts.toml (fixed.toml with 24 episodes a day of 20 min).

mod common;

use std::path::PathBuf;

use simrun::scenario::{ScenarioOverrides, load_scenario_str};
use simrun::sim::records::{JobOutcome, RunRecords};
use simrun::sim::world::{RunOptions, run};

const S: u64 = 1000;
const MIN: u64 = 60_000;

/// One docker+machine runner (`[runners.machine]` lines in `machine`, machine type `mtype`) on
/// the fixed cloud for `duration`, with workloads and faults appended.
fn simulate(machine: &str, mtype: &str, duration: &str, rest: &str) -> RunRecords {
    let text = format!(
        "[scenario]\nname = \"fault\"\nseed = 1\nstart = \"2026-03-02T00:00:00Z\"\nduration = \"{duration}\"\n\
         [runner]\ninline = '''\nconcurrent = 4\ncheck_interval = 3\n[[runners]]\n  name = \"r\"\n  executor = \"docker+machine\"\n  limit = 10\n  [runners.machine]\n    MachineDriver = \"google\"\n    MachineName = \"m-%s\"\n    MachineOptions = [\"google-machine-type={mtype}\"]\n{machine}'''\n\
         [cloud]\nprofile = \"fakes/fixed.toml\"\n{rest}"
    );
    common::simulate_clean(&text)
}

/// Times (ms) of the events named `event` whose reason contains `reason`.
fn times(r: &RunRecords, event: &str, reason: &str) -> Vec<u64> {
    r.events
        .iter()
        .filter(|e| e.event == event && e.reason.contains(reason))
        .map(|e| e.time.as_millis())
        .collect()
}

#[test]
fn a_vcpu_quota_of_16_with_4_vcpu_machines_never_lets_more_than_4_vms_exist() {
    // IdleCount 8 asks for 8 machines; 16 vCPUs hold 4 n1-standard-4.
    let r = simulate(
        "    IdleCount = 8\n    IdleTime = 3600\n",
        "n1-standard-4",
        "30m",
        "[[faults]]\nkind = \"quota\"\nvcpus = 16\n",
    );
    // A VM exists from the create operation (1 s after the create starts) until it is
    // deleted; failed creates never made one.
    let mut edges: Vec<(u64, i32)> = Vec::new();
    for m in r.machines.iter().filter(|m| m.ready.is_some()) {
        edges.push((m.created.as_millis() + S, 1));
        edges.push((m.removed.map_or(u64::MAX, |t| t.as_millis()), -1));
    }
    edges.sort_by_key(|&(t, d)| (t, d));
    let (mut n, mut peak) = (0, 0);
    for (_, d) in edges {
        n += d;
        peak = peak.max(n);
    }
    assert_eq!(peak, 4);
    assert_eq!(r.machines.iter().filter(|m| m.ready.is_some()).count(), 4);
    let quota = times(
        &r,
        "creation failed",
        "vCPU quota exceeded: limit 16, in use 16, requested 4",
    );
    assert!(!quota.is_empty());
    // Quota failures leave no VM and cost nothing; the 4 VMs bill 4 USD per started hour.
    assert!(
        r.machines
            .iter()
            .filter(|m| m.ready.is_none())
            .all(|m| m.cost_usd == 0.0)
    );
    assert!(
        (r.cloud_bill_usd - 16.0).abs() < 1e-9,
        "{}",
        r.cloud_bill_usd
    );
    // No backoff (spec Q14): the failing creates repeat for the whole run.
    assert!(quota.iter().any(|&t| t > 25 * MIN));
}

#[test]
fn a_docker_install_outage_fails_every_create_installing_in_it_and_shows_the_churn() {
    // Window 0–20 min; the install stage starts 20 s into a create and fails at its end (40 s).
    let to = 20 * MIN;
    let r = simulate(
        "    IdleCount = 2\n    IdleTime = 3600\n    MaxGrowthRate = 2\n",
        "n1-standard-1",
        "40m",
        "[[faults]]\nkind = \"provisioning\"\nstage = \"docker_install\"\nto = \"20m\"\n",
    );
    let failed = times(
        &r,
        "creation failed",
        "Error creating machine: Error running provisioning: error installing docker",
    );
    assert_eq!(failed.len(), times(&r, "creation failed", "").len());
    for m in &r.machines {
        let install = m.created.as_millis() + 20 * S;
        let inside = install < to;
        assert_eq!(
            m.ready.is_none(),
            inside,
            "{} created at {}",
            m.name,
            m.created
        );
        if inside {
            assert!(
                failed.contains(&(m.created.as_millis() + 40 * S)),
                "{}",
                m.name
            );
        }
    }
    // Churn (spec Q14): 2 growth slots, each create fails after 40 s and is replaced at the
    // next Acquire (check_interval 3 s): between 2 × 60/43 and 2 × 60/40 creates a minute.
    let started = times(&r, "creation started", "");
    let in_window = started.iter().filter(|&&t| t + 20 * S < to).count() as f64;
    let per_min = in_window / ((to - 20 * S) as f64 / MIN as f64);
    assert!(
        (120.0 / 43.0..=3.0).contains(&per_min),
        "{per_min} creates/min"
    );
    // After the window the two idle machines are made once and stay.
    assert_eq!(started.iter().filter(|&&t| t + 20 * S >= to).count(), 2);
    assert_eq!(r.machines.iter().filter(|m| m.ready.is_some()).count(), 2);
    // Failed machines are removed (stop + rm); the VM bills one started hour each.
    assert!(
        r.machines
            .iter()
            .filter(|m| m.ready.is_none())
            .all(|m| m.end_state == "creation_failed" && m.cost_usd == 1.0)
    );
}

#[test]
fn api_errors_fail_the_named_command_in_the_window_only() {
    // Every `docker-machine create` started in the first 10 min fails at once with the error.
    let r = simulate(
        "    IdleCount = 1\n    IdleTime = 3600\n",
        "n1-standard-1",
        "30m",
        "[[faults]]\nkind = \"api_error\"\ncode = \"ServiceUnavailable\"\nmessage = \"The service is unavailable. Please try again shortly.\"\nto = \"10m\"\nscope = { operation = \"create\" }\n",
    );
    let failed = times(
        &r,
        "creation failed",
        "ServiceUnavailable: The service is unavailable. Please try again shortly.",
    );
    // IdleCount 1 and no backoff (Q14): each Acquire (every 3 s) replaces the failed
    // machine, so 600 s / 3 s = 200 creates fail, each at its create operation (the end of
    // the 1 s api_call stage).
    assert_eq!(failed.len(), 200);
    let started: Vec<u64> = times(&r, "creation started", "")[..200]
        .iter()
        .map(|t| t + S)
        .collect();
    assert_eq!(failed, started);
    assert!(failed.iter().all(|&t| t < 10 * MIN));
    // The first create after the window succeeds and is the only machine with a VM.
    let ready: Vec<_> = r.machines.iter().filter(|m| m.ready.is_some()).collect();
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].created.as_millis(), 10 * MIN);
    assert!(
        r.machines
            .iter()
            .filter(|m| m.ready.is_none())
            .all(|m| m.cost_usd == 0.0 && m.end_state == "creation_failed")
    );
}

#[test]
fn a_hung_create_holds_its_slot_until_the_1h_timeout() {
    // The create started at 0 hangs; the Creating record satisfies IdleCount 1 (Q6), so
    // nothing else is created until GitLab Runner's 1 h create timeout kills it (§3.12).
    let r = simulate(
        "    IdleCount = 1\n    IdleTime = 3600\n",
        "n1-standard-1",
        "2h",
        "[[faults]]\nkind = \"create_hang\"\nto = \"1m\"\n",
    );
    assert_eq!(times(&r, "creation started", ""), vec![0, 60 * MIN]);
    assert_eq!(
        times(&r, "call timed out", "docker-machine create"),
        vec![60 * MIN]
    );
    assert_eq!(
        times(&r, "creation failed", "signal: killed"),
        vec![60 * MIN]
    );
    // The hung VM existed from its create operation (1 s) until the runner's rm (by name on
    // the google driver, §1.4: not orphaned): 2 started hours = 2 USD.
    let hung = &r.machines[0];
    assert_eq!(hung.end_state, "creation_failed");
    assert!(hung.removed.is_some_and(|t| t.as_millis() > 60 * MIN));
    assert_eq!(hung.cost_usd, 2.0);
    assert!(r.machines[1].ready.is_some());
}

#[test]
fn a_removal_outage_makes_give_ups_whose_force_remove_orphans_the_vm() {
    // MaxBuilds 1: the job's machine is removed when the job ends (2:05); every rm -y fails;
    // MaxRemovalAttempts 3 (spec §3.9) → give-up → rm -f exits 0, the VM stays (Q21).
    let r = simulate(
        "    IdleCount = 0\n    IdleTime = 60\n    MaxBuilds = 1\n    MaxRemovalAttempts = 3\n",
        "n1-standard-1",
        "2h",
        "[[workload]]\nkind = \"burst\"\nat = \"10s\"\njobs = 1\nduration = \"60s\"\n[[faults]]\nkind = \"removal_outage\"\n",
    );
    assert_eq!(r.jobs[0].outcome, JobOutcome::Succeeded);
    let failed = times(&r, "remove attempt failed", "the cloud refused to delete");
    assert_eq!(failed.len(), 3);
    // Each failed attempt sleeps 30 s before the next (removeRetryInterval, §3.9).
    assert!(failed.windows(2).all(|w| w[1] - w[0] >= 30 * S));
    let gave_up = times(&r, "removal gave up", "");
    assert_eq!(gave_up.len(), 1);
    assert!(gave_up[0] > failed[2]);
    assert_eq!(times(&r, "removed", "after giving up").len(), 1);
    let m = &r.machines[0];
    assert_eq!(m.end_state, "orphaned");
    assert!(
        r.events
            .iter()
            .any(|e| e.event == "orphaned" && e.reason.contains("Q21"))
    );
    // It bills until the end of the scenario: 2 started hours, mostly as an orphan.
    assert_eq!(m.removed, None);
    assert_eq!(m.cost_usd, 2.0);
    let orphaned = m.cost_by_state[simrun::sim::records::CostState::Orphaned.index()];
    assert!(orphaned > 0.9 * m.cost_usd, "{orphaned}");
}

#[test]
fn a_listing_lag_is_covered_by_the_intermediate_machines() {
    // The directory of a create appears up to 2 min late (at most when the create ends).
    // GitLab Runner adds its Creating records to the listing (spec §3.5), so the lag changes
    // no decision: the same creates at the same instants as without the lag. (That the
    // directory is missing meanwhile is checked in the fake cloud's own tests.)
    let base = simulate(
        "    IdleCount = 3\n    IdleTime = 3600\n    MaxGrowthRate = 1\n",
        "n1-standard-1",
        "30m",
        "",
    );
    let lag = simulate(
        "    IdleCount = 3\n    IdleTime = 3600\n    MaxGrowthRate = 1\n",
        "n1-standard-1",
        "30m",
        "[[faults]]\nkind = \"listing_lag\"\ndelay = \"2m\"\n",
    );
    let started = times(&lag, "creation started", "");
    assert_eq!(started.len(), 3);
    assert_eq!(started, times(&base, "creation started", ""));
    assert_eq!(times(&lag, "created", ""), times(&base, "created", ""));
    assert!(lag.quirks.is_empty());
}

#[test]
fn vanished_instances_fail_their_jobs_and_stop_billing() {
    let (from, to) = (30 * MIN, 60 * MIN);
    let r = simulate(
        "    IdleCount = 2\n    IdleTime = 3600\n",
        "n1-standard-1",
        "2h",
        "[[workload]]\nkind = \"poisson\"\nrate_per_hour = 30\nduration = \"10m\"\n[[faults]]\nkind = \"vanish\"\nrate_per_hour = 2.0\nfrom = \"30m\"\nto = \"1h\"\n",
    );
    let lost: Vec<(u64, String)> = r
        .events
        .iter()
        .filter(|e| e.event == "instance lost")
        .map(|e| (e.time.as_millis(), e.machine.clone()))
        .collect();
    assert!(!lost.is_empty());
    assert!(lost.iter().all(|(t, _)| (from..to).contains(t)));
    let failed: Vec<_> = r
        .jobs
        .iter()
        .filter(|j| j.outcome == JobOutcome::Failed)
        .collect();
    assert!(!failed.is_empty());
    for j in &failed {
        assert_eq!(j.failure_reason.as_deref(), Some("runner_system_failure"));
        let (at, _) = lost
            .iter()
            .find(|(_, n)| Some(n.as_str()) == j.machine.as_deref())
            .expect("failed on a vanished instance");
        assert_eq!(j.end.unwrap().as_millis(), *at);
    }
    for (at, name) in &lost {
        // Not billed after it vanished; the runner removes it once `config` fails.
        let m = r.machines.iter().find(|m| &m.name == name).unwrap();
        assert_eq!(m.removed.map(|t| t.as_millis()), Some(*at));
        assert!(r.events.iter().any(|e| &e.machine == name
            && e.event == "removal requested"
            && e.reason == "machine is unavailable"
            && e.time.as_millis() > *at));
    }
}

#[test]
fn throttled_run_instances_fails_aws_creates_after_the_sdk_retries_and_they_churn() {
    // The shipped aws-ec2 profile; RunInstances at 1 % of its bucket (0.05 tokens, 0.02/s):
    // every create's RunInstances is throttled, the SDK retries 5 times (2^n × U[0.5 s, 1 s),
    // cloud-faults §2.1) and the create fails; no VM is made. Outside the window creates work.
    let text = "[scenario]\nname = \"aws-throttle\"\nseed = 1\nstart = \"2026-03-02T00:00:00Z\"\nduration = \"40m\"\n\
        [runner]\ninline = '''\nconcurrent = 2\ncheck_interval = 3\n[[runners]]\n  name = \"r\"\n  executor = \"docker+machine\"\n  limit = 4\n  [runners.machine]\n    IdleCount = 2\n    IdleTime = 3600\n    MachineDriver = \"amazonec2\"\n    MachineName = \"m-%s\"\n    MachineOptions = [\"amazonec2-instance-type=m5.large\"]\n'''\n\
        [[faults]]\nkind = \"rate_limit\"\nfactor = 0.01\nto = \"20m\"\nscope = { operation = \"RunInstances\" }\n";
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let s = load_scenario_str(
        "t.toml",
        text,
        &root.join("tests/fixtures"),
        &ScenarioOverrides::default(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let r = run(&s, &RunOptions::default()).expect("runs");
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let throttled = times(
        &r,
        "creation failed",
        "Error launching instance: RequestLimitExceeded: Request limit exceeded.",
    );
    assert!(
        throttled.len() >= 20,
        "{} throttled creates",
        throttled.len()
    );
    // A create's RunInstances starts inside the window (its 5 retries take 15.5–31 s).
    assert!(throttled.iter().all(|&t| t < 20 * MIN + 60 * S));
    // 6 throttled attempts per failed create, all counted.
    assert!(r.api_throttled >= 6 * throttled.len() as u64);
    assert!(
        r.machines
            .iter()
            .filter(|m| m.ready.is_none())
            .all(|m| m.cost_usd == 0.0)
    );
    // After the window the idle target (2) is reached.
    assert_eq!(
        r.machines
            .iter()
            .filter(|m| m.ready.is_some() && m.created.as_millis() >= 20 * MIN)
            .count(),
        2
    );
}

/// `(start, end)` (ms) of the stockout episodes logged in `r`, from their event rows.
fn stockout_rows(r: &RunRecords) -> Vec<(u64, Option<u64>, String)> {
    let starts = r.events.iter().filter(|e| e.event == "capacity stockout");
    let mut ends: Vec<u64> = times(r, "capacity restored", "");
    starts
        .map(|e| {
            let t = e.time.as_millis();
            let end = ends.iter().position(|&x| x > t).map(|i| ends.remove(i));
            (t, end, e.reason.clone())
        })
        .collect()
}

#[test]
fn the_profiles_stockout_episodes_fail_every_create_in_them_and_are_logged() {
    // MaxBuilds 1: every job uses up its machine, so creates go on all the time.
    let machine = "    IdleCount = 2\n    IdleTime = 3600\n    MaxBuilds = 1\n";
    let workload = "[[workload]]\nkind = \"poisson\"\nrate_per_hour = 30\nduration = \"5m\"\n";
    let on = format!("runners = {{ r = \"fakes/fixed-stockouts.toml\" }}\n{workload}");
    let horizon = 6 * 60 * MIN;
    let r = simulate(machine, "n1-standard-1", "6h", &on);
    let eps = stockout_rows(&r);
    assert!(eps.len() >= 2, "{eps:?}");
    for (start, end, reason) in &eps {
        assert_eq!(
            reason,
            "n1-standard-1 in us-central1-a (fixed-stockouts, on-demand): creates fail for 20m"
        );
        // fixed-stockouts.toml: every episode lasts 20 min.
        match end {
            Some(end) => assert_eq!(end - start, 20 * MIN),
            None => assert!(start + 20 * MIN > horizon),
        }
    }
    let in_episode = |t: u64| eps.iter().any(|&(s, _, _)| (s..s + 20 * MIN).contains(&t));
    // The create operation runs 1 s into a create: inside an episode it fails with the
    // profile's capacity error and no VM; outside, the create succeeds (no other failures).
    let (mut failed, mut ok) = (0, 0);
    for m in r
        .machines
        .iter()
        .filter(|m| m.created.as_millis() + 60 * S < horizon)
    {
        let op = m.created.as_millis() + S;
        if in_episode(op) {
            failed += 1;
            assert_eq!(m.end_state, "creation_failed", "{}", m.name);
            assert_eq!(m.cost_usd, 0.0);
            assert!(r.events.iter().any(|e| e.machine == m.name
                && e.event == "creation failed"
                && e.reason == "Error creating machine: Error in driver during machine creation: insufficient capacity for n1-standard-1 in us-central1-a"));
        } else {
            ok += 1;
            assert!(m.ready.is_some(), "{} created outside an episode", m.name);
        }
    }
    assert!(failed > 0 && ok > 0, "{failed} failed, {ok} ok");
    assert_eq!(
        failed,
        times(&r, "creation failed", "insufficient capacity").len()
    );
    // The episodes do not depend on what the runner does: twice the idle machines, other
    // creates, the same episodes.
    let busier = simulate(
        "    IdleCount = 4\n    IdleTime = 3600\n    MaxBuilds = 1\n",
        "n1-standard-1",
        "6h",
        &on,
    );
    assert_eq!(stockout_rows(&busier), eps);
    // `[cloud] stockouts = false` turns them off.
    let off = simulate(
        machine,
        "n1-standard-1",
        "6h",
        &format!("stockouts = false\n{on}"),
    );
    assert!(stockout_rows(&off).is_empty());
    assert!(times(&off, "creation failed", "").is_empty());
}
