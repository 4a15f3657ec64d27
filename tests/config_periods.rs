//! Period selection through the loaded config (spec §1.2, §5.7 cases 114–122) and the week
//! table of `simrun check` (§1.3 window edges, Q5).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use simrun::config::week::{week_start, week_table};
use simrun::config::{LoadOptions, MachineConfig, load_config_str};

/// TestDockerMachine's "now": 2020-05-05 20:00:00 local (local = UTC here).
fn now() -> Timestamp {
    "2020-05-05T20:00:00Z".parse().unwrap()
}

const ACTIVE: &str = "* * 20 * * * *";
const INACTIVE: &str = "* * 22 * * * *";

fn machine(body: &str) -> MachineConfig {
    let text = format!(
        "[[runners]]\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"m-%s\"\n{body}"
    );
    let l = load_config_str("t.toml", &text, &LoadOptions::default())
        .unwrap_or_else(|f| panic!("{}", f.render()));
    l.config.runners[0].machine.clone().unwrap()
}

fn entry(period: &str, ic: i64, it: i64) -> String {
    format!(
        "    [[runners.machine.autoscaling]]\n      Periods = [\"{period}\"]\n      IdleCount = {ic}\n      IdleTime = {it}\n"
    )
}

fn ic_it(m: &MachineConfig) -> (i64, i64) {
    let a = m.idle_at(now());
    (a.settings.idle_count, a.settings.idle_time)
}

const ROOT: &str = "    IdleCount = 1\n    IdleTime = 1000\n";

#[test]
fn case_114_root_values_only() {
    assert_eq!(ic_it(&machine(ROOT)), (1, 1000));
}

#[test]
fn case_115_116_off_peak_is_ignored() {
    for p in [ACTIVE, INACTIVE] {
        let m = machine(&format!(
            "{ROOT}    OffPeakPeriods = [\"{p}\"]\n    OffPeakIdleCount = 2\n    OffPeakIdleTime = 2000\n"
        ));
        assert_eq!(ic_it(&m), (1, 1000), "OffPeak {p}");
    }
}

#[test]
fn case_118_active_entry_wins() {
    assert_eq!(
        ic_it(&machine(&format!("{ROOT}{}", entry(ACTIVE, 2, 2000)))),
        (2, 2000)
    );
}

#[test]
fn case_119_inactive_entry_leaves_root() {
    assert_eq!(
        ic_it(&machine(&format!("{ROOT}{}", entry(INACTIVE, 2, 2000)))),
        (1, 1000)
    );
}

#[test]
fn case_120_last_match_wins() {
    let m = machine(&format!(
        "{ROOT}{}{}",
        entry(ACTIVE, 2, 2000),
        entry(ACTIVE, 3, 3000)
    ));
    assert_eq!(ic_it(&m), (3, 3000));
}

#[test]
fn case_121_off_peak_plus_entries() {
    let m = machine(&format!(
        "    OffPeakPeriods = [\"{ACTIVE}\"]\n    OffPeakIdleCount = 2\n    OffPeakIdleTime = 2000\n{}{}{}",
        entry(ACTIVE, 3, 3000),
        entry(ACTIVE, 4, 4000),
        entry(INACTIVE, 5, 5000)
    ));
    assert_eq!(ic_it(&m), (4, 4000));
}

#[test]
fn case_122_invalid_period_fails_to_load() {
    let text = format!(
        "[[runners]]\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"m-%s\"\n{}",
        entry("invalid period", 1, 1)
    );
    let f = load_config_str("t.toml", &text, &LoadOptions::default()).unwrap_err();
    assert_eq!(f.errors[0].code, "invalid-period");
    assert_eq!(f.errors[0].line, Some(6));
}

#[test]
fn active_entry_replaces_all_four_values_quirk_q4() {
    let m = machine(&format!(
        "    IdleCount = 10\n    IdleScaleFactor = 0.5\n    IdleCountMin = 3\n    IdleTime = 600\n{}",
        entry(ACTIVE, 2, 2000)
    ));
    let a = m.idle_at(now());
    assert_eq!(a.entry, Some(0));
    assert_eq!(a.settings.idle_scale_factor, 0.0);
    assert_eq!(a.settings.idle_count_min, 0);
}

#[test]
fn local_means_the_zone_the_caller_supplies() {
    // "Local" (no Timezone) with Local = Europe/Berlin: 20:00 UTC is 22:00 CEST.
    let text = format!(
        "[[runners]]\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"m-%s\"\n{ROOT}{}",
        entry(INACTIVE, 2, 2000)
    );
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let l = load_config_str("t.toml", &text, &LoadOptions { local_zone: berlin }).unwrap();
    let m = l.config.runners[0].machine.as_ref().unwrap();
    assert_eq!(ic_it(m), (2, 2000));
}

fn shares(m: &MachineConfig, day: &str) -> Vec<(String, u32)> {
    let start = week_start(day.parse().unwrap(), &TimeZone::UTC).unwrap();
    week_table(m, start, &TimeZone::UTC)
        .into_iter()
        .map(|r| (r.label, (r.active_share * 3600.0).round() as u32))
        .collect()
}

#[test]
fn week_table_shows_window_edges_shifted_one_second_early() {
    // GitLab's AWS tutorial periods: weekdays 9-17 and weekends (UTC).
    let m = machine(&format!(
        "{ROOT}{}{}",
        entry("* * 9-17 * * mon-fri *", 50, 3600),
        entry("* * * * * sat,sun *", 5, 60)
    ));
    let s = shares(&m, "2026-03-04");
    let get = |label: &str| s.iter().find(|(l, _)| l == label).map(|(_, n)| *n).unwrap();
    assert_eq!(get("Mon 08:00"), 1, "08:59:59 is inside (W4)");
    assert_eq!(get("Mon 09:00"), 3600);
    assert_eq!(get("Mon 17:00"), 3599, "17:59:59 is outside (Q5)");
    assert_eq!(get("Mon 18:00"), 0);
    assert_eq!(
        get("Fri 23:00"),
        1,
        "Friday 23:59:59 belongs to the weekend entry"
    );
    assert_eq!(get("Sat 12:00"), 3600);
    assert_eq!(get("Sun 23:00"), 3599);
    assert_eq!(get("Mon 00:00"), 0);
    let total: u32 = s.iter().map(|(_, n)| n).sum();
    // 5 weekdays × 9 h + 2 days × 24 h, each contiguous window losing its last second and
    // gaining the second before its start: Mon–Fri 9–17 windows 5 × 32400, weekend 172800.
    assert_eq!(total, 5 * 9 * 3600 + 48 * 3600);
}

#[test]
fn week_table_shows_five_field_periods_active_one_second_per_minute() {
    let m = machine(&format!("{ROOT}{}", entry("* 8-17 * * *", 5, 60)));
    let s = shares(&m, "2026-03-04");
    let get = |label: &str| s.iter().find(|(l, _)| l == label).map(|(_, n)| *n).unwrap();
    assert_eq!(get("Tue 07:00"), 1);
    assert_eq!(get("Tue 08:00"), 60);
    assert_eq!(get("Tue 17:00"), 59);
    assert_eq!(get("Tue 18:00"), 0);
}

#[test]
fn week_table_follows_a_dst_change_in_the_period_zone() {
    // Europe/Berlin switches to CEST on Sunday 2026-03-29. "10-17" local is 09:00–16:59 UTC
    // before and 08:00–15:59 UTC from that Sunday on; the table is shown in UTC.
    let text = "[[runners]]\n  executor = \"docker+machine\"\n  [runners.machine]\n    MachineName = \"m-%s\"\n    [[runners.machine.autoscaling]]\n      Periods = [\"* * 10-17 * * * *\"]\n      Timezone = \"Europe/Berlin\"\n      IdleCount = 3\n";
    let l = load_config_str("t.toml", text, &LoadOptions::default()).unwrap();
    let m = l.config.runners[0].machine.as_ref().unwrap();
    let s = shares(m, "2026-03-23");
    let get = |label: &str| s.iter().find(|(l, _)| l == label).map(|(_, n)| *n).unwrap();
    assert_eq!(
        get("Sat 08:00"),
        1,
        "Saturday: window opens at 09:00 UTC (10:00 CET)"
    );
    assert_eq!(get("Sat 09:00"), 3600);
    assert_eq!(get("Sat 16:00"), 3599);
    assert_eq!(
        get("Sun 07:00"),
        1,
        "Sunday after the change: opens at 08:00 UTC (10:00 CEST)"
    );
    assert_eq!(get("Sun 08:00"), 3600);
    assert_eq!(get("Sun 15:00"), 3599);
    assert_eq!(get("Sun 16:00"), 0);
}
