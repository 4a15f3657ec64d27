use std::path::PathBuf;

use jiff::Timestamp;
use serde::Deserialize;

use super::*;
use crate::time::lookup_zone;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    workload: Vec<Workload>,
}

fn parse(toml_text: &str) -> Result<Vec<Workload>, String> {
    toml::from_str::<Doc>(toml_text)
        .map(|d| d.workload)
        .map_err(|e| e.to_string())
}

fn utc_calendar() -> Calendar {
    let start: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap();
    Calendar::new(start, jiff::tz::TimeZone::UTC)
}

fn gen_jobs(ws: &[Workload], cal: &Calendar, end: SimDuration, seed: u64) -> Vec<Job> {
    let ctx = WorkloadContext {
        base_dir: Path::new("."),
        calendar: cal,
        end: SimTime(end.0),
    };
    generate_jobs(ws, &ctx, &RngStreams::new(seed)).unwrap()
}

fn h(n: u64) -> SimDuration {
    SimDuration(n * 3_600_000)
}

const BURST: &str = r#"
[[workload]]
kind = "burst"
at = "30m"
jobs = 300
over = "10m"
duration = { dist = "lognormal", median = "6m", p95 = "20m" }
runner = "gce"
"#;

#[test]
fn burst_spreads_its_jobs_over_the_window_in_order() {
    let ws = parse(BURST).unwrap();
    let jobs = gen_jobs(&ws, &utc_calendar(), h(4), 42);
    assert_eq!(jobs.len(), 300);
    assert!(
        jobs.iter()
            .all(|j| (1_800_000..2_400_000).contains(&j.arrival.0))
    );
    assert!(jobs.windows(2).all(|w| w[0].arrival <= w[1].arrival));
    assert_eq!(
        jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        (1..=300).collect::<Vec<_>>()
    );
    assert!(jobs.iter().all(|j| j.runner.as_deref() == Some("gce")));
    // Spread, not bunched: both halves of the window get jobs (P(all in one half) = 2^-299).
    assert!(jobs.iter().any(|j| j.arrival.0 < 2_100_000));
    assert!(jobs.iter().any(|j| j.arrival.0 >= 2_100_000));
}

#[test]
fn burst_without_over_arrives_at_one_instant() {
    let ws = parse(
        r#"[[workload]]
kind = "burst"
at = "1h"
jobs = 5
duration = "5m"
"#,
    )
    .unwrap();
    let jobs = gen_jobs(&ws, &utc_calendar(), h(2), 1);
    assert_eq!(jobs.len(), 5);
    assert!(jobs.iter().all(|j| j.arrival == SimTime(3_600_000)));
    assert!(jobs.iter().all(|j| j.duration == SimDuration::from_mins(5)));
    assert!(jobs.iter().all(|j| j.runner.is_none()));
}

#[test]
fn same_seed_same_jobs_other_seed_other_jobs() {
    let ws = parse(BURST).unwrap();
    let cal = utc_calendar();
    let a = gen_jobs(&ws, &cal, h(4), 42);
    assert_eq!(a, gen_jobs(&ws, &cal, h(4), 42));
    assert_ne!(a, gen_jobs(&ws, &cal, h(4), 43));
}

#[test]
fn adding_a_workload_does_not_change_another_workloads_jobs() {
    let cal = utc_calendar();
    let one = parse(BURST).unwrap();
    let two = parse(&format!(
        "{BURST}\n[[workload]]\nkind = \"poisson\"\nrate_per_hour = 60\nduration = \"2m\"\n"
    ))
    .unwrap();
    let key = |jobs: Vec<Job>| -> Vec<(SimTime, SimDuration)> {
        jobs.into_iter()
            .filter(|j| j.runner.is_some())
            .map(|j| (j.arrival, j.duration))
            .collect()
    };
    let alone = key(gen_jobs(&one, &cal, h(4), 5));
    let with_other = gen_jobs(&two, &cal, h(4), 5);
    assert!(with_other.len() > 300, "the poisson workload added jobs");
    assert!(with_other.windows(2).all(|w| w[0].arrival <= w[1].arrival));
    assert_eq!(alone, key(with_other));
}

#[test]
fn poisson_count_matches_rate_times_window() {
    // N ~ Poisson(600/h × 100 h = 60 000): sd = sqrt(60 000) ≈ 245. A 5-sd band (±1 225) is
    // missed with probability ≈ 6e-7 for a correct generator, so a failure means a real bias.
    let ws = parse(
        r#"[[workload]]
kind = "poisson"
rate_per_hour = 600
duration = "1m"
"#,
    )
    .unwrap();
    let jobs = gen_jobs(&ws, &utc_calendar(), h(100), 11);
    let n = jobs.len() as f64;
    assert!((n - 60_000.0).abs() < 1_225.0, "{n}");
    assert!(jobs.iter().all(|j| j.arrival < SimTime(h(100).0)));
    // Gaps are exponential with mean 6 s: the mean gap is within 5 sd (6 s/sqrt(n) ≈ 24 ms).
    let first = jobs.first().unwrap().arrival.0 as f64;
    let last = jobs.last().unwrap().arrival.0 as f64;
    let mean_gap = (last - first) / (n - 1.0);
    assert!((mean_gap - 6_000.0).abs() < 125.0, "{mean_gap}");
}

#[test]
fn poisson_window_from_to_is_respected() {
    let ws = parse(
        r#"[[workload]]
kind = "poisson"
rate_per_hour = 3600
from = "1h"
to = "2h"
duration = "1m"
"#,
    )
    .unwrap();
    let jobs = gen_jobs(&ws, &utc_calendar(), h(3), 2);
    // Expected 3 600, sd 60: ±300 is 5 sd.
    assert!((jobs.len() as f64 - 3600.0).abs() < 300.0, "{}", jobs.len());
    assert!(
        jobs.iter()
            .all(|j| (3_600_000..7_200_000).contains(&j.arrival.0))
    );
}

#[test]
fn hourly_profile_uses_the_local_hour_of_the_scenario_zone() {
    // Only local hours 9 (×2) and 10 (×1) get jobs, in Europe/Berlin, over 50 days that cross
    // the 2026-03-29 DST change. Expected counts: hour 9: 100×2×50 = 10 000 (sd 100),
    // hour 10: 5 000 (sd ≈ 71); bands of 5 sd.
    let mut profile = vec!["0"; 24];
    profile[9] = "2";
    profile[10] = "1";
    let text = format!(
        "[[workload]]\nkind = \"poisson\"\nrate_per_hour = 100\nhourly_profile = [{}]\nduration = \"1m\"\n",
        profile.join(", ")
    );
    let ws = parse(&text).unwrap();
    let start: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap();
    let berlin = lookup_zone("Europe/Berlin").unwrap();
    let cal = Calendar::new(start, berlin.clone());
    let jobs = gen_jobs(&ws, &cal, h(24 * 50), 3);
    let (mut nine, mut ten) = (0, 0);
    let mut utc_hours = std::collections::BTreeSet::new();
    for j in &jobs {
        let ts = cal.instant(j.arrival);
        match berlin.to_datetime(ts).hour() {
            9 => nine += 1,
            10 => ten += 1,
            other => panic!("job at local hour {other}"),
        }
        utc_hours.insert(jiff::tz::TimeZone::UTC.to_datetime(ts).hour());
    }
    assert!((nine as f64 - 10_000.0).abs() < 500.0, "{nine}");
    assert!((ten as f64 - 5_000.0).abs() < 355.0, "{ten}");
    // CET (UTC+1) before 29 March, CEST (UTC+2) after: UTC hours 7, 8 and 9 all occur.
    assert_eq!(utc_hours.into_iter().collect::<Vec<_>>(), vec![7, 8, 9]);
}

#[test]
fn lognormal_job_durations_match_median_and_p95() {
    // sigma = ln(20/6)/1.645 ≈ 0.732; n = 20 000: ln(sample median) sd ≈
    // 1.2533·0.732/sqrt(n) ≈ 0.0065 (5 sd ≈ 3.3 %); ln(sample p95) sd ≈
    // 0.732·sqrt(.05·.95)/(0.1031·sqrt(n)) ≈ 0.011 (5 sd ≈ 5.6 %).
    let ws = parse(
        r#"[[workload]]
kind = "burst"
at = "0s"
jobs = 20000
duration = { dist = "lognormal", median = "6m", p95 = "20m" }
"#,
    )
    .unwrap();
    let mut d: Vec<u64> = gen_jobs(&ws, &utc_calendar(), h(1), 8)
        .into_iter()
        .map(|j| j.duration.0)
        .collect();
    d.sort_unstable();
    let med = d[d.len() / 2] as f64;
    let p95 = d[(d.len() as f64 * 0.95) as usize] as f64;
    assert!((med / 360_000.0 - 1.0).abs() < 0.033, "median {med}");
    assert!((p95 / 1_200_000.0 - 1.0).abs() < 0.056, "p95 {p95}");
}

struct TempCsv(PathBuf);

impl TempCsv {
    fn new(name: &str, text: &str) -> TempCsv {
        let dir = std::env::temp_dir().join(format!("simrun-workload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        TempCsv(p)
    }
}

impl Drop for TempCsv {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn empirical_workload(file: &Path, column: Option<&str>) -> Vec<Workload> {
    let col = column.map_or(String::new(), |c| format!(", column = \"{c}\""));
    parse(&format!(
        "[[workload]]\nkind = \"burst\"\nat = \"0s\"\njobs = 400\nduration = {{ dist = \"empirical\", file = {:?}{col} }}\n",
        file.display().to_string()
    ))
    .unwrap()
}

#[test]
fn empirical_durations_sample_the_column() {
    let csv = TempCsv::new("ok.csv", "job,duration_s\na,60\nb, 90.5\nc,600\nd,0\n");
    let ws = empirical_workload(&csv.0, Some("duration_s"));
    let jobs = gen_jobs(&ws, &utc_calendar(), h(1), 4);
    let mut seen: Vec<u64> = jobs.iter().map(|j| j.duration.0).collect();
    seen.sort_unstable();
    seen.dedup();
    // 400 draws from 4 values: each value is missed with probability (3/4)^400 ≈ 1e-50.
    assert_eq!(seen, vec![0, 60_000, 90_500, 600_000]);
}

#[test]
fn empirical_single_column_needs_no_name() {
    let csv = TempCsv::new("one.csv", "seconds\n30\n30\n");
    let ws = empirical_workload(&csv.0, None);
    let jobs = gen_jobs(&ws, &utc_calendar(), h(1), 4);
    assert!(jobs.iter().all(|j| j.duration == SimDuration(30_000)));
}

fn empirical_error(name: &str, text: &str, column: Option<&str>) -> String {
    let csv = TempCsv::new(name, text);
    let ws = empirical_workload(&csv.0, column);
    let ctx = WorkloadContext {
        base_dir: Path::new("."),
        calendar: &utc_calendar(),
        end: SimTime(h(1).0),
    };
    generate_jobs(&ws, &ctx, &RngStreams::new(1))
        .unwrap_err()
        .to_string()
}

#[test]
fn empirical_errors_name_file_line_and_column() {
    let e = empirical_error(
        "bad.csv",
        "id,duration_s\n1,60\n2,abc\n",
        Some("duration_s"),
    );
    assert!(e.starts_with("workload[0]: "), "{e}");
    assert!(
        e.contains("bad.csv line 3, column \"duration_s\": \"abc\" is not a number of seconds"),
        "{e}"
    );
    let e = empirical_error("neg.csv", "s\n-5\n", None);
    assert!(e.contains("neg.csv line 2"), "{e}");
    let e = empirical_error("col.csv", "a,b\n1,2\n", Some("c"));
    assert!(
        e.contains("no column \"c\" (the header has \"a\", \"b\")"),
        "{e}"
    );
    let e = empirical_error("two.csv", "a,b\n1,2\n", None);
    assert!(e.contains("has 2 columns"), "{e}");
    let e = empirical_error("empty.csv", "s\n", None);
    assert!(e.contains("has no values"), "{e}");
    let e = empirical_error("ragged.csv", "a,b\n1,2\n3\n", Some("b"));
    assert!(e.contains("ragged.csv"), "{e}");

    let missing = std::env::temp_dir().join("simrun-no-such-file.csv");
    let ws = empirical_workload(&missing, None);
    let ctx = WorkloadContext {
        base_dir: Path::new("."),
        calendar: &utc_calendar(),
        end: SimTime(h(1).0),
    };
    let e = generate_jobs(&ws, &ctx, &RngStreams::new(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot read job durations from"), "{e}");
    assert!(e.contains("simrun-no-such-file.csv"), "{e}");
}

#[test]
fn empirical_paths_resolve_against_the_base_dir() {
    let csv = TempCsv::new("rel.csv", "s\n42\n");
    let dir = csv.0.parent().unwrap().to_path_buf();
    let ws = parse(
        "[[workload]]\nkind = \"burst\"\nat = \"0s\"\njobs = 1\nduration = { dist = \"empirical\", file = \"rel.csv\" }\n",
    )
    .unwrap();
    let ctx = WorkloadContext {
        base_dir: &dir,
        calendar: &utc_calendar(),
        end: SimTime(h(1).0),
    };
    let jobs = generate_jobs(&ws, &ctx, &RngStreams::new(1)).unwrap();
    assert_eq!(jobs[0].duration, SimDuration(42_000));
}

#[test]
fn bad_workload_specs_are_explained() {
    let cases: &[(&str, &str)] = &[
        (
            "kind = \"diurnal\"\nduration = \"1m\"",
            "unknown workload kind \"diurnal\"",
        ),
        (
            "kind = \"burst\"\njobs = 3\nduration = \"1m\"",
            "needs `at`",
        ),
        (
            "kind = \"burst\"\nat = \"1m\"\nduration = \"1m\"",
            "needs `jobs`",
        ),
        (
            "kind = \"burst\"\nat = \"1m\"\njobs = 3",
            "needs `duration`",
        ),
        (
            "kind = \"burst\"\nat = \"1m\"\njobs = 3\nrate_per_hour = 5.0\nduration = \"1m\"",
            "`rate_per_hour` is not allowed for kind = \"burst\"",
        ),
        (
            "kind = \"burst\"\nat = \"1m\"\njobs = 3000000000\nduration = \"1m\"",
            "more than simrun simulates per workload",
        ),
        (
            "kind = \"poisson\"\nrate_per_hour = 5\nat = \"1m\"\nduration = \"1m\"",
            "`at` is not allowed for kind = \"poisson\"",
        ),
        (
            "kind = \"poisson\"\nduration = \"1m\"",
            "needs `rate_per_hour`",
        ),
        (
            "kind = \"poisson\"\nrate_per_hour = -1\nduration = \"1m\"",
            "finite number ≥ 0",
        ),
        (
            "kind = \"poisson\"\nrate_per_hour = 1\nhourly_profile = [1.0, 2.0]\nduration = \"1m\"",
            "exactly 24 multipliers",
        ),
        (
            "kind = \"poisson\"\nrate_per_hour = 1\nfrom = \"2h\"\nto = \"1h\"\nduration = \"1m\"",
            "`to` (1h) must be later than `from` (2h)",
        ),
        (
            "kind = \"burst\"\nat = \"soon\"\njobs = 3\nduration = \"1m\"",
            "`at`: invalid duration \"soon\"",
        ),
        (
            "kind = \"burst\"\nat = \"1m\"\njobs = 3\nduraton = \"1m\"",
            "unknown field `duraton`",
        ),
        (
            "kind = \"burst\"\nat = \"1m\"\njobs = 3\nduration = { dist = \"empirical\" }",
            "needs `file`",
        ),
        (
            "kind = \"burst\"\nat = \"1m\"\njobs = 3\nduration = { dist = \"weibull\" }",
            "expected \"fixed\", \"uniform\", \"lognormal\", \"empirical\"",
        ),
    ];
    for (body, want) in cases {
        let e = parse(&format!("[[workload]]\n{body}\n")).unwrap_err();
        assert!(e.contains(want), "for {body:?}: {e}");
    }
}

#[test]
fn windows_past_the_scenario_end_are_refused() {
    let ws = parse(BURST).unwrap(); // 30m..40m
    let ctx = WorkloadContext {
        base_dir: Path::new("."),
        calendar: &utc_calendar(),
        end: SimTime(SimDuration::from_mins(35).0),
    };
    let e = generate_jobs(&ws, &ctx, &RngStreams::new(1)).unwrap_err();
    assert_eq!(e.index, 0);
    assert!(
        e.message.contains("reaches past the scenario's end (35m)"),
        "{e}"
    );
    let ws = parse(
        "[[workload]]\nkind = \"poisson\"\nrate_per_hour = 1\nto = \"2h\"\nduration = \"1m\"\n",
    )
    .unwrap();
    let ctx = WorkloadContext {
        end: SimTime(h(1).0),
        ..ctx
    };
    let e = generate_jobs(&ws, &ctx, &RngStreams::new(1)).unwrap_err();
    assert!(e.message.contains("after the scenario's end"), "{e}");
    let ws = parse("[[workload]]\nkind = \"poisson\"\nrate_per_hour = 1e9\nduration = \"1m\"\n")
        .unwrap();
    let e = generate_jobs(&ws, &ctx, &RngStreams::new(1)).unwrap_err();
    assert!(e.message.contains("≈1000000000 candidate arrivals"), "{e}");
}
