//! A typed taxonomy of docker-machine failures (cloud-faults §1.1, §2, §8). The core treats every
//! error alike (spec §3.10: no retry, no backoff, no failure memory); the kind exists for
//! reports and for the fake cloud, and the message is what GitLab Runner would log.

use std::fmt;

/// The `docker-machine create` pipeline step that failed (cloud-faults §1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProvisioningStage {
    /// Step 1: local CA/client certificate bootstrap.
    Certificates,
    /// Step 2: the driver's pre-create check (cloud reads).
    PreCreateCheck,
    /// Steps 3 and 5: saving the host config to the store.
    SaveConfig,
    /// Step 4: the driver's `Create` (all cloud mutations).
    DriverCreate,
    /// Step 6: waiting for the VM to be running.
    WaitRunning,
    /// Step 7: waiting for SSH and detecting the OS.
    Ssh,
    /// Step 8: the provisioner (apt, docker install, certs, daemon start).
    Provision,
    /// Step 9: the TLS connection check to port 2376.
    TlsCheck,
}

/// What kind of failure a driver call had.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DriverErrorKind {
    /// The cloud API throttled the caller (AWS `RequestLimitExceeded`, GCE `rateLimitExceeded`,
    /// HTTP 429…; cloud-faults §2).
    RateLimited,
    /// An account or project quota was exceeded (vCPU, instances, addresses; cloud-faults §2).
    Quota,
    /// The cloud had no capacity for the request (AWS `InsufficientInstanceCapacity`, GCE
    /// `ZONE_RESOURCE_POOL_EXHAUSTED`, Azure `AllocationFailed`; cloud-faults §2).
    InsufficientCapacity,
    /// A create pipeline stage failed for another reason (cloud-faults §1.1, §3).
    Provisioning(ProvisioningStage),
    /// The machine does not exist (`Docker machine "<name>" does not exist…`).
    NotFound,
    /// GitLab Runner killed the command at its timeout (spec §3.12): the runner sees
    /// `signal: killed`. The core produces this kind itself when a completion is overdue.
    Timeout,
    /// Anything else.
    Other,
}

/// A failed driver call: its kind, the text docker-machine printed, and — for reports only
/// (issue 5 item 7: failures by stage and cloud error code) — the create pipeline step and the
/// cloud's error code when the producer knows them. The core ignores `stage` and `code`
/// (spec §3.10).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DriverError {
    /// The failure class.
    pub kind: DriverErrorKind,
    /// The message as GitLab Runner would log it (cloud-faults §8).
    pub message: String,
    /// The `docker-machine create` step that failed (cloud-faults §1.1), when known. Always
    /// set for [`DriverErrorKind::Provisioning`] (its stage); the fake cloud also sets it for
    /// throttled, quota and capacity failures of a create.
    pub stage: Option<ProvisioningStage>,
    /// The cloud's error code as the API returned it (AWS `RequestLimitExceeded`,
    /// `VcpuLimitExceeded`, `InsufficientInstanceCapacity`; GCE `rateLimitExceeded`,
    /// `QUOTA_EXCEEDED`, `ZONE_RESOURCE_POOL_EXHAUSTED`; DigitalOcean `too_many_requests`, …;
    /// cloud-faults §2, §7, §8), when the failure came from a cloud API answer. `None` for
    /// failures after the VM exists (SSH, Docker install, certificates: no cloud API involved)
    /// and for timeouts.
    pub code: Option<String>,
}

impl DriverError {
    /// An error of `kind` with `message`; the stage is the kind's own for
    /// [`DriverErrorKind::Provisioning`], no code.
    pub fn new(kind: DriverErrorKind, message: impl Into<String>) -> Self {
        let stage = match kind {
            DriverErrorKind::Provisioning(s) => Some(s),
            _ => None,
        };
        DriverError {
            kind,
            message: message.into(),
            stage,
            code: None,
        }
    }

    /// The same error with the cloud error `code` (none when `code` is `None` or empty).
    pub fn with_code(mut self, code: Option<impl Into<String>>) -> Self {
        self.code = code.map(Into::into).filter(|c: &String| !c.is_empty());
        self
    }

    /// The same error, failed at create step `stage` unless a stage is already set.
    pub fn at_stage(mut self, stage: ProvisioningStage) -> Self {
        self.stage.get_or_insert(stage);
        self
    }

    /// The error the core records when a command reached its timeout and was killed
    /// (spec §3.12; cloud-faults §1.3: "signal: killed").
    pub fn timed_out() -> Self {
        DriverError::new(DriverErrorKind::Timeout, "signal: killed")
    }
}

impl ProvisioningStage {
    /// The key used in reports (`summary.json` `failures.creation.by_stage`): snake_case
    /// names of the cloud-faults §1.1 steps.
    pub fn key(self) -> &'static str {
        match self {
            ProvisioningStage::Certificates => "certificates",
            ProvisioningStage::PreCreateCheck => "pre_create_check",
            ProvisioningStage::SaveConfig => "save_config",
            ProvisioningStage::DriverCreate => "driver_create",
            ProvisioningStage::WaitRunning => "wait_running",
            ProvisioningStage::Ssh => "ssh",
            ProvisioningStage::Provision => "provision",
            ProvisioningStage::TlsCheck => "tls_check",
        }
    }
}

impl DriverErrorKind {
    /// The key used in reports (`summary.json` `failures.*.by_kind`).
    pub fn key(&self) -> &'static str {
        match self {
            DriverErrorKind::RateLimited => "rate_limited",
            DriverErrorKind::Quota => "quota",
            DriverErrorKind::InsufficientCapacity => "insufficient_capacity",
            DriverErrorKind::Provisioning(_) => "provisioning",
            DriverErrorKind::NotFound => "not_found",
            DriverErrorKind::Timeout => "timeout",
            DriverErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ProvisioningStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ProvisioningStage::Certificates => "certificates",
            ProvisioningStage::PreCreateCheck => "pre-create check",
            ProvisioningStage::SaveConfig => "save config",
            ProvisioningStage::DriverCreate => "driver create",
            ProvisioningStage::WaitRunning => "wait running",
            ProvisioningStage::Ssh => "ssh",
            ProvisioningStage::Provision => "provisioning",
            ProvisioningStage::TlsCheck => "tls check",
        };
        f.write_str(s)
    }
}
