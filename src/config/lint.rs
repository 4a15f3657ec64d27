//! Checks on a loaded config: what GitLab Runner accepts but runs badly (warnings, each
//! stating the consequence) and the one thing it accepts but crashes on (an error, spec §0 W5).
//! Sources: spec §0 (W1, W3, W5, M7, M14, M15, M16), §1, §6 (Q4, Q5, Q7, Q11, Q22, Q25).

use super::diagnostic::{Diagnostic, SourceFile};
use super::go_duration::format_go_duration;
use super::model::{Config, IdleSettings, MachineConfig, RunnerConfig};
use super::period::CronLint;
use super::toml_reader::ReadLog;

/// Warns that an integer `retry_backoff` is read as nanoseconds (spec §0 M15).
pub fn integer_retry_backoff(ns: i64, table_path: &str, log: &mut ReadLog) {
    let path = format!("{table_path}.retry_backoff");
    log.warnings.push(
        Diagnostic::warning(
            "integer-duration",
            path.clone(),
            format!(
                "retry_backoff = {ns} is an integer, which GitLab Runner reads as nanoseconds ({}); a value ≤ 0 means 5s",
                format_go_duration(ns)
            ),
        )
        .at(log.value_span(&path))
        .help(format!("write a duration string, e.g. retry_backoff = \"{ns}s\"")),
    );
}

/// Runs every config-level check and appends to `log`.
pub fn check(config: &Config, src: &SourceFile, log: &mut ReadLog) {
    lookalike_keys(log);
    misplaced_drain_table(log);
    let runners = config.runners.len() as i64;
    if config.concurrent >= 1 && config.concurrent < runners {
        log.warnings.push(
            Diagnostic::warning(
                "concurrent-below-runners",
                "concurrent",
                format!(
                    "concurrent = {} is below the number of [[runners]] ({runners}): the feeder blocks until a worker is free, so some runners are fed less often than check_interval",
                    config.concurrent
                ),
            )
            .at(log.value_span("concurrent").or_else(|| log.span("runners[0]"))),
        );
    }
    for r in &config.runners {
        check_runner(r, log);
    }
    overlapping_prefixes(config, log);
    if let Some(d) = &config.shutdown_drain
        && d.enabled
        && config.effective_shutdown_timeout_secs() < 300
    {
        log.warnings.push(
            Diagnostic::warning(
                "short-drain-budget",
                "shutdown_timeout",
                format!(
                    "shutdown drain is enabled but shutdown_timeout is {} s (< 5 min, GitLab Runner logs a warning): machines not drained in time are left running or orphaned",
                    config.effective_shutdown_timeout_secs()
                ),
            )
            .at(log.value_span("shutdown_timeout").or_else(|| log.span("machine.shutdown_drain"))),
        );
    }
    let _ = src;
}

fn lookalike_keys(log: &mut ReadLog) {
    let found: Vec<Diagnostic> = log
        .ignored
        .iter()
        .filter_map(|k| {
            let field = k.looks_like.as_ref()?;
            let written = k.path.rsplit('.').next().unwrap_or(&k.path);
            Some(
                Diagnostic::warning(
                    "unknown-key-lookalike",
                    k.path.clone(),
                    format!(
                        "`{written}` is silently ignored by GitLab Runner (keys match only exactly or case-insensitively), so {field} keeps its default"
                    ),
                )
                .at(Some(k.span.clone()))
                .help(format!("did you mean `{field}`?")),
            )
        })
        .collect();
    log.warnings.extend(found);
}

fn misplaced_drain_table(log: &mut ReadLog) {
    let found: Vec<Diagnostic> = log
        .ignored
        .iter()
        .filter(|k| k.path.starts_with("runners[") && k.path.to_ascii_lowercase().ends_with(".machine.shutdown_drain"))
        .map(|k| {
            Diagnostic::warning(
                "misplaced-drain",
                k.path.clone(),
                "GitLab Runner does not read a per-runner shutdown_drain table (spec Q25): the drain is configured globally in [machine.shutdown_drain]",
            )
            .at(Some(k.span.clone()))
            .help("move it to a top-level [machine.shutdown_drain] table")
        })
        .collect();
    log.warnings.extend(found);
}

fn check_runner(r: &RunnerConfig, log: &mut ReadLog) {
    let base = format!("runners[{}]", r.index);
    let is_dm = r.executor == "docker+machine";
    if r.executor.is_empty() {
        log.warnings.push(
            Diagnostic::warning(
                "missing-executor",
                base.clone(),
                format!(
                    "runner {} has no executor: GitLab Runner cannot run its jobs",
                    r.id
                ),
            )
            .at(log.span(&base)),
        );
    }
    match (&r.machine, is_dm) {
        (None, true) => log.warnings.push(
            Diagnostic::warning(
                "missing-machine-options",
                base.clone(),
                format!("runner {} uses docker+machine without [runners.machine]: every Acquire fails with \"missing Machine options\" and no job ever runs", r.id),
            )
            .at(log.span(&format!("{base}.executor"))),
        ),
        (Some(_), false) if !r.executor.is_empty() => log.warnings.push(
            Diagnostic::warning(
                "machine-unused",
                format!("{base}.machine"),
                format!("[runners.machine] has no effect for executor {:?}: this runner gets no autoscaler (it still shares `concurrent`)", r.executor),
            )
            .at(log.span(&format!("{base}.machine"))),
        ),
        _ => {}
    }
    let Some(m) = &r.machine else { return };
    if !is_dm {
        return;
    }
    check_machine(r, m, &format!("{base}.machine"), log);
}

fn warn(log: &mut ReadLog, code: &'static str, path: String, message: String, help: Option<&str>) {
    let span = log.value_span(&path).or_else(|| log.span(&path));
    let mut d = Diagnostic::warning(code, path, message).at(span);
    if let Some(h) = help {
        d = d.help(h);
    }
    log.warnings.push(d);
}

fn check_machine(r: &RunnerConfig, m: &MachineConfig, base: &str, log: &mut ReadLog) {
    if m.machine_name.is_empty() {
        warn(
            log,
            "missing-machine-name",
            format!("{base}.MachineName"),
            format!(
                "runner {} has no MachineName: every Acquire fails with \"missing Machine options\" and no job ever runs",
                r.id
            ),
            Some("set MachineName to a template with %s, e.g. \"auto-scale-%s\""),
        );
        if log.span(&format!("{base}.MachineName")).is_none()
            && let Some(last) = log.warnings.last_mut()
        {
            last.span = log.spans.get(base).cloned();
        }
    } else if !m.machine_name.contains("%s") {
        warn(
            log,
            "machine-name-without-placeholder",
            format!("{base}.MachineName"),
            "MachineName has no %s: generated names get a formatting-error suffix that docker-machine rejects and the ownership filter never matches, so every Acquire starts failing creations and no machine ever appears (spec Q22, §0 M16)".into(),
            Some("put %s where the unique part of the name goes, e.g. \"auto-scale-%s\""),
        );
    }
    if m.max_growth_rate < 0 {
        warn(
            log,
            "negative-max-growth-rate",
            format!("{base}.MaxGrowthRate"),
            format!(
                "MaxGrowthRate = {}: every creation waits forever on the growth semaphore (0 ≥ {} holds), so no machine is ever created (spec §0 W1)",
                m.max_growth_rate, m.max_growth_rate
            ),
            Some("use 0 for unlimited growth, or a positive limit"),
        );
    }
    if r.limit > 0 && m.idle.idle_count > r.limit {
        warn(
            log,
            "idle-count-above-limit",
            format!("{base}.IdleCount"),
            format!(
                "IdleCount = {} is above limit = {}: at most {} machines exist, so the idle target is never reached",
                m.idle.idle_count, r.limit, r.limit
            ),
            None,
        );
    }
    check_idle(&m.idle, base, None, log);
    let off_peak: Vec<String> = [
        "OffPeakPeriods",
        "OffPeakTimezone",
        "OffPeakIdleCount",
        "OffPeakIdleTime",
    ]
    .iter()
    .map(|k| format!("{base}.{k}"))
    .filter(|p| log.span(p).is_some())
    .collect();
    for p in off_peak {
        warn(
            log,
            "deprecated-off-peak",
            p.clone(),
            format!(
                "{} is deprecated and ignored since GitLab Runner 14.0",
                p.rsplit('.').next().unwrap_or(&p)
            ),
            Some("use [[runners.machine.autoscaling]] entries with Periods instead"),
        );
    }
    for (i, e) in m.autoscaling.iter().enumerate() {
        let ep = format!("{base}.autoscaling[{i}]");
        if e.periods_raw.is_empty() {
            warn(
                log,
                "period-never-active",
                ep.clone(),
                "this autoscaling entry has no Periods, so it is never active".into(),
                None,
            );
        }
        check_idle(&e.idle, &ep, Some(&m.idle), log);
        for (j, expr) in e.periods.expressions().iter().enumerate() {
            let pp = format!("{ep}.Periods[{j}]");
            for lint in expr.lints() {
                period_lint(&pp, expr.source(), &lint, log);
            }
        }
    }
}

/// Checks one set of idle values (the root, or an autoscaling entry with the root beside it).
fn check_idle(idle: &IdleSettings, base: &str, root: Option<&IdleSettings>, log: &mut ReadLog) {
    let place = if root.is_some() {
        "while this entry is active, "
    } else {
        ""
    };
    if idle.idle_count < 0 {
        warn(
            log,
            "negative-idle-count",
            format!("{base}.IdleCount"),
            format!(
                "{place}IdleCount = {} disables pre-creation but is not on-demand mode (only 0 is): the runner never creates a machine and never takes a job (spec Q11)",
                idle.idle_count
            ),
            Some("use 0 for on-demand mode"),
        );
    }
    if idle.idle_scale_factor > 0.0 {
        if idle.idle_count == 0 {
            warn(
                log,
                "scale-factor-without-idle-count",
                format!("{base}.IdleScaleFactor"),
                format!(
                    "{place}IdleScaleFactor has no effect with IdleCount = 0: the idle target is min(IdleCount, …) = 0 (spec §3.2)"
                ),
                Some(
                    "IdleCount caps the scale-factor target; set it to the most idle machines you want",
                ),
            );
        }
        if idle.idle_count_min <= 0 {
            let path = format!("{base}.IdleCountMin");
            let p = if log.span(&path).is_some() {
                path
            } else {
                format!("{base}.IdleScaleFactor")
            };
            warn(
                log,
                "idle-count-min-zero",
                p,
                format!(
                    "{place}IdleCountMin is {} with IdleScaleFactor > 0: GitLab Runner uses 1 (spec Q7)",
                    idle.idle_count_min
                ),
                None,
            );
        }
    }
    let Some(root) = root else { return };
    let zeroed: [(&str, bool); 4] = [
        ("IdleCount", root.idle_count != 0),
        ("IdleCountMin", root.idle_count_min != 0),
        ("IdleScaleFactor", root.idle_scale_factor != 0.0),
        ("IdleTime", root.idle_time != 0),
    ];
    for (key, root_sets) in zeroed {
        if root_sets && log.span(&format!("{base}.{key}")).is_none() {
            let root_value = match key {
                "IdleCount" => root.idle_count.to_string(),
                "IdleCountMin" => root.idle_count_min.to_string(),
                "IdleScaleFactor" => root.idle_scale_factor.to_string(),
                _ => root.idle_time.to_string(),
            };
            warn(
                log,
                "period-zeroes-root-value",
                base.to_string(),
                format!(
                    "while this entry is active {key} is 0, not the root's {root_value}: an active entry replaces IdleCount, IdleCountMin, IdleScaleFactor and IdleTime together with no inheritance (spec §1.2, Q4)"
                ),
                Some(&format!(
                    "repeat {key} = {root_value} in this entry if you want it kept"
                )),
            );
        }
    }
}

fn period_lint(path: &str, source: &str, lint: &CronLint, log: &mut ReadLog) {
    let span = log.value_span(path);
    let d = match lint {
        CronLint::SecondsFixed { fields } => Diagnostic::warning(
            "period-seconds-fixed",
            path,
            format!("{source:?} has {fields} fields, so its seconds are fixed to 0: it is active only about one second per matching minute (spec §1.3, Q5)"),
        )
        .help("docker+machine periods take 7 fields: second minute hour day-of-month month day-of-week year, e.g. \"* * 9-17 * * mon-fri *\""),
        CronLint::Alias { alias } => Diagnostic::warning(
            "period-alias",
            path,
            format!("{alias} expands to a 7-field expression with seconds 0: it is active only about one second per occurrence (spec §0 M14)"),
        )
        .help("write the window explicitly, e.g. \"* * 0-5 * * * *\""),
        CronLint::EmptyDayOfWeekRange { token } => Diagnostic::warning(
            "period-never-matches",
            path,
            format!("day-of-week range {token:?} is empty (7 becomes 0 before ranges expand and ranges never wrap), so this period never matches (spec §0 W5)"),
        )
        .help("list the days instead, e.g. \"sat,sun\" or \"mon-sat,sun\""),
        CronLint::EmptyDayOfMonthRange { token } => Diagnostic::warning(
            "period-never-matches",
            path,
            format!("day-of-month range {token:?} is reversed, so it never matches (spec §0 W5)"),
        ),
        CronLint::IgnoredRange { field, token } => Diagnostic::warning(
            "period-ignored-range",
            path,
            format!("reversed {field} range {token:?} adds nothing (ranges never wrap, spec §0 W5); only the field's other entries apply"),
        )
        .help("split it, e.g. hours \"22-23,0-6\""),
        CronLint::ZeroPaddedValue { field, token } => Diagnostic::warning(
            "period-zero-padded",
            path,
            format!("zero-padded {field} value {token:?}: gorhill/cronexpr reads it as 0 (month 0 never matches; weekday 0 is Sunday)"),
        )
        .help("write the value without a leading zero"),
        CronLint::NeverMatches { why } => Diagnostic::warning(
            "period-never-matches",
            path,
            format!("{source:?} never matches: {why}"),
        ),
        CronLint::ReversedTimeRange { field, token } => Diagnostic::error(
            "period-crashes-runner",
            path,
            format!("reversed {field} range {token:?}: GitLab Runner loads this but crashes at the first Acquire (an index into an empty list, spec §0 W5)"),
        )
        .help("ranges never wrap: split it, e.g. hours \"22-23,0-6\""),
    };
    let d = d.at(span);
    if d.severity == super::diagnostic::Severity::Error {
        log.errors.push(d);
    } else {
        log.warnings.push(d);
    }
}

/// Two runners whose machine-name filters overlap adopt each other's machines (spec §2.5, Q22).
fn overlapping_prefixes(config: &Config, log: &mut ReadLog) {
    let prefixes: Vec<(&RunnerConfig, String)> = config
        .autoscaled_runners()
        .filter_map(|r| {
            let t = r.machine_name_template()?;
            let m = r.machine.as_ref()?;
            if !m.machine_name.contains("%s") {
                return None;
            }
            let cut = t.find("%s")?;
            Some((r, t[..cut].to_string()))
        })
        .collect();
    for (i, (a, pa)) in prefixes.iter().enumerate() {
        for (b, pb) in prefixes.iter().take(i) {
            if pa.starts_with(pb.as_str()) || pb.starts_with(pa.as_str()) {
                let path = format!("runners[{}].machine.MachineName", a.index);
                warn(
                    log,
                    "overlapping-machine-names",
                    path,
                    format!(
                        "machine names of runner {} (prefix {pa:?}) and runner {} (prefix {pb:?}) overlap: the ownership filter checks only the text before %s, so one runner adopts, reuses and removes the other's machines (spec Q22)",
                        a.id, b.id
                    ),
                    Some("give each runner a MachineName prefix that is not a prefix of another's"),
                );
            }
        }
    }
}
