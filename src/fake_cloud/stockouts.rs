//! The clouds' own stockout episodes (issue 5 item 1 "capacity pools"; cloud-faults §2
//! "Capacity errors" per cloud, §7 `cap.episode_rate`, `cap.episode_duration`,
//! `cap.spot_multiplier`).
//!
//! A **capacity pool** is what a cloud runs out of: one instance type in one zone, for spot /
//! preemptible or on-demand VMs, in one account's cloud (profile). docker-machine pins one zone
//! and one type per runner (§2.1 "docker-machine pins one zone … so there is no fallback"), so
//! while its pool is out, every create of that runner fails.
//!
//! Each pool with a positive rate (profile `[capacity] episodes_per_day`, × `spot_multiplier`
//! for spot pools) is an **alternating renewal process** starting available at time 0: an
//! exponential gap with mean `1 day / rate`, then an episode whose length is drawn from
//! `episode_duration`, then the next gap, and so on. An episode is active on `[start, end)`.
//!
//! # Determinism
//! Each pool draws from its own generator, [`crate::random::substream`] of the fake cloud's
//! generator (the `cloud` stream's key, whatever it has drawn) named
//! `stockouts/<profile>/<zone>/<instance type>/<spot|on-demand>`, in a fixed order (first
//! gap; then per episode its duration and the next gap). Episodes are drawn lazily, but always
//! in that order from time 0, so they do not depend on when or how often the pool is asked,
//! on other pools, or on the rest of the simulation; and the base model and fault streams draw
//! nothing for them.

use std::collections::BTreeMap;

use crate::random::SimRng;
use crate::random::dist::{Dist, exponential};
use crate::time::{SimDuration, SimTime};

use super::driver::RunnerCloud;

/// One capacity pool (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolKey {
    /// The profile (cloud account) name.
    pub profile: String,
    /// The zone or region the runner's VMs are placed in (`""` when the cloud chooses).
    pub zone: String,
    /// The instance type.
    pub instance_type: String,
    /// Spot / preemptible VMs.
    pub spot: bool,
}

impl PoolKey {
    /// The pool of a runner's machines.
    pub fn of(rc: &RunnerCloud) -> PoolKey {
        PoolKey {
            profile: rc.profile.name.clone(),
            zone: rc.spec.zone.clone().unwrap_or_default(),
            instance_type: rc.spec.instance_type.clone(),
            spot: rc.spec.spot,
        }
    }

    /// The name of the pool's random stream.
    pub fn stream_name(&self) -> String {
        format!(
            "stockouts/{}/{}/{}/{}",
            self.profile,
            self.zone,
            self.instance_type,
            if self.spot { "spot" } else { "on-demand" }
        )
    }

    /// `"n2-standard-4 in europe-west1-b (gce, preemptible)"`-style text for event rows.
    pub fn describe(&self) -> String {
        let zone = if self.zone.is_empty() {
            "the cloud's default location"
        } else {
            &self.zone
        };
        format!(
            "{} in {zone} ({}, {})",
            self.instance_type,
            self.profile,
            if self.spot { "spot" } else { "on-demand" }
        )
    }
}

/// One stockout episode (see [`Stockouts::until`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stockout {
    /// The pool that ran out.
    pub pool: PoolKey,
    /// The runners whose machines come from this pool, by id.
    pub runners: Vec<String>,
    /// First instant of the episode.
    pub start: SimTime,
    /// First instant after it (creates succeed again from here).
    pub end: SimTime,
}

/// One pool's renewal process.
#[derive(Clone, Debug)]
struct Process {
    rng: SimRng,
    /// Mean gap between episodes, ms.
    mean_gap_ms: f64,
    duration: Dist,
    /// Episodes drawn so far, `(start, end)`, in time order.
    episodes: Vec<(SimTime, SimTime)>,
    /// Start of the next episode not drawn yet (`u64::MAX` = never).
    next_start: SimTime,
    runners: Vec<String>,
}

const DAY_MS: f64 = 86_400_000.0;

impl Process {
    fn new(mut rng: SimRng, per_day: f64, duration: Dist) -> Process {
        let mean_gap_ms = DAY_MS / per_day;
        let gap = Self::gap(&mut rng, mean_gap_ms);
        Process {
            rng,
            mean_gap_ms,
            duration,
            episodes: Vec::new(),
            next_start: SimTime(gap),
            runners: Vec::new(),
        }
    }

    /// An exponential gap, at least 1 ms so that episodes always move forward.
    fn gap(rng: &mut SimRng, mean_ms: f64) -> u64 {
        (exponential(rng, mean_ms) as u64).max(1)
    }

    /// Draws every episode starting at or before `t`.
    fn extend(&mut self, t: SimTime) {
        while self.next_start.0 != u64::MAX && self.next_start <= t {
            let start = self.next_start;
            let SimDuration(d) = self.duration.sample(&mut self.rng);
            let end = SimTime(start.0.saturating_add(d));
            self.episodes.push((start, end));
            let gap = Self::gap(&mut self.rng, self.mean_gap_ms);
            self.next_start = SimTime(end.0.saturating_add(gap));
        }
    }

    /// The episode active at `t`, if any.
    fn active(&mut self, t: SimTime) -> Option<(SimTime, SimTime)> {
        self.extend(t);
        let i = self.episodes.partition_point(|e| e.0 <= t);
        let e = *self.episodes.get(i.checked_sub(1)?)?;
        (t < e.1).then_some(e)
    }
}

/// The stockout episodes of every pool the runners use (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Stockouts {
    pools: BTreeMap<PoolKey, Process>,
}

impl Stockouts {
    /// The pools of `runners` (by runner id) whose profile has a positive episode rate, each
    /// with its own generator derived from `parent` (the fake cloud's generator).
    pub fn new(runners: &BTreeMap<String, RunnerCloud>, parent: &SimRng) -> Stockouts {
        let mut pools: BTreeMap<PoolKey, Process> = BTreeMap::new();
        for (id, rc) in runners {
            let cap = &rc.profile.capacity;
            let per_day = cap.episodes_per_day(rc.spec.spot);
            let Some(duration) = cap.episode_duration.clone() else {
                continue;
            };
            if !(per_day.is_finite() && per_day > 0.0) {
                continue;
            }
            let key = PoolKey::of(rc);
            let rng = crate::random::substream(parent, &key.stream_name());
            pools
                .entry(key)
                .or_insert_with(|| Process::new(rng, per_day, duration))
                .runners
                .push(id.clone());
        }
        Stockouts { pools }
    }

    /// The episode of `pool` active at `t` (`(start, end)`), if any.
    pub fn active(&mut self, pool: &PoolKey, t: SimTime) -> Option<(SimTime, SimTime)> {
        self.pools.get_mut(pool)?.active(t)
    }

    /// Every episode starting at or before `t` (so every episode that intersects a run ending
    /// at `t`), ordered by start, then pool. An episode still going on at `t` has `end > t`.
    pub fn until(&mut self, t: SimTime) -> Vec<Stockout> {
        let mut out = Vec::new();
        for (key, p) in &mut self.pools {
            p.extend(t);
            for &(start, end) in p.episodes.iter().take_while(|e| e.0 <= t) {
                out.push(Stockout {
                    pool: key.clone(),
                    runners: p.runners.clone(),
                    start,
                    end,
                });
            }
        }
        out.sort_by(|a, b| (a.start, &a.pool).cmp(&(b.start, &b.pool)));
        out
    }
}
