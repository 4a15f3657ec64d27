//! Model-based test of the idle policy (spec §3.2–§3.4, §3.8, §3.11, §2.3–§2.4).
//!
//! [`Model`] is a small reference model written from the spec's prose only, independently of
//! `src/autoscaler` (it shares no code with the core). Random sequences of operations —
//! Acquire, Use of an acquired machine, Use on demand, Release, time steps (which complete the scripted
//! driver's creates and removals), and config reloads — drive the sans-IO core
//! ([`simrun::autoscaler::Core`], through `tests/autoscaler_harness`) and the model side by
//! side. After every operation the test compares what the core did with what the model
//! predicts:
//!
//! * the removals it requested, in order, with their reasons (`too many builds`, `too many
//!   machines`, `too many idle machines`, `Too many builds` on Release);
//! * how many background creations Acquire started;
//! * Acquire's answer (which machine, nothing, or "no free machines");
//! * on-demand Use after an Acquire that returned nothing: which machine find-existing takes,
//!   or that exactly one on-demand creation starts and its machine is the one used (exercised
//!   only while no other creation is in flight: the coordinator's wake-ups, its 1 s poll and
//!   available counter (§3.7, Q15, Q24) are not modelled);
//! * every record's state, UsedCount and last-use time.
//!
//! Environment facts (a create or removal finished, the store's listing order, the names the
//! core chose) are taken from the harness; every decision is predicted by the model.
//!
//! `the_comparison_catches_a_deliberately_wrong_model` shows the comparison can disagree:
//! model variants with one rule changed are caught. Cases: `PROPTEST_CASES` (default 512);
//! a longer run (the README's command):
//! `PROPTEST_CASES=2000 PROPTEST_RNG_SEED=$RANDOM cargo test --release --test properties --test idle_policy_model`.

mod autoscaler_harness;

mod common;

use std::collections::BTreeMap;

use autoscaler_harness::{Harness, R, machine, runner};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use simrun::autoscaler::{AcquireError, Acquired, EventKind, MachineState};
use simrun::time::SimTime;

/// Idle settings that can change on a config reload (spec §1.1).
#[derive(Clone, Copy, Debug)]
struct Idle {
    idle_count: i64,
    idle_scale_factor: f64,
    idle_count_min: i64,
    idle_time_s: i64,
}

/// A generated runner config.
#[derive(Clone, Copy, Debug)]
struct Cfg {
    idle: Idle,
    limit: i64,
    max_growth_rate: i64,
    max_builds: i64,
    /// Machines already in the store at the start (found on disk, spec §2.4).
    on_disk: usize,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Acquire,
    /// Use the held machine `i % held` if it is Acquired.
    Use(usize),
    /// Use after an Acquire that returned nothing (on-demand, spec §3.6), only while no
    /// creation is in flight (so no other machine can appear during the wait and the
    /// coordinator's wake-ups and available counter (§3.7, Q15) cannot change the outcome).
    UseOnDemand,
    /// Release the held machine `i % held`.
    Release(usize),
    /// Let `s` seconds pass.
    Advance(u64),
    /// A config reload with new idle settings and `limit`.
    Reload(Idle, i64),
}

/// A deliberate change to the model, to prove the comparison can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// The spec as written.
    Spec,
    /// IdleTime compared with ≥ instead of strictly greater (§3.8 step 4).
    IdleTimeInclusive,
    /// Available without Acquired machines (the §3 conventions count them).
    AvailableWithoutAcquired,
    /// Background creation ignores `limit` (§3.3 totalExceeded).
    NoLimitOnCreate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Idle,
    Acquired,
    Creating,
    Used,
    Removing,
}

#[derive(Clone, Debug)]
struct M {
    state: St,
    used_ms: u64,
    used_count: i64,
}

/// The counts of spec §3 "Conventions" over a prefix of the listing.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    idle: i64,
    acquired: i64,
    creating: i64,
    used: i64,
    removing: i64,
}

/// The reference model of one runner's pool.
struct Model {
    variant: Variant,
    idle: Idle,
    limit: i64,
    max_growth_rate: i64,
    max_builds: i64,
    machines: BTreeMap<String, M>,
}

/// What the model expects from one Acquire.
#[derive(Debug)]
struct AcquirePrediction {
    removals: Vec<(String, String)>,
    creations: usize,
    result: Result<Option<String>, ()>,
}

impl Model {
    fn available(&self, t: &Tally) -> i64 {
        match self.variant {
            Variant::AvailableWithoutAcquired => t.creating + t.idle,
            _ => t.acquired + t.creating + t.idle,
        }
    }

    fn total(t: &Tally) -> i64 {
        t.acquired + t.creating + t.idle + t.used + t.removing
    }

    fn add(t: &mut Tally, s: St) {
        match s {
            St::Idle => t.idle += 1,
            St::Acquired => t.acquired += 1,
            St::Creating => t.creating += 1,
            St::Used => t.used += 1,
            St::Removing => t.removing += 1,
        }
    }

    /// §3.2: the idle target from InUse.
    fn target(&self, in_use: i64) -> i64 {
        let ic = self.idle.idle_count;
        let f = self.idle.idle_scale_factor;
        if f <= 0.0 {
            return ic;
        }
        let m = self.idle.idle_count_min.max(1);
        let d = (in_use as f64 * f).trunc() as i64;
        ic.min(m.max(d))
    }

    fn growth_exceeded(&self, t: &Tally) -> bool {
        self.max_growth_rate > 0 && t.creating >= self.max_growth_rate
    }

    fn total_exceeded(&self, t: &Tally) -> bool {
        self.variant != Variant::NoLimitOnCreate && self.limit > 0 && Self::total(t) >= self.limit
    }

    /// §3.3.
    fn can_create_idle(&self, t: &Tally) -> bool {
        !self.growth_exceeded(t)
            && !self.total_exceeded(t)
            && self.available(t) < self.target(t.used)
    }

    fn can_create_on_demand(&self, t: &Tally) -> bool {
        !self.growth_exceeded(t)
            && !self.total_exceeded(t)
            && (self.idle.idle_count <= 0 || self.available(t) < self.target(t.used))
    }

    /// §3.4 steps 3–7 at `now` over the store's `listed` names (in listing order). Adopts
    /// unknown names (§2.4), applies removals, and returns the prediction; the caller adds the
    /// created machines under the names the core chose.
    fn acquire(&mut self, now: u64, listed: &[String]) -> AcquirePrediction {
        // Step 3: the listing, then Creating records that are not listed.
        let mut names: Vec<String> = listed.to_vec();
        for (n, m) in &self.machines {
            if m.state == St::Creating && !listed.contains(n) {
                names.push(n.clone());
            }
        }
        // Step 4: the update pass with a running tally.
        let mut tally = Tally::default();
        let mut removals = Vec::new();
        let mut valid = Vec::new();
        for n in &names {
            let m = self.machines.entry(n.clone()).or_insert(M {
                state: St::Idle,
                used_ms: now,
                used_count: 1,
            });
            let (state, used_ms, used_count) = (m.state, m.used_ms, m.used_count);
            let mut reason = None;
            if state == St::Idle {
                let avail = match self.variant {
                    Variant::AvailableWithoutAcquired => tally.creating + tally.idle,
                    _ => tally.acquired + tally.creating + tally.idle,
                };
                // Unvalidated values (§1.1): a negative IdleTime makes every Idle machine past it.
                let idle_for = now as i64 - used_ms as i64;
                let limit_ms = self.idle.idle_time_s * 1000;
                let past = if self.variant == Variant::IdleTimeInclusive {
                    idle_for >= limit_ms
                } else {
                    idle_for > limit_ms
                };
                if self.max_builds > 0 && used_count >= self.max_builds {
                    reason = Some("too many builds");
                } else if self.limit > 0 && Self::total(&tally) >= self.limit {
                    reason = Some("too many machines");
                } else if past && avail >= self.target(tally.used) {
                    reason = Some("too many idle machines");
                }
            }
            let m = self.machines.get_mut(n).expect("present");
            if let Some(r) = reason {
                m.state = St::Removing;
                m.used_ms = now;
                removals.push((n.clone(), r.to_string()));
            } else {
                valid.push(n.clone());
            }
            Self::add(&mut tally, m.state);
        }
        // Step 5: background creation.
        let mut creations = 0;
        while self.can_create_idle(&tally) {
            creations += 1;
            tally.creating += 1;
        }
        // Step 6: find free, newest first (CanConnect succeeds for every listed machine here).
        let found = valid
            .iter()
            .rev()
            .find(|n| self.machines[*n].state == St::Idle)
            .cloned();
        let result = if let Some(n) = found {
            self.machines.get_mut(&n).expect("present").state = St::Acquired;
            Ok(Some(n))
        } else if self.idle.idle_count == 0 && self.can_create_on_demand(&tally) {
            Ok(None)
        } else if tally.idle == 0 {
            Err(())
        } else {
            Ok(None)
        };
        AcquirePrediction {
            removals,
            creations,
            result,
        }
    }

    /// §3.6 step 2a (find existing): the newest acquirable Idle machine of the listing (the
    /// intermediate Creating names come first but cannot be acquired); it becomes Acquired.
    fn find_existing(&mut self, listed: &[String]) -> Option<String> {
        let found = listed
            .iter()
            .rev()
            .find(|n| self.machines.get(*n).is_some_and(|m| m.state == St::Idle))
            .cloned()?;
        self.machines.get_mut(&found).expect("present").state = St::Acquired;
        Some(found)
    }

    /// §3.11: Release at `now`; the removal it requests, if any.
    fn release(&mut self, now: u64, name: &str) -> Option<(String, String)> {
        let max_builds = self.max_builds;
        let m = self.machines.get_mut(name)?;
        if m.state == St::Used {
            m.used_ms = now;
        }
        if max_builds > 0 && m.used_count >= max_builds {
            m.state = St::Removing;
            m.used_ms = now;
            return Some((name.to_string(), "Too many builds".to_string()));
        }
        m.state = St::Idle;
        None
    }
}

fn st(s: MachineState) -> St {
    match s {
        MachineState::Idle => St::Idle,
        MachineState::Acquired => St::Acquired,
        MachineState::Creating => St::Creating,
        MachineState::Used => St::Used,
        MachineState::Removing => St::Removing,
    }
}

fn runner_config(cfg: &Cfg, idle: Idle, limit: i64) -> simrun::config::RunnerConfig {
    let mut m = machine("m-%s", idle.idle_count, idle.idle_time_s);
    m.idle.idle_scale_factor = idle.idle_scale_factor;
    m.idle.idle_count_min = idle.idle_count_min;
    m.max_growth_rate = cfg.max_growth_rate;
    m.max_builds = cfg.max_builds;
    runner(R, "", limit, m)
}

/// Runs `ops` against the core and the model; the first disagreement, if any.
fn compare(cfg: &Cfg, ops: &[Op], variant: Variant) -> Result<(), String> {
    let mut h = Harness::single(cfg.limit, machine("m-%s", 0, 0));
    h.set_runner(runner_config(cfg, cfg.idle, cfg.limit));
    // Short fixed latencies: create 60 s, stop 5 s, rm 10 s, config 0.5 s (Script default).
    for i in 0..cfg.on_disk {
        h.disk(&format!("m-0000000{i}-0000000{i}"));
    }
    let mut model = Model {
        variant,
        idle: cfg.idle,
        limit: cfg.limit,
        max_growth_rate: cfg.max_growth_rate,
        max_builds: cfg.max_builds,
        machines: BTreeMap::new(),
    };
    let mut held: Vec<String> = Vec::new();
    // Acquires that returned nothing: each lets the worker request a job and Use on demand.
    let mut nothing = 0usize;
    let mut seen = 0usize;
    for (step, op) in ops.iter().enumerate() {
        let ctx = |now: u64, what: String| format!("op {step} {op:?} at {now} ms: {what}");
        match *op {
            Op::Acquire => {
                let now = h.now.as_millis();
                let listed: Vec<String> = h.store.names().map(|n| n.to_vec()).unwrap_or_default();
                let p = model.acquire(now, &listed);
                let first = h.events.len();
                let r = h.acquire(R);
                // The update pass and background creation happen inside handle().
                let evs: Vec<_> = h.events[first..].to_vec();
                let removals: Vec<(String, String)> = evs
                    .iter()
                    .filter_map(|e| match &e.kind {
                        EventKind::RemovalRequested { reason } => {
                            Some((e.machine.clone().unwrap_or_default(), reason.clone()))
                        }
                        _ => None,
                    })
                    .collect();
                let created: Vec<String> = evs
                    .iter()
                    .filter(|e| {
                        matches!(
                            e.kind,
                            EventKind::CreationStarted {
                                on_demand: false,
                                ..
                            }
                        )
                    })
                    .filter_map(|e| e.machine.clone())
                    .collect();
                if removals != p.removals {
                    return Err(ctx(
                        h.now.as_millis(),
                        format!("removals: core {removals:?}, model {:?}", p.removals),
                    ));
                }
                if created.len() != p.creations {
                    return Err(ctx(
                        h.now.as_millis(),
                        format!(
                            "background creations: core {}, model {}",
                            created.len(),
                            p.creations
                        ),
                    ));
                }
                for n in created {
                    model.machines.insert(
                        n,
                        M {
                            state: St::Creating,
                            used_ms: now,
                            used_count: 0,
                        },
                    );
                }
                seen = h.events.len();
                // Wait for the answer (find-free's `config` call), applying completions.
                while !h.acquires.contains_key(&r) && h.step() {
                    sync(&mut h, &mut model, &mut seen);
                }
                sync(&mut h, &mut model, &mut seen);
                let got = match h.acquires.get(&r).map(|x| x.1.clone()) {
                    Some(Ok(Acquired::Machine(m))) => Ok(Some(m)),
                    Some(Ok(Acquired::Nothing)) => Ok(None),
                    Some(Err(AcquireError::NoFreeMachines)) => Err(()),
                    other => {
                        return Err(ctx(
                            h.now.as_millis(),
                            format!("unexpected acquire answer {other:?}"),
                        ));
                    }
                };
                if got != p.result {
                    return Err(ctx(
                        h.now.as_millis(),
                        format!("acquire answer: core {got:?}, model {:?}", p.result),
                    ));
                }
                match got {
                    Ok(Some(m)) => held.push(m),
                    Ok(None) => nothing += 1,
                    Err(()) => {}
                }
            }
            Op::Use(i) => {
                if held.is_empty() {
                    continue;
                }
                let name = held[i % held.len()].clone();
                if model.machines.get(&name).map(|m| m.state) != Some(St::Acquired) {
                    continue;
                }
                let r = h.use_machine(R, Some(&name));
                while !h.uses.contains_key(&r) && h.step() {
                    sync(&mut h, &mut model, &mut seen);
                }
                sync(&mut h, &mut model, &mut seen);
                match h.uses.get(&r) {
                    Some((t, Ok(u))) if u.machine == name && !u.new_data => {
                        // §3.6 step 5: Used, Used = now, UsedCount + 1.
                        let m = model.machines.get_mut(&name).expect("held");
                        m.state = St::Used;
                        m.used_ms = t.as_millis();
                        m.used_count += 1;
                    }
                    other => {
                        return Err(ctx(h.now.as_millis(), format!("use of {name}: {other:?}")));
                    }
                }
            }
            Op::UseOnDemand => {
                if nothing == 0 || model.machines.values().any(|m| m.state == St::Creating) {
                    continue;
                }
                nothing -= 1;
                let listed: Vec<String> = h.store.names().map(|n| n.to_vec()).unwrap_or_default();
                let predicted = model.find_existing(&listed);
                let r = h.use_machine(R, None);
                let mut created = Vec::new();
                loop {
                    // On-demand creations (§3.6 step 2b) enter the model as Creating before
                    // their completion is applied.
                    for e in &h.events[seen..] {
                        if let (
                            EventKind::CreationStarted {
                                on_demand: true, ..
                            },
                            Some(n),
                        ) = (&e.kind, e.machine.as_ref())
                        {
                            created.push(n.clone());
                            model.machines.insert(
                                n.clone(),
                                M {
                                    state: St::Creating,
                                    used_ms: e.at.as_millis(),
                                    used_count: 0,
                                },
                            );
                        }
                    }
                    sync(&mut h, &mut model, &mut seen);
                    if h.uses.contains_key(&r) || !h.step() {
                        break;
                    }
                }
                let want = match &predicted {
                    Some(n) => (n.clone(), 0),
                    None => (created.first().cloned().unwrap_or_default(), 1),
                };
                match h.uses.get(&r) {
                    Some((t, Ok(u)))
                        if u.new_data && (u.machine.clone(), created.len()) == want =>
                    {
                        let m = model.machines.get_mut(&u.machine).expect("known");
                        m.state = St::Used;
                        m.used_ms = t.as_millis();
                        m.used_count += 1;
                        held.push(u.machine.clone());
                    }
                    other => {
                        return Err(ctx(
                            h.now.as_millis(),
                            format!(
                                "on-demand use: core {other:?} with creations {created:?}, model (machine, creations) {want:?}"
                            ),
                        ));
                    }
                }
            }
            Op::Release(i) => {
                if held.is_empty() {
                    continue;
                }
                let name = held.remove(i % held.len());
                let now = h.now.as_millis();
                let want: Vec<_> = model.release(now, &name).into_iter().collect();
                let first = h.events.len();
                h.release(R, &name);
                let got: Vec<(String, String)> = h.events[first..]
                    .iter()
                    .filter_map(|e| match &e.kind {
                        EventKind::RemovalRequested { reason } => {
                            Some((e.machine.clone().unwrap_or_default(), reason.clone()))
                        }
                        _ => None,
                    })
                    .collect();
                seen = h.events.len();
                if got != want {
                    return Err(ctx(
                        h.now.as_millis(),
                        format!("release removals: core {got:?}, model {want:?}"),
                    ));
                }
            }
            Op::Advance(s) => {
                let t = h.now.as_millis() + s * 1000;
                while h.next_event().is_some_and(|n| n.as_millis() <= t) {
                    h.step();
                    sync(&mut h, &mut model, &mut seen);
                }
                h.run_until(SimTime(t));
            }
            Op::Reload(idle, limit) => {
                h.set_runner(runner_config(cfg, idle, limit));
                model.idle = idle;
                model.limit = limit;
            }
        }
        // Keep operations on whole seconds, so IdleTime boundaries are hit exactly.
        let t = h.now.as_millis().div_ceil(1000) * 1000;
        while h.next_event().is_some_and(|n| n.as_millis() <= t) {
            h.step();
            sync(&mut h, &mut model, &mut seen);
        }
        h.run_until(SimTime(t));
        sync(&mut h, &mut model, &mut seen);
        held.retain(|n| {
            model
                .machines
                .get(n)
                .is_some_and(|m| matches!(m.state, St::Acquired | St::Used))
        });
        // Every record agrees.
        let core: BTreeMap<String, (St, u64, i64)> = h
            .core
            .records()
            .map(|r| {
                (
                    r.name.clone(),
                    (st(r.state), r.used.as_millis(), r.used_count),
                )
            })
            .collect();
        let ours: BTreeMap<String, (St, u64, i64)> = model
            .machines
            .iter()
            .map(|(n, m)| (n.clone(), (m.state, m.used_ms, m.used_count)))
            .collect();
        if core != ours {
            return Err(ctx(
                h.now.as_millis(),
                format!("records: core {core:?}, model {ours:?}"),
            ));
        }
    }
    Ok(())
}

/// Applies environment facts from the core's new events: a create finished (Idle, Used =
/// then, §2.3), a removal finished (record deleted, §3.9).
fn sync(h: &mut Harness, model: &mut Model, seen: &mut usize) {
    for e in &h.events[*seen..] {
        let Some(name) = e.machine.as_ref() else {
            continue;
        };
        match e.kind {
            EventKind::Created { .. } => {
                if let Some(m) = model.machines.get_mut(name) {
                    m.state = St::Idle;
                    m.used_ms = e.at.as_millis();
                }
            }
            EventKind::Removed { .. } => {
                model.machines.remove(name);
            }
            _ => {}
        }
    }
    *seen = h.events.len();
}

fn idle() -> impl Strategy<Value = Idle> {
    (
        // Negative values load unvalidated (§1.1): IdleCount −1 is Q11.
        -1i64..4,
        prop_oneof![Just(0.0), Just(0.5), Just(1.0), Just(2.0)],
        0i64..3,
        prop_oneof![Just(0i64), Just(-1), 0i64..120],
    )
        .prop_map(|(ic, isf, icm, it)| Idle {
            idle_count: ic,
            idle_scale_factor: isf,
            idle_count_min: icm,
            idle_time_s: it,
        })
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (idle(), 0i64..6, 0i64..3, 0i64..3, 0usize..3).prop_map(
        |(idle, limit, max_growth_rate, max_builds, on_disk)| Cfg {
            idle,
            limit,
            max_growth_rate,
            max_builds,
            on_disk,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Acquire),
        3 => any::<usize>().prop_map(Op::Use),
        2 => Just(Op::UseOnDemand),
        3 => any::<usize>().prop_map(Op::Release),
        4 => prop_oneof![0u64..5, 0u64..200].prop_map(Op::Advance),
        1 => (idle(), 0i64..6).prop_map(|(i, l)| Op::Reload(i, l)),
    ]
}

proptest! {
    #![proptest_config(common::proptest_config(512))]

    #[test]
    fn the_core_follows_the_reference_model(c in cfg(), ops in prop::collection::vec(op(), 1..40)) {
        if let Err(e) = compare(&c, &ops, Variant::Spec) {
            return Err(TestCaseError::fail(format!("{c:?}\n{e}")));
        }
    }
}

/// The comparison is able to disagree: each model variant with one rule changed is caught
/// within a fixed, seeded batch of generated sequences.
#[test]
fn the_comparison_catches_a_deliberately_wrong_model() {
    for variant in [
        Variant::IdleTimeInclusive,
        Variant::AvailableWithoutAcquired,
        Variant::NoLimitOnCreate,
    ] {
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 512,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::deterministic_rng(RngAlgorithm::ChaCha),
        );
        let result = runner.run(&(cfg(), prop::collection::vec(op(), 1..40)), |(c, ops)| {
            compare(&c, &ops, variant).map_err(TestCaseError::fail)?;
            Ok(())
        });
        match result {
            Err(TestError::Fail(why, (c, ops))) => {
                eprintln!("{variant:?} caught: {why}\n  minimal: {c:?} {ops:?}");
            }
            other => panic!("{variant:?} was not caught: {other:?}"),
        }
    }
}
