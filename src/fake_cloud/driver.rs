//! The fake cloud as a docker-machine driver: it executes the core's driver calls with
//! latencies and outcomes from the runner's profile, keeps the local machine store (the
//! directories `docker-machine ls` lists) and the cloud's VMs, makes and rate-limits the cloud
//! API calls behind each command, applies fault windows, and bills the VMs.
//!
//! # `create` (cloud-faults §1.1, §1.4, §4)
//! The stages of the profile run in order: `api_call` → `boot` → `ssh_wait` → `provision` →
//! `docker_install` → `certs`.
//! * At the start: the store directory is written (libmachine step 3; later with a
//!   `listing_lag` fault, spec §3.5) and the pre-create API calls are made (`[api_calls]
//!   create`); a call that finally fails ends the create with `Error with pre-create check`.
//! * At the end of `api_call`: the create operation (`RunInstances`, …). It can be throttled
//!   (the driver's reaction, [`super::api`]), fail with an `api_error` fault, with the
//!   account quota (instances or vCPUs, counting every VM of the same profile that exists),
//!   during a stockout episode of the runner's capacity pool (profile `[capacity]`,
//!   [`super::stockouts`]) or with a `capacity` fault. Such failures leave **no VM**.
//!   Otherwise the VM exists and is billed from here. A `create_hang` fault here makes the call never complete (no
//!   completion: [`FakeCloud::start_call`] returns `None`).
//! * `boot` (the rest of the driver's `Create`, step 4): boot polls (`[api_calls] boot_poll`).
//!   A failure here — a throttled poll, a `provisioning` fault with `stage = "boot"`, or the
//!   profile's base failure at the running wait — happens **before the cloud ID is saved**
//!   (step 5): a self-cleaning driver deletes the VM (unless the clean-up fails, with the
//!   profile's probability); otherwise the VM stays and `rm` finds it only if the driver looks
//!   VMs up by name (`[orphans]`, §1.4).
//! * After `boot`: IDs saved; `after_boot` API calls spread over the rest; then `ssh_wait`, `provision`,
//!   `docker_install`, `certs`, each failing with its §8 message if the profile's base failure
//!   picks it or a `provisioning` fault for that stage is active **when the stage starts**.
//!   The VM stays for the runner's `rm` (spec Q14).
//!
//! # Other commands
//! * `stop` makes its API calls; it fails only when one is finally throttled (the runner only
//!   logs it). The VM keeps billing until `rm`.
//! * `rm -y` / `rm -f` make the driver `Remove`'s API calls. A `removal_outage` fault, a
//!   finally throttled call or an `api_error` makes the cloud refuse: `rm -y` fails; `rm -f`
//!   exits 0, drops the directory and **leaves the VM billing** (quirk Q21, §1.3). When the
//!   cloud accepts, the VM is deleted (bill closed) unless `rm` cannot find it (ID never
//!   saved, `remove_by = "id"`): then only the directory goes and the VM is an orphan.
//! * `stop` / `rm` of a machine whose VM the driver cannot find (a create that failed before
//!   the VM existed, or before its ID was saved on an ID-based driver; a lost VM) end after
//!   one quick lookup (the `config` median) with no counted API call: `rm` succeeds, `stop`
//!   is answered as done (§1.4).
//! * `config` (CanConnect) / `url` (credentials): their API calls, then success iff the VM
//!   exists, is ready and has not been lost; `inspect` (Exists): iff the directory exists.
//!
//! # Losses (`vanish`, `spot_interruption`, profile `[spot]`)
//! When a VM becomes ready, its loss time is drawn (exponential with the active hazards;
//! spot VMs also the profile's hazard and maximum lifetime). The VM is gone `notice` after the
//! interruption (billing ends then). The world learns about losses through
//! [`FakeCloud::vanished`] and should wake the cloud at [`FakeCloud::next_wakeup`].
//!
//! # Randomness
//! The base model draws from the `cloud` stream exactly as before fault injection (stage
//! durations, the base failure, command latencies). Everything added by faults, rate-limit
//! retries and losses draws from a second stream of the same generator ([`FakeCloud::new`]),
//! so adding a fault does not move the base model's draws. Stockout episodes draw from one
//! generator per capacity pool ([`super::stockouts`]), touching neither stream.

use std::collections::{BTreeMap, BTreeSet};

use crate::cloud::{
    CallId, CallKind, Completion, DriverCall, DriverError, DriverErrorKind, DriverState,
    ProvisioningStage, StoreListing,
};
use crate::random::SimRng;
use crate::random::dist::{exponential, unit_f64};
use crate::time::{SimDuration, SimTime};

use super::account::{RemoveBy, TemplateValues, render};
use super::api::{Limit, Limiter, call_with_reaction};
use super::billing::BillingMode;
use super::faults::{FaultKind, FaultSpec, FaultStage, operation_matches};
use super::options::{MachineSpec, machine_spec_from_options};
use super::profile::{PriceQuote, Profile};
use super::stockouts::{PoolKey, Stockout, Stockouts};

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

/// Why a VM is billed while docker-machine no longer tracks it (cloud-faults §1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrphanCause {
    /// `rm -f` exited 0 although the cloud refused the delete (quirk Q21): the removal
    /// give-up path, or a forced removal during an outage.
    ForceRemoveFailed,
    /// The driver's `Create` failed after the VM existed, its own clean-up failed too, and
    /// `rm` found no saved instance ID (§1.4, amazonec2/digitalocean).
    CleanupFailed,
    /// The driver's `Create` failed after the VM existed, the driver does no clean-up, and
    /// `rm` looks VMs up by the never-saved ID (§1.4, hetzner/openstack).
    NoSavedId,
    /// The create was killed at the runner's timeout before the ID was saved.
    CreateKilled,
}

impl OrphanCause {
    /// A short reason for reports and the `orphaned` event.
    pub fn describe(self) -> &'static str {
        match self {
            OrphanCause::ForceRemoveFailed => {
                "rm -f exited 0 but the cloud refused the delete (Q21)"
            }
            OrphanCause::CleanupFailed => {
                "create failed in the driver and its own clean-up failed; no instance ID saved"
            }
            OrphanCause::NoSavedId => {
                "create failed in the driver after the VM existed; rm found no instance ID"
            }
            OrphanCause::CreateKilled => {
                "create killed at the timeout before the instance ID was saved"
            }
        }
    }
}

/// A VM in the fake cloud.
#[derive(Clone, Debug, PartialEq)]
pub struct Vm {
    /// The runner whose create made it (or that it was pre-seeded for).
    pub runner: String,
    /// The cloud account (profile name) whose quota it counts against.
    pub account: String,
    /// When billing started.
    pub billed_from: SimTime,
    /// Whether creation finished successfully (reachable).
    pub ready: bool,
    /// vCPUs (for the vCPU quota).
    pub vcpus: u32,
    /// A spot / preemptible VM.
    pub spot: bool,
    /// The driver saved the cloud ID in `config.json` (its `Create` returned, step 5).
    pub id_saved: bool,
    /// Why it would be an orphan if `rm` cannot find it (set when a create fails before the
    /// ID was saved).
    pub unsaved_cause: Option<OrphanCause>,
    /// Orphaned: since when and why.
    pub orphaned: Option<(SimTime, OrphanCause)>,
}

/// A closed bill: a VM that was deleted or lost, or one still existing at the horizon.
#[derive(Clone, Debug, PartialEq)]
pub struct Bill {
    /// Machine name.
    pub name: String,
    /// Runner id.
    pub runner: String,
    /// Billing start.
    pub from: SimTime,
    /// Billing end (deletion, loss, or the horizon).
    pub to: SimTime,
    /// USD.
    pub usd: f64,
    /// The VM was orphaned (billed until the horizon), and why.
    pub orphaned: Option<OrphanCause>,
}

/// An orphaned VM (see [`FakeCloud::orphans`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Orphan {
    /// Machine name.
    pub name: String,
    /// Runner id.
    pub runner: String,
    /// When the directory went while the VM stayed.
    pub since: SimTime,
    /// Why.
    pub cause: OrphanCause,
}

/// Why a VM was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossCause {
    /// A `vanish` fault: the instance disappeared.
    Vanished,
    /// A spot / preemptible interruption (profile `[spot]` hazard or a `spot_interruption`
    /// fault).
    SpotInterruption,
    /// The profile's `[spot] max_lifetime` (GCE preemptible: 24 h).
    MaxLifetime,
}

/// A VM the cloud took away (see [`FakeCloud::vanished`]). From `at` it is unreachable and
/// no longer billed; a job running on it fails (cloud-faults §2.1 "Spot interruption", §6).
#[derive(Clone, Debug, PartialEq)]
pub struct LostMachine {
    /// Machine name.
    pub name: String,
    /// Runner id.
    pub runner: String,
    /// When the interruption notice was given (= `at` without notice).
    pub notice_at: SimTime,
    /// When the VM went.
    pub at: SimTime,
    /// Why.
    pub cause: LossCause,
}

/// A driver call that failed (see [`FakeCloud::failures`]): what the runner's command got
/// back, with the error's stage and cloud error code (issue 5 item 7).
#[derive(Clone, Debug, PartialEq)]
pub struct CallFailure {
    /// When the command ended (or was killed).
    pub at: SimTime,
    /// The runner id ("" when unknown).
    pub runner: String,
    /// Machine name.
    pub machine: String,
    /// The docker-machine command (`create`, `stop`, `rm -y`, `rm -f`, `config`, `url`,
    /// `inspect`; [`CallKind::command`]).
    pub command: &'static str,
    /// The error. For `rm -f` this is the cloud's refusal although the command exited 0
    /// (quirk Q21: the VM stays).
    pub error: DriverError,
}

/// A cloud API call the rate limiter throttled at least once (see
/// [`FakeCloud::throttled_calls`]): one entry per driver request, its SDK retries included.
#[derive(Clone, Debug, PartialEq)]
pub struct ThrottledCall {
    /// When the request was first sent.
    pub at: SimTime,
    /// The runner id.
    pub runner: String,
    /// The machine the command was for.
    pub machine: String,
    /// The API operation (`RunInstances`, `DescribeInstances`, …).
    pub operation: String,
    /// Attempts answered with the throttle error.
    pub throttled: u32,
    /// The driver gave up: the command failed with the throttle error.
    pub gave_up: bool,
}

#[derive(Clone, Debug)]
enum Effect {
    /// Nothing to apply (stop; commands without a runner cloud).
    None,
    /// The call fails with this error; no effect.
    Fail(DriverError),
    /// A create's outcome.
    Create {
        result: Result<(), DriverError>,
        /// When the driver's `Create` returned and the ID was saved (None: not reached).
        ids_saved_at: Option<SimTime>,
        /// The driver deletes the VM itself (failed create inside `Create`).
        cleanup: bool,
    },
    /// `rm -y` / `rm -f`: whether the cloud accepted the delete, and its refusal.
    Remove { refused: Option<DriverError> },
    /// `config` / `url`: evaluated when the call ends.
    Connect,
    /// `inspect`: evaluated when the call ends.
    Exists,
}

#[derive(Clone, Debug)]
struct Pending {
    call: DriverCall,
    runner: Option<String>,
    effect: Effect,
}

/// Where a call runs, for fault scopes (and the machine, for the throttle log).
struct Ctx<'a> {
    runner: &'a str,
    machine: &'a str,
    zone: &'a str,
    instance_type: &'a str,
}

impl Ctx<'_> {
    /// Whether a fault's runner, zone and instance-type scope covers this call.
    fn in_scope(&self, s: &super::faults::FaultScope) -> bool {
        s.runner.as_deref().is_none_or(|r| r == self.runner)
            && s.zone.as_deref().is_none_or(|z| z == self.zone)
            && s.instance_type
                .as_deref()
                .is_none_or(|ty| ty == self.instance_type)
    }
}

/// Stage failure messages of the profile's base failure (cloud-faults §1.1, §3, §8), with the
/// create stage index it fails at (1 = boot … 5 = certs).
const STAGE_FAILURES: [(ProvisioningStage, usize, &str); 5] = [
    (
        ProvisioningStage::DriverCreate,
        1,
        "Error creating machine: Error in driver during machine creation: instance did not reach the running state",
    ),
    (
        ProvisioningStage::Ssh,
        2,
        "Error creating machine: Error detecting OS: Too many retries waiting for SSH to be available.  Last error: Maximum number of retries (60) exceeded",
    ),
    (
        ProvisioningStage::Provision,
        4,
        "Error creating machine: Error running provisioning: Failed to obtain lock: Maximum number of retries (60) exceeded",
    ),
    (
        ProvisioningStage::Provision,
        4,
        "Error creating machine: Error running provisioning: error installing docker: ",
    ),
    (
        ProvisioningStage::TlsCheck,
        5,
        "Error creating machine: Error checking the host: Error checking and/or regenerating the certs: There was an error validating certificates for host \"10.0.0.1:2376\": dial tcp 10.0.0.1:2376: i/o timeout",
    ),
];

/// The message a `provisioning` fault gives a stage: its prefix (cloud-faults §1.1) and the
/// default cause (§3, §8), or the fault's `message` after the prefix.
fn stage_fault_message(stage: FaultStage, message: Option<&str>) -> String {
    let (prefix, default) = match stage {
        FaultStage::Boot => (
            "Error creating machine: Error in driver during machine creation: ",
            "instance did not reach the running state",
        ),
        FaultStage::Ssh => (
            "Error creating machine: Error detecting OS: ",
            "Too many retries waiting for SSH to be available.  Last error: Maximum number of retries (60) exceeded",
        ),
        FaultStage::Provision => (
            "Error creating machine: Error running provisioning: ",
            "Failed to obtain lock: Maximum number of retries (60) exceeded",
        ),
        FaultStage::DockerInstall => (
            "Error creating machine: Error running provisioning: error installing docker: ",
            "",
        ),
        FaultStage::Certs => (
            "Error creating machine: Error checking the host: ",
            "Error checking and/or regenerating the certs: There was an error validating certificates for host \"10.0.0.1:2376\": dial tcp 10.0.0.1:2376: i/o timeout",
        ),
    };
    format!("{prefix}{}", message.unwrap_or(default))
}

const DRIVER_PREFIX: &str = "Error creating machine: Error in driver during machine creation: ";

/// The fake cloud. See the module docs.
#[derive(Debug)]
pub struct FakeCloud {
    runners: BTreeMap<String, RunnerCloud>,
    store: BTreeSet<String>,
    /// Directories that appear later (listing lag), by name.
    store_later: BTreeMap<String, SimTime>,
    vms: BTreeMap<String, Vm>,
    pending: BTreeMap<CallId, Pending>,
    rng: SimRng,
    /// Draws added by fault injection (second stream of the same generator).
    frng: SimRng,
    faults: Vec<FaultSpec>,
    limiters: BTreeMap<String, Limiter>,
    losses: BTreeMap<(SimTime, String), LostMachine>,
    lost: Vec<LostMachine>,
    clock: SimTime,
    bills: Vec<Bill>,
    /// Calls made, by docker-machine command.
    pub api_calls: BTreeMap<String, u64>,
    operations: BTreeMap<String, u64>,
    throttled: BTreeMap<String, u64>,
    creates_ok: u64,
    failures: Vec<CallFailure>,
    throttle_log: Vec<ThrottledCall>,
    /// Hung creates (no completion), by call: runner and machine, until killed.
    hung: BTreeMap<CallId, (String, String)>,
    /// The local CA/client certificates of the machine store (`first_use_race`).
    certs: CertStore,
    /// The profiles' own stockout episodes, per capacity pool.
    stockouts: Stockouts,
}

/// The machine store's certificates (cloud-faults §1.1 step 1, §1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CertStore {
    /// Present and valid (the default: an established installation).
    Established,
    /// Not created yet: the first create bootstraps them (`first_use_race`).
    Fresh,
    /// The first create is writing them until `until`; creates starting before race.
    Bootstrapping { until: SimTime },
    /// A racer overwrote the CA: every TLS check fails from `since` on.
    Mismatched { since: SimTime },
}

/// How long the first create's certificate bootstrap takes when a `first_use_race` fault
/// gives no `delay` (an RSA key pair and CA written locally: about a second or two `[est]`).
const CERT_BOOTSTRAP: SimDuration = SimDuration(2_000);

/// docker-machine's refusal of a machine name that is not a host name (spec §0 M16).
const INVALID_HOST_NAME: &str =
    "Invalid hostname specified. Allowed hostname chars are: 0-9a-zA-Z . -";

/// Whether docker-machine accepts `name` as a machine (host) name: letters, digits, `.` and
/// `-`, starting with a letter or digit (spec §0 M16: the `%!(EXTRA …)` names are refused).
fn valid_host_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// The TLS error after a CA overwrite (cloud-faults §1.5, §8).
const UNKNOWN_AUTHORITY: &str = "Error checking and/or regenerating the certs: There was an error validating certificates for host \"10.0.0.1:2376\": x509: certificate signed by unknown authority";

/// Result of a run of API calls: the time spent in retries, or that plus the error (kind,
/// message, cloud error code).
type ApiResult = Result<SimDuration, (SimDuration, DriverErrorKind, String, Option<String>)>;

impl FakeCloud {
    /// A fake cloud for the given runners (by runner id), drawing from `rng` (the `cloud`
    /// stream); fault-related draws use stream 1 of the same generator and seed.
    pub fn new(runners: BTreeMap<String, RunnerCloud>, rng: SimRng) -> Self {
        let stockouts = Stockouts::new(&runners, &rng);
        let mut frng = rng.clone();
        frng.set_stream(1);
        frng.set_word_pos(0);
        let mut limiters = BTreeMap::new();
        for rc in runners.values() {
            if let Some(rl) = &rc.profile.rate_limits {
                limiters
                    .entry(rc.profile.name.clone())
                    .or_insert_with(|| Limiter::new(&rl.limits));
            }
        }
        FakeCloud {
            runners,
            store: BTreeSet::new(),
            store_later: BTreeMap::new(),
            vms: BTreeMap::new(),
            pending: BTreeMap::new(),
            rng,
            frng,
            faults: Vec::new(),
            limiters,
            losses: BTreeMap::new(),
            lost: Vec::new(),
            clock: SimTime::ZERO,
            bills: Vec::new(),
            api_calls: BTreeMap::new(),
            operations: BTreeMap::new(),
            throttled: BTreeMap::new(),
            creates_ok: 0,
            certs: CertStore::Established,
            failures: Vec::new(),
            throttle_log: Vec::new(),
            hung: BTreeMap::new(),
            stockouts,
        }
    }

    /// The same cloud with the scenario's fault windows (validated by the caller,
    /// [`FaultSpec::validate`]). Call before seeding machines with [`FakeCloud::add_existing`].
    pub fn with_faults(mut self, faults: Vec<FaultSpec>) -> Self {
        if faults.iter().any(|f| f.kind == FaultKind::FirstUseRace) {
            self.certs = CertStore::Fresh;
        }
        self.faults = faults;
        self
    }

    /// The fault windows.
    pub fn faults(&self) -> &[FaultSpec] {
        &self.faults
    }

    /// The runner's cloud view.
    pub fn runner(&self, id: &str) -> Option<&RunnerCloud> {
        self.runners.get(id)
    }

    fn runner_or_first(&self, runner: Option<&str>) -> Option<&RunnerCloud> {
        runner
            .and_then(|r| self.runners.get(r))
            .or_else(|| self.runners.values().next())
    }

    /// Seeds a machine that exists before the simulation starts (directory and ready VM;
    /// billed from the start of the simulated span).
    ///
    /// A store with machines is not fresh: a `first_use_race` fault has no effect then.
    pub fn add_existing(&mut self, name: &str, runner: &str) {
        self.certs = CertStore::Established;
        self.store.insert(name.to_string());
        let (account, vcpus, spot) = match self.runner_or_first(Some(runner)) {
            Some(rc) => (
                rc.profile.name.clone(),
                rc.profile.billing.vcpus(&rc.spec.instance_type),
                rc.spec.spot,
            ),
            None => (String::new(), 0, false),
        };
        self.vms.insert(
            name.to_string(),
            Vm {
                runner: runner.to_string(),
                account,
                billed_from: SimTime::ZERO,
                ready: true,
                vcpus,
                spot,
                id_saved: true,
                unsaved_cause: None,
                orphaned: None,
            },
        );
        self.schedule_loss(name, SimTime::ZERO);
    }

    /// The machine store listing, sorted by name (spec §2.5), as of the last instant the
    /// cloud was told ([`FakeCloud::advance`], or any call start/end).
    pub fn listing(&self) -> StoreListing {
        StoreListing::sorted(self.store.iter().cloned().collect())
    }

    /// The VMs that exist now (orphans included; lost VMs are gone).
    pub fn vms(&self) -> &BTreeMap<String, Vm> {
        &self.vms
    }

    /// Whether the machine's directory is in the store.
    pub fn in_store(&self, name: &str) -> bool {
        self.store.contains(name)
    }

    /// API calls made (every attempt, throttled ones included), by API operation.
    pub fn api_calls_by_operation(&self) -> &BTreeMap<String, u64> {
        &self.operations
    }

    /// Throttled API call attempts, by API operation.
    pub fn throttled_by_operation(&self) -> &BTreeMap<String, u64> {
        &self.throttled
    }

    /// All API calls made.
    pub fn api_calls_total(&self) -> u64 {
        self.operations.values().sum()
    }

    /// All throttled attempts.
    pub fn throttled_total(&self) -> u64 {
        self.throttled.values().sum()
    }

    /// Driver calls that failed, in completion order (creates, stops, removals, connectivity
    /// checks; killed calls with [`DriverErrorKind::Timeout`]; `rm -f` refusals, see
    /// [`CallFailure::error`]).
    pub fn failures(&self) -> &[CallFailure] {
        &self.failures
    }

    /// API requests throttled at least once, in the order the fake planned them (not sorted
    /// by time: a command's calls are planned when it starts).
    pub fn throttled_calls(&self) -> &[ThrottledCall] {
        &self.throttle_log
    }

    /// Creates that completed successfully.
    pub fn successful_creates(&self) -> u64 {
        self.creates_ok
    }

    /// API calls per successful create (all calls, including those of failed creates, stops,
    /// removals and connectivity checks, over successful creates; issue 5 §7); `None` before
    /// the first success.
    pub fn api_calls_per_successful_create(&self) -> Option<f64> {
        (self.creates_ok > 0).then(|| self.api_calls_total() as f64 / self.creates_ok as f64)
    }

    /// The profiles' stockout episodes that start at or before `t`, by start (every episode
    /// intersecting a run that ends at `t`; one still going on at `t` has `end > t`). Creates
    /// of a pool fail with its profile's capacity error during its episodes (module docs).
    pub fn stockouts_until(&mut self, t: SimTime) -> Vec<Stockout> {
        self.stockouts.until(t)
    }

    /// The VMs orphaned now, by name: billed, no directory, docker-machine cannot remove them
    /// (cloud-faults §1.4).
    pub fn orphans(&self) -> Vec<Orphan> {
        self.vms
            .iter()
            .filter_map(|(name, vm)| {
                vm.orphaned.map(|(since, cause)| Orphan {
                    name: name.clone(),
                    runner: vm.runner.clone(),
                    since,
                    cause,
                })
            })
            .collect()
    }

    /// Moves the cloud's clock to `now`: delayed directories appear, due losses happen.
    /// Every other method taking `now` does this first.
    pub fn advance(&mut self, now: SimTime) {
        self.clock = self.clock.max(now);
        let due: Vec<String> = self
            .store_later
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for n in due {
            self.store_later.remove(&n);
            self.store.insert(n);
        }
        while let Some(entry) = self.losses.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let loss = entry.remove();
            let Some(vm) = self.vms.get(&loss.name) else {
                continue;
            };
            if !vm.ready || vm.orphaned.is_some() {
                continue;
            }
            self.delete_vm(&loss.name, loss.at);
            self.lost.push(loss);
        }
    }

    /// The machines lost since the last call, up to `now` (in loss order). The world fails a
    /// job running on one (system failure) and lets the runner find it unreachable.
    pub fn vanished(&mut self, now: SimTime) -> Vec<LostMachine> {
        self.advance(now);
        std::mem::take(&mut self.lost)
    }

    /// The next instant something happens without a call: a delayed directory appears or a VM
    /// is lost. The world should call [`FakeCloud::vanished`] (or `advance`) then.
    pub fn next_wakeup(&self) -> Option<SimTime> {
        let dirs = self.store_later.values().min().copied();
        let loss = self.losses.keys().next().map(|(t, _)| *t);
        dirs.into_iter().chain(loss).min()
    }

    fn ctx_of<'a>(rc: &'a RunnerCloud, runner: &'a str, machine: &'a str) -> Ctx<'a> {
        Ctx {
            runner,
            machine,
            zone: rc.spec.zone.as_deref().unwrap_or(""),
            instance_type: &rc.spec.instance_type,
        }
    }

    /// The first fault of `kind` active at `t` whose scope matches (and, for `op`, whose
    /// `scope.operation` matches one of `ops`), drawing its probability.
    fn hit(
        faults: &[FaultSpec],
        frng: &mut SimRng,
        kind: FaultKind,
        t: SimTime,
        ctx: &Ctx<'_>,
        ops: &[&str],
        filter: &dyn Fn(&FaultSpec) -> bool,
    ) -> Option<FaultSpec> {
        for f in faults {
            if f.kind != kind || !f.active_at(t) || !filter(f) {
                continue;
            }
            if !ctx.in_scope(&f.scope) {
                continue;
            }
            if let Some(op) = &f.scope.operation
                && !ops.is_empty()
                && !ops.iter().any(|o| operation_matches(op, o))
            {
                continue;
            }
            let p = f.probability();
            let fires = if p >= 1.0 {
                true
            } else if p <= 0.0 {
                false
            } else {
                unit_f64(frng) < p
            };
            if fires {
                return Some(f.clone());
            }
        }
        None
    }

    /// Makes the API calls `ops` (operation, count) of one step at `t` for runner cloud `rc`,
    /// in order, each after the previous one's retries: counts them, applies `api_error`
    /// faults and the rate limits with the driver's reaction.
    fn api_run(
        &mut self,
        t: SimTime,
        rc: &RunnerCloud,
        ctx: &Ctx<'_>,
        ops: &[(String, u32)],
    ) -> ApiResult {
        let mut delay = SimDuration::ZERO;
        let timeout = SimDuration::from_mins(60);
        for (op, n) in ops {
            for _ in 0..*n {
                let at = t + delay;
                *self.operations.entry(op.clone()).or_default() += 1;
                if let Some(f) = Self::hit(
                    &self.faults,
                    &mut self.frng,
                    FaultKind::ApiError,
                    at,
                    ctx,
                    &[op.as_str()],
                    &|_| true,
                ) {
                    let code = f.code.clone().unwrap_or_default();
                    let msg = f
                        .message
                        .clone()
                        .unwrap_or_else(|| "the cloud API returned an error".into());
                    return Err((
                        delay,
                        DriverErrorKind::Other,
                        format!("{code}: {msg}"),
                        f.code.clone(),
                    ));
                }
                let Some(rl) = &rc.profile.rate_limits else {
                    continue;
                };
                let Some(limiter) = self.limiters.get_mut(&rc.profile.name) else {
                    continue;
                };
                let faults = &self.faults;
                let factor = |l: &Limit| -> f64 {
                    faults
                        .iter()
                        .filter(|f| f.kind == FaultKind::RateLimit && f.active_at(at))
                        .filter(|f| {
                            f.scope.operation.as_deref().is_none_or(|o| {
                                o == l.name
                                    || l.operations.iter().any(|p| p == o)
                                    || operation_matches(o, op)
                            })
                        })
                        .map(|f| f.factor.unwrap_or(1.0))
                        .product()
                };
                let out = call_with_reaction(
                    limiter,
                    &rl.reaction,
                    at,
                    op,
                    &factor,
                    &mut self.frng,
                    timeout,
                );
                // The first attempt was counted above.
                *self.operations.entry(op.clone()).or_default() += u64::from(out.attempts - 1);
                if out.throttled > 0 {
                    *self.throttled.entry(op.clone()).or_default() += u64::from(out.throttled);
                    self.throttle_log.push(ThrottledCall {
                        at,
                        runner: ctx.runner.to_string(),
                        machine: ctx.machine.to_string(),
                        operation: op.clone(),
                        throttled: out.throttled,
                        gave_up: !out.ok,
                    });
                }
                delay = SimDuration(delay.0 + out.delay.0);
                if !out.ok {
                    return Err((
                        delay,
                        DriverErrorKind::RateLimited,
                        rl.throttle_error.clone(),
                        rl.throttle_code.clone(),
                    ));
                }
            }
        }
        Ok(delay)
    }

    /// A command-level `api_error` fault (`scope.operation` = the docker-machine command).
    fn command_error(&mut self, t: SimTime, ctx: &Ctx<'_>, command: &str) -> Option<DriverError> {
        let f = Self::hit(
            &self.faults,
            &mut self.frng,
            FaultKind::ApiError,
            t,
            ctx,
            &[command],
            &|f| f.scope.operation.is_some(),
        )?;
        let code = f.code.clone().unwrap_or_default();
        let msg = f
            .message
            .unwrap_or_else(|| "the cloud API returned an error".into());
        Some(DriverError::new(DriverErrorKind::Other, format!("{code}: {msg}")).with_code(f.code))
    }

    /// Starts a driver call at `now` for `runner` (the machine's runner, when known) and
    /// returns when its completion arrives, or `None` when it never does (a hung create:
    /// the runner's timeout kills it, spec §3.12).
    pub fn start_call(
        &mut self,
        now: SimTime,
        call: &DriverCall,
        runner: Option<&str>,
    ) -> Option<SimTime> {
        self.advance(now);
        *self
            .api_calls
            .entry(call.kind.command().to_string())
            .or_default() += 1;
        let Some(rc) = self.runner_or_first(runner).cloned() else {
            // No autoscaled runner at all: answer at once.
            let effect = match call.kind {
                CallKind::CanConnect | CallKind::Credentials => Effect::Connect,
                CallKind::Exists => Effect::Exists,
                _ => Effect::None,
            };
            self.pending.insert(
                call.id,
                Pending {
                    call: call.clone(),
                    runner: runner.map(str::to_string),
                    effect,
                },
            );
            return Some(now);
        };
        let runner_id = runner.unwrap_or_default().to_string();
        let (done, effect) = match &call.kind {
            CallKind::Create { .. } => {
                let Some(planned) = self.plan_create(now, call, &runner_id, &rc) else {
                    self.hung
                        .insert(call.id, (runner_id.clone(), call.machine.clone()));
                    return None;
                };
                planned
            }
            kind => self.plan_command(now, call, &runner_id, &rc, kind),
        };
        self.pending.insert(
            call.id,
            Pending {
                call: call.clone(),
                runner: runner.map(str::to_string),
                effect,
            },
        );
        Some(done)
    }

    fn table(m: &BTreeMap<String, u32>) -> Vec<(String, u32)> {
        m.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    fn plan_command(
        &mut self,
        now: SimTime,
        call: &DriverCall,
        runner_id: &str,
        rc: &RunnerCloud,
        kind: &CallKind,
    ) -> (SimTime, Effect) {
        let calls = &rc.profile.calls;
        let latency = match kind {
            CallKind::Stop => calls.stop.sample(&mut self.rng),
            CallKind::Remove => calls.rm.sample(&mut self.rng),
            CallKind::ForceRemove => calls.rm_force.sample(&mut self.rng),
            CallKind::CanConnect | CallKind::Exists => calls.config.sample(&mut self.rng),
            _ => calls.credentials.sample(&mut self.rng),
        };
        if matches!(kind, CallKind::Exists) {
            // `inspect` reads the local store only (cloud-faults §1.3).
            return (now + latency, Effect::Exists);
        }
        if matches!(
            kind,
            CallKind::Stop | CallKind::Remove | CallKind::ForceRemove
        ) && !self.driver_finds_vm(&call.machine, rc)
        {
            // No VM the driver can find (the create failed before the VM existed, or before
            // its ID was saved on an ID-based driver, or the VM is gone): `stop`/`rm` end after
            // one quick lookup instead of the profile's stop/rm time, which is for a VM that
            // is there (cloud-faults §1.4: amazonec2 returns at once with "Missing instance
            // ID, …", google says "Remote instance does not exist, proceeding with removing
            // local reference"). The lookup takes the `config` median [est]; the sampled
            // latency is discarded so the base stream's draws stay aligned. `stop` is
            // answered as done: the runner only logs a stop failure (spec §3.9).
            let done = now + calls.config.median();
            let effect = match kind {
                CallKind::Stop => Effect::None,
                _ => Effect::Remove { refused: None },
            };
            return (done, effect);
        }
        let ctx = Self::ctx_of(rc, runner_id, &call.machine);
        let empty = BTreeMap::new();
        let a = rc.profile.api_calls.as_ref();
        let ops = Self::table(match kind {
            CallKind::Stop => a.map_or(&empty, |a| &a.stop),
            CallKind::Remove | CallKind::ForceRemove => a.map_or(&empty, |a| &a.rm),
            CallKind::CanConnect => a.map_or(&empty, |a| &a.config),
            _ => a.map_or(&empty, |a| &a.credentials),
        });
        let command = kind.command();
        let removing = matches!(kind, CallKind::Remove | CallKind::ForceRemove);
        let wrap = |m: String| {
            if removing {
                format!("Error removing host \"{}\": {m}", call.machine)
            } else {
                m
            }
        };
        let refusal = if let Some(e) = self.command_error(now, &ctx, command) {
            Err((
                SimDuration::ZERO,
                DriverError::new(e.kind, wrap(e.message)).with_code(e.code),
            ))
        } else {
            match self.api_run(now, rc, &ctx, &ops) {
                Ok(d) => Ok(d),
                Err((d, k, m, code)) => Err((d, DriverError::new(k, wrap(m)).with_code(code))),
            }
        };
        let (delay, refusal) = match refusal {
            Ok(d) => (d, None),
            Err((d, e)) => (d, Some(e)),
        };
        let done = now + SimDuration(latency.0 + delay.0);
        let effect = match kind {
            CallKind::Remove | CallKind::ForceRemove => {
                let refused = refusal.or_else(|| {
                    let f = Self::hit(
                        &self.faults,
                        &mut self.frng,
                        FaultKind::RemovalOutage,
                        now,
                        &ctx,
                        &[command],
                        &|_| true,
                    )?;
                    let msg = f
                        .message
                        .or_else(|| rc.profile.orphans.remove_error.clone())
                        .unwrap_or_else(|| "the cloud refused to delete the instance".into());
                    Some(
                        DriverError::new(
                            DriverErrorKind::Other,
                            format!("Error removing host \"{}\": {msg}", call.machine),
                        )
                        .with_code(rc.profile.orphans.remove_code.clone()),
                    )
                });
                Effect::Remove { refused }
            }
            _ => match refusal {
                Some(e) => Effect::Fail(e),
                None if matches!(kind, CallKind::Stop) => Effect::None,
                None => Effect::Connect,
            },
        };
        (done, effect)
    }

    /// Whether the driver's `Stop`/`Remove` for `name` reaches a VM: one exists, is not
    /// already an orphan, and the driver can look it up (by name, or by its saved ID).
    fn driver_finds_vm(&self, name: &str, rc: &RunnerCloud) -> bool {
        self.vms.get(name).is_some_and(|vm| {
            vm.orphaned.is_none()
                && (vm.id_saved
                    || self
                        .runners
                        .get(&vm.runner)
                        .map_or(rc.profile.orphans.remove_by, |r| {
                            r.profile.orphans.remove_by
                        })
                        == RemoveBy::Name)
        })
    }

    /// Plans a create (module docs); `None` = it hangs.
    fn plan_create(
        &mut self,
        now: SimTime,
        call: &DriverCall,
        runner_id: &str,
        rc: &RunnerCloud,
    ) -> Option<(SimTime, Effect)> {
        // Base model draws, in the order of the model before fault injection.
        let stages = rc.profile.create.in_order();
        let d: Vec<SimDuration> = stages
            .iter()
            .map(|(_, dist)| dist.sample(&mut self.rng))
            .collect();
        let fails = unit_f64(&mut self.rng) < rc.profile.provisioning_failure_probability;
        let base = if fails {
            let i = (unit_f64(&mut self.rng) * STAGE_FAILURES.len() as f64) as usize;
            Some(STAGE_FAILURES[i.min(STAGE_FAILURES.len() - 1)])
        } else {
            None
        };
        let ctx = Self::ctx_of(rc, runner_id, &call.machine);
        let name = call.machine.clone();
        // Refusals before anything is written (no directory, no VM): `docker-machine create`
        // rejects a name that is not a host name (the names a MachineName without `%s`
        // produces, `…%!(EXTRA string=…)`, spec §0 M16, Q22: they fail every time), and step 1,
        // the certificate bootstrap of a fresh store, can race (first_use_race).
        let refusal = if valid_host_name(&name) {
            self.certificate_bootstrap(now, &ctx)
        } else {
            Some(DriverError::new(DriverErrorKind::Other, INVALID_HOST_NAME))
        };
        if let Some(e) = refusal {
            return Some((
                now,
                Effect::Create {
                    result: Err(e),
                    ids_saved_at: None,
                    cleanup: false,
                },
            ));
        }
        // Step 3: the directory (late with a listing-lag fault).
        let lag = Self::hit(
            &self.faults,
            &mut self.frng,
            FaultKind::ListingLag,
            now,
            &ctx,
            &[],
            &|_| true,
        )
        .and_then(|f| f.delay);
        match lag {
            Some(delay) if delay > SimDuration::ZERO => {
                self.store_later.insert(name.clone(), now + delay);
            }
            _ => {
                self.store.insert(name.clone());
            }
        }
        let fail_no_vm = |at: SimTime, stage, kind, message: String, code: Option<String>| {
            (
                at,
                Effect::Create {
                    result: Err(DriverError::new(
                        if kind == DriverErrorKind::Other {
                            DriverErrorKind::Provisioning(stage)
                        } else {
                            kind
                        },
                        message,
                    )
                    .at_stage(stage)
                    .with_code(code)),
                    ids_saved_at: None,
                    cleanup: false,
                },
            )
        };
        let api = rc.profile.api_calls.clone().unwrap_or_default();
        let prefix = api.create_error_prefix.clone();
        // Pre-create checks and the other calls before the create operation.
        let mut t = now;
        match self.api_run(t, rc, &ctx, &Self::table(&api.create)) {
            Ok(delay) => t = t + delay,
            Err((delay, kind, msg, code)) => {
                return Some(self.clamp_lag(
                    &name,
                    fail_no_vm(
                        t + delay,
                        ProvisioningStage::PreCreateCheck,
                        kind,
                        format!("Error with pre-create check: \"{msg}\""),
                        code,
                    ),
                ));
            }
        }
        // The create operation at the end of the api_call stage.
        t = t + d[0];
        if let Some(e) = self.command_error(t, &ctx, "create") {
            return Some(self.clamp_lag(
                &name,
                fail_no_vm(
                    t,
                    ProvisioningStage::DriverCreate,
                    DriverErrorKind::Other,
                    format!("{DRIVER_PREFIX}{prefix}{}", e.message),
                    e.code,
                ),
            ));
        }
        if !api.create_operation.is_empty() {
            let op = vec![(api.create_operation.clone(), 1)];
            match self.api_run(t, rc, &ctx, &op) {
                Ok(delay) => t = t + delay,
                Err((delay, kind, msg, code)) => {
                    return Some(self.clamp_lag(
                        &name,
                        fail_no_vm(
                            t + delay,
                            ProvisioningStage::DriverCreate,
                            kind,
                            format!("{DRIVER_PREFIX}{prefix}{msg}"),
                            code,
                        ),
                    ));
                }
            }
        }
        if let Some((msg, code)) = self.quota_error(t, rc, &ctx) {
            return Some(self.clamp_lag(
                &name,
                fail_no_vm(
                    t,
                    ProvisioningStage::DriverCreate,
                    DriverErrorKind::Quota,
                    format!("{DRIVER_PREFIX}{prefix}{msg}"),
                    code,
                ),
            ));
        }
        // The pool's own stockout episode, else a `capacity` fault window: the same failure.
        let stockout = self.stockouts.active(&PoolKey::of(rc), t).is_some();
        if stockout
            || Self::hit(
                &self.faults,
                &mut self.frng,
                FaultKind::Capacity,
                t,
                &ctx,
                &[],
                &|_| true,
            )
            .is_some()
        {
            let extra = rc
                .profile
                .capacity
                .delay
                .as_ref()
                .map_or(SimDuration::ZERO, |dist| dist.sample(&mut self.frng));
            let msg = render(
                rc.profile.capacity.error_for(rc.spec.spot),
                &TemplateValues {
                    instance_type: ctx.instance_type,
                    zone: ctx.zone,
                    ..TemplateValues::default()
                },
            );
            return Some(self.clamp_lag(
                &name,
                fail_no_vm(
                    t + extra,
                    ProvisioningStage::DriverCreate,
                    DriverErrorKind::InsufficientCapacity,
                    format!("{DRIVER_PREFIX}{prefix}{msg}"),
                    rc.profile.capacity.code.clone(),
                ),
            ));
        }
        // The VM exists from here.
        self.vms.insert(
            name.clone(),
            Vm {
                runner: runner_id.to_string(),
                account: rc.profile.name.clone(),
                billed_from: t,
                ready: false,
                vcpus: rc.profile.billing.vcpus(&rc.spec.instance_type),
                spot: rc.spec.spot,
                id_saved: false,
                unsaved_cause: Some(OrphanCause::CreateKilled),
                orphaned: None,
            },
        );
        if Self::hit(
            &self.faults,
            &mut self.frng,
            FaultKind::CreateHang,
            t,
            &ctx,
            &[],
            &|_| true,
        )
        .is_some()
        {
            return None;
        }
        // Boot: polls, base failure at the running wait, boot faults.
        let boot_start = t;
        let mut boot_fail: Option<(SimTime, String, DriverErrorKind, Option<String>)> = None;
        if let Some(poll) = &api.boot_poll {
            let n = poll.polls(d[1]);
            let mut extra = SimDuration::ZERO;
            for k in 0..n {
                let at = boot_start + SimDuration(k * poll.interval.0.0 + extra.0);
                match self.api_run(at, rc, &ctx, &[(poll.operation.clone(), 1)]) {
                    Ok(delay) => extra = SimDuration(extra.0 + delay.0),
                    Err((delay, kind, msg, code)) => {
                        boot_fail = Some((at + delay, format!("{DRIVER_PREFIX}{msg}"), kind, code));
                        break;
                    }
                }
            }
            t = boot_start + SimDuration(d[1].0 + extra.0);
        } else {
            t = boot_start + d[1];
        }
        if boot_fail.is_none() {
            if let Some((stage, 1, msg)) = base {
                let _ = stage;
                boot_fail = Some((t, msg.to_string(), DriverErrorKind::Other, None));
            } else if let Some(f) = Self::hit(
                &self.faults,
                &mut self.frng,
                FaultKind::Provisioning,
                boot_start,
                &ctx,
                &[],
                &|f| f.stage == Some(FaultStage::Boot),
            ) {
                boot_fail = Some((
                    t,
                    stage_fault_message(FaultStage::Boot, f.message.as_deref()),
                    DriverErrorKind::Other,
                    None,
                ));
            }
        }
        if let Some((at, msg, kind, code)) = boot_fail {
            let o = &rc.profile.orphans;
            let cleanup = o.self_cleanup && {
                let p = o.self_cleanup_failure_probability;
                !(p > 0.0 && unit_f64(&mut self.frng) < p)
            };
            if let Some(vm) = self.vms.get_mut(&name) {
                vm.unsaved_cause = Some(if o.self_cleanup {
                    OrphanCause::CleanupFailed
                } else {
                    OrphanCause::NoSavedId
                });
            }
            let kind = if kind == DriverErrorKind::Other {
                DriverErrorKind::Provisioning(ProvisioningStage::DriverCreate)
            } else {
                kind
            };
            return Some(
                self.clamp_lag(
                    &name,
                    (
                        at,
                        Effect::Create {
                            result: Err(DriverError::new(kind, msg)
                                .at_stage(ProvisioningStage::DriverCreate)
                                .with_code(code)),
                            ids_saved_at: None,
                            cleanup,
                        },
                    ),
                ),
            );
        }
        // Step 5: IDs saved. libmachine's own state/IP reads.
        let ids_saved_at = t;
        // Spread evenly over the stages that follow (libmachine reads state and IP during the
        // SSH wait and provisioning).
        let after: Vec<String> = api
            .after_boot
            .iter()
            .flat_map(|(op, n)| std::iter::repeat_n(op.clone(), *n as usize))
            .collect();
        let span = d[2].0 + d[3].0 + d[4].0 + d[5].0;
        let mut extra = SimDuration::ZERO;
        for (k, op) in after.iter().enumerate() {
            let at = t + SimDuration(span * k as u64 / after.len() as u64 + extra.0);
            match self.api_run(at, rc, &ctx, &[(op.clone(), 1)]) {
                Ok(delay) => extra = SimDuration(extra.0 + delay.0),
                Err((delay, kind, msg, code)) => {
                    let kind = if kind == DriverErrorKind::Other {
                        DriverErrorKind::Provisioning(ProvisioningStage::WaitRunning)
                    } else {
                        kind
                    };
                    let message = format!(
                        "Error creating machine: Error waiting for machine to be running: {msg}"
                    );
                    return Some(
                        self.clamp_lag(
                            &name,
                            (
                                at + delay,
                                Effect::Create {
                                    result: Err(DriverError::new(kind, message)
                                        .at_stage(ProvisioningStage::WaitRunning)
                                        .with_code(code)),
                                    ids_saved_at: Some(ids_saved_at),
                                    cleanup: false,
                                },
                            ),
                        ),
                    );
                }
            }
        }
        t = t + extra;
        let later = [
            FaultStage::Ssh,
            FaultStage::Provision,
            FaultStage::DockerInstall,
            FaultStage::Certs,
        ];
        let mut result = Ok(());
        for (i, stage) in (2..=5).zip(later) {
            let start = t;
            t = t + d[i];
            if let Some((ps, at, msg)) = base
                && at == i
            {
                result = Err(DriverError::new(DriverErrorKind::Provisioning(ps), msg));
                break;
            }
            if let Some(f) = Self::hit(
                &self.faults,
                &mut self.frng,
                FaultKind::Provisioning,
                start,
                &ctx,
                &[],
                &|f| f.stage == Some(stage),
            ) {
                result = Err(DriverError::new(
                    DriverErrorKind::Provisioning(stage.pipeline_stage()),
                    stage_fault_message(stage, f.message.as_deref()),
                ));
                break;
            }
        }
        Some(self.clamp_lag(
            &name,
            (
                t,
                Effect::Create {
                    result,
                    ids_saved_at: Some(ids_saved_at),
                    cleanup: false,
                },
            ),
        ))
    }

    /// Step 1 of a create on a store whose certificates may be missing (`first_use_race`,
    /// cloud-faults §1.5): the first create (in the window or not) bootstraps them for the
    /// fault's `delay`; a create starting meanwhile inside the fault's window races: with the
    /// fault's probability it
    /// either overwrites the CA (probability `overwrite`; the create goes on, every TLS check
    /// fails from then on) or fails here with `Error generating certificates: …` (the two
    /// causes equally likely `[est]`). Draws from the fault stream only.
    fn certificate_bootstrap(&mut self, now: SimTime, ctx: &Ctx<'_>) -> Option<DriverError> {
        match self.certs {
            CertStore::Fresh => {
                // The first create bootstraps the certificates whether or not a window is
                // open now; the window decides only whether the creates racing it collide.
                let delay = self
                    .faults
                    .iter()
                    .find(|f| f.kind == FaultKind::FirstUseRace && ctx.in_scope(&f.scope))
                    .and_then(|f| f.delay)
                    .unwrap_or(CERT_BOOTSTRAP);
                self.certs = CertStore::Bootstrapping { until: now + delay };
                None
            }
            CertStore::Bootstrapping { until } if now < until => {
                let f = Self::hit(
                    &self.faults,
                    &mut self.frng,
                    FaultKind::FirstUseRace,
                    now,
                    ctx,
                    &[],
                    &|_| true,
                )?;
                let overwrite = f.overwrite.unwrap_or(0.0);
                if overwrite > 0.0 && unit_f64(&mut self.frng) < overwrite {
                    self.certs = CertStore::Mismatched { since: now };
                    return None;
                }
                let cause = if unit_f64(&mut self.frng) < 0.5 {
                    "certificate authority key already exists"
                } else {
                    "client key already exists"
                };
                Some(DriverError::new(
                    DriverErrorKind::Provisioning(ProvisioningStage::Certificates),
                    format!("Error creating machine: Error generating certificates: {cause}"),
                ))
            }
            CertStore::Bootstrapping { .. } => {
                self.certs = CertStore::Established;
                None
            }
            CertStore::Established | CertStore::Mismatched { .. } => None,
        }
    }

    /// Whether a CA overwrite (`first_use_race`) breaks TLS checks at `t`.
    fn ca_mismatched(&self, t: SimTime) -> bool {
        matches!(self.certs, CertStore::Mismatched { since } if t >= since)
    }

    /// A delayed directory appears no later than the create's completion.
    fn clamp_lag(&mut self, name: &str, planned: (SimTime, Effect)) -> (SimTime, Effect) {
        if let Some(t) = self.store_later.get_mut(name) {
            *t = (*t).min(planned.0);
        }
        planned
    }

    /// The quota error for one more VM of `rc` at `t`, if the account's quota (the profile's,
    /// lowered by active `quota` faults) is exhausted.
    fn quota_error(
        &mut self,
        t: SimTime,
        rc: &RunnerCloud,
        ctx: &Ctx<'_>,
    ) -> Option<(String, Option<String>)> {
        let q = &rc.profile.quotas;
        let mut inst = q.instances;
        let mut vcpu = q.vcpus;
        for f in &self.faults {
            if f.kind != FaultKind::Quota || !f.active_at(t) {
                continue;
            }
            if f.scope.runner.as_deref().is_some_and(|r| r != ctx.runner) {
                continue;
            }
            if let Some(i) = f.instances {
                inst = Some(inst.map_or(i, |x| x.min(i)));
            }
            if let Some(v) = f.vcpus {
                vcpu = Some(vcpu.map_or(v, |x| x.min(v)));
            }
        }
        if inst.is_none() && vcpu.is_none() {
            return None;
        }
        let account = &rc.profile.name;
        let (mut n, mut cpus) = (0u64, 0u64);
        for vm in self.vms.values().filter(|v| &v.account == account) {
            n += 1;
            cpus += u64::from(vm.vcpus);
        }
        let want = u64::from(rc.profile.billing.vcpus(&rc.spec.instance_type));
        let values = |limit: u64, usage: u64, requested: u64| TemplateValues {
            limit,
            usage,
            requested,
            instance_type: ctx.instance_type,
            zone: ctx.zone,
        };
        if let Some(l) = vcpu
            && cpus + want > u64::from(l)
        {
            return Some((
                render(&q.vcpus_error, &values(l.into(), cpus, want)),
                q.vcpus_code.clone(),
            ));
        }
        if let Some(l) = inst
            && n + 1 > u64::from(l)
        {
            return Some((
                render(&q.instances_error, &values(l.into(), n, 1)),
                q.instances_code.clone(),
            ));
        }
        None
    }

    /// Draws when a VM that became ready at `ready` will be lost (module docs).
    fn schedule_loss(&mut self, name: &str, ready: SimTime) {
        let Some(vm) = self.vms.get(name).cloned() else {
            return;
        };
        let Some(rc) = self.runners.get(&vm.runner).cloned() else {
            return;
        };
        let ctx = Self::ctx_of(&rc, &vm.runner, name);
        let hour_ms = 3_600_000.0;
        let mut best: Option<(SimTime, SimDuration, LossCause)> = None;
        let mut consider = |t: SimTime, notice: SimDuration, cause| {
            if best.is_none_or(|(b, n, _)| t + notice < b + n) {
                best = Some((t, notice, cause));
            }
        };
        let spot_notice = rc.profile.spot.notice.0;
        for f in &self.faults {
            let (cause, notice) = match f.kind {
                FaultKind::Vanish => (LossCause::Vanished, SimDuration::ZERO),
                FaultKind::SpotInterruption if vm.spot => {
                    (LossCause::SpotInterruption, f.notice.unwrap_or(spot_notice))
                }
                _ => continue,
            };
            if !ctx.in_scope(&f.scope) {
                continue;
            }
            let rate = f.rate_per_hour.unwrap_or(0.0);
            let start = ready.max(SimTime(f.from.0));
            if rate <= 0.0 || f.to.is_some_and(|to| start.0 >= to.0) {
                continue;
            }
            let t = start + SimDuration(exponential(&mut self.frng, hour_ms / rate) as u64);
            if f.to.is_none_or(|to| t.0 < to.0) {
                consider(t, notice, cause);
            }
        }
        if vm.spot {
            let h = rc.profile.spot.hazard_per_hour;
            if h > 0.0 {
                let t = ready + SimDuration(exponential(&mut self.frng, hour_ms / h) as u64);
                consider(t, spot_notice, LossCause::SpotInterruption);
            }
            if let Some(max) = rc.profile.spot.max_lifetime {
                let end = vm.billed_from + max.0;
                consider(
                    SimTime(end.0.saturating_sub(spot_notice.0)),
                    spot_notice,
                    LossCause::MaxLifetime,
                );
            }
        }
        if let Some((notice_at, notice, cause)) = best {
            let at = notice_at + notice;
            self.losses.insert(
                (at, name.to_string()),
                LostMachine {
                    name: name.to_string(),
                    runner: vm.runner.clone(),
                    notice_at,
                    at,
                    cause,
                },
            );
        }
    }

    /// The core gave up on a call (its timeout fired): the call's effects are dropped. A
    /// create's VM stays (the child process is killed, spec §3.12): with its ID saved if the
    /// driver's `Create` had returned by the cloud's clock, else `rm` may not find it
    /// ([`OrphanCause::CreateKilled`]).
    pub fn kill(&mut self, id: CallId) {
        if let Some((runner, machine)) = self.hung.remove(&id) {
            // The create operation itself hung (cloud-faults §7 `create_hang`): step 4.
            self.failures.push(CallFailure {
                at: self.clock,
                runner,
                machine,
                command: "create",
                error: DriverError::timed_out().at_stage(ProvisioningStage::DriverCreate),
            });
            return;
        }
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        self.failures.push(CallFailure {
            at: self.clock,
            runner: p.runner.clone().unwrap_or_default(),
            machine: p.call.machine.clone(),
            command: p.call.kind.command(),
            error: DriverError::timed_out(),
        });
        if let Effect::Create { ids_saved_at, .. } = p.effect
            && let Some(vm) = self.vms.get_mut(&p.call.machine)
        {
            match ids_saved_at {
                Some(t) if t <= self.clock => vm.id_saved = true,
                _ => vm.unsaved_cause = Some(OrphanCause::CreateKilled),
            }
        }
    }

    /// The runner process exited: `stop`/`rm -y`/`rm -f` children die with it and their
    /// effects never happen (spec §4.2, Q21). Creates keep running (the runner does not kill
    /// its `docker-machine create` children, §4.2).
    pub fn cut_off_removals(&mut self) {
        self.pending
            .retain(|_, p| matches!(p.call.kind, CallKind::Create { .. }));
    }

    /// Completes call `id` at `now`, applying its effects; `None` if it was killed.
    /// Failed calls are logged ([`FakeCloud::failures`]).
    pub fn finish_call(&mut self, now: SimTime, id: CallId) -> Option<Completion> {
        let (runner, machine, command) = self.pending.get(&id).map(|p| {
            (
                p.runner.clone().unwrap_or_default(),
                p.call.machine.clone(),
                p.call.kind.command(),
            )
        })?;
        let c = self.complete(now, id)?;
        if let Err(error) = &c.result {
            self.failures.push(CallFailure {
                at: now,
                runner,
                machine,
                command,
                error: error.clone(),
            });
        }
        Some(c)
    }

    fn complete(&mut self, now: SimTime, id: CallId) -> Option<Completion> {
        self.advance(now);
        let p = self.pending.remove(&id)?;
        let name = p.call.machine.clone();
        let result = match (&p.call.kind, p.effect) {
            (CallKind::Create { driver, .. }, effect) => {
                let mut state = DriverState {
                    driver: driver.clone(),
                    ..DriverState::default()
                };
                if let Some(rc) = p.runner.as_deref().and_then(|r| self.runners.get(r)) {
                    state.zone = rc.spec.zone.clone().unwrap_or_default();
                    state.machine_type = rc.spec.instance_type.clone();
                }
                // A directory delayed past the end appears now at the latest.
                if self.store_later.remove(&name).is_some() {
                    self.store.insert(name.clone());
                }
                let result = match effect {
                    Effect::Create {
                        mut result,
                        ids_saved_at,
                        cleanup,
                    } => {
                        // The TLS check (step 9) runs at the end: a CA overwritten since the
                        // create started fails it (first_use_race).
                        if result.is_ok() && self.ca_mismatched(now) {
                            result = Err(DriverError::new(
                                DriverErrorKind::Provisioning(ProvisioningStage::TlsCheck),
                                format!(
                                    "Error creating machine: Error checking the host: {UNKNOWN_AUTHORITY}"
                                ),
                            ));
                        }
                        if result.is_ok() {
                            self.creates_ok += 1;
                            if let Some(vm) = self.vms.get_mut(&name) {
                                vm.ready = true;
                                vm.id_saved = true;
                                vm.unsaved_cause = None;
                            }
                            self.schedule_loss(&name, now);
                        } else if cleanup {
                            self.delete_vm(&name, now);
                        } else if ids_saved_at.is_some()
                            && let Some(vm) = self.vms.get_mut(&name)
                        {
                            vm.id_saved = true;
                            vm.unsaved_cause = None;
                        }
                        result
                    }
                    _ => Ok(()),
                };
                return Some(Completion {
                    id,
                    result,
                    state: Some(state),
                });
            }
            (_, Effect::Fail(e)) => Err(e),
            (CallKind::Remove | CallKind::ForceRemove, Effect::Remove { refused }) => {
                let force = p.call.kind == CallKind::ForceRemove;
                self.remove(&name, now, refused, force)
            }
            (CallKind::CanConnect | CallKind::Credentials, _) => match self.vms.get(&name) {
                Some(vm) if vm.ready && vm.orphaned.is_none() && self.ca_mismatched(now) => {
                    Err(DriverError::new(
                        DriverErrorKind::Other,
                        format!("Error running connection boilerplate: {UNKNOWN_AUTHORITY}"),
                    ))
                }
                Some(vm) if vm.ready && vm.orphaned.is_none() => Ok(()),
                _ => Err(DriverError::new(
                    DriverErrorKind::Other,
                    "Error running connection boilerplate: Error checking and/or regenerating the certs: Host is not running",
                )),
            },
            (CallKind::Exists, _) => {
                if self.store.contains(&name) {
                    Ok(())
                } else {
                    Err(DriverError::new(
                        DriverErrorKind::NotFound,
                        format!("Host does not exist: \"{name}\""),
                    ))
                }
            }
            _ => Ok(()),
        };
        Some(Completion {
            id,
            result,
            state: None,
        })
    }

    /// Applies `rm -y` / `rm -f` (module docs).
    fn remove(
        &mut self,
        name: &str,
        now: SimTime,
        refused: Option<DriverError>,
        force: bool,
    ) -> Result<(), DriverError> {
        if let Some(e) = refused {
            if !force {
                return Err(e);
            }
            // rm -f: exits 0, local state gone, the VM stays (Q21).
            self.failures.push(CallFailure {
                at: now,
                runner: self
                    .vms
                    .get(name)
                    .map(|vm| vm.runner.clone())
                    .unwrap_or_default(),
                machine: name.to_string(),
                command: CallKind::ForceRemove.command(),
                error: e,
            });
            self.store.remove(name);
            self.store_later.remove(name);
            if let Some(vm) = self.vms.get_mut(name)
                && vm.orphaned.is_none()
            {
                vm.orphaned = Some((now, OrphanCause::ForceRemoveFailed));
            }
            return Ok(());
        }
        self.store.remove(name);
        self.store_later.remove(name);
        let by_name = self
            .vms
            .get(name)
            .and_then(|vm| self.runners.get(&vm.runner))
            .is_none_or(|rc| rc.profile.orphans.remove_by == RemoveBy::Name);
        match self.vms.get_mut(name) {
            Some(vm) if vm.orphaned.is_some() => {}
            Some(vm) if !vm.id_saved && !by_name => {
                let cause = vm.unsaved_cause.unwrap_or(OrphanCause::NoSavedId);
                vm.orphaned = Some((now, cause));
            }
            Some(_) => self.delete_vm(name, now),
            None => {}
        }
        Ok(())
    }

    fn delete_vm(&mut self, name: &str, now: SimTime) {
        if let Some(vm) = self.vms.remove(name) {
            let usd = self.cost(&vm, now);
            self.bills.push(Bill {
                name: name.to_string(),
                runner: vm.runner,
                from: vm.billed_from.min(now),
                to: now,
                usd,
                orphaned: vm.orphaned.map(|(_, c)| c),
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

    /// Closes the books at the horizon: every VM still existing (orphans included) is billed
    /// up to `end`. Returns all bills (deleted and lost VMs first, in that order, then the
    /// survivors by name).
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
                orphaned: vm.orphaned.map(|(_, c)| c),
            });
        }
        self.losses.clear();
        std::mem::take(&mut self.bills)
    }
}
