//! `simrun check CONFIG`: load a GitLab Runner `config.toml` exactly as GitLab Runner would,
//! print errors (exit 2) or warnings (exit 0), each runner's effective settings, and for each
//! hour of a week which idle values apply.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::config::diagnostic::{one_line, render};
use crate::config::token::redact_machine_option;
use crate::config::week::{HourRow, week_start, week_table};
use crate::config::{LoadOptions, LoadedConfig, MachineConfig, RunnerConfig, load_config_file};

use super::{EXIT_BAD_INPUT, EXIT_OK};

/// Arguments of `simrun check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The GitLab Runner config.toml to check.
    pub config: PathBuf,
    /// The IANA zone that `Local` (or an empty Timezone) means in autoscaling periods. GitLab
    /// Runner uses the host's zone; simrun never guesses it.
    #[arg(long, default_value = "UTC", value_name = "TZ")]
    pub timezone: String,
    /// List every key and table that GitLab Runner accepts but simrun does not use, and show
    /// every hour of the week instead of grouping equal hours.
    #[arg(long, short)]
    pub verbose: bool,
    /// Any day of the week to tabulate (YYYY-MM-DD); default: the current week.
    #[arg(long, value_name = "DATE")]
    pub week: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output formats of `simrun check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// Runs `simrun check`; returns the exit code.
pub fn run(args: &CheckArgs) -> u8 {
    let local = match args.timezone.as_str() {
        "UTC" => TimeZone::UTC,
        name => match crate::time::lookup_zone(name) {
            Ok(z) => z,
            Err(e) => {
                eprintln!("error: --timezone: {e}");
                return EXIT_BAD_INPUT;
            }
        },
    };
    let day: Date = match &args.week {
        Some(w) => match w.parse() {
            Ok(d) => d,
            Err(_) => {
                eprintln!("error: --week: expected a date like 2026-03-02, got {w:?}");
                return EXIT_BAD_INPUT;
            }
        },
        None => local.to_datetime(jiff::Timestamp::now()).date(),
    };
    let opts = LoadOptions {
        local_zone: local.clone(),
    };
    let loaded = match load_config_file(&args.config, &opts) {
        Ok(l) => l,
        Err(failure) => {
            if args.format == Format::Json {
                let doc = serde_json::json!({
                    "config": args.config.display().to_string(),
                    "ok": false,
                    "errors": failure.errors,
                    "warnings": failure.warnings,
                });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            } else {
                eprint!("{}", failure.render());
                eprintln!(
                    "{}: {} error(s), {} warning(s): GitLab Runner would not run this config",
                    failure.source.name,
                    failure.errors.len(),
                    failure.warnings.len()
                );
            }
            return EXIT_BAD_INPUT;
        }
    };
    let start = match week_start(day, &local) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --week: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if args.format == Format::Text
        && loaded.config.runners.is_empty()
        && loaded.ignored.iter().any(|k| k.path == "scenario")
    {
        // `[scenario]` and no runner: a simrun scenario given to the wrong command.
        eprintln!(
            "hint: {} looks like a simrun scenario (it has [scenario] and no [[runners]]): simulate it with `simrun run {}`",
            loaded.source.name,
            args.config.display()
        );
    }
    match args.format {
        Format::Text => print!("{}", text_report(&loaded, args, &local, start)),
        Format::Json => println!("{}", json_report(&loaded, &local, start)),
    }
    EXIT_OK
}

fn zone_name(z: &TimeZone) -> String {
    z.iana_name().unwrap_or("UTC").to_string()
}

fn text_report(
    l: &LoadedConfig,
    args: &CheckArgs,
    local: &TimeZone,
    start: jiff::Timestamp,
) -> String {
    let c = &l.config;
    let mut o = String::new();
    let autoscaled = c.autoscaled_runners().count();
    let _ = writeln!(
        o,
        "{}: loads in GitLab Runner ({} runner(s), {} with a docker+machine autoscaler)",
        l.source.name,
        c.runners.len(),
        autoscaled
    );
    let _ = writeln!(
        o,
        "global: concurrent = {}{}, check_interval = {} s{}, shutdown_timeout = {} s{}",
        c.concurrent,
        if c.concurrent_set { "" } else { " (default)" },
        c.effective_check_interval_secs(),
        if c.check_interval <= 0 {
            " (0 or unset → 3 s)"
        } else {
            ""
        },
        c.effective_shutdown_timeout_secs(),
        if c.shutdown_timeout <= 0 {
            " (0 or unset → 30 s)"
        } else {
            ""
        },
    );
    match &c.shutdown_drain {
        None => o.push_str("shutdown drain: not configured (idle machines stay running at exit)\n"),
        Some(d) if !d.enabled => {
            o.push_str("shutdown drain: disabled (idle machines stay running at exit)\n")
        }
        Some(d) => {
            let _ = writeln!(
                o,
                "shutdown drain: enabled, concurrency {}, max_retries {}, retry_backoff {}",
                d.effective_concurrency(),
                d.effective_max_retries(),
                crate::config::go_duration::format_go_duration(d.effective_retry_backoff_ns())
            );
        }
    }
    if l.warnings.is_empty() {
        o.push_str("\nno warnings\n");
    } else {
        let _ = writeln!(o, "\n{} warning(s):", l.warnings.len());
        for w in &l.warnings {
            if args.verbose {
                o.push_str(&render(w, &l.source));
            } else {
                let _ = writeln!(o, "  {}", one_line(w, &l.source.name));
                if let Some(h) = &w.help {
                    let _ = writeln!(o, "      help: {h}");
                }
            }
        }
    }
    for r in &c.runners {
        o.push('\n');
        runner_section(&mut o, r, args, local, start);
    }
    if args.verbose {
        let _ = writeln!(
            o,
            "\naccepted and ignored ({} keys and tables GitLab Runner reads for other purposes or not at all):",
            l.ignored.len()
        );
        for k in &l.ignored {
            let _ = writeln!(o, "  line {:>4}  {} ({})", k.line, k.path, k.kind);
        }
    } else if !l.ignored.is_empty() {
        let _ = writeln!(
            o,
            "\n{} other keys and tables accepted and ignored (--verbose lists them)",
            l.ignored.len()
        );
    }
    o
}

fn runner_section(
    o: &mut String,
    r: &RunnerConfig,
    args: &CheckArgs,
    local: &TimeZone,
    start: jiff::Timestamp,
) {
    let _ = writeln!(
        o,
        "runner {} — executor {:?}, limit {}{}, request_concurrency {}{}, strict_check_interval {}",
        r.id,
        r.executor,
        r.limit,
        if r.limit == 0 { " (unlimited)" } else { "" },
        r.effective_request_concurrency(),
        if r.request_concurrency <= 0 {
            " (unset → 1)"
        } else {
            ""
        },
        r.strict_check_interval,
    );
    let Some(m) = r.machine.as_ref().filter(|_| r.is_autoscaled()) else {
        o.push_str("  no docker+machine autoscaler\n");
        return;
    };
    machine_settings(o, r, m);
    let _ = writeln!(
        o,
        "  week of {}, hours in {} (what Local means here; --timezone sets it):",
        local.to_datetime(start).date(),
        zone_name(local),
    );
    let rows = week_table(m, start, local);
    week_text(o, &rows, args.verbose);
}

fn machine_settings(o: &mut String, r: &RunnerConfig, m: &MachineConfig) {
    let template = r.machine_name_template().unwrap_or_default();
    let _ = writeln!(
        o,
        "  MachineDriver {:?}, machine names {:?} (%s = <unix seconds>-<8 hex>)",
        m.machine_driver, template
    );
    let opts: Vec<String> = m
        .machine_options
        .iter()
        .map(|s| redact_machine_option(s))
        .collect();
    if !opts.is_empty() {
        let _ = writeln!(o, "  MachineOptions: {}", opts.join(" "));
    }
    if !m.machine_options_with_name.is_empty() {
        let with: Vec<String> = m
            .machine_options_with_name
            .iter()
            .map(|s| redact_machine_option(s))
            .collect();
        let _ = writeln!(o, "  MachineOptionsWithName: {}", with.join(" "));
    }
    let _ = writeln!(
        o,
        "  MaxGrowthRate {}{}, MaxBuilds {}{}, MaxRemovalAttempts {}{}",
        m.max_growth_rate,
        if m.max_growth_rate == 0 {
            " (unlimited)"
        } else {
            ""
        },
        m.max_builds,
        if m.max_builds == 0 {
            " (unlimited)"
        } else {
            ""
        },
        m.effective_max_removal_attempts(),
        if m.max_removal_attempts <= 0 {
            " (default)"
        } else {
            ""
        },
    );
    let _ = writeln!(o, "  root: {}", settings_text(&m.idle));
    for (i, e) in m.autoscaling.iter().enumerate() {
        let tz = if e.timezone.is_empty() {
            "Local".to_string()
        } else {
            e.timezone.clone()
        };
        let _ = writeln!(
            o,
            "  autoscaling[{i}]: {} in {tz} → {}",
            format_list(&e.periods_raw),
            settings_text(&e.idle)
        );
    }
}

fn format_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(", "))
}

fn settings_text(s: &crate::config::IdleSettings) -> String {
    let icm = if s.idle_scale_factor > 0.0 {
        if s.idle_count_min <= 0 {
            format!("{} (→ 1)", s.idle_count_min)
        } else {
            s.idle_count_min.to_string()
        }
    } else {
        format!("{} (unused)", s.idle_count_min)
    };
    format!(
        "IdleCount {}, IdleCountMin {icm}, IdleScaleFactor {}, IdleTime {} s",
        s.idle_count, s.idle_scale_factor, s.idle_time
    )
}

fn week_text(o: &mut String, rows: &[HourRow], verbose: bool) {
    let _ = writeln!(
        o,
        "    {:<30} {:>9} {:>12} {:>15} {:>9}  {:<16} {:>8}",
        "hours", "IdleCount", "IdleCountMin", "IdleScaleFactor", "IdleTime", "from", "active"
    );
    let same = |a: &HourRow, b: &HourRow| {
        a.settings == b.settings && a.source == b.source && a.active_share == b.active_share
    };
    let mut i = 0;
    while i < rows.len() {
        let mut j = i + 1;
        while !verbose && j < rows.len() && same(&rows[i], &rows[j]) {
            j += 1;
        }
        let first = &rows[i];
        let last = &rows[j - 1];
        let span = if j - i == 1 {
            format!("{} (1 h)", first.label)
        } else {
            format!("{}–{} ({} h)", first.label, end_label(&last.label), j - i)
        };
        let s = &first.settings;
        let _ = writeln!(
            o,
            "    {:<30} {:>9} {:>12} {:>15} {:>9}  {:<16} {:>7.2}%",
            span,
            s.idle_count,
            s.idle_count_min,
            s.idle_scale_factor,
            s.idle_time,
            first.source,
            first.active_share * 100.0
        );
        i = j;
    }
    o.push_str("    active = share of the hour's seconds in which an autoscaling period is in force; below 100%\n    the values shown are those of most of the hour (window edges and 5/6-field periods, spec §1.3, Q5)\n");
}

/// `Mon 09:00` → `Mon 09:59` (the last hour of a range, inclusive).
fn end_label(label: &str) -> String {
    match label.rsplit_once(':') {
        Some((head, _)) => format!("{head}:59"),
        None => label.to_string(),
    }
}

fn json_report(l: &LoadedConfig, local: &TimeZone, start: jiff::Timestamp) -> String {
    let c = &l.config;
    let runners: Vec<serde_json::Value> = c
        .runners
        .iter()
        .map(|r| {
            let mut v = serde_json::json!({
                "id": r.id,
                "index": r.index,
                "name": r.name,
                "executor": r.executor,
                "limit": r.limit,
                "request_concurrency": r.effective_request_concurrency(),
                "strict_check_interval": r.strict_check_interval,
                "autoscaled": r.is_autoscaled(),
            });
            if let Some(m) = r.machine.as_ref().filter(|_| r.is_autoscaled()) {
                v["machine"] = serde_json::json!({
                    "MachineDriver": m.machine_driver,
                    "MachineName": m.machine_name,
                    "name_template": r.machine_name_template(),
                    "MachineOptions": m.machine_options.iter().map(|s| redact_machine_option(s)).collect::<Vec<_>>(),
                    "MachineOptionsWithName": m.machine_options_with_name.iter().map(|s| redact_machine_option(s)).collect::<Vec<_>>(),
                    "MaxGrowthRate": m.max_growth_rate,
                    "MaxBuilds": m.max_builds,
                    "MaxRemovalAttempts": m.effective_max_removal_attempts(),
                    "root": crate::config::week::IdleSettingsView::from(m.idle),
                    "autoscaling": m.autoscaling.iter().map(|e| serde_json::json!({
                        "Periods": e.periods_raw,
                        "Timezone": e.timezone,
                        "settings": crate::config::week::IdleSettingsView::from(e.idle),
                    })).collect::<Vec<_>>(),
                    "week": week_table(m, start, local),
                });
            }
            v
        })
        .collect();
    let doc = serde_json::json!({
        "config": l.source.name,
        "ok": true,
        "timezone_local": zone_name(local),
        "concurrent": c.concurrent,
        "check_interval_s": c.effective_check_interval_secs(),
        "shutdown_timeout_s": c.effective_shutdown_timeout_secs(),
        "shutdown_drain": c.shutdown_drain.as_ref().map(|d| serde_json::json!({
            "enabled": d.enabled,
            "concurrency": d.effective_concurrency(),
            "max_retries": d.effective_max_retries(),
            "retry_backoff_ns": d.effective_retry_backoff_ns(),
        })),
        "runners": runners,
        "warnings": l.warnings,
        "ignored": l.ignored,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
