//! The cloud API underneath a docker-machine driver: which API calls each docker-machine step
//! makes (`[api_calls]`), how the cloud rate-limits them (`[rate_limits]`) and how the driver
//! reacts to a throttled call (cloud-faults §2 per cloud, §7 `rl.*`, `api.calls_per_*`).
//!
//! Profile format (both tables optional; without `[api_calls]` a cloud makes no API calls the
//! fake counts, without `[rate_limits]` it never throttles):
//!
//! ```toml
//! [api_calls]
//! create_operation = "RunInstances"            # the call that makes the VM (end of `api_call`)
//! create_error_prefix = "Error launching instance: "
//! create = { DescribeSubnets = 2, ImportKeyPair = 1 }   # pre-create checks, at the create's start
//! boot_poll = { operation = "DescribeInstances", interval = "7500ms", idle = "0s" }
//! after_boot = { DescribeInstances = 7 }       # libmachine's GetState/GetIP, spread over ssh_wait … certs
//! stop = { StopInstances = 1 }
//! rm = { TerminateInstances = 1, DeleteKeyPair = 1 }     # rm -y and rm -f
//! config = { DescribeInstances = 1 }           # docker-machine config (CanConnect)
//! credentials = { DescribeInstances = 2 }      # config + url
//!
//! [rate_limits]
//! throttle_error = "RequestLimitExceeded: Request limit exceeded."
//! throttle_code = "RequestLimitExceeded"       # the error code, for reports (optional)
//! reaction = { kind = "retry", max_retries = 5, delay_min = "500ms", delay_max = "1s" }
//! [[rate_limits.limits]]
//! name = "RunInstances"
//! operations = ["RunInstances"]                # `*` all, `Describe*` prefix, `*.get` suffix
//! algorithm = "token_bucket"                   # token_bucket | fixed_window | sliding_window
//! capacity = 5                                 # token_bucket
//! refill_per_sec = 2.0                         # token_bucket
//! # limit = 1500, window = "60s"               # fixed_window / sliding_window
//! ```
//!
//! Boot polling: the driver polls `boot_poll.operation` while the VM boots: one call at the
//! start of the `boot` stage and one per `interval` over the stage's length minus `idle` (fixed
//! sleeps without polling, e.g. DigitalOcean's 35 s). The interval is the mean of the poll
//! loop's sleep (the fork's `WaitFor`: 3 s + U[0, 9 s) = 7.5 s, cloud-faults §1.2).
//!
//! Algorithms (cloud-faults §2): `token_bucket` (AWS per API action, Azure per operation type,
//! Hetzner per project: `capacity` tokens, `refill_per_sec` back); `fixed_window` (GCE: at
//! most `limit` calls per window, windows aligned to multiples of `window` since the scenario
//! start — the scenario start stands in for the "synchronized minute"); `sliding_window`
//! (DigitalOcean: each call counts for `window` after it is made). A call must pass every limit
//! whose `operations` match it; a throttled call consumes nothing.
//!
//! Reactions (cloud-faults §2, §7 `rl.client_retries`): `fail` (GCE, Azure 429, OpenStack: the
//! step fails); `retry` (aws-sdk-go: retry `n` after U[`delay_min`, `delay_max`] × 2^n;
//! hcloud-go: U[1 s, min(2^n s, 60 s)] via `double_min = false`, `cap = "60s"`), then fail with
//! the last throttle error; `wait_for_reset` (DigitalOcean fork: wait max(reset − now,
//! `min_wait`) + U[0, `jitter`), forever).

use std::collections::{BTreeMap, VecDeque};

use rand::RngCore;
use serde::Deserialize;

use super::faults::operation_matches;
use crate::random::dist::unit_f64;
use crate::time::{SimDuration, SimTime, parse_duration};

/// A duration as a simrun duration string in TOML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span(pub SimDuration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(Span)
            .map_err(serde::de::Error::custom)
    }
}

/// `[api_calls]`: the cloud API calls of each docker-machine step (see the module docs).
#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ApiCalls {
    /// The API operation that creates the VM; made at the end of the `api_call` stage.
    pub create_operation: String,
    /// Text the driver puts before a cloud error of the create operation (AWS `Error launching
    /// instance: `, Hetzner `could not create server: `, …; cloud-faults §8).
    #[serde(default)]
    pub create_error_prefix: String,
    /// Calls at the start of a create (pre-create checks, key pair, security group), by operation.
    #[serde(default)]
    pub create: BTreeMap<String, u32>,
    /// Polling while the VM boots.
    pub boot_poll: Option<BootPoll>,
    /// Calls after the driver's `Create` has returned (libmachine's state/IP reads), spread
    /// evenly over the `ssh_wait` … `certs` stages.
    #[serde(default)]
    pub after_boot: BTreeMap<String, u32>,
    /// `docker-machine stop`.
    #[serde(default)]
    pub stop: BTreeMap<String, u32>,
    /// `docker-machine rm -y` / `rm -f` (the driver's `Remove`).
    #[serde(default)]
    pub rm: BTreeMap<String, u32>,
    /// `docker-machine config`.
    #[serde(default)]
    pub config: BTreeMap<String, u32>,
    /// `docker-machine config` + `url`.
    #[serde(default)]
    pub credentials: BTreeMap<String, u32>,
}

/// The driver's polling while the VM boots.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootPoll {
    /// The operation polled.
    pub operation: String,
    /// Mean time between polls.
    pub interval: Span,
    /// Part of the boot stage spent in fixed sleeps, without polls.
    #[serde(default)]
    pub idle: Span,
}

impl BootPoll {
    /// Polls made during a boot stage of length `boot`: `1 + ⌊(boot − idle) / interval⌋`.
    pub fn polls(&self, boot: SimDuration) -> u64 {
        let active = boot.0.saturating_sub(self.idle.0.0);
        1 + active / self.interval.0.0.max(1)
    }
}

/// `[rate_limits]` (see the module docs).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// The cloud's throttle error as the driver prints it (cloud-faults §8).
    pub throttle_error: String,
    /// The throttle error's code (`RequestLimitExceeded`, `rateLimitExceeded`,
    /// `too_many_requests`, …; cloud-faults §7 `rl.http_status`), for reports; absent = none.
    #[serde(default)]
    pub throttle_code: Option<String>,
    /// What the driver does with a throttled call.
    pub reaction: Reaction,
    /// The limits.
    #[serde(default)]
    pub limits: Vec<Limit>,
}

/// The driver's reaction to a throttled call.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reaction {
    /// The step fails at once.
    Fail,
    /// Retry `max_retries` times; retry `n` (from 0) waits U[min, max] with
    /// `max = delay_max × 2^n` and `min = delay_min × 2^n` (`double_min`, default true) or
    /// `delay_min`, both capped at `cap`.
    Retry {
        /// Retries before the error surfaces.
        max_retries: u32,
        /// Lower delay bound of retry 0.
        delay_min: Span,
        /// Upper delay bound of retry 0.
        delay_max: Span,
        /// Whether the lower bound doubles too.
        #[serde(default = "yes")]
        double_min: bool,
        /// Cap on each bound (absent = none).
        cap: Option<Span>,
    },
    /// Wait until a slot frees (at least `min_wait`) plus U[0, `jitter`), then retry, forever.
    WaitForReset {
        /// Minimum wait.
        min_wait: Span,
        /// Random extra wait, uniform in [0, jitter).
        jitter: Span,
    },
}

fn yes() -> bool {
    true
}

/// Rate-limit algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Token bucket: `capacity`, `refill_per_sec`.
    TokenBucket,
    /// At most `limit` per aligned `window`.
    FixedWindow,
    /// At most `limit` in any trailing `window`.
    SlidingWindow,
}

impl Algorithm {
    /// The TOML spelling.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::TokenBucket => "token_bucket",
            Algorithm::FixedWindow => "fixed_window",
            Algorithm::SlidingWindow => "sliding_window",
        }
    }
}

/// One rate limit.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Its name (a `rate_limit` fault's `scope.operation` may name it).
    pub name: String,
    /// Operation patterns it covers.
    pub operations: Vec<String>,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Token bucket size.
    pub capacity: Option<f64>,
    /// Token refill per second.
    pub refill_per_sec: Option<f64>,
    /// Window limit.
    pub limit: Option<u64>,
    /// Window length.
    pub window: Option<Span>,
}

impl Limit {
    /// Whether the limit covers `op`.
    pub fn covers(&self, op: &str) -> bool {
        self.operations.iter().any(|p| operation_matches(p, op))
    }

    /// Checks the algorithm's keys.
    ///
    /// # Errors
    /// A message naming the key.
    pub fn validate(&self) -> Result<(), String> {
        let at = format!("rate_limits.limits {:?}", self.name);
        let pos = |k: &str, v: Option<f64>| match v {
            Some(x) if x.is_finite() && x > 0.0 => Ok(()),
            Some(x) => Err(format!("{at}: {k} must be a finite number > 0, found {x}")),
            None => Err(format!(
                "{at}: algorithm = \"{}\" needs `{k}`",
                self.algorithm.name()
            )),
        };
        match self.algorithm {
            Algorithm::TokenBucket => {
                pos("capacity", self.capacity)?;
                pos("refill_per_sec", self.refill_per_sec)?;
                if self.limit.is_some() || self.window.is_some() {
                    return Err(format!(
                        "{at}: `limit` and `window` are for fixed_window / sliding_window"
                    ));
                }
            }
            Algorithm::FixedWindow | Algorithm::SlidingWindow => {
                pos("limit", self.limit.map(|l| l as f64))?;
                match self.window {
                    Some(w) if w.0 > SimDuration::ZERO => {}
                    _ => return Err(format!("{at}: needs `window` > 0")),
                }
                if self.capacity.is_some() || self.refill_per_sec.is_some() {
                    return Err(format!(
                        "{at}: `capacity` and `refill_per_sec` are for token_bucket"
                    ));
                }
            }
        }
        if self.operations.is_empty() {
            return Err(format!("{at}: `operations` is empty"));
        }
        Ok(())
    }
}

impl RateLimits {
    /// Checks the limits and the reaction.
    ///
    /// # Errors
    /// A message naming the key.
    pub fn validate(&self) -> Result<(), String> {
        for l in &self.limits {
            l.validate()?;
        }
        if let Reaction::Retry {
            delay_min,
            delay_max,
            ..
        } = &self.reaction
            && delay_max.0 < delay_min.0
        {
            return Err("rate_limits.reaction: delay_max is less than delay_min".into());
        }
        Ok(())
    }
}

/// The run-time state of one limit.
#[derive(Clone, Debug)]
enum State {
    /// Admitted call times, sorted (see [`bucket_check`]).
    Bucket {
        events: Vec<SimTime>,
    },
    Fixed {
        counts: BTreeMap<u64, u64>,
    },
    Sliding {
        times: VecDeque<SimTime>,
    },
}

/// The run-time state of a profile's limits (one per cloud account: runners sharing a
/// profile share it).
#[derive(Clone, Debug)]
pub struct Limiter {
    limits: Vec<Limit>,
    states: Vec<State>,
}

impl Limiter {
    /// Fresh state: full buckets, empty windows.
    pub fn new(limits: &[Limit]) -> Self {
        let states = limits
            .iter()
            .map(|l| match l.algorithm {
                Algorithm::TokenBucket => State::Bucket { events: Vec::new() },
                Algorithm::FixedWindow => State::Fixed {
                    counts: BTreeMap::new(),
                },
                Algorithm::SlidingWindow => State::Sliding {
                    times: VecDeque::new(),
                },
            })
            .collect();
        Limiter {
            limits: limits.to_vec(),
            states,
        }
    }

    /// The limits.
    pub fn limits(&self) -> &[Limit] {
        &self.limits
    }

    /// Tries one call of `op` at `t`, with each limit scaled by `factor(limit)` (fault
    /// windows, 1.0 normally). `Ok` = admitted and counted by every covering limit; `Err(d)` =
    /// throttled, and the earliest a covering limit could admit it is `t + d`.
    ///
    /// Calls are booked when their docker-machine command starts, so a call can arrive with
    /// a `t` earlier than one already booked. Each limit judges it by the calls up to `t`
    /// (windows count exactly; token buckets replay, see `bucket_check`); calls already
    /// admitted later are not revisited.
    pub fn try_call(
        &mut self,
        t: SimTime,
        op: &str,
        factor: &dyn Fn(&Limit) -> f64,
    ) -> Result<(), SimDuration> {
        let mut wait: Option<SimDuration> = None;
        let covering: Vec<usize> = (0..self.limits.len())
            .filter(|&i| self.limits[i].covers(op))
            .collect();
        for &i in &covering {
            let l = &self.limits[i];
            let f = factor(l);
            let w = match &mut self.states[i] {
                State::Bucket { events } => {
                    let cap = l.capacity.unwrap_or(0.0) * f;
                    let refill = l.refill_per_sec.unwrap_or(0.0) * f;
                    bucket_check(events, t, cap, refill)
                }
                State::Fixed { counts } => {
                    let win = l.window.unwrap_or_default().0.0.max(1);
                    let limit = (l.limit.unwrap_or(0) as f64 * f).floor() as u64;
                    let idx = t.0 / win;
                    if counts.get(&idx).copied().unwrap_or(0) < limit {
                        None
                    } else {
                        Some(SimDuration((idx + 1) * win - t.0))
                    }
                }
                State::Sliding { times } => {
                    let win = l.window.unwrap_or_default().0.0.max(1);
                    let limit = (l.limit.unwrap_or(0) as f64 * f).floor() as u64;
                    // Drop what no call at or after the earliest possible `t` can see.
                    while times.front().is_some_and(|x| x.0 + 2 * win < t.0) {
                        times.pop_front();
                    }
                    let mut inside: Vec<u64> = times
                        .iter()
                        .filter(|x| x.0 + win > t.0 && x.0 <= t.0)
                        .map(|x| x.0)
                        .collect();
                    if (inside.len() as u64) < limit {
                        None
                    } else if limit == 0 || inside.is_empty() {
                        Some(SimDuration(win))
                    } else {
                        // Slots free as the oldest counted calls expire (DigitalOcean's
                        // `ratelimit-reset`, cloud-faults §2.4).
                        inside.sort_unstable();
                        let k = inside.len() - limit as usize;
                        Some(SimDuration((inside[k] + win).saturating_sub(t.0).max(1)))
                    }
                }
            };
            if let Some(w) = w {
                wait = Some(wait.map_or(w, |x| x.max(w)));
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        for &i in &covering {
            match &mut self.states[i] {
                State::Bucket { events } => {
                    let pos = events.partition_point(|x| *x <= t);
                    events.insert(pos, t);
                    // A bucket refills completely in capacity / refill; twice that is kept
                    // for calls booked out of order.
                    let l = &self.limits[i];
                    let full_ms = (l.capacity.unwrap_or(0.0) / l.refill_per_sec.unwrap_or(1.0)
                        * 2000.0) as u64;
                    let newest = events.last().copied().unwrap_or(t);
                    let keep_from = newest.0.saturating_sub(full_ms.max(60_000));
                    let drop = events.partition_point(|x| x.0 < keep_from);
                    events.drain(..drop);
                }
                State::Fixed { counts } => {
                    let win = self.limits[i].window.unwrap_or_default().0.0.max(1);
                    *counts.entry(t.0 / win).or_default() += 1;
                    // Keep only recent windows.
                    let idx = t.0 / win;
                    while counts.first_key_value().is_some_and(|(k, _)| *k + 2 < idx) {
                        counts.pop_first();
                    }
                }
                State::Sliding { times } => {
                    let pos = times.iter().rposition(|x| *x <= t).map_or(0, |p| p + 1);
                    times.insert(pos, t);
                }
            }
        }
        Ok(())
    }
}

/// Whether a token bucket of `cap` tokens refilled at `refill` per second admits one more call
/// at `t`, given the admitted calls `events` (sorted): the calls up to `t` are replayed in time
/// order from `cap / refill` before `t` (a bucket left alone that long is full). Calls booked
/// later than `t` were decided already and are not revisited (lenient by at most those calls).
/// `Some(wait)` = throttled, with the time until a token is back.
fn bucket_check(events: &[SimTime], t: SimTime, cap: f64, refill: f64) -> Option<SimDuration> {
    if cap < 1.0 || refill <= 0.0 {
        return Some(if refill > 0.0 {
            SimDuration(((1.0 / refill) * 1000.0).ceil() as u64)
        } else {
            SimDuration::from_mins(60)
        });
    }
    let full_ms = (cap / refill * 1000.0).ceil() as u64;
    let start = events.partition_point(|x| x.0 + full_ms < t.0);
    let end = events.partition_point(|x| *x <= t);
    let mut level = cap;
    let mut last: Option<SimTime> = None;
    for &e in events[start..end].iter().chain(std::iter::once(&t)) {
        if let Some(l) = last {
            level = (level + refill * e.since(l).as_secs_f64()).min(cap);
        }
        last = Some(e);
        if e == t && level < 1.0 - 1e-9 {
            let secs = (1.0 - level) / refill;
            return Some(SimDuration(((secs * 1000.0).ceil() as u64).max(1)));
        }
        level -= 1.0;
    }
    None
}

/// The outcome of one API call including the driver's retries.
#[derive(Clone, Debug, PartialEq)]
pub struct CallOutcome {
    /// Time spent waiting between attempts.
    pub delay: SimDuration,
    /// Attempts made (1 + retries).
    pub attempts: u32,
    /// Attempts that were throttled.
    pub throttled: u32,
    /// Whether the call finally succeeded.
    pub ok: bool,
}

/// Makes one API call of `op` at `t` through `limiter`, reacting to throttling as `reaction`
/// says (module docs). Random delays come from `rng`. `wait_for_reset` gives up only after
/// `give_up` of waiting (the caller passes the runner's command timeout: a wait that long is
/// a hang from the runner's view).
pub fn call_with_reaction<R: RngCore + ?Sized>(
    limiter: &mut Limiter,
    reaction: &Reaction,
    t: SimTime,
    op: &str,
    factor: &dyn Fn(&Limit) -> f64,
    rng: &mut R,
    give_up: SimDuration,
) -> CallOutcome {
    let mut out = CallOutcome {
        delay: SimDuration::ZERO,
        attempts: 0,
        throttled: 0,
        ok: false,
    };
    let mut n: u32 = 0;
    loop {
        out.attempts += 1;
        let at = t + out.delay;
        let wait = match limiter.try_call(at, op, factor) {
            Ok(()) => {
                out.ok = true;
                return out;
            }
            Err(w) => w,
        };
        out.throttled += 1;
        let d = match reaction {
            Reaction::Fail => return out,
            Reaction::Retry {
                max_retries,
                delay_min,
                delay_max,
                double_min,
                cap,
            } => {
                if n >= *max_retries {
                    return out;
                }
                let scale = 1u64 << n.min(16);
                let cap = cap.map_or(u64::MAX, |c| c.0.0);
                let hi = delay_max.0.0.saturating_mul(scale).min(cap);
                let lo = if *double_min {
                    delay_min.0.0.saturating_mul(scale)
                } else {
                    delay_min.0.0
                }
                .min(hi);
                SimDuration(lo + ((hi - lo) as f64 * unit_f64(rng)) as u64)
            }
            Reaction::WaitForReset { min_wait, jitter } => {
                if out.delay >= give_up {
                    return out;
                }
                SimDuration(wait.0.max(min_wait.0.0) + (jitter.0.0 as f64 * unit_f64(rng)) as u64)
            }
        };
        n += 1;
        out.delay = SimDuration(out.delay.0 + d.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::RngStreams;

    fn limit(
        algorithm: Algorithm,
        cap: Option<f64>,
        refill: Option<f64>,
        lim: Option<u64>,
    ) -> Limit {
        Limit {
            name: "l".into(),
            operations: vec!["*".into()],
            algorithm,
            capacity: cap,
            refill_per_sec: refill,
            limit: lim,
            window: lim.map(|_| Span(SimDuration::from_secs(60))),
        }
    }

    const ONE: &dyn Fn(&Limit) -> f64 = &|_| 1.0;

    #[test]
    fn a_fixed_window_throttles_the_call_after_the_limit_until_the_next_window() {
        // GCE: per-minute windows refilled at the next synchronized minute (cloud-faults §2.2).
        let mut l = Limiter::new(&[limit(Algorithm::FixedWindow, None, None, Some(5))]);
        for _ in 0..5 {
            assert_eq!(l.try_call(SimTime(15_000), "x", ONE), Ok(()));
        }
        // The 6th call in the window waits for the window starting at 60 s, not 60 s after
        // the first call.
        assert_eq!(
            l.try_call(SimTime(15_000), "x", ONE),
            Err(SimDuration(45_000))
        );
        assert_eq!(l.try_call(SimTime(59_999), "x", ONE), Err(SimDuration(1)));
        assert_eq!(l.try_call(SimTime(60_000), "x", ONE), Ok(()));
        // Half the rate (a rate_limit fault with factor 0.5) admits floor(5 × 0.5) = 2.
        let half: &dyn Fn(&Limit) -> f64 = &|_| 0.5;
        assert_eq!(l.try_call(SimTime(60_000), "x", half), Ok(()));
        assert!(l.try_call(SimTime(60_000), "x", half).is_err());
    }

    #[test]
    fn a_token_bucket_admits_its_capacity_then_its_refill_rate() {
        // AWS RunInstances: 5 tokens, 2 per second (cloud-faults §2.1).
        let mut l = Limiter::new(&[limit(Algorithm::TokenBucket, Some(5.0), Some(2.0), None)]);
        let ok = (0..10)
            .filter(|_| l.try_call(SimTime(1_000), "x", ONE).is_ok())
            .count();
        assert_eq!(ok, 5);
        assert_eq!(l.try_call(SimTime(1_000), "x", ONE), Err(SimDuration(500)));
        // 10 s later: 20 tokens refilled, capped at 5.
        let ok = (0..10)
            .filter(|_| l.try_call(SimTime(11_000), "x", ONE).is_ok())
            .count();
        assert_eq!(ok, 5);
    }

    #[test]
    fn a_sliding_window_frees_a_slot_when_the_oldest_call_expires() {
        let mut l = Limiter::new(&[limit(Algorithm::SlidingWindow, None, None, Some(3))]);
        for s in [0, 10, 20] {
            assert_eq!(l.try_call(SimTime(s * 1000), "x", ONE), Ok(()));
        }
        assert_eq!(
            l.try_call(SimTime(30_000), "x", ONE),
            Err(SimDuration(30_000))
        );
        assert_eq!(l.try_call(SimTime(60_001), "x", ONE), Ok(()));
    }

    #[test]
    fn aws_retries_five_times_with_doubling_backoff_then_fails() {
        // cloud-faults §2.1: 5 throttled retries add ≈16–31 s.
        let mut l = Limiter::new(&[limit(Algorithm::TokenBucket, Some(1.0), Some(1e-9), None)]);
        assert!(l.try_call(SimTime(0), "x", ONE).is_ok());
        let r = Reaction::Retry {
            max_retries: 5,
            delay_min: Span(SimDuration(500)),
            delay_max: Span(SimDuration(1000)),
            double_min: true,
            cap: None,
        };
        let mut rng = RngStreams::new(1).stream("t");
        let o = call_with_reaction(&mut l, &r, SimTime(0), "x", ONE, &mut rng, SimDuration(0));
        assert!(!o.ok);
        assert_eq!((o.attempts, o.throttled), (6, 6));
        assert!(
            (15_500..=31_000).contains(&o.delay.0),
            "delay {} outside 0.5 s × 31 … 1 s × 31",
            o.delay
        );
    }
}
