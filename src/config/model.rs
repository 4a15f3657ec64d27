//! The GitLab Runner `config.toml` model: what simrun keeps of a user's config after loading it
//! the way GitLab Runner does (spec §1). Values are kept **raw** (as written, Go zero values when
//! absent); the `effective_*` methods apply GitLab Runner's run-time defaults.

use std::fmt;

use jiff::Timestamp;

use super::period::Periods;
use super::token;

/// The whole `config.toml` (struct `Config` in GitLab Runner's `common/config.go`).
#[derive(Clone, Debug)]
pub struct Config {
    /// Global `concurrent`: the number of worker goroutines (spec §1.4). Defaults to **1** when
    /// omitted (spec §0 M7); an explicit value < 1 is fatal in GitLab Runner and a load error here.
    pub concurrent: i64,
    /// Whether `concurrent` was written in the file.
    pub concurrent_set: bool,
    /// Global `check_interval` in seconds as written (0 when absent); see
    /// [`Config::effective_check_interval_secs`].
    pub check_interval: i64,
    /// Global `shutdown_timeout` in seconds as written (0 when absent); see
    /// [`Config::effective_shutdown_timeout_secs`].
    pub shutdown_timeout: i64,
    /// `[machine.shutdown_drain]` (global, spec §4.3), `None` when the table is absent.
    pub shutdown_drain: Option<ShutdownDrain>,
    /// Every `[[runners]]` entry in file order, whatever its executor.
    pub runners: Vec<RunnerConfig>,
}

impl Config {
    /// `check_interval` in seconds as GitLab Runner uses it: ≤ 0 → 3 s (spec §1.4).
    pub fn effective_check_interval_secs(&self) -> i64 {
        if self.check_interval <= 0 {
            3
        } else {
            self.check_interval
        }
    }

    /// `shutdown_timeout` in seconds as GitLab Runner uses it: ≤ 0 → 30 s (spec §1.4).
    pub fn effective_shutdown_timeout_secs(&self) -> i64 {
        if self.shutdown_timeout <= 0 {
            30
        } else {
            self.shutdown_timeout
        }
    }

    /// The runners that get a docker+machine autoscaler (executor `docker+machine` with a
    /// `[runners.machine]` table), in file order.
    pub fn autoscaled_runners(&self) -> impl Iterator<Item = &RunnerConfig> {
        self.runners.iter().filter(|r| r.is_autoscaled())
    }

    /// Finds a runner by its [`RunnerConfig::id`] (its `name`, or `runners[i]`).
    pub fn runner(&self, id: &str) -> Option<&RunnerConfig> {
        self.runners.iter().find(|r| r.id == id)
    }
}

/// `[machine.shutdown_drain]` (spec §4.3). Raw values; the `effective_*` methods apply the
/// defaults of spec §4.3 (and conformance case 113).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShutdownDrain {
    /// `enabled`, default false (opt-in).
    pub enabled: bool,
    /// `concurrency` as written.
    pub concurrency: i64,
    /// `max_retries` as written.
    pub max_retries: i64,
    /// `retry_backoff` in **nanoseconds** as written: a Go duration string (`"5s"`) or an
    /// integer, which Go reads as nanoseconds (spec §0 M15).
    pub retry_backoff_ns: i64,
}

impl ShutdownDrain {
    /// Machines drained in parallel: ≤ 0 → 3.
    pub fn effective_concurrency(&self) -> i64 {
        if self.concurrency <= 0 {
            3
        } else {
            self.concurrency
        }
    }

    /// Retries per machine: ≤ 0 → 3 (so 0 still means 3, quirk Q20). Attempts = this + 1.
    pub fn effective_max_retries(&self) -> i64 {
        if self.max_retries <= 0 {
            3
        } else {
            self.max_retries
        }
    }

    /// Base retry backoff in nanoseconds: ≤ 0 → 5 s. Retry *k* waits `k ×` this.
    pub fn effective_retry_backoff_ns(&self) -> i64 {
        if self.retry_backoff_ns <= 0 {
            5_000_000_000
        } else {
            self.retry_backoff_ns
        }
    }
}

/// A string that must never be printed in full (a runner token). `Debug` and `Display`
/// print `[REDACTED]`; use [`Secret::expose`] deliberately.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself. Never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// One `[[runners]]` entry (struct `RunnerConfig`, spec §1.4).
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Position in the `[[runners]]` array (0-based).
    pub index: usize,
    /// A stable id: `name` when set and unique, otherwise `runners[<index>]`.
    pub id: String,
    /// `name` as written.
    pub name: Option<String>,
    /// `url`.
    pub url: String,
    /// `token`: the full runner token (never printed; the 9-character short token appears in
    /// machine names, spec §2.5).
    pub token: Secret,
    /// `executor` (`docker+machine`, `docker`, `shell`, …).
    pub executor: String,
    /// `limit`: 0 = unlimited (spec §1.4).
    pub limit: i64,
    /// `request_concurrency` as written; see [`RunnerConfig::effective_request_concurrency`].
    pub request_concurrency: i64,
    /// `strict_check_interval`, default false (spec §1.4).
    pub strict_check_interval: bool,
    /// `[runners.machine]`, `None` when absent.
    pub machine: Option<MachineConfig>,
}

impl RunnerConfig {
    /// Whether this runner gets a docker+machine autoscaler: executor `docker+machine` and a
    /// `[runners.machine]` table (without it, GitLab Runner's Acquire fails with
    /// "missing Machine options", spec §3.4 step 1).
    pub fn is_autoscaled(&self) -> bool {
        self.executor == "docker+machine" && self.machine.is_some()
    }

    /// `request_concurrency` as used: ≤ 0 → 1 (spec §1.4).
    pub fn effective_request_concurrency(&self) -> i64 {
        if self.request_concurrency <= 0 {
            1
        } else {
            self.request_concurrency
        }
    }

    /// The short token GitLab puts into machine names (spec §2.5, case 88).
    pub fn short_token(&self) -> String {
        token::shorten_token(self.token.expose())
    }

    /// The machine-name filter template `runner-<rfc short token>-<MachineName>` (spec §2.5),
    /// or `None` without `[runners.machine]`.
    pub fn machine_name_template(&self) -> Option<String> {
        self.machine
            .as_ref()
            .map(|m| token::filter_template(self.token.expose(), &m.machine_name))
    }
}

/// The four values a `[[runners.machine.autoscaling]]` entry replaces together (spec §1.2).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IdleSettings {
    /// `IdleCount`.
    pub idle_count: i64,
    /// `IdleCountMin` (used only when `idle_scale_factor > 0`, spec §3.2).
    pub idle_count_min: i64,
    /// `IdleScaleFactor`.
    pub idle_scale_factor: f64,
    /// `IdleTime` in seconds.
    pub idle_time: i64,
}

/// `[runners.machine]` (struct `DockerMachine`, spec §1.1). Raw values, Go zero values when
/// absent.
#[derive(Clone, Debug, Default)]
pub struct MachineConfig {
    /// `MaxGrowthRate`: 0 = unlimited; negative freezes creation (spec §0 W1).
    pub max_growth_rate: i64,
    /// Root `IdleCount`, `IdleCountMin`, `IdleScaleFactor`, `IdleTime`.
    pub idle: IdleSettings,
    /// `MaxBuilds`: 0 = unlimited.
    pub max_builds: i64,
    /// `MachineDriver`.
    pub machine_driver: String,
    /// `MachineName` (the `%s` template).
    pub machine_name: String,
    /// `MachineOptions`, each passed as `--<entry>` to `docker-machine create`. May hold
    /// credentials: print only through [`super::token::redact_machine_option`].
    pub machine_options: Vec<String>,
    /// `MachineOptionsWithName`: each contains `%s` (checked at load).
    pub machine_options_with_name: Vec<String>,
    /// `MaxRemovalAttempts` as written: ≤ 0 → 30 (spec §1.1, §3.9).
    pub max_removal_attempts: i64,
    /// `OffPeakPeriods` (deprecated, ignored since 14.0; kept only for the warning).
    pub off_peak_periods: Vec<String>,
    /// `[[runners.machine.autoscaling]]` in file order.
    pub autoscaling: Vec<AutoscalingEntry>,
}

/// One `[[runners.machine.autoscaling]]` entry (spec §1.2).
#[derive(Clone, Debug)]
pub struct AutoscalingEntry {
    /// `Periods` as written.
    pub periods_raw: Vec<String>,
    /// `Timezone` as written (`""` means `Local`).
    pub timezone: String,
    /// The compiled periods (spec §1.3).
    pub periods: Periods,
    /// The values this entry sets while active; omitted ones are 0 (quirk Q4).
    pub idle: IdleSettings,
}

/// Which idle values apply at an instant and where they come from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActiveIdle {
    /// The values in force.
    pub settings: IdleSettings,
    /// The index of the winning autoscaling entry, or `None` for the root values.
    pub entry: Option<usize>,
}

impl MachineConfig {
    /// The idle values in force at `now`: the **last** autoscaling entry whose periods contain
    /// `now` wins, with all four values from it and no inheritance from the root; otherwise the
    /// root values (spec §1.2, quirk Q4).
    pub fn idle_at(&self, now: Timestamp) -> ActiveIdle {
        for (i, e) in self.autoscaling.iter().enumerate().rev() {
            if e.periods.in_period(now) {
                return ActiveIdle {
                    settings: e.idle,
                    entry: Some(i),
                };
            }
        }
        ActiveIdle {
            settings: self.idle,
            entry: None,
        }
    }

    /// `MaxRemovalAttempts` as used: ≤ 0 → 30 (spec §3.9).
    pub fn effective_max_removal_attempts(&self) -> i64 {
        if self.max_removal_attempts <= 0 {
            30
        } else {
            self.max_removal_attempts
        }
    }
}
