//! Property tests (proptest) over generated configs, workloads, autoscaling periods, fault
//! windows and signals, on the fixed-latency fake cloud (`tests/fixtures/fakes/fixed-api.toml`:
//! `fixed.toml` plus a create API call whose rate limit a `rate_limit` fault can scale).
//!
//! Generated faults (src/fake_cloud/faults.rs): `provisioning` (each stage), `create_hang`,
//! `capacity`, `quota`, `api_error` (create), `rate_limit`, `removal_outage` (`rm -y`,
//! `rm -f` or both; up to 1 h, so removals get stuck and give up, Q12, Q21), `listing_lag`,
//! `vanish`, `spot_interruption` (the runner then asks for `google-preemptible` VMs, with or
//! without a notice) and `first_use_race` (from the start; with or without CA overwrites).
//! Signals: SIGQUIT, SIGTERM or SIGINT, optionally followed by a second one (mostly within
//! seconds, while the grace period or the drain runs), with or without drain; after the
//! faults' effects, or (one case in four with faults) in the middle of the first fault's
//! window, where only the invariants, orphan accounting and signal rules are checked.
//!
//! * **invariants**: every generated run has no invariant violation
//!   (`RunRecords::violations` is empty; issue 6 §2);
//! * **orphan accounting** ([`orphan_problem`]): every VM billed at the horizon is tracked,
//!   `left_running` or `orphaned` with a cost, and the orphaned cost is carried by machines
//!   reported orphaned only;
//! * **liveness**: once the faults stop, every job ends by [`drain_bound_s`] (succeeded, or
//!   failed as [`Allowed`]: `runner_system_failure` when picked up while faults still acted,
//!   or at the loss of its VM inside a `vanish`/`spot_interruption` window). Not checked
//!   after a CA overwrite (`first_use_race` with `overwrite` > 0: TLS never works again) or
//!   when the run shows the on-demand waiter hang this suite found ([`own_machine_lost_hang`],
//!   kept as tests/regressions/use-wait-hang-own-machine-lost.toml);
//! * **signals** ([`stop_problem`]): no job request after the first signal; aborts
//!   (`runner_interrupted`) exactly at the first forceful signal; a signal after a forceful
//!   one exits at once; no removal after the exit; without drain no drain runs (§4.2); with
//!   drain and a sufficient `shutdown_timeout` ([`sufficient_shutdown_timeout_s`]) the drain
//!   reports every machine removed (`failed=0`) within its budget and nothing it could see is
//!   left in the cloud (spec §4.1, §4.3), unless a second signal cut it short.
//!
//! A failing case is written, while proptest shrinks it, to
//! `tests/regressions/failing-<property>.toml` (git-ignored): the last file written is the
//! minimal scenario, replayable with `simrun run tests/regressions/failing-<property>.toml`
//! (its seed is in the file, so it replays exactly; `a_failing_case_round_trips_through_the_cli`
//! proves it). Regressions kept under `tests/regressions/*.toml` are replayed by
//! `regressions_replay_cleanly`.
//!
//! Cases: `PROPTEST_CASES` (default 256 per property here: the whole file ran in 2–7 s on 2
//! shared cores in the test profile, depending on their load); a longer run:
//! `PROPTEST_CASES=2000 PROPTEST_RNG_SEED=$RANDOM cargo test --release --test properties --test idle_policy_model`
//! (the same command as in the README).

mod common;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use simrun::autoscaler::Sabotage;
use simrun::scenario::{ScenarioOverrides, load_scenario_str};
use simrun::sim::records::{JobOutcome, RunRecords};
use simrun::sim::world::{RunOptions, run};

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions")
}

/// One `[[runners.machine.autoscaling]]` entry (spec §1.2): active while `periods` matches;
/// it replaces all four idle values (no inheritance, Q4).
#[derive(Clone, Debug)]
struct Period {
    /// A 7-field period expression (seconds `*`, so windows are contiguous, §1.3).
    expr: String,
    timezone: &'static str,
    idle_count: u32,
    idle_scale_factor: f64,
    idle_count_min: u32,
    idle_time_s: u32,
}

/// A fault window (`[[faults]]`, src/fake_cloud/faults.rs) that ends at `to_s`.
#[derive(Clone, Debug)]
struct Fault {
    /// The kind with its keys, as TOML lines.
    kind: FaultGen,
    from_s: u32,
    to_s: u32,
}

#[derive(Clone, Debug)]
enum FaultGen {
    /// A create stage fails (`boot`, `ssh`, `provision`, `docker_install`, `certs`).
    Provisioning(&'static str),
    /// Creates never complete (GitLab Runner kills them after 1 h, spec §3.12).
    CreateHang,
    /// Insufficient capacity.
    Capacity,
    /// Instance quota.
    Quota(u32),
    /// `docker-machine create` fails with a cloud error.
    ApiError,
    /// The create API call's rate limit scaled by this factor (the fixture's 1000 calls per
    /// minute → 1–10): throttled creates fail (reaction `fail`).
    RateLimit(f64),
    /// `rm -y` fails and `rm -f` exits 0 but leaves the VM (Q21), for `scope.operation`
    /// (`None` = both): removals retry every 30 s, get stuck, give up and orphan (§3.9, Q12).
    RemovalOutage(Option<&'static str>),
    /// A create's directory appears this many seconds after the create starts (§3.5).
    ListingLag(u32),
    /// Ready VMs disappear at this hazard per VM per hour.
    Vanish(f64),
    /// Spot VMs (the runner asks for `google-preemptible`) are reclaimed at this hazard per
    /// VM per hour, after `notice` seconds (`None`: the profile's, 0 on the fixed cloud).
    SpotInterruption(f64, Option<u32>),
    /// The store starts fresh; creates within `delay` s of the first race on the
    /// certificates, failing with the given probability, or overwriting the CA with
    /// probability `overwrite` (then TLS never works again: cloud-faults §1.5).
    FirstUseRace {
        delay_s: Option<u32>,
        probability: Option<f64>,
        overwrite: Option<f64>,
    },
}

impl Fault {
    fn toml(&self) -> String {
        let body = match &self.kind {
            FaultGen::Provisioning(stage) => {
                format!("kind = \"provisioning\"\nstage = \"{stage}\"")
            }
            FaultGen::CreateHang => "kind = \"create_hang\"".to_string(),
            FaultGen::Capacity => "kind = \"capacity\"".to_string(),
            FaultGen::Quota(n) => format!("kind = \"quota\"\ninstances = {n}"),
            FaultGen::ApiError => {
                "kind = \"api_error\"\ncode = \"500\"\nscope = { operation = \"create\" }"
                    .to_string()
            }
            FaultGen::RateLimit(f) => format!(
                "kind = \"rate_limit\"\nfactor = {f:?}\nscope = {{ operation = \"instances.insert\" }}"
            ),
            FaultGen::RemovalOutage(op) => match op {
                Some(op) => {
                    format!("kind = \"removal_outage\"\nscope = {{ operation = \"{op}\" }}")
                }
                None => "kind = \"removal_outage\"".to_string(),
            },
            FaultGen::ListingLag(d) => format!("kind = \"listing_lag\"\ndelay = \"{d}s\""),
            FaultGen::Vanish(r) => format!("kind = \"vanish\"\nrate_per_hour = {r:?}"),
            FaultGen::SpotInterruption(r, notice) => {
                let mut t = format!("kind = \"spot_interruption\"\nrate_per_hour = {r:?}");
                if let Some(n) = notice {
                    t.push_str(&format!("\nnotice = \"{n}s\""));
                }
                t
            }
            FaultGen::FirstUseRace {
                delay_s,
                probability,
                overwrite,
            } => {
                let mut t = "kind = \"first_use_race\"".to_string();
                if let Some(d) = delay_s {
                    t.push_str(&format!("\ndelay = \"{d}s\""));
                }
                if let Some(p) = probability {
                    t.push_str(&format!("\nprobability = {p:?}"));
                }
                if let Some(o) = overwrite {
                    t.push_str(&format!("\noverwrite = {o:?}"));
                }
                t
            }
        };
        format!(
            "\n[[faults]]\n{body}\nfrom = \"{}s\"\nto = \"{}s\"\n",
            self.from_s, self.to_s
        )
    }

    /// When (seconds after the start) the fault's effects are over on the fixed cloud, for
    /// setup `s`:
    /// * create faults: a create whose call or stage started inside the window ends at most
    ///   [`CREATE_S`] after `to` (a hung create at GitLab Runner's 1 h create timeout, spec
    ///   §3.12), and its "Failed to create" removal ([`REMOVE_S`]) follows: `to + C + R`
    ///   (`to + 3600 + R` for `create_hang`); `listing_lag` and `first_use_race` also act on
    ///   creates only (a late directory appears by the create's end at the latest);
    /// * `removal_outage`: a removal that failed just before `to` sleeps
    ///   [`REMOVE_RETRY_S`] (§3.9) and then succeeds in [`REMOVE_S`]; stuck removals (three
    ///   failures or more) take the provider-wide stuck lock one at a time, [`REMOVE_S`] each.
    ///   Removing machines hold `limit` slots only (Q13): with `limit` > 0 at most
    ///   `limit + concurrent` of them (`concurrent` on-demand creations may pass the check
    ///   at once, Q10a) delay jobs, so `to + 30 + R + R·(limit + concurrent)`; without
    ///   `limit` they delay no job: `to`;
    /// * `vanish`, `spot_interruption`: losses happen before `to` (+ `notice` for spot);
    ///   the lost VM's record lingers while a cached positive CanConnect (5 min, §3.12,
    ///   M10) lets find-free hand it out, each time forcing an on-demand creation in Use,
    ///   then it is found unreachable and removed: `to + notice + 300 + C + R`.
    fn effect_s(&self, s: &Setup) -> u64 {
        let to = u64::from(self.to_s);
        match self.kind {
            FaultGen::CreateHang => to + 3600 + REMOVE_S,
            FaultGen::RemovalOutage(_) if s.limit > 0 => {
                to + REMOVE_RETRY_S + REMOVE_S + REMOVE_S * u64::from(s.limit + s.concurrent)
            }
            FaultGen::RemovalOutage(_) => to,
            FaultGen::Vanish(_) => to + CAN_CONNECT_CACHE_S + CREATE_S + REMOVE_S,
            FaultGen::SpotInterruption(_, notice) => {
                to + u64::from(notice.unwrap_or(0)) + CAN_CONNECT_CACHE_S + CREATE_S + REMOVE_S
            }
            _ => to + CREATE_S + REMOVE_S,
        }
    }

    /// Whether the fault can break the environment for good: a `first_use_race` that
    /// overwrites the CA makes every later TLS check fail (cloud-faults §1.5), so no bound
    /// holds after it.
    fn permanent(&self) -> bool {
        matches!(self.kind, FaultGen::FirstUseRace { overwrite: Some(o), .. } if o > 0.0)
    }

    /// The window in which a VM loss (and the failure of the job running on it) may happen:
    /// `[from, to + notice]` for `vanish` and `spot_interruption`, else `None`.
    fn loss_window_ms(&self) -> Option<(u64, u64)> {
        let notice = match self.kind {
            FaultGen::Vanish(_) => 0,
            FaultGen::SpotInterruption(_, n) => n.unwrap_or(0),
            _ => return None,
        };
        Some((
            u64::from(self.from_s) * 1000,
            (u64::from(self.to_s) + u64::from(notice)) * 1000,
        ))
    }
}

/// Stop signals (spec §4.1) and the optional `[machine.shutdown_drain]` (§4.3).
#[derive(Clone, Debug)]
struct Stop {
    /// Seconds after the faults' effects ended ([`Setup::faults_over_s`]) and after the
    /// first arrival.
    after_s: u32,
    /// `SIGQUIT`, `SIGTERM` or `SIGINT`.
    first: &'static str,
    /// A second signal this many seconds after the first (§4.1: another SIGQUIT keeps it
    /// graceful, SIGTERM/SIGINT after SIGQUIT switch to forceful, any signal after a
    /// forceful one exits at once).
    second: Option<(u32, &'static str)>,
    /// `(concurrency, max_retries)`; `None` = drain off.
    drain: Option<(i64, i64)>,
    /// The first signal comes in the middle of the first fault's window instead of after
    /// the faults' effects (with faults only): the drain may meet the faults (a
    /// `removal_outage` on `rm -f` orphans what it "removes", Q21), so only the invariants,
    /// orphan accounting and the signal rules are checked.
    during: bool,
}

fn forceful(sig: &str) -> bool {
    sig != "SIGQUIT"
}

impl Stop {
    /// The signals as `(seconds after the start, name)`, the first at `at`.
    fn signals(&self, at: u64) -> Vec<(u64, &'static str)> {
        let mut v = vec![(at, self.first)];
        if let Some((d, sig)) = self.second {
            v.push((at + u64::from(d), sig));
        }
        v
    }
}

/// A generated setup: the knobs platform engineers tune.
#[derive(Clone, Debug)]
struct Setup {
    concurrent: u32,
    limit: u32,
    idle_count: u32,
    idle_scale_factor: f64,
    idle_count_min: u32,
    idle_time_s: u32,
    max_growth_rate: u32,
    max_builds: u32,
    jobs: u32,
    spread_s: u32,
    job_s: u32,
    long_poll_s: u32,
    seed: u64,
    periods: Vec<Period>,
    faults: Vec<Fault>,
}

fn period() -> impl Strategy<Value = Period> {
    (
        prop_oneof![
            // hours around the 08:00Z start (UTC) / 09:00 (Berlin)
            (7u32..11, 0u32..3).prop_map(|(h, len)| format!("* * {h}-{} * * * *", h + len)),
            // part of every hour: many switches in one run
            (0u32..50, 1u32..30)
                .prop_map(|(m, len)| format!("* {m}-{} * * * * *", (m + len).min(59))),
        ],
        prop_oneof![Just("UTC"), Just("Europe/Berlin")],
        0u32..4,
        prop_oneof![Just(0.0), Just(0.5), Just(1.0)],
        0u32..3,
        0u32..900,
    )
        .prop_map(|(expr, timezone, ic, isf, icm, it)| Period {
            expr,
            timezone,
            idle_count: ic,
            idle_scale_factor: isf,
            idle_count_min: icm,
            idle_time_s: it,
        })
}

fn fault() -> impl Strategy<Value = Fault> {
    (
        prop_oneof![
            prop_oneof![
                Just("boot"),
                Just("ssh"),
                Just("provision"),
                Just("docker_install"),
                Just("certs")
            ]
            .prop_map(FaultGen::Provisioning),
            Just(FaultGen::CreateHang),
            Just(FaultGen::Capacity),
            (0u32..3).prop_map(FaultGen::Quota),
            Just(FaultGen::ApiError),
            prop_oneof![Just(0.001), Just(0.002), Just(0.01)].prop_map(FaultGen::RateLimit),
            prop_oneof![Just(None), Just(Some("rm -y")), Just(Some("rm -f"))]
                .prop_map(FaultGen::RemovalOutage),
            (1u32..120).prop_map(FaultGen::ListingLag),
            prop_oneof![Just(2.0), Just(10.0), Just(60.0)].prop_map(FaultGen::Vanish),
            (
                prop_oneof![Just(2.0), Just(10.0), Just(60.0)],
                prop_oneof![Just(None), Just(Some(30u32)), Just(Some(120))]
            )
                .prop_map(|(r, n)| FaultGen::SpotInterruption(r, n)),
            (
                prop_oneof![Just(None), Just(Some(10u32)), Just(Some(60))],
                prop_oneof![Just(None), Just(Some(0.5))],
                prop_oneof![Just(None), Just(Some(0.0)), Just(Some(0.5))]
            )
                .prop_map(|(delay_s, probability, overwrite)| FaultGen::FirstUseRace {
                    delay_s,
                    probability,
                    overwrite
                }),
        ],
        0u32..1800,
        30u32..1800,
    )
        .prop_map(|(kind, from_s, len)| {
            // The race is on the store's first use: a window from the start.
            let from_s = if matches!(kind, FaultGen::FirstUseRace { .. }) {
                0
            } else {
                from_s
            };
            // Removal give-ups (30 attempts, the later ones serialised, §3.9) need long
            // outages: up to 1 h.
            let len = if matches!(kind, FaultGen::RemovalOutage(_)) {
                2 * len
            } else {
                len
            };
            Fault {
                kind,
                from_s,
                to_s: from_s + len,
            }
        })
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        (
            1u32..6,
            0u32..7,
            0u32..4,
            prop_oneof![Just(0.0), Just(0.5), Just(1.0), Just(1.5)],
            0u32..3,
            0u32..1200,
        ),
        (
            0u32..4,
            0u32..4,
            1u32..25,
            0u32..1800,
            30u32..900,
            prop_oneof![Just(0u32), Just(50)],
            any::<u64>(),
        ),
        (
            prop::collection::vec(period(), 0..3),
            prop::collection::vec(fault(), 0..3),
        ),
    )
        .prop_map(
            |(
                (concurrent, limit, idle_count, isf, icm, it),
                (mgr, mb, jobs, spread, job_s, lp, seed),
                (periods, faults),
            )| Setup {
                concurrent,
                limit,
                idle_count,
                idle_scale_factor: isf,
                idle_count_min: icm,
                idle_time_s: it,
                max_growth_rate: mgr,
                max_builds: mb,
                jobs,
                spread_s: spread,
                job_s,
                long_poll_s: lp,
                seed,
                periods,
                faults,
            },
        )
}

/// The fixed cloud's creation time (tests/fixtures/fakes/fixed.toml `[create]`): 50 s.
const CREATE_S: u64 = 50;
/// The fixed cloud's removal: `inspect` 1 s (= `config`) + `stop` 1 s + `rm` 2 s.
const REMOVE_S: u64 = 4;
/// GitLab Runner's wait after a failed `rm -y` (`removeRetryInterval`, spec §3.9): 30 s.
const REMOVE_RETRY_S: u64 = 30;
/// How long a positive CanConnect result is cached (spec §3.12, M10): 5 min.
const CAN_CONNECT_CACHE_S: u64 = 300;
/// The fixed cloud's drain step per machine after it settled: `inspect` 1 s + `rm -f` 2 s.
const FORCE_REMOVE_S: u64 = 3;

impl Setup {
    /// When every fault's effects are over (seconds after the start; 0 without faults):
    /// `max(to + effect)` over the windows, see [`Fault::effect_s`].
    fn faults_over_s(&self) -> u64 {
        self.faults
            .iter()
            .map(|f| f.effect_s(self))
            .max()
            .unwrap_or(0)
    }

    /// When the effects of the faults that make creates fail are over (seconds; 0 without
    /// such faults): as [`Setup::faults_over_s`] over all kinds but `removal_outage`,
    /// `vanish` and `spot_interruption`, which fail no create. Until then a job's preparation
    /// may fail on failing creates (`runner_system_failure`, spec §3.6, §0 W9).
    fn create_faults_over_s(&self) -> u64 {
        self.faults
            .iter()
            .filter(|f| {
                !matches!(
                    f.kind,
                    FaultGen::RemovalOutage(_)
                        | FaultGen::Vanish(_)
                        | FaultGen::SpotInterruption(..)
                )
            })
            .map(|f| f.effect_s(self))
            .max()
            .unwrap_or(0)
    }

    /// Whether a fault can break the environment for good ([`Fault::permanent`]).
    fn permanent_fault(&self) -> bool {
        self.faults.iter().any(Fault::permanent)
    }

    /// The runner asks for spot (preemptible) VMs when a `spot_interruption` fault is
    /// generated (the fixed cloud's `google` driver reads `google-preemptible`,
    /// src/fake_cloud/options.rs).
    fn spot(&self) -> bool {
        self.faults
            .iter()
            .any(|f| matches!(f.kind, FaultGen::SpotInterruption(..)))
    }

    /// The windows in which VM losses may fail running jobs ([`Fault::loss_window_ms`]).
    fn loss_windows_ms(&self) -> Vec<(u64, u64)> {
        self.faults
            .iter()
            .filter_map(Fault::loss_window_ms)
            .collect()
    }

    /// The idle settings that can be active: the root's and every period entry's.
    fn idle_settings(&self) -> Vec<(u32, f64)> {
        let mut v = vec![(self.idle_count, self.idle_scale_factor)];
        v.extend(
            self.periods
                .iter()
                .map(|p| (p.idle_count, p.idle_scale_factor)),
        );
        v
    }
}

/// Liveness bound (seconds after the start) by which every job must have ended.
///
/// `bound = max(spread, F) + ⌈n/k⌉·(C + 8) + ⌈n/P⌉·(job_s + 10) + 3·n + 120`, where
/// * `n` = jobs, `spread` = when the last one arrives;
/// * `F` = [`Setup::faults_over_s`] = the latest [`Fault::effect_s`]: after `F` the cloud
///   behaves as without faults; in the worst case every job is still pending then. Per kind
///   (`to` = window end, `C` = 50 s create, `R` = 4 s removal): create faults `to + C + R`
///   (`create_hang`: `to + 3600 + R`); `removal_outage` `to + 30 + R + R·(limit + concurrent)`
///   with `limit` > 0 (stuck removals hold `limit` slots, Q13), else `to`; `vanish` and
///   `spot_interruption` `to + notice + 300 + C + R` (a lost VM is handed out for up to 5 min
///   on a cached CanConnect, M10);
/// * `P` = min(concurrent, limit if > 0): jobs run at most `P` at a time, each for `job_s`
///   plus 10 s of hand-off;
/// * `k` = how many creations run at once at least: min(`P`, MaxGrowthRate if > 0, and for
///   every idle setting that can be active (the root and each period entry, Q4) its
///   IdleCount if > 0 — the idle target caps Available, which counts Creating (§3.2–§3.4) —
///   or 1 when it also has IdleScaleFactor > 0, whose target can sit at max(IdleCountMin, 1));
///   each job may need its own machine (MaxBuilds 1), each creation costs `C` = 50 s plus a
///   feed (3 s) and config/credentials/removal calls (≤ 5 s);
/// * job pick-up can be paced by the feeder at one per 3 s (`check_interval`);
/// * 120 s of slack (preparation retries, long-poll turns).
///
/// It is tight enough to fail when creation stops: `the_liveness_check_fails_when_creation_stops`.
fn drain_bound_s(s: &Setup) -> u64 {
    let p = u64::from(if s.limit > 0 {
        s.concurrent.min(s.limit)
    } else {
        s.concurrent
    })
    .max(1);
    let mut k = p;
    for (ic, isf) in s.idle_settings() {
        if ic > 0 {
            k = k.min(u64::from(ic));
            if isf > 0.0 {
                k = 1;
            }
        }
    }
    if s.max_growth_rate > 0 {
        k = k.min(u64::from(s.max_growth_rate));
    }
    let n = u64::from(s.jobs);
    u64::from(s.spread_s.max(1)).max(s.faults_over_s())
        + n.div_ceil(k) * (CREATE_S + 8)
        + n.div_ceil(p) * (u64::from(s.job_s) + 10)
        + 3 * n
        + 120
}

/// The `shutdown_timeout` (seconds) that suffices for a drain of `machines` records with
/// `concurrency` (≤ 0 → 3, spec §4.3) once faults are over: each drain slot handles its
/// machines one after another, each at most `C + 3` s — waiting for an in-flight create
/// (≤ [`CREATE_S`]; an in-flight removal is shorter, [`REMOVE_S`]) and then `inspect` + `rm -f`
/// ([`FORCE_REMOVE_S`]) — so `⌈machines / concurrency⌉ · (C + 3)`, plus `lag`, the seconds from
/// the signal to the provider's Shutdown when the budget runs from the signal (SIGTERM, §4.1).
fn sufficient_shutdown_timeout_s(machines: u64, concurrency: i64, lag_s: u64) -> u64 {
    let c = if concurrency <= 0 {
        3
    } else {
        concurrency as u64
    };
    (lag_s + machines.div_ceil(c) * (CREATE_S + FORCE_REMOVE_S)).max(1)
}

fn scenario_toml(s: &Setup, horizon_s: u64) -> String {
    scenario_toml_with(s, horizon_s, None, None)
}

/// A stop in a scenario: (signals `(at s, name)`, drain `(concurrency, max_retries)`,
/// `shutdown_timeout` s).
type StopToml = (Vec<(u64, &'static str)>, Option<(i64, i64)>, u64);

/// The scenario text, with an optional stop and a comment line.
fn scenario_toml_with(
    s: &Setup,
    horizon_s: u64,
    stop: Option<StopToml>,
    note: Option<&str>,
) -> String {
    let mut periods = String::new();
    for p in &s.periods {
        periods.push_str(&format!(
            r#"    [[runners.machine.autoscaling]]
      Periods = ["{}"]
      Timezone = "{}"
      IdleCount = {}
      IdleScaleFactor = {:?}
      IdleCountMin = {}
      IdleTime = {}
"#,
            p.expr, p.timezone, p.idle_count, p.idle_scale_factor, p.idle_count_min, p.idle_time_s
        ));
    }
    let mut global = String::new();
    let mut signals = String::new();
    if let Some((sigs, drain, timeout)) = stop {
        global.push_str(&format!("shutdown_timeout = {timeout}\n"));
        if let Some((c, r)) = drain {
            global.push_str(&format!(
                "[machine.shutdown_drain]\n  enabled = true\n  concurrency = {c}\n  max_retries = {r}\n"
            ));
        }
        for (at, sig) in sigs {
            signals.push_str(&format!(
                "\n[[signals]]\nat = \"{at}s\"\nsignal = \"{sig}\"\n"
            ));
        }
    }
    let faults: String = s.faults.iter().map(Fault::toml).collect();
    let note = note.map(|n| format!("# {n}\n")).unwrap_or_default();
    format!(
        r#"# Generated by tests/properties.rs: {s:?}
{note}[scenario]
name = "property"
seed = {seed}
start = "2026-03-02T08:00:00Z"
duration = "{horizon_s}s"

[runner]
inline = '''
concurrent = {concurrent}
check_interval = 3
{global}[[runners]]
  name = "r"
  executor = "docker+machine"
  limit = {limit}
  [runners.machine]
    MachineDriver = "google"
    MachineName = "m-%s"
    MachineOptions = ["google-machine-type=n1-standard-1"{spot}]
    IdleCount = {ic}
    IdleScaleFactor = {isf:?}
    IdleCountMin = {icm}
    IdleTime = {it}
    MaxGrowthRate = {mgr}
    MaxBuilds = {mb}
{periods}'''

[cloud]
profile = "../fixtures/fakes/fixed-api.toml"

[gitlab]
long_poll = "{lp}s"

[[workload]]
kind = "burst"
at = "1s"
over = "{spread}s"
jobs = {jobs}
duration = "{job_s}s"
{faults}{signals}"#,
        seed = s.seed,
        spot = if s.spot() {
            ", \"google-preemptible\""
        } else {
            ""
        },
        concurrent = s.concurrent,
        limit = s.limit,
        ic = s.idle_count,
        isf = s.idle_scale_factor,
        icm = s.idle_count_min,
        it = s.idle_time_s,
        mgr = s.max_growth_rate,
        mb = s.max_builds,
        lp = s.long_poll_s,
        spread = s.spread_s.max(1),
        jobs = s.jobs,
        job_s = s.job_s,
    )
}

fn simulate(text: &str) -> RunRecords {
    simulate_with(text, Sabotage::None)
}

/// Runs `text`, optionally with a deliberately broken core (test-only switch).
fn simulate_with(text: &str, sabotage: Sabotage) -> RunRecords {
    let scenario = load_scenario_str(
        "property.toml",
        text,
        &regressions_dir(),
        &ScenarioOverrides::default(),
    )
    .unwrap_or_else(|e| panic!("generated scenario does not load:\n{}\n{text}", e.render()));
    let opts = RunOptions {
        sabotage,
        ..RunOptions::default()
    };
    run(&scenario, &opts).expect("runs")
}

/// A job as the liveness check sees it (from [`RunRecords`] or a replay's jobs.csv).
#[derive(Clone, Debug)]
struct JobRow {
    id: u64,
    outcome: String,
    reason: Option<String>,
    picked_ms: Option<u64>,
    end_ms: Option<u64>,
    machine: Option<String>,
}

/// The job failures a run with faults may show besides successes:
/// * `runner_system_failure` for a job picked up by `faults_over_s` =
///   [`Setup::create_faults_over_s`] (its preparation ran into failing creates: Use and
///   preparation retries, spec §3.6, §0 W9);
/// * `runner_system_failure` for a job whose machine was lost (`instance lost`, `lost`) at
///   the job's end, inside a loss window `[from, to + notice]` of a `vanish` or
///   `spot_interruption` fault (cloud-faults §6: the job running on a reclaimed VM fails).
#[derive(Clone, Debug, Default)]
struct Allowed {
    faults_over_s: u64,
    loss_windows_ms: Vec<(u64, u64)>,
    /// `(machine, ms)` of every `instance lost` row of the decision log.
    lost: Vec<(String, u64)>,
}

impl Allowed {
    fn of(s: &Setup, r: &RunRecords) -> Self {
        Allowed {
            faults_over_s: s.create_faults_over_s(),
            loss_windows_ms: s.loss_windows_ms(),
            lost: lost_rows(r),
        }
    }

    fn accepts_failure(&self, j: &JobRow) -> bool {
        if j.reason.as_deref() != Some("runner_system_failure") {
            return false;
        }
        if j.picked_ms.is_some_and(|p| p <= self.faults_over_s * 1000) {
            return true;
        }
        let (Some(m), Some(e)) = (j.machine.as_deref(), j.end_ms) else {
            return false;
        };
        self.lost.iter().any(|(lm, t)| lm == m && *t == e)
            && self
                .loss_windows_ms
                .iter()
                .any(|(from, to)| (*from..=*to).contains(&e))
    }
}

/// `(machine, ms)` of the `instance lost` rows.
fn lost_rows(r: &RunRecords) -> Vec<(String, u64)> {
    r.events
        .iter()
        .filter(|e| e.event == "instance lost")
        .map(|e| (e.machine.clone(), e.time.as_millis()))
        .collect()
}

/// The jobs that break liveness: not ended by `bound` s, or not succeeded unless their
/// failure is [`Allowed`]. Each as `(id, outcome, end ms)`.
fn late_jobs(
    jobs: impl Iterator<Item = JobRow>,
    bound: u64,
    allowed: &Allowed,
) -> Vec<(u64, String, Option<u64>)> {
    jobs.filter(|j| {
        let ended_in_time = j.end_ms.is_some_and(|e| e <= bound * 1000);
        let ok = j.outcome == "succeeded" || (j.outcome == "failed" && allowed.accepts_failure(j));
        !(ended_in_time && ok)
    })
    .map(|j| (j.id, j.outcome, j.end_ms))
    .collect()
}

fn job_rows(r: &RunRecords) -> impl Iterator<Item = JobRow> + '_ {
    r.jobs.iter().map(|j| JobRow {
        id: j.id,
        outcome: j.outcome.as_str().to_string(),
        reason: j.failure_reason.clone(),
        picked_ms: j.picked.map(|t| t.as_millis()),
        end_ms: j.end.map(|t| t.as_millis()),
        machine: j.machine.clone(),
    })
}

/// Orphan accounting (DESIGN.md "Terms", Q12, Q21): every VM still billed at the horizon is
/// tracked by the runner (a core state as end state, while the process lives), `left_running`
/// (its store entry remains) or `orphaned` with a cost; and the run's orphaned cost (the
/// `orphaned` part of the machines' cost split, summary.json `cost_usd.orphaned`) is carried
/// by machines reported `orphaned` only: it equals the sum of their orphaned parts.
fn orphan_problem(r: &RunRecords) -> Option<String> {
    let exited = r.events.iter().any(|e| e.event == "process exited");
    let tracked = ["creating", "idle", "acquired", "used", "removing"];
    for m in r.machines.iter().filter(|m| m.removed.is_none()) {
        let st = m.end_state.as_str();
        let ok = match st {
            "left_running" => true,
            "orphaned" => m.cost_usd > 0.0,
            s if tracked.contains(&s.to_lowercase().as_str()) => !exited,
            _ => false,
        };
        if !ok {
            return Some(format!(
                "orphan accounting: {} is billed at the horizon with end state {st:?} and cost {} USD",
                m.name, m.cost_usd
            ));
        }
    }
    let orphan = simrun::sim::records::CostState::Orphaned.index();
    let run: f64 = r.machines.iter().map(|m| m.cost_by_state[orphan]).sum();
    let reported: f64 = r
        .machines
        .iter()
        .filter(|m| m.end_state == "orphaned")
        .map(|m| m.cost_by_state[orphan])
        .sum();
    if (run - reported).abs() > 1e-9 {
        return Some(format!(
            "orphan accounting: orphaned cost {run} USD, but machines reported orphaned carry {reported} USD"
        ));
    }
    None
}

/// Whether the run shows the on-demand waiter hang found by this suite (kept as
/// tests/regressions/use-wait-hang-own-machine-lost.toml and
/// tests/regressions/use-wait-hang-machines-taken-and-lost.toml). A job's Use waits in
/// create-and-wait (spec §3.6 step 2b) for its own on-demand creation or the coordinator's
/// available counter (§3.7). Its own machine can go without ending the wait:
/// * the coordinator's wake-up at the creation's end reaches the waiter first, its "find
///   existing" takes the new machine and checks it with `config`, the VM is lost during that
///   call (`vanish`, `spot_interruption`), the machine is removed as unreachable, and then the
///   own creation's result is read: acquiring the own machine fails ("someone else already
///   took it") and the loop goes on waiting;
/// * another waiter takes the own machine (an on-demand waiter may take any machine, §6.1
///   2018-08; Q24), a worker's Acquire takes the next Idle one first, and every machine
///   released later is a lost VM, found unreachable and removed.
///
/// From then on the waiter only waits for the available counter, which nothing raises when
/// no other machine is released or created (IdleCount 0 creates nothing without a job, Q1),
/// and Use has no deadline (M12): the job stays in preparation for ever, and after
/// SIGTERM/SIGINT (which abort it) the worker still waits, so the process stops only at
/// `shutdown_timeout`, without a drain (§4.1). Faithful to the spec's prose, so it is not
/// "fixed"; liveness cannot hold then and is not checked.
///
/// Recognised by its trace: a job picked, never started, still in preparation at the horizon
/// or aborted there (`runner_interrupted`), with a VM lost (`instance lost`) after its pick.
fn own_machine_lost_hang(r: &RunRecords) -> bool {
    let lost = lost_rows(r);
    r.jobs.iter().any(|j| {
        j.start.is_none()
            && (j.outcome == JobOutcome::Running
                || j.failure_reason.as_deref() == Some("runner_interrupted"))
            && j.picked
                .is_some_and(|p| lost.iter().any(|(_, t)| *t >= p.as_millis()))
    })
}

/// What is wrong with a run of `text` whose jobs must all end by `bound` seconds, if anything.
fn problem(text: &str, bound: u64, s: &Setup) -> Option<String> {
    problem_with(text, bound, s, Sabotage::None)
}

fn problem_with(text: &str, bound: u64, s: &Setup, sabotage: Sabotage) -> Option<String> {
    let r = simulate_with(text, sabotage);
    if !r.violations.is_empty() {
        return Some(format!("invariant violations: {:?}", r.violations));
    }
    if let Some(p) = orphan_problem(&r) {
        return Some(p);
    }
    if s.permanent_fault() || own_machine_lost_hang(&r) {
        return None;
    }
    let late = late_jobs(job_rows(&r), bound, &Allowed::of(s, &r));
    if !late.is_empty() {
        return Some(format!(
            "liveness: not all jobs ended by the bound {bound} s: {late:?}"
        ));
    }
    None
}

/// Writes a failing case where `simrun run` can replay it:
/// `tests/regressions/failing-<name>.toml` (the profile path is relative to that directory).
fn write_failing(name: &str, text: &str, problem: &str) -> PathBuf {
    let path = regressions_dir().join(format!("failing-{name}.toml"));
    let first = problem.lines().next().unwrap_or_default();
    let first: String = first.chars().take(300).collect();
    let body = format!(
        "# Failing property case: {first}\n# Replay: simrun run tests/regressions/failing-{name}.toml --out out/{name}\n{text}"
    );
    let _ = std::fs::create_dir_all(regressions_dir());
    let _ = std::fs::write(&path, body);
    path
}

/// Checks one generated case; on failure writes the scenario for replay.
fn check(name: &str, s: &Setup) -> Result<(), TestCaseError> {
    check_with(name, s, Sabotage::None)
}

fn check_with(name: &str, s: &Setup, sabotage: Sabotage) -> Result<(), TestCaseError> {
    let bound = drain_bound_s(s);
    let text = scenario_toml(s, bound + 60);
    if let Some(p) = problem_with(&text, bound, s, sabotage) {
        write_failing(name, &text, &p);
        return Err(TestCaseError::fail(p));
    }
    Ok(())
}

/// A run that ends with stop signals: what is wrong with it, if anything.
///
/// With the drain on, a first run (with a 4 h `shutdown_timeout`) gives the drain's snapshot
/// size `N` (its "Draining machine pool machines=N" line) and the lag from the first
/// forceful signal before the drain (if any) to the provider's Shutdown; the checked run then
/// gets [`sufficient_shutdown_timeout_s`]`(N, concurrency, lag)`. Runs before the drain do not
/// depend on `shutdown_timeout` (graceful waits have no limit; the forceful deadline lies
/// beyond the drain's start), so both runs snapshot the same machines.
fn check_stop(name: &str, s: &Setup, stop: &Stop) -> Result<(), TestCaseError> {
    let at = match s.faults.first() {
        Some(f) if stop.during => (u64::from(f.from_s + f.to_s) / 2).max(1),
        _ => s.faults_over_s().max(1) + u64::from(stop.after_s),
    };
    let last = stop.signals(at).last().map_or(at, |x| x.0);
    let horizon = last + u64::from(s.job_s) + 4 * 3600 + 600;
    let mut timeout = 4 * 3600;
    let mut text = scenario_toml_with(
        s,
        horizon,
        Some((stop.signals(at), stop.drain, timeout)),
        None,
    );
    let mut r = simulate(&text);
    if let Some((c, _)) = stop.drain
        && !during(s, stop)
        && let Some(start) = drain_start(&r)
    {
        let n = start.1;
        let forceful_at = stop
            .signals(at)
            .into_iter()
            .find(|(t, sig)| forceful(sig) && t * 1000 <= start.0)
            .map(|x| x.0);
        let lag = forceful_at.map_or(0, |f| start.0.div_ceil(1000).saturating_sub(f));
        timeout = sufficient_shutdown_timeout_s(n, c, lag);
        text = scenario_toml_with(
            s,
            horizon,
            Some((stop.signals(at), stop.drain, timeout)),
            Some(&format!(
                "shutdown_timeout {timeout} s = sufficient for N = {n}, concurrency {c}, lag {lag} s"
            )),
        );
        r = simulate(&text);
    }
    if let Some(p) = stop_problem(&r, s, at, stop, timeout) {
        write_failing(name, &text, &p);
        return Err(TestCaseError::fail(p));
    }
    Ok(())
}

/// The drain's start (ms) and snapshot size, from its first log line (spec §4.3 step 2).
fn drain_start(r: &RunRecords) -> Option<(u64, u64)> {
    r.events.iter().find_map(|e| {
        let rest = e.reason.strip_prefix("Draining machine pool machines=")?;
        let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((e.time.as_millis(), n.parse().ok()?))
    })
}

/// What is wrong with a run stopped by `stop`'s signals (the first at `at` s), if anything:
/// * invariants and orphan accounting ([`orphan_problem`]);
/// * no job is picked after the first signal; no job is still running at the horizon; a job
///   picked before it succeeded, or was aborted (`runner_interrupted`) exactly at the first
///   forceful signal the live process got (§4.1, §0 W8), or failed as [`Allowed`];
/// * a signal after a forceful one exits the process at once (§4.1); a forceful one gives
///   it `shutdown_timeout` at most;
/// * no machine is removed after the exit (§4.2: removals in flight are cut off);
/// * drain off: no drain ran (§4.2);
/// * drain on, when it finished before any exit by a second signal: it reports every machine
///   removed (`failed=0`) within its budget, and nothing it could see is left in the cloud:
///   the only machines still billed are those orphaned before the first signal (removal
///   give-ups in a `removal_outage`, Q12, Q21; invisible to the drain, Q20).
fn stop_problem(r: &RunRecords, s: &Setup, at: u64, stop: &Stop, timeout: u64) -> Option<String> {
    if !r.violations.is_empty() {
        return Some(format!("invariant violations: {:?}", r.violations));
    }
    if let Some(p) = orphan_problem(r) {
        return Some(p);
    }
    if s.permanent_fault() || own_machine_lost_hang(r) {
        return None;
    }
    let at_ms = at * 1000;
    if let Some(j) = r
        .jobs
        .iter()
        .find(|j| j.picked.is_some_and(|p| p.as_millis() > at_ms))
    {
        return Some(format!("job {} picked after the signal at {at} s", j.id));
    }
    let during = during(s, stop);
    if !during && let Some(j) = r.jobs.iter().find(|j| j.outcome == JobOutcome::Running) {
        return Some(format!("job {} still running at the horizon", j.id));
    }
    let exit = r.events.iter().find(|e| e.event == "process exited");
    if exit.is_none() && !during {
        return Some("the process did not exit".to_string());
    }
    // While faults act, a graceful stop can wait beyond the horizon (a job in preparation
    // waits for hung creates, M12).
    let exit_ms = exit.map_or(u64::MAX, |e| e.time.as_millis());
    let signals = stop.signals(at);
    // The signals the live process got.
    let got: Vec<(u64, &str)> = signals
        .iter()
        .filter(|(t, _)| t * 1000 <= exit_ms)
        .copied()
        .collect();
    let forceful_at = got
        .iter()
        .find(|(_, sig)| forceful(sig))
        .map(|x| x.0 * 1000);
    if let Some(f) = forceful_at {
        if let Some((t, sig)) = got.iter().find(|(t, _)| t * 1000 > f) {
            if exit.is_some() && exit_ms != t * 1000 {
                return Some(format!(
                    "{sig} at {t} s after a forceful signal: exit at {exit_ms} ms, not at once"
                ));
            }
        }
        if exit_ms > f + timeout * 1000 {
            return Some(format!(
                "exit at {exit_ms} ms after the forceful deadline ({timeout} s from {f} ms)"
            ));
        }
    }
    let allowed = Allowed::of(s, r);
    for j in r.jobs.iter().filter(|j| j.picked.is_some()) {
        let reason = j.failure_reason.as_deref();
        let row = job_rows(r).find(|x| x.id == j.id).expect("the job");
        let ok = match j.outcome {
            JobOutcome::Succeeded => true,
            JobOutcome::Failed => {
                (reason == Some("runner_interrupted")
                    && forceful_at.is_some_and(|f| j.end.is_some_and(|e| e.as_millis() == f)))
                    || allowed.accepts_failure(&row)
            }
            _ => false,
        };
        if !ok {
            return Some(format!(
                "job {} picked before the signal ended {:?} ({reason:?}) at {:?} (first forceful signal at {forceful_at:?} ms)",
                j.id, j.outcome, j.end
            ));
        }
    }
    if let Some(e) = r
        .events
        .iter()
        .find(|e| e.event == "removed" && e.time.as_millis() > exit_ms)
    {
        return Some(format!(
            "{} removed at {:?}, after the exit at {exit_ms} ms",
            e.machine, e.time
        ));
    }
    if during {
        return None;
    }
    let exit = exit.expect("checked above");
    let Some((c, _)) = stop.drain else {
        if let Some((t, _)) = drain_start(r) {
            return Some(format!("a drain started at {t} ms with the drain off"));
        }
        return None;
    };
    let Some((start, n)) = drain_start(r) else {
        // A second signal can end the process before the workers stopped (§4.1).
        return (exit.reason != "second signal")
            .then(|| format!("no drain (exit: {})", exit.reason));
    };
    let Some(summary) = r.events.iter().find(|e| e.reason.contains("success=")) else {
        // Cut short by a second signal (§4.1): checked above.
        return (exit.reason != "second signal")
            .then(|| format!("no drain summary (exit: {})", exit.reason));
    };
    let want = format!("success={n} failed=0 total={n}");
    if !summary.reason.ends_with(&want) {
        return Some(format!(
            "drain summary `{}`, want `{want}` (concurrency {c}, budget {timeout} s)",
            summary.reason
        ));
    }
    let took = summary.time.as_millis() - start;
    if took > timeout * 1000 {
        return Some(format!("drain took {took} ms, budget {timeout} s"));
    }
    let gave_up_before = |m: &str| {
        r.events
            .iter()
            .any(|e| e.machine == m && e.event == "removal gave up" && e.time.as_millis() < at_ms)
    };
    let left: Vec<_> = r
        .machines
        .iter()
        .filter(|m| m.end_state != "removed" && m.end_state != "creation_failed")
        .filter(|m| !(m.end_state == "orphaned" && gave_up_before(&m.name)))
        .map(|m| format!("{} {}", m.name, m.end_state))
        .collect();
    if !left.is_empty() {
        return Some(format!("drain left machines in the cloud: {left:?}"));
    }
    None
}

/// Whether the signals come while faults act ([`Stop::during`]).
fn during(s: &Setup, stop: &Stop) -> bool {
    stop.during && !s.faults.is_empty()
}

fn signal() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("SIGQUIT"), Just("SIGTERM"), Just("SIGINT")]
}

fn stop() -> impl Strategy<Value = Stop> {
    (
        0u32..1800,
        signal(),
        prop_oneof![
            2 => Just(None),
            // Mostly soon after the first: while the grace period or the drain still runs.
            1 => (prop_oneof![2 => 1u32..5, 1 => 5u32..300, 1 => 300u32..1800], signal())
                .prop_map(Some),
        ],
        prop_oneof![Just(None), ((-1i64..5), (0i64..3)).prop_map(Some),],
        prop_oneof![3 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(after_s, first, second, drain, during)| Stop {
            after_s,
            first,
            second,
            drain,
            during,
        })
}

proptest! {
    #![proptest_config(common::proptest_config(256))]

    #[test]
    fn invariants_hold_and_jobs_drain_within_the_bound(s in setup()) {
        check("drain", &s)?;
    }

    #[test]
    fn signals_keep_invariants_and_the_drain_finishes_within_its_budget(s in setup(), st in stop()) {
        check_stop("signal", &s, &st)?;
    }
}

fn small_setup() -> Setup {
    Setup {
        concurrent: 2,
        limit: 0,
        idle_count: 0,
        idle_scale_factor: 0.0,
        idle_count_min: 0,
        idle_time_s: 60,
        max_growth_rate: 0,
        max_builds: 0,
        jobs: 3,
        spread_s: 10,
        job_s: 60,
        long_poll_s: 0,
        seed: 1,
        periods: Vec::new(),
        faults: Vec::new(),
    }
}

/// The bound must be able to fail: a runner whose creations never start (a negative
/// MaxGrowthRate freezes every creation, spec §0 W1) leaves jobs unfinished, and the check
/// reports it.
#[test]
fn the_liveness_check_fails_when_creation_stops() {
    let s = small_setup();
    let bound = drain_bound_s(&s);
    let text = scenario_toml(&s, bound + 60);
    assert_eq!(problem(&text, bound, &s), None, "the healthy setup drains");
    let frozen = text.replace("MaxGrowthRate = 0", "MaxGrowthRate = -1");
    let p = problem(&frozen, bound, &s).expect("the check must fail when creation stops");
    assert!(p.starts_with("liveness"), "{p}");
}

/// The fault term of the bound is needed and sufficient: creates hung in a window that ends
/// at 300 s hold the pool until GitLab Runner's 1 h create timeout; with that allowance the
/// jobs drain in time, and a bound that assumed the effects end with the window fails.
#[test]
fn the_liveness_bound_accounts_for_hung_creates() {
    let mut s = small_setup();
    s.faults = vec![Fault {
        kind: FaultGen::CreateHang,
        from_s: 0,
        to_s: 300,
    }];
    let bound = drain_bound_s(&s);
    let text = scenario_toml(&s, bound + 60);
    assert_eq!(problem(&text, bound, &s), None);
    let mut naive = s.clone();
    naive.faults.clear();
    let naive_bound = drain_bound_s(&naive).max(300 + CREATE_S + REMOVE_S);
    let p = problem(&text, naive_bound, &s).expect("a bound without the hang allowance fails");
    assert!(p.starts_with("liveness"), "{p}");
}

/// The drain check must be able to fail: with a 1 s `shutdown_timeout`, SIGTERM cuts the
/// drain of several machines short (the process exits before the drain's summary, leaving
/// machines in the cloud), and the check reports it.
#[test]
fn the_drain_check_fails_when_the_budget_is_too_short() {
    let mut s = small_setup();
    s.idle_count = 3;
    s.jobs = 6;
    let stop = Stop {
        after_s: 600,
        first: "SIGTERM",
        second: None,
        drain: Some((1, 0)),
        during: false,
    };
    let at = 601;
    let text = scenario_toml_with(&s, at + 7200, Some((stop.signals(at), stop.drain, 1)), None);
    let r = simulate(&text);
    assert!(
        drain_start(&r).is_some_and(|(_, n)| n >= 2),
        "{:?}",
        drain_start(&r)
    );
    let p = stop_problem(&r, &s, at, &stop, 1).expect("a 1 s budget cannot drain the pool");
    assert_eq!(p, "no drain summary (exit: shutdown_timeout expired)");
    assert!(
        r.machines
            .iter()
            .any(|m| m.end_state != "removed" && m.end_state != "creation_failed"),
        "machines are left in the cloud"
    );
    // And the same setup with the computed budget passes.
    check_stop("drain-short-control", &s, &stop).expect("a sufficient budget drains");
}

/// A failing case written the way the properties write it replays with `simrun run`: the
/// replay shows the same unfinished jobs the property saw, and two replays are
/// byte-identical (the seed is in the file).
#[test]
fn a_failing_case_round_trips_through_the_cli() {
    let s = small_setup();
    let bound = drain_bound_s(&s);
    let frozen = scenario_toml(&s, bound + 60).replace("MaxGrowthRate = 0", "MaxGrowthRate = -1");
    let r = simulate(&frozen);
    let seen = late_jobs(job_rows(&r), bound, &Allowed::default());
    assert!(!seen.is_empty());
    let p = problem(&frozen, bound, &s).expect("fails");
    let path = write_failing("roundtrip-frozen", &frozen, &p);

    let out = |k: u32| {
        let d =
            std::env::temp_dir().join(format!("simrun-prop-roundtrip-{}-{k}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let st = std::process::Command::new(env!("CARGO_BIN_EXE_simrun"))
            .arg("run")
            .arg(&path)
            .arg("--out")
            .arg(&d)
            .output()
            .expect("simrun runs");
        assert_eq!(
            st.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        d
    };
    let (a, b) = (out(1), out(2));
    for f in [
        "summary.json",
        "events.csv",
        "jobs.csv",
        "machines.csv",
        "timeline.csv",
    ] {
        let x = std::fs::read(a.join(f)).unwrap();
        let y = std::fs::read(b.join(f)).unwrap();
        assert!(x == y, "{f} differs between two replays");
    }
    let mut rd = csv::Reader::from_path(a.join("jobs.csv")).unwrap();
    let secs = |v: &str| -> Option<u64> {
        (!v.is_empty()).then(|| (v.parse::<f64>().unwrap() * 1000.0).round() as u64)
    };
    let rows: Vec<_> = rd
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            JobRow {
                id: rec[0].parse().unwrap(),
                outcome: rec[6].to_string(),
                reason: (!rec[7].is_empty()).then(|| rec[7].to_string()),
                picked_ms: None,
                end_ms: secs(&rec[4]),
                machine: (!rec[5].is_empty()).then(|| rec[5].to_string()),
            }
        })
        .collect();
    let replayed = late_jobs(rows.into_iter(), bound, &Allowed::default());
    assert_eq!(
        replayed, seen,
        "the replay reproduces the property's failure"
    );
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

/// Shrinking works end to end: against a core whose background creation ignores `limit`
/// (the test-only sabotage switch), the property fails, proptest shrinks the first failing
/// case to a simpler one (no faults, no more periods or jobs, a limit below the idle target),
/// the last file written is that minimal case, and replaying the file gives the same
/// violations (its seed is in the file) while the faithful core passes it.
#[test]
fn shrinking_writes_a_minimal_replayable_case_for_a_broken_core() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let first: std::cell::RefCell<Option<Setup>> = std::cell::RefCell::new(None);
    let result = runner.run(&setup(), |s| {
        let r = check_with("sabotage-limit", &s, Sabotage::SkipLimitCheck);
        if r.is_err() && first.borrow().is_none() {
            *first.borrow_mut() = Some(s.clone());
        }
        r
    });
    let Err(TestError::Fail(why, minimal)) = result else {
        panic!("the sabotaged core was not caught: {result:?}");
    };
    let first = first.into_inner().expect("a first failure");
    assert!(why.message().starts_with("invariant violations"), "{why}");
    assert!(minimal.faults.is_empty(), "{minimal:?}");
    assert!(minimal.periods.len() <= first.periods.len(), "{minimal:?}");
    assert!(
        minimal.jobs <= first.jobs && minimal.limit > 0,
        "{minimal:?}"
    );
    assert!(
        format!("{minimal:?}").len() < format!("{first:?}").len(),
        "shrunk:\n{minimal:?}\nfrom:\n{first:?}"
    );
    let file = regressions_dir().join("failing-sabotage-limit.toml");
    let text = std::fs::read_to_string(&file).expect("written");
    assert!(text.contains(&format!("seed = {}", minimal.seed)), "{text}");
    let bound = drain_bound_s(&minimal);
    let again = problem_with(&text, bound, &minimal, Sabotage::SkipLimitCheck).expect("replays");
    assert_eq!(again, why.message(), "the written case replays exactly");
    assert_eq!(
        problem(&text, bound, &minimal),
        None,
        "the faithful core passes the same case"
    );
}

/// Every scenario kept under tests/regressions/ replays without violations and with
/// consistent orphan accounting, and its jobs all succeed — except a file marked
/// `# expect: own-machine-lost-hang`, which must still show that hang
/// ([`own_machine_lost_hang`]: the behaviour it documents, so a change to it is noticed), and
/// one marked `# expect: stopped by signals`, whose process exits and whose jobs end
/// succeeded, pending (never picked) or aborted (`runner_interrupted`).
#[test]
fn regressions_replay_cleanly() {
    let dir = regressions_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let mut replayed = 0;
    for f in files.iter().filter(|p| {
        p.extension().is_some_and(|e| e == "toml")
            && !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("failing-"))
    }) {
        let text = std::fs::read_to_string(f).unwrap();
        let r = simulate(&text);
        replayed += 1;
        assert!(
            r.violations.is_empty(),
            "{}: {:?}",
            f.display(),
            r.violations
        );
        assert_eq!(orphan_problem(&r), None, "{}", f.display());
        if text
            .lines()
            .any(|l| l.trim() == "# expect: own-machine-lost-hang")
        {
            assert!(
                own_machine_lost_hang(&r),
                "{}: the hang is gone",
                f.display()
            );
            continue;
        }
        if text
            .lines()
            .any(|l| l.trim() == "# expect: stopped by signals")
        {
            assert!(
                r.events.iter().any(|e| e.event == "process exited"),
                "{}: the process exits",
                f.display()
            );
            assert!(
                r.jobs.iter().all(|j| j.outcome == JobOutcome::Succeeded
                    || j.outcome == JobOutcome::Pending
                    || j.failure_reason.as_deref() == Some("runner_interrupted")),
                "{}: jobs end succeeded, pending or aborted",
                f.display()
            );
            continue;
        }
        assert!(
            r.jobs.iter().all(|j| j.outcome == JobOutcome::Succeeded),
            "{}: unfinished jobs",
            f.display()
        );
    }
    assert!(replayed >= 2, "the kept regressions are replayed");
}

/// Orphan accounting on a run that orphans: every removal fails during a 1 h
/// `removal_outage` (`rm -y` fails, the give-up's `rm -f` exits 0 and leaves the VM, Q12,
/// Q21), so the MaxBuilds-1 machines of three jobs are given up and orphaned; each is
/// reported `orphaned` with a cost and the check passes. Relabelling one as `removed` (or
/// moving its orphaned cost to a machine not reported orphaned) makes the check fail.
#[test]
fn removal_outage_give_ups_are_reported_orphaned_with_their_cost() {
    let mut s = small_setup();
    s.max_builds = 1;
    s.faults = vec![Fault {
        kind: FaultGen::RemovalOutage(None),
        from_s: 0,
        to_s: 3600,
    }];
    let bound = drain_bound_s(&s);
    let text = scenario_toml(&s, bound + 60);
    let r = simulate(&text);
    assert_eq!(problem(&text, bound, &s), None);
    let orphaned: Vec<_> = r
        .machines
        .iter()
        .filter(|m| m.end_state == "orphaned")
        .collect();
    let gave_up = r
        .events
        .iter()
        .filter(|e| e.event == "removal gave up")
        .count();
    assert!(gave_up >= 3, "{gave_up} give-ups");
    assert_eq!(orphaned.len(), gave_up, "{:?}", r.machines);
    assert!(orphaned.iter().all(|m| m.cost_usd > 0.0));
    let mut hidden = r.clone();
    let m = hidden
        .machines
        .iter_mut()
        .find(|m| m.end_state == "orphaned")
        .unwrap();
    m.end_state = "removed".into();
    let p = orphan_problem(&hidden).expect("a billed VM reported removed is caught");
    assert!(p.contains("is billed at the horizon"), "{p}");
}

/// §4.1 "A second signal exits at once": SIGTERM, then SIGTERM again 2 s later while the
/// drain waits for a machine still being created, exits at the second signal and cuts the
/// drain short (no summary); the stop check accepts it, and it rejects a run whose exit
/// came later than the second signal.
#[test]
fn a_second_forceful_signal_exits_at_once() {
    let mut s = small_setup();
    s.idle_count = 2;
    s.jobs = 1;
    let stop = Stop {
        after_s: 0,
        first: "SIGTERM",
        second: Some((2, "SIGTERM")),
        drain: Some((1, 0)),
        during: false,
    };
    // The first signal at 1 s: the two idle creations are in flight.
    let at = 1;
    let text = scenario_toml_with(&s, 7200, Some((stop.signals(at), stop.drain, 600)), None);
    let r = simulate(&text);
    let exit = r
        .events
        .iter()
        .find(|e| e.event == "process exited")
        .expect("exits");
    assert_eq!(
        (exit.time.as_millis(), exit.reason.as_str()),
        (3000, "second signal")
    );
    assert!(drain_start(&r).is_some());
    assert!(!r.events.iter().any(|e| e.reason.contains("success=")));
    assert_eq!(stop_problem(&r, &s, at, &stop, 600), None);
    let late = Stop {
        second: Some((1, "SIGTERM")),
        ..stop.clone()
    };
    let p = stop_problem(&r, &s, at, &late, 600).expect("an exit 1 s after the signal");
    assert!(p.contains("not at once"), "{p}");
}

/// VM losses: a runner that asks for preemptible VMs (`google-preemptible`) under a
/// `spot_interruption` window loses VMs with jobs on them; those jobs fail with
/// `runner_system_failure` at the loss, which liveness accepts only because the loss lies in
/// the fault's window: the same failures without that window are rejected.
#[test]
fn spot_losses_fail_running_jobs_only_inside_the_window() {
    let mut s = small_setup();
    s.job_s = 600;
    s.faults = vec![Fault {
        kind: FaultGen::SpotInterruption(60.0, Some(30)),
        from_s: 0,
        to_s: 1200,
    }];
    let bound = drain_bound_s(&s);
    let text = scenario_toml(&s, bound + 60);
    assert!(text.contains("\"google-preemptible\""), "{text}");
    let r = simulate(&text);
    assert_eq!(problem(&text, bound, &s), None);
    let failed: Vec<_> = r
        .jobs
        .iter()
        .filter(|j| j.failure_reason.as_deref() == Some("runner_system_failure"))
        .collect();
    assert!(!failed.is_empty(), "no job was running at a loss");
    let lost = lost_rows(&r);
    for j in &failed {
        let (m, e) = (j.machine.clone().unwrap(), j.end.unwrap().as_millis());
        assert!(lost.contains(&(m, e)), "job {} failed at a loss", j.id);
        assert!(e <= (1200 + 30) * 1000, "inside the window plus the notice");
    }
    let mut outside = Allowed::of(&s, &r);
    outside.faults_over_s = 0;
    assert!(late_jobs(job_rows(&r), bound, &outside).is_empty());
    outside.loss_windows_ms = vec![(1_300_000, 2_000_000)];
    let late = late_jobs(job_rows(&r), bound, &outside);
    assert_eq!(late.len(), failed.len(), "{late:?}");
}

/// Q21 inside a drain: SIGQUIT with the drain on while `rm -f` "succeeds" without deleting
/// (`removal_outage` scoped to `rm -f`): the drain reports every machine removed, the VMs
/// stay billed and are reported `orphaned` with their cost, no invariant breaks
/// (`drain_leaves_nothing` accepts what the cloud counts orphaned), and the stop check, which
/// only excuses orphans from before the signal, reports them.
#[test]
fn a_drain_during_an_rm_force_outage_orphans_and_accounts_for_them() {
    let mut s = small_setup();
    s.idle_count = 2;
    s.jobs = 1;
    s.faults = vec![Fault {
        kind: FaultGen::RemovalOutage(Some("rm -f")),
        from_s: 100,
        to_s: 3000,
    }];
    let stop = Stop {
        after_s: 0,
        first: "SIGQUIT",
        second: None,
        drain: Some((2, 0)),
        during: false,
    };
    let at = 300;
    let text = scenario_toml_with(&s, 3600, Some((stop.signals(at), stop.drain, 600)), None);
    let r = simulate(&text);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(orphan_problem(&r), None);
    let (_, n) = drain_start(&r).expect("a drain");
    assert!(n >= 2, "{n}");
    assert!(r.events.iter().any(|e| {
        e.reason
            .ends_with(&format!("success={n} failed=0 total={n}"))
    }));
    let orphaned = r
        .machines
        .iter()
        .filter(|m| m.end_state == "orphaned" && m.cost_usd > 0.0)
        .count();
    assert_eq!(orphaned as u64, n, "{:?}", r.machines);
    let p = stop_problem(&r, &s, at, &stop, 600).expect("orphans after the signal");
    assert!(p.starts_with("drain left machines"), "{p}");
    // Generated with the signal inside the fault's window, only the invariants, orphan
    // accounting and signal rules apply, and they hold.
    let inside = Stop {
        during: true,
        ..stop.clone()
    };
    assert_eq!(stop_problem(&r, &s, at, &inside, 600), None);
}
