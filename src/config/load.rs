//! Loading a GitLab Runner `config.toml` as GitLab Runner does (spec §1, corrected by §0).
//!
//! * Load **errors** where GitLab Runner refuses the file: TOML syntax, a value of the wrong
//!   type, an invalid autoscaling period or time zone, `MachineOptionsWithName` without `%s`,
//!   an explicit `concurrent` < 1 (fatal at start, §0 M7) — and where it loads but **crashes**
//!   at the first Acquire (a reversed second/minute/hour range, §0 W5).
//! * **Warnings** for what loads but misbehaves, each stating the consequence (see
//!   [`super::lint`]).
//! * Every other key and table is accepted and ignored, as GitLab Runner does; they are listed
//!   in [`LoadedConfig::ignored`] for `simrun check --verbose`.

use std::path::Path;

use jiff::tz::TimeZone;
use toml::de::DeTable;

use super::diagnostic::{Diagnostic, Severity, SourceFile};
use super::lint;
use super::model::*;
use super::period::{PeriodError, Periods};
use super::toml_reader::{IgnoredKey, ReadLog, TableCursor};

/// Options for loading a config.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The zone that `Local` (or an empty `Timezone`) means: a scenario's `timezone`, or
    /// `simrun check --timezone`; default UTC. Never the host's zone.
    pub local_zone: TimeZone,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            local_zone: TimeZone::UTC,
        }
    }
}

/// A config that loaded, with its warnings and the keys GitLab Runner ignores.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    /// The model.
    pub config: Config,
    /// Warnings, located, in document order.
    pub warnings: Vec<Diagnostic>,
    /// Keys and tables accepted and ignored (as GitLab Runner ignores them for autoscaling).
    pub ignored: Vec<IgnoredKey>,
    /// The source, for rendering diagnostics.
    pub source: SourceFile,
}

/// A config that GitLab Runner would refuse (or crash on).
#[derive(Clone, Debug)]
pub struct LoadFailure {
    /// The errors, located, in document order (at least one).
    pub errors: Vec<Diagnostic>,
    /// Warnings found as well.
    pub warnings: Vec<Diagnostic>,
    /// The source, for rendering diagnostics.
    pub source: SourceFile,
}

impl LoadFailure {
    /// All diagnostics rendered with snippets, errors first.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in self.errors.iter().chain(&self.warnings) {
            out.push_str(&super::diagnostic::render(d, &self.source));
        }
        out
    }

    /// The first error as one line (`FILE:LINE:COL: error[CODE]: PATH: MESSAGE`).
    pub fn first_line(&self) -> String {
        self.errors
            .first()
            .map(|d| super::diagnostic::one_line(d, &self.source.name))
            .unwrap_or_default()
    }
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.first_line())
    }
}

impl std::error::Error for LoadFailure {}

/// Reads and loads the file at `path`. The display name in messages is `path` as given.
///
/// # Errors
/// An unreadable file, or any load error (see the module docs).
pub fn load_config_file(path: &Path, opts: &LoadOptions) -> Result<LoadedConfig, Box<LoadFailure>> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load_config_str(&name, &text, opts),
        Err(e) => Err(Box::new(LoadFailure {
            errors: vec![Diagnostic::error(
                "unreadable-file",
                "",
                format!("cannot read the file: {e}"),
            )],
            warnings: Vec::new(),
            source: SourceFile::new(name, String::new()),
        })),
    }
}

/// Loads a config from text; `name` is used in messages.
///
/// # Errors
/// Any load error (see the module docs).
pub fn load_config_str(
    name: &str,
    text: &str,
    opts: &LoadOptions,
) -> Result<LoadedConfig, Box<LoadFailure>> {
    let source = SourceFile::new(name, text).with_shown(super::redact::mask_secrets(text));
    let mut log = ReadLog::default();
    let doc = match DeTable::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let mut d = Diagnostic::error(
                "toml-syntax",
                "",
                format!("TOML syntax error: {}", e.message().trim()),
            )
            .at(e.span());
            source.locate(&mut d);
            return Err(Box::new(LoadFailure {
                errors: vec![d],
                warnings: Vec::new(),
                source,
            }));
        }
    };
    let config = read_config(doc.get_ref(), &source, opts, &mut log);
    lint::check(&config, &source, &mut log);

    for d in log.errors.iter_mut().chain(log.warnings.iter_mut()) {
        source.locate(d);
    }
    let by_place = |a: &Diagnostic, b: &Diagnostic| {
        (a.line.unwrap_or(0), a.column.unwrap_or(0))
            .cmp(&(b.line.unwrap_or(0), b.column.unwrap_or(0)))
    };
    log.errors.sort_by(by_place);
    log.warnings.sort_by(by_place);
    debug_assert!(log.errors.iter().all(|d| d.severity == Severity::Error));
    if log.errors.is_empty() {
        Ok(LoadedConfig {
            config,
            warnings: log.warnings,
            ignored: log.ignored,
            source,
        })
    } else {
        Err(Box::new(LoadFailure {
            errors: log.errors,
            warnings: log.warnings,
            source,
        }))
    }
}

fn read_config(
    root: &DeTable<'_>,
    src: &SourceFile,
    opts: &LoadOptions,
    log: &mut ReadLog,
) -> Config {
    let mut top = TableCursor::new(root, "");
    let concurrent = top.int("concurrent", log);
    let check_interval = top.int("check_interval", log).unwrap_or(0);
    let shutdown_timeout = top.int("shutdown_timeout", log).unwrap_or(0);
    let mut shutdown_drain = None;
    if let Some(mut machine) = top.table("machine", log) {
        if let Some(mut drain) = machine.table("shutdown_drain", log) {
            let mut d = ShutdownDrain {
                enabled: drain.bool("enabled", log).unwrap_or(false),
                concurrency: drain.int("concurrency", log).unwrap_or(0),
                max_retries: drain.int("max_retries", log).unwrap_or(0),
                retry_backoff_ns: 0,
            };
            if let Some((ns, as_integer)) = drain.duration("retry_backoff", log) {
                d.retry_backoff_ns = ns;
                if as_integer {
                    lint::integer_retry_backoff(ns, drain.path(), log);
                }
            }
            drain.finish(src, log);
            shutdown_drain = Some(d);
        }
        machine.finish(src, log);
    }
    let mut runners = Vec::new();
    if let Some(tables) = top.array_of_tables("runners", log) {
        for (index, t) in tables.into_iter().enumerate() {
            runners.push(read_runner(index, t, src, opts, log));
        }
    }
    top.finish(src, log);
    assign_ids(&mut runners, log);

    if let Some(c) = concurrent
        && c < 1
    {
        log.errors.push(
            Diagnostic::error(
                "invalid-value",
                "concurrent",
                format!("concurrent = {c}: GitLab Runner refuses to start with a value below 1"),
            )
            .at(log.value_span("concurrent"))
            .help("set concurrent to the number of jobs this runner manager may run at once (omitted means 1)"),
        );
    }
    Config {
        concurrent: concurrent.unwrap_or(1),
        concurrent_set: concurrent.is_some(),
        check_interval,
        shutdown_timeout,
        shutdown_drain,
        runners,
    }
}

fn read_runner(
    index: usize,
    mut t: TableCursor<'_, '_>,
    src: &SourceFile,
    opts: &LoadOptions,
    log: &mut ReadLog,
) -> RunnerConfig {
    let name = t.string("name", log);
    let url = t.string("url", log).unwrap_or_default();
    let token = Secret::new(t.string("token", log).unwrap_or_default());
    let executor = t.string("executor", log).unwrap_or_default();
    let limit = t.int("limit", log).unwrap_or(0);
    let request_concurrency = t.int("request_concurrency", log).unwrap_or(0);
    let strict_check_interval = t.bool("strict_check_interval", log).unwrap_or(false);
    let machine = t
        .table("machine", log)
        .map(|m| read_machine(m, src, opts, log));
    t.finish(src, log);
    RunnerConfig {
        index,
        id: String::new(),
        name,
        url,
        token,
        executor,
        limit,
        request_concurrency,
        strict_check_interval,
        machine,
    }
}

fn read_machine(
    mut m: TableCursor<'_, '_>,
    src: &SourceFile,
    opts: &LoadOptions,
    log: &mut ReadLog,
) -> MachineConfig {
    let idle = IdleSettings {
        idle_count: m.int("IdleCount", log).unwrap_or(0),
        idle_count_min: m.int("IdleCountMin", log).unwrap_or(0),
        idle_scale_factor: m.float("IdleScaleFactor", log).unwrap_or(0.0),
        idle_time: m.int("IdleTime", log).unwrap_or(0),
    };
    let mut mc = MachineConfig {
        max_growth_rate: m.int("MaxGrowthRate", log).unwrap_or(0),
        idle,
        max_builds: m.int("MaxBuilds", log).unwrap_or(0),
        machine_driver: m.string("MachineDriver", log).unwrap_or_default(),
        machine_name: m.string("MachineName", log).unwrap_or_default(),
        machine_options: strings_only(m.strings("MachineOptions", log)),
        machine_options_with_name: Vec::new(),
        max_removal_attempts: m.int("MaxRemovalAttempts", log).unwrap_or(0),
        off_peak_periods: Vec::new(),
        autoscaling: Vec::new(),
    };
    for (opt, path, span) in m.strings("MachineOptionsWithName", log).unwrap_or_default() {
        if !opt.contains("%s") {
            log.errors.push(
                Diagnostic::error(
                    "option-without-placeholder",
                    path,
                    format!(
                        "machine option with name {:?} must contain %s placeholder (GitLab Runner refuses to load the config)",
                        super::token::redact_machine_option(&opt)
                    ),
                )
                .at(Some(span))
                .help("write the option with %s where the machine name goes, e.g. \"google-disk-name=%s-disk\""),
            );
        }
        mc.machine_options_with_name.push(opt);
    }
    // Deprecated OffPeak settings: accepted, never parsed, ignored since 14.0 (spec §1.1).
    mc.off_peak_periods = strings_only(m.strings("OffPeakPeriods", log));
    let _ = m.string("OffPeakTimezone", log);
    let _ = m.int("OffPeakIdleCount", log);
    let _ = m.int("OffPeakIdleTime", log);
    if let Some(entries) = m.array_of_tables("autoscaling", log) {
        for mut e in entries {
            let periods_raw = e.strings("Periods", log).unwrap_or_default();
            let timezone = e.string("Timezone", log).unwrap_or_default();
            let idle = IdleSettings {
                idle_count: e.int("IdleCount", log).unwrap_or(0),
                idle_count_min: e.int("IdleCountMin", log).unwrap_or(0),
                idle_scale_factor: e.float("IdleScaleFactor", log).unwrap_or(0.0),
                idle_time: e.int("IdleTime", log).unwrap_or(0),
            };
            let entry_path = e.path().to_string();
            let texts: Vec<String> = periods_raw.iter().map(|(s, _, _)| s.clone()).collect();
            match Periods::compile(&texts, &timezone, &opts.local_zone) {
                Ok(periods) => mc.autoscaling.push(AutoscalingEntry {
                    periods_raw: texts,
                    timezone,
                    periods,
                    idle,
                }),
                Err(PeriodError::Expression {
                    index,
                    expr,
                    reason,
                }) => {
                    let (path, span) = periods_raw
                        .get(index)
                        .map(|(_, p, s)| (p.clone(), Some(s.clone())))
                        .unwrap_or((format!("{entry_path}.Periods"), None));
                    log.errors.push(
                        Diagnostic::error(
                            "invalid-period",
                            path,
                            format!("invalid period {expr:?}: {reason}; GitLab Runner refuses to load the config (compiling docker machine autoscaling periods)"),
                        )
                        .at(span)
                        .help("periods use gorhill/cronexpr syntax: [second] minute hour day-of-month month day-of-week [year], e.g. \"* * 9-17 * * mon-fri *\""),
                    );
                }
                Err(PeriodError::Zone { name, reason }) => {
                    let path = format!("{entry_path}.Timezone");
                    let span = log.value_span(&path);
                    log.errors.push(
                        Diagnostic::error(
                            "unknown-timezone",
                            path,
                            format!("{reason}; GitLab Runner refuses to load the config"),
                        )
                        .at(span)
                        .help(format!("use an IANA zone name such as \"Europe/Berlin\" or \"UTC\" (got {name:?})")),
                    );
                }
            }
            e.finish(src, log);
        }
    }
    m.finish(src, log);
    mc
}

fn strings_only(v: Option<Vec<(String, String, std::ops::Range<usize>)>>) -> Vec<String> {
    v.unwrap_or_default()
        .into_iter()
        .map(|(s, _, _)| s)
        .collect()
}

/// Gives every runner a stable id: its `name` when unique and non-empty, else `runners[i]`.
fn assign_ids(runners: &mut [RunnerConfig], log: &mut ReadLog) {
    let names: Vec<Option<String>> = runners.iter().map(|r| r.name.clone()).collect();
    for r in runners.iter_mut() {
        let unique = r.name.as_ref().is_some_and(|n| {
            !n.is_empty()
                && names
                    .iter()
                    .filter(|m| m.as_deref() == Some(n.as_str()))
                    .count()
                    == 1
        });
        r.id = match (&r.name, unique) {
            (Some(n), true) => n.clone(),
            _ => format!("runners[{}]", r.index),
        };
        if let Some(n) = &r.name
            && !n.is_empty()
            && !unique
        {
            let path = format!("runners[{}].name", r.index);
            log.warnings.push(
                Diagnostic::warning(
                    "duplicate-runner-name",
                    path.clone(),
                    format!(
                        "several runners are named {n:?}; simrun calls this one {}",
                        r.id
                    ),
                )
                .at(log.value_span(&path)),
            );
        }
    }
}
