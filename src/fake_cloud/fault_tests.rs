//! Fault injection through the fake cloud, one test (or more) per fault kind, with asserted
//! numbers (issue 5 "Done when").

use std::collections::BTreeMap;

use super::driver::{FakeCloud, LossCause, OrphanCause, RunnerCloud};
use super::faults::{FaultKind, FaultScope, FaultSpec, FaultStage};
use super::*;
use crate::cloud::{CallId, CallKind, Completion, DriverCall, DriverErrorKind, ProvisioningStage};
use crate::random::RngStreams;
use crate::random::dist::Dist;
use crate::time::{SimDuration, SimTime};

const S: u64 = 1000;
const MIN: u64 = 60_000;

fn shipped(name: &str) -> Profile {
    Profile::load(name, &shipped_fakes_dir()).unwrap_or_else(|e| panic!("{e}"))
}

/// The shipped profile with every create stage 10 s, every command 1 s and no base failures,
/// so that stage start times are known: the create operation at +10 s, boot 10–20 s, ssh
/// 20–30 s, provision 30–40 s, docker_install 40–50 s, certs 50–60 s.
fn fixed(name: &str) -> Profile {
    let mut p = shipped(name);
    let ten = Dist::fixed(SimDuration(10 * S));
    let one = Dist::fixed(SimDuration(S));
    p.create.api_call = ten.clone();
    p.create.boot = ten.clone();
    p.create.ssh_wait = ten.clone();
    p.create.provision = ten.clone();
    p.create.docker_install = ten.clone();
    p.create.certs = ten;
    p.calls.stop = one.clone();
    p.calls.rm = one.clone();
    p.calls.rm_force = one.clone();
    p.calls.config = one.clone();
    p.calls.credentials = one;
    p.provisioning_failure_probability = 0.0;
    p
}

fn fault(kind: FaultKind) -> FaultSpec {
    FaultSpec::new(kind)
}

/// A cloud with runners `r` (and `spot`, asking for spot, when `with_spot`).
fn cloud(p: Profile, options: &[&str], faults: Vec<FaultSpec>) -> FakeCloud {
    let driver = p.driver.clone();
    let opts: Vec<String> = options.iter().map(|s| s.to_string()).collect();
    let mut runners = BTreeMap::new();
    runners.insert(
        "r".to_string(),
        RunnerCloud::new(p.clone(), &driver, &opts).unwrap(),
    );
    let mut spot_opts = opts.clone();
    spot_opts.push(match driver.as_str() {
        "google" => "google-preemptible".into(),
        _ => "amazonec2-request-spot-instance".into(),
    });
    runners.insert(
        "spot".to_string(),
        RunnerCloud::new(p, &driver, &spot_opts).unwrap(),
    );
    FakeCloud::new(runners, RngStreams::new(7).stream("cloud")).with_faults(faults)
}

/// Drives a fake cloud like the world does: calls complete in time order.
struct Drive {
    cloud: FakeCloud,
    queue: BTreeMap<(SimTime, CallId), ()>,
    next: u64,
    done: BTreeMap<CallId, (SimTime, Completion)>,
}

impl Drive {
    fn new(cloud: FakeCloud) -> Self {
        Drive {
            cloud,
            queue: BTreeMap::new(),
            next: 0,
            done: BTreeMap::new(),
        }
    }

    fn create_kind(&self) -> CallKind {
        CallKind::Create {
            driver: self.cloud.runner("r").unwrap().profile.driver.clone(),
            options: Vec::new(),
        }
    }

    /// Starts a call; its id, and `None` for the end when it hangs.
    fn start(
        &mut self,
        now: SimTime,
        name: &str,
        kind: CallKind,
        runner: &str,
    ) -> (CallId, Option<SimTime>) {
        self.run_until(now);
        self.next += 1;
        let id = CallId(self.next);
        let call = DriverCall {
            id,
            machine: name.to_string(),
            kind,
        };
        let end = self.cloud.start_call(now, &call, Some(runner));
        if let Some(t) = end {
            self.queue.insert((t, id), ());
        }
        (id, end)
    }

    fn create(&mut self, now: SimTime, name: &str) -> CallId {
        let k = self.create_kind();
        self.start(now, name, k, "r").0
    }

    fn run_until(&mut self, t: SimTime) {
        while let Some((&(at, id), _)) = self.queue.first_key_value() {
            if at > t {
                break;
            }
            self.queue.pop_first();
            if let Some(c) = self.cloud.finish_call(at, id) {
                self.done.insert(id, (at, c));
            }
        }
        self.cloud.advance(t);
    }

    fn result(&self, id: CallId) -> &(SimTime, Completion) {
        self.done
            .get(&id)
            .unwrap_or_else(|| panic!("{id} has not completed"))
    }
}

#[test]
fn a_vcpu_quota_of_16_with_4_vcpu_machines_never_lets_more_than_4_vms_exist() {
    // c5.xlarge has 4 vCPUs in aws-ec2.toml's price table.
    let mut q = fault(FaultKind::Quota);
    q.vcpus = Some(16);
    let mut d = Drive::new(cloud(
        fixed("aws-ec2"),
        &["amazonec2-instance-type=c5.xlarge"],
        vec![q],
    ));
    let mut ids = Vec::new();
    let mut max_vms = 0;
    for i in 0..10u64 {
        // One create every 2 s: the RunInstances bucket (5, 2/s) never throttles.
        ids.push(d.create(SimTime(i * 2 * S), &format!("m{i}")));
        max_vms = max_vms.max(d.cloud.vms().len());
    }
    d.run_until(SimTime(10 * MIN));
    let quota_errors: Vec<&Completion> = ids
        .iter()
        .map(|id| &d.result(*id).1)
        .filter(|c| matches!(&c.result, Err(e) if e.kind == DriverErrorKind::Quota))
        .collect();
    assert_eq!(max_vms, 4);
    assert_eq!(d.cloud.vms().len(), 4);
    assert_eq!(quota_errors.len(), 6);
    let msg = &quota_errors[0].result.as_ref().unwrap_err().message;
    assert!(
        msg.starts_with("Error creating machine: Error in driver during machine creation: Error launching instance: VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit of 16 allows"),
        "{msg}"
    );
    // Removing one VM frees 4 vCPUs: the next create succeeds, the one after fails again.
    let (rm, _) = d.start(SimTime(10 * MIN), "m0", CallKind::Remove, "r");
    d.run_until(SimTime(11 * MIN));
    assert!(d.result(rm).1.result.is_ok());
    let ok = d.create(SimTime(11 * MIN), "n1");
    let no = d.create(SimTime(11 * MIN + 2 * S), "n2");
    d.run_until(SimTime(20 * MIN));
    assert!(d.result(ok).1.result.is_ok());
    assert_eq!(
        d.result(no).1.result.as_ref().unwrap_err().kind,
        DriverErrorKind::Quota
    );
}

#[test]
fn gce_quota_errors_are_quota_exceeded_for_cpus_in_the_region() {
    let mut q = fault(FaultKind::Quota);
    q.vcpus = Some(8);
    let mut d = Drive::new(cloud(
        fixed("gce"),
        &[
            "google-machine-type=n1-standard-4",
            "google-zone=us-east1-b",
        ],
        vec![q],
    ));
    let a = d.create(SimTime(0), "a");
    let b = d.create(SimTime(S), "b");
    let c = d.create(SimTime(2 * S), "c");
    d.run_until(SimTime(10 * MIN));
    assert!(d.result(a).1.result.is_ok() && d.result(b).1.result.is_ok());
    let e = d.result(c).1.result.clone().unwrap_err();
    assert_eq!(e.kind, DriverErrorKind::Quota);
    // The typed code and stage for reports (cloud-faults §7 quota.error: GCE QUOTA_EXCEEDED).
    assert_eq!(e.code.as_deref(), Some("QUOTA_EXCEEDED"));
    assert_eq!(e.stage, Some(ProvisioningStage::DriverCreate));
    assert!(
        e.message.ends_with(
            "googleapi: Error 403: Quota 'CPUS' exceeded.  Limit: 8.0 in region us-east1., quotaExceeded"
        ),
        "{}",
        e.message
    );
    // A failed quota check leaves no VM (cloud-faults §2.2: the insert is refused).
    assert!(!d.cloud.vms().contains_key("c"));
}

#[test]
fn a_docker_install_outage_fails_exactly_the_creates_whose_install_starts_inside_it() {
    let mut f = fault(FaultKind::Provisioning);
    f.stage = Some(FaultStage::DockerInstall);
    f.from = SimDuration(10 * MIN);
    f.to = Some(SimDuration(20 * MIN));
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    let mut creates = Vec::new();
    for i in 0..60u64 {
        let start = SimTime(i * 30 * S);
        creates.push((start, d.create(start, &format!("m{i}"))));
    }
    d.run_until(SimTime(60 * MIN));
    let mut failed = 0;
    for (start, id) in creates {
        // docker_install starts 40 s after the create (see `fixed`).
        let install = start.0 + 40 * S;
        let inside = (10 * MIN..20 * MIN).contains(&install);
        let (end, c) = d.result(id);
        match &c.result {
            Err(e) => {
                assert!(inside, "create at {start} failed outside the window: {e}");
                assert_eq!(
                    e.kind,
                    DriverErrorKind::Provisioning(ProvisioningStage::Provision)
                );
                assert_eq!(
                    e.message,
                    "Error creating machine: Error running provisioning: error installing docker: "
                );
                // It fails at the end of the install stage; the VM stays for the runner's rm.
                assert_eq!(end.0, start.0 + 50 * S);
                failed += 1;
            }
            Ok(()) => assert!(!inside, "create at {start} should have failed"),
        }
    }
    // Install starts every 30 s, 20 of them in the 10-minute window.
    assert_eq!(failed, 20);
    assert_eq!(d.cloud.vms().len(), 60);
}

#[test]
fn a_gce_fixed_window_throttles_the_call_after_the_limit_until_the_next_minute() {
    // A rate_limit fault at factor 0.01 lowers the 1,500/min "queries" window to 15/min.
    let mut f = fault(FaultKind::RateLimit);
    f.factor = Some(0.01);
    f.scope = FaultScope {
        operation: Some("queries".into()),
        ..FaultScope::default()
    };
    let mut p = fixed("gce");
    p.api_calls.as_mut().unwrap().stop = BTreeMap::from([("compute.instances.stop".into(), 1)]);
    let mut d = Drive::new(cloud(p, &[], vec![f]));
    for i in 0..20 {
        d.cloud.add_existing(&format!("m{i}"), "r");
    }
    // 16 stops at 1:05: 15 pass, the 16th is throttled (the driver does not retry, §2.2).
    let mut ids = Vec::new();
    for i in 0..16 {
        ids.push(
            d.start(SimTime(65 * S), &format!("m{i}"), CallKind::Stop, "r")
                .0,
        );
    }
    d.run_until(SimTime(70 * S));
    let results: Vec<bool> = ids
        .iter()
        .map(|id| d.result(*id).1.result.is_ok())
        .collect();
    assert_eq!(results.iter().filter(|ok| **ok).count(), 15);
    assert!(!results[15]);
    let e = d.result(ids[15]).1.result.clone().unwrap_err();
    assert_eq!(e.kind, DriverErrorKind::RateLimited);
    assert_eq!(
        e.message,
        "googleapi: Error 403: Rate Limit Exceeded, rateLimitExceeded"
    );
    assert_eq!(
        d.cloud.throttled_by_operation()["compute.instances.stop"],
        1
    );
    // Still throttled at 1:59.999; the window starting at 2:00 admits again.
    let late = d.start(SimTime(120 * S - 1), "m16", CallKind::Stop, "r").0;
    let next = d.start(SimTime(120 * S), "m17", CallKind::Stop, "r").0;
    d.run_until(SimTime(3 * MIN));
    assert!(d.result(late).1.result.is_err());
    assert!(d.result(next).1.result.is_ok());
}

#[test]
fn aws_api_calls_per_successful_create_match_the_spec_estimate() {
    // cloud-faults §2.1: ≈20–25 calls per create+remove lifecycle, ≈13 DescribeInstances
    // (GitLab's measurement). Tolerance: the spec's own range for the total, ±2 for
    // DescribeInstances. Shipped timings (boot polls depend on the boot time).
    let mut p = shipped("aws-ec2");
    p.provisioning_failure_probability = 0.0;
    let mut d = Drive::new(cloud(p, &[], Vec::new()));
    let n = 200u64;
    for i in 0..n {
        let t = SimTime(i * 10 * MIN);
        let name = format!("m{i}");
        d.create(t, &name);
        d.start(t + SimDuration(8 * MIN), &name, CallKind::Stop, "r");
        d.start(t + SimDuration(9 * MIN), &name, CallKind::Remove, "r");
    }
    d.run_until(SimTime(n * 10 * MIN + MIN));
    assert_eq!(d.cloud.successful_creates(), n);
    let per = d.cloud.api_calls_per_successful_create().unwrap();
    assert!((20.0..=25.0).contains(&per), "{per} calls per lifecycle");
    let describe = d.cloud.api_calls_by_operation()["DescribeInstances"] as f64 / n as f64;
    assert!(
        (11.0..=15.0).contains(&describe),
        "{describe} DescribeInstances"
    );
    assert_eq!(d.cloud.throttled_total(), 0);
    assert!(d.cloud.vms().is_empty());
}

#[test]
fn throttled_run_instances_fails_the_create_after_five_sdk_retries() {
    // factor 0.01: RunInstances has 0.05 tokens and refills 0.02/s: every call is throttled.
    let mut f = fault(FaultKind::RateLimit);
    f.factor = Some(0.01);
    f.scope.operation = Some("RunInstances".into());
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    let ids: Vec<CallId> = (0..3)
        .map(|i| d.create(SimTime(i * 40 * S), &format!("m{i}")))
        .collect();
    d.run_until(SimTime(10 * MIN));
    for (i, id) in ids.iter().enumerate() {
        let (end, c) = d.result(*id);
        let e = c.result.clone().unwrap_err();
        assert_eq!(e.kind, DriverErrorKind::RateLimited);
        assert!(
            e.message.starts_with("Error creating machine: Error in driver during machine creation: Error launching instance: RequestLimitExceeded: Request limit exceeded."),
            "{}",
            e.message
        );
        // RunInstances at +10 s, then 5 retries of 2^n × U[0.5 s, 1 s) (§2.1): 15.5–31 s.
        let spent = end.0 - i as u64 * 40 * S - 10 * S;
        assert!((15_500..=31_000).contains(&spent), "{spent} ms");
    }
    // 6 attempts per create, all throttled, all counted.
    assert_eq!(d.cloud.throttled_by_operation()["RunInstances"], 18);
    assert_eq!(d.cloud.api_calls_by_operation()["RunInstances"], 18);
    // No VM was made.
    assert!(d.cloud.vms().is_empty());
}

#[test]
fn capacity_faults_hit_only_their_zone_and_leave_no_vm() {
    let mut f = fault(FaultKind::Capacity);
    f.scope.zone = Some("us-east-1a".into());
    let mut d = Drive::new(cloud(
        fixed("aws-ec2"),
        &["amazonec2-instance-type=t3.medium"],
        vec![f.clone()],
    ));
    let id = d.create(SimTime(0), "m");
    d.run_until(SimTime(5 * MIN));
    let (end, c) = d.result(id);
    let e = c.result.clone().unwrap_err();
    assert_eq!(e.kind, DriverErrorKind::InsufficientCapacity);
    assert_eq!(e.code.as_deref(), Some("InsufficientInstanceCapacity"));
    assert!(e.message.contains("InsufficientInstanceCapacity: We currently do not have sufficient t3.medium capacity in the Availability Zone you requested (us-east-1a)"), "{}", e.message);
    // The SDK's fast retries of the 500 add 1–2 s after RunInstances at +10 s.
    assert!((11 * S..=12 * S).contains(&end.0), "{end}");
    assert!(d.cloud.vms().is_empty());
    // Another zone is not affected.
    let mut d = Drive::new(cloud(
        fixed("aws-ec2"),
        &["amazonec2-instance-type=t3.medium", "amazonec2-zone=b"],
        vec![f],
    ));
    let id = d.create(SimTime(0), "m");
    d.run_until(SimTime(5 * MIN));
    assert!(d.result(id).1.result.is_ok());
}

#[test]
fn a_hung_create_never_completes_and_orphans_its_vm_on_id_based_clouds() {
    let mut f = fault(FaultKind::CreateHang);
    f.to = Some(SimDuration(MIN));
    for (profile, orphaned) in [("aws-ec2", true), ("gce", false)] {
        let mut d = Drive::new(cloud(fixed(profile), &[], vec![f.clone()]));
        let k = d.create_kind();
        let (id, end) = d.start(SimTime(0), "m", k, "r");
        assert_eq!(end, None, "{profile}");
        // The VM exists (the create call went through) and bills from the create operation.
        assert_eq!(d.cloud.vms()["m"].billed_from, SimTime(10 * S));
        // The runner's 1 h timeout kills the create, then it removes the machine.
        d.run_until(SimTime(60 * MIN));
        d.cloud.kill(id);
        let (rm, _) = d.start(SimTime(60 * MIN), "m", CallKind::Remove, "r");
        d.run_until(SimTime(61 * MIN));
        assert!(d.result(rm).1.result.is_ok(), "rm exits 0 ({profile})");
        assert!(!d.cloud.in_store("m"));
        let orphans = d.cloud.orphans();
        if orphaned {
            assert_eq!(orphans.len(), 1);
            assert_eq!(orphans[0].cause, OrphanCause::CreateKilled);
            assert_eq!(orphans[0].since, SimTime(60 * MIN + S));
        } else {
            assert!(orphans.is_empty() && d.cloud.vms().is_empty(), "{profile}");
        }
        // Orphans bill until the end: 2 h at t3... the default type's price.
        let bills = d.cloud.close(SimTime(120 * MIN));
        assert_eq!(bills.len(), 1);
        let b = &bills[0];
        if orphaned {
            assert_eq!(
                (b.to, b.orphaned),
                (SimTime(120 * MIN), Some(OrphanCause::CreateKilled))
            );
        } else {
            assert_eq!((b.to, b.orphaned), (SimTime(60 * MIN + S), None));
        }
    }
    // Outside the window creates complete.
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    let k = d.create_kind();
    assert_eq!(
        d.start(SimTime(MIN), "m", k, "r").1,
        Some(SimTime(MIN + 60 * S))
    );
}

#[test]
fn a_removal_outage_fails_rm_y_and_rm_f_exits_0_leaving_a_billed_orphan() {
    let mut f = fault(FaultKind::RemovalOutage);
    f.from = SimDuration(10 * MIN);
    f.to = Some(SimDuration(70 * MIN));
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    for name in ["a", "b", "c"] {
        d.create(SimTime(0), name);
    }
    d.run_until(SimTime(5 * MIN));
    // rm -y in the outage fails, the VM and directory stay.
    let (rm, _) = d.start(SimTime(20 * MIN), "a", CallKind::Remove, "r");
    // rm -f in the outage exits 0, the directory goes, the VM stays (Q21).
    let (rmf, _) = d.start(SimTime(20 * MIN), "b", CallKind::ForceRemove, "r");
    // After the outage rm -y works.
    let (rm_after, _) = d.start(SimTime(70 * MIN), "c", CallKind::Remove, "r");
    d.run_until(SimTime(80 * MIN));
    let e = d.result(rm).1.result.clone().unwrap_err();
    assert_eq!(
        e.message,
        "Error removing host \"a\": unable to terminate instance: InternalError: An internal error has occurred"
    );
    assert!(d.cloud.in_store("a") && d.cloud.vms().contains_key("a"));
    assert!(d.result(rmf).1.result.is_ok());
    assert!(!d.cloud.in_store("b"));
    assert!(d.result(rm_after).1.result.is_ok());
    assert!(!d.cloud.vms().contains_key("c"));
    let orphans = d.cloud.orphans();
    assert_eq!(orphans.len(), 1);
    assert_eq!(
        (orphans[0].name.as_str(), orphans[0].cause, orphans[0].since),
        ("b", OrphanCause::ForceRemoveFailed, SimTime(20 * MIN + S))
    );
    let bills = d.cloud.close(SimTime(4 * 60 * MIN));
    let b = bills.iter().find(|b| b.name == "b").unwrap();
    assert_eq!(b.to, SimTime(4 * 60 * MIN));
    assert_eq!(b.orphaned, Some(OrphanCause::ForceRemoveFailed));
    // Billed from the create operation at 10 s to the 4 h horizon at t2.micro's price.
    let expected = (4 * 3600 - 10) as f64 * 0.0116 / 3600.0;
    assert!((b.usd - expected).abs() < 1e-9, "{} vs {expected}", b.usd);
}

#[test]
fn a_driver_level_boot_failure_leaks_on_hetzner_but_not_on_aws_or_gce() {
    let mut f = fault(FaultKind::Provisioning);
    f.stage = Some(FaultStage::Boot);
    for (profile, leaks) in [("hetzner", true), ("aws-ec2", false), ("gce", false)] {
        let mut p = fixed(profile);
        p.orphans.self_cleanup_failure_probability = 0.0;
        let mut d = Drive::new(cloud(p, &[], vec![f.clone()]));
        let id = d.create(SimTime(0), "m");
        d.run_until(SimTime(MIN));
        let e = d.result(id).1.result.clone().unwrap_err();
        assert_eq!(
            e.kind,
            DriverErrorKind::Provisioning(ProvisioningStage::DriverCreate),
            "{profile}"
        );
        let (rm, _) = d.start(SimTime(MIN), "m", CallKind::Remove, "r");
        d.run_until(SimTime(2 * MIN));
        assert!(d.result(rm).1.result.is_ok());
        let orphans = d.cloud.orphans();
        if leaks {
            assert_eq!(orphans.len(), 1, "{profile}");
            assert_eq!(orphans[0].cause, OrphanCause::NoSavedId);
        } else {
            assert!(orphans.is_empty(), "{profile}: {orphans:?}");
            assert!(d.cloud.vms().is_empty(), "{profile}");
        }
    }
}

#[test]
fn listing_lag_delays_the_directory_of_creates_started_in_the_window() {
    let mut f = fault(FaultKind::ListingLag);
    f.delay = Some(SimDuration(30 * S));
    f.to = Some(SimDuration(MIN));
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    d.create(SimTime(0), "late");
    assert!(!d.cloud.listing().contains("late"));
    assert_eq!(d.cloud.next_wakeup(), Some(SimTime(30 * S)));
    d.run_until(SimTime(30 * S - 1));
    assert!(!d.cloud.listing().contains("late"));
    d.run_until(SimTime(30 * S));
    assert!(d.cloud.listing().contains("late"));
    // Outside the window the directory is there at once.
    d.create(SimTime(2 * MIN), "now");
    assert!(d.cloud.listing().contains("now"));
}

#[test]
fn vanished_machines_are_reported_unreachable_and_stop_billing() {
    let mut f = fault(FaultKind::Vanish);
    f.rate_per_hour = Some(60.0); // mean 1 min per VM
    f.from = SimDuration(10 * MIN);
    f.to = Some(SimDuration(70 * MIN));
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    for i in 0..20 {
        d.create(SimTime(0), &format!("m{i}"));
    }
    d.run_until(SimTime(5 * MIN));
    let failed: Vec<String> = d
        .done
        .values()
        .filter_map(|(_, c)| c.result.clone().err().map(|e| e.message))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        d.cloud.vanished(SimTime(5 * MIN)).is_empty(),
        "not before the window"
    );
    d.run_until(SimTime(3 * 60 * MIN));
    let lost = d.cloud.vanished(SimTime(3 * 60 * MIN));
    // P(a VM survives 60 min at 1/min) = e^-60: all 20 go, inside the window.
    assert_eq!(lost.len(), 20);
    for l in &lost {
        assert_eq!(l.cause, LossCause::Vanished);
        assert!((10 * MIN..70 * MIN).contains(&l.at.0), "{}", l.at);
        assert_eq!(l.notice_at, l.at);
    }
    assert!(lost.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(d.cloud.vms().is_empty());
    let (cfg, _) = d.start(SimTime(3 * 60 * MIN), "m0", CallKind::CanConnect, "r");
    d.run_until(SimTime(4 * 60 * MIN));
    assert!(d.result(cfg).1.result.is_err());
    let bills = d.cloud.close(SimTime(4 * 60 * MIN));
    for l in &lost {
        let b = bills.iter().find(|b| b.name == l.name).unwrap();
        assert_eq!(b.to, l.at);
    }
}

#[test]
fn spot_interruptions_take_only_spot_vms_after_the_notice() {
    let mut f = fault(FaultKind::SpotInterruption);
    f.rate_per_hour = Some(30.0);
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    let k = d.create_kind();
    for i in 0..10 {
        d.start(SimTime(0), &format!("s{i}"), k.clone(), "spot");
        d.create(SimTime(0), &format!("o{i}"));
    }
    d.run_until(SimTime(5 * 60 * MIN));
    let lost = d.cloud.vanished(SimTime(5 * 60 * MIN));
    assert_eq!(lost.len(), 10);
    for l in &lost {
        assert!(l.name.starts_with('s'), "{} is not spot", l.name);
        assert_eq!(l.cause, LossCause::SpotInterruption);
        // aws-ec2.toml [spot] notice = 2 min (§6).
        assert_eq!(l.at.0 - l.notice_at.0, 2 * MIN);
    }
    assert_eq!(d.cloud.vms().len(), 10);
}

#[test]
fn api_errors_fail_the_named_operation_only() {
    let mut f = fault(FaultKind::ApiError);
    f.code = Some("InternalError".into());
    f.message = Some("We encountered an internal error. Please try again.".into());
    f.scope.operation = Some("TerminateInstances".into());
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    let c = d.create(SimTime(0), "m");
    d.run_until(SimTime(5 * MIN));
    assert!(d.result(c).1.result.is_ok());
    let (rm, _) = d.start(SimTime(5 * MIN), "m", CallKind::Remove, "r");
    d.run_until(SimTime(6 * MIN));
    let e = d.result(rm).1.result.clone().unwrap_err();
    assert_eq!(
        e.message,
        "Error removing host \"m\": InternalError: We encountered an internal error. Please try again."
    );
    assert!(d.cloud.vms().contains_key("m"));
}

#[test]
fn digitalocean_waits_for_its_rate_limit_to_reset_instead_of_failing() {
    // The per-minute window at 250 × 0.02 = 5 requests: the driver waits (§2.4), never fails.
    let mut f = fault(FaultKind::RateLimit);
    f.factor = Some(0.02);
    f.scope.operation = Some("per-minute".into());
    let mut d = Drive::new(cloud(fixed("digitalocean"), &[], Vec::new()));
    let base = d.create(SimTime(0), "base");
    d.run_until(SimTime(10 * MIN));
    let unthrottled = d.result(base).0;
    let mut d = Drive::new(cloud(fixed("digitalocean"), &[], vec![f]));
    let id = d.create(SimTime(0), "m");
    d.run_until(SimTime(30 * MIN));
    let (end, c) = d.result(id);
    assert!(c.result.is_ok());
    assert!(d.cloud.throttled_total() > 0);
    // Every throttled attempt waits at least 5 s (min_wait) beyond the unthrottled create.
    assert!(
        end.0 >= unthrottled.0 + 5 * S * d.cloud.throttled_total(),
        "{end} vs {unthrottled} with {} throttles",
        d.cloud.throttled_total()
    );
}

#[test]
fn every_profiles_api_calls_per_lifecycle_fall_in_the_spec_range() {
    // cloud-faults §7 `api.calls_per_create` (per successful create + remove, counting the
    // runner's pre-remove stop): AWS 20–25, GCE 15–25, Azure 30–50, DO 10–20, Hetzner 20–40.
    // OpenStack is left out: §7's 10–20 (+ Keystone) `[est]` disagrees with the spec's own
    // 4 s ACTIVE polling (§2.6 `[code]`) over §4's boot time (45 s median, 180 s p95), which
    // alone makes ≈17 polls on average; the profile follows the polling (≈26 calls).
    let ranges = [
        ("aws-ec2", 20.0, 25.0),
        ("gce", 15.0, 25.0),
        ("azure", 30.0, 50.0),
        ("digitalocean", 10.0, 20.0),
        ("hetzner", 20.0, 40.0),
    ];
    for (name, lo, hi) in ranges {
        let mut p = shipped(name);
        p.provisioning_failure_probability = 0.0;
        let mut d = Drive::new(cloud(p, &[], Vec::new()));
        let n = 100u64;
        for i in 0..n {
            let t = SimTime(i * 30 * MIN);
            let m = format!("m{i}");
            d.create(t, &m);
            d.start(t + SimDuration(20 * MIN), &m, CallKind::Stop, "r");
            d.start(t + SimDuration(22 * MIN), &m, CallKind::Remove, "r");
        }
        d.run_until(SimTime(n * 30 * MIN + 10 * MIN));
        assert_eq!(d.cloud.successful_creates(), n, "{name}");
        let per = d.cloud.api_calls_per_successful_create().unwrap();
        println!("{name}: {per:.1} API calls per lifecycle");
        assert!(
            (lo..=hi).contains(&per),
            "{name}: {per:.1} not in {lo}–{hi}"
        );
    }
}

/// cloud-faults §1.5: on a fresh store, the creates that start together with the first one
/// fail at step 1 with the bootstrap error; the first goes through, and later creates (after
/// the bootstrap) are not affected. No directory and no VM is left by a racer.
#[test]
fn first_use_race_fails_the_creates_racing_the_certificate_bootstrap() {
    let f = fault(FaultKind::FirstUseRace);
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    let ids: Vec<CallId> = (0..5)
        .map(|i| d.create(SimTime(0), &format!("m{i}")))
        .collect();
    // One more 1 s later (inside the default 2 s bootstrap), one after it.
    let inside = d.create(SimTime(S), "inside");
    let after = d.create(SimTime(3 * S), "after");
    for i in 1..5 {
        assert!(
            !d.cloud.listing().contains(&format!("m{i}")),
            "racer m{i} has no directory"
        );
    }
    d.run_until(SimTime(5 * MIN));
    let ok = |d: &Drive, id| d.result(id).1.result.is_ok();
    assert!(
        ok(&d, ids[0]),
        "the first create bootstraps the certificates"
    );
    for &id in &ids[1..] {
        let (at, c) = d.result(id);
        assert_eq!(*at, SimTime(0), "a racer fails at once");
        let e = c.result.clone().unwrap_err();
        assert_eq!(
            e.kind,
            DriverErrorKind::Provisioning(ProvisioningStage::Certificates)
        );
        assert!(
            e.message
                .starts_with("Error creating machine: Error generating certificates: ")
                && e.message.ends_with("key already exists"),
            "{}",
            e.message
        );
    }
    assert!(!ok(&d, inside));
    assert!(
        ok(&d, after),
        "after the bootstrap the store is established"
    );
    assert_eq!(
        d.cloud.vms().len(),
        2,
        "only the first and the late create have a VM"
    );
}

/// With `overwrite = 1` every racer overwrites the CA: the creates succeed up to their TLS
/// check, which then fails with the unknown-authority error, as does `config` on a machine that
/// was ready — GitLab's "non-working environment".
#[test]
fn first_use_race_with_a_ca_overwrite_breaks_every_tls_check() {
    let mut f = fault(FaultKind::FirstUseRace);
    f.overwrite = Some(1.0);
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    let a = d.create(SimTime(0), "a");
    let b = d.create(SimTime(0), "b");
    d.run_until(SimTime(5 * MIN));
    for id in [a, b] {
        let (at, c) = d.result(id);
        assert_eq!(*at, SimTime(60 * S), "fails at the end of the certs stage");
        let e = c.result.clone().unwrap_err();
        assert_eq!(
            e.kind,
            DriverErrorKind::Provisioning(ProvisioningStage::TlsCheck)
        );
        assert!(
            e.message
                .ends_with("x509: certificate signed by unknown authority"),
            "{}",
            e.message
        );
    }
    // A machine that became ready before the overwrite: its `config` fails afterwards.
    let mut f = fault(FaultKind::FirstUseRace);
    f.overwrite = Some(1.0);
    f.delay = Some(SimDuration(2 * MIN));
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    let a = d.create(SimTime(0), "a");
    d.run_until(SimTime(70 * S));
    assert!(d.result(a).1.result.is_ok(), "ready before the overwrite");
    let (before, _) = d.start(SimTime(70 * S), "a", CallKind::CanConnect, "r");
    d.create(SimTime(90 * S), "b");
    let (cfg, _) = d.start(SimTime(100 * S), "a", CallKind::CanConnect, "r");
    d.run_until(SimTime(3 * MIN));
    assert!(d.result(before).1.result.is_ok());
    let e = d.result(cfg).1.result.clone().unwrap_err();
    assert!(
        e.message
            .contains("x509: certificate signed by unknown authority"),
        "{}",
        e.message
    );
    // No race without the fault: the same creates succeed.
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![]));
    let a = d.create(SimTime(0), "a");
    let b = d.create(SimTime(0), "b");
    d.run_until(SimTime(5 * MIN));
    assert!(d.result(a).1.result.is_ok() && d.result(b).1.result.is_ok());
    let (cfg, _) = d.start(SimTime(5 * MIN), "a", CallKind::CanConnect, "r");
    d.run_until(SimTime(6 * MIN));
    assert!(d.result(cfg).1.result.is_ok());
}

/// A store that already holds machines is not fresh: the fault has no effect.
#[test]
fn first_use_race_needs_a_fresh_store() {
    let f = fault(FaultKind::FirstUseRace);
    let mut c = cloud(fixed("aws-ec2"), &[], vec![f]);
    c.add_existing("old", "r");
    let mut d = Drive::new(c);
    let ids: Vec<CallId> = (0..3)
        .map(|i| d.create(SimTime(0), &format!("m{i}")))
        .collect();
    d.run_until(SimTime(5 * MIN));
    assert!(ids.iter().all(|&id| d.result(id).1.result.is_ok()));
}

#[test]
fn stop_and_rm_of_a_machine_without_a_vm_end_after_one_quick_lookup() {
    // A GCE stockout leaves no VM; the runner then stops and removes the machine. The google
    // driver answers both after a lookup (cloud-faults §1.4 "Remote instance does not exist,
    // proceeding…"), not after gce.toml's stop (30 s median) and rm (40 s median).
    let mut f = fault(FaultKind::Capacity);
    f.to = Some(SimDuration(MIN));
    let mut d = Drive::new(cloud(shipped("gce"), &[], vec![f]));
    let failed = d.create(SimTime(0), "gone");
    let ok = d.create(SimTime(2 * MIN), "there");
    d.run_until(SimTime(10 * MIN));
    assert_eq!(
        d.result(failed).1.result.as_ref().unwrap_err().kind,
        DriverErrorKind::InsufficientCapacity
    );
    assert!(d.result(ok).1.result.is_ok());
    let calls_before = d.cloud.api_calls_total();
    let lookup = d.cloud.runner("r").unwrap().profile.calls.config.median();
    let t = SimTime(10 * MIN);
    let (stop, stop_end) = d.start(t, "gone", CallKind::Stop, "r");
    let (rm, rm_end) = d.start(t, "gone", CallKind::Remove, "r");
    assert_eq!(stop_end, Some(t + lookup));
    assert_eq!(rm_end, Some(t + lookup));
    // A machine whose VM exists takes the profile's times and makes its API calls.
    let (_, there_end) = d.start(t, "there", CallKind::Stop, "r");
    assert!(there_end.unwrap() > t + lookup);
    d.run_until(SimTime(20 * MIN));
    assert!(d.result(stop).1.result.is_ok());
    assert!(d.result(rm).1.result.is_ok());
    assert!(!d.cloud.in_store("gone"));
    assert!(d.cloud.orphans().is_empty());
    // Only the stop of "there" made API calls (compute.instances.stop + 2 operation waits).
    assert_eq!(d.cloud.api_calls_total() - calls_before, 3);
}

// ---- The profiles' own stockout episodes ([capacity] episodes_per_day, issue 5 item 1) ----

/// `fixed("aws-ec2")` with stockout episodes: `per_day` episodes per day of `minutes` each.
fn stockout_profile(per_day: f64, minutes: u64) -> Profile {
    let mut p = fixed("aws-ec2");
    p.capacity.episodes_per_day = per_day;
    p.capacity.episode_duration = Some(Dist::fixed(SimDuration(minutes * MIN)));
    p
}

/// A cloud with the given runners (id, MachineOptions), seeded `seed`.
fn pools_cloud(p: &Profile, seed: u64, runners: &[(&str, &[&str])]) -> FakeCloud {
    let mut rcs = BTreeMap::new();
    for (id, opts) in runners {
        let opts: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        rcs.insert(
            id.to_string(),
            RunnerCloud::new(p.clone(), &p.driver, &opts).unwrap(),
        );
    }
    FakeCloud::new(rcs, RngStreams::new(seed).stream("cloud"))
}

const T3A: &[&str] = &["amazonec2-instance-type=t3.medium"];
const T3B: &[&str] = &["amazonec2-instance-type=t3.medium", "amazonec2-zone=b"];

/// `(start, end)` of the episodes of the pool in `zone` (ms).
fn episodes_in(c: &mut FakeCloud, until: u64, zone: &str) -> Vec<(u64, u64)> {
    c.stockouts_until(SimTime(until))
        .into_iter()
        .filter(|s| s.pool.zone == zone)
        .map(|s| (s.start.0, s.end.0))
        .collect()
}

#[test]
fn creates_fail_with_the_capacity_error_during_a_stockout_episode_only() {
    // 24 episodes a day (mean gap 1 h) of 10 min each.
    let p = stockout_profile(24.0, 10);
    let mut d = Drive::new(pools_cloud(&p, 7, &[("r", T3A)]));
    let horizon = 12 * 60 * MIN;
    let eps = episodes_in(&mut d.cloud, horizon, "us-east-1a");
    assert!(eps.len() >= 3, "{eps:?}");
    for w in eps.windows(2) {
        assert_eq!(w[0].1 - w[0].0, 10 * MIN);
        assert!(w[0].1 < w[1].0, "episodes alternate with gaps: {eps:?}");
    }
    // The create operation runs 10 s after the create starts (fixed profile): creates timed
    // to hit the middle of each episode fail, creates 1 min before each start succeed.
    let mut failing = Vec::new();
    let mut passing = Vec::new();
    for (i, &(start, _)) in eps.iter().enumerate() {
        let t = start + 5 * MIN - 10 * S;
        failing.push((d.create(SimTime(t), &format!("in{i}")), t));
        if start >= MIN + 10 * S && eps.iter().all(|e| !(e.0..e.1).contains(&(start - MIN))) {
            let t = start - MIN - 10 * S;
            passing.push((d.create(SimTime(t), &format!("out{i}")), t));
        }
    }
    d.run_until(SimTime(horizon + 10 * MIN));
    assert!(!passing.is_empty());
    for (id, t) in failing {
        let (end, c) = d.result(id);
        let e = c.result.clone().unwrap_err();
        assert_eq!(e.kind, DriverErrorKind::InsufficientCapacity);
        assert!(
            e.message.starts_with("Error creating machine: Error in driver during machine creation: Error launching instance: InsufficientInstanceCapacity: We currently do not have sufficient t3.medium capacity in the Availability Zone you requested (us-east-1a)"),
            "{}",
            e.message
        );
        // The profile's SDK delay (1–2 s) after the create operation, as a capacity fault.
        assert!((t + 11 * S..=t + 12 * S).contains(&end.0), "{end}");
    }
    for (id, t) in &passing {
        let (end, c) = d.result(*id);
        assert!(c.result.is_ok(), "{:?}", c.result);
        assert_eq!(end.0, t + 60 * S);
    }
    // Failed creates left no VM; every successful one did.
    assert_eq!(d.cloud.vms().len(), passing.len());
}

#[test]
fn stockout_episodes_depend_only_on_the_seed_and_their_pool() {
    let p = stockout_profile(24.0, 10);
    let horizon = 24 * 60 * MIN;
    let alone = episodes_in(
        &mut pools_cloud(&p, 7, &[("r", T3A)]),
        horizon,
        "us-east-1a",
    );
    assert!(alone.len() >= 10, "{alone:?}");
    // Same seed, another pool next to it, many creates in both pools, episodes asked for
    // piecemeal: the same episodes.
    let mut d = Drive::new(pools_cloud(&p, 7, &[("r", T3A), ("b", T3B)]));
    let k = d.create_kind();
    let mut seen = Vec::new();
    for i in 0..(horizon / (7 * MIN)) {
        let t = SimTime(i * 7 * MIN);
        d.start(t, &format!("a{i}"), k.clone(), "r");
        d.start(t, &format!("b{i}"), k.clone(), "b");
        d.start(t, &format!("c{i}"), k.clone(), "b");
        seen = episodes_in(&mut d.cloud, t.0, "us-east-1a");
    }
    d.run_until(SimTime(horizon));
    let all = episodes_in(&mut d.cloud, horizon, "us-east-1a");
    assert_eq!(all, alone);
    assert_eq!(seen[..], alone[..seen.len()]);
    // The other pool has episodes of its own.
    let other = episodes_in(&mut d.cloud, horizon, "us-east-1b");
    assert!(!other.is_empty());
    assert_ne!(other, alone);
    // Another seed: other episodes.
    let reseeded = episodes_in(
        &mut pools_cloud(&p, 8, &[("r", T3A)]),
        horizon,
        "us-east-1a",
    );
    assert_ne!(reseeded, alone);
    // Off by default: no episodes, no failures.
    let mut off = fixed("aws-ec2");
    off.capacity.episodes_per_day = 0.0;
    assert!(
        pools_cloud(&off, 7, &[("r", T3A)])
            .stockouts_until(SimTime(horizon))
            .is_empty()
    );
}

#[test]
fn stockout_episodes_do_not_move_the_base_model_draws() {
    // The shipped aws-ec2 profile (random stage durations): the same creates with and without
    // episodes end at the same instants unless an episode failed them.
    let plain = shipped("aws-ec2");
    let mut with = plain.clone();
    with.capacity.episodes_per_day = 12.0;
    with.capacity.episode_duration = Some(Dist::fixed(SimDuration(20 * MIN)));
    let run = |p: &Profile| {
        let mut d = Drive::new(pools_cloud(p, 7, &[("r", T3A)]));
        let ids: Vec<CallId> = (0..40)
            .map(|i| d.create(SimTime(i * 5 * MIN), &format!("m{i}")))
            .collect();
        d.run_until(SimTime(6 * 60 * MIN));
        ids.iter()
            .map(|id| d.result(*id).clone())
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(&plain), run(&with));
    let mut stocked_out = 0;
    for ((ea, ca), (eb, cb)) in a.iter().zip(&b) {
        match &cb.result {
            Err(e) if e.kind == DriverErrorKind::InsufficientCapacity => stocked_out += 1,
            _ => {
                assert_eq!(ea, eb);
                assert_eq!(ca.result, cb.result);
            }
        }
    }
    assert!(stocked_out > 0 && stocked_out < 40, "{stocked_out}");
}

#[test]
fn spot_pools_have_their_rate_times_the_multiplier() {
    // 1 episode a day of 1 h; spot × 3 (aws-ec2.toml). Over 100 days the renewal count has mean
    // T / (1/λ + d) and variance T σ² / μ³ (σ = 1/λ): on-demand 96 ± 9.4, spot 267 ± 14.5;
    // the bounds are ± 4 standard deviations.
    let p = stockout_profile(1.0, 60);
    assert_eq!(p.capacity.spot_multiplier, 3.0);
    let spot: &[&str] = &[
        "amazonec2-instance-type=t3.medium",
        "amazonec2-request-spot-instance",
    ];
    let mut c = pools_cloud(&p, 7, &[("r", T3A), ("s", spot)]);
    let all = c.stockouts_until(SimTime(100 * 24 * 60 * MIN));
    let n_spot = all.iter().filter(|s| s.pool.spot).count();
    let n_od = all.len() - n_spot;
    assert!((58..=134).contains(&n_od), "{n_od}");
    assert!((209..=325).contains(&n_spot), "{n_spot}");
    assert!(
        all.iter()
            .all(|s| s.runners == [if s.pool.spot { "s" } else { "r" }])
    );
    // A spot create in a spot episode fails with AWS's spot wording (§2.1 "Spot variant").
    let first = all.iter().find(|s| s.pool.spot).unwrap().clone();
    let mut d = Drive::new(c);
    let k = d.create_kind();
    let (id, _) = d.start(SimTime(first.start.0), "s0", k, "s");
    d.run_until(SimTime(first.start.0 + 10 * MIN));
    let e = d.result(id).1.result.clone().unwrap_err();
    assert_eq!(e.kind, DriverErrorKind::InsufficientCapacity);
    assert_eq!(
        e.message,
        "Error creating machine: Error in driver during machine creation: Error launching instance: InsufficientInstanceCapacity: There is no Spot capacity available that matches your request."
    );
}

#[test]
fn runners_with_the_same_zone_and_type_share_one_pool() {
    let p = stockout_profile(24.0, 10);
    let horizon = 24 * 60 * MIN;
    let alone = pools_cloud(&p, 7, &[("r", T3A)]).stockouts_until(SimTime(horizon));
    let shared = pools_cloud(&p, 7, &[("r", T3A), ("r2", T3A)]).stockouts_until(SimTime(horizon));
    assert_eq!(alone.len(), shared.len());
    for (a, b) in alone.iter().zip(&shared) {
        assert_eq!((a.start, a.end, &a.pool), (b.start, b.end, &b.pool));
        assert_eq!(b.runners, ["r", "r2"]);
    }
}

#[test]
fn episode_keys_are_validated() {
    let mut p = fixed("aws-ec2");
    p.capacity.episode_duration = None;
    p.capacity.episodes_per_day = 0.5;
    let e = p.validate().unwrap_err();
    assert!(e.contains("capacity.episode_duration is required"), "{e}");
    p.capacity.episodes_per_day = -1.0;
    let e = p.validate().unwrap_err();
    assert!(
        e.contains("capacity.episodes_per_day must be a finite number ≥ 0, found -1"),
        "{e}"
    );
    p.capacity.episodes_per_day = 0.0;
    p.capacity.spot_multiplier = f64::NAN;
    assert!(
        p.validate()
            .unwrap_err()
            .contains("capacity.spot_multiplier")
    );
}

/// The first create bootstraps the store even before the fault's window opens: creates in
/// the window, after the bootstrap, do not race.
#[test]
fn first_use_race_does_not_start_late_when_the_first_create_precedes_the_window() {
    let mut f = fault(FaultKind::FirstUseRace);
    f.from = SimDuration(MIN);
    let mut d = Drive::new(cloud(fixed("aws-ec2"), &[], vec![f]));
    let early = d.create(SimTime(0), "early");
    let ids: Vec<CallId> = (0..3)
        .map(|i| d.create(SimTime(2 * MIN), &format!("m{i}")))
        .collect();
    d.run_until(SimTime(10 * MIN));
    assert!(d.result(early).1.result.is_ok());
    assert!(ids.iter().all(|&id| d.result(id).1.result.is_ok()));
}
