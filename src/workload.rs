//! Workloads: the jobs that arrive at GitLab during a scenario (issue 4 §5).
//!
//! A scenario holds a list of `[[workload]]` tables, each deserialised into a [`Workload`]
//! (validated at parse time). [`generate_jobs`] turns them into one list of [`Job`]s sorted by
//! arrival. TOML forms (durations are simrun duration strings, times are offsets from the
//! scenario start):
//!
//! ```toml
//! [[workload]]                 # N jobs at one instant, or spread over a window
//! kind = "burst"
//! at = "30m"
//! jobs = 300
//! over = "10m"                 # optional; default "0s" (all at `at`)
//! duration = { dist = "lognormal", median = "6m", p95 = "20m" }
//! runner = "docker-gce"        # optional: only this runner (name or "runners[i]") may take them
//!
//! [[workload]]                 # a Poisson process, optionally shaped by the hour of day
//! kind = "poisson"
//! rate_per_hour = 120
//! from = "0s"                  # optional; default the scenario start
//! to = "8h"                    # optional; default the scenario end
//! hourly_profile = [0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 0.6, 1.0, 2.0, 2.0, 1.5, 1.5,
//!                   1.0, 1.5, 1.5, 1.5, 1.2, 1.0, 0.6, 0.4, 0.3, 0.2, 0.2, 0.2]
//! duration = { dist = "empirical", file = "durations.csv", column = "duration_s" }
//! ```
//!
//! `duration` accepts every [`Dist`] form (`"5m"`, fixed, uniform, lognormal by median + p95)
//! and `empirical`: a CSV file (with a header row) whose `column` (optional when the file has a
//! single column) holds job durations in seconds; each job draws one row uniformly at random.
//! Relative `file` paths resolve against [`WorkloadContext::base_dir`] (the scenario's folder).
//!
//! Randomness: workload `i` draws its arrivals from the stream `workload[i]/arrivals` and its
//! durations from `workload[i]/durations`, so changing a workload's duration distribution does
//! not move its arrivals, and adding a workload changes no other workload's jobs.

mod empirical;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

pub use empirical::EmpiricalDurations;

use crate::random::dist::{self, Dist, DistError, RawDist};
use crate::random::{RngStreams, SimRng};
use crate::time::{Calendar, SimDuration, SimTime, parse_duration};

/// Most jobs one workload may produce (a guard against typos such as `jobs = 3000000000`;
/// Poisson workloads are checked against their expected count).
pub const MAX_JOBS_PER_WORKLOAD: u64 = 1_000_000;

/// A CI job as the simulated GitLab sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// 1-based, in arrival order over all workloads.
    pub id: u64,
    /// When the job becomes pending (ms since the scenario start).
    pub arrival: SimTime,
    /// How long the job's script runs once it has a machine (service time).
    pub duration: SimDuration,
    /// The runner that must take the job (its `name`, or `runners[i]`), as written in the
    /// workload; `None` = any runner. Resolved by the scenario loader.
    pub runner: Option<String>,
}

/// One validated `[[workload]]` entry.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawWorkload")]
pub struct Workload {
    /// How jobs arrive.
    pub arrivals: Arrivals,
    /// How long each job runs.
    pub duration: JobDurationSpec,
    /// Runner restriction copied into every job ([`Job::runner`]).
    pub runner: Option<String>,
}

/// The arrival process of a workload.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// `jobs` arrivals, each uniformly random in `[at, at + over)` (all exactly at `at` when
    /// `over` is zero).
    Burst {
        /// Start of the burst.
        at: SimTime,
        /// Number of jobs.
        jobs: u64,
        /// Width of the window the arrivals are spread over.
        over: SimDuration,
    },
    /// A Poisson process of `rate_per_hour` jobs per hour over `[from, to)`, optionally
    /// multiplied by `hourly_profile[h]`, where `h` is the hour of day (0–23) of the arrival in
    /// the scenario's local zone ([`Calendar::local`]). Implemented by thinning: candidates at
    /// the peak rate, each kept with probability `profile[h] / max(profile)`.
    Poisson {
        /// Mean arrivals per hour (before the profile multiplier).
        rate_per_hour: f64,
        /// Start of the arrival window.
        from: SimTime,
        /// End of the window (exclusive); `None` = the scenario end.
        to: Option<SimTime>,
        /// 24 non-negative multipliers, index = local hour of day.
        hourly_profile: Option<Box<[f64; 24]>>,
    },
}

/// Job durations: a parametric distribution or an empirical CSV column.
#[derive(Clone, Debug, PartialEq)]
pub enum JobDurationSpec {
    /// A parametric distribution.
    Dist(Dist),
    /// Uniform draws from the values (seconds) in a CSV column.
    Empirical {
        /// The CSV file, relative to the scenario's folder unless absolute.
        file: PathBuf,
        /// The column's header; `None` = the only column.
        column: Option<String>,
    },
}

impl<'de> Deserialize<'de> for JobDurationSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        dist::deserialize_dist_like(
            d,
            "a duration string like \"5m\" or a table like { dist = \"lognormal\", median = \"6m\", p95 = \"20m\" }",
            |raw: RawDist| {
                if raw.dist == "empirical" {
                    let stray = [
                        ("value", raw.value.is_some()),
                        ("min", raw.min.is_some()),
                        ("max", raw.max.is_some()),
                        ("median", raw.median.is_some()),
                        ("p95", raw.p95.is_some()),
                        ("shift", raw.shift.is_some()),
                    ];
                    if let Some((k, _)) = stray.iter().find(|(_, p)| *p) {
                        return Err(DistError(format!(
                            "`{k}` is not a parameter of dist = \"empirical\" (expected `file`, `column`)"
                        )));
                    }
                    let file = raw.file.ok_or_else(|| {
                        DistError("dist = \"empirical\" needs `file` (a CSV path)".into())
                    })?;
                    Ok(JobDurationSpec::Empirical {
                        file: PathBuf::from(file),
                        column: raw.column,
                    })
                } else {
                    raw.into_dist(", \"empirical\"").map(JobDurationSpec::Dist)
                }
            },
        )
    }
}

/// The TOML table before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    kind: String,
    at: Option<String>,
    jobs: Option<u64>,
    over: Option<String>,
    rate_per_hour: Option<f64>,
    from: Option<String>,
    to: Option<String>,
    hourly_profile: Option<Vec<f64>>,
    duration: Option<JobDurationSpec>,
    runner: Option<String>,
}

fn dur(key: &str, v: &str) -> Result<SimDuration, String> {
    parse_duration(v).map_err(|e| format!("`{key}`: {e}"))
}

impl TryFrom<RawWorkload> for Workload {
    type Error = String;

    fn try_from(r: RawWorkload) -> Result<Self, String> {
        let kind = r.kind.as_str();
        let stray = |keys: &[(&str, bool)]| -> Result<(), String> {
            match keys.iter().find(|(_, present)| *present) {
                Some((k, _)) => Err(format!("`{k}` is not allowed for kind = \"{kind}\"")),
                None => Ok(()),
            }
        };
        let arrivals = match kind {
            "burst" => {
                stray(&[
                    ("rate_per_hour", r.rate_per_hour.is_some()),
                    ("from", r.from.is_some()),
                    ("to", r.to.is_some()),
                    ("hourly_profile", r.hourly_profile.is_some()),
                ])?;
                let at =
                    r.at.ok_or("kind = \"burst\" needs `at` (e.g. at = \"30m\")")?;
                let jobs = r.jobs.ok_or("kind = \"burst\" needs `jobs` (a count)")?;
                if jobs > MAX_JOBS_PER_WORKLOAD {
                    return Err(format!(
                        "`jobs` = {jobs} is more than simrun simulates per workload ({MAX_JOBS_PER_WORKLOAD})"
                    ));
                }
                let over = match &r.over {
                    Some(o) => dur("over", o)?,
                    None => SimDuration::ZERO,
                };
                Arrivals::Burst {
                    at: SimTime(dur("at", &at)?.0),
                    jobs,
                    over,
                }
            }
            "poisson" => {
                stray(&[
                    ("at", r.at.is_some()),
                    ("jobs", r.jobs.is_some()),
                    ("over", r.over.is_some()),
                ])?;
                let rate = r
                    .rate_per_hour
                    .ok_or("kind = \"poisson\" needs `rate_per_hour` (mean jobs per hour)")?;
                if !rate.is_finite() || rate < 0.0 {
                    return Err(format!(
                        "`rate_per_hour` must be a finite number ≥ 0, found {rate}"
                    ));
                }
                let from = match &r.from {
                    Some(f) => SimTime(dur("from", f)?.0),
                    None => SimTime::ZERO,
                };
                let to = match &r.to {
                    Some(t) => Some(SimTime(dur("to", t)?.0)),
                    None => None,
                };
                if let Some(to) = to {
                    if to <= from {
                        return Err(format!(
                            "`to` ({to}) must be later than `from` ({from})",
                            to = SimDuration(to.0),
                            from = SimDuration(from.0)
                        ));
                    }
                }
                let hourly_profile = match r.hourly_profile {
                    None => None,
                    Some(p) => {
                        let arr: [f64; 24] = p.as_slice().try_into().map_err(|_| {
                            format!(
                                "`hourly_profile` needs exactly 24 multipliers (hours 0–23), found {}",
                                p.len()
                            )
                        })?;
                        if let Some((h, v)) = arr
                            .iter()
                            .enumerate()
                            .find(|(_, v)| !v.is_finite() || **v < 0.0)
                        {
                            return Err(format!(
                                "`hourly_profile[{h}]` must be a finite number ≥ 0, found {v}"
                            ));
                        }
                        Some(Box::new(arr))
                    }
                };
                Arrivals::Poisson {
                    rate_per_hour: rate,
                    from,
                    to,
                    hourly_profile,
                }
            }
            other => {
                return Err(format!(
                    "unknown workload kind {other:?} (expected \"burst\" or \"poisson\")"
                ));
            }
        };
        let duration = r.duration.ok_or(
            "a workload needs `duration` (e.g. duration = { dist = \"lognormal\", median = \"6m\", p95 = \"20m\" })",
        )?;
        Ok(Workload {
            arrivals,
            duration,
            runner: r.runner,
        })
    }
}

/// What generating jobs needs from the scenario.
#[derive(Clone, Copy, Debug)]
pub struct WorkloadContext<'a> {
    /// Folder that relative `empirical` file paths resolve against (the scenario's folder).
    pub base_dir: &'a Path,
    /// Maps virtual time to the local hour of day for `hourly_profile`.
    pub calendar: &'a Calendar,
    /// The scenario's end: Poisson windows default to it; nothing may arrive after it.
    pub end: SimTime,
}

/// A workload that cannot produce jobs; the message names the workload (`workload[i]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workload[{index}]: {message}")]
pub struct WorkloadError {
    /// Index of the `[[workload]]` entry.
    pub index: usize,
    /// What is wrong.
    pub message: String,
}

/// Generates the jobs of all workloads, sorted by arrival (ties: workload order, then each
/// workload's own order), with ids 1, 2, … in that order.
///
/// # Errors
/// A burst or Poisson window reaching past `ctx.end`, or an empirical CSV that cannot be read
/// or holds a bad cell ([`EmpiricalDurations::load`]).
pub fn generate_jobs(
    workloads: &[Workload],
    ctx: &WorkloadContext<'_>,
    streams: &RngStreams,
) -> Result<Vec<Job>, WorkloadError> {
    let mut all: Vec<(SimTime, usize, SimDuration)> = Vec::new();
    for (index, w) in workloads.iter().enumerate() {
        let err = |message: String| WorkloadError { index, message };
        let mut arr_rng = streams.stream(&format!("workload[{index}]/arrivals"));
        let arrivals = w.arrival_times(ctx, &mut arr_rng).map_err(err)?;
        let mut dur_rng = streams.stream(&format!("workload[{index}]/durations"));
        let sampler = DurationSampler::new(&w.duration, ctx.base_dir).map_err(err)?;
        all.extend(
            arrivals
                .into_iter()
                .map(|t| (t, index, sampler.sample(&mut dur_rng))),
        );
    }
    // Stable sort: within equal arrivals, workload order then per-workload order is kept.
    all.sort_by_key(|&(t, index, _)| (t, index));
    Ok(all
        .into_iter()
        .enumerate()
        .map(|(i, (arrival, index, duration))| Job {
            id: i as u64 + 1,
            arrival,
            duration,
            runner: workloads[index].runner.clone(),
        })
        .collect())
}

/// A ready-to-sample job-duration source.
enum DurationSampler {
    Dist(Dist),
    Empirical(EmpiricalDurations),
}

impl DurationSampler {
    fn new(spec: &JobDurationSpec, base_dir: &Path) -> Result<Self, String> {
        Ok(match spec {
            JobDurationSpec::Dist(d) => DurationSampler::Dist(d.clone()),
            JobDurationSpec::Empirical { file, column } => DurationSampler::Empirical(
                EmpiricalDurations::load(&base_dir.join(file), column.as_deref())?,
            ),
        })
    }

    fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match self {
            DurationSampler::Dist(d) => d.sample(rng),
            DurationSampler::Empirical(e) => e.sample(rng),
        }
    }
}

impl Workload {
    /// The sorted arrival times of this workload.
    fn arrival_times(
        &self,
        ctx: &WorkloadContext<'_>,
        rng: &mut SimRng,
    ) -> Result<Vec<SimTime>, String> {
        let end = ctx.end;
        match &self.arrivals {
            Arrivals::Burst { at, jobs, over } => {
                let last = at.after(*over);
                if *at >= end || last > end {
                    return Err(format!(
                        "the burst ({}..{}) reaches past the scenario's end ({})",
                        SimDuration(at.0),
                        SimDuration(last.0),
                        SimDuration(end.0)
                    ));
                }
                let mut v: Vec<SimTime> = (0..*jobs)
                    .map(|_| SimTime(at.0 + dist::uniform_below(rng, over.0)))
                    .collect();
                v.sort_unstable();
                Ok(v)
            }
            Arrivals::Poisson {
                rate_per_hour,
                from,
                to,
                hourly_profile,
            } => {
                let to = to.unwrap_or(end);
                if to > end {
                    return Err(format!(
                        "`to` ({}) is after the scenario's end ({})",
                        SimDuration(to.0),
                        SimDuration(end.0)
                    ));
                }
                if *from >= to {
                    return Ok(Vec::new());
                }
                let peak = hourly_profile
                    .as_ref()
                    .map_or(1.0, |p| p.iter().copied().fold(0.0, f64::max));
                let peak_rate_per_ms = rate_per_hour * peak / 3_600_000.0;
                if peak_rate_per_ms <= 0.0 {
                    return Ok(Vec::new());
                }
                let expected = peak_rate_per_ms * (to.0 - from.0) as f64;
                if expected > MAX_JOBS_PER_WORKLOAD as f64 {
                    return Err(format!(
                        "rate_per_hour × window would draw ≈{expected:.0} candidate arrivals, more than simrun simulates per workload ({MAX_JOBS_PER_WORKLOAD})"
                    ));
                }
                let mean_gap_ms = 1.0 / peak_rate_per_ms;
                let mut out = Vec::new();
                let mut t = from.0 as f64;
                loop {
                    t += dist::exponential(rng, mean_gap_ms);
                    if t >= to.0 as f64 {
                        break;
                    }
                    let at = SimTime(t as u64);
                    if let Some(profile) = hourly_profile {
                        let hour = local_hour(ctx.calendar, at);
                        if dist::unit_f64(rng) >= profile[hour] / peak {
                            continue;
                        }
                    }
                    out.push(at);
                }
                Ok(out)
            }
        }
    }
}

/// The hour of day (0–23) of virtual time `t` in the calendar's local zone.
fn local_hour(cal: &Calendar, t: SimTime) -> usize {
    cal.local.to_datetime(cal.instant(t)).hour() as usize
}

#[cfg(test)]
mod tests;
