//! `simrun check` end to end: real configs load, broken configs fail with a located message
//! and exit 2, secrets never appear in any output.

use std::path::{Path, PathBuf};
use std::process::Command;

fn simrun() -> Command {
    Command::new(env!("CARGO_BIN_EXE_simrun"))
}

fn shared_configs() -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/configs");
    if !dir.is_dir() {
        eprintln!(
            "skipping: {} is absent (a user's clone has no ../shared)",
            dir.display()
        );
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Some(files)
}

#[test]
fn every_shared_config_passes_check_with_a_week_table() {
    let Some(files) = shared_configs() else {
        return;
    };
    assert!(!files.is_empty());
    for f in files {
        let out = simrun()
            .args(["check", "--week", "2026-03-02"])
            .arg(&f)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {stdout}{}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("loads in GitLab Runner"), "{stdout}");
        assert!(
            stdout.contains("week of 2026-03-02"),
            "{}: no week table\n{stdout}",
            f.display()
        );
        assert!(stdout.contains("IdleCount"), "{stdout}");
        let json = simrun()
            .args(["check", "--format", "json", "--week", "2026-03-02"])
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(json.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
        let runners = v["runners"].as_array().unwrap();
        for r in runners.iter().filter(|r| r["autoscaled"] == true) {
            assert_eq!(
                r["machine"]["week"].as_array().unwrap().len(),
                168,
                "{}",
                f.display()
            );
        }
    }
}

/// Each file under tests/fixtures/broken/ starts with `# expect: CODE line N`.
#[test]
fn broken_configs_exit_2_with_a_located_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "at least ten broken configs");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let header = text.lines().next().unwrap();
        let expect = header.strip_prefix("# expect: ").expect("header");
        let (code, line) = expect.split_once(" line ").expect("CODE line N");
        let out = simrun().arg("check").arg(&f).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", f.display());
        let first = stderr.lines().next().unwrap_or_default();
        let place = format!("{}:{line}:", f.display());
        assert!(
            first.starts_with(&place),
            "{}: first line should name {place}\n{stderr}",
            f.display()
        );
        assert!(
            first.contains(&format!("error[{code}]")),
            "{}: expected {code}\n{stderr}",
            f.display()
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn missing_file_and_bad_arguments_exit_2() {
    let out = simrun()
        .args(["check", "/nonexistent/config.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/config.toml"));
    let out = simrun()
        .args(["check", "--timezone", "Mars/Olympus", "x.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = simrun().args(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn secrets_never_appear_in_any_output() {
    let dir = std::env::temp_dir().join(format!("simrun-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = "glrt-t9Wkyj-HGRkqQ-VWTGArSECRETTOKENTAIL";
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"concurrent = 2
[[runners]]
  name = "r"
  token = "{token}"
  executor = "docker+machine"
  [runners.machine]
    MachineName = "auto-%s"
    idle_count = 3
    MachineOptions = ["amazonec2-access-key=AKIAEXAMPLEKEY", "amazonec2-secret-key=s3cr3tVALUE", "digitalocean-access-token=dotokenVALUE", "engine-env=DB_PASSWORD=pw0rdVALUE"]
    MachineOptionsWithName = ["google-password=hunter2VALUE-%s"]
"#
        ),
    )
    .unwrap();
    let secrets = [
        token,
        "HGRkqQ-VWTGAr",
        "AKIAEXAMPLEKEY",
        "s3cr3tVALUE",
        "dotokenVALUE",
        "pw0rdVALUE",
        "hunter2VALUE",
    ];
    for args in [
        vec!["check", "--verbose"],
        vec!["check", "--format", "json"],
    ] {
        let out = simrun().args(&args).arg(&cfg).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for s in secrets {
            assert!(!all.contains(s), "{args:?} printed secret {s:?}:\n{all}");
        }
        assert!(all.contains("[REDACTED]"), "{all}");
        // The short token is expected in machine names (spec §2.5).
        assert!(all.contains("runner-t9wkyj-hg-auto-%s"), "{all}");
        // The snippet of the lookalike warning must not leak the MachineOptions line either.
        assert!(all.contains("idle_count"), "{all}");
    }
    // A broken config with secrets: errors must not leak them either.
    let broken = dir.join("broken.toml");
    std::fs::write(
        &broken,
        format!("[[runners]]\n  token = \"{token}\"\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineOptionsWithName = [\"amazonec2-secret-key=s3cr3tVALUE\"]\n"),
    )
    .unwrap();
    let out = simrun().arg("check").arg(&broken).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for s in secrets {
        assert!(!all.contains(s), "printed secret {s:?}:\n{all}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
