//! `simrun run` end to end through the binary: summary, outputs, determinism, exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn simrun() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_simrun"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("simrun-run-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn burst_prints_a_summary_and_writes_identical_outputs_per_seed() {
    let (a, b, c) = (tmp("a"), tmp("b"), tmp("c"));
    let out = simrun()
        .args(["scenarios/burst.toml", "--duration", "3h", "--out"])
        .arg(&a)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for key in [
        "queue time",
        "p95",
        "cost (USD)",
        "peak by state",
        "invariant violations",
    ] {
        assert!(stdout.contains(key), "{key} missing:\n{stdout}");
    }
    let out = simrun()
        .args([
            "run",
            "scenarios/burst.toml",
            "--duration",
            "3h",
            "--quiet",
            "--out",
        ])
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "--quiet prints nothing");
    let files_a = read_all(&a);
    assert_eq!(
        files_a.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            "events.csv",
            "jobs.csv",
            "machines.csv",
            "summary.json",
            "timeline.csv"
        ]
    );
    assert_eq!(
        files_a,
        read_all(&b),
        "same scenario and seed → byte-identical outputs"
    );
    let out = simrun()
        .args([
            "run",
            "scenarios/burst.toml",
            "--duration",
            "3h",
            "--seed",
            "43",
            "--quiet",
            "--out",
        ])
        .arg(&c)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let files_c = read_all(&c);
    for ((n, x), (_, y)) in files_a.iter().zip(&files_c) {
        assert_ne!(x, y, "{n} should differ with another seed");
    }
    let summary: serde_json::Value = serde_json::from_slice(&files_a[3].1).unwrap();
    assert_eq!(summary["schema_version"], 1);
    assert_eq!(summary["seed"], 42);
    assert!(summary["jobs"]["total"].as_u64().unwrap() > 300);
    let jobs_csv = String::from_utf8_lossy(&files_a[1].1);
    assert!(
        jobs_csv.starts_with("id,runner,arrival_s,start_s,end_s,machine,outcome,failure_reason\n")
    );
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Bad inputs give exit 2 and a first line that names the place.
#[test]
fn bad_inputs_exit_2_with_a_one_line_error() {
    let dir = tmp("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let head = "[scenario]\nname = \"x\"\nstart = \"2026-03-02T08:00:00Z\"\nduration = \"1h\"\n";
    let runner = format!(
        "[runner]\nconfig = {:?}\n",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/configs/gce-runner.toml")
            .display()
            .to_string()
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown-key.toml",
            format!("{head}colour = 1\n{runner}"),
            ":5:1: error[invalid-scenario]: scenario",
        ),
        (
            "bad-duration.toml",
            format!("{}{runner}", head.replace("1h", "an hour")),
            ":4:1: error[invalid-duration]: scenario.duration",
        ),
        (
            "expect.toml",
            format!("{head}{runner}[expect]\ncost_usd_max = 5.0\n"),
            ":7:2: error[not-supported-yet]: expect",
        ),
        (
            "unknown-runner.toml",
            format!(
                "{head}{runner}[[workload]]\nkind = \"burst\"\nat = \"1m\"\njobs = 1\nduration = \"1m\"\nrunner = \"ghost\"\n"
            ),
            "error[unknown-runner]: workload[0].runner",
        ),
        (
            "bad-workload.toml",
            format!("{head}{runner}[[workload]]\nkind = \"avalanche\"\n"),
            "error[invalid-scenario]: workload[0]",
        ),
        (
            "missing-config.toml",
            format!("{head}[runner]\nconfig = \"nope.toml\"\n"),
            "nope.toml: error[unreadable-file]",
        ),
    ];
    for (name, text, expect) in cases {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let out = simrun().arg(&p).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(expect),
            "{name}: expected {expect:?} in the first line:\n{stderr}"
        );
    }
    let out = simrun()
        .args(["scenarios/burst.toml", "--duration", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = simrun().arg("no/such/scenario.toml").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The wrong file for the command gets a hint at the right one: a config.toml given to
/// `run` (exit 2, points at `check`), a scenario given to `check` (points at `run`).
#[test]
fn the_wrong_file_for_the_command_gets_a_hint() {
    let out = simrun()
        .args(["run", "scenarios/configs/gce-runner.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("looks like a GitLab Runner config.toml")
            && err.contains("simrun check scenarios/configs/gce-runner.toml"),
        "{err}"
    );
    let out = simrun()
        .args(["check", "scenarios/burst.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("looks like a simrun scenario")
            && err.contains("simrun run scenarios/burst.toml"),
        "{err}"
    );
    // A real scenario error has no such hint.
    let out = simrun()
        .args(["run", "tests/fixtures/broken/does-not-exist.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hint:"));
}
