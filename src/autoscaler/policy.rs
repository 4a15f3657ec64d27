//! The idle-limit strategy: idle target, admission predicates and the update pass's removal
//! decision (spec §3.2, §3.3, §3.8; GitLab Runner's `idle_limit_strategy.go`).

use crate::config::{IdleSettings, MachineConfig, RunnerConfig};
use crate::time::SimTime;

use super::machine::{MachineState, Tally};

/// Removal reason of the update pass: UsedCount reached MaxBuilds (spec §3.8 rule 2).
pub const REASON_TOO_MANY_BUILDS: &str = "too many builds";
/// Removal reason of the update pass: Total′ reached `limit` (spec §3.8 rule 3).
pub const REASON_TOO_MANY_MACHINES: &str = "too many machines";
/// Removal reason of the update pass: past IdleTime with the target met (spec §3.8 rule 4).
pub const REASON_TOO_MANY_IDLE: &str = "too many idle machines";
/// The "keep" sentinel's string value, literally `don't remote` (sic) (spec §3.8 rule 5).
pub const REASON_KEEP: &str = "don't remote";
/// Removal reason when find-free's CanConnect fails (spec §2.3, §3.4 step 6).
pub const REASON_UNAVAILABLE: &str = "machine is unavailable";
/// Removal reason when the driver create fails (spec §2.3, §3.10).
pub const REASON_FAILED_TO_CREATE: &str = "Failed to create";
/// Removal reason at Release when MaxBuilds is reached — capitalised, unlike the update pass's
/// (spec §3.11).
pub const REASON_RELEASE_TOO_MANY_BUILDS: &str = "Too many builds";

/// The values the strategy reads: the active idle settings (period-dependent, spec §1.2) and
/// the per-runner limits that no period overrides.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    /// Active IdleCount, IdleCountMin, IdleScaleFactor, IdleTime (seconds).
    pub idle: IdleSettings,
    /// `MaxGrowthRate` (≤ 0 disables the admission check, spec §3.3; see §0 W1 for < 0).
    pub max_growth_rate: i64,
    /// `MaxBuilds` (0 = unlimited).
    pub max_builds: i64,
    /// The runner's `limit` (0 = unlimited).
    pub limit: i64,
}

impl Limits {
    /// The limits of `runner` with idle settings `idle`.
    pub fn new(runner: &RunnerConfig, machine: &MachineConfig, idle: IdleSettings) -> Self {
        Limits {
            idle,
            max_growth_rate: machine.max_growth_rate,
            max_builds: machine.max_builds,
            limit: runner.limit,
        }
    }

    /// The idle target T for `in_use` Used machines (spec §3.2).
    pub fn target(&self, in_use: i64) -> i64 {
        idle_target(&self.idle, in_use)
    }

    /// growthExceeded ⇔ MaxGrowthRate > 0 and Creating ≥ MaxGrowthRate (spec §3.3).
    pub fn growth_exceeded(&self, t: &Tally) -> bool {
        self.max_growth_rate > 0 && t.creating >= self.max_growth_rate
    }

    /// totalExceeded ⇔ limit > 0 and Total ≥ limit (spec §3.3).
    pub fn total_exceeded(&self, t: &Tally) -> bool {
        self.limit > 0 && t.total() >= self.limit
    }

    /// "Idle limit exceeded" ⇔ Available ≥ T (spec §3.2).
    pub fn idle_limit_exceeded(&self, t: &Tally) -> bool {
        t.available() >= self.target(t.in_use())
    }
}

/// The idle target (spec §3.2): `IdleCount` when IdleScaleFactor ≤ 0; otherwise
/// `min(IdleCount, max(max(IdleCountMin, 1), trunc(InUse × IdleScaleFactor)))`, the product an
/// IEEE double truncated toward zero (quirk Q8: 100 × 0.29 → 28).
pub fn idle_target(idle: &IdleSettings, in_use: i64) -> i64 {
    if idle.idle_scale_factor <= 0.0 {
        return idle.idle_count;
    }
    let floor_min = idle.idle_count_min.max(1);
    // `as` saturates on overflow and maps NaN to 0: never a panic.
    let scaled = (in_use as f64 * idle.idle_scale_factor).trunc() as i64;
    idle.idle_count.min(floor_min.max(scaled))
}

/// canCreateIdle ⇔ not growthExceeded, not totalExceeded, and Available < T (spec §3.3).
pub fn can_create_idle(l: &Limits, t: &Tally) -> bool {
    !l.growth_exceeded(t) && !l.total_exceeded(t) && !l.idle_limit_exceeded(t)
}

/// canCreateOnDemand ⇔ not growthExceeded, not totalExceeded, and (IdleCount ≤ 0 or
/// Available < T) (spec §3.3).
pub fn can_create_on_demand(l: &Limits, t: &Tally) -> bool {
    !l.growth_exceeded(t)
        && !l.total_exceeded(t)
        && (l.idle.idle_count <= 0 || !l.idle_limit_exceeded(t))
}

/// The update pass's verdict on one machine (spec §3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Keep the machine (the sentinel reason [`REASON_KEEP`]).
    Keep,
    /// Remove it with this reason.
    Remove(&'static str),
}

impl Decision {
    /// The reason string: one of the three removal reasons, or `don't remote`.
    pub fn reason(self) -> &'static str {
        match self {
            Decision::Keep => REASON_KEEP,
            Decision::Remove(r) => r,
        }
    }
}

/// What [`should_remove`] needs of a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineView {
    /// Its state.
    pub state: MachineState,
    /// Its UsedCount.
    pub used_count: i64,
    /// Its "last used" time.
    pub used: SimTime,
}

/// shouldRemove (spec §3.8), against the running tally of the machines before this one:
/// non-Idle → keep; MaxBuilds > 0 and UsedCount ≥ MaxBuilds → `too many builds`; limit > 0 and
/// Total′ ≥ limit → `too many machines`; (now − Used) > IdleTime (strictly) and
/// Available′ ≥ T′(InUse′) → `too many idle machines`; otherwise keep.
pub fn should_remove(l: &Limits, before: &Tally, m: &MachineView, now: SimTime) -> Decision {
    if m.state != MachineState::Idle {
        return Decision::Keep;
    }
    if l.max_builds > 0 && m.used_count >= l.max_builds {
        return Decision::Remove(REASON_TOO_MANY_BUILDS);
    }
    if l.total_exceeded(before) {
        return Decision::Remove(REASON_TOO_MANY_MACHINES);
    }
    let idle_ms = i64::try_from(now.since(m.used).as_millis()).unwrap_or(i64::MAX);
    let limit_ms = l.idle.idle_time.saturating_mul(1000);
    if idle_ms > limit_ms && l.idle_limit_exceeded(before) {
        return Decision::Remove(REASON_TOO_MANY_IDLE);
    }
    Decision::Keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(ic: i64, icm: i64, isf: f64, mgr: i64, limit: i64) -> Limits {
        Limits {
            idle: IdleSettings {
                idle_count: ic,
                idle_count_min: icm,
                idle_scale_factor: isf,
                idle_time: 0,
            },
            max_growth_rate: mgr,
            max_builds: 0,
            limit,
        }
    }

    fn tally(cr: i64, idle: i64, used: i64) -> Tally {
        Tally {
            creating: cr,
            idle,
            used,
            ..Tally::default()
        }
    }

    #[test]
    fn q8_truncation_examples() {
        let f = |u: i64, isf: f64| {
            idle_target(
                &IdleSettings {
                    idle_count: 1000,
                    idle_count_min: 0,
                    idle_scale_factor: isf,
                    idle_time: 0,
                },
                u,
            )
        };
        assert_eq!(f(10, 1.1), 11);
        assert_eq!(f(100, 1.1), 110);
        assert_eq!(f(3, 1.1), 3);
        assert_eq!(f(100, 0.29), 28);
        assert_eq!(f(7, 0.7), 4);
        assert_eq!(f(5, 1.5), 7);
        assert_eq!(f(1, 0.5), 1); // d = 0, floor max(ICM, 1) = 1
    }

    #[test]
    fn case_001_growth_reached() {
        assert!(!can_create_idle(
            &limits(0, 0, 0.0, 10, 0),
            &tally(10, 0, 0)
        ));
    }
    #[test]
    fn case_002_growth_not_reached_but_idle_count_zero() {
        assert!(!can_create_idle(&limits(0, 0, 0.0, 10, 0), &tally(1, 0, 0)));
    }
    #[test]
    fn case_003_total_reaches_limit() {
        assert!(!can_create_idle(&limits(0, 0, 0.0, 0, 10), &tally(5, 3, 2)));
    }
    #[test]
    fn case_004_under_limit_and_idle_count() {
        assert!(can_create_idle(&limits(10, 0, 0.0, 0, 10), &tally(0, 3, 2)));
    }

    /// The IdleScaleFactor rows of TestCanCreateIdle (cases 5–15), shared with case 23.
    const SCALE_ROWS: [(u32, i64, i64, f64, i64, i64, bool); 11] = [
        (5, 100, 10, 1.0, 0, 0, true),
        (6, 100, 10, 1.0, 0, 1, true),
        (7, 100, 10, 1.0, 5, 1, true),
        (8, 100, 10, 1.0, 10, 15, true),
        (9, 100, 10, 1.0, 10, 1, false),
        (10, 100, 0, 1.0, 0, 0, true),
        (11, 10, 0, 1.0, 10, 100, false),
        (12, 10, 0, 0.0, 10, 0, false),
        (13, 10, 0, 0.0, 1, 0, true),
        (14, 5, 10, 0.0, 8, 0, false),
        (15, 5, 10, 1.0, 8, 9, false),
    ];

    fn scale_row(case: u32) -> bool {
        let Some(&(_, ic, icm, isf, idle, used, want)) = SCALE_ROWS.iter().find(|r| r.0 == case)
        else {
            panic!("no row {case}");
        };
        let l = limits(ic, icm, isf, 0, 0);
        let t = tally(0, idle, used);
        assert_eq!(can_create_idle(&l, &t), want, "canCreateIdle case {case}");
        want
    }

    #[test]
    fn case_005_scale_factor_min_target() {
        assert!(scale_row(5));
    }
    #[test]
    fn case_006_scale_factor_one_used() {
        assert!(scale_row(6));
    }
    #[test]
    fn case_007_scale_factor_under_min() {
        assert!(scale_row(7));
        assert_eq!(limits(100, 10, 1.0, 0, 0).target(1), 10);
    }
    #[test]
    fn case_008_scale_factor_above_min() {
        assert!(scale_row(8));
        assert_eq!(limits(100, 10, 1.0, 0, 0).target(15), 15);
    }
    #[test]
    fn case_009_scale_factor_min_reached() {
        assert!(!scale_row(9));
    }
    #[test]
    fn case_010_idle_count_min_unset_means_one() {
        assert!(scale_row(10));
        assert_eq!(limits(100, 0, 1.0, 0, 0).target(0), 1);
    }
    #[test]
    fn case_011_idle_count_caps_scale_factor() {
        assert!(!scale_row(11));
    }
    #[test]
    fn case_012_idle_count_reached() {
        assert!(!scale_row(12));
    }
    #[test]
    fn case_013_idle_count_not_reached() {
        assert!(scale_row(13));
    }
    #[test]
    fn case_014_idle_count_min_ignored_without_scale_factor() {
        assert!(!scale_row(14));
    }
    #[test]
    fn case_015_idle_count_caps_idle_count_min() {
        assert!(!scale_row(15));
    }

    #[test]
    fn case_016_on_demand_growth_reached() {
        assert!(!can_create_on_demand(
            &limits(1, 0, 0.0, 10, 0),
            &tally(10, 0, 0)
        ));
    }
    #[test]
    fn case_017_on_demand_available_reaches_idle_count() {
        assert!(!can_create_on_demand(
            &limits(1, 0, 0.0, 10, 0),
            &tally(1, 0, 0)
        ));
    }
    #[test]
    fn case_018_on_demand_limit() {
        assert!(!can_create_on_demand(
            &limits(1, 0, 0.0, 0, 10),
            &tally(5, 3, 2)
        ));
    }
    #[test]
    fn case_019_on_demand_under_limit() {
        assert!(can_create_on_demand(
            &limits(10, 0, 0.0, 0, 10),
            &tally(0, 3, 2)
        ));
    }
    #[test]
    fn case_020_on_demand_idle_count_zero_no_limit() {
        assert!(can_create_on_demand(
            &limits(0, 10, 1.0, 0, 0),
            &tally(0, 0, 10)
        ));
    }
    #[test]
    fn case_021_on_demand_idle_count_zero_under_limit() {
        assert!(can_create_on_demand(
            &limits(0, 10, 1.0, 0, 10),
            &tally(0, 3, 2)
        ));
    }
    #[test]
    fn case_022_on_demand_idle_count_zero_at_limit() {
        assert!(!can_create_on_demand(
            &limits(0, 10, 1.0, 0, 10),
            &tally(0, 0, 10)
        ));
    }
    #[test]
    fn case_023_on_demand_repeats_cases_5_to_15() {
        for &(case, ic, icm, isf, idle, used, want) in &SCALE_ROWS {
            let l = limits(ic, icm, isf, 0, 0);
            let t = tally(0, idle, used);
            assert!(ic > 0);
            assert_eq!(can_create_on_demand(&l, &t), want, "case {case} on demand");
        }
    }

    /// shouldRemove with machine Idle, UsedCount `uc`, last used `ago_s` seconds before now.
    #[allow(clippy::too_many_arguments)]
    fn remove(
        ic: i64,
        icm: i64,
        isf: f64,
        it: i64,
        mb: i64,
        limit: i64,
        before: Tally,
        state: MachineState,
        uc: i64,
        ago_s: u64,
    ) -> Decision {
        let mut l = limits(ic, icm, isf, 0, limit);
        l.idle.idle_time = it;
        l.max_builds = mb;
        let now = SimTime(10_000_000);
        let m = MachineView {
            state,
            used_count: uc,
            used: SimTime(now.0 - ago_s * 1000),
        };
        should_remove(&l, &before, &m, now)
    }
    use MachineState::{Creating, Idle};
    const KEEP: Decision = Decision::Keep;
    const IDLE: Decision = Decision::Remove(REASON_TOO_MANY_IDLE);

    #[test]
    fn case_024_creating_is_kept() {
        let d = remove(0, 0, 0.0, 0, 0, 0, Tally::default(), Creating, 0, 0);
        assert_eq!(d, KEEP);
        assert_eq!(d.reason(), "don't remote");
    }
    #[test]
    fn case_025_max_builds_reached() {
        let d = remove(10, 0, 0.0, 0, 1, 0, tally(0, 1, 0), Idle, 1, 0);
        assert_eq!(d, Decision::Remove("too many builds"));
    }
    #[test]
    fn case_026_max_builds_not_reached() {
        assert_eq!(
            remove(10, 0, 0.0, 0, 10, 0, tally(0, 1, 0), Idle, 1, 0),
            KEEP
        );
    }
    #[test]
    fn case_027_too_many_machines() {
        let d = remove(10, 0, 0.0, 0, 0, 15, tally(5, 5, 5), Idle, 0, 0);
        assert_eq!(d, Decision::Remove("too many machines"));
    }
    #[test]
    fn case_028_inside_idle_time_under_target() {
        assert_eq!(
            remove(10, 0, 0.0, 3600, 0, 0, tally(0, 5, 0), Idle, 0, 60),
            KEEP
        );
    }
    #[test]
    fn case_029_inside_idle_time_at_target() {
        assert_eq!(
            remove(10, 0, 0.0, 3600, 0, 0, tally(0, 10, 0), Idle, 0, 60),
            KEEP
        );
    }
    #[test]
    fn case_030_past_idle_time_under_target() {
        assert_eq!(
            remove(10, 0, 0.0, 10, 0, 0, tally(0, 5, 0), Idle, 0, 60),
            KEEP
        );
    }
    #[test]
    fn case_031_past_idle_time_at_target() {
        let d = remove(10, 0, 0.0, 10, 0, 0, tally(0, 10, 0), Idle, 0, 60);
        assert_eq!(d, IDLE);
        assert_eq!(d.reason(), "too many idle machines");
    }
    #[test]
    fn case_032_scale_factor_empty() {
        assert_eq!(
            remove(100, 10, 1.0, 10, 0, 0, tally(0, 0, 0), Idle, 0, 60),
            KEEP
        );
    }
    #[test]
    fn case_033_scale_factor_one_used() {
        assert_eq!(
            remove(100, 10, 1.0, 10, 0, 0, tally(0, 0, 1), Idle, 0, 60),
            KEEP
        );
    }
    #[test]
    fn case_034_scale_factor_under_min() {
        assert_eq!(
            remove(100, 10, 1.0, 10, 0, 0, tally(0, 5, 1), Idle, 0, 60),
            KEEP
        );
    }
    #[test]
    fn case_035_scale_factor_target_from_used() {
        assert_eq!(
            remove(100, 10, 1.0, 10, 0, 0, tally(0, 10, 15), Idle, 0, 60),
            KEEP
        );
    }
    #[test]
    fn case_036_scale_factor_min_reached() {
        assert_eq!(
            remove(100, 10, 1.0, 10, 0, 0, tally(0, 10, 1), Idle, 0, 60),
            IDLE
        );
    }
    #[test]
    fn case_037_scale_factor_min_defaults_to_one() {
        assert_eq!(
            remove(100, 0, 1.0, 10, 0, 0, tally(0, 0, 0), Idle, 0, 60),
            KEEP
        );
    }
    #[test]
    fn case_038_idle_count_caps_scale_factor() {
        assert_eq!(
            remove(10, 0, 1.0, 10, 0, 0, tally(0, 10, 100), Idle, 0, 60),
            IDLE
        );
    }
    #[test]
    fn case_039_idle_count_min_ignored_without_scale_factor() {
        assert_eq!(
            remove(5, 10, 0.0, 10, 0, 0, tally(0, 8, 0), Idle, 0, 60),
            IDLE
        );
    }
    #[test]
    fn case_040_idle_count_caps_idle_count_min() {
        assert_eq!(
            remove(5, 10, 1.0, 10, 0, 0, tally(0, 8, 9), Idle, 0, 60),
            IDLE
        );
    }

    #[test]
    fn idle_time_is_strictly_greater() {
        assert_eq!(
            remove(0, 0, 0.0, 60, 0, 0, tally(0, 0, 0), Idle, 0, 60),
            KEEP
        );
        assert_eq!(
            should_remove(
                &Limits {
                    idle: IdleSettings {
                        idle_time: 60,
                        ..IdleSettings::default()
                    },
                    ..Limits::default()
                },
                &Tally::default(),
                &MachineView {
                    state: Idle,
                    used_count: 0,
                    used: SimTime(0)
                },
                SimTime(60_001)
            ),
            IDLE
        );
    }
}
