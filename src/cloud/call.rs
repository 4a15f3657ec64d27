//! docker-machine calls and their completions (spec §3.9, §3.10, §3.12; cloud-faults §1.3).

use std::fmt;

use crate::time::SimDuration;

use super::error::DriverError;

/// Identifies one driver call; a [`Completion`] names the call it finishes. Ids are allocated
/// by the core, increasing from 1, and never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call#{}", self.0)
    }
}

/// Which docker-machine command to run (cloud-faults §1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// `docker-machine --bugsnag-api-token=no-report create --driver <driver> --<opt>… <name>`
    /// (spec §3.10). `options` are the raw config entries in order — `MachineOptions`, then
    /// `MachineOptionsWithName` formatted with the name (conformance cases 76, 77) — without
    /// the `--` that the command line adds in front of each. Timeout 1 h.
    Create {
        /// `MachineDriver`.
        driver: String,
        /// The option entries, in order.
        options: Vec<String>,
    },
    /// `docker-machine stop <name>` (spec §3.9 step 3). Timeout **1 min**; failure only logged.
    Stop,
    /// `docker-machine rm -y <name>` (spec §3.9 step 4). Timeout 1 h.
    Remove,
    /// `docker-machine rm -f <name>`: ForceRemove after removal gives up (spec §3.9). Timeout 1 h.
    ForceRemove,
    /// `docker-machine config <name>`: CanConnect (spec §3.12). `Ok` = reachable. Timeout 1 h.
    CanConnect,
    /// `docker-machine url <name>` plus `inspect` for the TLS store path: the credentials a build
    /// needs (spec §3.6 step 4; CanConnect runs before it as its own call). Timeout 1 h: see
    /// [`Timeouts::credentials`] for why the two commands are one call with one hour.
    Credentials,
    /// Exist: `<storage>/machines/<name>/config.json` is present and `docker-machine inspect
    /// <name>` succeeds (spec §3.9 step 1). `Ok` = exists; any error = does not exist.
    /// Timeout 1 h.
    Exists,
}

impl CallKind {
    /// The command's short name as docker-machine spells it (`create`, `stop`, `rm -y`,
    /// `rm -f`, `config`, `url`, `inspect`).
    pub fn command(&self) -> &'static str {
        match self {
            CallKind::Create { .. } => "create",
            CallKind::Stop => "stop",
            CallKind::Remove => "rm -y",
            CallKind::ForceRemove => "rm -f",
            CallKind::CanConnect => "config",
            CallKind::Credentials => "url",
            CallKind::Exists => "inspect",
        }
    }
}

/// The per-command timeouts of GitLab Runner (`consts.go`, spec §3.12): every command 1 h,
/// `stop` 1 min. A completion that has not arrived by then is treated as a failure of kind
/// [`super::DriverErrorKind::Timeout`] and the owner is told to kill the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// `create`: 1 h.
    pub create: SimDuration,
    /// `rm -y` and `rm -f`: 1 h.
    pub remove: SimDuration,
    /// `inspect` (Exist): 1 h.
    pub exists: SimDuration,
    /// `config` (CanConnect): 1 h.
    pub can_connect: SimDuration,
    /// `url` + `inspect` (credentials): 1 h.
    ///
    /// GitLab Runner gives `url` and `inspect` a 1 h timeout each (spec §3.12), so its worst
    /// case before failing is just under 2 h. simrun keeps them one call with **one** hour:
    /// `inspect` only reads the machine's local store (cloud-faults §1.3: it does not reach the
    /// cloud, and the fake cloud models it as local), so only `url` can hang, and a hung `url`
    /// fails at 1 h in GitLab Runner too. A 2 h budget would make that realistic hang fail an hour late to
    /// cover a case (a slow `url` and then an `inspect` that takes up to an hour) that does
    /// not arise.
    pub credentials: SimDuration,
    /// `stop`: 1 min.
    pub stop: SimDuration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let hour = SimDuration::from_mins(60);
        Timeouts {
            create: hour,
            remove: hour,
            exists: hour,
            can_connect: hour,
            credentials: hour,
            stop: SimDuration::from_mins(1),
        }
    }
}

impl Timeouts {
    /// The timeout of a call kind.
    pub fn of(&self, kind: &CallKind) -> SimDuration {
        match kind {
            CallKind::Create { .. } => self.create,
            CallKind::Stop => self.stop,
            CallKind::Remove | CallKind::ForceRemove => self.remove,
            CallKind::CanConnect => self.can_connect,
            CallKind::Credentials => self.credentials,
            CallKind::Exists => self.exists,
        }
    }
}

/// One docker-machine command the core wants run against machine `machine`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverCall {
    /// The id its [`Completion`] must carry.
    pub id: CallId,
    /// The machine name (spec §2.5).
    pub machine: String,
    /// The command.
    pub kind: CallKind,
}

/// What the driver's on-disk state says about a machine's placement, read after every create,
/// successful or not, to fill the metric target labels (spec §3.10, §3.12). All empty when
/// unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriverState {
    /// The driver name in the machine's `config.json` (`google`, `amazonec2`, …).
    pub driver: String,
    /// Zone (for `google`: the resolved zone when GCP chose the placement).
    pub zone: String,
    /// Project.
    pub project: String,
    /// Machine type (for `google`: the resolved type).
    pub machine_type: String,
}

/// The end of a driver call: its id, the result, and for `create` the driver state read
/// afterwards.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The call this finishes.
    pub id: CallId,
    /// `Ok(())` = the command succeeded (for `config`: reachable; for Exist: exists).
    pub result: Result<(), DriverError>,
    /// For `create`: the machine's driver state afterwards (`None` = no `config.json`, empty
    /// labels). Ignored for other calls.
    pub state: Option<DriverState>,
}

impl Completion {
    /// A successful completion without driver state.
    pub fn ok(id: CallId) -> Self {
        Completion {
            id,
            result: Ok(()),
            state: None,
        }
    }

    /// A failed completion.
    pub fn err(id: CallId, error: DriverError) -> Self {
        Completion {
            id,
            result: Err(error),
            state: None,
        }
    }
}
