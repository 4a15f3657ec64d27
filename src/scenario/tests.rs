//! Scenario loading: valid files, defaults, and precise errors.

use std::path::Path;

use super::*;

fn load(text: &str) -> Result<Scenario, Box<ScenarioError>> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    load_scenario_str("s.toml", text, &base, &ScenarioOverrides::default())
}

const HEAD: &str =
    "[scenario]\nname = \"t\"\nseed = 7\nstart = \"2026-03-02T08:00:00Z\"\nduration = \"2h\"\n";
const INLINE: &str = "[runner]\ninline = '''\nconcurrent = 4\n[[runners]]\n  name = \"a\"\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineDriver = \"google\"\n    MachineName = \"m-%s\"\n    IdleCount = 1\n'''\n";

#[test]
fn loads_an_inline_scenario_with_defaults() {
    let s = load(&format!(
        "{HEAD}{INLINE}[[workload]]\nkind = \"burst\"\nat = \"10m\"\njobs = 5\nduration = \"5m\"\n"
    ))
    .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(s.seed, 7);
    assert_eq!(s.duration, SimDuration::from_secs(7200));
    assert_eq!(s.timezone, "UTC");
    assert_eq!(s.gitlab.long_poll, SimDuration::ZERO);
    assert_eq!(s.profiles["a"].name, "gce", "google → gce");
    assert_eq!(s.workloads.len(), 1);
}

#[test]
fn loads_a_config_by_path_relative_to_the_scenario() {
    let s = load(&format!(
        "{HEAD}timezone = \"Europe/Berlin\"\n[runner]\nconfig = \"configs/gce-runner.toml\"\n"
    ))
    .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(s.runner.config.runners[0].id, "gce-autoscaler");
    assert_eq!(s.calendar.local.iana_name(), Some("Europe/Berlin"));
}

fn first_error(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.first_line(),
    }
}

#[test]
fn errors_name_the_place_and_what_was_expected() {
    let e = first_error(&format!("{HEAD}colour = 3\n{INLINE}"));
    assert!(e.starts_with("s.toml:6:1: error[invalid-scenario]"), "{e}");
    assert!(e.contains("unknown field `colour`"), "{e}");

    let e = first_error(&format!(
        "{HEAD}{INLINE}[[workload]]\nkind = \"burst\"\nat = \"10m\"\njobs = \"many\"\nduration = \"5m\"\n"
    ));
    assert!(
        e.contains("workload[0].jobs") || e.contains("workload[0]"),
        "{e}"
    );
    assert!(e.starts_with("s.toml:"), "{e}");

    let e = first_error(&format!("{}{INLINE}", HEAD.replace("2h", "2 hours")));
    assert!(e.contains("scenario.duration"), "{e}");
    assert!(e.starts_with("s.toml:5:"), "{e}");

    let e = first_error(&format!(
        "{}{INLINE}",
        HEAD.replace("2026-03-02T08:00:00Z", "tomorrow")
    ));
    assert!(
        e.contains("scenario.start") && e.contains("RFC 3339"),
        "{e}"
    );

    let e = first_error(&format!("{HEAD}timezone = \"Mars/Olympus\"\n{INLINE}"));
    assert!(e.contains("unknown-timezone"), "{e}");

    let e = first_error(&format!(
        "{HEAD}{INLINE}[expect]\nqueue_time_p95_max = \"2m\"\n"
    ));
    assert!(
        e.contains("not supported yet") && e.starts_with("s.toml:17:2:"),
        "{e}"
    );

    let e = first_error(&format!("{HEAD}{INLINE}[[faults]]\nkind = \"meteor\"\n"));
    assert!(
        e.contains("faults[0]") && e.starts_with("s.toml:18:"),
        "{e}"
    );

    let e = first_error(&format!(
        "{HEAD}{INLINE}[[faults]]\nkind = \"create_hang\"\nfrom = \"3h\"\n"
    ));
    assert!(
        e.contains("invalid-fault") && e.contains("faults[0]"),
        "{e}"
    );

    let e = first_error(&format!(
        "{HEAD}{INLINE}[[workload]]\nkind = \"burst\"\nat = \"1m\"\njobs = 1\nduration = \"1m\"\nrunner = \"nobody\"\n"
    ));
    assert!(e.contains("unknown-runner") && e.contains("nobody"), "{e}");

    let e = first_error(&format!(
        "{HEAD}[runner]\nconfig = \"configs/missing.toml\"\n"
    ));
    assert!(
        e.contains("configs/missing.toml") && e.contains("cannot read"),
        "{e}"
    );

    let e = first_error(&format!("{HEAD}{INLINE}[cloud]\nprofile = \"moon\"\n"));
    assert!(e.contains("unknown-profile"), "{e}");
}

#[test]
fn inline_config_errors_point_into_the_scenario_file() {
    let bad = INLINE.replace("IdleCount = 1", "IdleCount = \"one\"");
    let e = first_error(&format!("{HEAD}{bad}"));
    // HEAD has 5 lines, `[runner]` is line 6, `inline = '''` line 7, IdleCount line 15.
    assert!(e.starts_with("s.toml:15:17: error[wrong-type]"), "{e}");
}

#[test]
fn machines_need_a_docker_machine_runner() {
    let s = load(&format!(
        "{HEAD}{INLINE}[[machines]]\nrunner = \"a\"\ncount = 2\nage = \"1h\"\n"
    ))
    .unwrap();
    assert_eq!(
        s.machines,
        vec![PreexistingMachines {
            runner: "a".into(),
            count: 2,
            age: SimDuration::from_secs(3600)
        }]
    );
    let e = first_error(&format!(
        "{HEAD}{INLINE}[[machines]]\nrunner = \"zz\"\ncount = 2\n"
    ));
    assert!(e.contains("machines[0].runner"), "{e}");
}

/// A fault scope value that matches nothing the runners have is an error at the `scope`
/// line, not a window that silently never acts; what matches loads.
#[test]
fn fault_scope_values_must_match_the_runners() {
    // INLINE's runner: google driver, no MachineOptions (gce profile defaults).
    for (scope, expected) in [
        ("{ runner = \"nobody\" }", "scope.runner = \"nobody\""),
        (
            "{ operation = \"compute.instances.insertt\" }",
            "scope.operation = \"compute.instances.insertt\"",
        ),
        ("{ zone = \"mars-1a\" }", "scope.zone = \"mars-1a\""),
        (
            "{ instance_type = \"n9-huge\" }",
            "scope.instance_type = \"n9-huge\"",
        ),
    ] {
        let text = format!(
            "{HEAD}{INLINE}[[faults]]\nkind = \"capacity\"\nto = \"1h\"\nscope = {scope}\n"
        );
        let e = first_error(&text);
        // The scope line: HEAD (5 lines) + INLINE (12) + 3 lines of the fault.
        assert!(
            e.contains(":20:1: error[invalid-fault]") && e.contains(expected),
            "{e}"
        );
    }
    for ok in [
        "{ runner = \"a\" }",
        "{ operation = \"create\" }",
        "{ operation = \"compute.instances.*\" }",
    ] {
        let text =
            format!("{HEAD}{INLINE}[[faults]]\nkind = \"capacity\"\nto = \"1h\"\nscope = {ok}\n");
        load(&text).unwrap_or_else(|e| panic!("{ok}: {}", e.render()));
    }
}

/// A fault error points at the entry it is about (the second one here), at the key named.
#[test]
fn fault_errors_point_at_their_own_entry() {
    let e = first_error(&format!(
        "{HEAD}{INLINE}[[faults]]\nkind = \"capacity\"\n[[faults]]\nkind = \"capacity\"\nprobability = 1.5\n"
    ));
    assert!(e.contains(":21:1: error[invalid-fault]: faults[1]"), "{e}");
}

/// A shorter `--duration` clips fault windows that run past the new end, drops faults and
/// signals that start after it, and says so; the same windows in the file itself are errors.
#[test]
fn a_shorter_duration_clips_or_drops_faults_and_signals_with_warnings() {
    let text = format!(
        "{HEAD}{INLINE}[[faults]]\nkind = \"capacity\"\nfrom = \"30m\"\nto = \"90m\"\n\
         [[faults]]\nkind = \"create_hang\"\nfrom = \"100m\"\nto = \"110m\"\n\
         [[signals]]\nat = \"1h50m\"\nsignal = \"SIGQUIT\"\n"
    );
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let short = ScenarioOverrides {
        duration: Some(SimDuration::from_secs(3600)),
        ..ScenarioOverrides::default()
    };
    let s = load_scenario_str("s.toml", &text, &base, &short)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(s.faults.len(), 1, "the create_hang window starts after 1 h");
    assert_eq!(s.faults[0].kind, crate::fake_cloud::FaultKind::Capacity);
    assert_eq!(s.faults[0].to, None, "clipped: until the end");
    assert!(s.signals.is_empty());
    assert_eq!(s.warnings.len(), 3, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("signals[0]"), "{:?}", s.warnings);
    assert!(s.warnings[1].contains("faults[0]") && s.warnings[1].contains("clipped"));
    assert!(s.warnings[2].contains("faults[1]") && s.warnings[2].contains("dropped"));
    // Without the override the file's own 2 h holds everything; a 1 h file does not.
    assert!(load(&text).is_ok_and(|s| s.warnings.is_empty() && s.faults.len() == 2));
    let e = first_error(&text.replace("duration = \"2h\"", "duration = \"1h\""));
    assert!(e.contains("invalid-"), "{e}");
}
