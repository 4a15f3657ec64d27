//! Fault windows as data: the scenario's `[[faults]]` entries (issue 5 §5; cloud-faults §1–§3,
//! §6, §7). This module only describes and validates them; [`super::driver::FakeCloud`] applies
//! them (see [`super::driver::FakeCloud::with_faults`]) — except `image_pull`, which is not a
//! cloud fault: the simulator applies it ([`crate::sim::world`]) to the Use that completes
//! inside its window, drawing from its own `image-pull` stream.
//!
//! A fault acts from `from` to `to` (durations since the scenario start; `to` absent = until
//! the end). It acts on the **API call or create stage that starts inside its window**
//! (`from ≤ start < to`): a Docker-install outage fails exactly the creates whose
//! `docker_install` stage starts in the window, whenever the create itself began.
//!
//! Why `image_pull` defaults to "not retried" (sources: GitLab Runner merge requests 2995
//! "Stop considering docker pull image as runner system failure" and 3060/3142 (14.1–14.3:
//! pull failures became build errors), 4098 (16.1: the runner's own failure reason
//! `image_pull_failure`, sent to GitLab as `runner_system_failure` until GitLab accepts it,
//! GitLab issue 414748) and 6873 (a failed pull "gives up on the first attempt"; transient
//! ones are now retried inside the pull, all reported to GitLab as `runner_system_failure`)):
//! since 14.1 a pull failure is a build error, which preparation does not retry (spec §0 W9).
//! Before 14.1 it was a runner system failure — not a build error, so retried like any
//! preparation error (W9; an inference from the merge requests, not a quoted log) — and that
//! is the runner generation Docker Hub's pull rate limits (November 2020) hit: `retried =
//! true`, the way a failure after Use reaches quirk Q18. simrun models no pull time and not
//! the pull's own retries.
//!
//! TOML form (one table per fault; unknown keys are errors, as are keys the kind does not use):
//!
//! ```toml
//! [[faults]]                      # "every Docker install fails from 09:00 to 12:00"
//! kind = "provisioning"
//! stage = "docker_install"        # boot | ssh | provision | docker_install | certs
//! from = "9h"
//! to = "12h"
//! probability = 1.0               # optional, default 1
//!
//! [[faults]]                      # "RunInstances throttled at half rate for 30 minutes"
//! kind = "rate_limit"
//! factor = 0.5
//! from = "1h"
//! to = "1h30m"
//! scope = { operation = "RunInstances" }
//!
//! [[faults]]                      # "vCPU quota 64" for the whole run
//! kind = "quota"
//! vcpus = 64
//!
//! [[faults]]                      # Docker Hub rate-limits every pull for an hour
//! kind = "image_pull"
//! from = "2h"
//! to = "3h"
//! retried = true                  # GitLab Runner < 14.1: 3 attempts per job (Q18)
//! scope = { runner = "docker-machine-gce" }
//! ```
//!
//! Keys by kind (`from`, `to`, `scope` apply to all; `from` defaults to `"0s"`):
//!
//! | kind | keys | effect |
//! |---|---|---|
//! | `rate_limit` | `factor` (> 0) | scales capacity/limit and refill of the profile's rate limits that cover `scope.operation` (all when absent), cloud-faults §2 |
//! | `api_error` | `code`, `message`?, `probability`? | an API call of `scope.operation` (an API operation such as `RunInstances`, or a docker-machine command: `create`, `stop`, `rm -y`, `rm -f`, `config`, `url`) fails with `<code>: <message>` |
//! | `quota` | `instances`?, `vcpus`? (at least one) | the account's instance / vCPU quota while the window lasts (the lower of this and the profile's), cloud-faults §2, §8 |
//! | `capacity` | `probability`? | the create call fails with the cloud's insufficient-capacity error (scope: zone, instance type) |
//! | `provisioning` | `stage`, `probability`?, `message`? | that create stage fails (cloud-faults §1.1, §3) |
//! | `create_hang` | `probability`? | the create never completes (until GitLab Runner's 1 h timeout kills it, spec §3.12) |
//! | `removal_outage` | `probability`?, `message`? | `rm -y` fails; `rm -f` exits 0 but the VM stays (quirk Q21); `scope.operation` = `"rm -y"` or `"rm -f"` limits it to one |
//! | `listing_lag` | `delay` | a create's machine directory appears in the store only `delay` after the create starts (spec §3.5) |
//! | `vanish` | `rate_per_hour` | ready VMs disappear (hazard per VM per hour): unreachable, not billed any more |
//! | `spot_interruption` | `rate_per_hour`, `notice`? | spot VMs are reclaimed (hazard per VM per hour) after the notice (default: the profile's `[spot] notice`), cloud-faults §6 |
//! | `image_pull` | `probability`?, `message`?, `retried`? | not a cloud fault: the job's image pull (a registry outage, Docker Hub's pull rate limit) fails right **after** Use marked the machine Used (spec §3.6 last paragraph); applied by the simulator ([`crate::sim::world`]), `scope.runner` only. GitLab Runner's message: `failed to pull image "alpine:latest" with specified policies [always]: Error response from daemon: <message>`, default message Docker Hub's `toomanyrequests: You have reached your pull rate limit…`. `retried` (default false) picks the runner's classification: false = GitLab Runner ≥ 14.1, where a pull failure is a build error that preparation does not retry (spec §0 W9: the job fails at once); true = GitLab Runner < 14.1, an infrastructure error retried like any preparation error (3 attempts, 3 s apart, W9), so the retry's Use takes another machine (quirk Q18). Either way the job fails with `runner_system_failure` |
//! | `first_use_race` | `delay`?, `probability`?, `overwrite`? | the machine store starts fresh (no CA/client certificates); creates that start within `delay` (default 2 s) of the first one race on the certificate bootstrap (cloud-faults §1.5, step 1 of §1.1): each racer, with `probability` (default 1), either overwrites the CA (with probability `overwrite`, default 0: every later TLS check and `docker-machine config` fails with `x509: certificate signed by unknown authority`, the "non-working environment" of GitLab's docs) or fails at once with `Error generating certificates: certificate authority key already exists` / `client key already exists` |

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::cloud::ProvisioningStage;
use crate::time::{SimDuration, SimTime, parse_duration};

/// What a fault does (see the module table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Scale the API's rate limits.
    RateLimit,
    /// An API operation fails with a cloud error.
    ApiError,
    /// Instance and/or vCPU quota.
    Quota,
    /// Insufficient capacity for a zone / instance type.
    Capacity,
    /// A create stage fails.
    Provisioning,
    /// Create calls hang.
    CreateHang,
    /// `rm -y` fails, `rm -f` leaves the VM.
    RemovalOutage,
    /// New machine directories appear late.
    ListingLag,
    /// VMs disappear.
    Vanish,
    /// Spot VMs are reclaimed.
    SpotInterruption,
    /// Concurrent first creates race on the certificate bootstrap of a fresh store.
    FirstUseRace,
    /// The job's image pull fails after Use (applied by the simulator, not the fake cloud).
    ImagePull,
}

impl FaultKind {
    /// The TOML spelling (`rate_limit`, …).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::RateLimit => "rate_limit",
            FaultKind::ApiError => "api_error",
            FaultKind::Quota => "quota",
            FaultKind::Capacity => "capacity",
            FaultKind::Provisioning => "provisioning",
            FaultKind::CreateHang => "create_hang",
            FaultKind::RemovalOutage => "removal_outage",
            FaultKind::ListingLag => "listing_lag",
            FaultKind::Vanish => "vanish",
            FaultKind::SpotInterruption => "spot_interruption",
            FaultKind::FirstUseRace => "first_use_race",
            FaultKind::ImagePull => "image_pull",
        }
    }
}

/// A create stage a `provisioning` fault can fail (the profile's `[create]` stages after the
/// API call; cloud-faults §1.1 steps 4–9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultStage {
    /// The rest of the driver's `Create` until the VM runs (inside step 4: IDs not yet saved).
    Boot,
    /// Waiting for SSH (step 7).
    Ssh,
    /// Provisioner start: apt, curl (step 8).
    Provision,
    /// The Docker install script (step 8).
    DockerInstall,
    /// Certificates, daemon restart, TLS check (steps 8–9).
    Certs,
}

impl FaultStage {
    /// Index into the profile's create stages (`api_call` = 0, `boot` = 1, … `certs` = 5).
    pub fn index(self) -> usize {
        match self {
            FaultStage::Boot => 1,
            FaultStage::Ssh => 2,
            FaultStage::Provision => 3,
            FaultStage::DockerInstall => 4,
            FaultStage::Certs => 5,
        }
    }

    /// The docker-machine pipeline step it belongs to (for [`crate::cloud::DriverErrorKind`]).
    pub fn pipeline_stage(self) -> ProvisioningStage {
        match self {
            FaultStage::Boot => ProvisioningStage::DriverCreate,
            FaultStage::Ssh => ProvisioningStage::Ssh,
            FaultStage::Provision | FaultStage::DockerInstall => ProvisioningStage::Provision,
            FaultStage::Certs => ProvisioningStage::TlsCheck,
        }
    }
}

/// What a fault applies to; every present key must match (absent = any).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultScope {
    /// An API operation (`RunInstances`, `Instances.Insert`, …; a trailing `*` matches a
    /// prefix, e.g. `Describe*`), a rate-limit name from the profile, or a docker-machine
    /// command (`create`, `stop`, `rm -y`, `rm -f`, `config`, `url`).
    pub operation: Option<String>,
    /// Zone as the runner's options give it (AWS: region + zone letter, `us-east-1a`).
    pub zone: Option<String>,
    /// Instance type / machine type / size.
    pub instance_type: Option<String>,
    /// A runner id (as in the scenario's runner config).
    pub runner: Option<String>,
}

/// One `[[faults]]` entry. See the module docs for the TOML form.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What the fault does.
    pub kind: FaultKind,
    /// Window start, since the scenario start (default 0).
    #[serde(default, deserialize_with = "de_duration")]
    pub from: SimDuration,
    /// Window end (exclusive), since the scenario start; `None` = until the end.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub to: Option<SimDuration>,
    /// Probability (0–1) that an affected call/stage fails; default 1.
    pub probability: Option<f64>,
    /// What it applies to.
    #[serde(default)]
    pub scope: FaultScope,
    /// `rate_limit`: multiplier of capacity and refill (0.5 = half rate).
    pub factor: Option<f64>,
    /// `api_error`: the cloud error code (`InternalError`, `ServiceUnavailable`, …).
    pub code: Option<String>,
    /// `api_error`, `provisioning`, `removal_outage`, `image_pull`: the message (default: the
    /// cloud's; for `image_pull` Docker Hub's pull-rate-limit answer, [`DOCKER_HUB_RATE_LIMIT`]).
    pub message: Option<String>,
    /// `quota`: instance quota (count).
    pub instances: Option<u32>,
    /// `quota`: vCPU quota.
    pub vcpus: Option<u32>,
    /// `provisioning`: the failing stage.
    pub stage: Option<FaultStage>,
    /// `listing_lag`: how long after the create starts the directory appears.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub delay: Option<SimDuration>,
    /// `vanish`, `spot_interruption`: hazard per VM per hour.
    pub rate_per_hour: Option<f64>,
    /// `spot_interruption`: notice before the VM is reclaimed.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub notice: Option<SimDuration>,
    /// `first_use_race`: probability (0–1) that a racing create overwrites the CA instead of
    /// failing (default 0).
    pub overwrite: Option<f64>,
    /// `image_pull`: whether preparation retries the failure (true: GitLab Runner < 14.1, an
    /// infrastructure error; false, the default: ≥ 14.1, a build error, spec §0 W9).
    pub retried: Option<bool>,
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<SimDuration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(de::Error::custom)
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SimDuration>, D::Error> {
    de_duration(d).map(Some)
}

impl FaultSpec {
    /// A fault of `kind` over the whole run with every optional key absent (for building
    /// faults in code; set the fields, then [`FaultSpec::validate`]).
    pub fn new(kind: FaultKind) -> Self {
        FaultSpec {
            kind,
            from: SimDuration::ZERO,
            to: None,
            probability: None,
            scope: FaultScope::default(),
            factor: None,
            code: None,
            message: None,
            instances: None,
            vcpus: None,
            stage: None,
            delay: None,
            rate_per_hour: None,
            notice: None,
            overwrite: None,
            retried: None,
        }
    }

    /// Whether `t` lies in the window `[from, to)`.
    pub fn active_at(&self, t: SimTime) -> bool {
        t.0 >= self.from.0 && self.to.is_none_or(|to| t.0 < to.0)
    }

    /// The probability an affected call fails (default 1).
    pub fn probability(&self) -> f64 {
        self.probability.unwrap_or(1.0)
    }

    /// Checks what serde cannot, for a scenario of length `horizon`: `from < to`, the window
    /// starts before the end, probabilities in [0, 1], the kind's required keys present and
    /// no key the kind does not use.
    ///
    /// # Errors
    /// A message naming the key (`to = 1h is not after from = 2h`, …).
    pub fn validate(&self, horizon: SimDuration) -> Result<(), String> {
        let kind = self.kind.name();
        if self.from >= horizon {
            return Err(format!(
                "from = {} is not before the end of the scenario ({horizon}): the fault would never act",
                self.from
            ));
        }
        if let Some(to) = self.to {
            if to <= self.from {
                return Err(format!("to = {to} is not after from = {}", self.from));
            }
            if to > horizon {
                return Err(format!(
                    "to = {to} is after the end of the scenario ({horizon}); leave `to` out for \"until the end\""
                ));
            }
        }
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("probability must be between 0 and 1, found {p}"));
        }
        if let Some(p) = self.overwrite
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("overwrite must be between 0 and 1, found {p}"));
        }
        let present = [
            ("probability", self.probability.is_some()),
            ("factor", self.factor.is_some()),
            ("code", self.code.is_some()),
            ("message", self.message.is_some()),
            ("instances", self.instances.is_some()),
            ("vcpus", self.vcpus.is_some()),
            ("stage", self.stage.is_some()),
            ("delay", self.delay.is_some()),
            ("rate_per_hour", self.rate_per_hour.is_some()),
            ("notice", self.notice.is_some()),
            ("overwrite", self.overwrite.is_some()),
            ("retried", self.retried.is_some()),
        ];
        let (allowed, required): (&[&str], &[&str]) = match self.kind {
            FaultKind::RateLimit => (&["factor"], &["factor"]),
            FaultKind::ApiError => (&["code", "message", "probability"], &["code"]),
            FaultKind::Quota => (&["instances", "vcpus"], &[]),
            FaultKind::Capacity => (&["probability"], &[]),
            FaultKind::Provisioning => (&["stage", "probability", "message"], &["stage"]),
            FaultKind::CreateHang => (&["probability"], &[]),
            FaultKind::RemovalOutage => (&["probability", "message"], &[]),
            FaultKind::ListingLag => (&["delay"], &["delay"]),
            FaultKind::Vanish => (&["rate_per_hour"], &["rate_per_hour"]),
            FaultKind::SpotInterruption => (&["rate_per_hour", "notice"], &["rate_per_hour"]),
            FaultKind::FirstUseRace => (&["delay", "probability", "overwrite"], &[]),
            FaultKind::ImagePull => (&["probability", "message", "retried"], &[]),
        };
        if let Some((k, _)) = present.iter().find(|(k, p)| *p && !allowed.contains(k)) {
            return Err(format!(
                "key `{k}` does not apply to kind = \"{kind}\" (it takes {})",
                allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(k) = required
            .iter()
            .find(|k| !present.iter().any(|(p, there)| p == *k && *there))
        {
            return Err(format!("kind = \"{kind}\" needs `{k}`"));
        }
        if self.kind == FaultKind::Quota && self.instances.is_none() && self.vcpus.is_none() {
            return Err("kind = \"quota\" needs `instances` or `vcpus` (or both)".into());
        }
        if self.kind == FaultKind::ApiError && self.scope.operation.is_none() {
            return Err(
                "kind = \"api_error\" needs `scope.operation` (an API operation such as \"RunInstances\" or a docker-machine command such as \"rm -y\")"
                    .into(),
            );
        }
        if self.kind == FaultKind::RemovalOutage
            && let Some(op) = &self.scope.operation
            && op != "rm -y"
            && op != "rm -f"
        {
            return Err(format!(
                "scope.operation = {op:?} does not apply to kind = \"removal_outage\" (expected \"rm -y\" or \"rm -f\", or leave it out for both)"
            ));
        }
        if self.kind == FaultKind::ImagePull {
            let s = &self.scope;
            let other = [
                ("operation", s.operation.is_some()),
                ("zone", s.zone.is_some()),
                ("instance_type", s.instance_type.is_some()),
            ];
            if let Some((k, _)) = other.iter().find(|(_, there)| *there) {
                return Err(format!(
                    "scope.{k} does not apply to kind = \"image_pull\" (an image pull goes to the registry, not the cloud: only scope.runner)"
                ));
            }
        }
        if let Some(f) = self.factor
            && !(f.is_finite() && f > 0.0)
        {
            return Err(format!("factor must be a finite number > 0, found {f}"));
        }
        if let Some(r) = self.rate_per_hour
            && !(r.is_finite() && r >= 0.0)
        {
            return Err(format!(
                "rate_per_hour must be a finite number ≥ 0, found {r}"
            ));
        }
        if let Some(c) = &self.code
            && c.trim().is_empty()
        {
            return Err("code must not be empty".into());
        }
        Ok(())
    }
}

/// Docker Hub's answer once the anonymous or free-tier pull rate limit is reached (the default
/// `image_pull` message; Docker's "increase-rate-limit" documentation, enforced since
/// November 2020).
pub const DOCKER_HUB_RATE_LIMIT: &str = "toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit";

impl FaultSpec {
    /// GitLab Runner's preparation error for an `image_pull` fault: the docker executor's
    /// `failed to pull image … with specified policies [always]` around the daemon's answer
    /// (the fault's `message`, default [`DOCKER_HUB_RATE_LIMIT`]). Jobs in simrun carry no
    /// image name: `alpine:latest` stands for the job's image.
    pub fn image_pull_error(&self) -> String {
        format!(
            "failed to pull image \"alpine:latest\" with specified policies [always]: Error response from daemon: {}",
            self.message.as_deref().unwrap_or(DOCKER_HUB_RATE_LIMIT)
        )
    }
}

/// Validates a scenario's fault list; errors are prefixed `faults[<index>]: `.
///
/// # Errors
/// The first invalid entry, as [`FaultSpec::validate`].
pub fn validate_all(faults: &[FaultSpec], horizon: SimDuration) -> Result<(), String> {
    for (i, f) in faults.iter().enumerate() {
        f.validate(horizon)
            .map_err(|e| format!("faults[{i}]: {e}"))?;
    }
    Ok(())
}

/// Whether an operation pattern (`*` = all, `Describe*` = prefix, else exact) matches `op`.
pub fn operation_matches(pattern: &str, op: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => op.starts_with(prefix),
        None => pattern == op,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        faults: Vec<FaultSpec>,
    }

    fn parse(text: &str) -> Result<Vec<FaultSpec>, String> {
        toml::from_str::<Doc>(text)
            .map(|d| d.faults)
            .map_err(|e| e.to_string())
    }

    const H4: SimDuration = SimDuration(4 * 3_600_000);

    #[test]
    fn the_documented_examples_parse_and_validate() {
        let f = parse(
            r#"
[[faults]]
kind = "provisioning"
stage = "docker_install"
from = "1h"
to = "2h"
[[faults]]
kind = "rate_limit"
factor = 0.5
from = "1h"
to = "1h30m"
scope = { operation = "RunInstances" }
[[faults]]
kind = "quota"
vcpus = 64
[[faults]]
kind = "spot_interruption"
rate_per_hour = 0.5
notice = "2m"
"#,
        )
        .unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(f[0].stage, Some(FaultStage::DockerInstall));
        assert_eq!(f[0].from, SimDuration::from_mins(60));
        assert_eq!(f[1].scope.operation.as_deref(), Some("RunInstances"));
        assert_eq!(f[2].from, SimDuration::ZERO);
        assert_eq!(f[2].to, None);
        assert_eq!(f[3].notice, Some(SimDuration::from_mins(2)));
        validate_all(&f, H4).unwrap();
        assert!(f[0].active_at(SimTime(3_600_000)));
        assert!(!f[0].active_at(SimTime(7_200_000)));
    }

    #[test]
    fn unknown_kinds_and_keys_are_errors() {
        let e = parse("[[faults]]\nkind = \"meteor\"\n").unwrap_err();
        assert!(e.contains("unknown variant `meteor`"), "{e}");
        let e = parse("[[faults]]\nkind = \"quota\"\nvcpu = 4\n").unwrap_err();
        assert!(e.contains("unknown field `vcpu`"), "{e}");
        let e = parse("[[faults]]\nkind = \"quota\"\nvcpus = 4\nfrom = \"soon\"\n").unwrap_err();
        assert!(e.contains("invalid duration \"soon\""), "{e}");
    }

    #[test]
    fn invalid_windows_and_values_name_the_key() {
        let cases = [
            (
                "kind = \"create_hang\"\nfrom = \"2h\"\nto = \"1h\"",
                "faults[0]: to = 1h is not after from = 2h",
            ),
            (
                "kind = \"create_hang\"\nfrom = \"5h\"",
                "from = 5h is not before the end of the scenario (4h)",
            ),
            (
                "kind = \"create_hang\"\nto = \"5h\"",
                "to = 5h is after the end of the scenario (4h)",
            ),
            (
                "kind = \"capacity\"\nprobability = 1.5",
                "probability must be between 0 and 1, found 1.5",
            ),
            (
                "kind = \"quota\"\nvcpus = 4\nfactor = 0.5",
                "key `factor` does not apply to kind = \"quota\"",
            ),
            (
                "kind = \"quota\"",
                "kind = \"quota\" needs `instances` or `vcpus`",
            ),
            (
                "kind = \"rate_limit\"",
                "kind = \"rate_limit\" needs `factor`",
            ),
            (
                "kind = \"rate_limit\"\nfactor = 0.0",
                "factor must be a finite number > 0",
            ),
            ("kind = \"provisioning\"", "needs `stage`"),
            (
                "kind = \"api_error\"\ncode = \"X\"",
                "needs `scope.operation`",
            ),
            (
                "kind = \"removal_outage\"\nscope = { operation = \"create\" }",
                "scope.operation = \"create\" does not apply",
            ),
            (
                "kind = \"vanish\"\nrate_per_hour = -1.0",
                "rate_per_hour must be",
            ),
            ("kind = \"listing_lag\"", "needs `delay`"),
            (
                "kind = \"image_pull\"\nscope = { zone = \"us-east1-b\" }",
                "scope.zone does not apply to kind = \"image_pull\"",
            ),
            (
                "kind = \"image_pull\"\nstage = \"certs\"",
                "key `stage` does not apply to kind = \"image_pull\"",
            ),
            (
                "kind = \"capacity\"\nretried = true",
                "key `retried` does not apply to kind = \"capacity\"",
            ),
        ];
        for (body, want) in cases {
            let f = parse(&format!("[[faults]]\n{body}\n")).unwrap();
            let e = validate_all(&f, H4).unwrap_err();
            assert!(e.contains(want), "{body}: {e}");
        }
    }

    #[test]
    fn image_pull_parses_with_its_keys_and_builds_the_runners_message() {
        let f = parse(
            "[[faults]]\nkind = \"image_pull\"\nfrom = \"1h\"\nto = \"2h\"\nprobability = 0.5\nretried = true\nscope = { runner = \"r\" }\n",
        )
        .unwrap();
        validate_all(&f, H4).unwrap();
        assert_eq!(f[0].kind, FaultKind::ImagePull);
        assert_eq!(f[0].retried, Some(true));
        assert_eq!(f[0].scope.runner.as_deref(), Some("r"));
        assert!(
            f[0].image_pull_error().ends_with(
                "Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"
            ),
            "{}",
            f[0].image_pull_error()
        );
        let e = parse("[[faults]]\nkind = \"image_pull\"\nretried = \"yes\"\n").unwrap_err();
        assert!(e.contains("invalid type"), "{e}");
        let mut g = FaultSpec::new(FaultKind::ImagePull);
        g.message = Some("Get https://registry-1.docker.io/v2/: Service Unavailable".into());
        assert_eq!(
            g.image_pull_error(),
            "failed to pull image \"alpine:latest\" with specified policies [always]: Error response from daemon: Get https://registry-1.docker.io/v2/: Service Unavailable"
        );
    }

    #[test]
    fn operation_patterns() {
        assert!(operation_matches("*", "RunInstances"));
        assert!(operation_matches("Describe*", "DescribeInstances"));
        assert!(!operation_matches("Describe*", "RunInstances"));
        assert!(operation_matches("RunInstances", "RunInstances"));
        assert!(!operation_matches("RunInstances", "RunInstance"));
    }
}
