//! The fake cloud as a docker-machine driver: it executes the core's driver calls with
//! latencies and outcomes from the runner's profile, keeps the local machine store (the
//! directories `docker-machine ls` lists) and the cloud's VMs, and bills them.
//!
//! Basic model (fault injection proper is a later issue, cloud-faults §1–§3):
//! * `create` runs the provisioning stages of the profile in order (API call → boot → SSH wait →
//!   provision → Docker install → certificates, cloud-faults §1.1, §4). With the profile's
//!   `provisioning_failure_probability` it fails at one of the stages after the API call
//!   (chosen uniformly), with that stage's docker-machine message (§8), after the stages up to
//!   and including it. The store directory is written when the call starts (listing lag is a
//!   later fault, spec §3.5); the VM exists — and is billed — from the end of the API call.
//!   A failed create leaves both VM and directory: the runner removes it (spec Q14).
//! * `stop` succeeds; the VM keeps billing until `rm` (conservative: disks and most clouds'
//!   instance states bill until deletion).
//! * `rm -y` / `rm -f` delete the VM (closing its bill) and the directory.
//! * `config` (CanConnect) and `url`/`inspect` (credentials) succeed iff the VM exists and its
//!   creation succeeded; `inspect` (Exists) succeeds iff the directory exists.
//!
//! All randomness comes from one named stream (`cloud`), drawn when a call starts.

use std::collections::{BTreeMap, BTreeSet};

use crate::cloud::{
    CallId, CallKind, Completion, DriverCall, DriverError, DriverErrorKind, DriverState,
    ProvisioningStage, StoreListing,
};
use crate::random::SimRng;
use crate::random::dist::unit_f64;
use crate::time::{SimDuration, SimTime};

use super::billing::BillingMode;
use super::options::{MachineSpec, machine_spec_from_options};
use super::profile::{PriceQuote, Profile};

/// What the fake cloud knows of one runner: its profile and the machine its options ask for.
#[derive(Clone, Debug)]
pub struct RunnerCloud {
    /// The fake-cloud profile.
    pub profile: Profile,
    /// The machine `MachineOptions` ask for.
    pub spec: MachineSpec,
    /// Its price.
    pub quote: PriceQuote,
    /// The billing rule.
    pub mode: BillingMode,
}

impl RunnerCloud {
    /// Builds the runner's view from its profile and `MachineDriver`/`MachineOptions`.
    ///
    /// # Errors
    /// Options the driver cannot read, or a profile whose billing rule is invalid.
    pub fn new(profile: Profile, driver: &str, options: &[String]) -> Result<Self, String> {
        let spec = machine_spec_from_options(&profile.driver, options)
            .or_else(|e| {
                if driver.is_empty() {
                    Err(e)
                } else {
                    machine_spec_from_options(driver, options)
                }
            })
            .map_err(|e| e.to_string())?;
        let quote = profile.billing.price(&spec);
        let mode = profile.billing.mode()?;
        Ok(RunnerCloud {
            profile,
            spec,
            quote,
            mode,
        })
    }
}

/// A VM in the fake cloud.
#[derive(Clone, Debug, PartialEq)]
pub struct Vm {
    /// The runner whose create made it (or that it was pre-seeded for).
    pub runner: String,
    /// When billing started.
    pub billed_from: SimTime,
    /// Whether creation finished successfully (reachable).
    pub ready: bool,
}

/// A closed bill: a VM that was deleted, or one still running at the horizon.
#[derive(Clone, Debug, PartialEq)]
pub struct Bill {
    /// Machine name.
    pub name: String,
    /// Runner id.
    pub runner: String,
    /// Billing start.
    pub from: SimTime,
    /// Billing end (deletion, or the horizon).
    pub to: SimTime,
    /// USD.
    pub usd: f64,
}

#[derive(Clone, Debug)]
struct Pending {
    call: DriverCall,
    runner: Option<String>,
    /// For create: the failing stage and its message, if it fails.
    failure: Option<(ProvisioningStage, &'static str)>,
}

/// The fake cloud. See the module docs.
#[derive(Debug)]
pub struct FakeCloud {
    runners: BTreeMap<String, RunnerCloud>,
    store: BTreeSet<String>,
    vms: BTreeMap<String, Vm>,
    pending: BTreeMap<CallId, Pending>,
    rng: SimRng,
    bills: Vec<Bill>,
    /// Calls made, by docker-machine command.
    pub api_calls: BTreeMap<String, u64>,
}

const STAGE_FAILURES: [(ProvisioningStage, &str); 5] = [
    (
        ProvisioningStage::WaitRunning,
        "Error creating machine: Error in driver during machine creation: instance did not reach the running state",
    ),
    (
        ProvisioningStage::Ssh,
        "Error creating machine: Error detecting OS: Too many retries waiting for SSH to be available.  Last error: Maximum number of retries (60) exceeded",
    ),
    (
        ProvisioningStage::Provision,
        "Error creating machine: Error running provisioning: Failed to obtain lock: Maximum number of retries (60) exceeded",
    ),
    (
        ProvisioningStage::Provision,
        "Error creating machine: Error running provisioning: error installing docker: ",
    ),
    (
        ProvisioningStage::TlsCheck,
        "Error creating machine: Error checking the host: Error checking and/or regenerating the certs: There was an error validating certificates for host",
    ),
];

impl FakeCloud {
    /// A fake cloud for the given runners (by runner id), drawing from `rng`.
    pub fn new(runners: BTreeMap<String, RunnerCloud>, rng: SimRng) -> Self {
        FakeCloud {
            runners,
            store: BTreeSet::new(),
            vms: BTreeMap::new(),
            pending: BTreeMap::new(),
            rng,
            bills: Vec::new(),
            api_calls: BTreeMap::new(),
        }
    }

    /// The runner's cloud view.
    pub fn runner(&self, id: &str) -> Option<&RunnerCloud> {
        self.runners.get(id)
    }

    /// Seeds a machine that exists before the simulation starts (directory and ready VM;
    /// billed from the start of the simulated span).
    pub fn add_existing(&mut self, name: &str, runner: &str) {
        self.store.insert(name.to_string());
        self.vms.insert(
            name.to_string(),
            Vm {
                runner: runner.to_string(),
                billed_from: SimTime::ZERO,
                ready: true,
            },
        );
    }

    /// The machine store listing, sorted by name (spec §2.5), answered at once.
    pub fn listing(&self) -> StoreListing {
        StoreListing::sorted(self.store.iter().cloned().collect())
    }

    /// The VMs that exist now.
    pub fn vms(&self) -> &BTreeMap<String, Vm> {
        &self.vms
    }

    /// Starts a driver call at `now` for `runner` (the machine's runner, when known) and
    /// returns when its completion arrives.
    pub fn start_call(&mut self, now: SimTime, call: &DriverCall, runner: Option<&str>) -> SimTime {
        *self
            .api_calls
            .entry(call.kind.command().to_string())
            .or_default() += 1;
        let rc = runner
            .and_then(|r| self.runners.get(r))
            .or_else(|| self.runners.values().next());
        let Some(rc) = rc.cloned() else {
            // No autoscaled runner at all: answer at once.
            self.pending.insert(
                call.id,
                Pending {
                    call: call.clone(),
                    runner: runner.map(str::to_string),
                    failure: None,
                },
            );
            return now;
        };
        let calls = &rc.profile.calls;
        let (latency, failure) = match &call.kind {
            CallKind::Create { .. } => {
                let stages = rc.profile.create.in_order();
                let durations: Vec<SimDuration> = stages
                    .iter()
                    .map(|(_, d)| d.sample(&mut self.rng))
                    .collect();
                let fails = unit_f64(&mut self.rng) < rc.profile.provisioning_failure_probability;
                let failure = if fails {
                    let i = (unit_f64(&mut self.rng) * STAGE_FAILURES.len() as f64) as usize;
                    Some(STAGE_FAILURES[i.min(STAGE_FAILURES.len() - 1)])
                } else {
                    None
                };
                // Stages run up to the failing one: WaitRunning → boot (1), Ssh → ssh_wait (2),
                // Provision → provision/docker_install (3/4), TlsCheck → certs (5).
                let last = match failure.map(|f| f.0) {
                    Some(ProvisioningStage::WaitRunning) => 1,
                    Some(ProvisioningStage::Ssh) => 2,
                    Some(ProvisioningStage::Provision) => 4,
                    _ => 5,
                };
                let total = durations.iter().take(last + 1).fold(0u64, |a, d| a + d.0);
                self.store.insert(call.machine.clone());
                let owner = runner.map(str::to_string).unwrap_or_default();
                self.vms.insert(
                    call.machine.clone(),
                    Vm {
                        runner: owner,
                        billed_from: now + durations[0],
                        ready: false,
                    },
                );
                (SimDuration(total), failure)
            }
            CallKind::Stop => (calls.stop.sample(&mut self.rng), None),
            CallKind::Remove => (calls.rm.sample(&mut self.rng), None),
            CallKind::ForceRemove => (calls.rm_force.sample(&mut self.rng), None),
            CallKind::CanConnect | CallKind::Exists => (calls.config.sample(&mut self.rng), None),
            CallKind::Credentials => (calls.credentials.sample(&mut self.rng), None),
        };
        self.pending.insert(
            call.id,
            Pending {
                call: call.clone(),
                runner: runner.map(str::to_string),
                failure,
            },
        );
        now + latency
    }

    /// The core gave up on a call (its timeout fired): the call's effects are dropped. A
    /// create's VM stays (the child process is not killed, spec §4.2 reasoning; the runner
    /// removes the record and, through the listing, the directory).
    pub fn kill(&mut self, id: CallId) {
        self.pending.remove(&id);
    }

    /// The runner process exited: `stop`/`rm -y`/`rm -f` children die with it and their
    /// effects never happen (spec §4.2, Q21). Creates keep running (the runner does not kill
    /// its `docker-machine create` children, §4.2).
    pub fn cut_off_removals(&mut self) {
        self.pending
            .retain(|_, p| matches!(p.call.kind, CallKind::Create { .. }));
    }

    /// Completes call `id` at `now`, applying its effects; `None` if it was killed.
    pub fn finish_call(&mut self, now: SimTime, id: CallId) -> Option<Completion> {
        let p = self.pending.remove(&id)?;
        let name = p.call.machine.clone();
        let not_found = || {
            DriverError::new(
                DriverErrorKind::NotFound,
                format!("Host does not exist: \"{name}\""),
            )
        };
        let result = match &p.call.kind {
            CallKind::Create { driver, .. } => {
                let mut state = DriverState {
                    driver: driver.clone(),
                    ..DriverState::default()
                };
                if let Some(rc) = p.runner.as_deref().and_then(|r| self.runners.get(r)) {
                    state.zone = rc.spec.zone.clone().unwrap_or_default();
                    state.machine_type = rc.spec.instance_type.clone();
                }
                let result = match p.failure {
                    Some((stage, message)) => Err(DriverError::new(
                        DriverErrorKind::Provisioning(stage),
                        message,
                    )),
                    None => {
                        if let Some(vm) = self.vms.get_mut(&name) {
                            vm.ready = true;
                        }
                        Ok(())
                    }
                };
                return Some(Completion {
                    id,
                    result,
                    state: Some(state),
                });
            }
            CallKind::Stop => Ok(()),
            CallKind::Remove | CallKind::ForceRemove => {
                self.delete_vm(&name, now);
                self.store.remove(&name);
                Ok(())
            }
            CallKind::CanConnect | CallKind::Credentials => match self.vms.get(&name) {
                Some(vm) if vm.ready => Ok(()),
                _ => Err(DriverError::new(
                    DriverErrorKind::Other,
                    "Error running connection boilerplate: Error checking and/or regenerating the certs: Host is not running",
                )),
            },
            CallKind::Exists => {
                if self.store.contains(&name) {
                    Ok(())
                } else {
                    Err(not_found())
                }
            }
        };
        Some(Completion {
            id,
            result,
            state: None,
        })
    }

    fn delete_vm(&mut self, name: &str, now: SimTime) {
        if let Some(vm) = self.vms.remove(name) {
            let usd = self.cost(&vm, now);
            self.bills.push(Bill {
                name: name.to_string(),
                runner: vm.runner,
                from: vm.billed_from,
                to: now,
                usd,
            });
        }
    }

    fn cost(&self, vm: &Vm, to: SimTime) -> f64 {
        let Some(rc) = self
            .runners
            .get(&vm.runner)
            .or_else(|| self.runners.values().next())
        else {
            return 0.0;
        };
        if to <= vm.billed_from {
            return 0.0;
        }
        super::billing::lifetime_cost(
            vm.billed_from,
            to,
            rc.quote.usd_per_hour,
            rc.mode,
            rc.profile.billing.minimum_charge * rc.profile.billing.usd_rate,
        )
    }

    /// Whether the machine's directory is in the store.
    pub fn in_store(&self, name: &str) -> bool {
        self.store.contains(name)
    }

    /// Closes the books at the horizon: every VM still existing is billed up to `end`.
    /// Returns all bills (deleted VMs first, in deletion order, then the survivors by name).
    pub fn close(&mut self, end: SimTime) -> Vec<Bill> {
        let survivors: Vec<(String, Vm)> = std::mem::take(&mut self.vms).into_iter().collect();
        for (name, vm) in survivors {
            let usd = self.cost(&vm, end);
            let from = vm.billed_from.min(end);
            self.bills.push(Bill {
                name,
                runner: vm.runner,
                from,
                to: end,
                usd,
            });
        }
        std::mem::take(&mut self.bills)
    }
}
