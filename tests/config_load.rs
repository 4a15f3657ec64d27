//! The config loader against spec §0–§1: key matching, defaults, types, warnings.

use simrun::config::diagnostic::Severity;
use simrun::config::{LoadOptions, LoadedConfig, load_config_str};

fn load(text: &str) -> LoadedConfig {
    match load_config_str("test.toml", text, &LoadOptions::default()) {
        Ok(l) => l,
        Err(f) => panic!("expected to load, got:\n{}", f.render()),
    }
}

fn codes(l: &LoadedConfig) -> Vec<&'static str> {
    l.warnings.iter().map(|w| w.code).collect()
}

fn error_codes(text: &str) -> Vec<&'static str> {
    match load_config_str("test.toml", text, &LoadOptions::default()) {
        Ok(_) => panic!("expected a load error"),
        Err(f) => f.errors.iter().map(|e| e.code).collect(),
    }
}

const DM: &str = "[[runners]]\n  name = \"r\"\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"m-%s\"\n";

#[test]
fn defaults_follow_gitlab_runner() {
    let l = load(
        "[[runners]]\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"m-%s\"\n",
    );
    let c = &l.config;
    assert_eq!(
        c.concurrent, 1,
        "concurrent defaults to 1 when omitted (spec §0 M7)"
    );
    assert!(!c.concurrent_set);
    assert_eq!(c.effective_check_interval_secs(), 3);
    assert_eq!(c.effective_shutdown_timeout_secs(), 30);
    assert!(c.shutdown_drain.is_none());
    let r = &c.runners[0];
    assert_eq!(r.id, "runners[0]", "a runner without name gets a stable id");
    assert_eq!(r.effective_request_concurrency(), 1);
    assert_eq!(r.limit, 0);
    let m = r.machine.as_ref().unwrap();
    assert_eq!(m.idle.idle_count, 0);
    assert_eq!(m.max_growth_rate, 0);
    assert_eq!(m.effective_max_removal_attempts(), 30);
}

#[test]
fn keys_match_case_insensitively_but_snake_case_is_ignored() {
    let l = load(
        "CONCURRENT = 7\n[[Runners]]\n  Name = \"r\"\n  EXECUTOR = \"docker+machine\"\n  [Runners.MACHINE]\n    machinename = \"m-%s\"\n    idlecount = 3\n    IDLETIME = 600\n    idle_scale_factor = 2.0\n    [[Runners.MACHINE.Autoscaling]]\n      periods = []\n      TIMEZONE = \"UTC\"\n      idlecount = 9\n",
    );
    assert_eq!(l.config.concurrent, 7);
    let r = &l.config.runners[0];
    assert_eq!(r.id, "r");
    let m = r.machine.as_ref().unwrap();
    assert_eq!(m.machine_name, "m-%s");
    assert_eq!(m.idle.idle_count, 3);
    assert_eq!(m.idle.idle_time, 600);
    assert_eq!(
        m.idle.idle_scale_factor, 0.0,
        "idle_scale_factor does not match IdleScaleFactor (§0 W3)"
    );
    assert_eq!(m.autoscaling.len(), 1);
    assert_eq!(m.autoscaling[0].timezone, "UTC");
    assert_eq!(m.autoscaling[0].idle.idle_count, 9);
    let w = l
        .warnings
        .iter()
        .find(|w| w.code == "unknown-key-lookalike")
        .expect("lookalike warning");
    assert_eq!(w.severity, Severity::Warning);
    assert!(
        w.help.as_deref().unwrap().contains("IdleScaleFactor"),
        "{w:?}"
    );
    assert_eq!(w.line, Some(9));
}

#[test]
fn integer_scale_factor_and_underscore_integers_load() {
    let l = load(&format!(
        "{DM}    IdleScaleFactor = 1\n    IdleCount = 4\n    IdleCountMin = 2\n    IdleTime = 1_800\n"
    ));
    let m = l.config.runners[0].machine.as_ref().unwrap();
    assert_eq!(
        m.idle.idle_scale_factor, 1.0,
        "an integer literal loads as a float (§0 W2)"
    );
    assert_eq!(m.idle.idle_time, 1800);
}

#[test]
fn unknown_tables_keys_and_datetimes_are_accepted_and_listed() {
    let l = load(&format!(
        "log_level = \"info\"\nbuilt = 2026-03-02T08:00:00Z\n[session_server]\n  session_timeout = 1800\n{DM}  [runners.docker]\n    image = \"alpine\"\n"
    ));
    let paths: Vec<&str> = l.ignored.iter().map(|k| k.path.as_str()).collect();
    for p in ["log_level", "built", "session_server"] {
        assert!(paths.contains(&p), "{p} not listed in {paths:?}");
    }
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("runners[0]") && p.ends_with("docker")),
        "{paths:?}"
    );
    assert!(codes(&l).is_empty(), "{:?}", l.warnings);
}

#[test]
fn other_executors_are_kept_without_autoscaler() {
    let l = load(&format!(
        "concurrent = 3\n[[runners]]\n  name = \"s\"\n  executor = \"shell\"\n{DM}[[runners]]\n  executor = \"docker\"\n"
    ));
    let c = &l.config;
    assert_eq!(c.runners.len(), 3);
    assert_eq!(c.autoscaled_runners().count(), 1);
    assert_eq!(c.runners[2].id, "runners[2]");
    assert!(!c.runners[0].is_autoscaled());
}

#[test]
fn case_113_drain_defaults() {
    let l = load("[machine.shutdown_drain]\n  enabled = true\n");
    let d = l.config.shutdown_drain.as_ref().unwrap();
    assert!(d.enabled);
    assert_eq!(d.effective_concurrency(), 3);
    assert_eq!(
        d.effective_max_retries(),
        3,
        "max_retries 0 still gives 3 (Q20)"
    );
    assert_eq!(d.effective_retry_backoff_ns(), 5_000_000_000);
    let l = load(
        "shutdown_timeout = 600\n[machine.shutdown_drain]\n  enabled = false\n  concurrency = 10\n  max_retries = 5\n  retry_backoff = \"10s\"\n",
    );
    let d = l.config.shutdown_drain.as_ref().unwrap();
    assert!(!d.enabled);
    assert_eq!(d.effective_concurrency(), 10);
    assert_eq!(d.effective_max_retries(), 5);
    assert_eq!(d.effective_retry_backoff_ns(), 10_000_000_000);
    assert!(codes(&l).is_empty());
}

#[test]
fn integer_retry_backoff_is_nanoseconds_with_a_warning() {
    let l = load(
        "shutdown_timeout = 600\n[machine.shutdown_drain]\n  enabled = true\n  retry_backoff = 5\n",
    );
    assert_eq!(
        l.config.shutdown_drain.as_ref().unwrap().retry_backoff_ns,
        5
    );
    assert_eq!(codes(&l), vec!["integer-duration"]);
    assert!(l.warnings[0].message.contains("5ns"));
}

#[test]
fn case_115_to_117_off_peak_is_accepted_ignored_and_warned() {
    // Case 117: an invalid OffPeakPeriods expression compiles without error (never parsed).
    let l = load(&format!(
        "{DM}    IdleCount = 1\n    IdleTime = 1000\n    OffPeakPeriods = [\"invalid period\"]\n    OffPeakIdleCount = 2\n    OffPeakIdleTime = 2000\n    OffPeakTimezone = \"Not/AZone\"\n"
    ));
    let m = l.config.runners[0].machine.as_ref().unwrap();
    let now = "2020-05-05T20:00:00Z".parse().unwrap();
    let active = m.idle_at(now);
    assert_eq!(
        (active.settings.idle_count, active.settings.idle_time),
        (1, 1000)
    );
    assert_eq!(
        codes(&l)
            .iter()
            .filter(|c| **c == "deprecated-off-peak")
            .count(),
        4
    );
}

#[test]
fn warnings_state_their_consequences() {
    let cases: &[(&str, &str)] = &[
        ("    IdleCount = -1\n", "negative-idle-count"),
        ("    MaxGrowthRate = -1\n", "negative-max-growth-rate"),
        (
            "    IdleScaleFactor = 1.5\n    IdleCountMin = 1\n",
            "scale-factor-without-idle-count",
        ),
        (
            "    IdleScaleFactor = 1.5\n    IdleCount = 5\n",
            "idle-count-min-zero",
        ),
        ("    max_builds = 3\n", "unknown-key-lookalike"),
    ];
    for (extra, code) in cases {
        let l = load(&format!("{DM}{extra}"));
        assert!(
            codes(&l).contains(code),
            "{extra:?}: expected {code}, got {:?}",
            codes(&l)
        );
        let w = l.warnings.iter().find(|w| w.code == *code).unwrap();
        assert!(w.line.is_some(), "{code} is located");
    }
}

#[test]
fn machine_name_without_placeholder_warns() {
    let l = load(
        "[[runners]]\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"fixed-name\"\n",
    );
    assert_eq!(codes(&l), vec!["machine-name-without-placeholder"]);
    assert_eq!(l.warnings[0].line, Some(4));
}

#[test]
fn period_entry_that_zeroes_root_values_warns() {
    let l = load(&format!(
        "{DM}    IdleCount = 10\n    IdleScaleFactor = 0.5\n    IdleCountMin = 2\n    IdleTime = 600\n    [[runners.machine.autoscaling]]\n      Periods = [\"* * 9-17 * * mon-fri *\"]\n      IdleCount = 20\n      IdleTime = 600\n"
    ));
    let zeroed: Vec<&str> = l
        .warnings
        .iter()
        .filter(|w| w.code == "period-zeroes-root-value")
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(zeroed.len(), 2, "{zeroed:?}");
    assert!(zeroed[0].contains("IdleCountMin") || zeroed[1].contains("IdleCountMin"));
    assert!(zeroed.iter().any(|m| m.contains("IdleScaleFactor")));
}

#[test]
fn overlapping_prefixes_and_concurrent_below_runners_warn() {
    let l = load(
        "concurrent = 1\n[[runners]]\n  name = \"a\"\n  token = \"glrt-samesametoken\"\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"ci-%s\"\n[[runners]]\n  name = \"b\"\n  token = \"glrt-samesametoken\"\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"ci-big-%s\"\n",
    );
    let c = codes(&l);
    assert!(c.contains(&"overlapping-machine-names"), "{c:?}");
    assert!(c.contains(&"concurrent-below-runners"), "{c:?}");
    // Different tokens give different prefixes: no overlap.
    let l = load(
        "concurrent = 2\n[[runners]]\n  token = \"glrt-aaaaaaaaaaaa\"\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"ci-%s\"\n[[runners]]\n  token = \"glrt-bbbbbbbbbbbb\"\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"ci-big-%s\"\n",
    );
    assert!(codes(&l).is_empty(), "{:?}", l.warnings);
}

#[test]
fn load_errors_are_collected_and_located() {
    assert_eq!(error_codes("concurrent = 0\n"), vec!["invalid-value"]);
    assert_eq!(
        error_codes(&format!("{DM}    IdleTime = \"30m\"\n")),
        vec!["wrong-type"]
    );
    assert_eq!(
        error_codes(&format!(
            "{DM}    MachineOptionsWithName = [\"a=%s\", \"b=c\"]\n    IdleCount = true\n"
        )),
        vec!["option-without-placeholder", "wrong-type"]
    );
    assert_eq!(
        error_codes("[runners]\n  name = \"x\"\n"),
        vec!["wrong-type"]
    );
    assert_eq!(error_codes("a = = 1\n"), vec!["toml-syntax"]);
}

#[test]
fn period_warnings_for_never_matching_days_short_forms_and_aliases() {
    let cases: &[(&str, &str)] = &[
        ("* * 9-17 * * sat-sun *", "period-never-matches"),
        ("* * 9-17 * * mon-sun *", "period-never-matches"),
        ("* 9-17 * * mon-fri", "period-seconds-fixed"),
        ("* 9-17 * * mon-fri 2026", "period-seconds-fixed"),
        ("@daily", "period-alias"),
        ("* * 22-6,8 * * * *", "period-ignored-range"),
    ];
    for (period, code) in cases {
        let l = load(&format!(
            "{DM}    IdleCount = 1\n    [[runners.machine.autoscaling]]\n      Periods = [\"{period}\"]\n      IdleCount = 2\n"
        ));
        let w = l.warnings.iter().find(|w| w.code == *code);
        assert!(
            w.is_some(),
            "{period:?}: expected {code}, got {:?}",
            codes(&l)
        );
        assert_eq!(
            w.unwrap().line,
            Some(8),
            "{period:?} located at the Periods line"
        );
    }
    // Day-of-week 7 alone and `sat,sun` work: no warning.
    for period in ["* * * * * 7 *", "* * * * * sat,sun *"] {
        let l = load(&format!(
            "{DM}    IdleCount = 1\n    [[runners.machine.autoscaling]]\n      Periods = [\"{period}\"]\n      IdleCount = 2\n"
        ));
        assert!(codes(&l).is_empty(), "{period:?}: {:?}", l.warnings);
    }
}
