//! Scenario files (DESIGN.md "Scenario file"): what to simulate — a runner config (a path to a
//! real `config.toml`, or inline TOML), a start instant and zone, a duration, workloads,
//! machines already in the store, the fake cloud, and GitLab's long polling.
//!
//! ```toml
//! [scenario]
//! name = "burst"
//! seed = 42
//! start = "2026-03-02T08:00:00Z"      # RFC 3339
//! timezone = "Europe/Berlin"          # what `Local` means in the config's periods (default UTC)
//! duration = "4h"
//!
//! [runner]
//! config = "configs/gce-runner.toml"  # or: inline = '''concurrent = 4 …'''
//!
//! [cloud]
//! profile = "gce"                     # optional: all runners; default from MachineDriver
//! runners = { "other" = "aws-ec2" }   # optional: per runner (name or runners[i])
//! stockouts = false                   # optional: turn off the profiles' own stockout
//!                                     # episodes ([capacity] episodes_per_day; default true)
//!
//! [gitlab]
//! long_poll = "0s"                    # GitLab.com holds job requests up to 50s (spec §0 M1)
//!
//! [[workload]]
//! kind = "burst"
//! at = "30m"
//! jobs = 300
//! duration = { dist = "lognormal", median = "6m", p95 = "20m" }
//!
//! [[machines]]                        # already in the machine store at the start (spec §2.4)
//! runner = "gce-autoscaler"
//! count = 3
//! age = "2h"
//! ```
//!
//! Errors name the file, line and column, the key path, and what was expected. Relative paths
//! resolve against the scenario file's folder. `[expect]` is refused with "not
//! supported yet" until the regression gate lands. `[[faults]]` entries are described at
//! [`crate::fake_cloud::FaultSpec`].
//!
//! ```toml
//! [[signals]]                         # sent to the runner process (spec §4.1)
//! at = "3h"
//! signal = "SIGQUIT"                  # or SIGTERM, SIGINT
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::config::diagnostic::{Diagnostic, SourceFile, one_line, render};
use crate::config::{LoadOptions, LoadedConfig, load_config_file, load_config_str};
use crate::fake_cloud::{Profile, profile_name_for_driver};
use crate::manager::Signal;
use crate::time::{Calendar, SimDuration, SimTime, lookup_zone, parse_duration};
use crate::workload::Workload;

/// A loaded, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// `[scenario] name`.
    pub name: String,
    /// `[scenario] seed` (default 0); `--seed` overrides it.
    pub seed: u64,
    /// Calendar: start instant and the zone `Local` means.
    pub calendar: Calendar,
    /// The zone's IANA name as written (default `UTC`).
    pub timezone: String,
    /// How much virtual time to simulate.
    pub duration: SimDuration,
    /// The runner config, loaded as GitLab Runner loads it (warnings kept).
    pub runner: LoadedConfig,
    /// The fake-cloud profile of each autoscaled runner, by runner id.
    pub profiles: BTreeMap<String, Profile>,
    /// GitLab's side.
    pub gitlab: GitLabSettings,
    /// The workloads, in file order.
    pub workloads: Vec<Workload>,
    /// Machines in the store at the start.
    pub machines: Vec<PreexistingMachines>,
    /// Signals sent to the runner process, in time order.
    pub signals: Vec<SignalAt>,
    /// `[[faults]]`: fault windows applied by the fake cloud (cloud-faults spec; see
    /// [`crate::fake_cloud::FaultSpec`]).
    pub faults: Vec<crate::fake_cloud::FaultSpec>,
    /// The scenario file's folder (relative paths resolve against it).
    pub base_dir: PathBuf,
    /// The folder the fake-cloud profiles were read from.
    pub fakes_dir: PathBuf,
    /// Scenario-level warnings, one line each (e.g. fault windows and signals clipped or
    /// dropped by a shorter `--duration`); shown with the config warnings.
    pub warnings: Vec<String>,
}

/// `[gitlab]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitLabSettings {
    /// How long GitLab holds a job request open waiting for a job (spec §0 M1): 0 on a default
    /// self-managed GitLab, up to 50 s on GitLab.com.
    pub long_poll: SimDuration,
}

/// `[[machines]]`: machines in the runner's machine store when the simulation starts; the
/// runner adopts them when it first lists them (Idle, UsedCount 1, spec §2.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreexistingMachines {
    /// The runner id whose name template the machines carry.
    pub runner: String,
    /// How many.
    pub count: u32,
    /// How long before the start they were created (billing starts then, but only the
    /// simulated span is billed).
    pub age: SimDuration,
}

/// `[[signals]]`: a signal sent to the runner process at an instant (spec §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalAt {
    /// When (since the scenario start).
    pub at: SimTime,
    /// `SIGQUIT` (graceful), `SIGTERM` or `SIGINT` (forceful).
    pub signal: Signal,
}

/// Options that override the scenario file (command-line flags).
#[derive(Clone, Debug, Default)]
pub struct ScenarioOverrides {
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--duration`.
    pub duration: Option<SimDuration>,
    /// Where fake-cloud profiles live (default: the project's `fakes/`).
    pub fakes_dir: Option<PathBuf>,
}

/// Why a scenario could not be loaded: located diagnostics, each with the source it is in
/// (the scenario file or the runner config).
#[derive(Clone, Debug)]
pub struct ScenarioError {
    /// The diagnostics and their sources, in order.
    pub items: Vec<(Diagnostic, SourceFile)>,
}

impl ScenarioError {
    fn one(d: Diagnostic, src: &SourceFile) -> Box<Self> {
        let mut d = d;
        src.locate(&mut d);
        Box::new(ScenarioError {
            items: vec![(d, src.clone())],
        })
    }

    /// The first error as one line (`FILE:LINE:COL: error[CODE]: PATH: MESSAGE`).
    pub fn first_line(&self) -> String {
        self.items
            .first()
            .map(|(d, s)| one_line(d, &s.name))
            .unwrap_or_default()
    }

    /// Every diagnostic with its snippet.
    pub fn render(&self) -> String {
        self.items.iter().map(|(d, s)| render(d, s)).collect()
    }
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.first_line())
    }
}

impl std::error::Error for ScenarioError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    scenario: RawHeader,
    runner: RawRunner,
    #[serde(default)]
    cloud: RawCloud,
    #[serde(default)]
    gitlab: RawGitLab,
    #[serde(default)]
    workload: Vec<Workload>,
    #[serde(default)]
    machines: Vec<RawMachines>,
    #[serde(default)]
    faults: Vec<crate::fake_cloud::FaultSpec>,
    #[serde(default)]
    signals: Vec<RawSignal>,
    #[serde(default)]
    expect: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    #[serde(default)]
    seed: u64,
    start: String,
    #[serde(default)]
    timezone: Option<String>,
    duration: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunner {
    #[serde(default)]
    config: Option<String>,
    #[serde(default)]
    inline: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCloud {
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    runners: BTreeMap<String, String>,
    #[serde(default = "yes")]
    stockouts: bool,
}

impl Default for RawCloud {
    fn default() -> Self {
        RawCloud {
            profile: None,
            runners: BTreeMap::new(),
            stockouts: true,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGitLab {
    #[serde(default)]
    long_poll: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignal {
    at: String,
    signal: Signal,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMachines {
    runner: String,
    count: u32,
    #[serde(default)]
    age: Option<String>,
}

/// Reads and validates a scenario file.
///
/// # Errors
/// An unreadable file, TOML syntax, an unknown or mistyped key, a bad duration, time or zone,
/// a runner config GitLab Runner would refuse, an unknown runner or cloud profile, or a
/// section that is not supported yet — each located in its file.
pub fn load_scenario(
    path: &Path,
    overrides: &ScenarioOverrides,
) -> Result<Scenario, Box<ScenarioError>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioError::one(
            Diagnostic::error(
                "unreadable-file",
                "",
                format!("cannot read the scenario: {e}"),
            ),
            &SourceFile::new(&name, ""),
        )
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_scenario_str(&name, &text, &base_dir, overrides)
}

/// Loads a scenario from text; `base_dir` resolves relative paths.
///
/// # Errors
/// As [`load_scenario`].
pub fn load_scenario_str(
    name: &str,
    text: &str,
    base_dir: &Path,
    overrides: &ScenarioOverrides,
) -> Result<Scenario, Box<ScenarioError>> {
    let src = SourceFile::new(name, text);
    let doc = toml::de::DeTable::parse(text).map_err(|e| {
        ScenarioError::one(
            Diagnostic::error(
                "toml-syntax",
                "",
                format!("TOML syntax error: {}", e.message().trim()),
            )
            .at(e.span()),
            &src,
        )
    })?;
    let key_span = |path: &[&str]| -> Option<std::ops::Range<usize>> {
        let mut table = doc.get_ref();
        let mut span = None;
        for (i, k) in path.iter().enumerate() {
            let (key, value) = table.get_key_value(*k)?;
            span = Some(key.span().start..value.span().end);
            if i + 1 < path.len() {
                match value.get_ref() {
                    toml::de::DeValue::Table(t) => table = t,
                    _ => return span,
                }
            }
        }
        span
    };
    // The span of `array[index]`'s `key` (key and value), or of the whole element.
    let item_span = |array: &str, index: usize, key: Option<&str>| {
        let (_, value) = doc.get_ref().get_key_value(array)?;
        let toml::de::DeValue::Array(items) = value.get_ref() else {
            return None;
        };
        let item = items.get(index)?;
        if let (Some(k), toml::de::DeValue::Table(t)) = (key, item.get_ref())
            && let Some((kk, vv)) = t.get_key_value(k)
        {
            return Some(kk.span().start..vv.span().end);
        }
        Some(item.span())
    };
    let raw: RawScenario = {
        let de = toml::de::Deserializer::parse(text).map_err(|e| {
            ScenarioError::one(
                Diagnostic::error("toml-syntax", "", e.message().trim().to_string()).at(e.span()),
                &src,
            )
        })?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.inner();
            let path = if path == "." { String::new() } else { path };
            ScenarioError::one(
                Diagnostic::error("invalid-scenario", path, inner.message().trim().to_string())
                    .at(inner.span()),
                &src,
            )
        })?
    };
    for (section, value) in [("expect", &raw.expect)] {
        if value.is_some() {
            return Err(ScenarioError::one(
                Diagnostic::error(
                    "not-supported-yet",
                    section,
                    format!(
                        "[{section}] is not supported yet: it comes with a later simrun release"
                    ),
                )
                .at(key_span(&[section])),
                &src,
            ));
        }
    }
    let err = |code: &'static str, path: &[&str], msg: String| {
        ScenarioError::one(
            Diagnostic::error(code, path.join("."), msg).at(key_span(path)),
            &src,
        )
    };
    let start: Timestamp = raw.scenario.start.parse().map_err(|e| {
        err(
            "invalid-time",
            &["scenario", "start"],
            format!("expected an RFC 3339 instant such as \"2026-03-02T08:00:00Z\": {e}"),
        )
    })?;
    let timezone = raw
        .scenario
        .timezone
        .clone()
        .unwrap_or_else(|| "UTC".to_string());
    let local: TimeZone = lookup_zone(&timezone)
        .map_err(|e| err("unknown-timezone", &["scenario", "timezone"], e))?;
    let duration = match overrides.duration {
        Some(d) => d,
        None => parse_duration(&raw.scenario.duration)
            .map_err(|e| err("invalid-duration", &["scenario", "duration"], e.to_string()))?,
    };
    if duration == SimDuration::ZERO {
        return Err(err(
            "invalid-duration",
            &["scenario", "duration"],
            "the duration must be positive".into(),
        ));
    }
    let long_poll = match &raw.gitlab.long_poll {
        Some(s) => parse_duration(s)
            .map_err(|e| err("invalid-duration", &["gitlab", "long_poll"], e.to_string()))?,
        None => SimDuration::ZERO,
    };
    let opts = LoadOptions {
        local_zone: local.clone(),
    };
    let runner = match (&raw.runner.config, &raw.runner.inline) {
        (Some(p), None) => {
            let path = base_dir.join(p);
            load_config_file(&path, &opts).map_err(|f| config_error(*f))?
        }
        (None, Some(inline)) => load_inline(name, text, &doc, inline, &opts)?,
        _ => {
            return Err(err(
                "invalid-scenario",
                &["runner"],
                "expected exactly one of `config` (a path to a GitLab Runner config.toml) or `inline` (its TOML text)".into(),
            ));
        }
    };
    let config = &runner.config;
    let runner_ids: Vec<String> = config.runners.iter().map(|r| r.id.clone()).collect();
    let known = |id: &str| runner_ids.iter().any(|r| r == id);
    let list = runner_ids.join(", ");
    for (i, w) in raw.workload.iter().enumerate() {
        if let Some(r) = &w.runner
            && !known(r)
        {
            return Err(ScenarioError::one(
                Diagnostic::error(
                    "unknown-runner",
                    format!("workload[{i}].runner"),
                    format!("no runner {r:?} in the runner config (runners: {list})"),
                )
                .at(item_span("workload", i, Some("runner"))),
                &src,
            ));
        }
    }
    let mut machines = Vec::new();
    for (i, m) in raw.machines.iter().enumerate() {
        let autoscaled = config.runner(&m.runner).is_some_and(|r| r.is_autoscaled());
        if !autoscaled {
            return Err(ScenarioError::one(
                Diagnostic::error(
                    "unknown-runner",
                    format!("machines[{i}].runner"),
                    format!(
                        "no docker+machine runner {:?} in the runner config (runners: {list})",
                        m.runner
                    ),
                )
                .at(item_span("machines", i, Some("runner"))),
                &src,
            ));
        }
        let age = match &m.age {
            Some(a) => parse_duration(a).map_err(|e| {
                ScenarioError::one(
                    Diagnostic::error(
                        "invalid-duration",
                        format!("machines[{i}].age"),
                        e.to_string(),
                    ),
                    &src,
                )
            })?,
            None => SimDuration::ZERO,
        };
        machines.push(PreexistingMachines {
            runner: m.runner.clone(),
            count: m.count,
            age,
        });
    }
    let mut notes: Vec<String> = Vec::new();
    let mut signals = Vec::new();
    for (i, sig) in raw.signals.iter().enumerate() {
        let at = parse_duration(&sig.at).map_err(|e| {
            ScenarioError::one(
                Diagnostic::error(
                    "invalid-duration",
                    format!("signals[{i}].at"),
                    e.to_string(),
                ),
                &src,
            )
        })?;
        if at >= duration && overrides.duration.is_some() {
            // `--duration` cut the scenario short: the signal never comes.
            notes.push(format!(
                "{}: signals[{i}] at {} is dropped: the run ends at {duration} (--duration)",
                src.name, sig.at
            ));
            continue;
        }
        if at >= duration {
            return Err(ScenarioError::one(
                Diagnostic::error(
                    "invalid-scenario",
                    format!("signals[{i}].at"),
                    format!(
                        "{} is not before the end of the scenario ({duration})",
                        sig.at
                    ),
                ),
                &src,
            ));
        }
        signals.push(SignalAt {
            at: SimTime(at.as_millis()),
            signal: sig.signal,
        });
    }
    signals.sort_by_key(|s| s.at);
    // `--duration` shorter than the file's: windows past the end are clipped or dropped, so
    // a quick shorter run of a shipped scenario works (with a warning for each).
    let mut faults = Vec::new();
    for (i, mut f) in raw.faults.iter().cloned().enumerate() {
        if overrides.duration.is_some() {
            if f.from >= duration {
                notes.push(format!(
                    "{}: faults[{i}] ({}) from {} is dropped: the run ends at {duration} (--duration)",
                    src.name,
                    f.kind.name(),
                    f.from
                ));
                continue;
            }
            if let Some(to) = f.to.filter(|t| *t > duration) {
                notes.push(format!(
                    "{}: faults[{i}] ({}) window {}-{to} is clipped to end with the run at {duration} (--duration)",
                    src.name,
                    f.kind.name(),
                    f.from
                ));
                f.to = None;
            }
        }
        faults.push((i, f));
    }
    for (i, f) in &faults {
        let i = *i;
        if let Err(e) = f.validate(duration) {
            // Point at the key the message is about, else at the entry.
            const KEYS: [&str; 15] = [
                "kind",
                "from",
                "to",
                "probability",
                "factor",
                "code",
                "message",
                "instances",
                "vcpus",
                "stage",
                "delay",
                "rate_per_hour",
                "notice",
                "overwrite",
                "scope",
            ];
            let key = KEYS
                .iter()
                .find(|k| e.starts_with(*k))
                .or_else(|| KEYS.iter().find(|k| e.contains(&format!("`{k}`"))))
                .copied();
            return Err(ScenarioError::one(
                Diagnostic::error("invalid-fault", format!("faults[{i}]"), e)
                    .at(item_span("faults", i, key).or_else(|| key_span(&["faults"]))),
                &src,
            ));
        }
    }
    let fakes_dir = overrides
        .fakes_dir
        .clone()
        .unwrap_or_else(crate::fake_cloud::shipped_fakes_dir);
    let mut profiles = BTreeMap::new();
    for r in config.autoscaled_runners() {
        let driver = r
            .machine
            .as_ref()
            .map(|m| m.machine_driver.as_str())
            .unwrap_or("");
        let chosen = raw
            .cloud
            .runners
            .get(&r.id)
            .or(raw.cloud.profile.as_ref())
            .cloned()
            .or_else(|| profile_name_for_driver(driver).map(str::to_string));
        let Some(profile_name) = chosen else {
            return Err(err(
                "unknown-profile",
                &["cloud"],
                format!(
                    "runner {} uses MachineDriver {driver:?}, which has no fake-cloud profile: set [cloud] profile = \"…\" (available: {})",
                    r.id,
                    crate::fake_cloud::available_profiles(&fakes_dir).join(", ")
                ),
            ));
        };
        // A path (with `/` or `.toml`) is relative to the scenario file, like every path here.
        let profile_name = if profile_name.contains('/') || profile_name.ends_with(".toml") {
            base_dir.join(&profile_name).display().to_string()
        } else {
            profile_name
        };
        let mut profile = Profile::load(&profile_name, &fakes_dir)
            .map_err(|e| err("unknown-profile", &["cloud"], e.to_string()))?;
        if !raw.cloud.stockouts {
            // `[cloud] stockouts = false`: the profile's stockout episodes are off.
            profile.capacity.episodes_per_day = 0.0;
        }
        profiles.insert(r.id.clone(), profile);
    }
    // Fault scopes must name what the runners have (a typo would make a silent no-op).
    let mut clouds = BTreeMap::new();
    for r in config.autoscaled_runners() {
        let (driver, options) = r
            .machine
            .as_ref()
            .map(|m| (m.machine_driver.as_str(), m.machine_options.as_slice()))
            .unwrap_or(("", &[]));
        if let Some(p) = profiles.get(&r.id)
            && let Ok(rc) = crate::fake_cloud::driver::RunnerCloud::new(p.clone(), driver, options)
        {
            clouds.insert(r.id.clone(), rc);
        }
    }
    let runner_ids: Vec<String> = config.runners.iter().map(|r| r.id.clone()).collect();
    for (i, f) in &faults {
        let i = *i;
        if let Err(e) = crate::fake_cloud::scope::check_scope(f, &runner_ids, &clouds) {
            return Err(ScenarioError::one(
                Diagnostic::error("invalid-fault", format!("faults[{i}].scope"), e).at(item_span(
                    "faults",
                    i,
                    Some("scope"),
                )),
                &src,
            ));
        }
    }
    for id in raw.cloud.runners.keys() {
        if !known(id) {
            return Err(err(
                "unknown-runner",
                &["cloud", "runners"],
                format!("no runner {id:?} in the runner config (runners: {list})"),
            ));
        }
    }
    Ok(Scenario {
        name: raw.scenario.name,
        seed: overrides.seed.unwrap_or(raw.scenario.seed),
        calendar: Calendar::new(start, local),
        timezone,
        duration,
        runner,
        profiles,
        gitlab: GitLabSettings { long_poll },
        workloads: raw.workload,
        machines,
        signals,
        faults: faults.into_iter().map(|(_, f)| f).collect(),
        base_dir: base_dir.to_path_buf(),
        fakes_dir,
        warnings: notes,
    })
}

fn config_error(f: crate::config::LoadFailure) -> Box<ScenarioError> {
    let src = f.source.clone();
    Box::new(ScenarioError {
        items: f.errors.into_iter().map(|d| (d, src.clone())).collect(),
    })
}

/// Loads `[runner] inline`. With a literal string (`'''…'''`) the config's positions are
/// mapped back to lines of the scenario file; otherwise they are relative to the string.
fn load_inline(
    name: &str,
    text: &str,
    doc: &toml::Spanned<toml::de::DeTable<'_>>,
    inline: &str,
    opts: &LoadOptions,
) -> Result<LoadedConfig, Box<ScenarioError>> {
    let offset = doc
        .get_ref()
        .get("runner")
        .and_then(|v| match v.get_ref() {
            toml::de::DeValue::Table(t) => t.get("inline").map(|v| v.span()),
            _ => None,
        })
        .and_then(|span| {
            let raw = text.get(span.clone())?;
            let body = raw.strip_prefix("'''")?;
            Some(span.start + 3 + usize::from(body.starts_with('\n')))
        });
    let display = format!("{name} [runner.inline]");
    match load_config_str(&display, inline, opts) {
        Ok(l) => Ok(l),
        Err(f) => {
            let Some(off) = offset else {
                return Err(config_error(*f));
            };
            // Re-locate against the scenario file: same bytes, shifted by the string's start.
            let src =
                SourceFile::new(name, text).with_shown(crate::config::redact::mask_secrets(text));
            let items = f
                .errors
                .into_iter()
                .map(|mut d| {
                    d.span = d.span.map(|s| s.start + off..s.end + off);
                    src.locate(&mut d);
                    (d, src.clone())
                })
                .collect();
            Err(Box::new(ScenarioError { items }))
        }
    }
}

#[cfg(test)]
mod tests;
